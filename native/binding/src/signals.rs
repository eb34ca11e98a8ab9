//! Streaming signal processors of `vigil-core` as JavaScript classes: ECG (`QrsDetector`),
//! PPG (`PpgProcessor`), respiration (`RespProcessor`, `EcgRespProcessor`, `fuseRespRate`,
//! `fuseRespSources`) and numerics
//! (`NumericsFilter`).
//!
//! Every call takes a whole batch (a typed array) and returns the batch's results. A bad
//! configuration throws (at construction, naming the parameter and its rule); a bad batch
//! (a NaN, channels of different lengths) is returned as data,
//! `{ ok: false, error: { field, rule, index } }`, and leaves the processor unchanged.

use napi::Either;
use napi::bindgen_prelude::{Float32ArraySlice, Float64Array, Float64ArraySlice, Uint8Array};
use napi_derive::napi;
use vigil_core::dsp::{ConfigError, SampleError};
use vigil_core::{ecg, edr, modulation, numerics, ppg, qrs, resp};

fn config_error(e: ConfigError) -> napi::Error {
    napi::Error::new(napi::Status::InvalidArg, e.to_string())
}

/// Why a batch was rejected: the input, the rule, and the position of the first bad sample
/// (never the value).
#[napi(object)]
pub struct SignalError {
    /// Name of the rejected input (`samples`, `ir`, `red`, `timesS`).
    pub field: String,
    /// The rule, a stable string.
    pub rule: String,
    /// Index in the batch of the first offending sample.
    pub index: u32,
}

/// A rejected batch.
#[napi(object)]
pub struct SignalRejected {
    /// Always `false`.
    #[napi(ts_type = "false")]
    pub ok: bool,
    /// Why.
    pub error: SignalError,
}

fn rejected(e: SampleError) -> SignalRejected {
    SignalRejected {
        ok: false,
        error: SignalError {
            field: e.field.to_owned(),
            rule: e.rule.to_owned(),
            index: u32::try_from(e.index).unwrap_or(u32::MAX),
        },
    }
}

/// Options of a `QrsDetector` (all optional).
#[napi(object)]
pub struct QrsOptions {
    /// Mains notches: `'50'`, `'60'`, `'both'` (default) or `'none'`.
    #[napi(ts_type = "'50' | '60' | 'both' | 'none'")]
    pub mains: Option<String>,
    /// Smallest band-passed QRS deflection counted, in the unit of the samples (default 0.04 mV).
    #[napi(js_name = "minQrsAmplitude")]
    pub min_qrs_amplitude: Option<f64>,
    /// Peak-to-peak amplitude below which a 1 s block is flat (default 0.05 mV).
    #[napi(js_name = "flatAmplitude")]
    pub flat_amplitude: Option<f64>,
    /// Lowest SQI at which a heart rate is reported (default 0.5).
    #[napi(js_name = "minSqi")]
    pub min_sqi: Option<f64>,
}

/// The results of one ECG batch.
#[napi(object)]
pub struct QrsBatch {
    /// Always `true`.
    #[napi(ts_type = "true")]
    pub ok: bool,
    /// Sample indexes (from the first sample ever given) of the beats decided in this batch.
    #[napi(js_name = "beatSampleIndexes")]
    pub beat_sample_indexes: Float64Array,
    /// Heart rate at the end of the batch, per minute; absent when unavailable.
    #[napi(js_name = "heartRateBpm")]
    pub heart_rate_bpm: Option<f64>,
    /// Signal quality index, 0 to 1.
    pub sqi: f64,
    /// Why the rate is (not) available.
    #[napi(ts_type = "'ok' | 'learning' | 'leads-off' | 'noisy' | 'no-rate'")]
    pub status: String,
}

/// Streaming QRS detector, heart rate and ECG signal quality for one lead (samples in mV).
#[napi]
pub struct QrsDetector {
    inner: ecg::EcgAnalyzer,
}

