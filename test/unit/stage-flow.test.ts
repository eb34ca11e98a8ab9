/**
 * The agent's middle stages on their own, on a fake clock and without MQTT: the observation
 * flow (validate, store, withdraw, score once per change), the link policy (what link events
 * raise and withdraw) and the alarm stage over the catalogue. What they publish goes to lists.
 */
import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import { ManualObservations } from '../../agent/src/commands-in/manual';
import { Counters } from '../../agent/src/counters';
import { memoryLogger } from '../../agent/src/log';
import type { Observation } from '../../agent/src/model/observation';
import type { ParameterCode } from '../../agent/src/model/parameters';
import { PARAMETERS } from '../../agent/src/model/parameters';
import { scoreNews2 } from '../../agent/src/native/addon';
import type { FlowOutput } from '../../agent/src/pipeline/observation-flow';
import { NATIVE_FAILURE_ALARM_COUNT, ObservationFlow } from '../../agent/src/pipeline/observation-flow';
import type { AlarmMsg, EarlyWarningScoreMsg, ObservationMsg } from '../../agent/src/proto/codec';
import { AlarmStage } from '../../agent/src/safety/alarm-stage';
import { AlarmBook } from '../../agent/src/safety/alarms';
import type { ConditionKey } from '../../agent/src/safety/conditions';
import { ALARM_CONDITIONS, withNews2Priorities } from '../../agent/src/safety/conditions';
import { LinkPolicy } from '../../agent/src/safety/link-policy';
import type { News2Scorer } from '../../agent/src/scoring/news2-stage';
import { News2Stage } from '../../agent/src/scoring/news2-stage';
import { VitalsStore } from '../../agent/src/scoring/vitals';
import { ValidationStage } from '../../agent/src/validation/stage';

const ITF = 'spo2';

function stages(scorer: News2Scorer = scoreNews2, rejectAlarm = { count: 3, windowMs: 10_000 }, catalogue = ALARM_CONDITIONS as Parameters<typeof withNews2Priorities>[1]) {
  const clock = new FakeClock();
  const logger = memoryLogger();
  const counters = new Counters();
  const maxAgeMs = (p: ParameterCode) => PARAMETERS[p].defaultMaxAgeMs;
  const validation = new ValidationStage({ maxAgeMs: (s) => maxAgeMs(s.code), clockOffsetBoundMs: 120_000, frozenWindowMs: 30_000 });
  const store = new VitalsStore(clock, maxAgeMs, () => false);
  const manual = new ManualObservations(clock, { consciousness: 3_600_000, onOxygen: 3_600_000, spo2Scale: 86_400_000 });
  const news2 = new News2Stage(scorer, store, clock, () => 1, [ITF], () => manual.inputs());
  const alarmLog: AlarmMsg[] = [];
  const alarms = new AlarmStage(new AlarmBook(clock, catalogue), (m) => alarmLog.push(m), logger);
  const published = { observations: [] as Observation[], msgs: [] as ObservationMsg[], scores: [] as EarlyWarningScoreMsg[] };
  const output: FlowOutput = {
    observation: (o) => void published.observations.push(o),
    observationMsg: (m) => void published.msgs.push(m),
    score: (s) => void published.scores.push(s),
  };
  const flow = new ObservationFlow({ clock, logger, counters, validation, store, manual, news2, alarms, output, maxAgeMs });
  const statuses: string[] = [];
  const links = new LinkPolicy({
    clock, logger, counters, alarms, flow, interfaceIds: [ITF], rejectAlarm,
    countHealth: (id, name) => validation.count(id, name),
    statusChanged: (reason) => void statuses.push(reason),
  });
  const obs = (parameter: ParameterCode, value: number | null, extra: Partial<Observation> = {}): Observation => ({
    parameter,
    value,
    unitUcum: PARAMETERS[parameter].unitUcum,
    status: 'final',
    quality: [],
    source: { driver: 'masimo-ascii', interfaceId: ITF, serialNumber: '1', port: '/dev/x' },
    deviceTimeMs: clock.wallMs(),
    deviceTimeText: '',
    receiveWallMs: clock.wallMs(),
    receiveMonoNs: clock.monoNs(),
    unavailableReason: value === null ? 'sensor-off' : '',
    ...extra,
  });
  const active = () => alarms.list().map((a) => `${a.alarmId}:${a.priority}:${a.kind}`).sort();
  return { clock, logger, counters, validation, store, manual, alarms, alarmLog, published, flow, links, statuses, obs, active };
}

