/**
 * Reads the raw outputs of the two test runners and prints the one plain line CI reads:
 * `N passed, N failed` (with `, N skipped` when any were skipped). Exits 1 on any failure
 * or when no test ran at all.
 *
 *   node dist/test/support/summarize.js --tap build/test/tap.txt --cargo build/test/cargo.txt
 *
 * TAP (tap's `--reporter=tap`): each top-level `t.test` in a file is one test (indent 4);
 * a test file that failed without any failing test inside (a crash) counts as one failure.
 * cargo: the sum of every `test result:` line.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

export function tallyTap(text: string): Tally {
  const t: Tally = { passed: 0, failed: 0, skipped: 0 };
  let failedInFile = 0;
  for (const line of text.split('\n')) {
    const test = /^ {4}(not )?ok \d+ - .*?(# (SKIP|TODO)\b.*)?$/i.exec(line);
    if (test) {
      if (test[3]) t.skipped += 1;
      else if (test[1]) {
        t.failed += 1;
        failedInFile += 1;
      } else t.passed += 1;
      continue;
    }
    const file = /^(not )?ok \d+ - /.exec(line);
    if (file) {
      if (file[1] && failedInFile === 0) t.failed += 1;
      failedInFile = 0;
    }
  }
  return t;
}

export function tallyCargo(text: string): Tally {
  const t: Tally = { passed: 0, failed: 0, skipped: 0 };
  for (const m of text.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/g)) {
    t.passed += Number(m[1]);
    t.failed += Number(m[2]);
    t.skipped += Number(m[3]);
  }
  if (/error(\[E\d+\])?: could not compile|^error: test failed/m.test(text)) t.failed += 1;
  return t;
}

function read(file: string | undefined): string {
  if (!file) return '';
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { tap: { type: 'string' }, cargo: { type: 'string' } } });
  const parts = [tallyTap(read(values.tap)), tallyCargo(read(values.cargo))];
  const sum = parts.reduce((a, b) => ({ passed: a.passed + b.passed, failed: a.failed + b.failed, skipped: a.skipped + b.skipped }));
  if (values.tap && read(values.tap) === '') sum.failed += 1; // the tap run produced nothing
  if (values.cargo && read(values.cargo) === '') sum.failed += 1;
  const skipped = sum.skipped > 0 ? `, ${sum.skipped} skipped` : '';
  process.stdout.write(`${sum.passed} passed, ${sum.failed} failed${skipped}\n`);
  process.exit(sum.failed > 0 || sum.passed === 0 ? 1 : 0);
}
