// Built with -std=c++11 -pedantic -Wall -Wextra -Werror and linked to the static library:
// include/tinystore.h is valid C++ and its extern "C" guards give unmangled names.
#include <cstdio>
#include <cstring>

#include "tinystore.h"

namespace {
struct Counter {
  int calls = 0;
};

extern "C" void on_cell(void *user_data, tinystore_store_t *, const tinystore_event_t *event) {
  if (event->kind == TINYSTORE_LISTENER_CELL) static_cast<Counter *>(user_data)->calls++;
}
}  // namespace

int main() {
  tinystore_store_t *store = nullptr;
  if (tinystore_store_new(&store) != TINYSTORE_STATUS_OK) return 1;
  Counter counter;
  tinystore_listener_id_t id = 0;
  if (tinystore_store_add_cell_listener(store, nullptr, nullptr, nullptr, false, on_cell, &counter, &id) !=
      TINYSTORE_STATUS_OK)
    return 2;
  tinystore_cell_t dog = tinystore_cell_string("dog");
  if (tinystore_store_set_cell(store, "pets", "fido", "species", &dog) != TINYSTORE_STATUS_OK) return 3;
  tinystore_cell_t cell;
  if (tinystore_store_get_cell(store, "pets", "fido", "species", &cell) != TINYSTORE_STATUS_OK) return 4;
  bool same = cell.type == TINYSTORE_CELL_TYPE_STRING && std::strcmp(cell.string, "dog") == 0;
  tinystore_cell_free(&cell);
  if (!same || counter.calls != 1) return 5;
  if (tinystore_store_free(store) != TINYSTORE_STATUS_OK) return 6;
  std::printf("C++: tinystore %s\n", tinystore_version());
  return 0;
}
