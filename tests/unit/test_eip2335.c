/* Unit tests for src/crypto/eip2335: the EIP's scrypt and pbkdf2 keystores, create/decrypt round
 * trips with cheap KDF costs, password rules, and hostile keystores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/hex.h"
#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/eip2335.h"

static char vectors_dir[4096];

/* The EIP's secret (both vectors). */
static const char SECRET_HEX[] = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
static const char PASSWORD[] = "\xf0\x9d\x94\xb1\xf0\x9d\x94\xa2\xf0\x9d\x94\xb0\xf0\x9d\x94\xb1\xf0\x9d\x94\xad\xf0"
                               "\x9d\x94\x9e\xf0\x9d\x94\xb0\xf0\x9d\x94\xb0\xf0\x9d\x94\xb4\xf0\x9d\x94\xac\xf0\x9d"
                               "\x94\xaf\xf0\x9d\x94\xa1\xf0\x9f\x94\x91";

static char *read_text(const char *rel, size_t *len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", vectors_dir, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static void secret_sk(sigil_bls_sk *sk)
{
    uint8_t b[32];
    assert_true(sigil_is_ok(sigil_hex_decode_exact(b, 32, SECRET_HEX, strlen(SECRET_HEX))));
    assert_true(sigil_is_ok(sigil_bls_sk_from_bytes(sk, b)));
    sigil_wipe(b, sizeof b);
}

static void test_eip_vectors(void **state)
{
    (void)state;
    size_t vlen;
    char *vtext = read_text("eip2335/eip2335_vectors.json", &vlen);
    json_t *root = json_loads(vtext, 0, NULL);
    assert_non_null(root);
    json_t *vecs = json_object_get(root, "vectors");
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(vecs, i, v)
    {
        const char *file = json_string_value(json_object_get(v, "keystore_file"));
        const char *pw = json_string_value(json_object_get(v, "password"));
        const char *enc = json_string_value(json_object_get(v, "encoded_password"));
        const char *secret = json_string_value(json_object_get(v, "secret"));
        const char *pubkey = json_string_value(json_object_get(v, "pubkey"));
        const char *path = json_string_value(json_object_get(v, "path"));
        assert_string_equal(pw, PASSWORD);

        /* Password rules: NFKD + control stripping gives the EIP's encoded password. */
        char *norm;
        size_t norm_len;
        uint8_t want_pw[64];
        size_t want_pw_len;
        assert_true(sigil_is_ok(sigil_eip2335_normalize_password(&norm, &norm_len, pw, strlen(pw))));
        assert_true(sigil_is_ok(sigil_hex_decode(want_pw, sizeof want_pw, &want_pw_len, enc, strlen(enc))));
        assert_int_equal(norm_len, want_pw_len);
        assert_memory_equal(norm, want_pw, want_pw_len);
        sigil_secure_free(norm);

        char rel[256];
        snprintf(rel, sizeof rel, "eip2335/%s", file);
        size_t klen;
        char *ks = read_text(rel, &klen);
        sigil_bls_sk *sk = NULL;
        struct sigil_eip2335_info info;
        sigil_result r = sigil_eip2335_decrypt(&sk, &info, ks, klen, pw, strlen(pw));
        if (!sigil_is_ok(r)) {
            fail_msg("%s: %s (%s)", file, sigil_strerror(r.code), sigil_error_detail());
        }
        assert_true(sigil_secure_owns(sk));
        uint8_t got[32], want[32];
        sigil_bls_sk_to_bytes(got, sk);
        assert_true(sigil_is_ok(sigil_hex_decode_exact(want, 32, secret, strlen(secret))));
        assert_memory_equal(got, want, 32);
        assert_true(info.has_pubkey);
        uint8_t pk[48];
        assert_true(sigil_is_ok(sigil_hex_decode_exact(pk, 48, pubkey, strlen(pubkey))));
        assert_memory_equal(info.pubkey, pk, 48);
        assert_string_equal(info.path, path);
        sigil_secure_free(sk);

        /* The raw (un-normalised) password bytes differ from the encoded one; the encoded one
         * must also work since normalising it is the identity. */
        assert_true(sigil_is_ok(sigil_eip2335_decrypt(&sk, NULL, ks, klen, (const char *)want_pw, want_pw_len)));
        sigil_secure_free(sk);
        free(ks);
        n++;
    }
    assert_int_equal(n, 2);
    json_decref(root);
    free(vtext);

    /* staking-deposit-cli's copies of the same two keystores (pbkdf2, scrypt). */
    const char *sdc[] = {"eip2335/staking-deposit-cli/test0.json", "eip2335/staking-deposit-cli/test1.json"};
    for (size_t k = 0; k < 2; k++) {
        size_t klen;
        char *ks = read_text(sdc[k], &klen);
        sigil_bls_sk *sk = NULL;
        assert_true(sigil_is_ok(sigil_eip2335_decrypt(&sk, NULL, ks, klen, PASSWORD, strlen(PASSWORD))));
        uint8_t got[32], want[32];
        sigil_bls_sk_to_bytes(got, sk);
        assert_true(sigil_is_ok(sigil_hex_decode_exact(want, 32, SECRET_HEX, 64)));
        assert_memory_equal(got, want, 32);
        sigil_secure_free(sk);
        free(ks);
    }
}

static void test_no_secure_leaks(void **state)
{
    (void)state;
    /* Every path (success, wrong password, bad document) returns all its secure memory. */
    size_t base = sigil_secure_in_use();
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    secret_sk(sk);
    struct sigil_eip2335_params p = {SIGIL_EIP2335_SCRYPT, 16, NULL};
    char *json;
    size_t len;
    assert_true(sigil_is_ok(sigil_eip2335_create(&json, &len, sk, "pw", 2, "", &p)));
    sigil_secure_free(sk);
    assert_int_equal(sigil_secure_in_use(), base);
    sk = NULL;
    assert_true(sigil_is_ok(sigil_eip2335_decrypt(&sk, NULL, json, len, "pw", 2)));
    sigil_secure_free(sk);
    assert_int_equal(sigil_eip2335_decrypt(&sk, NULL, json, len, "px", 2).code, SIGIL_ERR_KEYSTORE_PASSWORD);
    assert_int_equal(sigil_eip2335_decrypt(&sk, NULL, "{}", 2, "pw", 2).code, SIGIL_ERR_KEYSTORE_FORMAT);
    assert_int_equal(sigil_secure_in_use(), base);
    free(json);
}

static char *make_keystore(enum sigil_eip2335_kdf kdf, const char *pw, const char *path)
{
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    secret_sk(sk);
    struct sigil_eip2335_params p = {kdf, kdf == SIGIL_EIP2335_SCRYPT ? 16 : 8, "test keystore"};
    char *json;
    size_t len;
    sigil_result r = sigil_eip2335_create(&json, &len, sk, pw, strlen(pw), path, &p);
    assert_true(sigil_is_ok(r));
    assert_int_equal(strlen(json), len);
    sigil_secure_free(sk);
    return json;
}

static void test_round_trip(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        enum sigil_eip2335_kdf kdf = k == 0 ? SIGIL_EIP2335_SCRYPT : SIGIL_EIP2335_PBKDF2;
        char *json = make_keystore(kdf, "correct horse", "m/12381/3600/0/0/0");
        json_t *root = json_loads(json, 0, NULL);
        assert_non_null(root);
        assert_int_equal(json_integer_value(json_object_get(root, "version")), 4);
        char uuid[64];
        snprintf(uuid, sizeof uuid, "%s", json_string_value(json_object_get(root, "uuid")));
        assert_int_equal(strlen(uuid), 36);
        assert_int_equal(uuid[14], '4');
        assert_non_null(strchr("89ab", uuid[19]));
        assert_string_equal(json_string_value(json_object_get(root, "description")), "test keystore");
        assert_string_equal(json_string_value(json_object_get(root, "path")), "m/12381/3600/0/0/0");
        assert_int_equal(strlen(json_string_value(json_object_get(root, "pubkey"))), 96);
        json_t *kdfo = json_object_get(json_object_get(root, "crypto"), "kdf");
        assert_string_equal(json_string_value(json_object_get(kdfo, "function")), k == 0 ? "scrypt" : "pbkdf2");
        json_decref(root);
        assert_null(strstr(json, SECRET_HEX));

        sigil_bls_sk *sk = NULL;
        struct sigil_eip2335_info info;
        assert_true(sigil_is_ok(sigil_eip2335_decrypt(&sk, &info, json, strlen(json), "correct horse", 13)));
        uint8_t got[32], want[32];
        sigil_bls_sk_to_bytes(got, sk);
        assert_true(sigil_is_ok(sigil_hex_decode_exact(want, 32, SECRET_HEX, 64)));
        assert_memory_equal(got, want, 32);
        assert_string_equal(info.path, "m/12381/3600/0/0/0");
        assert_string_equal(info.uuid, uuid);
        sigil_secure_free(sk);

        /* Wrong password. */
        sk = NULL;
        sigil_result r = sigil_eip2335_decrypt(&sk, NULL, json, strlen(json), "correct horse!", 14);
        assert_int_equal(r.code, SIGIL_ERR_KEYSTORE_PASSWORD);
        assert_null(sk);
        assert_null(strstr(sigil_error_detail(), "horse"));
        r = sigil_eip2335_decrypt(&sk, NULL, json, strlen(json), "", 0);
        assert_int_equal(r.code, SIGIL_ERR_KEYSTORE_PASSWORD);
        free(json);
    }
    /* Two keystores of the same key differ (fresh salt, IV, uuid). */
    char *a = make_keystore(SIGIL_EIP2335_PBKDF2, "pw", "");
    char *b = make_keystore(SIGIL_EIP2335_PBKDF2, "pw", "");
    assert_string_not_equal(a, b);
    free(a);
    free(b);
}

