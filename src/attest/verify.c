/* The one verifier for Nitro attestation documents, real and simulated.
 *
 * Order of work: parse everything strictly first (so hostile input is refused before any crypto
 * and always as SIGIL_ERR_PARSE), then the COSE signature with the leaf key (cheap, and it covers
 * every payload byte), then the chain to the pinned root, then the caller's expectations. */
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attest/attest_internal.h"
#include "common/secmem.h"

/* AWS Nitro Enclaves Root-G1, as distributed in AWS_NitroEnclaves_Root-G1.zip (copy in the shared
 * vectors, nitro/attestation/aws_nitro_enclaves_root_g1.pem). SHA-256 of the DER:
 * 64:1A:03:21:A3:E2:44:EF:E4:56:46:31:95:D6:06:31:7E:D7:CD:CC:3C:17:56:E0:98:93:F3:C6:8F:79:BB:5B
 * (a unit test pins it). */
const char attest_aws_root_g1_pem[] = "-----BEGIN CERTIFICATE-----\n"
                                      "MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL\n"
                                      "MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD\n"
                                      "VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4\n"
                                      "MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL\n"
                                      "DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG\n"
                                      "BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb\n"
                                      "48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE\n"
                                      "h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF\n"
                                      "R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC\n"
                                      "MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW\n"
                                      "rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N\n"
                                      "IwLz3/Y=\n"
                                      "-----END CERTIFICATE-----\n";

#define MAX_CABUNDLE  16
#define MAX_CERT_LEN  1024
#define MAX_PUBKEY    1024
#define MAX_USER_DATA 512
#define MAX_NONCE     512
#define SIG_LEN       96

struct cose_parts {
    const uint8_t *prot;
    size_t prot_len;
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *sig;
};

struct bundle {
    const uint8_t *der[MAX_CABUNDLE];
    size_t len[MAX_CABUNDLE];
    size_t n;
};

static bool tok_is(const struct attest_cbor_tok *t, const char *s)
{
    size_t n = strlen(s);
    return t->len == n && memcmp(t->p, s, n) == 0;
}

static SIGIL_RESULT parse_protected(const uint8_t *p, size_t n)
{
    struct attest_cbor_rd r = {p, n, 0};
    struct attest_cbor_tok t;
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_MAP, "protected header"));
    if (t.v != 1) {
        return sigil_errorf(SIGIL_ERR_PARSE, "protected header must hold exactly the alg parameter");
    }
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_UINT, "protected header key"));
    if (t.v != 1) {
        return sigil_errorf(SIGIL_ERR_PARSE, "protected header must hold exactly the alg parameter");
    }
    SIGIL_GUARD(attest_cbor_next(&r, &t));
    /* -35 is ES384, encoded as negative integer 34 */
    if (t.kind != ATTEST_CBOR_NEGINT || t.v != 34) {
        return sigil_errorf(SIGIL_ERR_PARSE, "protected header alg is not ES384 (-35)");
    }
    if (r.pos != r.len) {
        return sigil_errorf(SIGIL_ERR_PARSE, "trailing bytes after the protected header");
    }
    return sigil_ok();
}

