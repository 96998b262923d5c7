//! Fuzz target: `AutomergeDoc::apply_update` on arbitrary bytes (Automerge's save format from
//! another process), then a load of whatever was accepted into a Store and a MergeableStore.
//!
//! Beyond "no panic": an accepted document saves to bytes a fresh document accepts with the
//! same content, and a load that fails leaves the store empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinystore_core::persist::Persister;
use tinystore_core::persist::automerge::{AutomergeDoc, AutomergePersistence};
use tinystore_core::{MergeableStore, Store};

fuzz_target!(|data: &[u8]| {
    let doc = AutomergeDoc::new();
    if doc.apply_update(data).is_err() {
        return;
    }
    let copy = AutomergeDoc::new();
    copy.apply_update(&doc.encode_update())
        .expect("a document's own save format is refused");

    let store = Store::new();
    match Persister::new(&store, AutomergePersistence::new(&doc)).load(None) {
        Ok(_) => {
            let again = Store::new();
            Persister::new(&again, AutomergePersistence::new(&copy))
                .load(None)
                .expect("the copy does not load as the original did");
            assert_eq!(again.get_json(), store.get_json());
        }
        Err(_) => assert_eq!(store.get_json(), "[{},{}]"),
    }
    let mergeable = MergeableStore::new(Some("fuzz"));
    let _ = Persister::new(&mergeable, AutomergePersistence::new(&doc)).load(None);
});
