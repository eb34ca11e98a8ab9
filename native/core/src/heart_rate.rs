//! Rate from beat times (ECG R waves or PPG pulses), robust to ectopic and missed beats.
//!
//! Rule: over the beats of the last `window_s` seconds, take the intervals between
//! consecutive beats that are physiologically possible (`min_interval_s` to
//! `max_interval_s`) and their median. The *normal* intervals are those within 20 % of the
//! median. When at least two thirds of the intervals are normal (a regular rhythm with
//! the odd premature beat, missed beat or extra detection), the rate is 60 over the mean
//! of the normal intervals: each premature beat's short interval and its compensatory
//! pause, a missed beat's double interval and an extra detection's two halves are left
//! out. Otherwise (an irregular rhythm: atrial fibrillation, bigeminy) it is 60 over the
//! mean of all the usable intervals, the mean ventricular rate.
//!
//! The rate is *unavailable* (`None`), never guessed, when fewer than `min_intervals`
//! usable intervals are in the window, or when the last beat is older than
//! `max_beat_age_s` (no beat recently: asystole, lost signal or a detector that has not
//! caught up). The caller adds its own signal-quality gate.

use crate::dsp::{ConfigError, RULE_POSITIVE_FINITE, check_sample_rate, median};
use std::collections::VecDeque;

/// Rule broken by interval limits in the wrong order.
pub const RULE_INTERVAL_ORDER: &str = "must be less than maxIntervalS";
/// Rule broken by a minimum count below 1.
pub const RULE_AT_LEAST_ONE: &str = "must be at least 1";

/// An interval within this fraction of the median is normal.
const NORMAL_TOLERANCE: f64 = 0.2;
/// Most beats ever held (bounds memory whatever the rate and window).
const MAX_BEATS: usize = 128;

/// Configuration of a [`RateEstimator`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateConfig {
    /// Sample rate of the beat indexes, Hz.
    pub sample_rate_hz: f64,
    /// Beats older than this are forgotten, s. Default 10.
    pub window_s: f64,
    /// Shortest usable interval, s. Default 0.2 (300 /min).
    pub min_interval_s: f64,
    /// Longest usable interval, s. Default 3 (20 /min).
    pub max_interval_s: f64,
    /// Fewest usable intervals for a rate. Default 4.
    pub min_intervals: usize,
    /// With no beat for this long, the rate is unavailable, s. Default 4 (the detector may
    /// report a beat up to 3.6 s late after a search-back).
    pub max_beat_age_s: f64,
}

impl RateConfig {
    /// Defaults for heart rate at `sample_rate_hz`.
    pub fn heart(sample_rate_hz: f64) -> Self {
        Self {
            sample_rate_hz,
            window_s: 10.0,
            min_interval_s: 0.2,
            max_interval_s: 3.0,
            min_intervals: 4,
            max_beat_age_s: 4.0,
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_sample_rate("sampleRateHz", self.sample_rate_hz)?;
        for (name, value) in [
            ("windowS", self.window_s),
            ("minIntervalS", self.min_interval_s),
            ("maxIntervalS", self.max_interval_s),
            ("maxBeatAgeS", self.max_beat_age_s),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ConfigError::new(name, RULE_POSITIVE_FINITE));
            }
        }
        if self.min_interval_s >= self.max_interval_s {
            return Err(ConfigError::new("minIntervalS", RULE_INTERVAL_ORDER));
        }
        if self.min_intervals < 1 {
            return Err(ConfigError::new("minIntervals", RULE_AT_LEAST_ONE));
        }
        Ok(())
    }
}

/// Rate from the most recent beats (see the module documentation).
#[derive(Debug, Clone)]
pub struct RateEstimator {
    config: RateConfig,
    beats: VecDeque<u64>,
}

