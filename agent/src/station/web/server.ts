/**
 * The ward board's web boundary: the ONLY file that opens an HTTP(S) listener for browsers
 * (docs/interfaces/station-web.md). Routes, the static page, Server-Sent Events, and the checks
 * every request passes: origin, session, CSRF token, bed permission, body schema. What it serves
 * comes from callbacks (the ward's view, trends, commands): it holds no ward state itself.
 *
 * Every refusal is answered with a JSON error, counted and logged with the user's name and the
 * reason, never a password or a value; nothing changes.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { z } from 'zod';
import type { Clock } from '../../clock';
import { Counters } from '../../counters';
import type { Logger } from '../../log';
import { PROJECT_ROOT } from '../../paths';
import type { StationAction } from '../commands';
import { parseBed } from '../commands';
import type { BedChange, BedView } from '../station';
import type { Session, Sessions } from './auth';
import { bedPermitted, tokensEqual } from './auth';
import type { BedTrends } from './trends';
import { mergeChanges } from './ward-delta';

/** The page's static files (agent/station-web/), found from the compiled file: dist/ and the installed package alike. */
export const STATIC_DIR = join(PROJECT_ROOT, 'agent', 'station-web');
const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/board.js': { file: 'board.js', type: 'text/javascript; charset=utf-8' },
  '/board.css': { file: 'board.css', type: 'text/css; charset=utf-8' },
};
/** A request body larger than this is refused (the largest legitimate one, a command, is a few hundred bytes). */
const MAX_BODY_BYTES = 16 * 1024;
/** A `ward` event at least this often (ages move on the page; the page calls the station lost after 3 s without one). */
export const WARD_EVENT_INTERVAL_MS = 1000;
/** News is pushed within this of arriving, and no more often (station-web.md, Timing). */
export const NEWS_THROTTLE_MS = 100;
/** Open event streams at most (each is a socket and a buffer). */
const MAX_EVENT_STREAMS = 256;
export const SESSION_COOKIE = 'vigil_session';

/** The security headers of every answer (station-web.md, Routes). */
const HEADERS = {
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** The whole ward: every bed's view, with the station's own `silent` rule. */
export interface WardSnapshot {
  t: number;
  connected: boolean;
  beds: Array<BedView & { lastMessageAgeMs: number | null; silent: boolean }>;
}

/** A bed's changed parts (station.ts BedChange), with `silent` and `lastMessageAgeMs` when that changed. */
export type WardChange = BedChange & { lastMessageAgeMs?: number | null; silent?: boolean };

/**
 * A partial `ward` event: the changes since the previous event other than by ageing. The page
 * merges each bed's parts into what it holds (values by `parameter@interfaceId`) and ages the
 * rest itself (docs/interfaces/station-web.md, GET /api/events).
 */
export interface WardDelta {
  t: number;
  connected: boolean;
  partial: true;
  beds: WardChange[];
}

/** Every bed is sent whole at least this often (a rolling refresh, a few beds per event: ages and counts re-synchronised). */
export const FULL_WARD_EVERY_MS = 10_000;

/** A command's answer as the page gets it. */
export type CommandAnswer =
  | { status: 'accepted' | 'rejected'; reason: string }
  | { error: 'no-answer' | 'broker-not-connected' | 'unknown-bed' | 'refused-by-broker' };

export interface WebServerOptions {
  host: string;
  port: number;
  /** HTTPS with these files; absent: plain HTTP (`--insecure-http`, loopback only: checked by the caller). */
  tls?: { certFile: string; keyFile: string } | undefined;
  /** Origins accepted besides the page's own (`--allowed-origin`). */
  allowedOrigins: readonly string[];
  sessions: Sessions;
  clock: Clock;
  logger: Logger;
  /** The whole ward. */
  ward(): WardSnapshot;
  /** The changes since the previous call (each call moves the baseline: called once per event pushed). */
  changes(): WardDelta;
  trends(bed: string): BedTrends | null;
  command(user: string, bed: string, action: StationAction): Promise<CommandAnswer>;
  staticDir?: string;
}

const Login = z.strictObject({ name: z.string().min(1).max(64), password: z.string().min(1).max(1024) });
const Action = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('ack'), alarmId: z.string().min(1).max(128) }),
  z.strictObject({ kind: z.literal('silence'), alarmId: z.string().min(1).max(128), durationSec: z.number().int().min(1).max(600) }),
  z.strictObject({
    kind: z.literal('observe'),
    consciousness: z.enum(['A', 'C', 'V', 'P', 'U']).optional(),
    onOxygen: z.boolean().optional(),
    spo2Scale: z.union([z.literal(1), z.literal(2)]).optional(),
  }).refine((o) => o.consciousness !== undefined || o.onOxygen !== undefined || o.spo2Scale !== undefined, { message: 'needs consciousness, onOxygen or spo2Scale' }),
  z.strictObject({ kind: z.literal('confirm-device'), interfaceId: z.string().min(1).max(64), serialNumber: z.string().max(128) }),
]);
const Command = z.strictObject({ bed: z.string().refine((b) => parseBed(b) !== null, 'must be "site/ward/bed"'), action: Action });

