/**
 * The coverage `make test` measures and `make evidence` renders (test/support/coverage/,
 * test/support/evidence/coverage.ts), checked on small fixed reports in a temporary repository:
 * figures per file with no file left out, and the figures of each risk-control unit taken from its
 * own lines only.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { figures, parseLcov } from '../support/coverage/lcov';
import { readArea, summarizeArea } from '../support/coverage/measure';
import { summaryLine, typescriptLcov } from '../support/coverage/report';
import { rustItemRange, rustTestRanges } from '../support/coverage/rust-items';
import { anchorCoverage, coverageGaps, renderCoverage } from '../support/evidence/coverage';
import type { Hazard } from '../support/evidence/data';

function tempRoot(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'vigil-coverage-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

// A product file with three anchored units (line numbers on the right).
const CONTROLS_TS = [
  '/** Clamps a value. */', //                          1
  'export function guarded(v: number): number {', //    2
  '  if (v > 10) {', //                                 3
  '    return 10;', //                                  4
  '  }', //                                             5
  '  return v;', //                                     6
  '}', //                                               7
  '', //                                                8
  'export class Keeper {', //                           9
  '  restore(ok: boolean): string {', //                10
  "    return ok ? 'kept' : 'lost';", //                11
  '  }', //                                             12
  '}', //                                               13
  'export function unused(): number {', //              14
  '  return 1;', //                                     15
  '}', //                                               16
].join('\n');

// What c8 wrote for it: guarded's `if` body never ran, both arms of restore's ternary did, unused never ran.
const TS_LCOV = [
  'TN:',
  'SF:agent/src/validation/x.ts',
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16].map((n) => `DA:${n},${[4, 5, 14, 15, 16].includes(n) ? 0 : 3}`),
  'BRDA:3,0,0,0',
  'BRDA:11,1,0,2',
  'BRDA:11,2,0,1',
  'end_of_record',
  'SF:agent/src/other.ts',
  'DA:1,1',
  'DA:2,0',
  'end_of_record',
  // hw-sim is not product code: never counted even when a tracefile names it.
  'SF:hw-sim/src/cli.ts',
  'DA:1,0',
  'end_of_record',
  '',
].join('\n');

const NEWS2_RS = [
  '/// Scores.', //                                            1
  'pub fn score(x: f64) -> f64 {', //                          2
  '    if x > 1.0 { 1.0 } else { x }', //                      3
  '}', //                                                      4
  '', //                                                       5
  '#[cfg(test)]', //                                           6
  'mod tests {', //                                            7
  '    #[test]', //                                            8
  "    fn brace_in_a_char() { let _ = '{'; assert!(true); }", // 9
  '}', //                                                      10
].join('\n');

const RUST_LCOV = [
  'SF:/elsewhere/checkout/native/core/src/news2.rs',
  'DA:2,4',
  'DA:3,4',
  'DA:4,4',
  'DA:9,1',
  'BRDA:3,0,0,4',
  'BRDA:3,0,1,0',
  'end_of_record',
  'SF:/elsewhere/checkout/native/core/src/testsig.rs',
  'DA:1,5',
  'end_of_record',
  '',
].join('\n');

const HAZARDS: Hazard[] = [
  {
    id: 'HAZ-001',
    title: 'Unit mismatch',
    cause: '',
    harm: '',
    severity: 'serious',
    tests: [],
    controls: [
      { id: 'CTRL-001', summary: 's', code: 'agent/src/validation/x.ts#guarded, agent/src/validation/x.ts#Keeper.restore', requirement: 'REQ-X-001' },
      { id: 'CTRL-002', summary: 's', code: 'native/core/src/news2.rs#score, agent/src/validation/x.ts#unused', requirement: 'REQ-X-002' },
      { id: 'CTRL-003', summary: 's', code: 'native/binding/src/lib.rs#score_news2, agent/src/validation/x.ts#guarded', requirement: 'REQ-X-003' },
    ],
  },
];

function repository(t: { teardown(fn: () => void): void }): { root: string; coverage: string } {
  const root = tempRoot(t, {
    'agent/src/validation/x.ts': CONTROLS_TS,
    'agent/src/other.ts': 'export const a = 1;\nexport const b = 2;\n',
    'agent/src/never-loaded.ts': 'export const c = 3;\n',
    'agent/src/model/types.ts': "import type { A } from './a';\nimport { B } from './b';\nexport interface C {\n  a: A;\n  b: B;\n}\nexport type D = C[];\n",
    'agent/src/model/enums.ts': 'export interface E {\n  e: number;\n}\nexport enum F {\n  G,\n}\n',
    'native/core/src/lib.rs': '//! Core.\npub mod news2;\n#[cfg(test)]\nmod testsig;\n',
    'native/core/src/news2.rs': NEWS2_RS,
    'native/core/src/testsig.rs': 'pub fn sig() {}\n',
    'native/binding/src/lib.rs': 'pub fn score_news2() -> u8 {\n    0\n}\n',
    'build/test/coverage/ts/lcov.info': TS_LCOV,
    'build/test/coverage/rust.lcov': RUST_LCOV,
  });
  return { root, coverage: join(root, 'build', 'test', 'coverage') };
}

