/* CMS EnvelopedData for KMS recipients: strict BER profile check, OpenSSL CMS decrypt into
 * secure memory, and OpenSSL CMS build. */
#include "kms/cms.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/secmem.h"

/* ---- a small bounded BER reader ---- */

#define BER_MAX_DEPTH 24

struct ber {
    const uint8_t *p;
    size_t len;
};

struct tlv {
    uint8_t id; /* identifier octet (class | constructed | tag number < 31) */
    const uint8_t *val;
    size_t vlen;
    bool indef;
};

static bool ber_read(struct ber *c, struct tlv *t, int depth);

/* Walks the children of an indefinite-length value up to its end-of-contents octets. */
static bool ber_indef_len(const uint8_t *p, size_t avail, size_t *vlen, int depth)
{
    struct ber c = {p, avail};
    for (;;) {
        if (c.len >= 2 && c.p[0] == 0 && c.p[1] == 0) {
            *vlen = avail - c.len;
            return true;
        }
        struct tlv child;
        if (!ber_read(&c, &child, depth + 1)) {
            return false;
        }
    }
}

static bool ber_read(struct ber *c, struct tlv *t, int depth)
{
    if (depth > BER_MAX_DEPTH || c->len < 2) {
        return false;
    }
    const uint8_t *p = c->p;
    size_t left = c->len;
    t->id = p[0];
    if ((t->id & 0x1f) == 0x1f || t->id == 0) {
        return false; /* high tag numbers unused here; 0x00 only as end-of-contents */
    }
    uint8_t l0 = p[1];
    p += 2;
    left -= 2;
    t->indef = false;
    if (l0 < 0x80) {
        t->vlen = l0;
    } else if (l0 == 0x80) {
        if (!(t->id & 0x20)) {
            return false;
        }
        t->indef = true;
        if (!ber_indef_len(p, left, &t->vlen, depth)) {
            return false;
        }
    } else {
        size_t nb = l0 & 0x7f;
        if (nb > 4 || nb > left) {
            return false;
        }
        size_t v = 0;
        for (size_t i = 0; i < nb; i++) {
            v = (v << 8) | p[i];
        }
        p += nb;
        left -= nb;
        t->vlen = v;
    }
    if (t->vlen > left || (t->indef && left - t->vlen < 2)) {
        return false;
    }
    t->val = p;
    size_t used = (size_t)(p - c->p) + t->vlen + (t->indef ? 2 : 0);
    c->p += used;
    c->len -= used;
    return true;
}

static bool ber_expect(struct ber *c, uint8_t id, struct tlv *t) { return ber_read(c, t, 0) && t->id == id; }

static struct ber ber_inner(const struct tlv *t) { return (struct ber){t->val, t->vlen}; }

static bool tlv_is(const struct tlv *t, const uint8_t *v, size_t n)
{
    return t->vlen == n && memcmp(t->val, v, n) == 0;
}

static bool ber_small_int(const struct tlv *t, int *out)
{
    if (t->vlen != 1 || t->val[0] > 0x7f) {
        return false;
    }
    *out = t->val[0];
    return true;
}

