/**
 * Quiet-time supervision and its escalation, written once for every driver (HAZ-003,
 * CTRL-003, CTRL-201). A driver gives its steps as data and two or three hooks on its port;
 * the order and the timing of what happens when a device falls silent live here:
 *
 *   no valid data for quietTimeMs          -> the link is stale (values withdrawn downstream)
 *   then, one step per tick, in order, each once its quiet time has passed and while the
 *   driver holds an open port:
 *     'nudge'  a driver-specific request on the open port (the patch: START again), counted
 *     'reopen' the port is closed and reopened with backoff (re-resolving a stable
 *              /dev/serial/by-id path to whatever device node it names now), counted as
 *              `escalation-reopen`; the link goes back to connecting
 *
 * A stale episode ends when the link leaves `stale` (valid data, a loss, a reopen): the next
 * one starts again from the first step. Everything runs on the monotonic clock of the link.
 */
import type { InterfaceLink } from './interface-link';

/** One step of the escalation, taken once the link is stale and quiet for longer than `afterQuietMs`. */
export type EscalationStep =
  | {
      afterQuietMs: number;
      /** A request on the open port that may bring the data back (EscalationHooks.nudge). */
      action: 'nudge';
      /** Health counter of the step (e.g. `escalation-restart`). */
      counter: string;
      /** Why, passed to the hook (logged). */
      reason: string;
    }
  | {
      afterQuietMs: number;
      /** Close and reopen the port; the link's reason names the quiet time and the noun. */
      action: 'reopen';
    };

/** A driver's escalation as data. */
export interface EscalationPolicy {
  /** No valid data for this long: stale. */
  quietTimeMs: number;
  /** What valid data is called in the link's reasons ('frame', 'message', 'waveform frame'). */
  noun: string;
  /**
   * Whether the tick that makes the link stale may take the first step too. Otherwise the
   * first step waits for the next tick (the link's `stale` change is reported alone first).
   */
  firstStepWithStale: boolean;
  /** Taken in order, at most one per tick. */
  steps: readonly EscalationStep[];
}

/** Something the escalation can close (a serial port). */
export interface ClosablePort {
  close(): Promise<void>;
}

/** What only the driver knows about its port. */
export interface EscalationHooks {
  /**
   * Whether the driver holds an open port the escalation may act on. A TCP listener is not
   * one: its monitor reconnects by itself, so no step is taken.
   */
  hasOpenPort(): boolean;
  /** Detaches the open port from the driver (its close is then not a loss) and returns it; null when none. */
  detachPort(): ClosablePort | null;
  /** The request of a 'nudge' step; needed only by a policy that has one. */
  nudge?(reason: string): void;
}

/** The part of the shared link the escalation drives. */
export type EscalationLink = Pick<InterfaceLink, 'state' | 'quietMs' | 'reopenPending' | 'staleIfQuiet' | 'escalate' | 'scheduleReopen' | 'count'>;

/** The reopen step's reason, as the link reports it. */
export function reopenReason(noun: string, quietMs: number): string {
  return `escalation: no valid ${noun} for ${Math.round(quietMs)} ms, reopening the port`;
}

/** Runs one driver's escalation policy on its link; `tick()` is called on every agent tick. */
export class QuietTimeEscalation {
  /** Steps already taken in this stale episode. */
  private taken = 0;

  constructor(
    private readonly link: EscalationLink,
    readonly policy: EscalationPolicy,
    private readonly hooks: EscalationHooks,
  ) {}

  /** Checks the quiet time and takes the next step that is due; returns the step taken, if any. */
  tick(): EscalationStep | null {
    const becameStale = this.link.staleIfQuiet(this.policy.quietTimeMs, this.policy.noun);
    if (becameStale || this.link.state !== 'stale') this.taken = 0;
    if (this.link.state !== 'stale') return null;
    if (becameStale && !this.policy.firstStepWithStale) return null;
    if (!this.hooks.hasOpenPort() || this.link.reopenPending) return null;
    const step = this.policy.steps[this.taken];
    const quietMs = this.link.quietMs;
    if (step === undefined || quietMs <= step.afterQuietMs) return null;
    if (step.action === 'nudge') {
      this.link.count(step.counter);
      this.hooks.nudge?.(step.reason);
    } else {
      const port = this.hooks.detachPort();
      if (port === null) return null;
      this.link.escalate(reopenReason(this.policy.noun, quietMs));
      void port.close().then(() => this.link.scheduleReopen());
    }
    this.taken += 1;
    return step;
  }
}
