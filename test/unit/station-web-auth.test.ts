/**
 * Unit tests of the ward board's users and sessions (agent/src/station/web/auth.ts) on a fake
 * clock: the users file's rules, scrypt hashes checked against an independent computation, sessions
 * that expire on the monotonic clock whatever the wall clock does, and bed permission patterns.
 */
import t from 'tap';
import { scryptSync } from 'node:crypto';
import { FakeClock } from '../../agent/src/clock';
import { bedPermitted, hashPassword, MAX_SESSIONS, parseUsersFile, SCRYPT, Sessions, tokensEqual, UsersFileError, verifyPassword, withUser } from '../../agent/src/station/web/auth';
import type { UsersFile } from '../../agent/src/station/web/auth';

const HOUR_MS = 3600_000;
/** Hashed once: scrypt at the documented cost takes tens of milliseconds. */
const NURSE_HASH = hashPassword('correct horse battery');
const USERS: UsersFile = { users: [{ name: 'nurse-a', displayName: 'Nurse A', scrypt: NURSE_HASH, beds: ['site1/ward7/*'] }] };

t.test('REQ-WEB-001 a password hash is scrypt with N=16384, r=8, p=1, a 16-byte salt and a 64-byte key, checked in constant time', async (t) => {
  const salt = Buffer.alloc(16, 7);
  const stored = hashPassword('s3cret-pass', salt);
  const [saltHex, hashHex] = stored.split('$');
  t.equal(saltHex, salt.toString('hex'), 'the salt, hex');
  // Computed independently of auth.ts with the documented parameters.
  t.equal(hashHex, scryptSync('s3cret-pass', salt, 64, { N: 16384, r: 8, p: 1 }).toString('hex'), 'the 64-byte scrypt key, hex');
  t.same(SCRYPT, { N: 16384, r: 8, p: 1, saltBytes: 16, keyBytes: 64 });
  t.ok(verifyPassword('s3cret-pass', stored), 'the right password');
  t.notOk(verifyPassword('s3cret-pasS', stored), 'a wrong one');
  t.notOk(verifyPassword('s3cret-pass', 'garbage'), 'a malformed stored hash');
  t.not(hashPassword('s3cret-pass'), hashPassword('s3cret-pass'), 'a fresh salt each time');
});

t.test('REQ-WEB-001 the users file is strict: every problem is named as path: message, never with its value', async (t) => {
  t.same(parseUsersFile(JSON.stringify(USERS)), USERS, 'a valid file');
  const bad = JSON.stringify({
    users: [
      { name: 'nurse a', displayName: 'A', scrypt: NURSE_HASH, beds: ['site1/ward7/*'] },
      { name: 'nurse-b', displayName: 'B', scrypt: 'plaintext-password', beds: ['site1/*/*'] },
      { name: 'nurse-c', displayName: 'C', scrypt: NURSE_HASH, beds: [], admin: true },
      { name: 'nurse-b', displayName: 'B2', scrypt: NURSE_HASH, beds: [] },
    ],
  });
  const err = t.throws(() => parseUsersFile(bad)) as UsersFileError;
  t.ok(err instanceof UsersFileError);
  t.equal(err.code, 'USERS_INVALID');
  const paths = err.issues.map((i) => i.split(':')[0]).sort();
  t.same(paths, ['users.0.name', 'users.1.beds.0', 'users.1.scrypt', 'users.2', 'users.3.name'].sort(), `every problem at once: ${err.issues.join(' | ')}`);
  t.notMatch(err.message, /plaintext-password/, 'the value of a field is never echoed');
  t.throws(() => parseUsersFile('{"users": ['), UsersFileError, 'not JSON');
  t.same(withUser(USERS, { ...USERS.users[0]!, displayName: 'Nurse A (night)' }).users.map((u) => u.displayName), ['Nurse A (night)'], 'add-user replaces a user by name');
});

