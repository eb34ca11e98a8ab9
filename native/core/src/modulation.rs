//! Respiration rate from the respiratory modulations of a beat-to-beat signal (ECG beats or
//! PPG pulses): the per-beat features are resampled onto a 4 Hz grid,
//! each resulting series gets a spectrum and a quality ([`series_spectrum`]), and the
//! spectra are averaged into one estimate weighted by their quality ([`fuse_spectra`],
//! [`fuse_modulations`]).
//!
//! Spectrum of one modulation: the last [`crate::resp::WINDOW_S`] seconds of the 4 Hz
//! series (band-passed 0.1-1 Hz), mean removed, Hann-windowed, evaluated by a direct
//! Fourier sum on a grid from [`MIN_RATE_PER_MIN`] to [`MAX_RATE_PER_MIN`] in steps of
//! [`GRID_STEP_PER_MIN`], normalised to a sum of 1. One spectrum is taken per second of
//! series time; the spectra of the last [`SPECTRUM_AVERAGE_S`] seconds are averaged. The
//! quality of a spectrum is its *peakedness*: the share of the power within
//! [`PEAK_HALF_WIDTH_PER_MIN`] of its largest peak (Lázaro et al., "Deriving respiration
//! from photoplethysmographic pulse width", Med Biol Eng Comput 51:233-242, 2013, and
//! "Electrocardiogram derived respiratory rate from QRS slopes and R-wave angle", Ann
//! Biomed Eng 42:2072-2083, 2014: a spectrum counts when most of its power lies around its
//! peak). A steady breathing rhythm gives one narrow peak (peakedness near 1).
//!
//! Fusion ([`fuse_spectra`]): a peak-conditioned spectral average in the manner of Lázaro
//! et al. (2013, 2014), across modulations: the normalised spectra are averaged with the
//! square of their peakedness as weight, so that a modulation with a clear rhythm dominates
//! and a flat one hardly counts; the rate is the largest peak of the average, refined by
//! parabolic interpolation. Its quality is the peakedness of the average over twice
//! [`MIN_PEAKEDNESS`], at most 1; the rate is withdrawn, with its reason, below
//! [`crate::resp::MIN_QUALITY`] (0.5, i.e. a peakedness under [`MIN_PEAKEDNESS`]).
//! Modulations that point at different rates spread the average and so lower the quality,
//! which plays the part of the agreement test of the "smart fusion" of Karlen et al. (IEEE
//! TBME 60(7):1946-1953, 2013).
//!
//! Which modulations ([`fuse_modulations`]): the mechanical ones first (ECG baseline, R
//! amplitude and QRS area, PPG baseline: see [`Modulation::mechanical`]); all of them only
//! when the mechanical ones give no rate.
//!
//! Known limit: white noise in the beat features is coloured by the resampling and the
//! band-pass into a broad hump whose peakedness is near the limit, so that a modulation
//! that carries no breathing at all can still give a rate of quality just over 0.5 (see
//! docs/signal-processing.md). Signal loss (no beats for [`MAX_BEAT_GAP_S`]) withdraws the
//! rate.

use crate::dsp::ConfigError;
use crate::resp::{MIN_QUALITY, SERIES_RATE_HZ, Series};

