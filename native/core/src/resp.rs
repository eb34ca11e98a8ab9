//! Respiration rate: from an impedance-pneumography or accelerometer signal
//! ([`RespAnalyzer`]), from the respiratory modulation of a PPG ([`PpgRespiration`], fed by
//! [`crate::ppg`]) and of an ECG lead ([`crate::edr`]), and their fusion ([`fuse`],
//! [`fuse_sources`]).
//!
//! Breath counting (both sources) follows the "count-orig" method of Schäfer and Kratky
//! (Ann Biomed Eng 36(3):476-485, 2008), as evaluated on this kind of data by Charlton et
//! al. (Physiol Meas 37(4):610-626, 2016): the respiration signal, band-passed to
//! 0.1-1 Hz (6-60 breaths/min) and sampled at 4 Hz, is searched over the last 32 s for
//! its local maxima and minima; a maximum counts when it is above 0.2 x the third
//! quartile of the maxima, a minimum when it is below 0.2 x the third quartile of the
//! minima (both taken from zero); a breath is the interval between two consecutive
//! counted maxima with a counted minimum between them (a run of counted extrema of the
//! same kind is collapsed to its most extreme member, so that ripples on a slow breath
//! neither split nor void it). The rate is 60 over the mean breath duration.
//!
//! Quality (0 to 1) is the product of the *coverage* (the fraction of the 32 s window,
//! less one mean breath, spanned by counted breaths) and the *regularity* (1 when the breath durations vary by
//! 25 % or less (coefficient of variation), falling linearly to 0 at 75 %). A rate is
//! reported only when at least 2 breaths were counted and its quality is at least
//! [`MIN_QUALITY`]; otherwise it is unavailable.
//!
//! PPG modulation ([`PpgRespiration`]): for each pulse, the baseline (respiratory-induced
//! intensity variation, RIIV), the amplitude (RIAV) and the interval from the previous
//! pulse (RIFV) are resampled onto the 4 Hz grid and fused by their spectra
//! ([`crate::modulation`]); the ECG's modulations are in [`crate::edr`]. The count-orig
//! estimate of each PPG modulation is kept for diagnostics ([`PpgRespiration::estimates`]).
//!
//! Fusion of a direct measurement with the PPG ([`fuse`]): the direct measurement
//! (impedance or accelerometer) is used when its quality is at least [`MIN_QUALITY`];
//! otherwise the PPG-derived rate when its quality is; otherwise none. When both are usable
//! and differ by more than [`DISAGREEMENT_PER_MIN`], the direct rate is still reported but
//! the quality is the lower of the two, so that a consumer can see the disagreement.
//!
//! Fusion of every source a device has ([`fuse_sources`]): the same rule for the direct
//! measurement, then the ECG and PPG modulations averaged together, with the sources and
//! modulations used and the reason when the rate is withdrawn.

use crate::dsp::{Biquad, Cascade, CascadeState, ConfigError, SampleError, check_finite};
use crate::edr::{EDR_MODULATIONS_USED, EcgRespiration};
use crate::modulation::{
    BeatModulations, FusedModulations, MAX_BEAT_GAP_S, Modulation, ModulationSpectrum, RespStatus, fuse_modulations,
};

/// Rate of the internal respiration series, Hz.
pub const SERIES_RATE_HZ: f64 = 4.0;
/// Analysis window, s.
pub const WINDOW_S: f64 = 32.0;
/// Lowest quality at which a rate is reported.
pub const MIN_QUALITY: f64 = 0.5;
/// Two usable sources further apart than this (breaths/min) lower the fused quality.
pub const DISAGREEMENT_PER_MIN: f64 = 5.0;
/// Rule broken by a sample rate out of range.
pub const RULE_RESP_SAMPLE_RATE: &str = "must be between 4 and 1000";

/// Respiration band, Hz.
const BAND_LOW_HZ: f64 = 0.1;
const BAND_HIGH_HZ: f64 = 1.0;
/// Fraction of the upper quartile of the extrema that an extremum must exceed.
const EXTREMUM_FRACTION: f64 = 0.2;
/// Fewest breaths for a rate.
const MIN_BREATHS: usize = 2;
/// Coefficient of variation of breath durations at which regularity starts to fall, and
/// where it reaches 0.
const CV_GOOD: f64 = 0.25;
const CV_BAD: f64 = 0.75;
/// Window length in series samples.
const WINDOW_SAMPLES: usize = (WINDOW_S * SERIES_RATE_HZ) as usize;

