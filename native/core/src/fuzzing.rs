//! Fuzz entry points of the core: each takes arbitrary bytes, builds a configuration and
//! a stream of inputs from them, drives one public entry point, and checks the invariants
//! that entry point promises in its documentation. A broken invariant is returned as an
//! `Err` naming it (never the input values); a panic inside the core is the other failure
//! the fuzzer looks for.
//!
//! The same functions run under cargo-fuzz (`native/fuzz/`, coverage-guided, 10 million
//! inputs per target in `make bench`) and in `cargo test` (the `corpus` test below replays
//! the committed corpus `native/fuzz/corpus/<target>/` and a bounded set of seeded inputs),
//! so that a finding once added to the corpus stays a regression test.
//!
//! Compiled for tests and with the `fuzzing` feature only: the agent's addon never
//! contains it.

use crate::dsp::SampleError;
use crate::ecg::{EcgAnalyzer, EcgConfig, EcgStatus};
use crate::news2::{self, Consciousness, News2Input, Parameter, RiskLevel, Spo2Scale};
use crate::numerics::{NumericsConfig, NumericsFilter};
use crate::ppg::{PpgAnalyzer, PpgConfig, Spo2Calibration};
use crate::qrs::Mains;
use crate::resp::{self, RespAnalyzer, RespConfig, RespEstimate, RespSource};

/// A broken invariant: which one, in words (never the values that broke it).
pub type Violation = String;

/// One fuzz target: its name (the folder of its corpus) and its check.
pub type Target = (&'static str, fn(&[u8]) -> Result<(), Violation>);

/// Every target, by name: the cargo-fuzz targets of `native/fuzz/` are these.
pub const TARGETS: [Target; 5] = [
    ("news2_score", news2_score),
    ("ecg_qrs", ecg_qrs),
    ("ppg", ppg),
    ("resp", resp),
    ("numerics", numerics),
];

/// Most samples one input drives through a signal processor (16 s at 125 Hz, past every
/// learning period at the low rates): bounds the cost of one input, so that 10 million
/// inputs take minutes, not days.
pub const MAX_SAMPLES: usize = 2048;
/// Most batches one input is cut into (each batch ends with the costlier report of the
/// processor's state); a stream of up to this many samples may still come one per batch.
pub const MAX_BATCHES: usize = 32;

/// Reads the fuzz bytes as a little stream of numbers; past the end every read is 0.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        for b in &mut bytes {
            *b = self.u8();
        }
        u64::from_le_bytes(bytes)
    }

    /// The bytes not read yet.
    fn rest(&self) -> &'a [u8] {
        self.data.get(self.at..).unwrap_or(&[])
    }
}

/// A number for a configuration field or a score input: usually a plausible one, sometimes
/// any bit pattern (NaN, infinities, negatives, subnormals), so that both the accepting
/// and the rejecting paths are reached.
fn number(r: &mut Reader<'_>, plausible_max: f64) -> f64 {
    match r.u8() % 8 {
        0 => f64::from_bits(r.u64()),
        1 => -(f64::from(r.u16()) / 100.0),
        2 => [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, f64::MIN_POSITIVE][usize::from(r.u8() % 6)],
        _ => f64::from(r.u16()) / f64::from(u16::MAX) * plausible_max * 1.2,
    }
}

fn check(ok: bool, what: &str) -> Result<(), Violation> {
    if ok { Ok(()) } else { Err(what.to_owned()) }
}

fn unit_interval(v: f64) -> bool {
    v.is_finite() && (0.0..=1.0).contains(&v)
}

/// Samples of one channel: 16-bit little-endian integers scaled by a power of two chosen
/// by the input (from 2^-20 to 2^3 per step), played `repeats` times (a short input
/// reaches past the learning periods), at most [`MAX_SAMPLES`]; with `poison` set, one
/// sample is replaced by NaN or an infinity.
struct Stream {
    samples: Vec<f32>,
    /// Index of the first non-finite sample, if any.
    poisoned: Option<usize>,
    /// Samples per batch.
    batch: usize,
}

