/**
 * Interface risk controls: small composable checks applied, in order, to every
 * observation from every driver before it may be published as a value or feed the
 * score. Pure: the per-source memory they need is passed in (SourceMemory) and the
 * time comes from the observation's own stamps.
 *
 * Each control either passes the observation on (possibly converted or flagged, with
 * notices for the alarm stage) or rejects it with the hazard it controls, a stable
 * rule, the field, and a detail that names the rule but never the value (readings are
 * patient data). Hazard ids refer to docs/risk/hazards.yaml.
 */
import type { Observation, QualityFlag } from '../model/observation';
import type { ParameterCode, ParameterSpec } from '../model/parameters';
import { isParameterCode, PARAMETERS } from '../model/parameters';
import { toCanonicalUnit } from '../model/units';

/** Hazard ids of docs/risk/hazards.yaml. */
export type HazardId =
  | 'HAZ-001'
  | 'HAZ-002'
  | 'HAZ-003'
  | 'HAZ-004'
  | 'HAZ-005'
  | 'HAZ-006'
  | 'HAZ-007'
  | 'HAZ-008'
  | 'HAZ-009'
  | 'HAZ-010'
  | 'HAZ-011';

export type NoticeCondition = 'device-clock-trusted' | 'device-clock-untrusted' | `unit-changed.${ParameterCode}`;

/** Something a subscriber should hear about although the value was accepted. */
export interface Notice {
  hazard: HazardId;
  /** An alarm condition of the catalogue (safety/conditions.ts), or `device-clock-trusted` (it clears one). */
  condition: NoticeCondition;
  detail: string;
}

/** Why a control rejected a value; the alarm is `value-rejected.<rule>` (safety/conditions.ts). */
export type ValidationRule = 'unknown-parameter' | 'demo-data' | 'unknown-unit' | 'wrong-dimension' | 'not-finite' | 'implausible' | 'stale-on-arrival';

export interface Rejection {
  ok: false;
  hazard: HazardId;
  rule: ValidationRule;
  field: string;
  detail: string;
}

export type Verdict = { ok: true; obs: Observation; notices: Notice[] } | Rejection;

/** What the controls remember about one source (interface + parameter, or interface). */
export interface SourceMemory {
  /** Last unit seen per parameter, to notice a unit change mid-stream. */
  lastUnit: Map<string, string>;
  /** Recent device-minus-gateway clock offsets (ms), newest last. */
  clockOffsetsMs: number[];
  clockTrusted: boolean;
  /** Offsets of the last OFFSET_WINDOW_MS of receive time, for the age on arrival (see arrivalOffsetMs). */
  offsetSamples: Array<{ receiveMonoNs: bigint; offsetMs: number }>;
  /** The same offsets kept sorted, so that their median costs no sort per observation. */
  sortedOffsetsMs: number[];
  /** An offset known by construction (`vigil decode` judges a capture as received at its device time). */
  assumedOffsetMs: number | null;
}

export function newSourceMemory(assumedOffsetMs: number | null = null): SourceMemory {
  return { lastUnit: new Map(), clockOffsetsMs: [], clockTrusted: true, offsetSamples: [], sortedOffsetsMs: [], assumedOffsetMs };
}

export interface ControlSettings {
  maxAgeMs(spec: ParameterSpec): number;
  /** Beyond this |device - gateway| clock offset the device time is untrusted. */
  clockOffsetBoundMs: number;
}

export type Control = (obs: Observation, memory: SourceMemory, settings: ControlSettings) => Verdict;

const reject = (hazard: HazardId, rule: ValidationRule, field: string, detail: string): Rejection => ({
  ok: false,
  hazard,
  rule,
  field,
  detail,
});
const pass = (obs: Observation, notices: Notice[] = []): Verdict => ({ ok: true, obs, notices });

function withFlag(obs: Observation, flag: QualityFlag): Observation {
  return obs.quality.includes(flag) ? obs : { ...obs, quality: [...obs.quality, flag].sort() };
}

/** HAZ-005 (map): only parameters of the versioned table pass (drivers map device codes through it). */
export const knownParameter: Control = (obs) =>
  isParameterCode(obs.parameter)
    ? pass(obs)
    : reject('HAZ-005', 'unknown-parameter', 'parameter', 'parameter is not in the parameter table');

/** HAZ-010 (demo): simulated, demo or stored data is never presented as live patient data. */
export const notDemo: Control = (obs) =>
  obs.quality.includes('demo')
    ? reject('HAZ-010', 'demo-data', obs.parameter, `${obs.parameter}: source marks the value as demo/simulated data`)
    : pass(obs);

/**
 * HAZ-001 (unit): the unit must be one accepted for the parameter. An exact UCUM conversion
 * is applied (original kept, flag unit-converted); a unit change mid-stream is a notice.
 */
