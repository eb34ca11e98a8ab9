/**
 * The gateway's status message: online or not and why, each interface's link state and
 * health record (counters, clock offset), and the gateway's own counters, gathered from
 * every stage that counts something. It is published on connect, on every link change and
 * with each heartbeat; its offline form is the retained last will (HAZ-012).
 */
import type { InterfaceSnapshot, LinkState } from '../drivers/driver';
import type { CounterMsg, GatewayStatusMsg } from '../proto/codec';
import type { InterfaceHealth } from '../validation/stage';

export const LINK_STATE_ENUM: Readonly<Record<LinkState, string>> = {
  connecting: 'LINK_STATE_CONNECTING',
  negotiating: 'LINK_STATE_NEGOTIATING',
  streaming: 'LINK_STATE_STREAMING',
  stale: 'LINK_STATE_STALE',
  lost: 'LINK_STATE_LOST',
};

export interface GatewayStatusSources {
  interfaces(): InterfaceSnapshot[];
  health(interfaceId: string): InterfaceHealth;
  /** Counter sets of the gateway's stages, merged in this order. */
  counters(): ReadonlyArray<Record<string, number>>;
  startedWallMs: number;
  heartbeatIntervalMs: number;
  softwareVersion: string;
}

export function counterList(counts: Record<string, number>): CounterMsg[] {
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
}

export function gatewayStatus(sources: GatewayStatusSources, online: boolean, reason: string): GatewayStatusMsg {
  return {
    online,
    reason,
    interfaces: sources.interfaces().map((s) => {
      const health = sources.health(s.interfaceId);
      return {
        interfaceId: s.interfaceId,
        driver: s.driver,
        state: LINK_STATE_ENUM[s.state],
        reason: s.reason,
        lastValidFrameWallMs: s.lastValidFrameWallMs,
        counters: counterList({ ...s.counters, ...health.counters }),
        clockOffsetMs: Math.round(health.clockOffsetMs ?? 0),
        clockTrusted: health.clockTrusted,
        clockMeasured: health.clockOffsetMs !== null,
      };
    }),
    counters: counterList(Object.assign({}, ...sources.counters())),
    startedWallMs: sources.startedWallMs,
    heartbeatIntervalMs: sources.heartbeatIntervalMs,
    softwareVersion: sources.softwareVersion,
  };
}
