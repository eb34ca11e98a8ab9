/**
 * What every device driver gives the rest of the agent. A driver owns one port, its
 * link state and its timing; it emits decoded observations (not yet validated),
 * rejected frames with their reason, and link-state changes.
 */
import type { EventEmitter } from 'node:events';
import type { Observation } from '../model/observation';
import type { DriverConditionKey } from '../safety/conditions';
import type { Hl7RejectReason } from './hl7-pcd01/receiver';
import type { MasimoRejectReason } from './masimo-ascii/protocol';
import type { PatchRejectReason } from './vigil-patch/protocol';

export type LinkState = 'connecting' | 'negotiating' | 'streaming' | 'stale' | 'lost';

/** Found by the shared port code (io/serial.ts, io/mllp-tcp.ts): a frame without its delimiter. */
export type PortRejectReason = 'overflow' | 'truncated';
/**
 * HAZ-011, CTRL-108: data from another device (`device-changed`: a learned identity changed,
 * held back until a nurse confirms; `device-identity`: differs from the configured one) or
 * from another patient (`patient-mismatch`, HL7 PID-3). Alarmed with high priority.
 */
export type IdentityRejectReason = 'device-changed' | 'device-identity' | 'patient-mismatch';
/** HAZ-007: a frame the sequence check drops (a repeated or an older sequence number / control id). */
export type SequenceRejectReason = 'duplicate' | 'reordered';
/** Reasons a driver finds itself, whatever its protocol. */
export type DriverRejectReason = PortRejectReason | IdentityRejectReason | SequenceRejectReason;
/** Every reason a frame can be rejected for: the protocols' own and the drivers'. */
export type RejectReason = MasimoRejectReason | PatchRejectReason | Hl7RejectReason | DriverRejectReason;

const IDENTITY_REJECT_REASONS: ReadonlySet<string> = new Set<IdentityRejectReason>(['device-changed', 'device-identity', 'patient-mismatch']);

/** Whether a rejection means the data came from another device or patient (HAZ-011): a high-priority alarm. */
export function isIdentityRejection(reason: RejectReason): reason is IdentityRejectReason {
  return IDENTITY_REJECT_REASONS.has(reason);
}

export interface FrameRejection {
  interfaceId: string;
  /** Stable cause, counted as `frames-rejected.<reason>`. */
  reason: RejectReason;
  /** Names the field and the rule; never a measured value. */
  detail: string;
}

export interface LinkChange {
  interfaceId: string;
  from: LinkState;
  to: LinkState;
  reason: string;
}

/**
 * A technical condition a driver detects by itself (a low battery the device reports,
 * signal processing failing repeatedly): a technical alarm while `active`, cleared when not.
 * Its kind and priority are the catalogue's (safety/conditions.ts): a driver decides neither.
 */
export interface DriverCondition {
  interfaceId: string;
  /** The alarm's condition, a key of the catalogue (safety/conditions.ts), e.g. `low-battery`. */
  condition: DriverConditionKey;
  /** For a family of conditions (`value-withheld.<parameter>`): the member. */
  qualifier?: string;
  active: boolean;
  /** Names the condition and what to do; never a measured value. */
  detail: string;
}

export interface DriverEvents {
  observations: [observations: Observation[]];
  rejected: [rejection: FrameRejection];
  link: [change: LinkChange];
  condition: [condition: DriverCondition];
}

export interface InterfaceSnapshot {
  interfaceId: string;
  driver: string;
  state: LinkState;
  reason: string;
  lastValidFrameWallMs: number;
  counters: Record<string, number>;
}

/**
 * What confirming a changed device did (the station's deviceConfirm command, HAZ-011):
 * the pending device is now bound; nothing was waiting; or the driver has no device identity.
 */
export type DeviceChangeConfirmation = 'confirmed' | 'no-pending-change' | 'no-identity';

export interface DeviceDriver extends EventEmitter<DriverEvents> {
  readonly interfaceId: string;
  readonly driverName: string;
  /** Opens the port and keeps it open (reopening after a close) until stop(). */
  start(): void;
  stop(): Promise<void>;
  /** Checks the quiet time against the monotonic clock; called by the agent's tick. */
  tick(): void;
  snapshot(): InterfaceSnapshot;
  /** Accepts the changed device a nurse confirmed at the station: its data is used again. */
  confirmDeviceChange(): DeviceChangeConfirmation;
  /**
   * The device identity bound to the bed by learning it (serial number), for keeping across
   * a restart (drivers/bound-identities.ts); null when configured, not yet seen, or for a
   * driver without one.
   */
  learnedIdentity(): string | null;
  /** Binds an identity an earlier run learned, before start(); false when not taken (configured, or no identity). */
  restoreIdentity(identity: string): boolean;
}
