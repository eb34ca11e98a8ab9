/**
 * IHE PCD-04 alerts (ORU^R40): the decoder (agent/src/drivers/hl7-pcd01/pcd04.ts through
 * decodePcd01), the receiver's ACK^R40 and the relay (alert-relay.ts), from messages written here by
 * hand in the two layouts docs/interfaces/hl7-pcd01.md ("Alerts") reads: S8 (the event in OBX-3,
 * the source in OBX-5, priority~type in OBX-8, facets 68481-68483) and S9 (MDC_EVT_ALARM in OBX-3,
 * the event in OBX-5, facet rows for priority and type, facets 68164-68169).
 */
import t from 'tap';
import { decodePcd01Capture } from '../../agent/src/commands/decode';
import { alertCondition, alertDetail, alertQualifier, deviceText, MAX_DEVICE_TEXT_CHARS, Pcd04AlertRelay } from '../../agent/src/drivers/hl7-pcd01/alert-relay';
import { decodePcd01 } from '../../agent/src/drivers/hl7-pcd01/pcd01';
import type { Pcd04Alert } from '../../agent/src/drivers/hl7-pcd01/pcd04';
import { Pcd01Receiver } from '../../agent/src/drivers/hl7-pcd01/receiver';
import { ALARM_CONDITIONS } from '../../agent/src/safety/conditions';
import { alertMessage as s8 } from '../support/hl7-pcd01-fixtures';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const DEVICE = { interfaceId: 'monitor', sendingApplication: 'ACME_MON', equipmentId: '0012A1FFFE3B4C5D' };

/** An S9-layout alert (written here after the layout of a Mindray VS900 message, not copied). */
function s9(phase: string, state: string, priority: string, type: string): string {
  return [
    'MSH|^~\\&|OTHER_MON^00A0370000000001^EUI-64||||20261207120000||ORU^R40^ORU_R40|B7|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.4.1^ISO',
    'PID|||MRN0042^^^Hospital^PI',
    'OBR|1||B7^OTHER_MON^00A0370000000001^EUI-64|196616^MDC_EVT_ALARM^MDC|||20261207120000',
    'OBX|1|CWE|196616^MDC_EVT_ALARM^MDC|1.3.1.1.1|196648^MDC_EVT_HI^MDC||||||F|||20261207120000',
    'OBX|2|CWE|68164^MDC_ATTR_ALERT_SOURCE^MDC|1.3.1.1.2|69953^MDC_DEV_MON_PT_PHYSIO_MULTI_PARAM_MDS^MDC||||||F',
    `OBX|3|ST|68165^MDC_ATTR_EVENT_PHASE^MDC|1.3.1.1.3|${phase}||||||F`,
    `OBX|4|ST|68166^MDC_ATTR_ALARM_STATE^MDC|1.3.1.1.4|${state}||||||F`,
    `OBX|5|ST|68168^MDC_ATTR_ALARM_PRIORITY^MDC|1.3.1.1.6|${priority}||||||F`,
    `OBX|6|ST|68169^MDC_ATTR_ALERT_TYPE^MDC|1.3.1.1.7|${type}||||||F`,
  ].join('\r') + '\r';
}

function alerts(text: string): Pcd04Alert[] {
  const d = decodePcd01(Buffer.from(text, 'latin1'), { defaultUtcOffsetMinutes: 0 });
  if (!d.ok || d.kind !== 'alert') throw new Error(`expected an alert message, got ${JSON.stringify(d)}`);
  return d.alerts;
}

const receiver = (): Pcd01Receiver => new Pcd01Receiver({ patientId: 'MRN0042', patientIdAuthority: null, equipmentId: null, defaultUtcOffsetMinutes: 0 });

t.test('REQ-ALARM-009 an S8-layout ORU^R40 is read: instance, event, source, phase, state, inactivation, priority, type, time', async (t) => {
  const [a] = alerts(s8());
  t.ok(a);
  if (!a) return;
  t.equal(a.instanceId, '7001^ACME_MON');
  t.same(a.event, { code: 196670, refId: 'MDC_EVT_LO', system: 'MDC' });
  t.equal(a.eventKnown, true);
  t.same(a.source, { code: 150456, refId: 'MDC_PULS_OXIM_SAT_O2', system: 'MDC' });
  t.equal(a.phase, 'start');
  t.equal(a.state, 'active');
  t.equal(a.inactivation, 'enabled');
  t.equal(a.priority, 'medium');
  t.equal(a.type, 'physiological');
  t.equal(a.ended, false);
  t.equal(a.deviceTime?.ms, NOW);
  t.same(a.warnings, []);
});

