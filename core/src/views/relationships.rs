//! `Relationships` (TinyBase's `createRelationships`, spec store.md §6): each row of a local
//! table points at a row id of a remote table, by a cell or a function; kept up to date row by
//! row, with the reverse map and linked lists within one table.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::ordmap::OrdMap;
use crate::store::{ListenerId, Store};
use crate::types::Text;

use super::listeners::Path;
use super::rows::{Panic, RowCache, evaluate, fire};
use super::view::{Definition, Defs, Evaluate, ViewCore, definable_handle};
use super::{Source, js_string};

/// Listener counts of a [`Relationships`] (the fields of TinyBase's `getListenerStats`).
///
/// ```
/// use tinystore_core::Store;
/// use tinystore_core::views::{Relationships, RelationshipsListenerStats};
/// let rels = Relationships::new(&Store::new());
/// rels.add_remote_row_id_listener(None, None, |_, _, _| {});
/// let stats = rels.get_listener_stats();
/// assert_eq!(stats, RelationshipsListenerStats { remote_row_id: 1, local_row_ids: 0, linked_row_ids: 0 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelationshipsListenerStats {
    /// Remote-row-id listeners.
    pub remote_row_id: usize,
    /// Local-row-ids listeners.
    pub local_row_ids: usize,
    /// Linked-row-ids listeners.
    pub linked_row_ids: usize,
}

const RELATIONSHIP_IDS: u8 = 0;
const REMOTE_ROW_ID: u8 = 1;
const LOCAL_ROW_IDS: u8 = 2;
const LINKED_ROW_IDS: u8 = 3;

type IdsFn = Box<dyn FnMut(&Relationships) + Send>;
type RowFn2 = Box<dyn FnMut(&Relationships, &str, &str) + Send>;

enum Callback {
    Ids(IdsFn),
    Row(RowFn2),
}

enum Event {
    RelationshipIds,
    /// `(kind, relationship, row)`.
    Row(u8, Text, Text),
}

struct RelDef {
    remote_table_id: Text,
    /// The local and remote tables are the same (linked lists only exist then).
    same_table: bool,
    source: Source<Option<String>>,
    rows: RowCache<Text>,
    /// local row → remote row.
    local_rows: OrdMap<Text, Text>,
    /// remote row → local rows pointing at it.
    remote_rows: OrdMap<Text, OrdMap<Text, ()>>,
    /// first row → its linked row ids, for linked-row-ids listeners (TinyBase's cache, which
    /// decides which of those listeners a change calls).
    linked_rows: HashMap<Text, Vec<Text>>,
}

/// relationship → first row ids with linked-row-ids listeners (in first-listener order) and
/// how many listeners each has.
type LinkedListeners = IndexMap<Text, IndexMap<Text, usize>>;

/// Evaluates a local row's remote row id.
struct RelEval {
    table_id: Text,
    source: Source<Option<String>>,
}

impl Evaluate for RelEval {
    type Row = Option<Text>;

    fn evaluate(&self, store: &Store, row_id: &str) -> Option<Text> {
        compute(store, &self.table_id, &self.source, row_id)
    }
}

impl Definition for RelDef {
    type Eval = RelEval;
    type Event = Event;
    type Extra = LinkedListeners;

    fn evaluator(&self, table_id: &Text) -> RelEval {
        RelEval {
            table_id: table_id.clone(),
            source: self.source.clone(),
        }
    }

    fn known_rows(&self) -> Vec<String> {
        self.rows.row_ids()
    }

    fn adopt(&mut self, old: RelDef) {
        self.rows = old.rows;
        self.local_rows = old.local_rows;
        self.remote_rows = old.remote_rows;
        self.linked_rows = old.linked_rows;
    }

    fn record(&mut self, row_id: &str, remote: Option<Text>) {
        self.rows.record(row_id, remote, None);
    }

