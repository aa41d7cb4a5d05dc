//! `cargo +nightly fuzz run filter`: the body is [`scim_fuzz::filter`], which the stable test
//! tests/fuzz_stable.rs also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| scim_fuzz::filter(data));
