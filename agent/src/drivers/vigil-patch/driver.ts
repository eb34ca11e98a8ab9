/**
 * Vigil sensor patch driver: owns the serial port (through io/serial.ts, frames delimited by
 * 0x00), the link state, the host commands and the timing; decoding is in protocol.ts and the
 * signal processing in the native addon (through native/addon.ts). Interface specification:
 * docs/interfaces/vigil-patch.md.
 *
 * Link states: connecting -> negotiating (port open, START sent) -> streaming (first valid
 * waveform frame) -> stale (no valid waveform frame for quietTimeMs; START is sent again) ->
 * connecting (still none after twice the quiet time: the port is closed and reopened), or ->
 * lost (port closed or unplugged) -> connecting (reopened with backoff, for as long as it takes).
 *
 * Waveforms are batched per channel: the STATUS frame that closes each device second (or two
 * seconds of samples without one) runs each channel's batch through its native processor ONCE,
 * and the second's observations (heartRate, pulseRate, spo2, perfusionIndex, respRate,
 * skinTemperature) are emitted together. An error inside the addon loses that batch only: it
 * is counted, the processor is rebuilt, and repeated failures raise a technical condition.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../../clock';
import { elapsedMs } from '../../clock';
import type { VigilPatchInterfaceConfig } from '../../config';
import { SerialLinePort } from '../../io/serial';
import type { FrameStamp } from '../../io/serial';
import type { Logger } from '../../log';
import type { Observation, QualityFlag, SourceDevice } from '../../model/observation';
import { PARAMETERS } from '../../model/parameters';
import type { ParameterCode } from '../../model/parameters';
import * as addon from '../../native/addon';
import type { FusedResp, PpgBatch, PpgProcessor, QrsBatch, QrsDetector, RespEstimate, RespProcessor, SignalRejected } from '../../native/addon';
import { RateWindow } from '../../safety/alarms';
import type { DeviceDriver, DriverCondition, DriverEvents, InterfaceSnapshot } from '../driver';
import type { DriverConditionKey } from '../../safety/conditions';
import { DeviceIdentity } from '../device-identity';
import { InterfaceLink } from '../interface-link';
import {
  ACCEL_MILLI_G_PER_LSB,
  decodePatchFrame,
  ECG_MICROVOLTS_PER_LSB,
  encodeCommand,
  FRAME_TYPES,
  MAX_ENCODED_FRAME_BYTES,
  SequenceTracker,
} from './protocol';
import type { CommandTypeName, PatchCondition, PatchFrame, PatchPayload, StreamName } from './protocol';

export const DRIVER_NAME = 'vigil-patch';
/** A host command not acknowledged within this time is counted as unacknowledged. */
export const COMMAND_TIMEOUT_MS = 1000;
/** A gap in a waveform up to this long is bridged by holding the last sample; longer restarts the channel. */
export const MAX_FILLED_GAP_MS = 1000;
/** Without a STATUS frame, a channel's batch is processed once it holds this much signal. */
export const MAX_BATCH_MS = 2000;
/** A device tick this far behind the last one means the patch restarted. */
export const RESTART_TICK_BACKSTEP_MS = 2000;
/** Native failures within NATIVE_FAILURE_WINDOW_MS that raise the technical condition. */
export const NATIVE_FAILURE_ALARM_COUNT = 3;
export const NATIVE_FAILURE_WINDOW_MS = 60_000;
/** Frames lost (sequence gaps) within LOST_FRAMES_WINDOW_MS that raise the technical condition. */
export const LOST_FRAMES_ALARM_COUNT = 16;
export const LOST_FRAMES_WINDOW_MS = 10_000;
/** START is re-sent at most this often when STATUS says the patch is not streaming. */
export const RESTART_MIN_INTERVAL_MS = 2000;

/** The native processors the driver uses (tests substitute failing ones). */
export interface SignalProcessing {
  createQrsDetector(sampleRateHz: number): QrsDetector;
  createPpgProcessor(sampleRateHz: number, options: { inverted: boolean; calibration?: { a: number; b: number; c: number } }): PpgProcessor;
  createRespProcessor(sampleRateHz: number): RespProcessor;
  fuseRespRate(direct: { respRatePerMin: number | null; quality: number }, ppg: { respRatePerMin: number | null; quality: number }): FusedResp;
}

