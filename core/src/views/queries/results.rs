//! The result getters of [`Queries`]: each reads the query's result store (a table named after
//! the query), or an empty store for an undefined query.

use crate::content::{Row, Table};
use crate::types::Cell;

use super::{Queries, sorted_args};

impl Queries {
    /// A query's result table.
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "fido", "sold", true);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// let table = queries.get_result_table("prices");
    /// assert_eq!(table["fido"]["price"], Cell::from(5));
    /// assert!(!table["fido"].contains_key("sold"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_result_table(&self, query_id: &str) -> Table {
        self.result(query_id).get_table(query_id)
    }

    /// Whether a query's result has any row.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "sold", true);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("unsold", "pets", |b| { b.select("sold"); b.where_("sold", false); })?;
    /// assert!(!queries.has_result_table("unsold"));
    /// store.set_cell("pets", "rex", "sold", false);
    /// assert!(queries.has_result_table("unsold"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_result_table(&self, query_id: &str) -> bool {
        self.result(query_id).has_table(query_id)
    }

    /// The cell ids used in a query's result, in first-use order.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "species", "cat");
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("q", "pets", |b| { b.select("price"); b.select("species"); })?;
    /// assert_eq!(queries.get_result_table_cell_ids("q"), ["price", "species"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_result_table_cell_ids(&self, query_id: &str) -> Vec<String> {
        self.result(query_id).get_table_cell_ids(query_id)
    }

    /// How many rows a query's result has.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "price", 4);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// assert_eq!(queries.get_result_row_count("prices"), 2);
    /// assert_eq!(queries.get_result_row_count("undefined"), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_result_row_count(&self, query_id: &str) -> usize {
        self.result(query_id).get_row_count(query_id)
    }

    /// A query's result row ids.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "price", 4);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// assert_eq!(queries.get_result_row_ids("prices"), ["fido", "felix"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_result_row_ids(&self, query_id: &str) -> Vec<String> {
        self.result(query_id).get_row_ids(query_id)
    }

    /// A query's result row ids sorted by a cell (`None`: by id), sliced.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "price", 4);
    /// store.set_cell("pets", "rex", "price", 6);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// assert_eq!(queries.get_result_sorted_row_ids("prices", Some("price"), false, 0, None), ["felix", "fido", "rex"]);
    /// // The most expensive two.
    /// assert_eq!(queries.get_result_sorted_row_ids("prices", Some("price"), true, 0, Some(2)), ["rex", "fido"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_result_sorted_row_ids(
        &self,
        query_id: &str,
        cell_id: Option<&str>,
        descending: bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Vec<String> {
        self.result(query_id)
            .get_sorted_row_ids(&sorted_args(query_id, cell_id, descending, offset, limit))
    }

    /// One result row.
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "fido", "sold", true);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// let row = queries.get_result_row("prices", "fido");
    /// assert_eq!(row.len(), 1);
    /// assert_eq!(row["price"], Cell::from(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_result_row(&self, query_id: &str, row_id: &str) -> Row {
        self.result(query_id).get_row(query_id, row_id)
    }

    /// Whether a result row exists.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "color", "black");
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// // A row without any selected cell has no result row.
    /// assert!(queries.has_result_row("prices", "fido"));
    /// assert!(!queries.has_result_row("prices", "felix"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_result_row(&self, query_id: &str, row_id: &str) -> bool {
        self.result(query_id).has_row(query_id, row_id)
    }

    /// A result row's cell ids.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "fido", "sold", true);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("q", "pets", |b| { b.select("sold"); b.select("price"); })?;
    /// assert_eq!(queries.get_result_cell_ids("q", "fido"), ["sold", "price"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_result_cell_ids(&self, query_id: &str, row_id: &str) -> Vec<String> {
        self.result(query_id).get_cell_ids(query_id, row_id)
    }

    /// One result cell.
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price").as_("cost"); })?;
    /// assert_eq!(queries.get_result_cell("prices", "fido", "cost"), Some(Cell::from(5)));
    /// assert_eq!(queries.get_result_cell("prices", "fido", "price"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_result_cell(&self, query_id: &str, row_id: &str, cell_id: &str) -> Option<Cell> {
        self.result(query_id).get_cell(query_id, row_id, cell_id)
    }

    /// Whether a result cell exists.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "fido", "sold", true);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// assert!(queries.has_result_cell("prices", "fido", "price"));
    /// assert!(!queries.has_result_cell("prices", "fido", "sold"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_result_cell(&self, query_id: &str, row_id: &str, cell_id: &str) -> bool {
        self.result(query_id).has_cell(query_id, row_id, cell_id)
    }

    /// Calls `f` with each query that has a non-empty result.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// queries.set_query_definition("owners", "owners", |b| { b.select("name"); })?;
    /// let mut ids = Vec::new();
    /// queries.for_each_result_table(|id| ids.push(id.to_string()));
    /// assert_eq!(ids, ["prices"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_each_result_table(&self, mut f: impl FnMut(&str)) {
        for id in self.get_query_ids() {
            if self.has_result_table(&id) {
                f(&id);
            }
        }
    }

    /// Calls `f` with each result row id.
    ///
    /// ```
    /// # use tinystore_core::{Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "felix", "price", 4);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("prices", "pets", |b| { b.select("price"); })?;
    /// let mut rows = Vec::new();
    /// queries.for_each_result_row("prices", |row_id| rows.push(row_id.to_string()));
    /// assert_eq!(rows, ["fido", "felix"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_each_result_row(&self, query_id: &str, f: impl FnMut(&str)) {
        self.result(query_id).for_each_row(query_id, f);
    }

    /// Calls `f` with each cell of a result row.
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store, create_queries};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "price", 5).set_cell("pets", "fido", "sold", true);
    /// let queries = create_queries(&store);
    /// queries.set_query_definition("q", "pets", |b| { b.select("price"); b.select("sold"); })?;
    /// let mut cells = Vec::new();
    /// queries.for_each_result_cell("q", "fido", |cell_id, cell| cells.push((cell_id.to_string(), cell.clone())));
    /// assert_eq!(cells, [("price".to_string(), Cell::from(5)), ("sold".to_string(), Cell::from(true))]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_each_result_cell(&self, query_id: &str, row_id: &str, f: impl FnMut(&str, &Cell)) {
        self.result(query_id).for_each_cell(query_id, row_id, f);
    }
}
