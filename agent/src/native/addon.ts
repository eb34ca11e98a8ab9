/**
 * The one file that loads the native addon (`native/binding`, crate `vigil-native`, built by
 * `make build` with @napi-rs/cli into `native/binding/vigil-native.<platform>.node`).
 *
 * It gives the rest of the agent a typed API and two promises:
 * - a missing or stale addon is a `NativeError` with code `NATIVE_LOAD`, thrown on first use
 *   (call `loadNative()` at start-up to fail fast);
 * - anything the addon throws (a Rust panic, caught by `#[napi(catch_unwind)]`, or a type
 *   conversion error) surfaces as a `NativeError` with code `NATIVE_CALL` and the original
 *   error as `cause` (`guardNativeCall`, native-error.ts).
 * A rejected input is not an exception: it is `{ ok: false, error: { field, rule } }`.
 *
 * The API's types live beside it, by concern: NEWS2 in news2-types.ts, signal processing (and
 * the wrappers of its processors) in signal-processing.ts; they are re-exported here.
 *
 * The release addon has no test hooks: the panic export that proves the guard exists only in
 * the test build (cargo feature `test-hooks`, native/binding/test-build/), which only test code
 * loads (test/support/native-test-hooks.ts).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NativeError, guardNativeCall, messageOf } from './native-error';
import type { News2Input, News2Outcome } from './news2-types';
import type {
  EcgRespProcessor,
  FusedResp,
  FusedRespSources,
  NumericsFilter,
  NumericsOptions,
  PpgOptions,
  PpgProcessor,
  QrsDetector,
  QrsOptions,
  RawEcgRespProcessor,
  RawFusedResp,
  RawFusedRespSources,
  RawNumericsFilter,
  RawPpgProcessor,
  RawQrsDetector,
  RawRespProcessor,
  RawRespSource,
  RespProcessor,
  RespSourceInput,
  RespSources,
} from './signal-processing';
import {
  fusedFromRaw,
  fusedSourcesFromRaw,
  rawRespSources,
  rawSource,
  wrapEcgRespProcessor,
  wrapNumericsFilter,
  wrapPpgProcessor,
  wrapQrsDetector,
  wrapRespProcessor,
} from './signal-processing';

export { NativeError, guardNativeCall } from './native-error';
export type { NativeErrorCode } from './native-error';
export type {
  Consciousness,
  News2Input,
  News2InputError,
  News2Outcome,
  News2Parameter,
  News2Points,
  News2Score,
  RiskLevel,
  Spo2Scale,
} from './news2-types';
export type {
  EcgRespProcessor,
  EcgStatus,
  FusedResp,
  FusedRespSources,
  ModulationResp,
  ModulationRespStatus,
  NumericsBatch,
  NumericsFilter,
  NumericsOptions,
  PpgBatch,
  PpgOptions,
  PpgProcessor,
  QrsBatch,
  QrsDetector,
  QrsOptions,
  RespEstimate,
  RespProcessor,
  RespSourceInput,
  RespSources,
  SignalError,
  SignalRejected,
  Spo2Calibration,
} from './signal-processing';

/** The typed API of the addon; every call is guarded (see the file comment). */
export interface NativeApi {
  /** Absolute path of the `.node` file this API was loaded from. */
  readonly addonPath: string;
  scoreNews2(input: News2Input): News2Outcome;
  /** One outcome per input, in input order, in a single native call. */
  scoreNews2Batch(inputs: readonly News2Input[]): News2Outcome[];
  /** Version of the `vigil-core` crate inside the addon. */
  coreVersion(): string;
  /** systemd notification (sd_notify): false when not run by systemd, true when sent. */
  sdNotify(message: string): boolean;
  /** A streaming QRS detector (ECG in mV); throws `NativeError` naming a bad parameter. */
  createQrsDetector(sampleRateHz: number, options?: QrsOptions): QrsDetector;
  /** A streaming PPG processor; throws `NativeError` naming a bad parameter. */
  createPpgProcessor(sampleRateHz: number, options?: PpgOptions): PpgProcessor;
  /** A streaming respiration-rate processor (impedance or accelerometer). */
  createRespProcessor(sampleRateHz: number): RespProcessor;
  /** Fuses a direct and a PPG-derived respiration rate (docs/signal-processing.md). */
  fuseRespRate(direct: RespSourceInput, ppg: RespSourceInput): FusedResp;
  /** A streaming ECG-derived respiration processor for one lead at `sampleRateHz`; throws `NativeError` naming a bad parameter. */
  createEcgRespProcessor(sampleRateHz: number): EcgRespProcessor;
  /**
   * Fuses every respiration source a device has (docs/signal-processing.md): the direct one when
   * its quality is good, otherwise the ECG and PPG modulations; says which it used and why a rate is withdrawn.
   */
  fuseRespSources(sources: RespSources): FusedRespSources;
  /** Artifact rejection and smoothing of ~1 Hz numerics; throws `NativeError` naming a bad parameter. */
  createNumericsFilter(options: NumericsOptions): NumericsFilter;
}

