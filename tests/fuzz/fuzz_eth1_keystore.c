/* Fuzz harness: Web3 Secret Storage v3 (eth1) keystore parsing and decryption with a fixed
 * password (sigil_eth1_keystore_decrypt).
 * Invariants: never crashes or leaks; an error leaves *out NULL; a keystore that decrypts yields
 * a valid key, whose address matches the file's "address" member when present, and which
 * round-trips through sigil_eth1_keystore_create / decrypt (cheap pbkdf2, c = 1).
 * The parser's own KDF bounds (SIGIL_ETH1_MAX_*) allow costs of seconds per input, so inputs that
 * ask for more than a tiny KDF cost are skipped here, with the keystore's own member lookup
 * (crypto or Crypto, kdfparams n/r/p/c); everything up to the KDF call is still fuzzed through
 * the bounded values. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/result.h"
#include "eth1/secp256k1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_SCRYPT_WORK (1u << 12) /* n * r * p */
#define FUZZ_MAX_SCRYPT_OWN  (1u << 16) /* r = 1, n = 2^16: the own-ROMix path (OpenSSL refuses it) */
#define FUZZ_MAX_PBKDF2_C    64u

static json_int_t member_int(const json_t *obj, const char *key, json_int_t dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* True when the input would run a KDF costlier than the harness allows. */
static int too_costly(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (root == NULL) {
        return 0;
    }
    int costly = 0;
    const json_t *crypto = json_object_get(root, "crypto");
    if (crypto == NULL) {
        crypto = json_object_get(root, "Crypto");
    }
    const json_t *kp = json_object_get(crypto, "kdfparams");
    if (json_is_object(kp)) {
        json_int_t n = member_int(kp, "n", 1);
        json_int_t r = member_int(kp, "r", 1);
        json_int_t p = member_int(kp, "p", 1);
        json_int_t c = member_int(kp, "c", 1);
        /* out-of-range values are refused by the parser before any KDF runs: keep them */
        if (n > 0 && r > 0 && p > 0 && n <= SIGIL_ETH1_MAX_SCRYPT_N && r <= SIGIL_ETH1_MAX_SCRYPT_RP &&
            p <= SIGIL_ETH1_MAX_SCRYPT_RP && n * r * p > FUZZ_MAX_SCRYPT_WORK &&
            !(r == 1 && p == 1 && n <= FUZZ_MAX_SCRYPT_OWN)) {
            costly = 1;
        }
        if (c > FUZZ_MAX_PBKDF2_C && c <= SIGIL_ETH1_MAX_PBKDF2_C) {
            costly = 1;
        }
    }
    json_decref(root);
    return costly;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size <= SIGIL_ETH1_KEYSTORE_MAX && too_costly(data, size)) {
        return 0;
    }
    static const char pw[] = "fuzzing password";
    sigil_secp256k1_sk *sk = NULL;
    sigil_result r = sigil_eth1_keystore_decrypt(&sk, (const char *)data, size, pw, sizeof pw - 1);
    if (!sigil_is_ok(r)) {
        if (sk != NULL) {
            abort();
        }
        return 0;
    }
    if (sk == NULL) {
        abort();
    }
    uint8_t addr[SIGIL_ETH1_ADDR_LEN];
    if (!sigil_is_ok(sigil_secp256k1_address(addr, sk))) {
        abort();
    }
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    const char *want = json_string_value(json_object_get(root, "address"));
    if (want != NULL) {
        uint8_t w[SIGIL_ETH1_ADDR_LEN];
        if (!sigil_is_ok(sigil_hex_decode_exact(w, sizeof w, want, strlen(want))) || memcmp(w, addr, sizeof w) != 0) {
            abort();
        }
    }
    json_decref(root);

    /* round trip: re-encrypt cheaply, decrypt, same account */
    static const struct sigil_eth1_keystore_params cheap = {SIGIL_ETH1_KDF_PBKDF2, 1};
    char *json = NULL;
    size_t json_len = 0;
    if (!sigil_is_ok(sigil_eth1_keystore_create(&json, &json_len, sk, pw, sizeof pw - 1, &cheap))) {
        abort();
    }
    sigil_secp256k1_sk *back = NULL;
    uint8_t addr2[SIGIL_ETH1_ADDR_LEN];
    if (!sigil_is_ok(sigil_eth1_keystore_decrypt(&back, json, json_len, pw, sizeof pw - 1)) ||
        !sigil_is_ok(sigil_secp256k1_address(addr2, back)) || memcmp(addr, addr2, sizeof addr) != 0) {
        abort();
    }
    free(json);
    sigil_secp256k1_sk_free(back);
    sigil_secp256k1_sk_free(sk);
    return 0;
}
