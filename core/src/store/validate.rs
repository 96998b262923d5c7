//! Validation against the schemas, as TinyBase's `getValidated*` functions: what to store, and
//! the records of what was rejected.

use std::sync::Arc;

use crate::content::{Row, Table, Tables, Values};
use crate::schema::{Checked, TablesSchema};
use crate::types::{Cell, Text};

use super::state::State;

#[inline]
pub(super) fn schema_cell<'a>(
    schema: &'a Option<Arc<TablesSchema>>,
    t: &str,
    c: &str,
) -> Option<Option<&'a crate::schema::CellSchema>> {
    schema
        .as_ref()
        .map(|s| s.table(t).and_then(|ts| ts.cell(c)))
}

/// TinyBase's `getValidatedCell`: the cell to store, or `None` (recorded as invalid).
#[inline]
pub(super) fn validated_cell(
    s: &mut State,
    t: &str,
    r: Option<&str>,
    c: &str,
    cell: Cell,
) -> Option<Cell> {
    match schema_cell(&s.tables_schema, t, c) {
        None => {
            if cell.is_valid() {
                Some(cell)
            } else {
                s.cell_invalid(Some(t), r, Some(c), Some(cell));
                None
            }
        }
        Some(None) => {
            s.cell_invalid(Some(t), r, Some(c), Some(cell));
            None
        }
        Some(Some(cs)) => {
            let verdict = if cell.is_valid() {
                cs.check(&cell)
            } else {
                Checked::Invalid(cs.default.clone())
            };
            match verdict {
                Checked::Valid => Some(cell),
                Checked::Invalid(default) => {
                    s.cell_invalid(Some(t), r, Some(c), Some(cell));
                    default
                }
            }
        }
    }
}

#[inline]
pub(super) fn validated_value(s: &mut State, v: &str, value: Cell) -> Option<Cell> {
    let schema = s.values_schema.clone();
    match schema.as_ref().map(|x| x.value(v)) {
        None => {
            if value.is_valid() {
                Some(value)
            } else {
                s.value_invalid(Some(v), Some(value));
                None
            }
        }
        Some(None) => {
            s.value_invalid(Some(v), Some(value));
            None
        }
        Some(Some(vs)) => {
            let verdict = if value.is_valid() {
                vs.check(&value)
            } else {
                Checked::Invalid(vs.default.clone())
            };
            match verdict {
                Checked::Valid => Some(value),
                Checked::Invalid(default) => {
                    s.value_invalid(Some(v), Some(value));
                    default
                }
            }
        }
    }
}

pub(super) type ValidRow = Vec<(Text, Cell)>;

/// Appends missing defaulted cells (schema order) and records missing non-defaulted ones.
/// Returns false if a required cell is missing.
pub(super) fn add_row_defaults(
    s: &mut State,
    t: &str,
    r: Option<&str>,
    mut row: ValidRow,
) -> ValidRow {
    if let Some(table_schema) = s.tables_schema.clone().and_then(|x| x.table(t).cloned()) {
        for (c, default) in table_schema.defaults() {
            if !row.iter().any(|(id, _)| id == c) {
                row.push((c.clone(), default.clone()));
                // Told to the hook (a MergeableStore gives such a cell the empty HLC), but, as
                // in TinyBase, only when the row id is known: not for `addRow`.
                if let (Some(hook), Some(r)) = (s.hook.as_deref_mut(), r) {
                    hook.cell_defaulted(t, r, c);
                }
            }
        }
        for (c, _) in table_schema.non_defaulted() {
            if !row.iter().any(|(id, _)| id == c) {
                s.cell_invalid(Some(t), r, Some(c), None);
            }
        }
    }
    row
}

/// A row's cells as validation takes them, copied.
fn row_input(row: &Row) -> ValidRow {
    row.iter()
        .map(|(c, v)| (Text::from(c.as_str()), v.clone()))
        .collect()
}

/// A row's cells as validation takes them, moved (a persister's load hands over its content).
fn owned_row_input(row: Row) -> ValidRow {
    row.into_iter().map(|(c, v)| (Text::from(c), v)).collect()
}

pub(super) fn validate_row(
    s: &mut State,
    t: &str,
    r: Option<&str>,
    row: &Row,
    skip_defaults: bool,
) -> Option<ValidRow> {
    validate_row_input(s, t, r, row_input(row), skip_defaults)
}