static const uint8_t OID_ENVELOPED[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03};
static const uint8_t OID_DATA[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
static const uint8_t OID_RSAES_OAEP[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07};
static const uint8_t OID_MGF1[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08};
static const uint8_t OID_SHA256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
static const uint8_t OID_AES256_CBC[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a};

#define T_INT    0x02
#define T_OCTETS 0x04
#define T_NULL   0x05
#define T_OID    0x06
#define T_SEQ    0x30
#define T_SET    0x31
#define T_CTX0_P 0x80
#define T_CTX0_C 0xa0
#define T_CTX1_C 0xa1

/* AlgorithmIdentifier{sha256, NULL | absent} */
static bool is_sha256_alg(struct ber c)
{
    struct tlv seq, oid, nul;
    if (!ber_expect(&c, T_SEQ, &seq) || c.len != 0) {
        return false;
    }
    struct ber in = ber_inner(&seq);
    if (!ber_expect(&in, T_OID, &oid) || !tlv_is(&oid, OID_SHA256, sizeof OID_SHA256)) {
        return false;
    }
    if (in.len == 0) {
        return true;
    }
    return ber_expect(&in, T_NULL, &nul) && nul.vlen == 0 && in.len == 0;
}

/* RSAES-OAEP-params with hashFunc sha256, maskGen mgf1(sha256), default (empty) label. */
static bool is_oaep_sha256(struct ber c)
{
    struct tlv params, h, m;
    if (!ber_expect(&c, T_SEQ, &params) || c.len != 0) {
        return false;
    }
    struct ber in = ber_inner(&params);
    if (!ber_expect(&in, T_CTX0_C, &h) || !is_sha256_alg(ber_inner(&h))) {
        return false;
    }
    if (!ber_expect(&in, T_CTX1_C, &m) || in.len != 0) {
        return false; /* no pSourceFunc: a label would be unusual and is refused */
    }
    struct ber mb = ber_inner(&m);
    struct tlv mseq, moid;
    if (!ber_expect(&mb, T_SEQ, &mseq) || mb.len != 0) {
        return false;
    }
    struct ber ms = ber_inner(&mseq);
    if (!ber_expect(&ms, T_OID, &moid) || !tlv_is(&moid, OID_MGF1, sizeof OID_MGF1)) {
        return false;
    }
    return is_sha256_alg(ms);
}

void sigil_kms_cms_info_clear(struct sigil_kms_cms_info *out)
{
    if (out == NULL) {
        return;
    }
    free(out->content);
    memset(out, 0, sizeof *out);
}

#define BAD(msg)    sigil_errorf(SIGIL_ERR_PARSE, "cms: %s", msg)
#define UNSUPP(msg) sigil_errorf(SIGIL_ERR_UNSUPPORTED, "cms: %s", msg)
#define FAIL(r)                                                                                                        \
    do {                                                                                                               \
        ret = (r);                                                                                                     \
        goto out;                                                                                                      \
    } while (0)

sigil_result sigil_kms_cms_inspect(struct sigil_kms_cms_info *out, const uint8_t *ber, size_t len)
{
    memset(out, 0, sizeof *out);
    if (ber == NULL || len == 0) {
        return BAD("empty input");
    }
    if (len > SIGIL_KMS_CMS_MAX_SIZE) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "cms: envelope over %u bytes", SIGIL_KMS_CMS_MAX_SIZE);
    }
    sigil_result ret = sigil_ok();
    struct ber top = {ber, len};
    struct tlv ci, t, ed, ris, ri, alg, eci, calg;
    if (!ber_expect(&top, T_SEQ, &ci)) {
        FAIL(BAD("not a ContentInfo SEQUENCE"));
    }
    for (size_t i = 0; i < top.len; i++) {
        if (top.p[i] != 0) {
            FAIL(BAD("trailing data after ContentInfo"));
        }
    }
    struct ber c = ber_inner(&ci);
    if (!ber_expect(&c, T_OID, &t)) {
        FAIL(BAD("missing contentType"));
    }
    if (!tlv_is(&t, OID_ENVELOPED, sizeof OID_ENVELOPED)) {
        FAIL(UNSUPP("content type is not envelopedData"));
    }
    if (!ber_expect(&c, T_CTX0_C, &t) || c.len != 0) {
        FAIL(BAD("missing [0] content"));
    }
    c = ber_inner(&t);
    if (!ber_expect(&c, T_SEQ, &ed) || c.len != 0) {
        FAIL(BAD("EnvelopedData is not a SEQUENCE"));
    }
    struct ber e = ber_inner(&ed);
    if (!ber_expect(&e, T_INT, &t) || !ber_small_int(&t, &out->version)) {
        FAIL(BAD("bad EnvelopedData version"));
    }
    if (out->version != 0 && out->version != 2) {
        FAIL(UNSUPP("EnvelopedData version"));
    }
    if (!ber_read(&e, &ris, 0)) {
        FAIL(BAD("missing recipientInfos"));
    }
    if (ris.id == T_CTX0_C) {
        FAIL(UNSUPP("originatorInfo present"));
    }
    if (ris.id != T_SET) {
        FAIL(BAD("recipientInfos is not a SET"));
    }
    struct ber rs = ber_inner(&ris);
    if (!ber_read(&rs, &ri, 0)) {
        FAIL(BAD("empty recipientInfos"));
    }
    if (rs.len != 0) {
        FAIL(UNSUPP("more than one recipient"));
    }
    if (ri.id != T_SEQ) {
        FAIL(UNSUPP("recipient is not a KeyTransRecipientInfo"));
    }
    struct ber r = ber_inner(&ri);
    if (!ber_expect(&r, T_INT, &t) || !ber_small_int(&t, &out->ktri_version)) {
        FAIL(BAD("bad KeyTransRecipientInfo version"));
    }
    if (!ber_read(&r, &t, 0)) {
        FAIL(BAD("missing recipient identifier"));
    }
    if (out->ktri_version == 2 && t.id == T_CTX0_P) {
        if (t.vlen == 0 || t.vlen > SIGIL_KMS_CMS_MAX_SKI) {
            FAIL(BAD("subjectKeyIdentifier length"));
        }
        memcpy(out->ski, t.val, t.vlen);
        out->ski_len = t.vlen;
    } else if (!(out->ktri_version == 0 && t.id == T_SEQ)) {
        FAIL(BAD("recipient identifier does not match the version"));
    }
    if (!ber_expect(&r, T_SEQ, &alg)) {
        FAIL(BAD("missing keyEncryptionAlgorithm"));
    }
    struct ber a = ber_inner(&alg);
    if (!ber_expect(&a, T_OID, &t)) {
        FAIL(BAD("keyEncryptionAlgorithm OID"));
    }
    if (!tlv_is(&t, OID_RSAES_OAEP, sizeof OID_RSAES_OAEP) || !is_oaep_sha256(a)) {
        FAIL(UNSUPP("key encryption is not RSAES-OAEP with SHA-256/MGF1-SHA-256"));
    }
    if (!ber_expect(&r, T_OCTETS, &t) || r.len != 0) {
        FAIL(BAD("encryptedKey"));
    }
    if (t.vlen < 128 || t.vlen > 1024) {
        FAIL(BAD("encryptedKey length"));
    }
    out->encrypted_key = t.val;
    out->encrypted_key_len = t.vlen;

    if (!ber_expect(&e, T_SEQ, &eci)) {
        FAIL(BAD("missing EncryptedContentInfo"));
    }
    if (e.len != 0) {
        FAIL(UNSUPP("unprotectedAttrs present"));
    }
    struct ber ec = ber_inner(&eci);
    if (!ber_expect(&ec, T_OID, &t) || !tlv_is(&t, OID_DATA, sizeof OID_DATA)) {
        FAIL(UNSUPP("encrypted content type is not data"));
    }
    if (!ber_expect(&ec, T_SEQ, &calg)) {
        FAIL(BAD("contentEncryptionAlgorithm"));
    }
    struct ber ca = ber_inner(&calg);
    if (!ber_expect(&ca, T_OID, &t) || !tlv_is(&t, OID_AES256_CBC, sizeof OID_AES256_CBC)) {
        FAIL(UNSUPP("content encryption is not AES-256-CBC"));
    }
    if (!ber_expect(&ca, T_OCTETS, &t) || t.vlen != 16 || ca.len != 0) {
        FAIL(BAD("AES-CBC IV"));
    }
    memcpy(out->iv, t.val, 16);
    if (!ber_read(&ec, &t, 0) || ec.len != 0) {
        FAIL(BAD("missing encryptedContent"));
    }
    if (t.id == T_CTX0_P) {
        out->content = malloc(t.vlen ? t.vlen : 1);
        if (out->content == NULL) {
            FAIL(sigil_error(SIGIL_ERR_NOMEM));
        }
        memcpy(out->content, t.val, t.vlen);
        out->content_len = t.vlen;
    } else if (t.id == T_CTX0_C) {
        out->content = malloc(t.vlen ? t.vlen : 1);
        if (out->content == NULL) {
            FAIL(sigil_error(SIGIL_ERR_NOMEM));
        }
        struct ber parts = ber_inner(&t);
        struct tlv seg;
        while (parts.len > 0) {
            if (!ber_expect(&parts, T_OCTETS, &seg)) {
                FAIL(BAD("encryptedContent segment"));
            }
            memcpy(out->content + out->content_len, seg.val, seg.vlen);
            out->content_len += seg.vlen;
        }
    } else {
        FAIL(BAD("encryptedContent tag"));
    }
    if (out->content_len == 0 || out->content_len % 16 != 0) {
        FAIL(BAD("encryptedContent is not a whole number of AES blocks"));
    }
