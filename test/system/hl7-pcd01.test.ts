/**
 * System tests of the HL7 PCD-01 monitor interface: hw-sim's monitor on a real
 * pseudo-terminal (MLLP over the serial line, ACKs read back), the real agent process, a real
 * Mosquitto, and a subscriber that decodes what the station would receive. Each hazard is
 * injected by hw-sim; each test checks the rejection or flag, what a subscriber receives
 * (alarm, status counter, observation status), and that the value never reaches a published
 * score. Nothing is mocked.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ObservationMsg } from '../../agent/src/proto/codec';
import { observe, until as waitUntil } from '../support/observer';
import type { Received } from '../support/observer';
import { startBroker } from '../support/broker';
import { startAgentProcess, startHwSim, writeAgentConfig } from '../support/processes';
import type { HwSim } from '../support/processes';

const PATIENT = 'HWSIM0001';
const IFACE = 'monitor';
const KNOWN_PARAMETERS = new Set(['spo2', 'pulseRate', 'heartRate', 'respRate', 'nibpSystolic', 'nibpDiastolic', 'nibpMean', 'temperature']);

const until = <T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 30000): Promise<T> =>
  waitUntil(what, probe, timeoutMs);

/** Broker, subscriber, hw-sim's monitor, and the agent reading it as interface "monitor". */
async function system(t: { teardown(fn: () => unknown): void }, simArgs: string[], itf: Record<string, unknown> = {}) {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url);
  t.teardown(() => sub.end());
  const sim = await startHwSim(['hl7-monitor', '--seed', '7', '--period-ms', '250', '--patient-id', PATIENT, ...simArgs]);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-hl7-sys-'));
  const file = writeAgentConfig(dir, {
    brokerUrl: broker.url,
    devicePath: sim.path,
    heartbeatIntervalMs: 1000,
    interface: { id: IFACE, driver: 'hl7-pcd01', transport: 'serial', path: sim.path, quietTimeMs: 5000, scoreUnverified: true, ...itf },
  });
  // The bed's patient: PID-3 must carry it.
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...config, patient: { patientId: PATIENT } }, null, 2));
  const agent = startAgentProcess(file);
  t.teardown(() => agent.stop('SIGKILL'));
  return { broker, sub, sim, agent };
}

const observations = (got: Received[], parameter?: string): ObservationMsg[] =>
  got.flatMap((r) => (r.env.observation && (parameter === undefined || r.env.observation.parameter === parameter) ? [r.env.observation] : []));
const withValue = (got: Received[], parameter: string) => observations(got, parameter).filter((o) => o.hasValue);
const scores = (got: Received[]) => got.flatMap((r) => (r.env.score ? [{ seq: Number(r.env.sequence), score: r.env.score }] : []));
const alarm = (got: Received[], condition: string) => [...got].reverse().find((r) => r.topic.endsWith(`/alarm/${IFACE}.${condition}`))?.env.alarm;
/** The first message that raised the alarm (a value-rejected alarm clears once the values pass again). */
const raisedAlarm = (got: Received[], condition: string) =>
  got.find((r) => r.topic.endsWith(`/alarm/${IFACE}.${condition}`) && r.env.alarm?.state === 'ALARM_STATE_ACTIVE')?.env.alarm;
function counters(got: Received[]): Record<string, number> {
  const s = [...got].reverse().find((r) => r.env.status?.online)?.env.status;
  return Object.fromEntries((s?.interfaces.find((i) => i.interfaceId === IFACE)?.counters ?? []).map((c) => [c.name, Number(c.value)]));
}
const frame = (sim: HwSim, index: number) => sim.frames.find((f) => f.index === index);
const frameTimeMs = (sim: HwSim, index: number): number => Date.parse(String(frame(sim, index)?.deviceTime));
const acks = (sim: HwSim) => sim.events.filter((e) => e.event === 'ack') as Array<{ controlId: string; code: string; errors: Array<{ code: string; severity: string }> }>;
const ackFor = (sim: HwSim, index: number) => acks(sim).filter((a) => a.controlId === frame(sim, index)?.controlId);
const seqOf = (got: Received[], o: ObservationMsg): number => Number(got.find((r) => r.env.observation === o)?.env.sequence);
/**
 * Every published score used, for `parameter`, exactly the value of the last observation of it
 * published before the score (by sequence): a value that was not published as accepted can
 * never have reached a score. Returns the number of score inputs checked, or a failure text.
 */
