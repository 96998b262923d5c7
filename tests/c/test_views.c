/* Derived views: indexes, relationships, metrics, queries (TinyQL through the builder) and
 * checkpoints over a store: cell-id and C-callback definitions, getters, listeners, failing
 * callbacks (TINYSTORE_STATUS_CALLBACK with the views consistent) and bad handles. */
#include "harness.h"

#include <math.h>

/* ------------------------------------------------------------------ helpers */

/* "a,b,c" of a list, which is freed. */
static const char *joined(tinystore_string_list_t *list) {
  static char buf[1024];
  size_t used = 0;
  buf[0] = 0;
  for (size_t i = 0; i < list->len; i++)
    used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? "," : "", list->items[i]);
  tinystore_string_list_free(list);
  return buf;
}

/* A string the library returned, compared and freed. */
#define CHECK_OWNED_STR(expr, expected) \
  do {                                  \
    char *s_ = (expr);                  \
    CHECK_STR(s_, expected);            \
    tinystore_string_free(s_);          \
  } while (0)

/* The events a listener saw, one line each. */
typedef struct event_log {
  char text[4096];
  int calls;
} event_log;

static void on_view_event(void *user_data, const tinystore_view_event_t *e) {
  event_log *log = user_data;
  char *out = log->text + strlen(log->text);
  size_t size = sizeof log->text - strlen(log->text), used = 0;
  log->calls++;
#define ADD(...) used += (size_t)snprintf(out + used, size - used, __VA_ARGS__)
  ADD("%d", (int)e->kind);
  if (e->id) ADD(" %s", e->id);
  if (e->sub_id) ADD(" /%s", e->sub_id);
  if (e->cell_id) ADD(" .%s", e->cell_id);
  if (e->flag) ADD(" flag");
  if (e->count) ADD(" n=%zu", e->count);
  if (e->new_cell.type == TINYSTORE_CELL_TYPE_NUMBER) ADD(" new=%g", e->new_cell.number);
  if (e->new_cell.type == TINYSTORE_CELL_TYPE_STRING) ADD(" new=%s", e->new_cell.string);
  if (e->old_cell.type == TINYSTORE_CELL_TYPE_NUMBER) ADD(" old=%g", e->old_cell.number);
  for (size_t i = 0; i < e->id_changes_len; i++)
    ADD(" %s%s", e->id_changes[i].change > 0 ? "+" : "-", e->id_changes[i].id);
  for (size_t i = 0; i < e->ids_len; i++) ADD(" #%s", e->ids[i]);
  if (e->json) ADD(" %s", e->json);
  ADD(";");
#undef ADD
}

static void log_reset(event_log *log) {
  log->text[0] = 0;
  log->calls = 0;
}

static void set_string(tinystore_store_t *s, const char *t, const char *r, const char *c, const char *v) {
  tinystore_cell_t cell = tinystore_cell_string(v);
  CHECK_OK(tinystore_store_set_cell(s, t, r, c, &cell));
}

static void set_number(tinystore_store_t *s, const char *t, const char *r, const char *c, double v) {
  tinystore_cell_t cell = tinystore_cell_number(v);
  CHECK_OK(tinystore_store_set_cell(s, t, r, c, &cell));
}

/* pets: fido (dog, 5, alice), rex (dog, 3, bob), felix (cat, 4, alice); owners: alice, bob. */
static tinystore_store_t *pet_store(void) {
  tinystore_store_t *store;
  CHECK_OK(tinystore_store_new(&store));
  CHECK_OK(tinystore_store_set_tables_json(
      store,
      "{\"pets\":{\"fido\":{\"species\":\"dog\",\"price\":5,\"owner\":\"alice\"},"
      "\"rex\":{\"species\":\"dog\",\"price\":3,\"owner\":\"bob\"},"
      "\"felix\":{\"species\":\"cat\",\"price\":4,\"owner\":\"alice\"}},"
      "\"owners\":{\"alice\":{\"name\":\"Alice\",\"city\":\"Paris\"},\"bob\":{\"name\":\"Bob\",\"city\":\"Oslo\"}}}"));
  return store;
}

static tinystore_status_t set_owner(tinystore_store_t *s, const char *row_id, const char *owner) {
  tinystore_cell_t cell = tinystore_cell_string(owner);
  return tinystore_store_set_cell(s, "pets", row_id, "owner", &cell);
}

static double read_number(const tinystore_row_reader_t *row, const char *cell_id) {
  tinystore_cell_t cell;
  CHECK_OK(tinystore_row_reader_get_cell(row, cell_id, &cell));
  double n = cell.type == TINYSTORE_CELL_TYPE_NUMBER ? cell.number : NAN;
  tinystore_cell_free(&cell);
  return n;
}

/* Copies a string cell of the row into buf ("" when not a string). */
static const char *read_string(const tinystore_row_reader_t *row, const char *cell_id, char *buf, size_t size) {
  tinystore_cell_t cell;
  CHECK_OK(tinystore_row_reader_get_cell(row, cell_id, &cell));
  snprintf(buf, size, "%s", cell.type == TINYSTORE_CELL_TYPE_STRING ? cell.string : "");
  tinystore_cell_free(&cell);
  return buf;
}

static bool set_result_number(tinystore_callback_result_t *result, double n) {
  tinystore_cell_t cell = tinystore_cell_number(n);
  return tinystore_callback_result_set_cell(result, &cell) == TINYSTORE_STATUS_OK;
}

static bool set_result_string(tinystore_callback_result_t *result, const char *s) {
  tinystore_cell_t cell = tinystore_cell_string(s);
  return tinystore_callback_result_set_cell(result, &cell) == TINYSTORE_STATUS_OK;
}

static bool set_result_bool(tinystore_callback_result_t *result, bool b) {
  tinystore_cell_t cell = tinystore_cell_boolean(b);
  return tinystore_callback_result_set_cell(result, &cell) == TINYSTORE_STATUS_OK;
}

/* ------------------------------------------------------------------ callbacks */

static int callback_calls;

/* Slices: the species and "all"; a row whose species is "bad" fails. */
static bool species_and_all(void *user_data, const tinystore_row_reader_t *row, const char *row_id,
                            tinystore_callback_result_t *result) {
  char buf[64];
  (void)user_data;
  (void)row_id;
  callback_calls++;
  read_string(row, "species", buf, sizeof buf);
  if (strcmp(buf, "bad") == 0) {
    CHECK_OK(tinystore_callback_set_error("species bad is refused"));
    return false;
  }
  return tinystore_callback_result_add_id(result, buf) == TINYSTORE_STATUS_OK &&
         tinystore_callback_result_add_id(result, "all") == TINYSTORE_STATUS_OK;
}

static bool negative_price(void *user_data, const tinystore_row_reader_t *row, const char *row_id,
                           tinystore_callback_result_t *result) {
  (void)user_data;
  (void)row_id;
  return set_result_number(result, -read_number(row, "price"));
}

