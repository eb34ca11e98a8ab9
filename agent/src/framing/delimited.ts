/**
 * A bounded splitter of a byte stream into frames at a delimiter, linear in the bytes received:
 * the one framing core of every delimited device link (the serial delimiter parser of
 * io/serial.ts, the MLLP splitter of framing/mllp.ts on TCP).
 *
 * Why not the stock `@serialport/parser-delimiter` nor the concat-and-search it does: both join
 * the whole pending buffer to each new chunk and search it again from its start, so a frame fed
 * in k segments costs O(k x frame) (a 256 KiB HL7 message in 1-byte TCP segments cost 6.9 s of
 * CPU, issue 14). Here each received byte is searched once, from where the search stopped, and
 * copied into a pending buffer that grows by doubling and then into its frame; a delimiter split
 * across two chunks is found from the last (delimiter length - 1) bytes before the new chunk.
 *
 * Pure: no I/O, no clock; nothing here throws on any input.
 */

export type SplitEvent = { kind: 'frame'; bytes: Buffer } | { kind: 'overflow' } | { kind: 'truncated' };

/**
 * Splits at `delimiter`, bounded: past `maxFrameBytes` without a delimiter the partial frame is
 * discarded, reported once as an overflow, and the bytes up to the next delimiter are skipped (so
 * the tail of an over-long frame is never taken for a frame); a complete frame longer than
 * `maxFrameBytes` is reported as an overflow, never passed on. Memory held: at most
 * `maxFrameBytes` plus one chunk (and the first bytes of a delimiter cut between chunks).
 */
export class DelimitedSplitter {
  private readonly delimiter: Buffer;
  /** The pending bytes of the frame being received: pending[0, pendingBytes), grown by doubling up to the bound. */
  private pending: Buffer = Buffer.alloc(0);
  private pendingBytes = 0;
  private discarding = false;
  /** The last bytes after the last delimiter, at most (delimiter length - 1): the start of a delimiter split across chunks. */
  private readonly tail: Buffer;
  private tailBytes = 0;
  private work = 0;

  /**
   * @param isPadding bytes that do not make a partial frame at the end of the stream a
   *   truncated frame (CR/LF between MLLP blocks); default none.
   */
  constructor(
    delimiter: Uint8Array,
    private readonly maxFrameBytes: number,
    private readonly isPadding: (byte: number) => boolean = () => false,
  ) {
    this.delimiter = Buffer.from(delimiter);
    this.tail = Buffer.alloc(Math.max(0, this.delimiter.length - 1));
  }

  /**
   * The bytes read or copied so far: each received byte is searched once, kept pending once,
   * moved at most twice more when the pending buffer doubles, and copied once into its frame
   * (5 per byte), and each chunk adds at most d x d (d the delimiter's length) for the delimiter
   * bytes compared and kept across its boundary. So at most 5 x bytes + d x d x chunks whatever
   * the chunking: linear, never quadratic in the number of chunks. What REQ-HL7-036 bounds and
   * the bench reports.
   */
  get workBytes(): number {
    return this.work;
  }

  push(input: Uint8Array): SplitEvent[] {
    const events: SplitEvent[] = [];
    const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const d = this.delimiter.length;
    let from = 0;
    // A delimiter that began in the bytes before this chunk: k of its bytes ended the tail.
    const k = this.splitDelimiter(chunk);
    if (k > 0) {
      this.complete(chunk.subarray(0, 0), k, events);
      from = d - k;
    }
    for (let at = this.search(chunk, from); at >= 0; at = this.search(chunk, from)) {
      this.complete(chunk.subarray(from, at), 0, events);
      from = at + d;
    }
    const rest = chunk.subarray(from);
    this.keepTail(rest);
    if (this.discarding || rest.length === 0) return events;
    // The last bytes may be the first part of a delimiter cut between chunks: they do not count
    // against the bound, so a frame of exactly the bound is a frame however the stream is cut.
    if (this.pendingBytes + rest.length - this.delimiterPrefixInTail() > this.maxFrameBytes) {
      // Counted before the bytes are kept: the buffer never holds more than the bound.
      this.pendingBytes = 0;
      this.discarding = true;
      events.push({ kind: 'overflow' });
      return events;
    }
    this.append(rest);
    return events;
  }

