//! The shared state behind every view handle ([`ViewCore`]), and the machinery of the views
//! made of definitions over one table each ([`Definition`], [`Defs`]): TinyBase's
//! `getDefinableFunctions`, which Indexes, Relationships and Metrics (and later Queries) share.
//!
//! Setting a definition evaluates its rows first (user functions, no view lock held; a panic
//! leaves everything as it was), then, under the view's lock, records them, lets the
//! definition apply them (`on_changed` with `force`) and subscribes it to its table. From then
//! on the store's row listener evaluates each changed row and its table listener applies them.

use std::collections::HashSet;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::ordmap::OrdMap;
use crate::store::{ListenerId, Store};
use crate::types::Text;

use super::listeners::{Path, Registry};
use super::rows::{Panic, PanicTrap, Trapped, keep, link_table};

/// The state of a view object that knows which store listeners it added.
pub(crate) trait ViewState: Send + 'static {
    /// Takes every store listener id the state holds, to remove them.
    fn take_store_listeners(&mut self) -> Vec<ListenerId>;
}

/// What a view handle points at: its store, its state `S`, its own listeners (callback type
/// `C`) and its panic trap. Dropping the last handle removes its store listeners.
pub(crate) struct ViewCore<S: ViewState, C> {
    pub(crate) store: Store,
    pub(crate) state: Mutex<S>,
    pub(crate) listeners: Mutex<Registry<C>>,
    pub(crate) trap: PanicTrap,
    pub(crate) this: Weak<ViewCore<S, C>>,
}

impl<S: ViewState, C: Send + 'static> ViewCore<S, C> {
    /// A view of `store` starting from `state`.
    pub(crate) fn new(store: &Store, state: S) -> Arc<Self> {
        Arc::new_cyclic(|this| ViewCore {
            store: store.clone(),
            state: Mutex::new(state),
            listeners: Mutex::new(Registry::default()),
            trap: PanicTrap::default(),
            this: this.clone(),
        })
    }

    /// Registers one of the view's listeners.
    pub(crate) fn add_listener(&self, kind: u8, path: Path, callback: C) -> ListenerId {
        self.listeners.lock().add(kind, path, callback)
    }

    /// How many listeners of `kind` the view has.
    pub(crate) fn count(&self, kind: u8) -> usize {
        self.listeners.lock().count(kind)
    }
}

impl<S: ViewState, C: Send + 'static> Trapped for ViewCore<S, C> {
    fn trap(&self) -> &PanicTrap {
        &self.trap
    }

    fn store(&self) -> &Store {
        &self.store
    }
}

impl<S: ViewState, C> Drop for ViewCore<S, C> {
    fn drop(&mut self) {
        let resumer = self.trap.take_resumer();
        for id in self
            .state
            .get_mut()
            .take_store_listeners()
            .into_iter()
            .chain(resumer)
        {
            self.store.del_listener(id);
        }
    }
}

/// Evaluates rows for a definition, out of the view's lock (it holds the definition's sources).
pub(crate) trait Evaluate: Send + 'static {
    /// What one row evaluates to.
    type Row;
    /// Evaluates `row_id` of the definition's table (user functions may panic).
    fn evaluate(&self, store: &Store, row_id: &str) -> Self::Row;
}

/// The bookkeeping every definition has.
#[derive(Debug, Default)]
pub(crate) struct Linked {
    /// The table the definition is over.
    pub(crate) table_id: Text,
    /// Which setting of the definition the store listeners belong to (a redefinition makes
    /// the old ones inert even if they are still queued in a dispatch).
    pub(crate) generation: u64,
    /// The row and table listeners on the store.
    pub(crate) store_listeners: Vec<ListenerId>,
}

/// A definition and its bookkeeping.
pub(crate) struct Entry<D> {
    pub(crate) linked: Linked,
    pub(crate) def: D,
}

/// One definition of a definable view.
pub(crate) trait Definition: Send + Sized + 'static {
    /// Evaluates rows; cloned out of the lock.
    type Eval: Evaluate;
    /// A listener call to make.
    type Event;
    /// View-wide state the definitions read when they apply changes.
    type Extra: Default + Send + 'static;

    /// The row evaluator for the definition's table.
    fn evaluator(&self, table_id: &Text) -> Self::Eval;
    /// The rows that have a value.
    fn known_rows(&self) -> Vec<String>;
    /// Whether a redefinition keeps this definition's state (TinyBase: a metric without a
    /// value is no metric, so redefining it starts afresh).
    fn exists(&self) -> bool {
        true
    }
    /// Takes over the derived state of the definition this one replaces.
    fn adopt(&mut self, old: Self);
    /// Records a freshly evaluated row as a pending change.
    fn record(&mut self, row_id: &str, row: <Self::Eval as Evaluate>::Row);
    /// Applies the pending changes; returns the listener calls and a caught panic.
    fn on_changed(
        &mut self,
        id: &str,
        force: bool,
        extra: &Self::Extra,
    ) -> (Vec<Self::Event>, Option<Panic>);
}

