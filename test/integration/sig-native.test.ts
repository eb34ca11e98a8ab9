/**
 * The signal processors through the real addon (native/binding, loaded by
 * agent/src/native/addon.ts), on seeded synthetic signals with known events. The algorithms'
 * edge cases are proven by the Rust tests (native/core); these prove that the binding carries
 * whole batches, keeps the streaming state, and turns every bad input into data or a
 * NativeError, never a crash.
 */
import t from 'tap';
import {
  NativeError,
  createNumericsFilter,
  createPpgProcessor,
  createQrsDetector,
  createRespProcessor,
  fuseRespRate,
} from '../../agent/src/native/addon';
import type { QrsBatch, SignalRejected } from '../../agent/src/native/addon';
import { normal, rng, scoreBeats, syntheticEcg, syntheticPpg } from '../support/bench/synthetic-signals';
import { loadTestNative } from '../support/native-test-hooks';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

function ok<T extends { ok: true }>(r: T | SignalRejected): T {
  if (!r.ok) throw new Error(`unexpected rejection: ${r.error.field} ${r.error.rule} at ${r.error.index}`);
  return r;
}

function detectAll(samples: Float32Array, fs: number, batch: number): { beats: number[]; last: QrsBatch } {
  const d = createQrsDetector(fs);
  const beats: number[] = [];
  let last: QrsBatch | undefined;
  for (let at = 0; at < samples.length; at += batch) {
    last = ok(d.process(samples.subarray(at, at + batch)));
    beats.push(...last.beatSampleIndexes);
  }
  if (!last) throw new Error('no batch');
  return { beats, last };
}

t.test('REQ-SIG-001 synthetic ECG beats are found at 125 to 1000 Hz, with the heart rate', async (t) => {
  for (const fs of [125, 250, 360, 500, 1000]) {
    const seed = fs;
    const ecg = syntheticEcg({ sampleRateHz: fs, durationS: 40, heartRateBpm: 72, ectopicProbability: 0.08, wanderMv: 0.4, mainsMv: 0.1, noiseMv: 0.03, seed });
    const { beats, last } = detectAll(ecg.samples, fs, fs);
    const after = (list: readonly number[]) => list.filter((b) => b > 3 * fs);
    const [tp, missed, extra] = scoreBeats(after(ecg.rPeaks), after(beats), Math.round(0.05 * fs));
    t.ok(tp > 35, `fs ${fs}: ${tp} beats found (seed ${seed})`);
    t.same([missed, extra], [0, 0], `fs ${fs}: none missed, none extra (seed ${seed})`);
    t.equal(last.status, 'ok');
    t.ok(last.heartRateBpm !== null && Math.abs(last.heartRateBpm - 72) < 4, `fs ${fs}: rate ${last.heartRateBpm}`);
    t.ok(last.sqi > 0.8, `fs ${fs}: sqi ${last.sqi}`);
  }
});

t.test('REQ-SIG-002 chunked processing gives the beats of one call (seeded random chunk sizes)', async (t) => {
  for (let seed = 1; seed <= 6; seed += 1) {
    const random = rng(seed);
    const fs = [125, 250, 360, 500, 1000][Math.floor(random() * 5)] ?? 360;
    const ecg = syntheticEcg({ sampleRateHz: fs, durationS: 30, heartRateBpm: 50 + random() * 100, ectopicProbability: random() * 0.15, noiseMv: random() * 0.08, wanderMv: random(), seed });
    const whole = detectAll(ecg.samples, fs, ecg.samples.length).beats;
    const d = createQrsDetector(fs);
    const chunked: number[] = [];
    let at = 0;
    while (at < ecg.samples.length) {
      const len = Math.floor(random() * 3 * fs);
      chunked.push(...ok(d.process(ecg.samples.subarray(at, at + len))).beatSampleIndexes);
      at += len;
    }
    t.ok(whole.length > 0);
    t.same(chunked, whole, `seed ${seed}, fs ${fs}`);
  }
});

