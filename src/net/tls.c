/* TLS server contexts and client authentication (see tls.h for the policy).
 *
 * Client verification replaces OpenSSL's chain check with one callback
 * (SSL_CTX_set_cert_verify_callback): the known-clients fingerprint match accepts the leaf by
 * itself; otherwise, when a CA is configured, the normal chain verification decides. The
 * handshake's CertificateVerify still proves the client holds the certificate's key. */
#include "net/tls.h"

#include <stdio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "common/log.h"
#include "common/secmem.h"

#define TLS_PEM_MAX (1u << 20)
#define TLS12_CIPHERS                                                                                                  \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                         \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct known_client {
    uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN];
    char name[SIGIL_TLS_CLIENT_NAME_MAX];
};

struct sigil_known_clients {
    size_t n;
    struct known_client *v; /* sorted by fp */
};

/* Per-context client-auth state, owned by the SSL_CTX through ex_data. */
struct tls_auth {
    struct sigil_known_clients *kc;
    bool ca;
};

static int g_auth_idx = -1;
static CRYPTO_ONCE g_auth_once = CRYPTO_ONCE_STATIC_INIT;

static void auth_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    struct tls_auth *a = ptr;
    if (a != NULL) {
        sigil_known_clients_free(a->kc);
        free(a);
    }
}

static void auth_index_init(void) { g_auth_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, auth_free); }

static struct tls_auth *ctx_auth(SSL_CTX *ctx)
{
    if (!CRYPTO_THREAD_run_once(&g_auth_once, auth_index_init) || g_auth_idx < 0) {
        return NULL;
    }
    return SSL_CTX_get_ex_data(ctx, g_auth_idx);
}

