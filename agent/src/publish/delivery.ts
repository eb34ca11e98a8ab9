/**
 * Store and forward: the sink the publisher writes to when the agent runs for real.
 *
 *   publisher -> Delivery.publish -> outbox (durable, io/durable-queue.ts) -> forwarder -> MQTT link
 *
 * - Observations, scores and alarm changes (`deliveryClass` set) are written to the
 *   durable queue first; `publish` resolves once the message is on disk, which is when it
 *   counts as accepted. The forwarder then sends queued messages in order, at QoS 1, with
 *   up to `maxInFlight` unacknowledged, and deletes each one when the broker's PUBACK
 *   arrives. After a restart, what is left on disk is sent first. Alarm changes go ahead
 *   of the other classes (in order among themselves): a backlog never delays an alarm.
 * - A message accepted while the broker was unreachable, left by an earlier run, or sent
 *   more than `lateAfterMs` after it was accepted (queued behind a draining backlog) is
 *   sent flagged as backfill (Envelope.backfill, QUALITY_FLAG_BACKFILL) and not retained:
 *   nothing is delivered late without saying so, and the retained copy of a topic is
 *   always a live message.
 * - State (status, alarm re-announcements, command results: no `deliveryClass`) is not
 *   queued: it is sent at once when the link is up and refused when it is not (the next
 *   heartbeat replaces it).
 * - A message the broker refuses for good (MQTT v5 PUBACK reason code >= 0x80, e.g. not
 *   authorized) is deleted and counted: retrying it would block every message behind it.
 * - Alarm changes (HAZ-013, CTRL-028: Vigil is a distributed alarm system intended for
 *   confirmed delivery, docs/interfaces/mqtt.md): every safety tick, an alarm change the
 *   broker acknowledged but a station waited for has not confirmed is sent again once it was
 *   sent `resendUnconfirmedAfterMs` ago, and an alarm change still queued `alarmDeliveryBoundMs`
 *   after it was accepted is reported (`superviseAlarms`): the agent raises
 *   `gateway.alarm-undelivered` while one is.
 *
 * Specification: docs/interfaces/durable-queue.md, docs/interfaces/mqtt.md.
 */
import { elapsedMs, type Clock } from '../clock';
import { PublishError } from '../errors';
import type { PublishOptions } from '../io/mqtt';
import type { Logger } from '../log';
import { markBackfill } from '../proto/codec';
import { checkReceipt, StationConfirmations, type CheckedReceipt } from './confirmations';
import type { DeliveryClass, Outbox, QueueEntry } from './outbox';

/** Options the publisher passes with each message: MQTT options plus the queue class. */
export interface SendOptions extends PublishOptions {
  /** Set: queued durably and evicted in this class's order. Absent: state, not queued. */
  deliveryClass?: DeliveryClass | undefined;
  /** The envelope's gateway run and sequence number (queued messages): what receipts name. */
  stream?: { bootId: string; sequence: number } | undefined;
}

/** What the forwarder needs from the MQTT boundary (io/mqtt.ts MqttLink, or a fake). */
export interface DeliveryLink {
  readonly connected: boolean;
  publish(topic: string, payload: Uint8Array, options: PublishOptions): Promise<void>;
  on(event: 'connect', listener: () => void): unknown;
  end(force?: boolean): Promise<void>;
}

export interface DeliveryOptions {
  /** Queued messages sent but not yet acknowledged, at most. */
  maxInFlight?: number;
  /** On a clean stop, how long to wait for the queue to drain before closing. */
  drainGraceMs?: number;
  /** A message sent later than this after it was accepted is flagged backfill. */
  lateAfterMs?: number;
  /**
   * End to end (HAZ-013, CTRL-025): the station ids whose delivery receipts a queued message
   * of the numbered stream waits for before it leaves the queue. Empty or absent: the
   * broker's PUBACK deletes it (hop by hop only).
   */
  confirmBy?: readonly string[];
  /** This gateway's id: a receipt must name it. Required with confirmBy. */
  gatewayId?: string;
  /**
   * A message a station's receipt passed over is sent again once it was sent this long ago;
   * an alarm change unconfirmed this long is sent again even without a receipt.
   */
  resendUnconfirmedAfterMs?: number;
  /**
   * An alarm change still queued (not confirmed by the stations, or without confirmBy not
   * acknowledged by the broker) this long after it was accepted is undelivered (CTRL-028).
   */
  alarmDeliveryBoundMs?: number;
  /**
   * The topic of the technical alarm the bound raises (gateway.alarm-undelivered): its own
   * changes are not counted. Counted, it would hold itself raised once its first change aged,
   * and change its text (and be published again) as it did.
   */
  undeliveredAlarmTopic?: string;
}