t.test('REQ-SIG-003 every beat is reported within the stated delay', async (t) => {
  const fs = 250;
  const ecg = syntheticEcg({ sampleRateHz: fs, durationS: 40, heartRateBpm: 65, ectopicProbability: 0.1, seed: 9 });
  const d = createQrsDetector(fs);
  t.ok(d.maxDelaySamples / fs < 3.6, `bound ${d.maxDelaySamples / fs} s`);
  t.ok(d.typicalDelaySamples / fs < 0.6, `typical ${d.typicalDelaySamples / fs} s`);
  const batch = 10;
  let worst = 0;
  for (let at = 0; at < ecg.samples.length; at += batch) {
    const out = ok(d.process(ecg.samples.subarray(at, at + batch)));
    for (const b of out.beatSampleIndexes) worst = Math.max(worst, d.samplesSeen - b);
  }
  t.equal(d.samplesSeen, ecg.samples.length);
  t.ok(worst <= d.maxDelaySamples, `worst delay ${worst} <= ${d.maxDelaySamples} samples`);
});

t.test('REQ-SIG-004 leads off and noise give no heart rate, never a made-up one', async (t) => {
  const fs = 360;
  const ecg = syntheticEcg({ sampleRateHz: fs, durationS: 20, heartRateBpm: 80, seed: 4 });
  const d = createQrsDetector(fs);
  const on = ok(d.process(ecg.samples));
  t.ok(on.heartRateBpm !== null, 'a rate while the lead is on');
  const flat = new Float32Array(10 * fs).fill(-0.4);
  let last: QrsBatch | undefined;
  for (let at = 0; at < flat.length; at += fs) {
    last = ok(d.process(flat.subarray(at, at + fs)));
    if (at >= 4 * fs) {
      t.equal(last.heartRateBpm, null, `no rate ${at / fs} s after the lead came off`);
      t.equal(last.status, 'leads-off');
    }
  }
  t.equal(last?.sqi, 0);
  // Noise, no heart.
  const random = rng(77);
  let level = 0;
  const noise = Float32Array.from({ length: 60 * fs }, () => {
    level = 0.98 * level + 0.2 * normal(random);
    return level + 0.3 * normal(random);
  });
  const n = createQrsDetector(fs);
  let secondsWithRate = 0;
  for (let at = 0; at < noise.length; at += fs) {
    const out = ok(n.process(noise.subarray(at, at + fs)));
    if (at >= 20 * fs && out.heartRateBpm !== null) secondsWithRate += 1;
  }
  t.ok(secondsWithRate <= 2, `${secondsWithRate} of 40 s of noise had a rate (seed 77)`);
});

