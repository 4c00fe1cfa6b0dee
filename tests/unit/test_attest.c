/* Attestation verifier against the real AWS Nitro documents in the shared vectors
 * (nitro/attestation, see PROVENANCE.md): every document verifies at its own timestamp with the
 * AWS root, fields decode as tabulated, every single-byte change is refused, another root or a
 * time outside the chain's validity is refused, expectations are enforced, and the CLI maps all of
 * it to exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest/attest.h"
#include "attest/attest_internal.h"
#include "common/hex.h"
#include "common/io.h"
#include "common/secmem.h"
#include "helpers/vectors.h"

#define DIR "nitro/attestation/"

struct vec {
    const char *file;
    uint64_t ts;
    const char *module_id;
    const char *pcr[9]; /* 0..8, NULL = zero */
    size_t pk_len, ud_len, nonce_len;
    const char *pk_ascii, *ud_ascii;
};

static const char PCR1[] =
    "bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f";
static const char PCR3[] =
    "4a9329d69c836267b18abbf9f4a38889124490453419e426818626348d21f989dc930b1562682a9082887454e53425aa";

static const struct vec vecs[] = {
    {"veracruz_eu-west-1_2022-11-09.cbor",
     1668034320696,
     "i-04fd167167daacf3b-enc01845e97d0b3eb4e",
     {"22f9e1c949208da55eb01b9b9fc88f87454f77ba133f0d82320b509621c92482152a99d0a12335b97178c02d6f977d01", PCR1,
      "00943ea859140fed74e1025fe41aedb38780eae5656b3f9ef9b4b0e6111350315544db3efcda05725108f72b2ab141f7", NULL,
      "4554042339e6a1ddfac89db7da58231d5619073729344333aff055429abeec6b006f81b19d1176001b8291f885283106", NULL, NULL,
      NULL, NULL},
     0,
     32,
     32,
     NULL,
     NULL},
    {"evervault_us-east-1_2022-10-13_production.cbor",
     1665651482136,
     "i-020b6af9246d90e92-enc0183d09086c24190",
     {"f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b", PCR1,
      "d8f114da658de5481f8d9ec73907feb553560787522f705c92d7d96beed8e15e2aa611984e098c576832c292e8dc469a", PCR3,
      "1f442c86d494a88185642086d904ed89f62fb66ee9997d7b1a4f040faab3bba4244c768a584e5778195b3afc715637c6", NULL, NULL,
      NULL, "8790eb3cce6c83d07e84b126dc61ca923333d6f66615c4a79157de48c5ab2418bdc60746ea7b7afbff03a1c6210201cb"},
     0,
     0,
     256,
     NULL,
     NULL},
    {"evervault_us-east-1_2022-10-12_debug_pubkey_userdata.cbor",
     1665582606081,
     "i-03ad7cdb817437eeb-enc0183cc7569b3f6e1",
     {NULL, NULL, NULL, PCR3,
      "615fa5b1a8838d392d8e54aacc3d9ac0db87d63cb826516c4cc94307c986fe465b29f3f54a55a2f121265528ae0aa6a7", NULL, NULL,
      NULL, NULL},
     19,
     13,
     0,
     "my super secret key",
     "hello, world!"},
    {"evervault_us-east-1_2023-09-18_debug.cbor",
     1695049410860,
     "i-0918f6c55e3b61d89-enc018aa8b8e2285d13",
     {NULL, NULL, NULL, PCR3,
      "d0531b1400dd43288c82c226c16bf647c637dd5e4d9b4f7a8aaadc6d6760b854a06c7008cca0d15ca80094dd33a65065", NULL, NULL,
      NULL, NULL},
     0,
     91,
     256,
     NULL,
     NULL},
};
#define NVECS (sizeof vecs / sizeof vecs[0])

static uint8_t *load(const char *rel, size_t *len)
{
    char *buf = NULL;
    sigil_result r = sigil_read_file(&buf, len, vectors_path(rel), 1 << 20);
    assert_true(sigil_is_ok(r));
    return (uint8_t *)buf;
}

static char *root_pem;
static size_t root_pem_len;

