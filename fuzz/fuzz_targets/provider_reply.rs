//! Fuzz target: see `switchyard_fuzzing::provider_reply`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzzing::provider_reply(data));
