/**
 * The OBX segments of a PCD-01 ORU^R01 as Vigil reads them: the syntax of each OBX (any error
 * rejects the whole message, in pcd01.ts), the meaning of each through the one parameter table
 * (an OBX Vigil cannot use is rejected alone), the equipment id by containment, one value per
 * parameter per message, and the reading as an observation of the Vigil model.
 *
 * Pure: no I/O, no clock (times are passed in); nothing here throws on any input. Rejects name
 * the field and the rule, never a value (readings are patient data).
 *
 * Sources of truth: HL7 v2.6 chapter 7, OBX-11 result status (table 0085) and OBX-8 abnormal
 * flags (table 0078); IHE PCD TF Vol 2, PCD-01: OBX-3 as an ISO/IEEE 11073-10101 (MDC) code,
 * OBX-4 containment "MDS.VMD.CHAN.METRIC", OBX-18 equipment instance id (EUI-64), MDC or UCUM
 * units in OBX-6. Interface specification: docs/interfaces/hl7-pcd01.md.
 */
import type { Observation, QualityFlag, ResultStatus, SourceDevice } from '../../model/observation';
import type { ParameterCode } from '../../model/parameters';
import { PARAMETERS, PARAMETER_TABLE_VERSION, parameterForMdc } from '../../model/parameters';
import { MDC_UNITS } from '../../model/units';
import type { Hl7Time } from './dtm';
import { parseDtm } from './dtm';
import type { Hl7Message, Hl7Segment, Hl7SyntaxError } from './hl7v2';
import { components, rawField, repetitions, value } from './hl7v2';

/**
 * Why one OBX is not turned into a reading while the rest of its message is used.
 *  - unknown-code: OBX-3 is not an MDC code of the parameter table (never guessed);
 *  - unsupported-value-type: a table parameter sent as text, coded or other non-numeric type;
 *  - numeric-array: an NA of more than one value for a scalar parameter;
 *  - unsupported-status: OBX-11 is a valid status that carries no result (I, N, O, S, U);
 *  - missing-status: OBX-11 is empty (HL7 requires it; without it the value cannot be used);
 *  - superseded: another OBX of the same message gives the same parameter with a code of
 *    higher priority in the table, or a later observation time for the same code;
 *  - ambiguous: two OBX give the same parameter with the same code and the same time.
 */
export type ObxRejectReason =
  | 'unknown-code'
  | 'unsupported-value-type'
  | 'numeric-array'
  | 'unsupported-status'
  | 'missing-status'
  | 'superseded'
  | 'ambiguous';

/** An observation time and the field it came from (OBX-14, else OBR-7 of the OBX's group). */
export type ObxTime = Hl7Time & { source: 'OBX-14' | 'OBR-7' };

export interface Pcd01Reading {
  /** OBX-1 as sent, and the OBX's position among the message's OBX segments (1-based). */
  setId: string;
  obxSequence: number;
  parameter: ParameterCode;
  mdcCode: number;
  /** OBX-3 text (the MDC reference id as the device named it; synonyms exist). */
  refId: string;
  /** OBX-4: MDS.VMD.CHAN.METRIC containment, as sent ('' when absent). */
  containment: string;
  value: number | null;
  /**
   * OBX-6 as a UCUM unit when Vigil knows the MDC unit, or the UCUM code sent; an unmapped
   * unit is passed on as "<system>:<code>" so that the validation stage rejects it (HAZ-001).
   */
  unit: string;
  status: ResultStatus;
  /** OBX-8 DEMO, or MSH-11 not P: simulated data, never patient data (HAZ-010). */
  demo: boolean;
  abnormalFlags: string[];
  /** OBX-14, or else OBR-7 of its OBR group. */
  observationTime: ObxTime | null;
  /** OBX-18 of this OBX, or of the nearest containing OBX (by OBX-4), or null. */
  equipmentId: string | null;
}

export type ObxOutcome =
  | { ok: true; reading: Pcd01Reading }
  | { ok: false; reason: ObxRejectReason; detail: string; obxSequence: number; field: number };

/** HL7 table 0085 (observation result status) -> Vigil status; null = carries no result. */
const STATUS_TABLE: Readonly<Record<string, ResultStatus | null>> = {
  F: 'final',
  C: 'corrected',
  P: 'preliminary',
  R: 'unverified',
  X: 'cannot-obtain',
  D: 'deleted',
  // W: "post original as wrong, e.g. transmitted for wrong patient": retracts, as D.
  W: 'deleted',
  I: null,
  N: null,
  O: null,
  S: null,
  U: null,
};