t.test('REQ-ALARM-009 an S9-layout ORU^R40 is read: the event from OBX-5 of MDC_EVT_ALARM, priority and type from facet rows', async (t) => {
  const [a] = alerts(s9('start', 'active', 'PH', 'ST'));
  if (!a) throw new Error('no alert');
  t.same(a.event, { code: 196648, refId: 'MDC_EVT_HI', system: 'MDC' });
  t.equal(a.source, null, 'the S9 message names no parameter');
  t.equal(a.alertSource, 'MDC_DEV_MON_PT_PHYSIO_MULTI_PARAM_MDS');
  t.equal(a.priority, 'high');
  t.equal(a.type, 'technical');
  t.equal(alertCondition(a), 'device-technical-high');
  t.equal(alertQualifier(a), '196648-0');
  const [end] = alerts(s9('end', 'inactive', 'PH', 'ST'));
  t.equal(end?.ended, true);
});

t.test('REQ-ALARM-009 the condition follows the device type and priority; a priority not stated is medium; PN is low', async (t) => {
  const pick = (flags: string) => alertCondition(alerts(s8({ flags }))[0] as Pcd04Alert);
  t.equal(pick('PH~SP'), 'device-alarm-high');
  t.equal(pick('PM~SP'), 'device-alarm-medium');
  t.equal(pick('PL~SP'), 'device-alarm-low');
  t.equal(pick('PN~SA'), 'device-alarm-low');
  t.equal(pick('PH~ST'), 'device-technical-high');
  t.equal(pick('ST'), 'device-technical-medium', 'no priority stated: medium');
  t.equal(pick(''), 'device-alarm-medium', 'neither stated: physiological, medium');
  for (const c of ['device-alarm-high', 'device-alarm-medium', 'device-alarm-low', 'device-technical-high', 'device-technical-medium', 'device-technical-low'] as const) {
    t.equal(ALARM_CONDITIONS[c].origin, 'device', `${c} is a relayed device alarm`);
    t.equal(ALARM_CONDITIONS[c].priority, c.split('-')[2], `${c} carries the priority its name says`);
    t.equal(ALARM_CONDITIONS[c].kind, c.startsWith('device-technical') ? 'technical' : 'physiological');
  }
});

