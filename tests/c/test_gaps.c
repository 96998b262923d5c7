/* The C ABI's later additions: persister and synchronizer status listeners, custom persisters
 * (C load/save callbacks), the sync server's auth callback, and the MergeableStore hash/diff
 * API — each with its misuse (NULL arguments, freed and wrong-kind handles, failing
 * callbacks). */
#include "harness.h"

#include <pthread.h>

static tinystore_mergeable_store_t *new_mergeable(void) {
  tinystore_mergeable_store_t *store = NULL;
  CHECK_OK(tinystore_mergeable_store_new(NULL, &store));
  return store;
}

static tinystore_store_t *new_store(void) {
  tinystore_store_t *store = NULL;
  CHECK_OK(tinystore_store_new(&store));
  return store;
}

/* ------------------------------------------------------------------ status listeners */

/* Statuses seen by a listener (listeners of synchronizers run on network threads). */
typedef struct statuses {
  pthread_mutex_t lock;
  int seen[64];
  int count;
  void *handle; /* the handle the listener was given */
} statuses;

static void statuses_init(statuses *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->lock, NULL);
}

static void record(statuses *s, void *handle, tinystore_persister_status_t status) {
  pthread_mutex_lock(&s->lock);
  if (s->count < 64) s->seen[s->count++] = (int)status;
  s->handle = handle;
  pthread_mutex_unlock(&s->lock);
}

static int count_of(statuses *s) {
  pthread_mutex_lock(&s->lock);
  int n = s->count;
  pthread_mutex_unlock(&s->lock);
  return n;
}

static void on_persister_status(void *user_data, tinystore_persister_t *persister,
                                tinystore_persister_status_t status) {
  record((statuses *)user_data, persister, status);
}

static void on_sync_status(void *user_data, tinystore_ws_synchronizer_t *synchronizer,
                           tinystore_persister_status_t status) {
  record((statuses *)user_data, synchronizer, status);
}

/* A listener that removes itself on its first call. */
typedef struct once {
  tinystore_persister_t *persister;
  tinystore_listener_id_t id;
  int calls;
  tinystore_status_t del_status;
} once;

static void remove_self(void *user_data, tinystore_persister_t *persister,
                        tinystore_persister_status_t status) {
  (void)status;
  once *o = (once *)user_data;
  o->calls++;
  o->del_status = tinystore_persister_del_listener(persister, o->id);
}

TEST(persister_status_listener_sees_loading_then_idle) {
  char path[512];
  temp_path(path, sizeof path, "status.json");
  tinystore_store_t *store = new_store();
  tinystore_persister_t *p = NULL;
  CHECK_OK(tinystore_file_persister_new(store, path, &p));
  statuses s;
  statuses_init(&s);
  tinystore_listener_id_t id = 0;
  CHECK_OK(tinystore_persister_add_status_listener(p, on_persister_status, &s, &id));

  CHECK_OK(tinystore_persister_load(p));
  CHECK(s.count == 2);
  CHECK(s.seen[0] == TINYSTORE_PERSISTER_STATUS_LOADING && s.seen[1] == TINYSTORE_PERSISTER_STATUS_IDLE);
  CHECK(s.handle == (void *)p);
  CHECK_OK(tinystore_persister_save(p));
  CHECK(s.count == 4);
  CHECK(s.seen[2] == TINYSTORE_PERSISTER_STATUS_SAVING && s.seen[3] == TINYSTORE_PERSISTER_STATUS_IDLE);

  /* A listener may remove itself. */
  once o = {p, 0, 0, TINYSTORE_STATUS_PANIC};
  CHECK_OK(tinystore_persister_add_status_listener(p, remove_self, &o, &o.id));
  CHECK(o.id != id);
  CHECK_OK(tinystore_persister_load(p));
  CHECK(o.calls == 1 && o.del_status == TINYSTORE_STATUS_OK);

  /* Removed: no more calls; a second removal is NOT_FOUND. */
  CHECK_OK(tinystore_persister_del_listener(p, id));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_FOUND, tinystore_persister_del_listener(p, id));
  CHECK_ERROR_MENTIONS("no status listener");
  CHECK_OK(tinystore_persister_save(p));
  CHECK(s.count == 6 && o.calls == 1);

  /* Misuse. */
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_persister_add_status_listener(NULL, on_persister_status, &s, &id));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_persister_add_status_listener(p, NULL, &s, &id));
  CHECK_ERROR_MENTIONS("listener");
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_persister_add_status_listener(p, on_persister_status, &s, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_persister_del_listener(NULL, id));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE,
               tinystore_persister_add_status_listener((tinystore_persister_t *)store, on_persister_status, &s, &id));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_persister_del_listener((tinystore_persister_t *)store, id));

  /* Freeing the persister removes its listeners; the freed handle is refused. */
  CHECK_OK(tinystore_persister_add_status_listener(p, on_persister_status, &s, &id));
  CHECK_OK(tinystore_persister_free(p));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_persister_add_status_listener(p, on_persister_status, &s, &id));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_persister_del_listener(p, id));
  CHECK_OK(tinystore_store_free(store));
  remove(path);
}

