//! NEWS2, the National Early Warning Score 2.
//!
//! Source of truth: Royal College of Physicians, *National Early Warning Score (NEWS) 2:
//! Standardising the assessment of acute-illness severity in the NHS*, updated report of a
//! working party, London: RCP, 2017. Chart 1 ("The NEWS scoring system") gives the points of
//! each physiological parameter; Chart 3 ("NEWS thresholds and triggers") gives the risk
//! levels. Each table below cites the row of Chart 1 it implements.
//!
//! Policy (also in `docs/news2.md`):
//! - Values are rounded half up to the chart's resolution before banding (see
//!   [`round_half_up`]); the range checks apply to the value as received.
//! - A missing parameter is not zero: the score is marked incomplete, the missing parameters
//!   are listed in chart order, and the risk level is the one the known points already imply.
//! - Impossible values are rejected with an [`InputError`] naming the field and the rule; the
//!   value itself is never echoed (it is patient data).

use std::fmt;

/// Rule broken by a NaN or infinite value.
pub const RULE_FINITE: &str = "must be a finite number";
/// Rule broken by a value below zero.
pub const RULE_NOT_NEGATIVE: &str = "must not be negative";
/// Rule broken by an SpO2 over 100 %.
pub const RULE_SPO2_MAX: &str = "must be at most 100";
/// Rule broken by a temperature outside 25.0..=45.0 Celsius.
pub const RULE_TEMP_RANGE: &str = "must be between 25 and 45 Celsius";
/// Rule broken by a respiration rate over 150 /min.
pub const RULE_RESP_RATE_MAX: &str = "must be at most 150";
/// Rule broken by a pulse over 350 /min.
pub const RULE_PULSE_MAX: &str = "must be at most 350";
/// Rule broken by a systolic blood pressure over 400 mmHg.
pub const RULE_SYSTOLIC_MAX: &str = "must be at most 400";

/// Which SpO2 scoring scale applies to the patient (Chart 1, "SpO2 Scale 1" / "SpO2 Scale 2").
///
/// Scale 2 is for patients with a prescribed target saturation of 88-92 % (e.g. hypercapnic
/// respiratory failure). It is a clinical decision recorded per patient, so it is
/// configuration, never inferred from readings; the default is Scale 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Spo2Scale {
    /// SpO2 Scale 1, the default.
    #[default]
    Scale1,
    /// SpO2 Scale 2, used only when set for this patient.
    Scale2,
}

impl Spo2Scale {
    /// The scale from its chart number (1 or 2), `None` for any other number.
    pub fn from_number(number: u32) -> Option<Self> {
        match number {
            1 => Some(Self::Scale1),
            2 => Some(Self::Scale2),
            _ => None,
        }
    }
}

/// Level of consciousness on the ACVPU scale (Chart 1, row "Consciousness").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consciousness {
    /// A: alert.
    Alert,
    /// C: new confusion.
    NewConfusion,
    /// V: responds to voice.
    Voice,
    /// P: responds to pain.
    Pain,
    /// U: unresponsive.
    Unresponsive,
}

impl Consciousness {
    /// The level from its one-letter ACVPU code (`"A"`, `"C"`, `"V"`, `"P"`, `"U"`), `None` otherwise.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "A" => Some(Self::Alert),
            "C" => Some(Self::NewConfusion),
            "V" => Some(Self::Voice),
            "P" => Some(Self::Pain),
            "U" => Some(Self::Unresponsive),
            _ => None,
        }
    }

    /// The one-letter ACVPU code of this level.
    pub fn code(self) -> &'static str {
        match self {
            Self::Alert => "A",
            Self::NewConfusion => "C",
            Self::Voice => "V",
            Self::Pain => "P",
            Self::Unresponsive => "U",
        }
    }
}

/// One physiological parameter of Chart 1, in chart order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Parameter {
    /// Respiration rate, per minute.
    RespRate,
    /// SpO2, percent (scored on scale 1 or 2).
    Spo2,
    /// Air or oxygen.
    OnOxygen,
    /// Systolic blood pressure, mmHg.
    Systolic,
    /// Pulse, per minute.
    Pulse,
    /// Consciousness (ACVPU).
    Consciousness,
    /// Temperature, degrees Celsius.
    Temperature,
}

impl Parameter {
    /// Every parameter, in the order of the rows of Chart 1.
    pub const ALL: [Parameter; 7] = [
        Parameter::RespRate,
        Parameter::Spo2,
        Parameter::OnOxygen,
        Parameter::Systolic,
        Parameter::Pulse,
        Parameter::Consciousness,
        Parameter::Temperature,
    ];

    /// The field name used in JSON (and by the agent), with its unit.
    pub fn name(self) -> &'static str {
        match self {
            Self::RespRate => "respRatePerMin",
            Self::Spo2 => "spo2Percent",
            Self::OnOxygen => "onOxygen",
            Self::Systolic => "systolicMmHg",
            Self::Pulse => "pulseBpm",
            Self::Consciousness => "consciousness",
            Self::Temperature => "tempCelsius",
        }
    }
}

