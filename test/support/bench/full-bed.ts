/**
 * One full bed at real time: every bed device whose hw-sim command exists (pulse oximeter
 * `masimo-ascii`, HL7 monitor `hl7-monitor`, sensor patch `vigil-patch`) on real
 * pseudo-terminals, the real agent process reading them, a private Mosquitto, and the bench
 * station subscribed (station.ts, its own process). Each run: start, wait until every
 * interface published a value, 5 s of warm-up, then a window of `--seconds` (>= 60):
 *
 * - agent CPU as a share of one core: utime + stime deltas of /proc/<pid>/stat over the window;
 * - agent peak resident memory: VmHWM of /proc/<pid>/status at the end (the whole run);
 * - event-loop delay p99: the agent's `event-loop-delay-p99-us` status counter, one per
 *   5 s heartbeat window (agent/src/safety/loop-delay.ts); the figure is the median of the
 *   windows inside the measurement window (the worst window is shown beside it);
 * - latency, byte leaving hw-sim -> decoded message at the station: every observation with a
 *   value is joined to the hw-sim frame it came from by device time (bed.ts frameKey: the
 *   pulse oximeter's line time, the monitor's OBX-14 time, the patch's STATUS tick), and the
 *   latency is the station's receive time minus hw-sim's `sentWallMs` (both Date.now() on
 *   this machine: 1 ms resolution);
 * - nothing lost: hw-sim frames dropped, frames lost or rejected by the agent, sequence
 *   numbers missing at the station.
 *
 *   node dist/test/support/bench/full-bed.js [--runs 3] [--seconds 60]
 *
 * Runs are repeated and each figure is the median of the runs.
 */
import { parseArgs } from 'node:util';
import { availableDevices, INTERFACE_OF, matchLatencies, startBed, type BedDevice } from './bed';
import { CpuWindow, LoadSampler, machine, median, peakRssMb, percentile, round, rssMb, sleep, type LoadSummary } from './measure';
import { figure, fmt, loadText, printFigures, table, writeResult, type BenchResult } from './result';
import type { StationRecord } from './station';
import { until } from '../observer';

export const TARGETS = { agentCpuShare: 0.05, agentPeakRssMb: 100, latencyP99Ms: 20 } as const;

export interface FullBedRun {
  devices: BedDevice[];
  windowS: number;
  load: LoadSummary;
  cpuShare: Record<string, number>;
  agentPeakRssMb: number;
  loopDelayP99Ms: { median: number; worst: number; windows: number };
  loopDelayMaxMs: number;
  /** The agent's event loop, busy share (median of the heartbeat windows). */
  loopUtilizationPct: number;
  latency: {
    n: number;
    unmatched: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    byDevice: Record<string, { n: number; p50Ms: number; p99Ms: number }>;
    /** p50 / p99 of the parts: hw-sim -> agent receive stamp, -> envelope built, -> station. */
    parts: Record<'toAgent' | 'inAgent' | 'toStation', { p50Ms: number; p99Ms: number }>;
  };
  /** Agent VmRSS every 5 s of the window, MB. */
  agentRssMb: number[];
  messagesPerSecond: number;
  lost: { hwSimDropped: number; agentFramesLost: number; agentFramesRejected: number; stationMissing: number; duplicates: number; shed: number };
}

function lastStatus(records: readonly StationRecord[]): StationRecord | undefined {
  return [...records].reverse().find((r) => r.k === 'status' && r.online);
}

