/* Library-level functions and the error contract: version, statuses, last error, cell
 * constructors, free functions, NULL / bad UTF-8 / bad JSON / unknown, freed and wrong-kind
 * handles, and handles shared between threads. */
#include "harness.h"

#include <pthread.h>

static const char BAD_UTF8[] = {(char)0xff, (char)0xfe, 'x', 0};

TEST(version) {
  char expected[64];
  snprintf(expected, sizeof expected, "%d.%d.%d", TINYSTORE_VERSION_MAJOR, TINYSTORE_VERSION_MINOR,
           TINYSTORE_VERSION_PATCH);
  CHECK_STR(tinystore_version(), expected);
}

TEST(status_names) {
  CHECK_STR(tinystore_status_name(TINYSTORE_STATUS_OK), "TINYSTORE_STATUS_OK");
  CHECK_STR(tinystore_status_name(TINYSTORE_STATUS_NOT_FOUND), "TINYSTORE_STATUS_NOT_FOUND");
  CHECK_STR(tinystore_status_name(TINYSTORE_STATUS_PANIC), "TINYSTORE_STATUS_PANIC");
  CHECK_STR(tinystore_status_name(-1), "TINYSTORE_STATUS_UNKNOWN");
  CHECK_STR(tinystore_status_name(1000), "TINYSTORE_STATUS_UNKNOWN");
  /* The frozen numbers. */
  CHECK(TINYSTORE_STATUS_OK == 0 && TINYSTORE_STATUS_NULL_ARGUMENT == 1 &&
        TINYSTORE_STATUS_INVALID_UTF8 == 2 && TINYSTORE_STATUS_INVALID_JSON == 3 &&
        TINYSTORE_STATUS_INVALID_HANDLE == 4 && TINYSTORE_STATUS_NOT_FOUND == 5 &&
        TINYSTORE_STATUS_INVALID_ARGUMENT == 6 && TINYSTORE_STATUS_INVALID_SCHEMA == 7 &&
        TINYSTORE_STATUS_NOT_MERGEABLE == 8 && TINYSTORE_STATUS_REJECTED == 9 &&
        TINYSTORE_STATUS_INVALID_STATE == 10 && TINYSTORE_STATUS_STORAGE == 11 &&
        TINYSTORE_STATUS_UNSUPPORTED == 12 && TINYSTORE_STATUS_NETWORK == 13 &&
        TINYSTORE_STATUS_PANIC == 14);
}

TEST(last_error_is_set_and_cleared) {
  tinystore_store_t *store = NULL;
  CHECK_STR(tinystore_last_error_message(), "");
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_new(NULL));
  CHECK_ERROR_MENTIONS("out_store is NULL");
  CHECK_OK(tinystore_store_new(&store));
  CHECK_STR(tinystore_last_error_message(), "");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_store_set_json(store, "[1"));
  CHECK_ERROR_MENTIONS("JSON");
  CHECK_OK(tinystore_store_free(store));
  CHECK_STR(tinystore_last_error_message(), "");
}

static void *fail_on_other_thread(void *arg) {
  (void)arg;
  tinystore_store_free(NULL);
  return strstr(tinystore_last_error_message(), "store is NULL") ? (void *)1 : NULL;
}

TEST(last_error_is_per_thread) {
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_new(NULL));
  CHECK_ERROR_MENTIONS("out_store");
  pthread_t thread;
  void *result = NULL;
  CHECK(pthread_create(&thread, NULL, fail_on_other_thread, NULL) == 0);
  CHECK(pthread_join(thread, &result) == 0);
  CHECK(result == (void *)1);
  /* This thread's message is unchanged by the other thread's failure. */
  CHECK_ERROR_MENTIONS("out_store");
}

