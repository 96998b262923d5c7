//! One running query definition: the select-join-where stage over the root table and its
//! joins, written incrementally into the query's select-join-where store (the result store
//! itself unless the query groups), and the transaction bridges between the stores.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indexmap::IndexMap;
use parking_lot::Mutex;

use crate::content::Row;
use crate::js;
use crate::store::{ListenerId, Store};
use crate::types::{Cell, Text};
use crate::views::rows::{Panic, StoreTrap, catch};

use super::builder::{
    CellIdMapper, CellRef, Clauses, HavingFn, On, RowCells, SelectSource, Selection, TableCells,
    WhereFn,
};
use super::cycles::SelectAllSources;
use super::group::Grouping;
use super::staged::Staged;

/// A join (or the root table, under the `None` alias) as the engine walks it.
struct JoinPlan {
    table_id: String,
    store: Store,
    on: Option<On>,
    /// Aliases of the joins made from this one.
    children: Vec<String>,
}

/// A selected cell: how to read it (`None`: a `select_all` column, written with its row).
type Getter = Option<SelectSource>;

/// A compiled definition.
pub(crate) struct Plan {
    pub query_id: String,
    pub table_id: String,
    pub root: Store,
    pub result: Store,
    selections: Vec<Selection>,
    selects: IndexMap<String, Getter>,
    joins: IndexMap<Option<String>, JoinPlan>,
    wheres: Vec<WhereFn>,
    has_select_all: bool,
    grouping: Option<Grouping>,
    /// Tables whose cell ids a grouped `select_all` froze: a change re-runs the definition.
    select_all_sources: Vec<(Store, String)>,
    /// Queries whose results this one joins.
    pub referenced: Vec<String>,
    /// Query results this one selects all cells of.
    pub select_all_queries: SelectAllSources,
}

impl Plan {
    /// Compiles the clauses; `result_store` gives the result store of a joined query.
    pub fn new(
        query_id: &str,
        table_id: &str,
        base: &Store,
        root: Store,
        result: Store,
        clauses: Clauses,
        result_store: &dyn Fn(&str) -> Store,
    ) -> Plan {
        let mut joins: IndexMap<Option<String>, JoinPlan> = IndexMap::new();
        joins.insert(
            None,
            JoinPlan {
                table_id: table_id.to_string(),
                store: root.clone(),
                on: None,
                children: Vec::new(),
            },
        );
        let mut froms: IndexMap<String, Option<String>> = IndexMap::new();
        let mut referenced = Vec::new();
        for j in clauses.joins {
            let store = if j.query {
                referenced.push(j.table_id.clone());
                result_store(&j.table_id)
            } else {
                // Table joins read the queried store, also when the root is a query result.
                base.clone()
            };
            froms.insert(j.alias.clone(), j.from.clone());
            joins.insert(
                Some(j.alias),
                JoinPlan {
                    table_id: j.table_id,
                    store,
                    on: Some(j.on),
                    children: Vec::new(),
                },
            );
        }
        for (alias, from) in froms {
            if let Some(parent) = joins.get_mut(&from) {
                parent.children.push(alias);
            }
        }
        let grouped = !clauses.groups.is_empty() || !clauses.havings.is_empty();
        let has_select_all = clauses
            .selections
            .iter()
            .any(|s| matches!(s, Selection::All { .. }));
        let mut selects: IndexMap<String, Getter> = IndexMap::new();
        let mut select_all_sources = Vec::new();
        for s in &clauses.selections {
            match s {
                Selection::Cell { alias, source, .. } => {
                    selects.insert(alias.clone(), Some(source.clone()));
                }
                Selection::All { joined, mapper, .. } if grouped => {
                    if let Some(j) = joins.get(joined) {
                        select_all_sources.push((j.store.clone(), j.table_id.clone()));
                        for cell_id in sorted(j.store.get_table_cell_ids(&j.table_id)) {
                            selects.insert(mapper(&cell_id), None);
                        }
                    }
                }
                Selection::All { .. } => {}
            }
        }
        let mut select_all_queries = SelectAllSources::new();
        for s in &clauses.selections {
            if let Selection::All {
                joined, renames, ..
            } = s
                && let Some(j) = joins.get(joined)
                && !j.store.ptr_eq(base)
            {
                *select_all_queries.entry(j.table_id.clone()).or_default() |= renames;
            }
        }
        let grouping = grouped.then(|| grouping(&selects, clauses.groups, clauses.havings));
        Plan {
            query_id: query_id.to_string(),
            table_id: table_id.to_string(),
            root,
            result,
            selections: clauses.selections,
            selects,
            joins,
            wheres: clauses.wheres,
            has_select_all,
            grouping,
            select_all_sources,
            referenced,
            select_all_queries,
        }
    }