  /** End of stream: a partial frame (other than padding) is reported, never passed on as a frame. */
  end(): SplitEvent[] {
    // Over the bound only by the first bytes of a delimiter that never came: over-long after all.
    const over = !this.discarding && this.pendingBytes > this.maxFrameBytes;
    let partial = this.discarding || over;
    for (let i = 0; i < this.pendingBytes && !partial; i++) partial = !this.isPadding(this.pending[i] as number);
    this.pendingBytes = 0;
    this.pending = Buffer.alloc(0);
    this.discarding = false;
    this.tailBytes = 0;
    return over ? [{ kind: 'overflow' }, { kind: 'truncated' }] : partial ? [{ kind: 'truncated' }] : [];
  }

  /**
   * How many bytes of a delimiter end the tail with the rest of it at the head of `chunk` (0 when
   * none): the earliest such start, so the largest count first.
   */
  private splitDelimiter(chunk: Buffer): number {
    const d = this.delimiter.length;
    for (let k = Math.min(d - 1, this.tailBytes); k >= 1; k--) {
      if (chunk.length < d - k) continue;
      this.work += d;
      let match = true;
      for (let i = 0; i < d && match; i++) {
        const byte = i < k ? this.tail[this.tailBytes - k + i] : chunk[i - k];
        match = byte === this.delimiter[i];
      }
      if (match) return k;
    }
    return 0;
  }

  /** The next delimiter at or after `from` in `chunk`, or -1. */
  private search(chunk: Buffer, from: number): number {
    const at = chunk.indexOf(this.delimiter, from);
    // indexOf reads from `from` up to the match, or to the end of the chunk when there is none.
    this.work += (at < 0 ? chunk.length : at + this.delimiter.length) - from;
    return at;
  }

  /**
   * A delimiter ended a frame: the pending bytes plus `head`, less the `overlap` delimiter bytes
   * that were already pending (a delimiter split across chunks).
   */
  private complete(head: Buffer, overlap: number, events: SplitEvent[]): void {
    const length = this.pendingBytes - overlap + head.length;
    if (this.discarding) {
      this.discarding = false;
    } else if (length > this.maxFrameBytes) {
      events.push({ kind: 'overflow' });
    } else {
      // One copy of each byte into the frame.
      const frame = Buffer.allocUnsafe(length);
      this.pending.copy(frame, 0, 0, this.pendingBytes - overlap);
      head.copy(frame, this.pendingBytes - overlap);
      events.push({ kind: 'frame', bytes: frame });
      this.work += length;
    }
    this.pendingBytes = 0;
    this.tailBytes = 0;
  }

  /** Keeps `bytes` pending (copied: the caller may reuse its buffer), growing the buffer by doubling. */
  private append(bytes: Buffer): void {
    const need = this.pendingBytes + bytes.length;
    if (need > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(need, 2 * this.pending.length, 256), Math.max(need, this.maxFrameBytes)));
      this.pending.copy(grown, 0, 0, this.pendingBytes);
      this.work += this.pendingBytes;
      this.pending = grown;
    }
    bytes.copy(this.pending, this.pendingBytes);
    this.pendingBytes = need;
    this.work += bytes.length;
  }

  /** How many bytes at the end of the tail are a proper prefix of the delimiter (the longest), 0 when none. */
  private delimiterPrefixInTail(): number {
    for (let k = this.tailBytes; k >= 1; k--) {
      this.work += k;
      if (this.tail.subarray(this.tailBytes - k, this.tailBytes).equals(this.delimiter.subarray(0, k))) return k;
    }
    return 0;
  }

  /** Keeps the last (delimiter length - 1) bytes received after the last delimiter. */
  private keepTail(rest: Buffer): void {
    const keep = this.tail.length;
    if (keep === 0 || rest.length === 0) return;
    if (rest.length >= keep) {
      rest.copy(this.tail, 0, rest.length - keep);
      this.tailBytes = keep;
    } else {
      const old = Math.min(this.tailBytes, keep - rest.length);
      this.tail.copyWithin(0, this.tailBytes - old, this.tailBytes);
      rest.copy(this.tail, old);
      this.tailBytes = old + rest.length;
    }
    this.work += this.tailBytes;
  }
}