static SIGIL_RESULT parse_cose(struct cose_parts *c, const uint8_t *doc, size_t len)
{
    struct attest_cbor_rd r = {doc, len, 0};
    struct attest_cbor_tok t;
    SIGIL_GUARD(attest_cbor_next(&r, &t));
    if (t.kind == ATTEST_CBOR_TAG) {
        if (t.v != 18) {
            return sigil_errorf(SIGIL_ERR_PARSE, "document has CBOR tag %llu, expected none or 18 (COSE_Sign1)",
                                (unsigned long long)t.v);
        }
        SIGIL_GUARD(attest_cbor_next(&r, &t));
    }
    if (t.kind != ATTEST_CBOR_ARRAY || t.v != 4) {
        return sigil_errorf(SIGIL_ERR_PARSE, "document is not a COSE_Sign1 (a 4-element array)");
    }
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_BSTR, "COSE protected header"));
    c->prot = t.p;
    c->prot_len = t.len;
    SIGIL_GUARD(parse_protected(t.p, t.len));
    /* The unprotected header is not signed; the NSM always sends it empty, and accepting content
     * there would let anyone append bytes to a valid document. */
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_MAP, "COSE unprotected header"));
    if (t.v != 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "COSE unprotected header is not empty");
    }
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_BSTR, "COSE payload"));
    c->payload = t.p;
    c->payload_len = t.len;
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_BSTR, "COSE signature"));
    if (t.len != SIG_LEN) {
        return sigil_errorf(SIGIL_ERR_PARSE, "COSE signature is %zu bytes, ES384 needs 96", t.len);
    }
    c->sig = t.p;
    if (r.pos != r.len) {
        return sigil_errorf(SIGIL_ERR_PARSE, "trailing bytes after the COSE_Sign1 structure");
    }
    return sigil_ok();
}

/* A bstr of min..max bytes, or null when nullable (length 0 then). */
static SIGIL_RESULT get_bytes(struct attest_cbor_rd *r, uint8_t *dst, size_t *dst_len, size_t min, size_t max,
                              bool nullable, const char *what)
{
    struct attest_cbor_tok t;
    SIGIL_GUARD(attest_cbor_next(r, &t));
    if (nullable && t.kind == ATTEST_CBOR_NULL) {
        *dst_len = 0;
        return sigil_ok();
    }
    if (t.kind != ATTEST_CBOR_BSTR) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s is not a byte string%s", what, nullable ? " or null" : "");
    }
    if (t.len < min || t.len > max) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s is %zu bytes, allowed %zu..%zu", what, t.len, min, max);
    }
    if (t.len > 0) {
        memcpy(dst, t.p, t.len);
    }
    *dst_len = t.len;
    return sigil_ok();
}

static SIGIL_RESULT parse_pcrs(struct sigil_attest_doc *out, struct attest_cbor_rd *r)
{
    struct attest_cbor_tok t;
    SIGIL_GUARD(attest_cbor_expect(r, &t, ATTEST_CBOR_MAP, "pcrs"));
    if (t.v < 1 || t.v > 32) {
        return sigil_errorf(SIGIL_ERR_PARSE, "pcrs has %llu entries, allowed 1..32", (unsigned long long)t.v);
    }
    uint32_t seen = 0;
    for (uint64_t i = 0, n = t.v; i < n; i++) {
        SIGIL_GUARD(attest_cbor_expect(r, &t, ATTEST_CBOR_UINT, "pcrs key"));
        if (t.v > 31) {
            return sigil_errorf(SIGIL_ERR_PARSE, "PCR index %llu is over 31", (unsigned long long)t.v);
        }
        unsigned idx = (unsigned)t.v;
        if (seen & (UINT32_C(1) << idx)) {
            return sigil_errorf(SIGIL_ERR_PARSE, "PCR %u appears twice", idx);
        }
        seen |= UINT32_C(1) << idx;
        SIGIL_GUARD(attest_cbor_expect(r, &t, ATTEST_CBOR_BSTR, "PCR value"));
        /* digest must be SHA384 (checked by the caller), so every PCR is 48 bytes */
        if (t.len != 48) {
            return sigil_errorf(SIGIL_ERR_PARSE, "PCR %u is %zu bytes, SHA384 PCRs are 48", idx, t.len);
        }
        /* PCRs 16..31 (application PCRs) are checked but not reported */
        if (idx < SIGIL_ATTEST_NPCRS) {
            memcpy(out->pcrs[idx], t.p, 48);
            out->pcr_len[idx] = 48;
            out->pcr_present[idx] = true;
        }
    }
    return sigil_ok();
}

