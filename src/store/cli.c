/* `sigil keys import|generate`, `sigil tls new`, `sigil policy set`, `sigil status`: the operator
 * side of the enclave boot (docs/enclave.md). Import is where the keystore KDF is paid, once: each
 * EIP-2335 keystore (or, with --chain eth1, Web3 v3 keystore) is decrypted here, on the operator's
 * machine, sealed under one fresh KMS data key per batch, and only the ciphertext reaches the
 * store. Every plaintext (keystore password, secret key, data key, TLS private key) lives in
 * secure memory and is wiped before the command returns. */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/io.h"
#include "common/json.h"
#include "common/keydir.h"
#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/eip2335.h"
#include "crypto/envelope.h"
#include "eth1/secp256k1.h"
#include "kms/client.h"
#include "policy/policy.h"
#include "store/cli.h"
#include "store/creds.h"
#include "store/store.h"

enum { RC_OK = 0, RC_NO = 1, RC_BAD = 2 };

#define MAX_FILES     200000
#define SK_CT_LEN     (SIGIL_BLS_SK_LEN + SIGIL_ENVELOPE_OVERHEAD)
#define HTTP_MAX_BODY (4u << 20)

struct opt {
    const char *name;
    bool has_arg;
    const char **val;
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)fputs("sigil: ", stderr);
    (void)vfprintf(stderr, fmt, ap);
    (void)fputs(".\n", stderr);
    va_end(ap);
    return RC_BAD;
}

static int fail_r(const char *what, sigil_result r)
{
    const char *d = sigil_error_detail();
    (void)fprintf(stderr, "sigil: %s: %s%s%s.\n", what, sigil_strerror(r.code), *d ? ": " : "", d);
    return r.code == SIGIL_ERR_FORBIDDEN || r.code == SIGIL_ERR_UNAUTHORIZED ? RC_NO : RC_BAD;
}

/* Parses --name VALUE / --flag options; everything else is positional. */
static bool parse(int argc, char **argv, struct opt *o, size_t no, const char **pos, size_t max_pos, size_t *npos)
{
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            if (*npos >= max_pos) {
                (void)fail("too many arguments (at most %zu)", max_pos);
                return false;
            }
            pos[(*npos)++] = a;
            continue;
        }
        size_t k = 0;
        for (; k < no; k++) {
            if (strcmp(a + 2, o[k].name) == 0) {
                break;
            }
        }
        if (k == no) {
            (void)fail("unknown option '%s'", a);
            return false;
        }
        if (o[k].has_arg) {
            if (i + 1 >= argc) {
                (void)fail("option '%s' needs a value", a);
                return false;
            }
            *o[k].val = argv[++i];
        } else {
            *o[k].val = "1";
        }
    }
    return true;
}

/* ---------------- KMS ---------------- */

struct kms_ctx {
    struct sigil_kms_client *c;
    struct sigil_aws_creds creds;
};

static int kms_open(struct kms_ctx *k, const char *url, const char *ca, const char *creds_file, const char *region)
{
    memset(k, 0, sizeof *k);
    sigil_result r = sigil_aws_creds_load(&k->creds, creds_file);
    if (!sigil_is_ok(r)) {
        return fail_r("KMS credentials", r);
    }
    struct sigil_kms_config cfg = {.region = region != NULL ? region : "us-east-1", .endpoint = url, .ca_file = ca};
    struct sigil_kms_credentials cr = {k->creds.access_key_id, k->creds.secret, k->creds.secret_len,
                                       k->creds.session_token};
    r = sigil_kms_client_new(&k->c, &cfg, &cr);
    if (!sigil_is_ok(r)) {
        sigil_aws_creds_free(&k->creds);
        return fail_r("KMS client", r);
    }
    return RC_OK;
}

static void kms_close(struct kms_ctx *k)
{
    sigil_kms_client_free(k->c);
    sigil_aws_creds_free(&k->creds);
}

/* One GenerateDataKey (AES-256): *dk (32 bytes, secure memory) and its CiphertextBlob, stored
 * under a fresh id. */
static int new_data_key(struct kms_ctx *k, struct sigil_store *s, const char *key_id, uint8_t **dk, char id[32])
{
    uint8_t *blob = NULL;
    size_t blob_len = 0, dk_len = 0;
    struct sigil_kms_data_key_args a = {.key_id = key_id, .key_spec = "AES_256"};
    sigil_result r = sigil_kms_generate_data_key(k->c, &a, dk, &dk_len, &blob, &blob_len);
    if (!sigil_is_ok(r)) {
        return fail_r("KMS GenerateDataKey", r);
    }
    uint8_t rnd[8];
    if (dk_len != 32 || !sigil_random_bytes(rnd, sizeof rnd)) {
        free(blob);
        sigil_secure_free(*dk);
        *dk = NULL;
        return fail("KMS GenerateDataKey returned %zu bytes, or the random source failed", dk_len);
    }
    char hx[2 * sizeof rnd + 3];
    (void)snprintf(id, 32, "dk-%s", sigil_hex_encode(hx, rnd, sizeof rnd, 0));
    r = sigil_store_add_data_key(s, id, key_id, blob, blob_len);
    free(blob);
    if (!sigil_is_ok(r)) {
        sigil_secure_free(*dk);
        *dk = NULL;
        return fail_r("store the data key", r);
    }
    return RC_OK;
}

