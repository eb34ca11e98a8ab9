/**
 * The vocabulary of the Masimo "ASCII 1" line: every key any known model or firmware prints,
 * the forms its value takes on each of them, and the EXC bit table. Pure data, no I/O.
 *
 * Sources (full references in docs/interfaces/masimo-ascii.md, "Sources"):
 *   S1  MD PnP / OpenICE `mdpnp/mdpnp` other/pox_rad/src/poxrad_discrete.h (Radical-5/-7 fields,
 *       example lines, EXC and ALARM bit tables)
 *   S2  Masimo Rad-8 Operator's Manual, section 4, "Trend data format" (EXC bits 0x001-0x800)
 *   S4  Rad-8 lines published by users (`yahnatan/pulseox` README, 2016; a Java `AsixReader`
 *       comment, 2018; `k-cross/pulse_ox` masimo.ex, 2020) and the Radical-7 service manual
 *       example quoted in `nmenon/masimo-datacapture` (the "blue" Radical-7, 2007)
 *   S5  Radical-7 colour line, `nmenon/masimo-datacapture` masimo-capture.py (2016-03-17),
 *       committed as test/fixtures/real/masimo-radical-7/; the RAD7 parser of
 *       `Iukekini/Baby-Monitor-Masimo-Pulse-Oximeter` (PR #2, 2016: 17 tokens, leading NULs)
 *   S6  Rad-8 sensor-off line `... SPO2=---% BPM=---% DESAT=-- ...` (no PI, SPCO, SPMET) in
 *       `nmenon/masimo-datacapture` masimo-capture.py (2016-03-19)
 *   S7  Masimo Radical-7 Operator's Manual: SpOC (ml/dL) = 1.31 x SpHb (g/dL) x SpO2 + 0.3;
 *       SpHb limits 1.0-24.5 g/dL (or mmol/L), precision 0.1 / 0.5 / 1.0
 */

/** Every key of the known variants (S1, S4, S5). A key outside this set means another variant. */
export type MasimoKey =
  | 'SN'
  | 'SPO2'
  | 'BPM'
  | 'PI'
  | 'SPCO'
  | 'SPMET'
  | 'SPHB'
  | 'SPOC'
  | 'RESVD'
  | 'DESAT'
  | 'PIDELTA'
  | 'PVI'
  | 'ALARM'
  | 'EXC'
  | 'EXC1';

export type NumericKey = 'SPO2' | 'BPM' | 'PI' | 'SPCO' | 'SPMET' | 'SPHB' | 'SPOC' | 'DESAT' | 'PIDELTA' | 'PVI';
export type HexKey = 'ALARM' | 'EXC' | 'EXC1';

export const MASIMO_KEYS: ReadonlySet<string> = new Set<MasimoKey>([
  'SN', 'SPO2', 'BPM', 'PI', 'SPCO', 'SPMET', 'SPHB', 'SPOC', 'RESVD', 'DESAT', 'PIDELTA', 'PVI', 'ALARM', 'EXC', 'EXC1',
]);

/** Present on every line of every known variant. */
export const REQUIRED_KEYS: readonly MasimoKey[] = ['SPO2', 'BPM', 'ALARM', 'EXC'];

/**
 * One printed form of a number: the device fills every digit (leading zeros), so the widths are
 * exact; `PI=3.6%` is no form of any variant.
 */
export interface NumericForm {
  readonly intDigits: number;
  readonly fracDigits: number;
  readonly percent: boolean;
  readonly signed: boolean;
}

export interface NumericField {
  /** Every form a known variant prints, the first being the Rad-8 / Radical-7 one. */
  readonly forms: readonly NumericForm[];
  /** Range of the wire format and the device's display; clinical plausibility is the validation stage's. */
  readonly min: number;
  readonly max: number;
  /** The forms as a reject detail shows them (no value is ever echoed). */
  readonly shape: string;
}

const form = (intDigits: number, fracDigits: number, percent: boolean, signed = false): NumericForm => ({
  intDigits,
  fracDigits,
  percent,
  signed,
});

