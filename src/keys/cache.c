/* The fast-load key cache (docs/key-cache.md): one file, a 112-byte header in the clear (and
 * authenticated), then AES-256-GCM over fixed-size records {SHA-256 of the keystore file, its
 * size, pubkey, secret key} sorted by (hash, size), then the 16-byte tag.
 *
 * root  = scrypt(password, kdf_salt, N, r, p)   or the 32-byte KEK
 * okm   = HKDF-SHA256(ikm = root, salt = file_salt, info = "sigil key cache v1"), 48 bytes
 * data key = okm[0..32), key check = okm[32..48) (stored in the header)
 *
 * A fresh file_salt and nonce on every write give a fresh data key per file, so the KEK or the
 * scrypt root can be reused across rewrites without ever repeating a (key, nonce) pair. */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/io.h"
#include "common/secmem.h"
#include "keys/internal.h"

#define MAGIC        "SIGILKC\n"
#define VERSION      1u
#define KDF_SCRYPT   1u
#define KDF_KEK      2u
#define HDR_LEN      112u
#define TAG_LEN      16u
#define NONCE_LEN    12u
#define CHECK_LEN    16u
#define REC_LEN      (KEYS_SHA_LEN + 8u + KEYS_PK_LEN + SIGIL_BLS_SK_LEN) /* 120 */
#define MAX_RECORDS  (1u << 20)
#define SAMPLE_CHECK 16u

/* scrypt for the cache root: 32 MiB and about 0.2 s here, paid once per boot. Cheaper than the
 * keystores' N = 2^18 (256 MiB) because the restart budget is 3 s and 64 MiB; the cache password
 * should therefore be a long random string (docs/key-cache.md). */
#define WRITE_LOG2_N 15u
#define WRITE_R      8u
#define WRITE_P      2u
/* What a reader accepts from a (not yet authenticated) header: at most 256 MiB of scrypt. */
#define MAX_SCRYPT_MEM (256ull << 20)

/* Header offsets. */
#define OFF_VERSION 8
#define OFF_KDF     12
#define OFF_KSALT   16
#define OFF_FSALT   48
#define OFF_NONCE   80
#define OFF_COUNT   92
#define OFF_CHECK   96

/* Record offsets. */
#define R_SHA  0
#define R_SIZE KEYS_SHA_LEN
#define R_PK   (R_SIZE + 8)
#define R_SK   (R_PK + KEYS_PK_LEN)

struct keys_cache {
    uint8_t *body; /* secure memory, n * REC_LEN, sorted by (sha, size) */
    size_t n;
};

/* The per-file secrets, in secure memory, wiped together. */
struct cache_scratch {
    uint8_t okm[32 + CHECK_LEN];
};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

const char *keys_cache_status_str(enum keys_cache_status st)
{
    switch (st) {
    case KEYS_CACHE_OK:
        return "ok";
    case KEYS_CACHE_ABSENT:
        return "no cache file";
    case KEYS_CACHE_UNREADABLE:
        return "cache file cannot be read";
    case KEYS_CACHE_FORMAT:
        return "not a Sigil key cache, or an unsupported version";
    case KEYS_CACHE_WRONG_KEY:
        return "wrong cache password or key-encryption key";
    case KEYS_CACHE_TAMPERED:
        return "cache failed authentication (modified or truncated)";
    case KEYS_CACHE_INCONSISTENT:
        return "cache content is inconsistent";
    case KEYS_CACHE_NOMEM:
        return "out of memory";
    }
    return "unknown";
}

static bool scrypt_root(struct keys_cache_key *key)
{
    uint64_t n = 1ull << key->log2_n, r = key->r, p = key->p;
    uint64_t maxmem = 128 * r * (n + 2) + 128 * r * p + 4096;
    return EVP_PBE_scrypt(key->password, key->password_len, key->kdf_salt, sizeof(key->kdf_salt), n, r, p, maxmem,
                          key->root, sizeof(key->root)) == 1;
}

static bool hkdf(struct cache_scratch *s, const uint8_t root[32], const uint8_t file_salt[32])
{
    static const char info[] = "sigil key cache v1";
    bool ok = false;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    if (ctx != NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)root, 32),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)file_salt, 32),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, sizeof(info) - 1),
            OSSL_PARAM_construct_end(),
        };
        ok = EVP_KDF_derive(ctx, s->okm, sizeof(s->okm), params) == 1;
    }
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return ok;
}