/// Lowest rate of the spectral grid, breaths/min (0.1 Hz, the low edge of the series band).
pub const MIN_RATE_PER_MIN: f64 = 6.0;
/// Highest rate of the spectral grid, breaths/min (0.7 Hz: adult rates above 42/min are
/// outside what a ward scores, NEWS2 scores 25/min and above as 3).
pub const MAX_RATE_PER_MIN: f64 = 42.0;
/// Step of the spectral grid, breaths/min.
pub const GRID_STEP_PER_MIN: f64 = 0.25;
/// Half-width of the band around a peak counted as the peak's power, breaths/min: the
/// half-width of the main lobe of a Hann window over 32 s is 2/32 Hz = 3.75 /min; 3 /min
/// holds most of a steady breathing rhythm's power while a second rhythm 4 /min away
/// falls outside.
pub const PEAK_HALF_WIDTH_PER_MIN: f64 = 3.0;
/// Least peakedness of the fused spectrum at which a rate is published: twice the
/// peakedness of a flat spectrum (the peak band, 6 /min wide, is a sixth of the 36 /min
/// grid, so a flat spectrum scores about 0.17): a rhythm must hold at least twice its
/// share of the power. The quality reported is the peakedness over twice this limit,
/// at most 1, so that the limit falls on [`crate::resp::MIN_QUALITY`] (0.5), the limit of
/// every respiration estimate.
pub const MIN_PEAKEDNESS: f64 = 0.35;
/// After this long without a beat (or pulse) the modulations are not followed any more,
/// s: the longest pause a ward monitor tolerates before its asystole alarm is 4 s to 6 s
/// (IEC 60601-2-27 asks for an asystole alarm within 10 s; 5 s is the usual setting).
pub const MAX_BEAT_GAP_S: f64 = 5.0;
/// The spectra of the last this many seconds are averaged (Lázaro et al. 2013 average
/// the spectra of successive windows the same way, to steady the peak).
pub const SPECTRUM_AVERAGE_S: usize = 10;

const GRID_POINTS: usize = ((MAX_RATE_PER_MIN - MIN_RATE_PER_MIN) / GRID_STEP_PER_MIN) as usize + 1;

/// The normalised spectrum of one modulation series and its quality.
#[derive(Debug, Clone, PartialEq)]
pub struct ModulationSpectrum {
    /// Power at each grid rate (`MIN_RATE_PER_MIN + k * GRID_STEP_PER_MIN`), summing to 1.
    pub power: Vec<f64>,
    /// Rate of the largest peak, breaths/min.
    pub peak_per_min: f64,
    /// Share of the power within [`PEAK_HALF_WIDTH_PER_MIN`] of the peak, 0 to 1.
    pub peakedness: f64,
}

/// Rate of grid point `k`, breaths/min.
fn grid_rate(k: usize) -> f64 {
    MIN_RATE_PER_MIN + k as f64 * GRID_STEP_PER_MIN
}

/// The spectrum of a window of the 4 Hz series (see the module documentation); `None`
/// when the window is flat or too short.
pub fn series_spectrum(window: &[f64]) -> Option<ModulationSpectrum> {
    let n = window.len();
    if n < 16 {
        return None;
    }
    let mean = window.iter().sum::<f64>() / n as f64;
    let tapered: Vec<f64> = window
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n - 1) as f64).cos();
            (x - mean) * hann
        })
        .collect();
    let mut power = Vec::with_capacity(GRID_POINTS);
    for k in 0..GRID_POINTS {
        let omega = 2.0 * std::f64::consts::PI * grid_rate(k) / 60.0 / SERIES_RATE_HZ;
        let (mut re, mut im) = (0.0, 0.0);
        // Rotating phasor: one complex multiplication per sample.
        let (c, s) = (omega.cos(), omega.sin());
        let (mut pr, mut pi) = (1.0, 0.0);
        for &x in &tapered {
            re += x * pr;
            im -= x * pi;
            let next = pr * c - pi * s;
            pi = pr * s + pi * c;
            pr = next;
        }
        power.push(re * re + im * im);
    }
    let total: f64 = power.iter().sum();
    if !(total.is_finite() && total > f64::MIN_POSITIVE) {
        return None;
    }
    for p in &mut power {
        *p /= total;
    }
    let (peak, peakedness) = peak_of(&power);
    Some(ModulationSpectrum { power, peak_per_min: peak, peakedness })
}

