//! ECG-derived respiration (EDR) from one lead, streaming: the respiratory modulations of
//! the beats found by the QRS detector ([`crate::ecg`]), resampled and fused by
//! [`crate::modulation`].
//!
//! Four modulations per beat (Charlton et al., "An assessment of algorithms to estimate
//! respiratory rate from the electrocardiogram and photoplethysmogram", Physiol Meas
//! 37(4):610-626, 2016, table 2, and "Breathing rate estimation from the electrocardiogram
//! and photoplethysmogram: a review", IEEE Rev Biomed Eng 11:2-20, 2018):
//! - *baseline wander* (BW): the level of the lead (low-passed at 40 Hz, not high-passed)
//!   in the PR segment, 120 to 60 ms before the R peak: the chest's movement shifts the
//!   electrodes and the thoracic impedance;
//! - *R amplitude* (AM): the QRS's peak-to-peak swing (R peak to the deepest opposite
//!   deflection within 100 ms) in the band-passed lead: the heart's electrical axis turns
//!   and the lungs' impedance changes with each breath;
//! - *QRS area*: the integral of the band-passed lead over the 100 ms centred on the R
//!   peak (Moody et al., "Derivation of respiratory signals from multi-lead ECGs",
//!   Computers in Cardiology 12:113-116, 1985): with one lead it follows the projection of
//!   the QRS axis on that lead, which rotates with breathing;
//! - *RR interval* (FM): the respiratory sinus arrhythmia (the heart speeds up on
//!   inspiration).
//!
//! A beat whose RR interval is outside 0.75-1.25 x the median of the last 9 intervals is
//! left out of all four series (ectopic beats and the pauses after them distort every
//! modulation); the linear interpolation bridges it. The R peak is the largest absolute
//! value of the band-passed lead within 80 ms of the detector's beat (the detector places
//! its beat near, not at, the peak).

use crate::dsp::{Cascade, CascadeState, ConfigError, History, SampleError, check_finite, median, samples_in};
use crate::modulation::{BeatModulations, FusedModulations, Modulation, ModulationSpectrum, fuse_modulations};

/// Band of the lead for the R amplitude and QRS area, Hz: 0.5 Hz removes the baseline
/// (its respiratory part is the BW series); 40 Hz keeps the QRS (AHA monitoring band).
const BAND_LOW_HZ: f64 = 0.5;
const BAND_HIGH_HZ: f64 = 40.0;
/// R-peak search around the detector's beat, s.
const PEAK_SEARCH_S: f64 = 0.08;
/// Opposite deflection searched this far either side of the R peak, s.
const SWING_SEARCH_S: f64 = 0.1;
/// QRS area: this far either side of the R peak, s.
const AREA_HALF_S: f64 = 0.05;
/// PR segment, before the R peak, s.
const PR_FROM_S: f64 = 0.12;
const PR_TO_S: f64 = 0.06;
/// RR intervals kept for the ectopic test, and the accepted band around their median.
const RR_HISTORY: usize = 9;
const RR_LOW: f64 = 0.75;
const RR_HIGH: f64 = 1.25;
/// Samples of the lead kept, s (the beat is decided at most a few hundred ms late).
const HISTORY_S: f64 = 3.0;
/// Number of modulations.
pub const EDR_MODULATIONS: usize = 4;
/// The modulations, in the order of [`EcgRespiration::spectra`].
pub const EDR_MODULATIONS_USED: [Modulation; EDR_MODULATIONS] =
    [Modulation::EcgBaseline, Modulation::EcgAmplitude, Modulation::EcgQrsArea, Modulation::EcgRr];

/// ECG-derived respiration rate for one lead (module documentation).
#[derive(Debug, Clone)]
pub struct EcgRespiration {
    sample_rate_hz: f64,
    band: Cascade,
    band_state: CascadeState,
    low: Cascade,
    low_state: CascadeState,
    banded: History,
    lowpassed: History,
    index: u64,
    pending: Vec<u64>,
    last_peak: Option<u64>,
    intervals: Vec<f64>,
    modulations: BeatModulations,
    peak_search: u64,
    swing_search: u64,
    area_half: u64,
    pr_from: u64,
    pr_to: u64,
}

