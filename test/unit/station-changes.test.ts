/**
 * The station's partial `ward` events (docs/interfaces/station-web.md, GET /api/events) come from
 * StationModel.changes(): what changed since the previous call other than by ageing. Checked as a
 * browser uses them: every partial merged into the ward held must give the whole view, whatever
 * arrived meanwhile and however much time passed (ages, `runs` and `duplicates` aside: ages grow
 * on the page, the other two come with the whole ward).
 */
import t from 'tap';
import { encodeEnvelope } from '../../agent/src/proto/codec';
import type { AlarmMsg, EnvelopeMsg, ObservationMsg } from '../../agent/src/proto/codec';
import type { BedView, ValueView } from '../../agent/src/station/station';
import { StationModel } from '../../agent/src/station/station';
import { mergeBed } from '../support/ward-events';
import type { HeldBed } from '../support/ward-events';

const T0 = 1767261600000;
let seq = 0;

function env(bed: string, payload: Partial<EnvelopeMsg>, sentWallMs: number, extra: Partial<EnvelopeMsg> = {}): Uint8Array {
  seq += 1;
  return encodeEnvelope({
    schemaVersion: 1, gatewayId: `gw-${bed}`, siteId: 'site1', wardId: 'ward7', bedId: bed,
    messageId: `m-${seq}`, sequence: seq, bootId: 'boot', sentWallMs, ...payload, ...extra,
  });
}

function obs(parameter: string, interfaceId: string, value: number | null, receiveWallMs: number, maxAgeMs = 5000): ObservationMsg {
  return {
    parameter, value: value ?? 0, hasValue: value !== null, unitUcum: '%', loinc: '', status: 'RESULT_STATUS_FINAL', quality: [],
    source: { driver: 'masimo-ascii', interfaceId, serialNumber: '', port: '/dev/x' },
    deviceTimeMs: receiveWallMs, deviceTimeText: '', receiveWallMs, receiveMonoNs: '1', maxAgeMs,
    unavailableReason: value === null ? 'sensor-off' : '',
  };
}

function alarm(alarmId: string, state: string, wallMs: number): AlarmMsg {
  return {
    alarmId, kind: 'ALARM_KIND_TECHNICAL', priority: 'ALARM_PRIORITY_MEDIUM', condition: 'link-stale', state, source: 'spo2',
    detail: 'no data', raisedWallMs: wallMs, changedWallMs: wallMs,
  };
}

const status = (online: boolean, wallMs: number) => ({ status: { online, reason: online ? 'heartbeat' : 'last-will', interfaces: [], counters: [], startedWallMs: wallMs, heartbeatIntervalMs: 1000, softwareVersion: 't' } });

/** A view without what moves by itself or comes only with the whole ward. */
function comparable(bed: BedView | HeldBed): unknown {
  const { runs: _runs, duplicates: _duplicates, heartbeatAgeMs: _h, ...rest } = bed as BedView;
  return {
    ...rest,
    values: [...rest.values].map(({ ageMs: _a, ...v }) => v).sort((a, b) => `${a.parameter}@${a.interfaceId}`.localeCompare(`${b.parameter}@${b.interfaceId}`)),
    score: rest.score ? { ...rest.score, ageMs: 0 } : null,
  };
}

