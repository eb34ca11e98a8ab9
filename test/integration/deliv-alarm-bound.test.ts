/**
 * Vigil as a distributed alarm system intended for confirmed delivery (HAZ-013, CTRL-028,
 * docs/interfaces/mqtt.md "Distributed alarm system"): an alarm change that the stations do not
 * confirm is sent again every resendUnconfirmedAfterMs, receipt or not, and one still queued
 * past alarmDeliveryBoundMs is reported for the technical alarm gateway.alarm-undelivered.
 * The chain Publisher -> Delivery -> Outbox over a fake link (test/support/delivery-harness.ts),
 * real encodings, a fake clock driven as the safety tick drives it; no broker, no sleeping.
 */
import t from 'tap';
import { MemoryQueueStore } from '../../agent/src/io/durable-queue';
import type { DeliveryReceiptMsg } from '../../agent/src/proto/codec';
import { encodeReceipt } from '../../agent/src/proto/codec';
import { Delivery } from '../../agent/src/publish/delivery';
import { decodeRecord, encodeRecord, Outbox } from '../../agent/src/publish/outbox';
import { topics } from '../../agent/src/publish/topics';
import { AlarmBook } from '../../agent/src/safety/alarms';
import { FakeLink, identity, LIMITS, obs, settle, setup } from '../support/delivery-harness';

const RESEND_MS = 5000;
const BOUND_MS = 15_000;
const CONFIRM = { confirmBy: ['station'], gatewayId: identity.gatewayId, resendUnconfirmedAfterMs: RESEND_MS, alarmDeliveryBoundMs: BOUND_MS };

function receipt(bootId: string, ranges: Array<[number, number]>, over: Partial<DeliveryReceiptMsg> = {}): Uint8Array {
  return encodeReceipt({
    schemaVersion: 1,
    stationId: 'station',
    gatewayId: identity.gatewayId,
    bootId,
    received: ranges.map(([first, last]) => ({ first, last })),
    sentWallMs: 0,
    ...over,
  });
}

t.test('REQ-DELIV-052 HAZ-013 an alarm change the broker acknowledged but no station confirmed is sent again every resendUnconfirmedAfterMs without any receipt; other classes wait for a receipt', async (t) => {
  const { delivery, link, publisher, clock, store } = await setup(new MemoryQueueStore(), CONFIRM);
  const book = new AlarmBook(clock);
  await publisher.observation(obs(clock, 90), 5000);
  await publisher.alarm(book.raise('link-lost', 'spo2', 'port closed')!);
  await settle();
  t.same(link.sent.map((s) => Number(s.env.sequence)), [1, 2], 'both sent, acknowledged by the broker');
  const alarmId = link.sent[1]!.env.messageId;
  const resent = () => link.sent.slice(2);

  clock.advanceMs(RESEND_MS - 1);
  delivery.superviseAlarms();
  await settle();
  t.same(resent(), [], 'not before resendUnconfirmedAfterMs');
  clock.advanceMs(1);
  delivery.superviseAlarms();
  await settle();
  t.same(resent().map((s) => [s.topic.split('/').pop(), Number(s.env.sequence)]), [['spo2.link-lost', 2]], 'the alarm change alone is sent again, no receipt needed');
  t.equal(resent()[0]!.env.messageId, alarmId, 'with its message id (the station drops a duplicate)');
  t.ok(resent()[0]!.env.backfill === true && resent()[0]!.options.retain === false, 'late: flagged backfill, not retained');
  t.equal(delivery.counters()['queue-resent-alarm-unconfirmed'], 1, 'counted');
  t.equal(delivery.counters()['queue-awaiting-receipt'], 2, 'acknowledged again: waiting for the receipt again');

  clock.advanceMs(RESEND_MS);
  delivery.superviseAlarms();
  await settle();
  t.equal(resent().length, 2, 'and again one period later');
  t.equal(delivery.counters()['queue-resent-alarm-unconfirmed'], 2);

  link.down();
  clock.advanceMs(RESEND_MS);
  delivery.superviseAlarms();
  await settle();
  t.equal(resent().length, 2, 'not while the broker is away (the reconnect sends it again)');
  link.up();
  await settle();
  t.equal(resent().length, 4, 'the reconnect sends both again (the lost broker may have had them)');

  delivery.receipt('station', receipt(link.sent[0]!.env.bootId, [[1, 2]]));
  await settle();
  t.equal(store.entries.size, 0, 'confirmed: both leave the queue');
  clock.advanceMs(RESEND_MS * 3);
  delivery.superviseAlarms();
  await settle();
  t.equal(resent().length, 4, 'a confirmed alarm is not sent again');
  t.equal(delivery.counters()['queue-resent-alarm-unconfirmed'], 2);
});

