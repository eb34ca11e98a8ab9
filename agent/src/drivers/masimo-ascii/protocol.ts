/**
 * Masimo "ASCII 1" serial output: decoder and encoder of one line.
 *
 * Pure: no I/O, no clock, no Node I/O modules. The driver (driver.ts) owns the port, the
 * bounded CR LF delimiter parser and the timing; this file turns the bytes of one line
 * (without its CR LF) into a typed frame or into a reject reason, and never throws.
 *
 * Source of truth for the line format and the bit tables: docs/interfaces/masimo-ascii.md,
 * which cites the Masimo Radical-7 serial output description and the other sources used.
 *
 * Example line (Rad-8, ASCII 1):
 *   02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800
 *
 * Rejects name the field and the rule in `detail`, never the value: readings are patient data.
 */

export type MasimoRejectReason =
  | 'framing'
  | 'malformed'
  | 'unknown-field'
  | 'duplicate-field'
  | 'missing-field'
  | 'overflow';

/**
 * Decoded EXC bits. Names follow the Masimo Radical-7 serial output description (see the
 * interface document for the table and for which bits are not confirmed by a second source).
 * 'masimo-set' (0x000800) is a status flag, not a fault: the SET algorithm runs in full mode.
 */
export type MasimoException =
  | 'no-sensor'
  | 'defective-sensor'
  | 'low-perfusion'
  | 'pulse-search'
  | 'interference'
  | 'sensor-off'
  | 'ambient-light'
  | 'unrecognized-sensor'
  | 'incompatible-sensor'
  | 'low-signal-iq'
  | 'masimo-set'
  | 'no-cable'
  | 'cable-life-expired'
  | 'incompatible-cable'
  | 'unrecognized-cable'
  | 'defective-cable'
  | 'sensor-calibrating'
  | 'sensor-life-expired'
  | 'emitter-temperature-out-of-range'
  | 'sensor-current-limit-exceeded'
  | 'spco-low-confidence'
  | 'spmet-low-confidence';

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
  spcoPercent: number | null;
  spmetPercent: number | null;
  /** null when absent (models without PVI) or dashed. */
  pviPercent: number | null;
  desat: number | null;
  piDeltaPercent: number | null;
  alarmBits: number;
  exceptionBits: number;
  exceptions: MasimoException[];
  /** EXC bits that are reserved or not in the table: kept raw, reported as "unknown bit". */
  unknownExceptionBits: number;
}

export type DecodeResult =
  | { ok: true; frame: MasimoFrame }
  | { ok: false; reason: MasimoRejectReason; detail: string };

/**
 * Maximum line length (without CR LF) that the driver's bounded delimiter parser accepts.
 * The longest Radical-7 line with every field is about 150 bytes; 256 leaves room for
 * padding without letting a missing delimiter grow a buffer.
 */
export const MASIMO_MAX_LINE_BYTES = 256;

/** Known EXC bits, in bit order. Source: Masimo Radical-7 serial output description. */
const EXCEPTION_BITS: ReadonlyArray<readonly [number, MasimoException]> = [
  [0x000001, 'no-sensor'],
  [0x000002, 'defective-sensor'],
  [0x000004, 'low-perfusion'],
  [0x000008, 'pulse-search'],
  [0x000010, 'interference'],
  [0x000020, 'sensor-off'],
  [0x000040, 'ambient-light'],
  [0x000080, 'unrecognized-sensor'],
  // 0x000100: "Incompatible Sensor" in the Radical-7 table, "reserved" in the Rad-8 trend
  // format; kept because both agree it is never set for a usable reading.
  [0x000100, 'incompatible-sensor'],
  // 0x000200: reserved in both sources, reported as an unknown bit.
  [0x000400, 'low-signal-iq'],
  [0x000800, 'masimo-set'],
  [0x001000, 'no-cable'],
  [0x002000, 'cable-life-expired'],
  [0x004000, 'incompatible-cable'],
  [0x008000, 'unrecognized-cable'],
  [0x010000, 'defective-cable'],
  [0x020000, 'sensor-calibrating'],
  [0x040000, 'sensor-life-expired'],
  [0x080000, 'emitter-temperature-out-of-range'],
  [0x100000, 'sensor-current-limit-exceeded'],
  [0x200000, 'spco-low-confidence'],
  [0x400000, 'spmet-low-confidence'],
  // 0x800000: reserved.
];

