//! Vigil core: the pure computations of the bedside gateway: the NEWS2 score, and the
//! signal processing that turns waveforms into vital signs (ECG, PPG, respiration).
//!
//! This crate knows nothing of Node or of I/O: it takes plain values and returns plain
//! values or an error that names the bad field and the rule it broke. The `vigil-native`
//! crate is the only bridge to JavaScript.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod dsp;
pub mod ecg;
pub mod edr;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod heart_rate;
pub mod modulation;
pub mod news2;
pub mod numerics;
pub mod ppg;
pub mod qrs;
pub mod resp;
#[cfg(test)]
mod testsig;

/// Version of this crate (`CARGO_PKG_VERSION`), reported by the agent at start-up.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
