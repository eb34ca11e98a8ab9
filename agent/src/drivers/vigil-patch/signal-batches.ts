/**
 * The patch's signal processing, one batch per channel per device second (HAZ-008, CTRL-206):
 * waveform frames are appended to their channel (a short gap bridged by holding the last
 * sample, a longer one restarting the channel), and each second every channel's batch goes
 * through its native processor ONCE (native/addon.ts). An error inside the addon loses that
 * batch only: it is counted, the processor is rebuilt (its state can no longer be trusted),
 * and the failure is added to the window that raises the technical condition.
 */
import type { Logger } from '../../log';
import * as addon from '../../native/addon';
import type {
  EcgRespProcessor,
  FusedRespSources,
  ModulationResp,
  PpgBatch,
  PpgProcessor,
  QrsBatch,
  QrsDetector,
  RespEstimate,
  RespProcessor,
  RespSources,
  SignalRejected,
} from '../../native/addon';
import type { RateWindow } from '../../safety/alarms';
import { tickDelta, TICK_WRAP } from './device-time';
import type { PatchCondition, PatchPayload, StreamName } from './frame-layout';
import { ACCEL_MILLI_G_PER_LSB, ECG_MICROVOLTS_PER_LSB } from './frame-layout';

/** A gap in a waveform up to this long is bridged by holding the last sample; longer restarts the channel. */
export const MAX_FILLED_GAP_MS = 1000;
/** Without a STATUS frame, a channel's batch is processed once it holds this much signal. */
export const MAX_BATCH_MS = 2000;

/** The native processors the driver uses (tests substitute failing ones). */
export interface SignalProcessing {
  createQrsDetector(sampleRateHz: number): QrsDetector;
  createPpgProcessor(sampleRateHz: number, options: { inverted: boolean; calibration?: { a: number; b: number; c: number } }): PpgProcessor;
  createRespProcessor(sampleRateHz: number): RespProcessor;
  createEcgRespProcessor(sampleRateHz: number): EcgRespProcessor;
  fuseRespSources(sources: RespSources): FusedRespSources;
}

export const nativeSignalProcessing: SignalProcessing = {
  createQrsDetector: (fs) => addon.createQrsDetector(fs),
  createPpgProcessor: (fs, options) => addon.createPpgProcessor(fs, options),
  createRespProcessor: (fs) => addon.createRespProcessor(fs),
  createEcgRespProcessor: (fs) => addon.createEcgRespProcessor(fs),
  fuseRespSources: (sources) => addon.fuseRespSources(sources),
};

/** One waveform channel's batch under construction and its processor. */
export interface BatchChannel<P> {
  name: StreamName;
  sampleRateHz: number;
  /** Tick the next frame should start at; null before the first frame. */
  nextTickMs: number | null;
  processor: P | null;
  /** Samples filled in this batch (held across a gap). */
  filled: number;
}

interface EcgChannel extends BatchChannel<QrsDetector> {
  mv: number[];
  /** ECG-derived respiration of the lead, fed with the detector's beats; null until (re)built. */
  edr: EcgRespProcessor | null;
  /**
   * The detector's sample count when `edr` was built: the detector numbers its beats from its
   * own first sample, the EDR processor from its own, so a rebuilt EDR processor takes the
   * beats shifted by this (one rebuilt alone never costs the detector its learning).
   */
  edrOffsetSamples: number;
}
interface PpgChannel extends BatchChannel<PpgProcessor> {
  red: number[];
  ir: number[];
}
interface AccelChannel extends BatchChannel<RespProcessor> {
  /** The axis along the sternum (y), mg: breathing tilts it (docs/interfaces/vigil-patch.md). */
  y: number[];
}

function ecgChannel(): EcgChannel {
  return { name: 'ecg', sampleRateHz: 0, nextTickMs: null, processor: null, filled: 0, mv: [], edr: null, edrOffsetSamples: 0 };
}
function ppgChannel(): PpgChannel {
  return { name: 'ppg', sampleRateHz: 0, nextTickMs: null, processor: null, filled: 0, red: [], ir: [] };
}
function accelChannel(): AccelChannel {
  return { name: 'accel', sampleRateHz: 0, nextTickMs: null, processor: null, filled: 0, y: [] };
}

export type BatchOutcome<R> = { kind: 'result'; result: R } | { kind: 'empty' } | { kind: 'failed' } | { kind: 'rejected' };

