/**
 * Merging the changes of partial `ward` events (docs/interfaces/station-web.md, GET /api/events):
 * a bed's change replaces the parts it holds; its values are merged by `parameter@interfaceId`,
 * each value's fields over the value held (a value that only changed its number and age carries
 * only those). The
 * rule every client applies (the page has its own copy in agent/station-web/board.js), and the
 * server's own when it holds the changes back for a slow browser. Pure.
 */
import type { ValueChange } from '../station';
import type { WardChange } from './server';

const valueKey = (v: ValueChange): string => `${v.parameter}@${v.interfaceId}`;

/** `next` merged over `held` (a new object; neither is changed). `held` undefined: `next` itself. */
export function mergeChange<T extends WardChange>(held: T | undefined, next: WardChange): T {
  if (!held) return next as T;
  const merged: Record<string, unknown> = { ...held };
  for (const [key, value] of Object.entries(next)) {
    if (key !== 'values' || !held.values) {
      merged[key] = value;
      continue;
    }
    const values = [...held.values];
    const index = new Map(values.map((v, i) => [valueKey(v), i]));
    for (const v of value as ValueChange[]) {
      const i = index.get(valueKey(v));
      if (i === undefined) {
        index.set(valueKey(v), values.length);
        values.push(v);
      } else values[i] = { ...values[i], ...v } as ValueChange;
    }
    merged.values = values;
  }
  return merged as T;
}

/** The changes of `next` merged into `pending`, per bed (in place: the server's per-stream backlog). */
export function mergeChanges(pending: Map<string, WardChange>, next: readonly WardChange[]): void {
  for (const change of next) pending.set(change.bed, mergeChange(pending.get(change.bed), change));
}
