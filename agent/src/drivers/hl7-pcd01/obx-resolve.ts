/**
 * One value per parameter per message (HAZ-005: the table and the profile decide, never arrival
 * order). When a message gives a parameter several times:
 *   1. the code of highest priority wins (the order of the parameter's codes in the table, then
 *      a profile's codes): the others are superseded;
 *   2. among rows of that code, the device's profile may name the OBX-4 channel to read it from;
 *   3. a row without a value yields to rows with one; the same value (and unit and status)
 *      given again, on any channel, is delivered once;
 *   4. different values on different channels: nothing says which one is the patient's, so
 *      every such row is withheld as ambiguous (a profile names the channel);
 *   5. on one channel (or without OBX-4), the later observation time wins; a tie is ambiguous.
 *
 * Pure; never throws.
 */
import type { ParameterCode } from '../../model/parameters';
import type { ObxOutcome, ObxRejectReason, Pcd01Reading } from './obx';
import type { Hl7Profile } from './profile';

/** The OBX-4 channel of a reading: MDS.VMD.CHAN of "MDS.VMD.CHAN.METRIC"; the whole containment when shorter. */
export function channelOf(containment: string): string {
  const levels = containment.split('.');
  return levels.length >= 4 ? levels.slice(0, 3).join('.') : containment;
}

/** Whether a containment lies in the channel a profile names ("1.2.1" holds "1.2.1.150344"). */
function inChannel(containment: string, channel: string): boolean {
  return containment === channel || containment.startsWith(`${channel}.`);
}

type Verdict = { reason: ObxRejectReason; rule: string };

const sameValue = (a: Pcd01Reading, b: Pcd01Reading): boolean => a.value === b.value && a.unit === b.unit && a.status === b.status;

/** Verdicts for the rows of one parameter given several times (rules 1-5 above). */
function resolveOne(parameter: ParameterCode, readings: Pcd01Reading[], profile: Hl7Profile | null, verdict: Map<Pcd01Reading, Verdict>): void {
  const best = Math.min(...readings.map((r) => r.rank));
  let candidates = readings.filter((r) => r.rank === best);
  const top = candidates[0] as Pcd01Reading;
  for (const r of readings) if (r.rank !== best) verdict.set(r, { reason: 'superseded', rule: `${parameter} also given by ${top.label} (code priority)` });
  const channel = profile?.channels[parameter];
  if (channel !== undefined && candidates.some((r) => inChannel(r.containment, channel))) {
    for (const r of candidates) if (!inChannel(r.containment, channel)) verdict.set(r, { reason: 'superseded', rule: `${parameter} is read from channel ${channel} (profile ${profile?.name})` });
    candidates = candidates.filter((r) => inChannel(r.containment, channel));
  }
  if (candidates.length < 2) return;
  // A row without a value (cannot be obtained, a placeholder) does not contradict one with a value.
  const valued = candidates.filter((r) => r.value !== null);
  if (valued.length > 0 && valued.length < candidates.length) {
    for (const r of candidates) if (r.value === null) verdict.set(r, { reason: 'superseded', rule: `${parameter} has no value here; ${(valued[0] as Pcd01Reading).label} has one` });
    candidates = valued;
    if (candidates.length < 2) return;
  }
  const first = candidates[0] as Pcd01Reading;
  if (candidates.every((r) => sameValue(r, first))) {
    for (const r of candidates.slice(1)) verdict.set(r, { reason: 'superseded', rule: `${parameter}: the same value as ${first.label}` });
    return;
  }
  const channels = new Set(candidates.map((r) => channelOf(r.containment)));
  if (channels.size > 1) {
    for (const r of candidates) verdict.set(r, { reason: 'ambiguous', rule: `${parameter} given on ${channels.size} channels with different values (no profile names the channel)` });
    return;
  }
  // A reading without a time ranks below any reading with one.
  const time = (r: Pcd01Reading): number => r.observationTime?.ms ?? Number.MIN_SAFE_INTEGER;
  const latest = Math.max(...candidates.map(time));
  const newest = candidates.filter((r) => time(r) === latest);
  for (const r of candidates) {
    if (newest.length > 1 && newest.includes(r)) verdict.set(r, { reason: 'ambiguous', rule: `${parameter} given ${newest.length} times with the same code and time` });
    else if (!newest.includes(r)) verdict.set(r, { reason: 'superseded', rule: `${parameter} also given later by ${(newest[0] as Pcd01Reading).label}` });
  }
}

/** Applies the rules to every parameter of the message; rows that lose become rejections naming the winner. */
export function resolveDuplicates(outcomes: ObxOutcome[], profile: Hl7Profile | null = null): ObxOutcome[] {
  const byParameter = new Map<ParameterCode, Pcd01Reading[]>();
  for (const o of outcomes) {
    if (!o.ok) continue;
    const list = byParameter.get(o.reading.parameter) ?? [];
    list.push(o.reading);
    byParameter.set(o.reading.parameter, list);
  }
  const verdict = new Map<Pcd01Reading, Verdict>();
  for (const [parameter, readings] of byParameter) if (readings.length > 1) resolveOne(parameter, readings, profile, verdict);
  return outcomes.map((o) => {
    if (!o.ok) return o;
    const v = verdict.get(o.reading);
    if (!v) return o;
    const r = o.reading;
    return { ok: false, reason: v.reason, detail: `${r.label}: ${v.rule}`, obxSequence: r.obxSequence, setId: r.setId, field: 3, ignored: false, parameter: r.parameter, unmappedCode: null };
  });
}
