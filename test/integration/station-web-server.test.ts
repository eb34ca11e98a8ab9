/**
 * Integration tests of `vigil station serve` over HTTP (docs/interfaces/station-web.md): the real
 * station process (plain HTTP on 127.0.0.1 with --insecure-http, and once over HTTPS with the test
 * PKI and mutual TLS to the broker), a real Mosquitto, and the real agent fed by hw-sim's pulse
 * oximeter on a pseudo-terminal. Requests are made as a browser would (cookie, Origin, CSRF header)
 * with node:http; what reaches the broker is watched by a raw MQTT client.
 */
import t from 'tap';
import type { Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { MqttLink } from '../../agent/src/io/mqtt';
import { encodeEnvelope } from '../../agent/src/proto/codec';
import type { WardDelta, WardSnapshot } from '../../agent/src/station/web/server';
import type { BedTrends } from '../../agent/src/station/web/trends';
import { startBroker } from '../support/broker';
import type { Broker } from '../support/broker';
import { connectLink, sleep, until } from '../support/observer';
import { createPki, STATIONS, vigilAcl } from '../support/pki';
import type { HeldWard } from '../support/ward-events';
import { mergeWardEvents } from '../support/ward-events';
import { NEWS_THROTTLE_MS } from '../../agent/src/station/web/server';
import { exitOf, startAgentProcess, startHwSim, VIGIL_CLI, writeAgentConfig } from '../support/processes';

const BED = 'site1/ward7/bed12';
const PASSWORD_A = 'nurse-a-password';
const PASSWORD_B = 'nurse-b-password';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: Record<string, unknown>;
}

interface Station {
  base: string;
  ca?: Buffer;
  process: ChildProcess;
  logs: string[];
}

interface CallOptions {
  json?: unknown;
  cookie?: string;
  csrf?: string;
  /** The Origin header; null sends none; default the station's own origin. */
  origin?: string | null;
}

/** One HTTP(S) request as a browser of the ward would make it. */
function call(s: Station, method: string, path: string, o: CallOptions = {}): Promise<Reply> {
  const url = new URL(path, s.base);
  const body = o.json === undefined ? undefined : typeof o.json === 'string' ? o.json : JSON.stringify(o.json);
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (o.cookie) headers.Cookie = o.cookie;
  if (o.csrf) headers['X-CSRF-Token'] = o.csrf;
  const origin = o.origin === undefined ? new URL(s.base).origin : o.origin;
  if (origin !== null && method === 'POST') headers.Origin = origin;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ...(s.ca ? { ca: s.ca } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          /* not JSON (the page) */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface EventStream {
  status: number;
  events: Array<{ event: string; data: string; atMs: number }>;
  /** The ward as a browser holds it after each `ward` event (partial events merged), with the event's arrival. */
  wards(): Array<HeldWard & { atMs: number }>;
  close(): void;
}

/** GET /api/events, collecting the Server-Sent Events as they come. */
function openEvents(s: Station, cookie?: string): Promise<EventStream> {
  const url = new URL('/api/events', s.base);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: cookie ? { Cookie: cookie } : {}, ...(s.ca ? { ca: s.ca } : {}) }, (res) => {
      const stream: EventStream = {
        status: res.statusCode ?? 0,
        events: [],
        wards: () => {
          const ward = stream.events.filter((e) => e.event === 'ward');
          return mergeWardEvents(ward.map((e) => JSON.parse(e.data) as WardSnapshot | WardDelta)).map((w, i) => ({ ...w, atMs: (ward[i] as { atMs: number }).atMs }));
        },
        close: () => req.destroy(),
      };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buffer += d;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
          stream.events.push({ event, data, atMs: Date.now() });
        }
      });
      res.on('error', () => undefined);
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}

/** `vigil station add-user`, the password on stdin. */
async function addUser(file: string, name: string, password: string, beds: string): Promise<void> {
  const child = spawn(process.execPath, [VIGIL_CLI, 'station', 'add-user', '--users', file, '--name', name, '--display-name', name.toUpperCase(), '--beds', beds], { stdio: ['pipe', 'ignore', 'pipe'] });
  child.stdin!.end(`${password}\n`);
  const code = await exitOf(child);
  if (code !== 0) throw new Error(`add-user exited ${code}`);
}

