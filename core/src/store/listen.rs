//! The listener adders (one per TinyBase listener kind), `del_listener`, `call_listener` and
//! listener statistics.

use std::panic::resume_unwind;

use crate::types::{Cell, Text};

use super::listeners::{Args, Callback, SortedState};
use super::{
    IdChanges, ListenerId, ListenerKind, ListenerStats, SortedRowIdsArgs, Store, opt, sort_row_ids,
};

impl Store {
    // ------------------------------------------------------------------ listeners

    fn add(
        &self,
        kind: ListenerKind,
        ids: Vec<Option<Text>>,
        callback: Callback,
        mutator: bool,
    ) -> ListenerId {
        self.with_mut(|s| s.listeners.add(kind, ids, callback, mutator, None))
    }

    /// Removes a listener. Unknown ids are ignored.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let counter = calls.clone();
    /// let id = store.add_tables_listener(move |_| {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", 4);
    /// store.del_listener(id);
    /// store.set_cell("pets", "fido", "legs", 3);
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// ```
    pub fn del_listener(&self, id: ListenerId) -> &Self {
        self.with_mut(|s| s.listeners.remove(id));
        self
    }

    /// Listener counts per kind.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// store.add_row_listener(Some("pets"), None, |_, _, _| {}, false);
    /// let id = store.add_value_listener(None, |_, _, _, _| {}, false);
    /// store.add_start_transaction_listener(|_| {});
    /// let stats = store.get_listener_stats();
    /// assert_eq!((stats.row, stats.value, stats.transaction), (1, 1, 1));
    /// store.del_listener(id);
    /// assert_eq!(store.get_listener_stats().value, 0);
    /// ```
    pub fn get_listener_stats(&self) -> ListenerStats {
        self.with(|s| {
            let n = |k| s.listeners.count(k);
            use ListenerKind as K;
            ListenerStats {
                has_tables: n(K::HasTables),
                tables: n(K::Tables),
                table_ids: n(K::TableIds),
                has_table: n(K::HasTable),
                table: n(K::Table),
                table_cell_ids: n(K::TableCellIds),
                has_table_cell: n(K::HasTableCell),
                row_count: n(K::RowCount),
                row_ids: n(K::RowIds),
                sorted_row_ids: n(K::SortedRowIds),
                has_row: n(K::HasRow),
                row: n(K::Row),
                cell_ids: n(K::CellIds),
                has_cell: n(K::HasCell),
                cell: n(K::Cell),
                invalid_cell: n(K::InvalidCell),
                has_values: n(K::HasValues),
                values: n(K::Values),
                value_ids: n(K::ValueIds),
                has_value: n(K::HasValue),
                value: n(K::Value),
                invalid_value: n(K::InvalidValue),
                transaction: n(K::StartTransaction)
                    + n(K::WillFinishTransaction)
                    + n(K::DidFinishTransaction),
            }
        })
    }

