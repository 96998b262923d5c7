//! Tests of the C layer's frozen numbers and conversions.

use super::*;

/// The frozen numbers: a status, cell type, listener kind, persister or connection status
/// may be appended to, never renumbered or reused. Update this list only by appending.
#[test]
fn frozen_discriminants() {
    use tinystore_status_t::*;
    let statuses = [
        (TINYSTORE_STATUS_OK, 0, "TINYSTORE_STATUS_OK"),
        (
            TINYSTORE_STATUS_NULL_ARGUMENT,
            1,
            "TINYSTORE_STATUS_NULL_ARGUMENT",
        ),
        (
            TINYSTORE_STATUS_INVALID_UTF8,
            2,
            "TINYSTORE_STATUS_INVALID_UTF8",
        ),
        (
            TINYSTORE_STATUS_INVALID_JSON,
            3,
            "TINYSTORE_STATUS_INVALID_JSON",
        ),
        (
            TINYSTORE_STATUS_INVALID_HANDLE,
            4,
            "TINYSTORE_STATUS_INVALID_HANDLE",
        ),
        (TINYSTORE_STATUS_NOT_FOUND, 5, "TINYSTORE_STATUS_NOT_FOUND"),
        (
            TINYSTORE_STATUS_INVALID_ARGUMENT,
            6,
            "TINYSTORE_STATUS_INVALID_ARGUMENT",
        ),
        (
            TINYSTORE_STATUS_INVALID_SCHEMA,
            7,
            "TINYSTORE_STATUS_INVALID_SCHEMA",
        ),
        (
            TINYSTORE_STATUS_NOT_MERGEABLE,
            8,
            "TINYSTORE_STATUS_NOT_MERGEABLE",
        ),
        (TINYSTORE_STATUS_REJECTED, 9, "TINYSTORE_STATUS_REJECTED"),
        (
            TINYSTORE_STATUS_INVALID_STATE,
            10,
            "TINYSTORE_STATUS_INVALID_STATE",
        ),
        (TINYSTORE_STATUS_STORAGE, 11, "TINYSTORE_STATUS_STORAGE"),
        (
            TINYSTORE_STATUS_UNSUPPORTED,
            12,
            "TINYSTORE_STATUS_UNSUPPORTED",
        ),
        (TINYSTORE_STATUS_NETWORK, 13, "TINYSTORE_STATUS_NETWORK"),
        (TINYSTORE_STATUS_PANIC, 14, "TINYSTORE_STATUS_PANIC"),
        (TINYSTORE_STATUS_CALLBACK, 15, "TINYSTORE_STATUS_CALLBACK"),
    ];
    let mut seen = std::collections::HashSet::new();
    for (status, number, name) in statuses {
        assert_eq!(status as i32, number, "{name}");
        assert!(seen.insert(number), "duplicate status number {number}");
        let got = unsafe { CStr::from_ptr(tinystore_status_name(number)) };
        assert_eq!(got.to_str().unwrap(), name);
    }
    assert_eq!(
        unsafe { CStr::from_ptr(tinystore_status_name(16)) }
            .to_str()
            .unwrap(),
        "TINYSTORE_STATUS_UNKNOWN"
    );

    use tinystore_cell_type_t as T;
    let cells = [
        (T::TINYSTORE_CELL_TYPE_NONE, 0),
        (T::TINYSTORE_CELL_TYPE_STRING, 1),
        (T::TINYSTORE_CELL_TYPE_NUMBER, 2),
        (T::TINYSTORE_CELL_TYPE_BOOLEAN, 3),
        (T::TINYSTORE_CELL_TYPE_NULL, 4),
        (T::TINYSTORE_CELL_TYPE_JSON, 5),
    ];
    for (t, n) in cells {
        assert_eq!(t as i32, n);
    }
    assert_eq!(K::TINYSTORE_LISTENER_HAS_TABLES as i32, 0);
    assert_eq!(K::TINYSTORE_LISTENER_CELL as i32, 14);
    assert_eq!(K::TINYSTORE_LISTENER_DID_FINISH_TRANSACTION as i32, 24);
    use tinystore_persister_status_t as P;
    assert_eq!(P::TINYSTORE_PERSISTER_STATUS_IDLE as i32, 0);
    assert_eq!(P::TINYSTORE_PERSISTER_STATUS_LOADING as i32, 1);
    assert_eq!(P::TINYSTORE_PERSISTER_STATUS_SAVING as i32, 2);
    use tinystore_connection_status_t as C;
    assert_eq!(C::TINYSTORE_CONNECTION_STATUS_CONNECTING as i32, 0);
    assert_eq!(C::TINYSTORE_CONNECTION_STATUS_CONNECTED as i32, 1);
    assert_eq!(C::TINYSTORE_CONNECTION_STATUS_DISCONNECTED as i32, 2);
    use tinystore_auth_purpose_t as AP;
    assert_eq!(AP::TINYSTORE_AUTH_PURPOSE_JOIN as i32, 0);
    assert_eq!(AP::TINYSTORE_AUTH_PURPOSE_STATS as i32, 1);
    use tinystore_auth_decision_t as D;
    assert_eq!(D::TINYSTORE_AUTH_ACCEPT as i32, 0);
    assert_eq!(D::TINYSTORE_AUTH_READ_ONLY as i32, 1);
    assert_eq!(D::TINYSTORE_AUTH_REJECT as i32, 2);
}

