/**
 * The HL7 v2 message structure, as any HL7 v2 message has it: the delimiters a message declares
 * in MSH-1/MSH-2 (never assumed), segments, fields, repetitions, components and subcomponents,
 * and the escape sequences. Nothing here knows PCD-01 (pcd01.ts reads the message this gives).
 *
 * Pure: no I/O, no clock; nothing here throws on any input.
 *
 * Source of truth: HL7 v2.6 chapter 2 (Control): message delimiters (2.5.4), escape sequences
 * in text fields (2.7), error codes of ERR-3 (table 0357) for the problems found here.
 */

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

/**
 * Why a message's bytes are not an HL7 v2 message Vigil reads (counted as frames-rejected.<reason>):
 *  - framing: control bytes that never occur in a message (line noise, a merged block);
 *  - malformed: anything else that breaks the syntax (MSH-1/MSH-2, segment names, encoding);
 *  - decode-limit: more segments or repetitions than a monitor sends (HL7_MAX_SEGMENTS,
 *    HL7_MAX_REPETITIONS), refused before any field is split.
 */
export type Hl7SyntaxRejectReason = 'framing' | 'malformed' | 'decode-limit';

/**
 * Most segments in one message (OBX rows and every other segment). The decode time of a message
 * grows with its rows (about 25 us per OBX row on a PC, several times that on a Raspberry Pi 4):
 * within the 256 KiB byte bound (framing/mllp.ts) a message of 65,000 minimal rows took 0.5 s
 * to decode here, and 2,400 OBX rows about 100 ms (issue 14), a stall of every device on the
 * gateway. What a monitor sends: the largest public PCD-01 example, a Philips physiological
 * monitor (IHE PCD TF-2 Rev 5.0 appendix E.1.1), has 21 segments with 17 OBX; the GE B40 HL7
 * interface guide (2062665-001 rev G) sends an MDS row, a header row per VMD and channel and one
 * row per metric, tens of rows; a fully equipped monitor (12-lead ST, four invasive pressures,
 * gases) with every header stays below a few hundred. 512 leaves that room twice over and bounds
 * the decode to about 15 ms here.
 */
export const HL7_MAX_SEGMENTS = 512;

/**
 * Most repetition separators (MSH-2's second character) in one message. A field's repetitions
 * are each split and unescaped (PID-3, MSH-21, OBX-8): 128,000 repetitions of PID-3 within
 * 256 KiB took 170 ms to decode here. The public PCD-01 examples carry at most 4 (one in MSH-2);
 * 1,024 is two per segment at the segment bound.
 */
export const HL7_MAX_REPETITIONS = 1024;

export type Hl7ParseResult =
  | { ok: true; message: Hl7Message }
  | { ok: false; reason: Hl7SyntaxRejectReason; detail: string; hl7Error: number; location: Hl7Location | null; delimiters: Hl7Delimiters | null };

/**
 * A syntax error found past the tokenizer (in a segment's fields): the message is rejected
 * whole as malformed, with the HL7 table 0357 error code and location for the ERR segment.
 */
export interface Hl7SyntaxError {
  ok: false;
  detail: string;
  hl7Error: number;
  location: Hl7Location | null;
}

const SEGMENT_NAME = /^[A-Z][A-Z0-9]{2}$/;
const ALNUM = /^[A-Za-z0-9]$/;

/** Reads a message's bytes as text in its declared character set (MSH-18). */
function decodeText(bytes: Uint8Array): { ok: true; text: string; charset: Hl7Charset } | { ok: false; reason: Hl7SyntaxRejectReason; detail: string } {
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
  const overLimit = decodeLimit(text, lines, delimiters.repetition);
  if (overLimit !== null) return { ok: false, reason: 'decode-limit', detail: overLimit, hl7Error: 207, location: null, delimiters };
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

/**
 * Why a message is beyond what Vigil decodes (HL7_MAX_SEGMENTS, HL7_MAX_REPETITIONS), or null.
 * One pass over the text, before any field is split: the refusal costs less than the decode.
 */
export function decodeLimit(text: string, lines: readonly string[], repetition: string): string | null {
  let segments = 0;
  for (const line of lines) if (line.length > 0) segments++;
  if (segments > HL7_MAX_SEGMENTS) return `${segments} segments: more than the ${HL7_MAX_SEGMENTS} a monitor's message holds (HL7_MAX_SEGMENTS)`;
  let repetitions = 0;
  for (let at = text.indexOf(repetition); at >= 0; at = text.indexOf(repetition, at + 1)) {
    if (++repetitions > HL7_MAX_REPETITIONS) return `more than ${HL7_MAX_REPETITIONS} repetition separators: more than a monitor's message holds (HL7_MAX_REPETITIONS)`;
  }
  return null;
}

/** A raw field of a segment ('' when absent). */
export function rawField(segment: Hl7Segment, n: number): string {
  return segment.fields[n] ?? '';
}

/** Splits raw text on a delimiter; an empty text is one empty element. */
function split(raw: string, by: string): string[] {
  return raw.split(by);
}

/** The n-th (0-based) part of `raw` split on `by` ('' when absent), without building the array (hot path). */
export function nth(raw: string, by: string, n: number): string {
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
