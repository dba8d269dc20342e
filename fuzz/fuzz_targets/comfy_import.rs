//! Fuzz target: see `switchyard_fuzzing::comfy_import`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzzing::comfy_import(data));
