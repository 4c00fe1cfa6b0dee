/* Fuzz harness: sigil_eth2_parse_request over arbitrary bodies (mainnet network). Any result is
 * fine; crashes, sanitizer reports and leaks are not. A successful parse is re-checked through
 * the parsed-object entry point, which must agree. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eth2/network.h"
#include "eth2/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sigil_network net;
    static int ready;
    if (!ready) {
        if (!sigil_is_ok(sigil_network_builtin(&net, "mainnet"))) {
            abort();
        }
        ready = 1;
    }
    struct sigil_eth2_request r;
    if (!sigil_is_ok(sigil_eth2_parse_request(&r, (const char *)data, size, &net))) {
        return 0;
    }
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    struct sigil_eth2_request r2;
    if (j == NULL || !sigil_is_ok(sigil_eth2_parse_request_json(&r2, j, &net)) ||
        memcmp(r.signing_root, r2.signing_root, 32) != 0 || r.type != r2.type) {
        abort();
    }
    json_decref(j);
    return 0;
}
