/**
 * Multi-parameter monitor over HL7 v2 (IHE PCD-01 ORU^R01), MLLP framed, on a serial line
 * (through io/serial.ts) or on a TCP/TLS listener the gateway opens (through io/mllp-tcp.ts).
 * Owns the port or listener, the link state and the timing; MLLP framing is in
 * framing/mllp.ts, decoding in pcd01.ts (with hl7v2.ts, dtm.ts, obx.ts), the ACK in ack.ts and
 * the receiver's checks in receiver.ts. Interface specification: docs/interfaces/hl7-pcd01.md.
 *
 * Every message is answered on the link it came on: AA (with ERR warnings for the OBX that
 * were not used), AE or AR with an ERR saying why. Link states: connecting -> negotiating
 * (port open / monitor connected) -> streaming (first valid message) -> stale (no valid
 * message for quietTimeMs) -> streaming again, or -> lost (port closed, unplugged, or the
 * monitor disconnected) -> connecting (reopened with backoff, for as long as it takes).
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../../clock';
import type { Hl7Pcd01InterfaceConfig } from '../../config';
import type { MllpConnection } from '../../io/mllp-tcp';
import { MllpTcpServer } from '../../io/mllp-tcp';
import type { FrameStamp } from '../../io/serial';
import { SerialLinePort } from '../../io/serial';
import type { Logger } from '../../log';
import type { SourceDevice } from '../../model/observation';
import type { DeviceChangeConfirmation, DeviceDriver, DriverEvents, InterfaceSnapshot } from '../driver';
import type { EscalationPolicy } from '../escalation';
import { InterfaceLink } from '../interface-link';
import { frameMllp, MLLP_MAX_FRAME_BYTES, MLLP_TRAILER, unwrapMllp } from '../../framing/mllp';
import { utcOffsetMinutes } from './dtm';
import { Pcd04AlertRelay } from './alert-relay';
import type { RelayResult } from './alert-relay';
import { Hl7Conditions } from './hl7-conditions';
import { withheldObservation } from './obx';
import type { ObxRejectReason } from './obx';
import { readingToObservation } from './obx';
import { profileSetting } from './profile';
import type { Hl7RejectReason, ReceiveOutcome } from './receiver';
import { Pcd01Receiver } from './receiver';

export const DRIVER_NAME = 'hl7-pcd01';
/** Monitors connected at once to one TCP interface; more are refused and counted. */
export const MAX_TCP_CONNECTIONS = 4;

/**
 * OBX rejections that are not a sign of a faulty link, so not counted towards the rejection
 * rate (frames-rejected): another row gave the parameter (superseded), or the code has its own
 * alarm (unmapped-code: device-mapping-incomplete). Rows nothing in Vigil uses (ignored) are
 * only counted (obx-ignored.<reason>): a monitor sends many parameters Vigil does not score,
 * and alarming on each would be alarm fatigue. The others are reported as rejections
 * (counted, alarmed above the rate) and, for a parameter Vigil shows, raise value-withheld.
 */
const QUIET_OBX_REASONS: ReadonlySet<ObxRejectReason> = new Set<ObxRejectReason>(['superseded', 'unmapped-code']);

/** The bed's patient, against which PID-3 is checked (config `patient`). */
export interface PatientBinding {
  patientId?: string | undefined;
  patientIdAuthority?: string | undefined;
}

type Reply = (bytes: Buffer) => Promise<void>;

/**
 * What the driver does when the monitor falls silent (HAZ-003): no valid message for the
 * quiet time: stale (values withdrawn downstream). On a serial line, still none after twice
 * the quiet time: the port is closed and reopened (a stable path may name another device node
 * after a re-plug). A TCP monitor reconnects by itself: the listener is left as it is (the
 * driver then has no open port to escalate on).
 */
export function hl7Escalation(quietTimeMs: number): EscalationPolicy {
  return { quietTimeMs, noun: 'message', firstStepWithStale: false, steps: [{ afterQuietMs: 2 * quietTimeMs, action: 'reopen' }] };
}

