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
 * - Respiration rate: the rate fused from what the record contains (`fuseRespSources`: the
 *   impedance signal RESP when present and of good quality, otherwise the modulations of
 *   ECG lead II and of the PPG) against the reference at t: for each annotator,
 *   60 x (marks - 1) / (time from the first to the last mark) over the breath marks in the
 *   32 s ending at t (at least 3 marks), the mean of the two annotators when both have one.
 *   Scored separately: the impedance-free fusion (ECG and PPG only, what the patch has), and
 *   each source alone (impedance, ECG modulations, PPG modulations).
 * - Scored from t = 32 s to the end; a second counts where both the estimate and the
 *   reference exist. MAE is the mean absolute difference over the published values only;
 *   "overall" pools every scored second of every record. Coverage is the share of reference
 *   seconds with a published value; the rest were withdrawn, counted by reason. Within 2 is
 *   the share of published values within 2 /min of the reference.
 * - Records without a RESP (or without a II) column are evaluated with what they have.
 *
 * The text and the `--json` output are formatted in eval-ppg-report.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { VigilError } from '../errors';
import type { ModulationResp, NativeApi, RespSourceInput, SignalRejected } from '../native/addon';
import { loadNative, NativeError } from '../native/addon';
import type { PpgOverall, PpgRecordRow, PpgReport, PpgRespSummary } from './eval-ppg-report';
import { formatPpgText } from './eval-ppg-report';

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

