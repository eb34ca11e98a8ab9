/**
 * Reference TypeScript implementation of the native QRS detector (native/core/src/qrs.rs,
 * with the biquad designs of native/core/src/dsp.rs), for the benchmark only: the same
 * algorithm, the same constants, the same per-sample work (conditioning filters, QRS band,
 * derivative, squaring, moving-window integration, peak decisions, and the flat-lead and
 * kurtosis block sums), written the straightforward way in TypeScript: small classes,
 * plain arrays, `number` (f64) arithmetic.
 *
 * It is not used by the agent. A test (test/integration/sig-reference.test.ts) checks that it
 * finds the same beats as the addon, so that the benchmark compares like with like.
 */

const BASELINE_CUTOFF_HZ = 0.5;
const NOTCH_Q = 15;
const BAND_LOW_HZ = 5;
const BAND_HIGH_HZ = 15;
const FIDUCIAL_FREQUENCY_HZ = 10;
const INTEGRATION_S = 0.15;
const PEAK_TIMEOUT_S = 0.095;
const REFRACTORY_S = 0.2;
const T_WAVE_WINDOW_S = 0.36;
const T_WAVE_SLOPE_RATIO = 0.5;
// On the amplitude scale (heights are square roots of the integrated signal), as in qrs.rs.
const THRESHOLD_COEFFICIENT = 0.559;
const SEARCH_BACK_RR = 1.5;
const SEARCH_BACK_THRESHOLD = 0.5;
const RR_MIN_S = 0.2;
const RR_MAX_S = 2.0;
const RR_INITIAL_S = 1.0;
const LEARNING_S = 2.0;
const RELEARN_S = 8.0;
const FLAT_BLOCK_S = 1.0;
const KURTOSIS_BLOCKS = 5;
const LEVELS = 8;
const MAX_CANDIDATES = 32;
const MIN_QRS_AMPLITUDE = 0.04;
const FLAT_AMPLITUDE = 0.05;

type Complex = [number, number];

class Biquad {
  constructor(
    readonly b0: number,
    readonly b1: number,
    readonly b2: number,
    readonly a1: number,
    readonly a2: number,
  ) {}

  static normalised(b0: number, b1: number, b2: number, a0: number, a1: number, a2: number): Biquad {
    return new Biquad(b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0);
  }

  static lowpass(fs: number, f0: number): Biquad {
    const [c, alpha] = terms(fs, f0, Math.SQRT1_2);
    const b1 = 1 - c;
    return Biquad.normalised(b1 / 2, b1, b1 / 2, 1 + alpha, -2 * c, 1 - alpha);
  }

  static highpass(fs: number, f0: number): Biquad {
    const [c, alpha] = terms(fs, f0, Math.SQRT1_2);
    const b0 = (1 + c) / 2;
    return Biquad.normalised(b0, -2 * b0, b0, 1 + alpha, -2 * c, 1 - alpha);
  }

  static notch(fs: number, f0: number, q: number): Biquad {
    const [c, alpha] = terms(fs, f0, q);
    return Biquad.normalised(1, -2 * c, 1, 1 + alpha, -2 * c, 1 - alpha);
  }

  response(fs: number, f: number): Complex {
    const w = (2 * Math.PI * f) / fs;
    const num: Complex = [this.b0 + this.b1 * Math.cos(w) + this.b2 * Math.cos(2 * w), -this.b1 * Math.sin(w) - this.b2 * Math.sin(2 * w)];
    const den: Complex = [1 + this.a1 * Math.cos(w) + this.a2 * Math.cos(2 * w), -this.a1 * Math.sin(w) - this.a2 * Math.sin(2 * w)];
    const d = den[0] * den[0] + den[1] * den[1];
    if (d === 0) return [0, 0];
    return [(num[0] * den[0] + num[1] * den[1]) / d, (num[1] * den[0] - num[0] * den[1]) / d];
  }
}

function terms(fs: number, f0: number, q: number): [number, number] {
  const w0 = (2 * Math.PI * f0) / fs;
  return [Math.cos(w0), Math.sin(w0) / (2 * q)];
}

/** One biquad with its state (transposed direct form II). */
class Section {
  z1 = 0;
  z2 = 0;

  constructor(readonly c: Biquad) {}

  step(x: number): number {
    const c = this.c;
    const y = c.b0 * x + this.z1;
    this.z1 = c.b1 * x - c.a1 * y + this.z2;
    this.z2 = c.b2 * x - c.a2 * y;
    return y;
  }

