/**
 * Vigil sensor patch, binary protocol v1: COBS, CRC-32C, and the encoder and decoder of
 * every frame type (device -> host and host -> device), plus the sequence-number check.
 *
 * Pure: no I/O, no clock, no Node I/O modules. The driver (driver.ts) owns the port, the
 * bounded 0x00-delimiter parser (io/serial.ts) and the timing; this file turns the bytes
 * between two delimiters into a typed frame or into a reject reason, and never throws.
 *
 * Source of truth: docs/interfaces/vigil-patch.md (Vigil is the manufacturer of both sides).
 *
 *   decoded frame (before COBS), little-endian:
 *   0  u8   protocol version (1)
 *   1  u8   frame type
 *   2  u32  device serial number (shown as 8 upper-case hex digits)
 *   6  u16  sequence number (wraps 65535 -> 0)
 *   8  u32  device tick, ms since power-on (wraps after 2^32 ms)
 *   12 u16  payload length n
 *   14 n    payload
 *   14+n u32 CRC-32C (Castagnoli) of bytes 0 .. 13+n
 *
 * Rejects name the field and the rule in `detail`, never a value: samples are patient data.
 */

export const PATCH_PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 14;
export const CRC_BYTES = 4;
/** Largest payload a frame may carry (the largest the device sends is 322 bytes: PPG at 200 Hz). */
export const MAX_PAYLOAD_BYTES = 1024;
/** Largest decoded frame. */
export const MAX_DECODED_FRAME_BYTES = HEADER_BYTES + MAX_PAYLOAD_BYTES + CRC_BYTES;
/**
 * Largest COBS-encoded frame (without its 0x00 delimiter): one overhead byte per started
 * 254 bytes. The driver's bounded delimiter parser discards anything longer (overflow).
 */
export const MAX_ENCODED_FRAME_BYTES = MAX_DECODED_FRAME_BYTES + Math.ceil(MAX_DECODED_FRAME_BYTES / 254);
/** Host commands are sent to this serial number: whichever patch is on the port answers. */
export const BROADCAST_SERIAL = 'FFFFFFFF';

export type PatchRejectReason = 'framing' | 'checksum' | 'overflow' | 'version' | 'unknown-type' | 'length' | 'malformed';