export const nativeSignalProcessing: SignalProcessing = {
  createQrsDetector: (fs) => addon.createQrsDetector(fs),
  createPpgProcessor: (fs, options) => addon.createPpgProcessor(fs, options),
  createRespProcessor: (fs) => addon.createRespProcessor(fs),
  fuseRespRate: (direct, ppg) => addon.fuseRespRate(direct, ppg),
};

const U32 = 0x1_0000_0000;

/** b - a on the wrapping 32-bit tick, as a signed number of ms. */
export function tickDelta(a: number, b: number): number {
  const d = (((b - a) % U32) + U32) % U32;
  return d >= U32 / 2 ? d - U32 : d;
}

/** One waveform channel's batch under construction and its processor. */
interface Channel<P> {
  name: StreamName;
  sampleRateHz: number;
  /** Tick the next frame should start at; null before the first frame. */
  nextTickMs: number | null;
  processor: P | null;
  /** Samples filled in this batch (held across a gap). */
  filled: number;
}

interface EcgChannel extends Channel<QrsDetector> {
  mv: number[];
}
interface PpgChannel extends Channel<PpgProcessor> {
  red: number[];
  ir: number[];
}
interface AccelChannel extends Channel<RespProcessor> {
  /** The axis along the sternum (y), mg: breathing tilts it (docs/interfaces/vigil-patch.md). */
  y: number[];
}

type BatchOutcome<R> = { kind: 'result'; result: R } | { kind: 'empty' } | { kind: 'failed' } | { kind: 'rejected' };

interface LastStatus {
  conditions: Set<PatchCondition>;
  unknownFlagBits: number;
  skinTempCelsius: number | null;
  tickMs: number;
}

function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

export class VigilPatchDriver extends EventEmitter<DriverEvents> implements DeviceDriver {
  readonly driverName = DRIVER_NAME;
  readonly interfaceId: string;
  /** Link state, health counters, quiet time and reopening (shared by every driver). */
  private readonly link: InterfaceLink;
  private port: SerialLinePort | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  /** In this stale episode START was already sent again (first escalation step). */
  private restartSent = false;
  private lastRestartMonoNs: bigint | null = null;
  /** The patch's serial: configured, or learned from the first frame (HAZ-011). */
  private readonly serial: DeviceIdentity;
  private boundSerial = '';
  private readonly sequence = new SequenceTracker();
  private hostSequence = 0;
  private readonly pending = new Map<number, { type: CommandTypeName; sentMonoNs: bigint }>();
  /** Device tick -> gateway wall time, measured at the first frame of a connection. */
  private anchor: { tickMs: number; wallMs: number } | null = null;
  private lastTickMs: number | null = null;
  private ecg: EcgChannel = VigilPatchDriver.ecgChannel();
  private ppg: PpgChannel = VigilPatchDriver.ppgChannel();
  private accel: AccelChannel = VigilPatchDriver.accelChannel();
  private status: LastStatus | null = null;
  /** The last second had an optical artefact (probe off, motion): the PPG processor restarts after it. */
  private ppgArtefact = false;
  private readonly nativeFailures: RateWindow;
  private readonly lostFrames: RateWindow;
  private readonly activeConditions = new Set<string>();
  private identity: { firmware: string; model: string; hardwareRevision: number } | null = null;

  constructor(
    private readonly config: VigilPatchInterfaceConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly processing: SignalProcessing = nativeSignalProcessing,
    random: () => number = Math.random,
  ) {
    super();
    this.interfaceId = config.id;
    this.link = new InterfaceLink({
      interfaceId: config.id,
      driverName: DRIVER_NAME,
      clock,
      logger,
      emitter: this,
      reopenDelayMs: config.reopenDelayMs,
      reopen: () => this.openPort(),
      random,
    });
    this.serial = new DeviceIdentity(config.serialNumber);
    this.nativeFailures = new RateWindow(clock, NATIVE_FAILURE_WINDOW_MS);
    this.lostFrames = new RateWindow(clock, LOST_FRAMES_WINDOW_MS, 1000);
  }

