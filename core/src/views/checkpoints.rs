//! `Checkpoints` (TinyBase's `createCheckpoints`, spec store.md §9): the net cell and value
//! changes between labelled checkpoints, with undo (`go_backward`) and redo (`go_forward`).

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use indexmap::IndexMap;

use crate::ordmap::IdHasher;
use crate::store::{ListenerId, Store};
use crate::types::{Cell, Text};

use super::rows::{catch, fire};
use super::view::{ViewCore, ViewState};

/// `(old, new)` of a cell or value.
type OldNew = (Option<Cell>, Option<Cell>);
/// An insertion-ordered map with the fast id hasher.
type Map<K, V> = IndexMap<K, V, IdHasher>;
type CellsDelta = Map<Text, Map<Text, Map<Text, OldNew>>>;
type ValuesDelta = Map<Text, OldNew>;

/// `(backward ids, current id, forward ids)`; the current id is `None` after a change that
/// no checkpoint has recorded yet.
pub type CheckpointIds = (Vec<String>, Option<String>, Vec<String>);

/// Listener counts of a [`Checkpoints`] (the fields of TinyBase's `getListenerStats`).
///
/// ```
/// # use tinystore_core::Store;
/// use tinystore_core::views::{Checkpoints, CheckpointsListenerStats};
/// let checkpoints = Checkpoints::new(&Store::new());
/// checkpoints.add_checkpoint_listener(None, |_, _| {});
/// let stats = checkpoints.get_listener_stats();
/// assert_eq!(stats, CheckpointsListenerStats { checkpoint_ids: 0, checkpoint: 1 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointsListenerStats {
    /// Checkpoint-ids listeners.
    pub checkpoint_ids: usize,
    /// Checkpoint listeners.
    pub checkpoint: usize,
}

const CHECKPOINT_IDS: u8 = 0;
const CHECKPOINT: u8 = 1;

type IdsFn = Box<dyn FnMut(&Checkpoints) + Send>;
type CheckpointFn = Box<dyn FnMut(&Checkpoints, &str) + Send>;

enum Callback {
    Ids(IdsFn),
    Checkpoint(CheckpointFn),
}

enum Event {
    Ids,
    Checkpoint(Text),
}

struct State {
    size: usize,
    current: Option<Text>,
    cells_delta: CellsDelta,
    values_delta: ValuesDelta,
    listening: bool,
    next_id: u64,
    changed: bool,
    /// Shared, so that going to a checkpoint reads its delta without copying it.
    deltas: Map<Text, Arc<(CellsDelta, ValuesDelta)>>,
    labels: Map<Text, String>,
    backward: Vec<Text>,
    forward: VecDeque<Text>,
    store_listeners: Vec<ListenerId>,
}

impl ViewState for State {
    fn take_store_listeners(&mut self) -> Vec<ListenerId> {
        std::mem::take(&mut self.store_listeners)
    }
}

type Core = ViewCore<State, Callback>;

/// Undo and redo over a store's changes, between labelled checkpoints (TinyBase's
/// `Checkpoints`). Checkpoint `"0"` is made at creation.
///
/// ```
/// use tinystore_core::{Cell, Store};
/// use tinystore_core::views::Checkpoints;
///
/// let store = Store::new();
/// store.set_cell("pets", "fido", "sold", false);
/// let checkpoints = Checkpoints::new(&store);
/// store.set_cell("pets", "fido", "sold", true);
/// assert_eq!(checkpoints.add_checkpoint("sale"), "1");
/// checkpoints.go_backward();
/// assert_eq!(store.get_cell("pets", "fido", "sold"), Some(Cell::from(false)));
/// assert_eq!(checkpoints.get_checkpoint_ids(), (vec![], Some("0".into()), vec!["1".into()]));
/// ```
#[derive(Clone)]
pub struct Checkpoints {
    core: Arc<Core>,
}

/// The [`Checkpoints`] of `store` (TinyBase's `createCheckpoints`, memoized per store as
/// [`Checkpoints::new`] says).
///
/// ```
/// let store = tinystore_core::Store::new();
/// let checkpoints = tinystore_core::views::create_checkpoints(&store);
/// assert_eq!(checkpoints.get_checkpoint_ids(), (vec![], Some("0".into()), vec![]));
/// ```
pub fn create_checkpoints(store: &Store) -> Checkpoints {
    Checkpoints::new(store)
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoints")
            .field("ids", &self.get_checkpoint_ids())
            .finish_non_exhaustive()
    }
}