fn stream(r: &mut Reader<'_>, channels: usize) -> Vec<Stream> {
    let scale = 2f32.powi(i32::from(r.u8() % 24) - 20);
    let repeats = 1 + usize::from(r.u8() % 16);
    let batch = 1 + usize::from(r.u8()) * 8;
    let poison = r.u8();
    let poison_at = usize::from(r.u16());
    let raw: Vec<i16> = r.rest().chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
    let per_channel = raw.len() / channels;
    (0..channels)
        .map(|ch| {
            let one: Vec<f32> = raw.iter().skip(ch).step_by(channels).take(per_channel).map(|&v| f32::from(v) * scale).collect();
            let mut samples: Vec<f32> = one.iter().copied().cycle().take((one.len() * repeats).min(MAX_SAMPLES)).collect();
            let mut poisoned = None;
            // One channel at most is poisoned (bit 7), chosen by bits 0-1.
            if poison & 0x80 != 0 && usize::from(poison & 0x03) % channels == ch && !samples.is_empty() {
                let at = poison_at % samples.len();
                samples[at] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][usize::from(poison >> 2) % 3];
                poisoned = Some(at);
            }
            let batch = batch.max(samples.len().div_ceil(MAX_BATCHES));
            Stream { samples, poisoned, batch }
        })
        .collect()
}

/// The documented rejection of a batch with a non-finite sample: the field, the rule and
/// the index of the first bad sample in the batch.
fn check_rejection(e: &SampleError, field: &str, batch: &[f32]) -> Result<(), Violation> {
    check(e.field == field, "a rejected batch names the channel")?;
    let first = batch.iter().position(|x| !x.is_finite());
    check(first == Some(e.index), "a rejected batch names its first non-finite sample")
}

