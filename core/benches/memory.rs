//! W8 (`../shared/perf/WORKLOADS.md`): live heap bytes per cell after `fill`, counted by a
//! global allocator, plus the RSS delta. `cargo bench -p tinystore-core --bench memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use tinystore_core::{MergeableStore, Store};

mod workloads;
use workloads::*;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn measure<T>(name: &str, rows: u64, make: impl FnOnce() -> T, fill_it: impl FnOnce(&T)) {
    let (heap0, rss0) = (LIVE.load(Ordering::Relaxed), rss_bytes());
    let store = make();
    fill_it(&store);
    let (heap1, rss1) = (LIVE.load(Ordering::Relaxed), rss_bytes());
    let cells = (rows * 10) as f64;
    println!(
        "{name}: {:.1} B/cell live heap, {:.1} B/cell RSS delta ({} cells)",
        (heap1 - heap0) as f64 / cells,
        (rss1 - rss0) as f64 / cells,
        rows * 10
    );
    drop(store);
}

fn main() {
    // Criterion-style filter arguments are ignored; both measurements always run.
    measure(
        "W8m MergeableStore",
        10_000,
        || MergeableStore::new(None),
        |s| fill(s, 0, 10_000),
    );
    measure("W8s Store", 100_000, Store::new, |s| fill(s, 0, 100_000));
}
