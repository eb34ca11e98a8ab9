/**
 * One bed for the system benchmarks: hw-sim's devices on real pseudo-terminals (each one
 * whose hw-sim command exists in this build: the pulse oximeter, the HL7 monitor, the sensor
 * patch), the real agent process reading all of them, a private Mosquitto, and the bench
 * station (station.ts) in a process of its own. Also the matching of what the station
 * received with what hw-sim sent (the latency), shared by the bed and start-up benchmarks.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startBroker, type Broker } from '../broker';
import { exitOf, HWSIM_CLI, ROOT, startAgentProcess, startHwSim, type AgentProcess, type HwSim } from '../processes';
import type { ScenarioName } from '../../../hw-sim/src/scenarios';
import { agentNodeOptions } from './agent-flags';
import type { StationRecord, StationSummary } from './station';

export const BENCH_DIR = join(ROOT, 'dist', 'test', 'support', 'bench');
export const RESULTS_DIR = join(ROOT, 'build', 'bench');

/** The bed's devices, by hw-sim command (the device name is the join key). */
export type BedDevice = 'masimo-ascii' | 'hl7-monitor' | 'vigil-patch';
export const BED_DEVICES: readonly BedDevice[] = ['masimo-ascii', 'hl7-monitor', 'vigil-patch'];
/** The agent's interface id for each device. */
export const INTERFACE_OF: Record<BedDevice, string> = { 'masimo-ascii': 'spo2', 'hl7-monitor': 'monitor', 'vigil-patch': 'patch' };
const PATIENT_ID = 'HWSIM0001';

/** The devices whose hw-sim command exists in this build (`hw-sim <device> --help` exits 0). */
export function availableDevices(): BedDevice[] {
  return BED_DEVICES.filter((d) => spawnSync(process.execPath, [HWSIM_CLI, d, '--help'], { stdio: 'ignore', timeout: 20_000 }).status === 0);
}

/** UTC now as the pulse oximeter's --start-time (its clock has no zone; the agent reads it as UTC). */
function utcStartTime(): string {
  return new Date().toISOString().slice(0, 19);
}

/** hw-sim's arguments for a bed device (scenario `stable` unless told). */
export function simArgs(device: BedDevice, seed: number, scenario: ScenarioName = 'stable'): string[] {
  switch (device) {
    case 'masimo-ascii':
      return ['masimo-ascii', '--scenario', scenario, '--seed', String(seed), '--start-time', utcStartTime()];
    case 'hl7-monitor':
      return ['hl7-monitor', '--scenario', scenario, '--seed', String(seed), '--patient-id', PATIENT_ID];
    case 'vigil-patch':
      return ['vigil-patch', '--scenario', scenario, '--seed', String(seed)];
  }
}

/** The agent's interface for a bed device on the pty at `path`. */
export function interfaceConfig(device: BedDevice, path: string): Record<string, unknown> {
  const id = INTERFACE_OF[device];
  switch (device) {
    case 'masimo-ascii':
      return { id, driver: 'masimo-ascii', path };
    case 'hl7-monitor':
      // Live monitor values arrive as OBX-11 "R"; the bed's monitor is trusted for the score.
      return { id, driver: 'hl7-pcd01', transport: 'serial', path, quietTimeMs: 5000, scoreUnverified: true };
    case 'vigil-patch':
      return { id, driver: 'vigil-patch', path };
  }
}

export interface AgentConfigExtras {
  heartbeatIntervalMs?: number;
  clockOffsetBoundMs?: number;
  maxQueueBytes?: number;
  /** End-to-end delivery: the stations whose receipts queued messages wait for (queue.confirmBy). */
  confirmBy?: string[];
  /** The bed's address (default ward1 / bed1): several real beds on one broker need their own. */
  wardId?: string;
  bedId?: string;
}

