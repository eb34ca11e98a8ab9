/**
 * HL7 v2 ORU^R01 as profiled by IHE PCD-01 (Communicate PCD Data): the decoder of one message
 * into the view Vigil uses (MSH header, patient, OBR groups, OBX outcomes), and of the ACKs a
 * sender may put on the link.
 *
 * Pure: no I/O, no clock (times are passed in), no Node I/O modules; nothing here throws on
 * any input. The receiver (receiver.ts) adds the per-link checks; the driver (driver.ts) owns
 * the serial port or the TCP listener, the link state and the timing; `vigil decode pcd01` runs
 * captures through the same functions.
 *
 * Sources of truth, cited where a rule comes from them:
 *  - HL7 v2.6 chapter 2 (Control): MSH/MSA/ERR segments (2.14-2.15), acknowledgment codes
 *    (table 0008), processing id (table 0103), error codes (table 0357).
 *  - IHE PCD Technical Framework Vol 2, transaction PCD-01: MSH-21 profile id, the ORU^R01
 *    segment grammar. The OBX rules are in obx.ts, the tokenizer in hl7v2.ts, times in dtm.ts.
 * Interface specification: docs/interfaces/hl7-pcd01.md.
 *
 * Rejects name the segment, the field and the rule in `detail`, never a value: readings and
 * patient identifiers are patient data. (Device vocabulary such as an MDC code is named.)
 */
import type { ConformanceLevel, ConformanceNote } from './conformance';
import { ConformanceNotes, isStrict, versionVerdict } from './conformance';
import type { Hl7Time } from './dtm';
import { parseDtmTolerant } from './dtm';
import type { Hl7Delimiters, Hl7Location, Hl7Message, Hl7Segment } from './hl7v2';
import { components, nth, parseHl7, rawField, repetitions, unescapeHl7, value } from './hl7v2';
import type { ObxContext, ObxOutcome } from './obx';
import { equipmentIdResolver, judgeMalformedObx, judgeObx } from './obx';
import type { ParsedObx, RawObx } from './obx-parse';
import { noteSetIds, ownEquipmentIdOf, parseObx, rowLabel, obxIdentity, setIdsInSequence } from './obx-parse';
import { resolveDuplicates } from './obx-resolve';
import type { Pcd04Alert } from './pcd04';
import { decodeAlertGroups } from './pcd04';
import type { ProfileChoice, ProfileSetting } from './profile';
import { selectHl7Profile } from './profile';

/**
 * Why a whole message is rejected (counted as frames-rejected.<reason>). framing and overflow
 * come from the MLLP block (framing/mllp.ts) or the bytes (hl7v2.ts), truncated from a block
 * cut short, malformed from any syntax error, decode-limit from more segments or repetitions
 * than a monitor sends (hl7v2.ts); the others from MSH (this file).
 */
export type Pcd01RejectReason =
  | 'framing'
  | 'overflow'
  | 'decode-limit'
  | 'truncated'
  | 'malformed'
  | 'unsupported-message'
  | 'unsupported-version'
  | 'missing-profile';

export interface PatientId {
  id: string;
  /** CX-4 assigning authority, namespace id (first subcomponent). */
  authority: string;
  /** CX-5 identifier type code (MR, PI, ...). */
  typeCode: string;
}

export interface Pcd01Header {
  controlId: string;
  /** MSH-9 as "TYPE^TRIGGER". */
  messageType: string;
  version: string;
  /** MSH-21 entity identifiers (or universal ids) of each repetition. */
  profiles: string[];
  /** MSH-11: P production, D debugging, T training. */
  processingId: string;
  /** MSH-3 and MSH-4 namespace ids. */
  sendingApplication: string;
  sendingFacility: string;
  /** MSH-3 and MSH-4 raw (already escaped in the message's delimiters), echoed in the ACK. */
  rawSendingApplication: string;
  rawSendingFacility: string;
  messageTime: Hl7Time | null;
}

export interface AckReceived {
  code: string;
  controlId: string;
  errors: Array<{ code: string; severity: string; text: string }>;
}

