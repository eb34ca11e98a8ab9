/**
 * The agent's MQTT session (publish/mqtt-session.ts) against a real Mosquitto: with
 * queue.confirmBy it subscribes to its bed's receipt topic and hands each receipt to the
 * forwarder, which keeps a queued message until the station named it (HAZ-013, CTRL-025);
 * commands on the bed's command topic reach the agent's hook.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import { MemoryQueueStore } from '../../agent/src/io/durable-queue';
import { memoryLogger } from '../../agent/src/log';
import { encodeReceipt } from '../../agent/src/proto/codec';
import { connectMqttSession } from '../../agent/src/publish/mqtt-session';
import { Outbox } from '../../agent/src/publish/outbox';
import { topics } from '../../agent/src/publish/topics';
import { startBroker } from '../support/broker';
import { connectLink, until } from '../support/observer';

const BED = { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };

t.test('REQ-DELIV-043 HAZ-013 the agent\'s session takes the station\'s receipts from the broker: a queued message leaves the queue once named', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-session-'));
  const config = parseConfig({
    gateway: BED,
    mqtt: { url: broker.url, insecure: true },
    interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/null' }],
    queue: { dir: join(dir, 'queue'), confirmBy: ['station'] },
  });
  const logger = memoryLogger();
  const outbox = await Outbox.open(new MemoryQueueStore(), config.queue, systemClock, logger);
  let connected = 0;
  const commands: Uint8Array[] = [];
  const session = connectMqttSession(config, outbox, systemClock, logger, { topic: topics.status(BED), payload: Uint8Array.from([]) }, {
    connected: () => (connected += 1),
    command: (p) => commands.push(p),
  });
  t.teardown(() => session.end(true));
  await until('connected', () => connected > 0);
  t.notOk(logger.records.some((r) => r.event === 'delivery-unconfirmed'), 'waiting for a station: no warning');
  const station = await connectLink(broker.url);
  t.teardown(() => station.end(true));
  await session.publish(topics.observation(BED, 'spo2'), Uint8Array.from([0x08, 0x01]), {
    qos: 1,
    retain: false,
    deliveryClass: 'observation',
    stream: { bootId: 'boot-1', sequence: 1 },
  });
  await until('acknowledged by the broker, waiting for the receipt', () => session.counters?.()['queue-awaiting-receipt'] === 1);
  const receipt = encodeReceipt({ schemaVersion: 1, stationId: 'station', gatewayId: BED.gatewayId, bootId: 'boot-1', received: [{ first: 1, last: 1 }], sentWallMs: 0 });
  await station.publish(topics.receipt(BED, 'station'), receipt, { qos: 1, retain: false });
  await until('confirmed by the receipt', () => outbox.depth === 0);
  t.equal(session.counters?.()['queue-confirmed'], 1, 'confirmed');
  await station.publish(topics.command(BED), Uint8Array.from([1, 2, 3]), { qos: 1, retain: false });
  await until('the command reaches the hook', () => commands.length === 1);
  t.same([...commands[0]!], [1, 2, 3], 'the command as sent');
});

t.test('REQ-DELIV-043 HAZ-013 without queue.confirmBy the session warns at start that the broker\'s PUBACK alone deletes a message', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const config = parseConfig({
    gateway: BED,
    mqtt: { url: broker.url, insecure: true },
    interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/null' }],
    queue: { dir: '/tmp/unused-queue' },
  });
  const logger = memoryLogger();
  const outbox = await Outbox.open(new MemoryQueueStore(), config.queue, systemClock, logger);
  const session = connectMqttSession(config, outbox, systemClock, logger, { topic: topics.status(BED), payload: Uint8Array.from([]) }, {
    connected: () => undefined,
    command: () => undefined,
  });
  t.teardown(() => session.end(true));
  t.ok(logger.records.some((r) => r.event === 'delivery-unconfirmed' && r.level === 'warn'), 'logged as a warning');
});
