/**
 * hw-sim's HL7 monitor (hw-sim/src/devices/hl7-monitor.ts) without a pty: seeded and
 * deterministic, every message valid PCD-01 for the agent's decoder, every fault doing what
 * it says, the ACKs read back; and its command-line arguments.
 */
import t from 'tap';
import { buildAck } from '../../agent/src/drivers/hl7-pcd01/ack';
import { decodePcd01 } from '../../agent/src/drivers/hl7-pcd01/pcd01';
import type { Pcd01Decoded } from '../../agent/src/drivers/hl7-pcd01/pcd01';
import { frameMllp, unwrapMllp } from '../../agent/src/framing/mllp';
import { HL7_ALERT_INJECT_KINDS, HL7_INJECT_KINDS, Hl7MonitorDevice, OTHER_EQUIPMENT_ID, OTHER_PATIENT_ID } from '../../hw-sim/src/devices/hl7-monitor';
import type { Hl7InjectKind, Hl7MonitorOptions } from '../../hw-sim/src/devices/hl7-monitor';
import { parseMonitorArgs } from '../../hw-sim/src/hl7-monitor-cli';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const base: Hl7MonitorOptions = { scenario: 'stable', seed: 3, patientId: 'P1', equipmentId: '0012A1FFFE3B4C5D', status: 'R', nibpEvery: 5, tempEvery: 10, injections: [] };

function messages(opts: Partial<Hl7MonitorOptions>, n: number) {
  const d = new Hl7MonitorDevice({ ...base, ...opts });
  return Array.from({ length: n }, (_, i) => d.nextMessage(T0 + i * 1000));
}
function decodeBytes(bytes: Buffer): Pcd01Decoded {
  const end = bytes.lastIndexOf(0x1c);
  const u = unwrapMllp(bytes.subarray(0, end));
  if (!u.ok) throw new Error(u.detail);
  // A strict PCD-01 receiver: hw-sim's messages are PCD-01, and its corrupt fault breaks a whole message.
  return decodePcd01(u.payload, { defaultUtcOffsetMinutes: 0, conformance: 'pcd01-strict' });
}
const readingsOf = (bytes: Buffer) => {
  const d = decodeBytes(bytes);
  return d.ok && d.kind === 'oru' ? d.obx.flatMap((o) => (o.ok ? [o.reading] : [])) : [];
};

t.test('REQ-SIM-HL7-001 the same seed gives the same bytes; every message is PCD-01 the agent decodes, values as the ground truth', async (t) => {
  const a = messages({}, 12);
  const b = messages({}, 12);
  t.same(a.map((m) => m.bytes.toString('hex')), b.map((m) => m.bytes.toString('hex')), 'deterministic');
  t.not(messages({ seed: 4 }, 3)[1]?.bytes.toString('hex'), a[1]?.bytes.toString('hex'), 'another seed, other values');
  for (const m of a) {
    const r = readingsOf(m.bytes);
    const v = (p: string) => r.find((x) => x.parameter === p)?.value ?? null;
    t.equal(v('spo2'), m.truth.spo2Percent, `message ${m.index} SpO2`);
    t.equal(v('pulseRate'), m.truth.pulseBpm);
    t.equal(v('heartRate'), m.truth.heartRateBpm);
    t.equal(v('respRate'), m.truth.respRatePerMin);
    t.equal(v('nibpSystolic'), m.truth.nibpSystolicMmHg, m.index % 5 === 0 ? 'NIBP in this message' : 'no NIBP');
    t.equal(v('temperature'), m.truth.tempCelsius);
    t.equal(r[0]?.observationTime?.ms, T0 + m.index * 1000, 'OBX-14 is the send time');
    t.equal(r[0]?.equipmentId, base.equipmentId);
    t.ok(r.every((x) => x.status === 'unverified'));
  }
});