/* ---- known-clients parsing ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)(c | 0x20);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* 64 hex digits, or 32 pairs separated by single colons. */
static bool parse_fingerprint(uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN], const char *s, size_t n)
{
    bool colons = n == 95;
    if (n != 64 && !colons) {
        return false;
    }
    size_t j = 0;
    for (size_t i = 0; i < SIGIL_TLS_FINGERPRINT_LEN; i++) {
        int hi = hexval(s[j]), lo = hexval(s[j + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        fp[i] = (uint8_t)(hi << 4 | lo);
        j += 2;
        if (colons && i + 1 < SIGIL_TLS_FINGERPRINT_LEN) {
            if (s[j] != ':') {
                return false;
            }
            j++;
        }
    }
    return true;
}

static int kc_cmp(const void *a, const void *b)
{
    return memcmp(((const struct known_client *)a)->fp, ((const struct known_client *)b)->fp,
                  SIGIL_TLS_FINGERPRINT_LEN);
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

sigil_result sigil_known_clients_parse(struct sigil_known_clients **out, const char *text, size_t len)
{
    SIGIL_ENSURE(out != NULL && (text != NULL || len == 0), SIGIL_ERR_ARG);
    *out = NULL;
    SIGIL_ENSURE(len <= SIGIL_KNOWN_CLIENTS_MAX, SIGIL_ERR_TOO_LARGE);
    sigil_result ret = sigil_ok();
    struct sigil_known_clients *kc = calloc(1, sizeof *kc);
    SIGIL_ENSURE(kc != NULL, SIGIL_ERR_NOMEM);
    size_t cap = 0;
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += llen + (nl != NULL ? 1 : 0);
        size_t i = 0;
        while (i < llen && is_blank(line[i])) {
            i++;
        }
        if (i == llen || line[i] == '#') {
            continue;
        }
        size_t name_start = i;
        while (i < llen && !is_blank(line[i])) {
            i++;
        }
        size_t name_len = i - name_start;
        while (i < llen && is_blank(line[i])) {
            i++;
        }
        size_t fp_start = i;
        while (i < llen && !is_blank(line[i])) {
            i++;
        }
        size_t fp_len = i - fp_start;
        while (i < llen && is_blank(line[i])) {
            i++;
        }
        if (fp_len == 0 || i != llen || name_len >= SIGIL_TLS_CLIENT_NAME_MAX) {
            ret = sigil_errorf(SIGIL_ERR_PARSE, "known-clients line %zu: expected \"<name> <sha256 fingerprint>\"",
                               lineno);
            goto out;
        }
        for (size_t k = 0; k < name_len; k++) {
            unsigned char c = (unsigned char)line[name_start + k];
            if (c < 0x21 || c > 0x7e) {
                ret = sigil_errorf(SIGIL_ERR_PARSE, "known-clients line %zu: name must be printable ASCII", lineno);
                goto out;
            }
        }
        if (kc->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct known_client *v = realloc(kc->v, ncap * sizeof *v);
            SIGIL_ENSURE_GOTO(v != NULL, SIGIL_ERR_NOMEM);
            kc->v = v;
            cap = ncap;
        }
        struct known_client *e = &kc->v[kc->n];
        memset(e, 0, sizeof *e);
        if (!parse_fingerprint(e->fp, line + fp_start, fp_len)) {
            ret = sigil_errorf(SIGIL_ERR_PARSE, "known-clients line %zu: fingerprint must be 64 hex digits", lineno);
            goto out;
        }
        memcpy(e->name, line + name_start, name_len);
        kc->n++;
    }
    if (kc->n > 1) {
        qsort(kc->v, kc->n, sizeof *kc->v, kc_cmp);
        for (size_t k = 1; k < kc->n; k++) {
            if (kc_cmp(&kc->v[k - 1], &kc->v[k]) == 0) {
                ret = sigil_errorf(SIGIL_ERR_PARSE, "known-clients: fingerprint listed twice (%s, %s)",
                                   kc->v[k - 1].name, kc->v[k].name);
                goto out;
            }
        }
    }
    *out = kc;
    kc = NULL;
out:
    sigil_known_clients_free(kc);
    return ret;
}

const char *sigil_known_clients_lookup(const struct sigil_known_clients *kc,
                                       const uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN])
{
    if (kc == NULL || kc->n == 0) {
        return NULL;
    }
    struct known_client key;
    memcpy(key.fp, fp, sizeof key.fp);
    const struct known_client *e = bsearch(&key, kc->v, kc->n, sizeof *kc->v, kc_cmp);
    return e != NULL ? e->name : NULL;
}

static bool known_clients_has_name(const struct sigil_known_clients *kc, const char *name)
{
    for (size_t i = 0; kc != NULL && i < kc->n; i++) {
        if (strcmp(kc->v[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

size_t sigil_known_clients_count(const struct sigil_known_clients *kc) { return kc != NULL ? kc->n : 0; }

void sigil_known_clients_free(struct sigil_known_clients *kc)
{
    if (kc != NULL) {
        free(kc->v);
        free(kc);
    }
}

/* ---- certificates ---- */

sigil_result sigil_tls_cert_fingerprint(uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN], X509 *cert)
{
    unsigned int n = 0;
    SIGIL_ENSURE(cert != NULL, SIGIL_ERR_ARG);
    SIGIL_ENSURE(X509_digest(cert, EVP_sha256(), fp, &n) == 1 && n == SIGIL_TLS_FINGERPRINT_LEN, SIGIL_ERR_CRYPTO);
    return sigil_ok();
}

/* Subject CN as printable ASCII ('?' for anything else), "" when absent. */
static void cert_cn(X509 *cert, char out[SIGIL_TLS_CLIENT_NAME_MAX])
{
    out[0] = '\0';
    X509_NAME *subj = X509_get_subject_name(cert);
    int idx = subj != NULL ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
    if (idx < 0) {
        return;
    }
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx)));
    if (n < 0) {
        return;
    }
    size_t k = 0;
    for (int i = 0; i < n && k + 1 < SIGIL_TLS_CLIENT_NAME_MAX; i++) {
        unsigned char c = utf8[i];
        out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[k] = '\0';
    OPENSSL_free(utf8);
}

static int verify_client(X509_STORE_CTX *xctx, void *arg)
{
    const struct tls_auth *a = arg;
    X509 *leaf = X509_STORE_CTX_get0_cert(xctx);
    uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN];
    if (leaf == NULL || !sigil_is_ok(sigil_tls_cert_fingerprint(fp, leaf))) {
        X509_STORE_CTX_set_error(xctx, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    if (sigil_known_clients_lookup(a->kc, fp) != NULL) {
        X509_STORE_CTX_set_error(xctx, X509_V_OK);
        return 1;
    }
    if (a->ca) {
        if (X509_verify_cert(xctx) != 1) {
            return 0;
        }
        /* A CA-issued certificate must not take the identity of a pinned client: per-client key
         * allow-lists are keyed by that name. */
        char cn[SIGIL_TLS_CLIENT_NAME_MAX];
        cert_cn(leaf, cn);
        if (known_clients_has_name(a->kc, cn)) {
            SIGIL_LOG_WARN("client certificate CN collides with a known-clients name", SIGIL_LOG_STR("cn", cn));
            X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REJECTED);
            return 0;
        }
        return 1;
    }
    X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REJECTED);
    return 0;
}

bool sigil_tls_peer_identity(SSL *ssl, char name[SIGIL_TLS_CLIENT_NAME_MAX], uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN])
{
    name[0] = '\0';
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL || !sigil_is_ok(sigil_tls_cert_fingerprint(fp, cert))) {
        return false;
    }
    struct tls_auth *a = ctx_auth(SSL_get_SSL_CTX(ssl));
    const char *known = a != NULL ? sigil_known_clients_lookup(a->kc, fp) : NULL;
    if (known != NULL) {
        snprintf(name, SIGIL_TLS_CLIENT_NAME_MAX, "%s", known);
    } else {
        cert_cn(cert, name);
    }
    return true;
}