TEST(cell_constructors) {
  tinystore_cell_t s = tinystore_cell_string("dog");
  CHECK(s.type == TINYSTORE_CELL_TYPE_STRING && s.string_len == 3 && !s.owned);
  CHECK_STR(s.string, "dog");
  tinystore_cell_t n = tinystore_cell_number(4.5);
  CHECK(n.type == TINYSTORE_CELL_TYPE_NUMBER && n.number == 4.5);
  tinystore_cell_t b = tinystore_cell_boolean(true);
  CHECK(b.type == TINYSTORE_CELL_TYPE_BOOLEAN && b.boolean);
  tinystore_cell_t z = tinystore_cell_null();
  CHECK(z.type == TINYSTORE_CELL_TYPE_NULL);
  tinystore_cell_t j = tinystore_cell_json("[1,2]");
  CHECK(j.type == TINYSTORE_CELL_TYPE_JSON && j.string_len == 5);
  /* Freeing a cell that is not owned only resets it. */
  tinystore_cell_free(&s);
  CHECK(s.type == TINYSTORE_CELL_TYPE_NONE && s.string == NULL);
}

TEST(free_functions_are_idempotent) {
  tinystore_string_free(NULL);
  tinystore_string_list_free(NULL);
  tinystore_cell_free(NULL);
  tinystore_store_t *store = NULL;
  CHECK_OK(tinystore_store_new(&store));
  tinystore_cell_t dog = tinystore_cell_string("dog");
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "species", &dog));
  tinystore_cell_t cell;
  CHECK_OK(tinystore_store_get_cell(store, "pets", "fido", "species", &cell));
  CHECK(cell.owned);
  tinystore_cell_free(&cell);
  tinystore_cell_free(&cell); /* reset by the first call: harmless */
  CHECK(cell.type == TINYSTORE_CELL_TYPE_NONE);
  tinystore_string_list_t ids;
  CHECK_OK(tinystore_store_get_table_ids(store, &ids));
  CHECK(ids.len == 1);
  tinystore_string_list_free(&ids);
  tinystore_string_list_free(&ids);
  CHECK(ids.items == NULL && ids.len == 0);
  CHECK_OK(tinystore_store_free(store));
}

TEST(null_arguments) {
  tinystore_store_t *store = NULL;
  CHECK_OK(tinystore_store_new(&store));
  tinystore_cell_t one = tinystore_cell_number(1);
  tinystore_cell_t cell;
  bool flag;
  char *json = NULL;
  tinystore_string_list_t ids;
  tinystore_listener_id_t id;
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_set_cell(NULL, "t", "r", "c", &one));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_set_cell(store, NULL, "r", "c", &one));
  CHECK_ERROR_MENTIONS("table_id");
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_set_cell(store, "t", NULL, "c", &one));
  CHECK_ERROR_MENTIONS("row_id");
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_set_cell(store, "t", "r", NULL, &one));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_set_cell(store, "t", "r", "c", NULL));
  CHECK_ERROR_MENTIONS("cell is NULL");
  tinystore_cell_t null_string = tinystore_cell_string(NULL);
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT,
               tinystore_store_set_cell(store, "t", "r", "c", &null_string));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_get_cell(store, "t", "r", "c", NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_get_cell(NULL, "t", "r", "c", &cell));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_has_table(store, "t", NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_has_value(store, NULL, &flag));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_get_json(store, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_set_json(store, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_get_table_ids(store, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_get_row_ids(store, NULL, &ids));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT,
               tinystore_store_add_cell_listener(store, NULL, NULL, NULL, false, NULL, NULL, &id));
  CHECK_ERROR_MENTIONS("listener is NULL");
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_transaction(store, NULL, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_is_mergeable(store, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT,
               tinystore_mergeable_store_new_with_clock(NULL, NULL, NULL, &store));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_sqlite_persister_new(store, NULL, NULL, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_persister_load(NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_ws_synchronizer_start_sync(NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_ws_server_port(NULL, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_ws_server_new(NULL, 0, NULL, NULL));
  /* Nothing was written by any of the failed calls. */
  CHECK_JSON(store, "[{},{}]");
  (void)json;
  CHECK_OK(tinystore_store_free(store));
}

TEST(invalid_utf8) {
  tinystore_store_t *store = NULL;
  CHECK_OK(tinystore_store_new(&store));
  tinystore_cell_t one = tinystore_cell_number(1);
  bool flag;
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_UTF8, tinystore_store_set_cell(store, BAD_UTF8, "r", "c", &one));
  CHECK_ERROR_MENTIONS("table_id is not valid UTF-8");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_UTF8, tinystore_store_has_row(store, "t", BAD_UTF8, &flag));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_UTF8, tinystore_store_set_value(store, BAD_UTF8, &one));
  tinystore_cell_t bad = tinystore_cell_string(BAD_UTF8);
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_UTF8, tinystore_store_set_cell(store, "t", "r", "c", &bad));
  CHECK_ERROR_MENTIONS("cell.string is not valid UTF-8");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_UTF8, tinystore_store_set_json(store, BAD_UTF8));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_UTF8, tinystore_store_set_tables_schema_json(store, BAD_UTF8));
  tinystore_persister_t *persister = NULL;
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_UTF8, tinystore_file_persister_new(store, BAD_UTF8, &persister));
  CHECK_JSON(store, "[{},{}]");
  CHECK_OK(tinystore_store_free(store));
}

