/* Sync: a server started through the ABI (port 0), two C MergeableStores syncing through it,
 * rooms persisted to SQLite across a server restart, options and connection errors. */
#include "harness.h"

#include <pthread.h>

static tinystore_ws_server_t *start_server(const char *db, uint16_t *port) {
  tinystore_ws_server_t *server = NULL;
  CHECK_OK(tinystore_ws_server_new(NULL, 0, db, &server));
  CHECK_OK(tinystore_ws_server_port(server, port));
  CHECK(*port != 0);
  return server;
}

static tinystore_mergeable_store_t *new_mergeable(void) {
  tinystore_mergeable_store_t *store = NULL;
  CHECK_OK(tinystore_mergeable_store_new(NULL, &store));
  return store;
}

typedef struct remote_changes {
  pthread_mutex_t lock;
  int calls;
  int on_caller_thread;
  pthread_t caller;
} remote_changes;

static void on_remote_cell(void *user_data, tinystore_store_t *store, const tinystore_event_t *event) {
  (void)store;
  (void)event;
  remote_changes *r = (remote_changes *)user_data;
  pthread_mutex_lock(&r->lock);
  r->calls++;
  if (pthread_equal(pthread_self(), r->caller)) r->on_caller_thread++;
  pthread_mutex_unlock(&r->lock);
}

TEST(two_stores_sync_through_a_server) {
  char db[512];
  temp_path(db, sizeof db, "rooms.sqlite");
  uint16_t port = 0;
  tinystore_ws_server_t *server = start_server(db, &port);
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/petShop", (unsigned)port);

  tinystore_mergeable_store_t *a = new_mergeable(), *b = new_mergeable();
  remote_changes r;
  memset(&r, 0, sizeof r);
  pthread_mutex_init(&r.lock, NULL);
  r.caller = pthread_self();
  tinystore_listener_id_t id;
  CHECK_OK(tinystore_store_add_cell_listener(b, "pets", NULL, NULL, false, on_remote_cell, &r, &id));

  tinystore_ws_synchronizer_t *sa = NULL, *sb = NULL;
  CHECK_OK(tinystore_ws_synchronizer_new(a, url, NULL, &sa));
  CHECK_OK(tinystore_ws_synchronizer_new(b, url, "{\"requestTimeoutMs\":2000}", &sb));
  tinystore_connection_status_t status = TINYSTORE_CONNECTION_STATUS_DISCONNECTED;
  CHECK_OK(tinystore_ws_synchronizer_get_connection_status(sa, &status));
  CHECK(status == TINYSTORE_CONNECTION_STATUS_CONNECTED);
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sa));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sb));

  tinystore_cell_t dog = tinystore_cell_string("dog"), cat = tinystore_cell_string("cat");
  CHECK_OK(tinystore_store_set_cell(a, "pets", "fido", "species", &dog));
  CHECK(wait_for_string_cell(b, "pets", "fido", "species", "dog", 10000));
  CHECK_OK(tinystore_store_set_cell(b, "pets", "felix", "species", &cat));
  CHECK(wait_for_string_cell(a, "pets", "felix", "species", "cat", 10000));

  /* Remote changes fire b's listener on a library thread, not this one. */
  pthread_mutex_lock(&r.lock);
  CHECK(r.calls >= 2 && r.on_caller_thread == 1); /* felix was written here */
  pthread_mutex_unlock(&r.lock);

  uint64_t sends = 0, receives = 0;
  CHECK_OK(tinystore_ws_synchronizer_get_stats(sa, &sends, &receives));
  CHECK(sends > 0 && receives > 0);
  size_t paths = 0, clients = 0;
  CHECK_OK(tinystore_ws_server_get_stats(server, &paths, &clients));
  CHECK(paths == 1 && clients == 2);
  tinystore_string_list_t ids;
  CHECK_OK(tinystore_ws_server_get_path_ids(server, &ids));
  CHECK(ids.len == 1);
  CHECK_STR(ids.items[0], "petShop");
  tinystore_string_list_free(&ids);
  CHECK_OK(tinystore_ws_server_get_client_ids(server, "petShop", &ids));
  CHECK(ids.len == 2);
  tinystore_string_list_free(&ids);
  CHECK_OK(tinystore_ws_server_get_client_ids(server, "nowhere", &ids));
  CHECK(ids.len == 0);

  /* After stop_sync, b no longer receives a's changes. */
  CHECK_OK(tinystore_ws_synchronizer_stop_sync(sb));
  tinystore_cell_t eel = tinystore_cell_string("eel");
  CHECK_OK(tinystore_store_set_cell(a, "pets", "fido", "species", &eel));
  sleep_ms(300);
  CHECK(has_string_cell(b, "pets", "fido", "species", "dog"));

  CHECK_OK(tinystore_ws_synchronizer_free(sa));
  CHECK_OK(tinystore_ws_synchronizer_free(sb));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_ws_synchronizer_free(sb));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_ws_synchronizer_start_sync(sa));
  CHECK_OK(tinystore_ws_server_free(server));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_ws_server_free(server));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  pthread_mutex_destroy(&r.lock);
  remove(db);
}

