/**
 * `make run` (test/support/run-local.ts, what the target runs once built) with the ward board: the
 * printed URL and demo credentials sign in, and the board's events carry every simulated bed with
 * current values; a SIGTERM stops everything. Real processes throughout: Mosquitto over mutual TLS,
 * hw-sim's devices on pseudo-terminals, three agents, the console station and `vigil station serve`.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { exitOf, ROOT } from '../support/processes';
import { until } from '../support/observer';
import type { WardDelta, WardSnapshot } from '../../agent/src/station/web/server';
import { mergeWardEvents } from '../support/ward-events';

/** Polls an async probe every 250 ms until it gives a value; fails naming `what` after `timeoutMs`. */
async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const RUN_LOCAL = join(ROOT, 'dist', 'test', 'support', 'run-local.js');
/** The run's CA is made for the run; the test trusts the board's certificate by that CA's file, not by ignoring errors. */
interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function call(url: string, ca: string, opts: { method?: string; body?: string; headers?: Record<string, string>; maxMs?: number }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: new Agent({ ca }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      res.on('end', done);
      if (opts.maxMs !== undefined) setTimeout(() => { res.destroy(); done(); }, opts.maxMs);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

t.test('REQ-WEB-013 make run prints the board URL and a demo user made for the run; signed in, the board carries three beds with current values; SIGTERM stops it all', async (t) => {
  const run = spawn(process.execPath, [RUN_LOCAL, '--scenario', 'stable'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // SIGTERM: run-local stops every process it started (a SIGKILL would leave them running).
  t.teardown(async () => {
    if (run.exitCode === null && run.signalCode === null) {
      run.kill('SIGTERM');
      await exitOf(run);
    }
  });
  let err = '';
  run.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const line = await until('the board line', () => /ward board (https:\/\/localhost:\d+\/)\s+sign in as "([^"]+)" with password "([^"]+)".*CA (\S+):/.exec(err) ?? undefined, 90_000);
  const [, url, name, password, caFile] = line as unknown as [string, string, string, string, string];
  t.ok(password.length >= 12, 'a password made for the run, not a constant');
  const { readFileSync } = await import('node:fs');
  const ca = readFileSync(caFile, 'utf8');
  const origin = url.replace(/\/$/, '');
  const login = await poll('the board to answer', async () => {
    try {
      return await call(`${url}api/login`, ca, { method: 'POST', body: JSON.stringify({ name, password }), headers: { 'Content-Type': 'application/json', Origin: origin } });
    } catch {
      return undefined;
    }
  }, 60_000);
  t.equal(login.status, 200, 'the printed credentials sign in');
  const cookie = String(login.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
  t.match(cookie, /^vigil_session=/);
  const beds = await poll('three beds with current values', async () => {
    const events = await call(`${url}api/events`, ca, { headers: { Cookie: cookie }, maxMs: 1500 });
    // The first event holds the whole ward, later ones what changed: merged as a browser does.
    const held = mergeWardEvents(events.body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as WardSnapshot | WardDelta)).at(-1);
    const live = (held?.beds ?? []).filter((b) => b.values.some((v) => v.current)).map((b) => b.bed).sort();
    return live.length >= 3 ? live : undefined;
  }, 90_000);
  t.same(beds, ['site1/ward7/bed12', 'site1/ward7/bed13', 'site1/ward7/bed14']);
  const noSession = await call(`${url}api/events`, ca, { maxMs: 1000 });
  t.equal(noSession.status, 401, 'no data without signing in');
  run.kill('SIGTERM');
  t.equal(await exitOf(run), 0, 'make run stops on SIGTERM');
  t.match(err, /vigil: stopped; logs kept in/);
});
