//! Artifact rejection and smoothing of the ~1 Hz numeric values of other devices (SpO2,
//! pulse, respiration rate from a monitor), streaming.
//!
//! Rule, for each new reading:
//! 1. *Range*: a reading outside the configured plausible range (or NaN) is rejected (it
//!    is counted by the caller through the `rejected` flag) and does not enter the window.
//! 2. *Age*: readings older than `max_age_s` (by the readings' own clock) leave the window;
//!    with no reading left the value is unavailable (`None`), never held.
//! 3. *Smoothing*: the output is the median of the last `window` (default 5) accepted
//!    readings (the lower of the two middle ones while fewer than `window` are held, so
//!    that the output is always a reading).
//!
//! A running median is the edge-preserving smoother: an isolated artifact of up to
//! `window / 2` readings (2 for the default) never reaches the output, while a true step
//! change, such as a sudden desaturation, is followed completely once `window / 2 + 1`
//! readings (3) are at the new level: a *delay of `window / 2` readings*, 2 s at 1 Hz. It
//! never moves the output toward values that were not read (no overshoot, no lag tail as
//! with a moving mean).

use crate::dsp::{ConfigError, RULE_FINITE, RULE_POSITIVE_FINITE};
use std::collections::VecDeque;

/// Rule broken by a range whose minimum is not below its maximum.
pub const RULE_RANGE_ORDER: &str = "must be less than max";
/// Rule broken by an even or zero window.
pub const RULE_ODD_WINDOW: &str = "must be an odd number from 1 to 31";
/// Rule broken by a reading time that is not finite or goes back.
pub const RULE_TIMES: &str = "must be finite and not decrease";
/// Rule broken by batches of different lengths.
pub const RULE_TIMES_LENGTH: &str = "must have one time per value";

/// Configuration of a [`NumericsFilter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumericsConfig {
    /// Lowest plausible reading.
    pub min: f64,
    /// Highest plausible reading.
    pub max: f64,
    /// Readings in the median (odd). Default 5.
    pub window: usize,
    /// Readings older than this are forgotten, s. Default 10.
    pub max_age_s: f64,
}

impl NumericsConfig {
    /// Defaults for readings in `min..=max`.
    pub fn new(min: f64, max: f64) -> Self {
        Self { min, max, window: 5, max_age_s: 10.0 }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.min.is_finite() {
            return Err(ConfigError::new("min", RULE_FINITE));
        }
        if !self.max.is_finite() {
            return Err(ConfigError::new("max", RULE_FINITE));
        }
        if self.min >= self.max {
            return Err(ConfigError::new("min", RULE_RANGE_ORDER));
        }
        if self.window.is_multiple_of(2) || self.window > 31 {
            return Err(ConfigError::new("window", RULE_ODD_WINDOW));
        }
        if !(self.max_age_s.is_finite() && self.max_age_s > 0.0) {
            return Err(ConfigError::new("maxAgeS", RULE_POSITIVE_FINITE));
        }
        Ok(())
    }

    /// How many readings a step change takes to show fully (`window / 2`).
    pub fn delay_readings(&self) -> usize {
        self.window / 2
    }
}

/// The output for one reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumericOutput {
    /// The filtered value, `None` when no recent reading was accepted.
    pub value: Option<f64>,
    /// This reading was rejected (out of range or NaN).
    pub rejected: bool,
}

/// The filter (see the module documentation).
#[derive(Debug, Clone)]
pub struct NumericsFilter {
    config: NumericsConfig,
    /// Accepted readings: (time s, value), oldest first.
    window: VecDeque<(f64, f64)>,
    last_time: Option<f64>,
}