t.test('REQ-SIM-HL7-002 each fault does what it says to the message the agent receives', async (t) => {
  const at = (kind: Hl7InjectKind) => {
    const list = messages({ injections: [{ kind, from: 1, to: 1 }] }, 3);
    return { before: list[0]!, m: list[1]!, after: list[2]! };
  };
  const temp = (bytes: Buffer) => readingsOf(bytes).find((r) => r.parameter === 'temperature');
  t.match(temp(at('wrong-unit').m.bytes), { value: 98.6, unit: 'Cel' }, 'wrong-unit: 98.6 labelled Cel');
  t.match(temp(at('fahrenheit').m.bytes), { value: 98.6, unit: '[degF]' }, 'fahrenheit: labelled correctly');
  t.ok(readingsOf(at('preliminary').m.bytes).every((r) => r.status === 'preliminary'));
  t.ok(readingsOf(at('demo').m.bytes).every((r) => r.demo));
  const unknown = decodeBytes(at('unknown-code').m.bytes);
  t.ok(unknown.ok && unknown.kind === 'oru' && unknown.obx.some((o) => !o.ok && o.reason === 'unknown-code'));
  t.match(decodeBytes(at('corrupt').m.bytes), { ok: false, reason: 'malformed' });
  const garbage = at('garbage').m.bytes;
  const u = unwrapMllp(garbage.subarray(0, garbage.length - 2));
  t.ok(u.ok && u.noiseBytes >= 8, 'garbage: noise bytes before the block');
  const trunc = at('truncated').m.bytes;
  const tu = unwrapMllp(trunc.subarray(0, trunc.length - 2));
  t.ok(tu.ok && tu.truncatedFrames === 1, 'truncated: a block cut short, then the message');
  const dup = at('duplicate');
  t.same(dup.m.bytes, dup.before.bytes, 'duplicate: the previous message byte for byte');
  t.equal(dup.m.controlId, dup.before.controlId);
  const other = decodeBytes(at('other-patient').m.bytes);
  t.match(other, { ok: true, kind: 'oru', patientIds: [{ id: OTHER_PATIENT_ID }] });
  t.equal(at('other-patient').m.truth.spo2Percent, 88, "another patient's values in the ground truth");
  t.match(decodeBytes(at('other-device').m.bytes), { ok: true, equipmentId: OTHER_EQUIPMENT_ID });
  t.equal(at('silence').m.bytes.length, 0, 'silence: nothing sent');
  t.ok(HL7_INJECT_KINDS.length === 12 + HL7_ALERT_INJECT_KINDS.length, 'every kind covered above (the alert kinds: hw-sim-hl7-monitor-alerts.test.ts)');
  const sensorOff = messages({ scenario: 'sensor-off' }, 8)[7]!;
  t.match(readingsOf(sensorOff.bytes).find((r) => r.parameter === 'spo2'), { value: null, status: 'cannot-obtain' }, 'sensor off: OBX-11 X');
});

t.test('REQ-SIM-HL7-003 the monitor reads the ACKs the gateway writes, split anyhow', async (t) => {
  const d = new Hl7MonitorDevice(base);
  const ack = frameMllp(buildAck({ code: 'AE', controlId: 'HWSIM3-0', ackControlId: 'V1', nowWallMs: T0, errors: [{ code: 204, severity: 'E', location: null, text: 'x' }] }));
  const got = [...d.receive(ack.subarray(0, 10)), ...d.receive(ack.subarray(10))];
  t.match(got, [{ controlId: 'HWSIM3-0', code: 'AE', errors: [{ code: '204', severity: 'E' }] }]);
});

t.test('REQ-SIM-HL7-004 hw-sim hl7-monitor arguments: defaults, ranges of faults, every problem refused', async (t) => {
  const ok = parseMonitorArgs(['--inject', 'preliminary@3-5,demo@7', '--status', 'F']);
  t.match(ok, { ok: true, config: { periodMs: 1000, status: 'F', injections: [{ kind: 'preliminary', from: 3, to: 5 }, { kind: 'demo', from: 7, to: 7 }] } });
  for (const bad of [['--inject', 'nope@1'], ['--inject', 'demo@5-3'], ['--inject', 'demo@1,preliminary@0-2'], ['--status', 'X'], ['--exit-after'], ['--period-ms', '0'], ['extra']]) {
    t.match(parseMonitorArgs(bad), { ok: false, help: false }, bad.join(' '));
  }
  t.match(parseMonitorArgs(['--help']), { ok: false, help: true });
});
