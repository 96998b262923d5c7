/* Listeners: every kind with its event fields, mutators, re-entrancy, removal from inside a
 * listener, call_listener, and what freeing a store does to its listeners. */
#include "harness.h"

#include <math.h>
#include <pthread.h>

#define KINDS 25

typedef struct recorder {
  int calls[KINDS];
  char last[KINDS][512];
  tinystore_store_t *store;
  pthread_t thread;
} recorder;

static void describe_cell(char *out, size_t size, const tinystore_cell_t *cell) {
  switch (cell->type) {
    case TINYSTORE_CELL_TYPE_NONE: snprintf(out, size, "-"); break;
    case TINYSTORE_CELL_TYPE_STRING: snprintf(out, size, "S:%s", cell->string); break;
    case TINYSTORE_CELL_TYPE_NUMBER:
      if (isnan(cell->number))
        snprintf(out, size, "N:nan");
      else
        snprintf(out, size, "N:%g", cell->number);
      break;
    case TINYSTORE_CELL_TYPE_BOOLEAN: snprintf(out, size, "B:%d", cell->boolean); break;
    case TINYSTORE_CELL_TYPE_NULL: snprintf(out, size, "null"); break;
    case TINYSTORE_CELL_TYPE_JSON: snprintf(out, size, "J:%s", cell->string); break;
    default: snprintf(out, size, "?"); break;
  }
}

#define APPEND(...) used += (size_t)snprintf(out + used, size - used, __VA_ARGS__)

/* A compact, deterministic description of an event: only the fields that are set. */
static void describe(char *out, size_t size, const tinystore_event_t *e) {
  size_t used = 0;
  char cell[128];
  out[0] = 0;
  if (e->table_id) APPEND("t=%s ", e->table_id);
  if (e->row_id) APPEND("r=%s ", e->row_id);
  if (e->cell_id) APPEND("c=%s ", e->cell_id);
  if (e->value_id) APPEND("v=%s ", e->value_id);
  if (e->flag) APPEND("flag ");
  if (e->count) APPEND("count=%zu ", e->count);
  if (e->new_cell.type != TINYSTORE_CELL_TYPE_NONE || e->old_cell.type != TINYSTORE_CELL_TYPE_NONE) {
    describe_cell(cell, sizeof cell, &e->new_cell);
    APPEND("new=%s ", cell);
    describe_cell(cell, sizeof cell, &e->old_cell);
    APPEND("old=%s ", cell);
  }
  for (size_t i = 0; i < e->id_changes_len; i++)
    APPEND("%s%s ", e->id_changes[i].change > 0 ? "+" : "-", e->id_changes[i].id);
  for (size_t i = 0; i < e->ids_len; i++) APPEND("#%s ", e->ids[i]);
  for (size_t i = 0; i < e->invalid_cells_len; i++) {
    describe_cell(cell, sizeof cell, &e->invalid_cells[i]);
    APPEND("!%s ", cell);
  }
  if (used > 0) out[used - 1] = 0;
}

static void record(void *user_data, tinystore_store_t *store, const tinystore_event_t *event) {
  recorder *r = (recorder *)user_data;
  CHECK(store == r->store);
  CHECK((int)event->kind >= 0 && (int)event->kind < KINDS);
  r->calls[event->kind]++;
  r->thread = pthread_self();
  describe(r->last[event->kind], sizeof r->last[event->kind], event);
}