impl Checkpoints {
    /// The `Checkpoints` of `store`. Memoized as TinyBase's factory is: while any handle to the
    /// store's object is alive this returns it (listening to the store again if it was
    /// destroyed); otherwise a new one, with checkpoint `"0"`.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let first = Checkpoints::new(&store);
    /// store.set_value("open", true);
    /// first.add_checkpoint("opened");
    /// // A second call returns the same object, with its checkpoints.
    /// let again = Checkpoints::new(&store);
    /// assert_eq!(again.get_checkpoint("1").as_deref(), Some("opened"));
    /// ```
    pub fn new(store: &Store) -> Checkpoints {
        let (core, made) = store.memo().get_or_attach(|| Self::fresh(store).core);
        let checkpoints = Checkpoints { core };
        // The store's lock is taken before the state's everywhere (store listeners lock the
        // state), so the store is listened to with the state unlocked.
        if !made && checkpoints.core.state.lock().store_listeners.is_empty() {
            let ids = listen(store, &checkpoints.core.this);
            let mut state = checkpoints.core.state.lock();
            if state.store_listeners.is_empty() {
                state.store_listeners = ids;
            } else {
                drop(state);
                for id in ids {
                    store.del_listener(id);
                }
            }
        }
        checkpoints
    }

    /// A new `Checkpoints` over `store`, listening to it.
    fn fresh(store: &Store) -> Checkpoints {
        let state = State {
            size: 100,
            current: None,
            cells_delta: Map::default(),
            values_delta: Map::default(),
            listening: true,
            next_id: 0,
            changed: false,
            deltas: Map::default(),
            labels: Map::default(),
            backward: Vec::new(),
            forward: VecDeque::new(),
            store_listeners: Vec::new(),
        };
        let checkpoints = Checkpoints {
            core: ViewCore::new(store, state),
        };
        checkpoints.clear();
        let ids = listen(store, &checkpoints.core.this);
        checkpoints.core.state.lock().store_listeners = ids;
        checkpoints
    }