impl NumericsFilter {
    /// A filter for `config`; the error names the first bad parameter.
    pub fn new(config: NumericsConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self { config, window: VecDeque::with_capacity(config.window), last_time: None })
    }

    /// The configuration.
    pub fn config(&self) -> &NumericsConfig {
        &self.config
    }

    /// Filters a batch of readings with their times (s, non-decreasing, on the reading
    /// device's clock). A NaN value is a missing reading. A batch whose times are not
    /// finite or go back is rejected whole, before any state changes; the error names
    /// `"timesS"`.
    pub fn process(&mut self, times_s: &[f64], values: &[f64]) -> Result<Vec<NumericOutput>, crate::dsp::SampleError> {
        use crate::dsp::SampleError;
        if times_s.len() != values.len() {
            return Err(SampleError { field: "timesS", rule: RULE_TIMES_LENGTH, index: 0 });
        }
        let mut previous = self.last_time;
        for (index, &t) in times_s.iter().enumerate() {
            if !t.is_finite() || previous.is_some_and(|p| t < p) {
                return Err(SampleError { field: "timesS", rule: RULE_TIMES, index });
            }
            previous = Some(t);
        }
        Ok(times_s.iter().zip(values).map(|(&t, &v)| self.step(t, v)).collect())
    }

    fn step(&mut self, time_s: f64, value: f64) -> NumericOutput {
        let c = self.config;
        self.last_time = Some(time_s);
        let rejected = !(value.is_finite() && (c.min..=c.max).contains(&value));
        if !rejected {
            if self.window.len() >= c.window {
                self.window.pop_front();
            }
            self.window.push_back((time_s, value));
        }
        while self.window.front().is_some_and(|&(t, _)| time_s - t > c.max_age_s) {
            self.window.pop_front();
        }
        // The lower median: always one of the readings, also for an even count.
        let mut values: Vec<f64> = self.window.iter().map(|&(_, v)| v).collect();
        values.sort_by(f64::total_cmp);
        let value = values.get(values.len().saturating_sub(1) / 2).copied();
        NumericOutput { value, rejected }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spo2() -> NumericsFilter {
        NumericsFilter::new(NumericsConfig::new(0.0, 100.0)).unwrap()
    }

    fn run(f: &mut NumericsFilter, values: &[f64]) -> Vec<Option<f64>> {
        let times: Vec<f64> = (0..values.len()).map(|i| i as f64).collect();
        f.process(&times, values).unwrap().iter().map(|o| o.value).collect()
    }

    #[test]
    fn a_sudden_desaturation_shows_after_the_documented_delay() {
        let mut f = spo2();
        let mut values = vec![97.0; 10];
        values.extend([85.0; 10]);
        let out = run(&mut f, &values);
        let delay = f.config().delay_readings();
        assert_eq!(delay, 2);
        assert_eq!(out[9], Some(97.0));
        assert_eq!(out[10 + delay - 1], Some(97.0), "not before the delay");
        assert_eq!(out[10 + delay], Some(85.0), "fully shown after {delay} readings");
    }

    #[test]
    fn short_artifacts_are_rejected() {
        let mut f = spo2();
        // One-reading and two-reading artifacts, each among good readings; then two rejected
        // by range, which do not even enter the window.
        let values = [97.0, 97.0, 97.0, 40.0, 97.0, 98.0, 97.0, 60.0, 61.0, 97.0, 97.0, 97.0, 150.0, f64::NAN, 97.0];
        let out = run(&mut f, &values);
        assert!(out.iter().all(|v| v.is_some_and(|v| v >= 97.0)), "{out:?}");
        let flags: Vec<bool> = f
            .process(&[20.0, 21.0], &[150.0, 96.0])
            .unwrap()
            .iter()
            .map(|o| o.rejected)
            .collect();
        assert_eq!(flags, [true, false]);
    }

    #[test]
    fn stale_values_are_withdrawn_never_held() {
        let mut f = spo2();
        let out = f.process(&[0.0, 1.0, 2.0, 15.0], &[95.0, 95.0, 95.0, f64::NAN]).unwrap();
        assert_eq!(out[2].value, Some(95.0));
        assert_eq!(out[3].value, None);
    }

    #[test]
    fn bad_times_reject_the_batch_and_bad_config_names_the_parameter() {
        let mut f = spo2();
        f.process(&[5.0], &[95.0]).unwrap();
        assert_eq!(f.process(&[4.0], &[95.0]).unwrap_err().rule, RULE_TIMES);
        assert_eq!(f.process(&[6.0, f64::NAN], &[1.0, 2.0]).unwrap_err().index, 1);
        assert_eq!(f.process(&[6.0], &[]).unwrap_err().rule, RULE_TIMES_LENGTH);
        assert_eq!(f.process(&[6.0], &[94.0]).unwrap()[0].value, Some(94.0), "lower median of two");
        let mut c = NumericsConfig::new(0.0, 100.0);
        c.window = 4;
        assert_eq!(NumericsFilter::new(c).err(), Some(ConfigError::new("window", RULE_ODD_WINDOW)));
        assert_eq!(
            NumericsFilter::new(NumericsConfig::new(10.0, 5.0)).err(),
            Some(ConfigError::new("min", RULE_RANGE_ORDER))
        );
    }
}