/* AES-256-GCM over the body with the header as associated data. Decrypting checks the tag;
 * callers must not use out unless this returns true. */
static bool gcm(bool enc, uint8_t *out, const uint8_t *in, size_t len, const uint8_t key[32], const uint8_t *hdr,
                uint8_t tag[TAG_LEN])
{
    bool ok = false;
    int l = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || len > (size_t)INT32_MAX) {
        goto out;
    }
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, hdr + OFF_NONCE, -1) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &l, hdr, HDR_LEN) != 1) {
        goto out;
    }
    if (len > 0 && EVP_CipherUpdate(ctx, out, &l, in, (int)len) != 1) {
        goto out;
    }
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1) {
        goto out;
    }
    if (EVP_CipherFinal_ex(ctx, out + len, &l) != 1) {
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1) {
        goto out;
    }
    ok = true;
out:
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return ok;
}

static int cmp_rec_key(const uint8_t *rec, const uint8_t sha[KEYS_SHA_LEN], uint64_t size)
{
    int c = memcmp(rec + R_SHA, sha, KEYS_SHA_LEN);
    if (c != 0) {
        return c;
    }
    uint64_t rs = get64(rec + R_SIZE);
    return rs < size ? -1 : rs > size ? 1 : 0;
}

/* The writer sorts; a reader relies on it for lookup, so it checks. */
static bool body_sorted(const struct keys_cache *c)
{
    for (size_t i = 1; i < c->n; i++) {
        const uint8_t *prev = c->body + (i - 1) * REC_LEN;
        const uint8_t *cur = c->body + i * REC_LEN;
        if (cmp_rec_key(prev, cur + R_SHA, get64(cur + R_SIZE)) >= 0) {
            return false;
        }
    }
    return true;
}

/* Public keys in the cache are authenticated, so the loader trusts them instead of paying
 * sk_to_pk for every key; a few random ones are still recomputed as a guard against a writer
 * bug ever producing a mislabelled key. */
static bool sample_ok(const struct keys_cache *c)
{
    size_t k = c->n < SAMPLE_CHECK ? c->n : SAMPLE_CHECK;
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof(*sk));
    if (sk == NULL) {
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < k && ok; i++) {
        uint32_t rnd = 0;
        size_t at = i;
        if (c->n > SAMPLE_CHECK && sigil_random_bytes(&rnd, sizeof(rnd))) {
            at = rnd % c->n;
        }
        const uint8_t *rec = c->body + at * REC_LEN;
        sigil_result r = sigil_bls_sk_from_bytes(sk, rec + R_SK);
        int valid = sigil_is_ok(r);
        sigil_declassify(&valid, sizeof(valid)); /* a refused cache is announced anyway */
        if (!valid) {
            ok = false;
            break;
        }
        sigil_bls_pk pk;
        uint8_t pkb[KEYS_PK_LEN];
        sigil_bls_sk_to_pk(&pk, sk);
        sigil_declassify(&pk, sizeof(pk));
        sigil_bls_pk_compress(pkb, &pk);
        ok = memcmp(pkb, rec + R_PK, KEYS_PK_LEN) == 0;
    }
    sigil_secure_free(sk);
    return ok;
}

