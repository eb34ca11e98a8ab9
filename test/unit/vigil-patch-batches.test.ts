/**
 * The patch's per-second signal batches (agent/src/drivers/vigil-patch/signal-batches.ts) over
 * a recording stand-in for the native processors: one call per channel per second, a rejected
 * batch and a throw of any kind losing that batch only, the patch-off rule for the
 * accelerometer, and what the respiration fusion is given. No addon, no clock but a fake one.
 */
import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import { memoryLogger } from '../../agent/src/log';
import type { FusedResp, PpgBatch, QrsBatch, QrsDetector, RespEstimate, SignalRejected } from '../../agent/src/native/addon';
import { RateWindow } from '../../agent/src/safety/alarms';
import type { BatchChannel, SignalBatchesOptions, SignalProcessing } from '../../agent/src/drivers/vigil-patch/signal-batches';
import { runBatch, SignalBatches } from '../../agent/src/drivers/vigil-patch/signal-batches';

const PPG: PpgBatch = { ok: true, pulseSampleIndexes: new Float64Array(), pulseRateBpm: 70, spo2Percent: 97, perfusionIndexPercent: 2, sqi: 0.9, motion: false, lowPerfusion: false, respRatePerMin: 15, respQuality: 0.7 } as PpgBatch;
const RESP: RespEstimate = { ok: true, respRatePerMin: 14, quality: 0.8 };

function options(processing: Partial<SignalProcessing> = {}) {
  const counters: Record<string, number> = {};
  const logger = memoryLogger();
  const calls: string[] = [];
  const fused: Array<[unknown, unknown]> = [];
  const full: SignalProcessing = {
    createQrsDetector: () => ({ process: () => ({ ok: true, heartRateBpm: 70, status: 'ok' }) as unknown as QrsBatch }) as unknown as QrsDetector,
    createPpgProcessor: () => ({ process: () => (calls.push('ppg'), PPG) }),
    createRespProcessor: () => ({ process: () => (calls.push('accel'), RESP) }),
    fuseRespRate: (direct, ppg): FusedResp => (fused.push([direct, ppg]), { respRatePerMin: 14, quality: 0.8, source: 'direct' }),
    ...processing,
  };
  const o: SignalBatchesOptions = {
    interfaceId: 'patch',
    logger,
    processing: full,
    count: (name, n = 1) => (counters[name] = (counters[name] ?? 0) + n),
    nativeFailures: new RateWindow(new FakeClock(), 60_000),
  };
  return { o, counters, logger, calls, fused };
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

t.test('REQ-PATCH-021 HAZ-009 before any STATUS every channel is processed; the fusion is given both respiration sources', async (t) => {
  const { o, calls, fused } = options();
  const b = new SignalBatches(o);
  fill(b);
  const second = b.runSecond(undefined);
  t.same([second.ecg.kind, second.ppg.kind, second.accel.kind], ['result', 'result', 'result']);
  t.same(calls, ['ppg', 'accel'], 'one call per channel');
  t.same(b.fuseResp(second, false), { respRatePerMin: 14, quality: 0.8, source: 'direct' });
  t.same(fused.at(-1), [{ respRatePerMin: 14, quality: 0.8 }, { respRatePerMin: 15, quality: 0.7 }], 'the accelerometer and the PPG modulation');
  b.fuseResp(second, true);
  t.same(fused.at(-1), [{ respRatePerMin: 14, quality: 0.8 }, { respRatePerMin: null, quality: 0 }], 'probe off: the PPG modulation is not used');
});

t.test('REQ-PATCH-021 HAZ-009 a patch off the body (leads and probe off) does not process the accelerometer, which measures the bed', async (t) => {
  const { o, calls, fused } = options();
  const b = new SignalBatches(o);
  fill(b);
  const second = b.runSecond(new Set(['lead-off', 'probe-off']));
  t.equal(second.accel.kind, 'empty');
  t.equal(second.ppg.kind, 'empty', 'probe off: the PPG is not processed either');
  t.same(calls, [], 'neither called');
  b.fuseResp(second, true);
  t.same(fused.at(-1), [{ respRatePerMin: null, quality: 0 }, { respRatePerMin: null, quality: 0 }], 'the fusion gets no source');
  fill(b, 1000);
  t.equal(b.runSecond(new Set(['lead-off'])).accel.kind, 'result', 'leads alone off: the accelerometer is processed');
});

t.test('REQ-PATCH-026 a fusion that throws anything loses that second\'s respiration rate only, counted', async (t) => {
  let thrown: unknown = 42;
  const { o, counters, logger } = options({
    fuseRespRate: () => {
      throw thrown;
    },
  });
  const b = new SignalBatches(o);
  fill(b);
  const second = b.runSecond(undefined);
  t.equal(b.fuseResp(second, false), null);
  t.equal(counters['native-failures.resp-fusion'], 1);
  t.match(logger.records.at(-1), { event: 'native-failure', channel: 'resp-fusion', error: '42' });
  thrown = new Error('fusion panicked');
  t.equal(b.fuseResp(second, false), null);
  t.match(logger.records.at(-1), { error: 'fusion panicked' });
  t.equal(counters['native-failures'], 2);
});

t.test('REQ-PATCH-021 a second without any waveform: every channel empty, nothing called', async (t) => {
  const { o, calls } = options();
  const second = new SignalBatches(o).runSecond(new Set());
  t.same([second.ecg.kind, second.ppg.kind, second.accel.kind], ['empty', 'empty', 'empty']);
  t.same(calls, []);
});
