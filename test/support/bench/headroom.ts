/**
 * Headroom: the sensor patch's data rate at N times real time, as N patches at real time
 * (patch-fleet.ts: hw-sim's patch, each on its own pseudo-terminal) read by ONE agent process
 * (N vigil-patch interfaces), a private Mosquitto and the bench station. For each N: the
 * agent's CPU, what the station received, and whether anything was lost:
 *
 * - every device second each patch streamed in the window must reach the station as its six
 *   observations (joined by interface and STATUS tick), none missing;
 * - no hw-sim write dropped (pty backlog full), no frame lost or rejected by the agent, no
 *   sequence number missing at the station, nothing evicted from the durable queue or shed;
 * - every alarm change: each patch has its electrodes off for 2 s every 20 s, and each episode
 *   must reach the station as a `sensor-off` raise;
 * - sustained: observation latency p99 within 2 s, the agent's own bound for a live message
 *   (publish/delivery.ts lateAfterMs: later ones are flagged backfill); a growing backlog is not.
 *
 * Levels 1, 10, 100 patches, then +100 at a time while sustained (up to --max). The highest level
 * sustained with nothing lost is the figure; the first level that is not shows what gives
 * first (the counters that moved, the agent's CPU, the latency).
 *
 *   node dist/test/support/bench/headroom.js [--levels 1,10,100] [--max 300] [--seconds 30]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startBroker } from '../broker';
import { until } from '../observer';
import { exitOf, startAgentProcess } from '../processes';
import { agentNodeOptions } from './agent-flags';
import { BENCH_DIR, startStation, writeBedConfig } from './bed';
import { CpuWindow, LoadSampler, machine, median, peakRssMb, percentile, round, sleep, type LoadSummary } from './measure';
import type { FleetSecond } from './patch-fleet';
import { figure, fmt, loadText, printFigures, table, writeResult, type BenchResult } from './result';
import type { StationRecord } from './station';

export const TARGET_MULTIPLE = 100;
const LEADS_OFF_EVERY_S = 20;
const SUSTAINED_LATENCY_P99_MS = 2000;
const OBS_PER_SECOND = 6;

export interface HeadroomLevel {
  patches: number;
  windowS: number;
  load: LoadSummary;
  cpuShare: Record<string, number>;
  agentPeakRssMb: number;
  loopDelayP99Ms: number;
  /** The agent's event loop, busy share (median of the heartbeat windows in the measurement). */
  loopUtilizationPct: number;
  messagesPerSecond: number;
  latency: { n: number; p50Ms: number; p99Ms: number; maxMs: number };
  seconds: { streamed: number; incomplete: number };
  /** Electrode-off episodes started in the window, raised at the station, and the raise latency (STATUS sent -> station). */
  alarms: { episodes: number; raised: number; p50Ms: number; p99Ms: number };
  lost: {
    hwSimDropped: number;
    agentFramesLost: number;
    agentFramesRejected: number;
    queueEvicted: number;
    shed: number;
    publishFailed: number;
    stationMissing: number;
  };
  /** Counters that show where load was shed, by name. */
  shedCounters: Record<string, number>;
  sustained: boolean;
  /** What moved first when not sustained. */
  gave: string[];
  /** The agent's queue was empty after the patches stopped (else `stationMissing` may include messages still queued). */
  drained: boolean;
}

const iface = (p: number): string => `patch${p}`;

