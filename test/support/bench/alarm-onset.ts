/**
 * Device alarm onset -> station (issue 20, "Speed"): from the moment hw-sim writes the bytes that
 * start a device alarm (the pulse oximeter's first line with its SpO2-low ALARM bit set; the HL7
 * monitor's PCD-04 ORU^R40 that starts its SpO2-low alert) to the moment the station receives the
 * alarm message that raises it, in two settings:
 *
 * - a full bed: every bed device whose hw-sim command exists streaming at real time on its own
 *   pseudo-terminal (the full-bed benchmark's bed, bed.ts), the oximeter and the monitor playing
 *   `alarm-cycles` (SpO2 under the devices' low limit every other second: one onset every 2 s
 *   each), the real agent, a private Mosquitto and the bench station (station.ts, its own process);
 * - a ward: the ward benchmark's simulated gateways (ward-gateways.ts) on one Mosquitto with one
 *   station, and among them `--ward-beds` real beds (hw-sim oximeter and monitor in `alarm-cycles`
 *   + the real agent each) raising device alarms; the ward has `--gateways` beds in all.
 *
 * Onset: hw-sim's `alarm-bits` event (hw-sim/src/runner.ts) whose `raisedBits` has 0x0002, or its
 * `alert` event of phase `start` (hw-sim/src/hl7-monitor-cli.ts), stamped just before the bytes are
 * handed to the pty. End: the station's receipt of the raise (state active, a sequence number: not
 * a re-announcement), before decoding. Both on CLOCK_MONOTONIC (process.hrtime; 0.001 ms resolution; one clock for every
 * process of this machine, and no step when the wall clock is set). Each raise is joined to its
 * onset by the gateway's own stamp (the alarm's changedWallMs: the latest onset sent before it; the
 * onsets are 2 s apart). Onsets whose line left within the measurement window count.
 *
 *   node dist/test/support/bench/alarm-onset.js [--bed-seconds 240] [--ward-seconds 120] [--ward-beds 2]
 *        [--gateways 200] [--processes 2] [--only bed|ward]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker } from '../broker';
import { until } from '../observer';
import { startAgentProcess, startHwSim, type AgentProcess, type HwSim } from '../processes';
import { agentNodeOptions } from './agent-flags';
import { availableDevices, interfaceConfig, INTERFACE_OF, simArgs, startBed, startStation, writeBedConfig, type BedDevice, type StationCount } from './bed';
import type { ScenarioName } from '../../../hw-sim/src/scenarios';
import { CpuWindow, LoadSampler, machine, median, percentile, round, sleep, type LoadSummary } from './measure';
import { figure, fmt, loadText, printFigures, table, writeResult, type BenchResult } from './result';
import type { StationRecord } from './station';
import { startGenerator, type Generator } from './ward';

export const TARGET_ONSET_P99_MS = 500;
/** Masimo ALARM 0x0002, SpO2 low limit (docs/interfaces/masimo-ascii.md, "ALARM bits"). */
export const SPO2_LOW_BIT = 0x0002;
/** The alarm the agent relays it as (agent/src/drivers/masimo-ascii/alarm-bits.ts), on the oximeter's interface. */
export const SPO2_LOW_ALARM_ID = `${INTERFACE_OF['masimo-ascii']}.device-spo2-low`;
/**
 * The HL7 monitor's SpO2-low alert as the agent relays it (agent/src/drivers/hl7-pcd01/alert-relay.ts): hw-sim's
 * ORU^R40 says event 196670 MDC_EVT_LO on source 150456 MDC_PULS_OXIM_SAT_O2 at priority PM (medium;
 * docs/interfaces/hl7-pcd01.md, the simulator's alerts).
 */
export const MONITOR_SPO2_LOW_ALARM_ID = `${INTERFACE_OF['hl7-monitor']}.device-alarm-medium.196670-150456`;
/** After the window: the raises of its last onsets are still on their way. */
const TAIL_MS = 2000;

