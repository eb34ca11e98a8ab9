//! Seeded synthetic signals for the tests of this crate (compiled only for tests).
//!
//! The ECG is a sum of Gaussian waves per beat (P, Q, R, S, T), after the dynamical model
//! of McSharry et al. (IEEE TBME 50(3):289-294, 2003) reduced to fixed shapes, so that the
//! true R-peak times are known exactly.

use std::f64::consts::PI;

/// splitmix64: small, seedable, good enough for test signals.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
    }
}

/// One synthetic ECG: samples in mV and the true R-peak indexes.
pub struct Ecg {
    pub samples: Vec<f32>,
    pub r_peaks: Vec<u64>,
}

/// What to put in a synthetic ECG.
#[derive(Debug, Clone, Copy)]
pub struct EcgSpec {
    pub sample_rate_hz: f64,
    pub duration_s: f64,
    pub heart_rate_bpm: f64,
    /// Beat-to-beat RR variation, fraction (uniform +-).
    pub rr_jitter: f64,
    /// Probability that a beat is a premature, wide, taller ventricular beat.
    pub ectopic_probability: f64,
    /// R-wave amplitude, mV.
    pub r_amplitude_mv: f64,
    /// Baseline wander amplitude (0.3 Hz sine), mV.
    pub wander_mv: f64,
    /// Mains interference amplitude (50 Hz), mV.
    pub mains_mv: f64,
    /// White noise standard deviation, mV.
    pub noise_mv: f64,
    pub seed: u64,
}

impl EcgSpec {
    pub fn clean(sample_rate_hz: f64, duration_s: f64, heart_rate_bpm: f64) -> Self {
        Self {
            sample_rate_hz,
            duration_s,
            heart_rate_bpm,
            rr_jitter: 0.05,
            ectopic_probability: 0.0,
            r_amplitude_mv: 1.2,
            wander_mv: 0.0,
            mains_mv: 0.0,
            noise_mv: 0.01,
            seed: 1,
        }
    }
}

/// (offset from R in s, width in s, amplitude relative to R) of the waves of a normal beat.
const NORMAL_WAVES: [(f64, f64, f64); 5] =
    [(-0.20, 0.025, 0.12), (-0.03, 0.010, -0.12), (0.0, 0.012, 1.0), (0.03, 0.010, -0.25), (0.28, 0.060, 0.30)];
/// A premature ventricular beat: no P, a wide and taller QRS, an inverted T.
const ECTOPIC_WAVES: [(f64, f64, f64); 3] = [(0.0, 0.035, 1.6), (0.06, 0.030, -0.5), (0.33, 0.070, -0.4)];

pub fn ecg(spec: EcgSpec) -> Ecg {
    let fs = spec.sample_rate_hz;
    let n = (spec.duration_s * fs) as usize;
    let mut rng = Rng::new(spec.seed);
    let mut x = vec![0.0f64; n];
    let mut r_peaks = Vec::new();
    let rr = 60.0 / spec.heart_rate_bpm;
    let mut t = 0.4 + rng.uniform() * rr;
    while t < spec.duration_s - 0.5 {
        let ectopic = rng.uniform() < spec.ectopic_probability;
        let (time, waves): (f64, &[(f64, f64, f64)]) =
            if ectopic { (t - 0.35 * rr, &ECTOPIC_WAVES) } else { (t, &NORMAL_WAVES) };
        r_peaks.push((time * fs).round() as u64);
        for &(offset, width, amplitude) in waves {
            let centre = time + offset;
            let from = ((centre - 5.0 * width) * fs).floor().max(0.0) as usize;
            let to = (((centre + 5.0 * width) * fs).ceil() as usize).min(n);
            for (i, v) in x.iter_mut().enumerate().take(to).skip(from) {
                let dt = i as f64 / fs - centre;
                *v += spec.r_amplitude_mv * amplitude * (-dt * dt / (2.0 * width * width)).exp();
            }
        }
        // A premature beat replaces the beat it precedes, and is followed by a full
        // compensatory pause (the next beat comes on time).
        t += rr * (1.0 + spec.rr_jitter * (2.0 * rng.uniform() - 1.0));
    }
    let samples = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let ts = i as f64 / fs;
            (v + spec.wander_mv * (2.0 * PI * 0.3 * ts).sin()
                + spec.mains_mv * (2.0 * PI * 50.0 * ts).sin()
                + spec.noise_mv * rng.normal()
                - 0.4) as f32
        })
        .collect();
    r_peaks.sort_unstable();
    Ecg { samples, r_peaks }
}

/// Matches detections to true beats within `tolerance` samples (greedy, in order).
/// Returns (true positives, missed, extra).
pub fn score(truth: &[u64], detected: &[u64], tolerance: u64) -> (usize, usize, usize) {
    let (mut i, mut j, mut tp) = (0, 0, 0);
    while i < truth.len() && j < detected.len() {
        let (a, b) = (truth[i], detected[j]);
        if a.abs_diff(b) <= tolerance {
            tp += 1;
            i += 1;
            j += 1;
        } else if a < b {
            i += 1;
        } else {
            j += 1;
        }
    }
    (tp, truth.len() - tp, detected.len() - tp)
}