TEST(bad_json) {
  tinystore_store_t *store = NULL, *mergeable = NULL;
  CHECK_OK(tinystore_store_new(&store));
  CHECK_OK(tinystore_mergeable_store_new(NULL, &mergeable));
  CHECK_OK(tinystore_store_set_json(store, "[{\"t\":{\"r\":{\"c\":1}}},{}]"));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_store_set_json(store, "[{\"t\":"));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_store_set_json(store, "[{\"t\":5},{}]"));
  CHECK_ERROR_MENTIONS("expected");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_store_set_tables_json(store, "nope"));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_store_set_values_json(store, "[]"));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_store_set_table_json(store, "t", "{"));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_store_set_row_json(store, "t", "r", "1"));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_store_apply_changes_json(store, "{}"));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_store_set_tables_schema_json(store, "{"));
  tinystore_cell_t broken = tinystore_cell_json("{\"a\":");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_store_set_value(store, "v", &broken));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON,
               tinystore_mergeable_store_set_mergeable_content_json(mergeable, "[[{}"));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON,
               tinystore_mergeable_store_apply_mergeable_changes_json(mergeable, "{\"x\":1}"));
  tinystore_ws_synchronizer_t *sync = NULL;
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON,
               tinystore_ws_synchronizer_new(mergeable, "ws://127.0.0.1:1/r", "{", &sync));
  /* The failed calls changed nothing. */
  CHECK_JSON(store, "[{\"t\":{\"r\":{\"c\":1}}},{}]");
  CHECK_OK(tinystore_store_free(store));
  CHECK_OK(tinystore_store_free(mergeable));
}

TEST(invalid_handles) {
  tinystore_store_t *store = NULL;
  tinystore_persister_t *persister = NULL;
  char path[512];
  bool flag;
  CHECK_OK(tinystore_store_new(&store));
  CHECK_OK(tinystore_file_persister_new(store, temp_path(path, sizeof path, "handles.json"), &persister));
  /* A pointer that was never a handle. */
  static int not_a_handle;
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE,
               tinystore_store_has_table((tinystore_store_t *)&not_a_handle, "t", &flag));
  CHECK_ERROR_MENTIONS("not a live tinystore handle");
  /* Handles of the wrong kind. */
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_store_del_tables((tinystore_store_t *)persister));
  CHECK_ERROR_MENTIONS("is a persister, not a store");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_persister_save((tinystore_persister_t *)store));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_store_free((tinystore_store_t *)persister));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE,
               tinystore_ws_server_free((tinystore_ws_server_t *)store));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE,
               tinystore_ws_synchronizer_free((tinystore_ws_synchronizer_t *)store));
  /* Freed handles, and double frees. */
  CHECK_OK(tinystore_persister_free(persister));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_persister_free(persister));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_persister_save(persister));
  CHECK_OK(tinystore_store_free(store));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_store_free(store));
  CHECK_ERROR_MENTIONS("already freed");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_store_has_table(store, "t", &flag));
  tinystore_cell_t one = tinystore_cell_number(1);
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_store_set_cell(store, "t", "r", "c", &one));
}

