import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import type { Observation } from '../../agent/src/model/observation';
import type { ParameterCode } from '../../agent/src/model/parameters';
import { PARAMETERS } from '../../agent/src/model/parameters';
import { arrivalOffsetMs, deviceClockChecked, OFFSET_WINDOW_MS, runControls, newSourceMemory, scoreExclusion } from '../../agent/src/validation/controls';
import { ValidationStage } from '../../agent/src/validation/stage';
import { VitalsStore } from '../../agent/src/scoring/vitals';
import { News2Stage } from '../../agent/src/scoring/news2-stage';
import { scoreNews2 } from '../../agent/src/native/addon';

const T = Date.UTC(2026, 0, 1, 10, 0, 0);
const settings = { maxAgeMs: (s: { defaultMaxAgeMs: number }) => s.defaultMaxAgeMs, clockOffsetBoundMs: 120_000 };

function obs(parameter: string, value: number | null, unit: string, extra: Partial<Observation> = {}): Observation {
  return {
    parameter: parameter as ParameterCode,
    value,
    unitUcum: unit,
    status: 'final',
    quality: [],
    source: { driver: 'test', interfaceId: 'mon', serialNumber: '', port: '/dev/x' },
    deviceTimeMs: T,
    deviceTimeText: '',
    receiveWallMs: T + 200,
    // The gateway's monotonic clock moves with its wall clock here (one per receive time).
    receiveMonoNs: BigInt((extra.receiveWallMs ?? T + 200) - T + 1000) * 1_000_000n,
    unavailableReason: '',
    ...extra,
  };
}
/** Tests of other controls than the clock's give a source whose clock offset is already known (zero). */
const check = (o: Observation, memory = newSourceMemory(0)) => runControls(o, memory, settings);

t.test('HAZ-001 a temperature in [degF] is converted exactly to Cel and the original kept', async (t) => {
  const v = check(obs('temperature', 98.6, '[degF]'));
  t.ok(v.ok);
  if (!v.ok) return;
  t.equal(Math.round(v.obs.value! * 1000) / 1000, 37);
  t.equal(v.obs.unitUcum, 'Cel');
  t.same(v.obs.original, { value: 98.6, unit: '[degF]' });
  t.ok(v.obs.quality.includes('unit-converted'));
});

t.test('HAZ-001 a pressure in kPa is converted to mm[Hg]', async (t) => {
  const v = check(obs('nibpSystolic', 16, 'kPa'));
  t.ok(v.ok && Math.abs(v.obs.value! - 120.01) < 0.01);
});

t.test('HAZ-001 an unknown or wrong-dimension unit is rejected with the field and the rule', async (t) => {
  const wrong = check(obs('temperature', 37, 'mm[Hg]'));
  t.match(wrong, { ok: false, hazard: 'HAZ-001', rule: 'wrong-dimension', field: 'temperature' });
  const unknown = check(obs('spo2', 97, 'furlong'));
  t.match(unknown, { ok: false, hazard: 'HAZ-001', rule: 'unknown-unit', field: 'spo2' });
  t.notMatch(JSON.stringify(unknown), /97/, 'the value is never echoed');
});

t.test('HAZ-001 a source that changes its unit mid-stream raises a notice', async (t) => {
  const memory = newSourceMemory();
  const first = check(obs('temperature', 37, 'Cel'), memory);
  t.same(first.ok && first.notices, []);
  const second = check(obs('temperature', 98.6, '[degF]'), memory);
  t.ok(second.ok);
  t.match(second.ok && second.notices[0], { hazard: 'HAZ-001', condition: 'unit-changed.temp' });
});

t.test('HAZ-001 HAZ-006 98.6 labelled Cel is implausible for its stated unit and rejected', async (t) => {
  t.match(check(obs('temperature', 98.6, 'Cel')), { ok: false, hazard: 'HAZ-006', rule: 'implausible', field: 'temperature' });
});

