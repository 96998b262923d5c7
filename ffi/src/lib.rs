//! libtinystore: the stable C ABI ([`capi`], whose header `include/tinystore.h` cbindgen
//! generates) and the UniFFI surface ([`api`], for Python, Kotlin and Swift), in one library.
//!
//! Both layers are conversions over the same core contracts: listener events
//! (`tinystore_core::events`), error kinds (`tinystore_core::error_kind`), the server with
//! rooms (`tinystore_core::sync::serve`) and the shared runtime (`tinystore_core::runtime`).
//! The C ABI is written by hand over `tinystore-core` (not over the UniFFI layer); see
//! `include/README.md` for its conventions and ABI-change policy.

pub mod api;
pub mod capi;

// The UniFFI namespace: Python module `tinystore`, Kotlin package and Swift module per
// `ffi/uniffi.toml`.
uniffi::setup_scaffolding!("tinystore");
