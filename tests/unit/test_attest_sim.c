/* Simulated NSM, dev attestation PKI, NSM device protocol codec and hostile CBOR. Needs no
 * vectors: documents are produced here by the simulated NSM and checked by the one verifier.
 * With SIGIL_ATTEST_WRITE_CORPUS=<dir> the test also writes fuzz seeds (attest_doc/, attest_nsm/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "attest/attest.h"
#include "attest/attest_internal.h"
#include "common/hex.h"
#include "common/io.h"
#include "common/secmem.h"

static char *root_cert, *root_key, *leaf_cert, *leaf_key;
static struct sigil_nsm *nsm;
static struct sigil_attest_doc *out;

static int setup(void **state)
{
    (void)state;
    if (!sigil_is_ok(sigil_attest_dev_root_new(&root_cert, &root_key)) ||
        !sigil_is_ok(sigil_attest_dev_issue(&leaf_cert, &leaf_key, root_cert, root_key, 3 * 3600)) ||
        !sigil_is_ok(sigil_nsm_open_simulated(&nsm, leaf_cert, strlen(leaf_cert), leaf_key, strlen(leaf_key), root_cert,
                                              strlen(root_cert), "/proc/self/exe"))) {
        return -1;
    }
    out = malloc(sizeof *out);
    return out == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    sigil_nsm_close(nsm);
    free(root_cert);
    free(leaf_cert);
    sigil_secure_free(root_key);
    sigil_secure_free(leaf_key);
    free(out);
    return 0;
}

static struct sigil_attest_verify_opts dev_opts(void)
{
    struct sigil_attest_verify_opts o = {.root_pem = root_cert, .root_pem_len = strlen(root_cert)};
    return o;
}

static size_t make_doc(uint8_t *doc, const uint8_t *ud, size_t udl, const uint8_t *nonce, size_t nl, const uint8_t *pk,
                       size_t pkl)
{
    size_t len = 0;
    sigil_result r = sigil_nsm_attest(nsm, doc, SIGIL_ATTEST_MAX_DOC, &len, ud, udl, nonce, nl, pk, pkl);
    assert_int_equal(r.code, SIGIL_OK);
    return len;
}

static void test_dev_pki_outputs(void **state)
{
    (void)state;
    assert_non_null(strstr(root_cert, "BEGIN CERTIFICATE"));
    assert_non_null(strstr(root_key, "BEGIN PRIVATE KEY"));
    assert_true(sigil_secure_owns(root_key));
    assert_true(sigil_secure_owns(leaf_key));
    assert_false(sigil_secure_owns(leaf_cert));
    char *c = NULL, *k = NULL;
    assert_int_equal(sigil_attest_dev_issue(&c, &k, root_cert, leaf_key, 60).code, SIGIL_ERR_ARG); /* key mismatch */
    assert_int_equal(sigil_attest_dev_issue(&c, &k, root_cert, root_key, 0).code, SIGIL_ERR_ARG);
    assert_null(c);
    assert_null(k);
}

