//! Scripted store calls in the reference kit's op format, e.g. `["setCell", t, r, c, v]`: the
//! common language of tinystore's CLI, its differential tests and the TinyBase kit.
//!
//! ```
//! use tinystore_core::{Store, ops};
//! let store = Store::new();
//! let script = serde_json::json!([
//!     ["setCell", "pets", "fido", "species", "dog"],
//!     ["transaction", [["setValue", "open", true], ["delCell", "pets", "fido", "species"]]]
//! ]);
//! ops::apply_ops(&store, &script).unwrap();
//! assert_eq!(store.get_json(), r#"[{},{"open":true}]"#);
//! ```

use serde_json::Value as Json;

use crate::content::{
    ContentError, row_from_json, table_from_json, tables_from_json, values_from_json,
};
use crate::json::number_to_js_string;
use crate::store::Store;
use crate::types::Cell;

/// Why an op script could not be applied.
///
/// ```
/// use tinystore_core::ops::{OpError, check_ops};
/// let err = check_ops(&serde_json::json!([["setValue", "open", true], ["sleep", 10]]));
/// assert_eq!(err, Err(OpError::Unsupported { index: 1, name: "sleep".into() }));
/// assert_eq!(err.unwrap_err().to_string(), r#"op 1: unsupported op "sleep""#);
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// The script or an op does not have the op format's shape.
    #[error("op {index}: {message}")]
    Shape {
        /// Position of the op in its list.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// An op name this store cannot run (`sleep` needs a live peer; see the kit README).
    #[error("op {index}: unsupported op {name:?}")]
    Unsupported {
        /// Position of the op in its list.
        index: usize,
        /// The op's name.
        name: String,
    },
    /// An argument could not be read as content.
    #[error("op {index}: {source}")]
    Content {
        /// Position of the op in its list.
        index: usize,
        /// The content error.
        source: ContentError,
    },
}

/// Checks a whole script without applying anything: every op well formed and supported.
///
/// ```
/// use serde_json::json;
/// use tinystore_core::ops::{OpError, check_ops};
/// assert!(check_ops(&json!([["setCell", "pets", "fido", "legs", 4]])).is_ok());
/// // `setCell` needs a table, row and cell id and a value.
/// let short = check_ops(&json!([["setCell", "pets", "fido"]]));
/// assert!(matches!(short, Err(OpError::Shape { index: 0, .. })));
/// ```
pub fn check_ops(ops: &Json) -> Result<(), OpError> {
    let list = ops.as_array().ok_or_else(|| OpError::Shape {
        index: 0,
        message: "ops must be a JSON array".into(),
    })?;
    for (index, op) in list.iter().enumerate() {
        check_op(index, op, true)?;
    }
    Ok(())
}

fn check_op(index: usize, op: &Json, top: bool) -> Result<(), OpError> {
    let shape = |message: &str| OpError::Shape {
        index,
        message: message.into(),
    };
    let a = op
        .as_array()
        .filter(|a| a.first().is_some_and(Json::is_string))
        .ok_or_else(|| shape("an op is an array starting with its name"))?;
    let name = a[0].as_str().unwrap_or_default();
    let arity = match name {
        "setCell" => 5,
        "setRow" | "setPartialRow" => 4,
        "delCell" => 4,
        "addRow" | "setTable" | "setValue" => 3,
        "delRow" => 3,
        "setTables" | "setValues" | "setPartialValues" | "setContent" | "delTable" | "delValue" => {
            2
        }
        "delTables" | "delValues" => 1,
        "transaction" if top => {
            let inner = a
                .get(1)
                .and_then(Json::as_array)
                .ok_or_else(|| shape("transaction takes a list of ops"))?;
            for op in inner {
                check_op(index, op, false)?;
            }
            return Ok(());
        }
        "transaction" => return Err(shape("no transaction inside a transaction")),
        _ => {
            return Err(OpError::Unsupported {
                index,
                name: name.into(),
            });
        }
    };
    if a.len() < arity {
        return Err(shape(&format!("{name} takes {} arguments", arity - 1)));
    }
    // Content arguments are read here too, so that a bad one is found before anything runs.
    let content = |source| OpError::Content { index, source };
    match name {
        "setRow" | "setPartialRow" => drop(row_from_json(&a[3], false).map_err(content)?),
        "addRow" => drop(row_from_json(&a[2], false).map_err(content)?),
        "setTable" => drop(table_from_json(&a[2], false).map_err(content)?),
        "setTables" => drop(tables_from_json(&a[1], false).map_err(content)?),
        "setValues" | "setPartialValues" => drop(values_from_json(&a[1], false).map_err(content)?),
        "setContent" => {
            let parts = a[1]
                .as_array()
                .filter(|p| p.len() == 2)
                .ok_or_else(|| shape("setContent takes [tables, values]"))?;
            drop(tables_from_json(&parts[0], false).map_err(content)?);
            drop(values_from_json(&parts[1], false).map_err(content)?);
        }
        _ => {}
    }
    for (i, arg) in a.iter().enumerate().take(arity).skip(1) {
        let is_id = match name {
            "setCell" => i <= 3,
            "setValue" | "addRow" | "setTable" => i == 1,
            "setRow" | "setPartialRow" => i <= 2,
            "delCell" | "delRow" | "delTable" | "delValue" => true,
            _ => false,
        };
        if is_id {
            id(index, arg)?;
        }
    }
    Ok(())
}

