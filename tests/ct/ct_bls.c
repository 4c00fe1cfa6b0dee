/* Constant-time check for every secret path of the BLS layer, run under valgrind memcheck.
 *
 * The secret inputs are marked undefined; memcheck then reports any conditional branch or
 * memory address that depends on them. Outputs that are public by design (a public key, a
 * signature, or the 1-bit "key in range" verdict) are declassified explicitly, with the reason,
 * before ordinary code branches on them. A clean run (exit 0, no memcheck errors) is the proof;
 * ctest runs this with --error-exitcode. */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "common/hex.h"
#include "common/secmem.h"
#include "crypto/bls.h"

#define SECRET(p, n)     VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define DECLASSIFY(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "ct_bls: %s failed\n", what);
        failures++;
    }
}

int main(void)
{
    uint8_t *skb = sigil_secure_alloc(32);
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    uint8_t msg[32];
    memset(msg, 0x5a, sizeof msg);

    for (int round = 0; round < 3; round++) {
        /* A random key each round so no path is specialised to one value. */
        check(sigil_random_bytes(skb, 32), "random");
        skb[0] &= 0x3f; /* below r */

        /* hex decoding of a secret read from stdin is constant-time too */
        /* hex encoding and decoding of a secret are constant-time */
        char hex[67];
        SECRET(skb, 32);
        sigil_hex_encode(hex, skb, 32, 0);
        DECLASSIFY(skb, 32);
        uint8_t back[32];
        int hr = sigil_hex_decode_digits_ct(back, hex, 32);
        DECLASSIFY(&hr, sizeof hr); /* the verdict only says "well-formed hex" */
        check(hr == 1, "hex decode");
        sigil_wipe(back, sizeof back);

        SECRET(skb, 32);
        sigil_result r = sigil_bls_sk_from_bytes(sk, skb);
        /* Declassify: whether a key is in [1, r-1] is published by refusing it. */
        DECLASSIFY(&r, sizeof r);
        check(sigil_is_ok(r), "sk_from_bytes");

        sigil_bls_pk pk;
        sigil_bls_sk_to_pk(&pk, sk);
        DECLASSIFY(&pk, sizeof pk); /* a public key is public */

        sigil_bls_sig sig;
        sigil_bls_sign(&sig, sk, msg, sizeof msg);
        DECLASSIFY(&sig, sizeof sig); /* a signature is public */

        /* the key store's path: the message hashed once (public), then the multiplication */
        sigil_bls_msg_point h;
        sigil_bls_hash_msg(&h, msg, sizeof msg);
        sigil_bls_sig sig2;
        sigil_bls_sign_hashed(&sig2, sk, &h);
        DECLASSIFY(&sig2, sizeof sig2);
        check(memcmp(&sig, &sig2, sizeof sig) == 0, "sign_hashed equals sign");

        sigil_bls_sig proof;
        sigil_bls_pop_prove(&proof, sk);
        DECLASSIFY(&proof, sizeof proof);

        uint8_t out[32];
        sigil_bls_sk_to_bytes(out, sk);
        DECLASSIFY(out, sizeof out); /* compared below only to check the test itself */
        DECLASSIFY(skb, 32);
        check(memcmp(out, skb, 32) == 0, "sk round trip");

        int z = sigil_bls_sk_is_zero(sk);
        DECLASSIFY(&z, sizeof z);
        check(!z, "sk_is_zero");

        /* the results must still be correct */
        check(sigil_bls_verify_var(&pk, msg, sizeof msg, &sig), "verify");
        check(sigil_bls_pop_verify_var(&pk, &proof), "pop verify");

        /* KeyGen (HKDF-mod-r) with a secret IKM */
        uint8_t ikm[32];
        check(sigil_random_bytes(ikm, sizeof ikm), "random");
        SECRET(ikm, sizeof ikm);
        sigil_result kr = sigil_bls_keygen(sk, ikm, sizeof ikm, NULL, 0);
        DECLASSIFY(&kr, sizeof kr);
        check(sigil_is_ok(kr), "keygen");
        sigil_bls_sk_to_pk(&pk, sk);
        DECLASSIFY(&pk, sizeof pk);

        uint8_t okm[48];
        check(sigil_random_bytes(okm, sizeof okm), "random");
        SECRET(okm, sizeof okm);
        sigil_bls_sk_from_okm48(sk, okm);
        sigil_wipe(ikm, sizeof ikm);
        sigil_wipe(okm, sizeof okm);
        VALGRIND_MAKE_MEM_DEFINED(sk, sizeof *sk);
    }

    /* Equality of secrets (MACs, checksums) */
    uint8_t a[32], b[32];
    check(sigil_random_bytes(a, 32), "random");
    memcpy(b, a, 32);
    SECRET(a, 32);
    SECRET(b, 32);
    int eq = sigil_ct_memeq(a, b, 32);
    DECLASSIFY(&eq, sizeof eq);
    check(eq == 1, "ct_memeq");

    sigil_secure_free(sk);
    sigil_secure_free(skb);
    if (failures == 0) {
        printf("ct_bls: all secret paths ran; memcheck decides constant-time\n");
    }
    return failures == 0 ? 0 : 1;
}
