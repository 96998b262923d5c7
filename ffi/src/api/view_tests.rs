//! Tests of the derived views' FFI edge: foreign functions, the scoped getter, failures
//! carried to the writer, and the recorded TinyQL builder.

use super::view_common::trapped;
use super::*;

struct Slices(Mutex<Option<Arc<CellGetter>>>);
impl SliceIdsFunction for Slices {
    fn call(&self, get_cell: Arc<CellGetter>, _row: String) -> Result<Vec<String>, TinystoreError> {
        let species = get_cell.get("species".into());
        *lock(&self.0) = Some(get_cell);
        match species {
            Some(CellValue::Str { value: v }) if v == "boom" => Err(TinystoreError::Callback {
                reason: "bad slice".into(),
            }),
            Some(CellValue::Str { value: v }) => Ok(vec![v]),
            _ => Ok(vec![]),
        }
    }
}

fn cell(s: &str) -> CellValue {
    CellValue::Str { value: s.into() }
}

#[test]
fn a_failing_function_reaches_the_writer_and_the_getter_expires() {
    let store = create_store();
    store
        .set_cell("t".into(), "a".into(), "species".into(), cell("dog"))
        .unwrap();
    let indexes = create_indexes(store.clone());
    let slices = Arc::new(Slices(Mutex::new(None)));
    indexes
        .set_index_definition(
            "i".into(),
            "t".into(),
            None,
            Some(slices.clone()),
            None,
            None,
            None,
            None,
        )
        .unwrap();
    assert_eq!(indexes.get_slice_row_ids("i".into(), "dog".into()), ["a"]);
    // The getter kept after the call reads nothing.
    let kept = lock(&slices.0).clone().unwrap();
    assert_eq!(kept.get("species".into()), None);
    let err = store
        .set_cell("t".into(), "a".into(), "species".into(), cell("boom"))
        .unwrap_err();
    assert_eq!(
        err,
        TinystoreError::Callback {
            reason: "bad slice".into()
        }
    );
    assert_eq!(indexes.get_slice_row_ids("i".into(), "dog".into()), ["a"]);
    store
        .set_cell("t".into(), "b".into(), "species".into(), cell("cat"))
        .unwrap();
    assert_eq!(indexes.get_slice_row_ids("i".into(), "cat".into()), ["b"]);
}

struct Build(&'static str);
impl QueryDefinition for Build {
    fn build(&self, builder: Arc<QueryBuilder>) -> Result<(), TinystoreError> {
        builder.clone().select("species".into());
        builder.clone().select("price".into());
        builder
            .group("price".into(), self.0.into())
            .as_alias("total".into());
        Ok(())
    }
}

#[test]
fn recorded_queries_and_invalid_definitions() {
    let store = create_store();
    let num = |n: f64| CellValue::Num { value: n };
    store
        .set_cell("p".into(), "a".into(), "species".into(), cell("dog"))
        .unwrap();
    store
        .set_cell("p".into(), "a".into(), "price".into(), num(2.0))
        .unwrap();
    store
        .set_cell("p".into(), "b".into(), "species".into(), cell("dog"))
        .unwrap();
    store
        .set_cell("p".into(), "b".into(), "price".into(), num(3.0))
        .unwrap();
    let queries = create_queries(store);
    queries
        .set_query_definition(
            "q".into(),
            "p".into(),
            Arc::new(Build("sum")),
            HashMap::new(),
            false,
        )
        .unwrap();
    assert_eq!(
        queries.get_result_table_json("q".into()),
        r#"{"0":{"species":"dog","total":5}}"#
    );
    let err = queries
        .set_query_definition(
            "bad".into(),
            "p".into(),
            Arc::new(Build("median")),
            HashMap::new(),
            false,
        )
        .unwrap_err();
    assert!(
        matches!(err, TinystoreError::InvalidValue { .. }),
        "{err:?}"
    );
    assert!(!queries.has_query("bad".into()));
}

#[test]
fn metrics_reject_unknown_aggregates_and_count_rows() {
    let store = create_store();
    store
        .set_cell("t".into(), "a".into(), "c".into(), cell("x"))
        .unwrap();
    let metrics = create_metrics(store);
    metrics
        .set_metric_definition("n".into(), "t".into(), None, None, None, None)
        .unwrap();
    assert_eq!(metrics.get_metric("n".into()), Some(1.0));
    let err = metrics
        .set_metric_definition(
            "m".into(),
            "t".into(),
            Some("mean".into()),
            None,
            Some("c".into()),
            None,
        )
        .unwrap_err();
    assert!(matches!(err, TinystoreError::InvalidValue { .. }));
}

#[test]
fn other_panics_are_resumed_unchanged() {
    let caught = std::panic::catch_unwind(|| trapped(|| panic!("a bug"))).unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"a bug"));
}