/** Frame type codes; device -> host below 0x80, host -> device from 0x80. */
export const FRAME_TYPES = {
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
export type FrameTypeName = keyof typeof FRAME_TYPES;
export type CommandTypeName = 'start' | 'stop' | 'identify' | 'set-rate' | 'keep-alive';

const TYPE_BY_CODE = new Map<number, FrameTypeName>(
  (Object.entries(FRAME_TYPES) as [FrameTypeName, number][]).map(([name, code]) => [code, name]),
);

export function frameTypeName(code: number): FrameTypeName | undefined {
  return TYPE_BY_CODE.get(code);
}

/** The waveform streams and their allowed sample rates (SET_RATE may choose among them). */
export type StreamName = 'ecg' | 'ppg' | 'accel';
export const STREAM_CODES: Readonly<Record<StreamName, number>> = { ecg: 1, ppg: 2, accel: 3 };
export const ALLOWED_RATES_HZ: Readonly<Record<StreamName, readonly number[]>> = {
  ecg: [125, 250, 500],
  ppg: [50, 100, 200],
  accel: [25, 50],
};
export const DEFAULT_RATES_HZ: Readonly<Record<StreamName, number>> = { ecg: 250, ppg: 100, accel: 25 };

/** ECG scale: one LSB is 2.5 µV (full scale +-81.9 mV after the front end's DC removal). */
export const ECG_MICROVOLTS_PER_LSB = 2.5;
/** Accelerometer scale: one LSB is 0.25 mg (full scale +-8.19 g). */
export const ACCEL_MILLI_G_PER_LSB = 0.25;
/** PPG samples: unsigned 22-bit photodiode ADC counts of received light (a pulse makes them fall). */
export const PPG_MAX_COUNT = 0x3fffff;
/** Skin temperature: 0.01 °C per LSB; this value means "not measured". */
export const SKIN_TEMP_CENTI_CELSIUS_UNAVAILABLE = 0x7fff;
export const BATTERY_PERCENT_UNKNOWN = 0xff;

/** STATUS flag bits (docs/interfaces/vigil-patch.md, "Status"). Bits 8-15 are reserved (0). */
export const STATUS_BITS = {
  'lead-off': 0x0001,
  'probe-off': 0x0002,
  motion: 0x0004,
  'low-battery': 0x0008,
  charging: 0x0010,
  streaming: 0x0020,
  'sensor-fault': 0x0040,
  'host-timeout': 0x0080,
} as const;
export type PatchCondition = keyof typeof STATUS_BITS;
const KNOWN_STATUS_MASK = Object.values(STATUS_BITS).reduce((m, b) => m | b, 0);

export const ACK_RESULTS = ['ok', 'unknown-command', 'bad-argument', 'not-allowed'] as const;
export type AckResult = (typeof ACK_RESULTS)[number];

export const MODEL_BYTES = 12;

export type PatchPayload =
  | { type: 'ecg'; sampleRateHz: number; /** ADC units, ECG_MICROVOLTS_PER_LSB each. */ samples: Int16Array }
  | { type: 'ppg'; sampleRateHz: number; red: Uint32Array; ir: Uint32Array }
  | { type: 'accel'; sampleRateHz: number; /** ACCEL_MILLI_G_PER_LSB each. */ x: Int16Array; y: Int16Array; z: Int16Array }
  | {
      type: 'status';
      flags: number;
      conditions: PatchCondition[];
      /** Reserved bits found set: kept raw, reported as an unknown device condition. */
      unknownFlagBits: number;
      skinTempCelsius: number | null;
      batteryPercent: number | null;
      batteryMv: number;
    }
  | { type: 'ack'; ackedSequence: number; ackedType: number; result: AckResult }
  | { type: 'identity'; firmware: { major: number; minor: number; patch: number }; hardwareRevision: number; model: string }
  | { type: 'start' }
  | { type: 'stop' }
  | { type: 'identify' }
  | { type: 'set-rate'; stream: StreamName; sampleRateHz: number }
  | { type: 'keep-alive' };

export interface PatchFrame {
  version: number;
  /** 8 upper-case hex digits. */
  serial: string;
  sequence: number;
  /** Device tick in ms since power-on (u32; for a waveform, the tick of its first sample). */
  tickMs: number;
  payload: PatchPayload;
}

export type DecodeResult = { ok: true; frame: PatchFrame } | { ok: false; reason: PatchRejectReason; detail: string };

type Reject = { ok: false; reason: PatchRejectReason; detail: string };
function reject(reason: PatchRejectReason, detail: string): Reject {
  return { ok: false, reason, detail };
}

// ---- CRC-32C ------------------------------------------------------------------------
// CRC-32C (Castagnoli, iSCSI, RFC 3720 B.4): polynomial 0x1EDC6F41 (reflected 0x82F63B78),
// init 0xFFFFFFFF, reflected in and out, final XOR 0xFFFFFFFF. Check value ("123456789"):
// 0xE3069283. Chosen over a 16-bit CRC for its Hamming distance at these frame lengths
// (HD 6 up to 655 bytes, Koopman) and because patch MCUs compute it in hardware.
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = (CRC32C_TABLE[(crc ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ---- COBS ---------------------------------------------------------------------------
// Consistent Overhead Byte Stuffing (Cheshire and Baker, IEEE/ACM ToN 7(2):159-172, 1999):
// removes every 0x00 from the frame, so 0x00 can delimit frames; at most one extra byte
// per 254 bytes.

/**
 * COBS-encodes `data` (no delimiter added). As the reference encoder, a block of 254 non-zero
 * bytes that ends the data gets no empty block after it (01..FE -> FF 01..FE).
 */
export function cobsEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + Math.ceil(data.length / 254) + 1);
  let codeAt = 0;
  let o = 1;
  let code = 1;
  for (let i = 0; i < data.length; i++) {
    const b = data[i] ?? 0;
    if (b !== 0) {
      out[o++] = b;
      code++;
    }
    if (b === 0 || code === 0xff) {
      out[codeAt] = code;
      code = 1;
      codeAt = o;
      if (b === 0 || i < data.length - 1) o++;
    }
  }
  out[codeAt] = code;
  return out.subarray(0, o);
}

/** COBS-decodes one frame (without its delimiter); null when it is not valid COBS. */
export function cobsDecode(encoded: Uint8Array): Uint8Array | null {
  if (encoded.length === 0) return null;
  const out = new Uint8Array(encoded.length);
  let o = 0;
  let i = 0;
  while (i < encoded.length) {
    const code = encoded[i] ?? 0;
    if (code === 0) return null;
    i++;
    if (i + code - 1 > encoded.length) return null;
    for (let k = 1; k < code; k++) {
      const b = encoded[i++] ?? 0;
      if (b === 0) return null;
      out[o++] = b;
    }
    if (code !== 0xff && i < encoded.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}

// ---- decoding -----------------------------------------------------------------------

function serialText(value: number): string {
  return value.toString(16).toUpperCase().padStart(8, '0');
}

const SERIAL_SHAPE = /^[0-9A-F]{8}$/;

export function isPatchSerial(text: string): boolean {
  return SERIAL_SHAPE.test(text);
}

function decodeWaveformRate(view: DataView, stream: StreamName): number | Reject {
  const rate = view.getUint16(0, true);
  if (!ALLOWED_RATES_HZ[stream].includes(rate)) {
    return reject('malformed', `${stream}: sample rate is not one of ${ALLOWED_RATES_HZ[stream].join(', ')} Hz`);
  }
  return rate;
}

function decodePayload(type: FrameTypeName, p: Uint8Array): PatchPayload | Reject {
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const exact = (n: number): Reject | null => (p.length === n ? null : reject('length', `${type}: payload must be ${n} bytes`));
  switch (type) {
    case 'ecg': {
      if (p.length < 4 || (p.length - 2) % 2 !== 0) return reject('length', 'ecg: payload must be a 2-byte rate and whole int16 samples');
      const rate = decodeWaveformRate(view, 'ecg');
      if (typeof rate !== 'number') return rate;
      const n = (p.length - 2) / 2;
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = view.getInt16(2 + 2 * i, true);
      return { type, sampleRateHz: rate, samples };
    }
    case 'ppg': {
      if (p.length < 10 || (p.length - 2) % 8 !== 0) return reject('length', 'ppg: payload must be a 2-byte rate and whole red/ir uint32 pairs');
      const rate = decodeWaveformRate(view, 'ppg');
      if (typeof rate !== 'number') return rate;
      const n = (p.length - 2) / 8;
      const red = new Uint32Array(n);
      const ir = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const r = view.getUint32(2 + 8 * i, true);
        const x = view.getUint32(6 + 8 * i, true);
        if (r > PPG_MAX_COUNT || x > PPG_MAX_COUNT) return reject('malformed', `ppg: sample ${i} exceeds the 22-bit ADC range`);
        red[i] = r;
        ir[i] = x;
      }
      return { type, sampleRateHz: rate, red, ir };
    }
    case 'accel': {
      if (p.length < 8 || (p.length - 2) % 6 !== 0) return reject('length', 'accel: payload must be a 2-byte rate and whole x/y/z int16 triples');
      const rate = decodeWaveformRate(view, 'accel');
      if (typeof rate !== 'number') return rate;
      const n = (p.length - 2) / 6;
      const x = new Int16Array(n);
      const y = new Int16Array(n);
      const z = new Int16Array(n);
      for (let i = 0; i < n; i++) {
        x[i] = view.getInt16(2 + 6 * i, true);
        y[i] = view.getInt16(4 + 6 * i, true);
        z[i] = view.getInt16(6 + 6 * i, true);
      }
      return { type, sampleRateHz: rate, x, y, z };
    }
    case 'status': {
      const bad = exact(8);
      if (bad) return bad;
      const flags = view.getUint16(0, true);
      const rawTemp = view.getInt16(2, true);
      const battery = view.getUint8(4);
      if (view.getUint8(5) !== 0) return reject('malformed', 'status: reserved byte 5 must be 0');
      const batteryMv = view.getUint16(6, true);
      if (battery !== BATTERY_PERCENT_UNKNOWN && battery > 100) return reject('malformed', 'status: battery percent outside 0..100 (or 255 unknown)');
      const conditions = (Object.entries(STATUS_BITS) as [PatchCondition, number][]).filter(([, bit]) => (flags & bit) !== 0).map(([name]) => name);
      return {
        type,
        flags,
        conditions,
        unknownFlagBits: flags & ~KNOWN_STATUS_MASK & 0xffff,
        skinTempCelsius: rawTemp === SKIN_TEMP_CENTI_CELSIUS_UNAVAILABLE ? null : rawTemp / 100,
        batteryPercent: battery === BATTERY_PERCENT_UNKNOWN ? null : battery,
        batteryMv,
      };
    }
    case 'ack': {
      const bad = exact(4);
      if (bad) return bad;
      const result = ACK_RESULTS[view.getUint8(3)];
      if (result === undefined) return reject('malformed', 'ack: result code is not 0..3');
      return { type, ackedSequence: view.getUint16(0, true), ackedType: view.getUint8(2), result };
    }
    case 'identity': {
      const bad = exact(4 + MODEL_BYTES);
      if (bad) return bad;
      let model = '';
      for (let i = 0; i < MODEL_BYTES; i++) {
        const b = p[4 + i] ?? 0;
        if (b === 0) {
          // NUL padding: the rest must be NUL too.
          if (p.subarray(4 + i, 4 + MODEL_BYTES).some((x) => x !== 0)) return reject('malformed', 'identity: model padding must be NUL');
          break;
        }
        if (b < 0x20 || b > 0x7e) return reject('malformed', 'identity: model is not printable ASCII');
        model += String.fromCharCode(b);
      }
      return {
        type,
        firmware: { major: view.getUint8(0), minor: view.getUint8(1), patch: view.getUint8(2) },
        hardwareRevision: view.getUint8(3),
        model,
      };
    }
    case 'start':
    case 'stop':
    case 'identify':
    case 'keep-alive': {
      const bad = exact(0);
      return bad ?? { type };
    }
    case 'set-rate': {
      const bad = exact(3);
      if (bad) return bad;
      const code = view.getUint8(0);
      const stream = (Object.entries(STREAM_CODES) as [StreamName, number][]).find(([, c]) => c === code)?.[0];
      if (stream === undefined) return reject('malformed', 'set-rate: stream code is not 1..3');
      const rate = view.getUint16(1, true);
      if (!ALLOWED_RATES_HZ[stream].includes(rate)) return reject('malformed', `set-rate: rate not allowed for ${stream}`);
      return { type, stream, sampleRateHz: rate };
    }
  }
}

/**
 * Decodes one frame as it arrives between two 0x00 delimiters (COBS-encoded, without the
 * delimiter). Never throws. Check order: overflow, framing (COBS), length (too short for a
 * header and CRC), checksum, version, unknown-type, length (declared vs actual, payload
 * shape), malformed (a field outside its documented values). The CRC is checked before the
 * version and type so that a bit error anywhere is reported as a checksum error.
 */
export function decodePatchFrame(encoded: Uint8Array): DecodeResult {
  if (!(encoded instanceof Uint8Array)) return reject('framing', 'input is not a byte array');
  if (encoded.length > MAX_ENCODED_FRAME_BYTES) return reject('overflow', `frame longer than ${MAX_ENCODED_FRAME_BYTES} bytes`);
  if (encoded.length === 0) return reject('framing', 'empty frame');
  const bytes = cobsDecode(encoded);
  if (bytes === null) return reject('framing', 'not valid COBS');
  if (bytes.length < HEADER_BYTES + CRC_BYTES) return reject('length', `frame shorter than ${HEADER_BYTES + CRC_BYTES} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const crcAt = bytes.length - CRC_BYTES;
  if (crc32c(bytes, 0, crcAt) !== view.getUint32(crcAt, true)) return reject('checksum', 'CRC-32C mismatch');
  const version = view.getUint8(0);
  if (version !== PATCH_PROTOCOL_VERSION) return reject('version', `protocol version is not ${PATCH_PROTOCOL_VERSION}`);
  const typeCode = view.getUint8(1);
  const type = frameTypeName(typeCode);
  if (type === undefined) return reject('unknown-type', `frame type 0x${typeCode.toString(16).padStart(2, '0')} is not known`);
  const length = view.getUint16(12, true);
  if (length > MAX_PAYLOAD_BYTES) return reject('length', `payload length above ${MAX_PAYLOAD_BYTES}`);
  if (HEADER_BYTES + length !== crcAt) return reject('length', 'payload length field does not match the frame');
  const payload = decodePayload(type, bytes.subarray(HEADER_BYTES, crcAt));
  if ('ok' in payload) return payload;
  return {
    ok: true,
    frame: {
      version,
      serial: serialText(view.getUint32(2, true)),
      sequence: view.getUint16(6, true),
      tickMs: view.getUint32(8, true),
      payload,
    },
  };
}

// ---- encoding -----------------------------------------------------------------------

/** Thrown by the encoder (device side, hw-sim, tests) for a frame the protocol cannot carry. */
export class PatchEncodeError extends RangeError {
  readonly code = 'PATCH_ENCODE_RANGE';
  constructor(
    readonly field: string,
    rule: string,
  ) {
    super(`${field}: ${rule}`);
    this.name = 'PatchEncodeError';
  }
}

function checkInt(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new PatchEncodeError(field, `must be an integer in ${min}..${max}`);
}

function checkRate(stream: StreamName, rate: number): void {
  if (!ALLOWED_RATES_HZ[stream].includes(rate)) throw new PatchEncodeError(`${stream}.sampleRateHz`, `must be one of ${ALLOWED_RATES_HZ[stream].join(', ')}`);
}

function encodePayload(p: PatchPayload): Uint8Array {
  switch (p.type) {
    case 'ecg': {
      checkRate('ecg', p.sampleRateHz);
      const out = new Uint8Array(2 + 2 * p.samples.length);
      const v = new DataView(out.buffer);
      v.setUint16(0, p.sampleRateHz, true);
      p.samples.forEach((s, i) => v.setInt16(2 + 2 * i, s, true));
      return out;
    }
    case 'ppg': {
      checkRate('ppg', p.sampleRateHz);
      if (p.red.length !== p.ir.length) throw new PatchEncodeError('ppg', 'red and ir must have the same length');
      const out = new Uint8Array(2 + 8 * p.ir.length);
      const v = new DataView(out.buffer);
      v.setUint16(0, p.sampleRateHz, true);
      for (let i = 0; i < p.ir.length; i++) {
        const r = p.red[i] ?? 0;
        const x = p.ir[i] ?? 0;
        if (r > PPG_MAX_COUNT || x > PPG_MAX_COUNT) throw new PatchEncodeError('ppg', 'samples must fit 22 bits');
        v.setUint32(2 + 8 * i, r, true);
        v.setUint32(6 + 8 * i, x, true);
      }
      return out;
    }
    case 'accel': {
      checkRate('accel', p.sampleRateHz);
      if (p.x.length !== p.y.length || p.x.length !== p.z.length) throw new PatchEncodeError('accel', 'x, y and z must have the same length');
      const out = new Uint8Array(2 + 6 * p.x.length);
      const v = new DataView(out.buffer);
      v.setUint16(0, p.sampleRateHz, true);
      for (let i = 0; i < p.x.length; i++) {
        v.setInt16(2 + 6 * i, p.x[i] ?? 0, true);
        v.setInt16(4 + 6 * i, p.y[i] ?? 0, true);
        v.setInt16(6 + 6 * i, p.z[i] ?? 0, true);
      }
      return out;
    }
    case 'status': {
      checkInt('status.flags', p.flags, 0, 0xffff);
      const out = new Uint8Array(8);
      const v = new DataView(out.buffer);
      v.setUint16(0, p.flags, true);
      if (p.skinTempCelsius === null) v.setInt16(2, SKIN_TEMP_CENTI_CELSIUS_UNAVAILABLE, true);
      else {
        const centi = Math.round(p.skinTempCelsius * 100);
        checkInt('status.skinTempCelsius', centi, -32768, SKIN_TEMP_CENTI_CELSIUS_UNAVAILABLE - 1);
        v.setInt16(2, centi, true);
      }
      if (p.batteryPercent !== null) checkInt('status.batteryPercent', p.batteryPercent, 0, 100);
      v.setUint8(4, p.batteryPercent ?? BATTERY_PERCENT_UNKNOWN);
      checkInt('status.batteryMv', p.batteryMv, 0, 0xffff);
      v.setUint16(6, p.batteryMv, true);
      return out;
    }
    case 'ack': {
      checkInt('ack.ackedSequence', p.ackedSequence, 0, 0xffff);
      checkInt('ack.ackedType', p.ackedType, 0, 0xff);
      const out = new Uint8Array(4);
      const v = new DataView(out.buffer);
      v.setUint16(0, p.ackedSequence, true);
      v.setUint8(2, p.ackedType);
      v.setUint8(3, ACK_RESULTS.indexOf(p.result));
      return out;
    }
    case 'identity': {
      const out = new Uint8Array(4 + MODEL_BYTES);
      checkInt('identity.firmware.major', p.firmware.major, 0, 255);
      checkInt('identity.firmware.minor', p.firmware.minor, 0, 255);
      checkInt('identity.firmware.patch', p.firmware.patch, 0, 255);
      checkInt('identity.hardwareRevision', p.hardwareRevision, 0, 255);
      if (!/^[\x20-\x7e]*$/.test(p.model) || p.model.length > MODEL_BYTES) {
        throw new PatchEncodeError('identity.model', `must be at most ${MODEL_BYTES} printable ASCII characters`);
      }
      out.set([p.firmware.major, p.firmware.minor, p.firmware.patch, p.hardwareRevision], 0);
      for (let i = 0; i < p.model.length; i++) out[4 + i] = p.model.charCodeAt(i);
      return out;
    }
    case 'start':
    case 'stop':
    case 'identify':
    case 'keep-alive':
      return new Uint8Array(0);
    case 'set-rate': {
      checkRate(p.stream, p.sampleRateHz);
      const out = new Uint8Array(3);
      const v = new DataView(out.buffer);
      v.setUint8(0, STREAM_CODES[p.stream]);
      v.setUint16(1, p.sampleRateHz, true);
      return out;
    }
  }
}

/** Builds the decoded frame bytes (header, payload, CRC), before COBS. Throws PatchEncodeError. */
export function buildPatchFrame(frame: PatchFrame): Uint8Array {
  if (!isPatchSerial(frame.serial)) throw new PatchEncodeError('serial', 'must be 8 upper-case hex digits');
  checkInt('version', frame.version, 0, 255);
  checkInt('sequence', frame.sequence, 0, 0xffff);
  checkInt('tickMs', frame.tickMs, 0, 0xffffffff);
  const payload = encodePayload(frame.payload);
  if (payload.length > MAX_PAYLOAD_BYTES) throw new PatchEncodeError('payload', `must be at most ${MAX_PAYLOAD_BYTES} bytes`);
  const out = new Uint8Array(HEADER_BYTES + payload.length + CRC_BYTES);
  const v = new DataView(out.buffer);
  v.setUint8(0, frame.version);
  v.setUint8(1, FRAME_TYPES[frame.payload.type]);
  v.setUint32(2, Number.parseInt(frame.serial, 16), true);
  v.setUint16(6, frame.sequence, true);
  v.setUint32(8, frame.tickMs, true);
  v.setUint16(12, payload.length, true);
  out.set(payload, HEADER_BYTES);
  v.setUint32(HEADER_BYTES + payload.length, crc32c(out, 0, HEADER_BYTES + payload.length), true);
  return out;
}

/** Encodes a frame as it goes on the wire: COBS, then the 0x00 delimiter. Throws PatchEncodeError. */
export function encodePatchFrame(frame: PatchFrame): Buffer {
  const encoded = cobsEncode(buildPatchFrame(frame));
  const out = Buffer.alloc(encoded.length + 1);
  out.set(encoded, 0);
  return out;
}

/** A host command frame (serial: broadcast; tick: the host's own ms counter, informative). */
export function encodeCommand(
  command: Extract<PatchPayload, { type: CommandTypeName }>,
  sequence: number,
  hostTickMs: number,
): Buffer {
  // A leading 0x00 as well: it ends whatever partial frame the device's parser may hold.
  const frame = encodePatchFrame({ version: PATCH_PROTOCOL_VERSION, serial: BROADCAST_SERIAL, sequence, tickMs: hostTickMs >>> 0, payload: command });
  return Buffer.concat([Buffer.from([0]), frame]);
}

// ---- sequence numbers ---------------------------------------------------------------

export type SequenceVerdict =
  | { kind: 'first' }
  | { kind: 'next' }
  /** `missing` frames were lost between the last one and this one. */
  | { kind: 'gap'; missing: number }
  | { kind: 'duplicate' }
  /** Older than the last frame accepted (sent before it, arrived after it). */
  | { kind: 'reordered' };

/**
 * Checks the device's wrapping 16-bit sequence number (HAZ-007). The distance from the last
 * accepted number, modulo 2^16, decides: 1 next; 0 duplicate; 2..32767 a gap of that
 * many minus one; 32768..65535 a frame from the past (reordered). Duplicates and reordered
 * frames are not accepted (the caller drops them) and do not move the reference.
 */
export class SequenceTracker {
  private last: number | null = null;

  check(sequence: number): SequenceVerdict {
    if (this.last === null) {
      this.last = sequence;
      return { kind: 'first' };
    }
    const distance = (sequence - this.last + 0x10000) & 0xffff;
    if (distance === 0) return { kind: 'duplicate' };
    if (distance >= 0x8000) return { kind: 'reordered' };
    this.last = sequence;
    return distance === 1 ? { kind: 'next' } : { kind: 'gap', missing: distance - 1 };
  }

  /** Forgets the reference (a new connection, or the device restarted). */
  reset(): void {
    this.last = null;
  }
}