    /// Listens to a sorted, sliced list of row ids; fires only when that list changes.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::{SortedRowIdsArgs, Store};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "tom", "price", 3);
    /// let cheapest = Arc::new(Mutex::new(Vec::new()));
    /// let log = cheapest.clone();
    /// let args = SortedRowIdsArgs::new("pets").cell_id("price").limit(1);
    /// store.add_sorted_row_ids_listener(args, move |_, _, ids| {
    ///     log.lock().unwrap().push(ids.to_vec());
    /// }, false);
    /// store.set_cell("pets", "rex", "price", 1);
    /// // Not among the cheapest one: the sorted slice is unchanged, so no call.
    /// store.set_cell("pets", "max", "price", 9);
    /// assert_eq!(*cheapest.lock().unwrap(), [["rex"]]);
    /// ```
    pub fn add_sorted_row_ids_listener(
        &self,
        args: SortedRowIdsArgs,
        listener: impl FnMut(&Store, &SortedRowIdsArgs, &[String]) + Send + 'static,
        mutator: bool,
    ) -> ListenerId {
        self.with_mut(|s| {
            let last = sort_row_ids(s, &args);
            let ids = vec![
                Some(Text::from(args.table_id.as_str())),
                opt(args.cell_id.as_deref()),
            ];
            s.listeners.add(
                ListenerKind::SortedRowIds,
                ids,
                Callback::Sorted(Box::new(listener)),
                mutator,
                Some(SortedState { args, last }),
            )
        })
    }
    /// Calls a listener now for every id path it currently matches, with current state
    /// (TinyBase's `callListener`): has-listeners get the current boolean, cell and value
    /// listeners get `(current, current)`, id-change listeners get no changes.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.set_cell("pets", "fido", "legs", 4);
    /// let id = store.add_has_table_listener(None, move |_, t, has| {
    ///     log.lock().unwrap().push((t.to_string(), has));
    /// }, false);
    /// store.call_listener(id);
    /// assert_eq!(*seen.lock().unwrap(), [("pets".to_string(), true)]);
    /// ```
    pub fn call_listener(&self, id: ListenerId) -> &Self {
        let _guard = self.inner.state.lock();
        let Some((kind, ids)) =
            self.with(|s| s.listeners.entry(id.0).map(|e| (e.kind, e.ids.clone())))
        else {
            return self;
        };
        let paths = self.expand_paths(kind, &ids);
        for path in paths {
            let p: Vec<Option<&str>> = path.iter().map(|x| Some(x.as_str())).collect();
            let result = match kind {
                ListenerKind::HasTables => self.call_one(id.0, &p, Args::Bool(self.has_tables())),
                ListenerKind::HasValues => self.call_one(id.0, &p, Args::Bool(self.has_values())),
                ListenerKind::HasTable => {
                    self.call_one(id.0, &p, Args::Bool(self.has_table(&path[0])))
                }
                ListenerKind::HasTableCell => self.call_one(
                    id.0,
                    &p,
                    Args::Bool(self.has_table_cell(&path[0], &path[1])),
                ),
                ListenerKind::HasRow => {
                    self.call_one(id.0, &p, Args::Bool(self.has_row(&path[0], &path[1])))
                }
                ListenerKind::HasCell => self.call_one(
                    id.0,
                    &p,
                    Args::Bool(self.has_cell(&path[0], &path[1], &path[2])),
                ),
                ListenerKind::HasValue => {
                    self.call_one(id.0, &p, Args::Bool(self.has_value(&path[0])))
                }
                ListenerKind::RowCount => {
                    self.call_one(id.0, &p, Args::Count(self.get_row_count(&path[0])))
                }
                ListenerKind::TableIds
                | ListenerKind::ValueIds
                | ListenerKind::TableCellIds
                | ListenerKind::RowIds
                | ListenerKind::CellIds => self.call_one(id.0, &p, Args::Ids(&[])),
                ListenerKind::Cell => {
                    let cell = self.get_cell(&path[0], &path[1], &path[2]);
                    self.call_one(id.0, &p, Args::Cell(cell.as_ref(), cell.as_ref()))
                }
                ListenerKind::Value => {
                    let value = self.get_value(&path[0]);
                    self.call_one(id.0, &p, Args::Cell(value.as_ref(), value.as_ref()))
                }
                ListenerKind::InvalidCell | ListenerKind::InvalidValue => {
                    self.call_one(id.0, &p, Args::Invalid(&[]))
                }
                ListenerKind::SortedRowIds => {
                    let args = self.with(|s| {
                        s.listeners
                            .entry(id.0)
                            .and_then(|e| e.sorted.as_ref())
                            .map(|x| x.args.clone())
                    });
                    match args {
                        Some(args) => {
                            let ids = self.get_sorted_row_ids(&args);
                            self.call_one(id.0, &p, Args::Sorted(&args, &ids))
                        }
                        None => Ok(()),
                    }
                }
                _ => self.call_one(id.0, &p, Args::None),
            };
            if let Err(panic) = result {
                resume_unwind(panic);
            }
        }
        self
    }

    fn expand_paths(&self, kind: ListenerKind, ids: &[Option<Text>]) -> Vec<Vec<String>> {
        let mut paths: Vec<Vec<String>> = vec![vec![]];
        let levels = match kind {
            ListenerKind::SortedRowIds => 0,
            k => k.arity(),
        };
        let is_value = matches!(
            kind,
            ListenerKind::HasValue | ListenerKind::Value | ListenerKind::InvalidValue
        );
        for (level, registered) in ids.iter().enumerate().take(levels) {
            let mut next = Vec::new();
            for path in &paths {
                let candidates: Vec<String> = match registered {
                    Some(id) => vec![id.to_string()],
                    None if is_value => self.get_value_ids(),
                    None => match (level, kind) {
                        (0, _) => self.get_table_ids(),
                        (1, ListenerKind::HasTableCell) => self.get_table_cell_ids(&path[0]),
                        (1, _) => self.get_row_ids(&path[0]),
                        _ => self.get_cell_ids(&path[0], &path[1]),
                    },
                };
                for c in candidates {
                    let mut p = path.clone();
                    p.push(c);
                    next.push(p);
                }
            }
            paths = next;
        }
        if kind == ListenerKind::SortedRowIds
            && let Some(Some(t)) = ids.first()
        {
            paths = vec![vec![t.to_string()]];
        }
        paths
    }
}

