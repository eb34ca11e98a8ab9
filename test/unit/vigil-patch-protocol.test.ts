/**
 * Vigil patch protocol v1 (docs/interfaces/vigil-patch.md): COBS and CRC-32C against their
 * published vectors, the byte fixtures of the interface document, every frame type round
 * trip, every reject reason, the sequence-number check, and a seeded fuzz run (a failure
 * prints its seed; set PATCH_FUZZ_SEED to replay it).
 */
import t from 'tap';
import {
  ALLOWED_RATES_HZ,
  buildPatchFrame,
  cobsDecode,
  cobsEncode,
  crc32c,
  decodePatchFrame,
  encodeCommand,
  encodePatchFrame,
  MAX_ENCODED_FRAME_BYTES,
  MAX_PAYLOAD_BYTES,
  PatchEncodeError,
  SequenceTracker,
  type DecodeResult,
  type PatchFrame,
  type PatchPayload,
  type PatchRejectReason,
} from '../../agent/src/drivers/vigil-patch/protocol';
import { createRng } from '../../hw-sim/src/rng';

const hex = (text: string): Uint8Array => Uint8Array.from(text.trim().split(/\s+/).map((h) => Number.parseInt(h, 16)));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').replace(/(..)(?!$)/g, '$1 ');
/** The wire bytes without the trailing 0x00 delimiter (what the delimiter parser hands over). */
const unframe = (wire: Uint8Array): Uint8Array => wire.subarray(0, wire.length - 1);

function frame(payload: PatchPayload, over: Partial<PatchFrame> = {}): PatchFrame {
  return { version: 1, serial: '00C0FFEE', sequence: 0x1234, tickMs: 0x00010000, payload, ...over };
}

function mustDecode(bytes: Uint8Array): PatchFrame {
  const r = decodePatchFrame(bytes);
  if (!r.ok) throw new Error(`expected a frame, got ${r.reason}: ${r.detail}`);
  return r.frame;
}

function reasonOf(r: DecodeResult): PatchRejectReason | 'ok' {
  return r.ok ? 'ok' : r.reason;
}

t.test('REQ-PATCH-010 COBS encodes the published vectors and round-trips any bytes', async (t) => {
  // Cheshire and Baker (IEEE/ACM ToN 1999), as tabulated in the COBS literature.
  const vectors: Array<[string, string]> = [
    ['00', '01 01'],
    ['00 00', '01 01 01'],
    ['00 11 00', '01 02 11 01'],
    ['11 22 00 33', '03 11 22 02 33'],
    ['11 22 33 44', '05 11 22 33 44'],
    ['11 00 00 00', '02 11 01 01 01'],
  ];
  for (const [raw, encoded] of vectors) {
    t.equal(toHex(cobsEncode(hex(raw))), encoded, `encode ${raw}`);
    t.equal(toHex(cobsDecode(hex(encoded)) ?? new Uint8Array()), raw, `decode ${encoded}`);
  }
  const run254 = Uint8Array.from({ length: 254 }, (_, i) => i + 1);
  t.same([...cobsEncode(run254)], [0xff, ...run254], '01..FE: one full block, no trailing empty block');
  const run255 = Uint8Array.from({ length: 255 }, (_, i) => i);
  t.same([...cobsEncode(run255)], [0x01, 0xff, ...run255.subarray(1)], '00..FE');
  const runFf = Uint8Array.from({ length: 255 }, (_, i) => i + 1);
  t.same([...cobsEncode(runFf)], [0xff, ...runFf.subarray(0, 254), 0x02, 0xff], '01..FF');
  const rng = createRng(11);
  for (let n = 0; n < 2000; n++) {
    const data = Uint8Array.from({ length: rng.int(0, 1100) }, () => (rng.next() < 0.2 ? 0 : rng.int(0, 255)));
    const encoded = cobsEncode(data);
    if (encoded.includes(0)) t.fail(`seed 11 case ${n}: a zero in the encoding`);
    if (encoded.length > data.length + Math.ceil(data.length / 254) + 1) t.fail(`seed 11 case ${n}: overhead above 1 byte per 254`);
    const back = cobsDecode(encoded);
    if (back === null || Buffer.compare(Buffer.from(back), Buffer.from(data)) !== 0) t.fail(`seed 11 case ${n}: round trip`);
  }
  t.equal(cobsDecode(hex('05 11 22')), null, 'a code pointing past the end is not COBS');
  t.equal(cobsDecode(hex('02 11 00 01')), null, 'a zero inside is not COBS');
  t.equal(cobsDecode(new Uint8Array()), null, 'nothing is not a frame');
});

