/**
 * The durable queue's storage boundary: the ONLY file that imports `classic-level`
 * (LevelDB, see docs/soup.md). It stores opaque values under 64-bit keys, kept in key
 * order, and knows nothing of MQTT or protobuf; ordering, bounds and eviction are in
 * publish/outbox.ts. Beside the queue, the same LevelDB keeps a few named state records
 * (what a restart must not lose besides messages: the station's accepted commands),
 * each replaced whole by a synchronous write.
 *
 * Key space (one LevelDB, one lock, one directory to back up):
 *   0x00 + 7 bytes   queue entries: 64-bit big-endian keys below 2^56 (at one message a
 *                    microsecond, two thousand years), so their first byte is 0
 *   0x01 + name      state records (UTF-8 name)
 *
 * Writes are synchronous on disk (`sync: true`, LevelDB fsyncs its write-ahead log)
 * so that a message counts as accepted only once it would survive a power cut, not
 * only a process crash. Deletes (after the broker's PUBACK) are not synced: losing
 * one in a power cut re-sends a message the station already has, and the station drops
 * it by its message id.
 *
 * Interface specification: docs/interfaces/durable-queue.md.
 */
import { mkdirSync } from 'node:fs';
import { ClassicLevel } from 'classic-level';
import { VigilError } from '../errors';

/** The queue's store could not be opened (`QUEUE_OPEN`) or failed while open (`QUEUE_IO`). */
export class QueueError extends VigilError {
  constructor(code: 'QUEUE_OPEN' | 'QUEUE_IO', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** What the outbox needs from a store: ordered keys, opaque values. */
export interface QueueStore {
  /** Every stored entry in key order (used once, at start-up). */
  scan(): AsyncIterable<[key: bigint, value: Uint8Array]>;
  /** Stores a value durably; resolves once it is on disk. */
  put(key: bigint, value: Uint8Array): Promise<void>;
  get(key: bigint): Promise<Uint8Array | undefined>;
  del(keys: readonly bigint[]): Promise<void>;
  close(): Promise<void>;
}

/** Named records replaced whole, durably (the commands' state: commands-in/persistence.ts). */
export interface StateStore {
  /** The record's bytes, or undefined when it was never written. */
  loadState(name: string): Promise<Uint8Array | undefined>;
  /** Replaces the record; resolves once it is on disk (fsync). */
  saveState(name: string, value: Uint8Array): Promise<void>;
}

/**
 * Writes one state record, one write at a time in call order, so that the last call's bytes
 * are what ends on disk. Resolves with null once written, or with the error's message; never
 * rejects.
 */
export class StateRecordWriter {
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: StateStore,
    readonly name: string,
  ) {}

  write(bytes: Uint8Array): Promise<string | null> {
    const done = this.last.then(() =>
      this.store.saveState(this.name, bytes).then(
        () => null,
        (err: Error) => err.message,
      ),
    );
    this.last = done;
    return done;
  }
}

/** Queue keys stay below 2^56, so their first byte is 0 and they never meet a state record. */
export const MAX_QUEUE_KEY = (1n << 56n) - 1n;
const QUEUE_KEYS = { gte: Buffer.alloc(8), lt: Buffer.from([0x01]) };
const STATE_PREFIX = 0x01;

/** Keys are 8-byte big-endian integers, so LevelDB's byte order is numeric order. */
function keyBytes(key: bigint): Buffer {
  if (key < 0n || key > MAX_QUEUE_KEY) throw new QueueError('QUEUE_IO', `queue key ${key} is outside 0..2^56-1`);
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(key);
  return b;
}

function stateKey(name: string): Buffer {
  return Buffer.concat([Buffer.from([STATE_PREFIX]), Buffer.from(name, 'utf8')]);
}

export class LevelQueueStore implements QueueStore, StateStore {
  private constructor(private readonly db: ClassicLevel<Buffer, Buffer>) {}

