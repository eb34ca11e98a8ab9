/**
 * The oximeter's own alarms through the whole agent (startAgent) on a fake clock: the real Masimo
 * decoder and driver, the link policy, the alarm catalogue and book, a fake MQTT sink. A line with
 * the SpO2-low bit raises the relayed alarm, the first line without it clears it, and a stale link
 * ends it before the link's own technical alarm.
 */
import t from 'tap';
import { startOximeterAgent } from '../support/oximeter-agent';

/** The Rad-8 line form (docs/interfaces/masimo-ascii.md, S4) with SpO2 95 % so NEWS2 stays quiet. */
const LINE = (alarm: string) =>
  Buffer.from(`01/01/26 10:00:00 SN=0000056661 SPO2=096% BPM=072 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=${alarm} EXC=000800`);

t.test('REQ-ALARM-007 HAZ-019 through the agent: the device SpO2-low bit raises its relayed alarm, the first line without clears it, a stale link ends it', async (t) => {
  const { clock, agent, driver, alarms, feed } = startOximeterAgent(t);
  const seen = () => alarms.map((a) => `${a.alarmId}:${a.kind}:${a.priority}:${a.state}`);

  feed(LINE('0000'));
  t.same(seen(), [], 'no bit, no alarm');
  feed(LINE('0012'));
  t.same(seen(), ['spo2.device-spo2-low:ALARM_KIND_PHYSIOLOGICAL:ALARM_PRIORITY_MEDIUM:ALARM_STATE_ACTIVE'], 'raised on the first line with the bit');
  t.equal(alarms[0]?.source, 'spo2');
  t.equal(alarms[0]?.detail, 'device Masimo Rad-8 SN 0000056661 on spo2: SpO2 low limit (ALARM bit 0x0002), alarm active at the device');
  feed(LINE('0012'));
  t.equal(alarms.length, 1, 'the same line again announces nothing');
  t.equal(driver.snapshot().counters['device-alarms-relayed'], 1, 'the raise is counted on the interface');
  feed(LINE('0000'));
  t.same(seen().slice(1), ['spo2.device-spo2-low:ALARM_KIND_PHYSIOLOGICAL:ALARM_PRIORITY_MEDIUM:ALARM_STATE_CLEARED'], 'cleared on the first line without it');

  feed(LINE('0052'));
  t.same(seen().slice(2), [
    'spo2.device-spo2-low:ALARM_KIND_PHYSIOLOGICAL:ALARM_PRIORITY_MEDIUM:ALARM_STATE_ACTIVE',
    'spo2.device-alarm-unconfirmed.0x0040:ALARM_KIND_PHYSIOLOGICAL:ALARM_PRIORITY_MEDIUM:ALARM_STATE_ACTIVE',
  ], 'again, with a bit of unconfirmed meaning relayed by its raw value');
  t.equal(driver.snapshot().counters['device-alarms-relayed'], 3);
  clock.advanceMs(3500);
  agent.tick();
  t.same(seen().slice(4), [
    'spo2.device-spo2-low:ALARM_KIND_PHYSIOLOGICAL:ALARM_PRIORITY_MEDIUM:ALARM_STATE_CLEARED',
    'spo2.device-alarm-unconfirmed.0x0040:ALARM_KIND_PHYSIOLOGICAL:ALARM_PRIORITY_MEDIUM:ALARM_STATE_CLEARED',
    'spo2.link-stale:ALARM_KIND_TECHNICAL:ALARM_PRIORITY_MEDIUM:ALARM_STATE_ACTIVE',
  ], 'a stale link ends the device\'s alarms; its own technical alarm is what the station sees');
});
