/**
 * Station commands through the whole agent (startAgent) on a fake clock: the real
 * decoder, validation, native NEWS2 score and alarm book, a fake MQTT sink. Commands
 * are handed to the agent as the MQTT boundary would (RunningAgent.handleCommand).
 */
import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import type { MasimoInterfaceConfig } from '../../agent/src/config';
import { MasimoAsciiDriver } from '../../agent/src/drivers/masimo-ascii/driver';
import type { PublishOptions } from '../../agent/src/io/mqtt';
import { COMMAND_STATE_RECORD } from '../../agent/src/commands-in/persistence';
import { IDENTITY_STATE_RECORD } from '../../agent/src/drivers/bound-identities';
import { MemoryQueueStore } from '../../agent/src/io/durable-queue';
import { memoryLogger } from '../../agent/src/log';
import { startAgent } from '../../agent/src/main';
import { scoreNews2 } from '../../agent/src/native/addon';
import type { CommandMsg, EnvelopeMsg } from '../../agent/src/proto/codec';
import { decodeEnvelope, encodeCommand } from '../../agent/src/proto/codec';
import type { StationAction } from '../../agent/src/station/commands';
import { buildCommand } from '../../agent/src/station/commands';

const BED = { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const config = parseConfig({
  gateway: BED,
  mqtt: { url: 'mqtt://127.0.0.1:1', insecure: true, heartbeatIntervalMs: 60000 },
  interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/null-device', quietTimeMs: 3000 }],
  commands: { manualMaxAgeMs: { consciousness: 600_000, onOxygen: 600_000, spo2Scale: 600_000 } },
});

const LINE = (spo2: string, bpm: string, sn = '0000056661') =>
  Buffer.from(`01/01/26 10:00:00 SN=${sn} SPO2=${spo2}% BPM=${bpm} PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000000`);

/** A running agent; with `store`, its command state is kept there (as `vigil run` keeps it in the queue's LevelDB). */
function setup(o: { clock?: FakeClock; store?: MemoryQueueStore; bootId?: string } = {}) {
  const clock = o.clock ?? new FakeClock();
  const logger = memoryLogger();
  const driver = new MasimoAsciiDriver(config.interfaces[0] as MasimoInterfaceConfig, clock, logger);
  const sent: Array<{ topic: string; env: EnvelopeMsg; options: PublishOptions }> = [];
  const agent = startAgent({
    config,
    clock,
    logger,
    scorer: scoreNews2,
    drivers: [driver],
    tickMs: 3_600_000,
    ...(o.store ? { durableState: { store: o.store, bootId: o.bootId ?? 'boot-a', saved: new Map(o.store.states) } } : {}),
    connect: () => ({
      publish: async (topic, payload, options) => {
        sent.push({ topic, env: decodeEnvelope(payload), options });
      },
      end: async () => undefined,
    }),
  });
  const feed = (line: Buffer) => driver.handleFrame(line, { wallMs: clock.wallMs(), monoNs: clock.monoNs() });
  const command = (action: StationAction, over: Partial<CommandMsg> = {}) =>
    agent.handleCommand(encodeCommand({ ...buildCommand(action, BED, 'nurse-a', 'station-1', clock.wallMs()), ...over }));
  const lastScore = () => [...sent].reverse().find((s) => s.env.score)?.env.score;
  const counters = () => Object.fromEntries(agent.statusMessage(true, 't').counters.map((c) => [c.name, Number(c.value)]));
  return { clock, logger, driver, sent, agent, feed, command, lastScore, counters };
}

t.test('REQ-CMD-010 manual consciousness and oxygen become NEWS2 inputs with their provenance, at once', async (t) => {
  const { agent, feed, command, lastScore, sent } = setup();
  t.teardown(() => agent.stop('test'));
  feed(LINE('095', '080'));
  t.same(lastScore()?.missing, ['respRatePerMin', 'onOxygen', 'systolicMmHg', 'consciousness', 'tempCelsius']);
  const r = command({ kind: 'observe', consciousness: 'V', onOxygen: true });
  t.equal(r.outcome, 'COMMAND_OUTCOME_ACCEPTED');
  const score = lastScore()!;
  t.same(score.missing, ['respRatePerMin', 'systolicMmHg', 'tempCelsius'], 'scored at once, no longer missing');
  t.equal(score.points.find((p) => p.parameter === 'consciousness')?.points, 3, 'V scores 3');
  t.equal(score.points.find((p) => p.parameter === 'onOxygen')?.points, 2, 'oxygen scores 2');
  t.equal(score.riskLevel, 'RISK_LEVEL_MEDIUM', 'a 3 in one parameter: at least medium (RCP NEWS2 chart 2)');
  const c = sent.find((s) => s.topic.endsWith('/obs/consciousness'))!;
  t.equal(c.env.observation?.valueCode, 'V');
  t.equal(c.env.observation?.manual?.enteredBy, 'nurse-a');
  t.equal(c.env.observation?.manual?.stationId, 'station-1');
  t.equal(c.env.observation?.source.driver, 'manual');
  t.equal(c.options.expirySec, 600, 'expiry = the manual maximum age');
  t.equal(sent.find((s) => s.topic.endsWith('/obs/onOxygen'))?.env.observation?.valueCode, 'supplemental');
  const result = sent.find((s) => s.env.commandResult)!;
  t.equal(result.topic, 'vigil/v1/site1/ward7/bed12/cmd-result', 'the answer on cmd-result');
  t.equal(result.env.commandResult?.commandId, r.commandId);
});

t.test('REQ-CMD-011 a manual input past its maximum age leaves the score and is withdrawn', async (t) => {
  const { agent, feed, command, lastScore, sent, clock } = setup();
  t.teardown(() => agent.stop('test'));
  feed(LINE('095', '080'));
  command({ kind: 'observe', consciousness: 'A' });
  t.notOk(lastScore()?.missing.includes('consciousness'));
  clock.advanceMs(600_001);
  feed(LINE('095', '080'));
  agent.tick();
  t.ok(lastScore()?.missing.includes('consciousness'), 'after 10 min (its configured maximum age) it is missing again');
  const withdrawn = [...sent].reverse().find((s) => s.topic.endsWith('/obs/consciousness'))?.env.observation;
  t.equal(withdrawn?.hasValue, false, 'published as withdrawn');
  t.equal(withdrawn?.unavailableReason, 'max-age-exceeded');
});

t.test('REQ-CMD-012 SpO2 scale 2 set from the station is used by the score', async (t) => {
  const { agent, feed, command, lastScore } = setup();
  t.teardown(() => agent.stop('test'));
  feed(LINE('089', '080'));
  t.equal(lastScore()?.spo2Scale, 1);
  t.equal(lastScore()?.points.find((p) => p.parameter === 'spo2Percent')?.points, 3, 'scale 1: 89 % scores 3');
  command({ kind: 'observe', spo2Scale: 2 });
  t.equal(lastScore()?.spo2Scale, 2, 'scale 2 now');
  t.equal(lastScore()?.points.find((p) => p.parameter === 'spo2Percent')?.points, 0, 'scale 2: 89 % on air scores 0 (RCP NEWS2 chart 1, 88-92 %)');
});

t.test('REQ-CMD-013 alarm acknowledge and silence change the alarm state; unknown alarms are rejected', async (t) => {
  const { agent, feed, command, sent, clock } = setup();
  t.teardown(() => agent.stop('test'));
  feed(LINE('095', '080'));
  clock.advanceMs(3100);
  agent.tick(); // silent device: technical alarm spo2.link-stale
  t.ok(sent.some((s) => s.env.alarm?.alarmId === 'spo2.link-stale' && s.env.alarm.state === 'ALARM_STATE_ACTIVE'), 'raised');
  const ack = command({ kind: 'ack', alarmId: 'spo2.link-stale' });
  t.equal(ack.outcome, 'COMMAND_OUTCOME_ACCEPTED');
  const acked = [...sent].reverse().find((s) => s.env.alarm?.alarmId === 'spo2.link-stale')!;
  t.equal(acked.env.alarm?.state, 'ALARM_STATE_ACKNOWLEDGED');
  t.equal(acked.env.alarm?.acknowledgedBy, 'nurse-a');
  t.ok(Number(acked.env.sequence) > 0, 'an alarm change: part of the delivered stream');
  const silence = command({ kind: 'silence', alarmId: 'spo2.link-stale', durationSec: 120 });
  t.equal(silence.outcome, 'COMMAND_OUTCOME_ACCEPTED');
  t.equal([...sent].reverse().find((s) => s.env.alarm)?.env.alarm?.state, 'ALARM_STATE_SILENCED');
  const unknown = command({ kind: 'ack', alarmId: 'spo2.no-such' });
  t.equal(unknown.reason, 'unknown-alarm');
  t.equal(unknown.field, 'alarmAcknowledge.alarmId');
  feed(LINE('095', '080')); // data again: the condition clears
  const cleared = [...sent].reverse().find((s) => s.env.alarm?.alarmId === 'spo2.link-stale')!;
  t.equal(cleared.env.alarm?.state, 'ALARM_STATE_CLEARED', 'acknowledged or not, it clears when its condition goes');
});

t.test('REQ-CMD-014 confirming a changed device lets its values in and clears the identity alarm', async (t) => {
  const { agent, feed, command, sent } = setup();
  t.teardown(() => agent.stop('test'));
  const none = command({ kind: 'confirm-device', interfaceId: 'spo2', serialNumber: '' });
  t.equal(none.reason, 'no-pending-change', 'nothing to confirm yet');
  t.equal(command({ kind: 'confirm-device', interfaceId: 'nope', serialNumber: '' }).reason, 'unknown-interface');
  feed(LINE('095', '080'));
  feed(LINE('090', '110', '0000099999'));
  t.equal(sent.filter((s) => s.env.observation?.value === 90).length, 0, 'the other device is withheld');
  const ok = command({ kind: 'confirm-device', interfaceId: 'spo2', serialNumber: '0000099999' });
  t.equal(ok.outcome, 'COMMAND_OUTCOME_ACCEPTED');
  t.equal([...sent].reverse().find((s) => s.env.alarm?.alarmId === 'spo2.device-identity')?.env.alarm?.state, 'ALARM_STATE_CLEARED');
  feed(LINE('090', '110', '0000099999'));
  t.ok(sent.some((s) => s.topic.endsWith('/obs/spo2') && s.env.observation?.value === 90), 'its values are published now');
});

t.test('REQ-CMD-015 rejected commands change nothing and are counted in the gateway status', async (t) => {
  const { agent, feed, command, lastScore, sent } = setup();
  t.teardown(() => agent.stop('test'));
  feed(LINE('095', '080'));
  const before = sent.length;
  t.equal(command({ kind: 'observe', consciousness: 'U' }, { bedId: 'bed13' }).reason, 'wrong-bed');
  t.equal(command({ kind: 'observe', consciousness: 'U' }, { user: '' }).reason, 'invalid');
  t.equal(agent.handleCommand(Uint8Array.from([0xff, 0xff])).reason, 'undecodable');
  t.equal(sent.slice(before).filter((s) => !s.env.commandResult).length, 0, 'nothing but the three answers was published');
  t.ok(lastScore()?.missing.includes('consciousness'));
  const counters = Object.fromEntries(agent.statusMessage(true, 't').counters.map((c) => [c.name, Number(c.value)]));
  t.equal(counters['commands-rejected.wrong-bed'], 1);
  t.equal(counters['commands-rejected.invalid'], 1);
  t.equal(counters['commands-rejected.undecodable'], 1);
});

/** Lets the store's writes and the publications chained on them run. */
const settle = () => new Promise((r) => setImmediate(r));

t.test('REQ-CMD-030 an accepted command is on disk before it is answered accepted', async (t) => {
  const store = new MemoryQueueStore();
  const order: string[] = [];
  const saveState = store.saveState.bind(store);
  store.saveState = async (name, value) => {
    await saveState(name, value);
    order.push('saved');
  };
  const { agent, command, sent } = setup({ store });
  t.teardown(() => agent.stop('test'));
  const r = command({ kind: 'observe', consciousness: 'V' });
  t.equal(r.outcome, 'COMMAND_OUTCOME_ACCEPTED');
  t.notOk(sent.some((s) => s.env.commandResult), 'not answered before the write completed');
  await settle();
  const answered = sent.findIndex((s) => s.env.commandResult);
  t.ok(answered >= 0, 'answered');
  t.same(order, ['saved'], 'written once');
  t.equal(sent[answered]?.env.commandResult?.detail, 'entered: consciousness', 'a plain acceptance');
  const rejected = command({ kind: 'observe', consciousness: 'V' }, { bedId: 'bed13' });
  t.equal(rejected.reason, 'wrong-bed');
  await settle();
  t.same(order, ['saved'], 'a rejected command changes nothing on disk');
});

t.test('REQ-CMD-031 after a restart on the same boot the manual input is a score input again, and the command a replay', async (t) => {
  const clock = new FakeClock();
  const store = new MemoryQueueStore();
  const first = setup({ clock, store });
  const cmd = encodeCommand(buildCommand({ kind: 'observe', consciousness: 'V', onOxygen: true }, BED, 'nurse-a', 'station-1', clock.wallMs()));
  t.equal(first.agent.handleCommand(cmd).outcome, 'COMMAND_OUTCOME_ACCEPTED');
  await settle();
  await first.agent.stop('killed');
  clock.advanceMs(5_000);
  const second = setup({ clock, store });
  t.teardown(() => second.agent.stop('test'));
  const again = second.sent.find((s) => s.topic.endsWith('/obs/consciousness'))?.env.observation;
  t.equal(again?.valueCode, 'V', 'published again at start-up');
  t.equal(again?.manual?.enteredBy, 'nurse-a', 'with its provenance');
  second.feed(LINE('095', '080'));
  const score = second.lastScore()!;
  t.notOk(score.missing.includes('consciousness'), 'consciousness is a score input');
  t.notOk(score.missing.includes('onOxygen'), 'oxygen is a score input');
  t.equal(score.points.find((p) => p.parameter === 'consciousness')?.points, 3);
  t.equal(second.agent.handleCommand(cmd).reason, 'replayed', 'the same command again: refused as a replay');
  t.ok(second.logger.records.some((r) => r.event === 'state-restored' && r.record === 'commands'), 'the restore is logged');
});

t.test('REQ-CMD-031 after a reboot the manual inputs are not taken back: the score lists them missing', async (t) => {
  const store = new MemoryQueueStore();
  const first = setup({ store });
  first.command({ kind: 'observe', consciousness: 'V' });
  await settle();
  await first.agent.stop('power cut');
  const second = setup({ store, bootId: 'boot-b' });
  t.teardown(() => second.agent.stop('test'));
  second.feed(LINE('095', '080'));
  t.ok(second.lastScore()?.missing.includes('consciousness'), 'missing until entered again');
  const withdrawn = second.sent.filter((s) => s.topic.endsWith('/obs/consciousness')).map((s) => s.env.observation);
  t.equal(withdrawn.length, 1, 'one message for it');
  t.equal(withdrawn[0]?.hasValue, false, 'withdrawn: the station stops showing the old input as current');
  t.equal(withdrawn[0]?.unavailableReason, 'gateway-rebooted');
  t.notOk(second.sent.some((s) => s.topic.endsWith('/obs/onOxygen')), 'nothing for an input that was never entered');
});

t.test('REQ-CMD-032 a save that fails is said in the answer, alarmed, retried, and the alarm clears once saved', async (t) => {
  const store = new MemoryQueueStore();
  const { agent, command, sent, counters, logger } = setup({ store });
  t.teardown(() => agent.stop('test'));
  store.failWrites = true;
  t.equal(command({ kind: 'observe', consciousness: 'A' }).outcome, 'COMMAND_OUTCOME_ACCEPTED', 'in effect: the nurse entered it');
  await settle();
  t.match(sent.find((s) => s.env.commandResult)?.env.commandResult?.detail, /not saved: lost on a restart/);
  agent.tick();
  await settle();
  const alarm = () => [...sent].reverse().find((s) => s.env.alarm?.alarmId === 'gateway.state-not-saved')?.env.alarm;
  t.equal(alarm()?.state, 'ALARM_STATE_ACTIVE', 'a technical alarm');
  t.equal(alarm()?.kind, 'ALARM_KIND_TECHNICAL');
  t.equal(logger.records.filter((r) => r.event === 'state-save-failed').length, 1, 'logged once, not at every retry');
  t.ok(counters()['state-save-failed.commands']! >= 2, 'every failed attempt counted');
  store.failWrites = false;
  agent.tick(); // retries: saved
  await settle();
  agent.tick();
  t.equal(alarm()?.state, 'ALARM_STATE_CLEARED', 'cleared once saved');
  t.ok(store.states.has(COMMAND_STATE_RECORD));
});

t.test('REQ-CMD-032 a saved state that cannot be read is counted and logged; the agent starts without it', async (t) => {
  const store = new MemoryQueueStore();
  store.states.set(COMMAND_STATE_RECORD, Buffer.from('{"version":1,'));
  const { agent, feed, lastScore, counters, logger, sent } = setup({ store });
  t.teardown(() => agent.stop('test'));
  t.equal(counters()['state-unreadable.commands'], 1);
  t.match(logger.records.find((r) => r.event === 'state-unreadable'), { reason: /not JSON/ });
  const withdrawn = sent.filter((s) => s.env.observation?.source.driver === 'manual').map((s) => [s.env.observation?.parameter, s.env.observation?.hasValue, s.env.observation?.unavailableReason]);
  t.same(
    withdrawn,
    [
      ['consciousness', false, 'state-unreadable'],
      ['onOxygen', false, 'state-unreadable'],
      ['spo2Scale', false, 'state-unreadable'],
    ],
    'whatever the station holds from before is withdrawn',
  );
  feed(LINE('095', '080'));
  t.ok(lastScore()?.missing.includes('consciousness'));
});

t.test('REQ-VAL-013 HAZ-011 a device swapped while the agent was down is held back after the restart until confirmed', async (t) => {
  const store = new MemoryQueueStore();
  const first = setup({ store });
  first.feed(LINE('095', '080'));
  first.agent.tick(); // the learned serial number is saved
  await settle();
  await first.agent.stop('power cut');
  const second = setup({ store, bootId: 'boot-b' }); // identities do not age: kept across a reboot too
  t.teardown(() => second.agent.stop('test'));
  second.feed(LINE('090', '110', '0000099999'));
  t.notOk(second.sent.some((s) => s.topic.endsWith('/obs/spo2') && s.env.observation?.hasValue), 'the other oximeter is not attributed to the bed');
  t.equal([...second.sent].reverse().find((s) => s.env.alarm?.alarmId === 'spo2.device-identity')?.env.alarm?.state, 'ALARM_STATE_ACTIVE', 'alarmed');
  t.equal(second.command({ kind: 'confirm-device', interfaceId: 'spo2', serialNumber: '0000099999' }).outcome, 'COMMAND_OUTCOME_ACCEPTED');
  second.feed(LINE('090', '110', '0000099999'));
  t.ok(second.sent.some((s) => s.topic.endsWith('/obs/spo2') && s.env.observation?.value === 90), 'its values once confirmed');
  second.agent.tick();
  await settle();
  const saved = new TextDecoder().decode(store.states.get(IDENTITY_STATE_RECORD));
  t.match(saved, /"spo2":"0000099999"/, 'the confirmed device is the one kept now');
});
