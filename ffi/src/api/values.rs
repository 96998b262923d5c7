//! Cells and the records the store methods take and return.

use super::*;

/// One Cell or Value: string, number, boolean, null, or an object/array as JSON text.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum CellValue {
    /// A string.
    Str {
        /// The string.
        value: String,
    },
    /// A finite number (non-finite numbers are rejected by the store as invalid cells).
    Num {
        /// The number.
        value: f64,
    },
    /// `true` or `false`.
    Bool {
        /// The boolean.
        value: bool,
    },
    /// JSON `null` (a real value: `has_cell` is true).
    Null,
    /// An object or array, as JSON text (e.g. `{"a":1}` or `[1,"x"]`).
    Json {
        /// The JSON text.
        json: String,
    },
}

impl From<Cell> for CellValue {
    fn from(c: Cell) -> Self {
        match c {
            Cell::Null => CellValue::Null,
            Cell::Boolean(value) => CellValue::Bool { value },
            Cell::Number(value) => CellValue::Num { value },
            Cell::String(s) => CellValue::Str {
                value: s.to_string(),
            },
            Cell::Object(t) | Cell::Array(t) => CellValue::Json {
                json: t.to_string(),
            },
        }
    }
}

pub(crate) fn opt_value(c: Option<&Cell>) -> Option<CellValue> {
    c.cloned().map(CellValue::from)
}

/// Converts a foreign value; object/array JSON is re-serialised as `JSON.stringify` would, so
/// that hashes match TinyBase's.
pub(crate) fn to_cell(v: CellValue) -> Result<Cell, TinystoreError> {
    Ok(match v {
        CellValue::Str { value } => Cell::String(value.into()),
        CellValue::Num { value } => Cell::Number(value),
        CellValue::Bool { value } => Cell::Boolean(value),
        CellValue::Null => Cell::Null,
        CellValue::Json { json: text } => {
            let parsed = json::parse(&text).map_err(|e| TinystoreError::InvalidValue {
                reason: format!("invalid JSON cell: {e}"),
            })?;
            if !(parsed.is_object() || parsed.is_array()) {
                return Err(TinystoreError::InvalidValue {
                    reason: "a JSON cell must be an object or an array".into(),
                });
            }
            Cell::from_json(parsed)
        }
    })
}

pub(crate) fn to_row(cells: HashMap<String, CellValue>) -> Result<Row, TinystoreError> {
    cells
        .into_iter()
        .map(|(k, v)| Ok((k, to_cell(v)?)))
        .collect()
}

pub(crate) fn to_table(
    rows: HashMap<String, HashMap<String, CellValue>>,
) -> Result<Table, TinystoreError> {
    rows.into_iter().map(|(k, v)| Ok((k, to_row(v)?))).collect()
}

pub(crate) fn to_tables(
    tables: HashMap<String, HashMap<String, HashMap<String, CellValue>>>,
) -> Result<Tables, TinystoreError> {
    tables
        .into_iter()
        .map(|(k, v)| Ok((k, to_table(v)?)))
        .collect()
}

pub(crate) fn from_row(row: Row) -> HashMap<String, CellValue> {
    row.into_iter().map(|(k, v)| (k, v.into())).collect()
}

pub(crate) fn from_table(table: Table) -> HashMap<String, HashMap<String, CellValue>> {
    table.into_iter().map(|(k, v)| (k, from_row(v))).collect()
}

pub(crate) fn parse(text: &str) -> Result<Json, TinystoreError> {
    content::parse_json(text).map_err(Into::into)
}

/// `[tables, values]` (encoded or plain JSON) → content.
pub(crate) fn parse_content(text: &str) -> Result<(Tables, Values), TinystoreError> {
    let parsed = parse(text)?;
    match parsed.as_array().map(Vec::as_slice) {
        Some([tables, values]) => Ok((
            content::tables_from_json(tables, true)?,
            content::values_from_json(values, true)?,
        )),
        _ => Err(TinystoreError::InvalidJson {
            reason: "expected [tables, values]".into(),
        }),
    }
}

pub(crate) fn parse_initial(
    initial: Option<String>,
) -> Result<Option<(Tables, Values)>, TinystoreError> {
    initial.as_deref().map(parse_content).transpose()
}

pub(crate) fn as_pair(initial: &Option<(Tables, Values)>) -> Option<(&Tables, &Values)> {
    initial.as_ref().map(|(t, v)| (t, v))
}

/// An id added (`change` = 1) or removed (`change` = -1) by a transaction.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct IdChange {
    /// The id.
    pub id: String,
    /// 1 added, -1 removed.
    pub change: i8,
}

