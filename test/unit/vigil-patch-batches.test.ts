/**
 * The patch's per-second signal batches (agent/src/drivers/vigil-patch/signal-batches.ts) over
 * a recording stand-in for the native processors: one call per channel per second, a rejected
 * batch and a throw of any kind losing that batch only, the patch-off rule for the
 * accelerometer and the ECG-derived respiration, and what the respiration fusion is given. No
 * addon, no clock but a fake one.
 */
import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import { memoryLogger } from '../../agent/src/log';
import type { EcgRespProcessor, FusedRespSources, ModulationResp, PpgBatch, PpgProcessor, QrsBatch, QrsDetector, RespEstimate, RespSources, SignalRejected } from '../../agent/src/native/addon';
import { RateWindow } from '../../agent/src/safety/alarms';
import type { BatchChannel, SignalBatchesOptions, SignalProcessing } from '../../agent/src/drivers/vigil-patch/signal-batches';
import { runBatch, SignalBatches } from '../../agent/src/drivers/vigil-patch/signal-batches';

const PPG: PpgBatch = { ok: true, pulseSampleIndexes: new Float64Array(), pulseRateBpm: 70, spo2Percent: 97, perfusionIndexPercent: 2, sqi: 0.9, motion: false, lowPerfusion: false, respRatePerMin: 15, respQuality: 0.7 } as PpgBatch;
const RESP: RespEstimate = { ok: true, respRatePerMin: 14, quality: 0.8 };
const EDR: ModulationResp = { ok: true, respRatePerMin: 16, quality: 0.6, status: 'ok', modulations: ['ecg-baseline'] };
const FUSED: FusedRespSources = { respRatePerMin: 14, quality: 0.8, source: 'direct', status: 'ok', modulations: [] };

function options(processing: Partial<SignalProcessing> = {}) {
  const counters: Record<string, number> = {};
  const logger = memoryLogger();
  const calls: string[] = [];
  const fused: RespSources[] = [];
  /** The processors made, newest last. */
  const made = { ppg: [] as PpgProcessor[], edr: [] as EcgRespProcessor[] };
  /** The beats each EDR batch was given. */
  const edrBeats: number[][] = [];
  const full: SignalProcessing = {
    // A detector that finds a beat 100 samples into each batch and counts the samples it has seen.
    createQrsDetector: () => {
      let seen = 0;
      return {
        process: (x: Float32Array) => ((seen += x.length), { ok: true, beatSampleIndexes: Float64Array.of(seen - x.length + 100), heartRateBpm: 70, sqi: 0.9, status: 'ok' }) as QrsBatch,
        get samplesSeen() {
          return seen;
        },
      } as unknown as QrsDetector;
    },
    createPpgProcessor: () => {
      const p = { process: () => (calls.push('ppg'), PPG) };
      made.ppg.push(p);
      return p;
    },
    createRespProcessor: () => ({ process: () => (calls.push('accel'), RESP) }),
    createEcgRespProcessor: () => {
      const e = { process: (_x: Float32Array, beats: Float64Array) => (calls.push('ecg-resp'), edrBeats.push([...beats]), EDR) };
      made.edr.push(e);
      return e;
    },
    fuseRespSources: (sources): FusedRespSources => (fused.push(sources), FUSED),
    ...processing,
  };
  const o: SignalBatchesOptions = {
    interfaceId: 'patch',
    logger,
    processing: full,
    count: (name, n = 1) => (counters[name] = (counters[name] ?? 0) + n),
    nativeFailures: new RateWindow(new FakeClock(), 60_000),
  };
  return { o, counters, logger, calls, fused, made, edrBeats };
}

const channel = (): BatchChannel<{ process(): unknown }> => ({ name: 'accel', sampleRateHz: 25, nextTickMs: null, processor: null, filled: 0 });

t.test('REQ-PATCH-026 a batch the addon rejects is lost alone: counted by channel and logged with the rule, the processor kept', async (t) => {
  const { o, counters, logger } = options();
  const ch = channel();
  const processor = { process: (): SignalRejected => ({ ok: false, error: { field: 'samples', rule: 'finite', index: 3 } }) };
  t.same(runBatch(o, ch, () => processor, (p) => p.process()), { kind: 'rejected' });
  t.equal(counters['batches-rejected.accel'], 1);
  t.match(logger.records.at(-1), { event: 'batch-rejected', channel: 'accel', field: 'samples', rule: 'finite', index: 3 });
  t.equal(ch.processor, processor, 'the processor is kept: a rejected batch does not taint its state');
});

