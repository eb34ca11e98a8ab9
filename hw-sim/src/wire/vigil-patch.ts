/**
 * The Vigil sensor patch's binary protocol v1, the patch's side: it encodes the frames the
 * patch sends and decodes the commands the host sends.
 *
 * Written from docs/interfaces/vigil-patch.md ("Framing", "Frame types", "Data contract"),
 * never from the agent's decoder: hw-sim imports nothing from the agent, so that a
 * misunderstanding of the wire format cannot be shared by both sides (STYLE.md, "Checked
 * against the world"). The golden test (test/unit/golden-wire.test.ts) checks it against the
 * document's wire examples, byte for byte, in both directions.
 *
 * Pure: no I/O, no clock. The encoder throws PatchWireError (naming the field) for a value the
 * protocol cannot carry; the decoder never throws.
 */

// ---- vocabulary (docs "Framing", "Frame types", "Data contract") ------------------------

/** Header byte 0: "protocol version 1". */
export const PROTOCOL_VERSION = 1;
/** version, type, serial u32, sequence u16, tick u32, payload length u16. */
export const HEADER_BYTES = 1 + 1 + 4 + 2 + 4 + 2;
export const CRC_BYTES = 4;
/** "payload length n: 0..1024". */
export const MAX_PAYLOAD_BYTES = 1024;
/** "host commands use FFFFFFFF (any patch on the port)". */
export const BROADCAST_SERIAL = 'FFFFFFFF';

/** The frame-types table: code per name, patch -> host below 0x80, host -> patch from 0x81. */
export const TYPE_CODES = {
  ecg: 0x01,
  ppg: 0x02,
  accel: 0x03,
  status: 0x04,
  ack: 0x05,
  identity: 0x06,
  start: 0x81,
  stop: 0x82,
  identify: 0x83,
  'set-rate': 0x84,
  'keep-alive': 0x85,
} as const;
export type FrameType = keyof typeof TYPE_CODES;
export type CommandType = 'start' | 'stop' | 'identify' | 'set-rate' | 'keep-alive';
const COMMAND_TYPES: readonly CommandType[] = ['start', 'stop', 'identify', 'set-rate', 'keep-alive'];

/** SET_RATE's "u8 stream (1 ECG, 2 PPG, 3 ACCEL)". */
export type StreamName = 'ecg' | 'ppg' | 'accel';
const STREAM_BY_CODE: ReadonlyArray<StreamName | undefined> = [undefined, 'ecg', 'ppg', 'accel'];
const STREAM_CODE: Readonly<Record<StreamName, number>> = { ecg: 1, ppg: 2, accel: 3 };

/** Data contract, "rate (default; allowed)". */
export const RATES_HZ: Readonly<Record<StreamName, { default: number; allowed: readonly number[] }>> = {
  ecg: { default: 250, allowed: [125, 250, 500] },
  ppg: { default: 100, allowed: [50, 100, 200] },
  accel: { default: 25, allowed: [25, 50] },
};

/** Data contract: ECG "2.5 uV per LSB", accelerometer "0.25 mg per LSB", PPG "22-bit unsigned". */
export const ECG_MICROVOLTS_PER_LSB = 2.5;
export const ACCEL_MILLI_G_PER_LSB = 0.25;
export const PPG_MAX_COUNT = 2 ** 22 - 1;
/** Skin temperature "0.01 Cel per LSB; 0x7FFF = not measured"; battery "0xFF unknown". */
const SKIN_TEMP_NOT_MEASURED = 0x7fff;
const BATTERY_UNKNOWN = 0xff;
/** IDENTITY: "12 bytes model (ASCII, NUL-padded)". */
const MODEL_BYTES = 12;

/** STATUS flags (u16), the table "STATUS flags"; 0x0100-0x8000 reserved. */
export const STATUS_FLAGS = {
  'lead-off': 0x0001,
  'probe-off': 0x0002,
  motion: 0x0004,
  'low-battery': 0x0008,
  charging: 0x0010,
  streaming: 0x0020,
  'sensor-fault': 0x0040,
  'host-timeout': 0x0080,
} as const;
export type StatusFlag = keyof typeof STATUS_FLAGS;

