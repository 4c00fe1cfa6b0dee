/* Constant-time check of the wallet's secret paths under valgrind memcheck: loading a secp256k1
 * key, deriving its public key and address, and signing a digest (libsecp256k1's constant-time
 * signing with RFC 6979 nonces, plus Sigil's wrapper around it); the key ring's add and sign (the
 * path of sigild's wallet and, with a generated key, of the audit key); and decrypting a Web3 v3
 * keystore (pbkdf2: scrypt's ROMix indexes memory by password-derived data by design) with the
 * right and a wrong password, where the MAC comparison must not branch on the secret. The key and
 * the password are marked undefined; outputs that are public by design are declassified before
 * ordinary code looks at them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "common/secmem.h"
#include "eth1/keyring.h"
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
    /* the key ring: add (public key derivation) and sign by address */
    struct sigil_eth1_keyring *kr = NULL;
    uint8_t *raw = sigil_secure_alloc(SIGIL_SECP256K1_SK_LEN);
    if (raw == NULL || !sigil_is_ok(sigil_eth1_keyring_new(&kr)) || !sigil_random_bytes(raw, SIGIL_SECP256K1_SK_LEN)) {
        return 1;
    }
    raw[0] &= 0x7f;
    raw[31] |= 1;
    sigil_secp256k1_sk *ksk = NULL;
    if (!sigil_is_ok(sigil_secp256k1_sk_from_bytes(&ksk, raw))) {
        return 1;
    }
    /* a keystore of this key, made while nothing is marked secret yet (pbkdf2, cheap) */
    static const char pw_text[] = "correct horse battery staple";
    struct sigil_eth1_keystore_params kp = {.kdf = SIGIL_ETH1_KDF_PBKDF2, .cost = 16};
    char *ks = NULL;
    size_t ks_len = 0;
    if (!sigil_is_ok(sigil_eth1_keystore_create(&ks, &ks_len, ksk, pw_text, sizeof pw_text - 1, &kp))) {
        return 1;
    }
    SECRET(raw, SIGIL_SECP256K1_SK_LEN);
    sigil_secp256k1_sk_free(ksk);
    ksk = NULL;
    sigil_result r = sigil_secp256k1_sk_from_bytes(&ksk, raw);
    DECLASSIFY(&r, sizeof r);
    uint8_t kaddr[SIGIL_ETH1_ADDR_LEN];
    r = sigil_is_ok(r) ? sigil_eth1_keyring_add(kr, ksk, kaddr) : r; /* takes ksk */
    DECLASSIFY(&r, sizeof r);
    DECLASSIFY(kaddr, sizeof kaddr); /* an address is public */
    uint8_t digest[32];
    memset(digest, 0x5a, sizeof digest);
    struct sigil_secp256k1_sig ksig;
    if (sigil_is_ok(r)) {
        r = sigil_eth1_keyring_sign(kr, kaddr, digest, &ksig);
        DECLASSIFY(&r, sizeof r);
        DECLASSIFY(&ksig, sizeof ksig);
    }
    uint8_t back[SIGIL_ETH1_ADDR_LEN];
    if (!sigil_is_ok(r) || !sigil_is_ok(sigil_secp256k1_recover_address(back, &ksig, digest)) ||
        memcmp(back, kaddr, sizeof back) != 0) {
        fprintf(stderr, "ct_secp256k1: key ring signature does not recover to the key's address\n");
        failures++;
    }
    sigil_eth1_keyring_free(kr);
    DECLASSIFY(raw, SIGIL_SECP256K1_SK_LEN);
    sigil_secure_free(raw);

    /* keystore decryption with the password secret: right, then wrong (same length) */
    char *pw = sigil_secure_alloc(sizeof pw_text);
    if (pw == NULL) {
        return 1;
    }
    for (int wrong = 0; wrong < 2; wrong++) {
        memcpy(pw, pw_text, sizeof pw_text);
        pw[0] = wrong ? 'C' : 'c';
        SECRET(pw, sizeof pw_text);
        sigil_secp256k1_sk *dsk = NULL;
        r = sigil_eth1_keystore_decrypt(&dsk, ks, ks_len, pw, sizeof pw_text - 1);
        DECLASSIFY(&r, sizeof r); /* the verdict is the public result */
        if (r.code != (wrong ? SIGIL_ERR_KEYSTORE_PASSWORD : SIGIL_OK) || (dsk == NULL) != (wrong != 0)) {
            fprintf(stderr, "ct_secp256k1: keystore decryption with the %s password gave %d\n",
                    wrong ? "wrong" : "right", (int)r.code);
            failures++;
        }
        uint8_t daddr[SIGIL_ETH1_ADDR_LEN];
        if (dsk != NULL) {
            r = sigil_secp256k1_address(daddr, dsk);
            DECLASSIFY(&r, sizeof r);
            DECLASSIFY(daddr, sizeof daddr);
            if (!sigil_is_ok(r) || memcmp(daddr, kaddr, sizeof daddr) != 0) {
                fprintf(stderr, "ct_secp256k1: keystore decrypted to another key\n");
                failures++;
            }
        }
        sigil_secp256k1_sk_free(dsk);
        DECLASSIFY(pw, sizeof pw_text);
    }
    sigil_secure_free(pw);
    free(ks);

    if (failures == 0) {
        printf("ct_secp256k1: all secret paths ran; memcheck decides constant-time\n");
    }
    return failures == 0 ? 0 : 1;
}
