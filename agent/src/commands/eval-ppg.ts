/**
 * `vigil eval ppg [dir] [--json]`: evaluates pulse rate and respiration rate on the BIDMC
 * PPG and Respiration Dataset (default `../shared/data/bidmc` next to the project): every
 * `bidmc_NN` with `_Signals.csv.gz` (or `.csv`), `_Numerics.csv` and `_Breaths.csv`.
 *
 * How the windows are aligned (also printed with the table):
 * - The signals are fed to the native processors in 1 s batches, as a device would send
 *   them. After the batch that ends at second t, the processors' outputs at t use only
 *   samples up to t (causal).
 * - Pulse rate: the PPG processor's pulse rate at t (from the pulses of the last 16 s)
 *   against the monitor's PULSE numeric whose time stamp is t.
 * - Respiration rate: the fused rate at t (impedance signal RESP, PPG modulation as second
 *   source) against the reference at t: for each annotator, 60 x (marks - 1) / (time from
 *   the first to the last mark) over the breath marks in the 32 s ending at t (at least 3
 *   marks), the mean of the two annotators when both have one.
 * - Scored from t = 32 s to the end; a second counts where both the estimate and the
 *   reference exist. MAE is the mean absolute difference; "overall" pools every scored
 *   second of every record. Coverage is the share of reference seconds with an estimate.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { VigilError } from '../errors';
import type { NativeApi } from '../native/addon';
import { loadNative, NativeError } from '../native/addon';

/** First scored second (the respiration window). */
export const SCORED_FROM_S = 32;
/** Respiration reference window, s. */
export const RESP_WINDOW_S = 32;

/** A BIDMC file is missing or malformed. */
export class DatasetError extends VigilError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATASET_INVALID', message, options);
  }
}

/** A parsed CSV: column names (trimmed) and columns of numbers (NaN where not a number). */
export interface Table {
  names: string[];
  columns: Float64Array[];
}

/** Parses a CSV with one header line; empty or non-numeric cells are NaN. */
export function parseCsv(text: string, fileName = 'csv'): Table {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines[0];
  if (header === undefined) throw new DatasetError(`${fileName}: empty file`);
  const names = header.split(',').map((n) => n.trim());
  const rows = lines.length - 1;
  const columns = names.map(() => new Float64Array(rows));
  for (let r = 0; r < rows; r += 1) {
    const cells = (lines[r + 1] ?? '').split(',');
    for (let c = 0; c < names.length; c += 1) {
      const cell = cells[c]?.trim() ?? '';
      const column = columns[c];
      if (column) column[r] = cell === '' ? Number.NaN : Number(cell);
    }
  }
  return { names, columns };
}

function column(table: Table, name: string, fileName: string): Float64Array {
  const index = table.names.indexOf(name);
  const values = table.columns[index];
  if (index < 0 || !values) throw new DatasetError(`${fileName}: no column "${name}"`);
  return values;
}

/** One BIDMC record, loaded. */
export interface BidmcRecord {
  name: string;
  sampleRateHz: number;
  pleth: Float32Array;
  resp: Float32Array;
  /** Monitor PULSE by whole second of its time stamp (NaN where absent). */
  pulseBySecond: Map<number, number>;
  /** Breath marks (sample numbers) of each annotator. */
  breathMarks: number[][];
}