    /// The store this object follows.
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store};
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// checkpoints.get_store().set_value("open", true);
    /// assert_eq!(store.get_value("open"), Some(Cell::from(true)));
    /// ```
    pub fn get_store(&self) -> Store {
        self.core.store.clone()
    }

    /// Records the changes since the current checkpoint as a new checkpoint with `label`, and
    /// returns its id; without changes, returns the current id and changes nothing.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// assert_eq!(checkpoints.add_checkpoint("nothing yet"), "0");
    /// store.set_value("open", true);
    /// assert_eq!(checkpoints.add_checkpoint("opened"), "1");
    /// ```
    pub fn add_checkpoint(&self, label: &str) -> String {
        let mut events = Vec::new();
        let id = {
            let mut state = self.core.state.lock();
            let id = state.add_checkpoint(label, &mut events);
            state.ids_if_changed(&mut events);
            id
        };
        self.fire(&events);
        id.to_string()
    }

    /// Sets a checkpoint's label (unknown ids: no-op).
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let checkpoints = Checkpoints::new(&Store::new());
    /// checkpoints.set_checkpoint("0", "initial");
    /// assert_eq!(checkpoints.get_checkpoint("0").as_deref(), Some("initial"));
    /// ```
    pub fn set_checkpoint(&self, checkpoint_id: &str, label: &str) -> &Self {
        let mut events = Vec::new();
        self.core
            .state
            .lock()
            .set_label(checkpoint_id, label, &mut events);
        self.fire(&events);
        self
    }

    /// `(backward ids, current id, forward ids)`.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// store.set_value("open", true);
    /// // A change not yet recorded leaves no current checkpoint.
    /// assert_eq!(checkpoints.get_checkpoint_ids(), (vec!["0".into()], None, vec![]));
    /// checkpoints.add_checkpoint("opened");
    /// assert_eq!(checkpoints.get_checkpoint_ids(), (vec!["0".into()], Some("1".into()), vec![]));
    /// ```
    pub fn get_checkpoint_ids(&self) -> CheckpointIds {
        let state = self.core.state.lock();
        let ids = |v: &mut dyn Iterator<Item = &Text>| v.map(|t| t.to_string()).collect();
        (
            ids(&mut state.backward.iter()),
            state.current.as_ref().map(|c| c.to_string()),
            ids(&mut state.forward.iter()),
        )
    }

    /// Calls `f(checkpoint_id, label)` for each checkpoint.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// store.set_value("open", true);
    /// checkpoints.add_checkpoint("opened");
    /// let mut seen = Vec::new();
    /// checkpoints.for_each_checkpoint(|id, label| seen.push(format!("{id}:{label}")));
    /// assert_eq!(seen, ["0:", "1:opened"]);
    /// ```
    pub fn for_each_checkpoint(&self, mut f: impl FnMut(&str, &str)) {
        let labels: Vec<(Text, String)> = {
            let state = self.core.state.lock();
            state
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        for (id, label) in labels {
            f(&id, &label);
        }
    }

    /// Whether a checkpoint exists.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let checkpoints = Checkpoints::new(&Store::new());
    /// assert!(checkpoints.has_checkpoint("0"));
    /// assert!(!checkpoints.has_checkpoint("1"));
    /// ```
    pub fn has_checkpoint(&self, checkpoint_id: &str) -> bool {
        self.core.state.lock().deltas.contains_key(checkpoint_id)
    }

    /// A checkpoint's label.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// store.set_value("open", true);
    /// let id = checkpoints.add_checkpoint("opened");
    /// assert_eq!(checkpoints.get_checkpoint(&id).as_deref(), Some("opened"));
    /// assert_eq!(checkpoints.get_checkpoint("9"), None);
    /// ```
    pub fn get_checkpoint(&self, checkpoint_id: &str) -> Option<String> {
        self.core.state.lock().labels.get(checkpoint_id).cloned()
    }

    /// Undoes back to the previous checkpoint (recording uncommitted changes as a checkpoint
    /// first, so they can be redone).
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store};
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// store.set_value("open", true);
    /// checkpoints.go_backward();
    /// assert_eq!(store.get_value("open"), None);
    /// // The unrecorded change became checkpoint "1", which can be redone.
    /// assert_eq!(checkpoints.get_checkpoint_ids(), (vec![], Some("0".into()), vec!["1".into()]));
    /// ```
    pub fn go_backward(&self) -> &Self {
        let _writers = self.core.store.lock();
        self.step_backward();
        self.fire_ids_if_changed();
        self
    }

    /// Redoes to the next checkpoint.
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store};
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// store.set_value("open", true);
    /// checkpoints.add_checkpoint("opened");
    /// checkpoints.go_backward().go_forward();
    /// assert_eq!(store.get_value("open"), Some(Cell::from(true)));
    /// ```
    pub fn go_forward(&self) -> &Self {
        let _writers = self.core.store.lock();
        self.step_forward();
        self.fire_ids_if_changed();
        self
    }

    /// Goes backward or forward until `checkpoint_id` is current (unknown ids: no-op).
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store};
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// for n in 1..=3 {
    ///     store.set_value("n", n);
    ///     checkpoints.add_checkpoint("");
    /// }
    /// checkpoints.go_to("1");
    /// assert_eq!(store.get_value("n"), Some(Cell::from(1)));
    /// assert_eq!(checkpoints.get_checkpoint_ids().2, ["2", "3"]);
    /// ```
    pub fn go_to(&self, checkpoint_id: &str) -> &Self {
        let _writers = self.core.store.lock();
        let (back, forth) = {
            let state = self.core.state.lock();
            (
                state.backward.iter().any(|b| b == checkpoint_id),
                state.forward.iter().any(|f| f == checkpoint_id),
            )
        };
        if back || forth {
            while self.core.state.lock().current.as_deref() != Some(checkpoint_id) {
                let moved = if back {
                    self.step_backward()
                } else {
                    self.step_forward()
                };
                if !moved {
                    break;
                }
            }
        }
        self.fire_ids_if_changed();
        self
    }

    /// Forgets every checkpoint and starts again at `"0"` (which records any change not yet
    /// in a checkpoint).
    ///
    /// ```
    /// # use tinystore_core::{Cell, Store};
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// store.set_value("open", true);
    /// checkpoints.add_checkpoint("opened");
    /// checkpoints.clear();
    /// assert_eq!(checkpoints.get_checkpoint_ids(), (vec![], Some("0".into()), vec![]));
    /// // The store keeps its data: only the history is gone.
    /// assert_eq!(store.get_value("open"), Some(Cell::from(true)));
    /// ```
    pub fn clear(&self) -> &Self {
        let mut events = Vec::new();
        {
            let mut state = self.core.state.lock();
            let backward = std::mem::take(&mut state.backward);
            state.clear_ids(backward, &mut events);
            let forward: Vec<Text> = std::mem::take(&mut state.forward).into();
            state.clear_ids(forward, &mut events);
            if let Some(current) = state.current.take() {
                state.clear_id(current, &mut events);
            }
            state.next_id = 0;
        }
        // TinyBase calls the listeners of the forgotten checkpoints before it makes "0".
        self.fire(&std::mem::take(&mut events));
        {
            let mut state = self.core.state.lock();
            state.add_checkpoint("", &mut events);
            state.ids_if_changed(&mut events);
        }
        self.fire(&events);
        self
    }

    /// Forgets the checkpoints ahead of the current one.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// store.set_value("open", true);
    /// checkpoints.add_checkpoint("opened");
    /// checkpoints.go_backward().clear_forward();
    /// assert_eq!(checkpoints.get_checkpoint_ids(), (vec![], Some("0".into()), vec![]));
    /// assert!(!checkpoints.has_checkpoint("1"));
    /// ```
    pub fn clear_forward(&self) -> &Self {
        let mut events = Vec::new();
        {
            let mut state = self.core.state.lock();
            if !state.forward.is_empty() {
                let forward: Vec<Text> = std::mem::take(&mut state.forward).into();
                state.clear_ids(forward, &mut events);
                events.push(Event::Ids);
            }
        }
        self.fire(&events);
        self
    }

    /// How many backward checkpoints are kept (default 100); older ones are forgotten now and
    /// as new ones are added.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// for n in 1..=3 {
    ///     store.set_value("n", n);
    ///     checkpoints.add_checkpoint("");
    /// }
    /// checkpoints.set_size(1);
    /// assert_eq!(checkpoints.get_checkpoint_ids().0, ["2"]);
    /// assert!(!checkpoints.has_checkpoint("0"));
    /// ```
    pub fn set_size(&self, size: usize) -> &Self {
        let mut events = Vec::new();
        {
            let mut state = self.core.state.lock();
            state.size = size;
            state.trim(&mut events);
        }
        self.fire(&events);
        self
    }

    /// Stops following the store.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// checkpoints.destroy();
    /// store.set_value("open", true);
    /// // The change went unnoticed: there is nothing to record.
    /// assert_eq!(checkpoints.add_checkpoint("opened"), "0");
    /// ```
    pub fn destroy(&self) {
        let ids = std::mem::take(&mut self.core.state.lock().store_listeners);
        for id in ids {
            self.core.store.del_listener(id);
        }
    }

    /// Listens to the checkpoint ids: `f(checkpoints)`.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let store = Store::new();
    /// let checkpoints = Checkpoints::new(&store);
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let counter = calls.clone();
    /// checkpoints.add_checkpoint_ids_listener(move |_| {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    /// });
    /// // Once as the change leaves no current checkpoint, once as "1" records it.
    /// store.set_value("open", true);
    /// checkpoints.add_checkpoint("opened");
    /// assert_eq!(calls.load(Ordering::SeqCst), 2);
    /// ```
    pub fn add_checkpoint_ids_listener(
        &self,
        f: impl FnMut(&Checkpoints) + Send + 'static,
    ) -> ListenerId {
        self.core
            .add_listener(CHECKPOINT_IDS, vec![], Callback::Ids(Box::new(f)))
    }

    /// Listens to a checkpoint's label and existence (`None`: any):
    /// `f(checkpoints, checkpoint_id)`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let checkpoints = Checkpoints::new(&Store::new());
    /// let labels = Arc::new(Mutex::new(Vec::new()));
    /// let seen = labels.clone();
    /// checkpoints.add_checkpoint_listener(Some("0"), move |cps, id| {
    ///     seen.lock().unwrap().push(cps.get_checkpoint(id));
    /// });
    /// checkpoints.set_checkpoint("0", "initial");
    /// assert_eq!(*labels.lock().unwrap(), [Some("initial".to_string())]);
    /// ```
    pub fn add_checkpoint_listener(
        &self,
        checkpoint_id: Option<&str>,
        f: impl FnMut(&Checkpoints, &str) + Send + 'static,
    ) -> ListenerId {
        let path = vec![checkpoint_id.map(Text::from)];
        self.core
            .add_listener(CHECKPOINT, path, Callback::Checkpoint(Box::new(f)))
    }

    /// Removes a listener (unknown ids are ignored).
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let checkpoints = Checkpoints::new(&Store::new());
    /// let id = checkpoints.add_checkpoint_ids_listener(|_| {});
    /// checkpoints.del_listener(id);
    /// assert_eq!(checkpoints.get_listener_stats().checkpoint_ids, 0);
    /// ```
    pub fn del_listener(&self, id: ListenerId) -> &Self {
        self.core.listeners.lock().remove(id);
        self
    }

    /// Listener counts.
    ///
    /// ```
    /// # use tinystore_core::Store;
    /// # use tinystore_core::views::Checkpoints;
    /// let checkpoints = Checkpoints::new(&Store::new());
    /// checkpoints.add_checkpoint_ids_listener(|_| {});
    /// assert_eq!(checkpoints.get_listener_stats().checkpoint_ids, 1);
    /// ```
    pub fn get_listener_stats(&self) -> CheckpointsListenerStats {
        CheckpointsListenerStats {
            checkpoint_ids: self.core.count(CHECKPOINT_IDS),
            checkpoint: self.core.count(CHECKPOINT),
        }
    }

    /// TinyBase's `goBackwardImpl`; whether it moved.
    fn step_backward(&self) -> bool {
        let mut events = Vec::new();
        let id = {
            let mut state = self.core.state.lock();
            if state.backward.is_empty() {
                return false;
            }
            let id = state.add_checkpoint("", &mut events);
            state.forward.push_front(id.clone());
            id
        };
        self.fire(&events);
        self.update_store(&id, false);
        let mut state = self.core.state.lock();
        state.current = state.backward.pop();
        state.changed = true;
        true
    }

    /// TinyBase's `goForwardImpl`; whether it moved.
    fn step_forward(&self) -> bool {
        let id = {
            let mut state = self.core.state.lock();
            let Some(next) = state.forward.pop_front() else {
                return false;
            };
            if let Some(current) = state.current.take() {
                state.backward.push(current);
            }
            state.current = Some(next.clone());
            next
        };
        self.update_store(&id, true);
        self.core.state.lock().changed = true;
        true
    }

    /// Writes a checkpoint's old (`forward == false`) or new values into the store, in one
    /// transaction, without recording it.
    fn update_store(&self, checkpoint_id: &str, forward: bool) {
        let delta = {
            let mut state = self.core.state.lock();
            state.listening = false;
            state.deltas.get(checkpoint_id).cloned()
        };
        struct Listen<'a>(&'a Core);
        impl Drop for Listen<'_> {
            fn drop(&mut self) {
                self.0.state.lock().listening = true;
            }
        }
        let _listen = Listen(&self.core);
        let Some(delta) = delta else {
            return;
        };
        let (cells, values) = &*delta;
        let pick = |old_new: &OldNew| {
            if forward {
                old_new.1.clone()
            } else {
                old_new.0.clone()
            }
        };
        self.core.store.transaction(|store| {
            for (table, rows) in cells {
                for (row, cells) in rows {
                    for (cell, old_new) in cells {
                        match pick(old_new) {
                            Some(value) => store.set_cell(table, row, cell, value),
                            None => store.del_cell(table, row, cell, true),
                        };
                    }
                }
            }
            for (value_id, old_new) in values {
                match pick(old_new) {
                    Some(value) => store.set_value(value_id, value),
                    None => store.del_value(value_id),
                };
            }
        });
    }

    fn fire_ids_if_changed(&self) {
        let mut events = Vec::new();
        self.core.state.lock().ids_if_changed(&mut events);
        self.fire(&events);
    }

    fn fire(&self, events: &[Event]) {
        let registry = &self.core.listeners;
        for event in events {
            match event {
                Event::Ids => fire(registry, CHECKPOINT_IDS, &[], |c| {
                    if let Callback::Ids(f) = c {
                        f(self);
                    }
                }),
                Event::Checkpoint(id) => fire(registry, CHECKPOINT, &[id], |c| {
                    if let Callback::Checkpoint(f) = c {
                        f(self, id);
                    }
                }),
            }
        }
    }
}