t.test('REQ-PATCH-026 a throw of any kind (not only an Error) loses that batch, is counted, and the processor is rebuilt', async (t) => {
  const { o, counters, logger } = options();
  const ch = channel();
  let created = 0;
  const outcome = runBatch(o, ch, () => (created++, { process: () => 1 }), () => {
    throw 'a string thrown by a binding';
  });
  t.same(outcome, { kind: 'failed' });
  t.equal(counters['native-failures'], 1);
  t.equal(counters['native-failures.accel'], 1);
  t.match(logger.records.at(-1), { level: 'error', event: 'native-failure', error: 'a string thrown by a binding' });
  t.equal(ch.processor, null, 'dropped: rebuilt at the next batch');
  t.same(runBatch(o, ch, () => (created++, { process: () => 2 }), (p) => p.process()), { kind: 'result', result: 2 });
  t.equal(created, 2);
  t.same(runBatch(o, ch, () => ({ process: () => 3 }), () => {
    throw new Error('Rust panic: index out of bounds');
  }), { kind: 'failed' });
  t.match(logger.records.at(-1), { event: 'native-failure', error: 'Rust panic: index out of bounds' }, 'an Error: its message');
  t.equal(counters['native-failures.accel'], 2);
});

/** One second of each waveform at its rate. */
function fill(b: SignalBatches, tickMs = 0): void {
  b.append(tickMs, { type: 'ecg', sampleRateHz: 250, samples: new Int16Array(250) });
  b.append(tickMs, { type: 'ppg', sampleRateHz: 100, red: new Uint32Array(100).fill(50_000), ir: new Uint32Array(100).fill(60_000) });
  b.append(tickMs, { type: 'accel', sampleRateHz: 25, x: new Int16Array(25), y: new Int16Array(25), z: new Int16Array(25) });
}

t.test('REQ-PATCH-021 HAZ-009 before any STATUS every channel is processed; the fusion is given every respiration source', async (t) => {
  const { o, calls, fused, made, counters } = options();
  const b = new SignalBatches(o);
  fill(b);
  const second = b.runSecond(undefined);
  t.same([second.ecg.kind, second.ppg.kind, second.accel.kind, second.ecgResp.kind], ['result', 'result', 'result', 'result']);
  t.same(calls, ['ecg-resp', 'ppg', 'accel'], 'one call per channel (the EDR takes the ECG batch and its beats)');
  t.same(b.fuseResp(second, undefined), FUSED);
  t.equal(counters['resp-source.direct'], 1, 'the source used is counted');
  t.same(Object.keys(fused.at(-1) ?? {}).sort(), ['direct', 'ecg', 'ppg'], 'the accelerometer, the ECG and the PPG modulations');
  t.same(fused.at(-1)?.direct, { respRatePerMin: 14, quality: 0.8 }, 'the accelerometer as the direct source');
  t.equal(fused.at(-1)?.ecg, made.edr.at(-1), 'the ECG-derived respiration of this lead');
  t.equal(fused.at(-1)?.ppg, made.ppg.at(-1), 'the PPG processor of this second');
  b.fuseResp(second, new Set(['probe-off']));
  t.same(Object.keys(fused.at(-1) ?? {}).sort(), ['direct', 'ecg'], 'probe off: the PPG modulation is not used');
  b.fuseResp(second, new Set(['lead-off']));
  t.same(Object.keys(fused.at(-1) ?? {}).sort(), ['direct', 'ppg'], 'leads off: the ECG modulation is not used');
});

t.test('REQ-PATCH-021 HAZ-009 a patch off the body (leads and probe off) does not process the accelerometer, which measures the bed', async (t) => {
  const { o, calls, fused } = options();
  const b = new SignalBatches(o);
  fill(b);
  const second = b.runSecond(new Set(['lead-off', 'probe-off']));
  t.equal(second.accel.kind, 'empty');
  t.equal(second.ppg.kind, 'empty', 'probe off: the PPG is not processed either');
  t.equal(second.ecgResp.kind, 'empty', 'leads off: nor the ECG-derived respiration');
  t.same(calls, [], 'none called');
  b.fuseResp(second, new Set(['lead-off', 'probe-off']));
  t.same(fused.at(-1), {}, 'the fusion gets no source');
  fill(b, 1000);
  t.equal(b.runSecond(new Set(['lead-off'])).accel.kind, 'result', 'leads alone off: the accelerometer is processed');
});