t.test('REQ-WEB-028 every partial merged into the ward held gives the whole view, through values, alarms, gaps, backfill and time alone', async (t) => {
  const m = new StationModel();
  const held = new Map<string, HeldBed>();
  const check = (nowMs: number, what: string): number => {
    const changes = m.changes(nowMs);
    for (const c of changes) held.set(c.bed, mergeBed(held.get(c.bed), c as HeldBed));
    const view = m.view(nowMs);
    t.same(view.map((b) => comparable(held.get(b.bed) as HeldBed)), view.map(comparable), `merged = whole view: ${what}`);
    return changes.length;
  };
  const topic = (bed: string, rest: string) => `vigil/v1/site1/ward7/${bed}/${rest}`;
  let now = T0;
  // Deterministic pseudo-random arrivals over 40 s for 3 beds (LCG: Numerical Recipes constants).
  let r = 12345;
  const rand = (): number => ((r = (r * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  for (const bed of ['bed1', 'bed2', 'bed3']) m.apply(topic(bed, 'status'), env(bed, status(true, now), now), now);
  check(now, 'first call: every bed whole');
  for (let step = 0; step < 400; step += 1) {
    now += 100;
    const bed = `bed${1 + Math.floor(rand() * 3)}`;
    const pick = rand();
    if (pick < 0.5) {
      const parameter = rand() < 0.5 ? 'spo2' : 'pulseRate';
      const source = rand() < 0.8 ? 'spo2' : 'monitor';
      m.apply(topic(bed, `obs/${parameter}`), env(bed, { observation: obs(parameter, source, rand() < 0.1 ? null : 90 + Math.floor(rand() * 10), now) }, now), now);
    } else if (pick < 0.6) {
      m.apply(topic(bed, 'score'), env(bed, { score: { scheme: 'NEWS2', total: Math.floor(rand() * 8), points: [], riskLevel: 'RISK_LEVEL_LOW', complete: true, missing: [], spo2Scale: 1, computedWallMs: now, computedMonoNs: '1', oldestInputWallMs: now } }, now), now);
    } else if (pick < 0.7) {
      m.apply(topic(bed, 'alarm/spo2.link-stale'), env(bed, { alarm: alarm('spo2.link-stale', rand() < 0.5 ? 'ALARM_STATE_ACTIVE' : 'ALARM_STATE_CLEARED', now) }, now), now);
    } else if (pick < 0.75) {
      // A late message from the queue (history), and a sequence number skipped (a gap).
      seq += 1;
      m.apply(topic(bed, 'obs/spo2'), env(bed, { observation: obs('spo2', 'spo2', 88, now - 30_000) }, now, { backfill: true }), now);
    } else if (pick < 0.8 && step < 300) {
      m.apply(topic(bed, 'status'), env(bed, status(rand() < 0.8, now), now), now);
    }
    // Nothing arrives in the last 100 steps: values, scores and gateways age out by time alone.
    if (step % 3 === 0 || step >= 300) check(now, `step ${step}`);
  }
  t.equal(check(now + 60_000, 'a minute later'), 3, 'each bed changed by time alone (values stopped, gateway lost)');
  t.equal(check(now + 60_100, 'nothing new'), 0, 'nothing changed: no bed in the partial');
});

t.test('REQ-WEB-028 a partial holds only the parts that changed: one new reading of one bed is that value alone, its number and age when it looks as before', async (t) => {
  const m = new StationModel();
  const now = T0;
  for (const bed of ['bed1', 'bed2']) {
    m.apply(`vigil/v1/site1/ward7/${bed}/status`, env(bed, status(true, now), now), now);
    m.apply(`vigil/v1/site1/ward7/${bed}/obs/spo2`, env(bed, { observation: obs('spo2', 'spo2', 97, now) }, now), now);
    m.apply(`vigil/v1/site1/ward7/${bed}/obs/pulseRate`, env(bed, { observation: obs('pulseRate', 'spo2', 70, now) }, now), now);
  }
  t.equal(m.changes(now).length, 2, 'the first call: both beds whole');
  m.apply('vigil/v1/site1/ward7/bed2/obs/spo2', env('bed2', { observation: obs('spo2', 'spo2', 95, now + 500) }, now + 500), now + 500);
  const changes = m.changes(now + 600);
  t.equal(changes.length, 1, 'one bed');
  t.same(Object.keys(changes[0] ?? {}).sort(), ['bed', 'values'], 'the bed and its values, nothing else');
  t.same(changes[0]?.values?.map((v) => [v.parameter, v.value]), [['spo2', 95]], 'the one value that arrived');
  t.same(Object.keys(changes[0]?.values?.[0] ?? {}).sort(), ['ageMs', 'interfaceId', 'parameter', 'value'], 'looking as it did: its number and age alone');
  m.apply('vigil/v1/site1/ward7/bed2/obs/spo2', env('bed2', { observation: obs('spo2', 'spo2', null, now + 700) }, now + 700), now + 700);
  const withdrawn = m.changes(now + 800)[0]?.values?.[0] as ValueView | undefined;
  t.same([withdrawn?.value, withdrawn?.current, withdrawn?.reason], [null, false, 'sensor-off'], 'a value whose look changed (withdrawn) comes whole');
});
