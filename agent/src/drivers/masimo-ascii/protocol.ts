/**
 * Masimo "ASCII 1" serial output: decoder of one line (the encoder is in encode.ts).
 *
 * Pure: no I/O, no clock, no Node I/O modules. The driver (driver.ts) owns the port, the
 * bounded CR LF delimiter parser and the timing; this file turns the bytes of one line
 * (without its CR LF) into a typed frame or into a reject reason, and never throws.
 *
 * Source of truth for the line format, its variants and the bit tables:
 * docs/interfaces/masimo-ascii.md; the field vocabulary with its sources is fields.ts.
 *
 * Example lines (ASCII 1):
 *   Rad-8:              02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800
 *   Radical-7 colour:   03/17/16 19:19:36 SN=---------- SPO2=098% BPM=123 PI=00.55 SPCO=--% SPMET=--.-% SPHB=--.- SPOC=-- RESVD=--- DESAT=-- PIDELTA=+-- PVI=--- ALARM=000000 EXC=0000C00 EXC1=00000000
 *
 * The line is read in two passes: first every key (a key outside the vocabulary means another
 * model or firmware: `unsupported-variant`, naming the first such key), then every value. So a
 * value printed in the form of a variant Vigil does not know is never blamed on its field.
 * Rejects name the field and the rule in `detail`, never the value: readings are patient data.
 * A decoded line also says which model it was recognised as (recogniseMasimoModel): the ALARM
 * bits are read by a per-model table (alarm-bits.ts).
 */
import {
  daysInMonth,
  decodeExceptions,
  formSyntax,
  HEX_VALUE,
  MASIMO_KEYS,
  NUMERIC_FIELDS,
  REQUIRED_KEYS,
  RESERVED_VALUE,
  SERIAL_UNAVAILABLE,
  SERIAL_VALUE,
  UNAVAILABLE,
} from './fields';
import type { HexKey, MasimoException, MasimoKey, NumericForm, NumericKey } from './fields';

export type { MasimoException, MasimoKey } from './fields';
export { encodeMasimoAscii, MasimoEncodeError } from './encode';
export type { MasimoEncodeOptions, MasimoLayout } from './encode';

export type MasimoRejectReason =
  | 'framing'
  | 'malformed'
  | 'unsupported-variant'
  | 'duplicate-field'
  | 'missing-field'
  | 'overflow';

export interface MasimoDeviceTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export interface MasimoFrame {
  /** Device-local clock as sent (no zone); the two-digit year is read as 2000 + yy. */
  deviceTime: MasimoDeviceTime;
  serialNumber: string | null;
  /** null = unavailable (dash-filled) or absent. */
  spo2Percent: number | null;
  pulseBpm: number | null;
  perfusionIndexPercent: number | null;
  /** SpCO, carboxyhaemoglobin (Rainbow). */
  spcoPercent: number | null;
  /** SpMet, methaemoglobin (Rainbow). */
  spmetPercent: number | null;
  /** SpHb, total haemoglobin (Rainbow), as printed: g/dL (see "SPHB unit" in the interface document). */
  spHbGramsPerDl: number | null;
  /** SpOC, oxygen content (Rainbow), mL/dL. */
  spOcMlPerDl: number | null;
  /** null when absent (models without PVI) or dashed. */
  pviPercent: number | null;
  desat: number | null;
  piDeltaPercent: number | null;
  alarmBits: number;
  exceptionBits: number;
  exceptions: MasimoException[];
  /** EXC bits that are reserved or not in the table: kept raw, reported as "unknown bit". */
  unknownExceptionBits: number;
  /** EXC1 (Radical-7 colour): no source documents its bits, so every set bit is unknown. null when absent. */
  exception1Bits: number | null;
  /** NUL bytes before the date: real Radical-7 output has them; tolerated, and counted by the driver. */
  leadingNulBytes: number;
}

/**
 * The model a line was recognised as, from the keys it carries (docs/interfaces/masimo-ascii.md,
 * "Variants"; the line has no other model identification). `unknown`: a set of known keys that
 * matches no row of the table (a model or firmware not seen yet).
 */
