//! Fuzz target: `spate_consumer::fuzzing::ilp_writer` on every input.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spate_consumer::fuzzing::ilp_writer(data));