t.test('REQ-PATCH-011 CRC-32C gives the check value and the RFC 3720 B.4 vectors', async (t) => {
  t.equal(crc32c(Buffer.from('123456789', 'ascii')), 0xe3069283, 'check value');
  t.equal(crc32c(new Uint8Array(32)), 0x8a9136aa, '32 bytes of zeros');
  t.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43, '32 bytes of ones');
  t.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e, 'incrementing 00..1F');
  t.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c, 'decrementing 1F..00');
  t.equal(crc32c(new Uint8Array()), 0, 'empty');
});

t.test('REQ-PATCH-012 the byte fixtures of the interface document decode as documented', async (t) => {
  const status = mustDecode(unframe(hex('06 01 04 ee ff c0 03 34 12 01 02 01 02 08 02 20 04 5d 0d 57 07 d0 0f da 83 50 78 00')));
  t.same(status, {
    version: 1,
    serial: '00C0FFEE',
    sequence: 0x1234,
    tickMs: 65536,
    payload: { type: 'status', flags: 0x20, conditions: ['streaming'], unknownFlagBits: 0, skinTempCelsius: 34.21, batteryPercent: 87, batteryMv: 4048 },
  });
  const ecg = mustDecode(unframe(hex('06 01 01 ee ff c0 03 35 12 01 02 01 02 0a 02 fa 01 01 02 28 09 90 01 9c ff 97 ae f0 56 00')));
  t.equal(ecg.payload.type, 'ecg');
  if (ecg.payload.type === 'ecg') {
    t.equal(ecg.payload.sampleRateHz, 250);
    t.same([...ecg.payload.samples], [0, 40, 400, -100], 'int16 samples: 0, 0.1, 1.0 and -0.25 mV at 2.5 uV per LSB');
  }
  t.equal(toHex(encodeCommand({ type: 'start' }, 7, 1000)), '00 08 01 81 ff ff ff ff 07 03 e8 03 01 01 01 05 37 ad 0d 9b 00', 'START as the host sends it');
  const ack = mustDecode(unframe(hex('06 01 05 ee ff c0 04 36 12 10 02 01 02 04 02 07 02 81 05 33 92 53 33 00')));
  t.same(ack.payload, { type: 'ack', ackedSequence: 7, ackedType: 0x81, result: 'ok' });
});