/// Subscribes to every cell and value change of the store (non-mutator).
fn listen(store: &Store, view: &Weak<Core>) -> Vec<ListenerId> {
    let cells = view.clone();
    let cell_listener = store.add_cell_listener(
        None,
        None,
        None,
        move |_, table, row, cell, new, old| {
            if let Some(inner) = cells.upgrade() {
                catch(&inner, || {
                    let events = inner.state.lock().cell_changed(table, row, cell, new, old);
                    Checkpoints {
                        core: inner.clone(),
                    }
                    .fire(&events);
                });
            }
        },
        false,
    );
    let values = view.clone();
    let value_listener = store.add_value_listener(
        None,
        move |_, value, new, old| {
            if let Some(inner) = values.upgrade() {
                catch(&inner, || {
                    let events = inner.state.lock().value_changed(value, new, old);
                    Checkpoints {
                        core: inner.clone(),
                    }
                    .fire(&events);
                });
            }
        },
        false,
    );
    vec![cell_listener, value_listener]
}

impl State {
    fn add_checkpoint(&mut self, label: &str, events: &mut Vec<Event>) -> Text {
        if let Some(current) = &self.current {
            return current.clone();
        }
        let id = Text::from(self.next_id.to_string());
        self.next_id += 1;
        let cells = std::mem::take(&mut self.cells_delta);
        let values = std::mem::take(&mut self.values_delta);
        self.deltas.insert(id.clone(), Arc::new((cells, values)));
        self.current = Some(id.clone());
        self.set_label(&id, label, events);
        self.changed = true;
        id
    }

