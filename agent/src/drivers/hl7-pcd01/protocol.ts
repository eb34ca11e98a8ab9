/**
 * HL7 v2 ORU^R01 as profiled by IHE PCD-01 (Communicate PCD Data), MLLP framed: decoder of
 * one message, ACK encoder, MLLP framing helpers, and the receiver's per-link checks
 * (duplicate control ids, patient, equipment identity).
 *
 * Pure: no I/O, no clock (times are passed in), no Node I/O modules; nothing here throws on
 * any input. The driver (driver.ts) owns the serial port or the TCP listener, the link state
 * and the timing; `vigil decode pcd01` runs captures through the same functions.
 *
 * Sources of truth, cited where a rule comes from them:
 *  - HL7 v2.6 chapter 2 (Control): message delimiters declared in MSH-1/MSH-2 (2.5.4), escape
 *    sequences (2.7), MSH/MSA/ERR segments (2.14-2.15), DTM (2.A.22), acknowledgment codes
 *    (table 0008), processing id (table 0103), error codes (table 0357).
 *  - HL7 v2.6 chapter 7: OBX-11 result status (table 0085), OBX-8 abnormal flags (table 0078).
 *  - IHE PCD Technical Framework Vol 2, transaction PCD-01: MSH-21 profile id, OBX-3 as an
 *    ISO/IEEE 11073-10101 (MDC) code, OBX-4 containment "MDS.VMD.CHAN.METRIC", OBX-18 equipment
 *    instance id (EUI-64), MDC or UCUM units in OBX-6, MLLP (HL7 v2 transport, Appendix C).
 * Interface specification: docs/interfaces/hl7-pcd01.md.
 *
 * Rejects name the segment, the field and the rule in `detail`, never a value: readings and
 * patient identifiers are patient data. (Device vocabulary such as an MDC code is named.)
 */
import type { Observation, QualityFlag, ResultStatus, SourceDevice } from '../../model/observation';
import { DeviceIdentity } from '../device-identity';
import type { ParameterCode } from '../../model/parameters';
import { PARAMETERS, PARAMETER_TABLE_VERSION, parameterForMdc } from '../../model/parameters';
import { MDC_UNITS } from '../../model/units';

// ---------------------------------------------------------------------------------------
// MLLP (HL7 v2 Minimal Lower Layer Protocol): <VT=0x0B> message <FS=0x1C><CR=0x0D>
// ---------------------------------------------------------------------------------------

export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_TRAILER: readonly number[] = [0x1c, 0x0d];

/**
 * Largest HL7 message accepted, in bytes. A PCD-01 message of periodic vitals is 1-8 KiB;
 * a message carrying waveform arrays (NA) a few tens of KiB. Beyond this bound the frame is
 * discarded and counted (an unbounded buffer is a memory hazard: a device that never sends
 * the end block must not grow one).
 */
export const HL7_MAX_MESSAGE_BYTES = 256 * 1024;

/** Largest frame between two end blocks: the message, its start block and leading noise. */
export const MLLP_MAX_FRAME_BYTES = HL7_MAX_MESSAGE_BYTES + 64;

/** Wraps a message in an MLLP block. */
export function frameMllp(message: string | Uint8Array): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'latin1') : Buffer.from(message);
  return Buffer.concat([Buffer.from([MLLP_START]), body, Buffer.from(MLLP_TRAILER)]);
}

export type UnwrapResult =
  | {
      ok: true;
      /** The HL7 message bytes between the start block and the end block. */
      payload: Uint8Array;
      /** Bytes before the first start block that were not CR/LF padding: noise between frames. */
      noiseBytes: number;
      /** Start blocks whose message never ended (a new start block came first). */
      truncatedFrames: number;
    }
  | { ok: false; reason: 'framing' | 'overflow'; detail: string; noiseBytes: number; truncatedFrames: number };

/**
 * Takes the bytes of one frame as a delimiter parser gives them: everything after the previous
 * end block (0x1C 0x0D) up to, not including, this one. Finds the message after the LAST start
 * block: bytes before a start block are noise, and a start block followed by another start
 * block is a truncated frame (the sender restarted). Never throws.
 */
export function unwrapMllp(frame: Uint8Array): UnwrapResult {
  let first = -1;
  let last = -1;
  let starts = 0;
  for (let i = 0; i < frame.length; i++) {
    if (frame[i] === MLLP_START) {
      if (first < 0) first = i;
      last = i;
      starts++;
    }
  }
  let noiseBytes = 0;
  const noiseEnd = first < 0 ? frame.length : first;
  for (let i = 0; i < noiseEnd; i++) {
    const b = frame[i];
    if (b !== 0x0d && b !== 0x0a) noiseBytes++;
  }
  const truncatedFrames = Math.max(0, starts - 1);
  if (last < 0) {
    return { ok: false, reason: 'framing', detail: 'MLLP: no start block (0x0B) before the end block', noiseBytes, truncatedFrames };
  }
  const payload = frame.subarray(last + 1);
  if (payload.length > HL7_MAX_MESSAGE_BYTES) {
    return { ok: false, reason: 'overflow', detail: `MLLP: message longer than ${HL7_MAX_MESSAGE_BYTES} bytes`, noiseBytes, truncatedFrames };
  }
  if (payload.length === 0) return { ok: false, reason: 'framing', detail: 'MLLP: empty block', noiseBytes, truncatedFrames };
  if (payload.includes(MLLP_END)) {
    return { ok: false, reason: 'framing', detail: 'MLLP: end block byte 0x1C not followed by CR', noiseBytes, truncatedFrames };
  }
  return { ok: true, payload, noiseBytes, truncatedFrames };
}

export type SplitEvent = { kind: 'frame'; bytes: Uint8Array } | { kind: 'overflow' } | { kind: 'truncated' };