t.test('REQ-SIG-005 bad input is data or a NativeError, never a crash', async (t) => {
  const d = createQrsDetector(360);
  const rejected = d.process(Float32Array.from([0, 0.1, Number.NaN, 0]));
  t.same(rejected, { ok: false, error: { field: 'samples', rule: 'must contain only finite numbers', index: 2 } });
  t.equal(d.samplesSeen, 0, 'a rejected batch changes nothing');
  const empty = ok(d.process(new Float32Array(0)));
  t.same([empty.beatSampleIndexes.length, empty.heartRateBpm, empty.status], [0, null, 'learning']);
  for (const fs of [0, 50, 124, 1001, Number.NaN, -360]) {
    const err = thrown(() => createQrsDetector(fs));
    t.ok(err instanceof NativeError, `sample rate ${fs} is a NativeError`);
    t.equal((err as NativeError).code, 'NATIVE_CALL');
    t.match((err as Error).message, 'sampleRateHz: must be between 125 and 1000');
  }
  t.match((thrown(() => createQrsDetector(360, { mains: '55' as '50' })) as Error).message, 'mains');
  t.match((thrown(() => createQrsDetector(360, { minSqi: 2 })) as Error).message, 'minSqi');
  // Wrong JavaScript types fail in the binding's conversion.
  for (const bad of [[1, 2, 3], 'ecg', undefined, new Float64Array(3)]) {
    const err = thrown(() => d.process(bad as unknown as Float32Array));
    t.ok(err instanceof NativeError, `${Object.prototype.toString.call(bad)} is a NativeError`);
  }
  const p = createPpgProcessor(125);
  t.same(p.process(new Float32Array(3), new Float32Array(2)), {
    ok: false,
    error: { field: 'red', rule: 'must have the same length as the other channel', index: 0 },
  });
  t.match(p.process(Float32Array.from([1, Number.POSITIVE_INFINITY])), { ok: false, error: { field: 'ir', index: 1 } });
  t.ok(thrown(() => createPpgProcessor(10)) instanceof NativeError);
  t.ok(thrown(() => createRespProcessor(2)) instanceof NativeError);
  t.ok(thrown(() => createNumericsFilter({ min: 5, max: 1 })) instanceof NativeError);
  // A panic inside the addon (its test build, which has the panic hook) is a NativeError, and
  // the processors keep working after it: those of the addon that panicked and the agent's.
  const hooks = loadTestNative();
  const sameAddon = hooks.createQrsDetector(360);
  t.ok(thrown(() => hooks.panicForTest('signal processing')) instanceof NativeError);
  t.ok(ok(sameAddon.process(new Float32Array(360))).ok, 'still alive: a processor of the addon that panicked');
  t.ok(ok(d.process(new Float32Array(360))).ok, 'still alive');
});

t.test('REQ-SIG-009 PPG: pulse rate, SpO2 within Arms 2 % from 70 to 100 %, perfusion, calibration', async (t) => {
  const fs = 125;
  let squared = 0;
  let count = 0;
  for (let spo2 = 70; spo2 <= 100; spo2 += 5) {
    const ratio = (110 - spo2) / 25;
    const s = syntheticPpg({ sampleRateHz: fs, durationS: 40, pulseRateBpm: 60 + spo2 / 2, ratio, respRatePerMin: 14, noise: 0.05, seed: spo2 });
    const p = createPpgProcessor(fs, { inverted: true });
    let last;
    for (let at = 0; at < s.ir.length; at += fs) last = ok(p.process(s.ir.subarray(at, at + fs), s.red.subarray(at, at + fs)));
    t.ok(last?.spo2Percent !== null && last?.spo2Percent !== undefined, `SpO2 at ${spo2} %`);
    squared += ((last?.spo2Percent ?? 0) - spo2) ** 2;
    count += 1;
    t.ok(last && last.pulseRateBpm !== null && Math.abs(last.pulseRateBpm - (60 + spo2 / 2)) < 3, `pulse at ${spo2} %: ${last?.pulseRateBpm}`);
    t.ok(last && last.perfusionIndexPercent !== null && Math.abs(last.perfusionIndexPercent - 2) < 0.5, `PI ${last?.perfusionIndexPercent}`);
    t.same([last?.motion, last?.lowPerfusion], [false, false]);
  }
  const arms = Math.sqrt(squared / count);
  t.ok(arms <= 2, `Arms ${arms.toFixed(2)} %`);
  // Another sensor's curve: SpO2 = 100 - 10 R - 2 R^2; R = 1 gives 88.
  const s = syntheticPpg({ sampleRateHz: fs, durationS: 30, pulseRateBpm: 70, ratio: 1, seed: 3 });
  const custom = createPpgProcessor(fs, { inverted: true, calibration: { a: 100, b: -10, c: -2 } });
  const out = ok(custom.process(s.ir, s.red));
  t.ok(out.spo2Percent !== null && Math.abs(out.spo2Percent - 88) < 1, `custom curve: ${out.spo2Percent}`);
  // No red channel, no SpO2; the pulse rate is still there.
  const irOnly = ok(createPpgProcessor(fs, { inverted: true }).process(s.ir));
  t.equal(irOnly.spo2Percent, null);
  t.ok(irOnly.pulseRateBpm !== null);
  // Very low perfusion withdraws the values and says why.
  const weak = syntheticPpg({ sampleRateHz: fs, durationS: 30, pulseRateBpm: 70, ratio: 0.6, perfusionPercent: 0.1, seed: 5 });
  const w = ok(createPpgProcessor(fs, { inverted: true }).process(weak.ir, weak.red));
  t.same([w.lowPerfusion, w.pulseRateBpm, w.spo2Percent], [true, null, null]);
});