impl EcgRespiration {
    /// For a lead sampled at `sample_rate_hz` (at least 100 Hz); the error names the bad
    /// parameter.
    pub fn new(sample_rate_hz: f64) -> Result<Self, ConfigError> {
        crate::dsp::check_sample_rate("sampleRateHz", sample_rate_hz)?;
        let high = BAND_HIGH_HZ.min(0.4 * sample_rate_hz);
        let band = Cascade::bandpass("sampleRateHz", "sampleRateHz", sample_rate_hz, BAND_LOW_HZ, high)?;
        let low = Cascade::new(vec![crate::dsp::Biquad::lowpass("sampleRateHz", sample_rate_hz, high)?]);
        let to = |s: f64| samples_in("sampleRateHz", s, sample_rate_hz);
        let history = to(HISTORY_S)?;
        Ok(Self {
            sample_rate_hz,
            band_state: band.new_state(),
            band,
            low_state: low.new_state(),
            low,
            banded: History::new(history),
            lowpassed: History::new(history),
            index: 0,
            pending: Vec::new(),
            last_peak: None,
            intervals: Vec::with_capacity(RR_HISTORY),
            modulations: BeatModulations::new(sample_rate_hz, EDR_MODULATIONS)?,
            peak_search: to(PEAK_SEARCH_S)? as u64,
            swing_search: to(SWING_SEARCH_S)? as u64,
            area_half: to(AREA_HALF_S)? as u64,
            pr_from: to(PR_FROM_S)? as u64,
            pr_to: to(PR_TO_S)? as u64,
        })
    }

    /// Processes a batch of the lead and the beats the detector decided during it (sample
    /// indexes from the first sample, as [`crate::ecg::EcgBatch::beats`]). A batch with a
    /// non-finite sample is rejected whole, before any state changes.
    pub fn process(&mut self, samples: &[f32], beats: &[u64]) -> Result<FusedModulations, SampleError> {
        check_finite("samples", samples)?;
        for &x in samples {
            let x = f64::from(x);
            if self.index == 0 {
                self.band_state = self.band.steady_state(x);
                self.low_state = self.low.steady_state(x);
            }
            self.banded.push(self.band.step(&mut self.band_state, x));
            self.lowpassed.push(self.low.step(&mut self.low_state, x));
            self.index += 1;
        }
        self.pending.extend(beats.iter().copied().filter(|&b| b < self.index));
        // A beat is measured once the samples after it are in.
        let ready_before = self.index.saturating_sub(self.peak_search + self.swing_search + 1);
        let mut ready: Vec<u64> = Vec::new();
        self.pending.retain(|&b| {
            if b <= ready_before {
                ready.push(b);
                false
            } else {
                true
            }
        });
        for beat in ready {
            self.measure(beat);
        }
        Ok(self.estimate())
    }

    fn measure(&mut self, beat: u64) {
        let Some((peak, value)) = self.banded.argmax_abs(beat.saturating_sub(self.peak_search), beat + self.peak_search) else {
            return;
        };
        let sign = if value < 0.0 { -1.0 } else { 1.0 };
        if self.last_peak.is_some_and(|l| peak <= l) {
            return;
        }
        let interval_s = self.last_peak.map(|l| (peak - l) as f64 / self.sample_rate_hz);
        self.last_peak = Some(peak);
        let Some(interval_s) = interval_s else { return };
        let typical = median(&self.intervals);
        if self.intervals.len() >= RR_HISTORY {
            self.intervals.remove(0);
        }
        self.intervals.push(interval_s);
        if let Some(m) = typical
            && !(RR_LOW * m..=RR_HIGH * m).contains(&interval_s)
        {
            return;
        }
        let opposite = self
            .banded
            .argmax_by(peak.saturating_sub(self.swing_search), peak + self.swing_search, |v| -sign * v)
            .map_or(0.0, |(_, v)| v);
        let amplitude = sign * (value - opposite);
        let area = (peak.saturating_sub(self.area_half)..=peak + self.area_half)
            .filter_map(|i| self.banded.get(i))
            .map(|v| sign * v)
            .sum::<f64>()
            / self.sample_rate_hz;
        let pr: Vec<f64> = (peak.saturating_sub(self.pr_from)..=peak.saturating_sub(self.pr_to))
            .filter_map(|i| self.lowpassed.get(i))
            .collect();
        let Some(baseline) = (!pr.is_empty()).then(|| pr.iter().sum::<f64>() / pr.len() as f64) else { return };
        self.modulations.push(peak, &[baseline, amplitude, area, interval_s]);
    }

    /// The time-averaged spectrum of each modulation, in the order of
    /// [`EDR_MODULATIONS_USED`].
    pub fn spectra(&self) -> Vec<Option<ModulationSpectrum>> {
        self.modulations.spectra()
    }

    /// The ECG-only estimate: its four modulations fused by
    /// [`crate::modulation::fuse_modulations`].
    pub fn estimate(&self) -> FusedModulations {
        let spectra = self.spectra();
        let inputs: Vec<(Modulation, Option<&ModulationSpectrum>)> =
            EDR_MODULATIONS_USED.iter().copied().zip(spectra.iter().map(Option::as_ref)).collect();
        fuse_modulations(&inputs)
    }
}
