//! Store listeners: one foreign event type ([`StoreEvent`]) converted from the core's
//! [`ListenerEvent`], registered per kind through `tinystore_core::events`.

use super::*;

/// What a store listener is told: one variant per listener kind, with TinyBase's arguments
/// (the store itself is left to the foreign wrapper, which knows its own object).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
#[allow(missing_docs)]
pub enum StoreEvent {
    HasTables {
        has: bool,
    },
    Tables,
    TableIds {
        changes: Vec<IdChange>,
    },
    HasTable {
        table_id: String,
        has: bool,
    },
    Table {
        table_id: String,
    },
    TableCellIds {
        table_id: String,
        changes: Vec<IdChange>,
    },
    HasTableCell {
        table_id: String,
        cell_id: String,
        has: bool,
    },
    RowCount {
        table_id: String,
        count: u64,
    },
    RowIds {
        table_id: String,
        changes: Vec<IdChange>,
    },
    SortedRowIds {
        table_id: String,
        cell_id: Option<String>,
        descending: bool,
        offset: u64,
        limit: Option<u64>,
        sorted_row_ids: Vec<String>,
    },
    HasRow {
        table_id: String,
        row_id: String,
        has: bool,
    },
    Row {
        table_id: String,
        row_id: String,
    },
    CellIds {
        table_id: String,
        row_id: String,
        changes: Vec<IdChange>,
    },
    HasCell {
        table_id: String,
        row_id: String,
        cell_id: String,
        has: bool,
    },
    Cell {
        table_id: String,
        row_id: String,
        cell_id: String,
        new_cell: Option<CellValue>,
        old_cell: Option<CellValue>,
    },
    InvalidCell {
        table_id: Option<String>,
        row_id: Option<String>,
        cell_id: Option<String>,
        invalid_cells: Vec<Option<CellValue>>,
    },
    HasValues {
        has: bool,
    },
    Values,
    ValueIds {
        changes: Vec<IdChange>,
    },
    HasValue {
        value_id: String,
        has: bool,
    },
    Value {
        value_id: String,
        new_value: Option<CellValue>,
        old_value: Option<CellValue>,
    },
    InvalidValue {
        value_id: Option<String>,
        invalid_values: Vec<Option<CellValue>>,
    },
    StartTransaction,
    WillFinishTransaction,
    DidFinishTransaction,
}

/// A store listener implemented in the foreign language. Runs synchronously on the thread
/// whose write ended the transaction (for sync: a socket thread). An error it returns is
/// reported on stderr and the remaining listeners still run.
#[uniffi::export(with_foreign)]
pub trait StoreListener: Send + Sync {
    /// Called for each change the listener was registered for.
    fn on_event(&self, event: StoreEvent) -> Result<(), TinystoreError>;
}

