/**
 * HL7 v2 ORU^R01 (IHE PCD-01) as a monitor writes it, and the ACK it reads back: the
 * monitor's side of docs/interfaces/hl7-pcd01.md.
 *
 * Written from the document ("Message structure", "Data contract", "Acknowledgment and error
 * behaviour"; its sources S1 HL7 v2.6 chapters 2 and 7 and S3 IHE PCD TF Vol 2), never from the
 * agent's decoder: hw-sim imports nothing from the agent, so that a misunderstanding of the
 * format cannot be shared by both sides (STYLE.md, "Checked against the world"). The golden
 * test (test/unit/golden-wire.test.ts) checks it against the document's wire examples.
 *
 * Conventions of this encoder (each a choice HL7 allows, stated so that an example can be
 * reproduced byte for byte):
 *  - delimiters `|^~\&` (HL7 v2.6 2.5.4, the ones PCD-01 uses), segments each ended by CR
 *    (0x0D), the message's last segment too;
 *  - empty fields and components at the end of a segment or field are left out, with their
 *    delimiters (HL7 v2.6 chapter 2 lets a sender omit trailing delimiters); empty ones in between
 *    are kept as empty;
 *  - every text is escaped (S1 2.7): the escape character as `\E\`, then `|` `\F\`, `^` `\S\`,
 *    `&` `\T\`, `~` `\R\`, and CR and LF as `\X0D\` and `\X0A\` (a segment must not break);
 *  - the text is encoded in the character set MSH-18 declares (`UNICODE UTF-8` -> UTF-8,
 *    otherwise ISO 8859-1).
 *
 * Pure: no I/O, no clock.
 */

/** HL7 v2.6 2.5.4: field, component, repetition, escape, subcomponent. */
const FIELD = '|';
const COMPONENT = '^';
const REPETITION = '~';
const ESCAPE = '\\';
const SUBCOMPONENT = '&';
const ENCODING_CHARACTERS = `${COMPONENT}${REPETITION}${ESCAPE}${SUBCOMPONENT}`;
const SEGMENT_END = '\r';

/**
 * A field's content: one text, its components in order, or several repetitions of either.
 * Every text is escaped when written.
 */
export type Hl7Field = string | readonly string[] | { readonly repetitions: ReadonlyArray<string | readonly string[]> };

/** Escapes one text for a field or component (HL7 v2.6 2.7). */
export function escapeText(text: string): string {
  let out = '';
  for (const ch of text) {
    switch (ch) {
      case ESCAPE: out += '\\E\\'; break;
      case FIELD: out += '\\F\\'; break;
      case COMPONENT: out += '\\S\\'; break;
      case SUBCOMPONENT: out += '\\T\\'; break;
      case REPETITION: out += '\\R\\'; break;
      case '\r': out += '\\X0D\\'; break;
      case '\n': out += '\\X0A\\'; break;
      default: out += ch;
    }
  }
  return out;
}

function trimEnd(parts: string[]): string[] {
  let n = parts.length;
  while (n > 0 && parts[n - 1] === '') n--;
  return parts.slice(0, n);
}

function components(value: string | readonly string[]): string {
  return typeof value === 'string' ? escapeText(value) : trimEnd(value.map(escapeText)).join(COMPONENT);
}

export function encodeField(field: Hl7Field | undefined): string {
  if (field === undefined) return '';
  if (typeof field === 'string' || Array.isArray(field)) return components(field as string | readonly string[]);
  return trimEnd((field as { repetitions: ReadonlyArray<string | readonly string[]> }).repetitions.map(components)).join(REPETITION);
}

/** A segment from its fields, field 1 first (trailing empty fields left out). */
export function encodeSegment(name: string, fields: ReadonlyArray<Hl7Field | undefined>): string {
  return trimEnd([name, ...fields.map(encodeField)]).join(FIELD);
}

