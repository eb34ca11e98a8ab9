//! ECG analysis for one lead: beats (from [`crate::qrs`]), heart rate (from
//! [`crate::heart_rate`]), a signal quality index and the reason a rate is unavailable.
//!
//! Signal quality index (SQI, 0 to 1): 0 while the lead is off; otherwise the lower of
//! - the detector's noise quality ([`QrsDetector::noise_quality`]: 1 when the non-QRS
//!   peaks are negligible next to the QRS peaks, 0 when they reach the detection
//!   threshold), and
//! - the kurtosis quality ([`QrsDetector::kurtosis_quality`]: an ECG is spiky, kurtosis
//!   above 5; noise is near-Gaussian, kurtosis 3).
//!
//! The heart rate is reported only when the lead is on, the SQI is at least
//! [`EcgConfig::min_sqi`], and the rate estimator has enough recent beats; otherwise it is
//! `None` with the reason in [`EcgStatus`]. It is never held from an earlier batch.

use crate::dsp::{ConfigError, SampleError};
use crate::heart_rate::{RateConfig, RateEstimator};
use crate::qrs::{QrsConfig, QrsDetector};

/// Rule broken by a quality limit outside 0..=1.
pub const RULE_UNIT_INTERVAL: &str = "must be between 0 and 1";

/// Why the heart rate is or is not available at the end of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcgStatus {
    /// A rate is reported.
    Ok,
    /// The detector is still learning (first 2 s).
    Learning,
    /// The lead is off or the amplifier is railed (flat signal).
    LeadsOff,
    /// The signal quality index is below the limit.
    Noisy,
    /// Too few recent beats for a rate (or none for 4 s).
    NoRate,
}

impl EcgStatus {
    /// Stable lower-case name, as reported to JavaScript.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Learning => "learning",
            Self::LeadsOff => "leads-off",
            Self::Noisy => "noisy",
            Self::NoRate => "no-rate",
        }
    }
}

/// Configuration of an [`EcgAnalyzer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EcgConfig {
    /// The QRS detector.
    pub qrs: QrsConfig,
    /// The heart-rate rule.
    pub rate: RateConfig,
    /// Lowest SQI at which a rate is reported. Default 0.5.
    pub min_sqi: f64,
}

impl EcgConfig {
    /// Defaults at `sample_rate_hz` (samples in millivolts).
    pub fn new(sample_rate_hz: f64) -> Self {
        Self { qrs: QrsConfig::new(sample_rate_hz), rate: RateConfig::heart(sample_rate_hz), min_sqi: 0.5 }
    }
}

/// What one batch produced.
#[derive(Debug, Clone, PartialEq)]
pub struct EcgBatch {
    /// Sample indexes (from the first sample ever processed) of the beats decided during
    /// this batch, increasing. They may lie in earlier batches (see the detection delay).
    pub beats: Vec<u64>,
    /// Heart rate at the end of the batch, per minute, or `None` (see `status`).
    pub heart_rate_bpm: Option<f64>,
    /// Signal quality index at the end of the batch, 0 to 1.
    pub sqi: f64,
    /// Why the rate is (not) available.
    pub status: EcgStatus,
}

/// Beats, heart rate and quality of one ECG lead, streaming.
#[derive(Debug, Clone)]
pub struct EcgAnalyzer {
    min_sqi: f64,
    detector: QrsDetector,
    rate: RateEstimator,
}

impl EcgAnalyzer {
    /// An analyzer for `config`; the error names the first bad parameter.
    pub fn new(config: EcgConfig) -> Result<Self, ConfigError> {
        if !(config.min_sqi.is_finite() && (0.0..=1.0).contains(&config.min_sqi)) {
            return Err(ConfigError::new("minSqi", RULE_UNIT_INTERVAL));
        }
        let detector = QrsDetector::new(config.qrs)?;
        let mut rate_config = config.rate;
        rate_config.sample_rate_hz = config.qrs.sample_rate_hz;
        Ok(Self { min_sqi: config.min_sqi, detector, rate: RateEstimator::new(rate_config)? })
    }

    /// The detector inside (for its delays and configuration).
    pub fn detector(&self) -> &QrsDetector {
        &self.detector
    }