export type MasimoModel = 'Rad-8' | 'Radical-7' | 'Radical-5' | 'Radical-7 colour' | 'unknown';

export type DecodeResult =
  | { ok: true; frame: MasimoFrame; model: MasimoModel }
  | { ok: false; reason: MasimoRejectReason; detail: string };

/**
 * Maximum line length (without CR LF) that the driver's bounded delimiter parser accepts.
 * The longest line seen, the Radical-7 colour with every field, is 175 bytes; 256 leaves room
 * for padding without letting a missing delimiter grow a buffer.
 */
export const MASIMO_MAX_LINE_BYTES = 256;

/** Key syntax accepted before the vocabulary check; longer or odd keys are malformed. */
const KEY_SYNTAX = /^[A-Za-z][A-Za-z0-9]{0,15}$/;

const DATE_SHAPE = /^(\d{2})\/(\d{2})\/(\d{2})$/;
const TIME_SHAPE = /^(\d{2}):(\d{2}):(\d{2})$/;

/** Each numeric field's forms with their compiled syntax. */
const SYNTAX: ReadonlyMap<NumericKey, ReadonlyArray<{ form: NumericForm; re: RegExp }>> = new Map(
  (Object.keys(NUMERIC_FIELDS) as NumericKey[]).map((key) => [
    key,
    NUMERIC_FIELDS[key].forms.map((form) => ({ form, re: formSyntax(form) })),
  ]),
);

type Reject = { ok: false; reason: MasimoRejectReason; detail: string };
type FieldResult<T> = { ok: true; value: T } | Reject;
type Field = { key: MasimoKey; raw: string };

function reject(reason: MasimoRejectReason, detail: string): Reject {
  return { ok: false, reason, detail };
}

function parseNumeric(key: NumericKey, raw: string): FieldResult<number | null> {
  if (UNAVAILABLE.test(raw)) return { ok: true, value: null };
  const field = NUMERIC_FIELDS[key];
  for (const { form, re } of SYNTAX.get(key) ?? []) {
    const m = re.exec(raw);
    if (m === null) continue;
    // Integer arithmetic, then one division: keeps the device's resolution (03.60 -> 3.6).
    const scaled = Number(`${m[2] ?? ''}${m[3] ?? ''}`);
    let value = scaled / 10 ** form.fracDigits;
    if (m[1] === '-') value = scaled === 0 ? 0 : -value; // "-00" is zero, not -0
    if (!Number.isFinite(value) || value < field.min || value > field.max) {
      return reject('malformed', `${key}: outside ${field.min}..${field.max}`);
    }
    return { ok: true, value };
  }
  return reject('malformed', `${key}: expected ${field.shape}`);
}

function parseHex(key: HexKey, raw: string): FieldResult<number> {
  if (!HEX_VALUE.test(raw)) return reject('malformed', `${key}: expected 1 to 8 hex digits`);
  return { ok: true, value: Number.parseInt(raw, 16) };
}

function parseDate(token: string): FieldResult<{ year: number; month: number; day: number }> {
  const m = DATE_SHAPE.exec(token);
  if (m === null) return reject('malformed', 'date: expected MM/DD/YY');
  const month = Number(m[1]);
  const day = Number(m[2]);
  const year = 2000 + Number(m[3]);
  if (month < 1 || month > 12) return reject('malformed', 'date: month outside 1..12');
  if (day < 1 || day > daysInMonth(year, month)) return reject('malformed', 'date: day outside the month');
  return { ok: true, value: { year, month, day } };
}

function parseTime(token: string): FieldResult<{ hour: number; minute: number; second: number }> {
  const m = TIME_SHAPE.exec(token);
  if (m === null) return reject('malformed', 'time: expected HH:MM:SS');
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  const second = Number(m[3]);
  if (hour > 23) return reject('malformed', 'time: hour outside 0..23');
  if (minute > 59) return reject('malformed', 'time: minute outside 0..59');
  if (second > 59) return reject('malformed', 'time: second outside 0..59');
  return { ok: true, value: { hour, minute, second } };
}

