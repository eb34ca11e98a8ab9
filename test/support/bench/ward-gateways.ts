/**
 * Simulated gateways for the ward benchmark, many in one process: each is the agent's own
 * Publisher (agent/src/publish/publisher.ts: envelopes, sequence numbers, topics, QoS, retain
 * and expiry of each message type) and AlarmBook (safety/alarms.ts), over its own MQTT
 * connection through the agent's io/mqtt.ts, with its own last will. No devices, no durable
 * queue (the full-bed benchmark measures those): the Publisher writes straight to the link.
 *
 * Each gateway publishes what a full bed publishes (docs/benchmarks.md, full bed): every
 * second 13 observations (pulse oximeter 3, monitor 4, patch 6) and 3 scores, a status
 * heartbeat every 5 s with the re-announcement of its active alarms, and alarm changes: a
 * technical alarm raised at a seeded random time in every 30 s and cleared 5 s later. Its
 * second starts at a seeded random phase.
 *
 *   node dist/test/support/bench/ward-gateways.js --url mqtt://... --first 0 --count 100 [--seed 1]
 *
 * stdout: `{"connected": count}` once every gateway is connected; at SIGTERM one
 * `{"summary": {...}}` line (messages and alarm changes published, publish failures).
 */
import { parseArgs } from 'node:util';
import { createRng } from '../../../hw-sim/src/rng';
import { systemClock } from '../../../agent/src/clock';
import { MqttLink } from '../../../agent/src/io/mqtt';
import { createLogger } from '../../../agent/src/log';
import type { EarlyWarningScoreMsg, GatewayStatusMsg, ObservationMsg } from '../../../agent/src/proto/codec';
import { Publisher } from '../../../agent/src/publish/publisher';
import { AlarmBook } from '../../../agent/src/safety/alarms';

const OBSERVATIONS: Array<[interfaceId: string, driver: string, parameter: string, unit: string, value: number]> = [
  ['spo2', 'masimo-ascii', 'spo2', '%', 97],
  ['spo2', 'masimo-ascii', 'pulseRate', '/min', 72],
  ['spo2', 'masimo-ascii', 'perfusionIndex', '%', 3.1],
  ['monitor', 'hl7-pcd01', 'spo2', '%', 96],
  ['monitor', 'hl7-pcd01', 'pulseRate', '/min', 73],
  ['monitor', 'hl7-pcd01', 'heartRate', '/min', 73],
  ['monitor', 'hl7-pcd01', 'respRate', '/min', 15],
  ['patch', 'vigil-patch', 'heartRate', '/min', 72],
  ['patch', 'vigil-patch', 'pulseRate', '/min', 72],
  ['patch', 'vigil-patch', 'spo2', '%', 97],
  ['patch', 'vigil-patch', 'perfusionIndex', '%', 2.9],
  ['patch', 'vigil-patch', 'respRate', '/min', 14],
  ['patch', 'vigil-patch', 'skinTemperature', 'Cel', 34.2],
];
const SCORES_PER_SECOND = 3;
const HEARTBEAT_MS = 5000;
const ALARM_EVERY_S = 30;
const ALARM_LASTS_S = 5;

interface Counts {
  messages: number;
  alarmChanges: number;
  failed: number;
}

function observation(o: (typeof OBSERVATIONS)[number], nowMs: number, jitter: number): ObservationMsg {
  const [interfaceId, driver, parameter, unitUcum, value] = o;
  return {
    parameter,
    value: Math.round((value + jitter) * 10) / 10,
    hasValue: true,
    unitUcum,
    loinc: '',
    status: 'RESULT_STATUS_FINAL',
    quality: [],
    source: { driver, interfaceId, serialNumber: '', port: `/dev/vigil-${interfaceId}` },
    deviceTimeMs: nowMs,
    deviceTimeText: '',
    receiveWallMs: nowMs,
    receiveMonoNs: '0',
    maxAgeMs: 10_000,
    unavailableReason: '',
  };
}

function score(nowMs: number): EarlyWarningScoreMsg {
  return {
    scheme: 'NEWS2',
    total: 1,
    points: [{ parameter: 'respRate', points: 0 }, { parameter: 'spo2', points: 0 }, { parameter: 'pulseRate', points: 0 }],
    riskLevel: 'RISK_LEVEL_LOW',
    complete: false,
    missing: ['systolicBloodPressure', 'temperature'],
    spo2Scale: 1,
    computedWallMs: nowMs,
    computedMonoNs: '0',
    oldestInputWallMs: nowMs,
  };
}

