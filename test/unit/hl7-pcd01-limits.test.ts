/**
 * What one HL7 monitor's bytes may cost the gateway (issue 14): MLLP framing linear in the bytes
 * received whatever their segmentation (the TCP splitter and the serial delimiter parser share
 * framing/delimited.ts), and a message decoded only within what a monitor sends (segments,
 * repetitions). Work is counted in bytes read or copied, never timed: speed is measured in
 * `make bench`, not asserted here.
 */
import t from 'tap';
import { DelimitedSplitter } from '../../agent/src/framing/delimited';
import type { SplitEvent } from '../../agent/src/framing/delimited';
import { frameMllp, HL7_MAX_MESSAGE_BYTES, MLLP_TRAILER, MllpSplitter } from '../../agent/src/framing/mllp';
import { BoundedDelimiterParser } from '../../agent/src/io/serial';
import { decodeLimit, HL7_MAX_REPETITIONS, HL7_MAX_SEGMENTS, parseHl7 } from '../../agent/src/drivers/hl7-pcd01/hl7v2';
import { decodePcd01 } from '../../agent/src/drivers/hl7-pcd01/pcd01';
import { Pcd01Receiver } from '../../agent/src/drivers/hl7-pcd01/receiver';
import { createRng } from '../../hw-sim/src/rng';
import { monitorMessage, monitorObx } from '../support/hl7-pcd01-fixtures';
import type { ObxSpec } from '../support/hl7-pcd01-fixtures';

/** A 256 KiB HL7 message (the largest accepted), framed: VT, message, FS CR. */
function maxBlock(): Buffer {
  const message = Buffer.alloc(HL7_MAX_MESSAGE_BYTES, 0x41);
  message.write('MSH|^~\\&|', 0, 'latin1');
  return frameMllp(message);
}

/** Sums the bytes every Buffer.concat call produces while `run` runs: the re-joins of a quadratic splitter. */
function concatBytes(run: () => void): number {
  const original = Buffer.concat;
  let bytes = 0;
  Buffer.concat = ((list: readonly Uint8Array[], totalLength?: number) => {
    const out = original(list, totalLength);
    bytes += out.length;
    return out;
  }) as typeof Buffer.concat;
  try {
    run();
  } finally {
    Buffer.concat = original;
  }
  return bytes;
}

t.test('REQ-HL7-036 the MLLP splitter reads a 256 KiB block fed in 1-byte TCP segments with linear work', async (t) => {
  const block = maxBlock();
  const n = block.length;
  const splitter = new MllpSplitter();
  const events: SplitEvent[] = [];
  const joined = concatBytes(() => {
    for (let i = 0; i < n; i++) events.push(...splitter.push(block.subarray(i, i + 1)));
  });
  t.equal(events.length, 1, 'one event');
  t.ok(events[0]?.kind === 'frame' && Buffer.from(events[0].bytes).equals(block.subarray(0, n - 2)), 'the whole block, as sent');
  // Each byte searched once, kept once, moved at most twice as the buffer doubles, copied once
  // into its frame (5n); 2 x 2 bytes of the end block compared and kept per segment (4 per
  // 1-byte segment): 9n. A splitter that joins and searches its whole buffer per segment does
  // about n^2 / 2 (3.4e10 here).
  t.ok(splitter.workBytes <= 9 * n, `work ${splitter.workBytes} bytes <= 9 x ${n}`);
  t.ok(joined <= 2 * n, `bytes joined by Buffer.concat ${joined} <= 2 x ${n}: the pending bytes are never re-joined per segment`);
  const whole = new MllpSplitter();
  whole.push(block);
  t.ok(whole.workBytes <= 5 * n + 4, `in one segment: work ${whole.workBytes} <= 5 x ${n} + 4`);
});

t.test('REQ-HL7-036 the serial delimiter parser on an HL7 line: a 256 KiB block in 1-byte reads, linear work', async (t) => {
  const block = maxBlock();
  const n = block.length;
  const frames: Buffer[] = [];
  let overflows = 0;
  const parser = new BoundedDelimiterParser(Buffer.from(MLLP_TRAILER), HL7_MAX_MESSAGE_BYTES + 64, () => overflows++, () => undefined);
  parser.on('data', (b: Buffer) => frames.push(b));
  const joined = concatBytes(() => {
    for (let i = 0; i < n; i++) parser.write(block.subarray(i, i + 1));
  });
  await new Promise<void>((resolve) => parser.end(resolve));
  t.equal(frames.length, 1);
  t.ok(frames[0]?.equals(block.subarray(0, n - 2)), 'the whole block, as sent');
  t.equal(overflows, 0);
  t.ok(parser.workBytes <= 9 * n, `work ${parser.workBytes} bytes <= 9 x ${n}`);
  t.ok(joined <= 2 * n, `bytes joined by Buffer.concat ${joined} <= 2 x ${n}`);
});

