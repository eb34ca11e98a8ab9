/**
 * `vigil eval qrs` beyond its table (agent/src/commands/eval-qrs.ts): the heart-rate
 * withdrawals it reports, the gqrs peer (eval-qrs-peer.ts) and the noise stress test
 * (eval-qrs-noise.ts), with the real addon on small WFDB records this test writes.
 *
 * The peer is never fetched here: its failure path runs with an interpreter that does not
 * exist and with one whose pip fails, and its success path with a fake interpreter (shell
 * scripts: no Python is needed) that makes a fake virtual environment and prints the beats the
 * test chose, so that the side-by-side figures are known in advance. No network, no
 * ../shared/data.
 */
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runEvalQrs, runNoiseStressTest } from '../../agent/src/commands/eval-qrs';
import { PeerError, WFDB_PY_VERSION } from '../../agent/src/commands/eval-qrs-peer';
import { NOISE_SNR_DB } from '../../agent/src/commands/eval-qrs-noise';
import { encode212, encodeAnnotations } from '../../agent/src/io/wfdb';
import { loadNative } from '../../agent/src/native/addon';
import { main } from '../../agent/src/cli';
import { syntheticEcg } from '../support/bench/synthetic-signals';

const FS = 360;

async function capture(run: (out: PassThrough) => Promise<number>): Promise<{ code: number; text: string }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const code = await run(out);
  out.end();
  return { code, text: Buffer.concat(chunks).toString('utf8') };
}

/**
 * Writes a 2-signal format-212 record of a synthetic ECG and its annotations; with
 * `noisyFromS`, 40 s of strong noise replace the ECG from that time (the rate must be withdrawn).
 */
function writeRecord(dir: string, name: string, seed: number, durationS: number, noisyFromS?: number): number[] {
  const ecg = syntheticEcg({ sampleRateHz: FS, durationS, heartRateBpm: 70 + seed, ectopicProbability: 0.05, wanderMv: 0.3, noiseMv: 0.03, seed });
  const samples = Float32Array.from(ecg.samples);
  let rPeaks = ecg.rPeaks;
  if (noisyFromS !== undefined) {
    let state = seed;
    const uniform = (): number => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
    const from = noisyFromS * FS;
    const to = (noisyFromS + 40) * FS;
    for (let i = from; i < to; i += 1) samples[i] = 1.5 * (uniform() - 0.5) + 0.8 * Math.sin(i / 9);
    rPeaks = rPeaks.filter((r) => r < from || r >= to);
  }
  const adc = Int32Array.from(samples, (v) => Math.max(-2048, Math.min(2047, Math.round(v * 200 + 1024))));
  const second = new Int32Array(adc.length).fill(1024);
  writeFileSync(join(dir, `${name}.hea`), `${name} 2 ${FS} ${adc.length}\n${name}.dat 212 200 11 1024 0 0 0 MLII\n${name}.dat 212 200 11 1024 0 0 0 V1\n`);
  writeFileSync(join(dir, `${name}.dat`), encode212([adc, second]));
  writeFileSync(join(dir, `${name}.atr`), encodeAnnotations([{ sample: 0, code: 28 }, ...rPeaks.map((sample) => ({ sample, code: 1 }))]));
  return rPeaks;
}

/**
 * The fake virtual environment's interpreter: a shell script standing in for Python (not a
 * Node script: the test runner would load itself into a Node child). pip succeeds, or fails as
 * without network when the venv holds a `pip-fails` file; the version probe answers once pip
 * has run; the gqrs script prints, for each record, the beats the test wrote beside it.
 */
const FAKE_VENV_PYTHON = `#!/bin/sh
venv=$(dirname "$(dirname "$0")")
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
  if [ -e "$venv/pip-fails" ]; then
    echo "ERROR: Could not find a version that satisfies the requirement wfdb (network unreachable)" >&2
    exit 1
  fi
  touch "$venv/installed"
  exit 0
fi
if [ "$1" = "-c" ]; then
  case "$2" in
    *wfdb.__version__*)
      [ -e "$venv/installed" ] || exit 1
      echo "${WFDB_PY_VERSION}"
      exit 0;;
    *gqrs_detect*)
      shift 2
      for record in "$@"; do
        printf '{"path": "%s", "fs": 360, "beats": %s}\\n' "$record" "$(cat "$record.peer.json")"
      done
      exit 0;;
  esac
fi
exit 2
`;

/** A fake `python3`: `-m venv DIR` makes DIR/bin/python (the script above); `pipFails` marks the venv so that pip fails. */
function writeFakePython(dir: string, pipFails: boolean): string {
  const venvPython = join(dir, 'venv-python.sh');
  writeFileSync(venvPython, FAKE_VENV_PYTHON);
  const python = join(dir, 'python3');
  writeFileSync(
    python,
    `#!/bin/sh
[ "$1" = "-m" ] && [ "$2" = "venv" ] && [ -n "$3" ] || exit 2
mkdir -p "$3/bin" && cp ${JSON.stringify(venvPython)} "$3/bin/python" && chmod 755 "$3/bin/python" || exit 1
${pipFails ? 'touch "$3/pip-fails"' : ''}
`,
  );
  chmodSync(python, 0o755);
  return python;
}