/// NEWS2 scoring (`news2::score`, `news2::score_batch`): an input is rejected exactly when a
/// given value is impossible (not finite, negative, or beyond its plausibility limit), naming
/// the first such field in validation order; a score has every parameter's points in its
/// Chart 1 range, the total is their sum (at most 20), `missing` lists exactly the
/// parameters not given, and the risk level follows Chart 3.
pub fn news2_score(data: &[u8]) -> Result<(), Violation> {
    let mut r = Reader::new(data);
    let mut inputs = Vec::new();
    while r.rest().len() > 1 && inputs.len() < 16 {
        let present = r.u8();
        let field = |bit: u8, max: f64, r: &mut Reader<'_>| (present & (1 << bit) != 0).then(|| number(r, max));
        let resp_rate_per_min = field(0, 150.0, &mut r);
        let spo2_percent = field(1, 100.0, &mut r);
        let systolic_mm_hg = field(2, 400.0, &mut r);
        let pulse_bpm = field(3, 350.0, &mut r);
        let temp_celsius = field(4, 45.0, &mut r);
        let flags = r.u8();
        let on_oxygen = (present & 0x20 != 0).then_some(flags & 1 != 0);
        let consciousness = if present & 0x40 != 0 {
            let code = char::from(r.u8()).to_string();
            let level = Consciousness::from_code(&code);
            check(level.is_some() == ["A", "C", "V", "P", "U"].contains(&code.as_str()), "only the five ACVPU codes are read")?;
            if let Some(l) = level {
                check(l.code() == code, "an ACVPU code reads back as itself")?;
            }
            level
        } else {
            None
        };
        let spo2_scale = if present & 0x80 != 0 { Spo2Scale::Scale2 } else { Spo2Scale::Scale1 };
        inputs.push(News2Input { spo2_scale, resp_rate_per_min, spo2_percent, on_oxygen, systolic_mm_hg, pulse_bpm, consciousness, temp_celsius });
    }
    let batch = news2::score_batch(&inputs);
    check(batch.len() == inputs.len(), "score_batch gives one result per input")?;
    for (input, batched) in inputs.iter().zip(&batch) {
        let single = news2::score(input);
        check(&single == batched, "score_batch scores each input as score does")?;
        let impossible = |v: Option<f64>, min: f64, max: f64| v.is_some_and(|v| !(v.is_finite() && v >= 0.0 && v >= min && v <= max));
        let expected_error = [
            (Parameter::RespRate, impossible(input.resp_rate_per_min, 0.0, 150.0)),
            (Parameter::Spo2, impossible(input.spo2_percent, 0.0, 100.0)),
            (Parameter::Systolic, impossible(input.systolic_mm_hg, 0.0, 400.0)),
            (Parameter::Pulse, impossible(input.pulse_bpm, 0.0, 350.0)),
            (Parameter::Temperature, impossible(input.temp_celsius, 25.0, 45.0)),
        ]
        .into_iter()
        .find(|(_, bad)| *bad)
        .map(|(p, _)| p);
        match single {
            Err(e) => {
                check(expected_error == Some(e.field), "an input is rejected for its first impossible value, named")?;
                check(!e.rule.is_empty(), "a rejection names its rule")?;
            }
            Ok(s) => {
                check(expected_error.is_none(), "an impossible value is never scored")?;
                let p = s.points;
                let in_range = |v: Option<u8>, allowed: &[u8]| v.is_none_or(|v| allowed.contains(&v));
                check(
                    in_range(p.resp_rate_per_min, &[0, 1, 2, 3])
                        && in_range(p.spo2_percent, &[0, 1, 2, 3])
                        && in_range(p.on_oxygen, &[0, 2])
                        && in_range(p.systolic_mm_hg, &[0, 1, 2, 3])
                        && in_range(p.pulse_bpm, &[0, 1, 2, 3])
                        && in_range(p.consciousness, &[0, 3])
                        && in_range(p.temp_celsius, &[0, 1, 2, 3]),
                    "every parameter's points are in its Chart 1 range",
                )?;
                let sum: u32 = p.known().map(u32::from).sum();
                check(u32::from(s.total) == sum && s.total <= 20, "the total is the sum of the known points, at most 20")?;
                let given = [
                    input.resp_rate_per_min.is_some(),
                    input.spo2_percent.is_some(),
                    input.on_oxygen.is_some(),
                    input.systolic_mm_hg.is_some(),
                    input.pulse_bpm.is_some(),
                    input.consciousness.is_some(),
                    input.temp_celsius.is_some(),
                ];
                let missing: Vec<Parameter> = Parameter::ALL.into_iter().zip(given).filter(|(_, g)| !g).map(|(p, _)| p).collect();
                check(s.missing == missing, "missing lists exactly the parameters not given, in chart order")?;
                check(s.complete == missing.is_empty(), "complete means nothing is missing")?;
                let any_three = p.known().any(|v| v == 3);
                let risk = if s.total >= 7 {
                    RiskLevel::High
                } else if s.total >= 5 {
                    RiskLevel::Medium
                } else if any_three {
                    RiskLevel::LowMedium
                } else {
                    RiskLevel::Low
                };
                check(s.risk_level == risk, "the risk level follows Chart 3")?;
            }
        }
    }
    Ok(())
}