t.test('REQ-PATCH-012 every frame type round-trips through encode and decode', async (t) => {
  const payloads: PatchPayload[] = [
    { type: 'ecg', sampleRateHz: 250, samples: Int16Array.from([-32768, -1, 0, 1, 32767]) },
    { type: 'ecg', sampleRateHz: 500, samples: Int16Array.from({ length: 100 }, (_, i) => i * 7 - 300) },
    { type: 'ppg', sampleRateHz: 100, red: Uint32Array.from([0, 1_000_000, 0x3fffff]), ir: Uint32Array.from([1, 1_500_000, 0x3ffffe]) },
    { type: 'accel', sampleRateHz: 25, x: Int16Array.from([0, -4000]), y: Int16Array.from([2000, 2001]), z: Int16Array.from([3464, -32768]) },
    { type: 'status', flags: 0x00ff, conditions: ['lead-off', 'probe-off', 'motion', 'low-battery', 'charging', 'streaming', 'sensor-fault', 'host-timeout'], unknownFlagBits: 0, skinTempCelsius: -0.5, batteryPercent: 0, batteryMv: 0 },
    { type: 'status', flags: 0x0100, conditions: [], unknownFlagBits: 0x0100, skinTempCelsius: null, batteryPercent: null, batteryMv: 65535 },
    { type: 'ack', ackedSequence: 65535, ackedType: 0x84, result: 'not-allowed' },
    { type: 'identity', firmware: { major: 1, minor: 4, patch: 2 }, hardwareRevision: 3, model: 'VIGIL-PATCH1' },
    { type: 'identity', firmware: { major: 0, minor: 0, patch: 0 }, hardwareRevision: 0, model: '' },
    { type: 'start' },
    { type: 'stop' },
    { type: 'identify' },
    { type: 'keep-alive' },
    { type: 'set-rate', stream: 'ecg', sampleRateHz: 125 },
    { type: 'set-rate', stream: 'ppg', sampleRateHz: 200 },
    { type: 'set-rate', stream: 'accel', sampleRateHz: 50 },
  ];
  for (const payload of payloads) {
    for (const over of [{}, { sequence: 0, tickMs: 0, serial: '00000000' }, { sequence: 65535, tickMs: 0xffffffff, serial: 'FFFFFFFF' }]) {
      const f = frame(payload, over);
      const wire = encodePatchFrame(f);
      t.equal(wire[wire.length - 1], 0, `${payload.type}: ends with the delimiter`);
      t.notOk(wire.subarray(0, -1).includes(0), `${payload.type}: no zero inside`);
      t.same(mustDecode(unframe(wire)), f, `${payload.type} ${JSON.stringify(over)}`);
    }
  }
  for (const stream of ['ecg', 'ppg', 'accel'] as const) {
    for (const rate of ALLOWED_RATES_HZ[stream]) t.ok(decodePatchFrame(unframe(encodePatchFrame(frame({ type: 'set-rate', stream, sampleRateHz: rate })))).ok, `${stream} ${rate} Hz`);
  }
  t.throws(() => encodePatchFrame(frame({ type: 'ecg', sampleRateHz: 360, samples: new Int16Array(1) })), PatchEncodeError, 'a rate the patch does not have');
  t.throws(() => encodePatchFrame(frame({ type: 'start' }, { serial: 'c0ffee' })), PatchEncodeError, 'a serial that is not 8 hex digits');
  t.throws(() => encodePatchFrame(frame({ type: 'ppg', sampleRateHz: 100, red: Uint32Array.from([0x400000]), ir: Uint32Array.from([0]) })), PatchEncodeError, 'beyond 22 bits');
  t.throws(() => encodePatchFrame(frame({ type: 'ecg', sampleRateHz: 250, samples: new Int16Array(MAX_PAYLOAD_BYTES) })), PatchEncodeError, 'a payload above the maximum');
});

/** A valid decoded frame with a field changed and the CRC recomputed (so the CRC passes). */
function withCrc(raw: Uint8Array): Uint8Array {
  const out = Uint8Array.from(raw);
  const v = new DataView(out.buffer);
  v.setUint32(out.length - 4, crc32c(out, 0, out.length - 4), true);
  return out;
}

