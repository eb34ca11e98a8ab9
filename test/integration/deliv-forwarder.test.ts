/**
 * Store and forward wired together: Publisher -> Delivery -> Outbox (store in memory or
 * LevelDB in a temporary directory) -> a fake MQTT link whose connection and PUBACKs
 * the test controls. No broker, no sleeping beyond letting promises settle.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../agent/src/clock';
import { PublishError } from '../../agent/src/errors';
import { LevelQueueStore, MemoryQueueStore } from '../../agent/src/io/durable-queue';
import { memoryLogger } from '../../agent/src/log';
import { Delivery } from '../../agent/src/publish/delivery';
import { Outbox } from '../../agent/src/publish/outbox';
import { Publisher } from '../../agent/src/publish/publisher';
import { FakeLink, identity, settle, setup, obs } from '../support/delivery-harness';

/** For the LevelDB store, whose reads and writes complete on the thread pool: poll, with a deadline. */
async function waitFor(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}



t.test('REQ-DELIV-020 a message counts as sent once it is on disk; the PUBACK deletes it', async (t) => {
  const { link, publisher, store, delivery, clock } = await setup();
  link.autoAck = false;
  await publisher.observation(obs(clock, 97), 5000);
  t.equal(store.entries.size, 1, 'on disk when publish() resolved');
  t.equal(publisher.counters.published, 1, 'counted as accepted');
  await settle();
  t.equal(link.sent.length, 1, 'then sent');
  t.equal(store.entries.size, 1, 'still on disk until the broker acknowledges');
  link.sent[0]!.ack();
  await settle();
  t.equal(store.entries.size, 0, 'deleted after the PUBACK');
  t.equal(delivery.counters()['queue-delivered'], 1);
  t.equal(link.sent[0]!.env.backfill, false, 'sent live: not backfill');
  t.equal(link.sent[0]!.options.retain, true, 'live observations are retained');
  t.equal(link.sent[0]!.options.expirySec, 5, 'expiry = maximum age');
});

t.test('REQ-DELIV-021 accepted while offline: queued, then sent in order flagged backfill and not retained; status is not queued', async (t) => {
  const { link, publisher, delivery, clock } = await setup();
  await publisher.observation(obs(clock, 90), 5000);
  await settle();
  link.down();
  for (let v = 91; v <= 95; v += 1) {
    clock.advanceMs(1000);
    await publisher.observation(obs(clock, v), 5000);
  }
  await publisher.status({ online: true, reason: 'heartbeat', interfaces: [], counters: [], startedWallMs: 0, heartbeatIntervalMs: 5000, softwareVersion: 't' });
  await settle();
  t.equal(link.sent.length, 1, 'nothing sent while offline');
  t.equal(delivery.counters()['queue-depth'], 5, 'five queued');
  t.equal(publisher.counters.stateSkippedOffline, 1, 'the heartbeat was not queued (state)');
  link.up();
  await settle();
  const late = link.sent.slice(1);
  t.same(late.map((s) => s.env.observation?.value), [91, 92, 93, 94, 95], 'drained in order');
  t.ok(late.every((s) => s.env.backfill === true), 'flagged backfill in the envelope');
  t.ok(late.every((s) => s.env.observation?.quality.includes('QUALITY_FLAG_BACKFILL')), 'and QUALITY_FLAG_BACKFILL on the observation');
  t.ok(late.every((s) => s.options.retain === false), 'not retained: the retained copy stays a live message');
  t.same(late.map((s) => Number(s.env.sequence)), [2, 3, 4, 5, 6], 'sequence numbers as accepted, unchanged');
  await publisher.observation(obs(clock, 96), 5000);
  await settle();
  t.equal(link.sent.at(-1)?.env.backfill, false, 'accepted while connected again: live');
  t.equal(delivery.counters()['queue-delivered-backfill'], 5);
});