/** Names `bidmc_NN` in `dir` that have signals, numerics and breaths. */
export function listBidmcRecords(dir: string): string[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (err) {
    throw new DatasetError(`${dir}: cannot be read (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const names = new Set<string>();
  for (const f of files) {
    const m = /^(bidmc_\d+)_Signals\.csv(\.gz)?$/.exec(f);
    if (m?.[1] && files.includes(`${m[1]}_Numerics.csv`) && files.includes(`${m[1]}_Breaths.csv`)) names.add(m[1]);
  }
  return [...names].sort();
}

function readTable(file: string): Table {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new DatasetError(`${file}: cannot be read (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const text = file.endsWith('.gz') ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
  return parseCsv(text, file);
}

/** Copies `values` to 32-bit floats, holding the last finite value over gaps (counted). */
function withGapsHeld(values: Float64Array): { samples: Float32Array; gaps: number } {
  const samples = new Float32Array(values.length);
  let last = 0;
  let gaps = 0;
  values.forEach((v, i) => {
    if (Number.isFinite(v)) last = v;
    else gaps += 1;
    samples[i] = last;
  });
  return { samples, gaps };
}

/** Loads `bidmc_NN` from `dir`. */
export function loadBidmcRecord(dir: string, name: string): BidmcRecord {
  const gz = join(dir, `${name}_Signals.csv.gz`);
  const signalsFile = existsSync(gz) ? gz : join(dir, `${name}_Signals.csv`);
  const signals = readTable(signalsFile);
  const time = column(signals, 'Time [s]', signalsFile);
  const step = (time[1] ?? Number.NaN) - (time[0] ?? Number.NaN);
  if (!(step > 0)) throw new DatasetError(`${signalsFile}: the Time column must increase`);
  const sampleRateHz = Math.round(1 / step);
  const numericsFile = join(dir, `${name}_Numerics.csv`);
  const numerics = readTable(numericsFile);
  const numericTime = column(numerics, 'Time [s]', numericsFile);
  const pulse = column(numerics, 'PULSE', numericsFile);
  const pulseBySecond = new Map<number, number>();
  numericTime.forEach((t, i) => {
    if (Number.isFinite(t)) pulseBySecond.set(Math.round(t), pulse[i] ?? Number.NaN);
  });
  const breathsFile = join(dir, `${name}_Breaths.csv`);
  const breaths = readTable(breathsFile);
  const breathMarks = breaths.columns.map((c) => [...c].filter((v) => Number.isFinite(v)));
  return {
    name,
    sampleRateHz,
    pleth: withGapsHeld(column(signals, 'PLETH', signalsFile)).samples,
    resp: withGapsHeld(column(signals, 'RESP', signalsFile)).samples,
    pulseBySecond,
    breathMarks,
  };
}

/** Reference respiration rate at `tS` from breath marks (see the file comment), or null. */
export function referenceRespRate(breathMarks: readonly (readonly number[])[], tS: number, sampleRateHz: number): number | null {
  const rates: number[] = [];
  for (const marks of breathMarks) {
    const inWindow = marks.filter((m) => m / sampleRateHz > tS - RESP_WINDOW_S && m / sampleRateHz <= tS);
    const first = inWindow[0];
    const last = inWindow[inWindow.length - 1];
    if (inWindow.length >= 3 && first !== undefined && last !== undefined && last > first) {
      rates.push((60 * (inWindow.length - 1) * sampleRateHz) / (last - first));
    }
  }
  return rates.length > 0 ? rates.reduce((a, b) => a + b, 0) / rates.length : null;
}

/** Sums for a mean absolute error and a coverage. */
export interface ErrorTally {
  absoluteErrorSum: number;
  compared: number;
  referenceSeconds: number;
}

function tally(): ErrorTally {
  return { absoluteErrorSum: 0, compared: 0, referenceSeconds: 0 };
}

function add(t: ErrorTally, estimate: number | null, reference: number | null): void {
  if (reference === null) return;
  t.referenceSeconds += 1;
  if (estimate === null) return;
  t.absoluteErrorSum += Math.abs(estimate - reference);
  t.compared += 1;
}

function merge(into: ErrorTally, t: ErrorTally): void {
  into.absoluteErrorSum += t.absoluteErrorSum;
  into.compared += t.compared;
  into.referenceSeconds += t.referenceSeconds;
}

function mae(t: ErrorTally): number | null {
  return t.compared > 0 ? t.absoluteErrorSum / t.compared : null;
}

function coverage(t: ErrorTally): number | null {
  return t.referenceSeconds > 0 ? (100 * t.compared) / t.referenceSeconds : null;
}

/** The tallies of one record. */
export interface PpgRecordTallies {
  pulse: ErrorTally;
  resp: ErrorTally;
  respDirect: ErrorTally;
  respPpg: ErrorTally;
}

/** Runs the processors over one record, second by second, and scores them. */
export function evaluateBidmcRecord(native: NativeApi, record: BidmcRecord): PpgRecordTallies {
  const fs = record.sampleRateHz;
  const ppg = native.createPpgProcessor(fs);
  const resp = native.createRespProcessor(fs);
  const result: PpgRecordTallies = { pulse: tally(), resp: tally(), respDirect: tally(), respPpg: tally() };
  const seconds = Math.floor(record.pleth.length / fs);
  for (let s = 0; s < seconds; s += 1) {
    const from = s * fs;
    const p = ppg.process(record.pleth.subarray(from, from + fs));
    const r = resp.process(record.resp.subarray(from, from + fs));
    if (!p.ok) throw new NativeError('NATIVE_CALL', `${record.name}: PPG processor rejected a batch: ${p.error.field} ${p.error.rule}`);
    if (!r.ok) throw new NativeError('NATIVE_CALL', `${record.name}: respiration processor rejected a batch: ${r.error.field} ${r.error.rule}`);
    const t = s + 1;
    if (t < SCORED_FROM_S) continue;
    const fused = native.fuseRespRate(
      { respRatePerMin: r.respRatePerMin, quality: r.quality },
      { respRatePerMin: p.respRatePerMin, quality: p.respQuality },
    );
    const monitorPulse = record.pulseBySecond.get(t);
    add(result.pulse, p.pulseRateBpm, monitorPulse !== undefined && Number.isFinite(monitorPulse) && monitorPulse > 0 ? monitorPulse : null);
    const reference = referenceRespRate(record.breathMarks, t, fs);
    add(result.resp, fused.respRatePerMin, reference);
    add(result.respDirect, r.quality >= 0.5 ? r.respRatePerMin : null, reference);
    add(result.respPpg, p.respQuality >= 0.5 ? p.respRatePerMin : null, reference);
  }
  return result;
}

function fmt(value: number | null, digits = 2): string {
  return value === null ? '-' : value.toFixed(digits);
}

/** Runs the command; returns the exit code. */
export async function runEvalPpg(dir: string, options: { json: boolean }, out: Writable): Promise<number> {
  const native = loadNative();
  const names = listBidmcRecords(dir);
  if (names.length === 0) throw new DatasetError(`${dir}: no bidmc_NN record with _Signals.csv(.gz), _Numerics.csv and _Breaths.csv`);
  const overall: PpgRecordTallies = { pulse: tally(), resp: tally(), respDirect: tally(), respPpg: tally() };
  const records = names.map((name) => {
    const t = evaluateBidmcRecord(native, loadBidmcRecord(dir, name));
    merge(overall.pulse, t.pulse);
    merge(overall.resp, t.resp);
    merge(overall.respDirect, t.respDirect);
    merge(overall.respPpg, t.respPpg);
    return {
      record: name,
      pulseMaePerMin: mae(t.pulse),
      pulseCoveragePercent: coverage(t.pulse),
      respMaePerMin: mae(t.resp),
      respCoveragePercent: coverage(t.resp),
      respDirectMaePerMin: mae(t.respDirect),
      respPpgMaePerMin: mae(t.respPpg),
      respPpgCoveragePercent: coverage(t.respPpg),
    };
  });
  const summary = {
    pulseMaePerMin: mae(overall.pulse),
    respMaePerMin: mae(overall.resp),
    pulseCoveragePercent: coverage(overall.pulse),
    respCoveragePercent: coverage(overall.resp),
    respDirectMaePerMin: mae(overall.respDirect),
    respDirectCoveragePercent: coverage(overall.respDirect),
    respPpgMaePerMin: mae(overall.respPpg),
    respPpgCoveragePercent: coverage(overall.respPpg),
  };
  const alignment =
    'causal, 1 s batches; at each second t from 32 s: pulse rate (last 16 s of pulses) vs the monitor PULSE stamped t; ' +
    'fused respiration rate vs the mean of the annotators\' rates from their breath marks in the 32 s ending at t';
  if (options.json) {
    out.write(`${JSON.stringify({ records, overall: summary, alignment })}\n`);
    return 0;
  }
  const lines = [
    `Pulse and respiration rate on ${dir} (${names.length} records).`,
    `Alignment: ${alignment}. MAE in /min; cover = share of reference seconds with an estimate;`,
    'overall pools every scored second. resp = fused (impedance first, PPG modulation second); direct = impedance only; ppg = PPG modulation only.',
    '',
    'record     pulse MAE cover%  resp MAE cover%  direct MAE  ppg MAE cover%',
    ...records.map(
      (r) =>
        `${r.record.padEnd(10)} ${fmt(r.pulseMaePerMin).padStart(9)} ${fmt(r.pulseCoveragePercent, 0).padStart(6)} ${fmt(r.respMaePerMin).padStart(9)} ${fmt(r.respCoveragePercent, 0).padStart(6)} ${fmt(r.respDirectMaePerMin).padStart(11)} ${fmt(r.respPpgMaePerMin).padStart(8)} ${fmt(r.respPpgCoveragePercent, 0).padStart(6)}`,
    ),
    `${'overall'.padEnd(10)} ${fmt(summary.pulseMaePerMin).padStart(9)} ${fmt(summary.pulseCoveragePercent, 0).padStart(6)} ${fmt(summary.respMaePerMin).padStart(9)} ${fmt(summary.respCoveragePercent, 0).padStart(6)} ${fmt(summary.respDirectMaePerMin).padStart(11)} ${fmt(summary.respPpgMaePerMin).padStart(8)} ${fmt(summary.respPpgCoveragePercent, 0).padStart(6)}`,
    '',
    `targets: pulse MAE <= 2 /min: ${summary.pulseMaePerMin !== null && summary.pulseMaePerMin <= 2 ? 'met' : 'NOT met'}; ` +
      `resp MAE <= 2 /min: ${summary.respMaePerMin !== null && summary.respMaePerMin <= 2 ? 'met' : 'NOT met'}`,
  ];
  out.write(`${lines.join('\n')}\n`);
  return 0;
}