export class Hl7Pcd01Driver extends EventEmitter<DriverEvents> implements DeviceDriver {
  readonly driverName = DRIVER_NAME;
  readonly interfaceId: string;
  private readonly link: InterfaceLink;
  private readonly receiver: Pcd01Receiver;
  private readonly conditions: Hl7Conditions;
  /** The monitor's own alarms (PCD-04 ORU^R40) relayed to the station. */
  private readonly alerts: Pcd04AlertRelay;
  private port: SerialLinePort | null = null;
  private listener: MllpTcpServer | null = null;
  private readonly source: Omit<SourceDevice, 'serialNumber'>;

  constructor(
    private readonly config: Hl7Pcd01InterfaceConfig,
    patient: PatientBinding,
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
      reopen: () => this.open(),
      escalation: {
        policy: hl7Escalation(config.quietTimeMs),
        hooks: { hasOpenPort: () => this.port !== null, detachPort: () => this.detachPort() },
      },
      random,
    });
    this.receiver = new Pcd01Receiver({
      patientId: patient.patientId ?? null,
      patientIdAuthority: patient.patientIdAuthority ?? null,
      equipmentId: config.equipmentId ?? null,
      defaultUtcOffsetMinutes: utcOffsetMinutes(config.deviceUtcOffset),
      conformance: config.conformance,
      // Read once at construction: an unknown or invalid profile stops the start (ProfileError).
      profile: profileSetting(config.profile),
    });
    this.conditions = new Hl7Conditions(config.id, (c) => this.emit('condition', c));
    this.alerts = new Pcd04AlertRelay(config.id, config.alertUpdateTimeoutMs);
    // A relayed device alarm is never shown as current past its link: the link's own technical alarm takes over.
    this.on('link', (change) => {
      if (change.to === 'stale' || change.to === 'lost') for (const edge of this.alerts.clearAll(`link ${change.to}`)) this.emit('condition', edge);
    });
    this.source = {
      driver: DRIVER_NAME,
      interfaceId: config.id,
      port: config.transport === 'serial' ? config.path : `${config.tls ? 'mllps' : 'mllp'}://${config.host}:${config.port}`,
    };
  }

  /**
   * Accepts the monitor now reporting another equipment id (OBX-18) after a nurse confirmed
   * the change; 'no-pending-change' when none is waiting (or the id is configured).
   */
  confirmDeviceChange(): DeviceChangeConfirmation {
    if (!this.receiver.confirmDeviceChange()) return 'no-pending-change';
    this.logger.info('device-change-confirmed', { interfaceId: this.interfaceId });
    return 'confirmed';
  }

  learnedIdentity(): string | null {
    return this.receiver.equipment.learned();
  }

  restoreIdentity(identity: string): boolean {
    return this.receiver.equipment.restore(identity);
  }

  start(): void {
    if (!this.link.start()) return;
    if (this.config.transport === 'tcp' && this.config.insecure) {
      this.logger.warn('mllp-listener-insecure', { interfaceId: this.interfaceId, detail: 'HL7 listener without TLS ("insecure": true)' });
    }
    void this.open();
  }

  async stop(): Promise<void> {
    this.link.stop();
    const port = this.port;
    const listener = this.listener;
    this.port = null;
    this.listener = null;
    if (port) await port.close();
    if (listener) await listener.close();
  }

  /** Quiet-time supervision and its escalation (hl7Escalation), on the monotonic clock. */
  tick(): void {
    this.link.tick();
    this.relayed(this.alerts.tick(this.clock.monoNs()));
  }

  snapshot(): InterfaceSnapshot {
    return this.link.snapshot();
  }

  /**
   * Handles one frame: the bytes after the previous MLLP end block up to this one. Public so
   * that integration tests drive it without a port; `reply` sends the ACK on the same link.
   */
  handleFrame(bytes: Uint8Array, stamp: FrameStamp, reply: Reply): void {
    const unwrapped = unwrapMllp(bytes);
    if (!unwrapped.ok) {
      this.reject(unwrapped.reason, unwrapped.detail);
      return;
    }
    if (unwrapped.noiseBytes > 0) this.reject('framing', `${unwrapped.noiseBytes} bytes outside an MLLP block`);
    for (let i = 0; i < unwrapped.truncatedFrames; i++) this.reject('truncated', 'MLLP block without end block: a new start block came first');
    const outcome = this.receiver.receive(unwrapped.payload, stamp.wallMs);
    switch (outcome.kind) {
      case 'ack':
        // The gateway only receives; an ACK on this link is counted and never answered.
        this.count('acks-received');
        return;
      case 'rejected':
        if (outcome.ack !== null) this.send(reply, outcome.ack);
        this.reject(outcome.reason, outcome.detail);
        return;
      case 'duplicate':
        this.send(reply, outcome.ack);
        this.alive(stamp);
        this.reject('duplicate', outcome.detail);
        return;
      case 'accepted':
        this.send(reply, outcome.ack);
        this.accepted(outcome, stamp);
        return;
      case 'alert':
        this.alert(outcome, stamp, reply);
    }
  }

  /**
   * An accepted ORU^R40 (IHE PCD-04): its alerts relayed as device alarms, then the ACK^R40 with
   * what the relay found (an end without start) as warnings. An alert message keeps the link alive.
   */
  private alert(outcome: Extract<ReceiveOutcome, { kind: 'alert' }>, stamp: FrameStamp, reply: Reply): void {
    this.count('messages-valid');
    this.alive(stamp);
    for (const w of outcome.warnings) this.count(`conformance-warning.${w.what}`);
    const result = this.alerts.update(outcome.alerts, { interfaceId: this.interfaceId, sendingApplication: outcome.header.sendingApplication, equipmentId: outcome.equipmentId }, stamp.monoNs);
    this.send(reply, outcome.ack(result.ackWarnings));
    this.relayed(result);
    for (const a of outcome.alerts) {
      this.logger.info('device-alert', { interfaceId: this.interfaceId, instanceId: a.instanceId, phase: a.phase, state: a.state, priority: a.priority, type: a.type, eventKnown: a.eventKnown });
    }
  }

  /** Emits a relay's edges and counts what it found. */
  private relayed(result: RelayResult): void {
    for (const name of result.counts) this.count(name);
    for (const n of result.notes) this.logger.warn(n.event, { interfaceId: this.interfaceId, instanceId: n.instanceId, detail: n.detail });
    for (const edge of result.edges) this.emit('condition', edge);
  }

  /** An accepted message: counted by what it held, its rows' conditions raised, its values emitted. */
  private accepted(outcome: Extract<ReceiveOutcome, { kind: 'accepted' }>, stamp: FrameStamp): void {
    this.count('messages-valid');
    this.alive(stamp);
    if (outcome.descriptors > 0) this.count('obx-descriptors', outcome.descriptors);
    for (const w of outcome.warnings) this.count(`conformance-warning.${w.what}`);
    if (outcome.profile.profile) this.count(`profile-applied.${outcome.profile.profile.name}`);
    else if (this.config.profile !== undefined) this.count('profile-not-applied');
    for (const r of outcome.obxRejections) {
      if (r.ignored) {
        this.count(`obx-ignored.${r.reason}`);
        continue;
      }
      this.count(`obx-rejected.${r.reason}`);
      if (!QUIET_OBX_REASONS.has(r.reason)) this.reject(r.reason, r.detail);
    }
    const withheld = this.conditions.afterMessage(outcome.readings, outcome.obxRejections);
    // A withheld row withdraws what was shown of its parameter (HAZ-003): the station must not
    // go on showing the previous value as current while the device's new one is refused.
    const observations = [
      ...outcome.readings.map((r) => readingToObservation(r, stamp, this.source)),
      ...[...withheld].map(([parameter, r]) => withheldObservation(parameter, `withheld-${r.reason}`, stamp, this.source, outcome.equipmentId)),
    ];
    if (observations.length > 0) this.emit('observations', observations);
  }

  private alive(stamp: FrameStamp): void {
    this.link.valid(stamp, 'valid message received');
  }

  private send(reply: Reply, ack: string): void {
    this.count('acks-sent');
    reply(frameMllp(ack)).catch((err: Error) => {
      this.count('ack-send-failed');
      this.logger.warn('ack-send-failed', { interfaceId: this.interfaceId, error: err.message });
    });
  }

  private reject(reason: Hl7RejectReason, detail: string): void {
    this.link.reject(reason, detail);
  }

  private count(name: string, n = 1): void {
    this.link.count(name, n);
  }

  /** The escalation takes the serial port to reopen it: its close is then not a loss. */
  private detachPort(): SerialLinePort | null {
    const port = this.port;
    this.port = null;
    return port;
  }

  private open(): Promise<void> {
    return this.config.transport === 'serial' ? this.openPort(this.config.path, this.config.baudRate) : this.openListener();
  }

  private async openPort(path: string, baudRate: number): Promise<void> {
    if (this.link.stopped) return;
    this.link.to('connecting', `opening ${path}`);
    const port = new SerialLinePort({
      path,
      baudRate,
      // MLLP ends a block with FS CR; the delimiter parser bounds the frame. What precedes the
      // start block (VT) in a frame is noise, counted by handleFrame.
      delimiter: Buffer.from(MLLP_TRAILER),
      maxFrameBytes: MLLP_MAX_FRAME_BYTES,
      clock: this.clock,
    });
    const reply: Reply = (bytes) => port.write(bytes);
    port.on('frame', (bytes, stamp) => this.handleFrame(bytes, stamp, reply));
    port.on('overflow', () => this.reject('overflow', `MLLP block longer than ${MLLP_MAX_FRAME_BYTES} bytes without end block`));
    port.on('truncated', () => this.reject('truncated', 'partial MLLP block at end of stream'));
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
      this.count('port-opened');
      this.link.restartQuietTime();
      this.link.to('negotiating', `port ${path} open, waiting for a valid message`);
    } catch (err) {
      this.link.failed((err as Error).message, 'port-open-failed');
    }
  }

  private async openListener(): Promise<void> {
    if (this.link.stopped || this.config.transport !== 'tcp') return;
    const { host, port } = this.config;
    this.link.to('connecting', `listening on ${host}:${port}`);
    const listener = new MllpTcpServer({
      host,
      port,
      tls: this.config.tls,
      maxFrameBytes: MLLP_MAX_FRAME_BYTES,
      maxConnections: MAX_TCP_CONNECTIONS,
      clock: this.clock,
    });
    listener.on('frame', (bytes, stamp, connection: MllpConnection) => this.handleFrame(bytes, stamp, (b) => connection.write(b)));
    listener.on('overflow', () => this.reject('overflow', `MLLP block longer than ${MLLP_MAX_FRAME_BYTES} bytes without end block`));
    listener.on('truncated', () => this.reject('truncated', 'partial MLLP block when the connection closed'));
    listener.on('connected', (c, open) => {
      this.count('connections');
      this.logger.info('mllp-connected', { interfaceId: this.interfaceId, remote: c.remote, open });
      this.link.restartQuietTime();
      if (this.link.state === 'connecting') this.link.to('negotiating', 'monitor connected, waiting for a valid message');
    });
    listener.on('disconnected', (c, open) => {
      this.logger.info('mllp-disconnected', { interfaceId: this.interfaceId, remote: c.remote, open });
      if (open > 0 || this.link.stopped) return;
      this.link.to('lost', 'monitor disconnected');
      this.link.to('connecting', `listening on ${host}:${port}, waiting for the monitor to reconnect`);
    });
    listener.on('refused', (remote) => {
      this.count('connections-refused');
      this.logger.warn('mllp-connection-refused', { interfaceId: this.interfaceId, remote, max: MAX_TCP_CONNECTIONS });
    });
    listener.on('tls-refused', (detail) => {
      this.count('tls-refused');
      this.logger.warn('mllp-tls-refused', { interfaceId: this.interfaceId, detail });
    });
    listener.on('failed', (detail) => {
      if (this.listener !== listener) return;
      this.listener = null;
      this.link.failed(`listener failed: ${detail}`);
    });
    try {
      const bound = await listener.listen();
      if (this.link.stopped) {
        await listener.close();
        return;
      }
      this.listener = listener;
      this.count('listener-opened');
      this.logger.info('mllp-listening', { interfaceId: this.interfaceId, host: bound.host, port: bound.port, tls: this.config.tls !== undefined });
    } catch (err) {
      this.link.failed((err as Error).message, 'listener-failed');
    }
  }
}