static tinystore_ws_server_t *start_server(uint16_t *port) {
  tinystore_ws_server_t *server = NULL;
  CHECK_OK(tinystore_ws_server_new(NULL, 0, NULL, &server));
  CHECK_OK(tinystore_ws_server_port(server, port));
  return server;
}

TEST(synchronizer_status_listener_sees_loading_then_idle) {
  uint16_t port = 0;
  tinystore_ws_server_t *server = start_server(&port);
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/status", (unsigned)port);
  tinystore_mergeable_store_t *a = new_mergeable(), *b = new_mergeable();
  tinystore_ws_synchronizer_t *sa = NULL, *sb = NULL;
  CHECK_OK(tinystore_ws_synchronizer_new(a, url, NULL, &sa));
  CHECK_OK(tinystore_ws_synchronizer_new(b, url, NULL, &sb));
  statuses s;
  statuses_init(&s);
  tinystore_listener_id_t id = 0, kept = 0;
  CHECK_OK(tinystore_ws_synchronizer_add_status_listener(sb, on_sync_status, &s, &id));
  CHECK_OK(tinystore_ws_synchronizer_add_status_listener(sb, on_sync_status, &s, &kept));
  CHECK_OK(tinystore_ws_synchronizer_del_listener(sb, kept)); /* so `s` counts each change once */
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sa));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sb));
  tinystore_cell_t dog = tinystore_cell_string("dog");
  CHECK_OK(tinystore_store_set_cell(a, "pets", "fido", "species", &dog));
  CHECK(wait_for_string_cell(b, "pets", "fido", "species", "dog", 10000));
  /* Applying what `a` sent: LOADING, then IDLE (wait for the IDLE that follows the apply). */
  int found = 0;
  for (int i = 0; i < 500 && !found; i++) {
    pthread_mutex_lock(&s.lock);
    for (int j = 0; j + 1 < s.count; j++)
      if (s.seen[j] == TINYSTORE_PERSISTER_STATUS_LOADING && s.seen[j + 1] == TINYSTORE_PERSISTER_STATUS_IDLE)
        found = 1;
    pthread_mutex_unlock(&s.lock);
    if (!found) sleep_ms(10);
  }
  CHECK(found);
  pthread_mutex_lock(&s.lock);
  CHECK(s.handle == (void *)sb);
  pthread_mutex_unlock(&s.lock);

  /* Removed: later changes are not seen. */
  CHECK_OK(tinystore_ws_synchronizer_del_listener(sb, id));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_FOUND, tinystore_ws_synchronizer_del_listener(sb, id));
  int before = count_of(&s);
  tinystore_cell_t cat = tinystore_cell_string("cat");
  CHECK_OK(tinystore_store_set_cell(a, "pets", "felix", "species", &cat));
  CHECK(wait_for_string_cell(b, "pets", "felix", "species", "cat", 10000));
  sleep_ms(50);
  CHECK(count_of(&s) == before);

  /* Misuse. */
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_ws_synchronizer_add_status_listener(NULL, on_sync_status, &s, &id));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_ws_synchronizer_add_status_listener(sb, NULL, &s, &id));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_ws_synchronizer_add_status_listener(sb, on_sync_status, &s, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_ws_synchronizer_del_listener(NULL, id));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE,
               tinystore_ws_synchronizer_add_status_listener((tinystore_ws_synchronizer_t *)a, on_sync_status, &s, &id));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_ws_synchronizer_del_listener((tinystore_ws_synchronizer_t *)server, id));

  /* A listener still registered is removed by the free. */
  CHECK_OK(tinystore_ws_synchronizer_add_status_listener(sa, on_sync_status, &s, &id));
  CHECK_OK(tinystore_ws_synchronizer_free(sa));
  CHECK_OK(tinystore_ws_synchronizer_free(sb));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_ws_synchronizer_add_status_listener(sa, on_sync_status, &s, &id));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_ws_synchronizer_del_listener(sa, id));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  CHECK_OK(tinystore_ws_server_free(server));
  pthread_mutex_destroy(&s.lock);
}

