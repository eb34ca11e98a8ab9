/**
 * The OBX segments of a PCD-01 ORU^R01 as Vigil reads them: the meaning of each OBX through
 * the one parameter table and the device's profile (obx-code.ts), judged one OBX at a time so
 * that an OBX Vigil cannot use, or one whose syntax is faulty (obx-parse.ts), is rejected alone
 * with its reason, its own set id and its code; the equipment id by containment; and the
 * reading as an observation of the Vigil model. One value per parameter: obx-resolve.ts.
 *
 * Pure: no I/O, no clock (times are passed in); nothing here throws on any input. Rejects name
 * the row and the rule, never a value (readings are patient data).
 *
 * Sources of truth: HL7 v2.6 chapter 7, OBX-11 result status (table 0085) and OBX-8 abnormal
 * flags (table 0078); IHE PCD TF Vol 2, PCD-01: OBX-3 as an ISO/IEEE 11073-10101 (MDC) code,
 * OBX-4 containment "MDS.VMD.CHAN.METRIC", OBX-18 equipment instance id (EUI-64), MDC or UCUM
 * units in OBX-6. Interface specification: docs/interfaces/hl7-pcd01.md.
 */
import type { Observation, QualityFlag, ResultStatus, SourceDevice } from '../../model/observation';
import type { ParameterCode } from '../../model/parameters';
import { PARAMETERS } from '../../model/parameters';
import type { ConformanceNotes } from './conformance';
import type { Hl7Message } from './hl7v2';
import type { CodeMeaning } from './obx-code';
import { meaningOfObx3 } from './obx-code';
import type { ObxSyntaxError, ObxTime, ParsedObx, RawObx } from './obx-parse';
import { obxIdentity, rowLabel } from './obx-parse';
import type { Hl7Profile } from './profile';

/**
 * Why one OBX is not turned into a reading while the rest of its message is used.
 *  - malformed: the OBX's own syntax is faulty (a tolerant interface rejects the OBX alone);
 *  - unknown-code: OBX-3 is not a code Vigil uses (ignored), or an MDC reference id without a
 *    numeric code (rejected: a reference id alone is not trusted);
 *  - vendor-private: OBX-3 is of a local coding system (99zzz, L) and no profile maps it: ignored;
 *  - unmapped-code: an MDC code of a vital-sign partition that Vigil cannot map (reported);
 *  - code-name-mismatch: OBX-3's text is the reference id of another code (never guessed);
 *  - unsupported-value-type: a table parameter sent as text, coded or other non-numeric type;
 *  - numeric-array: an NA of more than one value for a scalar parameter;
 *  - unsupported-status: OBX-11 is a valid status that carries no result (I, N, O, S, U);
 *  - missing-status: OBX-11 is empty on a strict interface without a profile that says;
 *  - superseded: another OBX of the message gives the parameter with a code of higher
 *    priority, on the channel the profile names, the same value again, or a later time;
 *  - ambiguous: the parameter given on several channels with different values, or twice with
 *    the same code and time: every such OBX is withheld.
 */
export type ObxRejectReason =
  | 'malformed'
  | 'unknown-code'
  | 'vendor-private'
  | 'unmapped-code'
  | 'code-name-mismatch'
  | 'unsupported-value-type'
  | 'numeric-array'
  | 'unsupported-status'
  | 'missing-status'
  | 'superseded'
  | 'ambiguous';

export interface Pcd01Reading {
  /** OBX-1 as sent, and the OBX's position among the message's OBX segments (1-based). */
  setId: string;
  obxSequence: number;
  /** How reasons name this OBX (set id, position when needed, OBX-3). */
  label: string;
  parameter: ParameterCode;
  /** The device's code as published: "MDC:150456", or "<system>:<code>" of a profile's code. */
  deviceCode: string;
  /** Priority among the codes of the parameter (lower wins). */
  rank: number;
  /** OBX-3 text (the MDC reference id as the device named it; synonyms exist). */
  refId: string;
  /** OBX-4: MDS.VMD.CHAN.METRIC containment, as sent ('' when absent). */
  containment: string;
  value: number | null;
  /** The device sent one of its profile's placeholders: no value, unavailable. */
  placeholder: boolean;
  /**
   * OBX-6 as a UCUM unit when Vigil knows the MDC unit, or the UCUM code sent; an unmapped
   * unit is passed on as "<system>:<code>" so that the validation stage rejects it (HAZ-001).
   */
  unit: string;
  status: ResultStatus;
  /** OBX-11 as sent ('' when empty and a default applied). */
  statusCode: string;
  /** OBX-8 DEMO, or MSH-11 not P: simulated data, never patient data (HAZ-010). */
  demo: boolean;
  abnormalFlags: string[];
  /** OBX-14, or else OBR-7 of its OBR group. */
  observationTime: ObxTime | null;
  /** OBX-18 of this OBX, or of the nearest containing OBX (by OBX-4), or null. */
  equipmentId: string | null;
}

