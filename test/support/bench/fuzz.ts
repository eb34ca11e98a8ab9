/**
 * Fuzzing at size (issue 14, item 9), for `make bench`: every cargo-fuzz target of the Rust core
 * (native/fuzz) and every TypeScript target (test/support/fuzz/targets.ts) for `runs` inputs each
 * (10 million by default), reporting per target the inputs run, the failures found (the target is
 * 0), inputs per second and the corpus size.
 *
 *   node dist/test/support/bench/fuzz.js [--runs 10000000] [--only rust|ts] [--targets a,b]
 *
 * Rust: `cargo +nightly fuzz run -O -a -s none <target> build/fuzz/corpus/<target> native/fuzz/corpus/<target>
 * -- -runs=N` (release with debug assertions and overflow checks; no sanitizer: the core forbids
 * unsafe code), niced; the corpus it grows is kept in build/fuzz/corpus (never committed: a
 * finding is added to the committed corpus by hand, named after its hazard). A crash leaves its
 * input in native/fuzz/artifacts/<target>/. Needs cargo-fuzz (`cargo install cargo-fuzz --locked`)
 * and the nightly toolchain; without them the Rust targets are reported as not run.
 *
 * TypeScript: the runner of test/support/fuzz/runner.ts, in this process, seeded (the seed is in
 * the result); a failure is printed with its seed and path.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../processes';
import { LoadSampler, machine, round } from './measure';
import { figure, fmt, printFigures, table, writeResult, type BenchResult, type Figure } from './result';
import { runTarget } from '../fuzz/runner';
import { TARGETS } from '../fuzz/targets';

const FUZZ_DIR = join(ROOT, 'native', 'fuzz');
const RUST_TARGETS = ['news2_score', 'ecg_qrs', 'ppg', 'resp', 'numerics'] as const;
const SEED = 20261207;

interface TargetFigures {
  target: string;
  side: 'rust' | 'ts';
  ran: boolean;
  inputs: number;
  failures: number;
  seconds: number;
  inputsPerSecond: number;
  corpusFiles: number;
  corpusBytes: number;
  /** Coverage edges reached (libFuzzer's cov), Rust only. */
  coverage: number | null;
  note: string;
}

function dirSize(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  try {
    for (const f of readdirSync(dir)) {
      const s = statSync(join(dir, f));
      if (s.isFile()) {
        files++;
        bytes += s.size;
      }
    }
  } catch {
    // No corpus yet.
  }
  return { files, bytes };
}

