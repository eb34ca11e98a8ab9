/**
 * HL7 v2 ORU^R40 as profiled by IHE PCD-04 (Report Alert, Alert Communication Management): the
 * alerts of one message, one per OBR group, as the view the relay (alert-relay.ts) uses.
 *
 * Pure: no I/O, no clock; nothing here throws on any input. pcd01.ts reads MSH, PID and the
 * equipment id as for an ORU^R01 and calls `decodeAlertGroups` for the body.
 *
 * Sources (docs/interfaces/hl7-pcd01.md, "Alerts"): S3 (IHE PCD TF Vol 2, PCD-04) as restated by
 * S8 (an implementation guide derived from it: the event code in OBX-3 of the first OBX, the source
 * in its OBX-5, `priority~type` in its OBX-8, facets numbered 68480-68483) and S9 (a Mindray VS900
 * message: `MDC_EVT_ALARM` in OBX-3 with the event code in OBX-5, facets numbered 68164-68169,
 * priority and type as facet rows). The two number the same attributes differently, so a facet
 * row is recognised by its reference id, and by a number only when the reference id is absent.
 *
 * Rejects and warnings name the segment, the field and the rule, never a value (a facet's value
 * is device vocabulary, not patient data, and is not echoed either: it is not needed to act).
 */
import type { Hl7Time } from './dtm';
import { parseDtmTolerant } from './dtm';
import type { Hl7Location, Hl7Message, Hl7Segment } from './hl7v2';
import { components, repetitions, value } from './hl7v2';

/** MDC_ATTR_EVENT_PHASE values (S3 via S8; `start`, `continue`, `end` in S8 and S9). */
export const ALERT_PHASES = ['start', 'start_only', 'tpoint', 'continue', 'end', 'present', 'update', 'escalate', 'inactivate', 'deescalate', 'reset'] as const;
export type AlertPhase = (typeof ALERT_PHASES)[number];
/** MDC_ATTR_ALARM_STATE values (S8; `active` in S9). */
export const ALARM_STATES = ['active', 'latched', 'inactive', 'off'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];
/** MDC_ATTR_ALARM_INACTIVATION_STATE values (S8). */
export const INACTIVATION_STATES = ['enabled', 'audio-paused', 'audio-off', 'alarm-paused', 'alarm-off', 'alert-acknowledged'] as const;
export type InactivationState = (typeof INACTIVATION_STATES)[number];

export type AlertPriority = 'high' | 'medium' | 'low' | 'none';
export type AlertType = 'physiological' | 'technical' | 'advisory';

/** OBX-8 / MDC_ATTR_ALARM_PRIORITY codes (IHE table B.8-4, "Abnormal Flags, Alert Priority"). */
const PRIORITY_CODES: Readonly<Record<string, AlertPriority>> = { PH: 'high', PM: 'medium', PL: 'low', PN: 'none' };
/** OBX-8 / MDC_ATTR_ALERT_TYPE codes (S8, S9). */
const TYPE_CODES: Readonly<Record<string, AlertType>> = { SP: 'physiological', ST: 'technical', SA: 'advisory' };

/**
 * The event codes Vigil names, with the number each source gives (S8: MDC_EVT_HI 196648,
 * MDC_EVT_LO 196670; MDC_EVT_ALARM 196616 in S8 and S9). Any other event is relayed all the same
 * with its code ("unknown event code": counted, never dropped).
 */
export const KNOWN_ALERT_EVENTS: Readonly<Record<string, number>> = {
  MDC_EVT_ALARM: 196616,
  MDC_EVT_HI: 196648,
  MDC_EVT_LO: 196670,
};
const MDC_EVT_ALARM = KNOWN_ALERT_EVENTS.MDC_EVT_ALARM as number;

/** The facet rows of an alert: by reference id, and the numbers S8 and S9 give them. */
const FACETS = {
  phase: { refId: 'MDC_ATTR_EVENT_PHASE', codes: [68481, 68165] },
  state: { refId: 'MDC_ATTR_ALARM_STATE', codes: [68482, 68166] },
  inactivation: { refId: 'MDC_ATTR_ALARM_INACTIVATION_STATE', codes: [68483] },
  priority: { refId: 'MDC_ATTR_ALARM_PRIORITY', codes: [68168] },
  type: { refId: 'MDC_ATTR_ALERT_TYPE', codes: [68169] },
  source: { refId: 'MDC_ATTR_ALERT_SOURCE', codes: [68480, 68164] },
} as const;
export type AlertFacet = keyof typeof FACETS;

/** A coded element (CWE/CE): the number when it is one, the reference id and the coding system. */
export interface CodedValue {
  code: number | null;
  refId: string;
  system: string;
}

/** A deviation read on a tolerant reading of the alert (counted as `alert-warning.<what>`). */
export interface AlertWarning {
  what: AlertFacet | 'event-code-name-mismatch' | 'obr7';
  location: Hl7Location;
  detail: string;
}

