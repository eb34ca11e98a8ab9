/**
 * The station view and delivery: duplicates dropped by message id, backfill kept as
 * history and never alarmed on as live, sequence gaps per gateway run that late
 * messages fill, and a mark per parameter when its data has stopped. Pure: messages in,
 * views out, times given.
 */
import t from 'tap';
import type { AlarmMsg, EnvelopeMsg, GatewayStatusMsg, ObservationMsg } from '../../agent/src/proto/codec';
import { decodeEnvelope, encodeEnvelope, markBackfill } from '../../agent/src/proto/codec';
import { ReceiptBook } from '../../agent/src/station/receipts';
import { HISTORY_LIMIT, renderStation, StationModel } from '../../agent/src/station/station';

const T0 = 1767261600000;
const base = 'vigil/v1/site1/ward7/bed12';
let id = 0;

function env(payload: Partial<EnvelopeMsg>, o: { seq?: number; boot?: string; backfill?: boolean; messageId?: string; sentWallMs?: number } = {}): Uint8Array {
  id += 1;
  return encodeEnvelope({
    schemaVersion: 1,
    gatewayId: 'gw-1',
    siteId: 'site1',
    wardId: 'ward7',
    bedId: 'bed12',
    messageId: o.messageId ?? `m-${id}`,
    sequence: o.seq ?? 0,
    bootId: o.boot ?? 'boot-1',
    sentWallMs: o.sentWallMs ?? T0,
    backfill: o.backfill ?? false,
    ...payload,
  });
}
function obs(parameter: string, value: number, receiveWallMs: number, quality: string[] = []): ObservationMsg {
  return {
    parameter,
    value,
    hasValue: true,
    unitUcum: '%',
    loinc: '',
    status: 'RESULT_STATUS_FINAL',
    quality,
    source: { driver: 'masimo-ascii', interfaceId: 'spo2', serialNumber: '', port: '' },
    deviceTimeMs: receiveWallMs,
    deviceTimeText: '',
    receiveWallMs,
    receiveMonoNs: '1',
    maxAgeMs: 5000,
    unavailableReason: '',
  };
}
function alarm(state: string, changedWallMs: number, extra: Partial<AlarmMsg> = {}): AlarmMsg {
  return {
    alarmId: 'spo2.link-lost',
    kind: 'ALARM_KIND_TECHNICAL',
    priority: 'ALARM_PRIORITY_MEDIUM',
    condition: 'link-lost',
    state,
    source: 'spo2',
    detail: 'port closed',
    raisedWallMs: T0,
    changedWallMs,
    ...extra,
  };
}
const status = (): GatewayStatusMsg => ({ online: true, reason: 'heartbeat', interfaces: [], counters: [], startedWallMs: T0, heartbeatIntervalMs: 1000, softwareVersion: 't' });

t.test('REQ-DELIV-030 markBackfill sets the envelope flag and QUALITY_FLAG_BACKFILL, and changes nothing else', async (t) => {
  const bytes = env({ observation: obs('spo2', 97, T0, ['QUALITY_FLAG_LOW_PERFUSION']) }, { seq: 7, messageId: 'keep-me' });
  const before = decodeEnvelope(bytes);
  const after = decodeEnvelope(markBackfill(bytes));
  t.equal(after.backfill, true);
  t.same(after.observation?.quality, ['QUALITY_FLAG_LOW_PERFUSION', 'QUALITY_FLAG_BACKFILL']);
  t.same({ ...after, backfill: false, observation: { ...after.observation, quality: before.observation?.quality } }, before, 'every other field as it was, the message id included');
  t.same(decodeEnvelope(markBackfill(markBackfill(bytes))).observation?.quality, ['QUALITY_FLAG_LOW_PERFUSION', 'QUALITY_FLAG_BACKFILL'], 'idempotent');
  t.equal(decodeEnvelope(markBackfill(env({ score: undefined, alarm: alarm('ALARM_STATE_ACTIVE', T0) }))).backfill, true, 'non-observations: the envelope flag');
});

t.test('REQ-DELIV-031 the station drops duplicates by message id (exactly once in effect)', async (t) => {
  const m = new StationModel();
  const copy = env({ observation: obs('spo2', 97, T0) }, { seq: 1, messageId: 'dup' });
  t.equal(m.apply(`${base}/obs/spo2`, copy, T0), true);
  t.equal(m.apply(`${base}/obs/spo2`, copy, T0 + 10), false, 'the same message again is dropped');
  t.equal(m.apply(`${base}/obs/spo2`, markBackfill(copy), T0 + 20), false, 'also when re-sent as backfill (same id)');
  t.equal(m.duplicates, 2);
  t.equal(m.view(T0 + 30)[0]?.duplicates, 2, 'shown per bed');
});

