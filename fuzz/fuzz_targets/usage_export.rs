//! Fuzz target: see `switchyard_fuzzing::usage_export`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzzing::usage_export(data));
