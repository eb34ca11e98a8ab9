/**
 * `make test`'s coverage step: turns the V8 coverage tap recorded (every test process and every
 * agent process they started) into LCOV for agent/src, reads the Rust core's LCOV from cargo
 * llvm-cov, writes the totals to build/test/coverage/summary.json and prints one line per area,
 * before the `N passed, N failed` line:
 *
 *   coverage agent/src (TypeScript): lines 88.1 % (5120/5811), branches 83.0 % (1411/1700), 162 files
 *   coverage native/core (Rust): lines 96.2 % (...), branches 88.4 % (...), 9 files
 *
 *   node dist/test/support/coverage/report.js --v8 build/test/coverage/v8 --out build/test/coverage \
 *     --rust-toolchain "$(rustc +nightly --version)"
 *
 * No file of agent/src is left out: c8's `all` adds the files no test loaded (at 0 %), and the
 * include pattern is the whole folder, with no exclusion (c8's default excludes test-like names).
 * Measuring never fails the run: the figures are reported, the verdicts stay the tests'.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Ratio } from './lcov';
import { percent } from './lcov';
import type { AreaSummary, CoverageSummary } from './measure';
import { AREAS, readArea, summarizeArea } from './measure';

/** The part of c8's Report (c8/lib/report.js) used here: c8 ships no type declarations. */
interface C8Report {
  run(): Promise<void>;
}
type C8ReportClass = new (options: {
  include: string[];
  exclude: string[];
  extension: string[];
  excludeNodeModules: boolean;
  all: boolean;
  src: string[];
  reporter: string[];
  reportsDirectory: string;
  tempDirectory: string;
  skipFull: boolean;
}) => C8Report;

const ROOT = join(__dirname, '..', '..', '..', '..');

/** LCOV (and istanbul's JSON summary) of dist/agent/src from the V8 coverage files in `v8Dir`. */
export async function typescriptLcov(root: string, v8Dir: string, outDir: string): Promise<void> {
  const { Report } = require('c8') as { Report: C8ReportClass };
  rmSync(outDir, { recursive: true, force: true });
  const cwd = process.cwd();
  // c8 matches `include` against paths relative to the working directory.
  process.chdir(root);
  try {
    await new Report({
      include: ['dist/agent/src/**/*.js'],
      exclude: [],
      extension: ['.js'],
      excludeNodeModules: true,
      all: true,
      src: [join(root, 'dist', 'agent', 'src')],
      reporter: ['lcovonly', 'json-summary'],
      reportsDirectory: outDir,
      tempDirectory: v8Dir,
      skipFull: false,
    }).run();
  } finally {
    process.chdir(cwd);
  }
}

function figuresText(r: Ratio): string {
  return `${percent(r)} (${r.hit}/${r.total})`;
}

/** The line `make test` prints for one area. */
export function summaryLine(s: AreaSummary, label: string): string {
  if (!s.measured) return `coverage ${s.scope} (${label}): not measured`;
  const branches = s.branchesMeasured ? figuresText(s.branches) : 'not measured';
  const others = s.notCounted.map((n) => `${n.path.slice(s.scope.length + 1)}: ${n.note.split(' (')[0]!.split(':')[0]}`);
  return `coverage ${s.scope} (${label}): lines ${figuresText(s.lines)}, branches ${branches}, ${s.files} file${s.files === 1 ? '' : 's'}${others.length > 0 ? ` (not counted: ${others.join('; ')})` : ''}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      v8: { type: 'string' },
      out: { type: 'string' },
      'rust-toolchain': { type: 'string', default: 'unknown' },
    },
  });
  const out = values.out ?? join(ROOT, 'build', 'test', 'coverage');
  mkdirSync(out, { recursive: true });
  const v8 = values.v8 ?? join(out, 'v8');
  if (existsSync(v8) && readdirSync(v8).length > 0) {
    try {
      await typescriptLcov(ROOT, v8, join(out, 'ts'));
    } catch (err) {
      process.stdout.write(`coverage: the TypeScript report failed: ${(err as Error).message.split('\n')[0]}\n`);
    }
  }
  const ts = summarizeArea(readArea(ROOT, out, 'typescript'), AREAS.typescript.tool);
  const rust = summarizeArea(readArea(ROOT, out, 'rust'), AREAS.rust.tool);
  const summary: CoverageSummary = { rustToolchain: values['rust-toolchain'], typescript: ts, rust };
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${summaryLine(ts, 'TypeScript')}\n${summaryLine(rust, 'Rust')}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    // A measurement that breaks is reported, and never turns a passing run into a failing one.
    process.stdout.write(`coverage: not measured: ${(err as Error).message}\n`);
  });
}