function status(online: boolean, startedWallMs: number): GatewayStatusMsg {
  return {
    online,
    reason: online ? 'heartbeat' : 'last-will',
    interfaces: ['spo2', 'monitor', 'patch'].map((interfaceId) => ({
      interfaceId,
      driver: interfaceId,
      state: 'LINK_STATE_STREAMING',
      reason: 'valid frames',
      lastValidFrameWallMs: Date.now(),
      counters: [{ name: 'frames-valid', value: 1 }],
    })),
    counters: [{ name: 'published', value: 1 }],
    startedWallMs,
    heartbeatIntervalMs: HEARTBEAT_MS,
    softwareVersion: 'ward-bench',
  };
}

/** One simulated gateway; resolves once its link is connected. */
async function startGateway(index: number, url: string, seed: number, counts: Counts): Promise<{ stop(): Promise<void> }> {
  const rng = createRng(seed + index);
  const identity = { gatewayId: `gw-ward-${index}`, siteId: 'site1', wardId: 'ward-bench', bedId: `bed${index}` };
  const logger = createLogger('error');
  const startedWallMs = Date.now();
  let link: MqttLink | null = null;
  const sink = {
    publish: (topic: string, payload: Uint8Array, options: { qos: 0 | 1 | 2; retain: boolean; expirySec?: number; contentType?: string }) =>
      (link as MqttLink).publish(topic, payload, options),
    get connected() {
      return link?.connected;
    },
  };
  const publisher = new Publisher(sink, identity, systemClock, logger);
  link = new MqttLink(
    {
      url,
      protocolVersion: 5,
      clientId: `ward-${identity.gatewayId}-${process.pid}`,
      keepaliveSec: 30,
      reconnectPeriodMs: 1000,
      insecure: true,
      will: { ...publisher.willMessage(status(false, startedWallMs)), qos: 1, retain: true },
    },
    logger,
  );
  link.on('error', () => undefined);
  await new Promise<void>((resolve) => (link as MqttLink).once('connect', () => resolve()));
  const alarms = new AlarmBook(systemClock);
  const send = (p: Promise<void>): void => {
    counts.messages += 1;
    void p.catch(() => (counts.failed += 1));
  };
  let second = 0;
  const alarmAt = rng.int(0, ALARM_EVERY_S - 1);
  const heartbeatEvery = HEARTBEAT_MS / 1000;
  const tick = (): void => {
    const now = Date.now();
    for (const o of OBSERVATIONS) send(publisher.observationMsg(observation(o, now, rng.normal(0, 0.5))));
    for (let s = 0; s < SCORES_PER_SECOND; s += 1) send(publisher.score(score(now)));
    const phase = second % ALARM_EVERY_S;
    if (phase === alarmAt) {
      const msg = alarms.raise('sensor-off', 'patch', 'device reports sensor off or no sensor');
      if (msg) {
        counts.alarmChanges += 1;
        send(publisher.alarm(msg));
      }
    } else if (phase === (alarmAt + ALARM_LASTS_S) % ALARM_EVERY_S) {
      const msg = alarms.clear('sensor-off', 'patch');
      if (msg) {
        counts.alarmChanges += 1;
        send(publisher.alarm(msg));
      }
    }
    if (second % heartbeatEvery === 0) {
      send(publisher.status(status(true, startedWallMs)));
      for (const a of alarms.list()) send(publisher.alarmReminder(a));
    }
    second += 1;
  };
  // Each gateway's second starts at its own phase, drift-free afterwards.
  const phaseMs = rng.int(0, 999);
  const t0 = performance.now() + phaseMs;
  let n = 0;
  let timer: NodeJS.Timeout | null = null;
  const schedule = (): void => {
    timer = setTimeout(() => {
      tick();
      n += 1;
      schedule();
    }, Math.max(0, t0 + n * 1000 - performance.now()));
  };
  schedule();
  return {
    async stop() {
      if (timer) clearTimeout(timer);
      await (link as MqttLink).end(false);
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { url: { type: 'string' }, first: { type: 'string', default: '0' }, count: { type: 'string', default: '100' }, seed: { type: 'string', default: '1' } },
  });
  const first = Number(values.first);
  const count = Number(values.count);
  const seed = Number(values.seed);
  if (!values.url || !Number.isInteger(first) || !Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) {
    process.stderr.write('usage: ward-gateways --url mqtt://... [--first 0] [--count 100] [--seed 1]\n');
    process.exit(2);
  }
  const counts: Counts = { messages: 0, alarmChanges: 0, failed: 0 };
  const gateways = await Promise.all(Array.from({ length: count }, (_, i) => startGateway(first + i, values.url as string, seed, counts)));
  process.stdout.write(`${JSON.stringify({ connected: gateways.length })}\n`);
  const stop = (): void => {
    void Promise.all(gateways.map((g) => g.stop())).then(() => {
      process.stdout.write(`${JSON.stringify({ summary: counts })}\n`, () => process.exit(0));
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`ward-gateways: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
