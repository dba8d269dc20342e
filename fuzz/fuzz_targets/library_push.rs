//! Fuzz target: see `switchyard_fuzzing::library_push`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzzing::library_push(data));