/* Both `keys import` and `tls new` seal secrets the same way: open the artifact store, open KMS,
 * start one store transaction, and get one fresh data key (plaintext in secure memory, its KMS
 * ciphertext recorded in the store). On failure the caller's cleanup (sealing_end) undoes what
 * was done; *kms_ok and *tx say how far it got. */
static int sealing_begin(struct sigil_store **s, struct kms_ctx *k, bool *kms_ok, bool *tx, uint8_t **dk,
                         char dk_id[32], const char *store_url, const char *kms, const char *ca, const char *creds,
                         const char *region, const char *key_id)
{
    sigil_result r = sigil_store_open(s, store_url);
    if (!sigil_is_ok(r)) {
        return fail_r("open the store", r);
    }
    int rc = kms_open(k, kms, ca, creds, region);
    if (rc != RC_OK) {
        return rc;
    }
    *kms_ok = true;
    r = sigil_store_begin(*s);
    if (!sigil_is_ok(r)) {
        return fail_r("store", r);
    }
    *tx = true;
    return new_data_key(k, *s, key_id, dk, dk_id);
}

/* Rolls back an unfinished transaction (tx), closes KMS (kms_ok) and the store; wipes dk if given. */
static void sealing_end(struct sigil_store *s, struct kms_ctx *k, bool kms_ok, bool tx, uint8_t *dk)
{
    if (tx) {
        sigil_store_rollback(s);
    }
    sigil_secure_free(dk);
    if (kms_ok) {
        kms_close(k);
    }
    sigil_store_close(s);
}

/* ---------------- keys import ---------------- */

_Static_assert(SIGIL_SECP256K1_SK_LEN == SIGIL_BLS_SK_LEN, "one envelope size for both chains");
_Static_assert(SIGIL_ETH1_KEYSTORE_MAX == SIGIL_EIP2335_MAX_JSON, "one keystore size limit for both chains");
#define KEYSTORE_JSON_MAX SIGIL_EIP2335_MAX_JSON

struct import_item {
    const char *path;
    uint8_t pubkey[SIGIL_BLS_PK_LEN]; /* eth2: the public key; eth1: the address in the first 20 bytes */
    uint8_t ct[SK_CT_LEN];
    sigil_result res;
    char detail[200];
};

struct import_job {
    struct import_item *items;
    size_t n;
    const uint8_t *dk;
    const char *password_file;
    const char *passwords_dir;
    bool eth1; /* Web3 v3 keystores, sealed as chain "eth1" under the address */
    atomic_size_t next;
    atomic_size_t done;
    atomic_bool stop;
};

/* NAME.json -> DIR/NAME.txt (passwords_dir) or NAME.txt next to it. */
static bool password_path(char *out, size_t cap, const char *ks, const char *passwords_dir)
{
    const char *base = strrchr(ks, '/');
    base = base != NULL ? base + 1 : ks;
    size_t stem = strlen(base);
    if (stem > 5 && strcmp(base + stem - 5, ".json") == 0) {
        stem -= 5;
    }
    int n;
    if (passwords_dir != NULL) {
        n = snprintf(out, cap, "%s/%.*s.txt", passwords_dir, (int)stem, base);
    } else {
        n = snprintf(out, cap, "%.*s%.*s.txt", (int)(base - ks), ks, (int)stem, base);
    }
    return n > 0 && (size_t)n < cap;
}

static sigil_result import_one(struct import_job *j, struct import_item *it)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    char *json = NULL, *pw = NULL;
    size_t json_len = 0, pw_len = 0, ct_len = 0;
    sigil_bls_sk *sk = NULL;
    uint8_t *skb = sigil_secure_alloc(SIGIL_BLS_SK_LEN);
    char pwpath[4096];
    SIGIL_ENSURE_GOTO(skb != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(sigil_read_file(&json, &json_len, it->path, KEYSTORE_JSON_MAX));
    if (j->password_file != NULL) {
        SIGIL_GUARD_GOTO(sigil_keydir_read_password_file(&pw, &pw_len, j->password_file));
    } else {
        if (!password_path(pwpath, sizeof pwpath, it->path, j->passwords_dir)) {
            ret = sigil_errorf(SIGIL_ERR_ARG, "path too long");
            goto out;
        }
        ret = sigil_keydir_read_password_file(&pw, &pw_len, pwpath);
        if (!sigil_is_ok(ret)) {
            ret = sigil_errorf(ret.code, "no password file %s (give --password-file or put NAME.txt next to NAME.json)",
                               pwpath);
            goto out;
        }
    }
    if (j->eth1) {
        sigil_secp256k1_sk *esk = NULL;
        ret = sigil_eth1_keystore_decrypt(&esk, json, json_len, pw, pw_len);
        if (sigil_is_ok(ret)) {
            ret = sigil_secp256k1_address(it->pubkey, esk);
        }
        if (sigil_is_ok(ret)) {
            sigil_secp256k1_sk_export(skb, esk);
            ret = sigil_envelope_seal(it->ct, sizeof it->ct, &ct_len, j->dk, SIGIL_ENVELOPE_LABEL_KEY, "eth1",
                                      it->pubkey, SIGIL_STORE_ADDRESS_LEN, skb, SIGIL_SECP256K1_SK_LEN);
        }
        sigil_secp256k1_sk_free(esk);
        SIGIL_GUARD_GOTO(ret);
        SIGIL_ENSURE_GOTO(ct_len == SK_CT_LEN, SIGIL_ERR_INTERNAL);
        goto out;
    }
    SIGIL_GUARD_GOTO(sigil_eip2335_decrypt(&sk, NULL, json, json_len, pw, pw_len));
    sigil_bls_pk pk;
    sigil_bls_sk_to_pk(&pk, sk);
    sigil_bls_pk_compress(it->pubkey, &pk);
    sigil_bls_sk_to_bytes(skb, sk);
    SIGIL_GUARD_GOTO(sigil_envelope_seal(it->ct, sizeof it->ct, &ct_len, j->dk, SIGIL_ENVELOPE_LABEL_KEY, "eth2",
                                         it->pubkey, sizeof it->pubkey, skb, SIGIL_BLS_SK_LEN));
    SIGIL_ENSURE_GOTO(ct_len == SK_CT_LEN, SIGIL_ERR_INTERNAL);
    ret = sigil_ok();
out:
    free(json);
    sigil_secure_free(pw);
    sigil_secure_free(sk);
    sigil_secure_free(skb);
    return ret;
}

