//! `cargo +nightly fuzz run path`: the body is [`scim_fuzz::path`], which the stable test
//! tests/fuzz_stable.rs also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| scim_fuzz::path(data));
