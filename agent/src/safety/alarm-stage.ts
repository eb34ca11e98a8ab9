/**
 * The alarm stage: the alarm book (state of every condition) and its announcement. Every
 * change of state is logged and published once; `set` raises or clears on one boolean, so a
 * condition that is evaluated periodically needs no bookkeeping at its call site.
 */
import type { Logger } from '../log';
import type { AlarmMsg } from '../proto/codec';
import type { AlarmBook } from './alarms';
import type { ConditionKey } from './conditions';

export class AlarmStage {
  constructor(
    readonly book: AlarmBook,
    private readonly publish: (msg: AlarmMsg) => void,
    private readonly logger: Logger,
  ) {}

  /** Raises `key` for `source` (priority and kind from the catalogue); announced only on a change. */
  raise(key: ConditionKey, source: string, detail: string, qualifier?: string): void {
    const msg = this.book.raise(key, source, detail, qualifier);
    if (!msg) return;
    this.logger.warn('alarm-raised', { alarmId: msg.alarmId, priority: msg.priority, detail });
    this.publish(msg);
  }

  /** Clears `key` for `source`; announced only when it was active. */
  clear(key: ConditionKey, source: string, qualifier?: string): void {
    const msg = this.book.clear(key, source, qualifier);
    if (!msg) return;
    this.logger.info('alarm-cleared', { alarmId: msg.alarmId });
    this.publish(msg);
  }

  /** Raises while `active`, clears otherwise; `qualifier` names the member of a family. */
  set(active: boolean, key: ConditionKey, source: string, detail: string, qualifier?: string): void {
    if (active) this.raise(key, source, detail, qualifier);
    else this.clear(key, source, qualifier);
  }

  /** Active alarms (a lapsed silence returns to active), for re-announcement. */
  list(): AlarmMsg[] {
    return this.book.list();
  }
}
