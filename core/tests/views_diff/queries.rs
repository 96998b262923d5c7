//! The `queries` object kind of the views differential test: TinyQL definitions given as
//! clause lists, the named functions they use, the result listeners and the result getters.
//! Each piece is the twin of one in tests/interop/views/views_diff.mjs.

use serde_json::{Value as Json, json};
use tinystore_core::views::queries::{On, QueryBuilder, QueryListenerId, RowCells, TableCells};
use tinystore_core::{Cell, Queries, Row, Store, Table, create_queries};

use super::{Log, push};

/// Sorted result row id probes: `(cellId, descending, offset, limit)`; the last two only in
/// cases without object/array cells.
const SORTS: [(Option<&str>, bool, usize, Option<usize>); 5] = [
    (None, false, 0, None),
    (Some("n"), true, 0, None),
    (Some("k"), false, 1, Some(2)),
    (Some("c0"), true, 1, Some(2)),
    (Some("c1"), false, 0, Some(3)),
];

fn number(cell: Option<Cell>) -> Option<f64> {
    match cell {
        Some(Cell::Number(n)) => Some(n),
        _ => None,
    }
}

fn select_fn(name: &str) -> fn(&TableCells<'_>, &str) -> Option<Cell> {
    match name {
        "dbl" => |g, _| number(g.cell("n")).map(|n| Cell::Number(n * 2.0)),
        "joinedC0" => |g, _| g.joined("j1", "c0"),
        "idLen" => |g, r| {
            let len = r.encode_utf16().count() as f64;
            Some(Cell::Number(len + number(g.cell("n")).unwrap_or(0.0)))
        },
        other => panic!("unknown select function {other}"),
    }
}

fn where_fn(name: &str) -> fn(&TableCells<'_>) -> bool {
    match name {
        "c1big" => |g| number(g.cell("c1")).is_some_and(|n| n > 1.0),
        "notB" => |g| g.cell("c0") != Some(Cell::from("b")),
        other => panic!("unknown where function {other}"),
    }
}

fn join_fn(name: &str) -> fn(&RowCells<'_>, &str) -> Option<String> {
    match name {
        "next" => |_, r| {
            let n: u32 = r[1..].parse().expect("row ids are r0..r5");
            Some(format!("r{}", (n + 1) % 6))
        },
        "kOf" => |g, _| match g.get("k") {
            Some(Cell::String(s)) => Some(s.to_string()),
            _ => None,
        },
        other => panic!("unknown join function {other}"),
    }
}

/// Runs a clause list against TinyQL's builder, as `buildQuery` does in views_diff.mjs.
fn build(b: &QueryBuilder, clauses: &Json) {
    let alias = |j: &Json| j.as_str().map(str::to_string);
    for clause in clauses.as_array().expect("clauses") {
        let a = clause.as_array().expect("a clause");
        let s = |i: usize| a[i].as_str().expect("a string");
        match s(0) {
            "select" => {
                let x = b.select(s(1));
                if let Some(name) = alias(&a[2]) {
                    x.as_(&name);
                }
            }
            "selectFrom" => {
                let x = b.select_from(s(1), s(2));
                if let Some(name) = alias(&a[3]) {
                    x.as_(&name);
                }
            }
            "selectFn" => {
                b.select_fn(select_fn(s(1))).as_(s(2));
            }
            "join" => {
                let on = match &a[2] {
                    Json::String(cell) => On::from(cell.as_str()),
                    spec => On::func(join_fn(spec["fn"].as_str().expect("a join function"))),
                };
                let x = match alias(&a[4]) {
                    Some(from) => b.join_from(s(1), &from, on),
                    None => b.join(s(1), on),
                };
                if let Some(name) = alias(&a[3]) {
                    x.as_(&name);
                }
            }
            "where" => b.where_(s(1), Cell::from(a[2].clone())),
            "whereParam" => b.where_(s(1), b.param(s(2))),
            "whereFn" => b.where_fn(where_fn(s(1))),
            "group" => {
                let x = b.group(s(1), s(2));
                if let Some(name) = alias(&a[3]) {
                    x.as_(&name);
                }
            }
            "having" => b.having(s(1), Cell::from(a[2].clone())),
            other => panic!("unknown clause {other}"),
        }
    }
}