    /// Processes one batch. A batch with a non-finite sample is rejected whole, before any
    /// state changes; an empty batch only reports the current rate and quality.
    pub fn process(&mut self, samples: &[f32]) -> Result<EcgBatch, SampleError> {
        let mut beats = Vec::new();
        self.detector.process(samples, &mut beats)?;
        for &b in &beats {
            self.rate.push(b);
        }
        let now = self.detector.samples_seen();
        let leads_off = self.detector.leads_off();
        let sqi = if leads_off {
            0.0
        } else {
            self.detector.noise_quality().min(self.detector.kurtosis_quality())
        };
        let status = if self.detector.learning() {
            EcgStatus::Learning
        } else if leads_off {
            EcgStatus::LeadsOff
        } else if sqi < self.min_sqi {
            EcgStatus::Noisy
        } else {
            EcgStatus::Ok
        };
        let heart_rate_bpm = match status {
            EcgStatus::Ok => self.rate.rate_per_min(now),
            _ => None,
        };
        let status = if status == EcgStatus::Ok && heart_rate_bpm.is_none() { EcgStatus::NoRate } else { status };
        Ok(EcgBatch { beats, heart_rate_bpm, sqi, status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testsig::{EcgSpec, Rng, ecg};

    fn run(analyzer: &mut EcgAnalyzer, samples: &[f32], chunk: usize) -> Vec<EcgBatch> {
        samples.chunks(chunk).map(|c| analyzer.process(c).unwrap()).collect()
    }

    #[test]
    fn heart_rate_of_a_clean_ecg_with_ectopics() {
        let fs = 250.0;
        let mut spec = EcgSpec::clean(fs, 60.0, 72.0);
        spec.ectopic_probability = 0.1;
        spec.wander_mv = 0.3;
        let signal = ecg(spec);
        let mut a = EcgAnalyzer::new(EcgConfig::new(fs)).unwrap();
        let batches = run(&mut a, &signal.samples, 250);
        assert_eq!(batches[0].status, EcgStatus::Learning);
        assert_eq!(batches[0].heart_rate_bpm, None);
        let tail = &batches[10..];
        for b in tail {
            assert_eq!(b.status, EcgStatus::Ok);
            assert!(b.sqi > 0.8, "sqi {}", b.sqi);
            // Premature beats with compensatory pauses keep the mean rate.
            let rate = b.heart_rate_bpm.unwrap();
            assert!((rate - 72.0).abs() < 4.0, "rate {rate}");
        }
    }

    #[test]
    fn leads_off_makes_the_rate_unavailable_and_it_returns_after() {
        let fs = 500.0;
        let signal = ecg(EcgSpec::clean(fs, 20.0, 60.0));
        let mut a = EcgAnalyzer::new(EcgConfig::new(fs)).unwrap();
        let on = run(&mut a, &signal.samples, 500);
        assert!(on.last().unwrap().heart_rate_bpm.is_some());
        let flat = vec![-0.4f32; (10.0 * fs) as usize];
        let off = run(&mut a, &flat, 500);
        // The last beats age out and the lead is flagged off within 2 s; never a rate after.
        for b in &off[4..] {
            assert_eq!(b.heart_rate_bpm, None);
            assert_eq!((b.status, b.sqi), (EcgStatus::LeadsOff, 0.0));
            assert!(b.beats.is_empty());
        }
        let back = run(&mut a, &signal.samples, 500);
        assert!(back.last().unwrap().heart_rate_bpm.is_some_and(|r| (r - 60.0).abs() < 4.0));
    }

    #[test]
    fn noise_without_a_heart_gives_no_rate() {
        // Electrode motion and muscle noise, no ECG: whatever beats are "found", no rate.
        for seed in 1..=5u64 {
            let fs = 250.0;
            let mut rng = Rng::new(seed);
            let mut level = 0.0f64;
            let noise: Vec<f32> = (0..(60.0 * fs) as usize)
                .map(|_| {
                    level = 0.98 * level + 0.2 * rng.normal();
                    (level + 0.3 * rng.normal()) as f32
                })
                .collect();
            let mut a = EcgAnalyzer::new(EcgConfig::new(fs)).unwrap();
            let batches = run(&mut a, &noise, 250);
            let rates = batches[20..].iter().filter(|b| b.heart_rate_bpm.is_some()).count();
            assert!(rates <= 2, "seed {seed}: {rates} seconds with a rate from noise");
        }
    }

    #[test]
    fn noise_on_top_of_an_ecg_lowers_the_sqi() {
        let fs = 360.0;
        let mut spec = EcgSpec::clean(fs, 60.0, 75.0);
        let clean = ecg(spec);
        spec.noise_mv = 0.5;
        let noisy = ecg(spec);
        let mut a = EcgAnalyzer::new(EcgConfig::new(fs)).unwrap();
        let mut b = EcgAnalyzer::new(EcgConfig::new(fs)).unwrap();
        let sqi_clean = run(&mut a, &clean.samples, 360).last().unwrap().sqi;
        let sqi_noisy = run(&mut b, &noisy.samples, 360).last().unwrap().sqi;
        assert!(sqi_clean > 0.9 && sqi_noisy < sqi_clean - 0.2, "clean {sqi_clean}, noisy {sqi_noisy}");
    }

    #[test]
    fn constructor_names_the_bad_parameter() {
        let mut c = EcgConfig::new(360.0);
        c.min_sqi = 1.5;
        assert_eq!(EcgAnalyzer::new(c).err(), Some(ConfigError::new("minSqi", RULE_UNIT_INTERVAL)));
        assert_eq!(
            EcgAnalyzer::new(EcgConfig::new(100.0)).err().map(|e| e.parameter),
            Some("sampleRateHz")
        );
    }
}