/** One device second through the native processors. */
export interface SecondBatches {
  ecg: BatchOutcome<QrsBatch>;
  ppg: BatchOutcome<PpgBatch>;
  accel: BatchOutcome<RespEstimate>;
  /** ECG-derived respiration ('empty' while the leads are off, or when the ECG batch gave no detector result). */
  ecgResp: BatchOutcome<ModulationResp>;
  /** Whether each channel's batch had samples filled across a gap. */
  gap: { ecg: boolean; ppg: boolean; accel: boolean };
}

type WaveformPayload = Extract<PatchPayload, { type: 'ecg' | 'ppg' | 'accel' }>;

export interface SignalBatchesOptions {
  interfaceId: string;
  logger: Logger;
  processing: SignalProcessing;
  spo2Calibration?: { a: number; b: number; c: number } | undefined;
  /** The interface's health counters. */
  count(name: string, n?: number): void;
  /** Native failures, for the technical condition (patch-conditions.ts). */
  nativeFailures: RateWindow;
}

/**
 * Runs one batch through a processor: exactly one native call. A rejected batch (data) or
 * an exception (a Rust panic, a conversion error: NativeError) loses this batch only; after
 * an exception the processor is rebuilt, since its state can no longer be trusted.
 */
export function runBatch<P, R>(o: SignalBatchesOptions, ch: BatchChannel<P>, create: (fs: number) => P, call: (p: P) => R | SignalRejected): BatchOutcome<R> {
  try {
    ch.processor ??= create(ch.sampleRateHz);
    const r = call(ch.processor);
    if ((r as SignalRejected).ok === false) {
      const e = (r as SignalRejected).error;
      o.count(`batches-rejected.${ch.name}`);
      o.logger.warn('batch-rejected', { interfaceId: o.interfaceId, channel: ch.name, field: e.field, rule: e.rule, index: e.index });
      return { kind: 'rejected' };
    }
    o.count(`batches.${ch.name}`);
    return { kind: 'result', result: r as R };
  } catch (err) {
    ch.processor = null;
    o.count('native-failures');
    o.count(`native-failures.${ch.name}`);
    o.logger.error('native-failure', { interfaceId: o.interfaceId, channel: ch.name, error: err instanceof Error ? err.message : String(err) });
    o.nativeFailures.add();
    return { kind: 'failed' };
  }
}

export class SignalBatches {
  private ecg = ecgChannel();
  private ppg = ppgChannel();
  private accel = accelChannel();
  /** The last second had an optical artefact (probe off, motion): the PPG processor restarts after it. */
  private ppgArtefact = false;

  constructor(private readonly o: SignalBatchesOptions) {}

  /** Starts every channel afresh (a new connection, a restarted or changed patch): processors relearn. */
  reset(): void {
    this.ecg = ecgChannel();
    this.ppg = ppgChannel();
    this.accel = accelChannel();
  }

  /** Milliseconds of signal held by the fullest channel. */
  bufferedMs(): number {
    const ms = (n: number, fs: number): number => (fs > 0 ? (n * 1000) / fs : 0);
    return Math.max(ms(this.ecg.mv.length, this.ecg.sampleRateHz), ms(this.ppg.ir.length, this.ppg.sampleRateHz), ms(this.accel.y.length, this.accel.sampleRateHz));
  }

  /**
   * Appends a waveform frame to its channel. The frame's tick must continue the channel:
   * a gap up to MAX_FILLED_GAP_MS (a lost frame) is bridged by holding the last sample and
   * the batch is flagged; a longer gap, a step back or a new sample rate restarts the channel.
   */
  append(tickMs: number, p: WaveformPayload): void {
    const fill = this.continueChannel(tickMs, p);
    switch (p.type) {
      case 'ecg': {
        const mv = this.ecg.mv;
        const last = mv[mv.length - 1] ?? 0;
        for (let i = 0; i < fill; i++) mv.push(last);
        for (const s of p.samples) mv.push((s * ECG_MICROVOLTS_PER_LSB) / 1000);
        return;
      }
      case 'ppg': {
        const { red, ir } = this.ppg;
        const lastRed = red[red.length - 1] ?? p.red[0] ?? 0;
        const lastIr = ir[ir.length - 1] ?? p.ir[0] ?? 0;
        for (let i = 0; i < fill; i++) {
          red.push(lastRed);
          ir.push(lastIr);
        }
        for (let i = 0; i < p.ir.length; i++) {
          red.push(p.red[i] ?? 0);
          ir.push(p.ir[i] ?? 0);
        }
        return;
      }
      case 'accel': {
        const y = this.accel.y;
        const last = y[y.length - 1] ?? (p.y[0] ?? 0) * ACCEL_MILLI_G_PER_LSB;
        for (let i = 0; i < fill; i++) y.push(last);
        for (const s of p.y) y.push(s * ACCEL_MILLI_G_PER_LSB);
        return;
      }
    }
  }