static void test_simulated_roundtrip(void **state)
{
    (void)state;
    uint8_t *doc = malloc(SIGIL_ATTEST_MAX_DOC);
    uint8_t nonce[32], ud[100], pk[91];
    for (size_t i = 0; i < sizeof nonce; i++) {
        nonce[i] = (uint8_t)i;
    }
    memset(ud, 0x55, sizeof ud);
    memset(pk, 0x30, sizeof pk);
    size_t len = make_doc(doc, ud, sizeof ud, nonce, sizeof nonce, pk, sizeof pk);
    assert_int_equal(doc[0], 0x84); /* untagged, like the NSM */
    struct sigil_attest_verify_opts o = dev_opts();
    sigil_result r = sigil_attest_verify(out, doc, len, &o);
    if (!sigil_is_ok(r)) {
        fail_msg("%s: %s", sigil_strerror(r.code), sigil_error_detail());
    }
    uint8_t img[48];
    assert_true(sigil_is_ok(sigil_attest_image_sha384(img, "/proc/self/exe")));
    assert_memory_equal(out->pcrs[0], img, 48);
    static const uint8_t zero[48] = {0};
    for (int i = 1; i < SIGIL_ATTEST_NPCRS; i++) {
        assert_true(out->pcr_present[i]);
        assert_memory_equal(out->pcrs[i], zero, 48);
    }
    assert_int_equal(out->nonce_len, sizeof nonce);
    assert_memory_equal(out->nonce, nonce, sizeof nonce);
    assert_int_equal(out->user_data_len, sizeof ud);
    assert_memory_equal(out->user_data, ud, sizeof ud);
    assert_int_equal(out->public_key_len, sizeof pk);
    assert_memory_equal(out->public_key, pk, sizeof pk);
    assert_non_null(strstr(out->module_id, "-sim"));
    uint64_t now = (uint64_t)time(NULL) * 1000;
    assert_true(out->timestamp_ms + 60000 > now && out->timestamp_ms < now + 60000);

    /* Optional fields absent -> null -> length 0. */
    len = make_doc(doc, NULL, 0, NULL, 0, NULL, 0);
    assert_int_equal(sigil_attest_verify(out, doc, len, &o).code, SIGIL_OK);
    assert_int_equal(out->nonce_len + out->user_data_len + out->public_key_len, 0);

    /* Tag 18 (COSE_Sign1) is accepted, any other tag is not. */
    memmove(doc + 1, doc, len);
    doc[0] = 0xd2;
    assert_int_equal(sigil_attest_verify(out, doc, len + 1, &o).code, SIGIL_OK);
    doc[0] = 0xd1;
    assert_int_equal(sigil_attest_verify(out, doc, len + 1, &o).code, SIGIL_ERR_PARSE);

    /* Input limits. */
    size_t l2 = 0;
    uint8_t big[1025] = {0};
    assert_int_equal(sigil_nsm_attest(nsm, doc, SIGIL_ATTEST_MAX_DOC, &l2, big, 513, NULL, 0, NULL, 0).code,
                     SIGIL_ERR_ARG);
    assert_int_equal(sigil_nsm_attest(nsm, doc, SIGIL_ATTEST_MAX_DOC, &l2, NULL, 0, NULL, 0, big, 1025).code,
                     SIGIL_ERR_ARG);
    assert_int_equal(sigil_nsm_attest(nsm, doc, 100, &l2, NULL, 0, NULL, 0, NULL, 0).code, SIGIL_ERR_TOO_LARGE);
    uint8_t rnd[64] = {0}, zero64[64] = {0};
    assert_true(sigil_is_ok(sigil_nsm_get_random(nsm, rnd, sizeof rnd)));
    assert_memory_not_equal(rnd, zero64, sizeof rnd);
    free(doc);
}

static void test_simulated_wrong_root_time_and_expectations(void **state)
{
    (void)state;
    uint8_t *doc = malloc(SIGIL_ATTEST_MAX_DOC);
    uint8_t nonce[16] = {1, 2, 3};
    size_t len = make_doc(doc, NULL, 0, nonce, sizeof nonce, NULL, 0);
    /* The built-in AWS root does not anchor a dev document. */
    assert_int_equal(sigil_attest_verify(out, doc, len, NULL).code, SIGIL_ERR_CRYPTO);
    /* Nor does another dev root. */
    char *c2 = NULL, *k2 = NULL;
    assert_true(sigil_is_ok(sigil_attest_dev_root_new(&c2, &k2)));
    struct sigil_attest_verify_opts o2 = {.root_pem = c2, .root_pem_len = strlen(c2)};
    assert_int_equal(sigil_attest_verify(out, doc, len, &o2).code, SIGIL_ERR_CRYPTO);
    free(c2);
    sigil_secure_free(k2);
    /* Time outside the leaf's 3 h. */
    struct sigil_attest_verify_opts o = dev_opts();
    o.at_time_s = (uint64_t)time(NULL) + 4 * 3600;
    assert_int_equal(sigil_attest_verify(out, doc, len, &o).code, SIGIL_ERR_CRYPTO);
    o.at_time_s = (uint64_t)time(NULL) - 3600;
    assert_int_equal(sigil_attest_verify(out, doc, len, &o).code, SIGIL_ERR_CRYPTO);
    o.at_time_s = 0;
    /* PCR0 = image hash is enforced; a different binary's hash is refused. */
    uint8_t pcr[2][48];
    int idx[2] = {0, 3};
    assert_true(sigil_is_ok(sigil_attest_image_sha384(pcr[0], "/proc/self/exe")));
    memset(pcr[1], 0, 48);
    o.expect_pcr = (const uint8_t(*)[48])pcr;
    o.expect_pcr_index = idx;
    o.n_expect_pcr = 2;
    o.expect_nonce = nonce;
    o.expect_nonce_len = sizeof nonce;
    assert_int_equal(sigil_attest_verify(out, doc, len, &o).code, SIGIL_OK);
    pcr[0][0] ^= 0x80;
    assert_int_equal(sigil_attest_verify(out, doc, len, &o).code, SIGIL_ERR_FORBIDDEN);
    pcr[0][0] ^= 0x80;
    nonce[15] ^= 1;
    assert_int_equal(sigil_attest_verify(out, doc, len, &o).code, SIGIL_ERR_FORBIDDEN);
    nonce[15] ^= 1;
    assert_int_equal(sigil_attest_verify(out, doc, len, &o).code, SIGIL_OK);
    /* An expired leaf: verification at the document's own time still refuses it. */
    char *lc = NULL, *lk = NULL;
    struct sigil_nsm *n2 = NULL;
    assert_true(sigil_is_ok(sigil_attest_dev_issue(&lc, &lk, root_cert, root_key, 1)));
    assert_true(sigil_is_ok(
        sigil_nsm_open_simulated(&n2, lc, strlen(lc), lk, strlen(lk), root_cert, strlen(root_cert), "/proc/self/exe")));
    sleep(2);
    size_t l2 = 0;
    assert_true(sigil_is_ok(sigil_nsm_attest(n2, doc, SIGIL_ATTEST_MAX_DOC, &l2, NULL, 0, NULL, 0, NULL, 0)));
    struct sigil_attest_verify_opts o3 = dev_opts();
    assert_int_equal(sigil_attest_verify(out, doc, l2, &o3).code, SIGIL_ERR_CRYPTO);
    sigil_nsm_close(n2);
    free(lc);
    sigil_secure_free(lk);
    /* Mismatched simulated key and certificate are refused at open. */
    assert_int_equal(sigil_nsm_open_simulated(&n2, leaf_cert, strlen(leaf_cert), root_key, strlen(root_key), root_cert,
                                              strlen(root_cert), "/proc/self/exe")
                         .code,
                     SIGIL_ERR_ARG);
    free(doc);
}