TEST(invalid_cells) {
  tinystore_store_t *store = NULL;
  CHECK_OK(tinystore_store_new(&store));
  tinystore_cell_t cell = tinystore_cell_number(1);
  cell.type = (tinystore_cell_type_t)42;
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT, tinystore_store_set_cell(store, "t", "r", "c", &cell));
  CHECK_ERROR_MENTIONS("unknown cell type 42");
  cell.type = TINYSTORE_CELL_TYPE_NONE;
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT, tinystore_store_set_value(store, "v", &cell));
  tinystore_cell_t scalar = tinystore_cell_json("\"text\"");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT, tinystore_store_set_cell(store, "t", "r", "c", &scalar));
  CHECK_ERROR_MENTIONS("object or an array");
  CHECK_JSON(store, "[{},{}]");
  CHECK_OK(tinystore_store_free(store));
}

typedef struct shared_state {
  tinystore_store_t *store;
  int thread;
} shared_state;

static volatile long listener_calls;
static pthread_mutex_t calls_lock = PTHREAD_MUTEX_INITIALIZER;

static void count_calls(void *user_data, tinystore_store_t *store, const tinystore_event_t *event) {
  (void)user_data;
  (void)store;
  (void)event;
  pthread_mutex_lock(&calls_lock);
  listener_calls++;
  pthread_mutex_unlock(&calls_lock);
}

static void *writer(void *arg) {
  shared_state *state = (shared_state *)arg;
  char row[32];
  for (int i = 0; i < 200; i++) {
    snprintf(row, sizeof row, "t%d-r%d", state->thread, i);
    tinystore_cell_t n = tinystore_cell_number(i);
    if (tinystore_store_set_cell(state->store, "rows", row, "n", &n) != TINYSTORE_STATUS_OK) return NULL;
    tinystore_cell_t got;
    if (tinystore_store_get_cell(state->store, "rows", row, "n", &got) != TINYSTORE_STATUS_OK) return NULL;
    tinystore_cell_free(&got);
  }
  return arg;
}

TEST(store_shared_between_threads) {
  tinystore_store_t *store = NULL;
  tinystore_listener_id_t id;
  CHECK_OK(tinystore_store_new(&store));
  CHECK_OK(tinystore_store_add_cell_listener(store, "rows", NULL, "n", false, count_calls, NULL, &id));
  pthread_t threads[4];
  shared_state states[4];
  for (int i = 0; i < 4; i++) {
    states[i].store = store;
    states[i].thread = i;
    CHECK(pthread_create(&threads[i], NULL, writer, &states[i]) == 0);
  }
  for (int i = 0; i < 4; i++) {
    void *result = NULL;
    CHECK(pthread_join(threads[i], &result) == 0);
    CHECK(result == &states[i]);
  }
  size_t rows = 0;
  CHECK_OK(tinystore_store_get_row_count(store, "rows", &rows));
  CHECK(rows == 800);
  CHECK(listener_calls == 800);
  CHECK_OK(tinystore_store_free(store));
}

static const test_case CASES[] = {
    CASE(version),
    CASE(status_names),
    CASE(last_error_is_set_and_cleared),
    CASE(last_error_is_per_thread),
    CASE(cell_constructors),
    CASE(free_functions_are_idempotent),
    CASE(null_arguments),
    CASE(invalid_utf8),
    CASE(bad_json),
    CASE(invalid_handles),
    CASE(invalid_cells),
    CASE(store_shared_between_threads),
};

RUN_TESTS(CASES)
