/**
 * What every device driver shares about its link, kept in one place: the link state
 * (through the table of legal transitions), the counters of the interface's health
 * record, the last valid data on both clocks, the quiet-time check and its escalation
 * (escalation.ts: the driver's steps as data), and reopening a lost port or listener with
 * capped, jittered backoff for as long as it takes. A driver owns one InterfaceLink and keeps
 * only what is particular to its device (framing, commands, identity, processing).
 */
import type { EventEmitter } from 'node:events';
import type { Clock } from '../clock';
import { elapsedMs } from '../clock';
import type { FrameStamp } from '../io/serial';
import type { Logger } from '../log';
import type { DriverEvents, InterfaceSnapshot, LinkState, RejectReason } from './driver';
import type { EscalationHooks, EscalationPolicy, EscalationStep } from './escalation';
import { QuietTimeEscalation } from './escalation';
import { backoffMs, LinkStateMachine } from './link-state';

/** Cap of the reopen backoff: a lost device is retried at least this often. */
export const MAX_REOPEN_DELAY_MS = 30_000;

export interface InterfaceLinkOptions {
  interfaceId: string;
  driverName: string;
  clock: Clock;
  logger: Logger;
  /** The driver: `rejected` and `link` events are emitted on it. */
  emitter: EventEmitter<DriverEvents>;
  reopenDelayMs: number;
  /** Opens the driver's port or listener again (after a loss or an escalation). */
  reopen: () => Promise<void>;
  /** What the link does when the device falls silent (stale, then the driver's steps); tick() runs it. */
  escalation?: { policy: EscalationPolicy; hooks: EscalationHooks };
  random?: () => number;
}

export class InterfaceLink {
  private readonly machine: LinkStateMachine;
  private readonly counters = new Map<string, number>();
  private reopenTimer: NodeJS.Timeout | null = null;
  private stoppedFlag = true;
  /** Consecutive failed opens or escalations, for the backoff; reset by valid data. */
  private failures = 0;
  private lastValidMonoNs: bigint;
  private lastValidWallMs = 0;
  private readonly escalation: QuietTimeEscalation | null;

  constructor(private readonly o: InterfaceLinkOptions) {
    this.lastValidMonoNs = o.clock.monoNs();
    this.escalation = o.escalation ? new QuietTimeEscalation(this, o.escalation.policy, o.escalation.hooks) : null;
    this.machine = new LinkStateMachine(
      (from, to, reason) => {
        o.logger.info('link-state', { interfaceId: o.interfaceId, from, to, reason });
        o.emitter.emit('link', { interfaceId: o.interfaceId, from, to, reason });
      },
      (from, to) => {
        this.count('link-illegal-transition');
        o.logger.error('link-illegal-transition', { interfaceId: o.interfaceId, from, to });
      },
    );
  }

  get state(): LinkState {
    return this.machine.state;
  }

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  get reopenPending(): boolean {
    return this.reopenTimer !== null;
  }

  /** Milliseconds since the last valid data (or since the port opened), monotonic. */
  get quietMs(): number {
    return elapsedMs(this.lastValidMonoNs, this.o.clock.monoNs());
  }

  to(state: LinkState, reason: string): boolean {
    return this.machine.to(state, reason);
  }

  count(name: string, n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  /** Counts a rejected frame by its reason and tells the agent (detail: field and rule, no value). */
  reject(reason: RejectReason, detail: string): void {
    this.count(`frames-rejected.${reason}`);
    this.o.emitter.emit('rejected', { interfaceId: this.o.interfaceId, reason, detail });
  }

  /** Valid data arrived: the link streams, the quiet time restarts, the backoff resets. */
  valid(stamp: FrameStamp, reason: string): void {
    this.lastValidMonoNs = stamp.monoNs;
    this.lastValidWallMs = stamp.wallMs;
    this.failures = 0;
    if (this.machine.state !== 'streaming') this.machine.to('streaming', reason);
  }

  /** The quiet time restarts without data (a port was just opened, a peer connected). */
  restartQuietTime(): void {
    this.lastValidMonoNs = this.o.clock.monoNs();
  }

  /** Streaming or negotiating with no valid data for `quietTimeMs`: stale. Returns whether it moved. */
  staleIfQuiet(quietTimeMs: number, noun: string): boolean {
    const state = this.machine.state;
    if ((state === 'streaming' || state === 'negotiating') && this.quietMs > quietTimeMs) {
      return this.machine.to('stale', `no valid ${noun} for ${quietTimeMs} ms`);
    }
    return false;
  }

  /**
   * Quiet-time supervision, on every agent tick: stale after the quiet time, then the next
   * step of the driver's escalation that is due (escalation.ts). Returns the step taken.
   */
  tick(): EscalationStep | null {
    return this.escalation?.tick() ?? null;
  }

  /** The escalation gives up on the open port: connecting again, counted, backoff grows. */
  escalate(reason: string): void {
    this.count('escalation-reopen');
    this.failures += 1;
    this.machine.to('connecting', reason);
  }

  /** The port or listener was lost or could not be opened: lost, then reopened with backoff. */
  failed(reason: string, counter?: string): void {
    if (counter) this.count(counter);
    this.failures += 1;
    this.machine.to('lost', reason);
    this.scheduleReopen();
  }

  start(): boolean {
    if (!this.stoppedFlag) return false;
    this.stoppedFlag = false;
    return true;
  }

  stop(): void {
    this.stoppedFlag = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
  }

  scheduleReopen(): void {
    if (this.stoppedFlag || this.reopenTimer) return;
    const delayMs = backoffMs(this.failures - 1, this.o.reopenDelayMs, MAX_REOPEN_DELAY_MS, this.o.random ?? Math.random);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      void this.o.reopen();
    }, delayMs);
  }

  snapshot(): InterfaceSnapshot {
    return {
      interfaceId: this.o.interfaceId,
      driver: this.o.driverName,
      state: this.machine.state,
      reason: this.machine.reason,
      lastValidFrameWallMs: this.lastValidWallMs,
      counters: Object.fromEntries(this.counters),
    };
  }
}