static int setup(void **state)
{
    (void)state;
    root_pem = (char *)load(DIR "aws_nitro_enclaves_root_g1.pem", &root_pem_len);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(root_pem);
    return 0;
}

static struct sigil_attest_verify_opts aws_opts(void)
{
    struct sigil_attest_verify_opts o = {.root_pem = root_pem, .root_pem_len = root_pem_len};
    return o;
}

static void test_real_documents_verify(void **state)
{
    (void)state;
    static const uint8_t zero[48] = {0};
    struct sigil_attest_doc *d = malloc(sizeof *d);
    assert_non_null(d);
    for (size_t v = 0; v < NVECS; v++) {
        size_t len;
        char rel[256];
        snprintf(rel, sizeof rel, DIR "%s", vecs[v].file);
        uint8_t *doc = load(rel, &len);
        struct sigil_attest_verify_opts o = aws_opts();
        sigil_result r = sigil_attest_verify(d, doc, len, &o);
        if (!sigil_is_ok(r)) {
            fprintf(stderr, "%s: %s: %s\n", vecs[v].file, sigil_strerror(r.code), sigil_error_detail());
        }
        assert_int_equal(r.code, SIGIL_OK);
        assert_string_equal(d->module_id, vecs[v].module_id);
        assert_string_equal(d->digest, "SHA384");
        assert_true(d->timestamp_ms == vecs[v].ts);
        for (int i = 0; i < SIGIL_ATTEST_NPCRS; i++) {
            assert_true(d->pcr_present[i]);
            assert_int_equal(d->pcr_len[i], 48);
            uint8_t want[48];
            if (i < 9 && vecs[v].pcr[i] != NULL) {
                assert_true(sigil_is_ok(sigil_hex_decode_exact(want, 48, vecs[v].pcr[i], 96)));
            } else {
                memcpy(want, zero, 48);
            }
            assert_memory_equal(d->pcrs[i], want, 48);
        }
        assert_int_equal(d->public_key_len, vecs[v].pk_len);
        assert_int_equal(d->user_data_len, vecs[v].ud_len);
        assert_int_equal(d->nonce_len, vecs[v].nonce_len);
        if (vecs[v].pk_ascii != NULL) {
            assert_memory_equal(d->public_key, vecs[v].pk_ascii, vecs[v].pk_len);
        }
        if (vecs[v].ud_ascii != NULL) {
            assert_memory_equal(d->user_data, vecs[v].ud_ascii, vecs[v].ud_len);
        }
        assert_true(d->cert_der_len > 300 && d->cert_der_len <= 1024);
        /* The built-in root is the same AWS root. */
        assert_int_equal(sigil_attest_verify(d, doc, len, NULL).code, SIGIL_OK);
        free(doc);
    }
    printf("verified %zu real AWS attestation documents\n", NVECS);
    free(d);
}

