//! Fuzz target: see `switchyard_fuzzing::comfy_prompt`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzzing::comfy_prompt(data));
