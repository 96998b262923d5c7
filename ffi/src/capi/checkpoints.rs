//! Checkpoints: undo and redo over a store.

use super::*;
use tinystore_core::views::Checkpoints;
use tinystore_view_event_kind_t as V;

/// Creates the Checkpoints of a store (or MergeableStore) into `*out` (checkpoint `"0"`
/// records its current state); free it with `tinystore_checkpoints_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_new(
    store: *mut tinystore_store_t,
    out: *mut *mut tinystore_checkpoints_t,
) -> tinystore_status_t {
    guard(|| view_new::<Checkpoints, _>(store, out))
}

/// Frees a Checkpoints handle (its store listeners and listeners go; none is called).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_free(
    checkpoints: *mut tinystore_checkpoints_t,
) -> tinystore_status_t {
    guard(|| view_free::<Checkpoints, _>(checkpoints))
}

/// Records the changes since the current checkpoint as a new one labelled `label` (NULL:
/// `""`) and sets `*out_id` (NULL allowed) to its id (free with `tinystore_string_free`);
/// without changes, the current id and nothing changes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_add_checkpoint(
    checkpoints: *mut tinystore_checkpoints_t,
    label: *const c_char,
    out_id: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let label = unsafe { opt_str_arg(label, "label")? }.unwrap_or("");
        let id = with_view(checkpoints, |v: &Checkpoints| Ok(v.add_checkpoint(label)))?;
        if !out_id.is_null() {
            Out::new(out_id, "out_id")?.set(alloc_str(&id));
        }
        Ok(())
    })
}

/// Sets the label of checkpoint `checkpoint_id` (unknown ids: no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_set_checkpoint(
    checkpoints: *mut tinystore_checkpoints_t,
    checkpoint_id: *const c_char,
    label: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let (id, label) = unsafe {
            (
                str_arg(checkpoint_id, "checkpoint_id")?,
                str_arg(label, "label")?,
            )
        };
        view_do(checkpoints, |v: &Checkpoints| {
            v.set_checkpoint(id, label);
        })
    })
}

/// The label of checkpoint `checkpoint_id` (`*out` NULL when unknown).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_get_checkpoint(
    checkpoints: *mut tinystore_checkpoints_t,
    checkpoint_id: *const c_char,
    out: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(checkpoint_id, "checkpoint_id")? };
        view_opt_string(checkpoints, out, |v: &Checkpoints| Ok(v.get_checkpoint(id)))
    })
}

/// The checkpoint ids: those to go back to (oldest first), the current one (`*out_current`
/// NULL after a change not yet recorded) and those to go forward to. Free the lists with
/// `tinystore_string_list_free` and the current id with `tinystore_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_get_checkpoint_ids(
    checkpoints: *mut tinystore_checkpoints_t,
    out_backward: *mut tinystore_string_list_t,
    out_current: *mut *mut c_char,
    out_forward: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let backward = Out::new(out_backward, "out_backward")?;
        let current = Out::new(out_current, "out_current")?;
        let forward = Out::new(out_forward, "out_forward")?;
        let (b, c, f) = with_view(checkpoints, |v: &Checkpoints| Ok(v.get_checkpoint_ids()))?;
        backward.set(string_list(&b));
        current.set(c.map_or(ptr::null_mut(), |c| alloc_str(&c)));
        forward.set(string_list(&f));
        Ok(())
    })
}

/// Whether checkpoint `checkpoint_id` exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_has_checkpoint(
    checkpoints: *mut tinystore_checkpoints_t,
    checkpoint_id: *const c_char,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(checkpoint_id, "checkpoint_id")? };
        view_value(checkpoints, out, |v: &Checkpoints| Ok(v.has_checkpoint(id)))
    })
}

/// Goes back one checkpoint (TinyBase's `goBackward`; none left: no change). The store's
/// listeners fire.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_go_backward(
    checkpoints: *mut tinystore_checkpoints_t,
) -> tinystore_status_t {
    guard(|| {
        view_do(checkpoints, |v: &Checkpoints| {
            v.go_backward();
        })
    })
}

/// Goes forward one checkpoint (TinyBase's `goForward`; none left: no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_go_forward(
    checkpoints: *mut tinystore_checkpoints_t,
) -> tinystore_status_t {
    guard(|| {
        view_do(checkpoints, |v: &Checkpoints| {
            v.go_forward();
        })
    })
}

/// Goes to checkpoint `checkpoint_id`, backward or forward (TinyBase's `goTo`; unknown ids:
/// no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_go_to(
    checkpoints: *mut tinystore_checkpoints_t,
    checkpoint_id: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(checkpoint_id, "checkpoint_id")? };
        view_do(checkpoints, |v: &Checkpoints| {
            v.go_to(id);
        })
    })
}

/// Forgets every checkpoint; the current state becomes the only one (TinyBase's `clear`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_clear(
    checkpoints: *mut tinystore_checkpoints_t,
) -> tinystore_status_t {
    guard(|| {
        view_do(checkpoints, |v: &Checkpoints| {
            v.clear();
        })
    })
}

/// Forgets the checkpoints ahead of the current one (TinyBase's `clearForward`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_clear_forward(
    checkpoints: *mut tinystore_checkpoints_t,
) -> tinystore_status_t {
    guard(|| {
        view_do(checkpoints, |v: &Checkpoints| {
            v.clear_forward();
        })
    })
}

/// Keeps at most `size` checkpoints behind the current one (TinyBase's `setSize`; default 100).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_set_size(
    checkpoints: *mut tinystore_checkpoints_t,
    size: usize,
) -> tinystore_status_t {
    guard(|| {
        view_do(checkpoints, |v: &Checkpoints| {
            v.set_size(size);
        })
    })
}

/// Adds a listener of `kind` (`TINYSTORE_VIEW_CHECKPOINT_IDS`, or `_CHECKPOINT` for
/// `checkpoint_id`, NULL: any).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_add_listener(
    checkpoints: *mut tinystore_checkpoints_t,
    kind: tinystore_view_event_kind_t,
    checkpoint_id: *const c_char,
    listener: tinystore_view_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let checkpoint = unsafe { opt_str_arg(checkpoint_id, "checkpoint_id")? };
        let l = ViewListener::new(listener, user_data)?;
        listener_out(checkpoints, out_id, |v: &Checkpoints| {
            let id = match kind {
                V::TINYSTORE_VIEW_CHECKPOINT_IDS => {
                    v.add_checkpoint_ids_listener(move |_| l.fire(kind, ViewEvent::default()))
                }
                V::TINYSTORE_VIEW_CHECKPOINT => v
                    .add_checkpoint_listener(checkpoint, move |_, c| {
                        l.fire(kind, ViewEvent::of(c, None, false))
                    }),
                other => return Err(bad_kind(other, "checkpoints")),
            };
            Ok(u64::from(id.0))
        })
    })
}

/// Removes a listener (unknown ids: no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_del_listener(
    checkpoints: *mut tinystore_checkpoints_t,
    id: tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let id = view_listener_id(id)?;
        view_do(checkpoints, |v: &Checkpoints| {
            v.del_listener(id);
        })
    })
}

/// The listener counts as JSON (`{"checkpointIds":n,"checkpoint":n}`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_checkpoints_get_listener_stats(
    checkpoints: *mut tinystore_checkpoints_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        stats_out(checkpoints, out_json, |v: &Checkpoints| {
            let s = v.get_listener_stats();
            vec![
                ("checkpointIds", s.checkpoint_ids),
                ("checkpoint", s.checkpoint),
            ]
        })
    })
}
