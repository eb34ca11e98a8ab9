/**
 * One device second of the sensor patch as observations (agent/src/drivers/vigil-patch/observations.ts),
 * from batch outcomes built here: what the last STATUS frame said (nothing yet, a sensor fault,
 * a flag bit no version of the interface defines) reaches every observation of the second.
 */
import t from 'tap';
import type { LastStatus, SecondContext } from '../../agent/src/drivers/vigil-patch/observations';
import { secondObservations } from '../../agent/src/drivers/vigil-patch/observations';
import type { SecondBatches } from '../../agent/src/drivers/vigil-patch/signal-batches';

const NOTHING: SecondBatches = { ecg: { kind: 'empty' }, ppg: { kind: 'empty' }, accel: { kind: 'empty' }, ecgResp: { kind: 'empty' }, gap: { ecg: false, ppg: false, accel: false } };

function context(status: LastStatus | null): SecondContext {
  return {
    stamp: { wallMs: Date.UTC(2026, 0, 1, 10), monoNs: 5_000_000_000n },
    tickMs: 4000,
    deviceTimeMs: Date.UTC(2026, 0, 1, 10) - 20,
    source: { driver: 'vigil-patch', interfaceId: 'patch', serialNumber: 'P1', port: '/dev/ttyUSB0' },
    status,
  };
}
const status = (over: Partial<LastStatus> = {}): LastStatus => ({ conditions: new Set(), unknownFlagBits: 0, skinTempCelsius: 33.456, tickMs: 4000, ...over });

t.test('REQ-PATCH-021 HAZ-009 before any STATUS frame: the six parameters, unavailable with their reasons, and no device flag', async (t) => {
  const list = secondObservations(context(null), NOTHING, null);
  t.same(list.map((o) => o.parameter), ['heartRate', 'pulseRate', 'spo2', 'perfusionIndex', 'respRate', 'skinTemperature']);
  t.same(list.map((o) => o.unavailableReason), ['no-signal', 'no-signal', 'no-signal', 'no-signal', 'signal-processing-failed', 'not-measured']);
  t.ok(list.every((o) => o.value === null && o.status === 'cannot-obtain' && o.quality.length === 0), 'unavailable, unflagged');
  t.ok(list.every((o) => o.deviceTimeText === 'tick=4000' && o.source.serialNumber === 'P1'), 'the tick and the source on each');
});

t.test('REQ-PATCH-021 HAZ-009 a sensor fault and an unknown status bit flag every observation of the second', async (t) => {
  const fault = secondObservations(context(status({ conditions: new Set(['sensor-fault']) })), NOTHING, null);
  t.ok(fault.every((o) => o.quality.includes('device-fault')), 'sensor-fault: device-fault on each');
  t.ok(fault.every((o) => !o.quality.includes('unknown-device-condition')));
  const skin = fault.find((o) => o.parameter === 'skinTemperature');
  t.match(skin, { value: 33.46, status: 'final', unavailableReason: '' }, 'a value carried with the flag: the flag keeps it out of the score downstream');
  const unknown = secondObservations(context(status({ unknownFlagBits: 0x80 })), NOTHING, null);
  t.ok(unknown.every((o) => o.quality.includes('unknown-device-condition') && !o.quality.includes('device-fault')), 'an unknown bit: unknown-device-condition on each');
  const both = secondObservations(context(status({ conditions: new Set(['sensor-fault']), unknownFlagBits: 1 })), NOTHING, null);
  t.same(both[0]?.quality, ['device-fault', 'unknown-device-condition'], 'both, sorted, once each');
});