    /// Whether the definition selects nothing, so its result stays empty.
    fn is_empty(&self) -> bool {
        self.selections.is_empty() || (self.grouping.is_some() && self.selects.is_empty())
    }
}

fn grouping(
    selects: &IndexMap<String, Getter>,
    groups: Vec<super::builder::GroupClause>,
    havings: Vec<HavingFn>,
) -> Grouping {
    let mut by_alias: IndexMap<String, super::builder::GroupClause> = IndexMap::new();
    for g in groups {
        by_alias.insert(g.alias.clone(), g);
    }
    let mut grouped: IndexMap<String, Vec<(String, super::aggregate::Aggregate)>> = IndexMap::new();
    for (alias, g) in by_alias {
        grouped
            .entry(g.selected)
            .or_default()
            .push((alias, g.aggregate));
    }
    let group_by = selects
        .keys()
        .filter(|c| !grouped.contains_key(*c))
        .cloned()
        .collect();
    Grouping::new(group_by, grouped, havings)
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort_by(|a, b| js::compare_utf16(a, b));
    ids
}

/// A joined row for one root row: which row, and the listener watching it.
struct Remote {
    row: RemoteRow,
    store: Store,
    /// `None` for a row that cannot exist.
    listener: Option<ListenerId>,
}

/// What a join's `on` named: a row id, or another value, which matches no row but, compared
/// with JavaScript's `!=`, still decides whether the join changed.
#[derive(Clone, Debug)]
enum RemoteRow {
    Id(String),
    Never(Cell),
}

impl RemoteRow {
    fn id(&self) -> Option<&str> {
        match self {
            RemoteRow::Id(id) => Some(id),
            RemoteRow::Never(_) => None,
        }
    }

    fn as_cell(&self) -> Cell {
        match self {
            RemoteRow::Id(id) => Cell::from(id.as_str()),
            RemoteRow::Never(c) => c.clone(),
        }
    }

    /// `a == b` in JavaScript, `undefined` being `None`.
    fn loosely_equal(a: Option<&RemoteRow>, b: Option<&RemoteRow>) -> bool {
        match (a, b) {
            (None, None) => true,
            (None, Some(x)) | (Some(x), None) => matches!(x, RemoteRow::Never(Cell::Null)),
            (Some(x), Some(y)) => super::aggregate::loose_eq(&x.as_cell(), &y.as_cell()),
        }
    }
}

/// Where the select-join-where stage writes.
enum Pre {
    /// The result store, for a query that does not group.
    Result(Store),
    /// The grouping's input, for a query that groups.
    Staged(Staged),
}

/// A running definition; dropped from its stores by [`Run::teardown`].
pub(crate) struct Run {
    plan: Plan,
    pre: Pre,
    /// Whether the grouping follows the staged rows (TinyBase's row listener on its private
    /// select-join-where store), and whether their transactions bracket the result store's.
    grouping_live: AtomicBool,
    result_bridged: AtomicBool,
    /// The first panic of the grouping, kept until the staged rows' transaction has finished.
    pending: Mutex<Option<Panic>>,
    remotes: Mutex<HashMap<String, HashMap<String, Remote>>>,
    listeners: Mutex<Vec<(Store, ListenerId)>>,
    /// The root's did-finish bridge, and whether the root's will-finish opened it.
    bridge: Mutex<Option<ListenerId>>,
    bridge_open: Arc<AtomicBool>,
    retired: Arc<AtomicBool>,
    /// One panic trap per store this run listens to (see [`StoreTrap`]).
    traps: Mutex<Vec<Arc<StoreTrap>>>,
}