t.test('HAZ-006 impossible values are rejected: SpO2 above 100, heart rate 900, non-finite', async (t) => {
  t.match(check(obs('spo2', 101, '%')), { ok: false, rule: 'implausible' });
  t.match(check(obs('heartRate', 900, '/min')), { ok: false, rule: 'implausible' });
  t.match(check(obs('pulseRate', Number.NaN, '/min')), { ok: false, rule: 'not-finite' });
  t.match(check(obs('pulseRate', Number.POSITIVE_INFINITY, '/min')), { ok: false, rule: 'not-finite' });
  t.ok(check(obs('spo2', 100, '%')).ok, '100 is possible');
});

t.test('HAZ-005 a parameter outside the versioned table is rejected, never guessed', async (t) => {
  t.match(check(obs('etco2', 35, 'mm[Hg]')), { ok: false, hazard: 'HAZ-005', rule: 'unknown-parameter' });
});

t.test('HAZ-010 demo or simulated data is rejected', async (t) => {
  t.match(check(obs('spo2', 97, '%', { quality: ['demo'] })), { ok: false, hazard: 'HAZ-010', rule: 'demo-data' });
});

t.test('HAZ-004 a device clock beyond the bound is flagged untrusted and noticed once', async (t) => {
  const memory = newSourceMemory();
  const late = (i: number) => obs('spo2', 97, '%', { deviceTimeMs: T - 10 * 60_000 + i, receiveWallMs: T + i });
  const v1 = check(late(0), memory);
  t.ok(v1.ok && v1.obs.quality.includes('device-clock-untrusted'));
  t.match(v1.ok && v1.notices[0], { hazard: 'HAZ-004', condition: 'device-clock-untrusted' });
  const v2 = check(late(1000), memory);
  t.same(v2.ok && v2.notices, [], 'no repeated notice');
  t.ok(v2.ok, 'an untrusted clock does not make the value stale: receive time is used for age');
});

t.test('HAZ-004 one late frame does not flip a good clock (median of recent offsets)', async (t) => {
  const memory = newSourceMemory();
  for (let i = 0; i < 5; i++) check(obs('spo2', 97, '%', { deviceTimeMs: T + i * 1000, receiveWallMs: T + i * 1000 + 100 }), memory);
  const odd = check(obs('spo2', 97, '%', { deviceTimeMs: T + 5000 + 10 * 60_000, receiveWallMs: T + 5100 }), memory);
  t.ok(odd.ok && !odd.obs.quality.includes('device-clock-untrusted'));
});

t.test('HAZ-004 REQ-VAL-006 a clock that comes back within the bound is trusted again, noticed once; the median is of the 15 latest offsets', async (t) => {
  const memory = newSourceMemory();
  const at = (i: number, offsetMs: number) => deviceClockChecked(obs('spo2', 97, '%', { deviceTimeMs: T + i * 1000 + offsetMs, receiveWallMs: T + i * 1000 }), memory, settings);
  const notices: string[] = [];
  for (let i = 0; i < 15; i++) {
    const v = at(i, 10 * 60_000);
    if (v.ok) notices.push(...v.notices.map((n) => n.condition));
  }
  t.same(notices, ['device-clock-untrusted'], '15 frames 10 min ahead: untrusted once');
  const flags: boolean[] = [];
  for (let i = 15; i < 30; i++) {
    const v = at(i, 0);
    t.ok(v.ok);
    if (!v.ok) continue;
    notices.push(...v.notices.map((n) => n.condition));
    flags.push(v.obs.quality.includes('device-clock-untrusted'));
  }
  // The window holds 15 offsets: the 8th correct frame makes them the majority (the older ones left it).
  t.same(flags, [...Array(7).fill(true), ...Array(8).fill(false)], 'flagged until the correct offsets are the median of the last 15');
  t.same(notices, ['device-clock-untrusted', 'device-clock-trusted'], 'trusted again, noticed once');
  t.equal(memory.clockOffsetsMs.length, 15, 'only the 15 latest offsets are kept');
});

t.test('HAZ-004 REQ-VAL-006 a value without a device time passes the clock check unflagged and leaves the offset alone', async (t) => {
  const memory = newSourceMemory();
  const v = deviceClockChecked(obs('spo2', 97, '%', { deviceTimeMs: null }), memory, settings);
  t.match(v, { ok: true, notices: [] });
  t.ok(v.ok && !v.obs.quality.includes('device-clock-untrusted'));
  t.same(memory.clockOffsetsMs, [], 'no offset measured');
});

