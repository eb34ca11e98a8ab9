/**
 * Encoder of Masimo "ASCII 1" lines, for the tests (round trips, fuzzing): it writes each
 * known variant's line byte for byte, as docs/interfaces/masimo-ascii.md documents it. Pure.
 * The agent never sends these lines; a device emulator is written from the interface document,
 * not from this file.
 */
import { daysInMonth, NUMERIC_FIELDS } from './fields';
import type { HexKey, NumericForm, NumericKey } from './fields';
import type { MasimoDeviceTime, MasimoFrame } from './protocol';

/**
 * The field layouts of the known variants (docs/interfaces/masimo-ascii.md, "Variants"):
 * `rad8` is the Rad-8 / "blue" Radical-7 line (SN, SPO2 ... PIDELTA, PVI, ALARM 4 digits,
 * EXC 6), `radical5` the Radical-5 line (no SN, no Rainbow fields, ALARM 2, EXC 3),
 * `radical7-colour` the colour Radical-7 line (PI without %, SPCO=NN%, SPHB, SPOC, RESVD,
 * ALARM 6, EXC 7, EXC1 8).
 */
export type MasimoLayout = 'rad8' | 'radical5' | 'radical7-colour';

export interface MasimoEncodeOptions {
  /** rad8 only: write SN (default: when the frame has a serial number). */
  includeSerial?: boolean;
  /** rad8 only: write PVI (default: when the frame has a PVI value). */
  includePvi?: boolean;
  /** Default rad8. */
  layout?: MasimoLayout;
}

/** Thrown by the encoder (test side only) when a frame cannot be represented. */
export class MasimoEncodeError extends RangeError {
  readonly code = 'MASIMO_ENCODE_RANGE';
  constructor(readonly field: string, rule: string) {
    super(`${field}: ${rule}`);
    this.name = 'MasimoEncodeError';
  }
}

type Slot =
  | { kind: 'serial' }
  | { kind: 'number'; key: NumericKey; form: NumericForm; dashes: string }
  | { kind: 'hex'; key: HexKey; width: number }
  | { kind: 'reserved' };

const num = (key: NumericKey, formIndex: number, dashes: string): Slot => {
  const form = NUMERIC_FIELDS[key].forms[formIndex];
  if (form === undefined) throw new MasimoEncodeError(key, 'no such form');
  return { kind: 'number', key, form, dashes };
};

/** The slots of each layout, in the device's order. PVI (rad8) is inserted by `includePvi`. */
const LAYOUTS: Readonly<Record<MasimoLayout, readonly Slot[]>> = {
  rad8: [
    { kind: 'serial' },
    num('SPO2', 0, '---%'), num('BPM', 0, '---'), num('PI', 0, '--.--%'), num('SPCO', 0, '--.-%'),
    num('SPMET', 0, '--.-%'), num('DESAT', 0, '--'), num('PIDELTA', 0, '+--'), num('PVI', 0, '---'),
    { kind: 'hex', key: 'ALARM', width: 4 }, { kind: 'hex', key: 'EXC', width: 6 },
  ],
  radical5: [
    num('SPO2', 0, '---%'), num('BPM', 0, '---'), num('PI', 0, '--.--%'),
    { kind: 'hex', key: 'ALARM', width: 2 }, { kind: 'hex', key: 'EXC', width: 3 },
  ],
  'radical7-colour': [
    { kind: 'serial' },
    num('SPO2', 0, '---%'), num('BPM', 0, '---'), num('PI', 1, '--.--'), num('SPCO', 1, '--%'),
    num('SPMET', 0, '--.-%'), num('SPHB', 0, '--.-'), num('SPOC', 0, '--'), { kind: 'reserved' },
    num('DESAT', 0, '--'), num('PIDELTA', 0, '+--'), num('PVI', 0, '---'),
    { kind: 'hex', key: 'ALARM', width: 6 }, { kind: 'hex', key: 'EXC', width: 7 }, { kind: 'hex', key: 'EXC1', width: 8 },
  ],
};

const SERIAL_SHAPE = /^[0-9A-Za-z]{1,20}$/;

