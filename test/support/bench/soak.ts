/**
 * Soak under faults (issue 14 item 9, HAZ-013, HAZ-014): a full bed (every hw-sim bed device on
 * its own pty, the real agent) publishing to a real Mosquitto, and the bench station
 * (station.ts) confirming delivery with receipts as the product's station does
 * (`queue.confirmBy: ["station"]`). Two phases:
 *
 * - broker kills: Mosquitto killed with SIGKILL N times (every 1 to 2.5 s, down 0.2 to 0.8 s),
 *   with persistence saved only on a clean exit (`autosave_interval 0`: the broker forgets
 *   on each kill what it acknowledged and the station's session);
 * - agent kills: the agent killed with SIGKILL N times, each run lasting 1.5 to 3 s after its
 *   start, then started once more to drain.
 *
 * Then the devices stop and the station's records are counted per gateway run (boot id):
 * - lost: numbers below a run's highest never received (distinct numbers against the highest);
 * - duplicated: messages received again (same message id), dropped by the station;
 * - late without the backfill flag: received live (backfill false) more than LATE_MS after the
 *   gateway accepted it (envelope sent_wall_ms; one machine, one clock);
 * - stale alarms raised as live: alarm changes to active received live more than LATE_MS late.
 * The agent's own queue must end empty (every message confirmed by a receipt).
 *
 *   node dist/test/support/bench/soak.js [--broker-kills 100] [--agent-kills 100]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker } from '../broker';
import { startAgentProcess, startHwSim, type AgentProcess, type HwSim } from '../processes';
import { agentNodeOptions } from './agent-flags';
import { availableDevices, BENCH_DIR, startStation, writeBedConfig, type BedDevice, type StationProcess } from './bed';
import { LoadSampler, machine, round, sleep } from './measure';
import { figure, fmt, printFigures, table, writeResult, type BenchResult } from './result';
import type { StationRecord, StationSummary } from './station';

/** A message received live this long after it was accepted is late (the gateway flags backfill after 2 s). */
const LATE_MS = 5000;
const STATION_ID = 'station';

export interface SoakCounts {
  faults: number;
  runs: number;
  accepted: number;
  lost: number;
  duplicated: number;
  lateWithoutBackfill: number;
  staleAlarmsLive: number;
  queueLeft: number | null;
  /** The agent's own count of messages accepted into its queue, from its last heartbeat (one run: the broker phase). */
  agentAccepted: number | null;
  seconds: number;
}

/** A deterministic spread of waits (no Math.random: a rerun injects the same faults). */
const spread = (k: number, minMs: number, maxMs: number): number => minMs + ((k * 7919) % (maxMs - minMs + 1));

function simArgs(device: BedDevice, seed: number): string[] {
  switch (device) {
    case 'masimo-ascii':
      return ['masimo-ascii', '--scenario', 'stable', '--seed', String(seed), '--start-time', new Date().toISOString().slice(0, 19)];
    case 'hl7-monitor':
      return ['hl7-monitor', '--scenario', 'stable', '--seed', String(seed), '--patient-id', 'HWSIM0001'];
    case 'vigil-patch':
      return ['vigil-patch', '--scenario', 'stable', '--seed', String(seed)];
  }
}

function interfaceConfig(device: BedDevice, path: string): Record<string, unknown> {
  switch (device) {
    case 'masimo-ascii':
      return { id: 'spo2', driver: 'masimo-ascii', path };
    case 'hl7-monitor':
      return { id: 'monitor', driver: 'hl7-pcd01', transport: 'serial', path, quietTimeMs: 5000, scoreUnverified: true };
    case 'vigil-patch':
      return { id: 'patch', driver: 'vigil-patch', path };
  }
}

function count(records: readonly StationRecord[], summary: StationSummary, gateway: string): Omit<SoakCounts, 'faults' | 'queueLeft' | 'agentAccepted' | 'seconds'> {
  // Per run from the records (the station model tracks only the last few runs of a bed):
  // each record is a message received for the first time (duplicates are dropped before).
  const runs = new Map<string, { highest: number; numbers: Set<number> }>();
  for (const r of records) {
    if (r.g !== gateway || r.s <= 0) continue;
    const run = runs.get(r.boot) ?? { highest: 0, numbers: new Set<number>() };
    run.highest = Math.max(run.highest, r.s);
    run.numbers.add(r.s);
    runs.set(r.boot, run);
  }
  const live = records.filter((r) => r.s > 0 && !r.bf && r.r - r.sw > LATE_MS);
  return {
    runs: runs.size,
    accepted: [...runs.values()].reduce((n, r) => n + r.highest, 0),
    lost: [...runs.values()].reduce((n, r) => n + (r.highest - r.numbers.size), 0),
    duplicated: summary.duplicates,
    lateWithoutBackfill: live.length,
    staleAlarmsLive: live.filter((r) => r.k === 'alarm' && /ACTIVE/.test(r.state ?? '')).length,
  };
}

/** The last status counters of the gateway the station recorded. */
function lastCounters(records: readonly StationRecord[]): Record<string, number> {
  for (let i = records.length - 1; i >= 0; i -= 1) {
    const r = records[i] as StationRecord;
    if (r.k === 'status' && r.online && r.c) return r.c;
  }
  return {};
}

/** Waits until the agent's queue is empty (as its heartbeat says), at most `timeoutMs`; returns its depth then. */
async function drained(station: StationProcess, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const depth = lastCounters(station.records)['queue-depth'];
    if (depth === 0 || Date.now() > deadline) return depth ?? null;
    await sleep(500);
  }
}