export type Pcd01Decoded =
  | {
      ok: true;
      kind: 'oru';
      header: Pcd01Header;
      /** PID-3 repetitions; null when the message has no PID segment. */
      patientIds: PatientId[] | null;
      /** The device's identity: the first OBX-18 of the message (the MDS's, in PCD-01 order). */
      equipmentId: string | null;
      obx: ObxOutcome[];
      /** OBX without a value and without a table code: device, VMD and channel descriptors. */
      descriptors: number;
      delimiters: Hl7Delimiters;
      /** Deviations from PCD-01 read by a tolerant interface, each kind once. */
      warnings: ConformanceNote[];
      /** The device profile applied to this message, or why none. */
      profile: ProfileChoice;
    }
  | { ok: true; kind: 'ack'; header: Pcd01Header; ack: AckReceived; delimiters: Hl7Delimiters }
  | {
      ok: true;
      /** An ORU^R40 (IHE PCD-04): the monitor's alerts (pcd04.ts). */
      kind: 'alert';
      header: Pcd01Header;
      patientIds: PatientId[] | null;
      /** The device's identity: the first OBX-18 of the message. */
      equipmentId: string | null;
      alerts: Pcd04Alert[];
      delimiters: Hl7Delimiters;
      warnings: ConformanceNote[];
    }
  | {
      ok: false;
      reason: Pcd01RejectReason;
      detail: string;
      /** HL7 table 0357 error code and location for the ERR segment of the answer. */
      hl7Error: number;
      location: Hl7Location | null;
      /** What could be read of MSH, for the ACK (null when not even MSH-1/2 could be read). */
      header: Partial<Pcd01Header> | null;
      delimiters: Hl7Delimiters | null;
    };

const MAX_CONTROL_ID_CHARS = 199;

type HeaderResult = { ok: true; header: Pcd01Header } | Extract<Pcd01Decoded, { ok: false }>;

/**
 * MSH: type, control id, processing id, version and profile (by the conformance level), time.
 * A fault here rejects the message: it says what the message is and how to read it.
 */
function readHeader(message: Hl7Message, msh: Hl7Segment, opts: DecodeOptions, notes: ConformanceNotes): HeaderResult {
  const level = opts.conformance ?? 'tolerant';
  const v = (n: number, rep = 1, comp = 1, sub = 1): string => value(message, msh, n, rep, comp, sub);
  const partial: Partial<Pcd01Header> = {
    controlId: v(10),
    processingId: v(11),
    rawSendingApplication: rawField(msh, 3),
    rawSendingFacility: rawField(msh, 4),
  };
  const fail = (reason: Pcd01RejectReason, detail: string, hl7Error: number, field: number): HeaderResult => ({
    ok: false,
    reason,
    detail,
    hl7Error,
    location: { segment: 'MSH', sequence: 1, field },
    header: partial,
    delimiters: message.delimiters,
  });
  const type = v(9, 1, 1);
  const trigger = v(9, 1, 2);
  if (type === '') return fail('malformed', 'MSH-9: message type is required', 101, 9);
  const isOru = type === 'ORU' && (trigger === 'R01' || trigger === 'R40');
  if (!isOru && type !== 'ACK') return fail('unsupported-message', 'MSH-9: only ORU^R01, ORU^R40 and ACK are read', 200, 9);
  const controlId = v(10);
  if (controlId === '') return fail('malformed', 'MSH-10: message control id is required', 101, 10);
  if (controlId.length > MAX_CONTROL_ID_CHARS) return fail('malformed', `MSH-10: longer than ${MAX_CONTROL_ID_CHARS} characters`, 102, 10);
  let processingId = v(11);
  if (processingId === '' && !isStrict(level)) {
    // Not marked as training or debugging: read as production, as an unmarked message is (HAZ-010).
    notes.add('processing-id', 'MSH-11 is empty: read as P (production)');
    processingId = 'P';
  }
  if (!['P', 'D', 'T'].includes(processingId)) return fail('unsupported-message', 'MSH-11: processing id must be P, D or T (HL7 table 0103)', 202, 11);
  const version = v(12);
  if (version === '') return fail('unsupported-version', 'MSH-12: version id is required', 203, 12);
  const verdict = versionVerdict(version, level);
  if (verdict === 'unsupported') {
    const range = isStrict(level) ? '2.6 or later (PCD-01 is defined on HL7 v2.6)' : 'between 2.3 and 2.9';
    return fail('unsupported-version', `MSH-12: version ${version} is not ${range}`, 203, 12);
  }
  if (verdict === 'tolerated') notes.add('hl7-version', `MSH-12: HL7 ${version} is older than 2.6, on which PCD-01 is defined`);
  const profiles = repetitions(message, msh, 21)
    .map((r) => components(message, r))
    .map((c) => c[0] || c[2] || '')
    .filter((p) => p !== '');
  if (profiles.length === 0) {
    if (isStrict(level)) return fail('missing-profile', 'MSH-21: message profile identifier is required by PCD-01', 101, 21);
    notes.add('missing-profile', 'MSH-21: no message profile identifier');
  }
  let messageTime: Hl7Time | null = null;
  const mshTime = v(7);
  if (mshTime !== '') {
    const t = parseDtmTolerant(mshTime, opts.defaultUtcOffsetMinutes, !isStrict(level));
    if (t === null) return fail('malformed', 'MSH-7: not a valid HL7 DTM', 102, 7);
    if (t.deviation) notes.add('dtm-fraction', 'MSH-7 has a fraction of a second without the decimal point');
    messageTime = t.time;
  }
  return {
    ok: true,
    header: {
      controlId,
      messageType: `${type}^${trigger}`,
      version,
      profiles,
      processingId,
      sendingApplication: v(3),
      sendingFacility: v(4),
      rawSendingApplication: rawField(msh, 3),
      rawSendingFacility: rawField(msh, 4),
      messageTime,
    },
  };
}

