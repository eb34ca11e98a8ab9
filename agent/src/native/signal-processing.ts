/**
 * The signal-processing API of the native addon (native/core: qrs, ecg, ppg, resp, numerics;
 * docs/signal-processing.md): its types, and the wrappers that turn the addon's processors
 * into them.
 *
 * Each processor is streaming: it keeps its state between calls, takes a whole typed-array
 * batch per call and returns that batch's results. A bad batch (a NaN, channels of
 * different lengths) is data, `{ ok: false, error }`, and leaves the processor unchanged;
 * a bad configuration throws `NativeError` at construction, naming the parameter. An
 * unavailable value is `null`, never a guess (the addon leaves the field out; the
 * wrappers below make that `null`). Every call goes through `guardNativeCall`.
 */
import { guardNativeCall } from './native-error';

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

/** Why a modulation-derived respiration rate is (not) reported. */
export type ModulationRespStatus = 'ok' | 'learning' | 'low-quality' | 'no-signal';

/** A respiration rate from the ECG's (or the PPG's) respiratory modulations. */
export interface ModulationResp {
  ok: true;
  /** Breaths per minute, or `null` when withdrawn (see `status`). */
  respRatePerMin: number | null;
  quality: number;
  status: ModulationRespStatus;
  /** The modulations whose spectra were averaged (e.g. `ecg-baseline`, `ecg-amplitude`). */
  modulations: string[];
}

/** Streaming ECG-derived respiration for one lead (docs/signal-processing.md, "ECG-derived respiration"). */
export interface EcgRespProcessor {
  /** `samples` of the lead and the `beatSampleIndexes` its QRS detector returned for the same batch. */
  process(samples: Float32Array, beatSampleIndexes: Float64Array): ModulationResp | SignalRejected;
}

/** The respiration sources a device has, for `fuseRespSources`; each is optional. */
export interface RespSources {
  /** Impedance or accelerometer estimate. */
  direct?: RespSourceInput;
  /** The ECG-derived respiration processor of the lead. */
  ecg?: EcgRespProcessor;
  /** The PPG processor (its pulses' modulations). */
  ppg?: PpgProcessor;
}

