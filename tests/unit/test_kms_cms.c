/* CMS EnvelopedData (KMS CiphertextForRecipient): the real KMS samples parse to exactly the
 * fields the aws-nitro-enclaves-sdk-c test expects, build -> unwrap round trips with ephemeral
 * recipient keys, and hostile envelopes (truncated, wrong OID or algorithm, wrong key,
 * corrupted ciphertext) fail with clear errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "common/io.h"
#include "common/secmem.h"
#include "helpers/vectors.h"
#include "kms/cms.h"
#include "kms/recipient.h"

static struct sigil_kms_recipient *g_rcpt, *g_other;

static int setup(void **state)
{
    (void)state;
    return !(sigil_is_ok(sigil_kms_recipient_new(&g_rcpt)) && sigil_is_ok(sigil_kms_recipient_new(&g_other)));
}

static int teardown(void **state)
{
    (void)state;
    sigil_kms_recipient_free(g_rcpt);
    sigil_kms_recipient_free(g_other);
    return 0;
}

static uint8_t *load(const char *rel, size_t *len)
{
    char *buf = NULL;
    sigil_result r = sigil_read_file(&buf, len, vectors_path(rel), 1 << 20);
    assert_int_equal(r.code, SIGIL_OK);
    return (uint8_t *)buf;
}

static void check_sample(const char *suffix, int constructed_content)
{
    char p[128];
    size_t n, iv_n, ek_n, ct_n;
    snprintf(p, sizeof p, "nitro/cms/input_ber%s.bin", suffix);
    uint8_t *ber = load(p, &n);
    snprintf(p, sizeof p, "nitro/cms/iv_out%s.bin", suffix);
    uint8_t *iv = load(p, &iv_n);
    snprintf(p, sizeof p, "nitro/cms/encrypted_key_out%s.bin", suffix);
    uint8_t *ek = load(p, &ek_n);
    snprintf(p, sizeof p, "nitro/cms/ciphertext_out%s.bin", suffix);
    uint8_t *ct = load(p, &ct_n);

    struct sigil_kms_cms_info info;
    assert_int_equal(sigil_kms_cms_inspect(&info, ber, n).code, SIGIL_OK);
    assert_int_equal(info.version, 2);
    assert_int_equal(info.ktri_version, 2);
    assert_int_equal(info.ski_len, 32);
    assert_int_equal(iv_n, 16);
    assert_memory_equal(info.iv, iv, 16);
    assert_int_equal(info.encrypted_key_len, ek_n);
    assert_memory_equal(info.encrypted_key, ek, ek_n);
    assert_int_equal(info.content_len, ct_n);
    assert_memory_equal(info.content, ct, ct_n);
    sigil_kms_cms_info_clear(&info);
    (void)constructed_content;

    /* No private key for these samples was ever published (PROVENANCE.md): an unrelated
     * recipient key must fail cleanly, after OpenSSL has parsed the BER too. */
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    sigil_result r = sigil_kms_recipient_decrypt(g_rcpt, &plain, &plain_len, ber, n);
    assert_int_equal(r.code, SIGIL_ERR_CRYPTO);
    assert_null(plain);
    free(ber);
    free(iv);
    free(ek);
    free(ct);
}

static void test_kms_samples(void **state)
{
    (void)state;
    check_sample("", 1);       /* constructed [0] content, trailing zero bytes */
    check_sample("_w_ctx", 0); /* primitive [0] content */
    printf("CMS samples: 2/2 parsed to the expected IV, encrypted key and ciphertext\n");
}

static void test_round_trip(void **state)
{
    (void)state;
    static const size_t lens[] = {1, 15, 16, 32, 100, 4096};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t *msg = sigil_secure_alloc(lens[i]);
        for (size_t k = 0; k < lens[i]; k++) {
            msg[k] = (uint8_t)(k * 7 + i);
        }
        size_t spki_len;
        const uint8_t *spki = sigil_kms_recipient_spki(g_rcpt, &spki_len);
        uint8_t *env = NULL;
        size_t env_len = 0;
        assert_int_equal(sigil_kms_cms_build_for_spki(&env, &env_len, msg, lens[i], spki, spki_len).code, SIGIL_OK);
        struct sigil_kms_cms_info info;
        assert_int_equal(sigil_kms_cms_inspect(&info, env, env_len).code, SIGIL_OK);
        assert_int_equal(info.ktri_version, 2);
        assert_int_equal(info.ski_len, 32);
        assert_int_equal(info.encrypted_key_len, 256);
        assert_int_equal(info.content_len, (lens[i] / 16 + 1) * 16);
        sigil_kms_cms_info_clear(&info);

        uint8_t *plain = NULL;
        size_t plain_len = 0;
        assert_int_equal(sigil_kms_recipient_decrypt(g_rcpt, &plain, &plain_len, env, env_len).code, SIGIL_OK);
        assert_int_equal(plain_len, lens[i]);
        assert_memory_equal(plain, msg, lens[i]);
        assert_true(sigil_secure_owns(plain));
        sigil_secure_free(plain);

        /* the other key cannot open it */
        plain = NULL;
        assert_int_equal(sigil_kms_recipient_decrypt(g_other, &plain, &plain_len, env, env_len).code, SIGIL_ERR_CRYPTO);
        assert_null(plain);
        free(env);
        sigil_secure_free(msg);
    }
}

static uint8_t *build32(size_t *len)
{
    uint8_t msg[32];
    memset(msg, 0x5a, sizeof msg);
    size_t spki_len;
    const uint8_t *spki = sigil_kms_recipient_spki(g_rcpt, &spki_len);
    uint8_t *env = NULL;
    assert_int_equal(sigil_kms_cms_build_for_spki(&env, len, msg, sizeof msg, spki, spki_len).code, SIGIL_OK);
    return env;
}

