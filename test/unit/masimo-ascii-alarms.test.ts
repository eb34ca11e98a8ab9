/**
 * The oximeter's own alarms (ALARM bits) relayed as alarm conditions: the per-model mapping,
 * the raise and clear edges, and the station's view of a relayed alarm. Lines are the real forms
 * of docs/interfaces/masimo-ascii.md's examples (Rad-8 S4, Radical-5 S1, colour Radical-7 S5)
 * with the ALARM field set as the device sets it; expected meanings are written by hand from the
 * document's "ALARM bits" table, never from the mapping.
 */
import t from 'tap';
import { alarmBitText, MASIMO_ALARM_BITS, MasimoAlarmRelay, masimoDeviceAlarms } from '../../agent/src/drivers/masimo-ascii/alarm-bits';
import { decodeMasimoAscii, recogniseMasimoModel } from '../../agent/src/drivers/masimo-ascii/protocol';
import type { MasimoFrame, MasimoModel } from '../../agent/src/drivers/masimo-ascii/protocol';
import { AlarmBook } from '../../agent/src/safety/alarms';
import { ALARM_CONDITIONS, isDeviceAlarm } from '../../agent/src/safety/conditions';
import { FakeClock } from '../../agent/src/clock';
import { encodeEnvelope } from '../../agent/src/proto/codec';
import type { AlarmMsg } from '../../agent/src/proto/codec';
import { renderStation, StationModel } from '../../agent/src/station/station';

/** Rad-8 (S4) with its ALARM field replaced. */
const rad8 = (alarm: string): string =>
  `02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=${alarm} EXC=000800`;
/** Radical-5 (S1): no SN, ALARM of 2 digits. */
const radical5 = (alarm: string): string => `09/15/10 15:10:29 SPO2=097% BPM=064 PI=11.82% ALARM=${alarm} EXC=800`;
/** Colour Radical-7 (S5): ALARM of 6 digits, dashed SN. */
const colour = (alarm: string): string =>
  `03/17/16 19:19:36 SN=---------- SPO2=098% BPM=123 PI=00.55 SPCO=--% SPMET=--.-% SPHB=--.- SPOC=-- RESVD=--- DESAT=-- PIDELTA=+-- PVI=--- ALARM=${alarm} EXC=0000C00 EXC1=00000000`;

function decode(line: string): { frame: MasimoFrame; model: MasimoModel } {
  const r = decodeMasimoAscii(Buffer.from(line, 'ascii'));
  if (!r.ok) throw new Error(`expected a frame, got ${r.reason}: ${r.detail}`);
  return { frame: r.frame, model: r.model };
}

function alarmsOf(line: string) {
  const { frame, model } = decode(line);
  const present = masimoDeviceAlarms(frame.alarmBits, model);
  return { model, state: present.state, alarms: present.alarms.map((a) => `${a.condition} ${a.bitText}`) };
}

t.test('REQ-ALARM-007 the model is recognised from the keys of the document example lines', async (t) => {
  t.equal(decode(rad8('0000')).model, 'Rad-8');
  t.equal(decode('03/19/16 13:37:12 SN=0000093112 SPO2=---% BPM=---% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000001').model, 'Rad-8', 'the Rad-8 no-sensor line (S6)');
  t.equal(decode(radical5('20')).model, 'Radical-5');
  t.equal(decode(colour('000000')).model, 'Radical-7 colour');
  t.equal(
    decode('02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- PVI=014 ALARM=0000 EXC=000800').model,
    'Radical-7',
    'the "blue" Radical-7: the Rad-8 keys plus PVI (S1)',
  );
  t.equal(recogniseMasimoModel(new Set(['SPO2', 'BPM', 'ALARM', 'EXC', 'NEWKEY'])), 'unknown', 'a set matching no row of the Variants table');
});

t.test('REQ-ALARM-007 confirmed bits map to named conditions; alarm active and silenced are the device state, not alarms', async (t) => {
  t.same(alarmsOf(rad8('0000')), { model: 'Rad-8', state: 'not-flagged', alarms: [] }, 'no bit, no alarm');
  // The hw-sim desaturation form: SpO2 low limit + alarm active.
  t.same(alarmsOf(rad8('0012')), { model: 'Rad-8', state: 'active', alarms: ['device-spo2-low 0x0002'] });
  t.same(alarmsOf(rad8('0011')), { model: 'Rad-8', state: 'active', alarms: ['device-spo2-high 0x0001'] });
  t.same(alarmsOf(rad8('0014')), { model: 'Rad-8', state: 'active', alarms: ['device-pulse-high 0x0004'] });
  // S4 (k-cross/pulse_ox): ALARM=0038 with BPM=057: pulse low limit, alarm active, silenced.
  t.same(alarmsOf(rad8('0038')), { model: 'Rad-8', state: 'silenced', alarms: ['device-pulse-low 0x0008'] }, 'silenced at the device wins over active');
  t.same(alarmsOf(rad8('001F')), { model: 'Rad-8', state: 'active', alarms: ['device-spo2-high 0x0001', 'device-spo2-low 0x0002', 'device-pulse-high 0x0004', 'device-pulse-low 0x0008'] }, 'all four at once, lowest bit first');
  t.same(alarmsOf(radical5('20')), { model: 'Radical-5', state: 'silenced', alarms: [] }, 'the S1 Radical-5 example: silenced, no alarm of its own');
  t.same(alarmsOf(colour('000038')), { model: 'Radical-7 colour', state: 'silenced', alarms: ['device-pulse-low 0x0008'] }, 'the 6-digit field reads the same bits');
});

