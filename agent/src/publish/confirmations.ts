/**
 * End-to-end delivery (HAZ-013, CTRL-025): what the stations a gateway waits for say they
 * have received. QoS 1 is hop by hop: a broker's PUBACK says the broker has a message, not
 * that a station will get it (a broker killed before it saved its sessions acknowledges a
 * backlog to no subscriber). So a queued message of the numbered stream leaves the
 * gateway's durable queue only when every configured station has named its sequence number
 * in a delivery receipt (proto DeliveryReceipt, topic .../receipt/<station-id>).
 *
 * Pure: receipts in (already decoded), answers out; the forwarder (publish/delivery.ts) acts.
 * A receipt is a statement of what the station holds, so knowledge only grows: a later
 * receipt that omits a number (a station restarted, or a capped list) takes nothing back.
 *
 * Specification: docs/interfaces/mqtt.md (Delivery receipts).
 */
import { decodeReceipt } from '../proto/codec';
import type { SequenceRange } from '../model/sequence-ranges';
import { SequenceRanges } from '../model/sequence-ranges';

/** At most this many ranges in one receipt; any subset of what a station holds is a true receipt. */
export const MAX_RECEIPT_RANGES = 256;
/** Gateway runs remembered per station (the queue rarely holds more than the current and the last). */
const BOOTS_REMEMBERED = 16;

export type ReceiptRejection = 'undecodable' | 'schema-version' | 'station-mismatch' | 'wrong-gateway' | 'no-boot' | 'bad-range' | 'too-many-ranges';

export interface CheckedReceipt {
  stationId: string;
  bootId: string;
  received: SequenceRange[];
}

export type ReceiptCheck = { ok: true; receipt: CheckedReceipt } | { ok: false; reason: ReceiptRejection; detail: string };

/**
 * Decodes and checks a receipt from topic .../receipt/<topicStationId>. The station id in the
 * payload must be the topic's (the broker's ACL binds the topic to the station's certificate),
 * and the gateway must be this one.
 */
export function checkReceipt(payload: Uint8Array, topicStationId: string, gatewayId: string): ReceiptCheck {
  let msg;
  try {
    msg = decodeReceipt(payload);
  } catch (err) {
    return { ok: false, reason: 'undecodable', detail: (err as Error).message };
  }
  if (msg.schemaVersion !== 1) return { ok: false, reason: 'schema-version', detail: `schema version ${msg.schemaVersion}, expected 1` };
  if (msg.stationId !== topicStationId) {
    return { ok: false, reason: 'station-mismatch', detail: `receipt names station "${msg.stationId}" on the topic of "${topicStationId}"` };
  }
  if (msg.gatewayId !== gatewayId) return { ok: false, reason: 'wrong-gateway', detail: `receipt for gateway "${msg.gatewayId}"` };
  if (!msg.bootId) return { ok: false, reason: 'no-boot', detail: 'receipt without boot id' };
  if (msg.received.length > MAX_RECEIPT_RANGES) {
    return { ok: false, reason: 'too-many-ranges', detail: `${msg.received.length} ranges, at most ${MAX_RECEIPT_RANGES}` };
  }
  const received: SequenceRange[] = [];
  for (const r of msg.received) {
    const first = Number(r.first);
    const last = Number(r.last);
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 1 || last < first) {
      return { ok: false, reason: 'bad-range', detail: `range ${String(r.first)}-${String(r.last)}` };
    }
    received.push({ first, last });
  }
  return { ok: true, receipt: { stationId: msg.stationId, bootId: msg.bootId, received } };
}

export class StationConfirmations {
  private readonly byStation = new Map<string, Map<string, SequenceRanges>>();

  /** `stations`: the station ids (certificate names) every queued message waits for; at least one. */
  constructor(readonly stations: readonly string[]) {
    for (const s of stations) this.byStation.set(s, new Map());
  }

  /** Records a checked receipt; false when its station is not one this gateway waits for. */
  record(receipt: CheckedReceipt): boolean {
    const boots = this.byStation.get(receipt.stationId);
    if (!boots) return false;
    let ranges = boots.get(receipt.bootId);
    if (!ranges) {
      ranges = new SequenceRanges();
      boots.set(receipt.bootId, ranges);
      if (boots.size > BOOTS_REMEMBERED) boots.delete(boots.keys().next().value as string);
    } else {
      // Most recently used last, so the least recently heard run is the one forgotten.
      boots.delete(receipt.bootId);
      boots.set(receipt.bootId, ranges);
    }
    for (const r of receipt.received) ranges.addRange(r.first, r.last);
    return true;
  }

  /** Every station waited for has received this message. */
  confirmed(bootId: string, sequence: number): boolean {
    for (const boots of this.byStation.values()) {
      if (!boots.get(bootId)?.has(sequence)) return false;
    }
    return true;
  }

  /** The stations waited for that have not (yet) named this message in a receipt. */
  unconfirmedBy(bootId: string, sequence: number): string[] {
    return [...this.byStation].filter(([, boots]) => !boots.get(bootId)?.has(sequence)).map(([station]) => station);
  }

  /**
   * The station has received later messages of this run but not this one: a sign that it was
   * lost on the way (the forwarder re-sends it once it has waited long enough for reordering).
   */
  passedBy(stationId: string, bootId: string, sequence: number): boolean {
    const ranges = this.byStation.get(stationId)?.get(bootId);
    return ranges !== undefined && ranges.highest > sequence && !ranges.has(sequence);
  }
}
