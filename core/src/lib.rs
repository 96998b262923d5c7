//! # tinystore-core
//!
//! A native, reactive, local-first data store with the behaviour and formats of
//! [TinyBase](https://tinybase.org): tables of rows of cells plus key-values, schemas,
//! transactions and listeners. This crate holds all the logic and does no I/O except behind
//! the `sqlite`, `file`, `ws-client` and `ws-server` features.
//!
//! ```
//! use tinystore_core::{Cell, Store};
//!
//! let store = Store::new();
//! store.add_row_listener(Some("pets"), None, |_, table, row| {
//!     println!("{table}/{row} changed");
//! }, false);
//! store.set_cell("pets", "fido", "species", "dog");
//! assert_eq!(store.get_cell("pets", "fido", "species"), Some(Cell::from("dog")));
//! ```
//!
//! See `ARCHITECTURE.md` at the repository root for the module map and the threading contract
//! (also in [`store`]).

#![warn(missing_docs)]

pub mod content;
pub mod error_kind;
pub mod events;
pub mod hash;
pub mod hlc;
pub mod js;
pub mod json;
pub mod mergeable;
pub mod ops;
mod ordmap;
pub mod persist;
#[cfg(any(feature = "ws-client", feature = "ws-server", feature = "postgres"))]
pub mod runtime;
pub mod schema;
pub mod status;
pub mod store;
pub mod sync;
pub mod types;
pub mod views;

pub use content::{Changes, ContentError, Row, Table, Tables, Values};
pub use mergeable::{
    MergeableChanges, MergeableContent, MergeableError, MergeableStore, create_mergeable_store,
};
pub use schema::{CellSchema, TablesSchema, ValuesSchema};
pub use store::{
    CellChange, IdChanges, ListenerId, ListenerKind, ListenerStats, SortedRowIdsArgs, Sorter,
    Store, StoreError, TransactionLog, create_store,
};
pub use types::{Cell, CellType, Text, Value};
pub use views::queries::{Queries, create_queries};
pub use views::{
    Aggregate, Checkpoints, Indexes, Metrics, Relationships, Source, ViewError, create_checkpoints,
    create_indexes, create_metrics, create_relationships,
};

/// The README's Rust example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
