/**
 * Unit tests of the bed page's 4-hour history (agent/src/station/web/trends.ts), on hand-made
 * station views and a simulated clock: one point per 5 s per series, only current values, the
 * window and the memory bound, and the alarm log with who acknowledged.
 */
import t from 'tap';
import type { BedView, ValueView } from '../../agent/src/station/station';
import { ALARM_LOG_LIMIT, STEP_MS, TrendBook, WINDOW_MS } from '../../agent/src/station/web/trends';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const BED = 'site1/ward7/bed12';

function value(parameter: string, v: number | null, current = true, source = ''): ValueView {
  // Cast: the fields trends.ts reads; others the view may grow do not matter here.
  return { parameter, source, value: v, unit: '%', ageMs: 0, current, status: 'final', quality: [], reason: '', backfill: false, stopped: !current, enteredBy: '', valueCode: '', interfaceId: source, driver: '' } as ValueView;
}

function view(values: ValueView[], news2: { total: number; current: boolean } | null = null): BedView {
  return {
    bed: BED,
    gatewayId: 'gw',
    gateway: 'online',
    gatewayReason: '',
    heartbeatAgeMs: 0,
    values,
    score: news2 ? { total: news2.total, riskLevel: 'low', complete: false, missing: [], ageMs: 0, current: news2.current, backfill: false, spo2Scale: 1, manualInputs: [] } : null,
    alarms: [],
    sequenceGaps: 0,
    missingMessages: 0,
    runs: [],
    duplicates: 0,
    backfill: { received: 0, oldestWallMs: null, newestWallMs: null, recent: [] },
  };
}

t.test('REQ-WEB-010 one point per 5 s per series, the newest value of each step; NEWS2 as its own series', async (t) => {
  const book = new TrendBook();
  // Samples every second for 20 s, SpO2 counting up so that each point says which sample it is.
  for (let s = 0; s < 20; s += 1) book.sample([view([value('spo2', 90 + s)], { total: s, current: true })], T0 + s * 1000);
  const tr = book.trends(BED, T0 + 20_000)!;
  t.same(tr.series.spo2, [
    [T0 + 4000, 94],
    [T0 + 9000, 99],
    [T0 + 14000, 104],
    [T0 + 19000, 109],
  ], 'four 5-s steps, each holding its last sample');
  t.same(tr.news2.map((p) => p[1]), [4, 9, 14, 19], 'NEWS2 totals likewise');
  t.equal(tr.toWallMs - tr.fromWallMs, WINDOW_MS, 'the window is 4 hours');
  t.equal(STEP_MS, 5000);
  t.equal(book.trends('site1/ward7/nobed', T0), null, 'a bed never heard of');
});

t.test('REQ-WEB-010 HAZ-012 a value not current (stale, withdrawn, backfilled) or a score not current leaves a gap, never a point', async (t) => {
  const book = new TrendBook();
  book.sample([view([value('spo2', 97), value('pulseRate', 70)], { total: 1, current: true })], T0);
  book.sample([view([value('spo2', 97, false), value('pulseRate', null)], { total: 5, current: false })], T0 + 5000);
  book.sample([view([value('spo2', 96)], { total: 2, current: true })], T0 + 10_000);
  const tr = book.trends(BED, T0 + 10_000)!;
  t.same(tr.series.spo2, [[T0, 97], [T0 + 10_000, 96]], 'no point in the step where SpO2 was stale');
  t.same(tr.series.pulseRate, [[T0, 70]], 'none for the withdrawn pulse');
  t.same(tr.news2, [[T0, 1], [T0 + 10_000, 2]], 'none for the score that was not current');
});

t.test('REQ-WEB-010 a parameter from two sources is two series, named parameter@source', async (t) => {
  const book = new TrendBook();
  book.sample([view([value('heartRate', 72, true, 'monitor'), value('heartRate', 74, true, 'patch')])], T0);
  t.same(Object.keys(book.trends(BED, T0)!.series), ['heartRate@monitor', 'heartRate@patch']);
});

t.test('REQ-WEB-010 only the last 4 hours are kept: memory stays bounded after 5 hours at 1 Hz', async (t) => {
  const book = new TrendBook();
  const steps = WINDOW_MS / STEP_MS;
  for (let s = 0; s <= 5 * 3600; s += 1) book.sample([view([value('spo2', 95), value('pulseRate', 80)], { total: 3, current: true })], T0 + s * 1000);
  const now = T0 + 5 * 3600_000;
  const tr = book.trends(BED, now)!;
  t.ok(tr.series.spo2!.length <= steps + 1, `at most one point per step of the window (${tr.series.spo2!.length})`);
  t.ok(tr.series.spo2!.length >= steps - 1, 'and every step has one');
  t.ok(tr.series.spo2!.every((p) => p[0] >= now - WINDOW_MS), 'nothing older than 4 hours');
  t.ok(book.points <= 3 * (steps + 1), `points kept in all: ${book.points}`);
});

t.test('REQ-WEB-010 the alarm log: each change once, with who acknowledged, in time order, bounded', async (t) => {
  const book = new TrendBook();
  const base = { alarmId: 'spo2.link-lost', priority: 'medium', detail: 'no data', by: '' };
  book.noteAlarm(BED, { ...base, wallMs: T0, state: 'active' });
  book.noteAlarm(BED, { ...base, wallMs: T0 + 10_000, state: 'active' }); // re-announced
  book.noteAlarm(BED, { ...base, wallMs: T0 + 20_000, state: 'acknowledged', by: 'nurse-a' });
  book.noteAlarm(BED, { ...base, wallMs: T0 + 30_000, state: 'cleared' });
  book.noteAlarm(BED, { ...base, wallMs: T0 + 40_000, state: 'active' }); // raised again
  book.noteAlarm(BED, { ...base, alarmId: 'gateway.news2-low-medium', priority: 'low', wallMs: T0 + 15_000, state: 'active' }); // arrived late
  const log = book.trends(BED, T0 + 60_000)!.alarmLog;
  t.same(log.map((e) => [e.wallMs - T0, e.alarmId, e.state, e.by]), [
    [0, 'spo2.link-lost', 'active', ''],
    [15_000, 'gateway.news2-low-medium', 'active', ''],
    [20_000, 'spo2.link-lost', 'acknowledged', 'nurse-a'],
    [30_000, 'spo2.link-lost', 'cleared', ''],
    [40_000, 'spo2.link-lost', 'active', ''],
  ]);
  for (let i = 0; i < ALARM_LOG_LIMIT + 50; i += 1) book.noteAlarm(BED, { ...base, alarmId: `a${i}`, wallMs: T0 + 50_000 + i, state: 'active' });
  t.equal(book.trends(BED, T0 + 60_000)!.alarmLog.length, ALARM_LOG_LIMIT, 'at most ALARM_LOG_LIMIT entries, the oldest dropped');
});
