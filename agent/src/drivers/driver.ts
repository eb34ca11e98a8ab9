/**
 * What every device driver gives the rest of the agent. A driver owns one port, its
 * link state and its timing; it emits decoded observations (not yet validated),
 * rejected frames with their reason, and link-state changes.
 */
import type { EventEmitter } from 'node:events';
import type { Observation } from '../model/observation';
import type { DriverConditionKey } from '../safety/conditions';

export type LinkState = 'connecting' | 'negotiating' | 'streaming' | 'stale' | 'lost';

export interface FrameRejection {
  interfaceId: string;
  /** Stable cause, counted as `frames-rejected.<reason>`. */
  reason: string;
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
 */
export interface DriverCondition {
  interfaceId: string;
  /** The alarm's condition, a key of the catalogue (safety/conditions.ts), e.g. `low-battery`. */
  condition: DriverConditionKey;
  active: boolean;
  priority: 'low' | 'medium' | 'high';
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

export interface DeviceDriver extends EventEmitter<DriverEvents> {
  readonly interfaceId: string;
  readonly driverName: string;
  /** Opens the port and keeps it open (reopening after a close) until stop(). */
  start(): void;
  stop(): Promise<void>;
  /** Checks the quiet time against the monotonic clock; called by the agent's tick. */
  tick(): void;
  snapshot(): InterfaceSnapshot;
  /**
   * The device identity bound to the bed by learning it (serial number), for keeping across
   * a restart (drivers/bound-identities.ts); absent for drivers without one.
   */
  learnedIdentity?(): string | null;
  /** Binds an identity an earlier run learned; before start(). */
  restoreIdentity?(identity: string): boolean;
}
