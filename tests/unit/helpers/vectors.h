/* Test helpers: locating and loading the shared public vectors. */
#ifndef SIGIL_TEST_VECTORS_H
#define SIGIL_TEST_VECTORS_H

#include <jansson.h>
#include <stddef.h>

/* Returns the path $SIGIL_VECTORS/<rel>, or exits 77 (ctest "skipped") with a message when the
 * vectors folder or the file is absent. */
const char *vectors_path(const char *rel);

/* Loads a JSON vector file (skips as above when absent); aborts the test on a parse error. */
json_t *vectors_load_json(const char *rel);

#endif
