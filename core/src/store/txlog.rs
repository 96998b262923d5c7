//! TinyBase's per-transaction change maps: what the listeners of a transaction are told, and
//! the records of rejected cells and values.

use crate::ordmap::OrdMap;
use crate::types::{Cell, Text};

/// Ids whose presence changed: +1 added, -1 removed. A net-zero entry is removed, so a re-add
/// goes to the end, exactly like TinyBase's change maps.
pub(crate) type IdChangeMap<K> = OrdMap<K, i8>;

pub(super) fn id_changed<K: std::hash::Hash + Eq>(map: &mut IdChangeMap<K>, key: K, delta: i8) {
    match map.get_mut(&key) {
        Some(existing) if *existing == -delta => {
            map.remove(&key);
        }
        Some(existing) => *existing = delta,
        None => {
            map.insert(key, delta);
        }
    }
}

/// Changed cells of one row: interned cell id → value before the transaction (`None`: absent).
pub(crate) type RowCellLog = Vec<(u32, Option<Cell>)>;

/// One invalid-cell record: table, row and cell ids (any may be absent) and the rejected values.
pub(crate) type InvalidCellRecord = (Option<Text>, Option<Text>, Option<Text>, Vec<Option<Cell>>);

/// TinyBase's per-transaction change maps. Each map keeps its own first-touch order, which is
/// the order listeners fire in.
#[derive(Default)]
pub(crate) struct TxLog {
    pub(crate) table_ids: IdChangeMap<Text>,
    pub(crate) table_cell_ids: OrdMap<Text, IdChangeMap<u32>>,
    pub(crate) row_count: OrdMap<Text, i64>,
    pub(crate) row_ids: OrdMap<Text, IdChangeMap<Text>>,
    pub(crate) cell_ids: OrdMap<Text, OrdMap<Text, Vec<(u32, i8)>>>,
    pub(crate) cells: OrdMap<Text, OrdMap<Text, RowCellLog>>,
    pub(crate) invalid_cells: Vec<InvalidCellRecord>,
    pub(crate) value_ids: IdChangeMap<Text>,
    pub(crate) values: OrdMap<Text, Option<Cell>>,
    pub(crate) invalid_values: Vec<(Option<Text>, Vec<Option<Cell>>)>,
}

impl TxLog {
    pub(crate) fn clear(&mut self) {
        self.table_ids.clear();
        self.table_cell_ids.clear();
        self.row_count.clear();
        self.row_ids.clear();
        self.cell_ids.clear();
        self.cells.clear();
        self.invalid_cells.clear();
        self.value_ids.clear();
        self.values.clear();
        self.invalid_values.clear();
    }

    pub(crate) fn clear_changes(&mut self) {
        let invalid_cells = std::mem::take(&mut self.invalid_cells);
        let invalid_values = std::mem::take(&mut self.invalid_values);
        self.clear();
        self.invalid_cells = invalid_cells;
        self.invalid_values = invalid_values;
    }

    /// The value a cell had before the transaction, if it was touched: `Some(old)`.
    pub(crate) fn old_cell(&self, t: &str, r: &str, c: u32) -> Option<&Option<Cell>> {
        self.cells
            .get(t)?
            .get(r)?
            .iter()
            .find(|(id, _)| *id == c)
            .map(|(_, old)| old)
    }

    pub(super) fn record_invalid_cell(
        &mut self,
        t: Option<&str>,
        r: Option<&str>,
        c: Option<&str>,
        v: Option<Cell>,
    ) {
        let key = (t.map(Text::from), r.map(Text::from), c.map(Text::from));
        match self
            .invalid_cells
            .iter_mut()
            .find(|(a, b, cc, _)| (a, b, cc) == (&key.0, &key.1, &key.2))
        {
            Some(entry) => entry.3.push(v),
            None => self.invalid_cells.push((key.0, key.1, key.2, vec![v])),
        }
    }

    pub(super) fn record_invalid_value(&mut self, id: Option<&str>, v: Option<Cell>) {
        let key = id.map(Text::from);
        match self.invalid_values.iter_mut().find(|(k, _)| k == &key) {
            Some(entry) => entry.1.push(v),
            None => self.invalid_values.push((key, vec![v])),
        }
    }
}