export const unitChecked: Control = (obs, memory) => {
  const spec = PARAMETERS[obs.parameter];
  const previous = memory.lastUnit.get(obs.parameter);
  const notices: Notice[] = [];
  if (previous !== undefined && previous !== obs.unitUcum) {
    notices.push({
      hazard: 'HAZ-001',
      condition: `unit-changed.${obs.parameter}`,
      detail: `${obs.parameter}: unit changed from "${previous}" to "${obs.unitUcum}"`,
    });
  }
  memory.lastUnit.set(obs.parameter, obs.unitUcum);
  if (obs.value === null) {
    return obs.unitUcum === spec.unitUcum || obs.unitUcum === ''
      ? pass({ ...obs, unitUcum: spec.unitUcum }, notices)
      : unitOnly(obs, spec, notices);
  }
  const r = toCanonicalUnit(obs.value, obs.unitUcum, spec.unitUcum);
  if (!r.ok) {
    return reject('HAZ-001', r.rule, obs.parameter, `${obs.parameter}: unit "${obs.unitUcum}" is not accepted (canonical "${spec.unitUcum}")`);
  }
  if (!r.converted) return pass({ ...obs, unitUcum: spec.unitUcum }, notices);
  return pass(
    withFlag({ ...obs, value: r.value, unitUcum: spec.unitUcum, original: { value: obs.value, unit: obs.unitUcum } }, 'unit-converted'),
    notices,
  );
};

function unitOnly(obs: Observation, spec: ParameterSpec, notices: Notice[]): Verdict {
  const r = toCanonicalUnit(0, obs.unitUcum, spec.unitUcum);
  if (!r.ok) return reject('HAZ-001', r.rule, obs.parameter, `${obs.parameter}: unit "${obs.unitUcum}" is not accepted (canonical "${spec.unitUcum}")`);
  return pass({ ...obs, unitUcum: spec.unitUcum }, notices);
}

/** HAZ-006 (implausible): finite, and inside the physiological range of the parameter (after conversion). */
export const plausible: Control = (obs) => {
  if (obs.value === null) return pass(obs);
  const spec = PARAMETERS[obs.parameter];
  if (!Number.isFinite(obs.value)) {
    return reject('HAZ-006', 'not-finite', obs.parameter, `${obs.parameter}: value must be a finite number`);
  }
  if (obs.value < spec.plausibleMin || obs.value > spec.plausibleMax) {
    return reject(
      'HAZ-006',
      'implausible',
      obs.parameter,
      `${obs.parameter}: value must be between ${spec.plausibleMin} and ${spec.plausibleMax} ${spec.unitUcum}`,
    );
  }
  return pass(obs);
};

const CLOCK_WINDOW = 15;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** The source's current clock offset estimate (median of recent offsets), or null. */
export function clockOffsetMs(memory: SourceMemory): number | null {
  return memory.clockOffsetsMs.length === 0 ? null : median(memory.clockOffsetsMs);
}

/**
 * HAZ-004 (clock): the device clock's offset from the gateway is measured per source (median
 * of recent frames, so one late frame does not flip it); beyond the bound, device time
 * is flagged untrusted and ages use the gateway's receive time only.
 */
export const deviceClockChecked: Control = (obs, memory, settings) => {
  if (obs.deviceTimeMs === null) return pass(obs);
  memory.clockOffsetsMs.push(obs.deviceTimeMs - obs.receiveWallMs);
  if (memory.clockOffsetsMs.length > CLOCK_WINDOW) memory.clockOffsetsMs.shift();
  // Never empty here: the offset of this frame was just added.
  const offset = median(memory.clockOffsetsMs);
  const trusted = Math.abs(offset) <= settings.clockOffsetBoundMs;
  const notices: Notice[] = [];
  if (trusted !== memory.clockTrusted) {
    notices.push({
      hazard: 'HAZ-004',
      condition: trusted ? 'device-clock-trusted' : 'device-clock-untrusted',
      detail: trusted
        ? 'device clock back within bound'
        : `device clock offset beyond ${settings.clockOffsetBoundMs} ms: receive time is used for age`,
    });
    memory.clockTrusted = trusted;
  }
  return pass(trusted ? obs : withFlag(obs, 'device-clock-untrusted'), notices);
};

/** How far back the offset samples for the age on arrival reach (receive time, monotonic). */
export const OFFSET_WINDOW_MS = 300_000;
const MAX_OFFSET_SAMPLES = 3_000;

/**
 * The device clock's offset from the gateway for ages on arrival: the median of the offsets of
 * the last OFFSET_WINDOW_MS, or null while it is not yet known (nothing received before this
 * frame). A frame held up on its way (a stalled event loop, a pty that buffered lines) shows a
 * smaller offset than the others; the median over five minutes stays with the frames that came
 * at once unless the hold-up lasts half the window, and one frame with a wild time moves it
 * nowhere, so a held-up frame shows its true age and a clock ahead or behind shows none.
 */
