/**
 * The agent's session with the broker: the MQTT link (io/mqtt.ts) with the gateway's last
 * will, its subscription to the bed's command topic, and store-and-forward delivery through
 * the durable queue (publish/delivery.ts). Built by the process entry (commands/run.ts) and
 * handed to the agent, which only sees a message sink.
 */
import { hostname } from 'node:os';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { MqttLink } from '../io/mqtt';
import type { Logger } from '../log';
import { alarmId } from '../safety/alarms';
import type { UndeliveredAlarms } from './delivery';
import { Delivery } from './delivery';
import type { Outbox } from './outbox';
import type { GatewayIdentity, MessageSink } from './publisher';
import { topics } from './topics';

/** The retained last will: the gateway's offline status (HAZ-012). */
export interface SessionWill {
  topic: string;
  payload: Uint8Array;
}

/** What the agent's composition root does on the session's events. */
export interface SessionHooks {
  /** Connected (first time or again): the agent announces its status and active alarms. */
  connected(): void;
  /** A message on the bed's command topic. */
  command(payload: Uint8Array): void;
}

/** A message sink the agent publishes through, with what its supervision reads of it. */
export interface AgentSink extends MessageSink {
  end(force?: boolean): Promise<void>;
  /** Counters of the delivery (queue, forwarder), for the gateway status. */
  counters?(): Record<string, number>;
  /** Messages waiting in the durable queue. */
  readonly backlog?: number;
  /** The durable queue's conditions for technical alarms. */
  conditions?(): { evicting: string | null; diskFailing: string | null };
  /** Every safety tick: unconfirmed alarm changes sent again, and those past the delivery bound. */
  superviseAlarms?(): UndeliveredAlarms;
}

export function connectMqttSession(config: Config, outbox: Outbox, clock: Clock, logger: Logger, will: SessionWill, hooks: SessionHooks): AgentSink {
  const identity: GatewayIdentity = config.gateway;
  const commandTopic = topics.command(identity);
  const receiptPrefix = topics.receipt(identity, '');
  const confirmBy = config.queue.confirmBy;
  const m = config.mqtt;
  const link = new MqttLink(
    {
      url: m.url,
      protocolVersion: m.protocolVersion,
      clientId: `vigil-${config.gateway.gatewayId}-${hostname()}`.slice(0, 64),
      keepaliveSec: m.keepaliveSec,
      reconnectPeriodMs: m.reconnectPeriodMs,
      insecure: m.insecure,
      caFile: m.caFile,
      certFile: m.certFile,
      keyFile: m.keyFile,
      usernameFile: m.usernameFile,
      passwordFile: m.passwordFile,
      will: { topic: will.topic, payload: will.payload, qos: 1, retain: true },
    },
    logger,
  );
  link.on('connect', () => {
    logger.info('mqtt-connected', { url: m.url });
    link.subscribe(commandTopic, 1).catch((err: Error) => logger.error('subscribe-failed', { error: err.message }));
    if (confirmBy.length > 0) {
      link.subscribe(topics.receipts(identity), 1).catch((err: Error) => logger.error('subscribe-failed', { error: err.message }));
    }
    hooks.connected();
  });
  link.on('message', (topic, payload) => {
    if (topic === commandTopic) hooks.command(payload);
    else if (topic.startsWith(receiptPrefix)) delivery.receipt(topic.slice(receiptPrefix.length), payload);
  });
  link.on('offline', () => logger.warn('mqtt-offline', {}));
  link.on('error', (err) => logger.warn('mqtt-error', { error: err.message }));
  // Store and forward: every observation, score and alarm change is on disk before it
  // counts as sent, and leaves the queue when the stations in queue.confirmBy have received
  // it (their delivery receipts), or, with none configured, when the broker acknowledged it.
  if (confirmBy.length === 0) {
    // IEC 60601-1-8 (6.11.2): without confirmed delivery, say that it must not be relied on to
    // receive alarm signals (docs/interfaces/mqtt.md, Distributed alarm system).
    logger.warn('delivery-unconfirmed', {
      detail: 'queue.confirmBy is empty: a message leaves the queue on the broker\'s PUBACK, and a broker crash can lose it; alarms are confirmed hop by hop only, so do not rely on this gateway for the receipt of alarm signals at the station',
    });
  }
  const delivery = new Delivery(outbox, link, clock, logger, {
    confirmBy,
    gatewayId: config.gateway.gatewayId,
    resendUnconfirmedAfterMs: config.queue.resendUnconfirmedAfterMs,
    alarmDeliveryBoundMs: config.queue.alarmDeliveryBoundMs,
    undeliveredAlarmTopic: topics.alarm(identity, alarmId('alarm-undelivered', 'gateway')),
  });
  return delivery;
}
