//! The single integration-test binary of tinystore-core.

mod fixtures;
mod store_spec;
