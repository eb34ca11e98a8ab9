/**
 * Benchmark of the native signal processing (for `make bench`, not for `make test`).
 *
 *   node dist/test/support/bench/native-bench.js [--seconds 600] [--runs 7] [--record path/to/wfdb/record]
 *
 * Writes one JSON object to stdout:
 * - `qrs`: samples per second of QRS detection with its filters, native (through the addon
 *   wrapper the agent uses, 10 s batches) and the TypeScript reference of the same
 *   algorithm (test/support/bench/qrs-reference.ts), measured side by side in this run, on
 *   the same signal: after one warm-up run each, `runs` pairs of runs alternate native and
 *   TypeScript; each rate is the median over its runs and the ratio is the median of the
 *   per-pair ratios. Both give the same beats (checked here, and in a test).
 * - `boundary`: the cost of one call across the native boundary by batch size: for each
 *   size, the median time per call and per sample, and the overhead per call (time per
 *   call less the size times the per-sample cost of the cheapest batch of 1024 samples or
 *   more); plus the cost of a call with an empty batch.
 * - `targets`: native >= 5 M samples/s and >= 5 x the TypeScript reference.
 *
 * The signal is a seeded synthetic ECG at 360 Hz (or the first signal of `--record`).
 * One Node.js thread: the figures are for one core.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createQrsDetector } from '../../../agent/src/native/addon';
import { readRecord } from '../../../agent/src/io/wfdb';
import { ReferenceQrsDetector } from './qrs-reference';
import { syntheticEcg } from './synthetic-signals';

const BATCH_SECONDS = 10;
const BATCH_SIZES = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536];

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Seconds of one run of `work`. */
function timeOnce(work: () => void): number {
  const start = performance.now();
  work();
  return (performance.now() - start) / 1000;
}

/** Median seconds of `runs` timed runs of `work`, after one warm-up run. */
function timeRuns(runs: number, work: () => void): number {
  work();
  const times: number[] = [];
  for (let r = 0; r < runs; r += 1) {
    const start = performance.now();
    work();
    times.push((performance.now() - start) / 1000);
  }
  return median(times);
}

function nativeBeats(samples: Float32Array, fs: number, batch: number): number[] {
  const detector = createQrsDetector(fs);
  const beats: number[] = [];
  for (let at = 0; at < samples.length; at += batch) {
    const out = detector.process(samples.subarray(at, at + batch));
    if (!out.ok) throw new Error(`native detector rejected a batch: ${out.error.field} ${out.error.rule}`);
    for (const b of out.beatSampleIndexes) beats.push(b);
  }
  return beats;
}

function referenceBeats(samples: Float32Array, fs: number, batch: number): number[] {
  const detector = new ReferenceQrsDetector(fs);
  const beats: number[] = [];
  for (let at = 0; at < samples.length; at += batch) beats.push(...detector.process(samples.subarray(at, at + batch)));
  return beats;
}

export function runBenchmark(options: { seconds: number; runs: number; record?: string }): Record<string, unknown> {
  let samples: Float32Array;
  let fs: number;
  let signal: string;
  if (options.record) {
    const record = readRecord(options.record);
    samples = record.signals[0] ?? new Float32Array(0);
    fs = record.header.sampleRateHz;
    signal = `WFDB record ${options.record}, first signal`;
  } else {
    fs = 360;
    samples = syntheticEcg({ sampleRateHz: fs, durationS: options.seconds, heartRateBpm: 75, ectopicProbability: 0.05, wanderMv: 0.3, mainsMv: 0.05, noiseMv: 0.03, seed: 42 }).samples;
    signal = `synthetic ECG, ${options.seconds} s at ${fs} Hz, seed 42`;
  }
  const batch = Math.round(BATCH_SECONDS * fs);

  // Also the warm-up runs (the JIT compiles the reference, the addon's pages are loaded).
  const native = nativeBeats(samples, fs, batch);
  const reference = referenceBeats(samples, fs, batch);
  const sameBeats = native.length === reference.length && native.every((b, i) => b === reference[i]);

  // Side by side: native and TypeScript runs alternate, so that both see the same load on a
  // shared machine; the ratio is the median of the per-pair ratios.
  const nativeTimes: number[] = [];
  const referenceTimes: number[] = [];
  const pairRatios: number[] = [];
  for (let r = 0; r < options.runs; r += 1) {
    const n = timeOnce(() => nativeBeats(samples, fs, batch));
    const ts = timeOnce(() => referenceBeats(samples, fs, batch));
    nativeTimes.push(n);
    referenceTimes.push(ts);
    pairRatios.push(ts / n);
  }
  const nativeRate = samples.length / median(nativeTimes);
  const referenceRate = samples.length / median(referenceTimes);
  const ratio = median(pairRatios);

  // Boundary cost by batch size, on the same signal (at most 2^17 samples per size so that
  // the one-sample batches stay short).
  const slice = samples.subarray(0, Math.min(samples.length, 1 << 17));
  const perSize = BATCH_SIZES.filter((size) => size <= slice.length).map((size) => {
    const calls = Math.floor(slice.length / size);
    const seconds = timeRuns(options.runs, () => {
      const detector = createQrsDetector(fs);
      for (let k = 0; k < calls; k += 1) detector.process(slice.subarray(k * size, (k + 1) * size));
    });
    return { batchSamples: size, calls, nsPerCall: (seconds / calls) * 1e9, nsPerSample: (seconds / (calls * size)) * 1e9 };
  });
  // The per-sample cost without the boundary: the cheapest of the large batches.
  const large = perSize.filter((p) => p.batchSamples >= 1024).map((p) => p.nsPerSample);
  const perSampleNs = large.length > 0 ? Math.min(...large) : null;
  const boundary = perSize.map((p) => ({
    ...p,
    overheadNsPerCall: perSampleNs === null ? null : Math.max(0, p.nsPerCall - p.batchSamples * perSampleNs),
  }));
  const empty = new Float32Array(0);
  const emptyCalls = 200_000;
  const emptyDetector = createQrsDetector(fs);
  const emptySeconds = timeRuns(options.runs, () => {
    for (let k = 0; k < emptyCalls; k += 1) emptyDetector.process(empty);
  });

  return {
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
    signal,
    samples: samples.length,
    runs: options.runs,
    qrs: {
      batchSamples: batch,
      beats: native.length,
      sameBeatsAsReference: sameBeats,
      nativeSamplesPerSecond: Math.round(nativeRate),
      typescriptSamplesPerSecond: Math.round(referenceRate),
      nativeOverTypescript: ratio,
      nativeRealTimeFactor: nativeRate / fs,
    },
    boundary: { bySize: boundary, perSampleNs, emptyBatchNsPerCall: (emptySeconds / emptyCalls) * 1e9 },
    targets: {
      nativeSamplesPerSecondMin: 5e6,
      nativeOverTypescriptMin: 5,
      met: nativeRate >= 5e6 && ratio >= 5,
    },
  };
}

if (require.main === module) {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '600' }, runs: { type: 'string', default: '7' }, record: { type: 'string' } },
    strict: true,
  });
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  if (!(seconds > 0) || !Number.isInteger(runs) || runs < 1) {
    process.stderr.write('usage: native-bench [--seconds S>0] [--runs N>=1] [--record path]\n');
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(runBenchmark({ seconds, runs, record: values.record }), null, 2)}\n`);
}