t.test('REQ-ALARM-005 one emission is validated, stored, published and scored once', async (t) => {
  const s = stages();
  s.flow.accept(ITF, [s.obs('spo2', 97), s.obs('pulseRate', 72)]);
  t.same(s.published.observations.map((o) => [o.parameter, o.value]), [['spo2', 97], ['pulseRate', 72]], 'both values published');
  t.equal(s.published.scores.length, 1, 'one score for the emission, not one per value');
  t.equal(s.counters.get('observations-accepted'), 2);
  t.equal(s.store.get('spo2', ITF)?.value, 97, 'the value is in the store');
});

t.test('REQ-VAL-002 HAZ-006 a rejected value raises value-rejected.<rule> from the catalogue and withdraws the earlier value', async (t) => {
  const s = stages();
  s.flow.accept(ITF, [s.obs('spo2', 97)]);
  s.flow.accept(ITF, [s.obs('spo2', 250)]);
  t.same(s.active(), ['spo2.value-rejected.implausible:ALARM_PRIORITY_MEDIUM:ALARM_KIND_TECHNICAL'], 'priority and kind come from the catalogue');
  const withdrawn = s.published.observations.at(-1);
  t.equal(withdrawn?.value, null, 'the earlier 97 is withdrawn, not left as current');
  t.equal(withdrawn?.unavailableReason, 'rejected-implausible');
  t.equal(s.store.get('spo2', ITF)?.value, undefined, 'and leaves the store');
  t.equal(s.counters.get('observations-rejected.implausible'), 1);
});

t.test('REQ-VAL-002 HAZ-001 a unit change mid-stream raises unit-changed.<parameter> at low priority', async (t) => {
  const s = stages();
  const temp = (Object.keys(PARAMETERS) as ParameterCode[]).find((p) => PARAMETERS[p].unitUcum === 'Cel');
  t.ok(temp, 'a temperature parameter exists');
  s.flow.accept(ITF, [s.obs(temp!, 37)]);
  s.flow.accept(ITF, [s.obs(temp!, 98.6, { unitUcum: '[degF]' })]);
  t.ok(s.active().includes(`${ITF}.unit-changed.${temp}:ALARM_PRIORITY_LOW:ALARM_KIND_TECHNICAL`), 'the family member names the parameter');
});

t.test('REQ-AGENT-004 HAZ-009 sensor-off from the device raises sensor-off; values again clear it', async (t) => {
  const s = stages();
  s.flow.accept(ITF, [s.obs('spo2', null, { quality: ['sensor-off'], status: 'cannot-obtain' })]);
  t.same(s.active(), ['spo2.sensor-off:ALARM_PRIORITY_MEDIUM:ALARM_KIND_TECHNICAL']);
  s.flow.accept(ITF, [s.obs('spo2', 96)]);
  t.same(s.active(), [], 'cleared by an emission without the flag');
});