    fn on_changed(
        &mut self,
        id: &str,
        force: bool,
        listeners: &LinkedListeners,
    ) -> (Vec<Event>, Option<Panic>) {
        let firsts: Vec<Text> = listeners
            .get(id)
            .map_or_else(Vec::new, |m| m.keys().cloned().collect());
        (on_changed(self, &firsts, id, force), None)
    }
}

definable_handle! {
    /// Links from the rows of one table to the rows of another (TinyBase's `Relationships`).
    ///
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Relationships, Source};
    ///
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog").set_cell("species", "dog", "legs", 4);
    /// let rels = Relationships::new(&store);
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// assert_eq!(rels.get_remote_row_id("petSpecies", "fido").as_deref(), Some("dog"));
    /// assert_eq!(rels.get_local_row_ids("petSpecies", "dog"), ["fido"]);
    /// ```
    Relationships,
    RelDef,
    get_relationship_ids;
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Relationships, Source};
    /// let store = Store::new();
    /// let rels = Relationships::new(&store);
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// assert!(Relationships::new(&store).has_relationship("petSpecies"));
    /// // Once every handle is dropped, the next call makes a new, empty one.
    /// drop(rels);
    /// assert!(!Relationships::new(&store).has_relationship("petSpecies"));
    /// ```
}

/// The [`Relationships`] of `store` (TinyBase's `createRelationships`, memoized per
/// store as [`Relationships::new`] says).
///
/// ```
/// let store = tinystore_core::Store::new();
/// assert!(tinystore_core::views::create_relationships(&store).get_relationship_ids().is_empty());
/// ```
pub fn create_relationships(store: &Store) -> Relationships {
    Relationships::new(store)
}

