//! Streaming filter building blocks shared by the ECG, PPG and respiration modules.
//!
//! Every filter keeps its *configuration* (coefficients, designed once from a sample rate
//! and a cut-off, checked by a constructor that returns a [`ConfigError`] naming the bad
//! parameter) apart from its *state* (the few numbers that change per sample), in the
//! manner of quartiq/idsp. A configuration can then be shared by many channels, and the
//! state is small enough to copy.
//!
//! Arithmetic is `f64` throughout: a 0.5 Hz high-pass at 1000 Hz has poles within 0.3 % of
//! the unit circle, where `f32` coefficients would move the cut-off noticeably.
//!
//! The biquad designs are the bilinear-transform formulas of R. Bristow-Johnson, *Cookbook
//! formulae for audio EQ biquad filter coefficients* (W3C Audio EQ Cookbook), with
//! Q = 1/sqrt(2) for a second-order Butterworth response.

use std::f64::consts::{FRAC_1_SQRT_2, PI};
use std::fmt;

/// Rule broken by a value that must be finite.
pub const RULE_FINITE: &str = "must be a finite number";
/// Rule broken by a sample rate that is not a finite positive number.
pub const RULE_POSITIVE_FINITE: &str = "must be a finite number greater than 0";
/// Rule broken by a frequency that is not strictly between 0 and half the sample rate.
pub const RULE_BELOW_NYQUIST: &str = "must be greater than 0 and less than half the sample rate";
/// Rule broken by a band whose low edge is not below its high edge.
pub const RULE_BAND_ORDER: &str = "must be less than the high cut-off";
/// Rule broken by a window or length that rounds to zero samples.
pub const RULE_AT_LEAST_ONE_SAMPLE: &str = "must span at least one sample";

/// A configuration value was rejected: `parameter` names it (the JSON name used by the
/// binding), `rule` says what it must be. The value itself is not repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError {
    /// Name of the rejected parameter, e.g. `"sampleRateHz"`.
    pub parameter: &'static str,
    /// The rule it broke, a stable string.
    pub rule: &'static str,
}

impl ConfigError {
    /// A rejection of `parameter` for breaking `rule`.
    pub const fn new(parameter: &'static str, rule: &'static str) -> Self {
        Self { parameter, rule }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.parameter, self.rule)
    }
}

impl std::error::Error for ConfigError {}

/// Rule broken by a batch that holds a NaN or an infinite sample.
pub const RULE_FINITE_SAMPLES: &str = "must contain only finite numbers";
/// Rule broken by two batches (e.g. red and infrared) of different lengths.
pub const RULE_SAME_LENGTH: &str = "must have the same length as the other channel";

/// A batch of samples was rejected before any state changed: `field` names the input
/// (`"samples"`, `"red"`, ...) and `index` is the position of the first bad sample in the
/// batch (a position, never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleError {
    /// Name of the rejected input.
    pub field: &'static str,
    /// The rule it broke.
    pub rule: &'static str,
    /// Index in the batch of the first offending sample (0 when the rule is about the batch).
    pub index: usize,
}

impl fmt::Display for SampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (first at index {})", self.field, self.rule, self.index)
    }
}

impl std::error::Error for SampleError {}

/// Checks that every sample of `samples` is finite; names `field` otherwise.
pub fn check_finite(field: &'static str, samples: &[f32]) -> Result<(), SampleError> {
    match samples.iter().position(|s| !s.is_finite()) {
        None => Ok(()),
        Some(index) => Err(SampleError { field, rule: RULE_FINITE_SAMPLES, index }),
    }
}

/// Checks that a sample rate is finite and positive.
pub fn check_sample_rate(parameter: &'static str, sample_rate_hz: f64) -> Result<(), ConfigError> {
    if sample_rate_hz.is_finite() && sample_rate_hz > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(parameter, RULE_POSITIVE_FINITE))
    }
}

/// Checks that `frequency_hz` lies strictly between 0 and half of `sample_rate_hz`.
pub fn check_below_nyquist(
    parameter: &'static str,
    frequency_hz: f64,
    sample_rate_hz: f64,
) -> Result<(), ConfigError> {
    if frequency_hz.is_finite() && frequency_hz > 0.0 && frequency_hz < sample_rate_hz / 2.0 {
        Ok(())
    } else {
        Err(ConfigError::new(parameter, RULE_BELOW_NYQUIST))
    }
}

