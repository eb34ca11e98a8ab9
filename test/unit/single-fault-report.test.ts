/**
 * The single-fault table (docs/single-fault.md) takes each verdict from the runner's result of
 * the test that measured it, never from the test itself: a record whose test failed shows FAIL,
 * a record without a result shows "no result", a fault test without a record is listed.
 */
import t from 'tap';
import type { TestResult } from '../support/evidence/results';
import type { FaultRecord } from '../support/single-fault';
import { renderReport } from '../support/single-fault';

const record = (test: string, title: string): FaultRecord => ({ test, title, fault: `fault ${test}`, expected: 'alarm', quietTimeMs: 2000, detectionMs: 1500, alarm: 'x.link-lost (medium)' });
const result = (title: string, status: TestResult['status']): TestResult => ({
  runner: 'tap',
  file: 'dist/test/system/single-fault.test.js',
  layer: 'system',
  title,
  fullName: `dist/test/system/single-fault.test.js > ${title}`,
  status,
  durationMs: 1,
});
const row = (text: string, test: string): string => text.split('\n').find((l) => l.endsWith(`| ${test} |`)) ?? '';

t.test('REQ-EVID-008 a single-fault verdict is the runner\'s result of its test, never a literal', async (t) => {
  const text = renderReport(
    [record('REQ-SAFE-030', 'REQ-SAFE-030 unplug'), record('REQ-SAFE-040', 'REQ-SAFE-040 swapped'), record('REQ-SAFE-031', 'REQ-SAFE-031 silent')],
    [result('REQ-SAFE-030 unplug', 'pass'), result('REQ-SAFE-040 swapped', 'fail'), result('REQ-SAFE-099 crashed early', 'fail')],
    '2026-12-07',
  );
  t.match(row(text, 'REQ-SAFE-030'), /\| pass \|/, 'a passing test: pass');
  t.match(row(text, 'REQ-SAFE-040'), /\| FAIL \|/, 'a failing test with a record: FAIL');
  t.match(row(text, 'REQ-SAFE-031'), /\| no result \|/, 'a record without a result: no result, never pass');
  t.match(text, /no record: the test ended before it measured\) \| - \| - \| - \| - \| FAIL \| REQ-SAFE-099 crashed early \|/, 'a fault test that left no record is listed with its result');
});
