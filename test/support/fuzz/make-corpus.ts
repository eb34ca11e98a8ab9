/**
 * Writes the seed corpus of the TypeScript fuzz targets, test/fixtures/fuzz-corpus/<target>/:
 * valid inputs of each interface (the interface documents' example line, frames of every patch
 * type, the HL7 fixtures, commands of every action, envelopes of every kind), from which the
 * fuzzer's mutations start. Kept so that the corpus can be rebuilt and reviewed; a finding of
 * the fuzzer is added beside them by hand, named after its hazard.
 *
 *   node dist/test/support/fuzz/make-corpus.js
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeMasimoAscii, decodeMasimoAscii } from '../../../agent/src/drivers/masimo-ascii/protocol';
import { encodePatchFrame, type PatchFrame, type PatchPayload } from '../../../agent/src/drivers/vigil-patch/protocol';
import { frameMllp } from '../../../agent/src/framing/mllp';
import { encodeCommand } from '../../../agent/src/proto/codec';
import { buildCommand } from '../../../agent/src/station/commands';
import { createRng } from '../../../hw-sim/src/rng';
import { ackMessage, monitorMessage, thermometerFahrenheit, withTerminator } from '../hl7-pcd01-fixtures';
import { randomEnvelope } from './envelopes';
import { CORPUS_DIR } from './runner';

function write(target: string, files: Record<string, Uint8Array | string>): void {
  const dir = join(CORPUS_DIR, target);
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), typeof content === 'string' ? Buffer.from(content, 'latin1') : content);
}

// Masimo: the Rad-8 example line of docs/interfaces/masimo-ascii.md, re-encoded in every layout.
const RAD8 = '02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800';
const rad8 = decodeMasimoAscii(Buffer.from(RAD8, 'latin1'));
if (!rad8.ok) throw new Error(`the example line does not decode: ${rad8.detail}`);
write('masimo-ascii', {
  'rad8-example': RAD8,
  'radical5': encodeMasimoAscii(rad8.frame, { layout: 'radical5' }),
  'radical7-colour': encodeMasimoAscii({ ...rad8.frame, pviPercent: 14, exception1Bits: 0 }, { layout: 'radical7-colour' }),
  'leading-nul': `\0\0${RAD8}`,
});

// Patch: one frame of every type the patch sends or receives, without the 0x00 delimiter.
const frame = (payload: PatchPayload, sequence: number): PatchFrame => ({ version: 1, serial: '00C0FFEE', sequence, tickMs: 65_536 + sequence, payload });
const payloads: Array<[string, PatchPayload]> = [
  ['ecg', { type: 'ecg', sampleRateHz: 250, samples: Int16Array.from([0, 120, 900, -300, 40, 0]) }],
  ['ppg', { type: 'ppg', sampleRateHz: 100, red: Uint32Array.from([200_000, 200_500, 201_000]), ir: Uint32Array.from([300_000, 300_800, 301_500]) }],
  ['accel', { type: 'accel', sampleRateHz: 25, x: Int16Array.from([1, 2]), y: Int16Array.from([3, 4]), z: Int16Array.from([1000, 1001]) }],
  ['status', { type: 'status', flags: 0, conditions: [], unknownFlagBits: 0, skinTempCelsius: 33.5, batteryPercent: 80, batteryMv: 3900 }],
  ['identity', { type: 'identity', firmware: { major: 1, minor: 2, patch: 3 }, hardwareRevision: 2, model: 'VP-1' }],
  ['start', { type: 'start' }],
  ['set-rate', { type: 'set-rate', stream: 'ecg', sampleRateHz: 250 }],
  ['keep-alive', { type: 'keep-alive' }],
];
write('vigil-patch', Object.fromEntries(payloads.map(([name, p], i) => [name, encodePatchFrame(frame(p, i + 1)).subarray(0, -1)])));

// HL7: the monitor and thermometer fixtures, an ACK, CR LF terminators.
write('hl7-pcd01', {
  'monitor': monitorMessage(),
  'monitor-crlf': withTerminator(monitorMessage(), '\r\n'),
  'thermometer-fahrenheit': thermometerFahrenheit(),
  'ack-ae': ackMessage('AE', 'X'),
});

// MLLP: [chunk size byte][bound byte] then a stream: two blocks, noise, a block cut short.
const header = (chunk: number, bound: number): Buffer => Buffer.from([chunk, bound]);
const small = 'MSH|^~\\&|A|B|||20260101||ORU^R01|1|P|2.6\rPID|||1\r';
write('mllp', {
  'two-blocks': Buffer.concat([header(7, 7), frameMllp(small), frameMllp(small)]),
  'noise-and-truncated': Buffer.concat([header(1, 1), Buffer.from('xx\r\n'), frameMllp(small), Buffer.from([0x0b]), Buffer.from(small)]),
  'over-long': Buffer.concat([header(63, 0), frameMllp(small.repeat(4)), frameMllp(small)]),
});

// Commands: one of every action.
const bed = { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };
const WALL_MS = Date.UTC(2026, 0, 1);
const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
write('command', {
  'observe': encodeCommand(buildCommand({ kind: 'observe', consciousness: 'V', onOxygen: true, spo2Scale: 2 }, bed, 'nurse a', 'station-1', WALL_MS, uuid(1))),
  'ack': encodeCommand(buildCommand({ kind: 'ack', alarmId: 'spo2.link-lost' }, bed, 'nurse a', 'station-1', WALL_MS, uuid(2))),
  'silence': encodeCommand(buildCommand({ kind: 'silence', alarmId: 'spo2.link-lost', durationSec: 120 }, bed, 'nurse a', 'station-1', WALL_MS, uuid(3))),
  'confirm-device': encodeCommand(buildCommand({ kind: 'confirm-device', interfaceId: 'spo2', serialNumber: '1234567890' }, bed, 'nurse a', 'station-1', WALL_MS, uuid(4))),
});

// Station: records [topic byte][length byte][envelope], from the seeded envelopes of station-fuzz.
const rng = createRng(20261207);
const station: Record<string, Uint8Array> = {};
for (let f = 0; f < 8; f++) {
  const records: Buffer[] = [];
  for (let i = 0; i < 6; i++) {
    const env = randomEnvelope(rng, f * 10 + i + 1);
    if (env.length > 255) continue;
    records.push(Buffer.from([rng.int(0, 3), env.length]), Buffer.from(env));
  }
  station[`envelopes-${f}`] = Buffer.concat(records);
}
write('station', station);
process.stdout.write(`written ${CORPUS_DIR}\n`);
