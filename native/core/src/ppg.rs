//! Photoplethysmogram (PPG) analysis, streaming: pulses and pulse rate, SpO2 by the ratio
//! of ratios, perfusion index, a signal quality index that flags motion and low
//! perfusion, and the respiration rate carried by the pulses ([`crate::resp`]).
//!
//! Pulses: the infrared (or only) channel is band-passed (second-order Butterworth
//! high-pass 0.5 Hz and low-pass 8 Hz); its slope sum function (Zong et al., Computers in
//! Cardiology 30:259-262, 2003: the sum of the rising increments over the last 128 ms) is
//! searched for peaks, keeping the largest within 250 ms. A peak is a pulse when it
//! exceeds `noise + 0.4 (pulse - noise)` (means of the last 8 pulse and non-pulse peak
//! heights), unless it comes within 0.5 s of the last pulse and either the signal has not
//! fallen by 60 % of that pulse's amplitude in between or its slope-sum peak is less than
//! half that pulse's (it is then the dicrotic wave). After 1.5 intervals (the median of
//! the last 8) without a pulse, the largest peak above half the threshold that is not a
//! dicrotic wave is taken (search-back). The first 3 s are a learning period. The pulse
//! time is the slope-sum peak (end of the upstroke). Delay: usually 0.45 s (250 ms
//! refractory, 150 ms peak decision, filters); at most about 3.5 s (search-back).
//!
//! Pulse rate: the rule of [`crate::heart_rate`] over the pulses of the last 16 s
//! (oximeters average over 8 to 16 s; on the BIDMC records, whose rhythms are often
//! irregular, a 10 s window scattered more: see `docs/benchmarks.md`).
//!
//! SpO2 (ratio of ratios): `R = (AC_red / DC_red) / (AC_ir / DC_ir)`, where the AC ratio
//! is the least-squares slope of the band-passed red on the band-passed infrared signal
//! and DC is each channel low-passed at 0.3 Hz, all averaged exponentially with a 4 s time
//! constant. `SpO2 = a + b R + c R^2` ([`Spo2Calibration`]); the default curve
//! `110 - 25 R` is the usual empirical linear approximation of transmission oximeters
//! (J. G. Webster, *Design of Pulse Oximeters*, IOP 1997, ch. 4). A real sensor needs its
//! own curve, measured against arterial blood gases: configure it per sensor. Values
//! above 100 are shown as 100; values below 50 % (outside any calibration) and negative
//! ratios are unavailable.
//!
//! Perfusion index: pulse amplitude over DC of the infrared channel, percent (median of
//! the pulses of the last 10 s).
//!
//! Signal quality index (0 to 1) = perfusion quality x motion quality:
//! - perfusion quality: PI / `low_perfusion_percent`, at most 1 (below the limit the
//!   *low perfusion* flag is set);
//! - motion quality: the fraction of the pulses of the last 10 s whose amplitude is
//!   within 0.5-2 x the median, whose interval is within 0.5-1.5 x the median, and whose
//!   shape (band-passed, 0.3 s before to 0.2 s after the pulse, z-normalised) correlates
//!   at 0.8 or more with the running template of the recent consistent pulses, halved
//!   when the band-passed signal in the last 2 s swung beyond 3 x the median pulse
//!   amplitude. The *motion* flag is set when that fraction is below 0.7 or the swing
//!   test fails.
//!
//! Pulse rate, SpO2 and perfusion index are reported only when the SQI is at least
//! [`MIN_SQI`]; they are unavailable (`None`), never held, otherwise.

use crate::dsp::{
    Biquad, Cascade, CascadeState, ConfigError, History, MovingSum, RULE_FINITE, RULE_SAME_LENGTH, SampleError,
    check_finite,
    median, samples_in,
};
use crate::heart_rate::{RateConfig, RateEstimator};
use crate::resp::{PpgRespiration, PulseFeatures, RespEstimate};

/// Lowest SQI at which values are reported.
pub const MIN_SQI: f64 = 0.5;
/// Rule broken by a PPG sample rate out of range.
pub const RULE_PPG_SAMPLE_RATE: &str = "must be between 25 and 1000";
/// Rule broken by a non-positive limit.
pub const RULE_POSITIVE: &str = "must be a finite number greater than 0";