t.test('REQ-ALARM-002 NEWS2 medium and high risk raise physiological alarms with the catalogue priority, and clear', async (t) => {
  // RCP NEWS2 chart 1: SpO2 91 % (scale 1) scores 3, pulse 115 scores 2 (total 5: medium);
  // with pulse 135 (3) and respiration 26 /min (3) the total is 9 (high).
  const s = stages();
  const raised = (): string[] => s.active().filter((a) => a.includes('news2'));
  s.flow.accept(ITF, [s.obs('spo2', 97), s.obs('pulseRate', 72)]);
  t.same(raised(), [], 'low risk: no alarm');
  s.flow.accept(ITF, [s.obs('spo2', 91), s.obs('pulseRate', 115)]);
  t.same(raised(), ['gateway.news2-medium:ALARM_PRIORITY_MEDIUM:ALARM_KIND_PHYSIOLOGICAL']);
  s.flow.accept(ITF, [s.obs('spo2', 91), s.obs('pulseRate', 135), s.obs('respRate', 26)]);
  t.same(raised(), ['gateway.news2-high:ALARM_PRIORITY_HIGH:ALARM_KIND_PHYSIOLOGICAL'], 'high replaces medium');
  s.flow.accept(ITF, [s.obs('spo2', 97), s.obs('pulseRate', 72), s.obs('respRate', 16)]);
  t.same(raised(), [], 'both cleared');
});

t.test('REQ-ALARM-006 HAZ-018 a single parameter scoring 3 raises news2-low-medium at low priority; medium and high replace it; one NEWS2 alarm at a time', async (t) => {
  // RCP NEWS2 chart 1, SpO2 scale 1: 89 % scores 3, pulse 72 scores 0: a 3 in one parameter with
  // aggregate 3 is low-medium (chart 3), also while the score is incomplete (only the oximeter).
  const s = stages();
  const raised = (): string[] => s.active().filter((a) => a.includes('news2'));
  const news2Log = () => s.alarmLog.filter((a) => a.condition.startsWith('news2-')).map((a) => `${a.condition}:${a.state}`);
  s.flow.accept(ITF, [s.obs('spo2', 96), s.obs('pulseRate', 72)]);
  t.same(raised(), [], 'low risk: no alarm');
  s.flow.accept(ITF, [s.obs('spo2', 89), s.obs('pulseRate', 72)]);
  t.equal(s.published.scores.at(-1)?.riskLevel, 'RISK_LEVEL_LOW_MEDIUM', 'the score says low-medium');
  t.equal(s.published.scores.at(-1)?.complete, false, 'with an incomplete score');
  t.same(raised(), ['gateway.news2-low-medium:ALARM_PRIORITY_LOW:ALARM_KIND_PHYSIOLOGICAL'], 'raised at the catalogue priority (low)');
  t.equal(s.alarms.list().find((a) => a.condition === 'news2-low-medium')?.detail, 'NEWS2 risk low-medium: a single parameter scores 3');
  // SpO2 91 (3) + pulse 115 (2) = 5: medium.
  s.flow.accept(ITF, [s.obs('spo2', 91), s.obs('pulseRate', 115)]);
  t.same(raised(), ['gateway.news2-medium:ALARM_PRIORITY_MEDIUM:ALARM_KIND_PHYSIOLOGICAL'], 'medium replaces low-medium');
  // SpO2 91 (3) + pulse 135 (3) + respiration 26 (3) = 9: high.
  s.flow.accept(ITF, [s.obs('spo2', 91), s.obs('pulseRate', 135), s.obs('respRate', 26)]);
  t.same(raised(), ['gateway.news2-high:ALARM_PRIORITY_HIGH:ALARM_KIND_PHYSIOLOGICAL'], 'high replaces medium');
  s.flow.accept(ITF, [s.obs('spo2', 89), s.obs('pulseRate', 72), s.obs('respRate', 16)]);
  t.same(raised(), ['gateway.news2-low-medium:ALARM_PRIORITY_LOW:ALARM_KIND_PHYSIOLOGICAL'], 'high falls straight to low-medium');
  s.flow.accept(ITF, [s.obs('spo2', 89), s.obs('pulseRate', 135), s.obs('respRate', 26)]);
  t.same(raised(), ['gateway.news2-high:ALARM_PRIORITY_HIGH:ALARM_KIND_PHYSIOLOGICAL'], 'low-medium rises straight to high');
  s.flow.accept(ITF, [s.obs('spo2', 97), s.obs('pulseRate', 72), s.obs('respRate', 16)]);
  t.same(raised(), [], 'low clears it');
  t.same(news2Log(), [
    'news2-low-medium:ALARM_STATE_ACTIVE',
    'news2-medium:ALARM_STATE_ACTIVE', 'news2-low-medium:ALARM_STATE_CLEARED',
    'news2-high:ALARM_STATE_ACTIVE', 'news2-medium:ALARM_STATE_CLEARED',
    'news2-high:ALARM_STATE_CLEARED', 'news2-low-medium:ALARM_STATE_ACTIVE',
    'news2-high:ALARM_STATE_ACTIVE', 'news2-low-medium:ALARM_STATE_CLEARED',
    'news2-high:ALARM_STATE_CLEARED',
  ], 'every change announced once, each level change clearing the level before in the same step');
});