/// Largest local peak of a normalised spectrum (refined by parabolic interpolation) and
/// the share of the power within [`PEAK_HALF_WIDTH_PER_MIN`] of it.
fn peak_of(power: &[f64]) -> (f64, f64) {
    let mut best = 0usize;
    for (k, &p) in power.iter().enumerate() {
        if power.get(best).is_none_or(|&b| p > b) {
            best = k;
        }
    }
    let at = |k: usize| power.get(k).copied().unwrap_or(0.0);
    let mut offset = 0.0;
    if best > 0 && best + 1 < power.len() {
        let (a, b, c) = (at(best - 1), at(best), at(best + 1));
        let denominator = a - 2.0 * b + c;
        if denominator < 0.0 {
            offset = (0.5 * (a - c) / denominator).clamp(-0.5, 0.5);
        }
    }
    let peak = grid_rate(best) + offset * GRID_STEP_PER_MIN;
    let half = (PEAK_HALF_WIDTH_PER_MIN / GRID_STEP_PER_MIN).round() as usize;
    let from = best.saturating_sub(half);
    let to = (best + half).min(power.len().saturating_sub(1));
    let share = power.get(from..=to).map_or(0.0, |s| s.iter().sum());
    (peak, share)
}

/// Why a respiration rate is or is not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RespStatus {
    /// A rate is reported.
    #[default]
    Ok,
    /// Less than one analysis window of signal so far.
    Learning,
    /// No breathing rhythm stands out (noise, artefact, no signal, or modulations that
    /// point at different rates): the quality is below [`MIN_QUALITY`].
    LowQuality,
    /// No beat or pulse for [`MAX_BEAT_GAP_S`] (lead or probe off, asystole): the
    /// modulations cannot be followed, and the last rate is not held.
    NoSignal,
    /// No source was given.
    NoSource,
}

impl RespStatus {
    /// Stable lower-case name, as reported to JavaScript.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Learning => "learning",
            Self::LowQuality => "low-quality",
            Self::NoSignal => "no-signal",
            Self::NoSource => "no-source",
        }
    }
}

/// A respiration-rate estimate fused from several modulation spectra.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SpectralEstimate {
    /// Breaths per minute, `None` when withdrawn (see `status`).
    pub rate_per_min: Option<f64>,
    /// Quality, 0 to 1: the peakedness of the fused spectrum over twice
    /// [`MIN_PEAKEDNESS`], at most 1 (published from [`MIN_QUALITY`]).
    pub quality: f64,
    /// Why the rate is (not) reported.
    pub status: RespStatus,
}

/// Fuses modulation spectra (module documentation): their average weighted by the
/// square of each one's peakedness, so that a modulation with a clear rhythm dominates
/// and a flat one hardly counts. `spectra` holds one entry per modulation, `None` where
/// its window is not full yet.
pub fn fuse_spectra(spectra: &[Option<&ModulationSpectrum>]) -> SpectralEstimate {
    let mut average = vec![0.0; GRID_POINTS];
    let mut weights = 0.0;
    for s in spectra.iter().flatten() {
        let w = s.peakedness * s.peakedness;
        weights += w;
        for (a, p) in average.iter_mut().zip(&s.power) {
            *a += w * p;
        }
    }
    if weights <= f64::MIN_POSITIVE {
        return SpectralEstimate { status: RespStatus::Learning, ..SpectralEstimate::default() };
    }
    for a in &mut average {
        *a /= weights;
    }
    let (rate, peakedness) = peak_of(&average);
    let quality = (peakedness / (2.0 * MIN_PEAKEDNESS)).min(1.0);
    if quality >= MIN_QUALITY {
        SpectralEstimate { rate_per_min: Some(rate), quality, status: RespStatus::Ok }
    } else {
        SpectralEstimate { rate_per_min: None, quality, status: RespStatus::LowQuality }
    }
}

