//! The `queries` object kind of the views differential test: TinyQL definitions given as
//! clause lists, the named functions they use, the result listeners and the result getters.
//! Each piece is the twin of one in tests/interop/views/views_diff.mjs.

use serde_json::{Value as Json, json};
use tinystore_core::js::{compare_utf16, number_to_string, string_to_number};
use tinystore_core::store::IdChanges;
use tinystore_core::views::queries::{On, QueryBuilder, QueryListenerId, RowCells, TableCells};
use tinystore_core::{Cell, Queries, Row, Store, Table, create_queries};

use super::{Log, push};

/// Result row ids: a root row id, or a group's.
const RESULT_ROW_PROBES: [&str; 5] = ["r0", "r3", "0", "1", "2"];

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

/// `'r' + ((Number(r.slice(1)) + 1) % 6)`: root row ids are r0..r5 or a query's result row ids.
fn next_row_id(r: &str) -> String {
    let rest: String = r.chars().skip(1).collect();
    format!(
        "r{}",
        number_to_string((string_to_number(&rest) + 1.0) % 6.0)
    )
}

fn join_fn(name: &str) -> fn(&RowCells<'_>, &str) -> Option<String> {
    match name {
        "next" => |_, r| Some(next_row_id(r)),
        "kOf" => |g, _| match g.get("k") {
            Some(Cell::String(s)) => Some(s.to_string()),
            _ => None,
        },
        other => panic!("unknown join function {other}"),
    }
}

