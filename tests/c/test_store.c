/* The Store: cells, values, tables and rows, ids, whole-content JSON, changes, schemas and
 * transactions. */
#include "harness.h"

#include <math.h>

static tinystore_store_t *new_store(void) {
  tinystore_store_t *store = NULL;
  CHECK_OK(tinystore_store_new(&store));
  CHECK(store != NULL);
  bool mergeable = true;
  CHECK_OK(tinystore_store_is_mergeable(store, &mergeable));
  CHECK(!mergeable);
  return store;
}

static void check_ids(tinystore_string_list_t *ids, const char *const *expected, size_t count,
                      int line) {
  if (ids->len != count) {
    fprintf(stderr, "line %d: %zu ids, expected %zu\n", line, ids->len, count);
    exit(1);
  }
  for (size_t i = 0; i < count; i++) {
    if (strcmp(ids->items[i], expected[i]) != 0) {
      fprintf(stderr, "line %d: id %zu is %s, expected %s\n", line, i, ids->items[i], expected[i]);
      exit(1);
    }
  }
  tinystore_string_list_free(ids);
}
#define CHECK_IDS(list, ...)                                                       \
  do {                                                                             \
    const char *const expected_[] = {__VA_ARGS__};                                 \
    check_ids(&(list), expected_, sizeof expected_ / sizeof *expected_, __LINE__); \
  } while (0)

TEST(cells_of_every_type) {
  tinystore_store_t *store = new_store();
  tinystore_cell_t s = tinystore_cell_string("dog"), n = tinystore_cell_number(4.5),
                   b = tinystore_cell_boolean(true), z = tinystore_cell_null(),
                   j = tinystore_cell_json("{\"b\":1,\"a\":[true,null]}");
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "species", &s));
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "legs", &n));
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "sold", &b));
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "owner", &z));
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "meta", &j));

  tinystore_cell_t cell;
  CHECK_OK(tinystore_store_get_cell(store, "pets", "fido", "species", &cell));
  CHECK(cell.type == TINYSTORE_CELL_TYPE_STRING && cell.owned && cell.string_len == 3);
  CHECK_STR(cell.string, "dog");
  tinystore_cell_free(&cell);
  CHECK_OK(tinystore_store_get_cell(store, "pets", "fido", "legs", &cell));
  CHECK(cell.type == TINYSTORE_CELL_TYPE_NUMBER && cell.number == 4.5 && !cell.owned);
  CHECK_OK(tinystore_store_get_cell(store, "pets", "fido", "sold", &cell));
  CHECK(cell.type == TINYSTORE_CELL_TYPE_BOOLEAN && cell.boolean);
  CHECK_OK(tinystore_store_get_cell(store, "pets", "fido", "owner", &cell));
  CHECK(cell.type == TINYSTORE_CELL_TYPE_NULL);
  CHECK_OK(tinystore_store_get_cell(store, "pets", "fido", "meta", &cell));
  CHECK(cell.type == TINYSTORE_CELL_TYPE_JSON);
  CHECK_STR(cell.string, "{\"b\":1,\"a\":[true,null]}");
  tinystore_cell_free(&cell);

  /* Objects are stored in TinyBase's encoded form in the JSON of the store. */
  CHECK_JSON(store,
             "[{\"pets\":{\"fido\":{\"species\":\"dog\",\"legs\":4.5,\"sold\":true,\"owner\":null,"
             "\"meta\":\"\xef\xbf\xbd{\\\"b\\\":1,\\\"a\\\":[true,null]}\"}}},{}]");

  bool has = false;
  CHECK_OK(tinystore_store_has_cell(store, "pets", "fido", "legs", &has));
  CHECK(has);
  CHECK_STATUS(TINYSTORE_STATUS_NOT_FOUND, tinystore_store_get_cell(store, "pets", "fido", "tail", &cell));
  CHECK_ERROR_MENTIONS("pets/fido/tail");
  CHECK_OK(tinystore_store_del_cell(store, "pets", "fido", "legs", false));
  CHECK_OK(tinystore_store_has_cell(store, "pets", "fido", "legs", &has));
  CHECK(!has);
  /* Without a schema default, force_del deletes just the cell. */
  CHECK_OK(tinystore_store_del_cell(store, "pets", "fido", "sold", true));
  CHECK_OK(tinystore_store_has_cell(store, "pets", "fido", "sold", &has));
  CHECK(!has);
  CHECK_OK(tinystore_store_has_row(store, "pets", "fido", &has));
  CHECK(has);
  CHECK_OK(tinystore_store_free(store));
}

