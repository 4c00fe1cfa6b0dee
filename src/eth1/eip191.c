#include "eth1/eip191.h"

#include <stdio.h>
#include <string.h>

#include "crypto/keccak.h"

sigil_result sigil_eip191_hash(uint8_t out[32], const uint8_t *msg, size_t len)
{
    if (len > SIGIL_EIP191_MAX_MESSAGE) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "message over %u bytes", SIGIL_EIP191_MAX_MESSAGE);
    }
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix,
                     "\x19"
                     "Ethereum Signed Message:\n%zu",
                     len);
    sigil_keccak256_ctx ctx;
    sigil_keccak256_init(&ctx);
    sigil_keccak256_update(&ctx, (const uint8_t *)prefix, (size_t)n);
    if (len > 0) {
        sigil_keccak256_update(&ctx, msg, len);
    }
    sigil_keccak256_final(&ctx, out);
    return sigil_ok();
}

sigil_result sigil_eip191_sign(struct sigil_secp256k1_sig *out, const sigil_secp256k1_sk *sk, const uint8_t *msg,
                               size_t len)
{
    uint8_t h[32];
    SIGIL_GUARD(sigil_eip191_hash(h, msg, len));
    return sigil_secp256k1_sign(out, sk, h);
}

void sigil_eth1_sig_to_rsv(uint8_t out[65], const struct sigil_secp256k1_sig *sig)
{
    memcpy(out, sig->r, 32);
    memcpy(out + 32, sig->s, 32);
    out[64] = (uint8_t)(27 + sig->y_parity);
}
