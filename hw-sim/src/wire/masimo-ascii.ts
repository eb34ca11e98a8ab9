/**
 * The Masimo "ASCII 1" line as the oximeter writes it, the device side of the interface.
 *
 * Written from docs/interfaces/masimo-ascii.md ("Line format", "Data contract", "Variants"),
 * never from the agent's decoder: hw-sim imports nothing from the agent, so that a
 * misunderstanding of the wire format cannot be shared by both sides (STYLE.md, "Checked
 * against the world"). The golden test (test/unit/golden-wire.test.ts) checks this encoder
 * against the document's own wire examples, byte for byte.
 *
 * Pure: no I/O, no clock. Throws MasimoLineError (naming the field) for a value the line
 * cannot carry, as a device would never print one.
 */

/** Device-local clock as printed (no zone; docs "Line format": MM/DD/YY HH:MM:SS, YY -> 2000 + YY). */
export interface DeviceTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * The keys of the data-contract table, and those the "Variants" table lists for the colour
 * Radical-7 (SPHB, SPOC, RESVD, EXC1): the emulator prints every model the document describes,
 * also one the agent does not read yet (the agent's answer to it is then tested too).
 */
export const FIELD_KEYS = ['SN', 'SPO2', 'BPM', 'PI', 'SPCO', 'SPMET', 'SPHB', 'SPOC', 'RESVD', 'DESAT', 'PIDELTA', 'PVI', 'ALARM', 'EXC', 'EXC1'] as const;
export type FieldKey = (typeof FIELD_KEYS)[number];

export function isFieldKey(key: string): key is FieldKey {
  return (FIELD_KEYS as readonly string[]).includes(key);
}

/**
 * A field's value: a number (the reading, or the bit field of ALARM, EXC and EXC1), a string
 * (SN), null for the device's usual "dashed" form (docs "Data contract": unavailable, digits
 * replaced by `-`, punctuation kept), or `{ dashed }` for another dashed form a model prints
 * (a Rad-8 without sensor prints `BPM=---%`): dashes carry no value, only the device's habit.
 */
export type FieldValue = number | string | null | { readonly dashed: string };

/** One line: the clock, then the fields in the order printed. */
export interface MasimoLine {
  deviceTime: DeviceTime;
  fields: ReadonlyArray<readonly [FieldKey, FieldValue]>;
  /** The line ends with one space before its CR LF (the Radical-7 service manual's example). */
  trailingSpace?: boolean;
}

/**
 * Models of the document's "Variants" table, as far as they change how a field is printed:
 * the hex widths ("ALARM 4 on Radical-7, 2 on Radical-5; EXC 6 on Radical-7, 3 on Radical-5";
 * the Rad-8 example prints 4 and 6; the colour Radical-7 "a 7-digit EXC", its ALARM 6 and EXC1
 * 8 digits in its capture) and the colour Radical-7's own forms (PI without `%`, `SPCO=--%`).
 */
export const MODELS = ['Radical-7', 'Rad-8', 'Radical-5', 'Radical-7 colour'] as const;
export type MasimoModel = (typeof MODELS)[number];

const HEX_DIGITS: Readonly<Record<MasimoModel, { ALARM: number; EXC: number; EXC1: number }>> = {
  'Radical-7': { ALARM: 4, EXC: 6, EXC1: 8 },
  'Rad-8': { ALARM: 4, EXC: 6, EXC1: 8 },
  'Radical-5': { ALARM: 2, EXC: 3, EXC1: 8 },
  'Radical-7 colour': { ALARM: 6, EXC: 7, EXC1: 8 },
};

/** Wire format of a numeric field (docs "Data contract": wire format, resolution, range, dashed). */
interface NumericFormat {
  intDigits: number;
  fracDigits: number;
  signed: boolean;
  suffix: '%' | '';
  min: number;
  max: number;
  dashed: string;
}

type NumericKey = Exclude<FieldKey, 'SN' | 'RESVD' | 'ALARM' | 'EXC' | 'EXC1'>;

const NUMERIC: Readonly<Record<NumericKey, NumericFormat>> = {
  SPO2: { intDigits: 3, fracDigits: 0, signed: false, suffix: '%', min: 0, max: 100, dashed: '---%' },
  BPM: { intDigits: 3, fracDigits: 0, signed: false, suffix: '', min: 0, max: 240, dashed: '---' },
  PI: { intDigits: 2, fracDigits: 2, signed: false, suffix: '%', min: 0, max: 20, dashed: '--.--%' },
  SPCO: { intDigits: 2, fracDigits: 1, signed: false, suffix: '%', min: 0, max: 99.9, dashed: '--.-%' },
  SPMET: { intDigits: 2, fracDigits: 1, signed: false, suffix: '%', min: 0, max: 99.9, dashed: '--.-%' },
  DESAT: { intDigits: 2, fracDigits: 0, signed: false, suffix: '', min: 0, max: 99, dashed: '--' },
  // "+NN or -NN", dashed "+--" (the form the devices print; the decoder also accepts others).
  PIDELTA: { intDigits: 2, fracDigits: 0, signed: true, suffix: '', min: -99, max: 99, dashed: '+--' },
  // "NNN (no % sign)".
  PVI: { intDigits: 3, fracDigits: 0, signed: false, suffix: '', min: 0, max: 100, dashed: '---' },
  // Colour Radical-7 only, printed without a unit sign: SPHB `--.-` (g/dL, 0.1), SPOC `--` (mL/dL).
  SPHB: { intDigits: 2, fracDigits: 1, signed: false, suffix: '', min: 0, max: 99.9, dashed: '--.-' },
  SPOC: { intDigits: 2, fracDigits: 0, signed: false, suffix: '', min: 0, max: 99, dashed: '--' },
};

/** The colour Radical-7's forms that differ from the table: PI without `%`, SPCO in whole percent. */
const COLOUR_FORMS: Partial<Record<NumericKey, NumericFormat>> = {
  PI: { ...NUMERIC.PI, suffix: '', dashed: '--.--' },
  SPCO: { intDigits: 2, fracDigits: 0, signed: false, suffix: '%', min: 0, max: 99, dashed: '--%' },
};

/** RESVD (colour Radical-7, "reserved"): only its dashed form `---` has been seen. */
const RESVD_DASHED = '---';

/** "at most 256 bytes before CR LF" (docs "Line format"). */
export const MAX_LINE_BYTES = 256;

/** SN: "1-20 letters or digits (10 digits seen)"; dashed "- x 1-20" (10 dashes, as the Radical-7 prints). */
const SERIAL = /^[0-9A-Za-z]{1,20}$/;
const SERIAL_DASHED = '----------';

/** A value the device cannot print. */
export class MasimoLineError extends RangeError {
  readonly code = 'MASIMO_LINE_RANGE';
  constructor(readonly field: string, rule: string) {
    super(`${field}: ${rule}`);
    this.name = 'MasimoLineError';
  }
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function formatClock(t: DeviceTime): [string, string] {
  const valid =
    [t.year, t.month, t.day, t.hour, t.minute, t.second].every(Number.isInteger) &&
    t.year >= 2000 && t.year <= 2099 && t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= daysInMonth(t.year, t.month) &&
    t.hour >= 0 && t.hour <= 23 && t.minute >= 0 && t.minute <= 59 && t.second >= 0 && t.second <= 59;
  if (!valid) throw new MasimoLineError('deviceTime', 'not a calendar date and time in 2000..2099');
  return [`${pad(t.month, 2)}/${pad(t.day, 2)}/${pad(t.year - 2000, 2)}`, `${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}`];
}

function isDashed(value: FieldValue): value is { dashed: string } {
  return typeof value === 'object' && value !== null;
}

function formatNumeric(key: NumericKey, value: FieldValue, model: MasimoModel): string {
  const f = (model === 'Radical-7 colour' ? COLOUR_FORMS[key] : undefined) ?? NUMERIC[key];
  if (value === null) return f.dashed;
  if (isDashed(value)) return value.dashed;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new MasimoLineError(key, 'not a number');
  // Integer arithmetic at the device's resolution: 3.6 -> 360 hundredths -> "03.60".
  const scale = 10 ** f.fracDigits;
  const scaled = Math.round(value * scale);
  if (scaled < f.min * scale || scaled > f.max * scale) throw new MasimoLineError(key, `outside ${f.min}..${f.max}`);
  const magnitude = Math.abs(scaled);
  const whole = Math.floor(magnitude / scale);
  const digits = f.fracDigits === 0 ? pad(whole, f.intDigits) : `${pad(whole, f.intDigits)}.${pad(magnitude - whole * scale, f.fracDigits)}`;
  const sign = f.signed ? (scaled < 0 ? '-' : '+') : '';
  return `${sign}${digits}${f.suffix}`;
}

function formatHex(key: 'ALARM' | 'EXC' | 'EXC1', value: FieldValue, model: MasimoModel): string {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new MasimoLineError(key, 'not an unsigned 32-bit bit field');
  }
  // "1-8 hex digits", upper case as every example prints them, zero-padded to the model's width.
  return value.toString(16).toUpperCase().padStart(HEX_DIGITS[model][key], '0');
}

function formatField(key: FieldKey, value: FieldValue, model: MasimoModel): string {
  switch (key) {
    case 'SN':
      if (value === null) return SERIAL_DASHED;
      if (isDashed(value)) return value.dashed;
      if (typeof value !== 'string' || !SERIAL.test(value)) throw new MasimoLineError('SN', 'not 1 to 20 letters or digits');
      return value;
    case 'RESVD':
      if (value === null) return RESVD_DASHED;
      if (isDashed(value)) return value.dashed;
      throw new MasimoLineError('RESVD', 'only its dashed form is known');
    case 'ALARM':
    case 'EXC':
    case 'EXC1':
      return formatHex(key, value, model);
    default:
      return formatNumeric(key, value, model);
  }
}

/**
 * The line as the device writes it: date, time, then `KEY=VALUE` per field in the given order,
 * one space apart, ending in CR LF (docs "Line format"). At most 256 bytes before the CR LF.
 */
export function encodeMasimoLine(line: MasimoLine, model: MasimoModel = 'Radical-7'): Buffer {
  const parts = [...formatClock(line.deviceTime)];
  const seen = new Set<FieldKey>();
  for (const [key, value] of line.fields) {
    if (seen.has(key)) throw new MasimoLineError(key, 'appears more than once');
    seen.add(key);
    parts.push(`${key}=${formatField(key, value, model)}`);
  }
  for (const [key, value] of line.fields) {
    if (isDashed(value) && !/^[-+.%]*-[-+.%]*$/.test(value.dashed)) throw new MasimoLineError(key, 'a dashed form holds only dashes and punctuation');
  }
  const text = `${parts.join(' ')}${line.trailingSpace === true ? ' ' : ''}`;
  if (text.length > MAX_LINE_BYTES) throw new MasimoLineError('line', `longer than ${MAX_LINE_BYTES} bytes`);
  return Buffer.from(`${text}\r\n`, 'ascii');
}

/** The values a Radical-7-order line carries (hw-sim's device builds these). */
export interface MasimoReading {
  serialNumber: string | null;
  spo2Percent: number | null;
  pulseBpm: number | null;
  perfusionIndexPercent: number | null;
  spcoPercent: number | null;
  spmetPercent: number | null;
  desat: number | null;
  piDeltaPercent: number | null;
  pviPercent: number | null;
  alarmBits: number;
  exceptionBits: number;
}

/**
 * The fields in Radical-7 order (docs "Line format": "Field order is Radical-7 order on every
 * device seen"): SN only on models that print it, PVI only on the Radical-7.
 */
export function radical7Fields(r: MasimoReading, opts: { includeSerial: boolean; includePvi: boolean }): Array<[FieldKey, FieldValue]> {
  const fields: Array<[FieldKey, FieldValue]> = [];
  if (opts.includeSerial) fields.push(['SN', r.serialNumber]);
  fields.push(
    ['SPO2', r.spo2Percent],
    ['BPM', r.pulseBpm],
    ['PI', r.perfusionIndexPercent],
    ['SPCO', r.spcoPercent],
    ['SPMET', r.spmetPercent],
    ['DESAT', r.desat],
    ['PIDELTA', r.piDeltaPercent],
  );
  if (opts.includePvi) fields.push(['PVI', r.pviPercent]);
  fields.push(['ALARM', r.alarmBits], ['EXC', r.exceptionBits]);
  return fields;
}