/// A respiration-rate estimate: the rate (breaths per minute) when usable, and the
/// quality in 0..=1 (0 when nothing could be counted).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RespEstimate {
    /// Breaths per minute, `None` when unavailable.
    pub rate_per_min: Option<f64>,
    /// Quality, 0 to 1.
    pub quality: f64,
}

/// Counts breaths in a window of the 4 Hz band-passed series (count-orig, see the module
/// documentation). `series` is in time order.
pub fn count_breaths(series: &[f64]) -> RespEstimate {
    let mut maxima: Vec<(usize, f64)> = Vec::new();
    let mut minima: Vec<(usize, f64)> = Vec::new();
    for (i, w) in series.windows(3).enumerate() {
        if let [a, b, c] = *w {
            if b > a && b >= c {
                maxima.push((i + 1, b));
            } else if b < a && b <= c {
                minima.push((i + 1, b));
            }
        }
    }
    let upper_quartile = |values: Vec<f64>| -> f64 {
        let mut v = values;
        v.sort_by(f64::total_cmp);
        v.get((v.len() * 3) / 4).copied().unwrap_or(0.0)
    };
    let max_threshold = EXTREMUM_FRACTION * upper_quartile(maxima.iter().map(|m| m.1).collect());
    let min_threshold = EXTREMUM_FRACTION * upper_quartile(minima.iter().map(|m| -m.1).collect());
    if max_threshold <= 0.0 || min_threshold <= 0.0 {
        return RespEstimate::default();
    }
    // Merge the counted extrema in time order (+1 for a maximum, -1 for a minimum), and
    // collapse each run of the same kind to its most extreme member, so that ripples on a
    // slow breath do not split or void it.
    let mut extrema: Vec<(usize, i8, f64)> = maxima
        .iter()
        .filter(|m| m.1 > max_threshold)
        .map(|m| (m.0, 1i8, m.1))
        .chain(minima.iter().filter(|m| -m.1 > min_threshold).map(|m| (m.0, -1i8, -m.1)))
        .collect();
    extrema.sort_unstable_by_key(|e| e.0);
    let mut alternating: Vec<(usize, i8, f64)> = Vec::with_capacity(extrema.len());
    for e in extrema {
        match alternating.last_mut() {
            Some(last) if last.1 == e.1 => {
                if e.2 > last.2 {
                    *last = e;
                }
            }
            _ => alternating.push(e),
        }
    }
    // A breath runs from one counted maximum to the next (one minimum lies between them).
    let peaks: Vec<usize> = alternating.iter().filter(|e| e.1 > 0).map(|e| e.0).collect();
    let durations: Vec<f64> = peaks
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some((b - a) as f64 / SERIES_RATE_HZ),
            _ => None,
        })
        .collect();
    if durations.len() < MIN_BREATHS {
        return RespEstimate::default();
    }
    let total: f64 = durations.iter().sum();
    let mean = total / durations.len() as f64;
    let variance = durations.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / durations.len() as f64;
    let cv = variance.sqrt() / mean;
    let window_s = series.len() as f64 / SERIES_RATE_HZ;
    // The counted breaths can span at most the window less one breath.
    let coverage = (total / (window_s - mean).max(mean)).clamp(0.0, 1.0);
    let regularity = (1.0 - (cv - CV_GOOD) / (CV_BAD - CV_GOOD)).clamp(0.0, 1.0);
    let quality = coverage * regularity;
    RespEstimate { rate_per_min: (quality >= MIN_QUALITY).then(|| 60.0 / mean), quality }
}

/// The last [`WINDOW_S`] seconds of a 4 Hz series, band-passed to the respiration band.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    band: Cascade,
    state: CascadeState,
    started: bool,
    values: Vec<f64>,
    next: usize,
    filled: usize,
}

impl Series {
    pub(crate) fn new() -> Result<Self, ConfigError> {
        let band = Cascade::bandpass("sampleRateHz", "sampleRateHz", SERIES_RATE_HZ, BAND_LOW_HZ, BAND_HIGH_HZ)?;
        let state = band.new_state();
        Ok(Self { band, state, started: false, values: vec![0.0; WINDOW_SAMPLES], next: 0, filled: 0 })
    }

