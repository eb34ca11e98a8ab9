/**
 * Load shedding: when the agent produces the delivered stream faster than it can deliver it,
 * it stops producing the least important messages first, in a stated order, and never alarms:
 *
 *   1. extras: observations of parameters that are not NEWS2 inputs (the waveform extras such as
 *      the perfusion index, and skin temperature: PARAMETERS[p].news2Field === null);
 *   2. vitals and scores: observations of NEWS2 inputs, and the score computed from them;
 *   never: alarm changes (raised, re-prioritised, acknowledged, cleared).
 *
 * The signal is the delivery backlog (messages accepted by the durable queue and not yet
 * acknowledged by the broker), read on every safety tick. A level is entered when the backlog is
 * above its threshold AND has grown over the last `trendMs` while the broker is connected: the
 * stream is produced faster than it is delivered. Not while the broker is unreachable (the
 * durable queue stores everything, and its own bound evicts in class order), and not while a
 * backlog left by an outage drains (it shrinks). A level is left when the backlog falls below
 * half its threshold. A shed message is never built (it takes no sequence number): it is counted
 * (`shed.extra`, `shed.vital`, `shed.score`), and the agent raises a low-priority technical alarm
 * while shedding, so nothing is dropped in silence. The delivery forwarder sends queued alarms
 * ahead of the backlog (publish/delivery.ts), so an alarm waits neither for it nor for shedding.
 *
 * Pure: the clock is injected; the agent calls update() on its tick and admit() per message.
 * Requirements REQ-PERF-001..003 (docs/requirements.yaml); figures in docs/benchmarks.md.
 */
import type { Clock } from '../clock';
import { elapsedMs } from '../clock';
import type { ParameterCode } from '../model/parameters';
import { PARAMETERS } from '../model/parameters';

/** The classes of the delivered stream, in shedding order (first shed first); alarms are never shed. */
export const SHED_ORDER = ['extra', 'vital', 'score'] as const;
export type ShedClass = (typeof SHED_ORDER)[number] | 'alarm';

/** 0: nothing shed; 1: extras shed; 2: extras, vitals and scores shed. */
export type ShedLevel = 0 | 1 | 2;

/** The level from which each class is shed (alarms: never). */
const SHED_FROM_LEVEL: Record<ShedClass, number> = { extra: 1, vital: 2, score: 2, alarm: Number.POSITIVE_INFINITY };

export function observationClass(parameter: ParameterCode): 'extra' | 'vital' {
  return PARAMETERS[parameter].news2Field === null ? 'extra' : 'vital';
}

export interface ShedPolicy {
  /** Backlog (messages) above which extras are shed, when it is growing. */
  extrasAboveBacklog: number;
  /** Backlog above which vitals and scores are shed too, when it is still growing. */
  vitalsAboveBacklog: number;
  /** Growth is judged against the backlog this long ago. */
  trendMs: number;
}

/**
 * Defaults: at the ~650 messages/s the forwarder delivers on the development machine
 * (docs/benchmarks.md), 1000 messages are about 1.5 s of backlog and 4000 about 6 s; a full bed
 * produces about 16 messages/s, so a bed never comes near them in normal operation.
 */
export const DEFAULT_SHED_POLICY: ShedPolicy = { extrasAboveBacklog: 1000, vitalsAboveBacklog: 4000, trendMs: 2000 };

export interface BacklogReading {
  /** Messages waiting in the durable queue or in flight. */
  backlog: number;
  /** The broker is connected. */
  connected: boolean;
}

export class LoadShedder {
  private level: ShedLevel = 0;
  /** Recent backlog readings (newest last), as long as `trendMs`. */
  private readonly history: Array<{ atMonoNs: bigint; backlog: number }> = [];
  private readonly counts: Record<string, number> = {};

  constructor(
    private readonly clock: Clock,
    private readonly policy: ShedPolicy = DEFAULT_SHED_POLICY,
  ) {}

  get currentLevel(): ShedLevel {
    return this.level;
  }

  /** Takes a backlog reading (on each safety tick) and returns the level now in force. */
  update(reading: BacklogReading): ShedLevel {
    const now = this.clock.monoNs();
    if (!reading.connected) {
      // Store and forward: the queue keeps everything within its bounds. The trend is judged
      // afresh after reconnection (the growth during the outage is not overload).
      this.history.length = 0;
      this.history.push({ atMonoNs: now, backlog: reading.backlog });
      this.level = 0;
      return this.level;
    }
    this.history.push({ atMonoNs: now, backlog: reading.backlog });
    // Keep the oldest reading that is at least trendMs old, and everything after it.
    while (this.history.length > 2 && elapsedMs((this.history[1] as { atMonoNs: bigint }).atMonoNs, now) >= this.policy.trendMs) this.history.shift();
    const oldest = this.history[0] as { atMonoNs: bigint; backlog: number };
    const judged = elapsedMs(oldest.atMonoNs, now) >= this.policy.trendMs;
    const growing = judged && reading.backlog > oldest.backlog;
    const b = reading.backlog;
    const p = this.policy;
    if (growing && b > p.vitalsAboveBacklog && this.level < 2) {
      this.level = 2;
    } else if (growing && b > p.extrasAboveBacklog && this.level < 1) {
      this.level = 1;
    } else if (this.level === 2 && b < p.vitalsAboveBacklog / 2) {
      this.level = b < p.extrasAboveBacklog / 2 ? 0 : 1;
    } else if (this.level === 1 && b < p.extrasAboveBacklog / 2) {
      this.level = 0;
    }
    return this.level;
  }

  /** true: build and send the message; false: it is shed (and counted). Alarms are always admitted. */
  admit(cls: ShedClass): boolean {
    if (this.level < SHED_FROM_LEVEL[cls]) return true;
    this.counts[`shed.${cls}`] = (this.counts[`shed.${cls}`] ?? 0) + 1;
    return false;
  }

  /** Counters for the gateway status: what was shed by class, and the level in force. */
  counters(): Record<string, number> {
    return { ...this.counts, 'shed-level': this.level };
  }
}
