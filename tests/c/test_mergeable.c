/* MergeableStore: TinyBase's stamped JSON byte for byte, merge, content and changes
 * round trips, hashes, and the errors of the mergeable-only calls. */
#include "harness.h"

#include <time.h>

static uint64_t frozen_clock(void *user_data) { return *(const uint64_t *)user_data; }

static const uint64_t NOV_2023 = 1700000000000ULL;

static tinystore_mergeable_store_t *frozen_store(const char *unique_id) {
  tinystore_mergeable_store_t *store = NULL;
  CHECK_OK(tinystore_mergeable_store_new_with_clock(unique_id, frozen_clock, (void *)&NOV_2023, &store));
  bool mergeable = false;
  CHECK_OK(tinystore_store_is_mergeable(store, &mergeable));
  CHECK(mergeable);
  return store;
}

static char *content_json(tinystore_mergeable_store_t *store) {
  char *json = NULL;
  CHECK_OK(tinystore_mergeable_store_get_mergeable_content_json(store, &json));
  return json;
}

TEST(stamps_match_tinybase) {
  tinystore_mergeable_store_t *a = frozen_store("client1");
  tinystore_cell_t dog = tinystore_cell_string("dog"), yes = tinystore_cell_boolean(true);
  CHECK_OK(tinystore_store_set_cell(a, "pets", "fido", "species", &dog));
  char *json = content_json(a);
  const char *prefix = "[[{\"pets\":[{\"fido\":[{\"species\":[\"dog\",\"NjEtLV-----mmxrx\",3368287843]},\"\",1554302234]}";
  if (strncmp(json, prefix, strlen(prefix)) != 0) FAIL("content JSON is %s", json);
  tinystore_string_free(json);
  CHECK_OK(tinystore_store_set_value(a, "open", &yes));
  uint32_t tables_hash = 0, values_hash = 0;
  CHECK_OK(tinystore_mergeable_store_get_mergeable_content_hashes(a, &tables_hash, &values_hash));
  CHECK(tables_hash == 3126691051u && values_hash == 3110897815u);
  CHECK_OK(tinystore_store_free(a));
}

TEST(merge_both_ways) {
  tinystore_mergeable_store_t *a = NULL, *b = NULL;
  CHECK_OK(tinystore_mergeable_store_new(NULL, &a));
  CHECK_OK(tinystore_mergeable_store_new("bob", &b));
  tinystore_cell_t dog = tinystore_cell_string("dog"), open = tinystore_cell_boolean(true);
  CHECK_OK(tinystore_store_set_cell(a, "pets", "fido", "species", &dog));
  CHECK_OK(tinystore_store_set_value(b, "open", &open));
  CHECK_OK(tinystore_mergeable_store_merge(b, a));
  CHECK_JSON(a, "[{\"pets\":{\"fido\":{\"species\":\"dog\"}}},{\"open\":true}]");
  CHECK_JSON(b, "[{\"pets\":{\"fido\":{\"species\":\"dog\"}}},{\"open\":true}]");
  uint32_t ta, va, tb, vb;
  CHECK_OK(tinystore_mergeable_store_get_mergeable_content_hashes(a, &ta, &va));
  CHECK_OK(tinystore_mergeable_store_get_mergeable_content_hashes(b, &tb, &vb));
  CHECK(ta == tb && va == vb && ta != 0);
  char *ja = content_json(a), *jb = content_json(b);
  CHECK_STR(ja, jb);
  tinystore_string_free(ja);
  tinystore_string_free(jb);
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
}