#define CHECK_EVENT(r, kind, n, text)                                                   \
  do {                                                                                  \
    if ((r).calls[kind] != (n)) FAIL("%s fired %d times, expected %d", #kind, (r).calls[kind], (n)); \
    if ((n) > 0) CHECK_STR((r).last[kind], text);                                       \
  } while (0)

static tinystore_store_t *new_store(void) {
  tinystore_store_t *store = NULL;
  CHECK_OK(tinystore_store_new(&store));
  return store;
}

TEST(every_listener_kind) {
  tinystore_store_t *store = new_store();
  recorder r;
  memset(&r, 0, sizeof r);
  r.store = store;
  tinystore_listener_id_t ids[KINDS];
  int n = 0;
  CHECK_OK(tinystore_store_add_has_tables_listener(store, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_tables_listener(store, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_table_ids_listener(store, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_has_table_listener(store, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_table_listener(store, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_table_cell_ids_listener(store, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_has_table_cell_listener(store, NULL, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_row_count_listener(store, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_row_ids_listener(store, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_sorted_row_ids_listener(store, "pets", "species", false, 0, 0, false,
                                                       record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_has_row_listener(store, NULL, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_row_listener(store, NULL, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_cell_ids_listener(store, NULL, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_has_cell_listener(store, NULL, NULL, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_cell_listener(store, NULL, NULL, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_invalid_cell_listener(store, NULL, NULL, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_has_values_listener(store, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_values_listener(store, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_value_ids_listener(store, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_has_value_listener(store, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_value_listener(store, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_invalid_value_listener(store, NULL, false, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_start_transaction_listener(store, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_will_finish_transaction_listener(store, record, &r, &ids[n++]));
  CHECK_OK(tinystore_store_add_did_finish_transaction_listener(store, record, &r, &ids[n++]));
  CHECK(n == KINDS);
  for (int i = 0; i < KINDS; i++)
    for (int j = 0; j < i; j++) CHECK(ids[i] != ids[j]);

  CHECK_OK(tinystore_store_transaction_begin(store));
  tinystore_cell_t dog = tinystore_cell_string("dog"), open = tinystore_cell_boolean(true);
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "species", &dog));
  CHECK_OK(tinystore_store_set_value(store, "open", &open));
  CHECK(r.calls[TINYSTORE_LISTENER_CELL] == 0); /* nothing fires before the commit */
  CHECK_OK(tinystore_store_transaction_commit(store));

  CHECK_EVENT(r, TINYSTORE_LISTENER_HAS_TABLES, 1, "flag");
  CHECK_EVENT(r, TINYSTORE_LISTENER_TABLES, 1, "");
  CHECK_EVENT(r, TINYSTORE_LISTENER_TABLE_IDS, 1, "+pets");
  CHECK_EVENT(r, TINYSTORE_LISTENER_HAS_TABLE, 1, "t=pets flag");
  CHECK_EVENT(r, TINYSTORE_LISTENER_TABLE, 1, "t=pets");
  CHECK_EVENT(r, TINYSTORE_LISTENER_TABLE_CELL_IDS, 1, "t=pets +species");
  CHECK_EVENT(r, TINYSTORE_LISTENER_HAS_TABLE_CELL, 1, "t=pets c=species flag");
  CHECK_EVENT(r, TINYSTORE_LISTENER_ROW_COUNT, 1, "t=pets count=1");
  CHECK_EVENT(r, TINYSTORE_LISTENER_ROW_IDS, 1, "t=pets +fido");
  CHECK_EVENT(r, TINYSTORE_LISTENER_SORTED_ROW_IDS, 1, "t=pets c=species #fido");
  CHECK_EVENT(r, TINYSTORE_LISTENER_HAS_ROW, 1, "t=pets r=fido flag");
  CHECK_EVENT(r, TINYSTORE_LISTENER_ROW, 1, "t=pets r=fido");
  CHECK_EVENT(r, TINYSTORE_LISTENER_CELL_IDS, 1, "t=pets r=fido +species");
  CHECK_EVENT(r, TINYSTORE_LISTENER_HAS_CELL, 1, "t=pets r=fido c=species flag");
  CHECK_EVENT(r, TINYSTORE_LISTENER_CELL, 1, "t=pets r=fido c=species new=S:dog old=-");
  CHECK_EVENT(r, TINYSTORE_LISTENER_INVALID_CELL, 0, "");
  CHECK_EVENT(r, TINYSTORE_LISTENER_HAS_VALUES, 1, "flag");
  CHECK_EVENT(r, TINYSTORE_LISTENER_VALUES, 1, "");
  CHECK_EVENT(r, TINYSTORE_LISTENER_VALUE_IDS, 1, "+open");
  CHECK_EVENT(r, TINYSTORE_LISTENER_HAS_VALUE, 1, "v=open flag");
  CHECK_EVENT(r, TINYSTORE_LISTENER_VALUE, 1, "v=open new=B:1 old=-");
  CHECK_EVENT(r, TINYSTORE_LISTENER_INVALID_VALUE, 0, "");
  CHECK_EVENT(r, TINYSTORE_LISTENER_START_TRANSACTION, 1, "");
  CHECK_EVENT(r, TINYSTORE_LISTENER_WILL_FINISH_TRANSACTION, 1, "");
  CHECK_EVENT(r, TINYSTORE_LISTENER_DID_FINISH_TRANSACTION, 1, "");
  CHECK(pthread_equal(r.thread, pthread_self())); /* local writes: the writer's thread */

  /* Changes, deletions and rejected writes. */
  tinystore_cell_t cat = tinystore_cell_string("cat"), nan = tinystore_cell_number(NAN),
                   obj = tinystore_cell_json("{\"a\":1}");
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "species", &cat));
  CHECK_EVENT(r, TINYSTORE_LISTENER_CELL, 2, "t=pets r=fido c=species new=S:cat old=S:dog");
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "legs", &nan));
  CHECK_EVENT(r, TINYSTORE_LISTENER_INVALID_CELL, 1, "t=pets r=fido c=legs !N:nan");
  CHECK_OK(tinystore_store_set_value(store, "meta", &obj));
  CHECK_EVENT(r, TINYSTORE_LISTENER_VALUE, 2, "v=meta new=J:{\"a\":1} old=-");
  CHECK_OK(tinystore_store_set_value(store, "bad", &nan));
  CHECK_EVENT(r, TINYSTORE_LISTENER_INVALID_VALUE, 1, "v=bad !N:nan");
  CHECK_OK(tinystore_store_del_tables(store));
  CHECK_EVENT(r, TINYSTORE_LISTENER_HAS_TABLES, 2, "");
  CHECK_EVENT(r, TINYSTORE_LISTENER_ROW_IDS, 2, "t=pets -fido");
  CHECK_EVENT(r, TINYSTORE_LISTENER_CELL, 3, "t=pets r=fido c=species new=- old=S:cat");
  CHECK_EVENT(r, TINYSTORE_LISTENER_SORTED_ROW_IDS, 2, "t=pets c=species");

  for (int i = 0; i < KINDS; i++) CHECK_OK(tinystore_store_del_listener(store, ids[i]));
  int before = r.calls[TINYSTORE_LISTENER_DID_FINISH_TRANSACTION];
  CHECK_OK(tinystore_store_set_cell(store, "pets", "rex", "species", &dog));
  CHECK(r.calls[TINYSTORE_LISTENER_DID_FINISH_TRANSACTION] == before);
  CHECK_OK(tinystore_store_free(store));
}

TEST(listener_ids_filter) {
  tinystore_store_t *store = new_store();
  recorder r;
  memset(&r, 0, sizeof r);
  r.store = store;
  tinystore_listener_id_t id;
  CHECK_OK(tinystore_store_add_cell_listener(store, "pets", NULL, "price", false, record, &r, &id));
  CHECK_OK(tinystore_store_add_has_value_listener(store, "open", false, record, &r, &id));
  tinystore_cell_t five = tinystore_cell_number(5), yes = tinystore_cell_boolean(true);
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "legs", &five));   /* other cell */
  CHECK_OK(tinystore_store_set_cell(store, "owners", "fido", "price", &five)); /* other table */
  CHECK_OK(tinystore_store_set_value(store, "closed", &yes));
  CHECK(r.calls[TINYSTORE_LISTENER_CELL] == 0 && r.calls[TINYSTORE_LISTENER_HAS_VALUE] == 0);
  CHECK_OK(tinystore_store_set_cell(store, "pets", "felix", "price", &five));
  CHECK_OK(tinystore_store_set_value(store, "open", &yes));
  CHECK_EVENT(r, TINYSTORE_LISTENER_CELL, 1, "t=pets r=felix c=price new=N:5 old=-");
  CHECK_EVENT(r, TINYSTORE_LISTENER_HAS_VALUE, 1, "v=open flag");
  CHECK_OK(tinystore_store_free(store));
}

/* A mutator listener keeps a total; a non-mutator one tries to write and is ignored. */
static void keep_total(void *user_data, tinystore_store_t *store, const tinystore_event_t *event) {
  (void)user_data;
  (void)event;
  tinystore_string_list_t rows;
  CHECK_OK(tinystore_store_get_row_ids(store, "pets", &rows));
  double total = 0;
  for (size_t i = 0; i < rows.len; i++) {
    tinystore_cell_t price;
    if (tinystore_store_get_cell(store, "pets", rows.items[i], "price", &price) == TINYSTORE_STATUS_OK)
      total += price.number;
  }
  tinystore_string_list_free(&rows);
  tinystore_cell_t value = tinystore_cell_number(total);
  CHECK_OK(tinystore_store_set_value(store, "total", &value));
}

static void try_to_write(void *user_data, tinystore_store_t *store, const tinystore_event_t *event) {
  (void)user_data;
  (void)event;
  tinystore_cell_t value = tinystore_cell_string("ignored");
  CHECK_OK(tinystore_store_set_value(store, "sneaky", &value));
}

TEST(mutator_listeners) {
  tinystore_store_t *store = new_store();
  tinystore_listener_id_t id;
  CHECK_OK(tinystore_store_add_cell_listener(store, "pets", NULL, "price", true, keep_total, NULL, &id));
  CHECK_OK(tinystore_store_add_row_listener(store, "pets", NULL, false, try_to_write, NULL, &id));
  tinystore_cell_t four = tinystore_cell_number(4), five = tinystore_cell_number(5);
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "price", &five));
  CHECK_OK(tinystore_store_set_cell(store, "pets", "felix", "price", &four));
  CHECK_JSON(store, "[{\"pets\":{\"fido\":{\"price\":5},\"felix\":{\"price\":4}}},{\"total\":9}]");
  CHECK_OK(tinystore_store_free(store));
}

/* Reads the store from inside a listener: the store lock is re-entrant. */
static void read_back(void *user_data, tinystore_store_t *store, const tinystore_event_t *event) {
  int *checked = (int *)user_data;
  tinystore_cell_t cell;
  CHECK_OK(tinystore_store_get_cell(store, event->table_id, event->row_id, event->cell_id, &cell));
  CHECK(cell.type == TINYSTORE_CELL_TYPE_STRING && strcmp(cell.string, event->new_cell.string) == 0);
  tinystore_cell_free(&cell);
  char *changes = NULL;
  CHECK_OK(tinystore_store_get_transaction_changes_json(store, &changes));
  CHECK_STR(changes, "[{\"pets\":{\"fido\":{\"species\":\"dog\"}}},{},1]");
  tinystore_string_free(changes);
  CHECK_JSON(store, "[{\"pets\":{\"fido\":{\"species\":\"dog\"}}},{}]");
  (*checked)++;
}

TEST(reentrant_reads) {
  tinystore_store_t *store = new_store();
  tinystore_listener_id_t id;
  int checked = 0;
  CHECK_OK(tinystore_store_add_cell_listener(store, NULL, NULL, NULL, false, read_back, &checked, &id));
  tinystore_cell_t dog = tinystore_cell_string("dog");
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "species", &dog));
  CHECK(checked == 1);
  CHECK_OK(tinystore_store_free(store));
}

typedef struct self_remover {
  tinystore_listener_id_t self, other;
  int calls, other_calls;
} self_remover;

static void remove_self_and_other(void *user_data, tinystore_store_t *store, const tinystore_event_t *event) {
  (void)event;
  self_remover *s = (self_remover *)user_data;
  s->calls++;
  CHECK_OK(tinystore_store_del_listener(store, s->self));
  CHECK_OK(tinystore_store_del_listener(store, s->other));
  /* Removing it again is an error, not a crash. */
  CHECK_STATUS(TINYSTORE_STATUS_NOT_FOUND, tinystore_store_del_listener(store, s->self));
}

static void count_other(void *user_data, tinystore_store_t *store, const tinystore_event_t *event) {
  (void)store;
  (void)event;
  ((self_remover *)user_data)->other_calls++;
}

TEST(remove_listeners_from_inside_a_listener) {
  tinystore_store_t *store = new_store();
  self_remover s;
  memset(&s, 0, sizeof s);
  CHECK_OK(tinystore_store_add_value_listener(store, NULL, false, remove_self_and_other, &s, &s.self));
  CHECK_OK(tinystore_store_add_values_listener(store, false, count_other, &s, &s.other));
  tinystore_cell_t one = tinystore_cell_number(1), two = tinystore_cell_number(2);
  CHECK_OK(tinystore_store_set_value(store, "a", &one));
  CHECK_OK(tinystore_store_set_value(store, "a", &two));
  CHECK_OK(tinystore_store_set_value(store, "b", &two));
  CHECK(s.calls == 1);
  CHECK(s.other_calls <= 1); /* removed before or after its turn in the first transaction */
  CHECK_OK(tinystore_store_free(store));
}

static void free_my_store(void *user_data, tinystore_store_t *store, const tinystore_event_t *event) {
  (void)event;
  int *calls = (int *)user_data;
  (*calls)++;
  CHECK_OK(tinystore_store_free(store));
  bool flag;
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_store_has_table(store, "t", &flag));
}

TEST(free_store_from_inside_a_listener) {
  tinystore_store_t *store = new_store();
  tinystore_listener_id_t id;
  int calls = 0;
  CHECK_OK(tinystore_store_add_cell_listener(store, NULL, NULL, NULL, false, free_my_store, &calls, &id));
  tinystore_cell_t one = tinystore_cell_number(1);
  CHECK_OK(tinystore_store_set_cell(store, "t", "r", "c", &one));
  CHECK(calls == 1);
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_store_set_cell(store, "t", "r", "c", &one));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_store_free(store));
}

TEST(call_listener) {
  tinystore_store_t *store = new_store();
  recorder r;
  memset(&r, 0, sizeof r);
  r.store = store;
  CHECK_OK(tinystore_store_set_json(store, "[{\"pets\":{\"fido\":{\"price\":5}}},{}]"));
  tinystore_listener_id_t has_table, cell;
  CHECK_OK(tinystore_store_add_has_table_listener(store, "pets", false, record, &r, &has_table));
  CHECK_OK(tinystore_store_add_cell_listener(store, "pets", "fido", "price", false, record, &r, &cell));
  CHECK(r.calls[TINYSTORE_LISTENER_HAS_TABLE] == 0);
  CHECK_OK(tinystore_store_call_listener(store, has_table));
  CHECK_EVENT(r, TINYSTORE_LISTENER_HAS_TABLE, 1, "t=pets flag");
  CHECK_OK(tinystore_store_call_listener(store, cell));
  CHECK_EVENT(r, TINYSTORE_LISTENER_CELL, 1, "t=pets r=fido c=price new=N:5 old=N:5");
  CHECK_STATUS(TINYSTORE_STATUS_NOT_FOUND, tinystore_store_call_listener(store, 12345));
  CHECK_OK(tinystore_store_free(store));
}

TEST(del_listener_errors) {
  tinystore_store_t *a = new_store(), *b = new_store();
  recorder r;
  memset(&r, 0, sizeof r);
  r.store = a;
  tinystore_listener_id_t id;
  CHECK_OK(tinystore_store_add_tables_listener(a, false, record, &r, &id));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_FOUND, tinystore_store_del_listener(b, id)); /* another store's */
  CHECK_STATUS(TINYSTORE_STATUS_NOT_FOUND, tinystore_store_del_listener(a, id + 1000));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_FOUND, tinystore_store_del_listener(a, UINT64_MAX));
  CHECK_OK(tinystore_store_del_listener(a, id));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_FOUND, tinystore_store_del_listener(a, id));
  CHECK_ERROR_MENTIONS("no listener");
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_add_tables_listener(a, false, record, &r, NULL));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
}

TEST(freeing_a_store_removes_its_listeners) {
  /* A persister keeps the store's data alive after its handle is freed; a load into it must
   * not reach the freed handle's listeners. */
  char path[512];
  temp_path(path, sizeof path, "listeners.json");
  tinystore_store_t *writer = new_store(), *store = new_store();
  tinystore_persister_t *writer_persister = NULL, *persister = NULL;
  CHECK_OK(tinystore_file_persister_new(writer, path, &writer_persister));
  CHECK_OK(tinystore_store_set_json(writer, "[{\"t\":{\"r\":{\"c\":1}}},{}]"));
  CHECK_OK(tinystore_persister_save(writer_persister));
  recorder r;
  memset(&r, 0, sizeof r);
  r.store = store;
  tinystore_listener_id_t id;
  CHECK_OK(tinystore_store_add_cell_listener(store, NULL, NULL, NULL, false, record, &r, &id));
  CHECK_OK(tinystore_file_persister_new(store, path, &persister));
  CHECK_OK(tinystore_store_free(store));
  CHECK_OK(tinystore_persister_load(persister));
  CHECK(r.calls[TINYSTORE_LISTENER_CELL] == 0);
  CHECK_OK(tinystore_persister_free(persister));
  CHECK_OK(tinystore_persister_free(writer_persister));
  CHECK_OK(tinystore_store_free(writer));
  remove(path);
}

static const test_case CASES[] = {
    CASE(every_listener_kind),
    CASE(listener_ids_filter),
    CASE(mutator_listeners),
    CASE(reentrant_reads),
    CASE(remove_listeners_from_inside_a_listener),
    CASE(free_store_from_inside_a_listener),
    CASE(call_listener),
    CASE(del_listener_errors),
    CASE(freeing_a_store_removes_its_listeners),
};

RUN_TESTS(CASES)
