//! What must hold for *any* text fed to tinystore-core's decoders of outside bytes.
//!
//! Shared by the cargo-fuzz targets (`core/fuzz/fuzz_targets/*.rs`) and by the CI property
//! test `core/tests/decoders.rs`, which includes this file with `#[path]`; it may therefore use
//! nothing but `tinystore_core`, `serde_json` and `std`.
//!
//! Every `check_*` function takes arbitrary text and panics (so that the fuzzer or proptest
//! reports it) iff a decoder panicked or broke one of these properties:
//!
//! - **no panic**: each decoder returns `Ok` or `Err` on any input;
//! - **atomic rejection**: on `Err`, the store it was called on is unchanged (content, schemas
//!   and, for a MergeableStore, every stamp and hash);
//! - **round trip**: on `Ok`, what the store (or decoded value) writes back out is read back by
//!   the same decoder, and loading it into a fresh store reproduces it exactly.

use std::sync::OnceLock;

use serde_json::Value as Json;
use tinystore_core::content;
use tinystore_core::hlc;
use tinystore_core::json::{self, ContainerKind};
use tinystore_core::mergeable::{JsonForm, MergeableContent};
use tinystore_core::{Cell, MergeableStore, Store, ops};

/// The fixed time (ms) of every store made here, so that runs are reproducible.
pub const NOW: u64 = 1_700_000_000_000;

/// An empty MergeableStore on the fixed clock.
pub fn fixed_mergeable() -> MergeableStore {
    MergeableStore::with_clock(Some("fuzz"), Box::new(|| NOW))
}

/// Writes the same small content into `store`: cells of several types, a tombstone (a
/// deleted cell) and values, so that "unchanged" is a meaningful check.
fn seed(store: &Store) {
    store
        .set_cell("t", "r", "c", 1)
        .set_cell("t", "r", "s", "x")
        .set_cell(
            "t",
            "1",
            "o",
            Cell::from_json(serde_json::json!({"a": [1, "b"]})),
        )
        .set_cell("t", "r", "gone", true)
        .del_cell("t", "r", "gone", false)
        .set_cell(
            "u",
            "0",
            "a",
            Cell::from_json(serde_json::json!([null, 2.5])),
        )
        .set_value("v", false)
        .set_value("w", -0.5);
}

/// The seed content as (`get_mergeable_content_json()`, `get_json()`), made once: loading it
/// is cheaper than making it again.
fn seed_json() -> &'static (String, String) {
    static SEED: OnceLock<(String, String)> = OnceLock::new();
    SEED.get_or_init(|| {
        let store = fixed_mergeable();
        seed(&store);
        (store.get_mergeable_content_json(), store.get_json())
    })
}

/// A MergeableStore on the fixed clock holding the seed content, stamps and a tombstone
/// included.
pub fn seeded_mergeable() -> MergeableStore {
    let store = fixed_mergeable();
    if let Err(e) = store.set_mergeable_content_json(&seed_json().0) {
        panic!("the seed content does not load: {e}");
    }
    store
}

/// A plain Store holding the seed content.
pub fn seeded_store() -> Store {
    let store = Store::new();
    if let Err(e) = store.set_json(&seed_json().1) {
        panic!("the seed content does not load: {e}");
    }
    store
}

/// Everything observable about a store: its JSON, its schemas and, if it is a MergeableStore,
/// its full stamped content.
fn snapshot(store: &Store) -> (String, String, Option<String>) {
    (
        store.get_json(),
        store.get_schema_json(),
        MergeableStore::from_store(store).map(|m| m.get_mergeable_content_json()),
    )
}

/// The container kind of a parsed value.
fn kind_of(value: &Json) -> Option<ContainerKind> {
    match value {
        Json::Object(_) => Some(ContainerKind::Object),
        Json::Array(_) => Some(ContainerKind::Array),
        _ => None,
    }
}

/// `json::parse`, `json::container_kind` and `Cell::from_encoded_str` on `text`.
///
/// `parse` and `container_kind` agree (except that only `parse` limits the nesting), a parsed
/// value stringifies to text that parses to the same value, and a decoded cell encodes back to
/// exactly `text`.
pub fn check_json(text: &str) {
    let kind = json::container_kind(text);
    match json::parse(text) {
        Ok(value) => {
            assert_eq!(kind, kind_of(&value), "container_kind disagrees with parse");
            let once = json::stringify(&value);
            let again = json::parse(&once)
                .unwrap_or_else(|e| panic!("stringify output {once:?} does not parse: {e}"));
            assert_eq!(json::stringify(&again), once, "stringify is not stable");
        }
        Err(error) => {
            // container_kind has no nesting limit; that is the only way they may disagree.
            assert!(
                kind.is_none() || error.message.contains("nesting deeper than"),
                "container_kind accepts what parse rejects: {error}"
            );
        }
    }
    check_cell(text);
}

