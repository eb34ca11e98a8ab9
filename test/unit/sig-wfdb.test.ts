/**
 * The WFDB reader (agent/src/io/wfdb.ts) on byte fixtures and on a tiny record written to a
 * temporary folder: header fields, format 212 (both nibble halves, negative values),
 * format 16, annotations (SKIP, SUB, AUX, beat codes) and its errors.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  WfdbError,
  decodeSignals,
  encode212,
  encodeAnnotations,
  isBeat,
  parseAnnotations,
  parseHeader,
  readAnnotations,
  readRecord,
} from '../../agent/src/io/wfdb';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

t.test('REQ-SIG-006 a header is parsed like the MIT-BIH ones', async (t) => {
  const h = parseHeader('# comment\n101 2 360 650000\n101.dat 212 200 11 1024 955 29832 0 MLII\n101.dat 212 200 11 1024 992 19589 0 V1\n# 75 F\n');
  t.same(
    { name: h.recordName, fs: h.sampleRateHz, n: h.samplesPerSignal },
    { name: '101', fs: 360, n: 650000 },
  );
  t.same(h.signals[0], { fileName: '101.dat', format: 212, gain: 200, baseline: 1024, units: 'mV', description: 'MLII' });
  t.equal(h.signals[1]?.description, 'V1');
  // Gain with an explicit baseline and unit; the counter frequency after a slash.
  const g = parseHeader('r 1 250/1000 10\nr.dat 16 1000(-5)/uV 16 0 0 0 0 lead I\n');
  t.same({ fs: g.sampleRateHz, gain: g.signals[0]?.gain, baseline: g.signals[0]?.baseline, units: g.signals[0]?.units, d: g.signals[0]?.description }, {
    fs: 250,
    gain: 1000,
    baseline: -5,
    units: 'uV',
    d: 'lead I',
  });
  for (const [text, fragment] of [
    ['', 'record line'],
    ['r 0 360', 'number of signals'],
    ['r 1 abc', 'sampling frequency'],
    ['r 2 360\nr.dat 212 200', 'signal line 2'],
    ['r/2 1 360', 'multi-segment'],
  ] as const) {
    const err = thrown(() => parseHeader(text, 'x.hea'));
    t.ok(err instanceof WfdbError, `${JSON.stringify(text)} is rejected`);
    t.match((err as Error).message, fragment);
    t.equal((err as WfdbError).code, 'WFDB_INVALID');
  }
});

t.test('REQ-SIG-006 format 212 packs two 12-bit samples in three bytes', async (t) => {
  // From the WFDB signal(5) page: the first sample's low 8 bits, then the high nibbles
  // (second sample's in the upper half), then the second sample's low 8 bits.
  const bytes = Uint8Array.from([0x34, 0xf2, 0xff, 0x00, 0x08, 0x07]);
  const [a, b] = decodeSignals(bytes, 212, 2);
  t.same(Array.from(a ?? []), [0x234, -2048]);
  t.same(Array.from(b ?? []), [-1, 7]);
  // Round trip with negative values, an odd count and one signal.
  const values = Int32Array.from([-2048, -1, 0, 1, 2047, 1000, -999]);
  t.same(Array.from(decodeSignals(encode212([values]), 212, 1)[0] ?? []).slice(0, values.length), Array.from(values));
  const twoSignals = [Int32Array.from([5, -6, 7]), Int32Array.from([-100, 200, -300])];
  t.same(decodeSignals(encode212(twoSignals), 212, 2).map((s) => Array.from(s)), twoSignals.map((s) => Array.from(s)));
  // Format 16, little endian, interleaved.
  const f16 = new Uint8Array(8);
  const view = new DataView(f16.buffer);
  [1, -2, 300, -32768].forEach((v, i) => view.setInt16(i * 2, v, true));
  t.same(decodeSignals(f16, 16, 2).map((s) => Array.from(s)), [[1, 300], [-2, -32768]]);
  t.ok(thrown(() => decodeSignals(f16, 80, 1, 'x.dat')) instanceof WfdbError, 'other formats are named errors');
});

t.test('REQ-SIG-006 MIT annotations: times, SKIP, SUB, AUX and beat codes', async (t) => {
  const encoded = encodeAnnotations([
    { sample: 18, code: 28 },
    { sample: 77, code: 1 },
    { sample: 370, code: 5 },
    { sample: 100_000, code: 1 },
    { sample: 100_200, code: 14, subtype: 48 },
  ]);
  const parsed = parseAnnotations(encoded);
  t.same(
    parsed.map((a) => [a.sample, a.code, a.subtype]),
    [
      [18, 28, 0],
      [77, 1, 0],
      [370, 5, 0],
      [100_000, 1, 0],
      [100_200, 14, 48],
    ],
  );
  // An AUX string after a rhythm annotation ("(N" plus its terminating NUL, even length).
  const aux = Uint8Array.from([0x0a, 0x70, 0x03, 0xfc, 0x28, 0x4e, 0x00, 0x00, 0x05, 0x04, 0x00, 0x00]);
  const withAux = parseAnnotations(aux);
  t.same(withAux.map((a) => [a.sample, a.code]), [[10, 28], [15, 1]]);
  t.match(withAux[0]?.aux ?? '', /^\(N/);
  t.same([1, 2, 5, 8, 12, 13, 25, 30, 34, 35, 38, 41].map(isBeat), Array(12).fill(true), 'beat codes');
  t.same([0, 14, 16, 22, 28, 31, 32, 33, 37].map(isBeat), Array(9).fill(false), 'noise, rhythm, comments, x, ! and [ ] are not beats');
});

t.test('REQ-SIG-006 a tiny record written to a temporary folder reads back in physical units', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-wfdb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const adc0 = Int32Array.from({ length: 11 }, (_, i) => 1024 + (i - 5) * 100);
  const adc1 = Int32Array.from({ length: 11 }, (_, i) => -i);
  writeFileSync(join(dir, 'tiny.hea'), 'tiny 2 360 10\ntiny.dat 212 200 11 1024 0 0 0 MLII\ntiny.dat 212 100(0)/mV 11 0 0 0 0 V1\n');
  writeFileSync(join(dir, 'tiny.dat'), encode212([adc0, adc1]));
  writeFileSync(join(dir, 'tiny.atr'), encodeAnnotations([{ sample: 3, code: 1 }, { sample: 8, code: 5 }]));
  const record = readRecord(join(dir, 'tiny'));
  t.equal(record.signals.length, 2);
  t.equal(record.signals[0]?.length, 10, 'the header length wins over a longer file');
  t.same(Array.from(record.signals[0] ?? []), [-2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2]);
  t.same(Array.from(record.signals[1] ?? []).slice(0, 3), [0, -0.01, -0.02].map((v) => Math.fround(v)));
  t.same(readAnnotations(join(dir, 'tiny')).map((a) => a.sample), [3, 8]);
  const missing = thrown(() => readRecord(join(dir, 'absent')));
  t.ok(missing instanceof WfdbError);
  t.match((missing as Error).message, 'absent.hea');
});
