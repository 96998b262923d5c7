//! Finding 8 of the hardening issue: changes a peer rejects (HLCs from a clock running more
//! than five minutes fast) are reported to the ignored-error callback with their cause, and
//! are not applied.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tinystore_core::hlc::wall_clock_ms;
use tinystore_core::sync::{LocalBus, SyncError, SynchronizerOptions};
use tinystore_core::{Cell, MergeableStore};

const TEN_MINUTES_MS: u64 = 10 * 60 * 1000;

fn recording(errors: &Arc<Mutex<Vec<String>>>) -> SynchronizerOptions {
    let seen = errors.clone();
    SynchronizerOptions {
        request_timeout: Some(Duration::from_millis(200)),
        on_ignored_error: Some(Arc::new(move |e: &SyncError| {
            seen.lock().unwrap().push(e.to_string());
        })),
        ..Default::default()
    }
}

fn mentions_future_hlc(errors: &[String]) -> bool {
    errors
        .iter()
        .any(|e| e.contains("more than 5 minutes ahead") && e.contains("rejected"))
}

#[test]
fn finding_8_future_hlc_changes_are_reported() {
    let bus = LocalBus::new();
    let fast =
        MergeableStore::with_clock(Some("fast"), Box::new(|| wall_clock_ms() + TEN_MINUTES_MS));
    let normal = MergeableStore::new(Some("normal"));
    let (fast_errors, normal_errors) = Default::default();
    let fast_sync = bus.synchronizer_with_options(&fast, recording(&fast_errors));
    let normal_sync = bus.synchronizer_with_options(&normal, recording(&normal_errors));
    fast_sync.start_sync(None);
    normal_sync.start_sync(None);
    bus.flush();

    // Auto-save: the write goes out as a ContentDiff, which the receiver rejects.
    fast.set_cell("pets", "fido", "species", "dog");
    bus.flush();
    let errors = normal_errors.lock().unwrap().clone();
    assert!(mentions_future_hlc(&errors), "{errors:?}");
    assert!(!normal.has_table("pets"));
    assert_eq!(
        fast.get_cell("pets", "fido", "species"),
        Some(Cell::from("dog"))
    );

    // A late joiner pulls it (table, row and cell diffs) when the writer announces its hashes,
    // and rejects it too.
    let late = MergeableStore::new(Some("late"));
    let late_errors = Default::default();
    let late_sync = bus.synchronizer_with_options(&late, recording(&late_errors));
    late_sync.start_sync(None);
    bus.flush();
    fast_sync.save();
    bus.flush();
    let errors = late_errors.lock().unwrap().clone();
    assert!(mentions_future_hlc(&errors), "{errors:?}");
    assert!(!late.has_table("pets"));

    // A value, announced by hashes and pulled as a value diff, is rejected as well.
    fast_sync.stop_auto_save();
    fast.set_value("open", true);
    normal_errors.lock().unwrap().clear();
    fast_sync.save();
    bus.flush();
    let errors = normal_errors.lock().unwrap().clone();
    assert!(mentions_future_hlc(&errors), "{errors:?}");
    assert!(!normal.has_value("open"));

    for s in [fast_sync, normal_sync, late_sync] {
        s.destroy();
    }
}
