/**
 * `vigil eval qrs [dir] [--json]`: evaluates the native QRS detector on the WFDB records
 * listed in `<dir>/RECORDS` (default `../shared/data/mitdb` next to the project), against
 * their `.atr` reference annotations, as ANSI/AAMI EC57 prescribes and WFDB `bxb`
 * implements:
 * - only beat annotations are reference beats (WFDB `isqrs`, see `isBeat`);
 * - scoring starts 5 minutes into each record (the detector's learning is not scored);
 * - a detection matches a reference beat within 150 ms, by bxb's pairing rule (each
 *   reference and each detection is used once; of two candidates the nearer wins);
 * - reference beats inside ventricular flutter/fibrillation episodes (`[` to `]`) are not
 *   scored, nor are detections during them;
 * - Se = TP / (TP + FN), +P = TP / (TP + FP), per record and gross (sums over records).
 *
 * At the end of a record the detector is flushed: its last sample is held for the detector's
 * maximum delay, so that the beats of the record's last half second are decided (a streaming
 * detector decides a beat some 0.4 s after it); beats placed after the record's end are dropped.
 *
 * It also reports the heart rate the detector publishes against the same rule applied to
 * the reference beats (mean absolute difference over the seconds with a published rate, and
 * the share of seconds with a rate), and how often the rate was withdrawn, by reason (`noisy`:
 * the ECG quality was below the limit; `leads-off`; `no-rate`: too few recent beats;
 * `learning`).
 *
 * `--peer gqrs` runs PhysioNet's gqrs on the same records through the same scorer
 * (eval-qrs-peer.ts); `--noise` runs the noise stress test (eval-qrs-noise.ts). The text and
 * the `--json` output are formatted in eval-qrs-report.ts.
 */
import type { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WfdbAnnotation } from '../io/wfdb';
import { ANNOTATION_CODES, isBeat, readAnnotations, readRecord, WfdbError } from '../io/wfdb';
import type { NativeApi } from '../native/addon';
import { loadNative, NativeError } from '../native/addon';
import type { EcgStatus } from '../native/signal-processing';
import { PROJECT_ROOT } from '../paths';
import type { NoiseKind } from './eval-qrs-noise';
import { NOISE_KINDS, NOISE_SNR_DB, addNoise, generateNoise, noiseGain, noiseOn, noiseRms, qrsPeakToPeak } from './eval-qrs-noise';
import type { PeerEnvironment } from './eval-qrs-peer';
import { preparePeerEnvironment, runGqrs, WFDB_PY_VERSION } from './eval-qrs-peer';
import type { HeartRateReport, QrsReport } from './eval-qrs-report';
import { formatQrsText, targetMet } from './eval-qrs-report';

/** EC57 match window, s. */
export const MATCH_WINDOW_S = 0.15;
/** EC57 start of scoring, s. */
export const SCORING_START_S = 300;

/** Counts of one comparison. */
export interface BeatCounts {
  truePositives: number;
  falseNegatives: number;
  falsePositives: number;
}

/** One record's result. */
export interface QrsRecordResult extends BeatCounts {
  record: string;
  sensitivityPercent: number | null;
  positivePredictivityPercent: number | null;
}

/**
 * Compares detections with reference annotations (see the file comment). `detected` must be
 * increasing sample indexes.
 */
export function compareBeats(
  reference: readonly WfdbAnnotation[],
  detected: readonly number[],
  sampleRateHz: number,
  options: { startS?: number; windowS?: number } = {},
): BeatCounts {
  const start = Math.round((options.startS ?? SCORING_START_S) * sampleRateHz);
  const window = Math.round((options.windowS ?? MATCH_WINDOW_S) * sampleRateHz);
  // Reference beats outside VF episodes, and the episodes themselves.
  const refs: number[] = [];
  const episodes: [number, number][] = [];
  let vfStart: number | null = null;
  for (const a of reference) {
    if (a.code === ANNOTATION_CODES.vfOn) vfStart = a.sample;
    else if (a.code === ANNOTATION_CODES.vfOff) {
      if (vfStart !== null) episodes.push([vfStart, a.sample]);
      vfStart = null;
    } else if (vfStart === null && isBeat(a.code) && a.sample >= start) refs.push(a.sample);
  }
  if (vfStart !== null) episodes.push([vfStart, Number.POSITIVE_INFINITY]);
  const inVf = (t: number): boolean => episodes.some(([from, to]) => from <= t && t <= to);
  // Detections from one window before the start: one of them may match the first reference beat.
  const tests = detected.filter((t) => t >= start - window);
  const far = Number.MAX_SAFE_INTEGER;
  const ref = (k: number): number => refs[k] ?? far;
  const test = (k: number): number => tests[k] ?? far;
  let i = 0;
  let j = 0;
  const counts: BeatCounts = { truePositives: 0, falseNegatives: 0, falsePositives: 0 };
  while (i < refs.length || j < tests.length) {
    const T = ref(i);
    const t = test(j);
    if (t < T) {
      // The detection comes first: it matches T if within the window and no better paired
      // with T than the next detection is (bxb's case 1, with its 2002 tie rule).
      const next = test(j + 1);
      if (T - t <= window && (T - t < Math.abs(T - next) || Math.abs(ref(i + 1) - next) < Math.abs(T - next))) {
        counts.truePositives += 1;
        i += 1;
      } else if (t >= start && !inVf(t)) {
        counts.falsePositives += 1;
      }
      j += 1;
    } else {
      const next = ref(i + 1);
      if (t - T <= window && (t - T < Math.abs(t - next) || Math.abs(test(j + 1) - next) < Math.abs(t - next))) {
        counts.truePositives += 1;
        j += 1;
      } else {
        counts.falseNegatives += 1;
      }
      i += 1;
    }
  }
  return counts;
}

