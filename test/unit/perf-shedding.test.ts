/**
 * Load shedding (agent/src/publish/shedding.ts) and alarms ahead of the delivery backlog
 * (agent/src/publish/delivery.ts): the stated order is extras, then vitals and scores, never
 * alarms. Fake clock, store in memory, a fake MQTT link whose PUBACKs the test controls.
 * The system-level figures (what gives first at N patches) are in docs/benchmarks.md.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { FakeClock } from '../../agent/src/clock';
import { MemoryQueueStore } from '../../agent/src/io/durable-queue';
import type { PublishOptions } from '../../agent/src/io/mqtt';
import { memoryLogger } from '../../agent/src/log';
import type { Observation } from '../../agent/src/model/observation';
import type { ParameterCode } from '../../agent/src/model/parameters';
import { PARAMETER_CODES } from '../../agent/src/model/parameters';
import type { AlarmMsg, EnvelopeMsg } from '../../agent/src/proto/codec';
import { decodeEnvelope } from '../../agent/src/proto/codec';
import { Delivery } from '../../agent/src/publish/delivery';
import { Outbox } from '../../agent/src/publish/outbox';
import type { MessageSink } from '../../agent/src/publish/publisher';
import { Publisher } from '../../agent/src/publish/publisher';
import { LoadShedder, observationClass } from '../../agent/src/publish/shedding';

const identity = { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const POLICY = { extrasAboveBacklog: 100, vitalsAboveBacklog: 400, saturatedUtilization: 0.9, calmUtilization: 0.7, trendMs: 2000 };

function obs(clock: FakeClock, parameter: ParameterCode, value: number): Observation {
  return {
    parameter,
    value,
    unitUcum: '%',
    status: 'final',
    quality: [],
    source: { driver: 'vigil-patch', interfaceId: 'patch', serialNumber: '', port: '/dev/x' },
    deviceTimeMs: clock.wallMs(),
    deviceTimeText: '',
    receiveWallMs: clock.wallMs(),
    receiveMonoNs: clock.monoNs(),
    unavailableReason: '',
  };
}

function alarm(clock: FakeClock, n: number): AlarmMsg {
  return {
    alarmId: `patch.sensor-off-${n}`,
    kind: 'ALARM_KIND_TECHNICAL',
    priority: 'ALARM_PRIORITY_MEDIUM',
    condition: 'sensor-off',
    state: 'ALARM_STATE_ACTIVE',
    source: 'patch',
    detail: 'device reports sensor off or no sensor',
    raisedWallMs: clock.wallMs(),
    changedWallMs: clock.wallMs(),
  };
}

/** Feeds readings every 250 ms (the agent's tick) and returns the level after the last; the loop is 10 % busy unless told. */
function drive(shedder: LoadShedder, clock: FakeClock, readings: Array<{ backlog: number; connected?: boolean; utilization?: number }>): number {
  let level = 0;
  for (const r of readings) {
    clock.advanceMs(250);
    level = shedder.update({ backlog: r.backlog, connected: r.connected ?? true, loopUtilization: r.utilization ?? 0.1 });
  }
  return level;
}

/** `seconds` of readings every 250 ms at this utilization and backlog. */
const busy = (seconds: number, utilization: number, backlog = 0, connected = true): Array<{ backlog: number; utilization: number; connected: boolean }> =>
  Array.from({ length: seconds * 4 }, () => ({ backlog, utilization, connected }));

const ramp = (from: number, to: number, steps: number): Array<{ backlog: number }> =>
  Array.from({ length: steps }, (_, i) => ({ backlog: Math.round(from + ((to - from) * (i + 1)) / steps) }));

class RecordingSink implements MessageSink {
  readonly sent: EnvelopeMsg[] = [];
  async publish(_topic: string, payload: Uint8Array): Promise<void> {
    this.sent.push(decodeEnvelope(payload));
  }
}

