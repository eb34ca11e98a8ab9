/**
 * Recorded captures that `hw-sim replay` plays back (docs/hw-sim.md, "hw-sim replay"): what is
 * sent, item by item, and when. Pure: bytes in, items out; no I/O, no clock.
 *
 * Three formats:
 * - `hl7`: a file of HL7 v2 messages. MLLP blocks (a 0x0B byte anywhere) are taken as they are,
 *   one message per block. Otherwise a message starts at each line that begins with `MSH` and
 *   at each run of blank lines; segment lines may end in CR, LF or CR LF, as captures are found.
 *   Each message is sent as HL7 requires (HL7 v2.6 2.5.4: CR ends a segment; hl7-pcd01.md
 *   "Framing (MLLP)"): its segments each ended by CR, in one MLLP block (0x0B ... 0x1C 0x0D).
 *   The bytes of each segment are kept as recorded.
 * - `lines`: a serial text capture, one device line per line of the file (LF or CR LF; blank
 *   lines skipped). Each line is sent with the device's own terminator, CR LF for the Masimo
 *   ASCII 1 output (docs/interfaces/masimo-ascii.md "Line format"): captures copied from logs
 *   or code often lost it. The bytes of the line are kept as recorded.
 * - `bytelog`: JSON Lines `{"atMs": 0, "hex": "0b4d5348..."}`: the bytes of each line sent as
 *   they are, at `atMs` after the start (non-decreasing). No conversion at all.
 */

export const CAPTURE_FORMATS = ['hl7', 'lines', 'bytelog'] as const;
export type CaptureFormat = (typeof CAPTURE_FORMATS)[number];

export function isCaptureFormat(name: string): name is CaptureFormat {
  return (CAPTURE_FORMATS as readonly string[]).includes(name);
}

/** One thing to send. `atMs` null: paced by the replay's period. */
export interface CaptureItem {
  index: number;
  atMs: number | null;
  bytes: Buffer;
  /** Where it came from in the file, for the event log: `line 3`, `message 2 (line 7)`. */
  source: string;
  /** HL7: MSH-10 of the message, to match its ACK ('' when it has none). */
  controlId?: string;
}

/** The capture cannot be read; the message names the line and the rule. */
export class CaptureError extends Error {
  readonly code = 'CAPTURE_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'CaptureError';
  }
}

/** Largest capture read (the file is read whole). */
export const MAX_CAPTURE_BYTES = 64 * 1024 * 1024;

const VT = 0x0b;
const FS_CR = Buffer.from([0x1c, 0x0d]);

/** Lines of a text read byte for byte (latin1 keeps every byte), ended by CR LF, CR or LF. */
function splitLines(bytes: Buffer): string[] {
  return bytes.toString('latin1').split(/\r\n|\r|\n/);
}

/** MSH-10 of a message, read with the field separator it declares (MSH-1). */
function controlIdOf(firstSegment: string): string {
  const separator = firstSegment[3];
  if (!firstSegment.startsWith('MSH') || separator === undefined) return '';
  const msh10 = firstSegment.split(separator)[9] ?? '';
  const component = firstSegment[4] ?? '^';
  return msh10.split(component)[0] ?? '';
}

function mllpBlock(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from([VT]), message, FS_CR]);
}

