//! Relationships: each local row's remote row id, by a cell or a C callback.

use super::*;
use tinystore_core::views::{Relationships, Source};
use tinystore_view_event_kind_t as V;

/// Creates the Relationships of a store (or MergeableStore) into `*out`; free it with
/// `tinystore_relationships_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_new(
    store: *mut tinystore_store_t,
    out: *mut *mut tinystore_relationships_t,
) -> tinystore_status_t {
    guard(|| view_new::<Relationships, _>(store, out))
}

/// Frees a Relationships handle (its definitions, store listeners and listeners go; none is
/// called).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_free(
    relationships: *mut tinystore_relationships_t,
) -> tinystore_status_t {
    guard(|| view_free::<Relationships, _>(relationships))
}

/// Defines (or replaces) relationship `relationship_id` from rows of `local_table_id` to rows
/// of `remote_table_id` (TinyBase's `setRelationshipDefinition`). The remote row id is what
/// `remote_fn` sets (a STRING; anything else: no link) when it is not NULL, else the value of
/// cell `remote_cell_id` (one of the two is required). `user_data` as for indexes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_set_relationship_definition(
    relationships: *mut tinystore_relationships_t,
    relationship_id: *const c_char,
    local_table_id: *const c_char,
    remote_table_id: *const c_char,
    remote_cell_id: *const c_char,
    remote_fn: tinystore_row_fn_t,
    user_data: *mut c_void,
) -> tinystore_status_t {
    guard(|| {
        let (id, local, remote) = unsafe {
            (
                str_arg(relationship_id, "relationship_id")?,
                str_arg(local_table_id, "local_table_id")?,
                str_arg(remote_table_id, "remote_table_id")?,
            )
        };
        let source = unsafe {
            source(
                remote_cell_id,
                "remote_cell_id",
                remote_fn,
                user_data,
                "remote row id",
                |c| Source::func(c.id()),
            )?
        }
        .ok_or_else(|| {
            err(
                ErrorKind::NullArgument,
                "remote_cell_id and remote_fn are NULL",
            )
        })?;
        view_do(relationships, |v: &Relationships| {
            v.set_relationship_definition(id, local, remote, source);
        })
    })
}

/// Removes relationship `relationship_id` (unknown ids: no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_del_relationship_definition(
    relationships: *mut tinystore_relationships_t,
    relationship_id: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(relationship_id, "relationship_id")? };
        view_do(relationships, |v: &Relationships| {
            v.del_relationship_definition(id);
        })
    })
}

/// The relationship ids.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_get_relationship_ids(
    relationships: *mut tinystore_relationships_t,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        view_ids(relationships, out_ids, |v: &Relationships| {
            Ok(v.get_relationship_ids())
        })
    })
}

/// Whether relationship `relationship_id` exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_has_relationship(
    relationships: *mut tinystore_relationships_t,
    relationship_id: *const c_char,
    out: *mut bool,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(relationship_id, "relationship_id")? };
        view_value(relationships, out, |v: &Relationships| {
            Ok(v.has_relationship(id))
        })
    })
}

/// The local table of a relationship (`*out` NULL when unknown).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_get_local_table_id(
    relationships: *mut tinystore_relationships_t,
    relationship_id: *const c_char,
    out: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(relationship_id, "relationship_id")? };
        view_opt_string(relationships, out, |v: &Relationships| {
            Ok(v.get_local_table_id(id))
        })
    })
}

/// The remote table of a relationship (`*out` NULL when unknown).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_get_remote_table_id(
    relationships: *mut tinystore_relationships_t,
    relationship_id: *const c_char,
    out: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(relationship_id, "relationship_id")? };
        view_opt_string(relationships, out, |v: &Relationships| {
            Ok(v.get_remote_table_id(id))
        })
    })
}

/// The remote row id of local row `local_row_id` (`*out` NULL when it has none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_get_remote_row_id(
    relationships: *mut tinystore_relationships_t,
    relationship_id: *const c_char,
    local_row_id: *const c_char,
    out: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        let (id, row) = unsafe {
            (
                str_arg(relationship_id, "relationship_id")?,
                str_arg(local_row_id, "local_row_id")?,
            )
        };
        view_opt_string(relationships, out, |v: &Relationships| {
            Ok(v.get_remote_row_id(id, row))
        })
    })
}