  private static ecgChannel(): EcgChannel {
    return { name: 'ecg', sampleRateHz: 0, nextTickMs: null, processor: null, filled: 0, mv: [] };
  }
  private static ppgChannel(): PpgChannel {
    return { name: 'ppg', sampleRateHz: 0, nextTickMs: null, processor: null, filled: 0, red: [], ir: [] };
  }
  private static accelChannel(): AccelChannel {
    return { name: 'accel', sampleRateHz: 0, nextTickMs: null, processor: null, filled: 0, y: [] };
  }

  /**
   * Accepts the patch now reporting a different serial number (a nurse confirmed the patch
   * was changed). Returns false when there is no pending change.
   */
  confirmDeviceChange(): boolean {
    if (!this.serial.confirm()) return false;
    this.resync('device change confirmed');
    this.logger.info('device-change-confirmed', { interfaceId: this.interfaceId });
    return true;
  }

  learnedIdentity(): string | null {
    return this.serial.learned();
  }

  restoreIdentity(identity: string): boolean {
    return this.serial.restore(identity);
  }

  start(): void {
    if (this.link.start()) void this.openPort();
  }

  async stop(): Promise<void> {
    this.link.stop();
    this.stopKeepAlive();
    const port = this.port;
    this.port = null;
    if (port) {
      // Tell the patch to stop (it would also stop by itself after its host timeout).
      await this.send({ type: 'stop' }, port).catch(() => undefined);
      await port.close();
    }
  }

  /**
   * Quiet-time supervision and its escalation: no valid waveform frame for the quiet time:
   * stale (values withdrawn downstream) and START is sent again (the patch may have stopped
   * after its host timeout, or missed the first START). Still none after twice the quiet time:
   * close and reopen the port (which also re-resolves a stable /dev/serial/by-id path).
   */
  tick(): void {
    const now = this.clock.monoNs();
    for (const [seq, p] of this.pending) {
      if (elapsedMs(p.sentMonoNs, now) > COMMAND_TIMEOUT_MS) {
        this.pending.delete(seq);
        this.count(`commands-unacknowledged.${p.type}`);
      }
    }
    this.link.staleIfQuiet(this.config.quietTimeMs, 'waveform frame');
    const quietMs = this.link.quietMs;
    if (this.link.state === 'stale' && this.port !== null && !this.link.reopenPending) {
      if (!this.restartSent) {
        this.restartSent = true;
        this.count('escalation-restart');
        this.sendStart('escalation: START sent again');
      } else if (quietMs > 2 * this.config.quietTimeMs) {
        const port = this.port;
        this.port = null;
        this.stopKeepAlive();
        this.link.escalate(`escalation: no valid waveform frame for ${Math.round(quietMs)} ms, reopening the port`);
        void port.close().then(() => this.link.scheduleReopen());
      }
    }
    this.setCondition(
      'signal-processing-failed',
      this.nativeFailures.count() >= NATIVE_FAILURE_ALARM_COUNT,
      'medium',
      `signal processing failed ${NATIVE_FAILURE_ALARM_COUNT} times within ${NATIVE_FAILURE_WINDOW_MS / 1000} s: values from the patch are unavailable`,
    );
    this.setCondition(
      'frames-lost',
      this.lostFrames.count() >= LOST_FRAMES_ALARM_COUNT,
      'low',
      `${LOST_FRAMES_ALARM_COUNT} or more frames lost within ${LOST_FRAMES_WINDOW_MS / 1000} s (sequence gaps)`,
    );
  }

  snapshot(): InterfaceSnapshot {
    return this.link.snapshot();
  }

  /** The patch's identity answer (firmware, model), once received. */
  deviceIdentity(): { firmware: string; model: string; hardwareRevision: number } | null {
    return this.identity;
  }

