/* The NSM: /dev/nsm (one ioctl carrying a CBOR request and response) or a simulated NSM that
 * builds the same COSE_Sign1 ES384 document with a dev attestation key. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest/attest_internal.h"
#include "common/secmem.h"

#define SIM_MAX_BUNDLE 16
#define SIM_MAX_CERT   1024

/* Linux uapi <linux/nsm.h> (6.8+) and the nsm-api Rust driver: struct nsm_raw. */
struct nsm_iovec {
    uint64_t addr;
    uint64_t len;
};
struct nsm_message {
    struct nsm_iovec request;
    struct nsm_iovec response;
};
#define NSM_IOCTL_REQUEST _IOWR(0x0A, 0, struct nsm_message)
_Static_assert(sizeof(struct nsm_message) == 32, "struct nsm_message is 32 bytes");

enum nsm_kind { NSM_KIND_TRANSPORT, NSM_KIND_SIMULATED };

struct sigil_nsm {
    enum nsm_kind kind;
    /* transport (device or test double) */
    attest_nsm_transport_fn fn;
    void *ctx;
    int fd;
    /* simulated */
    EVP_PKEY *key;
    uint8_t leaf[SIM_MAX_CERT];
    size_t leaf_len;
    uint8_t bundle[SIM_MAX_BUNDLE][SIM_MAX_CERT];
    size_t bundle_len[SIM_MAX_BUNDLE];
    size_t n_bundle;
    uint8_t pcr0[48];
    char module_id[64];
};

/* ---- device ---- */

static sigil_result device_transport(void *ctx, const uint8_t *req, size_t req_len, uint8_t *resp, size_t resp_cap,
                                     size_t *resp_len)
{
    struct sigil_nsm *n = ctx;
    struct nsm_message msg = {
        .request = {(uint64_t)(uintptr_t)req, req_len},
        .response = {(uint64_t)(uintptr_t)resp, resp_cap},
    };
    int rc;
    do {
        rc = ioctl(n->fd, NSM_IOCTL_REQUEST, &msg);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        if (errno == EMSGSIZE) {
            return sigil_errorf(SIGIL_ERR_TOO_LARGE, "NSM request or response too large");
        }
        return sigil_errorf(SIGIL_ERR_IO, "NSM ioctl failed: %s", strerror(errno));
    }
    if (msg.response.len > resp_cap) {
        return sigil_errorf(SIGIL_ERR_PARSE, "NSM reported a response longer than its buffer");
    }
    *resp_len = (size_t)msg.response.len;
    return sigil_ok();
}

SIGIL_RESULT attest_nsm_open_transport(struct sigil_nsm **out, attest_nsm_transport_fn fn, void *ctx)
{
    if (out == NULL || fn == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "NSM transport missing");
    }
    struct sigil_nsm *n = calloc(1, sizeof *n);
    if (n == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    n->kind = NSM_KIND_TRANSPORT;
    n->fn = fn;
    n->ctx = ctx;
    n->fd = -1;
    *out = n;
    return sigil_ok();
}

SIGIL_RESULT sigil_nsm_open_device(struct sigil_nsm **out)
{
    if (out == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "no output handle");
    }
    *out = NULL;
    int fd = open("/dev/nsm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENODEV || errno == ENXIO) {
            return sigil_errorf(SIGIL_ERR_UNSUPPORTED, "/dev/nsm is absent (not inside a Nitro Enclave)");
        }
        return sigil_errorf(SIGIL_ERR_IO, "cannot open /dev/nsm: %s", strerror(errno));
    }
    struct sigil_nsm *n = NULL;
    sigil_result r = attest_nsm_open_transport(&n, device_transport, NULL);
    if (!sigil_is_ok(r)) {
        close(fd);
        return r;
    }
    n->ctx = n;
    n->fd = fd;
    *out = n;
    return sigil_ok();
}