// ---- pure: onsets, and their join with what the station received ----------------------

/** One onset of a device alarm bit: hw-sim's line that first set it. */
export interface Onset {
  index: number;
  sentWallMs: number;
  sentMonoMs: number;
}

/**
 * The onsets of `bit` among hw-sim's events: each `alarm-bits` event whose raisedBits has it, in
 * order. A line the pty dropped (nobody reading) never reached the gateway: not an onset.
 */
export function onsetsOf(events: ReadonlyArray<Record<string, unknown>>, bit: number): Onset[] {
  const out: Onset[] = [];
  for (const e of events) {
    if (e.event !== 'alarm-bits' || e.dropped === true) continue;
    const { index, sentWallMs, sentMonoMs, raisedBits } = e;
    if (typeof raisedBits !== 'number' || (raisedBits & bit) === 0) continue;
    if (typeof index !== 'number' || typeof sentWallMs !== 'number' || typeof sentMonoMs !== 'number') continue;
    out.push({ index, sentWallMs, sentMonoMs });
  }
  return out.sort((a, b) => a.sentMonoMs - b.sentMonoMs);
}

/**
 * The onsets of the HL7 monitor's alerts among hw-sim's events: each `alert` event of phase `start`
 * (an ORU^R40 announcing the alarm), in order; an injected fault or a dropped message is not one.
 */
export function alertOnsetsOf(events: ReadonlyArray<Record<string, unknown>>): Onset[] {
  const out: Onset[] = [];
  for (const e of events) {
    if (e.event !== 'alert' || e.phase !== 'start' || e.dropped === true || (e.injected ?? null) !== null) continue;
    const { index, sentWallMs, sentMonoMs } = e;
    if (typeof index !== 'number' || typeof sentWallMs !== 'number' || typeof sentMonoMs !== 'number') continue;
    out.push({ index, sentWallMs, sentMonoMs });
  }
  return out.sort((a, b) => a.sentMonoMs - b.sentMonoMs);
}

/** The bed devices whose alarms are measured: what starts one at hw-sim, and the alarm the agent relays it as. */
export type AlarmDevice = 'masimo-ascii' | 'hl7-monitor';
export const ONSET_SOURCES: Readonly<Record<AlarmDevice, { what: string; alarmId: string; onsets: (events: ReadonlyArray<Record<string, unknown>>) => Onset[] }>> = {
  'masimo-ascii': { what: 'ALARM bit 0x0002 (SpO2 low limit) set', alarmId: SPO2_LOW_ALARM_ID, onsets: (e) => onsetsOf(e, SPO2_LOW_BIT) },
  'hl7-monitor': { what: 'PCD-04 alert start (MDC_EVT_LO on SpO2)', alarmId: MONITOR_SPO2_LOW_ALARM_ID, onsets: alertOnsetsOf },
};

/** The station's records that raise `alarmId` of `gateway`: changes (sequence > 0) to active, live (not backfill). */
export function raisesOf(records: readonly StationRecord[], gateway: string, alarmId: string): StationRecord[] {
  return records.filter((r) => r.k === 'alarm' && r.g === gateway && r.a === alarmId && r.state === 'ALARM_STATE_ACTIVE' && r.s > 0 && !r.bf);
}

export interface OnsetSample {
  onset: Onset;
  /** Onset -> the station's receipt, CLOCK_MONOTONIC. */
  latencyMs: number;
  /** Onset -> the gateway's raise (changedWallMs), wall clock: the pty, the agent's decode and relay. */
  toRaiseMs: number;
  /** The gateway's raise -> the station, wall clock: durable queue, forwarder, broker, station. */
  toStationMs: number;
}

export interface OnsetJoin {
  samples: OnsetSample[];
  /** Onsets whose raise the station did not receive. */
  missed: Onset[];
  /** Raises that name no onset (none sent before it, or its onset already joined: a second raise). */
  unexplained: number;
}