export const NUMERIC_FIELDS: Readonly<Record<NumericKey, NumericField>> = {
  // NNN% on every model (S1, S4, S5).
  SPO2: { forms: [form(3, 0, true)], min: 0, max: 100, shape: 'NNN% or ---%' },
  // NNN on every model (S1, S4, S5); 0-240 is the display range (S1 example BPM=240).
  BPM: { forms: [form(3, 0, false)], min: 0, max: 240, shape: 'NNN or ---' },
  // NN.NN% on the Rad-8, Radical-5 and the "blue" Radical-7 (S1, S4); NN.NN without % on the
  // Radical-7 colour (S5: PI=00.55). Display range 0.02-20 % (S1 example PI=20.00%).
  PI: { forms: [form(2, 2, true), form(2, 2, false)], min: 0, max: 20, shape: 'NN.NN%, NN.NN or --.--%' },
  // NN.N% on the Rad-8 and the "blue" Radical-7 (S1, S4); NN% on the Radical-7 colour, whose
  // unavailable form is `--%` (S5): the dashes replace the digits and keep the punctuation.
  SPCO: { forms: [form(2, 1, true), form(2, 0, true)], min: 0, max: 99.9, shape: 'NN.N%, NN% or --.-%' },
  // NN.N% everywhere (S1, S4, S5: SPMET=--.-%).
  SPMET: { forms: [form(2, 1, true)], min: 0, max: 99.9, shape: 'NN.N% or --.-%' },
  // NN.N, no unit sign (S5: SPHB=--.-); g/dL, the unit of the SpOC formula (S7). NN too: the
  // device can be set to whole g/dL (S7, precision 1.0), which may be printed without decimals.
  SPHB: { forms: [form(2, 1, false), form(2, 0, false)], min: 0, max: 99.9, shape: 'NN.N, NN or --.-' },
  // NN, no unit sign (S5: SPOC=--); ml/dL (S7).
  SPOC: { forms: [form(2, 0, false)], min: 0, max: 99, shape: 'NN or --' },
  // NN (S1 example DESAT=01, S4 DESAT=--).
  DESAT: { forms: [form(2, 0, false)], min: 0, max: 99, shape: 'NN or --' },
  // +NN or -NN (S1 example PIDELTA=-02, S4 PIDELTA=+--).
  PIDELTA: { forms: [form(2, 0, false, true)], min: -99, max: 99, shape: '+NN, -NN or +--' },
  // NNN without % (S1 example PVI=027, S5 PVI=---).
  PVI: { forms: [form(3, 0, false)], min: 0, max: 100, shape: 'NNN or ---' },
};

/**
 * "Unavailable": the device replaces the digits by dashes and keeps the punctuation. Forms seen:
 * `---%`, `---`, `--.--%`, `--.-%`, `--%`, `--.-`, `--`, `+--` (S1, S4, S5, S6), and `--.--`
 * (the colour Radical-7's PI, by the same rule). A field's dashes are not tied to its own
 * digit form: the Rad-8 prints `BPM=---%` when the sensor is off (S6). Any of them, on any
 * numeric field, is unavailable: never a value, never a reject.
 */
export const UNAVAILABLE = /^\+?-{1,4}(?:\.-{1,2})?%?$/;

/** 1-8 hex digits: ALARM has 2 (Radical-5), 4 (Rad-8) or 6 (Radical-7 colour); EXC 3, 6 or 7; EXC1 8. */
export const HEX_VALUE = /^[0-9A-Fa-f]{1,8}$/;

/** SN: 10 digits on every model seen (S1, S4); dashes when the device does not print it (S5). */
export const SERIAL_VALUE = /^[0-9A-Za-z]{1,20}$/;
export const SERIAL_UNAVAILABLE = /^-{1,20}$/;

/**
 * RESVD (Radical-7 colour, S5: RESVD=---): "reserved", no source gives it a meaning. Its value
 * is checked for the characters of a Masimo number and ignored: it is never delivered.
 */
export const RESERVED_VALUE = /^[0-9+\-.%]{1,8}$/;

/**
 * Decoded EXC bits. Names follow S1 (see the interface document for which bits a second
 * source confirms). 'masimo-set' (0x000800) is a status flag, not a fault: the SET algorithm
 * runs in full mode (S2).
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

/**
 * Known EXC bits, in bit order (S1; 0x001-0x800 also S2). EXC is a number: its printed width
 * (3, 6 or 7 hex digits) does not move the bits, as the Radical-7 colour's `EXC=0000C00`
 * (S5) = 0xC00 = low signal IQ + Masimo SET shows, the same value as the Rad-8 trend
 * example `EXC=C00:LowSigIQ,SET` (S2).
 */
export const EXCEPTION_BITS: ReadonlyArray<readonly [number, MasimoException]> = [
  [0x000001, 'no-sensor'],
  [0x000002, 'defective-sensor'],
  [0x000004, 'low-perfusion'],
  [0x000008, 'pulse-search'],
  [0x000010, 'interference'],
  [0x000020, 'sensor-off'],
  [0x000040, 'ambient-light'],
  [0x000080, 'unrecognized-sensor'],
  // 0x000100: "Incompatible Sensor" in S1, "reserved" in S2; kept because both agree it is
  // never set for a usable reading.
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
  // 0x800000 and above (the 7th digit of the colour's EXC included): reserved / undocumented.
];

const KNOWN_EXCEPTION_MASK = EXCEPTION_BITS.reduce((mask, [bit]) => mask | bit, 0);

/** Decodes the EXC bit field into names and the bits the table does not know. */
export function decodeExceptions(bits: number): { exceptions: MasimoException[]; unknownBits: number } {
  const exceptions: MasimoException[] = [];
  for (const [bit, name] of EXCEPTION_BITS) {
    if ((bits & bit) !== 0) exceptions.push(name);
  }
  // `>>> 0` keeps the result an unsigned 32-bit number (EXC may carry up to 8 hex digits).
  return { exceptions, unknownBits: (bits & ~KNOWN_EXCEPTION_MASK) >>> 0 };
}

/** The exact regular expression of a numeric form, capturing sign, integer and fraction digits. */
export function formSyntax(f: NumericForm): RegExp {
  const sign = f.signed ? '([+-])' : '()';
  const frac = f.fracDigits > 0 ? `\\.(\\d{${f.fracDigits}})` : '()';
  return new RegExp(`^${sign}(\\d{${f.intDigits}})${frac}${f.percent ? '%' : ''}$`);
}

/** Days in a month of the Gregorian calendar (the device's date is checked against it). */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