t.test('REQ-PATCH-026 a fusion that throws anything loses that second\'s respiration rate only, counted', async (t) => {
  let thrown: unknown = 42;
  const { o, counters, logger } = options({
    fuseRespSources: () => {
      throw thrown;
    },
  });
  const b = new SignalBatches(o);
  fill(b);
  const second = b.runSecond(undefined);
  t.equal(b.fuseResp(second, undefined), null);
  t.equal(counters['native-failures.resp-fusion'], 1);
  t.match(logger.records.at(-1), { event: 'native-failure', channel: 'resp-fusion', error: '42' });
  thrown = new Error('fusion panicked');
  t.equal(b.fuseResp(second, undefined), null);
  t.match(logger.records.at(-1), { error: 'fusion panicked' });
  t.equal(counters['native-failures'], 2);
});

t.test('REQ-PATCH-021 a second without any waveform: every channel empty, nothing called', async (t) => {
  const { o, calls } = options();
  const second = new SignalBatches(o).runSecond(new Set());
  t.same([second.ecg.kind, second.ppg.kind, second.accel.kind], ['empty', 'empty', 'empty']);
  t.same(calls, []);
});

t.test('REQ-SIG-024 HAZ-009 leads off: the ECG-derived respiration is neither run nor fused, and starts afresh on the beats of the detector when they are back', async (t) => {
  const { o, calls, fused, made, edrBeats } = options();
  const b = new SignalBatches(o);
  fill(b, 0);
  b.runSecond(new Set());
  t.same(edrBeats.at(-1), [100], 'the detector\'s beats as it numbers them');
  fill(b, 1000);
  calls.length = 0;
  const off = b.runSecond(new Set(['lead-off']));
  t.equal(off.ecg.kind, 'result', 'the detector goes on (it finds the flat lead itself)');
  t.equal(off.ecgResp.kind, 'empty');
  t.notOk(calls.includes('ecg-resp'), 'not run');
  b.fuseResp(off, new Set(['lead-off']));
  t.notOk('ecg' in (fused.at(-1) ?? {}), 'not fused');
  fill(b, 2000);
  const back = b.runSecond(new Set());
  t.equal(back.ecgResp.kind, 'result');
  t.equal(made.edr.length, 2, 'a new processor: beats from before the leads came off are not bridged to those after');
  t.same(edrBeats.at(-1), [100], 'numbered from the new processor\'s first sample (the detector\'s 600th is its 100th)');
  b.fuseResp(back, new Set());
  t.equal(fused.at(-1)?.ecg, made.edr[1]);
});

t.test('REQ-PATCH-026 an ECG-derived respiration that throws loses that second\'s EDR only: counted, rebuilt, the detector kept', async (t) => {
  let fail = true;
  const { o, counters, logger, made, edrBeats } = options();
  const create = o.processing.createEcgRespProcessor;
  o.processing.createEcgRespProcessor = (fs) => {
    const e = create(fs);
    return {
      process: (x, beats) => {
        if (fail) throw new Error('EDR panicked');
        return e.process(x, beats);
      },
    };
  };
  const b = new SignalBatches(o);
  fill(b, 0);
  const first = b.runSecond(new Set());
  t.equal(first.ecgResp.kind, 'failed');
  t.equal(first.ecg.kind, 'result', 'the heart rate is not lost with it');
  t.equal(counters['native-failures.ecg-resp'], 1);
  t.match(logger.records.at(-1), { level: 'error', event: 'native-failure', channel: 'ecg-resp', error: 'EDR panicked' });
  fail = false;
  fill(b, 1000);
  t.equal(b.runSecond(new Set()).ecgResp.kind, 'result');
  t.equal(made.edr.length, 2, 'rebuilt');
  t.same(edrBeats.at(-1), [100], 'the kept detector\'s beats shifted to the new processor\'s first sample');
  t.notOk(counters['native-failures.ecg'], 'the detector was not rebuilt');
});
