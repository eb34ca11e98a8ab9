/**
 * Who may see the ward board and act on which beds (docs/interfaces/station-web.md, Users and
 * sessions): the users file, scrypt password hashes, sessions with an absolute expiry, the
 * per-session CSRF token, and bed permission patterns. No I/O but the random bytes: the server
 * reads the users file and hands its text here; time comes from an injected clock.
 *
 * Sessions expire on the monotonic clock (a wall-clock step neither shortens nor extends a
 * shift); `expiresAtMs` is the wall time the page shows.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../../clock';
import { elapsedMs } from '../../clock';
import { VigilError } from '../../errors';

/**
 * scrypt parameters: N = 2^14, r = 8, p = 1 are the interactive-login parameters of the scrypt
 * paper (Percival 2009, section 7) and Node's defaults; 16-byte salt and 64-byte key as
 * station-web.md says. About 16 MiB and tens of milliseconds per sign-in.
 */
export const SCRYPT = { N: 16384, r: 8, p: 1, saltBytes: 16, keyBytes: 64 } as const;
/** Session ids and CSRF tokens: 32 random bytes (256 bits), hex. */
const TOKEN_BYTES = 32;
/** Sessions kept at most (live and recently expired); the oldest is forgotten first. */
export const MAX_SESSIONS = 10_000;
/** An expired session is remembered this long, so that its cookie gets `session-expired`, not `no-session`. */
const EXPIRED_REMEMBERED_MS = 24 * 3600_000;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A bed id part as parseBed (station/commands.ts) accepts it. */
const PART = '[A-Za-z0-9][A-Za-z0-9_-]{0,63}';
const BED_PATTERN = new RegExp(`^${PART}/${PART}/(${PART}|\\*)$`);

