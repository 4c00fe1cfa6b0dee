/* Fuzz harness: BLS12-381 point decoding (compressed and uncompressed G1 and G2).
 * Invariants: decoding never crashes; whatever decodes re-encodes to the same bytes; a decoded
 * public key is never the identity; a decoded point is in its subgroup. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/bls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t out[SIGIL_BLS_SIG_RAW_LEN];
    if (size >= SIGIL_BLS_PK_LEN) {
        sigil_bls_pk pk;
        if (sigil_is_ok(sigil_bls_pk_decompress(&pk, data))) {
            sigil_bls_pk_compress(out, &pk);
            if (memcmp(out, data, SIGIL_BLS_PK_LEN) != 0 || pk.infinity || !sigil_bls_g1_in_subgroup_var(&pk)) {
                abort();
            }
        }
        sigil_bls_g1 g;
        if (sigil_is_ok(sigil_bls_g1_decompress_unchecked(&g, data))) {
            sigil_bls_pk_compress(out, &g);
            if (memcmp(out, data, SIGIL_BLS_PK_LEN) != 0) {
                abort();
            }
        }
    }
    if (size >= SIGIL_BLS_PK_RAW_LEN) {
        sigil_bls_pk pk;
        if (sigil_is_ok(sigil_bls_pk_deserialize(&pk, data))) {
            sigil_bls_pk_serialize(out, &pk);
            if (memcmp(out, data, SIGIL_BLS_PK_RAW_LEN) != 0) {
                abort();
            }
        }
    }
    if (size >= SIGIL_BLS_SIG_LEN) {
        sigil_bls_sig sig;
        if (sigil_is_ok(sigil_bls_sig_decompress(&sig, data))) {
            sigil_bls_sig_compress(out, &sig);
            if (memcmp(out, data, SIGIL_BLS_SIG_LEN) != 0 || !sigil_bls_g2_in_subgroup_var(&sig)) {
                abort();
            }
        }
    }
    if (size >= SIGIL_BLS_SIG_RAW_LEN) {
        sigil_bls_sig sig;
        if (sigil_is_ok(sigil_bls_sig_deserialize(&sig, data))) {
            sigil_bls_sig_serialize(out, &sig);
            if (memcmp(out, data, SIGIL_BLS_SIG_RAW_LEN) != 0) {
                abort();
            }
        }
    }
    return 0;
}