/* ------------------------------------------------------------------ custom persisters */

/* Storage in memory, with switches to make its callbacks fail. */
typedef struct memory {
  char *doc; /* NULL: nothing stored */
  int loads, saves;
  int fail_load, fail_save, answer_number;
} memory;

static bool memory_load(void *user_data, tinystore_callback_result_t *result) {
  memory *m = (memory *)user_data;
  m->loads++;
  if (m->fail_load) {
    CHECK_OK(tinystore_callback_set_error("disk gone"));
    return false;
  }
  if (m->answer_number) {
    tinystore_cell_t n = tinystore_cell_number(1);
    CHECK_OK(tinystore_callback_result_set_cell(result, &n));
    return true;
  }
  if (m->doc != NULL) {
    tinystore_cell_t doc = tinystore_cell_string(m->doc);
    CHECK_OK(tinystore_callback_result_set_cell(result, &doc));
  }
  return true;
}

static bool memory_save(void *user_data, const char *json) {
  memory *m = (memory *)user_data;
  m->saves++;
  if (m->fail_save) return false; /* no message: the library names the callback */
  free(m->doc);
  m->doc = strdup(json);
  return true;
}

static const char *CONTENT = "[{\"pets\":{\"fido\":{\"species\":\"dog\"}}},{\"open\":true}]";

TEST(custom_persister_round_trips_through_callbacks) {
  memory m;
  memset(&m, 0, sizeof m);
  tinystore_store_t *a = new_store(), *b = new_store();
  tinystore_persister_t *pa = NULL, *pb = NULL;
  CHECK_OK(tinystore_custom_persister_new(a, memory_load, memory_save, &m, &pa));
  CHECK_OK(tinystore_custom_persister_new(b, memory_load, memory_save, &m, &pb));
  /* Nothing stored yet: the load keeps the store. */
  CHECK_OK(tinystore_store_set_json(b, "[{},{\"kept\":1}]"));
  CHECK_OK(tinystore_persister_load(pb));
  CHECK(m.loads == 1);
  CHECK_JSON(b, "[{},{\"kept\":1}]");

  CHECK_OK(tinystore_store_set_json(a, CONTENT));
  CHECK_OK(tinystore_persister_save(pa));
  CHECK(m.saves == 1);
  CHECK_STR(m.doc, CONTENT);
  CHECK_OK(tinystore_persister_load(pb));
  CHECK_JSON(b, CONTENT);

  /* Auto-save calls save after each change; every persister function works on it. */
  statuses s;
  statuses_init(&s);
  tinystore_listener_id_t id;
  CHECK_OK(tinystore_persister_add_status_listener(pa, on_persister_status, &s, &id));
  CHECK_OK(tinystore_persister_start_auto_save(pa));
  int saves = m.saves;
  tinystore_cell_t cat = tinystore_cell_string("cat");
  CHECK_OK(tinystore_store_set_cell(a, "pets", "felix", "species", &cat));
  CHECK(m.saves == saves + 1);
  CHECK(strstr(m.doc, "\"felix\":{\"species\":\"cat\"}") != NULL);
  CHECK(s.count >= 2 && s.seen[s.count - 2] == TINYSTORE_PERSISTER_STATUS_SAVING);
  uint64_t loads = 0, stat_saves = 0;
  CHECK_OK(tinystore_persister_get_stats(pa, &loads, &stat_saves));
  CHECK(loads == 0 && stat_saves == (uint64_t)m.saves); /* pb never saved */
  CHECK_OK(tinystore_persister_stop_auto_save(pa));
  CHECK_OK(tinystore_persister_free(pa));
  CHECK_OK(tinystore_persister_free(pb));

  /* A MergeableStore saves its mergeable content, and loads it with its stamps. */
  tinystore_mergeable_store_t *ma = new_mergeable(), *mb = new_mergeable();
  CHECK_OK(tinystore_custom_persister_new(ma, memory_load, memory_save, &m, &pa));
  CHECK_OK(tinystore_custom_persister_new(mb, memory_load, memory_save, &m, &pb));
  CHECK_OK(tinystore_store_set_json(ma, CONTENT));
  CHECK_OK(tinystore_persister_save(pa));
  char *content = NULL;
  CHECK_OK(tinystore_mergeable_store_get_mergeable_content_json(ma, &content));
  CHECK_STR(m.doc, content);
  CHECK_OK(tinystore_persister_load(pb));
  char *loaded = NULL;
  CHECK_OK(tinystore_mergeable_store_get_mergeable_content_json(mb, &loaded));
  CHECK_STR(loaded, content);
  tinystore_string_free(content);
  tinystore_string_free(loaded);
  CHECK_OK(tinystore_persister_free(pa));
  CHECK_OK(tinystore_persister_free(pb));
  CHECK_OK(tinystore_store_free(ma));
  CHECK_OK(tinystore_store_free(mb));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  free(m.doc);
  pthread_mutex_destroy(&s.lock);
}