export async function runHeadroomLevel(patches: number, windowS: number, log: (s: string) => void): Promise<HeadroomLevel> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-headroom-'));
  const broker = await startBroker();
  const station = await startStation(broker.url, 'all');
  const fleet = spawn(process.execPath, [join(BENCH_DIR, 'patch-fleet.js'), '--patches', String(patches), '--leads-off-every', String(LEADS_OFF_EVERY_S)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const seconds: FleetSecond[] = [];
  const paths = await new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('patch-fleet did not open its ptys within 120 s')), 120_000);
    createInterface({ input: fleet.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { paths?: string[] } & FleetSecond;
      if (msg.paths) {
        clearTimeout(timer);
        resolve(msg.paths);
      } else {
        seconds.push(msg);
      }
    });
    fleet.once('exit', (code) => reject(new Error(`patch-fleet exited (${code})`)));
  });
  const config = writeBedConfig(
    dir,
    broker.url,
    paths.map((path, p) => ({ id: iface(p), driver: 'vigil-patch', path })),
  );
  const agent = startAgentProcess(config, agentNodeOptions());
  const stopAll = async (): Promise<void> => {
    await agent.stop('SIGTERM');
    if (fleet.exitCode === null) fleet.kill('SIGTERM');
    await exitOf(fleet);
  };
  try {
    const records = station.records;
    // Ready when a status shows every patch streaming (under overload values may be shed, but
    // the status, sent directly, still says so).
    let scanned = 0;
    await until(
      `every one of the ${patches} patches streaming`,
      () => {
        for (; scanned < records.length; scanned += 1) {
          const r = records[scanned] as StationRecord;
          if (r.k === 'status' && r.st && Object.values(r.st).filter((s) => s === 'LINK_STATE_STREAMING').length >= patches) return true;
        }
        return false;
      },
      60_000 + patches * 500,
    );
    await sleep(5000);
    const pids = {
      agent: agent.process.pid as number,
      mosquitto: broker.process.pid as number,
      station: station.process.pid as number,
      'patch-fleet': fleet.pid as number,
    };
    const load = new LoadSampler();
    const t0 = Date.now();
    const cpu = new CpuWindow(pids);
    log(`  ${patches} patch(es): measuring ${windowS} s`);
    await sleep(windowS * 1000);
    const shares = cpu.shares();
    const measuredS = cpu.seconds;
    const t1 = Date.now();
    const loadSummary = load.stop();
    const peak = peakRssMb(pids.agent) ?? NaN;
    // Then the patches stop, and the agent is given time to deliver what it queued (a backlog
    // is latency, not loss): until a status says its durable queue is empty (60 s at most).
    await sleep(2000);
    if (fleet.exitCode === null) fleet.kill('SIGTERM');
    await exitOf(fleet);
    const stoppedMs = Date.now();
    const drained = await until(
      'the agent\'s queue to drain',
      () => records.some((r) => r.k === 'status' && r.r > stoppedMs && r.c?.['queue-depth'] === 0),
      60_000,
    ).then(
      () => true,
      () => false,
    );
    const summary = await (async () => {
      await stopAll();
      const s = await station.stop();
      await broker.stop();
      return s;
    })();

    // Device seconds streamed in the window, and what reached the station for each.
    const inWindow = seconds.filter((s) => s.streaming && s.sent >= t0 && s.sent <= t1);
    const got = new Map<string, { n: number; firstMs: number }>();
    for (const r of records) {
      if (r.k !== 'observation' || !r.dtt || r.bf) continue;
      const key = `${r.i}|${r.dtt}`;
      const g = got.get(key);
      if (g) g.n += 1;
      else got.set(key, { n: 1, firstMs: r.r });
    }
    const latencies: number[] = [];
    let incomplete = 0;
    for (const s of inWindow) {
      const g = got.get(`${iface(s.p)}|tick=${s.tick}`);
      if (!g || g.n < OBS_PER_SECOND) incomplete += 1;
      if (g) latencies.push(g.firstMs - s.sent);
    }
    // Alarm episodes: electrodes off from one second to the next, started in the window.
    let episodes = 0;
    let raised = 0;
    const alarmLatencies: number[] = [];
    for (let p = 0; p < patches; p += 1) {
      const mine = seconds.filter((s) => s.p === p && s.streaming);
      const starts: number[] = [];
      for (let k = 1; k < mine.length; k += 1) {
        const prev = mine[k - 1] as FleetSecond;
        const cur = mine[k] as FleetSecond;
        if (cur.leadOff && !prev.leadOff && cur.sent >= t0 && cur.sent <= t1) starts.push(cur.sent);
      }
      episodes += starts.length;
      const raises = records.filter((r) => r.k === 'alarm' && r.s > 0 && r.a === `${iface(p)}.sensor-off` && r.state === 'ALARM_STATE_ACTIVE');
      for (const t of starts) {
        const r = raises.find((a) => a.r >= t - 1500 && a.r <= t + 60_000);
        if (!r) continue;
        raised += 1;
        alarmLatencies.push(r.r - t);
      }
    }
    // Counters moved over the window: the last status before it against the last one before
    // the patches were stopped (every counter the agent publishes is cumulative).
    const flat = (r: StationRecord | undefined): Map<string, number> => {
      const m = new Map<string, number>();
      for (const [k, v] of Object.entries(r?.c ?? {})) m.set(`gateway:${k}`, v);
      for (const c of Object.values(r?.ic ?? {})) for (const [k, v] of Object.entries(c)) m.set(`interface:${k}`, (m.get(`interface:${k}`) ?? 0) + v);
      return m;
    };
    const statusAt = (t: number): StationRecord | undefined => [...records].reverse().find((r) => r.k === 'status' && r.online && r.r <= t);
    const before = flat(statusAt(t0));
    const after = flat(statusAt(stoppedMs));
    /** How much the counters named `scope:prefix...` moved (gateway counters, or the sum over interfaces). */
    const moved = (prefix: string): number => [...after].reduce((n, [k, v]) => (k.startsWith(prefix) ? n + v - (before.get(k) ?? 0) : n), 0);
    const shedCounters = Object.fromEntries(
      ['extra', 'vital', 'score', 'alarm'].map((c) => [`shed.${c}`, moved(`gateway:shed.${c}`)] as const).filter(([, v]) => v > 0),
    );
    const heartbeats = records.filter((r) => r.k === 'status' && r.why === 'heartbeat' && r.r - 5000 >= t0 - 50 && r.r <= t1 + 50);
    const p99s = heartbeats.map((r) => (r.c?.['event-loop-delay-p99-us'] ?? NaN) / 1000).filter(Number.isFinite);
    const elus = heartbeats.map((r) => r.c?.['event-loop-utilization-pct'] ?? NaN).filter(Number.isFinite);
    const lost: HeadroomLevel['lost'] = {
      hwSimDropped: inWindow.filter((s) => s.dropped).length + seconds.filter((s) => s.dropped && s.sent >= t0 && s.sent <= t1 && !s.streaming).length,
      agentFramesLost: moved('interface:frames-lost'),
      agentFramesRejected: moved('interface:frames-rejected'),
      queueEvicted: moved('gateway:queue-evicted') + moved('gateway:queue-refused'),
      shed: Object.values(shedCounters).reduce((a, b) => a + b, 0),
      publishFailed: moved('gateway:publish-failed'),
      stationMissing: summary.runs.reduce((n, r) => n + r.missing, 0),
    };
    const latency = { n: latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: latencies.length ? Math.max(...latencies) : NaN };
    const gave: string[] = [];
    if (incomplete > 0) gave.push(`${incomplete} device seconds incomplete at the station`);
    for (const [k, v] of Object.entries(lost)) if (v > 0 && k !== 'shed') gave.push(`${k} ${v}`);
    for (const cls of ['extra', 'vital', 'score', 'alarm']) {
      const v = shedCounters[`shed.${cls}`];
      if (v) gave.push(`shed ${v} ${cls === 'extra' ? 'extras' : `${cls}s`}`);
    }
    if (raised < episodes) gave.push(`alarms: ${episodes - raised} of ${episodes} episodes not raised`);
    if (!(latency.p99Ms <= SUSTAINED_LATENCY_P99_MS)) gave.push(`latency p99 ${fmt(latency.p99Ms, 0)} ms > ${SUSTAINED_LATENCY_P99_MS} ms (backlog)`);
    if (median(elus) >= 85) gave.push(`the agent's event loop ${fmt(median(elus), 0)} % busy`);
    const sustained = incomplete === 0 && raised === episodes && Object.values(lost).every((v) => v === 0) && latency.p99Ms <= SUSTAINED_LATENCY_P99_MS && inWindow.length > 0;
    return {
      patches,
      windowS: round(measuredS, 1),
      load: loadSummary,
      cpuShare: Object.fromEntries(Object.entries(shares).map(([k, v]) => [k, round(v, 4)])),
      agentPeakRssMb: round(peak, 1),
      loopDelayP99Ms: round(median(p99s), 2),
      loopUtilizationPct: median(elus),
      messagesPerSecond: round(records.filter((r) => r.r >= t0 && r.r <= t1).length / ((t1 - t0) / 1000), 1),
      latency,
      seconds: { streamed: inWindow.length, incomplete },
      alarms: { episodes, raised, p50Ms: percentile(alarmLatencies, 50), p99Ms: percentile(alarmLatencies, 99) },
      lost,
      shedCounters,
      sustained,
      gave,
      drained,
    };
  } catch (err) {
    await stopAll().catch(() => undefined);
    await station.stop().catch(() => undefined);
    await broker.stop().catch(() => undefined);
    throw err;
  }
}