/**
 * Joins each raise the station received to the onset behind it: the latest onset whose line left
 * (hw-sim's sentWallMs, stamped before the write) no later than the gateway raised the alarm (its
 * changedWallMs): the line must have arrived before the gateway could raise. A raise whose
 * onset is already joined is a second raise of one onset, not a sample.
 */
export function joinOnsets(onsets: readonly Onset[], raises: readonly StationRecord[]): OnsetJoin {
  const byWall = [...onsets].sort((a, b) => a.sentWallMs - b.sentWallMs);
  const joined = new Set<Onset>();
  const samples: OnsetSample[] = [];
  let unexplained = 0;
  for (const r of [...raises].sort((a, b) => a.rm - b.rm)) {
    const raisedWallMs = r.cw ?? NaN;
    let onset: Onset | undefined;
    for (const o of byWall) {
      if (o.sentWallMs > raisedWallMs) break;
      onset = o;
    }
    if (onset === undefined || joined.has(onset)) {
      unexplained += 1;
      continue;
    }
    joined.add(onset);
    samples.push({ onset, latencyMs: r.rm - onset.sentMonoMs, toRaiseMs: raisedWallMs - onset.sentWallMs, toStationMs: r.r - raisedWallMs });
  }
  return { samples: samples.sort((a, b) => a.onset.sentMonoMs - b.onset.sentMonoMs), missed: byWall.filter((o) => !joined.has(o)), unexplained };
}

export interface OnsetStats {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** p50 / p99 of the two parts. */
  toRaise: { p50Ms: number; p99Ms: number };
  toStation: { p50Ms: number; p99Ms: number };
}

export function onsetStats(samples: readonly OnsetSample[]): OnsetStats {
  const lat = samples.map((s) => s.latencyMs);
  const part = (v: number[]): { p50Ms: number; p99Ms: number } => ({ p50Ms: round(percentile(v, 50), 1), p99Ms: round(percentile(v, 99), 1) });
  return {
    n: lat.length,
    p50Ms: round(percentile(lat, 50), 1),
    p99Ms: round(percentile(lat, 99), 1),
    maxMs: lat.length ? round(Math.max(...lat), 1) : NaN,
    toRaise: part(samples.map((s) => s.toRaiseMs)),
    toStation: part(samples.map((s) => s.toStationMs)),
  };
}

// ---- the two settings -------------------------------------------------------------------

export interface OnsetRun {
  setting: 'bed' | 'ward';
  /** The measured devices (alarm-cycles) of each real bed, and what ran beside them. */
  devices: AlarmDevice[];
  around: string;
  beds: number;
  windowS: number;
  load: LoadSummary;
  cpuShare: Record<string, number>;
  /** Every onset of the window, every device together (the figures). */
  stats: OnsetStats;
  /** Per device: its onsets' stats, and the onsets whose raise never reached the station. */
  byDevice: Partial<Record<AlarmDevice, OnsetStats & { missed: number }>>;
  /** Onsets in the window whose raise never reached the station; raises naming no onset. */
  missed: number;
  unexplained: number;
  /** The slowest onsets: when in the window (s), which bed and device, and where the time went. */
  worst: Array<{ atS: number; gateway: string; device: AlarmDevice; latencyMs: number; toRaiseMs: number; toStationMs: number }>;
  /** The station's event-loop delay over the window: median of the per-second p99s, and the worst second's max. */
  stationLoop: { p99MedianMs: number; maxMs: number };
  /** Ward: the simulated gateways' own alarm changes in the window, envelope built -> station (wall clock). */
  wardAlarms?: { n: number; p50Ms: number; p99Ms: number; maxMs: number };
}

/** One measured device of one real bed. */
interface AlarmSource {
  gateway: string;
  device: AlarmDevice;
  sim: HwSim;
}

const WORST_SHOWN = 5;

