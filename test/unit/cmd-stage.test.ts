/**
 * The checks a station command goes through (commands-in/stage.ts, schema.ts), one
 * rule at a time, on a fake clock; the effects are a recording stub. Also the alarm
 * book's acknowledge and silence, and the station's command builder and options.
 */
import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import type { Command } from '../../agent/src/commands-in/schema';
import { checkCommand } from '../../agent/src/commands-in/schema';
import { CommandStage, MAX_REMEMBERED_IDS } from '../../agent/src/commands-in/stage';
import type { EffectResult } from '../../agent/src/commands-in/stage';
import { parseStationCommand } from '../../agent/src/commands/station';
import { UsageError } from '../../agent/src/errors';
import { memoryLogger } from '../../agent/src/log';
import type { CommandMsg } from '../../agent/src/proto/codec';
import { decodeCommand, encodeCommand } from '../../agent/src/proto/codec';
import { AlarmBook } from '../../agent/src/safety/alarms';
import type { AlarmPriority } from '../../agent/src/safety/alarms';
import { ALARM_CONDITIONS } from '../../agent/src/safety/conditions';
import { buildCommand, parseBed } from '../../agent/src/station/commands';

const BED = { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const WINDOW = { maxAgeMs: 60_000, maxClockSkewMs: 5_000 };

function setup(effect: (c: Command) => EffectResult = () => ({ ok: true })) {
  const clock = new FakeClock();
  const logger = memoryLogger();
  const applied: Command[] = [];
  const stage = new CommandStage(BED, WINDOW, clock, logger, {
    apply: (c) => {
      applied.push(c);
      return effect(c);
    },
  });
  const cmd = (over: Partial<CommandMsg> = {}): CommandMsg => ({
    ...buildCommand({ kind: 'observe', consciousness: 'A' }, BED, 'nurse-a', 'station-1', clock.wallMs()),
    ...over,
  });
  return { clock, logger, stage, applied, cmd };
}

t.test('REQ-CMD-020 a valid command is applied once and answered accepted', async (t) => {
  const { stage, applied, cmd, clock } = setup();
  const c = cmd();
  const r = stage.handle(encodeCommand(c));
  t.same(r, { commandId: c.commandId, outcome: 'COMMAND_OUTCOME_ACCEPTED', reason: '', field: '', detail: '', handledWallMs: clock.wallMs() });
  t.equal(applied.length, 1);
  t.equal(applied[0]?.manualObservation?.consciousness, 'CONSCIOUSNESS_ALERT');
  t.equal(applied[0]?.issuedWallMs, clock.wallMs(), 'int64 time decoded to a number');
  t.same(stage.counters(), { 'commands-accepted': 1 });
});

t.test('REQ-CMD-021 each rule rejects with its reason and field, applies nothing, and is counted', async (t) => {
  const { stage, applied, cmd, clock } = setup();
  const cases: Array<[string, Uint8Array, string, string]> = [
    ['garbage', Uint8Array.from([0xff, 0x01]), 'undecodable', ''],
    ['schema version', encodeCommand(cmd({ schemaVersion: 2 })), 'invalid', 'schemaVersion'],
    ['id not a UUID', encodeCommand(cmd({ commandId: 'abc' })), 'invalid', 'commandId'],
    ['no time', encodeCommand(cmd({ issuedWallMs: 0 })), 'invalid', 'issuedWallMs'],
    ['bad bed id', encodeCommand(cmd({ bedId: 'bed 12' })), 'invalid', 'bedId'],
    ['no user', encodeCommand(cmd({ user: '' })), 'invalid', 'user'],
    ['user with control characters', encodeCommand(cmd({ user: 'a\u0007b' })), 'invalid', 'user'],
    ['no station', encodeCommand(cmd({ stationId: '' })), 'invalid', 'stationId'],
    ['empty observation', encodeCommand(cmd({ manualObservation: { consciousness: 'CONSCIOUSNESS_UNSPECIFIED', oxygen: 'OXYGEN_SUPPLY_UNSPECIFIED', spo2Scale: 0 } })), 'invalid', 'manualObservation'],
    ['scale 3', encodeCommand(cmd({ manualObservation: { spo2Scale: 3 } })), 'invalid', 'manualObservation.spo2Scale'],
    // Field 20 (manual_observation) holding field 1 (consciousness) = 9: no such ACVPU value.
    ['unknown enum number', Buffer.concat([encodeCommand(cmd()), Buffer.from([0xa2, 0x01, 0x02, 0x08, 0x09])]), 'invalid', 'manualObservation.consciousness'],
    ['silence too long', encodeCommand(cmd({ manualObservation: undefined, alarmSilence: { alarmId: 'a.b', durationSec: 3600 } })), 'invalid', 'alarmSilence.durationSec'],
    ['no action', encodeCommand(cmd({ manualObservation: undefined })), 'invalid', 'action'],
    ['wrong gateway', encodeCommand(cmd({ gatewayId: 'gw-2' })), 'wrong-gateway', 'gatewayId'],
    ['wrong site', encodeCommand(cmd({ siteId: 'site2' })), 'wrong-bed', 'siteId'],
    ['wrong ward', encodeCommand(cmd({ wardId: 'ward8' })), 'wrong-bed', 'wardId'],
    ['wrong bed', encodeCommand(cmd({ bedId: 'bed13' })), 'wrong-bed', 'bedId'],
    ['stale', encodeCommand(cmd({ issuedWallMs: clock.wallMs() - 60_001 })), 'stale', 'issuedWallMs'],
    ['from the future', encodeCommand(cmd({ issuedWallMs: clock.wallMs() + 5_001 })), 'from-the-future', 'issuedWallMs'],
  ];
  for (const [label, bytes, reason, field] of cases) {
    const r = stage.handle(bytes);
    t.equal(r.outcome, 'COMMAND_OUTCOME_REJECTED', `${label}: rejected`);
    t.equal(r.reason, reason, `${label}: ${reason}`);
    t.equal(r.field, field, `${label}: field ${field || '(none)'}`);
  }
  t.equal(applied.length, 0, 'nothing applied');
  const c = stage.counters();
  t.equal(c['commands-rejected.invalid'], 12);
  t.equal(c['commands-rejected.wrong-bed'], 3);
  t.equal(c['commands-accepted'], undefined);
  // Within the window at the edges: accepted.
  t.equal(stage.handle(encodeCommand(cmd({ issuedWallMs: clock.wallMs() - 60_000 }))).outcome, 'COMMAND_OUTCOME_ACCEPTED', 'exactly 60 s old: accepted');
  t.equal(stage.handle(encodeCommand(cmd({ issuedWallMs: clock.wallMs() + 5_000 }))).outcome, 'COMMAND_OUTCOME_ACCEPTED', '5 s ahead: accepted');
});

t.test('REQ-CMD-022 a rejection names the rule, never the value that broke it', async (t) => {
  const { stage, cmd, logger } = setup();
  const r = stage.handle(encodeCommand(cmd({ user: 'x'.repeat(80) })));
  t.equal(r.field, 'user');
  t.notMatch(r.detail, /xxxx/, 'the detail does not echo the value');
  t.notOk(JSON.stringify(logger.records).includes('xxxx'), 'nor does the log');
});

t.test('REQ-CMD-023 replays are refused while a command could be fresh; ids are forgotten after', async (t) => {
  const { stage, applied, cmd, clock } = setup();
  const c = cmd();
  const bytes = encodeCommand(c);
  t.equal(stage.handle(bytes).outcome, 'COMMAND_OUTCOME_ACCEPTED');
  clock.advanceMs(30_000);
  const again = stage.handle(bytes);
  t.equal(again.reason, 'replayed', 'the same command 30 s later: replayed');
  t.equal(again.commandId, c.commandId);
  clock.advanceMs(40_000);
  t.equal(stage.handle(bytes).reason, 'stale', 'later still: stale (the id need not be kept)');
  t.equal(applied.length, 1, 'applied once');
  const d = cmd();
  t.equal(stage.handle(encodeCommand(d)).outcome, 'COMMAND_OUTCOME_ACCEPTED', 'a new id is accepted');
  clock.advanceMs(65_001);
  t.equal(stage.handle(encodeCommand({ ...d, issuedWallMs: clock.wallMs() })).reason, '', 'an id older than the window may come back with a fresh time');
});

t.test('REQ-CMD-024 the remembered ids are bounded: a flood is refused, not remembered without limit', async (t) => {
  const { stage, cmd } = setup();
  for (let i = 0; i < MAX_REMEMBERED_IDS; i += 1) stage.handle(encodeCommand(cmd()));
  t.equal(stage.handle(encodeCommand(cmd())).reason, 'too-many-commands');
  t.equal(stage.counters()['commands-accepted'], MAX_REMEMBERED_IDS);
});

t.test('REQ-CMD-025 an effect that refuses is answered with its reason (e.g. unknown alarm)', async (t) => {
  const { stage, cmd } = setup(() => ({ ok: false, reason: 'unknown-alarm', field: 'alarmAcknowledge.alarmId', detail: 'no active alarm with this id' }));
  const r = stage.handle(encodeCommand(cmd({ manualObservation: undefined, alarmAcknowledge: { alarmId: 'spo2.none' } })));
  t.equal(r.reason, 'unknown-alarm');
  t.equal(r.field, 'alarmAcknowledge.alarmId');
  t.equal(stage.counters()['commands-rejected.unknown-alarm'], 1);
});

t.test('REQ-CMD-026 the alarm book: acknowledge, silence that lapses, and a new priority that needs a new acknowledgement', async (t) => {
  const clock = new FakeClock();
  // A copy of the catalogue whose priority for link-stale can change, as a new catalogue version would.
  const catalogue = { ...ALARM_CONDITIONS, 'link-stale': { ...ALARM_CONDITIONS['link-stale'], priority: 'medium' as AlarmPriority } };
  const book = new AlarmBook(clock, catalogue);
  book.raise('link-stale', 'spo2', 'no frame');
  t.equal(book.acknowledge('spo2.none', 'nurse'), null, 'unknown: null');
  const acked = book.acknowledge('spo2.link-stale', 'nurse-a');
  t.equal(acked?.state, 'ALARM_STATE_ACKNOWLEDGED');
  t.equal(acked?.acknowledgedBy, 'nurse-a');
  t.equal(book.raise('link-stale', 'spo2', 'no frame for 4 s')?.state, 'ALARM_STATE_ACKNOWLEDGED', 'a new detail keeps the acknowledgement');
  const silenced = book.silence('spo2.link-stale', 60_000);
  t.equal(silenced?.state, 'ALARM_STATE_SILENCED');
  t.equal(Number(silenced?.silencedUntilWallMs), clock.wallMs() + 60_000);
  clock.advanceMs(60_000);
  t.equal(book.list()[0]?.state, 'ALARM_STATE_ACKNOWLEDGED', 'the silence lapsed on the monotonic clock: back to acknowledged');
  catalogue['link-stale'].priority = 'high';
  t.equal(book.raise('link-stale', 'spo2', 'escalated')?.state, 'ALARM_STATE_ACTIVE', 'a new priority is a new condition');
  t.equal(book.clear('link-stale', 'spo2')?.state, 'ALARM_STATE_CLEARED');
});

t.test('REQ-CMD-027 the station builds commands from what the user typed; bad options are usage errors', async (t) => {
  t.same(parseBed('site1/ward7/bed12'), { siteId: 'site1', wardId: 'ward7', bedId: 'bed12' });
  t.equal(parseBed('site1/ward7'), null);
  t.equal(parseBed('a/b/c d'), null);
  const o = parseStationCommand('observe', ['--url', 'mqtt://h:1', '--bed', 's/w/b', '--user', 'nurse', '--consciousness', 'P', '--on-oxygen', 'false']);
  t.same(o.action, { kind: 'observe', consciousness: 'P', onOxygen: false });
  const decoded = decodeCommand(encodeCommand(buildCommand(o.action, { ...o.bed, gatewayId: 'gw' }, o.user, 'st', 1767261600000)));
  t.equal(decoded.manualObservation?.consciousness, 'CONSCIOUSNESS_PAIN');
  t.equal(decoded.manualObservation?.oxygen, 'OXYGEN_SUPPLY_AIR');
  t.equal(decoded.manualObservation?.spo2Scale, 0, 'scale not given');
  t.same(parseStationCommand('ack', ['--url', 'mqtt://h:1', '--bed', 's/w/b', '--user', 'n', '--alarm', 'spo2.x']).action, { kind: 'ack', alarmId: 'spo2.x' });
  const usage = (sub: string, args: string[]) => {
    try {
      parseStationCommand(sub, ['--url', 'mqtt://h:1', '--bed', 's/w/b', ...args]);
      return '';
    } catch (err) {
      return err instanceof UsageError ? err.message : `not a usage error: ${String(err)}`;
    }
  };
  t.match(usage('ack', ['--alarm', 'x']), /--user/, 'every command names who sent it');
  t.match(usage('observe', ['--user', 'n']), /needs --consciousness/);
  t.match(usage('observe', ['--user', 'n', '--consciousness', 'X']), /A, C, V, P or U/);
  t.match(usage('silence', ['--user', 'n', '--alarm', 'x', '--duration-sec', '601']), /1-600/);
  t.match(usage('reboot', ['--user', 'n']), /unknown station command/);
});

t.test('HAZ-015 REQ-CMD-025 a command is checked field by field: the first problem names its field, a field no command has names the root', async (t) => {
  const { cmd } = setup();
  const decoded = (over: Partial<CommandMsg> = {}): CommandMsg => decodeCommand(encodeCommand(cmd(over)));
  t.match(checkCommand(decoded()), { ok: true, command: { schemaVersion: 1, bedId: 'bed12' } });
  t.same(checkCommand(decoded({ schemaVersion: 2 })), { ok: false, field: 'schemaVersion', rule: 'must be 1' });
  const extra = checkCommand({ ...decoded(), sudo: 'yes-please' } as unknown as CommandMsg);
  t.match(extra, { ok: false, field: '(root)' }, 'an unknown field is refused, named at the root');
  t.notMatch(JSON.stringify(extra), /yes-please/, 'the value is never echoed');
  t.match(checkCommand(decoded({ manualObservation: undefined })), { ok: false, field: 'action', rule: 'must carry exactly one action' }, 'no action');
});

t.test('REQ-CMD-025 an effect that refuses without naming a field is answered with its reason and an empty field', async (t) => {
  const { stage, cmd } = setup(() => ({ ok: false, reason: 'not-applicable', detail: 'nothing to do' }));
  const r = stage.handle(encodeCommand(cmd()));
  t.match(r, { reason: 'not-applicable', field: '', detail: 'nothing to do' });
  t.equal(stage.counters()['commands-rejected.not-applicable'], 1);
});
