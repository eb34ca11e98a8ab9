/**
 * WFDB records (PhysioNet): the `.hea` header, format-212 (and 16) `.dat` signals and MIT
 * annotation files (`.atr`). Source of truth: the WFDB Programmer's Guide, "header(5)",
 * "signal(5)" and "annot(5)" (https://physionet.org/physiotools/wag/).
 *
 * The parsers (`parseHeader`, `decodeSignals`, `parseAnnotations`) are pure and work on
 * strings and buffers; `readRecord` and `readAnnotations` are the only functions that touch
 * the file system. A malformed file is a `WfdbError` (code `WFDB_INVALID`) naming the file
 * and what is wrong.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VigilError } from '../errors';

/** A WFDB file is missing, unreadable or malformed. */
export class WfdbError extends VigilError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WFDB_INVALID', message, options);
  }
}

/** One signal line of a header. */
export interface WfdbSignalSpec {
  /** File holding the samples, relative to the header's folder. */
  fileName: string;
  /** Storage format (212 and 16 are supported). */
  format: number;
  /** ADC units per physical unit (200 for MIT-BIH, per mV). */
  gain: number;
  /** ADC value of physical zero. */
  baseline: number;
  /** Physical unit (`mV` when not given). */
  units: string;
  /** Signal description, e.g. `MLII`. */
  description: string;
}

/** A parsed header. */
export interface WfdbHeader {
  recordName: string;
  sampleRateHz: number;
  /** Samples per signal (0 when the header does not say). */
  samplesPerSignal: number;
  signals: WfdbSignalSpec[];
}

/** A record in physical units. */
export interface WfdbRecord {
  header: WfdbHeader;
  /** One array per signal, in physical units (ADC - baseline) / gain. */
  signals: Float32Array[];
}

/** An annotation: time in samples, MIT code, subtype, and the auxiliary string if any. */
export interface WfdbAnnotation {
  sample: number;
  code: number;
  subtype: number;
  aux?: string;
}

/** MIT annotation codes used by the evaluation (WFDB `ecgcodes.h`). */
export const ANNOTATION_CODES = {
  normal: 1,
  noise: 14,
  rhythm: 28,
  vfOn: 32,
  vfOff: 33,
  nonConductedP: 37,
} as const;

/**
 * Codes that are beats (WFDB `isqrs`): N L R a V F J A S E j / Q (1-13), B (25), LEARN (30),
 * e (34), j (35), f (38), r (41). Not beats: noise, rhythm, comments, the non-conducted P
 * wave `x` (37), flutter waves `!` (31), and the VF markers `[` `]`.
 */
export function isBeat(code: number): boolean {
  return (code >= 1 && code <= 13) || code === 25 || code === 30 || code === 34 || code === 35 || code === 38 || code === 41;
}