function cargoFuzzVersion(): string | null {
  try {
    return execFileSync('cargo', ['fuzz', '--version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

/** One cargo-fuzz target for `runs` inputs. */
export function runRustTarget(target: string, runs: number, log: (s: string) => void): TargetFigures {
  const grown = join(ROOT, 'build', 'fuzz', 'corpus', target);
  mkdirSync(grown, { recursive: true });
  const seeds = join(FUZZ_DIR, 'corpus', target);
  const started = Date.now();
  const args = ['-n', '10', 'cargo', '+nightly', 'fuzz', 'run', '-O', '-a', '-s', 'none', target, grown, seeds, '--', `-runs=${runs}`, '-print_final_stats=1'];
  const r = spawnSync('nice', args, { cwd: FUZZ_DIR, encoding: 'utf8', maxBuffer: 256 << 20 });
  const seconds = (Date.now() - started) / 1000;
  const out = `${r.stdout}\n${r.stderr}`;
  // libFuzzer's final line: "Done N runs in S second(s)"; a crash: "==ERROR: libFuzzer" / "panicked at".
  const done = /Done (\d+) runs in (\d+) second/.exec(out);
  const crashed = /panicked at|==\d+== ERROR: libFuzzer|deadly signal|Test unit written to/.test(out);
  const cov = [...out.matchAll(/cov: (\d+)/g)].pop();
  const execs = [...out.matchAll(/stat::number_of_executed_units:\s*(\d+)/g)].pop();
  const inputs = done ? Number(done[1]) : execs ? Number(execs[1]) : 0;
  if (r.status !== 0 && !crashed) log(`${target}: cargo fuzz failed (exit ${r.status}): ${out.split('\n').slice(-8).join('\n')}`);
  if (crashed) log(`${target}: CRASH\n${out.split('\n').filter((l) => /panicked|invariant|artifact|Test unit/.test(l)).join('\n')}`);
  const size = dirSize(grown);
  return {
    target,
    side: 'rust',
    ran: r.status === 0 || crashed,
    inputs,
    failures: crashed ? 1 : 0,
    seconds,
    inputsPerSecond: seconds > 0 ? inputs / seconds : 0,
    corpusFiles: size.files,
    corpusBytes: size.bytes,
    coverage: cov ? Number(cov[1]) : null,
    note: r.status === 0 || crashed ? '' : 'cargo fuzz did not run',
  };
}

export async function runFuzz(o: { runs: number; only?: 'rust' | 'ts'; targets?: string[]; log: (s: string) => void }): Promise<BenchResult> {
  const started = Date.now();
  const load = new LoadSampler(1000);
  const version = cargoFuzzVersion();
  const results: TargetFigures[] = [];
  const wanted = (name: string): boolean => o.targets === undefined || o.targets.includes(name);
  if (o.only !== 'ts') {
    for (const target of RUST_TARGETS.filter(wanted)) {
      o.log(`cargo-fuzz ${target}: ${fmt(o.runs, 0)} inputs`);
      if (version === null) {
        results.push({ target, side: 'rust', ran: false, inputs: 0, failures: 0, seconds: 0, inputsPerSecond: 0, corpusFiles: 0, corpusBytes: 0, coverage: null, note: 'cargo-fuzz is not installed' });
        continue;
      }
      const r = runRustTarget(target, o.runs, o.log);
      o.log(`  ${fmt(r.inputs, 0)} inputs in ${fmt(r.seconds, 0)} s (${fmt(r.inputsPerSecond, 0)} /s), ${r.failures} crash(es), corpus ${r.corpusFiles} files`);
      results.push(r);
    }
  }
  if (o.only !== 'rust') {
    for (const target of TARGETS.filter((t) => wanted(t.name))) {
      o.log(`fast-check ${target.name}: ${fmt(o.runs, 0)} inputs`);
      const run = runTarget(target, { runs: o.runs, seed: SEED, hangMs: 5000 });
      for (const f of run.failures) o.log(`  FAILURE ${f.problem} (${f.replay}) input ${f.inputHex.slice(0, 200)}`);
      o.log(`  ${fmt(run.inputs, 0)} inputs in ${fmt(run.seconds, 0)} s (${fmt(run.inputsPerSecond, 0)} /s), ${run.failures.length} failure(s), slowest ${fmt(run.slowestMs, 1)} ms`);
      results.push({
        target: target.name,
        side: 'ts',
        ran: true,
        inputs: run.inputs,
        failures: run.failures.length,
        seconds: run.seconds,
        inputsPerSecond: run.inputsPerSecond,
        corpusFiles: run.corpusFiles,
        corpusBytes: run.corpusBytes,
        coverage: null,
        note: `slowest input ${fmt(run.slowestMs, 1)} ms`,
      });
    }
  }
  const l = load.stop();
  const ran = results.filter((r) => r.ran);
  const figures: Figure[] = [
    figure('Fuzz failures found (crash, broken invariant, throw or hang), all targets', ran.reduce((n, r) => n + r.failures, 0), 'failures', l, { op: '<=', value: 0 }, 0),
    figure('Fewest inputs run by one target', ran.length ? Math.min(...ran.map((r) => r.inputs)) / 1e6 : 0, 'M inputs', l, { op: '>=', value: o.runs / 1e6 }, 2),
    figure('Fuzz targets not run', results.length - ran.length, 'targets', l, { op: '<=', value: 0 }, 0),
  ];
  const markdown = [
    `Each target ran ${fmt(o.runs, 0)} generated inputs (Rust: cargo-fuzz ${version ?? 'not installed'}, libFuzzer, coverage-guided,`,
    'release with debug assertions and overflow checks, niced, one process; TypeScript: fast-check from the committed corpus,',
    `seed ${SEED}, one Node.js thread). Corpus: the committed seeds, and for Rust the corpus grown in build/fuzz/corpus.`,
    'Invariants and method: docs/fuzzing.md.',
    '',
    table(
      ['target', 'side', 'inputs', 'failures', 'inputs/s', 'time (s)', 'corpus (files / bytes)', 'coverage (edges)', 'note'],
      results.map((r) => [
        r.target,
        r.side === 'rust' ? 'Rust (cargo-fuzz)' : 'TypeScript (fast-check)',
        fmt(r.inputs, 0),
        String(r.failures),
        fmt(r.inputsPerSecond, 0),
        fmt(r.seconds, 0),
        `${r.corpusFiles} / ${fmt(r.corpusBytes, 0)}`,
        r.coverage === null ? '-' : String(r.coverage),
        r.note || '-',
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
  ].join('\n');
  const extra = [o.only ? ` --only ${o.only}` : '', o.targets ? ` --targets ${o.targets.join(',')}` : ''].join('');
  return {
    name: 'fuzz',
    title: 'Fuzzing (coverage-guided, committed corpus)',
    measuredAt: new Date(started).toISOString(),
    machine: machine(),
    command: `node dist/test/support/bench/fuzz.js --runs ${o.runs}${extra}`,
    seconds: round((Date.now() - started) / 1000, 0),
    figures,
    markdown,
    details: { cargoFuzz: version, seed: SEED, targets: results },
  };
}

if (require.main === module) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '10000000' }, only: { type: 'string' }, targets: { type: 'string' } } });
  const runs = Number(values.runs);
  const only = values.only;
  if (!Number.isInteger(runs) || runs < 1 || (only !== undefined && only !== 'rust' && only !== 'ts')) {
    process.stderr.write('usage: fuzz [--runs N>=1] [--only rust|ts] [--targets a,b]\n');
    process.exit(2);
  }
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  void runFuzz({ runs, log, ...(only ? { only: only as 'rust' | 'ts' } : {}), ...(values.targets ? { targets: values.targets.split(',') } : {}) }).then((result) => {
    writeResult(result);
    printFigures(result);
    process.exit(result.figures.every((f) => f.met !== false) ? 0 : 1);
  });
}