static void test_simulated_flips_and_truncations(void **state)
{
    (void)state;
    uint8_t *doc = malloc(SIGIL_ATTEST_MAX_DOC + 1);
    uint8_t nonce[8] = {9};
    size_t len = make_doc(doc, NULL, 0, nonce, sizeof nonce, NULL, 0);
    struct sigil_attest_verify_opts o = dev_opts();
    for (size_t i = 0; i < len; i++) {
        doc[i] ^= 0x01;
        sigil_result r = sigil_attest_verify(out, doc, len, &o);
        if (sigil_is_ok(r)) {
            fail_msg("flip at %zu accepted", i);
        }
        doc[i] ^= 0x01;
    }
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(sigil_attest_verify(out, doc, n, &o).code, SIGIL_ERR_PARSE);
    }
    doc[len] = 0x00;
    assert_int_equal(sigil_attest_verify(out, doc, len + 1, &o).code, SIGIL_ERR_PARSE); /* trailing byte */
    assert_int_equal(sigil_attest_verify(out, doc, len, &o).code, SIGIL_OK);
    assert_int_equal(sigil_attest_verify(out, NULL, 0, &o).code, SIGIL_ERR_PARSE);
    printf("simulated document: %zu flips and %zu truncations refused\n", len, len);
    free(doc);
}

/* ---- hostile documents, validly signed, so only the parser can refuse them ---- */

enum mutation {
    M_NONE,
    M_EXTRA_FIELD,
    M_DUP_KEY,
    M_DUP_PCR,
    M_MODULE_ID_BSTR,
    M_MODULE_ID_EMPTY,
    M_MODULE_ID_CTRL,
    M_DIGEST_SHA256,
    M_TIMESTAMP_TSTR,
    M_TIMESTAMP_ZERO,
    M_TIMESTAMP_NEG,
    M_PCRS_ARRAY,
    M_PCR_LEN32,
    M_PCR_INDEX_32,
    M_PCRS_EMPTY,
    M_PCR_KEY_TSTR,
    M_CERT_TSTR,
    M_CERT_NOT_DER,
    M_CABUNDLE_EMPTY,
    M_CABUNDLE_MAP,
    M_CABUNDLE_NOT_DER,
    M_MISSING_CERT,
    M_NONCE_TOO_LONG,
    M_USER_DATA_INT,
    M_PUBKEY_EMPTY,
    M_NESTED_USER_DATA,
    M_INDEF_MAP,
    M_TRAILING_IN_PAYLOAD,
    M_KEY_NOT_TSTR,
    M_COUNT
};

static void put_deep(struct attest_cbor_wr *w, int depth)
{
    for (int i = 0; i < depth; i++) {
        attest_cbor_put_array(w, 1);
    }
    attest_cbor_put_uint(w, 0);
}

