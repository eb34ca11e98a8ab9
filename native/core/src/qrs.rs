//! Streaming QRS detector for one ECG lead, after Pan and Tompkins (IEEE TBME 32(3):230-236,
//! 1985) with the threshold and search-back rules of Hamilton and Tompkins (IEEE TBME
//! 33(12):1157-1165, 1986).
//!
//! Pipeline, per sample, at any sample rate from 125 to 1000 Hz (every time constant is in
//! seconds and converted once, at construction):
//!
//! 1. *Conditioning* (the "clean" ECG): second-order Butterworth high-pass at 0.5 Hz
//!    (baseline wander), then notches at 50 and/or 60 Hz (Q = 15, mains).
//! 2. *QRS band*: second-order Butterworth high-pass at 5 Hz and low-pass at 15 Hz.
//! 3. Five-point derivative, squared, and integrated over a 150 ms moving window.
//! 4. Peaks of the integrated signal: a local maximum is a peak once the signal falls below
//!    half of it or 95 ms have passed; within 200 ms only the largest peak is kept.
//! 5. Classification of each peak against an adaptive threshold
//!    `noise + 0.559 (qrs - noise)`, where `qrs` and `noise` are the means of the last 8
//!    QRS and noise peak heights. A peak's height is the square root of the integrated
//!    signal at the peak (the RMS slope over the 150 ms window), so heights and thresholds
//!    scale with the QRS amplitude, not with its square: 0.559 = sqrt(0.3125) puts the
//!    threshold where Hamilton and Tompkins's 0.3125 on the integrated signal puts it when
//!    the noise level is zero, and the noise level moves it linearly in amplitude. On the
//!    squared scale a wide ventricular or aberrated beat with a third of the usual slope
//!    falls to a ninth of the QRS level, below any threshold between noise and QRS levels;
//!    on the amplitude scale it stays above the search-back floor. A peak within 360 ms of
//!    the previous QRS whose steepest slope is less than half of that QRS's is a T wave.
//!    When no QRS has been found for 1.5 mean RR intervals, the largest peak above half the
//!    threshold (at least 360 ms after the last QRS) is taken (search-back).
//! 6. The beat is placed at the largest band-passed deflection inside the integration
//!    window of its peak, moved back by the group delay of the filters at 10 Hz.
//!
//! The detector is *streaming*: all state is kept between calls, every decision depends
//! only on samples already seen and on absolute sample indexes, so feeding a record in
//! chunks of any sizes gives exactly the beats of one call over the whole record.
//!
//! *Detection delay*: a beat is reported once the signal has been seen up to at most
//! [`QrsDetector::max_delay_samples`] samples after it (bounded by the search-back limit,
//! under 3.6 s at any sample rate); a beat found on first pass, the usual case, comes
//! [`QrsDetector::typical_delay_samples`] after it (about 0.41 s: filter delay, half the
//! integration window, and the 295 ms peak decision).
//!
//! The detector also keeps, per 1 s block of the conditioned signal, what the quality
//! measures need: the peak-to-peak amplitude (a flat lead is off,
//! [`QrsDetector::leads_off`]) and the power sums for the kurtosis
//! ([`QrsDetector::kurtosis_quality`]); and the QRS and noise levels give the noise quality
//! ([`QrsDetector::noise_quality`]).
//!
//! Memory is bounded: fixed-size rings sized from the sample rate, no growth with record
//! length.

use crate::dsp::{
    Biquad, Cascade, CascadeState, ConfigError, History, MovingSum, SampleError, check_finite, samples_in,
};

/// Lowest sample rate accepted, Hz.
pub const MIN_SAMPLE_RATE_HZ: f64 = 125.0;
/// Highest sample rate accepted, Hz.
pub const MAX_SAMPLE_RATE_HZ: f64 = 1000.0;
/// Rule broken by a sample rate outside 125-1000 Hz.
pub const RULE_SAMPLE_RATE_RANGE: &str = "must be between 125 and 1000";
/// Rule broken by a negative or non-finite amplitude.
pub const RULE_AMPLITUDE: &str = "must be a finite number of at least 0";

