/**
 * The durable queue: order, bounds, eviction order, recovery after a restart, and the
 * LevelDB store itself (temporary directories). Time is a fake clock.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import { ConfigError } from '../../agent/src/errors';
import { LevelQueueStore, MemoryQueueStore, QueueError } from '../../agent/src/io/durable-queue';
import type { QueueStore } from '../../agent/src/io/durable-queue';
import { memoryLogger } from '../../agent/src/log';
import type { DeliveryClass, QueueEntry, QueueRecord } from '../../agent/src/publish/outbox';
import { decodeRecord, encodeRecord, Outbox } from '../../agent/src/publish/outbox';

const LIMITS = { maxBytes: 1_000_000, maxAgeMs: 3_600_000 };

function rec(cls: DeliveryClass, n: number, clock: FakeClock, size = 100): QueueRecord {
  return {
    topic: `vigil/v1/s/w/b/${cls}/${String(n).padStart(5, '0')}`,
    payload: new Uint8Array(size).fill(n % 256),
    qos: 1,
    retain: true,
    expirySec: 5,
    contentType: 'application/x-protobuf; proto=vigil.v1.Envelope',
    deliveryClass: cls,
    acceptedWallMs: clock.wallMs(),
    backfill: false,
  };
}

/** Everything the queue would send, in order, as topics. */
function drainOrder(outbox: Outbox): QueueEntry[] {
  const out: QueueEntry[] = [];
  let after = 0n;
  for (let e = outbox.next(after); e; e = outbox.next(after)) {
    out.push(e);
    after = e.key;
  }
  return out;
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-queue-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('REQ-DELIV-010 a record survives encoding: header, payload bytes, class, backfill flag', async (t) => {
  const clock = new FakeClock();
  const r = { ...rec('score', 7, clock), backfill: true };
  const back = decodeRecord(encodeRecord(r));
  t.same(back, { ...r, payload: r.payload });
  t.same(Buffer.from(back!.payload), Buffer.from(r.payload), 'payload byte for byte');
  t.equal(decodeRecord(Buffer.from('not a record')), null, 'garbage is refused, not guessed');
  t.equal(decodeRecord(Buffer.from('{"v":99}\n')), null, 'an unknown record version is refused');
});

t.test('REQ-DELIV-011 messages leave in acceptance order, even when writes complete out of order', async (t) => {
  const clock = new FakeClock();
  // A store whose first write completes last.
  const mem = new MemoryQueueStore();
  let releaseFirst: () => void = () => undefined;
  let first = true;
  const slow: QueueStore = {
    scan: () => mem.scan(),
    get: (k) => mem.get(k),
    del: (k) => mem.del(k),
    close: () => mem.close(),
    put: (k, v) => {
      if (!first) return mem.put(k, v);
      first = false;
      return new Promise((resolve) => (releaseFirst = () => void mem.put(k, v).then(resolve)));
    },
  };
  const outbox = await Outbox.open(slow, LIMITS, clock, memoryLogger());
  const a = outbox.append(rec('observation', 1, clock));
  const b = outbox.append(rec('observation', 2, clock));
  await b;
  t.equal(outbox.next(0n), undefined, 'nothing is handed out while an earlier write is still in progress');
  releaseFirst();
  await a;
  t.same(drainOrder(outbox).map((e) => Number(e.key)), [1, 2], 'then both, in acceptance order');
});

t.test('REQ-DELIV-012 size bound: observations are evicted before scores, scores before alarms, oldest first', async (t) => {
  const clock = new FakeClock();
  const logger = memoryLogger();
  // Each record is 8 key bytes + header + 100 payload bytes; room for exactly 6.
  const size = encodeRecord(rec('observation', 1, clock)).byteLength + 8;
  const outbox = await Outbox.open(new MemoryQueueStore(), { maxBytes: size * 6 + 10, maxAgeMs: 3_600_000 }, clock, logger);
  await outbox.append(rec('alarm', 1, clock));
  await outbox.append(rec('score', 2, clock));
  await outbox.append(rec('observation', 3, clock));
  await outbox.append(rec('observation', 4, clock));
  await outbox.append(rec('score', 5, clock));
  await outbox.append(rec('alarm', 6, clock));
  t.equal(outbox.depth, 6, 'full');
  await outbox.append(rec('score', 7, clock)); // evicts observation 3
  await outbox.append(rec('alarm', 8, clock)); // evicts observation 4
  await outbox.append(rec('alarm', 9, clock)); // no observation left: evicts score 2
  const kept = drainOrder(outbox).map((e) => `${e.deliveryClass}${Number(e.key)}`);
  t.same(kept, ['alarm1', 'score5', 'alarm6', 'score7', 'alarm8', 'alarm9'], 'observations went first, then the oldest score');
  const c = outbox.counters();
  t.equal(c['queue-evicted.observation.size'], 2);
  t.equal(c['queue-evicted.score.size'], 1);
  t.equal(c['queue-evicted.alarm.size'], undefined, 'no alarm evicted while a lower class was there');
  t.ok(outbox.bytes <= size * 6 + 10, 'never above the bound');
  t.ok(logger.records.some((r) => r.event === 'queue-evicting'), 'eviction is logged');
});

t.test('REQ-DELIV-012 a message is refused rather than evicting a message of a higher class', async (t) => {
  const clock = new FakeClock();
  const size = encodeRecord(rec('alarm', 1, clock)).byteLength + 8;
  const outbox = await Outbox.open(new MemoryQueueStore(), { maxBytes: size * 2 + 5, maxAgeMs: 3_600_000 }, clock, memoryLogger());
  await outbox.append(rec('alarm', 1, clock));
  await outbox.append(rec('alarm', 2, clock));
  const r = await outbox.append(rec('observation', 3, clock));
  t.same(r.ok ? 'ok' : r.reason, 'queue-full', 'an observation does not push out an alarm');
  t.equal(outbox.counters()['queue-evicted.observation.size'], 1, 'and it is counted');
  const big = await outbox.append(rec('alarm', 4, clock, size * 3));
  t.same(big.ok ? 'ok' : big.reason, 'too-large', 'a message larger than the whole bound is refused');
  t.same(drainOrder(outbox).map((e) => Number(e.key)), [1, 2]);
});

t.test('REQ-DELIV-013 age bound: entries older than maxAgeMs are dropped whatever their class (monotonic clock)', async (t) => {
  const clock = new FakeClock();
  const outbox = await Outbox.open(new MemoryQueueStore(), { maxBytes: 1_000_000, maxAgeMs: 60_000 }, clock, memoryLogger());
  await outbox.append(rec('alarm', 1, clock));
  clock.advanceMs(30_000);
  await outbox.append(rec('observation', 2, clock));
  clock.advanceMs(30_001);
  t.equal(outbox.enforceAge(), 1, 'the alarm accepted 60.001 s ago goes');
  t.same(drainOrder(outbox).map((e) => Number(e.key)), [2]);
  t.equal(outbox.counters()['queue-evicted.alarm.age'], 1);
});

t.test('REQ-DELIV-014 acknowledged messages are deleted from the store; the rest survives a restart, as backfill', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const store = await LevelQueueStore.open(dir);
  const outbox = await Outbox.open(store, LIMITS, clock, memoryLogger());
  for (let i = 1; i <= 5; i += 1) await outbox.append(rec(i % 2 ? 'observation' : 'score', i, clock));
  const entries = drainOrder(outbox);
  outbox.remove(entries[0]!);
  outbox.remove(entries[1]!);
  await outbox.close(); // as after a crash: pending deletes were flushed or not, the rest is on disk
  const again = await Outbox.open(await LevelQueueStore.open(dir), LIMITS, clock, memoryLogger());
  t.teardown(() => again.close());
  const left = drainOrder(again);
  t.same(left.map((e) => Number(e.key)), [3, 4, 5], 'the unacknowledged three, in order');
  t.ok(left.every((e) => e.fromPreviousRun), 'marked as from an earlier run (sent as backfill)');
  const first = await again.read(left[0]!);
  t.equal(first?.topic, 'vigil/v1/s/w/b/observation/00003');
  t.same(Buffer.from(first!.payload), Buffer.alloc(100, 3), 'payload intact');
  const next = await again.append(rec('alarm', 6, clock));
  t.equal(next.ok && Number(next.entry.key), 6, 'new keys continue after the recovered ones');
});

