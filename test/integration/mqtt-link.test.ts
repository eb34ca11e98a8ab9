/**
 * The MQTT boundary (io/mqtt.ts) against a real Mosquitto, for what the agent's system tests
 * exercise only in processes killed with SIGKILL (whose coverage is lost): credentials read
 * from files, the last will with its content type (MQTT v5), a publish that fails without a
 * broker reason code, and a subscription the broker refuses.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublishError } from '../../agent/src/errors';
import { MqttLink } from '../../agent/src/io/mqtt';
import { memoryLogger } from '../../agent/src/log';
import { startBroker } from '../support/broker';
import { connectLink, until } from '../support/observer';

t.test('REQ-SEC-001 HAZ-012 credentials from files, and a last will with its content type published when the link dies', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-link-'));
  writeFileSync(join(dir, 'user'), 'gw-1\n');
  writeFileSync(join(dir, 'pass'), 's3cret');
  const watcher = await connectLink(broker.url);
  t.teardown(() => watcher.end(true));
  const wills: Array<{ topic: string; payload: string }> = [];
  watcher.on('message', (topic: string, payload: Uint8Array) => wills.push({ topic, payload: Buffer.from(payload).toString() }));
  await watcher.subscribe('test/will', 1);
  const logger = memoryLogger();
  const link = new MqttLink(
    {
      url: broker.url,
      protocolVersion: 5,
      clientId: 'link-under-test',
      keepaliveSec: 2,
      reconnectPeriodMs: 200,
      insecure: true,
      usernameFile: join(dir, 'user'),
      passwordFile: join(dir, 'pass'),
      will: { topic: 'test/will', payload: Buffer.from('offline'), qos: 1, retain: false, contentType: 'text/plain' },
    },
    logger,
  );
  await until('connected', () => link.connected);
  t.ok(logger.records.some((r) => r.event === 'mqtt-insecure'), 'plain TCP is warned about');
  await t.rejects(link.subscribe('bad/#/filter', 1), 'a filter the broker cannot take is refused, not ignored');
  // A connection that dies without DISCONNECT: the broker publishes the will.
  (link as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy();
  await until('the will', () => wills.length > 0);
  t.same(wills[0], { topic: 'test/will', payload: 'offline' }, 'the will as registered');
  await link.end(true);
  const err = await link.publish('test/x', Buffer.from('late'), { qos: 1, retain: false }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof PublishError, 'a publish after the end fails with a PublishError');
  t.equal((err as PublishError).brokerReasonCode, undefined, 'with no broker reason code (the broker never saw it)');
});