impl Relationships {
    /// Defines (or redefines) a relationship: each row of `local_table_id` points at the row
    /// of `remote_table_id` named by a cell (`'' + value`) or a function (`None`: no link).
    /// A function that panics makes this call panic with nothing changed.
    ///
    /// ```
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Relationships, Source};
    /// let store = Store::new();
    /// store.set_cell("t", "a", "next", "b").set_cell("t", "b", "next", "c");
    /// let rels = Relationships::new(&store);
    /// rels.set_relationship_definition("list", "t", "t", Source::cell("next"));
    /// assert_eq!(rels.get_linked_row_ids("list", "a"), ["a", "b", "c"]);
    /// ```
    pub fn set_relationship_definition(
        &self,
        relationship_id: &str,
        local_table_id: &str,
        remote_table_id: &str,
        get_remote_row_id: Source<Option<String>>,
    ) -> &Self {
        let _writers = self.core.store.lock();
        {
            // TinyBase fills the linked-rows cache of the old definition before redefining.
            let mut state = self.core.state.lock();
            let Defs { defs, extra, .. } = &mut *state;
            if let (Some(def), Some(firsts)) =
                (defs.get_mut(relationship_id), extra.get(relationship_id))
            {
                for first in firsts.keys() {
                    linked_cached(&mut def.def, first);
                }
            }
        }
        let def = RelDef {
            remote_table_id: Text::from(remote_table_id),
            same_table: local_table_id == remote_table_id,
            source: get_remote_row_id,
            rows: RowCache::default(),
            local_rows: OrdMap::new(),
            remote_rows: OrdMap::new(),
            linked_rows: HashMap::new(),
        };
        let defined = self
            .core
            .define(relationship_id, local_table_id, def, fire_events);
        if defined.is_new {
            self.fire(&[Event::RelationshipIds]);
        }
        self.fire(&defined.events);
        self
    }

    /// Removes a relationship definition (its listeners stay registered). The
    /// relationship-ids listeners are called even for an unknown id, as in TinyBase.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog");
    /// let rels = Relationships::new(&store);
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// rels.del_relationship_definition("petSpecies");
    /// assert!(!rels.has_relationship("petSpecies"));
    /// assert_eq!(rels.get_remote_row_id("petSpecies", "fido"), None);
    /// ```
    pub fn del_relationship_definition(&self, relationship_id: &str) -> &Self {
        self.core.undefine(relationship_id);
        self.fire(&[Event::RelationshipIds]);
        self
    }

    /// Removes every definition and the store listeners. The object stays usable.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let rels = Relationships::new(&Store::new());
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// rels.destroy();
    /// assert!(rels.get_relationship_ids().is_empty());
    /// ```
    pub fn destroy(&self) {
        self.core.destroy(|_| self.fire(&[Event::RelationshipIds]));
    }

    /// The ids of the defined relationships, in definition order.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let rels = Relationships::new(&Store::new());
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// rels.set_relationship_definition("petOwner", "pets", "owners", Source::cell("owner"));
    /// assert_eq!(rels.get_relationship_ids(), ["petSpecies", "petOwner"]);
    /// ```
    pub fn get_relationship_ids(&self) -> Vec<String> {
        self.core.state.lock().ids()
    }

    /// Whether a relationship is defined.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let rels = Relationships::new(&Store::new());
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// assert!(rels.has_relationship("petSpecies"));
    /// assert!(!rels.has_relationship("petOwner"));
    /// ```
    pub fn has_relationship(&self, relationship_id: &str) -> bool {
        self.core.with_def(relationship_id, |_| ()).is_some()
    }

    /// Calls `f(relationship_id)` for each relationship.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let rels = Relationships::new(&Store::new());
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// let mut ids = Vec::new();
    /// rels.for_each_relationship(|id| ids.push(id.to_string()));
    /// assert_eq!(ids, ["petSpecies"]);
    /// ```
    pub fn for_each_relationship(&self, mut f: impl FnMut(&str)) {
        for id in self.get_relationship_ids() {
            f(&id);
        }
    }

    /// The local table of a relationship.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let rels = Relationships::new(&Store::new());
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// assert_eq!(rels.get_local_table_id("petSpecies").as_deref(), Some("pets"));
    /// assert_eq!(rels.get_local_table_id("unknown"), None);
    /// ```
    pub fn get_local_table_id(&self, relationship_id: &str) -> Option<String> {
        self.core.table_id(relationship_id)
    }

    /// The remote table of a relationship.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let rels = Relationships::new(&Store::new());
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// assert_eq!(rels.get_remote_table_id("petSpecies").as_deref(), Some("species"));
    /// ```
    pub fn get_remote_table_id(&self, relationship_id: &str) -> Option<String> {
        self.core
            .with_def(relationship_id, |d| d.remote_table_id.to_string())
    }

    /// The remote row a local row points at.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "fido", "species", "dog");
    /// let rels = Relationships::new(&store);
    /// // The remote row need not exist.
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// assert_eq!(rels.get_remote_row_id("petSpecies", "fido").as_deref(), Some("dog"));
    /// assert_eq!(rels.get_remote_row_id("petSpecies", "rex"), None);
    /// ```
    pub fn get_remote_row_id(&self, relationship_id: &str, local_row_id: &str) -> Option<String> {
        self.core
            .with_def(relationship_id, |d| {
                d.local_rows.get(local_row_id).map(|r| r.to_string())
            })
            .flatten()
    }

    /// The local rows pointing at a remote row, in the order they started to.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let store = Store::new();
    /// store.set_cell("pets", "rex", "species", "dog").set_cell("pets", "fido", "species", "dog");
    /// let rels = Relationships::new(&store);
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// assert_eq!(rels.get_local_row_ids("petSpecies", "dog"), ["rex", "fido"]);
    /// ```
    pub fn get_local_row_ids(&self, relationship_id: &str, remote_row_id: &str) -> Vec<String> {
        self.core
            .with_def(relationship_id, |d| {
                d.remote_rows
                    .get(remote_row_id)
                    .map(|rows| rows.keys().map(|k| k.to_string()).collect())
            })
            .flatten()
            .unwrap_or_default()
    }

    /// The linked list from `first_row_id`: it, then the row it points at, and so on until a
    /// row points nowhere or back into the list. Only the first row when the local and remote
    /// tables differ or the relationship is unknown.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let store = Store::new();
    /// store.set_cell("steps", "a", "next", "b").set_cell("steps", "b", "next", "a");
    /// let rels = Relationships::new(&store);
    /// rels.set_relationship_definition("order", "steps", "steps", Source::cell("next"));
    /// // The walk stops where the list loops back.
    /// assert_eq!(rels.get_linked_row_ids("order", "a"), ["a", "b"]);
    /// ```
    pub fn get_linked_row_ids(&self, relationship_id: &str, first_row_id: &str) -> Vec<String> {
        let ids = self.core.with_def(relationship_id, |def| {
            match def.linked_rows.get(first_row_id) {
                Some(cached) => cached.clone(),
                None => walk(def, first_row_id),
            }
        });
        match ids {
            Some(ids) => ids.into_iter().map(|r| r.to_string()).collect(),
            None => vec![first_row_id.to_string()],
        }
    }

    /// Listens to the relationship ids: `f(relationships)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let rels = Relationships::new(&Store::new());
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// rels.add_relationship_ids_listener(move |rels| s.lock().unwrap().push(rels.get_relationship_ids()));
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// assert_eq!(*seen.lock().unwrap(), [["petSpecies"]]);
    /// ```
    pub fn add_relationship_ids_listener(
        &self,
        f: impl FnMut(&Relationships) + Send + 'static,
    ) -> ListenerId {
        self.core
            .add_listener(RELATIONSHIP_IDS, vec![], Callback::Ids(Box::new(f)))
    }

    /// Listens to a local row's remote row id (`None`: any):
    /// `f(relationships, relationship_id, local_row_id)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let store = Store::new();
    /// let rels = Relationships::new(&store);
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// rels.add_remote_row_id_listener(Some("petSpecies"), None, move |rels, rel, row| {
    ///     s.lock().unwrap().push(rels.get_remote_row_id(rel, row))
    /// });
    /// store.set_cell("pets", "fido", "species", "dog");
    /// assert_eq!(*seen.lock().unwrap(), [Some("dog".to_string())]);
    /// ```
    pub fn add_remote_row_id_listener(
        &self,
        relationship_id: Option<&str>,
        local_row_id: Option<&str>,
        f: impl FnMut(&Relationships, &str, &str) + Send + 'static,
    ) -> ListenerId {
        self.add(REMOTE_ROW_ID, relationship_id, local_row_id, f)
    }

    /// Listens to the local row ids of a remote row:
    /// `f(relationships, relationship_id, remote_row_id)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::{Relationships, Source};
    /// let store = Store::new();
    /// let rels = Relationships::new(&store);
    /// rels.set_relationship_definition("petSpecies", "pets", "species", Source::cell("species"));
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// rels.add_local_row_ids_listener(Some("petSpecies"), Some("dog"), move |rels, rel, remote| {
    ///     s.lock().unwrap().push(rels.get_local_row_ids(rel, remote))
    /// });
    /// store.set_cell("pets", "fido", "species", "dog");
    /// assert_eq!(*seen.lock().unwrap(), [["fido"]]);
    /// ```
    pub fn add_local_row_ids_listener(
        &self,
        relationship_id: Option<&str>,
        remote_row_id: Option<&str>,
        f: impl FnMut(&Relationships, &str, &str) + Send + 'static,
    ) -> ListenerId {
        self.add(LOCAL_ROW_IDS, relationship_id, remote_row_id, f)
    }

    /// Listens to the linked row ids from one row:
    /// `f(relationships, relationship_id, first_row_id)`.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// use tinystore_core::Store;
    /// use tinystore_core::views::{Relationships, Source};
    /// let store = Store::new();
    /// store.set_cell("t", "a", "next", "b");
    /// let rels = Relationships::new(&store);
    /// rels.set_relationship_definition("list", "t", "t", Source::cell("next"));
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let c = calls.clone();
    /// rels.add_linked_row_ids_listener("list", "a", move |_, _, _| { c.fetch_add(1, Ordering::SeqCst); });
    /// store.set_cell("t", "b", "next", "c");
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// ```
    pub fn add_linked_row_ids_listener(
        &self,
        relationship_id: &str,
        first_row_id: &str,
        f: impl FnMut(&Relationships, &str, &str) + Send + 'static,
    ) -> ListenerId {
        {
            let mut state = self.core.state.lock();
            if let Some(def) = state.defs.get_mut(relationship_id) {
                linked_cached(&mut def.def, first_row_id);
            }
            *state
                .extra
                .entry(Text::from(relationship_id))
                .or_default()
                .entry(Text::from(first_row_id))
                .or_default() += 1;
        }
        self.add(LINKED_ROW_IDS, Some(relationship_id), Some(first_row_id), f)
    }

    fn add(
        &self,
        kind: u8,
        relationship_id: Option<&str>,
        row_id: Option<&str>,
        f: impl FnMut(&Relationships, &str, &str) + Send + 'static,
    ) -> ListenerId {
        let path: Path = vec![relationship_id.map(Text::from), row_id.map(Text::from)];
        self.core
            .add_listener(kind, path, Callback::Row(Box::new(f)))
    }

    /// Removes a listener (unknown ids are ignored). As in TinyBase, this also drops the
    /// linked-rows cache entry named by the listener's path.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Relationships;
    /// let rels = Relationships::new(&Store::new());
    /// let id = rels.add_local_row_ids_listener(None, None, |_, _, _| {});
    /// rels.del_listener(id);
    /// assert_eq!(rels.get_listener_stats().local_row_ids, 0);
    /// ```
    pub fn del_listener(&self, id: ListenerId) -> &Self {
        let removed = self.core.listeners.lock().remove(id);
        if let Some((kind, path)) = removed {
            let mut state = self.core.state.lock();
            if let [Some(rel), Some(row)] = path.as_slice() {
                if kind == LINKED_ROW_IDS {
                    if let Some(firsts) = state.extra.get_mut(rel) {
                        if let Some(n) = firsts.get_mut(row) {
                            *n -= 1;
                            if *n == 0 {
                                firsts.shift_remove(row);
                            }
                        }
                    }
                }
                if let Some(def) = state.defs.get_mut(rel) {
                    def.def.linked_rows.remove(row);
                }
            }
        }
        self
    }

    /// Listener counts.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Relationships;
    /// let rels = Relationships::new(&Store::new());
    /// rels.add_linked_row_ids_listener("order", "a", |_, _, _| {});
    /// assert_eq!(rels.get_listener_stats().linked_row_ids, 1);
    /// ```
    pub fn get_listener_stats(&self) -> RelationshipsListenerStats {
        RelationshipsListenerStats {
            remote_row_id: self.core.count(REMOTE_ROW_ID),
            local_row_ids: self.core.count(LOCAL_ROW_IDS),
            linked_row_ids: self.core.count(LINKED_ROW_IDS),
        }
    }

    fn fire(&self, events: &[Event]) {
        let registry = &self.core.listeners;
        for event in events {
            match event {
                Event::RelationshipIds => fire(registry, RELATIONSHIP_IDS, &[], |c| {
                    if let Callback::Ids(f) = c {
                        f(self);
                    }
                }),
                Event::Row(kind, rel, row) => fire(registry, *kind, &[rel, row], |c| {
                    if let Callback::Row(f) = c {
                        f(self, rel, row);
                    }
                }),
            }
        }
    }
}