#[napi]
impl QrsDetector {
    /// A detector at `sampleRateHz` (125 to 1000). Throws on a bad parameter, naming it.
    #[napi(constructor, catch_unwind)]
    pub fn new(sample_rate_hz: f64, options: Option<QrsOptions>) -> napi::Result<Self> {
        let mut config = ecg::EcgConfig::new(sample_rate_hz);
        if let Some(o) = options {
            if let Some(mains) = o.mains {
                config.qrs.mains = match mains.as_str() {
                    "50" => qrs::Mains::Hz50,
                    "60" => qrs::Mains::Hz60,
                    "both" => qrs::Mains::Both,
                    "none" => qrs::Mains::None,
                    _ => return Err(config_error(ConfigError::new("mains", "must be one of 50, 60, both, none"))),
                };
            }
            if let Some(v) = o.min_qrs_amplitude {
                config.qrs.min_qrs_amplitude = v;
            }
            if let Some(v) = o.flat_amplitude {
                config.qrs.flat_amplitude = v;
            }
            if let Some(v) = o.min_sqi {
                config.min_sqi = v;
            }
        }
        ecg::EcgAnalyzer::new(config).map(|inner| Self { inner }).map_err(config_error)
    }

    /// Processes one batch of samples (mV).
    #[napi(catch_unwind)]
    pub fn process(&mut self, samples: Float32ArraySlice) -> Either<QrsBatch, SignalRejected> {
        match self.inner.process(&samples) {
            Ok(batch) => Either::A(QrsBatch {
                ok: true,
                beat_sample_indexes: Float64Array::new(batch.beats.iter().map(|&b| b as f64).collect()),
                heart_rate_bpm: batch.heart_rate_bpm,
                sqi: batch.sqi,
                status: batch.status.name().to_owned(),
            }),
            Err(e) => Either::B(rejected(e)),
        }
    }

    /// Upper bound of the detection delay, in samples.
    #[napi(getter, catch_unwind, js_name = "maxDelaySamples")]
    pub fn max_delay_samples(&self) -> f64 {
        self.inner.detector().max_delay_samples() as f64
    }

    /// Usual detection delay of a beat, in samples.
    #[napi(getter, catch_unwind, js_name = "typicalDelaySamples")]
    pub fn typical_delay_samples(&self) -> f64 {
        self.inner.detector().typical_delay_samples() as f64
    }

    /// Number of samples processed so far.
    #[napi(getter, catch_unwind, js_name = "samplesSeen")]
    pub fn samples_seen(&self) -> f64 {
        self.inner.detector().samples_seen() as f64
    }
}

/// SpO2 calibration curve `SpO2 = a + b R + c R^2` (percent).
#[napi(object)]
pub struct Spo2CalibrationJs {
    /// Constant term.
    pub a: f64,
    /// Linear coefficient.
    pub b: f64,
    /// Quadratic coefficient.
    pub c: f64,
}

/// Options of a `PpgProcessor` (all optional).
#[napi(object)]
pub struct PpgOptions {
    /// SpO2 calibration of the sensor (default `110 - 25 R`).
    pub calibration: Option<Spo2CalibrationJs>,
    /// Perfusion index under which low perfusion is flagged, percent (default 0.3).
    #[napi(js_name = "lowPerfusionPercent")]
    pub low_perfusion_percent: Option<f64>,
    /// `true` when a pulse makes the signal fall (raw intensity); default `false`.
    pub inverted: Option<bool>,
}

/// The results of one PPG batch.
#[napi(object)]
pub struct PpgBatchJs {
    /// Always `true`.
    #[napi(ts_type = "true")]
    pub ok: bool,
    /// Sample indexes of the pulses decided in this batch.
    #[napi(js_name = "pulseSampleIndexes")]
    pub pulse_sample_indexes: Float64Array,
    /// Pulse rate per minute; absent when unavailable.
    #[napi(js_name = "pulseRateBpm")]
    pub pulse_rate_bpm: Option<f64>,
    /// SpO2 percent; absent when unavailable or without a red channel.
    #[napi(js_name = "spo2Percent")]
    pub spo2_percent: Option<f64>,
    /// Perfusion index percent; absent when unavailable.
    #[napi(js_name = "perfusionIndexPercent")]
    pub perfusion_index_percent: Option<f64>,
    /// Signal quality index, 0 to 1.
    pub sqi: f64,
    /// Motion artifact detected.
    pub motion: bool,
    /// Low perfusion.
    #[napi(js_name = "lowPerfusion")]
    pub low_perfusion: bool,
    /// Respiration rate from the pulses' modulation, per minute; absent when unavailable.
    #[napi(js_name = "respRatePerMin")]
    pub resp_rate_per_min: Option<f64>,
    /// Quality of that respiration rate, 0 to 1.
    #[napi(js_name = "respQuality")]
    pub resp_quality: f64,
}