  /** State in which a constant input `x` gives the settled output. */
  settle(x: number): void {
    const c = this.c;
    const den = 1 + c.a1 + c.a2;
    const y = Math.abs(den) > Number.EPSILON ? (x * (c.b0 + c.b1 + c.b2)) / den : 0;
    this.z1 = y - c.b0 * x;
    this.z2 = c.b2 * x - c.a2 * y;
  }
}

class Chain {
  readonly sections: Section[];

  constructor(designs: Biquad[]) {
    this.sections = designs.map((d) => new Section(d));
  }

  step(x: number): number {
    let y = x;
    for (const s of this.sections) y = s.step(y);
    return y;
  }

  settle(x: number): void {
    let value = x;
    for (const s of this.sections) {
      s.settle(value);
      value *= s.c.response(1, 0)[0];
    }
  }

  groupDelaySamples(fs: number, f: number): number {
    const df = f * 1e-3;
    const phase = (freq: number): number => {
      let acc: Complex = [1, 0];
      for (const s of this.sections) {
        const r = s.c.response(fs, freq);
        acc = [acc[0] * r[0] - acc[1] * r[1], acc[0] * r[1] + acc[1] * r[0]];
      }
      return Math.atan2(acc[1], acc[0]);
    };
    let dphi = phase(f + df) - phase(f - df);
    if (dphi > Math.PI) dphi -= 2 * Math.PI;
    else if (dphi < -Math.PI) dphi += 2 * Math.PI;
    const dw = (2 * Math.PI * (2 * df)) / fs;
    return -dphi / dw;
  }
}

/** Ring of the most recent values, addressed by absolute index. */
class History {
  private readonly data: number[];
  next = 0;

  constructor(capacity: number) {
    this.data = new Array<number>(Math.max(1, capacity)).fill(0);
  }

  push(v: number): void {
    this.data[this.next % this.data.length] = v;
    this.next += 1;
  }

  get(i: number): number | undefined {
    if (i >= this.next || this.next - i > this.data.length) return undefined;
    return this.data[i % this.data.length];
  }

  argmaxAbs(from: number, to: number): [number, number] | undefined {
    let best: [number, number] | undefined;
    for (let i = from; i <= to; i += 1) {
      const v = this.get(i);
      if (v !== undefined && (best === undefined || Math.abs(v) > Math.abs(best[1]))) best = [i, v];
    }
    return best;
  }
}

class MovingSum {
  private readonly window: number[];
  private position = 0;
  private sum = 0;

  constructor(length: number) {
    this.window = new Array<number>(Math.max(1, length)).fill(0);
  }

  step(x: number): number {
    this.sum += x - (this.window[this.position] ?? 0);
    this.window[this.position] = x;
    this.position += 1;
    if (this.position === this.window.length) {
      this.position = 0;
      this.sum = this.window.reduce((a, b) => a + b, 0);
    }
    return this.sum;
  }
}

class Level {
  private readonly values: number[];
  private next = 0;

  constructor(v: number) {
    this.values = new Array<number>(LEVELS).fill(v);
  }

  push(v: number): void {
    this.values[this.next] = v;
    this.next = (this.next + 1) % LEVELS;
  }

  mean(): number {
    return this.values.reduce((a, b) => a + b, 0) / LEVELS;
  }
}

interface PowerSums {
  count: number;
  x: number;
  x2: number;
  x3: number;
  x4: number;
}

interface Peak {
  index: number;
  height: number;
  slope: number;
  amplitude: number;
  fiducial: number;
}

/** The QRS detector of native/core/src/qrs.rs, in TypeScript (samples in mV). */
export class ReferenceQrsDetector {
  private readonly conditioning: Chain;
  private readonly band: Chain;
  private readonly derivativeScale: number;
  private readonly integration: number;
  private readonly peakTimeout: number;
  private readonly refractory: number;
  private readonly tWaveWindow: number;
  private readonly fiducialDelay: number;
  private readonly fiducialMargin: number;
  private readonly rrMin: number;
  private readonly rrMax: number;
  private readonly learningSamples: number;
  private readonly relearnSamples: number;
  private readonly block: number;

  private index = 0;
  private recent = [0, 0, 0, 0];
  private readonly integrator: MovingSum;
  private readonly bandHistory: History;
  private readonly slopeHistory: History;
  private previousIntegrated = 0;
  private rising: [number, number] | null = null;
  private pending: [number, number] | null = null;
  private qrsLevel = new Level(0);
  private noiseLevel = new Level(0);
  private readonly rrLevel: Level;
  private lastQrs: Peak | null = null;
  private candidates: Peak[] = [];
  private learning = true;
  private lastEvent = 0;
  private lastBeat: number | null = null;
  private blockMin = Number.POSITIVE_INFINITY;
  private blockMax = Number.NEGATIVE_INFINITY;
  private blockFill = 0;
  private flatBlocks = 0;
  /** Power sums of the current block (for the kurtosis quality, as in the native detector). */
  private blockSums: PowerSums = { count: 0, x: 0, x2: 0, x3: 0, x4: 0 };
  private pastSums: PowerSums[] = Array.from({ length: KURTOSIS_BLOCKS }, () => ({ count: 0, x: 0, x2: 0, x3: 0, x4: 0 }));