export interface Pcd04Alert {
  /** The OBR group (1-based). */
  group: number;
  /** OBR-3 entity identifier and namespace: the alert instance across start, continue and end. */
  instanceId: string;
  /** What happened (MDC_EVT_LO, ...). */
  event: CodedValue;
  /** Whether the event is one of KNOWN_ALERT_EVENTS with its number. */
  eventKnown: boolean;
  /** The parameter the alert is about (MDC_PULS_OXIM_SAT_O2, ...), when the message names one. */
  source: CodedValue | null;
  /** MDC_ATTR_ALERT_SOURCE: the device or channel, as its reference id or text. */
  alertSource: string | null;
  phase: AlertPhase | null;
  state: AlarmState | null;
  inactivation: InactivationState | null;
  /** null: not stated, or not a code of the list. */
  priority: AlertPriority | null;
  type: AlertType | null;
  /** Phase `end`, or state `inactive` / `off`. */
  ended: boolean;
  /** OBR-7, else OBX-14 of the event row. */
  deviceTime: Hl7Time | null;
  warnings: AlertWarning[];
}

export type AlertGroupsResult =
  | { ok: true; alerts: Pcd04Alert[] }
  | { ok: false; detail: string; hl7Error: number; location: Hl7Location | null };

function coded(message: Hl7Message, s: Hl7Segment, field: number): CodedValue {
  const id = value(message, s, field, 1, 1).trim();
  const n = /^\d{1,10}$/.test(id) ? Number(id) : null;
  return { code: n, refId: value(message, s, field, 1, 2).trim(), system: value(message, s, field, 1, 3).trim() };
}

function isEmpty(c: CodedValue): boolean {
  return c.code === null && c.refId === '';
}

function isEvent(c: CodedValue): boolean {
  // Partition 3 (events) of ISO/IEEE 11073-10101: code = 65536 * 3 + term (S4).
  return c.refId.startsWith('MDC_EVT_') || (c.code !== null && c.code >= 196608 && c.code < 262144 && (c.system === 'MDC' || c.system === ''));
}

function facetOf(c: CodedValue): AlertFacet | null {
  for (const [name, f] of Object.entries(FACETS) as Array<[AlertFacet, (typeof FACETS)[AlertFacet]]>) {
    if (c.refId !== '' ? c.refId === f.refId : c.code !== null && (f.codes as readonly number[]).includes(c.code)) return name;
  }
  return null;
}

function isKnownEvent(e: CodedValue): boolean {
  const known = KNOWN_ALERT_EVENTS[e.refId];
  if (known !== undefined) return e.code === null || e.code === known;
  return e.refId === '' && e.code !== null && Object.values(KNOWN_ALERT_EVENTS).includes(e.code);
}

function pick<T extends string>(list: readonly T[], text: string): T | null {
  const t = text.trim().toLowerCase();
  return (list as readonly string[]).includes(t) ? (t as T) : null;
}

type AlertRows = { obr: Hl7Segment; number: number; obx: Array<{ s: Hl7Segment; sequence: number }> };
type AlertError = Extract<AlertGroupsResult, { ok: false }>;

/**
 * The alerts of an ORU^R40's body: `{ OBR, { OBX }+ }+`, one alert per OBR group. A structural
 * fault (no OBR, an OBX before any OBR, an OBR without OBR-3 or without its event OBX) rejects the
 * message; a facet outside its list is a warning and read as not given. Never throws.
 */
export function decodeAlertGroups(message: Hl7Message, defaultUtcOffsetMinutes: number): AlertGroupsResult {
  const groups: AlertRows[] = [];
  let obxCount = 0;
  for (const s of message.segments) {
    if (s.name === 'OBR') groups.push({ obr: s, number: groups.length + 1, obx: [] });
    else if (s.name === 'OBX') {
      obxCount++;
      const g = groups[groups.length - 1];
      if (g === undefined) return { ok: false, detail: `OBX segment ${obxCount}: before any OBR segment`, hl7Error: 100, location: { segment: 'OBX', sequence: obxCount, field: 0 } };
      g.obx.push({ s, sequence: obxCount });
    }
  }
  if (groups.length === 0) return { ok: false, detail: 'OBR: an ORU^R40 needs one OBR segment per alert', hl7Error: 100, location: null };
  const alerts: Pcd04Alert[] = [];
  for (const g of groups) {
    const alert = readAlert(message, g, defaultUtcOffsetMinutes);
    if ('ok' in alert) return alert;
    alerts.push(alert);
  }
  return { ok: true, alerts };
}

