/**
 * System test of the device alarms the gateway relays: hw-sim's pulse oximeter through a real
 * pseudo-terminal, the real agent process, a real Mosquitto, a subscriber and the real station
 * (`vigil station --json`). Nothing here is mocked.
 */
import t from 'tap';
import { startDesaturationBed } from '../support/desaturation-bed';
import { until } from '../support/observer';

t.test('REQ-ALARM-007 HAZ-019 through a pty and Mosquitto: the oximeter SpO2-low alarm of the desaturation scenario reaches the station with its source and state, and clears when the device ends it', async (t) => {
  // hw-sim's desaturation with seed 7 (hw-sim/src/scenarios.ts): SpO2 is below the device's low
  // limit of 90 % from device second 29 to 81 without a break, so the device sets ALARM 0x0012
  // (SpO2 low limit + alarm active) on exactly those lines: one alarm, raised once, ended once.
  const { sub, sim, agent, views } = await startDesaturationBed(t, 'devalarm');

  const device = () => sub.got.filter((r) => r.env.alarm?.condition.startsWith('device-')).map((r) => ({ topic: r.topic, alarm: r.env.alarm! }));
  const raised = await until('device-spo2-low raised', () => device().find((a) => a.alarm.state === 'ALARM_STATE_ACTIVE'), 30_000);
  t.equal(raised.alarm.condition, 'device-spo2-low', 'the device\'s SpO2-low limit alarm');
  t.match(raised.topic, /\/alarm\/spo2\.device-spo2-low$/, 'on its own alarm topic');
  t.equal(raised.alarm.alarmId, 'spo2.device-spo2-low');
  t.equal(raised.alarm.source, 'spo2', 'the interface of the device');
  t.equal(raised.alarm.kind, 'ALARM_KIND_PHYSIOLOGICAL');
  t.equal(raised.alarm.priority, 'ALARM_PRIORITY_MEDIUM', 'the catalogue priority');
  t.equal(
    raised.alarm.detail,
    'device Masimo Rad-8 SN 0000012345 on spo2: SpO2 low limit (ALARM bit 0x0002), alarm active at the device',
    'the source device (model, serial), the device\'s alarm id and its state',
  );
  t.ok(sim.frames.some((f) => typeof f.spo2Percent === 'number' && f.spo2Percent < 90), 'hw-sim had sent SpO2 below the limit before the alarm');

  const shown = await until('the station to show the device alarm', () =>
    views.map((v) => v.beds[0]?.alarms.find((a) => a.condition === 'device-spo2-low')).find((a) => a !== undefined),
  );
  t.equal(shown.origin, 'device', 'shown as the device\'s alarm, apart from the gateway\'s');
  t.equal(shown.source, 'spo2');
  t.equal(shown.priority, 'medium');

  const cleared = await until('device-spo2-low cleared when the device ends it', () => device().find((a) => a.alarm.state === 'ALARM_STATE_CLEARED'), 60_000);
  t.equal(cleared.alarm.alarmId, 'spo2.device-spo2-low');
  t.ok(sim.frames.some((f) => typeof f.index === 'number' && f.index >= 82), 'cleared once hw-sim sent the first line at 90 % or more (device second 82)');
  // Active alarms are re-announced periodically (publish/publisher.ts): repeats of one state collapse.
  const changes = device()
    .map((a) => `${a.alarm.alarmId}:${a.alarm.state}`)
    .filter((x, i, all) => i === 0 || all[i - 1] !== x);
  t.same(changes, ['spo2.device-spo2-low:ALARM_STATE_ACTIVE', 'spo2.device-spo2-low:ALARM_STATE_CLEARED'], 'raised once, cleared once, no other device alarm');
  await until('the station to drop the cleared alarm', () => {
    const last = views.at(-1)?.beds[0];
    return last !== undefined && !last.alarms.some((a) => a.condition === 'device-spo2-low');
  });
  t.equal(agent.process.exitCode, null, 'agent still running');
});
