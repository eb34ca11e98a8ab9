/**
 * Vigil sensor patch driver: owns the serial port (through io/serial.ts, frames delimited by
 * 0x00), the link state and the timing, and wires the parts particular to the patch:
 * decoding (protocol.ts), the host commands (host-commands.ts), the device clock
 * (device-time.ts), the one-second batches through the native signal processing
 * (signal-batches.ts), the second's observations (observations.ts) and the technical
 * conditions (patch-conditions.ts). Interface specification: docs/interfaces/vigil-patch.md.
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
import type { VigilPatchInterfaceConfig } from '../../config';
import { SerialLinePort } from '../../io/serial';
import type { FrameStamp } from '../../io/serial';
import type { Logger } from '../../log';
import type { DeviceChangeConfirmation, DeviceDriver, DriverEvents, InterfaceSnapshot, RejectReason } from '../driver';
import { DeviceIdentity } from '../device-identity';
import type { EscalationPolicy } from '../escalation';
import { InterfaceLink } from '../interface-link';
import { DeviceClock } from './device-time';
import { HostCommands } from './host-commands';
import type { LastStatus } from './observations';
import { secondObservations } from './observations';
import { PatchConditions } from './patch-conditions';
import { decodePatchFrame, FRAME_TYPES, MAX_ENCODED_FRAME_BYTES, SequenceTracker } from './protocol';
import type { PatchFrame, PatchPayload } from './protocol';
import { MAX_BATCH_MS, nativeSignalProcessing, SignalBatches } from './signal-batches';
import type { SignalProcessing } from './signal-batches';

export { tickDelta } from './device-time';
export { nativeSignalProcessing } from './signal-batches';
export type { SignalProcessing } from './signal-batches';

export const DRIVER_NAME = 'vigil-patch';

/**
 * What the driver does when the patch falls silent (HAZ-003, CTRL-201), supervised on its
 * waveform frames (15 a second): no valid one for the quiet time: stale (values withdrawn
 * downstream), and at once START is sent again (the patch may have stopped after its host
 * timeout, or missed the first START). Still none after twice the quiet time: close and
 * reopen the port (which also re-resolves a stable /dev/serial/by-id path).
 */
export function vigilPatchEscalation(quietTimeMs: number): EscalationPolicy {
  return {
    quietTimeMs,
    noun: 'waveform frame',
    firstStepWithStale: true,
    steps: [
      { afterQuietMs: quietTimeMs, action: 'nudge', counter: 'escalation-restart', reason: 'escalation: START sent again' },
      { afterQuietMs: 2 * quietTimeMs, action: 'reopen' },
    ],
  };
}

export class VigilPatchDriver extends EventEmitter<DriverEvents> implements DeviceDriver {
  readonly driverName = DRIVER_NAME;
  readonly interfaceId: string;
  /** Link state, health counters, quiet time, its escalation and reopening (shared by every driver). */
  private readonly link: InterfaceLink;
  private port: SerialLinePort | null = null;
  /** The patch's serial: configured, or learned from the first frame (HAZ-011). */
  private readonly serial: DeviceIdentity;
  private boundSerial = '';
  private readonly sequence = new SequenceTracker();
  private readonly deviceClock = new DeviceClock();
  private readonly commands: HostCommands;
  private readonly batches: SignalBatches;
  private readonly conditions: PatchConditions;
  private status: LastStatus | null = null;
  private identity: { firmware: string; model: string; hardwareRevision: number } | null = null;

