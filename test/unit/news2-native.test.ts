/**
 * The real native addon (native/binding, built by `make build`), through agent/src/native/addon.ts.
 * Band edges are proven exhaustively by the Rust tests (native/core); these prove the binding
 * carries them, and its errors, across to JavaScript.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { News2Input, News2Outcome, News2Score } from '../../agent/src/native/addon';
import {
  NativeError,
  addonFileName,
  coreVersion,
  loadNative,
  loadNativeFile,
  scoreNews2,
  scoreNews2Batch,
} from '../../agent/src/native/addon';
import { loadTestNative } from '../support/native-test-hooks';

/** This file compiles to <root>/dist/test/unit/news2-native.test.js. */
const ROOT = resolve(__dirname, '..', '..', '..');

/** A complete observation set scoring 0 everywhere, to change one field at a time. */
const NORMAL: News2Input = {
  respRatePerMin: 16,
  spo2Percent: 97,
  onOxygen: false,
  systolicMmHg: 120,
  pulseBpm: 70,
  consciousness: 'A',
  tempCelsius: 37,
};

function scored(outcome: News2Outcome): News2Score {
  if (!outcome.ok) throw new Error(`unexpected rejection: ${outcome.error.field} ${outcome.error.rule}`);
  return outcome.score;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

t.test('REQ-NATIVE-001 a panic in the addon becomes a JS error and the process carries on', async (t) => {
  // Rust prints the panic report on stderr: expected here. Without the guard the process aborts.
  // The panic hook is only in the addon's test build (REQ-NATIVE-003), loaded through the agent's loader.
  const hooks = loadTestNative();
  for (const attempt of [1, 2]) {
    const err = thrown(() => hooks.panicForTest(`deliberate panic ${attempt}`));
    t.ok(err instanceof NativeError, `attempt ${attempt}: NativeError thrown`);
    t.ok(err instanceof Error, 'it is a JS Error');
    t.equal((err as NativeError).code, 'NATIVE_CALL');
    const cause = (err as NativeError).cause;
    t.ok(cause instanceof Error, 'the original addon error is the cause');
    t.match((cause as Error).message, `deliberate panic ${attempt}`, 'the cause carries the panic message');
    // Still alive, and the addon still scores.
    t.equal(scored(hooks.scoreNews2({ ...NORMAL, pulseBpm: 131 })).total, 3, `the addon that panicked scores again after panic ${attempt}`);
    t.equal(scored(scoreNews2({ ...NORMAL, pulseBpm: 131 })).total, 3, `scores again after panic ${attempt}`);
  }
});

t.test('REQ-NATIVE-001 any exception thrown by the addon surfaces as NativeError NATIVE_CALL', async (t) => {
  // A wrong JS type fails in the binding's type conversion (the command validates before this).
  const err = thrown(() => scoreNews2({ pulseBpm: 'fast' } as unknown as News2Input));
  t.ok(err instanceof NativeError);
  t.equal((err as NativeError).code, 'NATIVE_CALL');
  t.ok((err as NativeError).cause instanceof Error);
  t.match((err as Error).message, 'pulseBpm', 'names the field');
  t.notMatch((err as Error).message, 'fast', 'never echoes the value');
});

t.test('REQ-NATIVE-002 HAZ-017 an addon file that cannot be loaded, or a stale build that lacks an export, is refused at start (NATIVE_LOAD)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-addon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const garbage = join(dir, 'garbage.node');
  writeFileSync(garbage, 'not a shared object');
  const unloadable = thrown(() => loadNativeFile(garbage, 'rebuild it'));
  t.ok(unloadable instanceof NativeError, 'a NativeError');
  t.match(unloadable, { code: 'NATIVE_LOAD', message: /failed to load .*: rebuild it$/ });
  t.ok((unloadable as NativeError).cause instanceof Error, 'with the loader error as its cause');
  // A build from before fuseRespRate, the ECG-derived respiration exports and NumericsFilter existed: the other exports are there.
  const stale = join(dir, 'stale.js');
  writeFileSync(stale, "for (const n of ['scoreNews2', 'scoreNews2Batch', 'coreVersion', 'sdNotify', 'QrsDetector', 'PpgProcessor', 'RespProcessor']) exports[n] = function () {};\n");
  t.match(thrown(() => loadNativeFile(stale, 'rebuild it')), { code: 'NATIVE_LOAD', message: /lacks fuseRespRate, EcgRespProcessor, fuseRespSources, NumericsFilter \(stale build\?\)/ });
  const empty = join(dir, 'empty.js');
  writeFileSync(empty, 'module.exports = null;\n');
  t.match(thrown(() => loadNativeFile(empty)), { code: 'NATIVE_LOAD', message: /lacks scoreNews2, /, }, 'a module that exports nothing');
});