/* Slice ids in reverse alphabetical order. */
static bool reverse_ids(void *user_data, const tinystore_cell_t *a, const tinystore_cell_t *b,
                        const char *slice_id, tinystore_callback_result_t *result) {
  (void)user_data;
  (void)slice_id;
  return set_result_number(result, -(double)strcmp(a->string, b->string));
}

/* Sort keys ascending (the keys are negated prices: so most expensive first). */
static bool ascending_keys(void *user_data, const tinystore_cell_t *a, const tinystore_cell_t *b,
                           const char *slice_id, tinystore_callback_result_t *result) {
  (void)user_data;
  CHECK(slice_id != NULL);
  return set_result_number(result, a->number - b->number);
}

static bool owner_of(void *user_data, const tinystore_row_reader_t *row, const char *row_id,
                     tinystore_callback_result_t *result) {
  char buf[64];
  (void)user_data;
  CHECK(row_id != NULL);
  read_string(row, "owner", buf, sizeof buf);
  if (strcmp(buf, "nobody") == 0) return false; /* fails without a message */
  return buf[0] == 0 || set_result_string(result, buf);
}

/* A custom aggregate: the maximum, with counted incremental hooks. */
static int hook_calls;

static bool max_of(void *user_data, const tinystore_cell_t *values, size_t len, tinystore_callback_result_t *result) {
  double max = -INFINITY;
  (void)user_data;
  if (len == 0) return true;
  for (size_t i = 0; i < len; i++)
    if (values[i].type == TINYSTORE_CELL_TYPE_NUMBER && values[i].number > max) max = values[i].number;
  return set_result_number(result, max);
}

static bool max_step(void *user_data, const tinystore_cell_t *current, const tinystore_cell_t *added,
                     const tinystore_cell_t *removed, size_t len, tinystore_callback_result_t *result) {
  (void)user_data;
  (void)len;
  hook_calls++;
  if (removed != NULL) return true; /* cannot remove from a max: recompute */
  return set_result_number(result, added->number > current->number ? added->number : current->number);
}

static bool failing_aggregate(void *user_data, const tinystore_cell_t *values, size_t len,
                              tinystore_callback_result_t *result) {
  (void)user_data;
  (void)values;
  (void)result;
  if (len > 3) {
    CHECK_OK(tinystore_callback_set_error("too many values"));
    return false;
  }
  return true;
}

/* ------------------------------------------------------------------ indexes */

TEST(indexes) {
  tinystore_store_t *store = pet_store();
  tinystore_indexes_t *indexes;
  tinystore_string_list_t ids;
  event_log log = {{0}, 0};
  tinystore_listener_id_t l[5];
  bool has;
  char *text;

  CHECK_OK(tinystore_indexes_new(store, &indexes));
  /* A cell-id definition, sorted by a cell. */
  CHECK_OK(tinystore_indexes_set_index_definition(indexes, "bySpecies", "pets", "species", NULL, "price", NULL,
                                                  NULL, NULL, NULL));
  CHECK_OK(tinystore_indexes_get_slice_ids(indexes, "bySpecies", &ids));
  CHECK_STR(joined(&ids), "dog,cat");
  CHECK_OK(tinystore_indexes_get_slice_row_ids(indexes, "bySpecies", "dog", &ids));
  CHECK_STR(joined(&ids), "rex,fido");
  CHECK_OK(tinystore_indexes_get_table_id(indexes, "bySpecies", &text));
  CHECK_OWNED_STR(text, "pets");
  CHECK_OK(tinystore_indexes_get_table_id(indexes, "nope", &text));
  CHECK(text == NULL);

  /* Listeners of every kind. */
  tinystore_view_event_kind_t kinds[5] = {TINYSTORE_VIEW_INDEX_IDS, TINYSTORE_VIEW_HAS_INDEX, TINYSTORE_VIEW_SLICE_IDS,
                                          TINYSTORE_VIEW_HAS_SLICE, TINYSTORE_VIEW_SLICE_ROW_IDS};
  for (int i = 0; i < 5; i++)
    CHECK_OK(tinystore_indexes_add_listener(indexes, kinds[i], NULL, NULL, on_view_event, &log, &l[i]));
  CHECK_OK(tinystore_indexes_get_listener_stats(indexes, &text));
  CHECK_OWNED_STR(text, "{\"sliceIds\":1,\"sliceRowIds\":1}");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT,
               tinystore_indexes_add_listener(indexes, TINYSTORE_VIEW_METRIC, NULL, NULL, on_view_event, &log, &l[0]));

  set_string(store, "pets", "tom", "species", "cow");
  CHECK_STR(log.text, "2 bySpecies;3 bySpecies /cow flag;4 bySpecies /cow;");

  /* The function form: callbacks for slice ids, sort keys and both sorters. */
  log_reset(&log);
  CHECK_OK(tinystore_indexes_set_index_definition(indexes, "fn", "pets", NULL, species_and_all, NULL, negative_price,
                                                  reverse_ids, ascending_keys, NULL));
  CHECK_OK(tinystore_indexes_get_slice_ids(indexes, "fn", &ids));
  CHECK_STR(joined(&ids), "dog,cow,cat,all");
  CHECK_OK(tinystore_indexes_get_slice_row_ids(indexes, "fn", "all", &ids));
  CHECK_STR(joined(&ids), "fido,felix,rex,tom");
  CHECK_STR(log.text, "0;2 fn;3 fn /dog flag;3 fn /all flag;3 fn /cat flag;3 fn /cow flag;4 fn /dog;4 fn /all;"
                     "4 fn /cat;4 fn /cow;1 fn flag;");
  CHECK_OK(tinystore_indexes_has_index(indexes, "fn", &has));
  CHECK(has);
  CHECK_OK(tinystore_indexes_has_slice(indexes, "fn", "cow", &has));
  CHECK(has);
  CHECK_OK(tinystore_indexes_get_index_ids(indexes, &ids));
  CHECK_STR(joined(&ids), "bySpecies,fn");

  for (int i = 0; i < 5; i++) CHECK_OK(tinystore_indexes_del_listener(indexes, l[i]));
  CHECK_OK(tinystore_indexes_del_index_definition(indexes, "fn"));
  CHECK_OK(tinystore_indexes_has_index(indexes, "fn", &has));
  CHECK(!has);
  CHECK_OK(tinystore_indexes_get_listener_stats(indexes, &text));
  CHECK_OWNED_STR(text, "{\"sliceIds\":0,\"sliceRowIds\":0}");
  /* Freeing calls no listener (TinyBase's destroy would call the index-ids listeners). */
  log_reset(&log);
  CHECK_OK(tinystore_indexes_add_listener(indexes, TINYSTORE_VIEW_INDEX_IDS, NULL, NULL, on_view_event, &log, &l[0]));
  CHECK_OK(tinystore_indexes_free(indexes));
  CHECK(log.calls == 0);
  set_string(store, "pets", "rex", "species", "cow");
  CHECK(log.calls == 0);
  CHECK_OK(tinystore_store_free(store));
}

