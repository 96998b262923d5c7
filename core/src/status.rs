//! What persisters and synchronizers share: a [`Status`] (idle, loading, saving) with its
//! listeners, and the load/save counts ([`Stats`]).
//!
//! TinyBase's synchronizers are persisters whose storage is the other peers, so both report the
//! same status and stats. This module is that common part, so neither [`crate::persist`] nor
//! [`crate::sync`] has to reach into the other for it. Both re-export [`Status`] and [`Stats`]
//! (`persist::Status`, `persist::Stats`).

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A persister's or synchronizer's status (TinyBase's `Status`).
///
/// ```
/// use tinystore_core::persist::{CustomPersistence, Persister, Status};
/// use tinystore_core::Store;
/// let persister = Persister::new(&Store::new(), CustomPersistence::new(|| Ok(None), |_| Ok(())));
/// assert_eq!(persister.get_status(), Status::Idle);
/// // The discriminants are the numbers TinyBase's `Status` uses.
/// assert_eq!(Status::Saving as u8, 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Neither loading nor saving.
    Idle = 0,
    /// A load is running.
    Loading = 1,
    /// A save is running.
    Saving = 2,
}

/// `{loads, saves}`.
///
/// ```
/// use tinystore_core::persist::{CustomPersistence, Persister, Stats};
/// use tinystore_core::Store;
/// let persister = Persister::new(&Store::new(), CustomPersistence::new(|| Ok(None), |_| Ok(())));
/// persister.load(None)?.save()?.save()?;
/// assert_eq!(persister.get_stats(), Stats { loads: 1, saves: 2 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Completed or attempted loads.
    pub loads: u64,
    /// Completed or attempted saves.
    pub saves: u64,
}

type StatusListener = Arc<dyn Fn(Status) + Send + Sync>;

/// A status with its listeners (called on every change), and the load/save counts.
#[derive(Default)]
pub(crate) struct StatusCell {
    status: AtomicU8,
    listeners: Mutex<Vec<(u64, StatusListener)>>,
    next: AtomicU64,
    loads: AtomicU64,
    saves: AtomicU64,
}

impl StatusCell {
    /// The current status.
    pub(crate) fn get(&self) -> Status {
        match self.status.load(Ordering::SeqCst) {
            1 => Status::Loading,
            2 => Status::Saving,
            _ => Status::Idle,
        }
    }

    /// Sets the status; listeners run (outside the lock) only when it changed.
    pub(crate) fn set(&self, status: Status) {
        if self.status.swap(status as u8, Ordering::SeqCst) == status as u8 {
            return;
        }
        let listeners: Vec<StatusListener> = lock(&self.listeners)
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for l in listeners {
            l(status);
        }
    }

    /// Adds a listener; returns its id for [`StatusCell::del_listener`].
    pub(crate) fn add_listener(&self, listener: impl Fn(Status) + Send + Sync + 'static) -> u64 {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        lock(&self.listeners).push((id, Arc::new(listener)));
        id
    }

    /// Removes a listener (an unknown id is ignored).
    pub(crate) fn del_listener(&self, id: u64) {
        lock(&self.listeners).retain(|(i, _)| *i != id);
    }

    /// Counts a load (attempted or completed).
    pub(crate) fn count_load(&self) {
        self.loads.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts a save (attempted or completed).
    pub(crate) fn count_save(&self) {
        self.saves.fetch_add(1, Ordering::SeqCst);
    }

    /// The loads and saves counted so far.
    pub(crate) fn stats(&self) -> Stats {
        Stats {
            loads: self.loads.load(Ordering::SeqCst),
            saves: self.saves.load(Ordering::SeqCst),
        }
    }
}

/// Locks a mutex, recovering the data if a panicking listener poisoned it (the list is only
/// ever pushed to or filtered, so it stays consistent).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_see_changes_only_and_counts_add_up() {
        let cell = StatusCell::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let id = cell.add_listener(move |status| s.lock().unwrap().push(status));
        cell.set(Status::Loading);
        cell.set(Status::Loading);
        cell.set(Status::Idle);
        cell.del_listener(id);
        cell.set(Status::Saving);
        assert_eq!(*seen.lock().unwrap(), [Status::Loading, Status::Idle]);
        assert_eq!(cell.get(), Status::Saving);
        cell.count_load();
        cell.count_save();
        cell.count_save();
        assert_eq!(cell.stats(), Stats { loads: 1, saves: 2 });
    }
}