/// Per-beat features resampled onto the 4 Hz grid by linear interpolation between beats,
/// one band-passed [`Series`] per feature, with the spectrum of each series averaged over
/// the last [`SPECTRUM_AVERAGE_S`] seconds (one spectrum per second of series time).
#[derive(Debug, Clone)]
pub(crate) struct BeatModulations {
    sample_rate_hz: f64,
    series: Vec<Series>,
    last: Option<(u64, Vec<f64>)>,
    /// Next 4 Hz grid point, as a fractional sample index.
    next_grid: f64,
    /// Series samples pushed so far.
    pushed: u64,
    /// Per series: the spectra of the last seconds (oldest first), at most
    /// `SPECTRUM_AVERAGE_S` of them; an entry is `None` for a flat window.
    recent: Vec<Vec<Option<Vec<f64>>>>,
}

impl BeatModulations {
    /// `features` series for beats indexed at `sample_rate_hz`.
    pub(crate) fn new(sample_rate_hz: f64, features: usize) -> Result<Self, ConfigError> {
        crate::dsp::check_sample_rate("sampleRateHz", sample_rate_hz)?;
        let series = (0..features).map(|_| Series::new()).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { sample_rate_hz, series, last: None, next_grid: 0.0, pushed: 0, recent: vec![Vec::new(); features] })
    }

    /// The series (for the breath-counting estimates).
    pub(crate) fn series(&self) -> &[Series] {
        &self.series
    }

    /// Adds the features of the beat at `index` (increasing; others are ignored; `values`
    /// must have one value per series).
    pub(crate) fn push(&mut self, index: u64, values: &[f64]) {
        if values.len() != self.series.len() {
            return;
        }
        let Some((prev_index, prev)) = self.last.take() else {
            self.last = Some((index, values.to_vec()));
            self.next_grid = index as f64;
            return;
        };
        if index <= prev_index {
            self.last = Some((prev_index, prev));
            return;
        }
        let step = self.sample_rate_hz / SERIES_RATE_HZ;
        let span = (index - prev_index) as f64;
        while self.next_grid <= index as f64 {
            let f = (self.next_grid - prev_index as f64) / span;
            for ((series, a), b) in self.series.iter_mut().zip(&prev).zip(values) {
                series.push(a + (b - a) * f);
            }
            self.next_grid += step;
            self.pushed += 1;
            if self.pushed.is_multiple_of(SERIES_RATE_HZ as u64) {
                self.update_spectra();
            }
        }
        self.last = Some((index, values.to_vec()));
    }

    /// Once a second of series time: the spectrum of each full window joins the average.
    fn update_spectra(&mut self) {
        for (series, recent) in self.series.iter().zip(self.recent.iter_mut()) {
            let Some(window) = series.window() else { continue };
            if recent.len() >= SPECTRUM_AVERAGE_S {
                recent.remove(0);
            }
            recent.push(series_spectrum(&window).map(|s| s.power));
        }
    }

    /// `true` when the last beat is more than [`MAX_BEAT_GAP_S`] before sample `now`, or
    /// when no beat came yet.
    pub(crate) fn stale(&self, now: u64) -> bool {
        self.last.as_ref().is_none_or(|(index, _)| now.saturating_sub(*index) as f64 > MAX_BEAT_GAP_S * self.sample_rate_hz)
    }

    /// The time-averaged spectrum of each series (`None` until its window is full, when
    /// every recent window was flat, or when the beats stopped: see [`Self::stale`]).
    pub(crate) fn spectra(&self, now: u64) -> Vec<Option<ModulationSpectrum>> {
        if self.stale(now) {
            return vec![None; self.series.len()];
        }
        self.recent
            .iter()
            .map(|recent| {
                let present: Vec<&Vec<f64>> = recent.iter().flatten().collect();
                if present.is_empty() {
                    return None;
                }
                let mut power = vec![0.0; GRID_POINTS];
                for p in &present {
                    for (a, v) in power.iter_mut().zip(p.iter()) {
                        *a += v / present.len() as f64;
                    }
                }
                let (peak_per_min, peakedness) = peak_of(&power);
                Some(ModulationSpectrum { power, peak_per_min, peakedness })
            })
            .collect()
    }
}

