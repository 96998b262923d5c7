//! Fuzz target: `YjsDoc::apply_update` on arbitrary bytes (a Yjs v1 update from another
//! process), then a load of whatever was accepted into a Store and a MergeableStore.
//!
//! Beyond "no panic" (yrs aborts on some hostile shapes, which `persist::yjs` refuses first):
//! a refused update leaves the document as it was, an accepted document encodes to an update a
//! fresh document accepts with the same content, and a load that fails leaves the store empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinystore_core::persist::Persister;
use tinystore_core::persist::yjs::{YjsDoc, YjsPersistence};
use tinystore_core::{MergeableStore, Store};

fuzz_target!(|data: &[u8]| {
    let doc = YjsDoc::new();
    let empty = doc.encode_update();
    if doc.apply_update(data).is_err() {
        assert_eq!(
            doc.encode_update(),
            empty,
            "a refused update changed the document"
        );
        return;
    }
    let copy = YjsDoc::new();
    copy.apply_update(&doc.encode_update())
        .expect("a document's own encoding is refused");

    let store = Store::new();
    match Persister::new(&store, YjsPersistence::new(&doc)).load(None) {
        Ok(_) => {
            let again = Store::new();
            Persister::new(&again, YjsPersistence::new(&copy))
                .load(None)
                .expect("the copy does not load as the original did");
            assert_eq!(again.get_json(), store.get_json());
        }
        Err(_) => assert_eq!(store.get_json(), "[{},{}]"),
    }
    let mergeable = MergeableStore::new(Some("fuzz"));
    let _ = Persister::new(&mergeable, YjsPersistence::new(&doc)).load(None);
});