t.test('REQ-CMD-033 the command state is a record beside the queue in its LevelDB, never among its entries, and survives a restart', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const store = await LevelQueueStore.open(dir);
  t.equal(await store.loadState('commands'), undefined, 'no record before the first save');
  const outbox = await Outbox.open(store, LIMITS, clock, memoryLogger());
  await outbox.append(rec('observation', 1, clock));
  await store.saveState('commands', Buffer.from('first'));
  await store.saveState('commands', Buffer.from('second'));
  await outbox.append(rec('alarm', 2, clock));
  await outbox.close();
  const reopened = await LevelQueueStore.open(dir);
  t.same(Buffer.from((await reopened.loadState('commands'))!), Buffer.from('second'), 'replaced whole, the last one kept');
  const keys: bigint[] = [];
  for await (const [k] of reopened.scan()) keys.push(k);
  t.same(keys, [1n, 2n], 'the queue sees only its own entries');
  const again = await Outbox.open(reopened, LIMITS, clock, memoryLogger());
  t.teardown(() => again.close());
  t.equal(again.counters()['queue-corrupt'] ?? 0, 0, 'nothing taken for a corrupt entry');
  await t.rejects(reopened.put(1n << 56n, Buffer.from('x')), { name: 'QueueError', message: /outside 0\.\.2\^56-1/ }, 'a queue key that would reach the state records is refused');
});