/// A respiratory modulation of the ECG or the PPG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modulation {
    /// ECG baseline wander (PR-segment level).
    EcgBaseline,
    /// ECG R amplitude (QRS peak-to-peak).
    EcgAmplitude,
    /// ECG QRS area.
    EcgQrsArea,
    /// ECG RR interval (respiratory sinus arrhythmia).
    EcgRr,
    /// PPG baseline (respiratory-induced intensity variation).
    PpgBaseline,
    /// PPG pulse amplitude.
    PpgAmplitude,
    /// PPG pulse interval.
    PpgInterval,
}

impl Modulation {
    /// Stable name, as reported to JavaScript.
    pub fn name(self) -> &'static str {
        match self {
            Self::EcgBaseline => "ecg-baseline",
            Self::EcgAmplitude => "ecg-amplitude",
            Self::EcgQrsArea => "ecg-qrs-area",
            Self::EcgRr => "ecg-rr",
            Self::PpgBaseline => "ppg-baseline",
            Self::PpgAmplitude => "ppg-amplitude",
            Self::PpgInterval => "ppg-interval",
        }
    }

    /// `true` for the modulations made by the mechanics of breathing (the chest moving
    /// the electrodes and the heart, the intrathoracic pressure changing venous return),
    /// `false` for those made by autonomic control: the RR and pulse intervals
    /// (respiratory sinus arrhythmia, which weakens with age and in illness: Hirsch and
    /// Bishop, Am J Physiol 241:H620-H629, 1981) and the pulse amplitude (vasomotor tone,
    /// which also carries the 0.1 Hz Mayer waves, and the monitor's own gain control).
    pub fn mechanical(self) -> bool {
        matches!(self, Self::EcgBaseline | Self::EcgAmplitude | Self::EcgQrsArea | Self::PpgBaseline)
    }

    /// `true` for the ECG modulations.
    pub fn from_ecg(self) -> bool {
        matches!(self, Self::EcgBaseline | Self::EcgAmplitude | Self::EcgQrsArea | Self::EcgRr)
    }
}

/// A respiration rate fused from the modulations of the ECG and / or the PPG.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FusedModulations {
    /// The estimate (rate withdrawn with its reason when the quality is too low).
    pub estimate: SpectralEstimate,
    /// The modulations whose spectra were averaged (empty when none was available).
    pub used: Vec<Modulation>,
}