t.test('HAZ-003 REQ-VAL-014 the offset for ages on arrival: unknown without a device time, from the last five minutes, at most 3,000 samples', async (t) => {
  const memory = newSourceMemory();
  t.equal(arrivalOffsetMs(memory, obs('spo2', 97, '%', { deviceTimeMs: null })), null, 'no device time: no offset');
  t.same(memory.offsetSamples, [], 'and no sample kept');
  const at = (receivedMs: number, offsetMs: number) =>
    arrivalOffsetMs(memory, obs('spo2', 97, '%', { deviceTimeMs: T + receivedMs + offsetMs, receiveWallMs: T + receivedMs, receiveMonoNs: BigInt(receivedMs + 1000) * 1_000_000n }));
  t.equal(at(0, 5000), null, 'the first frame: not yet known');
  t.equal(at(1000, 5000), 5000, 'known from the second');
  t.equal(at(2000, 7000), 5000, 'the median of three');
  t.equal(at(3000, 7000), 6000, 'of four: the mean of the two middle ones');
  // 3,000 more frames 50 ms apart (150 s: all within the window): the oldest samples leave by count.
  for (let i = 0; i < 3000; i++) at(4000 + i * 50, -2000);
  t.equal(memory.offsetSamples.length, 3000, 'at most 3,000 samples');
  t.equal(memory.sortedOffsetsMs.length, 3000, 'the sorted copy follows');
  // Six minutes later the whole window has gone by: only the new frame is left.
  const later = 4000 + 3000 * 50 + OFFSET_WINDOW_MS + 60_000;
  t.equal(at(later, 1000), null, 'after a silence longer than the window the offset is not known again');
  t.same(memory.sortedOffsetsMs, [1000], 'the samples older than the window are dropped');
  t.equal(arrivalOffsetMs(newSourceMemory(250), obs('spo2', 97, '%')), 250, 'an assumed offset (a source already measured) is used as it is');
});

t.test('HAZ-003 a value whose trusted device time is already past its maximum age is rejected as stale on arrival', async (t) => {
  const memory = newSourceMemory();
  for (let i = 0; i < 5; i++) check(obs('spo2', 97, '%', { deviceTimeMs: T, receiveWallMs: T + 100 }), memory);
  t.match(check(obs('spo2', 97, '%', { deviceTimeMs: T, receiveWallMs: T + 6000 }), memory), {
    ok: false,
    hazard: 'HAZ-003',
    rule: 'stale-on-arrival',
  });
});

t.test('HAZ-002 preliminary, cannot-obtain and deleted values never feed the score; unverified only when configured', async (t) => {
  t.equal(scoreExclusion(obs('spo2', 97, '%'), false), null);
  t.equal(scoreExclusion(obs('spo2', 97, '%', { status: 'corrected' }), false), null);
  t.equal(scoreExclusion(obs('spo2', 97, '%', { status: 'preliminary' }), true), 'status-preliminary');
  t.equal(scoreExclusion(obs('spo2', 97, '%', { status: 'unverified' }), false), 'status-unverified');
  t.equal(scoreExclusion(obs('spo2', 97, '%', { status: 'unverified' }), true), null);
  t.equal(scoreExclusion(obs('spo2', null, '%', { status: 'cannot-obtain' }), true), 'cannot-obtain');
});

t.test('HAZ-009 values flagged by the device (sensor off, low perfusion, motion) stay out of the score', async (t) => {
  for (const q of ['sensor-off', 'low-perfusion', 'interference', 'low-signal-quality'] as const) {
    t.equal(scoreExclusion(obs('spo2', 97, '%', { quality: [q] }), true), `quality-${q}`);
  }
  t.equal(scoreExclusion(obs('temperature', 37, 'Cel', { quality: ['unit-converted'] }), true), null);
});

function scoring() {
  const clock = new FakeClock();
  const maxAge = (p: ParameterCode) => PARAMETERS[p].defaultMaxAgeMs;
  const store = new VitalsStore(clock, maxAge, () => true);
  const stage = new News2Stage(scoreNews2, store, clock, () => 1, ['spo2', 'mon']);
  const at = (o: Observation, interfaceId: string): Observation => ({
    ...o,
    receiveMonoNs: clock.monoNs(),
    source: { ...o.source, interfaceId },
  });
  return { clock, store, stage, at };
}