function percent(numerator: number, denominator: number): number | null {
  return denominator > 0 ? (100 * numerator) / denominator : null;
}

/** Heart rate agreement of one record: sums for the gross figure. */
interface RateAgreement {
  absoluteErrorSum: number;
  compared: number;
  seconds: number;
  secondsWithRate: number;
  /** Seconds (from the scoring start) by the detector's status at their end. */
  byStatus: Record<EcgStatus, number>;
}

function emptyRates(): RateAgreement {
  return { absoluteErrorSum: 0, compared: 0, seconds: 0, secondsWithRate: 0, byStatus: { ok: 0, learning: 0, 'leads-off': 0, noisy: 0, 'no-rate': 0 } };
}

/**
 * Decides the beats still pending at the end of a record: holds its last sample for the
 * detector's maximum delay and keeps the beats placed before the record's end.
 */
function flushRecordEnd(detector: ReturnType<NativeApi['createQrsDetector']>, samples: Float32Array, name: string): number[] {
  const hold = new Float32Array(detector.maxDelaySamples).fill(samples[samples.length - 1] ?? 0);
  const out = detector.process(hold);
  if (!out.ok) throw new NativeError('NATIVE_CALL', `${name}: QRS detector rejected the end-of-record flush: ${out.error.field} ${out.error.rule}`);
  return Array.from(out.beatSampleIndexes).filter((b) => b < samples.length);
}

/** What `detectBeats` found, and the heart rate in the 1 s batches its `counted` selected. */
export interface DetectionRun {
  beats: number[];
  /** Batches counted, those with the rate withdrawn, and the rate's error where published. */
  seconds: number;
  withdrawnSeconds: number;
  absoluteErrorSum: number;
  compared: number;
}

/**
 * The detector's beats on `samples`, fed in 1 s batches and flushed at the end; for the 1 s
 * batches whose end `counted` selects, whether the heart rate was withdrawn and, where it was
 * published, its error against `referenceRate` on `referenceBeats`.
 */
export function detectBeats(
  native: NativeApi,
  samples: Float32Array,
  sampleRateHz: number,
  name: string,
  counted: (endSample: number) => boolean = () => false,
  referenceBeats: readonly number[] = [],
): DetectionRun {
  const detector = native.createQrsDetector(sampleRateHz);
  const second = Math.max(1, Math.round(sampleRateHz));
  const run: DetectionRun = { beats: [], seconds: 0, withdrawnSeconds: 0, absoluteErrorSum: 0, compared: 0 };
  for (let at = 0; at < samples.length; at += second) {
    const out = detector.process(samples.subarray(at, at + second));
    if (!out.ok) throw new NativeError('NATIVE_CALL', `${name}: QRS detector rejected a batch: ${out.error.field} ${out.error.rule}`);
    for (const b of out.beatSampleIndexes) run.beats.push(b);
    const now = Math.min(at + second, samples.length);
    if (!counted(now)) continue;
    run.seconds += 1;
    if (out.heartRateBpm === null) {
      run.withdrawnSeconds += 1;
      continue;
    }
    const reference = referenceRate(referenceBeats, now - detector.typicalDelaySamples, sampleRateHz);
    if (reference !== null) {
      run.absoluteErrorSum += Math.abs(out.heartRateBpm - reference);
      run.compared += 1;
    }
  }
  run.beats.push(...flushRecordEnd(detector, samples, name));
  return run;
}