/** The window's onsets of every measured device, joined to the station's raises, and what the station's loop did. */
function measure(
  sources: readonly AlarmSource[],
  records: readonly StationRecord[],
  counts: readonly StationCount[],
  t0: number,
  t1: number,
): Pick<OnsetRun, 'stats' | 'byDevice' | 'missed' | 'unexplained' | 'worst' | 'stationLoop'> {
  const samples: Array<OnsetSample & { gateway: string; device: AlarmDevice }> = [];
  const missedBy: Partial<Record<AlarmDevice, number>> = {};
  let unexplained = 0;
  const inWindow = (o: Onset): boolean => o.sentWallMs >= t0 && o.sentWallMs <= t1;
  for (const src of sources) {
    const { alarmId, onsets } = ONSET_SOURCES[src.device];
    const join = joinOnsets(onsets(src.sim.events), raisesOf(records, src.gateway, alarmId));
    samples.push(...join.samples.filter((s) => inWindow(s.onset)).map((s) => ({ ...s, gateway: src.gateway, device: src.device })));
    missedBy[src.device] = (missedBy[src.device] ?? 0) + join.missed.filter(inWindow).length;
    unexplained += join.unexplained;
  }
  const byDevice: OnsetRun['byDevice'] = {};
  for (const device of new Set(sources.map((s) => s.device))) {
    byDevice[device] = { ...onsetStats(samples.filter((s) => s.device === device)), missed: missedBy[device] ?? 0 };
  }
  const worst = [...samples]
    .sort((a, b) => b.latencyMs - a.latencyMs)
    .slice(0, WORST_SHOWN)
    .map((s) => ({ atS: round((s.onset.sentWallMs - t0) / 1000, 1), gateway: s.gateway, device: s.device, latencyMs: round(s.latencyMs, 1), toRaiseMs: s.toRaiseMs, toStationMs: s.toStationMs }));
  const seconds = counts.filter((c) => c.t >= t0 && c.t <= t1 + 1000);
  return {
    stats: onsetStats(samples),
    byDevice,
    missed: Object.values(missedBy).reduce((n, m) => n + m, 0),
    unexplained,
    worst,
    stationLoop: {
      p99MedianMs: round(median(seconds.map((c) => c.loopP99Ms ?? NaN).filter(Number.isFinite)), 1),
      maxMs: round(Math.max(...seconds.map((c) => c.loopMaxMs ?? NaN).filter(Number.isFinite)), 1),
    },
  };
}

/** The bed devices of this build whose alarms are measured (each one's hw-sim command exists). */
function alarmDevices(devices: readonly BedDevice[]): AlarmDevice[] {
  return devices.filter((d): d is AlarmDevice => d in ONSET_SOURCES);
}

/** alarm-cycles for every measured device (the others stay `stable`). */
function alarmScenarios(devices: readonly AlarmDevice[]): Partial<Record<BedDevice, ScenarioName>> {
  return Object.fromEntries(devices.map((d) => [d, 'alarm-cycles' as const]));
}

/** Waits for a first raise of every measured device's alarm at the station. */
function firstRaises(sources: readonly AlarmSource[], records: readonly StationRecord[]): Promise<boolean> {
  return until('a first device alarm of every measured device at the station', () => sources.every((s) => raisesOf(records, s.gateway, ONSET_SOURCES[s.device].alarmId).length > 0), 60_000);
}

