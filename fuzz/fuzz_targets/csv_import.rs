#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadflow::fuzzing::csv_import(data));