    pub(crate) fn push(&mut self, x: f64) {
        if !self.started {
            self.state = self.band.steady_state(x);
            self.started = true;
        }
        let y = self.band.step(&mut self.state, x);
        if let Some(slot) = self.values.get_mut(self.next) {
            *slot = y;
        }
        self.next = (self.next + 1) % WINDOW_SAMPLES;
        self.filled = (self.filled + 1).min(WINDOW_SAMPLES);
    }

    /// The window in time order, once full.
    pub(crate) fn window(&self) -> Option<Vec<f64>> {
        if self.filled < WINDOW_SAMPLES {
            return None;
        }
        let (newer, older) = self.values.split_at(self.next);
        Some(older.iter().chain(newer).copied().collect())
    }

    pub(crate) fn estimate(&self) -> RespEstimate {
        self.window().map_or_else(RespEstimate::default, |w| count_breaths(&w))
    }
}

/// Configuration of a [`RespAnalyzer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RespConfig {
    /// Sample rate of the impedance or accelerometer signal, Hz (4 to 1000).
    pub sample_rate_hz: f64,
}

/// Respiration rate from an impedance-pneumography signal, or from the accelerometer axis
/// that moves with the chest wall, streaming.
///
/// The signal is low-passed at 1 Hz (twice, fourth-order Butterworth overall) and
/// sampled at 4 Hz (every sample whose absolute index falls on the 4 Hz grid), then
/// counted as described in the module documentation. Delay: a breath counts once its
/// next maximum has been seen; the estimate covers the last 32 s.
#[derive(Debug, Clone)]
pub struct RespAnalyzer {
    config: RespConfig,
    antialias: Cascade,
    antialias_state: CascadeState,
    series: Series,
    index: u64,
    /// Next 4 Hz grid point, as a fractional sample index.
    next_grid: f64,
    grid_step: f64,
}

