/**
 * The vigil-patch driver wired to hw-sim's patch emulation in-process: the device's bytes
 * (COBS frames, 0x00-delimited, exactly as on the pty) are split as io/serial.ts splits them
 * and handed to the driver on a fake clock, with the real native signal processing. Faster
 * than real time; no port, no sleep. The pty path is covered by test/system/vigil-patch.test.ts.
 */
import t from 'tap';
import { ALARM_CONDITIONS } from '../../agent/src/safety/conditions';
import { FakeClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import type { DriverCondition, FrameRejection } from '../../agent/src/drivers/driver';
import { VigilPatchDriver, nativeSignalProcessing } from '../../agent/src/drivers/vigil-patch/driver';
import type { SignalProcessing } from '../../agent/src/drivers/vigil-patch/driver';
import { encodeCommand } from '../../agent/src/drivers/vigil-patch/protocol';
import { memoryLogger } from '../../agent/src/log';
import type { Observation } from '../../agent/src/model/observation';
import { scoreExclusion } from '../../agent/src/validation/controls';
import { OTHER_PATCH_SERIAL, VigilPatchDevice } from '../../hw-sim/src/devices/vigil-patch';
import type { PatchInjection, SignalSource, VigilPatchOptions } from '../../hw-sim/src/devices/vigil-patch';
import { createRng } from '../../hw-sim/src/rng';
import { PhysiologyModel } from '../../hw-sim/src/signals';
import { loadTestNative } from '../support/native-test-hooks';
import type { ChannelRates, PhysiologyState } from '../../hw-sim/src/signals';

function patchConfig(extra: Record<string, unknown> = {}) {
  const c = parseConfig({
    gateway: { gatewayId: 'gw', siteId: 's', wardId: 'w', bedId: 'b' },
    mqtt: { url: 'mqtt://127.0.0.1:1883', insecure: true },
    interfaces: [{ id: 'patch', driver: 'vigil-patch', path: '/dev/null', ...extra }],
  }).interfaces[0];
  if (c?.driver !== 'vigil-patch') throw new Error('not a patch config');
  return c;
}

interface Run {
  driver: VigilPatchDriver;
  device: VigilPatchDevice;
  clock: FakeClock;
  /** One emission per device second. */
  seconds: Observation[][];
  rejected: FrameRejection[];
  conditions: DriverCondition[];
  /** Runs `s` more device seconds. */
  run(s: number): void;
  /** From now on the bytes come from another device (a restarted patch). */
  swap(device: VigilPatchDevice): void;
}

function harness(deviceOptions: Partial<VigilPatchOptions> & { injections?: PatchInjection[] }, processing: SignalProcessing = nativeSignalProcessing, config = patchConfig()): Run {
  const clock = new FakeClock();
  const driver = new VigilPatchDriver(config, clock, memoryLogger(), processing);
  let device = new VigilPatchDevice({ scenario: 'stable', seed: 3, ...deviceOptions });
  const seconds: Observation[][] = [];
  const rejected: FrameRejection[] = [];
  const conditions: DriverCondition[] = [];
  driver.on('observations', (o) => seconds.push(o));
  driver.on('rejected', (r) => rejected.push(r));
  driver.on('condition', (c) => conditions.push(c));
  let pending = Buffer.alloc(0);
  const feed = (bytes: Buffer): void => {
    pending = Buffer.concat([pending, bytes]);
    let at: number;
    while ((at = pending.indexOf(0)) >= 0) {
      const frame = pending.subarray(0, at);
      pending = pending.subarray(at + 1);
      if (frame.length > 0) driver.handleFrame(frame, { wallMs: clock.wallMs(), monoNs: clock.monoNs() });
    }
  };
  let hostSeq = 0;
  let block = 0;
  feed(device.receive(encodeCommand({ type: 'start' }, hostSeq++, 0)));
  return {
    driver,
    get device() {
      return device;
    },
    clock,
    seconds,
    rejected,
    conditions,
    run(s) {
      for (let i = 0; i < s * 5; i++, block++) {
        clock.advanceMs(200);
        feed(device.nextBlock().bytes);
        if (block % 5 === 0) feed(device.receive(encodeCommand({ type: 'keep-alive' }, hostSeq++, 0)));
        driver.tick();
      }
    },
    swap(next) {
      device = next;
      feed(device.receive(encodeCommand({ type: 'start' }, hostSeq++, 0)));
    },
  };
}

const value = (second: Observation[] | undefined, parameter: string): number | null | undefined => second?.find((o) => o.parameter === parameter)?.value;
const obs = (second: Observation[] | undefined, parameter: string): Observation | undefined => second?.find((o) => o.parameter === parameter);

t.test('REQ-SIG-009 REQ-PATCH-020 SpO2 from the patch red/IR of hw-sim, 70 to 100 %, through the driver: Arms <= 2 %', async (t) => {
  // 24 levels spread over 70-100 % (not on whole percents, so the rounding to the published
  // 1 % counts too), each with its own heart rate and perfusion index, seeded.
  const seed = Number(process.env.PATCH_SPO2_SEED ?? 70100);
  const rng = createRng(seed);
  const errors: number[] = [];
  for (let level = 0; level < 24; level++) {
    const spo2 = 70 + (30 * (level + rng.next())) / 24;
    const heartRateBpm = rng.int(50, 120);
    const perfusionIndexPercent = 0.8 + 4 * rng.next();
    const model = new PhysiologyModel({ seed: seed + level });
    const source: SignalSource = {
      block: (t0S: number, d: number, state: PhysiologyState, rates: ChannelRates) => model.block(t0S, d, state, rates),
      truthAt: () => ({ spo2Percent: spo2, heartRateBpm, perfusionIndexPercent }),
    };
    const run = harness({ source, seed: seed + level });
    run.run(40);
    const settled = run.seconds.slice(20).map((s) => value(s, 'spo2'));
    t.ok(settled.every((v) => typeof v === 'number'), `seed ${seed} level ${level}: a value every second after 20 s`);
    for (const v of settled) errors.push((v ?? 0) - spo2);
    t.comment(`SpO2 ${spo2.toFixed(1)} % (HR ${heartRateBpm}, PI ${perfusionIndexPercent.toFixed(1)} %): published ${[...new Set(settled)].join(', ')}`);
  }
  const arms = Math.sqrt(errors.reduce((a, e) => a + e * e, 0) / errors.length);
  const bias = errors.reduce((a, e) => a + e, 0) / errors.length;
  t.comment(`Arms ${arms.toFixed(2)} %, mean bias ${bias.toFixed(2)} %, over ${errors.length} one-second values (24 levels x 20 s)`);
  t.ok(arms <= 2, `seed ${seed}: Arms ${arms.toFixed(2)} % <= 2 %`);
});

t.test('REQ-PATCH-021 one native call per channel per second, never per sample; the second is emitted together', async (t) => {
  const calls = { qrs: 0, ppg: 0, resp: 0, edr: 0, fuse: 0, samples: 0 };
  // Each processor's own `process` is replaced in place: the fusion reads the addon's processor
  // behind the very object it was given, and the detector's getters stay live.
  const counting: SignalProcessing = {
    createQrsDetector(fs) {
      const d = nativeSignalProcessing.createQrsDetector(fs);
      const process = d.process;
      return Object.assign(d, { process: (x: Float32Array) => (calls.qrs++, (calls.samples += x.length), process(x)) });
    },
    createPpgProcessor(fs, o) {
      const p = nativeSignalProcessing.createPpgProcessor(fs, o);
      const process = p.process;
      return Object.assign(p, { process: (ir: Float32Array, red?: Float32Array) => (calls.ppg++, process(ir, red)) });
    },
    createRespProcessor(fs) {
      const r = nativeSignalProcessing.createRespProcessor(fs);
      return { process: (x) => (calls.resp++, r.process(x)) };
    },
    createEcgRespProcessor(fs) {
      const e = nativeSignalProcessing.createEcgRespProcessor(fs);
      const process = e.process;
      return Object.assign(e, { process: (x: Float32Array, beats: Float64Array) => (calls.edr++, process(x, beats)) });
    },
    fuseRespSources: (sources) => (calls.fuse++, nativeSignalProcessing.fuseRespSources(sources)),
  };
  const run = harness({}, counting);
  run.run(10);
  t.equal(run.seconds.length, 10, 'one emission per device second');
  t.same(calls, { qrs: 10, ppg: 10, resp: 10, edr: 10, fuse: 10, samples: 2500 }, 'one call per channel per second; 250 ECG samples each');
  t.same(run.seconds[9]?.map((o) => o.parameter), ['heartRate', 'pulseRate', 'spo2', 'perfusionIndex', 'respRate', 'skinTemperature']);
  const last = run.seconds[9]!;
  t.ok(Math.abs((value(last, 'heartRate') ?? 0) - 72) <= 3, `heart rate ${value(last, 'heartRate')}`);
  t.ok(Math.abs((value(last, 'pulseRate') ?? 0) - 72) <= 3, `pulse rate ${value(last, 'pulseRate')}`);
  t.equal(value(last, 'spo2'), 97);
  t.equal(obs(last, 'skinTemperature')?.unitUcum, 'Cel');
  t.ok(last.every((o) => o.source.serialNumber === '00C0FFEE' && o.deviceTimeText.startsWith('tick=')), 'identity and the device tick on every value');
});

t.test('HAZ-009 REQ-PATCH-022 leads off, probe off and motion become flags and reasons that keep values out of the score', async (t) => {
  const run = harness({ injections: [{ kind: 'leads-off', atS: 12, durationS: 4 }, { kind: 'probe-off', atS: 20, durationS: 4 }, { kind: 'motion', atS: 28, durationS: 4 }] });
  run.run(40);
  const hr = obs(run.seconds[13], 'heartRate');
  t.equal(hr?.value, null);
  t.equal(hr?.unavailableReason, 'leads-off');
  t.same(hr?.quality, ['sensor-off'], 'leads off: heartRate flagged sensor-off (a technical alarm downstream)');
  t.equal(obs(run.seconds[13], 'skinTemperature')?.value, null, 'off the skin there is no skin temperature');
  t.equal(typeof value(run.seconds[13], 'spo2'), 'number', 'the optical channel goes on');
  const spo2 = obs(run.seconds[21], 'spo2');
  t.equal(spo2?.unavailableReason, 'probe-off');
  t.same(spo2?.quality, ['sensor-off']);
  t.equal(typeof value(run.seconds[21], 'heartRate'), 'number', 'the ECG goes on');
  const moving = run.seconds[29]!;
  for (const p of ['spo2', 'pulseRate', 'respRate']) {
    const o = obs(moving, p);
    t.ok(o?.quality.includes('motion'), `${p} flagged motion`);
    if (o && o.value !== null) t.equal(scoreExclusion(o, false), 'quality-motion', `${p} kept out of the score`);
  }
  // After the artefact the optical channel restarts: no value is carried over from it.
  const after = run.seconds.slice(33).map((s) => value(s, 'spo2')).filter((v) => v !== null);
  t.ok(after.length >= 3 && after.every((v) => v !== undefined && Math.abs(v - 97) <= 1), `SpO2 after the motion: ${after.join(', ')}`);
  t.ok((run.driver.snapshot().counters['ppg-restarted-after-artefact'] ?? 0) >= 2, 'restarted after the probe came back and after the motion');
});

t.test('HAZ-007 REQ-PATCH-023 duplicates and reordered frames are dropped and counted; gaps are counted, bridged and flagged', async (t) => {
  const run = harness({ injections: [{ kind: 'duplicate', atS: 8, durationS: null }, { kind: 'reorder', atS: 10, durationS: null }, { kind: 'silence', atS: 12, durationS: 0.4 }] });
  run.run(16);
  const c = run.driver.snapshot().counters;
  t.equal(c['frames-rejected.duplicate'], 1, 'the duplicate is dropped');
  t.equal(c['frames-rejected.reordered'], 1, 'the late frame of the swapped pair is dropped');
  t.equal(c['frames-lost'], 1 + 6, 'lost: the dropped late frame (one) and two silent blocks (six frames)');
  t.ok((c['samples-filled.ecg'] ?? 0) >= 100, 'the ECG gap is bridged (two blocks of 50 samples, plus the dropped frame)');
  t.same(run.rejected.map((r) => r.reason), ['duplicate', 'reordered']);
  const flagged = run.seconds[12]?.find((o) => o.parameter === 'heartRate');
  t.ok(flagged?.quality.includes('low-signal-quality'), 'the second with a bridged gap is flagged');
  t.notOk(run.seconds[14]?.find((o) => o.parameter === 'heartRate')?.quality.length, 'the next seconds are not');
});

t.test('HAZ-008 REQ-PATCH-024 garbage, bit errors and truncated frames are rejected by cause and the values carry on', async (t) => {
  const run = harness({ injections: [{ kind: 'garbage', atS: 5, durationS: null }, { kind: 'bit-error', atS: 6, durationS: 1 }, { kind: 'truncate', atS: 8, durationS: null }] });
  run.run(14);
  const c = run.driver.snapshot().counters;
  t.ok((c['frames-rejected.checksum'] ?? 0) >= 5, 'one corrupted frame in each of five blocks, caught by the CRC');
  const rejects = Object.entries(c).filter(([k]) => k.startsWith('frames-rejected.')).reduce((a, [, v]) => a + v, 0);
  t.ok(rejects >= 5 + 2, `garbage and the truncated frame rejected too (${rejects} in all)`);
  t.equal(run.rejected.length, rejects, 'every reject is reported, none dropped in silence');
  t.equal(run.seconds.length, 14, 'every second still emitted');
  t.ok(typeof value(run.seconds[13], 'heartRate') === 'number', 'values go on');
});

t.test('HAZ-008 REQ-PATCH-024 a host command frame coming from the device side (an echo, a looped cable) is rejected as unknown-type and never acted on', async (t) => {
  const run = harness({});
  run.run(2);
  const before = run.seconds.length;
  const echo = encodeCommand({ type: 'start' }, 7, 0).subarray(1); // without the leading 0x00
  run.driver.handleFrame(echo.subarray(0, echo.length - 1), { wallMs: run.clock.wallMs(), monoNs: run.clock.monoNs() });
  t.match(run.rejected.at(-1), { reason: 'unknown-type', detail: 'a host command frame came from the device side' });
  t.equal(run.driver.snapshot().counters['frames-rejected.unknown-type'], 1);
  t.equal(run.driver.snapshot().counters['frames-valid.start'], undefined, 'not counted as a valid frame');
  run.run(2);
  t.equal(run.seconds.length, before + 2, 'the seconds go on');
});

t.test('HAZ-011 REQ-PATCH-025 a different patch is held back until the change is confirmed', async (t) => {
  const run = harness({ injections: [{ kind: 'serial', atS: 6, durationS: null }] });
  run.run(10);
  t.equal(run.seconds.length, 6, 'no values from the other patch');
  t.ok(run.rejected.length > 0 && run.rejected.every((r) => r.reason === 'device-changed'), 'its frames rejected as device-changed (a high-priority alarm downstream)');
  t.equal(run.driver.confirmDeviceChange(), 'confirmed', 'a nurse confirms the change');
  run.run(4);
  t.ok(run.seconds.length >= 9, 'values again after the confirmation');
  t.equal(run.seconds[run.seconds.length - 1]?.[0]?.source.serialNumber, OTHER_PATCH_SERIAL);
  const configured = harness({ injections: [{ kind: 'serial', atS: 2, durationS: null }] }, nativeSignalProcessing, patchConfig({ serialNumber: '00C0FFEE' }));
  configured.run(4);
  t.equal(configured.rejected[0]?.reason, 'device-identity', 'with a configured serial: device-identity');
  t.equal(configured.driver.confirmDeviceChange(), 'no-pending-change', 'and it cannot be confirmed away');
});

t.test('REQ-SIG-005 REQ-PATCH-026 a panic inside the addon loses that batch only: counted, alarmed on repetition, no crash', async (t) => {
  // The addon's test build: the same binding, with the panic hook.
  const native = loadTestNative();
  let failNext = 0;
  const panicking: SignalProcessing = {
    ...nativeSignalProcessing,
    createQrsDetector(fs) {
      const d = nativeSignalProcessing.createQrsDetector(fs);
      return {
        ...d,
        process(x: Float32Array) {
          if (failNext > 0) {
            failNext--;
            // A real Rust panic, caught by the binding and surfaced as a NativeError.
            native.panicForTest('injected');
          }
          return d.process(x);
        },
      } as typeof d;
    },
  };
  const run = harness({}, panicking);
  run.run(8);
  failNext = 1;
  run.run(1);
  const lost = obs(run.seconds[8], 'heartRate');
  t.equal(lost?.value, null);
  t.equal(lost?.unavailableReason, 'signal-processing-failed', 'the batch is lost, with its reason');
  t.equal(typeof value(run.seconds[8], 'spo2'), 'number', 'the other channels of the same second are not');
  t.equal(run.driver.snapshot().counters['native-failures'], 1);
  t.notOk(run.conditions.some((c) => c.active), 'one failure is not alarmed');
  run.run(8);
  t.equal(typeof value(run.seconds[16], 'heartRate'), 'number', 'the rebuilt detector gives a heart rate again');
  failNext = 3;
  run.run(3);
  t.same(
    run.conditions.map((c) => [c.condition, c.active, ALARM_CONDITIONS[c.condition].priority]),
    [['signal-processing-failed', true, 'medium']],
    'repeated failures raise a technical condition',
  );
  run.clock.advanceMs(61_000);
  run.driver.tick();
  t.same(run.conditions.at(-1)?.active, false, 'cleared once the failures leave the window');
});

t.test('REQ-PATCH-027 the patch restarts (tick backwards): sequence and channels start over, values come back', async (t) => {
  const run = harness({ tickStartMs: 5_000_000 });
  run.run(8);
  // The same patch after a reset: its tick starts again from power-on, its sequence from 0.
  run.swap(new VigilPatchDevice({ scenario: 'stable', seed: 4, tickStartMs: 1000, sequenceStart: 0 }));
  run.run(12);
  const c = run.driver.snapshot().counters;
  t.equal(c['device-restarted'], 1, 'the restart is seen once');
  t.notOk(c['frames-rejected.reordered'], 'the new sequence is not taken for reordering');
  t.equal(typeof value(run.seconds.at(-1), 'heartRate'), 'number', 'values again after relearning');
});

/**
 * hw-sim's patch at `respRatePerMin` with its accelerometer flat (a patch whose accelerometer
 * gives no breathing: taped loose, or failed): the ECG (R amplitude and baseline move with each
 * breath) and the PPG (baseline and pulse amplitude) still carry it (hw-sim/src/signals.ts).
 */
function flatAccelerometer(seed: number, respRatePerMin: number): SignalSource {
  const model = new PhysiologyModel({ seed });
  return {
    block: (t0S, d, state, rates) => {
      const b = model.block(t0S, d, state, rates);
      return { ...b, accelMg: { x: b.accelMg.x.fill(0), y: b.accelMg.y.fill(0), z: b.accelMg.z.fill(1000) } };
    },
    truthAt: () => ({ respRatePerMin }),
  };
}

/** The respiration rates of seconds 60 to 90, and the sources the fusion used over the run. */
function respWithFlatAccelerometer(seed: number, respRatePerMin: number, injections: PatchInjection[] = []) {
  const run = harness({ source: flatAccelerometer(seed, respRatePerMin), seed, injections });
  run.run(90);
  const counters = run.driver.snapshot().counters;
  const sources = Object.fromEntries(Object.entries(counters).filter(([k]) => k.startsWith('resp-source.')));
  return { rates: run.seconds.slice(60).map((s) => obs(s, 'respRate')), sources };
}

t.test('REQ-SIG-024 accelerometer flat: the patch\'s respiration rate comes from the ECG and PPG modulations, within 2 /min of the breathing', async (t) => {
  for (const [seed, truth] of [[24, 20], [25, 10]] as const) {
    const { rates, sources } = respWithFlatAccelerometer(seed, truth);
    t.comment(`seed ${seed}, ${truth} /min: sources ${JSON.stringify(sources)}; last rates ${rates.slice(-5).map((o) => o?.value).join(' ')}`);
    t.notOk(sources['resp-source.direct'], `seed ${seed}: the flat accelerometer is never used`);
    t.ok((sources['resp-source.ecg+ppg'] ?? 0) > 0, `seed ${seed}: the ECG and PPG modulations together`);
    t.ok(rates.every((o) => typeof o?.value === 'number'), `seed ${seed}: a rate every second from 60 s`);
    t.ok(rates.every((o) => Math.abs((o?.value ?? Infinity) - truth) <= 2), `seed ${seed}: within 2 /min of ${truth} /min`);
    t.ok(rates.every((o) => o?.quality.length === 0 && o.status === 'final'), `seed ${seed}: unflagged`);
  }
});

t.test('REQ-SIG-024 HAZ-009 accelerometer flat and probe off: the rate comes from the ECG alone; before a 32 s window it is withdrawn with the reason', async (t) => {
  const seed = 26;
  const run = harness({ source: flatAccelerometer(seed, 18), seed, injections: [{ kind: 'probe-off', atS: 0, durationS: 1000 }] });
  run.run(10);
  const early = obs(run.seconds.at(-1), 'respRate');
  t.equal(early?.value, null, 'not yet one window of beats');
  t.equal(early?.unavailableReason, 'resp-learning', 'withdrawn with the fusion\'s reason');
  run.run(80);
  const counters = run.driver.snapshot().counters;
  t.notOk(counters['resp-source.ppg'] ?? counters['resp-source.ecg+ppg'], 'probe off: the PPG is never used');
  t.notOk(counters['resp-source.direct'], 'nor the flat accelerometer');
  const rates = run.seconds.slice(60).map((s) => obs(s, 'respRate'));
  t.comment(`sources ${JSON.stringify(Object.entries(counters).filter(([k]) => k.startsWith('resp-source.')))}; last rates ${rates.slice(-5).map((o) => o?.value).join(' ')}`);
  t.ok((counters['resp-source.ecg'] ?? 0) > 0, 'the ECG modulations alone');
  t.ok(rates.every((o) => typeof o?.value === 'number' && Math.abs(o.value - 18) <= 2), 'a rate every second from 60 s, within 2 /min of 18 /min');
});