const NM = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const CONTAINMENT = /^\d+(\.\d+)*$/;

function parseNm(text: string): number | null | undefined {
  if (text === '' || text === '""') return null;
  if (!NM.test(text)) return undefined;
  const v = Number(text);
  return Number.isFinite(v) ? v : undefined;
}

/** Maps OBX-6 to a UCUM unit, or to an unmapped "<system>:<code>" the validation stage rejects. */
export function unitFromObx6(id: string, text: string, system: string): string {
  if (id === '' && text === '' && system === '') return '';
  const sys = system.toUpperCase();
  if (sys === 'MDC') {
    const byCode = id === '' ? undefined : MDC_UNITS[id];
    const byName = text === '' ? undefined : MDC_UNITS[text];
    if (byCode !== undefined && byName !== undefined && byCode !== byName) return `MDC:${id}/${text}`;
    return byCode ?? byName ?? `MDC:${id || text}`;
  }
  if (sys === 'UCUM' || sys === '') return id !== '' ? id : text;
  return `${system}:${id || text}`;
}

/** One OBX segment as found in the message, with the OBR-7 time of its OBR group. */
export interface RawObx {
  segment: Hl7Segment;
  /** Position among the message's OBX segments, 1-based. */
  sequence: number;
  obrTime: Hl7Time | null;
}

/** One OBX whose syntax is valid: its fields read, not yet judged against the parameter table. */
export interface ParsedObx {
  raw: RawObx;
  valueType: string;
  code: string;
  codeText: string;
  codeSystem: string;
  containment: string;
  values: Array<number | null> | null;
  hasValue: boolean;
  unit: string;
  abnormalFlags: string[];
  statusCode: string;
  time: ObxTime | null;
  ownEquipmentId: string | null;
}

/**
 * Reads the syntax of one OBX (pass 1 of decodePcd01): value type, identifier, containment,
 * numbers, unit, flags, status, time and equipment id. Any error is returned: a message with
 * one corrupt OBX may be corrupt elsewhere, and is never partly believed.
 */
export function parseObx(message: Hl7Message, raw: RawObx, defaultOffsetMinutes: number): { ok: true; obx: ParsedObx } | Hl7SyntaxError {
  const s = raw.segment;
  const where = `OBX ${raw.sequence}`;
  const fail = (detail: string, hl7Error: number, field: number): Hl7SyntaxError => ({
    ok: false,
    detail: `${where}: ${detail}`,
    hl7Error,
    location: { segment: 'OBX', sequence: raw.sequence, field },
  });
  const valueType = value(message, s, 2);
  const obx5 = rawField(s, 5);
  const hasValue = obx5 !== '' && obx5 !== '""';
  if (hasValue && valueType === '') return fail('OBX-5 has a value but OBX-2 (value type) is empty', 101, 2);
  if (valueType !== '' && !/^[A-Z]{2,3}$/.test(valueType)) return fail('OBX-2 is not an HL7 data type code', 102, 2);
  const code = value(message, s, 3, 1, 1);
  const codeText = value(message, s, 3, 1, 2);
  const codeSystem = value(message, s, 3, 1, 3);
  if (code === '' && codeText === '') return fail('OBX-3 (observation identifier) is required', 101, 3);
  const containment = value(message, s, 4);
  if (containment !== '' && !CONTAINMENT.test(containment)) return fail('OBX-4 is not a dotted containment (MDS.VMD.CHAN.METRIC)', 102, 4);
  const values = parseObxValues(message, s, valueType);
  if (typeof values === 'string') return fail(values, 102, 5);
  const unit = unitFromObx6(value(message, s, 6, 1, 1), value(message, s, 6, 1, 2), value(message, s, 6, 1, 3));
  const abnormalFlags = repetitions(message, s, 8).map((r) => components(message, r)[0] ?? '').filter((f) => f !== '');
  // OBX-11 is required by HL7, but an empty one is not a sign of corruption (a letter that is
  // not in table 0085 is): it rejects only that OBX, and only if Vigil would use it.
  const statusCode = value(message, s, 11);
  if (statusCode !== '' && !Object.hasOwn(STATUS_TABLE, statusCode)) return fail('OBX-11 is not a status of HL7 table 0085', 103, 11);
  let time: ObxTime | null = null;
  const t14 = value(message, s, 14);
  if (t14 !== '') {
    const parsedTime = parseDtm(t14, defaultOffsetMinutes);
    if (parsedTime === null) return fail('OBX-14 is not a valid HL7 DTM', 102, 14);
    time = { ...parsedTime, source: 'OBX-14' };
  } else if (raw.obrTime !== null) {
    time = { ...raw.obrTime, source: 'OBR-7' };
  }
  const eq = value(message, s, 18, 1, 1);
  return {
    ok: true,
    obx: { raw, valueType, code, codeText, codeSystem, containment, values, hasValue, unit, abnormalFlags, statusCode, time, ownEquipmentId: eq === '' ? null : eq },
  };
}