/**
 * The splitter's events as a function of the whole stream: split at each delimiter (leftmost,
 * non-overlapping); a frame longer than the bound is an overflow; what follows the last
 * delimiter is truncated when over-long or not only padding. Chunking must not change them.
 */
function reference(stream: Buffer, delimiter: Buffer, max: number, isPadding: (b: number) => boolean): string[] {
  const out: string[] = [];
  let from = 0;
  for (let at = stream.indexOf(delimiter, from); at >= 0; at = stream.indexOf(delimiter, from)) {
    out.push(at - from > max ? 'overflow' : `frame:${stream.subarray(from, at).toString('hex')}`);
    from = at + delimiter.length;
  }
  const rest = stream.subarray(from);
  if (rest.length > max) out.push('overflow', 'truncated');
  else if (rest.some((b) => !isPadding(b))) out.push('truncated');
  return out;
}

const show = (events: SplitEvent[]): string[] => events.map((e) => (e.kind === 'frame' ? `frame:${e.bytes.toString('hex')}` : e.kind));

t.test('REQ-HL7-001 REQ-SERIAL-001 the linear splitter gives the same frames, overflows and truncations for any chunking (seeded)', async (t) => {
  const seed = 20260114;
  const rng = createRng(seed);
  const delimiters = [Buffer.from([0x1c, 0x0d]), Buffer.from('\r\n'), Buffer.from([0x00]), Buffer.from('<END>')];
  // Few distinct bytes, so that delimiters, their halves and near-misses are frequent.
  const alphabet = [0x1c, 0x0d, 0x0a, 0x00, 0x41, 0x3c, 0x45, 0x4e, 0x44, 0x3e];
  const isPadding = (b: number): boolean => b === 0x0d || b === 0x0a;
  let cases = 0;
  let mismatches = 0;
  for (let c = 0; c < 400; c++) {
    const delimiter = delimiters[rng.int(0, delimiters.length - 1)] as Buffer;
    const max = rng.int(0, 12);
    const stream = Buffer.from(Array.from({ length: rng.int(0, 80) }, () => alphabet[rng.int(0, alphabet.length - 1)] as number));
    const expected = reference(stream, delimiter, max, isPadding);
    for (const maxChunk of [1, 2, 3, 7, 100]) {
      const s = new DelimitedSplitter(delimiter, max, isPadding);
      const events: SplitEvent[] = [];
      for (let i = 0; i < stream.length; ) {
        const size = rng.int(0, maxChunk);
        const piece = stream.subarray(i, i + size);
        // A Buffer or a plain Uint8Array (a TCP socket gives the one, a capture reader may give the other).
        events.push(...s.push(c % 2 === 0 ? piece : Uint8Array.from(piece)));
        i += size;
      }
      events.push(...s.end());
      cases++;
      const got = show(events);
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        mismatches++;
        t.same(got, expected, `seed ${seed} case ${c}: ${stream.toString('hex')} at ${delimiter.toString('hex')}, max ${max}, chunks <= ${maxChunk}`);
      }
    }
  }
  t.equal(mismatches, 0, `${cases} chunkings of 400 streams (seed ${seed}) as the whole stream says`);
});

t.test('REQ-HL7-001 the splitter never holds more than its bound: an over-long chunk is refused before it is kept', async (t) => {
  const s = new DelimitedSplitter(Buffer.from([0x1c, 0x0d]), 16);
  t.same(show(s.push(Buffer.alloc(1000, 0x41))), ['overflow'], 'reported at once');
  t.same(show(s.push(Buffer.from([0x41, 0x1c]))), [], 'the tail is skipped; the first half of an end block is remembered');
  t.same(show(s.push(Buffer.from([0x0d, 0x42, 0x1c, 0x0d]))), ['frame:42'], 'the end block split across chunks ends the skip');
  t.same(show(s.end()), [], 'nothing pending');
});