/// `Cell::from_encoded_str(text)`: an object or array iff `text` is U+FFFD followed by a
/// JSON container, otherwise the string itself; its encoded JSON is the JSON string of `text`.
pub fn check_cell(text: &str) {
    let cell = Cell::from_encoded_str(text);
    match &cell {
        Cell::Object(inner) | Cell::Array(inner) => {
            assert!(cell.is_valid(), "decoded container cell is invalid");
            assert_eq!(text.strip_prefix('\u{FFFD}'), Some(&**inner));
        }
        Cell::String(s) => assert_eq!(&**s, text),
        other => panic!("from_encoded_str gave a non-string, non-container {other:?}"),
    }
    let mut encoded = String::new();
    cell.write_encoded_json(&mut encoded);
    assert_eq!(json::parse(&encoded), Ok(Json::String(text.to_owned())));
    assert_eq!(cell.encoded().is_some(), cell.as_str().is_none());
}

/// A decoded MergeableContent re-renders, in each form, to text that decodes to the same.
pub fn check_content_round_trip(content: &MergeableContent) {
    for form in [JsonForm::CONTENT, JsonForm::CHANGES] {
        let text = content.to_json_string(form);
        let again = MergeableContent::from_json_str(&text, form.hashes, u64::MAX)
            .unwrap_or_else(|e| panic!("rendered {text:?} does not parse back: {e}"));
        assert_eq!(again.to_json_string(form), text, "rendering is not stable");
    }
    // TinyBase's public (decoded) form is JSON too; container_kind has no nesting limit, so
    // object cells nested deeper than json::MAX_PARSE_DEPTH do not matter here.
    let public = content.to_json_string(JsonForm::PUBLIC_CONTENT);
    assert_eq!(
        json::container_kind(&public),
        Some(ContainerKind::Array),
        "public form {public:?} is not a JSON array"
    );
}

/// After a successful call on `store`: its stamped content parses back with
/// `from_json_str(.., true, u64::MAX)`, and a fresh replica loaded with it is identical.
pub fn check_mergeable_store(store: &MergeableStore) {
    let text = store.get_mergeable_content_json();
    let content = MergeableContent::from_json_str(&text, true, u64::MAX)
        .unwrap_or_else(|e| panic!("own content {text:?} does not parse back: {e}"));
    assert_eq!(content.to_json_string(JsonForm::CONTENT), text);
    // The replica's clock is at the latest time an HLC can hold, so that it accepts every valid
    // HLC the store may hold (its own are at most five minutes ahead of `NOW`, plus counter
    // overflow).
    let replica = MergeableStore::with_clock(Some("replica"), Box::new(|| hlc::MAX_TIME));
    if let Err(e) = replica.set_mergeable_content_json(&text) {
        panic!("own content {text:?} does not load into a replica: {e}");
    }
    assert_eq!(replica.get_mergeable_content_json(), text);
    // Same content, compared regardless of order: a table, row or value deleted and added
    // again moves to the end of the store's order but keeps its place among the stamps, from
    // which the replica takes its order; that difference is expected.
    assert_eq!(replica.get_content(), store.get_content());
    check_store_round_trip(store);
}

/// After a successful call on `store`: its JSON parses, and a fresh Store given it with
/// `set_json` holds the same; its schemas likewise.
pub fn check_store_round_trip(store: &Store) {
    let text = store.get_json();
    if let Err(e) = json::parse(&text) {
        panic!("get_json output {text:?} does not parse: {e}");
    }
    let fresh = Store::new();
    if let Err(e) = fresh.set_json(&text) {
        panic!("get_json output {text:?} is refused by set_json: {e}");
    }
    assert_eq!(fresh.get_json(), text, "set_json(get_json()) differs");

    let tables_schema = store.get_tables_schema_json();
    if store.has_tables_schema() {
        let fresh = Store::new();
        if let Err(e) = fresh.set_tables_schema_json(&tables_schema) {
            panic!("own tables schema {tables_schema:?} is refused: {e}");
        }
        assert_eq!(fresh.get_tables_schema_json(), tables_schema);
    }
    let values_schema = store.get_values_schema_json();
    if store.has_values_schema() {
        let fresh = Store::new();
        if let Err(e) = fresh.set_values_schema_json(&values_schema) {
            panic!("own values schema {values_schema:?} is refused: {e}");
        }
        assert_eq!(fresh.get_values_schema_json(), values_schema);
    }
}

