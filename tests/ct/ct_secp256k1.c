/* Constant-time check of the wallet's secret paths under valgrind memcheck: loading a secp256k1
 * key, deriving its public key and address, and signing a digest (libsecp256k1's constant-time
 * signing with RFC 6979 nonces, plus Sigil's wrapper around it). The key is marked undefined;
 * outputs that are public by design are declassified before ordinary code looks at them. */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "common/secmem.h"
#include "eth1/secp256k1.h"

#define SECRET(p, n)     VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define DECLASSIFY(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

int main(void)
{
    int failures = 0;
    for (int round = 0; round < 3; round++) {
        uint8_t *raw = sigil_secure_alloc(SIGIL_SECP256K1_SK_LEN);
        if (raw == NULL || !sigil_random_bytes(raw, SIGIL_SECP256K1_SK_LEN)) {
            return 1;
        }
        raw[0] &= 0x7f; /* below the group order */
        raw[31] |= 1;   /* not zero */
        SECRET(raw, SIGIL_SECP256K1_SK_LEN);
        sigil_secp256k1_sk *sk = NULL;
        sigil_result r = sigil_secp256k1_sk_from_bytes(&sk, raw);
        DECLASSIFY(&r, sizeof r); /* validity is published by the error */
        if (!sigil_is_ok(r)) {
            fprintf(stderr, "ct_secp256k1: key rejected\n");
            failures++;
            sigil_secure_free(raw);
            continue;
        }
        uint8_t pub[SIGIL_SECP256K1_PUB_LEN], addr[SIGIL_ETH1_ADDR_LEN];
        r = sigil_secp256k1_pubkey(pub, sk);
        DECLASSIFY(&r, sizeof r);
        DECLASSIFY(pub, sizeof pub); /* a public key is public */
        r = sigil_secp256k1_address(addr, sk);
        DECLASSIFY(&r, sizeof r);
        DECLASSIFY(addr, sizeof addr);
        uint8_t digest[32];
        memset(digest, 0x42, sizeof digest);
        struct sigil_secp256k1_sig sig;
        r = sigil_secp256k1_sign(&sig, sk, digest);
        DECLASSIFY(&r, sizeof r);
        DECLASSIFY(&sig, sizeof sig); /* a signature is public */
        if (!sigil_is_ok(r)) {
            failures++;
        }
        uint8_t back[SIGIL_ETH1_ADDR_LEN];
        if (!sigil_is_ok(sigil_secp256k1_recover_address(back, &sig, digest)) || memcmp(back, addr, sizeof addr) != 0) {
            fprintf(stderr, "ct_secp256k1: signature does not recover to the key's address\n");
            failures++;
        }
        sigil_secp256k1_sk_free(sk);
        DECLASSIFY(raw, SIGIL_SECP256K1_SK_LEN);
        sigil_secure_free(raw);
    }
    if (failures == 0) {
        printf("ct_secp256k1: all secret paths ran; memcheck decides constant-time\n");
    }
    return failures == 0 ? 0 : 1;
}