t.test('REQ-DELIV-022 at most maxInFlight unacknowledged, in order', async (t) => {
  const { link, publisher, clock } = await setup(new MemoryQueueStore(), { maxInFlight: 3 });
  link.autoAck = false;
  for (let v = 80; v < 90; v += 1) await publisher.observation(obs(clock, v), 5000);
  await settle();
  t.equal(link.sent.length, 3, 'three in flight');
  link.sent[0]!.ack();
  link.sent[1]!.ack();
  await settle();
  t.equal(link.sent.length, 5, 'two acknowledged, two more sent');
  link.autoAck = true;
  for (const s of link.sent.slice(2)) s.ack();
  await settle();
  t.same(link.sent.map((s) => s.env.observation?.value), [80, 81, 82, 83, 84, 85, 86, 87, 88, 89], 'all, in order');
});

t.test('REQ-DELIV-023 a message the broker refuses for good is dropped and counted; the queue does not block behind it', async (t) => {
  const { link, publisher, delivery, logger, clock, store } = await setup();
  link.autoAck = false;
  await publisher.observation(obs(clock, 70), 5000);
  await publisher.observation(obs(clock, 71), 5000);
  await settle();
  link.sent[0]!.fail(new PublishError('Publish error: Not authorized', { brokerReasonCode: 0x87 }));
  link.sent[1]!.ack();
  await settle();
  t.equal(store.entries.size, 0, 'both gone from the queue');
  t.equal(delivery.counters()['queue-refused-by-broker'], 1, 'the refusal counted');
  t.ok(logger.records.some((r) => r.event === 'publish-refused' && r.reasonCode === 0x87), 'and logged with the reason code');
});

t.test('REQ-DELIV-024 a send that fails because the link dropped is sent again, in order, after reconnect', async (t) => {
  const { link, publisher, clock } = await setup();
  link.autoAck = false;
  await publisher.observation(obs(clock, 60), 5000);
  await publisher.observation(obs(clock, 61), 5000);
  await settle();
  link.down();
  link.sent[0]!.fail(new Error('Connection closed'));
  link.sent[1]!.fail(new Error('Connection closed'));
  await settle();
  link.autoAck = true;
  link.up();
  await settle();
  t.same(link.sent.map((s) => s.env.observation?.value), [60, 61, 60, 61], 'both sent again, in the same order');
  t.equal(link.sent[2]!.env.messageId, link.sent[0]!.env.messageId, 'with the same message id (the station drops a duplicate)');
});

t.test('REQ-DELIV-025 the disk fails while the broker is up: sent without the queue, counted', async (t) => {
  const store = new MemoryQueueStore();
  const { link, publisher, delivery, clock } = await setup(store);
  store.failWrites = true;
  await publisher.observation(obs(clock, 50), 5000);
  t.equal(link.sent.length, 1, 'still delivered');
  t.equal(delivery.counters()['sent-without-queue'], 1);
  t.equal(delivery.counters()['queue-write-failed'], 1);
  link.down();
  await publisher.observation(obs(clock, 51), 5000);
  t.equal(publisher.counters.publishFailed, 1, 'offline and no disk: not accepted, counted');
});

t.test('REQ-DELIV-026 what an earlier run left on disk is sent first, as backfill; clean stop leaves the unsent on disk', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fwd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await setup(await LevelQueueStore.open(dir));
  first.link.down();
  await first.publisher.observation(obs(first.clock, 40), 5000);
  await first.publisher.observation(obs(first.clock, 41), 5000);
  await first.delivery.end(false); // offline: nothing could drain
  t.ok(first.link.ended, 'the link was closed');
  const second = await setup(await LevelQueueStore.open(dir));
  t.teardown(() => second.delivery.end(true));
  second.link.up();
  await waitFor('the recovered two sent', () => second.link.sent.length >= 2);
  await second.publisher.observation(obs(second.clock, 42), 5000);
  await waitFor('the new one sent', () => second.link.sent.length >= 3);
  t.same(second.link.sent.map((s) => s.env.observation?.value), [40, 41, 42], 'the earlier run first, then the new one');
  t.same(second.link.sent.map((s) => s.env.backfill), [true, true, false], 'the earlier run flagged backfill');
  t.not(second.link.sent[0]!.env.bootId, second.link.sent[2]!.env.bootId, 'their own boot ids');
  await second.delivery.idle();
  t.equal(second.outbox.depth, 0, 'drained');
});