/** OBX-5 as numbers for NM and NA (null elsewhere), or the rule it breaks. */
function parseObxValues(message: Hl7Message, s: Hl7Segment, valueType: string): Array<number | null> | null | string {
  if (valueType === 'NM') {
    if (repetitions(message, s, 5).length > 1) return 'OBX-5 repeats for a single NM value';
    const v = parseNm(value(message, s, 5));
    if (v === undefined) return 'OBX-5 is not a valid NM number';
    return [v];
  }
  if (valueType === 'NA') {
    const first = repetitions(message, s, 5)[0] ?? '';
    const items = first === '' ? [] : components(message, first).map(parseNm);
    if (items.some((x) => x === undefined)) return 'OBX-5 has an NA element that is not a valid NM number';
    return items as Array<number | null>;
  }
  return null;
}

/** A containment's levels without the trailing zeros that mark its depth: "1.2.0.0" -> [1, 2]. */
function containmentLevels(c: string): string[] {
  const parts = c.split('.');
  while (parts.length > 1 && parts[parts.length - 1] === '0') parts.pop();
  return parts;
}

/**
 * Equipment id of each OBX: its own OBX-18, else that of the nearest containing OBX. PCD-01
 * puts OBX-18 on the MDS (and VMD) rows; "1.2.0.0" contains "1.2.1.3" (trailing zeros = level).
 */
export function equipmentIdResolver(parsedObx: readonly ParsedObx[]): (p: ParsedObx) => string | null {
  const containers = parsedObx
    .filter((q) => q.ownEquipmentId !== null && q.containment !== '')
    .map((q) => ({ id: q.ownEquipmentId as string, levels: containmentLevels(q.containment) }));
  return (p) => {
    if (p.ownEquipmentId !== null) return p.ownEquipmentId;
    if (p.containment === '') return null;
    const mine = containmentLevels(p.containment);
    let best: { depth: number; id: string } | null = null;
    for (const q of containers) {
      const theirs = q.levels;
      if (theirs.length >= mine.length || !theirs.every((x, i) => mine[i] === x)) continue;
      if (best === null || theirs.length > best.depth) best = { depth: theirs.length, id: q.id };
    }
    return best?.id ?? null;
  };
}

/**
 * The meaning of one OBX through the one parameter table (pass 2 of decodePcd01): a reading,
 * or the reason Vigil does not use it; null for an OBX without a value and without a table
 * code (a device, VMD or channel descriptor, or a metric the device could not obtain).
 */
export function judgeObx(message: Hl7Message, p: ParsedObx, demoMessage: boolean, equipmentOf: (p: ParsedObx) => string | null): ObxOutcome | null {
  const seq = p.raw.sequence;
  const reject = (reason: ObxRejectReason, detail: string, field: number): ObxOutcome => ({ ok: false, reason, detail: `OBX ${seq}: ${detail}`, obxSequence: seq, field });
  const numeric = /^\d{1,10}$/.test(p.code) ? Number(p.code) : null;
  const spec = p.codeSystem.toUpperCase() === 'MDC' && numeric !== null ? parameterForMdc(numeric) : undefined;
  if (spec === undefined) {
    // Device, VMD and channel rows, and metrics the device could not obtain: no value to use.
    if (!p.hasValue) return null;
    const name = p.codeText === '' ? '' : ` (${p.codeText})`;
    if (p.codeSystem.toUpperCase() !== 'MDC') return reject('unknown-code', `OBX-3 coding system "${p.codeSystem}" is not MDC`, 3);
    if (numeric === null) return reject('unknown-code', 'OBX-3 identifier is not a numeric MDC code', 3);
    return reject('unknown-code', `MDC code ${numeric}${name} is not in the parameter table v${PARAMETER_TABLE_VERSION}`, 3);
  }
  if (p.valueType !== '' && p.valueType !== 'NM' && p.valueType !== 'NA') {
    return reject('unsupported-value-type', `OBX-2 "${p.valueType}" for ${spec.code}: only NM and NA carry numbers`, 2);
  }
  if (p.values !== null && p.values.length > 1) return reject('numeric-array', `OBX-5 has ${p.values.length} values for the scalar parameter ${spec.code}`, 5);
  if (p.statusCode === '') return reject('missing-status', `OBX-11 (result status) is empty for ${spec.code}`, 11);
  const status = STATUS_TABLE[p.statusCode] ?? null;
  if (status === null) return reject('unsupported-status', `OBX-11 "${p.statusCode}" carries no result`, 11);
  // X (cannot be obtained), D and W (deleted, wrong) carry no usable result, whatever is in OBX-5.
  const sentValue = p.values?.[0] ?? null;
  const resultValue = status === 'cannot-obtain' || status === 'deleted' ? null : sentValue;
  return {
    ok: true,
    reading: {
      setId: value(message, p.raw.segment, 1),
      obxSequence: seq,
      parameter: spec.code,
      mdcCode: numeric ?? 0,
      refId: p.codeText,
      containment: p.containment,
      value: resultValue,
      unit: p.unit,
      status,
      demo: demoMessage || p.abnormalFlags.includes('DEMO'),
      abnormalFlags: p.abnormalFlags,
      observationTime: p.time,
      equipmentId: equipmentOf(p),
    },
  };
}