/// Applies a checked script to a store, op by op (a `transaction` op as one transaction).
/// The script is checked as a whole first, so a malformed script changes nothing.
///
/// ```
/// use serde_json::json;
/// use tinystore_core::{Store, ops::apply_ops};
/// let store = Store::new();
/// apply_ops(&store, &json!([["setRow", "pets", "fido", {"legs": 4}], ["delValues"]]))?;
/// assert_eq!(store.get_json(), r#"[{"pets":{"fido":{"legs":4}}},{}]"#);
/// // The second op is malformed, so the first is not applied either.
/// assert!(apply_ops(&store, &json!([["delTables"], ["delRow", "pets"]])).is_err());
/// assert!(store.has_tables());
/// # Ok::<(), tinystore_core::ops::OpError>(())
/// ```
pub fn apply_ops(store: &Store, ops: &Json) -> Result<(), OpError> {
    check_ops(ops)?;
    for (index, op) in ops.as_array().into_iter().flatten().enumerate() {
        apply_op(store, index, op)?;
    }
    Ok(())
}

/// A JSON id coerced to a string as JavaScript's `'' + id` would.
fn id(index: usize, json: &Json) -> Result<String, OpError> {
    Ok(match json {
        Json::String(s) => s.clone(),
        Json::Number(n) => number_to_js_string(n.as_f64().unwrap_or(f64::NAN)),
        Json::Bool(b) => b.to_string(),
        Json::Null => "null".into(),
        _ => {
            return Err(OpError::Shape {
                index,
                message: "ids are strings".into(),
            });
        }
    })
}

fn apply_op(store: &Store, index: usize, op: &Json) -> Result<(), OpError> {
    let a = op.as_array().map(Vec::as_slice).unwrap_or_default();
    let s = |i: usize| id(index, &a[i]);
    let content = |source| OpError::Content { index, source };
    match a[0].as_str().unwrap_or_default() {
        "setCell" => {
            store.set_cell(&s(1)?, &s(2)?, &s(3)?, Cell::from_json(a[4].clone()));
        }
        "setRow" => {
            let row = row_from_json(&a[3], false).map_err(content)?;
            store.set_row(&s(1)?, &s(2)?, &row);
        }
        "setPartialRow" => {
            let row = row_from_json(&a[3], false).map_err(content)?;
            store.set_partial_row(&s(1)?, &s(2)?, &row);
        }
        "addRow" => {
            let row = row_from_json(&a[2], false).map_err(content)?;
            store.add_row(&s(1)?, &row, true);
        }
        "setTable" => {
            let table = table_from_json(&a[2], false).map_err(content)?;
            store.set_table(&s(1)?, &table);
        }
        "setTables" => {
            store.set_tables(&tables_from_json(&a[1], false).map_err(content)?);
        }
        "setValue" => {
            store.set_value(&s(1)?, Cell::from_json(a[2].clone()));
        }
        "setValues" => {
            store.set_values(&values_from_json(&a[1], false).map_err(content)?);
        }
        "setPartialValues" => {
            store.set_partial_values(&values_from_json(&a[1], false).map_err(content)?);
        }
        "setContent" => {
            let parts = a[1]
                .as_array()
                .filter(|p| p.len() >= 2)
                .ok_or_else(|| OpError::Shape {
                    index,
                    message: "setContent takes [tables, values]".into(),
                })?;
            let tables = tables_from_json(&parts[0], false).map_err(content)?;
            let values = values_from_json(&parts[1], false).map_err(content)?;
            store.set_content(&tables, &values);
        }
        "delCell" => {
            store.del_cell(&s(1)?, &s(2)?, &s(3)?, false);
        }
        "delRow" => {
            store.del_row(&s(1)?, &s(2)?);
        }
        "delTable" => {
            store.del_table(&s(1)?);
        }
        "delTables" => {
            store.del_tables();
        }
        "delValue" => {
            store.del_value(&s(1)?);
        }
        "delValues" => {
            store.del_values();
        }
        "transaction" => {
            let inner = a[1].as_array().map(Vec::as_slice).unwrap_or_default();
            return store.transaction(|st| inner.iter().try_for_each(|op| apply_op(st, index, op)));
        }
        name => {
            return Err(OpError::Unsupported {
                index,
                name: name.into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bad_scripts_change_nothing() {
        let store = Store::new();
        for bad in [
            json!({}),
            json!([["setCell", "t", "r", "c", 1], ["sleep", 5]]),
            json!([["setCell", "t", "r"]]),
            json!([["transaction", [["transaction", []]]]]),
            json!([[5]]),
        ] {
            assert!(apply_ops(&store, &bad).is_err(), "{bad}");
        }
        assert!(!store.has_tables());
        apply_ops(&store, &json!([["setCell", 1, 2.5, true, 3]])).unwrap();
        assert_eq!(store.get_json(), r#"[{"1":{"2.5":{"true":3}}},{}]"#);
    }
}
