/**
 * Event-loop delay percentiles for the gateway status: how late the agent's event loop runs
 * a timer that should fire every `resolutionMs` (Node's perf_hooks.monitorEventLoopDelay, a
 * histogram kept in C++, nothing to do per sample in JavaScript). Reported per heartbeat
 * window (the agent resets it after each heartbeat) as status counters in microseconds:
 * `event-loop-delay-p50-us`, `-p99-us`, `-max-us`. The histogram records the whole timer
 * interval; the delay is that less the resolution.
 *
 * LoopMonitor (watchdog.ts) is the fault detector (a stall beyond a bound is alarmed); this
 * is the measurement (docs/benchmarks.md reads it).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IntervalHistogram } from 'node:perf_hooks';

export class LoopDelayWindow {
  private readonly histogram: IntervalHistogram;

  constructor(private readonly resolutionMs = 10) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  }

  start(): void {
    this.histogram.enable();
  }

  stop(): void {
    this.histogram.disable();
  }

  /** p50, p99 and max of the current window in microseconds; empty before the first sample. */
  counters(): Record<string, number> {
    const h = this.histogram;
    if (h.count === 0) return {};
    const us = (ns: number): number => Math.max(0, Math.round(ns / 1000 - this.resolutionMs * 1000));
    return {
      'event-loop-delay-p50-us': us(h.percentile(50)),
      'event-loop-delay-p99-us': us(h.percentile(99)),
      'event-loop-delay-max-us': us(h.max),
    };
  }

  /** Starts a new window. */
  reset(): void {
    this.histogram.reset();
  }
}
