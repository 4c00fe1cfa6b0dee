/* Unit tests for src/crypto/eip2333 and bls_keygen: the EIP-2333 test cases (master and child
 * keys, Lamport intermediates), the staking-deposit-cli copies, and EIP-2334 path parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/hex.h"
#include "common/secmem.h"
#include "crypto/bip39.h"
#include "crypto/bls.h"
#include "crypto/eip2333.h"

static char vectors_dir[4096];

static json_t *load_json(const char *rel, size_t flags)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", vectors_dir, rel);
    json_error_t err;
    json_t *j = json_load_file(path, flags, &err);
    if (j == NULL) {
        fail_msg("cannot load %s: %s", path, err.text);
    }
    return j;
}

static char *load_text(const char *rel)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", vectors_dir, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 17];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* Decimal big integer (the EIP gives keys in decimal) -> 32 big-endian bytes. */
static void dec_to_be32(uint8_t out[32], const char *dec)
{
    BIGNUM *bn = NULL;
    assert_true(BN_dec2bn(&bn, dec) > 0);
    assert_int_equal(BN_bn2binpad(bn, out, 32), 32);
    BN_free(bn);
}

static void sk_be(uint8_t out[32], const sigil_bls_sk *sk)
{
    for (int i = 0; i < 32; i++) {
        out[31 - i] = (uint8_t)(sk->l[i / 8] >> (8 * (i % 8)));
    }
}

static void sk_from_be(sigil_bls_sk *sk, const uint8_t in[32])
{
    memset(sk, 0, sizeof *sk);
    for (int i = 0; i < 32; i++) {
        sk->l[i / 8] |= (uint64_t)in[31 - i] << (8 * (i % 8));
    }
}

static void hex_to(uint8_t *out, size_t n, const char *hex)
{
    assert_true(sigil_is_ok(sigil_hex_decode_exact(out, n, hex, strlen(hex))));
}

static size_t decode_seed(uint8_t seed[128], const char *hex)
{
    size_t n = 0;
    assert_true(sigil_is_ok(sigil_hex_decode(seed, 128, &n, hex, strlen(hex))));
    return n;
}

static void check_case(const char *seed_hex, const char *master_dec, uint32_t index, const char *child_dec)
{
    uint8_t seed[128], want[32], got[32];
    size_t seed_len = decode_seed(seed, seed_hex);
    sigil_bls_sk *master = sigil_secure_alloc(sizeof *master), *child = sigil_secure_alloc(sizeof *child);
    assert_true(sigil_is_ok(sigil_eip2333_derive_master(master, seed, seed_len)));
    dec_to_be32(want, master_dec);
    sk_be(got, master);
    assert_memory_equal(got, want, 32);
    assert_true(sigil_is_ok(sigil_eip2333_derive_child(child, master, index)));
    dec_to_be32(want, child_dec);
    sk_be(got, child);
    assert_memory_equal(got, want, 32);
    /* Along a parsed one-step path too. */
    assert_true(sigil_is_ok(sigil_eip2333_derive_indices(child, seed, seed_len, &index, 1)));
    sk_be(got, child);
    assert_memory_equal(got, want, 32);
    sigil_secure_free(master);
    sigil_secure_free(child);
}

static void test_eip_cases(void **state)
{
    (void)state;
    json_t *root = load_json("eip2333/eip2333_vectors.json", 0);
    json_t *cases = json_object_get(root, "test_cases");
    size_t i, n = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *idx_s = json_string_value(json_object_get(c, "child_index"));
        assert_non_null(idx_s);
        check_case(json_string_value(json_object_get(c, "seed")), json_string_value(json_object_get(c, "master_SK")),
                   (uint32_t)strtoul(idx_s, NULL, 10), json_string_value(json_object_get(c, "child_SK")));
        n++;
    }
    assert_int_equal(n, 4);
    json_decref(root);
}

/* The next decimal integer after `"key":` at or after *pos in raw JSON text (jansson cannot
 * hold these > 2^63 numbers, so the staking-deposit-cli files are read as text for them). */
static const char *raw_number(char *out, size_t cap, const char *text, const char *key, const char **pos)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(*pos, pat);
    assert_non_null(p);
    p += strlen(pat);
    while (*p == ' ') {
        p++;
    }
    size_t n = 0;
    while (p[n] >= '0' && p[n] <= '9') {
        n++;
    }
    assert_true(n > 0 && n < cap);
    memcpy(out, p, n);
    out[n] = 0;
    *pos = p + n;
    (void)text;
    return out;
}