/** Starts `vigil station serve ...` and resolves once it printed its URL. */
async function startServe(t: Test, args: string[], ca?: Buffer): Promise<Station> {
  const child = spawn(process.execPath, [VIGIL_CLI, 'station', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const logs: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => logs.push(l));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`station serve printed no URL: ${logs.join('\n')}`)), 15_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /^ward board: (\S+)$/.exec(l);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`station serve exited ${code}: ${logs.join('\n')}`)));
  });
  return { base, process: child, logs, ...(ca ? { ca } : {}) };
}

/** Signs in; the cookie to send back and the CSRF token. */
async function signIn(s: Station, name: string, password: string): Promise<{ cookie: string; csrf: string; reply: Reply }> {
  const reply = await call(s, 'POST', '/api/login', { json: { name, password } });
  const setCookie = reply.headers['set-cookie']?.[0] ?? '';
  return { cookie: setCookie.split(';')[0] ?? '', csrf: String(reply.body.csrfToken ?? ''), reply };
}

/** A raw client on the broker counting the commands published to any bed. */
async function commandWatch(url: string): Promise<{ link: MqttLink; commands: string[] }> {
  const link = await connectLink(url);
  const commands: string[] = [];
  link.on('message', (topic) => commands.push(topic));
  await link.subscribe('vigil/v1/+/+/+/cmd', 1);
  return { link, commands };
}

interface Ward {
  broker: Broker;
  station: Station;
  users: string;
  sim: Awaited<ReturnType<typeof startHwSim>>;
  watch: Awaited<ReturnType<typeof commandWatch>>;
}

/** Mosquitto, hw-sim's oximeter, the agent for site1/ward7/bed12, and the station serving over plain HTTP on loopback. */
async function ward(t: Test): Promise<Ward> {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-web-'));
  const users = join(dir, 'users.json');
  await addUser(users, 'nurse-a', PASSWORD_A, 'site1/ward7/*');
  await addUser(users, 'nurse-b', PASSWORD_B, 'site1/ward8/*');
  const sim = await startHwSim(['masimo-ascii', '--seed', '3', '--scenario', 'stable', '--period-ms', '250']);
  t.teardown(() => sim.stop('SIGKILL'));
  const agent = startAgentProcess(writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, heartbeatIntervalMs: 1000 }));
  t.teardown(() => agent.stop('SIGKILL'));
  const station = await startServe(t, ['--url', broker.url, '--users', users, '--listen', '127.0.0.1:0', '--insecure-http', '--silent-bed-ms', '2000']);
  const watch = await commandWatch(broker.url);
  t.teardown(() => watch.link.end(true));
  return { broker, station, users, sim, watch };
}

/** One ward for the plain-HTTP tests below, started by the first of them (a file's top-level tests run in order). */
let plainWard: Promise<Ward> | undefined;
const sharedWard = (): Promise<Ward> => (plainWard ??= ward(t));


