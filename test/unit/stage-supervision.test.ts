/**
 * Supervision and durable state on their own, on a fake clock and without MQTT or systemd:
 * the progress gate and what a failing gate raises, event-loop stalls, the queue's
 * conditions, load shedding, and a state record that cannot be saved.
 */
import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import { ManualObservations } from '../../agent/src/commands-in/manual';
import { CommandStage } from '../../agent/src/commands-in/stage';
import { Counters } from '../../agent/src/counters';
import type { InterfaceSnapshot } from '../../agent/src/drivers/driver';
import { MemoryQueueStore } from '../../agent/src/io/durable-queue';
import type { Supervisor } from '../../agent/src/io/systemd';
import { memoryLogger } from '../../agent/src/log';
import type { AlarmMsg, CommandResultMsg } from '../../agent/src/proto/codec';
import { encodeCommand } from '../../agent/src/proto/codec';
import { buildCommand } from '../../agent/src/station/commands';
import type { UndeliveredAlarms } from '../../agent/src/publish/delivery';
import { LoadShedder } from '../../agent/src/publish/shedding';
import { AlarmStage } from '../../agent/src/safety/alarm-stage';
import { AlarmBook } from '../../agent/src/safety/alarms';
import { STALL_CLEAR_MS, Supervision } from '../../agent/src/safety/supervision';
import { DurableState } from '../../agent/src/state/durable-state';