const BAND_LOW_HZ: f64 = 0.5;
const BAND_HIGH_HZ: f64 = 8.0;
const DC_CUTOFF_HZ: f64 = 0.3;
const SLOPE_SUM_S: f64 = 0.128;
const PEAK_TIMEOUT_S: f64 = 0.15;
const REFRACTORY_S: f64 = 0.25;
const THRESHOLD_COEFFICIENT: f64 = 0.4;
/// A peak within this time of a pulse is its dicrotic wave, not a pulse, unless the signal
/// fell by at least `DICROTIC_FALL` x the pulse amplitude between them, s.
const DICROTIC_WINDOW_S: f64 = 0.5;
const DICROTIC_FALL: f64 = 0.6;
/// ... and unless its slope-sum peak is at least this fraction of the pulse's.
const DICROTIC_HEIGHT: f64 = 0.5;
const SEARCH_BACK_INTERVALS: f64 = 1.5;
const SEARCH_BACK_THRESHOLD: f64 = 0.5;
const INTERVAL_MIN_S: f64 = 0.25;
const INTERVAL_MAX_S: f64 = 2.0;
const LEARNING_S: f64 = 3.0;
const RELEARN_S: f64 = 8.0;
/// Pulse-rate window, s (see the module documentation).
const PULSE_RATE_WINDOW_S: f64 = 16.0;
const LEVELS: usize = 8;
const MAX_CANDIDATES: usize = 32;
/// Time constant of the SpO2 averages, s.
const SPO2_TIME_CONSTANT_S: f64 = 4.0;
/// Pulse trough and crest are searched this far before / around the pulse time, s.
const TROUGH_SEARCH_S: f64 = 0.35;
const CREST_SEARCH_S: f64 = 0.15;
/// Window of the pulse statistics (amplitude, perfusion, motion), s.
const STATS_WINDOW_S: f64 = 10.0;
/// Block of the swing (motion) test, s.
const SWING_BLOCK_S: f64 = 2.0;
const SWING_LIMIT: f64 = 3.0;
const CONSISTENT_FRACTION_MOTION: f64 = 0.7;
const SPO2_MIN_REPORTED: f64 = 50.0;

/// SpO2 calibration curve `SpO2 = a + b R + c R^2`, percent, with `R` the ratio of ratios.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spo2Calibration {
    /// Constant term.
    pub a: f64,
    /// Linear coefficient.
    pub b: f64,
    /// Quadratic coefficient.
    pub c: f64,
}

impl Default for Spo2Calibration {
    /// The documented default, `110 - 25 R`.
    fn default() -> Self {
        Self { a: 110.0, b: -25.0, c: 0.0 }
    }
}

impl Spo2Calibration {
    /// SpO2 for the ratio `r` (not clamped).
    pub fn spo2_percent(&self, r: f64) -> f64 {
        self.a + self.b * r + self.c * r * r
    }
}

/// Configuration of a [`PpgAnalyzer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PpgConfig {
    /// Sample rate, Hz (25 to 1000).
    pub sample_rate_hz: f64,
    /// SpO2 calibration of this sensor.
    pub calibration: Spo2Calibration,
    /// Perfusion index under which the low-perfusion flag is set, percent. Default 0.3.
    pub low_perfusion_percent: f64,
    /// `true` when a pulse makes the signal fall (raw transmitted-light intensity);
    /// `false` (default) when it makes it rise (the usual plethysmogram display).
    pub inverted: bool,
}

impl PpgConfig {
    /// Defaults at `sample_rate_hz`.
    pub fn new(sample_rate_hz: f64) -> Self {
        Self { sample_rate_hz, calibration: Spo2Calibration::default(), low_perfusion_percent: 0.3, inverted: false }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fs = self.sample_rate_hz;
        if !(fs.is_finite() && (25.0..=1000.0).contains(&fs)) {
            return Err(ConfigError::new("sampleRateHz", RULE_PPG_SAMPLE_RATE));
        }
        for (name, v) in [("calibrationA", self.calibration.a), ("calibrationB", self.calibration.b), ("calibrationC", self.calibration.c)] {
            if !v.is_finite() {
                return Err(ConfigError::new(name, RULE_FINITE));
            }
        }
        if !(self.low_perfusion_percent.is_finite() && self.low_perfusion_percent > 0.0) {
            return Err(ConfigError::new("lowPerfusionPercent", RULE_POSITIVE));
        }
        Ok(())
    }
}