/// Baseline-wander high-pass cut-off, Hz.
const BASELINE_CUTOFF_HZ: f64 = 0.5;
/// Quality factor of the mains notches (bandwidth 3.3 Hz at 50 Hz).
const NOTCH_Q: f64 = 15.0;
/// QRS band edges, Hz (Pan-Tompkins use 5-11 Hz at 200 Hz; 15 Hz keeps narrow QRS energy).
const BAND_LOW_HZ: f64 = 5.0;
const BAND_HIGH_HZ: f64 = 15.0;
/// Frequency at which the filter delay is evaluated to place the beat, Hz.
const FIDUCIAL_FREQUENCY_HZ: f64 = 10.0;
/// Moving-window integration length, s (Pan-Tompkins: 150 ms).
const INTEGRATION_S: f64 = 0.150;
/// A maximum that has not been exceeded for this long is a peak, s (Hamilton-Tompkins).
const PEAK_TIMEOUT_S: f64 = 0.095;
/// Only the largest peak within this interval is kept (refractory period), s.
const REFRACTORY_S: f64 = 0.200;
/// Peaks this close to the previous QRS are checked for being T waves, s.
const T_WAVE_WINDOW_S: f64 = 0.360;
/// A T wave's steepest slope is below this fraction of the previous QRS's.
const T_WAVE_SLOPE_RATIO: f64 = 0.5;
/// Detection threshold position between the noise and QRS levels, on the amplitude scale
/// (peak heights are RMS slopes, see the module comment): sqrt(0.3125) = 0.559, where 0.3125
/// is Hamilton and Tompkins's coefficient on the integrated (squared) signal (IEEE TBME
/// 33(12):1157-1165, 1986, "threshold coefficient"). Not fitted to any record.
const THRESHOLD_COEFFICIENT: f64 = 0.559;
/// Search back after this many mean RR intervals without a QRS.
const SEARCH_BACK_RR: f64 = 1.5;
/// Search-back accepts peaks above this fraction of the threshold (Pan and Tompkins 1985,
/// THRESHOLD I2 = 0.5 THRESHOLD I1; Hamilton and Tompkins 1986 likewise), applied on the
/// amplitude scale of the peak heights.
const SEARCH_BACK_THRESHOLD: f64 = 0.5;
/// RR intervals enter the mean clamped to this range, s (bounds the search-back delay).
const RR_MIN_S: f64 = 0.2;
const RR_MAX_S: f64 = 2.0;
/// Initial mean RR interval, s.
const RR_INITIAL_S: f64 = 1.0;
/// Length of the initial learning period, s.
const LEARNING_S: f64 = 2.0;
/// With no QRS for this long, the QRS level is learned again from recent peaks, s.
const RELEARN_S: f64 = 8.0;
/// Leads-off test block, s: the lead is off after two consecutive flat blocks.
const FLAT_BLOCK_S: f64 = 1.0;
/// Number of consecutive flat blocks that mean the lead is off.
const FLAT_BLOCKS_OFF: u32 = 2;
/// Blocks (of `FLAT_BLOCK_S`) over which the kurtosis of the conditioned signal is taken.
const KURTOSIS_BLOCKS: usize = 5;
/// Kurtosis at which the kurtosis quality is 0 (a Gaussian noise has 3) and 1 (Li,
/// Clifford et al., Physiol Meas 29(1):15-32, 2008, take kurtosis > 5 as a clean ECG).
const KURTOSIS_NOISE: f64 = 3.0;
const KURTOSIS_CLEAN: f64 = 5.0;
/// Number of peak heights and RR intervals averaged.
const LEVELS: usize = 8;
/// Bounded number of peaks kept for search-back and for the learning period.
const MAX_CANDIDATES: usize = 32;

/// Which mains frequencies are notched out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mains {
    /// No notch.
    None,
    /// 50 Hz (Europe, most of Asia and Africa).
    Hz50,
    /// 60 Hz (the Americas, parts of Asia).
    Hz60,
    /// Both 50 and 60 Hz (the default: the gateway need not know where it is).
    #[default]
    Both,
}

/// Configuration of a [`QrsDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QrsConfig {
    /// Sample rate of the ECG, Hz (125 to 1000).
    pub sample_rate_hz: f64,
    /// Mains notches.
    pub mains: Mains,
    /// A QRS whose band-passed deflection is smaller than this is ignored, in the unit of
    /// the samples (millivolts for the defaults). Default 0.04 mV: below the smallest QRS
    /// of a connected lead, above the noise of a disconnected one.
    pub min_qrs_amplitude: f64,
    /// The lead is taken as off (disconnected, or a railed amplifier) when the conditioned
    /// signal's peak-to-peak amplitude stays below this for two whole 1 s blocks, in the
    /// unit of the samples. Default 0.05 mV.
    pub flat_amplitude: f64,
}

impl QrsConfig {
    /// The default configuration at `sample_rate_hz` (samples in millivolts).
    pub fn new(sample_rate_hz: f64) -> Self {
        Self { sample_rate_hz, mains: Mains::Both, min_qrs_amplitude: 0.04, flat_amplitude: 0.05 }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.sample_rate_hz.is_finite()
            && (MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&self.sample_rate_hz))
        {
            return Err(ConfigError::new("sampleRateHz", RULE_SAMPLE_RATE_RANGE));
        }
        if !(self.min_qrs_amplitude.is_finite() && self.min_qrs_amplitude >= 0.0) {
            return Err(ConfigError::new("minQrsAmplitude", RULE_AMPLITUDE));
        }
        if !(self.flat_amplitude.is_finite() && self.flat_amplitude >= 0.0) {
            return Err(ConfigError::new("flatAmplitude", RULE_AMPLITUDE));
        }
        Ok(())
    }
}

/// Everything derived from a [`QrsConfig`] once: filter coefficients and durations in
/// samples. Never changes while the detector runs.
#[derive(Debug, Clone)]
struct Design {
    config: QrsConfig,
    /// Baseline high-pass and mains notches.
    conditioning: Cascade,
    /// QRS band-pass.
    band: Cascade,
    /// Derivative scale (sample rate / 8).
    derivative_scale: f64,
    integration: usize,
    peak_timeout: u64,
    refractory: u64,
    t_wave_window: u64,
    /// Beats are placed this many samples before the band-passed maximum.
    fiducial_delay: u64,
    /// Extra samples searched before the integration window for the fiducial point.
    fiducial_margin: u64,
    rr_min: f64,
    rr_max: f64,
    rr_initial: f64,
    learning: u64,
    relearn: u64,
    history: usize,
    /// Length of a leads-off (flat) test block.
    block: u64,
}