t.test('REQ-SIG-010 respiration from impedance and from the PPG, and the fusion rule', async (t) => {
  const fs = 125;
  const resp = createRespProcessor(fs);
  const breathing = Float32Array.from({ length: 90 * fs }, (_, i) => 3 + Math.sin((2 * Math.PI * 18 * i) / 60 / fs));
  let last;
  for (let at = 0; at < breathing.length; at += fs) last = ok(resp.process(breathing.subarray(at, at + fs)));
  t.ok(last?.respRatePerMin !== null && Math.abs((last?.respRatePerMin ?? 0) - 18) < 1, `impedance: ${last?.respRatePerMin}`);
  t.ok((last?.quality ?? 0) > 0.8);
  t.same(ok(createRespProcessor(fs).process(new Float32Array(60 * fs).fill(2))).respRatePerMin, null, 'a flat signal has no rate');
  const s = syntheticPpg({ sampleRateHz: fs, durationS: 90, pulseRateBpm: 75, ratio: 0.6, respRatePerMin: 12, seed: 8 });
  const ppg = ok(createPpgProcessor(fs, { inverted: true }).process(s.ir));
  t.ok(ppg.respRatePerMin !== null && Math.abs(ppg.respRatePerMin - 12) < 1.5, `from the PPG: ${ppg.respRatePerMin}`);
  t.same(fuseRespRate({ respRatePerMin: 16, quality: 0.9 }, { respRatePerMin: 17, quality: 0.8 }), { respRatePerMin: 16, quality: 0.9, source: 'direct' });
  t.same(fuseRespRate({ respRatePerMin: null, quality: 0.2 }, { respRatePerMin: 17, quality: 0.8 }), { respRatePerMin: 17, quality: 0.8, source: 'ppg' });
  t.same(fuseRespRate({ respRatePerMin: 16, quality: 0.9 }, { respRatePerMin: 26, quality: 0.6 }), { respRatePerMin: 16, quality: 0.6, source: 'direct' }, 'disagreement lowers the quality');
  t.same(fuseRespRate({ respRatePerMin: null, quality: 0.1 }, { respRatePerMin: null, quality: 0.3 }), { respRatePerMin: null, quality: 0.3, source: 'none' });
});

t.test('REQ-SIG-012 numerics: a sudden desaturation shows within the documented delay; artifacts do not', async (t) => {
  const f = createNumericsFilter({ min: 0, max: 100 });
  t.equal(f.delayReadings, 2);
  const values = Float64Array.from([97, 97, 97, 97, 97, 40, 97, 97, 97, 101, 97, 97, 84, 84, 84, 84]);
  const times = Float64Array.from(values, (_, i) => i);
  const out = f.process(times, values);
  if (!out.ok) throw new Error('rejected');
  t.same(Array.from(out.values), [97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 84, 84], 'the step at 12 s shows at 14 s');
  t.same(Array.from(out.rejected), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], 'the out-of-range reading is flagged');
  const stale = f.process(Float64Array.from([40]), Float64Array.from([Number.NaN]));
  t.ok(stale.ok && Number.isNaN(stale.values[0] ?? 0), 'no recent reading: unavailable, not held');
  t.match(f.process(Float64Array.from([1]), Float64Array.from([90])), { ok: false, error: { field: 'timesS' } }, 'time going back is rejected');
});