/**
 * What the ACK needs of MSH (control id, processing id, sender) when the message as a whole did
 * not parse but its MSH-1/MSH-2 did: read from the first line only.
 */
function partialHeader(input: Uint8Array | string, d: Hl7Delimiters): Partial<Pcd01Header> {
  const text = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
  const firstLine = text.split(/\r\n|\r|\n/, 1)[0] ?? '';
  // split(field): [MSH, MSH-2, MSH-3, ...]: MSH-n is at index n - 1.
  const fields = firstLine.split(d.field);
  const leaf = (n: number): string => unescapeHl7(nth(nth(fields[n - 1] ?? '', d.repetition, 0), d.component, 0), d);
  return {
    controlId: leaf(10).slice(0, MAX_CONTROL_ID_CHARS),
    processingId: leaf(11),
    rawSendingApplication: fields[2] ?? '',
    rawSendingFacility: fields[3] ?? '',
  };
}

export interface DecodeOptions {
  /** Offset applied to times sent without a zone (the interface's deviceUtcOffset), in minutes. */
  defaultUtcOffsetMinutes: number;
  /** How far a message may deviate from PCD-01 (conformance.ts); default tolerant. */
  conformance?: ConformanceLevel;
  /** The device profile setting (profile.ts); default none. */
  profile?: ProfileSetting;
}

type Reject = (reason: Pcd01RejectReason, detail: string, hl7Error: number, location: Hl7Location | null) => Pcd01Decoded;

/**
 * Decodes one HL7 message (the payload of an MLLP block, or a message from a capture) into
 * the PCD-01 view Vigil uses. A structural fault (the bytes, MSH-1/MSH-2, MSH, segment order,
 * PID, OBR) rejects the message. An OBX that Vigil cannot use, or (on a tolerant interface)
 * whose own syntax is faulty, is rejected alone with its reason (CTRL-109: a fault is confined
 * to its own fields, obx-parse.ts); on a strict interface any OBX syntax error rejects the
 * message, as a PCD-01 receiver does. Never throws.
 */
export function decodePcd01(input: Uint8Array | string, opts: DecodeOptions): Pcd01Decoded {
  const parsed = parseHl7(input);
  if (!parsed.ok) {
    return {
      ok: false,
      reason: parsed.reason,
      detail: parsed.detail,
      hl7Error: parsed.hl7Error,
      location: parsed.location,
      header: parsed.delimiters === null ? null : partialHeader(input, parsed.delimiters),
      delimiters: parsed.delimiters,
    };
  }
  const message = parsed.message;
  // parseHl7 accepts only a text that starts with MSH: its first segment is there, and is MSH.
  const msh = message.segments[0] as Hl7Segment;
  const notes = new ConformanceNotes();
  const head = readHeader(message, msh, opts, notes);
  if (!head.ok) return head;
  const header = head.header;
  const fail: Reject = (reason, detail, hl7Error, location) => ({
    ok: false,
    reason,
    detail,
    hl7Error,
    location,
    header,
    delimiters: message.delimiters,
  });
  if (header.messageType.startsWith('ACK')) return decodeAck(message, header, fail);
  if (header.messageType === 'ORU^R40') return decodeAlert(message, header, opts, notes, fail);
  return decodeOru(message, header, opts, notes, fail);
}

