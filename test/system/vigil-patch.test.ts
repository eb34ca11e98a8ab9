/**
 * System test of the sensor patch: hw-sim's patch on a real pseudo-terminal (its ECG, PPG and
 * accelerometer made from the seeded model), the real agent process (its vigil-patch driver
 * and the native signal processing), a real Mosquitto, and a subscriber decoding what the
 * station receives. One run, one timeline of device seconds:
 *
 *    0-20 s  clean signals      20-23 s  a bit error in one frame of every 200 ms block
 *   23-48 s  clean signals      48-56 s  electrodes off (leads off)
 *
 * The values are compared with hw-sim's ground truth (the rates the signals were made with).
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MqttLink } from '../../agent/src/io/mqtt';
import { memoryLogger } from '../../agent/src/log';
import { decodeEnvelope } from '../../agent/src/proto/codec';
import type { EnvelopeMsg, ObservationMsg } from '../../agent/src/proto/codec';
import { startBroker } from '../support/broker';
import type { Broker } from '../support/broker';
import { startAgentProcess, startHwSim, writeAgentConfig } from '../support/processes';
import type { AgentProcess, HwSim } from '../support/processes';

interface Received {
  topic: string;
  env: EnvelopeMsg;
  atMs: number;
}

const BIT_ERRORS = { fromS: 20, durationS: 3 };
const LEADS_OFF = { fromS: 48, durationS: 8 };

async function subscriber(broker: Broker): Promise<{ link: MqttLink; got: Received[] }> {
  const link = new MqttLink(
    { url: broker.url, protocolVersion: 5, clientId: `test-sub-${process.pid}-${Math.random()}`, keepaliveSec: 10, reconnectPeriodMs: 200, insecure: true },
    memoryLogger(),
  );
  const got: Received[] = [];
  link.on('message', (topic, payload) => {
    if (payload.length > 0) got.push({ topic, env: decodeEnvelope(payload), atMs: Date.now() });
  });
  await new Promise<void>((resolve) => link.once('connect', () => resolve()));
  await link.subscribe('vigil/v1/#', 1);
  return { link, got };
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const observations = (got: Received[], parameter: string): ObservationMsg[] =>
  got.filter((r) => r.topic.endsWith(`/obs/${parameter}`) && r.env.observation).map((r) => r.env.observation!);

/** The ground-truth second hw-sim reported closest before the observation's receive time. */
function truthFor(sim: HwSim, o: ObservationMsg): Record<string, unknown> | undefined {
  const received = Number(o.receiveWallMs);
  let best: Record<string, unknown> | undefined;
  for (const f of sim.frames) if (Number(f.sentWallMs) <= received + 5) best = f;
  return best;
}

function meanAbsError(sim: HwSim, obs: ObservationMsg[], truthKey: string): { mae: number; max: number; n: number } {
  const errors = obs.map((o) => Math.abs(o.value - Number(truthFor(sim, o)?.[truthKey])));
  return {
    mae: errors.reduce((a, b) => a + b, 0) / Math.max(1, errors.length),
    max: Math.max(0, ...errors),
    n: errors.length,
  };
}

let broker: Broker;
let sub: { link: MqttLink; got: Received[] };
let sim: HwSim;
let agent: AgentProcess;