/// What one batch produced.
#[derive(Debug, Clone, PartialEq)]
pub struct PpgBatch {
    /// Sample indexes of the pulses decided in this batch, increasing.
    pub pulses: Vec<u64>,
    /// Pulse rate per minute at the end of the batch.
    pub pulse_rate_bpm: Option<f64>,
    /// SpO2 percent (only with a red channel).
    pub spo2_percent: Option<f64>,
    /// Perfusion index, percent.
    pub perfusion_index_percent: Option<f64>,
    /// Signal quality index, 0 to 1.
    pub sqi: f64,
    /// Motion artifact detected.
    pub motion: bool,
    /// Perfusion index below the configured limit.
    pub low_perfusion: bool,
    /// Respiration rate from the pulses' modulation.
    pub resp: RespEstimate,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Peak {
    index: u64,
    height: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct PulseStats {
    index: u64,
    amplitude: f64,
    perfusion_percent: f64,
    interval_s: Option<f64>,
    /// Correlation of the pulse's shape with the template.
    correlation: f64,
}

/// Points of a pulse shape.
const SHAPE_POINTS: usize = 32;
/// The shape runs from this long before the pulse time to this long after it, s (a pulse
/// can be decided as early as the refractory period after its time).
const SHAPE_BEFORE_S: f64 = 0.3;
const SHAPE_AFTER_S: f64 = 0.2;
/// A pulse whose shape correlates less than this with the template is not consistent.
const MIN_CORRELATION: f64 = 0.8;
/// Weight of a new pulse in the template.
const TEMPLATE_WEIGHT: f64 = 0.2;
/// After this many inconsistent pulses in a row the template starts again.
const TEMPLATE_RESET: u32 = 5;

/// Running template of the pulse shape (z-normalised), for the motion test.
#[derive(Debug, Clone)]
struct Template {
    shape: Option<[f64; SHAPE_POINTS]>,
    misses: u32,
}

impl Template {
    /// Correlation of `shape` with the template (1 for the first), then updates it.
    fn compare_and_update(&mut self, shape: [f64; SHAPE_POINTS]) -> f64 {
        let Some(template) = self.shape.as_mut() else {
            self.shape = Some(shape);
            return 1.0;
        };
        let r = template.iter().zip(&shape).map(|(a, b)| a * b).sum::<f64>() / SHAPE_POINTS as f64;
        if r >= MIN_CORRELATION {
            self.misses = 0;
            for (t, s) in template.iter_mut().zip(&shape) {
                *t += TEMPLATE_WEIGHT * (s - *t);
            }
            normalise(template);
        } else {
            self.misses += 1;
            if self.misses >= TEMPLATE_RESET {
                *template = shape;
                self.misses = 0;
            }
        }
        r
    }
}

/// Scales `v` in place to zero mean and unit (population) standard deviation; `false` for
/// a constant vector.
fn normalise(v: &mut [f64; SHAPE_POINTS]) -> bool {
    let mean = v.iter().sum::<f64>() / SHAPE_POINTS as f64;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / SHAPE_POINTS as f64).sqrt();
    if sd <= f64::EPSILON {
        return false;
    }
    for x in v.iter_mut() {
        *x = (*x - mean) / sd;
    }
    true
}

#[derive(Debug, Clone)]
struct Level {
    values: [f64; LEVELS],
    next: usize,
}

impl Level {
    fn filled(v: f64) -> Self {
        Self { values: [v; LEVELS], next: 0 }
    }
    fn push(&mut self, v: f64) {
        if let Some(slot) = self.values.get_mut(self.next) {
            *slot = v;
        }
        self.next = (self.next + 1) % LEVELS;
    }
    fn mean(&self) -> f64 {
        self.values.iter().sum::<f64>() / LEVELS as f64
    }
    fn median(&self) -> f64 {
        median(&self.values).unwrap_or(0.0)
    }
}

/// Durations in samples and filters, derived once from the configuration.
#[derive(Debug, Clone)]
struct Design {
    config: PpgConfig,
    band: Cascade,
    dc: Cascade,
    slope_sum: usize,
    peak_timeout: u64,
    refractory: u64,
    dicrotic_window: u64,
    interval_min: f64,
    interval_max: f64,
    learning: u64,
    relearn: u64,
    trough_search: u64,
    crest_search: u64,
    stats_window: u64,
    shape_before: u64,
    shape_after: u64,
    swing_block: u64,
    /// Per-sample weight of the exponential SpO2 averages.
    alpha: f64,
}

/// Pulses, pulse rate, SpO2, perfusion, quality and PPG-derived respiration, streaming.
#[derive(Debug, Clone)]
pub struct PpgAnalyzer {
    design: Design,
    index: u64,
    ir_band: CascadeState,
    ir_dc: CascadeState,
    red_band: CascadeState,
    red_dc: CascadeState,
    previous_band: f64,
    slope: MovingSum,
    band_history: History,
    raw_history: History,
    dc_history: History,
    previous_slope: f64,
    rising: Option<(u64, f64)>,
    pending: Option<(u64, f64)>,
    pulse_level: Level,
    noise_level: Level,
    interval_level: Level,
    last_pulse: Option<u64>,
    /// Crest of the last pulse: index, band-passed value, pulse amplitude, slope-sum height.
    last_crest: Option<(u64, f64, f64, f64)>,
    candidates: Vec<Peak>,
    learning: bool,
    last_event: u64,
    rate: RateEstimator,
    stats: Vec<PulseStats>,
    template: Template,
    resp: PpgRespiration,
    /// Exponential averages: red x ir, ir x ir, DC ir, DC red.
    sum_red_ir: f64,
    sum_ir_ir: f64,
    mean_dc_ir: f64,
    mean_dc_red: f64,
    has_red: bool,
    swing_max: f64,
    swing_fill: u64,
    last_swing: f64,
}

impl PpgAnalyzer {
    /// An analyzer for `config`; the error names the first bad parameter.
    pub fn new(config: PpgConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let fs = config.sample_rate_hz;
        let to = |s: f64| samples_in("sampleRateHz", s, fs);
        let design = Design {
            config,
            band: Cascade::bandpass("sampleRateHz", "sampleRateHz", fs, BAND_LOW_HZ, BAND_HIGH_HZ)?,
            dc: Cascade::new(vec![Biquad::lowpass("sampleRateHz", fs, DC_CUTOFF_HZ)?]),
            slope_sum: to(SLOPE_SUM_S)?,
            peak_timeout: to(PEAK_TIMEOUT_S)? as u64,
            refractory: to(REFRACTORY_S)? as u64,
            dicrotic_window: to(DICROTIC_WINDOW_S)? as u64,
            interval_min: INTERVAL_MIN_S * fs,
            interval_max: INTERVAL_MAX_S * fs,
            learning: to(LEARNING_S)? as u64,
            relearn: to(RELEARN_S)? as u64,
            trough_search: to(TROUGH_SEARCH_S)? as u64,
            crest_search: to(CREST_SEARCH_S)? as u64,
            stats_window: to(STATS_WINDOW_S)? as u64,
            shape_before: to(SHAPE_BEFORE_S)? as u64,
            shape_after: to(SHAPE_AFTER_S)? as u64,
            swing_block: to(SWING_BLOCK_S)? as u64,
            alpha: 1.0 - (-1.0 / (SPO2_TIME_CONSTANT_S * fs)).exp(),
        };
        let history = to(1.5)?;
        let mut rate_config = RateConfig::heart(fs);
        rate_config.min_interval_s = INTERVAL_MIN_S;
        rate_config.window_s = PULSE_RATE_WINDOW_S;
        Ok(Self {
            index: 0,
            ir_band: design.band.new_state(),
            ir_dc: design.dc.new_state(),
            red_band: design.band.new_state(),
            red_dc: design.dc.new_state(),
            previous_band: 0.0,
            slope: MovingSum::new(design.slope_sum),
            band_history: History::new(history),
            raw_history: History::new(history),
            dc_history: History::new(history),
            previous_slope: 0.0,
            rising: None,
            pending: None,
            pulse_level: Level::filled(0.0),
            noise_level: Level::filled(0.0),
            interval_level: Level::filled(fs),
            last_pulse: None,
            last_crest: None,
            candidates: Vec::with_capacity(MAX_CANDIDATES),
            learning: true,
            last_event: 0,
            rate: RateEstimator::new(rate_config)?,
            stats: Vec::new(),
            template: Template { shape: None, misses: 0 },
            resp: PpgRespiration::new(fs)?,
            sum_red_ir: 0.0,
            sum_ir_ir: 0.0,
            mean_dc_ir: 0.0,
            mean_dc_red: 0.0,
            has_red: false,
            swing_max: 0.0,
            swing_fill: 0,
            last_swing: 0.0,
            design,
        })
    }

