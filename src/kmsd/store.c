/* The sigil-kms key store: SQLite rows of public metadata plus key material wrapped with
 * AES-256-GCM under DATA_DIR/master.key.
 *
 * master.key is the stand-in for an HSM: AWS KMS keeps key material inside FIPS-validated
 * HSMs that never export it, whereas here anyone who can read DATA_DIR/master.key (0600) and
 * kms.db can recover every key. sigil-kms is a development and single-host stand-in; the
 * security of a real deployment comes from AWS KMS, not from this file. */
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/io.h"
#include "common/secmem.h"
#include "kmsd/kmsd.h"

#define MASTER_LEN   32
#define WRAP_LEN     (12 + 32 + 16)
#define BLOB_VERSION 0x01
#define BLOB_HDR     (1 + SIGIL_KMSD_KEY_ID_LEN)
#define BLOB_MIN     (BLOB_HDR + 12 + 16)

struct sigil_kmsd_store {
    sqlite3 *db;
    uint8_t *master; /* secure memory */
    char region[64];
};

void sigil_kmsd_key_clear(struct sigil_kmsd_key *k)
{
    if (k == NULL) {
        return;
    }
    free(k->policy);
    free(k->description);
    memset(k, 0, sizeof *k);
}

/* AES-256-GCM; out = nonce | ct | tag. */
static sigil_result gcm_seal(uint8_t *out, const uint8_t key[32], const uint8_t *aad, size_t aad_len,
                             const uint8_t *plain, size_t n)
{
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0;
    SIGIL_ENSURE(c != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(sigil_random_bytes(out, 12), SIGIL_ERR_RNG);
    SIGIL_ENSURE_GOTO(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, out) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(aad_len == 0 || EVP_EncryptUpdate(c, NULL, &l, aad, (int)aad_len) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_EncryptUpdate(c, out + 12, &l, plain, (int)n) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_EncryptFinal_ex(c, out + 12 + l, &l) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + n) == 1, SIGIL_ERR_CRYPTO);
    ret = sigil_ok();
out:
    EVP_CIPHER_CTX_free(c);
    return ret;
}