  constructor(
    private readonly config: VigilPatchInterfaceConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
    processing: SignalProcessing = nativeSignalProcessing,
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
      escalation: {
        policy: vigilPatchEscalation(config.quietTimeMs),
        hooks: {
          hasOpenPort: () => this.port !== null,
          detachPort: () => this.detachPort(),
          nudge: (reason) => this.commands.sendStart(reason),
        },
      },
      random,
    });
    this.serial = new DeviceIdentity(config.serialNumber);
    const count = (name: string, n?: number): void => this.link.count(name, n);
    this.commands = new HostCommands({ interfaceId: config.id, clock, logger, keepAliveIntervalMs: config.keepAliveIntervalMs, count, port: () => this.port });
    this.conditions = new PatchConditions(config.id, clock, (c) => this.emit('condition', c));
    this.batches = new SignalBatches({
      interfaceId: config.id,
      logger,
      processing,
      spo2Calibration: config.spo2Calibration,
      count,
      nativeFailures: this.conditions.nativeFailures,
    });
  }

  /**
   * Accepts the patch now reporting a different serial number (a nurse confirmed the patch
   * was changed); 'no-pending-change' when none is waiting (or the serial is configured).
   */
  confirmDeviceChange(): DeviceChangeConfirmation {
    if (!this.serial.confirm()) return 'no-pending-change';
    this.resync('device change confirmed');
    this.logger.info('device-change-confirmed', { interfaceId: this.interfaceId });
    return 'confirmed';
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
    this.commands.stopKeepAlive();
    const port = this.port;
    this.port = null;
    if (port) {
      // Tell the patch to stop (it would also stop by itself after its host timeout).
      await this.commands.send({ type: 'stop' }, port).catch(() => undefined);
      await port.close();
    }
  }

  /**
   * On every agent tick: commands unacknowledged for too long are counted; the quiet time
   * and its escalation (vigilPatchEscalation); the windowed technical conditions.
   */
  tick(): void {
    this.commands.expire();
    this.link.tick();
    this.conditions.tick();
  }

  snapshot(): InterfaceSnapshot {
    return this.link.snapshot();
  }

  /** The patch's identity answer (firmware, model), once received. */
  deviceIdentity(): { firmware: string; model: string; hardwareRevision: number } | null {
    return this.identity;
  }

  /**
   * Decodes and handles one frame; public so integration tests can drive it without a port.
   * HAZ-007: the sequence number drops a repeated or older frame and counts the lost ones.
   */
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
        this.conditions.framesLost(verdict.missing);
        break;
      default:
        break;
    }
    this.count('frames-valid');
    this.count(`frames-valid.${frame.payload.type}`);
    this.deviceClock.anchorAt(frame.tickMs, stamp.wallMs);
    this.dispatch(frame, stamp);
  }

  private dispatch(frame: PatchFrame, stamp: FrameStamp): void {
    const p = frame.payload;
    switch (p.type) {
      case 'ecg':
      case 'ppg':
      case 'accel':
        this.link.valid(stamp, 'valid waveform frame received');
        this.batches.append(frame.tickMs, p);
        if (this.batches.bufferedMs() >= MAX_BATCH_MS) {
          // STATUS frames are missing: do not let the batch grow.
          this.count('batches-without-status');
          this.processSecond(stamp, frame.tickMs);
        }
        return;
      case 'status':
        this.onStatus(p, frame.tickMs);
        this.processSecond(stamp, frame.tickMs);
        return;
      case 'ack':
        this.commands.onAck(p);
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

  private onStatus(p: Extract<PatchPayload, { type: 'status' }>, tickMs: number): void {
    this.status = { conditions: new Set(p.conditions), unknownFlagBits: p.unknownFlagBits, skinTempCelsius: p.skinTempCelsius, tickMs };
    this.conditions.fromStatus(p.conditions);
    this.commands.restartIfIdle(p.conditions);
  }

  /** Runs the second's batches (one native call per channel) and emits its observations together. */
  private processSecond(stamp: FrameStamp, tickMs: number): void {
    const conditions = this.status?.conditions;
    const second = this.batches.runSecond(conditions);
    this.conditions.checkSignalProcessing();
    const fused = this.batches.fuseResp(second, conditions);
    const source = { driver: DRIVER_NAME, interfaceId: this.interfaceId, serialNumber: this.boundSerial, port: this.config.path };
    const context = { stamp, tickMs, deviceTimeMs: this.deviceClock.wallMsAt(tickMs), source, status: this.status };
    this.emit('observations', secondObservations(context, second, fused));
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
    if (this.deviceClock.wentBack(tickMs)) {
      this.count('device-restarted');
      this.logger.warn('device-restarted', { interfaceId: this.interfaceId });
      this.resync('the patch restarted');
    }
    this.deviceClock.advance(tickMs);
  }

  /** Starts over: sequence, clock anchor, channels (their processors relearn). */
  private resync(reason: string): void {
    this.sequence.reset();
    this.deviceClock.reset();
    this.batches.reset();
    this.status = null;
    this.logger.info('resync', { interfaceId: this.interfaceId, reason });
  }

  private reject(reason: RejectReason, detail: string): void {
    this.link.reject(reason, detail);
  }

  private count(name: string): void {
    this.link.count(name);
  }

  /** The escalation takes the port to reopen it: its close is then not a loss; the keep-alive stops. */
  private detachPort(): SerialLinePort | null {
    const port = this.port;
    this.port = null;
    this.commands.stopKeepAlive();
    return port;
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
      this.commands.stopKeepAlive();
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
      // A new connection: the sequence and the clock anchor start over; the channels too
      // (samples from before the reconnection must not be joined to the new ones).
      this.resync('port opened');
      this.link.to('negotiating', `port open (${this.config.path}), START sent, waiting for waveforms`);
      this.commands.greet([
        ['ecg', this.config.ecgSampleRateHz],
        ['ppg', this.config.ppgSampleRateHz],
      ]);
    } catch (err) {
      this.link.failed((err as Error).message, 'port-open-failed');
    }
  }
}