static void test_builtin_root_is_pinned(void **state)
{
    (void)state;
    static const char fp[] = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b";
    BIO *b = BIO_new_mem_buf(attest_aws_root_g1_pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    uint8_t md[32], want[32];
    unsigned mdlen = 0;
    assert_int_equal(X509_digest(x, EVP_sha256(), md, &mdlen), 1);
    assert_true(sigil_is_ok(sigil_hex_decode_exact(want, 32, fp, 64)));
    assert_memory_equal(md, want, 32);
    X509_free(x);
}

static void test_bad_signature_document(void **state)
{
    (void)state;
    struct sigil_attest_doc *d = malloc(sizeof *d);
    size_t len;
    uint8_t *doc = load(DIR "veracruz_eu-west-1_2022-11-09_bad_sig.cbor", &len);
    struct sigil_attest_verify_opts o = aws_opts();
    assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_ERR_CRYPTO);
    assert_non_null(strstr(sigil_error_detail(), "signature"));
    assert_string_equal(d->module_id, ""); /* zeroed on failure */
    free(doc);
    free(d);
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_every_byte_flip_fails(void **state)
{
    (void)state;
    struct sigil_attest_doc *d = malloc(sizeof *d);
    size_t flips = 0;
    uint8_t *docs[NVECS];
    size_t lens[NVECS];
    for (size_t v = 0; v < NVECS; v++) {
        char rel[256];
        snprintf(rel, sizeof rel, DIR "%s", vecs[v].file);
        docs[v] = load(rel, &lens[v]);
    }
    struct sigil_attest_verify_opts o = aws_opts();
    /* Every position of every document, XOR 0x01 (the smallest change). */
    for (size_t v = 0; v < NVECS; v++) {
        for (size_t i = 0; i < lens[v]; i++) {
            docs[v][i] ^= 0x01;
            sigil_result r = sigil_attest_verify(d, docs[v], lens[v], &o);
            if (sigil_is_ok(r)) {
                fail_msg("%s: flipping byte %zu was accepted", vecs[v].file, i);
            }
            assert_true(r.code == SIGIL_ERR_PARSE || r.code == SIGIL_ERR_CRYPTO);
            docs[v][i] ^= 0x01;
            flips++;
        }
    }
    /* Random positions with random non-zero changes across all documents. */
    for (int k = 0; k < 2000; k++) {
        size_t v = (size_t)(rnd() % NVECS), i = (size_t)(rnd() % lens[v]);
        uint8_t x = (uint8_t)(rnd() % 255 + 1);
        docs[v][i] ^= x;
        sigil_result r = sigil_attest_verify(d, docs[v], lens[v], &o);
        if (sigil_is_ok(r)) {
            fail_msg("%s: xor 0x%02x at byte %zu was accepted", vecs[v].file, x, i);
        }
        docs[v][i] ^= x;
        flips++;
    }
    /* Untouched documents still verify (the loop restored every byte). */
    for (size_t v = 0; v < NVECS; v++) {
        assert_int_equal(sigil_attest_verify(d, docs[v], lens[v], &o).code, SIGIL_OK);
        free(docs[v]);
    }
    printf("%zu single-byte modifications of %zu real documents, all refused\n", flips, NVECS);
    free(d);
}

static void test_other_root_fails(void **state)
{
    (void)state;
    struct sigil_attest_doc *d = malloc(sizeof *d);
    char *cert = NULL, *key = NULL;
    assert_true(sigil_is_ok(sigil_attest_dev_root_new(&cert, &key)));
    struct sigil_attest_verify_opts o = {.root_pem = cert, .root_pem_len = strlen(cert)};
    for (size_t v = 0; v < NVECS; v++) {
        char rel[256];
        size_t len;
        snprintf(rel, sizeof rel, DIR "%s", vecs[v].file);
        uint8_t *doc = load(rel, &len);
        assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_ERR_CRYPTO);
        assert_non_null(strstr(sigil_error_detail(), "chain"));
        free(doc);
    }
    /* A root PEM that is not a certificate is an argument error. */
    struct sigil_attest_verify_opts bad = {.root_pem = "garbage", .root_pem_len = 7};
    size_t len;
    uint8_t *doc = load(DIR "veracruz_eu-west-1_2022-11-09.cbor", &len);
    assert_int_equal(sigil_attest_verify(d, doc, len, &bad).code, SIGIL_ERR_ARG);
    free(doc);
    free(cert);
    sigil_secure_free(key);
    free(d);
}

static void test_time_outside_validity_fails(void **state)
{
    (void)state;
    struct sigil_attest_doc *d = malloc(sizeof *d);
    for (size_t v = 0; v < NVECS; v++) {
        char rel[256];
        size_t len;
        snprintf(rel, sizeof rel, DIR "%s", vecs[v].file);
        uint8_t *doc = load(rel, &len);
        uint64_t ts = vecs[v].ts / 1000;
        struct sigil_attest_verify_opts o = aws_opts();
        o.at_time_s = ts + 4 * 3600; /* leaf lives 3 h */
        assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_ERR_CRYPTO);
        o.at_time_s = ts - 4 * 3600;
        assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_ERR_CRYPTO);
        o.at_time_s = 1546300800; /* 2019-01-01, before the root */
        assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_ERR_CRYPTO);
        o.at_time_s = ts + 60; /* inside every certificate */
        assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_OK);
        free(doc);
    }
    free(d);
}