impl Design {
    fn new(config: QrsConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let fs = config.sample_rate_hz;
        let mut sections = vec![Biquad::highpass("sampleRateHz", fs, BASELINE_CUTOFF_HZ)?];
        if matches!(config.mains, Mains::Hz50 | Mains::Both) {
            sections.push(Biquad::notch("mains", fs, 50.0, NOTCH_Q)?);
        }
        if matches!(config.mains, Mains::Hz60 | Mains::Both) {
            sections.push(Biquad::notch("mains", fs, 60.0, NOTCH_Q)?);
        }
        let conditioning = Cascade::new(sections);
        let band = Cascade::bandpass("sampleRateHz", "sampleRateHz", fs, BAND_LOW_HZ, BAND_HIGH_HZ)?;
        let delay = conditioning.group_delay_samples(fs, FIDUCIAL_FREQUENCY_HZ)
            + band.group_delay_samples(fs, FIDUCIAL_FREQUENCY_HZ)
            // The five-point derivative is centred two samples back.
            + 2.0;
        let to_samples = |seconds: f64| samples_in("sampleRateHz", seconds, fs);
        let integration = to_samples(INTEGRATION_S)?;
        Ok(Self {
            config,
            conditioning,
            band,
            derivative_scale: fs / 8.0,
            integration,
            peak_timeout: to_samples(PEAK_TIMEOUT_S)? as u64,
            refractory: to_samples(REFRACTORY_S)? as u64,
            t_wave_window: to_samples(T_WAVE_WINDOW_S)? as u64,
            fiducial_delay: delay.max(0.0).round() as u64,
            fiducial_margin: to_samples(0.05)? as u64,
            rr_min: RR_MIN_S * fs,
            rr_max: RR_MAX_S * fs,
            rr_initial: RR_INITIAL_S * fs,
            learning: to_samples(LEARNING_S)? as u64,
            relearn: to_samples(RELEARN_S)? as u64,
            // Covers the integration window, the fiducial margin and the peak decision.
            history: to_samples(1.0)?,
            block: to_samples(FLAT_BLOCK_S)? as u64,
        })
    }
}

/// A peak of the integrated signal, with what classification needs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Peak {
    /// Sample index of the maximum of the integrated signal.
    index: u64,
    /// Square root of the integrated signal at the peak: the RMS slope over the
    /// integration window, in the unit of the samples per second (amplitude scale).
    height: f64,
    /// Steepest derivative (absolute) in the integration window.
    slope: f64,
    /// Largest band-passed deflection (absolute) in the window.
    amplitude: f64,
    /// Sample index where the beat is placed.
    fiducial: u64,
}

/// Mean of a fixed number of recent values.
#[derive(Debug, Clone)]
struct Level {
    values: [f64; LEVELS],
    next: usize,
}

impl Level {
    fn filled(value: f64) -> Self {
        Self { values: [value; LEVELS], next: 0 }
    }

    fn push(&mut self, value: f64) {
        if let Some(slot) = self.values.get_mut(self.next) {
            *slot = value;
        }
        self.next = (self.next + 1) % LEVELS;
    }

    fn mean(&self) -> f64 {
        self.values.iter().sum::<f64>() / LEVELS as f64
    }
}

/// The evolving state of a [`QrsDetector`].
#[derive(Debug, Clone)]
struct State {
    /// Absolute index of the next sample.
    index: u64,
    conditioning: CascadeState,
    band: CascadeState,
    /// Last four band-passed samples, newest first.
    recent: [f64; 4],
    integrator: MovingSum,
    /// Band-passed signal (for the fiducial point).
    band_history: History,
    /// Absolute derivative (for the slope).
    slope_history: History,
    /// Integrated signal at the previous sample.
    previous_integrated: f64,
    /// Maximum of the integrated signal being followed, and where.
    rising: Option<(u64, f64)>,
    /// Peak held for the refractory period before it is classified.
    pending: Option<(u64, f64)>,
    qrs_level: Level,
    noise_level: Level,
    rr_level: Level,
    /// Last accepted QRS peak.
    last_qrs: Option<Peak>,
    /// Peaks below the threshold since the last QRS (search-back), or all peaks while
    /// learning; bounded by `MAX_CANDIDATES`.
    candidates: Vec<Peak>,
    learning: bool,
    /// Index of the last (re)learning or QRS, for the re-learning timer.
    last_event: u64,
    /// Last beat index reported (beats are strictly increasing).
    last_beat: Option<u64>,
    /// Minimum and maximum of the conditioned signal in the current block.
    block_min: f64,
    block_max: f64,
    /// Samples in the current block.
    block_fill: u64,
    /// Consecutive complete blocks whose peak-to-peak amplitude was below the flat limit.
    flat_blocks: u32,
    /// Power sums (1, x, x^2, x^3, x^4) of the conditioned signal in the current block.
    block_sums: [f64; 5],
    /// Power sums of the last complete blocks (kurtosis window), newest last.
    past_sums: [[f64; 5]; KURTOSIS_BLOCKS],
}

/// Streaming QRS detector for one lead (see the module documentation).
#[derive(Debug, Clone)]
pub struct QrsDetector {
    design: Design,
    state: State,
}