  /** Checks that the frame continues its channel (restarting it if not); returns the samples to fill. */
  private continueChannel(tickMs: number, p: WaveformPayload): number {
    const ch = this.channel(p.type);
    const periodMs = 1000 / p.sampleRateHz;
    const n = p.type === 'ecg' ? p.samples.length : p.type === 'ppg' ? p.ir.length : p.y.length;
    let fill = 0;
    if (ch.nextTickMs !== null && ch.sampleRateHz === p.sampleRateHz) {
      const gapMs = tickDelta(ch.nextTickMs, tickMs);
      if (gapMs > 0 && gapMs <= MAX_FILLED_GAP_MS) fill = Math.round(gapMs / periodMs);
      else if (gapMs !== 0) this.restartChannel(p.type, gapMs > 0 ? 'gap' : 'overlap');
    } else if (ch.nextTickMs !== null) {
      this.restartChannel(p.type, 'sample-rate');
    }
    const c = this.channel(p.type);
    c.sampleRateHz = p.sampleRateHz;
    c.nextTickMs = (tickMs + Math.round(n * periodMs)) % TICK_WRAP;
    if (fill > 0) {
      c.filled += fill;
      this.o.count(`samples-filled.${p.type}`, fill);
    }
    return fill;
  }

  private channel(name: StreamName): BatchChannel<unknown> {
    return name === 'ecg' ? this.ecg : name === 'ppg' ? this.ppg : this.accel;
  }

  private restartChannel(name: StreamName, why: string): void {
    this.o.count(`channel-restarted.${name}.${why}`);
    if (name === 'ecg') this.ecg = ecgChannel();
    else if (name === 'ppg') this.ppg = ppgChannel();
    else this.accel = accelChannel();
  }

  /**
   * Processes the batch of every channel (one native call each) and empties the batches.
   * `conditions`: the last STATUS frame's, which decide what is not processed.
   */
  runSecond(conditions: ReadonlySet<PatchCondition> | undefined): SecondBatches {
    const gap = { ecg: this.ecg.filled > 0, ppg: this.ppg.filled > 0, accel: this.accel.filled > 0 };
    // A detector (re)built now numbers its beats from zero again: the EDR processor restarts with it.
    if (this.ecg.processor === null) this.ecg.edr = null;
    const lead = Float32Array.from(this.ecg.mv);
    const ecg: BatchOutcome<QrsBatch> =
      this.ecg.mv.length === 0 ? { kind: 'empty' } : runBatch(this.o, this.ecg, (fs) => this.o.processing.createQrsDetector(fs), (d) => d.process(lead));
    const ecgResp = this.runEcgResp(conditions, lead, ecg);
    const ppg = this.runPpg(conditions);
    // Electrodes and optical probe both off: the patch is off the body, and its accelerometer
    // measures the bed, not breathing. Not processed; the channel starts afresh when it is back.
    const patchOff = conditions !== undefined && conditions.has('probe-off') && conditions.has('lead-off');
    if (patchOff) this.accel.processor = null;
    const accel: BatchOutcome<RespEstimate> =
      this.accel.y.length === 0 || patchOff
        ? { kind: 'empty' }
        : runBatch(this.o, this.accel, (fs) => this.o.processing.createRespProcessor(fs), (d) => d.process(Float32Array.from(this.accel.y)));
    for (const ch of [this.ecg, this.ppg, this.accel] as BatchChannel<unknown>[]) ch.filled = 0;
    this.ecg.mv.length = 0;
    this.ppg.red.length = 0;
    this.ppg.ir.length = 0;
    this.accel.y.length = 0;
    return { ecg, ppg, accel, ecgResp, gap };
  }