static void test_expectations(void **state)
{
    (void)state;
    struct sigil_attest_doc *d = malloc(sizeof *d);
    size_t len;
    uint8_t *doc = load(DIR "veracruz_eu-west-1_2022-11-09.cbor", &len);
    struct sigil_attest_verify_opts o = aws_opts();
    assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_OK);
    uint8_t pcrs[2][48], nonce[32];
    int idx[2] = {0, 4};
    memcpy(pcrs[0], d->pcrs[0], 48);
    memcpy(pcrs[1], d->pcrs[4], 48);
    memcpy(nonce, d->nonce, 32);
    o.expect_pcr = (const uint8_t(*)[48])pcrs;
    o.expect_pcr_index = idx;
    o.n_expect_pcr = 2;
    o.expect_nonce = nonce;
    o.expect_nonce_len = 32;
    assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_OK);
    pcrs[1][47] ^= 1;
    assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_ERR_FORBIDDEN);
    pcrs[1][47] ^= 1;
    nonce[0] ^= 1;
    assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_ERR_FORBIDDEN);
    nonce[0] ^= 1;
    o.expect_nonce_len = 31;
    assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_ERR_FORBIDDEN);
    o.expect_nonce_len = 32;
    idx[1] = 16;
    assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_ERR_ARG);
    idx[1] = 4;
    assert_int_equal(sigil_attest_verify(d, doc, len, &o).code, SIGIL_OK);
    free(doc);
    /* A document without a nonce never matches an expected nonce. */
    doc = load(DIR "evervault_us-east-1_2022-10-12_debug_pubkey_userdata.cbor", &len);
    struct sigil_attest_verify_opts o2 = aws_opts();
    o2.expect_nonce = nonce;
    o2.expect_nonce_len = 32;
    assert_int_equal(sigil_attest_verify(d, doc, len, &o2).code, SIGIL_ERR_FORBIDDEN);
    free(doc);
    free(d);
}

static void test_base64_document_matches(void **state)
{
    (void)state;
    size_t blen, clen, dlen;
    char *b64 = (char *)load(DIR "evervault_us-east-1_2023-09-18_debug.b64", &blen);
    uint8_t *cbor = load(DIR "evervault_us-east-1_2023-09-18_debug.cbor", &clen);
    while (blen > 0 && (b64[blen - 1] == '\n' || b64[blen - 1] == '\r')) {
        blen--;
    }
    uint8_t *dec = malloc(SIGIL_ATTEST_MAX_DOC);
    assert_true(sigil_is_ok(sigil_base64_decode(dec, SIGIL_ATTEST_MAX_DOC, &dlen, b64, blen)));
    assert_int_equal(dlen, clen);
    assert_memory_equal(dec, cbor, clen);
    free(dec);
    free(b64);
    free(cbor);
}