/** One OBX (S2 chapter 7; S3 PCD-01 for OBX-3, OBX-4, OBX-18). */
export interface Pcd01Observation {
  /** OBX-1 set id. */
  setId: string;
  /** OBX-2 value type (NM, NA, ST, ...; empty on a descriptor row). */
  type: string;
  /** OBX-3 observation identifier: code ^ name ^ coding system (MDC). */
  code: Hl7Field;
  /** OBX-4 sub-id: the containment MDS.VMD.CHAN.METRIC. */
  subId: string;
  /** OBX-5 value, as text (the device's own digits), or the components of a coded value (CWE). */
  value: string | readonly string[];
  /** OBX-6 unit: code ^ name ^ coding system (MDC or UCUM). */
  unit?: Hl7Field;
  /** OBX-7 reference range. */
  referenceRange?: string;
  /** OBX-8 abnormal flags (e.g. DEMO). */
  abnormalFlags?: Hl7Field;
  /** OBX-11 result status (table 0085). */
  status: string;
  /** OBX-14 observation time (DTM). */
  time?: string;
  /** OBX-18 equipment instance identifier (EUI-64 ^ type). */
  equipment?: Hl7Field;
}

/** One OBR and the OBX rows that follow it. */
export interface Pcd01Order {
  /** OBR-1 set id. */
  setId: string;
  /** OBR-3 filler order number (PCD-04: the alert instance id); absent in PCD-01. */
  fillerOrderNumber?: Hl7Field;
  /** OBR-4 universal service identifier. */
  serviceId: Hl7Field;
  /** OBR-7 observation time (DTM). */
  observationTime?: string;
  observations: readonly Pcd01Observation[];
}

/** An ORU^R01 as the document's "Message structure" gives it: MSH [PID [PV1]] {OBR {OBX}}. */
export interface Pcd01Message {
  /** MSH-3, MSH-4. */
  sendingApplication: Hl7Field;
  sendingFacility?: Hl7Field;
  /** MSH-5, MSH-6 (empty for a monitor that talks to whoever listens). */
  receivingApplication?: Hl7Field;
  receivingFacility?: Hl7Field;
  /** MSH-7 (DTM). */
  time: string;
  /** MSH-9; default ORU^R01^ORU_R01. */
  messageType?: Hl7Field;
  /** MSH-10 control id. */
  controlId: string;
  /** MSH-11 processing id (P, T, D). */
  processingId: string;
  /** MSH-12 version id. */
  version: string;
  /** MSH-15, MSH-16 accept / application acknowledgment type (NE, AL, ...). */
  acceptAckType?: string;
  applicationAckType?: string;
  /** MSH-18 character set, e.g. UNICODE UTF-8. */
  characterSet?: string;
  /** MSH-21 message profile identifier (PCD-01's). */
  profile?: Hl7Field;
  /** PID-3 (identifier list) and PID-5 (name); absent: no PID segment. */
  patient?: { identifiers: Hl7Field; name?: Hl7Field };
  /** PV1-2 patient class, PV1-3 assigned location; absent: no PV1 segment. */
  visit?: { patientClass: string; location?: Hl7Field };
  orders: readonly Pcd01Order[];
}

const ORU_R01: readonly string[] = ['ORU', 'R01', 'ORU_R01'];

function mshSegment(m: Pcd01Message): string {
  // MSH-1 is the field separator itself and MSH-2 the encoding characters, written as they
  // are (never escaped); the fields from MSH-3 on are ordinary fields.
  const fields: Array<Hl7Field | undefined> = [];
  fields[2] = m.sendingApplication;
  fields[3] = m.sendingFacility;
  fields[4] = m.receivingApplication;
  fields[5] = m.receivingFacility;
  fields[6] = m.time;
  fields[8] = m.messageType ?? ORU_R01;
  fields[9] = m.controlId;
  fields[10] = m.processingId;
  fields[11] = m.version;
  fields[14] = m.acceptAckType;
  fields[15] = m.applicationAckType;
  fields[17] = m.characterSet;
  fields[20] = m.profile;
  const rest = trimEnd(Array.from({ length: 21 }, (_, i) => (i < 2 ? '' : encodeField(fields[i]))).slice(2));
  return ['MSH', ENCODING_CHARACTERS, ...rest].join(FIELD);
}