static size_t build_payload(uint8_t *p, size_t cap, enum mutation m, const uint8_t *leaf, size_t leaf_len,
                            const uint8_t *root, size_t root_len)
{
    static const uint8_t pcr[64] = {0};
    uint8_t big[600] = {0};
    struct attest_cbor_wr w = {p, cap, 0, false};
    size_t n = 9 + (m == M_EXTRA_FIELD || m == M_DUP_KEY) - (m == M_MISSING_CERT);
    if (m == M_INDEF_MAP) {
        attest_cbor_put_raw(&w, (const uint8_t *)"\xbf", 1);
    } else {
        attest_cbor_put_map(&w, n);
    }
    if (m == M_KEY_NOT_TSTR) {
        attest_cbor_put_uint(&w, 1);
    } else {
        attest_cbor_put_tstr(&w, "module_id");
    }
    if (m == M_MODULE_ID_BSTR) {
        attest_cbor_put_bstr(&w, (const uint8_t *)"i-0", 3);
    } else {
        attest_cbor_put_tstr(&w, m == M_MODULE_ID_EMPTY ? "" : m == M_MODULE_ID_CTRL ? "i-0\n" : "i-0-enc0");
    }
    attest_cbor_put_tstr(&w, "digest");
    attest_cbor_put_tstr(&w, m == M_DIGEST_SHA256 ? "SHA256" : "SHA384");
    attest_cbor_put_tstr(&w, "timestamp");
    if (m == M_TIMESTAMP_TSTR) {
        attest_cbor_put_tstr(&w, "1700000000000");
    } else if (m == M_TIMESTAMP_NEG) {
        attest_cbor_put_negint(&w, 5);
    } else {
        attest_cbor_put_uint64_fixed(&w, m == M_TIMESTAMP_ZERO ? 0 : (uint64_t)time(NULL) * 1000);
    }
    attest_cbor_put_tstr(&w, "pcrs");
    if (m == M_PCRS_ARRAY) {
        attest_cbor_put_array(&w, 1);
        attest_cbor_put_bstr(&w, pcr, 48);
    } else if (m == M_PCRS_EMPTY) {
        attest_cbor_put_map(&w, 0);
    } else {
        attest_cbor_put_map(&w, 3);
        for (unsigned i = 0; i < 3; i++) {
            if (m == M_PCR_KEY_TSTR && i == 1) {
                attest_cbor_put_tstr(&w, "1");
            } else {
                attest_cbor_put_uint(&w, m == M_DUP_PCR && i == 2 ? 0 : m == M_PCR_INDEX_32 && i == 2 ? 32 : i);
            }
            attest_cbor_put_bstr(&w, pcr, m == M_PCR_LEN32 && i == 1 ? 32 : 48);
        }
    }
    if (m != M_MISSING_CERT) {
        attest_cbor_put_tstr(&w, "certificate");
        if (m == M_CERT_TSTR) {
            attest_cbor_put_tstr(&w, "cert");
        } else if (m == M_CERT_NOT_DER) {
            attest_cbor_put_bstr(&w, leaf, leaf_len - 1);
        } else {
            attest_cbor_put_bstr(&w, leaf, leaf_len);
        }
    }
    attest_cbor_put_tstr(&w, "cabundle");
    if (m == M_CABUNDLE_EMPTY) {
        attest_cbor_put_array(&w, 0);
    } else if (m == M_CABUNDLE_MAP) {
        attest_cbor_put_map(&w, 1);
        attest_cbor_put_uint(&w, 0);
        attest_cbor_put_bstr(&w, root, root_len);
    } else {
        attest_cbor_put_array(&w, 1);
        attest_cbor_put_bstr(&w, root, m == M_CABUNDLE_NOT_DER ? root_len / 2 : root_len);
    }
    attest_cbor_put_tstr(&w, "public_key");
    if (m == M_PUBKEY_EMPTY) {
        attest_cbor_put_bstr(&w, big, 0);
    } else {
        attest_cbor_put_null(&w);
    }
    attest_cbor_put_tstr(&w, "user_data");
    if (m == M_USER_DATA_INT) {
        attest_cbor_put_uint(&w, 7);
    } else if (m == M_NESTED_USER_DATA) {
        put_deep(&w, 5000);
    } else {
        attest_cbor_put_null(&w);
    }
    attest_cbor_put_tstr(&w, "nonce");
    attest_cbor_put_bstr(&w, big, m == M_NONCE_TOO_LONG ? 513 : 8);
    if (m == M_EXTRA_FIELD) {
        attest_cbor_put_tstr(&w, "extra");
        attest_cbor_put_uint(&w, 1);
    }
    if (m == M_DUP_KEY) {
        attest_cbor_put_tstr(&w, "nonce");
        attest_cbor_put_bstr(&w, big, 8);
    }
    if (m == M_INDEF_MAP) {
        attest_cbor_put_raw(&w, (const uint8_t *)"\xff", 1);
    }
    if (m == M_TRAILING_IN_PAYLOAD) {
        attest_cbor_put_uint(&w, 0);
    }
    assert_false(w.overflow);
    return w.len;
}