export function statusFlags(names: readonly StatusFlag[]): number {
  return names.reduce((bits, name) => bits | STATUS_FLAGS[name], 0);
}

/** "ACK results: 0 ok, 1 unknown-command, 2 bad-argument, 3 not-allowed". */
export const ACK_RESULTS = ['ok', 'unknown-command', 'bad-argument', 'not-allowed'] as const;
export type AckResult = (typeof ACK_RESULTS)[number];

/** "shown as 8 upper-case hex digits". */
export function isSerial(text: string): boolean {
  return /^[0-9A-F]{8}$/.test(text);
}

// ---- frames ----------------------------------------------------------------------------

export type PatchPayload =
  | { type: 'ecg'; sampleRateHz: number; samples: ArrayLike<number> }
  | { type: 'ppg'; sampleRateHz: number; red: ArrayLike<number>; ir: ArrayLike<number> }
  | { type: 'accel'; sampleRateHz: number; x: ArrayLike<number>; y: ArrayLike<number>; z: ArrayLike<number> }
  | { type: 'status'; flags: number; skinTempCelsius: number | null; batteryPercent: number | null; batteryMv: number }
  | { type: 'ack'; ackedSequence: number; ackedType: number; result: AckResult }
  | { type: 'identity'; firmware: { major: number; minor: number; patch: number }; hardwareRevision: number; model: string }
  | { type: 'start' }
  | { type: 'stop' }
  | { type: 'identify' }
  | { type: 'set-rate'; stream: StreamName; sampleRateHz: number }
  | { type: 'keep-alive' };

export interface PatchFrame {
  /** 8 upper-case hex digits; host commands: BROADCAST_SERIAL. */
  serial: string;
  sequence: number;
  tickMs: number;
  payload: PatchPayload;
}

export class PatchWireError extends RangeError {
  readonly code = 'PATCH_WIRE_RANGE';
  constructor(readonly field: string, rule: string) {
    super(`${field}: ${rule}`);
    this.name = 'PatchWireError';
  }
}

// ---- CRC-32C and COBS (docs "Framing") -----------------------------------------------------

/**
 * CRC-32C as the document gives it: polynomial 0x1EDC6F41, reflected (0x82F63B78), initial
 * value 0xFFFFFFFF, input and output reflected, final XOR 0xFFFFFFFF. Bit by bit, as the
 * definition reads (the patch computes it in hardware; speed does not matter here).
 */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * COBS (Cheshire and Baker 1999): each block is a code byte n followed by n - 1 non-zero
 * bytes and stands for them plus a 0x00, except the last block and a full block of 254
 * (code 0xFF). Data that ends with a full block gets no empty block after it (the document's
 * vector: 254 bytes 01..FE -> FF 01..FE).
 */
export function cobsEncode(data: Uint8Array): Buffer {
  const out: number[] = [];
  let i = 0;
  for (;;) {
    const start = i;
    while (i < data.length && data[i] !== 0 && i - start < 254) i++;
    const run = Array.from(data.subarray(start, i));
    if (run.length === 254) {
      out.push(0xff, ...run);
      if (i === data.length) break;
      continue;
    }
    out.push(run.length + 1, ...run);
    if (i === data.length) break;
    i++; // the 0x00 this block stands for
  }
  return Buffer.from(out);
}

/** The inverse of cobsEncode; null when `encoded` is not valid COBS (or empty). */
export function cobsDecode(encoded: Uint8Array): Buffer | null {
  if (encoded.length === 0) return null;
  const out: number[] = [];
  let i = 0;
  while (i < encoded.length) {
    const code = encoded[i++] ?? 0;
    if (code === 0 || i + code - 1 > encoded.length) return null;
    for (let k = 1; k < code; k++) {
      const b = encoded[i++] ?? 0;
      if (b === 0) return null;
      out.push(b);
    }
    if (code !== 0xff && i < encoded.length) out.push(0);
  }
  return Buffer.from(out);
}

// ---- encoding (the frames the patch sends; host commands too, for the tests) ----------------

function int(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new PatchWireError(field, `must be an integer from ${min} to ${max}`);
  return value;
}

