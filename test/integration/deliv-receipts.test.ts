/**
 * End-to-end delivery (HAZ-013, CTRL-025): the station's delivery receipts, and a gateway that
 * keeps every queued message until the stations it waits for have received it. The chain
 * Publisher -> Delivery -> Outbox over a fake link (test/support/delivery-harness.ts) and the
 * station's side (StationModel + ReceiptBook) with real encodings; no broker, no sleeping.
 */
import t from 'tap';
import { MemoryQueueStore } from '../../agent/src/io/durable-queue';
import { SequenceRanges } from '../../agent/src/model/sequence-ranges';
import type { DeliveryReceiptMsg } from '../../agent/src/proto/codec';
import { encodeReceipt } from '../../agent/src/proto/codec';
import { checkReceipt, MAX_RECEIPT_RANGES, StationConfirmations } from '../../agent/src/publish/confirmations';
import { Delivery } from '../../agent/src/publish/delivery';
import { Outbox } from '../../agent/src/publish/outbox';
import { topics } from '../../agent/src/publish/topics';
import { RECEIPT_RANGES, ReceiptBook } from '../../agent/src/station/receipts';
import { StationModel } from '../../agent/src/station/station';
import { FakeLink, identity, LIMITS, settle, setup, obs } from '../support/delivery-harness';


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

const CONFIRM = { confirmBy: ['station'], gatewayId: identity.gatewayId, resendUnconfirmedAfterMs: 5000 };

t.test('REQ-DELIV-040 sequence ranges merge overlapping and adjacent numbers, answer membership, and list the lowest first', async (t) => {
  const r = new SequenceRanges();
  for (const n of [5, 3, 4, 10, 1, 12, 11]) r.add(n);
  t.same(r.list(), [{ first: 1, last: 1 }, { first: 3, last: 5 }, { first: 10, last: 12 }], 'three ranges');
  r.add(2);
  t.same(r.list(), [{ first: 1, last: 5 }, { first: 10, last: 12 }], 'filling a gap joins its neighbours');
  r.addRange(4, 11);
  t.same(r.list(), [{ first: 1, last: 12 }], 'a range over a gap joins all');
  t.equal(r.highest, 12);
  t.ok(r.has(7) && !r.has(13) && !r.has(0), 'membership');
  r.addRange(0, 3);
  r.addRange(20, 19);
  t.equal(r.size, 1, 'invalid ranges (0, or first > last) are ignored');
  const many = new SequenceRanges();
  for (let i = 1; i <= 400; i += 1) many.add(i * 2);
  t.equal(many.list(RECEIPT_RANGES).length, RECEIPT_RANGES, 'a receipt lists at most RECEIPT_RANGES ranges');
  t.equal(many.list(3)[0]?.first, 2, 'the lowest first');
  t.equal(new SequenceRanges().highest, 0);
});