    /// The respiration carried by the pulses.
    pub fn respiration(&self) -> &PpgRespiration {
        &self.resp
    }

    /// Number of samples processed so far.
    pub fn samples_seen(&self) -> u64 {
        self.index
    }

    /// Processes a batch of the infrared (or only) channel and, for SpO2, the red channel
    /// of the same samples. A batch with a non-finite sample, or a red batch of another
    /// length, is rejected whole before any state changes.
    pub fn process(&mut self, ir: &[f32], red: Option<&[f32]>) -> Result<PpgBatch, SampleError> {
        check_finite("ir", ir)?;
        if let Some(red) = red {
            check_finite("red", red)?;
            if red.len() != ir.len() {
                return Err(SampleError { field: "red", rule: RULE_SAME_LENGTH, index: 0 });
            }
        }
        let mut pulses = Vec::new();
        for (i, &x) in ir.iter().enumerate() {
            let r = red.and_then(|red| red.get(i)).map(|&v| f64::from(v));
            self.step(f64::from(x), r, &mut pulses);
        }
        self.resp.advance_to(self.index);
        Ok(self.report(pulses))
    }

    fn step(&mut self, ir: f64, red: Option<f64>, pulses: &mut Vec<u64>) {
        let n = self.index;
        let d = &self.design;
        if n == 0 {
            self.ir_dc = d.dc.steady_state(ir);
            self.ir_band = d.band.steady_state(ir);
        }
        let sign = if d.config.inverted { -1.0 } else { 1.0 };
        let band = sign * d.band.step(&mut self.ir_band, ir);
        let dc_ir = d.dc.step(&mut self.ir_dc, ir);
        if let Some(red) = red {
            if !self.has_red {
                self.red_dc = d.dc.steady_state(red);
                self.red_band = d.band.steady_state(red);
                self.mean_dc_red = red;
                self.has_red = true;
            }
            let red_band = sign * d.band.step(&mut self.red_band, red);
            let dc_red = d.dc.step(&mut self.red_dc, red);
            let a = d.alpha;
            self.sum_red_ir += a * (red_band * band - self.sum_red_ir);
            self.sum_ir_ir += a * (band * band - self.sum_ir_ir);
            self.mean_dc_red += a * (dc_red - self.mean_dc_red);
        }
        if n == 0 {
            self.mean_dc_ir = dc_ir;
        }
        self.mean_dc_ir += d.alpha * (dc_ir - self.mean_dc_ir);

        let rise = (band - self.previous_band).max(0.0);
        self.previous_band = band;
        let slope_sum = if n == 0 { 0.0 } else { self.slope.step(rise) };
        self.band_history.push(band);
        self.raw_history.push(ir);
        self.dc_history.push(dc_ir);
        self.index += 1;

        self.swing_max = self.swing_max.max(band.abs());
        self.swing_fill += 1;
        if self.swing_fill >= d.swing_block {
            self.last_swing = self.swing_max;
            self.swing_max = 0.0;
            self.swing_fill = 0;
        }

        let mut emitted = None;
        match self.rising {
            None => {
                if slope_sum > self.previous_slope && slope_sum > 0.0 {
                    self.rising = Some((n, slope_sum));
                }
            }
            Some((at, h)) => {
                if slope_sum > h {
                    self.rising = Some((n, slope_sum));
                } else if slope_sum < h / 2.0 || n - at >= d.peak_timeout {
                    emitted = Some((at, h));
                    self.rising = None;
                }
            }
        }
        self.previous_slope = slope_sum;
        if let Some((at, h)) = emitted {
            match self.pending {
                Some((p_at, p_h)) if at.saturating_sub(p_at) < d.refractory => {
                    if h > p_h {
                        self.pending = Some((at, h));
                    }
                }
                Some(_) => {
                    self.decide_pending(pulses);
                    self.pending = Some((at, h));
                }
                None => self.pending = Some((at, h)),
            }
        }
        if let Some((p_at, _)) = self.pending
            && n >= p_at + self.design.refractory + self.design.peak_timeout
        {
            self.decide_pending(pulses);
        }
        if self.learning && self.index >= self.design.learning {
            self.learning = false;
            let peaks = std::mem::take(&mut self.candidates);
            let max = peaks.iter().map(|p| p.height).fold(0.0, f64::max);
            self.pulse_level = Level::filled(max);
            self.last_event = self.index;
            for p in peaks {
                self.classify(p, pulses);
            }
        }
        self.search_back(pulses);
        if !self.learning && self.index - self.last_event >= self.design.relearn {
            let max = self.candidates.iter().map(|p| p.height).fold(0.0, f64::max);
            if max > 0.0 {
                self.pulse_level = Level::filled(max);
            }
            self.last_event = self.index;
        }
    }