static void test_password_rules(void **state)
{
    (void)state;
    /* Control characters (C0, DEL, C1 U+0085) are dropped; NFC and NFKD spellings agree. */
    char *json = make_keystore(SIGIL_EIP2335_PBKDF2, "p\xc3\xa4ss\x7fw\x01o\xc2\x85rd\n", "");
    sigil_bls_sk *sk = NULL;
    const char *same = "pa\xcc\x88ssword"; /* a + combining diaeresis */
    assert_true(sigil_is_ok(sigil_eip2335_decrypt(&sk, NULL, json, strlen(json), same, strlen(same))));
    sigil_secure_free(sk);
    assert_int_equal(sigil_eip2335_decrypt(&sk, NULL, json, strlen(json), "password", 8).code,
                     SIGIL_ERR_KEYSTORE_PASSWORD);
    const char bad_utf8[] = "pass\xff";
    assert_int_equal(sigil_eip2335_decrypt(&sk, NULL, json, strlen(json), bad_utf8, 5).code, SIGIL_ERR_UNICODE);
    free(json);

    char *n;
    size_t nl;
    assert_true(sigil_is_ok(sigil_eip2335_normalize_password(&n, &nl, "\x00\x1f\x7f", 3)));
    assert_int_equal(nl, 0);
    sigil_secure_free(n);
    /* U+00A0 (no-break space) is not a control code: NFKD turns it into a space, which stays. */
    assert_true(sigil_is_ok(sigil_eip2335_normalize_password(&n, &nl,
                                                             "a\xc2\xa0"
                                                             "b",
                                                             4)));
    assert_string_equal(n, "a b");
    assert_true(sigil_secure_owns(n));
    sigil_secure_free(n);
}

