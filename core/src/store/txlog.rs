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

/// The changed rows of one table (see [`TxLog::cell_tables`]).
pub(crate) enum RowLogs<'a> {
    /// The transaction's only changed row so far.
    Lone(&'a Text, &'a RowCellLog),
    Rows(&'a OrdMap<Text, RowCellLog>),
}

impl<'a> RowLogs<'a> {
    /// Each changed row's id and cell log, in first-touch order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a Text, &'a RowCellLog)> + use<'a> {
        let (lone, rows) = match *self {
            RowLogs::Lone(r, cells) => (Some((r, cells)), None),
            RowLogs::Rows(rows) => (None, Some(rows)),
        };
        lone.into_iter()
            .chain(rows.into_iter().flat_map(|rows| rows.iter()))
    }
}

/// `(table, row, cell, old value, new value if known)` of a transaction's only change.
pub(crate) type OnlyCellChange<'a> = (&'a Text, &'a Text, u32, &'a Option<Cell>, Option<&'a Cell>);

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
    /// Changed cells by table and row, once the transaction touched more than one row;
    /// `lone` until then (read both through `cell_tables`).
    cells: OrdMap<Text, OrdMap<Text, RowCellLog>>,
    /// The one row whose cells the transaction changed so far, kept outside `cells`: most
    /// transactions are a lone `set_cell`, and two hashed inserts, their clearing and the
    /// recycling of the row map cost more than the write itself. Invariant: `Some` only while
    /// `cells` is empty.
    lone: Option<(Text, Text)>,
    lone_cells: RowCellLog,
    /// The value the lone row's last logged change wrote, when it was a replacement cheap to
    /// copy: the one-cell dispatch then needs no lookup for the new value. Every change of the
    /// lone row's cells goes through `row_cell_log`, which forgets it first.
    lone_new: Option<Cell>,
    pub(crate) invalid_cells: Vec<InvalidCellRecord>,
    pub(crate) value_ids: IdChangeMap<Text>,
    pub(crate) values: OrdMap<Text, Option<Cell>>,
    pub(crate) invalid_values: Vec<(Option<Text>, Vec<Option<Cell>>)>,
    /// Emptied row maps and cell logs of earlier transactions, reused by `row_cell_log`: a lone
    /// `set_cell` would otherwise allocate (and free) four blocks just to log one old value.
    spare_rows: Vec<OrdMap<Text, RowCellLog>>,
    spare_cells: Vec<RowCellLog>,
}

/// How many emptied containers `TxLog` keeps for reuse, and the largest it keeps: enough for
/// the small transactions that dominate, without holding a big transaction's memory.
const SPARE_LIMIT: usize = 16;
const SPARE_CAPACITY: usize = 64;

impl TxLog {
    pub(crate) fn clear(&mut self) {
        self.lone_new = None;
        if self.lone.take().is_some() {
            if self.lone_cells.capacity() > SPARE_CAPACITY {
                self.lone_cells = Vec::new();
            } else {
                self.lone_cells.clear();
            }
        }
        self.table_ids.clear();
        self.table_cell_ids.clear();
        self.row_count.clear();
        self.row_ids.clear();
        self.cell_ids.clear();
        self.recycle_cells();
        self.invalid_cells.clear();
        self.value_ids.clear();
        self.values.clear();
        self.invalid_values.clear();
    }