interface Stream {
  res: ServerResponse;
  sessionId: string;
  /**
   * Changes held back while the browser is slow (its previous event not drained), merged per bed:
   * sent in one event once it drained. Bounded by the ward (a bed's parts, its values by key).
   */
  pending: Map<string, WardChange> | null;
}

/** Thrown inside a handler: answered as `status` with `{error, detail?}`, counted and logged. */
class Refusal extends Error {
  constructor(readonly status: number, readonly error: string, readonly detail?: string) {
    super(error);
  }
}

export class StationWebServer {
  readonly counters = new Counters();
  private readonly server: Server;
  private readonly streams = new Set<Stream>();
  private readonly staticDir: string;
  private tickTimer: NodeJS.Timeout | undefined;
  private newsTimer: NodeJS.Timeout | undefined;
  private lastPushMonoNs = 0n;

  constructor(private readonly o: WebServerOptions) {
    this.staticDir = o.staticDir ?? STATIC_DIR;
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    this.server = o.tls
      // TLS 1.2 at least (station-web.md, Security), as the broker link.
      ? createHttpsServer({ cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile), minVersion: 'TLSv1.2' }, handler)
      : createHttpServer(handler);
  }

  /** Starts listening and the periodic `ward` events; resolves with the port (useful with port 0). */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => resolve());
    });
    this.tickTimer = setInterval(() => this.push(), WARD_EVENT_INTERVAL_MS);
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : this.o.port;
  }

  /** Something changed (a message, the broker link): pushed within NEWS_THROTTLE_MS, at most that often. */
  notify(): void {
    if (this.newsTimer || this.streams.size === 0) return;
    const sinceMs = Number(this.o.clock.monoNs() - this.lastPushMonoNs) / 1e6;
    this.newsTimer = setTimeout(() => {
      this.newsTimer = undefined;
      this.push();
    }, Math.max(0, NEWS_THROTTLE_MS - sinceMs));
  }

  async close(): Promise<void> {
    clearInterval(this.tickTimer);
    clearTimeout(this.newsTimer);
    for (const s of this.streams) s.res.end();
    this.streams.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get eventStreams(): number {
    return this.streams.size;
  }

  /** Sends the ward to every open stream; a stream whose session expired gets `session-expired` and ends. */
  private push(): void {
    const now = this.o.clock.monoNs();
    this.lastPushMonoNs = now;
    if (this.streams.size === 0) return;
    // The changes since the last event, computed once for every stream (station-web.md, The `ward`
    // events): 200 beds at 1 Hz send a few values per bed per event, never the whole ward.
    const delta = this.o.changes();
    let partial: string | undefined;
    for (const s of this.streams) {
      const check = this.o.sessions.check(s.sessionId);
      if (!check.ok) {
        this.counters.count('session-expired');
        s.res.end(`event: session-expired\ndata: {"error":"${check.error}"}\n\n`);
        this.streams.delete(s);
        continue;
      }
      if (s.res.writableNeedDrain) {
        // A slow browser: nothing more is queued for it; what changed is merged and sent once it
        // drained (never the whole ward again, which a slow browser would take even longer to read).
        this.counters.count('events-deferred-slow-stream');
        s.pending ??= new Map();
        mergeChanges(s.pending, delta.beds);
        continue;
      }
      if (s.pending) {
        mergeChanges(s.pending, delta.beds);
        s.res.write(`event: ward\ndata: ${JSON.stringify({ ...delta, beds: [...s.pending.values()] })}\n\n`);
        s.pending = null;
      } else {
        partial ??= `event: ward\ndata: ${JSON.stringify(delta)}\n\n`;
        s.res.write(partial);
      }
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://station.invalid');
    let user = '';
    try {
      if (req.method === 'GET' && STATIC_FILES[url.pathname]) return this.serveStatic(res, url.pathname);
      if (!url.pathname.startsWith('/api/')) throw new Refusal(404, 'not-found');
      if (req.method === 'POST') this.checkOrigin(req);
      if (req.method === 'POST' && url.pathname === '/api/login') return await this.login(req, res);
      const { id, session } = this.session(req);
      user = session.user;
      if (req.method === 'POST' && !tokensEqual(String(req.headers['x-csrf-token'] ?? ''), session.csrfToken)) throw new Refusal(403, 'csrf');
      await this.route(req, res, url, id, session);
    } catch (err) {
      if (!(err instanceof Refusal)) {
        this.o.logger.error('web-request-failed', { route: url.pathname, error: (err as Error).message });
        if (!res.headersSent) json(res, 500, { error: 'internal' });
        return;
      }
      this.counters.count(err.error);
      this.o.logger.warn('web-refused', { route: url.pathname, user, reason: err.error, ...(err.detail ? { detail: err.detail } : {}) });
      if (!res.headersSent) json(res, err.status, { error: err.error, ...(err.detail ? { detail: err.detail } : {}) });
    }
  }

  /** The routes behind a valid session (and, for POST, a valid origin and CSRF token). */
  private async route(req: IncomingMessage, res: ServerResponse, url: URL, id: string, session: Session): Promise<void> {
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /api/session':
        return json(res, 200, session);
      case 'GET /api/events':
        return this.openStream(res, id);
      case 'GET /api/trends': {
        const bed = url.searchParams.get('bed') ?? '';
        if (parseBed(bed) === null) throw new Refusal(400, 'bad-request', 'bed: must be "site/ward/bed"');
        const trends = this.o.trends(bed);
        if (!trends) throw new Refusal(404, 'unknown-bed');
        return json(res, 200, trends);
      }
      case 'POST /api/command':
        return await this.command(req, res, session);
      case 'POST /api/logout':
        this.o.sessions.logout(id);
        res.writeHead(204, { ...HEADERS, 'Set-Cookie': this.cookie('', 0) });
        res.end();
        return;
      default:
        throw new Refusal(404, 'not-found');
    }
  }

  private serveStatic(res: ServerResponse, path: string): void {
    const entry = STATIC_FILES[path] as { file: string; type: string };
    let body: Buffer;
    try {
      body = readFileSync(join(this.staticDir, entry.file));
    } catch {
      throw new Refusal(404, 'not-found');
    }
    res.writeHead(200, { ...HEADERS, 'Content-Type': entry.type, 'Content-Length': body.length });
    res.end(body);
  }

  /** The Origin of a POST must be the page's own (from the Host it was asked for) or an allowed one. */
  private checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    const own = `${this.o.tls ? 'https' : 'http'}://${req.headers.host ?? ''}`;
    if (!origin || (origin !== own && !this.o.allowedOrigins.includes(origin))) throw new Refusal(403, 'origin');
  }

  private session(req: IncomingMessage): { id: string; session: Session } {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const check = this.o.sessions.check(id);
    if (!check.ok) throw new Refusal(401, check.error);
    return { id: id as string, session: check.session };
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = Login.safeParse(await readJson(req));
    if (!body.success) throw new Refusal(400, 'bad-request', issuesOf(body.error));
    const signedIn = this.o.sessions.login(body.data.name, body.data.password);
    if (!signedIn) {
      this.counters.count('login-failed');
      this.o.logger.warn('web-refused', { route: '/api/login', user: body.data.name, reason: 'bad-credentials' });
      return json(res, 401, { error: 'bad-credentials' });
    }
    this.counters.count('login');
    this.o.logger.info('web-login', { user: signedIn.session.user });
    const { user, displayName, csrfToken, expiresAtMs } = signedIn.session;
    json(res, 200, { user, displayName, csrfToken, expiresAtMs }, { 'Set-Cookie': this.cookie(signedIn.id, Math.ceil((expiresAtMs - this.o.clock.wallMs()) / 1000)) });
  }

  private async command(req: IncomingMessage, res: ServerResponse, session: Session): Promise<void> {
    const body = Command.safeParse(await readJson(req));
    if (!body.success) throw new Refusal(400, 'bad-request', issuesOf(body.error));
    const { bed, action } = body.data;
    if (!bedPermitted(session.beds, bed)) throw new Refusal(403, 'bed-not-permitted');
    this.counters.count('commands-sent');
    this.o.logger.info('web-command', { user: session.user, bed, kind: action.kind });
    const answer = await this.o.command(session.user, bed, action as StationAction);
    if ('status' in answer) {
      this.counters.count(`commands-${answer.status}`);
      return json(res, 200, answer);
    }
    const status = { 'no-answer': 504, 'broker-not-connected': 503, 'unknown-bed': 404, 'refused-by-broker': 502 }[answer.error];
    throw new Refusal(status, answer.error);
  }

  private openStream(res: ServerResponse, sessionId: string): void {
    if (this.streams.size >= MAX_EVENT_STREAMS) throw new Refusal(503, 'too-many-streams');
    res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    const stream: Stream = { res, sessionId, pending: null };
    this.streams.add(stream);
    res.on('close', () => this.streams.delete(stream));
    // The first event at once, the whole ward: the page has it without waiting a tick.
    res.write(`event: ward\ndata: ${JSON.stringify(this.o.ward())}\n\n`);
  }

  private cookie(value: string, maxAgeSec: number): string {
    return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.max(0, maxAgeSec)}${this.o.tls ? '; Secure' : ''}`;
  }
}

function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...HEADERS, ...extra, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The value of cookie `name` in a Cookie header, if present. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The request body as JSON; a Refusal (400) when too large or not JSON. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Refusal(400, 'bad-request', `(body): must be at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Refusal(400, 'bad-request', '(body): must be JSON');
  }
}

/** zod issues as `path: message`, joined; never the value. */
function issuesOf(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
}
