/**
 * What an accepted station command does to the agent's stages. Kept apart from the
 * checks (commands-in/stage.ts) so that the checks are tested without an agent and the
 * effects without a wire format.
 */
import type { DeviceDriver } from '../drivers/driver';
import type { Logger } from '../log';
import type { AlarmMsg, ObservationMsg } from '../proto/codec';
import type { AlarmBook } from '../safety/alarms';
import type { ConditionKey } from '../safety/conditions';
import type { ManualObservations } from './manual';
import type { Command } from './schema';
import { CONSCIOUSNESS_CODE } from './schema';
import type { CommandEffects, EffectResult } from './stage';

export interface AgentPorts {
  alarms: AlarmBook;
  drivers: readonly DeviceDriver[];
  manual: ManualObservations;
  publishObservation(msg: ObservationMsg): void;
  publishAlarm(msg: AlarmMsg): void;
  /** Computes and publishes the score now, so a manual input shows at once. */
  rescore(): void;
  clearAlarm(key: ConditionKey, source: string): void;
  logger: Logger;
}

export function agentEffects(ports: AgentPorts): CommandEffects {
  return {
    apply(c: Command): EffectResult {
      if (c.manualObservation) {
        const m = c.manualObservation;
        const values: { consciousness?: 'A' | 'C' | 'V' | 'P' | 'U'; onOxygen?: boolean; spo2Scale?: 1 | 2 } = {};
        if (m.consciousness !== 'CONSCIOUSNESS_UNSPECIFIED') values.consciousness = CONSCIOUSNESS_CODE[m.consciousness];
        if (m.oxygen !== 'OXYGEN_SUPPLY_UNSPECIFIED') values.onOxygen = m.oxygen === 'OXYGEN_SUPPLY_SUPPLEMENTAL';
        if (m.spo2Scale !== 0) values.spo2Scale = m.spo2Scale;
        const provenance = { enteredBy: c.user, commandId: c.commandId, stationId: c.stationId, enteredWallMs: c.issuedWallMs };
        for (const obs of ports.manual.enter(values, provenance)) ports.publishObservation(obs);
        ports.rescore();
        return { ok: true, detail: `entered: ${Object.keys(values).join(', ')}` };
      }
      if (c.alarmAcknowledge) {
        const msg = ports.alarms.acknowledge(c.alarmAcknowledge.alarmId, c.user);
        if (!msg) return { ok: false, reason: 'unknown-alarm', field: 'alarmAcknowledge.alarmId', detail: 'no active alarm with this id' };
        ports.logger.info('alarm-acknowledged', { alarmId: msg.alarmId, user: c.user });
        ports.publishAlarm(msg);
        return { ok: true };
      }
      if (c.alarmSilence) {
        const msg = ports.alarms.silence(c.alarmSilence.alarmId, c.alarmSilence.durationSec * 1000);
        if (!msg) return { ok: false, reason: 'unknown-alarm', field: 'alarmSilence.alarmId', detail: 'no active alarm with this id' };
        ports.logger.info('alarm-silenced', { alarmId: msg.alarmId, user: c.user, durationSec: c.alarmSilence.durationSec });
        ports.publishAlarm(msg);
        return { ok: true };
      }
      if (c.deviceConfirm) {
        const { interfaceId } = c.deviceConfirm;
        const driver = ports.drivers.find((d) => d.interfaceId === interfaceId);
        if (!driver) return { ok: false, reason: 'unknown-interface', field: 'deviceConfirm.interfaceId', detail: 'no interface with this id' };
        const confirmation = driver.confirmDeviceChange();
        if (confirmation !== 'confirmed') {
          // Without a device identity no change can be waiting either: the same reason on the wire.
          const detail = confirmation === 'no-identity' ? 'this interface has no device identity to confirm' : 'no device change is waiting for confirmation';
          return { ok: false, reason: 'no-pending-change', field: 'deviceConfirm.interfaceId', detail };
        }
        ports.logger.info('device-change-confirmed-by', { interfaceId, user: c.user });
        ports.clearAlarm('device-identity', interfaceId);
        return { ok: true };
      }
      return { ok: false, reason: 'invalid', field: 'action', detail: 'must carry exactly one action' };
    },
  };
}