t.test('HAZ-008 REQ-PATCH-013 every reject reason: framing, checksum, overflow, version, unknown-type, length, malformed', async (t) => {
  const raw = buildPatchFrame(frame({ type: 'status', flags: 0x20, conditions: ['streaming'], unknownFlagBits: 0, skinTempCelsius: 34.21, batteryPercent: 87, batteryMv: 4048 }));
  const enc = (bytes: Uint8Array): Uint8Array => cobsEncode(bytes);
  const cases: Array<[string, Uint8Array, PatchRejectReason]> = [
    ['empty', new Uint8Array(), 'framing'],
    ['not COBS', hex('09 01 02'), 'framing'],
    ['overlong', new Uint8Array(MAX_ENCODED_FRAME_BYTES + 1).fill(0x41), 'overflow'],
    ['shorter than a header and a CRC', enc(raw.subarray(0, 17)), 'length'],
    ['one bit flipped', enc(raw.map((b, i) => (i === 16 ? b ^ 0x04 : b))), 'checksum'],
    ['cut short (the CRC read from the wrong place)', enc(raw.subarray(0, raw.length - 2)), 'checksum'],
    ['version 2', enc(withCrc(raw.map((b, i) => (i === 0 ? 2 : b)))), 'version'],
    ['type 0x7f', enc(withCrc(raw.map((b, i) => (i === 1 ? 0x7f : b)))), 'unknown-type'],
    ['length field one too many', enc(withCrc(raw.map((b, i) => (i === 12 ? b + 1 : b)))), 'length'],
    ['length field above the maximum', enc(withCrc(raw.map((b, i) => (i === 13 ? 0x10 : b)))), 'length'],
    ['status payload of 7 bytes', enc(withCrc(Uint8Array.from([...raw.subarray(0, 12), 7, 0, ...raw.subarray(14, 21), 0, 0, 0, 0]))), 'length'],
    ['battery 101 %', enc(withCrc(raw.map((b, i) => (i === 18 ? 101 : b)))), 'malformed'],
    ['reserved status byte set', enc(withCrc(raw.map((b, i) => (i === 19 ? 1 : b)))), 'malformed'],
  ];
  const ecgRaw = buildPatchFrame(frame({ type: 'ecg', sampleRateHz: 250, samples: Int16Array.from([1, 2]) }));
  cases.push(['ECG at 360 Hz', enc(withCrc(ecgRaw.map((b, i) => (i === 14 ? 0x68 : i === 15 ? 0x01 : b)))), 'malformed']);
  cases.push(['ECG with half a sample', enc(withCrc(Uint8Array.from([...ecgRaw.subarray(0, 12), 5, 0, ...ecgRaw.subarray(14, 19), 0, 0, 0, 0]))), 'length']);
  const ppgRaw = buildPatchFrame(frame({ type: 'ppg', sampleRateHz: 100, red: Uint32Array.from([5]), ir: Uint32Array.from([6]) }));
  cases.push(['PPG beyond the 22-bit ADC', enc(withCrc(ppgRaw.map((b, i) => (i === 19 ? 0x01 : b)))), 'malformed']);
  const ackRaw = buildPatchFrame(frame({ type: 'ack', ackedSequence: 1, ackedType: 0x81, result: 'ok' }));
  cases.push(['ACK result 9', enc(withCrc(ackRaw.map((b, i) => (i === 17 ? 9 : b)))), 'malformed']);
  const idRaw = buildPatchFrame(frame({ type: 'identity', firmware: { major: 1, minor: 0, patch: 0 }, hardwareRevision: 1, model: 'AB' }));
  cases.push(['identity model with a control byte', enc(withCrc(idRaw.map((b, i) => (i === 18 ? 0x07 : b)))), 'malformed']);
  cases.push(['identity model with bytes after its NUL padding', enc(withCrc(idRaw.map((b, i) => (i === 25 ? 0x41 : b)))), 'malformed']);
  const rateRaw = buildPatchFrame(frame({ type: 'set-rate', stream: 'ecg', sampleRateHz: 250 }));
  cases.push(['SET_RATE for stream 4', enc(withCrc(rateRaw.map((b, i) => (i === 14 ? 4 : b)))), 'malformed']);
  const seen = new Set<string>();
  for (const [what, bytes, reason] of cases) {
    const r = decodePatchFrame(bytes);
    t.equal(reasonOf(r), reason, what);
    seen.add(reasonOf(r));
    if (!r.ok) t.ok(r.detail.length > 0, `${what}: the detail names the rule`);
  }
  t.same([...seen].sort(), ['checksum', 'framing', 'length', 'malformed', 'overflow', 'unknown-type', 'version'], 'every reason is exercised');
  t.equal(reasonOf(decodePatchFrame('not bytes' as unknown as Uint8Array)), 'framing', 'not a byte array');
});

t.test('HAZ-007 REQ-PATCH-014 sequence numbers: next, gap, duplicate and reordered, across the wrap', async (t) => {
  const s = new SequenceTracker();
  t.same(s.check(65533), { kind: 'first' });
  t.same(s.check(65534), { kind: 'next' });
  t.same(s.check(65535), { kind: 'next' });
  t.same(s.check(0), { kind: 'next' }, 'wraps 65535 -> 0');
  t.same(s.check(0), { kind: 'duplicate' });
  t.same(s.check(65535), { kind: 'reordered' }, 'a frame from before the wrap is from the past');
  t.same(s.check(4), { kind: 'gap', missing: 3 });
  t.same(s.check(2), { kind: 'reordered' }, 'a late frame does not move the reference');
  t.same(s.check(5), { kind: 'next' });
  t.same(s.check(5 + 32767), { kind: 'gap', missing: 32766 }, 'the largest forward jump');
  t.same(s.check(5), { kind: 'reordered' }, 'half the circle back is the past');
  s.reset();
  t.same(s.check(100), { kind: 'first' }, 'after a reset the next number is taken as it comes');
});

