/**
 * HAZ-011: the identity of the device bound to a bed's interface (a serial number, an HL7
 * OBX-18 equipment id), shared by every driver that has one. Pure: no I/O, no clock.
 */
/**
 * A device's identity bound to the bed (serial number, equipment id): configured, or
 * learned from the first frame; a different one is held back until a person confirms the
 * change (HAZ-011). A configured identity can only be changed in the config.
 */
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

  /** 'ok' (matches or first seen), 'changed' (a learned identity changed), 'mismatch' (configured one differs). */
  check(seen: string): 'ok' | 'changed' | 'mismatch' {
    if (this.expected === null) {
      this.expected = seen;
      return 'ok';
    }
    if (seen === this.expected) return 'ok';
    if (this.configured !== undefined) return 'mismatch';
    this.pending = seen;
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
