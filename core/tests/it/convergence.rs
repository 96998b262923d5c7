//! CRDT convergence: replicas that make any local edits and exchange their content in any
//! order, any number of times, end with the same content and the same hashes, and those
//! hashes are exactly what a fresh merge of the content computes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use tinystore_core::mergeable::JsonForm;
use tinystore_core::{MergeableContent, MergeableStore};

use crate::proptests::{Op, apply, op};

const T0: u64 = 1_700_000_000_000;

#[derive(Clone, Debug)]
enum Step {
    /// One op on a replica, in its own transaction.
    Local(usize, Op),
    /// Several ops on a replica in one transaction.
    Transaction(usize, Vec<Op>),
    /// `a.merge(b)`.
    Merge(usize, usize),
    /// `a` applies `b`'s full content (one way), possibly a stale copy taken earlier.
    Apply(usize, usize),
    /// `a` applies the content it got from `b` at the last `Snapshot(b)` (a replayed,
    /// duplicated or late delivery).
    ApplySnapshot(usize, usize),
    Snapshot(usize),
    /// Time moves on by this many ms (0 keeps HLCs racing on the counter and client id).
    Tick(u64),
}

fn step(replicas: usize) -> impl Strategy<Value = Step> {
    let r = 0..replicas;
    prop_oneof![
        6 => (r.clone(), op()).prop_map(|(i, o)| Step::Local(i, o)),
        2 => (r.clone(), prop::collection::vec(op(), 1..5)).prop_map(|(i, o)| Step::Transaction(i, o)),
        2 => (r.clone(), r.clone()).prop_map(|(a, b)| Step::Merge(a, b)),
        2 => (r.clone(), r.clone()).prop_map(|(a, b)| Step::Apply(a, b)),
        1 => (r.clone(), r.clone()).prop_map(|(a, b)| Step::ApplySnapshot(a, b)),
        1 => r.prop_map(Step::Snapshot),
        1 => prop_oneof![Just(0u64), 1u64..3, Just(1000)].prop_map(Step::Tick),
    ]
}

fn run(steps: &[Step], replicas: usize) -> Result<(), TestCaseError> {
    let now = Arc::new(AtomicU64::new(T0));
    let stores: Vec<MergeableStore> = (0..replicas)
        .map(|i| {
            let now = now.clone();
            MergeableStore::with_clock(
                Some(&format!("replica-{i}")),
                Box::new(move || now.load(Ordering::Relaxed)),
            )
        })
        .collect();
    let mut snapshots: Vec<Option<MergeableContent>> = vec![None; replicas];
    for s in steps {
        match s {
            Step::Local(i, o) => apply(&stores[*i], None, o),
            Step::Transaction(i, ops) => stores[*i].transaction(|st| {
                for o in ops {
                    apply(st, None, o);
                }
            }),
            Step::Merge(a, b) => {
                stores[*a].merge(&stores[*b]);
            }
            Step::Apply(a, b) => {
                let content = stores[*b].get_mergeable_content();
                stores[*a].apply_mergeable_changes(&content).unwrap();
            }
            Step::ApplySnapshot(a, b) => {
                if let Some(content) = &snapshots[*b] {
                    stores[*a].apply_mergeable_changes(content).unwrap();
                }
            }
            Step::Snapshot(i) => snapshots[*i] = Some(stores[*i].get_mergeable_content()),
            Step::Tick(ms) => {
                now.fetch_add(*ms, Ordering::Relaxed);
            }
        }
    }
    // Everyone hears from everyone: replica 0 gathers all, then hands the union back.
    for _ in 0..2 {
        for other in &stores[1..] {
            stores[0].merge(other);
        }
    }
    let first = &stores[0];
    for other in &stores[1..] {
        prop_assert_eq!(other.get_content(), first.get_content());
        prop_assert_eq!(
            other.get_mergeable_content_hashes(),
            first.get_mergeable_content_hashes()
        );
        prop_assert_eq!(
            other
                .get_mergeable_table_hashes()
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
            first
                .get_mergeable_table_hashes()
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>()
        );
    }
    // Incrementally maintained hashes equal those computed from scratch over the leaves.
    let fresh = MergeableStore::with_clock(Some("fresh"), Box::new(move || T0));
    fresh
        .apply_mergeable_changes(&first.get_mergeable_content())
        .unwrap();
    prop_assert_eq!(
        fresh.get_mergeable_content_hashes(),
        first.get_mergeable_content_hashes()
    );
    prop_assert_eq!(fresh.get_content(), first.get_content());
    // The persisted form round-trips.
    let loaded = MergeableStore::new(None);
    loaded
        .set_mergeable_content_json(&first.get_mergeable_content_json())
        .unwrap();
    prop_assert_eq!(
        loaded
            .get_mergeable_content()
            .to_json_string(JsonForm::CONTENT),
        first.get_mergeable_content_json()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn three_replicas_converge(steps in prop::collection::vec(step(3), 0..40)) {
        run(&steps, 3)?;
    }
}

/// Cases of the soak: a short run by default; the long soak (20,000 cases, minutes) is
/// `TINYSTORE_SOAK_CASES=20000 cargo test --release -p tinystore-core --test it soak`.
fn soak_cases() -> u32 {
    std::env::var("TINYSTORE_SOAK_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: soak_cases(), ..ProptestConfig::default() })]

    /// More replicas and longer scripts than `three_replicas_converge`.
    #[test]
    fn soak_replicas_converge(
        replicas in 2usize..5,
        steps in prop::collection::vec(step(4), 0..120),
    ) {
        let steps: Vec<Step> = steps.into_iter().map(|s| clamp(s, replicas)).collect();
        run(&steps, replicas)?;
    }
}

fn clamp(step: Step, n: usize) -> Step {
    match step {
        Step::Local(i, o) => Step::Local(i % n, o),
        Step::Transaction(i, o) => Step::Transaction(i % n, o),
        Step::Merge(a, b) => Step::Merge(a % n, b % n),
        Step::Apply(a, b) => Step::Apply(a % n, b % n),
        Step::ApplySnapshot(a, b) => Step::ApplySnapshot(a % n, b % n),
        Step::Snapshot(i) => Step::Snapshot(i % n),
        Step::Tick(ms) => Step::Tick(ms),
    }
}
