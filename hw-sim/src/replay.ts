/**
 * Recordings replayed through hw-sim's sensor patch instead of the synthetic model, so that
 * the agent's whole chain can be run on real physiology:
 *
 * - `mitdb:<record>`: an MIT-BIH Arrhythmia Database record (WFDB, read by hw-sim's own
 *   reader, ./wfdb.ts). Its first signal (MLII, 360 Hz, mV) becomes the patch's
 *   ECG, resampled by linear interpolation to the patch's rate. The record has no PPG or
 *   respiration: those channels come from the model, at the heart rate of the record's
 *   annotated beats (the ground truth reported: 60 / mean RR of the annotated beats of the
 *   last 10 s), and the scenario's SpO2 and respiration rate.
 * - `bidmc:<dir>/bidmc_NN`: a BIDMC PPG and Respiration record (125 Hz): ECG lead II, PLETH
 *   and RESP (impedance). PLETH becomes the infrared intensity (a pulse makes it fall), the
 *   red channel is made from it with the ratio of ratios of the monitor's SpO2 at that second
 *   (through the documented calibration curve: the recording has one wavelength only), and
 *   RESP becomes the chest tilt on the accelerometer's sternum axis. The ground truth is the
 *   bedside monitor's HR, SpO2 and RESP numerics (a reference, not a truth: see
 *   ../shared/data/README.md).
 *
 * A record is played from its start and loops at its end. Neither is needed by `make test`.
 */
import { basename, dirname } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { readBeatSamples, readFirstSignal } from './wfdb';
import type { SignalSource } from './devices/vigil-patch';
import { DEFAULT_SPO2_CURVE, PhysiologyModel, ratioForSpo2, type ChannelRates, type PhysiologyBlock, type PhysiologyState } from './signals';

export interface ReplaySpec {
  kind: 'mitdb' | 'bidmc';
  /** mitdb: record path without extension; bidmc: <dir>/bidmc_NN. */
  path: string;
}

/** Linear interpolation of `x` (sampled at `fs`) at time `tS`, looping over the record. */
function at(x: Float32Array | Float64Array, fs: number, tS: number): number {
  const n = x.length;
  if (n === 0) return 0;
  const pos = (((tS * fs) % n) + n) % n;
  const i = Math.floor(pos);
  const frac = pos - i;
  const a = x[i] ?? 0;
  const b = x[(i + 1) % n] ?? a;
  return a + (b - a) * frac;
}

function quantile(x: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(x).filter((v) => Number.isFinite(v)).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))] ?? 0;
}

function resample(x: Float32Array | Float64Array, fs: number, t0S: number, durationS: number, rateHz: number): Float64Array {
  const n = Math.round(durationS * rateHz);
  return Float64Array.from({ length: n }, (_, i) => at(x, fs, t0S + i / rateHz));
}

/** Heart rate from the record's beat times (s) in the 10 s before `tS` (looping), or null. */
function rateFromBeats(beatsS: readonly number[], tS: number, periodS: number): number | null {
  const local = ((tS % periodS) + periodS) % periodS;
  // The 10 s before t; in the first 10 s of the record, its first 10 s.
  const to = Math.max(local, Math.min(10, periodS));
  const recent = beatsS.filter((b) => b > to - 10 && b <= to);
  if (recent.length < 3) return null;
  const first = recent[0] ?? 0;
  const last = recent[recent.length - 1] ?? 0;
  return (60 * (recent.length - 1)) / (last - first);
}

export class MitdbReplay implements SignalSource {
  private readonly ecgMv: Float32Array;
  private readonly fs: number;
  private readonly beatsS: number[];
  private readonly model: PhysiologyModel;

  constructor(path: string, seed: number) {
    const record = readFirstSignal(path);
    this.fs = record.sampleRateHz;
    this.ecgMv = record.physical;
    this.beatsS = readBeatSamples(path).map((sample) => sample / this.fs);
    this.model = new PhysiologyModel({ seed });
  }

  truthAt(tS: number): Partial<PhysiologyState> {
    const rate = rateFromBeats(this.beatsS, tS, this.ecgMv.length / this.fs);
    return rate === null ? {} : { heartRateBpm: rate };
  }

  block(t0S: number, durationS: number, state: PhysiologyState, rates: ChannelRates): PhysiologyBlock {
    const modelled = this.model.block(t0S, durationS, state, rates);
    const ecgMv = state.leadOff ? new Float64Array(modelled.ecgMv.length) : resample(this.ecgMv, this.fs, t0S, durationS, rates.ecg);
    return { ...modelled, ecgMv };
  }
}

