/**
 * The test build of the native addon: the same crate (native/binding) compiled with the cargo
 * feature `test-hooks` by `make native-test` into native/binding/test-build/. Only it has
 * `panicForTest`, a Rust function that panics on purpose, so that the tests can prove the panic
 * guard (`#[napi(catch_unwind)]` and `guardNativeCall`) on a real Rust panic. The release addon,
 * the one the agent loads (`make native`), is built without the feature: the installed agent
 * cannot reach the hook (REQ-NATIVE-003).
 *
 * Only test code imports this file. It loads the test build through the agent's own loader
 * (`loadNativeFile`: the same export checks, the same guard on every call), so what the tests
 * prove about the guard holds for the release addon's exports too.
 */
import { join } from 'node:path';
import type { NativeApi } from '../../agent/src/native/addon';
import { NativeError, addonFileName, guardNativeCall, loadNativeFile } from '../../agent/src/native/addon';

/** This file compiles to <root>/dist/test/support/native-test-hooks.js. */
const ROOT = join(__dirname, '..', '..', '..');

/** Where `make native-test` puts the test build of the addon. */
export const TEST_BUILD_DIR = join(ROOT, 'native', 'binding', 'test-build');

const HINT = 'run `make native-test` to build the test build of the native addon';

/** The agent's API over the test build, plus its test hook. */
export interface NativeTestApi extends NativeApi {
  /** Panics inside Rust with `message`; surfaces as `NativeError` `NATIVE_CALL`, the process carries on. */
  panicForTest(message: string): void;
}

/** Absolute path of the test build of the addon. */
export function testAddonPath(): string {
  return join(TEST_BUILD_DIR, addonFileName());
}

let loaded: NativeTestApi | undefined;

/**
 * The test build of the addon, loaded once. Throws `NativeError` `NATIVE_LOAD` when it is
 * missing or has no `panicForTest` (built without the feature).
 */
export function loadTestNative(): NativeTestApi {
  if (loaded) return loaded;
  const file = testAddonPath();
  const api = loadNativeFile(file, HINT);
  // Node caches the module: this is the very instance `api` calls into.
  const raw = require(file) as { panicForTest?: unknown };
  const hook = raw.panicForTest;
  if (typeof hook !== 'function') {
    throw new NativeError('NATIVE_LOAD', `native addon at ${file} lacks panicForTest (built without test-hooks?): ${HINT}`);
  }
  loaded = { ...api, panicForTest: guardNativeCall('panicForTest', (message: string) => void hook(message)) };
  return loaded;
}