static size_t sign_wrap(uint8_t *doc, size_t cap, const uint8_t *payload, size_t plen, EVP_PKEY *key)
{
    uint8_t prefix[64], der[160], sig[96];
    size_t der_len = sizeof der;
    struct attest_cbor_wr w = {prefix, sizeof prefix, 0, false};
    attest_sig_structure_prefix(&w, attest_protected_es384, 4, plen);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key), 1);
    assert_int_equal(EVP_DigestSignUpdate(md, prefix, w.len), 1);
    assert_int_equal(EVP_DigestSignUpdate(md, payload, plen), 1);
    assert_int_equal(EVP_DigestSignFinal(md, der, &der_len), 1);
    EVP_MD_CTX_free(md);
    const unsigned char *dp = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &dp, (long)der_len);
    assert_non_null(es);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 48), 48);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 48, 48), 48);
    ECDSA_SIG_free(es);
    struct attest_cbor_wr d = {doc, cap, 0, false};
    attest_cbor_put_array(&d, 4);
    attest_cbor_put_bstr(&d, attest_protected_es384, 4);
    attest_cbor_put_map(&d, 0);
    attest_cbor_put_bstr(&d, payload, plen);
    attest_cbor_put_bstr(&d, sig, sizeof sig);
    assert_false(d.overflow);
    return d.len;
}

static size_t pem_to_der(uint8_t *der, const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    unsigned char *p = der;
    int n = i2d_X509(x, &p);
    X509_free(x);
    assert_true(n > 0 && n <= 1024);
    return (size_t)n;
}

static EVP_PKEY *load_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(k);
    return k;
}

static void test_hostile_payloads(void **state)
{
    (void)state;
    uint8_t leaf[1024], root[1024];
    size_t leaf_len = pem_to_der(leaf, leaf_cert), root_len = pem_to_der(root, root_cert);
    EVP_PKEY *key = load_key(leaf_key);
    uint8_t *payload = malloc(SIGIL_ATTEST_MAX_DOC * 2), *doc = malloc(SIGIL_ATTEST_MAX_DOC * 2);
    struct sigil_attest_verify_opts o = dev_opts();
    for (int m = 0; m < M_COUNT; m++) {
        size_t pl = build_payload(payload, SIGIL_ATTEST_MAX_DOC * 2, (enum mutation)m, leaf, leaf_len, root, root_len);
        size_t dl = sign_wrap(doc, SIGIL_ATTEST_MAX_DOC * 2, payload, pl, key);
        sigil_result r = sigil_attest_verify(out, doc, dl, &o);
        enum sigil_err want = m == M_NONE ? SIGIL_OK : SIGIL_ERR_PARSE;
        if (r.code != want) {
            fail_msg("mutation %d: got %s (%s)", m, sigil_strerror(r.code), sigil_error_detail());
        }
    }
    EVP_PKEY_free(key);
    free(payload);
    free(doc);
}

