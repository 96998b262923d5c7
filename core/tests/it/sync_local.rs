//! Synchronizers over the in-process bus: the pull, auto-save, fallbacks, mutator writes, and
//! convergence of any number of replicas under random edits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use tinystore_core::mergeable::JsonForm;
use tinystore_core::sync::{LocalBus, SyncError, Synchronizer, SynchronizerOptions};
use tinystore_core::{Cell, MergeableStore, Tables, Values};

use crate::proptests::{Op, apply, op};

/// For a synchronizer that starts alone: nobody answers its first pull.
fn fast() -> SynchronizerOptions {
    SynchronizerOptions {
        request_timeout: Some(Duration::from_millis(100)),
        ..Default::default()
    }
}

/// For synchronizers whose pulls get answers: their requests then only time out when the
/// machine is too busy to deliver an answer in time, and a timed-out pull leaves a replica
/// behind until the next change, as in TinyBase (a loaded CI machine once took over 100 ms).
fn patient() -> SynchronizerOptions {
    SynchronizerOptions {
        request_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    }
}

fn content(s: &MergeableStore) -> String {
    s.get_mergeable_content().to_json_string(JsonForm::CONTENT)
}

/// Content as JSON objects: replicas that received rows in different orders list them in
/// different orders, which TinyBase's deep equality (and ours here) ignores.
fn content_value(s: &MergeableStore) -> serde_json::Value {
    serde_json::from_str(&content(s)).unwrap()
}

fn assert_converged(stores: &[MergeableStore]) {
    for s in &stores[1..] {
        assert_eq!(content_value(s), content_value(&stores[0]));
        assert_eq!(
            s.get_mergeable_content_hashes(),
            stores[0].get_mergeable_content_hashes()
        );
    }
}

#[test]
fn a_late_joiner_pulls_everything_and_edits_flow_both_ways() {
    let bus = LocalBus::new();
    let a = MergeableStore::new(Some("a"));
    a.set_cell("pets", "fido", "species", "dog");
    a.set_value("open", true);
    a.set_cell("pets", "felix", "species", "cat");
    a.del_cell("pets", "felix", "species", false);
    let sa = bus.synchronizer_with_options(&a, patient());
    sa.start_sync_detached(None);
    let b = MergeableStore::new(Some("b"));
    b.set_cell("pets", "rex", "species", "dog");
    let sb = bus.synchronizer_with_options(&b, patient());
    sb.start_sync(None);
    bus.flush();
    assert_converged(&[a.clone(), b.clone()]);
    assert_eq!(
        b.get_cell("pets", "fido", "species"),
        Some(Cell::from("dog"))
    );
    assert_eq!(
        a.get_cell("pets", "rex", "species"),
        Some(Cell::from("dog"))
    );

    b.transaction(|s| {
        s.set_value("open", false);
        s.del_row("pets", "fido");
    });
    bus.flush();
    assert_eq!(a.get_value("open"), Some(Cell::from(false)));
    assert!(!a.has_row("pets", "fido"));
    assert_converged(&[a.clone(), b.clone()]);
    assert!(sa.get_synchronizer_stats().receives > 0);
    assert!(sb.get_synchronizer_stats().sends > 0);
}