/**
 * The line's text after its leading NUL bytes, or a framing reject. Printable ASCII only: any
 * other control byte (stray CR, a NUL after the start, noise) or a byte >= 0x80 means the line
 * was cut, merged or corrupted on the wire.
 */
function lineText(line: Uint8Array): FieldResult<{ text: string; leadingNulBytes: number }> {
  let start = 0;
  while (start < line.length && line[start] === 0) start++;
  if (start === line.length) return reject('framing', 'empty line');
  let text = '';
  for (let i = start; i < line.length; i++) {
    const byte = line[i] ?? 0;
    if (byte < 0x20 || byte > 0x7e) return reject('framing', `byte at offset ${i} is not printable ASCII`);
    text += String.fromCharCode(byte);
  }
  return { ok: true, value: { text, leadingNulBytes: start } };
}

/**
 * Decodes one ASCII 1 line, given WITHOUT its trailing CR LF. Never throws: every input gives
 * a DecodeResult. Check order: overflow, framing, date and time, the keys left to right, the
 * values left to right (the first problem wins), then the required fields.
 */
export function decodeMasimoAscii(line: Uint8Array): DecodeResult {
  if (!(line instanceof Uint8Array)) return reject('framing', 'input is not a byte array');
  if (line.length > MASIMO_MAX_LINE_BYTES) {
    return reject('overflow', `line longer than ${MASIMO_MAX_LINE_BYTES} bytes`);
  }
  const text = lineText(line);
  if (!text.ok) return text;

  // Fields are separated by spaces; runs of spaces and leading/trailing spaces are tolerated
  // (the Radical-7 service manual example ends with a space).
  const tokens = text.value.text.split(' ').filter((token) => token.length > 0);
  const dateToken = tokens[0];
  if (dateToken === undefined) return reject('framing', 'blank line');
  if (dateToken.includes('=')) return reject('missing-field', 'date: missing at start of line');
  const date = parseDate(dateToken);
  if (!date.ok) return date;
  const timeToken = tokens[1];
  if (timeToken === undefined || timeToken.includes('=')) return reject('missing-field', 'time: missing after date');
  const time = parseTime(timeToken);
  if (!time.ok) return time;

  const fields = readKeys(tokens);
  if (!fields.ok) return fields;
  const frame = emptyFrame({ ...date.value, ...time.value }, text.value.leadingNulBytes);
  for (const { key, raw } of fields.value) {
    const bad = readField(key, raw, frame);
    if (bad !== null) return bad;
  }
  const seen = new Set(fields.value.map((f) => f.key));
  for (const key of REQUIRED_KEYS) {
    if (!seen.has(key)) return reject('missing-field', `${key}: required field missing`);
  }
  const decoded = decodeExceptions(frame.exceptionBits);
  frame.exceptions = decoded.exceptions;
  frame.unknownExceptionBits = decoded.unknownBits;
  return { ok: true, frame, model: recogniseMasimoModel(seen) };
}

/**
 * The model of a line from the keys it carries, by the Variants table of the interface
 * document: a key only the colour Radical-7 prints (SPHB, SPOC, RESVD, EXC1, S5), then PVI (the
 * "blue" Radical-7, S1, S4), then SN or a Rad-8-only key (Rad-8, S4, S6: its sensor-off line
 * keeps SN, DESAT and PIDELTA), then the Radical-5's bare set (S1). The Rad-97 prints no line
 * anyone published (S9): it would be recognised as whichever model its keys match.
 */
export function recogniseMasimoModel(keys: ReadonlySet<string>): MasimoModel {
  if (keys.has('EXC1') || keys.has('SPHB') || keys.has('SPOC') || keys.has('RESVD')) return 'Radical-7 colour';
  if (keys.has('PVI')) return 'Radical-7';
  if (keys.has('SN') || keys.has('SPCO') || keys.has('SPMET') || keys.has('DESAT') || keys.has('PIDELTA')) return 'Rad-8';
  const radical5 = ['SPO2', 'BPM', 'PI', 'ALARM', 'EXC'];
  return [...keys].every((k) => radical5.includes(k)) ? 'Radical-5' : 'unknown';
}

