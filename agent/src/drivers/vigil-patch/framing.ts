/**
 * Vigil sensor patch, binary protocol v1: the framing of the bytes on the wire, COBS (so
 * that 0x00 delimits frames) and the CRC-32C every frame ends with. Pure; no I/O.
 * Source of truth: docs/interfaces/vigil-patch.md.
 */

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