fn cell_json(cell: Option<&Cell>) -> Json {
    Json::Array(cell.map(Cell::to_json).into_iter().collect())
}

fn row_json(row: &Row) -> Json {
    Json::Object(row.iter().map(|(c, v)| (c.clone(), v.to_json())).collect())
}

fn table_json(table: &Table) -> Json {
    Json::Object(
        table
            .iter()
            .map(|(r, row)| (r.clone(), row_json(row)))
            .collect(),
    )
}

/// Creates the store's Queries with wildcard listeners of the kinds the trace records.
pub fn create(store: &Store, log: &Log) -> Queries {
    let x = create_queries(store);
    let l = log.clone();
    x.add_query_ids_listener(move |_| push(&l, json!(["queryIds"])));
    let l = log.clone();
    x.add_result_table_listener(None, move |_, q| push(&l, json!(["resultTable", q])));
    let l = log.clone();
    x.add_result_row_ids_listener(None, move |_, q, _| push(&l, json!(["resultRowIds", q])));
    let l = log.clone();
    x.add_result_cell_listener(None, None, None, move |_, q, r, c, new, old| {
        push(
            &l,
            json!(["resultCell", q, r, c, cell_json(new), cell_json(old)]),
        )
    });
    x
}

/// Every result getter of every query, and the listener counts.
pub fn snapshot(q: &Queries, json_cells: bool, s: &mut serde_json::Map<String, Json>) {
    let sorts = &SORTS[..if json_cells { 3 } else { 5 }];
    let ids: Vec<Json> = q
        .get_query_ids()
        .iter()
        .map(|id| {
            let row_ids = q.get_result_row_ids(id);
            let sorted: Vec<Json> = sorts
                .iter()
                .map(|&(c, d, off, l)| json!(q.get_result_sorted_row_ids(id, c, d, off, l)))
                .collect();
            let cell_ids: Vec<Json> = row_ids
                .iter()
                .map(|r| json!(q.get_result_cell_ids(id, r)))
                .collect();
            json!([
                id,
                q.get_table_id(id),
                table_json(&q.get_result_table(id)),
                row_ids,
                sorted,
                q.get_result_row_count(id),
                q.get_result_table_cell_ids(id),
                cell_ids,
                row_json(&q.get_param_values(id)),
            ])
        })
        .collect();
    s.insert("queries".into(), Json::Array(ids));
    let st = q.get_listener_stats();
    s.insert("queryStats".into(), json!([st.table, st.row_ids, st.cell]));
}

/// Applies a Queries op; `false` when `name` is not one.
pub fn apply(q: Option<&Queries>, a: &[Json]) -> bool {
    let s = |i: usize| a[i].as_str().expect("a string argument");
    let q = || q.expect("queries");
    match s(0) {
        "setQueryDefinition" => {
            let clauses = a[3].clone();
            let params: Row = a[4]
                .as_object()
                .expect("param values")
                .iter()
                .map(|(k, v)| (k.clone(), Cell::from(v.clone())))
                .collect();
            q().set_query_definition_with_params(s(1), s(2), move |b| build(b, &clauses), params)
                .expect("a valid definition");
        }
        "delQueryDefinition" => {
            q().del_query_definition(s(1));
        }
        "setParamValue" => {
            q().set_param_value(s(1), s(2), Cell::from(a[3].clone()));
        }
        _ => return false,
    }
    true
}

/// TinyBase's `delListener` id: `p<n>` for param listeners, `<n>` for the others.
pub fn listener_id(id: &str) -> QueryListenerId {
    match id.strip_prefix('p') {
        Some(n) => QueryListenerId::Param(n.parse().expect("a listener id")),
        None => QueryListenerId::Result(id.parse().expect("a listener id")),
    }
}