function optionalColumn(table: Table, name: string): Float64Array | null {
  const index = table.names.indexOf(name);
  return index < 0 ? null : (table.columns[index] ?? null);
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
  /** Impedance respiration, `null` when the record has no RESP column (a patch has none). */
  resp: Float32Array | null;
  /** ECG lead II, `null` when the record has no II column. */
  ecg: Float32Array | null;
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
  const resp = optionalColumn(signals, 'RESP');
  const ecg = optionalColumn(signals, 'II');
  return {
    name,
    sampleRateHz,
    pleth: withGapsHeld(column(signals, 'PLETH', signalsFile)).samples,
    resp: resp === null ? null : withGapsHeld(resp).samples,
    ecg: ecg === null ? null : withGapsHeld(ecg).samples,
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

/** Sums for a mean absolute error, a coverage, and the withdrawals by reason. */
export interface ErrorTally {
  absoluteErrorSum: number;
  compared: number;
  /** Published values within 2 /min of the reference. */
  withinTwo: number;
  referenceSeconds: number;
  /** Reference seconds without a published value, by the reason given. */
  withdrawn: Record<string, number>;
}

function tally(): ErrorTally {
  return { absoluteErrorSum: 0, compared: 0, withinTwo: 0, referenceSeconds: 0, withdrawn: {} };
}

function add(t: ErrorTally, estimate: number | null, reference: number | null, reason = 'unavailable'): void {
  if (reference === null) return;
  t.referenceSeconds += 1;
  if (estimate === null) {
    t.withdrawn[reason] = (t.withdrawn[reason] ?? 0) + 1;
    return;
  }
  const error = Math.abs(estimate - reference);
  t.absoluteErrorSum += error;
  t.compared += 1;
  if (error <= 2) t.withinTwo += 1;
}

function merge(into: ErrorTally, t: ErrorTally): void {
  into.absoluteErrorSum += t.absoluteErrorSum;
  into.compared += t.compared;
  into.withinTwo += t.withinTwo;
  into.referenceSeconds += t.referenceSeconds;
  for (const [reason, n] of Object.entries(t.withdrawn)) into.withdrawn[reason] = (into.withdrawn[reason] ?? 0) + n;
}

function mae(t: ErrorTally): number | null {
  return t.compared > 0 ? t.absoluteErrorSum / t.compared : null;
}

function coverage(t: ErrorTally): number | null {
  return t.referenceSeconds > 0 ? (100 * t.compared) / t.referenceSeconds : null;
}

function median(values: number[]): number | null {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return null;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? null) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The respiration figures of one source over a set of records. */
export interface RespFigures {
  /** MAE over the published values, /min. */
  maePerMin: number | null;
  /** Share of reference seconds with a published value, 0 to 1. */
  coverage: number | null;
  /** Share of published values within 2 /min of the reference, 0 to 1. */
  withinTwoShare: number | null;
  /** Median of the records' MAEs (records with at least one published value), /min. */
  medianRecordMaePerMin: number | null;
  /** Reference seconds without a value, by reason. */
  withdrawn: Record<string, number>;
  referenceSeconds: number;
}

/** Pools `tallies` (one per record) into figures. */
export function respFigures(tallies: readonly ErrorTally[]): RespFigures {
  const pooled = tally();
  for (const t of tallies) merge(pooled, t);
  const perRecord = tallies.map(mae).filter((m): m is number => m !== null);
  return {
    maePerMin: mae(pooled),
    coverage: pooled.referenceSeconds > 0 ? pooled.compared / pooled.referenceSeconds : null,
    withinTwoShare: pooled.compared > 0 ? pooled.withinTwo / pooled.compared : null,
    medianRecordMaePerMin: median(perRecord),
    withdrawn: pooled.withdrawn,
    referenceSeconds: pooled.referenceSeconds,
  };
}

/** The tallies of one record. */
export interface PpgRecordTallies {
  pulse: ErrorTally;
  /** Fused from what the record contains (impedance first when present). */
  resp: ErrorTally;
  /** Fused from ECG and PPG only (the impedance channel excluded). */
  respImpedanceFree: ErrorTally;
  respDirect: ErrorTally;
  respEcg: ErrorTally;
  respPpg: ErrorTally;
}

const RESP_KEYS = ['resp', 'respImpedanceFree', 'respDirect', 'respEcg', 'respPpg'] as const;

function recordTallies(): PpgRecordTallies {
  return { pulse: tally(), resp: tally(), respImpedanceFree: tally(), respDirect: tally(), respEcg: tally(), respPpg: tally() };
}

/** Runs the processors over one record, second by second, and scores them. */
export function evaluateBidmcRecord(native: NativeApi, record: BidmcRecord): PpgRecordTallies {
  const fs = record.sampleRateHz;
  const ppg = native.createPpgProcessor(fs);
  const resp = record.resp === null ? null : native.createRespProcessor(fs);
  const qrs = record.ecg === null ? null : native.createQrsDetector(fs);
  const ecgResp = record.ecg === null ? null : native.createEcgRespProcessor(fs);
  const result = recordTallies();
  const seconds = Math.floor(record.pleth.length / fs);
  const rejected = (what: string, e: SignalRejected): NativeError =>
    new NativeError('NATIVE_CALL', `${record.name}: ${what} processor rejected a batch: ${e.error.field} ${e.error.rule}`);
  for (let s = 0; s < seconds; s += 1) {
    const from = s * fs;
    const p = ppg.process(record.pleth.subarray(from, from + fs));
    if (!p.ok) throw rejected('PPG', p);
    let direct: RespSourceInput | undefined;
    if (resp !== null && record.resp !== null) {
      const r = resp.process(record.resp.subarray(from, from + fs));
      if (!r.ok) throw rejected('respiration', r);
      direct = { respRatePerMin: r.respRatePerMin, quality: r.quality };
    }
    let ecgEstimate: ModulationResp | undefined;
    if (qrs !== null && ecgResp !== null && record.ecg !== null) {
      const lead = record.ecg.subarray(from, from + fs);
      const q = qrs.process(lead);
      if (!q.ok) throw rejected('QRS', q);
      const e = ecgResp.process(lead, q.beatSampleIndexes);
      if (!e.ok) throw rejected('ECG respiration', e);
      ecgEstimate = e;
    }
    const t = s + 1;
    if (t < SCORED_FROM_S) continue;
    const modulations = { ...(ecgResp === null ? {} : { ecg: ecgResp }), ppg };
    const fused = native.fuseRespSources({ ...(direct === undefined ? {} : { direct }), ...modulations });
    const impedanceFree = native.fuseRespSources(modulations);
    const monitorPulse = record.pulseBySecond.get(t);
    add(result.pulse, p.pulseRateBpm, monitorPulse !== undefined && Number.isFinite(monitorPulse) && monitorPulse > 0 ? monitorPulse : null);
    const reference = referenceRespRate(record.breathMarks, t, fs);
    add(result.resp, fused.respRatePerMin, reference, fused.status);
    add(result.respImpedanceFree, impedanceFree.respRatePerMin, reference, impedanceFree.status);
    if (direct !== undefined) add(result.respDirect, direct.quality >= 0.5 ? direct.respRatePerMin : null, reference, 'low-quality');
    if (ecgEstimate !== undefined) add(result.respEcg, ecgEstimate.respRatePerMin, reference, ecgEstimate.status);
    add(result.respPpg, p.respRatePerMin, reference, 'low-quality');
  }
  return result;
}

/** How the estimates and the references are aligned in time (see the file comment); printed with the figures. */
const ALIGNMENT =
  'causal, 1 s batches; at each second t from 32 s: pulse rate (last 16 s of pulses) vs the monitor PULSE stamped t; ' +
  'respiration rates vs the mean of the annotators\' rates from their breath marks in the 32 s ending at t';

/** The figures of one record's tallies (or of the tallies pooled over every record). */
function recordRow(record: string, t: PpgRecordTallies): PpgRecordRow {
  return {
    record,
    pulseMaePerMin: mae(t.pulse),
    pulseCoveragePercent: coverage(t.pulse),
    respMaePerMin: mae(t.resp),
    respCoveragePercent: coverage(t.resp),
    respImpedanceFreeMaePerMin: mae(t.respImpedanceFree),
    respImpedanceFreeCoveragePercent: coverage(t.respImpedanceFree),
    respDirectMaePerMin: mae(t.respDirect),
    respEcgMaePerMin: mae(t.respEcg),
    respPpgMaePerMin: mae(t.respPpg),
    respPpgCoveragePercent: coverage(t.respPpg),
  };
}

/** The tallies of every record pooled. */
function poolTallies(all: readonly PpgRecordTallies[]): PpgRecordTallies {
  const overall = recordTallies();
  for (const t of all) {
    merge(overall.pulse, t.pulse);
    for (const key of RESP_KEYS) merge(overall[key], t[key]);
  }
  return overall;
}

/** The respiration figures per source over every record, and the impedance-free ones on parts of the records. */
function respSummary(all: readonly PpgRecordTallies[]): PpgRespSummary {
  const figures = (key: (typeof RESP_KEYS)[number], from = 0, to = all.length): RespFigures => respFigures(all.slice(from, to).map((t) => t[key]));
  const half = Math.ceil(all.length / 2);
  return {
    fused: figures('resp'),
    impedanceFree: figures('respImpedanceFree'),
    impedance: figures('respDirect'),
    ecg: figures('respEcg'),
    ppg: figures('respPpg'),
    // Leave-out check: the same figures on the first and the second half of the records.
    impedanceFreeFirstHalf: figures('respImpedanceFree', 0, half),
    impedanceFreeSecondHalf: figures('respImpedanceFree', half),
    // And interleaved: every other record from the first, and from the second.
    impedanceFreeOddRecords: respFigures(all.filter((_, i) => i % 2 === 0).map((t) => t.respImpedanceFree)),
    impedanceFreeEvenRecords: respFigures(all.filter((_, i) => i % 2 === 1).map((t) => t.respImpedanceFree)),
  };
}

/** The overall figures: from the pooled tallies `overall` and the respiration summary `resp`. */
function overallFigures(overall: PpgRecordTallies, resp: PpgRespSummary): PpgOverall {
  return {
    pulseMaePerMin: mae(overall.pulse),
    respMaePerMin: mae(overall.resp),
    respCoverage: resp.fused.coverage,
    pulseCoveragePercent: coverage(overall.pulse),
    respCoveragePercent: coverage(overall.resp),
    respMedianRecordMaePerMin: resp.fused.medianRecordMaePerMin,
    respImpedanceFreeMaePerMin: resp.impedanceFree.maePerMin,
    respImpedanceFreeCoverage: resp.impedanceFree.coverage,
    respDirectMaePerMin: mae(overall.respDirect),
    respDirectCoveragePercent: coverage(overall.respDirect),
    respPpgMaePerMin: mae(overall.respPpg),
    respPpgCoveragePercent: coverage(overall.respPpg),
    resp,
  };
}

/** Runs the command; returns the exit code. */
export async function runEvalPpg(dir: string, options: { json: boolean }, out: Writable): Promise<number> {
  const native = loadNative();
  const names = listBidmcRecords(dir);
  if (names.length === 0) throw new DatasetError(`${dir}: no bidmc_NN record with _Signals.csv(.gz), _Numerics.csv and _Breaths.csv`);
  const all: PpgRecordTallies[] = [];
  const records = names.map((name) => {
    const t = evaluateBidmcRecord(native, loadBidmcRecord(dir, name));
    all.push(t);
    return recordRow(name, t);
  });
  const overall = poolTallies(all);
  const report: PpgReport = { records, overall: overallFigures(overall, respSummary(all)), alignment: ALIGNMENT };
  out.write(options.json ? `${JSON.stringify(report)}\n` : formatPpgText(dir, report, recordRow('overall', overall)));
  return 0;
}
