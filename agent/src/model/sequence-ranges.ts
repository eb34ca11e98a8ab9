/**
 * A set of sequence numbers (1, 2, 3 ... of one gateway run) kept as sorted, disjoint,
 * non-adjacent closed ranges: what a station has received of a run is usually one range
 * [1, n], and a few more while gaps are open. Pure: used by the station to write its
 * delivery receipts (station/receipts.ts) and by the gateway to read them
 * (publish/confirmations.ts).
 */

/** A closed range of sequence numbers, first <= last, both >= 1. */
export interface SequenceRange {
  first: number;
  last: number;
}

export class SequenceRanges {
  private ranges: SequenceRange[] = [];

  /** Ranges copied from a receipt (validated by the caller: positive, first <= last). */
  static of(list: readonly SequenceRange[]): SequenceRanges {
    const set = new SequenceRanges();
    for (const r of list) set.addRange(r.first, r.last);
    return set;
  }

  get size(): number {
    return this.ranges.length;
  }

  /** The highest number in the set, 0 when empty. */
  get highest(): number {
    return this.ranges.length === 0 ? 0 : (this.ranges[this.ranges.length - 1] as SequenceRange).last;
  }

  add(seq: number): void {
    this.addRange(seq, seq);
  }

  /** Adds [first, last], merging with overlapping or adjacent ranges. */
  addRange(first: number, last: number): void {
    if (!(first >= 1 && last >= first)) return;
    // The first range that ends at or after first - 1 (could touch or overlap).
    const i = this.lowerBound(first - 1);
    let lo = first;
    let hi = last;
    let j = i;
    while (j < this.ranges.length && (this.ranges[j] as SequenceRange).first <= hi + 1) {
      const r = this.ranges[j] as SequenceRange;
      lo = Math.min(lo, r.first);
      hi = Math.max(hi, r.last);
      j += 1;
    }
    this.ranges.splice(i, j - i, { first: lo, last: hi });
  }

  has(seq: number): boolean {
    const i = this.lowerBound(seq);
    const r = this.ranges[i];
    return r !== undefined && r.first <= seq;
  }

  /** The ranges, lowest first; at most `max` of them (any subset of a receipt is a true statement). */
  list(max = Number.POSITIVE_INFINITY): SequenceRange[] {
    return this.ranges.slice(0, max).map((r) => ({ ...r }));
  }

  /** Index of the first range whose last >= n. */
  private lowerBound(n: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ranges[mid] as SequenceRange).last < n) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