/// Writes the typed `add_*_listener` methods from one table: each row is the method's docs,
/// its name, its ids (`Option<&str>` each, `None`: any), `mutator` unless it is a transaction
/// listener, the kind it registers and the callback shape with the arguments the listener gets
/// after the store.
macro_rules! adders {
    ($(
        $(#[$doc:meta])*
        $name:ident($($id:ident),*) $($mutator:ident)? => $kind:ident / $shape:ident($($arg:ty),*);
    )*) => {
        impl Store { $(
            $(#[$doc])*
            pub fn $name(
                &self,
                $($id: Option<&str>,)*
                listener: impl FnMut(&Store $(, $arg)*) + Send + 'static,
                $($mutator: bool,)?
            ) -> ListenerId {
                let mutator = false $(|| $mutator)?;
                let ids = vec![$(opt($id)),*];
                self.add(ListenerKind::$kind, ids, Callback::$shape(Box::new(listener)), mutator)
            }
        )* }
    };
}

adders! {
    /// Listens to whether any table exists (fires only when that flips).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_has_tables_listener(move |_, has| log.lock().unwrap().push(has), false);
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "tom", "legs", 4);
    /// store.del_tables();
    /// assert_eq!(*seen.lock().unwrap(), [true, false]);
    /// ```
    add_has_tables_listener() mutator => HasTables / Bool(bool);
    /// Listens to any change of any cell; use [`Store::get_cell_change`] for details.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_tables_listener(move |s| {
    ///     log.lock().unwrap().push(s.get_cell_change("pets", "fido", "legs").new);
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", 4);
    /// assert_eq!(*seen.lock().unwrap(), [Some(Cell::from(4))]);
    /// ```
    add_tables_listener() mutator => Tables / Store();
    /// Listens to added/removed table ids.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_table_ids_listener(move |_, changes| {
    ///     log.lock().unwrap().extend(changes.iter().map(|(id, n)| (id.to_string(), *n)));
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", 4);
    /// store.del_table("pets");
    /// assert_eq!(*seen.lock().unwrap(), [("pets".to_string(), 1), ("pets".to_string(), -1)]);
    /// ```
    add_table_ids_listener() mutator => TableIds / Ids(&IdChanges);
    /// Listens to whether a table (`None`: any) exists.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_has_table_listener(Some("pets"), move |_, _, has| {
    ///     log.lock().unwrap().push(has);
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("owners", "ann", "age", 30);
    /// store.del_table("pets");
    /// assert_eq!(*seen.lock().unwrap(), [true, false]);
    /// ```
    add_has_table_listener(table_id) mutator => HasTable / Id1Bool(&str, bool);
    /// Listens to any cell change in a table.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_table_listener(None, move |_, t| log.lock().unwrap().push(t.to_string()), false);
    /// store.transaction(|s| {
    ///     s.set_cell("pets", "fido", "legs", 4).set_cell("pets", "tom", "legs", 4);
    /// });
    /// store.set_cell("owners", "ann", "age", 30);
    /// // Once per table per transaction.
    /// assert_eq!(*seen.lock().unwrap(), ["pets", "owners"]);
    /// ```
    add_table_listener(table_id) mutator => Table / Id1(&str);
    /// Listens to cell ids added to or removed from a table.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_table_cell_ids_listener(Some("pets"), move |_, _, changes| {
    ///     log.lock().unwrap().extend(changes.iter().map(|(id, n)| (id.to_string(), *n)));
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", 4);
    /// // Already used by a row of the table: no change of its cell ids.
    /// store.set_cell("pets", "tom", "legs", 4);
    /// assert_eq!(*seen.lock().unwrap(), [("legs".to_string(), 1)]);
    /// ```
    add_table_cell_ids_listener(table_id) mutator => TableCellIds / Id1Ids(&str, &IdChanges);
    /// Listens to whether a table uses a cell id.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_has_table_cell_listener(Some("pets"), Some("color"), move |_, _, _, has| {
    ///     log.lock().unwrap().push(has);
    /// }, false);
    /// store.set_cell("pets", "fido", "color", "brown").set_cell("pets", "tom", "color", "grey");
    /// store.del_row("pets", "fido").del_row("pets", "tom");
    /// assert_eq!(*seen.lock().unwrap(), [true, false]);
    /// ```
    add_has_table_cell_listener(table_id, cell_id) mutator
        => HasTableCell / Id2Bool(&str, &str, bool);
    /// Listens to a table's row count.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_row_count_listener(Some("pets"), move |_, _, n| {
    ///     log.lock().unwrap().push(n);
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "tom", "legs", 4);
    /// store.set_cell("pets", "tom", "legs", 3);
    /// assert_eq!(*seen.lock().unwrap(), [1, 2]);
    /// ```
    add_row_count_listener(table_id) mutator => RowCount / Id1Count(&str, usize);
    /// Listens to row ids added to or removed from a table.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_row_ids_listener(Some("pets"), move |_, _, changes| {
    ///     log.lock().unwrap().extend(changes.iter().map(|(id, n)| (id.to_string(), *n)));
    /// }, false);
    /// store.transaction(|s| {
    ///     s.set_cell("pets", "fido", "legs", 4).set_cell("pets", "tom", "legs", 4);
    /// });
    /// assert_eq!(*seen.lock().unwrap(), [("fido".to_string(), 1), ("tom".to_string(), 1)]);
    /// ```
    add_row_ids_listener(table_id) mutator => RowIds / Id1Ids(&str, &IdChanges);
    /// Listens to whether a row exists.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_has_row_listener(Some("pets"), Some("fido"), move |_, _, _, has| {
    ///     log.lock().unwrap().push(has);
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "fido", "color", "brown");
    /// store.del_row("pets", "fido");
    /// assert_eq!(*seen.lock().unwrap(), [true, false]);
    /// ```
    add_has_row_listener(table_id, row_id) mutator => HasRow / Id2Bool(&str, &str, bool);
    /// Listens to any cell change in a row.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_row_listener(Some("pets"), None, move |_, _, r| {
    ///     log.lock().unwrap().push(r.to_string());
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("owners", "ann", "age", 30);
    /// store.set_cell("pets", "tom", "legs", 4);
    /// assert_eq!(*seen.lock().unwrap(), ["fido", "tom"]);
    /// ```
    add_row_listener(table_id, row_id) mutator => Row / Id2(&str, &str);
    /// Listens to cell ids added to or removed from a row.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_cell_ids_listener(Some("pets"), Some("fido"), move |_, _, _, changes| {
    ///     log.lock().unwrap().extend(changes.iter().map(|(id, n)| (id.to_string(), *n)));
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "fido", "legs", 3);
    /// store.del_cell("pets", "fido", "legs", false);
    /// assert_eq!(*seen.lock().unwrap(), [("legs".to_string(), 1), ("legs".to_string(), -1)]);
    /// ```
    add_cell_ids_listener(table_id, row_id) mutator => CellIds / Id2Ids(&str, &str, &IdChanges);
    /// Listens to whether a cell exists.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_has_cell_listener(Some("pets"), None, Some("legs"), move |_, _, r, _, has| {
    ///     log.lock().unwrap().push((r.to_string(), has));
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", 4).del_cell("pets", "fido", "legs", false);
    /// let fido = "fido".to_string();
    /// assert_eq!(*seen.lock().unwrap(), [(fido.clone(), true), (fido, false)]);
    /// ```
    add_has_cell_listener(table_id, row_id, cell_id) mutator
        => HasCell / Id3Bool(&str, &str, &str, bool);
    /// Listens to a cell: `(store, tableId, rowId, cellId, newCell, oldCell)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_cell_listener(Some("pets"), None, Some("legs"), move |_, _, _, _, new, old| {
    ///     log.lock().unwrap().push((new.cloned(), old.cloned()));
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", 4).set_cell("pets", "fido", "legs", 3);
    /// assert_eq!(seen.lock().unwrap()[1], (Some(Cell::from(3)), Some(Cell::from(4))));
    /// ```
    add_cell_listener(table_id, row_id, cell_id) mutator
        => Cell / Cell(&str, &str, &str, Option<&Cell>, Option<&Cell>);
    /// Listens to rejected cell writes: `(store, tableId?, rowId?, cellId?, invalidCells)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_invalid_cell_listener(None, None, None, move |_, _, _, c, invalid| {
    ///     log.lock().unwrap().push((c.map(str::to_string), invalid.to_vec()));
    /// }, false);
    /// store.set_cell("pets", "fido", "legs", f64::NAN);
    /// let seen = seen.lock().unwrap();
    /// assert_eq!(seen[0].0.as_deref(), Some("legs"));
    /// assert!(matches!(seen[0].1[..], [Some(Cell::Number(n))] if n.is_nan()));
    /// ```
    add_invalid_cell_listener(table_id, row_id, cell_id) mutator => InvalidCell
        / InvalidCell(Option<&str>, Option<&str>, Option<&str>, &[Option<Cell>]);
    /// Listens to whether any value exists.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_has_values_listener(move |_, has| log.lock().unwrap().push(has), false);
    /// store.set_value("open", true).set_value("limit", 10);
    /// store.del_values();
    /// assert_eq!(*seen.lock().unwrap(), [true, false]);
    /// ```
    add_has_values_listener() mutator => HasValues / Bool(bool);
    /// Listens to any value change; use [`Store::get_value_change`] for details.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_values_listener(move |s| {
    ///     log.lock().unwrap().push(s.get_value_change("open").new);
    /// }, false);
    /// store.set_value("open", true);
    /// assert_eq!(*seen.lock().unwrap(), [Some(Cell::Boolean(true))]);
    /// ```
    add_values_listener() mutator => Values / Store();
    /// Listens to added/removed value ids.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_value_ids_listener(move |_, changes| {
    ///     log.lock().unwrap().extend(changes.iter().map(|(id, n)| (id.to_string(), *n)));
    /// }, false);
    /// store.set_value("open", true).set_value("open", false);
    /// store.del_value("open");
    /// assert_eq!(*seen.lock().unwrap(), [("open".to_string(), 1), ("open".to_string(), -1)]);
    /// ```
    add_value_ids_listener() mutator => ValueIds / Ids(&IdChanges);
    /// Listens to whether a value exists.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_has_value_listener(Some("open"), move |_, _, has| {
    ///     log.lock().unwrap().push(has);
    /// }, false);
    /// store.set_value("open", true).set_value("limit", 10);
    /// store.del_value("open");
    /// assert_eq!(*seen.lock().unwrap(), [true, false]);
    /// ```
    add_has_value_listener(value_id) mutator => HasValue / Id1Bool(&str, bool);
    /// Listens to a value: `(store, valueId, newValue, oldValue)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::{Cell, Store};
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_value_listener(None, move |_, v, new, old| {
    ///     log.lock().unwrap().push((v.to_string(), new.cloned(), old.cloned()));
    /// }, false);
    /// store.set_value("limit", 10);
    /// assert_eq!(*seen.lock().unwrap(), [("limit".to_string(), Some(Cell::from(10)), None)]);
    /// ```
    add_value_listener(value_id) mutator => Value / Value(&str, Option<&Cell>, Option<&Cell>);
    /// Listens to rejected value writes.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.set_values_schema_json(r#"{"open": {"type": "boolean"}}"#)?;
    /// store.add_invalid_value_listener(None, move |_, v, invalid| {
    ///     log.lock().unwrap().push((v.map(str::to_string), invalid.len()));
    /// }, false);
    /// store.set_value("open", "yes");
    /// assert_eq!(*seen.lock().unwrap(), [(Some("open".to_string()), 1)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    add_invalid_value_listener(value_id) mutator
        => InvalidValue / InvalidValue(Option<&str>, &[Option<Cell>]);
    /// Called when the outermost transaction starts.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let starts = Arc::new(AtomicUsize::new(0));
    /// let counter = starts.clone();
    /// store.add_start_transaction_listener(move |_| {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    /// });
    /// store.transaction(|s| {
    ///     s.set_value("open", true).set_value("limit", 10);
    /// });
    /// assert_eq!(starts.load(Ordering::SeqCst), 1);
    /// ```
    add_start_transaction_listener() => StartTransaction / Store();
    /// Called after mutator listeners and rollback, before the other listeners.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// store.add_will_finish_transaction_listener(move |s| {
    ///     log.lock().unwrap().push(s.get_transaction_changes().values.len());
    /// });
    /// store.set_value("open", true);
    /// assert_eq!(*seen.lock().unwrap(), [1]);
    /// ```
    add_will_finish_transaction_listener() => WillFinishTransaction / Store();
    /// Called at the very end of every outermost transaction, rolled back or not.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// use tinystore_core::Store;
    /// let store = Store::new();
    /// let ends = Arc::new(AtomicUsize::new(0));
    /// let counter = ends.clone();
    /// store.add_did_finish_transaction_listener(move |_| {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    /// });
    /// store.set_value("open", true);
    /// store.transaction_with_rollback(|s| { s.set_value("open", false); }, |_| true);
    /// assert_eq!(ends.load(Ordering::SeqCst), 2);
    /// ```
    add_did_finish_transaction_listener() => DidFinishTransaction / Store();
}
