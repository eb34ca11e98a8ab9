/**
 * What the station's accepted commands leave, kept across a restart (commands-in/persistence.ts):
 * the record's format and its refusal of what is not one, and what comes back on the same boot
 * and after a reboot. Fake clock, in-memory store; the LevelDB record is in deliv-outbox.test.ts.
 */
import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import { ManualObservations } from '../../agent/src/commands-in/manual';
import { COMMAND_STATE_RECORD, CommandStateKeeper, decodeCommandState, encodeCommandState } from '../../agent/src/commands-in/persistence';
import type { CommandState } from '../../agent/src/commands-in/persistence';
import { CommandStage } from '../../agent/src/commands-in/stage';
import { MemoryQueueStore } from '../../agent/src/io/durable-queue';
import { memoryLogger } from '../../agent/src/log';
import { encodeCommand } from '../../agent/src/proto/codec';
import { buildCommand } from '../../agent/src/station/commands';

const BED = { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const WINDOW = { maxAgeMs: 60_000, maxClockSkewMs: 5_000 };
const MAX_AGE = { consciousness: 600_000, onOxygen: 600_000, spo2Scale: 3_600_000 };

/** One run of the agent's command side on `clock`, over `store`, on boot `bootId`. */
function run(clock: FakeClock, store: MemoryQueueStore, bootId: string) {
  const manual = new ManualObservations(clock, MAX_AGE);
  const stage = new CommandStage(BED, WINDOW, clock, memoryLogger(), {
    apply: (c) => {
      const m = c.manualObservation;
      if (m) manual.enter({ ...(m.consciousness === 'CONSCIOUSNESS_VOICE' ? { consciousness: 'V' as const } : {}), ...(m.spo2Scale === 2 ? { spo2Scale: 2 as const } : {}) }, { enteredBy: c.user, commandId: c.commandId, stationId: c.stationId, enteredWallMs: c.issuedWallMs });
      return { ok: true };
    },
  });
  const keeper = new CommandStateKeeper(store, bootId, clock, stage, manual);
  return { manual, stage, keeper };
}

const observe = (clock: FakeClock, action: Parameters<typeof buildCommand>[0] = { kind: 'observe', consciousness: 'V' }) =>
  encodeCommand(buildCommand(action, BED, 'nurse-a', 'station-1', clock.wallMs()));

t.test('REQ-CMD-030 what an accepted command leaves is saved whole, and the record round-trips', async (t) => {
  const clock = new FakeClock();
  const store = new MemoryQueueStore();
  const { stage, keeper } = run(clock, store, 'boot-a');
  t.notOk(keeper.changed, 'nothing to save before any command');
  const first = observe(clock);
  t.equal(stage.handle(first).outcome, 'COMMAND_OUTCOME_ACCEPTED');
  t.ok(keeper.changed, 'an accepted command changes what is kept');
  t.equal(await keeper.save(), null, 'saved');
  t.notOk(keeper.changed);
  const decoded = decodeCommandState(store.states.get(COMMAND_STATE_RECORD)!);
  if (!decoded.ok) throw new Error(decoded.reason);
  t.equal(decoded.state.bootId, 'boot-a');
  t.equal(decoded.state.remembered.length, 1, 'the id is remembered');
  t.equal(decoded.state.manual.consciousness?.value, 'V');
  t.equal(decoded.state.manual.consciousness?.provenance.enteredBy, 'nurse-a');
  t.equal(decoded.state.manual.consciousness?.receiveMonoNs, clock.monoNs(), 'the monotonic receive time, exactly (a bigint through JSON)');
  t.same(decodeCommandState(encodeCommandState(decoded.state)), decoded, 'encode(decode(x)) is x');
});

t.test('REQ-CMD-032 a record that is not one is refused with the reason, never half taken', async (t) => {
  const clock = new FakeClock();
  const good: CommandState = { bootId: 'b', savedWallMs: 1, remembered: [['id-1', 5n]], manual: {} };
  const json = JSON.parse(new TextDecoder().decode(encodeCommandState(good))) as Record<string, unknown>;
  const bytes = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['not UTF-8', Uint8Array.from([0xff, 0xfe, 0x00]), /not JSON/],
    ['not JSON', new TextEncoder().encode('{"version":1,'), /not JSON/],
    ['another version', bytes({ ...json, version: 2 }), /^version:/],
    ['a negative monotonic time', bytes({ ...json, remembered: [['id-1', '-5']] }), /^remembered\.0\.1:/],
    ['an ACVPU value that is not one', bytes({ ...json, manual: { consciousness: { value: 'X', provenance: { enteredBy: 'a', commandId: 'c', stationId: 's', enteredWallMs: 1 }, receiveWallMs: 1, receiveMonoNs: '1' } } }), /^manual\.consciousness\.value:/],
    ['an unknown key', bytes({ ...json, extra: true }), /^record:|^:/],
  ];
  for (const [label, b, reason] of cases) {
    const d = decodeCommandState(b);
    t.equal(d.ok, false, `${label}: refused`);
    if (!d.ok) t.match(d.reason, reason, `${label}: ${d.reason}`);
  }
  // The keeper reports it and takes nothing.
  const { keeper, stage, manual } = run(clock, new MemoryQueueStore(), 'b');
  const report = keeper.restore(bytes({ ...json, version: 2 }));
  t.equal(report.outcome, 'unreadable');
  t.match(report.reason, /version/);
  t.same(stage.remembered(), [], 'no ids taken');
  t.same(manual.snapshot(), {}, 'no inputs taken');
});