  /** Decodes and handles one frame; public so integration tests can drive it without a port. */
  handleFrame(bytes: Uint8Array, stamp: FrameStamp): void {
    const result = decodePatchFrame(bytes);
    if (!result.ok) {
      this.reject(result.reason, result.detail);
      return;
    }
    const frame = result.frame;
    if (FRAME_TYPES[frame.payload.type] >= 0x80) {
      this.reject('unknown-type', 'a host command frame came from the device side');
      return;
    }
    if (!this.checkIdentity(frame.serial)) return;
    this.checkRestart(frame.tickMs);
    const verdict = this.sequence.check(frame.sequence);
    switch (verdict.kind) {
      case 'duplicate':
        this.reject('duplicate', 'sequence number repeats the last frame: dropped');
        return;
      case 'reordered':
        this.reject('reordered', 'sequence number older than the last frame: dropped');
        return;
      case 'gap':
        this.count('sequence-gaps');
        this.link.count('frames-lost', verdict.missing);
        for (let i = 0; i < Math.min(verdict.missing, LOST_FRAMES_ALARM_COUNT); i++) this.lostFrames.add();
        break;
      default:
        break;
    }
    this.count('frames-valid');
    this.count(`frames-valid.${frame.payload.type}`);
    this.anchor ??= { tickMs: frame.tickMs, wallMs: stamp.wallMs };
    this.dispatch(frame, stamp);
  }

  private dispatch(frame: PatchFrame, stamp: FrameStamp): void {
    const p = frame.payload;
    switch (p.type) {
      case 'ecg':
      case 'ppg':
      case 'accel':
        this.onData(stamp);
        this.appendWaveform(frame.tickMs, p);
        if (this.bufferedMs() >= MAX_BATCH_MS) {
          // STATUS frames are missing: do not let the batch grow.
          this.count('batches-without-status');
          this.processSecond(stamp, frame.tickMs);
        }
        return;
      case 'status':
        this.status = {
          conditions: new Set(p.conditions),
          unknownFlagBits: p.unknownFlagBits,
          skinTempCelsius: p.skinTempCelsius,
          tickMs: frame.tickMs,
        };
        this.onStatus(p);
        this.processSecond(stamp, frame.tickMs);
        return;
      case 'ack':
        this.onAck(p);
        return;
      case 'identity':
        this.identity = {
          firmware: `${p.firmware.major}.${p.firmware.minor}.${p.firmware.patch}`,
          model: p.model,
          hardwareRevision: p.hardwareRevision,
        };
        this.logger.info('device-identity', { interfaceId: this.interfaceId, ...this.identity });
        return;
      default:
        return;
    }
  }

  private onData(stamp: FrameStamp): void {
    this.restartSent = false;
    this.link.valid(stamp, 'valid waveform frame received');
  }

  private onStatus(p: Extract<PatchPayload, { type: 'status' }>): void {
    const has = (c: PatchCondition): boolean => p.conditions.includes(c);
    this.setCondition('low-battery', has('low-battery'), 'low', 'the patch reports a low battery: replace or charge it');
    this.setCondition('device-fault', has('sensor-fault'), 'medium', 'the patch reports a sensor fault');
    if (!has('streaming') && this.port !== null) {
      // Idle (host timeout, a restart, a missed START): ask again, not more often than allowed.
      const now = this.clock.monoNs();
      if (this.lastRestartMonoNs === null || elapsedMs(this.lastRestartMonoNs, now) > RESTART_MIN_INTERVAL_MS) {
        this.count('restart-idle');
        this.sendStart(has('host-timeout') ? 'the patch stopped after its host timeout' : 'the patch is not streaming');
      }
    }
  }

  private onAck(p: Extract<PatchPayload, { type: 'ack' }>): void {
    const pending = this.pending.get(p.ackedSequence);
    if (!pending || FRAME_TYPES[pending.type] !== p.ackedType) {
      this.count('acks-unexpected');
      return;
    }
    this.pending.delete(p.ackedSequence);
    if (p.result === 'ok') this.count(`commands-acknowledged.${pending.type}`);
    else {
      this.count(`commands-refused.${pending.type}.${p.result}`);
      this.logger.warn('command-refused', { interfaceId: this.interfaceId, command: pending.type, result: p.result });
    }
  }

  /** HAZ-011: a frame from another patch is held back until the change is confirmed. */
  private checkIdentity(serial: string): boolean {
    const verdict = this.serial.check(serial);
    if (verdict === 'ok') {
      this.boundSerial = serial;
      return true;
    }
    const configured = verdict === 'mismatch';
    this.reject(
      configured ? 'device-identity' : 'device-changed',
      configured
        ? 'patch serial number differs from the configured serialNumber'
        : 'patch serial number changed: values withheld until the change is confirmed',
    );
    return false;
  }

