/**
 * Event-loop delay percentiles for the gateway status: how late the agent's event loop runs
 * a timer that should fire every `resolutionMs` (Node's perf_hooks.monitorEventLoopDelay, a
 * histogram kept in C++, nothing to do per sample in JavaScript). Reported per heartbeat
 * window (the agent resets it after each heartbeat) as status counters in microseconds:
 * `event-loop-delay-p50-us`, `-p99-us`, `-max-us`. The histogram records the whole timer
 * interval; the delay is that less the resolution.
 *
 * LoopMonitor (watchdog.ts) is the fault detector (a stall beyond a bound is alarmed); this
 * is the measurement (docs/benchmarks.md reads it). LoopUtilization, below, is the load signal of
 * publish/shedding.ts.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { EventLoopUtilization, IntervalHistogram } from 'node:perf_hooks';

export class LoopDelayWindow {
  private readonly histogram: IntervalHistogram;
  private windowStart: EventLoopUtilization = performance.eventLoopUtilization();

  constructor(private readonly resolutionMs = 10) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  }

  start(): void {
    this.histogram.enable();
  }

  stop(): void {
    this.histogram.disable();
  }

  /**
   * p50, p99 and max of the current window in microseconds, and the share of the window the loop
   * was busy (`event-loop-utilization-pct`); empty before the first sample.
   */
  counters(): Record<string, number> {
    const h = this.histogram;
    if (h.count === 0) return {};
    const us = (ns: number): number => Math.max(0, Math.round(ns / 1000 - this.resolutionMs * 1000));
    const elu = performance.eventLoopUtilization(this.windowStart);
    return {
      'event-loop-delay-p50-us': us(h.percentile(50)),
      'event-loop-delay-p99-us': us(h.percentile(99)),
      'event-loop-delay-max-us': us(h.max),
      'event-loop-utilization-pct': Math.round(elu.utilization * 100),
    };
  }

  /** Starts a new window. */
  reset(): void {
    this.histogram.reset();
    this.windowStart = performance.eventLoopUtilization();
  }
}

/**
 * Event-loop utilization between two readings (perf_hooks eventLoopUtilization): the share of
 * wall time the loop spent running callbacks rather than waiting for I/O, 0..1. Near 1 the agent
 * is short of CPU (publish/shedding.ts sheds load on it).
 */
export class LoopUtilization {
  private last: EventLoopUtilization = performance.eventLoopUtilization();

  /** Utilization since the previous call (or since construction). */
  sinceLast(): number {
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, this.last);
    this.last = now;
    return delta.utilization;
  }
}
