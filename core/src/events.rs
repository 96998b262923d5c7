//! The listener-event contract: one description of *what to listen to* ([`Listen`]: a kind and
//! its ids) and one description of *what a listener is told* ([`ListenerEvent`]: the kind, the
//! ids and the values), over the store's 25 typed `add_*_listener` methods.
//!
//! [`add_listener`] is the only place that maps the kinds onto those methods; the C ABI and
//! the UniFFI bindings each convert one [`ListenerEvent`] into their own event type instead of
//! writing 25 callbacks each. [`ListenerKind::code`] gives every kind a frozen number (the C
//! ABI's `tinystore_listener_kind_t`).
//!
//! ```
//! use tinystore_core::events::{Listen, ListenerKind, add_listener};
//! use tinystore_core::Store;
//! use std::sync::{Arc, Mutex};
//!
//! let store = Store::new();
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = seen.clone();
//! let listen = Listen::Cell { table_id: Some("pets"), row_id: None, cell_id: None };
//! add_listener(&store, listen, false, move |_, event| {
//!     assert_eq!(event.kind, ListenerKind::Cell);
//!     log.lock().unwrap().push(format!("{:?} {:?}", event.row_id, event.new));
//! });
//! store.set_cell("pets", "fido", "legs", 4.0);
//! assert_eq!(seen.lock().unwrap().len(), 1);
//! ```

pub use crate::store::ListenerKind;
use crate::store::{IdChanges, ListenerId, SortedRowIdsArgs, Store};
use crate::types::Cell;

/// What a listener listens to: its kind and ids (`None`: any id, TinyBase's wildcard).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tinystore_core::Store;
/// use tinystore_core::events::{Listen, add_listener};
///
/// let store = Store::new();
/// let counts = Arc::new(Mutex::new(Vec::new()));
/// let log = counts.clone();
/// // `None`: the row count of every table.
/// add_listener(&store, Listen::RowCount { table_id: None }, false, move |_, e| {
///     log.lock().unwrap().push((e.table_id.unwrap().to_string(), e.count));
/// });
/// store.set_cell("pets", "fido", "legs", 4.0);
/// store.set_cell("toys", "ball", "color", "red");
/// assert_eq!(*counts.lock().unwrap(), [("pets".into(), 1), ("toys".into(), 1)]);
/// ```
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum Listen<'a> {
    HasTables,
    Tables,
    TableIds,
    HasTable {
        table_id: Option<&'a str>,
    },
    Table {
        table_id: Option<&'a str>,
    },
    TableCellIds {
        table_id: Option<&'a str>,
    },
    HasTableCell {
        table_id: Option<&'a str>,
        cell_id: Option<&'a str>,
    },
    RowCount {
        table_id: Option<&'a str>,
    },
    RowIds {
        table_id: Option<&'a str>,
    },
    /// A sorted, sliced list of row ids (the table and sort cell are in the arguments).
    SortedRowIds(SortedRowIdsArgs),
    HasRow {
        table_id: Option<&'a str>,
        row_id: Option<&'a str>,
    },
    Row {
        table_id: Option<&'a str>,
        row_id: Option<&'a str>,
    },
    CellIds {
        table_id: Option<&'a str>,
        row_id: Option<&'a str>,
    },
    HasCell {
        table_id: Option<&'a str>,
        row_id: Option<&'a str>,
        cell_id: Option<&'a str>,
    },
    Cell {
        table_id: Option<&'a str>,
        row_id: Option<&'a str>,
        cell_id: Option<&'a str>,
    },
    InvalidCell {
        table_id: Option<&'a str>,
        row_id: Option<&'a str>,
        cell_id: Option<&'a str>,
    },
    HasValues,
    Values,
    ValueIds,
    HasValue {
        value_id: Option<&'a str>,
    },
    Value {
        value_id: Option<&'a str>,
    },
    InvalidValue {
        value_id: Option<&'a str>,
    },
    /// Transaction listeners are never mutators.
    StartTransaction,
    WillFinishTransaction,
    DidFinishTransaction,
}

