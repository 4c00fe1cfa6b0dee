/* DATA_DIR bootstrap for sigil-kms: the master key, the API credentials, the dev attestation
 * root and a self-signed TLS certificate, each created once (exclusive, 0600 for secrets). */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/io.h"
#include "common/secmem.h"
#include "kms/sigv4.h"
#include "kmsd/kmsd.h"

#define MAX_CRED_FILE 4096

void sigil_kmsd_paths(struct sigil_kmsd_paths *p, const char *d)
{
    snprintf(p->credentials, sizeof p->credentials, "%s/credentials", d);
    snprintf(p->master_key, sizeof p->master_key, "%s/master.key", d);
    snprintf(p->root_cert, sizeof p->root_cert, "%s/attestation-root.pem", d);
    snprintf(p->root_key, sizeof p->root_key, "%s/attestation-root.key", d);
    snprintf(p->tls_cert, sizeof p->tls_cert, "%s/tls-cert.pem", d);
    snprintf(p->tls_key, sizeof p->tls_key, "%s/tls-key.pem", d);
    snprintf(p->db, sizeof p->db, "%s/kms.db", d);
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* Random text from an alphabet, with rejection sampling so every symbol is equally likely. */
static sigil_result random_text(char *out, size_t n, const char *alphabet)
{
    size_t an = strlen(alphabet);
    size_t limit = 256 - (256 % an);
    for (size_t i = 0; i < n;) {
        uint8_t b[64];
        SIGIL_ENSURE(sigil_random_bytes(b, sizeof b), SIGIL_ERR_RNG);
        for (size_t k = 0; k < sizeof b && i < n; k++) {
            if (b[k] < limit) {
                out[i++] = alphabet[b[k] % an];
            }
        }
        sigil_wipe(b, sizeof b);
    }
    out[n] = '\0';
    return sigil_ok();
}

static sigil_result make_credentials(const char *path, int print_fd)
{
    char akid[21];
    snprintf(akid, sizeof akid, "AKIASIGIL");
    SIGIL_GUARD(random_text(akid + 9, 11, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
    enum { SECRET_LEN = 40, TEXT_CAP = 256 };
    sigil_result ret;
    char *secret = sigil_secure_alloc(SECRET_LEN + 1);
    char *text = sigil_secure_alloc(TEXT_CAP);
    SIGIL_ENSURE_GOTO(secret != NULL && text != NULL, SIGIL_ERR_NOMEM);
    ret = random_text(secret, SECRET_LEN, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    SIGIL_GUARD_GOTO(ret);
    int n = snprintf(text, TEXT_CAP, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", akid, secret);
    SIGIL_ENSURE_GOTO(n > 0 && n < TEXT_CAP, SIGIL_ERR_INTERNAL);
    SIGIL_GUARD_GOTO(sigil_write_file(path, text, (size_t)n, 0600, 1));
    if (print_fd >= 0) {
        /* Announced once, at creation. The secret itself stays in the 0600 file: stdout is often
         * captured into a log (make run does exactly that), and a log must never hold a secret. */
        dprintf(print_fd,
                "sigil-kms: created credentials %s (mode 0600, shown once):\n[default]\naws_access_key_id = %s\n"
                "aws_secret_access_key = (stored in that file only, never printed)\n",
                path, akid);
    }
out:
    sigil_secure_free(secret);
    sigil_secure_free(text);
    return ret;
}

sigil_result sigil_kmsd_read_credentials(const char *path, char **akid, char **secret, size_t *secret_len)
{
    *akid = NULL;
    *secret = NULL;
    *secret_len = 0;
    char *text = NULL;
    size_t len = 0;
    SIGIL_GUARD(sigil_read_file_secure(&text, &len, path, MAX_CRED_FILE));
    sigil_result ret = sigil_ok();
    char *id = NULL, *sec = NULL;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(line);
        while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t')) {
            line[--l] = '\0';
        }
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            continue;
        }
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        char *k_end = eq;
        while (k_end > line && (k_end[-1] == ' ' || k_end[-1] == '\t')) {
            k_end--;
        }
        size_t kl = (size_t)(k_end - line);
        if (kl == 17 && strncmp(line, "aws_access_key_id", kl) == 0 && id == NULL) {
            id = v;
        } else if (kl == 21 && strncmp(line, "aws_secret_access_key", kl) == 0 && sec == NULL) {
            sec = v;
        }
    }
    if (id == NULL || sec == NULL || id[0] == '\0' || sec[0] == '\0' || strlen(id) > SIGIL_SIGV4_MAX_ACCESS_KEY_ID ||
        strlen(sec) > SIGIL_SIGV4_MAX_SECRET) {
        ret = sigil_errorf(SIGIL_ERR_CONFIG, "%s must set aws_access_key_id and aws_secret_access_key", path);
        goto out;
    }
    size_t sl = strlen(sec);
    *akid = strdup(id);
    *secret = sigil_secure_alloc(sl + 1);
    if (*akid == NULL || *secret == NULL) {
        free(*akid);
        sigil_secure_free(*secret);
        *akid = NULL;
        *secret = NULL;
        ret = sigil_error(SIGIL_ERR_NOMEM);
        goto out;
    }
    memcpy(*secret, sec, sl);
    *secret_len = sl;
out:
    sigil_secure_free(text);
    return ret;
}

static bool add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    bool ok = e != NULL && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

/* Self-signed P-256 server certificate, valid for 2 years, for localhost, 127.0.0.1, ::1 and
 * listen_host. Clients pin the certificate itself as their CA. */
static sigil_result make_tls_cert(const char *cert_path, const char *key_path, const char *listen_host)
{
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    BIO *kb = BIO_new(BIO_s_secmem());
    BIO *cb = BIO_new(BIO_s_mem());
    SIGIL_ENSURE_GOTO(k != NULL && x != NULL && name != NULL && kb != NULL && cb != NULL, SIGIL_ERR_NOMEM);
    char san[512];
    snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1");
    unsigned char tmp[16];
    if (listen_host != NULL && listen_host[0] != '\0' && strcmp(listen_host, "localhost") != 0 &&
        strcmp(listen_host, "127.0.0.1") != 0 && strcmp(listen_host, "::1") != 0 && strlen(listen_host) < 200) {
        bool ip = inet_pton(AF_INET, listen_host, tmp) == 1 || inet_pton(AF_INET6, listen_host, tmp) == 1;
        size_t l = strlen(san);
        snprintf(san + l, sizeof san - l, ",%s:%s", ip ? "IP" : "DNS", listen_host);
    }
    uint8_t serial[16];
    SIGIL_ENSURE_GOTO(sigil_random_bytes(serial, sizeof serial), SIGIL_ERR_RNG);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    bool serial_ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    SIGIL_ENSURE_GOTO(serial_ok, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"sigil-kms", -1, -1, 0) == 1,
        SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(X509_set_version(x, 2) == 1 && X509_set_subject_name(x, name) == 1 &&
                          X509_set_issuer_name(x, name) == 1 && X509_set_pubkey(x, k) == 1 &&
                          X509_gmtime_adj(X509_getm_notBefore(x), -60) != NULL &&
                          X509_gmtime_adj(X509_getm_notAfter(x), 2L * 365 * 86400) != NULL,
                      SIGIL_ERR_CRYPTO);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    /* CA:TRUE so that the certificate can be given to clients as their trust anchor */
    SIGIL_ENSURE_GOTO(add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
                          add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyCertSign") &&
                          add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") &&
                          add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
                          add_ext(x, &ctx, NID_subject_alt_name, san),
                      SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(X509_sign(x, k, EVP_sha256()) > 0, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) == 1 && PEM_write_bio_X509(cb, x) == 1,
                      SIGIL_ERR_CRYPTO);
    char *kd = NULL, *cd = NULL;
    long kn = BIO_get_mem_data(kb, &kd);
    long cn = BIO_get_mem_data(cb, &cd);
    SIGIL_ENSURE_GOTO(kn > 0 && cn > 0, SIGIL_ERR_CRYPTO);
    SIGIL_GUARD_GOTO(sigil_write_file(key_path, kd, (size_t)kn, 0600, 1));
    SIGIL_GUARD_GOTO(sigil_write_file(cert_path, cd, (size_t)cn, 0644, 1));
    ret = sigil_ok();
out:
    EVP_PKEY_free(k);
    X509_free(x);
    X509_NAME_free(name);
    BIO_free(kb);
    BIO_free(cb);
    return ret;
}

sigil_result sigil_kmsd_init_data_dir(const char *dir, bool want_tls_cert, const char *listen_host, int print_fd)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return sigil_errorf(SIGIL_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    }
    struct sigil_kmsd_paths p;
    sigil_kmsd_paths(&p, dir);
    if (!exists(p.master_key)) {
        uint8_t *mk = sigil_secure_alloc(32);
        SIGIL_ENSURE(mk != NULL, SIGIL_ERR_NOMEM);
        sigil_result r =
            sigil_random_bytes(mk, 32) ? sigil_write_file(p.master_key, mk, 32, 0600, 1) : sigil_error(SIGIL_ERR_RNG);
        sigil_secure_free(mk);
        SIGIL_GUARD(r);
    }
    if (!exists(p.credentials)) {
        SIGIL_GUARD(make_credentials(p.credentials, print_fd));
    }
    if (!exists(p.root_cert)) {
        char *cert = NULL, *key = NULL;
        sigil_result r = sigil_attest_dev_root_new(&cert, &key);
        if (sigil_is_ok(r)) {
            r = sigil_write_file(p.root_key, key, strlen(key), 0600, 0);
        }
        if (sigil_is_ok(r)) {
            r = sigil_write_file(p.root_cert, cert, strlen(cert), 0644, 1);
        }
        free(cert);
        sigil_secure_free(key);
        SIGIL_GUARD(r);
    }
    if (want_tls_cert && !exists(p.tls_cert)) {
        SIGIL_GUARD(make_tls_cert(p.tls_cert, p.tls_key, listen_host));
        if (print_fd >= 0) {
            dprintf(print_fd, "sigil-kms: created TLS certificate %s (give it to clients as their CA)\n", p.tls_cert);
        }
    }
    return sigil_ok();
}

sigil_result sigil_kmsd_issue_enclave_cert(const char *data_dir, const char *out_dir, unsigned valid_s)
{
    struct sigil_kmsd_paths p;
    sigil_kmsd_paths(&p, data_dir);
    char *root = NULL, *root_key = NULL, *leaf = NULL, *leaf_key = NULL;
    size_t n = 0;
    char path[4200];
    sigil_result ret = sigil_read_file(&root, &n, p.root_cert, 64 * 1024);
    SIGIL_GUARD_GOTO(ret);
    SIGIL_GUARD_GOTO(sigil_read_file_secure(&root_key, &n, p.root_key, 64 * 1024));
    SIGIL_GUARD_GOTO(sigil_attest_dev_issue(&leaf, &leaf_key, root, root_key, valid_s));
    if (mkdir(out_dir, 0700) != 0 && errno != EEXIST) {
        ret = sigil_errorf(SIGIL_ERR_IO, "cannot create %s: %s", out_dir, strerror(errno));
        goto out;
    }
    snprintf(path, sizeof path, "%s/enclave-leaf.key", out_dir);
    SIGIL_GUARD_GOTO(sigil_write_file(path, leaf_key, strlen(leaf_key), 0600, 0));
    snprintf(path, sizeof path, "%s/enclave-leaf.pem", out_dir);
    SIGIL_GUARD_GOTO(sigil_write_file(path, leaf, strlen(leaf), 0644, 0));
    snprintf(path, sizeof path, "%s/enclave-chain.pem", out_dir);
    SIGIL_GUARD_GOTO(sigil_write_file(path, root, strlen(root), 0644, 0));
out:
    free(root);
    free(leaf);
    sigil_secure_free(root_key);
    sigil_secure_free(leaf_key);
    return ret;
}