t.test('REQ-WEB-001 a wrong name or a wrong password gets no session', async (t) => {
  const s = new Sessions(USERS, 8 * HOUR_MS, new FakeClock());
  t.equal(s.login('nurse-a', 'wrong'), null, 'wrong password');
  t.equal(s.login('nobody', 'correct horse battery'), null, 'unknown name');
  t.equal(s.size, 0, 'nothing kept');
  const ok = s.login('nurse-a', 'correct horse battery');
  t.ok(ok, 'the right one');
  t.match(ok!.id, /^[0-9a-f]{64}$/, 'a 32-byte random id');
  t.match(ok!.session.csrfToken, /^[0-9a-f]{64}$/, 'a 32-byte CSRF token');
  t.not(ok!.session.csrfToken, ok!.id, 'the CSRF token is not the session id');
  t.same(ok!.session.beds, ['site1/ward7/*']);
});

t.test('REQ-WEB-002 a session expires its TTL after sign-in on the monotonic clock; a wall-clock step changes nothing', async (t) => {
  const clock = new FakeClock();
  const s = new Sessions(USERS, 8 * HOUR_MS, clock);
  const { id, session } = s.login('nurse-a', 'correct horse battery')!;
  t.equal(session.expiresAtMs, clock.wallMs() + 8 * HOUR_MS, 'expiresAtMs: the wall time shown');
  t.ok(s.check(id).ok, 'valid at once');
  clock.stepWallMs(24 * HOUR_MS); // NTP, or a user setting the date
  t.ok(s.check(id).ok, 'a wall clock step does not expire it');
  clock.stepWallMs(-48 * HOUR_MS);
  clock.advanceMs(8 * HOUR_MS - 1);
  t.ok(s.check(id).ok, 'still valid 1 ms before the end (the wall stepped back does not extend it either)');
  clock.advanceMs(1);
  t.same(s.check(id), { ok: false, error: 'session-expired' }, 'expired at its TTL, absolute: use does not extend it');
  t.same(s.check('0'.repeat(64)), { ok: false, error: 'no-session' }, 'an unknown id');
  t.same(s.check('not-hex'), { ok: false, error: 'no-session' }, 'a malformed id');
  t.same(s.check(undefined), { ok: false, error: 'no-session' }, 'no cookie');
});

t.test('REQ-WEB-002 sign-out ends a session and only that one', async (t) => {
  const s = new Sessions(USERS, HOUR_MS, new FakeClock());
  const a = s.login('nurse-a', 'correct horse battery')!;
  const b = s.login('nurse-a', 'correct horse battery')!;
  t.not(a.id, b.id, 'each sign-in its own id');
  s.logout(a.id);
  t.same(s.check(a.id), { ok: false, error: 'no-session' }, 'signed out');
  t.ok(s.check(b.id).ok, 'the other session of the same user stays');
});

t.test('REQ-WEB-003 tokens are compared whole and in constant time', async (t) => {
  t.ok(tokensEqual('ab'.repeat(32), 'ab'.repeat(32)));
  t.notOk(tokensEqual('ab'.repeat(32), `${'ab'.repeat(31)}ac`), 'one character differs');
  t.notOk(tokensEqual('ab'.repeat(32), 'ab'), 'a prefix');
  t.notOk(tokensEqual('ab'.repeat(32), ''), 'empty');
});

t.test('REQ-WEB-005 a user acts on the beds of their list: an exact bed, or every bed of a ward', async (t) => {
  const beds = ['site1/ward7/*', 'site1/ward8/bed3'];
  t.ok(bedPermitted(beds, 'site1/ward7/bed12'), 'a bed of the ward');
  t.ok(bedPermitted(beds, 'site1/ward8/bed3'), 'the exact bed');
  t.notOk(bedPermitted(beds, 'site1/ward8/bed4'), 'another bed of that ward');
  t.notOk(bedPermitted(beds, 'site1/ward70/bed1'), 'a ward whose name starts the same');
  t.notOk(bedPermitted(beds, 'site2/ward7/bed12'), 'another site');
  t.notOk(bedPermitted(beds, 'site1/ward7/bed12/x'), 'a deeper path');
  t.notOk(bedPermitted([], 'site1/ward7/bed12'), 'no beds: no commands');
});