static void *import_worker(void *arg)
{
    struct import_job *j = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n || atomic_load(&j->stop)) {
            break;
        }
        struct import_item *it = &j->items[i];
        sigil_error_clear();
        it->res = import_one(j, it);
        if (!sigil_is_ok(it->res)) {
            (void)snprintf(it->detail, sizeof it->detail, "%s", sigil_error_detail());
            atomic_store(&j->stop, true);
        }
        atomic_fetch_add(&j->done, 1);
    }
    return NULL;
}

static void progress(const char *what, size_t done, size_t total, bool tty)
{
    if (!tty && done != total) {
        return;
    }
    int width = 40, fill = total ? (int)((done * (size_t)width) / total) : width;
    (void)fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu", what, fill, "########################################",
                  width - fill, "", done, total);
    if (done == total) {
        (void)fputc('\n', stderr);
    }
}

static int cmd_import(int argc, char **argv)
{
    const char *kms = NULL, *key_id = NULL, *store_url = NULL, *ca = NULL, *creds = NULL, *pwfile = NULL, *pwdir = NULL,
               *region = NULL, *threads_s = NULL, *chain = NULL;
    struct opt o[] = {{"chain", true, &chain},
                      {"kms", true, &kms},
                      {"key-id", true, &key_id},
                      {"store", true, &store_url},
                      {"ca", true, &ca},
                      {"credentials", true, &creds},
                      {"password-file", true, &pwfile},
                      {"passwords-dir", true, &pwdir},
                      {"region", true, &region},
                      {"threads", true, &threads_s}};
    const char **files = calloc(MAX_FILES, sizeof *files);
    size_t nf = 0;
    if (files == NULL) {
        return fail("out of memory");
    }
    int rc = RC_BAD;
    struct import_item *items = NULL;
    struct sigil_store *s = NULL;
    struct kms_ctx k = {0};
    bool kms_ok = false, tx = false;
    uint8_t *dk = NULL;
    if (!parse(argc, argv, o, sizeof o / sizeof o[0], files, MAX_FILES, &nf)) {
        goto out;
    }
    if (kms == NULL || key_id == NULL || store_url == NULL || nf == 0) {
        rc = fail("usage: sigil keys import [--chain eth2|eth1] --kms URL --key-id ID --store URL [--ca F] "
                  "[--credentials F] [--password-file F | --passwords-dir D] FILES...");
        goto out;
    }
    if (chain != NULL && strcmp(chain, "eth1") != 0 && strcmp(chain, "eth2") != 0) {
        rc = fail("--chain must be eth2 (EIP-2335 validator keystores) or eth1 (Web3 v3 wallet keystores)");
        goto out;
    }
    bool eth1 = chain != NULL && strcmp(chain, "eth1") == 0;
    unsigned nthreads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads_s != NULL) {
        nthreads = (unsigned)strtoul(threads_s, NULL, 10);
    }
    if (nthreads == 0 || nthreads > 64) {
        nthreads = nthreads == 0 ? 1 : 64;
    }
    items = calloc(nf, sizeof *items);
    if (items == NULL) {
        rc = fail("out of memory");
        goto out;
    }
    for (size_t i = 0; i < nf; i++) {
        items[i].path = files[i];
    }
    char dk_id[32];
    sigil_result r;
    if ((rc = sealing_begin(&s, &k, &kms_ok, &tx, &dk, dk_id, store_url, kms, ca, creds, region, key_id)) != RC_OK) {
        goto out;
    }
    rc = RC_BAD;
    struct import_job job = {
        .items = items, .n = nf, .dk = dk, .password_file = pwfile, .passwords_dir = pwdir, .eth1 = eth1};
    pthread_t th[64];
    unsigned started = 0;
    for (; started < nthreads; started++) {
        if (pthread_create(&th[started], NULL, import_worker, &job) != 0) {
            break;
        }
    }
    if (started == 0) {
        import_worker(&job);
    }
    bool tty = isatty(STDERR_FILENO) != 0;
    while (started > 0 && atomic_load(&job.done) < nf && !atomic_load(&job.stop)) {
        progress("decrypting keystores", atomic_load(&job.done), nf, tty);
        struct timespec ts = {0, 100000000};
        (void)nanosleep(&ts, NULL);
    }
    for (unsigned i = 0; i < started; i++) {
        (void)pthread_join(th[i], NULL);
    }
    for (size_t i = 0; i < nf; i++) {
        if (atomic_load(&job.stop) && !sigil_is_ok(items[i].res) && items[i].res.code != SIGIL_OK) {
            if (items[i].res.code != SIGIL_ERR_INTERNAL || items[i].detail[0] != '\0') {
                (void)fprintf(stderr, "\nsigil: %s: %s%s%s; nothing was imported.\n", items[i].path,
                              sigil_strerror(items[i].res.code), items[i].detail[0] ? ": " : "", items[i].detail);
                goto out;
            }
        }
    }
    if (atomic_load(&job.stop)) {
        rc = fail("import stopped; nothing was imported");
        goto out;
    }
    progress("decrypting keystores", nf, nf, tty);
    size_t added = 0, dup = 0;
    for (size_t i = 0; i < nf; i++) {
        struct sigil_store_vkey v = {.chain = "eth2",
                                     .pubkey_len = eth1 ? SIGIL_STORE_ADDRESS_LEN : SIGIL_STORE_PUBKEY_LEN,
                                     .active = true,
                                     .ciphertext = items[i].ct,
                                     .ciphertext_len = SK_CT_LEN};
        (void)snprintf(v.chain, sizeof v.chain, "%s", eth1 ? "eth1" : "eth2");
        memcpy(v.pubkey, items[i].pubkey, sizeof v.pubkey);
        (void)snprintf(v.data_key_id, sizeof v.data_key_id, "%s", dk_id);
        r = sigil_store_add_vkey(s, &v);
        if (r.code == SIGIL_ERR_CONFLICT) {
            char hx[2 * SIGIL_BLS_PK_LEN + 3];
            (void)fprintf(stderr, "sigil: %s: %s is already in the store; skipped.\n", items[i].path,
                          sigil_hex_encode(hx, v.pubkey, v.pubkey_len, 1));
            dup++;
            continue;
        }
        if (!sigil_is_ok(r)) {
            rc = fail_r("store a validator key", r);
            goto out;
        }
        added++;
        if (tty && (added % 256 == 0 || i + 1 == nf)) {
            progress("storing ciphertexts", i + 1, nf, tty);
        }
    }
    r = sigil_store_commit(s);
    tx = false;
    if (!sigil_is_ok(r)) {
        rc = fail_r("commit the import", r);
        goto out;
    }
    (void)printf("imported %zu %s key%s (%zu already present) under data key %s (KMS key %s)\n", added,
                 eth1 ? "eth1 wallet" : "validator", added == 1 ? "" : "s", dup, dk_id, key_id);
    if (eth1) {
        for (size_t i = 0; i < nf; i++) {
            char hx[2 * SIGIL_STORE_ADDRESS_LEN + 3];
            (void)printf("  %s  %s\n", sigil_hex_encode(hx, items[i].pubkey, SIGIL_STORE_ADDRESS_LEN, 1),
                         items[i].path);
        }
    }
    rc = RC_OK;
