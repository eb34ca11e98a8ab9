/**
 * Masimo "ASCII 1" pulse oximeter driver: owns the serial port, the link state and the
 * timing; decoding is in protocol.ts. Interface specification: docs/interfaces/masimo-ascii.md.
 *
 * Link states: connecting -> streaming (first valid frame) -> stale (no valid frame for
 * quietTimeMs) -> streaming again, or -> lost (port closed or unplugged) -> connecting
 * (reopened after reopenDelayMs, for as long as it takes).
 */
import { EventEmitter } from 'node:events';
import { realpathSync } from 'node:fs';
import type { Clock } from '../../clock';
import type { MasimoInterfaceConfig } from '../../config';
import { SerialLinePort } from '../../io/serial';
import type { FrameStamp } from '../../io/serial';
import type { Logger } from '../../log';
import type { Observation, QualityFlag, ResultStatus, SourceDevice } from '../../model/observation';
import { PARAMETERS } from '../../model/parameters';
import type { ParameterCode } from '../../model/parameters';
import type { DeviceChangeConfirmation, DeviceDriver, DriverCondition, DriverEvents, InterfaceSnapshot } from '../driver';
import { DeviceIdentity } from '../device-identity';
import type { EscalationPolicy } from '../escalation';
import { InterfaceLink } from '../interface-link';
import { MasimoAlarmRelay } from './alarm-bits';
import { decodeMasimoAscii, MASIMO_MAX_LINE_BYTES } from './protocol';
import type { MasimoException, MasimoFrame } from './protocol';

export const DRIVER_NAME = 'masimo-ascii';

/** The device node a stable path resolves to now (re-enumeration after a re-plug). */
function describePath(path: string): string {
  try {
    const real = realpathSync(path);
    return real === path ? path : `${path} -> ${real}`;
  } catch {
    return path;
  }
}
const CR_LF = Buffer.from('\r\n');

/** How each EXC condition is flagged on the observations of its frame. */
const EXCEPTION_FLAG: Partial<Record<MasimoException, QualityFlag>> = {
  'no-sensor': 'no-sensor',
  'sensor-off': 'sensor-off',
  'low-perfusion': 'low-perfusion',
  'pulse-search': 'pulse-search',
  interference: 'interference',
  'ambient-light': 'ambient-light',
  'low-signal-iq': 'low-signal-quality',
  'defective-sensor': 'device-fault',
  'unrecognized-sensor': 'device-fault',
  'incompatible-sensor': 'device-fault',
  'no-cable': 'no-sensor',
  'defective-cable': 'device-fault',
  'incompatible-cable': 'device-fault',
  'unrecognized-cable': 'device-fault',
  'cable-life-expired': 'device-fault',
  'sensor-life-expired': 'device-fault',
  'sensor-calibrating': 'device-fault',
  'emitter-temperature-out-of-range': 'device-fault',
  'sensor-current-limit-exceeded': 'device-fault',
};

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Converts the device's zone-less local time with the configured UTC offset ("+01:00"). */
export function deviceTimeToUtcMs(frame: MasimoFrame, utcOffset: string): { ms: number; text: string } {
  const t = frame.deviceTime;
  const sign = utcOffset.startsWith('-') ? -1 : 1;
  const [hh, mm] = utcOffset.slice(1).split(':').map(Number);
  const offsetMs = sign * ((hh ?? 0) * 60 + (mm ?? 0)) * 60_000;
  const ms = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) - offsetMs;
  const text = `${pad2(t.month)}/${pad2(t.day)}/${pad2(t.year % 100)} ${pad2(t.hour)}:${pad2(t.minute)}:${pad2(t.second)}`;
  return { ms, text };
}

/**
 * The parameters a line may carry beside SpO2, pulse and PI, each with the frame's value. They
 * are published once the device has sent a value for them (see frameToObservations).
 */
const OPTIONAL_PARAMETERS: ReadonlyArray<readonly [ParameterCode, (f: MasimoFrame) => number | null]> = [
  ['spCO', (f) => f.spcoPercent],
  ['spMet', (f) => f.spmetPercent],
  ['spHb', (f) => f.spHbGramsPerDl],
  ['spOC', (f) => f.spOcMlPerDl],
  ['pvi', (f) => f.pviPercent],
];

