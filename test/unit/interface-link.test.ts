import t from 'tap';
import { EventEmitter } from 'node:events';
import { FakeClock } from '../../agent/src/clock';
import type { DriverEvents, LinkChange, FrameRejection } from '../../agent/src/drivers/driver';
import { DeviceIdentity } from '../../agent/src/drivers/device-identity';
import { InterfaceLink } from '../../agent/src/drivers/interface-link';
import { memoryLogger } from '../../agent/src/log';

function link(reopen: () => Promise<void> = async () => undefined) {
  const clock = new FakeClock();
  const emitter = new EventEmitter<DriverEvents>();
  const changes: LinkChange[] = [];
  const rejections: FrameRejection[] = [];
  emitter.on('link', (c) => changes.push(c));
  emitter.on('rejected', (r) => rejections.push(r));
  const l = new InterfaceLink({
    interfaceId: 'x',
    driverName: 'test',
    clock,
    logger: memoryLogger(),
    emitter,
    reopenDelayMs: 100,
    reopen,
    random: () => 0.5,
  });
  return { l, clock, changes, rejections };
}

t.test('REQ-SAFE-001 every driver shares one link: states, quiet time, counters and snapshot', async (t) => {
  const { l, clock, changes, rejections } = link();
  t.ok(l.start());
  t.notOk(l.start(), 'starting twice does nothing');
  l.to('connecting', 'opening');
  l.to('negotiating', 'port open');
  clock.advanceMs(1000);
  l.valid({ wallMs: clock.wallMs(), monoNs: clock.monoNs() }, 'valid frame');
  t.equal(l.state, 'streaming');
  clock.advanceMs(2999);
  t.notOk(l.staleIfQuiet(3000, 'frame'), 'not stale within the quiet time');
  clock.advanceMs(2);
  t.ok(l.staleIfQuiet(3000, 'frame'), 'stale past it');
  t.equal(changes.at(-1)?.reason, 'no valid frame for 3000 ms');
  l.reject('malformed', 'SPO2: not a number');
  t.same(rejections, [{ interfaceId: 'x', reason: 'malformed', detail: 'SPO2: not a number' }]);
  const snap = l.snapshot();
  t.equal(snap.state, 'stale');
  t.equal(snap.counters['frames-rejected.malformed'], 1);
  t.equal(snap.lastValidFrameWallMs, Date.UTC(2026, 0, 1, 10, 0, 1));
  l.stop();
});

t.test('REQ-SAFE-002 a lost link is reopened with backoff until stopped', async (t) => {
  let opens = 0;
  const { l } = link(async () => {
    opens += 1;
  });
  l.start();
  l.failed('open failed', 'port-open-failed');
  t.equal(l.state, 'lost');
  t.ok(l.reopenPending);
  await new Promise((r) => setTimeout(r, 150));
  t.equal(opens, 1, 'reopened after the backoff');
  t.equal(l.snapshot().counters['port-open-failed'], 1);
  l.failed('open failed again');
  l.stop();
  t.notOk(l.reopenPending, 'stop cancels the pending reopen');
});

t.test('HAZ-011 a device identity is learned, a change is held until confirmed, a configured one never changes', async (t) => {
  const learned = new DeviceIdentity(undefined);
  t.equal(learned.check('A'), 'ok');
  t.equal(learned.check('B'), 'changed');
  t.equal(learned.check('A'), 'ok', 'the bound device is still accepted');
  t.ok(learned.confirm());
  t.equal(learned.check('B'), 'ok');
  t.notOk(learned.confirm(), 'nothing pending');
  const configured = new DeviceIdentity('A');
  t.equal(configured.check('B'), 'mismatch');
  t.notOk(configured.confirm(), 'a configured identity changes only in the config');
});
