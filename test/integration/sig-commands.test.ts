/**
 * `vigil detect qrs`, `vigil eval qrs` and `vigil eval ppg` with the real addon, on small
 * datasets this test writes to a temporary folder in the real formats (WFDB 212 + MIT
 * annotations; BIDMC CSV with gzip-compressed signals). The real recordings are never
 * needed: the figures on them are in docs/benchmarks.md.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { runDetectQrs } from '../../agent/src/commands/detect-qrs';
import { runEvalQrs } from '../../agent/src/commands/eval-qrs';
import { runEvalPpg } from '../../agent/src/commands/eval-ppg';
import { encode212, encodeAnnotations } from '../../agent/src/io/wfdb';
import { main } from '../../agent/src/cli';
import { syntheticEcg, syntheticPpg } from '../support/bench/synthetic-signals';
import type { RespFigures } from '../../agent/src/commands/eval-ppg';

async function capture(run: (out: PassThrough) => Promise<number>): Promise<{ code: number; text: string }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const code = await run(out);
  out.end();
  return { code, text: Buffer.concat(chunks).toString('utf8') };
}

/** Writes a 2-signal format-212 record of a synthetic ECG (gain 200, baseline 1024) and its annotations. */
function writeRecord(dir: string, name: string, seed: number, durationS: number): number[] {
  const fs = 360;
  const ecg = syntheticEcg({ sampleRateHz: fs, durationS, heartRateBpm: 70 + seed, ectopicProbability: 0.05, wanderMv: 0.3, noiseMv: 0.03, seed });
  const adc = Int32Array.from(ecg.samples, (v) => Math.max(-2048, Math.min(2047, Math.round(v * 200 + 1024))));
  const second = new Int32Array(adc.length).fill(1024);
  writeFileSync(join(dir, `${name}.hea`), `${name} 2 ${fs} ${adc.length}\n${name}.dat 212 200 11 1024 0 0 0 MLII\n${name}.dat 212 200 11 1024 0 0 0 V1\n`);
  writeFileSync(join(dir, `${name}.dat`), encode212([adc, second]));
  writeFileSync(join(dir, `${name}.atr`), encodeAnnotations([{ sample: 0, code: 28 }, ...ecg.rPeaks.map((sample) => ({ sample, code: 1 }))]));
  return ecg.rPeaks;
}

t.test('REQ-SIG-008 detect qrs prints one beat sample index per line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-detect-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const truth = writeRecord(dir, 'r1', 1, 60);
  const { code, text } = await capture((out) => runDetectQrs(join(dir, 'r1'), out));
  t.equal(code, 0);
  const lines = text.trimEnd().split('\n');
  t.ok(lines.every((l) => /^\d+$/.test(l)), 'only integers, one per line');
  const beats = lines.map(Number);
  t.same(beats, [...beats].sort((a, b) => a - b), 'in increasing order');
  const late = truth.filter((b) => b > 3 * 360);
  const matched = late.filter((b) => beats.some((d) => Math.abs(d - b) <= 18));
  t.equal(matched.length, late.length, 'every beat after the learning period is found within 50 ms');
  // Through the command line: a usage error is exit code 2.
  t.equal(await main(['detect', 'qrs']), 2);
  t.equal(await main(['detect', 'qrs', join(dir, 'absent')]), 1, 'a missing record is a runtime failure');
});

t.test('REQ-SIG-008 eval qrs prints per-record and gross Se and +P (and JSON)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-evalqrs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeRecord(dir, '900', 2, 400);
  writeRecord(dir, '901', 9, 400);
  writeFileSync(join(dir, 'RECORDS'), '900\n901\n');
  const { code, text } = await capture((out) => runEvalQrs(dir, { json: false }, out));
  t.equal(code, 0);
  t.match(text, /^900\s+\d+\s+0\s+0\s+100\.00\s+100\.00$/m, 'record 900 row');
  t.match(text, /^901\s+\d+\s+0\s+0\s+100\.00\s+100\.00$/m, 'record 901 row');
  t.match(text, /^gross\s+\d+\s+0\s+0\s+100\.00\s+100\.00$/m, 'gross row');
  t.match(text, /150 ms match window, scored from 5 min/);
  t.match(text, /target: gross Se >= 99\.8 % and \+P >= 99\.8 %: met/);
  const json = await capture((out) => runEvalQrs(dir, { json: true }, out));
  const parsed = JSON.parse(json.text) as { records: { record: string }[]; gross: { sensitivityPercent: number; positivePredictivityPercent: number } };
  t.same(parsed.records.map((r) => r.record), ['900', '901']);
  t.same([parsed.gross.sensitivityPercent, parsed.gross.positivePredictivityPercent], [100, 100]);
});

