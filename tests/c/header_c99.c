/* Built with -std=c99 -pedantic -Wall -Wextra -Werror: include/tinystore.h is valid C99. */
#include <stdio.h>
#include <string.h>

#include "tinystore.h"

int main(void) {
  tinystore_cell_t cell = tinystore_cell_null();
  tinystore_event_t event;
  tinystore_string_list_t list = {NULL, 0};
  memset(&event, 0, sizeof event);
  tinystore_string_list_free(&list);
  if (cell.type != TINYSTORE_CELL_TYPE_NULL || event.kind != TINYSTORE_LISTENER_HAS_TABLES) return 1;
  printf("C99: tinystore %s (header %d.%d.%d)\n", tinystore_version(), TINYSTORE_VERSION_MAJOR,
         TINYSTORE_VERSION_MINOR, TINYSTORE_VERSION_PATCH);
  return 0;
}
