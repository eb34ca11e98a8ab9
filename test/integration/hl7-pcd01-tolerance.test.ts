/**
 * The tolerant HL7 interface wired into the agent (driver -> validation -> score -> alarms ->
 * publisher) on a fake clock: rows rejected alone reach the station as technical alarms
 * (value-withheld, device-mapping-incomplete), conformance warnings and ignored rows reach the
 * gateway status as counters, and a configured profile is applied.
 */
import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import type { Config, Hl7Pcd01InterfaceConfig } from '../../agent/src/config';
import { Hl7Pcd01Driver } from '../../agent/src/drivers/hl7-pcd01/driver';
import { frameMllp } from '../../agent/src/framing/mllp';
import { memoryLogger } from '../../agent/src/log';
import { startAgent } from '../../agent/src/main';
import { scoreNews2 } from '../../agent/src/native/addon';
import { decodeEnvelope } from '../../agent/src/proto/codec';
import type { EnvelopeMsg } from '../../agent/src/proto/codec';
import { monitorMessage, monitorObx, PATIENT_ID } from '../support/hl7-pcd01-fixtures';
import type { ObxSpec } from '../support/hl7-pcd01-fixtures';

function setup(itf: Record<string, unknown> = {}) {
  const config: Config = parseConfig({
    gateway: { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' },
    mqtt: { url: 'mqtt://127.0.0.1:1', insecure: true, heartbeatIntervalMs: 60000 },
    interfaces: [{ id: 'monitor', driver: 'hl7-pcd01', transport: 'serial', path: '/dev/null-device', quietTimeMs: 10_000, scoreUnverified: true, ...itf }],
    patient: { patientId: PATIENT_ID },
  });
  const clock = new FakeClock();
  const logger = memoryLogger();
  const driver = new Hl7Pcd01Driver(config.interfaces[0] as Hl7Pcd01InterfaceConfig, config.patient, clock, logger);
  const sent: Array<{ topic: string; env: EnvelopeMsg }> = [];
  const agent = startAgent({
    config,
    clock,
    logger,
    scorer: scoreNews2,
    drivers: [driver],
    tickMs: 3_600_000,
    connect: () => ({
      publish: async (topic, payload) => {
        sent.push({ topic, env: decodeEnvelope(payload) });
      },
      end: async () => undefined,
    }),
  });
  const feed = (message: string) => {
    const framed = frameMllp(message);
    clock.advanceMs(1000);
    driver.handleFrame(framed.subarray(0, framed.length - 2), { wallMs: clock.wallMs(), monoNs: clock.monoNs() }, async () => undefined);
  };
  const counters = () => Object.fromEntries(agent.statusMessage(true, 'test').interfaces[0]!.counters.map((c) => [c.name, Number(c.value)]));
  const alarms = (condition: string) => sent.filter((s) => s.topic.endsWith(`/alarm/monitor.${condition}`)).map((s) => s.env.alarm);
  return { sent, agent, feed, counters, alarms };
}

const obs = (sent: Array<{ topic: string; env: EnvelopeMsg }>, parameter: string) => sent.filter((s) => s.topic.endsWith(`/obs/${parameter}`)).map((s) => s.env.observation);

t.test('REQ-HL7-034 HAZ-008 a rejected row of a shown parameter raises value-withheld (medium), cleared when the parameter is delivered again', async (t) => {
  const { sent, agent, feed, alarms, counters } = setup();
  t.teardown(() => agent.stop('test'));
  feed(monitorMessage({ controlId: 'A1' }).replace('|97|', '|9x7|'));
  const raised = alarms('value-withheld.spo2');
  t.equal(raised.length, 1, 'raised once');
  t.match(raised[0], { kind: 'ALARM_KIND_TECHNICAL', priority: 'ALARM_PRIORITY_MEDIUM', state: 'ALARM_STATE_ACTIVE', detail: /spo2 withheld \(malformed\): OBX-1 2 \(150456\^MDC_PULS_OXIM_SAT_O2\^MDC\)/ });
  t.same(
    obs(sent, 'spo2').map((o) => [o?.hasValue, o?.status, o?.unavailableReason]),
    [[false, 'RESULT_STATUS_UNAVAILABLE', 'withheld-malformed']],
    'no SpO2 value published: SpO2 is withdrawn as unavailable, with the reason',
  );
  t.equal(obs(sent, 'pulseRate').length, 1, 'the rest of the message is');
  t.equal(counters()['obx-rejected.malformed'], 1);
  feed(monitorMessage({ controlId: 'A2' }).replace('|97|', '|9x7|'));
  t.equal(alarms('value-withheld.spo2').length, 1, 'not announced again while it lasts');
  feed(monitorMessage({ controlId: 'A3' }));
  t.match(alarms('value-withheld.spo2').at(-1), { state: 'ALARM_STATE_CLEARED' }, 'cleared by the next SpO2');
  t.equal(alarms('value-withheld.pulseRate').length, 0, 'nothing for a parameter that was delivered');
});

t.test('REQ-HL7-025 HAZ-005 an unmapped vital-sign code raises device-mapping-incomplete once per code; ignored rows are only counted', async (t) => {
  const { agent, feed, alarms, counters, sent } = setup();
  t.teardown(() => agent.stop('test'));
  const extra: ObxSpec[] = [
    { type: 'NM', code: '150033^MDC_PRESS_BLD_ART_SYS^MDC', containment: '1.5.1.1', value: '120', unit: '266016^MDC_DIM_MMHG^MDC', status: 'R' },
    { type: 'NM', code: '150034^MDC_PRESS_BLD_ART_DIA^MDC', containment: '1.5.1.2', value: '80', unit: '266016^MDC_DIM_MMHG^MDC', status: 'R' },
    { type: 'NM', code: '2279^COMEN_PAIN_LEVEL^99COMEN', containment: '1.9.1.1', value: 'Other', status: 'F' },
    { type: 'NM', code: '148065^MDC_ECG_V_P_C_CNT^MDC', containment: '1.2.1.9', value: '3', unit: '/min^^UCUM', status: 'R' },
  ];
  for (const id of ['U1', 'U2', 'U3']) feed(monitorMessage({ controlId: id, obx: [...monitorObx(), ...extra] }));
  t.equal(alarms('device-mapping-incomplete.150033').length, 1, 'once for 150033');
  t.equal(alarms('device-mapping-incomplete.150034').length, 1, 'once for 150034');
  t.match(alarms('device-mapping-incomplete.150033')[0], { priority: 'ALARM_PRIORITY_LOW', state: 'ALARM_STATE_ACTIVE', detail: /MDC code 150033 of partition 2 is not in the parameter table/ });
  const c = counters();
  t.equal(c['obx-rejected.unmapped-code'], 6);
  t.equal(c['obx-ignored.vendor-private'], 3, 'a malformed vendor-private row is ignored, not a fault');
  t.equal(c['obx-ignored.unknown-code'], 3);
  t.equal(c['frames-rejected.unmapped-code'], undefined, 'unmapped codes do not count towards the rejection rate');
  t.equal(sent.filter((s) => s.topic.endsWith('/alarm/monitor.frames-rejected')).length, 0, 'no rejection-rate alarm from rows Vigil cannot use');
  t.equal(obs(sent, 'spo2').length, 3, 'every message used');
});

t.test('REQ-HL7-023 conformance warnings reach the gateway status per interface; a strict interface rejects the same messages', async (t) => {
  const tolerant = setup();
  t.teardown(() => tolerant.agent.stop('test'));
  tolerant.feed(monitorMessage({ controlId: 'V1', version: '2.4', profile: '' }));
  tolerant.feed(monitorMessage({ controlId: 'V2', version: '2.4', profile: '', obx: monitorObx({ status: '' }) }));
  const c = tolerant.counters();
  t.equal(c['messages-valid'], 2);
  t.equal(c['conformance-warning.hl7-version'], 2);
  t.equal(c['conformance-warning.missing-profile'], 2);
  t.equal(c['conformance-warning.missing-status'], 1, 'counted once per message, not per row');
  t.equal(obs(tolerant.sent, 'spo2').length, 2);
  const strict = setup({ conformance: 'pcd01-strict' });
  t.teardown(() => strict.agent.stop('test'));
  strict.feed(monitorMessage({ controlId: 'V1', version: '2.4' }));
  strict.feed(monitorMessage({ controlId: 'V2', profile: '' }));
  const s = strict.counters();
  t.equal(s['frames-rejected.unsupported-version'], 1);
  t.equal(s['frames-rejected.missing-profile'], 1);
  t.equal(obs(strict.sent, 'spo2').length, 0);
});

t.test('REQ-HL7-028 REQ-HL7-029 a profile configured by name or auto is applied and counted; its placeholders are published unavailable', async (t) => {
  const xh = (id: string) =>
    monitorMessage({ controlId: id, version: '2.4', profile: '', obx: [{ type: 'NM', code: '150456^MDC_PULS_OXIM_SAT_O2^MDC', containment: '1.3.1.150456', value: '-999', unit: '262688^MDC_DIM_PERCENT^MDC', status: '' }] }).replace(
      /^MSH\|\^~\\&\|[^|]*\|/,
      'MSH|^~\\&|XH80X^00A037009B000000^EUI-64|',
    );
  for (const profile of ['xh80x-monitor', 'auto']) {
    const { agent, feed, counters, sent, alarms } = setup({ profile });
    t.teardown(() => agent.stop('test'));
    feed(xh('P1'));
    t.equal(counters()['profile-applied.xh80x-monitor'], 1, `${profile}: applied`);
    t.match(obs(sent, 'spo2')[0], { hasValue: false, unavailableReason: 'device-placeholder' }, `${profile}: -999 is no value`);
    t.equal(alarms('value-rejected.implausible').length, 0, `${profile}: no implausible-value alarm for a placeholder`);
  }
  const { agent, feed, counters, alarms } = setup({ profile: 'auto' });
  t.teardown(() => agent.stop('test'));
  feed(monitorMessage({ controlId: 'N1' }));
  t.equal(counters()['profile-not-applied'], 1, 'auto with no matching profile: counted, nothing guessed');
  const none = setup();
  t.teardown(() => none.agent.stop('test'));
  none.feed(xh('P2'));
  t.equal(none.alarms('value-rejected.implausible').length, 1, 'without a profile, -999 is an implausible value, alarmed');
  t.equal(alarms('value-rejected.implausible').length, 0);
});

t.test('REQ-HL7-034 HAZ-003 a withheld row withdraws the value shown before: never left as current', async (t) => {
  const { sent, agent, feed } = setup();
  t.teardown(() => agent.stop('test'));
  feed(monitorMessage({ controlId: 'B1' }));
  t.equal(obs(sent, 'spo2').at(-1)?.value, 97, 'SpO2 97 shown');
  feed(monitorMessage({ controlId: 'B2' }).replace('|97|', '|9x7|'));
  const last = obs(sent, 'spo2').at(-1);
  t.match(last, { hasValue: false, status: 'RESULT_STATUS_UNAVAILABLE', unavailableReason: 'withheld-malformed' }, 'the next message withholds it: SpO2 is withdrawn at once');
  const score = [...sent].reverse().find((s) => s.env.score)?.env.score;
  t.ok(score?.missing.includes('spo2Percent'), 'and the score no longer uses it');
});