t.test('HAZ-005 when two sources feed one NEWS2 input, the configured priority decides, never arrival order', async (t) => {
  const { store, stage, at } = scoring();
  store.update(at(obs('heartRate', 120, '/min'), 'mon'));
  store.update(at(obs('pulseRate', 70, '/min'), 'spo2')); // arrives last
  const r = stage.compute();
  t.ok(r.ok);
  if (!r.ok) return;
  t.match(r.message.inputs, [{ field: 'pulseBpm', parameter: 'heartRate', interfaceId: 'mon', value: 120 }]);
  t.equal(r.message.points.find((p) => p.parameter === 'pulseBpm')?.points, 2, 'scored from the ECG rate');
});

t.test('HAZ-002 HAZ-009 the score lists what it excluded and why, and falls back to the next source', async (t) => {
  const { store, stage, at } = scoring();
  store.update(at(obs('heartRate', 120, '/min', { status: 'preliminary' }), 'mon'));
  store.update(at(obs('pulseRate', 70, '/min'), 'spo2'));
  store.update(at(obs('spo2', 97, '%', { quality: ['sensor-off'] }), 'spo2'));
  const r = stage.compute();
  if (!r.ok) return t.fail('scored');
  t.match(r.message.inputs, [{ field: 'pulseBpm', parameter: 'pulseRate', value: 70 }]);
  t.same(
    (r.message.excluded ?? []).map((e) => `${e.field}:${e.parameter}:${e.reason}`).sort(),
    ['pulseBpm:heartRate:status-preliminary', 'spo2Percent:spo2:quality-sensor-off'],
  );
  t.ok(r.message.missing.includes('spo2Percent'), 'an excluded value is missing, not zero');
});

t.test('HAZ-003 a value past its maximum age leaves the score, which becomes incomplete', async (t) => {
  const { store, stage, at, clock } = scoring();
  store.update(at(obs('spo2', 97, '%'), 'spo2'));
  let r = stage.compute();
  t.ok(r.ok && !r.message.missing.includes('spo2Percent'));
  clock.advanceMs(5001);
  r = stage.compute();
  t.ok(r.ok && r.message.missing.includes('spo2Percent'));
  t.match(r.ok && r.message.excluded, [{ field: 'spo2Percent', reason: 'max-age-exceeded' }]);
  t.same(store.expire().map((o) => o.parameter), ['spo2'], 'and is expired from the store');
});

t.test('HAZ-002 a deletion retracts what was published before', async (t) => {
  const { store, stage, at } = scoring();
  store.update(at(obs('temperature', 38.5, 'Cel'), 'mon'));
  t.ok(store.get('temperature', 'mon'));
  store.update(at(obs('temperature', null, 'Cel', { status: 'deleted' }), 'mon'));
  t.equal(store.get('temperature', 'mon'), undefined);
  const r = stage.compute();
  t.ok(r.ok && r.message.missing.includes('tempCelsius'));
});

t.test('REQ-VAL-001 the validation stage counts acceptances, rejections by rule and conversions per interface', async (t) => {
  const stage = new ValidationStage(settings);
  stage.check(obs('temperature', 98.6, '[degF]'));
  stage.check(obs('temperature', 98.6, 'Cel'));
  stage.check(obs('spo2', 97, 'furlong'));
  const h = stage.health('mon');
  t.equal(h.counters['values-accepted'], 1);
  t.equal(h.counters['unit-conversions'], 1);
  t.equal(h.counters['values-rejected.implausible'], 1);
  t.equal(h.counters['values-rejected.unknown-unit'], 1);
  t.equal(h.clockTrusted, true);
  t.equal(typeof h.clockOffsetMs, 'number');
});

/** A source at 1 Hz whose device clock is `offsetMs` off the gateway's; frame i received `delayMs(i)` after it was measured. */
function stream(offsetMs: number, count: number, delayMs: (i: number) => number, memory = newSourceMemory(), startMs = 0) {
  return Array.from({ length: count }, (_, k) => {
    const i = startMs / 1000 + k;
    const measuredAt = T + i * 1000;
    const receivedAt = measuredAt + delayMs(i);
    return check(obs('spo2', 97, '%', { deviceTimeMs: measuredAt + offsetMs, receiveWallMs: receivedAt, receiveMonoNs: BigInt(receivedAt - T + 1000) * 1_000_000n }), memory);
  });
}