function hl7Items(bytes: Buffer): CaptureItem[] {
  if (bytes.includes(VT)) {
    // Already MLLP: each block as recorded (its content untouched).
    const items: CaptureItem[] = [];
    let at = bytes.indexOf(VT);
    while (at >= 0) {
      const end = bytes.indexOf(FS_CR, at + 1);
      if (end < 0) throw new CaptureError(`block ${items.length + 1}: an MLLP start block (0x0B) without its end block (0x1C 0x0D)`);
      const message = bytes.subarray(at + 1, end);
      const first = message.toString('latin1').split(/[\r\n]/)[0] ?? '';
      items.push({ index: items.length, atMs: null, bytes: mllpBlock(message), source: `block ${items.length + 1}`, controlId: controlIdOf(first) });
      at = bytes.indexOf(VT, end + 2);
    }
    return items;
  }
  const messages: Array<{ line: number; segments: string[] }> = [];
  let current: { line: number; segments: string[] } | null = null;
  splitLines(bytes).forEach((text, i) => {
    if (text.trim() === '') {
      current = null; // a blank line ends the message
      return;
    }
    if (text.startsWith('MSH') || current === null) {
      if (!text.startsWith('MSH')) throw new CaptureError(`line ${i + 1}: a message must start with an MSH segment`);
      current = { line: i + 1, segments: [] };
      messages.push(current);
    }
    current.segments.push(text);
  });
  if (messages.length === 0) throw new CaptureError('no HL7 message (no line starts with MSH)');
  return messages.map((m, index) => ({
    index,
    atMs: null,
    bytes: mllpBlock(Buffer.from(m.segments.map((s) => `${s}\r`).join(''), 'latin1')),
    source: `message ${index + 1} (line ${m.line})`,
    controlId: controlIdOf(m.segments[0] ?? ''),
  }));
}

function lineItems(bytes: Buffer): CaptureItem[] {
  const items: CaptureItem[] = [];
  splitLines(bytes).forEach((text, i) => {
    if (text.trim() === '') return;
    items.push({ index: items.length, atMs: null, bytes: Buffer.from(`${text}\r\n`, 'latin1'), source: `line ${i + 1}` });
  });
  if (items.length === 0) throw new CaptureError('no line to send');
  return items;
}

function bytelogItems(bytes: Buffer): CaptureItem[] {
  const items: CaptureItem[] = [];
  let last = 0;
  bytes.toString('utf8').split(/\r?\n/).forEach((text, i) => {
    if (text.trim() === '') return;
    let entry: unknown;
    try {
      entry = JSON.parse(text);
    } catch {
      throw new CaptureError(`line ${i + 1}: not JSON`);
    }
    const { atMs, hex } = (entry ?? {}) as { atMs?: unknown; hex?: unknown };
    if (typeof atMs !== 'number' || !Number.isFinite(atMs) || atMs < last) throw new CaptureError(`line ${i + 1}: atMs must be a number, not below the line before`);
    if (typeof hex !== 'string' || hex.length === 0 || !/^([0-9a-fA-F]{2})+$/.test(hex)) throw new CaptureError(`line ${i + 1}: hex must be bytes as pairs of hex digits`);
    last = atMs;
    items.push({ index: items.length, atMs, bytes: Buffer.from(hex, 'hex'), source: `line ${i + 1}` });
  });
  if (items.length === 0) throw new CaptureError('no line to send');
  return items;
}

/** The items of a capture in `format`. Throws CaptureError. */
export function readCapture(bytes: Buffer, format: CaptureFormat): CaptureItem[] {
  if (bytes.length > MAX_CAPTURE_BYTES) throw new CaptureError(`larger than ${MAX_CAPTURE_BYTES} bytes`);
  switch (format) {
    case 'hl7':
      return hl7Items(bytes);
    case 'lines':
      return lineItems(bytes);
    case 'bytelog':
      return bytelogItems(bytes);
  }
}

/** The format when none is given: `.jsonl` is a byte log, else the device's own. */
export function defaultFormat(path: string, device: 'masimo-ascii' | 'hl7-monitor'): CaptureFormat {
  if (path.endsWith('.jsonl')) return 'bytelog';
  return device === 'hl7-monitor' ? 'hl7' : 'lines';
}

/**
 * When item n of the replay is due, in ms after the start: a byte log by its own times, the
 * other formats one item per period. A loop starts over one period after the last item.
 */
export function scheduleMs(items: readonly CaptureItem[], n: number, periodMs: number): number {
  const count = items.length;
  const item = items[n % count]!;
  const last = items[count - 1]!;
  const cycleMs = last.atMs === null ? count * periodMs : last.atMs + periodMs;
  const within = item.atMs === null ? (n % count) * periodMs : item.atMs;
  return Math.floor(n / count) * cycleMs + within;
}