impl QrsDetector {
    /// A detector for `config`; the error names the first bad parameter.
    pub fn new(config: QrsConfig) -> Result<Self, ConfigError> {
        let design = Design::new(config)?;
        let state = State {
            index: 0,
            conditioning: design.conditioning.new_state(),
            band: design.band.new_state(),
            recent: [0.0; 4],
            integrator: MovingSum::new(design.integration),
            band_history: History::new(design.history),
            slope_history: History::new(design.history),
            previous_integrated: 0.0,
            rising: None,
            pending: None,
            qrs_level: Level::filled(0.0),
            noise_level: Level::filled(0.0),
            rr_level: Level::filled(design.rr_initial),
            last_qrs: None,
            candidates: Vec::with_capacity(MAX_CANDIDATES),
            learning: true,
            last_event: 0,
            last_beat: None,
            block_min: f64::INFINITY,
            block_max: f64::NEG_INFINITY,
            block_fill: 0,
            flat_blocks: 0,
            block_sums: [0.0; 5],
            past_sums: [[0.0; 5]; KURTOSIS_BLOCKS],
        };
        Ok(Self { design, state })
    }

    /// The configuration this detector was built with.
    pub fn config(&self) -> &QrsConfig {
        &self.design.config
    }

    /// Number of samples processed so far (the absolute index of the next sample).
    pub fn samples_seen(&self) -> u64 {
        self.state.index
    }

    /// Upper bound, in samples, of how far past a beat the input must have gone before the
    /// beat is reported: the search-back limit (1.5 x the 2 s RR cap) plus the peak
    /// decision, the integration window and the filter delay, or the learning period plus
    /// the same, whichever is larger.
    pub fn max_delay_samples(&self) -> u64 {
        let d = &self.design;
        let search_back = (SEARCH_BACK_RR * d.rr_max).ceil() as u64;
        let tail = d.refractory + d.peak_timeout + d.integration as u64 + d.fiducial_margin + d.fiducial_delay + 2;
        search_back.max(d.learning) + tail
    }

    /// Typical delay of a beat found on first pass, in samples (filter delay, integration
    /// window and peak decision).
    pub fn typical_delay_samples(&self) -> u64 {
        let d = &self.design;
        d.fiducial_delay + d.integration as u64 / 2 + d.refractory + d.peak_timeout
    }

    /// `true` once the conditioned signal has been flat for two whole 1 s blocks (lead
    /// off or amplifier railed); `false` again after the first block that is not flat.
    pub fn leads_off(&self) -> bool {
        self.state.flat_blocks >= FLAT_BLOCKS_OFF
    }

    /// `true` during the initial learning period (no beat reported yet).
    pub fn learning(&self) -> bool {
        self.state.learning
    }

    /// Noise quality in 0..=1: 1 when the recent non-QRS peaks are negligible next to the
    /// QRS peaks, falling to 0 when their mean reaches the detection threshold (where noise
    /// would start to be counted as beats). The fall is linear in energy (the ratio of the
    /// levels squared), as it was when the levels were kept on the integrated, squared
    /// scale: the quality scale did not move when the heights became amplitudes.
    pub fn noise_quality(&self) -> f64 {
        let qrs = self.state.qrs_level.mean();
        if qrs <= 0.0 {
            return 0.0;
        }
        let ratio = self.state.noise_level.mean() / qrs / THRESHOLD_COEFFICIENT;
        (1.0 - ratio * ratio).clamp(0.0, 1.0)
    }

    /// Kurtosis of the conditioned signal over the last 5 complete 1 s blocks, or `None`
    /// before 5 s or on a constant signal.
    pub fn kurtosis(&self) -> Option<f64> {
        let mut t = [0.0f64; 5];
        for block in &self.state.past_sums {
            for (acc, v) in t.iter_mut().zip(block) {
                *acc += v;
            }
        }
        let [n, s1, s2, s3, s4] = t;
        if n < (KURTOSIS_BLOCKS as u64 * self.design.block) as f64 {
            return None;
        }
        let mean = s1 / n;
        let (e2, e3, e4) = (s2 / n, s3 / n, s4 / n);
        let m2 = e2 - mean * mean;
        let m4 = e4 - 4.0 * mean * e3 + 6.0 * mean * mean * e2 - 3.0 * mean.powi(4);
        (m2 > 1e-12).then(|| m4 / (m2 * m2))
    }

    /// Kurtosis quality in 0..=1: 0 at the kurtosis of Gaussian noise (3) or below, 1 at
    /// that of a clean ECG (5) or above, linear between; 1 before the first 5 s.
    pub fn kurtosis_quality(&self) -> f64 {
        self.kurtosis()
            .map_or(1.0, |k| ((k - KURTOSIS_NOISE) / (KURTOSIS_CLEAN - KURTOSIS_NOISE)).clamp(0.0, 1.0))
    }

    /// Processes a batch and appends the sample index (counted from the first sample ever
    /// given to this detector) of every beat now decided to `beats`, in increasing order.
    ///
    /// A batch with a non-finite sample is rejected whole, before any state changes.
    pub fn process(&mut self, samples: &[f32], beats: &mut Vec<u64>) -> Result<(), SampleError> {
        check_finite("samples", samples)?;
        for &x in samples {
            self.step(f64::from(x), beats);
        }
        Ok(())
    }

