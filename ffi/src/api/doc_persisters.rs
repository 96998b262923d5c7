//! The remote persister (a store at a URL) and the persisters into another CRDT's document
//! (Yjs, Automerge), whose documents cross as their encoded bytes: each language has its own
//! Yjs/Automerge stack, so the app forwards the bytes to it.

use tinystore_core::persist::automerge::{AutomergeDoc, AutomergePersistence};
use tinystore_core::persist::remote::RemotePersistence;
use tinystore_core::persist::yjs::{YjsDoc, YjsPersistence};

use super::persisters::persister_api;
use super::view_common::trapped;
use super::*;

/// Told each local update of a Yjs or Automerge document (the persister's saves, the app's
/// own edits), as bytes to forward to other replicas.
#[uniffi::export(with_foreign)]
pub trait UpdateListener: Send + Sync {
    /// A Yjs v1 update, or Automerge incremental changes.
    fn on_update(&self, update: Vec<u8>) -> Result<(), TinystoreError>;
}

/// Keeps a store at a URL (TinyBase's `RemotePersister`: `GET` the load URL with the last
/// `ETag`, `POST` the save URL, auto-load by polling with `HEAD`).
#[derive(Debug, uniffi::Object)]
pub struct RemotePersister {
    pub(crate) inner: CorePersister,
    load_url: String,
    save_url: Option<String>,
    interval: Duration,
}

/// A remote persister for `store` loading from `load_url` and, when `save_url` is given,
/// saving to it (without one, saving is refused: read-only cloud data). Auto-load polls every
/// `auto_load_interval_seconds` (TinyBase's default: 5); `timeout_seconds` bounds each
/// request (default 30).
#[uniffi::export(default(save_url = None, auto_load_interval_seconds = None, timeout_seconds = None))]
pub fn create_remote_persister(
    store: Arc<Store>,
    load_url: String,
    save_url: Option<String>,
    auto_load_interval_seconds: Option<f64>,
    timeout_seconds: Option<f64>,
) -> Result<Arc<RemotePersister>, TinystoreError> {
    let seconds = |what: &str, s: f64| {
        Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| TinystoreError::InvalidValue {
                reason: format!("{what} must be a positive number of seconds, not {s}"),
            })
    };
    let mut remote = RemotePersistence::new(&load_url);
    if let Some(url) = &save_url {
        remote = remote.with_save_url(url);
    }
    if let Some(s) = auto_load_interval_seconds {
        remote = remote.with_auto_load_interval(seconds("auto_load_interval_seconds", s)?);
    }
    if let Some(s) = timeout_seconds {
        remote = remote.with_timeout(seconds("timeout_seconds", s)?);
    }
    let interval = remote.auto_load_interval();
    Ok(Arc::new(RemotePersister {
        inner: CorePersister::try_new(&store.inner, remote)?,
        load_url,
        save_url,
        interval,
    }))
}

persister_api!(RemotePersister, |p: &RemotePersister| p.interval);

#[uniffi::export]
impl RemotePersister {
    /// `[load_url]`, or `[load_url, save_url]` (TinyBase's `getUrls`).
    pub fn get_urls(&self) -> Vec<String> {
        std::iter::once(self.load_url.clone())
            .chain(self.save_url.clone())
            .collect()
    }
}

/// Keeps a store in a Y.Doc of its own (TinyBase's `YjsPersister`: the `tinybase` map holding
/// `t` and `v`), exchanged with other replicas as Yjs updates.
#[derive(Debug, uniffi::Object)]
pub struct YjsPersister {
    pub(crate) inner: CorePersister,
    doc: YjsDoc,
}

/// A Yjs persister for `store` over a new, empty Y.Doc.
#[uniffi::export]
pub fn create_yjs_persister(store: Arc<Store>) -> Result<Arc<YjsPersister>, TinystoreError> {
    let doc = YjsDoc::new();
    Ok(Arc::new(YjsPersister {
        inner: CorePersister::try_new(&store.inner, YjsPersistence::new(&doc))?,
        doc,
    }))
}

persister_api!(YjsPersister);

#[uniffi::export]
impl YjsPersister {
    /// Merges a Yjs update (v1, e.g. `Y.encodeStateAsUpdate(doc)` or an update event's bytes)
    /// into the document; auto-load, when on, then loads it.
    pub fn apply_update(&self, update: Vec<u8>) -> Result<(), TinystoreError> {
        self.doc.apply_update(&update)?;
        Ok(())
    }
    /// The document's whole state as one Yjs update.
    pub fn encode_update(&self) -> Vec<u8> {
        self.doc.encode_update()
    }
    /// Calls `listener` with each local update (not those merged by `apply_update`); returns
    /// an id for `del_update_listener`.
    pub fn add_update_listener(&self, listener: Arc<dyn UpdateListener>) -> u64 {
        self.doc.add_update_listener(move |update| {
            if let Err(e) = listener.on_update(update.to_vec()) {
                report("update listener", &e);
            }
        })
    }
    /// Removes an update listener; whether it was there.
    pub fn del_update_listener(&self, listener_id: u64) -> bool {
        self.doc.del_update_listener(listener_id)
    }
}

/// Keeps a store in an Automerge document of its own (TinyBase's `AutomergePersister`: the
/// `tinybase` map holding `t` and `v`), exchanged as Automerge's save format.
#[derive(Debug, uniffi::Object)]
pub struct AutomergePersister {
    pub(crate) inner: CorePersister,
    doc: AutomergeDoc,
}

/// An Automerge persister for `store` over a new, empty document.
#[uniffi::export]
pub fn create_automerge_persister(
    store: Arc<Store>,
) -> Result<Arc<AutomergePersister>, TinystoreError> {
    let doc = AutomergeDoc::new();
    Ok(Arc::new(AutomergePersister {
        inner: CorePersister::try_new(&store.inner, AutomergePersistence::new(&doc))?,
        doc,
    }))
}

persister_api!(AutomergePersister);

#[uniffi::export]
impl AutomergePersister {
    /// Merges bytes in Automerge's format (`Automerge.save(doc)`, or incremental changes) into
    /// the document; auto-load, when on, then loads it.
    pub fn apply_update(&self, update: Vec<u8>) -> Result<(), TinystoreError> {
        self.doc.apply_update(&update)?;
        Ok(())
    }
    /// The whole document (`Automerge.save`).
    pub fn encode_update(&self) -> Vec<u8> {
        self.doc.encode_update()
    }
    /// Calls `listener` with the incremental changes of each local change (not those merged
    /// by `apply_update`); returns an id for `del_update_listener`.
    pub fn add_update_listener(&self, listener: Arc<dyn UpdateListener>) -> u64 {
        self.doc.add_update_listener(move |update| {
            if let Err(e) = listener.on_update(update.to_vec()) {
                report("update listener", &e);
            }
        })
    }
    /// Removes an update listener; whether it was there.
    pub fn del_update_listener(&self, listener_id: u64) -> bool {
        self.doc.del_update_listener(listener_id)
    }
}