/// A row's remote row id (`None` for a row that no longer exists or points nowhere).
fn compute(
    store: &Store,
    table_id: &str,
    source: &Source<Option<String>>,
    row_id: &str,
) -> Option<Text> {
    if !store.has_row(table_id, row_id) {
        return None;
    }
    evaluate(source, store, table_id, row_id, |cell| {
        cell.map(|c| js_string(&c))
    })
    .map(Text::from)
}

/// Follows remote row ids from `first` within one table (TinyBase's linked-rows walk).
fn walk(def: &RelDef, first: &str) -> Vec<Text> {
    let mut rows: Vec<Text> = vec![Text::from(first)];
    if !def.same_table {
        return rows;
    }
    let mut seen: std::collections::HashSet<Text> = rows.iter().cloned().collect();
    let mut next = def.local_rows.get(first);
    while let Some(row) = next {
        if !seen.insert(row.clone()) {
            break;
        }
        rows.push(row.clone());
        next = def.local_rows.get(row.as_str());
    }
    rows
}

/// The cached linked rows of `first`, filled in from the current links if absent.
fn linked_cached<'a>(def: &'a mut RelDef, first: &str) -> &'a Vec<Text> {
    if !def.linked_rows.contains_key(first) {
        let rows = walk(def, first);
        def.linked_rows.insert(Text::from(first), rows);
    }
    &def.linked_rows[first]
}