out:
    if (items != NULL) {
        sigil_wipe(items, nf * sizeof *items); /* ciphertexts only, but no reason to keep them */
    }
    free(items);
    free(files);
    sealing_end(s, &k, kms_ok, tx, dk);
    return rc;
}

/* ---------------- tls new ---------------- */

static EVP_PKEY *p256_key(void) { return EVP_EC_gen("P-256"); }

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ex == NULL) {
        return false;
    }
    bool ok = X509_add_ext(cert, ex, -1) == 1;
    X509_EXTENSION_free(ex);
    return ok;
}

/* A certificate for key, signed by issuer_key (self-signed when issuer is NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, unsigned days,
                       const char *const *exts, size_t nexts)
{
    X509 *c = X509_new();
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    bool ok = c != NULL && sigil_random_bytes(serial, sizeof serial);
    if (ok) {
        serial[0] &= 0x7f;
        bn = BN_bin2bn(serial, sizeof serial, NULL);
        ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) != NULL;
    }
    ok = ok && X509_set_version(c, 2) == 1 && X509_gmtime_adj(X509_getm_notBefore(c), -300) != NULL &&
         X509_gmtime_adj(X509_getm_notAfter(c), (long)days * 86400L) != NULL && X509_set_pubkey(c, key) == 1;
    X509_NAME *name = ok ? X509_get_subject_name(c) : NULL;
    ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Sigil", -1, -1, 0) == 1 &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) == 1;
    ok = ok && X509_set_issuer_name(c, issuer != NULL ? X509_get_subject_name(issuer) : name) == 1;
    for (size_t i = 0; ok && i + 1 < nexts; i += 2) {
        ok = add_ext(c, issuer != NULL ? issuer : c, OBJ_txt2nid(exts[i]), exts[i + 1]);
    }
    ok = ok && X509_sign(c, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0;
    BN_free(bn);
    if (!ok) {
        X509_free(c);
        return NULL;
    }
    return c;
}

static char *cert_pem(X509 *c)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b != NULL && PEM_write_bio_X509(b, c) == 1) {
        char *p = NULL;
        long n = BIO_get_mem_data(b, &p);
        out = n > 0 ? strndup(p, (size_t)n) : NULL;
    }
    BIO_free(b);
    return out;
}

/* PKCS#8 PEM of key in secure memory; the BIO is OpenSSL's secure-heap memory BIO. */
static char *key_pem_secure(EVP_PKEY *key, size_t *len)
{
    BIO *b = BIO_new(BIO_s_secmem());
    char *out = NULL;
    if (b != NULL && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1) {
        char *p = NULL;
        long n = BIO_get_mem_data(b, &p);
        if (n > 0 && (out = sigil_secure_alloc((size_t)n + 1)) != NULL) {
            memcpy(out, p, (size_t)n);
            *len = (size_t)n;
        }
    }
    BIO_free(b);
    return out;
}

