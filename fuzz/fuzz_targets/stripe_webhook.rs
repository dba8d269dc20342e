//! Fuzz target: see `switchyard_fuzzing::stripe_webhook`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzzing::stripe_webhook(data));