/** The alarm changes past the delivery bound, as of the last safety tick. */
export interface UndeliveredAlarms {
  /** Distinct alarms (alarm topics) with a change queued longer than the bound. */
  alarms: number;
  /** The stations waited for that have not confirmed one of them (empty without confirmBy). */
  awaitedStations: string[];
  /** The technical alarm's text (`gateway.alarm-undelivered`); null when there is none. */
  detail: string | null;
}

/** A message the broker acknowledged that waits for the stations' receipts. */
interface Awaiting {
  entry: QueueEntry;
  sentMonoNs: bigint;
}

export class Delivery {
  private cursor = 0n;
  private readonly inFlight = new Set<bigint>();
  private pumping = false;
  private again = false;
  private closed = false;
  private readonly counts: Record<string, number> = {};
  private readonly maxInFlight: number;
  private readonly drainGraceMs: number;
  private readonly lateAfterMs: number;
  private idleWaiters: Array<() => void> = [];
  private readonly lastIncrease = new Map<string, { total: number; atMonoNs: bigint }>();
  private readonly awaiting = new Map<bigint, Awaiting>();
  private readonly confirmations: StationConfirmations | null;
  private readonly gatewayId: string;
  private readonly resendAfterMs: number;
  private readonly alarmBoundMs: number;
  private readonly undeliveredAlarmTopic: string | null;
  /** When this run opened the queue: where the age of an alarm left by an earlier run counts from. */
  private readonly startedMonoNs: bigint;
  private undelivered: UndeliveredAlarms = { alarms: 0, awaitedStations: [], detail: null };
  private readonly sentOrWaiting = (key: bigint): boolean => this.inFlight.has(key) || this.awaiting.has(key);

  constructor(
    private readonly outbox: Outbox,
    private readonly link: DeliveryLink,
    private readonly clock: Clock,
    private readonly logger: Logger,
    options: DeliveryOptions = {},
  ) {
    this.maxInFlight = options.maxInFlight ?? 32;
    this.drainGraceMs = options.drainGraceMs ?? 2000;
    this.lateAfterMs = options.lateAfterMs ?? 2000;
    this.confirmations = options.confirmBy && options.confirmBy.length > 0 ? new StationConfirmations(options.confirmBy) : null;
    this.gatewayId = options.gatewayId ?? '';
    this.resendAfterMs = options.resendUnconfirmedAfterMs ?? 10_000;
    this.alarmBoundMs = options.alarmDeliveryBoundMs ?? 15_000;
    this.undeliveredAlarmTopic = options.undeliveredAlarmTopic ?? null;
    this.startedMonoNs = clock.monoNs();
    outbox.onDurable(() => void this.pump());
    // MQTT.js re-sends what was in flight when the link dropped before it reports the
    // new connection; the forwarder then carries on from where it was. What the broker had
    // acknowledged but no station confirmed may have died with the broker: sent again.
    link.on('connect', () => {
      this.resendAwaiting();
      void this.pump();
    });
  }

  /** End to end: the stations this gateway waits for (empty: the broker's PUBACK suffices). */
  get confirmingStations(): readonly string[] {
    return this.confirmations?.stations ?? [];
  }

  /**
   * A delivery receipt from station `stationId` (the last level of its topic). Checked, then
   * every message it confirms for all the stations waited for leaves the queue; a message it
   * passes over, sent at least `resendUnconfirmedAfterMs` ago, is sent again. Rejected and
   * ignored receipts are counted and logged, never acted on.
   */
  receipt(stationId: string, payload: Uint8Array): void {
    if (!this.confirmations) {
      this.add('receipts-ignored.not-waited-for');
      return;
    }
    const checked = checkReceipt(payload, stationId, this.gatewayId);
    if (!checked.ok) {
      this.add(`receipts-rejected.${checked.reason}`);
      this.logger.warn('receipt-rejected', { station: stationId, reason: checked.reason, detail: checked.detail });
      return;
    }
    if (!this.confirmations.record(checked.receipt)) {
      this.add('receipts-ignored.not-waited-for');
      return;
    }
    this.add('receipts-accepted');
    this.settle(checked.receipt);
    this.checkIdle();
    void this.pump();
  }

