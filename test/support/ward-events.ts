/**
 * The client's side of the `ward` events (docs/interfaces/station-web.md, GET /api/events): a whole
 * ward replaces what is held; a partial one is merged per bed (station/web/ward-delta.ts). Used by
 * the tests to read the events as a browser would.
 */
import type { WardChange, WardDelta, WardSnapshot } from '../../agent/src/station/web/server';
import { mergeChange } from '../../agent/src/station/web/ward-delta';

export type HeldBed = WardSnapshot['beds'][number];

/** The ward as a client holds it after an event, with the beds that event named. */
export interface HeldWard extends WardSnapshot {
  partial: boolean;
  changed: string[];
}

/** Merges one bed's change into the bed held (a new object: what was held before is left as it was). */
export function mergeBed(held: HeldBed | undefined, change: WardChange): HeldBed {
  return mergeChange(held, change) as HeldBed;
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