function csvColumns(text: string): Map<string, Float64Array> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const names = (lines[0] ?? '').split(',').map((s) => s.trim());
  const columns = names.map(() => new Float64Array(lines.length - 1));
  for (let r = 1; r < lines.length; r++) {
    const cells = (lines[r] ?? '').split(',');
    names.forEach((_, c) => {
      const col = columns[c];
      const cell = cells[c]?.trim() ?? '';
      if (col) col[r - 1] = cell === '' ? Number.NaN : Number(cell);
    });
  }
  return new Map(names.map((n, i) => [n, columns[i] ?? new Float64Array(0)]));
}

function readCsv(file: string): Map<string, Float64Array> {
  const bytes = readFileSync(file);
  return csvColumns(file.endsWith('.gz') ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8'));
}

function holdGaps(x: Float64Array): Float64Array {
  let last = 0;
  return x.map((v) => {
    if (Number.isFinite(v)) last = v;
    return last;
  });
}

const IR_DC_COUNTS = 1_500_000;
const RED_DC_COUNTS = 1_000_000;

export class BidmcReplay implements SignalSource {
  private readonly fs: number;
  private readonly ecg: Float64Array;
  private readonly pleth: Float64Array;
  private readonly resp: Float64Array;
  private readonly numerics: Map<string, Float64Array>;
  private readonly model: PhysiologyModel;

  constructor(path: string, seed: number) {
    const dir = dirname(path);
    const name = basename(path);
    const gz = `${path}_Signals.csv.gz`;
    const signals = readCsv(existsSync(gz) ? gz : `${path}_Signals.csv`);
    const time = signals.get('Time [s]') ?? new Float64Array(0);
    this.fs = Math.round(1 / ((time[1] ?? 1) - (time[0] ?? 0)));
    const norm = (x: Float64Array, targetAmplitude: number): Float64Array => {
      const median = quantile(x, 0.5);
      const spread = quantile(x, 0.995) - quantile(x, 0.005) || 1;
      return x.map((v) => ((v - median) / spread) * targetAmplitude);
    };
    // ECG lead II to about 1.2 mV peak to peak; PLETH and RESP to unit spread.
    this.ecg = norm(holdGaps(signals.get('II') ?? new Float64Array(0)), 1.2);
    this.pleth = norm(holdGaps(signals.get('PLETH') ?? new Float64Array(0)), 1);
    this.resp = norm(holdGaps(signals.get('RESP') ?? new Float64Array(0)), 1);
    this.numerics = readCsv(`${dir}/${name}_Numerics.csv`);
    this.model = new PhysiologyModel({ seed });
  }

  private numeric(column: string, tS: number): number | null {
    const values = this.numerics.get(column);
    if (!values || values.length === 0) return null;
    const i = Math.floor(((tS % values.length) + values.length) % values.length);
    const v = values[i];
    return v !== undefined && Number.isFinite(v) && v > 0 ? v : null;
  }

  truthAt(tS: number): Partial<PhysiologyState> {
    const truth: Partial<PhysiologyState> = {};
    const hr = this.numeric('HR', tS);
    const spo2 = this.numeric('SpO2', tS);
    const rr = this.numeric('RESP', tS);
    if (hr !== null) truth.heartRateBpm = hr;
    if (spo2 !== null) truth.spo2Percent = spo2;
    if (rr !== null) truth.respRatePerMin = rr;
    return truth;
  }

  block(t0S: number, durationS: number, state: PhysiologyState, rates: ChannelRates): PhysiologyBlock {
    const modelled = this.model.block(t0S, durationS, state, rates);
    const ecgMv = state.leadOff ? new Float64Array(modelled.ecgMv.length) : resample(this.ecg, this.fs, t0S, durationS, rates.ecg);
    const ratio = ratioForSpo2(state.spo2Percent, DEFAULT_SPO2_CURVE) ?? 1;
    const ac = state.perfusionIndexPercent / 100;
    const pleth = resample(this.pleth, this.fs, t0S, durationS, rates.ppg);
    const ir = state.probeOff ? modelled.ir : pleth.map((p) => IR_DC_COUNTS * (1 - ac * p));
    const red = state.probeOff ? modelled.red : pleth.map((p) => RED_DC_COUNTS * (1 - ratio * ac * p));
    // Impedance respiration as the chest's tilt: about +-5 mg on the sternum axis.
    const resp = resample(this.resp, this.fs, t0S, durationS, rates.accel);
    // The model's x axis (sensor noise, and movement when the scenario moves) stands in for
    // the sternum axis's own noise: the model's breathing is replaced by the recording's.
    const y = modelled.accelMg.x.map((noise, i) => 1000 * Math.sin(Math.PI / 6) + 5 * (resp[i] ?? 0) + noise);
    return { ecgMv, ir, red, accelMg: { ...modelled.accelMg, y } };
  }
}

/** Opens the recording named by `spec`; throws (WfdbReadError, a file error) when it cannot be read. */
export function openReplay(spec: ReplaySpec, seed: number): SignalSource {
  return spec.kind === 'mitdb' ? new MitdbReplay(spec.path, seed) : new BidmcReplay(spec.path, seed);
}
