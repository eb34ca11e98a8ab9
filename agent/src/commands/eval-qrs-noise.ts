/**
 * The noise stress test of `vigil eval qrs --noise`, after the MIT-BIH Noise Stress Test
 * Database (NSTDB; Moody GB, Muldrow WE, Mark RG, "A noise stress test for arrhythmia
 * detectors", Computers in Cardiology 11:381-384, 1984) and WFDB's `nst`, which made it:
 *
 * - *Protocol* (`nst`'s default): the record is clean for its first 5 minutes; from 5:00 the
 *   noise is on for 2 minutes, off for 2 minutes, and so on to the end. When the noise is
 *   switched, an offset keeps the output continuous (as `nst` does).
 * - *SNR* (`nst`, `sigamp`): S is the trimmed mean peak-to-peak amplitude of the record's
 *   normal QRS complexes (first signal; a window from 50 ms before to 50 ms after each of the
 *   first 300 normal beat annotations; the largest and smallest 5 % left out); N is the trimmed
 *   mean RMS of the noise in consecutive 1 s windows (mean removed; first 300 windows; 5 %
 *   trimmed each side). The noise gain makes `RMS(noise) / S = 10^(-SNR/20) * sqrt(2) / 4`:
 *   the SNR is that of a sine wave with the QRS's peak-to-peak amplitude against the noise.
 * - *Noise*: the NSTDB's own electrode-motion (`em`) and muscle (`ma`) recordings are not in
 *   the shared data, so the noise is generated, seeded (`generateNoise`), from models of the
 *   two kinds, documented in docs/signal-processing.md. They are models, not the recordings:
 *   the figures are comparable in protocol and SNR scale with NSTDB results, not equal to them.
 */
import type { WfdbAnnotation } from '../io/wfdb';

/** The SNRs of the NSTDB records (118e24 ... 118e_6), dB. */
export const NOISE_SNR_DB = [24, 18, 12, 6, 0, -6] as const;
/** The noise kinds: electrode motion and muscle artifact (NSTDB `em` and `ma`). */
export const NOISE_KINDS = ['em', 'ma'] as const;
export type NoiseKind = (typeof NOISE_KINDS)[number];

/** `nst`: noise starts at 5:00 and is switched every 2 minutes, s. */
export const PROTOCOL_START_S = 300;
export const PROTOCOL_PERIOD_S = 120;
/** `sigamp -a`: window around each normal beat (s) and number of beats measured. */
const QRS_WINDOW_S = 0.05;
const SIGAMP_MAX_MEASUREMENTS = 300;
/** `sigamp -r`: RMS window, s. */
const RMS_WINDOW_S = 1;
/** Normal beats for `sigamp -a` (WFDB map1 NORMAL): N, L, R, B. */
const NORMAL_CODES = new Set([1, 2, 3, 25]);

/** mulberry32: a small seedable generator (uniform in [0, 1)); the same seed gives the same noise. */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seededNormal(seed: number): () => number {
  const uniform = seededUniform(seed);
  return () => {
    const u1 = Math.max(uniform(), 1e-300);
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * uniform());
  };
}

/** Second-order Butterworth section (RBJ cookbook), direct form I. */
function biquad(kind: 'lowpass' | 'highpass', fs: number, f0: number): (x: number) => number {
  const w = (2 * Math.PI * f0) / fs;
  const alpha = Math.sin(w) / (2 * Math.SQRT1_2);
  const c = Math.cos(w);
  const a0 = 1 + alpha;
  const b = kind === 'lowpass' ? [(1 - c) / 2, 1 - c, (1 - c) / 2] : [(1 + c) / 2, -(1 + c), (1 + c) / 2];
  const [b0, b1, b2] = b.map((v) => v / a0) as [number, number, number];
  const a1 = (-2 * c) / a0;
  const a2 = (1 - alpha) / a0;
  let x1 = 0;
  let x2 = 0;
  let y1 = 0;
  let y2 = 0;
  return (x) => {
    const y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
    x2 = x1;
    x1 = x;
    y2 = y1;
    y1 = y;
    return y;
  };
}

/**
 * Seeded noise of `kind`, `length` samples at `sampleRateHz` (arbitrary scale: the stress
 * test scales it to the SNR).
 *
 * - `ma`, muscle artifact: Gaussian noise band-limited to 5-100 Hz (second-order Butterworth
 *   each side; the upper edge at most 0.45 fs), whose amplitude swells and fades with muscle
 *   tension: multiplied by an envelope `0.3 + |g|`, `g` a Gaussian process low-passed at 1 Hz
 *   (EMG is broadband and overlaps the QRS band: Friesen GM et al., IEEE TBME 37(1):85-98, 1990,
 *   model it as band-limited random noise; the swelling follows the NSTDB `ma` record's bursts).
 * - `em`, electrode motion: baseline movement (Gaussian noise low-passed at 0.5 Hz) plus
 *   transients at random times (on average one every 2 s): a step of random size and sign that
 *   recovers exponentially (time constant 0.1-0.5 s) with a brief biphasic spike (20-60 ms) at
 *   its onset, as the electrode-skin interface is stretched and relaxes. Its energy overlaps
 *   the QRS band, which is why Moody et al. (1984) found `em` the hardest noise for detectors.
 */