impl Run {
    /// A definition ready to [`start`](Run::start).
    pub fn new(plan: Plan) -> Arc<Run> {
        let pre = if plan.grouping.is_some() {
            Pre::Staged(Staged::new())
        } else {
            Pre::Result(plan.result.clone())
        };
        Arc::new(Run {
            plan,
            pre,
            grouping_live: AtomicBool::new(false),
            result_bridged: AtomicBool::new(false),
            pending: Mutex::new(None),
            remotes: Mutex::new(HashMap::new()),
            listeners: Mutex::new(Vec::new()),
            bridge: Mutex::new(None),
            bridge_open: Arc::new(AtomicBool::new(false)),
            retired: Arc::new(AtomicBool::new(false)),
            traps: Mutex::new(Vec::new()),
        })
    }

    /// The trap for panics of the query's functions during `store`'s listener phase.
    fn trap(&self, store: &Store) -> Arc<StoreTrap> {
        let mut traps = self.traps.lock();
        if let Some(trap) = traps.iter().find(|t| t.follows(store)) {
            return trap.clone();
        }
        let trap = StoreTrap::new(store);
        traps.push(trap.clone());
        trap
    }

    /// Writes the whole result and starts listening. Runs inside the result store's
    /// transaction; `on_select_all_change` re-runs the definition.
    pub fn start(self: &Arc<Run>, on_select_all_change: Arc<dyn Fn() + Send + Sync>) {
        let run = self;
        for (store, table_id) in &run.plan.select_all_sources {
            let rerun = on_select_all_change.clone();
            let id =
                store.add_table_cell_ids_listener(Some(table_id), move |_, _, _| rerun(), false);
            run.listeners.lock().push((store.clone(), id));
        }
        if run.plan.is_empty() {
            return;
        }
        run.grouping_live.store(true, Ordering::SeqCst);
        let root = run.plan.root.clone();
        let table_id = run.plan.table_id.clone();
        run.pre_transaction(|| {
            for row_id in root.get_row_ids(&table_id) {
                run.root_row_changed(&row_id);
            }
            let (r, trap) = (run.clone(), run.trap(&root));
            let id = root.add_row_listener(
                Some(&table_id),
                None,
                move |_, _, row_id| catch(&trap, || r.root_row_changed(row_id)),
                false,
            );
            run.listeners.lock().push((root.clone(), id));
        });
        run.result_bridged.store(true, Ordering::SeqCst);
        run.bridge_root();
    }

    /// Runs `actions` in one transaction of the select-join-where stage (joining an open
    /// one); a panic rolls it back and is resumed.
    fn pre_transaction(&self, actions: impl FnOnce()) {
        let staged = match &self.pre {
            Pre::Result(store) => return store.transaction(|_| actions()),
            Pre::Staged(staged) => staged,
        };
        if !staged.begin() {
            return actions();
        }
        match catch_unwind(AssertUnwindSafe(actions)) {
            Ok(()) => self.finish_staged(staged, false),
            Err(panic) => {
                self.finish_staged(staged, true);
                resume_unwind(panic)
            }
        }
    }