    /// The one cell this transaction changed, with its old value and, when the log knows it,
    /// its new one, when the log holds nothing else: no id added or removed, no value, no
    /// rejected write.
    pub(crate) fn only_cell_change(&self) -> Option<OnlyCellChange<'_>> {
        let nothing_else = self.invalid_cells.is_empty()
            && self.values.is_empty()
            && self.invalid_values.is_empty()
            && self.value_ids.is_empty()
            && self.table_ids.is_empty()
            && self.table_cell_ids.is_empty()
            && self.row_count.is_empty()
            && self.row_ids.is_empty()
            && self.cell_ids.is_empty();
        if !nothing_else {
            return None;
        }
        // `cells` holds two rows or more (or a new row, which logs its id): only the lone
        // slot can hold a transaction's one change.
        let (t, r) = self.lone.as_ref()?;
        match self.lone_cells.as_slice() {
            [(c, old)] => Some((t, r, *c, old, self.lone_new.as_ref())),
            _ => None,
        }
    }

    /// Notes the value a replacement just logged with `row_cell_log` wrote.
    #[inline]
    pub(crate) fn replaced(&mut self, new: &Cell) {
        let cheap = match new {
            Cell::String(x) | Cell::Object(x) | Cell::Array(x) => !x.is_heap_allocated(),
            _ => true,
        };
        if self.lone.is_some() && cheap {
            self.lone_new = Some(new.clone());
        }
    }

    /// Empties `cells`, keeping small row maps and cell logs (with their allocations) for the
    /// next transactions.
    fn recycle_cells(&mut self) {
        for rows in self.cells.values_mut() {
            if self.spare_rows.len() >= SPARE_LIMIT || rows.len() > SPARE_CAPACITY {
                continue;
            }
            for cells in rows.values_mut() {
                if self.spare_cells.len() < SPARE_LIMIT && cells.capacity() <= SPARE_CAPACITY {
                    let mut cells = std::mem::take(cells);
                    cells.clear();
                    self.spare_cells.push(cells);
                }
            }
            let mut rows = std::mem::take(rows);
            rows.clear();
            self.spare_rows.push(rows);
        }
        self.cells.clear();
    }

    /// Whether any cell was logged as changed in this transaction.
    #[inline]
    pub(crate) fn cells_touched(&self) -> bool {
        self.lone.is_some() || !self.cells.is_empty()
    }

    /// The changed cells, by table then row, in first-touch order.
    pub(crate) fn cell_tables(&self) -> impl Iterator<Item = (&Text, RowLogs<'_>)> {
        let lone = self
            .lone
            .as_ref()
            .map(|(t, r)| (t, RowLogs::Lone(r, &self.lone_cells)));
        lone.into_iter()
            .chain(self.cells.iter().map(|(t, rows)| (t, RowLogs::Rows(rows))))
    }

    /// The changed cells by table and row as one map (the lone row moved into it), for the
    /// writers that log whole rows.
    pub(crate) fn cells_mut(&mut self) -> &mut OrdMap<Text, OrdMap<Text, RowCellLog>> {
        self.spread_lone();
        &mut self.cells
    }

    /// Moves the lone row's log into `cells`: a second row was touched.
    fn spread_lone(&mut self) {
        if let Some((t, r)) = self.lone.take() {
            let mut rows = self.spare_rows.pop().unwrap_or_default();
            rows.insert(r, std::mem::take(&mut self.lone_cells));
            // (`cells` is empty while there is a lone row.)
            self.cells.insert(t, rows);
        }
    }

    /// The log of `t`/`r`'s changed cells, created (from a spare when there is one) on first
    /// touch.
    #[inline]
    pub(crate) fn row_cell_log(&mut self, t: &str, r: &str) -> &mut RowCellLog {
        self.lone_new = None;
        match &self.lone {
            Some((lt, lr)) if lt == t && lr == r => return &mut self.lone_cells,
            None if self.cells.is_empty() => {
                self.lone = Some((t.into(), r.into()));
                if self.lone_cells.capacity() == 0
                    && let Some(spare) = self.spare_cells.pop()
                {
                    self.lone_cells = spare;
                }
                return &mut self.lone_cells;
            }
            _ => {}
        }
        self.row_cell_log_spread(t, r)
    }

    #[inline(never)]
    fn row_cell_log_spread(&mut self, t: &str, r: &str) -> &mut RowCellLog {
        self.spread_lone();
        let TxLog {
            cells,
            spare_rows,
            spare_cells,
            ..
        } = self;
        cells
            .entry_or_insert_with(t, || spare_rows.pop().unwrap_or_default())
            .entry_or_insert_with(r, || spare_cells.pop().unwrap_or_default())
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
        let row = match &self.lone {
            Some((lt, lr)) if lt == t && lr == r => &self.lone_cells,
            Some(_) => return None,
            None => self.cells.get(t)?.get(r)?,
        };
        row.iter().find(|(id, _)| *id == c).map(|(_, old)| old)
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