function scoresUseOnlyPublished(got: Received[], parameter: string): number | string {
  let checked = 0;
  for (const s of scores(got)) {
    const input = (s.score.inputs ?? []).find((i) => i.parameter === parameter && i.interfaceId === IFACE);
    if (!input) continue;
    const last = observations(got, parameter).filter((o) => seqOf(got, o) < s.seq).at(-1);
    if (!last?.hasValue || last.value !== input.value) return `score ${s.seq} used ${parameter} that is not the last published value`;
    checked++;
  }
  return checked;
}

/** Observations carried by message `index` (matched by its device time, unique per message). */
const fromMessage = (got: Received[], sim: HwSim, index: number) => observations(got).filter((o) => Number(o.deviceTimeMs) === frameTimeMs(sim, index));

t.test('REQ-SYS-HL7-001 monitor -> MLLP on a pty -> agent -> Mosquitto: values as sent, every message answered AA, score inputs', async (t) => {
  const { sub, sim, agent } = await system(t, ['--scenario', 'stable']);
  // Two messages more than checked: every observation of the checked ones has arrived.
  await until('8 SpO2 observations', () => withValue(sub.got, 'spo2').length >= 8);
  for (const o of withValue(sub.got, 'spo2').slice(0, 6)) {
    const f = sim.frames.find((x) => Date.parse(String(x.deviceTime)) === Number(o.deviceTimeMs));
    t.ok(f, 'matched to the message hw-sim sent by its OBX-14 time');
    t.equal(o.value, f?.spo2Percent, 'SpO2 as sent');
    t.match(o, { unitUcum: '%', status: 'RESULT_STATUS_UNVERIFIED', deviceCode: 'MDC:150456' });
    t.equal(o.source.driver, 'hl7-pcd01');
    t.equal(o.source.serialNumber, '0012A1FFFE3B4C5D', 'the OBX-18 equipment id');
    const hr = fromMessage(sub.got, sim, Number(f?.index)).find((x) => x.parameter === 'heartRate');
    t.equal(hr?.value, f?.heartRateBpm, 'ECG heart rate of the same message');
  }
  const first = fromMessage(sub.got, sim, 0);
  t.same(first.map((o) => o.parameter).sort(), [...KNOWN_PARAMETERS].sort(), 'message 0 carries NIBP and temperature too');
  t.equal(first.find((o) => o.parameter === 'nibpSystolic')?.value, frame(sim, 0)?.nibpSystolicMmHg);
  t.equal(first.find((o) => o.parameter === 'temperature')?.value, frame(sim, 0)?.tempCelsius);
  await until('ACKs for 6 messages', () => acks(sim).length >= 6);
  t.ok(acks(sim).every((a) => a.code === 'AA' && a.errors.length === 0), 'every message answered AA without error');
  const score = await until('a score with the monitor inputs', () => scores(sub.got).find((s) => (s.score.inputs?.length ?? 0) >= 5)?.score);
  t.same(score.inputs?.map((i) => i.field).sort(), ['pulseBpm', 'respRatePerMin', 'spo2Percent', 'systolicMmHg', 'tempCelsius']);
  t.equal(agent.process.exitCode, null);
});

t.test('HAZ-001 through the pty: [degF] converted and flagged; 98.6 labelled Cel rejected with a technical alarm; neither 98.6 reaches the score', async (t) => {
  const { sub, sim } = await system(t, ['--inject', 'fahrenheit@2,wrong-unit@5']);
  const converted = await until('the converted temperature', () => fromMessage(sub.got, sim, 2).find((o) => o.parameter === 'temperature'));
  t.equal(converted.value, 37, '98.6 [degF] published as 37 Cel');
  t.equal(converted.unitUcum, 'Cel');
  t.equal(converted.originalValue, 98.6, 'the original value kept');
  t.equal(converted.originalUnit, '[degF]');
  t.ok(converted.quality.includes('QUALITY_FLAG_UNIT_CONVERTED'), 'flagged');
  const raised = await until('the implausible-value alarm', () => raisedAlarm(sub.got, 'value-rejected.implausible'));
  t.equal(raised.kind, 'ALARM_KIND_TECHNICAL');
  t.equal(raised.state, 'ALARM_STATE_ACTIVE');
  t.match(raised.detail, /temperature/);
  await until('messages after the fault', () => withValue(sub.got, 'spo2').length >= 8);
  t.notOk(fromMessage(sub.got, sim, 5).some((o) => o.parameter === 'temperature' && o.hasValue), 'the mislabelled value is not published');
  t.notOk(withValue(sub.got, 'temperature').some((o) => o.value > 45), 'no temperature above 45 Cel ever published');
  const temps = scores(sub.got).flatMap((s) => s.score.inputs ?? []).filter((i) => i.field === 'tempCelsius');
  t.ok(temps.length > 0, 'temperature did feed the score');
  const cleared = await until('the implausible-value alarm cleared', () => (alarm(sub.got, 'value-rejected.implausible')?.state === 'ALARM_STATE_CLEARED' ? true : undefined));
  t.ok(cleared, 'cleared once the temperature passes the controls again');
  t.ok(temps.every((i) => i.value > 35 && i.value < 40), 'only Celsius values in the score');
  t.ok(counters(sub.got)['unit-conversions']! >= 1, 'the conversion is counted in the interface status');
});

