/**
 * The ward board benchmark's join of the bench subscriber's deliveries with the page's DOM changes
 * (test/support/bench/ward-board.ts), from hand-written records: no processes, no browser, no clock.
 */
import t from 'tap';
import { boardText, latencyStats, matchChanges, splitArrivals, type Delivery, type DomChange } from '../support/bench/ward-board';

const KEY = 'site1/ward-bench/bed1|respRate|patch';
const d = (wallMs: number, text: string, key = KEY): Delivery => ({ key, text, wallMs });
const c = (wallMs: number, from: string, to: string, key = KEY): DomChange => ({ key, from, to, wallMs });

t.test('REQ-PERF-007 the board text of a number is what board.js draws', async (t) => {
  t.equal(boardText(15), '15');
  t.equal(boardText(14.7), '14.7');
  t.equal(boardText(34.25), '34.25');
  t.equal(boardText(0.1 + 0.2), '0.3');
  t.equal(boardText(Number.NaN), '--');
});

t.test('REQ-PERF-007 a change joins the delivery of its new text, the first of a run, never a later one', async (t) => {
  const deliveries = [d(1000, '14.5'), d(2000, '14.9'), d(3000, '14.9'), d(4000, '15.1')];
  // 14.5 -> 14.9 at 2150: the delivery at 2000 (the one at 3000 repeats it and changes nothing).
  // 14.9 -> 15.1 at 4100: the delivery at 4000.
  const join = matchChanges(deliveries, [c(2150, '14.5', '14.9'), c(4100, '14.9', '15.1')]);
  t.same(join.samples.map((s) => [s.change, s.deliveredWallMs, s.latencyMs]), [[0, 2000, 150], [1, 4000, 100]]);
  t.equal(join.unmatched, 0);
  t.equal(join.ambiguous, 0);
});

t.test('REQ-PERF-007 a delivery after the change, or of another key, is never joined; a change with none is unmatched', async (t) => {
  const deliveries = [d(1000, '14.5'), d(1200, '14.9', 'site1/ward-bench/bed2|respRate|patch'), d(2000, '14.9')];
  const join = matchChanges(deliveries, [c(1500, '14.5', '14.9')]);
  t.equal(join.samples.length, 0);
  t.equal(join.unmatched, 1);
});

t.test('REQ-PERF-007 the page moves forward: a delivery already behind an earlier change is not joined again', async (t) => {
  const deliveries = [d(1000, '14.9'), d(2000, '15.1'), d(3000, '14.9')];
  const join = matchChanges(deliveries, [c(1100, '14.5', '14.9'), c(2100, '14.9', '15.1'), c(3100, '15.1', '14.9')]);
  t.same(join.samples.map((s) => s.deliveredWallMs), [1000, 2000, 3000]);
  t.same(join.samples.map((s) => s.latencyMs), [100, 100, 100]);
  t.equal(join.ambiguous, 0);
});

t.test('REQ-PERF-007 two candidate runs of the new text make the sample ambiguous (the page may be behind)', async (t) => {
  // The page shows 15.1 at 4500: from the delivery at 2000 or the one at 4000 (a page 2.5 s behind).
  const deliveries = [d(1000, '14.5'), d(2000, '15.1'), d(3000, '14.7'), d(4000, '15.1')];
  const join = matchChanges(deliveries, [c(1100, '14.0', '14.5'), c(4500, '14.5', '15.1')]);
  t.same(join.samples.map((s) => s.latencyMs), [100, 500]);
  t.equal(join.ambiguous, 1);
});

t.test('REQ-PERF-007 latency statistics: nearest-rank p50 and p99, max and n', async (t) => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  t.same(latencyStats(values), { n: 100, p50Ms: 50, p99Ms: 99, maxMs: 100 });
  const none = latencyStats([]);
  t.equal(none.n, 0);
  t.ok(Number.isNaN(none.p99Ms));
});

t.test('REQ-PERF-007 a tile drawn because it came on screen is counted apart, and still moves its key forward', async (t) => {
  const deliveries = [d(1000, '14.9'), d(2000, '15.1'), d(3000, '15.3')];
  // 14.9 drawn on screen at 1100; off screen meanwhile, the tile comes back at 2900 showing 15.1
  // (delivered at 2000: 900 ms, scrolling, not delivery); then 15.3 on screen at 3050.
  const changes = [c(1100, '14.5', '14.9'), { ...c(2900, '14.9', '15.1'), cameOnScreen: true }, c(3050, '15.1', '15.3')];
  const { joined, arrivals } = splitArrivals(matchChanges(deliveries, changes), changes);
  t.same(joined.samples.map((s) => [s.change, s.latencyMs]), [[0, 100], [2, 50]], 'the figure: the changes of tiles on screen');
  t.same(arrivals.map((s) => [s.change, s.latencyMs]), [[1, 900]], 'apart: the tile that came on screen');
});
