//! Store and MergeableStore objects and the Store methods both have (listeners: `listeners.rs`).

use super::view_common::trapped;
use super::*;

/// The body of a transaction, implemented in the foreign language; an error rolls back.
#[uniffi::export(with_foreign)]
pub trait TransactionActions: Send + Sync {
    /// Runs inside the transaction.
    fn run(&self) -> Result<(), TinystoreError>;
}

/// Decides at the end of a transaction whether to roll it back (TinyBase's `doRollback`).
#[uniffi::export(with_foreign)]
pub trait RollbackCheck: Send + Sync {
    /// `true` rolls every change of the transaction back.
    fn do_rollback(&self) -> Result<bool, TinystoreError>;
}

/// A reactive in-memory store of tables and values (TinyBase's `Store`).
#[derive(Debug, uniffi::Object)]
pub struct Store {
    pub(crate) inner: core::Store,
}

/// A Store with HLC stamps and hashes that merges and syncs (TinyBase's `MergeableStore`).
/// Has every Store method; [`MergeableStore::as_store`] gives a Store view of the same data.
#[derive(Debug, uniffi::Object)]
pub struct MergeableStore {
    pub(crate) inner: core::MergeableStore,
}

impl Store {
    pub(crate) fn core(&self) -> &core::Store {
        &self.inner
    }
}

impl MergeableStore {
    pub(crate) fn core(&self) -> &core::Store {
        &self.inner
    }
}

/// Creates an empty Store (TinyBase's `createStore()`).
#[uniffi::export]
pub fn create_store() -> Arc<Store> {
    Arc::new(Store {
        inner: core::Store::new(),
    })
}

/// Creates an empty MergeableStore; `unique_id` seeds its client id (random when `None`).
#[uniffi::export]
pub fn create_mergeable_store(unique_id: Option<String>) -> Arc<MergeableStore> {
    Arc::new(MergeableStore {
        inner: core::MergeableStore::new(unique_id.as_deref()),
    })
}

/// The version of libtinystore.
#[uniffi::export]
pub fn library_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