static int cli(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5, const char *a6)
{
    char *argv[8] = {"attest", "verify", (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, (char *)a6};
    int argc = 2;
    while (argc < 8 && argv[argc] != NULL) {
        argc++;
    }
    int rc = sigil_attest_cli(argc, argv);
    fflush(stdout);
    return rc;
}

static void test_cli(void **state)
{
    (void)state;
    char good[512], bad[512], b64[512], root[512];
    snprintf(good, sizeof good, "%s", vectors_path(DIR "veracruz_eu-west-1_2022-11-09.cbor"));
    snprintf(bad, sizeof bad, "%s", vectors_path(DIR "veracruz_eu-west-1_2022-11-09_bad_sig.cbor"));
    snprintf(b64, sizeof b64, "%s", vectors_path(DIR "evervault_us-east-1_2023-09-18_debug.b64"));
    snprintf(root, sizeof root, "%s", vectors_path(DIR "aws_nitro_enclaves_root_g1.pem"));
    const char *pcr0 =
        "0=22f9e1c949208da55eb01b9b9fc88f87454f77ba133f0d82320b509621c92482152a99d0a12335b97178c02d6f977d01";
    const char *pcr0_bad =
        "0=22f9e1c949208da55eb01b9b9fc88f87454f77ba133f0d82320b509621c92482152a99d0a12335b97178c02d6f977d02";
    assert_int_equal(cli(good, NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(cli(good, "--root", root, "--json", NULL, NULL), 0);
    assert_int_equal(cli(b64, "--root", root, NULL, NULL, NULL), 0);
    assert_int_equal(cli(good, "--pcr", pcr0, NULL, NULL, NULL), 0);
    assert_int_equal(cli(good, "--at", "2022-11-09T22:52:00Z", NULL, NULL, NULL), 0);
    assert_int_equal(cli(good, "--at", "2022-11-10T03:00:00Z", NULL, NULL, NULL), 1);
    assert_int_equal(cli(good, "--at", "2022-11-10T00:52:00+02:00", "--json", NULL, NULL), 0);
    assert_int_equal(cli(good, "--pcr", pcr0_bad, "--json", NULL, NULL), 1);
    assert_int_equal(cli(good, "--nonce", "00", NULL, NULL, NULL), 1);
    assert_int_equal(cli(bad, NULL, NULL, NULL, NULL, NULL), 1);
    assert_int_equal(cli("/nonexistent/doc.cbor", NULL, NULL, NULL, NULL, NULL), 2);
    assert_int_equal(cli(root, NULL, NULL, NULL, NULL, NULL), 2); /* a PEM is neither CBOR nor base64 */
    assert_int_equal(cli(good, "--root", good, NULL, NULL, NULL), 2);
    assert_int_equal(cli(good, "--at", "yesterday", NULL, NULL, NULL), 2);
    assert_int_equal(cli(good, "--pcr", "16=00", NULL, NULL, NULL), 2);
    assert_int_equal(cli(good, "--pcr", "0=0011", NULL, NULL, NULL), 2);
    assert_int_equal(cli(good, "--bogus", NULL, NULL, NULL, NULL), 2);
    assert_int_equal(cli(NULL, NULL, NULL, NULL, NULL, NULL), 2);
    char *argv[] = {"attest", "inspect", good};
    assert_int_equal(sigil_attest_cli(3, argv), 2);
}

static void test_rfc3339(void **state)
{
    (void)state;
    uint64_t t = 0;
    assert_true(sigil_is_ok(attest_parse_rfc3339(&t, "2022-11-09T22:52:00Z")));
    assert_true(t == 1668034320);
    assert_true(sigil_is_ok(attest_parse_rfc3339(&t, "2022-11-09T22:52:00.696Z")));
    assert_true(t == 1668034320);
    assert_true(sigil_is_ok(attest_parse_rfc3339(&t, "2022-11-10T00:52:00+02:00")));
    assert_true(t == 1668034320);
    assert_true(sigil_is_ok(attest_parse_rfc3339(&t, "2000-02-29T00:00:00Z")));
    assert_true(t == 951782400);
    static const char *const bad[] = {"",
                                      "2022-11-09",
                                      "2022-11-09 22:52:00Z",
                                      "2022-13-09T22:52:00Z",
                                      "2023-02-29T00:00:00Z",
                                      "2022-11-09T24:00:00Z",
                                      "2022-11-09T22:52:00",
                                      "2022-11-09T22:52:00.Z",
                                      "2022-11-09T22:52:00+2:00",
                                      "2022-11-09T22:52:00Zjunk"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(attest_parse_rfc3339(&t, bad[i]).code, SIGIL_ERR_PARSE);
    }
}

int main(void)
{
    (void)vectors_path(DIR "aws_nitro_enclaves_root_g1.pem"); /* skip (77) when the vectors are absent */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_documents_verify),
        cmocka_unit_test(test_builtin_root_is_pinned),
        cmocka_unit_test(test_bad_signature_document),
        cmocka_unit_test(test_every_byte_flip_fails),
        cmocka_unit_test(test_other_root_fails),
        cmocka_unit_test(test_time_outside_validity_fails),
        cmocka_unit_test(test_expectations),
        cmocka_unit_test(test_base64_document_matches),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_rfc3339),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
