/**
 * The syntax of one OBX segment: its identity (OBX-1 set id, OBX-3 code), how it is named in a
 * reason, and its fields read as Vigil uses them (value type, containment, numbers, unit,
 * flags, status, time, equipment id). What the OBX means is judged in obx.ts.
 *
 * Why one faulty OBX cannot make the others untrustworthy (HAZ-008, CTRL-109): the segment
 * and field delimiters are fixed for the whole message by MSH-1/MSH-2 and checked before any
 * OBX is read (hl7v2.ts); an OBX is one segment, and every field read here is read within it,
 * so a fault in one OBX's fields cannot move another OBX's fields. The row's own identity
 * (OBX-3) is read on its own; the equipment (OBX-18) and the patient (PID-3) of the message
 * are checked independently of any OBX's syntax (receiver.ts).
 *
 * Pure: no I/O, no clock; nothing here throws on any input. Reasons name the row and the rule,
 * never a value (readings are patient data); the OBX-3 code is device vocabulary and is named.
 */
import type { Hl7Time } from './dtm';
import { parseDtmTolerant } from './dtm';
import type { Hl7Message, Hl7Segment } from './hl7v2';
import { components, rawField, repetitions, value } from './hl7v2';
import { MDC_UNITS } from '../../model/units';

/** An observation time and the field it came from (OBX-14, else OBR-7 of the OBX's group). */
export type ObxTime = Hl7Time & { source: 'OBX-14' | 'OBR-7' };

/** One OBX segment as found in the message, with the OBR-7 time of its OBR group. */
export interface RawObx {
  segment: Hl7Segment;
  /** Position among the message's OBX segments, 1-based (HL7 ERR-2 counts segments so). */
  sequence: number;
  /** OBX-1 as sent. Set ids count the OBX of one OBR group (HL7 v2.6 7.4.2.1). */
  setId: string;
  /** The OBR group the OBX belongs to, 1-based, and whether the message has several. */
  obrGroup: number;
  severalGroups: boolean;
  /** OBX-1 empty, or the same set id as an earlier OBX of its group: then the position names the row. */
  setIdNote: 'empty' | 'repeated' | null;
  obrTime: Hl7Time | null;
}

/** OBX-3 as sent: code (component 1), text (2), coding system (3). */
export interface ObxIdentity {
  code: string;
  text: string;
  system: string;
}

/** OBX-3 of an OBX, unescaped. */
export function obxIdentity(message: Hl7Message, s: Hl7Segment): ObxIdentity {
  return { code: value(message, s, 3, 1, 1), text: value(message, s, 3, 1, 2), system: value(message, s, 3, 1, 3) };
}