/* ------------------------------------------------------------------ relationships */

TEST(relationships) {
  tinystore_store_t *store = pet_store();
  tinystore_relationships_t *rels;
  tinystore_string_list_t ids;
  event_log log = {{0}, 0};
  tinystore_listener_id_t l[4];
  char *text;
  bool has;

  CHECK_OK(tinystore_relationships_new(store, &rels));
  CHECK_OK(tinystore_relationships_set_relationship_definition(rels, "petOwner", "pets", "owners", "owner", NULL, NULL));
  CHECK_OK(tinystore_relationships_set_relationship_definition(rels, "byFn", "pets", "owners", NULL, owner_of, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT,
               tinystore_relationships_set_relationship_definition(rels, "x", "pets", "owners", NULL, NULL, NULL));
  CHECK_OK(tinystore_relationships_get_remote_row_id(rels, "byFn", "rex", &text));
  CHECK_OWNED_STR(text, "bob");
  CHECK_OK(tinystore_relationships_get_local_row_ids(rels, "petOwner", "alice", &ids));
  CHECK_STR(joined(&ids), "fido,felix");
  CHECK_OK(tinystore_relationships_get_local_table_id(rels, "petOwner", &text));
  CHECK_OWNED_STR(text, "pets");
  CHECK_OK(tinystore_relationships_get_remote_table_id(rels, "petOwner", &text));
  CHECK_OWNED_STR(text, "owners");
  CHECK_OK(tinystore_relationships_has_relationship(rels, "byFn", &has));
  CHECK(has);

  /* A linked list within one table. */
  set_string(store, "pets", "fido", "next", "rex");
  set_string(store, "pets", "rex", "next", "felix");
  CHECK_OK(tinystore_relationships_set_relationship_definition(rels, "chain", "pets", "pets", "next", NULL, NULL));
  CHECK_OK(tinystore_relationships_get_linked_row_ids(rels, "chain", "fido", &ids));
  CHECK_STR(joined(&ids), "fido,rex,felix");

  CHECK_OK(tinystore_relationships_add_listener(rels, TINYSTORE_VIEW_RELATIONSHIP_IDS, NULL, NULL, on_view_event, &log, &l[0]));
  CHECK_OK(tinystore_relationships_add_listener(rels, TINYSTORE_VIEW_REMOTE_ROW_ID, "byFn", NULL, on_view_event, &log, &l[1]));
  CHECK_OK(tinystore_relationships_add_listener(rels, TINYSTORE_VIEW_LOCAL_ROW_IDS, "byFn", "bob", on_view_event, &log, &l[2]));
  CHECK_OK(tinystore_relationships_add_listener(rels, TINYSTORE_VIEW_LINKED_ROW_IDS, "chain", "fido", on_view_event, &log, &l[3]));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT,
               tinystore_relationships_add_listener(rels, TINYSTORE_VIEW_LINKED_ROW_IDS, NULL, NULL, on_view_event, &log, &l[0]));
  CHECK_OK(tinystore_relationships_get_listener_stats(rels, &text));
  CHECK_OWNED_STR(text, "{\"remoteRowId\":1,\"localRowIds\":1,\"linkedRowIds\":1}");

  set_string(store, "pets", "felix", "owner", "bob");
  CHECK_STR(log.text, "6 byFn /felix;7 byFn /bob;");
  log_reset(&log);
  set_string(store, "pets", "felix", "next", "tom");
  CHECK_STR(log.text, "8 chain /fido;");
  CHECK_OK(tinystore_relationships_get_linked_row_ids(rels, "chain", "fido", &ids));
  CHECK_STR(joined(&ids), "fido,rex,felix,tom");

  /* A failing remote-row-id callback (no message: a default one). */
  log_reset(&log);
  CHECK_STATUS(TINYSTORE_STATUS_CALLBACK, set_owner(store, "rex", "nobody"));
  CHECK_ERROR_MENTIONS("remote row id");
  CHECK_OK(tinystore_relationships_get_remote_row_id(rels, "byFn", "rex", &text));
  CHECK_OWNED_STR(text, "bob"); /* the row kept its previous link */
  CHECK_OK(tinystore_relationships_get_remote_row_id(rels, "petOwner", "rex", &text));
  CHECK_OWNED_STR(text, "nobody"); /* the other definition was updated */

  for (int i = 0; i < 4; i++) CHECK_OK(tinystore_relationships_del_listener(rels, l[i]));
  CHECK_OK(tinystore_relationships_del_relationship_definition(rels, "chain"));
  CHECK_OK(tinystore_relationships_get_relationship_ids(rels, &ids));
  CHECK_STR(joined(&ids), "petOwner,byFn");
  CHECK_OK(tinystore_relationships_free(rels));
  CHECK_OK(tinystore_store_free(store));
}

/* ------------------------------------------------------------------ metrics */

static double metric_of(tinystore_metrics_t *metrics, const char *id) {
  tinystore_cell_t cell;
  CHECK_OK(tinystore_metrics_get_metric(metrics, id, &cell));
  return cell.type == TINYSTORE_CELL_TYPE_NUMBER ? cell.number : NAN;
}

