/**
 * The two clocks every reading keeps (STYLE: "both clocks on every reading").
 *
 * - `wallMs()`: UTC wall time in milliseconds, for display and for the station only.
 *   It can step (NTP, a user setting the date), so it never measures an age.
 * - `monoNs()`: a monotonic clock in nanoseconds, for ages, timeouts and ordering
 *   within one run. It never steps and means nothing across processes or boots.
 *
 * Clocks are injected; tests pass a fake clock and never sleep.
 */
export interface Clock {
  wallMs(): number;
  monoNs(): bigint;
}

export const systemClock: Clock = {
  wallMs: () => Date.now(),
  monoNs: () => process.hrtime.bigint(),
};

/** Milliseconds elapsed between two monotonic readings. */
export function elapsedMs(fromMonoNs: bigint, toMonoNs: bigint): number {
  return Number(toMonoNs - fromMonoNs) / 1e6;
}

/** A clock for tests: time moves only when `advanceMs` is called. */
export class FakeClock implements Clock {
  private mono: bigint;
  constructor(
    private wall = Date.UTC(2026, 0, 1, 10, 0, 0),
    monoStartNs = 1_000_000_000n,
  ) {
    this.mono = monoStartNs;
  }
  wallMs(): number {
    return this.wall;
  }
  monoNs(): bigint {
    return this.mono;
  }
  /** Steps the wall clock only (NTP correction, a user setting the date); monotonic time is untouched. */
  stepWallMs(ms: number): void {
    this.wall += ms;
  }
  advanceMs(ms: number): void {
    this.wall += ms;
    this.mono += BigInt(Math.round(ms * 1e6));
  }
}
