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
  /** A streaming QRS detector (ECG in mV); throws `NativeError` naming a bad parameter. */
  createQrsDetector(sampleRateHz: number, options?: QrsOptions): QrsDetector;
  /** A streaming PPG processor; throws `NativeError` naming a bad parameter. */
  createPpgProcessor(sampleRateHz: number, options?: PpgOptions): PpgProcessor;
  /** A streaming respiration-rate processor (impedance or accelerometer). */
  createRespProcessor(sampleRateHz: number): RespProcessor;
  /** Fuses a direct and a PPG-derived respiration rate (docs/signal-processing.md). */
  fuseRespRate(direct: RespSourceInput, ppg: RespSourceInput): FusedResp;
  /** Artifact rejection and smoothing of ~1 Hz numerics; throws `NativeError` naming a bad parameter. */
  createNumericsFilter(options: NumericsOptions): NumericsFilter;
}

/** What the `.node` file exports (names from `native/binding/src/lib.rs`). */
interface RawAddon {
  scoreNews2(input: News2Input): News2Outcome;
  scoreNews2Batch(inputs: News2Input[]): News2Outcome[];
  panicForTest(message: string): void;
  coreVersion(): string;
  sdNotify(message: string): boolean;
  QrsDetector: new (sampleRateHz: number, options?: QrsOptions) => RawQrsDetector;
  PpgProcessor: new (sampleRateHz: number, options?: PpgOptions) => RawPpgProcessor;
  RespProcessor: new (sampleRateHz: number) => RawRespProcessor;
  fuseRespRate(direct: RawRespSource, ppg: RawRespSource): RawFusedResp;
  NumericsFilter: new (options: NumericsOptions) => RawNumericsFilter;
}