/// Number of whole samples in `seconds` at `sample_rate_hz` (rounded, at least 1 unless the
/// duration is not positive, which is an error naming `parameter`).
pub fn samples_in(parameter: &'static str, seconds: f64, sample_rate_hz: f64) -> Result<usize, ConfigError> {
    let n = (seconds * sample_rate_hz).round();
    if n.is_finite() && (1.0..=1.0e9).contains(&n) {
        // In range by the check above; `as` saturates anyway.
        Ok(n as usize)
    } else {
        Err(ConfigError::new(parameter, RULE_AT_LEAST_ONE_SAMPLE))
    }
}

/// Coefficients of one second-order section, normalised so that a0 = 1:
/// `y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] - a1 y[n-1] - a2 y[n-2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
}

/// State of one second-order section (transposed direct form II): two numbers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BiquadState {
    z1: f64,
    z2: f64,
}

impl Biquad {
    /// The identity section (passes samples through unchanged).
    pub const IDENTITY: Biquad = Biquad { b0: 1.0, b1: 0.0, b2: 0.0, a1: 0.0, a2: 0.0 };

    /// Second-order Butterworth low-pass with -3 dB at `cutoff_hz`.
    ///
    /// `parameter` names the cut-off in a returned error.
    pub fn lowpass(parameter: &'static str, sample_rate_hz: f64, cutoff_hz: f64) -> Result<Self, ConfigError> {
        check_sample_rate("sampleRateHz", sample_rate_hz)?;
        check_below_nyquist(parameter, cutoff_hz, sample_rate_hz)?;
        let (cos_w0, alpha) = cookbook_terms(sample_rate_hz, cutoff_hz, FRAC_1_SQRT_2);
        let b1 = 1.0 - cos_w0;
        Ok(Self::normalised(b1 / 2.0, b1, b1 / 2.0, 1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha))
    }

    /// Second-order Butterworth high-pass with -3 dB at `cutoff_hz`.
    pub fn highpass(parameter: &'static str, sample_rate_hz: f64, cutoff_hz: f64) -> Result<Self, ConfigError> {
        check_sample_rate("sampleRateHz", sample_rate_hz)?;
        check_below_nyquist(parameter, cutoff_hz, sample_rate_hz)?;
        let (cos_w0, alpha) = cookbook_terms(sample_rate_hz, cutoff_hz, FRAC_1_SQRT_2);
        let b0 = (1.0 + cos_w0) / 2.0;
        Ok(Self::normalised(b0, -2.0 * b0, b0, 1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha))
    }

    /// Notch (band-stop) at `center_hz` with quality factor `q` (bandwidth = center / q).
    pub fn notch(parameter: &'static str, sample_rate_hz: f64, center_hz: f64, q: f64) -> Result<Self, ConfigError> {
        check_sample_rate("sampleRateHz", sample_rate_hz)?;
        check_below_nyquist(parameter, center_hz, sample_rate_hz)?;
        if !(q.is_finite() && q > 0.0) {
            return Err(ConfigError::new("notchQ", RULE_POSITIVE_FINITE));
        }
        let (cos_w0, alpha) = cookbook_terms(sample_rate_hz, center_hz, q);
        Ok(Self::normalised(1.0, -2.0 * cos_w0, 1.0, 1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha))
    }

    fn normalised(b0: f64, b1: f64, b2: f64, a0: f64, a1: f64, a2: f64) -> Self {
        Self { b0: b0 / a0, b1: b1 / a0, b2: b2 / a0, a1: a1 / a0, a2: a2 / a0 }
    }

    /// Filters one sample, updating `state`.
    #[inline]
    pub fn step(&self, state: &mut BiquadState, x: f64) -> f64 {
        let y = self.b0 * x + state.z1;
        state.z1 = self.b1 * x - self.a1 * y + state.z2;
        state.z2 = self.b2 * x - self.a2 * y;
        y
    }

    /// The state in which a constant input `x` produces the output it would have after an
    /// infinitely long run (so a filter can start without a start-up transient).
    pub fn steady_state(&self, x: f64) -> BiquadState {
        let denominator = 1.0 + self.a1 + self.a2;
        let y = if denominator.abs() > f64::EPSILON {
            x * (self.b0 + self.b1 + self.b2) / denominator
        } else {
            0.0
        };
        BiquadState { z1: y - self.b0 * x, z2: self.b2 * x - self.a2 * y }
    }

    /// Complex frequency response at `frequency_hz`, as (real, imaginary).
    pub fn response(&self, sample_rate_hz: f64, frequency_hz: f64) -> (f64, f64) {
        let w = 2.0 * PI * frequency_hz / sample_rate_hz;
        // H = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2), z^-k = cos(kw) - i sin(kw)
        let num = (
            self.b0 + self.b1 * w.cos() + self.b2 * (2.0 * w).cos(),
            -self.b1 * w.sin() - self.b2 * (2.0 * w).sin(),
        );
        let den = (
            1.0 + self.a1 * w.cos() + self.a2 * (2.0 * w).cos(),
            -self.a1 * w.sin() - self.a2 * (2.0 * w).sin(),
        );
        complex_div(num, den)
    }
}