export async function runFullBedOnce(devices: BedDevice[], windowS: number, log: (s: string) => void = () => undefined): Promise<FullBedRun> {
  const bed = await startBed(devices);
  try {
    const interfaces = devices.map((d) => INTERFACE_OF[d]);
    await until(
      'a value from every interface',
      () => interfaces.every((i) => bed.station.records.some((r) => r.k === 'observation' && r.i === i && r.hv)),
      60_000,
    );
    await sleep(5000);
    const pids: Record<string, number> = {
      agent: bed.agent.process.pid as number,
      mosquitto: bed.broker.process.pid as number,
      station: bed.station.process.pid as number,
    };
    for (const [d, s] of bed.sims) pids[`hw-sim ${d}`] = s.process.pid as number;
    const load = new LoadSampler();
    const t0 = Date.now();
    const cpu = new CpuWindow(pids);
    log(`  measuring ${windowS} s (${devices.join(', ')})`);
    const rss: number[] = [];
    for (let s = 0; s < windowS; s += 5) {
      await sleep(Math.min(5, windowS - s) * 1000);
      rss.push(round(rssMb(pids.agent as number) ?? NaN, 1));
    }
    const shares = cpu.shares();
    const measuredS = cpu.seconds;
    const t1 = Date.now();
    const loadSummary = load.stop();
    const peak = peakRssMb(pids.agent as number) ?? NaN;
    // Let the last messages of the window arrive before stopping.
    await sleep(1000);
    const records = bed.station.records;
    const summary = await bed.stop();

    const inWindow = (ms: number): boolean => ms >= t0 && ms <= t1;
    const heartbeats = records.filter((r) => r.k === 'status' && r.why === 'heartbeat' && r.online);
    // A heartbeat's counters cover the 5 s before it: only windows wholly inside [t0, t1].
    const hbMs = 5000;
    const windows = heartbeats.filter((r) => r.r - hbMs >= t0 - 50 && r.r <= t1 + 50);
    const p99s = windows.map((r) => (r.c?.['event-loop-delay-p99-us'] ?? NaN) / 1000).filter(Number.isFinite);
    const maxes = windows.map((r) => (r.c?.['event-loop-delay-max-us'] ?? NaN) / 1000).filter(Number.isFinite);
    const elus = windows.map((r) => r.c?.['event-loop-utilization-pct'] ?? NaN).filter(Number.isFinite);
    const { samples, unmatched } = matchLatencies(bed.sims, records);
    const windowSamples = samples.filter((s) => inWindow(s.receivedMs));
    const lat = windowSamples.map((s) => s.latencyMs);
    const part = (f: (s: (typeof samples)[number]) => number): { p50Ms: number; p99Ms: number } => {
      const v = windowSamples.map(f).filter(Number.isFinite);
      return { p50Ms: percentile(v, 50), p99Ms: percentile(v, 99) };
    };
    const byDevice: FullBedRun['latency']['byDevice'] = {};
    for (const d of devices) {
      const l = samples.filter((s) => s.device === d && inWindow(s.receivedMs)).map((s) => s.latencyMs);
      byDevice[d] = { n: l.length, p50Ms: percentile(l, 50), p99Ms: percentile(l, 99) };
    }
    const status = lastStatus(records);
    const sumCounters = (prefix: string): number =>
      Object.values(status?.ic ?? {}).reduce((n, c) => n + Object.entries(c).reduce((m, [k, v]) => (k.startsWith(prefix) ? m + v : m), 0), 0);
    const dropped = [...bed.sims.values()].reduce((n, s) => n + s.frames.filter((f) => f.dropped === true).length, 0);
    const messages = records.filter((r) => inWindow(r.r)).length;
    return {
      devices,
      windowS: round(measuredS, 1),
      load: loadSummary,
      cpuShare: Object.fromEntries(Object.entries(shares).map(([k, v]) => [k, round(v, 4)])),
      agentPeakRssMb: round(peak, 1),
      loopDelayP99Ms: { median: round(median(p99s), 2), worst: round(Math.max(...p99s), 2), windows: p99s.length },
      loopDelayMaxMs: round(Math.max(...maxes), 1),
      loopUtilizationPct: median(elus),
      latency: {
        n: lat.length,
        unmatched,
        p50Ms: percentile(lat, 50),
        p99Ms: percentile(lat, 99),
        maxMs: Math.max(...lat),
        byDevice,
        parts: { toAgent: part((s) => s.toAgentMs), inAgent: part((s) => s.inAgentMs), toStation: part((s) => s.toStationMs) },
      },
      agentRssMb: rss,
      messagesPerSecond: round(messages / ((t1 - t0) / 1000), 1),
      lost: {
        hwSimDropped: dropped,
        agentFramesLost: sumCounters('frames-lost'),
        agentFramesRejected: sumCounters('frames-rejected'),
        stationMissing: summary.runs.reduce((n, r) => n + r.missing, 0),
        duplicates: summary.duplicates,
        shed: Object.entries(status?.c ?? {}).reduce((n, [k, v]) => (k.startsWith('shed.') ? n + v : n), 0),
      },
    };
  } catch (err) {
    await bed.stop().catch(() => undefined);
    throw err;
  }
}