t.test('REQ-DELIV-032 backfill is history: never a current value, never a live alarm', async (t) => {
  const m = new StationModel();
  m.apply(`${base}/status`, env({ status: status() }), T0);
  m.apply(`${base}/obs/spo2`, env({ observation: obs('spo2', 96, T0 - 2000) }, { seq: 1, backfill: true }), T0);
  let v = m.view(T0 + 100)[0]!;
  t.equal(v.values[0]?.current, false, 'a 2 s old backfilled value is not shown as current');
  t.equal(v.values[0]?.backfill, true);
  t.match(renderStation([v], T0 + 100), /unavailable: backfill \(delivered late\)/);
  m.apply(`${base}/alarm/spo2.link-lost`, env({ alarm: alarm('ALARM_STATE_ACTIVE', T0 - 1500) }, { seq: 2, backfill: true }), T0);
  v = m.view(T0 + 100)[0]!;
  t.equal(v.alarms.length, 0, 'an alarm raised in the backfill is not raised as live');
  t.equal(v.backfill.received, 2, 'both kept as history');
  t.match(v.backfill.recent.map((h) => h.summary).join(' | '), /spo2 96 % \| alarm spo2\.link-lost active/);
  t.match(renderStation([v], T0 + 100), /History 2 message\(s\) delivered late \(backfill\)/);
  m.apply(`${base}/obs/spo2`, env({ observation: obs('spo2', 98, T0 + 200) }, { seq: 3 }), T0 + 200);
  m.apply(`${base}/obs/spo2`, env({ observation: obs('spo2', 95, T0 - 1000) }, { seq: 4, backfill: true }), T0 + 250);
  v = m.view(T0 + 300)[0]!;
  t.equal(v.values[0]?.value, 98, 'an older backfilled value does not replace a newer live one');
  t.equal(v.values[0]?.current, true);
});

t.test('REQ-DELIV-033 a late clear applies only when it is newer than what the station knows', async (t) => {
  const m = new StationModel();
  m.apply(`${base}/status`, env({ status: status() }), T0);
  m.apply(`${base}/alarm/spo2.link-lost`, env({ alarm: alarm('ALARM_STATE_ACTIVE', T0) }, { seq: 1 }), T0);
  m.apply(`${base}/alarm/spo2.link-lost`, env({ alarm: alarm('ALARM_STATE_CLEARED', T0 - 5000) }, { seq: 2, backfill: true }), T0 + 10);
  t.equal(m.view(T0 + 20)[0]?.alarms.length, 1, 'an older clear from the backfill does not hide a live alarm');
  m.apply(`${base}/alarm/spo2.link-lost`, env({ alarm: alarm('ALARM_STATE_CLEARED', T0 + 5000) }, { seq: 3, backfill: true }), T0 + 6000);
  t.equal(m.view(T0 + 6010)[0]?.alarms.length, 0, 'a newer clear does (clearing can never be a false alarm)');
});

t.test('REQ-DELIV-034 sequence gaps are counted per gateway run; late messages fill them; state (0) is outside', async (t) => {
  const m = new StationModel();
  const o = (seq: number, boot = 'boot-1', backfill = false) =>
    m.apply(`${base}/obs/spo2`, env({ observation: obs('spo2', 97, T0) }, { seq, boot, backfill }), T0);
  o(1);
  o(2);
  o(6); // 3, 4, 5 not (yet) received
  m.apply(`${base}/status`, env({ status: status() }, { seq: 0 }), T0);
  let v = m.view(T0)[0]!;
  t.equal(v.sequenceGaps, 1);
  t.equal(v.missingMessages, 3);
  t.match(renderStation([v], T0), /LOST\?\s+3 numbered message\(s\) not received \(1 gap\(s\)\)/);
  o(4, 'boot-1', true);
  v = m.view(T0)[0]!;
  t.equal(v.sequenceGaps, 2, 'a late arrival splits the gap');
  t.equal(v.missingMessages, 2);
  o(3, 'boot-1', true);
  o(5, 'boot-1', true);
  t.equal(m.view(T0)[0]?.missingMessages, 0, 'all filled: nothing lost');
  o(1, 'boot-2');
  o(2, 'boot-2');
  o(7, 'boot-1', true); // the previous run's queue drains after the restart
  v = m.view(T0)[0]!;
  t.equal(v.missingMessages, 0, 'a new run starts its own count; the old run continues its own');
});