pub(crate) fn id_changes(changes: &core::IdChanges) -> Vec<IdChange> {
    changes
        .iter()
        .map(|(id, change)| IdChange {
            id: id.to_string(),
            change: *change,
        })
        .collect()
}

/// The arguments of `get_sorted_row_ids` and its listener.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SortedRowIdsArgs {
    /// The table.
    pub table_id: String,
    /// The cell to sort by; `None` sorts by row id.
    #[uniffi(default = None)]
    pub cell_id: Option<String>,
    /// Largest first.
    #[uniffi(default = false)]
    pub descending: bool,
    /// How many sorted ids to skip.
    #[uniffi(default = 0)]
    pub offset: u64,
    /// How many ids at most; `None` for all.
    #[uniffi(default = None)]
    pub limit: Option<u64>,
}

/// Orders two sort keys for sorted row ids (TinyBase's `sorter`): negative puts `a` first.
#[uniffi::export(with_foreign)]
pub trait RowSorter: Send + Sync {
    /// Compares two cells (`None`: the row has no such cell).
    fn compare(&self, a: Option<CellValue>, b: Option<CellValue>) -> Result<i32, TinystoreError>;
}

pub(crate) fn core_sorted_args(
    args: SortedRowIdsArgs,
    sorter: Option<Arc<dyn RowSorter>>,
) -> core::SortedRowIdsArgs {
    let mut out = core::SortedRowIdsArgs::new(args.table_id).descending(args.descending);
    out.cell_id = args.cell_id;
    out.offset = usize::try_from(args.offset).unwrap_or(usize::MAX);
    out.limit = args.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    if let Some(sorter) = sorter {
        out.sorter = Some(Arc::new(
            move |a: Option<&Cell>, b: Option<&Cell>| match sorter
                .compare(opt_value(a), opt_value(b))
            {
                Ok(n) => n.cmp(&0),
                Err(e) => {
                    report("sorter", &e);
                    std::cmp::Ordering::Equal
                }
            },
        ));
    }
    out
}

/// Whether a cell or value changed in the current transaction, its value before, and now.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChangeInfo {
    /// Whether old and new differ.
    pub changed: bool,
    /// The value before the transaction.
    pub old_value: Option<CellValue>,
    /// The value now.
    pub new_value: Option<CellValue>,
}

impl From<core::CellChange> for ChangeInfo {
    fn from(c: core::CellChange) -> Self {
        ChangeInfo {
            changed: c.changed,
            old_value: c.old.map(Into::into),
            new_value: c.new.map(Into::into),
        }
    }
}

/// Listener counts per kind (TinyBase's `getListenerStats`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
#[allow(missing_docs)]
pub struct ListenerStats {
    pub has_tables: u64,
    pub tables: u64,
    pub table_ids: u64,
    pub has_table: u64,
    pub table: u64,
    pub table_cell_ids: u64,
    pub has_table_cell: u64,
    pub row_count: u64,
    pub row_ids: u64,
    pub sorted_row_ids: u64,
    pub has_row: u64,
    pub row: u64,
    pub cell_ids: u64,
    pub has_cell: u64,
    pub cell: u64,
    pub invalid_cell: u64,
    pub has_values: u64,
    pub values: u64,
    pub value_ids: u64,
    pub has_value: u64,
    pub value: u64,
    pub invalid_value: u64,
    pub transaction: u64,
}

impl From<core::ListenerStats> for ListenerStats {
    fn from(s: core::ListenerStats) -> Self {
        let n = |x: usize| x as u64;
        ListenerStats {
            has_tables: n(s.has_tables),
            tables: n(s.tables),
            table_ids: n(s.table_ids),
            has_table: n(s.has_table),
            table: n(s.table),
            table_cell_ids: n(s.table_cell_ids),
            has_table_cell: n(s.has_table_cell),
            row_count: n(s.row_count),
            row_ids: n(s.row_ids),
            sorted_row_ids: n(s.sorted_row_ids),
            has_row: n(s.has_row),
            row: n(s.row),
            cell_ids: n(s.cell_ids),
            has_cell: n(s.has_cell),
            cell: n(s.cell),
            invalid_cell: n(s.invalid_cell),
            has_values: n(s.has_values),
            values: n(s.values),
            value_ids: n(s.value_ids),
            has_value: n(s.has_value),
            value: n(s.value),
            invalid_value: n(s.invalid_value),
            transaction: n(s.transaction),
        }
    }
}

/// A MergeableStore's content hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct ContentHashes {
    /// The hash of all tables.
    pub tables_hash: u32,
    /// The hash of all values.
    pub values_hash: u32,
}
