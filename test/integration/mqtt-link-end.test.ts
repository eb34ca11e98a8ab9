/**
 * Closing the MQTT link (io/mqtt.ts) against a real Mosquitto when the broker misbehaves
 * during the close: it stops answering (SIGSTOP) with a QoS 1 message unacknowledged, then
 * dies. MQTT.js's graceful end waits for the outgoing messages to be acknowledged and, once
 * the connection is gone, waits forever (it no longer reconnects while disconnecting). The
 * link's end must be bounded: what is not acknowledged stays in the durable queue.
 */
import t from 'tap';
import { startBroker } from '../support/broker';
import { connectLink } from '../support/observer';

/** 'ended' once the close completes, or what is still missing after 10 s (the timer is cleared either way). */
async function closeOutcome(ended: Promise<void>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((r) => (timer = setTimeout(() => r('still waiting after 10 s'), 10_000)));
  try {
    return await Promise.race([ended.then(() => 'ended'), late]);
  } finally {
    clearTimeout(timer);
  }
}

t.test('REQ-SAFE-014 a graceful close ends even when the broker stops answering and then dies', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const link = await connectLink(broker.url);
  broker.process.kill('SIGSTOP'); // no PUBACK will come
  t.teardown(() => broker.process.kill('SIGCONT'));
  void link.publish('vigil/v1/s/w/b/obs/spo2', Buffer.from('x'), { qos: 1, retain: false }).catch(() => undefined);
  const startedAt = Date.now();
  const ended = link.end(false);
  await new Promise((r) => setTimeout(r, 300));
  broker.process.kill('SIGKILL'); // the connection drops while the close waits for the PUBACK
  const outcome = await closeOutcome(ended);
  t.equal(outcome, 'ended', 'the close completes');
  t.ok(Date.now() - startedAt < 10_000, `within ${Date.now() - startedAt} ms`);
});

t.test('REQ-SAFE-014 a graceful close ends within its bound when the broker only stops answering', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const link = await connectLink(broker.url);
  broker.process.kill('SIGSTOP');
  t.teardown(() => broker.process.kill('SIGCONT'));
  void link.publish('vigil/v1/s/w/b/obs/spo2', Buffer.from('x'), { qos: 1, retain: false }).catch(() => undefined);
  const startedAt = Date.now();
  const outcome = await closeOutcome(link.end(false));
  t.equal(outcome, 'ended', 'the close completes');
  t.ok(Date.now() - startedAt < 10_000, `within ${Date.now() - startedAt} ms`);
});