function makeDataset(): { dir: string; truth: Map<string, number[]> } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-evalqrs-peer-'));
  const truth = new Map<string, number[]>();
  truth.set('900', writeRecord(dir, '900', 2, 400));
  truth.set('901', writeRecord(dir, '901', 9, 400, 320));
  writeFileSync(join(dir, 'RECORDS'), '900\n901\n');
  return { dir, truth };
}

t.test('REQ-QRS-003 eval qrs --peer gqrs fails with a clear error when the virtual environment cannot be made', async (t) => {
  const { dir } = makeDataset();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const venvDir = join(dir, 'venv-absent');
  const noPython = join(dir, 'no', 'such', 'python3');
  await t.rejects(
    capture((out) => runEvalQrs(dir, { json: false, peer: 'gqrs', python: noPython, venvDir }, out)),
    { name: 'PeerError', code: 'PEER_UNAVAILABLE', message: /cannot make a Python virtual environment .*no\/such\/python3 -m venv/ },
  );
  t.notOk(existsSync(venvDir), 'nothing half-made');
  // The venv is made but pip cannot install wfdb (no network): the error names that step.
  const failing = writeFakePython(mkdtempSync(join(dir, 'fake-')), true);
  let pipError: unknown = null;
  try {
    await capture((out) => runEvalQrs(dir, { json: true, peer: 'gqrs', python: failing, venvDir }, out));
  } catch (err) {
    pipError = err;
  }
  t.ok(pipError instanceof PeerError, 'a PeerError');
  t.match(pipError instanceof Error ? pipError.message : '', new RegExp(`cannot install wfdb==${WFDB_PY_VERSION.replace(/\./g, '\\.')} from PyPI .*network unreachable`));
  // Through the command line: a runtime failure (exit 1), never a silent skip.
  t.equal(await main(['eval', 'qrs', dir, '--peer', 'gqrs', '--python', noPython, '--venv', join(dir, 'venv-cli')]), 1);
  t.equal(await main(['eval', 'qrs', dir, '--peer', 'xqrs']), 2, 'an unknown peer is a usage error');
  t.equal(await main(['eval', 'ppg', dir, '--noise']), 2, '--noise is an option of eval qrs only');
  t.equal(await main(['eval', 'qrs', dir, '--python', noPython]), 2, '--python without --peer');
});