static void test_create_args(void **state)
{
    (void)state;
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    secret_sk(sk);
    char *json = NULL;
    size_t len;
    struct sigil_eip2335_params p = {SIGIL_EIP2335_SCRYPT, 1000, NULL}; /* not a power of two */
    assert_int_equal(sigil_eip2335_create(&json, &len, sk, "x", 1, "", &p).code, SIGIL_ERR_ARG);
    p.cost = 1u << 21;
    assert_int_equal(sigil_eip2335_create(&json, &len, sk, "x", 1, "", &p).code, SIGIL_ERR_ARG);
    p.kdf = SIGIL_EIP2335_PBKDF2;
    p.cost = 20000000;
    assert_int_equal(sigil_eip2335_create(&json, &len, sk, "x", 1, "", &p).code, SIGIL_ERR_ARG);
    p.cost = 2;
    assert_int_equal(sigil_eip2335_create(&json, &len, sk, "x", 1, "m/x", &p).code, SIGIL_ERR_ARG);
    assert_null(json);
    sigil_secure_free(sk);
}

/* ---- hostile keystores: each mutation of a valid document must give KEYSTORE_FORMAT ---- */

struct mutation {
    const char *path;  /* dotted member path */
    const char *value; /* JSON to set, or NULL to delete */
};

