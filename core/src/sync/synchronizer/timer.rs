//! The one timer thread of every synchronizer's request deadlines.

use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::time::Instant;

use super::{Inner, lock};

/// One thread for every synchronizer's request deadlines.
pub(super) struct Timer {
    queue: Mutex<BinaryHeap<std::cmp::Reverse<(Instant, u64)>>>,
    targets: Mutex<HashMap<u64, Weak<Inner>>>,
    wake: Condvar,
    seq: AtomicU64,
}

pub(super) fn timer() -> &'static Timer {
    static TIMER: OnceLock<Timer> = OnceLock::new();
    static STARTED: OnceLock<()> = OnceLock::new();
    let t = TIMER.get_or_init(|| Timer {
        queue: Mutex::new(BinaryHeap::new()),
        targets: Mutex::new(HashMap::new()),
        wake: Condvar::new(),
        seq: AtomicU64::new(0),
    });
    STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("tinystore-sync-timer".into())
            .spawn(|| timer().run());
        // Without the timer thread, blocking waits still tick themselves (see `wait_for`).
        drop(spawned);
    });
    t
}

impl Timer {
    pub(super) fn schedule(&self, at: Instant, target: &Arc<Inner>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        lock(&self.targets).insert(seq, Arc::downgrade(target));
        lock(&self.queue).push(std::cmp::Reverse((at, seq)));
        self.wake.notify_one();
    }

    fn run(&self) {
        let mut queue = lock(&self.queue);
        loop {
            let now = Instant::now();
            match queue.peek().map(|r| r.0) {
                Some((at, seq)) if at <= now => {
                    queue.pop();
                    drop(queue);
                    let target = lock(&self.targets).remove(&seq).and_then(|w| w.upgrade());
                    if let Some(inner) = target {
                        inner.tick(Instant::now());
                    }
                    queue = lock(&self.queue);
                }
                Some((at, _)) => {
                    queue = self
                        .wake
                        .wait_timeout(queue, at - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                None => {
                    queue = self
                        .wake
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }
}