out:
    if (!sigil_is_ok(ret)) {
        sigil_kms_cms_info_clear(out);
    }
    return ret;
}

/* ---- a write-only BIO over a secure buffer ---- */

struct secsink {
    uint8_t *buf;
    size_t len;
    size_t cap;
    bool overflow;
};

static int secsink_write(BIO *b, const char *in, int n)
{
    struct secsink *s = BIO_get_data(b);
    if (n < 0 || s == NULL || (size_t)n > s->cap - s->len) {
        if (s != NULL) {
            s->overflow = true;
        }
        return -1;
    }
    memcpy(s->buf + s->len, in, (size_t)n);
    s->len += (size_t)n;
    return n;
}

static long secsink_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int secsink_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* Overwrites the stack region that OpenSSL's CMS copy loop (a 4 KiB local buffer) and the
 * cipher BIOs just used; they do not wipe their plaintext stack buffers themselves. */
__attribute__((noinline)) static void scrub_stack(void)
{
    uint8_t pad[32 * 1024];
    sigil_wipe(pad, sizeof pad);
    __asm__ __volatile__("" : : "r"(pad) : "memory");
}

static bool is_rsa_at_least(EVP_PKEY *k, int bits)
{
    return k != NULL && EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bits(k) >= bits;
}

sigil_result sigil_kms_cms_decrypt(uint8_t **plain, size_t *plain_len, const uint8_t *ber, size_t len, EVP_PKEY *key)
{
    *plain = NULL;
    *plain_len = 0;
    if (!is_rsa_at_least(key, SIGIL_KMS_CMS_MIN_RSA_BITS)) {
        return sigil_errorf(SIGIL_ERR_ARG, "cms: recipient key must be RSA of at least 2048 bits");
    }
    struct sigil_kms_cms_info info;
    SIGIL_GUARD(sigil_kms_cms_inspect(&info, ber, len));
    size_t cap = info.content_len;
    sigil_kms_cms_info_clear(&info);

    sigil_result ret = sigil_errorf(SIGIL_ERR_CRYPTO, "cms: decryption failed");
    BIO *in = NULL, *sink = NULL;
    BIO_METHOD *meth = NULL;
    CMS_ContentInfo *cms = NULL;
    struct secsink s = {.buf = sigil_secure_alloc(cap), .cap = cap};
    if (s.buf == NULL) {
        FAIL(sigil_error(SIGIL_ERR_NOMEM));
    }
    in = BIO_new_mem_buf(ber, (int)len);
    meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sigil-secure-sink");
    if (in == NULL || meth == NULL || !BIO_meth_set_write(meth, secsink_write) ||
        !BIO_meth_set_ctrl(meth, secsink_ctrl) || !BIO_meth_set_create(meth, secsink_create)) {
        FAIL(sigil_error(SIGIL_ERR_NOMEM));
    }
    sink = BIO_new(meth);
    if (sink == NULL) {
        FAIL(sigil_error(SIGIL_ERR_NOMEM));
    }
    BIO_set_data(sink, &s);
    cms = d2i_CMS_bio(in, NULL);
    if (cms == NULL) {
        FAIL(sigil_errorf(SIGIL_ERR_PARSE, "cms: OpenSSL could not parse the envelope"));
    }
    /* CMS_DEBUG_DECRYPT: report a key-unwrap failure instead of continuing with a random key
     * (the Bleichenbacher countermeasure for PKCS#1 v1.5). The profile check above only allows
     * OAEP, whose OpenSSL implementation reports failure without a padding oracle, and a random
     * key would let corrupt input "succeed" with garbage one time in 256. */
    if (CMS_decrypt(cms, key, NULL, NULL, sink, CMS_BINARY | CMS_DEBUG_DECRYPT) != 1 || s.overflow) {
        goto out;
    }
    if (s.len == 0) {
        FAIL(sigil_errorf(SIGIL_ERR_CRYPTO, "cms: empty plaintext"));
    }
    *plain = s.buf;
    *plain_len = s.len;
    s.buf = NULL;
    ret = sigil_ok();
out:
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    BIO_free(sink);
    BIO_meth_free(meth);
    sigil_secure_free(s.buf);
    ERR_clear_error();
    scrub_stack();
    return ret;
}

