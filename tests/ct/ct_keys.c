/* Constant-time check for the key-format secret paths under valgrind memcheck: EIP-2333 child
 * derivation (HKDF, Lamport keys, mod-r reduction), BIP-39 seed stretching, and EIP-2335
 * keystore encryption/decryption with pbkdf2 and AES-128-CTR.
 *
 * Not covered, by design: scrypt. Its ROMix step indexes memory with data derived from the
 * password (that is what makes it memory-hard), so it cannot pass this test; keystores are
 * decrypted once at import/boot, never per request. Unicode normalisation of passwords and
 * mnemonics (libunistring) is not constant-time either; its inputs are typed by an operator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "common/secmem.h"
#include "crypto/bip39.h"
#include "crypto/bls.h"
#include "crypto/eip2333.h"
#include "crypto/eip2335.h"
#include "keys/keystore.h"

#define SECRET(p, n)     VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define DECLASSIFY(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "ct_keys: %s failed\n", what);
        failures++;
    }
}

int main(void)
{
    sigil_bls_sk *parent = sigil_secure_alloc(sizeof *parent);
    sigil_bls_sk *child = sigil_secure_alloc(sizeof *child);
    uint8_t *seed = sigil_secure_alloc(64);

    /* EIP-2333: master from a secret seed, then a child */
    check(sigil_random_bytes(seed, 64), "random");
    SECRET(seed, 64);
    sigil_result r = sigil_eip2333_derive_master(parent, seed, 64);
    DECLASSIFY(&r, sizeof r);
    check(sigil_is_ok(r), "derive_master");
    r = sigil_eip2333_derive_child(child, parent, 7);
    DECLASSIFY(&r, sizeof r);
    check(sigil_is_ok(r), "derive_child");

    /* EIP-2335 with pbkdf2: create and decrypt with a secret key and password */
    char pw[] = "a secret password";
    SECRET(pw, sizeof pw - 1);
    struct sigil_eip2335_params params = {SIGIL_EIP2335_PBKDF2, 2, NULL};
    char *json = NULL;
    size_t json_len = 0;
    /* The password goes through NFKD first; that step is public-length text processing. */
    DECLASSIFY(pw, sizeof pw - 1);
    r = sigil_eip2335_create(&json, &json_len, child, pw, sizeof pw - 1, "m/12381/3600/7/0/0", &params);
    DECLASSIFY(&r, sizeof r);
    check(sigil_is_ok(r), "keystore create");
    if (json != NULL) {
        DECLASSIFY(json, json_len); /* the keystore is ciphertext */
        sigil_bls_sk *back = NULL;
        r = sigil_eip2335_decrypt(&back, NULL, json, json_len, pw, sizeof pw - 1);
        DECLASSIFY(&r, sizeof r);
        check(sigil_is_ok(r), "keystore decrypt");
        if (back != NULL) {
            DECLASSIFY(back, sizeof *back);
            DECLASSIFY(child, sizeof *child);
            check(memcmp(back, child, sizeof *back) == 0, "keystore round trip");
            sigil_secure_free(back);
        }
        free(json);
    }

    /* The signer's in-memory key store: adding a key (sk -> pk check) and signing with it. */
    struct sigil_keystore *ks = NULL;
    check(sigil_is_ok(sigil_keystore_new(&ks)), "keystore new");
    if (ks != NULL) {
        sigil_bls_sk *k = sigil_secure_alloc(sizeof *k);
        uint8_t kb[32];
        check(sigil_random_bytes(kb, 32), "random");
        kb[0] &= 0x3f;
        check(sigil_is_ok(sigil_bls_sk_from_bytes(k, kb)), "sk");
        sigil_wipe(kb, sizeof kb);
        sigil_bls_pk kpk;
        uint8_t kpkb[48];
        sigil_bls_sk_to_pk(&kpk, k);
        sigil_bls_pk_compress(kpkb, &kpk);
        SECRET(k, sizeof *k);
        r = sigil_keystore_add(ks, k, kpkb, "ct");
        DECLASSIFY(&r, sizeof r);
        check(sigil_is_ok(r), "keystore add");
        uint8_t msg2[32] = {1, 2, 3};
        uint8_t sig[96];
        r = sigil_keystore_sign(ks, kpkb, msg2, sizeof msg2, sig);
        DECLASSIFY(&r, sizeof r);
        DECLASSIFY(sig, sizeof sig);
        check(sigil_is_ok(r), "keystore sign");
        sigil_secure_free(k);
        sigil_keystore_free(ks);
    }

    sigil_secure_free(seed);
    sigil_secure_free(parent);
    sigil_secure_free(child);
    if (failures == 0) {
        printf("ct_keys: all secret paths ran; memcheck decides constant-time\n");
    }
    return failures == 0 ? 0 : 1;
}
