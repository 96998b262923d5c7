//! The UniFFI surface of libtinystore (proc-macro mode, no UDL), over `tinystore-core`
//! directly. `bindings/uniffi-bindgen` turns it into Python, Kotlin and Swift; each language
//! adds a thin idiomatic layer (`bindings/*/`).
//!
//! Conventions:
//! - Names follow TinyBase (`set_cell`, `add_row_listener`, …); UniFFI renders them as
//!   `setCell` in Kotlin and Swift.
//! - Cells and values cross as [`CellValue`]; objects and arrays as their JSON text. Maps whose
//!   order matters (rows, tables, content) also have `*_json` forms in TinyBase's encoded JSON.
//! - Every error is a [`TinystoreError`], derived from the core error's kind and area
//!   (`tinystore_core::error_kind`). Foreign callbacks (listeners, storage, transports)
//!   return `Result`: a callback that throws is reported through `tracing` (target
//!   `tinystore`) and skipped; it never aborts the process or unwinds through the store.
//!   The exception: a derived view's definition function (index slices, sort keys, metric
//!   numbers, TinyQL clauses, aggregates, sorters) that fails is raised as the core's
//!   `CallbackFailure`, which the core traps and resumes to the writer; the write (or
//!   `set_*_definition`) returns it as [`TinystoreError::Callback`].
//! - Calls that wait on I/O (`load`, `save`, `start_sync`, connecting, server start) block;
//!   each also has an `*_async` variant (Python `async def`, Kotlin `suspend`, Swift `async`)
//!   that runs the blocking call on the core's shared runtime (`tinystore_core::runtime`).
//!
//! One file per object: `store` (+ `listeners`, converted from the core's
//! `tinystore_core::events`), `mergeable`, `persist`, `sync`, `server`; `errors` and
//! `values` (cells, records) are shared. Derived views: `views` (Indexes, Relationships,
//! Metrics), `checkpoints`, `queries` with `query_builder`; `view_common` holds their
//! listener event, the scoped `CellGetter` and the trap that returns a failed foreign view
//! function to the writer as `TinystoreError::Callback`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value as Json;
use tinystore_core as core;
use tinystore_core::content::{self, Row, Table, Tables, Values};
use tinystore_core::events::{self, Listen, ListenerEvent};
use tinystore_core::persist::{self, Persister as CorePersister};
use tinystore_core::runtime::run_blocking;
use tinystore_core::sync::{self as csync, Transport};
use tinystore_core::{Cell, json};

mod errors;
pub use errors::*;
mod values;
pub use values::*;
mod store;
pub use store::*;
mod listeners;
pub use listeners::*;
mod mergeable;
pub use mergeable::*;
mod persisters;
pub use persisters::*;
mod doc_persisters;
pub use doc_persisters::*;
mod sync;
pub use sync::*;
mod server;
pub use server::*;
mod view_common;
pub use view_common::*;
mod views;
pub use views::*;
mod checkpoints;
pub use checkpoints::*;
mod query_builder;
pub use query_builder::*;
mod queries;
pub use queries::*;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod view_tests;
