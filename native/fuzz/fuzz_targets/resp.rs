//! cargo-fuzz target `resp`: arbitrary bytes through `vigil_core::fuzzing::resp`, which panics
//! nowhere itself and returns the invariant an input broke; a broken invariant is a crash here.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = vigil_core::fuzzing::resp(data) {
        panic!("invariant broken: {violation}");
    }
});
