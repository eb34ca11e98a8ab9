/**
 * The technical conditions the HL7 driver finds in the rows of accepted messages, each a
 * technical alarm (DriverCondition; priority and hazard from safety/conditions.ts):
 *
 *  - value-withheld.<parameter>: a row of a parameter Vigil shows was rejected (malformed,
 *    code and name disagree, ambiguous channels, unusable status) and the message gave no
 *    usable value of it: raised, and cleared when a later message delivers the parameter;
 *  - device-mapping-incomplete.<code>: a code of a vital-sign partition that Vigil cannot map,
 *    raised at its first appearance on this interface (a vital sign never disappears silently).
 *
 * Rows nothing in Vigil uses (ignored: vendor-private or unused codes) and rows superseded by
 * another row of the same parameter raise nothing. An edge is emitted only on a change.
 */
import type { ParameterCode } from '../../model/parameters';
import type { DriverConditionKey } from '../../safety/conditions';
import type { DriverCondition } from '../driver';
import type { ObxRejection, Pcd01Reading } from './obx';

/** Distinct unmapped codes reported per interface: a babbling device cannot grow the set without bound. */
export const MAX_REPORTED_CODES = 256;

export class Hl7Conditions {
  private readonly active = new Set<string>();
  private readonly reported = new Set<string>();

  constructor(
    private readonly interfaceId: string,
    private readonly emit: (condition: DriverCondition) => void,
  ) {}

  /**
   * The rows of one accepted message: what was delivered, and what was rejected and why.
   * Returns the parameters withheld (rejected, and no usable value of them in the message), so
   * that the driver withdraws what was shown of them before.
   */
  afterMessage(readings: readonly Pcd01Reading[], rejections: readonly ObxRejection[]): ReadonlyMap<ParameterCode, ObxRejection> {
    const delivered = new Set<ParameterCode>(readings.map((r) => r.parameter));
    for (const parameter of delivered) this.setCondition('value-withheld', parameter, false, `${parameter} delivered`);
    const withheld = new Map<ParameterCode, ObxRejection>();
    for (const r of rejections) {
      if (r.ignored || r.reason === 'superseded' || r.parameter === null || delivered.has(r.parameter) || withheld.has(r.parameter)) continue;
      withheld.set(r.parameter, r);
    }
    for (const [parameter, r] of withheld) this.setCondition('value-withheld', parameter, true, `${parameter} withheld (${r.reason}): ${r.detail}`);
    for (const r of rejections) {
      if (r.unmappedCode === null || this.reported.has(r.unmappedCode) || this.reported.size >= MAX_REPORTED_CODES) continue;
      this.reported.add(r.unmappedCode);
      this.setCondition('device-mapping-incomplete', r.unmappedCode.replace(/^MDC:/, ''), true, r.detail);
    }
    return withheld;
  }

  /** The priority is the catalogue's (safety/conditions.ts), not the driver's. */
  private setCondition(condition: DriverConditionKey, qualifier: string, active: boolean, detail: string): void {
    const key = `${condition}.${qualifier}`;
    if (active === this.active.has(key)) return;
    if (active) this.active.add(key);
    else this.active.delete(key);
    this.emit({ interfaceId: this.interfaceId, condition, qualifier, active, detail });
  }
}