    /// The per-sample core of [`QrsDetector::process`].
    fn step(&mut self, x: f64, beats: &mut Vec<u64>) {
        let d = &self.design;
        let s = &mut self.state;
        let n = s.index;
        if n == 0 {
            // Start settled on the first sample: no step response from the DC offset.
            s.conditioning = d.conditioning.steady_state(x);
        }
        let clean = d.conditioning.step(&mut s.conditioning, x);
        s.block_min = s.block_min.min(clean);
        s.block_max = s.block_max.max(clean);
        s.block_fill += 1;
        let x2 = clean * clean;
        s.block_sums[0] += 1.0;
        s.block_sums[1] += clean;
        s.block_sums[2] += x2;
        s.block_sums[3] += x2 * clean;
        s.block_sums[4] += x2 * x2;
        if s.block_fill >= d.block {
            s.past_sums.rotate_left(1);
            if let Some(last) = s.past_sums.last_mut() {
                *last = s.block_sums;
            }
            s.block_sums = [0.0; 5];
            let flat = s.block_max - s.block_min < d.config.flat_amplitude;
            s.flat_blocks = if flat { s.flat_blocks.saturating_add(1) } else { 0 };
            s.block_min = f64::INFINITY;
            s.block_max = f64::NEG_INFINITY;
            s.block_fill = 0;
        }
        let band = d.band.step(&mut s.band, clean);
        let [b1, b2, b3, b4] = s.recent;
        let derivative = (2.0 * band + b1 - b3 - 2.0 * b4) * d.derivative_scale;
        s.recent = [band, b1, b2, b3];
        let integrated = s.integrator.step(derivative * derivative) / d.integration as f64;
        s.band_history.push(band);
        s.slope_history.push(derivative.abs());
        s.index += 1;

        // Follow the rising maximum; emit it as a peak when it falls by half or times out.
        // A new maximum starts only on a rising sample, so a falling slope emits nothing.
        let mut emitted: Option<(u64, f64)> = None;
        match s.rising {
            None => {
                if integrated > s.previous_integrated && integrated > 0.0 {
                    s.rising = Some((n, integrated));
                }
            }
            Some((at, height)) => {
                if integrated > height {
                    s.rising = Some((n, integrated));
                } else if integrated < height / 2.0 || n - at >= d.peak_timeout {
                    emitted = Some((at, height));
                    s.rising = None;
                }
            }
        }
        s.previous_integrated = integrated;
        if let Some((at, height)) = emitted {
            match s.pending {
                Some((p_at, p_height)) if at.saturating_sub(p_at) < d.refractory => {
                    if height > p_height {
                        s.pending = Some((at, height));
                    }
                }
                Some(_) => {
                    // A peak more than the refractory period later came before the pending
                    // one was decided: decide the pending one first.
                    self.decide_pending(beats);
                    self.state.pending = Some((at, height));
                }
                None => s.pending = Some((at, height)),
            }
        }
        // Decide the pending peak once no larger one can arrive within the refractory period.
        if let Some((p_at, _)) = self.state.pending
            && n >= p_at + self.design.refractory + self.design.peak_timeout
        {
            self.decide_pending(beats);
        }
        self.end_of_learning(beats);
        self.search_back(beats);
        self.relearn();
    }

    fn decide_pending(&mut self, beats: &mut Vec<u64>) {
        let Some((index, integrated)) = self.state.pending.take() else { return };
        // Classified on the amplitude scale (see THRESHOLD_COEFFICIENT).
        let peak = self.describe(index, integrated.sqrt());
        if self.state.learning {
            self.push_candidate(peak);
        } else {
            self.classify(peak, beats);
        }
    }

    /// Slope, amplitude and fiducial point of the peak at `index`.
    fn describe(&self, index: u64, height: f64) -> Peak {
        let d = &self.design;
        let from = index.saturating_sub(d.integration as u64);
        let slope = self.state.slope_history.max_abs(from, index);
        let (at, amplitude) = self
            .state
            .band_history
            .argmax_abs(from.saturating_sub(d.fiducial_margin), index)
            .map_or((index, 0.0), |(i, v)| (i, v.abs()));
        Peak { index, height, slope, amplitude, fiducial: at.saturating_sub(d.fiducial_delay) }
    }

    fn threshold(&self) -> f64 {
        let noise = self.state.noise_level.mean();
        let qrs = self.state.qrs_level.mean();
        noise + THRESHOLD_COEFFICIENT * (qrs - noise)
    }

    fn classify(&mut self, peak: Peak, beats: &mut Vec<u64>) {
        let d = &self.design;
        if peak.amplitude < d.config.min_qrs_amplitude {
            self.state.noise_level.push(peak.height);
            return;
        }
        let since_last = self.state.last_qrs.map(|q| peak.index.saturating_sub(q.index));
        if since_last.is_some_and(|gap| gap < d.refractory) {
            self.state.noise_level.push(peak.height);
            return;
        }
        if peak.height > self.threshold() {
            let t_wave = match (self.state.last_qrs, since_last) {
                (Some(last), Some(gap)) => gap < d.t_wave_window && peak.slope < T_WAVE_SLOPE_RATIO * last.slope,
                _ => false,
            };
            if t_wave {
                self.state.noise_level.push(peak.height);
            } else {
                self.accept(peak, beats);
            }
        } else {
            self.state.noise_level.push(peak.height);
            self.push_candidate(peak);
        }
    }