t.test('REQ-DELIV-051 HAZ-013 an alarm change not confirmed within alarmDeliveryBoundMs is reported, not before, with a constant text; it clears once the station confirms', async (t) => {
  const { delivery, link, publisher, clock, store } = await setup(new MemoryQueueStore(), CONFIRM);
  const book = new AlarmBook(clock);
  await publisher.alarm(book.raise('link-lost', 'spo2', 'port closed')!);
  await settle();
  const bootId = link.sent[0]!.env.bootId;
  t.same(delivery.superviseAlarms(), { alarms: 0, awaitedStations: [], detail: null }, 'just accepted: nothing to report');
  clock.advanceMs(BOUND_MS);
  t.equal(delivery.superviseAlarms().alarms, 0, 'not at the bound');
  clock.advanceMs(1);
  const past = delivery.superviseAlarms();
  t.same({ alarms: past.alarms, awaitedStations: past.awaitedStations }, { alarms: 1, awaitedStations: ['station'] }, 'past the bound: one alarm, awaiting the station');
  t.equal(past.detail, '1 alarm not confirmed by station station within 15 s of being accepted: not known to have reached a station');
  t.equal(delivery.counters()['queue-alarms-undelivered'], 1, 'a gauge in the gateway status');
  t.ok(delivery.counters()['queue-resent-alarm-unconfirmed']! >= 1, 'it was sent again meanwhile');

  await publisher.alarm(book.clear('link-lost', 'spo2')!);
  clock.advanceMs(BOUND_MS + 1);
  t.equal(delivery.superviseAlarms().detail, past.detail, 'two changes of one alarm are one alarm: the text stays the same (raising it again publishes nothing)');
  await publisher.alarm(book.raise('sensor-off', 'spo2', 'sensor off')!);
  clock.advanceMs(BOUND_MS + 1);
  t.match(delivery.superviseAlarms().detail, /^2 alarms not confirmed by station station /, 'another alarm: counted');
  await settle();

  const highest = Math.max(...link.sent.map((s) => Number(s.env.sequence)));
  delivery.receipt('station', receipt(bootId, [[1, highest - 1]]));
  await settle();
  t.match(delivery.superviseAlarms().detail, /^1 alarm not confirmed/, 'the first alarm confirmed, the second not yet');
  delivery.receipt('station', receipt(bootId, [[highest, highest]]));
  await settle();
  t.same(delivery.superviseAlarms(), { alarms: 0, awaitedStations: [], detail: null }, 'all confirmed: cleared');
  t.equal(store.entries.size, 0);
  t.equal(delivery.counters()['queue-alarms-undelivered'], 0);
});

t.test('REQ-DELIV-051 HAZ-013 the changes of gateway.alarm-undelivered itself are not counted: it is neither held raised by its own announcement nor re-worded as that ages', async (t) => {
  const own = topics.alarm(identity, 'gateway.alarm-undelivered');
  const { delivery, link, publisher, clock } = await setup(new MemoryQueueStore(), { ...CONFIRM, undeliveredAlarmTopic: own });
  const book = new AlarmBook(clock);
  await publisher.alarm(book.raise('link-lost', 'spo2', 'port closed')!);
  clock.advanceMs(BOUND_MS + 1);
  const first = delivery.superviseAlarms();
  t.equal(first.alarms, 1);
  await publisher.alarm(book.raise('alarm-undelivered', 'gateway', first.detail!)!); // what the supervision then raises
  clock.advanceMs(BOUND_MS + 1);
  t.equal(delivery.superviseAlarms().detail, first.detail, 'its own unconfirmed change does not count: the same text, nothing published again');
  await settle();
  delivery.receipt('station', receipt(link.sent[0]!.env.bootId, [[1, 1]]));
  await settle();
  t.equal(delivery.superviseAlarms().detail, null, 'the alarm it reported confirmed: cleared, though its own change is still unconfirmed');
});