function emptyFrame(deviceTime: MasimoDeviceTime, leadingNulBytes: number): MasimoFrame {
  return {
    deviceTime,
    serialNumber: null,
    spo2Percent: null,
    pulseBpm: null,
    perfusionIndexPercent: null,
    spcoPercent: null,
    spmetPercent: null,
    spHbGramsPerDl: null,
    spOcMlPerDl: null,
    pviPercent: null,
    desat: null,
    piDeltaPercent: null,
    alarmBits: 0,
    exceptionBits: 0,
    exceptions: [],
    unknownExceptionBits: 0,
    exception1Bits: null,
    leadingNulBytes,
  };
}

/**
 * First pass: the KEY=VALUE tokens after the date and time, left to right (the first problem
 * wins). A key outside the vocabulary is another variant; a key holding two or more
 * consecutive digits is a reading glued into a key by a lost `=` and space (`BPM097PI=`): a
 * damaged line, not a variant, and its name is not shown.
 */
function readKeys(tokens: readonly string[]): FieldResult<Field[]> {
  const fields: Field[] = [];
  const seen = new Set<string>();
  for (let i = 2; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    const eq = token.indexOf('=');
    if (eq < 0) return reject('malformed', `token ${i + 1}: expected KEY=VALUE`);
    const key = token.slice(0, eq);
    if (!KEY_SYNTAX.test(key)) return reject('malformed', `token ${i + 1}: key is not 1 to 16 letters or digits`);
    if (/\d{2}/.test(key)) return reject('malformed', `token ${i + 1}: key holds a run of digits (a damaged line)`);
    if (!MASIMO_KEYS.has(key)) return reject('unsupported-variant', `unknown field ${key}`);
    if (seen.has(key)) return reject('duplicate-field', `${key}: appears more than once`);
    seen.add(key);
    fields.push({ key: key as MasimoKey, raw: token.slice(eq + 1) });
  }
  return { ok: true, value: fields };
}

/** Second pass: one value into `frame`; the reject names the field, or null. */
function readField(key: MasimoKey, raw: string, frame: MasimoFrame): Reject | null {
  switch (key) {
    case 'SN':
      if (SERIAL_UNAVAILABLE.test(raw)) frame.serialNumber = null;
      else if (SERIAL_VALUE.test(raw)) frame.serialNumber = raw;
      else return reject('malformed', 'SN: expected 1 to 20 letters or digits, or dashes');
      return null;
    case 'RESVD':
      return RESERVED_VALUE.test(raw) ? null : reject('malformed', 'RESVD: expected 1 to 8 digits, dashes, signs, points or %');
    case 'ALARM':
    case 'EXC':
    case 'EXC1': {
      const hex = parseHex(key, raw);
      if (!hex.ok) return hex;
      if (key === 'ALARM') frame.alarmBits = hex.value;
      else if (key === 'EXC') frame.exceptionBits = hex.value;
      else frame.exception1Bits = hex.value;
      return null;
    }
    default: {
      const numeric = parseNumeric(key, raw);
      if (!numeric.ok) return numeric;
      assignNumeric(frame, key, numeric.value);
      return null;
    }
  }
}

function assignNumeric(frame: MasimoFrame, key: NumericKey, value: number | null): void {
  switch (key) {
    case 'SPO2': frame.spo2Percent = value; break;
    case 'BPM': frame.pulseBpm = value; break;
    case 'PI': frame.perfusionIndexPercent = value; break;
    case 'SPCO': frame.spcoPercent = value; break;
    case 'SPMET': frame.spmetPercent = value; break;
    case 'SPHB': frame.spHbGramsPerDl = value; break;
    case 'SPOC': frame.spOcMlPerDl = value; break;
    case 'DESAT': frame.desat = value; break;
    case 'PIDELTA': frame.piDeltaPercent = value; break;
    case 'PVI': frame.pviPercent = value; break;
  }
}
