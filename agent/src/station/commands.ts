/**
 * Building station -> gateway commands (docs/interfaces/commands.md) from what a user
 * typed: pure, no I/O. The console station (commands/station.ts) sends them and waits
 * for the gateway's CommandResult.
 */
import { randomUUID } from 'node:crypto';
import type { CommandMsg } from '../proto/codec';
import type { BedAddress } from '../publish/topics';

export type StationAction =
  | { kind: 'ack'; alarmId: string }
  | { kind: 'silence'; alarmId: string; durationSec: number }
  | { kind: 'observe'; consciousness?: 'A' | 'C' | 'V' | 'P' | 'U'; onOxygen?: boolean; spo2Scale?: 1 | 2 }
  | { kind: 'confirm-device'; interfaceId: string; serialNumber: string };

const ACVPU_ENUM = {
  A: 'CONSCIOUSNESS_ALERT',
  C: 'CONSCIOUSNESS_CONFUSION',
  V: 'CONSCIOUSNESS_VOICE',
  P: 'CONSCIOUSNESS_PAIN',
  U: 'CONSCIOUSNESS_UNRESPONSIVE',
} as const;

/** "site/ward/bed" -> address; null when it is not three non-empty parts. */
export function parseBed(text: string): BedAddress | null {
  const parts = text.split('/');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(p))) return null;
  const [siteId, wardId, bedId] = parts as [string, string, string];
  return { siteId, wardId, bedId };
}

export function buildCommand(
  action: StationAction,
  target: BedAddress & { gatewayId: string },
  user: string,
  stationId: string,
  issuedWallMs: number,
  commandId: string = randomUUID(),
): CommandMsg {
  const head: CommandMsg = {
    schemaVersion: 1,
    commandId,
    issuedWallMs,
    gatewayId: target.gatewayId,
    siteId: target.siteId,
    wardId: target.wardId,
    bedId: target.bedId,
    user,
    stationId,
  };
  switch (action.kind) {
    case 'ack':
      return { ...head, alarmAcknowledge: { alarmId: action.alarmId } };
    case 'silence':
      return { ...head, alarmSilence: { alarmId: action.alarmId, durationSec: action.durationSec } };
    case 'confirm-device':
      return { ...head, deviceConfirm: { interfaceId: action.interfaceId, serialNumber: action.serialNumber } };
    case 'observe':
      return {
        ...head,
        manualObservation: {
          consciousness: action.consciousness ? ACVPU_ENUM[action.consciousness] : 'CONSCIOUSNESS_UNSPECIFIED',
          oxygen: action.onOxygen === undefined ? 'OXYGEN_SUPPLY_UNSPECIFIED' : action.onOxygen ? 'OXYGEN_SUPPLY_SUPPLEMENTAL' : 'OXYGEN_SUPPLY_AIR',
          spo2Scale: action.spo2Scale ?? 0,
        },
      };
  }
}