export async function runFullBed(o: { runs: number; seconds: number; log?: (s: string) => void }): Promise<BenchResult> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const devices = availableDevices();
  if (devices.length === 0) throw new Error('no hw-sim bed device found: build first');
  const started = Date.now();
  const runs: FullBedRun[] = [];
  for (let i = 0; i < o.runs; i += 1) {
    log(`full bed: run ${i + 1} of ${o.runs}`);
    runs.push(await runFullBedOnce(devices, o.seconds, log));
  }
  const med = (f: (r: FullBedRun) => number): number => median(runs.map(f));
  const load: LoadSummary = {
    min: Math.min(...runs.map((r) => r.load.min)),
    max: Math.max(...runs.map((r) => r.load.max)),
    median: med((r) => r.load.median),
  };
  const cpuPercent = med((r) => (r.cpuShare.agent ?? NaN) * 100);
  const figures = [
    figure('Full bed: agent CPU (share of one core)', cpuPercent, '%', load, { op: '<=', value: TARGETS.agentCpuShare * 100 }, 2),
    figure('Full bed: agent peak resident memory', med((r) => r.agentPeakRssMb), 'MB', load, { op: '<=', value: TARGETS.agentPeakRssMb }, 1),
    figure('Full bed: event-loop delay p99 (5 s windows, median)', med((r) => r.loopDelayP99Ms.median), 'ms', load, undefined, 2),
    figure('Full bed: latency hw-sim -> station p50', med((r) => r.latency.p50Ms), 'ms', load, undefined, 0),
    figure('Full bed: latency hw-sim -> station p99', med((r) => r.latency.p99Ms), 'ms', load, { op: '<=', value: TARGETS.latencyP99Ms }, 0),
  ];
  const lostTotal = runs.reduce((n, r) => n + r.lost.hwSimDropped + r.lost.agentFramesLost + r.lost.stationMissing + r.lost.shed, 0);
  const rows = runs.map((r, i) => [
    String(i + 1),
    loadText(r.load),
    fmt(r.windowS, 0),
    fmt((r.cpuShare.agent ?? NaN) * 100, 2),
    fmt(r.agentPeakRssMb, 1),
    `${fmt(r.loopDelayP99Ms.median, 2)} (${fmt(r.loopDelayP99Ms.worst, 2)})`,
    fmt(r.loopUtilizationPct, 0),
    `${fmt(r.latency.p50Ms, 0)} / ${fmt(r.latency.p99Ms, 0)} / ${fmt(r.latency.maxMs, 0)}`,
    String(r.latency.n),
    fmt((r.cpuShare.mosquitto ?? NaN) * 100, 2),
    fmt(r.messagesPerSecond, 1),
    `${r.lost.hwSimDropped} / ${r.lost.agentFramesLost} / ${r.lost.stationMissing} / ${r.lost.shed}`,
  ]);
  const perDevice = runs[runs.length - 1]?.latency.byDevice ?? {};
  const markdown = [
    `Devices: ${devices.map((d) => `\`${d}\``).join(', ')} (every bed device whose hw-sim command exists in this build), each on its own`,
    `pseudo-terminal at real time with the \`stable\` scenario, the real agent process (interfaces`,
    `${devices.map((d) => `\`${INTERFACE_OF[d]}\``).join(', ')}, durable queue on, 5 s heartbeat), a private Mosquitto and the bench station`,
    `(\`test/support/bench/station.ts\`: the station model, its own process). ${o.runs} run${o.runs === 1 ? '' : 's'}; in each, ${o.seconds} s measured after every`,
    'interface published a value and 5 s of warm-up. Figures are medians of the runs.',
    '',
    '- CPU: utime + stime deltas of `/proc/<pid>/stat` over the window, as a share of one core.',
    '- Peak memory: `VmHWM` of `/proc/<pid>/status` at the end of the run (start-up included).',
    '- Event-loop delay: the agent\'s status counters `event-loop-delay-p99-us` / `-max-us` (perf_hooks',
    '  `monitorEventLoopDelay`, 10 ms resolution, one window per heartbeat; `agent/src/safety/loop-delay.ts`);',
    '  the median of the 5 s windows inside the measurement (worst window in brackets).',
    '- Latency: each observation with a value is joined to the hw-sim frame it came from by device time',
    '  (pulse oximeter: the line\'s time; monitor: OBX-14, ms; patch: the tick of the STATUS frame that closes',
    '  the device second), and measured from hw-sim\'s `sentWallMs` (just after the bytes went to socat) to',
    '  the station\'s receipt (before decoding), both `Date.now()` on this machine (1 ms resolution). A patch',
    '  second\'s values leave with its STATUS frame, so their latency includes no batching wait.',
    '- Lost: hw-sim frames dropped (pty backlog full) / frames lost by the agent (sequence gaps) /',
    '  sequence numbers missing at the station / messages shed by the agent (load shedding).',
    '',
    table(
      ['run', 'load avg', 'window s', 'agent CPU %', 'agent peak MB', 'loop delay p99 ms (worst)', 'loop busy %', 'latency p50 / p99 / max ms', 'latency samples', 'mosquitto CPU %', 'msgs/s at station', 'lost'],
      rows,
      ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `Latency by device (last run): ${Object.entries(perDevice)
      .map(([d, v]) => `${d} p50 ${fmt(v.p50Ms, 0)} ms, p99 ${fmt(v.p99Ms, 0)} ms (${v.n} values)`)
      .join('; ')}. Nothing lost: ${lostTotal === 0 ? 'yes, in every run' : `NO (${lostTotal} in total)`}.`,
  ].join('\n');
  return {
    name: 'full-bed',
    title: 'One full bed at real time',
    measuredAt: new Date(started).toISOString(),
    machine: machine(),
    command: `node dist/test/support/bench/full-bed.js --runs ${o.runs} --seconds ${o.seconds}`,
    seconds: round((Date.now() - started) / 1000, 0),
    figures,
    markdown,
    details: { devices, runs },
  };
}

if (require.main === module) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, seconds: { type: 'string', default: '60' } } });
  const runs = Number(values.runs);
  const seconds = Number(values.seconds);
  if (!Number.isInteger(runs) || runs < 1 || !(seconds >= 10)) {
    process.stderr.write('usage: full-bed [--runs N>=1] [--seconds S>=10]\n');
    process.exit(2);
  }
  runFullBed({ runs, seconds }).then(
    (result) => {
      writeResult(result);
      printFigures(result);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`full-bed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
