/**
 * HAZ-011: the identity of the device bound to a bed's interface (a serial number, an HL7
 * OBX-18 equipment id), shared by every driver that has one. Pure: no I/O, no clock.
 */
/**
 * A device's identity bound to the bed (serial number, equipment id): configured, or
 * learned from the first frame; a different one is held back until a person confirms the
 * change (HAZ-011). A configured identity can only be changed in the config.
 */
/** A confirmed device that sends no identity: bound as such, so that one that does is a change again. */
export const ANONYMOUS = '';

export class DeviceIdentity {
  private expected: string | null;
  private pending: string | null = null;

  constructor(private readonly configured: string | undefined) {
    this.expected = configured ?? null;
  }

  /** The identity the device is bound to (configured or learned), or null before the first one is seen. */
  get bound(): string | null {
    return this.expected;
  }

  /**
   * 'ok' (matches, or the first identity seen), 'changed' (a learned identity changed),
   * 'mismatch' (the configured one differs). `seen` is null when the device sends no identity
   * (no SN= field, dashes, an empty OBX-18): where an identity was bound, a device that no
   * longer says who it is may be another one, so it is a change until confirmed (HAZ-011);
   * where none was bound yet, there is nothing to compare and nothing is learned.
   */
  check(seen: string | null): 'ok' | 'changed' | 'mismatch' {
    if (this.expected === null) {
      if (seen !== null) this.expected = seen;
      return 'ok';
    }
    const identity = seen ?? ANONYMOUS;
    if (identity === this.expected) return 'ok';
    if (this.configured !== undefined) return 'mismatch';
    this.pending = identity;
    return 'changed';
  }

  /** Accepts the pending identity; false when there is none (or the identity is configured). */
  confirm(): boolean {
    if (this.pending === null || this.configured !== undefined) return false;
    this.expected = this.pending;
    this.pending = null;
    return true;
  }

  /** The identity learned from the device (to keep across a restart); null when configured or not yet seen. */
  learned(): string | null {
    return this.configured === undefined ? this.expected : null;
  }

  /**
   * Binds the identity an earlier run learned, before any frame (a device swapped while the
   * agent was down is then held back until confirmed). A configured identity is not replaced.
   */
  restore(identity: string): boolean {
    if (this.configured !== undefined || this.expected !== null) return false;
    this.expected = identity;
    return true;
  }
}
