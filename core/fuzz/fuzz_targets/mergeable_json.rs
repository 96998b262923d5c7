//! Fuzz target: `MergeableContent::from_json_str` and a fixed-clock MergeableStore's
//! `apply_mergeable_changes_json` / `set_mergeable_content_json`, on arbitrary UTF-8 input.
//!
//! Beyond "no panic", `tinystore_fuzz::oracle::check_mergeable` checks
//! that a rejected input leaves the store unchanged and that accepted input round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        tinystore_fuzz::oracle::check_mergeable(text);
    }
});