t.test('REQ-PERF-001 a growing delivery backlog sheds extras first, then vitals and scores, and never alarms', async (t) => {
  t.equal(observationClass('perfusionIndex'), 'extra', 'the perfusion index (a waveform extra, not a NEWS2 input) is an extra');
  t.equal(observationClass('skinTemperature'), 'extra', 'skin temperature is an extra');
  for (const p of ['spo2', 'heartRate', 'pulseRate', 'respRate'] as const) t.equal(observationClass(p), 'vital', `${p} is a vital`);
  t.ok(
    PARAMETER_CODES.every((p) => observationClass(p) === 'extra' || observationClass(p) === 'vital'),
    'every parameter has a class',
  );

  const clock = new FakeClock();
  const shedder = new LoadShedder(clock, POLICY);
  t.equal(drive(shedder, clock, ramp(0, 90, 12)), 0, 'below the first threshold: nothing shed');
  t.ok(shedder.admit('extra') && shedder.admit('vital') && shedder.admit('score') && shedder.admit('alarm'), 'everything admitted');
  t.equal(drive(shedder, clock, ramp(90, 300, 12)), 1, 'growing above the first threshold: level 1');
  t.notOk(shedder.admit('extra'), 'extras are shed');
  t.ok(shedder.admit('vital') && shedder.admit('score'), 'vitals and scores still admitted');
  t.ok(shedder.admit('alarm'), 'alarms admitted');
  t.equal(drive(shedder, clock, ramp(300, 600, 12)), 2, 'still growing above the second threshold: level 2');
  t.notOk(shedder.admit('extra') || shedder.admit('vital') || shedder.admit('score'), 'extras, vitals and scores are shed');
  let alarmsAdmitted = 0;
  for (let i = 0; i < 1000; i += 1) if (shedder.admit('alarm')) alarmsAdmitted += 1;
  t.equal(alarmsAdmitted, 1000, 'every alarm admitted at the highest level');
  const c = shedder.counters();
  t.equal(c['shed.extra'], 2, 'each shed message is counted by class');
  t.equal(c['shed.vital'], 1);
  t.equal(c['shed.score'], 1);
  t.equal(c['shed.alarm'], undefined, 'no alarm ever counted as shed');
  t.equal(c['shed-level'], 2, 'the level is reported');

  t.equal(drive(shedder, clock, ramp(600, 150, 12)), 1, 'the backlog drains below half the second threshold: back to level 1');
  t.equal(drive(shedder, clock, ramp(150, 40, 12)), 0, 'below half the first: nothing shed');
  t.ok(shedder.admit('extra'), 'extras admitted again');

  // The publisher asks before building: a shed message takes no sequence number, so the
  // station sees no gap, only the counters (and the agent's load-shedding alarm).
  const sink = new RecordingSink();
  const publisher = new Publisher(sink, identity, clock, memoryLogger(), shedder);
  drive(shedder, clock, ramp(40, 300, 12));
  t.equal(shedder.currentLevel, 1);
  await publisher.observation(obs(clock, 'spo2', 97), 5000);
  await publisher.observation(obs(clock, 'perfusionIndex', 3), 5000);
  await publisher.alarm(alarm(clock, 1));
  await publisher.score({} as never);
  t.same(
    sink.sent.map((e) => (e.observation ? e.observation.parameter : e.alarm ? 'alarm' : 'score')),
    ['spo2', 'alarm', 'score'],
    'at level 1 the extra is not sent; the vital, the alarm and the score are',
  );
  t.same(sink.sent.map((e) => Number(e.sequence)), [1, 2, 3], 'contiguous sequence numbers: nothing lost in transit');
});

t.test('REQ-PERF-002 nothing is shed while the broker is unreachable or while a backlog drains', async (t) => {
  const clock = new FakeClock();
  const shedder = new LoadShedder(clock, POLICY);
  const offline = ramp(0, 5000, 40).map((r) => ({ ...r, connected: false }));
  t.equal(drive(shedder, clock, offline), 0, 'an outage grows the backlog far beyond both thresholds: store and forward, nothing shed');
  t.equal(drive(shedder, clock, ramp(5000, 4000, 40)), 0, 'reconnected, the outage backlog drains (shrinks): nothing shed');
  t.equal(drive(shedder, clock, ramp(4000, 4000, 12)), 0, 'a large backlog that does not grow: nothing shed');
  t.equal(drive(shedder, clock, ramp(4000, 4200, 12)), 2, 'growing again while connected: overload, shed');
  t.equal(drive(shedder, clock, [{ backlog: 4300, connected: false }]), 0, 'the broker goes away: shedding stops at once');
  t.same(
    [shedder.admit('extra'), shedder.admit('vital'), shedder.admit('score'), shedder.admit('alarm')],
    [true, true, true, true],
    'everything is queued for later',
  );
});

interface Sent {
  env: EnvelopeMsg;
  ack(): void;
}

