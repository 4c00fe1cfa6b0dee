/* Dev attestation PKI: a P-384 root and enclave leaves for the simulated NSM and sigil-kms, shaped
 * like the AWS chain (CA key usage and basic constraints critical, key identifiers) so the one
 * verifier applies the same strict X.509 rules to both. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attest/attest_internal.h"
#include "common/secmem.h"

#define ROOT_VALID_S (10L * 365 * 24 * 3600)

static SIGIL_RESULT set_serial(X509 *x)
{
    uint8_t b[16];
    if (!sigil_random_bytes(b, sizeof b)) {
        return sigil_errorf(SIGIL_ERR_RNG, "getrandom failed");
    }
    b[0] = (uint8_t)((b[0] & 0x7f) | 0x40); /* positive and 16 bytes long */
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    bool ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? sigil_ok() : sigil_error(SIGIL_ERR_CRYPTO);
}

static bool add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    bool ok = e != NULL && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

static X509_NAME *make_name(const char *cn)
{
    X509_NAME *n = X509_NAME_new();
    if (n == NULL || X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Sigil", -1, -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) != 1) {
        X509_NAME_free(n);
        return NULL;
    }
    return n;
}

/* Builds and signs a certificate for key `pub`; issuer == NULL makes it self-signed. */
static SIGIL_RESULT make_cert(X509 **out, EVP_PKEY *pub, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                              long valid_from, long valid_s, bool ca)
{
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    X509 *x = X509_new();
    X509_NAME *name = make_name(cn);
    SIGIL_ENSURE_GOTO(x != NULL && name != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(X509_set_version(x, 2) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_GUARD_GOTO(set_serial(x));
    SIGIL_ENSURE_GOTO(X509_gmtime_adj(X509_getm_notBefore(x), valid_from) != NULL, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(X509_gmtime_adj(X509_getm_notAfter(x), valid_s) != NULL, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(X509_set_subject_name(x, name) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(X509_set_pubkey(x, pub) == 1, SIGIL_ERR_CRYPTO);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    SIGIL_ENSURE_GOTO(add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE"),
                      SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(add_ext(x, &ctx, NID_key_usage,
                              ca ? "critical,digitalSignature,keyCertSign,cRLSign" : "critical,digitalSignature"),
                      SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(add_ext(x, &ctx, NID_subject_key_identifier, "hash"), SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"), SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(X509_sign(x, issuer_key, EVP_sha384()) > 0, SIGIL_ERR_CRYPTO);
    *out = x;
    x = NULL;
    ret = sigil_ok();
out:
    X509_free(x);
    X509_NAME_free(name);
    return ret;
}

/* The contents of memory BIO b as a NUL-terminated string in *out, in secure memory when secure
 * (the caller frees it with sigil_secure_free then); frees b. */
static SIGIL_RESULT bio_take(BIO *b, bool secure, char **out)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *s = NULL;
    if (n > 0) {
        s = secure ? sigil_secure_alloc((size_t)n + 1) : malloc((size_t)n + 1);
    }
    if (s != NULL) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    BIO_free(b);
    if (s == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    *out = s;
    return sigil_ok();
}

static SIGIL_RESULT cert_pem(char **out, X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL || PEM_write_bio_X509(b, x) != 1) {
        BIO_free(b);
        return sigil_error(SIGIL_ERR_CRYPTO);
    }
    return bio_take(b, false, out);
}

/* PKCS#8 PEM of k into secure memory. The BIO is a secmem BIO: OpenSSL clears its buffer (and
 * every buffer it outgrows) before freeing it. */
static SIGIL_RESULT key_pem(char **out, EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_secmem());
    if (b == NULL || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1) {
        BIO_free(b);
        return sigil_error(SIGIL_ERR_CRYPTO);
    }
    return bio_take(b, true, out);
}

SIGIL_RESULT sigil_attest_dev_root_new(char **root_cert_pem, char **root_key_pem)
{
    sigil_result ret;
    EVP_PKEY *k = NULL;
    X509 *x = NULL;
    char *cert = NULL, *key = NULL;
    if (root_cert_pem == NULL || root_key_pem == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "no output for the root");
    }
    k = EVP_EC_gen("P-384");
    SIGIL_ENSURE_GOTO(k != NULL, SIGIL_ERR_CRYPTO);
    SIGIL_GUARD_GOTO(make_cert(&x, k, "Sigil dev attestation root", NULL, k, -3600, ROOT_VALID_S, true));
    SIGIL_GUARD_GOTO(cert_pem(&cert, x));
    SIGIL_GUARD_GOTO(key_pem(&key, k));
    *root_cert_pem = cert;
    *root_key_pem = key;
    cert = key = NULL;
    ret = sigil_ok();
out:
    free(cert);
    sigil_secure_free(key);
    X509_free(x);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return ret;
}

SIGIL_RESULT sigil_attest_dev_issue(char **leaf_cert_pem, char **leaf_key_pem, const char *root_cert_pem,
                                    const char *root_key_pem, unsigned valid_s)
{
    sigil_result ret;
    EVP_PKEY *rk = NULL, *k = NULL;
    X509 *root = NULL, *x = NULL;
    BIO *b = NULL;
    char *cert = NULL, *key = NULL;
    if (leaf_cert_pem == NULL || leaf_key_pem == NULL || root_cert_pem == NULL || root_key_pem == NULL ||
        valid_s == 0) {
        return sigil_errorf(SIGIL_ERR_ARG, "issuing a leaf needs the root certificate, root key and a lifetime");
    }
    b = BIO_new_mem_buf(root_cert_pem, -1);
    SIGIL_ENSURE_GOTO(b != NULL, SIGIL_ERR_NOMEM);
    root = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(root_key_pem, -1);
    SIGIL_ENSURE_GOTO(b != NULL, SIGIL_ERR_NOMEM);
    rk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (root == NULL || rk == NULL || X509_check_private_key(root, rk) != 1) {
        ret = sigil_errorf(SIGIL_ERR_ARG, "root certificate and key PEMs do not form a matching pair");
        goto out;
    }
    k = EVP_EC_gen("P-384");
    SIGIL_ENSURE_GOTO(k != NULL, SIGIL_ERR_CRYPTO);
    /* 60 s in the past so a verifier with a slightly slower clock accepts fresh documents */
    SIGIL_GUARD_GOTO(make_cert(&x, k, "Sigil simulated enclave", root, rk, -60, (long)valid_s, false));
    SIGIL_GUARD_GOTO(cert_pem(&cert, x));
    SIGIL_GUARD_GOTO(key_pem(&key, k));
    *leaf_cert_pem = cert;
    *leaf_key_pem = key;
    cert = key = NULL;
    ret = sigil_ok();
out:
    free(cert);
    sigil_secure_free(key);
    X509_free(x);
    X509_free(root);
    EVP_PKEY_free(k);
    EVP_PKEY_free(rk);
    ERR_clear_error();
    return ret;
}

SIGIL_RESULT sigil_attest_image_sha384(uint8_t out[48], const char *path)
{
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    if (out == NULL || path == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "image hash needs a path and an output");
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return sigil_errorf(SIGIL_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *buf = malloc(1 << 16);
    unsigned int olen = 0;
    SIGIL_ENSURE_GOTO(md != NULL && buf != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(EVP_DigestInit_ex(md, EVP_sha384(), NULL) == 1, SIGIL_ERR_CRYPTO);
    size_t n;
    while ((n = fread(buf, 1, 1 << 16, f)) > 0) {
        SIGIL_ENSURE_GOTO(EVP_DigestUpdate(md, buf, n) == 1, SIGIL_ERR_CRYPTO);
    }
    if (ferror(f)) {
        ret = sigil_errorf(SIGIL_ERR_IO, "reading %s failed", path);
        goto out;
    }
    SIGIL_ENSURE_GOTO(EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 48, SIGIL_ERR_CRYPTO);
    ret = sigil_ok();
out:
    free(buf);
    EVP_MD_CTX_free(md);
    (void)fclose(f); /* read-only: nothing to lose on close */
    return ret;
}