impl RespAnalyzer {
    /// An analyzer for `config`; the error names the bad parameter.
    pub fn new(config: RespConfig) -> Result<Self, ConfigError> {
        let fs = config.sample_rate_hz;
        if !(fs.is_finite() && (4.0..=1000.0).contains(&fs)) {
            return Err(ConfigError::new("sampleRateHz", RULE_RESP_SAMPLE_RATE));
        }
        // At 4 Hz exactly the series needs no anti-aliasing filter.
        let antialias = if fs > 2.0 * SERIES_RATE_HZ {
            let lp = Biquad::lowpass("sampleRateHz", fs, BAND_HIGH_HZ)?;
            Cascade::new(vec![lp, lp])
        } else {
            Cascade::new(vec![])
        };
        let antialias_state = antialias.new_state();
        Ok(Self {
            config,
            antialias,
            antialias_state,
            series: Series::new()?,
            index: 0,
            next_grid: 0.0,
            grid_step: fs / SERIES_RATE_HZ,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RespConfig {
        &self.config
    }

    /// Processes a batch and returns the estimate at its end. A batch with a non-finite
    /// sample is rejected whole, before any state changes.
    pub fn process(&mut self, samples: &[f32]) -> Result<RespEstimate, SampleError> {
        check_finite("samples", samples)?;
        for &x in samples {
            let x = f64::from(x);
            if self.index == 0 {
                self.antialias_state = self.antialias.steady_state(x);
            }
            let y = self.antialias.step(&mut self.antialias_state, x);
            if self.index as f64 >= self.next_grid {
                self.series.push(y);
                self.next_grid += self.grid_step;
            }
            self.index += 1;
        }
        Ok(self.series.estimate())
    }
}

/// Per-pulse features of a PPG that carry respiration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PulseFeatures {
    /// Sample index of the pulse.
    pub index: u64,
    /// Baseline (intensity) at the pulse: RIIV.
    pub baseline: f64,
    /// Pulse amplitude: RIAV.
    pub amplitude: f64,
    /// Interval from the previous pulse, s: RIFV.
    pub interval_s: f64,
}

/// The PPG modulations, in the order of [`PpgRespiration::spectra`].
pub const PPG_MODULATIONS: [Modulation; 3] = [Modulation::PpgBaseline, Modulation::PpgAmplitude, Modulation::PpgInterval];

/// Respiration rate from the respiratory modulation of a PPG's pulses (see the module
/// documentation), streaming.
#[derive(Debug, Clone)]
pub struct PpgRespiration {
    modulations: BeatModulations,
    sample_rate_hz: f64,
    /// Samples of the PPG seen so far ([`Self::advance_to`]).
    now: u64,
}

impl PpgRespiration {
    /// For pulses indexed at `sample_rate_hz`.
    pub fn new(sample_rate_hz: f64) -> Result<Self, ConfigError> {
        Ok(Self { modulations: BeatModulations::new(sample_rate_hz, PPG_MODULATIONS.len())?, sample_rate_hz, now: 0 })
    }

    /// Adds the features of the next pulse (pulses must come in increasing index order;
    /// others are ignored).
    pub fn push(&mut self, pulse: PulseFeatures) {
        self.modulations.push(pulse.index, &[pulse.baseline, pulse.amplitude, pulse.interval_s]);
    }

    /// Tells how many PPG samples have been seen (so that pulses that stop are noticed).
    pub fn advance_to(&mut self, samples_seen: u64) {
        self.now = self.now.max(samples_seen);
    }

    /// The time-averaged spectrum of each modulation, in the order of [`PPG_MODULATIONS`]
    /// (none once the pulses stopped for [`crate::modulation::MAX_BEAT_GAP_S`]).
    pub fn spectra(&self) -> Vec<Option<ModulationSpectrum>> {
        self.modulations.spectra(self.now)
    }

    /// The PPG-only estimate: its three modulations fused by
    /// [`crate::modulation::fuse_modulations`], with the modulations used.
    pub fn fused(&self) -> FusedModulations {
        let spectra = self.spectra();
        let inputs: Vec<(Modulation, Option<&ModulationSpectrum>)> =
            PPG_MODULATIONS.iter().copied().zip(spectra.iter().map(Option::as_ref)).collect();
        let mut fused = fuse_modulations(&inputs);
        let stale = self.now as f64 > MAX_BEAT_GAP_S * self.sample_rate_hz && self.modulations.stale(self.now);
        if fused.estimate.status == RespStatus::Learning && stale {
            fused.estimate.status = RespStatus::NoSignal;
        }
        fused
    }

    /// The PPG-only estimate, as a rate and a quality.
    pub fn estimate(&self) -> RespEstimate {
        let e = self.fused().estimate;
        RespEstimate { rate_per_min: e.rate_per_min, quality: e.quality }
    }

    /// The three separate breath-counting estimates (baseline, amplitude and frequency
    /// modulation), for diagnostics.
    pub fn estimates(&self) -> [RespEstimate; 3] {
        let mut out = [RespEstimate::default(); 3];
        for (o, s) in out.iter_mut().zip(self.modulations.series()) {
            *o = s.estimate();
        }
        out
    }
}

/// Which source a fused respiration rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespSource {
    /// Impedance pneumography or accelerometer.
    Direct,
    /// PPG modulation.
    Ppg,
    /// Neither is usable.
    None,
}

impl RespSource {
    /// Stable name, as reported to JavaScript.
    pub fn name(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Ppg => "ppg",
            Self::None => "none",
        }
    }
}

/// A fused respiration rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusedResp {
    /// Breaths per minute, `None` when neither source is usable.
    pub rate_per_min: Option<f64>,
    /// Quality, 0 to 1.
    pub quality: f64,
    /// The source used.
    pub source: RespSource,
}

/// Fuses a direct (impedance or accelerometer) and a PPG-derived estimate (rule in the
/// module documentation).
pub fn fuse(direct: RespEstimate, ppg: RespEstimate) -> FusedResp {
    let usable = |e: RespEstimate| e.rate_per_min.filter(|_| e.quality >= MIN_QUALITY);
    match (usable(direct), usable(ppg)) {
        (Some(d), Some(p)) => FusedResp {
            rate_per_min: Some(d),
            quality: if (d - p).abs() > DISAGREEMENT_PER_MIN { direct.quality.min(ppg.quality) } else { direct.quality },
            source: RespSource::Direct,
        },
        (Some(d), None) => FusedResp { rate_per_min: Some(d), quality: direct.quality, source: RespSource::Direct },
        (None, Some(p)) => FusedResp { rate_per_min: Some(p), quality: ppg.quality, source: RespSource::Ppg },
        (None, None) => FusedResp { rate_per_min: None, quality: direct.quality.max(ppg.quality), source: RespSource::None },
    }
}

