//! Property tests: random operation sequences keep the store's invariants (store.md §1, §3).

use indexmap::IndexMap;
use proptest::prelude::*;
use serde_json::json;
use tinystore_core::{Cell, Row, Store};

const TABLES: &[&str] = &["t", "u", "1", ""];
const ROWS: &[&str] = &["r", "s", "0", "2", "__proto__"];
const CELLS: &[&str] = &["a", "b", "10", "c"];
const VALUES: &[&str] = &["v", "w", "3", ""];

#[derive(Clone, Debug)]
pub(crate) enum Op {
    SetCell(&'static str, &'static str, &'static str, Cell),
    DelCell(&'static str, &'static str, &'static str, bool),
    SetRow(&'static str, &'static str, Vec<(&'static str, Cell)>),
    SetPartialRow(&'static str, &'static str, Vec<(&'static str, Cell)>),
    AddRow(&'static str, Vec<(&'static str, Cell)>, bool),
    DelRow(&'static str, &'static str),
    DelTable(&'static str),
    SetValue(&'static str, Cell),
    DelValue(&'static str),
}

fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        Just(Cell::Null),
        any::<bool>().prop_map(Cell::Boolean),
        (-3i32..4).prop_map(Cell::from),
        Just(Cell::Number(0.5)),
        prop::sample::select(vec!["", "x", "y", "0"]).prop_map(Cell::from),
        Just(Cell::from_json(json!({"k": [1, "x"]}))),
        Just(Cell::from_json(json!([null, 2]))),
        // Invalid ones.
        Just(Cell::Number(f64::NAN)),
        Just(Cell::Number(f64::INFINITY)),
        Just(Cell::from("\u{FFFC}")),
        Just(Cell::from("\u{FFFD}{}")),
    ]
}

fn id(ids: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop::sample::select(ids)
}

fn cells() -> impl Strategy<Value = Vec<(&'static str, Cell)>> {
    prop::collection::vec((id(CELLS), cell()), 0..4)
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (id(TABLES), id(ROWS), id(CELLS), cell()).prop_map(|(t, r, c, v)| Op::SetCell(t, r, c, v)),
        2 => (id(TABLES), id(ROWS), id(CELLS), any::<bool>()).prop_map(|(t, r, c, f)| Op::DelCell(t, r, c, f)),
        2 => (id(TABLES), id(ROWS), cells()).prop_map(|(t, r, c)| Op::SetRow(t, r, c)),
        1 => (id(TABLES), id(ROWS), cells()).prop_map(|(t, r, c)| Op::SetPartialRow(t, r, c)),
        2 => (id(TABLES), cells(), any::<bool>()).prop_map(|(t, c, reuse)| Op::AddRow(t, c, reuse)),
        1 => (id(TABLES), id(ROWS)).prop_map(|(t, r)| Op::DelRow(t, r)),
        1 => id(TABLES).prop_map(Op::DelTable),
        2 => (id(VALUES), cell()).prop_map(|(v, x)| Op::SetValue(v, x)),
        1 => id(VALUES).prop_map(Op::DelValue),
    ]
}

fn to_row(cells: &[(&str, Cell)]) -> Row {
    // Later duplicates win, as with a JavaScript object literal.
    let mut row = Row::new();
    for (c, v) in cells {
        row.insert(c.to_string(), v.clone());
    }
    row
}

/// A plain model of the store without schemas: insertion-ordered maps, empty containers
/// removed, invalid cells dropped.
#[derive(Default, Debug)]
pub(crate) struct Model {
    tables: IndexMap<String, IndexMap<String, IndexMap<String, Cell>>>,
    values: IndexMap<String, Cell>,
}

impl Model {
    fn set_cell(&mut self, t: &str, r: &str, c: &str, v: &Cell) {
        if v.is_valid() {
            let row = self
                .tables
                .entry(t.into())
                .or_default()
                .entry(r.into())
                .or_default();
            row.insert(c.into(), v.clone());
        }
    }
    fn del_cell(&mut self, t: &str, r: &str, c: &str) {
        if let Some(table) = self.tables.get_mut(t) {
            if let Some(row) = table.get_mut(r) {
                row.shift_remove(c);
                if row.is_empty() {
                    table.shift_remove(r);
                }
            }
            if table.is_empty() {
                self.tables.shift_remove(t);
            }
        }
    }
    fn del_row(&mut self, t: &str, r: &str) {
        let ids: Vec<String> = self
            .tables
            .get(t)
            .and_then(|x| x.get(r))
            .map(|row| row.keys().cloned().collect())
            .unwrap_or_default();
        for c in ids {
            self.del_cell(t, r, &c);
        }
    }
    fn set_row(&mut self, t: &str, r: &str, row: &Row) {
        let valid: Vec<(&String, &Cell)> = row.iter().filter(|(_, v)| v.is_valid()).collect();
        if valid.is_empty() {
            return;
        }
        for (c, v) in &valid {
            self.set_cell(t, r, c, v);
        }
        let absent: Vec<String> = self.tables[t][r]
            .keys()
            .filter(|c| !valid.iter().any(|(k, _)| k == c))
            .cloned()
            .collect();
        for c in absent {
            self.del_cell(t, r, &c);
        }
    }
}

pub(crate) fn apply(store: &Store, model: Option<&mut Model>, op: &Op) {
    let mut scratch = Model::default();
    let model = model.unwrap_or(&mut scratch);
    match op {
        Op::SetCell(t, r, c, v) => {
            store.set_cell(t, r, c, v.clone());
            model.set_cell(t, r, c, v);
        }
        Op::DelCell(t, r, c, force) => {
            store.del_cell(t, r, c, *force);
            model.del_cell(t, r, c);
        }
        Op::SetRow(t, r, cells) => {
            let row = to_row(cells);
            store.set_row(t, r, &row);
            model.set_row(t, r, &row);
        }
        Op::SetPartialRow(t, r, cells) => {
            let row = to_row(cells);
            store.set_partial_row(t, r, &row);
            for (c, v) in &row {
                model.set_cell(t, r, c, v);
            }
        }
        Op::AddRow(t, cells, reuse) => {
            let row = to_row(cells);
            let before = store.get_row_ids(t);
            let id = store.add_row(t, &row, *reuse);
            let any_valid = row.values().any(Cell::is_valid);
            assert_eq!(
                id.is_some(),
                any_valid,
                "add_row returns an id iff the row is valid"
            );
            if let Some(id) = id {
                assert!(!before.contains(&id), "add_row id {id} is new");
                assert!(id.bytes().all(|b| b.is_ascii_digit()), "numeric id {id}");
                model.set_row(t, &id, &row);
            }
        }
        Op::DelRow(t, r) => {
            store.del_row(t, r);
            model.del_row(t, r);
        }
        Op::DelTable(t) => {
            store.del_table(t);
            model.tables.shift_remove(*t);
        }
        Op::SetValue(v, x) => {
            store.set_value(v, x.clone());
            if x.is_valid() {
                model.values.insert(v.to_string(), x.clone());
            }
        }
        Op::DelValue(v) => {
            store.del_value(v);
            model.values.shift_remove(*v);
        }
    }
}

/// Every id order and every cell.
fn snapshot(store: &Store) -> (String, Vec<Vec<String>>) {
    let mut orders = vec![store.get_table_ids(), store.get_value_ids()];
    for t in store.get_table_ids() {
        orders.push(store.get_row_ids(&t));
        orders.push(store.get_table_cell_ids(&t));
        for r in store.get_row_ids(&t) {
            orders.push(store.get_cell_ids(&t, &r));
        }
    }
    (store.get_json(), orders)
}

fn check_invariants(store: &Store, model: &Model) {
    // No empty rows or tables.
    for t in store.get_table_ids() {
        let rows = store.get_row_ids(&t);
        assert!(!rows.is_empty(), "table {t:?} is empty");
        assert_eq!(store.get_row_count(&t), rows.len());
        for r in &rows {
            let cells = store.get_cell_ids(&t, r);
            assert!(!cells.is_empty(), "row {t:?}/{r:?} is empty");
            for c in &cells {
                assert!(store.has_table_cell(&t, c));
                assert!(store.get_cell(&t, r, c).is_some_and(|x| x.is_valid()));
            }
        }
    }
    // Same content and orders as the model.
    let model_tables: Vec<String> = model.tables.keys().cloned().collect();
    assert_eq!(store.get_table_ids(), model_tables);
    for (t, table) in &model.tables {
        assert_eq!(
            store.get_row_ids(t),
            table.keys().cloned().collect::<Vec<_>>()
        );
        for (r, row) in table {
            assert_eq!(
                store.get_cell_ids(t, r),
                row.keys().cloned().collect::<Vec<_>>()
            );
            for (c, v) in row {
                assert_eq!(store.get_cell(t, r, c).as_ref(), Some(v));
            }
        }
    }
    assert_eq!(
        store.get_value_ids(),
        model.values.keys().cloned().collect::<Vec<_>>()
    );
    for (v, x) in &model.values {
        assert_eq!(store.get_value(v).as_ref(), Some(x));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_ops_keep_invariants_and_match_a_model(ops in prop::collection::vec(op(), 0..40)) {
        let store = Store::new();
        let mut model = Model::default();
        for op in &ops {
            apply(&store, Some(&mut model), op);
            check_invariants(&store, &model);
        }
    }

    #[test]
    fn json_round_trips(ops in prop::collection::vec(op(), 0..40)) {
        let store = Store::new();
        for op in &ops {
            apply(&store, None, op);
        }
        let json = store.get_json();
        let copy = Store::new();
        copy.set_json(&json).unwrap();
        prop_assert_eq!(copy.get_json(), json.clone());
        prop_assert_eq!(copy.get_tables(), store.get_tables());
        prop_assert_eq!(copy.get_values(), store.get_values());
        // And through the tables/values halves.
        let halves = Store::new();
        halves.set_tables_json(&store.get_tables_json()).unwrap();
        halves.set_values_json(&store.get_values_json()).unwrap();
        prop_assert_eq!(halves.get_json(), json);
    }

    #[test]
    fn rollback_restores_content_and_every_order(
        before in prop::collection::vec(op(), 0..30),
        during in prop::collection::vec(op(), 0..30),
    ) {
        let store = Store::new();
        for op in &before {
            apply(&store, None, op);
        }
        let snap = snapshot(&store);
        let r = store.transaction_with_rollback(
            |s| {
                for op in &during {
                    apply(s, None, op);
                }
                7
            },
            |_| true,
        );
        prop_assert_eq!(r, 7);
        prop_assert_eq!(snapshot(&store), snap);
    }

    #[test]
    fn net_transaction_changes_replay_to_the_same_content(
        before in prop::collection::vec(op(), 0..20),
        during in prop::collection::vec(op(), 0..20),
    ) {
        let store = Store::new();
        for op in &before {
            apply(&store, None, op);
        }
        let replica = Store::new();
        replica.set_json(&store.get_json()).unwrap();
        let changes = store.transaction(|s| {
            for op in &during {
                apply(s, None, op);
            }
            s.get_transaction_changes()
        });
        replica.apply_changes(&changes);
        // IndexMap equality ignores order: a row deleted and re-created in the transaction
        // moves to the end in `store` but not in `replica`.
        prop_assert_eq!(replica.get_tables(), store.get_tables());
        prop_assert_eq!(replica.get_values(), store.get_values());
    }
}