TEST(strings_with_nul_and_unicode) {
  tinystore_store_t *store = new_store();
  tinystore_cell_t cell = tinystore_cell_string("a");
  const char text[] = "a\0b\xc3\xa9";
  cell.string = text;
  cell.string_len = sizeof text - 1;
  CHECK_OK(tinystore_store_set_cell(store, "t", "r", "c", &cell));
  tinystore_cell_t got;
  CHECK_OK(tinystore_store_get_cell(store, "t", "r", "c", &got));
  CHECK(got.string_len == 5 && memcmp(got.string, text, 5) == 0 && got.string[5] == 0);
  tinystore_cell_free(&got);
  tinystore_cell_t snow = tinystore_cell_string("\xe2\x98\x83");
  CHECK_OK(tinystore_store_set_value(store, "\xe2\x98\x83", &snow));
  CHECK(has_string_cell(store, "t", "r", "c", "a") == 1); /* strcmp stops at the NUL */
  CHECK_OK(tinystore_store_free(store));
}

TEST(invalid_cells_are_not_written) {
  tinystore_store_t *store = new_store();
  tinystore_cell_t nan = tinystore_cell_number(NAN);
  CHECK_OK(tinystore_store_set_cell(store, "t", "r", "c", &nan));
  tinystore_cell_t reserved = tinystore_cell_string("\xef\xbf\xbc"); /* U+FFFC */
  CHECK_OK(tinystore_store_set_value(store, "v", &reserved));
  CHECK_JSON(store, "[{},{}]");
  CHECK_OK(tinystore_store_free(store));
}

TEST(values) {
  tinystore_store_t *store = new_store();
  tinystore_cell_t open = tinystore_cell_boolean(true), name = tinystore_cell_string("Pets");
  CHECK_OK(tinystore_store_set_value(store, "open", &open));
  CHECK_OK(tinystore_store_set_value(store, "name", &name));
  bool has = false;
  CHECK_OK(tinystore_store_has_value(store, "open", &has));
  CHECK(has);
  tinystore_cell_t value;
  CHECK_OK(tinystore_store_get_value(store, "name", &value));
  CHECK_STR(value.string, "Pets");
  tinystore_cell_free(&value);
  tinystore_string_list_t ids;
  CHECK_OK(tinystore_store_get_value_ids(store, &ids));
  CHECK_IDS(ids, "open", "name");
  CHECK_OK(tinystore_store_del_value(store, "open"));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_FOUND, tinystore_store_get_value(store, "open", &value));
  CHECK_OK(tinystore_store_del_values(store));
  CHECK_OK(tinystore_store_has_value(store, "name", &has));
  CHECK(!has);
  CHECK_OK(tinystore_store_free(store));
}

TEST(tables_rows_and_ids) {
  tinystore_store_t *store = new_store();
  CHECK_OK(tinystore_store_set_tables_json(
      store, "{\"pets\":{\"fido\":{\"species\":\"dog\"},\"felix\":{\"species\":\"cat\",\"legs\":4}},"
             "\"owners\":{\"alice\":{\"age\":30}}}"));
  tinystore_string_list_t ids;
  CHECK_OK(tinystore_store_get_table_ids(store, &ids));
  CHECK_IDS(ids, "pets", "owners");
  CHECK_OK(tinystore_store_get_row_ids(store, "pets", &ids));
  CHECK_IDS(ids, "fido", "felix");
  CHECK_OK(tinystore_store_get_cell_ids(store, "pets", "felix", &ids));
  CHECK_IDS(ids, "species", "legs");
  CHECK_OK(tinystore_store_get_table_cell_ids(store, "pets", &ids));
  CHECK_IDS(ids, "species", "legs");
  CHECK_OK(tinystore_store_get_row_ids(store, "nothing", &ids));
  CHECK(ids.len == 0 && ids.items == NULL);
  tinystore_string_list_free(&ids);
  size_t count = 0;
  CHECK_OK(tinystore_store_get_row_count(store, "pets", &count));
  CHECK(count == 2);
  bool has = false;
  CHECK_OK(tinystore_store_has_table(store, "owners", &has));
  CHECK(has);
  CHECK_OK(tinystore_store_has_row(store, "pets", "fido", &has));
  CHECK(has);
  CHECK_OK(tinystore_store_del_row(store, "pets", "fido"));
  CHECK_OK(tinystore_store_get_row_count(store, "pets", &count));
  CHECK(count == 1);
  CHECK_OK(tinystore_store_del_table(store, "owners"));
  CHECK_OK(tinystore_store_has_table(store, "owners", &has));
  CHECK(!has);
  CHECK_OK(tinystore_store_del_tables(store));
  CHECK_JSON(store, "[{},{}]");
  CHECK_OK(tinystore_store_free(store));
}