/// The sources a fused respiration rate came from ([`fuse_sources`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FusedSource {
    /// Impedance pneumography or accelerometer.
    Direct,
    /// ECG modulations only.
    Ecg,
    /// PPG modulations only.
    Ppg,
    /// ECG and PPG modulations.
    EcgPpg,
    /// None: the rate is withdrawn.
    None,
}

impl FusedSource {
    /// Stable name, as reported to JavaScript.
    pub fn name(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Ecg => "ecg",
            Self::Ppg => "ppg",
            Self::EcgPpg => "ecg+ppg",
            Self::None => "none",
        }
    }
}

/// A respiration rate fused from every source a device has.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedRespiration {
    /// Breaths per minute, `None` when withdrawn (see `status`).
    pub rate_per_min: Option<f64>,
    /// Quality, 0 to 1.
    pub quality: f64,
    /// The sources used.
    pub source: FusedSource,
    /// Why the rate is (not) reported.
    pub status: RespStatus,
    /// The ECG and PPG modulations averaged (empty when the direct source was used).
    pub modulations: Vec<Modulation>,
}

/// Fuses what a device has (each argument may be absent): the direct measurement
/// (impedance or accelerometer) when its rate is available with a quality of at least
/// [`MIN_QUALITY`]; otherwise the ECG and PPG modulations together by
/// [`crate::modulation::fuse_modulations`] (mechanical modulations first). When the direct
/// rate is used and the modulations give a rate more than [`DISAGREEMENT_PER_MIN`] away,
/// the quality is the lower of the two, as in [`fuse`].
pub fn fuse_sources(
    direct: Option<RespEstimate>,
    ecg: Option<&EcgRespiration>,
    ppg: Option<&PpgRespiration>,
) -> FusedRespiration {
    let ecg_spectra = ecg.map(EcgRespiration::spectra).unwrap_or_default();
    let ppg_spectra = ppg.map(PpgRespiration::spectra).unwrap_or_default();
    let inputs: Vec<(Modulation, Option<&ModulationSpectrum>)> = EDR_MODULATIONS_USED
        .iter()
        .copied()
        .zip(ecg_spectra.iter().map(Option::as_ref))
        .chain(PPG_MODULATIONS.iter().copied().zip(ppg_spectra.iter().map(Option::as_ref)))
        .collect();
    let modulations = (ecg.is_some() || ppg.is_some()).then(|| fuse_modulations(&inputs));
    let usable_direct = direct.and_then(|d| d.rate_per_min.filter(|_| d.quality >= MIN_QUALITY).map(|r| (r, d.quality)));
    if let Some((rate, quality)) = usable_direct {
        let other = modulations.as_ref().and_then(|m| m.estimate.rate_per_min.map(|r| (r, m.estimate.quality)));
        let quality = match other {
            Some((r, q)) if (r - rate).abs() > DISAGREEMENT_PER_MIN => quality.min(q),
            _ => quality,
        };
        return FusedRespiration {
            rate_per_min: Some(rate),
            quality,
            source: FusedSource::Direct,
            status: RespStatus::Ok,
            modulations: Vec::new(),
        };
    }
    let direct_quality = direct.map_or(0.0, |d| d.quality);
    let Some(m) = modulations else {
        let status = if direct.is_some() { RespStatus::LowQuality } else { RespStatus::NoSource };
        return FusedRespiration { rate_per_min: None, quality: direct_quality, source: FusedSource::None, status, modulations: Vec::new() };
    };
    let source = match (m.used.iter().any(|u| u.from_ecg()), m.used.iter().any(|u| !u.from_ecg())) {
        _ if m.estimate.rate_per_min.is_none() => FusedSource::None,
        (true, true) => FusedSource::EcgPpg,
        (true, false) => FusedSource::Ecg,
        (false, true) => FusedSource::Ppg,
        (false, false) => FusedSource::None,
    };
    // Nothing to average: "no-signal" when every given source has lost its beats.
    let no_signal = ecg.is_none_or(|e| e.estimate().estimate.status == RespStatus::NoSignal)
        && ppg.is_none_or(|p| p.fused().estimate.status == RespStatus::NoSignal);
    let status = if m.estimate.status == RespStatus::Learning && no_signal { RespStatus::NoSignal } else { m.estimate.status };
    FusedRespiration { rate_per_min: m.estimate.rate_per_min, quality: m.estimate.quality, source, status, modulations: m.used }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testsig::Rng;
    use std::f64::consts::PI;

    fn breathing(fs: f64, seconds: f64, rate_per_min: f64, noise: f64, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        let f = rate_per_min / 60.0;
        (0..(seconds * fs) as usize)
            .map(|i| {
                let t = i as f64 / fs;
                // Inspiration shorter than expiration: a second harmonic.
                (5.0 + (2.0 * PI * f * t).sin() + 0.3 * (4.0 * PI * f * t).sin() + noise * rng.normal()) as f32
            })
            .collect()
    }

    #[test]
    fn impedance_rate_from_6_to_40_per_min_at_any_rate() {
        for fs in [25.0, 125.0, 250.0] {
            for rate in [6.0, 12.0, 20.0, 30.0, 40.0] {
                let signal = breathing(fs, 90.0, rate, 0.05, rate as u64);
                let mut a = RespAnalyzer::new(RespConfig { sample_rate_hz: fs }).unwrap();
                let e = a.process(&signal).unwrap();
                let got = e.rate_per_min.unwrap_or_else(|| panic!("no rate at {fs} Hz, {rate}/min: {e:?}"));
                assert!((got - rate).abs() < 1.0, "{fs} Hz {rate}/min: {got}");
                assert!(e.quality > 0.8);
            }
        }
    }

    #[test]
    fn flat_or_noise_only_gives_no_rate() {
        let fs = 125.0;
        let mut a = RespAnalyzer::new(RespConfig { sample_rate_hz: fs }).unwrap();
        assert_eq!(a.process(&vec![3.0; 60 * 125]).unwrap().rate_per_min, None);
        let mut rng = Rng::new(11);
        let noise: Vec<f32> = (0..90 * 125).map(|_| rng.normal() as f32).collect();
        let mut a = RespAnalyzer::new(RespConfig { sample_rate_hz: fs }).unwrap();
        let e = a.process(&noise).unwrap();
        assert!(e.rate_per_min.is_none() || e.quality < 0.7, "{e:?}");
    }

    #[test]
    fn chunking_does_not_change_the_estimate() {
        let fs = 125.0;
        let signal = breathing(fs, 80.0, 17.0, 0.2, 5);
        let mut whole = RespAnalyzer::new(RespConfig { sample_rate_hz: fs }).unwrap();
        let expected = whole.process(&signal).unwrap();
        let mut rng = Rng::new(99);
        let mut chunked = RespAnalyzer::new(RespConfig { sample_rate_hz: fs }).unwrap();
        let mut at = 0;
        let mut last = RespEstimate::default();
        while at < signal.len() {
            let len = (rng.range(0, 400) as usize).min(signal.len() - at);
            last = chunked.process(&signal[at..at + len]).unwrap();
            at += len;
        }
        assert_eq!(last, expected);
    }

    #[test]
    fn ppg_modulations_are_fused_when_they_agree() {
        let fs = 125.0;
        let mut r = PpgRespiration::new(fs).unwrap();
        let (hr, rr) = (72.0 / 60.0, 15.0 / 60.0);
        let mut t = 0.0;
        while t < 90.0 {
            let phase = 2.0 * PI * rr * t;
            let interval = (1.0 + 0.05 * phase.sin()) / hr;
            r.push(PulseFeatures {
                index: (t * fs) as u64,
                baseline: 100.0 + 2.0 * phase.sin(),
                amplitude: 1.0 + 0.1 * phase.cos(),
                interval_s: interval,
            });
            t += interval;
        }
        let e = r.estimate();
        assert!((e.rate_per_min.unwrap() - 15.0).abs() < 1.0, "{e:?}");
    }

    #[test]
    fn fusion_rule() {
        let good = |r: f64| RespEstimate { rate_per_min: Some(r), quality: 0.9 };
        let poor = RespEstimate { rate_per_min: None, quality: 0.2 };
        let direct = fuse(good(16.0), good(17.0));
        assert_eq!((direct.rate_per_min, direct.source, direct.quality), (Some(16.0), RespSource::Direct, 0.9));
        let disagree = fuse(good(16.0), RespEstimate { rate_per_min: Some(25.0), quality: 0.6 });
        assert_eq!((disagree.rate_per_min, disagree.quality), (Some(16.0), 0.6));
        assert_eq!(fuse(poor, good(18.0)).source, RespSource::Ppg);
        assert_eq!(fuse(poor, poor).rate_per_min, None);
        let low = RespEstimate { rate_per_min: Some(12.0), quality: 0.4 };
        assert_eq!(fuse(low, poor).source, RespSource::None);
    }

    /// An ECG-respiration processor fed a lead whose R amplitude breathes at `rate`.
    fn ecg_respiration(rate: f64, seconds: f64) -> EcgRespiration {
        let fs = 125.0;
        let mut e = EcgRespiration::new(fs).unwrap();
        let mut beats = Vec::new();
        let mut t = 0.5;
        while t < seconds {
            beats.push((t * fs) as u64);
            t += 60.0 / 70.0;
        }
        let samples: Vec<f32> = (0..(seconds * fs) as usize)
            .map(|i| {
                let ts = i as f64 / fs;
                let near = beats.iter().map(|&b| (ts - b as f64 / fs).abs()).fold(f64::MAX, f64::min);
                let gain = 1.0 + 0.15 * (2.0 * PI * rate / 60.0 * ts).sin();
                (gain * (-near * near / (2.0 * 0.012 * 0.012)).exp()) as f32
            })
            .collect();
        for (k, chunk) in samples.chunks(125).enumerate() {
            let from = (k * 125) as u64;
            let batch: Vec<u64> = beats.iter().copied().filter(|&b| b >= from && b < from + 125).collect();
            e.process(chunk, &batch).unwrap();
        }
        e
    }

    #[test]
    fn req_sig_021_fuse_sources_direct_first_then_the_modulations_and_says_which() {
        let ecg = ecg_respiration(14.0, 80.0);
        let good = RespEstimate { rate_per_min: Some(16.0), quality: 0.9 };
        let d = fuse_sources(Some(good), Some(&ecg), None);
        assert_eq!((d.rate_per_min, d.source, d.status), (Some(16.0), FusedSource::Direct, RespStatus::Ok));
        assert!(d.modulations.is_empty());
        let poor = RespEstimate { rate_per_min: None, quality: 0.1 };
        let m = fuse_sources(Some(poor), Some(&ecg), None);
        assert_eq!((m.source, m.status), (FusedSource::Ecg, RespStatus::Ok), "{m:?}");
        assert!((m.rate_per_min.unwrap() - 14.0).abs() < 1.0, "{m:?}");
        assert!(m.modulations.contains(&Modulation::EcgAmplitude));
        // Accelerometer (direct) disagreeing with the modulations: its rate, the lower quality.
        let far = fuse_sources(Some(RespEstimate { rate_per_min: Some(30.0), quality: 0.9 }), Some(&ecg), None);
        assert_eq!((far.rate_per_min, far.quality), (Some(30.0), 0.9_f64.min(m.quality)));
        let near = fuse_sources(Some(RespEstimate { rate_per_min: Some(15.0), quality: 0.6 }), Some(&ecg), None);
        assert_eq!((near.rate_per_min, near.quality), (Some(15.0), 0.6), "agreeing sources keep the direct quality");
    }

    #[test]
    fn req_sig_022_fuse_sources_withdraws_with_its_reason() {
        let none = fuse_sources(None, None, None);
        assert_eq!((none.rate_per_min, none.source, none.status), (None, FusedSource::None, RespStatus::NoSource));
        let poor = RespEstimate { rate_per_min: Some(12.0), quality: 0.2 };
        let low = fuse_sources(Some(poor), None, None);
        assert_eq!((low.rate_per_min, low.status), (None, RespStatus::LowQuality));
        let learning = fuse_sources(None, Some(&ecg_respiration(14.0, 20.0)), Some(&PpgRespiration::new(125.0).unwrap()));
        assert_eq!((learning.rate_per_min, learning.status), (None, RespStatus::Learning));
    }

    #[test]
    fn constructor_names_the_bad_parameter() {
        assert_eq!(
            RespAnalyzer::new(RespConfig { sample_rate_hz: 2.0 }).err(),
            Some(ConfigError::new("sampleRateHz", RULE_RESP_SAMPLE_RATE))
        );
        assert!(PpgRespiration::new(f64::NAN).is_err());
    }
}
