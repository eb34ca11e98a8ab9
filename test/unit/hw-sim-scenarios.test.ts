/** hw-sim scenarios: deterministic for a seed, and shaped as the scenario promises. */
import t from 'tap';
import { createRng } from '../../hw-sim/src/rng';
import {
  ALARM_CYCLES,
  createScenario,
  DESATURATION_TIMELINE,
  SCENARIO_NAMES,
  SENSOR_OFF_AFTER_SECONDS,
  type VitalsSample,
} from '../../hw-sim/src/scenarios';

function run(name: (typeof SCENARIO_NAMES)[number], seed: number, seconds: number): VitalsSample[] {
  const scenario = createScenario(name, seed);
  return Array.from({ length: seconds }, (_, s) => scenario.sampleAt(s));
}

t.test('REQ-HWSIM-002 the PRNG is reproducible from its seed', async (t) => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const seqA = Array.from({ length: 100 }, () => a.next());
  t.same(Array.from({ length: 100 }, () => b.next()), seqA, 'same seed, same sequence');
  t.not(JSON.stringify(Array.from({ length: 100 }, () => c.next())), JSON.stringify(seqA), 'other seed, other sequence');
  t.ok(seqA.every((x) => x >= 0 && x < 1), 'next() in [0, 1)');
  const ints = Array.from({ length: 2000 }, () => a.int(3, 5));
  t.same([...new Set(ints)].sort(), [3, 4, 5], 'int() covers both bounds, nothing else');
  t.throws(() => createRng(1.5), RangeError);
});

t.test('REQ-HWSIM-002 same seed gives the same frames, another seed other frames', async (t) => {
  for (const name of SCENARIO_NAMES) {
    t.same(run(name, 7, 200), run(name, 7, 200), `${name}: seed 7 twice`);
    t.not(JSON.stringify(run(name, 7, 200)), JSON.stringify(run(name, 8, 200)), `${name}: seeds 7 and 8 differ`);
  }
});

t.test('REQ-HWSIM-002 stable: SpO2 97-99 %, pulse 70-80 /min, no alarm', async (t) => {
  for (const seed of [1, 2, 3]) {
    const samples = run('stable', seed, 600);
    t.ok(samples.every((s) => s.spo2Percent !== null && s.spo2Percent >= 97 && s.spo2Percent <= 99), `seed ${seed}: SpO2`);
    t.ok(samples.every((s) => s.pulseBpm !== null && s.pulseBpm >= 70 && s.pulseBpm <= 80), `seed ${seed}: pulse`);
    t.ok(samples.every((s) => s.alarmBits === 0 && s.exceptionBits === 0x800), `seed ${seed}: no alarm, Masimo SET only`);
    t.ok(new Set(samples.map((s) => s.pulseBpm)).size > 3, `seed ${seed}: the values vary (noise)`);
    t.ok(samples.every((s) => s.perfusionIndexPercent !== null && Math.round(s.perfusionIndexPercent * 100) === s.perfusionIndexPercent * 100), `seed ${seed}: PI at 0.01 resolution`);
  }
});

t.test('REQ-HWSIM-002 desaturation: stable, SpO2 falls to <= 88 % with pulse rising, holds, recovers', async (t) => {
  const d = DESATURATION_TIMELINE;
  for (const seed of [1, 2, 3, 4, 5]) {
    const samples = run('desaturation', seed, 130);
    const spo2 = samples.map((s) => s.spo2Percent ?? Number.NaN);
    const pulse = samples.map((s) => s.pulseBpm ?? Number.NaN);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    t.ok(spo2.slice(0, d.fallStartSeconds).every((v) => v >= 97), `seed ${seed}: stable for the first ${d.fallStartSeconds} s`);
    const hold = spo2.slice(d.fallEndSeconds, d.recoverStartSeconds);
    t.ok(Math.max(...hold) <= 88, `seed ${seed}: SpO2 <= 88 % throughout the hold (max ${Math.max(...hold)})`);
    t.ok(Math.min(...spo2) >= 80, `seed ${seed}: nadir near 85 %, not below 80 %`);
    t.ok(mean(pulse.slice(d.fallEndSeconds, d.recoverStartSeconds)) > mean(pulse.slice(0, d.fallStartSeconds)) + 20, `seed ${seed}: pulse rises`);
    t.ok(spo2.slice(d.recoverEndSeconds).every((v) => v >= 97), `seed ${seed}: recovered after ${d.recoverEndSeconds} s`);
    const fall = spo2.slice(d.fallStartSeconds, d.fallEndSeconds);
    t.ok(fall[0]! > fall[fall.length - 1]! + 8, `seed ${seed}: the fall takes ~30 s`);
    const lowWithAlarm = samples.filter((s) => s.spo2Percent !== null && s.spo2Percent < 90);
    t.ok(lowWithAlarm.length > 0 && lowWithAlarm.every((s) => (s.alarmBits & 0x0012) === 0x0012), `seed ${seed}: SpO2-low and alarm-active bits below 90 %`);
  }
});

t.test('REQ-HWSIM-002 alarm-cycles: SpO2 under the default low limit on every odd second, 97-99 % on every even one, pulse as stable', async (t) => {
  for (const seed of [1, 2, 3]) {
    const samples = run('alarm-cycles', seed, 600);
    const odd = samples.filter((_, s) => s % ALARM_CYCLES.periodSeconds === 1);
    const even = samples.filter((_, s) => s % ALARM_CYCLES.periodSeconds === 0);
    t.ok(odd.every((s) => s.spo2Percent !== null && s.spo2Percent >= 84 && s.spo2Percent <= 88), `seed ${seed}: 84-88 % on odd seconds (around ${ALARM_CYCLES.lowSpo2Percent} %)`);
    t.ok(odd.every((s) => s.alarmBits === 0x12), `seed ${seed}: SpO2 low limit + alarm active on every odd second`);
    t.ok(even.every((s) => s.spo2Percent !== null && s.spo2Percent >= 97 && s.spo2Percent <= 99 && s.alarmBits === 0), `seed ${seed}: 97-99 % and no alarm on even seconds`);
    t.ok(samples.every((s) => s.pulseBpm !== null && s.pulseBpm >= 65 && s.pulseBpm <= 85 && s.exceptionBits === 0x800), `seed ${seed}: pulse near the baseline, Masimo SET only`);
  }
});

t.test('REQ-HWSIM-002 sensor-off: valid readings, then dashes with the sensor-off bit', async (t) => {
  const samples = run('sensor-off', 1, 30);
  t.ok(samples.slice(0, SENSOR_OFF_AFTER_SECONDS).every((s) => s.spo2Percent !== null && (s.exceptionBits & 0x20) === 0), 'valid first');
  const off = samples.slice(SENSOR_OFF_AFTER_SECONDS);
  t.ok(off.every((s) => s.spo2Percent === null && s.pulseBpm === null && s.perfusionIndexPercent === null && s.pviPercent === null), 'then dashes');
  t.ok(off.every((s) => (s.exceptionBits & 0x20) === 0x20), 'with EXC sensor-off');
});