/// Runs `call` on `store`; on `Err` asserts that nothing changed, on `Ok` checks round trips.
/// Returns whether the call succeeded (and so may have changed the store).
fn atomic<E: std::fmt::Display>(
    store: &Store,
    what: &str,
    call: impl FnOnce(&Store) -> Result<(), E>,
) -> bool {
    let before = snapshot(store);
    match call(store) {
        Err(error) => {
            assert_eq!(
                snapshot(store),
                before,
                "{what} failed ({error}) but changed the store"
            );
            false
        }
        Ok(()) => {
            match MergeableStore::from_store(store) {
                Some(mergeable) => check_mergeable_store(&mergeable),
                None => check_store_round_trip(store),
            }
            true
        }
    }
}

/// The MergeableContent decoder and both MergeableStore entry points, on a fresh and on a
/// seeded store each.
pub fn check_mergeable(text: &str) {
    for has_hashes in [false, true] {
        for max_time in [u64::MAX, NOW] {
            if let Ok(content) = MergeableContent::from_json_str(text, has_hashes, max_time) {
                check_content_round_trip(&content);
            }
        }
    }
    for make in [fixed_mergeable, seeded_mergeable] {
        // A store that refused the text is unchanged (checked), so it can be used again.
        let mut store = make();
        if atomic(&store, "apply_mergeable_changes_json", |_| {
            store.apply_mergeable_changes_json(text).map(drop)
        }) {
            // Local writes after a merge are stamped and round-trip too.
            store.set_cell("t", "r", "c", 2).del_value("v");
            check_mergeable_store(&store);
            store = make();
        }
        atomic(&store, "set_mergeable_content_json", |_| {
            store.set_mergeable_content_json(text).map(drop)
        });
    }
}

/// `Store::set_json`, `set_tables_json`, `set_values_json`, `set_tables_schema_json` and
/// `set_values_schema_json`, each on a seeded plain Store and a seeded MergeableStore.
pub fn check_store(text: &str) {
    // The one-pass decoder of persisted documents takes only what the checked path reads the
    // same way.
    if let Some(fast) = content::content_from_str(text) {
        let doc = json::parse(text).expect("the one-pass decoder took invalid JSON");
        let parts = doc
            .as_array()
            .expect("the one-pass decoder took a non-array");
        assert_eq!(parts.len(), 2, "the one-pass decoder took {text:?}");
        let slow = (
            content::tables_from_json(&parts[0], true).expect("checked tables"),
            content::values_from_json(&parts[1], true).expect("checked values"),
        );
        assert_eq!(fast, slow, "the one-pass decoder differs on {text:?}");
    }
    type Setter = fn(&Store, &str) -> Result<(), tinystore_core::StoreError>;
    let setters: [(&str, Setter); 5] = [
        ("set_json", |s, t| s.set_json(t).map(drop)),
        ("set_tables_json", |s, t| s.set_tables_json(t).map(drop)),
        ("set_values_json", |s, t| s.set_values_json(t).map(drop)),
        ("set_tables_schema_json", |s, t| {
            s.set_tables_schema_json(t).map(drop)
        }),
        ("set_values_schema_json", |s, t| {
            s.set_values_schema_json(t).map(drop)
        }),
    ];
    let makers: [fn() -> Store; 2] = [seeded_store, || seeded_mergeable().store().clone()];
    for make in makers {
        // A store that refused the text is unchanged (checked), so it can be used again.
        let mut store = make();
        for (what, setter) in setters {
            if atomic(&store, what, |s| setter(s, text)) {
                store = make();
            }
        }
    }
}

/// `json::parse` then `ops::apply_ops` on a seeded plain Store and a seeded MergeableStore: a
/// script that `ops::check_ops` refuses fails with the same error and changes nothing; one it
/// accepts applies without error.
pub fn check_ops(text: &str) {
    let Ok(script) = json::parse(text) else {
        return;
    };
    let checked = ops::check_ops(&script);
    let mergeable = seeded_mergeable();
    for store in [seeded_store(), mergeable.store().clone()] {
        match &checked {
            Err(expected) => {
                atomic(&store, "apply_ops", |s| {
                    let applied = ops::apply_ops(s, &script);
                    assert_eq!(applied.as_ref().err(), Some(expected));
                    applied
                });
            }
            Ok(()) => {
                if let Err(e) = ops::apply_ops(&store, &script) {
                    panic!("check_ops accepted the script but apply_ops failed: {e}");
                }
                match MergeableStore::from_store(&store) {
                    Some(m) => check_mergeable_store(&m),
                    None => check_store_round_trip(&store),
                }
            }
        }
    }
}

/// Every check above on the same text.
pub fn check_all(text: &str) {
    check_json(text);
    check_mergeable(text);
    check_store(text);
    check_ops(text);
}
