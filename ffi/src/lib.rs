//! libtinystore: the stable C ABI ([`capi`], whose header `include/tinystore.h` cbindgen
//! generates) and, with the bindings work, the UniFFI surface (`mod api;`).
//!
//! The C ABI is written by hand over `tinystore-core` (not over the UniFFI layer); see
//! `include/README.md` for its conventions and ABI-change policy.

pub mod api;
pub mod capi;

// The UniFFI namespace: Python module `tinystore`, Kotlin package and Swift module per
// `ffi/uniffi.toml`.
uniffi::setup_scaffolding!("tinystore");
