/**
 * The store-and-forward queue between the publisher and the MQTT link: order, bounds
 * and eviction, over a durable store (io/durable-queue.ts). No I/O of its own beyond
 * the store, no MQTT: the forwarder (publish/delivery.ts) takes entries from here in
 * order and removes each once the broker acknowledged it.
 *
 * - Order: keys increase in acceptance order (continuing after the highest key found on
 *   disk at start-up); `next()` hands out entries in key order and never skips an entry
 *   whose write is still in progress.
 * - Size bound (`maxBytes`, key + value bytes): the oldest entry of the lowest class goes
 *   first: observations, then scores, then alarms (EVICTION_ORDER). A new message is
 *   refused rather than evicting a message of a higher class.
 * - Age bound (`maxAgeMs`): older entries are dropped whatever their class. Age is taken
 *   on the monotonic clock for entries accepted in this run, and on the wall clock (the
 *   only one that survives a restart) for entries found on disk at start-up.
 * Every eviction is counted by class and reason; nothing leaves the queue in silence.
 *
 * Specification: docs/interfaces/durable-queue.md.
 */
import type { Clock } from '../clock';
import { elapsedMs } from '../clock';
import type { QueueStore } from '../io/durable-queue';
import type { Logger } from '../log';

/** Which messages are queued, in eviction order (first evicted first). Status is not queued: it is state. */
export const EVICTION_ORDER = ['observation', 'score', 'alarm'] as const;
export type DeliveryClass = (typeof EVICTION_ORDER)[number];

export interface QueueLimits {
  maxBytes: number;
  maxAgeMs: number;
}

/** One message as it is kept on disk. */
export interface QueueRecord {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1 | 2;
  retain: boolean;
  expirySec?: number | undefined;
  contentType?: string | undefined;
  deliveryClass: DeliveryClass;
  acceptedWallMs: number;
  /** Accepted while the broker was unreachable: delivered flagged as backfill. */
  backfill: boolean;
  /** The envelope's place in the numbered stream (what a station's delivery receipt names). */
  bootId?: string | undefined;
  sequence?: number | undefined;
}

interface QueueEntryFields {
  readonly key: bigint;
  readonly bytes: number;
  readonly acceptedWallMs: number;
  /** null for entries found on disk at start-up (another run's monotonic clock means nothing here). */
  readonly acceptedMonoNs: bigint | null;
  /** Found on disk at start-up: accepted by an earlier run, so late whatever its flag says. */
  readonly fromPreviousRun: boolean;
  /** The gateway run and sequence number of the envelope; null for a record without them. */
  readonly bootId: string | null;
  readonly sequence: number | null;
  durable: boolean;
  removed: boolean;
}

/**
 * One queued message in memory. An alarm-class entry always has its topic (the alarm delivery
 * bound counts alarms by it, in publish/delivery.ts); the other classes' topics are not kept in
 * memory. The type says so: an alarm entry cannot be made without its topic.
 */
export type QueueEntry = QueueEntryFields & EntryClass;
type EntryClass = { readonly deliveryClass: 'alarm'; readonly alarmTopic: string } | { readonly deliveryClass: Exclude<DeliveryClass, 'alarm'>; readonly alarmTopic: null };

/** The class of a record's entry, with the topic an alarm entry keeps. */
function classOf(rec: QueueRecord): EntryClass {
  return rec.deliveryClass === 'alarm' ? { deliveryClass: 'alarm', alarmTopic: rec.topic } : { deliveryClass: rec.deliveryClass, alarmTopic: null };
}

export type AppendResult =
  | { ok: true; entry: QueueEntry }
  | { ok: false; reason: 'too-large' | 'queue-full' | 'write-failed'; detail: string };

const RECORD_VERSION = 1;
const KEY_BYTES = 8;

/**
 * Value encoding: a JSON header line, a newline, then the payload bytes unchanged.
 * (JSON keeps the header readable with any LevelDB tool; the payload is the protobuf
 * envelope exactly as it will be sent.)
 */
export function encodeRecord(r: QueueRecord): Uint8Array {
  const header = JSON.stringify({
    v: RECORD_VERSION,
    topic: r.topic,
    qos: r.qos,
    retain: r.retain,
    ...(r.expirySec !== undefined ? { expirySec: r.expirySec } : {}),
    ...(r.contentType !== undefined ? { contentType: r.contentType } : {}),
    cls: r.deliveryClass,
    acceptedWallMs: r.acceptedWallMs,
    backfill: r.backfill,
    ...(r.bootId !== undefined && r.sequence !== undefined ? { boot: r.bootId, seq: r.sequence } : {}),
  });
  return Buffer.concat([Buffer.from(`${header}\n`, 'utf8'), Buffer.from(r.payload)]);
}

