/**
 * Paces a simulated device: frame n is written at start + n * periodMs on a monotonic clock.
 * Each timer is armed from that schedule, not from the previous timer, so lateness does not
 * accumulate (setInterval would drift by the event-loop delay of every tick). A frame that is
 * late (event loop stalled) is sent at once; the schedule of the following frames is unchanged.
 *
 * Clock and timers are injected so that tests run the schedule on a fake clock.
 */
import { formatDeviceTime, type EmittedFrame } from './devices/masimo-ascii';

export interface MonotonicClock {
  nowMs(): number;
}

export interface Timers {
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface FrameSource {
  nextFrame(): EmittedFrame;
}

/** The ground-truth record printed on stderr for every frame written. */
export interface FrameEvent {
  event: 'frame';
  device: string;
  index: number;
  /**
   * Wall clock (Date.now()) just before the bytes were handed to the pty, so that a receiver
   * on the same machine never stamps a frame earlier than this (taken after the write, a
   * sender preempted between the two would record a time after the agent's receipt).
   */
  sentWallMs: number;
  /**
   * How late the write was against the drift-free schedule (start + index * periodMs), on the
   * monotonic clock, in ms with 0.1 ms resolution. sentWallMs - lateMs is the scheduled time.
   */
  lateMs: number;
  spo2Percent: number | null;
  pulseBpm: number | null;
  /** The ALARM field of the line (docs/interfaces/masimo-ascii.md, "ALARM bits"). */
  alarmBits: number;
  injected: EmittedFrame['injected'];
  /** Device-local time written in the line, YYYY-MM-DDTHH:MM:SS. */
  deviceTime: string;
  /** true when the pty backlog was full (nobody reading) and the bytes were lost. */
  dropped: boolean;
}

/**
 * Reported after the frame event of every line whose ALARM field differs from the previous line's
 * (the first line: from none set): the onset and the end of each device alarm, with the time its
 * line left. The alarm onset benchmark measures from here to the station (docs/benchmarks.md).
 */
export interface AlarmBitsEvent {
  event: 'alarm-bits';
  device: string;
  index: number;
  /** As the frame event's: Date.now() just before the bytes were handed to the pty. */
  sentWallMs: number;
  /**
   * The same instant on CLOCK_MONOTONIC (process.hrtime: ms, 0.001 ms resolution): one clock for
   * every process of this machine (unlike performance.now(), whose origin is the process start),
   * and no step when the wall clock is set.
   */
  sentMonoMs: number;
  alarmBits: number;
  /** Bits set on this line and not on the previous one: the onset of each. */
  raisedBits: number;
  /** Bits set on the previous line and not on this one. */
  endedBits: number;
  dropped: boolean;
}

/** CLOCK_MONOTONIC in ms with 0.001 ms resolution (process.hrtime.bigint() is libuv's uv_hrtime). */
export function monotonicClockMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/** The bits that came on and went off between two ALARM fields (unsigned 32-bit, as the decoder holds them). */
export function alarmBitsChange(previous: number, current: number): { raisedBits: number; endedBits: number } {
  return { raisedBits: (current & ~previous) >>> 0, endedBits: (previous & ~current) >>> 0 };
}

export interface RunnerOptions {
  device: string;
  source: FrameSource;
  /** Returns false when the bytes were dropped. */
  write(bytes: Buffer): boolean;
  periodMs: number;
  /** Stop after this many frames; null = until stop(). */
  frames: number | null;
  clock: MonotonicClock;
  wallNowMs: () => number;
  /** CLOCK_MONOTONIC for the alarm-bits events (default monotonicClockMs). */
  monoNowMs?: () => number;
  timers?: Timers;
  onFrame(event: FrameEvent): void;
  onAlarmBits?(event: AlarmBitsEvent): void;
}

export interface Runner {
  /** Stops before the next frame. Idempotent. */
  stop(): void;
  /** Settles when the frame count is reached or stop() is called. */
  readonly finished: Promise<void>;
}

const realTimers: Timers = {
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export const performanceClock: MonotonicClock = { nowMs: () => performance.now() };

export function startRunner(o: RunnerOptions): Runner {
  const timers = o.timers ?? realTimers;
  const startMs = o.clock.nowMs();
  const monoNowMs = o.monoNowMs ?? monotonicClockMs;
  let sent = 0;
  let previousAlarmBits = 0;
  let stopped = false;
  let handle: unknown = null;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (handle !== null) timers.clearTimeout(handle);
    handle = null;
    finish();
  };

  const tick = (): void => {
    handle = null;
    if (stopped) return;
    const dueMs = startMs + sent * o.periodMs;
    const earlyMs = dueMs - o.clock.nowMs();
    if (earlyMs > 0) {
      // Node's timers run on a millisecond loop clock and may fire up to ~1 ms early against
      // the monotonic clock: wait out the rest, a frame never leaves before its slot.
      handle = timers.setTimeout(tick, Math.max(1, Math.ceil(earlyMs)));
      return;
    }
    const frame = o.source.nextFrame();
    const sentWallMs = o.wallNowMs();
    const sentMonoMs = monoNowMs();
    const lateMs = Math.round((o.clock.nowMs() - dueMs) * 10) / 10;
    const written = o.write(frame.bytes);
    o.onFrame({
      event: 'frame',
      device: o.device,
      index: frame.index,
      sentWallMs,
      lateMs,
      spo2Percent: frame.spo2Percent,
      pulseBpm: frame.pulseBpm,
      alarmBits: frame.alarmBits,
      injected: frame.injected,
      deviceTime: formatDeviceTime(frame.deviceTime),
      dropped: !written,
    });
    if (frame.alarmBits !== previousAlarmBits) {
      const change = alarmBitsChange(previousAlarmBits, frame.alarmBits);
      previousAlarmBits = frame.alarmBits;
      o.onAlarmBits?.({ event: 'alarm-bits', device: o.device, index: frame.index, sentWallMs, sentMonoMs, alarmBits: frame.alarmBits, ...change, dropped: !written });
    }
    sent++;
    if (o.frames !== null && sent >= o.frames) {
      stop();
      return;
    }
    handle = timers.setTimeout(tick, Math.max(0, startMs + sent * o.periodMs - o.clock.nowMs()));
  };

  if (o.frames === 0) stop();
  else handle = timers.setTimeout(tick, 0);
  return { stop, finished };
}