t.test('REQ-ALARM-006 the NEWS2 priorities a site configures are the priorities the alarms carry', async (t) => {
  const s = stages(scoreNews2, undefined, withNews2Priorities({ lowMedium: 'medium', medium: 'high', high: 'high' }));
  const raised = (): string[] => s.active().filter((a) => a.includes('news2'));
  s.flow.accept(ITF, [s.obs('spo2', 89), s.obs('pulseRate', 72)]);
  t.same(raised(), ['gateway.news2-low-medium:ALARM_PRIORITY_MEDIUM:ALARM_KIND_PHYSIOLOGICAL'], 'low-medium at the site\'s medium');
  s.flow.accept(ITF, [s.obs('spo2', 91), s.obs('pulseRate', 115)]);
  t.same(raised(), ['gateway.news2-medium:ALARM_PRIORITY_HIGH:ALARM_KIND_PHYSIOLOGICAL'], 'medium at the site\'s high');
  s.flow.accept(ITF, [s.obs('spo2', 250)]);
  t.ok(s.active().includes('spo2.value-rejected.implausible:ALARM_PRIORITY_MEDIUM:ALARM_KIND_TECHNICAL'), 'other conditions keep the catalogue priority');
});

t.test('REQ-ALARM-006 withNews2Priorities changes the priority of the three NEWS2 conditions only', async (t) => {
  const before = JSON.stringify(ALARM_CONDITIONS);
  const site = withNews2Priorities({ lowMedium: 'high', medium: 'low', high: 'medium' });
  t.equal(JSON.stringify(ALARM_CONDITIONS), before, 'the catalogue itself is not changed');
  t.same(Object.keys(site).sort(), Object.keys(ALARM_CONDITIONS).sort(), 'the same conditions');
  const news2: ConditionKey[] = ['news2-low-medium', 'news2-medium', 'news2-high'];
  for (const k of Object.keys(ALARM_CONDITIONS) as ConditionKey[]) {
    if (news2.includes(k)) continue;
    t.same(site[k], ALARM_CONDITIONS[k], `${k} unchanged`);
  }
  t.same([site['news2-low-medium'].priority, site['news2-medium'].priority, site['news2-high'].priority], ['high', 'low', 'medium']);
  for (const k of news2) t.same({ ...site[k], priority: ALARM_CONDITIONS[k].priority }, ALARM_CONDITIONS[k], `${k}: only its priority changes`);
  // A priority for any other condition does not compile (excess property of News2Priorities):
  // @ts-expect-error 'link-stale' is not a NEWS2 trigger level
  const typo = withNews2Priorities({ lowMedium: 'low', medium: 'medium', high: 'high', 'link-stale': 'low' });
  t.equal(typo['link-stale'].priority, 'medium', 'and is ignored if forced past the compiler');
});

t.test('REQ-SAFE-039 HAZ-017 a native failure loses that score only; three within the window raise native-failure', async (t) => {
  let failing = true;
  const s = stages((input) => {
    if (failing) throw new Error('NATIVE_CALL: panic');
    return scoreNews2(input);
  });
  for (let i = 0; i < NATIVE_FAILURE_ALARM_COUNT - 1; i++) s.flow.rescore();
  t.same(s.active(), [], 'not alarmed before the third failure');
  s.flow.rescore();
  t.same(s.active(), ['gateway.native-failure:ALARM_PRIORITY_MEDIUM:ALARM_KIND_TECHNICAL']);
  t.equal(s.counters.get('native-failures'), NATIVE_FAILURE_ALARM_COUNT);
  failing = false;
  s.clock.advanceMs(61_000);
  s.flow.rescore();
  t.same(s.active(), [], 'cleared once the failures left the window and a score succeeded');
  t.equal(s.published.scores.length, 1);
});