t.test('REQ-QRS-003 eval qrs --peer gqrs scores the peer\'s beats through the same scorer and prints both side by side', async (t) => {
  const { dir, truth } = makeDataset();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The peer misses the first scored beat and adds one beat 0.5 s after the last one scored.
  for (const [name, beats] of truth) {
    const scored = beats.filter((b) => b >= 300 * FS);
    const missed = scored[0];
    const extra = (scored[scored.length - 1] ?? 0) - Math.round(0.5 * FS);
    const peer = beats.filter((b) => b !== missed).concat(extra);
    writeFileSync(join(dir, `${name}.peer.json`), JSON.stringify(peer));
  }
  const python = writeFakePython(mkdtempSync(join(dir, 'fake-')), false);
  const venvDir = join(dir, 'venv');
  const lines: string[] = [];
  const { code, text } = await capture((out) => runEvalQrs(dir, { json: false, peer: 'gqrs', python, venvDir, log: (l) => lines.push(l) }, out));
  t.equal(code, 0);
  t.match(lines.join('\n'), /making the gqrs peer's Python environment/);
  t.match(text, new RegExp(`gqrs \\(wfdb ${WFDB_PY_VERSION.replace(/\./g, '\\.')}, defaults\\)`));
  t.match(text, /^900\s+\d+\s+0\s+0\s+100\.00\s+100\.00\s+\|\s+\d+\s+1\s+1\s+\d+\.\d\d\s+\d+\.\d\d$/m, 'record 900: Vigil, then the peer with one miss and one extra');
  t.match(text, /^gross\s+\d+\s+\d+\s+\d+\s+[\d.]+\s+[\d.]+\s+\|\s+\d+\s+2\s+2\s+[\d.]+\s+[\d.]+$/m, 'gross: both');
  t.match(text, /\(gqrs: (met|not met)\)/);
  // --json, reusing the environment made above (no venv step logged this time).
  const again: string[] = [];
  const json = await capture((out) => runEvalQrs(dir, { json: true, peer: 'gqrs', python, venvDir, log: (l) => again.push(l) }, out));
  t.same(again, [], 'the environment is reused');
  const parsed = JSON.parse(json.text) as {
    gross: { truePositives: number };
    peer: { name: string; wfdbVersion: string; records: { record: string; falseNegatives: number; falsePositives: number }[]; gross: { truePositives: number; falseNegatives: number; falsePositives: number } };
  };
  t.equal(parsed.peer.name, 'gqrs');
  t.equal(parsed.peer.wfdbVersion, WFDB_PY_VERSION);
  t.same(parsed.peer.records.map((r) => [r.record, r.falseNegatives, r.falsePositives]), [
    ['900', 1, 1],
    ['901', 1, 1],
  ]);
  const scoredTruth = [...truth.values()].reduce((n, beats) => n + beats.filter((b) => b >= 300 * FS).length, 0);
  t.equal(parsed.peer.gross.truePositives, scoredTruth - 2, 'the peer is scored against the same reference beats');
});

t.test('REQ-QRS-002 eval qrs reports how often the heart rate was withdrawn, by reason, and the MAE only over published seconds', async (t) => {
  const { dir } = makeDataset();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = await capture((out) => runEvalQrs(dir, { json: true }, out));
  const parsed = JSON.parse(json.text) as {
    heartRate: {
      maeBpm: number;
      coveragePercent: number;
      seconds: number;
      withdrawnSeconds: number;
      withdrawnPercent: number;
      withdrawnByReason: { noisy: number; leadsOff: number; noRate: number; learning: number };
    };
    target: { percent: number; met: boolean };
    method: { endOfRecordFlush: boolean };
  };
  const hr = parsed.heartRate;
  t.equal(hr.seconds, 2 * 101, 'every second ending at 5 min or later, in both 400 s records');
  t.ok(hr.withdrawnByReason.noisy >= 20, `record 901's 40 s of noise withdraw the rate as noisy (${hr.withdrawnByReason.noisy} s)`);
  const reasons = hr.withdrawnByReason;
  t.equal(hr.withdrawnSeconds, reasons.noisy + reasons.leadsOff + reasons.noRate + reasons.learning, 'every withdrawn second has its reason');
  t.ok(Math.abs(hr.withdrawnPercent + hr.coveragePercent - 100) < 1e-9, 'withdrawn + published = all seconds');
  t.ok(hr.maeBpm < 2, `MAE over the published seconds ${hr.maeBpm}`);
  t.equal(parsed.target.percent, 99.8);
  t.equal(parsed.method.endOfRecordFlush, true);
  const text = await capture((out) => runEvalQrs(dir, { json: false }, out));
  t.match(text.text, /rate withdrawn \d+\.\d % of seconds \(\d+ s\): noisy \(ECG quality below the limit\) \d+ s, leads off 0 s/);
});

t.test('REQ-QRS-004 the noise stress test: Se and +P per SNR, seeded, and the first level below 99 %', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-noise-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(dir, { recursive: true });
  writeRecord(dir, '910', 3, 560);
  writeFileSync(join(dir, 'RECORDS'), '910\n');
  const native = loadNative();
  const result = runNoiseStressTest(native, dir, ['910'], 1);
  t.equal(result.records, 1);
  for (const kind of ['em', 'ma'] as const) {
    const levels = result.levels[kind];
    t.same(levels.map((l) => l.snrDb), [...NOISE_SNR_DB]);
    const clean = levels[0];
    t.ok((clean?.sensitivityPercent ?? 0) >= 99 && (clean?.positivePredictivityPercent ?? 0) >= 99, `${kind} at 24 dB: ${clean?.sensitivityPercent} / ${clean?.positivePredictivityPercent}`);
    const worst = levels[levels.length - 1];
    t.ok((worst?.positivePredictivityPercent ?? 100) < (clean?.positivePredictivityPercent ?? 0) || (worst?.sensitivityPercent ?? 100) < (clean?.sensitivityPercent ?? 0), `${kind}: -6 dB is worse than 24 dB`);
    t.ok(clean?.rateMaeNoisyBpm !== null && (clean?.rateMaeNoisyBpm ?? 99) < 2, `${kind}: rate MAE at 24 dB over the published seconds ${clean?.rateMaeNoisyBpm}`);
    // The rate is withdrawn in a larger share of the noisy seconds at -6 dB than at 24 dB.
    t.ok((worst?.rateWithdrawnNoisyPercent ?? 0) > (clean?.rateWithdrawnNoisyPercent ?? 100), `${kind}: rate withdrawn ${clean?.rateWithdrawnNoisyPercent} % at 24 dB, ${worst?.rateWithdrawnNoisyPercent} % at -6 dB`);
    const first = levels.find((l) => (l.sensitivityPercent ?? 0) < 99 || (l.positivePredictivityPercent ?? 0) < 99);
    t.equal(result.firstBelowFloorDb[kind], first?.snrDb ?? null, `${kind}: the first level below 99 % is reported`);
  }
  t.same(runNoiseStressTest(native, dir, ['910'], 1), result, 'the same seed gives the same figures');
  const text = await capture((out) => runEvalQrs(dir, { json: false, noise: true, noiseSeed: 1 }, out));
  t.match(text.text, /noise stress test \(NSTDB protocol: noise from 5:00, 2 min on \/ 2 min off/);
  t.match(text.text, /^\s+24(\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\s+(\d+\.\d|-)){2}$/m);
  t.match(text.text, /first SNR with Se or \+P below 99 %: em (none|-?\d+ dB), ma (none|-?\d+ dB)/);
});