/// The definitions of a view, in definition order.
pub(crate) struct Defs<D: Definition> {
    pub(crate) defs: OrdMap<Text, Entry<D>>,
    pub(crate) extra: D::Extra,
    next_generation: u64,
}

impl<D: Definition> Default for Defs<D> {
    fn default() -> Self {
        Defs {
            defs: OrdMap::new(),
            extra: D::Extra::default(),
            next_generation: 0,
        }
    }
}

impl<D: Definition> Defs<D> {
    /// The definition `id` if it is still the setting `generation` belongs to.
    fn live_mut(&mut self, id: &str, generation: u64) -> Option<&mut Entry<D>> {
        let entry = self.defs.get_mut(id)?;
        (entry.linked.generation == generation).then_some(entry)
    }

    /// The ids, in definition order.
    pub(crate) fn ids(&self) -> Vec<String> {
        self.defs.keys().map(|k| k.to_string()).collect()
    }
}

impl<D: Definition> ViewState for Defs<D> {
    fn take_store_listeners(&mut self) -> Vec<ListenerId> {
        let mut ids: Vec<ListenerId> = Vec::new();
        for (_, entry) in self.defs.iter() {
            ids.extend(&entry.linked.store_listeners);
        }
        ids
    }
}

/// What setting a definition did, for the view to call its listeners.
pub(crate) struct Defined<E> {
    /// The definition is new (its ids listeners are due).
    pub(crate) is_new: bool,
    /// The listener calls of applying its rows.
    pub(crate) events: Vec<E>,
    /// A panic of a sorter or aggregate, to resume once the listeners ran.
    pub(crate) panic: Option<Panic>,
}

/// Calls a view's listeners for some events (the view's `fire`).
pub(crate) type Fire<D, C> = fn(&Arc<ViewCore<Defs<D>, C>>, &[<D as Definition>::Event]);

impl<D: Definition, C: Send + 'static> ViewCore<Defs<D>, C> {
    /// Sets definition `id` over `table_id` to `def` (its derived state empty): evaluates the
    /// rows, adopts the state of the definition it replaces, applies, and subscribes to the
    /// table. A panicking evaluation changes nothing.
    pub(crate) fn define(
        self: &Arc<Self>,
        id: &str,
        table_id: &str,
        def: D,
        fire: Fire<D, C>,
    ) -> Defined<D::Event> {
        let store = &self.store;
        let _writers = store.lock();
        let table_id = Text::from(table_id);
        let known = {
            let state = self.state.lock();
            let old = state.defs.get(id).filter(|e| e.def.exists());
            old.map_or_else(Vec::new, |e| e.def.known_rows())
        };
        let seen: HashSet<&str> = known.iter().map(String::as_str).collect();
        let others: Vec<String> = store
            .get_row_ids(&table_id)
            .into_iter()
            .filter(|row| !seen.contains(row.as_str()))
            .collect();
        let eval = def.evaluator(&table_id);
        let rows: Vec<_> = known
            .iter()
            .chain(&others)
            .map(|row| (row.clone(), eval.evaluate(store, row)))
            .collect();
        let mut state = self.state.lock();
        let generation = state.next_generation;
        state.next_generation += 1;
        let linked = Linked {
            table_id: table_id.clone(),
            generation,
            store_listeners: Vec::new(),
        };
        let entry = Entry { linked, def };
        let (is_new, old_listeners) = match state.defs.get_mut(id) {
            Some(slot) => {
                let old = std::mem::replace(slot, entry);
                let is_new = !old.def.exists();
                if !is_new {
                    slot.def.adopt(old.def);
                }
                (is_new, old.linked.store_listeners)
            }
            None => {
                state.defs.insert(Text::from(id), entry);
                (true, Vec::new())
            }
        };
        let Defs { defs, extra, .. } = &mut *state;
        let entry = defs.get_mut(id).expect("set above");
        for (row, value) in rows {
            entry.def.record(&row, value);
        }
        let (events, panic) = entry.def.on_changed(id, true, extra);
        for listener in old_listeners {
            store.del_listener(listener);
        }
        let (for_row, for_table) = (Text::from(id), Text::from(id));
        entry.linked.store_listeners = link_table(
            store,
            &table_id,
            &self.this,
            move |view, row| view.process_row(&for_row, generation, row),
            move |view| view.process_table(&for_table, generation, fire),
        );
        Defined {
            is_new,
            events,
            panic,
        }
    }

    /// The store's row listener: evaluates the row (no lock held), then records it.
    fn process_row(self: &Arc<Self>, id: &str, generation: u64, row_id: &str) {
        let eval = {
            let mut state = self.state.lock();
            let Some(entry) = state.live_mut(id, generation) else {
                return;
            };
            entry.def.evaluator(&entry.linked.table_id)
        };
        let row = eval.evaluate(&self.store, row_id);
        if let Some(entry) = self.state.lock().live_mut(id, generation) {
            entry.def.record(row_id, row);
        }
    }

    /// The store's table listener: applies the transaction's rows, then calls the listeners.
    fn process_table(self: &Arc<Self>, id: &str, generation: u64, fire: Fire<D, C>) {
        let (events, panic) = {
            let mut state = self.state.lock();
            let Defs { defs, extra, .. } = &mut *state;
            let Some(entry) = defs.get_mut(id) else {
                return;
            };
            if entry.linked.generation != generation {
                return;
            }
            entry.def.on_changed(id, false, extra)
        };
        if let Some(panic) = panic {
            keep(self, panic);
        }
        fire(self, &events);
    }

    /// Removes definition `id` and its store listeners.
    pub(crate) fn undefine(&self, id: &str) -> Option<D> {
        let _writers = self.store.lock();
        let entry = self.state.lock().defs.remove(id)?;
        for listener in entry.linked.store_listeners {
            self.store.del_listener(listener);
        }
        Some(entry.def)
    }

    /// Removes every definition, calling `removed` after each (TinyBase's `destroy`).
    pub(crate) fn destroy(&self, mut removed: impl FnMut(&str)) {
        let ids = self.state.lock().ids();
        for id in ids {
            self.undefine(&id);
            removed(&id);
        }
    }

    /// Reads definition `id`.
    pub(crate) fn with_def<R>(&self, id: &str, f: impl FnOnce(&D) -> R) -> Option<R> {
        self.state.lock().defs.get(id).map(|e| f(&e.def))
    }

    /// The table definition `id` is over.
    pub(crate) fn table_id(&self, id: &str) -> Option<String> {
        let state = self.state.lock();
        state.defs.get(id).map(|e| e.linked.table_id.to_string())
    }
}