    fn decide_pending(&mut self, pulses: &mut Vec<u64>) {
        let Some((index, height)) = self.pending.take() else { return };
        let peak = Peak { index, height };
        if self.learning {
            self.push_candidate(peak);
        } else {
            self.classify(peak, pulses);
        }
    }

    fn threshold(&self) -> f64 {
        let noise = self.noise_level.mean();
        noise + THRESHOLD_COEFFICIENT * (self.pulse_level.mean() - noise)
    }

    fn push_candidate(&mut self, peak: Peak) {
        if self.candidates.len() >= MAX_CANDIDATES {
            self.candidates.remove(0);
        }
        self.candidates.push(peak);
    }

    /// `true` for a peak too close to the last pulse to be another one: within the
    /// refractory period, or within the dicrotic window without the fall to a foot.
    fn follows_last_pulse(&self, peak: &Peak) -> bool {
        let Some(last) = self.last_pulse else { return false };
        let gap = peak.index.saturating_sub(last);
        if gap < self.design.refractory {
            return true;
        }
        if gap >= self.design.dicrotic_window {
            return false;
        }
        // Within the dicrotic window, a new pulse starts from (near) the foot: the signal
        // must have fallen by most of the last pulse's amplitude since its crest.
        // And its upstroke is not much weaker than the last pulse's.
        let Some((crest_at, crest, amplitude, height)) = self.last_crest else { return false };
        if peak.height < DICROTIC_HEIGHT * height {
            return true;
        }
        let foot = self.band_history.argmax_by(crest_at, peak.index, |v| -v).map_or(crest, |(_, v)| v);
        crest - foot < DICROTIC_FALL * amplitude
    }

    fn classify(&mut self, peak: Peak, pulses: &mut Vec<u64>) {
        let too_close = self.follows_last_pulse(&peak);
        if !too_close && peak.height > self.threshold() {
            self.accept(peak, pulses);
        } else {
            self.noise_level.push(peak.height);
            if !too_close {
                self.push_candidate(peak);
            }
        }
    }

    fn search_back(&mut self, pulses: &mut Vec<u64>) {
        loop {
            let Some(last) = self.last_pulse else { return };
            if ((self.index - 1).saturating_sub(last) as f64) <= SEARCH_BACK_INTERVALS * self.interval_level.median() {
                return;
            }
            let floor = SEARCH_BACK_THRESHOLD * self.threshold();
            let min_gap = self.design.refractory;
            let best = self
                .candidates
                .iter()
                .filter(|c| c.index >= last + min_gap && c.height > floor && !self.follows_last_pulse(c))
                .copied()
                .max_by(|a, b| a.height.total_cmp(&b.height));
            match best {
                Some(p) => self.accept(p, pulses),
                None => return,
            }
        }
    }