export function arrivalOffsetMs(memory: SourceMemory, obs: Observation): number | null {
  if (memory.assumedOffsetMs !== null) return memory.assumedOffsetMs;
  if (obs.deviceTimeMs === null) return null;
  const samples = memory.offsetSamples;
  const sorted = memory.sortedOffsetsMs;
  const offsetMs = obs.deviceTimeMs - obs.receiveWallMs;
  samples.push({ receiveMonoNs: obs.receiveMonoNs, offsetMs });
  sorted.splice(lowerBound(sorted, offsetMs), 0, offsetMs);
  const cutoff = obs.receiveMonoNs - BigInt(OFFSET_WINDOW_MS) * 1_000_000n;
  while (samples.length > MAX_OFFSET_SAMPLES || (samples[0] !== undefined && samples[0].receiveMonoNs < cutoff)) {
    const gone = samples.shift() as { offsetMs: number };
    sorted.splice(lowerBound(sorted, gone.offsetMs), 1);
  }
  // Known once something was received before this frame (samples are in receive order).
  if (!(samples[0] !== undefined && samples[0].receiveMonoNs < obs.receiveMonoNs)) return null;
  const mid = Math.floor(sorted.length / 2);
  // At least two samples here (one received before this frame): the indexes exist.
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The first index of a sorted array whose value is not below `x`. */
function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if ((sorted[m] ?? 0) < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/**
 * HAZ-003 (stale): a value whose device time is already older than its maximum age on arrival
 * is stored or replayed data, not a current reading: rejected. The age is the device's, read on
 * the gateway's clock through the measured offset (arrivalOffsetMs), so that neither a device
 * clock ahead hides a value held up on the way, nor one behind makes fresh values stale. While
 * the offset is not yet known (the first frame of a source), the age is the gateway's own (the
 * value just arrived) and the value is flagged device-clock-untrusted: its device time is unchecked.
 */
export const freshOnArrival: Control = (obs, memory, settings) => {
  if (obs.deviceTimeMs === null || obs.quality.includes('device-clock-untrusted') || obs.quality.includes('backfill')) {
    return pass(obs);
  }
  const offsetMs = arrivalOffsetMs(memory, obs);
  if (offsetMs === null) return pass(withFlag(obs, 'device-clock-untrusted'));
  const spec = PARAMETERS[obs.parameter];
  const ageMs = obs.receiveWallMs - (obs.deviceTimeMs - offsetMs);
  if (ageMs > settings.maxAgeMs(spec)) {
    return reject('HAZ-003', 'stale-on-arrival', obs.parameter, `${obs.parameter}: device time older than the maximum age on arrival`);
  }
  return pass(obs);
};

/** The controls, in the order they run. */
export const CONTROLS: readonly Control[] = [knownParameter, notDemo, unitChecked, plausible, deviceClockChecked, freshOnArrival];

/** Runs every control in order; the first rejection wins; notices accumulate. */
export function runControls(obs: Observation, memory: SourceMemory, settings: ControlSettings): Verdict {
  let current = obs;
  const notices: Notice[] = [];
  for (const control of CONTROLS) {
    const v = control(current, memory, settings);
    if (!v.ok) return v;
    current = v.obs;
    notices.push(...v.notices);
  }
  return { ok: true, obs: current, notices };
}

/**
 * Flags that keep a value out of the score (HAZ-009): the value is still published,
 * flagged, so the station can show it as questionable, but it never counts as a vital sign.
 */
const EXCLUDING_FLAGS: ReadonlySet<QualityFlag> = new Set<QualityFlag>([
  'sensor-off',
  'no-sensor',
  'pulse-search',
  'interference',
  'low-perfusion',
  'low-signal-quality',
  'device-fault',
  'ambient-light',
  'unknown-device-condition',
  'frozen',
  'motion',
  'stale',
  'demo',
  'backfill',
]);

/**
 * Why an accepted observation may not feed the score, or null when it may (HAZ-002,
 * HAZ-009). Final and corrected values feed it; unverified device values (HL7 "R",
 * how live monitor values arrive) only where the interface is configured to trust them;
 * preliminary, cannot-obtain, deleted and unavailable never do.
 */
export function scoreExclusion(obs: Observation, scoreUnverified: boolean): string | null {
  if (obs.value === null) return obs.unavailableReason || obs.status;
  switch (obs.status) {
    case 'final':
    case 'corrected':
      break;
    case 'unverified':
      if (!scoreUnverified) return 'status-unverified';
      break;
    default:
      return `status-${obs.status}`;
  }
  const flag = obs.quality.find((q) => EXCLUDING_FLAGS.has(q));
  return flag ? `quality-${flag}` : null;
}