/** An ACK on the link (MSA, ERR): read, so that the driver counts it and never answers it. */
function decodeAck(message: Hl7Message, header: Pcd01Header, fail: Reject): Pcd01Decoded {
  const msa = message.segments.find((s) => s.name === 'MSA');
  if (msa === undefined) return fail('malformed', 'MSA: required in an ACK', 100, null);
  const code = value(message, msa, 1);
  if (!['AA', 'AE', 'AR', 'CA', 'CE', 'CR'].includes(code)) {
    return fail('malformed', 'MSA-1: not an acknowledgment code of HL7 table 0008', 103, { segment: 'MSA', sequence: 1, field: 1 });
  }
  const errors = message.segments
    .filter((s) => s.name === 'ERR')
    .map((s) => ({
      code: value(message, s, 3, 1, 1),
      severity: value(message, s, 4),
      // ERR-8 user message, else ERR-7 diagnostic information, else the text of the ERR-3 code.
      text: value(message, s, 8) || value(message, s, 7) || value(message, s, 3, 1, 2),
    }));
  return { ok: true, kind: 'ack', header, ack: { code, controlId: value(message, msa, 2), errors }, delimiters: message.delimiters };
}

/**
 * An ORU^R01: MSH, [PID [PV1]], { OBR, {OBX | NTE}* }+ ; other segments (SFT, NTE, PV1, ...)
 * are skipped. Each OBX is read (obx-parse.ts) and judged through the parameter table and the
 * profile (obx.ts); then one value per parameter is kept (obx-resolve.ts).
 */
function decodeOru(message: Hl7Message, header: Pcd01Header, opts: DecodeOptions, notes: ConformanceNotes, fail: Reject): Pcd01Decoded {
  const pids = message.segments.filter((s) => s.name === 'PID');
  if (pids.length > 1) return fail('malformed', 'PID: more than one patient in one message', 100, { segment: 'PID', sequence: 2, field: 0 });
  const pid = pids[0];
  const patientIds = pid === undefined ? null : readPatientIds(message, pid);
  const grouped = groupObx(message, opts, notes);
  if (!grouped.ok) return fail('malformed', grouped.detail, grouped.hl7Error, grouped.location);
  const strict = isStrict(opts.conformance);
  const rows = noteSetIds(grouped.obx);
  if (!strict && rows.length > 0 && !setIdsInSequence(rows)) notes.add('obx-set-id', 'OBX-1: set ids are not 1, 2, 3 ... in each OBR group (empty, repeated or out of order)');
  const parsed: Array<{ raw: RawObx; obx: ParsedObx } | { raw: RawObx; error: Extract<ReturnType<typeof parseObx>, { ok: false }> }> = [];
  for (const raw of rows) {
    const p = parseObx(message, raw, opts.defaultUtcOffsetMinutes, !strict);
    if (!p.ok && strict) {
      return fail('malformed', `${rowLabel(raw, obxIdentity(message, raw.segment))}: ${p.rule}`, p.hl7Error, { segment: 'OBX', sequence: raw.sequence, field: p.field });
    }
    parsed.push(p.ok ? { raw, obx: p.obx } : { raw, error: p });
  }
  const valid = parsed.flatMap((p) => ('obx' in p ? [p.obx] : []));
  const choice = selectHl7Profile(opts.profile ?? { kind: 'none' }, header);
  const ctx: ObxContext = { message, demoMessage: header.processingId !== 'P', equipmentOf: equipmentIdResolver(valid), profile: choice.profile, tolerant: !strict, notes };
  const outcomes: ObxOutcome[] = [];
  let descriptors = 0;
  for (const p of parsed) {
    const outcome = 'obx' in p ? judgeObx(p.obx, ctx) : judgeMalformedObx(p.raw, p.error, ctx);
    if (outcome === null) descriptors++;
    else outcomes.push(outcome);
  }
  return {
    ok: true,
    kind: 'oru',
    header,
    patientIds,
    // The device's identity: the first OBX-18 of the message, read from every OBX, a faulty one included.
    equipmentId: rows.map((r) => ownEquipmentIdOf(message, r.segment)).find((e) => e !== null) ?? null,
    obx: resolveDuplicates(outcomes, choice.profile),
    descriptors,
    delimiters: message.delimiters,
    warnings: notes.list(),
    profile: choice,
  };
}