/** The agent's configuration for these interfaces (defaults of the product elsewhere). */
export function writeBedConfig(dir: string, brokerUrl: string, interfaces: Array<Record<string, unknown>>, extras: AgentConfigExtras = {}, gatewayId = 'gw-bench'): string {
  const file = join(dir, 'vigil.json');
  const config: Record<string, unknown> = {
    gateway: { gatewayId, siteId: 'site1', wardId: extras.wardId ?? 'ward1', bedId: extras.bedId ?? 'bed1' },
    mqtt: { url: brokerUrl, insecure: true, heartbeatIntervalMs: extras.heartbeatIntervalMs ?? 5000 },
    interfaces,
    queue: {
      dir: join(dir, 'queue'),
      ...(extras.maxQueueBytes ? { maxBytes: extras.maxQueueBytes } : {}),
      ...(extras.confirmBy ? { confirmBy: extras.confirmBy, resendUnconfirmedAfterMs: 2000 } : {}),
    },
    log: { level: 'info' },
    ...(interfaces.some((i) => i.driver === 'hl7-pcd01') ? { patient: { patientId: PATIENT_ID } } : {}),
    ...(extras.clockOffsetBoundMs ? { clockOffsetBoundMs: extras.clockOffsetBoundMs } : {}),
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

// ---- the bench station process --------------------------------------------------------

/** The station's once-a-second line: messages received so far, and its event-loop delay over that second. */
export interface StationCount {
  t: number;
  messages: number;
  loopP99Ms?: number;
  loopMaxMs?: number;
}

export interface StationProcess {
  process: ChildProcess;
  records: StationRecord[];
  /** Messages received so far, once a second. */
  counts: StationCount[];
  /** Stops it and returns its summary. */
  stop(): Promise<StationSummary>;
}

export function startStation(url: string, record: 'all' | 'alarm' | 'none' = 'all', stationId?: string): Promise<StationProcess> {
  const args = [join(BENCH_DIR, 'station.js'), '--url', url, '--record', record, ...(stationId ? ['--station-id', stationId] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const records: StationRecord[] = [];
  const counts: StationCount[] = [];
  let summary: StationSummary | null = null;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the bench station did not subscribe within 20 s')), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: boolean; summary?: StationSummary; count?: StationCount } & StationRecord;
      if (msg.ready) {
        clearTimeout(timer);
        resolve({
          process: child,
          records,
          counts,
          async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            await exitOf(child);
            return summary ?? { messages: records.length, recorded: records.length, duplicates: 0, undecodable: 0, runs: [] };
          },
        });
      } else if (msg.summary) {
        summary = msg.summary;
      } else if (msg.count) {
        counts.push(msg.count);
      } else {
        records.push(msg);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the bench station exited (${code})`));
    });
  });
}

// ---- a whole bed -------------------------------------------------------------------

export interface Bed {
  broker: Broker;
  station: StationProcess;
  sims: Map<BedDevice, HwSim>;
  agent: AgentProcess;
  /** Date.now() just before the agent process was spawned. */
  agentSpawnWallMs: number;
  dir: string;
  stop(): Promise<StationSummary>;
}

export async function startBed(
  devices: readonly BedDevice[],
  extras: AgentConfigExtras = {},
  agentEnv: NodeJS.ProcessEnv = {},
  scenarios: Partial<Record<BedDevice, ScenarioName>> = {},
): Promise<Bed> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-bed-'));
  const broker = await startBroker();
  const station = await startStation(broker.url, 'all');
  const sims = new Map<BedDevice, HwSim>();
  let seed = 1;
  for (const d of devices) sims.set(d, await startHwSim(simArgs(d, seed++, scenarios[d])));
  const config = writeBedConfig(
    dir,
    broker.url,
    devices.map((d) => interfaceConfig(d, (sims.get(d) as HwSim).path)),
    extras,
  );
  const agentSpawnWallMs = Date.now();
  const agent = startAgentProcess(config, { ...agentNodeOptions(), ...agentEnv });
  return {
    broker,
    station,
    sims,
    agent,
    agentSpawnWallMs,
    dir,
    async stop() {
      await agent.stop('SIGTERM');
      for (const s of sims.values()) await s.stop('SIGTERM');
      const summary = await station.stop();
      await broker.stop();
      return summary;
    },
  };
}

// ---- latency: what the station received against what hw-sim sent -----------------------

const U32 = 0x1_0000_0000;

/**
 * The key that joins an observation to the hw-sim frame it came from, per device:
 * - masimo-ascii: the device time of the line (one line per device second; hw-sim's
 *   `deviceTime`, the observation's deviceTimeMs read as UTC);
 * - hl7-monitor: the message's observation time OBX-14 (ms; hw-sim's `deviceTime`);
 * - vigil-patch: the tick of the STATUS frame that closes the device second (the observation's
 *   `tick=` text; hw-sim's frame event gives the tick of the second's last 200 ms block, so
 *   the STATUS tick is that + 200 ms).
 */
export function frameKey(device: BedDevice, frame: Record<string, unknown>): string | null {
  switch (device) {
    case 'masimo-ascii':
    case 'hl7-monitor': {
      const ms = Date.parse(`${String(frame.deviceTime)}${device === 'masimo-ascii' ? 'Z' : ''}`);
      return Number.isFinite(ms) ? `t${ms}` : null;
    }
    case 'vigil-patch':
      return typeof frame.tickMs === 'number' ? `tick=${(frame.tickMs + 200) % U32}` : null;
  }
}

export function observationKey(device: BedDevice, r: StationRecord): string | null {
  if (device === 'vigil-patch') return r.dtt && r.dtt.startsWith('tick=') ? r.dtt : null;
  return typeof r.dt === 'number' && r.dt > 0 ? `t${r.dt}` : null;
}

export interface LatencySample {
  device: BedDevice;
  parameter: string;
  latencyMs: number;
  receivedMs: number;
  /** The parts: hw-sim -> agent's receive stamp, -> envelope built, -> station (queue, broker, decode). */
  toAgentMs: number;
  inAgentMs: number;
  toStationMs: number;
}

/**
 * One sample per observation message with a value whose frame is found: station receive
 * time minus hw-sim's sentWallMs (both Date.now() on this machine, 1 ms resolution).
 */
export function matchLatencies(sims: Map<BedDevice, HwSim>, records: readonly StationRecord[]): { samples: LatencySample[]; unmatched: number } {
  const byInterface = new Map<string, { device: BedDevice; sent: Map<string, number> }>();
  for (const [device, sim] of sims) {
    const sent = new Map<string, number>();
    for (const f of sim.frames) {
      const key = frameKey(device, f);
      if (key !== null && typeof f.sentWallMs === 'number') sent.set(key, f.sentWallMs);
    }
    byInterface.set(INTERFACE_OF[device], { device, sent });
  }
  const samples: LatencySample[] = [];
  let unmatched = 0;
  for (const r of records) {
    if (r.k !== 'observation' || !r.hv || r.bf) continue;
    const itf = byInterface.get(r.i ?? '');
    if (!itf) continue;
    const key = observationKey(itf.device, r);
    const sentMs = key === null ? undefined : itf.sent.get(key);
    if (sentMs === undefined) {
      unmatched += 1;
      continue;
    }
    const rw = r.rw ?? NaN;
    samples.push({
      device: itf.device,
      parameter: r.p ?? '',
      latencyMs: r.r - sentMs,
      receivedMs: r.r,
      toAgentMs: rw - sentMs,
      inAgentMs: r.sw - rw,
      toStationMs: r.r - r.sw,
    });
  }
  return { samples, unmatched };
}