impl RateEstimator {
    /// An estimator for `config`; the error names the first bad parameter.
    pub fn new(config: RateConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self { config, beats: VecDeque::with_capacity(MAX_BEATS) })
    }

    /// Records a beat at sample index `index` (indexes must not decrease; an older or
    /// repeated one is ignored).
    pub fn push(&mut self, index: u64) {
        if self.beats.back().is_some_and(|&last| index <= last) {
            return;
        }
        if self.beats.len() >= MAX_BEATS {
            self.beats.pop_front();
        }
        self.beats.push_back(index);
    }

    /// Forgets every beat (after the lead came off, for instance).
    pub fn clear(&mut self) {
        self.beats.clear();
    }

    /// Usable intervals (s) between the beats of the window ending at sample `now`.
    pub fn intervals_s(&self, now: u64) -> Vec<f64> {
        let c = &self.config;
        let fs = c.sample_rate_hz;
        let oldest = now.saturating_sub((c.window_s * fs) as u64);
        let recent: Vec<u64> = self.beats.iter().copied().filter(|&b| b >= oldest && b <= now).collect();
        recent
            .windows(2)
            .filter_map(|pair| match pair {
                [a, b] => Some((b - a) as f64 / fs),
                _ => None,
            })
            .filter(|rr| (c.min_interval_s..=c.max_interval_s).contains(rr))
            .collect()
    }

    /// The rate per minute at sample `now`, or `None` when unavailable.
    pub fn rate_per_min(&self, now: u64) -> Option<f64> {
        let c = &self.config;
        let last = *self.beats.back()?;
        if now.saturating_sub(last) as f64 > c.max_beat_age_s * c.sample_rate_hz {
            return None;
        }
        let intervals = self.intervals_s(now);
        if intervals.len() < c.min_intervals {
            return None;
        }
        let centre = median(&intervals)?;
        let normal: Vec<f64> =
            intervals.iter().copied().filter(|rr| (rr - centre).abs() <= NORMAL_TOLERANCE * centre).collect();
        let used = if 3 * normal.len() >= 2 * intervals.len() { &normal } else { &intervals };
        let mean = used.iter().sum::<f64>() / used.len() as f64;
        (mean > 0.0).then(|| 60.0 / mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: f64 = 250.0;

    fn estimator_with(intervals_s: &[f64]) -> (RateEstimator, u64) {
        let mut e = RateEstimator::new(RateConfig::heart(FS)).unwrap();
        let mut t = 1000.0;
        e.push(t as u64);
        for rr in intervals_s {
            t += rr * FS;
            e.push(t.round() as u64);
        }
        (e, t.round() as u64 + 10)
    }

    #[test]
    fn regular_rhythm() {
        let (e, now) = estimator_with(&[0.8; 12]);
        assert!((e.rate_per_min(now).unwrap() - 75.0).abs() < 0.1);
    }

    #[test]
    fn isolated_ectopics_missed_and_extra_beats_barely_move_the_rate() {
        // A premature beat (short, then compensatory long), a missed beat, an extra detection.
        let rr = [0.8, 0.8, 0.5, 1.1, 0.8, 0.8, 1.6, 0.8, 0.8, 0.4, 0.4, 0.8];
        let (e, now) = estimator_with(&rr);
        let rate = e.rate_per_min(now).unwrap();
        assert!((rate - 75.0).abs() < 2.0, "{rate}");
    }

    #[test]
    fn irregular_rhythms_give_their_mean_ventricular_rate() {
        // Bigeminy, starting on either interval (odd counts put the median on either side).
        for first_short in [true, false] {
            for count in [11, 12] {
                let rr: Vec<f64> =
                    (0..count).map(|i| if (i % 2 == 0) == first_short { 0.6 } else { 1.0 }).collect();
                let (e, now) = estimator_with(&rr);
                let expected = 60.0 * rr.len() as f64 / rr.iter().sum::<f64>();
                let rate = e.rate_per_min(now).unwrap();
                assert!((rate - expected).abs() < 0.5, "{rate} vs {expected}");
            }
        }
        // Atrial fibrillation: irregularly irregular.
        let rr = [0.5, 0.9, 0.62, 1.1, 0.45, 0.8, 0.7, 1.2, 0.55, 0.66, 0.95];
        let (e, now) = estimator_with(&rr);
        let expected = 60.0 * rr.len() as f64 / rr.iter().sum::<f64>();
        assert!((e.rate_per_min(now).unwrap() - expected).abs() < 0.5);
    }

    #[test]
    fn unavailable_rather_than_guessed() {
        let (e, now) = estimator_with(&[0.8, 0.8, 0.8]);
        assert_eq!(e.rate_per_min(now), None, "three intervals are too few");
        let (e, now) = estimator_with(&[0.8; 12]);
        assert!(e.rate_per_min(now).is_some());
        assert_eq!(e.rate_per_min(now + (4.1 * FS) as u64), None, "no beat for 4 s");
        let empty = RateEstimator::new(RateConfig::heart(FS)).unwrap();
        assert_eq!(empty.rate_per_min(1_000_000), None);
        // Intervals longer than 3 s (20 /min) are not used.
        let (e, now) = estimator_with(&[3.5; 6]);
        assert_eq!(e.rate_per_min(now), None);
    }

    #[test]
    fn bounded_memory_and_ordering() {
        let mut e = RateEstimator::new(RateConfig::heart(FS)).unwrap();
        for i in 0..10_000u64 {
            e.push(i * 200);
        }
        e.push(5);
        assert_eq!(e.beats.len(), MAX_BEATS);
        assert_eq!(e.beats.back(), Some(&(9_999 * 200)));
    }

    #[test]
    fn constructor_names_the_bad_parameter() {
        let mut c = RateConfig::heart(FS);
        c.min_interval_s = 5.0;
        assert_eq!(RateEstimator::new(c).err(), Some(ConfigError::new("minIntervalS", RULE_INTERVAL_ORDER)));
        let mut c = RateConfig::heart(FS);
        c.window_s = f64::NAN;
        assert_eq!(RateEstimator::new(c).err(), Some(ConfigError::new("windowS", RULE_POSITIVE_FINITE)));
        let mut c = RateConfig::heart(FS);
        c.min_intervals = 0;
        assert_eq!(RateEstimator::new(c).err(), Some(ConfigError::new("minIntervals", RULE_AT_LEAST_ONE)));
        assert!(RateEstimator::new(RateConfig::heart(0.0)).is_err());
    }
}