/** A respiration rate fused from every source a device has, with the source used and why a rate is withdrawn. */
export interface FusedRespSources {
  respRatePerMin: number | null;
  quality: number;
  source: 'direct' | 'ecg' | 'ppg' | 'ecg+ppg' | 'none';
  status: ModulationRespStatus | 'no-source';
  /** The ECG and PPG modulations averaged (empty when the direct source was used). */
  modulations: string[];
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
export interface RawQrsBatch {
  ok: true;
  beatSampleIndexes: Float64Array;
  heartRateBpm?: number;
  sqi: number;
  status: EcgStatus;
}
export interface RawQrsDetector {
  process(samples: Float32Array): RawQrsBatch | SignalRejected;
  readonly maxDelaySamples: number;
  readonly typicalDelaySamples: number;
  readonly samplesSeen: number;
}
export interface RawPpgBatch {
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
export interface RawPpgProcessor {
  process(ir: Float32Array, red?: Float32Array): RawPpgBatch | SignalRejected;
}
export interface RawRespEstimate {
  ok: true;
  respRatePerMin?: number;
  quality: number;
}
export interface RawRespProcessor {
  process(samples: Float32Array): RawRespEstimate | SignalRejected;
}
export interface RawRespSource {
  respRatePerMin?: number;
  quality: number;
}
export interface RawFusedResp {
  respRatePerMin?: number;
  quality: number;
  source: FusedResp['source'];
}
export interface RawModulationResp {
  ok: true;
  respRatePerMin?: number;
  quality: number;
  status: ModulationRespStatus;
  modulations: string[];
}
export interface RawEcgRespProcessor {
  process(samples: Float32Array, beatSampleIndexes: Float64Array): RawModulationResp | SignalRejected;
}
export interface RawFusedRespSources {
  respRatePerMin?: number;
  quality: number;
  source: FusedRespSources['source'];
  status: FusedRespSources['status'];
  modulations: string[];
}
export interface RawNumericsFilter {
  process(timesS: Float64Array, values: Float64Array): NumericsBatch | SignalRejected;
  readonly delayReadings: number;
}

/** The typed detector over the addon's `QrsDetector` (an unavailable heart rate is `null`). */
export function wrapQrsDetector(raw: RawQrsDetector): QrsDetector {
  const process = guardNativeCall('QrsDetector.process', (samples: Float32Array): QrsBatch | SignalRejected => {
    const r = raw.process(samples);
    if (!r.ok) return r;
    return { ok: true, beatSampleIndexes: r.beatSampleIndexes, heartRateBpm: r.heartRateBpm ?? null, sqi: r.sqi, status: r.status };
  });
  const read = guardNativeCall('QrsDetector', (name: 'maxDelaySamples' | 'typicalDelaySamples' | 'samplesSeen') => raw[name]);
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

/**
 * The addon's processor behind each wrapper that `fuseRespSources` may be given (the
 * addon reads their state directly; a wrapper not made here has none).
 */
const rawPpgProcessors = new WeakMap<PpgProcessor, RawPpgProcessor>();
const rawEcgRespProcessors = new WeakMap<EcgRespProcessor, RawEcgRespProcessor>();

/** The addon's processors behind `sources`' wrappers (`undefined` where absent or not made by this module). */
export function rawRespSources(sources: RespSources): { direct: RawRespSource | undefined; ecg: RawEcgRespProcessor | undefined; ppg: RawPpgProcessor | undefined } {
  return {
    direct: sources.direct === undefined ? undefined : rawSource(sources.direct),
    ecg: sources.ecg === undefined ? undefined : rawEcgRespProcessors.get(sources.ecg),
    ppg: sources.ppg === undefined ? undefined : rawPpgProcessors.get(sources.ppg),
  };
}

/** The typed processor over the addon's `PpgProcessor` (unavailable values are `null`). */
export function wrapPpgProcessor(raw: RawPpgProcessor): PpgProcessor {
  const wrapper = wrapPpgProcessorCalls(raw);
  rawPpgProcessors.set(wrapper, raw);
  return wrapper;
}

function wrapPpgProcessorCalls(raw: RawPpgProcessor): PpgProcessor {
  return {
    process: guardNativeCall('PpgProcessor.process', (ir: Float32Array, red?: Float32Array): PpgBatch | SignalRejected => {
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

/** The typed processor over the addon's `RespProcessor` (an unavailable rate is `null`). */
export function wrapRespProcessor(raw: RawRespProcessor): RespProcessor {
  return {
    process: guardNativeCall('RespProcessor.process', (samples: Float32Array): RespEstimate | SignalRejected => {
      const r = raw.process(samples);
      return r.ok ? { ok: true, respRatePerMin: r.respRatePerMin ?? null, quality: r.quality } : r;
    }),
  };
}

/** The typed processor over the addon's `EcgRespProcessor` (a withdrawn rate is `null`). */
export function wrapEcgRespProcessor(raw: RawEcgRespProcessor): EcgRespProcessor {
  const wrapper: EcgRespProcessor = {
    process: guardNativeCall('EcgRespProcessor.process', (samples: Float32Array, beatSampleIndexes: Float64Array): ModulationResp | SignalRejected => {
      const r = raw.process(samples, beatSampleIndexes);
      return r.ok ? { ok: true, respRatePerMin: r.respRatePerMin ?? null, quality: r.quality, status: r.status, modulations: r.modulations } : r;
    }),
  };
  rawEcgRespProcessors.set(wrapper, raw);
  return wrapper;
}

/** The addon's fused rate of `fuseRespSources`, with a withdrawn rate as `null`. */
export function fusedSourcesFromRaw(r: RawFusedRespSources): FusedRespSources {
  return { respRatePerMin: r.respRatePerMin ?? null, quality: r.quality, source: r.source, status: r.status, modulations: r.modulations };
}

/** A `fuseRespRate` source as the addon takes it (an unavailable rate is left out). */
export function rawSource(s: RespSourceInput): RawRespSource {
  return s.respRatePerMin === null ? { quality: s.quality } : { respRatePerMin: s.respRatePerMin, quality: s.quality };
}

/** The addon's fused rate, with an unavailable rate as `null`. */
export function fusedFromRaw(r: RawFusedResp): FusedResp {
  return { respRatePerMin: r.respRatePerMin ?? null, quality: r.quality, source: r.source };
}

/** The typed filter over the addon's `NumericsFilter`. */
export function wrapNumericsFilter(raw: RawNumericsFilter): NumericsFilter {
  const delay = guardNativeCall('NumericsFilter', () => raw.delayReadings);
  return {
    process: guardNativeCall('NumericsFilter.process', (timesS: Float64Array, values: Float64Array) => raw.process(timesS, values)),
    get delayReadings() {
      return delay();
    },
  };
}