export interface ObxRejection {
  ok: false;
  reason: ObxRejectReason;
  /** `<row label>: <rule>`: the row's set id and code, and the rule; never a value. */
  detail: string;
  /** Position among the message's OBX segments (HL7 ERR-2 segment sequence). */
  obxSequence: number;
  setId: string;
  field: number;
  /** Nothing in Vigil uses this OBX: counted as obx-ignored.<reason>, not reported as a fault. */
  ignored: boolean;
  /** The parameter this OBX would have given, when known: its value is withheld. */
  parameter: ParameterCode | null;
  /** For unmapped-code: the code that Vigil cannot map (device-mapping-incomplete). */
  unmappedCode: string | null;
}

export type ObxOutcome = { ok: true; reading: Pcd01Reading } | ObxRejection;

/** What judging an OBX needs of its message, its interface and its profile. */
export interface ObxContext {
  message: Hl7Message;
  /** MSH-11 is not P: every value is demo data. */
  demoMessage: boolean;
  equipmentOf: (p: ParsedObx) => string | null;
  profile: Hl7Profile | null;
  tolerant: boolean;
  notes: ConformanceNotes;
}

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

function rejection(raw: RawObx, label: string, reason: ObxRejectReason, rule: string, field: number, o: Partial<Pick<ObxRejection, 'ignored' | 'parameter' | 'unmappedCode'>> = {}): ObxRejection {
  return { ok: false, reason, detail: `${label}: ${rule}`, obxSequence: raw.sequence, setId: raw.setId, field, ignored: o.ignored ?? false, parameter: o.parameter ?? null, unmappedCode: o.unmappedCode ?? null };
}

/** An OBX whose meaning is not a parameter: ignored, reported or rejected; null for a row without a value (a descriptor). */
function notAParameter(p: ParsedObx, label: string, meaning: Exclude<CodeMeaning, { kind: 'parameter' }>): ObxOutcome | null {
  if (!p.hasValue) return null;
  if (meaning.kind === 'ignored') return rejection(p.raw, label, meaning.reason, meaning.rule, 3, { ignored: true });
  if (meaning.kind === 'rejected') return rejection(p.raw, label, meaning.reason, meaning.rule, 3, { parameter: meaning.parameter });
  // Only a single number can be a vital sign: a waveform or a text under an unmapped code is ignored.
  const scalar = (p.valueType === 'NM' || p.valueType === 'NA') && (p.values?.length ?? 0) <= 1;
  if (!scalar) return rejection(p.raw, label, 'unknown-code', `${meaning.deviceCode} with value type ${p.valueType}${p.values && p.values.length > 1 ? ` of ${p.values.length} values` : ''} is not a vital sign`, 3, { ignored: true });
  return rejection(p.raw, label, 'unmapped-code', meaning.rule, 3, { unmappedCode: meaning.deviceCode });
}

/** OBX-11 -> status: an empty one is the profile's default, else R on a tolerant interface (a warning), else rejected. */
function statusOf(p: ParsedObx, ctx: ObxContext): { code: string; status: ResultStatus | null } | { rule: string; reason: ObxRejectReason } {
  let code = p.statusCode;
  if (code === '') {
    const byProfile = ctx.profile?.emptyStatus ?? null;
    if (byProfile !== null) code = byProfile;
    else if (ctx.tolerant) {
      ctx.notes.add('missing-status', 'OBX-11 is empty: read as R (unverified), the least trusted status that carries a value');
      code = 'R';
    } else return { reason: 'missing-status', rule: 'OBX-11 (result status) is empty' };
  }
  return { code, status: STATUS_TABLE[code] ?? null };
}

/**
 * The meaning of one OBX whose syntax is valid: a reading, or the reason Vigil does not use it;
 * null for an OBX without a value and without a table code (a device, VMD or channel
 * descriptor, or a metric the device could not obtain).
 */
