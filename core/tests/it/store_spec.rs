//! Spec tests (store.md §1–4).
