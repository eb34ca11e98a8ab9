/**
 * The station must survive anything a gateway can publish (HAZ-012): enum values this build does
 * not know (a newer gateway, or a forged message with a gateway's certificate) are shown as
 * "unknown" and counted; fuzzed envelopes and bytes never throw in the station model, its views
 * or its rendering. Randomised cases are seeded; a failure prints its seed (STATION_FUZZ_SEED
 * reruns one).
 */
import t from 'tap';
import { decodeEnvelopeChecked } from '../../agent/src/proto/codec';
import { renderStation, StationModel } from '../../agent/src/station/station';
import { createRng } from '../../hw-sim/src/rng';
import { base, NOW, observation, randomEnvelope, randomValue, raw, TOPIC } from '../support/fuzz/envelopes';

t.test('HAZ-012 REQ-STATION-020 an unknown enum value is shown as unknown and counted; the station does not crash', async (t) => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['observation.status 8 (one past the last)', observation(8, []), 'observation.status=8'],
    ['an unknown quality flag', observation(1, [1, 99]), 'observation.quality=99'],
    ['alarm kind, priority and state', { alarm: { alarmId: 'spo2.link-lost', kind: 9, priority: 9, state: 9, condition: 'link-lost', source: 'spo2', raisedWallMs: NOW, changedWallMs: NOW } }, 'alarm.kind=9'],
    ['risk level', { score: { total: 3, riskLevel: 9, complete: false, computedWallMs: NOW } }, 'score.riskLevel=9'],
    ['interface link state', { status: { online: true, reason: 'heartbeat', interfaces: [{ interfaceId: 'spo2', driver: 'x', state: 42 }] } }, 'status.interfaces.state=42'],
    ['command outcome', { commandResult: { commandId: 'c', outcome: 7 } }, 'commandResult.outcome=7'],
  ];
  for (const [i, [what, payload, named]] of cases.entries()) {
    for (const backfill of [false, true]) {
      const bytes = raw(base(i * 2 + (backfill ? 2 : 1), { ...payload, backfill }));
      t.ok(decodeEnvelopeChecked(bytes).unknownEnums.includes(named), `${what}: the decoder names ${named}`);
      const station = new StationModel();
      t.doesNotThrow(() => {
        station.apply(TOPIC, bytes, NOW);
        renderStation(station.view(NOW + 1000), NOW + 1000);
        JSON.stringify(station.view(NOW + 1000));
      }, `${what}${backfill ? ' (backfill, in the history)' : ''}: no crash`);
      t.ok(station.unknownEnums >= 1, `${what}: counted`);
    }
  }
  const station = new StationModel();
  station.apply(TOPIC, raw(base(100, observation(8, [99]))), NOW);
  const value = station.view(NOW + 500)[0]?.values.find((v) => v.parameter === 'spo2');
  t.equal(value?.status, 'unknown', 'the status is shown as unknown');
  t.ok(value?.quality.includes('unknown'), 'the flag is shown as unknown');
  t.notOk(value?.current, 'a value of unknown status is never shown as current');
});

t.test('HAZ-012 REQ-STATION-020 the station model survives fuzzed envelopes and bytes (seeded)', async (t) => {
  const fromEnv = process.env['STATION_FUZZ_SEED'];
  const seed = fromEnv !== undefined && /^\d+$/.test(fromEnv) ? Number(fromEnv) : 20261207;
  const rng = createRng(seed);
  const station = new StationModel();
  let thrown: string | null = null;
  for (let i = 0; i < 3000 && thrown === null; i++) {
    let bytes: Uint8Array;
    if (rng.int(0, 9) === 0) {
      bytes = Uint8Array.from({ length: rng.int(0, 64) }, () => rng.int(0, 255));
    } else {
      bytes = randomEnvelope(rng, i + 1);
      if (rng.int(0, 9) === 0 && bytes.length > 0) bytes[rng.int(0, bytes.length - 1)] = rng.int(0, 255);
    }
    const topic = rng.int(0, 19) === 0 ? `vigil/v1/${String(randomValue(rng))}` : TOPIC;
    try {
      station.apply(topic, bytes, NOW + i);
      if (i % 50 === 0) renderStation(station.view(NOW + i + rng.int(0, 600_000)), NOW + i);
    } catch (err) {
      thrown = `case ${i} (seed ${seed}): ${(err as Error).stack ?? String(err)}`;
    }
  }
  t.equal(thrown, null, `no input throws (seed ${seed})`);
  t.doesNotThrow(() => renderStation(station.view(NOW + 10_000_000), NOW + 10_000_000), 'the final view renders');
  t.ok(station.unknownEnums > 0 && station.undecodable > 0, 'the fuzz reached unknown enums and undecodable bytes');
});