/// What a listener is told. Fields that do not apply to `kind` are `None`, `false`, `0` or
/// empty; everything is borrowed for the duration of the call.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tinystore_core::{Cell, Store};
/// use tinystore_core::events::{Listen, add_listener};
///
/// let store = Store::new();
/// store.set_value("open", false);
/// let seen = Arc::new(Mutex::new(None));
/// let log = seen.clone();
/// add_listener(&store, Listen::Value { value_id: Some("open") }, false, move |_, e| {
///     // Borrowed for the call only: keep owned copies.
///     let id = e.value_id.unwrap().to_string();
///     *log.lock().unwrap() = Some((id, e.new.cloned(), e.old.cloned()));
/// });
/// store.set_value("open", true);
/// let (id, new, old) = seen.lock().unwrap().clone().unwrap();
/// assert_eq!(id, "open");
/// assert_eq!((new, old), (Some(Cell::from(true)), Some(Cell::from(false))));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ListenerEvent<'a> {
    /// The kind of the listener (and so which fields are set).
    pub kind: ListenerKind,
    /// The table id (always set for table, row and cell kinds but the invalid-cell one).
    pub table_id: Option<&'a str>,
    /// The row id.
    pub row_id: Option<&'a str>,
    /// The cell id (for sorted row ids: the sort cell, if any).
    pub cell_id: Option<&'a str>,
    /// The value id.
    pub value_id: Option<&'a str>,
    /// For `Has*` kinds: whether the thing now exists.
    pub has: bool,
    /// For `RowCount`: the row count.
    pub count: usize,
    /// For `Cell` and `Value`: the new cell (`None` when deleted).
    pub new: Option<&'a Cell>,
    /// For `Cell` and `Value`: the old cell (`None` when it did not exist).
    pub old: Option<&'a Cell>,
    /// For `*Ids` kinds: the ids added (+1) and removed (-1), in change order.
    pub id_changes: &'a IdChanges,
    /// For `SortedRowIds`: the listener's arguments.
    pub sorted: Option<&'a SortedRowIdsArgs>,
    /// For `SortedRowIds`: the sorted, sliced row ids.
    pub ids: &'a [String],
    /// For `InvalidCell` and `InvalidValue`: the rejected cells (`None` for an `undefined`).
    pub invalid: &'a [Option<Cell>],
}

impl<'a> ListenerEvent<'a> {
    /// An event of `kind` with no field set.
    ///
    /// ```
    /// use tinystore_core::events::{ListenerEvent, ListenerKind};
    /// let event = ListenerEvent::new(ListenerKind::Tables);
    /// assert_eq!(event.kind, ListenerKind::Tables);
    /// assert_eq!((event.table_id, event.has, event.count), (None, false, 0));
    /// assert!(event.id_changes.is_empty() && event.ids.is_empty());
    /// ```
    pub fn new(kind: ListenerKind) -> ListenerEvent<'a> {
        ListenerEvent {
            kind,
            table_id: None,
            row_id: None,
            cell_id: None,
            value_id: None,
            has: false,
            count: 0,
            new: None,
            old: None,
            id_changes: &[],
            sorted: None,
            ids: &[],
            invalid: &[],
        }
    }
}

impl Listen<'_> {
    /// The kind of listener this registers.
    ///
    /// ```
    /// use tinystore_core::events::{Listen, ListenerKind};
    /// let listen = Listen::HasRow { table_id: Some("pets"), row_id: None };
    /// assert_eq!(listen.kind(), ListenerKind::HasRow);
    /// assert_eq!(listen.kind().code(), 10);
    /// ```
    pub fn kind(&self) -> ListenerKind {
        use ListenerKind as K;
        match self {
            Listen::HasTables => K::HasTables,
            Listen::Tables => K::Tables,
            Listen::TableIds => K::TableIds,
            Listen::HasTable { .. } => K::HasTable,
            Listen::Table { .. } => K::Table,
            Listen::TableCellIds { .. } => K::TableCellIds,
            Listen::HasTableCell { .. } => K::HasTableCell,
            Listen::RowCount { .. } => K::RowCount,
            Listen::RowIds { .. } => K::RowIds,
            Listen::SortedRowIds(_) => K::SortedRowIds,
            Listen::HasRow { .. } => K::HasRow,
            Listen::Row { .. } => K::Row,
            Listen::CellIds { .. } => K::CellIds,
            Listen::HasCell { .. } => K::HasCell,
            Listen::Cell { .. } => K::Cell,
            Listen::InvalidCell { .. } => K::InvalidCell,
            Listen::HasValues => K::HasValues,
            Listen::Values => K::Values,
            Listen::ValueIds => K::ValueIds,
            Listen::HasValue { .. } => K::HasValue,
            Listen::Value { .. } => K::Value,
            Listen::InvalidValue { .. } => K::InvalidValue,
            Listen::StartTransaction => K::StartTransaction,
            Listen::WillFinishTransaction => K::WillFinishTransaction,
            Listen::DidFinishTransaction => K::DidFinishTransaction,
        }
    }
}