fn cookbook_terms(sample_rate_hz: f64, frequency_hz: f64, q: f64) -> (f64, f64) {
    let w0 = 2.0 * PI * frequency_hz / sample_rate_hz;
    (w0.cos(), w0.sin() / (2.0 * q))
}

fn complex_mul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

fn complex_div(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let d = b.0 * b.0 + b.1 * b.1;
    if d == 0.0 {
        return (0.0, 0.0);
    }
    ((a.0 * b.0 + a.1 * b.1) / d, (a.1 * b.0 - a.0 * b.1) / d)
}

/// A cascade of second-order sections applied in order (configuration only).
#[derive(Debug, Clone, PartialEq)]
pub struct Cascade {
    sections: Vec<Biquad>,
}

/// State of a [`Cascade`]: one [`BiquadState`] per section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CascadeState {
    states: Vec<BiquadState>,
}

impl Cascade {
    /// A cascade of `sections`, applied first to last.
    pub fn new(sections: Vec<Biquad>) -> Self {
        Self { sections }
    }

    /// Band-pass from a second-order Butterworth high-pass at `low_hz` and a second-order
    /// Butterworth low-pass at `high_hz`. Errors name `low_parameter` / `high_parameter`.
    pub fn bandpass(
        low_parameter: &'static str,
        high_parameter: &'static str,
        sample_rate_hz: f64,
        low_hz: f64,
        high_hz: f64,
    ) -> Result<Self, ConfigError> {
        let highpass = Biquad::highpass(low_parameter, sample_rate_hz, low_hz)?;
        let lowpass = Biquad::lowpass(high_parameter, sample_rate_hz, high_hz)?;
        if low_hz >= high_hz {
            return Err(ConfigError::new(low_parameter, RULE_BAND_ORDER));
        }
        Ok(Self::new(vec![highpass, lowpass]))
    }

    /// A zeroed state for this cascade.
    pub fn new_state(&self) -> CascadeState {
        CascadeState { states: vec![BiquadState::default(); self.sections.len()] }
    }

    /// The state in which a constant input `x` gives the settled output (no start-up step).
    pub fn steady_state(&self, x: f64) -> CascadeState {
        let mut value = x;
        let mut states = Vec::with_capacity(self.sections.len());
        for section in &self.sections {
            states.push(section.steady_state(value));
            let (re, _) = section.response(1.0, 0.0);
            value *= re;
        }
        CascadeState { states }
    }

    /// Filters one sample, updating `state` (which must come from this cascade).
    #[inline]
    pub fn step(&self, state: &mut CascadeState, x: f64) -> f64 {
        let mut y = x;
        for (section, s) in self.sections.iter().zip(state.states.iter_mut()) {
            y = section.step(s, y);
        }
        y
    }

    /// Complex frequency response at `frequency_hz`.
    pub fn response(&self, sample_rate_hz: f64, frequency_hz: f64) -> (f64, f64) {
        self.sections
            .iter()
            .fold((1.0, 0.0), |acc, s| complex_mul(acc, s.response(sample_rate_hz, frequency_hz)))
    }

    /// Gain (magnitude of the response) at `frequency_hz`.
    pub fn gain(&self, sample_rate_hz: f64, frequency_hz: f64) -> f64 {
        let (re, im) = self.response(sample_rate_hz, frequency_hz);
        (re * re + im * im).sqrt()
    }

    /// Group delay at `frequency_hz`, in samples, by a central difference of the phase.
    pub fn group_delay_samples(&self, sample_rate_hz: f64, frequency_hz: f64) -> f64 {
        let df = frequency_hz * 1.0e-3;
        let phase = |f: f64| {
            let (re, im) = self.response(sample_rate_hz, f);
            im.atan2(re)
        };
        let mut dphi = phase(frequency_hz + df) - phase(frequency_hz - df);
        // Unwrap a jump across +-pi.
        if dphi > PI {
            dphi -= 2.0 * PI;
        } else if dphi < -PI {
            dphi += 2.0 * PI;
        }
        let dw = 2.0 * PI * (2.0 * df) / sample_rate_hz;
        -dphi / dw
    }
}

/// A fixed-capacity ring of the most recent samples, addressed by absolute sample index.
///
/// Memory is bounded by the capacity chosen at construction; older samples are overwritten.
#[derive(Debug, Clone)]
pub struct History {
    data: Vec<f64>,
    /// Absolute index of the next sample to be written.
    next_index: u64,
    /// Slot of the next sample (`next_index % capacity`, kept without a division).
    next_slot: usize,
}