enum keys_cache_status keys_cache_open(struct keys_cache **out, const char *path, struct keys_cache_key *key)
{
    enum keys_cache_status st = KEYS_CACHE_FORMAT;
    char *file = NULL;
    size_t len = 0;
    struct cache_scratch *s = NULL;
    struct keys_cache *c = NULL;
    struct stat sb;
    *out = NULL;
    key->have_root = false;
    const size_t max_len = HDR_LEN + (size_t)MAX_RECORDS * REC_LEN + TAG_LEN;
    if (stat(path, &sb) != 0) {
        return errno == ENOENT ? KEYS_CACHE_ABSENT : KEYS_CACHE_UNREADABLE;
    }
    if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > max_len) {
        return KEYS_CACHE_FORMAT; /* do not read a huge file only to refuse it */
    }
    if (!sigil_is_ok(sigil_read_file(&file, &len, path, max_len))) {
        return KEYS_CACHE_UNREADABLE;
    }
    const uint8_t *hdr = (const uint8_t *)file;
    if (len < HDR_LEN + TAG_LEN || memcmp(hdr, MAGIC, 8) != 0 || get32(hdr + OFF_VERSION) != VERSION) {
        goto out;
    }
    uint32_t count = get32(hdr + OFF_COUNT);
    if (count > MAX_RECORDS || len != HDR_LEN + (size_t)count * REC_LEN + TAG_LEN) {
        goto out;
    }
    uint8_t kdf = hdr[OFF_KDF];
    if (kdf != KDF_SCRYPT && kdf != KDF_KEK) {
        goto out;
    }
    if ((kdf == KDF_KEK) != key->kek_mode) {
        st = KEYS_CACHE_WRONG_KEY; /* written under the other kind of key */
        goto out;
    }
    if (kdf == KDF_SCRYPT) {
        uint8_t log2_n = hdr[OFF_KDF + 1], r = hdr[OFF_KDF + 2], p = hdr[OFF_KDF + 3];
        if (log2_n < 10 || log2_n > 20 || r == 0 || r > 32 || p == 0 || p > 16 ||
            128ull * r * (1ull << log2_n) > MAX_SCRYPT_MEM) {
            goto out;
        }
        key->log2_n = log2_n;
        key->r = r;
        key->p = p;
        memcpy(key->kdf_salt, hdr + OFF_KSALT, sizeof(key->kdf_salt));
        if (!scrypt_root(key)) {
            st = KEYS_CACHE_NOMEM;
            goto out;
        }
    }
    s = sigil_secure_alloc(sizeof(*s));
    if (s == NULL) {
        st = KEYS_CACHE_NOMEM;
        goto out;
    }
    if (!hkdf(s, key->root, hdr + OFF_FSALT)) {
        st = KEYS_CACHE_NOMEM;
        goto out;
    }
    if (!sigil_ct_memeq(s->okm + 32, hdr + OFF_CHECK, CHECK_LEN)) {
        st = KEYS_CACHE_WRONG_KEY;
        goto out;
    }
    key->have_root = true;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        st = KEYS_CACHE_NOMEM;
        goto out;
    }
    c->n = count;
    /* +1: sigil_secure_alloc(0) is NULL, and GCM's final call writes nothing but wants a
     * valid pointer. */
    c->body = sigil_secure_alloc((size_t)count * REC_LEN + 1);
    if (c->body == NULL) {
        st = KEYS_CACHE_NOMEM;
        goto out;
    }
    uint8_t tag[TAG_LEN];
    memcpy(tag, hdr + len - TAG_LEN, TAG_LEN);
    if (!gcm(false, c->body, hdr + HDR_LEN, (size_t)count * REC_LEN, s->okm, hdr, tag)) {
        st = KEYS_CACHE_TAMPERED;
        goto out;
    }
    if (!body_sorted(c) || !sample_ok(c)) {
        st = KEYS_CACHE_INCONSISTENT;
        goto out;
    }
    *out = c;
    c = NULL;
    st = KEYS_CACHE_OK;
out:
    if (st == KEYS_CACHE_WRONG_KEY || st == KEYS_CACHE_FORMAT || st == KEYS_CACHE_NOMEM) {
        key->have_root = false;
    }
    keys_cache_close(c);
    sigil_secure_free(s);
    free(file);
    return st;
}

size_t keys_cache_count(const struct keys_cache *c) { return c != NULL ? c->n : 0; }