static void enable_client_auth(SSL_CTX *ctx, struct tls_auth *a)
{
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, verify_client, a);
}

sigil_result sigil_tls_ctx_set_known_clients(SSL_CTX *ctx, const char *text, size_t len)
{
    SIGIL_ENSURE(ctx != NULL, SIGIL_ERR_ARG);
    struct tls_auth *a = ctx_auth(ctx);
    SIGIL_ENSURE(a != NULL, SIGIL_ERR_ARG);
    struct sigil_known_clients *kc = NULL;
    SIGIL_GUARD(sigil_known_clients_parse(&kc, text, len));
    sigil_known_clients_free(a->kc);
    a->kc = kc;
    enable_client_auth(ctx, a);
    return sigil_ok();
}

sigil_result sigil_tls_ctx_add_client_ca_mem(SSL_CTX *ctx, const char *pem, size_t len)
{
    SIGIL_ENSURE(ctx != NULL && pem != NULL && len <= TLS_PEM_MAX, SIGIL_ERR_ARG);
    struct tls_auth *a = ctx_auth(ctx);
    SIGIL_ENSURE(a != NULL, SIGIL_ERR_ARG);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    SIGIL_ENSURE(bio != NULL, SIGIL_ERR_NOMEM);
    sigil_result ret = sigil_ok();
    size_t count = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        int ok = X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), x) == 1 && SSL_CTX_add_client_CA(ctx, x) == 1;
        X509_free(x);
        SIGIL_ENSURE_GOTO(ok, SIGIL_ERR_TLS);
        count++;
    }
    ERR_clear_error(); /* the expected "no start line" at the end of the bundle */
    if (count == 0) {
        ret = sigil_errorf(SIGIL_ERR_TLS, "client CA bundle holds no certificate");
        goto out;
    }
    a->ca = true;
    enable_client_auth(ctx, a);
out:
    BIO_free(bio);
    return ret;
}

static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1; /* encrypted keys are not supported: refuse instead of prompting */
}

static sigil_result load_chain_mem(SSL_CTX *ctx, const char *cert_pem, size_t cert_len)
{
    BIO *bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
    SIGIL_ENSURE(bio != NULL, SIGIL_ERR_NOMEM);
    sigil_result ret = sigil_ok();
    X509 *leaf = PEM_read_bio_X509(bio, NULL, no_password, NULL);
    if (leaf == NULL || SSL_CTX_use_certificate(ctx, leaf) != 1) {
        ret = sigil_errorf(SIGIL_ERR_TLS, "server certificate is not a valid PEM certificate");
        goto out;
    }
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, no_password, NULL)) != NULL) {
        if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
            X509_free(x);
            ret = sigil_errorf(SIGIL_ERR_TLS, "cannot add intermediate certificate");
            goto out;
        }
    }
    ERR_clear_error();
out:
    X509_free(leaf);
    BIO_free(bio);
    return ret;
}

static sigil_result load_key_mem(SSL_CTX *ctx, const char *key_pem, size_t key_len)
{
    BIO *bio = BIO_new_mem_buf(key_pem, (int)key_len);
    SIGIL_ENSURE(bio != NULL, SIGIL_ERR_NOMEM);
    sigil_result ret = sigil_ok();
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
    if (pkey == NULL || SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
        ret = sigil_errorf(SIGIL_ERR_TLS, "server key is not an unencrypted PEM private key");
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ret = sigil_errorf(SIGIL_ERR_TLS, "server key does not match the certificate");
        goto out;
    }
out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    ERR_clear_error();
    return ret;
}