TEST(rooms_survive_a_server_restart) {
  char db[512], url[128];
  temp_path(db, sizeof db, "restart.sqlite");
  uint16_t port = 0;
  tinystore_ws_server_t *server = start_server(db, &port);
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/notes", (unsigned)port);
  tinystore_mergeable_store_t *writer = new_mergeable();
  tinystore_ws_synchronizer_t *sync = NULL;
  CHECK_OK(tinystore_ws_synchronizer_new(writer, url, NULL, &sync));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sync));
  tinystore_cell_t text = tinystore_cell_string("remember me");
  CHECK_OK(tinystore_store_set_cell(writer, "notes", "n1", "text", &text));
  /* Wait until the room's own store has it: a second client pulls it from the room. */
  tinystore_mergeable_store_t *probe = new_mergeable();
  tinystore_ws_synchronizer_t *probe_sync = NULL;
  CHECK_OK(tinystore_ws_synchronizer_new(probe, url, NULL, &probe_sync));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(probe_sync));
  CHECK(wait_for_string_cell(probe, "notes", "n1", "text", "remember me", 10000));
  CHECK_OK(tinystore_ws_synchronizer_free(probe_sync));
  CHECK_OK(tinystore_ws_synchronizer_free(sync));
  CHECK_OK(tinystore_ws_server_free(server)); /* saves the room */

  server = start_server(db, &port);
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/notes", (unsigned)port);
  tinystore_mergeable_store_t *reader = new_mergeable();
  CHECK_OK(tinystore_ws_synchronizer_new(reader, url, NULL, &sync));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sync));
  CHECK(wait_for_string_cell(reader, "notes", "n1", "text", "remember me", 10000));
  CHECK_OK(tinystore_ws_synchronizer_free(sync));
  CHECK_OK(tinystore_ws_server_free(server));
  CHECK_OK(tinystore_store_free(writer));
  CHECK_OK(tinystore_store_free(probe));
  CHECK_OK(tinystore_store_free(reader));
  remove(db);
}

TEST(multiplexed_channel_and_options) {
  uint16_t port = 0;
  tinystore_ws_server_t *server = start_server(NULL, &port); /* relay only */
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u", (unsigned)port);
  const char *options =
      "{\"channel\":\"shop\",\"requestTimeoutMs\":1000,\"connectTimeoutMs\":5000,"
      "\"reconnect\":true,\"fragmentSize\":64,\"headers\":{\"x-client\":\"c-test\"}}";
  tinystore_mergeable_store_t *a = new_mergeable(), *b = new_mergeable();
  tinystore_ws_synchronizer_t *sa = NULL, *sb = NULL;
  CHECK_OK(tinystore_ws_synchronizer_new(a, url, options, &sa));
  CHECK_OK(tinystore_ws_synchronizer_new(b, url, options, &sb));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sa));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sb));
  tinystore_cell_t long_text = tinystore_cell_string(
      "a value longer than the 64-byte fragment size, so that it travels in several fragments");
  CHECK_OK(tinystore_store_set_value(a, "motto", &long_text));
  tinystore_cell_t got;
  int arrived = 0;
  for (int i = 0; i < 1000 && !arrived; i++) {
    if (tinystore_store_get_value(b, "motto", &got) == TINYSTORE_STATUS_OK) {
      arrived = strcmp(got.string, long_text.string) == 0;
      tinystore_cell_free(&got);
    } else {
      sleep_ms(10);
    }
  }
  CHECK(arrived);
  CHECK_OK(tinystore_ws_synchronizer_free(sa));
  CHECK_OK(tinystore_ws_synchronizer_free(sb));
  CHECK_OK(tinystore_ws_server_free(server));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
}