t.test('REQ-DELIV-051 HAZ-013 with two stations waited for, the report names the one that has not confirmed', async (t) => {
  const { delivery, link, publisher, clock } = await setup(new MemoryQueueStore(), { ...CONFIRM, confirmBy: ['station', 'station-b'] });
  await publisher.alarm(new AlarmBook(clock).raise('link-lost', 'spo2', 'port closed')!);
  await settle();
  delivery.receipt('station', receipt(link.sent[0]!.env.bootId, [[1, 1]]));
  clock.advanceMs(BOUND_MS + 1);
  const u = delivery.superviseAlarms();
  t.same(u.awaitedStations, ['station-b'], 'station confirmed, station-b did not');
  t.equal(u.detail, '1 alarm not confirmed by station station-b within 15 s of being accepted: not known to have reached a station');
  delivery.receipt('station-b', receipt(link.sent[0]!.env.bootId, [[1, 1]], { stationId: 'station-b' }));
  await settle();
  t.equal(delivery.superviseAlarms().detail, null, 'both confirmed: cleared');
});

t.test("REQ-DELIV-051 HAZ-013 without confirmBy the broker's acknowledgement is the confirmation: an alarm change unacknowledged past the bound is reported, and clears at the PUBACK", async (t) => {
  const { delivery, link, publisher, clock, store } = await setup(new MemoryQueueStore(), { alarmDeliveryBoundMs: BOUND_MS });
  const book = new AlarmBook(clock);
  link.autoAck = false;
  await publisher.alarm(book.raise('link-lost', 'spo2', 'port closed')!);
  await publisher.observation(obs(clock, 90), 5000);
  await settle();
  t.equal(link.sent.length, 2, 'sent, no PUBACK yet');
  clock.advanceMs(BOUND_MS + 1);
  const u = delivery.superviseAlarms();
  t.equal(u.alarms, 1, 'an observation is not an alarm: one');
  t.same(u.awaitedStations, [], 'no station is waited for');
  t.equal(u.detail, '1 alarm not acknowledged by the broker within 15 s of being accepted (queue.confirmBy is empty: delivery is confirmed hop by hop only)');
  clock.advanceMs(RESEND_MS * 4);
  delivery.superviseAlarms();
  await settle();
  t.equal(link.sent.length, 2, 'nothing is re-sent by the gateway without confirmBy (MQTT re-sends what is in flight on a reconnect)');
  link.sent[0]!.ack();
  await settle();
  t.equal(delivery.superviseAlarms().detail, null, 'acknowledged by the broker: cleared');
  t.equal(store.entries.size, 1, 'the unacknowledged observation is still queued, and no alarm');

  link.down();
  await publisher.alarm(book.clear('link-lost', 'spo2')!);
  clock.advanceMs(BOUND_MS + 1);
  t.equal(delivery.superviseAlarms().alarms, 1, 'queued while the broker is away: reported past the bound');
  link.autoAck = true;
  link.up();
  await settle();
  t.equal(delivery.superviseAlarms().detail, null, 'delivered on the reconnect: cleared');
});