t.test('HAZ-003 REQ-VAL-014 a device clock 60 s ahead does not hide values held up 5 to 29 s on the way', async (t) => {
  const memory = newSourceMemory();
  const before = stream(60_000, 120, () => 50, memory);
  t.ok(before.slice(1).every((v) => v.ok), 'two minutes of prompt frames are accepted');
  // The agent stalls 30 s: the pty holds the lines, then delivers them at once (received at T+150 s).
  const held = stream(60_000, 25, (i) => T + 150_000 - (T + i * 1000), memory, 125_000);
  const maxAgeMs = PARAMETERS.spo2.defaultMaxAgeMs;
  for (const [k, v] of held.entries()) {
    const ageMs = 150_000 - (125_000 + k * 1000);
    if (ageMs > maxAgeMs) t.match(v, { ok: false, hazard: 'HAZ-003', rule: 'stale-on-arrival' }, `a value ${ageMs} ms old is rejected although the device clock is ahead`);
    else t.ok(v.ok, `a value ${ageMs} ms old is accepted`);
  }
});

t.test('HAZ-003 REQ-VAL-014 a device clock 4 to 10 s behind does not make fresh values stale', async (t) => {
  for (const offsetMs of [-4_000, -7_000, -10_000]) {
    const memory = newSourceMemory();
    const verdicts = stream(offsetMs, 60, (i) => 30 + (i % 7) * 40, memory);
    t.ok(verdicts.every((v) => v.ok), `clock ${offsetMs / 1000} s behind: every fresh value accepted`);
    t.ok(verdicts.slice(1).every((v) => v.ok && !v.obs.quality.includes('device-clock-untrusted')), 'and not flagged once the offset is known');
  }
});

t.test('HAZ-003 REQ-VAL-014 the first frame of a source is aged by the gateway clock and flagged; one wild device time moves nothing', async (t) => {
  const memory = newSourceMemory();
  const first = check(obs('spo2', 97, '%', { deviceTimeMs: T - 60_000, receiveWallMs: T }), memory);
  t.ok(first.ok && first.obs.quality.includes('device-clock-untrusted'), 'first frame: accepted (it just arrived) and flagged: its device time is unchecked');
  const memory2 = newSourceMemory();
  stream(0, 60, () => 50, memory2);
  const wild = check(obs('spo2', 97, '%', { deviceTimeMs: T + 60_000 + 90_000, receiveWallMs: T + 60_050, receiveMonoNs: BigInt(60_050 + 1000) * 1_000_000n }), memory2);
  t.ok(wild.ok, 'a frame 90 s in the future (within the bound) is accepted');
  const after = stream(0, 10, () => 50, memory2, 61_000);
  t.ok(after.every((v) => v.ok), 'and the frames after it are not made stale by it');
});

t.test('HAZ-001 a withdrawal (no value) carries no unit or an accepted one: given the canonical unit; an unknown unit is still rejected', async (t) => {
  const none = check(obs('temperature', null, '', { unavailableReason: 'sensor-off' }));
  t.ok(none.ok, 'no unit on a withdrawal: accepted');
  if (none.ok) t.equal(none.obs.unitUcum, 'Cel', 'with the canonical unit');
  const same = check(obs('temperature', null, 'Cel', { unavailableReason: 'sensor-off' }));
  t.ok(same.ok && same.obs.unitUcum === 'Cel', 'the canonical unit itself: accepted');
  const other = check(obs('temperature', null, '[degF]', { unavailableReason: 'sensor-off' }));
  t.ok(other.ok, 'another accepted unit: accepted');
  if (other.ok) t.equal(other.obs.unitUcum, 'Cel', 'named by the canonical unit (there is no value to convert)');
  const wrong = check(obs('temperature', null, 'furlong', { unavailableReason: 'sensor-off' }));
  t.match(wrong, { ok: false, hazard: 'HAZ-001', rule: 'unknown-unit', field: 'temperature' }, 'an unknown unit: rejected even without a value');
});
