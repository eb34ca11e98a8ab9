/**
 * The noise stress test's pieces (agent/src/commands/eval-qrs-noise.ts), as pure functions:
 * the SNR as WFDB `nst` defines it, `sigamp`'s trimmed means, the NSTDB protocol, and the
 * seeded noise generators.
 */
import t from 'tap';
import {
  addNoise,
  generateNoise,
  noiseGain,
  noiseOn,
  noiseRms,
  NOISE_KINDS,
  qrsPeakToPeak,
  trimmedMean,
} from '../../agent/src/commands/eval-qrs-noise';
import type { WfdbAnnotation } from '../../agent/src/io/wfdb';

const FS = 360;

function rms(x: Float32Array, from = 0, to = x.length): number {
  let mean = 0;
  for (let i = from; i < to; i += 1) mean += x[i] ?? 0;
  mean /= to - from;
  let sum = 0;
  for (let i = from; i < to; i += 1) sum += ((x[i] ?? 0) - mean) ** 2;
  return Math.sqrt(sum / (to - from));
}

t.test('REQ-QRS-004 the SNR is nst\'s: noise RMS / QRS peak-to-peak = 10^(-SNR/20) sqrt(2)/4', async (t) => {
  // A record of 1.5 mV peak-to-peak QRS-like spikes, one per second, annotated as normal beats.
  const samples = new Float32Array(400 * FS);
  const annotations: WfdbAnnotation[] = [];
  for (let s = 1; s < 400; s += 1) {
    const at = s * FS;
    samples[at] = 1.2;
    samples[at + 5] = -0.3;
    annotations.push({ sample: at, code: 1, subtype: 0 });
  }
  // An N beat's window is 50 ms each side: only the spike counts, not its neighbours.
  t.ok(Math.abs((qrsPeakToPeak(samples, annotations, FS) ?? 0) - 1.5) < 1e-6, 'the spikes\' peak-to-peak amplitude (float32 samples)');
  // Ventricular beats (V, code 5) are not measured: only normal ones (N, L, R, B).
  t.equal(qrsPeakToPeak(samples, annotations.map((a) => ({ ...a, code: 5 })), FS), null);
  for (const kind of NOISE_KINDS) {
    const noise = generateNoise(kind, samples.length, FS, 7);
    const measured = noiseRms(noise, FS);
    t.ok(measured !== null && measured > 0, `${kind} has an amplitude`);
    for (const snrDb of [24, 12, 0, -6]) {
      const gain = noiseGain(snrDb, 1.5, measured ?? 1);
      const scaled = Float32Array.from(noise, (v) => v * gain);
      const ratio = (noiseRms(scaled, FS) ?? 0) / 1.5;
      const expected = (10 ** (-snrDb / 20) * Math.SQRT2) / 4;
      t.ok(Math.abs(ratio / expected - 1) < 1e-4, `${kind} ${snrDb} dB: ratio ${ratio} vs ${expected}`);
    }
  }
});

t.test('REQ-QRS-004 sigamp\'s trimmed mean leaves out the lowest and highest 5 %', async (t) => {
  const values = Array.from({ length: 40 }, (_, i) => i + 1); // 1..40: 2 cut each side
  t.equal(trimmedMean(values), (3 + 38) / 2);
  t.equal(trimmedMean([1, 2, 3]), 2, 'fewer than 20 values: nothing cut');
  t.equal(trimmedMean([]), null);
  t.equal(trimmedMean([...Array.from({ length: 19 }, () => 1), 1000]), 1, 'one outlier in 20 is cut');
});

t.test('REQ-QRS-004 the NSTDB protocol: clean for 5 min, then noise 2 min on, 2 min off; continuous at the switches', async (t) => {
  const seconds = [0, 299, 300, 419, 420, 539, 540, 659, 660, 1799];
  t.same(
    seconds.map((s) => noiseOn(s * FS, FS)),
    [false, false, true, true, false, false, true, true, false, true],
  );
  const n = 700 * FS;
  const ecg = new Float32Array(n).fill(0.2);
  const noise = generateNoise('em', n, FS, 3);
  const noisy = addNoise(ecg, noise, 2, FS);
  t.ok(noisy.slice(0, 300 * FS).every((v) => v === Math.fround(0.2)), 'the first 5 minutes are untouched');
  t.ok(rms(noisy, 300 * FS, 420 * FS) > 0.1, 'noise from 5:00');
  t.equal(rms(noisy, 421 * FS, 539 * FS), 0, 'off from 7:00 to 9:00: a constant (the offset that kept it continuous)');
  // At each switch, no step larger than the noise's own sample-to-sample change.
  for (const s of [300, 420, 540, 660]) {
    const i = s * FS;
    const jump = Math.abs((noisy[i] ?? 0) - (noisy[i - 1] ?? 0));
    const own = 2 * Math.abs((noise[i] ?? 0) - (noise[i - 1] ?? 0)) + 1e-6;
    t.ok(jump <= own, `switch at ${s} s: jump ${jump} <= ${own}`);
  }
});

t.test('REQ-QRS-004 the generated noise is seeded: the same seed gives the same noise, another seed other noise', async (t) => {
  for (const kind of NOISE_KINDS) {
    const a = generateNoise(kind, 60 * FS, FS, 42);
    const b = generateNoise(kind, 60 * FS, FS, 42);
    const c = generateNoise(kind, 60 * FS, FS, 43);
    // Compared as bytes: a deep comparison of 21600 elements is needlessly slow.
    const bytes = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    t.ok(bytes(a).equals(bytes(b)), `${kind}: same seed, same noise`);
    t.notOk(bytes(a).equals(bytes(c)), `${kind}: another seed, other noise`);
    t.ok(a.every((v) => Number.isFinite(v)), `${kind}: finite`);
  }
  // Muscle noise is broadband above 5 Hz: almost none of its power is slow. Electrode motion
  // has slow baseline movement and recoveries: much of its power is slow. Compare the power
  // of a 0.5 s moving average (what is slower than about 2 Hz) with the whole.
  const slowShare = (x: Float32Array): number => {
    const w = Math.round(0.5 * FS);
    const slow = new Float32Array(x.length - w);
    let sum = 0;
    for (let i = 0; i < x.length; i += 1) {
      sum += x[i] ?? 0;
      if (i >= w) sum -= x[i - w] ?? 0;
      if (i >= w) slow[i - w] = sum / w;
    }
    return rms(slow) ** 2 / rms(x) ** 2;
  };
  const ma = generateNoise('ma', 300 * FS, FS, 5);
  const em = generateNoise('em', 300 * FS, FS, 5);
  t.ok(slowShare(ma) < 0.01, `ma slow share ${slowShare(ma)}`);
  t.ok(slowShare(em) > 0.2, `em slow share ${slowShare(em)}`);
});