export function judgeObx(p: ParsedObx, ctx: ObxContext): ObxOutcome | null {
  const label = rowLabel(p.raw, p.identity);
  const meaning = meaningOfObx3(p.identity, ctx.profile, ctx.tolerant, ctx.notes);
  if (meaning.kind !== 'parameter') return notAParameter(p, label, meaning);
  const spec = meaning.spec;
  const withheld = (reason: ObxRejectReason, rule: string, field: number): ObxOutcome => rejection(p.raw, label, reason, rule, field, { parameter: spec.code });
  if (p.valueType !== '' && p.valueType !== 'NM' && p.valueType !== 'NA') return withheld('unsupported-value-type', `OBX-2 "${p.valueType}" for ${spec.code}: only NM and NA carry numbers`, 2);
  if (p.values !== null && p.values.length > 1) return withheld('numeric-array', `OBX-5 has ${p.values.length} values for the scalar parameter ${spec.code}`, 5);
  const st = statusOf(p, ctx);
  if ('rule' in st) return withheld(st.reason, `${st.rule} for ${spec.code}`, 11);
  if (st.status === null) return withheld('unsupported-status', `OBX-11 "${st.code}" carries no result`, 11);
  if (p.timeDeviation) ctx.notes.add('dtm-fraction', 'OBX-14 has a fraction of a second without the decimal point');
  if (p.numericText) ctx.notes.add('value-type', 'OBX-2 is ST or TX for a number: read as NM');
  // X (cannot be obtained), D and W (deleted, wrong) carry no usable result, whatever is in OBX-5.
  const sent = p.values?.[0] ?? null;
  const placeholder = sent !== null && (ctx.profile?.placeholders[spec.code]?.includes(sent) ?? false);
  const usable = st.status !== 'cannot-obtain' && st.status !== 'deleted' && !placeholder;
  const value = usable && sent !== null ? Number.parseFloat((sent * meaning.scale).toPrecision(12)) : null;
  return {
    ok: true,
    reading: {
      setId: p.raw.setId,
      obxSequence: p.raw.sequence,
      label,
      parameter: spec.code,
      deviceCode: meaning.deviceCode,
      rank: meaning.rank,
      refId: p.identity.text,
      containment: p.containment,
      value,
      placeholder,
      unit: p.unit,
      status: placeholder ? 'cannot-obtain' : st.status,
      statusCode: p.statusCode,
      demo: ctx.demoMessage || p.abnormalFlags.includes('DEMO'),
      abnormalFlags: p.abnormalFlags,
      observationTime: p.time,
      equipmentId: ctx.equipmentOf(p),
    },
  };
}

/**
 * An OBX whose syntax is faulty, on a tolerant interface: rejected alone as malformed, with
 * its set id, its code and the rule; ignored when its code is one nothing in Vigil uses. Its
 * identity (OBX-3) is read on its own, so the parameter whose value is withheld is known.
 */
export function judgeMalformedObx(raw: RawObx, error: ObxSyntaxError, ctx: ObxContext): ObxOutcome | null {
  const id = obxIdentity(ctx.message, raw.segment);
  const label = rowLabel(raw, id);
  const hasValue = raw.segment.fields[5] !== undefined && raw.segment.fields[5] !== '' && raw.segment.fields[5] !== '""';
  if (id.code === '' && id.text === '') return rejection(raw, label, 'malformed', error.rule, error.field);
  const meaning = meaningOfObx3(id, ctx.profile, ctx.tolerant, ctx.notes);
  if (meaning.kind === 'parameter') return rejection(raw, label, 'malformed', error.rule, error.field, { parameter: meaning.spec.code });
  if (!hasValue && meaning.kind !== 'rejected') return null;
  if (meaning.kind === 'ignored') return rejection(raw, label, meaning.reason, `${meaning.rule} (and ${error.rule})`, error.field, { ignored: true });
  return rejection(raw, label, 'malformed', error.rule, error.field, { parameter: meaning.kind === 'rejected' ? meaning.parameter : null });
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

/** The device code of a reading as carried on observations: "MDC:150456". */
export function deviceCodeOf(reading: Pcd01Reading): string {
  return reading.deviceCode;
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
    if (reading.placeholder) unavailableReason = 'device-placeholder';
    else unavailableReason = reading.status === 'cannot-obtain' ? 'cannot-obtain' : reading.status === 'deleted' ? 'deleted' : 'no-value';
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

/**
 * The observation that withdraws a parameter whose row the message had but Vigil withheld
 * (malformed, ambiguous, code and name disagree): no value, status unavailable, the reason.
 */
export function withheldObservation(
  parameter: ParameterCode,
  reason: string,
  stamp: { wallMs: number; monoNs: bigint },
  source: Omit<SourceDevice, 'serialNumber'>,
  equipmentId: string | null,
): Observation {
  return {
    parameter,
    value: null,
    unitUcum: PARAMETERS[parameter].unitUcum,
    status: 'unavailable',
    quality: [],
    source: { ...source, serialNumber: equipmentId ?? '' },
    deviceTimeMs: null,
    deviceTimeText: '',
    receiveWallMs: stamp.wallMs,
    receiveMonoNs: stamp.monoNs,
    unavailableReason: reason,
  };
}