/// The local row ids whose remote row is `remote_row_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_get_local_row_ids(
    relationships: *mut tinystore_relationships_t,
    relationship_id: *const c_char,
    remote_row_id: *const c_char,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let (id, row) = unsafe {
            (
                str_arg(relationship_id, "relationship_id")?,
                str_arg(remote_row_id, "remote_row_id")?,
            )
        };
        view_ids(relationships, out_ids, |v: &Relationships| {
            Ok(v.get_local_row_ids(id, row))
        })
    })
}

/// The linked list of rows starting at `first_row_id`, following the remote row ids (for a
/// relationship within one table; TinyBase's `getLinkedRowIds`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_get_linked_row_ids(
    relationships: *mut tinystore_relationships_t,
    relationship_id: *const c_char,
    first_row_id: *const c_char,
    out_ids: *mut tinystore_string_list_t,
) -> tinystore_status_t {
    guard(|| {
        let (id, row) = unsafe {
            (
                str_arg(relationship_id, "relationship_id")?,
                str_arg(first_row_id, "first_row_id")?,
            )
        };
        view_ids(relationships, out_ids, |v: &Relationships| {
            Ok(v.get_linked_row_ids(id, row))
        })
    })
}

/// Adds a listener of `kind` (`TINYSTORE_VIEW_RELATIONSHIP_IDS`, `_REMOTE_ROW_ID` (row:
/// local row), `_LOCAL_ROW_IDS` (row: remote row), `_LINKED_ROW_IDS` (row: first row; both
/// ids required)) for `relationship_id` and `row_id` (NULL: any).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_add_listener(
    relationships: *mut tinystore_relationships_t,
    kind: tinystore_view_event_kind_t,
    relationship_id: *const c_char,
    row_id: *const c_char,
    listener: tinystore_view_listener_fn_t,
    user_data: *mut c_void,
    out_id: *mut tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let (rel, row) = unsafe { listener_ids(relationship_id, row_id)? };
        let l = ViewListener::new(listener, user_data)?;
        let fire = move |_: &Relationships, r: &str, row: &str| {
            l.fire(kind, ViewEvent::of(r, Some(row), false))
        };
        listener_out(relationships, out_id, |v: &Relationships| {
            let id = match kind {
                V::TINYSTORE_VIEW_RELATIONSHIP_IDS => {
                    v.add_relationship_ids_listener(move |_| l.fire(kind, ViewEvent::default()))
                }
                V::TINYSTORE_VIEW_REMOTE_ROW_ID => v.add_remote_row_id_listener(rel, row, fire),
                V::TINYSTORE_VIEW_LOCAL_ROW_IDS => v.add_local_row_ids_listener(rel, row, fire),
                V::TINYSTORE_VIEW_LINKED_ROW_IDS => {
                    let (Some(rel), Some(row)) = (rel, row) else {
                        return Err(err(
                            ErrorKind::NullArgument,
                            "a linked-row-ids listener needs a relationship id and a row id",
                        ));
                    };
                    v.add_linked_row_ids_listener(rel, row, fire)
                }
                other => return Err(bad_kind(other, "relationships")),
            };
            Ok(u64::from(id.0))
        })
    })
}

/// Removes a listener (unknown ids: no change).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_del_listener(
    relationships: *mut tinystore_relationships_t,
    id: tinystore_listener_id_t,
) -> tinystore_status_t {
    guard(|| {
        let id = view_listener_id(id)?;
        view_do(relationships, |v: &Relationships| {
            v.del_listener(id);
        })
    })
}

/// The listener counts as JSON (`{"remoteRowId":n,"localRowIds":n,"linkedRowIds":n}`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_relationships_get_listener_stats(
    relationships: *mut tinystore_relationships_t,
    out_json: *mut *mut c_char,
) -> tinystore_status_t {
    guard(|| {
        stats_out(relationships, out_json, |v: &Relationships| {
            let s = v.get_listener_stats();
            vec![
                ("remoteRowId", s.remote_row_id),
                ("localRowIds", s.local_row_ids),
                ("linkedRowIds", s.linked_row_ids),
            ]
        })
    })
}