function obxSegment(o: Pcd01Observation): string {
  const f: Array<Hl7Field | undefined> = [];
  f[0] = o.setId;
  f[1] = o.type;
  f[2] = o.code;
  f[3] = o.subId;
  f[4] = o.value;
  f[5] = o.unit;
  f[6] = o.referenceRange;
  f[7] = o.abnormalFlags;
  f[10] = o.status;
  f[13] = o.time;
  f[17] = o.equipment;
  return encodeSegment('OBX', Array.from({ length: 18 }, (_, i) => f[i]));
}

/** The message text, segments ended by CR. */
export function encodePcd01Text(m: Pcd01Message): string {
  const segments = [mshSegment(m)];
  if (m.patient !== undefined) segments.push(encodeSegment('PID', [undefined, undefined, m.patient.identifiers, undefined, m.patient.name]));
  if (m.visit !== undefined) segments.push(encodeSegment('PV1', [undefined, m.visit.patientClass, m.visit.location]));
  for (const order of m.orders) {
    segments.push(encodeSegment('OBR', [order.setId, undefined, order.fillerOrderNumber, order.serviceId, undefined, undefined, order.observationTime]));
    for (const o of order.observations) segments.push(obxSegment(o));
  }
  return segments.map((s) => `${s}${SEGMENT_END}`).join('');
}

/** The message's bytes in the character set MSH-18 declares. */
export function encodePcd01(m: Pcd01Message): Buffer {
  const utf8 = (m.characterSet ?? '').toUpperCase() === 'UNICODE UTF-8';
  return Buffer.from(encodePcd01Text(m), utf8 ? 'utf8' : 'latin1');
}

