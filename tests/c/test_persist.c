/* Persisters: SQLite (JSON and tabular modes) and file round trips, auto-save, auto-load,
 * status and stats, and the failed-load guard. */
#include "harness.h"

static const char *CONTENT =
    "[{\"pets\":{\"fido\":{\"species\":\"dog\",\"legs\":4},\"felix\":{\"species\":\"cat\",\"tags\":"
    "\"\xef\xbf\xbd[\\\"a\\\"]\"}}},{\"open\":true}]";

static tinystore_store_t *new_store(void) {
  tinystore_store_t *store = NULL;
  CHECK_OK(tinystore_store_new(&store));
  return store;
}

TEST(sqlite_json_round_trip) {
  char path[512];
  temp_path(path, sizeof path, "json.sqlite");
  tinystore_store_t *a = new_store(), *b = new_store();
  tinystore_persister_t *pa = NULL, *pb = NULL;
  CHECK_OK(tinystore_sqlite_persister_new(a, path, NULL, &pa));
  CHECK_OK(tinystore_store_set_json(a, CONTENT));
  CHECK_OK(tinystore_persister_save(pa));
  CHECK_OK(tinystore_sqlite_persister_new(b, path, "tinybase", &pb));
  CHECK_OK(tinystore_persister_load(pb));
  CHECK_JSON(b, CONTENT);
  uint64_t loads = 9, saves = 9;
  CHECK_OK(tinystore_persister_get_stats(pa, &loads, &saves));
  CHECK(loads == 0 && saves == 1);
  CHECK_OK(tinystore_persister_get_stats(pb, &loads, &saves));
  CHECK(loads == 1 && saves == 0);
  /* Another table of the same database is another document. */
  tinystore_persister_t *other = NULL;
  CHECK_OK(tinystore_sqlite_persister_new(b, path, "other", &other));
  CHECK_OK(tinystore_persister_load(other)); /* nothing stored: the store is kept */
  CHECK_JSON(b, CONTENT);
  CHECK_OK(tinystore_persister_free(other));
  CHECK_OK(tinystore_persister_free(pa));
  CHECK_OK(tinystore_persister_free(pb));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  remove(path);
}

TEST(sqlite_mergeable_round_trip) {
  char path[512];
  temp_path(path, sizeof path, "mergeable.sqlite");
  tinystore_mergeable_store_t *a = NULL, *b = NULL;
  CHECK_OK(tinystore_mergeable_store_new(NULL, &a));
  CHECK_OK(tinystore_mergeable_store_new(NULL, &b));
  tinystore_persister_t *pa = NULL, *pb = NULL;
  CHECK_OK(tinystore_sqlite_persister_new(a, path, NULL, &pa));
  CHECK_OK(tinystore_store_set_json(a, CONTENT));
  CHECK_OK(tinystore_persister_save(pa));
  CHECK_OK(tinystore_sqlite_persister_new(b, path, NULL, &pb));
  CHECK_OK(tinystore_persister_load(pb));
  char *ca = NULL, *cb = NULL;
  CHECK_OK(tinystore_mergeable_store_get_mergeable_content_json(a, &ca));
  CHECK_OK(tinystore_mergeable_store_get_mergeable_content_json(b, &cb));
  CHECK_STR(cb, ca); /* stamps and hashes too */
  tinystore_string_free(ca);
  tinystore_string_free(cb);
  CHECK_OK(tinystore_persister_free(pa));
  CHECK_OK(tinystore_persister_free(pb));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  remove(path);
}

TEST(sqlite_tabular_round_trip) {
  char path[512];
  temp_path(path, sizeof path, "tabular.sqlite");
  const char *tables[] = {"pets"};
  tinystore_store_t *a = new_store(), *b = new_store();
  tinystore_persister_t *pa = NULL, *pb = NULL;
  CHECK_OK(tinystore_sqlite_persister_new_tabular(a, path, tables, 1, &pa));
  CHECK_OK(tinystore_store_set_json(a, "[{\"pets\":{\"fido\":{\"species\":\"dog\",\"legs\":4}},\"skip\":{\"r\":{\"c\":1}}},{\"open\":\"yes\"}]"));
  CHECK_OK(tinystore_persister_save(pa));
  CHECK_OK(tinystore_sqlite_persister_new_tabular(b, path, tables, 1, &pb));
  CHECK_OK(tinystore_persister_load(pb));
  CHECK_JSON(b, "[{\"pets\":{\"fido\":{\"species\":\"dog\",\"legs\":4}}},{\"open\":\"yes\"}]");
  /* Tabular mode holds plain Stores only. */
  tinystore_mergeable_store_t *m = NULL;
  tinystore_persister_t *pm = NULL;
  CHECK_OK(tinystore_mergeable_store_new(NULL, &m));
  CHECK_STATUS(TINYSTORE_STATUS_UNSUPPORTED, tinystore_sqlite_persister_new_tabular(m, path, tables, 1, &pm));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_sqlite_persister_new_tabular(a, path, NULL, 1, &pm));
  CHECK_OK(tinystore_persister_free(pa));
  CHECK_OK(tinystore_persister_free(pb));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  CHECK_OK(tinystore_store_free(m));
  remove(path);
}

