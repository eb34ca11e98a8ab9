/**
 * The one file that loads the native addon (`native/binding`, crate `vigil-native`, built by
 * `make build` with @napi-rs/cli into `native/binding/vigil-native.<platform>.node`).
 *
 * It gives the rest of the agent a typed API and two promises:
 * - a missing or stale addon is a `NativeError` with code `NATIVE_LOAD`, thrown on first use
 *   (call `loadNative()` at start-up to fail fast);
 * - anything the addon throws (a Rust panic, caught by `#[napi(catch_unwind)]`, or a type
 *   conversion error) surfaces as a `NativeError` with code `NATIVE_CALL` and the original
 *   error as `cause`.
 * A rejected input is not an exception: it is `{ ok: false, error: { field, rule } }`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VigilError } from '../errors';

/** The addon could not be loaded (`NATIVE_LOAD`) or a call into it threw (`NATIVE_CALL`). */
export class NativeError extends VigilError {
  declare readonly code: NativeErrorCode;

  constructor(code: NativeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Stable codes of `NativeError`. */
export type NativeErrorCode = 'NATIVE_LOAD' | 'NATIVE_CALL';

/** SpO2 scale of the patient (RCP NEWS2 2017, Chart 1): 1 by default, 2 only when prescribed. */
export type Spo2Scale = 1 | 2;

/** Level of consciousness, ACVPU: Alert, new Confusion, Voice, Pain, Unresponsive. */
export type Consciousness = 'A' | 'C' | 'V' | 'P' | 'U';

/** The NEWS2 parameters, by their JSON names, in the order of Chart 1. */
export type News2Parameter =
  | 'respRatePerMin'
  | 'spo2Percent'
  | 'onOxygen'
  | 'systolicMmHg'
  | 'pulseBpm'
  | 'consciousness'
  | 'tempCelsius';

/** Risk level (RCP NEWS2 2017, Chart 2). */
export type RiskLevel = 'low' | 'low-medium' | 'medium' | 'high';

/** One observation set. An absent field means "not measured", never zero. */
export interface News2Input {
  respRatePerMin?: number;
  spo2Percent?: number;
  /** Patient configuration; default 1. */
  spo2Scale?: Spo2Scale;
  /** `true` on supplemental oxygen, `false` on air. */
  onOxygen?: boolean;
  systolicMmHg?: number;
  pulseBpm?: number;
  consciousness?: Consciousness;
  tempCelsius?: number;
}

/** Points per parameter; a parameter that was not given is absent. */
export type News2Points = Partial<Record<News2Parameter, number>>;

/** A NEWS2 score. When `complete` is false, `riskLevel` is the lowest level the known points imply. */
export interface News2Score {
  total: number;
  points: News2Points;
  riskLevel: RiskLevel;
  complete: boolean;
  /** Parameters not given, in chart order. */
  missing: News2Parameter[];
}

/** Why an input was rejected: the field and a stable rule string, never the value. */
export interface News2InputError {
  field: string;
  rule: string;
}

/** Result union of one scoring call: a rejected input is data, not an exception. */
export type News2Outcome = { ok: true; score: News2Score } | { ok: false; error: News2InputError };

/** The typed API of the addon; every call is guarded (see the file comment). */
export interface NativeApi {
  /** Absolute path of the `.node` file this API was loaded from. */
  readonly addonPath: string;
  scoreNews2(input: News2Input): News2Outcome;
  /** One outcome per input, in input order, in a single native call. */
  scoreNews2Batch(inputs: readonly News2Input[]): News2Outcome[];
  /** Panics inside Rust on purpose; exists only to prove the panic guard in tests. */
  panicForTest(message: string): void;
  /** Version of the `vigil-core` crate inside the addon. */
  coreVersion(): string;
  /** systemd notification (sd_notify): false when not run by systemd, true when sent. */
  sdNotify(message: string): boolean;
}

/** What the `.node` file exports (names from `native/binding/src/lib.rs`). */
interface RawAddon {
  scoreNews2(input: News2Input): News2Outcome;
  scoreNews2Batch(inputs: News2Input[]): News2Outcome[];
  panicForTest(message: string): void;
  coreVersion(): string;
  sdNotify(message: string): boolean;
}

const EXPORTS: readonly (keyof RawAddon)[] = ['scoreNews2', 'scoreNews2Batch', 'panicForTest', 'coreVersion', 'sdNotify'];

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

/**
 * Loads the addon from `rootDir` (default: the project root) and returns its guarded API.
 * Throws `NativeError` `NATIVE_LOAD` when the file is missing, cannot be loaded, or lacks an export.
 */
export function loadNative(rootDir: string = PROJECT_ROOT): NativeApi {
  const file = addonPath(rootDir);
  const hint = 'run `make build` to build the native addon';
  if (!existsSync(file)) {
    throw new NativeError('NATIVE_LOAD', `native addon not found at ${file}: ${hint}`);
  }
  let raw: unknown;
  try {
    // The only require of native code in the project.
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
  const addon = raw as RawAddon;
  return {
    addonPath: file,
    scoreNews2: guarded('scoreNews2', (input: News2Input) => addon.scoreNews2(input)),
    scoreNews2Batch: guarded('scoreNews2Batch', (inputs: readonly News2Input[]) => addon.scoreNews2Batch([...inputs])),
    panicForTest: guarded('panicForTest', (message: string) => addon.panicForTest(message)),
    coreVersion: guarded('coreVersion', () => addon.coreVersion()),
    sdNotify: guarded('sdNotify', (message: string) => addon.sdNotify(message)),
  };
}

function guarded<A extends unknown[], R>(name: string, call: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    try {
      return call(...args);
    } catch (err) {
      throw new NativeError('NATIVE_CALL', `native ${name} failed: ${messageOf(err)}`, { cause: err });
    }
  };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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

/** Panics inside Rust on purpose; exists only so tests can prove a panic becomes a `NativeError`. */
export function panicForTest(message: string): void {
  native().panicForTest(message);
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
