//! `cargo +nightly fuzz run patch`: the body is [`scim_fuzz::patch`], which the stable test
//! tests/fuzz_stable.rs also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| scim_fuzz::patch(data));