/**
 * An ORU^R40 (IHE PCD-04): MSH, [PID [PV1]], { OBR, { OBX }+ }+ ; the patient and the device's
 * identity are read as for an ORU^R01 (the receiver checks them the same way), the alerts by
 * pcd04.ts.
 */
function decodeAlert(message: Hl7Message, header: Pcd01Header, opts: DecodeOptions, notes: ConformanceNotes, fail: Reject): Pcd01Decoded {
  const pids = message.segments.filter((s) => s.name === 'PID');
  if (pids.length > 1) return fail('malformed', 'PID: more than one patient in one message', 100, { segment: 'PID', sequence: 2, field: 0 });
  const pid = pids[0];
  const groups = decodeAlertGroups(message, opts.defaultUtcOffsetMinutes);
  if (!groups.ok) return fail('malformed', groups.detail, groups.hl7Error, groups.location);
  const obx = message.segments.filter((s) => s.name === 'OBX');
  return {
    ok: true,
    kind: 'alert',
    header,
    patientIds: pid === undefined ? null : readPatientIds(message, pid),
    equipmentId: obx.map((s) => ownEquipmentIdOf(message, s)).find((e) => e !== null) ?? null,
    alerts: groups.alerts,
    delimiters: message.delimiters,
    warnings: notes.list(),
  };
}

/** PID-3 repetitions: identifier, assigning authority (CX-4) and identifier type (CX-5). */
function readPatientIds(message: Hl7Message, pid: Hl7Segment): PatientId[] {
  const d = message.delimiters;
  return repetitions(message, pid, 3).map((r) => {
    const comps = r.split(d.component);
    const sub = (c: string | undefined): string => unescapeHl7((c ?? '').split(d.subcomponent)[0] ?? '', d, message.charset);
    return { id: sub(comps[0]), authority: sub(comps[3]), typeCode: sub(comps[4]).trim() };
  });
}

/** A structural fault of an ORU (segment order, OBR): the message is rejected whole. */
interface StructureError {
  ok: false;
  detail: string;
  hl7Error: number;
  location: Hl7Location | null;
}

/**
 * The OBX segments of the message with their OBR group and its OBR-7 time. An OBX before any
 * OBR, an OBR-7 that is not a DTM, or a message without OBR is a structural fault: the time or
 * the grouping of every OBX after it would be unknown.
 */
function groupObx(message: Hl7Message, opts: DecodeOptions, notes: ConformanceNotes): { ok: true; obx: Array<Omit<RawObx, 'setIdNote'>> } | StructureError {
  const obx: Array<Omit<RawObx, 'setIdNote'>> = [];
  const fail = (detail: string, hl7Error: number, location: Hl7Location | null): StructureError => ({ ok: false, detail, hl7Error, location });
  const tolerant = !isStrict(opts.conformance);
  const severalGroups = message.segments.filter((s) => s.name === 'OBR').length > 1;
  let currentObrTime: Hl7Time | null | undefined;
  let obrCount = 0;
  let obxCount = 0;
  for (const s of message.segments) {
    if (s.name === 'OBR') {
      obrCount++;
      const t = value(message, s, 7);
      currentObrTime = null;
      if (t !== '') {
        const parsed = parseDtmTolerant(t, opts.defaultUtcOffsetMinutes, tolerant);
        if (parsed === null) return fail(`OBR ${obrCount}: OBR-7 is not a valid HL7 DTM`, 102, { segment: 'OBR', sequence: obrCount, field: 7 });
        if (parsed.deviation) notes.add('dtm-fraction', 'OBR-7 has a fraction of a second without the decimal point');
        currentObrTime = parsed.time;
      }
    } else if (s.name === 'OBX') {
      obxCount++;
      if (currentObrTime === undefined) return fail(`OBX segment ${obxCount}: before any OBR segment`, 100, { segment: 'OBX', sequence: obxCount, field: 0 });
      obx.push({ segment: s, sequence: obxCount, setId: value(message, s, 1), obrGroup: obrCount, severalGroups, obrTime: currentObrTime });
    }
  }
  if (obrCount === 0) return fail('OBR: an ORU^R01 needs at least one OBR segment', 100, null);
  return { ok: true, obx };
}