impl fmt::Display for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Clinical risk level (RCP NEWS2 2017, Chart 3 "NEWS thresholds and triggers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RiskLevel {
    /// Aggregate score 0-4 with no single parameter scoring 3.
    Low,
    /// A score of 3 in any single parameter, aggregate 4 or less.
    LowMedium,
    /// Aggregate score 5-6.
    Medium,
    /// Aggregate score 7 or more.
    High,
}

impl RiskLevel {
    /// The name used in JSON: `"low"`, `"low-medium"`, `"medium"` or `"high"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::LowMedium => "low-medium",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One observation set to score. `None` means "not measured", never zero.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct News2Input {
    /// Patient configuration: which SpO2 scale applies (default Scale 1).
    pub spo2_scale: Spo2Scale,
    /// Respiration rate, breaths per minute.
    pub resp_rate_per_min: Option<f64>,
    /// Peripheral oxygen saturation, percent.
    pub spo2_percent: Option<f64>,
    /// `true` when on supplemental oxygen, `false` on air.
    pub on_oxygen: Option<bool>,
    /// Systolic blood pressure, mmHg.
    pub systolic_mm_hg: Option<f64>,
    /// Pulse, beats per minute.
    pub pulse_bpm: Option<f64>,
    /// Level of consciousness.
    pub consciousness: Option<Consciousness>,
    /// Temperature, degrees Celsius.
    pub temp_celsius: Option<f64>,
}

/// Points of each parameter; `None` for a parameter that was not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct News2Points {
    /// Respiration rate points (0-3).
    pub resp_rate_per_min: Option<u8>,
    /// SpO2 points (0-3), on the patient's scale.
    pub spo2_percent: Option<u8>,
    /// Air (0) or oxygen (2) points.
    pub on_oxygen: Option<u8>,
    /// Systolic blood pressure points (0-3).
    pub systolic_mm_hg: Option<u8>,
    /// Pulse points (0-3).
    pub pulse_bpm: Option<u8>,
    /// Consciousness points (0 or 3).
    pub consciousness: Option<u8>,
    /// Temperature points (0-3).
    pub temp_celsius: Option<u8>,
}

impl News2Points {
    /// The points of one parameter, `None` when it was not given.
    pub fn get(&self, parameter: Parameter) -> Option<u8> {
        match parameter {
            Parameter::RespRate => self.resp_rate_per_min,
            Parameter::Spo2 => self.spo2_percent,
            Parameter::OnOxygen => self.on_oxygen,
            Parameter::Systolic => self.systolic_mm_hg,
            Parameter::Pulse => self.pulse_bpm,
            Parameter::Consciousness => self.consciousness,
            Parameter::Temperature => self.temp_celsius,
        }
    }

    /// The known points, in chart order.
    pub fn known(&self) -> impl Iterator<Item = u8> + '_ {
        Parameter::ALL.into_iter().filter_map(|p| self.get(p))
    }
}

/// The result of scoring one observation set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct News2Score {
    /// Sum of the known points.
    pub total: u8,
    /// Points per parameter.
    pub points: News2Points,
    /// Risk level implied by the known points: when incomplete, the lowest level the full
    /// score can have (a missing parameter can only add points).
    pub risk_level: RiskLevel,
    /// `true` when every parameter was given.
    pub complete: bool,
    /// The parameters that were not given, in chart order.
    pub missing: Vec<Parameter>,
}

/// An impossible input: which field, and which rule it broke. Never carries the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputError {
    /// The offending field.
    pub field: Parameter,
    /// The rule it broke, one of the `RULE_*` constants (stable strings).
    pub rule: &'static str,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field.name(), self.rule)
    }
}

impl std::error::Error for InputError {}

/// Scores one observation set.
///
/// Every given value is validated first (in chart order; the first impossible value is
/// reported), then rounded and banded.
pub fn score(input: &News2Input) -> Result<News2Score, InputError> {
    let resp = validated(
        Parameter::RespRate,
        input.resp_rate_per_min,
        &RESP_RATE_LIMITS,
    )?;
    let spo2 = validated(Parameter::Spo2, input.spo2_percent, &SPO2_LIMITS)?;
    let systolic = validated(Parameter::Systolic, input.systolic_mm_hg, &SYSTOLIC_LIMITS)?;
    let pulse = validated(Parameter::Pulse, input.pulse_bpm, &PULSE_LIMITS)?;
    let temp = validated(Parameter::Temperature, input.temp_celsius, &TEMP_LIMITS)?;

    let spo2_table = match (input.spo2_scale, input.on_oxygen) {
        (Spo2Scale::Scale1, _) => &SPO2_SCALE_1,
        (Spo2Scale::Scale2, Some(true)) => &SPO2_SCALE_2_ON_OXYGEN,
        // Unknown air/oxygen on scale 2: score as on air, the lowest points SpO2 can have;
        // `onOxygen` is still listed as missing.
        (Spo2Scale::Scale2, Some(false) | None) => &SPO2_SCALE_2_ON_AIR,
    };

    let points = News2Points {
        resp_rate_per_min: resp.map(|v| RESP_RATE.points(round_half_up(v, 1.0))),
        spo2_percent: spo2.map(|v| spo2_table.points(round_half_up(v, 1.0))),
        on_oxygen: input.on_oxygen.map(air_or_oxygen_points),
        systolic_mm_hg: systolic.map(|v| SYSTOLIC.points(round_half_up(v, 1.0))),
        pulse_bpm: pulse.map(|v| PULSE.points(round_half_up(v, 1.0))),
        consciousness: input.consciousness.map(consciousness_points),
        temp_celsius: temp.map(|v| TEMP_TENTHS.points(round_half_up(v, 10.0))),
    };

    let missing: Vec<Parameter> = Parameter::ALL
        .into_iter()
        .filter(|p| points.get(*p).is_none())
        .collect();
    let total = points.known().sum();
    Ok(News2Score {
        total,
        points,
        risk_level: risk_level(&points),
        complete: missing.is_empty(),
        missing,
    })
}