t.test('REQ-DELIV-041 the station notes every numbered message, duplicates too, and says so at most once per interval per run', async (t) => {
  const book = new ReceiptBook(1000);
  const model = new StationModel(book);
  const bed = { siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
  const { clock, publisher, link } = await setup();
  for (let v = 90; v < 93; v += 1) await publisher.observation(obs(clock, v), 5000);
  await settle();
  const sent = link.sent.map((s) => ({ topic: s.topic, bytes: s.bytes }));
  for (const s of sent) model.apply(s.topic, s.bytes, 1000);
  model.apply(sent[1]!.topic, sent[1]!.bytes, 1001); // a duplicate: still received
  const due = book.due(1000);
  t.equal(due.length, 1, 'one receipt for the run');
  t.same(due[0]?.received, [{ first: 1, last: 3 }], 'numbers 1 to 3');
  t.same(due[0]?.bed, bed);
  t.equal(due[0]?.gatewayId, identity.gatewayId);
  t.equal(book.due(1500).length, 0, 'nothing new: no receipt');
  model.apply(sent[0]!.topic, sent[0]!.bytes, 1600);
  t.equal(book.due(1700).length, 0, 'a duplicate arrived, but within the interval: not yet');
  t.equal(book.due(2000).length, 1, 'after the interval: the receipt again (the gateway re-sent it, so it waits for one)');
  book.resendAll();
  t.equal(book.due(2100).length, 1, 'after a reconnect: every run says its receipt again');
  t.equal(model.apply(topics.receipt(bed, 'station'), receipt('b', [[1, 1]]), 3000), false, 'a receipt on the tree is not a gateway message: ignored by the view');
  t.equal(model.apply(topics.command(bed), Uint8Array.from([1, 2, 3]), 3000), false, 'nor is a command');
  t.equal(model.undecodable, 0, 'and neither counts as undecodable');
  t.equal(book.due(24 * 3600_000 + 10_000).length, 0, 'a run not heard from for a day is forgotten');
});

t.test('REQ-DELIV-042 a receipt is checked: each fault rejected with its reason, counted and logged, never acted on', async (t) => {
  const good = receipt('boot-1', [[1, 2]]);
  t.ok(checkReceipt(good, 'station', identity.gatewayId).ok, 'a good receipt');
  const cases: Array<[string, Uint8Array, string]> = [
    ['undecodable', Uint8Array.from([0xff, 0xff, 0xff]), 'station'],
    ['schema-version', receipt('boot-1', [[1, 2]], { schemaVersion: 2 }), 'station'],
    ['station-mismatch', good, 'station-cli'],
    ['wrong-gateway', receipt('boot-1', [[1, 2]], { gatewayId: 'gw-other' }), 'station'],
    ['no-boot', receipt('', [[1, 2]]), 'station'],
    ['bad-range', receipt('boot-1', [[3, 2]]), 'station'],
    ['bad-range', receipt('boot-1', [[0, 2]]), 'station'],
    ['too-many-ranges', receipt('boot-1', Array.from({ length: MAX_RECEIPT_RANGES + 1 }, (_, i): [number, number] => [i * 2 + 1, i * 2 + 1])), 'station'],
  ];
  for (const [reason, bytes, topicStation] of cases) {
    const c = checkReceipt(bytes, topicStation, identity.gatewayId);
    t.equal(c.ok ? 'accepted' : c.reason, reason, `rejected: ${reason}`);
    if (!c.ok) t.ok(c.detail.length > 0, `${reason}: with a detail`);
  }
  const { delivery, logger, link, publisher, clock, store } = await setup(new MemoryQueueStore(), CONFIRM);
  await publisher.observation(obs(clock, 95), 5000);
  await settle();
  const bootId = link.sent[0]!.env.bootId;
  delivery.receipt('station', receipt(bootId, [[1, 1]], { gatewayId: 'gw-other' }));
  delivery.receipt('intruder', receipt(bootId, [[1, 1]], { stationId: 'intruder' }));
  await settle();
  t.equal(delivery.counters()['receipts-rejected.wrong-gateway'], 1, 'counted by reason');
  t.equal(delivery.counters()['receipts-ignored.not-waited-for'], 1, 'a station not waited for: counted, ignored');
  t.ok(logger.records.some((r) => r.event === 'receipt-rejected' && r.reason === 'wrong-gateway'), 'logged with its reason');
  t.equal(store.entries.size, 1, 'the message is still queued: neither receipt confirmed it');
  const plain = await setup();
  plain.delivery.receipt('station', good);
  t.equal(plain.delivery.counters()['receipts-ignored.not-waited-for'], 1, 'a gateway that waits for no station ignores receipts (counted)');
});

t.test("REQ-DELIV-043 HAZ-013 with confirmBy, the PUBACK does not delete a message: the station's receipt does", async (t) => {
  const { delivery, link, publisher, clock, store } = await setup(new MemoryQueueStore(), CONFIRM);
  t.same(delivery.confirmingStations, ['station']);
  for (let v = 90; v < 94; v += 1) await publisher.observation(obs(clock, v), 5000);
  await settle();
  t.equal(link.sent.length, 4, 'sent');
  t.equal(store.entries.size, 4, 'acknowledged by the broker, still on disk');
  t.equal(delivery.counters()['queue-awaiting-receipt'], 4, 'waiting for the receipt');
  t.equal(delivery.backlog, 0, 'not a backlog (load shedding must not read a station away as overload)');
  const bootId = link.sent[0]!.env.bootId;
  delivery.receipt('station', receipt(bootId, [[1, 2]]));
  await settle();
  t.equal(store.entries.size, 2, 'the two confirmed left the queue');
  t.equal(delivery.counters()['queue-confirmed'], 2);
  delivery.receipt('station', receipt(bootId, [[3, 4]]));
  await settle();
  t.equal(store.entries.size, 0, 'all confirmed: the queue is empty');
  t.equal(link.sent.length, 4, 'nothing sent twice');
  await delivery.idle();
});

t.test('REQ-DELIV-044 HAZ-013 after a reconnect, every message the lost broker acknowledged without a receipt is sent again, flagged backfill, same ids', async (t) => {
  const { delivery, link, publisher, clock, store } = await setup(new MemoryQueueStore(), CONFIRM);
  for (let v = 90; v < 95; v += 1) await publisher.observation(obs(clock, v), 5000);
  await settle();
  const bootId = link.sent[0]!.env.bootId;
  delivery.receipt('station', receipt(bootId, [[1, 2]]));
  await settle();
  const firstIds = link.sent.map((s) => s.env.messageId);
  // The broker is killed: it had acknowledged 3..5, and forgets them.
  link.down();
  clock.advanceMs(3000);
  link.up();
  await settle();
  const again = link.sent.slice(5);
  t.same(again.map((s) => Number(s.env.sequence)), [3, 4, 5], 'the three without a receipt, in order');
  t.same(again.map((s) => s.env.messageId), firstIds.slice(2), 'with their message ids (the station drops what it had)');
  t.ok(again.every((s) => s.env.backfill === true && s.options.retain === false), 'late: backfill, not retained');
  t.equal(delivery.counters()['queue-resent-unconfirmed'], 3);
  t.equal(store.entries.size, 3, 'still queued until the receipt');
  delivery.receipt('station', receipt(bootId, [[1, 5]]));
  await settle();
  t.equal(store.entries.size, 0, 'confirmed: gone');
});

t.test('REQ-DELIV-045 HAZ-013 a message a receipt passed over is sent again once it waited resendUnconfirmedAfterMs, not before', async (t) => {
  const { delivery, link, publisher, clock, store } = await setup(new MemoryQueueStore(), CONFIRM);
  for (let v = 90; v < 94; v += 1) await publisher.observation(obs(clock, v), 5000);
  await settle();
  const bootId = link.sent[0]!.env.bootId;
  delivery.receipt('station', receipt(bootId, [[1, 1], [3, 4]]));
  await settle();
  t.equal(link.sent.length, 4, 'number 2 missing at the station, but only just sent: may still be on its way');
  clock.advanceMs(5000);
  delivery.receipt('station', receipt(bootId, [[1, 1], [3, 4]]));
  await settle();
  t.same(link.sent.slice(4).map((s) => Number(s.env.sequence)), [2], 'then sent again');
  t.equal(store.entries.size, 1, 'and kept until confirmed');
  delivery.receipt('station', receipt(bootId, [[2, 2]]));
  await settle();
  t.equal(store.entries.size, 0, 'a receipt naming it alone confirms it (receipts add up)');
});

t.test('REQ-DELIV-043 HAZ-013 receipts of another run confirm nothing of this one; a message the queue evicted while waiting is neither confirmed nor sent again', async (t) => {
  const plain = await setup(new MemoryQueueStore());
  t.same(plain.delivery.confirmingStations, [], 'without confirmBy: the PUBACK suffices');
  const { delivery, link, publisher, clock, store } = await setup(new MemoryQueueStore(), CONFIRM);
  t.same(delivery.confirmingStations, ['station']);
  for (let v = 90; v < 93; v += 1) await publisher.observation(obs(clock, v), 5000);
  await settle();
  const bootId = link.sent[0]!.env.bootId;
  delivery.receipt('station', receipt('another-run', [[1, 3]]));
  await settle();
  t.equal(store.entries.size, 3, 'a receipt for another run of the gateway confirms none of this run');
  t.equal(delivery.counters()['queue-confirmed'], undefined);
  // The age bound evicts the three while they wait for the station (the next message triggers it).
  clock.advanceMs(LIMITS.maxAgeMs + 1);
  await publisher.observation(obs(clock, 93), 5000);
  await settle();
  t.equal(store.entries.size, 1, 'the three evicted by age');
  delivery.receipt('station', receipt(bootId, [[1, 4]]));
  await settle();
  t.equal(delivery.counters()['queue-confirmed'], 1, 'the receipt confirms the one left; the evicted ones are not counted as confirmed');
  t.equal(store.entries.size, 0);
  await publisher.observation(obs(clock, 94), 5000);
  await settle();
  clock.advanceMs(LIMITS.maxAgeMs + 1);
  await publisher.observation(obs(clock, 95), 5000);
  await settle();
  const sent = link.sent.length;
  link.down();
  link.up();
  await settle();
  t.same(link.sent.slice(sent).map((s) => Number(s.env.sequence)), [6], 'after a reconnect the evicted one is not sent again, the one still queued is');
});

t.test('REQ-DELIV-046 HAZ-013 with two stations waited for, a message leaves the queue when both have received it', async (t) => {
  const { delivery, link, publisher, clock, store } = await setup(new MemoryQueueStore(), { ...CONFIRM, confirmBy: ['station', 'station-b'] });
  await publisher.observation(obs(clock, 90), 5000);
  await settle();
  const bootId = link.sent[0]!.env.bootId;
  delivery.receipt('station', receipt(bootId, [[1, 1]]));
  await settle();
  t.equal(store.entries.size, 1, 'one of two: kept');
  delivery.receipt('station-b', receipt(bootId, [[1, 1]], { stationId: 'station-b' }));
  await settle();
  t.equal(store.entries.size, 0, 'both: gone');
});

t.test('REQ-DELIV-047 HAZ-013 a queued message keeps its run and number on disk: after a restart it is re-sent and a receipt for the old run confirms it', async (t) => {
  const store = new MemoryQueueStore();
  const first = await setup(store, CONFIRM);
  for (let v = 90; v < 93; v += 1) await first.publisher.observation(obs(first.clock, v), 5000);
  await settle();
  const oldBoot = first.link.sent[0]!.env.bootId;
  await first.delivery.end(true); // killed: acknowledged by the broker, no receipt yet
  t.equal(store.entries.size, 3, 'all three on disk');
  const clock = first.clock;
  const outbox = await Outbox.open(store, LIMITS, clock, first.logger);
  const link = new FakeLink();
  const delivery = new Delivery(outbox, link, clock, first.logger, CONFIRM);
  link.up();
  await settle();
  t.same(link.sent.map((s) => [s.env.bootId, Number(s.env.sequence)]), [[oldBoot, 1], [oldBoot, 2], [oldBoot, 3]], "re-sent with the earlier run's id and numbers");
  t.equal(store.entries.size, 3, 'kept until the station confirms');
  delivery.receipt('station', receipt(oldBoot, [[1, 3]]));
  await settle();
  t.equal(store.entries.size, 0, 'the receipt for the earlier run confirms them');
});

t.test('REQ-DELIV-048 StationConfirmations: knowledge only grows, and a run not heard from is forgotten after 16 newer ones', async (t) => {
  const c = new StationConfirmations(['station']);
  t.ok(c.record({ stationId: 'station', bootId: 'a', received: [{ first: 1, last: 5 }] }));
  t.ok(c.record({ stationId: 'station', bootId: 'a', received: [{ first: 8, last: 8 }] }));
  t.ok(c.confirmed('a', 3) && c.confirmed('a', 8), 'a later receipt that omits numbers takes nothing back');
  t.notOk(c.confirmed('a', 6));
  t.ok(c.passedBy('station', 'a', 6), '6 was passed over');
  t.notOk(c.passedBy('station', 'a', 9), '9 not yet');
  t.notOk(c.record({ stationId: 'other', bootId: 'a', received: [] }), 'not waited for');
  for (let i = 0; i < 16; i += 1) c.record({ stationId: 'station', bootId: `b${i}`, received: [{ first: 1, last: 1 }] });
  t.notOk(c.confirmed('a', 3), 'the least recently heard run is forgotten (its messages are simply re-sent and confirmed again)');
});

t.test('REQ-DELIV-041 the station notes only numbered messages of a named run (state, number 0, and a run without id are not receipted)', async (t) => {
  const book = new ReceiptBook(1000);
  const bed = { siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
  book.note(bed, 'gw-1', 'boot-1', 0, 1000);
  book.note(bed, 'gw-1', '', 5, 1000);
  book.note(bed, 'gw-1', 'boot-1', Number.NaN, 1000);
  t.same(book.due(2000), [], 'nothing to confirm');
  book.note(bed, 'gw-1', 'boot-1', 1, 2000);
  t.same(book.due(3000).map((r) => r.received), [[{ first: 1, last: 1 }]], 'a numbered message of a named run is');
});

t.test('REQ-DELIV-043 HAZ-013 a receipt that overtakes the broker\'s PUBACK: the message leaves the queue at the PUBACK, confirmed', async (t) => {
  const { delivery, link, publisher, clock, store } = await setup(new MemoryQueueStore(), CONFIRM);
  link.autoAck = false;
  await publisher.observation(obs(clock, 90), 5000);
  await settle();
  t.equal(link.sent.length, 1, 'sent, not yet acknowledged by the broker');
  delivery.receipt('station', receipt(link.sent[0]!.env.bootId, [[1, 1]]));
  await settle();
  t.equal(store.entries.size, 1, 'still in flight: kept');
  link.sent[0]!.ack();
  await settle();
  t.equal(store.entries.size, 0, 'the PUBACK finds it confirmed: gone');
  t.equal(delivery.counters()['queue-confirmed'], 1);
  t.equal(delivery.counters()['queue-awaiting-receipt'], 0, 'never waited');
});
