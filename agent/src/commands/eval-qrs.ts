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
 * It also reports the heart rate the detector publishes against the same rule applied to
 * the reference beats (mean absolute difference, and the share of seconds with a rate).
 */
import type { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WfdbAnnotation } from '../io/wfdb';
import { ANNOTATION_CODES, isBeat, readAnnotations, readRecord, WfdbError } from '../io/wfdb';
import type { NativeApi } from '../native/addon';
import { loadNative, NativeError } from '../native/addon';

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
  const rate: RateAgreement = { absoluteErrorSum: 0, compared: 0, seconds: 0, secondsWithRate: 0 };
  for (let at = 0; at < samples.length; at += second) {
    const out = detector.process(samples.subarray(at, at + second));
    if (!out.ok) throw new NativeError('NATIVE_CALL', `${name}: QRS detector rejected a batch: ${out.error.field} ${out.error.rule}`);
    for (const b of out.beatSampleIndexes) detected.push(b);
    const now = Math.min(at + second, samples.length);
    if (now < SCORING_START_S * fs) continue;
    rate.seconds += 1;
    if (out.heartRateBpm === null) continue;
    rate.secondsWithRate += 1;
    // Reference beats the detector could have reported by now (its usual delay).
    const reference = referenceRate(refBeats, now - detector.typicalDelaySamples, fs);
    if (reference !== null) {
      rate.absoluteErrorSum += Math.abs(out.heartRateBpm - reference);
      rate.compared += 1;
    }
  }
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

function fmt(value: number | null, digits = 2): string {
  return value === null ? '-' : value.toFixed(digits);
}

/** Runs the command; returns the exit code (0 once every record was evaluated; the table says whether the target is met). */
export async function runEvalQrs(dir: string, options: { json: boolean }, out: Writable): Promise<number> {
  const native = loadNative();
  const names = listRecords(dir);
  const results: QrsRecordResult[] = [];
  const gross: BeatCounts = { truePositives: 0, falseNegatives: 0, falsePositives: 0 };
  const rates: RateAgreement = { absoluteErrorSum: 0, compared: 0, seconds: 0, secondsWithRate: 0 };
  for (const name of names) {
    const { result, rate } = evaluateRecord(native, join(dir, name), name);
    results.push(result);
    gross.truePositives += result.truePositives;
    gross.falseNegatives += result.falseNegatives;
    gross.falsePositives += result.falsePositives;
    rates.absoluteErrorSum += rate.absoluteErrorSum;
    rates.compared += rate.compared;
    rates.seconds += rate.seconds;
    rates.secondsWithRate += rate.secondsWithRate;
  }
  const se = percent(gross.truePositives, gross.truePositives + gross.falseNegatives);
  const ppv = percent(gross.truePositives, gross.truePositives + gross.falsePositives);
  const heartRateMae = rates.compared > 0 ? rates.absoluteErrorSum / rates.compared : null;
  const heartRateCoverage = percent(rates.secondsWithRate, rates.seconds);
  if (options.json) {
    out.write(
      `${JSON.stringify({
        records: results,
        gross: { ...gross, sensitivityPercent: se, positivePredictivityPercent: ppv },
        heartRate: { maeBpm: heartRateMae, coveragePercent: heartRateCoverage },
        method: { matchWindowS: MATCH_WINDOW_S, scoringStartS: SCORING_START_S, batchSeconds: 1 },
      })}\n`,
    );
  } else {
    const lines = [
      `QRS detection on ${dir} (${names.length} records): EC57 beat-by-beat, 150 ms match window, scored from 5 min,`,
      'beat annotations only, VF episodes excluded; the detector runs streaming, first signal, 1 s batches.',
      '',
      'record     TP    FN    FP   Se %    +P %',
      ...results.map(
        (r) =>
          `${r.record.padEnd(7)} ${String(r.truePositives).padStart(5)} ${String(r.falseNegatives).padStart(5)} ${String(r.falsePositives).padStart(5)} ${fmt(r.sensitivityPercent).padStart(6)} ${fmt(r.positivePredictivityPercent).padStart(7)}`,
      ),
      `gross   ${String(gross.truePositives).padStart(5)} ${String(gross.falseNegatives).padStart(5)} ${String(gross.falsePositives).padStart(5)} ${fmt(se).padStart(6)} ${fmt(ppv).padStart(7)}`,
      '',
      `heart rate (every 1 s from 5 min) vs the same rule on the reference beats: MAE ${fmt(heartRateMae)} /min, rate available ${fmt(heartRateCoverage, 1)} % of seconds`,
      `target: gross Se >= 99.5 % and +P >= 99.5 %: ${se !== null && ppv !== null && se >= 99.5 && ppv >= 99.5 ? 'met' : 'NOT met'}`,
    ];
    out.write(`${lines.join('\n')}\n`);
  }
  return 0;
}