t.test('REQ-DELIV-027 a clean stop waits for the queue to drain (bounded by the grace time)', async (t) => {
  const { link, publisher, delivery, clock, outbox } = await setup();
  link.autoAck = false;
  await publisher.observation(obs(clock, 30), 5000);
  await settle();
  const ending = delivery.end(false);
  await settle();
  t.notOk(link.ended, 'still open while a message is unacknowledged');
  link.sent[0]!.ack();
  await ending;
  t.ok(link.ended, 'closed once drained');
  t.equal(outbox.depth, 0);
});

t.test('REQ-DELIV-028 the numbered stream and state: observations, scores and alarm changes take sequence numbers, state takes 0', async (t) => {
  const { link, publisher, clock } = await setup();
  await publisher.observation(obs(clock, 97), 5000);
  await publisher.status({ online: true, reason: 'heartbeat', interfaces: [], counters: [], startedWallMs: 0, heartbeatIntervalMs: 5000, softwareVersion: 't' });
  const alarm = { alarmId: 'spo2.sensor-off', kind: 'ALARM_KIND_TECHNICAL', priority: 'ALARM_PRIORITY_MEDIUM', condition: 'sensor-off', state: 'ALARM_STATE_ACTIVE', source: 'spo2', detail: 'd', raisedWallMs: 1, changedWallMs: 1 };
  await publisher.alarm(alarm);
  await publisher.alarmReminder(alarm);
  await publisher.commandResult({ commandId: 'c', outcome: 'COMMAND_OUTCOME_ACCEPTED', reason: '', field: '', detail: '', handledWallMs: 1 });
  await settle();
  const seq = (suffix: string) => link.sent.filter((s) => s.topic.endsWith(suffix)).map((s) => Number(s.env.sequence));
  t.same(seq('/obs/spo2'), [1]);
  t.same(seq('/status'), [0], 'status: state');
  t.same(seq('/alarm/spo2.sensor-off').sort(), [0, 2], 'the alarm change numbered, its re-announcement state');
  t.same(seq('/cmd-result'), [0], 'command results: state');
  const result = link.sent.find((s) => s.topic.endsWith('/cmd-result'))!;
  t.equal(result.options.retain, false, 'results are not retained');
  t.equal(result.options.expirySec, 60);
});

t.test('REQ-DELIV-029 messages dropped by the bounds, or a failing disk, are conditions for technical alarms', async (t) => {
  const clock = new FakeClock();
  const logger = memoryLogger();
  const link = new FakeLink();
  link.down();
  const store = new MemoryQueueStore();
  const outbox = await Outbox.open(store, { maxBytes: 2000, maxAgeMs: 3_600_000 }, clock, logger);
  const delivery = new Delivery(outbox, link, clock, logger);
  const publisher = new Publisher(delivery, identity, clock, logger);
  t.same(delivery.conditions(), { evicting: null, diskFailing: null }, 'none at first');
  for (let v = 0; v < 10; v += 1) await publisher.observation(obs(clock, 90), 5000);
  t.ok(delivery.counters()['queue-evicted.observation.size']! > 0, 'the bound evicted observations');
  t.match(delivery.conditions().evicting, /durable queue at its bound/);
  clock.advanceMs(60_001);
  t.equal(delivery.conditions().evicting, null, 'cleared a minute after the last eviction');
  store.failWrites = true;
  await publisher.observation(obs(clock, 91), 5000);
  t.match(delivery.conditions().diskFailing, /cannot write to disk/);
});