class FakeLink extends EventEmitter {
  connected = true;
  readonly sent: Sent[] = [];
  publish(_topic: string, payload: Uint8Array, _options: PublishOptions): Promise<void> {
    return new Promise((resolve) => this.sent.push({ env: decodeEnvelope(payload), ack: resolve }));
  }
  async end(): Promise<void> {}
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 50; i += 1) await new Promise((r) => setImmediate(r));
};

t.test('REQ-PERF-003 a queued alarm is sent ahead of a backlog of observations, once', async (t) => {
  const clock = new FakeClock();
  const logger = memoryLogger();
  const link = new FakeLink();
  const outbox = await Outbox.open(new MemoryQueueStore(), { maxBytes: 10_000_000, maxAgeMs: 3_600_000 }, clock, logger);
  const delivery = new Delivery(outbox, link, clock, logger, { maxInFlight: 4 });
  const publisher = new Publisher(delivery, identity, clock, logger);
  for (let v = 0; v < 40; v += 1) await publisher.observation(obs(clock, 'spo2', 60 + v), 5000);
  await settle();
  t.equal(link.sent.length, 4, 'four observations in flight, 36 waiting: a backlog');
  await publisher.alarm(alarm(clock, 1));
  await publisher.alarm(alarm(clock, 2));
  await settle();
  link.sent[0]!.ack();
  await settle();
  t.equal(link.sent[4]?.env.alarm?.alarmId, 'patch.sensor-off-1', 'the first free slot goes to the first alarm, not to the 5th observation');
  link.sent[1]!.ack();
  await settle();
  t.equal(link.sent[5]?.env.alarm?.alarmId, 'patch.sensor-off-2', 'then the second alarm, in order');
  // Drain everything.
  for (let guard = 0; guard < 200 && link.sent.some((s) => !(s as Sent & { done?: boolean }).done); guard += 1) {
    for (const s of link.sent) {
      const d = s as Sent & { done?: boolean };
      if (!d.done) {
        d.done = true;
        s.ack();
      }
    }
    await settle();
  }
  const alarms = link.sent.filter((s) => s.env.alarm);
  t.equal(alarms.length, 2, 'each alarm sent exactly once (the in-order pass skips it)');
  const values = link.sent.filter((s) => s.env.observation).map((s) => s.env.observation!.value);
  t.same(values, Array.from({ length: 40 }, (_, v) => 60 + v), 'the observations still go in order, none lost or repeated');
  t.equal(delivery.counters()['queue-depth'], 0, 'the queue is empty');
  t.equal(delivery.counters()['queue-delivered'], 42);
});

t.test('REQ-PERF-005 a saturated event loop sheds in the same order, a level per 2 s, and never alarms', async (t) => {
  const clock = new FakeClock();
  const shedder = new LoadShedder(clock, POLICY);
  t.equal(drive(shedder, clock, [...busy(1, 1.0), ...busy(1, 0.3)]), 0, 'a one-second burst (mean under 90 % over 2 s): nothing shed');
  t.equal(drive(shedder, clock, busy(2, 0.95)), 1, 'saturated for 2 s with no backlog at all: extras shed');
  t.ok(shedder.admit('vital') && shedder.admit('alarm'), 'vitals and alarms still admitted');
  t.notOk(shedder.admit('extra'), 'extras shed');
  t.equal(drive(shedder, clock, busy(1, 0.95)), 1, 'one level per 2 s, not faster');
  t.equal(drive(shedder, clock, busy(1, 0.95)), 2, 'still saturated 2 s later: vitals and scores shed too');
  t.notOk(shedder.admit('vital') || shedder.admit('score'), 'vitals and scores shed');
  t.ok(shedder.admit('alarm'), 'alarms admitted');
  t.equal(drive(shedder, clock, busy(4, 0.95)), 2, 'saturated for longer: still level 2 (alarms are never shed)');
  t.equal(drive(shedder, clock, busy(2, 0.8)), 2, 'between calm (70 %) and saturated: the level holds');
  t.equal(drive(shedder, clock, busy(2, 0.4)), 1, 'calm for 2 s: one level down');
  t.equal(drive(shedder, clock, busy(2, 0.4)), 0, 'and then none');
  t.equal(drive(shedder, clock, busy(3, 0.95, 50_000, false)), 1, 'short of CPU while the broker is away: shed as well (the CPU, not the queue, is short)');
  t.equal(drive(shedder, clock, busy(1, 0.2, 50_000, false)), 0, 'offline and calm again: nothing shed, the queue stores everything');
});