/// The foreign event for one core event; `None` for a kind no method here registers.
pub(crate) fn store_event(e: &ListenerEvent<'_>) -> Option<StoreEvent> {
    use tinystore_core::ListenerKind as K;
    let id = |s: Option<&str>| s.unwrap_or_default().to_string();
    let opt = |s: Option<&str>| s.map(str::to_string);
    let invalid = |cells: &[Option<Cell>]| cells.iter().map(|c| opt_value(c.as_ref())).collect();
    let has = e.has;
    Some(match e.kind {
        K::HasTables => StoreEvent::HasTables { has },
        K::Tables => StoreEvent::Tables,
        K::TableIds => StoreEvent::TableIds {
            changes: id_changes(e.id_changes),
        },
        K::HasTable => StoreEvent::HasTable {
            table_id: id(e.table_id),
            has,
        },
        K::Table => StoreEvent::Table {
            table_id: id(e.table_id),
        },
        K::TableCellIds => StoreEvent::TableCellIds {
            table_id: id(e.table_id),
            changes: id_changes(e.id_changes),
        },
        K::HasTableCell => StoreEvent::HasTableCell {
            table_id: id(e.table_id),
            cell_id: id(e.cell_id),
            has,
        },
        K::RowCount => StoreEvent::RowCount {
            table_id: id(e.table_id),
            count: e.count as u64,
        },
        K::RowIds => StoreEvent::RowIds {
            table_id: id(e.table_id),
            changes: id_changes(e.id_changes),
        },
        K::SortedRowIds => {
            let args = e.sorted?;
            StoreEvent::SortedRowIds {
                table_id: args.table_id.clone(),
                cell_id: args.cell_id.clone(),
                descending: args.descending,
                offset: args.offset as u64,
                limit: args.limit.map(|l| l as u64),
                sorted_row_ids: e.ids.to_vec(),
            }
        }
        K::HasRow => StoreEvent::HasRow {
            table_id: id(e.table_id),
            row_id: id(e.row_id),
            has,
        },
        K::Row => StoreEvent::Row {
            table_id: id(e.table_id),
            row_id: id(e.row_id),
        },
        K::CellIds => StoreEvent::CellIds {
            table_id: id(e.table_id),
            row_id: id(e.row_id),
            changes: id_changes(e.id_changes),
        },
        K::HasCell => StoreEvent::HasCell {
            table_id: id(e.table_id),
            row_id: id(e.row_id),
            cell_id: id(e.cell_id),
            has,
        },
        K::Cell => StoreEvent::Cell {
            table_id: id(e.table_id),
            row_id: id(e.row_id),
            cell_id: id(e.cell_id),
            new_cell: opt_value(e.new),
            old_cell: opt_value(e.old),
        },
        K::InvalidCell => StoreEvent::InvalidCell {
            table_id: opt(e.table_id),
            row_id: opt(e.row_id),
            cell_id: opt(e.cell_id),
            invalid_cells: invalid(e.invalid),
        },
        K::HasValues => StoreEvent::HasValues { has },
        K::Values => StoreEvent::Values,
        K::ValueIds => StoreEvent::ValueIds {
            changes: id_changes(e.id_changes),
        },
        K::HasValue => StoreEvent::HasValue {
            value_id: id(e.value_id),
            has,
        },
        K::Value => StoreEvent::Value {
            value_id: id(e.value_id),
            new_value: opt_value(e.new),
            old_value: opt_value(e.old),
        },
        K::InvalidValue => StoreEvent::InvalidValue {
            value_id: opt(e.value_id),
            invalid_values: invalid(e.invalid),
        },
        K::StartTransaction => StoreEvent::StartTransaction,
        K::WillFinishTransaction => StoreEvent::WillFinishTransaction,
        K::DidFinishTransaction => StoreEvent::DidFinishTransaction,
        _ => return None,
    })
}

/// Registers a foreign listener for `what` through the core's event contract
/// ([`events::add_listener`]); its id for `del_listener`.
pub(crate) fn listen(
    store: &core::Store,
    what: Listen<'_>,
    mutator: bool,
    listener: Arc<dyn StoreListener>,
) -> u64 {
    let id = events::add_listener(store, what, mutator, move |_, e| {
        if let Some(event) = store_event(e) {
            if let Err(e) = listener.on_event(event) {
                report("store listener", &e);
            }
        }
    });
    u64::from(id.0)
}