const UserSchema = z.strictObject({
  name: z.string().regex(NAME, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit'),
  displayName: z.string().min(1).max(128),
  scrypt: z.string().regex(/^[0-9a-f]{32}\$[0-9a-f]{128}$/, 'must be "<16-byte salt hex>$<64-byte hash hex>"'),
  beds: z.array(z.string().regex(BED_PATTERN, 'must be "site/ward/bed" or "site/ward/*"')),
});
const UsersFileSchema = z.strictObject({ users: z.array(UserSchema) }).superRefine((f, ctx) => {
  const seen = new Set<string>();
  f.users.forEach((u, i) => {
    if (seen.has(u.name)) ctx.addIssue({ code: 'custom', path: ['users', i, 'name'], message: 'is given twice' });
    seen.add(u.name);
  });
});

export type StationUser = z.infer<typeof UserSchema>;
export type UsersFile = z.infer<typeof UsersFileSchema>;

/** The users file is not JSON or breaks a rule; `issues` lists every problem as `path: message`. */
export class UsersFileError extends VigilError {
  constructor(readonly issues: readonly string[]) {
    super('USERS_INVALID', `invalid users file:\n  ${issues.join('\n  ')}`);
  }
}

/** Parses the users file's text; throws UsersFileError naming every problem (never a value). */
export function parseUsersFile(text: string): UsersFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UsersFileError(['(file): is not valid JSON']);
  }
  const r = UsersFileSchema.safeParse(json);
  if (!r.success) throw new UsersFileError(r.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`));
  return r.data;
}

/** `<salt hex>$<hash hex>` of a password with the SCRYPT parameters. */
export function hashPassword(password: string, salt: Buffer = randomBytes(SCRYPT.saltBytes)): string {
  const key = scryptSync(password, salt, SCRYPT.keyBytes, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `${salt.toString('hex')}$${key.toString('hex')}`;
}

/** Whether `password` matches a stored `<salt>$<hash>`; the hashes are compared in constant time. */
export function verifyPassword(password: string, stored: string): boolean {
  const [saltHex, hashHex] = stored.split('$');
  if (!saltHex || !hashHex) return false;
  const want = Buffer.from(hashHex, 'hex');
  const got = scryptSync(password, Buffer.from(saltHex, 'hex'), want.length || SCRYPT.keyBytes, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Whether a user with `patterns` may act on `bed` ("site/ward/bed"): an exact bed, or "site/ward/*". */
export function bedPermitted(patterns: readonly string[], bed: string): boolean {
  return patterns.some((p) => p === bed || (p.endsWith('/*') && bed.startsWith(p.slice(0, -1)) && !bed.slice(p.length - 1).includes('/')));
}

/** The users file with `user` added (or replaced, by name). */
export function withUser(file: UsersFile | null, user: StationUser): UsersFile {
  const users = (file?.users ?? []).filter((u) => u.name !== user.name);
  return { users: [...users, user] };
}

export interface Session {
  user: string;
  displayName: string;
  beds: string[];
  csrfToken: string;
  /** Wall time of the expiry, for display. */
  expiresAtMs: number;
}

interface Kept extends Session {
  id: Buffer;
  expiresAtMonoNs: bigint;
}

export type SessionCheck = { ok: true; session: Session } | { ok: false; error: 'no-session' | 'session-expired' };

/** Compares two hex tokens in constant time (for equal lengths; a length difference is no secret). */
export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The signed-in sessions, in this process only (a restart signs everyone out). Looked up by the
 * SHA-256 of the id (a lookup's timing then tells nothing about the id), then the id itself is
 * compared in constant time.
 */
export class Sessions {
  private readonly byDigest = new Map<string, Kept>();
  private readonly users: Map<string, StationUser>;
  /** A hash of a password nobody has: an unknown name costs the same scrypt work as a known one. */
  private readonly decoy = hashPassword(randomBytes(16).toString('hex'));

  constructor(
    users: UsersFile,
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly random: (n: number) => Buffer = randomBytes,
  ) {
    this.users = new Map(users.users.map((u) => [u.name, u]));
  }

  /** Signs `name` in; the new session's id (hex, for the cookie) and view, or null for a wrong name or password. */
  login(name: string, password: string): { id: string; session: Session } | null {
    const user = this.users.get(name);
    const ok = verifyPassword(password, user?.scrypt ?? this.decoy);
    if (!user || !ok) return null;
    this.prune();
    const id = this.random(TOKEN_BYTES);
    const kept: Kept = {
      id,
      user: user.name,
      displayName: user.displayName,
      beds: [...user.beds],
      csrfToken: this.random(TOKEN_BYTES).toString('hex'),
      expiresAtMs: this.clock.wallMs() + this.ttlMs,
      expiresAtMonoNs: this.clock.monoNs() + BigInt(this.ttlMs) * 1_000_000n,
    };
    this.byDigest.set(digest(id.toString('hex')), kept);
    return { id: id.toString('hex'), session: publicView(kept) };
  }

  /** The session of cookie value `id`, if it exists and has not expired. */
  check(id: string | undefined): SessionCheck {
    if (!id || !/^[0-9a-f]{64}$/.test(id)) return { ok: false, error: 'no-session' };
    const kept = this.byDigest.get(digest(id));
    if (!kept || !timingSafeEqual(kept.id, Buffer.from(id, 'hex'))) return { ok: false, error: 'no-session' };
    if (this.clock.monoNs() >= kept.expiresAtMonoNs) return { ok: false, error: 'session-expired' };
    return { ok: true, session: publicView(kept) };
  }

  /** Ends the session of cookie value `id` (nothing if there is none). */
  logout(id: string | undefined): void {
    if (id && this.check(id).ok) this.byDigest.delete(digest(id));
  }

  /** Sessions kept (live and recently expired). */
  get size(): number {
    return this.byDigest.size;
  }

  /** Forgets sessions expired long ago, and the oldest beyond MAX_SESSIONS. */
  private prune(): void {
    const now = this.clock.monoNs();
    for (const [k, s] of this.byDigest) {
      if (now > s.expiresAtMonoNs && elapsedMs(s.expiresAtMonoNs, now) > EXPIRED_REMEMBERED_MS) this.byDigest.delete(k);
    }
    while (this.byDigest.size >= MAX_SESSIONS) this.byDigest.delete(this.byDigest.keys().next().value as string);
  }
}

function digest(idHex: string): string {
  return createHash('sha256').update(idHex).digest('hex');
}

function publicView(k: Kept): Session {
  return { user: k.user, displayName: k.displayName, beds: [...k.beds], csrfToken: k.csrfToken, expiresAtMs: k.expiresAtMs };
}