/// Scores each observation set independently: one result per input, in input order.
pub fn score_batch(inputs: &[News2Input]) -> Vec<Result<News2Score, InputError>> {
    inputs.iter().map(score).collect()
}

/// Risk level of the known points (RCP NEWS2 2017, Chart 3):
/// aggregate 7 or more: high; 5-6: medium; a 3 in any single parameter (aggregate 4 or
/// less): low-medium; otherwise low.
///
/// Applied to an incomplete score, this is the lowest level the complete score can have,
/// because a missing parameter can only add points.
pub fn risk_level(points: &News2Points) -> RiskLevel {
    let total: u8 = points.known().sum();
    if total >= 7 {
        RiskLevel::High
    } else if total >= 5 {
        RiskLevel::Medium
    } else if points.known().any(|p| p >= 3) {
        RiskLevel::LowMedium
    } else {
        RiskLevel::Low
    }
}

/// Added before `floor` in [`round_half_up`] so that a value meant to sit exactly on a half
/// step, but stored just below it by binary floating point, still rounds up: `36.05 * 10.0`
/// is `360.49999999999994` in `f64`. The scaled values here are at most 4 500, where the
/// representation error is below 1e-12, so 1e-9 absorbs it while staying far below the
/// chart's resolution (a value would have to be within 1e-9 of a half step to be affected).
pub const ROUNDING_EPSILON: f64 = 1e-9;

/// Rounds a validated (finite, non-negative, bounded) value to the chart's resolution,
/// half up, and returns it as a whole number of steps.
///
/// Chart 1 lists whole numbers (temperature: tenths of a degree), leaving gaps between
/// bands (e.g. respiration 8 | 9, temperature 35.0 | 35.1). A value in a gap is rounded half
/// up to the chart's resolution before banding: respiration 8.5 -> 9, systolic 90.5 -> 91,
/// temperature 35.05 -> 35.1. `steps_per_unit` is 1 for whole-number rows and 10 for
/// temperature (which is then banded in tenths of a degree). Values are never negative
/// here, so half up and half away from zero agree. See [`ROUNDING_EPSILON`] for the
/// binary floating-point correction.
pub fn round_half_up(value: f64, steps_per_unit: f64) -> u32 {
    // Validation bounds the value to [0, 450] scaled steps, so the cast is exact.
    (value * steps_per_unit + 0.5 + ROUNDING_EPSILON).floor() as u32
}

/// Range checks of one parameter, applied to the value as received (before rounding).
struct Limits {
    min: f64,
    max: f64,
    /// Rule reported when the value is outside `min..=max` (and not negative).
    rule: &'static str,
}

// Plausibility limits: values beyond them cannot come from a living adult patient and are
// treated as device or entry faults, not scored.
const RESP_RATE_LIMITS: Limits = Limits {
    min: 0.0,
    max: 150.0,
    rule: RULE_RESP_RATE_MAX,
};
const SPO2_LIMITS: Limits = Limits {
    min: 0.0,
    max: 100.0,
    rule: RULE_SPO2_MAX,
};
const SYSTOLIC_LIMITS: Limits = Limits {
    min: 0.0,
    max: 400.0,
    rule: RULE_SYSTOLIC_MAX,
};
const PULSE_LIMITS: Limits = Limits {
    min: 0.0,
    max: 350.0,
    rule: RULE_PULSE_MAX,
};
const TEMP_LIMITS: Limits = Limits {
    min: 25.0,
    max: 45.0,
    rule: RULE_TEMP_RANGE,
};

fn validated(
    field: Parameter,
    value: Option<f64>,
    limits: &Limits,
) -> Result<Option<f64>, InputError> {
    let Some(v) = value else { return Ok(None) };
    let rule = if !v.is_finite() {
        RULE_FINITE
    } else if v < 0.0 {
        RULE_NOT_NEGATIVE
    } else if v < limits.min || v > limits.max {
        limits.rule
    } else {
        return Ok(Some(v));
    };
    Err(InputError { field, rule })
}

