//! Derived views over a [`Store`](crate::Store): TinyBase's Queries (and, merged in beside
//! them, Indexes, Relationships, Metrics and Checkpoints).

pub mod queries;