TEST(file_round_trip) {
  char path[512];
  temp_path(path, sizeof path, "store.json");
  tinystore_store_t *a = new_store(), *b = new_store();
  tinystore_persister_t *pa = NULL, *pb = NULL;
  CHECK_OK(tinystore_file_persister_new(a, path, &pa));
  CHECK_OK(tinystore_store_set_json(a, CONTENT));
  CHECK_OK(tinystore_persister_save(pa));
  /* The file is TinyBase's JSON document. */
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  char text[1024];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  CHECK_STR(text, CONTENT);
  CHECK_OK(tinystore_file_persister_new(b, path, &pb));
  CHECK_OK(tinystore_persister_load(pb));
  CHECK_JSON(b, CONTENT);
  CHECK_OK(tinystore_persister_free(pa));
  CHECK_OK(tinystore_persister_free(pb));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  remove(path);
}

TEST(auto_save) {
  char path[512];
  temp_path(path, sizeof path, "autosave.sqlite");
  tinystore_store_t *a = new_store(), *b = new_store();
  tinystore_persister_t *pa = NULL, *pb = NULL;
  CHECK_OK(tinystore_sqlite_persister_new(a, path, NULL, &pa));
  CHECK_OK(tinystore_sqlite_persister_new(b, path, NULL, &pb));
  CHECK_OK(tinystore_persister_start_auto_save(pa));
  tinystore_cell_t dog = tinystore_cell_string("dog"), cat = tinystore_cell_string("cat");
  CHECK_OK(tinystore_store_set_cell(a, "pets", "fido", "species", &dog));
  /* Saved before set_cell returned. */
  CHECK_OK(tinystore_persister_load(pb));
  CHECK_JSON(b, "[{\"pets\":{\"fido\":{\"species\":\"dog\"}}},{}]");
  CHECK_OK(tinystore_persister_stop_auto_save(pa));
  CHECK_OK(tinystore_store_set_cell(a, "pets", "felix", "species", &cat));
  CHECK_OK(tinystore_persister_load(pb));
  CHECK_JSON(b, "[{\"pets\":{\"fido\":{\"species\":\"dog\"}}},{}]");
  uint64_t loads, saves;
  CHECK_OK(tinystore_persister_get_stats(pa, &loads, &saves));
  CHECK(saves == 2); /* the save at start, then one per transaction */
  CHECK_OK(tinystore_persister_free(pa));
  CHECK_OK(tinystore_persister_free(pb));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  remove(path);
}

TEST(auto_load_and_auto_persisting) {
  char path[512];
  temp_path(path, sizeof path, "autoload.sqlite");
  tinystore_store_t *a = new_store(), *b = new_store();
  tinystore_persister_t *pa = NULL, *pb = NULL;
  CHECK_OK(tinystore_sqlite_persister_new(a, path, NULL, &pa));
  CHECK_OK(tinystore_sqlite_persister_new(b, path, NULL, &pb));
  CHECK_OK(tinystore_persister_start_auto_persisting(pa, 20));
  CHECK_OK(tinystore_persister_start_auto_load(pb, 20));
  tinystore_cell_t dog = tinystore_cell_string("dog");
  CHECK_OK(tinystore_store_set_cell(a, "pets", "fido", "species", &dog));
  CHECK(wait_for_string_cell(b, "pets", "fido", "species", "dog", 5000));
  /* And back: b writes with a save, a auto-loads it. */
  tinystore_cell_t cat = tinystore_cell_string("cat");
  CHECK_OK(tinystore_store_set_cell(b, "pets", "felix", "species", &cat));
  CHECK_OK(tinystore_persister_save(pb));
  CHECK(wait_for_string_cell(a, "pets", "felix", "species", "cat", 5000));
  CHECK_OK(tinystore_persister_stop_auto_load(pb));
  CHECK_OK(tinystore_persister_stop_auto_persisting(pa));
  tinystore_persister_status_t status = TINYSTORE_PERSISTER_STATUS_SAVING;
  CHECK_OK(tinystore_persister_get_status(pa, &status));
  CHECK(status == TINYSTORE_PERSISTER_STATUS_IDLE);
  CHECK(TINYSTORE_PERSISTER_STATUS_LOADING == 1 && TINYSTORE_PERSISTER_STATUS_SAVING == 2);
  CHECK_OK(tinystore_persister_free(pa));
  CHECK_OK(tinystore_persister_free(pb));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  remove(path);
}