/// One band of a Chart 1 row: values up to `max` (inclusive, in chart resolution steps)
/// score `points`.
struct Band {
    max: u32,
    points: u8,
}

/// A Chart 1 row: bands in ascending order, then the open-ended top band.
struct BandTable {
    bands: &'static [Band],
    /// Points of every value above the last band's `max`.
    above: u8,
}

impl BandTable {
    fn points(&self, steps: u32) -> u8 {
        self.bands
            .iter()
            .find(|band| steps <= band.max)
            .map_or(self.above, |band| band.points)
    }
}

const fn band(max: u32, points: u8) -> Band {
    Band { max, points }
}

/// Chart 1, row "Respiration rate (per minute)":
/// <=8: 3 | 9-11: 1 | 12-20: 0 | 21-24: 2 | >=25: 3.
const RESP_RATE: BandTable = BandTable {
    bands: &[band(8, 3), band(11, 1), band(20, 0), band(24, 2)],
    above: 3,
};

/// Chart 1, row "SpO2 Scale 1 (%)":
/// <=91: 3 | 92-93: 2 | 94-95: 1 | >=96: 0.
const SPO2_SCALE_1: BandTable = BandTable {
    bands: &[band(91, 3), band(93, 2), band(95, 1)],
    above: 0,
};

/// Chart 1, row "SpO2 Scale 2 (%)", patient on air:
/// <=83: 3 | 84-85: 2 | 86-87: 1 | 88-92 and >=93 on air: 0.
const SPO2_SCALE_2_ON_AIR: BandTable = BandTable {
    bands: &[band(83, 3), band(85, 2), band(87, 1)],
    above: 0,
};

/// Chart 1, row "SpO2 Scale 2 (%)", patient on oxygen:
/// <=83: 3 | 84-85: 2 | 86-87: 1 | 88-92: 0 | 93-94 on oxygen: 1 | 95-96 on oxygen: 2 |
/// >=97 on oxygen: 3.
const SPO2_SCALE_2_ON_OXYGEN: BandTable = BandTable {
    bands: &[
        band(83, 3),
        band(85, 2),
        band(87, 1),
        band(92, 0),
        band(94, 1),
        band(96, 2),
    ],
    above: 3,
};

/// Chart 1, row "Air or oxygen?": oxygen: 2 | air: 0.
fn air_or_oxygen_points(on_oxygen: bool) -> u8 {
    if on_oxygen { 2 } else { 0 }
}

/// Chart 1, row "Systolic blood pressure (mmHg)":
/// <=90: 3 | 91-100: 2 | 101-110: 1 | 111-219: 0 | >=220: 3.
const SYSTOLIC: BandTable = BandTable {
    bands: &[band(90, 3), band(100, 2), band(110, 1), band(219, 0)],
    above: 3,
};

/// Chart 1, row "Pulse (per minute)":
/// <=40: 3 | 41-50: 1 | 51-90: 0 | 91-110: 1 | 111-130: 2 | >=131: 3.
const PULSE: BandTable = BandTable {
    bands: &[
        band(40, 3),
        band(50, 1),
        band(90, 0),
        band(110, 1),
        band(130, 2),
    ],
    above: 3,
};

/// Chart 1, row "Consciousness": Alert: 0 | new Confusion, Voice, Pain, Unresponsive: 3.
fn consciousness_points(level: Consciousness) -> u8 {
    match level {
        Consciousness::Alert => 0,
        Consciousness::NewConfusion
        | Consciousness::Voice
        | Consciousness::Pain
        | Consciousness::Unresponsive => 3,
    }
}

