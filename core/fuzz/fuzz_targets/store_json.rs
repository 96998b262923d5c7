//! Fuzz target: `Store::set_json`, `set_tables_json`, `set_values_json`,
//! `set_tables_schema_json` and `set_values_schema_json`, on arbitrary UTF-8 input.
//!
//! Beyond "no panic", `tinystore_fuzz::oracle::check_store` checks
//! that a rejected input leaves the store unchanged and that accepted input round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        tinystore_fuzz::oracle::check_store(text);
    }
});