/** Decodes a stored value; null when it is not a record this version wrote. */
export function decodeRecord(bytes: Uint8Array): QueueRecord | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return null;
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  const cls = h.cls;
  if (
    h.v !== RECORD_VERSION ||
    typeof h.topic !== 'string' ||
    (h.qos !== 0 && h.qos !== 1 && h.qos !== 2) ||
    typeof h.retain !== 'boolean' ||
    typeof h.acceptedWallMs !== 'number' ||
    typeof h.backfill !== 'boolean' ||
    !EVICTION_ORDER.includes(cls as DeliveryClass)
  ) {
    return null;
  }
  return {
    topic: h.topic,
    payload: new Uint8Array(buf.subarray(nl + 1)),
    qos: h.qos,
    retain: h.retain,
    expirySec: typeof h.expirySec === 'number' ? h.expirySec : undefined,
    contentType: typeof h.contentType === 'string' ? h.contentType : undefined,
    deliveryClass: cls as DeliveryClass,
    acceptedWallMs: h.acceptedWallMs,
    backfill: h.backfill,
    bootId: typeof h.boot === 'string' && Number.isSafeInteger(h.seq) ? h.boot : undefined,
    sequence: typeof h.boot === 'string' && Number.isSafeInteger(h.seq) ? (h.seq as number) : undefined,
  };
}

/** Entries in key order with a moving head; removed entries are skipped and compacted away. */
class OrderedEntries {
  private items: QueueEntry[] = [];
  private head = 0;
  private dead = 0;

  push(e: QueueEntry): void {
    this.items.push(e);
  }

  /** First live entry, or undefined. */
  first(): QueueEntry | undefined {
    this.skipDead();
    return this.items[this.head];
  }

  /** First live entry with a key above `after`. */
  after(after: bigint): QueueEntry | undefined {
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.items[mid] as QueueEntry).key <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.items.length; i += 1) {
      const e = this.items[i] as QueueEntry;
      if (!e.removed) return e;
    }
    return undefined;
  }

  noteRemoved(): void {
    this.dead += 1;
    this.skipDead();
    if (this.dead > 1024 && this.dead > (this.items.length - this.head) / 2) {
      this.items = this.items.slice(this.head).filter((e) => !e.removed);
      this.head = 0;
      this.dead = 0;
    }
  }

  private skipDead(): void {
    while (this.head < this.items.length && (this.items[this.head] as QueueEntry).removed) {
      this.head += 1;
      this.dead -= 1;
    }
    if (this.head === this.items.length && this.head > 0) {
      this.items = [];
      this.head = 0;
      this.dead = 0;
    }
  }
}

export class Outbox {
  private readonly all = new OrderedEntries();
  private readonly byClass = new Map<DeliveryClass, OrderedEntries>(EVICTION_ORDER.map((c) => [c, new OrderedEntries()]));
  private readonly countByClass = new Map<DeliveryClass, number>(EVICTION_ORDER.map((c) => [c, 0]));
  private nextKey: bigint;
  private totalBytes = 0;
  private liveCount = 0;
  private pendingDeletes: bigint[] = [];
  private deleteScheduled = false;
  private closed = false;
  private readonly counts: Record<string, number> = {};
  private readonly listeners = new Set<() => void>();

  private constructor(
    private readonly store: QueueStore,
    private readonly limits: QueueLimits,
    private readonly clock: Clock,
    private readonly logger: Logger,
    lastKey: bigint,
  ) {
    this.nextKey = lastKey + 1n;
  }