/** Parses the text of a `.hea` file (single-segment records). */
export function parseHeader(text: string, fileName = 'header'): WfdbHeader {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const record = lines[0]?.split(/\s+/) ?? [];
  const [recordName, signalCountText, frequencyText, samplesText] = record;
  if (!recordName || recordName.includes('/')) throw new WfdbError(`${fileName}: record line must start with a record name (multi-segment records are not supported)`);
  const signalCount = Number(signalCountText);
  if (!Number.isInteger(signalCount) || signalCount < 1) throw new WfdbError(`${fileName}: number of signals must be a positive integer`);
  // "360" or "360/..." (counter frequency) or "360(base)".
  const sampleRateHz = frequencyText === undefined ? 250 : Number(frequencyText.split(/[/(]/)[0]);
  if (!Number.isFinite(sampleRateHz) || sampleRateHz <= 0) throw new WfdbError(`${fileName}: sampling frequency must be a positive number`);
  const samplesPerSignal = samplesText === undefined ? 0 : Number(samplesText);
  if (!Number.isInteger(samplesPerSignal) || samplesPerSignal < 0) throw new WfdbError(`${fileName}: number of samples must be a non-negative integer`);
  const signals: WfdbSignalSpec[] = [];
  for (let i = 0; i < signalCount; i += 1) {
    const fields = lines[1 + i]?.split(/\s+/);
    if (!fields || fields.length < 2) throw new WfdbError(`${fileName}: signal line ${i + 1} is missing`);
    const [file = '', formatText = '', gainText, , , , , , ...descriptionWords] = fields;
    const format = Number(formatText.split(/[x:+]/)[0]);
    // Gain field: "200", "200(0)/mV", "200/mV"; absent or 0 means 200 (WFDB default).
    const gainMatch = gainText === undefined ? null : /^([-+0-9.eE]+)(?:\(([-0-9]+)\))?(?:\/(\S+))?$/.exec(gainText);
    if (gainText !== undefined && !gainMatch) throw new WfdbError(`${fileName}: signal ${i + 1} gain is not a number`);
    const gain = gainMatch && Number(gainMatch[1]) !== 0 ? Number(gainMatch[1]) : 200;
    const zeroText = fields[4];
    const baseline = gainMatch?.[2] !== undefined ? Number(gainMatch[2]) : zeroText !== undefined ? Number(zeroText) : 0;
    if (!Number.isFinite(gain) || !Number.isFinite(baseline)) throw new WfdbError(`${fileName}: signal ${i + 1} gain or baseline is not a number`);
    signals.push({
      fileName: file,
      format,
      gain,
      baseline,
      units: gainMatch?.[3] ?? 'mV',
      description: descriptionWords.join(' '),
    });
  }
  return { recordName, sampleRateHz, samplesPerSignal, signals };
}

/**
 * Decodes the interleaved samples of one `.dat` file holding `signalCount` signals in
 * `format` (212: two 12-bit two's-complement samples in three bytes; 16: 16-bit little
 * endian). Returns raw ADC values, one array per signal. A trailing partial frame is ignored.
 */
export function decodeSignals(data: Uint8Array, format: number, signalCount: number, fileName = 'data'): Int32Array[] {
  if (format === 212) {
    const total = Math.floor((data.length * 2) / 3);
    const frames = Math.floor(total / signalCount);
    const out = Array.from({ length: signalCount }, () => new Int32Array(frames));
    for (let k = 0; k < frames * signalCount; k += 1) {
      const byte = Math.floor(k / 2) * 3;
      const b0 = data[byte] ?? 0;
      const b1 = data[byte + 1] ?? 0;
      const b2 = data[byte + 2] ?? 0;
      let v = k % 2 === 0 ? b0 | ((b1 & 0x0f) << 8) : b2 | ((b1 & 0xf0) << 4);
      if (v > 2047) v -= 4096;
      const signal = out[k % signalCount];
      if (signal) signal[Math.floor(k / signalCount)] = v;
    }
    return out;
  }
  if (format === 16) {
    const frames = Math.floor(data.length / 2 / signalCount);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const out = Array.from({ length: signalCount }, () => new Int32Array(frames));
    for (let f = 0; f < frames; f += 1) {
      for (let s = 0; s < signalCount; s += 1) {
        const signal = out[s];
        if (signal) signal[f] = view.getInt16((f * signalCount + s) * 2, true);
      }
    }
    return out;
  }
  throw new WfdbError(`${fileName}: storage format ${format} is not supported (212 and 16 are)`);
}

/** Reads `<path>.hea` and its signal file(s); `path` is the record path without extension. */
export function readRecord(path: string): WfdbRecord {
  const headerFile = `${path}.hea`;
  const header = parseHeader(readText(headerFile), headerFile);
  const folder = dirname(headerFile);
  // Group signals by file, in order (MIT-BIH: both signals in one .dat).
  const files = [...new Set(header.signals.map((s) => s.fileName))];
  const raw = new Map<number, Int32Array>();
  for (const file of files) {
    const indexes = header.signals.map((s, i) => (s.fileName === file ? i : -1)).filter((i) => i >= 0);
    const format = header.signals[indexes[0] ?? 0]?.format ?? 0;
    if (indexes.some((i) => header.signals[i]?.format !== format)) throw new WfdbError(`${headerFile}: signals in ${file} must share one format`);
    const dataFile = join(folder, file);
    const decoded = decodeSignals(readBytes(dataFile), format, indexes.length, dataFile);
    indexes.forEach((signalIndex, k) => {
      const values = decoded[k];
      if (values) raw.set(signalIndex, values);
    });
  }
  const signals = header.signals.map((spec, i) => {
    const values = raw.get(i) ?? new Int32Array(0);
    const length = header.samplesPerSignal > 0 ? Math.min(header.samplesPerSignal, values.length) : values.length;
    const physical = new Float32Array(length);
    for (let n = 0; n < length; n += 1) physical[n] = ((values[n] ?? 0) - spec.baseline) / spec.gain;
    return physical;
  });
  return { header, signals };
}

/**
 * Parses an MIT-format annotation file: 16-bit little-endian words, 6-bit code and 10-bit
 * time increment; SKIP (59) carries a 32-bit increment, NUM (60), SUB (61) and CHN (62)
 * modify the previous annotation, AUX (63) carries a string; 0,0 ends the file.
 */
export function parseAnnotations(data: Uint8Array, fileName = 'annotations'): WfdbAnnotation[] {
  const out: WfdbAnnotation[] = [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let time = 0;
  let i = 0;
  while (i + 1 < data.length) {
    const word = view.getUint16(i, true);
    i += 2;
    const code = word >> 10;
    const value = word & 0x3ff;
    if (code === 0 && value === 0) break;
    switch (code) {
      case 59: {
        // SKIP: the next two words are the high and the low 16 bits of a signed interval.
        if (i + 4 > data.length) throw new WfdbError(`${fileName}: truncated SKIP at byte ${i - 2}`);
        const high = view.getUint16(i, true);
        const low = view.getUint16(i + 2, true);
        time += ((high << 16) | low) | 0;
        i += 4;
        break;
      }
      case 60:
      case 62:
        break;
      case 61: {
        const last = out[out.length - 1];
        if (last) last.subtype = value;
        break;
      }
      case 63: {
        const last = out[out.length - 1];
        const bytes = data.subarray(i, i + value);
        if (last) last.aux = Buffer.from(bytes).toString('latin1');
        i += value + (value % 2);
        break;
      }
      default:
        time += value;
        out.push({ sample: time, code, subtype: 0 });
    }
  }
  return out;
}

/** Reads `<path>.<annotator>` (default `atr`). */
export function readAnnotations(path: string, annotator = 'atr'): WfdbAnnotation[] {
  const file = `${path}.${annotator}`;
  return parseAnnotations(readBytes(file), file);
}

/** Encodes annotations in the MIT format (used by tests to write small records). */
export function encodeAnnotations(annotations: readonly { sample: number; code: number; subtype?: number }[]): Uint8Array {
  const words: number[] = [];
  let time = 0;
  for (const a of annotations) {
    let delta = a.sample - time;
    if (delta < 0 || delta > 1023) {
      words.push(59 << 10, (delta >>> 16) & 0xffff, delta & 0xffff);
      delta = 0;
    }
    words.push((a.code << 10) | delta);
    if (a.subtype) words.push((61 << 10) | (a.subtype & 0x3ff));
    time = a.sample;
  }
  words.push(0);
  const out = new Uint8Array(words.length * 2);
  const view = new DataView(out.buffer);
  words.forEach((w, k) => view.setUint16(k * 2, w, true));
  return out;
}

/** Encodes interleaved signals in format 212 (used by tests to write small records). */
export function encode212(signals: readonly Int32Array[]): Uint8Array {
  const count = signals.length;
  const frames = Math.min(...signals.map((s) => s.length));
  const total = frames * count;
  const out = new Uint8Array(Math.ceil(total / 2) * 3);
  for (let k = 0; k < total; k += 1) {
    const v = (signals[k % count]?.[Math.floor(k / count)] ?? 0) & 0xfff;
    const byte = Math.floor(k / 2) * 3;
    if (k % 2 === 0) {
      out[byte] = v & 0xff;
      out[byte + 1] = ((out[byte + 1] ?? 0) & 0xf0) | (v >> 8);
    } else {
      out[byte + 2] = v & 0xff;
      out[byte + 1] = ((out[byte + 1] ?? 0) & 0x0f) | ((v >> 8) << 4);
    }
  }
  return out;
}

/** Name of the record at `path` (the last path element). */
export function recordName(path: string): string {
  return basename(path);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new WfdbError(`${file}: cannot be read (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}

function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new WfdbError(`${file}: cannot be read (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}