/// Chart 1, row "Temperature (°C)", in tenths of a degree:
/// <=35.0: 3 | 35.1-36.0: 1 | 36.1-38.0: 0 | 38.1-39.0: 1 | >=39.1: 2.
const TEMP_TENTHS: BandTable = BandTable {
    bands: &[band(350, 3), band(360, 1), band(380, 0), band(390, 1)],
    above: 2,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores `input` and returns the points of `parameter`, failing the test on a rejection.
    fn points_of(input: News2Input, parameter: Parameter) -> Option<u8> {
        match score(&input) {
            Ok(s) => s.points.get(parameter),
            Err(e) => panic!("unexpected rejection: {e}"),
        }
    }

    fn check_bands(parameter: Parameter, make: impl Fn(f64) -> News2Input, cases: &[(f64, u8)]) {
        for &(value, expected) in cases {
            assert_eq!(
                points_of(make(value), parameter),
                Some(expected),
                "{} = {value}",
                parameter.name()
            );
        }
    }

    /// Builds an input with one value set.
    type MakeInput = fn(f64) -> News2Input;

    fn resp(v: f64) -> News2Input {
        News2Input {
            resp_rate_per_min: Some(v),
            ..Default::default()
        }
    }
    fn spo2(scale: Spo2Scale, on_oxygen: Option<bool>, v: f64) -> News2Input {
        News2Input {
            spo2_scale: scale,
            on_oxygen,
            spo2_percent: Some(v),
            ..Default::default()
        }
    }
    fn systolic(v: f64) -> News2Input {
        News2Input {
            systolic_mm_hg: Some(v),
            ..Default::default()
        }
    }
    fn pulse(v: f64) -> News2Input {
        News2Input {
            pulse_bpm: Some(v),
            ..Default::default()
        }
    }
    fn temp(v: f64) -> News2Input {
        News2Input {
            temp_celsius: Some(v),
            ..Default::default()
        }
    }

    /// A complete, all-zero observation set, to change one field at a time.
    fn normal() -> News2Input {
        News2Input {
            spo2_scale: Spo2Scale::Scale1,
            resp_rate_per_min: Some(16.0),
            spo2_percent: Some(97.0),
            on_oxygen: Some(false),
            systolic_mm_hg: Some(120.0),
            pulse_bpm: Some(70.0),
            consciousness: Some(Consciousness::Alert),
            temp_celsius: Some(37.0),
        }
    }

    #[test]
    fn req_news2_001_resp_rate_band_edges() {
        check_bands(
            Parameter::RespRate,
            resp,
            &[
                (0.0, 3),
                (8.0, 3),
                (9.0, 1),
                (11.0, 1),
                (12.0, 0),
                (20.0, 0),
                (21.0, 2),
                (24.0, 2),
                (25.0, 3),
                (150.0, 3),
            ],
        );
    }

    #[test]
    fn req_news2_001_spo2_scale1_band_edges() {
        // Scale 1 ignores air/oxygen for the SpO2 row.
        for on_oxygen in [None, Some(false), Some(true)] {
            check_bands(
                Parameter::Spo2,
                |v| spo2(Spo2Scale::Scale1, on_oxygen, v),
                &[
                    (0.0, 3),
                    (91.0, 3),
                    (92.0, 2),
                    (93.0, 2),
                    (94.0, 1),
                    (95.0, 1),
                    (96.0, 0),
                    (100.0, 0),
                ],
            );
        }
    }

    #[test]
    fn req_news2_001_spo2_scale2_on_air_band_edges() {
        check_bands(
            Parameter::Spo2,
            |v| spo2(Spo2Scale::Scale2, Some(false), v),
            &[
                (0.0, 3),
                (83.0, 3),
                (84.0, 2),
                (85.0, 2),
                (86.0, 1),
                (87.0, 1),
                (88.0, 0),
                (92.0, 0),
                (93.0, 0),
                (96.0, 0),
                (97.0, 0),
                (100.0, 0),
            ],
        );
    }

    #[test]
    fn req_news2_001_spo2_scale2_on_oxygen_band_edges() {
        check_bands(
            Parameter::Spo2,
            |v| spo2(Spo2Scale::Scale2, Some(true), v),
            &[
                (0.0, 3),
                (83.0, 3),
                (84.0, 2),
                (85.0, 2),
                (86.0, 1),
                (87.0, 1),
                (88.0, 0),
                (92.0, 0),
                (93.0, 1),
                (94.0, 1),
                (95.0, 2),
                (96.0, 2),
                (97.0, 3),
                (100.0, 3),
            ],
        );
    }

    #[test]
    fn req_news2_001_air_or_oxygen_points() {
        for (on_oxygen, expected) in [(false, 0), (true, 2)] {
            let input = News2Input {
                on_oxygen: Some(on_oxygen),
                ..Default::default()
            };
            assert_eq!(
                points_of(input, Parameter::OnOxygen),
                Some(expected),
                "onOxygen = {on_oxygen}"
            );
        }
    }

    #[test]
    fn req_news2_001_systolic_band_edges() {
        check_bands(
            Parameter::Systolic,
            systolic,
            &[
                (0.0, 3),
                (90.0, 3),
                (91.0, 2),
                (100.0, 2),
                (101.0, 1),
                (110.0, 1),
                (111.0, 0),
                (219.0, 0),
                (220.0, 3),
                (400.0, 3),
            ],
        );
    }

    #[test]
    fn req_news2_001_pulse_band_edges() {
        check_bands(
            Parameter::Pulse,
            pulse,
            &[
                (0.0, 3),
                (40.0, 3),
                (41.0, 1),
                (50.0, 1),
                (51.0, 0),
                (90.0, 0),
                (91.0, 1),
                (110.0, 1),
                (111.0, 2),
                (130.0, 2),
                (131.0, 3),
                (350.0, 3),
            ],
        );
    }

    #[test]
    fn req_news2_001_consciousness_points() {
        let cases = [
            (Consciousness::Alert, 0),
            (Consciousness::NewConfusion, 3),
            (Consciousness::Voice, 3),
            (Consciousness::Pain, 3),
            (Consciousness::Unresponsive, 3),
        ];
        for (level, expected) in cases {
            let input = News2Input {
                consciousness: Some(level),
                ..Default::default()
            };
            assert_eq!(
                points_of(input, Parameter::Consciousness),
                Some(expected),
                "{level:?}"
            );
        }
    }

    #[test]
    fn req_news2_001_temperature_band_edges() {
        check_bands(
            Parameter::Temperature,
            temp,
            &[
                (25.0, 3),
                (35.0, 3),
                (35.1, 1),
                (36.0, 1),
                (36.1, 0),
                (38.0, 0),
                (38.1, 1),
                (39.0, 1),
                (39.1, 2),
                (45.0, 2),
            ],
        );
    }

    #[test]
    fn req_news2_001_consciousness_codes_and_names() {
        for level in [
            Consciousness::Alert,
            Consciousness::NewConfusion,
            Consciousness::Voice,
            Consciousness::Pain,
            Consciousness::Unresponsive,
        ] {
            assert_eq!(Consciousness::from_code(level.code()), Some(level));
        }
        for bad in ["", "a", "X", "Alert", "AV"] {
            assert_eq!(Consciousness::from_code(bad), None, "{bad:?}");
        }
        let names: Vec<&str> = Parameter::ALL.into_iter().map(Parameter::name).collect();
        assert_eq!(
            names,
            [
                "respRatePerMin",
                "spo2Percent",
                "onOxygen",
                "systolicMmHg",
                "pulseBpm",
                "consciousness",
                "tempCelsius"
            ]
        );
        let risks = [
            RiskLevel::Low,
            RiskLevel::LowMedium,
            RiskLevel::Medium,
            RiskLevel::High,
        ];
        let risk_names: Vec<String> = risks.iter().map(ToString::to_string).collect();
        assert_eq!(risk_names, ["low", "low-medium", "medium", "high"]);
    }

    #[test]
    fn req_news2_002_default_scale_is_scale1() {
        assert_eq!(News2Input::default().spo2_scale, Spo2Scale::Scale1);
        // 88 % on oxygen: 3 points on scale 1, 0 points on scale 2.
        let default_scale = News2Input {
            spo2_percent: Some(88.0),
            on_oxygen: Some(true),
            ..Default::default()
        };
        assert_eq!(points_of(default_scale, Parameter::Spo2), Some(3));
        let scale2 = News2Input {
            spo2_scale: Spo2Scale::Scale2,
            ..default_scale
        };
        assert_eq!(points_of(scale2, Parameter::Spo2), Some(0));
        assert_eq!(Spo2Scale::from_number(1), Some(Spo2Scale::Scale1));
        assert_eq!(Spo2Scale::from_number(2), Some(Spo2Scale::Scale2));
        assert_eq!(Spo2Scale::from_number(0), None);
        assert_eq!(Spo2Scale::from_number(3), None);
    }

    #[test]
    fn req_news2_002_scale2_missing_on_oxygen_scored_as_air() {
        // 97 % on scale 2: 3 points on oxygen, 0 on air; unknown -> air (its lowest points).
        let cases = [(93.0, 0), (95.0, 0), (97.0, 0), (86.0, 1), (83.0, 3)];
        for (value, expected) in cases {
            let s = score(&spo2(Spo2Scale::Scale2, None, value)).unwrap();
            assert_eq!(s.points.spo2_percent, Some(expected), "spo2 = {value}");
            assert_eq!(s.points.on_oxygen, None);
            assert!(s.missing.contains(&Parameter::OnOxygen));
            assert!(!s.complete);
        }
    }

    #[test]
    fn req_news2_003_rounding_half_up() {
        // (value as received, points); the comment gives the value after rounding.
        check_bands(
            Parameter::Temperature,
            temp,
            &[
                (35.05, 1),  // -> 35.1
                (35.04, 3),  // -> 35.0
                (36.05, 0),  // -> 36.1 (36.05 * 10 is 360.49999999999994 in f64)
                (36.04, 1),  // -> 36.0
                (38.05, 1),  // -> 38.1
                (38.049, 0), // -> 38.0
                (39.05, 2),  // -> 39.1
                (39.04, 1),  // -> 39.0
                (35.95, 1),  // -> 36.0
                (36.15, 0),  // -> 36.2
            ],
        );
        check_bands(
            Parameter::Systolic,
            systolic,
            &[(90.5, 2), (90.49, 3), (219.5, 3), (110.5, 0)],
        );
        check_bands(
            Parameter::RespRate,
            resp,
            &[(8.5, 1), (8.49, 3), (20.5, 2), (24.5, 3)],
        );
        check_bands(
            Parameter::Pulse,
            pulse,
            &[(40.5, 1), (50.5, 0), (90.5, 1), (130.5, 3)],
        );
        check_bands(
            Parameter::Spo2,
            |v| spo2(Spo2Scale::Scale1, None, v),
            &[(91.5, 2), (95.5, 0), (95.49, 1)],
        );
        check_bands(
            Parameter::Spo2,
            |v| spo2(Spo2Scale::Scale2, Some(true), v),
            &[(92.5, 1), (96.5, 3), (87.5, 0)],
        );
        assert_eq!(round_half_up(36.05, 10.0), 361);
        assert_eq!(round_half_up(0.5, 1.0), 1);
        assert_eq!(round_half_up(0.0, 1.0), 0);
    }

    #[test]
    fn req_news2_004_total_and_risk_levels() {
        // (input, total, risk)
        let cases: [(News2Input, u8, RiskLevel); 8] = [
            (normal(), 0, RiskLevel::Low),
            // 2 + 2 = 4: low
            (
                News2Input {
                    resp_rate_per_min: Some(22.0),
                    on_oxygen: Some(true),
                    ..normal()
                },
                4,
                RiskLevel::Low,
            ),
            // single 3 (resp 8), total 3: low-medium
            (
                News2Input {
                    resp_rate_per_min: Some(8.0),
                    ..normal()
                },
                3,
                RiskLevel::LowMedium,
            ),
            // single 3 (voice) + 1 (temp 35.5), total 4: low-medium
            (
                News2Input {
                    consciousness: Some(Consciousness::Voice),
                    temp_celsius: Some(35.5),
                    ..normal()
                },
                4,
                RiskLevel::LowMedium,
            ),
            // 3 + 2 = 5: medium (not low-medium)
            (
                News2Input {
                    pulse_bpm: Some(131.0),
                    on_oxygen: Some(true),
                    ..normal()
                },
                5,
                RiskLevel::Medium,
            ),
            // 2 + 2 + 2 = 6: medium
            (
                News2Input {
                    resp_rate_per_min: Some(21.0),
                    on_oxygen: Some(true),
                    systolic_mm_hg: Some(95.0),
                    ..normal()
                },
                6,
                RiskLevel::Medium,
            ),
            // 3 + 2 + 2 = 7: high
            (
                News2Input {
                    spo2_percent: Some(91.0),
                    on_oxygen: Some(true),
                    temp_celsius: Some(39.5),
                    ..normal()
                },
                7,
                RiskLevel::High,
            ),
            // every parameter at its maximum: 3+3+2+3+3+3+3 = 20
            (
                News2Input {
                    spo2_scale: Spo2Scale::Scale1,
                    resp_rate_per_min: Some(30.0),
                    spo2_percent: Some(80.0),
                    on_oxygen: Some(true),
                    systolic_mm_hg: Some(80.0),
                    pulse_bpm: Some(140.0),
                    consciousness: Some(Consciousness::Unresponsive),
                    temp_celsius: Some(34.0),
                },
                20,
                RiskLevel::High,
            ),
        ];
        for (i, (input, total, risk)) in cases.into_iter().enumerate() {
            let s = score(&input).unwrap();
            assert_eq!(s.total, total, "case {i}");
            assert_eq!(s.risk_level, risk, "case {i}");
            assert!(s.complete, "case {i}");
            assert!(s.missing.is_empty(), "case {i}");
        }
    }

    #[test]
    fn req_news2_005_incomplete_scores() {
        // Only SpO2 and pulse.
        let input = News2Input {
            spo2_percent: Some(93.0),
            pulse_bpm: Some(95.0),
            ..Default::default()
        };
        let s = score(&input).unwrap();
        assert!(!s.complete);
        assert_eq!(s.total, 3);
        assert_eq!(s.points.spo2_percent, Some(2));
        assert_eq!(s.points.pulse_bpm, Some(1));
        assert_eq!(s.points.resp_rate_per_min, None);
        assert_eq!(
            s.missing,
            [
                Parameter::RespRate,
                Parameter::OnOxygen,
                Parameter::Systolic,
                Parameter::Consciousness,
                Parameter::Temperature
            ]
        );
        assert_eq!(s.risk_level, RiskLevel::Low);

        // (input, total, implied risk): the known points already imply at least this level.
        let cases = [
            (News2Input::default(), 0, RiskLevel::Low),
            (
                News2Input {
                    spo2_percent: Some(91.0),
                    ..Default::default()
                },
                3,
                RiskLevel::LowMedium,
            ),
            (
                News2Input {
                    spo2_percent: Some(91.0),
                    on_oxygen: Some(true),
                    ..Default::default()
                },
                5,
                RiskLevel::Medium,
            ),
            (
                News2Input {
                    pulse_bpm: Some(140.0),
                    consciousness: Some(Consciousness::Pain),
                    temp_celsius: Some(40.0),
                    ..Default::default()
                },
                8,
                RiskLevel::High,
            ),
        ];
        for (i, (input, total, risk)) in cases.into_iter().enumerate() {
            let s = score(&input).unwrap();
            assert!(!s.complete, "case {i}");
            assert_eq!(s.total, total, "case {i}");
            assert_eq!(s.risk_level, risk, "case {i}");
        }

        let none = score(&News2Input::default()).unwrap();
        assert_eq!(none.missing, Parameter::ALL);

        // Each single parameter left out is reported alone.
        for parameter in Parameter::ALL {
            let mut input = normal();
            match parameter {
                Parameter::RespRate => input.resp_rate_per_min = None,
                Parameter::Spo2 => input.spo2_percent = None,
                Parameter::OnOxygen => input.on_oxygen = None,
                Parameter::Systolic => input.systolic_mm_hg = None,
                Parameter::Pulse => input.pulse_bpm = None,
                Parameter::Consciousness => input.consciousness = None,
                Parameter::Temperature => input.temp_celsius = None,
            }
            let s = score(&input).unwrap();
            assert_eq!(s.missing, [parameter]);
            assert!(!s.complete);
        }
    }

    #[test]
    fn req_news2_006_rejections() {
        let field_setters: [(Parameter, MakeInput); 5] = [
            (Parameter::RespRate, resp),
            (Parameter::Spo2, |v| spo2(Spo2Scale::Scale1, None, v)),
            (Parameter::Systolic, systolic),
            (Parameter::Pulse, pulse),
            (Parameter::Temperature, temp),
        ];
        for (field, make) in field_setters {
            for (value, rule) in [
                (f64::NAN, RULE_FINITE),
                (f64::INFINITY, RULE_FINITE),
                (f64::NEG_INFINITY, RULE_FINITE),
                (-1.0, RULE_NOT_NEGATIVE),
                (-0.1, RULE_NOT_NEGATIVE),
            ] {
                assert_eq!(
                    score(&make(value)),
                    Err(InputError { field, rule }),
                    "{field} = {value}"
                );
            }
        }
        // (field, value, rule): the range rules, both sides of each limit.
        let cases: [(Parameter, MakeInput, f64, Option<&str>); 12] = [
            (Parameter::RespRate, resp, 150.0, None),
            (Parameter::RespRate, resp, 150.1, Some(RULE_RESP_RATE_MAX)),
            (
                Parameter::Spo2,
                |v| spo2(Spo2Scale::Scale2, Some(true), v),
                100.0,
                None,
            ),
            (
                Parameter::Spo2,
                |v| spo2(Spo2Scale::Scale2, Some(true), v),
                100.1,
                Some(RULE_SPO2_MAX),
            ),
            (Parameter::Systolic, systolic, 400.0, None),
            (
                Parameter::Systolic,
                systolic,
                400.5,
                Some(RULE_SYSTOLIC_MAX),
            ),
            (Parameter::Pulse, pulse, 350.0, None),
            (Parameter::Pulse, pulse, 351.0, Some(RULE_PULSE_MAX)),
            (Parameter::Temperature, temp, 25.0, None),
            (Parameter::Temperature, temp, 24.99, Some(RULE_TEMP_RANGE)),
            (Parameter::Temperature, temp, 45.0, None),
            (Parameter::Temperature, temp, 45.01, Some(RULE_TEMP_RANGE)),
        ];
        for (field, make, value, rule) in cases {
            let result = score(&make(value));
            match rule {
                None => assert!(result.is_ok(), "{field} = {value} should be accepted"),
                Some(rule) => {
                    assert_eq!(result, Err(InputError { field, rule }), "{field} = {value}")
                }
            }
        }
        // Temperature 0 is below the range, not negative.
        assert_eq!(
            score(&temp(0.0)),
            Err(InputError {
                field: Parameter::Temperature,
                rule: RULE_TEMP_RANGE
            })
        );
        // The first impossible field in chart order is the one reported.
        let two_bad = News2Input {
            resp_rate_per_min: Some(-1.0),
            temp_celsius: Some(50.0),
            ..normal()
        };
        assert_eq!(
            score(&two_bad),
            Err(InputError {
                field: Parameter::RespRate,
                rule: RULE_NOT_NEGATIVE
            })
        );
        // The message names the field and the rule, never the value.
        let message = InputError {
            field: Parameter::Pulse,
            rule: RULE_PULSE_MAX,
        }
        .to_string();
        assert_eq!(message, "pulseBpm must be at most 350");
        let boxed: Box<dyn std::error::Error> = Box::new(InputError {
            field: Parameter::Spo2,
            rule: RULE_FINITE,
        });
        assert_eq!(boxed.to_string(), "spo2Percent must be a finite number");
    }

    #[test]
    fn req_news2_007_batch_scores_each_input_in_order() {
        let inputs = [
            normal(),
            News2Input {
                pulse_bpm: Some(f64::NAN),
                ..normal()
            },
            News2Input {
                pulse_bpm: Some(131.0),
                ..Default::default()
            },
        ];
        let results = score_batch(&inputs);
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].as_ref().map(|s| s.total), Ok(0));
        assert_eq!(
            results[1],
            Err(InputError {
                field: Parameter::Pulse,
                rule: RULE_FINITE
            })
        );
        assert_eq!(
            results[2]
                .as_ref()
                .map(|s| (s.total, s.risk_level, s.complete)),
            Ok((3, RiskLevel::LowMedium, false))
        );
        for (input, result) in inputs.iter().zip(&results) {
            assert_eq!(&score(input), result);
        }
        assert!(score_batch(&[]).is_empty());
    }
}