t.test('REQ-NATIVE-002 the addon loads from one file', async (t) => {
  const api = loadNative();
  t.equal(api.addonPath, join(ROOT, 'native', 'binding', addonFileName()));
  t.ok(existsSync(api.addonPath), 'the built .node file exists');
  if (process.platform === 'linux' && process.arch === 'x64') {
    t.equal(basename(api.addonPath), 'vigil-native.linux-x64-gnu.node');
  }
  t.match(coreVersion(), /^\d+\.\d+\.\d+/, 'core version is reported');
  t.equal(api.coreVersion(), coreVersion());

  const missing = thrown(() => loadNative(join(ROOT, 'no-such-root')));
  t.ok(missing instanceof NativeError, 'a missing addon is a NativeError');
  t.equal((missing as NativeError).code, 'NATIVE_LOAD');
  t.match((missing as Error).message, 'make build', 'says how to fix it');

  // No other source file loads native code or names the binding's folder.
  const sources = listTs(join(ROOT, 'agent', 'src')).concat(listTs(join(ROOT, 'hw-sim', 'src')));
  const loaders = sources.filter((file) => /\.node['"`]|native[/\\]binding|['"]native['"]\s*,\s*['"]binding['"]/.test(readFileSync(file, 'utf8')));
  t.same(
    loaders.map((f) => f.slice(ROOT.length + 1)),
    [join('agent', 'src', 'native', 'addon.ts')],
    'only addon.ts loads the addon',
  );
});

function listTs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listTs(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

t.test('REQ-NEWS2-001 band edges reach JS through the binding', async (t) => {
  // [input, parameter, points]: both sides of one edge per row (RCP NEWS2 2017, Chart 1).
  const cases: [News2Input, keyof News2Score['points'], number][] = [
    [{ respRatePerMin: 8 }, 'respRatePerMin', 3],
    [{ respRatePerMin: 9 }, 'respRatePerMin', 1],
    [{ spo2Percent: 91 }, 'spo2Percent', 3],
    [{ spo2Percent: 92 }, 'spo2Percent', 2],
    [{ spo2Percent: 96, spo2Scale: 2, onOxygen: true }, 'spo2Percent', 2],
    [{ spo2Percent: 97, spo2Scale: 2, onOxygen: true }, 'spo2Percent', 3],
    [{ spo2Percent: 97, spo2Scale: 2, onOxygen: false }, 'spo2Percent', 0],
    [{ onOxygen: true }, 'onOxygen', 2],
    [{ systolicMmHg: 219 }, 'systolicMmHg', 0],
    [{ systolicMmHg: 220 }, 'systolicMmHg', 3],
    [{ pulseBpm: 40 }, 'pulseBpm', 3],
    [{ pulseBpm: 41 }, 'pulseBpm', 1],
    [{ consciousness: 'C' }, 'consciousness', 3],
    [{ consciousness: 'A' }, 'consciousness', 0],
    [{ tempCelsius: 36.0 }, 'tempCelsius', 1],
    [{ tempCelsius: 36.1 }, 'tempCelsius', 0],
  ];
  for (const [input, parameter, points] of cases) {
    t.equal(scored(scoreNews2(input)).points[parameter], points, `${JSON.stringify(input)} -> ${parameter} ${points}`);
  }
});

t.test('REQ-NEWS2-003 values between bands are rounded half up before banding', async (t) => {
  t.equal(scored(scoreNews2({ tempCelsius: 36.05 })).points.tempCelsius, 0, '36.05 -> 36.1 -> 0');
  t.equal(scored(scoreNews2({ tempCelsius: 35.05 })).points.tempCelsius, 1, '35.05 -> 35.1 -> 1');
  t.equal(scored(scoreNews2({ systolicMmHg: 90.5 })).points.systolicMmHg, 2, '90.5 -> 91 -> 2');
});

t.test('REQ-NEWS2-004 total and risk level of complete scores', async (t) => {
  const cases: [News2Input, number, string][] = [
    [NORMAL, 0, 'low'],
    [{ ...NORMAL, consciousness: 'V' }, 3, 'low-medium'],
    [{ ...NORMAL, consciousness: 'V', onOxygen: true }, 5, 'medium'],
    [{ ...NORMAL, consciousness: 'V', onOxygen: true, tempCelsius: 39.1 }, 7, 'high'],
  ];
  for (const [input, total, riskLevel] of cases) {
    const score = scored(scoreNews2(input));
    t.same(
      { total: score.total, riskLevel: score.riskLevel, complete: score.complete, missing: score.missing },
      { total, riskLevel, complete: true, missing: [] },
      `${total} -> ${riskLevel}`,
    );
  }
});

t.test('REQ-NEWS2-005 a missing parameter is not zero', async (t) => {
  const score = scored(scoreNews2({ spo2Percent: 91, pulseBpm: 95 }));
  t.same(score, {
    total: 4,
    points: { spo2Percent: 3, pulseBpm: 1 },
    riskLevel: 'low-medium',
    complete: false,
    missing: ['respRatePerMin', 'onOxygen', 'systolicMmHg', 'consciousness', 'tempCelsius'],
  });
});

t.test('REQ-NEWS2-002 SpO2 scale 2 only when set; unknown air/oxygen on scale 2 scores as air', async (t) => {
  t.equal(scored(scoreNews2({ spo2Percent: 88, onOxygen: true })).points.spo2Percent, 3, 'default is scale 1');
  t.equal(scored(scoreNews2({ spo2Percent: 88, onOxygen: true, spo2Scale: 2 })).points.spo2Percent, 0, 'scale 2 when set');
  const scale2 = scored(scoreNews2({ spo2Percent: 97, spo2Scale: 2 }));
  t.equal(scale2.points.spo2Percent, 0, 'scale 2 without onOxygen is scored as on air');
  t.ok(scale2.missing.includes('onOxygen'), 'and onOxygen is listed as missing');
});

t.test('REQ-NEWS2-006 impossible inputs are data naming the field and the rule', async (t) => {
  const cases: [News2Input, string, string][] = [
    [{ ...NORMAL, pulseBpm: Number.NaN }, 'pulseBpm', 'must be a finite number'],
    [{ ...NORMAL, respRatePerMin: -1 }, 'respRatePerMin', 'must not be negative'],
    [{ ...NORMAL, spo2Percent: 101 }, 'spo2Percent', 'must be at most 100'],
    [{ ...NORMAL, tempCelsius: 46 }, 'tempCelsius', 'must be between 25 and 45 Celsius'],
    [{ ...NORMAL, systolicMmHg: 401 }, 'systolicMmHg', 'must be at most 400'],
    [{ ...NORMAL, spo2Scale: 3 as 1 }, 'spo2Scale', 'must be one of 1, 2'],
    [{ ...NORMAL, consciousness: 'X' as 'A' }, 'consciousness', 'must be one of A, C, V, P, U'],
  ];
  for (const [input, field, rule] of cases) {
    t.same(scoreNews2(input), { ok: false, error: { field, rule } }, `${field}: ${rule}`);
  }
});

t.test('REQ-NEWS2-007 the batch export scores every input, in order, in one call', async (t) => {
  const inputs: News2Input[] = [
    NORMAL,
    { ...NORMAL, pulseBpm: -5 },
    { ...NORMAL, consciousness: 'Z' as 'A' },
    { spo2Percent: 93 },
    { ...NORMAL, respRatePerMin: 25, onOxygen: true, tempCelsius: 39.5 },
  ];
  const outcomes = scoreNews2Batch(inputs);
  t.equal(outcomes.length, inputs.length);
  t.same(
    outcomes,
    inputs.map((input) => scoreNews2(input)),
    'each outcome equals the single-call outcome',
  );
  t.same(
    outcomes.map((o) => (o.ok ? o.score.riskLevel : o.error.field)),
    ['low', 'pulseBpm', 'consciousness', 'low', 'high'],
  );
  t.same(scoreNews2Batch([]), [], 'an empty batch is an empty result');
});