t.test('REQ-WEB-001 HAZ-016 a stored hash whose hash part is not hex (it decodes to no bytes) matches no password: never an empty comparison', async (t) => {
  const [saltHex] = NURSE_HASH.split('$');
  for (const hashPart of ['zz', 'a', 'not-hex-at-all']) {
    t.equal(Buffer.from(hashPart, 'hex').length, 0, `"${hashPart}" decodes to nothing`);
    t.notOk(verifyPassword('correct horse battery', `${saltHex}$${hashPart}`), `not the right password against "<salt>$${hashPart}"`);
    t.notOk(verifyPassword('', `${saltHex}$${hashPart}`), `nor the empty one against "<salt>$${hashPart}"`);
  }
  t.notOk(verifyPassword('x', '$'), 'nor against no salt and no hash');
});

t.test('REQ-WEB-002 HAZ-016 an expired session is answered session-expired for 24 h after its expiry, then forgotten (no-session)', async (t) => {
  const clock = new FakeClock();
  const s = new Sessions(USERS, HOUR_MS, clock);
  const old = s.login('nurse-a', 'correct horse battery')!;
  clock.advanceMs(HOUR_MS + 24 * HOUR_MS);
  s.login('nurse-a', 'correct horse battery'); // a sign-in is when sessions are pruned
  t.same(s.check(old.id), { ok: false, error: 'session-expired' }, 'exactly 24 h after its expiry: still remembered');
  t.equal(s.size, 2);
  clock.advanceMs(1);
  const fresh = s.login('nurse-a', 'correct horse battery')!;
  t.same(s.check(old.id), { ok: false, error: 'no-session' }, 'more than 24 h after its expiry: forgotten');
  t.equal(s.size, 2, 'the forgotten one is not kept; the one from a moment ago (live) and the new one are');
  t.ok(s.check(fresh.id).ok);
});

t.test('REQ-WEB-002 HAZ-016 at most 10 000 sessions are kept: a flood of sign-ins forgets the oldest first, and the newest is valid', async (t) => {
  // scrypt is a pure function: memoised here, 10 000 sign-ins of one user cost one hash (about
  // 85 ms each on this machine at the documented cost) and give the same keys. auth.ts reads
  // scryptSync from node:crypto's exports at each call, so the memo is seen there.
  const crypto = require('node:crypto') as typeof import('node:crypto');
  const real = crypto.scryptSync;
  const memo = new Map<string, Buffer>();
  let hits = 0;
  crypto.scryptSync = ((password: string, salt: Buffer, keylen: number, options: object) => {
    const key = `${password}\u0000${Buffer.from(salt).toString('hex')}\u0000${keylen}\u0000${JSON.stringify(options)}`;
    const known = memo.get(key);
    if (known) {
      hits += 1;
      return Buffer.from(known);
    }
    const derived = real(password, salt, keylen, options);
    memo.set(key, Buffer.from(derived));
    return derived;
  }) as typeof crypto.scryptSync;
  t.teardown(() => {
    crypto.scryptSync = real;
  });
  const s = new Sessions(USERS, HOUR_MS, new FakeClock());
  const first = s.login('nurse-a', 'correct horse battery')!;
  const second = s.login('nurse-a', 'correct horse battery')!;
  if (hits === 0) throw new Error('scryptSync is not memoised (auth.ts no longer reads it from the exports): 10 000 sign-ins would take minutes');
  for (let i = 2; i < MAX_SESSIONS; i += 1) s.login('nurse-a', 'correct horse battery');
  t.equal(s.size, MAX_SESSIONS, `${MAX_SESSIONS} sessions kept`);
  t.ok(s.check(first.id).ok, 'all of them valid');
  const last = s.login('nurse-a', 'correct horse battery')!;
  t.equal(s.size, MAX_SESSIONS, 'one more sign-in: still the bound');
  t.same(s.check(first.id), { ok: false, error: 'no-session' }, 'the oldest forgotten');
  t.ok(s.check(second.id).ok, 'the next oldest kept');
  t.ok(s.check(last.id).ok, 'the new one valid');
  t.equal(MAX_SESSIONS, 10_000, 'the bound station-web.md states');
});
