/**
 * Load shedding: when the agent produces the delivered stream faster than it can deliver it,
 * it stops producing the least important messages first, in a stated order, and never alarms:
 *
 *   1. extras: observations of parameters that are not NEWS2 inputs (the waveform extras such as
 *      the perfusion index, and skin temperature: PARAMETERS[p].news2Field === null);
 *   2. vitals and scores: observations of NEWS2 inputs, and the score computed from them;
 *   never: alarm changes (raised, re-prioritised, acknowledged, cleared).
 *
 * Two signals, read on every safety tick (update() says how they combine):
 * - the delivery backlog (messages accepted by the durable queue and not yet acknowledged by the
 *   broker) above a threshold AND grown over the last `trendMs` while the broker is connected:
 *   the stream is produced faster than it is delivered. Not while the broker is unreachable (the
 *   durable queue stores everything, and its own bound evicts in class order), and not while a
 *   backlog left by an outage drains (it shrinks);
 * - the event loop saturated (utilization >= 90 % over `trendMs`): the agent is short of CPU,
 *   and what it has not read yet (alarm conditions included) waits in the kernel behind the rest.
 * A shed message is never built (it takes no sequence number): it is counted
 * (`shed.extra`, `shed.vital`, `shed.score`), and the agent raises a low-priority technical alarm
 * while shedding, so nothing is dropped in silence. The delivery forwarder sends queued alarms
 * ahead of the backlog (publish/delivery.ts), so an alarm waits neither for it nor for shedding.
 *
 * Pure: the clock is injected; the agent calls update() on its tick and admit() per message.
 * Requirements REQ-PERF-001..003 and 005 (docs/requirements.yaml); figures in docs/benchmarks.md.
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
  /** Event-loop utilization (0..1, mean over `trendMs`) at or above which the agent is saturated. */
  saturatedUtilization: number;
  /** Below this utilization (and a small backlog) a level is left. */
  calmUtilization: number;
  /** Growth and utilization are judged over this long; a level changes at most once per this period on utilization. */
  trendMs: number;
}

/**
 * Defaults: a full bed produces about 16 messages/s with its event loop about 3 % busy
 * (docs/benchmarks.md), far from both signals; 1000 and 4000 queued messages are about a minute
 * and four of a full bed's stream, and well under a second of what the forwarder can deliver.
 */
export const DEFAULT_SHED_POLICY: ShedPolicy = {
  extrasAboveBacklog: 1000,
  vitalsAboveBacklog: 4000,
  saturatedUtilization: 0.9,
  calmUtilization: 0.7,
  trendMs: 2000,
};

export interface LoadReading {
  /** Messages waiting in the durable queue or in flight. */
  backlog: number;
  /** The broker is connected. */
  connected: boolean;
  /** Event-loop utilization since the previous reading (perf_hooks eventLoopUtilization), 0..1. */
  loopUtilization: number;
}

interface Sample {
  atMonoNs: bigint;
  backlog: number;
  loopUtilization: number;
}

export class LoadShedder {
  private level: ShedLevel = 0;
  private lastChangeMonoNs: bigint;
  /** Recent readings (newest last), the oldest at least `trendMs` old once there are enough. */
  private readonly history: Sample[] = [];
  private readonly counts: Record<string, number> = {};

  constructor(
    private readonly clock: Clock,
    private readonly policy: ShedPolicy = DEFAULT_SHED_POLICY,
  ) {
    this.lastChangeMonoNs = clock.monoNs();
  }

  get currentLevel(): ShedLevel {
    return this.level;
  }

  /**
   * Takes a reading (on each safety tick) and returns the level now in force. Two signals:
   * - the delivery backlog growing while the broker is connected: the level its size calls for
   *   at once (a growing backlog during an outage, or one that drains, is not overload);
   * - the event loop saturated (mean utilization over `trendMs` at or above
   *   `saturatedUtilization`): one level more per `trendMs`, since the input then backs up before
   *   the agent even reads it, alarms included.
   * A level is left, one at a time, once the loop is calm and the backlog under half its threshold.
   */
  update(reading: LoadReading): ShedLevel {
    const now = this.clock.monoNs();
    const p = this.policy;
    if (!reading.connected) {
      // The trend of the backlog is judged afresh after reconnection (growth during an outage
      // is store and forward, not overload); the utilization keeps counting.
      for (const h of this.history) h.backlog = reading.backlog;
    }
    this.history.push({ atMonoNs: now, backlog: reading.backlog, loopUtilization: reading.loopUtilization });
    // Keep the newest reading that is at least trendMs old, and everything after it.
    while (this.history.length > 2 && elapsedMs((this.history[1] as Sample).atMonoNs, now) >= p.trendMs) this.history.shift();
    const oldest = this.history[0] as Sample;
    const judged = elapsedMs(oldest.atMonoNs, now) >= p.trendMs;
    const recent = this.history.slice(1);
    const utilization = recent.length === 0 ? 0 : recent.reduce((n, h) => n + h.loopUtilization, 0) / recent.length;
    const b = reading.backlog;
    const growing = reading.connected && judged && b > oldest.backlog;
    const forBacklog: ShedLevel = growing && b > p.vitalsAboveBacklog ? 2 : growing && b > p.extrasAboveBacklog ? 1 : 0;
    const settled = elapsedMs(this.lastChangeMonoNs, now) >= p.trendMs;
    const calm = utilization < p.calmUtilization;
    // Offline, the backlog is the queue's business: only the event loop can keep a level.
    const backlogSmall = !reading.connected || b < (this.level === 2 ? p.vitalsAboveBacklog : p.extrasAboveBacklog) / 2;
    let next: ShedLevel = this.level;
    if (!reading.connected && calm) next = 0;
    else if (forBacklog > this.level) next = forBacklog;
    else if (judged && settled && utilization >= p.saturatedUtilization && this.level < 2) next = (this.level + 1) as ShedLevel;
    else if (this.level > 0 && settled && calm && backlogSmall) next = (this.level - 1) as ShedLevel;
    if (next !== this.level) {
      this.level = next;
      this.lastChangeMonoNs = now;
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