function rate(stream: StreamName, hz: number): number {
  if (!RATES_HZ[stream].allowed.includes(hz)) throw new PatchWireError(`${stream} sample rate`, `must be one of ${RATES_HZ[stream].allowed.join(', ')} Hz`);
  return hz;
}

/** Little-endian writer ("all multi-byte fields little-endian"). */
class Writer {
  private readonly bytes: number[] = [];
  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v).u8(v >>> 8);
  }
  i16(v: number): this {
    return this.u16(v & 0xffff);
  }
  u32(v: number): this {
    return this.u16(v & 0xffff).u16(v >>> 16);
  }
  get length(): number {
    return this.bytes.length;
  }
  done(): Buffer {
    return Buffer.from(this.bytes);
  }
}

function payloadBytes(p: PatchPayload): Buffer {
  const w = new Writer();
  switch (p.type) {
    case 'ecg':
      w.u16(rate('ecg', p.sampleRateHz));
      for (const s of Array.from(p.samples)) w.i16(int('ecg sample', s, -32768, 32767));
      break;
    case 'ppg': {
      if (p.red.length !== p.ir.length) throw new PatchWireError('ppg', 'red and infrared must pair up');
      w.u16(rate('ppg', p.sampleRateHz));
      for (let k = 0; k < p.ir.length; k++) w.u32(int('ppg red', p.red[k] ?? -1, 0, PPG_MAX_COUNT)).u32(int('ppg infrared', p.ir[k] ?? -1, 0, PPG_MAX_COUNT));
      break;
    }
    case 'accel': {
      if (p.x.length !== p.y.length || p.x.length !== p.z.length) throw new PatchWireError('accel', 'x, y and z must make triples');
      w.u16(rate('accel', p.sampleRateHz));
      for (let k = 0; k < p.x.length; k++) {
        for (const [axis, v] of [['x', p.x[k]], ['y', p.y[k]], ['z', p.z[k]]] as const) w.i16(int(`accel ${axis}`, v ?? NaN, -32768, 32767));
      }
      break;
    }
    case 'status': {
      const centi = p.skinTempCelsius === null ? SKIN_TEMP_NOT_MEASURED : int('skin temperature', Math.round(p.skinTempCelsius * 100), -32768, SKIN_TEMP_NOT_MEASURED - 1);
      w.u16(int('status flags', p.flags, 0, 0xffff)).i16(centi);
      w.u8(p.batteryPercent === null ? BATTERY_UNKNOWN : int('battery %', p.batteryPercent, 0, 100)).u8(0);
      w.u16(int('battery mV', p.batteryMv, 0, 0xffff));
      break;
    }
    case 'ack':
      w.u16(int('acknowledged sequence', p.ackedSequence, 0, 0xffff)).u8(int('acknowledged type', p.ackedType, 0, 0xff)).u8(ACK_RESULTS.indexOf(p.result));
      break;
    case 'identity': {
      w.u8(int('firmware major', p.firmware.major, 0, 255)).u8(int('firmware minor', p.firmware.minor, 0, 255)).u8(int('firmware patch', p.firmware.patch, 0, 255));
      w.u8(int('hardware revision', p.hardwareRevision, 0, 255));
      if (!/^[\x20-\x7e]{0,12}$/.test(p.model)) throw new PatchWireError('model', `must be at most ${MODEL_BYTES} printable ASCII characters`);
      for (let k = 0; k < MODEL_BYTES; k++) w.u8(k < p.model.length ? p.model.charCodeAt(k) : 0);
      break;
    }
    case 'set-rate':
      w.u8(STREAM_CODE[p.stream]).u16(rate(p.stream, p.sampleRateHz));
      break;
    case 'start':
    case 'stop':
    case 'identify':
    case 'keep-alive':
      break;
  }
  if (w.length > MAX_PAYLOAD_BYTES) throw new PatchWireError('payload', `longer than ${MAX_PAYLOAD_BYTES} bytes`);
  return w.done();
}