/**
 * Detects the beats of one record and compares them; also compares the heart rate the
 * detector reports at the end of every 1 s batch with the rate the same rule gives on the
 * reference beats up to that time (from the scoring start).
 */
export function evaluateRecord(native: NativeApi, recordPath: string, name: string): { result: QrsRecordResult; rate: RateAgreement } {
  const record = readRecord(recordPath);
  const samples = record.signals[0];
  if (!samples) throw new WfdbError(`${recordPath}.hea: the record has no signal`);
  const fs = record.header.sampleRateHz;
  const annotations = readAnnotations(recordPath);
  const detector = native.createQrsDetector(fs);
  // The reference rate is the same rule applied to the reference beats (`referenceRate`).
  const refBeats = annotations.filter((a) => isBeat(a.code)).map((a) => a.sample);
  const second = Math.max(1, Math.round(fs));
  const detected: number[] = [];
  const rate = emptyRates();
  for (let at = 0; at < samples.length; at += second) {
    const out = detector.process(samples.subarray(at, at + second));
    if (!out.ok) throw new NativeError('NATIVE_CALL', `${name}: QRS detector rejected a batch: ${out.error.field} ${out.error.rule}`);
    for (const b of out.beatSampleIndexes) detected.push(b);
    const now = Math.min(at + second, samples.length);
    if (now < SCORING_START_S * fs) continue;
    rate.seconds += 1;
    rate.byStatus[out.status] += 1;
    if (out.heartRateBpm === null) continue;
    rate.secondsWithRate += 1;
    // Reference beats the detector could have reported by now (its usual delay).
    const reference = referenceRate(refBeats, now - detector.typicalDelaySamples, fs);
    if (reference !== null) {
      rate.absoluteErrorSum += Math.abs(out.heartRateBpm - reference);
      rate.compared += 1;
    }
  }
  detected.push(...flushRecordEnd(detector, samples, name));
  const counts = compareBeats(annotations, detected, fs);
  return {
    result: {
      record: name,
      ...counts,
      sensitivityPercent: percent(counts.truePositives, counts.truePositives + counts.falseNegatives),
      positivePredictivityPercent: percent(counts.truePositives, counts.truePositives + counts.falsePositives),
    },
    rate,
  };
}

/**
 * The heart-rate rule of `native/core/src/heart_rate.rs` on reference beats up to `now`:
 * intervals of the last 10 s between 0.2 and 3 s; the mean of those within 20 % of the
 * median when they are two thirds or more, else of all; at least 4 intervals.
 */
export function referenceRate(beats: readonly number[], now: number, sampleRateHz: number): number | null {
  const from = now - 10 * sampleRateHz;
  const recent = beats.filter((b) => b >= from && b <= now);
  const intervals: number[] = [];
  for (let k = 1; k < recent.length; k += 1) {
    const rr = ((recent[k] ?? 0) - (recent[k - 1] ?? 0)) / sampleRateHz;
    if (rr >= 0.2 && rr <= 3) intervals.push(rr);
  }
  if (intervals.length < 4) return null;
  const sorted = [...intervals].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  const normal = intervals.filter((rr) => Math.abs(rr - median) <= 0.2 * median);
  const used = 3 * normal.length >= 2 * intervals.length ? normal : intervals;
  return 60 / (used.reduce((a, b) => a + b, 0) / used.length);
}

