//! Fuzz target: see `switchyard_fuzzing::workflow`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzzing::workflow(data));