TEST(custom_persister_failures) {
  memory m;
  memset(&m, 0, sizeof m);
  tinystore_store_t *store = new_store();
  tinystore_persister_t *p = NULL;
  CHECK_OK(tinystore_custom_persister_new(store, memory_load, memory_save, &m, &p));
  CHECK_OK(tinystore_store_set_json(store, CONTENT));

  /* A failing load callback fails the load with its message; the store is kept and saves are
   * refused until a load succeeds. */
  m.fail_load = 1;
  CHECK_STATUS(TINYSTORE_STATUS_STORAGE, tinystore_persister_load(p));
  CHECK_ERROR_MENTIONS("load callback failed");
  CHECK_ERROR_MENTIONS("disk gone");
  CHECK_JSON(store, CONTENT);
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_STATE, tinystore_persister_save(p));
  m.fail_load = 0;

  /* An answer that is not a STRING cell, and a document that is not a store. */
  m.answer_number = 1;
  CHECK_STATUS(TINYSTORE_STATUS_STORAGE, tinystore_persister_load(p));
  CHECK_ERROR_MENTIONS("STRING cell");
  m.answer_number = 0;
  m.doc = strdup("not json");
  CHECK_STATUS(TINYSTORE_STATUS_STORAGE, tinystore_persister_load(p));
  CHECK_JSON(store, CONTENT);
  free(m.doc);
  m.doc = NULL;
  CHECK_OK(tinystore_persister_load(p)); /* nothing stored: succeeds, saves allowed again */

  /* A failing save callback without a message: the library names the callback. */
  m.fail_save = 1;
  CHECK_STATUS(TINYSTORE_STATUS_STORAGE, tinystore_persister_save(p));
  CHECK_ERROR_MENTIONS("save callback");
  CHECK(m.doc == NULL);
  m.fail_save = 0;
  CHECK_OK(tinystore_persister_save(p));
  CHECK_STR(m.doc, CONTENT);

  /* The result pointer is only valid during the callback. */
  tinystore_cell_t n = tinystore_cell_number(1);
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE,
               tinystore_callback_result_set_cell((tinystore_callback_result_t *)&m, &n));

  /* Misuse. */
  tinystore_persister_t *q = NULL;
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_custom_persister_new(NULL, memory_load, memory_save, &m, &q));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_custom_persister_new(store, NULL, memory_save, &m, &q));
  CHECK_ERROR_MENTIONS("load");
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_custom_persister_new(store, memory_load, NULL, &m, &q));
  CHECK_ERROR_MENTIONS("save");
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_custom_persister_new(store, memory_load, memory_save, &m, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE,
               tinystore_custom_persister_new((tinystore_store_t *)p, memory_load, memory_save, &m, &q));
  CHECK(q == NULL);
  CHECK_OK(tinystore_persister_free(p));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_persister_load(p));
  CHECK_OK(tinystore_store_free(store));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_custom_persister_new(store, memory_load, memory_save, &m, &q));
  free(m.doc);
}

/* ------------------------------------------------------------------ server auth */

typedef struct auth_log {
  pthread_mutex_t lock;
  int joins, accepted, rejected, bad_requests;
} auth_log;

/* Accepts clients that send `x-token: letmein`; checks what it is told. */
static tinystore_auth_decision_t check_token(void *user_data, const tinystore_auth_request_t *request) {
  auth_log *log = (auth_log *)user_data;
  const char *token = NULL;
  for (size_t i = 0; i < request->headers_len; i++)
    if (strcmp(request->headers[i].name, "x-token") == 0) token = request->headers[i].value;
  int ok_request = request->purpose == TINYSTORE_AUTH_PURPOSE_JOIN && strcmp(request->path, "room") == 0 &&
                   strncmp(request->url, "/room", 5) == 0 && request->client_id[0] != '\0';
  int accept = token != NULL && strcmp(token, "letmein") == 0;
  pthread_mutex_lock(&log->lock);
  log->joins++;
  if (!ok_request) log->bad_requests++;
  if (accept) log->accepted++; else log->rejected++;
  pthread_mutex_unlock(&log->lock);
  if (accept) return TINYSTORE_AUTH_ACCEPT;
  tinystore_callback_set_error("no token");
  return TINYSTORE_AUTH_REJECT;
}