TEST(sorted_row_ids) {
  tinystore_store_t *store = new_store();
  CHECK_OK(tinystore_store_set_table_json(
      store, "pets", "{\"fido\":{\"price\":5},\"felix\":{\"price\":4},\"cujo\":{\"price\":9},\"rex\":{\"name\":\"rex\"}}"));
  tinystore_string_list_t ids;
  CHECK_OK(tinystore_store_get_sorted_row_ids(store, "pets", "price", false, 0, 0, &ids));
  CHECK_IDS(ids, "rex", "felix", "fido", "cujo");
  CHECK_OK(tinystore_store_get_sorted_row_ids(store, "pets", "price", true, 1, 2, &ids));
  CHECK_IDS(ids, "fido", "felix");
  CHECK_OK(tinystore_store_get_sorted_row_ids(store, "pets", NULL, false, 0, 0, &ids));
  CHECK_IDS(ids, "cujo", "felix", "fido", "rex");
  CHECK_OK(tinystore_store_free(store));
}

TEST(whole_content_json) {
  tinystore_store_t *store = new_store();
  CHECK_OK(tinystore_store_set_json(store, "[{\"pets\":{\"fido\":{\"species\":\"dog\"}}},{\"open\":true}]"));
  CHECK_JSON(store, "[{\"pets\":{\"fido\":{\"species\":\"dog\"}}},{\"open\":true}]");
  char *json = NULL;
  CHECK_OK(tinystore_store_get_tables_json(store, &json));
  CHECK_STR(json, "{\"pets\":{\"fido\":{\"species\":\"dog\"}}}");
  tinystore_string_free(json);
  CHECK_OK(tinystore_store_get_values_json(store, &json));
  CHECK_STR(json, "{\"open\":true}");
  tinystore_string_free(json);
  CHECK_OK(tinystore_store_set_values_json(store, "{\"open\":false,\"employees\":3}"));
  CHECK_OK(tinystore_store_set_partial_values_json(store, "{\"employees\":4,\"name\":\"Pets\"}"));
  CHECK_OK(tinystore_store_get_values_json(store, &json));
  CHECK_STR(json, "{\"open\":false,\"employees\":4,\"name\":\"Pets\"}");
  tinystore_string_free(json);
  CHECK_OK(tinystore_store_get_table_json(store, "pets", &json));
  CHECK_STR(json, "{\"fido\":{\"species\":\"dog\"}}");
  tinystore_string_free(json);
  CHECK_OK(tinystore_store_get_table_json(store, "none", &json));
  CHECK_STR(json, "{}");
  tinystore_string_free(json);
  CHECK_OK(tinystore_store_set_row_json(store, "pets", "felix", "{\"species\":\"cat\",\"legs\":4}"));
  CHECK_OK(tinystore_store_set_partial_row_json(store, "pets", "felix", "{\"legs\":3,\"tail\":true}"));
  CHECK_OK(tinystore_store_get_row_json(store, "pets", "felix", &json));
  CHECK_STR(json, "{\"species\":\"cat\",\"legs\":3,\"tail\":true}");
  tinystore_string_free(json);
  /* set_tables_json("{}") deletes every table. */
  CHECK_OK(tinystore_store_set_tables_json(store, "{}"));
  CHECK_OK(tinystore_store_get_tables_json(store, &json));
  CHECK_STR(json, "{}");
  tinystore_string_free(json);
  CHECK_OK(tinystore_store_free(store));
}

