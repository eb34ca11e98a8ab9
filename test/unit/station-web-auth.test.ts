/**
 * Unit tests of the ward board's users and sessions (agent/src/station/web/auth.ts) on a fake
 * clock: the users file's rules, scrypt hashes checked against an independent computation, sessions
 * that expire on the monotonic clock whatever the wall clock does, and bed permission patterns.
 */
import t from 'tap';
import { scryptSync } from 'node:crypto';
import { FakeClock } from '../../agent/src/clock';
import { bedPermitted, hashPassword, parseUsersFile, SCRYPT, Sessions, tokensEqual, UsersFileError, verifyPassword, withUser } from '../../agent/src/station/web/auth';
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