TEST(server_auth_callback_refuses_and_accepts) {
  auth_log log;
  memset(&log, 0, sizeof log);
  pthread_mutex_init(&log.lock, NULL);
  tinystore_ws_server_t *server = NULL;
  CHECK_OK(tinystore_ws_server_new_with_auth(NULL, 0, NULL, check_token, &log, &server));
  uint16_t port = 0;
  CHECK_OK(tinystore_ws_server_port(server, &port));
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/room", (unsigned)port);
  const char *good = "{\"headers\":{\"x-token\":\"letmein\"}}";
  const char *bad = "{\"headers\":{\"x-token\":\"guess\"},\"connectTimeoutMs\":5000}";

  tinystore_mergeable_store_t *a = new_mergeable(), *b = new_mergeable(), *intruder = new_mergeable();
  tinystore_ws_synchronizer_t *sa = NULL, *sb = NULL, *si = NULL;
  CHECK_STATUS(TINYSTORE_STATUS_NETWORK, tinystore_ws_synchronizer_new(intruder, url, bad, &si));
  CHECK(si == NULL);
  CHECK_STATUS(TINYSTORE_STATUS_NETWORK, tinystore_ws_synchronizer_new(intruder, url, NULL, &si));
  CHECK_OK(tinystore_ws_synchronizer_new(a, url, good, &sa));
  CHECK_OK(tinystore_ws_synchronizer_new(b, url, good, &sb));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sa));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sb));
  tinystore_cell_t dog = tinystore_cell_string("dog");
  CHECK_OK(tinystore_store_set_cell(a, "pets", "fido", "species", &dog));
  CHECK(wait_for_string_cell(b, "pets", "fido", "species", "dog", 10000));
  size_t paths = 0, clients = 0;
  CHECK_OK(tinystore_ws_server_get_stats(server, &paths, &clients));
  CHECK(clients == 2);
  pthread_mutex_lock(&log.lock);
  CHECK(log.accepted == 2 && log.rejected == 2 && log.bad_requests == 0);
  pthread_mutex_unlock(&log.lock);

  /* Misuse. */
  tinystore_ws_server_t *other = NULL;
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_ws_server_new_with_auth(NULL, 0, NULL, NULL, &log, &other));
  CHECK_ERROR_MENTIONS("auth");
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_ws_server_new_with_auth(NULL, 0, NULL, check_token, &log, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_ARGUMENT,
               tinystore_ws_server_new_with_auth("no such host.invalid", 0, NULL, check_token, &log, &other));
  CHECK(other == NULL);

  CHECK_OK(tinystore_ws_synchronizer_free(sa));
  CHECK_OK(tinystore_ws_synchronizer_free(sb));
  CHECK_OK(tinystore_ws_server_free(server));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_ws_server_free(server));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  CHECK_OK(tinystore_store_free(intruder));
  pthread_mutex_destroy(&log.lock);
}

/* `reader` may read the room, `letmein` may write it, anyone else is refused. */
static tinystore_auth_decision_t readers_and_writers(void *user_data, const tinystore_auth_request_t *request) {
  (void)user_data;
  for (size_t i = 0; i < request->headers_len; i++) {
    if (strcmp(request->headers[i].name, "x-token") != 0) continue;
    if (strcmp(request->headers[i].value, "reader") == 0) return TINYSTORE_AUTH_READ_ONLY;
    if (strcmp(request->headers[i].value, "letmein") == 0) return TINYSTORE_AUTH_ACCEPT;
  }
  return TINYSTORE_AUTH_REJECT;
}

