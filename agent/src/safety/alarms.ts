/**
 * Alarm conditions and their state, raised and cleared by the agent's stages.
 * Only a change of state produces a message (plus periodic re-announcement of active
 * alarms by the agent, so a late subscriber sees them). Priorities follow IEC
 * 60601-1-8 (high, medium, low; info is a signal, not an alarm).
 *
 * Conditions are the keys of the catalogue (safety/conditions.ts), which also gives each
 * its kind and priority: no caller decides either.
 */
import type { Clock } from '../clock';
import type { AlarmMsg } from '../proto/codec';
import type { ConditionKey, ConditionSpec } from './conditions';
import { ALARM_CONDITIONS, conditionName } from './conditions';

export type AlarmKind = 'physiological' | 'technical';
export type AlarmPriority = 'info' | 'low' | 'medium' | 'high';

interface ActiveAlarm {
  msg: AlarmMsg;
  /** Acknowledged at the station: the state to return to when a silence lapses. */
  acknowledged: boolean;
  /** Monotonic end of a silence (the wall time in the message is for display only). */
  silencedUntilMonoNs: bigint | null;
}

const PRIORITY_ENUM: Record<AlarmPriority, string> = {
  info: 'ALARM_PRIORITY_INFO',
  low: 'ALARM_PRIORITY_LOW',
  medium: 'ALARM_PRIORITY_MEDIUM',
  high: 'ALARM_PRIORITY_HIGH',
};

export function alarmId(condition: string, source: string): string {
  return `${source}.${condition}`;
}

export class AlarmBook {
  private readonly active = new Map<string, ActiveAlarm>();

  /**
   * @param catalogue the condition catalogue (safety/conditions.ts); a test may pass a
   *   changed copy to show what a new catalogue version does to active alarms.
   */
  constructor(
    private readonly clock: Clock,
    private readonly catalogue: Readonly<Record<ConditionKey, ConditionSpec>> = ALARM_CONDITIONS,
  ) {}

  /**
   * Raises (or re-prioritises) the condition `key` of `source`, with its kind and priority
   * from the catalogue; `qualifier` names the member of a family (`value-rejected.<rule>`).
   * Returns the message to publish, or null if unchanged.
   */
  raise(key: ConditionKey, source: string, detail: string, qualifier?: string): AlarmMsg | null {
    const { kind, priority } = this.catalogue[key];
    const condition = conditionName(key, qualifier);
    const id = alarmId(condition, source);
    const now = this.clock.wallMs();
    const existing = this.active.get(id);
    if (existing && existing.msg.priority === PRIORITY_ENUM[priority] && existing.msg.detail === detail) return null;
    // A new detail at the same priority keeps an acknowledgement or silence; a change of
    // priority is a new condition for the nurse and must be acknowledged again.
    const keep = existing && existing.msg.priority === PRIORITY_ENUM[priority] ? existing : null;
    const msg: AlarmMsg = {
      alarmId: id,
      kind: kind === 'technical' ? 'ALARM_KIND_TECHNICAL' : 'ALARM_KIND_PHYSIOLOGICAL',
      priority: PRIORITY_ENUM[priority],
      condition,
      state: 'ALARM_STATE_ACTIVE',
      source,
      detail,
      raisedWallMs: existing?.msg.raisedWallMs ?? now,
      changedWallMs: now,
      ...(keep
        ? {
            state: keep.msg.state,
            acknowledgedBy: keep.msg.acknowledgedBy ?? '',
            acknowledgedWallMs: keep.msg.acknowledgedWallMs ?? 0,
            silencedUntilWallMs: keep.msg.silencedUntilWallMs ?? 0,
          }
        : {}),
    };
    this.active.set(id, { msg, acknowledged: keep?.acknowledged ?? false, silencedUntilMonoNs: keep?.silencedUntilMonoNs ?? null });
    return msg;
  }

  /**
   * Acknowledged at the station by `user`: returns the changed message to publish, or
   * null when no such alarm is active. The alarm stays active until its condition clears.
   */
  acknowledge(id: string, user: string): AlarmMsg | null {
    const a = this.active.get(id);
    if (!a) return null;
    const now = this.clock.wallMs();
    a.acknowledged = true;
    a.silencedUntilMonoNs = null;
    a.msg = { ...a.msg, state: 'ALARM_STATE_ACKNOWLEDGED', acknowledgedBy: user, acknowledgedWallMs: now, silencedUntilWallMs: 0, changedWallMs: now };
    return a.msg;
  }

  /** Audible signal paused for `durationMs` (who did it is logged by the caller); null when no such alarm is active. */
  silence(id: string, durationMs: number): AlarmMsg | null {
    const a = this.active.get(id);
    if (!a) return null;
    const now = this.clock.wallMs();
    a.silencedUntilMonoNs = this.clock.monoNs() + BigInt(Math.round(durationMs * 1e6));
    a.msg = { ...a.msg, state: 'ALARM_STATE_SILENCED', silencedUntilWallMs: now + durationMs, changedWallMs: now };
    return a.msg;
  }

  /** The alarm with this id, when active. */
  get(id: string): AlarmMsg | undefined {
    return this.active.get(id)?.msg;
  }

  /** Clears an active alarm; returns the cleared message to publish, or null if it was not active. */
  clear(key: ConditionKey, source: string, qualifier?: string): AlarmMsg | null {
    const id = alarmId(conditionName(key, qualifier), source);
    const existing = this.active.get(id);
    if (!existing) return null;
    this.active.delete(id);
    return { ...existing.msg, state: 'ALARM_STATE_CLEARED', changedWallMs: this.clock.wallMs() };
  }

  isActive(key: ConditionKey, source: string, qualifier?: string): boolean {
    return this.active.has(alarmId(conditionName(key, qualifier), source));
  }

  /** Active alarms; a silence that has lapsed returns the alarm to active (or acknowledged). */
  list(): AlarmMsg[] {
    const now = this.clock.monoNs();
    for (const a of this.active.values()) {
      if (a.silencedUntilMonoNs !== null && now >= a.silencedUntilMonoNs) {
        a.silencedUntilMonoNs = null;
        a.msg = { ...a.msg, state: a.acknowledged ? 'ALARM_STATE_ACKNOWLEDGED' : 'ALARM_STATE_ACTIVE', silencedUntilWallMs: 0 };
      }
    }
    return [...this.active.values()].map((a) => a.msg);
  }
}

/** Counts events in a sliding window on the monotonic clock (e.g. rejected frames). */
export class RateWindow {
  private readonly times: bigint[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
    private readonly maxKept = 10_000,
  ) {}

  add(): number {
    this.times.push(this.clock.monoNs());
    if (this.times.length > this.maxKept) this.times.shift();
    return this.count();
  }

  count(): number {
    const cutoff = this.clock.monoNs() - BigInt(Math.round(this.windowMs * 1e6));
    while (this.times.length > 0 && (this.times[0] ?? 0n) < cutoff) this.times.shift();
    return this.times.length;
  }
}
