//! Threading: a store is Send + Sync; listeners and locks across threads.

use super::*;

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Store>();
}

#[test]
fn concurrent_writers_all_land() {
    let store = Store::new();
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c2 = counter.clone();
    store.add_cell_listener(
        None,
        None,
        None,
        move |_, _, _, _, _, _| {
            c2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        },
        false,
    );
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                for j in 0..100 {
                    store.set_cell("t", &format!("r{i}"), &format!("c{j}"), j);
                    if j % 10 == 0 {
                        store.transaction(|s| {
                            s.set_value(&format!("v{i}"), j);
                            s.set_cell("shared", "row", &format!("t{i}"), j);
                        });
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.get_row_count("t"), 8);
    for i in 0..8 {
        assert_eq!(store.get_cell_ids("t", &format!("r{i}")).len(), 100);
        assert_eq!(
            store.get_cell("t", &format!("r{i}"), "c99"),
            Some(Cell::from(99))
        );
        assert_eq!(store.get_value(&format!("v{i}")), Some(Cell::from(90)));
        assert_eq!(
            store.get_cell("shared", "row", &format!("t{i}")),
            Some(Cell::from(90))
        );
    }
    // 800 new cells, plus 8 shared cells set 10 times each (each a change).
    assert_eq!(counter.load(std::sync::atomic::Ordering::SeqCst), 800 + 80);
}
