/* Fuzz harness: attestation document verification (COSE_Sign1 + payload parsing, certificate
 * parsing, signature and chain checks) against the built-in AWS root; the seeds are simulated
 * documents, which parse and pass the COSE signature but fail the chain. Invariants: never crashes or leaks; a document
 * that verifies has a NUL-terminated module_id, digest SHA384, 48-byte PCRs and in-range lengths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sigil_attest_doc d;
    sigil_result r = sigil_attest_verify(&d, data, size, NULL);
    if (sigil_is_ok(r)) {
        if (memchr(d.module_id, '\0', sizeof d.module_id) == NULL || strcmp(d.digest, "SHA384") != 0 ||
            d.public_key_len > sizeof d.public_key || d.user_data_len > sizeof d.user_data ||
            d.nonce_len > sizeof d.nonce || d.cert_der_len == 0 || d.cert_der_len > sizeof d.cert_der) {
            abort();
        }
        for (int i = 0; i < SIGIL_ATTEST_NPCRS; i++) {
            if (d.pcr_present[i] && d.pcr_len[i] != 48) {
                abort();
            }
        }
    } else if (r.code != SIGIL_ERR_PARSE && r.code != SIGIL_ERR_CRYPTO) {
        abort();
    }
    return 0;
}