t.before(async () => {
  broker = await startBroker();
  sub = await subscriber(broker);
  sim = await startHwSim([
    'vigil-patch',
    '--seed', '7',
    '--scenario', 'stable',
    '--inject', `bit-error@${BIT_ERRORS.fromS}:${BIT_ERRORS.durationS},leads-off@${LEADS_OFF.fromS}:${LEADS_OFF.durationS}`,
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-patch-sys-'));
  const config = writeAgentConfig(dir, {
    brokerUrl: broker.url,
    devicePath: sim.path,
    heartbeatIntervalMs: 1000,
    interface: { id: 'patch', driver: 'vigil-patch', path: sim.path, baudRate: 921600 },
  });
  agent = startAgentProcess(config);
});

t.teardown(async () => {
  await agent?.stop('SIGKILL');
  await sim?.stop('SIGKILL');
  await sub?.link.end(true);
  await broker?.stop();
});

const deviceSecond = (): number => Math.max(-1, ...sim.frames.map((f) => Number(f.index)));

t.test(
  'REQ-PATCH-001 the patch ECG, PPG and accelerometer become heartRate, spo2, pulseRate and respRate at the subscriber, close to the truth',
  async (t) => {
    // The respiration rate needs its 32 s window: wait until it is published.
    await until('a respiration rate from the patch', () => observations(sub.got, 'respRate').some((o) => o.hasValue), 60_000);
    await until('device second 45', () => deviceSecond() >= 45, 20_000);
    const clean = (o: ObservationMsg): boolean => o.hasValue && o.quality.length === 0;
    const hr = observations(sub.got, 'heartRate').filter(clean);
    const spo2 = observations(sub.got, 'spo2').filter(clean);
    const pulse = observations(sub.got, 'pulseRate').filter(clean);
    const resp = observations(sub.got, 'respRate').filter(clean);
    t.ok(hr.length >= 20 && spo2.length >= 20 && pulse.length >= 20 && resp.length >= 3, `values of each (${hr.length}, ${spo2.length}, ${pulse.length}, ${resp.length})`);
    const e = {
      heartRate: meanAbsError(sim, hr, 'heartRateBpm'),
      spo2: meanAbsError(sim, spo2, 'spo2Percent'),
      pulseRate: meanAbsError(sim, pulse, 'pulseRateBpm'),
      respRate: meanAbsError(sim, resp, 'respRatePerMin'),
    };
    t.comment(`errors against hw-sim's truth: ${JSON.stringify(e)}`);
    t.ok(e.heartRate.mae <= 2 && e.heartRate.max <= 4, `heart rate MAE ${e.heartRate.mae.toFixed(2)} /min, max ${e.heartRate.max}`);
    t.ok(e.spo2.mae <= 1.5 && e.spo2.max <= 3, `SpO2 MAE ${e.spo2.mae.toFixed(2)} %, max ${e.spo2.max}`);
    t.ok(e.pulseRate.mae <= 2 && e.pulseRate.max <= 4, `pulse MAE ${e.pulseRate.mae.toFixed(2)} /min, max ${e.pulseRate.max}`);
    t.ok(e.respRate.mae <= 2 && e.respRate.max <= 3, `respiration MAE ${e.respRate.mae.toFixed(2)} /min, max ${e.respRate.max}`);
    const first = hr[0]!;
    t.equal(first.unitUcum, '/min');
    t.equal(first.status, 'RESULT_STATUS_FINAL');
    t.equal(first.source.driver, 'vigil-patch');
    t.equal(first.source.serialNumber, '00C0FFEE', 'the patch identity travels with the value');
    t.equal(first.loinc, '8867-4');
    t.ok(Number(first.deviceTimeMs) > 0 && first.deviceTimeText.startsWith('tick='), 'device time from the patch tick');
    t.equal(observations(sub.got, 'spo2')[0]?.unitUcum, '%');
    const skin = observations(sub.got, 'skinTemperature').find((o) => o.hasValue);
    t.equal(skin?.unitUcum, 'Cel', 'skin temperature is published under its own parameter');
    t.notOk(observations(sub.got, 'temperature').length, 'and never as body temperature');
    // The score takes heart rate, SpO2 and respiration from the patch, never skin temperature.
    const score = [...sub.got].reverse().find((r) => r.env.score)?.env.score;
    t.ok(score, 'a NEWS2 score is published');
    t.notOk(score?.missing.includes('pulseBpm'), 'pulse from the patch feeds the score');
    t.notOk(score?.missing.includes('spo2Percent'), 'SpO2 from the patch feeds the score');
    t.ok(score?.missing.includes('tempCelsius'), 'skin temperature does not feed NEWS2 temperature');
    t.equal(agent.process.exitCode, null, 'agent still running');
  },
);

t.test('HAZ-008 REQ-PATCH-003 bit errors are caught by the CRC, counted, and alarmed above the rate; values carry on', async (t) => {
  const counters = await until(
    'a status counting the checksum rejects',
    () => {
      const s = [...sub.got].reverse().find((r) => r.env.status?.online)?.env.status;
      const c = Object.fromEntries((s?.interfaces[0]?.counters ?? []).map((x) => [x.name, Number(x.value)]));
      return (c['frames-rejected.checksum'] ?? 0) >= 10 ? c : undefined;
    },
    10_000,
  );
  // One frame of each 200 ms block for 3 s: 15 frames.
  t.equal(counters['frames-rejected.checksum'], BIT_ERRORS.durationS * 5, 'every corrupted frame is rejected by its CRC');
  const alarm = sub.got.find((r) => r.topic.endsWith('/alarm/patch.frames-rejected'))?.env.alarm;
  t.equal(alarm?.kind, 'ALARM_KIND_TECHNICAL', 'the reject rate raises a technical alarm');
  const flagged = observations(sub.got, 'heartRate').concat(observations(sub.got, 'spo2')).filter((o) => o.quality.includes('QUALITY_FLAG_LOW_SIGNAL_QUALITY'));
  t.ok(flagged.length > 0, 'values of the seconds with lost frames are flagged (kept out of the score)');
  const endOfErrors = sim.frames.find((f) => Number(f.index) === BIT_ERRORS.fromS + BIT_ERRORS.durationS + 1);
  const after = observations(sub.got, 'heartRate').filter((o) => o.hasValue && o.quality.length === 0 && Number(o.receiveWallMs) > Number(endOfErrors?.sentWallMs));
  t.ok(after.length >= 10, 'clean heart rates go on after the bit errors');
  t.ok(agent.logs.some((l) => /"event":"frame-rejected".*"reason":"checksum"/.test(l)), 'logged with its reason');
});

t.test('HAZ-009 REQ-PATCH-002 leads off: heartRate unavailable with its reason, and a technical alarm', async (t) => {
  const off = await until(
    'heartRate unavailable with leads-off',
    () => observations(sub.got, 'heartRate').find((o) => !o.hasValue && o.unavailableReason === 'leads-off'),
    (LEADS_OFF.fromS + 10) * 1000,
  );
  t.equal(off.status, 'RESULT_STATUS_CANNOT_OBTAIN');
  t.ok(off.quality.includes('QUALITY_FLAG_SENSOR_OFF'), 'flagged sensor off');
  const alarm = await until('the sensor-off alarm', () => sub.got.find((r) => r.topic.endsWith('/alarm/patch.sensor-off'))?.env.alarm, 5000);
  t.equal(alarm.kind, 'ALARM_KIND_TECHNICAL');
  t.equal(alarm.state, 'ALARM_STATE_ACTIVE');
  // The optical channel is unaffected: SpO2 goes on during leads off.
  await until('SpO2 during leads off', () => observations(sub.got, 'spo2').some((o) => o.hasValue && Number(o.receiveWallMs) > Number(off.receiveWallMs)), 5000);
  // NEWS2 pulse falls back to the PPG pulse rate (the configured priority: ECG first, then pulse).
  const score = await until(
    'a score without the ECG heart rate',
    () => sub.got.find((r) => r.atMs > Number(off.receiveWallMs) && r.env.score && (r.env.score.inputs ?? []).some((i) => i.field === 'pulseBpm'))?.env.score,
    5000,
  );
  const pulseInput = score.inputs?.find((i) => i.field === 'pulseBpm');
  t.equal(pulseInput?.parameter, 'pulseRate', 'the score takes the pulse rate while the heart rate is unavailable');
  t.equal(agent.process.exitCode, null, 'agent still running');
});
