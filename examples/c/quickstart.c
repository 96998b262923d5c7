/* quickstart: libtinystore from C.
 *
 * Alice's MergeableStore is persisted to SQLite; Bob's replica listens to the pets table; both
 * sync through a tinystore sync server, so each sees the other's writes.
 *
 *   quickstart [URL [DATABASE]]
 *
 * URL is a room of a running server, e.g. ws://127.0.0.1:8043/petShop for `tinystore serve`;
 * without one (or with ""), the program starts the same server in-process on a free port.
 * DATABASE is Alice's SQLite file (default quickstart.sqlite); run the program twice and
 * Alice starts from what she saved the first time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tinystore.h"

/* Every call returns a status; on failure, print the library's message and stop. */
#define CHECK(call)                                                                    \
  do {                                                                                 \
    tinystore_status_t status_ = (call);                                               \
    if (status_ != TINYSTORE_STATUS_OK) {                                              \
      fprintf(stderr, "%s failed: %s: %s\n", #call, tinystore_status_name(status_),    \
              tinystore_last_error_message());                                         \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A cell listener: runs on the thread that applied the change (for changes received from the
 * server, a library network thread). */
static void on_pet_cell(void *user_data, tinystore_store_t *store, const tinystore_event_t *event) {
  (void)store;
  const char *who = (const char *)user_data;
  const tinystore_cell_t *cell = &event->new_cell;
  switch (cell->type) {
    case TINYSTORE_CELL_TYPE_STRING:
      printf("  [%s listener] %s/%s/%s = \"%s\"\n", who, event->table_id, event->row_id, event->cell_id,
             cell->string);
      break;
    case TINYSTORE_CELL_TYPE_NUMBER:
      printf("  [%s listener] %s/%s/%s = %g\n", who, event->table_id, event->row_id, event->cell_id,
             cell->number);
      break;
    case TINYSTORE_CELL_TYPE_NONE:
      printf("  [%s listener] %s/%s/%s deleted\n", who, event->table_id, event->row_id, event->cell_id);
      break;
    default:
      printf("  [%s listener] %s/%s/%s changed\n", who, event->table_id, event->row_id, event->cell_id);
      break;
  }
  fflush(stdout);
}

/* A number cell (row given) or value (row NULL), or `fallback` when there is none. */
static double number_of(tinystore_store_t *store, const char *row, const char *id, double fallback) {
  tinystore_cell_t cell;
  tinystore_status_t status = row ? tinystore_store_get_cell(store, "pets", row, id, &cell)
                                  : tinystore_store_get_value(store, id, &cell);
  if (status != TINYSTORE_STATUS_OK) return fallback;
  double number = cell.type == TINYSTORE_CELL_TYPE_NUMBER ? cell.number : fallback;
  tinystore_cell_free(&cell);
  return number;
}

/* Waits (up to 10 s) until the cell pets/<row>/<id> (or the value <id>) is `expected`. */
static int wait_for(tinystore_store_t *store, const char *row, const char *id, double expected) {
  for (int i = 0; i < 1000; i++) {
    if (number_of(store, row, id, -1) == expected) return 1;
    sleep_ms(10);
  }
  return 0;
}

static void print_json(const char *who, tinystore_store_t *store) {
  char *json = NULL;
  CHECK(tinystore_store_get_json(store, &json));
  printf("%s: %s\n", who, json);
  tinystore_string_free(json);
}

int main(int argc, char **argv) {
  const char *url = argc > 1 && argv[1][0] ? argv[1] : NULL;
  const char *database = argc > 2 ? argv[2] : "quickstart.sqlite";
  char local_url[64];
  tinystore_ws_server_t *server = NULL;

  printf("libtinystore %s (header %d.%d.%d)\n", tinystore_version(), TINYSTORE_VERSION_MAJOR,
         TINYSTORE_VERSION_MINOR, TINYSTORE_VERSION_PATCH);
  if (url == NULL) {
    /* The server `tinystore serve` runs, relaying only (no room database). */
    uint16_t port = 0;
    CHECK(tinystore_ws_server_new("127.0.0.1", 0, NULL, &server));
    CHECK(tinystore_ws_server_port(server, &port));
    snprintf(local_url, sizeof local_url, "ws://127.0.0.1:%u/petShop", (unsigned)port);
    url = local_url;
    printf("started an in-process sync server: %s\n", url);
  }

  /* Alice: a MergeableStore kept in SQLite (load what is there, then save every change). */
  tinystore_mergeable_store_t *alice = NULL;
  tinystore_persister_t *persister = NULL;
  CHECK(tinystore_mergeable_store_new(NULL, &alice));
  CHECK(tinystore_sqlite_persister_new(alice, database, NULL, &persister));
  CHECK(tinystore_persister_start_auto_persisting(persister, 0));
  print_json("alice loaded from SQLite", alice);

  /* Bob: another replica, with a listener on every cell of the pets table. */
  tinystore_mergeable_store_t *bob = NULL;
  tinystore_listener_id_t listener = 0;
  CHECK(tinystore_mergeable_store_new(NULL, &bob));
  CHECK(tinystore_store_add_cell_listener(bob, "pets", NULL, NULL, false, on_pet_cell, (void *)"bob",
                                          &listener));

  /* Both connect to the same room and start syncing. */
  tinystore_ws_synchronizer_t *alice_sync = NULL, *bob_sync = NULL;
  CHECK(tinystore_ws_synchronizer_new(alice, url, NULL, &alice_sync));
  CHECK(tinystore_ws_synchronizer_new(bob, url, NULL, &bob_sync));
  CHECK(tinystore_ws_synchronizer_start_sync(alice_sync));
  CHECK(tinystore_ws_synchronizer_start_sync(bob_sync));
  printf("alice and bob are syncing through %s\n", url);

  /* Alice writes in one transaction: synced, and saved to SQLite, as one change. `visits`
   * counts the runs of this program on this database. */
  double visits = number_of(alice, NULL, "visits", 0) + 1;
  tinystore_cell_t dog = tinystore_cell_string("dog"), cat = tinystore_cell_string("cat");
  tinystore_cell_t five = tinystore_cell_number(5), four = tinystore_cell_number(4);
  tinystore_cell_t open = tinystore_cell_boolean(true), visit = tinystore_cell_number(visits);
  CHECK(tinystore_store_transaction_begin(alice));
  CHECK(tinystore_store_set_cell(alice, "pets", "fido", "species", &dog));
  CHECK(tinystore_store_set_cell(alice, "pets", "fido", "price", &five));
  CHECK(tinystore_store_set_cell(alice, "pets", "felix", "species", &cat));
  CHECK(tinystore_store_set_cell(alice, "pets", "felix", "price", &four));
  CHECK(tinystore_store_set_value(alice, "open", &open));
  CHECK(tinystore_store_set_value(alice, "visits", &visit));
  CHECK(tinystore_store_transaction_commit(alice));
  printf("alice wrote fido and felix (visit %g)\n", visits);
  fflush(stdout);
  if (!wait_for(bob, NULL, "visits", visits)) {
    fprintf(stderr, "bob did not receive alice's changes\n");
    return 1;
  }

  /* Bob changes a price; Alice receives it (and her persister saves it). */
  double raised = 5 + visits;
  tinystore_cell_t price = tinystore_cell_number(raised);
  CHECK(tinystore_store_set_cell(bob, "pets", "fido", "price", &price));
  printf("bob raised fido's price to %g\n", raised);
  fflush(stdout);
  if (!wait_for(alice, "fido", "price", raised)) {
    fprintf(stderr, "alice did not receive bob's change\n");
    return 1;
  }
  print_json("alice", alice);
  print_json("bob  ", bob);

  /* Sorted row ids: cheapest first. */
  tinystore_string_list_t ids;
  CHECK(tinystore_store_get_sorted_row_ids(alice, "pets", "price", false, 0, 0, &ids));
  printf("pets by price:");
  for (size_t i = 0; i < ids.len; i++) printf(" %s", ids.items[i]);
  printf("\n");
  tinystore_string_list_free(&ids);

  /* Clean up: synchronizers, persister, stores, server. Every handle has one free. */
  CHECK(tinystore_ws_synchronizer_free(alice_sync));
  CHECK(tinystore_ws_synchronizer_free(bob_sync));
  CHECK(tinystore_persister_free(persister));
  CHECK(tinystore_store_del_listener(bob, listener));
  CHECK(tinystore_store_free(alice));
  CHECK(tinystore_store_free(bob));
  if (server != NULL) CHECK(tinystore_ws_server_free(server));

  /* What Alice saved is in the database: load it into a fresh store. */
  tinystore_mergeable_store_t *reloaded = NULL;
  CHECK(tinystore_mergeable_store_new(NULL, &reloaded));
  CHECK(tinystore_sqlite_persister_new(reloaded, database, NULL, &persister));
  CHECK(tinystore_persister_load(persister));
  print_json("reloaded from SQLite", reloaded);
  CHECK(tinystore_persister_free(persister));
  CHECK(tinystore_store_free(reloaded));
  return 0;
}
