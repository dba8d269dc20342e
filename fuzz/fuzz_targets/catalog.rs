//! Fuzz target: see `switchyard_fuzzing::catalog`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzzing::catalog(data));
