/**
 * HAZ-011: a device that no longer says who it is, on a link where an identity was bound
 * (learned or configured), may be another device: its values are held back with the
 * device-identity alarm until a person confirms, as for a different identity.
 */
import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import type { MasimoInterfaceConfig } from '../../agent/src/config';
import { DeviceIdentity } from '../../agent/src/drivers/device-identity';
import type { FrameRejection } from '../../agent/src/drivers/driver';
import { Pcd01Receiver } from '../../agent/src/drivers/hl7-pcd01/receiver';
import { MasimoAsciiDriver } from '../../agent/src/drivers/masimo-ascii/driver';
import { memoryLogger } from '../../agent/src/log';
import type { Observation } from '../../agent/src/model/observation';
import { monitorMessage, monitorObx, PATIENT_ID } from '../support/hl7-pcd01-fixtures';

t.test('HAZ-011 REQ-VAL-015 a missing identity where one was bound is a change until confirmed', async (t) => {
  const learned = new DeviceIdentity(undefined);
  t.equal(learned.check(null), 'ok', 'nothing bound yet: nothing to compare');
  t.equal(learned.bound, null, 'and nothing learned from a missing identity');
  t.equal(learned.check('1234567890'), 'ok', 'the first identity is learned');
  t.equal(learned.check(null), 'changed', 'then a device without one is a change');
  t.ok(learned.confirm(), 'a nurse can confirm it');
  t.equal(learned.check(null), 'ok', 'the confirmed anonymous device is accepted');
  t.equal(learned.check('1234567890'), 'changed', 'and a device that names itself again is a change again');
  const configured = new DeviceIdentity('1234567890');
  t.equal(configured.check(null), 'mismatch', 'configured: a device without an identity never matches');
  t.notOk(configured.confirm(), 'and only the config can change it');
});

const config = parseConfig({
  gateway: { gatewayId: 'gw-1', siteId: 's', wardId: 'w', bedId: 'b' },
  mqtt: { url: 'mqtt://127.0.0.1:1', insecure: true },
  interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/null-device' }],
});
const LINE = (sn: string | null) =>
  Buffer.from(`01/01/26 10:00:00${sn === null ? '' : ` SN=${sn}`} SPO2=097% BPM=072 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000000`);

for (const [what, serialNumber] of [['learned', undefined], ['configured', '1234567890']] as const) {
  t.test(`HAZ-011 REQ-VAL-015 Masimo (${what} serial): a replacement that sends no SN= or SN=---------- is held back`, async (t) => {
    const clock = new FakeClock();
    const itf = { ...(config.interfaces[0] as MasimoInterfaceConfig), ...(serialNumber ? { serialNumber } : {}) };
    const driver = new MasimoAsciiDriver(itf, clock, memoryLogger());
    const rejected: FrameRejection[] = [];
    const values: Observation[] = [];
    driver.on('rejected', (r) => rejected.push(r));
    driver.on('observations', (o) => values.push(...o));
    const feed = (line: Buffer) => driver.handleFrame(line, { wallMs: clock.wallMs(), monoNs: clock.monoNs() });
    feed(LINE('1234567890'));
    t.ok(values.length > 0, 'the bound oximeter is accepted');
    const before = values.length;
    for (const sn of [null, '----------']) {
      feed(LINE(sn));
      t.equal(values.length, before, `${sn === null ? 'no SN= field' : 'SN=----------'}: no value published`);
      t.equal(rejected.at(-1)?.reason, serialNumber ? 'device-identity' : 'device-changed', 'rejected as another device (a high-priority alarm downstream)');
      t.match(rejected.at(-1)?.detail, /no serial number/, 'the reason says the identity is missing');
    }
  });
}

t.test('HAZ-011 REQ-VAL-015 HL7: after monitor A is learned, a message with an empty OBX-18 or no MDS row is held back', async (t) => {
  const rx = new Pcd01Receiver({ patientId: PATIENT_ID, patientIdAuthority: null, equipmentId: null, defaultUtcOffsetMinutes: 0 });
  const now = Date.UTC(2026, 0, 1, 10, 0, 1);
  t.equal(rx.receive(monitorMessage({ controlId: '1' }), now).kind, 'accepted', 'monitor A learned');
  const emptyObx18 = monitorMessage({ controlId: '2', obx: monitorObx({ equipment: '' }) });
  const noMds = monitorMessage({ controlId: '3', obx: monitorObx().slice(1) });
  for (const [what, message] of [['empty OBX-18', emptyObx18], ['no MDS row', noMds]] as const) {
    const r = rx.receive(message, now);
    t.match(r, { kind: 'rejected', reason: 'device-changed' }, `${what}: held back`);
    if (r.kind === 'rejected') t.match(r.detail, /no OBX-18 equipment id/, `${what}: the reason says so`);
  }
});