  /**
   * The lead and its detector's beats through the ECG-derived respiration (one native call).
   * Leads off (the patch's flag, or the detector finding the lead flat): not processed, and
   * the processor starts afresh when they are back, so that beats from before the leads came
   * off are not bridged to those after (as the optical channel after an artefact). A failure
   * loses this second's EDR only and rebuilds its processor; the detector is kept.
   */
  private runEcgResp(conditions: ReadonlySet<PatchCondition> | undefined, lead: Float32Array, ecg: BatchOutcome<QrsBatch>): BatchOutcome<ModulationResp> {
    const ch = this.ecg;
    const leadsOff = (conditions?.has('lead-off') ?? false) || (ecg.kind === 'result' && ecg.result.status === 'leads-off');
    if (leadsOff) ch.edr = null;
    if (ecg.kind !== 'result' || leadsOff || ch.processor === null) return { kind: 'empty' };
    const detector = ch.processor;
    try {
      if (ch.edr === null) {
        ch.edrOffsetSamples = detector.samplesSeen - lead.length;
        ch.edr = this.o.processing.createEcgRespProcessor(ch.sampleRateHz);
      }
      const offset = ch.edrOffsetSamples;
      const beats = Float64Array.from(ecg.result.beatSampleIndexes.filter((b) => b >= offset), (b) => b - offset);
      const r = ch.edr.process(lead, beats);
      if (r.ok === false) {
        ch.edr = null;
        this.o.count('batches-rejected.ecg-resp');
        this.o.logger.warn('batch-rejected', { interfaceId: this.o.interfaceId, channel: 'ecg-resp', field: r.error.field, rule: r.error.rule, index: r.error.index });
        return { kind: 'rejected' };
      }
      this.o.count('batches.ecg-resp');
      return { kind: 'result', result: r };
    } catch (err) {
      ch.edr = null;
      this.o.count('native-failures');
      this.o.count('native-failures.ecg-resp');
      this.o.logger.error('native-failure', { interfaceId: this.o.interfaceId, channel: 'ecg-resp', error: err instanceof Error ? err.message : String(err) });
      this.o.nativeFailures.add();
      return { kind: 'failed' };
    }
  }

  /**
   * The optical channel after an artefact starts afresh: samples while the probe is off are
   * not processed, and the processor is rebuilt when the probe is back or the motion ends.
   * Otherwise the artefact (common to red and infrared, so R near 1) would stay in the SpO2
   * average for tens of seconds after it, unflagged (docs/interfaces/vigil-patch.md).
   */
  private runPpg(conditions: ReadonlySet<PatchCondition> | undefined): BatchOutcome<PpgBatch> {
    const probeOff = conditions?.has('probe-off') ?? false;
    const motion = conditions?.has('motion') ?? false;
    if (probeOff || (this.ppgArtefact && !motion)) {
      if (this.ppg.processor !== null) this.o.count('ppg-restarted-after-artefact');
      this.ppg.processor = null;
    }
    this.ppgArtefact = probeOff || motion;
    if (this.ppg.ir.length === 0 || probeOff) return { kind: 'empty' };
    const cal = this.o.spo2Calibration;
    return runBatch(this.o, 
      this.ppg,
      (fs) => this.o.processing.createPpgProcessor(fs, { inverted: true, ...(cal ? { calibration: cal } : {}) }),
      (d) => d.process(Float32Array.from(this.ppg.ir), Float32Array.from(this.ppg.red)),
    );
  }

  /**
   * Fuses the respiration sources of the second, once per second (docs/signal-processing.md,
   * "Fusion of the sources"): the accelerometer (direct) when its quality is good, otherwise
   * the ECG and PPG modulations. A source the patch flags off is not given: the ECG with its
   * leads off, the PPG with its probe off. The source used is counted (`resp-source.<source>`,
   * in the interface's status). Null when the fusion itself failed inside the addon (counted
   * like a batch).
   */
  fuseResp(second: SecondBatches, conditions: ReadonlySet<PatchCondition> | undefined): FusedRespSources | null {
    const { accel, ppg, ecgResp } = second;
    const probeOff = conditions?.has('probe-off') ?? false;
    const leadOff = conditions?.has('lead-off') ?? false;
    const sources: RespSources = {};
    if (accel.kind === 'result') sources.direct = { respRatePerMin: accel.result.respRatePerMin, quality: accel.result.quality };
    if (ecgResp.kind === 'result' && !leadOff && this.ecg.edr !== null) sources.ecg = this.ecg.edr;
    if (ppg.kind === 'result' && !probeOff && this.ppg.processor !== null) sources.ppg = this.ppg.processor;
    try {
      const fused = this.o.processing.fuseRespSources(sources);
      this.o.count(`resp-source.${fused.source}`);
      return fused;
    } catch (err) {
      this.o.count('native-failures');
      this.o.count('native-failures.resp-fusion');
      this.o.nativeFailures.add();
      this.o.logger.error('native-failure', { interfaceId: this.o.interfaceId, channel: 'resp-fusion', error: err instanceof Error ? err.message : String(err) });
      return null;
    }
  }
}
