/**
 * hw-sim on a real pseudo-terminal (socat), read through serialport exactly as the agent reads
 * a device: the built CLI is spawned, its first stdout line is the port to open.
 *
 * Needs socat (`make deps`); without it these tests fail, they are not skipped.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { SerialPort } from 'serialport';
import { EOF_AWARE_BINDING } from '../../agent/src/io/serial';
import { DelimiterParser } from '@serialport/parser-delimiter';
import { decodeMasimoAscii, type DecodeResult } from '../../agent/src/drivers/masimo-ascii/protocol';
import { openPty, PtyError } from '../../hw-sim/src/pty';
import { parseArgs } from '../../hw-sim/src/args';
import { startSimulator } from '../../hw-sim/src/simulator';

/** The part of a tap test the helpers need. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

const CLI = resolve(__dirname, '../../hw-sim/src/cli.js');
const START = ['--start-time', '2026-01-01T10:00:00'];

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        ok(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        fail(err);
      },
    );
  });
}

interface Sim {
  child: ChildProcessWithoutNullStreams;
  stdoutLines: Promise<string[]>;
  events: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderrText(): string;
}

/** Spawns the built CLI; the child is killed at teardown whatever happens. */
function spawnSim(t: Teardown, args: string[], stdoutLineCount = 1): Sim {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  // SIGTERM lets hw-sim close its pty; SIGKILL only if it does not end (socat then follows it,
  // through setpriv's parent-death signal).
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const ended = new Promise<void>((ok) => child.once('exit', () => ok()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await ended;
    clearTimeout(timer);
  });
  let stdout = '';
  let stderr = '';
  const events: Array<Record<string, unknown>> = [];
  const stdoutLines = new Promise<string[]>((ok, fail) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const lines = stdout.split('\n');
      if (lines.length > stdoutLineCount) ok(lines.slice(0, stdoutLineCount));
    });
    child.on('exit', () => fail(new Error(`hw-sim exited before printing ${stdoutLineCount} line(s): ${stderr}`)));
  });
  stdoutLines.catch(() => undefined);
  child.stderr.setEncoding('utf8');
  let partial = '';
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{')) events.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) => {
    child.on('exit', (code, signal) => ok({ code, signal }));
  });
  return { child, stdoutLines, events, exited, stderrText: () => stderr };
}

type BindingInterface = typeof SerialPort.binding;
/**
 * The agent's own EOF-aware binding (agent/src/io/serial.ts): a 0-byte read is a disconnect
 * (serialport/bindings-cpp issue #162), so the 'close' checks below test hw-sim's unplug, not
 * the stock binding's race.
 */
const eofAwareBinding: BindingInterface = EOF_AWARE_BINDING;

interface OpenedPort {
  port: SerialPort;
  lines: Buffer[];
  waitForLines(n: number, ms: number): Promise<Buffer[]>;
  closed: Promise<(Error & { disconnected?: boolean }) | null>;
}

