/**
 * Conformance levels of an HL7 interface: how far a message may deviate from IHE PCD-01 and
 * still be read. Configured per interface (`"conformance"`, docs/interfaces/config.md):
 *
 *  - `tolerant` (the default): what real monitors and gateways send is read when it cannot
 *    change a value: HL7 v2.3 to v2.9 (PCD-01 is defined on v2.6), no MSH-21 profile id, an
 *    empty OBX-11 (read as R, unverified: the least trusted status that carries a value), an
 *    OBX-14 with its fraction of a second written without the decimal point, OBX-1 set ids
 *    empty, repeated or out of order, an MDC code sent without its coding system whose text
 *    is that code's reference id, an empty MSH-11 (read as P: nothing marks the message as
 *    training or debugging), a number sent as ST or TX text (the text is exactly an NM number).
 *    A syntax error in one OBX rejects that OBX only. Each
 *    deviation is counted per message as `conformance-warning.<what>` in the interface status.
 *  - `pcd01-strict`: any of these rejects the message (or the OBX, for an empty OBX-11), and a
 *    syntax error in any OBX rejects the whole message: the behaviour of a PCD-01 receiver.
 *
 * Sources: IHE PCD TF Vol 2, PCD-01 (MSH-12 2.6, MSH-21 required, OBX-11 required); HL7 v2.6
 * chapter 2 (DTM 2.A.22, OBX-1 set id 7.4.2.1). Pure data.
 */

export const CONFORMANCE_LEVELS = ['tolerant', 'pcd01-strict'] as const;
export type ConformanceLevel = (typeof CONFORMANCE_LEVELS)[number];

/** MSH-12 versions a strict interface reads (PCD-01 is defined on HL7 v2.6, later versions keep its segments). */
export const PCD01_VERSIONS: readonly string[] = ['2.6', '2.7', '2.7.1', '2.8', '2.8.1', '2.8.2', '2.9'];

/**
 * MSH-12 versions a tolerant interface reads: from v2.3, the first version with the OBX fields
 * PCD-01 uses (OBX-18 equipment instance identifier), to v2.9. Before 2.6 is a warning.
 */
export const TOLERATED_VERSIONS: readonly string[] = ['2.3', '2.3.1', '2.4', '2.5', '2.5.1', ...PCD01_VERSIONS];

/** A deviation from PCD-01 read by a tolerant interface, counted as `conformance-warning.<what>`. */
export type ConformanceWarning =
  | 'hl7-version'
  | 'missing-profile'
  | 'missing-status'
  | 'dtm-fraction'
  | 'obx-set-id'
  | 'obx3-coding-system'
  | 'processing-id'
  | 'value-type';

export interface ConformanceNote {
  what: ConformanceWarning;
  /** Names the field and the rule, never a value. */
  detail: string;
}

export function isStrict(level: ConformanceLevel | undefined): boolean {
  return level === 'pcd01-strict';
}

/** Whether MSH-12 is read at this level, and whether reading it is a deviation. */
export function versionVerdict(version: string, level: ConformanceLevel): 'pcd01' | 'tolerated' | 'unsupported' {
  if (PCD01_VERSIONS.includes(version)) return 'pcd01';
  if (!isStrict(level) && TOLERATED_VERSIONS.includes(version)) return 'tolerated';
  return 'unsupported';
}

/** The notes of one message, each kind once (a message counts once per deviation). */
export class ConformanceNotes {
  private readonly byWhat = new Map<ConformanceWarning, ConformanceNote>();

  add(what: ConformanceWarning, detail: string): void {
    if (!this.byWhat.has(what)) this.byWhat.set(what, { what, detail });
  }

  list(): ConformanceNote[] {
    return [...this.byWhat.values()];
  }
}