t.test('REQ-STATION-010 data that has stopped is marked per parameter, apart from a withdrawn value', async (t) => {
  const m = new StationModel();
  m.apply(`${base}/status`, env({ status: status() }), T0);
  m.apply(`${base}/obs/spo2`, env({ observation: obs('spo2', 97, T0) }, { seq: 1 }), T0);
  m.apply(`${base}/obs/pulseRate`, env({ observation: { ...obs('pulseRate', 0, T0 + 4000), hasValue: false, status: 'RESULT_STATUS_CANNOT_OBTAIN', unavailableReason: 'sensor-off' } }, { seq: 2 }), T0 + 4000);
  m.apply(`${base}/status`, env({ status: status() }), T0 + 5500);
  const v = m.view(T0 + 6000)[0]!;
  const spo2 = v.values.find((x) => x.parameter === 'spo2')!;
  const pulse = v.values.find((x) => x.parameter === 'pulseRate')!;
  t.equal(spo2.stopped, true, 'SpO2: nothing for 6 s, beyond its 5 s maximum age');
  t.equal(pulse.stopped, false, 'pulse: withdrawn 2 s ago with a reason, data still flowing');
  const text = renderStation([v], T0 + 6000);
  t.match(text, /SpO2\s+--\s+%\s+DATA STOPPED: nothing received for 6\.0 s/);
  t.match(text, /Pulse\s+--\s+%\s+unavailable: sensor-off/);
});

t.test('REQ-STATION-011 acknowledged and silenced alarms, and manual inputs, are shown as such', async (t) => {
  const m = new StationModel();
  m.apply(`${base}/status`, env({ status: status() }), T0);
  m.apply(`${base}/alarm/spo2.link-lost`, env({ alarm: alarm('ALARM_STATE_ACKNOWLEDGED', T0, { acknowledgedBy: 'nurse-a' }) }, { seq: 1 }), T0);
  m.apply(
    `${base}/obs/consciousness`,
    env({ observation: { ...obs('consciousness', 0, T0), unitUcum: '', valueCode: 'A', maxAgeMs: 14_400_000, manual: { enteredBy: 'nurse-b', commandId: 'c', stationId: 's', enteredWallMs: T0 } } }, { seq: 2 }),
    T0,
  );
  const v = m.view(T0 + 10)[0]!;
  t.equal(v.alarms[0]?.state, 'acknowledged');
  t.equal(v.alarms[0]?.acknowledgedBy, 'nurse-a');
  const text = renderStation([v], T0 + 10);
  t.match(text, /spo2\.link-lost: port closed\s+\(acknowledged by nurse-a\)/);
  t.match(text, /ACVPU\s+A\s+age 0\.0 s\s+entered by nurse-b/);
});

t.test('REQ-DELIV-032 the backfill history is bounded: past HISTORY_LIMIT the oldest leave it, every one is still counted and noted for the receipt', async (t) => {
  const book = new ReceiptBook(0);
  const m = new StationModel(book);
  const n = HISTORY_LIMIT + 10;
  for (let i = 0; i < n; i++) m.apply(`${base}/obs/spo2`, env({ observation: obs('spo2', 96, T0 - (n - i) * 1000) }, { seq: i + 1, boot: 'boot-h', backfill: true }), T0);
  const v = m.view(T0)[0];
  t.equal(v?.backfill.received, n, 'every backfilled message counted');
  t.equal(v?.backfill.oldestWallMs, T0 - (n - 10) * 1000, 'the 10 oldest left the history');
  t.equal(v?.backfill.newestWallMs, T0 - 1000);
  t.equal(v?.backfill.recent.length, 20, 'the view shows the 20 latest');
  t.match(book.due(T0), [{ gatewayId: 'gw-1', bootId: 'boot-h', received: [{ first: 1, last: n }] }], 'the receipt confirms every sequence number, 1 to n');
});

t.test('REQ-DELIV-032 a cleared retained message is ignored; an envelope that carries nothing the station knows is counted undecodable', async (t) => {
  const m = new StationModel();
  t.equal(m.apply(`${base}/obs/spo2`, new Uint8Array(0), T0), false, 'an empty payload clears a retained message: nothing to show');
  t.equal(m.undecodable, 0, 'and is not a fault');
  t.equal(m.apply(`${base}/obs/spo2`, env({}, { seq: 1 }), T0), false, 'an envelope without a payload');
  t.equal(m.undecodable, 1, 'counted');
  t.equal(m.apply(`${base}/obs/spo2`, Uint8Array.from([0xff, 0xff, 0xff]), T0), false, 'bytes that are not an envelope');
  t.equal(m.undecodable, 2);
});