/** What the `.node` file exports (names from `native/binding/src/lib.rs`). */
interface RawAddon {
  scoreNews2(input: News2Input): News2Outcome;
  scoreNews2Batch(inputs: News2Input[]): News2Outcome[];
  coreVersion(): string;
  sdNotify(message: string): boolean;
  QrsDetector: new (sampleRateHz: number, options?: QrsOptions) => RawQrsDetector;
  PpgProcessor: new (sampleRateHz: number, options?: PpgOptions) => RawPpgProcessor;
  RespProcessor: new (sampleRateHz: number) => RawRespProcessor;
  fuseRespRate(direct: RawRespSource, ppg: RawRespSource): RawFusedResp;
  EcgRespProcessor: new (sampleRateHz: number) => RawEcgRespProcessor;
  fuseRespSources(direct?: RawRespSource, ecg?: RawEcgRespProcessor, ppg?: RawPpgProcessor): RawFusedRespSources;
  NumericsFilter: new (options: NumericsOptions) => RawNumericsFilter;
}

const EXPORTS: readonly (keyof RawAddon)[] = [
  'scoreNews2',
  'scoreNews2Batch',
  'coreVersion',
  'sdNotify',
  'QrsDetector',
  'PpgProcessor',
  'RespProcessor',
  'fuseRespRate',
  'EcgRespProcessor',
  'fuseRespSources',
  'NumericsFilter',
];

/** The project root: this file compiles to <root>/dist/agent/src/native/addon.js. */
const PROJECT_ROOT = resolve(__dirname, '..', '..', '..', '..');

/**
 * File name @napi-rs/cli gives the addon with `--platform` (`<binaryName>.<platform>-<arch>[-abi].node`).
 * The gateway targets Linux glibc (x64, arm64); the other names follow the same convention.
 */
export function addonFileName(): string {
  const { platform, arch } = process;
  let triple: string;
  if (platform === 'linux') triple = `linux-${arch}-${isMusl() ? 'musl' : arch === 'arm' ? 'gnueabihf' : 'gnu'}`;
  else if (platform === 'win32') triple = `win32-${arch}-msvc`;
  else triple = `${platform}-${arch}`;
  return `vigil-native.${triple}.node`;
}

function isMusl(): boolean {
  // Same test as the napi-rs generated loader: glibc reports its runtime version, musl does not.
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime === undefined;
}

/** Absolute path of the addon under `rootDir` (default: the project root). */
export function addonPath(rootDir: string = PROJECT_ROOT): string {
  return join(rootDir, 'native', 'binding', addonFileName());
}

/** What to do about a missing or stale addon. */
const BUILD_HINT = 'run `make build` to build the native addon';

/**
 * Loads the addon from `rootDir` (default: the project root) and returns its guarded API.
 * Throws `NativeError` `NATIVE_LOAD` when the file is missing, cannot be loaded, or lacks an export.
 */
export function loadNative(rootDir: string = PROJECT_ROOT): NativeApi {
  return loadNativeFile(addonPath(rootDir));
}

/**
 * Loads the addon at `file` and returns its guarded API; `hint` says how to build it.
 * Throws `NativeError` `NATIVE_LOAD` when the file is missing, cannot be loaded, or lacks an export.
 */
export function loadNativeFile(file: string, hint: string = BUILD_HINT): NativeApi {
  if (!existsSync(file)) {
    throw new NativeError('NATIVE_LOAD', `native addon not found at ${file}: ${hint}`);
  }
  let raw: unknown;
  try {
    // The only require of native code in the agent.
    raw = require(file);
  } catch (err) {
    throw new NativeError('NATIVE_LOAD', `native addon at ${file} failed to load (${messageOf(err)}): ${hint}`, {
      cause: err,
    });
  }
  const missing = EXPORTS.filter((name) => typeof (raw as Record<string, unknown> | null)?.[name] !== 'function');
  if (missing.length > 0) {
    throw new NativeError('NATIVE_LOAD', `native addon at ${file} lacks ${missing.join(', ')} (stale build?): ${hint}`);
  }
  return guardedApi(file, raw as RawAddon);
}