t.test('HAZ-008 REQ-PATCH-015 fuzz: 120,000 random and mutated frames never throw, and only valid frames decode', async (t) => {
  const seed = Number(process.env.PATCH_FUZZ_SEED ?? 20260121);
  const rng = createRng(seed);
  const valid: Uint8Array[] = [
    buildPatchFrame(frame({ type: 'ecg', sampleRateHz: 250, samples: Int16Array.from({ length: 50 }, (_, i) => i * 13) })),
    buildPatchFrame(frame({ type: 'ppg', sampleRateHz: 100, red: Uint32Array.from({ length: 20 }, (_, i) => 1_000_000 + i), ir: Uint32Array.from({ length: 20 }, (_, i) => 1_500_000 - i) })),
    buildPatchFrame(frame({ type: 'accel', sampleRateHz: 25, x: new Int16Array(5), y: new Int16Array(5).fill(2000), z: new Int16Array(5).fill(3464) })),
    buildPatchFrame(frame({ type: 'status', flags: 0x25, conditions: [], unknownFlagBits: 0, skinTempCelsius: 34, batteryPercent: 50, batteryMv: 3900 })),
    buildPatchFrame(frame({ type: 'ack', ackedSequence: 3, ackedType: 0x85, result: 'ok' })),
    buildPatchFrame(frame({ type: 'start' })),
  ];
  let decoded = 0;
  let collisions = 0;
  const started = performance.now();
  for (let n = 0; n < 120_000; n++) {
    let input: Uint8Array;
    let original: Uint8Array | null = null;
    const mode = n % 4;
    if (mode === 0) {
      input = Uint8Array.from({ length: rng.int(0, 1200) }, () => rng.int(1, 255));
    } else {
      original = valid[rng.int(0, valid.length - 1)]!;
      const raw = Uint8Array.from(original);
      const flips = mode === 1 ? 1 : rng.int(1, 8);
      for (let k = 0; k < flips; k++) {
        const at = rng.int(0, raw.length - 1);
        raw[at] = mode === 3 ? rng.int(0, 255) : raw[at]! ^ (1 << rng.int(0, 7));
      }
      const encoded = cobsEncode(raw);
      // Mode 3 also cuts or extends the encoded bytes (truncated frames, merged garbage).
      input = mode === 3 && rng.next() < 0.5 ? encoded.subarray(0, rng.int(0, encoded.length)) : encoded;
    }
    let r: DecodeResult;
    try {
      r = decodePatchFrame(input);
    } catch (err) {
      t.fail(`seed ${seed} case ${n}: threw ${String(err)}`);
      return;
    }
    decoded++;
    if (r.ok) {
      // Whatever decodes must encode back to the same bytes: nothing is guessed.
      const again = cobsEncode(buildPatchFrame(r.frame));
      if (Buffer.compare(Buffer.from(again), Buffer.from(input)) !== 0) {
        t.fail(`seed ${seed} case ${n}: a decoded frame does not re-encode to its bytes`);
        return;
      }
      // A mutation may give back the original frame (a byte replaced by itself, a bit
      // flipped twice, a cut at the very end of nothing); anything else passing is a collision.
      const changed = original === null || Buffer.compare(Buffer.from(buildPatchFrame(r.frame)), Buffer.from(original)) !== 0;
      if (changed && original !== null) collisions++;
    }
  }
  const elapsedMs = performance.now() - started;
  t.equal(decoded, 120_000, `seed ${seed}: every input gave a result`);
  t.equal(collisions, 0, `seed ${seed}: no corrupted frame passed the CRC-32C`);
  t.ok(elapsedMs < 60_000, `seed ${seed}: ${Math.round(elapsedMs)} ms (no input hangs the decoder)`);
});
