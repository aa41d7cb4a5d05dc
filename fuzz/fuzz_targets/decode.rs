//! `cargo +nightly fuzz run decode`: the body is [`scim_fuzz::decode`], which the stable test
//! tests/fuzz_stable.rs also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| scim_fuzz::decode(data));
