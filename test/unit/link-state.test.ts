import t from 'tap';
import { backoffMs, isLegalTransition, LEGAL_TRANSITIONS, LinkStateMachine } from '../../agent/src/drivers/link-state';
import type { LinkState } from '../../agent/src/drivers/driver';

t.test('REQ-SAFE-001 link state changes only through the table of legal transitions, each with its reason', async (t) => {
  const changes: string[] = [];
  const illegal: string[] = [];
  const m = new LinkStateMachine(
    (from, to, reason) => changes.push(`${from}->${to}: ${reason}`),
    (from, to) => illegal.push(`${from}->${to}`),
  );
  t.ok(m.to('negotiating', 'port open'));
  t.ok(m.to('streaming', 'valid frame'));
  t.notOk(m.to('connecting', 'bug'), 'streaming -> connecting is not legal');
  t.equal(m.state, 'streaming', 'an illegal transition leaves the state as it was');
  t.ok(m.to('stale', 'quiet'));
  t.ok(m.to('connecting', 'escalation'));
  t.ok(m.to('lost', 'open failed'));
  t.notOk(m.to('streaming', 'bug'), 'lost -> streaming must go through connecting');
  t.same(changes, [
    'connecting->negotiating: port open',
    'negotiating->streaming: valid frame',
    'streaming->stale: quiet',
    'stale->connecting: escalation',
    'connecting->lost: open failed',
  ]);
  t.same(illegal, ['streaming->connecting', 'lost->streaming']);
  const states = Object.keys(LEGAL_TRANSITIONS) as LinkState[];
  for (const s of states) t.notOk(isLegalTransition(s, s), `${s} -> ${s} is not a transition (the reason is updated in place)`);
  t.ok(states.every((s) => LEGAL_TRANSITIONS[s].length > 0), 'no dead-end state: every state can recover');
});

t.test('REQ-SAFE-002 reopen delays back off exponentially with jitter and a cap, for as long as it takes', async (t) => {
  const mid = () => 0.5;
  t.equal(backoffMs(0, 1000, 30000, mid), 1000);
  t.equal(backoffMs(1, 1000, 30000, mid), 2000);
  t.equal(backoffMs(4, 1000, 30000, mid), 16000);
  t.equal(backoffMs(50, 1000, 30000, mid), 30000, 'capped');
  t.equal(backoffMs(2, 1000, 30000, () => 0), 3200, '-20 %');
  t.equal(backoffMs(2, 1000, 30000, () => 1), 4800, '+20 %');
});