/** The first level that was not sustained, in words: how the agent shed, and whether alarms and data got through. */
export function shedNarrative(l: HeadroomLevel): string {
  const shed = (cls: string): number => l.shedCounters[`shed.${cls}`] ?? 0;
  const transit = l.lost.stationMissing + l.lost.agentFramesLost + l.lost.hwSimDropped + l.lost.queueEvicted;
  const order =
    shed('extra') + shed('vital') + shed('score') === 0
      ? 'it shed nothing'
      : `it shed ${fmt(shed('extra'), 0)} extras, ${fmt(shed('vital'), 0)} vitals and ${fmt(shed('score'), 0)} scores (load shedding, in the stated order: ` +
        'extras first, then vitals and scores)';
  return [
    `At ${l.patches} x the agent's event loop was ${fmt(l.loopUtilizationPct, 0)} % busy (whole process ${fmt((l.cpuShare.agent ?? NaN) * 100, 0)} % of a core, loop delay p99`,
    `${fmt(l.loopDelayP99Ms, 0)} ms): ${order}; alarms: ${l.alarms.raised} of ${l.alarms.episodes} electrode-off episodes raised at the station`,
    `(latency p99 ${fmt(l.alarms.p99Ms, 0)} ms), ${shed('alarm') === 0 ? 'none shed' : `${shed('alarm')} SHED`}; in transit (frames, queue, sequence numbers at the station):`,
    `${transit === 0 ? 'nothing lost' : `${transit} lost`}${l.drained ? '' : ' (the queue had not drained when counted)'}; observation latency p50 / p99 ${fmt(l.latency.p50Ms, 0)} / ${fmt(l.latency.p99Ms, 0)} ms.`,
  ].join('\n');
}