t.test('REQ-EVID-009 a risk-control unit is given the line and branch figures of its own lines, and its uncovered lines', async (t) => {
  const { root, coverage } = repository(t);
  const areas = { typescript: readArea(root, coverage, 'typescript'), rust: readArea(root, coverage, 'rust') };
  const anchors = anchorCoverage(root, HAZARDS, areas);
  const by = (a: string) => anchors.find((x) => x.anchor === a)!;

  const guarded = by('agent/src/validation/x.ts#guarded');
  t.same(guarded.range, { start: 2, end: 7 }, 'the function from its declaration to its closing brace, without its doc comment');
  t.same(guarded.controls, ['CTRL-001 (HAZ-001)', 'CTRL-003 (HAZ-001)'], 'every control naming it, once');
  t.same(guarded.figures?.lines, { hit: 4, total: 6 }, 'its 6 lines, 2 never run');
  t.same(guarded.figures?.branches, { hit: 0, total: 1 }, 'its one branch, never taken');
  t.same(guarded.figures?.uncoveredLines, [4, 5]);
  t.same(guarded.figures?.uncoveredBranchLines, [3]);

  const restore = by('agent/src/validation/x.ts#Keeper.restore');
  t.same(restore.range, { start: 10, end: 12 }, 'a method: its own lines, not its class');
  t.same(restore.figures?.branches, { hit: 2, total: 2 }, 'both arms of its ternary');

  const unused = by('agent/src/validation/x.ts#unused');
  t.same(unused.figures?.lines, { hit: 0, total: 3 }, 'a function that never ran');

  const score = by('native/core/src/news2.rs#score');
  t.same(score.range, { start: 2, end: 4 }, 'a Rust fn found by brace matching');
  t.same(score.figures?.branches, { hit: 1, total: 2 }, 'the else of `x > 1.0` never taken');

  const binding = by('native/binding/src/lib.rs#score_news2');
  t.equal(binding.figures, null, 'native/binding is not measured');
  t.match(binding.why, /native\/binding is not measured/);

  const doc = renderCoverage(areas, anchors, null, { when: '2026-01-01T10:00:00.000Z', commit: 'f'.repeat(40), record: '' });
  t.match(doc, '| `agent/src/validation/x.ts#guarded` | function | 2-7 | 66.6 % (4/6) | 0.0 % (0/1) | below target |');
  t.match(doc, '| `agent/src/validation/x.ts#Keeper.restore` | method | 10-12 | 100.0 % (3/3) | 100.0 % (2/2) | at target |');
  t.match(doc, '| `native/core/src/news2.rs#score` | fn | 2-4 | 100.0 % (3/3) | 50.0 % (1/2) | below target |');
  t.match(doc, '**5 anchored units: 1 at target, 3 below target, 1 not measured.**');
  t.match(doc, '| `agent/src/validation/x.ts#guarded` | CTRL-001 (HAZ-001), CTRL-003 (HAZ-001) | 0.0 % (0/1) | 3 | 4-5 |', 'below target, with the lines to cover');
  t.match(doc, '| `native/core/src/news2.rs#score` | CTRL-002 (HAZ-001) | 50.0 % (1/2) | 3 | - |');
  t.same(coverageGaps(areas), [], 'both areas measured: no gap while units are below target');
});

t.test('REQ-EVID-009 every product file is listed, and only test code is left out of the totals', async (t) => {
  const { root, coverage } = repository(t);
  const ts = readArea(root, coverage, 'typescript');
  t.same(
    ts.rows.map((r) => [r.path, r.note ?? 'counted']),
    [
      ['agent/src/model/enums.ts', 'not in the coverage report'],
      ['agent/src/model/types.ts', 'types only: no executable code'],
      ['agent/src/never-loaded.ts', 'not in the coverage report'],
      ['agent/src/other.ts', 'counted'],
      ['agent/src/validation/x.ts', 'counted'],
    ],
    'every file of agent/src and only those; one missing from the report is listed as such, one of types only as having no code (an enum is code)',
  );
  t.same(ts.lines, { hit: 12, total: 18 }, 'the totals add the files measured');
  t.same(ts.branches, { hit: 2, total: 3 });

  const rust = readArea(root, coverage, 'rust');
  t.same(rust.rows.map((r) => [r.path, r.note ?? 'counted']), [
    ['native/core/src/lib.rs', 'no executable code'],
    ['native/core/src/news2.rs', 'counted'],
    ['native/core/src/testsig.rs', 'test code (`#[cfg(test)]` in native/core/src/lib.rs): not in the totals'],
  ]);
  t.same(rust.lines, { hit: 3, total: 3 }, 'the lines of `mod tests` are not product code');
  t.same(rustTestRanges(NEWS2_RS), [{ start: 6, end: 10 }], 'a brace in a character literal does not end the test module');
  t.same(rustItemRange('pub fn f(a: [f64; 3]) -> f64 {\n    a[0]\n}\n', 'f')?.range, { start: 1, end: 3 }, 'a `;` inside brackets ends nothing');

  const line = summaryLine(summarizeArea(rust, 'llvm-cov'), 'Rust');
  t.equal(line, 'coverage native/core (Rust): lines 100.0 % (3/3), branches 50.0 % (1/2), 1 file (not counted: src/lib.rs: no executable code; src/testsig.rs: test code)');

  rmSync(join(coverage, 'rust.lcov'));
  const gaps = coverageGaps({ typescript: ts, rust: readArea(root, coverage, 'rust') });
  t.same(gaps.map((g) => g.subject), ['coverage of native/core'], 'a measurement missing from the run is a gap');
});