TEST(metrics) {
  /* Over a MergeableStore this time. */
  tinystore_mergeable_store_t *store;
  tinystore_metrics_t *metrics;
  tinystore_string_list_t ids;
  event_log log = {{0}, 0};
  tinystore_listener_id_t l[2];
  char *text;
  tinystore_aggregate_t max = {max_of, max_step, max_step, max_step, NULL};
  tinystore_aggregate_t failing = {failing_aggregate, NULL, NULL, NULL, NULL};

  CHECK_OK(tinystore_mergeable_store_new("m1", &store));
  set_number(store, "pets", "fido", "price", 5);
  set_number(store, "pets", "rex", "price", 3);
  CHECK_OK(tinystore_metrics_new(store, &metrics));
  CHECK_OK(tinystore_metrics_set_metric_definition(metrics, "total", "pets", "sum", NULL, "price", NULL, NULL));
  CHECK_OK(tinystore_metrics_set_metric_definition(metrics, "count", "pets", NULL, NULL, NULL, NULL, NULL));
  CHECK_OK(tinystore_metrics_set_metric_definition(metrics, "max", "pets", NULL, &max, NULL, negative_price, NULL));
  CHECK(metric_of(metrics, "total") == 8);
  CHECK(metric_of(metrics, "count") == 2);
  CHECK(metric_of(metrics, "max") == -3);
  CHECK(isnan(metric_of(metrics, "nope")));
  {
    bool has;
    CHECK_OK(tinystore_metrics_has_metric(metrics, "total", &has));
    CHECK(has);
    CHECK_OK(tinystore_metrics_has_metric(metrics, "nope", &has));
    CHECK(!has);
  }
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT,
               tinystore_metrics_set_metric_definition(metrics, "bad", "pets", "median", NULL, "price", NULL, NULL));
  CHECK_ERROR_MENTIONS("median");

  CHECK_OK(tinystore_metrics_add_listener(metrics, TINYSTORE_VIEW_METRIC_IDS, NULL, on_view_event, &log, &l[0]));
  CHECK_OK(tinystore_metrics_add_listener(metrics, TINYSTORE_VIEW_METRIC, "total", on_view_event, &log, &l[1]));
  CHECK_OK(tinystore_metrics_get_listener_stats(metrics, &text));
  CHECK_OWNED_STR(text, "{\"metric\":1}");
  hook_calls = 0;
  set_number(store, "pets", "felix", "price", 1);
  CHECK_STR(log.text, "10 total new=9 old=8;");
  CHECK(metric_of(metrics, "max") == -1);
  CHECK(hook_calls == 1); /* the add hook, no full recomputation needed */

  /* A failing custom aggregate: the write reports it, the other metrics follow. */
  CHECK_OK(tinystore_metrics_set_metric_definition(metrics, "failing", "pets", NULL, &failing, "price", NULL, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_CALLBACK, tinystore_store_set_cell(store, "pets", "tom", "price",
                                                                   &(tinystore_cell_t){.type = TINYSTORE_CELL_TYPE_NUMBER, .number = 2}));
  CHECK_ERROR_MENTIONS("too many values");
  CHECK(metric_of(metrics, "total") == 11);
  CHECK(metric_of(metrics, "count") == 4);

  CHECK_OK(tinystore_metrics_get_table_id(metrics, "total", &text));
  CHECK_OWNED_STR(text, "pets");
  log_reset(&log);
  CHECK_OK(tinystore_metrics_del_metric_definition(metrics, "failing"));
  CHECK_STR(log.text, "9;");
  CHECK_OK(tinystore_metrics_get_metric_ids(metrics, &ids));
  CHECK_STR(joined(&ids), "total,count,max");
  CHECK_OK(tinystore_metrics_del_listener(metrics, l[0]));
  CHECK_OK(tinystore_metrics_del_listener(metrics, l[1]));
  CHECK_OK(tinystore_metrics_free(metrics));
  CHECK_OK(tinystore_store_free(store));
}

/* ------------------------------------------------------------------ queries */

static bool double_price(void *user_data, const tinystore_row_reader_t *row, const char *row_id,
                         tinystore_callback_result_t *result) {
  (void)user_data;
  CHECK(row_id != NULL);
  return set_result_number(result, 2 * read_number(row, "price"));
}

/* The owner's city, read through the join. */
static bool owner_city(void *user_data, const tinystore_row_reader_t *row, const char *row_id,
                       tinystore_callback_result_t *result) {
  tinystore_cell_t cell;
  (void)user_data;
  (void)row_id;
  CHECK_OK(tinystore_row_reader_get_joined_cell(row, "owners", false, "city", &cell));
  bool ok = cell.type != TINYSTORE_CELL_TYPE_STRING || set_result_string(result, cell.string);
  tinystore_cell_free(&cell);
  return ok;
}

static bool cheaper_than_param(void *user_data, const tinystore_row_reader_t *row, const char *row_id,
                               tinystore_callback_result_t *result) {
  double *limit = user_data;
  CHECK(row_id == NULL);
  return set_result_bool(result, read_number(row, "price") < *limit);
}

static bool many(void *user_data, const tinystore_row_reader_t *row, const char *row_id,
                 tinystore_callback_result_t *result) {
  (void)user_data;
  (void)row_id;
  return set_result_bool(result, read_number(row, "n") > 1);
}