  /** Opens (creating if needed) the LevelDB directory; throws QueueError `QUEUE_OPEN`. */
  static async open(dir: string): Promise<LevelQueueStore> {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await db.open();
      return new LevelQueueStore(db);
    } catch (cause) {
      // LevelDB holds a lock file: a second agent on the same directory fails here. Every error
      // of this block has a code: mkdirSync's are errno codes (ENOTDIR, EACCES), and abstract-level
      // wraps any failure of open() in LEVEL_DATABASE_NOT_OPEN (its cause: LEVEL_LOCKED, ...); the
      // constructor's own TypeError (an empty location) cannot happen after mkdirSync succeeded.
      throw new QueueError('QUEUE_OPEN', `cannot open the durable queue in ${dir}: ${String((cause as NodeJS.ErrnoException).code)}`, { cause });
    }
  }

  async *scan(): AsyncIterable<[bigint, Uint8Array]> {
    for await (const [k, v] of this.db.iterator(QUEUE_KEYS)) yield [k.readBigUInt64BE(0), v];
  }

  async loadState(name: string): Promise<Uint8Array | undefined> {
    try {
      return await this.db.get(stateKey(name));
    } catch (cause) {
      throw new QueueError('QUEUE_IO', `state record ${name} read failed: ${(cause as Error).message}`, { cause });
    }
  }

  async saveState(name: string, value: Uint8Array): Promise<void> {
    try {
      await this.db.put(stateKey(name), Buffer.from(value.buffer, value.byteOffset, value.byteLength), { sync: true });
    } catch (cause) {
      throw new QueueError('QUEUE_IO', `state record ${name} write failed: ${(cause as Error).message}`, { cause });
    }
  }

  async put(key: bigint, value: Uint8Array): Promise<void> {
    try {
      await this.db.put(keyBytes(key), Buffer.from(value.buffer, value.byteOffset, value.byteLength), { sync: true });
    } catch (cause) {
      throw new QueueError('QUEUE_IO', `durable queue write failed: ${(cause as Error).message}`, { cause });
    }
  }

  async get(key: bigint): Promise<Uint8Array | undefined> {
    try {
      return await this.db.get(keyBytes(key));
    } catch (cause) {
      throw new QueueError('QUEUE_IO', `durable queue read failed: ${(cause as Error).message}`, { cause });
    }
  }

  async del(keys: readonly bigint[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      await this.db.batch(keys.map((k) => ({ type: 'del' as const, key: keyBytes(k) })));
    } catch (cause) {
      throw new QueueError('QUEUE_IO', `durable queue delete failed: ${(cause as Error).message}`, { cause });
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** A store in memory, with the same contract except durability: for unit tests only. */
export class MemoryQueueStore implements QueueStore, StateStore {
  readonly entries = new Map<bigint, Uint8Array>();
  readonly states = new Map<string, Uint8Array>();
  /** Set to make the next writes fail (tests of a failing disk). */
  failWrites = false;

  async *scan(): AsyncIterable<[bigint, Uint8Array]> {
    for (const k of [...this.entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      const v = this.entries.get(k);
      if (v) yield [k, v];
    }
  }

  async put(key: bigint, value: Uint8Array): Promise<void> {
    if (this.failWrites) throw new QueueError('QUEUE_IO', 'durable queue write failed: test');
    this.entries.set(key, value);
  }

  async get(key: bigint): Promise<Uint8Array | undefined> {
    return this.entries.get(key);
  }

  async del(keys: readonly bigint[]): Promise<void> {
    for (const k of keys) this.entries.delete(k);
  }

  async loadState(name: string): Promise<Uint8Array | undefined> {
    return this.states.get(name);
  }

  async saveState(name: string, value: Uint8Array): Promise<void> {
    if (this.failWrites) throw new QueueError('QUEUE_IO', `state record ${name} write failed: test`);
    this.states.set(name, value);
  }

  async close(): Promise<void> {}
}