static void test_staking_deposit_cli_cases(void **state)
{
    (void)state;
    const char *text = load_text("eip2333/staking-deposit-cli/tree_kdf.json");
    json_t *root = load_json("eip2333/staking-deposit-cli/tree_kdf.json", JSON_DECODE_INT_AS_REAL);
    json_t *cases = json_object_get(root, "kdf_tests");
    size_t i, n = 0;
    json_t *c;
    const char *pos = text;
    json_array_foreach(cases, i, c)
    {
        char master[100], child[100];
        raw_number(master, sizeof master, text, "master_SK", &pos);
        raw_number(child, sizeof child, text, "child_SK", &pos);
        double idx = json_number_value(json_object_get(c, "child_index"));
        check_case(json_string_value(json_object_get(c, "seed")), master, (uint32_t)idx, child);
        n++;
    }
    assert_int_equal(n, 4);
    json_decref(root);
}

static void check_lamport(json_t *iv, const char *seed_hex, uint32_t index)
{
    uint8_t seed[128], want[32];
    size_t seed_len = decode_seed(seed, seed_hex);
    sigil_bls_sk *master = sigil_secure_alloc(sizeof *master);
    uint8_t(*l0)[32] = sigil_secure_alloc(255 * 32);
    uint8_t(*l1)[32] = sigil_secure_alloc(255 * 32);
    uint8_t compressed[32];
    assert_true(sigil_is_ok(sigil_eip2333_derive_master(master, seed, seed_len)));
    assert_true(sigil_is_ok(sigil_eip2333_lamport(l0, l1, compressed, master, index)));
    json_t *a0 = json_object_get(iv, "lamport_0"), *a1 = json_object_get(iv, "lamport_1");
    assert_int_equal(json_array_size(a0), 255);
    assert_int_equal(json_array_size(a1), 255);
    for (size_t k = 0; k < 255; k++) {
        hex_to(want, 32, json_string_value(json_array_get(a0, k)));
        assert_memory_equal(l0[k], want, 32);
        hex_to(want, 32, json_string_value(json_array_get(a1, k)));
        assert_memory_equal(l1[k], want, 32);
    }
    hex_to(want, 32, json_string_value(json_object_get(iv, "compressed_lamport_PK")));
    assert_memory_equal(compressed, want, 32);
    sigil_secure_free(master);
    sigil_secure_free(l0);
    sigil_secure_free(l1);
}

static void test_lamport_intermediates(void **state)
{
    (void)state;
    json_t *root = load_json("eip2333/eip2333_vectors.json", 0);
    json_t *iv = json_object_get(root, "intermediate_values");
    assert_non_null(iv);
    check_lamport(iv, json_string_value(json_object_get(iv, "seed")),
                  (uint32_t)strtoul(json_string_value(json_object_get(iv, "child_index")), NULL, 10));
    json_decref(root);

    /* staking-deposit-cli's copy also starts from the mnemonic, exercising BIP-39 -> EIP-2333. */
    const char *text = load_text("eip2333/staking-deposit-cli/tree_kdf_intermediate.json");
    root = load_json("eip2333/staking-deposit-cli/tree_kdf_intermediate.json", JSON_DECODE_INT_AS_REAL);
    const char *mn = json_string_value(json_object_get(root, "mnemonic"));
    const char *pw = json_string_value(json_object_get(root, "password"));
    const char *seed_hex = json_string_value(json_object_get(root, "seed"));
    uint8_t seed[64], want_seed[64];
    assert_true(sigil_is_ok(sigil_bip39_to_seed(seed, mn, strlen(mn), pw, strlen(pw))));
    hex_to(want_seed, 64, seed_hex);
    assert_memory_equal(seed, want_seed, 64);
    check_lamport(root, seed_hex, (uint32_t)json_number_value(json_object_get(root, "child_index")));

    /* path "m/0" (not an EIP-2334 path, so parsed in plain EIP-2333 mode). */
    uint32_t idx[SIGIL_EIP2333_MAX_DEPTH];
    size_t depth;
    const char *path = json_string_value(json_object_get(root, "path"));
    assert_true(sigil_is_ok(sigil_eip2333_path_parse(idx, &depth, path, false)));
    assert_int_equal(depth, 1);
    sigil_bls_sk *child = sigil_secure_alloc(sizeof *child);
    assert_true(sigil_is_ok(sigil_eip2333_derive_indices(child, seed, 64, idx, depth)));
    char dec[100];
    const char *pos = text;
    raw_number(dec, sizeof dec, text, "child_SK", &pos);
    uint8_t want[32], got[32];
    dec_to_be32(want, dec);
    sk_be(got, child);
    assert_memory_equal(got, want, 32);
    sigil_secure_free(child);
    json_decref(root);
}

