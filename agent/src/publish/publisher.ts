/**
 * Builds vigil.v1 envelopes (ids, sequence, both clocks) and hands them to the sink
 * with the QoS, retain flag, expiry and queue class of their type. Knows nothing of
 * sockets: the sink is the store-and-forward delivery (publish/delivery.ts) in the
 * agent, or a fake in tests.
 *
 * Two kinds of message (docs/interfaces/mqtt.md):
 * - the delivered stream: observations, scores and alarm changes. Each takes the next
 *   `sequence` number (1, 2, 3 ... per run) and is queued durably: a gap in the numbers
 *   the station receives means a message was lost (evicted from a full queue).
 * - state: status, alarm re-announcements, command results. Sent only while the broker
 *   is connected, never queued, `sequence` 0 (outside the numbered stream).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { Observation, QualityFlag, ResultStatus } from '../model/observation';
import { PARAMETERS } from '../model/parameters';
import type { AlarmMsg, CommandResultMsg, EarlyWarningScoreMsg, EnvelopeMsg, GatewayStatusMsg, ObservationMsg } from '../proto/codec';
import { encodeEnvelope, SCHEMA_VERSION } from '../proto/codec';
import type { SendOptions } from './delivery';
import type { ShedClass } from './shedding';
import { observationClass } from './shedding';
import type { BedAddress } from './topics';
import { CONTENT_TYPE, topics } from './topics';

export interface MessageSink {
  publish(topic: string, payload: Uint8Array, options: SendOptions): Promise<void>;
  /** false while the broker is unreachable: state messages are then not built at all. Absent: always up. */
  readonly connected?: boolean;
}

export interface GatewayIdentity extends BedAddress {
  gatewayId: string;
}

const STATUS_ENUM: Record<ResultStatus, string> = {
  final: 'RESULT_STATUS_FINAL',
  corrected: 'RESULT_STATUS_CORRECTED',
  preliminary: 'RESULT_STATUS_PRELIMINARY',
  unverified: 'RESULT_STATUS_UNVERIFIED',
  'cannot-obtain': 'RESULT_STATUS_CANNOT_OBTAIN',
  deleted: 'RESULT_STATUS_DELETED',
  unavailable: 'RESULT_STATUS_UNAVAILABLE',
};