/** The quality flags of a frame: its EXC conditions, and any bit no source explains. */
function frameQuality(frame: MasimoFrame): QualityFlag[] {
  const quality = new Set<QualityFlag>();
  for (const exc of frame.exceptions) {
    const flag = EXCEPTION_FLAG[exc];
    if (flag) quality.add(flag);
  }
  // Unknown EXC bits, and any EXC1 bit (no source documents EXC1): the device reports a
  // condition Vigil cannot name, so it is flagged, never guessed.
  if (frame.unknownExceptionBits !== 0 || (frame.exception1Bits ?? 0) !== 0) quality.add('unknown-device-condition');
  return [...quality].sort();
}

/**
 * Turns one decoded frame into observations. Dash-filled values become "cannot-obtain"
 * observations with a reason, so the station sees the value withdrawn. SpO2, pulse and PI
 * are always published. The Rainbow parameters and PVI (OPTIONAL_PARAMETERS) are published
 * from the first line that gives them a value, then on every line (unavailable when dashed
 * or absent): a Rad-8 prints SPCO and SPMET dashed on every line because it measures neither,
 * and withdrawing values it never had would be noise. `reported` holds the optional
 * parameters already published for this device; the function adds to it.
 */
export function frameToObservations(
  frame: MasimoFrame,
  stamp: FrameStamp,
  source: Omit<SourceDevice, 'serialNumber'>,
  utcOffset: string,
  reported: Set<ParameterCode> = new Set(),
): Observation[] {
  // The device's values are final as it reports them; its exception bits become quality
  // flags, and the validation stage keeps flagged values out of the score (HAZ-ARTIFACT).
  const quality = frameQuality(frame);
  const deviceTime = deviceTimeToUtcMs(frame, utcOffset);
  const unavailableReason = frame.exceptions.includes('sensor-off')
    ? 'sensor-off'
    : frame.exceptions.includes('no-sensor')
      ? 'no-sensor'
      : 'unavailable-field';
  const make = (parameter: ParameterCode, value: number | null): Observation => {
    const status: ResultStatus = value === null ? 'cannot-obtain' : 'final';
    return {
      parameter,
      value,
      unitUcum: PARAMETERS[parameter].unitUcum,
      status,
      quality: [...quality],
      source: { ...source, serialNumber: frame.serialNumber ?? '' },
      deviceTimeMs: deviceTime.ms,
      deviceTimeText: deviceTime.text,
      receiveWallMs: stamp.wallMs,
      receiveMonoNs: stamp.monoNs,
      unavailableReason: value === null ? unavailableReason : '',
    };
  };
  const observations = [
    make('spo2', frame.spo2Percent),
    make('pulseRate', frame.pulseBpm),
    make('perfusionIndex', frame.perfusionIndexPercent),
  ];
  for (const [parameter, valueOf] of OPTIONAL_PARAMETERS) {
    const value = valueOf(frame);
    if (value !== null) reported.add(parameter);
    if (reported.has(parameter)) observations.push(make(parameter, value));
  }
  return observations;
}

/**
 * What the driver does when the oximeter falls silent (HAZ-003): no valid frame for the quiet
 * time: stale (values withdrawn downstream). Still none after twice the quiet time: close and
 * reopen the port, which also re-resolves a stable device path (/dev/serial/by-id/...) to
 * whatever device node it names now. The Masimo ASCII output has no start command to re-send,
 * so the patch's first step (START again) does not apply to this device.
 */
export function masimoEscalation(quietTimeMs: number): EscalationPolicy {
  return { quietTimeMs, noun: 'frame', firstStepWithStale: false, steps: [{ afterQuietMs: 2 * quietTimeMs, action: 'reopen' }] };
}

export class MasimoAsciiDriver extends EventEmitter<DriverEvents> implements DeviceDriver {
  readonly driverName = DRIVER_NAME;
  readonly interfaceId: string;
  private readonly link: InterfaceLink;
  private port: SerialLinePort | null = null;
  /** The device's serial: configured, or learned from the first frame (HAZ-011). */
  private readonly identity: DeviceIdentity;
  /** Optional parameters (Rainbow, PVI) this device has given a value for: published from then on. */
  private readonly reported = new Set<ParameterCode>();
  /** The device's own alarms (ALARM bits) relayed as alarm conditions (alarm-bits.ts). */
  private readonly deviceAlarms: MasimoAlarmRelay;