/** The typed API over the addon's exports, every call guarded. */
function guardedApi(file: string, addon: RawAddon): NativeApi {
  return {
    addonPath: file,
    scoreNews2: guardNativeCall('scoreNews2', (input: News2Input) => addon.scoreNews2(input)),
    scoreNews2Batch: guardNativeCall('scoreNews2Batch', (inputs: readonly News2Input[]) => addon.scoreNews2Batch([...inputs])),
    coreVersion: guardNativeCall('coreVersion', () => addon.coreVersion()),
    sdNotify: guardNativeCall('sdNotify', (message: string) => addon.sdNotify(message)),
    createQrsDetector: guardNativeCall('QrsDetector', (sampleRateHz: number, options?: QrsOptions) =>
      wrapQrsDetector(new addon.QrsDetector(sampleRateHz, options)),
    ),
    createPpgProcessor: guardNativeCall('PpgProcessor', (sampleRateHz: number, options?: PpgOptions) =>
      wrapPpgProcessor(new addon.PpgProcessor(sampleRateHz, options)),
    ),
    createRespProcessor: guardNativeCall('RespProcessor', (sampleRateHz: number) =>
      wrapRespProcessor(new addon.RespProcessor(sampleRateHz)),
    ),
    fuseRespRate: guardNativeCall('fuseRespRate', (direct: RespSourceInput, ppg: RespSourceInput) =>
      fusedFromRaw(addon.fuseRespRate(rawSource(direct), rawSource(ppg))),
    ),
    createEcgRespProcessor: guardNativeCall('EcgRespProcessor', (sampleRateHz: number) =>
      wrapEcgRespProcessor(new addon.EcgRespProcessor(sampleRateHz)),
    ),
    fuseRespSources: guardNativeCall('fuseRespSources', (sources: RespSources) => {
      const raw = rawRespSources(sources);
      return fusedSourcesFromRaw(addon.fuseRespSources(raw.direct, raw.ecg, raw.ppg));
    }),
    createNumericsFilter: guardNativeCall('NumericsFilter', (options: NumericsOptions) =>
      wrapNumericsFilter(new addon.NumericsFilter(options)),
    ),
  };
}

let defaultApi: NativeApi | undefined;

/** The API loaded from the project root, loaded on first use (a failed load is retried next time). */
function native(): NativeApi {
  defaultApi ??= loadNative();
  return defaultApi;
}

/** Scores one observation set (RCP NEWS2 2017). */
export function scoreNews2(input: News2Input): News2Outcome {
  return native().scoreNews2(input);
}

/** Scores many observation sets in one native call: one outcome per input, in order. */
export function scoreNews2Batch(inputs: readonly News2Input[]): News2Outcome[] {
  return native().scoreNews2Batch(inputs);
}

/** Version of the `vigil-core` crate inside the addon. */
export function coreVersion(): string {
  return native().coreVersion();
}

/**
 * Sends a systemd notification through the addon (Node has no Unix datagram sockets).
 * Only agent/src/io/systemd.ts calls this.
 */
export function sdNotify(message: string): boolean {
  return native().sdNotify(message);
}

/** A streaming QRS detector at `sampleRateHz` (125 to 1000 Hz). */
export function createQrsDetector(sampleRateHz: number, options?: QrsOptions): QrsDetector {
  return native().createQrsDetector(sampleRateHz, options);
}

/** A streaming PPG processor at `sampleRateHz` (25 to 1000 Hz). */
export function createPpgProcessor(sampleRateHz: number, options?: PpgOptions): PpgProcessor {
  return native().createPpgProcessor(sampleRateHz, options);
}

/** A streaming respiration-rate processor at `sampleRateHz` (4 to 1000 Hz). */
export function createRespProcessor(sampleRateHz: number): RespProcessor {
  return native().createRespProcessor(sampleRateHz);
}

/** Fuses a direct (impedance or accelerometer) and a PPG-derived respiration rate. */
export function fuseRespRate(direct: RespSourceInput, ppg: RespSourceInput): FusedResp {
  return native().fuseRespRate(direct, ppg);
}

/** A streaming ECG-derived respiration processor for one lead at `sampleRateHz`. */
export function createEcgRespProcessor(sampleRateHz: number): EcgRespProcessor {
  return native().createEcgRespProcessor(sampleRateHz);
}

/** Fuses every respiration source a device has: the direct one when its quality is good, otherwise the ECG and PPG modulations. */
export function fuseRespSources(sources: RespSources): FusedRespSources {
  return native().fuseRespSources(sources);
}

/** A numerics filter (artifact rejection, running median). */
export function createNumericsFilter(options: NumericsOptions): NumericsFilter {
  return native().createNumericsFilter(options);
}