#[test]
fn alone_the_load_times_out_and_initial_content_becomes_the_default() {
    let bus = LocalBus::new();
    let a = MergeableStore::new(Some("a"));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = errors.clone();
    let sa = bus.synchronizer_with_options(
        &a,
        SynchronizerOptions {
            on_ignored_error: Some(Arc::new(move |e: &SyncError| {
                seen.lock().unwrap().push(e.to_string())
            })),
            ..fast()
        },
    );
    let mut tables = Tables::new();
    tables
        .entry("t".into())
        .or_default()
        .entry("r".into())
        .or_default()
        .insert("c".into(), Cell::from(1.0));
    sa.start_sync(Some((&tables, &Values::new())));
    assert_eq!(a.get_cell("t", "r", "c"), Some(Cell::from(1.0)));
    // Default content carries the empty HLC, so any peer's write wins over it.
    assert!(content(&a).contains(r#"[1,"","#));
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("tinybase:3:."), "{errors:?}");
    assert!(errors[0].ends_with(".1"), "{errors:?}");
}

#[test]
fn a_stopped_or_destroyed_synchronizer_neither_applies_nor_sends() {
    let bus = LocalBus::new();
    let (a, b) = (
        MergeableStore::new(Some("a")),
        MergeableStore::new(Some("b")),
    );
    let sa = bus.synchronizer_with_options(&a, patient());
    let sb = bus.synchronizer_with_options(&b, patient());
    sa.start_sync_detached(None);
    sb.start_sync(None);
    sb.stop_sync();
    a.set_cell("t", "r", "c", 1.0);
    bus.flush();
    assert!(!b.has_table("t"));
    sb.destroy();
    assert_eq!(bus.client_ids().len(), 1);
    b.set_cell("t", "r", "d", 2.0);
    bus.flush();
    assert!(!a.has_cell("t", "r", "d"));
    // A restarted sync catches up with everything missed.
    let sb = bus.synchronizer_with_options(&b, patient());
    sb.start_sync(None);
    bus.flush();
    assert_converged(&[a, b]);
}

#[test]
fn mutator_writes_made_while_applying_reach_the_peers() {
    let bus = LocalBus::new();
    let (a, b) = (
        MergeableStore::new(Some("a")),
        MergeableStore::new(Some("b")),
    );
    // b stamps every incoming pet with a 'seen' cell from a mutator listener.
    b.add_cell_listener(
        Some("pets"),
        None,
        Some("species"),
        |s, t, r, _c, _new, _old| {
            if !s.has_cell(t, r, "seen") {
                s.set_cell(t, r, "seen", true);
            }
        },
        true,
    );
    let sa = bus.synchronizer_with_options(&a, patient());
    let sb = bus.synchronizer_with_options(&b, patient());
    sa.start_sync_detached(None);
    sb.start_sync(None);
    a.set_cell("pets", "fido", "species", "dog");
    bus.flush();
    assert_eq!(b.get_cell("pets", "fido", "seen"), Some(Cell::from(true)));
    assert_eq!(a.get_cell("pets", "fido", "seen"), Some(Cell::from(true)));
    assert_converged(&[a, b]);
}

#[test]
fn status_and_stats() {
    let bus = LocalBus::new();
    let a = MergeableStore::new(Some("a"));
    let sa = bus.synchronizer_with_options(&a, fast());
    let changes = Arc::new(AtomicUsize::new(0));
    let c = changes.clone();
    sa.add_status_listener(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    sa.start_sync(None);
    a.set_cell("t", "r", "c", 1.0);
    let stats = sa.get_stats();
    assert_eq!(stats.loads, 1);
    assert_eq!(stats.saves, 2, "the hashes, then the transaction");
    assert!(changes.load(Ordering::SeqCst) >= 4);
    assert!(sa.is_auto_loading() && sa.is_auto_saving());
    let _ = Synchronizer::downgrade(&sa);
}

fn converge(replicas: usize, script: &[(usize, Vec<Op>)]) {
    let bus = LocalBus::new();
    let stores: Vec<MergeableStore> = (0..replicas)
        .map(|i| MergeableStore::new(Some(&format!("replica{i}"))))
        .collect();
    let syncs: Vec<Synchronizer> = stores
        .iter()
        .map(|s| bus.synchronizer_with_options(s, patient()))
        .collect();
    // The first half of the edits happen before anyone syncs.
    let half = script.len() / 2;
    for (i, ops) in &script[..half] {
        stores[*i].transaction(|s| ops.iter().for_each(|o| apply(s, None, o)));
    }
    // Replica 1 answers from the start, so that no pull waits for its timeout; each start
    // settles before the next, as a pull answered from a peer still merging the previous
    // start's content would miss it (a race TinyBase's protocol has too).
    syncs[1].start_auto_save();
    for s in &syncs {
        s.start_sync(None);
        bus.flush();
    }
    for (i, ops) in &script[half..] {
        stores[*i].transaction(|s| ops.iter().for_each(|o| apply(s, None, o)));
    }
    bus.flush();
    assert_converged(&stores);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn replicas_converge_over_the_bus(
        replicas in 2usize..4,
        script in prop::collection::vec((0usize..3, prop::collection::vec(op(), 1..4)), 0..12),
    ) {
        let script: Vec<(usize, Vec<Op>)> =
            script.into_iter().map(|(i, o)| (i % replicas, o)).collect();
        converge(replicas, &script);
    }
}

#[test]
fn a_view_function_failing_on_received_changes_is_reported_and_sync_goes_on() {
    use tinystore_core::error_kind::CallbackFailure;
    use tinystore_core::views::{Source, create_indexes};

    let bus = LocalBus::new();
    let (a, b) = (
        MergeableStore::new(Some("a")),
        MergeableStore::new(Some("b")),
    );
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = errors.clone();
    let sa = bus.synchronizer_with_options(&a, patient());
    let sb = bus.synchronizer_with_options(
        &b,
        SynchronizerOptions {
            on_ignored_error: Some(Arc::new(move |e: &SyncError| {
                seen.lock().unwrap().push(e.clone())
            })),
            ..patient()
        },
    );
    sa.start_sync_detached(None);
    sb.start_sync(None);
    bus.flush();
    // b's index refuses the species "bad", as a foreign function raising would.
    let indexes = create_indexes(&b);
    indexes.set_index_definition(
        "bySpecies",
        "pets",
        Some(Source::func(|get_cell, _| {
            let species = get_cell("species").and_then(|c| c.as_str().map(str::to_owned));
            if species.as_deref() == Some("bad") {
                CallbackFailure::raise("ValueError: bad species");
            }
            species.into_iter().collect()
        })),
        None,
        None,
        None,
    );
    a.set_cell("pets", "rex", "species", "bad");
    bus.flush();
    {
        let errors = errors.lock().unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            matches!(&errors[0], SyncError::Listener { message, .. }
                if message == "ValueError: bad species"),
            "{errors:?}"
        );
    }
    // The change was applied, and both sides go on syncing both ways.
    assert_eq!(
        b.get_cell("pets", "rex", "species"),
        Some(Cell::from("bad"))
    );
    b.set_cell("pets", "fido", "species", "dog");
    a.set_cell("pets", "rex", "species", "cat");
    bus.flush();
    assert_eq!(
        a.get_cell("pets", "fido", "species"),
        Some(Cell::from("dog"))
    );
    assert_eq!(indexes.get_slice_row_ids("bySpecies", "cat"), ["rex"]);
    assert_converged(&[a.clone(), b.clone()]);
}