  private settle(receipt: CheckedReceipt): void {
    const confirmations = this.confirmations as StationConfirmations;
    const now = this.clock.monoNs();
    for (const [key, a] of this.awaiting) {
      const e = a.entry;
      if (e.removed) {
        this.awaiting.delete(key); // evicted by the queue's bounds meanwhile (counted there)
        continue;
      }
      if (e.bootId !== receipt.bootId || e.sequence === null) continue;
      if (confirmations.confirmed(e.bootId, e.sequence)) {
        this.awaiting.delete(key);
        this.outbox.remove(e);
        this.add('queue-confirmed');
      } else if (confirmations.passedBy(receipt.stationId, e.bootId, e.sequence) && elapsedMs(a.sentMonoNs, now) >= this.resendAfterMs) {
        this.awaiting.delete(key);
        this.rewind(key);
        this.add('queue-resent-unconfirmed');
      }
    }
  }

  /** After a reconnect: everything the old connection's broker acknowledged without a receipt. */
  private resendAwaiting(): void {
    for (const [key, a] of this.awaiting) {
      this.awaiting.delete(key);
      if (a.entry.removed) continue;
      this.rewind(key);
      this.add('queue-resent-unconfirmed');
    }
  }

  /**
   * Every safety tick (safety/supervision.ts), on the injected clock (HAZ-013, CTRL-028):
   * - with confirmBy and the broker connected, every alarm change the broker acknowledged that
   *   a station waited for has not confirmed is sent again once it was sent
   *   `resendUnconfirmedAfterMs` ago, receipt or not (a station that stopped sending receipts
   *   passes over nothing), counted `queue-resent-alarm-unconfirmed`; it is late, so it goes
   *   flagged backfill and not retained (the station learns the alarm's live state from its
   *   re-announcements; the re-sent change is there to be confirmed);
   * - returns the alarm changes still queued longer than `alarmDeliveryBoundMs` after they were
   *   accepted: with confirmBy not confirmed by every station, without it not acknowledged by
   *   the broker (hop by hop: the broker's PUBACK is the only confirmation there is), except
   *   the changes of that report's own alarm (`undeliveredAlarmTopic`). An alarm
   *   left on disk by an earlier run counts from this run's start (its age on another run's
   *   monotonic clock is unknown, and a wall-clock age would step with the clock).
   */
  superviseAlarms(): UndeliveredAlarms {
    const now = this.clock.monoNs();
    const c = this.confirmations;
    const retry = c !== null && this.link.connected && !this.closed;
    let resent = 0;
    const alarms = new Set<string>();
    const awaited = new Set<string>();
    for (const e of this.outbox.ofClass('alarm')) {
      const waiting = this.awaiting.get(e.key);
      if (retry && waiting && elapsedMs(waiting.sentMonoNs, now) >= this.resendAfterMs) {
        this.awaiting.delete(e.key); // the pump's alarms-first pass sends it again
        resent += 1;
      }
      const ageMs = elapsedMs(e.acceptedMonoNs ?? this.startedMonoNs, now);
      if (ageMs <= this.alarmBoundMs || e.alarmTopic === this.undeliveredAlarmTopic) continue;
      // Without confirmBy, every late change counts. A change without a sequence number (queued by a
      // version before receipts) no station can name: it waits for them all. One every station
      // confirmed has reached them, though still queued (its PUBACK lost with the connection).
      const missing = c === null ? [] : e.bootId !== null && e.sequence !== null ? c.unconfirmedBy(e.bootId, e.sequence) : c.stations;
      if (c !== null && missing.length === 0) continue;
      alarms.add(e.alarmTopic);
      for (const s of missing) awaited.add(s);
    }
    if (resent > 0) {
      this.add('queue-resent-alarm-unconfirmed', resent);
      void this.pump();
    }
    const awaitedStations = [...awaited].sort();
    this.undelivered = { alarms: alarms.size, awaitedStations, detail: this.undeliveredDetail(alarms.size, awaitedStations) };
    return this.undelivered;
  }

