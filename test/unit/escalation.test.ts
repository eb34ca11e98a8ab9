/**
 * The quiet-time escalation written once for every driver (agent/src/drivers/escalation.ts),
 * run on the shared link with each driver's own steps, on a fake clock: stale after the quiet
 * time, then the driver's steps in order (the patch: START again, then the port reopened; the
 * oximeter and the HL7 serial line: the port reopened), the reasons and counters the interface
 * status shows, and a new stale episode starting again from the first step. No port, no sleep.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { FakeClock } from '../../agent/src/clock';
import type { DriverEvents, LinkChange } from '../../agent/src/drivers/driver';
import type { EscalationPolicy } from '../../agent/src/drivers/escalation';
import { reopenReason } from '../../agent/src/drivers/escalation';
import { hl7Escalation } from '../../agent/src/drivers/hl7-pcd01/driver';
import { InterfaceLink } from '../../agent/src/drivers/interface-link';
import { masimoEscalation } from '../../agent/src/drivers/masimo-ascii/driver';
import { vigilPatchEscalation } from '../../agent/src/drivers/vigil-patch/driver';
import { memoryLogger } from '../../agent/src/log';

/** A link on a fake clock whose driver holds one open port (or none: `portOpen` false). */
function supervised(policy: EscalationPolicy, portOpen = true, detachGivesNone = false) {
  const clock = new FakeClock();
  const emitter = new EventEmitter<DriverEvents>();
  const changes: LinkChange[] = [];
  emitter.on('link', (c) => changes.push(c));
  const nudges: string[] = [];
  const port = { open: portOpen, closes: 0 };
  let reopens = 0;
  const link = new InterfaceLink({
    interfaceId: 'x',
    driverName: 'test',
    clock,
    logger: memoryLogger(),
    emitter,
    reopenDelayMs: 100,
    reopen: async () => {
      reopens += 1;
    },
    escalation: {
      policy,
      hooks: {
        hasOpenPort: () => port.open,
        detachPort: () => {
          if (!port.open || detachGivesNone) return null;
          port.open = false;
          return {
            close: async () => {
              port.closes += 1;
            },
          };
        },
        nudge: (reason) => nudges.push(reason),
      },
    },
    random: () => 0.5,
  });
  link.start();
  link.to('negotiating', 'port open');
  const stamp = () => ({ wallMs: clock.wallMs(), monoNs: clock.monoNs() });
  return { link, clock, changes, nudges, port, stamp, reopens: () => reopens };
}

t.test('REQ-PATCH-030 HAZ-003 escalation on a fake clock: stale with START again at the quiet time, the port reopened past twice the quiet time', async (t) => {
  const s = supervised(vigilPatchEscalation(1000));
  t.teardown(() => s.link.stop());
  s.link.valid(s.stamp(), 'valid waveform frame received');
  s.clock.advanceMs(1000);
  t.equal(s.link.tick(), null, 'nothing at exactly the quiet time');
  t.equal(s.link.state, 'streaming');
  s.clock.advanceMs(1);
  t.match(s.link.tick(), { action: 'nudge' }, 'past the quiet time: START again in the same tick');
  t.equal(s.link.state, 'stale');
  t.equal(s.changes.at(-1)?.reason, 'no valid waveform frame for 1000 ms');
  t.same(s.nudges, ['escalation: START sent again']);
  t.equal(s.link.snapshot().counters['escalation-restart'], 1, 'counted as escalation-restart');
  s.clock.advanceMs(500);
  t.equal(s.link.tick(), null, 'START is sent once per stale episode');
  s.clock.advanceMs(499);
  t.equal(s.link.tick(), null, 'no reopen at exactly twice the quiet time');
  s.clock.advanceMs(1);
  t.match(s.link.tick(), { action: 'reopen' }, 'past twice the quiet time: the port is reopened');
  t.equal(s.link.state, 'connecting');
  t.equal(s.changes.at(-1)?.reason, 'escalation: no valid waveform frame for 2001 ms, reopening the port');
  t.equal(s.link.snapshot().counters['escalation-reopen'], 1, 'counted as escalation-reopen');
  t.equal(s.nudges.length, 1, 'no second START');
  await Promise.resolve();
  t.equal(s.port.closes, 1, 'the port was closed');
  t.ok(s.link.reopenPending, 'and its reopening scheduled with backoff');
});

t.test('REQ-PATCH-030 HAZ-003 a new stale episode starts the escalation again from its first step', async (t) => {
  const s = supervised(vigilPatchEscalation(1000));
  t.teardown(() => s.link.stop());
  s.clock.advanceMs(1001);
  t.match(s.link.tick(), { action: 'nudge' });
  s.link.valid(s.stamp(), 'valid waveform frame received');
  t.equal(s.link.state, 'streaming', 'data came back after START');
  s.clock.advanceMs(1001);
  t.match(s.link.tick(), { action: 'nudge' }, 'the next silence: START again first, not the reopen');
  t.equal(s.link.snapshot().counters['escalation-restart'], 2);
  t.equal(s.link.snapshot().counters['escalation-reopen'], undefined, 'no reopen yet');
});

