/**
 * The one synthetic physiology model of the project: seeded ECG, two-wavelength PPG and chest
 * accelerometer signals with known heart rate, SpO2 and respiration rate.
 *
 * Two views of the same model:
 * - whole-record functions (`syntheticEcg`, `syntheticPpg`) for the signal-processing tests
 *   and the benchmark (test/support/bench/synthetic-signals.ts re-exports them);
 * - a streaming generator (`PhysiologyModel`) that hw-sim's sensor patch draws block by block
 *   while the scenario changes the rates, for the device emulation.
 *
 * The ECG is the model of native/core/src/testsig.rs: Gaussian P, Q, R, S and T waves per beat
 * (after McSharry et al., IEEE TBME 50(3):289-294, 2003), premature ventricular beats with a
 * compensatory pause, baseline wander, mains and white noise. The PPG pulse is two Gaussians
 * (systolic peak and diastolic wave) on the transmitted intensity, with the red AC/DC made
 * `R` times the infrared's, `R` following the SpO2 through the calibration curve
 * (`SpO2 = a + b R + c R^2`, default 110 - 25 R: docs/signal-processing.md). A failing test
 * prints its seed.
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

/** One wave of a beat: [offset from the R peak s, width s, amplitude relative to R]. */
export type Wave = readonly [number, number, number];