/// ECG (`ecg::EcgAnalyzer`, the QRS detector under it): a configuration is refused exactly
/// when a parameter is outside its documented range; a batch with a non-finite sample is
/// rejected whole, naming its first bad sample, with no state change; otherwise the beats
/// are increasing across the whole stream and lie inside the input seen, no later than the
/// documented detection delay, the beats do not depend on how the stream is cut into
/// batches, the SQI is in 0..=1 (0 with the leads off), and a heart rate is given only with
/// status `ok`, within the rate rule's limits (20 to 300 /min).
pub fn ecg_qrs(data: &[u8]) -> Result<(), Violation> {
    let mut r = Reader::new(data);
    let rate_byte = r.u8();
    let sample_rate_hz = if rate_byte < 240 { 125.0 + f64::from(rate_byte) * (875.0 / 239.0) } else { number(&mut r, 1200.0) };
    let mains = [Mains::None, Mains::Hz50, Mains::Hz60, Mains::Both][usize::from(r.u8() % 4)];
    let options = r.u8();
    let mut config = EcgConfig::new(sample_rate_hz);
    config.qrs.mains = mains;
    if options & 1 != 0 {
        config.qrs.min_qrs_amplitude = number(&mut r, 1.0);
    }
    if options & 2 != 0 {
        config.qrs.flat_amplitude = number(&mut r, 1.0);
    }
    if options & 4 != 0 {
        config.min_sqi = number(&mut r, 1.0);
    }
    let valid = sample_rate_hz.is_finite()
        && (125.0..=1000.0).contains(&sample_rate_hz)
        && config.qrs.min_qrs_amplitude.is_finite()
        && config.qrs.min_qrs_amplitude >= 0.0
        && config.qrs.flat_amplitude.is_finite()
        && config.qrs.flat_amplitude >= 0.0
        && unit_interval(config.min_sqi);
    let analyzer = EcgAnalyzer::new(config);
    check(analyzer.is_ok() == valid, "an ECG configuration is refused exactly when a parameter is out of range")?;
    let Ok(mut analyzer) = analyzer else { return Ok(()) };
    let max_delay = analyzer.detector().max_delay_samples();
    let [s] = <[Stream; 1]>::try_from(stream(&mut r, 1)).map_err(|_| "one channel".to_owned())?;
    let mut beats: Vec<u64> = Vec::new();
    for batch in s.samples.chunks(s.batch) {
        let before = analyzer.detector().samples_seen();
        match analyzer.process(batch) {
            Err(e) => {
                check_rejection(&e, "samples", batch)?;
                check(analyzer.detector().samples_seen() == before, "a rejected ECG batch leaves the detector unchanged")?;
            }
            Ok(out) => {
                check(batch.iter().all(|x| x.is_finite()), "a batch with a non-finite sample is rejected")?;
                let now = analyzer.detector().samples_seen();
                check(now == before + batch.len() as u64, "every sample of an accepted batch is counted")?;
                for &b in &out.beats {
                    check(beats.last().is_none_or(|&last| b > last), "beats are increasing across batches")?;
                    check(b < now, "a beat lies inside the input seen")?;
                    check(b + max_delay >= before, "a beat is reported within the documented maximum delay")?;
                    beats.push(b);
                }
                check(unit_interval(out.sqi), "the ECG SQI is in 0..=1")?;
                check(out.status != EcgStatus::LeadsOff || out.sqi == 0.0, "the SQI is 0 with the leads off")?;
                match out.heart_rate_bpm {
                    Some(hr) => {
                        check(out.status == EcgStatus::Ok, "a heart rate is given only with status ok")?;
                        check(hr.is_finite() && (20.0 - 1e-9..=300.0 + 1e-9).contains(&hr), "a heart rate is within 20 to 300 /min")?;
                    }
                    None => check(out.status != EcgStatus::Ok, "status ok always carries a heart rate")?,
                }
            }
        }
    }
    // Batching: the same clean stream in one batch gives the same beats.
    if s.poisoned.is_none() && s.batch < s.samples.len() {
        let mut whole = EcgAnalyzer::new(config).map_err(|_| "the configuration was accepted once".to_owned())?;
        let one = whole.process(&s.samples).map_err(|_| "a clean stream is accepted".to_owned())?;
        check(one.beats == beats, "the ECG beats do not depend on the batch size")?;
    }
    Ok(())
}