    fn push_candidate(&mut self, peak: Peak) {
        let c = &mut self.state.candidates;
        if c.len() >= MAX_CANDIDATES {
            c.remove(0);
        }
        c.push(peak);
    }

    fn accept(&mut self, peak: Peak, beats: &mut Vec<u64>) {
        let d = &self.design;
        let s = &mut self.state;
        s.qrs_level.push(peak.height);
        if let Some(last) = s.last_qrs {
            let rr = (peak.index.saturating_sub(last.index)) as f64;
            s.rr_level.push(rr.clamp(d.rr_min, d.rr_max));
        }
        s.last_qrs = Some(peak);
        s.last_event = peak.index;
        s.candidates.retain(|c| c.index > peak.index);
        if s.last_beat.is_none_or(|b| peak.fiducial > b) {
            s.last_beat = Some(peak.fiducial);
            beats.push(peak.fiducial);
        }
    }

    fn end_of_learning(&mut self, beats: &mut Vec<u64>) {
        if !self.state.learning || self.state.index < self.design.learning {
            return;
        }
        self.state.learning = false;
        let peaks = std::mem::take(&mut self.state.candidates);
        let max = peaks.iter().map(|p| p.height).fold(0.0, f64::max);
        self.state.qrs_level = Level::filled(max);
        self.state.noise_level = Level::filled(0.0);
        self.state.last_event = self.state.index;
        for peak in peaks {
            self.classify(peak, beats);
        }
    }

    fn search_back(&mut self, beats: &mut Vec<u64>) {
        loop {
            let s = &self.state;
            let Some(last) = s.last_qrs else { return };
            let limit = SEARCH_BACK_RR * s.rr_level.mean();
            if ((s.index - 1).saturating_sub(last.index) as f64) <= limit {
                return;
            }
            let floor = SEARCH_BACK_THRESHOLD * self.threshold();
            // A peak older than the search-back limit at its cap plus the peak decision is
            // never taken: its beat would come later than `max_delay_samples` (REQ-SIG-003).
            // Without this, a threshold learned again after a long gap (lower) released every
            // small peak still held, up to 8 s old, at once.
            let d = &self.design;
            let oldest = s.index.saturating_sub((SEARCH_BACK_RR * d.rr_max).ceil() as u64 + d.refractory + d.peak_timeout);
            let best = s
                .candidates
                .iter()
                .filter(|c| c.index >= oldest)
                .filter(|c| c.index >= last.index + self.design.t_wave_window && c.height > floor)
                .filter(|c| c.amplitude >= self.design.config.min_qrs_amplitude)
                .copied()
                .max_by(|a, b| a.height.total_cmp(&b.height));
            match best {
                Some(peak) => self.accept(peak, beats),
                None => return,
            }
        }
    }

    fn relearn(&mut self) {
        let s = &mut self.state;
        if s.learning || s.index - s.last_event < self.design.relearn {
            return;
        }
        let max = s.candidates.iter().map(|p| p.height).fold(0.0, f64::max);
        if max > 0.0 {
            s.qrs_level = Level::filled(max);
        }
        s.last_event = s.index;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testsig::{EcgSpec, Rng, ecg, score};

    /// Beats before this time are not scored (learning period plus margin).
    const SCORED_FROM_S: f64 = 3.0;

    fn detect_all(fs: f64, samples: &[f32]) -> Vec<u64> {
        let mut d = QrsDetector::new(QrsConfig::new(fs)).unwrap();
        let mut beats = Vec::new();
        d.process(samples, &mut beats).unwrap();
        beats
    }

    fn after(beats: &[u64], fs: f64) -> Vec<u64> {
        beats.iter().copied().filter(|&b| b as f64 >= SCORED_FROM_S * fs).collect()
    }

    #[test]
    fn finds_every_beat_of_a_synthetic_ecg_at_any_sample_rate() {
        for fs in [125.0, 250.0, 360.0, 500.0, 1000.0] {
            for bpm in [40.0, 75.0, 150.0, 220.0] {
                let mut spec = EcgSpec::clean(fs, 60.0, bpm);
                spec.wander_mv = 0.5;
                spec.mains_mv = 0.2;
                spec.noise_mv = 0.03;
                // Premature beats come 35 % early: only below 150 /min is that still a
                // physiological coupling interval (> 240 ms).
                spec.ectopic_probability = if bpm <= 150.0 { 0.08 } else { 0.0 };
                spec.seed = fs as u64 * 1000 + bpm as u64;
                let signal = ecg(spec);
                let detected = detect_all(fs, &signal.samples);
                let tolerance = (0.05 * fs) as u64;
                let (tp, missed, extra) =
                    score(&after(&signal.r_peaks, fs), &after(&detected, fs), tolerance);
                assert!(tp > 0);
                assert_eq!((missed, extra), (0, 0), "fs {fs} bpm {bpm} seed {}", spec.seed);
            }
        }
    }

    /// A Gaussian wave of a beat: offset from the beat (s), width (s), amplitude (mV).
    type Wave = (f64, f64, f64);
    /// A beat: its time (s) and its waves.
    type Beat<'a> = (f64, &'a [Wave]);