static SIGIL_RESULT transport_attest(struct sigil_nsm *n, uint8_t *doc_out, size_t cap, size_t *doc_len,
                                     const uint8_t *ud, size_t ud_len, const uint8_t *nonce, size_t nonce_len,
                                     const uint8_t *pk, size_t pk_len)
{
    sigil_result ret;
    uint8_t req[ATTEST_NSM_REQUEST_MAX];
    size_t req_len = 0, resp_len = 0, dlen = 0;
    const uint8_t *d = NULL;
    uint8_t *resp = sigil_secure_alloc(ATTEST_NSM_RESPONSE_MAX);
    SIGIL_ENSURE_GOTO(resp != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(
        attest_nsm_encode_attestation(req, sizeof req, &req_len, ud, ud_len, nonce, nonce_len, pk, pk_len));
    SIGIL_GUARD_GOTO(n->fn(n->ctx, req, req_len, resp, ATTEST_NSM_RESPONSE_MAX, &resp_len));
    SIGIL_GUARD_GOTO(attest_nsm_decode_attestation(resp, resp_len, &d, &dlen));
    if (dlen > cap) {
        ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "attestation document is %zu bytes, buffer holds %zu", dlen, cap);
        goto out;
    }
    memcpy(doc_out, d, dlen);
    *doc_len = dlen;
    ret = sigil_ok();
out:
    sigil_secure_free(resp);
    return ret;
}

static SIGIL_RESULT transport_random(struct sigil_nsm *n, uint8_t *out, size_t len)
{
    sigil_result ret = sigil_ok();
    uint8_t req[16];
    size_t req_len = 0;
    uint8_t *resp = sigil_secure_alloc(ATTEST_NSM_RESPONSE_MAX);
    SIGIL_ENSURE_GOTO(resp != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(attest_nsm_encode_get_random(req, sizeof req, &req_len));
    for (size_t done = 0; done < len;) {
        size_t resp_len = 0, rlen = 0;
        const uint8_t *rnd = NULL;
        SIGIL_GUARD_GOTO(n->fn(n->ctx, req, req_len, resp, ATTEST_NSM_RESPONSE_MAX, &resp_len));
        SIGIL_GUARD_GOTO(attest_nsm_decode_get_random(resp, resp_len, &rnd, &rlen));
        if (rlen == 0) {
            /* an NSM that returns nothing would loop us forever */
            ret = sigil_errorf(SIGIL_ERR_RNG, "NSM returned no random bytes");
            goto out;
        }
        size_t take = rlen < len - done ? rlen : len - done;
        memcpy(out + done, rnd, take);
        done += take;
    }
out:
    sigil_secure_free(resp);
    if (!sigil_is_ok(ret) && out != NULL) {
        sigil_wipe(out, len);
    }
    return ret;
}

/* ---- simulated ---- */

static SIGIL_RESULT x509_to_der(uint8_t *dst, size_t *dst_len, X509 *x)
{
    int n = i2d_X509(x, NULL);
    if (n <= 0 || (size_t)n > SIM_MAX_CERT) {
        return sigil_errorf(SIGIL_ERR_ARG, "certificate DER is not 1..1024 bytes");
    }
    unsigned char *p = dst;
    if (i2d_X509(x, &p) != n) {
        return sigil_error(SIGIL_ERR_CRYPTO);
    }
    *dst_len = (size_t)n;
    return sigil_ok();
}

static bool is_p384(EVP_PKEY *k)
{
    char group[32] = "";
    return k != NULL && EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_group_name(k, group, sizeof group, NULL) == 1 &&
           strcmp(group, "secp384r1") == 0;
}

SIGIL_RESULT sigil_nsm_open_simulated(struct sigil_nsm **out, const char *leaf_cert_pem, size_t leaf_cert_pem_len,
                                      const char *leaf_key_pem, size_t leaf_key_pem_len, const char *chain_pem,
                                      size_t chain_pem_len, const char *image_path)
{
    sigil_result ret;
    struct sigil_nsm *n = NULL;
    BIO *bio = NULL;
    X509 *leaf = NULL, *x = NULL;
    if (out == NULL || leaf_cert_pem == NULL || leaf_key_pem == NULL || chain_pem == NULL || image_path == NULL ||
        leaf_cert_pem_len > INT32_MAX || leaf_key_pem_len > INT32_MAX || chain_pem_len > INT32_MAX) {
        return sigil_errorf(SIGIL_ERR_ARG, "simulated NSM needs a leaf certificate, key, chain and image path");
    }
    *out = NULL;
    n = calloc(1, sizeof *n);
    SIGIL_ENSURE_GOTO(n != NULL, SIGIL_ERR_NOMEM);
    n->kind = NSM_KIND_SIMULATED;
    n->fd = -1;

    bio = BIO_new_mem_buf(leaf_cert_pem, (int)leaf_cert_pem_len);
    SIGIL_ENSURE_GOTO(bio != NULL, SIGIL_ERR_NOMEM);
    leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (leaf == NULL) {
        ret = sigil_errorf(SIGIL_ERR_ARG, "leaf certificate PEM holds no certificate");
        goto out;
    }
    SIGIL_GUARD_GOTO(x509_to_der(n->leaf, &n->leaf_len, leaf));

    /* The key stays inside OpenSSL's EC key object (its scalar is a BN_secure bignum, wiped
     * when freed); the PEM is read in place, never copied. */
    bio = BIO_new_mem_buf(leaf_key_pem, (int)leaf_key_pem_len);
    SIGIL_ENSURE_GOTO(bio != NULL, SIGIL_ERR_NOMEM);
    n->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!is_p384(n->key)) {
        ret = sigil_errorf(SIGIL_ERR_ARG, "leaf key PEM is not an ECDSA P-384 private key");
        goto out;
    }
    if (X509_check_private_key(leaf, n->key) != 1) {
        ret = sigil_errorf(SIGIL_ERR_ARG, "leaf key does not match the leaf certificate");
        goto out;
    }

    bio = BIO_new_mem_buf(chain_pem, (int)chain_pem_len);
    SIGIL_ENSURE_GOTO(bio != NULL, SIGIL_ERR_NOMEM);
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (X509_cmp(x, leaf) != 0) {
            if (n->n_bundle == SIM_MAX_BUNDLE) {
                BIO_free(bio);
                ret = sigil_errorf(SIGIL_ERR_ARG, "chain has more than %d certificates", SIM_MAX_BUNDLE);
                goto out;
            }
            sigil_result r = x509_to_der(n->bundle[n->n_bundle], &n->bundle_len[n->n_bundle], x);
            if (!sigil_is_ok(r)) {
                BIO_free(bio);
                ret = r;
                goto out;
            }
            n->n_bundle++;
        }
        X509_free(x);
        x = NULL;
    }
    BIO_free(bio);
    if (n->n_bundle == 0) {
        ret = sigil_errorf(SIGIL_ERR_ARG, "chain PEM holds no certificate above the leaf");
        goto out;
    }
    SIGIL_GUARD_GOTO(sigil_attest_image_sha384(n->pcr0, image_path));
    uint8_t id[8];
    SIGIL_ENSURE_GOTO(sigil_random_bytes(id, sizeof id), SIGIL_ERR_RNG);
    int w = snprintf(n->module_id, sizeof n->module_id, "i-00000000000000000-sim");
    for (size_t i = 0; i < sizeof id && w > 0 && (size_t)w + 2 < sizeof n->module_id; i++) {
        w += snprintf(n->module_id + w, sizeof n->module_id - (size_t)w, "%02x", id[i]);
    }
    *out = n;
    n = NULL;
    ret = sigil_ok();