/// Streaming PPG processor: pulses, pulse rate, SpO2, perfusion, quality, respiration.
#[napi]
pub struct PpgProcessor {
    inner: ppg::PpgAnalyzer,
}

#[napi]
impl PpgProcessor {
    /// A processor at `sampleRateHz` (25 to 1000). Throws on a bad parameter, naming it.
    #[napi(constructor, catch_unwind)]
    pub fn new(sample_rate_hz: f64, options: Option<PpgOptions>) -> napi::Result<Self> {
        let mut config = ppg::PpgConfig::new(sample_rate_hz);
        if let Some(o) = options {
            if let Some(c) = o.calibration {
                config.calibration = ppg::Spo2Calibration { a: c.a, b: c.b, c: c.c };
            }
            if let Some(v) = o.low_perfusion_percent {
                config.low_perfusion_percent = v;
            }
            if let Some(v) = o.inverted {
                config.inverted = v;
            }
        }
        ppg::PpgAnalyzer::new(config).map(|inner| Self { inner }).map_err(config_error)
    }

    /// Processes one batch of the infrared (or only) channel and, for SpO2, the red
    /// channel of the same samples.
    #[napi(catch_unwind)]
    pub fn process(&mut self, ir: Float32ArraySlice, red: Option<Float32ArraySlice>) -> Either<PpgBatchJs, SignalRejected> {
        match self.inner.process(&ir, red.as_deref()) {
            Ok(b) => Either::A(PpgBatchJs {
                ok: true,
                pulse_sample_indexes: Float64Array::new(b.pulses.iter().map(|&p| p as f64).collect()),
                pulse_rate_bpm: b.pulse_rate_bpm,
                spo2_percent: b.spo2_percent,
                perfusion_index_percent: b.perfusion_index_percent,
                sqi: b.sqi,
                motion: b.motion,
                low_perfusion: b.low_perfusion,
                resp_rate_per_min: b.resp.rate_per_min,
                resp_quality: b.resp.quality,
            }),
            Err(e) => Either::B(rejected(e)),
        }
    }
}

/// A respiration-rate estimate.
#[napi(object)]
pub struct RespEstimateJs {
    /// Always `true` when returned by `RespProcessor.process`.
    #[napi(ts_type = "true")]
    pub ok: bool,
    /// Breaths per minute; absent when unavailable.
    #[napi(js_name = "respRatePerMin")]
    pub resp_rate_per_min: Option<f64>,
    /// Quality, 0 to 1.
    pub quality: f64,
}

/// Streaming respiration rate from an impedance or accelerometer signal.
#[napi]
pub struct RespProcessor {
    inner: resp::RespAnalyzer,
}

#[napi]
impl RespProcessor {
    /// A processor at `sampleRateHz` (4 to 1000). Throws on a bad parameter, naming it.
    #[napi(constructor, catch_unwind)]
    pub fn new(sample_rate_hz: f64) -> napi::Result<Self> {
        resp::RespAnalyzer::new(resp::RespConfig { sample_rate_hz }).map(|inner| Self { inner }).map_err(config_error)
    }

    /// Processes one batch and returns the estimate at its end.
    #[napi(catch_unwind)]
    pub fn process(&mut self, samples: Float32ArraySlice) -> Either<RespEstimateJs, SignalRejected> {
        match self.inner.process(&samples) {
            Ok(e) => Either::A(RespEstimateJs { ok: true, resp_rate_per_min: e.rate_per_min, quality: e.quality }),
            Err(e) => Either::B(rejected(e)),
        }
    }
}

/// One source for `fuseRespRate`.
#[napi(object)]
pub struct RespSourceInput {
    /// Breaths per minute, absent when unavailable.
    #[napi(js_name = "respRatePerMin")]
    pub resp_rate_per_min: Option<f64>,
    /// Quality, 0 to 1.
    pub quality: f64,
}