const KNOWN_EXCEPTION_MASK = EXCEPTION_BITS.reduce((mask, [bit]) => mask | bit, 0);

type FieldKey = 'SN' | 'SPO2' | 'BPM' | 'PI' | 'SPCO' | 'SPMET' | 'DESAT' | 'PIDELTA' | 'PVI' | 'ALARM' | 'EXC';

const KNOWN_KEYS: ReadonlySet<string> = new Set<FieldKey>([
  'SN', 'SPO2', 'BPM', 'PI', 'SPCO', 'SPMET', 'DESAT', 'PIDELTA', 'PVI', 'ALARM', 'EXC',
]);

const REQUIRED_KEYS: readonly FieldKey[] = ['SPO2', 'BPM', 'ALARM', 'EXC'];

/** Key syntax accepted before the known-key check; longer or odd keys are malformed. */
const KEY_SYNTAX = /^[A-Za-z][A-Za-z0-9]{0,15}$/;

/**
 * Fixed-width numeric value with an optional dash-filled "unavailable" form.
 * `intDigits`/`fracDigits` are the device's widths; `scale` = 10^fracDigits.
 */
interface NumericFormat {
  readonly syntax: RegExp;
  readonly dashed: RegExp;
  readonly fracDigits: number;
  readonly signed: boolean;
  readonly min: number;
  readonly max: number;
  readonly suffix: '%' | '';
  /** Human description of the syntax, for the reject detail. */
  readonly shape: string;
}

// Widths and ranges: Radical-7 / Rad-8 ASCII 1 lines (see the interface document). The
// ranges are the device's display ranges; the clinical plausibility limits live in validation.
const FORMATS: Readonly<Record<Exclude<FieldKey, 'SN' | 'ALARM' | 'EXC'>, NumericFormat>> = {
  SPO2: { syntax: /^(\d{3})%$/, dashed: /^---%$/, fracDigits: 0, signed: false, min: 0, max: 100, suffix: '%', shape: 'NNN% or ---%' },
  BPM: { syntax: /^(\d{3})$/, dashed: /^---$/, fracDigits: 0, signed: false, min: 0, max: 240, suffix: '', shape: 'NNN or ---' },
  PI: { syntax: /^(\d{2})\.(\d{2})%$/, dashed: /^--\.--%$/, fracDigits: 2, signed: false, min: 0, max: 20, suffix: '%', shape: 'NN.NN% or --.--%' },
  SPCO: { syntax: /^(\d{2})\.(\d)%$/, dashed: /^--\.-%$/, fracDigits: 1, signed: false, min: 0, max: 99.9, suffix: '%', shape: 'NN.N% or --.-%' },
  SPMET: { syntax: /^(\d{2})\.(\d)%$/, dashed: /^--\.-%$/, fracDigits: 1, signed: false, min: 0, max: 99.9, suffix: '%', shape: 'NN.N% or --.-%' },
  DESAT: { syntax: /^(\d{2})$/, dashed: /^--$/, fracDigits: 0, signed: false, min: 0, max: 99, suffix: '', shape: 'NN or --' },
  PIDELTA: { syntax: /^([+-])(\d{2})$/, dashed: /^[+-]?--$/, fracDigits: 0, signed: true, min: -99, max: 99, suffix: '', shape: '+NN, -NN or +--' },
  PVI: { syntax: /^(\d{3})$/, dashed: /^---$/, fracDigits: 0, signed: false, min: 0, max: 100, suffix: '', shape: 'NNN or ---' },
};

const DATE_SHAPE = /^(\d{2})\/(\d{2})\/(\d{2})$/;
const TIME_SHAPE = /^(\d{2}):(\d{2}):(\d{2})$/;
const HEX_SHAPE = /^[0-9A-Fa-f]{1,8}$/;
const SERIAL_SHAPE = /^[0-9A-Za-z]{1,20}$/;
const SERIAL_DASHED = /^-{1,20}$/;