TEST(failed_load_blocks_saves) {
  char path[512];
  temp_path(path, sizeof path, "garbage.json");
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  fputs("this is not a store", f);
  fclose(f);
  tinystore_store_t *store = new_store();
  tinystore_persister_t *p = NULL;
  CHECK_OK(tinystore_file_persister_new(store, path, &p));
  CHECK_STATUS(TINYSTORE_STATUS_STORAGE, tinystore_persister_load(p));
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_STATE, tinystore_persister_save(p));
  CHECK_ERROR_MENTIONS("allow_overwrite");
  CHECK_STATUS(TINYSTORE_STATUS_INVALID_STATE, tinystore_persister_start_auto_save(p));
  CHECK_OK(tinystore_persister_allow_overwrite(p));
  CHECK_OK(tinystore_persister_save(p));
  CHECK_OK(tinystore_persister_load(p));
  CHECK_OK(tinystore_persister_free(p));
  CHECK_OK(tinystore_store_free(store));
  remove(path);
}

TEST(storage_errors) {
  tinystore_store_t *store = new_store();
  tinystore_persister_t *p = NULL;
  CHECK_STATUS(TINYSTORE_STATUS_STORAGE,
               tinystore_sqlite_persister_new(store, "/nonexistent-dir/for/tinystore.sqlite", NULL, &p));
  CHECK_ERROR_MENTIONS("sqlite");
  CHECK(p == NULL);
  CHECK_OK(tinystore_file_persister_new(store, "/nonexistent-dir/for/tinystore.json", &p));
  CHECK_STATUS(TINYSTORE_STATUS_STORAGE, tinystore_persister_save(p));
  CHECK_OK(tinystore_persister_free(p));
  CHECK_OK(tinystore_store_free(store));
}

/* ------------------------------------------------------------- a tiny HTTP server (remote) */

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* One document at /doc (POST replaces it, GET answers it with ETag "<version>" and 304 when
 * If-None-Match names it); /fail answers 500; anything else 404. Serves until `stop`. */
/* strcasestr without _GNU_SOURCE: header names arrive in any case. */
static const char *find_ci(const char *haystack, const char *needle) {
  size_t n = strlen(needle);
  for (; *haystack; haystack++) {
    size_t i = 0;
    while (i < n && haystack[i] && tolower((unsigned char)haystack[i]) == tolower((unsigned char)needle[i])) i++;
    if (i == n) return haystack;
  }
  return NULL;
}

typedef struct {
  int listener;
  int port;
  char doc[4096];
  int version;
  int requests;
  volatile int stop;
} http_server;