/// Writes the listener methods of `Store` and `MergeableStore` (TinyBase's `add*Listener`,
/// `delListener`, `callListener`); the `add_*_listener` ones from one table: each
/// takes its ids (`None`: any), the listener and (but the transaction ones) `mutator`, and
/// registers through [`listen`].
macro_rules! listener_methods {
    ($ty:ident { $(
        $(#[$doc:meta])*
        $name:ident($($id:ident),*) $($mutator:ident)? => $variant:ident;
    )* }) => {
        #[uniffi::export]
        impl $ty {
            $(
                $(#[$doc])*
                pub fn $name(
                    &self,
                    $($id: Option<String>,)*
                    listener: Arc<dyn StoreListener>,
                    $($mutator: bool,)?
                ) -> u64 {
                    let mutator = false $(|| $mutator)?;
                    let what = Listen::$variant { $($id: $id.as_deref()),* };
                    listen(self.core(), what, mutator, listener)
                }
            )*
            /// Listens to a sorted, sliced list of row ids; fires when that list changes.
            pub fn add_sorted_row_ids_listener(
                &self,
                args: SortedRowIdsArgs,
                sorter: Option<Arc<dyn RowSorter>>,
                listener: Arc<dyn StoreListener>,
                mutator: bool,
            ) -> u64 {
                listen(
                    self.core(),
                    Listen::SortedRowIds(core_sorted_args(args, sorter)),
                    mutator,
                    listener,
                )
            }
            /// Removes a listener (unknown ids are ignored).
            pub fn del_listener(&self, listener_id: u64) {
                if let Ok(id) = u32::try_from(listener_id) {
                    self.core().del_listener(core::ListenerId(id));
                }
            }
            /// Calls a listener now with the current state (TinyBase's `callListener`).
            pub fn call_listener(&self, listener_id: u64) {
                if let Ok(id) = u32::try_from(listener_id) {
                    self.core().call_listener(core::ListenerId(id));
                }
            }
            /// Listener counts per kind.
            pub fn get_listener_stats(&self) -> ListenerStats {
                self.core().get_listener_stats().into()
            }
        }
    };
}

/// The listeners of both store objects: the method, its ids, whether it takes `mutator`, and
/// the core listener it registers.
macro_rules! store_listeners {
    ($ty:ident) => {
        listener_methods!($ty {
            /// Listens to whether any table exists.
            add_has_tables_listener() mutator => HasTables;
            /// Listens to any change of any cell.
            add_tables_listener() mutator => Tables;
            /// Listens to added and removed table ids.
            add_table_ids_listener() mutator => TableIds;
            /// Listens to whether a table (`None`: any) exists.
            add_has_table_listener(table_id) mutator => HasTable;
            /// Listens to any cell change in a table (`None`: any).
            add_table_listener(table_id) mutator => Table;
            /// Listens to cell ids added to or removed from a table.
            add_table_cell_ids_listener(table_id) mutator => TableCellIds;
            /// Listens to whether a table uses a cell id.
            add_has_table_cell_listener(table_id, cell_id) mutator => HasTableCell;
            /// Listens to a table's row count.
            add_row_count_listener(table_id) mutator => RowCount;
            /// Listens to row ids added to or removed from a table.
            add_row_ids_listener(table_id) mutator => RowIds;
            /// Listens to whether a row exists.
            add_has_row_listener(table_id, row_id) mutator => HasRow;
            /// Listens to any cell change in a row.
            add_row_listener(table_id, row_id) mutator => Row;
            /// Listens to cell ids added to or removed from a row.
            add_cell_ids_listener(table_id, row_id) mutator => CellIds;
            /// Listens to whether a cell exists.
            add_has_cell_listener(table_id, row_id, cell_id) mutator => HasCell;
            /// Listens to a cell: `Cell { table_id, row_id, cell_id, new_cell, old_cell }`.
            add_cell_listener(table_id, row_id, cell_id) mutator => Cell;
            /// Listens to rejected cell writes.
            add_invalid_cell_listener(table_id, row_id, cell_id) mutator => InvalidCell;
            /// Listens to whether any value exists.
            add_has_values_listener() mutator => HasValues;
            /// Listens to any value change.
            add_values_listener() mutator => Values;
            /// Listens to added and removed value ids.
            add_value_ids_listener() mutator => ValueIds;
            /// Listens to whether a value exists.
            add_has_value_listener(value_id) mutator => HasValue;
            /// Listens to a value: `Value { value_id, new_value, old_value }`.
            add_value_listener(value_id) mutator => Value;
            /// Listens to rejected value writes.
            add_invalid_value_listener(value_id) mutator => InvalidValue;
            /// Called when the outermost transaction starts.
            add_start_transaction_listener() => StartTransaction;
            /// Called after mutator listeners and rollback, before the other listeners.
            add_will_finish_transaction_listener() => WillFinishTransaction;
            /// Called at the very end of every outermost transaction.
            add_did_finish_transaction_listener() => DidFinishTransaction;
        });
    };
}

store_listeners!(Store);
store_listeners!(MergeableStore);