#[test]
fn version_macros_match_the_crate() {
    assert_eq!(
        TINYSTORE_VERSION_MAJOR.to_string(),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        TINYSTORE_VERSION_MINOR.to_string(),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        TINYSTORE_VERSION_PATCH.to_string(),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    let v = unsafe { CStr::from_ptr(tinystore_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(tinystore_last_error_message()) }
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn handles_are_checked_and_freed_once() {
    unsafe {
        let mut store = ptr::null_mut();
        assert_eq!(tinystore_store_new(&mut store), S::TINYSTORE_STATUS_OK);
        assert_eq!(last_error(), "");
        let dog = tinystore_cell_string(c"dog".as_ptr());
        assert_eq!(
            tinystore_store_set_cell(
                store,
                c"pets".as_ptr(),
                c"fido".as_ptr(),
                c"species".as_ptr(),
                &dog
            ),
            S::TINYSTORE_STATUS_OK
        );
        let mut cell = empty_cell();
        assert_eq!(
            tinystore_store_get_cell(
                store,
                c"pets".as_ptr(),
                c"fido".as_ptr(),
                c"species".as_ptr(),
                &mut cell
            ),
            S::TINYSTORE_STATUS_OK
        );
        assert_eq!(
            cell.r#type,
            tinystore_cell_type_t::TINYSTORE_CELL_TYPE_STRING
        );
        assert!(cell.owned);
        assert_eq!(CStr::from_ptr(cell.string).to_str().unwrap(), "dog");
        tinystore_cell_free(&mut cell);
        tinystore_cell_free(&mut cell);
        assert_eq!(tinystore_store_free(store), S::TINYSTORE_STATUS_OK);
        assert_eq!(
            tinystore_store_free(store),
            S::TINYSTORE_STATUS_INVALID_HANDLE
        );
        assert!(last_error().contains("already freed"), "{}", last_error());
        assert_eq!(
            tinystore_store_free(0x1234 as *mut tinystore_store_t),
            S::TINYSTORE_STATUS_INVALID_HANDLE
        );
        assert_eq!(
            tinystore_store_free(ptr::null_mut()),
            S::TINYSTORE_STATUS_NULL_ARGUMENT
        );
    }
}

#[test]
fn bad_inputs_are_errors() {
    unsafe {
        let mut store = ptr::null_mut();
        assert_eq!(tinystore_store_new(&mut store), S::TINYSTORE_STATUS_OK);
        let bad = [0xffu8, 0xfe, 0];
        let one = tinystore_cell_number(1.0);
        assert_eq!(
            tinystore_store_set_cell(
                store,
                bad.as_ptr().cast(),
                c"r".as_ptr(),
                c"c".as_ptr(),
                &one
            ),
            S::TINYSTORE_STATUS_INVALID_UTF8
        );
        assert_eq!(
            tinystore_store_set_json(store, c"[{".as_ptr()),
            S::TINYSTORE_STATUS_INVALID_JSON
        );
        let mut raw = tinystore_cell_number(1.0);
        ptr::write(ptr::addr_of_mut!(raw).cast::<c_int>(), 77);
        assert_eq!(
            tinystore_store_set_value(store, c"v".as_ptr(), &raw),
            S::TINYSTORE_STATUS_INVALID_ARGUMENT
        );
        let scalar = tinystore_cell_json(c"5".as_ptr());
        assert_eq!(
            tinystore_store_set_value(store, c"v".as_ptr(), &scalar),
            S::TINYSTORE_STATUS_INVALID_ARGUMENT
        );
        let mut persister = ptr::null_mut();
        assert_eq!(
            tinystore_persister_save(store.cast()),
            S::TINYSTORE_STATUS_INVALID_HANDLE
        );
        assert_eq!(
            tinystore_file_persister_new(store, ptr::null(), &mut persister),
            S::TINYSTORE_STATUS_NULL_ARGUMENT
        );
        assert_eq!(
            tinystore_mergeable_store_merge(store, store),
            S::TINYSTORE_STATUS_NOT_MERGEABLE
        );
        assert_eq!(tinystore_store_free(store), S::TINYSTORE_STATUS_OK);
    }
}

/// Every exported function runs its body inside `catch_unwind` (through `guard` or
/// `guard_value`): no panic can cross the ABI.
#[test]
fn every_entry_point_catches_panics() {
    let sources = [
        include_str!("library.rs"),
        include_str!("store.rs"),
        include_str!("store_content.rs"),
        include_str!("listeners.rs"),
        include_str!("listener_fns.rs"),
        include_str!("mergeable.rs"),
        include_str!("persist.rs"),
        include_str!("persist_custom.rs"),
        include_str!("sync.rs"),
        include_str!("status_listeners.rs"),
        include_str!("server.rs"),
        include_str!("view_callbacks.rs"),
        include_str!("indexes.rs"),
        include_str!("relationships.rs"),
        include_str!("metrics.rs"),
        include_str!("checkpoints.rs"),
        include_str!("queries.rs"),
        include_str!("query_builder.rs"),
    ];
    let marker = concat!("#[unsafe(", "no_mangle)]");
    let mut checked = Vec::new();
    for (source, i) in sources
        .iter()
        .flat_map(|s| s.match_indices(marker).map(move |(i, _)| (*s, i)))
    {
        let item = &source[i..];
        let body_start = item.find(") ").expect("a signature");
        let body_end = item.find("\n}\n").expect("the end of the body");
        let body = &item[body_start..body_end];
        let name = item.lines().nth(1).unwrap_or_default();
        assert!(
            body.contains("guard(") || body.contains("guard_value("),
            "{name} does not run inside guard()"
        );
        let fn_name = item
            .split("extern \"C\" fn ")
            .nth(1)
            .and_then(|rest| rest.split('(').next())
            .unwrap_or_default();
        checked.push(fn_name.to_string());
    }
    // The sources listed above are all of the ABI: every function the header declares was
    // checked, and nothing else.
    let header = include_str!("../../../include/tinystore.h");
    let mut declared: Vec<String> = header
        .lines()
        .filter(|l| {
            !l.starts_with([' ', '*', '/', '#']) && l.contains("tinystore_") && l.contains('(')
        })
        .filter_map(|l| {
            let before_paren = l.split('(').next()?;
            let name = before_paren.rsplit([' ', '*']).next()?;
            name.starts_with("tinystore_").then(|| name.to_string())
        })
        .collect();
    declared.sort();
    checked.sort();
    assert!(!declared.is_empty());
    assert_eq!(
        checked, declared,
        "exported functions vs the header's declarations"
    );
}

#[test]
fn panics_become_statuses() {
    let status = guard(|| panic!("boom"));
    assert_eq!(status, S::TINYSTORE_STATUS_PANIC);
    assert!(last_error().contains("boom"), "{}", last_error());
    assert_eq!(guard_value(7, || panic!("boom")), 7);
    // A failed application callback carried as a panic is the callback status, not a panic.
    let status = guard(|| CallbackFailure::raise("slice fn failed"));
    assert_eq!(status, S::TINYSTORE_STATUS_CALLBACK);
    assert_eq!(last_error(), "slice fn failed");
}

#[test]
fn handle_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Object>();
}

/// The core's error kinds and listener kinds are the C numbers.
#[test]
fn core_codes_are_the_c_numbers() {
    use tinystore_core::error_kind::ErrorKind;
    for kind in ErrorKind::ALL {
        assert_eq!(status(*kind) as u32, kind.code(), "{kind}");
    }
    for (code, kind) in KINDS.iter().enumerate() {
        assert_eq!(*kind as usize, code);
    }
}
