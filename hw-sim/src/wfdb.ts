/**
 * The little of PhysioNet's WFDB format that hw-sim's recording replay needs: a record's
 * first signal in physical units and its beat annotations. hw-sim reads WFDB itself (it
 * imports nothing from the agent), from the WFDB Programmer's Guide
 * (https://physionet.org/physiotools/wag/): header(5) for the `.hea` file, signal(5) for
 * formats 212 and 16, annot(5) for MIT annotation files, and ecgcodes.h for which codes are
 * beats. Single-segment records only.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface WfdbSignal {
  sampleRateHz: number;
  /** (ADC value - baseline) / gain, e.g. mV for MIT-BIH. */
  physical: Float32Array;
}

/** Thrown for a file that is missing or that this reader cannot read, naming the file. */
export class WfdbReadError extends Error {
  readonly code = 'WFDB_READ';
  constructor(message: string) {
    super(message);
    this.name = 'WfdbReadError';
  }
}

function read(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new WfdbReadError(`${file}: cannot be read (${err instanceof Error ? err.message : String(err)})`);
  }
}

/**
 * header(5): the record line `name nsig freq[/counterfreq][(base)] nsamp ...`, then one line
 * per signal `file format[xN][:skew][+offset] gain[(baseline)][/units] adcres adczero ...`.
 * A gain of 0 or none means 200; the baseline defaults to adczero. Comment lines start with #.
 */
function parseHeader(text: string, file: string) {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const record = (lines[0] ?? '').split(/\s+/);
  const signalCount = Number(record[1]);
  if (!Number.isInteger(signalCount) || signalCount < 1 || (record[0] ?? '').includes('/')) {
    throw new WfdbReadError(`${file}: not a single-segment record line`);
  }
  const sampleRateHz = record[2] === undefined ? 250 : Number.parseFloat(record[2]);
  const samples = record[3] === undefined ? 0 : Number(record[3]);
  const signals = Array.from({ length: signalCount }, (_, i) => {
    const f = (lines[1 + i] ?? '').split(/\s+/);
    const gainMatch = /^([-+\d.eE]+)(?:\((-?\d+)\))?(?:\/\S+)?$/.exec(f[2] ?? '200');
    const gain = gainMatch !== null && Number(gainMatch[1]) !== 0 ? Number(gainMatch[1]) : 200;
    const baseline = gainMatch?.[2] !== undefined ? Number(gainMatch[2]) : Number(f[4] ?? 0);
    return { file: f[0] ?? '', format: Number.parseInt(f[1] ?? '', 10), gain, baseline };
  });
  if (!(sampleRateHz > 0) || signals.some((s) => !s.file || !Number.isFinite(s.gain) || !Number.isFinite(s.baseline))) {
    throw new WfdbReadError(`${file}: a signal line or the frequency cannot be read`);
  }
  return { sampleRateHz, samples, signals };
}

/**
 * signal(5): interleaved frames of all the file's signals. Format 212: each pair of 12-bit
 * two's-complement samples in 3 bytes (the first sample's low 8 bits, then the high nibbles:
 * low nibble = first sample's bits 8-11, high nibble = second's, then the second's low 8 bits).
 * Format 16: 16-bit little-endian two's complement.
 */
function sampleAt(data: Buffer, format: number, k: number): number {
  if (format === 16) return data.readInt16LE(2 * k);
  const at = 3 * (k >> 1);
  const mid = data[at + 1] ?? 0;
  const raw = k % 2 === 0 ? ((mid & 0x0f) << 8) | (data[at] ?? 0) : ((mid & 0xf0) << 4) | (data[at + 2] ?? 0);
  return raw >= 0x800 ? raw - 0x1000 : raw;
}

/** The first signal of the record at `path` (without extension), in physical units. */
export function readFirstSignal(path: string): WfdbSignal {
  const headerFile = `${path}.hea`;
  const header = parseHeader(read(headerFile).toString('latin1'), headerFile);
  const first = header.signals[0]!;
  if (first.format !== 212 && first.format !== 16) throw new WfdbReadError(`${headerFile}: format ${first.format} (only 212 and 16 are read)`);
  const inFile = header.signals.filter((s) => s.file === first.file).length;
  const data = read(join(dirname(headerFile), first.file));
  const totalSamples = first.format === 16 ? data.length >> 1 : Math.floor((data.length * 2) / 3);
  let frames = Math.floor(totalSamples / inFile);
  if (header.samples > 0) frames = Math.min(frames, header.samples);
  const physical = new Float32Array(frames);
  for (let n = 0; n < frames; n++) physical[n] = (sampleAt(data, first.format, n * inFile) - first.baseline) / first.gain;
  return { sampleRateHz: header.sampleRateHz, physical };
}

/**
 * ecgcodes.h, isqrs(): NORMAL..NPC 1-13 (N L R a V F J A S E j / Q), BBB 25, LEARN 30,
 * AESC 34, SVESC 35, FUSION 38, NAPC 41 are beats; noise, rhythm, comment and the rest are not.
 */
export function isBeatCode(code: number): boolean {
  return (code >= 1 && code <= 13) || [25, 30, 34, 35, 38, 41].includes(code);
}

/**
 * annot(5), MIT format: 16-bit little-endian words, the annotation type in the top 6 bits and
 * the time since the previous annotation (samples) in the low 10. Type 59 (SKIP) is followed by
 * a 32-bit interval, high word first; 60-62 (NUM, SUB, CHN) change fields of the previous
 * annotation; 63 (AUX) is followed by a string of the length in the low bits, padded to even;
 * a zero word ends the file. Returns the sample number of each beat.
 */
export function readBeatSamples(path: string, annotator = 'atr'): number[] {
  const data = read(`${path}.${annotator}`);
  const beats: number[] = [];
  let time = 0;
  for (let at = 0; at + 1 < data.length; ) {
    const word = data.readUInt16LE(at);
    at += 2;
    const type = word >> 10;
    const low = word & 0x3ff;
    if (word === 0) break;
    if (type === 59) {
      if (at + 4 > data.length) throw new WfdbReadError(`${path}.${annotator}: a SKIP runs past the end`);
      time += ((data.readUInt16LE(at) << 16) | data.readUInt16LE(at + 2)) | 0;
      at += 4;
    } else if (type === 63) {
      at += low + (low & 1);
    } else if (type < 59) {
      time += low;
      if (isBeatCode(type)) beats.push(time);
    }
  }
  return beats;
}