export function qualityEnum(flag: QualityFlag): string {
  return `QUALITY_FLAG_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** How long a score stays current for a late subscriber. */
export const SCORE_EXPIRY_SEC = 10;
/** How long an alarm message stays retained for a late subscriber; re-sent while active. */
export const ALARM_EXPIRY_SEC = 60;
/** A command result is of no use to a station that asks later than this. */
export const COMMAND_RESULT_EXPIRY_SEC = 60;

type Payload = Pick<EnvelopeMsg, 'observation' | 'score' | 'alarm' | 'status' | 'commandResult'>;

export function observationToMsg(obs: Observation, maxAgeMs: number): ObservationMsg {
  return {
    parameter: obs.parameter,
    value: obs.value ?? 0,
    hasValue: obs.value !== null,
    unitUcum: obs.unitUcum,
    loinc: PARAMETERS[obs.parameter].loinc,
    status: STATUS_ENUM[obs.status],
    quality: obs.quality.map(qualityEnum),
    source: obs.source,
    deviceTimeMs: obs.deviceTimeMs ?? 0,
    deviceTimeText: obs.deviceTimeText,
    receiveWallMs: obs.receiveWallMs,
    receiveMonoNs: obs.receiveMonoNs.toString(),
    maxAgeMs,
    unavailableReason: obs.unavailableReason,
    originalValue: obs.original?.value ?? 0,
    originalUnit: obs.original?.unit ?? '',
    deviceCode: obs.deviceCode ?? '',
  };
}

export class Publisher {
  private sequence = 0;
  readonly bootId = randomUUID();
  private readonly counts = { published: 0, publishFailed: 0, stateSkippedOffline: 0 };

  constructor(
    private readonly sink: MessageSink,
    private readonly identity: GatewayIdentity,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Load shedding (publish/shedding.ts): asked before a device observation or a score is built. */
    private readonly shedder: { admit(cls: ShedClass): boolean } | null = null,
  ) {}

  get counters(): Readonly<{ published: number; publishFailed: number; stateSkippedOffline: number }> {
    return this.counts;
  }

  /** The counters as the gateway status names them. */
  statusCounters(): Record<string, number> {
    return { published: this.counts.published, 'publish-failed': this.counts.publishFailed, 'state-skipped-offline': this.counts.stateSkippedOffline };
  }

  /** The sequence number of the last message of the delivered stream. */
  get lastSequence(): number {
    return this.sequence;
  }

  /**
   * Builds and encodes an envelope: with the next sequence number for a message of the
   * delivered stream, with 0 for state.
   */
  envelope(payload: Payload, kind: 'stream' | 'state' = 'stream'): Uint8Array {
    if (kind === 'stream') this.sequence += 1;
    const msg: EnvelopeMsg = {
      schemaVersion: SCHEMA_VERSION,
      gatewayId: this.identity.gatewayId,
      siteId: this.identity.siteId,
      wardId: this.identity.wardId,
      bedId: this.identity.bedId,
      messageId: randomUUID(),
      sequence: kind === 'stream' ? this.sequence : 0,
      bootId: this.bootId,
      sentWallMs: this.clock.wallMs(),
      ...payload,
    };
    return encodeEnvelope(msg);
  }

  /** The retained offline status the broker publishes if the gateway vanishes (last will). */
  willMessage(status: GatewayStatusMsg): { topic: string; payload: Uint8Array } {
    return { topic: topics.status(this.identity), payload: this.envelope({ status }, 'state') };
  }

  /** A device observation (or its withdrawal); shed under overload, extras first (publish/shedding.ts). */
  observation(obs: Observation, maxAgeMs: number): Promise<void> {
    if (this.shedder && !this.shedder.admit(observationClass(obs.parameter))) return Promise.resolve();
    return this.observationMsg(observationToMsg(obs, maxAgeMs));
  }

  /** An observation already in wire form (manual observations from the station). */
  observationMsg(observation: ObservationMsg): Promise<void> {
    const payload = this.envelope({ observation });
    return this.send(topics.observation(this.identity, observation.parameter), payload, {
      qos: 1,
      retain: true,
      expirySec: Math.max(1, Math.ceil(observation.maxAgeMs / 1000)),
      deliveryClass: 'observation',
    });
  }

  score(score: EarlyWarningScoreMsg): Promise<void> {
    if (this.shedder && !this.shedder.admit('score')) return Promise.resolve();
    return this.send(topics.score(this.identity), this.envelope({ score }), {
      qos: 1,
      retain: true,
      expirySec: SCORE_EXPIRY_SEC,
      deliveryClass: 'score',
    });
  }

  /** An alarm change (raised, re-prioritised, acknowledged, cleared): part of the delivered stream, never shed. */
  alarm(alarm: AlarmMsg): Promise<void> {
    return this.send(topics.alarm(this.identity, alarm.alarmId), this.envelope({ alarm }), {
      qos: 1,
      retain: true,
      expirySec: ALARM_EXPIRY_SEC,
      deliveryClass: 'alarm',
    });
  }

  /** The periodic re-announcement of an active alarm: state, sent only while connected. */
  alarmReminder(alarm: AlarmMsg): Promise<void> {
    if (this.skipState()) return Promise.resolve();
    return this.send(topics.alarm(this.identity, alarm.alarmId), this.envelope({ alarm }, 'state'), {
      qos: 1,
      retain: true,
      expirySec: ALARM_EXPIRY_SEC,
    });
  }

  status(status: GatewayStatusMsg): Promise<void> {
    if (this.skipState()) return Promise.resolve();
    return this.send(topics.status(this.identity), this.envelope({ status }, 'state'), { qos: 1, retain: true });
  }

  /** The answer to a station command (docs/interfaces/commands.md): state, not retained. */
  commandResult(commandResult: CommandResultMsg): Promise<void> {
    if (this.skipState()) return Promise.resolve();
    return this.send(topics.commandResult(this.identity), this.envelope({ commandResult }, 'state'), {
      qos: 1,
      retain: false,
      expirySec: COMMAND_RESULT_EXPIRY_SEC,
    });
  }

  /** State is not queued: while the broker is unreachable it is not even built. */
  private skipState(): boolean {
    if (this.sink.connected !== false) return false;
    this.counts.stateSkippedOffline += 1;
    return true;
  }

  private async send(topic: string, payload: Uint8Array, options: SendOptions): Promise<void> {
    // A queued message's envelope was built just before this call (no other envelope in
    // between): its number is the stream's last, which the stations' receipts will name.
    const stream = options.deliveryClass ? { bootId: this.bootId, sequence: this.sequence } : undefined;
    try {
      await this.sink.publish(topic, payload, { ...options, contentType: CONTENT_TYPE, ...(stream ? { stream } : {}) });
      this.counts.published += 1;
    } catch (err) {
      // Counted and reported in the gateway status. A queued message that fails here was
      // not accepted (queue full of higher classes, or the disk failed while offline).
      this.counts.publishFailed += 1;
      this.logger.warn('publish-failed', { topic, error: (err as Error).message });
    }
  }
}