t.test('REQ-ALARM-003 a score input the native score refuses raises score-input-rejected and publishes no score', async (t) => {
  let refuse = true;
  const s = stages((input) => (refuse ? { ok: false, error: { field: 'spo2Percent', rule: 'range' } } : scoreNews2(input)));
  s.flow.accept(ITF, [s.obs('spo2', 97)]);
  t.equal(s.published.scores.length, 0, 'no score from a refused input');
  t.same(s.active(), ['gateway.score-input-rejected:ALARM_PRIORITY_MEDIUM:ALARM_KIND_TECHNICAL']);
  t.ok(s.counters.get('score-rejected.spo2Percent') >= 1);
  refuse = false;
  s.flow.rescore();
  t.same(s.active(), [], 'cleared by the next score');
});

t.test('REQ-AGENT-002 HAZ-003 the link policy: stale withdraws every value of the interface, scores once, alarms; streaming clears', async (t) => {
  const s = stages();
  s.flow.accept(ITF, [s.obs('spo2', 97), s.obs('pulseRate', 72)]);
  const scoresBefore = s.published.scores.length;
  s.links.onLink({ interfaceId: ITF, from: 'streaming', to: 'stale', reason: 'no valid line for 3000 ms' });
  t.same(s.active(), ['spo2.link-stale:ALARM_PRIORITY_MEDIUM:ALARM_KIND_TECHNICAL']);
  const withdrawn = s.published.observations.slice(-2);
  t.same(withdrawn.map((o) => [o.parameter, o.value, o.unavailableReason]), [['spo2', null, 'link-stale'], ['pulseRate', null, 'link-stale']]);
  t.equal(s.published.scores.length, scoresBefore + 1, 'one score after withdrawing both');
  t.same(s.statuses, ['link-stale'], 'the status is published at once');
  t.equal(s.validation.health(ITF).counters['link-stale'], 1, 'counted in the interface health');
  s.flow.accept(ITF, [s.obs('spo2', 96)]);
  t.ok(s.published.observations.at(-1)?.quality.includes('recovered'), 'the first value after the gap is flagged recovered');
  s.links.onLink({ interfaceId: ITF, from: 'stale', to: 'streaming', reason: 'valid line' });
  t.same(s.active(), [], 'streaming clears link-stale');
});

t.test('REQ-AGENT-003 HAZ-008 rejected frames raise frames-rejected (low) at the configured rate and clear when the window is empty', async (t) => {
  const s = stages(scoreNews2, { count: 3, windowMs: 10_000 });
  for (let i = 0; i < 2; i++) s.links.onRejected({ interfaceId: ITF, reason: 'checksum', detail: 'bad checksum' });
  t.same(s.active(), [], 'below the rate');
  s.links.onRejected({ interfaceId: ITF, reason: 'checksum', detail: 'bad checksum' });
  t.same(s.active(), ['spo2.frames-rejected:ALARM_PRIORITY_LOW:ALARM_KIND_TECHNICAL']);
  t.equal(s.counters.get('frames-rejected.checksum'), 3);
  s.clock.advanceMs(10_001);
  s.links.tick();
  t.same(s.active(), [], 'cleared once the window holds none');
});

t.test('REQ-SAFE-037 HAZ-011 an identity rejection raises device-identity at high priority whatever the rate', async (t) => {
  const s = stages();
  s.links.onRejected({ interfaceId: ITF, reason: 'device-changed', detail: 'serial number changed' });
  t.same(s.active(), ['spo2.device-identity:ALARM_PRIORITY_HIGH:ALARM_KIND_TECHNICAL']);
});

