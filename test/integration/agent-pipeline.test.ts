/**
 * The agent's stages wired together (driver -> validation -> native score -> alarms ->
 * publisher) on a fake clock, with the real decoder, the real native addon and a fake
 * MQTT sink. Frames are fed straight into the driver; no port, no broker, no sleeping.
 */
import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import type { MasimoInterfaceConfig } from '../../agent/src/config';
import { MasimoAsciiDriver } from '../../agent/src/drivers/masimo-ascii/driver';
import { memoryLogger } from '../../agent/src/log';
import { startAgent } from '../../agent/src/main';
import { scoreNews2 } from '../../agent/src/native/addon';
import type { News2Input } from '../../agent/src/native/addon';
import { decodeEnvelope } from '../../agent/src/proto/codec';
import type { EnvelopeMsg } from '../../agent/src/proto/codec';
import type { PublishOptions } from '../../agent/src/io/mqtt';
import { loadTestNative } from '../support/native-test-hooks';

const config = parseConfig({
  gateway: { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' },
  mqtt: { url: 'mqtt://127.0.0.1:1', insecure: true, heartbeatIntervalMs: 60000 },
  interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/null-device', quietTimeMs: 3000 }],
});

const deviceTime = (wallMs: number): string => {
  const d = new Date(wallMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${p(d.getUTCFullYear() % 100)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
};
const LINE = (spo2: string, bpm: string, exc = '000000', wallMs = Date.UTC(2026, 0, 1, 10, 0, 0)) =>
  Buffer.from(`${deviceTime(wallMs)} SN=0000056661 SPO2=${spo2}% BPM=${bpm} PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=${exc}`);

function setup() {
  const clock = new FakeClock();
  const logger = memoryLogger();
  const driver = new MasimoAsciiDriver(config.interfaces[0] as MasimoInterfaceConfig, clock, logger);
  const sent: Array<{ topic: string; env: EnvelopeMsg; options: PublishOptions }> = [];
  const agent = startAgent({
    config,
    clock,
    logger,
    scorer: scoreNews2,
    drivers: [driver],
    tickMs: 3_600_000,
    connect: (will) => {
      sent.push({ topic: will.topic, env: decodeEnvelope(will.payload), options: { qos: 1, retain: true } });
      return {
        publish: async (topic, payload, options) => {
          sent.push({ topic, env: decodeEnvelope(payload), options });
        },
        end: async () => undefined,
      };
    },
  });
  const feed = (line: Buffer) => driver.handleFrame(line, { wallMs: clock.wallMs(), monoNs: clock.monoNs() });
  return { clock, logger, driver, sent, agent, feed };
}

const ofKind = <T extends { topic: string }>(sent: T[], suffix: string): T[] => sent.filter((s) => s.topic.endsWith(suffix));

t.test('REQ-AGENT-001 a valid frame becomes observations with both clocks and an incomplete NEWS2 score', async (t) => {
  const { sent, agent, feed, clock } = setup();
  t.teardown(() => agent.stop('test'));
  feed(LINE('098', '097'));
  const spo2 = ofKind(sent, '/obs/spo2')[0]?.env;
  t.equal(spo2?.observation?.value, 98);
  t.equal(spo2?.observation?.unitUcum, '%');
  t.equal(spo2?.observation?.status, 'RESULT_STATUS_FINAL');
  t.equal(spo2?.observation?.loinc, '59408-5');
  t.equal(Number(spo2?.observation?.receiveWallMs), clock.wallMs(), 'gateway wall clock');
  t.equal(spo2?.observation?.receiveMonoNs, clock.monoNs().toString(), 'gateway monotonic clock');
  t.equal(Number(spo2?.observation?.deviceTimeMs), Date.UTC(2026, 0, 1, 10, 0, 0), 'device clock');
  t.equal(ofKind(sent, '/obs/spo2')[0]?.options.expirySec, 5, 'MQTT expiry = max age');
  const pulse = ofKind(sent, '/obs/pulseRate')[0]?.env;
  t.equal(pulse?.observation?.value, 97);
  t.equal(pulse?.observation?.unitUcum, '/min');
  const score = ofKind(sent, '/score')[0]?.env.score;
  t.equal(score?.complete, false, 'SpO2 and pulse only: incomplete');
  t.same(score?.missing, ['respRatePerMin', 'onOxygen', 'systolicMmHg', 'consciousness', 'tempCelsius']);
  t.equal(score?.total, 1, 'pulse 97 -> 1 point, SpO2 98 -> 0');
  t.equal(score?.riskLevel, 'RISK_LEVEL_LOW');
  // State messages (status: sequence 0) are outside the numbered stream (docs/interfaces/mqtt.md).
  const seqs = sent.slice(1).map((s) => Number(s.env.sequence)).filter((n) => n > 0);
  t.same(seqs, seqs.map((_, i) => seqs[0]! + i), 'sequence numbers increase by one');
});

t.test('REQ-AGENT-002 HAZ-003 a silent device: values withdrawn, score incomplete, technical alarm', async (t) => {
  const { sent, agent, feed, clock } = setup();
  t.teardown(() => agent.stop('test'));
  feed(LINE('098', '097'));
  sent.length = 0;
  clock.advanceMs(3100);
  agent.tick();
  const withdrawn = ofKind(sent, '/obs/spo2').map((s) => s.env.observation);
  t.equal(withdrawn[0]?.hasValue, false, 'spo2 withdrawn');
  t.equal(withdrawn[0]?.status, 'RESULT_STATUS_UNAVAILABLE');
  t.equal(withdrawn[0]?.unavailableReason, 'link-stale');
  const score = ofKind(sent, '/score').at(-1)?.env.score;
  t.ok(score?.missing.includes('spo2Percent'), 'score no longer uses SpO2');
  t.ok(score?.missing.includes('pulseBpm'));
  const alarm = sent.find((s) => s.topic.endsWith('/alarm/spo2.link-stale'))?.env.alarm;
  t.equal(alarm?.state, 'ALARM_STATE_ACTIVE');
  t.equal(alarm?.kind, 'ALARM_KIND_TECHNICAL');
  t.equal(alarm?.priority, 'ALARM_PRIORITY_MEDIUM');
  sent.length = 0;
  feed(LINE('097', '080'));
  const cleared = sent.find((s) => s.topic.endsWith('/alarm/spo2.link-stale'))?.env.alarm;
  t.equal(cleared?.state, 'ALARM_STATE_CLEARED', 'recovery clears the alarm');
  t.equal(ofKind(sent, '/obs/spo2')[0]?.env.observation?.value, 97, 'data resumes');
});

t.test('REQ-AGENT-003 malformed and unknown-field frames are rejected, counted, alarmed above a rate, and do not stop the agent', async (t) => {
  const { sent, agent, feed, logger } = setup();
  t.teardown(() => agent.stop('test'));
  feed(Buffer.from('01/01/26 10:00:00 SPO2=0x8% BPM=097 ALARM=0000 EXC=000000'));
  feed(Buffer.from(`${LINE('098', '097').toString()} FOO=1`));
  const rejected = logger.records.filter((r) => r.event === 'frame-rejected');
  t.same(rejected.map((r) => r.reason), ['malformed', 'unsupported-variant']);
  t.ok(rejected.every((r) => !String(r.detail).includes('098')), 'the detail never echoes a value');
  t.equal(ofKind(sent, '/obs/spo2').length, 0, 'nothing from a rejected frame is published');
  feed(Buffer.from('\u0001\u0002garbage'));
  const alarm = sent.find((s) => s.topic.endsWith('/alarm/spo2.frames-rejected'))?.env.alarm;
  t.equal(alarm?.state, 'ALARM_STATE_ACTIVE', 'three rejects within the window raise a technical alarm');
  const status = agent.statusMessage(true, 'test');
  const counters = Object.fromEntries(status.interfaces[0]!.counters.map((c) => [c.name, Number(c.value)]));
  t.equal(counters['frames-rejected.malformed'], 1);
  t.equal(counters['frames-rejected.unsupported-variant'], 1);
  t.equal(counters['frames-rejected.framing'], 1);
  feed(LINE('098', '097'));
  t.equal(ofKind(sent, '/obs/spo2').length, 1, 'the next good frame is used');
});

t.test('REQ-AGENT-004 sensor off: values published as cannot-obtain with the reason and a technical alarm', async (t) => {
  const { sent, agent, feed } = setup();
  t.teardown(() => agent.stop('test'));
  feed(LINE('098', '097'));
  feed(LINE('---', '---', '000020'));
  const spo2 = ofKind(sent, '/obs/spo2').at(-1)?.env.observation;
  t.equal(spo2?.hasValue, false);
  t.equal(spo2?.status, 'RESULT_STATUS_CANNOT_OBTAIN');
  t.equal(spo2?.unavailableReason, 'sensor-off');
  t.ok(spo2?.quality.includes('QUALITY_FLAG_SENSOR_OFF'));
  t.ok(ofKind(sent, '/score').at(-1)?.env.score?.missing.includes('spo2Percent'), 'score loses SpO2 at once');
  t.equal(sent.find((s) => s.topic.endsWith('/alarm/spo2.sensor-off'))?.env.alarm?.state, 'ALARM_STATE_ACTIVE');
});

t.test('REQ-AGENT-005 the last will is the retained offline status', async (t) => {
  const { sent, agent } = setup();
  t.teardown(() => agent.stop('test'));
  const will = sent[0]!;
  t.match(will.topic, /^vigil\/v1\/site1\/ward7\/bed12\/status$/);
  t.equal(will.env.status?.online, false);
  t.equal(will.env.status?.reason, 'last-will');
});

t.test('HAZ-011 a different device on the port is not attributed to the bed until the change is confirmed', async (t) => {
  const { sent, agent, feed, driver } = setup();
  t.teardown(() => agent.stop('test'));
  feed(LINE('098', '097'));
  const other = Buffer.from(LINE('090', '110').toString().replace('SN=0000056661', 'SN=0000099999'));
  sent.length = 0;
  feed(other);
  t.equal(ofKind(sent, '/obs/spo2').length, 0, 'nothing from the other device is published');
  const alarm = sent.find((s) => s.topic.endsWith('/alarm/spo2.device-identity'))?.env.alarm;
  t.equal(alarm?.state, 'ALARM_STATE_ACTIVE');
  t.equal(alarm?.priority, 'ALARM_PRIORITY_HIGH');
  t.equal(driver.confirmDeviceChange(), 'confirmed', 'a pending change can be confirmed');
  feed(other);
  t.equal(ofKind(sent, '/obs/spo2').at(-1)?.env.observation?.value, 90, 'after confirmation its values are used');
});

t.test('REQ-SAFE-020 a panic inside the native addon loses that score only: counted, alarmed on repetition, no crash', async (t) => {
  const clock = new FakeClock();
  const logger = memoryLogger();
  const driver = new MasimoAsciiDriver(config.interfaces[0] as MasimoInterfaceConfig, clock, logger);
  const sent: Array<{ topic: string; env: EnvelopeMsg }> = [];
  // The real addon (its test build, which has the panic hook), made to panic when the pulse is 150.
  const addon = loadTestNative();
  const scorer = (input: News2Input) => {
    if (input.pulseBpm === 150) addon.panicForTest('injected fault');
    return addon.scoreNews2(input);
  };
  const agent = startAgent({
    config,
    clock,
    logger,
    scorer,
    drivers: [driver],
    tickMs: 3_600_000,
    connect: () => ({
      publish: async (topic, payload) => {
        sent.push({ topic, env: decodeEnvelope(payload) });
      },
      end: async () => undefined,
    }),
  });
  t.teardown(() => agent.stop('test'));
  const feed = (line: Buffer) => driver.handleFrame(line, { wallMs: clock.wallMs(), monoNs: clock.monoNs() });
  for (let i = 0; i < 3; i++) {
    clock.advanceMs(1000);
    feed(LINE('097', '150'));
  }
  t.equal(ofKind(sent, '/score').length, 0, 'no score from a failed computation');
  t.equal(ofKind(sent, '/obs/spo2').length, 3, 'observations still flow');
  const alarm = sent.find((s) => s.topic.endsWith('/alarm/gateway.native-failure'))?.env.alarm;
  t.equal(alarm?.state, 'ALARM_STATE_ACTIVE', 'repeated failures raise a technical alarm');
  const counters = Object.fromEntries(agent.statusMessage(true, 't').counters.map((c) => [c.name, Number(c.value)]));
  t.equal(counters['native-failures'], 3);
  feed(LINE('097', '080'));
  t.equal(ofKind(sent, '/score').length, 1, 'the next computation succeeds');
});

t.test('REQ-SAFE-021 HAZ-009 a device repeating identical values is flagged frozen, kept out of the score and alarmed after the window', async (t) => {
  const { sent, agent, feed, clock } = setup();
  t.teardown(() => agent.stop('test'));
  for (let i = 0; i <= 31; i++) {
    feed(LINE('097', '072', '000000', clock.wallMs()));
    clock.advanceMs(1000);
  }
  const alarm = sent.find((s) => s.topic.endsWith('/alarm/spo2.frozen-values'))?.env.alarm;
  t.equal(alarm?.state, 'ALARM_STATE_ACTIVE', 'alarm after 30 s of identical values');
  const last = ofKind(sent, '/obs/spo2').at(-1)?.env.observation;
  t.ok(last?.quality.includes('QUALITY_FLAG_FROZEN'), 'values flagged frozen');
  t.ok(ofKind(sent, '/score').at(-1)?.env.score?.missing.includes('spo2Percent'), 'a frozen value does not feed the score');
  const early = ofKind(sent, '/obs/spo2')[5]?.env.observation;
  t.notOk(early?.quality.includes('QUALITY_FLAG_FROZEN'), 'not flagged before the window');
  feed(LINE('097', '073', '000000', clock.wallMs()));
  t.equal(sent.filter((s) => s.topic.endsWith('/alarm/spo2.frozen-values')).at(-1)?.env.alarm?.state, 'ALARM_STATE_CLEARED', 'a change clears it');
});

t.test('REQ-SAFE-022 HAZ-003 a gateway wall-clock step (NTP) changes no age and no timeout: both use the monotonic clock', async (t) => {
  const { sent, agent, feed, clock } = setup();
  t.teardown(() => agent.stop('test'));
  feed(LINE('098', '097'));
  clock.stepWallMs(-3_600_000); // wall clock steps back an hour
  clock.advanceMs(1000);
  agent.tick();
  t.equal(sent.filter((s) => s.env.observation?.status === 'RESULT_STATUS_UNAVAILABLE').length, 0, 'nothing withdrawn after 1 s');
  clock.stepWallMs(+7_200_000); // and forward two hours
  agent.tick();
  t.equal(sent.filter((s) => s.env.observation?.status === 'RESULT_STATUS_UNAVAILABLE').length, 0, 'a forward step expires nothing');
  const score = ofKind(sent, '/score').at(-1)?.env.score;
  t.notOk(score?.missing.includes('spo2Percent'), 'SpO2 still current in the score');
  clock.advanceMs(2500); // 3.5 s of real (monotonic) time: past the 3 s quiet time
  agent.tick();
  t.ok(sent.some((s) => s.topic.endsWith('/alarm/spo2.link-stale')), 'the quiet time still runs on monotonic time');
});