fn validate_row_input(
    s: &mut State,
    t: &str,
    r: Option<&str>,
    mut input: ValidRow,
    skip_defaults: bool,
) -> Option<ValidRow> {
    let schema = s.tables_schema.clone();
    let table_schema = schema.as_ref().and_then(|x| x.table(t));
    if !skip_defaults && table_schema.is_some() {
        input = add_row_defaults(s, t, r, input);
    }
    if input.is_empty() {
        s.cell_invalid(Some(t), r, None, None);
        return None;
    }
    let mut valid = Vec::with_capacity(input.len());
    for (c, cell) in input {
        if let Some(cell) = validated_cell(s, t, r, &c, cell) {
            valid.push((c, cell));
        }
    }
    if !skip_defaults
        && let Some(ts) = table_schema
        && ts
            .non_defaulted()
            .iter()
            .any(|(c, required)| *required && !valid.iter().any(|(id, _)| id == c))
    {
        return None;
    }
    (!valid.is_empty()).then_some(valid)
}

pub(super) fn validate_table(
    s: &mut State,
    t: &str,
    table: &Table,
) -> Option<Vec<(Text, ValidRow)>> {
    validate_table_rows(
        s,
        t,
        table
            .iter()
            .map(|(r, row)| (Text::from(r.as_str()), row_input(row))),
    )
}

/// A table's rows (id and cells as validation takes them), validated.
fn validate_table_rows(
    s: &mut State,
    t: &str,
    rows: impl ExactSizeIterator<Item = (Text, ValidRow)>,
) -> Option<Vec<(Text, ValidRow)>> {
    if let Some(schema) = &s.tables_schema
        && schema.table(t).is_none()
    {
        s.cell_invalid(Some(t), None, None, None);
        return None;
    }
    if rows.len() == 0 {
        s.cell_invalid(Some(t), None, None, None);
        return None;
    }
    let valid: Vec<(Text, ValidRow)> = rows
        .filter_map(|(r, input)| validate_row_input(s, t, Some(&r), input, false).map(|v| (r, v)))
        .collect();
    (!valid.is_empty()).then_some(valid)
}

pub(super) type ValidTables = Vec<(Text, Vec<(Text, ValidRow)>)>;

pub(super) fn validate_tables(s: &mut State, tables: &Tables) -> Option<ValidTables> {
    validate_tables_from(
        s,
        tables.iter().map(|(t, table)| {
            let rows = table
                .iter()
                .map(|(r, row)| (Text::from(r.as_str()), row_input(row)));
            (Text::from(t.as_str()), rows)
        }),
    )
}

/// [`validate_tables`] moving the cells out of `tables` instead of copying them.
pub(super) fn validate_owned_tables(s: &mut State, tables: Tables) -> Option<ValidTables> {
    validate_tables_from(
        s,
        tables.into_iter().map(|(t, table)| {
            let rows = table
                .into_iter()
                .map(|(r, row)| (Text::from(r), owned_row_input(row)));
            (Text::from(t), rows)
        }),
    )
}

/// Tables (id and rows as validation takes them), validated.
fn validate_tables_from<R>(
    s: &mut State,
    tables: impl ExactSizeIterator<Item = (Text, R)>,
) -> Option<ValidTables>
where
    R: ExactSizeIterator<Item = (Text, ValidRow)>,
{
    if tables.len() == 0 {
        s.cell_invalid(None, None, None, None);
        return None;
    }
    let valid: ValidTables = tables
        .filter_map(|(t, rows)| validate_table_rows(s, &t, rows).map(|v| (t, v)))
        .collect();
    (!valid.is_empty()).then_some(valid)
}

pub(super) fn validate_value(s: &mut State, v: &str, value: Cell) -> Option<Cell> {
    validated_value(s, v, value)
}

pub(super) fn validate_values(
    s: &mut State,
    values: &Values,
    skip_defaults: bool,
) -> Option<ValidRow> {
    validate_values_input(s, row_input(values), skip_defaults)
}

/// [`validate_values`] moving the values out instead of copying them.
pub(super) fn validate_owned_values(s: &mut State, values: Values) -> Option<ValidRow> {
    validate_values_input(s, owned_row_input(values), false)
}

fn validate_values_input(
    s: &mut State,
    mut input: ValidRow,
    skip_defaults: bool,
) -> Option<ValidRow> {
    if !skip_defaults && let Some(schema) = s.values_schema.clone() {
        for (v, default) in schema.as_table().defaults() {
            if !input.iter().any(|(id, _)| id == v) {
                input.push((v.clone(), default.clone()));
                if let Some(hook) = s.hook.as_deref_mut() {
                    hook.value_defaulted(v);
                }
            }
        }
        for (v, _) in schema.as_table().non_defaulted() {
            if !input.iter().any(|(id, _)| id == v) {
                s.value_invalid(Some(v), None);
            }
        }
    }
    if input.is_empty() {
        s.value_invalid(None, None);
        return None;
    }
    let valid: ValidRow = input
        .into_iter()
        .filter_map(|(v, value)| validated_value(s, &v, value).map(|x| (v, x)))
        .collect();
    (!valid.is_empty()).then_some(valid)
}
