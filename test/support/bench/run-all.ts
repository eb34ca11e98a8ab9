/**
 * `make bench`: every benchmark, one after the other, then the table and docs/benchmarks.md.
 * Each measurement is also a command of its own (the `command` of its result) to rerun alone;
 * `node dist/test/support/bench/report.js` then rewrites the document from build/bench/.
 *
 *   node dist/test/support/bench/run-all.js [--quick]
 *
 * --quick: one short run of each (a smoke test of the suite, not figures to publish).
 * About 31 minutes on the development machine without --quick (the soak under faults is about 10, the
 * device alarm onset about 7), plus the fuzzing (fuzz.ts: 10 million inputs per target; its time is
 * in docs/fuzzing.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runAlarmOnset } from './alarm-onset';
import { BENCH_DIR, RESULTS_DIR } from './bed';
import { runFullBed } from './full-bed';
import { runFuzz } from './fuzz';
import { runHeadroom } from './headroom';
import { runHl7 } from './hl7-bench';
import { LoadSampler, machine, round } from './measure';
import { DOC, printSummary, writeParts } from './report';
import { figure, fmt, table, writeResult, type BenchResult } from './result';
import { runPackageArch } from './package-arch';
import { runSoak } from './soak';
import { runStartup } from './startup';
import { runWard } from './ward';
import { runWardBoard } from './ward-board';

interface NativeJson {
  runs: number;
  samples: number;
  qrs: { nativeSamplesPerSecond: number; typescriptSamplesPerSecond: number; nativeOverTypescript: number; sameBeatsAsReference: boolean; batchSamples: number };
  boundary: { emptyBatchNsPerCall: number; perSampleNs: number | null; bySize: Array<{ batchSamples: number; nsPerCall: number; nsPerSample: number }> };
}

/** The native signal-processing benchmark (native-bench.ts, a JSON printer) as a result. */
export function runNative(runs: number): BenchResult {
  const started = Date.now();
  const load = new LoadSampler(1000);
  const args = [join(BENCH_DIR, 'native-bench.js'), '--runs', String(runs)];
  const json = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 << 20 })) as NativeJson;
  const l = load.stop();
  const q = json.qrs;
  const figures = [
    figure('Native QRS detection with its filters (one core)', q.nativeSamplesPerSecond / 1e6, 'M samples/s', l, { op: '>=', value: 5 }, 1),
    figure('Native QRS / TypeScript reference (paired runs)', q.nativeOverTypescript, 'x', l, { op: '>=', value: 5 }, 1),
    figure('Cost of one call across the native boundary (empty batch)', json.boundary.emptyBatchNsPerCall / 1000, 'us', l, undefined, 1),
  ];
  const markdown = [
    `This run: native ${fmt(q.nativeSamplesPerSecond / 1e6, 1)} M samples/s, TypeScript ${fmt(q.typescriptSamplesPerSecond / 1e6, 2)} M samples/s,`,
    `ratio ${fmt(q.nativeOverTypescript, 1)} x (median of ${json.runs} alternating pairs), same beats as the reference: ${q.sameBeatsAsReference ? 'yes' : 'NO'}.`,
    'Method and earlier runs: the "Native signal processing" section below.',
    '',
    table(
      ['batch (samples)', 'ns per call', 'ns per sample'],
      json.boundary.bySize.map((b) => [String(b.batchSamples), fmt(b.nsPerCall, 0), fmt(b.nsPerSample, 1)]),
      ['r', 'r', 'r'],
    ),
  ].join('\n');
  return {
    name: 'native',
    title: 'Native signal processing (speed)',
    measuredAt: new Date(started).toISOString(),
    machine: machine(),
    command: `node ${args.slice(0, 1).map((a) => a.replace(/^.*\/dist\//, 'dist/')).join('')} --runs ${runs}`,
    seconds: round((Date.now() - started) / 1000, 0),
    figures,
    markdown,
    details: json,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
  const quick = values.quick === true;
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  rmSync(RESULTS_DIR, { recursive: true, force: true });
  mkdirSync(RESULTS_DIR, { recursive: true });
  const started = Date.now();
  const steps: Array<[string, () => Promise<BenchResult> | BenchResult]> = [
    ['native', () => runNative(quick ? 3 : 9)],
    ['hl7', () => runHl7(quick ? 3 : 9)],
    ['startup', () => runStartup({ runs: quick ? 2 : 5, log })],
    ['full-bed', () => runFullBed({ runs: quick ? 1 : 3, seconds: quick ? 20 : 60, log })],
    ['headroom', () => runHeadroom({ levels: quick ? [1, 10] : [1, 10, 100], max: quick ? 10 : 300, seconds: quick ? 15 : 30, log })],
    ['ward', () => runWard({ gateways: 200, processes: 2, seconds: quick ? 20 : 60, runs: 1, log })],
    ['alarm-onset', () => runAlarmOnset({ bedSeconds: quick ? 20 : 240, wardSeconds: quick ? 20 : 120, wardBeds: 2, gateways: 200, processes: 2, log })],
    ['ward-board', () => runWardBoard({ gateways: 200, processes: 2, seconds: quick ? 15 : 60, log })],
    ['package-arch', () => runPackageArch({ windowS: quick ? 15 : 60, log })],
    ['soak', () => runSoak({ brokerKills: quick ? 5 : 100, agentKills: quick ? 5 : 100, log })],
    // Last: the longest part (10 million inputs per fuzz target; see docs/fuzzing.md for the time).
    ['fuzz', () => runFuzz({ runs: quick ? 10_000 : 10_000_000, log })],
  ];
  const failed: string[] = [];
  for (const [name, step] of steps) {
    log(`\n== ${name} (${fmt((Date.now() - started) / 60_000, 1)} min so far)`);
    try {
      writeResult(await step());
    } catch (err) {
      failed.push(name);
      log(`${name}: FAILED: ${err instanceof Error ? err.stack : String(err)}`);
    }
  }
  const results = writeParts();
  printSummary(results);
  process.stdout.write(`\nmake bench: ${fmt((Date.now() - started) / 60_000, 1)} min; written ${DOC}${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}\n`);
  process.exit(failed.length ? 1 : 0);
}

if (require.main === module) {
  void main();
}
