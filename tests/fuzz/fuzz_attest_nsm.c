/* Fuzz harness: NSM device responses (what /dev/nsm returns, decoded inside the enclave).
 * Invariants: never crashes; a decoded document or random buffer lies inside the input. */
#include <stdint.h>
#include <stdlib.h>

#include "attest/attest_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    if (sigil_is_ok(attest_nsm_decode_attestation(data, size, &p, &n)) && (p < data || p + n > data + size)) {
        abort();
    }
    p = NULL;
    n = 0;
    if (sigil_is_ok(attest_nsm_decode_get_random(data, size, &p, &n)) && (p < data || p + n > data + size)) {
        abort();
    }
    return 0;
}
