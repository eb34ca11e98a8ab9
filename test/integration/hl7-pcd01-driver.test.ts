/**
 * The HL7 PCD-01 driver wired into the agent (driver -> validation -> native score -> alarms
 * -> publisher) on a fake clock, frames fed straight into the driver with the ACKs collected;
 * and the driver on a real TCP and TLS listener on the loopback interface.
 */
import t from 'tap';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { FakeClock, systemClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import type { Config, Hl7Pcd01InterfaceConfig } from '../../agent/src/config';
import { Hl7Pcd01Driver } from '../../agent/src/drivers/hl7-pcd01/driver';
import { HL7_MAX_SEGMENTS } from '../../agent/src/drivers/hl7-pcd01/hl7v2';
import { decodePcd01 } from '../../agent/src/drivers/hl7-pcd01/pcd01';
import { frameMllp, MllpSplitter, unwrapMllp } from '../../agent/src/framing/mllp';
import type { PublishOptions } from '../../agent/src/io/mqtt';
import { memoryLogger } from '../../agent/src/log';
import { startAgent } from '../../agent/src/main';
import { scoreNews2 } from '../../agent/src/native/addon';
import { decodeEnvelope } from '../../agent/src/proto/codec';
import type { EnvelopeMsg } from '../../agent/src/proto/codec';
import { freePort } from '../support/broker';
import { createPki } from '../support/pki';
import { alertMessage, EUI64, monitorMessage, monitorObx, PATIENT_ID } from '../support/hl7-pcd01-fixtures';

function configWith(itf: Record<string, unknown>): Config {
  return parseConfig({
    gateway: { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' },
    mqtt: { url: 'mqtt://127.0.0.1:1', insecure: true, heartbeatIntervalMs: 60000 },
    interfaces: [{ id: 'monitor', driver: 'hl7-pcd01', quietTimeMs: 10_000, scoreUnverified: true, ...itf }],
    patient: { patientId: PATIENT_ID },
  });
}
const SERIAL = configWith({ transport: 'serial', path: '/dev/null-device' });

function setup(config: Config = SERIAL) {
  const clock = new FakeClock();
  const logger = memoryLogger();
  const driver = new Hl7Pcd01Driver(config.interfaces[0] as Hl7Pcd01InterfaceConfig, config.patient, clock, logger);
  const sent: Array<{ topic: string; env: EnvelopeMsg; options: PublishOptions }> = [];
  const agent = startAgent({
    config,
    clock,
    logger,
    scorer: scoreNews2,
    drivers: [driver],
    tickMs: 3_600_000,
    connect: () => ({
      publish: async (topic, payload, options) => {
        sent.push({ topic, env: decodeEnvelope(payload), options });
      },
      end: async () => undefined,
    }),
  });
  const acks: string[] = [];
  const feed = (message: string | Buffer) => {
    const framed = typeof message === 'string' ? frameMllp(message) : message;
    driver.handleFrame(framed.subarray(0, framed.length - 2), { wallMs: clock.wallMs(), monoNs: clock.monoNs() }, async (b) => {
      const u = unwrapMllp(b.subarray(0, b.length - 2));
      acks.push(u.ok ? Buffer.from(u.payload).toString('latin1') : 'not MLLP');
    });
  };
  const ackCode = (i = acks.length - 1) => {
    const d = decodePcd01(acks[i] ?? '', { defaultUtcOffsetMinutes: 0 });
    return d.ok && d.kind === 'ack' ? d.ack : null;
  };
  const counters = () => Object.fromEntries(agent.statusMessage(true, 'test').interfaces[0]!.counters.map((c) => [c.name, Number(c.value)]));
  return { clock, logger, driver, sent, agent, feed, acks, ackCode, counters };
}
const of = <T extends { topic: string }>(sent: T[], suffix: string): T[] => sent.filter((s) => s.topic.endsWith(suffix));
const lastScore = (sent: Array<{ topic: string; env: EnvelopeMsg }>) => of(sent, '/score').at(-1)?.env.score;

t.test('REQ-HL7-030 a monitor message becomes published observations and score inputs; it is answered AA on the same link', async (t) => {
  const { sent, agent, feed, ackCode, driver } = setup();
  t.teardown(() => agent.stop('test'));
  feed(monitorMessage());
  t.match(ackCode(), { code: 'AA', controlId: 'MSG00001' });
  const spo2 = of(sent, '/obs/spo2')[0]?.env.observation;
  t.match(spo2, { value: 97, unitUcum: '%', status: 'RESULT_STATUS_UNVERIFIED', deviceCode: 'MDC:150456', loinc: '59408-5' });
  t.equal(spo2?.source.driver, 'hl7-pcd01');
  t.equal(spo2?.source.serialNumber, EUI64, 'the equipment id is the source serial number');
  t.equal(Number(spo2?.deviceTimeMs), Date.UTC(2026, 0, 1, 10, 0, 0));
  for (const p of ['pulseRate', 'heartRate', 'respRate', 'nibpSystolic', 'nibpDiastolic', 'nibpMean', 'temperature']) t.equal(of(sent, `/obs/${p}`).length, 1, p);
  const score = lastScore(sent);
  t.same(score?.inputs?.map((i) => i.field).sort(), ['pulseBpm', 'respRatePerMin', 'spo2Percent', 'systolicMmHg', 'tempCelsius'], 'five NEWS2 inputs from the monitor');
  t.equal(driver.snapshot().state, 'streaming');
});

t.test('HAZ-002 a preliminary value is published as preliminary and never feeds the score', async (t) => {
  const { sent, agent, feed } = setup();
  t.teardown(() => agent.stop('test'));
  feed(monitorMessage({ controlId: 'P1', obx: monitorObx({ status: 'P' }) }));
  t.equal(of(sent, '/obs/spo2')[0]?.env.observation?.status, 'RESULT_STATUS_PRELIMINARY');
  const score = lastScore(sent);
  t.same(score?.inputs ?? [], [], 'no input from preliminary values');
  t.ok(score?.excluded?.some((e) => e.parameter === 'spo2' && e.reason === 'status-preliminary'), 'listed as excluded with the reason');
  feed(monitorMessage({ controlId: 'F1', obx: monitorObx({ status: 'F' }) }));
  t.ok(lastScore(sent)?.inputs?.some((i) => i.parameter === 'spo2'), 'the final value that follows is used');
});

t.test('HAZ-011 another patient in PID-3: rejected AE, nothing published, high-priority technical alarm', async (t) => {
  const { sent, agent, feed, ackCode, counters } = setup();
  t.teardown(() => agent.stop('test'));
  feed(monitorMessage({ controlId: 'OTHER1', patient: 'PID|||MRN9999^^^HOSP^MR' }));
  t.match(ackCode(), { code: 'AE', errors: [{ code: '204' }] });
  t.equal(of(sent, '/obs/spo2').length, 0);
  const alarm = sent.find((s) => s.topic.endsWith('/alarm/monitor.device-identity'))?.env.alarm;
  t.match(alarm, { state: 'ALARM_STATE_ACTIVE', priority: 'ALARM_PRIORITY_HIGH', kind: 'ALARM_KIND_TECHNICAL' });
  t.notMatch(alarm?.detail, /MRN9999/, 'the alarm never names the other patient');
  t.equal(counters()['frames-rejected.patient-mismatch'], 1);
});

t.test('HAZ-011 another monitor (OBX-18) is held back until a nurse confirms the change', async (t) => {
  const { sent, agent, feed, driver, logger } = setup();
  t.teardown(() => agent.stop('test'));
  t.equal(driver.confirmDeviceChange(), 'no-pending-change', 'nothing to confirm before any monitor');
  feed(monitorMessage({ controlId: 'A1' }));
  t.equal(driver.confirmDeviceChange(), 'no-pending-change', 'nor while the learned monitor sends');
  sent.length = 0;
  const swapped = (id: string) => monitorMessage({ controlId: id, obx: monitorObx({ equipment: '0012A1FFFE999999' }) });
  feed(swapped('B1'));
  t.equal(of(sent, '/obs/spo2').length, 0, 'nothing from the other monitor');
  t.equal(sent.find((s) => s.topic.endsWith('/alarm/monitor.device-identity'))?.env.alarm?.state, 'ALARM_STATE_ACTIVE');
  t.equal(driver.confirmDeviceChange(), 'confirmed');
  t.ok(logger.records.some((r) => r.event === 'device-change-confirmed'), 'the confirmation is logged');
  feed(swapped('B2'));
  t.equal(of(sent, '/obs/spo2').length, 1, 'accepted after confirmation');
  t.equal(driver.confirmDeviceChange(), 'no-pending-change', 'a confirmation is used once');
});

t.test('HAZ-007 a duplicate control id is answered AA, dropped and counted', async (t) => {
  const { sent, agent, feed, ackCode, counters } = setup();
  t.teardown(() => agent.stop('test'));
  feed(monitorMessage({ controlId: 'DUP' }));
  feed(monitorMessage({ controlId: 'DUP' }));
  t.match(ackCode(), { code: 'AA', controlId: 'DUP', errors: [{ code: '205', severity: 'I' }] });
  t.equal(of(sent, '/obs/spo2').length, 1, 'processed once');
  t.equal(counters()['frames-rejected.duplicate'], 1);
});

t.test('HAZ-005 an unknown code is rejected and counted without an alarm; HAZ-008 corrupt messages are counted and alarmed', async (t) => {
  // A strict interface: a corrupt OBX rejects its whole message (the tolerant default rejects the OBX alone).
  const { sent, agent, feed, ackCode, counters } = setup(configWith({ transport: 'serial', path: '/dev/null-device', conformance: 'pcd01-strict' }));
  t.teardown(() => agent.stop('test'));
  const obx = monitorObx();
  obx.push({ type: 'NM', code: '148065^MDC_ECG_V_P_C_CNT^MDC', containment: '1.2.1.9', value: '3', unit: '/min^^UCUM', status: 'R' });
  feed(monitorMessage({ controlId: 'U1', obx }));
  t.match(ackCode(), { code: 'AA', errors: [{ code: '103', severity: 'W' }] });
  t.equal(counters()['obx-ignored.unknown-code'], 1, 'counted as ignored: Vigil does not use MDC_ECG_V_P_C_CNT');
  t.equal(sent.filter((s) => s.topic.includes('/alarm/')).length, 0, 'no alarm for a parameter Vigil does not use');
  feed(monitorMessage({ controlId: 'C1' }).replace('|97|', '|9x7|'));
  t.match(ackCode(), { code: 'AE' });
  feed(Buffer.from([0x41, 0x42, 0x1c, 0x0d]));
  feed(monitorMessage({ controlId: 'C2', version: '2.1' }));
  t.match(ackCode(), { code: 'AR' });
  const c = counters();
  t.equal(c['frames-rejected.malformed'], 1);
  t.equal(c['frames-rejected.framing'], 1);
  t.equal(c['frames-rejected.unsupported-version'], 1);
  t.equal(sent.find((s) => s.topic.endsWith('/alarm/monitor.frames-rejected'))?.env.alarm?.state, 'ALARM_STATE_ACTIVE', 'three rejects within the window');
});

t.test('REQ-HL7-037 a message of more segments than a monitor sends is answered AR, counted as decode-limit, and publishes nothing', async (t) => {
  const { sent, agent, feed, ackCode, counters } = setup();
  t.teardown(() => agent.stop('test'));
  const rows = Array.from({ length: HL7_MAX_SEGMENTS }, (_, i) => ({ ...monitorObx()[1]!, containment: `1.1.1.${i + 1}` }));
  feed(monitorMessage({ controlId: 'BIG1', obx: rows }));
  t.match(ackCode(), { code: 'AR', controlId: 'BIG1', errors: [{ code: '207', severity: 'E' }] });
  t.equal(counters()['frames-rejected.decode-limit'], 1);
  t.equal(of(sent, '/obs/spo2').length, 0, 'no value of the refused message is published');
  feed(monitorMessage({ controlId: 'OK1' }));
  t.match(ackCode(), { code: 'AA', controlId: 'OK1' }, 'the next message of the monitor is read');
});

t.test("REQ-HL7-031 HAZ-003 no message for the quiet time: the link is stale and the monitor's values are withdrawn", async (t) => {
  const { sent, agent, feed, clock, driver } = setup();
  t.teardown(() => agent.stop('test'));
  feed(monitorMessage());
  clock.advanceMs(10_001);
  agent.tick();
  t.equal(driver.snapshot().state, 'stale');
  const withdrawn = of(sent, '/obs/nibpSystolic').at(-1)?.env.observation;
  t.match(withdrawn, { hasValue: false, status: 'RESULT_STATUS_UNAVAILABLE', unavailableReason: 'link-stale' });
  t.equal(sent.find((s) => s.topic.endsWith('/alarm/monitor.link-stale'))?.env.alarm?.state, 'ALARM_STATE_ACTIVE');
});

// --- the TCP/TLS listener ---------------------------------------------------------------

function collectAcks(socket: NodeJS.ReadableStream): string[] {
  const got: string[] = [];
  const splitter = new MllpSplitter();
  socket.on('data', (chunk: Buffer) => {
    for (const e of splitter.push(chunk)) {
      if (e.kind !== 'frame') continue;
      const u = unwrapMllp(e.bytes);
      if (u.ok) got.push(Buffer.from(u.payload).toString('latin1'));
    }
  });
  return got;
}
async function until<T>(probe: () => T | undefined | false, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('REQ-HL7-032 the TLS listener: a monitor with a certificate from the CA is answered on its connection; one without is refused', async (t) => {
  const pki = createPki(['monitor']);
  t.teardown(() => pki.remove());
  const port = await freePort();
  const config = configWith({ transport: 'tcp', host: '127.0.0.1', port, tls: { certFile: pki.broker.certFile, keyFile: pki.broker.keyFile, caFile: pki.caFile } });
  const logger = memoryLogger();
  const driver = new Hl7Pcd01Driver(config.interfaces[0] as Hl7Pcd01InterfaceConfig, config.patient, systemClock, logger);
  const observations: string[] = [];
  const states: string[] = [];
  driver.on('observations', (list) => observations.push(...list.map((o) => o.parameter)));
  driver.on('link', (c) => states.push(c.to));
  driver.start();
  t.teardown(() => driver.stop());
  await until(() => logger.records.some((r) => r.event === 'mllp-listening'), 'the listener');
  const client = pki.clientTls('monitor');
  const socket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(pki.caFile), cert: readFileSync(client.certFile), key: readFileSync(client.keyFile), servername: 'localhost' });
  const acks = collectAcks(socket);
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  socket.write(frameMllp(monitorMessage({ controlId: 'TLS1' })));
  const ack = await until(() => acks[0], 'the ACK');
  t.match(decodePcd01(ack, { defaultUtcOffsetMinutes: 0 }), { ok: true, kind: 'ack', ack: { code: 'AA', controlId: 'TLS1' } });
  t.equal(observations.length, 8);
  t.equal(driver.snapshot().state, 'streaming');
  socket.end();
  await until(() => states.includes('lost'), 'the link lost when the monitor disconnects');
  t.same(states, ['negotiating', 'streaming', 'lost', 'connecting'], 'connecting -> negotiating -> streaming -> lost -> connecting');
  // Without a client certificate the handshake is refused and nothing is read.
  const anonymous = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(pki.caFile), servername: 'localhost' });
  anonymous.on('error', () => undefined);
  anonymous.write(frameMllp(monitorMessage({ controlId: 'ANON' })));
  await until(() => driver.snapshot().counters['tls-refused'], 'the refused handshake');
  t.equal(observations.length, 8, 'nothing from a monitor without a certificate');
  anonymous.destroy();
});

