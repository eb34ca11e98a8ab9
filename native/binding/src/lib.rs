//! Node-API binding of `vigil-core`.
//!
//! This crate only converts types and errors between JavaScript and the pure core; it holds
//! no scoring or signal-processing logic. The signal processors (in `signals.rs`) take whole
//! typed-array batches and return results in batches, never one call per sample. A
//! rejected input is returned as data (`{ ok: false, error }`), never thrown. Every export
//! carries `#[napi(catch_unwind)]`, so a Rust panic becomes a thrown JS `Error` instead of
//! aborting the agent process (this needs `panic = "unwind"`, the default, which the
//! workspace profile keeps).
//!
//! The only TypeScript file that loads this addon is `agent/src/native/addon.ts`. The one test
//! hook, `panic_for_test`, is compiled only with the `test-hooks` feature, into the test build
//! (`make native-test`, `native/binding/test-build/`) that only test code loads.

#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

use napi::Either;
use napi_derive::napi;
use vigil_core::news2;

mod signals;

mod sys;

/// Field name reported when `spo2Scale` is neither 1 nor 2 (it is configuration, not a
/// Chart 1 parameter, so it has no `Parameter` in the core).
const SPO2_SCALE_FIELD: &str = "spo2Scale";
/// Rule reported for an invalid `spo2Scale`.
const RULE_SPO2_SCALE: &str = "must be one of 1, 2";
/// Rule reported for an invalid `consciousness` code.
const RULE_CONSCIOUSNESS: &str = "must be one of A, C, V, P, U";

/// One observation set, as sent from JavaScript. Every field is optional: absent means not
/// measured.
#[napi(object)]
pub struct News2Input {
    /// Respiration rate, breaths per minute.
    #[napi(js_name = "respRatePerMin")]
    pub resp_rate_per_min: Option<f64>,
    /// SpO2, percent.
    #[napi(js_name = "spo2Percent")]
    pub spo2_percent: Option<f64>,
    /// SpO2 scale of this patient, 1 (default) or 2.
    #[napi(js_name = "spo2Scale", ts_type = "1 | 2")]
    pub spo2_scale: Option<f64>,
    /// `true` on supplemental oxygen, `false` on air.
    #[napi(js_name = "onOxygen")]
    pub on_oxygen: Option<bool>,
    /// Systolic blood pressure, mmHg.
    #[napi(js_name = "systolicMmHg")]
    pub systolic_mm_hg: Option<f64>,
    /// Pulse, beats per minute.
    #[napi(js_name = "pulseBpm")]
    pub pulse_bpm: Option<f64>,
    /// ACVPU code.
    #[napi(js_name = "consciousness", ts_type = "'A' | 'C' | 'V' | 'P' | 'U'")]
    pub consciousness: Option<String>,
    /// Temperature, degrees Celsius.
    #[napi(js_name = "tempCelsius")]
    pub temp_celsius: Option<f64>,
}

/// Points per parameter; a parameter that was not given is absent.
#[napi(object)]
pub struct News2Points {
    /// Respiration rate points.
    #[napi(js_name = "respRatePerMin")]
    pub resp_rate_per_min: Option<u32>,
    /// SpO2 points.
    #[napi(js_name = "spo2Percent")]
    pub spo2_percent: Option<u32>,
    /// Air or oxygen points.
    #[napi(js_name = "onOxygen")]
    pub on_oxygen: Option<u32>,
    /// Systolic blood pressure points.
    #[napi(js_name = "systolicMmHg")]
    pub systolic_mm_hg: Option<u32>,
    /// Pulse points.
    #[napi(js_name = "pulseBpm")]
    pub pulse_bpm: Option<u32>,
    /// Consciousness points.
    #[napi(js_name = "consciousness")]
    pub consciousness: Option<u32>,
    /// Temperature points.
    #[napi(js_name = "tempCelsius")]
    pub temp_celsius: Option<u32>,
}

/// A NEWS2 score.
#[napi(object)]
pub struct News2Score {
    /// Sum of the known points.
    pub total: u32,
    /// Points per parameter.
    pub points: News2Points,
    /// Risk level implied by the known points.
    #[napi(
        js_name = "riskLevel",
        ts_type = "'low' | 'low-medium' | 'medium' | 'high'"
    )]
    pub risk_level: String,
    /// `true` when every parameter was given.
    pub complete: bool,
    /// Names of the parameters not given, in chart order.
    pub missing: Vec<String>,
}

/// The field that was rejected and the rule it broke (never the value).
#[napi(object)]
pub struct News2InputError {
    /// JSON name of the field.
    pub field: String,
    /// The rule, a stable string.
    pub rule: String,
}

/// A scored input.
#[napi(object)]
pub struct News2Scored {
    /// Always `true`.
    #[napi(ts_type = "true")]
    pub ok: bool,
    /// The score.
    pub score: News2Score,
}

