//! The Rust examples of `examples/rust/` run and print what their READMEs promise.

#[path = "../../examples/rust/todo_views.rs"]
mod todo_views;

#[test]
fn todo_views_groups_by_state_sorted_by_date() {
    let lines = todo_views::run();
    assert_eq!(
        lines,
        [
            "todo: call mum (2026-12-01), book flights (2026-12-02), buy milk (2026-12-03)",
            "doing: file taxes (2026-12-10)",
            "done: fix bike (2026-11-28)",
            "counts: todo 3, doing 1, done 1",
            "-- t3 done",
            "todo: book flights (2026-12-02), buy milk (2026-12-03)",
            "doing: file taxes (2026-12-10)",
            "done: fix bike (2026-11-28), call mum (2026-12-01)",
            "counts: todo 2, doing 1, done 2",
            "done slice changed 1 time(s)",
        ]
    );
}