t.test('REQ-WEB-001 REQ-WEB-006 the users file is 0600; no patient data without a session; a wrong name or password gets 401 and no cookie', async (t) => {
  const w = await sharedWard();
  const s = w.station;
  t.equal(statSync(w.users).mode & 0o777, 0o600, 'add-user writes the users file 0600');
  t.notMatch(readFileSync(w.users, 'utf8'), new RegExp(PASSWORD_A), 'no password in it');
  const page = await call(s, 'GET', '/');
  t.equal(page.status, 200, 'the page shell');
  t.equal(page.headers['cache-control'], 'no-store');
  t.match(page.headers['content-security-policy'], /^default-src 'self'/, 'CSP: nothing from outside the station');
  t.notMatch(page.text, /bed12|gw-test/, 'the shell carries no ward data');
  for (const path of ['/api/session', '/api/events', `/api/trends?bed=${BED}`]) {
    const r = await call(s, 'GET', path);
    t.equal(r.status, 401, `GET ${path} without a session`);
    t.same(r.body, { error: 'no-session' });
    t.notMatch(r.text, /bed12/, 'and no data');
  }
  const cmd = await call(s, 'POST', '/api/command', { json: { bed: BED, action: { kind: 'ack', alarmId: 'x' } } });
  t.equal(cmd.status, 401, 'POST /api/command without a session');
  for (const [name, password] of [['nurse-a', 'wrong-password'], ['nobody', PASSWORD_A]] as const) {
    const r = await call(s, 'POST', '/api/login', { json: { name, password } });
    t.equal(r.status, 401, `${name}: 401`);
    t.same(r.body, { error: 'bad-credentials' }, 'the same answer for a wrong name and a wrong password');
    t.equal(r.headers['set-cookie'], undefined, 'no cookie');
  }
  const { reply } = await signIn(s, 'nurse-a', PASSWORD_A);
  t.equal(reply.status, 200, 'the right password');
  t.same(Object.keys(reply.body).sort(), ['csrfToken', 'displayName', 'expiresAtMs', 'user']);
  t.equal(reply.body.user, 'nurse-a');
  t.equal(reply.body.displayName, 'NURSE-A');
  const cookie = reply.headers['set-cookie']?.[0] ?? '';
  t.match(cookie, /^vigil_session=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\//, 'an HttpOnly, SameSite=Strict session cookie');
  t.notMatch(cookie, /Secure/, 'not Secure over --insecure-http (loopback)');
  t.notOk(s.logs.some((l) => l.includes(PASSWORD_A) || l.includes('wrong-password')), 'no password in the log');
  t.ok(s.logs.some((l) => /"event":"web-insecure"/.test(l)), '--insecure-http is warned at start');
});

t.test('REQ-WEB-007 ward events carry the bed, at least once a second and within 100 ms of news; partial events merge into the ward', async (t) => {
  const w = await sharedWard();
  const s = w.station;
  const { cookie } = await signIn(s, 'nurse-a', PASSWORD_A);
  const session = await call(s, 'GET', '/api/session', { cookie });
  t.equal(session.status, 200);
  t.same(session.body.beds, ['site1/ward7/*'], 'the session names the beds the user may act on');
  const events = await openEvents(s, cookie);
  t.teardown(() => events.close());
  t.equal(events.status, 200);
  const bed = await until('bed12 with a current SpO2 value', () =>
    events.wards().map((e) => e.beds.find((b) => b.bed === BED)).find((b) => b?.values.some((v) => v.parameter === 'spo2' && v.current)),
  );
  t.equal(bed.gateway, 'online');
  t.equal(bed.silent, false, 'not silent');
  t.type(bed.lastMessageAgeMs, 'number');
  t.ok((bed.lastMessageAgeMs as number) < 2000, 'heard from recently');
  // News: a status from a bed the station has never heard of, published by the test.
  const link = await connectLink(w.broker.url);
  t.teardown(() => link.end(true));
  const status = { online: true, interfaces: [], counters: [], startedWallMs: Date.now(), heartbeatIntervalMs: 5000, softwareVersion: 'test', reason: '' };
  const env = { schemaVersion: 1, gatewayId: 'gw-99', siteId: 'site1', wardId: 'ward7', bedId: 'bed99', messageId: `web-${Date.now()}`, sequence: 0, bootId: 'b', sentWallMs: Date.now(), status };
  const sentAt = Date.now();
  await link.publish('vigil/v1/site1/ward7/bed99/status', encodeEnvelope(env), { qos: 1, retain: false });
  const seen = await until('bed99 in a ward event', () => events.wards().find((e) => e.atMs >= sentAt && e.changed.includes('site1/ward7/bed99')));
  const latencyMs = seen.atMs - sentAt;
  t.ok(latencyMs <= NEWS_THROTTLE_MS + 250, `news in a ward event ${latencyMs} ms after it was published (${NEWS_THROTTLE_MS} ms at the station, plus the broker hop and a loaded machine)`);
  t.equal(seen.beds.find((b) => b.bed === 'site1/ward7/bed99')?.gateway, 'online', 'the new bed comes whole, its gateway online');
  const from = events.events.length;
  await sleep(4000);
  const times = events.events.slice(from).filter((e) => e.event === 'ward').map((e) => e.atMs);
  const gaps = times.slice(1).map((x, i) => x - (times[i] as number));
  t.ok(gaps.length >= 3, `${times.length} ward events in 4 s`);
  t.ok(Math.max(...gaps) <= 1100, `at least one a second (largest gap ${Math.max(...gaps)} ms)`);
  const perSecond = 1000 / NEWS_THROTTLE_MS + 1;
  t.ok(times.length <= 4 * perSecond + 1, `throttled: ${times.length} events in 4 s (at most ${1000 / NEWS_THROTTLE_MS} news pushes and 1 tick a second)`);
});

t.test('REQ-WEB-003 REQ-WEB-004 REQ-WEB-005 REQ-WEB-011 a forged, foreign, not permitted or malformed command is refused and nothing is sent', async (t) => {
  const w = await sharedWard();
  const s = w.station;
  const a = await signIn(s, 'nurse-a', PASSWORD_A);
  const b = await signIn(s, 'nurse-b', PASSWORD_B);
  const ack = { bed: BED, action: { kind: 'ack', alarmId: 'spo2.link-lost' } };
  const before = w.watch.commands.length;
  const noCsrf = await call(s, 'POST', '/api/command', { cookie: a.cookie, json: ack });
  t.equal(noCsrf.status, 403);
  t.same(noCsrf.body, { error: 'csrf' }, 'no X-CSRF-Token');
  const wrongCsrf = await call(s, 'POST', '/api/command', { cookie: a.cookie, csrf: b.csrf, json: ack });
  t.same([wrongCsrf.status, wrongCsrf.body], [403, { error: 'csrf' }], "another session's token");
  const foreign = await call(s, 'POST', '/api/command', { cookie: a.cookie, csrf: a.csrf, json: ack, origin: 'https://evil.example' });
  t.same([foreign.status, foreign.body], [403, { error: 'origin' }], 'a foreign Origin');
  const none = await call(s, 'POST', '/api/command', { cookie: a.cookie, csrf: a.csrf, json: ack, origin: null });
  t.same([none.status, none.body], [403, { error: 'origin' }], 'no Origin');
  const loginForeign = await call(s, 'POST', '/api/login', { json: { name: 'nurse-a', password: PASSWORD_A }, origin: 'https://evil.example' });
  t.same([loginForeign.status, loginForeign.body], [403, { error: 'origin' }], 'sign-in from a foreign origin');
  t.equal(loginForeign.headers['set-cookie'], undefined, 'and no cookie');
  const notPermitted = await call(s, 'POST', '/api/command', { cookie: b.cookie, csrf: b.csrf, json: ack });
  t.same([notPermitted.status, notPermitted.body], [403, { error: 'bed-not-permitted' }], 'nurse-b may act on ward 8 only');
  const malformed = await call(s, 'POST', '/api/command', { cookie: a.cookie, csrf: a.csrf, json: { bed: BED, action: { kind: 'silence', alarmId: 'x', durationSec: 9999 } } });
  t.equal(malformed.status, 400);
  t.equal(malformed.body.error, 'bad-request');
  t.match(malformed.body.detail, /^action\.durationSec: /, 'the detail names the field and the rule');
  t.notMatch(String(malformed.body.detail), /9999/, 'never the value');
  const badBed = await call(s, 'POST', '/api/command', { cookie: a.cookie, csrf: a.csrf, json: { bed: 'bed12', action: { kind: 'ack', alarmId: 'x' } } });
  t.match(badBed.body.detail, /^bed: /);
  const notJson = await call(s, 'POST', '/api/command', { cookie: a.cookie, csrf: a.csrf, json: '{"bed":' });
  t.same([notJson.status, notJson.body], [400, { error: 'bad-request', detail: '(body): must be JSON' }]);
  const extra = await call(s, 'POST', '/api/command', { cookie: a.cookie, csrf: a.csrf, json: { ...ack, user: 'someone-else' } });
  t.equal(extra.status, 400, 'a user name in the body is refused: commands go as the signed-in user');
  const logout = await call(s, 'POST', '/api/logout', { cookie: b.cookie });
  t.same([logout.status, logout.body], [403, { error: 'csrf' }], 'sign-out is a POST like any other: CSRF checked');
  await sleep(500);
  t.equal(w.watch.commands.length, before, 'nothing reached the broker');
  t.ok(s.logs.some((l) => /"event":"web-refused"/.test(l) && /"user":"nurse-b"/.test(l) && /"reason":"bed-not-permitted"/.test(l)), 'refusals are logged with the user and the reason');
});

t.test('REQ-WEB-008 REQ-WEB-010 an acknowledgement POSTed reaches the agent as the signed-in user and comes back with the name; trends and the alarm log', async (t) => {
  const w = await sharedWard();
  const s = w.station;
  const { cookie, csrf } = await signIn(s, 'nurse-a', PASSWORD_A);
  const events = await openEvents(s, cookie);
  t.teardown(() => events.close());
  await w.sim.stop('SIGKILL'); // the oximeter goes silent: its technical alarm
  const alarm = await until('the link alarm at the station', () =>
    events.wards().flatMap((e) => e.beds.find((b) => b.bed === BED)?.alarms ?? []).find((a) => /^spo2\.link-(stale|lost)$/.test(a.alarmId) && a.state === 'active'),
  );
  t.equal(alarm.kind, 'technical');
  const before = w.watch.commands.length;
  const reply = await call(s, 'POST', '/api/command', { cookie, csrf, json: { bed: BED, action: { kind: 'ack', alarmId: alarm.alarmId } } });
  t.equal(reply.status, 200);
  t.same(reply.body, { status: 'accepted', reason: '' }, "the gateway's answer");
  t.equal(w.watch.commands.length, before + 1, 'one command on the broker');
  const acked = await until('the alarm acknowledged at the station', () =>
    events.wards().flatMap((e) => e.beds.find((b) => b.bed === BED)?.alarms ?? []).find((a) => a.alarmId === alarm.alarmId && a.state === 'acknowledged'),
  );
  t.equal(acked.acknowledgedBy, 'nurse-a', "with the signed-in user's name");
  const unknown = await call(s, 'POST', '/api/command', { cookie, csrf, json: { bed: BED, action: { kind: 'ack', alarmId: 'spo2.no-such-alarm' } } });
  t.same([unknown.status, unknown.body], [200, { status: 'rejected', reason: 'unknown-alarm' }], 'a rejection with its reason');
  let trends: BedTrends | undefined;
  for (const deadline = Date.now() + 5000; !trends && Date.now() < deadline; await sleep(100)) {
    const body = (await call(s, 'GET', `/api/trends?bed=${BED}`, { cookie })).body as unknown as BedTrends;
    if (body.alarmLog?.some((e) => e.alarmId === alarm.alarmId && e.state === 'acknowledged')) trends = body;
  }
  if (!trends) throw new Error('the acknowledgement never reached the alarm log');
  t.same(trends.alarmLog.filter((e) => e.alarmId === alarm.alarmId).map((e) => [e.state, e.by]), [['active', ''], ['acknowledged', 'nurse-a']], 'raised, then acknowledged by nurse-a');
  t.equal(trends.toWallMs - trends.fromWallMs, 4 * 3600_000, 'the last 4 hours');
  const spo2 = trends.series.spo2 ?? [];
  t.ok(spo2.length >= 1, `SpO2 points while the oximeter sent (${spo2.length})`);
  t.ok(spo2.every(([x], i) => i === 0 || x - (spo2[i - 1] as [number, number])[0] >= 0), 'in time order');
  const unknownBed = await call(s, 'GET', '/api/trends?bed=site1/ward7/nobed', { cookie });
  t.same([unknownBed.status, unknownBed.body], [404, { error: 'unknown-bed' }]);
});

t.test('REQ-WEB-009 HAZ-012 the broker stopped: connected false in the next event within 1 s, the bed silent within --silent-bed-ms + 1 s', async (t) => {
  const w = await sharedWard();
  const s = w.station;
  const { cookie } = await signIn(s, 'nurse-a', PASSWORD_A);
  const events = await openEvents(s, cookie);
  t.teardown(() => events.close());
  await until('a connected event', () => events.wards().some((e) => e.connected && e.beds.some((b) => b.bed === BED && !b.silent)));
  await w.broker.pause();
  const stoppedAt = Date.now();
  const lost = await until('connected false', () => events.wards().find((e) => e.atMs >= stoppedAt && !e.connected), 5000);
  t.ok(lost.atMs - stoppedAt <= 1000, `the station's broker loss in an event ${lost.atMs - stoppedAt} ms after the broker stopped`);
  const silent = await until('the bed silent', () => events.wards().find((e) => e.atMs >= stoppedAt && e.beds.find((b) => b.bed === BED)?.silent), 6000);
  t.ok(silent.atMs - stoppedAt <= 2000 + 1000, `silent ${silent.atMs - stoppedAt} ms after the last message could arrive (--silent-bed-ms 2000)`);
  await w.broker.resume();
  await until('connected again', () => events.wards().some((e) => e.atMs > stoppedAt && e.connected), 10_000);
});

t.test('REQ-WEB-002 REQ-WEB-007 an expired session gets 401 session-expired, and its event stream (one event a second without news) ends with session-expired', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const users = join(mkdtempSync(join(tmpdir(), 'vigil-web-ttl-')), 'users.json');
  await addUser(users, 'nurse-a', PASSWORD_A, 'site1/ward7/*');
  const s = await startServe(t, ['--url', broker.url, '--users', users, '--listen', '127.0.0.1:0', '--insecure-http', '--session-ttl-ms', '2000']);
  const { cookie, csrf, reply } = await signIn(s, 'nurse-a', PASSWORD_A);
  t.ok(Math.abs((reply.body.expiresAtMs as number) - (Date.now() + 2000)) < 1000, 'expiresAtMs: sign-in + TTL');
  const events = await openEvents(s, cookie);
  t.teardown(() => events.close());
  t.equal((await call(s, 'GET', '/api/session', { cookie })).status, 200, 'valid at first');
  await sleep(2300);
  // No gateway on this broker: no news, so these are the periodic events alone.
  const ticks = events.wards().map((e) => e.atMs);
  const gaps = ticks.slice(1).map((x, i) => x - (ticks[i] as number));
  t.ok(ticks.length >= 3, `${ticks.length} ward events in 2.3 s without news (one at once, then one a second)`);
  t.ok(Math.max(...gaps) <= 1100, `at least one a second (largest gap ${Math.max(...gaps)} ms)`);
  const r = await call(s, 'GET', '/api/session', { cookie });
  t.same([r.status, r.body], [401, { error: 'session-expired' }]);
  const post = await call(s, 'POST', '/api/command', { cookie, csrf, json: { bed: BED, action: { kind: 'ack', alarmId: 'x' } } });
  t.same([post.status, post.body], [401, { error: 'session-expired' }], 'a command too');
  const ended = await until('session-expired on the stream', () => events.events.find((e) => e.event === 'session-expired'), 3000);
  t.same(JSON.parse(ended.data), { error: 'session-expired' });
  const again = await signIn(s, 'nurse-a', PASSWORD_A);
  t.equal(again.reply.status, 200, 'signing in again gives a new session');
});

