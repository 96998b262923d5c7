//! The store's interner: cell ids (and ids a [`ChangeHook`](super::ChangeHook) interns) as
//! `u32`s, so rows store a `u32` per cell instead of the id string.

use crate::ordmap::OrdMap;
use crate::types::Text;

/// The reference-count bit that pins an id.
const PINNED: u32 = 1 << 31;

/// Interned ids.
///
/// Entries are reference counted by the cells that use them and freed only when a transaction
/// ends, so that the transaction log and undo journal can hold plain indices. A pinned entry
/// (an id a [`ChangeHook`](super::ChangeHook) keeps) is never freed.
#[derive(Default)]
pub(crate) struct Interner {
    names: Vec<Text>,
    refs: Vec<u32>,
    lookup: OrdMap<Text, u32>,
    free: Vec<u32>,
    maybe_unused: Vec<u32>,
}

impl Interner {
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        self.lookup.get(name).copied()
    }

    #[inline]
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.get(name) {
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.names[id as usize] = name.into();
                self.refs[id as usize] = 0;
                id
            }
            None => {
                self.names.push(name.into());
                self.refs.push(0);
                (self.names.len() - 1) as u32
            }
        };
        self.lookup.insert(name.into(), id);
        // A freshly interned id that ends up unused (e.g. the write was rejected) is collected.
        self.maybe_unused.push(id);
        id
    }

    #[inline]
    pub(crate) fn name(&self, id: u32) -> &Text {
        &self.names[id as usize]
    }

    /// Keeps an id for the store's life, whatever cells use it.
    #[inline]
    pub(crate) fn pin(&mut self, id: u32) {
        self.refs[id as usize] |= PINNED;
    }

    /// One more than the largest id handed out (freed ids resolve to `""`).
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    #[inline]
    pub(super) fn retain(&mut self, id: u32) {
        self.refs[id as usize] += 1;
    }

    #[inline]
    pub(super) fn release(&mut self, id: u32) {
        let r = &mut self.refs[id as usize];
        *r -= 1;
        if *r == 0 {
            self.maybe_unused.push(id);
        }
    }

    /// Frees ids no cell uses any more. Only called between transactions.
    #[inline]
    pub(crate) fn collect(&mut self) {
        if !self.maybe_unused.is_empty() {
            self.collect_unused();
        }
    }

    fn collect_unused(&mut self) {
        for id in std::mem::take(&mut self.maybe_unused) {
            if self.refs[id as usize] == 0 && !self.names[id as usize].is_empty() {
                let name = std::mem::take(&mut self.names[id as usize]);
                if self.lookup.remove(name.as_str()).is_some() {
                    self.free.push(id);
                }
            }
        }
    }
}