enum field {
    F_MODULE_ID,
    F_DIGEST,
    F_TIMESTAMP,
    F_PCRS,
    F_CERTIFICATE,
    F_CABUNDLE,
    F_PUBLIC_KEY,
    F_USER_DATA,
    F_NONCE,
    F__COUNT
};

static const char *const field_names[F__COUNT] = {"module_id", "digest",     "timestamp", "pcrs", "certificate",
                                                  "cabundle",  "public_key", "user_data", "nonce"};

static SIGIL_RESULT parse_field(struct sigil_attest_doc *out, struct bundle *b, struct attest_cbor_rd *r, enum field f)
{
    struct attest_cbor_tok t;
    switch (f) {
    case F_MODULE_ID:
        SIGIL_GUARD(attest_cbor_expect(r, &t, ATTEST_CBOR_TSTR, "module_id"));
        if (t.len < 1 || t.len >= sizeof out->module_id) {
            return sigil_errorf(SIGIL_ERR_PARSE, "module_id is %zu bytes, allowed 1..127", t.len);
        }
        for (size_t i = 0; i < t.len; i++) {
            if (t.p[i] < 0x21 || t.p[i] > 0x7e) {
                return sigil_errorf(SIGIL_ERR_PARSE, "module_id has a character outside printable ASCII");
            }
        }
        memcpy(out->module_id, t.p, t.len);
        out->module_id[t.len] = '\0';
        return sigil_ok();
    case F_DIGEST:
        SIGIL_GUARD(attest_cbor_expect(r, &t, ATTEST_CBOR_TSTR, "digest"));
        if (!tok_is(&t, "SHA384")) {
            return sigil_errorf(SIGIL_ERR_PARSE, "digest is not SHA384");
        }
        memcpy(out->digest, "SHA384", 7);
        return sigil_ok();
    case F_TIMESTAMP:
        SIGIL_GUARD(attest_cbor_expect(r, &t, ATTEST_CBOR_UINT, "timestamp"));
        if (t.v == 0) {
            return sigil_errorf(SIGIL_ERR_PARSE, "timestamp is zero");
        }
        out->timestamp_ms = t.v;
        return sigil_ok();
    case F_PCRS:
        return parse_pcrs(out, r);
    case F_CERTIFICATE:
        return get_bytes(r, out->cert_der, &out->cert_der_len, 1, MAX_CERT_LEN, false, "certificate");
    case F_CABUNDLE:
        SIGIL_GUARD(attest_cbor_expect(r, &t, ATTEST_CBOR_ARRAY, "cabundle"));
        if (t.v < 1 || t.v > MAX_CABUNDLE) {
            return sigil_errorf(SIGIL_ERR_PARSE, "cabundle has %llu certificates, allowed 1..%d",
                                (unsigned long long)t.v, MAX_CABUNDLE);
        }
        b->n = (size_t)t.v;
        for (size_t i = 0; i < b->n; i++) {
            SIGIL_GUARD(attest_cbor_expect(r, &t, ATTEST_CBOR_BSTR, "cabundle entry"));
            if (t.len < 1 || t.len > MAX_CERT_LEN) {
                return sigil_errorf(SIGIL_ERR_PARSE, "cabundle entry %zu is %zu bytes, allowed 1..1024", i, t.len);
            }
            b->der[i] = t.p;
            b->len[i] = t.len;
        }
        return sigil_ok();
    case F_PUBLIC_KEY:
        return get_bytes(r, out->public_key, &out->public_key_len, 1, MAX_PUBKEY, true, "public_key");
    case F_USER_DATA:
        return get_bytes(r, out->user_data, &out->user_data_len, 0, MAX_USER_DATA, true, "user_data");
    case F_NONCE:
        return get_bytes(r, out->nonce, &out->nonce_len, 0, MAX_NONCE, true, "nonce");
    default:
        return sigil_errorf(SIGIL_ERR_INTERNAL, "unknown field");
    }
}