/// A fused respiration rate.
#[napi(object)]
pub struct FusedRespJs {
    /// Breaths per minute, absent when neither source is usable.
    #[napi(js_name = "respRatePerMin")]
    pub resp_rate_per_min: Option<f64>,
    /// Quality, 0 to 1.
    pub quality: f64,
    /// The source used.
    #[napi(ts_type = "'direct' | 'ppg' | 'none'")]
    pub source: String,
}

/// Fuses a direct (impedance or accelerometer) and a PPG-derived respiration rate by the
/// documented rule (docs/signal-processing.md).
#[napi(catch_unwind, js_name = "fuseRespRate")]
pub fn fuse_resp_rate(direct: RespSourceInput, ppg: RespSourceInput) -> FusedRespJs {
    let to_core = |s: RespSourceInput| resp::RespEstimate {
        rate_per_min: s.resp_rate_per_min.filter(|r| r.is_finite()),
        quality: if s.quality.is_finite() { s.quality.clamp(0.0, 1.0) } else { 0.0 },
    };
    let fused = resp::fuse(to_core(direct), to_core(ppg));
    FusedRespJs { resp_rate_per_min: fused.rate_per_min, quality: fused.quality, source: fused.source.name().to_owned() }
}

/// A respiration rate from the ECG's or the PPG's modulations.
#[napi(object)]
pub struct ModulationRespJs {
    /// Always `true` when returned by `EcgRespProcessor.process`.
    #[napi(ts_type = "true")]
    pub ok: bool,
    /// Breaths per minute; absent when withdrawn (see `status`).
    #[napi(js_name = "respRatePerMin")]
    pub resp_rate_per_min: Option<f64>,
    /// Quality, 0 to 1.
    pub quality: f64,
    /// Why the rate is (not) reported.
    #[napi(ts_type = "'ok' | 'learning' | 'low-quality' | 'no-signal'")]
    pub status: String,
    /// The modulations whose spectra were averaged.
    pub modulations: Vec<String>,
}

fn modulation_js(f: &modulation::FusedModulations) -> ModulationRespJs {
    ModulationRespJs {
        ok: true,
        resp_rate_per_min: f.estimate.rate_per_min,
        quality: f.estimate.quality,
        status: f.estimate.status.name().to_owned(),
        modulations: f.used.iter().map(|m| m.name().to_owned()).collect(),
    }
}

/// Streaming ECG-derived respiration for one lead: fed the lead and the beats its
/// `QrsDetector` found in the same batch.
#[napi]
pub struct EcgRespProcessor {
    inner: edr::EcgRespiration,
}

#[napi]
impl EcgRespProcessor {
    /// A processor at `sampleRateHz` (the lead's). Throws on a bad parameter, naming it.
    #[napi(constructor, catch_unwind)]
    pub fn new(sample_rate_hz: f64) -> napi::Result<Self> {
        edr::EcgRespiration::new(sample_rate_hz).map(|inner| Self { inner }).map_err(config_error)
    }

    /// Processes one batch of the lead and the beats (`beatSampleIndexes` of the
    /// `QrsDetector`'s batch over the same samples).
    #[napi(catch_unwind)]
    pub fn process(&mut self, samples: Float32ArraySlice, beat_sample_indexes: Float64ArraySlice) -> Either<ModulationRespJs, SignalRejected> {
        let beats: Vec<u64> =
            beat_sample_indexes.iter().filter(|b| b.is_finite() && **b >= 0.0).map(|&b| b as u64).collect();
        match self.inner.process(&samples, &beats) {
            Ok(f) => Either::A(modulation_js(&f)),
            Err(e) => Either::B(rejected(e)),
        }
    }
}

