//! Tests of the views' C layer: frozen view-event numbers, listener ids, borrowed pointers,
//! and failing C callbacks.

use super::*;
use tinystore_view_event_kind_t as V;

/// The view-event kinds are frozen: append only.
#[test]
fn view_event_kinds_are_frozen() {
    let kinds = [
        V::TINYSTORE_VIEW_INDEX_IDS,
        V::TINYSTORE_VIEW_HAS_INDEX,
        V::TINYSTORE_VIEW_SLICE_IDS,
        V::TINYSTORE_VIEW_HAS_SLICE,
        V::TINYSTORE_VIEW_SLICE_ROW_IDS,
        V::TINYSTORE_VIEW_RELATIONSHIP_IDS,
        V::TINYSTORE_VIEW_REMOTE_ROW_ID,
        V::TINYSTORE_VIEW_LOCAL_ROW_IDS,
        V::TINYSTORE_VIEW_LINKED_ROW_IDS,
        V::TINYSTORE_VIEW_METRIC_IDS,
        V::TINYSTORE_VIEW_METRIC,
        V::TINYSTORE_VIEW_QUERY_IDS,
        V::TINYSTORE_VIEW_PARAM_VALUES,
        V::TINYSTORE_VIEW_PARAM_VALUE,
        V::TINYSTORE_VIEW_RESULT_TABLE,
        V::TINYSTORE_VIEW_RESULT_TABLE_CELL_IDS,
        V::TINYSTORE_VIEW_RESULT_ROW_COUNT,
        V::TINYSTORE_VIEW_RESULT_ROW_IDS,
        V::TINYSTORE_VIEW_RESULT_SORTED_ROW_IDS,
        V::TINYSTORE_VIEW_RESULT_ROW,
        V::TINYSTORE_VIEW_RESULT_CELL_IDS,
        V::TINYSTORE_VIEW_RESULT_CELL,
        V::TINYSTORE_VIEW_CHECKPOINT_IDS,
        V::TINYSTORE_VIEW_CHECKPOINT,
    ];
    for (number, kind) in kinds.iter().enumerate() {
        assert_eq!(*kind as usize, number, "{kind:?}");
    }
}

#[test]
fn query_listener_ids_round_trip() {
    use tinystore_core::views::queries::QueryListenerId as Q;
    for id in [Q::Result(0), Q::Result(7), Q::Param(0), Q::Param(u32::MAX)] {
        assert_eq!(from_query_listener_id(query_listener_id(id)).ok(), Some(id));
    }
    let err = from_query_listener_id(2 << 32).expect_err("not an id");
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(
        view_listener_id(u64::from(u32::MAX) + 1)
            .err()
            .map(|e| e.kind),
        Some(ErrorKind::NotFound)
    );
}

#[test]
fn borrowed_pointers_are_checked() {
    let value = 5u8;
    let err = lent(&value as *const u8, "row").expect_err("not lent");
    assert_eq!(err.kind, ErrorKind::InvalidHandle);
    let err = lent(ptr::null::<u8>(), "row").expect_err("NULL");
    assert_eq!(err.kind, ErrorKind::NullArgument);
}

/// Slice ids: the `species` cell; fails (with a message) for "bad".
unsafe extern "C" fn species(
    _: *mut c_void,
    row: *const tinystore_row_reader_t,
    _: *const c_char,
    result: *mut tinystore_callback_result_t,
) -> bool {
    let mut cell = empty_cell();
    unsafe {
        assert_eq!(
            tinystore_row_reader_get_cell(row, c"species".as_ptr(), &mut cell),
            S::TINYSTORE_STATUS_OK
        );
        let text = CStr::from_ptr(cell.string).to_owned();
        tinystore_cell_free(&mut cell);
        if text.as_bytes() == b"bad" {
            tinystore_callback_set_error(c"bad species".as_ptr());
            return false;
        }
        tinystore_callback_result_add_id(result, text.as_ptr()) == S::TINYSTORE_STATUS_OK
    }
}

fn slice(indexes: *mut tinystore_indexes_t, slice_id: &CStr) -> Vec<String> {
    let mut list = tinystore_string_list_t {
        items: ptr::null_mut(),
        len: 0,
    };
    unsafe {
        let status = tinystore_indexes_get_slice_row_ids(
            indexes,
            c"i".as_ptr(),
            slice_id.as_ptr(),
            &mut list,
        );
        assert_eq!(status, S::TINYSTORE_STATUS_OK);
        let ids = (0..list.len)
            .map(|i| {
                CStr::from_ptr(*list.items.add(i))
                    .to_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        tinystore_string_list_free(&mut list);
        ids
    }
}

#[test]
fn a_failing_callback_is_a_callback_status_and_the_index_stays_consistent() {
    unsafe {
        let (mut store, mut indexes) = (ptr::null_mut(), ptr::null_mut());
        assert_eq!(tinystore_store_new(&mut store), S::TINYSTORE_STATUS_OK);
        assert_eq!(
            tinystore_indexes_new(store, &mut indexes),
            S::TINYSTORE_STATUS_OK
        );
        let status = tinystore_indexes_set_index_definition(
            indexes,
            c"i".as_ptr(),
            c"t".as_ptr(),
            ptr::null(),
            Some(species),
            ptr::null(),
            None,
            None,
            None,
            ptr::null_mut(),
        );
        assert_eq!(status, S::TINYSTORE_STATUS_OK);
        let set = |row: &CStr, value: &CStr| {
            let cell = tinystore_cell_string(value.as_ptr());
            tinystore_store_set_cell(
                store,
                c"t".as_ptr(),
                row.as_ptr(),
                c"species".as_ptr(),
                &cell,
            )
        };
        assert_eq!(set(c"a", c"dog"), S::TINYSTORE_STATUS_OK);
        assert_eq!(set(c"a", c"bad"), S::TINYSTORE_STATUS_CALLBACK);
        assert_eq!(last_error(), "bad species");
        // The row keeps its slice; the store has the write.
        assert_eq!(slice(indexes, c"dog"), ["a"]);
        assert_eq!(set(c"b", c"dog"), S::TINYSTORE_STATUS_OK);
        assert_eq!(slice(indexes, c"dog"), ["a", "b"]);
        assert_eq!(tinystore_indexes_free(indexes), S::TINYSTORE_STATUS_OK);
        assert_eq!(
            tinystore_indexes_free(indexes),
            S::TINYSTORE_STATUS_INVALID_HANDLE
        );
        assert_eq!(tinystore_store_free(store), S::TINYSTORE_STATUS_OK);
    }
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(tinystore_last_error_message()) }
        .to_str()
        .unwrap()
        .to_string()
}
