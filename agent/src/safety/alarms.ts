/**
 * Alarm conditions and their state, raised and cleared by the agent's stages.
 * Only a change of state produces a message (plus periodic re-announcement of active
 * alarms by the agent, so a late subscriber sees them). Priorities follow IEC
 * 60601-1-8 (high, medium, low; info is a signal, not an alarm).
 */
import type { Clock } from '../clock';
import type { AlarmMsg } from '../proto/codec';

export type AlarmKind = 'physiological' | 'technical';
export type AlarmPriority = 'info' | 'low' | 'medium' | 'high';

interface ActiveAlarm {
  msg: AlarmMsg;
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

  constructor(private readonly clock: Clock) {}

  /** Raises (or re-prioritises) an alarm; returns the message to publish, or null if unchanged. */
  raise(kind: AlarmKind, condition: string, source: string, priority: AlarmPriority, detail: string): AlarmMsg | null {
    const id = alarmId(condition, source);
    const now = this.clock.wallMs();
    const existing = this.active.get(id);
    if (existing && existing.msg.priority === PRIORITY_ENUM[priority] && existing.msg.detail === detail) return null;
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
    };
    this.active.set(id, { msg });
    return msg;
  }

  /** Clears an active alarm; returns the cleared message to publish, or null if it was not active. */
  clear(condition: string, source: string): AlarmMsg | null {
    const id = alarmId(condition, source);
    const existing = this.active.get(id);
    if (!existing) return null;
    this.active.delete(id);
    return { ...existing.msg, state: 'ALARM_STATE_CLEARED', changedWallMs: this.clock.wallMs() };
  }

  isActive(condition: string, source: string): boolean {
    return this.active.has(alarmId(condition, source));
  }

  list(): AlarmMsg[] {
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
