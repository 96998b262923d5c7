//! The view factories are memoized per store, as TinyBase's `create…` functions are.

use tinystore_core::views::queries::create_queries;
use tinystore_core::views::{
    Aggregate, Indexes, Source, create_checkpoints, create_indexes, create_metrics,
    create_relationships,
};
use tinystore_core::{MergeableStore, Store};

fn by_species(indexes: &Indexes) {
    indexes.set_index_definition(
        "bySpecies",
        "pets",
        Some(Source::cell("species")),
        None,
        None,
        None,
    );
}

#[test]
fn a_second_create_returns_the_same_object_with_its_definitions() {
    let store = Store::new();
    store.set_cell("pets", "fido", "species", "dog");
    store.set_cell("pets", "fido", "price", 5);

    by_species(&create_indexes(&store));
    // The first handle was a temporary: it is gone, so this is a new Indexes.
    assert!(create_indexes(&store).get_index_ids().is_empty());

    let indexes = create_indexes(&store);
    by_species(&indexes);
    assert_eq!(create_indexes(&store).get_slice_ids("bySpecies"), ["dog"]);

    let metrics = create_metrics(&store);
    metrics.set_metric_definition("total", "pets", Aggregate::Sum, Some(Source::cell("price")));
    assert_eq!(create_metrics(&store).get_metric("total"), Some(5.0));

    let relationships = create_relationships(&store);
    relationships.set_relationship_definition(
        "petSpecies",
        "pets",
        "species",
        Source::cell("species"),
    );
    assert_eq!(
        create_relationships(&store).get_relationship_ids(),
        ["petSpecies"]
    );

    let queries = create_queries(&store);
    queries
        .set_query_definition("q", "pets", |b| {
            b.select("species");
        })
        .unwrap();
    assert_eq!(create_queries(&store).get_query_ids(), ["q"]);

    // Another store has its own objects.
    let other = Store::new();
    assert!(create_indexes(&other).get_index_ids().is_empty());
    assert!(create_queries(&other).get_query_ids().is_empty());

    // A MergeableStore's views are its store's.
    let mergeable = MergeableStore::new(Some("m"));
    let indexes = create_indexes(&mergeable);
    indexes.set_index_definition("all", "t", None, None, None, None);
    assert_eq!(create_indexes(&mergeable).get_index_ids(), ["all"]);
}

#[test]
fn creating_destroyed_checkpoints_again_listens_to_the_store_again() {
    let store = Store::new();
    let checkpoints = create_checkpoints(&store);
    store.set_cell("t", "r", "c", 1);
    assert_eq!(checkpoints.add_checkpoint("one"), "1");
    checkpoints.destroy();
    store.set_cell("t", "r", "c", 2);
    // Destroyed: the change is not recorded, so there is nothing to checkpoint.
    assert_eq!(checkpoints.add_checkpoint("two"), "1");

    let again = create_checkpoints(&store);
    assert_eq!(again.get_checkpoint_ids().1.as_deref(), Some("1"));
    store.set_cell("t", "r", "c", 3);
    assert_eq!(again.add_checkpoint("three"), "2");
    again.go_backward();
    assert_eq!(store.get_cell("t", "r", "c"), Some(2.into()));
}
