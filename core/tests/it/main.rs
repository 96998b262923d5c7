//! The single integration-test binary of tinystore-core.

mod convergence;
mod fixtures;
mod mergeable;
mod persist;
mod proptests;
mod store_spec;