/* dogs with their owner's name and city, and a calculated double price. */
static bool build_dogs(void *user_data, tinystore_query_builder_t *b) {
  tinystore_cell_t dog = tinystore_cell_string("dog");
  (void)user_data;
  return tinystore_query_builder_select(b, NULL, false, "price", NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_join(b, "owners", false, NULL, "owner", NULL, NULL, NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select(b, "owners", false, "name", "ownerName") == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select_fn(b, double_price, NULL, "double") == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select_fn(b, owner_city, NULL, "city") == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_where(b, NULL, false, "species", &dog) == TINYSTORE_STATUS_OK;
}

/* Per species: the average price and a custom max, of the pets cheaper than param "below". */
static bool build_grouped(void *user_data, tinystore_query_builder_t *b) {
  static double below;
  tinystore_cell_t param;
  tinystore_aggregate_t max = {max_of, max_step, max_step, max_step, NULL};
  (void)user_data;
  CHECK_OK(tinystore_query_builder_param(b, "below", &param));
  below = param.type == TINYSTORE_CELL_TYPE_NUMBER ? param.number : 100;
  tinystore_cell_free(&param);
  return tinystore_query_builder_select(b, NULL, false, "species", NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select(b, NULL, false, "price", NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select(b, NULL, false, "price", "top") == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select(b, NULL, false, "price", "n") == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_where_fn(b, cheaper_than_param, &below) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_group(b, "price", "avg", NULL, "avgPrice") == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_group(b, "top", NULL, &max, NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_group(b, "n", "count", NULL, NULL) == TINYSTORE_STATUS_OK;
}

static bool build_having(void *user_data, tinystore_query_builder_t *b) {
  tinystore_cell_t dog = tinystore_cell_string("dog");
  (void)user_data;
  return tinystore_query_builder_select(b, NULL, false, "species", NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select(b, NULL, false, "species", "n") == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_group(b, "n", "count", NULL, NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_having_fn(b, many, NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_having(b, "species", &dog) == TINYSTORE_STATUS_OK;
}

/* A calculated join, and a join through it (pets -> owners -> cities). */
static bool build_joins(void *user_data, tinystore_query_builder_t *b) {
  (void)user_data;
  return tinystore_query_builder_join(b, "owners", false, NULL, NULL, owner_of, NULL, "o") == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_join(b, "cities", false, "o", "city", NULL, NULL, NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select(b, "o", false, "name", NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select(b, "cities", false, "country", NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select_all(b, "o", "o_") == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select_all(b, NULL, NULL) == TINYSTORE_STATUS_OK;
}

static bool same_row(void *user_data, const tinystore_row_reader_t *row, const char *row_id,
                     tinystore_callback_result_t *result) {
  (void)user_data;
  (void)row;
  return set_result_string(result, row_id);
}

static bool pet_prefix(void *user_data, const char *cell_id, tinystore_callback_result_t *result) {
  char buf[64];
  (void)user_data;
  if (strcmp(cell_id, "owner") == 0) return true; /* unchanged */
  snprintf(buf, sizeof buf, "pet_%s", cell_id);
  return set_result_string(result, buf);
}

/* The double price of a joined query result row. */
static bool double_over_ten(void *user_data, const tinystore_row_reader_t *row, const char *row_id,
                            tinystore_callback_result_t *result) {
  tinystore_cell_t cell;
  (void)user_data;
  (void)row_id;
  CHECK_OK(tinystore_row_reader_get_joined_cell(row, "dogs", true, "double", &cell));
  bool ok = set_result_bool(result, cell.type == TINYSTORE_CELL_TYPE_NUMBER && cell.number > 10);
  tinystore_cell_free(&cell);
  return ok;
}

/* Pets joined with their row of the "dogs" query, Bob's only, the root cells renamed. */
static bool build_query_join(void *user_data, tinystore_query_builder_t *b) {
  tinystore_cell_t bob = tinystore_cell_string("Bob");
  (void)user_data;
  return tinystore_query_builder_join(b, "dogs", true, NULL, NULL, same_row, NULL, NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select(b, "dogs", true, "double", NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_where(b, "dogs", true, "ownerName", &bob) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_where_fn(b, double_over_ten, NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_select_all_mapped(b, NULL, pet_prefix, NULL) == TINYSTORE_STATUS_OK;
}

static bool build_unnamed_select(void *user_data, tinystore_query_builder_t *b) {
  (void)user_data;
  return tinystore_query_builder_select_fn(b, double_price, NULL, NULL) == TINYSTORE_STATUS_OK;
}

static bool build_unknown_aggregate(void *user_data, tinystore_query_builder_t *b) {
  (void)user_data;
  return tinystore_query_builder_select(b, NULL, false, "price", NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_group(b, "price", "median", NULL, NULL) == TINYSTORE_STATUS_OK;
}

static bool build_cheap(void *user_data, tinystore_query_builder_t *b) {
  tinystore_cell_t three = tinystore_cell_number(3);
  (void)user_data;
  return tinystore_query_builder_select(b, NULL, false, "price", NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_where(b, NULL, false, "price", &three) == TINYSTORE_STATUS_OK;
}

static tinystore_query_builder_t *kept_builder;

static bool build_failing(void *user_data, tinystore_query_builder_t *b) {
  (void)user_data;
  kept_builder = b;
  CHECK_OK(tinystore_callback_set_error("the build failed"));
  return false;
}

static double result_number(tinystore_queries_t *q, const char *query, const char *row, const char *cell) {
  tinystore_cell_t out;
  CHECK_OK(tinystore_queries_get_result_cell(q, query, row, cell, &out));
  double n = out.type == TINYSTORE_CELL_TYPE_NUMBER ? out.number : NAN;
  tinystore_cell_free(&out);
  return n;
}

TEST(queries) {
  tinystore_store_t *store = pet_store();
  tinystore_queries_t *queries;
  tinystore_string_list_t ids;
  tinystore_cell_t cell;
  event_log log = {{0}, 0}, sorted = {{0}, 0};
  tinystore_listener_id_t l[11];
  char *text;
  bool has;
  size_t count;

  CHECK_OK(tinystore_queries_new(store, &queries));
  CHECK_OK(tinystore_queries_set_query_definition(queries, "dogs", "pets", false, build_dogs, NULL, NULL));
  CHECK_OK(tinystore_queries_get_result_json(queries, "dogs", NULL, &text));
  CHECK_OWNED_STR(text, "{\"fido\":{\"price\":5,\"double\":10,\"ownerName\":\"Alice\",\"city\":\"Paris\"},"
                        "\"rex\":{\"price\":3,\"double\":6,\"ownerName\":\"Bob\",\"city\":\"Oslo\"}}");
  CHECK_OK(tinystore_queries_get_result_json(queries, "dogs", "rex", &text));
  CHECK_OWNED_STR(text, "{\"price\":3,\"double\":6,\"ownerName\":\"Bob\",\"city\":\"Oslo\"}");
  CHECK_OK(tinystore_queries_get_result_cell_ids(queries, "dogs", NULL, &ids));
  CHECK_STR(joined(&ids), "price,double,ownerName,city");
  CHECK_OK(tinystore_queries_get_result_cell_ids(queries, "dogs", "fido", &ids));
  CHECK_STR(joined(&ids), "price,double,ownerName,city");
  CHECK_OK(tinystore_queries_has_result(queries, "dogs", "fido", "double", &has));
  CHECK(has);
  CHECK_OK(tinystore_queries_has_result(queries, "dogs", "felix", NULL, &has));
  CHECK(!has);
  CHECK_OK(tinystore_queries_has_result(queries, "dogs", NULL, NULL, &has));
  CHECK(has);

  /* Sorted result row ids: descending, offset, limit. */
  set_number(store, "pets", "max", "price", 9);
  set_string(store, "pets", "max", "species", "dog");
  CHECK_OK(tinystore_queries_get_result_sorted_row_ids(queries, "dogs", "price", true, 0, 0, &ids));
  CHECK_STR(joined(&ids), "max,fido,rex");
  CHECK_OK(tinystore_queries_get_result_sorted_row_ids(queries, "dogs", "price", false, 1, 1, &ids));
  CHECK_STR(joined(&ids), "fido");
  CHECK_OK(tinystore_queries_get_result_row_ids(queries, "dogs", &ids));
  CHECK_STR(joined(&ids), "fido,rex,max");
  CHECK_OK(tinystore_queries_get_result_row_count(queries, "dogs", &count));
  CHECK(count == 3);

  /* Listeners of every kind. */
  tinystore_view_event_kind_t kinds[10] = {
      TINYSTORE_VIEW_QUERY_IDS,        TINYSTORE_VIEW_PARAM_VALUES,  TINYSTORE_VIEW_PARAM_VALUE,
      TINYSTORE_VIEW_RESULT_TABLE,     TINYSTORE_VIEW_RESULT_TABLE_CELL_IDS, TINYSTORE_VIEW_RESULT_ROW_COUNT,
      TINYSTORE_VIEW_RESULT_ROW_IDS,   TINYSTORE_VIEW_RESULT_ROW,    TINYSTORE_VIEW_RESULT_CELL_IDS,
      TINYSTORE_VIEW_RESULT_CELL};
  for (int i = 0; i < 10; i++)
    CHECK_OK(tinystore_queries_add_listener(queries, kinds[i], i < 3 ? NULL : "dogs", NULL, NULL, on_view_event, &log, &l[i]));
  CHECK_OK(tinystore_queries_add_result_sorted_row_ids_listener(queries, "dogs", "price", true, 0, 2, on_view_event,
                                                                &sorted, &l[10]));
  CHECK_OK(tinystore_queries_get_listener_stats(queries, &text));
  CHECK_OWNED_STR(text, "{\"table\":1,\"tableCellIds\":1,\"rowCount\":1,\"rowIds\":1,\"sortedRowIds\":1,\"row\":1,"
                        "\"cellIds\":1,\"cell\":1,\"paramValues\":1,\"paramValue\":1}");
  set_number(store, "pets", "rex", "price", 7);
  CHECK_STR(log.text, "21 dogs /rex .price new=7 old=3;21 dogs /rex .double new=14 old=6;19 dogs /rex;14 dogs;");
  CHECK_STR(sorted.text, "18 dogs .price flag #max #rex;");
  log_reset(&log);
  CHECK_OK(tinystore_store_del_row(store, "pets", "max"));
  CHECK(strstr(log.text, "16 dogs n=2;17 dogs -max;") != NULL);

  /* Groups, a custom aggregate, a where callback and params. */
  log_reset(&log);
  CHECK_OK(tinystore_queries_set_query_definition(queries, "bySpecies", "pets", false, build_grouped, NULL,
                                                  "{\"below\":6}"));
  CHECK_STR(log.text, "11;13 bySpecies /below new=6;12 bySpecies {\"below\":6};");
  CHECK_OK(tinystore_queries_get_result_sorted_row_ids(queries, "bySpecies", "species", false, 0, 0, &ids));
  {
    char cat_row[64], dog_row[64];
    CHECK(ids.len == 2);
    snprintf(cat_row, sizeof cat_row, "%s", ids.items[0]);
    snprintf(dog_row, sizeof dog_row, "%s", ids.items[1]);
    tinystore_string_list_free(&ids);
    CHECK(result_number(queries, "bySpecies", dog_row, "avgPrice") == 5);
    CHECK(result_number(queries, "bySpecies", dog_row, "top") == 5);
    CHECK(result_number(queries, "bySpecies", dog_row, "n") == 1);
    CHECK(result_number(queries, "bySpecies", cat_row, "avgPrice") == 4);
    log_reset(&log);
    cell = tinystore_cell_number(8);
    CHECK_OK(tinystore_queries_set_param_value(queries, "bySpecies", "below", &cell));
    CHECK_STR(log.text, "13 bySpecies /below new=8;12 bySpecies {\"below\":8};");
    CHECK(result_number(queries, "bySpecies", dog_row, "avgPrice") == 6);
    CHECK(result_number(queries, "bySpecies", dog_row, "top") == 7);
    CHECK(result_number(queries, "bySpecies", dog_row, "n") == 2);
  }
  CHECK_OK(tinystore_queries_get_param_value(queries, "bySpecies", "below", &cell));
  CHECK(cell.type == TINYSTORE_CELL_TYPE_NUMBER && cell.number == 8);
  CHECK_OK(tinystore_queries_set_param_values(queries, "bySpecies", "{\"below\":5}"));
  CHECK_OK(tinystore_queries_get_param_values(queries, "bySpecies", &text));
  CHECK_OWNED_STR(text, "{\"below\":5}");
  CHECK_OK(tinystore_queries_get_result_row_count(queries, "bySpecies", &count));
  CHECK(count == 1); /* only felix (4) is below 5 */

  /* Having (callback), select_all, joins (calculated and through an intermediate table). */
  CHECK_OK(tinystore_queries_set_query_definition(queries, "common", "pets", false, build_having, NULL, NULL));
  CHECK_OK(tinystore_queries_get_result_row_count(queries, "common", &count));
  CHECK(count == 1);
  set_string(store, "cities", "Paris", "country", "FR");
  CHECK_OK(tinystore_queries_set_query_definition(queries, "joins", "pets", false, build_joins, NULL, NULL));
  CHECK_OK(tinystore_queries_get_result_json(queries, "joins", "felix", &text));
  CHECK_OWNED_STR(text, "{\"owner\":\"alice\",\"price\":4,\"species\":\"cat\",\"country\":\"FR\",\"name\":\"Alice\","
                        "\"o_city\":\"Paris\",\"o_name\":\"Alice\"}");
  CHECK_OK(tinystore_queries_set_query_definition(queries, "dogJoin", "pets", false, build_query_join, NULL, NULL));
  CHECK_OK(tinystore_queries_get_result_json(queries, "dogJoin", NULL, &text));
  CHECK_OWNED_STR(text, "{\"rex\":{\"double\":14,\"owner\":\"bob\",\"pet_price\":7,\"pet_species\":\"dog\"}}");
  CHECK_OK(tinystore_queries_set_query_definition(queries, "cheap", "dogs", true, build_cheap, NULL, NULL));
  CHECK_OK(tinystore_queries_get_table_id(queries, "cheap", &text));
  CHECK_OWNED_STR(text, "dogs");

  /* Invalid TinyQL: nothing is defined. */
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT,
               tinystore_queries_set_query_definition(queries, "bad", "pets", false, build_unnamed_select, NULL, NULL));
  CHECK_ERROR_MENTIONS("alias");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT,
               tinystore_queries_set_query_definition(queries, "bad", "pets", false, build_unknown_aggregate, NULL, NULL));
  CHECK_ERROR_MENTIONS("median");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON,
               tinystore_queries_set_query_definition(queries, "bad", "pets", false, build_cheap, NULL, "{"));

  /* A failing build callback, and its builder used after it returned. */
  CHECK_STATUS(TINYSTORE_STATUS_CALLBACK,
               tinystore_queries_set_query_definition(queries, "bad", "pets", false, build_failing, NULL, NULL));
  CHECK_ERROR_MENTIONS("the build failed");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_query_builder_select(kept_builder, NULL, false, "price", NULL));
  CHECK_OK(tinystore_queries_get_query_ids(queries, &ids));
  CHECK_STR(joined(&ids), "dogs,bySpecies,common,joins,dogJoin,cheap");

  for (int i = 0; i < 11; i++) CHECK_OK(tinystore_queries_del_listener(queries, l[i]));
  CHECK_OK(tinystore_queries_get_listener_stats(queries, &text));
  CHECK_OWNED_STR(text, "{\"table\":0,\"tableCellIds\":0,\"rowCount\":0,\"rowIds\":0,\"sortedRowIds\":0,\"row\":0,"
                        "\"cellIds\":0,\"cell\":0,\"paramValues\":0,\"paramValue\":0}");
  CHECK_OK(tinystore_queries_del_query_definition(queries, "cheap"));
  CHECK_OK(tinystore_queries_has_result(queries, "cheap", NULL, NULL, &has));
  CHECK(!has);
  CHECK_OK(tinystore_queries_has_query(queries, "cheap", &has));
  CHECK(!has);
  CHECK_OK(tinystore_queries_has_query(queries, "dogs", &has));
  CHECK(has);
  CHECK_OK(tinystore_queries_free(queries));
  CHECK_OK(tinystore_store_free(store));
}

/* ------------------------------------------------------------------ checkpoints */

TEST(checkpoints) {
  tinystore_store_t *store;
  tinystore_checkpoints_t *cps;
  tinystore_string_list_t back, fwd;
  char *current, *id, *text;
  event_log log = {{0}, 0};
  tinystore_listener_id_t l[2];
  bool has;

  CHECK_OK(tinystore_store_new(&store));
  CHECK_OK(tinystore_checkpoints_new(store, &cps));
  CHECK_OK(tinystore_checkpoints_add_listener(cps, TINYSTORE_VIEW_CHECKPOINT_IDS, NULL, on_view_event, &log, &l[0]));
  CHECK_OK(tinystore_checkpoints_add_listener(cps, TINYSTORE_VIEW_CHECKPOINT, NULL, on_view_event, &log, &l[1]));
  CHECK_OK(tinystore_checkpoints_get_listener_stats(cps, &text));
  CHECK_OWNED_STR(text, "{\"checkpointIds\":1,\"checkpoint\":1}");

  set_number(store, "t", "r", "n", 1);
  CHECK_OK(tinystore_checkpoints_get_checkpoint_ids(cps, &back, &current, &fwd));
  CHECK(current == NULL);
  CHECK_STR(joined(&back), "0");
  tinystore_string_list_free(&fwd);
  CHECK_OK(tinystore_checkpoints_add_checkpoint(cps, "one", &id));
  CHECK_OWNED_STR(id, "1");
  set_number(store, "t", "r", "n", 2);
  CHECK_OK(tinystore_checkpoints_add_checkpoint(cps, NULL, NULL));
  CHECK_OK(tinystore_checkpoints_set_checkpoint(cps, "2", "two"));
  CHECK_OK(tinystore_checkpoints_get_checkpoint(cps, "2", &text));
  CHECK_OWNED_STR(text, "two");
  CHECK_OK(tinystore_checkpoints_get_checkpoint(cps, "9", &text));
  CHECK(text == NULL);
  CHECK(strstr(log.text, "23 2;") != NULL);

  /* Backward twice, forward once, to a checkpoint. */
  CHECK_OK(tinystore_checkpoints_go_backward(cps));
  CHECK_OK(tinystore_checkpoints_go_backward(cps));
  CHECK_JSON(store, "[{},{}]");
  CHECK_OK(tinystore_checkpoints_go_forward(cps));
  CHECK_JSON(store, "[{\"t\":{\"r\":{\"n\":1}}},{}]");
  CHECK_OK(tinystore_checkpoints_get_checkpoint_ids(cps, &back, &current, &fwd));
  CHECK_STR(joined(&back), "0");
  CHECK_OWNED_STR(current, "1");
  CHECK_STR(joined(&fwd), "2");
  CHECK_OK(tinystore_checkpoints_go_to(cps, "2"));
  CHECK_JSON(store, "[{\"t\":{\"r\":{\"n\":2}}},{}]");
  CHECK_OK(tinystore_checkpoints_has_checkpoint(cps, "1", &has));
  CHECK(has);

  CHECK_OK(tinystore_checkpoints_go_backward(cps));
  CHECK_OK(tinystore_checkpoints_clear_forward(cps));
  CHECK_OK(tinystore_checkpoints_get_checkpoint_ids(cps, &back, &current, &fwd));
  CHECK(fwd.len == 0);
  tinystore_string_list_free(&back);
  tinystore_string_free(current);
  CHECK_OK(tinystore_checkpoints_set_size(cps, 1));
  set_number(store, "t", "r", "n", 3);
  CHECK_OK(tinystore_checkpoints_add_checkpoint(cps, "three", NULL));
  CHECK_OK(tinystore_checkpoints_get_checkpoint_ids(cps, &back, &current, &fwd));
  CHECK(back.len == 1);
  tinystore_string_list_free(&back);
  tinystore_string_free(current);
  CHECK_OK(tinystore_checkpoints_clear(cps));
  CHECK_OK(tinystore_checkpoints_get_checkpoint_ids(cps, &back, &current, &fwd));
  CHECK(back.len == 0 && fwd.len == 0);
  CHECK_OWNED_STR(current, "0");
  CHECK_OK(tinystore_checkpoints_del_listener(cps, l[0]));
  CHECK_OK(tinystore_checkpoints_del_listener(cps, l[1]));
  CHECK_OK(tinystore_checkpoints_free(cps));
  CHECK_OK(tinystore_store_free(store));
}

/* ------------------------------------------------------------------ failures */

TEST(failing_callbacks_keep_views_consistent) {
  tinystore_store_t *store = pet_store();
  tinystore_indexes_t *indexes;
  tinystore_metrics_t *metrics;
  tinystore_string_list_t ids;
  tinystore_cell_t bad = tinystore_cell_string("bad");

  CHECK_OK(tinystore_indexes_new(store, &indexes));
  CHECK_OK(tinystore_metrics_new(store, &metrics));
  CHECK_OK(tinystore_indexes_set_index_definition(indexes, "fn", "pets", NULL, species_and_all, NULL, NULL, NULL,
                                                  NULL, NULL));
  CHECK_OK(tinystore_metrics_set_metric_definition(metrics, "count", "pets", "sum", NULL, NULL, NULL, NULL));

  /* In a transaction: the failing row keeps its previous slices, the others follow. */
  CHECK_OK(tinystore_store_transaction_begin(store));
  CHECK_OK(tinystore_store_set_cell(store, "pets", "rex", "species", &bad));
  set_string(store, "pets", "tom", "species", "cat");
  CHECK_STATUS(TINYSTORE_STATUS_CALLBACK, tinystore_store_transaction_commit(store));
  CHECK_ERROR_MENTIONS("species bad is refused");
  CHECK_OK(tinystore_indexes_get_slice_row_ids(indexes, "fn", "dog", &ids));
  CHECK_STR(joined(&ids), "fido,rex");
  CHECK_OK(tinystore_indexes_get_slice_row_ids(indexes, "fn", "cat", &ids));
  CHECK_STR(joined(&ids), "felix,tom");
  CHECK(metric_of(metrics, "count") == 4);
  /* The store's write stands. */
  CHECK(has_string_cell(store, "pets", "rex", "species", "bad"));

  /* While defining: nothing changes. */
  CHECK_STATUS(TINYSTORE_STATUS_CALLBACK, tinystore_indexes_set_index_definition(indexes, "again", "pets", NULL,
                                                                                 species_and_all, NULL, NULL, NULL,
                                                                                 NULL, NULL));
  CHECK_OK(tinystore_indexes_get_index_ids(indexes, &ids));
  CHECK_STR(joined(&ids), "fn");

  /* Fixed, the row follows again. */
  set_string(store, "pets", "rex", "species", "cow");
  CHECK_OK(tinystore_indexes_get_slice_row_ids(indexes, "fn", "cow", &ids));
  CHECK_STR(joined(&ids), "rex");
  CHECK_OK(tinystore_indexes_free(indexes));
  CHECK_OK(tinystore_metrics_free(metrics));
  CHECK_OK(tinystore_store_free(store));
}

/* A where callback that fails for a price of 13. */
static bool refuse_13(void *user_data, const tinystore_row_reader_t *row, const char *row_id,
                      tinystore_callback_result_t *result) {
  (void)user_data;
  (void)row_id;
  if (read_number(row, "price") == 13) return false;
  return set_result_bool(result, true);
}

static bool build_refusing(void *user_data, tinystore_query_builder_t *b) {
  (void)user_data;
  return tinystore_query_builder_select(b, NULL, false, "price", NULL) == TINYSTORE_STATUS_OK &&
         tinystore_query_builder_where_fn(b, refuse_13, NULL) == TINYSTORE_STATUS_OK;
}

/* Fails when param "fail" is true. */
static bool build_by_param(void *user_data, tinystore_query_builder_t *b) {
  tinystore_cell_t fail;
  (void)user_data;
  CHECK_OK(tinystore_query_builder_param(b, "fail", &fail));
  bool failing = fail.type == TINYSTORE_CELL_TYPE_BOOLEAN && fail.boolean;
  tinystore_cell_free(&fail);
  return !failing && tinystore_query_builder_select(b, NULL, false, "price", NULL) == TINYSTORE_STATUS_OK;
}

TEST(failing_query_callbacks) {
  tinystore_store_t *store = pet_store();
  tinystore_queries_t *queries;
  tinystore_string_list_t ids;
  tinystore_cell_t yes = tinystore_cell_boolean(true);

  CHECK_OK(tinystore_queries_new(store, &queries));
  CHECK_OK(tinystore_queries_set_query_definition(queries, "q", "pets", false, build_refusing, NULL, NULL));
  CHECK_OK(tinystore_queries_set_query_definition(queries, "p", "pets", false, build_by_param, NULL, NULL));
  CHECK_OK(tinystore_store_transaction_begin(store));
  set_number(store, "pets", "rex", "price", 13);
  set_number(store, "pets", "tom", "price", 1);
  CHECK_STATUS(TINYSTORE_STATUS_CALLBACK, tinystore_store_transaction_commit(store));
  CHECK_ERROR_MENTIONS("where");
  /* The store's writes stand. The failing row keeps its previous result; the query's other
   * rows and the other query saw the whole transaction. */
  CHECK(has_string_cell(store, "pets", "rex", "species", "dog"));
  CHECK(result_number(queries, "q", "rex", "price") == 3);
  CHECK(result_number(queries, "q", "tom", "price") == 1);
  CHECK(result_number(queries, "p", "rex", "price") == 13);
  CHECK(result_number(queries, "p", "tom", "price") == 1);
  /* The next write goes through normally. */
  set_number(store, "pets", "rex", "price", 2);
  CHECK(result_number(queries, "q", "rex", "price") == 2);

  /* A build callback failing on a param change: the caller is told. */
  CHECK_STATUS(TINYSTORE_STATUS_CALLBACK, tinystore_queries_set_param_value(queries, "p", "fail", &yes));
  CHECK_ERROR_MENTIONS("build");
  CHECK_OK(tinystore_queries_get_query_ids(queries, &ids));
  CHECK_STR(joined(&ids), "q,p");

  /* NULL arguments. */
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT,
               tinystore_queries_set_query_definition(queries, "x", "pets", false, NULL, NULL, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT,
               tinystore_queries_add_listener(queries, TINYSTORE_VIEW_QUERY_IDS, NULL, NULL, NULL, NULL, NULL, NULL));
  CHECK_OK(tinystore_queries_free(queries));
  CHECK_OK(tinystore_store_free(store));
}

static const tinystore_row_reader_t *kept_reader;
static tinystore_callback_result_t *kept_result;

static bool keep_pointers(void *user_data, const tinystore_row_reader_t *row, const char *row_id,
                          tinystore_callback_result_t *result) {
  tinystore_cell_t cell;
  (void)user_data;
  (void)row_id;
  kept_reader = row;
  kept_result = result;
  /* Joined cells are for calculated selects and wheres only. */
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT, tinystore_row_reader_get_joined_cell(row, "owners", false, "name", &cell));
  return true;
}

TEST(bad_handles) {
  tinystore_store_t *store = pet_store();
  tinystore_indexes_t *indexes;
  tinystore_relationships_t *rels;
  tinystore_metrics_t *metrics;
  tinystore_queries_t *queries;
  tinystore_checkpoints_t *cps;
  tinystore_string_list_t ids;
  tinystore_cell_t cell = tinystore_cell_number(1);

  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_indexes_new(NULL, &indexes));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_indexes_get_index_ids(NULL, &ids));
  CHECK_OK(tinystore_indexes_new(store, &indexes));
  CHECK_OK(tinystore_relationships_new(store, &rels));
  CHECK_OK(tinystore_metrics_new(store, &metrics));
  CHECK_OK(tinystore_queries_new(store, &queries));
  CHECK_OK(tinystore_checkpoints_new(store, &cps));

  /* Wrong kinds. */
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_indexes_get_index_ids((tinystore_indexes_t *)rels, &ids));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_metrics_get_metric_ids((tinystore_metrics_t *)store, &ids));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_indexes_new((tinystore_store_t *)queries, &indexes));

  /* Borrowed pointers outside their callback. */
  CHECK_OK(tinystore_indexes_set_index_definition(indexes, "keep", "pets", NULL, keep_pointers, NULL, NULL, NULL,
                                                  NULL, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_row_reader_get_cell(kept_reader, "price", &cell));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_callback_result_set_cell(kept_result, &cell));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_callback_result_add_id(kept_result, "x"));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_callback_set_error(NULL));

  /* The store handle may go first: the views keep their store. */
  CHECK_OK(tinystore_store_free(store));
  CHECK_OK(tinystore_indexes_get_index_ids(indexes, &ids));
  CHECK_STR(joined(&ids), "keep");

  CHECK_OK(tinystore_indexes_free(indexes));
  CHECK_OK(tinystore_relationships_free(rels));
  CHECK_OK(tinystore_metrics_free(metrics));
  CHECK_OK(tinystore_queries_free(queries));
  CHECK_OK(tinystore_checkpoints_free(cps));
  /* Freed handles. */
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_indexes_free(indexes));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_relationships_free(rels));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_metrics_free(metrics));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_queries_free(queries));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_checkpoints_free(cps));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_queries_get_query_ids(queries, &ids));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_checkpoints_go_backward(cps));
}

static const test_case CASES[] = {
    CASE(indexes),
    CASE(relationships),
    CASE(metrics),
    CASE(queries),
    CASE(checkpoints),
    CASE(failing_callbacks_keep_views_consistent),
    CASE(failing_query_callbacks),
    CASE(bad_handles),
};

RUN_TESTS(CASES)