/// PPG (`ppg::PpgAnalyzer`): a configuration is refused exactly when a parameter is out of
/// range; a batch with a non-finite sample, or a red channel of another length, is
/// rejected whole with no state change; otherwise the pulses are increasing across the
/// stream and inside the input seen and do not depend on the batch size, the SQI and the
/// respiration quality are in 0..=1, a pulse rate is within 20 to 240 /min (the pulse
/// interval limits, 0.25 to 3 s), an SpO2 is given only with a red channel and lies in 50..=100 %, and
/// the perfusion index is finite and not negative.
pub fn ppg(data: &[u8]) -> Result<(), Violation> {
    let mut r = Reader::new(data);
    let rate_byte = r.u8();
    let sample_rate_hz = if rate_byte < 240 { 25.0 + f64::from(rate_byte) * (975.0 / 239.0) } else { number(&mut r, 1200.0) };
    let options = r.u8();
    let mut config = PpgConfig::new(sample_rate_hz);
    config.inverted = options & 1 != 0;
    if options & 2 != 0 {
        config.calibration = Spo2Calibration { a: number(&mut r, 150.0), b: -number(&mut r, 50.0), c: number(&mut r, 10.0) };
    }
    if options & 4 != 0 {
        config.low_perfusion_percent = number(&mut r, 5.0);
    }
    let with_red = options & 8 != 0;
    let mismatched_red = options & 0x10 != 0;
    let c = config.calibration;
    let valid = sample_rate_hz.is_finite()
        && (25.0..=1000.0).contains(&sample_rate_hz)
        && c.a.is_finite()
        && c.b.is_finite()
        && c.c.is_finite()
        && config.low_perfusion_percent.is_finite()
        && config.low_perfusion_percent > 0.0;
    let analyzer = PpgAnalyzer::new(config);
    check(analyzer.is_ok() == valid, "a PPG configuration is refused exactly when a parameter is out of range")?;
    let Ok(mut analyzer) = analyzer else { return Ok(()) };
    let channels = stream(&mut r, if with_red { 2 } else { 1 });
    let ir = channels.first().ok_or_else(|| "one channel at least".to_owned())?;
    let red = channels.get(1);
    let mut pulses: Vec<u64> = Vec::new();
    let mut start = 0;
    while start < ir.samples.len() {
        let end = (start + ir.batch).min(ir.samples.len());
        let ir_batch = &ir.samples[start..end];
        // A red batch one sample short, when asked for: rejected whole.
        let red_end = if mismatched_red { end.saturating_sub(1).max(start) } else { end };
        let red_batch = red.map(|s| s.samples.get(start..red_end).unwrap_or(&[]));
        let before = analyzer.samples_seen();
        let result = analyzer.process(ir_batch, red_batch);
        let ir_bad = ir_batch.iter().any(|x| !x.is_finite());
        let red_bad = red_batch.is_some_and(|b| b.iter().any(|x| !x.is_finite()));
        let red_short = red_batch.is_some_and(|b| b.len() != ir_batch.len());
        match result {
            Err(e) => {
                if ir_bad {
                    check_rejection(&e, "ir", ir_batch)?;
                } else if red_bad {
                    check_rejection(&e, "red", red_batch.unwrap_or(&[]))?;
                } else {
                    check(red_short && e.field == "red", "only a bad or short batch is rejected")?;
                }
                check(analyzer.samples_seen() == before, "a rejected PPG batch leaves the analyzer unchanged")?;
            }
            Ok(out) => {
                check(!(ir_bad || red_bad || red_short), "a bad or short PPG batch is rejected")?;
                let now = analyzer.samples_seen();
                check(now == before + ir_batch.len() as u64, "every sample of an accepted batch is counted")?;
                for &p in &out.pulses {
                    check(pulses.last().is_none_or(|&last| p > last), "pulses are increasing across batches")?;
                    check(p < now, "a pulse lies inside the input seen")?;
                    pulses.push(p);
                }
                check(unit_interval(out.sqi), "the PPG SQI is in 0..=1")?;
                check(unit_interval(out.resp.quality), "the PPG respiration quality is in 0..=1")?;
                check(out.resp.rate_per_min.is_none_or(|v| v.is_finite() && v > 0.0), "a PPG respiration rate is finite and positive")?;
                check(
                    out.pulse_rate_bpm.is_none_or(|v| v.is_finite() && (20.0 - 1e-9..=240.0 + 1e-9).contains(&v)),
                    "a pulse rate is within 20 to 240 /min",
                )?;
                check(out.spo2_percent.is_none() || red_batch.is_some(), "an SpO2 needs a red channel")?;
                check(out.spo2_percent.is_none_or(|v| v.is_finite() && (50.0..=100.0).contains(&v)), "an SpO2 lies in 50..=100 %")?;
                check(out.perfusion_index_percent.is_none_or(|v| v.is_finite() && v >= 0.0), "a perfusion index is finite, not negative")?;
            }
        }
        start = end;
    }
    let clean = ir.poisoned.is_none() && red.is_none_or(|s| s.poisoned.is_none()) && !mismatched_red;
    if clean && ir.batch < ir.samples.len() {
        let mut whole = PpgAnalyzer::new(config).map_err(|_| "the configuration was accepted once".to_owned())?;
        let one = whole.process(&ir.samples, red.map(|s| s.samples.as_slice())).map_err(|_| "a clean stream is accepted".to_owned())?;
        check(one.pulses == pulses, "the PPG pulses do not depend on the batch size")?;
    }
    Ok(())
}