  /** A tick far behind the last one: the patch restarted (sequence and channels start over). */
  private checkRestart(tickMs: number): void {
    if (this.lastTickMs !== null && tickDelta(this.lastTickMs, tickMs) < -RESTART_TICK_BACKSTEP_MS) {
      this.count('device-restarted');
      this.logger.warn('device-restarted', { interfaceId: this.interfaceId });
      this.resync('the patch restarted');
    }
    if (this.lastTickMs === null || tickDelta(this.lastTickMs, tickMs) > 0) this.lastTickMs = tickMs;
  }

  /** Starts over: sequence, clock anchor, channels (their processors relearn). */
  private resync(reason: string): void {
    this.sequence.reset();
    this.anchor = null;
    this.lastTickMs = null;
    this.ecg = VigilPatchDriver.ecgChannel();
    this.ppg = VigilPatchDriver.ppgChannel();
    this.accel = VigilPatchDriver.accelChannel();
    this.status = null;
    this.logger.info('resync', { interfaceId: this.interfaceId, reason });
  }

  // ---- waveforms ------------------------------------------------------------------

  /**
   * Appends a waveform frame to its channel. The frame's tick must continue the channel:
   * a gap up to MAX_FILLED_GAP_MS (a lost frame) is bridged by holding the last sample and
   * the batch is flagged; a longer gap, a step back or a new sample rate restarts the channel.
   */
  private appendWaveform(tickMs: number, p: Extract<PatchPayload, { type: 'ecg' | 'ppg' | 'accel' }>): void {
    const ch: Channel<unknown> = p.type === 'ecg' ? this.ecg : p.type === 'ppg' ? this.ppg : this.accel;
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
    const c: Channel<unknown> = p.type === 'ecg' ? this.ecg : p.type === 'ppg' ? this.ppg : this.accel;
    c.sampleRateHz = p.sampleRateHz;
    c.nextTickMs = (tickMs + Math.round(n * periodMs)) % U32;
    if (fill > 0) {
      c.filled += fill;
      this.link.count(`samples-filled.${p.type}`, fill);
    }
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

  private restartChannel(name: StreamName, why: string): void {
    this.count(`channel-restarted.${name}.${why}`);
    if (name === 'ecg') this.ecg = VigilPatchDriver.ecgChannel();
    else if (name === 'ppg') this.ppg = VigilPatchDriver.ppgChannel();
    else this.accel = VigilPatchDriver.accelChannel();
  }

  private bufferedMs(): number {
    const ms = (n: number, fs: number): number => (fs > 0 ? (n * 1000) / fs : 0);
    return Math.max(ms(this.ecg.mv.length, this.ecg.sampleRateHz), ms(this.ppg.ir.length, this.ppg.sampleRateHz), ms(this.accel.y.length, this.accel.sampleRateHz));
  }

  /**
   * Runs one batch through a processor: exactly one native call. A rejected batch (data) or
   * an exception (a Rust panic, a conversion error: NativeError) loses this batch only; after
   * an exception the processor is rebuilt, since its state can no longer be trusted.
   */
  private runBatch<P, R>(ch: Channel<P>, create: (fs: number) => P, call: (p: P) => R | SignalRejected): BatchOutcome<R> {
    try {
      ch.processor ??= create(ch.sampleRateHz);
      const r = call(ch.processor);
      if ((r as SignalRejected).ok === false) {
        const e = (r as SignalRejected).error;
        this.count(`batches-rejected.${ch.name}`);
        this.logger.warn('batch-rejected', { interfaceId: this.interfaceId, channel: ch.name, field: e.field, rule: e.rule, index: e.index });
        return { kind: 'rejected' };
      }
      this.count(`batches.${ch.name}`);
      return { kind: 'result', result: r as R };
    } catch (err) {
      ch.processor = null;
      this.count('native-failures');
      this.count(`native-failures.${ch.name}`);
      this.logger.error('native-failure', { interfaceId: this.interfaceId, channel: ch.name, error: err instanceof Error ? err.message : String(err) });
      this.nativeFailures.add();
      return { kind: 'failed' };
    }
  }

  /** Processes the batch of every channel (one native call each) and emits the second's observations. */
  private processSecond(stamp: FrameStamp, tickMs: number): void {
    const gapFlag = { ecg: this.ecg.filled > 0, ppg: this.ppg.filled > 0, accel: this.accel.filled > 0 };
    const ecgOut: BatchOutcome<QrsBatch> =
      this.ecg.mv.length === 0
        ? { kind: 'empty' }
        : this.runBatch(this.ecg, (fs) => this.processing.createQrsDetector(fs), (d) => d.process(Float32Array.from(this.ecg.mv)));
    const cal = this.config.spo2Calibration;
    // The optical channel after an artefact starts afresh: samples while the probe is off
    // are not processed, and the processor is rebuilt when the probe is back or the motion
    // ends. Otherwise the artefact (common to red and infrared, so R near 1) would stay in
    // the SpO2 average for tens of seconds after it, unflagged (docs/interfaces/vigil-patch.md).
    const conditions = this.status?.conditions;
    const probeOff = conditions?.has('probe-off') ?? false;
    const motion = conditions?.has('motion') ?? false;
    if (probeOff || (this.ppgArtefact && !motion)) {
      if (this.ppg.processor !== null) this.count('ppg-restarted-after-artefact');
      this.ppg.processor = null;
    }
    this.ppgArtefact = probeOff || motion;
    const ppgOut: BatchOutcome<PpgBatch> =
      this.ppg.ir.length === 0 || probeOff
        ? { kind: 'empty' }
        : this.runBatch(
            this.ppg,
            (fs) => this.processing.createPpgProcessor(fs, { inverted: true, ...(cal ? { calibration: cal } : {}) }),
            (d) => d.process(Float32Array.from(this.ppg.ir), Float32Array.from(this.ppg.red)),
          );
    // Electrodes and optical probe both off: the patch is off the body, and its accelerometer
    // measures the bed, not breathing. Not processed; the channel starts afresh when it is back.
    const patchOff = probeOff && (conditions?.has('lead-off') ?? false);
    if (patchOff) this.accel.processor = null;
    const accelOut: BatchOutcome<RespEstimate> =
      this.accel.y.length === 0 || patchOff
        ? { kind: 'empty' }
        : this.runBatch(this.accel, (fs) => this.processing.createRespProcessor(fs), (d) => d.process(Float32Array.from(this.accel.y)));
    for (const ch of [this.ecg, this.ppg, this.accel] as Channel<unknown>[]) ch.filled = 0;
    this.ecg.mv.length = 0;
    this.ppg.red.length = 0;
    this.ppg.ir.length = 0;
    this.accel.y.length = 0;
    this.setCondition(
      'signal-processing-failed',
      this.nativeFailures.count() >= NATIVE_FAILURE_ALARM_COUNT,
      'medium',
      `signal processing failed ${NATIVE_FAILURE_ALARM_COUNT} times within ${NATIVE_FAILURE_WINDOW_MS / 1000} s: values from the patch are unavailable`,
    );
    this.emit('observations', this.observations(stamp, tickMs, ecgOut, ppgOut, accelOut, gapFlag));
  }

  private observations(
    stamp: FrameStamp,
    tickMs: number,
    ecgOut: BatchOutcome<QrsBatch>,
    ppgOut: BatchOutcome<PpgBatch>,
    accelOut: BatchOutcome<RespEstimate>,
    gap: { ecg: boolean; ppg: boolean; accel: boolean },
  ): Observation[] {
    const conditions = this.status?.conditions ?? new Set<PatchCondition>();
    const deviceFlags: QualityFlag[] = [];
    if ((this.status?.unknownFlagBits ?? 0) !== 0) deviceFlags.push('unknown-device-condition');
    if (conditions.has('sensor-fault')) deviceFlags.push('device-fault');
    const anchor = this.anchor;
    const deviceTimeMs = anchor ? anchor.wallMs + tickDelta(anchor.tickMs, tickMs) : null;
    const source: SourceDevice = { driver: DRIVER_NAME, interfaceId: this.interfaceId, serialNumber: this.boundSerial, port: this.config.path };
    const make = (parameter: ParameterCode, value: number | null, quality: QualityFlag[], unavailableReason: string): Observation => ({
      parameter,
      value,
      unitUcum: PARAMETERS[parameter].unitUcum,
      status: value === null ? 'cannot-obtain' : 'final',
      quality: [...new Set([...deviceFlags, ...quality])].sort(),
      source,
      deviceTimeMs,
      deviceTimeText: `tick=${tickMs}`,
      receiveWallMs: stamp.wallMs,
      receiveMonoNs: stamp.monoNs,
      unavailableReason: value === null ? unavailableReason : '',
    });
    const notFrom = (out: BatchOutcome<unknown>): string =>
      out.kind === 'failed' ? 'signal-processing-failed' : out.kind === 'rejected' ? 'batch-rejected' : 'no-signal';

    // ECG -> heart rate. Leads off (the patch's flag, or a flat signal found by the detector):
    // unavailable and flagged sensor-off, which raises the technical alarm downstream.
    const obs: Observation[] = [];
    if (conditions.has('lead-off') || (ecgOut.kind === 'result' && ecgOut.result.status === 'leads-off')) {
      obs.push(make('heartRate', null, ['sensor-off'], 'leads-off'));
    } else if (ecgOut.kind !== 'result') {
      obs.push(make('heartRate', null, [], notFrom(ecgOut)));
    } else {
      const r = ecgOut.result;
      const flags: QualityFlag[] = [];
      if (r.status === 'noisy') flags.push('low-signal-quality');
      if (conditions.has('motion')) flags.push('motion');
      if (gap.ecg) flags.push('low-signal-quality');
      obs.push(make('heartRate', r.heartRateBpm === null ? null : round(r.heartRateBpm, 0), flags, `ecg-${r.status}`));
    }

    // PPG -> pulse rate, SpO2, perfusion index.
    const ppgParams: Array<[ParameterCode, (r: PpgBatch) => number | null, number]> = [
      ['pulseRate', (r) => r.pulseRateBpm, 0],
      ['spo2', (r) => r.spo2Percent, 0],
      ['perfusionIndex', (r) => r.perfusionIndexPercent, 2],
    ];
    for (const [parameter, pick, decimals] of ppgParams) {
      if (conditions.has('probe-off')) {
        obs.push(make(parameter, null, ['sensor-off'], 'probe-off'));
      } else if (ppgOut.kind !== 'result') {
        obs.push(make(parameter, null, [], notFrom(ppgOut)));
      } else {
        const r = ppgOut.result;
        const flags: QualityFlag[] = [];
        if (r.motion || conditions.has('motion')) flags.push('motion');
        if (r.lowPerfusion) flags.push('low-perfusion');
        if (gap.ppg) flags.push('low-signal-quality');
        const v = pick(r);
        const reason = r.lowPerfusion ? 'low-perfusion' : r.motion ? 'motion' : 'ppg-no-value';
        obs.push(make(parameter, v === null ? null : round(v, decimals), flags, reason));
      }
    }

    // Accelerometer (direct) and PPG modulation -> respiration rate, fused once per second.
    const direct = accelOut.kind === 'result' ? { respRatePerMin: accelOut.result.respRatePerMin, quality: accelOut.result.quality } : { respRatePerMin: null, quality: 0 };
    const fromPpg =
      ppgOut.kind === 'result' && !conditions.has('probe-off')
        ? { respRatePerMin: ppgOut.result.respRatePerMin, quality: ppgOut.result.respQuality }
        : { respRatePerMin: null, quality: 0 };
    let fused: FusedResp | null = null;
    try {
      fused = this.processing.fuseRespRate(direct, fromPpg);
    } catch (err) {
      this.count('native-failures');
      this.count('native-failures.resp-fusion');
      this.nativeFailures.add();
      this.logger.error('native-failure', { interfaceId: this.interfaceId, channel: 'resp-fusion', error: err instanceof Error ? err.message : String(err) });
    }
    if (conditions.has('lead-off') && conditions.has('probe-off')) {
      obs.push(make('respRate', null, ['sensor-off'], 'patch-off'));
    } else if (fused === null) {
      obs.push(make('respRate', null, [], 'signal-processing-failed'));
    } else {
      const flags: QualityFlag[] = [];
      if (conditions.has('motion')) flags.push('motion');
      if (fused.source === 'direct' && gap.accel) flags.push('low-signal-quality');
      if (fused.source === 'ppg' && gap.ppg) flags.push('low-signal-quality');
      obs.push(make('respRate', fused.respRatePerMin === null ? null : round(fused.respRatePerMin, 0), flags, 'resp-no-rate'));
    }

    // Skin temperature (never NEWS2's temperature: a parameter of its own).
    const skin = this.status?.skinTempCelsius ?? null;
    if (conditions.has('lead-off')) obs.push(make('skinTemperature', null, ['sensor-off'], 'leads-off'));
    else obs.push(make('skinTemperature', skin === null ? null : round(skin, 2), [], 'not-measured'));
    return obs;
  }

  // ---- conditions, counters, rejects ------------------------------------------------

  private setCondition(condition: DriverConditionKey, active: boolean, priority: DriverCondition['priority'], detail: string): void {
    if (active === this.activeConditions.has(condition)) return;
    if (active) this.activeConditions.add(condition);
    else this.activeConditions.delete(condition);
    this.emit('condition', { interfaceId: this.interfaceId, condition, active, priority, detail });
  }

  private reject(reason: string, detail: string): void {
    this.link.reject(reason, detail);
  }

  private count(name: string): void {
    this.link.count(name);
  }

  // ---- port and commands ------------------------------------------------------------

  private send(command: Extract<PatchPayload, { type: CommandTypeName }>, port: SerialLinePort | null = this.port): Promise<void> {
    if (port === null) return Promise.resolve();
    const sequence = this.hostSequence;
    this.hostSequence = (this.hostSequence + 1) & 0xffff;
    const now = this.clock.monoNs();
    this.pending.set(sequence, { type: command.type, sentMonoNs: now });
    // Bounded: a patch that never answers cannot grow the map.
    if (this.pending.size > 64) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.count(`commands-sent.${command.type}`);
    const bytes = encodeCommand(command, sequence, Number(now / 1_000_000n) % U32);
    return port.write(bytes).catch((err: unknown) => {
      this.count('write-failed');
      this.logger.warn('write-failed', { interfaceId: this.interfaceId, error: err instanceof Error ? err.message : String(err) });
    });
  }

  private sendStart(reason: string): void {
    this.lastRestartMonoNs = this.clock.monoNs();
    this.logger.info('start-streaming', { interfaceId: this.interfaceId, reason });
    void this.send({ type: 'start' });
  }

  private startKeepAlive(): void {
    this.stopKeepAlive();
    this.keepAliveTimer = setInterval(() => void this.send({ type: 'keep-alive' }), this.config.keepAliveIntervalMs);
  }

  private stopKeepAlive(): void {
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = null;
  }

  private async openPort(): Promise<void> {
    if (this.link.stopped) return;
    this.link.to('connecting', `opening ${this.config.path}`);
    const port = new SerialLinePort({
      path: this.config.path,
      baudRate: this.config.baudRate,
      delimiter: Buffer.from([0]),
      maxFrameBytes: MAX_ENCODED_FRAME_BYTES,
      clock: this.clock,
    });
    port.on('frame', (bytes, stamp) => this.handleFrame(bytes, stamp));
    port.on('overflow', () => this.reject('overflow', `frame longer than ${MAX_ENCODED_FRAME_BYTES} bytes without a 0x00 delimiter`));
    port.on('truncated', () => this.reject('truncated', 'partial frame at end of stream'));
    port.on('close', (why) => {
      if (this.port !== port) return;
      this.port = null;
      this.stopKeepAlive();
      this.link.failed(`port ${why}`);
    });
    try {
      await port.open();
      if (this.link.stopped) {
        await port.close();
        return;
      }
      this.port = port;
      this.count('port-opened');
      this.link.restartQuietTime();
      this.restartSent = false;
      // A new connection: the sequence and the clock anchor start over; the channels too
      // (samples from before the reconnection must not be joined to the new ones).
      this.resync('port opened');
      this.link.to('negotiating', `port open (${this.config.path}), START sent, waiting for waveforms`);
      void this.send({ type: 'identify' });
      for (const [stream, rate] of [['ecg', this.config.ecgSampleRateHz], ['ppg', this.config.ppgSampleRateHz]] as const) {
        if (rate !== undefined) void this.send({ type: 'set-rate', stream, sampleRateHz: rate });
      }
      this.sendStart('port opened');
      this.startKeepAlive();
    } catch (err) {
      this.link.failed((err as Error).message, 'port-open-failed');
    }
  }
}
