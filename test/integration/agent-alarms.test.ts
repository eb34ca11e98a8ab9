/**
 * Physiological alarms through the whole agent (startAgent) on a fake clock: the real Masimo
 * decoder, validation, native NEWS2 score, alarm catalogue and command stage, a fake MQTT sink.
 */
import t from 'tap';
import { encodeCommand } from '../../agent/src/proto/codec';
import { buildCommand } from '../../agent/src/station/commands';
import { OXIMETER_BED, startOximeterAgent } from '../support/oximeter-agent';

const LINE = (spo2: string, bpm: string) =>
  Buffer.from(`01/01/26 10:00:00 SN=0000056661 SPO2=${spo2}% BPM=${bpm} PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000000`);

t.test('REQ-ALARM-002 HAZ-018 through the agent: a deteriorating patient raises news2-medium, then news2-high once a nurse enters ACVPU V', async (t) => {
  const { clock, agent, alarms, feed } = startOximeterAgent(t);
  const news2 = () => alarms.filter((a) => a.condition.startsWith('news2-')).map((a) => `${a.condition}:${a.priority}:${a.kind}:${a.state}`);

  feed(LINE('097', '072'));
  t.same(news2(), [], 'a well patient raises nothing');
  // RCP NEWS2 chart 1: SpO2 91 % scores 3, pulse 115 scores 2: aggregate 5, medium risk.
  feed(LINE('091', '115'));
  t.same(news2(), ['news2-medium:ALARM_PRIORITY_MEDIUM:ALARM_KIND_PHYSIOLOGICAL:ALARM_STATE_ACTIVE']);
  // The nurse finds the patient responding to voice only (V scores 3): aggregate 8, high risk.
  const r = agent.handleCommand(encodeCommand(buildCommand({ kind: 'observe', consciousness: 'V' }, OXIMETER_BED, 'nurse-a', 'station-1', clock.wallMs())));
  t.equal(r.outcome, 'COMMAND_OUTCOME_ACCEPTED');
  t.same(news2().slice(1), [
    'news2-high:ALARM_PRIORITY_HIGH:ALARM_KIND_PHYSIOLOGICAL:ALARM_STATE_ACTIVE',
    'news2-medium:ALARM_PRIORITY_MEDIUM:ALARM_KIND_PHYSIOLOGICAL:ALARM_STATE_CLEARED',
  ], 'high is raised and medium cleared, at once');
  t.equal(alarms.find((a) => a.condition === 'news2-high')?.alarmId, 'gateway.news2-high', 'the catalogue id');
});

t.test('REQ-ALARM-006 HAZ-018 through the agent: a single parameter of 3 raises news2-low-medium at the priority the site configured', async (t) => {
  const { clock, agent, alarms, feed } = startOximeterAgent(t, { alarms: { news2TriggerPriority: { lowMedium: 'medium' } } });
  const news2 = () => alarms.filter((a) => a.condition.startsWith('news2-')).map((a) => `${a.condition}:${a.priority}:${a.kind}:${a.state}`);

  feed(LINE('097', '072'));
  t.same(news2(), [], 'a well patient raises nothing');
  // RCP NEWS2 chart 1: SpO2 89 % scores 3 (scale 1), pulse 72 scores 0: low-medium (chart 3).
  feed(LINE('089', '072'));
  t.same(news2(), ['news2-low-medium:ALARM_PRIORITY_MEDIUM:ALARM_KIND_PHYSIOLOGICAL:ALARM_STATE_ACTIVE'], 'at the configured priority, not the default low');
  t.equal(alarms.find((a) => a.condition === 'news2-low-medium')?.alarmId, 'gateway.news2-low-medium', 'the catalogue id');
  feed(LINE('097', '072'));
  t.same(news2().slice(1), ['news2-low-medium:ALARM_PRIORITY_MEDIUM:ALARM_KIND_PHYSIOLOGICAL:ALARM_STATE_CLEARED'], 'cleared when SpO2 recovers');
});