macro_rules! store_api {
    ($ty:ident) => {
        #[uniffi::export]
        impl $ty {
            // -------------------------------------------------------------- getters

            /// Whether any table exists.
            pub fn has_tables(&self) -> bool {
                self.core().has_tables()
            }
            /// Whether the table exists.
            pub fn has_table(&self, table_id: String) -> bool {
                self.core().has_table(&table_id)
            }
            /// Whether any row of the table has this cell id.
            pub fn has_table_cell(&self, table_id: String, cell_id: String) -> bool {
                self.core().has_table_cell(&table_id, &cell_id)
            }
            /// Whether the row exists.
            pub fn has_row(&self, table_id: String, row_id: String) -> bool {
                self.core().has_row(&table_id, &row_id)
            }
            /// Whether the cell exists.
            pub fn has_cell(&self, table_id: String, row_id: String, cell_id: String) -> bool {
                self.core().has_cell(&table_id, &row_id, &cell_id)
            }
            /// Whether any value exists.
            pub fn has_values(&self) -> bool {
                self.core().has_values()
            }
            /// Whether the value exists.
            pub fn has_value(&self, value_id: String) -> bool {
                self.core().has_value(&value_id)
            }
            /// Table ids, in insertion order.
            pub fn get_table_ids(&self) -> Vec<String> {
                self.core().get_table_ids()
            }
            /// The cell ids used in a table.
            pub fn get_table_cell_ids(&self, table_id: String) -> Vec<String> {
                self.core().get_table_cell_ids(&table_id)
            }
            /// The number of rows of a table.
            pub fn get_row_count(&self, table_id: String) -> u64 {
                self.core().get_row_count(&table_id) as u64
            }
            /// Row ids of a table, in insertion order.
            pub fn get_row_ids(&self, table_id: String) -> Vec<String> {
                self.core().get_row_ids(&table_id)
            }
            /// Row ids sorted by a cell (or by id), sliced by offset and limit, with an
            /// optional custom comparison.
            pub fn get_sorted_row_ids(
                &self,
                args: SortedRowIdsArgs,
                sorter: Option<Arc<dyn RowSorter>>,
            ) -> Vec<String> {
                self.core()
                    .get_sorted_row_ids(&core_sorted_args(args, sorter))
            }
            /// Cell ids of a row, in insertion order.
            pub fn get_cell_ids(&self, table_id: String, row_id: String) -> Vec<String> {
                self.core().get_cell_ids(&table_id, &row_id)
            }
            /// A cell, `None` if absent.
            pub fn get_cell(
                &self,
                table_id: String,
                row_id: String,
                cell_id: String,
            ) -> Option<CellValue> {
                self.core()
                    .get_cell(&table_id, &row_id, &cell_id)
                    .map(Into::into)
            }
            /// Value ids, in insertion order.
            pub fn get_value_ids(&self) -> Vec<String> {
                self.core().get_value_ids()
            }
            /// A value, `None` if absent.
            pub fn get_value(&self, value_id: String) -> Option<CellValue> {
                self.core().get_value(&value_id).map(Into::into)
            }
            /// All tables (map order is not kept: use `get_tables_json` or the id getters).
            pub fn get_tables(
                &self,
            ) -> HashMap<String, HashMap<String, HashMap<String, CellValue>>> {
                self.core()
                    .get_tables()
                    .into_iter()
                    .map(|(k, v)| (k, from_table(v)))
                    .collect()
            }
            /// One table (empty if absent).
            pub fn get_table(
                &self,
                table_id: String,
            ) -> HashMap<String, HashMap<String, CellValue>> {
                from_table(self.core().get_table(&table_id))
            }
            /// One row (empty if absent).
            pub fn get_row(&self, table_id: String, row_id: String) -> HashMap<String, CellValue> {
                from_row(self.core().get_row(&table_id, &row_id))
            }
            /// All values.
            pub fn get_values(&self) -> HashMap<String, CellValue> {
                from_row(self.core().get_values())
            }

            // -------------------------------------------------------------- JSON

            /// `[tables, values]` as JSON (objects/arrays in TinyBase's encoded form).
            pub fn get_json(&self) -> String {
                self.core().get_json()
            }
            /// Replaces the content from `[tables, values]` JSON (a bare tables object is
            /// accepted too); on a parse error nothing changes.
            pub fn set_json(&self, json: String) -> Result<(), TinystoreError> {
                trapped(|| self.core().set_json(&json))??;
                Ok(())
            }
            /// The tables as JSON, in insertion order.
            pub fn get_tables_json(&self) -> String {
                self.core().get_tables_json()
            }
            /// Replaces the tables from JSON (`{}` deletes them all).
            pub fn set_tables_json(&self, json: String) -> Result<(), TinystoreError> {
                trapped(|| self.core().set_tables_json(&json))??;
                Ok(())
            }
            /// The values as JSON, in insertion order.
            pub fn get_values_json(&self) -> String {
                self.core().get_values_json()
            }
            /// Replaces the values from JSON (`{}` deletes them all).
            pub fn set_values_json(&self, json: String) -> Result<(), TinystoreError> {
                trapped(|| self.core().set_values_json(&json))??;
                Ok(())
            }
            /// One table as JSON, in insertion order.
            pub fn get_table_json(&self, table_id: String) -> String {
                json::stringify(&content::table_to_json(
                    &self.core().get_table(&table_id),
                    true,
                ))
            }
            /// One row as JSON, in insertion order.
            pub fn get_row_json(&self, table_id: String, row_id: String) -> String {
                json::stringify(&content::row_to_json(
                    &self.core().get_row(&table_id, &row_id),
                    true,
                ))
            }
            /// Replaces a table from JSON (keeps the JSON's order).
            pub fn set_table_json(
                &self,
                table_id: String,
                json: String,
            ) -> Result<(), TinystoreError> {
                let table = content::table_from_json(&parse(&json)?, true)?;
                trapped(|| self.core().set_table(&table_id, &table))?;
                Ok(())
            }
            /// Replaces a row from JSON (keeps the JSON's order).
            pub fn set_row_json(
                &self,
                table_id: String,
                row_id: String,
                json: String,
            ) -> Result<(), TinystoreError> {
                let row = content::row_from_json(&parse(&json)?, true)?;
                trapped(|| self.core().set_row(&table_id, &row_id, &row))?;
                Ok(())
            }
            /// Merges cells from JSON into a row.
            pub fn set_partial_row_json(
                &self,
                table_id: String,
                row_id: String,
                json: String,
            ) -> Result<(), TinystoreError> {
                let row = content::row_from_json(&parse(&json)?, true)?;
                trapped(|| self.core().set_partial_row(&table_id, &row_id, &row))?;
                Ok(())
            }
            /// Adds a row from JSON with a generated id; `None` if the row was invalid.
            pub fn add_row_json(
                &self,
                table_id: String,
                json: String,
                reuse_row_ids: bool,
            ) -> Result<Option<String>, TinystoreError> {
                let row = content::row_from_json(&parse(&json)?, true)?;
                trapped(|| self.core().add_row(&table_id, &row, reuse_row_ids))
            }
            /// Merges values from JSON.
            pub fn set_partial_values_json(&self, json: String) -> Result<(), TinystoreError> {
                let values = content::values_from_json(&parse(&json)?, true)?;
                trapped(|| self.core().set_partial_values(&values))?;
                Ok(())
            }
            /// Applies `[changedTables, changedValues, 1]` JSON (`null` deletes).
            pub fn apply_changes_json(&self, json: String) -> Result<(), TinystoreError> {
                let changes = core::Changes::from_json(&parse(&json)?)?;
                trapped(|| self.core().apply_changes(&changes))?;
                Ok(())
            }

            // -------------------------------------------------------------- setters

            /// Replaces the content: tables and values (an empty part deletes everything in it).
            pub fn set_content(
                &self,
                tables: HashMap<String, HashMap<String, HashMap<String, CellValue>>>,
                values: HashMap<String, CellValue>,
            ) -> Result<(), TinystoreError> {
                let (tables, values) = (to_tables(tables)?, to_row(values)?);
                trapped(|| self.core().set_content(&tables, &values))?;
                Ok(())
            }
            /// Replaces all tables.
            pub fn set_tables(
                &self,
                tables: HashMap<String, HashMap<String, HashMap<String, CellValue>>>,
            ) -> Result<(), TinystoreError> {
                let tables = to_tables(tables)?;
                trapped(|| self.core().set_tables(&tables))?;
                Ok(())
            }
            /// Replaces one table.
            pub fn set_table(
                &self,
                table_id: String,
                table: HashMap<String, HashMap<String, CellValue>>,
            ) -> Result<(), TinystoreError> {
                let table = to_table(table)?;
                trapped(|| self.core().set_table(&table_id, &table))?;
                Ok(())
            }
            /// Replaces one row.
            pub fn set_row(
                &self,
                table_id: String,
                row_id: String,
                row: HashMap<String, CellValue>,
            ) -> Result<(), TinystoreError> {
                let row = to_row(row)?;
                trapped(|| self.core().set_row(&table_id, &row_id, &row))?;
                Ok(())
            }
            /// Merges cells into a row (creating it if missing).
            pub fn set_partial_row(
                &self,
                table_id: String,
                row_id: String,
                row: HashMap<String, CellValue>,
            ) -> Result<(), TinystoreError> {
                let row = to_row(row)?;
                trapped(|| self.core().set_partial_row(&table_id, &row_id, &row))?;
                Ok(())
            }
            /// Adds a row with a generated id (`"0"`, `"1"`, …); `None` if it was invalid.
            pub fn add_row(
                &self,
                table_id: String,
                row: HashMap<String, CellValue>,
                reuse_row_ids: bool,
            ) -> Result<Option<String>, TinystoreError> {
                let row = to_row(row)?;
                trapped(|| self.core().add_row(&table_id, &row, reuse_row_ids))
            }
            /// Sets one cell.
            pub fn set_cell(
                &self,
                table_id: String,
                row_id: String,
                cell_id: String,
                cell: CellValue,
            ) -> Result<(), TinystoreError> {
                let cell = to_cell(cell)?;
                trapped(|| self.core().set_cell(&table_id, &row_id, &cell_id, cell))?;
                Ok(())
            }
            /// Replaces all values.
            pub fn set_values(
                &self,
                values: HashMap<String, CellValue>,
            ) -> Result<(), TinystoreError> {
                let values = to_row(values)?;
                trapped(|| self.core().set_values(&values))?;
                Ok(())
            }
            /// Merges values.
            pub fn set_partial_values(
                &self,
                values: HashMap<String, CellValue>,
            ) -> Result<(), TinystoreError> {
                let values = to_row(values)?;
                trapped(|| self.core().set_partial_values(&values))?;
                Ok(())
            }
            /// Sets one value.
            pub fn set_value(
                &self,
                value_id: String,
                value: CellValue,
            ) -> Result<(), TinystoreError> {
                let value = to_cell(value)?;
                trapped(|| self.core().set_value(&value_id, value))?;
                Ok(())
            }
            /// Deletes every table.
            pub fn del_tables(&self) -> Result<(), TinystoreError> {
                trapped(|| self.core().del_tables())?;
                Ok(())
            }
            /// Deletes a table.
            pub fn del_table(&self, table_id: String) -> Result<(), TinystoreError> {
                trapped(|| self.core().del_table(&table_id))?;
                Ok(())
            }
            /// Deletes a row.
            pub fn del_row(&self, table_id: String, row_id: String) -> Result<(), TinystoreError> {
                trapped(|| self.core().del_row(&table_id, &row_id))?;
                Ok(())
            }
            /// Deletes a cell (`force_del`: even if the schema gives it a default).
            pub fn del_cell(
                &self,
                table_id: String,
                row_id: String,
                cell_id: String,
                force_del: bool,
            ) -> Result<(), TinystoreError> {
                trapped(|| {
                    self.core()
                        .del_cell(&table_id, &row_id, &cell_id, force_del)
                })?;
                Ok(())
            }
            /// Deletes every value.
            pub fn del_values(&self) -> Result<(), TinystoreError> {
                trapped(|| self.core().del_values())?;
                Ok(())
            }
            /// Deletes a value.
            pub fn del_value(&self, value_id: String) -> Result<(), TinystoreError> {
                trapped(|| self.core().del_value(&value_id))?;
                Ok(())
            }

            // -------------------------------------------------------------- schemas

            /// Sets the tables schema from TinyBase's JSON (`{t: {c: {type, default?}}}`).
            pub fn set_tables_schema_json(&self, json: String) -> Result<(), TinystoreError> {
                trapped(|| self.core().set_tables_schema_json(&json))??;
                Ok(())
            }
            /// Sets the values schema from TinyBase's JSON (`{v: {type, default?}}`).
            pub fn set_values_schema_json(&self, json: String) -> Result<(), TinystoreError> {
                trapped(|| self.core().set_values_schema_json(&json))??;
                Ok(())
            }
            /// Sets both schemas (`values_schema` `None` leaves the values schema as is).
            pub fn set_schema_json(
                &self,
                tables_schema: String,
                values_schema: Option<String>,
            ) -> Result<(), TinystoreError> {
                trapped(|| {
                    self.core().try_transaction(|s| {
                        s.set_tables_schema_json(&tables_schema)?;
                        if let Some(v) = &values_schema {
                            s.set_values_schema_json(v)?;
                        }
                        Ok::<_, core::StoreError>(())
                    })
                })??;
                Ok(())
            }
            /// The tables schema as JSON.
            pub fn get_tables_schema_json(&self) -> String {
                self.core().get_tables_schema_json()
            }
            /// The values schema as JSON.
            pub fn get_values_schema_json(&self) -> String {
                self.core().get_values_schema_json()
            }
            /// `[tablesSchema, valuesSchema]` as JSON.
            pub fn get_schema_json(&self) -> String {
                self.core().get_schema_json()
            }
            /// Whether a tables schema is set.
            pub fn has_tables_schema(&self) -> bool {
                self.core().has_tables_schema()
            }
            /// Whether a values schema is set.
            pub fn has_values_schema(&self) -> bool {
                self.core().has_values_schema()
            }
            /// Removes the tables schema.
            pub fn del_tables_schema(&self) {
                self.core().del_tables_schema();
            }
            /// Removes the values schema.
            pub fn del_values_schema(&self) {
                self.core().del_values_schema();
            }
            /// Removes both schemas.
            pub fn del_schema(&self) {
                self.core().del_schema();
            }

            // -------------------------------------------------------------- transactions

            /// Runs `actions` in one transaction (joining an open one). If `actions` fails,
            /// or `do_rollback` returns true, every change is rolled back; the error of
            /// `actions` is returned.
            pub fn transaction(
                &self,
                actions: Arc<dyn TransactionActions>,
                do_rollback: Option<Arc<dyn RollbackCheck>>,
            ) -> Result<(), TinystoreError> {
                let failed = std::cell::RefCell::new(None::<TinystoreError>);
                trapped(|| {
                    self.core().transaction_with_rollback(
                        |_| {
                            if let Err(e) = actions.run() {
                                *failed.borrow_mut() = Some(e);
                            }
                        },
                        |_| {
                            if failed.borrow().is_some() {
                                return true;
                            }
                            match &do_rollback {
                                Some(check) => check.do_rollback().unwrap_or_else(|e| {
                                    report("do_rollback", &e);
                                    true
                                }),
                                None => false,
                            }
                        },
                    )
                })?;
                match failed.into_inner() {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            }
            /// Starts an explicit transaction; pair with `finish_transaction`.
            pub fn start_transaction(&self) {
                self.core().start_transaction();
            }
            /// Finishes an explicit transaction, rolling it back if `rollback`.
            pub fn finish_transaction(&self, rollback: bool) -> Result<(), TinystoreError> {
                trapped(|| self.core().finish_transaction_with_rollback(|_| rollback))?;
                Ok(())
            }
            /// Whether a transaction is open (including while its listeners run).
            pub fn is_in_transaction(&self) -> bool {
                self.core().is_in_transaction()
            }
            /// The net changes of the current transaction as `[tables, values, 1]` JSON
            /// (`null` for deletions, objects decoded); empty outside one.
            pub fn get_transaction_changes_json(&self) -> String {
                json::stringify(&self.core().get_transaction_changes().to_json())
            }
            /// Whether and how a cell changed in the current transaction.
            pub fn get_cell_change(
                &self,
                table_id: String,
                row_id: String,
                cell_id: String,
            ) -> ChangeInfo {
                self.core()
                    .get_cell_change(&table_id, &row_id, &cell_id)
                    .into()
            }
            /// Whether and how a value changed in the current transaction.
            pub fn get_value_change(&self, value_id: String) -> ChangeInfo {
                self.core().get_value_change(&value_id).into()
            }

            /// Whether this is a MergeableStore.
            pub fn is_mergeable(&self) -> bool {
                self.core().is_mergeable()
            }
        }
    };
}

store_api!(Store);
store_api!(MergeableStore);