    fn accept(&mut self, peak: Peak, pulses: &mut Vec<u64>) {
        let d = &self.design;
        let fs = d.config.sample_rate_hz;
        self.pulse_level.push(peak.height);
        let interval = self.last_pulse.map(|l| peak.index.saturating_sub(l) as f64);
        if let Some(i) = interval {
            self.interval_level.push(i.clamp(d.interval_min, d.interval_max));
        }
        self.last_pulse = Some(peak.index);
        self.last_event = peak.index;
        self.candidates.retain(|c| c.index > peak.index);
        pulses.push(peak.index);
        self.rate.push(peak.index);

        // Trough before the pulse time, crest around it, in the band-passed signal.
        let trough = self.band_history.argmax_by(peak.index.saturating_sub(d.trough_search), peak.index, |v| -v);
        let crest = self.band_history.argmax_by(
            peak.index.saturating_sub(d.crest_search),
            peak.index + d.crest_search,
            |v| v,
        );
        self.last_crest = None;
        if let (Some((trough_at, low)), Some((crest_at, high))) = (trough, crest) {
            let band_amplitude = high - low;
            // Peak-to-trough amplitude in the raw signal (the band-pass attenuates slow
            // pulses), searched in the same windows.
            let sign = if d.config.inverted { -1.0 } else { 1.0 };
            let raw_trough = self.raw_history.argmax_by(peak.index.saturating_sub(d.trough_search), peak.index, |v| -sign * v);
            let raw_crest = self.raw_history.argmax_by(
                peak.index.saturating_sub(d.crest_search),
                peak.index + d.crest_search,
                |v| sign * v,
            );
            let amplitude = match (raw_crest, raw_trough) {
                (Some((_, c)), Some((_, t))) => (sign * (c - t)).max(0.0),
                _ => band_amplitude,
            };
            self.last_crest = Some((crest_at, high, band_amplitude, peak.height));
            let dc = self.dc_history.get(peak.index).unwrap_or(self.mean_dc_ir);
            let perfusion_percent = if dc.abs() > f64::EPSILON { 100.0 * amplitude / dc.abs() } else { 0.0 };
            let interval_s = interval.map(|i| i / fs);
            let baseline = self.raw_history.get(trough_at).unwrap_or(dc);
            let correlation = self.pulse_shape(peak.index).map_or(0.0, |shape| self.template.compare_and_update(shape));
            self.stats.push(PulseStats { index: peak.index, amplitude, perfusion_percent, interval_s, correlation });
            let oldest = peak.index.saturating_sub(d.stats_window);
            self.stats.retain(|s| s.index >= oldest);
            if let Some(interval_s) = interval_s {
                self.resp.push(PulseFeatures { index: peak.index, baseline, amplitude, interval_s });
            }
        }
    }

    /// The band-passed signal around the pulse at `index`, resampled to `SHAPE_POINTS`
    /// points and z-normalised; `None` if not held or flat.
    fn pulse_shape(&self, index: u64) -> Option<[f64; SHAPE_POINTS]> {
        let from = index.checked_sub(self.design.shape_before)?;
        let span = (self.design.shape_before + self.design.shape_after) as f64;
        let mut shape = [0.0; SHAPE_POINTS];
        for (k, point) in shape.iter_mut().enumerate() {
            let at = from as f64 + span * k as f64 / (SHAPE_POINTS - 1) as f64;
            let i = at.floor() as u64;
            let a = self.band_history.get(i)?;
            let b = self.band_history.get(i + 1).unwrap_or(a);
            *point = a + (b - a) * (at - i as f64);
        }
        normalise(&mut shape).then_some(shape)
    }

    fn report(&self, pulses: Vec<u64>) -> PpgBatch {
        let now = self.index;
        let oldest = now.saturating_sub(self.design.stats_window);
        let recent: Vec<&PulseStats> = self.stats.iter().filter(|s| s.index >= oldest).collect();
        let amplitudes: Vec<f64> = recent.iter().map(|s| s.amplitude).collect();
        let intervals: Vec<f64> = recent.iter().filter_map(|s| s.interval_s).collect();
        let perfusion = median(&recent.iter().map(|s| s.perfusion_percent).collect::<Vec<_>>());
        let median_amplitude = median(&amplitudes);
        let median_interval = median(&intervals);
        let consistent = match (median_amplitude, median_interval) {
            (Some(ma), Some(mi)) if ma > 0.0 && recent.len() >= 3 => {
                let ok = recent
                    .iter()
                    .filter(|s| {
                        (0.5 * ma..=2.0 * ma).contains(&s.amplitude)
                            && s.correlation >= MIN_CORRELATION
                            && s.interval_s.is_none_or(|i| (0.5 * mi..=1.5 * mi).contains(&i))
                    })
                    .count();
                ok as f64 / recent.len() as f64
            }
            _ => 0.0,
        };
        let swing = median_amplitude.is_some_and(|ma| self.last_swing > SWING_LIMIT * ma);
        let motion_quality = consistent * if swing { 0.5 } else { 1.0 };
        let motion = !self.learning && (swing || consistent < CONSISTENT_FRACTION_MOTION);
        let low_perfusion_limit = self.design.config.low_perfusion_percent;
        let perfusion_quality = perfusion.map_or(0.0, |p| (p / low_perfusion_limit).clamp(0.0, 1.0));
        let low_perfusion = perfusion.is_some_and(|p| p < low_perfusion_limit);
        let sqi = perfusion_quality * motion_quality;
        let usable = sqi >= MIN_SQI;
        let spo2_percent = if usable && self.has_red { self.spo2() } else { None };
        PpgBatch {
            pulses,
            pulse_rate_bpm: if usable { self.rate.rate_per_min(now) } else { None },
            spo2_percent,
            perfusion_index_percent: if usable { perfusion } else { None },
            sqi,
            motion,
            low_perfusion,
            resp: self.resp.estimate(),
        }
    }

