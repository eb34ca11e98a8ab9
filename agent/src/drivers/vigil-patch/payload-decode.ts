/**
 * Vigil sensor patch, binary protocol v1: the decoder of each frame type's payload (the
 * bytes between the header and the CRC). Pure, never throws: a payload becomes a typed
 * PatchPayload or a reject with its reason (`length`: the shape of the payload; `malformed`:
 * a field outside its documented values). Rejects name the field and the rule, never a value.
 * Source of truth: docs/interfaces/vigil-patch.md.
 */
import type { FrameTypeName, PatchCondition, PatchPayload, PatchRejectReason, StreamName } from './frame-layout';
import {
  ACK_RESULTS,
  ALLOWED_RATES_HZ,
  BATTERY_PERCENT_UNKNOWN,
  KNOWN_STATUS_MASK,
  MODEL_BYTES,
  PPG_MAX_COUNT,
  SKIN_TEMP_CENTI_CELSIUS_UNAVAILABLE,
  STATUS_BITS,
  STREAM_CODES,
} from './frame-layout';

export type PayloadReject = { ok: false; reason: PatchRejectReason; detail: string };

export function reject(reason: PatchRejectReason, detail: string): PayloadReject {
  return { ok: false, reason, detail };
}

type Decoded<T extends PatchPayload['type']> = Extract<PatchPayload, { type: T }> | PayloadReject;

function decodeWaveformRate(view: DataView, stream: StreamName): number | PayloadReject {
  const rate = view.getUint16(0, true);
  if (!ALLOWED_RATES_HZ[stream].includes(rate)) {
    return reject('malformed', `${stream}: sample rate is not one of ${ALLOWED_RATES_HZ[stream].join(', ')} Hz`);
  }
  return rate;
}

function exactLength(type: FrameTypeName, p: Uint8Array, n: number): PayloadReject | null {
  return p.length === n ? null : reject('length', `${type}: payload must be ${n} bytes`);
}

function decodeEcg(p: Uint8Array, view: DataView): Decoded<'ecg'> {
  if (p.length < 4 || (p.length - 2) % 2 !== 0) return reject('length', 'ecg: payload must be a 2-byte rate and whole int16 samples');
  const rate = decodeWaveformRate(view, 'ecg');
  if (typeof rate !== 'number') return rate;
  const n = (p.length - 2) / 2;
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) samples[i] = view.getInt16(2 + 2 * i, true);
  return { type: 'ecg', sampleRateHz: rate, samples };
}

function decodePpg(p: Uint8Array, view: DataView): Decoded<'ppg'> {
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
  return { type: 'ppg', sampleRateHz: rate, red, ir };
}

function decodeAccel(p: Uint8Array, view: DataView): Decoded<'accel'> {
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
  return { type: 'accel', sampleRateHz: rate, x, y, z };
}

function decodeStatus(p: Uint8Array, view: DataView): Decoded<'status'> {
  const bad = exactLength('status', p, 8);
  if (bad) return bad;
  const flags = view.getUint16(0, true);
  const rawTemp = view.getInt16(2, true);
  const battery = view.getUint8(4);
  if (view.getUint8(5) !== 0) return reject('malformed', 'status: reserved byte 5 must be 0');
  const batteryMv = view.getUint16(6, true);
  if (battery !== BATTERY_PERCENT_UNKNOWN && battery > 100) return reject('malformed', 'status: battery percent outside 0..100 (or 255 unknown)');
  const conditions = (Object.entries(STATUS_BITS) as [PatchCondition, number][]).filter(([, bit]) => (flags & bit) !== 0).map(([name]) => name);
  return {
    type: 'status',
    flags,
    conditions,
    unknownFlagBits: flags & ~KNOWN_STATUS_MASK & 0xffff,
    skinTempCelsius: rawTemp === SKIN_TEMP_CENTI_CELSIUS_UNAVAILABLE ? null : rawTemp / 100,
    batteryPercent: battery === BATTERY_PERCENT_UNKNOWN ? null : battery,
    batteryMv,
  };
}

function decodeAck(p: Uint8Array, view: DataView): Decoded<'ack'> {
  const bad = exactLength('ack', p, 4);
  if (bad) return bad;
  const result = ACK_RESULTS[view.getUint8(3)];
  if (result === undefined) return reject('malformed', 'ack: result code is not 0..3');
  return { type: 'ack', ackedSequence: view.getUint16(0, true), ackedType: view.getUint8(2), result };
}

function decodeIdentity(p: Uint8Array, view: DataView): Decoded<'identity'> {
  const bad = exactLength('identity', p, 4 + MODEL_BYTES);
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
    type: 'identity',
    firmware: { major: view.getUint8(0), minor: view.getUint8(1), patch: view.getUint8(2) },
    hardwareRevision: view.getUint8(3),
    model,
  };
}

function decodeSetRate(p: Uint8Array, view: DataView): Decoded<'set-rate'> {
  const bad = exactLength('set-rate', p, 3);
  if (bad) return bad;
  const code = view.getUint8(0);
  const stream = (Object.entries(STREAM_CODES) as [StreamName, number][]).find(([, c]) => c === code)?.[0];
  if (stream === undefined) return reject('malformed', 'set-rate: stream code is not 1..3');
  const rate = view.getUint16(1, true);
  if (!ALLOWED_RATES_HZ[stream].includes(rate)) return reject('malformed', `set-rate: rate not allowed for ${stream}`);
  return { type: 'set-rate', stream, sampleRateHz: rate };
}

/** Decodes the payload of a frame of type `type`; never throws. */
export function decodePayload(type: FrameTypeName, p: Uint8Array): PatchPayload | PayloadReject {
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  switch (type) {
    case 'ecg':
      return decodeEcg(p, view);
    case 'ppg':
      return decodePpg(p, view);
    case 'accel':
      return decodeAccel(p, view);
    case 'status':
      return decodeStatus(p, view);
    case 'ack':
      return decodeAck(p, view);
    case 'identity':
      return decodeIdentity(p, view);
    case 'start':
    case 'stop':
    case 'identify':
    case 'keep-alive':
      return exactLength(type, p, 0) ?? { type };
    case 'set-rate':
      return decodeSetRate(p, view);
  }
}