/* ---- build ---- */

/* CMS_add1_recipient_cert wants a certificate; only its public key and SKI are used (with
 * CMS_USE_KEYID nothing else of it reaches the output), so a throwaway self-signed shell does. */
static X509 *recipient_shell(EVP_PKEY *pub, const uint8_t ski[32])
{
    X509 *x = X509_new();
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    EVP_PKEY *signer = EVP_EC_gen("P-256");
    bool ok = x != NULL && os != NULL && signer != NULL && X509_set_version(x, X509_VERSION_3) &&
              ASN1_INTEGER_set(X509_get_serialNumber(x), 1) && X509_set_pubkey(x, pub) &&
              X509_gmtime_adj(X509_getm_notBefore(x), 0) && X509_gmtime_adj(X509_getm_notAfter(x), 60) &&
              ASN1_OCTET_STRING_set(os, ski, 32) &&
              X509_add1_ext_i2d(x, NID_subject_key_identifier, os, 0, X509V3_ADD_DEFAULT) == 1 &&
              X509_sign(x, signer, EVP_sha256()) > 0;
    ASN1_OCTET_STRING_free(os);
    EVP_PKEY_free(signer);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

sigil_result sigil_kms_cms_build(uint8_t **out, size_t *out_len, const uint8_t *plain, size_t plain_len,
                                 EVP_PKEY *recipient)
{
    *out = NULL;
    *out_len = 0;
    if (!is_rsa_at_least(recipient, SIGIL_KMS_CMS_MIN_RSA_BITS)) {
        return sigil_errorf(SIGIL_ERR_ARG, "cms: recipient key must be RSA of at least 2048 bits");
    }
    if (plain == NULL || plain_len == 0 || plain_len > SIGIL_KMS_CMS_MAX_PLAIN) {
        return sigil_errorf(SIGIL_ERR_ARG, "cms: plaintext length out of range");
    }
    sigil_result ret = sigil_errorf(SIGIL_ERR_CRYPTO, "cms: building the envelope failed");
    uint8_t ski[32];
    unsigned char *spki = NULL;
    X509 *shell = NULL;
    CMS_ContentInfo *cms = NULL;
    BIO *in = NULL, *mem = NULL;
    int spki_len = i2d_PUBKEY(recipient, &spki);
    unsigned mdlen = 0;
    if (spki_len <= 0 || EVP_Digest(spki, (size_t)spki_len, ski, &mdlen, EVP_sha256(), NULL) != 1) {
        goto out;
    }
    shell = recipient_shell(recipient, ski);
    cms = CMS_encrypt(NULL, NULL, EVP_aes_256_cbc(), CMS_BINARY | CMS_PARTIAL);
    if (shell == NULL || cms == NULL) {
        goto out;
    }
    CMS_RecipientInfo *ri = CMS_add1_recipient_cert(cms, shell, CMS_KEY_PARAM | CMS_USE_KEYID);
    EVP_PKEY_CTX *pctx = ri ? CMS_RecipientInfo_get0_pkey_ctx(ri) : NULL;
    if (pctx == NULL || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
        goto out;
    }
    /* A read-only memory BIO points at plain; nothing is copied to the heap. */
    in = BIO_new_mem_buf(plain, (int)plain_len);
    mem = BIO_new(BIO_s_mem());
    if (in == NULL || mem == NULL || CMS_final(cms, in, NULL, CMS_BINARY) != 1 || i2d_CMS_bio(mem, cms) != 1) {
        goto out;
    }
    char *data = NULL;
    long n = BIO_get_mem_data(mem, &data);
    if (n <= 0 || data == NULL) {
        goto out;
    }
    *out = malloc((size_t)n);
    if (*out == NULL) {
        FAIL(sigil_error(SIGIL_ERR_NOMEM));
    }
    memcpy(*out, data, (size_t)n);
    *out_len = (size_t)n;
    ret = sigil_ok();
out:
    OPENSSL_free(spki);
    X509_free(shell);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    BIO_free(mem);
    ERR_clear_error();
    scrub_stack();
    return ret;
}

sigil_result sigil_kms_cms_build_for_spki(uint8_t **out, size_t *out_len, const uint8_t *plain, size_t plain_len,
                                          const uint8_t *spki, size_t spki_len)
{
    *out = NULL;
    *out_len = 0;
    if (spki == NULL || spki_len == 0 || spki_len > 4096) {
        return sigil_errorf(SIGIL_ERR_PARSE, "cms: recipient public key missing or oversized");
    }
    const unsigned char *p = spki;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)spki_len);
    if (pub == NULL || p != spki + spki_len) {
        EVP_PKEY_free(pub);
        ERR_clear_error();
        return sigil_errorf(SIGIL_ERR_PARSE, "cms: recipient public key is not a DER SubjectPublicKeyInfo");
    }
    sigil_result r = sigil_kms_cms_build(out, out_len, plain, plain_len, pub);
    EVP_PKEY_free(pub);
    return r;
}