t.test('REQ-ALARM-010 a malformed ORU^R40 is rejected with its reason and answered AE, never thrown', async (t) => {
  const noObr3 = decodePcd01(Buffer.from(s8({ withObr3: false })), { defaultUtcOffsetMinutes: 0 });
  t.equal(noObr3.ok, false);
  if (!noObr3.ok) {
    t.equal(noObr3.reason, 'malformed');
    t.match(noObr3.detail, /OBR-3 \(the alert instance id\) is required/);
  }
  const noObr = s8().replace(/OBR\|[^\r]*\r/, '');
  const r1 = decodePcd01(Buffer.from(noObr), { defaultUtcOffsetMinutes: 0 });
  t.equal(r1.ok, false);
  if (!r1.ok) t.match(r1.detail, /OBX segment 1: before any OBR segment/);
  const noEvent = s8().replace(/OBX\|1\|CWE\|196670\^MDC_EVT_LO\^MDC/, 'OBX|1|CWE|');
  const r2 = decodePcd01(Buffer.from(noEvent), { defaultUtcOffsetMinutes: 0 });
  t.equal(r2.ok, false);
  if (!r2.ok) t.match(r2.detail, /OBX-3 \(the alert's event\) is required/);
  const out = receiver().receive(s8({ withObr3: false }), NOW);
  t.equal(out.kind, 'rejected');
  if (out.kind === 'rejected') {
    t.equal(out.reason, 'malformed');
    t.match(out.ack ?? '', /^MSH\|\^~\\&\|VIGIL\|VIGIL\|ACME_MON\^0012A1FFFE3B4C5D\^EUI-64\|\|\d{14}[^|]*\|\|ACK\^R40\^ACK\|/);
    t.match(out.ack ?? '', /\rMSA\|AE\|A1\r/);
    t.match(out.ack ?? '', /\rERR\|\|OBR\^1\^3\|101\^Required field missing\^HL70357\|E\|/);
  }
});

t.test('REQ-ALARM-009 an accepted ORU^R40 is answered ACK^R40^ACK with AA and the ACM profile', async (t) => {
  const out = receiver().receive(s8(), NOW);
  t.equal(out.kind, 'alert');
  if (out.kind !== 'alert') return;
  const ack = out.ack([]);
  const segs = ack.split('\r');
  const msh = (segs[0] ?? '').split('|');
  t.equal(msh[8], 'ACK^R40^ACK');
  t.equal(msh[20], 'IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.4.1^ISO');
  t.equal(segs[1], 'MSA|AA|A1');
  t.equal(segs.filter((s) => s.startsWith('ERR')).length, 0);
});

t.test('REQ-ALARM-010 a facet outside its list is read as not given, warned in the ACK and counted, and the alert stays active', async (t) => {
  const [a] = alerts(s8({ phase: 'shouting', state: 'maybe' }));
  if (!a) throw new Error('no alert');
  t.equal(a.phase, null);
  t.equal(a.state, null);
  t.equal(a.ended, false, 'not an end: the alert stays active');
  t.same(a.warnings.map((w) => w.what), ['phase', 'state']);
  const out = receiver().receive(s8({ phase: 'shouting' }), NOW);
  if (out.kind !== 'alert') throw new Error(out.kind);
  t.match(out.ack([]), /\rERR\|\|OBX\^3\^5\|103\^Table value not found\^HL70357\|W\|\|\|\|OBX segment 3: MDC_ATTR_EVENT_PHASE is not one of the PCD-04 event phases: read as not given\r/);
  const relay = new Pcd04AlertRelay('monitor', 60_000);
  const r = relay.update([a], DEVICE, 0n);
  t.ok(r.counts.includes('alert-warning.phase'));
  t.equal(r.edges.length, 1);
  t.equal(r.edges[0]?.active, true);
});

t.test('REQ-ALARM-009 HAZ-019 the relay raises at start, keeps quiet on continue, re-announces a silenced alert, and clears at end', async (t) => {
  const relay = new Pcd04AlertRelay('monitor', 60_000);
  const start = relay.update(alerts(s8()), DEVICE, 0n);
  t.same(start.edges.map((e) => [e.condition, e.qualifier, e.active]), [['device-alarm-medium', '196670-150456', true]]);
  t.ok(start.counts.includes('device-alarms-relayed'));
  const detail = start.edges[0]?.detail ?? '';
  t.match(detail, /^device HL7 ACME_MON EUI-64 0012A1FFFE3B4C5D on monitor: MDC_EVT_LO \(196670\) on MDC_PULS_OXIM_SAT_O2 \(150456\), state active, alarm signals on at the device$/);
  t.notMatch(detail, /87/, 'no measured value in the text');
  const cont = relay.update(alerts(s8({ controlId: 'A2', phase: 'continue' })), DEVICE, 5_000_000_000n);
  t.same(cont.edges, [], 'a continue of the same alert changes nothing');
  const paused = relay.update(alerts(s8({ controlId: 'A3', phase: 'continue', inactivation: 'audio-paused' })), DEVICE, 6_000_000_000n);
  t.equal(paused.edges.length, 1);
  t.match(paused.edges[0]?.detail ?? '', /audio paused at the device/);
  const escalated = relay.update(alerts(s8({ controlId: 'A4', phase: 'escalate', flags: 'PH~SP', inactivation: 'audio-paused' })), DEVICE, 7_000_000_000n);
  t.same(escalated.edges.map((e) => [e.condition, e.active]), [['device-alarm-medium', false], ['device-alarm-high', true]], 'escalated: the medium one ends, the high one is raised');
  const end = relay.update(alerts(s8({ controlId: 'A5', phase: 'end', state: 'inactive', flags: 'PH~SP' })), DEVICE, 8_000_000_000n);
  t.same(end.edges.map((e) => [e.condition, e.qualifier, e.active]), [['device-alarm-high', '196670-150456', false]]);
  t.match(end.edges[0]?.detail ?? '', /ended at the device$/);
  t.equal(relay.active, 0);
});

t.test('REQ-ALARM-010 an unknown event code is relayed with its code and counted', async (t) => {
  const relay = new Pcd04AlertRelay('monitor', 60_000);
  const [a] = alerts(s8({ event: '9001^HWSIM_EVT_PRIVATE^99HWSIM', source: '', flags: 'PL~ST' }));
  if (!a) throw new Error('no alert');
  t.equal(a.eventKnown, false);
  const r = relay.update([a], DEVICE, 0n);
  t.ok(r.counts.includes('alert-event-unknown'));
  t.same(r.edges.map((e) => [e.condition, e.qualifier, e.active]), [['device-technical-low', '9001-150456', true]], 'the source comes from the parameter row when OBX-5 is empty');
  t.match(r.edges[0]?.detail ?? '', /HWSIM_EVT_PRIVATE \(9001\), coding system 99HWSIM \(event code not known to Vigil\)/);
});

t.test('REQ-ALARM-010 an end without start is answered with a warning, counted, and changes nothing', async (t) => {
  const relay = new Pcd04AlertRelay('monitor', 60_000);
  const r = relay.update(alerts(s8({ phase: 'end', state: 'inactive' })), DEVICE, 0n);
  t.same(r.edges, []);
  t.ok(r.counts.includes('alert-end-without-start'));
  t.equal(r.ackWarnings.length, 1);
  t.same(r.ackWarnings[0]?.location, { segment: 'OBR', sequence: 1, field: 3 });
  t.equal(r.notes[0]?.event, 'alert-end-without-start');
  const rx = receiver();
  const out = rx.receive(s8({ phase: 'end', state: 'inactive' }), NOW);
  if (out.kind !== 'alert') throw new Error(out.kind);
  t.match(out.ack(r.ackWarnings), /\rMSA\|AA\|A1\rERR\|\|OBR\^1\^3\|205\^Duplicate key identifier\^HL70357\|W\|/);
});

t.test('REQ-ALARM-010 HAZ-019 a missing end: the alert stays raised and says since when it was not updated; a stale link clears it', async (t) => {
  const relay = new Pcd04AlertRelay('monitor', 60_000);
  relay.update(alerts(s8()), DEVICE, 0n);
  t.same(relay.tick(59_000_000_000n).edges, [], 'not before the timeout');
  const overdue = relay.tick(61_000_000_000n);
  t.equal(overdue.edges.length, 1);
  t.equal(overdue.edges[0]?.active, true, 'still raised: a lost end never clears an alarm that may be on');
  t.match(overdue.edges[0]?.detail ?? '', /not updated by the device for more than 60 s: its end may have been lost/);
  t.same(overdue.counts, ['alert-update-missing']);
  t.same(relay.tick(120_000_000_000n).edges, [], 'said once');
  const back = relay.update(alerts(s8({ controlId: 'A9', phase: 'continue' })), DEVICE, 121_000_000_000n);
  t.equal(back.edges.length, 1, 'an update restores the normal text');
  t.notMatch(back.edges[0]?.detail ?? '', /not updated/);
  const cleared = relay.clearAll('link stale');
  t.same(cleared.map((e) => e.active), [false]);
  t.match(cleared[0]?.detail ?? '', /no longer known: link stale$/);
});

t.test('REQ-ALARM-010 a device that numbers each message anew (S9): the end of another instance id ends the alarm of the same event and source', async (t) => {
  const relay = new Pcd04AlertRelay('monitor', 60_000);
  const start = relay.update(alerts(s9('start', 'active', 'PM', 'SP')), DEVICE, 0n);
  t.equal(start.edges.length, 1);
  const renumbered = alerts(s9('end', 'inactive', 'PM', 'SP').replace('OBR|1||B7^', 'OBR|1||B8^'));
  const end = relay.update(renumbered, DEVICE, 1n);
  t.same(end.edges.map((e) => [e.condition, e.active]), [['device-alarm-medium', false]]);
  t.same(end.counts.filter((c) => c === 'alert-end-without-start'), []);
});

t.test('REQ-ALARM-010 an alert from another device than the one bound is rejected as a device change, never relayed', async (t) => {
  const rx = receiver();
  t.equal(rx.receive(s8(), NOW).kind, 'alert');
  const other = rx.receive(s8({ controlId: 'A2', equipment: '0012A1FFFE00BEEF' }), NOW);
  t.equal(other.kind, 'rejected');
  if (other.kind === 'rejected') {
    t.equal(other.reason, 'device-changed');
    t.match(other.ack ?? '', /ACK\^R40\^ACK/);
    t.match(other.ack ?? '', /\rMSA\|AE\|A2\r/);
  }
  const dup = rx.receive(s8(), NOW);
  t.equal(dup.kind, 'duplicate', 'the same control id again is a duplicate, not a second alert');
});

t.test('REQ-ALARM-009 vigil decode pcd01 prints each alert of a capture as the gateway reads it', async (t) => {
  const capture = Buffer.from([s8(), s8({ controlId: 'A2', phase: 'end', state: 'inactive', flags: 'PH~ST' })].join('\n'), 'latin1');
  const lines = decodePcd01Capture(capture, { nowWallMs: NOW });
  t.same(lines, [
    { kind: 'alert', instanceId: '7001^ACME_MON', event: '196670^MDC_EVT_LO', eventKnown: true, source: '150456^MDC_PULS_OXIM_SAT_O2', phase: 'start', state: 'active', inactivation: 'enabled', priority: 'medium', type: 'physiological', ended: false, deviceTime: '2026-12-07T12:00:00Z' },
    { kind: 'alert', instanceId: '7001^ACME_MON', event: '196670^MDC_EVT_LO', eventKnown: true, source: '150456^MDC_PULS_OXIM_SAT_O2', phase: 'end', state: 'inactive', inactivation: 'enabled', priority: 'high', type: 'technical', ended: true, deviceTime: '2026-12-07T12:00:00Z' },
  ]);
});

t.test('REQ-ALARM-010 device text in a relayed alarm is printable and bounded: a kilobyte reference id or source is cut, control characters become spaces', async (t) => {
  const long = `MDC_EVT_${'X'.repeat(2000)}`;
  const [a] = alerts(s8({ event: `9002^${long}^99ACME`, source: `150456^MDC_PULS\\X07\\OXIM^MDC` }));
  if (!a) throw new Error('no alert');
  const detail = alertDetail(a, { ...DEVICE, sendingApplication: `ACME${'Y'.repeat(500)}` });
  t.ok(detail.length < 400, `the text stays short (${detail.length} characters)`);
  t.match(detail, new RegExp(`MDC_EVT_X{${MAX_DEVICE_TEXT_CHARS - 9}}… \\(9002\\)`), 'the reference id cut at the bound and marked');
  t.notMatch(detail, /[\u0000-\u001f]/, 'no control character');
  t.equal(deviceText('a\u0007b'), 'a b');
});

t.test('REQ-ALARM-010 an ORU^R40 with no alert in it (no OBR, no OBX) is rejected AE as malformed, never read as "no alarm"', async (t) => {
  const empty = s8().split('\r').filter((s) => !s.startsWith('OBR') && !s.startsWith('OBX')).join('\r');
  const d = decodePcd01(Buffer.from(empty), { defaultUtcOffsetMinutes: 0 });
  t.equal(d.ok, false);
  if (!d.ok) {
    t.equal(d.reason, 'malformed');
    t.match(d.detail, /^OBR: an ORU\^R40 needs one OBR segment per alert$/);
  }
  const out = receiver().receive(empty, NOW);
  t.equal(out.kind, 'rejected');
  if (out.kind === 'rejected') {
    t.equal(out.reason, 'malformed');
    t.match(out.ack ?? '', /\rMSA\|AE\|A1\r/);
  }
});

t.test('REQ-ALARM-010 HAZ-019 a device that numbers each message anew (S9): a continue under a new instance id is the same alarm, not a second one; a new priority under it re-raises', async (t) => {
  const relay = new Pcd04AlertRelay('monitor', 60_000);
  const renumber = (text: string, id: string): string => text.replace('OBR|1||B7^', `OBR|1||${id}^`);
  const start = relay.update(alerts(s9('start', 'active', 'PM', 'SP')), DEVICE, 0n);
  t.same(start.edges.map((e) => [e.condition, e.active]), [['device-alarm-medium', true]]);
  const cont = relay.update(alerts(renumber(s9('continue', 'active', 'PM', 'SP'), 'B8')), DEVICE, 1_000_000_000n);
  t.same(cont.edges, [], 'the same event and source under another instance id changes nothing');
  t.same(cont.counts.filter((c) => c === 'device-alarms-relayed'), [], 'not counted as a second relayed alarm');
  t.equal(relay.active, 1, 'one alarm relayed, not two');
  const high = relay.update(alerts(renumber(s9('escalate', 'active', 'PH', 'SP'), 'B9')), DEVICE, 2_000_000_000n);
  t.same(high.edges.map((e) => [e.condition, e.active]), [['device-alarm-medium', false], ['device-alarm-high', true]], 'escalated under a third id: the medium one ends, the high one is raised');
  t.equal(relay.active, 1);
  const end = relay.update(alerts(renumber(s9('end', 'inactive', 'PH', 'SP'), 'B9')), DEVICE, 3_000_000_000n);
  t.same(end.edges.map((e) => [e.condition, e.active]), [['device-alarm-high', false]]);
  t.equal(relay.active, 0);
});
