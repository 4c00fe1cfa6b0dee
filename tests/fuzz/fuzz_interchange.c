/* Fuzz harness for the EIP-3076 interchange import: each input is imported into a fresh in-memory
 * SQLite database; when it is accepted, the export must re-import cleanly (round trip). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slashing/slashing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sigil_slashing_db *db;
    if (!sigil_is_ok(sigil_slashing_open(&db, "sqlite::memory:"))) {
        abort();
    }
    struct sigil_slashing_import_report rep;
    sigil_result r = sigil_slashing_import(db, (const char *)data, size, NULL, 0, &rep);
    if (sigil_is_ok(r)) {
        json_t *doc;
        if (!sigil_is_ok(sigil_slashing_export(db, &doc, false, NULL, 0))) {
            abort();
        }
        char *s = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        if (s == NULL) {
            abort();
        }
        /* Re-importing our own export must succeed and add nothing. */
        if (!sigil_is_ok(sigil_slashing_import(db, s, strlen(s), NULL, 0, &rep)) ||
            rep.blocks + rep.attestations != 0) {
            abort();
        }
        free(s);
    }
    sigil_slashing_close(db);
    return 0;
}