t.test('REQ-ALARM-004 conditions a driver reports become alarms with the catalogue priority and clear when the driver says so', async (t) => {
  const s = stages();
  s.links.onCondition({ interfaceId: 'patch', condition: 'low-battery', active: true, detail: 'replace the battery' });
  s.links.onCondition({ interfaceId: 'patch', condition: 'device-fault', active: true, detail: 'sensor fault' });
  s.links.onCondition({ interfaceId: 'patch', condition: 'frames-lost', active: true, detail: 'gaps' });
  t.same(s.active(), [
    'patch.device-fault:ALARM_PRIORITY_MEDIUM:ALARM_KIND_TECHNICAL',
    'patch.frames-lost:ALARM_PRIORITY_LOW:ALARM_KIND_TECHNICAL',
    'patch.low-battery:ALARM_PRIORITY_LOW:ALARM_KIND_TECHNICAL',
  ]);
  s.links.onCondition({ interfaceId: 'patch', condition: 'low-battery', active: false, detail: '' });
  t.notOk(s.active().some((a) => a.startsWith('patch.low-battery')), 'cleared');
  t.equal(s.alarmLog.filter((a) => a.alarmId === 'patch.low-battery').length, 2, 'raised and cleared: two announcements, no repeats');
});

t.test('REQ-AGENT-002 HAZ-003 expiry withdraws values and manual inputs past their maximum age and rescores', async (t) => {
  const s = stages();
  s.flow.accept(ITF, [s.obs('spo2', 97)]);
  t.equal(s.flow.expire(), false, 'nothing expired yet');
  s.clock.advanceMs(PARAMETERS.spo2.defaultMaxAgeMs + 1);
  const scores = s.published.scores.length;
  t.equal(s.flow.expire(), true);
  t.equal(s.published.observations.at(-1)?.unavailableReason, 'max-age-exceeded');
  t.equal(s.published.scores.length, scores + 1);
});

t.test('REQ-AGENT-002 HAZ-003 a score computed between safety ticks first withdraws the values past their maximum age', async (t) => {
  const s = stages();
  s.flow.accept(ITF, [s.obs('spo2', 97)]);
  s.clock.advanceMs(PARAMETERS.spo2.defaultMaxAgeMs + 1);
  // No safety tick: the next emission (another parameter) rescores.
  s.flow.accept(ITF, [s.obs('pulseRate', 72)]);
  const withdrawn = s.published.observations.find((o) => o.parameter === 'spo2' && o.value === null);
  t.match(withdrawn, { unavailableReason: 'max-age-exceeded' }, 'the old SpO2 is withdrawn, published unavailable');
  t.equal(s.store.get('spo2', ITF), undefined, 'and out of the store, so out of the score');
  t.equal(s.published.scores.length, 2, 'one score per emission');
});

t.test('REQ-VAL-002 HAZ-006 value-rejected.<rule> clears once every parameter it rejected passes again', async (t) => {
  const s = stages();
  s.flow.accept(ITF, [s.obs('spo2', 250), s.obs('pulseRate', 900)]);
  t.same(s.active(), ['spo2.value-rejected.implausible:ALARM_PRIORITY_MEDIUM:ALARM_KIND_TECHNICAL'], 'both rejected by one rule: one alarm');
  s.flow.accept(ITF, [s.obs('spo2', 97), s.obs('pulseRate', 900)]);
  t.same(s.active(), ['spo2.value-rejected.implausible:ALARM_PRIORITY_MEDIUM:ALARM_KIND_TECHNICAL'], 'still active while the pulse is rejected');
  s.flow.accept(ITF, [s.obs('spo2', 97), s.obs('pulseRate', 72)]);
  t.same(s.active(), [], 'cleared once both pass');
  const states = s.alarmLog.filter((a) => a.alarmId === 'spo2.value-rejected.implausible').map((a) => a.state);
  t.equal(states.indexOf('ALARM_STATE_CLEARED'), states.length - 1, 'cleared once, at the end (a new detail re-announces it while active)');
});
