//! Fuzz target: see `switchyard_fuzzing::server_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzzing::server_request(data));