TEST(connection_errors) {
  uint16_t port = 0;
  tinystore_ws_server_t *server = start_server(NULL, &port);
  CHECK_OK(tinystore_ws_server_free(server)); /* nothing listens on `port` any more */
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/room", (unsigned)port);
  tinystore_mergeable_store_t *store = new_mergeable();
  tinystore_ws_synchronizer_t *sync = NULL;
  CHECK_STATUS(TINYSTORE_STATUS_NETWORK, tinystore_ws_synchronizer_new(store, url, NULL, &sync));
  CHECK_ERROR_MENTIONS("cannot connect");
  CHECK(sync == NULL);
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT,
               tinystore_ws_synchronizer_new(store, "http://127.0.0.1/room", NULL, &sync));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT,
               tinystore_ws_synchronizer_new(store, url, "{\"colour\":\"blue\"}", &sync));
  CHECK_ERROR_MENTIONS("unknown option");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT,
               tinystore_ws_synchronizer_new(store, url, "{\"requestTimeoutMs\":-1}", &sync));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT, tinystore_ws_synchronizer_new(store, url, "[]", &sync));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT,
               tinystore_ws_synchronizer_new(store, url, "{\"fallbackUrls\":\"ws://x\"}", &sync));
  CHECK_ERROR_MENTIONS("fallbackUrls");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT,
               tinystore_ws_synchronizer_new(store, url, "{\"fallbackUrls\":[\"http://x\"]}", &sync));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_ws_synchronizer_new(store, NULL, NULL, &sync));
  /* A port already in use cannot be bound. */
  tinystore_ws_server_t *first = start_server(NULL, &port), *second = NULL;
  CHECK_STATUS(TINYSTORE_STATUS_NETWORK, tinystore_ws_server_new("127.0.0.1", port, NULL, &second));
  CHECK_OK(tinystore_ws_server_free(first));
  CHECK_OK(tinystore_store_free(store));
}

/* A dead first URL: the client opens on the next one of `fallbackUrls`. */
TEST(fallback_urls) {
  uint16_t port = 0;
  tinystore_ws_server_t *server = start_server(NULL, &port);
  char options[256];
  snprintf(options, sizeof options, "{\"fallbackUrls\":[\"ws://127.0.0.1:%u/room\"]}", (unsigned)port);
  tinystore_mergeable_store_t *a = new_mergeable(), *b = new_mergeable();
  tinystore_ws_synchronizer_t *sa = NULL, *sb = NULL;
  CHECK_OK(tinystore_ws_synchronizer_new(a, "ws://127.0.0.1:1/room", options, &sa));
  CHECK_OK(tinystore_ws_synchronizer_new(b, "ws://127.0.0.1:1/room", options, &sb));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sa));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sb));
  tinystore_cell_t yes = tinystore_cell_boolean(true), got;
  CHECK_OK(tinystore_store_set_value(a, "open", &yes));
  int arrived = 0;
  for (int i = 0; i < 1000 && !arrived; i++) {
    if (tinystore_store_get_value(b, "open", &got) == TINYSTORE_STATUS_OK) {
      arrived = got.type == TINYSTORE_CELL_TYPE_BOOLEAN && got.boolean;
      tinystore_cell_free(&got);
    } else {
      sleep_ms(10);
    }
  }
  CHECK(arrived);
  CHECK_OK(tinystore_ws_synchronizer_free(sa));
  CHECK_OK(tinystore_ws_synchronizer_free(sb));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  CHECK_OK(tinystore_ws_server_free(server));
}

static const test_case CASES[] = {
    CASE(two_stores_sync_through_a_server),
    CASE(rooms_survive_a_server_restart),
    CASE(multiplexed_channel_and_options),
    CASE(connection_errors),
    CASE(fallback_urls),
};

RUN_TESTS(CASES)