t.test('HAZ-002 through the pty: preliminary values are published as such and never feed the published score', async (t) => {
  const { sub, sim } = await system(t, ['--inject', 'preliminary@3-5']);
  await until('values after the preliminary messages', () => fromMessage(sub.got, sim, 7).length > 0);
  const prelim = observations(sub.got, 'spo2').filter((o) => o.status === 'RESULT_STATUS_PRELIMINARY');
  t.equal(prelim.length, 3, 'three preliminary SpO2 values published, marked preliminary');
  // Between the first preliminary SpO2 and the next unverified one, no score uses SpO2 from the monitor.
  const start = seqOf(sub.got, prelim[0]!);
  const after = observations(sub.got, 'spo2').find((o) => o.status === 'RESULT_STATUS_UNVERIFIED' && seqOf(sub.got, o) > start)!;
  const between = scores(sub.got).filter((s) => s.seq > start && s.seq < seqOf(sub.got, after));
  t.ok(between.length >= 3, `${between.length} scores published meanwhile`);
  for (const s of between) {
    t.notOk(s.score.inputs?.some((i) => i.parameter === 'spo2'), 'SpO2 is not a score input');
    t.ok(s.score.excluded?.some((e) => e.parameter === 'spo2' && e.reason === 'status-preliminary'), 'listed as excluded: status-preliminary');
  }
  t.ok(scores(sub.got).some((s) => s.seq > seqOf(sub.got, after) && s.score.inputs?.some((i) => i.parameter === 'spo2')), 'the next unverified value feeds it again');
});

t.test('HAZ-010 through the pty: DEMO data is rejected with a technical alarm and never reaches the score', async (t) => {
  const { sub, sim } = await system(t, ['--inject', 'demo@3-4']);
  const raised = await until('the demo-data alarm', () => raisedAlarm(sub.got, 'value-rejected.demo-data'));
  t.match(raised, { kind: 'ALARM_KIND_TECHNICAL', state: 'ALARM_STATE_ACTIVE' });
  await until('messages after the demo', () => fromMessage(sub.got, sim, 6).length > 0);
  t.same(fromMessage(sub.got, sim, 3), [], 'nothing of message 3 published');
  t.same(fromMessage(sub.got, sim, 4), [], 'nothing of message 4 published');
  const withdrawn = observations(sub.got, 'spo2').find((o) => !o.hasValue && o.unavailableReason === 'rejected-demo-data');
  t.ok(withdrawn, 'the previous SpO2 is withdrawn with the reason');
  // From the withdrawal to the next accepted SpO2 (message 5), no score has SpO2 from the monitor.
  const from = seqOf(sub.got, withdrawn!);
  const next = withValue(sub.got, 'spo2').find((o) => seqOf(sub.got, o) > from)!;
  const between = scores(sub.got).filter((x) => x.seq > from && x.seq < seqOf(sub.got, next));
  t.ok(between.length >= 1, 'scores were published meanwhile');
  t.ok(between.every((x) => !(x.score.inputs ?? []).some((i) => i.parameter === 'spo2')), 'none uses SpO2');
  t.equal(Number(next.deviceTimeMs), frameTimeMs(sim, 5), 'the next SpO2 is that of message 5');
  t.type(scoresUseOnlyPublished(sub.got, 'spo2'), 'number', 'every score used a published SpO2');
  await until('the rejections counted', () => counters(sub.got)['values-rejected.demo-data'] === 8);
  t.pass('counted in the interface status: SpO2, pulse, HR and RR of each of the two messages');
});