static sigil_result setup_client_auth(SSL_CTX *ctx, const struct sigil_tls_config *auth)
{
    if (auth == NULL) {
        return sigil_ok();
    }
    bool has_kc = auth->known_clients_file != NULL && auth->known_clients_file[0] != '\0';
    bool has_ca = auth->ca_file != NULL && auth->ca_file[0] != '\0';
    if (auth->require_client_cert && !has_kc && !has_ca) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "client certificates required but neither known-clients nor CA is set");
    }
    if (has_kc) {
        char *text = NULL;
        size_t len = 0;
        SIGIL_GUARD(sigil_read_file(&text, &len, auth->known_clients_file, SIGIL_KNOWN_CLIENTS_MAX));
        sigil_result r = sigil_tls_ctx_set_known_clients(ctx, text, len);
        free(text);
        SIGIL_GUARD(r);
    }
    if (has_ca) {
        char *pem = NULL;
        size_t len = 0;
        SIGIL_GUARD(sigil_read_file(&pem, &len, auth->ca_file, TLS_PEM_MAX));
        sigil_result r = sigil_tls_ctx_add_client_ca_mem(ctx, pem, len);
        free(pem);
        SIGIL_GUARD(r);
    }
    return sigil_ok();
}

sigil_result sigil_tls_ctx_new_mem(SSL_CTX **out, const char *cert_pem, size_t cert_len, const char *key_pem,
                                   size_t key_len, const struct sigil_tls_config *auth)
{
    SIGIL_ENSURE(out != NULL && cert_pem != NULL && key_pem != NULL, SIGIL_ERR_ARG);
    SIGIL_ENSURE(cert_len <= TLS_PEM_MAX && key_len <= TLS_PEM_MAX, SIGIL_ERR_TOO_LARGE);
    *out = NULL;
    SIGIL_ENSURE(CRYPTO_THREAD_run_once(&g_auth_once, auth_index_init) && g_auth_idx >= 0, SIGIL_ERR_CRYPTO);
    sigil_result ret = sigil_ok();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SIGIL_ENSURE(ctx != NULL, SIGIL_ERR_NOMEM);
    struct tls_auth *a = calloc(1, sizeof *a);
    if (a == NULL || SSL_CTX_set_ex_data(ctx, g_auth_idx, a) != 1) {
        free(a);
        ret = sigil_error(SIGIL_ERR_NOMEM);
        goto out;
    }
    SIGIL_ENSURE_GOTO(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1, SIGIL_ERR_TLS);
    SIGIL_ENSURE_GOTO(SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) == 1, SIGIL_ERR_TLS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* Needed for session resumption once client certificates are verified. */
    static const unsigned char sid_ctx[] = "sigil";
    SIGIL_ENSURE_GOTO(SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1) == 1, SIGIL_ERR_TLS);
    SIGIL_GUARD_GOTO(load_chain_mem(ctx, cert_pem, cert_len));
    SIGIL_GUARD_GOTO(load_key_mem(ctx, key_pem, key_len));
    SIGIL_GUARD_GOTO(setup_client_auth(ctx, auth));
    *out = ctx;
    ctx = NULL;
out:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return ret;
}

sigil_result sigil_tls_ctx_new(SSL_CTX **out, const struct sigil_tls_config *cfg)
{
    SIGIL_ENSURE(out != NULL && cfg != NULL, SIGIL_ERR_ARG);
    *out = NULL;
    if (cfg->cert_file == NULL || cfg->key_file == NULL) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "TLS needs both a certificate and a key file");
    }
    char *cert = NULL, *key = NULL;
    size_t cert_len = 0, key_len = 0;
    sigil_result ret = sigil_ok();
    SIGIL_GUARD_GOTO(sigil_read_file(&cert, &cert_len, cfg->cert_file, TLS_PEM_MAX));
    SIGIL_GUARD_GOTO(sigil_read_file_secure(&key, &key_len, cfg->key_file, TLS_PEM_MAX));
    ret = sigil_tls_ctx_new_mem(out, cert, cert_len, key, key_len, cfg);
out:
    free(cert);
    sigil_secure_free(key);
    return ret;
}