async function phase(kind: 'broker' | 'agent', faults: number, devices: BedDevice[], log: (s: string) => void): Promise<SoakCounts> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `vigil-soak-${kind}-`));
  const broker = await startBroker({ persistence: true });
  const station = await startStation(broker.url, 'all', STATION_ID);
  const sims = new Map<BedDevice, HwSim>();
  let seed = 31;
  for (const d of devices) sims.set(d, await startHwSim(simArgs(d, seed++)));
  const config = writeBedConfig(dir, broker.url, devices.map((d) => interfaceConfig(d, (sims.get(d) as HwSim).path)), { heartbeatIntervalMs: 1000, confirmBy: [STATION_ID] });
  const start = (): AgentProcess => startAgentProcess(config, agentNodeOptions());
  let agent = start();
  try {
    await sleep(4000);
    for (let k = 1; k <= faults; k += 1) {
      if (kind === 'broker') {
        await sleep(spread(k, 1000, 2500));
        await broker.pause('SIGKILL');
        await sleep(spread(k, 200, 800));
        await broker.resume();
      } else {
        await sleep(spread(k, 1500, 3000));
        await agent.stop('SIGKILL');
        agent = start();
      }
      if (k % 10 === 0) log(`soak (${kind} kills): ${k} of ${faults}`);
    }
    await sleep(5000);
    for (const s of sims.values()) await s.stop('SIGKILL');
    const queueLeft = await drained(station, 120_000);
    await sleep(3000); // the last receipts and heartbeats
    await agent.stop('SIGTERM');
    const summary = await station.stop();
    const counts = count(station.records, summary, 'gw-bench');
    const agentAccepted = kind === 'broker' ? (lastCounters(station.records)['queue-accepted'] ?? null) : null;
    return { faults, ...counts, queueLeft, agentAccepted, seconds: round((Date.now() - started) / 1000, 0) };
  } finally {
    await agent.stop('SIGKILL').catch(() => undefined);
    for (const s of sims.values()) await s.stop('SIGKILL').catch(() => undefined);
    await station.stop().catch(() => undefined);
    await broker.stop();
  }
}

export async function runSoak(o: { brokerKills: number; agentKills: number; log?: (s: string) => void }): Promise<BenchResult> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const devices = availableDevices();
  if (devices.length === 0) throw new Error('no hw-sim bed device found: build first');
  const started = Date.now();
  const load = new LoadSampler(1000);
  const broker = await phase('broker', o.brokerKills, devices, log);
  const agent = await phase('agent', o.agentKills, devices, log);
  const l = load.stop();
  const zero = { op: '<=' as const, value: 0 };
  const figures = [
    figure(`Soak: messages lost over ${broker.faults} broker kills`, broker.lost, 'messages', l, zero, 0),
    figure(`Soak: messages lost over ${agent.faults} agent kills`, agent.lost, 'messages', l, zero, 0),
    figure('Soak: stale alarms raised as live (both phases)', broker.staleAlarmsLive + agent.staleAlarmsLive, 'alarms', l, zero, 0),
    figure('Soak: late messages without the backfill flag (both phases)', broker.lateWithoutBackfill + agent.lateWithoutBackfill, 'messages', l, undefined, 0),
  ];
  const row = (name: string, c: SoakCounts): string[] => [
    name,
    String(c.faults),
    String(c.runs),
    String(c.accepted),
    c.agentAccepted === null ? '-' : String(c.agentAccepted),
    String(c.lost),
    String(c.duplicated),
    String(c.lateWithoutBackfill),
    String(c.staleAlarmsLive),
    c.queueLeft === null ? 'unknown' : String(c.queueLeft),
    fmt(c.seconds, 0),
  ];
  const markdown = [
    `A full bed (${devices.map((d) => `\`${d}\``).join(', ')}) into a local Mosquitto with persistence saved only on a clean exit, the`,
    'bench station confirming delivery with receipts (`queue.confirmBy: ["station"]`, docs/interfaces/mqtt.md, Delivery receipts).',
    'Counted per gateway run at the station: lost (numbers below the run\'s highest never received), duplicated (dropped',
    `by message id), late without the backfill flag (received live more than ${LATE_MS / 1000} s after acceptance) and stale`,
    'alarms raised as live (alarm changes to active among those). "Queue left": the agent\'s queue depth at the end (0: every',
    'message confirmed by a receipt). "Accepted (agent)": the agent\'s own count of accepted messages at its last heartbeat',
    '(the broker phase is one run, so it must equal the numbered messages; the agent phase has one count per run).',
    '',
    table(
      ['phase', 'kills', 'gateway runs', 'numbered messages', 'accepted (agent)', 'lost', 'duplicated', 'late, no backfill flag', 'stale alarms live', 'queue left', 's'],
      [row('broker SIGKILL', broker), row('agent SIGKILL', agent)],
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    'Late without the flag, where any: messages MQTT.js had in flight when the connection dropped are re-sent by it',
    'as first sent, without the flag (docs/interfaces/mqtt.md, What it does not promise); their own times still give their age.',
  ].join('\n');
  return {
    name: 'soak',
    title: 'Soak under faults (broker and agent kills)',
    measuredAt: new Date(started).toISOString(),
    machine: machine(),
    command: `node dist/test/support/bench/soak.js --broker-kills ${o.brokerKills} --agent-kills ${o.agentKills}`,
    seconds: round((Date.now() - started) / 1000, 0),
    figures,
    markdown,
    details: { broker, agent, benchDir: BENCH_DIR },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'broker-kills': { type: 'string', default: '100' }, 'agent-kills': { type: 'string', default: '100' } } });
  const result = await runSoak({ brokerKills: Number(values['broker-kills']), agentKills: Number(values['agent-kills']) });
  writeResult(result);
  printFigures(result);
  process.stdout.write(`${result.markdown}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