t.test('REQ-DELIV-014 entries recovered from disk age on the wall clock', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const outbox = await Outbox.open(await LevelQueueStore.open(dir), { maxBytes: 1_000_000, maxAgeMs: 60_000 }, clock, memoryLogger());
  await outbox.append(rec('score', 1, clock));
  await outbox.close();
  clock.advanceMs(61_000);
  const again = await Outbox.open(await LevelQueueStore.open(dir), { maxBytes: 1_000_000, maxAgeMs: 60_000 }, clock, memoryLogger());
  t.teardown(() => again.close());
  t.equal(again.depth, 0, 'a message accepted 61 s ago (wall clock) before the restart is dropped at start-up');
  t.equal(again.counters()['queue-evicted.score.age'], 1, 'and counted');
});

t.test('REQ-DELIV-015 undecodable entries found on disk are counted, logged and deleted, never sent', async (t) => {
  const mem = new MemoryQueueStore();
  mem.entries.set(1n, Buffer.from('garbage without header'));
  const clock = new FakeClock();
  mem.entries.set(2n, encodeRecord(rec('alarm', 2, clock)));
  const logger = memoryLogger();
  const outbox = await Outbox.open(mem, LIMITS, clock, logger);
  t.same(drainOrder(outbox).map((e) => Number(e.key)), [2]);
  t.equal(outbox.counters()['queue-corrupt'], 1);
  t.equal(mem.entries.has(1n), false, 'deleted');
  t.ok(logger.records.some((r) => r.event === 'queue-corrupt-entries'));
});

t.test('REQ-DELIV-016 a failing disk is reported: the message is not accepted, and counted', async (t) => {
  const mem = new MemoryQueueStore();
  const clock = new FakeClock();
  const outbox = await Outbox.open(mem, LIMITS, clock, memoryLogger());
  mem.failWrites = true;
  const r = await outbox.append(rec('observation', 1, clock));
  t.same(r.ok ? 'ok' : r.reason, 'write-failed');
  t.equal(outbox.depth, 0, 'not in the queue');
  t.equal(outbox.counters()['queue-write-failed'], 1);
});

t.test('REQ-DELIV-017 one agent per queue directory: a second open fails with QUEUE_OPEN (LevelDB lock)', async (t) => {
  const dir = tempDir(t);
  const store = await LevelQueueStore.open(dir);
  t.teardown(() => store.close());
  const err = await LevelQueueStore.open(dir).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof QueueError, 'a typed QueueError');
  t.equal((err as QueueError).code, 'QUEUE_OPEN');
  t.match((err as QueueError).message, dir, 'naming the directory');
});

t.test('REQ-DELIV-016 HAZ-013 a queue directory that cannot be opened fails at start with QUEUE_OPEN naming the reason: a second agent, a path through a file', async (t) => {
  const dir = tempDir(t);
  const store = await LevelQueueStore.open(dir);
  t.teardown(() => store.close());
  const reason = (path: string): Promise<string> =>
    LevelQueueStore.open(path).then(
      () => 'opened',
      (e: unknown) => (e instanceof QueueError && e.code === 'QUEUE_OPEN' ? e.message : `not a QUEUE_OPEN: ${String(e)}`),
    );
  t.equal(await reason(dir), `cannot open the durable queue in ${dir}: LEVEL_DATABASE_NOT_OPEN`, 'locked by the first store');
  const file = join(dir, 'CURRENT');
  t.equal(await reason(join(file, 'queue')), `cannot open the durable queue in ${join(file, 'queue')}: ENOTDIR`, 'a directory cannot be made under a file');
});