t.test('REQ-HL7-033 a plain TCP listener only when asked for ("insecure"), and it warns', async (t) => {
  t.throws(() => configWith({ transport: 'tcp', port: 2575 }), /interfaces\.0\.tls: is required/);
  const port = await freePort();
  const config = configWith({ transport: 'tcp', port, insecure: true });
  const logger = memoryLogger();
  const driver = new Hl7Pcd01Driver(config.interfaces[0] as Hl7Pcd01InterfaceConfig, config.patient, systemClock, logger);
  driver.start();
  t.teardown(() => driver.stop());
  t.ok(logger.records.some((r) => r.event === 'mllp-listener-insecure' && r.level === 'warn'));
  await until(() => logger.records.some((r) => r.event === 'mllp-listening'), 'the listener');
  const socket = netConnect(port, '127.0.0.1');
  const acks = collectAcks(socket);
  // Two messages in one write, the second split in two writes: framing is by MLLP, not by packet.
  const a = frameMllp(monitorMessage({ controlId: 'T1' }));
  const b = frameMllp(monitorMessage({ controlId: 'T2' }));
  socket.write(Buffer.concat([a, b.subarray(0, 50)]));
  socket.write(b.subarray(50));
  await until(() => acks.length >= 2, 'two ACKs');
  t.same(acks.map((x) => { const d = decodePcd01(x, { defaultUtcOffsetMinutes: 0 }); return d.ok && d.kind === 'ack' ? d.ack.controlId : ''; }), ['T1', 'T2']);
  // Bounded: four monitors at most; a fifth connection is closed at once and counted.
  const more = [1, 2, 3, 4].map(() => netConnect(port, '127.0.0.1'));
  for (const m of more) m.on('error', () => undefined);
  await until(() => driver.snapshot().counters['connections-refused'], 'the fifth connection refused');
  t.equal(driver.snapshot().counters['connections'], 4, 'four connections accepted');
  for (const m of more) m.destroy();
  socket.destroy();
  // A second listener on the same port cannot listen: the link is lost and retried, nothing crashes.
  const clash = new Hl7Pcd01Driver(config.interfaces[0] as Hl7Pcd01InterfaceConfig, config.patient, systemClock, memoryLogger());
  clash.start();
  t.teardown(() => clash.stop());
  await until(() => clash.snapshot().counters['listener-failed'], 'the failed listen');
  t.equal(clash.snapshot().state, 'lost');
  t.match(clash.snapshot().reason, /cannot listen/);
});