fn having_fn(name: &str, cell_id: &str) -> impl Fn(&RowCells<'_>) -> bool + Send + Sync + 'static {
    let (name, cell_id) = (name.to_string(), cell_id.to_string());
    move |g| match name.as_str() {
        "notB" => g.get(&cell_id) != Some(Cell::from("b")),
        "defined" => g.get(&cell_id).is_some(),
        other => panic!("unknown having function {other}"),
    }
}

fn cell_mapper(name: &str) -> fn(&str) -> String {
    match name {
        "wrap" => |c| format!("<{c}>"),
        other => panic!("unknown cell id mapper {other}"),
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
                let x = if a.get(4).and_then(Json::as_bool) == Some(true) {
                    b.select_from_query(s(1), s(2))
                } else {
                    b.select_from(s(1), s(2))
                };
                if let Some(name) = alias(&a[3]) {
                    x.as_(&name);
                }
            }
            "selectFn" => {
                b.select_fn(select_fn(s(1))).as_(s(2));
            }
            "selectAll" => {
                // [joinAlias|null, prefix|null|{fn}, asQuery]: `true` names a joined query
                // by its alias, as a joined table's.
                let joined = a[1].as_str();
                match (&a[2], joined) {
                    (Json::Null, None) => b.select_all(),
                    (Json::String(p), None) if p.is_empty() => b.select_all(),
                    (Json::String(p), None) => {
                        let p = p.clone();
                        b.select_all_mapped(None, move |c| format!("{p}{c}"));
                    }
                    (Json::Null, Some(j)) => b.select_all_from(j, ""),
                    (Json::String(p), Some(j)) => b.select_all_from(j, p),
                    (m, j) => b.select_all_mapped(j, cell_mapper(m["fn"].as_str().expect("fn"))),
                }
            }
            "join" => {
                let on = match &a[2] {
                    Json::String(cell) => On::from(cell.as_str()),
                    spec => On::func(join_fn(spec["fn"].as_str().expect("a join function"))),
                };
                let x = match (&a[1], alias(&a[4])) {
                    (Json::String(t), None) => b.join(t, on),
                    (Json::String(t), Some(from)) => b.join_from(t, &from, on),
                    (q, None) => b.join_query(q["q"].as_str().expect("a query id"), on),
                    (q, Some(from)) => {
                        b.join_query_from(q["q"].as_str().expect("a query id"), &from, on)
                    }
                };
                if let Some(name) = alias(&a[3]) {
                    x.as_(&name);
                }
            }
            "where" => b.where_(s(1), Cell::from(a[2].clone())),
            "whereFrom" => {
                let equals = Cell::from(a[3].clone());
                if a[4].as_bool() == Some(true) {
                    b.where_from_query(s(1), s(2), equals);
                } else {
                    b.where_from(s(1), s(2), equals);
                }
            }
            // A missing param is `undefined` in TinyBase, which `where_` cannot take: matched
            // as `getTableCell(cellId) === undefined`.
            "whereParam" => match b.param(s(2)) {
                Some(v) => b.where_(s(1), v),
                None => {
                    let c = s(1).to_string();
                    b.where_fn(move |g| g.cell(&c).is_none());
                }
            },
            "whereFn" => b.where_fn(where_fn(s(1))),
            "group" => {
                let x = b.group(s(1), s(2));
                if let Some(name) = alias(&a[3]) {
                    x.as_(&name);
                }
            }
            "having" => b.having(s(1), Cell::from(a[2].clone())),
            "havingFn" => b.having_fn(having_fn(s(1), s(2))),
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

/// Id changes as `[id, 1 | -1]` pairs sorted by id, as views_diff.mjs records them.
fn id_changes(changes: &IdChanges) -> Json {
    let mut pairs: Vec<(String, i8)> = changes.iter().map(|(id, n)| (id.to_string(), *n)).collect();
    pairs.sort_by(|a, b| compare_utf16(&a.0, &b.0));
    json!(pairs)
}

/// The wildcard result and param listeners every Queries gets (`addQueryListener` in
/// views_diff.mjs's `WILDCARD_QUERY_LISTENERS`).
const WILDCARDS: [(&str, usize); 9] = [
    ("table", 1),
    ("tableCellIds", 1),
    ("rowCount", 1),
    ("rowIds", 1),
    ("row", 2),
    ("cellIds", 2),
    ("cell", 3),
    ("paramValues", 1),
    ("paramValue", 2),
];

/// Adds a result or param listener of `kind` whose calls go to the log as `[tag, kind, …]`.
fn add_listener(
    x: &Queries,
    log: &Log,
    tag: &'static str,
    kind: &str,
    a: &[Json],
) -> QueryListenerId {
    let id = |i: usize| a.get(i).and_then(Json::as_str);
    let l = log.clone();
    let k = kind.to_string();
    let push_event = move |rest: Vec<Json>| {
        let mut e = vec![json!(tag), json!(k)];
        e.extend(rest);
        push(&l, Json::Array(e));
    };
    match kind {
        "table" => x.add_result_table_listener(id(0), move |_, q| push_event(vec![json!(q)])),
        "tableCellIds" => x.add_result_table_cell_ids_listener(id(0), move |_, q, c| {
            push_event(vec![json!(q), id_changes(c)])
        }),
        "rowCount" => x.add_result_row_count_listener(id(0), move |_, q, n| {
            push_event(vec![json!(q), json!(n)])
        }),
        "rowIds" => x.add_result_row_ids_listener(id(0), move |_, q, c| {
            push_event(vec![json!(q), id_changes(c)])
        }),
        "sortedRowIds" => {
            let offset = a[3].as_u64().expect("an offset") as usize;
            let limit = a[4].as_u64().map(|l| l as usize);
            let descending = a[2].as_bool().expect("descending");
            x.add_result_sorted_row_ids_listener(
                id(0),
                id(1),
                descending,
                offset,
                limit,
                move |_, q, c, d, off, l, ids| {
                    push_event(vec![
                        json!(q),
                        json!(c),
                        json!(d),
                        json!(off),
                        json!(l),
                        json!(ids),
                    ])
                },
            )
        }
        "row" => x.add_result_row_listener(id(0), id(1), move |_, q, r| {
            push_event(vec![json!(q), json!(r)])
        }),
        "cellIds" => x.add_result_cell_ids_listener(id(0), id(1), move |_, q, r, c| {
            push_event(vec![json!(q), json!(r), id_changes(c)])
        }),
        "cell" => x.add_result_cell_listener(id(0), id(1), id(2), move |_, q, r, c, new, old| {
            push_event(vec![
                json!(q),
                json!(r),
                json!(c),
                cell_json(new),
                cell_json(old),
            ])
        }),
        "paramValues" => x.add_param_values_listener(id(0), move |_, q, v| {
            push_event(vec![json!(q), row_json(v)])
        }),
        "paramValue" => x.add_param_value_listener(id(0), id(1), move |_, q, p, v| {
            push_event(vec![json!(q), json!(p), cell_json(v)])
        }),
        other => panic!("unknown query listener {other}"),
    }
}

/// Creates the store's Queries with wildcard listeners of every kind the trace records.
pub fn create(store: &Store, log: &Log) -> Queries {
    let x = create_queries(store);
    let l = log.clone();
    x.add_query_ids_listener(move |_| push(&l, json!(["queryIds"])));
    for (kind, ids) in WILDCARDS {
        add_listener(&x, log, "w", kind, &vec![Json::Null; ids]);
    }
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
                q.has_result_table(id),
                RESULT_ROW_PROBES
                    .iter()
                    .map(|r| json!([q.has_result_row(id, r), q.has_result_cell(id, r, "n")]))
                    .collect::<Vec<_>>(),
            ])
        })
        .collect();
    s.insert("queries".into(), Json::Array(ids));
    let st = q.get_listener_stats();
    s.insert(
        "queryStats".into(),
        json!([
            st.table,
            st.table_cell_ids,
            st.row_count,
            st.row_ids,
            st.sorted_row_ids,
            st.row,
            st.cell_ids,
            st.cell,
            st.param_values,
            st.param_value
        ]),
    );
}

fn params_row(j: &Json) -> Row {
    j.as_object()
        .expect("param values")
        .iter()
        .map(|(k, v)| (k.clone(), Cell::from(v.clone())))
        .collect()
}

/// Applies a Queries op; `false` when `name` is not one.
pub fn apply(q: Option<&Queries>, log: &Log, a: &[Json]) -> bool {
    let s = |i: usize| a[i].as_str().expect("a string argument");
    let q = || q.expect("queries");
    match s(0) {
        "setQueryDefinition" => {
            let clauses = a[3].clone();
            let params = params_row(&a[4]);
            let build = move |b: &QueryBuilder| build(b, &clauses);
            match &a[2] {
                Json::String(table) => {
                    q().set_query_definition_with_params(s(1), table, build, params)
                }
                root => q().set_query_definition_on_query(
                    s(1),
                    root["q"].as_str().expect("a root query id"),
                    build,
                    params,
                ),
            }
            .expect("a valid definition");
        }
        "delQueryDefinition" => {
            q().del_query_definition(s(1));
        }
        "setParamValue" => {
            q().set_param_value(s(1), s(2), Cell::from(a[3].clone()));
        }
        "setParamValues" => {
            q().set_param_values(s(1), &params_row(&a[2]));
        }
        "addQueryListener" => {
            let id = add_listener(q(), log, "o", s(1), &a[2..]);
            push(log, json!(["listenerId", id.to_string()]));
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
