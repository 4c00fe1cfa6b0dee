/* Fuzz harness: sigild's per-client key allow-list (--client-keys), through
 * sigil_client_keys_check, the same parser sigil_service_new runs on the file.
 * Invariants: never crashes or leaks; an accepted list has at most SIGIL_CLIENT_KEYS_MAX_CLIENTS
 * clients, and none when the input has no entry line; oversized input is SIGIL_ERR_TOO_LARGE;
 * every other refusal is SIGIL_ERR_CONFIG (or NOMEM). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/result.h"
#include "sigild/service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 12345;
    sigil_result r = sigil_client_keys_check((const char *)data, size, &n);
    if (sigil_is_ok(r)) {
        if (size > SIGIL_CLIENT_KEYS_MAX || n > SIGIL_CLIENT_KEYS_MAX_CLIENTS || memchr(data, '\0', size) != NULL) {
            abort();
        }
        if (n > 0 && size < 3) { /* the shortest entry is "a *" */
            abort();
        }
    } else {
        if (n != 0) {
            abort();
        }
        if (size > SIGIL_CLIENT_KEYS_MAX ? r.code != SIGIL_ERR_TOO_LARGE
                                         : (r.code != SIGIL_ERR_CONFIG && r.code != SIGIL_ERR_NOMEM)) {
            abort();
        }
    }
    sigil_error_clear();
    return 0;
}