TEST(server_auth_read_only_client_reads_but_cannot_write) {
  tinystore_ws_server_t *server = NULL;
  CHECK_OK(tinystore_ws_server_new_with_auth(NULL, 0, NULL, readers_and_writers, NULL, &server));
  uint16_t port = 0;
  CHECK_OK(tinystore_ws_server_port(server, &port));
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u/room", (unsigned)port);
  tinystore_mergeable_store_t *writer = new_mergeable(), *reader = new_mergeable();
  tinystore_ws_synchronizer_t *sw = NULL, *sr = NULL;
  CHECK_OK(tinystore_ws_synchronizer_new(writer, url, "{\"headers\":{\"x-token\":\"letmein\"}}", &sw));
  CHECK_OK(tinystore_ws_synchronizer_new(reader, url, "{\"headers\":{\"x-token\":\"reader\"}}", &sr));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sw));
  CHECK_OK(tinystore_ws_synchronizer_start_sync(sr));

  /* The reader gets the writer's changes... */
  tinystore_cell_t dog = tinystore_cell_string("dog");
  CHECK_OK(tinystore_store_set_cell(writer, "pets", "fido", "species", &dog));
  CHECK(wait_for_string_cell(reader, "pets", "fido", "species", "dog", 10000));
  /* ...but its own change stays local: the server drops it. A later change of the writer
   * arriving at the reader shows the connection alive and the dropped write long sent. */
  tinystore_cell_t cat = tinystore_cell_string("cat");
  CHECK_OK(tinystore_store_set_cell(reader, "pets", "felix", "species", &cat));
  sleep_ms(500);
  tinystore_cell_t wolf = tinystore_cell_string("wolf");
  CHECK_OK(tinystore_store_set_cell(writer, "pets", "rex", "species", &wolf));
  CHECK(wait_for_string_cell(reader, "pets", "rex", "species", "wolf", 10000));
  sleep_ms(200);
  bool has = true;
  CHECK_OK(tinystore_store_has_row(writer, "pets", "felix", &has));
  CHECK(!has);
  CHECK(has_string_cell(reader, "pets", "felix", "species", "cat"));

  CHECK_OK(tinystore_ws_synchronizer_free(sw));
  CHECK_OK(tinystore_ws_synchronizer_free(sr));
  CHECK_OK(tinystore_ws_server_free(server));
  CHECK_OK(tinystore_store_free(writer));
  CHECK_OK(tinystore_store_free(reader));
}

/* ------------------------------------------------------------------ hashes and diffs */

/* A malloc'ed copy of item `index` of the top-level JSON array `json` (NULL if missing). */
static char *json_item(const char *json, int index) {
  const char *p = json;
  while (*p == ' ') p++;
  if (*p != '[') return NULL;
  p++;
  int item = 0, depth = 0, in_string = 0;
  const char *start = p;
  for (; *p; p++) {
    char c = *p;
    if (in_string) {
      if (c == '\\' && p[1]) p++;
      else if (c == '"') in_string = 0;
      continue;
    }
    if (c == '"') in_string = 1;
    else if (c == '[' || c == '{') depth++;
    else if ((c == ']' || c == '}') && depth > 0) depth--;
    else if ((c == ',' && depth == 0) || c == ']') {
      if (item == index) {
        size_t n = (size_t)(p - start);
        char *out = malloc(n + 1);
        memcpy(out, start, n);
        out[n] = 0;
        return out;
      }
      item++;
      start = p + 1;
      if (c == ']') return NULL;
    }
  }
  return NULL;
}

static void apply_changes(tinystore_mergeable_store_t *to, const char *tables, const char *values) {
  size_t n = strlen(tables) + strlen(values) + 8;
  char *changes = malloc(n);
  snprintf(changes, n, "[%s,%s,1]", tables, values);
  CHECK_OK(tinystore_mergeable_store_apply_mergeable_changes_json(to, changes));
  free(changes);
}

/* What the sync protocol does to bring `to` up to `from`, step by step through the ABI. */
static void pull(tinystore_mergeable_store_t *from, tinystore_mergeable_store_t *to) {
  char *hashes = NULL, *diff = NULL, *stamp = NULL, *differing = NULL, *values = NULL;
  CHECK_OK(tinystore_mergeable_store_get_mergeable_table_hashes(to, &hashes));
  CHECK_OK(tinystore_mergeable_store_get_mergeable_table_diff(from, hashes, &diff));
  tinystore_string_free(hashes);
  stamp = json_item(diff, 0);
  differing = json_item(diff, 1);
  CHECK(stamp != NULL && differing != NULL);
  apply_changes(to, stamp, "[{}]"); /* the tables `to` lacked */
  free(stamp);
  tinystore_string_free(diff);

  CHECK_OK(tinystore_mergeable_store_get_mergeable_row_hashes(to, differing, &hashes));
  free(differing);
  CHECK_OK(tinystore_mergeable_store_get_mergeable_row_diff(from, hashes, &diff));
  tinystore_string_free(hashes);
  stamp = json_item(diff, 0);
  differing = json_item(diff, 1);
  CHECK(stamp != NULL && differing != NULL);
  apply_changes(to, stamp, "[{}]"); /* the rows `to` lacked */
  free(stamp);
  tinystore_string_free(diff);

  CHECK_OK(tinystore_mergeable_store_get_mergeable_cell_hashes(to, differing, &hashes));
  free(differing);
  CHECK_OK(tinystore_mergeable_store_get_mergeable_cell_diff(from, hashes, &diff));
  tinystore_string_free(hashes);
  CHECK_OK(tinystore_mergeable_store_get_mergeable_value_hashes(to, &hashes));
  CHECK_OK(tinystore_mergeable_store_get_mergeable_value_diff(from, hashes, &values));
  tinystore_string_free(hashes);
  apply_changes(to, diff, values);
  tinystore_string_free(diff);
  tinystore_string_free(values);
}