  /** Opens the outbox over a store, indexing what an earlier run left on disk. */
  static async open(store: QueueStore, limits: QueueLimits, clock: Clock, logger: Logger): Promise<Outbox> {
    const found: Array<{ key: bigint; rec: QueueRecord; bytes: number }> = [];
    const corrupt: bigint[] = [];
    let lastKey = 0n;
    for await (const [key, value] of store.scan()) {
      lastKey = key; // scan() gives the keys in order: the last is the highest
      const rec = decodeRecord(value);
      if (rec) found.push({ key, rec, bytes: KEY_BYTES + value.byteLength });
      else corrupt.push(key);
    }
    const outbox = new Outbox(store, limits, clock, logger, lastKey);
    for (const { key, rec, bytes } of found) {
      outbox.index({
        key,
        ...classOf(rec),
        bytes,
        acceptedWallMs: rec.acceptedWallMs,
        acceptedMonoNs: null,
        fromPreviousRun: true,
        bootId: rec.bootId ?? null,
        sequence: rec.sequence ?? null,
        durable: true,
        removed: false,
      });
    }
    if (corrupt.length > 0) {
      // Undecodable entries cannot be delivered: counted, logged (keys only), deleted.
      outbox.add('queue-corrupt', corrupt.length);
      logger.error('queue-corrupt-entries', { count: corrupt.length });
      await store.del(corrupt);
    }
    if (found.length > 0) logger.info('queue-recovered', { messages: found.length, bytes: outbox.totalBytes });
    outbox.enforceAge();
    return outbox;
  }