static void *http_serve(void *arg) {
  http_server *server = arg;
  while (!server->stop) {
    int conn = accept(server->listener, NULL, NULL);
    if (conn < 0) continue;
    char req[8192];
    size_t len = 0;
    ssize_t n;
    char *body = NULL;
    long content_length = 0;
    while (len < sizeof req - 1 && (n = read(conn, req + len, sizeof req - 1 - len)) > 0) {
      len += (size_t)n;
      req[len] = 0;
      char *end = strstr(req, "\r\n\r\n");
      if (end) {
        const char *cl = find_ci(req, "content-length:");
        content_length = cl ? strtol(cl + 15, NULL, 10) : 0;
        body = end + 4;
        if ((long)(len - (size_t)(body - req)) >= content_length) break;
      }
    }
    server->requests++;
    char response[8192];
    int is_post = strncmp(req, "POST ", 5) == 0;
    int is_doc = strstr(req, " /doc ") != NULL;
    char etag[32];
    snprintf(etag, sizeof etag, "\"%d\"", server->version);
    if (server->stop) {
      snprintf(response, sizeof response, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (is_post && is_doc && body) {
      snprintf(server->doc, sizeof server->doc, "%.*s", (int)content_length, body);
      server->version++;
      snprintf(response, sizeof response, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else if (is_doc && server->version > 0 && strstr(req, etag) && find_ci(req, "if-none-match")) {
      snprintf(response, sizeof response, "HTTP/1.1 304 Not Modified\r\nETag: %s\r\nConnection: close\r\n\r\n", etag);
    } else if (is_doc && server->version > 0) {
      snprintf(response, sizeof response,
               "HTTP/1.1 200 OK\r\nETag: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
               etag, strlen(server->doc), server->doc);
    } else if (strstr(req, " /fail ")) {
      snprintf(response, sizeof response, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else {
      snprintf(response, sizeof response, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    ssize_t written = write(conn, response, strlen(response));
    (void)written;
    close(conn);
  }
  return NULL;
}

static void http_start(http_server *server, pthread_t *thread) {
  memset(server, 0, sizeof *server);
  server->listener = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(server->listener >= 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(server->listener, (struct sockaddr *)&addr, sizeof addr) == 0);
  CHECK(listen(server->listener, 16) == 0);
  socklen_t size = sizeof addr;
  CHECK(getsockname(server->listener, (struct sockaddr *)&addr, &size) == 0);
  server->port = ntohs(addr.sin_port);
  CHECK(pthread_create(thread, NULL, http_serve, server) == 0);
}

static void http_stop(http_server *server, pthread_t thread) {
  server->stop = 1;
  /* Wake the accept. */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((unsigned short)server->port);
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) == 0) {
    ssize_t written = write(s, "GET / HTTP/1.0\r\n\r\n", 18);
    (void)written;
  }
  close(s);
  pthread_join(thread, NULL);
  close(server->listener);
}

TEST(remote_round_trip_and_errors) {
  http_server server;
  pthread_t thread;
  http_start(&server, &thread);
  char doc_url[128], fail_url[128], missing_url[128];
  snprintf(doc_url, sizeof doc_url, "http://127.0.0.1:%d/doc", server.port);
  snprintf(fail_url, sizeof fail_url, "http://127.0.0.1:%d/fail", server.port);
  snprintf(missing_url, sizeof missing_url, "http://127.0.0.1:%d/missing", server.port);
  tinystore_store_t *a = new_store(), *b = new_store();
  tinystore_persister_t *pa = NULL, *pb = NULL, *bad = NULL;
  CHECK_OK(tinystore_remote_persister_new(a, doc_url, doc_url, &pa));
  CHECK_OK(tinystore_store_set_json(a, CONTENT));
  CHECK_OK(tinystore_persister_save(pa));
  CHECK_STR(server.doc, CONTENT); /* the POSTed body is TinyBase's JSON document */
  CHECK_OK(tinystore_remote_persister_new(b, doc_url, NULL, &pb)); /* read-only */
  CHECK_OK(tinystore_persister_load(pb));
  CHECK_JSON(b, CONTENT);
  int before = server.requests;
  CHECK_OK(tinystore_persister_load(pb)); /* answered 304: the same document */
  CHECK(server.requests == before + 1);
  CHECK_JSON(b, CONTENT);
  CHECK_STATUS(TINYSTORE_STATUS_UNSUPPORTED, tinystore_persister_save(pb));
  /* Failures: a refused POST, a missing document; the store is kept. */
  CHECK_OK(tinystore_remote_persister_new(b, missing_url, fail_url, &bad));
  CHECK_STATUS(TINYSTORE_STATUS_STORAGE, tinystore_persister_load(bad));
  CHECK_ERROR_MENTIONS("404");
  CHECK_OK(tinystore_persister_allow_overwrite(bad));
  CHECK_STATUS(TINYSTORE_STATUS_STORAGE, tinystore_persister_save(bad));
  CHECK_ERROR_MENTIONS("500");
  CHECK_JSON(b, CONTENT);
  /* Misuse. */
  tinystore_persister_t *none = NULL;
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_remote_persister_new(a, NULL, NULL, &none));
  CHECK_STATUS(TINYSTORE_STATUS_NULL_ARGUMENT, tinystore_remote_persister_new(a, doc_url, NULL, NULL));
  CHECK(none == NULL);
  CHECK_OK(tinystore_persister_free(pa));
  CHECK_OK(tinystore_persister_free(pb));
  CHECK_OK(tinystore_persister_free(bad));
  CHECK_OK(tinystore_store_free(a));
  CHECK_OK(tinystore_store_free(b));
  http_stop(&server, thread);
}

static const test_case CASES[] = {
    CASE(sqlite_json_round_trip),
    CASE(sqlite_mergeable_round_trip),
    CASE(sqlite_tabular_round_trip),
    CASE(file_round_trip),
    CASE(auto_save),
    CASE(auto_load_and_auto_persisting),
    CASE(failed_load_blocks_saves),
    CASE(storage_errors),
    CASE(remote_round_trip_and_errors),
};

RUN_TESTS(CASES)