  constructor(
    private readonly config: MasimoInterfaceConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
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
        policy: masimoEscalation(config.quietTimeMs),
        hooks: { hasOpenPort: () => this.port !== null, detachPort: () => this.detachPort() },
      },
      random,
    });
    this.identity = new DeviceIdentity(config.serialNumber);
    this.deviceAlarms = new MasimoAlarmRelay(config.id);
    // A device alarm is only known while lines arrive: once the link is stale or lost, every
    // relayed alarm ends (never shown as current), and the link's own technical alarm is what
    // the station sees. This listener is registered first, so the clears go out before it.
    this.on('link', (change) => {
      if (change.to === 'stale' || change.to === 'lost') this.relayDeviceAlarms(this.deviceAlarms.clearAll(`link ${change.to}`));
    });
  }

  /**
   * Accepts the device now reporting a different serial number (a nurse confirmed the
   * device was changed); 'no-pending-change' when none is waiting.
   */
  confirmDeviceChange(): DeviceChangeConfirmation {
    if (!this.identity.confirm()) return 'no-pending-change';
    this.reported.clear(); // another device: its own Rainbow parameters
    this.logger.info('device-change-confirmed', { interfaceId: this.interfaceId });
    return 'confirmed';
  }

  learnedIdentity(): string | null {
    return this.identity.learned();
  }

  restoreIdentity(identity: string): boolean {
    return this.identity.restore(identity);
  }

  start(): void {
    if (this.link.start()) void this.openPort();
  }

  async stop(): Promise<void> {
    this.link.stop();
    const port = this.port;
    this.port = null;
    if (port) await port.close();
  }

  /** Quiet-time supervision and its escalation (masimoEscalation), on the monotonic clock. */
  tick(): void {
    this.link.tick();
  }

  snapshot(): InterfaceSnapshot {
    return this.link.snapshot();
  }

  /** Decodes and handles one frame; public so integration tests can drive it without a port. */
  handleFrame(bytes: Uint8Array, stamp: FrameStamp): void {
    const result = decodeMasimoAscii(bytes);
    if (!result.ok) {
      this.link.reject(result.reason, result.detail);
      return;
    }
    const serial = result.frame.serialNumber;
    const identity = this.identity.check(serial);
    if (identity !== 'ok') {
      // Another device on this port, or one that no longer says which it is: its values are
      // not attributed to this bed until confirmed (a configured serial only in the config).
      const what = serial === null ? 'device sends no serial number where one was bound' : identity === 'changed' ? 'device serial number changed' : 'device serial number differs from the configured serialNumber';
      this.link.reject(identity === 'changed' ? 'device-changed' : 'device-identity', identity === 'changed' ? `${what}: values withheld until the change is confirmed` : what);
      return;
    }
    this.link.count('frames-valid');
    // Real Radical-7 output starts some lines with NUL bytes (fields.ts, S5): tolerated, counted.
    if (result.frame.leadingNulBytes > 0) this.link.count('frames-leading-nul');
    this.link.valid(stamp, 'valid frame received');
    const source = { driver: DRIVER_NAME, interfaceId: this.interfaceId, port: this.config.path };
    this.emit('observations', frameToObservations(result.frame, stamp, source, this.config.deviceUtcOffset, this.reported));
    // The device's own alarms: raised on the first line with the bit, cleared on the first without.
    const alarms = this.deviceAlarms.update(result.frame.alarmBits, result.model, serial);
    if (alarms.raised > 0) this.link.count('device-alarms-relayed', alarms.raised);
    this.relayDeviceAlarms(alarms.edges);
  }

  private relayDeviceAlarms(edges: readonly DriverCondition[]): void {
    for (const edge of edges) this.emit('condition', edge);
  }

  /** The escalation takes the port to reopen it: its close is then not a loss. */
  private detachPort(): SerialLinePort | null {
    const port = this.port;
    this.port = null;
    return port;
  }

  private async openPort(): Promise<void> {
    if (this.link.stopped) return;
    this.link.to('connecting', `opening ${this.config.path}`);
    const port = new SerialLinePort({
      path: this.config.path,
      baudRate: this.config.baudRate,
      delimiter: CR_LF,
      maxFrameBytes: MASIMO_MAX_LINE_BYTES,
      clock: this.clock,
    });
    port.on('frame', (bytes, stamp) => this.handleFrame(bytes, stamp));
    port.on('overflow', () => this.link.reject('overflow', `line longer than ${MASIMO_MAX_LINE_BYTES} bytes without CR LF`));
    port.on('truncated', () => this.link.reject('truncated', 'partial line at end of stream'));
    port.on('close', (why) => {
      if (this.port !== port) return;
      this.port = null;
      this.link.failed(`port ${why}`);
    });
    try {
      await port.open();
      if (this.link.stopped) {
        await port.close();
        return;
      }
      this.port = port;
      this.link.count('port-opened');
      this.link.restartQuietTime();
      this.link.to('negotiating', `port open (${describePath(this.config.path)}), waiting for a valid frame`);
    } catch (err) {
      this.link.failed((err as Error).message, 'port-open-failed');
    }
  }
}