static void test_okm48_reduction(void **state)
{
    (void)state;
    /* r itself and multiples reduce to 0; 2^384-1 mod r checked against OpenSSL BN_mod. */
    static const char r_hex[] = "73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001";
    BIGNUM *r = NULL, *x = BN_new(), *m = BN_new();
    BN_CTX *ctx = BN_CTX_new();
    assert_true(BN_hex2bn(&r, r_hex) > 0);
    uint8_t okm[48], want[32], got[32];
    sigil_bls_sk sk;
    for (int t = 0; t < 200; t++) {
        if (t == 0) {
            memset(okm, 0, 48);
        } else if (t == 1) {
            memset(okm, 0xff, 48);
        } else if (t == 2) {
            memset(okm, 0, 48);
            assert_int_equal(BN_bn2binpad(r, okm, 48), 48);
        } else {
            assert_true(sigil_random_bytes(okm, 48));
        }
        BN_bin2bn(okm, 48, x);
        BN_mod(m, x, r, ctx);
        BN_bn2binpad(m, want, 32);
        sigil_bls_sk_from_okm48(&sk, okm);
        sk_be(got, &sk);
        assert_memory_equal(got, want, 32);
    }
    BN_free(r);
    BN_free(x);
    BN_free(m);
    BN_CTX_free(ctx);
}

static void test_keygen_args(void **state)
{
    (void)state;
    uint8_t ikm[32] = {0};
    sigil_bls_sk sk;
    assert_int_equal(sigil_bls_keygen(&sk, ikm, 31, NULL, 0).code, SIGIL_ERR_ARG);
    assert_int_equal(sigil_bls_keygen(&sk, NULL, 32, NULL, 0).code, SIGIL_ERR_ARG);
    assert_int_equal(sigil_bls_keygen(&sk, ikm, 32, NULL, 3).code, SIGIL_ERR_ARG);
    assert_int_equal(sigil_eip2333_derive_master(&sk, ikm, 16).code, SIGIL_ERR_ARG);
    /* key_info changes the key. */
    sigil_bls_sk a, b;
    assert_true(sigil_is_ok(sigil_bls_keygen(&a, ikm, 32, NULL, 0)));
    assert_true(sigil_is_ok(sigil_bls_keygen(&b, ikm, 32, (const uint8_t *)"x", 1)));
    assert_memory_not_equal(&a, &b, sizeof a);
    sigil_wipe(&a, sizeof a);
    sigil_wipe(&b, sizeof b);
    (void)sk_from_be;
}

