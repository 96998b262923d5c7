//! The single integration-test binary of tinystore-core.

mod convergence;
mod fixtures;
mod mergeable;
mod proptests;
mod store_spec;