/* Opens nonce|ct|tag (in_len >= 28) into plain (in_len - 28 bytes). SIGIL_ERR_CRYPTO on any failure. */
static sigil_result gcm_open(uint8_t *plain, const uint8_t key[32], const uint8_t *aad, size_t aad_len,
                             const uint8_t *in, size_t in_len)
{
    if (in_len < 28) {
        return sigil_error(SIGIL_ERR_CRYPTO);
    }
    size_t n = in_len - 28;
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0;
    SIGIL_ENSURE(c != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(aad_len == 0 || EVP_DecryptUpdate(c, NULL, &l, aad, (int)aad_len) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(n == 0 || EVP_DecryptUpdate(c, plain, &l, in + 12, (int)n) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + 12 + n)) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_DecryptFinal_ex(c, plain + l, &l) == 1, SIGIL_ERR_CRYPTO);
    ret = sigil_ok();
out:
    EVP_CIPHER_CTX_free(c);
    if (!sigil_is_ok(ret)) {
        sigil_wipe(plain, n);
    }
    return ret;
}

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS keys(id TEXT PRIMARY KEY, arn TEXT NOT NULL,"
                             " created INTEGER NOT NULL, state TEXT NOT NULL, description TEXT,"
                             " policy TEXT NOT NULL, material BLOB NOT NULL);"
                             "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER);"
                             "INSERT INTO schema_version SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM schema_version);";

sigil_result sigil_kmsd_store_open(struct sigil_kmsd_store **out, const char *data_dir, const char *region)
{
    *out = NULL;
    struct sigil_kmsd_paths p;
    sigil_kmsd_paths(&p, data_dir);
    sigil_result ret = sigil_ok();
    char *mk = NULL;
    size_t mk_len = 0;
    struct sigil_kmsd_store *s = calloc(1, sizeof *s);
    SIGIL_ENSURE(s != NULL, SIGIL_ERR_NOMEM);
    snprintf(s->region, sizeof s->region, "%s", region);
    SIGIL_GUARD_GOTO(sigil_read_file_secure(&mk, &mk_len, p.master_key, 4096));
    if (mk_len != MASTER_LEN) {
        ret = sigil_errorf(SIGIL_ERR_CONFIG, "sigil-kms: %s must hold exactly 32 bytes", p.master_key);
        goto out;
    }
    s->master = (uint8_t *)mk;
    mk = NULL;
    if (sqlite3_open_v2(p.db, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
        ret = sigil_errorf(SIGIL_ERR_DB, "sigil-kms: cannot open %s: %s", p.db,
                           s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    *out = s;
    s = NULL;
out:
    sigil_secure_free(mk);
    sigil_kmsd_store_close(s);
    return ret;
}

void sigil_kmsd_store_close(struct sigil_kmsd_store *s)
{
    if (s == NULL) {
        return;
    }
    sqlite3_close(s->db);
    sigil_secure_free(s->master);
    free(s);
}

static sigil_result new_uuid(char out[SIGIL_KMSD_KEY_ID_LEN + 1])
{
    uint8_t b[16];
    SIGIL_ENSURE(sigil_random_bytes(b, sizeof b), SIGIL_ERR_RNG);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, SIGIL_KMSD_KEY_ID_LEN + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return sigil_ok();
}

sigil_result sigil_kmsd_store_create(struct sigil_kmsd_store *s, const char *description, const char *policy,
                                     struct sigil_kmsd_key *out)
{
    memset(out, 0, sizeof *out);
    sigil_result ret = sigil_ok();
    sqlite3_stmt *st = NULL;
    uint8_t wrapped[WRAP_LEN];
    uint8_t *material = sigil_secure_alloc(32);
    SIGIL_ENSURE(material != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(new_uuid(out->id));
    snprintf(out->arn, sizeof out->arn, "arn:aws:kms:%s:%s:key/%s", s->region, SIGIL_KMSD_ACCOUNT, out->id);
    out->created = (int64_t)time(NULL);
    snprintf(out->state, sizeof out->state, "Enabled");
    out->policy = strdup(policy != NULL ? policy : sigil_kmsd_default_policy());
    out->description = strdup(description != NULL ? description : "");
    SIGIL_ENSURE_GOTO(out->policy != NULL && out->description != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(sigil_random_bytes(material, 32), SIGIL_ERR_RNG);
    /* the key id is the AAD: a wrapped row moved onto another id does not open */
    SIGIL_GUARD_GOTO(gcm_seal(wrapped, s->master, (const uint8_t *)out->id, SIGIL_KMSD_KEY_ID_LEN, material, 32));
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO keys(id, arn, created, state, description, policy, material)"
                           " VALUES(?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, out->id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, out->arn, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, out->created) != SQLITE_OK ||
        sqlite3_bind_text(st, 4, out->state, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 5, out->description, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 6, out->policy, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 7, wrapped, WRAP_LEN, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        ret = sigil_errorf(SIGIL_ERR_DB, "sigil-kms: cannot store the key: %s", sqlite3_errmsg(s->db));
    }
out:
    sqlite3_finalize(st);
    sigil_secure_free(material);
    if (!sigil_is_ok(ret)) {
        sigil_kmsd_key_clear(out);
    }
    return ret;
}

/* Accepts a bare key id or this store's key ARN; returns the id part or NULL. */
static const char *id_of(const struct sigil_kmsd_store *s, const char *key_id)
{
    char prefix[160];
    snprintf(prefix, sizeof prefix, "arn:aws:kms:%s:%s:key/", s->region, SIGIL_KMSD_ACCOUNT);
    const char *id = key_id;
    if (strncmp(key_id, prefix, strlen(prefix)) == 0) {
        id = key_id + strlen(prefix);
    }
    return strlen(id) == SIGIL_KMSD_KEY_ID_LEN ? id : NULL;
}

/* Reads the row; with material != NULL also unwraps the key material into it (32 bytes). */
static sigil_result load(struct sigil_kmsd_store *s, const char *key_id, struct sigil_kmsd_key *out, uint8_t *material)
{
    memset(out, 0, sizeof *out);
    const char *id = id_of(s, key_id);
    if (id == NULL) {
        return sigil_errorf(SIGIL_ERR_NOT_FOUND, "Invalid keyId");
    }
    sqlite3_stmt *st = NULL;
    sigil_result ret = sigil_ok();
    if (sqlite3_prepare_v2(s->db, "SELECT id, arn, created, state, description, policy, material FROM keys WHERE id=?",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK) {
        ret = sigil_errorf(SIGIL_ERR_DB, "sigil-kms: key lookup failed: %s", sqlite3_errmsg(s->db));
        goto out;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        ret = sigil_errorf(SIGIL_ERR_NOT_FOUND, "Key '%s' does not exist", key_id);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        ret = sigil_errorf(SIGIL_ERR_DB, "sigil-kms: key lookup failed: %s", sqlite3_errmsg(s->db));
        goto out;
    }
    snprintf(out->id, sizeof out->id, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(out->arn, sizeof out->arn, "%s", (const char *)sqlite3_column_text(st, 1));
    out->created = sqlite3_column_int64(st, 2);
    snprintf(out->state, sizeof out->state, "%s", (const char *)sqlite3_column_text(st, 3));
    const unsigned char *d = sqlite3_column_text(st, 4);
    out->description = strdup(d != NULL ? (const char *)d : "");
    const unsigned char *pol = sqlite3_column_text(st, 5);
    out->policy = strdup(pol != NULL ? (const char *)pol : sigil_kmsd_default_policy());
    SIGIL_ENSURE_GOTO(out->policy != NULL && out->description != NULL, SIGIL_ERR_NOMEM);
    if (material != NULL) {
        const void *w = sqlite3_column_blob(st, 6);
        if (w == NULL || sqlite3_column_bytes(st, 6) != WRAP_LEN) {
            ret = sigil_errorf(SIGIL_ERR_DB, "sigil-kms: key %s has corrupt material", out->id);
            goto out;
        }
        ret = gcm_open(material, s->master, (const uint8_t *)out->id, SIGIL_KMSD_KEY_ID_LEN, w, WRAP_LEN);
        if (!sigil_is_ok(ret)) {
            ret = sigil_errorf(SIGIL_ERR_DB, "sigil-kms: key %s does not open under master.key", out->id);
        }
    }
out:
    sqlite3_finalize(st);
    if (!sigil_is_ok(ret)) {
        sigil_kmsd_key_clear(out);
    }
    return ret;
}

sigil_result sigil_kmsd_store_get(struct sigil_kmsd_store *s, const char *key_id, struct sigil_kmsd_key *out)
{
    return load(s, key_id, out, NULL);
}

sigil_result sigil_kmsd_store_set_policy(struct sigil_kmsd_store *s, const char *id, const char *policy)
{
    sqlite3_stmt *st = NULL;
    sigil_result ret = sigil_ok();
    if (sqlite3_prepare_v2(s->db, "UPDATE keys SET policy=? WHERE id=?", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, policy, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        ret = sigil_errorf(SIGIL_ERR_DB, "sigil-kms: cannot store the policy: %s", sqlite3_errmsg(s->db));
    } else if (sqlite3_changes(s->db) != 1) {
        ret = sigil_errorf(SIGIL_ERR_NOT_FOUND, "Key '%s' does not exist", id);
    }
    sqlite3_finalize(st);
    return ret;
}

/* AAD = blob header || canonical context, assembled in one heap buffer (both are public). */
static uint8_t *make_aad(const uint8_t hdr[BLOB_HDR], const char *ctx, size_t ctx_len, size_t *len)
{
    uint8_t *a = malloc(BLOB_HDR + ctx_len);
    if (a != NULL) {
        memcpy(a, hdr, BLOB_HDR);
        if (ctx_len > 0) {
            memcpy(a + BLOB_HDR, ctx, ctx_len);
        }
        *len = BLOB_HDR + ctx_len;
    }
    return a;
}

sigil_result sigil_kmsd_store_encrypt(struct sigil_kmsd_store *s, const char *key_id, const uint8_t *plain,
                                      size_t plain_len, const char *ctx, size_t ctx_len, uint8_t **blob,
                                      size_t *blob_len)
{
    *blob = NULL;
    *blob_len = 0;
    struct sigil_kmsd_key k;
    sigil_result ret;
    uint8_t *aad = NULL;
    uint8_t *out = NULL;
    size_t aad_len = 0;
    uint8_t *material = sigil_secure_alloc(32);
    SIGIL_ENSURE(material != NULL, SIGIL_ERR_NOMEM);
    ret = load(s, key_id, &k, material);
    SIGIL_GUARD_GOTO(ret);
    out = malloc(BLOB_MIN + plain_len);
    SIGIL_ENSURE_GOTO(out != NULL, SIGIL_ERR_NOMEM);
    out[0] = BLOB_VERSION;
    memcpy(out + 1, k.id, SIGIL_KMSD_KEY_ID_LEN);
    aad = make_aad(out, ctx, ctx_len, &aad_len);
    SIGIL_ENSURE_GOTO(aad != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(gcm_seal(out + BLOB_HDR, material, aad, aad_len, plain, plain_len));
    *blob = out;
    *blob_len = BLOB_MIN + plain_len;
    out = NULL;
out:
    free(out);
    free(aad);
    sigil_secure_free(material);
    sigil_kmsd_key_clear(&k);
    return ret;
}

sigil_result sigil_kmsd_blob_key_id(char id[SIGIL_KMSD_KEY_ID_LEN + 1], const uint8_t *blob, size_t len)
{
    if (len < BLOB_MIN || blob[0] != BLOB_VERSION) {
        return sigil_error(SIGIL_ERR_CRYPTO);
    }
    for (size_t i = 0; i < SIGIL_KMSD_KEY_ID_LEN; i++) {
        uint8_t c = blob[1 + i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return sigil_error(SIGIL_ERR_CRYPTO);
        }
    }
    memcpy(id, blob + 1, SIGIL_KMSD_KEY_ID_LEN);
    id[SIGIL_KMSD_KEY_ID_LEN] = '\0';
    return sigil_ok();
}

sigil_result sigil_kmsd_store_decrypt(struct sigil_kmsd_store *s, const uint8_t *blob, size_t blob_len, const char *ctx,
                                      size_t ctx_len, uint8_t **plain, size_t *plain_len)
{
    *plain = NULL;
    *plain_len = 0;
    char id[SIGIL_KMSD_KEY_ID_LEN + 1];
    SIGIL_GUARD(sigil_kmsd_blob_key_id(id, blob, blob_len));
    struct sigil_kmsd_key k;
    sigil_result ret;
    uint8_t *aad = NULL;
    size_t aad_len = 0;
    size_t n = blob_len - BLOB_MIN;
    uint8_t *pt = NULL;
    uint8_t *material = sigil_secure_alloc(32);
    SIGIL_ENSURE(material != NULL, SIGIL_ERR_NOMEM);
    ret = load(s, id, &k, material);
    SIGIL_GUARD_GOTO(ret);
    SIGIL_ENSURE_GOTO(n > 0, SIGIL_ERR_CRYPTO);
    pt = sigil_secure_alloc(n);
    aad = make_aad(blob, ctx, ctx_len, &aad_len);
    SIGIL_ENSURE_GOTO(pt != NULL && aad != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(gcm_open(pt, material, aad, aad_len, blob + BLOB_HDR, blob_len - BLOB_HDR));
    *plain = pt;
    *plain_len = n;
    pt = NULL;
out:
    sigil_secure_free(pt);
    free(aad);
    sigil_secure_free(material);
    sigil_kmsd_key_clear(&k);
    return ret;
}
