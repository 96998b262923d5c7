//! One object of each kind per store, for TinyBase's memoized `create…` functions.
//!
//! TinyBase's `createIndexes(store)` (and the other view factories) return the same object for
//! the same store. The store keeps only a weak reference, by type, so it knows nothing of what
//! is attached to it and an object no handle holds any more is freed (the object holds the
//! store, so a strong reference here would keep both alive forever).

use std::any::{Any, TypeId};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

type Slot = (TypeId, Weak<dyn Any + Send + Sync>);

/// The store's attached objects, by type.
#[derive(Default)]
pub(crate) struct Memo {
    slots: Mutex<Vec<Slot>>,
}

/// The live `T` among `slots` (dead slots are dropped on the way).
fn live<T: Any + Send + Sync>(slots: &mut Vec<Slot>) -> Option<Arc<T>> {
    slots.retain(|(_, weak)| weak.strong_count() > 0);
    let (_, weak) = slots.iter().find(|(id, _)| *id == TypeId::of::<T>())?;
    weak.upgrade()?.downcast::<T>().ok()
}

impl Memo {
    /// The live `T` attached to the store, or a new one from `make`, attached; and whether it
    /// is new. `make` runs without the memo's lock held (it may read or listen to the store);
    /// if another thread attached a `T` meanwhile, that one wins and the new one is dropped.
    pub(crate) fn get_or_attach<T: Any + Send + Sync>(
        &self,
        make: impl FnOnce() -> Arc<T>,
    ) -> (Arc<T>, bool) {
        if let Some(found) = live::<T>(&mut self.slots.lock()) {
            return (found, false);
        }
        let made = make();
        let mut slots = self.slots.lock();
        if let Some(existing) = live::<T>(&mut slots) {
            return (existing, false);
        }
        let weak: Weak<dyn Any + Send + Sync> = Arc::downgrade(&made) as Weak<_>;
        slots.push((TypeId::of::<T>(), weak));
        (made, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_live_object_per_type_and_a_new_one_after_the_last_handle_is_dropped() {
        let memo = Memo::default();
        let (a, made) = memo.get_or_attach(|| Arc::new(1u32));
        assert!(made);
        let (b, made) = memo.get_or_attach(|| Arc::new(2u32));
        assert!(!made);
        assert!(Arc::ptr_eq(&a, &b));
        let (s, made) = memo.get_or_attach(|| Arc::new(String::from("x")));
        assert!(made && *s == "x");
        drop((a, b));
        let (c, made) = memo.get_or_attach(|| Arc::new(3u32));
        assert!(made && *c == 3);
        assert_eq!(memo.slots.lock().len(), 2);
    }
}