type Reject = { ok: false; reason: MasimoRejectReason; detail: string };
type FieldResult<T> = { ok: true; value: T } | Reject;

function reject(reason: MasimoRejectReason, detail: string): Reject {
  return { ok: false, reason, detail };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function parseNumeric(key: keyof typeof FORMATS, raw: string): FieldResult<number | null> {
  const format = FORMATS[key];
  if (format.dashed.test(raw)) return { ok: true, value: null };
  const m = format.syntax.exec(raw);
  if (m === null) return reject('malformed', `${key}: expected ${format.shape}`);
  let value: number;
  if (format.signed) {
    const magnitude = Number(m[2]);
    value = m[1] === '-' ? -magnitude : magnitude;
    if (value === 0) value = 0; // "-00" is zero, not -0
  } else if (format.fracDigits > 0) {
    // Integer arithmetic, then one division: keeps the device's resolution (03.60 -> 3.6).
    const scaled = Number(`${m[1] ?? ''}${m[2] ?? ''}`);
    value = scaled / 10 ** format.fracDigits;
  } else {
    value = Number(m[1]);
  }
  if (!Number.isFinite(value) || value < format.min || value > format.max) {
    return reject('malformed', `${key}: outside ${format.min}..${format.max}`);
  }
  return { ok: true, value };
}

function parseHex(key: 'ALARM' | 'EXC', raw: string): FieldResult<number> {
  if (!HEX_SHAPE.test(raw)) return reject('malformed', `${key}: expected 1 to 8 hex digits`);
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

/** Decodes the EXC bit field into names and the bits the table does not know. */
function decodeExceptions(bits: number): { exceptions: MasimoException[]; unknownBits: number } {
  const exceptions: MasimoException[] = [];
  for (const [bit, name] of EXCEPTION_BITS) {
    if ((bits & bit) !== 0) exceptions.push(name);
  }
  // `>>> 0` keeps the result an unsigned 32-bit number (EXC may carry up to 8 hex digits).
  return { exceptions, unknownBits: (bits & ~KNOWN_EXCEPTION_MASK) >>> 0 };
}

/**
 * Decodes one ASCII 1 line, given WITHOUT its trailing CR LF. Never throws: every input gives
 * a DecodeResult. Check order: overflow, framing, then tokens left to right (first problem
 * wins), then required fields.
 */
export function decodeMasimoAscii(line: Uint8Array): DecodeResult {
  if (!(line instanceof Uint8Array)) return reject('framing', 'input is not a byte array');
  if (line.length > MASIMO_MAX_LINE_BYTES) {
    return reject('overflow', `line longer than ${MASIMO_MAX_LINE_BYTES} bytes`);
  }
  if (line.length === 0) return reject('framing', 'empty line');
  let text = '';
  for (let i = 0; i < line.length; i++) {
    const byte = line[i] ?? 0;
    // Printable ASCII only: a control byte (stray CR, NUL, noise) or a byte >= 0x80 means the
    // line was cut, merged or corrupted on the wire.
    if (byte < 0x20 || byte > 0x7e) return reject('framing', `byte at offset ${i} is not printable ASCII`);
    text += String.fromCharCode(byte);
  }

  // Fields are separated by spaces; runs of spaces and leading/trailing spaces are tolerated
  // (the Radical-7 service manual example ends with a space).
  const tokens = text.split(' ').filter((token) => token.length > 0);
  const dateToken = tokens[0];
  if (dateToken === undefined) return reject('framing', 'blank line');
  if (dateToken.includes('=')) return reject('missing-field', 'date: missing at start of line');
  const date = parseDate(dateToken);
  if (!date.ok) return date;
  const timeToken = tokens[1];
  if (timeToken === undefined || timeToken.includes('=')) return reject('missing-field', 'time: missing after date');
  const time = parseTime(timeToken);
  if (!time.ok) return time;

  const frame = emptyFrame({ ...date.value, ...time.value });
  const seen = new Set<string>();
  const fields = readFields(tokens, frame, seen);
  if (fields !== null) return fields;

  for (const key of REQUIRED_KEYS) {
    if (!seen.has(key)) return reject('missing-field', `${key}: required field missing`);
  }
  const decoded = decodeExceptions(frame.exceptionBits);
  frame.exceptions = decoded.exceptions;
  frame.unknownExceptionBits = decoded.unknownBits;
  return { ok: true, frame };
}

function emptyFrame(deviceTime: MasimoDeviceTime): MasimoFrame {
  return {
    deviceTime,
    serialNumber: null,
    spo2Percent: null,
    pulseBpm: null,
    perfusionIndexPercent: null,
    spcoPercent: null,
    spmetPercent: null,
    pviPercent: null,
    desat: null,
    piDeltaPercent: null,
    alarmBits: 0,
    exceptionBits: 0,
    exceptions: [],
    unknownExceptionBits: 0,
  };
}

/**
 * Reads the KEY=VALUE tokens after the date and time into `frame`, left to right (the first
 * problem wins); `seen` collects the keys. Returns the reject, or null when every token is valid.
 */
function readFields(tokens: readonly string[], frame: MasimoFrame, seen: Set<string>): Reject | null {
  for (let i = 2; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    const eq = token.indexOf('=');
    if (eq < 0) return reject('malformed', `token ${i + 1}: expected KEY=VALUE`);
    const key = token.slice(0, eq);
    const raw = token.slice(eq + 1);
    if (!KEY_SYNTAX.test(key)) return reject('malformed', `token ${i + 1}: key is not 1 to 16 letters or digits`);
    if (!KNOWN_KEYS.has(key)) return reject('unknown-field', unknownFieldDetail(key));
    if (seen.has(key)) return reject('duplicate-field', `${key}: appears more than once`);
    seen.add(key);
    const bad = readField(key as FieldKey, raw, frame);
    if (bad !== null) return bad;
  }
  return null;
}

function readField(fieldKey: FieldKey, raw: string, frame: MasimoFrame): Reject | null {
  switch (fieldKey) {
    case 'SN': {
      if (SERIAL_DASHED.test(raw)) frame.serialNumber = null;
      else if (SERIAL_SHAPE.test(raw)) frame.serialNumber = raw;
      else return reject('malformed', 'SN: expected 1 to 20 letters or digits, or dashes');
      return null;
    }
    case 'ALARM':
    case 'EXC': {
      const hex = parseHex(fieldKey, raw);
      if (!hex.ok) return hex;
      if (fieldKey === 'ALARM') frame.alarmBits = hex.value;
      else frame.exceptionBits = hex.value;
      return null;
    }
    default: {
      const numeric = parseNumeric(fieldKey, raw);
      if (!numeric.ok) return numeric;
      assignNumeric(frame, fieldKey, numeric.value);
      return null;
    }
  }
}

/**
 * A key is protocol vocabulary, and naming it helps diagnose a firmware change (SPHB=, EXC1=).
 * But a corrupted line can glue a reading into a key ("BPM097PI=" after a lost "=" and space),
 * so a key with two or more consecutive digits (every reading has at least two) is withheld.
 */
function unknownFieldDetail(key: string): string {
  return /\d{2}/.test(key) ? 'unknown field (name withheld: it contains digits)' : `unknown field ${key}`;
}

function assignNumeric(frame: MasimoFrame, key: keyof typeof FORMATS, value: number | null): void {
  switch (key) {
    case 'SPO2': frame.spo2Percent = value; break;
    case 'BPM': frame.pulseBpm = value; break;
    case 'PI': frame.perfusionIndexPercent = value; break;
    case 'SPCO': frame.spcoPercent = value; break;
    case 'SPMET': frame.spmetPercent = value; break;
    case 'DESAT': frame.desat = value; break;
    case 'PIDELTA': frame.piDeltaPercent = value; break;
    case 'PVI': frame.pviPercent = value; break;
  }
}

/** Thrown by the encoder (simulator and test side only) when a frame cannot be represented. */
export class MasimoEncodeError extends RangeError {
  readonly code = 'MASIMO_ENCODE_RANGE';
  constructor(readonly field: string, rule: string) {
    super(`${field}: ${rule}`);
    this.name = 'MasimoEncodeError';
  }
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function encodeNumeric(key: keyof typeof FORMATS, value: number | null, intDigits: number): string {
  const format = FORMATS[key];
  if (value === null) {
    // The dashed forms the devices send (see FORMATS).
    const dashes: Record<keyof typeof FORMATS, string> = {
      SPO2: '---%', BPM: '---', PI: '--.--%', SPCO: '--.-%', SPMET: '--.-%', DESAT: '--', PIDELTA: '+--', PVI: '---',
    };
    return `${key}=${dashes[key]}`;
  }
  if (!Number.isFinite(value)) throw new MasimoEncodeError(key, 'not a finite number');
  const scale = 10 ** format.fracDigits;
  const scaled = Math.round(value * scale);
  if (scaled / scale < format.min || scaled / scale > format.max) {
    throw new MasimoEncodeError(key, `outside ${format.min}..${format.max}`);
  }
  if (format.signed) return `${key}=${scaled < 0 ? '-' : '+'}${pad(Math.abs(scaled), intDigits)}`;
  if (format.fracDigits === 0) return `${key}=${pad(scaled, intDigits)}${format.suffix}`;
  const whole = Math.floor(scaled / scale);
  const frac = scaled - whole * scale;
  return `${key}=${pad(whole, intDigits)}.${pad(frac, format.fracDigits)}${format.suffix}`;
}

function encodeHex(key: 'ALARM' | 'EXC', value: number, width: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new MasimoEncodeError(key, 'not an unsigned 32-bit integer');
  }
  return `${key}=${value.toString(16).toUpperCase().padStart(width, '0')}`;
}

function checkDeviceTime(t: MasimoDeviceTime): void {
  const ok =
    Number.isInteger(t.year) && t.year >= 2000 && t.year <= 2099 &&
    Number.isInteger(t.month) && t.month >= 1 && t.month <= 12 &&
    Number.isInteger(t.day) && t.day >= 1 && t.day <= daysInMonth(t.year, t.month) &&
    Number.isInteger(t.hour) && t.hour >= 0 && t.hour <= 23 &&
    Number.isInteger(t.minute) && t.minute >= 0 && t.minute <= 59 &&
    Number.isInteger(t.second) && t.second >= 0 && t.second <= 59;
  if (!ok) throw new MasimoEncodeError('deviceTime', 'not a valid date and time in 2000..2099');
}

/**
 * Encodes a frame as the device sends it, WITH the trailing CR LF, fields in the Radical-7
 * order. SN is written when `includeSerial` (default: when the frame has a serial number),
 * PVI when `includePvi` (default: when the frame has a PVI value). Values are rounded to the
 * device's resolution. Throws MasimoEncodeError for a value the line cannot carry.
 */
export function encodeMasimoAscii(
  frame: MasimoFrame,
  opts: { includeSerial?: boolean; includePvi?: boolean } = {},
): Buffer {
  const t = frame.deviceTime;
  checkDeviceTime(t);
  const parts: string[] = [
    `${pad(t.month, 2)}/${pad(t.day, 2)}/${pad(t.year - 2000, 2)}`,
    `${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}`,
  ];
  const includeSerial = opts.includeSerial ?? frame.serialNumber !== null;
  if (includeSerial) {
    if (frame.serialNumber === null) parts.push('SN=----------');
    else if (SERIAL_SHAPE.test(frame.serialNumber)) parts.push(`SN=${frame.serialNumber}`);
    else throw new MasimoEncodeError('SN', 'expected 1 to 20 letters or digits');
  }
  parts.push(
    encodeNumeric('SPO2', frame.spo2Percent, 3),
    encodeNumeric('BPM', frame.pulseBpm, 3),
    encodeNumeric('PI', frame.perfusionIndexPercent, 2),
    encodeNumeric('SPCO', frame.spcoPercent, 2),
    encodeNumeric('SPMET', frame.spmetPercent, 2),
    encodeNumeric('DESAT', frame.desat, 2),
    encodeNumeric('PIDELTA', frame.piDeltaPercent, 2),
  );
  if (opts.includePvi ?? frame.pviPercent !== null) parts.push(encodeNumeric('PVI', frame.pviPercent, 3));
  parts.push(encodeHex('ALARM', frame.alarmBits, 4), encodeHex('EXC', frame.exceptionBits, 6));
  return Buffer.from(`${parts.join(' ')}\r\n`, 'ascii');
}
