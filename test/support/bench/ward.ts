/**
 * A ward on one broker: 200 simulated gateways (ward-gateways.ts: the agent's own Publisher,
 * AlarmBook and io/mqtt.ts, one MQTT connection each, what a full bed publishes) on one private
 * Mosquitto, and one station subscribed to every bed (station.ts: the station model, its own
 * process). Measured over a window after every gateway connected and 5 s of warm-up:
 *
 * - alarm latency, generation -> station: the alarm envelope's sentWallMs (set by the
 *   Publisher when the change is built) to the station's receipt (before decoding), for every
 *   alarm change (raise, clear) in the window; both Date.now() on this machine (1 ms);
 * - CPU of the broker, the station and the generators (share of one core, /proc/<pid>/stat);
 * - messages received by the station per second, and sequence numbers missing (lost).
 *
 *   node dist/test/support/bench/ward.js [--gateways 200] [--processes 2] [--seconds 60] [--runs 1]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startBroker } from '../broker';
import { exitOf } from '../processes';
import { BENCH_DIR, startStation } from './bed';
import { CpuWindow, LoadSampler, machine, median, peakRssMb, percentile, round, sleep, type LoadSummary } from './measure';
import { figure, fmt, loadText, printFigures, table, writeResult, type BenchResult } from './result';

export const TARGET_ALARM_P99_MS = 100;

export interface WardRun {
  gateways: number;
  windowS: number;
  load: LoadSummary;
  cpuShare: Record<string, number>;
  stationPeakRssMb: number;
  messagesPerSecond: number;
  alarms: { n: number; p50Ms: number; p99Ms: number; maxMs: number };
  lost: { stationMissing: number; publishFailed: number; duplicates: number };
}

export interface Generator {
  process: ChildProcess;
  summary: Promise<{ messages: number; alarmChanges: number; failed: number } | null>;
}

/** One process of simulated gateways (ward-gateways.ts) `first`..`first + count - 1`; resolves once all are connected. */
export function startGenerator(url: string, first: number, count: number): Promise<Generator> {
  const child = spawn(process.execPath, [join(BENCH_DIR, 'ward-gateways.js'), '--url', url, '--first', String(first), '--count', String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let resolveSummary: (s: { messages: number; alarmChanges: number; failed: number } | null) => void = () => undefined;
  const summary = new Promise<{ messages: number; alarmChanges: number; failed: number } | null>((r) => (resolveSummary = r));
  child.once('exit', () => resolveSummary(null));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the ward gateways did not connect within 60 s')), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { connected?: number; summary?: { messages: number; alarmChanges: number; failed: number } };
      if (msg.connected !== undefined) {
        clearTimeout(timer);
        resolve({ process: child, summary });
      } else if (msg.summary) {
        resolveSummary(msg.summary);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ward-gateways exited (${code})`));
    });
  });
}

export async function runWardOnce(gateways: number, processes: number, windowS: number, log: (s: string) => void): Promise<WardRun> {
  const broker = await startBroker();
  const station = await startStation(broker.url, 'alarm');
  const generators: Generator[] = [];
  try {
    const per = Math.ceil(gateways / processes);
    for (let first = 0; first < gateways; first += per) generators.push(await startGenerator(broker.url, first, Math.min(per, gateways - first)));
    await sleep(5000);
    const pids: Record<string, number> = { mosquitto: broker.process.pid as number, station: station.process.pid as number };
    generators.forEach((g, i) => (pids[`generator ${i + 1}`] = g.process.pid as number));
    const load = new LoadSampler();
    const t0 = Date.now();
    const cpu = new CpuWindow(pids);
    log(`  ${gateways} gateways: measuring ${windowS} s`);
    await sleep(windowS * 1000);
    const shares = cpu.shares();
    const measuredS = cpu.seconds;
    const t1 = Date.now();
    const loadSummary = load.stop();
    const stationPeak = peakRssMb(pids.station as number) ?? NaN;
    for (const g of generators) g.process.kill('SIGTERM');
    const sums = await Promise.all(generators.map((g) => g.summary));
    await Promise.all(generators.map((g) => exitOf(g.process)));
    await sleep(1000);
    const counts = station.counts;
    const summary = await station.stop();
    await broker.stop();
    const at = (t: number): number => {
      // Messages received by time t, from the once-a-second counts (nearest at or before t).
      let m = 0;
      for (const c of counts) if (c.t <= t) m = c.messages;
      return m;
    };
    const changes = station.records.filter((r) => r.k === 'alarm' && r.s > 0 && r.r >= t0 && r.r <= t1);
    const lat = changes.map((r) => r.r - r.sw);
    const cpuShare = Object.fromEntries(Object.entries(shares).map(([k, v]) => [k, round(v, 4)]));
    cpuShare.generators = round(Object.entries(shares).reduce((n, [k, v]) => (k.startsWith('generator') ? n + v : n), 0), 4);
    return {
      gateways,
      windowS: round(measuredS, 1),
      load: loadSummary,
      cpuShare,
      stationPeakRssMb: round(stationPeak, 1),
      messagesPerSecond: round((at(t1) - at(t0)) / ((t1 - t0) / 1000), 0),
      alarms: { n: lat.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: lat.length ? Math.max(...lat) : NaN },
      lost: {
        stationMissing: summary.runs.reduce((n, r) => n + r.missing, 0),
        publishFailed: sums.reduce((n, s) => n + (s?.failed ?? 0), 0),
        duplicates: summary.duplicates,
      },
    };
  } catch (err) {
    for (const g of generators) g.process.kill('SIGKILL');
    await station.stop().catch(() => undefined);
    await broker.stop().catch(() => undefined);
    throw err;
  }
}

export async function runWard(o: { gateways: number; processes: number; seconds: number; runs: number; log?: (s: string) => void }): Promise<BenchResult> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const started = Date.now();
  const runs: WardRun[] = [];
  for (let i = 0; i < o.runs; i += 1) {
    log(`ward: run ${i + 1} of ${o.runs}`);
    runs.push(await runWardOnce(o.gateways, o.processes, o.seconds, log));
  }
  const med = (f: (r: WardRun) => number): number => median(runs.map(f));
  const load: LoadSummary = { min: Math.min(...runs.map((r) => r.load.min)), max: Math.max(...runs.map((r) => r.load.max)), median: med((r) => r.load.median) };
  const figures = [
    figure(`Ward (${o.gateways} gateways): alarm latency p50`, med((r) => r.alarms.p50Ms), 'ms', load, undefined, 0),
    figure(`Ward (${o.gateways} gateways): alarm latency p99`, med((r) => r.alarms.p99Ms), 'ms', load, { op: '<=', value: TARGET_ALARM_P99_MS }, 0),
    figure('Ward: broker CPU (share of one core)', med((r) => (r.cpuShare.mosquitto ?? NaN) * 100), '%', load, undefined, 1),
    figure('Ward: station CPU (share of one core)', med((r) => (r.cpuShare.station ?? NaN) * 100), '%', load, undefined, 1),
  ];
  const rows = runs.map((r, i) => [
    String(i + 1),
    loadText(r.load),
    fmt(r.windowS, 0),
    fmt(r.messagesPerSecond, 0),
    `${fmt(r.alarms.p50Ms, 0)} / ${fmt(r.alarms.p99Ms, 0)} / ${fmt(r.alarms.maxMs, 0)}`,
    String(r.alarms.n),
    fmt((r.cpuShare.mosquitto ?? NaN) * 100, 1),
    fmt((r.cpuShare.station ?? NaN) * 100, 1),
    fmt(r.stationPeakRssMb, 0),
    fmt((r.cpuShare.generators ?? NaN) * 100, 1),
    `${r.lost.stationMissing} / ${r.lost.publishFailed}`,
  ]);
  const markdown = [
    `${o.gateways} simulated gateways (\`test/support/bench/ward-gateways.ts\`, ${o.processes} processes) on one private Mosquitto, one station`,
    'subscribed to `vigil/v1/#` (`test/support/bench/station.ts`: the station model, its own process). Each gateway is',
    'the agent\'s own `Publisher` and `AlarmBook` over its own MQTT connection (`io/mqtt.ts`, MQTT v5, QoS 1, last will),',
    'publishing what a full bed publishes: 13 observations and 3 scores a second, a status heartbeat every 5 s with the',
    're-announcement of active alarms, and a technical alarm raised once every 30 s (seeded time) and cleared 5 s later;',
    'each gateway\'s second has its own seeded phase. No durable queue here (the full-bed figures include it).',
    'Alarm latency: from the alarm envelope\'s `sentWallMs` (set when the Publisher builds the change) to the station\'s',
    `receipt, for every raise and clear in the ${o.seconds} s window; both \`Date.now()\` on this machine (1 ms). The generators,`,
    'the broker and the station share the 2 cores (and the machine with other jobs).',
    '',
    table(
      ['run', 'load avg', 'window s', 'msgs/s at station', 'alarm latency p50 / p99 / max ms', 'alarm changes', 'broker CPU %', 'station CPU %', 'station peak MB', 'generators CPU %', 'lost / failed'],
      rows,
      ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  ].join('\n');
  return {
    name: 'ward',
    title: `A ward on one broker (${o.gateways} gateways)`,
    measuredAt: new Date(started).toISOString(),
    machine: machine(),
    command: `node dist/test/support/bench/ward.js --gateways ${o.gateways} --processes ${o.processes} --seconds ${o.seconds} --runs ${o.runs}`,
    seconds: round((Date.now() - started) / 1000, 0),
    figures,
    markdown,
    details: { runs },
  };
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      gateways: { type: 'string', default: '200' },
      processes: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '60' },
      runs: { type: 'string', default: '1' },
    },
  });
  const gateways = Number(values.gateways);
  const processes = Number(values.processes);
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  if (!Number.isInteger(gateways) || gateways < 1 || !Number.isInteger(processes) || processes < 1 || !(seconds >= 10) || !Number.isInteger(runs) || runs < 1) {
    process.stderr.write('usage: ward [--gateways 200] [--processes 2] [--seconds S>=10] [--runs N]\n');
    process.exit(2);
  }
  runWard({ gateways, processes, seconds, runs }).then(
    (result) => {
      writeResult(result);
      printFigures(result);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`ward: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
