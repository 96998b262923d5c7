//! Support for the fuzz targets in `fuzz_targets/`: the oracles live in [`oracle`], which
//! `core/tests/decoders.rs` also includes (by path) so that CI checks the very same
//! properties on generated inputs.

pub mod oracle;
