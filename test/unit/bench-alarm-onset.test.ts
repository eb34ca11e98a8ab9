/**
 * The alarm onset benchmark's join of hw-sim's onsets with the station's raises
 * (test/support/bench/alarm-onset.ts), from hand-written events and records: no processes, no clock.
 */
import t from 'tap';
import { alertOnsetsOf, joinOnsets, MONITOR_SPO2_LOW_ALARM_ID, onsetsOf, onsetStats, raisesOf, SPO2_LOW_ALARM_ID, SPO2_LOW_BIT } from '../support/bench/alarm-onset';
import type { StationRecord } from '../support/bench/station';

/** hw-sim's alarm-bits event of line `index`, sent at wall `wallMs` and monotonic `monoMs`. */
function bits(index: number, wallMs: number, monoMs: number, alarmBits: number, raisedBits: number, endedBits: number, dropped = false): Record<string, unknown> {
  return { event: 'alarm-bits', device: 'masimo-ascii', index, sentWallMs: wallMs, sentMonoMs: monoMs, alarmBits, raisedBits, endedBits, dropped };
}

/** A station record of an alarm message. */
function alarm(o: { g?: string; a?: string; state?: string; s?: number; bf?: boolean; cw: number; r: number; rm: number }): StationRecord {
  return {
    r: o.r,
    rm: o.rm,
    k: 'alarm',
    topic: `vigil/v1/site1/ward1/bed1/alarm/${o.a ?? SPO2_LOW_ALARM_ID}`,
    g: o.g ?? 'gw-bench',
    s: o.s ?? 7,
    boot: 'b1',
    bf: o.bf ?? false,
    sw: o.cw,
    a: o.a ?? SPO2_LOW_ALARM_ID,
    cond: 'device-spo2-low',
    state: o.state ?? 'ALARM_STATE_ACTIVE',
    cw: o.cw,
  };
}

t.test('REQ-PERF-006 the onsets of the SpO2-low bit are the alarm-bits events that raise it, on lines that left', async (t) => {
  const events = [
    { event: 'frame', index: 0, sentWallMs: 1000, alarmBits: 0 },
    bits(1, 2000, 51_000.25, 0x12, 0x12, 0),
    bits(2, 3000, 52_000, 0, 0, 0x12),
    bits(3, 4000, 53_000, 0x14, 0x14, 0),
    bits(4, 5000, 54_000, 0x16, 0x02, 0),
    bits(5, 6000, 55_000, 0, 0, 0x16),
    bits(7, 8000, 57_000, 0x12, 0x12, 0, true),
    { event: 'alarm-bits', index: 9, raisedBits: 0x12 },
  ];
  t.same(onsetsOf(events, SPO2_LOW_BIT), [
    { index: 1, sentWallMs: 2000, sentMonoMs: 51_000.25 },
    { index: 4, sentWallMs: 5000, sentMonoMs: 54_000 },
  ], 'line 1 raises it; line 3 raises pulse high only; line 4 adds SpO2 low to it; a dropped line never reached the gateway; an event without its times is not one');
});

t.test('REQ-PERF-006 the onsets of the HL7 monitor\'s alert are its ORU^R40 starts, never a continue, an end, a fault or a message that did not leave', async (t) => {
  const alert = (index: number, phase: string, wallMs: number, monoMs: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    event: 'alert', device: 'hl7-monitor', index, controlId: `HWSIM1-${index}-A1`, instanceId: `HWSIM-ALERT-${index}`, phase, state: 'active', injected: null, sentWallMs: wallMs, sentMonoMs: monoMs, dropped: false, ...extra,
  });
  const events = [
    { event: 'frame', device: 'hl7-monitor', index: 0, sentWallMs: 900 },
    alert(1, 'start', 1000, 20_000.5),
    alert(11, 'continue', 11_000, 30_000),
    alert(12, 'end', 12_000, 31_000, { state: 'inactive' }),
    alert(13, 'start', 13_000, 32_000, { injected: 'alert-malformed' }),
    alert(14, 'start', 14_000, 33_000, { dropped: true }),
    alert(15, 'start', 15_000, 34_000),
    { event: 'ack', device: 'hl7-monitor', index: 15, sentWallMs: 15_001 },
  ];
  t.same(alertOnsetsOf(events), [
    { index: 1, sentWallMs: 1000, sentMonoMs: 20_000.5 },
    { index: 15, sentWallMs: 15_000, sentMonoMs: 34_000 },
  ]);
  t.equal(MONITOR_SPO2_LOW_ALARM_ID, 'monitor.device-alarm-medium.196670-150456', 'hw-sim\'s MDC_EVT_LO on MDC_PULS_OXIM_SAT_O2 at PM, as the agent relays it (test/integration/hl7-pcd01-driver.test.ts)');
});

