/**
 * What every driver answers on the DeviceDriver interface, as the station's commands reach
 * it (commands-in/effects.ts): confirming a changed device gives a typed result, including
 * for a driver without a device identity; and the identity rejections (HAZ-011) are told
 * apart from the others by one helper, not by comparing literals.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { agentEffects } from '../../agent/src/commands-in/effects';
import type { AgentPorts } from '../../agent/src/commands-in/effects';
import type { Command } from '../../agent/src/commands-in/schema';
import type { DeviceChangeConfirmation, DeviceDriver, DriverEvents, InterfaceSnapshot, RejectReason } from '../../agent/src/drivers/driver';
import { isIdentityRejection } from '../../agent/src/drivers/driver';
import { memoryLogger } from '../../agent/src/log';

/** A driver whose confirmation answers as told. */
class FakeDriver extends EventEmitter<DriverEvents> implements DeviceDriver {
  readonly driverName = 'fake';
  confirmations = 0;
  constructor(
    readonly interfaceId: string,
    private readonly answer: DeviceChangeConfirmation,
  ) {
    super();
  }
  start(): void {}
  async stop(): Promise<void> {}
  tick(): void {}
  snapshot(): InterfaceSnapshot {
    return { interfaceId: this.interfaceId, driver: this.driverName, state: 'streaming', reason: '', lastValidFrameWallMs: 0, counters: {} };
  }
  confirmDeviceChange(): DeviceChangeConfirmation {
    this.confirmations += 1;
    return this.answer;
  }
  learnedIdentity(): string | null {
    return null;
  }
  restoreIdentity(): boolean {
    return false;
  }
}

function confirmCommand(interfaceId: string): Command {
  return {
    schemaVersion: 1,
    commandId: '00000000-0000-4000-8000-000000000001',
    issuedWallMs: 1,
    gatewayId: 'gw',
    siteId: 's',
    wardId: 'w',
    bedId: 'b',
    user: 'nurse',
    stationId: 'st',
    deviceConfirm: { interfaceId, serialNumber: '' },
  };
}

t.test('REQ-CMD-014 HAZ-011 a device change is confirmed through the driver interface; every other answer is refused with its reason', async (t) => {
  const drivers = [new FakeDriver('changed', 'confirmed'), new FakeDriver('waiting', 'no-pending-change'), new FakeDriver('anonymous', 'no-identity')];
  const cleared: string[] = [];
  const ports = { drivers, logger: memoryLogger(), clearAlarm: (condition: string, source: string) => cleared.push(`${source}.${condition}`) } as unknown as AgentPorts;
  const effects = agentEffects(ports);
  t.same(effects.apply(confirmCommand('changed')), { ok: true });
  t.same(cleared, ['changed.device-identity'], 'the identity alarm is cleared');
  t.match(effects.apply(confirmCommand('waiting')), { ok: false, reason: 'no-pending-change', detail: 'no device change is waiting for confirmation' });
  t.match(effects.apply(confirmCommand('anonymous')), { ok: false, reason: 'no-pending-change', detail: 'this interface has no device identity to confirm' });
  t.same(cleared, ['changed.device-identity'], 'nothing cleared when nothing was confirmed');
  t.same(
    drivers.map((d) => d.confirmations),
    [1, 1, 1],
    'each driver asked once',
  );
});

t.test('HAZ-011 identity rejections (another device, another patient) are told apart from the others', async (t) => {
  const identity: RejectReason[] = ['device-changed', 'device-identity', 'patient-mismatch'];
  const others: RejectReason[] = ['framing', 'checksum', 'malformed', 'overflow', 'truncated', 'duplicate', 'reordered', 'unsupported-variant'];
  for (const r of identity) t.ok(isIdentityRejection(r), `${r} is an identity rejection`);
  for (const r of others) t.notOk(isIdentityRejection(r), `${r} is not`);
});