/** A UTC time as an HL7 DTM, with milliseconds and the zone: 20260101100000.123+0000. */
export function formatDtmUtc(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}+0000`;
}

// ---- ORU^R40 (IHE PCD-04 Report Alert) ----------------------------------------------------

/*
 * The monitor's alarms, as the document's "Alerts (IHE PCD-04, ORU^R40)" gives them, in the layout of
 * its source S8 (an implementation guide derived from IHE PCD TF Vol 2 PCD-04): one OBR per alert, its
 * instance id in OBR-3 and MDC_EVT_ALARM in OBR-4; the first OBX is the event (its MDC event code in
 * OBX-3, the source parameter in OBX-5, `priority~type` in OBX-8); then the monitored parameter with its
 * limit; then the facets as rows named MDC_ATTR_EVENT_PHASE, MDC_ATTR_ALARM_STATE and
 * MDC_ATTR_ALARM_INACTIVATION_STATE (S8 numbers them 68481-68483; the document recognises a facet by
 * its reference id, OBX-3 component 2). Written from the document, never from the agent's decoder.
 */

/** MSH-9 of a PCD-04 message (document, "Alerts": `ORU^R40^ORU_R40`). */
const ORU_R40: readonly string[] = ['ORU', 'R40', 'ORU_R40'];
/** MSH-21: the Alert Communication Management profile id (document, "Alerts": `IHE_PCD_ACM_001`). */
export const PCD04_PROFILE: readonly string[] = ['IHE_PCD_ACM_001', 'IHE PCD', '1.3.6.1.4.1.19376.1.6.1.4.1', 'ISO'];
/** OBR-4 of every alert (S9 and S8: `196616^MDC_EVT_ALARM^MDC`). */
export const MDC_EVT_ALARM: readonly string[] = ['196616', 'MDC_EVT_ALARM', 'MDC'];
/** The facet rows (S8's numbering; the reference id is what a receiver reads). */
export const MDC_ATTR_EVENT_PHASE: readonly string[] = ['68481', 'MDC_ATTR_EVENT_PHASE', 'MDC'];
export const MDC_ATTR_ALARM_STATE: readonly string[] = ['68482', 'MDC_ATTR_ALARM_STATE', 'MDC'];
export const MDC_ATTR_ALARM_INACTIVATION_STATE: readonly string[] = ['68483', 'MDC_ATTR_ALARM_INACTIVATION_STATE', 'MDC'];

/** The phases hw-sim's monitor sends (the document's list has more: start_only, tpoint, escalate, ...). */
export type AlertPhase = 'start' | 'continue' | 'end';
/** MDC_ATTR_ALARM_STATE values the monitor sends (document: active, latched, inactive, off). */
export type AlarmState = 'active' | 'inactive';
/** MDC_ATTR_ALARM_INACTIVATION_STATE values the monitor sends (document: enabled, audio-paused, ...). */
export type AlarmInactivationState = 'enabled';
/** OBX-8 priority: PH high, PM medium, PL low, PN none (document, "Message structure" of "Alerts"). */
export type AlertPriority = 'PH' | 'PM' | 'PL' | 'PN';
/** OBX-8 type: SP physiological, ST technical, SA advisory. */
export type AlertType = 'SP' | 'ST' | 'SA';

/** One alert report: the message header a monitor sends and one alert (one OBR group). */
export interface Pcd04Alert {
  /** MSH-3, MSH-4, MSH-7, MSH-10, MSH-11, MSH-12, MSH-18 as in an ORU^R01. */
  sendingApplication: Hl7Field;
  sendingFacility?: Hl7Field;
  time: string;
  controlId: string;
  processingId: string;
  version: string;
  characterSet?: string;
  /** PID-3/PID-5 and PV1-2/PV1-3 as in an ORU^R01. */
  patient?: { identifiers: Hl7Field; name?: Hl7Field };
  visit?: { patientClass: string; location?: Hl7Field };
  /** OBR-3: the alert instance id (entity id ^ namespace); null leaves it out (a malformed alert). */
  instanceId: Hl7Field | null;
  /** OBR-7: the time of the alert at the device (DTM). */
  alertTime: string;
  /** OBX-3 of the first OBX: the event code (e.g. `196670^MDC_EVT_LO^MDC`). */
  event: Hl7Field;
  /** OBX-5 of the first OBX (CWE): the source the alert is about (e.g. the SpO2 code's components). */
  source: readonly string[];
  priority: AlertPriority;
  type: AlertType;
  /** The monitored parameter's row: its code, value, unit and limits (OBX-3, OBX-5, OBX-6, OBX-7). */
  parameter?: { code: Hl7Field; value: string; unit: Hl7Field; referenceRange: string };
  phase: AlertPhase;
  state: AlarmState;
  inactivationState: AlarmInactivationState;
  /** OBX-18 of the first OBX (EUI-64 ^ type), as the ORU^R01's first OBX carries it. */
  equipment: Hl7Field;
}

/**
 * The ORU^R40 as a message of this encoder (MSH-15 AL: the profile asks for the accept ACK; MSH-16 NE).
 * OBX-4 numbers each row as a facet of the MDS (`1.0.0.0.<n>`: the fifth level of the containment),
 * OBX-11 is F on every row.
 */
export function pcd04Message(a: Pcd04Alert): Pcd01Message {
  const rows: Pcd01Observation[] = [];
  const row = (o: Omit<Pcd01Observation, 'setId' | 'subId' | 'status'>): void => {
    const n = String(rows.length + 1);
    rows.push({ setId: n, subId: `1.0.0.0.${n}`, status: 'F', ...o });
  };
  row({ type: 'CWE', code: a.event, value: a.source, abnormalFlags: { repetitions: [a.priority, a.type] }, equipment: a.equipment });
  if (a.parameter !== undefined) {
    row({ type: 'NM', code: a.parameter.code, value: a.parameter.value, unit: a.parameter.unit, referenceRange: a.parameter.referenceRange });
  }
  row({ type: 'ST', code: MDC_ATTR_EVENT_PHASE, value: a.phase });
  row({ type: 'ST', code: MDC_ATTR_ALARM_STATE, value: a.state });
  row({ type: 'ST', code: MDC_ATTR_ALARM_INACTIVATION_STATE, value: a.inactivationState });
  return {
    sendingApplication: a.sendingApplication,
    ...(a.sendingFacility === undefined ? {} : { sendingFacility: a.sendingFacility }),
    time: a.time,
    messageType: ORU_R40,
    controlId: a.controlId,
    processingId: a.processingId,
    version: a.version,
    acceptAckType: 'AL',
    applicationAckType: 'NE',
    ...(a.characterSet === undefined ? {} : { characterSet: a.characterSet }),
    profile: PCD04_PROFILE,
    ...(a.patient === undefined ? {} : { patient: a.patient }),
    ...(a.visit === undefined ? {} : { visit: a.visit }),
    orders: [{
      setId: '1',
      ...(a.instanceId === null ? {} : { fillerOrderNumber: a.instanceId }),
      serviceId: MDC_EVT_ALARM,
      observationTime: a.alertTime,
      observations: rows,
    }],
  };
}

/** The ORU^R40's bytes (not MLLP framed), in the character set MSH-18 declares. */
export function encodePcd04(a: Pcd04Alert): Buffer {
  return encodePcd01(pcd04Message(a));
}

// ---- reading the gateway's ACK -------------------------------------------------------------

/** An ACK read back: MSA-1, MSA-2 and each ERR (ERR-3.1 code, ERR-4 severity, its text). */
export interface AckRead {
  controlId: string;
  code: string;
  errors: Array<{ code: string; severity: string; text: string }>;
}

/**
 * Reads an acknowledgment (the document's "Acknowledgment and error behaviour": MSH, MSA,
 * ERR, in the delimiters the ACK declares in MSH-1 and MSH-2). Segments may end in CR or LF.
 * Returns null for anything that is not an ACK.
 */
export function readAck(bytes: Uint8Array): AckRead | null {
  const latin1 = Buffer.from(bytes).toString('latin1');
  if (!latin1.startsWith('MSH') || latin1.length < 8) return null;
  const charsetIsUtf8 = /UNICODE UTF-8/i.test(latin1.split(/[\r\n]/)[0] ?? '');
  const text = charsetIsUtf8 ? Buffer.from(bytes).toString('utf8') : latin1;
  const d = { field: text[3]!, component: text[4]!, repetition: text[5]!, escape: text[6]!, subcomponent: text[7]! };
  const segments = text.split(/[\r\n]+/).filter((s) => s.length > 0).map((s) => s.split(d.field));
  // MSH-n is at index n - 1 of the MSH split (MSH-1 is the separator the split consumed).
  const msh = segments[0]!;
  const first = (raw: string | undefined): string => unescapeText((raw ?? '').split(d.repetition)[0]!.split(d.component)[0]!, d);
  if (first(msh[8]) !== 'ACK') return null;
  const msa = segments.find((s) => s[0] === 'MSA');
  if (msa === undefined) return null;
  const errors = segments
    .filter((s) => s[0] === 'ERR')
    .map((err) => {
      const codeComponents = (err[3] ?? '').split(d.component).map((c) => unescapeText(c, d));
      // ERR-8 user message, else ERR-7 diagnostic information, else the text of the ERR-3 code.
      const text = unescapeText(err[8] ?? '', d) || unescapeText(err[7] ?? '', d) || (codeComponents[1] ?? '');
      return { code: codeComponents[0] ?? '', severity: first(err[4]), text };
    });
  return { code: first(msa[1]), controlId: first(msa[2]), errors };
}

/** The escape sequences of HL7 v2.6 2.7 that stand for a delimiter; others are kept as sent. */
function unescapeText(text: string, d: { field: string; component: string; repetition: string; escape: string; subcomponent: string }): string {
  const named: Record<string, string> = { F: d.field, S: d.component, R: d.repetition, T: d.subcomponent, E: d.escape };
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const end = ch === d.escape ? text.indexOf(d.escape, i + 1) : -1;
    const body = end > i ? text.slice(i + 1, end) : '';
    if (end > i && named[body] !== undefined) {
      out += named[body];
      i = end;
    } else if (end > i && /^X([0-9A-Fa-f]{2})+$/.test(body)) {
      for (let k = 1; k < body.length; k += 2) out += String.fromCharCode(Number.parseInt(body.slice(k, k + 2), 16));
      i = end;
    } else {
      out += ch;
    }
  }
  return out;
}
