/**
 * The ACK Vigil answers every HL7 message with (HL7 v2.6 2.14.1, original acknowledgment mode:
 * MSH, MSA and ERR segments), in the delimiters of the message it answers.
 *
 * Pure: no I/O, no clock (the time is passed in); nothing here throws on any input. The ERR
 * texts name the field and the rule, never a value (readings are patient data).
 *
 * Sources of truth: HL7 v2.6 chapter 2, acknowledgment codes (table 0008), processing id
 * (table 0103), error codes (table 0357); IHE PCD TF Vol 2, PCD-01: the MSH-21 profile id.
 */
import { formatDtm } from './dtm';
import type { Hl7Delimiters, Hl7Location } from './hl7v2';
import { DEFAULT_DELIMITERS, escapeHl7 } from './hl7v2';
import type { Pcd01Header } from './pcd01';

export type AckCode = 'AA' | 'AE' | 'AR';

export interface AckError {
  /** HL7 table 0357: 100 segment sequence, 101 required field missing, 102 data type, 103 table
   * value not found, 200 unsupported message type, 202 processing id, 203 version,
   * 204 unknown key identifier, 205 duplicate key identifier, 207 application internal error. */
  code: number;
  severity: 'E' | 'W' | 'I';
  location: Hl7Location | null;
  /** ERR-8 user message: names the field and the rule, never a value. */
  text: string;
}

const ERROR_TEXT: Readonly<Record<number, string>> = {
  0: 'Message accepted',
  100: 'Segment sequence error',
  101: 'Required field missing',
  102: 'Data type error',
  103: 'Table value not found',
  200: 'Unsupported message type',
  201: 'Unsupported event code',
  202: 'Unsupported processing id',
  203: 'Unsupported version id',
  204: 'Unknown key identifier',
  205: 'Duplicate key identifier',
  206: 'Application record locked',
  207: 'Application internal error',
};

/** At most this many ERR segments per ACK; the last one says how many were left out. */
export const MAX_ACK_ERRORS = 32;

export interface AckInput {
  code: AckCode;
  /** MSH-10 of the message acknowledged ('' when it could not be read). */
  controlId: string;
  /** MSH-10 of the ACK itself. */
  ackControlId: string;
  nowWallMs: number;
  /** The acknowledged message's delimiters (the ACK answers in them), default |^~\&. */
  delimiters?: Hl7Delimiters | null;
  header?: Partial<Pcd01Header> | null;
  errors?: readonly AckError[];
  /** The trigger acknowledged: R01 (PCD-01, the default) or R40 (PCD-04 alerts). */
  trigger?: 'R01' | 'R40';
}

/** MSH-21 of the ACK: the profile of the message acknowledged (PCD-01 as S3; PCD-04 ACM as S9 names it). */
const ACK_PROFILE: Readonly<Record<'R01' | 'R40', readonly string[]>> = {
  R01: ['IHE PCD ORU-R01 2006', 'HL7', '1.3.6.1.4.1.19376.1.6.1.1.1', 'ISO'],
  R40: ['IHE_PCD_ACM_001', 'IHE PCD', '1.3.6.1.4.1.19376.1.6.1.4.1', 'ISO'],
};

/** Builds the ACK^R01^ACK (or ACK^R40^ACK) text, segments ended by CR (HL7 v2.6 2.14.1). */
export function buildAck(a: AckInput): string {
  const d = a.delimiters ?? DEFAULT_DELIMITERS;
  // Every literal is escaped, "2.6" and the profile OID included: a sender may declare "." or
  // "+" as a delimiter, and the ACK answers in the sender's delimiters.
  const comp = (...parts: Array<string | number>): string => parts.map((p) => escapeHl7(String(p), d)).join(d.component);
  const h = a.header ?? {};
  // MSH-3/MSH-4 of the message are echoed raw (already escaped in these delimiters), unless
  // they hold anything but printable ASCII: the ACK itself stays ASCII.
  const echo = (raw: string | undefined): string => (raw !== undefined && /^[\x20-\x7e]*$/.test(raw) ? raw : '');
  const trigger = a.trigger ?? 'R01';
  const processingId = h.processingId && ['P', 'D', 'T'].includes(h.processingId) ? h.processingId : 'P';
  const encoding = `${d.component}${d.repetition}${d.escape}${d.subcomponent}${d.truncation ?? ''}`;
  const msh = [
    'MSH',
    encoding,
    comp('VIGIL'),
    comp('VIGIL'),
    echo(h.rawSendingApplication),
    echo(h.rawSendingFacility),
    comp(formatDtm(a.nowWallMs)),
    '',
    comp('ACK', trigger, 'ACK'),
    comp(a.ackControlId),
    comp(processingId),
    comp('2.6'),
    '',
    '',
    comp('NE'),
    comp('NE'),
    '',
    '',
    '',
    '',
    comp(...ACK_PROFILE[trigger]),
  ].join(d.field);
  const segments = [msh, ['MSA', comp(a.code), comp(a.controlId)].join(d.field)];
  const errors = a.errors ?? [];
  const shown = errors.length > MAX_ACK_ERRORS ? errors.slice(0, MAX_ACK_ERRORS - 1) : errors;
  for (const e of shown) segments.push(errSegment(e, comp, d));
  if (shown.length < errors.length) {
    segments.push(errSegment({ code: 207, severity: 'W', location: null, text: `${errors.length - shown.length} more problems not listed` }, comp, d));
  }
  return `${segments.join('\r')}\r`;
}

function errSegment(e: AckError, comp: (...parts: Array<string | number>) => string, d: Hl7Delimiters): string {
  const location = e.location === null ? '' : comp(e.location.segment, e.location.sequence, e.location.field);
  return ['ERR', '', location, comp(e.code, ERROR_TEXT[e.code] ?? 'Error', 'HL70357'), comp(e.severity), '', '', '', comp(e.text)].join(d.field);
}