/**
 * Splits a byte stream at the MLLP end block (0x1C 0x0D), bounded: past `maxFrameBytes`
 * without an end block the partial frame is discarded, reported once as an overflow, and the
 * bytes up to the next end block are skipped (so the tail of an over-long frame is never
 * taken for a frame). The same semantics as io/serial.ts BoundedDelimiterParser, for the TCP
 * link and for captures. Pure and incremental.
 */
export class MllpSplitter {
  private buffer: Buffer = Buffer.alloc(0);
  private discarding = false;

  constructor(private readonly maxFrameBytes: number = MLLP_MAX_FRAME_BYTES) {}

  push(chunk: Uint8Array): SplitEvent[] {
    const events: SplitEvent[] = [];
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // An end block split across two chunks: 0x1C at the end of the buffer, 0x0D first here.
    let carry = this.buffer;
    for (;;) {
      const joined = carry.length > 0 ? Buffer.concat([carry, data]) : data;
      carry = Buffer.alloc(0);
      const at = indexOfTrailer(joined);
      if (at < 0) {
        if (this.discarding) {
          // Keep only a possible first half of an end block.
          this.buffer = joined.length > 0 && joined[joined.length - 1] === MLLP_END ? Buffer.from([MLLP_END]) : Buffer.alloc(0);
        } else if (joined.length > this.maxFrameBytes) {
          this.discarding = true;
          events.push({ kind: 'overflow' });
          this.buffer = joined[joined.length - 1] === MLLP_END ? Buffer.from([MLLP_END]) : Buffer.alloc(0);
        } else {
          this.buffer = Buffer.from(joined);
        }
        return events;
      }
      if (this.discarding) {
        this.discarding = false;
      } else if (at > this.maxFrameBytes) {
        events.push({ kind: 'overflow' });
      } else {
        events.push({ kind: 'frame', bytes: Uint8Array.from(joined.subarray(0, at)) });
      }
      data = joined.subarray(at + 2);
      this.buffer = Buffer.alloc(0);
      if (data.length === 0) return events;
    }
  }

  /** End of stream: a partial frame is reported, never passed on as a frame. */
  end(): SplitEvent[] {
    const pending = this.buffer.some((b) => b !== 0x0d && b !== 0x0a) || this.discarding;
    this.buffer = Buffer.alloc(0);
    this.discarding = false;
    return pending ? [{ kind: 'truncated' }] : [];
  }
}

function indexOfTrailer(buf: Buffer): number {
  let from = 0;
  for (;;) {
    const at = buf.indexOf(MLLP_END, from);
    if (at < 0 || at + 1 >= buf.length) return -1;
    if (buf[at + 1] === 0x0d) return at;
    from = at + 1;
  }
}

// ---------------------------------------------------------------------------------------
// HL7 v2 message structure: delimiters from MSH, segments, fields, escapes
// ---------------------------------------------------------------------------------------

/** The delimiters a message declares in MSH-1 and MSH-2 (HL7 v2.6 2.5.4). */
export interface Hl7Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
  /** MSH-2 fifth character (v2.7+); null when absent. */
  truncation: string | null;
}

export const DEFAULT_DELIMITERS: Hl7Delimiters = {
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
  truncation: null,
};

export type Hl7Charset = 'latin1' | 'utf-8';

export interface Hl7Segment {
  /** Three letters or digits, e.g. "OBX". */
  name: string;
  /** Position in the message, 1-based (for error locations). */
  position: number;
  /**
   * Raw (still escaped) field texts indexed by HL7 field number: fields[1] is the first field
   * after the name. For MSH, fields[1] is the field separator and fields[2] the encoding
   * characters, as HL7 numbers them.
   */
  fields: readonly string[];
}

export interface Hl7Message {
  delimiters: Hl7Delimiters;
  charset: Hl7Charset;
  segments: readonly Hl7Segment[];
}

/** Where a problem is, as an HL7 ERR-2 error location (segment id, sequence, field). */
export interface Hl7Location {
  segment: string;
  /** The segment's occurrence among segments of that name, 1-based. */
  sequence: number;
  field: number;
}

export type Hl7ParseResult =
  | { ok: true; message: Hl7Message }
  | { ok: false; reason: 'framing' | 'malformed'; detail: string; hl7Error: number; location: Hl7Location | null; delimiters: Hl7Delimiters | null };

const SEGMENT_NAME = /^[A-Z][A-Z0-9]{2}$/;
const ALNUM = /^[A-Za-z0-9]$/;

/** Reads a message's bytes as text in its declared character set (MSH-18). */
function decodeText(bytes: Uint8Array): { ok: true; text: string; charset: Hl7Charset } | { ok: false; reason: 'framing' | 'malformed'; detail: string } {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    // Control bytes other than the segment terminators and TAB never occur in an HL7 message:
    // they are line noise, a merged MLLP block, or another protocol on the line.
    if (b < 0x20 && b !== 0x0d && b !== 0x0a && b !== 0x09) return { ok: false, reason: 'framing', detail: `control byte at offset ${i}` };
    if (b === 0x7f) return { ok: false, reason: 'framing', detail: `control byte at offset ${i}` };
  }
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  // MSH-18 (character set): the 18th field of the first line. Read before decoding: the
  // delimiters and every byte before MSH-18 are ASCII in every character set HL7 allows here.
  const firstLine = latin1.split(/\r\n|\r|\n/, 1)[0] ?? '';
  const sep = firstLine[3];
  const msh18 = sep === undefined ? '' : (firstLine.split(sep)[17] ?? '');
  if (/UTF-8/i.test(msh18)) {
    try {
      return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), charset: 'utf-8' };
    } catch {
      return { ok: false, reason: 'malformed', detail: 'MSH-18 declares UTF-8 but the bytes are not valid UTF-8' };
    }
  }
  return { ok: true, text: latin1, charset: 'latin1' };
}