/// Fuses the modulations that are there: the mechanical ones first (see
/// [`Modulation::mechanical`]); only when they give no rate of sufficient quality, all of
/// them. `inputs` pairs each modulation with its spectrum (`None` when not available).
pub fn fuse_modulations(inputs: &[(Modulation, Option<&ModulationSpectrum>)]) -> FusedModulations {
    let attempt = |mechanical_only: bool| {
        let chosen: Vec<&(Modulation, Option<&ModulationSpectrum>)> =
            inputs.iter().filter(|(m, s)| s.is_some() && (!mechanical_only || m.mechanical())).collect();
        let estimate = fuse_spectra(&chosen.iter().map(|(_, s)| *s).collect::<Vec<_>>());
        FusedModulations { estimate, used: chosen.iter().map(|(m, _)| *m).collect() }
    };
    let mechanical = attempt(true);
    if mechanical.estimate.rate_per_min.is_some() {
        return mechanical;
    }
    let all = attempt(false);
    if all.estimate.rate_per_min.is_some() || mechanical.used.is_empty() {
        all
    } else {
        // Neither gives a rate: report the mechanical attempt's quality and reason.
        mechanical
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn tone(rate_per_min: f64, seconds: f64) -> Vec<f64> {
        (0..(seconds * SERIES_RATE_HZ) as usize)
            .map(|i| (2.0 * PI * rate_per_min / 60.0 * i as f64 / SERIES_RATE_HZ).sin())
            .collect()
    }

    #[test]
    fn a_tone_gives_its_rate_and_a_sharp_peak() {
        for rate in [8.0, 12.5, 20.0, 33.0] {
            let s = series_spectrum(&tone(rate, 32.0)).unwrap();
            assert!((s.peak_per_min - rate).abs() < 0.3, "{rate}: {}", s.peak_per_min);
            assert!(s.peakedness > 0.9, "{rate}: {}", s.peakedness);
        }
    }

    #[test]
    fn flat_window_has_no_spectrum() {
        assert_eq!(series_spectrum(&[1.0; 128]), None);
    }

    fn noise(seconds: f64, seed: u64) -> Vec<f64> {
        let mut rng = crate::testsig::Rng::new(seed);
        (0..(seconds * SERIES_RATE_HZ) as usize).map(|_| rng.normal()).collect()
    }

    #[test]
    fn req_sig_021_a_clear_modulation_outweighs_noisy_ones() {
        let clear = series_spectrum(&tone(16.0, 32.0)).unwrap();
        let noisy: Vec<ModulationSpectrum> = (1..=3).map(|seed| series_spectrum(&noise(32.0, seed)).unwrap()).collect();
        assert!(noisy.iter().all(|n| n.peakedness < clear.peakedness));
        let mut spectra = vec![Some(&clear)];
        spectra.extend(noisy.iter().map(Some));
        let e = fuse_spectra(&spectra);
        assert!((e.rate_per_min.unwrap() - 16.0).abs() < 0.5, "{e:?}");
    }

    #[test]
    fn req_sig_022_nothing_to_average_is_learning() {
        assert_eq!(fuse_spectra(&[None, None]), SpectralEstimate { status: RespStatus::Learning, ..SpectralEstimate::default() });
        assert_eq!(fuse_modulations(&[]).estimate.status, RespStatus::Learning);
    }

    #[test]
    fn req_sig_021_mechanical_modulations_first_the_others_only_when_they_fail() {
        let at = |rate: f64| series_spectrum(&tone(rate, 32.0)).unwrap();
        let (baseline, rr) = (at(12.0), at(20.0));
        let both = fuse_modulations(&[(Modulation::EcgBaseline, Some(&baseline)), (Modulation::EcgRr, Some(&rr))]);
        assert!((both.estimate.rate_per_min.unwrap() - 12.0).abs() < 0.5, "{both:?}");
        assert_eq!(both.used, vec![Modulation::EcgBaseline]);
        // Three rhythms of equal power: no rate from the baseline alone.
        let spread: Vec<f64> = tone(8.0, 32.0).iter().zip(tone(22.0, 32.0)).zip(tone(36.0, 32.0)).map(|((a, b), c)| a + b + c).collect();
        let spread = series_spectrum(&spread).unwrap();
        let fallback = fuse_modulations(&[(Modulation::PpgBaseline, Some(&spread)), (Modulation::PpgInterval, Some(&rr))]);
        assert!((fallback.estimate.rate_per_min.unwrap() - 20.0).abs() < 0.5, "{fallback:?}");
        assert_eq!(fallback.used, vec![Modulation::PpgBaseline, Modulation::PpgInterval]);
    }

    #[test]
    fn req_sig_021_two_modulations_that_disagree_lower_the_quality() {
        let (a, b) = (series_spectrum(&tone(10.0, 32.0)).unwrap(), series_spectrum(&tone(25.0, 32.0)).unwrap());
        let agree = fuse_spectra(&[Some(&a), Some(&a)]);
        let disagree = fuse_spectra(&[Some(&a), Some(&b)]);
        assert!(disagree.quality < agree.quality - 0.25, "{agree:?} {disagree:?}");
        let c = series_spectrum(&tone(36.0, 32.0)).unwrap();
        let three = fuse_spectra(&[Some(&a), Some(&b), Some(&c)]);
        assert_eq!((three.rate_per_min, three.status), (None, RespStatus::LowQuality), "{three:?}");
    }
}
