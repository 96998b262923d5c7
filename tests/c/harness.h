/* A minimal test harness for the C ABI tests: each file defines TEST(name) functions and a
 * table of them; `test_x NAME` runs one (ctest registers one test per name, found by
 * CMakeLists.txt from the TEST(...) lines), `test_x` runs all. Checks stay on in every build
 * type. */
#ifndef TINYSTORE_TEST_HARNESS_H
#define TINYSTORE_TEST_HARNESS_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tinystore.h"

typedef struct test_case {
  const char *name;
  void (*fn)(void);
} test_case;

#define TEST(name) static void name(void)
#define CASE(name) {#name, name}

#define FAIL(...)                                                                     \
  do {                                                                                \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                   \
    fprintf(stderr, __VA_ARGS__);                                                     \
    fprintf(stderr, " (last error: \"%s\")\n", tinystore_last_error_message());      \
    exit(1);                                                                          \
  } while (0)

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) FAIL("CHECK(%s) failed", #cond);                                     \
  } while (0)

#define CHECK_STATUS(expected, call)                                                  \
  do {                                                                                \
    tinystore_status_t status_ = (call);                                              \
    if (status_ != (expected))                                                        \
      FAIL("%s returned %s, expected %s", #call, tinystore_status_name((int)status_), \
           tinystore_status_name((int)(expected)));                                   \
  } while (0)

#define CHECK_OK(call) CHECK_STATUS(TINYSTORE_STATUS_OK, call)

#define CHECK_STR(actual, expected)                                                   \
  do {                                                                                \
    const char *a_ = (actual), *e_ = (expected);                                      \
    if (a_ == NULL || strcmp(a_, e_) != 0)                                            \
      FAIL("%s is \"%s\", expected \"%s\"", #actual, a_ ? a_ : "(null)", e_);         \
  } while (0)

/* The last error must mention `part`. */
#define CHECK_ERROR_MENTIONS(part)                                                    \
  do {                                                                                \
    if (strstr(tinystore_last_error_message(), (part)) == NULL)                       \
      FAIL("the last error does not mention \"%s\"", (part));                         \
  } while (0)

static inline void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

/* A fresh path `$TEST_TMPDIR/<name>-<pid>` (removed first). */
static inline const char *temp_path(char *buf, size_t size, const char *name) {
  const char *dir = getenv("TEST_TMPDIR");
  snprintf(buf, size, "%s/%s-%ld", dir ? dir : "/tmp", name, (long)getpid());
  remove(buf);
  return buf;
}

/* Checks the JSON of a store (`tinystore_store_get_json`). */
static inline void check_json(tinystore_store_t *store, const char *expected, const char *file,
                              int line) {
  char *json = NULL;
  if (tinystore_store_get_json(store, &json) != TINYSTORE_STATUS_OK) {
    fprintf(stderr, "%s:%d: get_json failed: %s\n", file, line, tinystore_last_error_message());
    exit(1);
  }
  if (strcmp(json, expected) != 0) {
    fprintf(stderr, "%s:%d: store JSON is\n  %s\nexpected\n  %s\n", file, line, json, expected);
    exit(1);
  }
  tinystore_string_free(json);
}
#define CHECK_JSON(store, expected) check_json((store), (expected), __FILE__, __LINE__)

/* Whether a string cell currently holds `expected`. */
static inline int has_string_cell(tinystore_store_t *store, const char *t, const char *r,
                                  const char *c, const char *expected) {
  tinystore_cell_t cell;
  if (tinystore_store_get_cell(store, t, r, c, &cell) != TINYSTORE_STATUS_OK) return 0;
  int same = cell.type == TINYSTORE_CELL_TYPE_STRING && strcmp(cell.string, expected) == 0;
  tinystore_cell_free(&cell);
  return same;
}

/* Polls (every 10 ms, at most `timeout_ms`) until the cell holds `expected`. */
static inline int wait_for_string_cell(tinystore_store_t *store, const char *t, const char *r,
                                       const char *c, const char *expected, long timeout_ms) {
  for (long waited = 0; waited <= timeout_ms; waited += 10) {
    if (has_string_cell(store, t, r, c, expected)) return 1;
    sleep_ms(10);
  }
  return 0;
}

static inline int run_tests(int argc, char **argv, const test_case *cases, size_t count) {
  if (argc < 2) {
    for (size_t i = 0; i < count; i++) {
      cases[i].fn();
      printf("ok %s\n", cases[i].name);
    }
    printf("%zu passed\n", count);
    return 0;
  }
  for (size_t i = 0; i < count; i++) {
    if (strcmp(cases[i].name, argv[1]) == 0) {
      cases[i].fn();
      printf("ok %s\n", cases[i].name);
      return 0;
    }
  }
  fprintf(stderr, "unknown test %s\n", argv[1]);
  return 2;
}

#define RUN_TESTS(cases) \
  int main(int argc, char **argv) { return run_tests(argc, argv, cases, sizeof cases / sizeof *cases); }

#endif