const EXPORTS: readonly (keyof RawAddon)[] = [
  'scoreNews2',
  'scoreNews2Batch',
  'panicForTest',
  'coreVersion',
  'sdNotify',
  'QrsDetector',
  'PpgProcessor',
  'RespProcessor',
  'fuseRespRate',
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
    createQrsDetector: guarded('QrsDetector', (sampleRateHz: number, options?: QrsOptions) =>
      wrapQrsDetector(new addon.QrsDetector(sampleRateHz, options)),
    ),
    createPpgProcessor: guarded('PpgProcessor', (sampleRateHz: number, options?: PpgOptions) =>
      wrapPpgProcessor(new addon.PpgProcessor(sampleRateHz, options)),
    ),
    createRespProcessor: guarded('RespProcessor', (sampleRateHz: number) =>
      wrapRespProcessor(new addon.RespProcessor(sampleRateHz)),
    ),
    fuseRespRate: guarded('fuseRespRate', (direct: RespSourceInput, ppg: RespSourceInput) =>
      fusedFromRaw(addon.fuseRespRate(rawSource(direct), rawSource(ppg))),
    ),
    createNumericsFilter: guarded('NumericsFilter', (options: NumericsOptions) =>
      wrapNumericsFilter(new addon.NumericsFilter(options)),
    ),
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

// ---- Signal processing (native/core: qrs, ecg, ppg, resp, numerics; docs/signal-processing.md) ----
//
// Each processor is streaming: it keeps its state between calls, takes a whole typed-array
// batch per call and returns that batch's results. A bad batch (a NaN, channels of
// different lengths) is data, `{ ok: false, error }`, and leaves the processor unchanged;
// a bad configuration throws `NativeError` at construction, naming the parameter. An
// unavailable value is `null`, never a guess.

/** Why a batch was rejected: the input, the rule, and the index of the first bad sample (never the value). */
export interface SignalError {
  field: string;
  rule: string;
  index: number;
}

/** A rejected batch. */
export interface SignalRejected {
  ok: false;
  error: SignalError;
}

/** Why the heart rate is (not) available. */
export type EcgStatus = 'ok' | 'learning' | 'leads-off' | 'noisy' | 'no-rate';

/** Options of a QRS detector; every field is optional (defaults in docs/signal-processing.md). */
export interface QrsOptions {
  /** Mains notches; default both. */
  mains?: '50' | '60' | 'both' | 'none';
  /** Smallest band-passed QRS deflection counted, in the samples' unit (default 0.04 mV). */
  minQrsAmplitude?: number;
  /** Peak-to-peak amplitude under which a 1 s block is flat (default 0.05 mV). */
  flatAmplitude?: number;
  /** Lowest signal quality index at which a heart rate is reported (default 0.5). */
  minSqi?: number;
}

/** The results of one ECG batch. */
export interface QrsBatch {
  ok: true;
  /** Sample indexes, counted from the first sample ever given, of the beats decided in this batch. */
  beatSampleIndexes: Float64Array;
  /** Heart rate at the end of the batch, /min, or `null` when unavailable (see `status`). */
  heartRateBpm: number | null;
  /** Signal quality index, 0 to 1. */
  sqi: number;
  status: EcgStatus;
}

/** A streaming QRS detector with heart rate and signal quality (one ECG lead, samples in mV). */
export interface QrsDetector {
  process(samples: Float32Array): QrsBatch | SignalRejected;
  /** Upper bound of the detection delay, in samples. */
  readonly maxDelaySamples: number;
  /** Usual detection delay of a beat, in samples. */
  readonly typicalDelaySamples: number;
  /** Samples processed so far. */
  readonly samplesSeen: number;
}

/** SpO2 calibration curve `SpO2 = a + b R + c R^2` (percent; default a 110, b -25, c 0). */
export interface Spo2Calibration {
  a: number;
  b: number;
  c: number;
}

/** Options of a PPG processor; every field is optional. */
export interface PpgOptions {
  calibration?: Spo2Calibration;
  /** Perfusion index under which low perfusion is flagged, percent (default 0.3). */
  lowPerfusionPercent?: number;
  /** `true` when a pulse makes the signal fall (raw transmitted intensity); default false. */
  inverted?: boolean;
}

/** The results of one PPG batch; every value is `null` when unavailable. */
export interface PpgBatch {
  ok: true;
  pulseSampleIndexes: Float64Array;
  pulseRateBpm: number | null;
  spo2Percent: number | null;
  perfusionIndexPercent: number | null;
  sqi: number;
  motion: boolean;
  lowPerfusion: boolean;
  /** Respiration rate from the pulses' modulation. */
  respRatePerMin: number | null;
  respQuality: number;
}

/** A streaming PPG processor. */
export interface PpgProcessor {
  /** `ir` is the infrared (or only) channel; `red`, of the same length, enables SpO2. */
  process(ir: Float32Array, red?: Float32Array): PpgBatch | SignalRejected;
}

/** A respiration-rate estimate. */
export interface RespEstimate {
  ok: true;
  respRatePerMin: number | null;
  quality: number;
}

/** A streaming respiration-rate processor (impedance or the chest-wall accelerometer axis). */
export interface RespProcessor {
  process(samples: Float32Array): RespEstimate | SignalRejected;
}

/** One source for `fuseRespRate`. */
export interface RespSourceInput {
  respRatePerMin: number | null;
  quality: number;
}

/** A fused respiration rate and the source it came from. */
export interface FusedResp {
  respRatePerMin: number | null;
  quality: number;
  source: 'direct' | 'ppg' | 'none';
}

/** Options of a numerics filter. */
export interface NumericsOptions {
  /** Plausible range; readings outside are rejected. */
  min: number;
  max: number;
  /** Readings in the running median, odd (default 5). */
  window?: number;
  /** Readings older than this leave the window, s (default 10). */
  maxAgeS?: number;
}

/** One output per reading: the filtered value (NaN when unavailable) and 1 where the reading was rejected. */
export interface NumericsBatch {
  ok: true;
  values: Float64Array;
  rejected: Uint8Array;
}

/** Artifact rejection and running-median smoothing of ~1 Hz numerics. */
export interface NumericsFilter {
  /** `timesS` on the reading device's clock, non-decreasing, one per value; NaN values are missing readings. */
  process(timesS: Float64Array, values: Float64Array): NumericsBatch | SignalRejected;
  /** Readings a true step change takes to show fully. */
  readonly delayReadings: number;
}

// Shapes as the addon returns them: an unavailable value is an absent field.
interface RawQrsBatch {
  ok: true;
  beatSampleIndexes: Float64Array;
  heartRateBpm?: number;
  sqi: number;
  status: EcgStatus;
}
interface RawQrsDetector {
  process(samples: Float32Array): RawQrsBatch | SignalRejected;
  readonly maxDelaySamples: number;
  readonly typicalDelaySamples: number;
  readonly samplesSeen: number;
}
interface RawPpgBatch {
  ok: true;
  pulseSampleIndexes: Float64Array;
  pulseRateBpm?: number;
  spo2Percent?: number;
  perfusionIndexPercent?: number;
  sqi: number;
  motion: boolean;
  lowPerfusion: boolean;
  respRatePerMin?: number;
  respQuality: number;
}
interface RawPpgProcessor {
  process(ir: Float32Array, red?: Float32Array): RawPpgBatch | SignalRejected;
}
interface RawRespEstimate {
  ok: true;
  respRatePerMin?: number;
  quality: number;
}
interface RawRespProcessor {
  process(samples: Float32Array): RawRespEstimate | SignalRejected;
}
interface RawRespSource {
  respRatePerMin?: number;
  quality: number;
}
interface RawFusedResp {
  respRatePerMin?: number;
  quality: number;
  source: FusedResp['source'];
}
interface RawNumericsFilter {
  process(timesS: Float64Array, values: Float64Array): NumericsBatch | SignalRejected;
  readonly delayReadings: number;
}

function wrapQrsDetector(raw: RawQrsDetector): QrsDetector {
  const process = guarded('QrsDetector.process', (samples: Float32Array): QrsBatch | SignalRejected => {
    const r = raw.process(samples);
    if (!r.ok) return r;
    return { ok: true, beatSampleIndexes: r.beatSampleIndexes, heartRateBpm: r.heartRateBpm ?? null, sqi: r.sqi, status: r.status };
  });
  const read = guarded('QrsDetector', (name: 'maxDelaySamples' | 'typicalDelaySamples' | 'samplesSeen') => raw[name]);
  return {
    process,
    get maxDelaySamples() {
      return read('maxDelaySamples');
    },
    get typicalDelaySamples() {
      return read('typicalDelaySamples');
    },
    get samplesSeen() {
      return read('samplesSeen');
    },
  };
}

function wrapPpgProcessor(raw: RawPpgProcessor): PpgProcessor {
  return {
    process: guarded('PpgProcessor.process', (ir: Float32Array, red?: Float32Array): PpgBatch | SignalRejected => {
      const r = red === undefined ? raw.process(ir) : raw.process(ir, red);
      if (!r.ok) return r;
      return {
        ok: true,
        pulseSampleIndexes: r.pulseSampleIndexes,
        pulseRateBpm: r.pulseRateBpm ?? null,
        spo2Percent: r.spo2Percent ?? null,
        perfusionIndexPercent: r.perfusionIndexPercent ?? null,
        sqi: r.sqi,
        motion: r.motion,
        lowPerfusion: r.lowPerfusion,
        respRatePerMin: r.respRatePerMin ?? null,
        respQuality: r.respQuality,
      };
    }),
  };
}

function wrapRespProcessor(raw: RawRespProcessor): RespProcessor {
  return {
    process: guarded('RespProcessor.process', (samples: Float32Array): RespEstimate | SignalRejected => {
      const r = raw.process(samples);
      return r.ok ? { ok: true, respRatePerMin: r.respRatePerMin ?? null, quality: r.quality } : r;
    }),
  };
}

function rawSource(s: RespSourceInput): RawRespSource {
  return s.respRatePerMin === null ? { quality: s.quality } : { respRatePerMin: s.respRatePerMin, quality: s.quality };
}

function fusedFromRaw(r: RawFusedResp): FusedResp {
  return { respRatePerMin: r.respRatePerMin ?? null, quality: r.quality, source: r.source };
}

function wrapNumericsFilter(raw: RawNumericsFilter): NumericsFilter {
  const delay = guarded('NumericsFilter', () => raw.delayReadings);
  return {
    process: guarded('NumericsFilter.process', (timesS: Float64Array, values: Float64Array) => raw.process(timesS, values)),
    get delayReadings() {
      return delay();
    },
  };
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

/** A numerics filter (artifact rejection, running median). */
export function createNumericsFilter(options: NumericsOptions): NumericsFilter {
  return native().createNumericsFilter(options);
}