t.test('REQ-EVID-009 the V8 report lists every file of dist/agent/src, loaded or not, whatever its name', async (t) => {
  const a = ['function f(v) {', '  if (v > 10) {', '    return 10;', '  }', '  return v;', '}', 'f(1);', ''].join('\n');
  const root = tempRoot(t, {
    'dist/agent/src/a.js': a,
    // c8's default exclusions would drop this name (`**/*-test.js`): nothing of agent/src is excluded.
    'dist/agent/src/self-test.js': 'exports.run = function () {\n  return 1;\n};\n',
    'dist/hw-sim/src/sim.js': 'exports.x = 1;\n',
  });
  const block = a.indexOf('{', a.indexOf('if'));
  const v8 = {
    result: [
      {
        scriptId: '1',
        url: `file://${join(root, 'dist', 'agent', 'src', 'a.js')}`,
        functions: [
          { functionName: '', isBlockCoverage: true, ranges: [{ startOffset: 0, endOffset: a.length, count: 1 }] },
          {
            functionName: 'f',
            isBlockCoverage: true,
            ranges: [
              { startOffset: 0, endOffset: a.indexOf('f(1)'), count: 1 },
              { startOffset: block, endOffset: a.indexOf('}', block) + 1, count: 0 },
            ],
          },
        ],
      },
      { scriptId: '2', url: `file://${join(root, 'dist', 'hw-sim', 'src', 'sim.js')}`, functions: [{ functionName: '', isBlockCoverage: true, ranges: [{ startOffset: 0, endOffset: 15, count: 1 }] }] },
    ],
  };
  mkdirSync(join(root, 'v8'));
  writeFileSync(join(root, 'v8', 'coverage-1.json'), JSON.stringify(v8));
  await typescriptLcov(root, join(root, 'v8'), join(root, 'out'));
  const files = parseLcov(readFileSync(join(root, 'out', 'lcov.info'), 'utf8'));
  t.same(files.map((f) => f.path.replace(`${root}/`, '')).sort(), ['dist/agent/src/a.js', 'dist/agent/src/self-test.js'], 'agent files only, the unloaded one included');
  const fa = figures(files.find((f) => f.path.endsWith('a.js'))!);
  t.same(fa.uncoveredLines, [3, 4], 'the body of the `if` never ran (its closing brace with it)');
  t.same(fa.branches, { hit: 2, total: 3 }, 'V8 blocks as c8 counts them: the script and the function ran, the body of the `if` did not');
  const unloaded = figures(files.find((f) => f.path.endsWith('self-test.js'))!);
  t.equal(unloaded.lines.hit, 0, 'a file no test loaded is at 0 %');
  t.ok(unloaded.lines.total > 0);
});

t.test('REQ-EVID-009 make test measures coverage of agent/src without failing on a percentage, and prints it before its summary line', async (t) => {
  const ROOT = join(__dirname, '..', '..', '..');
  const makefile = readFileSync(join(ROOT, 'Makefile'), 'utf8');
  const recipe = makefile.slice(makefile.indexOf('\ntest: '), makefile.indexOf('\ntest-ts: '));
  t.match(recipe, /npx tap --reporter=tap \$\(TAP_COVERAGE\)/, 'the tap run of make test has coverage on');
  t.match(makefile, /^TAP_COVERAGE := --no-disable-coverage --coverage-map=dist\/test\/support\/coverage\/map\.js/m);
  // The compiled map, as tap loads it (`module.exports` is the function).
  const map = require(join(ROOT, 'dist', 'test', 'support', 'coverage', 'map.js')) as (file: string) => string;
  t.equal(map('dist/test/system/end-to-end.test.js'), 'dist/agent/src/**/*.js', 'every file of agent/src, whatever the test');
  const tapConfig = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { tap: Record<string, unknown> }).tap;
  t.equal(tapConfig['allow-incomplete-coverage'], true, 'a percentage never fails the run');
  t.match(recipe, /cargo \+\$\$rust_tc llvm-cov --package vigil-core/, 'the Rust core runs under cargo llvm-cov');
  const report = recipe.indexOf('dist/test/support/coverage/report.js');
  const summary = recipe.indexOf('dist/test/support/summarize.js');
  t.ok(report > 0 && report < summary, 'the coverage lines come before the `N passed, N failed` line, which stays the last');
});
