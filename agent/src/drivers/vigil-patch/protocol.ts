/**
 * Vigil sensor patch, binary protocol v1: whole frames. Decodes the bytes between two 0x00
 * delimiters into a typed frame or a reject reason, encodes frames and host commands, and
 * checks the sequence number. The module's public face: the layout and vocabulary
 * (frame-layout.ts), the framing (framing.ts: COBS, CRC-32C) and the payload codecs
 * (payload-decode.ts, payload-encode.ts) are exported from here too.
 *
 * Pure: no I/O, no clock, no Node I/O modules. The driver (driver.ts) owns the port, the
 * bounded 0x00-delimiter parser (io/serial.ts) and the timing; this file turns the bytes
 * between two delimiters into a typed frame or into a reject reason, and never throws.
 *
 * Source of truth: docs/interfaces/vigil-patch.md (Vigil is the manufacturer of both sides).
 * Rejects name the field and the rule in `detail`, never a value: samples are patient data.
 */
import type { PatchFrame, PatchPayload, CommandTypeName, PatchRejectReason } from './frame-layout';
import {
  BROADCAST_SERIAL,
  CRC_BYTES,
  FRAME_TYPES,
  frameTypeName,
  HEADER_BYTES,
  isPatchSerial,
  MAX_ENCODED_FRAME_BYTES,
  MAX_PAYLOAD_BYTES,
  PATCH_PROTOCOL_VERSION,
} from './frame-layout';
import { cobsDecode, cobsEncode, crc32c } from './framing';
import { decodePayload, reject } from './payload-decode';
import { checkInt, encodePayload, PatchEncodeError } from './payload-encode';

export * from './frame-layout';
export { cobsDecode, cobsEncode, crc32c } from './framing';
export { PatchEncodeError } from './payload-encode';

export type DecodeResult = { ok: true; frame: PatchFrame } | { ok: false; reason: PatchRejectReason; detail: string };

function serialText(value: number): string {
  return value.toString(16).toUpperCase().padStart(8, '0');
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