  /**
   * The text of the technical alarm: constant while the number of alarms and the stations
   * awaited stay the same (raising it again then publishes nothing). Names no alarm and no value.
   */
  private undeliveredDetail(alarms: number, awaitedStations: readonly string[]): string | null {
    if (alarms === 0) return null;
    const n = alarms === 1 ? '1 alarm' : `${alarms} alarms`;
    const bound = `${this.alarmBoundMs / 1000} s`;
    if (this.confirmations === null) {
      return `${n} not acknowledged by the broker within ${bound} of being accepted (queue.confirmBy is empty: delivery is confirmed hop by hop only)`;
    }
    // With confirmBy, an alarm is counted only with the stations it awaits (superviseAlarms).
    return `${n} not confirmed by station ${awaitedStations.join(', ')} within ${bound} of being accepted: not known to have reached a station`;
  }

  /** The in-order pass goes back to send `key` again (alarms sent ahead are found from the cursor too). */
  private rewind(key: bigint): void {
    if (key <= this.cursor) this.cursor = key - 1n;
  }

  get connected(): boolean {
    return this.link.connected;
  }

  /**
   * Messages waiting in the durable queue to be sent (load shedding reads its growth). Those
   * sent and waiting for a station's receipt are not a backlog: a station away must not make
   * the gateway shed.
   */
  get backlog(): number {
    return this.outbox.depth - this.awaiting.size;
  }

  publish(topic: string, payload: Uint8Array, options: SendOptions): Promise<void> {
    const { deliveryClass, stream, ...mqttOptions } = options;
    if (deliveryClass === undefined) return this.publishState(topic, payload, mqttOptions);
    // No await before append: the key (the delivery order) is taken in call order.
    const accepted = this.outbox.append({
      topic,
      payload,
      qos: mqttOptions.qos,
      retain: mqttOptions.retain,
      expirySec: mqttOptions.expirySec,
      contentType: mqttOptions.contentType,
      deliveryClass,
      acceptedWallMs: this.clock.wallMs(),
      backfill: !this.link.connected,
      bootId: stream?.bootId,
      sequence: stream?.sequence,
    });
    return accepted.then(async (r) => {
      if (r.ok) return;
      if (r.reason === 'write-failed' && this.link.connected) {
        // The disk failed but the broker is there: better delivered without the queue's
        // guarantee than not at all. Counted (and the write failure is counted by the outbox).
        this.add('sent-without-queue');
        await this.link.publish(topic, payload, mqttOptions);
        return;
      }
      throw new PublishError(`not queued (${r.reason}): ${r.detail}`);
    });
  }

  /** Counters for the gateway status. */
  counters(): Record<string, number> {
    return {
      ...this.outbox.counters(),
      ...this.counts,
      'queue-in-flight': this.inFlight.size,
      'queue-awaiting-receipt': this.awaiting.size,
      'queue-alarms-undelivered': this.undelivered.alarms,
    };
  }

  /**
   * Conditions for technical alarms (the agent raises and clears them): messages evicted
   * or refused by the queue's bounds, and disk writes failing, within the last `windowMs`.
   * Null when the condition is not present. The details are constant, so that raising
   * again does not re-publish the alarm.
   */
  conditions(windowMs = 60_000): { evicting: string | null; diskFailing: string | null } {
    const c = this.outbox.counters();
    const sum = (prefix: string): number => Object.entries(c).reduce((n, [k, v]) => (k.startsWith(prefix) ? n + v : n), 0);
    return {
      evicting: this.recent('evicted', sum('queue-evicted.') + sum('queue-refused.'), windowMs)
        ? 'durable queue at its bound: messages dropped (counters queue-evicted.*)'
        : null,
      diskFailing: this.recent('write-failed', c['queue-write-failed'] ?? 0, windowMs)
        ? 'durable queue cannot write to disk: messages not queued (counter queue-write-failed)'
        : null,
    };
  }

  private recent(name: string, total: number, windowMs: number): boolean {
    const now = this.clock.monoNs();
    const last = this.lastIncrease.get(name);
    if (!last || total > last.total) {
      if (total === 0) return false;
      this.lastIncrease.set(name, { total, atMonoNs: now });
      return true;
    }
    return elapsedMs(last.atMonoNs, now) <= windowMs;
  }