static bool write_out(const char *dir, const char *name, const char *data, size_t len, unsigned mode)
{
    char path[4096];
    (void)snprintf(path, sizeof path, "%s/%s", dir, name);
    (void)unlink(path);
    sigil_result r = sigil_write_file(path, data, len, mode, 1);
    if (!sigil_is_ok(r)) {
        (void)fail_r(path, r);
        return false;
    }
    return true;
}

/* The demo client CA, one client certificate and its key, into dir. The CA key is not kept. */
static int write_client_ca(const char *dir, unsigned days)
{
    int rc = RC_BAD;
    EVP_PKEY *ca_key = p256_key(), *cl_key = p256_key();
    X509 *ca = NULL, *cl = NULL;
    char *ca_pem = NULL, *cl_pem = NULL, *cl_key_pem = NULL;
    size_t kl = 0;
    static const char *const ca_ext[] = {"basicConstraints",
                                         "critical,CA:TRUE,pathlen:0",
                                         "keyUsage",
                                         "critical,keyCertSign,cRLSign",
                                         "subjectKeyIdentifier",
                                         "hash"};
    static const char *const cl_ext[] = {
        "basicConstraints", "critical,CA:FALSE",      "keyUsage", "critical,digitalSignature", "extendedKeyUsage",
        "clientAuth",       "authorityKeyIdentifier", "keyid"};
    if (ca_key == NULL || cl_key == NULL) {
        rc = fail("cannot generate P-256 keys");
        goto out;
    }
    ca = make_cert(ca_key, "Sigil demo client CA", NULL, NULL, days, ca_ext, 6);
    cl = ca != NULL ? make_cert(cl_key, "validator-client", ca, ca_key, days, cl_ext, 8) : NULL;
    ca_pem = ca != NULL ? cert_pem(ca) : NULL;
    cl_pem = cl != NULL ? cert_pem(cl) : NULL;
    cl_key_pem = key_pem_secure(cl_key, &kl);
    if (ca_pem == NULL || cl_pem == NULL || cl_key_pem == NULL) {
        rc = fail("cannot create the demo client certificates");
        goto out;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = fail("cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    if (write_out(dir, "client-ca.pem", ca_pem, strlen(ca_pem), 0644) &&
        write_out(dir, "client-cert.pem", cl_pem, strlen(cl_pem), 0644) &&
        write_out(dir, "client-key.pem", cl_key_pem, kl, 0600)) {
        rc = RC_OK;
    }
out:
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(cl_key);
    X509_free(ca);
    X509_free(cl);
    free(ca_pem);
    free(cl_pem);
    sigil_secure_free(cl_key_pem);
    return rc;
}

static int cmd_tls_new(int argc, char **argv)
{
    const char *kms = NULL, *key_id = NULL, *store_url = NULL, *ca = NULL, *creds = NULL, *cn = NULL, *ip = NULL,
               *days_s = NULL, *client_out = NULL, *region = NULL;
    struct opt o[] = {{"kms", true, &kms},      {"key-id", true, &key_id},     {"store", true, &store_url},
                      {"ca", true, &ca},        {"credentials", true, &creds}, {"cn", true, &cn},
                      {"ip", true, &ip},        {"days", true, &days_s},       {"client-ca-out", true, &client_out},
                      {"region", true, &region}};
    const char *pos[1];
    size_t np = 0;
    if (!parse(argc, argv, o, sizeof o / sizeof o[0], pos, 0, &np)) {
        return RC_BAD;
    }
    if (kms == NULL || key_id == NULL || store_url == NULL || cn == NULL) {
        return fail("usage: sigil tls new --kms URL --key-id ID --store URL --cn NAME [--ip A.B.C.D] [--days N] "
                    "[--client-ca-out DIR] [--ca F] [--credentials F]");
    }
    unsigned long days = days_s != NULL ? strtoul(days_s, NULL, 10) : 365;
    if (days == 0 || days > 3650) {
        return fail("--days must be 1..3650");
    }
    if (strlen(cn) > 64 || strpbrk(cn, ",= \t\n") != NULL || (ip != NULL && strpbrk(ip, ", \t\n") != NULL)) {
        return fail("--cn must be a host name (at most 64 characters) and --ip an address");
    }
    int rc = RC_BAD;
    struct sigil_store *s = NULL;
    struct kms_ctx k = {0};
    bool kms_ok = false, tx = false;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char *pem = NULL, *kpem = NULL;
    size_t kl = 0, ctl = 0;
    uint8_t *dk = NULL, *ct = NULL;
    char san[256];
    (void)snprintf(san, sizeof san, "DNS:%s,DNS:localhost,IP:%s%s", cn, ip != NULL ? ip : "127.0.0.1",
                   ip != NULL && strcmp(ip, "127.0.0.1") != 0 ? ",IP:127.0.0.1" : "");
    const char *ext[] = {"basicConstraints", "critical,CA:FALSE", "keyUsage",       "critical,digitalSignature",
                         "extendedKeyUsage", "serverAuth",        "subjectAltName", san};
    key = p256_key();
    cert = key != NULL ? make_cert(key, cn, NULL, NULL, (unsigned)days, ext, 8) : NULL;
    pem = cert != NULL ? cert_pem(cert) : NULL;
    kpem = key != NULL ? key_pem_secure(key, &kl) : NULL;
    uint8_t fp[32];
    unsigned fpl = 0;
    if (pem == NULL || kpem == NULL || X509_digest(cert, EVP_sha256(), fp, &fpl) != 1 || fpl != 32) {
        rc = fail("cannot create the TLS key and certificate");
        goto out;
    }
    char dk_id[32];
    sigil_result r;
    if ((rc = sealing_begin(&s, &k, &kms_ok, &tx, &dk, dk_id, store_url, kms, ca, creds, region, key_id)) != RC_OK) {
        goto out;
    }
    rc = RC_BAD;
    ct = malloc(kl + SIGIL_ENVELOPE_OVERHEAD);
    r = ct != NULL ? sigil_envelope_seal(ct, kl + SIGIL_ENVELOPE_OVERHEAD, &ctl, dk, SIGIL_ENVELOPE_LABEL_TLS, "", fp,
                                         sizeof fp, (const uint8_t *)kpem, kl)
                   : sigil_error(SIGIL_ERR_NOMEM);
    if (!sigil_is_ok(r)) {
        rc = fail_r("seal the TLS key", r);
        goto out;
    }
    struct sigil_store_tls_key t = {.cert_pem = pem, .active = true, .key_ciphertext = ct, .key_ciphertext_len = ctl};
    char hx[2 * 8 + 3];
    (void)snprintf(t.id, sizeof t.id, "tls-%s", sigil_hex_encode(hx, fp, 8, 0));
    (void)snprintf(t.data_key_id, sizeof t.data_key_id, "%s", dk_id);
    r = sigil_store_add_tls_key(s, &t);
    if (r.code == SIGIL_OK) {
        r = sigil_store_commit(s);
        tx = false;
    }
    if (!sigil_is_ok(r)) {
        rc = fail_r("store the TLS key", r);
        goto out;
    }
    if (client_out != NULL) {
        if ((rc = write_client_ca(client_out, (unsigned)days)) != RC_OK) {
            goto out;
        }
        if (!write_out(client_out, "server-cert.pem", pem, strlen(pem), 0644)) {
            rc = RC_BAD;
            goto out;
        }
    }
    char fph[2 * 32 + 3];
    (void)printf("stored TLS key %s (P-256, CN=%s, SAN %s, %lu days); certificate SHA-256 %s\n", t.id, cn, san, days,
                 sigil_hex_encode(fph, fp, sizeof fp, 0));
    if (client_out != NULL) {
        (void)printf("wrote %s/server-cert.pem, client-ca.pem, client-cert.pem, client-key.pem\n", client_out);
    }
    rc = RC_OK;
out:
    EVP_PKEY_free(key);
    X509_free(cert);
    free(pem);
    free(ct);
    sigil_secure_free(kpem);
    sealing_end(s, &k, kms_ok, tx, dk);
    return rc;
}

/* ---------------- the host status API ---------------- */

struct buf {
    char *p;
    size_t n;
};

static size_t on_body(char *d, size_t sz, size_t nm, void *ud)
{
    struct buf *b = ud;
    size_t n = sz * nm;
    if (b->n + n > HTTP_MAX_BODY) {
        return 0;
    }
    char *np = realloc(b->p, b->n + n + 1);
    if (np == NULL) {
        return 0;
    }
    memcpy(np + b->n, d, n);
    b->p = np;
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

/* GET (body NULL) or POST JSON to host + path. host is http://HOST:PORT or unix:/path. */
static int host_call(const char *host, const char *path, const char *body, long timeout_s, long *status,
                     struct buf *out)
{
    if (host == NULL) {
        return fail("no sigil-host URL");
    }
    CURL *h = curl_easy_init();
    if (h == NULL) {
        return fail("cannot initialise libcurl");
    }
    char url[1024];
    bool unix_sock = strncmp(host, "unix:", 5) == 0;
    if (unix_sock) {
        (void)snprintf(url, sizeof url, "http://localhost%s", path);
    } else {
        size_t hl = strlen(host);
        while (hl > 0 && host[hl - 1] == '/') {
            hl--;
        }
        (void)snprintf(url, sizeof url, "%.*s%s", (int)hl, host, path);
    }
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    bool ok = hdr != NULL && curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http") == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_WRITEDATA, out) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr) == CURLE_OK &&
              (!unix_sock || curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, host + 5) == CURLE_OK) &&
              (body == NULL || curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) == CURLE_OK);
    CURLcode cc = ok ? curl_easy_perform(h) : CURLE_FAILED_INIT;
    (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK) {
        return fail("cannot reach sigil-host at %s: %s", host, curl_easy_strerror(cc));
    }
    return RC_OK;
}