static void test_hostile_envelopes(void **state)
{
    (void)state;
    struct sigil_attest_verify_opts o = dev_opts();
    struct {
        const char *hex;
    } cases[] = {
        {"83"},                         /* array(3) truncated */
        {"834401020304a04100"},         /* array of 3 */
        {"854401020304a0410041004100"}, /* array of 5 */
        {"a0"},                         /* a map */
        {"d1840100"},                   /* wrong tag */
        {"d2d284"},                     /* tag in tag */
        {"845bffffffffffffffff"},       /* huge bstr length */
        {"849bffffffffffffffff"},       /* huge array */
        {"84bbffffffffffffffff"},       /* huge map */
        {"845b0000000100000000"},       /* 4 GiB bstr */
        {"845f4100ff"},                 /* indefinite bstr */
        {"9f44a1013822a04100410000ff"}, /* indefinite array */
        {"8444a1013826a04100"
         "5860"}, /* alg -7, truncated */
        {"8444a1013822a0"
         "4100"
         "585f"},                               /* 95-byte signature header, truncated */
        {"8443a10126a041004100"},               /* alg -7 */
        {"8446a201382201f6a041004100"},         /* two protected entries */
        {"8444a1013822a1040141004100"},         /* non-empty unprotected */
        {"8444a101382280410041004100"},         /* unprotected is an array */
        {"8464a1013822a041004100"},             /* protected is a tstr */
        {"8445a1013822ffa041004100"},           /* trailing in protected */
        {"8444a1013822a0f6f6"},                 /* null payload */
        {"8444a1013822a0fb3ff0000000000000f6"}, /* float payload */
        {"8444a1013822a0"
         "40"
         "5860"}, /* empty payload, truncated sig */
        {"1c"},   /* reserved additional info */
        {"ff"},   /* lone break */
        {""},
    };
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 0;
        assert_true(sigil_is_ok(sigil_hex_decode(buf, sizeof buf, &n, cases[i].hex, strlen(cases[i].hex))));
        sigil_result r = sigil_attest_verify(out, buf, n, &o);
        if (r.code != SIGIL_ERR_PARSE) {
            fail_msg("case %zu (%s): got %s", i, cases[i].hex, sigil_strerror(r.code));
        }
    }
    /* Deep nesting and an over-size document. */
    uint8_t *deep = malloc(200000);
    memset(deep, 0x81, 200000);
    assert_int_equal(sigil_attest_verify(out, deep, SIGIL_ATTEST_MAX_DOC, &o).code, SIGIL_ERR_PARSE);
    deep[0] = 0x84;
    deep[1] = 0x44;
    memcpy(deep + 2, attest_protected_es384, 4);
    deep[6] = 0xa0;
    assert_int_equal(sigil_attest_verify(out, deep, SIGIL_ATTEST_MAX_DOC, &o).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_attest_verify(out, deep, 200000, &o).code, SIGIL_ERR_PARSE);
    free(deep);
    /* A valid signed document with a 96-byte all-zero signature is a crypto failure, not a crash. */
    uint8_t *doc = malloc(SIGIL_ATTEST_MAX_DOC);
    size_t len = make_doc(doc, NULL, 0, NULL, 0, NULL, 0);
    memset(doc + len - 96, 0, 96);
    assert_int_equal(sigil_attest_verify(out, doc, len, &o).code, SIGIL_ERR_CRYPTO);
    memset(doc + len - 96, 0xff, 96);
    assert_int_equal(sigil_attest_verify(out, doc, len, &o).code, SIGIL_ERR_CRYPTO);
    free(doc);
}

/* ---- NSM device protocol ---- */

static void test_nsm_request_encoding(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = 0;
    char hex[600];
    assert_true(
        sigil_is_ok(attest_nsm_encode_attestation(buf, sizeof buf, &len, (const uint8_t *)"ab", 2, NULL, 0, NULL, 0)));
    assert_string_equal(sigil_hex_encode(hex, buf, len, 0), "a1"
                                                            "6b4174746573746174696f6e"
                                                            "a3"
                                                            "69757365725f64617461"
                                                            "426162"
                                                            "656e6f6e6365"
                                                            "f6"
                                                            "6a7075626c69635f6b6579"
                                                            "f6");
    assert_true(sigil_is_ok(attest_nsm_encode_attestation(buf, sizeof buf, &len, NULL, 0, (const uint8_t *)"n", 1,
                                                          (const uint8_t *)"\x30\x00", 2)));
    assert_string_equal(sigil_hex_encode(hex, buf, len, 0), "a16b4174746573746174696f6ea369757365725f64617461f6656e6f"
                                                            "6e636541"
                                                            "6e6a7075626c69635f6b6579423000");
    assert_true(sigil_is_ok(attest_nsm_encode_get_random(buf, sizeof buf, &len)));
    assert_string_equal(sigil_hex_encode(hex, buf, len, 0), "6947657452616e646f6d");
    assert_int_equal(attest_nsm_encode_attestation(buf, 10, &len, NULL, 0, NULL, 0, NULL, 0).code, SIGIL_ERR_TOO_LARGE);
}

