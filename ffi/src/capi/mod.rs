//! The stable C ABI of libtinystore. cbindgen turns this module into `include/tinystore.h`
//! (see `ffi/cbindgen.toml`, whose `header` holds the contract every function follows:
//! ownership, errors, threads, listeners). Conventions:
//!
//! - functions `tinystore_<object>_<method>`, opaque handles `tinystore_<object>_t`, one status
//!   enum [`tinystore_status_t`] with frozen discriminants (a test checks them against a list);
//! - handles are not pointers to Rust memory but ids in a registry, so an unknown, freed or
//!   wrong-kind handle is an error ([`tinystore_status_t::TINYSTORE_STATUS_INVALID_HANDLE`]),
//!   never undefined behaviour, and `free` twice is reported rather than crashing;
//! - every entry point runs inside `catch_unwind` ([`guard`]): a panic becomes
//!   `TINYSTORE_STATUS_PANIC` with its message as the last error;
//! - strings the library returns are `malloc`ed copies freed with [`tinystore_string_free`]
//!   (lists with [`tinystore_string_list_free`], cells with [`tinystore_cell_free`]); inputs are
//!   borrowed for the duration of the call.
//!
//! One file per object (`store`, `content`, `listeners`, `mergeable`, `persist`, `sync`,
//! `status_listeners` (of persisters and synchronizers), `server`, `persist_custom` (after the
//! view callbacks, whose result type and failure rule it shares), and the derived views `indexes`, `relationships`, `metrics`, `queries` with
//! `query_builder`, `checkpoints`), over shared plumbing (`types`, `errors`, `convert`,
//! `handles`; for the views `view_types`, `view_callbacks` (C callbacks as closures, the
//! borrowed reader/result/builder pointers) and `view_listeners` (handles, listener ids, the
//! view event)). cbindgen reads
//! the modules in the order they are declared here, which is the order of the header. The
//! typed listener functions (`listener_fns.rs`) are generated from `listener_surface.txt`
//! (`TINYSTORE_BLESS=1 cargo test -p tinystore-ffi listener_surface` rewrites them).

#![allow(non_camel_case_types, clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::mem::offset_of;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde_json::Value as Json;
use tinystore_core::error_kind::{CallbackFailure, Classify, ErrorKind};
use tinystore_core::events::{self, Listen, ListenerEvent};
use tinystore_core::mergeable::content::{write_tables_stamp, write_values_stamp};
use tinystore_core::mergeable::{
    CellHashes, JsonForm, MergeableError, RowHashes, TableHashes, TablesStamp,
};
use tinystore_core::persist::file::FilePersistence;
use tinystore_core::persist::remote::RemotePersistence;
use tinystore_core::persist::sqlite::{SqliteJsonConfig, SqlitePersistence, TabularConfig};
use tinystore_core::persist::{PersistError, Persister, Status};
use tinystore_core::sync::SynchronizerOptions;
use tinystore_core::sync::client::{
    ConnectionStatus, ReconnectPolicy, WsClientConfig, WsClientError, WsSynchronizer,
};
use tinystore_core::sync::serve::{self, ServeError};
use tinystore_core::sync::server::{AuthDecision, AuthHook, AuthPurpose, AuthRequest, WsServer};
use tinystore_core::{
    Cell, ContentError, ListenerId, MergeableStore, Queries, Row, SortedRowIdsArgs, Store,
    StoreError, content, json,
};

mod types;
pub use types::*;
use types::{tinystore_listener_kind_t as K, tinystore_status_t as S};
mod errors;
use errors::*;
mod convert;
use convert::*;
mod handles;
use handles::*;
mod library;
pub use library::*;
mod store;
pub use store::*;
mod store_content;
pub use store_content::*;
// Generated from listener_surface.txt (see listener_surface.rs); kept as rendered.
#[rustfmt::skip]
mod listener_fns;
pub use listener_fns::*;
mod listeners;
pub use listeners::*;
mod mergeable;
pub use mergeable::*;
mod persist;
pub use persist::*;
mod sync;
pub use sync::*;
mod status_listeners;
pub use status_listeners::*;
mod server;
pub use server::*;
mod view_types;
pub use view_types::*;
mod view_callbacks;
pub use view_callbacks::*;
mod persist_custom;
pub use persist_custom::*;
mod view_listeners;
use view_listeners::*;
mod indexes;
pub use indexes::*;
mod relationships;
pub use relationships::*;
mod metrics;
pub use metrics::*;
mod checkpoints;
pub use checkpoints::*;
mod queries;
pub use queries::*;
mod query_builder;
pub use query_builder::*;

#[cfg(test)]
mod listener_surface;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod view_tests;
