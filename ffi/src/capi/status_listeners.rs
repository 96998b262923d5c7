//! Status listeners of persisters and synchronizers. The core calls them outside its locks and
//! removing one does not wait for a call in progress; each C listener therefore has a gate, so
//! that once `del_listener` (or the handle's free) returns, the listener is not running and
//! will not run again — the promise store listeners make, which C needs before it may free
//! `user_data`.

use super::*;
use parking_lot::ReentrantMutex;
use std::cell::Cell as Flag;

/// Open while the listener may run. Reentrant, so that a listener may remove itself.
type Gate = Arc<ReentrantMutex<Flag<bool>>>;

/// The status listeners added through each persister or synchronizer handle: core id → gate.
static STATUS_LISTENERS: LazyLock<Mutex<HashMap<usize, HashMap<u64, Gate>>>> =
    LazyLock::new(Default::default);

pub(crate) fn c_status(status: Status) -> tinystore_persister_status_t {
    use tinystore_persister_status_t as P;
    match status {
        Status::Loading => P::TINYSTORE_PERSISTER_STATUS_LOADING,
        Status::Saving => P::TINYSTORE_PERSISTER_STATUS_SAVING,
        Status::Idle => P::TINYSTORE_PERSISTER_STATUS_IDLE,
    }
}

fn close(gate: &Gate) {
    gate.lock().set(false);
}

/// Registers a listener through `add` (which gets the gated callback) and tracks it on
/// `handle`; `still_live` undoes a registration that raced with the handle's free.
fn add_gated(
    handle: usize,
    out: Out<tinystore_listener_id_t>,
    add: impl FnOnce(Box<dyn Fn(Status) + Send + Sync>) -> R<u64>,
    call: impl Fn(Status) + Send + Sync + 'static,
    del: impl FnOnce(u64),
) -> R<()> {
    let gate: Gate = Arc::new(ReentrantMutex::new(Flag::new(true)));
    let g = gate.clone();
    let id = add(Box::new(move |status| {
        let open = g.lock();
        if open.get() {
            call(status);
        }
    }))?;
    STATUS_LISTENERS
        .lock()
        .entry(handle)
        .or_default()
        .insert(id, gate.clone());
    if !HANDLES.read().contains_key(&handle) {
        forget(handle, id);
        close(&gate);
        del(id);
        return Err(err(
            ErrorKind::InvalidHandle,
            "the handle was freed while the listener was being added",
        ));
    }
    out.set(id);
    Ok(())
}

fn forget(handle: usize, id: u64) -> Option<Gate> {
    let mut all = STATUS_LISTENERS.lock();
    let listeners = all.get_mut(&handle)?;
    let gate = listeners.remove(&id);
    if listeners.is_empty() {
        all.remove(&handle);
    }
    gate
}

/// Removes one listener of `handle`: closed (waiting for a call in progress on another
/// thread), then unregistered from the core through `del`.
fn del_gated(
    handle: usize,
    name: &str,
    id: tinystore_listener_id_t,
    del: impl FnOnce(u64),
) -> R<()> {
    let gate = forget(handle, id).ok_or_else(|| {
        err(
            ErrorKind::NotFound,
            format!("no status listener {id} was added through this {name} handle"),
        )
    })?;
    close(&gate);
    del(id);
    Ok(())
}

/// Closes and unregisters every listener of a handle being freed.
pub(crate) fn release_status_listeners(handle: usize, del: impl Fn(u64)) {
    let listeners = STATUS_LISTENERS.lock().remove(&handle).unwrap_or_default();
    for (id, gate) in listeners {
        close(&gate);
        del(id);
    }
}

/// Calls `listener` on every status change of the persister (idle, loading, saving; TinyBase's
/// `addStatusListener`), and sets `*out_id` for `tinystore_persister_del_listener`. The
/// library never frees `user_data`; once the listener is removed or the persister freed, it is
/// not running and will not be called again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_add_status_listener(
    persister: *mut tinystore_persister_t,
    listener: tinystore_persister_status_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out_id, "out_id")?;
        let f = listener.ok_or_else(|| err(ErrorKind::NullArgument, "listener is NULL"))?;
        let (handle, ud) = (persister as usize, user_data as usize);
        with_persister(persister, |p| {
            add_gated(
                handle,
                out,
                |call| Ok(p.add_status_listener(call)),
                // SAFETY: the registered callback with its registered user data.
                move |s| unsafe { f(ud as *mut c_void, handle as *mut _, c_status(s)) },
                |id| {
                    p.del_listener(id);
                },
            )
        })
    })
}

/// Removes a status listener added through this persister handle (also from inside a
/// listener); when this returns it is not running on another thread. An unknown id is
/// `TINYSTORE_STATUS_NOT_FOUND`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_persister_del_listener(
    persister: *mut tinystore_persister_t,
    id: tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        with_persister(persister, |p| {
            del_gated(persister as usize, "persister", id, |id| {
                p.del_listener(id);
            })
        })
    })
}

/// Calls `listener` on every status change of the synchronizer (`LOADING` while it applies
/// what peers sent, `SAVING` while it sends, then `IDLE`), and sets `*out_id` for
/// `tinystore_ws_synchronizer_del_listener`. `user_data` as for persister status listeners.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_add_status_listener(
    synchronizer: *mut tinystore_ws_synchronizer_t,
    listener: tinystore_synchronizer_status_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out_id, "out_id")?;
        let f = listener.ok_or_else(|| err(ErrorKind::NullArgument, "listener is NULL"))?;
        let (handle, ud) = (synchronizer as usize, user_data as usize);
        with_synchronizer(synchronizer, |s| {
            add_gated(
                handle,
                out,
                |call| Ok(s.add_status_listener(call)),
                // SAFETY: the registered callback with its registered user data.
                move |st| unsafe { f(ud as *mut c_void, handle as *mut _, c_status(st)) },
                |id| {
                    s.del_listener(id);
                },
            )
        })
    })
}

/// Removes a status listener added through this synchronizer handle (also from inside a
/// listener); when this returns it is not running on another thread. An unknown id is
/// `TINYSTORE_STATUS_NOT_FOUND`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_ws_synchronizer_del_listener(
    synchronizer: *mut tinystore_ws_synchronizer_t,
    id: tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        with_synchronizer(synchronizer, |s| {
            del_gated(synchronizer as usize, "synchronizer", id, |id| {
                s.del_listener(id);
            })
        })
    })
}
