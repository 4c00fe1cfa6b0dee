/* Fuzz harness: EIP-2335 keystore parsing and decryption with a fixed password.
 * Invariants: never crashes or leaks; a keystore that decrypts yields a valid key whose public
 * key matches the file's pubkey field when present. KDF costs in the input are bounded by the
 * parser (that bound is part of what is fuzzed), so inputs asking for huge costs are refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/eip2335.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Keep fuzzing fast: skip inputs that would run a full-cost KDF. */
    if (size > 0 && memmem(data, size, "262144", 6) != NULL) {
        return 0;
    }
    sigil_bls_sk *sk = NULL;
    struct sigil_eip2335_info info;
    static const char pw[] = "fuzzing password";
    sigil_result r = sigil_eip2335_decrypt(&sk, &info, (const char *)data, size, pw, sizeof pw - 1);
    if (sigil_is_ok(r)) {
        if (sk == NULL) {
            abort();
        }
        if (info.has_pubkey) {
            sigil_bls_pk pk;
            uint8_t enc[SIGIL_BLS_PK_LEN];
            sigil_bls_sk_to_pk(&pk, sk);
            sigil_bls_pk_compress(enc, &pk);
            if (memcmp(enc, info.pubkey, sizeof enc) != 0) {
                abort();
            }
        }
        sigil_secure_free(sk);
    } else if (sk != NULL) {
        abort();
    }
    return 0;
}
