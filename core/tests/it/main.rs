//! The single integration-test binary of tinystore-core.

mod convergence;
mod fixtures;
mod mergeable;
mod persist;
mod persist_process;
mod proptests;
mod queries;
mod queries_on_queries;
mod queries_props;
mod rejections;
mod store_spec;
mod sync_local;
mod sync_wire;
mod views_checkpoints;
mod views_indexes;
mod views_memo;
mod views_metrics;
mod views_props;
mod views_relationships;