out:
    X509_free(x);
    X509_free(leaf);
    sigil_nsm_close(n);
    ERR_clear_error();
    return ret;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static SIGIL_RESULT sim_sign(EVP_PKEY *key, uint8_t sig[96], const uint8_t *payload, size_t payload_len)
{
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ECDSA_SIG *es = NULL;
    uint8_t prefix[64], der[160];
    size_t der_len = sizeof der;
    struct attest_cbor_wr w = {prefix, sizeof prefix, 0, false};
    attest_sig_structure_prefix(&w, attest_protected_es384, sizeof attest_protected_es384, payload_len);
    SIGIL_ENSURE_GOTO(md != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(!w.overflow, SIGIL_ERR_INTERNAL);
    SIGIL_ENSURE_GOTO(EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_DigestSignUpdate(md, prefix, w.len) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_DigestSignUpdate(md, payload, payload_len) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_DigestSignFinal(md, der, &der_len) == 1, SIGIL_ERR_CRYPTO);
    const unsigned char *dp = der;
    es = d2i_ECDSA_SIG(NULL, &dp, (long)der_len);
    SIGIL_ENSURE_GOTO(es != NULL, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 48) == 48, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 48, 48) == 48, SIGIL_ERR_CRYPTO);
    ret = sigil_ok();
out:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ret;
}

