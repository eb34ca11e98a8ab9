/**
 * Start-up: from the agent process's start to READY (sd_notify, as systemd's Type=notify sees
 * it) and to the first published observation at the station. Each run starts a fresh bed
 * (bed.ts: every bed device whose hw-sim command exists, Mosquitto, the bench station, a
 * notification socket), then spawns the agent with NOTIFY_SOCKET set, as the unit does:
 *
 * - start: Date.now() just before spawn() (Node's own start-up is included);
 * - READY: the time a Unix datagram socket (a few lines of Python, as in
 *   test/support/notify-listener.ts) received `READY=1`, stamped by the listener itself;
 * - first observation: the station's receipt of the first observation with a value.
 *
 *   node dist/test/support/bench/startup.js [--runs 5]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { until } from '../observer';
import { availableDevices, startBed, type BedDevice } from './bed';
import { LoadSampler, machine, median, round, type LoadSummary } from './measure';
import { figure, fmt, loadText, printFigures, table, writeResult, type BenchResult } from './result';

export const TARGET_READY_MS = 2000;

const LISTENER = `
import socket, sys, json, time
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print(json.dumps({"listening": path}), flush=True)
while True:
    data = s.recv(4096)
    print(json.dumps({"t": time.time() * 1000, "datagram": data.decode("utf-8", "replace")}), flush=True)
`;

interface Listener {
  socketPath: string;
  datagrams: Array<{ t: number; datagram: string }>;
  stop(): void;
}

function startListener(): Promise<Listener> {
  const socketPath = join(mkdtempSync(join(tmpdir(), 'vigil-bench-notify-')), 'notify.sock');
  const child = spawn('python3', ['-c', LISTENER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const datagrams: Listener['datagrams'] = [];
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { listening?: string; t?: number; datagram?: string };
      if (msg.listening) resolve({ socketPath, datagrams, stop: () => child.kill('SIGKILL') });
      else if (msg.datagram !== undefined && msg.t !== undefined) datagrams.push({ t: msg.t, datagram: msg.datagram });
    });
  });
}

export interface StartupRun {
  readyMs: number;
  firstObservationMs: number;
  firstObservationInterface: string;
  load: LoadSummary;
}

export async function runStartupOnce(devices: BedDevice[]): Promise<StartupRun> {
  const listener = await startListener();
  const load = new LoadSampler(1000);
  const bed = await startBed(devices, {}, { NOTIFY_SOCKET: listener.socketPath });
  try {
    const ready = await until('READY=1', () => listener.datagrams.find((d) => d.datagram.split('\n').includes('READY=1')), 30_000);
    const first = await until('the first observation', () => bed.station.records.find((r) => r.k === 'observation' && r.hv), 30_000);
    return {
      readyMs: round(ready.t - bed.agentSpawnWallMs, 0),
      firstObservationMs: first.r - bed.agentSpawnWallMs,
      firstObservationInterface: first.i ?? '',
      load: load.stop(),
    };
  } finally {
    listener.stop();
    await bed.stop();
  }
}

export async function runStartup(o: { runs: number; log?: (s: string) => void }): Promise<BenchResult> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const started = Date.now();
  const devices = availableDevices();
  const runs: StartupRun[] = [];
  for (let i = 0; i < o.runs; i += 1) {
    log(`start-up: run ${i + 1} of ${o.runs}`);
    runs.push(await runStartupOnce(devices));
  }
  const load: LoadSummary = {
    min: Math.min(...runs.map((r) => r.load.min)),
    max: Math.max(...runs.map((r) => r.load.max)),
    median: median(runs.map((r) => r.load.median)),
  };
  const figures = [
    figure('Start-up: process start -> READY (sd_notify)', median(runs.map((r) => r.readyMs)), 'ms', load, { op: '<=', value: TARGET_READY_MS }, 0),
    figure('Start-up: process start -> first observation at the station', median(runs.map((r) => r.firstObservationMs)), 'ms', load, undefined, 0),
  ];
  const markdown = [
    `A fresh bed for each of ${o.runs} runs (${devices.map((d) => `\`${d}\``).join(', ')} on hw-sim pseudo-terminals, Mosquitto, the bench station),`,
    'then the agent process is spawned with `NOTIFY_SOCKET` set, as systemd\'s `Type=notify` unit does, and with the unit\'s',
    'Node.js flags. Start: `Date.now()` just before `spawn()` (Node.js\'s own start-up and module loading included). READY:',
    'when a Unix datagram socket (Python, stamping the time itself) received `READY=1`. First observation: the station\'s',
    'receipt of the first observation with a value (the pulse oximeter and the monitor send as soon as the port opens;',
    'the patch after its first device second).',
    '',
    table(
      ['run', 'load avg', 'start -> READY ms', 'start -> first observation ms', 'first from'],
      runs.map((r, i) => [String(i + 1), loadText(r.load), fmt(r.readyMs, 0), fmt(r.firstObservationMs, 0), r.firstObservationInterface]),
      ['r', 'l', 'r', 'r', 'l'],
    ),
  ].join('\n');
  return {
    name: 'startup',
    title: 'Start-up',
    measuredAt: new Date(started).toISOString(),
    machine: machine(),
    command: `node dist/test/support/bench/startup.js --runs ${o.runs}`,
    seconds: round((Date.now() - started) / 1000, 0),
    figures,
    markdown,
    details: { devices, runs },
  };
}

if (require.main === module) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    process.stderr.write('usage: startup [--runs N>=1]\n');
    process.exit(2);
  }
  runStartup({ runs }).then(
    (result) => {
      writeResult(result);
      printFigures(result);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`startup: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