// --- decode limits ----------------------------------------------------------------------

/** A monitor message with `rows` OBX rows of periodic vitals. */
function withRows(rows: number): string {
  const base = monitorObx();
  const obx: ObxSpec[] = Array.from({ length: rows }, (_, i) => ({ ...(base[1 + (i % 8)] as ObxSpec), containment: `1.${1 + Math.floor(i / 8)}.1.${1 + (i % 8)}` }));
  return monitorMessage({ obx: [base[0] as ObxSpec, ...obx] });
}
const OPTS = { defaultUtcOffsetMinutes: 0 };

t.test('REQ-HL7-037 a message of more segments than a monitor sends is refused before it is decoded', async (t) => {
  // MSH, PID, OBR and the MDS row: 4 segments besides the metric rows.
  const atLimit = withRows(HL7_MAX_SEGMENTS - 4);
  t.equal(atLimit.split('\r').filter((l) => l !== '').length, HL7_MAX_SEGMENTS, 'the fixture is at the limit');
  const ok = decodePcd01(Buffer.from(atLimit, 'latin1'), OPTS);
  t.ok(ok.ok && ok.kind === 'oru', `${HL7_MAX_SEGMENTS} segments are decoded`);
  const over = decodePcd01(Buffer.from(withRows(HL7_MAX_SEGMENTS - 3), 'latin1'), OPTS);
  t.match(over, { ok: false, reason: 'decode-limit', hl7Error: 207, detail: /513 segments.*HL7_MAX_SEGMENTS/ }, 'one more is refused');
  const tiny = `${monitorMessage({ obx: [] })}${'OBX\r'.repeat(60_000)}`;
  t.match(decodePcd01(Buffer.from(tiny, 'latin1'), OPTS), { ok: false, reason: 'decode-limit' }, '60,000 empty OBX rows within 256 KiB: refused');
  t.match(decodePcd01(Buffer.from(`${monitorMessage({ obx: [] })}${'NTE|1\r'.repeat(HL7_MAX_SEGMENTS)}`, 'latin1'), OPTS), { ok: false, reason: 'decode-limit' }, 'every segment counts, not only OBX');
  t.ok(decodePcd01(Buffer.from(monitorMessage().replace(/\r/g, '\r\r\n'), 'latin1'), OPTS).ok, 'blank lines are not segments');
});

t.test('REQ-HL7-037 a message of more repetitions than a monitor sends is refused before it is decoded', async (t) => {
  const message = monitorMessage();
  const reps = (count: number): string => message.replace('MRN0042^^^HOSP^MR', `MRN0042^^^HOSP^MR${'~X'.repeat(count)}`);
  // MSH-2 holds one repetition separator.
  t.ok(decodePcd01(Buffer.from(reps(HL7_MAX_REPETITIONS - 1), 'latin1'), OPTS).ok, `${HL7_MAX_REPETITIONS} repetition separators are decoded`);
  t.match(decodePcd01(Buffer.from(reps(HL7_MAX_REPETITIONS), 'latin1'), OPTS), { ok: false, reason: 'decode-limit', detail: /HL7_MAX_REPETITIONS/ });
  const declared = parseHl7(reps(HL7_MAX_REPETITIONS).replace(/~/g, '@'));
  t.match(declared, { ok: false, reason: 'decode-limit' }, 'the separator MSH-2 declares is counted');
  t.equal(decodeLimit('A~B', ['A~B'], '@'), null, 'another character is not a repetition');
});

t.test('REQ-HL7-037 a message beyond the decode limit is answered AR with ERR 207 and its control id', async (t) => {
  const receiver = new Pcd01Receiver({ patientId: null, patientIdAuthority: null, equipmentId: null, defaultUtcOffsetMinutes: 0 });
  const outcome = receiver.receive(Buffer.from(withRows(HL7_MAX_SEGMENTS), 'latin1'), Date.UTC(2026, 0, 1, 10));
  t.match(outcome, { kind: 'rejected', reason: 'decode-limit' });
  const ack = outcome.kind === 'rejected' ? (outcome.ack ?? '') : '';
  t.match(ack, /\rMSA\|AR\|MSG00001/, 'AR: sent again it would be refused again');
  t.match(ack, /\rERR\|\|\|207\^/, 'ERR-3 207');
});
