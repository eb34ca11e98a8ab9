/**
 * The station's side of end-to-end delivery (HAZ-013, CTRL-025): which numbered messages of
 * each gateway run this station has received, and the delivery receipts that say so.
 * A gateway keeps each queued message until the stations it waits for name it in a receipt
 * (publish/confirmations.ts), so a message a broker lost is sent again.
 *
 * Pure: fed by the station model with every numbered message it decoded (duplicates too:
 * a re-sent message must be confirmed again, or the gateway keeps re-sending it), asked for
 * the receipts due. A run with news gets a receipt at most every `minIntervalMs` (compact and
 * periodic: one small message per bed per interval, whatever the message rate).
 *
 * Specification: docs/interfaces/mqtt.md (Delivery receipts).
 */
import type { BedAddress } from '../publish/topics';
import type { SequenceRange } from '../model/sequence-ranges';
import { SequenceRanges } from '../model/sequence-ranges';

/** Ranges in one receipt (the gateway accepts up to 256); the lowest first, so the oldest are confirmed first. */
export const RECEIPT_RANGES = 128;
/** A run not heard from for this long is forgotten (its gateway has long moved on). */
const FORGET_AFTER_MS = 24 * 3600_000;

export interface ReceiptDue {
  bed: BedAddress;
  gatewayId: string;
  bootId: string;
  received: SequenceRange[];
}

interface RunReceived {
  bed: BedAddress;
  gatewayId: string;
  bootId: string;
  ranges: SequenceRanges;
  /** Numbered messages arrived since the last receipt. */
  news: boolean;
  lastNoteMs: number;
  lastSentMs: number;
}

export class ReceiptBook {
  private readonly runs = new Map<string, RunReceived>();

  constructor(private readonly minIntervalMs = 1000) {}

  /** A numbered message (sequence >= 1) of gateway run `bootId` on `bed` was received. */
  note(bed: BedAddress, gatewayId: string, bootId: string, sequence: number, nowMs: number): void {
    if (!(sequence >= 1) || !bootId) return;
    const key = `${bed.siteId}/${bed.wardId}/${bed.bedId}/${bootId}`;
    let run = this.runs.get(key);
    if (!run) {
      run = { bed: { siteId: bed.siteId, wardId: bed.wardId, bedId: bed.bedId }, gatewayId, bootId, ranges: new SequenceRanges(), news: false, lastNoteMs: nowMs, lastSentMs: -Infinity };
      this.runs.set(key, run);
    }
    run.ranges.add(sequence);
    run.news = true;
    run.lastNoteMs = nowMs;
  }

  /** The receipts to send now; each is then counted as sent (call `resendAll` if sending failed). */
  due(nowMs: number): ReceiptDue[] {
    const out: ReceiptDue[] = [];
    for (const [key, run] of this.runs) {
      if (nowMs - run.lastNoteMs > FORGET_AFTER_MS) {
        this.runs.delete(key);
        continue;
      }
      if (!run.news || nowMs - run.lastSentMs < this.minIntervalMs) continue;
      run.news = false;
      run.lastSentMs = nowMs;
      out.push({ bed: run.bed, gatewayId: run.gatewayId, bootId: run.bootId, received: run.ranges.list(RECEIPT_RANGES) });
    }
    return out;
  }

  /** After a reconnect or a failed send: every run gets its receipt again. */
  resendAll(): void {
    for (const run of this.runs.values()) {
      run.news = true;
      run.lastSentMs = -Infinity;
    }
  }
}
