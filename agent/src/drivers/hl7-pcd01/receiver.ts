/**
 * The receiver: what the gateway does with each HL7 message of one link. It decodes, answers
 * every message with an ACK text, drops duplicate control ids (HAZ-007), and checks the patient
 * (PID-3) and the device (OBX-18) against the bed (HAZ-011).
 *
 * Pure: no I/O, no clock (the time is passed in); the driver (driver.ts) sends the ACK on the
 * link the message came on and counts every rejection by its reason.
 */
import { DeviceIdentity } from '../device-identity';
import type { AckCode, AckError } from './ack';
import { buildAck } from './ack';
import type { ConformanceLevel, ConformanceNote } from './conformance';
import type { Hl7Delimiters } from './hl7v2';
import type { ObxRejection, ObxRejectReason, Pcd01Reading } from './obx';
import type { AckReceived, PatientId, Pcd01Decoded, Pcd01Header, Pcd01RejectReason } from './pcd01';
import { decodePcd01 } from './pcd01';
import type { Pcd04Alert } from './pcd04';
import type { ProfileChoice, ProfileSetting } from './profile';

export interface ReceiverSettings {
  /** The bed's patient id: PID-3 must carry it (any repetition). null = not checked. */
  patientId: string | null;
  /** When set, the PID-3 repetition must also carry this assigning authority. */
  patientIdAuthority: string | null;
  /** The configured equipment id (OBX-18); null = learned from the first accepted message. */
  equipmentId: string | null;
  defaultUtcOffsetMinutes: number;
  /** How many accepted control ids are remembered against duplicates (HAZ-007). */
  rememberControlIds?: number;
  /** How far a message may deviate from PCD-01 (conformance.ts); default tolerant. */
  conformance?: ConformanceLevel;
  /** The interface's device profile (profile.ts); default none. */
  profile?: ProfileSetting;
}

/** Rejections of a whole message by the receiver, beyond the decoder's. */
export type ReceiverRejectReason = Pcd01RejectReason | 'patient-mismatch' | 'device-changed' | 'device-identity';

/**
 * Every cause the HL7 driver counts as frames-rejected.<reason>: a whole message rejected by
 * the decoder or the receiver, a duplicate (dropped, answered AA), and an OBX that concerns a
 * parameter Vigil uses but cannot be used.
 */
export type Hl7RejectReason = ReceiverRejectReason | 'duplicate' | ObxRejectReason;

export type ReceiveOutcome =
  | {
      kind: 'accepted';
      header: Pcd01Header;
      readings: Pcd01Reading[];
      obxRejections: ObxRejection[];
      descriptors: number;
      equipmentId: string | null;
      ack: string;
      /** Deviations from PCD-01 the tolerant interface read (counted as conformance-warning.<what>). */
      warnings: ConformanceNote[];
      profile: ProfileChoice;
    }
  | {
      /** An ORU^R40 (IHE PCD-04) that passed the same checks: its alerts, for the relay. */
      kind: 'alert';
      header: Pcd01Header;
      alerts: Pcd04Alert[];
      equipmentId: string | null;
      warnings: ConformanceNote[];
      /** The ACK^R40 (AA) with the alerts' deviations and `extra` (what the relay found) as ERR warnings. */
      ack: (extra: readonly AckError[]) => string;
    }
  | { kind: 'duplicate'; controlId: string; detail: string; ack: string }
  | { kind: 'rejected'; reason: ReceiverRejectReason; detail: string; ack: string | null }
  /** An acknowledgment arrived (the gateway never answers one). */
  | { kind: 'ack'; ack: AckReceived };

const OBX_ERROR: Readonly<Record<ObxRejectReason, number>> = {
  malformed: 102,
  'unknown-code': 103,
  'vendor-private': 103,
  'unmapped-code': 103,
  'code-name-mismatch': 103,
  'unsupported-value-type': 102,
  'numeric-array': 102,
  'unsupported-status': 103,
  'missing-status': 101,
  superseded: 205,
  ambiguous: 205,
};

/**
 * The per-link state machine of a PCD-01 receiver: decodes, answers every message with an
 * ACK text, drops duplicates (HAZ-007), checks the patient (PID-3) and the device (OBX-18)
 * against the bed (HAZ-011). Pure: the time is passed in, the caller sends the ACK.
 */
export class Pcd01Receiver {
  /** The monitor's OBX-18 equipment id: configured, or learned from the first accepted message. */
  readonly equipment: DeviceIdentity;
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  private ackCounter = 0;

  constructor(private readonly settings: ReceiverSettings) {
    this.equipment = new DeviceIdentity(settings.equipmentId ?? undefined);
  }

  /** The equipment id this link is bound to (configured or learned), or null. */
  get equipmentId(): string | null {
    return this.equipment.bound;
  }

  /** Accepts the device now reporting another OBX-18 (a nurse confirmed the change). */
  confirmDeviceChange(): boolean {
    return this.equipment.confirm();
  }