/// A respiration rate fused from every source a device has.
#[napi(object)]
pub struct FusedRespSourcesJs {
    /// Breaths per minute, absent when withdrawn (see `status`).
    #[napi(js_name = "respRatePerMin")]
    pub resp_rate_per_min: Option<f64>,
    /// Quality, 0 to 1.
    pub quality: f64,
    /// The source used.
    #[napi(ts_type = "'direct' | 'ecg' | 'ppg' | 'ecg+ppg' | 'none'")]
    pub source: String,
    /// Why the rate is (not) reported.
    #[napi(ts_type = "'ok' | 'learning' | 'low-quality' | 'no-signal' | 'no-source'")]
    pub status: String,
    /// The ECG and PPG modulations whose spectra were averaged (empty for `direct`).
    pub modulations: Vec<String>,
}

/// Fuses the respiration sources a device has (docs/signal-processing.md): the direct one
/// (impedance or accelerometer) when its quality is good, otherwise the modulations of the
/// ECG and the PPG. Each argument may be absent.
#[napi(catch_unwind, js_name = "fuseRespSources")]
pub fn fuse_resp_sources(
    direct: Option<RespSourceInput>,
    ecg: Option<&EcgRespProcessor>,
    ppg: Option<&PpgProcessor>,
) -> FusedRespSourcesJs {
    let direct = direct.map(|s| resp::RespEstimate {
        rate_per_min: s.resp_rate_per_min.filter(|r| r.is_finite()),
        quality: if s.quality.is_finite() { s.quality.clamp(0.0, 1.0) } else { 0.0 },
    });
    let fused = resp::fuse_sources(direct, ecg.map(|e| &e.inner), ppg.map(|p| p.inner.respiration()));
    FusedRespSourcesJs {
        resp_rate_per_min: fused.rate_per_min,
        quality: fused.quality,
        source: fused.source.name().to_owned(),
        status: fused.status.name().to_owned(),
        modulations: fused.modulations.iter().map(|m| m.name().to_owned()).collect(),
    }
}

/// Options of a `NumericsFilter`.
#[napi(object)]
pub struct NumericsOptions {
    /// Lowest plausible reading.
    pub min: f64,
    /// Highest plausible reading.
    pub max: f64,
    /// Readings in the running median, odd (default 5).
    pub window: Option<u32>,
    /// Readings older than this are forgotten, s (default 10).
    #[napi(js_name = "maxAgeS")]
    pub max_age_s: Option<f64>,
}

/// The results of one numerics batch: one output per reading.
#[napi(object)]
pub struct NumericsBatch {
    /// Always `true`.
    #[napi(ts_type = "true")]
    pub ok: bool,
    /// Filtered values; NaN where unavailable.
    pub values: Float64Array,
    /// 1 where the reading was rejected (out of range or NaN), else 0.
    pub rejected: Uint8Array,
}

/// Artifact rejection and running-median smoothing of ~1 Hz numeric readings.
#[napi]
pub struct NumericsFilter {
    inner: numerics::NumericsFilter,
}

#[napi]
impl NumericsFilter {
    /// A filter for `options`. Throws on a bad parameter, naming it.
    #[napi(constructor, catch_unwind)]
    pub fn new(options: NumericsOptions) -> napi::Result<Self> {
        let mut config = numerics::NumericsConfig::new(options.min, options.max);
        if let Some(w) = options.window {
            config.window = w as usize;
        }
        if let Some(a) = options.max_age_s {
            config.max_age_s = a;
        }
        numerics::NumericsFilter::new(config).map(|inner| Self { inner }).map_err(config_error)
    }

    /// Filters readings with their times (s, non-decreasing).
    #[napi(catch_unwind)]
    pub fn process(&mut self, times_s: Float64ArraySlice, values: Float64ArraySlice) -> Either<NumericsBatch, SignalRejected> {
        match self.inner.process(&times_s, &values) {
            Ok(out) => Either::A(NumericsBatch {
                ok: true,
                values: Float64Array::new(out.iter().map(|o| o.value.unwrap_or(f64::NAN)).collect()),
                rejected: Uint8Array::new(out.iter().map(|o| u8::from(o.rejected)).collect()),
            }),
            Err(e) => Either::B(rejected(e)),
        }
    }

    /// Readings a step change takes to show fully (the documented delay).
    #[napi(getter, catch_unwind, js_name = "delayReadings")]
    pub fn delay_readings(&self) -> u32 {
        u32::try_from(self.inner.config().delay_readings()).unwrap_or(u32::MAX)
    }
}
