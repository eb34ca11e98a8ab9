/**
 * Release code holds no test hooks. The addon's panic hook (`panic_for_test`, JS
 * `panicForTest`) is compiled only with the cargo feature `test-hooks`, into the test build
 * (native/binding/test-build/, `make native-test`) that only test code loads
 * (test/support/native-test-hooks.ts); the agent has no environment switch that injects faults.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { loadNative } from '../../agent/src/native/addon';
import { testAddonPath } from '../support/native-test-hooks';

/** This file compiles to <root>/dist/test/unit/native-hooks.test.js. */
const ROOT = resolve(__dirname, '..', '..', '..');

/** Names of the hook and of the former environment switch, in any spelling the code could use. */
const HOOK_NAMES = ['panicForTest', 'panic_for_test', 'VIGIL_FAULT_INJECT'];

/** An import or require of test code or of the addon's test build. */
const LOADS_TEST_CODE = /(?:\bfrom|\brequire\(|\bimport\()\s*['"`][^'"`]*(?:\/test\/|native-test-hooks|test-build)/;

function listTs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listTs(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

t.test('REQ-NATIVE-003 HAZ-017 the release addon has no panic hook; only the test build has it', async (t) => {
  const api = loadNative();
  t.notOk('panicForTest' in api, 'the agent\'s native API has no panic hook');
  const raw = require(api.addonPath) as Record<string, unknown>;
  t.equal(raw.panicForTest, undefined, 'the release addon exports no panicForTest');
  t.equal(typeof raw.scoreNews2, 'function', 'while it exports its API');
  const release = readFileSync(api.addonPath);
  for (const name of ['panicForTest', 'panic_for_test']) {
    t.equal(release.indexOf(name), -1, `the release addon's bytes do not contain ${name}`);
  }
  // The same search finds the hook in the test build: the check above can see it when it is there.
  t.ok(existsSync(testAddonPath()), 'the test build exists (make native-test)');
  t.not(readFileSync(testAddonPath()).indexOf('panicForTest'), -1, 'the test build\'s bytes contain panicForTest');
  t.not(resolve(testAddonPath()), resolve(api.addonPath), 'the test build is another file than the release addon');
});

t.test('REQ-NATIVE-003 HAZ-017 no file under agent/src mentions a fault-injection hook or loads test code', async (t) => {
  const sources = listTs(join(ROOT, 'agent', 'src'));
  t.ok(sources.length > 50, `${sources.length} source files scanned`);
  const offenders: string[] = [];
  for (const file of sources) {
    const text = readFileSync(file, 'utf8');
    for (const name of HOOK_NAMES) if (text.includes(name)) offenders.push(`${relative(ROOT, file)}: ${name}`);
    if (LOADS_TEST_CODE.test(text)) offenders.push(`${relative(ROOT, file)}: imports test code`);
  }
  t.same(offenders, [], 'no hook names and no test code in agent/src');
});