impl History {
    /// A history holding the last `capacity` samples (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self { data: vec![0.0; capacity.max(1)], next_index: 0, next_slot: 0 }
    }

    /// Appends the sample with absolute index `self.next_index()`.
    #[inline]
    pub fn push(&mut self, value: f64) {
        if let Some(cell) = self.data.get_mut(self.next_slot) {
            *cell = value;
        }
        self.next_slot += 1;
        if self.next_slot == self.data.len() {
            self.next_slot = 0;
        }
        self.next_index += 1;
    }

    /// Absolute index the next pushed sample will get (= number of samples pushed).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// The sample at absolute `index`, if it is still held.
    #[inline]
    pub fn get(&self, index: u64) -> Option<f64> {
        let len = self.data.len() as u64;
        if index >= self.next_index || self.next_index - index > len {
            return None;
        }
        self.data.get((index % len) as usize).copied()
    }

    /// Index and value of the sample with the largest absolute value in `from..=to`
    /// (clamped to what is held), `None` when nothing in the range is held.
    pub fn argmax_abs(&self, from: u64, to: u64) -> Option<(u64, f64)> {
        let mut best: Option<(u64, f64)> = None;
        let mut i = from;
        while i <= to {
            if let Some(v) = self.get(i)
                && best.is_none_or(|(_, b)| v.abs() > b.abs())
            {
                best = Some((i, v));
            }
            i += 1;
        }
        best
    }

    /// Index and value of the sample whose `key(value)` is largest in `from..=to` (clamped
    /// to what is held; the first one on ties), `None` when nothing in the range is held.
    pub fn argmax_by(&self, from: u64, to: u64, key: impl Fn(f64) -> f64) -> Option<(u64, f64)> {
        let mut best: Option<(u64, f64, f64)> = None;
        for i in from..=to {
            if let Some(v) = self.get(i) {
                let k = key(v);
                if best.is_none_or(|(_, _, bk)| k > bk) {
                    best = Some((i, v, k));
                }
            }
        }
        best.map(|(i, v, _)| (i, v))
    }

    /// Largest absolute value in `from..=to` (0 when nothing in the range is held).
    pub fn max_abs(&self, from: u64, to: u64) -> f64 {
        self.argmax_abs(from, to).map_or(0.0, |(_, v)| v.abs())
    }
}

/// Moving sum over the last `length` samples, exact to rounding: the running sum is
/// recomputed from the window each time the ring wraps, so error cannot accumulate over a
/// record of any length.
#[derive(Debug, Clone)]
pub struct MovingSum {
    window: Vec<f64>,
    position: usize,
    sum: f64,
}

impl MovingSum {
    /// A moving sum over `length` samples (at least 1), starting from zeros.
    pub fn new(length: usize) -> Self {
        Self { window: vec![0.0; length.max(1)], position: 0, sum: 0.0 }
    }

    /// Number of samples in the window.
    pub fn len(&self) -> usize {
        self.window.len()
    }

    /// Always false: the window holds at least one sample.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Adds `x`, drops the oldest sample, and returns the sum of the window.
    #[inline]
    pub fn step(&mut self, x: f64) -> f64 {
        if let Some(oldest) = self.window.get_mut(self.position) {
            self.sum += x - *oldest;
            *oldest = x;
        }
        self.position += 1;
        if self.position == self.window.len() {
            self.position = 0;
            self.sum = self.window.iter().sum();
        }
        self.sum
    }
}

