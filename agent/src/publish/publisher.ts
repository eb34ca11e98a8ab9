/**
 * Builds vigil.v1 envelopes (ids, sequence, both clocks) and hands them to the MQTT
 * link with the QoS, retain flag and expiry of their type. Knows nothing of sockets:
 * the sink is the MQTT boundary (io/mqtt.ts) or a fake in unit tests.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock';
import type { PublishOptions } from '../io/mqtt';
import type { Logger } from '../log';
import type { Observation, QualityFlag, ResultStatus } from '../model/observation';
import { PARAMETERS } from '../model/parameters';
import type { AlarmMsg, EarlyWarningScoreMsg, EnvelopeMsg, GatewayStatusMsg, ObservationMsg } from '../proto/codec';
import { encodeEnvelope, SCHEMA_VERSION } from '../proto/codec';
import type { BedAddress } from './topics';
import { CONTENT_TYPE, topics } from './topics';

export interface MessageSink {
  publish(topic: string, payload: Uint8Array, options: PublishOptions): Promise<void>;
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
  private readonly counts = { published: 0, publishFailed: 0 };

  constructor(
    private readonly sink: MessageSink,
    private readonly identity: GatewayIdentity,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  get counters(): Readonly<{ published: number; publishFailed: number }> {
    return this.counts;
  }

  /** Builds and encodes an envelope with the next sequence number. */
  envelope(payload: Pick<EnvelopeMsg, 'observation' | 'score' | 'alarm' | 'status'>): Uint8Array {
    this.sequence += 1;
    const msg: EnvelopeMsg = {
      schemaVersion: SCHEMA_VERSION,
      gatewayId: this.identity.gatewayId,
      siteId: this.identity.siteId,
      wardId: this.identity.wardId,
      bedId: this.identity.bedId,
      messageId: randomUUID(),
      sequence: this.sequence,
      bootId: this.bootId,
      sentWallMs: this.clock.wallMs(),
      ...payload,
    };
    return encodeEnvelope(msg);
  }

  /** The retained offline status the broker publishes if the gateway vanishes (last will). */
  willMessage(status: GatewayStatusMsg): { topic: string; payload: Uint8Array } {
    return { topic: topics.status(this.identity), payload: this.envelope({ status }) };
  }

  observation(obs: Observation, maxAgeMs: number): Promise<void> {
    const payload = this.envelope({ observation: observationToMsg(obs, maxAgeMs) });
    return this.send(topics.observation(this.identity, obs.parameter), payload, {
      qos: 1,
      retain: true,
      expirySec: Math.max(1, Math.ceil(maxAgeMs / 1000)),
    });
  }

  score(score: EarlyWarningScoreMsg): Promise<void> {
    return this.send(topics.score(this.identity), this.envelope({ score }), {
      qos: 1,
      retain: true,
      expirySec: SCORE_EXPIRY_SEC,
    });
  }

  alarm(alarm: AlarmMsg): Promise<void> {
    return this.send(topics.alarm(this.identity, alarm.alarmId), this.envelope({ alarm }), {
      qos: 1,
      retain: true,
      expirySec: ALARM_EXPIRY_SEC,
    });
  }

  status(status: GatewayStatusMsg): Promise<void> {
    return this.send(topics.status(this.identity), this.envelope({ status }), { qos: 1, retain: true });
  }

  private async send(topic: string, payload: Uint8Array, options: PublishOptions): Promise<void> {
    try {
      await this.sink.publish(topic, payload, { ...options, contentType: CONTENT_TYPE });
      this.counts.published += 1;
    } catch (err) {
      // Counted and reported in the gateway status; the MQTT client keeps QoS 1
      // messages it could not send in its outgoing store and retries on reconnect.
      this.counts.publishFailed += 1;
      this.logger.warn('publish-failed', { topic, error: (err as Error).message });
    }
  }
}