/**
 * Splits one HL7 v2 message into segments and raw fields, with the delimiters it declares in
 * MSH-1/MSH-2 (never assumed). Segments may end with CR (the standard), LF or CR LF; blank
 * lines are skipped. Never throws.
 */
export function parseHl7(input: Uint8Array | string): Hl7ParseResult {
  const decoded = typeof input === 'string' ? { ok: true as const, text: input, charset: 'utf-8' as Hl7Charset } : decodeText(input);
  if (!decoded.ok) return { ok: false, reason: decoded.reason, detail: decoded.detail, hl7Error: 102, location: null, delimiters: null };
  const text = decoded.text;
  const bad = (detail: string, hl7Error: number, location: Hl7Location | null, delimiters: Hl7Delimiters | null): Hl7ParseResult => ({
    ok: false,
    reason: 'malformed',
    detail,
    hl7Error,
    location,
    delimiters,
  });
  if (!text.startsWith('MSH')) return bad('message does not start with an MSH segment', 100, null, null);
  const field = text[3];
  if (field === undefined || ALNUM.test(field) || /\s/.test(field) || field === '\u0000') {
    return bad('MSH-1: field separator missing or not a delimiter character', 102, { segment: 'MSH', sequence: 1, field: 1 }, null);
  }
  const lines = text.split(/\r\n|\r|\n/);
  const mshLine = lines[0] ?? '';
  const encEnd = mshLine.indexOf(field, 4);
  const encoding = encEnd < 0 ? mshLine.slice(4) : mshLine.slice(4, encEnd);
  const chars = [...encoding];
  const encodingOk =
    (chars.length === 4 || chars.length === 5) &&
    new Set([field, ...chars]).size === chars.length + 1 &&
    chars.every((c) => !ALNUM.test(c) && !/\s/.test(c));
  if (!encodingOk) {
    return bad('MSH-2: expected 4 or 5 distinct delimiter characters', 102, { segment: 'MSH', sequence: 1, field: 2 }, null);
  }
  const delimiters: Hl7Delimiters = {
    field,
    component: chars[0] ?? '^',
    repetition: chars[1] ?? '~',
    escape: chars[2] ?? '\\',
    subcomponent: chars[3] ?? '&',
    truncation: chars[4] ?? null,
  };
  const segments: Hl7Segment[] = [];
  const seen = new Map<string, number>();
  let position = 0;
  for (const line of lines) {
    if (line.length === 0) continue;
    position++;
    const name = line.slice(0, 3);
    if (!SEGMENT_NAME.test(name) || (line.length > 3 && line[3] !== field)) {
      return bad(`segment ${position}: name is not three capital letters or digits followed by the field separator`, 100, null, delimiters);
    }
    const sequence = (seen.get(name) ?? 0) + 1;
    seen.set(name, sequence);
    let fields: string[];
    if (name === 'MSH') {
      if (position !== 1) return bad(`segment ${position}: MSH is not the first segment`, 100, { segment: 'MSH', sequence, field: 0 }, delimiters);
      fields = ['MSH', field, encoding, ...(encEnd < 0 ? [] : mshLine.slice(encEnd + 1).split(field))];
    } else {
      fields = line.split(field);
    }
    segments.push({ name, position, fields });
  }
  return { ok: true, message: { delimiters, charset: decoded.charset, segments } };
}

/** A raw field of a segment ('' when absent). */
export function rawField(segment: Hl7Segment, n: number): string {
  return segment.fields[n] ?? '';
}

/** Splits raw text on a delimiter; an empty text is one empty element. */
function split(raw: string, by: string): string[] {
  return raw.split(by);
}

/** The n-th (0-based) part of `raw` split on `by`, without building the array (hot path). */
function nth(raw: string, by: string, n: number): string {
  let start = 0;
  for (let i = 0; i < n; i++) {
    const at = raw.indexOf(by, start);
    if (at < 0) return '';
    start = at + by.length;
  }
  const end = raw.indexOf(by, start);
  return end < 0 ? raw.slice(start) : raw.slice(start, end);
}

/**
 * The unescaped value at field `n`, repetition `rep`, component `comp`, subcomponent `sub`
 * (all 1-based, as HL7 numbers them). Escapes are decoded after splitting, so an escaped
 * delimiter never splits. MSH-1 and MSH-2 are returned as they are.
 */
export function value(message: Hl7Message, segment: Hl7Segment, n: number, rep = 1, comp = 1, sub = 1): string {
  const raw = rawField(segment, n);
  if (segment.name === 'MSH' && (n === 1 || n === 2)) return raw;
  const d = message.delimiters;
  return unescapeHl7(nth(nth(nth(raw, d.repetition, rep - 1), d.component, comp - 1), d.subcomponent, sub - 1), d, message.charset);
}

/** The raw repetitions of a field. */
export function repetitions(message: Hl7Message, segment: Hl7Segment, n: number): string[] {
  const raw = rawField(segment, n);
  return raw === '' ? [] : split(raw, message.delimiters.repetition);
}

/** The unescaped components of one raw repetition (subcomponent 1 of each). */
export function components(message: Hl7Message, rawRepetition: string): string[] {
  const d = message.delimiters;
  return split(rawRepetition, d.component).map((c) => unescapeHl7(nth(c, d.subcomponent, 0), d, message.charset));
}

/** Formatting and site-defined escapes kept as they are (HL7 v2.6 2.7.2-2.7.6): not data. */
const VERBATIM_ESCAPE = /^(H|N|Z[^]*|\.(sp|br|fi|nf|in|ti|sk|ce)([+-]?\d+)?|C[0-9A-Fa-f]{4}|M[0-9A-Fa-f]{4}([0-9A-Fa-f]{2})?)$/;
const HEX_ESCAPE = /^X((?:[0-9A-Fa-f]{2})+)$/;