static uint8_t *find(uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0) {
            return hay + i;
        }
    }
    return NULL;
}

static enum sigil_err try_decrypt(const uint8_t *env, size_t len)
{
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    sigil_result r = sigil_kms_recipient_decrypt(g_rcpt, &plain, &plain_len, env, len);
    if (sigil_is_ok(r)) {
        sigil_secure_free(plain);
    } else {
        assert_null(plain);
    }
    return r.code;
}

static void test_hostile(void **state)
{
    (void)state;
    size_t n;
    uint8_t *env = build32(&n);
    assert_int_equal(try_decrypt(env, n), SIGIL_OK);

    /* every truncation */
    for (size_t k = 0; k < n; k++) {
        enum sigil_err e = try_decrypt(env, k);
        assert_true(e == SIGIL_ERR_PARSE || e == SIGIL_ERR_UNSUPPORTED);
    }
    /* trailing garbage (non-zero) */
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, env, n);
    longer[n] = 1;
    assert_int_equal(try_decrypt(longer, n + 1), SIGIL_ERR_PARSE);
    free(longer);

    static const uint8_t enveloped[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03};
    static const uint8_t oaep[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07};
    static const uint8_t sha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
    static const uint8_t aes256cbc[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a};

    /* wrong content type (signedData 1.2.840.113549.1.7.2) */
    uint8_t *p = find(env, n, enveloped, sizeof enveloped);
    assert_non_null(p);
    p[8] = 0x02;
    assert_int_equal(try_decrypt(env, n), SIGIL_ERR_UNSUPPORTED);
    p[8] = 0x03;
    /* rsaEncryption (PKCS#1 v1.5) instead of OAEP: downgrade refused */
    p = find(env, n, oaep, sizeof oaep);
    assert_non_null(p);
    p[8] = 0x01;
    assert_int_equal(try_decrypt(env, n), SIGIL_ERR_UNSUPPORTED);
    p[8] = 0x07;
    /* OAEP with SHA-384 */
    p = find(env, n, sha256, sizeof sha256);
    assert_non_null(p);
    p[8] = 0x02;
    assert_int_equal(try_decrypt(env, n), SIGIL_ERR_UNSUPPORTED);
    p[8] = 0x01;
    /* AES-128-CBC */
    p = find(env, n, aes256cbc, sizeof aes256cbc);
    assert_non_null(p);
    p[8] = 0x02;
    assert_int_equal(try_decrypt(env, n), SIGIL_ERR_UNSUPPORTED);
    p[8] = 0x2a;
    assert_int_equal(try_decrypt(env, n), SIGIL_OK);

    /* corrupt the wrapped key: OAEP fails */
    struct sigil_kms_cms_info info;
    assert_int_equal(sigil_kms_cms_inspect(&info, env, n).code, SIGIL_OK);
    size_t ek_off = (size_t)(info.encrypted_key - env);
    size_t ct_len = info.content_len;
    sigil_kms_cms_info_clear(&info);
    env[ek_off + 100] ^= 0x01;
    assert_int_equal(try_decrypt(env, n), SIGIL_ERR_CRYPTO);
    env[ek_off + 100] ^= 0x01;
    /* corrupt the ciphertext: the last byte of the second-to-last block flips the final padding
     * byte (a full padding block of 16 becomes 17): CBC padding check fails, deterministically */
    assert_int_equal(ct_len, 48);
    size_t last = n - 1; /* DER from OpenSSL: content is the last element, no EOC */
    env[last - 16] ^= 0x01;
    assert_int_equal(try_decrypt(env, n), SIGIL_ERR_CRYPTO);
    env[last - 16] ^= 0x01;
    assert_int_equal(try_decrypt(env, n), SIGIL_OK);
    free(env);

    /* garbage, empty, oversized */
    uint8_t junk[64];
    memset(junk, 0x30, sizeof junk);
    assert_int_equal(try_decrypt(junk, sizeof junk), SIGIL_ERR_PARSE);
    assert_int_equal(try_decrypt(junk, 0), SIGIL_ERR_PARSE);
    uint8_t *big = calloc(1, SIGIL_KMS_CMS_MAX_SIZE + 1);
    assert_int_equal(try_decrypt(big, SIGIL_KMS_CMS_MAX_SIZE + 1), SIGIL_ERR_TOO_LARGE);
    free(big);
    /* deep indefinite nesting is bounded */
    uint8_t deep[400];
    for (size_t i = 0; i < sizeof deep; i += 2) {
        deep[i] = 0x30;
        deep[i + 1] = 0x80;
    }
    assert_int_equal(try_decrypt(deep, sizeof deep), SIGIL_ERR_PARSE);
}

static void test_build_rejects(void **state)
{
    (void)state;
    uint8_t msg[4] = {1, 2, 3, 4};
    uint8_t *env = NULL;
    size_t len = 0;
    uint8_t junk[16] = {0};
    assert_int_equal(sigil_kms_cms_build_for_spki(&env, &len, msg, 4, junk, sizeof junk).code, SIGIL_ERR_PARSE);
    size_t spki_len;
    const uint8_t *spki = sigil_kms_recipient_spki(g_rcpt, &spki_len);
    assert_int_equal(sigil_kms_cms_build_for_spki(&env, &len, msg, 0, spki, spki_len).code, SIGIL_ERR_ARG);
    /* an EC key is not an RSA recipient */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_non_null(ec);
    assert_int_equal(sigil_kms_cms_build(&env, &len, msg, 4, ec).code, SIGIL_ERR_ARG);
    EVP_PKEY_free(ec);
    assert_null(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kms_samples),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_build_rejects),
    };
    vectors_path("nitro/cms");
    return cmocka_run_group_tests(tests, setup, teardown);
}