t.test('REQ-ALARM-007 bits of unconfirmed meaning, and bits beyond the documented ones, are relayed raw, never guessed', async (t) => {
  // 0x0040 low battery and 0x0100 SpCO high are S1's meanings only: unconfirmed.
  t.same(alarmsOf(rad8('0150')), { model: 'Rad-8', state: 'active', alarms: ['device-alarm-unconfirmed 0x0040', 'device-alarm-unconfirmed 0x0100'] });
  // 0x2000 (PI rate of change in S1) and 0x10000, which no source documents, on the colour's 6 digits.
  t.same(alarmsOf(colour('012002')), { model: 'Radical-7 colour', state: 'not-flagged', alarms: ['device-spo2-low 0x0002', 'device-alarm-unconfirmed 0x2000', 'device-alarm-unconfirmed 0x10000'] });
  t.same(alarmsOf(rad8('80000000')), { model: 'Rad-8', state: 'not-flagged', alarms: ['device-alarm-unconfirmed 0x80000000'] }, 'the top bit of the 8 digits the decoder reads');
  t.same(masimoDeviceAlarms(0x12, 'unknown').alarms.map((a) => `${a.condition} ${a.bitText}`), ['device-alarm-unconfirmed 0x0002', 'device-alarm-unconfirmed 0x0010'], 'a model not recognised names no bit');
  t.equal(alarmBitText(0x40), '0x0040');
});

t.test('REQ-ALARM-007 every named bit of every model cites its sources; none above 0x0020 is named', async (t) => {
  for (const [model, table] of Object.entries(MASIMO_ALARM_BITS)) {
    for (const m of table) {
      t.match(m.sources, /S1/, `${model} ${alarmBitText(m.bit)}: S1 cited`);
      t.match(m.sources, /S8/, `${model} ${alarmBitText(m.bit)}: S8 cited (the second source that confirms it)`);
      t.ok(m.bit <= 0x0020, `${model} ${alarmBitText(m.bit)}: within the confirmed bits`);
    }
  }
});

t.test('REQ-ALARM-007 HAZ-019 the relay raises on the first line with a bit, clears on the first without, and ends all on a stale link', async (t) => {
  const relay = new MasimoAlarmRelay('spo2');
  const show = (edges: ReturnType<MasimoAlarmRelay['update']>['edges']) =>
    edges.map((e) => `${e.active ? 'raise' : 'clear'} ${e.condition}${e.qualifier ? `.${e.qualifier}` : ''}`);
  t.same(relay.update(0, 'Rad-8', '0000056661'), { edges: [], raised: 0 });
  const first = relay.update(0x12, 'Rad-8', '0000056661');
  t.same(show(first.edges), ['raise device-spo2-low'], 'raised on the first line with the bit');
  t.equal(first.raised, 1, 'counted once');
  t.equal(first.edges[0]?.detail, 'device Masimo Rad-8 SN 0000056661 on spo2: SpO2 low limit (ALARM bit 0x0002), alarm active at the device', 'the source device, the device\'s alarm id and its state');
  t.same(relay.update(0x12, 'Rad-8', '0000056661'), { edges: [], raised: 0 }, 'the same line again: nothing');
  const silenced = relay.update(0x32, 'Rad-8', '0000056661');
  t.same(show(silenced.edges), ['raise device-spo2-low'], 'silenced at the device: re-announced with its new state');
  t.equal(silenced.raised, 0, 'not a new alarm');
  t.match(silenced.edges[0]?.detail ?? '', /alarm silenced at the device$/);
  const more = relay.update(0x32 | 0x40, 'Rad-8', '0000056661');
  t.same(show(more.edges), ['raise device-alarm-unconfirmed.0x0040'], 'an unconfirmed bit is a member of its family, by its raw bit');
  t.match(more.edges[0]?.detail ?? '', /device alarm \(unconfirmed meaning\) \(ALARM bit 0x0040\)/);
  t.same(show(relay.update(0x60, 'Rad-8', '0000056661').edges), ['clear device-spo2-low'], 'cleared on the first line without the bit');
  t.same(show(relay.clearAll('link stale')), ['clear device-alarm-unconfirmed.0x0040'], 'a stale link ends every relayed alarm');
  t.same(relay.clearAll('link lost'), [], 'nothing left to end');
  t.same(show(relay.update(0x40, 'Rad-8', '0000056661').edges), ['raise device-alarm-unconfirmed.0x0040'], 'raised again once lines come back');
});