t.test('REQ-PERF-006 the raises are the live changes to active of that alarm of that gateway, not its re-announcements', async (t) => {
  const raise = alarm({ cw: 2005, r: 2010, rm: 51_010 });
  const records = [
    raise,
    alarm({ cw: 2005, r: 4000, rm: 53_000, s: 0 }),
    alarm({ cw: 3004, r: 3008, rm: 52_008, state: 'ALARM_STATE_CLEARED' }),
    alarm({ cw: 2005, r: 2011, rm: 51_011, g: 'gw-other' }),
    alarm({ cw: 2005, r: 2012, rm: 51_012, a: 'spo2.news2-low-medium' }),
    alarm({ cw: 2005, r: 2013, rm: 51_013, bf: true }),
    { ...raise, k: 'observation' as const },
  ];
  t.same(raisesOf(records, 'gw-bench', SPO2_LOW_ALARM_ID), [raise], 'a re-announcement (no sequence number), a clear, another gateway, another alarm, a backfill and an observation are not raises');
});

t.test('REQ-PERF-006 each raise joins the latest onset sent before the gateway raised it; latency on the monotonic clock', async (t) => {
  const onsets = [
    { index: 1, sentWallMs: 1000, sentMonoMs: 10_000.5 },
    { index: 3, sentWallMs: 3000, sentMonoMs: 12_000 },
    { index: 5, sentWallMs: 5000, sentMonoMs: 14_000 },
    { index: 7, sentWallMs: 7000, sentMonoMs: 16_000 },
  ];
  const raises = [
    // Received out of order against the list: the join goes by receipt on the monotonic clock.
    alarm({ cw: 5003, r: 5011, rm: 14_011 }),
    alarm({ cw: 1004, r: 1009, rm: 10_009.25 }),
    // A second raise of onset 5 (its text changed): not a second sample.
    alarm({ cw: 5900, r: 5905, rm: 14_905 }),
    // Raised before any onset was sent (an alarm already on when the window's onsets began).
    alarm({ cw: 900, r: 905, rm: 9_905 }),
    alarm({ cw: 7002, r: 7480, rm: 16_480 }),
  ];
  const join = joinOnsets(onsets, raises);
  t.same(join.samples.map((s) => [s.onset.index, s.latencyMs, s.toRaiseMs, s.toStationMs]), [
    [1, 8.75, 4, 5],
    [5, 11, 3, 8],
    [7, 480, 2, 478],
  ], 'onset -> station on CLOCK_MONOTONIC; the parts on the wall clock');
  t.same(join.missed.map((o) => o.index), [3], 'the onset no raise names is missed, and the next raise is not taken for it');
  t.equal(join.unexplained, 2, 'the second raise of one onset and the raise before any onset');
  const stats = onsetStats(join.samples);
  t.same([stats.n, stats.p50Ms, stats.p99Ms, stats.maxMs], [3, 11, 480, 480], 'n, nearest-rank p50 and p99, max');
  t.same(stats.toStation, { p50Ms: 8, p99Ms: 478 }, 'raise -> station p50 and p99');
  t.same(joinOnsets([], []), { samples: [], missed: [], unexplained: 0 }, 'nothing to join');
  t.ok(Number.isNaN(onsetStats([]).p99Ms) && onsetStats([]).n === 0, 'no onsets: no figure, never 0 ms');
});