// --- IHE PCD-04 alerts (ORU^R40) through the agent: docs/interfaces/hl7-pcd01.md, "Alerts" --------
const alarmsOf = (sent: Array<{ topic: string; env: EnvelopeMsg }>) =>
  sent.filter((s) => s.topic.includes('/alarm/monitor.device-')).map((s) => `${s.env.alarm?.alarmId}:${s.env.alarm?.kind}:${s.env.alarm?.priority}:${s.env.alarm?.state}`);

t.test('REQ-ALARM-009 HAZ-019 through the agent: a PCD-04 start raises the device alarm with its source, a continue changes nothing, the end clears it; each answered ACK^R40 AA', async (t) => {
  const { sent, agent, feed, acks, ackCode, counters } = setup();
  t.teardown(() => agent.stop('test'));
  feed(monitorMessage());
  feed(alertMessage());
  t.match(ackCode(), { code: 'AA', controlId: 'A1' });
  t.equal((acks.at(-1) ?? '').split('\r')[0]?.split('|')[8], 'ACK^R40^ACK');
  t.same(alarmsOf(sent), ['monitor.device-alarm-medium.196670-150456:ALARM_KIND_PHYSIOLOGICAL:ALARM_PRIORITY_MEDIUM:ALARM_STATE_ACTIVE']);
  const alarm = sent.find((s) => s.topic.endsWith('/alarm/monitor.device-alarm-medium.196670-150456'))?.env.alarm;
  t.equal(alarm?.source, 'monitor');
  t.equal(alarm?.detail, `device HL7 ACME_MON EUI-64 ${EUI64} on monitor: MDC_EVT_LO (196670) on MDC_PULS_OXIM_SAT_O2 (150456), state active, alarm signals on at the device`);
  t.equal(counters()['device-alarms-relayed'], 1);
  t.equal(counters()['alerts-received'], 1);
  feed(alertMessage({ controlId: 'A2', phase: 'continue' }));
  t.equal(alarmsOf(sent).length, 1, 'a continue announces nothing new');
  feed(alertMessage({ controlId: 'A3', phase: 'end', state: 'inactive' }));
  t.same(alarmsOf(sent).slice(1), ['monitor.device-alarm-medium.196670-150456:ALARM_KIND_PHYSIOLOGICAL:ALARM_PRIORITY_MEDIUM:ALARM_STATE_CLEARED']);
  t.match(ackCode(), { code: 'AA', controlId: 'A3', errors: [] });
});