/**
 * Decodes HL7 escape sequences (HL7 v2.6 2.7): \F\ \S\ \T\ \R\ \E\ (and \P\ where MSH-2
 * declares a truncation character) become the delimiter they stand for; \Xhh..\ becomes the
 * bytes it encodes, read in the message's character set (Latin-1 code points, or UTF-8);
 * formatting (\H\ \N\ \.br\ ...) and site-defined (\Z..\) sequences are left as they are; an
 * escape character that starts no complete sequence is a literal. Never throws.
 */
export function unescapeHl7(text: string, d: Hl7Delimiters = DEFAULT_DELIMITERS, charset: Hl7Charset = 'latin1'): string {
  const e = d.escape;
  if (!text.includes(e)) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? '';
    if (ch !== e) {
      out += ch;
      i++;
      continue;
    }
    const close = text.indexOf(e, i + 1);
    if (close < 0) {
      out += text.slice(i);
      break;
    }
    const body = text.slice(i + 1, close);
    const single: Record<string, string | null> = { F: d.field, S: d.component, T: d.subcomponent, R: d.repetition, E: d.escape, P: d.truncation };
    const replacement = body.length === 1 ? single[body] : undefined;
    if (replacement !== undefined && replacement !== null) {
      out += replacement;
      i = close + 1;
      continue;
    }
    const hex = HEX_ESCAPE.exec(body);
    if (hex?.[1] !== undefined) {
      const bytes = Buffer.from(hex[1], 'hex');
      out += charset === 'utf-8' ? new TextDecoder('utf-8').decode(bytes) : bytes.toString('latin1');
      i = close + 1;
      continue;
    }
    if (VERBATIM_ESCAPE.test(body)) {
      out += text.slice(i, close + 1);
      i = close + 1;
      continue;
    }
    // Not a sequence: the escape character is a literal, and the next one may open a sequence.
    out += ch;
    i++;
  }
  return out;
}

/**
 * Escapes text for a field (HL7 v2.6 2.7): delimiters become \F\ \S\ \T\ \R\ \E\ (\P\), and
 * every character outside printable ASCII up to U+00FF becomes \Xhh\ (Latin-1), so that the
 * text can never end a segment or a frame. Characters above U+00FF become "?": Vigil only
 * writes its own ASCII texts.
 */
