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
use crate::modulation::{
    BeatModulations, FusedModulations, MAX_BEAT_GAP_S, Modulation, ModulationSpectrum, RespStatus, fuse_modulations,
};

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
        // Beats of this batch, in order; each is measured as soon as the samples after it
        // are in (so that the result does not depend on how the lead is cut into batches).
        let end = self.index + samples.len() as u64;
        self.pending.extend(beats.iter().copied().filter(|&b| b < end));
        self.pending.sort_unstable();
        let settle = self.peak_search + self.swing_search;
        self.measure_ready(settle);
        for &x in samples {
            let x = f64::from(x);
            if self.index == 0 {
                self.band_state = self.band.steady_state(x);
                self.low_state = self.low.steady_state(x);
            }
            self.banded.push(self.band.step(&mut self.band_state, x));
            self.lowpassed.push(self.low.step(&mut self.low_state, x));
            self.index += 1;
            self.measure_ready(settle);
        }
        Ok(self.estimate())
    }

    /// Measures the pending beats that have `settle` samples after them.
    fn measure_ready(&mut self, settle: u64) {
        while let Some(&beat) = self.pending.first() {
            if beat + settle >= self.index {
                break;
            }
            self.pending.remove(0);
            self.measure(beat);
        }
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
        self.modulations.spectra(self.index)
    }

    /// The ECG-only estimate: its four modulations fused by
    /// [`crate::modulation::fuse_modulations`].
    pub fn estimate(&self) -> FusedModulations {
        let spectra = self.spectra();
        let inputs: Vec<(Modulation, Option<&ModulationSpectrum>)> =
            EDR_MODULATIONS_USED.iter().copied().zip(spectra.iter().map(Option::as_ref)).collect();
        let mut fused = fuse_modulations(&inputs);
        if fused.estimate.status == RespStatus::Learning && self.stale() {
            fused.estimate.status = RespStatus::NoSignal;
        }
        fused
    }

    /// `true` once the lead has run longer than [`MAX_BEAT_GAP_S`] without a beat.
    fn stale(&self) -> bool {
        self.index as f64 > MAX_BEAT_GAP_S * self.sample_rate_hz && self.modulations.stale(self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testsig::Rng;
    use std::f64::consts::PI;

    /// What breathing does to a synthetic lead.
    #[derive(Clone, Copy)]
    struct Breathing {
        rate_per_min: f64,
        /// Relative R-amplitude modulation (and so QRS area).
        amplitude: f64,
        /// Baseline wander, in units of the R amplitude.
        baseline: f64,
        /// Relative RR modulation (respiratory sinus arrhythmia).
        rr: f64,
    }

    const NONE: Breathing = Breathing { rate_per_min: 15.0, amplitude: 0.0, baseline: 0.0, rr: 0.0 };

    /// A lead at `fs` with beats at `heart_rate_bpm` (R 1.2, S -0.3, T 0.3), modulated by
    /// `b`, with white noise of `noise` standard deviation; returns the samples and the R
    /// peaks.
    fn lead(fs: f64, seconds: f64, heart_rate_bpm: f64, b: Breathing, noise: f64, seed: u64) -> (Vec<f32>, Vec<u64>) {
        let n = (seconds * fs) as usize;
        let f = b.rate_per_min / 60.0;
        let phase = |t: f64| (2.0 * PI * f * t).sin();
        let mut x = vec![0.0f64; n];
        let mut peaks = Vec::new();
        let mut t = 0.5;
        while t < seconds - 0.5 {
            peaks.push((t * fs).round() as u64);
            let gain = 1.2 * (1.0 + b.amplitude * phase(t));
            for (offset, width, amp) in [(0.0, 0.012, 1.0), (0.03, 0.01, -0.25), (0.28, 0.06, 0.25)] {
                let centre = t + offset;
                let from = ((centre - 5.0 * width) * fs).max(0.0) as usize;
                let to = (((centre + 5.0 * width) * fs) as usize).min(n);
                for (i, v) in x.iter_mut().enumerate().take(to).skip(from) {
                    let dt = i as f64 / fs - centre;
                    *v += gain * amp * (-dt * dt / (2.0 * width * width)).exp();
                }
            }
            t += 60.0 / heart_rate_bpm * (1.0 - b.rr * phase(t));
        }
        let mut rng = Rng::new(seed);
        let samples =
            x.iter().enumerate().map(|(i, v)| (v + 1.2 * b.baseline * phase(i as f64 / fs) + noise * rng.normal()) as f32).collect();
        (samples, peaks)
    }

    /// Feeds the lead in `chunk`-sample batches with the beats of each batch; returns the
    /// estimate after the last.
    fn run(fs: f64, samples: &[f32], peaks: &[u64], chunk: usize) -> FusedModulations {
        let mut r = EcgRespiration::new(fs).unwrap();
        let mut at = 0;
        let mut last = FusedModulations::default();
        while at < samples.len() {
            let end = (at + chunk).min(samples.len());
            let beats: Vec<u64> = peaks.iter().copied().filter(|&p| p >= at as u64 && p < end as u64).collect();
            last = r.process(&samples[at..end], &beats).unwrap();
            at = end;
        }
        last
    }

    #[test]
    fn req_sig_020_each_ecg_modulation_alone_gives_the_breathing_rate() {
        let fs = 125.0;
        for rate in [8.0, 15.0, 24.0] {
            let cases = [
                ("amplitude", Breathing { rate_per_min: rate, amplitude: 0.15, ..NONE }, Modulation::EcgAmplitude),
                ("baseline", Breathing { rate_per_min: rate, baseline: 0.2, ..NONE }, Modulation::EcgBaseline),
                ("rr", Breathing { rate_per_min: rate, rr: 0.06, ..NONE }, Modulation::EcgRr),
            ];
            for (name, breathing, modulation) in cases {
                let (samples, peaks) = lead(fs, 90.0, 72.0, breathing, 0.01, rate as u64);
                let mut r = EcgRespiration::new(fs).unwrap();
                let mut e = FusedModulations::default();
                for (k, chunk) in samples.chunks(125).enumerate() {
                    let from = (k * 125) as u64;
                    let beats: Vec<u64> = peaks.iter().copied().filter(|&p| p >= from && p < from + 125).collect();
                    e = r.process(chunk, &beats).unwrap();
                }
                let got = e.estimate.rate_per_min.unwrap_or_else(|| panic!("{name} {rate}/min: {e:?}"));
                assert!((got - rate).abs() < 1.0, "{name} {rate}/min: {got}");
                assert_eq!(e.estimate.status, RespStatus::Ok);
                assert!(e.estimate.quality >= 0.5, "{name} {rate}/min: {e:?}");
                // The modulation's own spectrum peaks at the rate.
                let index = EDR_MODULATIONS_USED.iter().position(|m| *m == modulation).unwrap();
                let own = r.spectra()[index].clone().unwrap_or_else(|| panic!("{name}: no spectrum"));
                assert!((own.peak_per_min - rate).abs() < 1.0 && own.peakedness > 0.5, "{name} {rate}/min: {own:?}");
            }
        }
    }

    #[test]
    fn req_sig_020_all_modulations_with_noise_give_the_rate_at_250_hz() {
        let fs = 250.0;
        let b = Breathing { rate_per_min: 18.0, amplitude: 0.1, baseline: 0.1, rr: 0.03 };
        let (samples, peaks) = lead(fs, 90.0, 85.0, b, 0.05, 7);
        let e = run(fs, &samples, &peaks, 250);
        let got = e.estimate.rate_per_min.unwrap_or_else(|| panic!("{e:?}"));
        assert!((got - 18.0).abs() < 1.0, "{got}");
        assert_eq!(e.used, vec![Modulation::EcgBaseline, Modulation::EcgAmplitude, Modulation::EcgQrsArea], "mechanical first");
    }

    #[test]
    fn req_sig_022_no_breathing_modulation_withdraws_the_rate_as_low_quality() {
        let fs = 125.0;
        // Beats with irregular intervals and noise, but nothing that breathes.
        let (samples, peaks) = lead(fs, 90.0, 70.0, NONE, 0.05, 3);
        let mut rng = Rng::new(5);
        let jittered: Vec<u64> = peaks.iter().map(|&p| p + rng.range(0, 2)).collect();
        let e = run(fs, &samples, &jittered, 125);
        assert_eq!((e.estimate.rate_per_min, e.estimate.status), (None, RespStatus::LowQuality), "{e:?}");
    }

    #[test]
    fn req_sig_022_a_lead_without_beats_withdraws_the_rate_and_never_holds_it() {
        let fs = 125.0;
        let flat = vec![0.0f32; 60 * 125];
        let e = run(fs, &flat, &[], 125);
        assert_eq!((e.estimate.rate_per_min, e.estimate.status), (None, RespStatus::NoSignal));
        // A good rate, then the beats stop (lead off): withdrawn within 6 s, not held.
        let b = Breathing { rate_per_min: 12.0, amplitude: 0.15, ..NONE };
        let (samples, peaks) = lead(fs, 90.0, 70.0, b, 0.01, 9);
        let mut r = EcgRespiration::new(fs).unwrap();
        let mut last = FusedModulations::default();
        for (k, chunk) in samples.chunks(125).enumerate() {
            let from = (k * 125) as u64;
            let beats: Vec<u64> = peaks.iter().copied().filter(|&p| p >= from && p < from + 125).collect();
            last = r.process(chunk, &beats).unwrap();
        }
        assert!(last.estimate.rate_per_min.is_some(), "{last:?}");
        for second in 1..=10 {
            last = r.process(&[0.0; 125], &[]).unwrap();
            if second >= 6 {
                assert_eq!((last.estimate.rate_per_min, last.estimate.status), (None, RespStatus::NoSignal), "after {second} s");
            }
        }
    }

    #[test]
    fn req_sig_002_ecg_respiration_chunking_does_not_change_the_estimate() {
        let fs = 125.0;
        let b = Breathing { rate_per_min: 14.0, amplitude: 0.1, baseline: 0.1, rr: 0.03 };
        let (samples, peaks) = lead(fs, 70.0, 66.0, b, 0.02, 4);
        let whole = run(fs, &samples, &peaks, samples.len());
        for chunk in [1, 37, 125, 500] {
            assert_eq!(run(fs, &samples, &peaks, chunk), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn constructor_names_the_bad_parameter_and_bad_batches_are_rejected_whole() {
        assert_eq!(EcgRespiration::new(f64::NAN).err().map(|e| e.parameter), Some("sampleRateHz"));
        let mut r = EcgRespiration::new(125.0).unwrap();
        let err = r.process(&[0.0, f32::NAN], &[]).unwrap_err();
        assert_eq!((err.field, err.index), ("samples", 1));
    }
}