t.test('HAZ-008 through the pty: corrupt bytes are rejected, counted, alarmed and answered AE; the agent carries on', async (t) => {
  // A strict PCD-01 interface: a corrupt OBX rejects its whole message.
  const { sub, sim, agent } = await system(t, ['--inject', 'corrupt@2-4,garbage@6,truncated@7'], { conformance: 'pcd01-strict' });
  const c = await until('the counters', () => {
    const x = counters(sub.got);
    return x['frames-rejected.malformed'] === 3 && x['frames-rejected.framing'] && x['frames-rejected.truncated'] ? x : undefined;
  });
  t.equal(c['frames-rejected.malformed'], 3);
  t.equal(c['frames-rejected.framing'], 1, 'the noise before message 6');
  t.equal(c['frames-rejected.truncated'], 1, 'the block cut short before message 7');
  const raised = await until('the frames-rejected alarm', () => alarm(sub.got, 'frames-rejected'));
  t.match(raised, { kind: 'ALARM_KIND_TECHNICAL', state: 'ALARM_STATE_ACTIVE' });
  for (const i of [2, 3, 4]) {
    t.same(fromMessage(sub.got, sim, i), [], `nothing of corrupt message ${i} published`);
    t.match(ackFor(sim, i), [{ code: 'AE' }], `message ${i} answered AE`);
  }
  await until('messages 6 and 7 decoded after the noise', () => fromMessage(sub.got, sim, 7).length > 0 && fromMessage(sub.got, sim, 6).length > 0);
  for (const p of ['spo2', 'pulseBpm', 'respRate']) {
    const checked = scoresUseOnlyPublished(sub.got, p === 'pulseBpm' ? 'heartRate' : p);
    t.type(checked, 'number', `every score used a published ${p}`);
  }
  t.equal(agent.process.exitCode, null, 'the agent did not crash');
});

t.test('REQ-HL7-022 REQ-HL7-034 HAZ-008 through the pty, tolerant: a corrupt OBX is rejected alone, its value withheld with a technical alarm; the rest of its message is used', async (t) => {
  const { sub, sim } = await system(t, ['--inject', 'corrupt@2']);
  const raised = await until('the value-withheld alarm', () => alarm(sub.got, 'value-withheld.spo2'));
  t.match(raised, { kind: 'ALARM_KIND_TECHNICAL', state: 'ALARM_STATE_ACTIVE', priority: 'ALARM_PRIORITY_MEDIUM' });
  t.match(raised.detail, /OBX-1 2 \(150456\^MDC_PULS_OXIM_SAT_O2\^MDC\): OBX-5 is not a valid NM number/, 'the row named by its own set id and code');
  await until('message 3 published', () => fromMessage(sub.got, sim, 3).length > 0);
  t.match(ackFor(sim, 2), [{ code: 'AA', errors: [{ code: '102', severity: 'W' }] }], 'message 2 answered AA with a warning for its corrupt OBX');
  const two = fromMessage(sub.got, sim, 2);
  t.notOk(two.some((o) => o.parameter === 'spo2'), 'no SpO2 from the corrupt OBX');
  t.ok(['pulseRate', 'heartRate', 'respRate'].every((p) => two.some((o) => o.parameter === p && o.hasValue)), 'the other values of message 2 are published');
  const cleared = await until('the alarm cleared by the next SpO2', () => (alarm(sub.got, 'value-withheld.spo2')?.state === 'ALARM_STATE_CLEARED' ? true : undefined));
  t.ok(cleared);
  await until('the row counted', () => counters(sub.got)['obx-rejected.malformed'] === 1);
  t.type(scoresUseOnlyPublished(sub.got, 'spo2'), 'number', 'every score used a published SpO2');
});

t.test('HAZ-005 through the pty: an unknown code is rejected and counted in the status, answered with a warning, never published', async (t) => {
  const { sub, sim } = await system(t, ['--inject', 'unknown-code@2']);
  await until('the unknown code counted', () => counters(sub.got)['obx-ignored.unknown-code'] === 1);
  t.match(ackFor(sim, 2), [{ code: 'AA', errors: [{ code: '103', severity: 'W' }] }], 'AA with an ERR warning: table value not found');
  const published = new Set(observations(sub.got).map((o) => o.parameter));
  t.ok([...published].every((p) => KNOWN_PARAMETERS.has(p)), `only table parameters published (${[...published].join(', ')})`);
  t.ok(fromMessage(sub.got, sim, 2).every((o) => o.deviceCode !== 'MDC:148065'), 'the unknown code is not published under any name');
  t.ok(scores(sub.got).every((s) => (s.score.inputs ?? []).every((i) => KNOWN_PARAMETERS.has(i.parameter))), 'nothing unknown in a score');
  t.ok(fromMessage(sub.got, sim, 2).some((o) => o.parameter === 'spo2'), 'the rest of the message is used');
  t.type(scoresUseOnlyPublished(sub.got, 'spo2'), 'number', 'every score used a published SpO2');
});

