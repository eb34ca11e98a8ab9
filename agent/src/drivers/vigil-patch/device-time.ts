/**
 * The patch's own clock: a wrapping 32-bit millisecond tick since power-on, with no wall
 * time (docs/interfaces/vigil-patch.md, "Time"). The driver anchors it to the gateway's wall
 * clock at the first frame of a connection and reads a large step back as a restart of the
 * patch. Pure: the wall time comes from the frame's receive stamp.
 */

/** A device tick this far behind the last one means the patch restarted. */
export const RESTART_TICK_BACKSTEP_MS = 2000;

/** The tick wraps after 2^32 ms. */
export const TICK_WRAP = 0x1_0000_0000;

/** b - a on the wrapping 32-bit tick, as a signed number of ms. */
export function tickDelta(a: number, b: number): number {
  const d = (((b - a) % TICK_WRAP) + TICK_WRAP) % TICK_WRAP;
  return d >= TICK_WRAP / 2 ? d - TICK_WRAP : d;
}

/** Device tick -> gateway wall time, and the restart check, for one connection. */
export class DeviceClock {
  /** Measured at the first frame of a connection. */
  private anchor: { tickMs: number; wallMs: number } | null = null;
  private lastTickMs: number | null = null;

  /** Anchors the tick to the wall time it was received at, once per connection. */
  anchorAt(tickMs: number, wallMs: number): void {
    this.anchor ??= { tickMs, wallMs };
  }

  /** The wall time of a device tick (ms), or null before the anchor. */
  wallMsAt(tickMs: number): number | null {
    return this.anchor ? this.anchor.wallMs + tickDelta(this.anchor.tickMs, tickMs) : null;
  }

  /** Whether this tick is far behind the last one: the patch restarted. */
  wentBack(tickMs: number): boolean {
    return this.lastTickMs !== null && tickDelta(this.lastTickMs, tickMs) < -RESTART_TICK_BACKSTEP_MS;
  }

  /** Keeps the latest tick seen (a reordered frame does not move it back). */
  advance(tickMs: number): void {
    if (this.lastTickMs === null || tickDelta(this.lastTickMs, tickMs) > 0) this.lastTickMs = tickMs;
  }

  /** A new connection or a restarted patch: anchor and last tick start over. */
  reset(): void {
    this.anchor = null;
    this.lastTickMs = null;
  }
}