/// Respiration (`resp::RespAnalyzer`, `resp::count_breaths`, `resp::fuse`): a sample rate
/// is refused exactly outside 4 to 1000 Hz; a batch with a non-finite sample is rejected
/// whole; an estimate's quality is in 0..=1 and a rate is given only at a quality of at
/// least `MIN_QUALITY`, finite and positive; the fusion reports one of its inputs' rates, from
/// the source it names, with a quality that is one of theirs.
pub fn resp(data: &[u8]) -> Result<(), Violation> {
    let mut r = Reader::new(data);
    // Fusion of two estimates as the agent gives them (quality already in 0..=1).
    let estimate = |r: &mut Reader<'_>| {
        let flags = r.u8();
        let rate = (flags & 1 != 0).then(|| f64::from(r.u16()) / 100.0);
        RespEstimate { rate_per_min: rate, quality: f64::from(r.u8()) / 255.0 }
    };
    let direct = estimate(&mut r);
    let from_ppg = estimate(&mut r);
    let fused = resp::fuse(direct, from_ppg);
    check(unit_interval(fused.quality), "a fused quality is in 0..=1")?;
    let expected_rate = match fused.source {
        RespSource::Direct => direct.rate_per_min,
        RespSource::Ppg => from_ppg.rate_per_min,
        RespSource::None => None,
    };
    check(fused.rate_per_min == expected_rate, "the fused rate is the rate of the source it names")?;
    check(fused.source == RespSource::None || fused.quality >= resp::MIN_QUALITY || fused.quality == direct.quality.min(from_ppg.quality), "a fused rate comes from a usable source")?;

    let rate_byte = r.u8();
    let sample_rate_hz = if rate_byte < 240 { 4.0 + f64::from(rate_byte) * (996.0 / 239.0) } else { number(&mut r, 1200.0) };
    let valid = sample_rate_hz.is_finite() && (4.0..=1000.0).contains(&sample_rate_hz);
    let analyzer = RespAnalyzer::new(RespConfig { sample_rate_hz });
    check(analyzer.is_ok() == valid, "a respiration sample rate is refused exactly outside 4 to 1000 Hz")?;
    let Ok(mut analyzer) = analyzer else { return Ok(()) };
    let [s] = <[Stream; 1]>::try_from(stream(&mut r, 1)).map_err(|_| "one channel".to_owned())?;
    let estimate_ok = |e: &RespEstimate| -> Result<(), Violation> {
        check(unit_interval(e.quality), "a respiration quality is in 0..=1")?;
        check(e.rate_per_min.is_none_or(|v| v.is_finite() && v > 0.0), "a respiration rate is finite and positive")?;
        check(e.rate_per_min.is_none() || e.quality >= resp::MIN_QUALITY, "a respiration rate is given only at a usable quality")
    };
    for batch in s.samples.chunks(s.batch) {
        match analyzer.process(batch) {
            Err(e) => check_rejection(&e, "samples", batch)?,
            Ok(e) => {
                check(batch.iter().all(|x| x.is_finite()), "a batch with a non-finite sample is rejected")?;
                estimate_ok(&e)?;
            }
        }
    }
    // The breath counter alone, on the raw series (finite values of any size).
    let series: Vec<f64> = s.samples.iter().filter(|x| x.is_finite()).map(|&x| f64::from(x)).take(256).collect();
    estimate_ok(&resp::count_breaths(&series))
}