t.test('REQ-SIG-011 eval ppg on BIDMC-format files: table, alignment, and the --json shape', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-evalppg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fs = 125;
  const seconds = 120;
  for (const [index, pulse, breaths] of [
    [1, 72, 15],
    [3, 95, 20],
  ] as const) {
    const name = `bidmc_${String(index).padStart(2, '0')}`;
    const ppg = syntheticPpg({ sampleRateHz: fs, durationS: seconds, pulseRateBpm: pulse, ratio: 0.6, seed: index });
    const rows = ['Time [s], RESP, PLETH, II'];
    const breathPeriod = (60 / breaths) * fs;
    for (let i = 0; i < seconds * fs; i += 1) {
      // Pleth as displayed (pulse up), impedance respiration, an unused ECG column.
      const pleth = (50_000 - (ppg.ir[i] ?? 0)) / 1000;
      const resp = 0.5 + 0.2 * Math.sin((2 * Math.PI * i) / breathPeriod);
      rows.push(`${(i / fs).toFixed(3)},${resp.toFixed(5)},${pleth.toFixed(5)},0`);
    }
    writeFileSync(join(dir, `${name}_Signals.csv.gz`), gzipSync(`${rows.join('\n')}\n`));
    const numerics = ['Time [s], HR, PULSE, RESP, SpO2', ...Array.from({ length: seconds + 1 }, (_, s) => `${s},${pulse},${pulse},${breaths},97`)];
    writeFileSync(join(dir, `${name}_Numerics.csv`), `${numerics.join('\n')}\n`);
    // Breath marks at the impedance peaks (sin maximum at a quarter period), both annotators.
    const marks: string[] = ['breaths ann1 [signal sample no], breaths ann2 [signal sample no]'];
    for (let m = breathPeriod / 4; m < seconds * fs; m += breathPeriod) marks.push(`${Math.round(m)},${Math.round(m)}`);
    writeFileSync(join(dir, `${name}_Breaths.csv`), `${marks.join('\n')}\n`);
  }
  writeFileSync(join(dir, 'bidmc_05_Signals.csv.gz'), gzipSync('incomplete record: no numerics, no breaths\n'));
  const { code, text } = await capture((out) => runEvalPpg(dir, { json: false }, out));
  t.equal(code, 0);
  t.match(text, /Alignment: causal, 1 s batches/);
  t.match(text, /^bidmc_01 /m);
  t.match(text, /^bidmc_03 /m);
  t.notMatch(text, /bidmc_05/, 'a record without numerics and breaths is not listed');
  t.match(text, /targets: pulse MAE <= 2 \/min: met; resp MAE <= 2 \/min: met/);
  const json = await capture((out) => runEvalPpg(dir, { json: true }, out));
  const parsed = JSON.parse(json.text) as {
    records: { record: string; pulseMaePerMin: number; respMaePerMin: number }[];
    overall: { pulseMaePerMin: number; respMaePerMin: number };
  };
  t.same(parsed.records.map((r) => r.record), ['bidmc_01', 'bidmc_03']);
  t.ok(parsed.overall.pulseMaePerMin < 2, `pulse MAE ${parsed.overall.pulseMaePerMin}`);
  t.ok(parsed.overall.respMaePerMin < 2, `resp MAE ${parsed.overall.respMaePerMin}`);
  t.equal(typeof parsed.records[0]?.pulseMaePerMin, 'number');
  t.equal(await main(['eval', 'spo2']), 2, 'an unknown evaluation is a usage error');
});