t.test('REQ-CMD-031 same boot: inputs come back with their true age, and the ids still refuse a replay', async (t) => {
  const clock = new FakeClock();
  const store = new MemoryQueueStore();
  const before = run(clock, store, 'boot-a');
  const cmd = observe(clock);
  before.stage.handle(cmd);
  await before.keeper.save();
  clock.advanceMs(20_000); // the agent is killed and restarted 20 s later, same boot
  const after = run(clock, store, 'boot-a');
  const report = after.keeper.restore(store.states.get(COMMAND_STATE_RECORD));
  t.equal(report.outcome, 'same-boot');
  t.same(report.restored, ['consciousness']);
  t.equal(report.observations[0]?.valueCode, 'V', 'published again');
  t.equal(after.manual.inputs().consciousness?.ageMs, 20_000, 'its age counts from when it was entered, not from the restart');
  const replay = after.stage.handle(cmd);
  t.equal(replay.reason, 'replayed', 'the same command after the restart is a replay');
  t.notOk(after.keeper.changed, 'a rejected replay changes nothing to save');
  clock.advanceMs(580_001); // past its 10 min maximum age in all
  t.same(after.manual.expire(), ['consciousness'], 'and it expires on time');
});

t.test('REQ-CMD-031 same boot: an input already past its maximum age is not taken back', async (t) => {
  const clock = new FakeClock();
  const store = new MemoryQueueStore();
  const before = run(clock, store, 'boot-a');
  before.stage.handle(observe(clock, { kind: 'observe', consciousness: 'V', spo2Scale: 2 }));
  await before.keeper.save();
  clock.advanceMs(600_001);
  const after = run(clock, store, 'boot-a');
  const report = after.keeper.restore(store.states.get(COMMAND_STATE_RECORD));
  t.same(report.restored, ['spo2Scale'], 'the scale (1 h maximum age) comes back');
  t.same(report.notRestored, ['consciousness'], 'consciousness (10 min) does not');
  t.equal(after.manual.inputs().consciousness, undefined);
  t.equal(after.manual.spo2Scale(), 2);
});

t.test('REQ-CMD-031 another boot: no input comes back, and the ids refuse replays for a whole window', async (t) => {
  const clock = new FakeClock();
  const store = new MemoryQueueStore();
  const before = run(clock, store, 'boot-a');
  const cmd = observe(clock);
  before.stage.handle(cmd);
  await before.keeper.save();
  // A power cut: a new boot, a monotonic clock started again (lower than before).
  const rebooted = new FakeClock(clock.wallMs() + 30_000, 5_000_000_000n);
  const after = run(rebooted, store, 'boot-b');
  const report = after.keeper.restore(store.states.get(COMMAND_STATE_RECORD));
  t.equal(report.outcome, 'other-boot');
  t.same(report.restored, []);
  t.same(report.notRestored, ['consciousness'], 'the gateway cannot tell how long it was off: the nurse enters it again');
  t.same(after.manual.snapshot(), {});
  t.equal(report.rememberedIds, 1);
  t.equal(after.stage.handle(cmd).reason, 'replayed', 'still refused as a replay');
  rebooted.advanceMs(65_001);
  t.same(after.stage.remembered(), [], 'forgotten one whole window after the restart');
  t.equal(run(rebooted, store, '').keeper.restore(store.states.get(COMMAND_STATE_RECORD)).outcome, 'other-boot', 'an unknown boot id is never the same boot');
});

t.test('REQ-CMD-032 a failed save resolves with the reason and leaves the state to save again', async (t) => {
  const clock = new FakeClock();
  const store = new MemoryQueueStore();
  const { stage, keeper } = run(clock, store, 'boot-a');
  stage.handle(observe(clock));
  store.failWrites = true;
  t.match(await keeper.save(), /write failed/);
  t.ok(keeper.changed, 'still to be saved');
  store.failWrites = false;
  t.equal(await keeper.save(), null);
  t.notOk(keeper.changed);
  t.ok(store.states.has(COMMAND_STATE_RECORD));
});

t.test('REQ-CMD-030 saves run one after another and the last state wins', async (t) => {
  const clock = new FakeClock();
  const store = new MemoryQueueStore();
  const { stage, keeper } = run(clock, store, 'boot-a');
  const saves: Array<Promise<string | null>> = [];
  for (let i = 0; i < 5; i++) {
    stage.handle(observe(clock));
    saves.push(keeper.save());
    clock.advanceMs(10);
  }
  t.same(await Promise.all(saves), [null, null, null, null, null]);
  const d = decodeCommandState(store.states.get(COMMAND_STATE_RECORD)!);
  t.equal(d.ok && d.state.remembered.length, 5, 'the record holds all five ids');
});
