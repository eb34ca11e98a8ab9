/**
 * The progress gate behind the systemd watchdog. A plain timer would prove only that the
 * event loop turns; this proves that every mandatory stage is doing its job: each stage
 * reports progress (a valid frame, a publish acknowledged, a safety tick) or declares why
 * it has none (link lost and reopening, broker unreachable and queueing). A stage that
 * does neither within its deadline fails the gate, the watchdog is not petted, and systemd
 * restarts the agent. Time is the monotonic clock.
 */
import type { Clock } from '../clock';
import { elapsedMs } from '../clock';

interface StageState {
  deadlineMs: number;
  lastMonoNs: bigint;
  declared: string | null;
}

export interface GateVerdict {
  ok: boolean;
  failing: Array<{ stage: string; silentMs: number }>;
}

export class ProgressGate {
  private readonly stages = new Map<string, StageState>();

  constructor(private readonly clock: Clock) {}

  /** A mandatory stage that must show progress (or declare a reason) every `deadlineMs`. */
  register(stage: string, deadlineMs: number): void {
    this.stages.set(stage, { deadlineMs, lastMonoNs: this.clock.monoNs(), declared: null });
  }

  progress(stage: string): void {
    const s = this.stages.get(stage);
    if (s) {
      s.lastMonoNs = this.clock.monoNs();
      s.declared = null;
    }
  }

  /**
   * Declares why a stage has no progress (e.g. "link-lost: reopening"). A declaration
   * counts as progress when made; it must be renewed within the deadline while it lasts
   * (the stage shows it is still working on its reason).
   */
  declare(stage: string, reason: string): void {
    const s = this.stages.get(stage);
    if (s) {
      s.lastMonoNs = this.clock.monoNs();
      s.declared = reason;
    }
  }

  check(): GateVerdict {
    const now = this.clock.monoNs();
    const failing: GateVerdict['failing'] = [];
    for (const [stage, s] of this.stages) {
      const silentMs = elapsedMs(s.lastMonoNs, now);
      if (silentMs > s.deadlineMs) failing.push({ stage, silentMs: Math.round(silentMs) });
    }
    return { ok: failing.length === 0, failing };
  }

  reasons(): Record<string, string | null> {
    return Object.fromEntries([...this.stages].map(([k, v]) => [k, v.declared]));
  }
}

/**
 * Event-loop stall detection: a timer that should fire every `periodMs` measures how late
 * it fires on the monotonic clock; lateness beyond `boundMs` is a stall (a fault).
 */
export class LoopMonitor {
  private last: bigint;
  private timer: NodeJS.Timeout | null = null;
  worstLagMs = 0;
  stalls = 0;

  constructor(
    private readonly clock: Clock,
    private readonly periodMs: number,
    private readonly boundMs: number,
    private readonly onStall: (lagMs: number) => void,
  ) {
    this.last = clock.monoNs();
  }

  start(): void {
    this.last = this.clock.monoNs();
    this.timer = setInterval(() => this.sample(), this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sample; public so tests drive it with a fake clock. */
  sample(): void {
    const now = this.clock.monoNs();
    const lagMs = elapsedMs(this.last, now) - this.periodMs;
    this.last = now;
    if (lagMs > this.worstLagMs) this.worstLagMs = lagMs;
    if (lagMs > this.boundMs) {
      this.stalls += 1;
      this.onStall(Math.round(lagMs));
    }
  }
}