/// Numerics (`numerics::NumericsFilter`): a configuration is refused exactly when a field
/// breaks its rule; a batch whose times are not finite or go back is rejected whole; otherwise
/// there is one output per reading, a reading is flagged rejected exactly when it is NaN or
/// outside the range, an accepted reading always gives a value, and every value is one of the
/// readings accepted so far (a median never invents a value), inside the range.
pub fn numerics(data: &[u8]) -> Result<(), Violation> {
    let mut r = Reader::new(data);
    let min = number(&mut r, 200.0);
    let max = if r.u8() & 1 == 0 { min + f64::from(r.u8()) } else { number(&mut r, 400.0) };
    let mut config = NumericsConfig::new(min, max);
    let options = r.u8();
    if options & 1 != 0 {
        config.window = usize::from(r.u8() % 40);
    }
    if options & 2 != 0 {
        config.max_age_s = number(&mut r, 30.0);
    }
    let valid = min.is_finite()
        && max.is_finite()
        && min < max
        && config.window % 2 == 1
        && config.window <= 31
        && config.max_age_s.is_finite()
        && config.max_age_s > 0.0;
    let filter = NumericsFilter::new(config);
    check(filter.is_ok() == valid, "a numerics configuration is refused exactly when a field breaks its rule")?;
    let Ok(mut filter) = filter else { return Ok(()) };
    let mut accepted: Vec<f64> = Vec::new();
    let mut time_s = 0.0f64;
    let mut last_accepted_time: Option<f64> = None;
    while r.rest().len() >= 3 {
        let n = 1 + usize::from(r.u8() % 16);
        let mut times = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(n);
        let mut t = time_s;
        for _ in 0..n {
            let kind = r.u8();
            t = match kind % 32 {
                0 => t - 1.0,
                1 => f64::NAN,
                _ => t + f64::from(kind >> 5) * 0.5,
            };
            times.push(t);
            let raw = r.u16();
            values.push(if raw == u16::MAX { f64::NAN } else { min + (f64::from(raw) / 1000.0 - 5.0) });
        }
        let bad_times = times.iter().scan(last_accepted_time, |prev, &t| {
            let bad = !t.is_finite() || prev.is_some_and(|p| t < p);
            *prev = Some(t);
            Some(bad)
        });
        let expect_reject = bad_times.into_iter().any(|b| b);
        match filter.process(&times, &values) {
            Err(e) => {
                check(expect_reject, "only a batch whose times are not finite or go back is rejected")?;
                check(e.field == "timesS", "a rejected batch names timesS")?;
            }
            Ok(out) => {
                check(!expect_reject, "a batch whose times go back or are not finite is rejected")?;
                check(out.len() == values.len(), "one output per reading")?;
                for (o, &v) in out.iter().zip(&values) {
                    let in_range = v.is_finite() && (min..=max).contains(&v);
                    check(o.rejected != in_range, "a reading is rejected exactly when it is NaN or out of range")?;
                    if in_range {
                        accepted.push(v);
                        check(o.value.is_some(), "an accepted reading always gives a value")?;
                    }
                    if let Some(value) = o.value {
                        check((min..=max).contains(&value), "a filtered value is inside the range")?;
                        check(accepted.contains(&value), "a filtered value is one of the accepted readings")?;
                    }
                }
                last_accepted_time = times.last().copied().or(last_accepted_time);
                time_s = times.last().copied().unwrap_or(time_s);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod corpus {
    use super::*;
    use std::path::PathBuf;

    /// The committed corpus of a target: `native/fuzz/corpus/<target>/`.
    fn corpus_dir(target: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz").join("corpus").join(target)
    }

    /// A seeded xorshift64* stream, for the generated inputs (the seed is printed on failure).
    fn generated(seed: u64, count: usize) -> Vec<Vec<u8>> {
        let mut x = seed;
        let mut next = move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        (0..count).map(|_| (0..(next() % 512) as usize).map(|_| next() as u8).collect()).collect()
    }

    #[test]
    fn the_committed_corpus_and_seeded_inputs_keep_every_invariant() {
        const SEED: u64 = 20_261_207;
        for (name, target) in TARGETS {
            let dir = corpus_dir(name);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
                .map(|entry| entry.map(|e| e.path()).unwrap_or_default())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            assert!(!files.is_empty(), "the corpus of {name} is committed and not empty");
            for file in &files {
                let bytes = std::fs::read(file).unwrap_or_default();
                if let Err(v) = target(&bytes) {
                    panic!("{name}: {} breaks: {v}", file.display());
                }
            }
            for (i, bytes) in generated(SEED ^ name.len() as u64, 200).iter().enumerate() {
                if let Err(v) = target(bytes) {
                    panic!("{name}: generated input {i} (seed {SEED}) breaks: {v}");
                }
            }
        }
    }
}