static char *mutate(const char *base, const struct mutation *m)
{
    json_t *root = json_loads(base, 0, NULL);
    assert_non_null(root);
    char path[128];
    snprintf(path, sizeof path, "%s", m->path);
    json_t *obj = root;
    char *key = path, *dot;
    while ((dot = strchr(key, '.')) != NULL) {
        *dot = 0;
        obj = json_object_get(obj, key);
        assert_non_null(obj);
        key = dot + 1;
    }
    if (m->value == NULL) {
        assert_int_equal(json_object_del(obj, key), 0);
    } else {
        json_t *v = json_loads(m->value, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        assert_int_equal(json_object_set_new(obj, key, v), 0);
    }
    char *out = json_dumps(root, 0);
    json_decref(root);
    return out;
}

static void expect_format(const char *doc, const char *what)
{
    sigil_bls_sk *sk = NULL;
    sigil_error_clear();
    sigil_result r = sigil_eip2335_decrypt(&sk, NULL, doc, strlen(doc), "pw", 2);
    if (r.code != SIGIL_ERR_KEYSTORE_FORMAT) {
        fail_msg("%s: expected KEYSTORE_FORMAT, got %s (%s)", what, sigil_strerror(r.code), sigil_error_detail());
    }
    assert_null(sk);
    assert_true(strlen(sigil_error_detail()) > 0);
}

static void test_hostile(void **state)
{
    (void)state;
    char *scrypt = make_keystore(SIGIL_EIP2335_SCRYPT, "pw", "m/12381/3600/0/0/0");
    char *pbkdf2 = make_keystore(SIGIL_EIP2335_PBKDF2, "pw", "");
    static const struct mutation scrypt_cases[] = {
        {"crypto", NULL},
        {"crypto", "[]"},
        {"crypto.kdf", NULL},
        {"crypto.kdf", "\"scrypt\""},
        {"crypto.kdf.function", NULL},
        {"crypto.kdf.function", "\"argon2id\""},
        {"crypto.kdf.function", "7"},
        {"crypto.kdf.params", NULL},
        {"crypto.kdf.message", NULL},
        {"crypto.kdf.params.n", NULL},
        {"crypto.kdf.params.n", "\"16\""},
        {"crypto.kdf.params.n", "16.0"},
        {"crypto.kdf.params.n", "-16"},
        {"crypto.kdf.params.n", "0"},
        {"crypto.kdf.params.n", "1000"},
        {"crypto.kdf.params.n", "2097152"},
        {"crypto.kdf.params.n", "1099511627776"},
        {"crypto.kdf.params.n", "1e300"},
        {"crypto.kdf.params.r", "0"},
        {"crypto.kdf.params.r", "1000"},
        {"crypto.kdf.params.p", "0"},
        {"crypto.kdf.params.p", "1000000"},
        {"crypto.kdf.params.dklen", "64"},
        {"crypto.kdf.params.dklen", "16"},
        {"crypto.kdf.params.salt", NULL},
        {"crypto.kdf.params.salt", "\"zz\""},
        {"crypto.kdf.params.salt", "\"abc\""},
        {"crypto.kdf.params.salt", "\"\""},
        {"crypto.checksum", NULL},
        {"crypto.checksum.function", "\"sha512\""},
        {"crypto.checksum.params", NULL},
        {"crypto.checksum.message", "\"00\""},
        {"crypto.checksum.message", "null"},
        {"crypto.cipher.function", "\"aes-256-gcm\""},
        {"crypto.cipher.params", "{}"},
        {"crypto.cipher.params.iv", "\"00112233\""},
        {"crypto.cipher.params.iv", "\"0011223344556677889900112233445g\""},
        {"crypto.cipher.message", "\"06ae90d55fe0a6e9c5c3bc5b170827b2e5cce3929ed3f116c2811e6366dfe2\""},
        {"crypto.cipher.message", "\"06ae90d55fe0a6e9c5c3bc5b170827b2e5cce3929ed3f116c2811e6366dfe20f00\""},
        {"crypto.cipher.message", "\"\""},
        {"version", NULL},
        {"version", "3"},
        {"version", "\"4\""},
        {"uuid", NULL},
        {"uuid", "5"},
        {"path", NULL},
        {"path", "[]"},
        {"pubkey", "\"9612d7\""},
        {"pubkey", "17"},
        {"description", "{}"},
    };
    for (size_t i = 0; i < sizeof scrypt_cases / sizeof scrypt_cases[0]; i++) {
        char *doc = mutate(scrypt, &scrypt_cases[i]);
        char what[200];
        snprintf(what, sizeof what, "scrypt %s=%s", scrypt_cases[i].path,
                 scrypt_cases[i].value ? scrypt_cases[i].value : "(deleted)");
        expect_format(doc, what);
        free(doc);
    }
    static const struct mutation pbkdf2_cases[] = {
        {"crypto.kdf.params.c", NULL},
        {"crypto.kdf.params.c", "0"},
        {"crypto.kdf.params.c", "10000001"},
        {"crypto.kdf.params.c", "\"262144\""},
        {"crypto.kdf.params.prf", "\"hmac-sha512\""},
        {"crypto.kdf.params.prf", NULL},
        {"crypto.kdf.params.dklen", "31"},
    };
    for (size_t i = 0; i < sizeof pbkdf2_cases / sizeof pbkdf2_cases[0]; i++) {
        char *doc = mutate(pbkdf2, &pbkdf2_cases[i]);
        expect_format(doc, pbkdf2_cases[i].path);
        free(doc);
    }
    /* The detail names the field. */
    struct mutation m = {"crypto.kdf.params.n", "3"};
    char *doc = mutate(scrypt, &m);
    expect_format(doc, "n=3");
    assert_non_null(strstr(sigil_error_detail(), "crypto.kdf.params.n"));
    free(doc);

    expect_format("", "empty");
    expect_format("not json", "garbage");
    expect_format("[1,2,3]", "array");
    expect_format("{}", "empty object");
    expect_format("{\"version\": 4}", "only version");
    size_t half = strlen(scrypt) / 2;
    char *trunc = strndup(scrypt, half);
    expect_format(trunc, "truncated document");
    free(trunc);
    /* Duplicate keys are refused by the JSON layer. */
    char *dup = malloc(strlen(scrypt) + 32);
    sprintf(dup, "{\"version\": 4, %s", scrypt + 1);
    expect_format(dup, "duplicate version");
    free(dup);

    /* Oversized input is refused before parsing. */
    size_t big = SIGIL_EIP2335_MAX_JSON + 1;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[big] = 0;
    sigil_bls_sk *sk = NULL;
    assert_int_equal(sigil_eip2335_decrypt(&sk, NULL, huge, big, "pw", 2).code, SIGIL_ERR_TOO_LARGE);
    free(huge);

    /* The untouched documents still decrypt (the mutations, not the bases, were bad). */
    assert_true(sigil_is_ok(sigil_eip2335_decrypt(&sk, NULL, scrypt, strlen(scrypt), "pw", 2)));
    sigil_secure_free(sk);
    free(scrypt);
    free(pbkdf2);
}

static void test_pubkey_mismatch(void **state)
{
    (void)state;
    char *json = make_keystore(SIGIL_EIP2335_PBKDF2, "pw", "");
    /* Replace the pubkey by another valid key's (the G1 generator, i.e. sk = 1). */
    struct mutation m = {"pubkey",
                         "\"97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3a"
                         "f00adb22c6bb\""};
    char *doc = mutate(json, &m);
    sigil_bls_sk *sk = NULL;
    assert_int_equal(sigil_eip2335_decrypt(&sk, NULL, doc, strlen(doc), "pw", 2).code, SIGIL_ERR_KEYSTORE_PUBKEY);
    assert_null(sk);
    free(doc);
    /* Without a pubkey (optional in the EIP) there is nothing to compare. */
    struct mutation del = {"pubkey", NULL};
    doc = mutate(json, &del);
    assert_true(sigil_is_ok(sigil_eip2335_decrypt(&sk, NULL, doc, strlen(doc), "pw", 2)));
    sigil_secure_free(sk);
    free(doc);
    free(json);
}

static void test_invalid_scalar(void **state)
{
    (void)state;
    /* A keystore whose plaintext is 0 (not a valid secret key) is a format error once decrypted. */
    sigil_bls_sk *zero = sigil_secure_alloc(sizeof *zero);
    struct sigil_eip2335_params p = {SIGIL_EIP2335_PBKDF2, 2, NULL};
    char *json;
    size_t len;
    assert_true(sigil_is_ok(sigil_eip2335_create(&json, &len, zero, "pw", 2, "", &p)));
    struct mutation del = {"pubkey", NULL};
    char *doc = mutate(json, &del);
    sigil_bls_sk *sk = NULL;
    assert_int_equal(sigil_eip2335_decrypt(&sk, NULL, doc, strlen(doc), "pw", 2).code, SIGIL_ERR_KEYSTORE_FORMAT);
    assert_null(sk);
    free(doc);
    free(json);
    sigil_secure_free(zero);
}

int main(void)
{
    const char *v = getenv("SIGIL_VECTORS");
    struct stat st;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/eip2335", v ? v : "");
    if (v == NULL || stat(probe, &st) != 0) {
        printf("skipped: SIGIL_VECTORS/eip2335 not found\n");
        return 77;
    }
    snprintf(vectors_dir, sizeof vectors_dir, "%s", v);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eip_vectors),    cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_password_rules), cmocka_unit_test(test_create_args),
        cmocka_unit_test(test_hostile),        cmocka_unit_test(test_pubkey_mismatch),
        cmocka_unit_test(test_invalid_scalar), cmocka_unit_test(test_no_secure_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