  /** Resolves when nothing is queued or in flight (tests, clean stop). */
  idle(): Promise<void> {
    if (this.outbox.depth === 0 && this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops forwarding and closes the link and the store. `force`: at once; otherwise
   * after the queue drained or `drainGraceMs` passed. Whatever is not acknowledged
   * stays on disk for the next run.
   */
  async end(force = false): Promise<void> {
    if (!force && this.link.connected) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, this.drainGraceMs)))]);
      clearTimeout(timer);
    }
    this.closed = true;
    await this.link.end(force);
    await this.outbox.close();
  }

  private publishState(topic: string, payload: Uint8Array, options: PublishOptions): Promise<void> {
    if (!this.link.connected) {
      this.add('state-not-sent-offline');
      return Promise.reject(new PublishError(`state message to ${topic} not sent: broker not connected`));
    }
    return this.link.publish(topic, payload, options);
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        this.outbox.enforceAge();
        while (!this.closed && this.link.connected && this.inFlight.size < this.maxInFlight) {
          // Alarm changes first: a queued alarm is sent ahead of a backlog of other messages
          // (REQ-PERF-003). It keeps its place in the key order: the in-order pass below skips
          // it once it is in flight or acknowledged, and sends it if its send failed. Looked for
          // from the first queued alarm, not from the cursor: an alarm the in-order pass went by
          // that is neither in flight nor waiting for a receipt is one to send again
          // (superviseAlarms takes an unconfirmed alarm out of `awaiting` for that).
          const alarm = this.outbox.nextOfClass('alarm', -1n, this.sentOrWaiting);
          const entry = alarm ?? this.outbox.next(this.cursor);
          if (!entry) break;
          const inOrder = alarm === undefined;
          if (inOrder) this.cursor = entry.key;
          if (this.sentOrWaiting(entry.key)) continue; // re-sent by MQTT.js itself, or waiting for a receipt
          let rec;
          try {
            rec = await this.outbox.read(entry);
          } catch (err) {
            this.add('queue-read-failed');
            this.logger.error('queue-read-failed', { error: (err as Error).message });
            if (inOrder) this.cursor = entry.key - 1n;
            break;
          }
          if (!rec) continue; // evicted while we read it
          if (!this.link.connected || this.closed) {
            if (inOrder) this.cursor = entry.key - 1n; // went down while we read: send it after reconnect
            break;
          }
          const late = entry.acceptedMonoNs !== null && elapsedMs(entry.acceptedMonoNs, this.clock.monoNs()) > this.lateAfterMs;
          const backfill = rec.backfill || entry.fromPreviousRun || late;
          this.inFlight.add(entry.key);
          this.link
            .publish(rec.topic, backfill ? markBackfill(rec.payload) : rec.payload, {
              qos: rec.qos,
              retain: rec.retain && !backfill,
              ...(rec.expirySec !== undefined ? { expirySec: rec.expirySec } : {}),
              ...(rec.contentType !== undefined ? { contentType: rec.contentType } : {}),
            })
            .then(
              () => this.acknowledged(entry, backfill),
              (err: unknown) => this.failed(entry, rec.topic, err),
            )
            .finally(() => {
              this.inFlight.delete(entry.key);
              this.checkIdle();
              void this.pump();
            });
        }
      } while (this.again);
    } finally {
      this.pumping = false;
      this.checkIdle();
    }
  }

  private acknowledged(entry: QueueEntry, backfill: boolean): void {
    this.add('queue-delivered');
    if (backfill) this.add('queue-delivered-backfill');
    const c = this.confirmations;
    if (c === null || entry.bootId === null || entry.sequence === null || entry.removed) {
      this.outbox.remove(entry);
    } else if (c.confirmed(entry.bootId, entry.sequence)) {
      this.outbox.remove(entry); // the receipt overtook the broker's PUBACK
      this.add('queue-confirmed');
    } else {
      this.awaiting.set(entry.key, { entry, sentMonoNs: this.clock.monoNs() });
    }
  }

  private failed(entry: QueueEntry, topic: string, err: unknown): void {
    const code = err instanceof PublishError ? err.brokerReasonCode : undefined;
    if (code !== undefined) {
      this.outbox.remove(entry);
      this.add('queue-refused-by-broker');
      this.logger.error('publish-refused', { topic, reasonCode: code, error: (err as Error).message });
      return;
    }
    // The link closed under it (or the client stopped): send it again, in order, later.
    this.add('queue-send-retried');
    if (entry.key <= this.cursor) this.cursor = entry.key - 1n;
  }

  private checkIdle(): void {
    if (this.outbox.depth === 0 && this.inFlight.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private add(name: string, n = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + n;
  }
}