t.test('REQ-ALARM-010 through the agent: a malformed alert is answered AE and counted; an end without start AA with a warning; a stale link ends a relayed alert', async (t) => {
  const { clock, sent, agent, feed, ackCode, counters } = setup();
  t.teardown(() => agent.stop('test'));
  feed(monitorMessage());
  feed(alertMessage({ controlId: 'BAD1', withObr3: false }));
  t.match(ackCode(), { code: 'AE', controlId: 'BAD1', errors: [{ code: '101' }] });
  t.equal(counters()['frames-rejected.malformed'], 1);
  feed(alertMessage({ controlId: 'E1', instance: '9999^ACME_MON', phase: 'end', state: 'inactive' }));
  t.match(ackCode(), { code: 'AA', controlId: 'E1', errors: [{ code: '205', severity: 'W' }] });
  t.equal(counters()['alert-end-without-start'], 1);
  t.same(alarmsOf(sent), [], 'nothing raised or cleared');
  feed(alertMessage({ controlId: 'S1', flags: 'PH~ST', event: '9001^HWSIM_EVT_PRIVATE^99HWSIM' }));
  t.same(alarmsOf(sent), ['monitor.device-technical-high.9001-150456:ALARM_KIND_TECHNICAL:ALARM_PRIORITY_HIGH:ALARM_STATE_ACTIVE'], 'an unknown event code is relayed with its code');
  t.equal(counters()['alert-event-unknown'], 1);
  clock.advanceMs(10_500);
  agent.tick();
  t.same(alarmsOf(sent).slice(1), ['monitor.device-technical-high.9001-150456:ALARM_KIND_TECHNICAL:ALARM_PRIORITY_HIGH:ALARM_STATE_CLEARED'], 'the stale link ends the relayed alert');
  t.equal(sent.filter((s) => s.topic.endsWith('/alarm/monitor.link-stale')).at(-1)?.env.alarm?.state, 'ALARM_STATE_ACTIVE');
});

t.test('REQ-ALARM-010 HAZ-019 through the agent: an alert the device stops updating stays raised and says so', async (t) => {
  const { clock, sent, agent, feed, counters } = setup(configWith({ transport: 'serial', path: '/dev/null-device', alertUpdateTimeoutMs: 5000 }));
  t.teardown(() => agent.stop('test'));
  feed(monitorMessage());
  feed(alertMessage());
  for (let i = 1; i <= 3; i++) {
    clock.advanceMs(2000);
    feed(monitorMessage({ controlId: `M${i}` }));
    agent.tick();
  }
  const last = sent.filter((s) => s.topic.endsWith('/alarm/monitor.device-alarm-medium.196670-150456')).at(-1)?.env.alarm;
  t.equal(last?.state, 'ALARM_STATE_ACTIVE', 'never cleared on a guess');
  t.match(last?.detail, /not updated by the device for more than 5 s: its end may have been lost, check the device$/);
  t.equal(counters()['alert-update-missing'], 1);
});
