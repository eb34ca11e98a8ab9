/**
 * The client's side of the `ward` events (docs/interfaces/station-web.md, GET /api/events), as the
 * contract states it and independent of the page's own code (agent/station-web/board.js): a whole
 * ward replaces what is held; a partial one replaces, per bed, only the parts it holds, values
 * merged by `parameter@interfaceId`. Used by the tests to read the events as a browser would.
 */
import type { ValueView } from '../../agent/src/station/station';
import type { WardChange, WardDelta, WardSnapshot } from '../../agent/src/station/web/server';

export type HeldBed = WardSnapshot['beds'][number];

/** The ward as a client holds it after an event, with the beds that event named. */
export interface HeldWard extends WardSnapshot {
  partial: boolean;
  changed: string[];
}

const valueKey = (v: Pick<ValueView, 'parameter' | 'interfaceId'>): string => `${v.parameter}@${v.interfaceId}`;

/** Merges one bed's change into the bed held (a new object: what was held before is left as it was). */
export function mergeBed(held: HeldBed | undefined, change: WardChange): HeldBed {
  if (!held) return change as HeldBed;
  const next = { ...held } as HeldBed & Record<string, unknown>;
  for (const [key, value] of Object.entries(change)) {
    if (key !== 'values') {
      next[key] = value;
      continue;
    }
    const values = [...held.values];
    const index = new Map(values.map((v, i) => [valueKey(v), i]));
    for (const v of value as ValueView[]) {
      const i = index.get(valueKey(v));
      if (i === undefined) values.push(v);
      else values[i] = v;
    }
    next.values = values;
  }
  return next;
}

/** The ward held after each event of `events`, in order. */
export function mergeWardEvents(events: ReadonlyArray<WardSnapshot | WardDelta>): HeldWard[] {
  const out: HeldWard[] = [];
  let beds = new Map<string, HeldBed>();
  for (const e of events) {
    if ('partial' in e && e.partial) {
      beds = new Map(beds);
      for (const change of e.beds) beds.set(change.bed, mergeBed(beds.get(change.bed), change));
    } else {
      beds = new Map((e as WardSnapshot).beds.map((b) => [b.bed, b]));
    }
    out.push({ t: e.t, connected: e.connected, beds: [...beds.values()], partial: 'partial' in e && e.partial === true, changed: e.beds.map((b) => b.bed) });
  }
  return out;
}