impl ListenerKind {
    /// The frozen number of this kind (the C ABI's `tinystore_listener_kind_t`): never
    /// renumbered, new kinds only appended.
    pub fn code(self) -> u32 {
        use ListenerKind as K;
        match self {
            K::HasTables => 0,
            K::Tables => 1,
            K::TableIds => 2,
            K::HasTable => 3,
            K::Table => 4,
            K::TableCellIds => 5,
            K::HasTableCell => 6,
            K::RowCount => 7,
            K::RowIds => 8,
            K::SortedRowIds => 9,
            K::HasRow => 10,
            K::Row => 11,
            K::CellIds => 12,
            K::HasCell => 13,
            K::Cell => 14,
            K::InvalidCell => 15,
            K::HasValues => 16,
            K::Values => 17,
            K::ValueIds => 18,
            K::HasValue => 19,
            K::Value => 20,
            K::InvalidValue => 21,
            K::StartTransaction => 22,
            K::WillFinishTransaction => 23,
            K::DidFinishTransaction => 24,
        }
    }
}

// Builders for the dispatch below (each sets one group of fields).
impl<'a> ListenerEvent<'a> {
    fn table(self, table_id: &'a str) -> Self {
        ListenerEvent {
            table_id: Some(table_id),
            ..self
        }
    }
    fn row(self, row_id: &'a str) -> Self {
        ListenerEvent {
            row_id: Some(row_id),
            ..self
        }
    }
    fn cell(self, cell_id: &'a str) -> Self {
        ListenerEvent {
            cell_id: Some(cell_id),
            ..self
        }
    }
    fn value(self, value_id: &'a str) -> Self {
        ListenerEvent {
            value_id: Some(value_id),
            ..self
        }
    }
    fn exists(self, has: bool) -> Self {
        ListenerEvent { has, ..self }
    }
    fn changes(self, id_changes: &'a IdChanges) -> Self {
        ListenerEvent { id_changes, ..self }
    }
    fn cells(self, new: Option<&'a Cell>, old: Option<&'a Cell>) -> Self {
        ListenerEvent { new, old, ..self }
    }
    fn rejected(self, ids: [Option<&'a str>; 4], invalid: &'a [Option<Cell>]) -> Self {
        let [table_id, row_id, cell_id, value_id] = ids;
        ListenerEvent {
            table_id,
            row_id,
            cell_id,
            value_id,
            invalid,
            ..self
        }
    }
}

/// Registers `listener` for `listen` (`mutator`: its writes join the transaction; ignored for
/// transaction listeners) and returns its id for [`Store::del_listener`]. The listener runs as
/// the store's typed listeners do (see `ARCHITECTURE.md`, "Threading and listener contract").
/// This is the one place that maps kinds onto the store's typed `add_*_listener` methods.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use tinystore_core::Store;
/// use tinystore_core::events::{Listen, add_listener};
///
/// let store = Store::new();
/// let calls = Arc::new(AtomicUsize::new(0));
/// let count = calls.clone();
/// let id = add_listener(&store, Listen::Tables, false, move |_, _| {
///     count.fetch_add(1, Ordering::SeqCst);
/// });
/// store.set_cell("pets", "fido", "legs", 4.0);
/// store.del_listener(id);
/// store.set_cell("pets", "fido", "legs", 3.0);
/// assert_eq!(calls.load(Ordering::SeqCst), 1);
/// ```
pub fn add_listener(
    store: &Store,
    listen: Listen<'_>,
    mutator: bool,
    listener: impl FnMut(&Store, &ListenerEvent<'_>) + Send + 'static,
) -> ListenerId {
    use ListenerKind as K;
    let mut f = listener;
    let ev = ListenerEvent::new;
    let m = mutator;
    match listen {
        Listen::HasTables => {
            store.add_has_tables_listener(move |s, has| f(s, &ev(K::HasTables).exists(has)), m)
        }
        Listen::Tables => store.add_tables_listener(move |s| f(s, &ev(K::Tables)), m),
        Listen::TableIds => {
            store.add_table_ids_listener(move |s, c| f(s, &ev(K::TableIds).changes(c)), m)
        }
        Listen::HasTable { table_id: t } => store.add_has_table_listener(
            t,
            move |s, t, has| f(s, &ev(K::HasTable).table(t).exists(has)),
            m,
        ),
        Listen::Table { table_id: t } => {
            store.add_table_listener(t, move |s, t| f(s, &ev(K::Table).table(t)), m)
        }
        Listen::TableCellIds { table_id: t } => store.add_table_cell_ids_listener(
            t,
            move |s, t, ch| f(s, &ev(K::TableCellIds).table(t).changes(ch)),
            m,
        ),
        Listen::HasTableCell {
            table_id: t,
            cell_id: c,
        } => store.add_has_table_cell_listener(
            t,
            c,
            move |s, t, c, has| f(s, &ev(K::HasTableCell).table(t).cell(c).exists(has)),
            m,
        ),
        Listen::RowCount { table_id: t } => store.add_row_count_listener(
            t,
            move |s, t, count| {
                f(
                    s,
                    &ListenerEvent {
                        count,
                        ..ev(K::RowCount).table(t)
                    },
                )
            },
            m,
        ),
        Listen::RowIds { table_id: t } => store.add_row_ids_listener(
            t,
            move |s, t, ch| f(s, &ev(K::RowIds).table(t).changes(ch)),
            m,
        ),
        Listen::SortedRowIds(args) => store.add_sorted_row_ids_listener(
            args,
            move |s, args, ids| {
                let e = ListenerEvent {
                    cell_id: args.cell_id.as_deref(),
                    sorted: Some(args),
                    ids,
                    ..ev(K::SortedRowIds).table(&args.table_id)
                };
                f(s, &e)
            },
            m,
        ),
        Listen::HasRow {
            table_id: t,
            row_id: r,
        } => store.add_has_row_listener(
            t,
            r,
            move |s, t, r, has| f(s, &ev(K::HasRow).table(t).row(r).exists(has)),
            m,
        ),
        Listen::Row {
            table_id: t,
            row_id: r,
        } => store.add_row_listener(t, r, move |s, t, r| f(s, &ev(K::Row).table(t).row(r)), m),
        Listen::CellIds {
            table_id: t,
            row_id: r,
        } => store.add_cell_ids_listener(
            t,
            r,
            move |s, t, r, ch| f(s, &ev(K::CellIds).table(t).row(r).changes(ch)),
            m,
        ),
        Listen::HasCell {
            table_id: t,
            row_id: r,
            cell_id: c,
        } => store.add_has_cell_listener(
            t,
            r,
            c,
            move |s, t, r, c, has| f(s, &ev(K::HasCell).table(t).row(r).cell(c).exists(has)),
            m,
        ),
        Listen::Cell {
            table_id: t,
            row_id: r,
            cell_id: c,
        } => store.add_cell_listener(
            t,
            r,
            c,
            move |s, t, r, c, new, old| {
                f(s, &ev(K::Cell).table(t).row(r).cell(c).cells(new, old));
            },
            m,
        ),
        Listen::InvalidCell {
            table_id: t,
            row_id: r,
            cell_id: c,
        } => store.add_invalid_cell_listener(
            t,
            r,
            c,
            move |s, t, r, c, bad| f(s, &ev(K::InvalidCell).rejected([t, r, c, None], bad)),
            m,
        ),
        Listen::HasValues => {
            store.add_has_values_listener(move |s, has| f(s, &ev(K::HasValues).exists(has)), m)
        }
        Listen::Values => store.add_values_listener(move |s| f(s, &ev(K::Values)), m),
        Listen::ValueIds => {
            store.add_value_ids_listener(move |s, c| f(s, &ev(K::ValueIds).changes(c)), m)
        }
        Listen::HasValue { value_id: v } => store.add_has_value_listener(
            v,
            move |s, v, has| f(s, &ev(K::HasValue).value(v).exists(has)),
            m,
        ),
        Listen::Value { value_id: v } => store.add_value_listener(
            v,
            move |s, v, new, old| f(s, &ev(K::Value).value(v).cells(new, old)),
            m,
        ),
        Listen::InvalidValue { value_id: v } => store.add_invalid_value_listener(
            v,
            move |s, v, bad| f(s, &ev(K::InvalidValue).rejected([None, None, None, v], bad)),
            m,
        ),
        Listen::StartTransaction => {
            store.add_start_transaction_listener(move |s| f(s, &ev(K::StartTransaction)))
        }
        Listen::WillFinishTransaction => {
            store.add_will_finish_transaction_listener(move |s| f(s, &ev(K::WillFinishTransaction)))
        }
        Listen::DidFinishTransaction => {
            store.add_did_finish_transaction_listener(move |s| f(s, &ev(K::DidFinishTransaction)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn record(store: &Store, listen: Listen<'_>) -> Arc<Mutex<Vec<String>>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        add_listener(store, listen, false, move |_, e| {
            let line = format!(
                "{} {:?} {:?} {:?} {:?} {} {} {:?} {:?} {:?} {:?} {:?}",
                e.kind.code(),
                e.table_id,
                e.row_id,
                e.cell_id,
                e.value_id,
                e.has,
                e.count,
                e.new.map(Cell::to_string),
                e.old.map(Cell::to_string),
                e.id_changes,
                e.ids,
                e.invalid.len(),
            );
            log.lock().unwrap().push(line);
        });
        seen
    }

    #[test]
    fn every_kind_is_dispatched_with_its_fields() {
        let store = Store::new();
        let cell = record(
            &store,
            Listen::Cell {
                table_id: Some("t"),
                row_id: None,
                cell_id: None,
            },
        );
        let count = record(&store, Listen::RowCount { table_id: None });
        let has_value = record(
            &store,
            Listen::HasValue {
                value_id: Some("v"),
            },
        );
        let sorted = record(&store, Listen::SortedRowIds(SortedRowIdsArgs::new("t")));
        let ids = record(&store, Listen::TableIds);
        let did = record(&store, Listen::DidFinishTransaction);
        store.set_cell("t", "r", "c", 1.0);
        store.set_value("v", true);
        let one = |m: &Arc<Mutex<Vec<String>>>| m.lock().unwrap().clone();
        assert_eq!(
            one(&cell),
            [r#"14 Some("t") Some("r") Some("c") None false 0 Some("1") None [] [] 0"#]
        );
        assert_eq!(
            one(&count),
            [r#"7 Some("t") None None None false 1 None None [] [] 0"#]
        );
        assert_eq!(
            one(&has_value),
            [r#"19 None None None Some("v") true 0 None None [] [] 0"#]
        );
        assert_eq!(
            one(&sorted),
            [r#"9 Some("t") None None None false 0 None None [] ["r"] 0"#]
        );
        assert_eq!(
            one(&ids),
            [r#"2 None None None None false 0 None None [("t", 1)] [] 0"#]
        );
        assert_eq!(one(&did).len(), 2);
    }

    #[test]
    fn kinds_and_codes_agree() {
        let listens = [
            Listen::HasTables,
            Listen::Tables,
            Listen::TableIds,
            Listen::HasTable { table_id: None },
            Listen::Table { table_id: None },
            Listen::TableCellIds { table_id: None },
            Listen::HasTableCell {
                table_id: None,
                cell_id: None,
            },
            Listen::RowCount { table_id: None },
            Listen::RowIds { table_id: None },
            Listen::SortedRowIds(SortedRowIdsArgs::new("t")),
            Listen::HasRow {
                table_id: None,
                row_id: None,
            },
            Listen::Row {
                table_id: None,
                row_id: None,
            },
            Listen::CellIds {
                table_id: None,
                row_id: None,
            },
            Listen::HasCell {
                table_id: None,
                row_id: None,
                cell_id: None,
            },
            Listen::Cell {
                table_id: None,
                row_id: None,
                cell_id: None,
            },
            Listen::InvalidCell {
                table_id: None,
                row_id: None,
                cell_id: None,
            },
            Listen::HasValues,
            Listen::Values,
            Listen::ValueIds,
            Listen::HasValue { value_id: None },
            Listen::Value { value_id: None },
            Listen::InvalidValue { value_id: None },
            Listen::StartTransaction,
            Listen::WillFinishTransaction,
            Listen::DidFinishTransaction,
        ];
        let store = Store::new();
        for (code, listen) in listens.into_iter().enumerate() {
            assert_eq!(listen.kind().code() as usize, code);
            let id = add_listener(&store, listen, false, |_, _| {});
            store.del_listener(id);
        }
    }
}