TEST(add_row) {
  tinystore_store_t *store = new_store();
  char *id = NULL;
  CHECK_OK(tinystore_store_add_row_json(store, "pets", "{\"species\":\"dog\"}", false, &id));
  CHECK_STR(id, "0");
  tinystore_string_free(id);
  CHECK_OK(tinystore_store_add_row_json(store, "pets", "{\"species\":\"cat\"}", false, &id));
  CHECK_STR(id, "1");
  tinystore_string_free(id);
  CHECK_OK(tinystore_store_del_row(store, "pets", "0"));
  CHECK_OK(tinystore_store_add_row_json(store, "pets", "{\"species\":\"eel\"}", true, &id));
  CHECK_STR(id, "0");
  tinystore_string_free(id);
  /* An invalid row adds nothing: OK with a NULL id, as TinyBase returns undefined. */
  id = (char *)"sentinel";
  CHECK_OK(tinystore_store_add_row_json(store, "pets", "{}", false, &id));
  CHECK(id == NULL);
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_store_add_row_json(store, "pets", "{}", false, NULL));
  CHECK_OK(tinystore_store_free(store));
}

TEST(apply_changes) {
  tinystore_store_t *store = new_store();
  CHECK_OK(tinystore_store_set_json(store, "[{\"pets\":{\"fido\":{\"legs\":3},\"felix\":{\"legs\":4}}},{\"open\":true}]"));
  CHECK_OK(tinystore_store_apply_changes_json(
      store, "[{\"pets\":{\"fido\":{\"legs\":4,\"color\":\"brown\"},\"felix\":null}},{\"open\":null,\"n\":1},1]"));
  CHECK_JSON(store, "[{\"pets\":{\"fido\":{\"legs\":4,\"color\":\"brown\"}}},{\"n\":1}]");
  CHECK_OK(tinystore_store_free(store));
}

TEST(schemas) {
  tinystore_store_t *store = new_store();
  CHECK_OK(tinystore_store_set_tables_schema_json(
      store, "{\"pets\":{\"species\":{\"type\":\"string\"},\"legs\":{\"type\":\"number\",\"default\":4}}}"));
  CHECK_OK(tinystore_store_set_values_schema_json(store, "{\"open\":{\"type\":\"boolean\",\"default\":true}}"));
  tinystore_cell_t dog = tinystore_cell_string("dog"), wrong = tinystore_cell_string("four");
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "species", &dog));
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "legs", &wrong)); /* rejected by the schema */
  CHECK_OK(tinystore_store_set_cell(store, "other", "x", "y", &dog));        /* no such table */
  CHECK_JSON(store, "[{\"pets\":{\"fido\":{\"species\":\"dog\",\"legs\":4}}},{\"open\":true}]");
  /* A cell with a default is reset to it; force_del deletes the whole row instead. */
  tinystore_cell_t three = tinystore_cell_number(3);
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "legs", &three));
  CHECK_OK(tinystore_store_del_cell(store, "pets", "fido", "legs", false));
  CHECK_JSON(store, "[{\"pets\":{\"fido\":{\"species\":\"dog\",\"legs\":4}}},{\"open\":true}]");
  CHECK_OK(tinystore_store_del_cell(store, "pets", "fido", "legs", true));
  CHECK_JSON(store, "[{},{\"open\":true}]");
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "species", &dog));
  char *json = NULL;
  CHECK_OK(tinystore_store_get_tables_schema_json(store, &json));
  CHECK_STR(json, "{\"pets\":{\"species\":{\"type\":\"string\"},\"legs\":{\"type\":\"number\",\"default\":4}}}");
  tinystore_string_free(json);
  CHECK_OK(tinystore_store_get_values_schema_json(store, &json));
  CHECK_STR(json, "{\"open\":{\"type\":\"boolean\",\"default\":true}}");
  tinystore_string_free(json);
  CHECK_OK(tinystore_store_get_schema_json(store, &json));
  CHECK(strncmp(json, "[{\"pets\"", 8) == 0);
  tinystore_string_free(json);
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_SCHEMA, tinystore_store_set_tables_schema_json(store, "{\"t\":5}"));
  CHECK_OK(tinystore_store_del_schema(store));
  CHECK_OK(tinystore_store_get_schema_json(store, &json));
  CHECK_STR(json, "[{},{}]");
  tinystore_string_free(json);
  CHECK_OK(tinystore_store_set_cell(store, "pets", "fido", "legs", &wrong));
  CHECK(has_string_cell(store, "pets", "fido", "legs", "four"));
  CHECK_OK(tinystore_store_free(store));
}

static int transactions_finished;

static void on_did_finish(void *user_data, tinystore_store_t *store, const tinystore_event_t *event) {
  (void)user_data;
  (void)store;
  CHECK(event->kind == TINYSTORE_LISTENER_DID_FINISH_TRANSACTION);
  transactions_finished++;
}