/// One synthetic two-wavelength PPG: raw transmitted-light intensities (a pulse makes them
/// fall) and the true pulse onsets.
pub struct Ppg {
    pub ir: Vec<f32>,
    pub red: Vec<f32>,
    pub onsets: Vec<u64>,
}

/// What to put in a synthetic PPG.
#[derive(Debug, Clone, Copy)]
pub struct PpgSpec {
    pub sample_rate_hz: f64,
    pub duration_s: f64,
    pub pulse_rate_bpm: f64,
    /// Ratio of ratios of the red to the infrared pulsation.
    pub ratio: f64,
    /// Infrared perfusion index, percent (pulse amplitude over DC).
    pub perfusion_percent: f64,
    /// Respiration rate modulating baseline and amplitude, per minute (0 for none).
    pub resp_rate_per_min: f64,
    /// White noise, as a fraction of the infrared pulse amplitude.
    pub noise: f64,
    /// Motion artifact bursts: fraction of the time, amplitude in pulse amplitudes.
    pub motion_fraction: f64,
    pub motion_amplitude: f64,
    pub seed: u64,
}

impl PpgSpec {
    pub fn clean(sample_rate_hz: f64, duration_s: f64, pulse_rate_bpm: f64) -> Self {
        Self {
            sample_rate_hz,
            duration_s,
            pulse_rate_bpm,
            ratio: 0.6,
            perfusion_percent: 2.0,
            resp_rate_per_min: 0.0,
            noise: 0.01,
            motion_fraction: 0.0,
            motion_amplitude: 0.0,
            seed: 1,
        }
    }
}

pub fn ppg(spec: PpgSpec) -> Ppg {
    let fs = spec.sample_rate_hz;
    let n = (spec.duration_s * fs) as usize;
    let mut rng = Rng::new(spec.seed);
    let mut pulse = vec![0.0f64; n];
    let mut onsets = Vec::new();
    let interval = 60.0 / spec.pulse_rate_bpm;
    let mut t = 0.2 + rng.uniform() * interval;
    // Systolic wave and the dicrotic (reflected) wave, relative to the onset.
    let waves = [(0.13, 0.055, 1.0), (0.40, 0.08, 0.35)];
    while t < spec.duration_s - 0.8 {
        onsets.push((t * fs).round() as u64);
        let resp_phase = 2.0 * PI * spec.resp_rate_per_min / 60.0 * t;
        let gain = 1.0 + 0.15 * resp_phase.sin() * f64::from(u8::from(spec.resp_rate_per_min > 0.0));
        // Systole shortens at high rates: the waves come closer together.
        let scale = (interval / 0.75).min(1.0);
        for (offset, width, amplitude) in waves {
            let (offset, width) = (offset * scale, width * scale);
            let centre = t + offset;
            let from = ((centre - 5.0 * width) * fs).max(0.0) as usize;
            let to = (((centre + 5.0 * width) * fs) as usize).min(n);
            for (i, v) in pulse.iter_mut().enumerate().take(to).skip(from) {
                let dt = i as f64 / fs - centre;
                *v += gain * amplitude * (-dt * dt / (2.0 * width * width)).exp();
            }
        }
        t += interval * (1.0 + 0.03 * (2.0 * rng.uniform() - 1.0));
    }
    // Normalise the pulse to a peak of about 1.
    let (dc_ir, dc_red) = (50_000.0, 30_000.0);
    let ac_ir = spec.perfusion_percent / 100.0;
    let ac_red = ac_ir * spec.ratio;
    let mut motion = 0.0f64;
    let mut in_burst = false;
    let mut ir = Vec::with_capacity(n);
    let mut red = Vec::with_capacity(n);
    for (i, p) in pulse.iter().enumerate() {
        let ts = i as f64 / fs;
        let breath = if spec.resp_rate_per_min > 0.0 {
            0.3 * ac_ir * (2.0 * PI * spec.resp_rate_per_min / 60.0 * ts).sin()
        } else {
            0.0
        };
        if i % (fs as usize).max(1) == 0 {
            in_burst = rng.uniform() < spec.motion_fraction;
        }
        motion = if in_burst { 0.9 * motion + spec.motion_amplitude * ac_ir * rng.normal() } else { 0.95 * motion };
        let noise = spec.noise * ac_ir * rng.normal();
        // Motion moves both channels' light paths alike (venous blood and tissue).
        ir.push((dc_ir * (1.0 - ac_ir * p - breath - motion + noise)) as f32);
        red.push((dc_red * (1.0 - ac_red * p - breath - motion + noise)) as f32);
    }
    Ppg { ir, red, onsets }
}