t.test('REQ-WEB-012 HTTPS with the web certificate and mutual TLS to the broker; --insecure-http is refused off loopback', async (t) => {
  const pki = createPki(['gw-test', ...Object.values(STATIONS)]);
  t.teardown(() => pki.remove());
  const gateway = { gatewayId: 'gw-test', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
  const broker = await startBroker({ tls: { caFile: pki.caFile, ...pki.broker, acl: vigilAcl([gateway], Object.values(STATIONS)) } });
  t.teardown(() => broker.stop());
  const users = join(mkdtempSync(join(tmpdir(), 'vigil-web-tls-')), 'users.json');
  await addUser(users, 'nurse-a', PASSWORD_A, 'site1/ward7/*');
  const tls = pki.clientTls(STATIONS.view);
  // The broker's certificate (subjectAltName 127.0.0.1) stands in for the station's web certificate.
  const s = await startServe(
    t,
    ['--url', broker.url, '--ca-file', tls.caFile, '--cert-file', tls.certFile, '--key-file', tls.keyFile, '--station-id', STATIONS.view,
      '--users', users, '--listen', '127.0.0.1:0', '--tls-cert', pki.broker.certFile, '--tls-key', pki.broker.keyFile],
    readFileSync(pki.caFile),
  );
  t.match(s.base, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  const { cookie, reply } = await signIn(s, 'nurse-a', PASSWORD_A);
  t.equal(reply.status, 200);
  t.match(reply.headers['set-cookie']?.[0], /; Secure/, 'the cookie is Secure over HTTPS');
  const events = await openEvents(s, cookie);
  t.teardown(() => events.close());
  const gw = await connectLink(broker.url, { tls: pki.clientTls('gw-test') });
  t.teardown(() => gw.end(true));
  const status = { online: true, interfaces: [], counters: [], startedWallMs: Date.now(), heartbeatIntervalMs: 5000, softwareVersion: 'test', reason: '' };
  await gw.publish('vigil/v1/site1/ward7/bed12/status', encodeEnvelope({ schemaVersion: 1, gatewayId: 'gw-test', siteId: 'site1', wardId: 'ward7', bedId: 'bed12', messageId: 'tls-1', sequence: 0, bootId: 'b', sentWallMs: Date.now(), status }), { qos: 1, retain: false });
  const seen = await until('bed12 over HTTPS', () => events.wards().find((e) => e.connected && e.beds.some((b) => b.bed === BED && b.gateway === 'online')));
  t.ok(seen, 'the ward over HTTPS, from the broker over mutual TLS');
  const refused = spawn(process.execPath, [VIGIL_CLI, 'station', 'serve', '--url', broker.url, '--users', users, '--listen', '0.0.0.0:0', '--insecure-http'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  refused.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  t.equal(await exitOf(refused), 2, '--insecure-http on 0.0.0.0 exits 2');
  t.match(stderr, /loopback/);
});