bool keys_cache_lookup(const struct keys_cache *c, const uint8_t sha[KEYS_SHA_LEN], uint64_t size,
                       uint8_t pk[KEYS_PK_LEN], sigil_bls_sk *sk_out)
{
    if (c == NULL) {
        return false;
    }
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const uint8_t *rec = c->body + mid * REC_LEN;
        int cmp = cmp_rec_key(rec, sha, size);
        if (cmp == 0) {
            sigil_result r = sigil_bls_sk_from_bytes(sk_out, rec + R_SK);
            int valid = sigil_is_ok(r);
            sigil_declassify(&valid, sizeof(valid)); /* only "use the keystore instead" follows */
            if (!valid) {
                return false;
            }
            memcpy(pk, rec + R_PK, KEYS_PK_LEN);
            return true;
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

void keys_cache_close(struct keys_cache *c)
{
    if (c == NULL) {
        return;
    }
    sigil_secure_free(c->body);
    free(c);
}

/* The writer sorts an array of these (see keys_cache_write). */
typedef const struct keys_cache_entry *entry_ptr;

static int cmp_entry_ptr(const void *a, const void *b)
{
    entry_ptr x = *(const entry_ptr *)a;
    entry_ptr y = *(const entry_ptr *)b;
    int c = memcmp(x->sha, y->sha, KEYS_SHA_LEN);
    if (c != 0) {
        return c;
    }
    return x->size < y->size ? -1 : x->size > y->size ? 1 : 0;
}

sigil_result keys_cache_write(const char *path, struct keys_cache_key *key, const struct keys_cache_entry *e, size_t n)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    entry_ptr *order = NULL;
    struct cache_scratch *s = NULL;
    uint8_t *body = NULL, *file = NULL;
    size_t file_len = 0;
    SIGIL_ENSURE_GOTO(n <= MAX_RECORDS, SIGIL_ERR_TOO_LARGE);
    if (!key->have_root) {
        if (key->kek_mode) {
            /* the loader put the KEK into root */
        } else {
            key->log2_n = WRITE_LOG2_N;
            key->r = WRITE_R;
            key->p = WRITE_P;
            SIGIL_ENSURE_GOTO(sigil_random_bytes(key->kdf_salt, sizeof(key->kdf_salt)), SIGIL_ERR_RNG);
            SIGIL_ENSURE_GOTO(scrypt_root(key), SIGIL_ERR_CRYPTO);
        }
        key->have_root = true;
    }
    /* Sort pointers, not records: glibc's qsort may copy elements through a malloc'ed buffer,
     * which must never see a secret. */
    order = malloc((n ? n : 1) * sizeof(entry_ptr));
    SIGIL_ENSURE_GOTO(order != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        order[i] = &e[i];
    }
    qsort(order, n, sizeof(entry_ptr), cmp_entry_ptr);
    size_t m = 0;
    body = sigil_secure_alloc(n * REC_LEN + 1);
    s = sigil_secure_alloc(sizeof(*s));
    SIGIL_ENSURE_GOTO(body != NULL && s != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && cmp_entry_ptr(&order[i - 1], &order[i]) == 0) {
            continue; /* the same keystore content twice: one record serves both */
        }
        uint8_t *rec = body + m * REC_LEN;
        memcpy(rec + R_SHA, order[i]->sha, KEYS_SHA_LEN);
        put64(rec + R_SIZE, order[i]->size);
        memcpy(rec + R_PK, order[i]->pk, KEYS_PK_LEN);
        sigil_bls_sk_to_bytes(rec + R_SK, order[i]->sk);
        m++;
    }

    file_len = HDR_LEN + m * REC_LEN + TAG_LEN;
    file = calloc(1, file_len);
    SIGIL_ENSURE_GOTO(file != NULL, SIGIL_ERR_NOMEM);
    memcpy(file, MAGIC, 8);
    put32(file + OFF_VERSION, VERSION);
    if (key->kek_mode) {
        file[OFF_KDF] = KDF_KEK;
    } else {
        file[OFF_KDF] = KDF_SCRYPT;
        file[OFF_KDF + 1] = key->log2_n;
        file[OFF_KDF + 2] = key->r;
        file[OFF_KDF + 3] = key->p;
        memcpy(file + OFF_KSALT, key->kdf_salt, sizeof(key->kdf_salt));
    }
    SIGIL_ENSURE_GOTO(sigil_random_bytes(file + OFF_FSALT, 32), SIGIL_ERR_RNG);
    SIGIL_ENSURE_GOTO(sigil_random_bytes(file + OFF_NONCE, NONCE_LEN), SIGIL_ERR_RNG);
    put32(file + OFF_COUNT, (uint32_t)m);
    SIGIL_ENSURE_GOTO(hkdf(s, key->root, file + OFF_FSALT), SIGIL_ERR_CRYPTO);
    memcpy(file + OFF_CHECK, s->okm + 32, CHECK_LEN);
    SIGIL_ENSURE_GOTO(gcm(true, file + HDR_LEN, body, m * REC_LEN, s->okm, file, file + HDR_LEN + m * REC_LEN),
                      SIGIL_ERR_CRYPTO);
    sigil_declassify(file, file_len); /* ciphertext and tag are what the file publishes */
    SIGIL_GUARD_GOTO(sigil_write_file(path, file, file_len, 0600, 0));
    ret = sigil_ok();
out:
    sigil_secure_free(body);
    sigil_secure_free(s);
    free(file);
    free(order);
    return ret;
}