t.test('REQ-DELIV-035 a message accepted live but sent more than 2 s later (behind a backlog) is flagged backfill too', async (t) => {
  const { link, publisher, clock } = await setup(new MemoryQueueStore(), { maxInFlight: 1 });
  link.autoAck = false;
  await publisher.observation(obs(clock, 70), 5000);
  await publisher.observation(obs(clock, 71), 5000);
  await settle();
  t.equal(link.sent.length, 1, 'one in flight, one waiting');
  clock.advanceMs(2001);
  link.sent[0]!.ack();
  await settle();
  t.equal(link.sent[0]!.env.backfill, false, 'the first went out at once: live');
  t.equal(link.sent[1]!.env.backfill, true, 'the second left 2.001 s after it was accepted: flagged, never late without saying so');
  t.ok(link.sent[1]!.env.observation?.quality.includes('QUALITY_FLAG_BACKFILL'));
});

/** A store whose reads the test holds or fails, one at a time. */
class ControlledStore extends MemoryQueueStore {
  failNextGet = false;
  onGet: (() => void) | null = null;
  override async get(key: bigint): Promise<Uint8Array | undefined> {
    if (this.failNextGet) {
      this.failNextGet = false;
      throw new Error('disk read failed');
    }
    const hook = this.onGet;
    this.onGet = null;
    hook?.();
    return super.get(key);
  }
}

t.test('REQ-DELIV-024 a queued message whose read fails is counted and sent later, in order; one whose link dropped during the read waits for the reconnect', async (t) => {
  const store = new ControlledStore();
  const { link, publisher, delivery, clock, logger } = await setup(store);
  store.failNextGet = true;
  await publisher.observation(obs(clock, 90), 5000);
  await settle();
  t.equal(link.sent.length, 0, 'not sent: its read failed');
  t.equal(delivery.counters()['queue-read-failed'], 1, 'counted');
  t.ok(logger.records.some((r) => r.event === 'queue-read-failed'), 'logged');
  store.onGet = () => {
    link.connected = false; // the broker goes while the next message is read
  };
  await publisher.observation(obs(clock, 91), 5000);
  await settle();
  t.equal(link.sent.length, 0, 'nothing sent while the link is down');
  link.up();
  await settle();
  t.same(link.sent.map((s) => s.env.observation?.value), [90, 91], 'both sent after the reconnect, in order');
  t.equal(store.entries.size, 0, 'and acknowledged');
});

t.test('REQ-DELIV-021 state is refused while the broker is unreachable, counted, never queued', async (t) => {
  const { link, delivery } = await setup();
  link.connected = false;
  await t.rejects(delivery.publish('vigil/v1/s/w/b/status', Uint8Array.from([1]), { qos: 1, retain: true }), /not sent: broker not connected/);
  t.equal(delivery.counters()['state-not-sent-offline'], 1, 'counted');
  t.equal(delivery.counters()['queue-depth'], 0, 'not queued');
});

t.test('REQ-DELIV-013 a message evicted by the age bound while it is being read is not sent; the next one is', async (t) => {
  const store = new ControlledStore();
  const { link, publisher, outbox, clock } = await setup(store);
  link.connected = false;
  await publisher.observation(obs(clock, 90), 5000);
  store.onGet = () => {
    clock.advanceMs(3_600_001); // past the age bound (LIMITS.maxAgeMs) during the read
    outbox.enforceAge();
  };
  link.up();
  await settle();
  t.equal(link.sent.length, 0, 'the evicted message is not sent');
  t.equal(outbox.counters()['queue-evicted.observation.age'], 1, 'its eviction is counted');
  await publisher.observation(obs(clock, 91), 5000);
  await settle();
  t.same(link.sent.map((s) => s.env.observation?.value), [91], 'the forwarder carries on with the next');
});

t.test('REQ-DELIV-020 a queued message without expiry or content type is sent without them', async (t) => {
  const { link, delivery, store } = await setup();
  await delivery.publish('vigil/v1/s/w/b/obs/spo2', Uint8Array.from([0x08, 0x01]), { qos: 1, retain: false, deliveryClass: 'observation' });
  await settle();
  t.equal(link.sent.length, 1, 'sent');
  t.equal(link.sent[0]!.options.expirySec, undefined, 'no expiry');
  t.equal(link.sent[0]!.options.contentType, undefined, 'no content type');
  t.equal(store.entries.size, 0, 'acknowledged');
});