  get depth(): number {
    return this.liveCount;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Counters for the gateway status: accepted, delivered, evicted by class and reason... */
  counters(): Record<string, number> {
    // countByClass holds every class from the start.
    const depth = Object.fromEntries(EVICTION_ORDER.map((c) => [`queue-depth.${c}`, this.countByClass.get(c) as number]));
    return { ...this.counts, ...depth, 'queue-depth': this.liveCount, 'queue-bytes': this.totalBytes };
  }

  /** Called whenever an entry becomes durable (the forwarder pumps on it). */
  onDurable(listener: () => void): void {
    this.listeners.add(listener);
  }

  /**
   * Accepts a message: evicts what the bounds require, writes it, and resolves once it
   * is on disk. The key is assigned synchronously, so the order of calls is the order
   * of delivery whatever order the writes complete in.
   */
  append(rec: QueueRecord): Promise<AppendResult> {
    if (this.closed) return Promise.resolve({ ok: false, reason: 'write-failed', detail: 'queue closed' });
    const value = encodeRecord(rec);
    const bytes = KEY_BYTES + value.byteLength;
    if (bytes > this.limits.maxBytes) {
      this.add(`queue-refused.${rec.deliveryClass}.too-large`);
      return Promise.resolve({ ok: false, reason: 'too-large', detail: `${bytes} bytes exceed maxBytes` });
    }
    this.enforceAge();
    if (!this.makeRoom(rec.deliveryClass, bytes)) {
      this.add(`queue-evicted.${rec.deliveryClass}.size`);
      return Promise.resolve({ ok: false, reason: 'queue-full', detail: 'queue full of messages of a higher class' });
    }
    const entry: QueueEntry = {
      key: this.nextKey,
      ...classOf(rec),
      bytes,
      acceptedWallMs: rec.acceptedWallMs,
      acceptedMonoNs: this.clock.monoNs(),
      fromPreviousRun: false,
      bootId: rec.bootId ?? null,
      sequence: rec.sequence ?? null,
      durable: false,
      removed: false,
    };
    this.nextKey += 1n;
    this.index(entry);
    return this.store.put(entry.key, value).then(
      () => {
        entry.durable = true;
        // Evicted while its write was in flight: the write landed after the delete.
        if (entry.removed) this.deleteLater(entry.key);
        this.add('queue-accepted');
        if (rec.backfill) this.add('queue-accepted-offline');
        for (const l of this.listeners) l();
        return { ok: true as const, entry };
      },
      (err: Error) => {
        this.drop(entry);
        this.add('queue-write-failed');
        this.logger.error('queue-write-failed', { error: err.message });
        for (const l of this.listeners) l(); // the forwarder must not wait for it
        return { ok: false as const, reason: 'write-failed' as const, detail: err.message };
      },
    );
  }

  /** The next entry to send after `after`, in key order; undefined at the end or at an entry still being written. */
  next(after: bigint): QueueEntry | undefined {
    const e = this.all.after(after);
    return e && e.durable ? e : undefined;
  }

  /**
   * The first durable entry of one class after `after` that `skip` does not name (the forwarder's
   * in-flight and sent ones): the forwarder sends alarms ahead of the backlog (publish/shedding.ts).
   */
  nextOfClass(cls: DeliveryClass, after: bigint, skip: (key: bigint) => boolean): QueueEntry | undefined {
    const list = this.byClass.get(cls) as OrderedEntries;
    let e = list.after(after);
    while (e && skip(e.key)) e = list.after(e.key);
    return e && e.durable ? e : undefined;
  }

  /** The live entries of one class in key order (acceptance order), written to disk or not. */
  *ofClass<C extends DeliveryClass>(cls: C): Generator<Extract<QueueEntry, { deliveryClass: C }>> {
    const list = this.byClass.get(cls) as OrderedEntries;
    // index() files each entry under its own class: every entry of this list is of class `cls`.
    for (let e = list.first(); e !== undefined; e = list.after(e.key)) yield e as Extract<QueueEntry, { deliveryClass: C }>;
  }

  /** Reads an entry's record back; undefined when it was removed meanwhile (or cannot be read). */
  async read(entry: QueueEntry): Promise<QueueRecord | undefined> {
    if (entry.removed) return undefined;
    const value = await this.store.get(entry.key);
    if (entry.removed || value === undefined) return undefined;
    const rec = decodeRecord(value);
    if (!rec) {
      this.add('queue-corrupt');
      this.remove(entry);
    }
    return rec ?? undefined;
  }

  /** The broker acknowledged it (or refused it for good): delete it. */
  remove(entry: QueueEntry): void {
    if (entry.removed) return;
    this.drop(entry);
    this.deleteLater(entry.key);
  }

  /** Drops entries past the age bound; returns how many. */
  enforceAge(): number {
    const now = this.clock.monoNs();
    const wallNow = this.clock.wallMs();
    let n = 0;
    for (;;) {
      const e = this.all.first();
      if (!e) break;
      // The oldest entry is first: acceptance order. A wall-clock age is clamped at 0
      // (a clock stepped back keeps entries until the size bound takes them).
      const ageMs = e.acceptedMonoNs !== null ? elapsedMs(e.acceptedMonoNs, now) : Math.max(0, wallNow - e.acceptedWallMs);
      if (ageMs <= this.limits.maxAgeMs) break;
      this.evict(e, 'age');
      n += 1;
    }
    return n;
  }

  /** Flushes pending deletes and closes the store. Entries not yet acknowledged stay on disk. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushDeletes();
    await this.store.close();
  }

  private makeRoom(cls: DeliveryClass, bytes: number): boolean {
    const rank = EVICTION_ORDER.indexOf(cls);
    while (this.totalBytes + bytes > this.limits.maxBytes) {
      let victim: QueueEntry | undefined;
      for (const c of EVICTION_ORDER.slice(0, rank + 1)) {
        victim = (this.byClass.get(c) as OrderedEntries).first();
        if (victim) break;
      }
      if (!victim) return false;
      this.evict(victim, 'size');
    }
    return true;
  }

  private evict(e: QueueEntry, reason: 'size' | 'age'): void {
    this.add(`queue-evicted.${e.deliveryClass}.${reason}`);
    if (this.counts[`queue-evicted.${e.deliveryClass}.${reason}`] === 1) {
      this.logger.warn('queue-evicting', { deliveryClass: e.deliveryClass, reason });
    }
    this.remove(e);
  }

  private index(e: QueueEntry): void {
    this.all.push(e);
    (this.byClass.get(e.deliveryClass) as OrderedEntries).push(e);
    this.countByClass.set(e.deliveryClass, (this.countByClass.get(e.deliveryClass) as number) + 1);
    this.totalBytes += e.bytes;
    this.liveCount += 1;
  }

  private drop(e: QueueEntry): void {
    if (e.removed) return;
    e.removed = true;
    this.totalBytes -= e.bytes;
    this.liveCount -= 1;
    this.countByClass.set(e.deliveryClass, (this.countByClass.get(e.deliveryClass) as number) - 1);
    this.all.noteRemoved();
    (this.byClass.get(e.deliveryClass) as OrderedEntries).noteRemoved();
  }

  private deleteLater(key: bigint): void {
    this.pendingDeletes.push(key);
    if (this.deleteScheduled || this.closed) return;
    this.deleteScheduled = true;
    setImmediate(() => {
      this.deleteScheduled = false;
      void this.flushDeletes();
    });
  }

  private async flushDeletes(): Promise<void> {
    const keys = this.pendingDeletes;
    this.pendingDeletes = [];
    try {
      await this.store.del(keys);
    } catch (err) {
      // A delete that did not happen re-sends the message after a restart; the station
      // drops it by id. Counted, not fatal.
      this.add('queue-delete-failed');
      this.logger.warn('queue-delete-failed', { error: (err as Error).message });
    }
  }

  private add(name: string, n = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + n;
  }
}