/// A rejected input.
#[napi(object)]
pub struct News2Rejected {
    /// Always `false`.
    #[napi(ts_type = "false")]
    pub ok: bool,
    /// Why it was rejected.
    pub error: News2InputError,
}

/// `{ ok: true, score }` or `{ ok: false, error }`. Spelled out in the export signatures,
/// because the generated `index.d.ts` does not declare Rust type aliases.
type News2Outcome = Either<News2Scored, News2Rejected>;

fn rejected(field: &str, rule: &str) -> News2Rejected {
    News2Rejected {
        ok: false,
        error: News2InputError {
            field: field.to_owned(),
            rule: rule.to_owned(),
        },
    }
}

fn to_core(input: &News2Input) -> Result<news2::News2Input, News2Rejected> {
    let spo2_scale = match input.spo2_scale {
        None => news2::Spo2Scale::default(),
        Some(1.0) => news2::Spo2Scale::Scale1,
        Some(2.0) => news2::Spo2Scale::Scale2,
        Some(_) => return Err(rejected(SPO2_SCALE_FIELD, RULE_SPO2_SCALE)),
    };
    let consciousness = match input.consciousness.as_deref() {
        None => None,
        Some(code) => match news2::Consciousness::from_code(code) {
            Some(level) => Some(level),
            None => {
                return Err(rejected(
                    news2::Parameter::Consciousness.name(),
                    RULE_CONSCIOUSNESS,
                ));
            }
        },
    };
    Ok(news2::News2Input {
        spo2_scale,
        resp_rate_per_min: input.resp_rate_per_min,
        spo2_percent: input.spo2_percent,
        on_oxygen: input.on_oxygen,
        systolic_mm_hg: input.systolic_mm_hg,
        pulse_bpm: input.pulse_bpm,
        consciousness,
        temp_celsius: input.temp_celsius,
    })
}

fn from_core(result: Result<news2::News2Score, news2::InputError>) -> News2Outcome {
    match result {
        Ok(score) => {
            let p = score.points;
            Either::A(News2Scored {
                ok: true,
                score: News2Score {
                    total: u32::from(score.total),
                    points: News2Points {
                        resp_rate_per_min: p.resp_rate_per_min.map(u32::from),
                        spo2_percent: p.spo2_percent.map(u32::from),
                        on_oxygen: p.on_oxygen.map(u32::from),
                        systolic_mm_hg: p.systolic_mm_hg.map(u32::from),
                        pulse_bpm: p.pulse_bpm.map(u32::from),
                        consciousness: p.consciousness.map(u32::from),
                        temp_celsius: p.temp_celsius.map(u32::from),
                    },
                    risk_level: score.risk_level.name().to_owned(),
                    complete: score.complete,
                    missing: score.missing.iter().map(|m| m.name().to_owned()).collect(),
                },
            })
        }
        Err(e) => Either::B(rejected(e.field.name(), e.rule)),
    }
}

/// Scores one observation set (RCP NEWS2 2017, Chart 1). An impossible or invalid input is
/// returned as `{ ok: false, error: { field, rule } }`.
#[napi(catch_unwind)]
pub fn score_news2(input: News2Input) -> Either<News2Scored, News2Rejected> {
    match to_core(&input) {
        Ok(core_input) => from_core(news2::score(&core_input)),
        Err(rejected) => Either::B(rejected),
    }
}

/// Scores many observation sets in one call: one outcome per input, in input order.
///
/// Throws only on a broken internal invariant (never on a bad input, which is data).
#[napi(catch_unwind)]
pub fn score_news2_batch(
    inputs: Vec<News2Input>,
) -> napi::Result<Vec<Either<News2Scored, News2Rejected>>> {
    let converted: Vec<Result<news2::News2Input, News2Rejected>> =
        inputs.iter().map(to_core).collect();
    let valid: Vec<news2::News2Input> = converted
        .iter()
        .filter_map(|c| c.as_ref().ok().copied())
        .collect();
    // `score_batch` returns exactly one result per valid input, in the same order.
    let mut scores = news2::score_batch(&valid).into_iter();
    converted
        .into_iter()
        .map(|c| match c {
            Ok(_) => scores
                .next()
                .map(from_core)
                .ok_or_else(|| napi::Error::from_reason("vigil-native: batch length mismatch")),
            Err(rejected) => Ok(Either::B(rejected)),
        })
        .collect()
}

/// Panics on purpose with `message`. It exists only so that tests can prove the panic guard
/// (`#[napi(catch_unwind)]`): the call must throw a JS `Error` and the process must survive.
///
/// Compiled only with the `test-hooks` feature, which only the test build of the addon
/// (`make native-test`, native/binding/test-build/) enables: the release addon has no such export.
#[cfg(feature = "test-hooks")]
#[napi(catch_unwind)]
pub fn panic_for_test(message: String) {
    panic!("{message}");
}

/// Version of the `vigil-core` crate linked into this addon.
#[napi(catch_unwind)]
pub fn core_version() -> String {
    vigil_core::VERSION.to_owned()
}