TEST(content_and_changes_round_trip) {
  tinystore_mergeable_store_t *a = frozen_store("alice"), *b = frozen_store("bob"), *c = frozen_store("carol");
  CHECK_OK(tinystore_store_set_json(a, "[{\"pets\":{\"fido\":{\"species\":\"dog\",\"tags\":\"\\ufffd[1,2]\"}}},{\"open\":true}]"));
  CHECK_OK(tinystore_store_del_row(a, "pets", "fido")); /* leaves tombstones */
  CHECK_OK(tinystore_store_set_row_json(a, "pets", "felix", "{\"species\":\"cat\"}"));
  char *content = content_json(a);
  CHECK_OK(tinystore_mergeable_store_set_mergeable_content_json(b, content));
  char *copy = content_json(b);
  CHECK_STR(copy, content);
  tinystore_string_free(copy);
  CHECK_OK(tinystore_mergeable_store_apply_mergeable_changes_json(c, content));
  CHECK_JSON(c, "[{\"pets\":{\"felix\":{\"species\":\"cat\"}}},{\"open\":true}]");
  tinystore_string_free(content);
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  CHECK_OK(tinystore_store_free(c));
}

static uint64_t one_hour_ahead(void *user_data) {
  (void)user_data;
  return (uint64_t)time(NULL) * 1000ULL + 3600ULL * 1000ULL;
}

TEST(future_stamps_are_rejected) {
  tinystore_mergeable_store_t *future = NULL, *now = NULL;
  CHECK_OK(tinystore_mergeable_store_new_with_clock("future", one_hour_ahead, NULL, &future));
  CHECK_OK(tinystore_mergeable_store_new(NULL, &now));
  tinystore_cell_t v = tinystore_cell_number(1);
  CHECK_OK(tinystore_store_set_value(future, "v", &v));
  char *content = content_json(future);
  CHECK_STATUS(TINYSTORE_STATUS_REJECTED, tinystore_mergeable_store_apply_mergeable_changes_json(now, content));
  CHECK_ERROR_MENTIONS("HLC");
  CHECK_STATUS(TINYSTORE_STATUS_REJECTED, tinystore_mergeable_store_set_mergeable_content_json(now, content));
  CHECK_JSON(now, "[{},{}]");
  tinystore_string_free(content);
  CHECK_OK(tinystore_store_free(future));
  CHECK_OK(tinystore_store_free(now));
}

TEST(plain_stores_are_not_mergeable) {
  tinystore_store_t *plain = NULL;
  tinystore_mergeable_store_t *m = NULL;
  CHECK_OK(tinystore_store_new(&plain));
  CHECK_OK(tinystore_mergeable_store_new(NULL, &m));
  char *json = NULL;
  uint32_t t, v;
  CHECK_STATUS(TINYSTORE_STATUS_NOT_MERGEABLE, tinystore_mergeable_store_get_mergeable_content_json(plain, &json));
  CHECK_ERROR_MENTIONS("plain store");
  CHECK_STATUS(TINYSTORE_STATUS_NOT_MERGEABLE, tinystore_mergeable_store_set_mergeable_content_json(plain, "[]"));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_MERGEABLE, tinystore_mergeable_store_apply_mergeable_changes_json(plain, "[]"));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_MERGEABLE, tinystore_mergeable_store_get_mergeable_content_hashes(plain, &t, &v));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_MERGEABLE, tinystore_mergeable_store_merge(m, plain));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_MERGEABLE, tinystore_mergeable_store_merge(plain, m));
  tinystore_ws_synchronizer_t *sync = NULL;
  CHECK_STATUS(TINYSTORE_STATUS_NOT_MERGEABLE,
               tinystore_ws_synchronizer_new(plain, "ws://127.0.0.1:1/room", NULL, &sync));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_mergeable_store_merge(m, (tinystore_mergeable_store_t *)&t));
  CHECK_OK(tinystore_store_free(plain));
  CHECK_OK(tinystore_store_free(m));
}

static const test_case CASES[] = {
    CASE(stamps_match_tinybase),
    CASE(merge_both_ways),
    CASE(content_and_changes_round_trip),
    CASE(future_stamps_are_rejected),
    CASE(plain_stores_are_not_mergeable),
};

RUN_TESTS(CASES)
