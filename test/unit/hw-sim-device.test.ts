/** hw-sim's Masimo device: its bytes decode, are reproducible, and carry the injected faults. */
import t from 'tap';
import { decodeMasimoAscii, type DecodeResult } from '../../agent/src/drivers/masimo-ascii/protocol';
import {
  addSeconds,
  MasimoAsciiDevice,
  OVERLONG_BYTES,
  type EmittedFrame,
  type Injection,
} from '../../hw-sim/src/devices/masimo-ascii';
import { createScenario, type ScenarioName } from '../../hw-sim/src/scenarios';

const START = { year: 2026, month: 1, day: 1, hour: 10, minute: 0, second: 0 };

function device(opts: { scenario?: ScenarioName; seed?: number; injections?: Injection[]; serial?: string | null; pvi?: boolean } = {}): MasimoAsciiDevice {
  const seed = opts.seed ?? 1;
  return new MasimoAsciiDevice({
    scenario: createScenario(opts.scenario ?? 'stable', seed),
    seed,
    startTime: START,
    serialNumber: opts.serial === undefined ? '0000012345' : opts.serial,
    includePvi: opts.pvi ?? false,
    injections: opts.injections ?? [],
  });
}

function frames(d: MasimoAsciiDevice, n: number): EmittedFrame[] {
  return Array.from({ length: n }, () => d.nextFrame());
}

/** Splits a frame's bytes on CR LF as the driver does, and decodes each line. */
function decodeLines(bytes: Buffer): DecodeResult[] {
  const results: DecodeResult[] = [];
  let rest = bytes;
  for (let at = rest.indexOf('\r\n'); at >= 0; at = rest.indexOf('\r\n')) {
    results.push(decodeMasimoAscii(rest.subarray(0, at)));
    rest = rest.subarray(at + 2);
  }
  return results;
}

t.test('REQ-HWSIM-001 every frame is one CR LF line that decodes to the scenario truth', async (t) => {
  for (const scenario of ['stable', 'desaturation', 'sensor-off'] as const) {
    for (const variant of [{ serial: '0000012345', pvi: false }, { serial: null, pvi: true }]) {
      const emitted = frames(device({ scenario, ...variant }), 120);
      let bad = 0;
      for (const f of emitted) {
        const results = decodeLines(f.bytes);
        const r = results[0];
        const ok =
          results.length === 1 && r?.ok === true && f.bytes.subarray(-2).toString() === '\r\n' &&
          r.frame.spo2Percent === f.spo2Percent && r.frame.pulseBpm === f.pulseBpm &&
          r.frame.serialNumber === variant.serial && (r.frame.pviPercent !== null) === (variant.pvi && f.spo2Percent !== null);
        if (!ok) bad++;
      }
      t.equal(bad, 0, `${scenario}, SN ${variant.serial === null ? 'omitted' : 'sent'}, PVI ${variant.pvi ? 'sent' : 'omitted'}`);
    }
  }
});

t.test('REQ-HWSIM-001 the device clock advances one second per frame, across midnight and new year', async (t) => {
  const emitted = frames(device(), 3);
  t.same(emitted.map((f) => f.deviceTime.second), [0, 1, 2]);
  t.same(addSeconds({ year: 2026, month: 12, day: 31, hour: 23, minute: 59, second: 59 }, 1), { year: 2027, month: 1, day: 1, hour: 0, minute: 0, second: 0 });
  t.same(addSeconds({ year: 2028, month: 2, day: 28, hour: 23, minute: 59, second: 59 }, 1).day, 29, 'leap year');
  const r = decodeMasimoAscii(emitted[2]!.bytes.subarray(0, -2));
  t.same(r.ok ? r.frame.deviceTime : null, { ...START, second: 2 });
});

t.test('REQ-HWSIM-002 the device is deterministic for a seed', async (t) => {
  const a = frames(device({ scenario: 'desaturation', seed: 9 }), 100).map((f) => f.bytes.toString('latin1'));
  const b = frames(device({ scenario: 'desaturation', seed: 9 }), 100).map((f) => f.bytes.toString('latin1'));
  const c = frames(device({ scenario: 'desaturation', seed: 10 }), 100).map((f) => f.bytes.toString('latin1'));
  t.same(a, b, 'same bytes');
  t.not(a.join(''), c.join(''), 'another seed, other bytes');
});