t.test('REQ-SIG-023 eval ppg on records without a RESP column: fused from ECG and PPG, respCoverage, per-source figures and withdrawals', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-evalppg-patch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fs = 125;
  const seconds = 120;
  // 18 breaths/min: the synthetic ECG's baseline wander is a 0.3 Hz sine, the PPG's
  // baseline follows the same rate; the breath marks are the annotators'.
  const breaths = 18;
  for (const index of [1, 3]) {
    const name = `bidmc_${String(index).padStart(2, '0')}`;
    const ppg = syntheticPpg({ sampleRateHz: fs, durationS: seconds, pulseRateBpm: 70 + 5 * index, ratio: 0.6, respRatePerMin: breaths, seed: index });
    const ecg = syntheticEcg({ sampleRateHz: fs, durationS: seconds, heartRateBpm: 70 + 5 * index, wanderMv: 0.2, seed: index });
    const rows = ['Time [s], PLETH, II'];
    for (let i = 0; i < seconds * fs; i += 1) {
      rows.push(`${(i / fs).toFixed(3)},${((50_000 - (ppg.ir[i] ?? 0)) / 1000).toFixed(5)},${(ecg.samples[i] ?? 0).toFixed(5)}`);
    }
    writeFileSync(join(dir, `${name}_Signals.csv.gz`), gzipSync(`${rows.join('\n')}\n`));
    const numerics = ['Time [s], HR, PULSE, RESP, SpO2', ...Array.from({ length: seconds + 1 }, (_, s) => `${s},75,75,${breaths},97`)];
    writeFileSync(join(dir, `${name}_Numerics.csv`), `${numerics.join('\n')}\n`);
    const period = (60 / breaths) * fs;
    const marks: string[] = ['breaths ann1 [signal sample no], breaths ann2 [signal sample no]'];
    for (let m = period / 4; m < seconds * fs; m += period) marks.push(`${Math.round(m)},${Math.round(m)}`);
    writeFileSync(join(dir, `${name}_Breaths.csv`), `${marks.join('\n')}\n`);
  }
  const json = await capture((out) => runEvalPpg(dir, { json: true }, out));
  t.equal(json.code, 0);
  const parsed = JSON.parse(json.text) as {
    records: { record: string; respDirectMaePerMin: number | null; respEcgMaePerMin: number | null }[];
    overall: {
      respMaePerMin: number | null;
      respCoverage: number | null;
      respImpedanceFreeMaePerMin: number | null;
      resp: Record<'fused' | 'impedanceFree' | 'impedance' | 'ecg' | 'ppg' | 'impedanceFreeFirstHalf' | 'impedanceFreeSecondHalf' | 'impedanceFreeOddRecords' | 'impedanceFreeEvenRecords', RespFigures>;
    };
  };
  const { overall } = parsed;
  t.same(parsed.records.map((r) => r.record), ['bidmc_01', 'bidmc_03']);
  t.ok(parsed.records.every((r) => r.respDirectMaePerMin === null), 'no impedance figure without a RESP column');
  t.ok(overall.respMaePerMin !== null && overall.respMaePerMin < 2, `fused resp MAE ${overall.respMaePerMin}`);
  t.ok(overall.respCoverage !== null && overall.respCoverage > 0.5 && overall.respCoverage <= 1, `respCoverage ${overall.respCoverage} is a share`);
  t.equal(overall.respMaePerMin, overall.respImpedanceFreeMaePerMin, 'without RESP, the fused figure is the impedance-free one');
  t.equal(overall.resp.impedance.referenceSeconds, 0);
  t.equal(overall.resp.fused.referenceSeconds, overall.resp.ecg.referenceSeconds);
  for (const key of ['fused', 'ecg', 'ppg'] as const) {
    const f = overall.resp[key];
    const published = Math.round((f.coverage ?? 0) * f.referenceSeconds);
    const withdrawn = Object.values(f.withdrawn).reduce((a, b) => a + b, 0);
    t.equal(published + withdrawn, f.referenceSeconds, `${key}: every reference second is published or withdrawn with a reason`);
    t.ok(f.withinTwoShare === null || (f.withinTwoShare >= 0 && f.withinTwoShare <= 1), `${key}: within-2 share`);
  }
  t.ok(Object.keys(overall.resp.fused.withdrawn).every((r) => ['learning', 'low-quality', 'no-signal', 'no-source'].includes(r)), 'withdrawal reasons are the documented ones');
  t.equal(overall.resp.impedanceFreeFirstHalf.referenceSeconds + overall.resp.impedanceFreeSecondHalf.referenceSeconds, overall.resp.impedanceFree.referenceSeconds, 'the halves split the records');
  t.equal(overall.resp.impedanceFreeOddRecords.referenceSeconds + overall.resp.impedanceFreeEvenRecords.referenceSeconds, overall.resp.impedanceFree.referenceSeconds, 'so do the interleaved halves');
  const { code, text } = await capture((out) => runEvalPpg(dir, { json: false }, out));
  t.equal(code, 0);
  t.match(text, /^fused \(no impedance in the records\)\s+\d/m);
  t.match(text, /^fused, impedance excluded\s+\d/m);
  t.match(text, /^ECG lead II modulations only\s+\d/m);
  t.notMatch(text, /^impedance only/m, 'no impedance line without a RESP column');
  t.match(text, /impedance-free resp MAE <= 2 \/min with coverage >= 90 %: (met|NOT met)/);
});
