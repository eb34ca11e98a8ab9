/**
 * Seeded synthetic signals with known events, for the signal-processing tests and the
 * benchmark (the real recordings are never needed by `make test`). The ECG model is the one
 * of native/core/src/testsig.rs: Gaussian P, Q, R, S and T waves per beat (after McSharry
 * et al., IEEE TBME 50(3):289-294, 2003), premature ventricular beats with a compensatory
 * pause, baseline wander, mains and white noise. A failing test prints its seed.
 */

/** mulberry32: a small seedable uniform generator in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal from a uniform generator (Box-Muller). */
export function normal(uniform: () => number): number {
  const u1 = Math.max(uniform(), 1e-300);
  const u2 = uniform();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

export interface EcgSpec {
  sampleRateHz: number;
  durationS: number;
  heartRateBpm: number;
  /** Beat-to-beat variation, fraction (uniform +-). */
  rrJitter?: number;
  /** Probability that a beat is a premature ventricular beat. */
  ectopicProbability?: number;
  /** R amplitude, mV. */
  rAmplitudeMv?: number;
  wanderMv?: number;
  mainsMv?: number;
  noiseMv?: number;
  seed: number;
}

export interface SyntheticEcg {
  samples: Float32Array;
  /** True R-peak sample indexes. */
  rPeaks: number[];
}

const NORMAL_WAVES: [number, number, number][] = [
  [-0.2, 0.025, 0.12],
  [-0.03, 0.01, -0.12],
  [0, 0.012, 1],
  [0.03, 0.01, -0.25],
  [0.28, 0.06, 0.3],
];
const ECTOPIC_WAVES: [number, number, number][] = [
  [0, 0.035, 1.6],
  [0.06, 0.03, -0.5],
  [0.33, 0.07, -0.4],
];

/** A synthetic ECG in mV. */
export function syntheticEcg(spec: EcgSpec): SyntheticEcg {
  const fs = spec.sampleRateHz;
  const n = Math.floor(spec.durationS * fs);
  const random = rng(spec.seed);
  const x = new Float64Array(n);
  const rPeaks: number[] = [];
  const rr = 60 / spec.heartRateBpm;
  const amplitude = spec.rAmplitudeMv ?? 1.2;
  let t = 0.4 + random() * rr;
  while (t < spec.durationS - 0.5) {
    const ectopic = random() < (spec.ectopicProbability ?? 0);
    const time = ectopic ? t - 0.35 * rr : t;
    rPeaks.push(Math.round(time * fs));
    for (const [offset, width, a] of ectopic ? ECTOPIC_WAVES : NORMAL_WAVES) {
      const centre = time + offset;
      const from = Math.max(0, Math.floor((centre - 5 * width) * fs));
      const to = Math.min(n, Math.ceil((centre + 5 * width) * fs));
      for (let i = from; i < to; i += 1) {
        const dt = i / fs - centre;
        x[i] = (x[i] ?? 0) + amplitude * a * Math.exp((-dt * dt) / (2 * width * width));
      }
    }
    t += rr * (1 + (spec.rrJitter ?? 0.05) * (2 * random() - 1));
  }
  const samples = new Float32Array(n);
  for (let i = 0; i < n; i += 1) {
    const ts = i / fs;
    samples[i] =
      (x[i] ?? 0) +
      (spec.wanderMv ?? 0) * Math.sin(2 * Math.PI * 0.3 * ts) +
      (spec.mainsMv ?? 0) * Math.sin(2 * Math.PI * 50 * ts) +
      (spec.noiseMv ?? 0.01) * normal(random) -
      0.4;
  }
  rPeaks.sort((a, b) => a - b);
  return { samples, rPeaks };
}

/** Greedy in-order matching within `tolerance` samples: [true positives, missed, extra]. */
export function scoreBeats(truth: readonly number[], detected: readonly number[], tolerance: number): [number, number, number] {
  let i = 0;
  let j = 0;
  let tp = 0;
  while (i < truth.length && j < detected.length) {
    const a = truth[i] ?? 0;
    const b = detected[j] ?? 0;
    if (Math.abs(a - b) <= tolerance) {
      tp += 1;
      i += 1;
      j += 1;
    } else if (a < b) i += 1;
    else j += 1;
  }
  return [tp, truth.length - tp, detected.length - tp];
}

/** A synthetic two-wavelength PPG (raw intensities: a pulse makes them fall) with a known ratio of ratios. */
export function syntheticPpg(spec: {
  sampleRateHz: number;
  durationS: number;
  pulseRateBpm: number;
  ratio: number;
  perfusionPercent?: number;
  respRatePerMin?: number;
  noise?: number;
  seed: number;
}): { ir: Float32Array; red: Float32Array; onsets: number[] } {
  const fs = spec.sampleRateHz;
  const n = Math.floor(spec.durationS * fs);
  const random = rng(spec.seed);
  const pulse = new Float64Array(n);
  const onsets: number[] = [];
  const interval = 60 / spec.pulseRateBpm;
  const scale = Math.min(1, interval / 0.75);
  let t = 0.2 + random() * interval;
  while (t < spec.durationS - 0.8) {
    onsets.push(Math.round(t * fs));
    for (const [offset, width, a] of [
      [0.13, 0.055, 1],
      [0.4, 0.08, 0.35],
    ] as const) {
      const centre = t + offset * scale;
      const w = width * scale;
      const from = Math.max(0, Math.floor((centre - 5 * w) * fs));
      const to = Math.min(n, Math.ceil((centre + 5 * w) * fs));
      for (let i = from; i < to; i += 1) {
        const dt = i / fs - centre;
        pulse[i] = (pulse[i] ?? 0) + a * Math.exp((-dt * dt) / (2 * w * w));
      }
    }
    t += interval * (1 + 0.03 * (2 * random() - 1));
  }
  const acIr = (spec.perfusionPercent ?? 2) / 100;
  const acRed = acIr * spec.ratio;
  const ir = new Float32Array(n);
  const red = new Float32Array(n);
  for (let i = 0; i < n; i += 1) {
    const breath = spec.respRatePerMin ? 0.3 * acIr * Math.sin((2 * Math.PI * spec.respRatePerMin * i) / 60 / fs) : 0;
    const noise = (spec.noise ?? 0.01) * acIr * normal(random);
    const p = pulse[i] ?? 0;
    ir[i] = 50_000 * (1 - acIr * p - breath + noise);
    red[i] = 30_000 * (1 - acRed * p - breath + noise);
  }
  return { ir, red, onsets };
}
