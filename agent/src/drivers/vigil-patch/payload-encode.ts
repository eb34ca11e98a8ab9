/**
 * Vigil sensor patch, binary protocol v1: the encoder of each frame type's payload, used by
 * the host commands and by the device side (hw-sim, tests). Pure; throws PatchEncodeError for
 * a value the protocol cannot carry. Source of truth: docs/interfaces/vigil-patch.md.
 */
import type { PatchPayload, StreamName } from './frame-layout';
import {
  ACK_RESULTS,
  ALLOWED_RATES_HZ,
  BATTERY_PERCENT_UNKNOWN,
  MODEL_BYTES,
  PPG_MAX_COUNT,
  SKIN_TEMP_CENTI_CELSIUS_UNAVAILABLE,
  STREAM_CODES,
} from './frame-layout';

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

export function checkInt(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new PatchEncodeError(field, `must be an integer in ${min}..${max}`);
}

function checkRate(stream: StreamName, rate: number): void {
  if (!ALLOWED_RATES_HZ[stream].includes(rate)) throw new PatchEncodeError(`${stream}.sampleRateHz`, `must be one of ${ALLOWED_RATES_HZ[stream].join(', ')}`);
}

type Payload<T extends PatchPayload['type']> = Extract<PatchPayload, { type: T }>;

function encodeEcg(p: Payload<'ecg'>): Uint8Array {
  checkRate('ecg', p.sampleRateHz);
  const out = new Uint8Array(2 + 2 * p.samples.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, p.sampleRateHz, true);
  p.samples.forEach((s, i) => v.setInt16(2 + 2 * i, s, true));
  return out;
}

function encodePpg(p: Payload<'ppg'>): Uint8Array {
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

function encodeAccel(p: Payload<'accel'>): Uint8Array {
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

function encodeStatus(p: Payload<'status'>): Uint8Array {
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

function encodeAck(p: Payload<'ack'>): Uint8Array {
  checkInt('ack.ackedSequence', p.ackedSequence, 0, 0xffff);
  checkInt('ack.ackedType', p.ackedType, 0, 0xff);
  const out = new Uint8Array(4);
  const v = new DataView(out.buffer);
  v.setUint16(0, p.ackedSequence, true);
  v.setUint8(2, p.ackedType);
  v.setUint8(3, ACK_RESULTS.indexOf(p.result));
  return out;
}

function encodeIdentity(p: Payload<'identity'>): Uint8Array {
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

function encodeSetRate(p: Payload<'set-rate'>): Uint8Array {
  checkRate(p.stream, p.sampleRateHz);
  const out = new Uint8Array(3);
  const v = new DataView(out.buffer);
  v.setUint8(0, STREAM_CODES[p.stream]);
  v.setUint16(1, p.sampleRateHz, true);
  return out;
}

/** Encodes a payload (the bytes between the header and the CRC). Throws PatchEncodeError. */
export function encodePayload(p: PatchPayload): Uint8Array {
  switch (p.type) {
    case 'ecg':
      return encodeEcg(p);
    case 'ppg':
      return encodePpg(p);
    case 'accel':
      return encodeAccel(p);
    case 'status':
      return encodeStatus(p);
    case 'ack':
      return encodeAck(p);
    case 'identity':
      return encodeIdentity(p);
    case 'start':
    case 'stop':
    case 'identify':
    case 'keep-alive':
      return new Uint8Array(0);
    case 'set-rate':
      return encodeSetRate(p);
  }
}