static void test_path_parse(void **state)
{
    (void)state;
    uint32_t idx[SIGIL_EIP2333_MAX_DEPTH];
    size_t depth = 99;
    assert_true(sigil_is_ok(sigil_eip2333_path_parse(idx, &depth, "m/12381/3600/0/0/0", true)));
    assert_int_equal(depth, 5);
    assert_int_equal(idx[0], 12381);
    assert_int_equal(idx[1], 3600);
    assert_true(sigil_is_ok(sigil_eip2333_path_parse(idx, &depth, "m/12381/3600/4294967295/0/0", true)));
    assert_int_equal(idx[2], 4294967295u);
    assert_true(sigil_is_ok(sigil_eip2333_path_parse(idx, &depth, "m", false)));
    assert_int_equal(depth, 0);
    assert_true(sigil_is_ok(sigil_eip2333_path_parse(idx, &depth, "m/0", false)));
    assert_int_equal(depth, 1);
    assert_true(sigil_is_ok(sigil_eip2333_path_parse(idx, &depth, "m/12381/60/3141592653/589793238", true)));
    assert_int_equal(idx[2], 3141592653u);

    char deep[400] = "m/12381";
    for (int i = 1; i < SIGIL_EIP2333_MAX_DEPTH; i++) {
        strcat(deep, "/1");
    }
    assert_true(sigil_is_ok(sigil_eip2333_path_parse(idx, &depth, deep, true)));
    assert_int_equal(depth, SIGIL_EIP2333_MAX_DEPTH);
    strcat(deep, "/1");

    const char *bad[] = {"",         "M/12381",  "/12381",  "m/",         "m//1",           "m/12381/",
                         "m/-1",     "m/+1",     "m/01",    "m/00",       "m/4294967296",   "m/99999999999999999999999",
                         "m/1 2",    "m/0x10",   "12381/0", "m12381",     "m/12381/3600/a", "m/12381/3600/0/0/0/",
                         " m/12381", "m/12381 ", deep,      "m/1\xc2\xb2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sigil_result r = sigil_eip2333_path_parse(idx, &depth, bad[i], false);
        if (r.code != SIGIL_ERR_KEY_PATH) {
            fail_msg("path '%s' accepted", bad[i]);
        }
        assert_int_equal(depth, 0);
        assert_true(strlen(sigil_error_detail()) > 0);
    }
    assert_int_equal(sigil_eip2333_path_parse(idx, &depth, NULL, false).code, SIGIL_ERR_KEY_PATH);
    /* EIP-2334 needs the purpose. */
    assert_int_equal(sigil_eip2333_path_parse(idx, &depth, "m/0", true).code, SIGIL_ERR_KEY_PATH);
    assert_non_null(strstr(sigil_error_detail(), "12381"));
    assert_int_equal(sigil_eip2333_path_parse(idx, &depth, "m", true).code, SIGIL_ERR_KEY_PATH);
    assert_int_equal(sigil_eip2333_path_parse(idx, &depth, "m/12382/3600/0/0/0", true).code, SIGIL_ERR_KEY_PATH);

    char buf[48];
    sigil_eip2333_signing_path(buf, 7);
    assert_string_equal(buf, "m/12381/3600/7/0/0");
    sigil_eip2333_withdrawal_path(buf, 4294967295u);
    assert_string_equal(buf, "m/12381/3600/4294967295/0");
}

static void test_derive_path(void **state)
{
    (void)state;
    uint8_t seed[32];
    memset(seed, 0x42, sizeof seed);
    sigil_bls_sk *a = sigil_secure_alloc(sizeof *a), *b = sigil_secure_alloc(sizeof *b);
    sigil_bls_sk *m = sigil_secure_alloc(sizeof *m);
    assert_true(sigil_is_ok(sigil_eip2333_derive_path(a, seed, 32, "m/12381/3600/2/0/0")));
    assert_true(sigil_is_ok(sigil_eip2333_derive_master(m, seed, 32)));
    const uint32_t steps[] = {12381, 3600, 2, 0, 0};
    for (size_t i = 0; i < 5; i++) {
        assert_true(sigil_is_ok(sigil_eip2333_derive_child(b, m, steps[i])));
        *m = *b;
    }
    assert_memory_equal(a, b, sizeof *a);
    assert_int_equal(sigil_eip2333_derive_path(a, seed, 32, "m/12381/3600/x").code, SIGIL_ERR_KEY_PATH);
    sigil_secure_free(a);
    sigil_secure_free(b);
    sigil_secure_free(m);
    /* Derivation returns all the secure memory it borrowed. */
    size_t base = sigil_secure_in_use();
    sigil_bls_sk out;
    assert_true(sigil_is_ok(sigil_eip2333_derive_path(&out, seed, 32, "m/12381/3600/0/0/0")));
    sigil_wipe(&out, sizeof out);
    assert_int_equal(sigil_secure_in_use(), base);
}

int main(void)
{
    const char *v = getenv("SIGIL_VECTORS");
    struct stat st;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/eip2333", v ? v : "");
    if (v == NULL || stat(probe, &st) != 0) {
        printf("skipped: SIGIL_VECTORS/eip2333 not found\n");
        return 77;
    }
    snprintf(vectors_dir, sizeof vectors_dir, "%s", v);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eip_cases),
        cmocka_unit_test(test_staking_deposit_cli_cases),
        cmocka_unit_test(test_lamport_intermediates),
        cmocka_unit_test(test_okm48_reduction),
        cmocka_unit_test(test_keygen_args),
        cmocka_unit_test(test_path_parse),
        cmocka_unit_test(test_derive_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
