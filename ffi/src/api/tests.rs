//! Tests of the UniFFI layer's conversions.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

struct Failing(AtomicUsize);
impl StoreListener for Failing {
    fn on_event(&self, _: StoreEvent) -> Result<(), TinystoreError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(TinystoreError::Callback {
            reason: "listener failed".into(),
        })
    }
}

#[test]
fn json_cells_are_normalised_like_javascript() {
    let store = create_store();
    let cell = CellValue::Json {
        json: r#"{ "a" : 1.0, "b": [ 2 ] }"#.into(),
    };
    store
        .set_cell("t".into(), "r".into(), "c".into(), cell)
        .unwrap();
    assert_eq!(
        store.get_json(),
        "[{\"t\":{\"r\":{\"c\":\"\u{FFFD}{\\\"a\\\":1,\\\"b\\\":[2]}\"}}},{}]"
    );
    let bad = CellValue::Json { json: "7".into() };
    assert!(matches!(
        store.set_cell("t".into(), "r".into(), "c".into(), bad),
        Err(TinystoreError::InvalidValue { .. })
    ));
}

#[test]
fn a_failing_listener_neither_panics_nor_stops_the_write() {
    let store = create_store();
    let failing = Arc::new(Failing(AtomicUsize::new(0)));
    store.add_cell_listener(None, None, None, failing.clone(), false);
    store.add_cell_listener(None, None, None, failing.clone(), false);
    store
        .set_cell(
            "t".into(),
            "r".into(),
            "c".into(),
            CellValue::Num { value: 1.0 },
        )
        .unwrap();
    assert_eq!(failing.0.load(Ordering::SeqCst), 2);
    assert_eq!(
        store.get_cell("t".into(), "r".into(), "c".into()),
        Some(CellValue::Num { value: 1.0 })
    );
}

#[test]
fn a_failing_transaction_rolls_back_and_returns_its_error() {
    struct Actions(Arc<Store>);
    impl TransactionActions for Actions {
        fn run(&self) -> Result<(), TinystoreError> {
            self.0
                .set_value("v".into(), CellValue::Bool { value: true })?;
            Err(TinystoreError::Callback {
                reason: "no".into(),
            })
        }
    }
    let store = create_store();
    let result = store.transaction(Arc::new(Actions(store.clone())), None);
    assert_eq!(
        result,
        Err(TinystoreError::Callback {
            reason: "no".into()
        })
    );
    assert_eq!(store.get_json(), "[{},{}]");
}

#[test]
fn blocking_futures_complete() {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut fut = Box::pin(run_blocking(|| 41 + 1));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            assert_eq!(v, 42);
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn mergeable_store_view_shares_data_and_persists() {
    let m = create_mergeable_store(Some("a".into()));
    m.set_cell(
        "t".into(),
        "r".into(),
        "c".into(),
        CellValue::Str { value: "x".into() },
    )
    .unwrap();
    let p = create_sqlite_persister(m.as_store(), ":memory:".into(), None).unwrap();
    p.save().unwrap();
    m.del_tables().unwrap();
    p.load(None).unwrap();
    assert_eq!(m.get_json(), r#"[{"t":{"r":{"c":"x"}}},{}]"#);
    let err = create_sqlite_persister(
        m.as_store(),
        ":memory:".into(),
        Some(sqlite_tabular_config(vec!["t".into()])),
    );
    assert!(matches!(err, Err(TinystoreError::Persist { .. })));
}
