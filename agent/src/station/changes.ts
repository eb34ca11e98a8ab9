/**
 * What changed in a bed's view since it was last reported (StationModel.changes, the partial `ward`
 * events of docs/interfaces/station-web.md): the parts messages changed (BedState's DIRTY_* marks),
 * and what time alone changed (a value or score no longer current, a gateway lost). Costs what
 * changed, not the ward. Pure.
 */
import type { ObservationMsg } from '../proto/codec';
import type { BedChange, BedState, GatewayLiveness, Received, ValueChange, ValueView } from './station';
import { alarmViews, backfillView, bedView, flipAtMs, gatewayLiveness, scoreIsCurrent, scoreView, sequenceView, valueBits, valueFlags, valueView } from './views';

/** Parts of a bed's view that a message changed (BedState.dirty). */
export const DIRTY_STATUS = 1;
export const DIRTY_VALUE_SET = 2;
export const DIRTY_SCORE = 4;
export const DIRTY_ALARMS = 8;
export const DIRTY_HISTORY = 16;
export const DIRTY_SEQUENCE = 32;

/** The time-dependent part of a bed's view as last reported: a change of one is news, ageing alone is not. */
export interface Reported {
  gateway: GatewayLiveness;
  gatewayReason: string;
  /** Per value key: bit 1 current, bit 2 stopped. */
  values: Map<string, number>;
  /** Per value key: its look (everything but the number and the age) as last reported: unchanged, only those two are sent. */
  looks: Map<string, string>;
  scoreCurrent: boolean | null;
}

/** The bed's changes since it was last reported (StationModel.changes), and the report updated; null when none. */
export function bedChange(bed: BedState, nowMs: number): BedChange | null {
  const reported = bed.reported;
  if (!reported) {
    const view = bedView(bed, nowMs);
    bed.reported = {
      gateway: view.gateway,
      gatewayReason: view.gatewayReason,
      values: new Map(view.values.map((v) => [keyOf(v.parameter, v.interfaceId), flagBits(v)])),
      looks: new Map(view.values.map((v) => [keyOf(v.parameter, v.interfaceId), lookOf(v)])),
      scoreCurrent: view.score ? view.score.current : null,
    };
    return view;
  }
  const change: BedChange = { bed: bed.key };
  let changed = false;
  const liveness = gatewayLiveness(bed, nowMs);
  const gatewayUp = liveness.gateway === 'online';
  const upBefore = reported.gateway === 'online';
  if ((bed.dirty & DIRTY_STATUS) !== 0 || liveness.gateway !== reported.gateway || liveness.gatewayReason !== reported.gatewayReason) {
    Object.assign(change, { gatewayId: bed.gatewayId }, liveness);
    reported.gateway = liveness.gateway;
    reported.gatewayReason = liveness.gatewayReason;
    changed = true;
  }
  // Every value when the set of values changed (a new source renames the others) or the gateway
  // went up or down (which decides `current` for all); else the values a message or time changed.
  const all = (bed.dirty & DIRTY_VALUE_SET) !== 0 || gatewayUp !== upBefore;
  const values: ValueChange[] = [];
  const dirtyValues = bed.dirtyValues;
  /** Reports the value if it changed; returns when time alone could next change it (valueBits). */
  const check = (received: Received<ObservationMsg>, key: string): number => {
    const bits = valueBits(received, gatewayUp, nowMs);
    if (all || dirtyValues.has(key) || reported.values.get(key) !== bits) {
      const view = valueView(bed, received, valueFlags(received, gatewayUp, nowMs));
      const look = lookOf(view);
      // A new reading that looks as the last one did (the usual case at 1 Hz): its number and age only.
      values.push(reported.looks.get(key) === look ? { parameter: view.parameter, interfaceId: view.interfaceId, value: view.value, ageMs: view.ageMs } : view);
      reported.values.set(key, bits);
      reported.looks.set(key, look);
    }
    return flipAtMs;
  };
  if (all || nowMs >= bed.nextValueFlipMs) {
    let next = Infinity;
    bed.observations.forEach((received, key) => {
      next = Math.min(next, check(received, key));
    });
    bed.nextValueFlipMs = next;
  } else {
    for (const key of dirtyValues) {
      const received = bed.observations.get(key);
      if (received) bed.nextValueFlipMs = Math.min(bed.nextValueFlipMs, check(received, key));
    }
  }
  if (values.length > 0) {
    change.values = values;
    changed = true;
  }
  const scoreCurrent = bed.score ? scoreIsCurrent(bed.score, gatewayUp, nowMs) : null;
  if ((bed.dirty & DIRTY_SCORE) !== 0 || scoreCurrent !== reported.scoreCurrent) {
    change.score = scoreView(bed, gatewayUp, nowMs);
    reported.scoreCurrent = scoreCurrent;
    changed = true;
  }
  if ((bed.dirty & DIRTY_ALARMS) !== 0) {
    change.alarms = alarmViews(bed);
    changed = true;
  }
  if ((bed.dirty & DIRTY_SEQUENCE) !== 0) {
    Object.assign(change, sequenceView(bed));
    changed = true;
  }
  if ((bed.dirty & DIRTY_HISTORY) !== 0) {
    change.backfill = backfillView(bed);
    changed = true;
  }
  return changed ? change : null;
}

const keyOf = (parameter: string, interfaceId: string): string => `${parameter}@${interfaceId}`;

/** A value's look: all it shows but its number and its age. */
function lookOf(v: ValueView): string {
  return JSON.stringify([v.source, v.driver, v.unit, v.current, v.status, v.quality, v.reason, v.backfill, v.stopped, v.enteredBy, v.valueCode]);
}
const flagBits = (v: { current: boolean; stopped: boolean }): number => (v.current ? 1 : 0) | (v.stopped ? 2 : 0);