    /// Sums the Gaussian waves of each beat, centred on its time, plus a little white noise.
    fn beats_signal(fs: f64, duration_s: f64, beats: &[Beat<'_>], seed: u64) -> Vec<f32> {
        let n = (duration_s * fs) as usize;
        let mut x = vec![0.0f64; n];
        for &(time, waves) in beats {
            for &(offset, width, amplitude) in waves {
                let centre = time + offset;
                let from = ((centre - 5.0 * width) * fs).max(0.0) as usize;
                let to = (((centre + 5.0 * width) * fs) as usize).min(n);
                for (i, v) in x.iter_mut().enumerate().take(to).skip(from) {
                    let dt = i as f64 / fs - centre;
                    *v += amplitude * (-dt * dt / (2.0 * width * width)).exp();
                }
            }
        }
        let mut rng = Rng::new(seed);
        x.iter().map(|v| (v + 0.02 * rng.normal()) as f32).collect()
    }

    /// A premature beat that is wide and low in this lead (an aberrated or ventricular beat
    /// seen side-on, as in MIT-BIH 201's aberrated beats): under half the normal R wave's
    /// height at nearly twice its width, a quarter of its steepest slope. Each one comes 550 ms after a normal
    /// beat and is followed by a compensatory pause (the next normal beat 2 RR after the
    /// previous one), so only the search-back can find it: on the squared (energy) scale
    /// it stays below half the threshold, on the amplitude scale it is above half of it.
    /// No T wave is taken for a beat.
    #[test]
    fn wide_low_premature_beats_are_found_on_the_amplitude_scale() {
        const NORMAL: [Wave; 4] = [(-0.2, 0.025, 0.15), (0.0, 0.012, 1.2), (0.03, 0.01, -0.3), (0.28, 0.06, 0.35)];
        const WIDE: [Wave; 2] = [(0.0, 0.022, 0.55), (0.3, 0.07, -0.15)];
        for (fs, seed) in [(250.0, 11u64), (360.0, 12), (500.0, 13)] {
            let mut beats: Vec<Beat<'_>> = Vec::new();
            let mut t = 0.5;
            let mut k = 0;
            while t < 118.0 {
                beats.push((t, &NORMAL));
                k += 1;
                if k % 4 == 0 {
                    beats.push((t + 0.55, &WIDE));
                    t += 2.0;
                } else {
                    t += 1.0;
                }
            }
            let samples = beats_signal(fs, 120.0, &beats, seed);
            let truth: Vec<u64> = beats.iter().map(|&(t, _)| (t * fs).round() as u64).collect();
            let detected = detect_all(fs, &samples);
            let tolerance = (0.075 * fs) as u64;
            let (tp, missed, extra) = score(&after(&truth, fs), &after(&detected, fs), tolerance);
            assert!(tp > 90, "fs {fs}: {tp} found, {missed} missed, {extra} extra");
            assert_eq!((missed, extra), (0, 0), "fs {fs} seed {seed}");
        }
    }

    #[test]
    fn chunked_processing_gives_the_beats_of_one_call() {
        // Property: for random signals and random chunk sizes (including empty chunks and
        // single samples), the beats are identical to one call over the whole signal.
        for case in 0..24u64 {
            let seed = 0x5EED_0000 + case;
            let mut rng = Rng::new(seed);
            let fs = [125.0, 250.0, 360.0, 500.0, 1000.0][rng.range(0, 4) as usize];
            let mut spec = EcgSpec::clean(fs, 40.0, 40.0 + rng.uniform() * 140.0);
            spec.rr_jitter = rng.uniform() * 0.2;
            spec.ectopic_probability = rng.uniform() * 0.2;
            spec.noise_mv = rng.uniform() * 0.1;
            spec.wander_mv = rng.uniform();
            spec.seed = seed;
            let signal = ecg(spec);
            let whole = detect_all(fs, &signal.samples);
            let mut d = QrsDetector::new(QrsConfig::new(fs)).unwrap();
            let mut chunked = Vec::new();
            let mut at = 0usize;
            let max_chunk = [1u64, 7, 100, 5000][rng.range(0, 3) as usize];
            while at < signal.samples.len() {
                let len = (rng.range(0, max_chunk) as usize).min(signal.samples.len() - at);
                d.process(&signal.samples[at..at + len], &mut chunked).unwrap();
                at += len;
            }
            assert!(!whole.is_empty());
            assert_eq!(chunked, whole, "seed {seed:#x} fs {fs} max chunk {max_chunk}");
        }
    }

    #[test]
    fn every_beat_is_reported_within_the_stated_delay() {
        for fs in [125.0, 360.0, 1000.0] {
            let mut spec = EcgSpec::clean(fs, 60.0, 70.0);
            spec.ectopic_probability = 0.1;
            spec.noise_mv = 0.05;
            spec.seed = 7;
            let signal = ecg(spec);
            let mut d = QrsDetector::new(QrsConfig::new(fs)).unwrap();
            let max_delay = d.max_delay_samples();
            assert!((max_delay as f64) < 3.6 * fs, "bound {max_delay} at {fs}");
            let mut delays = Vec::new();
            let mut beats = Vec::new();
            for chunk in signal.samples.chunks(1) {
                let before = beats.len();
                d.process(chunk, &mut beats).unwrap();
                let seen = d.samples_seen();
                delays.extend(beats[before..].iter().map(|&b| seen - b));
            }
            assert!(!delays.is_empty());
            assert!(delays.iter().all(|&delay| delay <= max_delay), "fs {fs}");
            // After learning, beats found on first pass come out within the typical delay.
            let typical = d.typical_delay_samples() as f64;
            let late: Vec<u64> = delays.iter().skip(3).copied().filter(|&x| x as f64 > typical * 1.2).collect();
            assert!(late.is_empty(), "fs {fs}: typical {typical}, late {late:?}");
            assert!(typical / fs < 0.6, "typical delay {} s", typical / fs);
        }
    }

    /// Found by the fuzzer (native/fuzz, target ecg_qrs; HAZ-009): large beats for 3 s, then
    /// beats too small for the threshold. When the threshold is learned again (8 s without a
    /// QRS) it falls, and the search-back used to take every small peak still held, up to 8 s
    /// old, at once: beats far later than the stated bound, all entering the heart rate
    /// together. A peak older than the search-back limit is no longer taken.
    #[test]
    fn haz_009_a_relearned_threshold_never_releases_beats_older_than_the_stated_delay() {
        let fs = 125.0;
        let spike = |amplitude_mv: f32, at: usize, samples: &mut Vec<f32>| {
            // A 48 ms triangle: a QRS-like deflection.
            for k in 0..6 {
                samples[at + k] = amplitude_mv * (1.0 - (k as f32 - 3.0).abs() / 3.0);
            }
        };
        let mut samples = vec![0.0f32; (20.0 * fs) as usize];
        for second in 0..20 {
            let amplitude = if second < 3 { 2.0 } else { 0.3 };
            spike(amplitude, second * fs as usize + 40, &mut samples);
        }
        let mut d = QrsDetector::new(QrsConfig::new(fs)).unwrap();
        let max_delay = d.max_delay_samples();
        let mut beats = Vec::new();
        let mut worst = 0;
        for chunk in samples.chunks(1) {
            let before = beats.len();
            d.process(chunk, &mut beats).unwrap();
            let seen = d.samples_seen();
            worst = beats[before..].iter().map(|&b| seen - b).fold(worst, u64::max);
        }
        assert!(beats.len() > 3, "the large beats are found");
        assert!(worst <= max_delay, "worst delay {worst} > bound {max_delay} samples");
    }

    #[test]
    fn a_flat_lead_gives_no_beats_and_is_reported_off() {
        let fs = 250.0;
        let signal = ecg(EcgSpec::clean(fs, 20.0, 80.0));
        let mut d = QrsDetector::new(QrsConfig::new(fs)).unwrap();
        let mut beats = Vec::new();
        d.process(&signal.samples, &mut beats).unwrap();
        assert!(!d.leads_off());
        let count = beats.len();
        // Lead off: the amplifier output stays at its last value, with a little noise.
        let mut rng = Rng::new(3);
        let flat: Vec<f32> = (0..(30.0 * fs) as usize).map(|_| (0.2 + 0.002 * rng.normal()) as f32).collect();
        d.process(&flat[..(1.0 * fs) as usize], &mut beats).unwrap();
        d.process(&flat[(1.0 * fs) as usize..], &mut beats).unwrap();
        assert!(d.leads_off());
        // The beats decided after the lead came off all lie before it came off.
        let off_at = signal.samples.len() as u64;
        assert!(beats[count..].iter().all(|&b| b < off_at), "no beat invented on a flat lead");
        d.process(&signal.samples, &mut beats).unwrap();
        assert!(!d.leads_off(), "back on after a non-flat block");
    }

    #[test]
    fn a_rejected_batch_leaves_the_state_untouched() {
        let fs = 360.0;
        let signal = ecg(EcgSpec::clean(fs, 30.0, 90.0));
        let whole = detect_all(fs, &signal.samples);
        let mut d = QrsDetector::new(QrsConfig::new(fs)).unwrap();
        let mut beats = Vec::new();
        let (a, b) = signal.samples.split_at(4000);
        d.process(a, &mut beats).unwrap();
        let mut bad = b[..100].to_vec();
        bad[42] = f32::NAN;
        let err = d.process(&bad, &mut beats).unwrap_err();
        assert_eq!((err.field, err.index), ("samples", 42));
        assert_eq!(d.process(&[f32::INFINITY], &mut beats).unwrap_err().index, 0);
        d.process(&[], &mut beats).unwrap();
        d.process(b, &mut beats).unwrap();
        assert_eq!(beats, whole);
    }

    #[test]
    fn rejects_sample_rates_outside_the_range() {
        for fs in [0.0, 124.9, 1000.1, f64::NAN, f64::INFINITY, -360.0] {
            assert_eq!(
                QrsDetector::new(QrsConfig::new(fs)).err(),
                Some(ConfigError::new("sampleRateHz", RULE_SAMPLE_RATE_RANGE)),
                "{fs}"
            );
        }
        let mut config = QrsConfig::new(360.0);
        config.min_qrs_amplitude = -1.0;
        assert_eq!(
            QrsDetector::new(config).err(),
            Some(ConfigError::new("minQrsAmplitude", RULE_AMPLITUDE))
        );
    }
}