t.test('REQ-DELIV-051 HAZ-013 an alarm change left on disk by an earlier run counts from this run\'s start', async (t) => {
  const store = new MemoryQueueStore();
  const first = await setup(store, CONFIRM);
  first.link.down();
  await first.publisher.alarm(new AlarmBook(first.clock).raise('link-lost', 'spo2', 'port closed')!);
  await first.delivery.end(true); // killed with the broker away
  const clock = first.clock;
  clock.advanceMs(3_600_000); // down for an hour
  const outbox = await Outbox.open(store, LIMITS, clock, first.logger);
  const link = new FakeLink();
  link.connected = false;
  const delivery = new Delivery(outbox, link, clock, first.logger, CONFIRM);
  t.equal(delivery.superviseAlarms().alarms, 0, 'at the start of the run: within the bound (its age on the earlier run is unknown)');
  clock.advanceMs(BOUND_MS + 1);
  t.equal(delivery.superviseAlarms().alarms, 1, 'the bound after this run started: reported');
});

t.test('REQ-DELIV-051 HAZ-013 an alarm change every station confirmed is delivered, though its PUBACK was lost with the connection: never reported undelivered', async (t) => {
  const { delivery, link, publisher, clock, store } = await setup(new MemoryQueueStore(), CONFIRM);
  link.autoAck = false;
  await publisher.alarm(new AlarmBook(clock).raise('link-lost', 'spo2', 'port closed')!);
  await settle();
  t.equal(link.sent.length, 1, 'sent, no PUBACK yet');
  delivery.receipt('station', receipt(link.sent[0]!.env.bootId, [[1, 1]]));
  await settle();
  link.down();
  link.sent[0]!.fail(new Error('connection closed')); // the PUBACK never comes: the connection dropped
  await settle();
  t.equal(store.entries.size, 1, 'still queued: the broker never acknowledged it');
  clock.advanceMs(BOUND_MS + 1);
  t.same(delivery.superviseAlarms(), { alarms: 0, awaitedStations: [], detail: null }, 'confirmed by the station: not undelivered, no technical alarm');
  t.equal(delivery.counters()['queue-alarms-undelivered'], 0);
  link.autoAck = true;
  link.up();
  await settle();
  t.equal(link.sent.length, 2, 'sent again on the reconnect (its PUBACK is what lets it go)');
  t.equal(store.entries.size, 0, 'acknowledged and confirmed: it leaves the queue');
  t.equal(delivery.counters()['queue-confirmed'], 1);
});

t.test('REQ-DELIV-051 HAZ-013 an alarm change queued by an earlier version without a sequence number (no receipt can name it) is reported past the bound awaiting every station, and leaves at the PUBACK', async (t) => {
  const store = new MemoryQueueStore();
  const first = await setup(store, CONFIRM);
  first.link.down();
  await first.publisher.alarm(new AlarmBook(first.clock).raise('link-lost', 'spo2', 'port closed')!);
  await first.delivery.end(true);
  // The same record as an earlier version wrote it: a header without boot and seq.
  t.equal(store.entries.size, 1);
  for (const [key, value] of store.entries) store.entries.set(key, encodeRecord({ ...decodeRecord(value)!, bootId: undefined, sequence: undefined }));
  const clock = first.clock;
  const outbox = await Outbox.open(store, LIMITS, clock, first.logger);
  const link = new FakeLink();
  link.connected = false;
  const delivery = new Delivery(outbox, link, clock, first.logger, { ...CONFIRM, confirmBy: ['station', 'station-b'] });
  clock.advanceMs(BOUND_MS);
  t.equal(delivery.superviseAlarms().alarms, 0, 'within the bound');
  clock.advanceMs(1);
  const u = delivery.superviseAlarms();
  t.same({ alarms: u.alarms, awaitedStations: u.awaitedStations }, { alarms: 1, awaitedStations: ['station', 'station-b'] }, 'past the bound: awaiting every station, none of which can confirm it');
  t.equal(u.detail, '1 alarm not confirmed by station station, station-b within 15 s of being accepted: not known to have reached a station');
  link.up();
  await settle();
  t.equal(link.sent.length, 1, 'sent on the reconnect');
  t.equal(store.entries.size, 0, 'acknowledged by the broker: no receipt will ever name it, so the PUBACK lets it go');
  t.same(delivery.superviseAlarms(), { alarms: 0, awaitedStations: [], detail: null }, 'cleared');
});