/** Record names listed in `<dir>/RECORDS`. */
export function listRecords(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'RECORDS'), 'utf8');
  } catch (err) {
    throw new WfdbError(`${join(dir, 'RECORDS')}: cannot be read (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  return text.split(/\s+/).filter((r) => r !== '');
}

/** What `vigil eval qrs` runs besides Vigil's own evaluation. */
export interface EvalQrsOptions {
  json: boolean;
  /** A peer detector run on the same records through the same scorer. */
  peer?: 'gqrs';
  /** The interpreter that makes the peer's virtual environment (default `python3`). */
  python?: string;
  /** The peer's virtual environment (default `build/peer-venv` in the project). */
  venvDir?: string;
  /** Run the noise stress test too. */
  noise?: boolean;
  /** Seed of the generated noise (default 1). */
  noiseSeed?: number;
  /** Progress lines (the peer's set-up), for stderr. */
  log?: (line: string) => void;
}

/** Se and +P of summed counts. */
export interface GrossResult extends BeatCounts {
  sensitivityPercent: number | null;
  positivePredictivityPercent: number | null;
}

function gross(results: readonly BeatCounts[]): GrossResult {
  const sum: BeatCounts = { truePositives: 0, falseNegatives: 0, falsePositives: 0 };
  for (const r of results) {
    sum.truePositives += r.truePositives;
    sum.falseNegatives += r.falseNegatives;
    sum.falsePositives += r.falsePositives;
  }
  return {
    ...sum,
    sensitivityPercent: percent(sum.truePositives, sum.truePositives + sum.falseNegatives),
    positivePredictivityPercent: percent(sum.truePositives, sum.truePositives + sum.falsePositives),
  };
}

function recordResult(record: string, counts: BeatCounts): QrsRecordResult {
  const g = gross([counts]);
  return { record, ...counts, sensitivityPercent: g.sensitivityPercent, positivePredictivityPercent: g.positivePredictivityPercent };
}

/** The target of issue 19: gross Se and +P at least this, %. */
export const TARGET_PERCENT = 99.8;
/** The noise stress test reports the first SNR at which Se or +P falls below this, %. */
export const NOISE_FLOOR_PERCENT = 99;

/** One SNR level of the noise stress test. */
export interface NoiseLevelResult extends GrossResult {
  snrDb: number;
  /** Share of the seconds with the noise on (from 5:00) in which the heart rate was withdrawn, %. */
  rateWithdrawnNoisyPercent: number | null;
  /** Heart-rate MAE over the seconds with the noise on in which a rate was published, /min. */
  rateMaeNoisyBpm: number | null;
}

/** The noise stress test's results per noise kind. */
export interface NoiseResult {
  seed: number;
  records: number;
  /** Records left out: no normal beat to measure the QRS amplitude on. */
  skipped: string[];
  levels: Record<NoiseKind, NoiseLevelResult[]>;
  /** Per kind, the highest SNR at which Se or +P is below 99 %, or null when none is. */
  firstBelowFloorDb: Record<NoiseKind, number | null>;
}

/** FNV-1a: a stable 32-bit seed per (seed, kind, record). */
function seedFor(seed: number, kind: string, record: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}:${kind}:${record}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The noise stress test (eval-qrs-noise.ts) over the records of `dir`. */
export function runNoiseStressTest(native: NativeApi, dir: string, names: readonly string[], seed: number): NoiseResult {
  const counts: Record<NoiseKind, BeatCounts[][]> = { em: NOISE_SNR_DB.map(() => []), ma: NOISE_SNR_DB.map(() => []) };
  // Seconds with the noise on, and those of them with the rate withdrawn, per kind and level.
  // [seconds, withdrawn, absolute error sum, compared]
  const withdrawals: Record<NoiseKind, [number, number, number, number][]> = {
    em: NOISE_SNR_DB.map(() => [0, 0, 0, 0]),
    ma: NOISE_SNR_DB.map(() => [0, 0, 0, 0]),
  };
  const skipped: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const record = readRecord(path);
    const samples = record.signals[0];
    if (!samples) throw new WfdbError(`${path}.hea: the record has no signal`);
    const fs = record.header.sampleRateHz;
    const annotations = readAnnotations(path);
    const referenceBeats = annotations.filter((a) => isBeat(a.code)).map((a) => a.sample);
    const amplitude = qrsPeakToPeak(samples, annotations, fs);
    if (amplitude === null || amplitude <= 0) {
      skipped.push(name);
      continue;
    }
    for (const kind of NOISE_KINDS) {
      const noise = generateNoise(kind, samples.length, fs, seedFor(seed, kind, name));
      const rms = noiseRms(noise, fs);
      if (rms === null || rms <= 0) throw new WfdbError(`${name}: generated ${kind} noise has no amplitude`);
      NOISE_SNR_DB.forEach((snrDb, level) => {
        const noisy = addNoise(samples, noise, noiseGain(snrDb, amplitude, rms), fs);
        // A 1 s batch counts when the noise was on throughout it.
        const inNoise = (end: number): boolean => noiseOn(end - 1, fs) && noiseOn(Math.max(0, end - Math.round(fs)), fs);
        const run = detectBeats(native, noisy, fs, name, inNoise, referenceBeats);
        counts[kind][level]?.push(compareBeats(annotations, run.beats, fs));
        const w = withdrawals[kind][level];
        if (w) {
          w[0] += run.seconds;
          w[1] += run.withdrawnSeconds;
          w[2] += run.absoluteErrorSum;
          w[3] += run.compared;
        }
      });
    }
  }
  const levels = {} as Record<NoiseKind, NoiseLevelResult[]>;
  const firstBelowFloorDb = {} as Record<NoiseKind, number | null>;
  for (const kind of NOISE_KINDS) {
    levels[kind] = NOISE_SNR_DB.map((snrDb, level) => {
      const [seconds, withdrawn, errorSum, compared] = withdrawals[kind][level] ?? [0, 0, 0, 0];
      return {
        snrDb,
        ...gross(counts[kind][level] ?? []),
        rateWithdrawnNoisyPercent: percent(withdrawn, seconds),
        rateMaeNoisyBpm: compared > 0 ? errorSum / compared : null,
      };
    });
    const below = levels[kind].find(
      (l) => (l.sensitivityPercent ?? 0) < NOISE_FLOOR_PERCENT || (l.positivePredictivityPercent ?? 0) < NOISE_FLOOR_PERCENT,
    );
    firstBelowFloorDb[kind] = below?.snrDb ?? null;
  }
  return { seed, records: names.length - skipped.length, skipped, levels, firstBelowFloorDb };
}

/** Evaluates every record of `dir` (`evaluateRecord`); the heart-rate agreement summed over them. */
function evaluateRecords(native: NativeApi, dir: string, names: readonly string[]): { results: QrsRecordResult[]; rates: RateAgreement } {
  const results: QrsRecordResult[] = [];
  const rates = emptyRates();
  for (const name of names) {
    const { result, rate } = evaluateRecord(native, join(dir, name), name);
    results.push(result);
    rates.absoluteErrorSum += rate.absoluteErrorSum;
    rates.compared += rate.compared;
    rates.seconds += rate.seconds;
    rates.secondsWithRate += rate.secondsWithRate;
    for (const status of Object.keys(rates.byStatus) as EcgStatus[]) rates.byStatus[status] += rate.byStatus[status];
  }
  return { results, rates };
}

/** The reported heart-rate figures of the summed agreement. */
function heartRateReport(rates: RateAgreement): HeartRateReport {
  const withdrawn = rates.seconds - rates.secondsWithRate;
  return {
    maeBpm: rates.compared > 0 ? rates.absoluteErrorSum / rates.compared : null,
    coveragePercent: percent(rates.secondsWithRate, rates.seconds),
    seconds: rates.seconds,
    withdrawnSeconds: withdrawn,
    withdrawnPercent: percent(withdrawn, rates.seconds),
    withdrawnByReason: {
      noisy: rates.byStatus.noisy,
      leadsOff: rates.byStatus['leads-off'],
      noRate: rates.byStatus['no-rate'],
      learning: rates.byStatus.learning,
    },
  };
}

/** Runs gqrs on the records of `dir` and scores its beats as Vigil's are. */
function scoreGqrs(env: PeerEnvironment, dir: string, names: readonly string[]): QrsRecordResult[] {
  const beats = runGqrs(env, names.map((name) => join(dir, name)));
  return names.map((name, k) => {
    const annotations = readAnnotations(join(dir, name));
    const found = beats[k];
    const detected = [...(found?.beatSampleIndexes ?? [])].sort((a, b) => a - b);
    return recordResult(name, compareBeats(annotations, detected, found?.sampleRateHz ?? 360));
  });
}

/** Runs the command; returns the exit code (0 once every record was evaluated; the table says whether the target is met). */
export async function runEvalQrs(dir: string, options: EvalQrsOptions, out: Writable): Promise<number> {
  const names = listRecords(dir);
  // The peer's environment first: when it cannot be made, fail before the long evaluation.
  const peerEnv =
    options.peer === 'gqrs'
      ? preparePeerEnvironment({ venvDir: options.venvDir ?? join(PROJECT_ROOT, 'build', 'peer-venv'), python: options.python, log: options.log })
      : null;
  const native = loadNative();
  const { results, rates } = evaluateRecords(native, dir, names);
  const vigil = gross(results);
  const peerResults = peerEnv ? scoreGqrs(peerEnv, dir, names) : null;
  const noise = options.noise ? runNoiseStressTest(native, dir, names, options.noiseSeed ?? 1) : null;
  const report: QrsReport = {
    records: results,
    gross: vigil,
    heartRate: heartRateReport(rates),
    target: { percent: TARGET_PERCENT, met: targetMet(vigil, TARGET_PERCENT) },
    ...(peerResults ? { peer: { name: 'gqrs', wfdbVersion: WFDB_PY_VERSION, records: peerResults, gross: gross(peerResults) } } : {}),
    ...(noise ? { noise } : {}),
    method: { matchWindowS: MATCH_WINDOW_S, scoringStartS: SCORING_START_S, batchSeconds: 1, endOfRecordFlush: true },
  };
  out.write(options.json ? `${JSON.stringify(report)}\n` : formatQrsText(dir, report, NOISE_FLOOR_PERCENT));
  return 0;
}
