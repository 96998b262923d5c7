//! The single integration-test binary of tinystore-core.

mod fixtures;
mod mergeable;
mod proptests;
mod store_spec;