/// The parts every definable view handle (`Indexes`, `Relationships`, `Metrics`) has alike:
/// the handle `$handle { core: Arc<Core> }` over `type Core = ViewCore<Defs<$def>, Callback>`,
/// `new`, `get_store`, `Debug` (listing the definition ids), and `fire_events`, which a store
/// listener uses to call the view's listeners through the handle's `fire(&self, &[Event])`.
/// The doc attributes after `$ids;` are `new`'s example (showing a definition of the handle's
/// own kind).
macro_rules! definable_handle {
    ($(#[$meta:meta])* $handle:ident, $def:ty, $ids:ident; $(#[$new_meta:meta])*) => {
        type Core = ViewCore<Defs<$def>, Callback>;

        $(#[$meta])*
        #[derive(Clone)]
        pub struct $handle {
            core: Arc<Core>,
        }

        impl std::fmt::Debug for $handle {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($handle))
                    .field("ids", &self.$ids())
                    .finish_non_exhaustive()
            }
        }

        impl $handle {
            #[doc = concat!("The `", stringify!($handle), "` of `store`. Memoized as TinyBase's")]
            /// factory is: while any handle to the store's object is alive (a clone, or one
            /// returned by an earlier call), this returns it, definitions and listeners
            /// included; once all are dropped, a new one.
            ///
            $(#[$new_meta])*
            pub fn new(store: &Store) -> $handle {
                let (core, _) = store
                    .memo()
                    .get_or_attach(|| ViewCore::new(store, Defs::default()));
                $handle { core }
            }

            /// The store this object reads.
            ///
            /// ```
            /// use tinystore_core::{Cell, Store};
            #[doc = concat!("use tinystore_core::views::", stringify!($handle), ";")]
            /// let store = Store::new();
            #[doc = concat!("let view = ", stringify!($handle), "::new(&store);")]
            /// view.get_store().set_value("open", true);
            /// assert_eq!(store.get_value("open"), Some(Cell::from(true)));
            /// ```
            pub fn get_store(&self) -> Store {
                self.core.store.clone()
            }
        }

        /// Calls the listeners of a store-driven update.
        fn fire_events(core: &Arc<Core>, events: &[Event]) {
            $handle { core: core.clone() }.fire(events);
        }
    };
}

pub(crate) use definable_handle;