t.test('REQ-DELIV-016 HAZ-013 every durable-queue operation that fails is a QUEUE_IO error naming what failed (here: a store closed under it)', async (t) => {
  const dir = tempDir(t);
  const store = await LevelQueueStore.open(dir);
  await store.put(1n, Uint8Array.from([1]));
  await store.saveState('confirmed', Uint8Array.from([2]));
  t.same(await store.get(1n), Buffer.from([1]), 'written and read back while open');
  await store.close();
  const failures: Array<[string, Promise<unknown>, RegExp]> = [
    ['put', store.put(2n, Uint8Array.from([3])), /durable queue write failed/],
    ['get', store.get(1n), /durable queue read failed/],
    ['del', store.del([1n]), /durable queue delete failed/],
    ['saveState', store.saveState('confirmed', Uint8Array.from([4])), /state record confirmed write failed/],
    ['loadState', store.loadState('confirmed'), /state record confirmed read failed/],
  ];
  for (const [what, op, message] of failures) {
    const err = await op.then(() => null, (e: unknown) => e);
    t.ok(err instanceof QueueError, `${what}: a typed QueueError`);
    t.match(err, { code: 'QUEUE_IO', message }, `${what}: QUEUE_IO naming the operation`);
  }
  t.equal(await store.del([]).then(() => 'nothing to do'), 'nothing to do', 'deleting no key touches nothing, even closed');
});

/** A store whose writes wait until released, and whose reads and deletes can fail: what a slow or failing disk does. */
class SlowStore extends MemoryQueueStore {
  private held: Array<{ go: () => void; fail: (e: Error) => void }> = [];
  failDeletes = false;
  override async put(key: bigint, value: Uint8Array): Promise<void> {
    await new Promise<void>((go, fail) => this.held.push({ go, fail }));
    return super.put(key, value);
  }
  override async del(keys: readonly bigint[]): Promise<void> {
    if (this.failDeletes && keys.length > 0) throw new QueueError('QUEUE_IO', 'durable queue delete failed: test');
    return super.del(keys);
  }
  release(): void {
    for (const h of this.held.splice(0)) h.go();
  }
  failHeld(): void {
    for (const h of this.held.splice(0)) h.fail(new QueueError('QUEUE_IO', 'durable queue write failed: test'));
  }
}
const settle = () => new Promise((r) => setImmediate(r));

t.test('REQ-DELIV-012 HAZ-013 a message evicted while its write is in flight is deleted when the write lands, never sent', async (t) => {
  const clock = new FakeClock();
  const store = new SlowStore();
  const size = encodeRecord(rec('observation', 1, clock)).byteLength + 8;
  const outbox = await Outbox.open(store, { maxBytes: size * 2, maxAgeMs: 3_600_000 }, clock, memoryLogger());
  const first = outbox.append(rec('observation', 1, clock));
  const second = outbox.append(rec('observation', 2, clock));
  const third = outbox.append(rec('alarm', 3, clock, 100));
  store.release();
  const [a] = await Promise.all([first, second, third]);
  t.ok(a.ok, 'its write completed');
  t.equal(outbox.counters()['queue-evicted.observation.size'], 1, 'evicted for the alarm while in flight');
  await settle();
  t.equal(store.entries.size, 2, 'the evicted one deleted from disk once its write landed');
  t.same(drainOrder(outbox).map((e) => e.deliveryClass), ['observation', 'alarm'], 'and never sent');
});

t.test('REQ-DELIV-016 HAZ-013 a write that fails after its entry was evicted is counted once, the bounds stay right', async (t) => {
  const clock = new FakeClock();
  const store = new SlowStore();
  const size = encodeRecord(rec('observation', 1, clock)).byteLength + 8;
  const outbox = await Outbox.open(store, { maxBytes: size, maxAgeMs: 3_600_000 }, clock, memoryLogger());
  const first = outbox.append(rec('observation', 1, clock));
  const second = outbox.append(rec('observation', 2, clock));
  store.failHeld();
  const results = await Promise.all([first, second]);
  t.same(results.map((r) => r.ok), [false, false], 'both writes failed');
  const c = outbox.counters();
  t.equal(c['queue-depth'], 0, 'nothing left in the index');
  t.equal(c['queue-bytes'], 0, 'the evicted entry is not subtracted twice');
  t.equal(c['queue-depth.observation'], 0);
});