    /// Ends a transaction of the staged rows. The outermost one does what the end of a
    /// transaction of TinyBase's private store does: its will-finish listener starts a
    /// transaction of the result store, its row listener hands each changed row to the
    /// grouping (keeping the first panic), its did-finish listeners finish the result store's
    /// transaction and then resume the kept panic.
    fn finish_staged(&self, staged: &Staged, rollback: bool) {
        if !staged.end() {
            return;
        }
        let result = &self.plan.result;
        let bridged = self.result_bridged.load(Ordering::SeqCst);
        let mut first: Option<Panic> = None;
        if bridged {
            first = catch_unwind(AssertUnwindSafe(|| {
                result.start_transaction();
            }))
            .err();
        }
        if rollback || first.is_some() {
            staged.rollback();
        }
        if first.is_none()
            && self.grouping_live.load(Ordering::SeqCst)
            && let Some(g) = &self.plan.grouping
        {
            for row_id in staged.changed_rows() {
                let q = &self.plan.query_id;
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| {
                    g.row_changed(q, staged, result, &row_id)
                })) {
                    let mut pending = self.pending.lock();
                    if pending.is_none() {
                        *pending = Some(panic);
                    }
                }
            }
        }
        let mut did: Option<Panic> = None;
        if bridged {
            did = catch_unwind(AssertUnwindSafe(|| {
                result.finish_transaction();
            }))
            .err();
        }
        if did.is_none() {
            did = self.pending.lock().take();
        }
        if first.is_none() {
            first = did;
        }
        staged.reopen();
        if let Some(panic) = first {
            resume_unwind(panic);
        }
    }

    /// Opens a transaction on the select-join-where store while the root's listeners write
    /// into it, and closes it (publishing its own listeners) when the root's transaction ends.
    fn bridge_root(self: &Arc<Run>) {
        let root = &self.plan.root;
        let (run, open) = (self.clone(), self.bridge_open.clone());
        let will = root.add_will_finish_transaction_listener(move |_| {
            match &run.pre {
                Pre::Result(store) => {
                    store.start_transaction();
                }
                Pre::Staged(staged) => {
                    staged.begin();
                }
            }
            open.store(true, Ordering::SeqCst);
        });
        self.listeners.lock().push((root.clone(), will));
        let (run, open, retired) = (self.clone(), self.bridge_open.clone(), self.retired.clone());
        let own: Arc<Mutex<Option<ListenerId>>> = Arc::new(Mutex::new(None));
        let own2 = own.clone();
        let did = root.add_did_finish_transaction_listener(move |root| {
            if open.swap(false, Ordering::SeqCst) {
                match &run.pre {
                    Pre::Result(store) => {
                        store.finish_transaction();
                    }
                    Pre::Staged(staged) => run.finish_staged(staged, false),
                }
            }
            // A definition replaced while this bridge was open keeps it until it has closed.
            if retired.load(Ordering::SeqCst)
                && let Some(id) = *own2.lock()
            {
                root.del_listener(id);
            }
        });
        *own.lock() = Some(did);
        *self.bridge.lock() = Some(did);
    }

    /// Removes every listener of this run (an open root bridge stays until it closes).
    pub fn teardown(&self) {
        self.grouping_live.store(false, Ordering::SeqCst);
        self.result_bridged.store(false, Ordering::SeqCst);
        // Collected first: no lock of the run is held while a store's lock is taken.
        let listeners: Vec<(Store, ListenerId)> = self.listeners.lock().drain(..).collect();
        let remotes: Vec<Remote> = self
            .remotes
            .lock()
            .drain()
            .flat_map(|(_, m)| m.into_values())
            .collect();
        for (store, id) in listeners {
            store.del_listener(id);
        }
        for remote in remotes {
            if let Some(listener) = remote.listener {
                remote.store.del_listener(listener);
            }
        }
        if let Some(did) = self.bridge.lock().take() {
            if self.bridge_open.load(Ordering::SeqCst) {
                self.retired.store(true, Ordering::SeqCst);
            } else {
                self.plan.root.del_listener(did);
            }
        }
    }

    /// Forgets the staged rows of a grouped query (its result store is cleared by the caller).
    pub fn clear_staged(&self) {
        if let Pre::Staged(staged) = &self.pre {
            staged.clear();
        }
    }

    fn root_row_changed(self: &Arc<Run>, row_id: &str) {
        let (root, table_id) = (&self.plan.root, &self.plan.table_id);
        if root.has_row(table_id, row_id) {
            let children = &self.plan.joins[&None].children;
            self.listen_to_row(row_id, root, table_id, Some(row_id), children);
        } else {
            match &self.pre {
                Pre::Result(store) => {
                    store.del_row(&self.plan.query_id, row_id);
                }
                Pre::Staged(staged) => self.pre_transaction(|| staged.del_row(row_id)),
            }
            let gone: Vec<Remote> = self
                .remotes
                .lock()
                .values_mut()
                .filter_map(|m| m.remove(row_id))
                .collect();
            for remote in gone {
                if let Some(listener) = remote.listener {
                    remote.store.del_listener(listener);
                }
            }
        }
    }

    /// A row on the join path of `root_row_id` changed: follow its joins again, then rewrite
    /// the root row's result. `row_id` is `None` for a joined "row" named by a non-string
    /// value, which TinyBase follows although no row can have that id.
    fn listen_to_row(
        self: &Arc<Run>,
        root_row_id: &str,
        store: &Store,
        table_id: &str,
        row_id: Option<&str>,
        children: &[String],
    ) {
        let get = |c: &str| row_id.and_then(|r| store.get_cell(table_id, r, c));
        for alias in children {
            let Some(join) = self.join(alias) else {
                continue;
            };
            let remote = match &join.on {
                Some(On::Cell(c)) => match get(c) {
                    Some(Cell::String(id)) => Some(RemoteRow::Id(id.to_string())),
                    Some(other) => Some(RemoteRow::Never(other)),
                    None => None,
                },
                Some(On::Fn(f)) => f(&RowCells { get: &get }, root_row_id).map(RemoteRow::Id),
                None => None,
            };
            let unchanged = {
                let remotes = self.remotes.lock();
                let previous = remotes.get(alias).and_then(|m| m.get(root_row_id));
                RemoteRow::loosely_equal(remote.as_ref(), previous.map(|p| &p.row))
            };
            if unchanged {
                continue;
            }
            let previous = self.remote(alias, root_row_id);
            // The previous joined row stays readable until the new one is recorded (below).
            if let Some((_, Some((store, listener)))) = previous {
                store.del_listener(listener);
            }
            let Some(remote) = remote else {
                if let Some(m) = self.remotes.lock().get_mut(alias) {
                    m.remove(root_row_id);
                }
                continue;
            };
            let listener = match &remote {
                RemoteRow::Id(id) => {
                    let (r, root_row, alias2) =
                        (self.clone(), root_row_id.to_string(), alias.clone());
                    let trap = self.trap(&join.store);
                    Some(join.store.add_row_listener(
                        Some(&join.table_id),
                        Some(id),
                        move |_, _, _| catch(&trap, || r.remote_changed(&root_row, &alias2)),
                        false,
                    ))
                }
                RemoteRow::Never(_) => None,
            };
            // As TinyBase, the joined row is followed before it is recorded: the writes made
            // on the way do not see it yet, which decides the order of the result's cells.
            self.listen_to_row(
                root_row_id,
                &join.store,
                &join.table_id,
                remote.id(),
                &join.children,
            );
            self.remotes
                .lock()
                .entry(alias.clone())
                .or_default()
                .insert(
                    root_row_id.to_string(),
                    Remote {
                        row: remote,
                        store: join.store.clone(),
                        listener,
                    },
                );
        }
        self.write_row(root_row_id);
    }

    /// The joined row of a root row and its listener.
    #[allow(clippy::type_complexity)]
    fn remote(
        &self,
        alias: &str,
        root_row_id: &str,
    ) -> Option<(RemoteRow, Option<(Store, ListenerId)>)> {
        let remotes = self.remotes.lock();
        let r = remotes.get(alias)?.get(root_row_id)?;
        Some((r.row.clone(), r.listener.map(|l| (r.store.clone(), l))))
    }

    fn remote_changed(self: &Arc<Run>, root_row_id: &str, alias: &str) {
        if let Some((RemoteRow::Id(remote_id), _)) = self.remote(alias, root_row_id) {
            let Some(join) = self.join(alias) else {
                return;
            };
            self.listen_to_row(
                root_row_id,
                &join.store,
                &join.table_id,
                Some(&remote_id),
                &join.children,
            );
        }
    }

    /// `getTableCell` for one root row.
    fn table_cell(&self, root_row_id: &str, cell: CellRef<'_>) -> Option<Cell> {
        let (root, table_id) = (&self.plan.root, &self.plan.table_id);
        let (alias, cell_id) = match cell {
            CellRef::Root(c) => return root.get_cell(table_id, root_row_id, c),
            CellRef::Joined(t, c) if t == table_id => {
                return root.get_cell(table_id, root_row_id, c);
            }
            CellRef::Joined(t, c) | CellRef::Query(t, c) => (t, c),
        };
        let join = self.join(alias)?;
        let remote = self.remote_row(alias, root_row_id)?;
        join.store.get_cell(&join.table_id, &remote, cell_id)
    }

    fn remote_row(&self, alias: &str, root_row_id: &str) -> Option<Text> {
        let remotes = self.remotes.lock();
        remotes
            .get(alias)?
            .get(root_row_id)?
            .row
            .id()
            .map(Text::from)
    }

    /// The join named `alias` (a scan: a definition has few joins, and no key is built).
    fn join(&self, alias: &str) -> Option<&JoinPlan> {
        self.plan
            .joins
            .iter()
            .find(|(a, _)| a.as_deref() == Some(alias))
            .map(|(_, j)| j)
    }

    fn select(
        &self,
        source: &SelectSource,
        root_row_id: &str,
        cells: &TableCells<'_>,
    ) -> Option<Cell> {
        match source {
            SelectSource::Root(c) => cells.cell(c),
            SelectSource::Joined(t, c) => cells.joined(t, c),
            SelectSource::Query(t, c) => cells.query(t, c),
            SelectSource::Fn(f) => f(cells, root_row_id),
        }
    }

    /// Writes one root row's selected cells (or removes the row) in the select-join-where store.
    fn write_row(&self, root_row_id: &str) {
        let get = |cell: CellRef<'_>| self.table_cell(root_row_id, cell);
        let cells = TableCells { get: &get };
        let q = &self.plan.query_id;
        self.pre_transaction(|| {
            if !self.plan.wheres.iter().all(|w| w(&cells)) {
                self.pre_del_row(root_row_id);
            } else if self.plan.has_select_all {
                self.write_select_all_row(root_row_id, &cells);
            } else {
                for (alias, getter) in &self.plan.selects {
                    let value = getter
                        .as_ref()
                        .and_then(|s| self.select(s, root_row_id, &cells));
                    match (&self.pre, value) {
                        (Pre::Result(pre), Some(v)) => {
                            pre.set_cell(q, root_row_id, alias, v);
                        }
                        (Pre::Result(pre), None) => {
                            pre.del_cell(q, root_row_id, alias, true);
                        }
                        (Pre::Staged(pre), Some(v)) => pre.set_cell(root_row_id, alias, v),
                        (Pre::Staged(pre), None) => pre.del_cell(root_row_id, alias),
                    }
                }
            }
        });
    }

    fn pre_del_row(&self, root_row_id: &str) {
        match &self.pre {
            Pre::Result(pre) => {
                pre.del_row(&self.plan.query_id, root_row_id);
            }
            Pre::Staged(pre) => pre.del_row(root_row_id),
        }
    }

    fn write_select_all_row(&self, root_row_id: &str, cells: &TableCells<'_>) {
        let mut row: Vec<(String, Cell)> = Vec::new();
        let mut put =
            |id: String, value: Option<Cell>| super::staged::put_cell(&mut row, id, value);
        for s in &self.plan.selections {
            match s {
                Selection::All { joined, mapper, .. } => {
                    self.select_all_cells(root_row_id, joined.as_deref(), mapper, &mut put);
                }
                Selection::Cell { alias, source, .. } => {
                    put(alias.clone(), self.select(source, root_row_id, cells));
                }
            }
        }
        if row.is_empty() {
            self.pre_del_row(root_row_id);
        } else {
            let row: Row = js::object_order(row).into_iter().collect();
            match &self.pre {
                Pre::Result(pre) => {
                    pre.set_row(&self.plan.query_id, root_row_id, &row);
                }
                Pre::Staged(pre) => pre.set_row(root_row_id, &row),
            }
        }
    }

    fn select_all_cells(
        &self,
        root_row_id: &str,
        joined: Option<&str>,
        mapper: &CellIdMapper,
        put: &mut impl FnMut(String, Option<Cell>),
    ) {
        let Some(join) = self.plan.joins.get(&joined.map(str::to_string)) else {
            return;
        };
        let source_row = match joined {
            None => Some(Text::from(root_row_id)),
            Some(alias) => self.remote_row(alias, root_row_id),
        };
        let Some(row_id) = source_row else { return };
        for cell_id in sorted(join.store.get_cell_ids(&join.table_id, &row_id)) {
            let value = join.store.get_cell(&join.table_id, &row_id, &cell_id);
            put(mapper(&cell_id), value);
        }
    }
}