    /// SpO2 from the current averages, before any quality gate.
    fn spo2(&self) -> Option<f64> {
        if self.sum_ir_ir <= 0.0 || self.mean_dc_red.abs() <= f64::EPSILON {
            return None;
        }
        let ac_ratio = self.sum_red_ir / self.sum_ir_ir;
        let r = ac_ratio * self.mean_dc_ir / self.mean_dc_red;
        if !(r.is_finite() && r > 0.0) {
            return None;
        }
        let spo2 = self.design.config.calibration.spo2_percent(r);
        (spo2 >= SPO2_MIN_REPORTED).then(|| spo2.min(100.0))
    }

    /// The current ratio of ratios R, for calibration (`None` without a red channel).
    pub fn ratio_of_ratios(&self) -> Option<f64> {
        if !self.has_red || self.sum_ir_ir <= 0.0 || self.mean_dc_red.abs() <= f64::EPSILON {
            return None;
        }
        Some(self.sum_red_ir / self.sum_ir_ir * self.mean_dc_ir / self.mean_dc_red)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testsig::{PpgSpec, Rng, ppg, score};

    fn raw_config(fs: f64) -> PpgConfig {
        PpgConfig { inverted: true, ..PpgConfig::new(fs) }
    }

    fn run(config: PpgConfig, ir: &[f32], red: Option<&[f32]>, chunk: usize) -> (Vec<u64>, PpgBatch) {
        let mut a = PpgAnalyzer::new(config).unwrap();
        let mut pulses = Vec::new();
        let mut last = None;
        for (i, c) in ir.chunks(chunk).enumerate() {
            let r = red.map(|red| &red[i * chunk..i * chunk + c.len()]);
            let b = a.process(c, r).unwrap();
            pulses.extend(&b.pulses);
            last = Some(b);
        }
        (pulses, last.unwrap())
    }

    #[test]
    fn finds_every_pulse_and_the_rate() {
        for fs in [25.0, 125.0, 500.0] {
            for bpm in [45.0, 75.0, 130.0, 180.0] {
                let mut spec = PpgSpec::clean(fs, 60.0, bpm);
                spec.resp_rate_per_min = 14.0;
                spec.seed = bpm as u64;
                let s = ppg(spec);
                let (pulses, last) = run(raw_config(fs), &s.ir, Some(&s.red), fs as usize);
                // Pulses are placed at the end of the upstroke: compare onsets shifted.
                let truth: Vec<u64> = s.onsets.iter().map(|o| o + (0.13 * fs) as u64).filter(|&o| o as f64 > 3.0 * fs).collect();
                let found: Vec<u64> = pulses.iter().copied().filter(|&p| p as f64 > 3.15 * fs).collect();
                let (tp, missed, extra) = score(&truth, &found, (0.15 * fs) as u64);
                assert!(tp > 0);
                assert_eq!((missed, extra), (0, 0), "fs {fs} bpm {bpm} truth {truth:?} found {found:?}");
                let rate = last.pulse_rate_bpm.unwrap();
                assert!((rate - bpm).abs() < 2.0, "fs {fs} bpm {bpm}: {rate}");
                assert!(!last.motion && !last.low_perfusion && last.sqi > 0.8, "{last:?}");
                let pi = last.perfusion_index_percent.unwrap();
                assert!((pi - 2.0).abs() < 0.4, "PI {pi}");
            }
        }
    }

    #[test]
    fn spo2_arms_from_70_to_100_percent_is_under_2() {
        // Red/IR generated from the default curve's inverse; noise, respiration and pulse
        // rate vary with the seed. Arms is the root mean square of the errors.
        let calibration = Spo2Calibration::default();
        let mut squared = 0.0;
        let mut count = 0.0;
        let mut rng = Rng::new(2024);
        for spo2 in (70..=100).step_by(2) {
            let spo2 = f64::from(spo2);
            let mut spec = PpgSpec::clean(125.0, 40.0, 50.0 + 80.0 * rng.uniform());
            spec.ratio = (calibration.a - spo2) / -calibration.b;
            spec.noise = 0.05;
            spec.resp_rate_per_min = 10.0 + 10.0 * rng.uniform();
            spec.seed = spo2 as u64;
            let s = ppg(spec);
            let (_, last) = run(raw_config(125.0), &s.ir, Some(&s.red), 125);
            let got = last.spo2_percent.unwrap_or_else(|| panic!("no SpO2 at {spo2}"));
            squared += (got - spo2).powi(2);
            count += 1.0;
        }
        let arms = (squared / count).sqrt();
        assert!(arms <= 2.0, "Arms {arms}");
    }

    #[test]
    fn calibration_is_configurable() {
        let s = ppg(PpgSpec { ratio: 1.0, ..PpgSpec::clean(125.0, 30.0, 70.0) });
        let config = PpgConfig { calibration: Spo2Calibration { a: 100.0, b: -10.0, c: -2.0 }, ..raw_config(125.0) };
        let (_, last) = run(config, &s.ir, Some(&s.red), 125);
        assert!((last.spo2_percent.unwrap() - 88.0).abs() < 1.0, "{last:?}");
        let (_, default) = run(raw_config(125.0), &s.ir, Some(&s.red), 125);
        assert!((default.spo2_percent.unwrap() - 85.0).abs() < 1.0, "{default:?}");
    }

    #[test]
    fn motion_is_flagged_and_withdraws_the_values() {
        let mut spec = PpgSpec::clean(125.0, 60.0, 80.0);
        spec.motion_fraction = 1.0;
        spec.motion_amplitude = 1.5;
        let s = ppg(spec);
        let mut a = PpgAnalyzer::new(raw_config(125.0)).unwrap();
        let mut flagged = 0;
        for (ir, red) in s.ir.chunks(125).zip(s.red.chunks(125)).skip(5) {
            let b = a.process(ir, Some(red)).unwrap();
            if b.motion {
                flagged += 1;
            }

            if b.sqi < MIN_SQI {
                assert_eq!((b.pulse_rate_bpm, b.spo2_percent), (None, None));
            }
        }
        assert!(flagged >= 45, "motion flagged {flagged}/55 s");
    }

    #[test]
    fn low_perfusion_is_flagged_and_very_low_perfusion_withdraws_the_values() {
        let s = ppg(PpgSpec { perfusion_percent: 0.2, ..PpgSpec::clean(125.0, 30.0, 70.0) });
        let (_, low) = run(raw_config(125.0), &s.ir, Some(&s.red), 125);
        assert!(low.low_perfusion && low.pulse_rate_bpm.is_some(), "{low:?}");
        let s = ppg(PpgSpec { perfusion_percent: 0.1, ..PpgSpec::clean(125.0, 30.0, 70.0) });
        let (_, very_low) = run(raw_config(125.0), &s.ir, Some(&s.red), 125);
        assert!(very_low.low_perfusion && very_low.sqi < MIN_SQI, "{very_low:?}");
        assert_eq!((very_low.pulse_rate_bpm, very_low.spo2_percent), (None, None));
    }

    #[test]
    fn respiration_from_the_pulses() {
        let mut spec = PpgSpec::clean(125.0, 90.0, 75.0);
        spec.resp_rate_per_min = 15.0;
        let s = ppg(spec);
        let (_, last) = run(raw_config(125.0), &s.ir, None, 125);
        let rate = last.resp.rate_per_min.unwrap_or_else(|| panic!("{:?}", last.resp));
        assert!((rate - 15.0).abs() < 1.5, "{rate}");
        assert_eq!(last.spo2_percent, None, "no SpO2 without a red channel");
    }

    #[test]
    fn chunking_gives_the_pulses_and_values_of_one_call() {
        for seed in 1..=8u64 {
            let mut rng = Rng::new(seed);
            let mut spec = PpgSpec::clean(125.0, 40.0, 40.0 + 120.0 * rng.uniform());
            spec.noise = 0.1 * rng.uniform();
            spec.resp_rate_per_min = 8.0 + 20.0 * rng.uniform();
            spec.seed = seed;
            let s = ppg(spec);
            let (whole, whole_last) = run(raw_config(125.0), &s.ir, Some(&s.red), s.ir.len());
            let mut a = PpgAnalyzer::new(raw_config(125.0)).unwrap();
            let mut pulses: Vec<u64> = Vec::new();
            let mut at = 0;
            let mut last = None;
            while at < s.ir.len() {
                let len = (rng.range(0, 300) as usize).min(s.ir.len() - at);
                let b = a.process(&s.ir[at..at + len], Some(&s.red[at..at + len])).unwrap();
                pulses.extend(&b.pulses);
                last = Some(b);
                at += len;
            }
            assert_eq!(pulses, whole, "seed {seed}");
            let last = last.unwrap();
            assert_eq!(
                (last.pulse_rate_bpm, last.spo2_percent, last.sqi),
                (whole_last.pulse_rate_bpm, whole_last.spo2_percent, whole_last.sqi),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn bad_batches_are_rejected_whole() {
        let mut a = PpgAnalyzer::new(PpgConfig::new(125.0)).unwrap();
        let err = a.process(&[1.0, f32::NAN], None).unwrap_err();
        assert_eq!((err.field, err.index), ("ir", 1));
        let err = a.process(&[1.0, 2.0], Some(&[1.0])).unwrap_err();
        assert_eq!((err.field, err.rule), ("red", RULE_SAME_LENGTH));
        let err = a.process(&[1.0], Some(&[f32::NEG_INFINITY])).unwrap_err();
        assert_eq!(err.field, "red");
        assert_eq!(a.samples_seen(), 0);
        let b = a.process(&[], None).unwrap();
        assert_eq!((b.pulse_rate_bpm, b.sqi), (None, 0.0));
    }

    #[test]
    fn constructor_names_the_bad_parameter() {
        assert_eq!(PpgAnalyzer::new(PpgConfig::new(10.0)).err(), Some(ConfigError::new("sampleRateHz", RULE_PPG_SAMPLE_RATE)));
        let mut c = PpgConfig::new(125.0);
        c.calibration.b = f64::NAN;
        assert_eq!(PpgAnalyzer::new(c).err(), Some(ConfigError::new("calibrationB", RULE_FINITE)));
        let mut c = PpgConfig::new(125.0);
        c.low_perfusion_percent = 0.0;
        assert_eq!(PpgAnalyzer::new(c).err(), Some(ConfigError::new("lowPerfusionPercent", RULE_POSITIVE)));
    }
}