t.test('HAZ-011 through the pty: another patient, then another monitor: held back with a high-priority alarm, never in the score', async (t) => {
  const { sub, sim } = await system(t, ['--inject', 'other-patient@3,other-device@6-8']);
  const raised = await until('the identity alarm', () => alarm(sub.got, 'device-identity'));
  t.match(raised, { kind: 'ALARM_KIND_TECHNICAL', state: 'ALARM_STATE_ACTIVE', priority: 'ALARM_PRIORITY_HIGH' });
  t.notMatch(raised.detail, /HWSIM9999/, 'the other patient is not named');
  await until('the three messages of the other monitor answered', () => ackFor(sim, 8).length > 0);
  for (const i of [3, 6, 7, 8]) {
    t.same(fromMessage(sub.got, sim, i), [], `nothing of message ${i} published`);
    t.match(ackFor(sim, i), [{ code: 'AE', errors: [{ code: '204' }] }], `message ${i} answered AE`);
  }
  const c = await until('the status counting them', () => {
    const x = counters(sub.got);
    return x['frames-rejected.device-changed'] === 3 ? x : undefined;
  });
  t.equal(c['frames-rejected.patient-mismatch'], 1);
  t.equal(c['frames-rejected.device-changed'], 3);
  t.notOk(withValue(sub.got, 'spo2').some((o) => o.value === 88), "the other patient's SpO2 never published");
  t.notOk(scores(sub.got).some((s) => (s.score.inputs ?? []).some((i) => (i.parameter === 'spo2' && i.value === 88) || (i.parameter === 'pulseRate' && i.value === 118))), 'nor scored');
  t.type(scoresUseOnlyPublished(sub.got, 'spo2'), 'number', 'every score used a published SpO2');
});

t.test('HAZ-007 through the pty: a duplicate control id is dropped (answered AA), counted, and its values not processed twice', async (t) => {
  const { sub, sim } = await system(t, ['--inject', 'duplicate@3']);
  await until('the duplicate counted', () => counters(sub.got)['frames-rejected.duplicate'] === 1);
  await until('messages after it', () => fromMessage(sub.got, sim, 5).length > 0);
  t.equal(frame(sim, 3)?.controlId, frame(sim, 2)?.controlId, 'hw-sim resent message 2 as message 3');
  t.match(ackFor(sim, 2), [{ code: 'AA', errors: [] }, { code: 'AA', errors: [{ code: '205', severity: 'I' }] }], 'both answered AA, the second noting the duplicate');
  const times = withValue(sub.got, 'spo2').map((o) => Number(o.deviceTimeMs));
  t.equal(new Set(times).size, times.length, 'no SpO2 published twice');
  const checked = scoresUseOnlyPublished(sub.got, 'spo2');
  t.type(checked, 'number', 'every score used a published SpO2');
  t.ok(Number(checked) > 0, 'scores go on');
});

t.test('REQ-SYS-HL7-002 HAZ-003 a monitor that falls silent: link stale, values withdrawn, technical alarm; recovery clears it', async (t) => {
  // 250 ms period: messages 4-31 silent = 7 s without a message, beyond the 5 s quiet time.
  const { sub, sim } = await system(t, ['--inject', 'silence@4-31']);
  const raised = await until('the link-stale alarm', () => alarm(sub.got, 'link-stale'));
  t.match(raised, { kind: 'ALARM_KIND_TECHNICAL', state: 'ALARM_STATE_ACTIVE', priority: 'ALARM_PRIORITY_MEDIUM' });
  // Alarms are forwarded ahead of other messages (docs/interfaces/durable-queue.md): the withdrawal
  // may arrive just after the alarm, within the quiet time.
  const withdrawn = await until('SpO2 withdrawn', () => observations(sub.got, 'spo2').find((o) => !o.hasValue && o.unavailableReason === 'link-stale'), 5000);
  t.ok(withdrawn, 'SpO2 withdrawn with the reason');
  const from = seqOf(sub.got, withdrawn!);
  await until('values again after the silence', () => fromMessage(sub.got, sim, 33).length > 0);
  const back = withValue(sub.got, 'spo2').find((o) => seqOf(sub.got, o) > from)!;
  t.equal(Number(back.deviceTimeMs), frameTimeMs(sim, 32), 'the first value after the silence is that of message 32');
  t.ok(scores(sub.got).filter((s) => s.seq > from && s.seq < seqOf(sub.got, back)).every((s) => !(s.score.inputs ?? []).some((i) => i.parameter === 'spo2')), 'no SpO2 in the score while silent');
  const cleared = await until('the alarm cleared', () => (alarm(sub.got, 'link-stale')?.state === 'ALARM_STATE_CLEARED' ? true : undefined));
  t.ok(cleared);
});