/// TinyBase's relationship `onChanged`: moves changed local rows between remote rows and
/// lists the listener calls (remote row ids, local row ids, linked row ids).
fn on_changed(def: &mut RelDef, firsts: &[Text], relationship_id: &str, force: bool) -> Vec<Event> {
    let mut changed_local: OrdMap<Text, ()> = OrdMap::new();
    let mut changed_remote: OrdMap<Text, ()> = OrdMap::new();
    let mut changed_linked: OrdMap<Text, ()> = OrdMap::new();
    let changes: Vec<(Text, Option<Text>, Option<Text>)> = def
        .rows
        .changed
        .iter()
        .map(|(row, (old, new))| (row.clone(), old.clone(), new.clone()))
        .collect();
    for (local, old, new) in changes {
        if let Some(old) = old {
            changed_remote.insert(old.clone(), ());
            if let Some(locals) = def.remote_rows.get_mut(old.as_str()) {
                locals.remove(local.as_str());
                if locals.is_empty() {
                    def.remote_rows.remove(old.as_str());
                }
            }
        }
        match &new {
            Some(new) => {
                changed_remote.insert(new.clone(), ());
                if !def.remote_rows.contains_key(new.as_str()) {
                    def.remote_rows.insert(new.clone(), OrdMap::new());
                }
                if let Some(locals) = def.remote_rows.get_mut(new.as_str()) {
                    if !locals.contains_key(local.as_str()) {
                        locals.insert(local.clone(), ());
                    }
                }
                def.local_rows.insert(local.clone(), new.clone());
            }
            None => {
                def.local_rows.remove(local.as_str());
            }
        }
        changed_local.insert(local.clone(), ());
        for first in firsts {
            if linked_cached(def, first).contains(&local) {
                changed_linked.insert(first.clone(), ());
            }
        }
    }
    def.rows.apply();
    if force {
        for first in firsts {
            let old = def
                .linked_rows
                .remove(first.as_str())
                .unwrap_or_else(|| walk(def, first));
            if old != walk(def, first) {
                changed_linked.insert(first.clone(), ());
            }
        }
    }
    def.rows.clear_changes();
    let id = Text::from(relationship_id);
    let mut events = Vec::new();
    for local in changed_local.keys() {
        events.push(Event::Row(REMOTE_ROW_ID, id.clone(), local.clone()));
    }
    for remote in changed_remote.keys() {
        events.push(Event::Row(LOCAL_ROW_IDS, id.clone(), remote.clone()));
    }
    for first in changed_linked.keys() {
        def.linked_rows.remove(first.as_str());
        events.push(Event::Row(LINKED_ROW_IDS, id.clone(), first.clone()));
    }
    events
}