async function openPort(t: Teardown, path: string, binding?: BindingInterface): Promise<OpenedPort> {
  const port = new SerialPort({ path, baudRate: 9600, autoOpen: false, ...(binding === undefined ? {} : { binding }) });
  port.on('error', () => undefined);
  const parser = port.pipe(new DelimiterParser({ delimiter: '\r\n' }));
  const lines: Buffer[] = [];
  const waiters: Array<() => void> = [];
  parser.on('data', (line: Buffer) => {
    lines.push(line);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<(Error & { disconnected?: boolean }) | null>((ok) => port.once('close', ok));
  await new Promise<void>((ok, fail) => port.open((err) => (err ? fail(err) : ok())));
  t.teardown(() => {
    if (port.isOpen) port.close();
  });
  const waitForLines = (n: number, ms: number): Promise<Buffer[]> =>
    withTimeout(
      new Promise<Buffer[]>((ok) => {
        const check = (): void => {
          if (lines.length >= n) ok(lines.slice(0, n));
          else waiters.push(check);
        };
        check();
      }),
      ms,
      `${n} lines`,
    );
  return { port, lines, waitForLines, closed };
}

const summary = (r: DecodeResult): string => (r.ok ? 'ok' : r.reason);

t.test('REQ-HWSIM-001 the CLI prints the pty path, then streams frames that decode', async (t) => {
  const link = join(tmpdir(), `vigil-hwsim-test-${process.pid}`);
  const sim = spawnSim(t, ['masimo-ascii', '--period-ms', '50', '--frames', '5', '--link', link, '--seed', '3', ...START], 2);
  const [path, linkLine] = await withTimeout(sim.stdoutLines, 5000, 'the pty path');
  t.match(path, /^\/dev\/pts\/\d+$/, 'first line: just the path');
  t.equal(linkLine, `link ${link}`, 'second line: the link');
  t.equal(realpathSync(link), path, 'the link points to the pty');
  const opened = await openPort(t, path as string);
  const lines = await opened.waitForLines(5, 5000);
  const results = lines.map((line) => decodeMasimoAscii(line));
  t.same(results.map(summary), ['ok', 'ok', 'ok', 'ok', 'ok'], '5 frames decode');
  await withTimeout(
    (async () => {
      while (sim.events.filter((e) => e['event'] === 'frame').length < 5) await new Promise((r) => setTimeout(r, 10));
    })(),
    2000,
    'the ground-truth events',
  );
  const truth = sim.events.filter((e) => e['event'] === 'frame');
  t.same(
    results.map((r) => (r.ok ? [r.frame.spo2Percent, r.frame.pulseBpm] : null)),
    truth.map((e) => [e['spo2Percent'], e['pulseBpm']]),
    'the decoded values are the ground truth printed on stderr',
  );
  t.same(truth.map((e) => e['index']), [0, 1, 2, 3, 4]);
  t.ok(truth.every((e) => e['device'] === 'masimo-ascii' && e['injected'] === null && typeof e['sentWallMs'] === 'number'));
  const firstTime = results[0]?.ok ? results[0].frame.deviceTime : null;
  t.same(firstTime, { year: 2026, month: 1, day: 1, hour: 10, minute: 0, second: 0 }, '--start-time is the device clock of frame 0');
  // Drift-free pacing: frame n is scheduled at start + n * 50 ms (sentWallMs - lateMs), never
  // early. The tolerance is the resolution of the clocks: Date.now() is truncated to 1 ms at
  // each end, lateMs is rounded to 0.1 ms.
  const scheduled = truth.map((e) => (e['sentWallMs'] as number) - (e['lateMs'] as number));
  t.ok(truth.every((e) => (e['lateMs'] as number) >= 0), `no frame is sent early (lateMs ${truth.map((e) => e['lateMs']).join(', ')})`);
  t.ok(
    scheduled.every((at, n) => Math.abs(at - scheduled[0]! - n * 50) <= 2.2),
    `frames scheduled every 50 ms from the start (${scheduled.map((at) => Math.round(at - scheduled[0]!)).join(', ')})`,
  );
  t.ok(sim.events.findIndex((e) => e['event'] === 'port-opened') < sim.events.findIndex((e) => e['event'] === 'frame'), 'frames start once the port is open');
});

t.test('REQ-HWSIM-001 killing hw-sim unplugs: the open port emits close', async (t) => {
  const link = join(tmpdir(), `vigil-hwsim-unplug-${process.pid}`);
  const sim = spawnSim(t, ['masimo-ascii', '--period-ms', '50', '--frames', '5', '--link', link, ...START]);
  const [path] = await withTimeout(sim.stdoutLines, 5000, 'the pty path');
  const opened = await openPort(t, path as string, eofAwareBinding);
  await opened.waitForLines(5, 5000);
  sim.child.kill('SIGTERM');
  const why = await withTimeout(opened.closed, 5000, "the port's close event");
  t.equal(why?.disconnected, true, 'closed as a disconnect, not by us');
  t.same(await withTimeout(sim.exited, 5000, 'hw-sim to exit'), { code: 0, signal: null }, 'SIGTERM: exit 0');
  t.notOk(existsSync(link), 'the link is gone with the pty');
});

t.test('REQ-HWSIM-001 --exit-after-frames closes the pty and exits 0 after N frames', async (t) => {
  const sim = spawnSim(t, ['masimo-ascii', '--period-ms', '20', '--frames', '3', '--exit-after-frames', ...START]);
  const [path] = await withTimeout(sim.stdoutLines, 5000, 'the pty path');
  const opened = await openPort(t, path as string, eofAwareBinding);
  t.same((await opened.waitForLines(3, 5000)).map((l) => summary(decodeMasimoAscii(l))), ['ok', 'ok', 'ok']);
  t.same(await withTimeout(sim.exited, 5000, 'hw-sim to exit'), { code: 0, signal: null });
  t.equal((await withTimeout(opened.closed, 5000, "the port's close event"))?.disconnected, true);
  t.equal(opened.lines.length, 3, 'no more than 3 frames');
});

t.test('REQ-HWSIM-003 injected faults reach the port and are rejected for the intended reason', async (t) => {
  const sim = spawnSim(t, [
    'masimo-ascii', '--period-ms', '30', '--frames', '8', '--inject', 'malformed@1,unknown-field@2,garbage@3,overlong@5', ...START,
  ]);
  const [path] = await withTimeout(sim.stdoutLines, 5000, 'the pty path');
  const opened = await openPort(t, path as string);
  const lines = await opened.waitForLines(8, 5000);
  t.same(
    lines.map((l) => summary(decodeMasimoAscii(l))),
    ['ok', 'malformed', 'unsupported-variant', 'framing', 'ok', 'overflow', 'ok', 'ok'],
    'the overlong run swallows its own line; the next frame decodes',
  );
  t.ok(lines[5]!.length > 4096, 'the overlong line reached the port whole');
  const malformed = decodeMasimoAscii(lines[1]!);
  t.match(malformed.ok ? '' : malformed.detail, /^SPO2: /, 'the malformed frame names SPO2');
  await withTimeout(
    (async () => {
      while (sim.events.filter((e) => e['event'] === 'frame').length < 8) await new Promise((r) => setTimeout(r, 10));
    })(),
    2000,
    'the ground-truth events',
  );
  t.same(
    sim.events.filter((e) => e['event'] === 'frame').map((e) => e['injected']),
    [null, 'malformed', 'unknown-field', 'garbage', null, 'overlong', null, null],
    'the ground truth marks the injected frames',
  );
});

t.test('REQ-HWSIM-001 bad arguments: a clear message and exit 2', async (t) => {
  for (const [args, message] of [
    [['masimo-ascii', '--seed', 'x'], 'hw-sim: --seed must be an integer'],
    [['masimo-ascii', '--inject', 'malformed@-1'], 'hw-sim: --inject index must be a non-negative integer'],
  ] as Array<[string[], string]>) {
    const sim = spawnSim(t, args);
    t.same(await withTimeout(sim.exited, 5000, 'hw-sim to exit'), { code: 2, signal: null }, args.join(' '));
    t.match(sim.stderrText(), message);
  }
});

t.test('REQ-HWSIM-001 without socat: a clear error telling to run make deps', async (t) => {
  await t.rejects(openPty({ socatPath: '/nonexistent/socat' }), { name: 'PtyError', code: 'SOCAT_MISSING', message: /make deps.*apt-get install socat/ });
  t.ok(PtyError.prototype instanceof Error);
});

t.test('REQ-HWSIM-001 in process: frames start at open, bytes from the agent are reported', async (t) => {
  const parsed = parseArgs(['masimo-ascii', '--period-ms', '20', '--frames', '3', ...START]);
  if (!parsed.ok) throw new Error('arguments');
  const frames: number[] = [];
  const received: Buffer[] = [];
  const sim = await startSimulator(parsed.config, {
    onFrame: (e) => frames.push(e.index),
    onReceived: (bytes) => received.push(bytes),
  });
  t.teardown(() => sim.stop());
  await new Promise((r) => setTimeout(r, 150));
  t.same(frames, [], 'nothing is sent before the agent opens the port');
  t.equal(sim.pty.opened, false);
  const opened = await openPort(t, sim.pty.path, eofAwareBinding);
  await withTimeout(sim.finished, 5000, 'the 3 frames');
  t.same(frames, [0, 1, 2]);
  t.equal(sim.pty.opened, true);
  await new Promise<void>((ok, fail) => opened.port.write(Buffer.from('PING\r\n'), (err) => (err ? fail(err) : ok())));
  await withTimeout(
    (async () => {
      while (Buffer.concat(received).length < 6) await new Promise((r) => setTimeout(r, 10));
    })(),
    2000,
    'the bytes written by the agent',
  );
  t.equal(Buffer.concat(received).toString(), 'PING\r\n');
  await sim.stop();
  t.equal((await withTimeout(opened.closed, 5000, "the port's close event"))?.disconnected, true, 'stop() unplugs');
});
