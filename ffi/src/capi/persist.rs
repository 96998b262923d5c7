//! Persisters (SQLite, file, remote).

use super::*;

// ============================================================================ persisters

pub(crate) fn persister_out(
    out: Out<*mut tinystore_persister_t>,
    store: *mut tinystore_store_t,
    make: impl FnOnce(&Store) -> R<Persister>,
) -> R<()> {
    let persister = with_store(store, |s| make(&s.store))?;
    let handle = register(Object::Persister(persister));
    out.set(handle as *mut tinystore_persister_t);
    Ok(())
}

/// A persister keeping `store` (Store or MergeableStore) in the SQLite database at `path`
/// (created if absent) as TinyBase's JSON document in one row of `table` (NULL: `tinybase`),
/// TinyBase's JSON mode; files are interchangeable with TinyBase's. Nothing is read or written
/// until `tinystore_persister_load`/`_save`/`_start_auto_*`. Free with
/// `tinystore_persister_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_sqlite_persister_new(
    store: *mut tinystore_store_t,
    path: *const c_char,
    table: *const c_char,
    out_persister: *mut *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        let (path, table) = unsafe { (str_arg(path, "path")?, opt_str_arg(table, "table")?) };
        let out = Out::new(out_persister, "out_persister")?;
        persister_out(out, store, |s| {
            let config = table.map_or_else(SqliteJsonConfig::default, SqliteJsonConfig::table);
            let db = SqlitePersistence::open(path, config)?;
            Ok(Persister::try_new(s, db)?)
        })
    })
}

/// A persister keeping a plain Store in the SQLite database at `path` in TinyBase's tabular
/// mode: each of the `table_count` tables in `table_ids` in a database table of the same name
/// (a column per cell id, `_id` for row ids), and all values in `tinybase_values`.
/// `TINYSTORE_STATUS_UNSUPPORTED` for a MergeableStore.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_sqlite_persister_new_tabular(
    store: *mut tinystore_store_t,
    path: *const c_char,
    table_ids: *const *const c_char,
    table_count: usize,
    out_persister: *mut *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        let path = unsafe { str_arg(path, "path")? };
        if table_ids.is_null() && table_count > 0 {
            return Err(err(ErrorKind::NullArgument, "table_ids is NULL"));
        }
        let mut ids = Vec::with_capacity(table_count);
        for i in 0..table_count {
            // SAFETY: `table_count` readable pointers.
            ids.push(unsafe { str_arg(*table_ids.add(i), "table_ids[i]")? });
        }
        let out = Out::new(out_persister, "out_persister")?;
        persister_out(out, store, |s| {
            let db = SqlitePersistence::open(path, TabularConfig::tables(&ids))?;
            Ok(Persister::try_new(s, db)?)
        })
    })
}

/// A persister keeping `store` in the file at `path` as TinyBase's JSON document (atomic
/// writes; the file is created on the first save).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_file_persister_new(
    store: *mut tinystore_store_t,
    path: *const c_char,
    out_persister: *mut *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        let path = unsafe { str_arg(path, "path")? };
        let out = Out::new(out_persister, "out_persister")?;
        persister_out(out, store, |s| {
            Ok(Persister::try_new(s, FilePersistence::new(path))?)
        })
    })
}

/// A persister keeping `store` at a URL, as TinyBase's `RemotePersister` does: loads are
/// `GET load_url` (with `If-None-Match` once the server sent an `ETag`; a `304` keeps the
/// last document), saves `POST save_url` with the JSON document (a MergeableStore's plain
/// content, as TinyBase), auto-load polls `HEAD load_url` every `interval_ms` given to
/// `tinystore_persister_start_auto_load` (TinyBase's default is 5000). `save_url` NULL:
/// read-only, saves fail with `TINYSTORE_STATUS_UNSUPPORTED`. A failed request (no answer,
/// a status outside 2xx, 30 s without an answer) is `TINYSTORE_STATUS_STORAGE`; a body that
/// is not a store leaves the store as it was. Nothing is requested until a load or save.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_remote_persister_new(
    store: *mut tinystore_store_t,
    load_url: *const c_char,
    save_url: *const c_char,
    out_persister: *mut *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        let (load_url, save_url) = unsafe {
            (
                str_arg(load_url, "load_url")?,
                opt_str_arg(save_url, "save_url")?,
            )
        };
        let out = Out::new(out_persister, "out_persister")?;
        persister_out(out, store, |s| {
            let mut remote = RemotePersistence::new(load_url);
            if let Some(url) = save_url {
                remote = remote.with_save_url(url);
            }
            Ok(Persister::try_new(s, remote)?)
        })
    })
}