    fn set_label(&mut self, id: &str, label: &str, events: &mut Vec<Event>) {
        if self.deltas.contains_key(id) && self.labels.get(id).map(String::as_str) != Some(label) {
            self.labels.insert(Text::from(id), label.to_string());
            events.push(Event::Checkpoint(Text::from(id)));
        }
    }

    fn clear_id(&mut self, id: Text, events: &mut Vec<Event>) {
        self.deltas.shift_remove(&id);
        self.labels.shift_remove(&id);
        events.push(Event::Checkpoint(id));
    }

    fn clear_ids(&mut self, ids: Vec<Text>, events: &mut Vec<Event>) {
        for id in ids {
            self.clear_id(id, events);
        }
    }

    fn trim(&mut self, events: &mut Vec<Event>) {
        let excess = self.backward.len().saturating_sub(self.size);
        let cleared: Vec<Text> = self.backward.drain(..excess).collect();
        self.clear_ids(cleared, events);
    }

    fn ids_if_changed(&mut self, events: &mut Vec<Event>) {
        if std::mem::take(&mut self.changed) {
            events.push(Event::Ids);
        }
    }

    /// The store changed: the current checkpoint (if any) moves backward and the forward ones
    /// are forgotten.
    fn store_changed(&mut self, events: &mut Vec<Event>) {
        if let Some(current) = self.current.take() {
            self.backward.push(current);
            self.trim(events);
            let forward: Vec<Text> = std::mem::take(&mut self.forward).into();
            self.clear_ids(forward, events);
            self.changed = true;
        }
    }