/** The frame before COBS: header, payload, CRC-32C of everything before it. */
export function buildFrame(frame: PatchFrame): Buffer {
  if (!isSerial(frame.serial)) throw new PatchWireError('serial', 'must be 8 upper-case hex digits');
  const payload = payloadBytes(frame.payload);
  const head = new Writer()
    .u8(PROTOCOL_VERSION)
    .u8(TYPE_CODES[frame.payload.type])
    .u32(Number.parseInt(frame.serial, 16))
    .u16(int('sequence', frame.sequence, 0, 0xffff))
    .u32(int('tick', frame.tickMs, 0, 0xffffffff))
    .u16(payload.length)
    .done();
  const body = Buffer.concat([head, payload]);
  return Buffer.concat([body, new Writer().u32(crc32c(body)).done()]);
}

/**
 * The frame on the wire: COBS, then the 0x00 delimiter. A host command is also preceded by a
 * 0x00 ("The host also sends a 0x00 before each command").
 */
export function encodeFrame(frame: PatchFrame): Buffer {
  const wire = Buffer.concat([cobsEncode(buildFrame(frame)), Buffer.from([0])]);
  return TYPE_CODES[frame.payload.type] >= 0x80 ? Buffer.concat([Buffer.from([0]), wire]) : wire;
}

// ---- decoding what the host sends --------------------------------------------------------

/**
 * What the patch makes of one host frame. `refused`: the frame is sound (its CRC matches) but
 * the patch cannot do what it asks: a type that is not a host command (ACK `unknown-command`),
 * or a SET_RATE for a stream or rate the data contract does not allow (`bad-argument`); the
 * patch answers it with that ACK result. A frame that is not sound gets no answer: the patch
 * cannot tell who sent it ("Host commands and the session", 2).
 */
export type HostFrameResult =
  | { ok: true; kind: 'command'; frame: PatchFrame }
  | { ok: true; kind: 'refused'; result: 'unknown-command' | 'bad-argument'; serial: string; sequence: number; typeCode: number }
  | { ok: false; reason: 'framing' | 'length' | 'checksum' | 'version' };

function readU16(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
}

function readU32(b: Uint8Array, at: number): number {
  return (readU16(b, at) | (readU16(b, at + 2) << 16)) >>> 0;
}

/** Decodes one host frame (the bytes between two 0x00 delimiters). Never throws. */
export function decodeHostFrame(encoded: Uint8Array): HostFrameResult {
  const bytes = cobsDecode(encoded);
  if (bytes === null) return { ok: false, reason: 'framing' };
  if (bytes.length < HEADER_BYTES + CRC_BYTES) return { ok: false, reason: 'length' };
  const crcAt = bytes.length - CRC_BYTES;
  if (crc32c(bytes.subarray(0, crcAt)) !== readU32(bytes, crcAt)) return { ok: false, reason: 'checksum' };
  if (bytes[0] !== PROTOCOL_VERSION) return { ok: false, reason: 'version' };
  if (HEADER_BYTES + readU16(bytes, 12) !== crcAt) return { ok: false, reason: 'length' };
  const serial = readU32(bytes, 2).toString(16).toUpperCase().padStart(8, '0');
  const sequence = readU16(bytes, 6);
  const tickMs = readU32(bytes, 8);
  const typeCode = bytes[1] ?? 0;
  const refuse = (result: 'unknown-command' | 'bad-argument'): HostFrameResult => ({ ok: true, kind: 'refused', result, serial, sequence, typeCode });
  const type = COMMAND_TYPES.find((t) => TYPE_CODES[t] === typeCode);
  if (type === undefined) return refuse('unknown-command');
  const payload = bytes.subarray(HEADER_BYTES, crcAt);
  if (type !== 'set-rate') {
    if (payload.length !== 0) return { ok: false, reason: 'length' };
    return { ok: true, kind: 'command', frame: { serial, sequence, tickMs, payload: { type } } };
  }
  if (payload.length !== 3) return { ok: false, reason: 'length' };
  const stream = STREAM_BY_CODE[payload[0] ?? 0];
  const sampleRateHz = readU16(payload, 1);
  if (stream === undefined || !RATES_HZ[stream].allowed.includes(sampleRateHz)) return refuse('bad-argument');
  return { ok: true, kind: 'command', frame: { serial, sequence, tickMs, payload: { type, stream, sampleRateHz } } };
}
