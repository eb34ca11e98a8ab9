import t from 'tap';
import { FakeClock } from '../../agent/src/clock';
import { watchdogIntervalFromEnv } from '../../agent/src/io/systemd';
import { LoopMonitor, ProgressGate } from '../../agent/src/safety/watchdog';

t.test('REQ-SAFE-011 the watchdog gate passes only while every mandatory stage shows progress or a declared reason', async (t) => {
  const clock = new FakeClock();
  const gate = new ProgressGate(clock);
  gate.register('driver:spo2', 6000);
  gate.register('publisher', 10000);
  t.ok(gate.check().ok, 'fresh');
  clock.advanceMs(5000);
  gate.progress('driver:spo2');
  clock.advanceMs(5001);
  t.same(gate.check().failing.map((f) => f.stage), ['publisher'], 'a silent publisher fails the gate');
  gate.declare('publisher', 'broker-unreachable: queueing');
  t.ok(gate.check().ok, 'a declared reason counts');
  t.same(gate.reasons(), { 'driver:spo2': null, publisher: 'broker-unreachable: queueing' });
  clock.advanceMs(6001);
  t.same(gate.check().failing.map((f) => f.stage).sort(), ['driver:spo2'], 'a declaration must be renewed; the driver went silent');
});

t.test('REQ-SAFE-012 an event-loop stall beyond the bound is detected and measured', async (t) => {
  const clock = new FakeClock();
  const stalls: number[] = [];
  const m = new LoopMonitor(clock, 100, 500, (lag) => stalls.push(lag));
  clock.advanceMs(110);
  m.sample();
  t.same(stalls, [], 'a 10 ms lag is no stall');
  clock.advanceMs(1600);
  m.sample();
  t.same(stalls, [1500], 'a 1.5 s block is a stall');
  t.equal(m.stalls, 1);
  t.equal(Math.round(m.worstLagMs), 1500);
});

t.test('REQ-SAFE-010 the watchdog period comes from WATCHDOG_USEC, only for this process', async (t) => {
  t.equal(watchdogIntervalFromEnv({ WATCHDOG_USEC: '10000000' }, 42), 10000);
  t.equal(watchdogIntervalFromEnv({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '42' }, 42), 10000);
  t.equal(watchdogIntervalFromEnv({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '7' }, 42), null);
  t.equal(watchdogIntervalFromEnv({}, 42), null);
  t.equal(watchdogIntervalFromEnv({ WATCHDOG_USEC: 'x' }, 42), null);
});
