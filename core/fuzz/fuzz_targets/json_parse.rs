//! Fuzz target: `json::parse`, `json::container_kind` and `Cell::from_encoded_str`, on
//! arbitrary UTF-8 input.
//!
//! Beyond "no panic", `tinystore_fuzz::oracle::check_json` checks
//! that `parse` and `container_kind` agree and that parsed values and decoded cells round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        tinystore_fuzz::oracle::check_json(text);
    }
});
