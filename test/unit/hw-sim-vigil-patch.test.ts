/**
 * hw-sim's sensor patch (hw-sim/src/devices/vigil-patch.ts): its bytes decoded with the
 * agent's own decoder, the host commands and their answers, the signals against the truth
 * they were made from, every fault, the command-line options, and replay of a WFDB record
 * (a small one written here: `make test` needs no shared data). No pty, no clock.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePatchFrame, encodeCommand, FRAME_TYPES, type DecodeResult, type PatchFrame, type PatchPayload } from '../../agent/src/drivers/vigil-patch/protocol';
import { encode212, encodeAnnotations } from '../../agent/src/io/wfdb';
import { HOST_TIMEOUT_MS, OTHER_PATCH_SERIAL, patchStateAt, VigilPatchDevice, type PatchInjectKind, type VigilPatchOptions } from '../../hw-sim/src/devices/vigil-patch';
import { MitdbReplay } from '../../hw-sim/src/replay';
import { ratioForSpo2, syntheticEcg } from '../../hw-sim/src/signals';
import { parsePatchArgs } from '../../hw-sim/src/vigil-patch-cli';

/** Splits wire bytes at 0x00 and decodes every frame. */
function decodeAll(bytes: Uint8Array): DecodeResult[] {
  const out: DecodeResult[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0) {
      if (i > start) out.push(decodePatchFrame(bytes.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}
const frames = (bytes: Uint8Array): PatchFrame[] => decodeAll(bytes).flatMap((r) => (r.ok ? [r.frame] : []));
const types = (bytes: Uint8Array): string[] => frames(bytes).map((f) => f.payload.type);

function device(over: Partial<VigilPatchOptions> = {}): VigilPatchDevice {
  return new VigilPatchDevice({ scenario: 'stable', seed: 9, tickStartMs: 1_000_000, sequenceStart: 65_530, ...over });
}

let hostSeq = 0;
const send = (d: VigilPatchDevice, command: Parameters<typeof encodeCommand>[0]): PatchFrame[] => frames(d.receive(encodeCommand(command, hostSeq++, 0)));

t.test('REQ-PATCH-040 idle until START: one STATUS a second; then ECG, PPG and accelerometer frames in 200 ms blocks', async (t) => {
  const d = device();
  const idle = [0, 1, 2, 3, 4].map(() => d.nextBlock());
  t.same(idle.map((b) => types(b.bytes)), [[], [], [], [], ['status']], 'idle: only the STATUS closing the second');
  const status = frames(idle[4]!.bytes)[0]!.payload as Extract<PatchPayload, { type: 'status' }>;
  t.notOk(status.conditions.includes('streaming'), 'not streaming');
  const [ack] = send(d, { type: 'start' });
  t.same(ack?.payload, { type: 'ack', ackedSequence: hostSeq - 1, ackedType: FRAME_TYPES.start, result: 'ok' });
  const blocks = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(() => d.nextBlock());
  t.same(types(blocks[0]!.bytes), ['ecg', 'ppg', 'accel']);
  t.same(types(blocks[4]!.bytes), ['ecg', 'ppg', 'accel', 'status'], 'the STATUS closes the second, after its waveforms');
  const all = blocks.flatMap((b) => frames(b.bytes));
  const ecg = all.filter((f) => f.payload.type === 'ecg');
  t.ok(ecg.every((f) => f.payload.type === 'ecg' && f.payload.sampleRateHz === 250 && f.payload.samples.length === 50), 'ECG: 50 samples at 250 Hz');
  t.ok(all.filter((f) => f.payload.type === 'ppg').every((f) => f.payload.type === 'ppg' && f.payload.sampleRateHz === 100 && f.payload.ir.length === 20), 'PPG: 20 red/IR pairs at 100 Hz');
  t.ok(all.filter((f) => f.payload.type === 'accel').every((f) => f.payload.type === 'accel' && f.payload.sampleRateHz === 25 && f.payload.x.length === 5), 'accelerometer: 5 triples at 25 Hz');
  t.same(ecg.map((f) => f.tickMs - ecg[0]!.tickMs), [0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800], 'the tick of each block follows the device clock');
  const seqs = all.map((f) => f.sequence);
  t.ok(seqs.every((s, i) => i === 0 || s === ((seqs[i - 1]! + 1) & 0xffff)), 'sequence numbers by one');
  t.ok(seqs.includes(0) && seqs.includes(65535), 'and the wrap 65535 -> 0 happens');
  t.ok(all.every((f) => f.serial === '00C0FFEE' && f.version === 1));
});

t.test('REQ-PATCH-041 every host command is acknowledged; IDENTIFY, SET_RATE, STOP and the host timeout', async (t) => {
  const d = device();
  const id = send(d, { type: 'identify' });
  t.same(id.map((f) => f.payload.type), ['ack', 'identity'], 'ACK then IDENTITY, in sequence order');
  t.same(id[1]?.payload, { type: 'identity', firmware: { major: 1, minor: 4, patch: 2 }, hardwareRevision: 3, model: 'VIGIL-PATCH1' });
  t.ok(id[1]!.sequence === ((id[0]!.sequence + 1) & 0xffff));
  send(d, { type: 'start' });
  t.same(send(d, { type: 'set-rate', stream: 'ecg', sampleRateHz: 500 })[0]?.payload, { type: 'ack', ackedSequence: hostSeq - 1, ackedType: FRAME_TYPES['set-rate'], result: 'ok' });
  const fast = frames(d.nextBlock().bytes).find((f) => f.payload.type === 'ecg');
  t.ok(fast?.payload.type === 'ecg' && fast.payload.sampleRateHz === 500 && fast.payload.samples.length === 100, 'ECG at 500 Hz from the next block');
  t.equal(send(d, { type: 'keep-alive' })[0]?.payload.type, 'ack');
  send(d, { type: 'stop' });
  t.same(types(d.nextBlock().bytes), [], 'STOP: no waveforms');
  t.equal(frames(d.receive(Buffer.from([0x05, 0x11, 0x22, 0x33, 0x44, 0x00]))).length, 0, 'a host frame that does not decode gets no answer');
  t.equal(d.takeCommandEvents().at(-1)?.result, 'rejected');
  // Host timeout: streaming, then silence from the host for HOST_TIMEOUT_MS.
  send(d, { type: 'start' });
  let streaming = 0;
  let timedOut: Extract<PatchPayload, { type: 'status' }> | null = null;
  for (let i = 0; i < (HOST_TIMEOUT_MS / 200) * 2; i++) {
    const b = d.nextBlock();
    if (b.streaming) streaming++;
    for (const f of frames(b.bytes)) if (f.payload.type === 'status' && f.payload.conditions.includes('host-timeout')) timedOut ??= f.payload;
  }
  t.ok(streaming >= HOST_TIMEOUT_MS / 200 - 1 && streaming <= HOST_TIMEOUT_MS / 200 + 1, `streamed for the host timeout only (${streaming} blocks)`);
  t.ok(timedOut && !timedOut.conditions.includes('streaming'), 'then STATUS says host-timeout, not streaming');
});

t.test('REQ-PATCH-042 the same seed gives the same bytes', async (t) => {
  const run = (seed: number): Buffer => {
    const d = device({ seed });
    d.receive(encodeCommand({ type: 'start' }, 0, 0));
    return Buffer.concat(Array.from({ length: 25 }, () => d.nextBlock().bytes));
  };
  t.ok(run(4).equals(run(4)), 'seed 4 twice');
  t.notOk(run(4).equals(run(5)), 'seeds 4 and 5 differ');
});

t.test('REQ-PATCH-043 the signals carry the truth: QRS at the heart rate, red/IR ratio from SpO2, breathing on the sternum axis', async (t) => {
  const d = device({ scenario: 'desaturation', autoStart: true });
  const ecg: number[] = [];
  const red: number[] = [];
  const ir: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < 5 * 60; i++) {
    if (i % 5 === 0) d.receive(encodeCommand({ type: 'keep-alive' }, i, 0));
    for (const f of frames(d.nextBlock().bytes)) {
      if (f.payload.type === 'ecg') ecg.push(...f.payload.samples);
      if (f.payload.type === 'ppg') (red.push(...f.payload.red), ir.push(...f.payload.ir));
      if (f.payload.type === 'accel') y.push(...f.payload.y);
    }
  }
  // R peaks: local maxima above 0.6 mV (240 LSB at 2.5 uV), counted over 50-60 s.
  const peaks = ecg.slice(250 * 50, 250 * 60).filter((v, i, a) => v > 240 && v >= (a[i - 1] ?? 0) && v > (a[i + 1] ?? 0)).length;
  const truth = patchStateAt('desaturation', 55);
  t.ok(Math.abs(peaks * 6 - truth.heartRateBpm) <= 8, `${peaks} beats in 10 s at ${truth.heartRateBpm.toFixed(0)} /min`);
  // Ratio of ratios over 50-60 s (SpO2 85 % there): (AC/DC red) / (AC/DC IR), AC as the 5-95 % spread.
  const acdc = (x: number[]): number => {
    const s = x.slice(100 * 50, 100 * 60).sort((a, b) => a - b);
    const lo = s[Math.floor(s.length * 0.05)]!;
    const hi = s[Math.floor(s.length * 0.95)]!;
    return (hi - lo) / ((hi + lo) / 2);
  };
  const r = acdc(red) / acdc(ir);
  t.ok(Math.abs(r - ratioForSpo2(85)!) < 0.06, `R ${r.toFixed(3)} for SpO2 85 % (curve: ${ratioForSpo2(85)})`);
  // Breaths: zero crossings of the sternum axis about its mean, 30-60 s (24 /min at the nadir).
  const seg = y.slice(25 * 45, 25 * 60);
  const mean = seg.reduce((a, b) => a + b, 0) / seg.length;
  const smooth = seg.map((_, i) => seg.slice(Math.max(0, i - 4), i + 5).reduce((a, b) => a + b, 0) / Math.min(9, i + 5, seg.length - i + 4) - mean);
  const rising = smooth.filter((v, i) => i > 0 && v > 0 && (smooth[i - 1] ?? 0) <= 0).length;
  t.ok(Math.abs(rising * 4 - 24) <= 4, `${rising} breaths in 15 s at 24 /min`);
  t.same(ratioForSpo2(97), 0.52);
  t.ok(Math.abs(ratioForSpo2(88, { a: 100, b: -10, c: -2 })! - 1) < 1e-9, 'a quadratic curve inverted on its decreasing branch');
  t.equal(ratioForSpo2(120, { a: 100, b: -10, c: -2 }), null, 'a saturation the curve never gives');
});

t.test('REQ-PATCH-044 faults: garbage, bit errors, truncation, duplicates, reordering, silence, another patch, sensor conditions', async (t) => {
  const at = (kind: PatchInjectKind, durationS: number | null = null): VigilPatchDevice =>
    device({ autoStart: true, injections: [{ kind, atS: 1, durationS }] });
  const blockAt1 = (d: VigilPatchDevice) => {
    for (let i = 0; i < 5; i++) d.nextBlock();
    return d.nextBlock();
  };
  const garbage = blockAt1(at('garbage'));
  t.ok(decodeAll(garbage.bytes).filter((r) => !r.ok).length >= 1 && types(garbage.bytes).join() === 'ecg,ppg,accel', 'garbage before valid frames');
  const bit = blockAt1(at('bit-error'));
  t.same(decodeAll(bit.bytes).map((r) => (r.ok ? 'ok' : r.reason)).sort(), ['checksum', 'ok', 'ok'], 'one frame with a bit error: a checksum reject');
  const cut = blockAt1(at('truncate'));
  t.same(decodeAll(cut.bytes).filter((r) => !r.ok).length, 1, 'the truncated frame is one reject');
  t.same(types(cut.bytes), ['ppg', 'accel']);
  const dup = frames(blockAt1(at('duplicate')).bytes);
  t.same(dup.map((f) => f.payload.type), ['ecg', 'ecg', 'ppg', 'accel']);
  t.equal(dup[0]?.sequence, dup[1]?.sequence, 'the same frame twice');
  const swapped = frames(blockAt1(at('reorder')).bytes);
  t.same(swapped.map((f) => f.payload.type), ['ppg', 'ecg', 'accel']);
  t.ok(swapped[0]!.sequence === ((swapped[1]!.sequence + 1) & 0xffff), 'sent out of sequence order');
  t.equal(blockAt1(at('silence')).bytes.length, 0, 'silence: nothing');
  const other = at('serial');
  t.equal(frames(blockAt1(other).bytes)[0]?.serial, OTHER_PATCH_SERIAL, 'another patch from then on');
  t.equal(frames(other.nextBlock().bytes)[0]?.serial, OTHER_PATCH_SERIAL, 'and it stays');
  const lead = blockAt1(at('leads-off', 1));
  const leadEcg = frames(lead.bytes).find((f) => f.payload.type === 'ecg');
  t.ok(leadEcg?.payload.type === 'ecg' && leadEcg.payload.samples.every((s) => s === 0), 'leads off: a flat ECG');
  const statusOf = (kind: PatchInjectKind): string[] => {
    const d = at(kind, 1);
    for (let i = 0; i < 9; i++) d.nextBlock();
    const s = frames(d.nextBlock().bytes).find((f) => f.payload.type === 'status');
    return s?.payload.type === 'status' ? s.payload.conditions : [];
  };
  t.ok(statusOf('leads-off').includes('lead-off'));
  t.ok(statusOf('probe-off').includes('probe-off'));
  t.ok(statusOf('motion').includes('motion'));
  t.ok(statusOf('low-battery').includes('low-battery'));
  t.same(statusOf('garbage'), ['streaming'], 'no condition without one');
});

t.test('REQ-PATCH-045 hw-sim vigil-patch options: defaults, injections, and every problem reported', async (t) => {
  const ok = parsePatchArgs([]);
  t.same(ok.ok && ok.config, { scenario: 'stable', seed: 1, link: null, serial: '00C0FFEE', injections: [], seconds: null, exitAfter: false, replay: null, autoStart: false, unplugQuietMs: 100 });
  const full = parsePatchArgs(['--scenario', 'desaturation', '--seed=7', '--inject', 'bit-error@20:3,leads-off@48.5:8,serial@60', '--seconds', '90', '--exit-after', '--replay', 'mitdb:/data/100', '--serial', '0000ABCD']);
  t.same(full.ok && full.config.injections, [
    { kind: 'bit-error', atS: 20, durationS: 3 },
    { kind: 'leads-off', atS: 48.5, durationS: 8 },
    { kind: 'serial', atS: 60, durationS: null },
  ]);
  t.same(full.ok && full.config.replay, { kind: 'mitdb', path: '/data/100' });
  for (const [args, message] of [
    [['--scenario', 'x'], /--scenario must be one of/],
    [['--inject', 'sparks@1'], /--inject kind must be one of/],
    [['--inject', 'silence@-1'], /--inject time/],
    [['--inject', 'silence@1:0'], /--inject duration/],
    [['--serial', 'c0ffee'], /--serial must be 8 upper-case hex digits/],
    [['--exit-after'], /--exit-after needs --seconds/],
    [['--replay', 'wav:/x'], /--replay must be/],
    [['--bogus'], /unknown option --bogus/],
    [['--seed', '1', '--seed', '2'], /--seed given twice/],
  ] as Array<[string[], RegExp]>) {
    const r = parsePatchArgs(args);
    t.match(!r.ok && !r.help ? r.message : '', message, args.join(' '));
  }
  t.same(parsePatchArgs(['-h']), { ok: false, help: true });
});

t.test('REQ-PATCH-046 replay of a WFDB record: its ECG on the wire, its annotated heart rate as the truth', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-replay-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fs = 360;
  const ecg = syntheticEcg({ sampleRateHz: fs, durationS: 30, heartRateBpm: 66, rrJitter: 0.01, seed: 2 });
  const adc = Int32Array.from(ecg.samples, (v) => Math.max(-2048, Math.min(2047, Math.round(v * 200 + 1024))));
  writeFileSync(join(dir, 'r1.hea'), `r1 2 ${fs} ${adc.length}\nr1.dat 212 200 11 1024 0 0 0 MLII\nr1.dat 212 200 11 1024 0 0 0 V1\n`);
  writeFileSync(join(dir, 'r1.dat'), encode212([adc, new Int32Array(adc.length).fill(1024)]));
  writeFileSync(join(dir, 'r1.atr'), encodeAnnotations(ecg.rPeaks.map((sample) => ({ sample, code: 1 }))));
  const source = new MitdbReplay(join(dir, 'r1'), 1);
  const truth = source.truthAt(20);
  t.ok(Math.abs((truth.heartRateBpm ?? 0) - 66) < 1.5, `truth from the annotations: ${truth.heartRateBpm?.toFixed(1)} /min`);
  const d = device({ source, autoStart: true });
  for (let i = 0; i < 50; i++) {
    if (i % 5 === 0) d.receive(encodeCommand({ type: 'keep-alive' }, i, 0));
    d.nextBlock();
  }
  const b = d.nextBlock();
  t.ok(Math.abs(b.truth.heartRateBpm - 66) < 1.5, 'the device reports the record truth');
  const wire = frames(b.bytes).find((f) => f.payload.type === 'ecg');
  const samples = wire?.payload.type === 'ecg' ? [...wire.payload.samples] : [];
  // Block 50 starts at 10 s: record sample 3600, resampled 360 -> 250 Hz by linear interpolation.
  const expected = samples.map((_, i) => {
    const pos = (10 + i / 250) * fs;
    const k = Math.floor(pos);
    const a = (adc[k]! - 1024) / 200;
    const c = (adc[k + 1]! - 1024) / 200;
    return Math.round(((a + (c - a) * (pos - k)) * 1000) / 2.5);
  });
  t.equal(samples.length, 50);
  t.ok(samples.every((s, i) => Math.abs(s - expected[i]!) <= 1), 'the record ECG, at 2.5 uV per LSB');
});