  constructor(readonly sampleRateHz: number) {
    const fs = sampleRateHz;
    if (!(fs >= 125 && fs <= 1000)) throw new RangeError('sampleRateHz: must be between 125 and 1000');
    this.conditioning = new Chain([Biquad.highpass(fs, BASELINE_CUTOFF_HZ), Biquad.notch(fs, 50, NOTCH_Q), Biquad.notch(fs, 60, NOTCH_Q)]);
    this.band = new Chain([Biquad.highpass(fs, BAND_LOW_HZ), Biquad.lowpass(fs, BAND_HIGH_HZ)]);
    const delay =
      this.conditioning.groupDelaySamples(fs, FIDUCIAL_FREQUENCY_HZ) + this.band.groupDelaySamples(fs, FIDUCIAL_FREQUENCY_HZ) + 2;
    const samples = (s: number): number => Math.round(s * fs);
    this.derivativeScale = fs / 8;
    this.integration = samples(INTEGRATION_S);
    this.peakTimeout = samples(PEAK_TIMEOUT_S);
    this.refractory = samples(REFRACTORY_S);
    this.tWaveWindow = samples(T_WAVE_WINDOW_S);
    this.fiducialDelay = Math.round(Math.max(0, delay));
    this.fiducialMargin = samples(0.05);
    this.rrMin = RR_MIN_S * fs;
    this.rrMax = RR_MAX_S * fs;
    this.learningSamples = samples(LEARNING_S);
    this.relearnSamples = samples(RELEARN_S);
    this.block = samples(FLAT_BLOCK_S);
    this.integrator = new MovingSum(this.integration);
    this.bandHistory = new History(samples(1));
    this.slopeHistory = new History(samples(1));
    this.rrLevel = new Level(RR_INITIAL_S * fs);
  }

  /** Processes a batch; returns the beats decided during it. */
  process(samples: Float32Array): number[] {
    const beats: number[] = [];
    for (const x of samples) this.step(x, beats);
    return beats;
  }

  private step(x: number, beats: number[]): void {
    const n = this.index;
    if (n === 0) this.conditioning.settle(x);
    const clean = this.conditioning.step(x);
    this.blockMin = Math.min(this.blockMin, clean);
    this.blockMax = Math.max(this.blockMax, clean);
    this.blockFill += 1;
    const x2 = clean * clean;
    const sums = this.blockSums;
    sums.count += 1;
    sums.x += clean;
    sums.x2 += x2;
    sums.x3 += x2 * clean;
    sums.x4 += x2 * x2;
    if (this.blockFill >= this.block) {
      this.pastSums.shift();
      this.pastSums.push(sums);
      this.blockSums = { count: 0, x: 0, x2: 0, x3: 0, x4: 0 };
      this.flatBlocks = this.blockMax - this.blockMin < FLAT_AMPLITUDE ? this.flatBlocks + 1 : 0;
      this.blockMin = Number.POSITIVE_INFINITY;
      this.blockMax = Number.NEGATIVE_INFINITY;
      this.blockFill = 0;
    }
    const band = this.band.step(clean);
    const [b1 = 0, b2 = 0, b3 = 0, b4 = 0] = this.recent;
    const derivative = (2 * band + b1 - b3 - 2 * b4) * this.derivativeScale;
    this.recent = [band, b1, b2, b3];
    const integrated = this.integrator.step(derivative * derivative) / this.integration;
    this.bandHistory.push(band);
    this.slopeHistory.push(Math.abs(derivative));
    this.index += 1;

    let emitted: [number, number] | null = null;
    if (this.rising === null) {
      if (integrated > this.previousIntegrated && integrated > 0) this.rising = [n, integrated];
    } else {
      const [at, height] = this.rising;
      if (integrated > height) this.rising = [n, integrated];
      else if (integrated < height / 2 || n - at >= this.peakTimeout) {
        emitted = [at, height];
        this.rising = null;
      }
    }
    this.previousIntegrated = integrated;
    if (emitted !== null) {
      if (this.pending !== null && emitted[0] - this.pending[0] < this.refractory) {
        if (emitted[1] > this.pending[1]) this.pending = emitted;
      } else if (this.pending !== null) {
        this.decidePending(beats);
        this.pending = emitted;
      } else {
        this.pending = emitted;
      }
    }
    if (this.pending !== null && n >= this.pending[0] + this.refractory + this.peakTimeout) this.decidePending(beats);
    this.endOfLearning(beats);
    this.searchBack(beats);
    this.relearn();
  }

