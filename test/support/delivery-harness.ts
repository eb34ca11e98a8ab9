/**
 * The store-and-forward chain without a broker, for the delivery tests: a fake MQTT link whose
 * connection and PUBACKs a test controls, and the Publisher -> Delivery -> Outbox chain over it.
 */
import { EventEmitter } from 'node:events';
import { FakeClock } from '../../agent/src/clock';
import type { Observation } from '../../agent/src/model/observation';
import { MemoryQueueStore } from '../../agent/src/io/durable-queue';
import type { QueueStore } from '../../agent/src/io/durable-queue';
import type { PublishOptions } from '../../agent/src/io/mqtt';
import { memoryLogger } from '../../agent/src/log';
import type { EnvelopeMsg } from '../../agent/src/proto/codec';
import { decodeEnvelope } from '../../agent/src/proto/codec';
import type { DeliveryOptions } from '../../agent/src/publish/delivery';
import { Delivery } from '../../agent/src/publish/delivery';
import { Outbox } from '../../agent/src/publish/outbox';
import { Publisher } from '../../agent/src/publish/publisher';

export interface Sent {
  topic: string;
  env: EnvelopeMsg;
  /** The payload as sent. */
  bytes: Uint8Array;
  options: PublishOptions;
  ack(): void;
  fail(err: Error): void;
}

export class FakeLink extends EventEmitter {
  connected = true;
  autoAck = true;
  readonly sent: Sent[] = [];
  ended = false;
  publish(topic: string, payload: Uint8Array, options: PublishOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sent.push({ topic, env: decodeEnvelope(payload), bytes: payload, options, ack: resolve, fail: reject });
      if (this.autoAck) resolve();
    });
  }
  async end(): Promise<void> {
    this.ended = true;
  }
  down(): void {
    this.connected = false;
    this.emit('close');
  }
  up(): void {
    this.connected = true;
    this.emit('connect');
  }
}

export const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i += 1) await new Promise((r) => setImmediate(r));
};

export const identity = { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
export const LIMITS = { maxBytes: 10_000_000, maxAgeMs: 3_600_000 };

export async function setup<S extends QueueStore = MemoryQueueStore>(store: S = new MemoryQueueStore() as unknown as S, options: DeliveryOptions = {}) {
  const clock = new FakeClock();
  const logger = memoryLogger();
  const link = new FakeLink();
  const outbox = await Outbox.open(store, LIMITS, clock, logger);
  const delivery = new Delivery(outbox, link, clock, logger, options);
  const publisher = new Publisher(delivery, identity, clock, logger);
  return { clock, logger, link, outbox, delivery, publisher, store };
}

/** A live SpO2 observation stamped with the clock's times. */
export function obs(clock: FakeClock, value: number): Observation {
  return {
    parameter: 'spo2',
    value,
    unitUcum: '%',
    status: 'final',
    quality: [],
    source: { driver: 'masimo-ascii', interfaceId: 'spo2', serialNumber: '', port: '/dev/x' },
    deviceTimeMs: clock.wallMs(),
    deviceTimeText: '',
    receiveWallMs: clock.wallMs(),
    receiveMonoNs: clock.monoNs(),
    unavailableReason: '',
  };
}