/// Stops auto-load and auto-save (waiting for the polling thread) and frees the persister.
/// The database or file is left as it is (call `tinystore_persister_save` first to store the
/// latest content when auto-save is off).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_free(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        let object = unregister(persister as usize, "persister", "a persister", |o| {
            matches!(o, Object::Persister(_))
        })?;
        if let Object::Persister(p) = &*object {
            release_status_listeners(persister as usize, |id| {
                p.del_listener(id);
            });
            p.destroy();
        }
        Ok(())
    })
}

/// Loads the stored content into the store (replacing it; with nothing stored, the store is
/// left as it is). Blocks for the I/O. After a failed load, saves are refused with
/// `TINYSTORE_STATUS_INVALID_STATE` until a load succeeds or
/// `tinystore_persister_allow_overwrite` is called.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_load(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.load(None)?;
            Ok(())
        })
    })
}

/// Saves the whole content now. Blocks for the I/O.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_save(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.save()?;
            Ok(())
        })
    })
}

/// Lets saves replace stored data that failed to load.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_allow_overwrite(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.allow_overwrite();
            Ok(())
        })
    })
}

/// Saves now, then after every transaction that changes the store, on the thread that
/// finished it, before that write call returns. A failing auto-save is not reported to the
/// writer (the write already happened in memory).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_start_auto_save(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.start_auto_save()?;
            Ok(())
        })
    })
}

/// Stops auto-saving.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_stop_auto_save(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.stop_auto_save();
            Ok(())
        })
    })
}

pub(crate) fn interval(ms: u32) -> Duration {
    if ms == 0 {
        tinystore_core::persist::DEFAULT_AUTO_LOAD_INTERVAL
    } else {
        Duration::from_millis(u64::from(ms))
    }
}

/// Loads now, then polls the storage every `interval_ms` (0: 1000) on a thread of the
/// persister's own and loads again when someone else changed it (store listeners then run on
/// that thread).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_start_auto_load(
    persister: *mut tinystore_persister_t,
    interval_ms: u32,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.start_auto_load(None, interval(interval_ms))?;
            Ok(())
        })
    })
}

/// Stops auto-loading (waits for the polling thread to end).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_stop_auto_load(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.stop_auto_load();
            Ok(())
        })
    })
}

/// Auto-load then auto-save (TinyBase's `startAutoPersisting`); if auto-save cannot start,
/// auto-load is stopped again and the error returned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_start_auto_persisting(
    persister: *mut tinystore_persister_t,
    interval_ms: u32,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.start_auto_persisting(None, interval(interval_ms), false)?;
            Ok(())
        })
    })
}

/// Stops auto-load and auto-save.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_stop_auto_persisting(
    persister: *mut tinystore_persister_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            p.stop_auto_persisting();
            Ok(())
        })
    })
}

/// The persister's current status.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_get_status(
    persister: *mut tinystore_persister_t,
    out_status: *mut tinystore_persister_status_t,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out_status, "out_status")?;
        with_persister(persister, |p| {
            out.set(c_status(p.get_status()));
            Ok(())
        })
    })
}

/// How many loads and saves the persister has made (attempts included).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_get_stats(
    persister: *mut tinystore_persister_t,
    out_loads: *mut u64,
    out_saves: *mut u64,
) -> tinystore_status_t {
    guard(|| {
        let loads = Out::new(out_loads, "out_loads")?;
        let saves = Out::new(out_saves, "out_saves")?;
        with_persister(persister, |p| {
            let stats = p.get_stats();
            loads.set(stats.loads);
            saves.set(stats.saves);
            Ok(())
        })
    })
}