static int cmd_status(int argc, char **argv)
{
    const char *host = NULL, *as_json = NULL;
    struct opt o[] = {{"host", true, &host}, {"json", false, &as_json}};
    const char *pos[1];
    size_t np = 0;
    if (!parse(argc, argv, o, 2, pos, 0, &np)) {
        return RC_BAD;
    }
    if (host == NULL) {
        host = getenv("SIGIL_HOST_URL") != NULL ? getenv("SIGIL_HOST_URL") : SIGIL_HOST_DEFAULT_STATUS_URL;
    }
    struct buf b = {0};
    long status = 0;
    int rc = host_call(host, "/status", NULL, 10, &status, &b);
    if (rc != RC_OK) {
        free(b.p);
        return rc;
    }
    json_t *j = NULL;
    if (status != 200 || !sigil_is_ok(sigil_json_parse(&j, b.p != NULL ? b.p : "", b.n, HTTP_MAX_BODY)) ||
        !json_is_object(j)) {
        rc = fail("sigil-host answered HTTP %ld without a status object", status);
        json_decref(j);
        free(b.p);
        return rc;
    }
    const char *state = json_string_value(json_object_get(j, "state"));
    if (as_json != NULL) {
        (void)puts(b.p);
    } else {
        const char *keys[] = {"state",  "launcher",    "pcr0",     "keys_loaded", "eth1_keys", "wallet",
                              "policy", "policy_hash", "restarts", "uptime_s",    "last_error"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            json_t *v = json_object_get(j, keys[i]);
            char *t = v != NULL ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
            const char *sv = json_string_value(v);
            (void)printf("%-12s %s\n", keys[i], sv != NULL ? sv : t != NULL ? t : "null");
            free(t);
        }
        json_t *au = json_object_get(j, "audit");
        if (json_is_object(au)) {
            const char *signer = json_string_value(json_object_get(au, "signer"));
            (void)printf(
                "%-12s %s (%lld lines stored by this host; audit key %s, next seq %lld)\n", "audit_log",
                json_string_value(json_object_get(au, "log")) != NULL ? json_string_value(json_object_get(au, "log"))
                                                                      : "?",
                (long long)json_integer_value(json_object_get(au, "lines_stored")), signer != NULL ? signer : "none",
                (long long)json_integer_value(json_object_get(au, "next_seq")));
        }
    }
    rc = state != NULL && strcmp(state, "READY") == 0 ? RC_OK : RC_NO;
    json_decref(j);
    free(b.p);
    return rc;
}