static SIGIL_RESULT parse_payload(struct sigil_attest_doc *out, struct bundle *b, const uint8_t *p, size_t n)
{
    struct attest_cbor_rd r = {p, n, 0};
    struct attest_cbor_tok t;
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_MAP, "attestation document payload"));
    if (t.v > F__COUNT) {
        return sigil_errorf(SIGIL_ERR_PARSE, "payload has %llu entries, at most %d are defined",
                            (unsigned long long)t.v, F__COUNT);
    }
    unsigned seen = 0;
    for (uint64_t i = 0, count = t.v; i < count; i++) {
        SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_TSTR, "payload key"));
        int f = -1;
        for (int k = 0; k < F__COUNT; k++) {
            if (tok_is(&t, field_names[k])) {
                f = k;
                break;
            }
        }
        if (f < 0) {
            return sigil_errorf(SIGIL_ERR_PARSE, "payload has an unknown key");
        }
        if (seen & (1u << f)) {
            return sigil_errorf(SIGIL_ERR_PARSE, "payload key %s appears twice", field_names[f]);
        }
        seen |= 1u << f;
        SIGIL_GUARD(parse_field(out, b, &r, (enum field)f));
    }
    for (int k = 0; k <= F_CABUNDLE; k++) {
        if (!(seen & (1u << k))) {
            return sigil_errorf(SIGIL_ERR_PARSE, "payload lacks %s", field_names[k]);
        }
    }
    if (r.pos != r.len) {
        return sigil_errorf(SIGIL_ERR_PARSE, "trailing bytes after the payload map");
    }
    return sigil_ok();
}

static SIGIL_RESULT der_to_x509(X509 **out, const uint8_t *p, size_t n, const char *what)
{
    const unsigned char *q = p;
    X509 *x = d2i_X509(NULL, &q, (long)n);
    if (x == NULL || q != p + n) {
        X509_free(x);
        return sigil_errorf(SIGIL_ERR_PARSE, "%s is not a DER X.509 certificate", what);
    }
    *out = x;
    return sigil_ok();
}

static SIGIL_RESULT check_signature(X509 *leaf, const struct cose_parts *c)
{
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    ECDSA_SIG *es = NULL;
    BIGNUM *br = NULL, *bs = NULL;
    EVP_MD_CTX *md = NULL;
    EVP_PKEY *pk = X509_get0_pubkey(leaf);
    char group[32] = "";
    if (pk == NULL || !EVP_PKEY_is_a(pk, "EC") || EVP_PKEY_get_group_name(pk, group, sizeof group, NULL) != 1 ||
        strcmp(group, "secp384r1") != 0) {
        return sigil_errorf(SIGIL_ERR_CRYPTO, "leaf certificate key is not ECDSA P-384");
    }
    es = ECDSA_SIG_new();
    br = BN_bin2bn(c->sig, 48, NULL);
    bs = BN_bin2bn(c->sig + 48, 48, NULL);
    SIGIL_ENSURE_GOTO(es != NULL && br != NULL && bs != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(ECDSA_SIG_set0(es, br, bs) == 1, SIGIL_ERR_CRYPTO);
    br = bs = NULL;
    uint8_t der[160];
    int der_len = i2d_ECDSA_SIG(es, NULL);
    SIGIL_ENSURE_GOTO(der_len > 0 && (size_t)der_len <= sizeof der, SIGIL_ERR_CRYPTO);
    unsigned char *dp = der;
    SIGIL_ENSURE_GOTO(i2d_ECDSA_SIG(es, &dp) == der_len, SIGIL_ERR_CRYPTO);

    uint8_t prefix[64];
    struct attest_cbor_wr w = {prefix, sizeof prefix, 0, false};
    attest_sig_structure_prefix(&w, c->prot, c->prot_len, c->payload_len);
    SIGIL_ENSURE_GOTO(!w.overflow, SIGIL_ERR_INTERNAL);
    md = EVP_MD_CTX_new();
    SIGIL_ENSURE_GOTO(md != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, pk) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_DigestVerifyUpdate(md, prefix, w.len) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_DigestVerifyUpdate(md, c->payload, c->payload_len) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_DigestVerifyFinal(md, der, (size_t)der_len) == 1, SIGIL_ERR_CRYPTO);
    ret = sigil_ok();
out:
    if (ret.code == SIGIL_ERR_CRYPTO) {
        ret = sigil_errorf(SIGIL_ERR_CRYPTO, "COSE signature invalid");
    }
    EVP_MD_CTX_free(md);
    ECDSA_SIG_free(es);
    BN_free(br);
    BN_free(bs);
    return ret;
}