TEST(explicit_transactions) {
  tinystore_store_t *store = new_store();
  tinystore_listener_id_t id;
  CHECK_OK(tinystore_store_add_did_finish_transaction_listener(store, on_did_finish, NULL, &id));
  tinystore_cell_t one = tinystore_cell_number(1), two = tinystore_cell_number(2);
  bool in = true;
  CHECK_OK(tinystore_store_is_in_transaction(store, &in));
  CHECK(!in);
  CHECK_OK(tinystore_store_transaction_begin(store));
  CHECK_OK(tinystore_store_is_in_transaction(store, &in));
  CHECK(in);
  CHECK_OK(tinystore_store_set_cell(store, "t", "r", "a", &one));
  CHECK_OK(tinystore_store_transaction_begin(store)); /* nested */
  CHECK_OK(tinystore_store_set_cell(store, "t", "r", "b", &two));
  CHECK_OK(tinystore_store_transaction_commit(store));
  CHECK(transactions_finished == 0);
  char *changes = NULL;
  CHECK_OK(tinystore_store_get_transaction_changes_json(store, &changes));
  CHECK_STR(changes, "[{\"t\":{\"r\":{\"a\":1,\"b\":2}}},{},1]");
  tinystore_string_free(changes);
  CHECK_OK(tinystore_store_transaction_commit(store));
  CHECK(transactions_finished == 1);
  CHECK_JSON(store, "[{\"t\":{\"r\":{\"a\":1,\"b\":2}}},{}]");

  /* Rolled back: everything done in the transaction is undone. */
  CHECK_OK(tinystore_store_transaction_begin(store));
  CHECK_OK(tinystore_store_set_cell(store, "t", "r", "a", &two));
  CHECK_OK(tinystore_store_del_row(store, "t", "r"));
  CHECK_OK(tinystore_store_set_tables_schema_json(store, "{\"t\":{\"a\":{\"type\":\"string\"}}}"));
  CHECK_OK(tinystore_store_transaction_rollback(store));
  CHECK(transactions_finished == 2);
  CHECK_JSON(store, "[{\"t\":{\"r\":{\"a\":1,\"b\":2}}},{}]");
  char *schema = NULL;
  CHECK_OK(tinystore_store_get_tables_schema_json(store, &schema));
  CHECK_STR(schema, "{}");
  tinystore_string_free(schema);

  CHECK_STATUS(TINYSTORE_STATUS_INVALID_STATE, tinystore_store_transaction_commit(store));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_STATE, tinystore_store_transaction_rollback(store));
  CHECK_OK(tinystore_store_get_transaction_changes_json(store, &changes));
  CHECK_STR(changes, "[{},{},1]");
  tinystore_string_free(changes);
  /* A transaction left open is closed when the handle is freed. */
  CHECK_OK(tinystore_store_transaction_begin(store));
  CHECK_OK(tinystore_store_free(store));
}

static bool body_commit(void *user_data, tinystore_store_t *store) {
  tinystore_cell_t v = tinystore_cell_string((const char *)user_data);
  CHECK_OK(tinystore_store_set_value(store, "who", &v));
  bool in = false;
  CHECK_OK(tinystore_store_is_in_transaction(store, &in));
  CHECK(in);
  return true;
}

static bool body_rollback(void *user_data, tinystore_store_t *store) {
  tinystore_cell_t v = tinystore_cell_string((const char *)user_data);
  CHECK_OK(tinystore_store_set_value(store, "who", &v));
  return false;
}

TEST(transaction_callback) {
  tinystore_store_t *store = new_store();
  CHECK_OK(tinystore_store_transaction(store, body_commit, (void *)"alice"));
  CHECK_JSON(store, "[{},{\"who\":\"alice\"}]");
  CHECK_OK(tinystore_store_transaction(store, body_rollback, (void *)"bob"));
  CHECK_JSON(store, "[{},{\"who\":\"alice\"}]");
  CHECK_OK(tinystore_store_free(store));
}

static const test_case CASES[] = {
    CASE(cells_of_every_type),
    CASE(strings_with_nul_and_unicode),
    CASE(invalid_cells_are_not_written),
    CASE(values),
    CASE(tables_rows_and_ids),
    CASE(sorted_row_ids),
    CASE(whole_content_json),
    CASE(add_row),
    CASE(apply_changes),
    CASE(schemas),
    CASE(explicit_transactions),
    CASE(transaction_callback),
};

RUN_TESTS(CASES)