export async function runHeadroom(o: { levels: number[]; max: number; seconds: number; log?: (s: string) => void }): Promise<BenchResult> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const started = Date.now();
  const levels: HeadroomLevel[] = [];
  const queue = [...o.levels];
  while (queue.length > 0) {
    const n = queue.shift() as number;
    log(`headroom: ${n} patch(es)`);
    const level = await runHeadroomLevel(n, o.seconds, log);
    levels.push(level);
    log(`  ${level.sustained ? 'sustained' : `NOT sustained: ${level.gave.join('; ')}`} (agent CPU ${fmt((level.cpuShare.agent ?? 0) * 100, 1)} %)`);
    // Beyond the listed levels: +100 patches at a time while sustained, up to --max.
    const next = n < 100 ? n * 10 : n + 100;
    if (queue.length === 0 && level.sustained && next <= o.max) queue.push(next);
  }
  const sustained = levels.filter((l) => l.sustained).map((l) => l.patches);
  const best = sustained.length ? Math.max(...sustained) : 0;
  const firstFailure = levels.filter((l) => !l.sustained).sort((a, b) => a.patches - b.patches)[0];
  const loads = levels.map((l) => l.load);
  const load: LoadSummary = { min: Math.min(...loads.map((l) => l.min)), max: Math.max(...loads.map((l) => l.max)), median: median(loads.map((l) => l.median)) };
  const at100 = levels.find((l) => l.patches === 100);
  const figures = [
    figure('Headroom: highest patch data rate sustained, nothing lost', best, 'x real time', load, { op: '>=', value: TARGET_MULTIPLE }, 0),
    ...(at100 ? [figure('Headroom: agent CPU at 100 x (share of one core)', (at100.cpuShare.agent ?? NaN) * 100, '%', at100.load, undefined, 1)] : []),
  ];
  const rows = levels.map((l) => [
    `${l.patches}`,
    loadText(l.load),
    fmt((l.cpuShare.agent ?? NaN) * 100, 1),
    fmt((l.cpuShare.mosquitto ?? NaN) * 100, 1),
    fmt((l.cpuShare['patch-fleet'] ?? NaN) * 100, 1),
    fmt(l.agentPeakRssMb, 0),
    fmt(l.loopDelayP99Ms, 1),
    fmt(l.loopUtilizationPct, 0),
    fmt(l.messagesPerSecond, 0),
    `${fmt(l.latency.p50Ms, 0)} / ${fmt(l.latency.p99Ms, 0)}`,
    `${l.seconds.streamed - l.seconds.incomplete} / ${l.seconds.streamed}`,
    `${l.alarms.raised} / ${l.alarms.episodes} (${fmt(l.alarms.p99Ms, 0)})`,
    l.sustained ? 'yes' : `no: ${l.gave.join('; ')}`,
  ]);
  const markdown = [
    'The patch\'s data rate at N times real time, as N patches at real time read by one agent',
    '(`test/support/bench/patch-fleet.ts` runs hw-sim\'s patch N times in one process, each on its own',
    'pseudo-terminal; one patch sped up would also speed up its device clock and host timeout). One patch',
    'is ECG 250 Hz, PPG red/IR 100 Hz and accelerometer 25 Hz: 16 frames and 6 observations per second.',
    `Each patch has its electrodes off for 2 s every ${LEADS_OFF_EVERY_S} s (a \`sensor-off\` alarm raised and cleared),`,
    `so that alarms are part of the load. ${o.seconds} s measured per level once every patch was streaming (the agent's status);`,
    'then the patches stop and the agent is given up to 60 s to empty its queue before anything is counted as lost.',
    'Nothing lost means: every device second streamed in the window reached the station as its six',
    'observations; no hw-sim write dropped, no frame lost or rejected by the agent, nothing evicted or',
    'shed, no sequence number missing at the station, every electrode-off episode raised its alarm;',
    `and sustained: latency p99 (STATUS frame sent -> first observation of that second at the station) <= ${SUSTAINED_LATENCY_P99_MS} ms,`,
    'the agent\'s own bound for a live message (later ones are sent flagged backfill, and count as incomplete here).',
    '',
    table(
      ['patches (x real time)', 'load avg', 'agent CPU %', 'mosquitto CPU %', 'hw-sim fleet CPU %', 'agent peak MB', 'loop delay p99 ms', 'loop busy %', 'msgs/s at station', 'latency p50 / p99 ms', 'seconds complete', 'alarms raised (p99 ms)', 'sustained, nothing lost'],
      rows,
      ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
    `Highest level sustained with nothing lost: **${best} x** real time. ${
      firstFailure ? `What gave first (at ${firstFailure.patches} x): ${firstFailure.gave.join('; ')}.` : `No level tested failed (up to ${Math.max(...levels.map((l) => l.patches))} x).`
    }`,
    ...(firstFailure ? ['', shedNarrative(firstFailure)] : []),
  ].join('\n');
  return {
    name: 'headroom',
    title: 'Headroom: the patch at N x real time',
    measuredAt: new Date(started).toISOString(),
    machine: machine(),
    command: `node dist/test/support/bench/headroom.js --levels ${o.levels.join(',')} --max ${o.max} --seconds ${o.seconds}`,
    seconds: round((Date.now() - started) / 1000, 0),
    figures,
    markdown,
    details: { levels },
  };
}

if (require.main === module) {
  const { values } = parseArgs({
    options: { levels: { type: 'string', default: '1,10,100' }, max: { type: 'string', default: '300' }, seconds: { type: 'string', default: '30' } },
  });
  const levels = (values.levels ?? '').split(',').map(Number);
  const max = Number(values.max);
  const seconds = Number(values.seconds);
  if (levels.some((l) => !Number.isInteger(l) || l < 1) || !(max >= 1) || !(seconds >= 10)) {
    process.stderr.write('usage: headroom [--levels 1,10,100] [--max N] [--seconds S>=10]\n');
    process.exit(2);
  }
  runHeadroom({ levels, max, seconds }).then(
    (result) => {
      writeResult(result);
      printFigures(result);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`headroom: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
