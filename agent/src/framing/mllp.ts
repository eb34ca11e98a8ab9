/**
 * MLLP (HL7 v2 Minimal Lower Layer Protocol, HL7 v2 transport, IHE PCD TF Vol 2 Appendix C):
 * a message travels as <VT=0x0B> message <FS=0x1C><CR=0x0D>. Wrapping, unwrapping one block,
 * and a bounded splitter of a byte stream into blocks.
 *
 * Pure: no I/O, no clock, nothing here throws on any input. It lives below both boundaries
 * that carry MLLP, so that neither imports upward: the TCP listener (io/mllp-tcp.ts) splits
 * each connection with MllpSplitter, and the HL7 driver (drivers/hl7-pcd01/driver.ts) gives
 * the serial boundary the end block as its delimiter, unwraps every frame and wraps its ACKs.
 * It knows nothing of HL7 beyond the block: the message inside is decoded by the driver.
 */

export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_TRAILER: readonly number[] = [0x1c, 0x0d];

/**
 * Largest HL7 message accepted, in bytes. A PCD-01 message of periodic vitals is 1-8 KiB;
 * a message carrying waveform arrays (NA) a few tens of KiB. Beyond this bound the frame is
 * discarded and counted (an unbounded buffer is a memory hazard: a device that never sends
 * the end block must not grow one).
 */
export const HL7_MAX_MESSAGE_BYTES = 256 * 1024;

/** Largest frame between two end blocks: the message, its start block and leading noise. */
export const MLLP_MAX_FRAME_BYTES = HL7_MAX_MESSAGE_BYTES + 64;

/**
 * Why the bytes of a frame are not an MLLP block (counted as frames-rejected.<reason>):
 *  - framing: no start block, an empty block, or an end byte 0x1C not followed by CR;
 *  - overflow: a message longer than HL7_MAX_MESSAGE_BYTES.
 */
export type MllpRejectReason = 'framing' | 'overflow';

/** Wraps a message in an MLLP block. */
export function frameMllp(message: string | Uint8Array): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'latin1') : Buffer.from(message);
  return Buffer.concat([Buffer.from([MLLP_START]), body, Buffer.from(MLLP_TRAILER)]);
}

export type UnwrapResult =
  | {
      ok: true;
      /** The HL7 message bytes between the start block and the end block. */
      payload: Uint8Array;
      /** Bytes before the first start block that were not CR/LF padding: noise between frames. */
      noiseBytes: number;
      /** Start blocks whose message never ended (a new start block came first). */
      truncatedFrames: number;
    }
  | { ok: false; reason: MllpRejectReason; detail: string; noiseBytes: number; truncatedFrames: number };

/**
 * Takes the bytes of one frame as a delimiter parser gives them: everything after the previous
 * end block (0x1C 0x0D) up to, not including, this one. Finds the message after the LAST start
 * block: bytes before a start block are noise, and a start block followed by another start
 * block is a truncated frame (the sender restarted). Never throws.
 */
export function unwrapMllp(frame: Uint8Array): UnwrapResult {
  let first = -1;
  let last = -1;
  let starts = 0;
  for (let i = 0; i < frame.length; i++) {
    if (frame[i] === MLLP_START) {
      if (first < 0) first = i;
      last = i;
      starts++;
    }
  }
  let noiseBytes = 0;
  const noiseEnd = first < 0 ? frame.length : first;
  for (let i = 0; i < noiseEnd; i++) {
    const b = frame[i];
    if (b !== 0x0d && b !== 0x0a) noiseBytes++;
  }
  const truncatedFrames = Math.max(0, starts - 1);
  if (last < 0) {
    return { ok: false, reason: 'framing', detail: 'MLLP: no start block (0x0B) before the end block', noiseBytes, truncatedFrames };
  }
  const payload = frame.subarray(last + 1);
  if (payload.length > HL7_MAX_MESSAGE_BYTES) {
    return { ok: false, reason: 'overflow', detail: `MLLP: message longer than ${HL7_MAX_MESSAGE_BYTES} bytes`, noiseBytes, truncatedFrames };
  }
  if (payload.length === 0) return { ok: false, reason: 'framing', detail: 'MLLP: empty block', noiseBytes, truncatedFrames };
  if (payload.includes(MLLP_END)) {
    return { ok: false, reason: 'framing', detail: 'MLLP: end block byte 0x1C not followed by CR', noiseBytes, truncatedFrames };
  }
  return { ok: true, payload, noiseBytes, truncatedFrames };
}

export type SplitEvent = { kind: 'frame'; bytes: Uint8Array } | { kind: 'overflow' } | { kind: 'truncated' };

/**
 * Splits a byte stream at the MLLP end block (0x1C 0x0D), bounded: past `maxFrameBytes`
 * without an end block the partial frame is discarded, reported once as an overflow, and the
 * bytes up to the next end block are skipped (so the tail of an over-long frame is never
 * taken for a frame). The same semantics as io/serial.ts BoundedDelimiterParser, for the TCP
 * link and for captures. Pure and incremental.
 */
export class MllpSplitter {
  private buffer: Buffer = Buffer.alloc(0);
  private discarding = false;

  constructor(private readonly maxFrameBytes: number = MLLP_MAX_FRAME_BYTES) {}

  push(chunk: Uint8Array): SplitEvent[] {
    const events: SplitEvent[] = [];
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // An end block split across two chunks: 0x1C at the end of the buffer, 0x0D first here.
    let carry = this.buffer;
    for (;;) {
      const joined = carry.length > 0 ? Buffer.concat([carry, data]) : data;
      carry = Buffer.alloc(0);
      const at = indexOfTrailer(joined);
      if (at < 0) {
        if (this.discarding) {
          // Keep only a possible first half of an end block.
          this.buffer = joined.length > 0 && joined[joined.length - 1] === MLLP_END ? Buffer.from([MLLP_END]) : Buffer.alloc(0);
        } else if (joined.length - (joined[joined.length - 1] === MLLP_END ? 1 : 0) > this.maxFrameBytes) {
          // A last byte 0x1C may be the first half of an end block: it does not count, so that a
          // frame of exactly the bound is a frame however the stream is cut (as at line end below).
          this.discarding = true;
          events.push({ kind: 'overflow' });
          this.buffer = joined[joined.length - 1] === MLLP_END ? Buffer.from([MLLP_END]) : Buffer.alloc(0);
        } else {
          this.buffer = Buffer.from(joined);
        }
        return events;
      }
      if (this.discarding) {
        this.discarding = false;
      } else if (at > this.maxFrameBytes) {
        events.push({ kind: 'overflow' });
      } else {
        events.push({ kind: 'frame', bytes: Uint8Array.from(joined.subarray(0, at)) });
      }
      data = joined.subarray(at + 2);
      this.buffer = Buffer.alloc(0);
      if (data.length === 0) return events;
    }
  }

  /** End of stream: a partial frame is reported, never passed on as a frame. */
  end(): SplitEvent[] {
    const pending = this.buffer.some((b) => b !== 0x0d && b !== 0x0a) || this.discarding;
    this.buffer = Buffer.alloc(0);
    this.discarding = false;
    return pending ? [{ kind: 'truncated' }] : [];
  }
}

function indexOfTrailer(buf: Buffer): number {
  let from = 0;
  for (;;) {
    const at = buf.indexOf(MLLP_END, from);
    if (at < 0 || at + 1 >= buf.length) return -1;
    if (buf[at + 1] === 0x0d) return at;
    from = at + 1;
  }
}