/** The full bed, its oximeter and monitor in alarm-cycles. */
export async function runBedOnsets(seconds: number, log: (s: string) => void): Promise<OnsetRun> {
  const devices = availableDevices();
  const measured = alarmDevices(devices);
  if (measured.length === 0) throw new Error('no hw-sim device with alarms (masimo-ascii, hl7-monitor) found: build first');
  const bed = await startBed(devices, {}, {}, alarmScenarios(measured));
  try {
    const gateway = 'gw-bench';
    const sources = measured.map((device) => ({ gateway, device, sim: bed.sims.get(device) as HwSim }));
    const interfaces = devices.map((d) => INTERFACE_OF[d]);
    await until('a value from every interface', () => interfaces.every((i) => bed.station.records.some((r) => r.k === 'observation' && r.i === i && r.hv)), 60_000);
    await firstRaises(sources, bed.station.records);
    await sleep(5000);
    const pids: Record<string, number> = { agent: bed.agent.process.pid as number, mosquitto: bed.broker.process.pid as number, station: bed.station.process.pid as number };
    const load = new LoadSampler();
    const cpu = new CpuWindow(pids);
    const t0 = Date.now();
    log(`  full bed (${devices.join(', ')}): measuring ${seconds} s`);
    await sleep(seconds * 1000);
    const t1 = Date.now();
    const shares = cpu.shares();
    const measuredS = cpu.seconds;
    const loadSummary = load.stop();
    await sleep(TAIL_MS);
    const m = measure(sources, bed.station.records, bed.station.counts, t0, t1);
    await bed.stop();
    return {
      setting: 'bed',
      devices: measured,
      around: devices.filter((d) => !(measured as BedDevice[]).includes(d)).join(', '),
      beds: 1,
      windowS: round(measuredS, 1),
      load: loadSummary,
      cpuShare: Object.fromEntries(Object.entries(shares).map(([k, v]) => [k, round(v, 4)])),
      ...m,
    };
  } catch (err) {
    await bed.stop().catch(() => undefined);
    throw err;
  }
}

/** The ward: `gateways - beds` simulated gateways and `beds` real beds (oximeter and monitor in alarm-cycles) on one broker. */
export async function runWardOnsets(o: { gateways: number; processes: number; beds: number; seconds: number }, log: (s: string) => void): Promise<OnsetRun> {
  const measured = alarmDevices(availableDevices());
  if (measured.length === 0) throw new Error('no hw-sim device with alarms (masimo-ascii, hl7-monitor) found: build first');
  const simulated = o.gateways - o.beds;
  const broker = await startBroker();
  const station = await startStation(broker.url, 'alarm');
  const generators: Generator[] = [];
  const sims: HwSim[] = [];
  const agents: AgentProcess[] = [];
  const sources: AlarmSource[] = [];
  const stop = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    for (const g of generators) g.process.kill(signal);
    if (signal === 'SIGTERM') await Promise.all(generators.map((g) => g.summary));
    for (const a of agents) await a.stop(signal).catch(() => undefined);
    for (const s of sims) await s.stop(signal).catch(() => undefined);
    await station.stop().catch(() => undefined);
    await broker.stop().catch(() => undefined);
  };
  try {
    const per = Math.ceil(simulated / o.processes);
    for (let first = 0; first < simulated; first += per) generators.push(await startGenerator(broker.url, first, Math.min(per, simulated - first)));
    // The real beds follow the simulated ones in the ward's numbering (bed<index>, gw-ward-<index>).
    let seed = 101;
    for (let i = 0; i < o.beds; i += 1) {
      const index = simulated + i;
      const gateway = `gw-ward-${index}`;
      const interfaces: Array<Record<string, unknown>> = [];
      for (const device of measured) {
        const sim = await startHwSim(simArgs(device, seed++, 'alarm-cycles'));
        sims.push(sim);
        sources.push({ gateway, device, sim });
        interfaces.push(interfaceConfig(device, sim.path));
      }
      const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-onset-'));
      agents.push(startAgentProcess(writeBedConfig(dir, broker.url, interfaces, { wardId: 'ward-bench', bedId: `bed${index}` }, gateway), agentNodeOptions()));
    }
    await firstRaises(sources, station.records);
    await sleep(5000);
    const pids: Record<string, number> = { mosquitto: broker.process.pid as number, station: station.process.pid as number };
    agents.forEach((a, i) => (pids[`agent ${i + 1}`] = a.process.pid as number));
    generators.forEach((g, i) => (pids[`generator ${i + 1}`] = g.process.pid as number));
    const load = new LoadSampler();
    const cpu = new CpuWindow(pids);
    const t0 = Date.now();
    log(`  ward (${simulated} simulated gateways + ${o.beds} real beds with ${measured.join(', ')}): measuring ${o.seconds} s`);
    await sleep(o.seconds * 1000);
    const t1 = Date.now();
    const shares = cpu.shares();
    const measuredS = cpu.seconds;
    const loadSummary = load.stop();
    await sleep(TAIL_MS);
    const m = measure(sources, station.records, station.counts, t0, t1);
    const realGateways = new Set(sources.map((s) => s.gateway));
    const wardLat = station.records.filter((r) => r.k === 'alarm' && r.s > 0 && !realGateways.has(r.g) && r.r >= t0 && r.r <= t1).map((r) => r.r - r.sw);
    await stop('SIGTERM');
    const cpuShare = Object.fromEntries(Object.entries(shares).map(([k, v]) => [k, round(v, 4)]));
    cpuShare.generators = round(Object.entries(shares).reduce((n, [k, v]) => (k.startsWith('generator') ? n + v : n), 0), 4);
    return {
      setting: 'ward',
      devices: measured,
      around: `${simulated} simulated gateways`,
      beds: o.beds,
      windowS: round(measuredS, 1),
      load: loadSummary,
      cpuShare,
      ...m,
      wardAlarms: { n: wardLat.length, p50Ms: percentile(wardLat, 50), p99Ms: percentile(wardLat, 99), maxMs: wardLat.length ? Math.max(...wardLat) : NaN },
    };
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
}

