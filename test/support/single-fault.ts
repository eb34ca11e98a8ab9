/**
 * Single-fault records: each fault-injection system test records the fault, what is
 * expected, the declared quiet time and the detection time it measured (fault injected ->
 * technical alarm received by a subscriber). `make test` turns the records into
 * docs/single-fault.md (`node dist/test/support/single-fault.js`), so the table is generated
 * from the test run, never written by hand.
 *
 * A record carries no verdict: the result column is the test's own result as the runner
 * reported it (tap's JSON reporter, build/test/tap-results.json), found by the test's title.
 * A fault test that ran without leaving a record, or a record whose test has no result, is
 * shown as such, never as a pass.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTapJson } from './evidence/results';
import type { TestResult } from './evidence/results';

const ROOT = join(__dirname, '..', '..', '..');
export const RECORD_DIR = join(ROOT, 'build', 'single-fault');
const TAP_RESULTS = join(ROOT, 'build', 'test', 'tap-results.json');
const FAULT_TEST_FILE = 'single-fault.test';

export interface FaultRecord {
  /** The test's requirement id (the row's label). */
  test: string;
  /** The test's full title, by which its result is found. */
  title: string;
  fault: string;
  expected: string;
  quietTimeMs: number | null;
  detectionMs: number | null;
  alarm: string;
}

/** Records what the test measured; its verdict is the runner's, read when the report is made. */
export function recordFault(t: { name: string }, r: Omit<FaultRecord, 'title'>): void {
  mkdirSync(RECORD_DIR, { recursive: true });
  const file = r.test.replace(/[^A-Za-z0-9-]+/g, '_').slice(0, 80);
  writeFileSync(join(RECORD_DIR, `${file}.json`), `${JSON.stringify({ ...r, title: t.name }, null, 2)}\n`);
}

type Verdict = 'pass' | 'FAIL' | 'skipped' | 'no result';

function verdictOf(title: string, results: readonly TestResult[]): Verdict {
  const r = results.find((x) => x.title === title);
  if (!r) return 'no result';
  return r.status === 'pass' ? 'pass' : r.status === 'fail' ? 'FAIL' : 'skipped';
}

export function renderReport(records: FaultRecord[], results: readonly TestResult[], when: string): string {
  const rows = records
    .sort((a, b) => a.test.localeCompare(b.test))
    .map(
      (r) =>
        `| ${r.fault} | ${r.expected} | ${r.alarm} | ${r.quietTimeMs ?? '-'} | ${r.detectionMs === null ? '-' : Math.round(r.detectionMs)} | ${verdictOf(r.title, results)} | ${r.test} |`,
    );
  const recorded = new Set(records.map((r) => r.title));
  const unrecorded = results.filter((x) => x.file.includes(FAULT_TEST_FILE) && !recorded.has(x.title));
  for (const u of unrecorded) rows.push(`| (no record: the test ended before it measured) | - | - | - | - | ${u.status === 'pass' ? 'pass' : 'FAIL'} | ${u.title} |`);
  return [
    '# Single-fault safety: fault injection results',
    '',
    `Generated from the system tests of the last \`make test\` run (${when}) by`,
    '`node dist/test/support/single-fault.js`; do not edit by hand. Detection time: from the',
    'moment the test injected the fault to the moment a subscriber on the real broker received',
    'the technical alarm (wall clock of the test process). Faults run through real',
    'pseudo-terminals, the real agent process and a real Mosquitto. The result is the test\'s',
    'own result as tap reported it (every assertion of the test), never written by the test.',
    '',
    '| fault | expected | alarm received | quiet time ms | detection ms | result | test |',
    '|---|---|---|---:|---:|---|---|',
    ...rows,
    '',
  ].join('\n');
}

function readResults(): TestResult[] {
  try {
    return parseTapJson(JSON.parse(readFileSync(TAP_RESULTS, 'utf8')));
  } catch {
    return [];
  }
}

if (require.main === module) {
  let files: string[] = [];
  try {
    files = readdirSync(RECORD_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    files = [];
  }
  const records = files.map((f) => JSON.parse(readFileSync(join(RECORD_DIR, f), 'utf8')) as FaultRecord);
  const results = readResults();
  writeFileSync(join(ROOT, 'docs', 'single-fault.md'), renderReport(records, results, new Date().toISOString()));
  process.stdout.write(`docs/single-fault.md: ${records.length} fault records, ${results.length} test results\n`);
}