const BED = { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const WINDOW = { maxAgeMs: 60_000, maxClockSkewMs: 5_000 };
const MAX_AGE = { consciousness: 600_000, onOxygen: 600_000, spo2Scale: 3_600_000 };

function supervised(clock: FakeClock) {
  const logger = memoryLogger();
  const counters = new Counters();
  const alarmLog: AlarmMsg[] = [];
  const alarms = new AlarmStage(new AlarmBook(clock), (m) => alarmLog.push(m), logger);
  const world = {
    snapshot: { interfaceId: 'spo2', driver: 'masimo-ascii', state: 'streaming', reason: '', lastValidFrameWallMs: 0, counters: {} } as InterfaceSnapshot,
    published: 0,
    connected: true as boolean | undefined,
    backlog: 0,
    queue: { evicting: null as string | null, diskFailing: null as string | null },
    undelivered: null as UndeliveredAlarms | null,
  };
  const pets: number[] = [];
  const supervisor: Supervisor = { watchdogIntervalMs: 10_000, ready: () => {}, watchdog: () => void pets.push(1), status: () => {}, stopping: () => {} };
  const supervision = new Supervision({
    clock, logger, counters, alarms, shedder: new LoadShedder(clock), supervisor,
    eventLoopStallMs: 1000,
    heartbeatIntervalMs: 5000,
    quietTimeMs: () => 3000,
    loopUtilization: () => 0.05, // a calm event loop: only the backlog drives shedding here
    supervised: {
      interfaces: () => [world.snapshot],
      published: () => world.published,
      connected: () => world.connected,
      backlog: () => world.backlog,
      queueConditions: () => world.queue,
      superviseAlarmDelivery: () => world.undelivered,
    },
  });
  const active = () => alarms.list().map((a) => `${a.alarmId}:${a.priority}`).sort();
  return { supervision, supervisor, world, pets, counters, active, alarms, logger, alarmLog };
}

t.test('REQ-SAFE-011 HAZ-012 a stage without progress withholds the watchdog and raises gateway-stalled (high) first', async (t) => {
  const clock = new FakeClock();
  const s = supervised(clock);
  s.supervision.tick();
  s.supervision.driverProgressed('spo2');
  s.world.published = 1;
  s.supervision.tick();
  s.supervision.watchdog(s.supervisor);
  t.equal(s.pets.length, 1, 'every stage progressed: petted');
  t.same(s.active(), []);
  clock.advanceMs(11_000); // the driver's deadline is max(10 s, 2 x quiet time)
  s.supervision.tick();
  s.supervision.watchdog(s.supervisor);
  t.equal(s.pets.length, 1, 'not petted while the driver stage is silent');
  t.same(s.active(), ['gateway.gateway-stalled:ALARM_PRIORITY_HIGH']);
  t.equal(s.counters.get('watchdog-withheld'), 1);
  s.supervision.driverProgressed('spo2');
  s.world.published = 2;
  s.supervision.tick();
  s.supervision.watchdog(s.supervisor);
  t.equal(s.pets.length, 2, 'petted again once it progresses');
  t.same(s.active(), [], 'and the alarm clears');
});

t.test('REQ-SAFE-011 a driver that is not streaming declares why, which counts as progress', async (t) => {
  const clock = new FakeClock();
  const s = supervised(clock);
  s.world.snapshot = { ...s.world.snapshot, state: 'lost', reason: 'port closed' };
  s.world.connected = false; // the publisher declares the broker unreachable
  clock.advanceMs(11_000);
  s.supervision.tick();
  const verdict = s.supervision.gate.check();
  t.ok(verdict.ok, 'a declared reason keeps the gate open');
  t.equal(s.supervision.gate.reasons()['driver:spo2'], 'link-lost: port closed');
});

t.test('REQ-SAFE-034 an event-loop stall raises event-loop-stall (low), cleared a minute after the last', async (t) => {
  const clock = new FakeClock();
  const s = supervised(clock);
  s.supervision.sampleLoop();
  clock.advanceMs(2_500);
  s.supervision.sampleLoop();
  t.same(s.active(), ['gateway.event-loop-stall:ALARM_PRIORITY_LOW']);
  t.equal(s.counters.get('event-loop-stalls'), 1);
  clock.advanceMs(STALL_CLEAR_MS + 1);
  s.supervision.tick();
  t.same(s.active(), []);
});

t.test('REQ-DELIV-029 HAZ-013 the queue evicting and a failing disk are alarmed while they last', async (t) => {
  const clock = new FakeClock();
  const s = supervised(clock);
  s.world.queue = { evicting: 'queue full: oldest observations dropped', diskFailing: 'ENOSPC' };
  s.supervision.tick();
  t.same(s.active(), ['gateway.queue-disk-failing:ALARM_PRIORITY_MEDIUM', 'gateway.queue-evicting:ALARM_PRIORITY_LOW']);
  s.world.queue = { evicting: null, diskFailing: null };
  s.supervision.tick();
  t.same(s.active(), []);
});

t.test('REQ-DELIV-051 HAZ-013 an alarm change past its delivery bound raises gateway.alarm-undelivered (high), logged at error on each change of its text, cleared when none is', async (t) => {
  const clock = new FakeClock();
  const s = supervised(clock);
  const errors = () => s.logger.records.filter((r) => r.event === 'alarm-undelivered' && r.level === 'error');
  s.supervision.tick();
  t.same(s.active(), [], 'every alarm change within its bound');
  const one = '1 alarm not confirmed by station station within 15 s of being accepted: not known to have reached a station';
  s.world.undelivered = { alarms: 1, awaitedStations: ['station'], detail: one };
  s.supervision.tick();
  s.supervision.tick();
  t.same(s.active(), ['gateway.alarm-undelivered:ALARM_PRIORITY_HIGH'], 'raised at the catalogue priority');
  t.equal(s.alarmLog.filter((a) => a.alarmId === 'gateway.alarm-undelivered').length, 1, 'published once while its text stays the same');
  t.equal(s.alarmLog[0]?.detail, one);
  t.equal(errors().length, 1, 'logged at error once (the journal has it even when nothing reaches the broker)');
  t.same(errors()[0]?.awaitedStations, ['station']);
  s.world.undelivered = { alarms: 2, awaitedStations: ['station'], detail: one.replace('1 alarm', '2 alarms') };
  s.supervision.tick();
  t.equal(errors().length, 2, 'a new text is logged again');
  t.equal(s.alarmLog.at(-1)?.detail, s.world.undelivered.detail, 'and published');
  s.world.undelivered = { alarms: 0, awaitedStations: [], detail: null };
  s.supervision.tick();
  t.same(s.active(), [], 'cleared when none is past the bound');
  t.equal(s.alarmLog.at(-1)?.state, 'ALARM_STATE_CLEARED');
  s.world.undelivered = null;
  s.supervision.tick();
  t.same(s.active(), [], 'no delivery (no sink yet): nothing raised');
});

t.test('REQ-PERF-001 a backlog growing while connected raises load-shedding (low) while it sheds', async (t) => {
  const clock = new FakeClock();
  const s = supervised(clock);
  for (let i = 0; i <= 40; i++) {
    s.world.backlog = i * 200;
    s.supervision.tick();
    clock.advanceMs(250);
  }
  t.same(s.active().filter((a) => a.includes('load-shedding')), ['gateway.load-shedding:ALARM_PRIORITY_LOW']);
  for (let i = 0; i <= 80; i++) {
    s.world.backlog = 0;
    s.supervision.tick();
    clock.advanceMs(250);
  }
  t.same(s.active().filter((a) => a.includes('load-shedding')), [], 'cleared once the backlog drained');
});

t.test('REQ-CMD-032 a state record that cannot be saved is said in the answer, alarmed and retried until saved', async (t) => {
  const clock = new FakeClock();
  const logger = memoryLogger();
  const counters = new Counters();
  const alarms = new AlarmStage(new AlarmBook(clock), () => {}, logger);
  const store = new MemoryQueueStore();
  let failing = true;
  const save = store.saveState.bind(store);
  store.saveState = (name, value) => (failing ? Promise.reject(new Error('ENOSPC')) : save(name, value));
  const manual = new ManualObservations(clock, MAX_AGE);
  const commands = new CommandStage(BED, WINDOW, clock, logger, {
    apply: (c) => {
      manual.enter({ consciousness: 'V' }, { enteredBy: c.user, commandId: c.commandId, stationId: c.stationId, enteredWallMs: c.issuedWallMs });
      return { ok: true };
    },
  });
  const durable = new DurableState({ clock, logger, counters, alarms, commands, manual, drivers: [], state: { store, bootId: 'boot', saved: new Map() } });
  t.equal(durable.restore(), null, 'nothing saved before');
  const answers: CommandResultMsg[] = [];
  const result = commands.handle(encodeCommand(buildCommand({ kind: 'observe', consciousness: 'V' }, BED, 'nurse-a', 'station-1', clock.wallMs())));
  t.equal(result.outcome, 'COMMAND_OUTCOME_ACCEPTED');
  durable.answer(result, (r) => answers.push(r));
  t.equal(answers.length, 0, 'not answered before the save ended');
  await new Promise((r) => setImmediate(r));
  t.equal(answers.length, 1, 'answered once the save failed');
  t.match(answers[0]?.detail ?? '', /not saved: lost on a restart/, 'the answer says it is not saved');
  t.equal(counters.get('state-save-failed.commands'), 1, 'counted');
  durable.tick();
  t.same(alarms.list().map((a) => `${a.alarmId}:${a.priority}`), ['gateway.state-not-saved:ALARM_PRIORITY_MEDIUM']);
  failing = false;
  await new Promise((r) => setImmediate(r)); // the retry started by that tick completes
  durable.tick();
  t.same(alarms.list(), [], 'saved on a retry: the alarm clears');
  t.ok(store.states.has('commands'), 'the record is on the store');
});