/** Device vocabulary shown in a reason: printable ASCII only, bounded. */
function shown(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 61)}...` : clean;
}

/**
 * How a reason names an OBX: its own set id (OBX-1 as sent), the OBX's position when OBX-1 is
 * empty or repeated, and its OBX-3 code, e.g. `OBX-1 3 (150456^MDC_PULS_OXIM_SAT_O2^MDC)` or
 * `OBX-1 empty, OBX segment 4 (150456^...)`.
 */
export function rowLabel(raw: RawObx, id: ObxIdentity): string {
  const code = id.code === '' && id.text === '' && id.system === '' ? 'no OBX-3' : [id.code, id.text, id.system].map(shown).join('^');
  const group = raw.severalGroups ? ` of OBR group ${raw.obrGroup}` : '';
  if (raw.setIdNote === 'empty') return `OBX-1 empty${group}, OBX segment ${raw.sequence} (${code})`;
  const setId = shown(raw.setId);
  if (raw.setIdNote === 'repeated') return `OBX-1 ${setId} repeated${group}, OBX segment ${raw.sequence} (${code})`;
  return `OBX-1 ${setId}${group} (${code})`;
}

/** One OBX whose syntax is valid: its fields read, not yet judged against the parameter table. */
export interface ParsedObx {
  raw: RawObx;
  identity: ObxIdentity;
  valueType: string;
  containment: string;
  values: Array<number | null> | null;
  hasValue: boolean;
  unit: string;
  abnormalFlags: string[];
  statusCode: string;
  time: ObxTime | null;
  ownEquipmentId: string | null;
  /** OBX-14 was read in the form without a decimal point (tolerant only: a conformance warning). */
  timeDeviation: boolean;
  /** OBX-5 was a number sent as ST or TX text, read as NM (tolerant only: a conformance warning). */
  numericText: boolean;
}

/** A syntax error in one OBX: the field, the HL7 table 0357 code and the rule. */
export interface ObxSyntaxError {
  ok: false;
  /** The rule broken, without the row's name (the caller names the row). */
  rule: string;
  hl7Error: number;
  field: number;
}

const NM = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const CONTAINMENT = /^\d+(\.\d+)*$/;
/** HL7 table 0085 codes (observation result status). */
export const RESULT_STATUS_CODES: readonly string[] = ['F', 'C', 'P', 'R', 'X', 'D', 'W', 'I', 'N', 'O', 'S', 'U'];

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

/**
 * Reads the syntax of one OBX: value type, identifier, containment, numbers, unit, flags,
 * status, time and equipment id; the first rule broken otherwise. With `tolerant`, an OBX-14
 * whose fraction has no decimal point is read (and said so).
 */
export function parseObx(message: Hl7Message, raw: RawObx, defaultOffsetMinutes: number, tolerant: boolean): { ok: true; obx: ParsedObx } | ObxSyntaxError {
  const s = raw.segment;
  const fail = (rule: string, hl7Error: number, field: number): ObxSyntaxError => ({ ok: false, rule, hl7Error, field });
  const valueType = value(message, s, 2);
  const obx5 = rawField(s, 5);
  const hasValue = obx5 !== '' && obx5 !== '""';
  if (hasValue && valueType === '') return fail('OBX-5 has a value but OBX-2 (value type) is empty', 101, 2);
  if (valueType !== '' && !/^[A-Z]{2,3}$/.test(valueType)) return fail('OBX-2 is not an HL7 data type code', 102, 2);
  const identity = obxIdentity(message, s);
  if (identity.code === '' && identity.text === '') return fail('OBX-3 (observation identifier) is required', 101, 3);
  const containment = value(message, s, 4);
  if (containment !== '' && !CONTAINMENT.test(containment)) return fail('OBX-4 is not a dotted containment (MDS.VMD.CHAN.METRIC)', 102, 4);
  // Tolerant: a number sent as text (ST, TX) whose text is exactly an NM number is that number.
  const numericText = tolerant && (valueType === 'ST' || valueType === 'TX') && hasValue && parseNm(value(message, s, 5)) !== undefined && repetitions(message, s, 5).length === 1;
  const values = parseObxValues(message, s, numericText ? 'NM' : valueType);
  if (typeof values === 'string') return fail(values, 102, 5);
  const unit = unitFromObx6(value(message, s, 6, 1, 1), value(message, s, 6, 1, 2), value(message, s, 6, 1, 3));
  // components() splits, so it always has a first element.
  const abnormalFlags = repetitions(message, s, 8).map((r) => components(message, r)[0] as string).filter((f) => f !== '');
  // OBX-11 is required by HL7, but an empty one is not a sign of corruption (a letter that is
  // not in table 0085 is): what it means is decided with the meaning (obx.ts).
  const statusCode = value(message, s, 11);
  if (statusCode !== '' && !RESULT_STATUS_CODES.includes(statusCode)) return fail('OBX-11 is not a status of HL7 table 0085', 103, 11);
  let time: ObxTime | null = null;
  let timeDeviation = false;
  const t14 = value(message, s, 14);
  if (t14 !== '') {
    const parsedTime = parseDtmTolerant(t14, defaultOffsetMinutes, tolerant);
    if (parsedTime === null) return fail('OBX-14 is not a valid HL7 DTM', 102, 14);
    time = { ...parsedTime.time, source: 'OBX-14' };
    timeDeviation = parsedTime.deviation;
  } else if (raw.obrTime !== null) {
    time = { ...raw.obrTime, source: 'OBR-7' };
  }
  const eq = value(message, s, 18, 1, 1);
  return {
    ok: true,
    obx: { raw, identity, valueType: numericText ? 'NM' : valueType, containment, values, hasValue, unit, abnormalFlags, statusCode, time, ownEquipmentId: eq === '' ? null : eq, timeDeviation, numericText },
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

/** The OBX-18 equipment id of an OBX, read even when its other fields are faulty (the identity check must see it). */
export function ownEquipmentIdOf(message: Hl7Message, s: Hl7Segment): string | null {
  const eq = value(message, s, 18, 1, 1);
  return eq === '' ? null : eq;
}

/** Marks the OBX-1 of each OBX: empty, or repeated from an earlier OBX of its OBR group. */
export function noteSetIds(rows: Array<Omit<RawObx, 'setIdNote'>>): RawObx[] {
  const seen = new Set<string>();
  return rows.map((r) => {
    const key = `${r.obrGroup}\u0000${r.setId}`;
    const note = r.setId === '' ? 'empty' : seen.has(key) ? 'repeated' : null;
    seen.add(key);
    return { ...r, setIdNote: note };
  });
}

/** Whether the set ids of each OBR group are 1, 2, 3 ... in order (HL7 v2.6 7.4.2.1); a deviation is a conformance warning. */
export function setIdsInSequence(rows: readonly RawObx[]): boolean {
  const next = new Map<number, number>();
  return rows.every((r) => {
    const expected = (next.get(r.obrGroup) ?? 0) + 1;
    next.set(r.obrGroup, expected);
    return r.setId === String(expected);
  });
}