export function generateNoise(kind: NoiseKind, length: number, sampleRateHz: number, seed: number): Float32Array {
  const fs = sampleRateHz;
  const out = new Float32Array(length);
  const normal = seededNormal(seed);
  if (kind === 'ma') {
    const high = biquad('highpass', fs, 5);
    const low = biquad('lowpass', fs, Math.min(100, 0.45 * fs));
    const envelopeFilter = biquad('lowpass', fs, 1);
    const envelopeNormal = seededNormal(seed ^ 0x9e3779b9);
    // The low-passed Gaussian has a small variance: scale it back to about 1.
    const envelopeScale = Math.sqrt(fs / (2 * 1.1));
    for (let i = 0; i < length; i += 1) {
      const envelope = 0.3 + Math.abs(envelopeScale * envelopeFilter(envelopeNormal()));
      out[i] = envelope * low(high(normal()));
    }
    return out;
  }
  const uniform = seededUniform(seed ^ 0x85ebca6b);
  const wander = biquad('lowpass', fs, 0.5);
  const wanderScale = Math.sqrt(fs);
  let step = 0;
  let decay = 1;
  let spikeAt = -1;
  let spikeWidth = 1;
  let spikeSize = 0;
  const meanGapSamples = 2 * fs;
  for (let i = 0; i < length; i += 1) {
    if (uniform() < 1 / meanGapSamples) {
      step += (uniform() < 0.5 ? -1 : 1) * (0.5 + 2 * uniform());
      decay = Math.exp(-1 / ((0.1 + 0.4 * uniform()) * fs));
      spikeAt = i;
      spikeWidth = Math.max(2, Math.round((0.02 + 0.04 * uniform()) * fs));
      spikeSize = (uniform() < 0.5 ? -1 : 1) * (0.5 + 1.5 * uniform());
    }
    step *= decay;
    let spike = 0;
    if (spikeAt >= 0 && i - spikeAt < spikeWidth) {
      // One period of a sine over the spike's width: biphasic, no net offset.
      spike = spikeSize * Math.sin((2 * Math.PI * (i - spikeAt)) / spikeWidth);
    }
    out[i] = 0.3 * wanderScale * wander(normal()) + step + spike;
  }
  return out;
}

/** Mean of the values left after the lowest and highest `floor(n / 20)` are removed (`sigamp`). */
export function trimmedMean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const cut = Math.floor(sorted.length / 20);
  const kept = sorted.slice(cut, sorted.length - cut);
  return kept.reduce((a, b) => a + b, 0) / kept.length;
}

/** `sigamp -a atr`: trimmed mean peak-to-peak amplitude of the first 300 normal QRS complexes, or null without any. */
export function qrsPeakToPeak(samples: Float32Array, annotations: readonly WfdbAnnotation[], sampleRateHz: number): number | null {
  const half = Math.round(QRS_WINDOW_S * sampleRateHz);
  const amplitudes: number[] = [];
  for (const a of annotations) {
    if (amplitudes.length >= SIGAMP_MAX_MEASUREMENTS) break;
    if (!NORMAL_CODES.has(a.code) || a.sample - half < 0 || a.sample + half > samples.length) continue;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = a.sample - half; i < a.sample + half; i += 1) {
      const v = samples[i] ?? 0;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    amplitudes.push(max - min);
  }
  return trimmedMean(amplitudes);
}

/** `sigamp -r`: trimmed mean RMS (mean removed) of the first 300 consecutive 1 s windows. */
export function noiseRms(noise: Float32Array, sampleRateHz: number): number | null {
  const window = Math.max(1, Math.round(RMS_WINDOW_S * sampleRateHz));
  const values: number[] = [];
  for (let from = 0; from + window <= noise.length && values.length < SIGAMP_MAX_MEASUREMENTS; from += window) {
    let mean = 0;
    for (let i = from; i < from + window; i += 1) mean += noise[i] ?? 0;
    mean /= window;
    let sum = 0;
    for (let i = from; i < from + window; i += 1) sum += ((noise[i] ?? 0) - mean) ** 2;
    values.push(Math.sqrt(sum / window));
  }
  return trimmedMean(values);
}

/** `nst`'s gain: noise RMS / QRS peak-to-peak = 10^(-SNR/20) * sqrt(2) / 4. */
export function noiseGain(snrDb: number, qrsPeakToPeakMv: number, noiseRmsValue: number): number {
  return ((10 ** (-snrDb / 20) * Math.SQRT2) / 4) * (qrsPeakToPeakMv / noiseRmsValue);
}

/** Whether the protocol has the noise on at sample `i`. */
export function noiseOn(i: number, sampleRateHz: number): boolean {
  const t = i / sampleRateHz - PROTOCOL_START_S;
  return t >= 0 && Math.floor(t / PROTOCOL_PERIOD_S) % 2 === 0;
}

/** The record with `gain * noise` added by the protocol, kept continuous where the noise is switched. */
export function addNoise(samples: Float32Array, noise: Float32Array, gain: number, sampleRateHz: number): Float32Array {
  const out = new Float32Array(samples.length);
  let offset = 0;
  let previousGain = 0;
  for (let i = 0; i < samples.length; i += 1) {
    const g = noiseOn(i, sampleRateHz) ? gain : 0;
    const n = noise[i] ?? 0;
    // nst: on a switch, the offset absorbs the jump, so the output does not step.
    if (g !== previousGain) offset += (previousGain - g) * n;
    previousGain = g;
    out[i] = (samples[i] ?? 0) + g * n + offset;
  }
  return out;
}