static void check_same_hashes(tinystore_mergeable_store_t *a, tinystore_mergeable_store_t *b, int expect_same) {
  uint32_t ta = 0, va = 0, tb = 1, vb = 1;
  CHECK_OK(tinystore_mergeable_store_get_mergeable_content_hashes(a, &ta, &va));
  CHECK_OK(tinystore_mergeable_store_get_mergeable_content_hashes(b, &tb, &vb));
  char *ha = NULL, *hb = NULL;
  CHECK_OK(tinystore_mergeable_store_get_mergeable_table_hashes(a, &ha));
  CHECK_OK(tinystore_mergeable_store_get_mergeable_table_hashes(b, &hb));
  int same = ta == tb && va == vb && strcmp(ha, hb) == 0;
  tinystore_string_free(ha);
  tinystore_string_free(hb);
  CHECK_OK(tinystore_mergeable_store_get_mergeable_value_hashes(a, &ha));
  CHECK_OK(tinystore_mergeable_store_get_mergeable_value_hashes(b, &hb));
  same = same && strcmp(ha, hb) == 0;
  tinystore_string_free(ha);
  tinystore_string_free(hb);
  if (same != expect_same) FAIL("the stores' hashes are %s", same ? "equal" : "different");
}

TEST(mergeable_diffs_make_stores_equal) {
  tinystore_mergeable_store_t *a = new_mergeable(), *b = new_mergeable();
  CHECK_OK(tinystore_store_set_json(a, "[{\"pets\":{\"fido\":{\"species\":\"dog\"},\"felix\":{\"species\":\"cat\"}}},{\"open\":true}]"));
  CHECK_OK(tinystore_store_set_json(b, "[{\"pets\":{\"fido\":{\"legs\":4}},\"toys\":{\"ball\":{\"color\":\"red\"}}},{\"open\":false,\"price\":5}]"));
  check_same_hashes(a, b, 0);

  /* The wire shapes: {id: hash} objects, diffs as [stamp, hashes]. */
  char *hashes = NULL, *diff = NULL;
  CHECK_OK(tinystore_mergeable_store_get_mergeable_table_hashes(a, &hashes));
  CHECK(strncmp(hashes, "{\"pets\":", 8) == 0);
  tinystore_string_free(hashes);
  CHECK_OK(tinystore_mergeable_store_get_mergeable_table_diff(a, "{}", &diff));
  CHECK(strncmp(diff, "[[{\"pets\":[{", 12) == 0);
  CHECK(strstr(diff, "\"species\":[\"dog\",\"") != NULL);
  CHECK(diff[strlen(diff) - 3] == '{' && strcmp(diff + strlen(diff) - 3, "{}]") == 0);
  tinystore_string_free(diff);
  CHECK_OK(tinystore_mergeable_store_get_mergeable_value_diff(a, "{}", &diff));
  CHECK(strncmp(diff, "[{\"open\":[true,\"", 16) == 0);
  tinystore_string_free(diff);

  pull(a, b);
  pull(b, a);
  check_same_hashes(a, b, 1);
  char *ja = NULL, *jb = NULL;
  CHECK_OK(tinystore_store_get_json(a, &ja));
  CHECK_OK(tinystore_store_get_json(b, &jb));
  /* Same content (cells may be in another order: each store keeps its insertion order). */
  const char *parts[] = {"\"species\":\"dog\"", "\"legs\":4", "\"felix\":{\"species\":\"cat\"}",
                         "\"toys\":{\"ball\":{\"color\":\"red\"}}", "\"price\":5"};
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
    CHECK(strstr(ja, parts[i]) != NULL && strstr(jb, parts[i]) != NULL);
  CHECK(strlen(ja) == strlen(jb));
  tinystore_cell_t open_a, open_b;
  CHECK_OK(tinystore_store_get_value(a, "open", &open_a));
  CHECK_OK(tinystore_store_get_value(b, "open", &open_b));
  CHECK(open_a.type == TINYSTORE_CELL_TYPE_BOOLEAN && open_b.type == TINYSTORE_CELL_TYPE_BOOLEAN);
  CHECK(open_a.boolean == open_b.boolean); /* the later write wins on both */
  tinystore_string_free(ja);
  tinystore_string_free(jb);

  /* Equal stores: nothing differs. */
  CHECK_OK(tinystore_mergeable_store_get_mergeable_table_hashes(b, &hashes));
  CHECK_OK(tinystore_mergeable_store_get_mergeable_table_diff(a, hashes, &diff));
  CHECK_STR(diff, "[[{}],{}]");
  tinystore_string_free(diff);
  CHECK_OK(tinystore_mergeable_store_get_mergeable_row_hashes(a, hashes, &diff));
  CHECK_STR(diff, "{}");
  tinystore_string_free(diff);
  tinystore_string_free(hashes);

  /* Misuse: NULL arguments, bad hashes, plain stores, freed handles. */
  char *out = NULL;
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_mergeable_store_get_mergeable_table_hashes(NULL, &out));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_mergeable_store_get_mergeable_table_hashes(a, NULL));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_mergeable_store_get_mergeable_value_hashes(NULL, &out));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_mergeable_store_get_mergeable_value_hashes(a, NULL));
  typedef tinystore_status_t (*getter)(tinystore_mergeable_store_t *, const char *, char **);
  const getter getters[] = {
      tinystore_mergeable_store_get_mergeable_table_diff, tinystore_mergeable_store_get_mergeable_row_hashes,
      tinystore_mergeable_store_get_mergeable_row_diff,   tinystore_mergeable_store_get_mergeable_cell_hashes,
      tinystore_mergeable_store_get_mergeable_cell_diff,  tinystore_mergeable_store_get_mergeable_value_diff,
  };
  tinystore_store_t *plain = new_store();
  for (size_t i = 0; i < sizeof getters / sizeof *getters; i++) {
    CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, getters[i](NULL, "{}", &out));
    CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, getters[i](a, NULL, &out));
    CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, getters[i](a, "{}", NULL));
    CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, getters[i](a, "{", &out));
    CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, getters[i](a, "[]", &out));
    CHECK_STATUS(TINYSTORE_STATUS_NOT_MERGEABLE, getters[i](plain, "{}", &out));
    CHECK(out == NULL);
  }
  /* Hashes are unsigned 32-bit integers, at every depth. */
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_mergeable_store_get_mergeable_table_diff(a, "{\"pets\":-1}", &out));
  CHECK_ERROR_MENTIONS("other_json.pets");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_mergeable_store_get_mergeable_value_diff(a, "{\"open\":4294967296}", &out));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_mergeable_store_get_mergeable_row_diff(a, "{\"pets\":{\"fido\":\"x\"}}", &out));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_mergeable_store_get_mergeable_cell_diff(a, "{\"pets\":{\"fido\":{\"legs\":1.5}}}", &out));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_JSON, tinystore_mergeable_store_get_mergeable_cell_hashes(a, "{\"pets\":7}", &out));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_MERGEABLE, tinystore_mergeable_store_get_mergeable_table_hashes(plain, &out));
  CHECK_STATUS(TINYSTORE_STATUS_NOT_MERGEABLE, tinystore_mergeable_store_get_mergeable_value_hashes(plain, &out));
  CHECK_OK(tinystore_store_free(plain));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_mergeable_store_get_mergeable_table_hashes(plain, &out));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_HANDLE, tinystore_mergeable_store_get_mergeable_cell_diff(plain, "{}", &out));
  CHECK(out == NULL);
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
}

static const test_case CASES[] = {
    CASE(persister_status_listener_sees_loading_then_idle),
    CASE(synchronizer_status_listener_sees_loading_then_idle),
    CASE(custom_persister_round_trips_through_callbacks),
    CASE(custom_persister_failures),
    CASE(server_auth_callback_refuses_and_accepts),
    CASE(server_auth_read_only_client_reads_but_cannot_write),
    CASE(mergeable_diffs_make_stores_equal),
};

RUN_TESTS(CASES)
