//! Fuzz target: `spate_consumer::fuzzing::decoders` on every input.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spate_consumer::fuzzing::decoders(data));