/** One OBR group: its instance (OBR-3), its event row, its facets and its time. */
function readAlert(message: Hl7Message, g: AlertRows, defaultUtcOffsetMinutes: number): Pcd04Alert | AlertError {
  const at = (field: number): Hl7Location => ({ segment: 'OBR', sequence: g.number, field });
  const entity = value(message, g.obr, 3, 1, 1).trim();
  if (entity === '') return { ok: false, detail: `OBR ${g.number}: OBR-3 (the alert instance id) is required by PCD-04`, hl7Error: 101, location: at(3) };
  const namespace = value(message, g.obr, 3, 1, 2).trim();
  const first = g.obx[0];
  if (first === undefined) return { ok: false, detail: `OBR ${g.number}: an alert without its event OBX`, hl7Error: 100, location: at(0) };
  const id = coded(message, first.s, 3);
  if (isEmpty(id)) {
    return { ok: false, detail: `OBX segment ${first.sequence}: OBX-3 (the alert's event) is required`, hl7Error: 101, location: { segment: 'OBX', sequence: first.sequence, field: 3 } };
  }
  const warnings: AlertWarning[] = [];
  // S9: MDC_EVT_ALARM in OBX-3 with the event itself in OBX-5; S8: the event in OBX-3 and the
  // source parameter in OBX-5.
  const obx5 = coded(message, first.s, 5);
  const s9Layout = (id.refId === 'MDC_EVT_ALARM' || id.code === MDC_EVT_ALARM) && !isEmpty(obx5) && isEvent(obx5);
  const event = s9Layout ? obx5 : id;
  const known = KNOWN_ALERT_EVENTS[event.refId];
  if (known !== undefined && event.code !== null && event.code !== known) {
    warnings.push({ what: 'event-code-name-mismatch', location: { segment: 'OBX', sequence: first.sequence, field: 3 }, detail: `OBX segment ${first.sequence}: event code and reference id disagree: relayed with both` });
  }
  const facets = readFacets(message, g.obx.slice(1), warnings);
  // OBX-8 of the event row (S8) first; the facet rows (S9) when it says nothing.
  for (const rep of repetitions(message, first.s, 8)) {
    const flag = (components(message, rep)[0] ?? '').trim().toUpperCase();
    facets.priority = PRIORITY_CODES[flag] ?? facets.priority;
    facets.type = TYPE_CODES[flag] ?? facets.type;
  }
  let deviceTime: Hl7Time | null = null;
  const obr7 = value(message, g.obr, 7);
  const when = obr7 !== '' ? obr7 : value(message, first.s, 14);
  if (when !== '') {
    const t = parseDtmTolerant(when, defaultUtcOffsetMinutes, true);
    if (t === null) warnings.push({ what: 'obr7', location: at(7), detail: `OBR ${g.number}: the alert's time is not a valid HL7 DTM: read as not given` });
    else deviceTime = t.time;
  }
  const { phase, state } = facets;
  return {
    group: g.number,
    instanceId: namespace === '' ? entity : `${entity}^${namespace}`,
    event,
    eventKnown: isKnownEvent(event),
    source: s9Layout || isEmpty(obx5) ? facets.parameter : obx5,
    alertSource: facets.alertSource,
    phase,
    state,
    inactivation: facets.inactivation,
    priority: facets.priority,
    type: facets.type,
    ended: phase === 'end' || state === 'inactive' || state === 'off',
    deviceTime,
    warnings,
  };
}

interface Facets {
  phase: AlertPhase | null;
  state: AlarmState | null;
  inactivation: InactivationState | null;
  priority: AlertPriority | null;
  type: AlertType | null;
  alertSource: string | null;
  /** The first row that is not a facet: the monitored parameter (S8: value and limits). */
  parameter: CodedValue | null;
}

/** The facet rows of one alert (after its event row); a value outside its list is a warning. */
function readFacets(message: Hl7Message, rows: ReadonlyArray<{ s: Hl7Segment; sequence: number }>, warnings: AlertWarning[]): Facets {
  const f: Facets = { phase: null, state: null, inactivation: null, priority: null, type: null, alertSource: null, parameter: null };
  for (const row of rows) {
    const c = coded(message, row.s, 3);
    const facet = facetOf(c);
    const text = value(message, row.s, 5, 1, 1).trim();
    const bad = (what: AlertFacet, list: string): void => {
      warnings.push({ what, location: { segment: 'OBX', sequence: row.sequence, field: 5 }, detail: `OBX segment ${row.sequence}: ${FACETS[what].refId} is not one of ${list}: read as not given` });
    };
    switch (facet) {
      case 'phase':
        f.phase = pick(ALERT_PHASES, text);
        if (f.phase === null) bad('phase', 'the PCD-04 event phases');
        break;
      case 'state':
        f.state = pick(ALARM_STATES, text);
        if (f.state === null) bad('state', 'active, latched, inactive, off');
        break;
      case 'inactivation':
        f.inactivation = pick(INACTIVATION_STATES, text);
        if (f.inactivation === null) bad('inactivation', 'the PCD-04 inactivation states');
        break;
      case 'priority':
        f.priority = PRIORITY_CODES[text.toUpperCase()] ?? null;
        if (f.priority === null) bad('priority', 'PH, PM, PL, PN');
        break;
      case 'type':
        f.type = TYPE_CODES[text.toUpperCase()] ?? null;
        if (f.type === null) bad('type', 'SP, ST, SA');
        break;
      case 'source':
        f.alertSource = coded(message, row.s, 5).refId || text || null;
        break;
      default:
        if (f.parameter === null && !isEmpty(c)) f.parameter = c;
    }
  }
  return f;
}