static SIGIL_RESULT load_root(X509 **out, const char *pem, size_t len)
{
    if (len > 64 * 1024) {
        return sigil_errorf(SIGIL_ERR_ARG, "root PEM is over 64 KiB");
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (x == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "root PEM holds no certificate");
    }
    *out = x;
    return sigil_ok();
}

/* True when notBefore <= t < notAfter. */
static bool valid_at(X509 *x, time_t t)
{
    return X509_cmp_time(X509_get0_notBefore(x), &t) < 0 && X509_cmp_time(X509_get0_notAfter(x), &t) > 0;
}

static SIGIL_RESULT check_chain(X509 *leaf, X509 *root, const struct bundle *b, time_t at, time_t doc_time)
{
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    SIGIL_ENSURE_GOTO(store != NULL && ctx != NULL && untrusted != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(X509_STORE_add_cert(store, root) == 1, SIGIL_ERR_CRYPTO);
    /* cabundle[0] claims to be the root; only our pinned copy is trusted, so it is parsed (any
     * bad DER is a malformed document) but never offered as a chain element. */
    for (size_t i = 0; i < b->n; i++) {
        X509 *x = NULL;
        SIGIL_GUARD_GOTO(der_to_x509(&x, b->der[i], b->len[i], "a cabundle entry"));
        if (i == 0 || sk_X509_push(untrusted, x) <= 0) {
            X509_free(x);
        }
    }
    SIGIL_ENSURE_GOTO(X509_STORE_CTX_init(ctx, store, leaf, untrusted) == 1, SIGIL_ERR_CRYPTO);
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, at);
    X509_VERIFY_PARAM_set_depth(param, MAX_CABUNDLE);
    /* No X509_V_FLAG_X509_STRICT: AWS's intermediates carry no Authority Key Identifier, which
     * strict mode refuses. The default checks still require CA basic constraints and keyCertSign
     * on every issuer and honour path lengths; no partial chains (the chain must end at the
     * pinned self-signed root); no CRLs (AWS documents none for attestation). */
    if (X509_verify_cert(ctx) != 1) {
        ret = sigil_errorf(SIGIL_ERR_CRYPTO, "certificate chain invalid: %s",
                           X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    for (int i = 0; i < sk_X509_num(chain); i++) {
        if (X509_get_signature_nid(sk_X509_value(chain, i)) != NID_ecdsa_with_SHA384) {
            ret = sigil_errorf(SIGIL_ERR_CRYPTO, "certificate %d of the chain is not signed with ECDSA-SHA384", i);
            goto out;
        }
    }
    if (X509_check_ca(leaf) != 0) {
        ret = sigil_errorf(SIGIL_ERR_CRYPTO, "leaf certificate is a CA");
        goto out;
    }
    if (!(X509_get_extension_flags(leaf) & EXFLAG_KUSAGE) || !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE)) {
        ret = sigil_errorf(SIGIL_ERR_CRYPTO, "leaf certificate lacks the digitalSignature key usage");
        goto out;
    }
    if (!valid_at(leaf, doc_time)) {
        ret = sigil_errorf(SIGIL_ERR_CRYPTO, "document timestamp lies outside the leaf certificate's validity");
        goto out;
    }
    ret = sigil_ok();
out:
    sk_X509_pop_free(untrusted, X509_free);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ret;
}

static SIGIL_RESULT check_expectations(const struct sigil_attest_doc *d, const struct sigil_attest_verify_opts *o)
{
    if (o->expect_nonce != NULL) {
        if (d->nonce_len != o->expect_nonce_len || d->nonce_len == 0 ||
            !sigil_ct_memeq(d->nonce, o->expect_nonce, d->nonce_len)) {
            return sigil_errorf(SIGIL_ERR_FORBIDDEN, "nonce does not match the expected nonce");
        }
    }
    for (size_t i = 0; i < o->n_expect_pcr; i++) {
        int idx = o->expect_pcr_index[i];
        if (!d->pcr_present[idx] || !sigil_ct_memeq(d->pcrs[idx], o->expect_pcr[i], 48)) {
            return sigil_errorf(SIGIL_ERR_FORBIDDEN, "PCR%d does not match the expected value", idx);
        }
    }
    return sigil_ok();
}

SIGIL_RESULT sigil_attest_verify(struct sigil_attest_doc *out, const uint8_t *doc, size_t len,
                                 const struct sigil_attest_verify_opts *opts)
{
    static const struct sigil_attest_verify_opts defaults = {0};
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    X509 *leaf = NULL, *root = NULL;
    struct cose_parts cose;
    struct bundle bundle = {.n = 0};
    if (out == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "no output document");
    }
    memset(out, 0, sizeof *out);
    if (opts == NULL) {
        opts = &defaults;
    }
    SIGIL_ENSURE_GOTO(doc != NULL || len == 0, SIGIL_ERR_ARG);
    if (opts->n_expect_pcr > 0 && (opts->expect_pcr == NULL || opts->expect_pcr_index == NULL)) {
        ret = sigil_errorf(SIGIL_ERR_ARG, "PCR expectations without values");
        goto out;
    }
    for (size_t i = 0; i < opts->n_expect_pcr; i++) {
        if (opts->expect_pcr_index[i] < 0 || opts->expect_pcr_index[i] >= SIGIL_ATTEST_NPCRS) {
            ret = sigil_errorf(SIGIL_ERR_ARG, "expected PCR index %d is outside 0..15", opts->expect_pcr_index[i]);
            goto out;
        }
    }
    if (opts->at_time_s > (uint64_t)INT64_MAX) {
        ret = sigil_errorf(SIGIL_ERR_ARG, "verification time out of range");
        goto out;
    }
    if (len > SIGIL_ATTEST_MAX_DOC) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "document is %zu bytes, over the %d-byte limit", len, SIGIL_ATTEST_MAX_DOC);
        goto out;
    }
    sigil_error_clear();
    SIGIL_GUARD_GOTO(parse_cose(&cose, doc, len));
    SIGIL_GUARD_GOTO(parse_payload(out, &bundle, cose.payload, cose.payload_len));
    SIGIL_GUARD_GOTO(der_to_x509(&leaf, out->cert_der, out->cert_der_len, "certificate"));
    if (opts->root_pem != NULL) {
        SIGIL_GUARD_GOTO(load_root(&root, opts->root_pem, opts->root_pem_len));
    } else {
        SIGIL_GUARD_GOTO(load_root(&root, attest_aws_root_g1_pem, sizeof attest_aws_root_g1_pem - 1));
    }
    SIGIL_GUARD_GOTO(check_signature(leaf, &cose));
    time_t doc_time = (time_t)(out->timestamp_ms / 1000);
    time_t at = opts->at_time_s != 0 ? (time_t)opts->at_time_s : doc_time;
    SIGIL_GUARD_GOTO(check_chain(leaf, root, &bundle, at, doc_time));
    SIGIL_GUARD_GOTO(check_expectations(out, opts));
    ret = sigil_ok();
out:
    X509_free(leaf);
    X509_free(root);
    ERR_clear_error();
    if (ret.code != SIGIL_OK) {
        memset(out, 0, sizeof *out);
    }
    return ret;
}