  receive(payload: Uint8Array | string, nowWallMs: number): ReceiveOutcome {
    const decoded = decodePcd01(payload, {
      defaultUtcOffsetMinutes: this.settings.defaultUtcOffsetMinutes,
      conformance: this.settings.conformance ?? 'tolerant',
      profile: this.settings.profile ?? { kind: 'none' },
    });
    const ack = (code: AckCode, controlId: string, errors: readonly AckError[], header: Partial<Pcd01Header> | null, delimiters: Hl7Delimiters | null): string =>
      buildAck({ code, controlId, ackControlId: `VIGIL${++this.ackCounter}`, nowWallMs, delimiters, header, errors, trigger: header?.messageType === 'ORU^R40' ? 'R40' : 'R01' });
    if (!decoded.ok) {
      // MSH-level problems are AR (HL7 v2.6 2.9.2: message rejected as unacceptable), and so is
      // a message beyond the decode limit (sent again it would be refused again); body problems
      // AE. Bytes that are not a message (framing) cannot be acknowledged.
      const mshLevel = decoded.location?.segment === 'MSH' || decoded.header === null || decoded.reason === 'decode-limit';
      return {
        kind: 'rejected',
        reason: decoded.reason,
        detail: decoded.detail,
        ack:
          decoded.reason === 'framing' || decoded.reason === 'overflow'
            ? null
            : ack(mshLevel ? 'AR' : 'AE', decoded.header?.controlId ?? '', [{ code: decoded.hl7Error, severity: 'E', location: decoded.location, text: decoded.detail }], decoded.header, decoded.delimiters),
      };
    }
    if (decoded.kind === 'ack') return { kind: 'ack', ack: decoded.ack };
    const { header, delimiters } = decoded;
    const key = `${header.sendingApplication}\u0000${header.controlId}`;
    if (this.seen.has(key)) {
      // Answered AA again (the sender resends when our ACK was lost) but not processed twice.
      const detail = 'MSH-10: control id already received from this sender: message dropped';
      return { kind: 'duplicate', controlId: header.controlId, detail, ack: ack('AA', header.controlId, [{ code: 205, severity: 'I', location: { segment: 'MSH', sequence: 1, field: 10 }, text: detail }], header, delimiters) };
    }
    const patient = this.checkPatient(decoded.patientIds);
    if (patient !== null) {
      return { kind: 'rejected', reason: 'patient-mismatch', detail: patient, ack: ack('AE', header.controlId, [{ code: 204, severity: 'E', location: { segment: 'PID', sequence: 1, field: 3 }, text: patient }], header, delimiters) };
    }
    // HAZ-011: a message without an equipment id (empty OBX-18, no MDS row) where one was bound
    // is a changed device until confirmed, as is another id.
    const device = decoded.equipmentId;
    const verdict = this.equipment.check(device);
    if (verdict !== 'ok') {
      const configured = verdict === 'mismatch';
      const what = device === null ? 'no OBX-18 equipment id where one was bound' : configured ? 'OBX-18 equipment id differs from the configured equipmentId' : 'OBX-18 equipment id changed';
      const detail = configured ? what : `${what}: values withheld until the change is confirmed`;
      return {
        kind: 'rejected',
        reason: configured ? 'device-identity' : 'device-changed',
        detail,
        ack: ack('AE', header.controlId, [{ code: 204, severity: 'E', location: { segment: 'OBX', sequence: 1, field: 18 }, text: detail }], header, delimiters),
      };
    }
    this.remember(key);
    if (decoded.kind === 'alert') return alertOutcome(decoded, device, (errors) => ack('AA', header.controlId, errors, header, delimiters));
    const readings = decoded.obx.flatMap((o) => (o.ok ? [o.reading] : []));
    const obxRejections = decoded.obx.flatMap((o) => (o.ok ? [] : [o]));
    const warnings: AckError[] = obxRejections.map((r) => ({
      code: OBX_ERROR[r.reason],
      severity: 'W',
      location: { segment: 'OBX', sequence: r.obxSequence, field: r.field },
      text: r.detail,
    }));
    return {
      kind: 'accepted',
      header,
      readings,
      obxRejections,
      descriptors: decoded.descriptors,
      equipmentId: device,
      ack: ack('AA', header.controlId, warnings, header, delimiters),
      warnings: decoded.warnings,
      profile: decoded.profile,
    };
  }

  private checkPatient(ids: PatientId[] | null): string | null {
    const expected = this.settings.patientId;
    if (expected === null) return null;
    if (ids === null || ids.every((p) => p.id === '')) return 'PID-3: no patient identifier while the bed has a patient id';
    const authority = this.settings.patientIdAuthority;
    const match = ids.some((p) => p.id === expected && (authority === null || p.authority === authority));
    return match ? null : "PID-3: patient identifier is not the bed's patient";
  }

  private remember(key: string): void {
    const limit = this.settings.rememberControlIds ?? 1024;
    this.seen.add(key);
    this.seenOrder.push(key);
    while (this.seenOrder.length > limit) {
      const old = this.seenOrder.shift();
      if (old !== undefined) this.seen.delete(old);
    }
  }
}

/** An accepted ORU^R40: its alerts, and the AA whose ERR warnings are the alerts' deviations and what the relay adds. */
function alertOutcome(decoded: Extract<Pcd01Decoded, { kind: 'alert' }>, equipmentId: string | null, ackAa: (errors: readonly AckError[]) => string): ReceiveOutcome {
  const deviations: AckError[] = decoded.alerts.flatMap((a) => a.warnings.map((w) => ({ code: w.what === 'obr7' ? 102 : 103, severity: 'W' as const, location: w.location, text: w.detail })));
  return { kind: 'alert', header: decoded.header, alerts: decoded.alerts, equipmentId, warnings: decoded.warnings, ack: (extra) => ackAa([...deviations, ...extra]) };
}