t.test('REQ-ALARM-007 the relayed conditions are device alarms of the catalogue, with its kind and priority', async (t) => {
  const clock = new FakeClock();
  const book = new AlarmBook(clock);
  const relay = new MasimoAlarmRelay('spo2');
  const msgs = relay.update(0x12 | 0x40, 'Rad-8', null).edges.map((e) => book.raise(e.condition, e.interfaceId, e.detail, e.qualifier));
  t.same(msgs.map((m) => [m?.alarmId, m?.kind, m?.priority]), [
    ['spo2.device-spo2-low', 'ALARM_KIND_PHYSIOLOGICAL', 'ALARM_PRIORITY_MEDIUM'],
    ['spo2.device-alarm-unconfirmed.0x0040', 'ALARM_KIND_PHYSIOLOGICAL', 'ALARM_PRIORITY_MEDIUM'],
  ]);
  t.match(msgs[0]?.detail ?? '', /^device Masimo Rad-8 on spo2: /, 'no serial on the line: none in the text');
  for (const key of ['device-spo2-low', 'device-spo2-high', 'device-pulse-low', 'device-pulse-high', 'device-alarm-unconfirmed'] as const) {
    t.equal(ALARM_CONDITIONS[key].origin, 'device', `${key} is a device alarm`);
  }
  t.ok(isDeviceAlarm('device-alarm-unconfirmed.0x0040'));
  t.notOk(isDeviceAlarm('link-stale'), 'the gateway\'s own');
  t.notOk(isDeviceAlarm('device-made-up'), 'an unknown condition is not claimed as the device\'s');
});

t.test('REQ-ALARM-008 the station shows a device alarm with the device as its source, apart from the gateway technical alarms', async (t) => {
  const T0 = 1767261600000;
  const base = 'vigil/v1/site1/ward7/bed12';
  let seq = 0;
  const send = (m: StationModel, alarm: Partial<AlarmMsg>, at: number) => {
    seq += 1;
    const msg = { alarmId: '', kind: 'ALARM_KIND_TECHNICAL', priority: 'ALARM_PRIORITY_MEDIUM', condition: '', state: 'ALARM_STATE_ACTIVE', source: '', detail: '', raisedWallMs: at, changedWallMs: at, ...alarm } as AlarmMsg;
    m.apply(`${base}/alarm/${msg.alarmId}`, encodeEnvelope({
      schemaVersion: 1, gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12',
      messageId: `m-${seq}`, sequence: seq, bootId: 'boot', sentWallMs: at, alarm: msg,
    }), at);
  };
  const m = new StationModel();
  send(m, { alarmId: 'spo2.link-stale', condition: 'link-stale', source: 'spo2', detail: 'no valid frame for 3000 ms' }, T0);
  send(m, {
    alarmId: 'spo2.device-spo2-low', condition: 'device-spo2-low', kind: 'ALARM_KIND_PHYSIOLOGICAL', source: 'spo2',
    detail: 'device Masimo Rad-8 SN 0000056661 on spo2: SpO2 low limit (ALARM bit 0x0002), alarm silenced at the device',
  }, T0 + 1);
  // A condition this station does not know, and fields left out: shown as the gateway's, no crash.
  send(m, { alarmId: 'spo2.from-a-newer-gateway', condition: 'from-a-newer-gateway', source: '' }, T0 + 2);
  const view = m.view(T0 + 10)[0];
  t.same(view?.alarms.map((a) => [a.alarmId, a.origin, a.source]), [
    ['spo2.link-stale', 'gateway', 'spo2'],
    ['spo2.device-spo2-low', 'device', 'spo2'],
    ['spo2.from-a-newer-gateway', 'gateway', ''],
  ]);
  const text = renderStation(m.view(T0 + 10), T0 + 10).split('\n');
  const gatewayLines = text.filter((l) => l.startsWith('  ALARM '));
  const deviceLines = text.filter((l) => l.startsWith('  DEVICE '));
  t.equal(gatewayLines.length, 2, 'the gateway\'s own alarms on ALARM lines');
  t.same(deviceLines, ['  DEVICE  [MEDIUM] physiological from device on spo2 spo2.device-spo2-low: device Masimo Rad-8 SN 0000056661 on spo2: SpO2 low limit (ALARM bit 0x0002), alarm silenced at the device'], 'the device alarm apart, with its source, alarm id and state');
  t.ok(text.indexOf(deviceLines[0]!) > text.indexOf(gatewayLines[1]!), 'after the gateway\'s');
});