/// Median of `values` (mean of the two middle values for an even count); `None` if empty
/// or if a value is NaN. Sorts a copy: meant for the short windows used here.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.to_vec();
    if sorted.is_empty() || sorted.iter().any(|v| v.is_nan()) {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted.get(mid).copied()
    } else {
        Some((sorted.get(mid - 1)? + sorted.get(mid)?) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gain_db(c: &Cascade, fs: f64, f: f64) -> f64 {
        20.0 * c.gain(fs, f).log10()
    }

    #[test]
    fn butterworth_sections_are_minus_3_db_at_the_cutoff() {
        for fs in [125.0, 360.0, 1000.0] {
            let lp = Cascade::new(vec![Biquad::lowpass("f", fs, 15.0).unwrap()]);
            let hp = Cascade::new(vec![Biquad::highpass("f", fs, 5.0).unwrap()]);
            assert!((gain_db(&lp, fs, 15.0) + 3.01).abs() < 0.05, "lp at {fs}");
            assert!((gain_db(&hp, fs, 5.0) + 3.01).abs() < 0.05, "hp at {fs}");
            assert!(gain_db(&lp, fs, 1.0).abs() < 0.01);
            assert!(gain_db(&hp, fs, 40.0).abs() < 0.1);
        }
    }

    #[test]
    fn notch_removes_its_frequency_and_keeps_the_qrs_band() {
        let fs = 360.0;
        let notch = Cascade::new(vec![Biquad::notch("mainsHz", fs, 50.0, 15.0).unwrap()]);
        assert!(gain_db(&notch, fs, 50.0) < -60.0);
        assert!(gain_db(&notch, fs, 10.0).abs() < 0.1);
        // And in the time domain: a 50 Hz sine is gone after the transient.
        let mut state = notch.new_state();
        let mut peak: f64 = 0.0;
        for n in 0..3600 {
            let x = (2.0 * PI * 50.0 * n as f64 / fs).sin();
            let y = notch.step(&mut state, x);
            if n > 1800 {
                peak = peak.max(y.abs());
            }
        }
        assert!(peak < 1e-3, "residual {peak}");
    }

    #[test]
    fn constructors_name_the_bad_parameter() {
        assert_eq!(
            Biquad::lowpass("highHz", 125.0, 70.0),
            Err(ConfigError::new("highHz", RULE_BELOW_NYQUIST))
        );
        assert_eq!(
            Biquad::highpass("lowHz", f64::NAN, 1.0),
            Err(ConfigError::new("sampleRateHz", RULE_POSITIVE_FINITE))
        );
        assert_eq!(
            Biquad::notch("mainsHz", 360.0, 50.0, 0.0),
            Err(ConfigError::new("notchQ", RULE_POSITIVE_FINITE))
        );
        assert_eq!(
            Cascade::bandpass("lowHz", "highHz", 360.0, 20.0, 10.0),
            Err(ConfigError::new("lowHz", RULE_BAND_ORDER))
        );
        assert_eq!(samples_in("windowS", 0.0, 360.0), Err(ConfigError::new("windowS", RULE_AT_LEAST_ONE_SAMPLE)));
        assert_eq!(ConfigError::new("a", "b").to_string(), "a: b");
    }

    #[test]
    fn steady_state_starts_without_a_transient() {
        let fs = 360.0;
        let lp = Cascade::new(vec![Biquad::lowpass("f", fs, 15.0).unwrap(), Biquad::lowpass("f", fs, 15.0).unwrap()]);
        let mut state = lp.steady_state(2.5);
        for _ in 0..100 {
            assert!((lp.step(&mut state, 2.5) - 2.5).abs() < 1e-9);
        }
        let hp = Cascade::new(vec![Biquad::highpass("f", fs, 0.5).unwrap()]);
        let mut state = hp.steady_state(7.0);
        for _ in 0..100 {
            assert!(hp.step(&mut state, 7.0).abs() < 1e-9);
        }
    }

    #[test]
    fn group_delay_of_a_lowpass_matches_the_analog_prototype() {
        // Second-order Butterworth: group delay at DC = sqrt(2) / (2 pi fc) seconds.
        let fs = 1000.0;
        let lp = Cascade::new(vec![Biquad::lowpass("f", fs, 15.0).unwrap()]);
        let expected = 2f64.sqrt() / (2.0 * PI * 15.0) * fs;
        let got = lp.group_delay_samples(fs, 0.5);
        assert!((got - expected).abs() / expected < 0.02, "{got} vs {expected}");
    }

    #[test]
    fn history_and_moving_sum_are_bounded_and_exact() {
        let mut h = History::new(4);
        for i in 0..10 {
            h.push(i as f64 * if i % 2 == 0 { 1.0 } else { -1.0 });
        }
        assert_eq!(h.get(5), None);
        assert_eq!(h.get(6), Some(6.0));
        assert_eq!(h.get(9), Some(-9.0));
        assert_eq!(h.get(10), None);
        assert_eq!(h.argmax_abs(0, 20), Some((9, -9.0)));
        let mut m = MovingSum::new(3);
        let sums: Vec<f64> = [1.0, 2.0, 3.0, 4.0, 1e12, 0.5, 0.25, 0.125].iter().map(|&x| m.step(x)).collect();
        assert_eq!(sums[..4], [1.0, 3.0, 6.0, 9.0]);
        assert_eq!(sums[7], 0.875, "no residue of the large value");
    }

    #[test]
    fn robust_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
        assert!(check_finite("samples", &[1.0, f32::NAN]).is_err_and(|e| e.index == 1));
        assert!(check_finite("samples", &[]).is_ok());
    }
}