/* POSTs REQ (taken over; NULL counts as out of memory) to sigil-host's /keygen, which makes keys
 * inside sigild, and parses the answer into *j (the caller frees it, whatever is returned).
 * Anything but HTTP 200 with a JSON body is an error naming the status and sigild's message. */
static int keygen_call(const char *host, json_t *req, json_t **j)
{
    char *body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (body == NULL) {
        return fail("out of memory");
    }
    struct buf b = {0};
    long status = 0;
    int rc = host_call(host, "/keygen", body, 300, &status, &b);
    free(body);
    if (rc == RC_OK && !sigil_is_ok(sigil_json_parse(j, b.p != NULL ? b.p : "", b.n, HTTP_MAX_BODY))) {
        rc = fail("sigil-host answered HTTP %ld with something that is not JSON", status);
    }
    if (rc == RC_OK && status != 200) {
        const char *m = json_string_value(json_object_get(*j, "message"));
        rc = fail("in-enclave key generation failed (HTTP %ld): %s", status, m != NULL ? m : "no message");
    }
    free(b.p);
    return rc;
}

/* `sigil keys generate --chain eth1 --count N [--host URL]`: secp256k1 wallet keys made inside
 * sigild; the host stores their envelopes, the operator gets the addresses. */
static int generate_eth1(const char *count_s, const char *host)
{
    uint64_t count = 0;
    if (count_s == NULL || !sigil_is_ok(sigil_parse_u64(&count, count_s, strlen(count_s))) || count == 0 ||
        count > 100) {
        return fail("--count must be 1..100");
    }
    json_t *req = json_pack("{s:I,s:s}", "count", (json_int_t)count, "chain", "eth1");
    json_t *j = NULL;
    int rc = keygen_call(host, req, &j);
    json_t *addrs = rc == RC_OK ? json_object_get(j, "addresses") : NULL;
    if (rc == RC_OK && !json_is_array(addrs)) {
        rc = fail("sigil-host's answer has no addresses array");
    }
    for (size_t i = 0; rc == RC_OK && i < json_array_size(addrs); i++) {
        const char *a = json_string_value(json_array_get(addrs, i));
        (void)printf("%s\n", a != NULL ? a : "?");
    }
    if (rc == RC_OK) {
        (void)fprintf(stderr, "generated %zu eth1 key%s inside sigild; only their envelopes reached the store\n",
                      json_array_size(addrs), json_array_size(addrs) == 1 ? "" : "s");
    }
    json_decref(j);
    return rc;
}