  private decidePending(beats: number[]): void {
    if (this.pending === null) return;
    const [index, height] = this.pending;
    this.pending = null;
    // Classified on the amplitude scale, as in qrs.rs (`decide_pending`).
    const peak = this.describe(index, Math.sqrt(height));
    if (this.learning) this.pushCandidate(peak);
    else this.classify(peak, beats);
  }

  private describe(index: number, height: number): Peak {
    const from = Math.max(0, index - this.integration);
    const slopeAt = this.slopeHistory.argmaxAbs(from, index);
    const slope = slopeAt ? Math.abs(slopeAt[1]) : 0;
    const best = this.bandHistory.argmaxAbs(Math.max(0, from - this.fiducialMargin), index);
    const [at, amplitude] = best ? [best[0], Math.abs(best[1])] : [index, 0];
    return { index, height, slope, amplitude, fiducial: Math.max(0, at - this.fiducialDelay) };
  }

  private threshold(): number {
    const noise = this.noiseLevel.mean();
    return noise + THRESHOLD_COEFFICIENT * (this.qrsLevel.mean() - noise);
  }

  private classify(peak: Peak, beats: number[]): void {
    if (peak.amplitude < MIN_QRS_AMPLITUDE) {
      this.noiseLevel.push(peak.height);
      return;
    }
    const sinceLast = this.lastQrs === null ? null : Math.max(0, peak.index - this.lastQrs.index);
    if (sinceLast !== null && sinceLast < this.refractory) {
      this.noiseLevel.push(peak.height);
      return;
    }
    if (peak.height > this.threshold()) {
      const tWave =
        this.lastQrs !== null && sinceLast !== null && sinceLast < this.tWaveWindow && peak.slope < T_WAVE_SLOPE_RATIO * this.lastQrs.slope;
      if (tWave) this.noiseLevel.push(peak.height);
      else this.accept(peak, beats);
    } else {
      this.noiseLevel.push(peak.height);
      this.pushCandidate(peak);
    }
  }

  private pushCandidate(peak: Peak): void {
    if (this.candidates.length >= MAX_CANDIDATES) this.candidates.shift();
    this.candidates.push(peak);
  }

  private accept(peak: Peak, beats: number[]): void {
    this.qrsLevel.push(peak.height);
    if (this.lastQrs !== null) {
      const rr = Math.max(0, peak.index - this.lastQrs.index);
      this.rrLevel.push(Math.min(Math.max(rr, this.rrMin), this.rrMax));
    }
    this.lastQrs = peak;
    this.lastEvent = peak.index;
    this.candidates = this.candidates.filter((c) => c.index > peak.index);
    if (this.lastBeat === null || peak.fiducial > this.lastBeat) {
      this.lastBeat = peak.fiducial;
      beats.push(peak.fiducial);
    }
  }

  private endOfLearning(beats: number[]): void {
    if (!this.learning || this.index < this.learningSamples) return;
    this.learning = false;
    const peaks = this.candidates;
    this.candidates = [];
    const max = peaks.reduce((m, p) => Math.max(m, p.height), 0);
    this.qrsLevel = new Level(max);
    this.noiseLevel = new Level(0);
    this.lastEvent = this.index;
    for (const p of peaks) this.classify(p, beats);
  }

  private searchBack(beats: number[]): void {
    for (;;) {
      const last = this.lastQrs;
      if (last === null) return;
      if (Math.max(0, this.index - 1 - last.index) <= SEARCH_BACK_RR * this.rrLevel.mean()) return;
      const floor = SEARCH_BACK_THRESHOLD * this.threshold();
      let best: Peak | null = null;
      for (const c of this.candidates) {
        if (c.index >= last.index + this.tWaveWindow && c.height > floor && c.amplitude >= MIN_QRS_AMPLITUDE) {
          if (best === null || c.height >= best.height) best = c;
        }
      }
      if (best === null) return;
      this.accept(best, beats);
    }
  }

  private relearn(): void {
    if (this.learning || this.index - this.lastEvent < this.relearnSamples) return;
    const max = this.candidates.reduce((m, p) => Math.max(m, p.height), 0);
    if (max > 0) this.qrsLevel = new Level(max);
    this.lastEvent = this.index;
  }

  /** True once the lead has been flat for two whole 1 s blocks. */
  get leadsOff(): boolean {
    return this.flatBlocks >= 2;
  }
}
