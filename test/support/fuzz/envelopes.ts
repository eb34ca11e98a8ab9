/**
 * Envelopes a gateway could publish, for fuzzing the station (HAZ-012): valid ones with any enum
 * number (protobufjs keeps a number it does not know, as a newer gateway's would be), and
 * seeded random ones. Shared by test/unit/station-fuzz.test.ts and the station fuzz target
 * (test/support/fuzz/targets.ts).
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';
import type { Rng } from '../../../hw-sim/src/rng';

const ROOT = join(__dirname, '..', '..', '..', '..');
const Envelope = protobuf.loadSync(join(ROOT, 'proto', 'vigil', 'v1', 'vigil.proto')).lookupType('vigil.v1.Envelope');
export const TOPIC = 'vigil/v1/site1/ward7/bed12/obs/spo2';
export const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);

/** Encodes without verification: protobufjs keeps a number it does not know for an enum, as a newer gateway's would be. */
export const raw = (obj: Record<string, unknown>): Uint8Array => Envelope.encode(Envelope.fromObject(obj)).finish();

export const base = (n: number, extra: Record<string, unknown>): Record<string, unknown> => ({
  schemaVersion: 1,
  gatewayId: 'gw-1',
  siteId: 'site1',
  wardId: 'ward7',
  bedId: 'bed12',
  messageId: `m-${n}`,
  sequence: n,
  bootId: 'boot-1',
  sentWallMs: NOW,
  ...extra,
});

export const observation = (status: number, quality: number[]) => ({
  observation: { parameter: 'spo2', value: 97, hasValue: true, unitUcum: '%', status, quality, receiveWallMs: NOW, receiveMonoNs: 1 },
});

export function randomValue(rng: Rng): unknown {
  switch (rng.int(0, 6)) {
    case 0:
      return rng.int(-5, 40);
    case 1:
      return '';
    case 2:
      return 'x'.repeat(rng.int(0, 300));
    case 3:
      return rng.int(0, 1) === 1;
    case 4:
      return String(rng.int(-1_000_000, 1_000_000) * 1_000_003);
    case 5:
      return [rng.int(0, 40), rng.int(0, 40)];
    default:
      return null;
  }
}

/** A random envelope: a payload of each kind with fields replaced by random values of fitting wire types where protobufjs accepts them. */
export function randomEnvelope(rng: Rng, n: number): Uint8Array {
  const kinds = [
    () => observation(rng.int(0, 20), [rng.int(0, 30), rng.int(0, 30)]),
    () => ({ alarm: { alarmId: `a.${rng.int(0, 3)}`, kind: rng.int(0, 9), priority: rng.int(0, 9), state: rng.int(0, 9), condition: 'c', source: 's', raisedWallMs: rng.int(-1, NOW), changedWallMs: rng.int(0, NOW) } }),
    () => ({ score: { total: rng.int(0, 30), riskLevel: rng.int(0, 9), complete: rng.int(0, 1) === 1, computedWallMs: rng.int(0, NOW), points: [{ parameter: 'spo2', points: rng.int(0, 5) }] } }),
    () => ({ status: { online: rng.int(0, 1) === 1, reason: 'r', heartbeatIntervalMs: rng.int(0, 100000), interfaces: [{ interfaceId: 'i', state: rng.int(0, 9), counters: [{ name: 'c', value: rng.int(0, 9) }] }] } }),
    () => ({ commandResult: { commandId: 'c', outcome: rng.int(0, 9) } }),
    () => ({}),
  ];
  const payload = kinds[rng.int(0, kinds.length - 1)]!();
  const env = base(rng.int(0, 3) === 0 ? rng.int(1, 5) : n, { ...payload, backfill: rng.int(0, 3) === 0 });
  if (rng.int(0, 4) === 0) env.sequence = rng.int(0, 3) === 0 ? 0 : rng.int(1, 1_000_000);
  if (rng.int(0, 4) === 0) env.sentWallMs = rng.int(-1000, NOW * 2);
  if (rng.int(0, 6) === 0) env.bootId = `boot-${rng.int(0, 3)}`;
  try {
    return raw(env);
  } catch {
    return raw(base(n, {}));
  }
}