static int cmd_generate(int argc, char **argv)
{
    const char *in_enclave = NULL, *count_s = NULL, *network = NULL, *wa = NULL, *host = NULL, *out = NULL,
               *chain = NULL;
    struct opt o[] = {{"in-enclave", false, &in_enclave},
                      {"count", true, &count_s},
                      {"network", true, &network},
                      {"withdrawal-address", true, &wa},
                      {"host", true, &host},
                      {"out", true, &out},
                      {"chain", true, &chain}};
    const char *pos[1];
    size_t np = 0;
    if (!parse(argc, argv, o, sizeof o / sizeof o[0], pos, 0, &np)) {
        return RC_BAD;
    }
    if (host == NULL) {
        host = getenv("SIGIL_HOST_URL") != NULL ? getenv("SIGIL_HOST_URL") : SIGIL_HOST_DEFAULT_STATUS_URL;
    }
    if (chain != NULL && strcmp(chain, "eth1") == 0) {
        if (network != NULL || wa != NULL || out != NULL) {
            return fail("--chain eth1 takes no --network, --withdrawal-address or --out (wallet keys have no deposit)");
        }
        return generate_eth1(count_s, host); /* always inside sigild: there is no other eth1 keygen here */
    }
    if (chain != NULL && strcmp(chain, "eth2") != 0) {
        return fail("--chain must be eth2 or eth1");
    }
    if (in_enclave == NULL || count_s == NULL || network == NULL || wa == NULL) {
        return fail("usage: sigil keys generate --in-enclave --count N --network NAME --withdrawal-address 0x.. "
                    "[--host URL] [--out FILE], or sigil keys generate --chain eth1 --count N [--host URL]");
    }
    uint8_t addr[20];
    uint64_t count = 0;
    if (!sigil_is_ok(sigil_parse_u64(&count, count_s, strlen(count_s))) || count == 0 || count > 1000) {
        return fail("--count must be 1..1000");
    }
    if (!sigil_is_ok(sigil_hex_decode_exact(addr, sizeof addr, wa, strlen(wa)))) {
        return fail("--withdrawal-address must be 20 bytes of hex");
    }
    json_t *req = json_pack("{s:I,s:s,s:s,s:s}", "count", (json_int_t)count, "chain", "eth2", "network", network,
                            "withdrawal_address", wa);
    json_t *j = NULL;
    int rc = keygen_call(host, req, &j);
    json_t *dd = rc == RC_OK ? json_object_get(j, "deposit_data") : NULL;
    if (rc == RC_OK && !json_is_array(dd)) {
        rc = fail("sigil-host's answer has no deposit_data array");
    }
    if (rc == RC_OK) {
        char defname[64];
        if (out == NULL) {
            (void)snprintf(defname, sizeof defname, "deposit_data-%lld.json", (long long)time(NULL));
            out = defname;
        }
        char *text = json_dumps(dd, JSON_INDENT(4));
        sigil_result r =
            text != NULL ? sigil_write_file(out, text, strlen(text), 0644, 1) : sigil_error(SIGIL_ERR_NOMEM);
        free(text);
        if (!sigil_is_ok(r)) {
            rc = fail_r(out, r);
        } else {
            (void)printf("generated %zu key%s inside sigild; deposit data written to %s\n", json_array_size(dd),
                         json_array_size(dd) == 1 ? "" : "s", out);
        }
    }
    json_decref(j);
    return rc;
}

/* `sigil policy set FILE --store URL` / `sigil policy set --none --store URL`: the rules file
 * sigil-host sends to sigild in INIT (service.policy). The file is checked with the policy
 * engine's own strict parser first, so a typo fails here and not at the enclave's next boot. */
static int cmd_policy_set(int argc, char **argv)
{
    const char *store_url = NULL, *none = NULL;
    struct opt o[] = {{"store", true, &store_url}, {"none", false, &none}};
    const char *pos[1];
    size_t np = 0;
    if (!parse(argc, argv, o, sizeof o / sizeof o[0], pos, 1, &np)) {
        return RC_BAD;
    }
    if (store_url == NULL || (np == 1) == (none != NULL)) {
        return fail("usage: sigil policy set FILE --store URL, or sigil policy set --none --store URL");
    }
    struct sigil_store *s = NULL;
    char *text = NULL;
    size_t len = 0;
    struct sigil_policy *pol = NULL;
    int rc = RC_BAD;
    sigil_result r;
    if (np == 1) {
        r = sigil_read_file(&text, &len, pos[0], SIGIL_POLICY_MAX_FILE);
        if (!sigil_is_ok(r)) {
            rc = fail_r(pos[0], r);
            goto out;
        }
        r = sigil_policy_parse(&pol, text, len);
        if (!sigil_is_ok(r)) {
            rc = fail_r(pos[0], r);
            goto out;
        }
    }
    r = sigil_store_open(&s, store_url);
    if (!sigil_is_ok(r)) {
        rc = fail_r("open the store", r);
        goto out;
    }
    uint8_t h[32];
    r = np == 1 ? sigil_store_set_policy(s, text, len, h) : sigil_store_clear_policy(s);
    if (!sigil_is_ok(r)) {
        rc = fail_r("store the policy", r);
        goto out;
    }
    if (np == 1) {
        char hx[2 * 32 + 3];
        (void)printf("policy %s stored and active (sigil-host sends it at sigild's next start)\n",
                     sigil_hex_encode(hx, h, sizeof h, 1));
    } else {
        (void)printf("no policy active: sigild runs the built-in default at its next start\n");
    }
    rc = RC_OK;
out:
    sigil_policy_free(pol);
    free(text);
    sigil_store_close(s);
    return rc;
}

int sigil_store_cli(int argc, char **argv)
{
    if (argc < 1) {
        return fail("expected keys, tls or status");
    }
    const char *cmd = argv[0], *sub = argc > 1 ? argv[1] : "";
    if (strcmp(cmd, "status") == 0) {
        return cmd_status(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "keys") == 0 && strcmp(sub, "import") == 0) {
        return cmd_import(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "keys") == 0 && strcmp(sub, "generate") == 0) {
        return cmd_generate(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "tls") == 0 && strcmp(sub, "new") == 0) {
        return cmd_tls_new(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "policy") == 0 && strcmp(sub, "set") == 0) {
        return cmd_policy_set(argc - 2, argv + 2);
    }
    return fail("unknown command '%s %s' (expected keys import, keys generate, tls new, policy set or status)", cmd,
                sub);
}
