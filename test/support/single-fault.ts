/**
 * Single-fault records: each fault-injection system test records the fault, what is
 * expected, the declared quiet time and the detection time it measured (fault injected ->
 * technical alarm received by a subscriber). `make test` turns the records into
 * docs/single-fault.md (`node dist/test/support/single-fault.js`), so the table is generated
 * from the test run, never written by hand.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
export const RECORD_DIR = join(ROOT, 'build', 'single-fault');

export interface FaultRecord {
  test: string;
  fault: string;
  expected: string;
  quietTimeMs: number | null;
  detectionMs: number | null;
  alarm: string;
  passed: boolean;
}

export function recordFault(r: FaultRecord): void {
  mkdirSync(RECORD_DIR, { recursive: true });
  const file = r.test.replace(/[^A-Za-z0-9-]+/g, '_').slice(0, 80);
  writeFileSync(join(RECORD_DIR, `${file}.json`), `${JSON.stringify(r, null, 2)}\n`);
}

export function renderReport(records: FaultRecord[], when: string): string {
  const rows = records
    .sort((a, b) => a.test.localeCompare(b.test))
    .map(
      (r) =>
        `| ${r.fault} | ${r.expected} | ${r.alarm} | ${r.quietTimeMs ?? '-'} | ${r.detectionMs === null ? '-' : Math.round(r.detectionMs)} | ${r.passed ? 'pass' : 'FAIL'} | ${r.test} |`,
    );
  return [
    '# Single-fault safety: fault injection results',
    '',
    `Generated from the system tests of the last \`make test\` run (${when}) by`,
    '`node dist/test/support/single-fault.js`; do not edit by hand. Detection time: from the',
    'moment the test injected the fault to the moment a subscriber on the real broker received',
    'the technical alarm (wall clock of the test process). Faults run through real',
    'pseudo-terminals, the real agent process and a real Mosquitto.',
    '',
    '| fault | expected | alarm received | quiet time ms | detection ms | result | test |',
    '|---|---|---|---:|---:|---|---|',
    ...rows,
    '',
  ].join('\n');
}

if (require.main === module) {
  let files: string[] = [];
  try {
    files = readdirSync(RECORD_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    files = [];
  }
  const records = files.map((f) => JSON.parse(readFileSync(join(RECORD_DIR, f), 'utf8')) as FaultRecord);
  writeFileSync(join(ROOT, 'docs', 'single-fault.md'), renderReport(records, new Date().toISOString()));
  process.stdout.write(`docs/single-fault.md: ${records.length} fault records\n`);
}