static void test_nsm_response_decoding(void **state)
{
    (void)state;
    const uint8_t *p = NULL;
    size_t n = 0;
    uint8_t buf[128];
    size_t len;
    struct {
        const char *hex;
        int which; /* 0 attestation, 1 random */
        enum sigil_err want;
    } cases[] = {
        /* {"Attestation": {"document": h'010203'}} */
        {"a16b4174746573746174696f6ea168646f63756d656e7443010203", 0, SIGIL_OK},
        /* {"GetRandom": {"random": h'aabb'}} */
        {"a16947657452616e646f6da16672616e646f6d42aabb", 1, SIGIL_OK},
        /* {"Error": "InvalidArgument"} */
        {"a1654572726f726f496e76616c6964417267756d656e74", 0, SIGIL_ERR_ARG},
        /* {"Error": "InternalError"} */
        {"a1654572726f726d496e7465726e616c4572726f72", 1, SIGIL_ERR_INTERNAL},
        /* {"Error": "Bogus"} */
        {"a1654572726f7265426f677573", 1, SIGIL_ERR_INTERNAL},
        /* GetRandom answer to an attestation request */
        {"a16947657452616e646f6da16672616e646f6d42aabb", 0, SIGIL_ERR_PARSE},
        /* trailing byte */
        {"a16947657452616e646f6da166726e646f6d42aabb00", 1, SIGIL_ERR_PARSE},
        {"a16947657452616e646f6da16672616e646f6d42aabb00", 1, SIGIL_ERR_PARSE},
        /* random as text */
        {"a16947657452616e646f6da16672616e646f6d62aabb", 1, SIGIL_ERR_PARSE},
        /* unit string "LockPCR" */
        {"674c6f636b504352", 1, SIGIL_ERR_PARSE},
        /* truncated */
        {"a16b4174746573746174696f6ea168646f63756d656e74430102", 0, SIGIL_ERR_PARSE},
        /* two entries in the body */
        {"a16947657452616e646f6da266726e646f6d42aabb6166f6", 1, SIGIL_ERR_PARSE},
        {"", 0, SIGIL_ERR_PARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(sigil_is_ok(sigil_hex_decode(buf, sizeof buf, &len, cases[i].hex, strlen(cases[i].hex))));
        sigil_result r = cases[i].which == 0 ? attest_nsm_decode_attestation(buf, len, &p, &n)
                                             : attest_nsm_decode_get_random(buf, len, &p, &n);
        if (r.code != cases[i].want) {
            fail_msg("case %zu: got %s (%s)", i, sigil_strerror(r.code), sigil_error_detail());
        }
        if (r.code == SIGIL_OK) {
            assert_true(p >= buf && p + n <= buf + len);
            assert_int_equal(n, cases[i].which == 0 ? 3 : 2);
        }
    }
}

/* A stand-in for /dev/nsm: answers Attestation with a simulated document and GetRandom with 7
 * bytes per call, and records the request, so the device code path runs without a device. */
struct fake_nsm {
    uint8_t last_req[ATTEST_NSM_REQUEST_MAX];
    size_t last_req_len;
    unsigned calls;
    size_t random_chunk;
    const char *error;
};

static sigil_result fake_transport(void *ctx, const uint8_t *req, size_t req_len, uint8_t *resp, size_t cap,
                                   size_t *resp_len)
{
    struct fake_nsm *f = ctx;
    memcpy(f->last_req, req, req_len);
    f->last_req_len = req_len;
    f->calls++;
    struct attest_cbor_wr w = {resp, cap, 0, false};
    attest_cbor_put_map(&w, 1);
    if (f->error != NULL) {
        attest_cbor_put_tstr(&w, "Error");
        attest_cbor_put_tstr(&w, f->error);
    } else if (req[0] == 0x69) { /* "GetRandom" */
        uint8_t chunk[16];
        for (size_t i = 0; i < f->random_chunk; i++) {
            chunk[i] = (uint8_t)(f->calls * 16 + i);
        }
        attest_cbor_put_tstr(&w, "GetRandom");
        attest_cbor_put_map(&w, 1);
        attest_cbor_put_tstr(&w, "random");
        attest_cbor_put_bstr(&w, chunk, f->random_chunk);
    } else {
        uint8_t *doc = malloc(SIGIL_ATTEST_MAX_DOC);
        size_t dl = 0;
        sigil_result r =
            sigil_nsm_attest(nsm, doc, SIGIL_ATTEST_MAX_DOC, &dl, NULL, 0, (const uint8_t *)"fake", 4, NULL, 0);
        attest_cbor_put_tstr(&w, "Attestation");
        attest_cbor_put_map(&w, 1);
        attest_cbor_put_tstr(&w, "document");
        attest_cbor_put_bstr(&w, doc, dl);
        free(doc);
        if (!sigil_is_ok(r)) {
            return r;
        }
    }
    *resp_len = w.len;
    return w.overflow ? sigil_error(SIGIL_ERR_TOO_LARGE) : sigil_ok();
}

static void test_nsm_device_path_with_fake_transport(void **state)
{
    (void)state;
    struct fake_nsm f = {.random_chunk = 7};
    struct sigil_nsm *dev = NULL;
    assert_true(sigil_is_ok(attest_nsm_open_transport(&dev, fake_transport, &f)));
    uint8_t *doc = malloc(SIGIL_ATTEST_MAX_DOC);
    size_t len = 0;
    uint8_t pk[91];
    memset(pk, 0x30, sizeof pk);
    assert_true(
        sigil_is_ok(sigil_nsm_attest(dev, doc, SIGIL_ATTEST_MAX_DOC, &len, NULL, 0, (const uint8_t *)"n", 1, pk, 91)));
    uint8_t want[256];
    size_t want_len = 0;
    assert_true(sigil_is_ok(
        attest_nsm_encode_attestation(want, sizeof want, &want_len, NULL, 0, (const uint8_t *)"n", 1, pk, 91)));
    assert_int_equal(f.last_req_len, want_len);
    assert_memory_equal(f.last_req, want, want_len);
    struct sigil_attest_verify_opts o = dev_opts();
    assert_int_equal(sigil_attest_verify(out, doc, len, &o).code, SIGIL_OK);
    assert_memory_equal(out->nonce, "fake", 4);
    assert_int_equal(sigil_nsm_attest(dev, doc, 10, &len, NULL, 0, NULL, 0, NULL, 0).code, SIGIL_ERR_TOO_LARGE);

    uint8_t rnd[100];
    f.calls = 0;
    assert_true(sigil_is_ok(sigil_nsm_get_random(dev, rnd, sizeof rnd)));
    assert_int_equal(f.calls, 15); /* ceil(100 / 7) */
    assert_int_equal(rnd[0], 16);
    assert_int_equal(rnd[99], (uint8_t)(15 * 16 + 1));
    f.random_chunk = 0;
    assert_int_equal(sigil_nsm_get_random(dev, rnd, sizeof rnd).code, SIGIL_ERR_RNG);
    f.error = "InvalidArgument";
    assert_int_equal(sigil_nsm_attest(dev, doc, SIGIL_ATTEST_MAX_DOC, &len, NULL, 0, NULL, 0, NULL, 0).code,
                     SIGIL_ERR_ARG);
    sigil_nsm_close(dev);
    free(doc);

    /* No /dev/nsm on a plain machine. */
    struct sigil_nsm *real = NULL;
    sigil_result r = sigil_nsm_open_device(&real);
    if (access("/dev/nsm", F_OK) != 0) {
        assert_int_equal(r.code, SIGIL_ERR_UNSUPPORTED);
        assert_null(real);
    } else {
        sigil_nsm_close(real);
    }
}

static void test_image_sha384(void **state)
{
    (void)state;
    char path[] = "/tmp/sigil-attest-imgXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    uint8_t h[48], want[48];
    assert_true(sigil_is_ok(sigil_attest_image_sha384(h, path)));
    assert_true(sigil_is_ok(sigil_hex_decode_exact(
        want, 48, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        96)));
    assert_memory_equal(h, want, 48);
    unlink(path);
    assert_int_equal(sigil_attest_image_sha384(h, path).code, SIGIL_ERR_IO);
}

static void write_seed(const char *dir, const char *sub, const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    assert_true(sigil_is_ok(sigil_write_file(path, p, n, 0644, 0)));
}

/* Seeds for tests/fuzz/corpus/attest_doc and attest_nsm, written only on request. */
static void test_write_fuzz_corpus(void **state)
{
    (void)state;
    const char *dir = getenv("SIGIL_ATTEST_WRITE_CORPUS");
    if (dir == NULL) {
        skip();
    }
    uint8_t *doc = malloc(SIGIL_ATTEST_MAX_DOC + 1);
    uint8_t n8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t len = make_doc(doc, NULL, 0, NULL, 0, NULL, 0);
    write_seed(dir, "attest_doc", "sim_plain.cbor", doc, len);
    len = make_doc(doc, (const uint8_t *)"ud", 2, n8, 8, (const uint8_t *)"\x30\x00", 2);
    write_seed(dir, "attest_doc", "sim_all_fields.cbor", doc, len);
    memmove(doc + 1, doc, len);
    doc[0] = 0xd2;
    write_seed(dir, "attest_doc", "sim_tagged.cbor", doc, len + 1);
    free(doc);
    static const char *const resp[] = {"a16b4174746573746174696f6ea168646f63756d656e7443010203",
                                       "a16947657452616e646f6da16672616e646f6d42aabb",
                                       "a1654572726f726f496e76616c6964417267756d656e74"};
    uint8_t buf[64];
    for (size_t i = 0; i < 3; i++) {
        size_t n = 0;
        char name[32];
        assert_true(sigil_is_ok(sigil_hex_decode(buf, sizeof buf, &n, resp[i], strlen(resp[i]))));
        snprintf(name, sizeof name, "resp%zu.cbor", i);
        write_seed(dir, "attest_nsm", name, buf, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dev_pki_outputs),
        cmocka_unit_test(test_simulated_roundtrip),
        cmocka_unit_test(test_simulated_wrong_root_time_and_expectations),
        cmocka_unit_test(test_simulated_flips_and_truncations),
        cmocka_unit_test(test_hostile_payloads),
        cmocka_unit_test(test_hostile_envelopes),
        cmocka_unit_test(test_nsm_request_encoding),
        cmocka_unit_test(test_nsm_response_decoding),
        cmocka_unit_test(test_nsm_device_path_with_fake_transport),
        cmocka_unit_test(test_image_sha384),
        cmocka_unit_test(test_write_fuzz_corpus),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