export const NORMAL_WAVES: readonly Wave[] = [
  [-0.2, 0.025, 0.12],
  [-0.03, 0.01, -0.12],
  [0, 0.012, 1],
  [0.03, 0.01, -0.25],
  [0.28, 0.06, 0.3],
];
export const ECTOPIC_WAVES: readonly Wave[] = [
  [0, 0.035, 1.6],
  [0.06, 0.03, -0.5],
  [0.33, 0.07, -0.4],
];
/** PPG pulse after its onset: [offset s, width s, amplitude], both scaled by min(1, interval / 0.75 s). */
export const PPG_PULSE_WAVES: readonly Wave[] = [
  [0.13, 0.055, 1],
  [0.4, 0.08, 0.35],
];

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
    for (const [offset, width, a] of PPG_PULSE_WAVES) {
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

// ---- streaming model (hw-sim's sensor patch) ----------------------------------------

/** SpO2 calibration curve `SpO2 = a + b R + c R^2` (the PPG processor's; default 110 - 25 R). */
export interface Spo2Curve {
  a: number;
  b: number;
  c: number;
}
export const DEFAULT_SPO2_CURVE: Spo2Curve = { a: 110, b: -25, c: 0 };

/**
 * The ratio of ratios R that the curve maps to `spo2Percent` (the root on the decreasing
 * branch, R > 0), or null when the curve never reaches it.
 */
export function ratioForSpo2(spo2Percent: number, curve: Spo2Curve = DEFAULT_SPO2_CURVE): number | null {
  const { a, b, c } = curve;
  if (c === 0) return b === 0 ? null : (spo2Percent - a) / b;
  const disc = b * b - 4 * c * (a - spo2Percent);
  if (disc < 0) return null;
  const roots = [(-b + Math.sqrt(disc)) / (2 * c), (-b - Math.sqrt(disc)) / (2 * c)].filter((r) => r > 0);
  return roots.length === 0 ? null : Math.min(...roots);
}

/** What the patient's physiology is during one block (the scenario's ground truth). */
export interface PhysiologyState {
  heartRateBpm: number;
  spo2Percent: number;
  respRatePerMin: number;
  /** Perfusion index, percent (pulsatile / steady infrared light). */
  perfusionIndexPercent: number;
  skinTempCelsius: number;
  /** Electrodes off: the ECG front end outputs a flat line. */
  leadOff?: boolean;
  /** Optical probe off the skin: only ambient light reaches the photodiode. */
  probeOff?: boolean;
  /** The patient moves: large accelerations, motion artefacts on the PPG and ECG. */
  motion?: boolean;
}

export interface PhysiologyBlock {
  /** ECG in mV at ecgRateHz. */
  ecgMv: Float64Array;
  /** Photodiode counts, a pulse makes them fall. */
  red: Float64Array;
  ir: Float64Array;
  /** Accelerometer in mg: x left-right, y head-feet along the sternum, z out of the chest. */
  accelMg: { x: Float64Array; y: Float64Array; z: Float64Array };
}

/** Sample rates of the three channels, Hz. */
export interface ChannelRates {
  ecg: number;
  ppg: number;
  accel: number;
}

export interface PhysiologyModelOptions {
  seed: number;
  /** The sensor's calibration, used backwards: SpO2 -> R. */
  spo2Curve?: Spo2Curve;
  /** Pulse transit time from the R peak to the PPG pulse onset, s. */
  pulseTransitS?: number;
}

interface Beat {
  timeS: number;
  intervalS: number;
  ectopic: boolean;
}

/** Steady light levels, photodiode counts (22-bit ADC). */
const IR_DC_COUNTS = 1_500_000;
const RED_DC_COUNTS = 1_000_000;
const AMBIENT_COUNTS = 3_000;
/** Head of the bed raised 30 degrees: the sternum axis sees sin(30 deg) of gravity. */
const BED_ANGLE_RAD = Math.PI / 6;
/** Chest rocking with each breath, rad (about 0.3 degrees). */
const BREATH_TILT_RAD = 0.005;

/**
 * Streaming physiology: `block(t0S, durationS, state, rates)` gives every channel over one block
 * of device time, the state held for the block. Blocks must follow each other without gaps (the
 * beat schedule and the breathing phase carry over); the same seed gives the same signals.
 * Beats are scheduled from the heart rate with +-3 % beat-to-beat variation; each R peak
 * makes a PPG pulse `pulseTransitS` later, so the pulse rate is the heart rate.
 */
export class PhysiologyModel {
  private readonly random: () => number;
  private readonly beats: Beat[] = [];
  private nextBeatS: number;
  private breathPhase = 0;
  private motionX = 0;
  private motionY = 0;
  private motionZ = 0;
  private readonly curve: Spo2Curve;
  private readonly transitS: number;

  constructor(private readonly opts: PhysiologyModelOptions) {
    this.random = rng(opts.seed);
    this.curve = opts.spo2Curve ?? DEFAULT_SPO2_CURVE;
    this.transitS = opts.pulseTransitS ?? 0.22;
    this.nextBeatS = 0.3 + 0.5 * this.random();
  }

  /** Beats scheduled so far whose R peak is before `untilS` (ground truth for tests). */
  beatTimesBefore(untilS: number): number[] {
    return this.beats.filter((b) => b.timeS < untilS).map((b) => b.timeS);
  }

  block(t0S: number, durationS: number, state: PhysiologyState, rates: ChannelRates): PhysiologyBlock {
    const { ecg: ecgRateHz, ppg: ppgRateHz, accel: accelRateHz } = rates;
    const t1S = t0S + durationS;
    // Schedule beats up to a second past the block (a PPG pulse lasts about 0.8 s after its R).
    while (this.nextBeatS < t1S + 1) {
      const intervalS = (60 / state.heartRateBpm) * (1 + 0.03 * (2 * this.random() - 1));
      this.beats.push({ timeS: this.nextBeatS, intervalS, ectopic: false });
      this.nextBeatS += intervalS;
    }
    while (this.beats.length > 0 && (this.beats[0]?.timeS ?? 0) < t0S - 2) this.beats.shift();
    const phase0 = this.breathPhase;
    const breathRadPerS = (2 * Math.PI * state.respRatePerMin) / 60;
    const phaseAt = (ts: number): number => phase0 + breathRadPerS * (ts - t0S);

    const nEcg = Math.round(durationS * ecgRateHz);
    const ecgMv = new Float64Array(nEcg);
    for (let i = 0; i < nEcg; i++) {
      const ts = t0S + i / ecgRateHz;
      if (state.leadOff) {
        ecgMv[i] = 0;
        continue;
      }
      const breath = Math.sin(phaseAt(ts));
      let v = 0;
      for (const beat of this.beats) {
        const dt0 = ts - beat.timeS;
        if (dt0 < -0.4 || dt0 > 0.7) continue;
        // Breathing moves the heart's axis: R amplitude +-5 %.
        const amplitude = 1.2 * (1 + 0.05 * breath);
        for (const [offset, width, a] of beat.ectopic ? ECTOPIC_WAVES : NORMAL_WAVES) {
          const dt = dt0 - offset;
          v += amplitude * a * Math.exp((-dt * dt) / (2 * width * width));
        }
      }
      v += 0.05 * breath + 0.01 * normal(this.random);
      if (state.motion) v += 0.08 * normal(this.random);
      ecgMv[i] = v;
    }

    const nPpg = Math.round(durationS * ppgRateHz);
    const red = new Float64Array(nPpg);
    const ir = new Float64Array(nPpg);
    const ratio = ratioForSpo2(state.spo2Percent, this.curve) ?? 1;
    const acIr = state.perfusionIndexPercent / 100;
    for (let i = 0; i < nPpg; i++) {
      const ts = t0S + i / ppgRateHz;
      if (state.probeOff) {
        ir[i] = AMBIENT_COUNTS + 20 * normal(this.random);
        red[i] = AMBIENT_COUNTS + 20 * normal(this.random);
        continue;
      }
      const breath = Math.sin(phaseAt(ts));
      let pulse = 0;
      for (const beat of this.beats) {
        const onset = beat.timeS + this.transitS;
        const dt0 = ts - onset;
        if (dt0 < 0 || dt0 > 1.2) continue;
        const scale = Math.min(1, beat.intervalS / 0.75);
        for (const [offset, width, a] of PPG_PULSE_WAVES) {
          const w = width * scale;
          const dt = dt0 - offset * scale;
          pulse += a * Math.exp((-dt * dt) / (2 * w * w));
        }
      }
      // Respiratory modulation: baseline (intensity variation) and pulse amplitude.
      const p = pulse * (1 + 0.1 * breath);
      const baseline = 0.3 * acIr * breath;
      let artefact = 0;
      if (state.motion) artefact = 4 * acIr * this.motionY;
      ir[i] = IR_DC_COUNTS * (1 - acIr * p - baseline - artefact + 0.01 * acIr * normal(this.random));
      red[i] = RED_DC_COUNTS * (1 - ratio * (acIr * p + baseline) - artefact + 0.01 * acIr * ratio * normal(this.random));
    }

    const nAccel = Math.round(durationS * accelRateHz);
    const x = new Float64Array(nAccel);
    const y = new Float64Array(nAccel);
    const z = new Float64Array(nAccel);
    for (let i = 0; i < nAccel; i++) {
      const ts = t0S + i / accelRateHz;
      if (state.motion) {
        // Movement: a random walk of a few hundred mg, pulled back towards rest.
        this.motionX = 0.9 * this.motionX + 0.15 * normal(this.random);
        this.motionY = 0.9 * this.motionY + 0.15 * normal(this.random);
        this.motionZ = 0.9 * this.motionZ + 0.15 * normal(this.random);
      } else {
        this.motionX = this.motionY = this.motionZ = 0;
      }
      // Off the body (electrodes and probe both off) the patch lies still: no breathing.
      const offBody = state.leadOff === true && state.probeOff === true;
      const tilt = BED_ANGLE_RAD + (offBody ? 0 : BREATH_TILT_RAD * Math.sin(phaseAt(ts)));
      x[i] = 1000 * this.motionX + 0.5 * normal(this.random);
      y[i] = 1000 * Math.sin(tilt) + 1000 * this.motionY + 0.5 * normal(this.random);
      z[i] = 1000 * Math.cos(tilt) + 1000 * this.motionZ + 0.5 * normal(this.random);
    }

    this.breathPhase = (phase0 + breathRadPerS * durationS) % (2 * Math.PI);
    return { ecgMv, red, ir, accelMg: { x, y, z } };
  }
}
