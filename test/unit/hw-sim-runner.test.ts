/** hw-sim pacing and command line, on a fake clock: no sleeping, no pty. */
import t from 'tap';
import { parseArgs, parseStartTime } from '../../hw-sim/src/args';
import { MasimoAsciiDevice } from '../../hw-sim/src/devices/masimo-ascii';
import { alarmBitsChange, monotonicClockMs, startRunner, type AlarmBitsEvent, type FrameEvent, type Timers } from '../../hw-sim/src/runner';
import { createScenario } from '../../hw-sim/src/scenarios';

/** Timers on a fake monotonic clock; every timer fires `latenessMs` after it is due. */
class FakeTime implements Timers {
  nowMs = 1000;
  private queue: Array<{ dueMs: number; cb: () => void; id: number }> = [];
  private nextId = 1;
  constructor(private readonly latenessMs: number) {}
  setTimeout(cb: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.queue.push({ dueMs: this.nowMs + ms, cb, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.queue = this.queue.filter((entry) => entry.id !== handle);
  }
  /** Runs timers in due order until none is left or `maxSteps` ran. */
  runAll(maxSteps: number): void {
    for (let step = 0; step < maxSteps && this.queue.length > 0; step++) {
      this.queue.sort((a, b) => a.dueMs - b.dueMs);
      const entry = this.queue.shift()!;
      this.nowMs = Math.max(this.nowMs, entry.dueMs + this.latenessMs);
      entry.cb();
    }
  }
}

function source(): MasimoAsciiDevice {
  return new MasimoAsciiDevice({
    scenario: createScenario('stable', 1),
    seed: 1,
    startTime: { year: 2026, month: 1, day: 1, hour: 10, minute: 0, second: 0 },
    serialNumber: null,
    includePvi: false,
    injections: [{ kind: 'malformed', frameIndex: 2 }],
  });
}

t.test('REQ-HWSIM-001 frames follow the period without drift when every timer fires late', async (t) => {
  const time = new FakeTime(7);
  const sentAtMs: number[] = [];
  const events: FrameEvent[] = [];
  const runner = startRunner({
    device: 'masimo-ascii',
    source: source(),
    write: () => {
      sentAtMs.push(time.nowMs);
      return true;
    },
    periodMs: 1000,
    frames: 100,
    clock: { nowMs: () => time.nowMs },
    wallNowMs: () => 1_700_000_000_000 + time.nowMs,
    timers: time,
    onFrame: (e) => events.push(e),
  });
  time.runAll(1000);
  await runner.finished;
  t.equal(sentAtMs.length, 100, 'stops after --frames');
  const offsets = sentAtMs.map((at, n) => at - 1000 - n * 1000);
  t.ok(offsets.every((o) => o >= 0 && o <= 7), `each frame within one timer lateness of start + n * period (last offset ${offsets[99]} ms, not 700)`);
  t.same(events.map((e) => e.index), Array.from({ length: 100 }, (_, i) => i), 'indices 0..99');
  t.equal(events[2]!.injected, 'malformed');
  t.equal(events[3]!.deviceTime, '2026-01-01T10:00:03');
  t.equal(events[0]!.sentWallMs, 1_700_000_000_000 + sentAtMs[0]!, 'sentWallMs from the wall clock');
  t.same(Object.keys(events[0]!).sort(), ['alarmBits', 'device', 'deviceTime', 'dropped', 'event', 'index', 'injected', 'lateMs', 'pulseBpm', 'sentWallMs', 'spo2Percent']);
  t.same(events.map((e) => e.lateMs), sentAtMs.map((at, n) => at - 1000 - n * 1000), 'lateMs is the lateness against the schedule');
});

t.test('REQ-HWSIM-001 a stalled loop sends the late frame at once and keeps the schedule', async (t) => {
  const time = new FakeTime(0);
  const sentAtMs: number[] = [];
  const runner = startRunner({
    device: 'masimo-ascii',
    source: source(),
    write: () => {
      sentAtMs.push(time.nowMs);
      if (sentAtMs.length === 3) time.nowMs += 2500; // the event loop stalls for 2.5 periods
      return sentAtMs.length !== 5;
    },
    periodMs: 1000,
    frames: 8,
    clock: { nowMs: () => time.nowMs },
    wallNowMs: () => time.nowMs,
    timers: time,
    onFrame: () => undefined,
  });
  time.runAll(100);
  await runner.finished;
  t.same(sentAtMs.map((at) => at - 1000), [0, 1000, 2000, 4500, 4500, 5000, 6000, 7000]);
});

t.test('REQ-HWSIM-001 a timer that fires early is re-armed: no frame leaves before its slot', async (t) => {
  const time = new FakeTime(-0.6); // every timer fires 0.6 ms early, as Node's may
  const sentAtMs: number[] = [];
  const runner = startRunner({
    device: 'masimo-ascii',
    source: source(),
    write: () => {
      sentAtMs.push(time.nowMs);
      return true;
    },
    periodMs: 1000,
    frames: 5,
    clock: { nowMs: () => time.nowMs },
    wallNowMs: () => time.nowMs,
    timers: time,
    onFrame: () => undefined,
  });
  time.runAll(100);
  await runner.finished;
  t.equal(sentAtMs.length, 5);
  t.ok(sentAtMs.every((at, n) => at >= 1000 + n * 1000), `never early (${sentAtMs.map((at, n) => (at - 1000 - n * 1000).toFixed(1)).join(', ')})`);
});

t.test('REQ-HWSIM-001 stop() ends the frames; a dropped write is reported', async (t) => {
  const time = new FakeTime(0);
  const events: FrameEvent[] = [];
  const runner = startRunner({
    device: 'masimo-ascii',
    source: source(),
    write: () => events.length !== 1,
    periodMs: 50,
    frames: null,
    clock: { nowMs: () => time.nowMs },
    wallNowMs: () => time.nowMs,
    timers: time,
    onFrame: (e) => {
      events.push(e);
      if (events.length === 4) runner.stop();
    },
  });
  time.runAll(100);
  await runner.finished;
  t.equal(events.length, 4);
  t.same(events.map((e) => e.dropped), [false, true, false, false]);
});

t.test('REQ-HWSIM-015 each change of the ALARM field is reported once, after its frame, with the bits raised and ended and the time its line left on both clocks', async (t) => {
  const time = new FakeTime(3);
  const device = new MasimoAsciiDevice({
    scenario: createScenario('alarm-cycles', 5),
    seed: 5,
    startTime: { year: 2026, month: 1, day: 1, hour: 10, minute: 0, second: 0 },
    serialNumber: null,
    includePvi: false,
    injections: [],
  });
  const order: string[] = [];
  const frames: FrameEvent[] = [];
  const changes: AlarmBitsEvent[] = [];
  const runner = startRunner({
    device: 'masimo-ascii',
    source: device,
    write: () => true,
    periodMs: 1000,
    frames: 7,
    clock: { nowMs: () => time.nowMs },
    wallNowMs: () => 1_700_000_000_000 + time.nowMs,
    monoNowMs: () => 50_000 + time.nowMs,
    timers: time,
    onFrame: (e) => {
      frames.push(e);
      order.push(`frame ${e.index}`);
    },
    onAlarmBits: (e) => {
      changes.push(e);
      order.push(`alarm-bits ${e.index}`);
    },
  });
  time.runAll(100);
  await runner.finished;
  // alarm-cycles: SpO2 at 86 % on odd device seconds, below the default low limit of 90 %: the
  // device sets 0x0002 (SpO2 low limit) + 0x0010 (alarm active) on lines 1, 3, 5 and none on 0, 2, 4, 6.
  t.same(frames.map((f) => f.alarmBits), [0, 0x12, 0, 0x12, 0, 0x12, 0], 'the frame events carry the ALARM field');
  t.same(order, ['frame 0', 'frame 1', 'alarm-bits 1', 'frame 2', 'alarm-bits 2', 'frame 3', 'alarm-bits 3', 'frame 4', 'alarm-bits 4', 'frame 5', 'alarm-bits 5', 'frame 6', 'alarm-bits 6'], 'one event per change, after its frame; none for an unchanged field');
  t.same(changes.map((c) => [c.index, c.alarmBits, c.raisedBits, c.endedBits]), [
    [1, 0x12, 0x12, 0], [2, 0, 0, 0x12], [3, 0x12, 0x12, 0], [4, 0, 0, 0x12], [5, 0x12, 0x12, 0], [6, 0, 0, 0x12],
  ], 'raised on the first line with the bits, ended on the first without');
  for (const c of changes) {
    const f = frames[c.index]!;
    t.equal(c.sentWallMs, f.sentWallMs, `line ${c.index}: the frame's wall time`);
    t.equal(c.sentMonoMs, c.sentWallMs - 1_700_000_000_000 + 50_000, `line ${c.index}: the monotonic time of the same instant`);
  }
  t.same(Object.keys(changes[0]!).sort(), ['alarmBits', 'device', 'dropped', 'endedBits', 'event', 'index', 'raisedBits', 'sentMonoMs', 'sentWallMs']);
});

t.test('REQ-HWSIM-015 the bits raised and ended between two ALARM fields, up to the 32 bits the field holds', async (t) => {
  t.same(alarmBitsChange(0, 0x12), { raisedBits: 0x12, endedBits: 0 });
  t.same(alarmBitsChange(0x12, 0), { raisedBits: 0, endedBits: 0x12 });
  t.same(alarmBitsChange(0x12, 0x16), { raisedBits: 0x04, endedBits: 0 }, 'pulse high added while SpO2 low stays');
  t.same(alarmBitsChange(0x16, 0x14), { raisedBits: 0, endedBits: 0x02 });
  t.same(alarmBitsChange(0x8000_0000, 0x1), { raisedBits: 0x1, endedBits: 0x8000_0000 }, 'the top bit stays unsigned');
  t.same(alarmBitsChange(0x12, 0x12), { raisedBits: 0, endedBits: 0 });
  const before = monotonicClockMs();
  t.ok(before > 0 && monotonicClockMs() >= before, 'CLOCK_MONOTONIC never goes back');
});

t.test('REQ-HWSIM-001 command line: defaults, both option forms, and clear errors', async (t) => {
  const ok = parseArgs(['masimo-ascii']);
  t.same(ok.ok ? ok.config : null, {
    device: 'masimo-ascii', scenario: 'stable', seed: 1, periodMs: 1000, link: null, frames: null, exitAfterFrames: false,
    injections: [], startTime: null, includeSerial: true, serialNumber: null, includePvi: false,
    alarmLimits: { spo2LowPercent: 90, spo2HighPercent: 100, pulseLowBpm: 50, pulseHighBpm: 120 }, unplugQuietMs: 100,
  });
  const full = parseArgs([
    'masimo-ascii', '--scenario', 'desaturation', '--seed=-3', '--period-ms', '50', '--link', '/tmp/x', '--frames', '5',
    '--exit-after-frames', '--inject', 'malformed@2,overlong@0', '--start-time', '2026-01-01T10:00:00', '--no-serial', '--pvi',
    '--unplug-quiet-ms', '0', '--spo2-low-limit', '88', '--pulse-high-limit=140',
  ]);
  t.same(full.ok ? full.config : null, {
    device: 'masimo-ascii', scenario: 'desaturation', seed: -3, periodMs: 50, link: '/tmp/x', frames: 5, exitAfterFrames: true,
    injections: [{ kind: 'malformed', frameIndex: 2 }, { kind: 'overlong', frameIndex: 0 }],
    startTime: { year: 2026, month: 1, day: 1, hour: 10, minute: 0, second: 0 }, includeSerial: false, serialNumber: null, includePvi: true,
    alarmLimits: { spo2LowPercent: 88, spo2HighPercent: 100, pulseLowBpm: 50, pulseHighBpm: 140 }, unplugQuietMs: 0,
  });
  t.same(parseArgs(['masimo-ascii', '--spo2-low-limit', '101']), { ok: false, help: false, message: 'hw-sim: --spo2-low-limit must be an integer from 0 to 100' });
  t.same(parseArgs(['masimo-ascii', '--help']), { ok: false, help: true });
  const errors: Array<[string[], string]> = [
    [[], 'hw-sim: missing device (expected: masimo-ascii)'],
    [['nonin'], 'hw-sim: unknown device (expected: masimo-ascii)'],
    [['masimo-ascii', '--seed', '1.5'], 'hw-sim: --seed must be an integer'],
    [['masimo-ascii', '--seed'], 'hw-sim: --seed needs a value'],
    [['masimo-ascii', '--seed', '1', '--seed', '2'], 'hw-sim: --seed given twice'],
    [['masimo-ascii', '--period-ms', '0'], 'hw-sim: --period-ms must be an integer from 1 to 3600000'],
    [['masimo-ascii', '--frames', '-1'], 'hw-sim: --frames must be a non-negative integer'],
    [['masimo-ascii', '--scenario', 'apnoea'], 'hw-sim: --scenario must be one of stable, desaturation, sensor-off, alarm-cycles'],
    [['masimo-ascii', '--inject', 'noise@1'], 'hw-sim: --inject kind must be one of malformed, unknown-field, garbage, overlong, frozen, bit-error (as <kind>@<index>)'],
    [['masimo-ascii', '--inject', 'malformed'], 'hw-sim: --inject kind must be one of malformed, unknown-field, garbage, overlong, frozen, bit-error (as <kind>@<index>)'],
    [['masimo-ascii', '--inject', 'malformed@x'], 'hw-sim: --inject index must be a non-negative integer'],
    [['masimo-ascii', '--inject', 'malformed@1,garbage@1'], 'hw-sim: --inject gives the same frame index twice'],
    [['masimo-ascii', '--start-time', '2026-02-30T10:00:00'], 'hw-sim: --start-time must be a valid YYYY-MM-DDTHH:MM:SS in years 2000..2099'],
    [['masimo-ascii', '--exit-after-frames'], 'hw-sim: --exit-after-frames needs --frames'],
    [['masimo-ascii', '--pvi=yes'], 'hw-sim: --pvi takes no value'],
    [['masimo-ascii', '--baud', '9600'], 'hw-sim: unknown option --baud'],
    [['masimo-ascii', '--unplug-quiet-ms', '-5'], 'hw-sim: --unplug-quiet-ms must be an integer from 0 to 10000'],
    [['masimo-ascii', '--serial', '12ab'], 'hw-sim: --serial must be 1 to 10 digits'],
  ];
  for (const [argv, message] of errors) {
    const r = parseArgs(argv);
    t.same(r.ok || r.help ? null : r.message, message, argv.join(' ') || '(no arguments)');
  }
  t.equal(parseStartTime('1999-12-31T23:59:59'), null, 'the line has a two-digit year: 2000..2099 only');
  t.equal(parseStartTime('2026-01-01 10:00:00'), null, 'the T is required');
});