static SIGIL_RESULT sim_attest(struct sigil_nsm *n, uint8_t *doc_out, size_t cap, size_t *doc_len, const uint8_t *ud,
                               size_t ud_len, const uint8_t *nonce, size_t nonce_len, const uint8_t *pk, size_t pk_len)
{
    static const uint8_t zero[48] = {0};
    sigil_result ret;
    uint8_t sig[96];
    uint8_t *payload = malloc(SIGIL_ATTEST_MAX_DOC);
    SIGIL_ENSURE_GOTO(payload != NULL, SIGIL_ERR_NOMEM);
    uint64_t ts = now_ms();
    SIGIL_ENSURE_GOTO(ts != 0, SIGIL_ERR_INTERNAL);

    struct attest_cbor_wr w = {payload, SIGIL_ATTEST_MAX_DOC, 0, false};
    attest_cbor_put_map(&w, 9);
    attest_cbor_put_tstr(&w, "module_id");
    attest_cbor_put_tstr(&w, n->module_id);
    attest_cbor_put_tstr(&w, "digest");
    attest_cbor_put_tstr(&w, "SHA384");
    attest_cbor_put_tstr(&w, "timestamp");
    attest_cbor_put_uint64_fixed(&w, ts);
    attest_cbor_put_tstr(&w, "pcrs");
    attest_cbor_put_map(&w, SIGIL_ATTEST_NPCRS);
    for (unsigned i = 0; i < SIGIL_ATTEST_NPCRS; i++) {
        attest_cbor_put_uint(&w, i);
        attest_cbor_put_bstr(&w, i == 0 ? n->pcr0 : zero, 48);
    }
    attest_cbor_put_tstr(&w, "certificate");
    attest_cbor_put_bstr(&w, n->leaf, n->leaf_len);
    attest_cbor_put_tstr(&w, "cabundle");
    attest_cbor_put_array(&w, n->n_bundle);
    for (size_t i = 0; i < n->n_bundle; i++) {
        attest_cbor_put_bstr(&w, n->bundle[i], n->bundle_len[i]);
    }
    attest_cbor_put_tstr(&w, "public_key");
    attest_cbor_put_bstr_or_null(&w, pk, pk_len);
    attest_cbor_put_tstr(&w, "user_data");
    attest_cbor_put_bstr_or_null(&w, ud, ud_len);
    attest_cbor_put_tstr(&w, "nonce");
    attest_cbor_put_bstr_or_null(&w, nonce, nonce_len);
    if (w.overflow) {
        ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "attestation payload over %d bytes", SIGIL_ATTEST_MAX_DOC);
        goto out;
    }
    SIGIL_GUARD_GOTO(sim_sign(n->key, sig, payload, w.len));

    struct attest_cbor_wr d = {doc_out, cap, 0, false};
    attest_cbor_put_array(&d, 4);
    attest_cbor_put_bstr(&d, attest_protected_es384, sizeof attest_protected_es384);
    attest_cbor_put_map(&d, 0);
    attest_cbor_put_bstr(&d, payload, w.len);
    attest_cbor_put_bstr(&d, sig, sizeof sig);
    if (d.overflow || d.len > SIGIL_ATTEST_MAX_DOC) {
        ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "attestation document does not fit %zu bytes", cap);
        goto out;
    }
    *doc_len = d.len;
    ret = sigil_ok();
out:
    free(payload);
    return ret;
}

SIGIL_RESULT sigil_nsm_attest(struct sigil_nsm *n, uint8_t *doc_out, size_t cap, size_t *doc_len,
                              const uint8_t *user_data, size_t ud_len, const uint8_t *nonce, size_t nonce_len,
                              const uint8_t *public_key_der, size_t pk_len)
{
    if (n == NULL || doc_out == NULL || doc_len == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "attest needs a handle and an output buffer");
    }
    *doc_len = 0;
    if ((user_data != NULL && ud_len > 512) || (nonce != NULL && nonce_len > 512) ||
        (public_key_der != NULL && pk_len > 1024)) {
        return sigil_errorf(SIGIL_ERR_ARG, "user_data and nonce are limited to 512 bytes, public_key to 1024");
    }
    if (n->kind == NSM_KIND_SIMULATED) {
        return sim_attest(n, doc_out, cap, doc_len, user_data, ud_len, nonce, nonce_len, public_key_der, pk_len);
    }
    return transport_attest(n, doc_out, cap, doc_len, user_data, ud_len, nonce, nonce_len, public_key_der, pk_len);
}

SIGIL_RESULT sigil_nsm_get_random(struct sigil_nsm *n, uint8_t *out, size_t len)
{
    if (n == NULL || (out == NULL && len > 0)) {
        return sigil_errorf(SIGIL_ERR_ARG, "get_random needs a handle and an output buffer");
    }
    if (len == 0) {
        return sigil_ok();
    }
    if (n->kind == NSM_KIND_SIMULATED) {
        return sigil_random_bytes(out, len) ? sigil_ok() : sigil_errorf(SIGIL_ERR_RNG, "getrandom failed");
    }
    return transport_random(n, out, len);
}

void sigil_nsm_close(struct sigil_nsm *n)
{
    if (n == NULL) {
        return;
    }
    if (n->fd >= 0) {
        close(n->fd);
    }
    EVP_PKEY_free(n->key);
    free(n);
}
