/**
 * Learned device identities kept across a restart (drivers/bound-identities.ts,
 * drivers/device-identity.ts): the record's format and refusals, and what is bound again.
 * Real drivers (no port opened), an in-memory store.
 */
import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import type { MasimoInterfaceConfig } from '../../agent/src/config';
import { decodeIdentities, encodeIdentities, IDENTITY_STATE_RECORD, IdentityKeeper } from '../../agent/src/drivers/bound-identities';
import { DeviceIdentity } from '../../agent/src/drivers/device-identity';
import { MasimoAsciiDriver } from '../../agent/src/drivers/masimo-ascii/driver';
import { MemoryQueueStore } from '../../agent/src/io/durable-queue';
import { memoryLogger } from '../../agent/src/log';

const config = parseConfig({
  gateway: { gatewayId: 'gw', siteId: 's', wardId: 'w', bedId: 'b' },
  mqtt: { url: 'mqtt://127.0.0.1:1', insecure: true },
  interfaces: [
    { id: 'spo2', driver: 'masimo-ascii', path: '/dev/null-a' },
    { id: 'spo2-fixed', driver: 'masimo-ascii', path: '/dev/null-b', serialNumber: '0000011111' },
  ],
});
const drivers = () => {
  const clock = new FakeClock();
  return config.interfaces.map((i) => new MasimoAsciiDriver(i as MasimoInterfaceConfig, clock, memoryLogger()));
};
const LINE = (sn: string) => Buffer.from(`01/01/26 10:00:00 SN=${sn} SPO2=095% BPM=080 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000000`);

t.test('REQ-VAL-013 HAZ-011 DeviceIdentity: a learned identity can be read and bound again; a configured one is neither', async (t) => {
  const learned = new DeviceIdentity(undefined);
  t.equal(learned.learned(), null, 'nothing learned yet');
  t.equal(learned.check('A'), 'ok');
  t.equal(learned.learned(), 'A');
  const restarted = new DeviceIdentity(undefined);
  t.ok(restarted.restore('A'), 'bound again before any frame');
  t.equal(restarted.check('B'), 'changed', 'another device is a change, not a first sight');
  t.notOk(restarted.restore('C'), 'never replaces a bound identity');
  t.ok(restarted.confirm());
  t.equal(restarted.learned(), 'B');
  const configured = new DeviceIdentity('X');
  t.equal(configured.learned(), null, 'a configured identity is not kept: the config says it');
  t.notOk(configured.restore('Y'), 'and not replaced');
  t.equal(configured.check('Y'), 'mismatch');
});

t.test('REQ-VAL-013 HAZ-011 the learned identities are restored before any frame; configured ones and unknown interfaces are left alone', async (t) => {
  const store = new MemoryQueueStore();
  const first = drivers();
  const keeper = new IdentityKeeper(store, first);
  t.notOk(keeper.changed, 'nothing learned, nothing to save');
  first[0]!.handleFrame(LINE('0000056661'), { wallMs: 0, monoNs: 0n });
  first[1]!.handleFrame(LINE('0000011111'), { wallMs: 0, monoNs: 0n });
  t.ok(keeper.changed, 'learned: to save');
  t.equal(await keeper.save(), null);
  t.notOk(keeper.changed);
  t.same(decodeIdentities(store.states.get(IDENTITY_STATE_RECORD)!), { ok: true, identities: { spo2: '0000056661' } }, 'only the learned one');

  store.states.set(IDENTITY_STATE_RECORD, encodeIdentities({ spo2: '0000056661', 'spo2-fixed': '0000099999', gone: '123' }));
  const second = drivers();
  const report = new IdentityKeeper(store, second).restore(store.states.get(IDENTITY_STATE_RECORD));
  t.same(report, { outcome: 'restored', restored: { spo2: '0000056661' }, ignored: ['spo2-fixed', 'gone'] });
  const rejected: string[] = [];
  second[0]!.on('rejected', (r) => rejected.push(r.reason));
  second[0]!.handleFrame(LINE('0000077777'), { wallMs: 0, monoNs: 0n });
  t.same(rejected, ['device-changed'], 'a swapped oximeter is held back at its first frame');
});

t.test('REQ-VAL-013 HAZ-011 an identity record that is not one is refused with the reason and nothing is bound', async (t) => {
  const bytes = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['not JSON', new TextEncoder().encode('{'), /not JSON/],
    ['another version', bytes({ version: 9, identities: {} }), /^version:/],
    ['an empty identity', bytes({ version: 1, identities: { spo2: '' } }), /^identities\.spo2:/],
    ['an unknown key', bytes({ version: 1, identities: {}, more: 1 }), /./],
  ];
  for (const [label, b, reason] of cases) {
    const d = decodeIdentities(b);
    t.equal(d.ok, false, `${label}: refused`);
    if (!d.ok) t.match(d.reason, reason, `${label}: ${d.reason}`);
  }
  const ds = drivers();
  const report = new IdentityKeeper(new MemoryQueueStore(), ds).restore(bytes({ version: 9 }));
  t.equal(report.outcome, 'unreadable');
  t.equal(ds[0]!.learnedIdentity(), null, 'nothing bound: learned again from the first frame');
});

t.test('REQ-VAL-013 HAZ-011 a failed identity save is retried', async (t) => {
  const store = new MemoryQueueStore();
  const ds = drivers();
  const keeper = new IdentityKeeper(store, ds);
  ds[0]!.handleFrame(LINE('0000056661'), { wallMs: 0, monoNs: 0n });
  store.failWrites = true;
  t.match(await keeper.save(), /write failed/);
  t.ok(keeper.changed, 'still to save');
  store.failWrites = false;
  t.equal(await keeper.save(), null);
  t.notOk(keeper.changed);
});