    /// The net changes cancelled out: back at the previous checkpoint.
    fn store_unchanged(&mut self) {
        self.current = self.backward.pop();
        self.changed = true;
    }

    fn cell_changed(
        &mut self,
        table: &str,
        row: &str,
        cell: &str,
        new: Option<&Cell>,
        old: Option<&Cell>,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        if !self.listening {
            return events;
        }
        self.store_changed(&mut events);
        let rows = self.cells_delta.entry(Text::from(table)).or_default();
        let cells = rows.entry(Text::from(row)).or_default();
        let old_new = cells
            .entry(Text::from(cell))
            .or_insert_with(|| (old.cloned(), None));
        old_new.1 = new.cloned();
        if old_new.0 == old_new.1 {
            cells.shift_remove(cell);
            if cells.is_empty() {
                rows.shift_remove(row);
                if rows.is_empty() {
                    self.cells_delta.shift_remove(table);
                    if self.cells_delta.is_empty() && self.values_delta.is_empty() {
                        self.store_unchanged();
                    }
                }
            }
        }
        self.ids_if_changed(&mut events);
        events
    }

    fn value_changed(&mut self, value: &str, new: Option<&Cell>, old: Option<&Cell>) -> Vec<Event> {
        let mut events = Vec::new();
        if !self.listening {
            return events;
        }
        self.store_changed(&mut events);
        let old_new = self
            .values_delta
            .entry(Text::from(value))
            .or_insert_with(|| (old.cloned(), None));
        old_new.1 = new.cloned();
        if old_new.0 == old_new.1 {
            self.values_delta.shift_remove(value);
            if self.values_delta.is_empty() && self.cells_delta.is_empty() {
                self.store_unchanged();
            }
        }
        self.ids_if_changed(&mut events);
        events
    }
}