export function escapeHl7(text: string, d: Hl7Delimiters = DEFAULT_DELIMITERS): string {
  let out = '';
  for (const ch of text) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (d.truncation !== null && ch === d.truncation) out += `${d.escape}P${d.escape}`;
    else {
      const code = ch.codePointAt(0) ?? 0x3f;
      if (code >= 0x20 && code < 0x7f) out += ch;
      else if (code <= 0xff) out += `${d.escape}X${code.toString(16).padStart(2, '0')}${d.escape}`;
      else out += '?';
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// DTM (HL7 v2.6 2.A.22): YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
// ---------------------------------------------------------------------------------------

export interface Hl7Time {
  /** UTC milliseconds of the earliest instant the text denotes. */
  ms: number;
  /** The text as sent. */
  text: string;
  /** Whether the text carried its UTC offset; if not, the configured device offset was applied. */
  zoned: boolean;
}

const DTM = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?([+-]\d{4})?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses an HL7 DTM. Without a zone the time is the sender's local time: `defaultOffsetMinutes`
 * (the interface's configured device offset) is applied and `zoned` is false. null when the
 * text is not a valid DTM (calendar included).
 */
export function parseDtm(text: string, defaultOffsetMinutes: number): Hl7Time | null {
  const m = DTM.exec(text);
  if (m === null) return null;
  const year = Number(m[1]);
  const month = m[2] === undefined ? 1 : Number(m[2]);
  const day = m[3] === undefined ? 1 : Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const fraction = m[7] === undefined ? 0 : Number(`0.${m[7]}`);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = defaultOffsetMinutes;
  if (m[8] !== undefined) {
    const sign = m[8].startsWith('-') ? -1 : 1;
    const oh = Number(m[8].slice(1, 3));
    const om = Number(m[8].slice(3, 5));
    if (oh > 14 || om > 59) return null;
    offsetMinutes = sign * (oh * 60 + om);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) + Math.round(fraction * 1000) - offsetMinutes * 60_000;
  return { ms, text, zoned: m[8] !== undefined };
}

/** "+01:00" -> 60. */
export function utcOffsetMinutes(offset: string): number {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  if (m === null) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

/** UTC time as an HL7 DTM with seconds and zone: 20260101100000+0000. */
export function formatDtm(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}+0000`;
}

// ---------------------------------------------------------------------------------------
// PCD-01: the ORU^R01 message as Vigil reads it
// ---------------------------------------------------------------------------------------

/** Why a whole message is rejected (counted as frames-rejected.<reason>). */
export type Pcd01RejectReason =
  | 'framing'
  | 'overflow'
  | 'truncated'
  | 'malformed'
  | 'unsupported-message'
  | 'unsupported-version'
  | 'missing-profile';

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
  /** MSH-3 namespace id. */
  sendingApplication: string;
  /** MSH-3 and MSH-4 raw (already escaped in the message's delimiters), echoed in the ACK. */
  rawSendingApplication: string;
  rawSendingFacility: string;
  messageTime: Hl7Time | null;
}

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
  observationTime: (Hl7Time & { source: 'OBX-14' | 'OBR-7' }) | null;
  /** OBX-18 of this OBX, or of the nearest containing OBX (by OBX-4), or null. */
  equipmentId: string | null;
}

export type ObxOutcome =
  | { ok: true; reading: Pcd01Reading }
  | { ok: false; reason: ObxRejectReason; detail: string; obxSequence: number; field: number };

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
    }
  | { ok: true; kind: 'ack'; header: Pcd01Header; ack: AckReceived; delimiters: Hl7Delimiters }
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

/** MSH-12 versions read as PCD-01 (the profile is defined on HL7 v2.6). */
export const SUPPORTED_VERSIONS: readonly string[] = ['2.6', '2.7', '2.7.1', '2.8', '2.8.1', '2.8.2', '2.9'];

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
const MAX_CONTROL_ID_CHARS = 199;

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

type HeaderResult = { ok: true; header: Pcd01Header } | Extract<Pcd01Decoded, { ok: false }>;

function readHeader(message: Hl7Message, msh: Hl7Segment, defaultOffsetMinutes: number): HeaderResult {
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
  const isOru = type === 'ORU' && trigger === 'R01';
  if (!isOru && type !== 'ACK') return fail('unsupported-message', 'MSH-9: only ORU^R01 and ACK are read', 200, 9);
  const controlId = v(10);
  if (controlId === '') return fail('malformed', 'MSH-10: message control id is required', 101, 10);
  if (controlId.length > MAX_CONTROL_ID_CHARS) return fail('malformed', `MSH-10: longer than ${MAX_CONTROL_ID_CHARS} characters`, 102, 10);
  const processingId = v(11);
  if (!['P', 'D', 'T'].includes(processingId)) return fail('unsupported-message', 'MSH-11: processing id must be P, D or T (HL7 table 0103)', 202, 11);
  const version = v(12);
  if (version === '') return fail('unsupported-version', 'MSH-12: version id is required', 203, 12);
  if (!SUPPORTED_VERSIONS.includes(version)) return fail('unsupported-version', `MSH-12: version ${version} is not 2.6 or later (PCD-01 is defined on HL7 v2.6)`, 203, 12);
  const profiles = repetitions(message, msh, 21)
    .map((r) => components(message, r))
    .map((c) => c[0] || c[2] || '')
    .filter((p) => p !== '');
  if (profiles.length === 0) return fail('missing-profile', 'MSH-21: message profile identifier is required by PCD-01', 101, 21);
  let messageTime: Hl7Time | null = null;
  const mshTime = v(7);
  if (mshTime !== '') {
    messageTime = parseDtm(mshTime, defaultOffsetMinutes);
    if (messageTime === null) return fail('malformed', 'MSH-7: not a valid HL7 DTM', 102, 7);
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
}

/**
 * Decodes one HL7 message (the payload of an MLLP block, or a message from a capture) into
 * the PCD-01 view Vigil uses. Structure and syntax are checked across the whole message, and
 * any error rejects it whole (a message that does not parse may be corrupt in places that do
 * parse: it is never partly believed). Semantic problems of single OBX segments (an unknown
 * code, a text value) reject only that OBX. Never throws.
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
  const msh = message.segments[0];
  if (msh === undefined) {
    return { ok: false, reason: 'malformed', detail: 'no segments', hl7Error: 100, location: null, header: null, delimiters: message.delimiters };
  }
  const head = readHeader(message, msh, opts.defaultUtcOffsetMinutes);
  if (!head.ok) return head;
  const header = head.header;
  const fail = (reason: Pcd01RejectReason, detail: string, hl7Error: number, location: Hl7Location | null): Pcd01Decoded => ({
    ok: false,
    reason,
    detail,
    hl7Error,
    location,
    header,
    delimiters: message.delimiters,
  });

  if (header.messageType.startsWith('ACK')) {
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

  // ORU^R01: MSH, [PID [PV1]], { OBR, {OBX | NTE}* }+ ; other segments (SFT, NTE, PV1, ...) are skipped.
  const pids = message.segments.filter((s) => s.name === 'PID');
  if (pids.length > 1) return fail('malformed', 'PID: more than one patient in one message', 100, { segment: 'PID', sequence: 2, field: 0 });
  const pid = pids[0];
  const patientIds: PatientId[] | null =
    pid === undefined
      ? null
      : repetitions(message, pid, 3).map((r) => {
          const d = message.delimiters;
          const comps = r.split(d.component);
          const sub = (c: string | undefined): string => unescapeHl7((c ?? '').split(d.subcomponent)[0] ?? '', d, message.charset);
          return { id: sub(comps[0]), authority: sub(comps[3]), typeCode: sub(comps[4]).trim() };
        });

  interface RawObx {
    segment: Hl7Segment;
    sequence: number;
    obrTime: Hl7Time | null;
  }
  const obxs: RawObx[] = [];
  let currentObrTime: Hl7Time | null | undefined;
  let obrCount = 0;
  let obxCount = 0;
  for (const s of message.segments) {
    if (s.name === 'OBR') {
      obrCount++;
      const t = value(message, s, 7);
      currentObrTime = null;
      if (t !== '') {
        currentObrTime = parseDtm(t, opts.defaultUtcOffsetMinutes);
        if (currentObrTime === null) return fail('malformed', `OBR ${obrCount}: OBR-7 is not a valid HL7 DTM`, 102, { segment: 'OBR', sequence: obrCount, field: 7 });
      }
    } else if (s.name === 'OBX') {
      obxCount++;
      if (currentObrTime === undefined) return fail('malformed', `OBX ${obxCount}: before any OBR segment`, 100, { segment: 'OBX', sequence: obxCount, field: 0 });
      obxs.push({ segment: s, sequence: obxCount, obrTime: currentObrTime });
    }
  }
  if (obrCount === 0) return fail('malformed', 'OBR: an ORU^R01 needs at least one OBR segment', 100, null);

  // Pass 1: syntax of every OBX (any error rejects the message), and the containment tree.
  interface Parsed {
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
    time: (Hl7Time & { source: 'OBX-14' | 'OBR-7' }) | null;
    ownEquipmentId: string | null;
  }
  const parsedObx: Parsed[] = [];
  for (const raw of obxs) {
    const s = raw.segment;
    const at = (field: number): Hl7Location => ({ segment: 'OBX', sequence: raw.sequence, field });
    const where = `OBX ${raw.sequence}`;
    const valueType = value(message, s, 2);
    const obx5 = rawField(s, 5);
    const hasValue = obx5 !== '' && obx5 !== '""';
    if (hasValue && valueType === '') return fail('malformed', `${where}: OBX-5 has a value but OBX-2 (value type) is empty`, 101, at(2));
    if (valueType !== '' && !/^[A-Z]{2,3}$/.test(valueType)) return fail('malformed', `${where}: OBX-2 is not an HL7 data type code`, 102, at(2));
    const code = value(message, s, 3, 1, 1);
    const codeText = value(message, s, 3, 1, 2);
    const codeSystem = value(message, s, 3, 1, 3);
    if (code === '' && codeText === '') return fail('malformed', `${where}: OBX-3 (observation identifier) is required`, 101, at(3));
    const containment = value(message, s, 4);
    if (containment !== '' && !CONTAINMENT.test(containment)) return fail('malformed', `${where}: OBX-4 is not a dotted containment (MDS.VMD.CHAN.METRIC)`, 102, at(4));
    let values: Array<number | null> | null = null;
    if (valueType === 'NM') {
      if (repetitions(message, s, 5).length > 1) return fail('malformed', `${where}: OBX-5 repeats for a single NM value`, 102, at(5));
      const v = parseNm(value(message, s, 5));
      if (v === undefined) return fail('malformed', `${where}: OBX-5 is not a valid NM number`, 102, at(5));
      values = [v];
    } else if (valueType === 'NA') {
      const first = repetitions(message, s, 5)[0] ?? '';
      const items = first === '' ? [] : components(message, first).map(parseNm);
      if (items.some((x) => x === undefined)) return fail('malformed', `${where}: OBX-5 has an NA element that is not a valid NM number`, 102, at(5));
      values = items as Array<number | null>;
    }
    const unit = unitFromObx6(value(message, s, 6, 1, 1), value(message, s, 6, 1, 2), value(message, s, 6, 1, 3));
    const abnormalFlags = repetitions(message, s, 8).map((r) => components(message, r)[0] ?? '').filter((f) => f !== '');
    // OBX-11 is required by HL7, but an empty one is not a sign of corruption (a letter that is
    // not in table 0085 is): it rejects only that OBX, and only if Vigil would use it.
    const statusCode = value(message, s, 11);
    if (statusCode !== '' && !Object.hasOwn(STATUS_TABLE, statusCode)) return fail('malformed', `${where}: OBX-11 is not a status of HL7 table 0085`, 103, at(11));
    let time: Parsed['time'] = null;
    const t14 = value(message, s, 14);
    if (t14 !== '') {
      const parsedTime = parseDtm(t14, opts.defaultUtcOffsetMinutes);
      if (parsedTime === null) return fail('malformed', `${where}: OBX-14 is not a valid HL7 DTM`, 102, at(14));
      time = { ...parsedTime, source: 'OBX-14' };
    } else if (raw.obrTime !== null) {
      time = { ...raw.obrTime, source: 'OBR-7' };
    }
    const eq = value(message, s, 18, 1, 1);
    parsedObx.push({
      raw,
      valueType,
      code,
      codeText,
      codeSystem,
      containment,
      values,
      hasValue,
      unit,
      abnormalFlags,
      statusCode,
      time,
      ownEquipmentId: eq === '' ? null : eq,
    });
  }

  // Equipment id: an OBX's own OBX-18, else that of the nearest containing OBX. PCD-01 puts
  // OBX-18 on the MDS (and VMD) rows; "1.2.0.0" contains "1.2.1.3" (trailing zeros = level).
  const level = (c: string): string[] => {
    const parts = c.split('.');
    while (parts.length > 1 && parts[parts.length - 1] === '0') parts.pop();
    return parts;
  };
  const containers = parsedObx
    .filter((q) => q.ownEquipmentId !== null && q.containment !== '')
    .map((q) => ({ id: q.ownEquipmentId as string, levels: level(q.containment) }));
  const equipmentOf = (p: Parsed): string | null => {
    if (p.ownEquipmentId !== null) return p.ownEquipmentId;
    if (p.containment === '') return null;
    const mine = level(p.containment);
    let best: { depth: number; id: string } | null = null;
    for (const q of containers) {
      const theirs = q.levels;
      if (theirs.length >= mine.length || !theirs.every((x, i) => mine[i] === x)) continue;
      if (best === null || theirs.length > best.depth) best = { depth: theirs.length, id: q.id };
    }
    return best?.id ?? null;
  };
  const messageEquipmentId = parsedObx.find((p) => p.ownEquipmentId !== null)?.ownEquipmentId ?? null;
  const demoMessage = header.processingId !== 'P';

  // Pass 2: semantics of each OBX, through the one parameter table.
  const outcomes: ObxOutcome[] = [];
  let descriptors = 0;
  for (const p of parsedObx) {
    const seq = p.raw.sequence;
    const where = `OBX ${seq}`;
    const reject = (reason: ObxRejectReason, detail: string, field: number): void => {
      outcomes.push({ ok: false, reason, detail: `${where}: ${detail}`, obxSequence: seq, field });
    };
    const numeric = /^\d{1,10}$/.test(p.code) ? Number(p.code) : null;
    const spec = p.codeSystem.toUpperCase() === 'MDC' && numeric !== null ? parameterForMdc(numeric) : undefined;
    if (spec === undefined) {
      if (!p.hasValue) {
        // Device, VMD and channel rows, and metrics the device could not obtain: no value to use.
        descriptors++;
        continue;
      }
      const name = p.codeText === '' ? '' : ` (${p.codeText})`;
      if (p.codeSystem.toUpperCase() !== 'MDC') reject('unknown-code', `OBX-3 coding system "${p.codeSystem}" is not MDC`, 3);
      else if (numeric === null) reject('unknown-code', 'OBX-3 identifier is not a numeric MDC code', 3);
      else reject('unknown-code', `MDC code ${numeric}${name} is not in the parameter table v${PARAMETER_TABLE_VERSION}`, 3);
      continue;
    }
    if (p.valueType !== '' && p.valueType !== 'NM' && p.valueType !== 'NA') {
      reject('unsupported-value-type', `OBX-2 "${p.valueType}" for ${spec.code}: only NM and NA carry numbers`, 2);
      continue;
    }
    if (p.values !== null && p.values.length > 1) {
      reject('numeric-array', `OBX-5 has ${p.values.length} values for the scalar parameter ${spec.code}`, 5);
      continue;
    }
    if (p.statusCode === '') {
      reject('missing-status', `OBX-11 (result status) is empty for ${spec.code}`, 11);
      continue;
    }
    const status = STATUS_TABLE[p.statusCode] ?? null;
    if (status === null) {
      reject('unsupported-status', `OBX-11 "${p.statusCode}" carries no result`, 11);
      continue;
    }
    // X (cannot be obtained), D and W (deleted, wrong) carry no usable result, whatever is in OBX-5.
    const sentValue = p.values?.[0] ?? null;
    const resultValue = status === 'cannot-obtain' || status === 'deleted' ? null : sentValue;
    outcomes.push({
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
    });
  }

  return {
    ok: true,
    kind: 'oru',
    header,
    patientIds,
    equipmentId: messageEquipmentId,
    obx: resolveDuplicates(outcomes),
    descriptors,
    delimiters: message.delimiters,
  };
}

/**
 * One value per parameter per message (HAZ-005: the table decides, never arrival order): the
 * code listed first in the parameter's `mdc` list wins; for the same code the later
 * observation time wins; an exact tie rejects all of the tied OBX as ambiguous.
 */
function resolveDuplicates(outcomes: ObxOutcome[]): ObxOutcome[] {
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

// ---------------------------------------------------------------------------------------
// ACK (HL7 v2.6 2.14.1 original acknowledgment mode; MSA, ERR)
// ---------------------------------------------------------------------------------------

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
}

/** Builds the ACK^R01^ACK text, segments ended by CR (HL7 v2.6 2.14.1). */
export function buildAck(a: AckInput): string {
  const d = a.delimiters ?? DEFAULT_DELIMITERS;
  // Every literal is escaped, "2.6" and the profile OID included: a sender may declare "." or
  // "+" as a delimiter, and the ACK answers in the sender's delimiters.
  const comp = (...parts: Array<string | number>): string => parts.map((p) => escapeHl7(String(p), d)).join(d.component);
  const h = a.header ?? {};
  // MSH-3/MSH-4 of the message are echoed raw (already escaped in these delimiters), unless
  // they hold anything but printable ASCII: the ACK itself stays ASCII.
  const echo = (raw: string | undefined): string => (raw !== undefined && /^[\x20-\x7e]*$/.test(raw) ? raw : '');
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
    comp('ACK', 'R01', 'ACK'),
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
    comp('IHE PCD ORU-R01 2006', 'HL7', '1.3.6.1.4.1.19376.1.6.1.1.1', 'ISO'),
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

// ---------------------------------------------------------------------------------------
// The receiver: what the gateway does with each message of one link
// ---------------------------------------------------------------------------------------

export interface ReceiverSettings {
  /** The bed's patient id: PID-3 must carry it (any repetition). null = not checked. */
  patientId: string | null;
  /** When set, the PID-3 repetition must also carry this assigning authority. */
  patientIdAuthority: string | null;
  /** The configured equipment id (OBX-18); null = learned from the first accepted message. */
  equipmentId: string | null;
  defaultUtcOffsetMinutes: number;
  /** How many accepted control ids are remembered against duplicates (HAZ-007). */
  rememberControlIds?: number;
}

/** Rejections of a whole message by the receiver, beyond the decoder's. */
export type ReceiverRejectReason = Pcd01RejectReason | 'patient-mismatch' | 'device-changed' | 'device-identity';

export type ReceiveOutcome =
  | {
      kind: 'accepted';
      header: Pcd01Header;
      readings: Pcd01Reading[];
      obxRejections: Array<Extract<ObxOutcome, { ok: false }>>;
      descriptors: number;
      equipmentId: string | null;
      ack: string;
    }
  | { kind: 'duplicate'; controlId: string; detail: string; ack: string }
  | { kind: 'rejected'; reason: ReceiverRejectReason; detail: string; ack: string | null }
  /** An acknowledgment arrived (the gateway never answers one). */
  | { kind: 'ack'; ack: AckReceived };

const OBX_ERROR: Readonly<Record<ObxRejectReason, number>> = {
  'unknown-code': 103,
  'unsupported-value-type': 102,
  'numeric-array': 102,
  'unsupported-status': 103,
  'missing-status': 101,
  superseded: 205,
  ambiguous: 205,
};

/**
 * The per-link state machine of a PCD-01 receiver: decodes, answers every message with an
 * ACK text, drops duplicates (HAZ-007), checks the patient (PID-3) and the device (OBX-18)
 * against the bed (HAZ-011). Pure: the time is passed in, the caller sends the ACK.
 */
export class Pcd01Receiver {
  /** The monitor's OBX-18 equipment id: configured, or learned from the first accepted message. */
  readonly equipment: DeviceIdentity;
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  private ackCounter = 0;

  constructor(private readonly settings: ReceiverSettings) {
    this.equipment = new DeviceIdentity(settings.equipmentId ?? undefined);
  }

  /** The equipment id this link is bound to (configured or learned), or null. */
  get equipmentId(): string | null {
    return this.equipment.bound;
  }

  /** Accepts the device now reporting another OBX-18 (a nurse confirmed the change). */
  confirmDeviceChange(): boolean {
    return this.equipment.confirm();
  }

  receive(payload: Uint8Array | string, nowWallMs: number): ReceiveOutcome {
    const decoded = decodePcd01(payload, { defaultUtcOffsetMinutes: this.settings.defaultUtcOffsetMinutes });
    const ack = (code: AckCode, controlId: string, errors: AckError[], header: Partial<Pcd01Header> | null, delimiters: Hl7Delimiters | null): string =>
      buildAck({ code, controlId, ackControlId: `VIGIL${++this.ackCounter}`, nowWallMs, delimiters, header, errors });
    if (!decoded.ok) {
      // MSH-level problems are AR (HL7 v2.6 2.9.2: message rejected as unacceptable); body
      // problems AE. Bytes that are not a message (framing) cannot be acknowledged.
      const mshLevel = decoded.location?.segment === 'MSH' || decoded.header === null;
      return {
        kind: 'rejected',
        reason: decoded.reason,
        detail: decoded.detail,
        ack:
          decoded.reason === 'framing' || decoded.reason === 'overflow'
            ? null
            : ack(mshLevel ? 'AR' : 'AE', decoded.header?.controlId ?? '', [{ code: decoded.hl7Error, severity: 'E', location: decoded.location, text: decoded.detail }], decoded.header, decoded.delimiters),
      };
    }
    if (decoded.kind === 'ack') return { kind: 'ack', ack: decoded.ack };
    const { header, delimiters } = decoded;
    const key = `${header.sendingApplication}\u0000${header.controlId}`;
    if (this.seen.has(key)) {
      // Answered AA again (the sender resends when our ACK was lost) but not processed twice.
      const detail = 'MSH-10: control id already received from this sender: message dropped';
      return { kind: 'duplicate', controlId: header.controlId, detail, ack: ack('AA', header.controlId, [{ code: 205, severity: 'I', location: { segment: 'MSH', sequence: 1, field: 10 }, text: detail }], header, delimiters) };
    }
    const patient = this.checkPatient(decoded.patientIds);
    if (patient !== null) {
      return { kind: 'rejected', reason: 'patient-mismatch', detail: patient, ack: ack('AE', header.controlId, [{ code: 204, severity: 'E', location: { segment: 'PID', sequence: 1, field: 3 }, text: patient }], header, delimiters) };
    }
    const device = decoded.equipmentId;
    if (device !== null) {
      const verdict = this.equipment.check(device);
      if (verdict !== 'ok') {
        const configured = verdict === 'mismatch';
        const detail = configured
          ? 'OBX-18 equipment id differs from the configured equipmentId'
          : 'OBX-18 equipment id changed: values withheld until the change is confirmed';
        return {
          kind: 'rejected',
          reason: configured ? 'device-identity' : 'device-changed',
          detail,
          ack: ack('AE', header.controlId, [{ code: 204, severity: 'E', location: { segment: 'OBX', sequence: 1, field: 18 }, text: detail }], header, delimiters),
        };
      }
    }
    this.remember(key);
    const readings = decoded.obx.flatMap((o) => (o.ok ? [o.reading] : []));
    const obxRejections = decoded.obx.flatMap((o) => (o.ok ? [] : [o]));
    const warnings: AckError[] = obxRejections.map((r) => ({
      code: OBX_ERROR[r.reason],
      severity: 'W',
      location: { segment: 'OBX', sequence: r.obxSequence, field: r.field },
      text: r.detail,
    }));
    return {
      kind: 'accepted',
      header,
      readings,
      obxRejections,
      descriptors: decoded.descriptors,
      equipmentId: device,
      ack: ack('AA', header.controlId, warnings, header, delimiters),
    };
  }

  private checkPatient(ids: PatientId[] | null): string | null {
    const expected = this.settings.patientId;
    if (expected === null) return null;
    if (ids === null || ids.every((p) => p.id === '')) return 'PID-3: no patient identifier while the bed has a patient id';
    const authority = this.settings.patientIdAuthority;
    const match = ids.some((p) => p.id === expected && (authority === null || p.authority === authority));
    return match ? null : "PID-3: patient identifier is not the bed's patient";
  }

  private remember(key: string): void {
    const limit = this.settings.rememberControlIds ?? 1024;
    this.seen.add(key);
    this.seenOrder.push(key);
    while (this.seenOrder.length > limit) {
      const old = this.seenOrder.shift();
      if (old !== undefined) this.seen.delete(old);
    }
  }
}

/**
 * Splits a capture that is not MLLP framed into messages: a message starts at every line
 * that begins with "MSH" followed by a non-alphanumeric character (a field separator).
 * Lines before the first MSH are returned as `leading` (not a message).
 */
export function splitUnframed(text: string): { messages: string[]; leading: string } {
  const lines = text.split(/(?<=\r\n|\r|\n)/);
  const messages: string[] = [];
  let leading = '';
  let current: string | null = null;
  for (const line of lines) {
    if (/^MSH[^A-Za-z0-9\r\n]/.test(line)) {
      if (current !== null) messages.push(current);
      current = line;
    } else if (current === null) {
      leading += line;
    } else {
      current += line;
    }
  }
  if (current !== null) messages.push(current);
  return { messages, leading };
}