t.test('REQ-HWSIM-003 injected faults are rejected for the intended reason', async (t) => {
  const injections: Injection[] = [
    { kind: 'malformed', frameIndex: 1 },
    { kind: 'unknown-field', frameIndex: 2 },
    { kind: 'garbage', frameIndex: 3 },
    { kind: 'overlong', frameIndex: 5 },
  ];
  const emitted = frames(device({ injections }), 8);
  t.same(emitted.map((f) => f.injected), [null, 'malformed', 'unknown-field', 'garbage', null, 'overlong', null, null]);
  const reasons = emitted.map((f) => decodeLines(f.bytes).map((r) => (r.ok ? 'ok' : r.reason)));
  t.same(reasons, [['ok'], ['malformed'], ['unsupported-variant'], ['framing'], ['ok'], ['overflow'], ['ok'], ['ok']]);
  const unknown = decodeLines(emitted[2]!.bytes)[0];
  t.equal(unknown?.ok === false ? unknown.detail : '', 'unknown field FOO');
  const garbage = emitted[3]!.bytes;
  t.ok([...garbage.subarray(0, -2)].every((b) => b >= 0x80), 'garbage: bytes >= 0x80 only, then CR LF');
  const overlong = emitted[5]!.bytes;
  t.equal(overlong.indexOf('\r\n'), overlong.length - 2, 'overlong: no CR LF in the run');
  t.ok(overlong.length > OVERLONG_BYTES, `overlong: ${OVERLONG_BYTES} bytes, then a normal line`);
  t.equal(decodeMasimoAscii(overlong.subarray(OVERLONG_BYTES, -2)).ok, true, 'the line after the run is a normal line');
});

t.test('REQ-HWSIM-003 injecting faults does not change the other frames', async (t) => {
  const plain = frames(device({ seed: 4 }), 12);
  const faulty = frames(device({ seed: 4, injections: [{ kind: 'garbage', frameIndex: 3 }, { kind: 'overlong', frameIndex: 7 }] }), 12);
  t.same(faulty.map((f) => [f.spo2Percent, f.pulseBpm]), plain.map((f) => [f.spo2Percent, f.pulseBpm]), 'same readings');
  const same = faulty.filter((f, i) => f.injected === null && f.bytes.equals(plain[i]!.bytes)).length;
  t.equal(same, 10, 'the 10 frames without a fault are byte-identical');
  const again = frames(device({ seed: 4, injections: [{ kind: 'garbage', frameIndex: 3 }] }), 4)[3]!.bytes;
  t.ok(again.equals(faulty[3]!.bytes), 'fault payloads are seeded too');
});

t.test('REQ-HWSIM-015 the ALARM bits follow the scenario against the device limits, with alarm active while a limit alarm is on', async (t) => {
  // Bits written from docs/interfaces/masimo-ascii.md "ALARM bits": 0x0002 SpO2 low limit, 0x0010 alarm active.
  const alarmOf = (f: EmittedFrame): number => {
    const r = decodeMasimoAscii(f.bytes.subarray(0, f.bytes.length - 2));
    if (!r.ok) throw new Error(`frame ${f.index}: ${r.reason}`);
    return r.frame.alarmBits;
  };
  const seed = 7;
  const desat = frames(device({ scenario: 'desaturation', seed }), 110);
  for (const f of desat) {
    const low = f.spo2Percent !== null && f.spo2Percent < 90;
    t.equal(alarmOf(f), low ? 0x0012 : 0, `seed ${seed} frame ${f.index}: SpO2 ${f.spo2Percent} against the default low limit 90 %`);
  }
  t.ok(desat.some((f) => alarmOf(f) === 0x0012), `seed ${seed}: the desaturation reaches the low limit`);
  t.equal(alarmOf(desat[109]!), 0, `seed ${seed}: ended once SpO2 recovered`);
  // Other limits: a stable patient (pulse 70-80) above a pulse high limit of 60 and SpO2 above a high limit of 95.
  const limited = new MasimoAsciiDevice({
    scenario: createScenario('stable', 3), seed: 3, startTime: START, serialNumber: null, includePvi: false, injections: [],
    alarmLimits: { spo2LowPercent: 90, spo2HighPercent: 95, pulseLowBpm: 50, pulseHighBpm: 60 },
  });
  t.same([...new Set(frames(limited, 20).map(alarmOf))], [0x0015], 'SpO2 high 0x0001 + pulse high 0x0004 + alarm active 0x0010');
  const sensorOff = frames(device({ scenario: 'sensor-off', seed }), 10);
  t.same(sensorOff.slice(5).map(alarmOf), [0, 0, 0, 0, 0], 'no limit alarm on dashed values');
});