t.test('REQ-DELIV-014 HAZ-013 reads and removals of an entry that is gone, a corrupt record, a delete that fails, a closed queue', async (t) => {
  const clock = new FakeClock();
  const store = new SlowStore();
  const logger = memoryLogger();
  const outbox = await Outbox.open(store, LIMITS, clock, logger);
  const appended = [outbox.append(rec('score', 1, clock)), outbox.append(rec('score', 2, clock)), outbox.append(rec('score', 3, clock))];
  store.release();
  const [e1, e2, e3] = (await Promise.all(appended)).map((r) => (r.ok ? r.entry : null));
  if (!e1 || !e2 || !e3) throw new Error('appends failed');
  outbox.remove(e1);
  t.equal(await outbox.read(e1), undefined, 'a removed entry reads as gone');
  outbox.remove(e1);
  t.equal(outbox.counters()['queue-depth'], 2, 'removing it again changes nothing');
  const reading = outbox.read(e2);
  outbox.remove(e2);
  t.equal(await reading, undefined, 'removed while its read was in flight: gone');
  store.entries.set(e3.key, Buffer.from('not a record'));
  t.equal(await outbox.read(e3), undefined, 'a corrupt record is not sent');
  t.equal(outbox.counters()['queue-corrupt'], 1, 'counted');
  t.equal(outbox.counters()['queue-depth'], 0, 'and removed');
  store.failDeletes = true;
  await settle();
  t.equal(outbox.counters()['queue-delete-failed'], 1, 'a delete that fails is counted (the message would be re-sent after a restart, dropped by id)');
  t.ok(logger.records.some((r) => r.event === 'queue-delete-failed'));
  await outbox.close();
  await outbox.close();
  t.same(await outbox.append(rec('alarm', 4, clock)), { ok: false, reason: 'write-failed', detail: 'queue closed' }, 'nothing is accepted once closed');
});

t.test('REQ-DELIV-018 eviction keeps memory bounded over many messages (index compaction)', async (t) => {
  const clock = new FakeClock();
  const size = encodeRecord(rec('observation', 1, clock)).byteLength + 8;
  const outbox = await Outbox.open(new MemoryQueueStore(), { maxBytes: size * 100, maxAgeMs: 3_600_000 }, clock, memoryLogger());
  for (let i = 0; i < 5000; i += 1) await outbox.append(rec('observation', i, clock));
  t.equal(outbox.depth, 100, 'the newest 100 kept');
  const order = drainOrder(outbox).map((e) => Number(e.key));
  t.same(order, Array.from({ length: 100 }, (_, i) => 4901 + i), 'the newest, in order');
  t.equal(outbox.counters()['queue-evicted.observation.size'], 4900);
});

t.test('REQ-DELIV-019 the queue and command settings: defaults, and every problem reported as path: message', async (t) => {
  const base = {
    gateway: { gatewayId: 'gw-1', siteId: 's', wardId: 'w', bedId: 'b' },
    mqtt: { url: 'mqtts://broker:8883' },
    interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/ttyUSB0' }],
  };
  const c = parseConfig(base);
  t.same(c.queue, { dir: '/var/lib/vigil/queue', maxBytes: 67_108_864, maxAgeMs: 86_400_000, confirmBy: [], resendUnconfirmedAfterMs: 10_000, alarmDeliveryBoundMs: 15_000 }, 'queue defaults');
  t.same(c.commands, {
    maxAgeMs: 60_000,
    maxClockSkewMs: 5_000,
    manualMaxAgeMs: { consciousness: 14_400_000, onOxygen: 14_400_000, spo2Scale: 86_400_000 },
  }, 'command defaults');
  let issues: readonly string[] = [];
  try {
    parseConfig({ ...base, queue: { dir: 'queue', maxBytes: 10, maxAge: 1 }, commands: { maxAgeMs: 1 } });
  } catch (err) {
    issues = err instanceof ConfigError ? err.issues : [];
  }
  t.ok(issues.some((i) => i.startsWith('queue.dir: must be an absolute directory path')), 'relative directory');
  t.ok(issues.some((i) => i.startsWith('queue.maxBytes: ')), 'bound too small');
  t.ok(issues.some((i) => i.startsWith('queue: ') && i.includes('maxAge')), 'a misspelt key is an error, not ignored');
  t.ok(issues.some((i) => i.startsWith('commands.maxAgeMs: ')), 'command window too small');
});