t.test('REQ-SAFE-031 HAZ-003 a silent oximeter on a fake clock: stale reported alone, then the port reopened past twice the quiet time', async (t) => {
  const s = supervised(masimoEscalation(1000));
  t.teardown(() => s.link.stop());
  s.link.valid(s.stamp(), 'valid frame received');
  // A late tick (the event loop was busy): already past twice the quiet time.
  s.clock.advanceMs(2500);
  t.equal(s.link.tick(), null, 'the tick that makes the link stale takes no step');
  t.equal(s.link.state, 'stale');
  t.equal(s.changes.at(-1)?.reason, 'no valid frame for 1000 ms');
  t.same(s.nudges, [], 'no start command to re-send on this device');
  t.match(s.link.tick(), { action: 'reopen' }, 'the next tick reopens the port');
  t.equal(s.changes.at(-1)?.reason, reopenReason('frame', 2500));
  t.equal(s.changes.at(-1)?.reason, 'escalation: no valid frame for 2500 ms, reopening the port');
  t.equal(s.link.snapshot().counters['escalation-reopen'], 1);
  t.equal(s.link.snapshot().counters['escalation-restart'], undefined);
  await Promise.resolve();
  t.equal(s.port.closes, 1);
  t.equal(s.reopens(), 0, 'reopened only after the backoff');
});

t.test('REQ-SAFE-002 HAZ-003 while a reopen is pending (backoff) the escalation takes no step', async (t) => {
  const s = supervised(masimoEscalation(1000));
  t.teardown(() => s.link.stop());
  s.link.failed('port closed');
  s.link.to('connecting', 'opening');
  s.link.to('negotiating', 'port open');
  s.port.open = true;
  t.ok(s.link.reopenPending, 'a reopen is already scheduled');
  s.clock.advanceMs(3000);
  t.equal(s.link.tick(), null);
  t.equal(s.link.state, 'stale');
  t.equal(s.link.tick(), null, 'no escalation while a reopen is pending');
  t.equal(s.port.closes, 0);
});

t.test('REQ-HL7-031 HAZ-003 an HL7 monitor falls silent: stale; a serial port is reopened, a TCP listener is left to its monitor', async (t) => {
  const serial = supervised(hl7Escalation(10_000));
  t.teardown(() => serial.link.stop());
  serial.clock.advanceMs(10_001);
  serial.link.tick();
  t.equal(serial.changes.at(-1)?.reason, 'no valid message for 10000 ms');
  serial.clock.advanceMs(10_000);
  t.match(serial.link.tick(), { action: 'reopen' });
  t.equal(serial.changes.at(-1)?.reason, 'escalation: no valid message for 20001 ms, reopening the port');

  const tcp = supervised(hl7Escalation(10_000), false);
  t.teardown(() => tcp.link.stop());
  tcp.clock.advanceMs(10_001);
  tcp.link.tick();
  tcp.clock.advanceMs(60_000);
  t.equal(tcp.link.tick(), null, 'no open port: no step');
  t.equal(tcp.link.state, 'stale', 'stale until the monitor reconnects');
  t.equal(tcp.link.snapshot().counters['escalation-reopen'], undefined);
});

t.test('REQ-SAFE-031 HAZ-003 a port that is gone when the reopen step comes (closed meanwhile): no step taken, counted or retried', async (t) => {
  const s = supervised(masimoEscalation(1000), true, true);
  t.teardown(() => s.link.stop());
  s.clock.advanceMs(1001);
  t.equal(s.link.tick(), null, 'stale first');
  s.clock.advanceMs(1000);
  t.equal(s.link.tick(), null, 'the port reported open but none to detach: no step');
  t.equal(s.link.state, 'stale', 'still stale: the values stay withdrawn');
  t.equal(s.link.snapshot().counters['escalation-reopen'], undefined, 'no reopen counted');
  t.equal(s.reopens(), 0, 'no reopen scheduled');
  s.clock.advanceMs(1000);
  t.equal(s.link.tick(), null, 'the step is tried again at the next tick, not taken');
});

t.test('REQ-SAFE-031 the drivers give their escalation as data: quiet time, then their steps', async (t) => {
  t.same(masimoEscalation(5000), { quietTimeMs: 5000, noun: 'frame', firstStepWithStale: false, steps: [{ afterQuietMs: 10_000, action: 'reopen' }] });
  t.same(hl7Escalation(5000), { quietTimeMs: 5000, noun: 'message', firstStepWithStale: false, steps: [{ afterQuietMs: 10_000, action: 'reopen' }] });
  t.same(vigilPatchEscalation(1000), {
    quietTimeMs: 1000,
    noun: 'waveform frame',
    firstStepWithStale: true,
    steps: [
      { afterQuietMs: 1000, action: 'nudge', counter: 'escalation-restart', reason: 'escalation: START sent again' },
      { afterQuietMs: 2000, action: 'reopen' },
    ],
  });
});
