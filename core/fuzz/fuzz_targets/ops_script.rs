//! Fuzz target: `json::parse` followed by `ops::apply_ops`, on arbitrary UTF-8 input.
//!
//! Beyond "no panic", `tinystore_fuzz::oracle::check_ops` checks
//! that a rejected input leaves the store unchanged and that accepted input round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        tinystore_fuzz::oracle::check_ops(text);
    }
});