function numericValue(frame: MasimoFrame, key: NumericKey): number | null {
  switch (key) {
    case 'SPO2': return frame.spo2Percent;
    case 'BPM': return frame.pulseBpm;
    case 'PI': return frame.perfusionIndexPercent;
    case 'SPCO': return frame.spcoPercent;
    case 'SPMET': return frame.spmetPercent;
    case 'SPHB': return frame.spHbGramsPerDl;
    case 'SPOC': return frame.spOcMlPerDl;
    case 'DESAT': return frame.desat;
    case 'PIDELTA': return frame.piDeltaPercent;
    case 'PVI': return frame.pviPercent;
  }
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function encodeNumber(key: NumericKey, value: number | null, form: NumericForm, dashes: string): string {
  if (value === null) return `${key}=${dashes}`;
  if (!Number.isFinite(value)) throw new MasimoEncodeError(key, 'not a finite number');
  const field = NUMERIC_FIELDS[key];
  const scale = 10 ** form.fracDigits;
  const scaled = Math.round(value * scale);
  const capacity = 10 ** (form.intDigits + form.fracDigits) - 1;
  if (scaled / scale < field.min || scaled / scale > field.max || Math.abs(scaled) > capacity) {
    throw new MasimoEncodeError(key, `outside ${field.min}..${field.max}`);
  }
  if (!form.signed && scaled < 0) throw new MasimoEncodeError(key, 'negative');
  const sign = form.signed ? (scaled < 0 ? '-' : '+') : '';
  const magnitude = Math.abs(scaled);
  const whole = Math.floor(magnitude / scale);
  const frac = form.fracDigits > 0 ? `.${pad(magnitude - whole * scale, form.fracDigits)}` : '';
  return `${key}=${sign}${pad(whole, form.intDigits)}${frac}${form.percent ? '%' : ''}`;
}

function encodeHex(key: HexKey, value: number, width: number): string {
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

function encodeSlot(slot: Slot, frame: MasimoFrame): string {
  switch (slot.kind) {
    case 'serial':
      if (frame.serialNumber === null) return 'SN=----------';
      if (!SERIAL_SHAPE.test(frame.serialNumber)) throw new MasimoEncodeError('SN', 'expected 1 to 20 letters or digits');
      return `SN=${frame.serialNumber}`;
    case 'reserved':
      return 'RESVD=---';
    case 'hex': {
      const bits = slot.key === 'ALARM' ? frame.alarmBits : slot.key === 'EXC' ? frame.exceptionBits : (frame.exception1Bits ?? 0);
      return encodeHex(slot.key, bits, slot.width);
    }
    case 'number':
      return encodeNumber(slot.key, numericValue(frame, slot.key), slot.form, slot.dashes);
  }
}

/**
 * Encodes a frame as the device sends it, WITH the trailing CR LF, in the layout's order.
 * rad8: SN is written when `includeSerial` (default: when the frame has a serial number), PVI
 * when `includePvi` (default: when the frame has a PVI value); the colour layout always writes
 * both. Fields a layout does not have are not written. Values are rounded to the printed
 * resolution. Throws MasimoEncodeError for a value the line cannot carry.
 */
export function encodeMasimoAscii(frame: MasimoFrame, opts: MasimoEncodeOptions = {}): Buffer {
  const t = frame.deviceTime;
  checkDeviceTime(t);
  const layout = opts.layout ?? 'rad8';
  const parts: string[] = [
    `${pad(t.month, 2)}/${pad(t.day, 2)}/${pad(t.year - 2000, 2)}`,
    `${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}`,
  ];
  for (const slot of LAYOUTS[layout]) {
    if (layout === 'rad8' && slot.kind === 'serial' && !(opts.includeSerial ?? frame.serialNumber !== null)) continue;
    if (layout === 'rad8' && slot.kind === 'number' && slot.key === 'PVI' && !(opts.includePvi ?? frame.pviPercent !== null)) continue;
    parts.push(encodeSlot(slot, frame));
  }
  return Buffer.from(`${parts.join(' ')}\r\n`, 'ascii');
}