/**
 * One value per parameter per message (HAZ-005: the table decides, never arrival order): the
 * code listed first in the parameter's `mdc` list wins; for the same code the later
 * observation time wins; an exact tie rejects all of the tied OBX as ambiguous.
 */
export function resolveDuplicates(outcomes: ObxOutcome[]): ObxOutcome[] {
  const byParameter = new Map<ParameterCode, Pcd01Reading[]>();
  for (const o of outcomes) {
    if (!o.ok) continue;
    const list = byParameter.get(o.reading.parameter) ?? [];
    list.push(o.reading);
    byParameter.set(o.reading.parameter, list);
  }
  const verdict = new Map<Pcd01Reading, { reason: ObxRejectReason; detail: string } | null>();
  for (const [parameter, readings] of byParameter) {
    if (readings.length === 1) continue;
    const rank = (r: Pcd01Reading): number => PARAMETERS[parameter].mdc.findIndex((m) => m.code === r.mdcCode);
    // A reading without a time ranks below any reading with one.
    const time = (r: Pcd01Reading): number => r.observationTime?.ms ?? Number.MIN_SAFE_INTEGER;
    const sorted = [...readings].sort((a, b) => rank(a) - rank(b) || Math.sign(time(b) - time(a)));
    const best = sorted[0] as Pcd01Reading;
    const tied = sorted.filter((r) => rank(r) === rank(best) && time(r) === time(best));
    for (const r of readings) {
      if (tied.length > 1 && tied.includes(r)) {
        verdict.set(r, { reason: 'ambiguous', detail: `${parameter} given ${tied.length} times with the same code and time` });
      } else if (r !== best) {
        verdict.set(r, { reason: 'superseded', detail: `${parameter} also given by OBX ${best.obxSequence} (table priority, then latest time)` });
      }
    }
  }
  return outcomes.map((o) => {
    if (!o.ok) return o;
    const v = verdict.get(o.reading);
    if (!v) return o;
    return { ok: false, reason: v.reason, detail: `OBX ${o.reading.obxSequence}: ${v.detail}`, obxSequence: o.reading.obxSequence, field: 3 };
  });
}

/** The device code of a reading as carried on observations: "MDC:150456". */
export function deviceCodeOf(reading: Pcd01Reading): string {
  return `MDC:${reading.mdcCode}`;
}

/** Turns one reading into an observation, not yet validated (pure). */
export function readingToObservation(
  reading: Pcd01Reading,
  stamp: { wallMs: number; monoNs: bigint },
  source: Omit<SourceDevice, 'serialNumber'>,
): Observation {
  const quality: QualityFlag[] = reading.demo ? ['demo'] : [];
  let unavailableReason = '';
  if (reading.value === null) {
    unavailableReason = reading.status === 'cannot-obtain' ? 'cannot-obtain' : reading.status === 'deleted' ? 'deleted' : 'no-value';
  }
  return {
    parameter: reading.parameter,
    value: reading.value,
    unitUcum: reading.unit,
    status: reading.status,
    quality,
    source: { ...source, serialNumber: reading.equipmentId ?? '' },
    deviceTimeMs: reading.observationTime?.ms ?? null,
    deviceTimeText: reading.observationTime?.text ?? '',
    receiveWallMs: stamp.wallMs,
    receiveMonoNs: stamp.monoNs,
    unavailableReason,
    deviceCode: deviceCodeOf(reading),
  };
}