// ---- the result -------------------------------------------------------------------------

export interface AlarmOnsetOptions {
  bedSeconds: number;
  wardSeconds: number;
  wardBeds: number;
  gateways: number;
  processes: number;
  only?: 'bed' | 'ward';
  log?: (s: string) => void;
}

export async function runAlarmOnset(o: AlarmOnsetOptions): Promise<BenchResult> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const started = Date.now();
  const runs: OnsetRun[] = [];
  if (o.only !== 'ward') {
    log('alarm onset: full bed');
    runs.push(await runBedOnsets(o.bedSeconds, log));
  }
  if (o.only !== 'bed') {
    log('alarm onset: ward');
    runs.push(await runWardOnsets({ gateways: o.gateways, processes: o.processes, beds: o.wardBeds, seconds: o.wardSeconds }, log));
  }
  const name = (r: OnsetRun): string => (r.setting === 'bed' ? 'full bed' : `ward (${o.gateways} beds)`);
  const figures = runs.flatMap((r) => [
    figure(`Device alarm onset -> station, ${name(r)}: p50`, r.stats.p50Ms, 'ms', r.load, undefined, 0),
    figure(`Device alarm onset -> station, ${name(r)}: p99`, r.stats.p99Ms, 'ms', r.load, { op: '<=', value: TARGET_ONSET_P99_MS }, 0),
  ]);
  const deviceName: Record<AlarmDevice, string> = { 'masimo-ascii': 'oximeter', 'hl7-monitor': 'monitor' };
  const settingText = (r: OnsetRun): string =>
    r.setting === 'bed'
      ? `full bed (${r.devices.map((d) => deviceName[d]).join(' + ')} in alarm-cycles${r.around ? `, ${r.around} stable` : ''})`
      : `ward: ${r.beds} real beds (${r.devices.map((d) => deviceName[d]).join(' + ')}) among ${r.around}`;
  const latencyCells = (s: OnsetStats): string[] => [
    String(s.n),
    `${fmt(s.p50Ms, 0)} / ${fmt(s.p99Ms, 0)} / ${fmt(s.maxMs, 0)}`,
    `${fmt(s.toRaise.p50Ms, 0)} / ${fmt(s.toRaise.p99Ms, 0)}`,
    `${fmt(s.toStation.p50Ms, 0)} / ${fmt(s.toStation.p99Ms, 0)}`,
  ];
  const rows = runs.map((r) => [
    settingText(r),
    loadText(r.load),
    fmt(r.windowS, 0),
    ...latencyCells(r.stats),
    `${r.missed} / ${r.unexplained}`,
    r.setting === 'bed' ? fmt((r.cpuShare.agent ?? NaN) * 100, 1) : fmt(Object.entries(r.cpuShare).filter(([k]) => k.startsWith('agent')).reduce((n, [, v]) => n + v * 100, 0) / r.beds, 1),
    fmt((r.cpuShare.mosquitto ?? NaN) * 100, 1),
    fmt((r.cpuShare.station ?? NaN) * 100, 1),
    `${fmt(r.stationLoop.p99MedianMs, 0)} / ${fmt(r.stationLoop.maxMs, 0)}`,
  ]);
  const deviceRows = runs.flatMap((r) =>
    Object.entries(r.byDevice).map(([d, s]) => [name(r), `${deviceName[d as AlarmDevice]}: ${ONSET_SOURCES[d as AlarmDevice].what}`, ...latencyCells(s), String(s.missed)]),
  );
  const worstText = (r: OnsetRun): string =>
    r.worst.map((w) => `${fmt(w.latencyMs, 0)} ms at ${fmt(w.atS, 0)} s (${w.gateway} ${deviceName[w.device]}: ${fmt(w.toRaiseMs, 0)} to the raise, ${fmt(w.toStationMs, 0)} to the station)`).join(', ');
  const notes = runs.flatMap((r) => [
    `- Slowest onsets, ${name(r)} (time into the window): ${worstText(r) || 'none'}.`,
    ...(r.wardAlarms
      ? [
          `- The simulated gateways' own alarm changes in the same window (envelope built -> station, wall clock, ${r.wardAlarms.n} changes):`,
          `  p50 ${fmt(r.wardAlarms.p50Ms, 0)} ms, p99 ${fmt(r.wardAlarms.p99Ms, 0)} ms, max ${fmt(r.wardAlarms.maxMs, 0)} ms.`,
        ]
      : []),
  ]);
  const markdown = [
    'From the moment hw-sim writes the bytes that start a device alarm to the moment the station receives the alarm',
    'message raising it, for the bed\'s two devices that announce alarms: the pulse oximeter (the first line with its',
    'SpO2-low ALARM bit 0x0002 set, relayed as `spo2.device-spo2-low`) and the HL7 monitor (the PCD-04 ORU^R40 that',
    'starts its SpO2-low alert, relayed as `monitor.device-alarm-medium.196670-150456`). Both play `alarm-cycles`',
    '(SpO2 under the devices\' low limit of 90 % every other device second, at real time: one onset every 2 s per',
    'device, ended a second later). Two settings, each one run:',
    '',
    `- Full bed: the full-bed benchmark's bed (every bed device whose hw-sim command exists, the patch in \`stable\`,`,
    '  the real agent with its durable queue, a private Mosquitto, the bench station `test/support/bench/station.ts`',
    `  in its own process), ${o.bedSeconds} s measured after every interface published and 5 s of warm-up.`,
    `- Ward: the ward benchmark's simulated gateways (\`ward-gateways.ts\`, ${o.processes} processes) and ${o.wardBeds} real beds (hw-sim oximeter`,
    `  and monitor + the real agent each), ${o.gateways} beds in all on one Mosquitto with one station subscribed to every bed`,
    `  (\`--record alarm\`), ${o.wardSeconds} s measured after every real device's first alarm and 5 s of warm-up.`,
    '',
    'Onset: hw-sim\'s `alarm-bits` event (oximeter, `hw-sim/src/runner.ts`) or `alert` event of phase `start`',
    '(monitor, `hw-sim/src/hl7-monitor-cli.ts`), stamped just before the bytes go to the pty; end: the station\'s',
    'receipt of the raise (a change with a sequence number, not a re-announcement), before decoding. Both on',
    'CLOCK_MONOTONIC (`process.hrtime`, one clock for every process of the machine). Each raise is joined to its',
    'onset by the gateway\'s `changedWallMs` (the latest onset of that device sent before it; onsets are 2 s apart).',
    'The parts: onset -> the gateway\'s raise (pty, decode, relay; wall clock, 1 ms), and raise -> station (durable',
    'queue with fsync, forwarder, Mosquitto, the station\'s event loop). Missed: onsets in the window whose raise never',
    'reached the station; unexplained: raises naming no onset. Station loop delay: the station process\'s event-loop',
    'delay (`monitorEventLoopDelay`, 10 ms resolution), median of the per-second p99s and the worst second\'s max.',
    'Plain MQTT on the loopback, as every benchmark here. The figures take every onset of the setting, both devices.',
    '',
    table(
      ['setting', 'load avg', 'window s', 'onsets', 'onset -> station p50 / p99 / max ms', 'onset -> raise p50 / p99 ms', 'raise -> station p50 / p99 ms', 'missed / unexplained', 'agent CPU % (per bed)', 'broker CPU %', 'station CPU %', 'station loop delay p99 / max ms'],
      rows,
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    'By device:',
    '',
    table(['setting', 'device: onset', 'onsets', 'onset -> station p50 / p99 / max ms', 'onset -> raise p50 / p99 ms', 'raise -> station p50 / p99 ms', 'missed'], deviceRows, ['l', 'l', 'r', 'r', 'r', 'r', 'r']),
    '',
    ...notes,
  ].join('\n');
  const args = [`--bed-seconds ${o.bedSeconds}`, `--ward-seconds ${o.wardSeconds}`, `--ward-beds ${o.wardBeds}`, `--gateways ${o.gateways}`, `--processes ${o.processes}`, ...(o.only ? [`--only ${o.only}`] : [])];
  return {
    name: 'alarm-onset',
    title: 'Device alarm onset to the station',
    measuredAt: new Date(started).toISOString(),
    machine: machine(),
    command: `node dist/test/support/bench/alarm-onset.js ${args.join(' ')}`,
    seconds: round((Date.now() - started) / 1000, 0),
    figures,
    markdown,
    details: { runs },
  };
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      'bed-seconds': { type: 'string', default: '240' },
      'ward-seconds': { type: 'string', default: '120' },
      'ward-beds': { type: 'string', default: '2' },
      gateways: { type: 'string', default: '200' },
      processes: { type: 'string', default: '2' },
      only: { type: 'string' },
    },
  });
  const o: AlarmOnsetOptions = {
    bedSeconds: Number(values['bed-seconds']),
    wardSeconds: Number(values['ward-seconds']),
    wardBeds: Number(values['ward-beds']),
    gateways: Number(values.gateways),
    processes: Number(values.processes),
    ...(values.only === 'bed' || values.only === 'ward' ? { only: values.only } : {}),
  };
  const bad =
    !(o.bedSeconds >= 10) || !(o.wardSeconds >= 10) || !Number.isInteger(o.wardBeds) || o.wardBeds < 1 ||
    !Number.isInteger(o.gateways) || o.gateways <= o.wardBeds || !Number.isInteger(o.processes) || o.processes < 1 ||
    (values.only !== undefined && o.only === undefined);
  if (bad) {
    process.stderr.write('usage: alarm-onset [--bed-seconds S>=10] [--ward-seconds S>=10] [--ward-beds N>=1] [--gateways G>N] [--processes P>=1] [--only bed|ward]\n');
    process.exit(2);
  }
  runAlarmOnset(o).then(
    (result) => {
      writeResult(result);
      printFigures(result);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`alarm-onset: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
