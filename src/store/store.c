/* Artifact store on SQLite or PostgreSQL behind one small statement interface: every query is
 * written once with ?N placeholders (rewritten to $N for PostgreSQL), parameters are typed
 * (text, blob, int64) and result columns come back as raw bytes or int64, so the table logic
 * below does not know which database it talks to. */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "store/store.h"

enum pt { P_TEXT, P_BLOB, P_INT };

struct param {
    enum pt t;
    const void *p;
    size_t len;
    int64_t i;
};

struct col {
    const uint8_t *p;
    size_t len;
    int64_t i;
    bool null;
};

#define MAX_COLS   8
#define MAX_PARAMS 8

typedef sigil_result (*row_fn)(void *ud, const struct col *cols, int ncols);

struct sigil_store {
    bool pg;
    sqlite3 *db;
    PGconn *pq;
    bool in_tx;
};

#define PT(s)    ((struct param){P_TEXT, (s), strlen(s), 0})
#define PB(b, n) ((struct param){P_BLOB, (b), (n), 0})
#define PI(v)    ((struct param){P_INT, NULL, 0, (int64_t)(v)})

/* ---------------- SQLite ---------------- */

static sigil_result sq_err(sqlite3 *db, const char *what)
{
    int ext = sqlite3_extended_errcode(db);
    if ((ext & 0xff) == SQLITE_CONSTRAINT) {
        return sigil_errorf(ext == SQLITE_CONSTRAINT_FOREIGNKEY ? SIGIL_ERR_NOT_FOUND : SIGIL_ERR_CONFLICT,
                            "sqlite %s: %s", what, sqlite3_errmsg(db));
    }
    return sigil_errorf(SIGIL_ERR_DB, "sqlite %s failed: %s", what, sqlite3_errmsg(db));
}

static sigil_result sq_run(struct sigil_store *s, const char *sql, const struct param *ps, int np, row_fn fn, void *ud)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        return sq_err(s->db, "prepare");
    }
    sigil_result ret = sigil_ok();
    for (int i = 0; i < np; i++) {
        int rc = SQLITE_OK;
        switch (ps[i].t) {
        case P_TEXT:
            rc = sqlite3_bind_text(st, i + 1, ps[i].p, (int)ps[i].len, SQLITE_STATIC);
            break;
        case P_BLOB:
            rc = sqlite3_bind_blob(st, i + 1, ps[i].p, (int)ps[i].len, SQLITE_STATIC);
            break;
        case P_INT:
            rc = sqlite3_bind_int64(st, i + 1, ps[i].i);
            break;
        }
        if (rc != SQLITE_OK) {
            ret = sq_err(s->db, "bind");
            goto out;
        }
    }
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            ret = sq_err(s->db, "statement");
            goto out;
        }
        if (fn == NULL) {
            continue;
        }
        struct col cols[MAX_COLS];
        int nc = sqlite3_column_count(st);
        if (nc > MAX_COLS) {
            ret = sigil_errorf(SIGIL_ERR_INTERNAL, "too many columns");
            goto out;
        }
        for (int c = 0; c < nc; c++) {
            int ty = sqlite3_column_type(st, c);
            cols[c].null = ty == SQLITE_NULL;
            cols[c].i = sqlite3_column_int64(st, c);
            cols[c].p = ty == SQLITE_TEXT ? sqlite3_column_text(st, c) : sqlite3_column_blob(st, c);
            cols[c].len = (size_t)sqlite3_column_bytes(st, c);
        }
        ret = fn(ud, cols, nc);
        if (!sigil_is_ok(ret)) {
            goto out;
        }
    }
out:
    (void)sqlite3_finalize(st);
    return ret;
}

/* ---------------- PostgreSQL ---------------- */

#define OID_INT8  20
#define OID_INT4  23
#define OID_BYTEA 17
#define OID_TEXT  25

static sigil_result pg_err(struct sigil_store *s, const PGresult *r, const char *what)
{
    const char *msg = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(s->pq);
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int len = (int)strcspn(msg, "\n");
    enum sigil_err code = SIGIL_ERR_DB;
    if (state != NULL && strcmp(state, "23505") == 0) {
        code = SIGIL_ERR_CONFLICT;
    } else if (state != NULL && strcmp(state, "23503") == 0) {
        code = SIGIL_ERR_NOT_FOUND;
    }
    return sigil_errorf(code, "postgresql %s failed (%s): %.*s", what, state ? state : "-", len, msg);
}

static int64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return (int64_t)v;
}

static sigil_result pg_run(struct sigil_store *s, const char *sql, const struct param *ps, int np, row_fn fn, void *ud)
{
    char q[1024];
    size_t ql = strlen(sql);
    if (ql >= sizeof q) {
        return sigil_errorf(SIGIL_ERR_INTERNAL, "statement too long");
    }
    for (size_t i = 0; i <= ql; i++) {
        q[i] = sql[i] == '?' ? '$' : sql[i];
    }
    const char *vals[MAX_PARAMS];
    int lens[MAX_PARAMS], fmts[MAX_PARAMS];
    char ibuf[MAX_PARAMS][24];
    if (np > MAX_PARAMS) {
        return sigil_errorf(SIGIL_ERR_INTERNAL, "too many parameters");
    }
    for (int i = 0; i < np; i++) {
        fmts[i] = ps[i].t == P_BLOB ? 1 : 0;
        if (ps[i].t == P_INT) {
            (void)snprintf(ibuf[i], sizeof ibuf[i], "%lld", (long long)ps[i].i);
            vals[i] = ibuf[i];
            lens[i] = 0;
        } else {
            vals[i] = ps[i].p;
            lens[i] = (int)ps[i].len;
        }
    }
    /* Text parameters are sent NUL-terminated in text format; every caller passes C strings. */
    PGresult *r = PQexecParams(s->pq, q, np, NULL, vals, lens, fmts, 1);
    ExecStatusType st = PQresultStatus(r);
    sigil_result ret = sigil_ok();
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        ret = pg_err(s, r, "statement");
        goto out;
    }
    if (fn == NULL || st != PGRES_TUPLES_OK) {
        goto out;
    }
    int nc = PQnfields(r);
    if (nc > MAX_COLS) {
        ret = sigil_errorf(SIGIL_ERR_INTERNAL, "too many columns");
        goto out;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        struct col cols[MAX_COLS];
        for (int c = 0; c < nc; c++) {
            memset(&cols[c], 0, sizeof cols[c]);
            cols[c].null = PQgetisnull(r, row, c) != 0;
            cols[c].p = (const uint8_t *)PQgetvalue(r, row, c);
            cols[c].len = (size_t)PQgetlength(r, row, c);
            Oid ty = PQftype(r, c);
            if (!cols[c].null && ty == OID_INT8 && cols[c].len == 8) {
                cols[c].i = be64(cols[c].p);
            } else if (!cols[c].null && ty == OID_INT4 && cols[c].len == 4) {
                cols[c].i = (int32_t)(((uint32_t)cols[c].p[0] << 24) | ((uint32_t)cols[c].p[1] << 16) |
                                      ((uint32_t)cols[c].p[2] << 8) | cols[c].p[3]);
            }
        }
        ret = fn(ud, cols, nc);
        if (!sigil_is_ok(ret)) {
            goto out;
        }
    }
out:
    PQclear(r);
    return ret;
}

static SIGIL_RESULT run(struct sigil_store *s, const char *sql, const struct param *ps, int np, row_fn fn, void *ud)
{
    return s->pg ? pg_run(s, sql, ps, np, fn, ud) : sq_run(s, sql, ps, np, fn, ud);
}

static SIGIL_RESULT exec_plain(struct sigil_store *s, const char *sql)
{
    if (s->pg) {
        PGresult *r = PQexec(s->pq, sql);
        sigil_result ret = sigil_ok();
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            ret = pg_err(s, r, "statement");
        }
        PQclear(r);
        return ret;
    }
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sigil_result r = sigil_errorf(SIGIL_ERR_DB, "sqlite statement failed: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return r;
    }
    return sigil_ok();
}

/* ---------------- migrations ---------------- */

/* Migration N brings the schema from version N-1 to N. Each dialect has its own DDL; the
 * queries elsewhere are shared. Append only: a released migration never changes. */
static const char *const sqlite_migrations[] = {
    NULL,
    "CREATE TABLE data_keys(id TEXT PRIMARY KEY, kms_key_id TEXT NOT NULL, ciphertext_blob BLOB NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE validator_keys(pubkey BLOB PRIMARY KEY, chain TEXT NOT NULL, active INTEGER NOT NULL,"
    " created INTEGER NOT NULL, data_key_id TEXT NOT NULL REFERENCES data_keys(id), ciphertext BLOB NOT NULL);"
    "CREATE TABLE tls_keys(id TEXT PRIMARY KEY, cert_pem TEXT NOT NULL, active INTEGER NOT NULL,"
    " created INTEGER NOT NULL, data_key_id TEXT NOT NULL REFERENCES data_keys(id),"
    " key_ciphertext BLOB NOT NULL);",
    /* 2: wallet policies; validator_keys also holds eth1 keys (20-byte address ids) */
    "CREATE TABLE policies(hash BLOB PRIMARY KEY, rules BLOB NOT NULL, active INTEGER NOT NULL,"
    " created INTEGER NOT NULL);",
};

static const char *const pg_migrations[] = {
    NULL,
    "CREATE TABLE data_keys(id TEXT PRIMARY KEY, kms_key_id TEXT NOT NULL, ciphertext_blob BYTEA NOT NULL,"
    " created BIGINT NOT NULL);"
    "CREATE TABLE validator_keys(pubkey BYTEA PRIMARY KEY, chain TEXT NOT NULL, active BIGINT NOT NULL,"
    " created BIGINT NOT NULL, data_key_id TEXT NOT NULL REFERENCES data_keys(id), ciphertext BYTEA NOT NULL);"
    "CREATE TABLE tls_keys(id TEXT PRIMARY KEY, cert_pem TEXT NOT NULL, active BIGINT NOT NULL,"
    " created BIGINT NOT NULL, data_key_id TEXT NOT NULL REFERENCES data_keys(id),"
    " key_ciphertext BYTEA NOT NULL);",
    "CREATE TABLE policies(hash BYTEA PRIMARY KEY, rules BYTEA NOT NULL, active BIGINT NOT NULL,"
    " created BIGINT NOT NULL);",
};

_Static_assert(sizeof sqlite_migrations / sizeof sqlite_migrations[0] == SIGIL_STORE_SCHEMA_VERSION + 1,
               "one SQLite migration per schema version");
_Static_assert(sizeof pg_migrations / sizeof pg_migrations[0] == SIGIL_STORE_SCHEMA_VERSION + 1,
               "one PostgreSQL migration per schema version");

static sigil_result get_i64(void *ud, const struct col *cols, int ncols)
{
    if (ncols >= 1 && !cols[0].null) {
        *(int64_t *)ud = cols[0].i;
    }
    return sigil_ok();
}

SIGIL_RESULT sigil_store_schema_version(struct sigil_store *s, int64_t *version)
{
    *version = 0;
    return run(s, "SELECT MAX(version) FROM schema_version", NULL, 0, get_i64, version);
}

static SIGIL_RESULT migrate(struct sigil_store *s)
{
    const char *const *mig = s->pg ? pg_migrations : sqlite_migrations;
    /* Concurrent openers (several hosts on one PostgreSQL) serialise on the advisory lock. */
    SIGIL_GUARD(exec_plain(s, s->pg ? "BEGIN; SELECT pg_advisory_xact_lock(7733001)" : "BEGIN IMMEDIATE"));
    sigil_result ret = exec_plain(s, s->pg ? "CREATE TABLE IF NOT EXISTS schema_version(version BIGINT NOT NULL)"
                                           : "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
    int64_t v = 0;
    if (sigil_is_ok(ret)) {
        ret = sigil_store_schema_version(s, &v);
    }
    if (sigil_is_ok(ret) && v > SIGIL_STORE_SCHEMA_VERSION) {
        ret = sigil_errorf(SIGIL_ERR_DB, "the store's schema version %lld is newer than this binary's (%d)",
                           (long long)v, SIGIL_STORE_SCHEMA_VERSION);
    }
    for (int64_t n = v + 1; sigil_is_ok(ret) && n <= SIGIL_STORE_SCHEMA_VERSION; n++) {
        ret = exec_plain(s, mig[n]);
        if (sigil_is_ok(ret)) {
            struct param p = PI(n);
            ret = run(s, "INSERT INTO schema_version(version) VALUES(?1)", &p, 1, NULL, NULL);
        }
    }
    if (sigil_is_ok(ret)) {
        return exec_plain(s, "COMMIT");
    }
    sigil_result rb = exec_plain(s, "ROLLBACK"); /* gcc ignores a (void) cast on warn_unused_result */
    (void)rb;
    return ret;
}

SIGIL_RESULT sigil_store_open(struct sigil_store **out, const char *url)
{
    *out = NULL;
    if (url == NULL) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "no store URL");
    }
    struct sigil_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        s->pg = true;
        s->pq = PQconnectdb(url);
        if (PQstatus(s->pq) != CONNECTION_OK) {
            ret = pg_err(s, NULL, "connect");
            goto out;
        }
        PGresult *r = PQexec(s->pq, "SET client_min_messages = warning");
        PQclear(r);
    } else if (strncmp(url, "sqlite:", 7) == 0 && url[7] != '\0') {
        const char *path = url + 7;
        /* Create the file 0600 ourselves: sqlite would use 0644 & ~umask. */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            ret = sigil_errorf(SIGIL_ERR_DB, "cannot open the store %s: %s", path, strerror(errno));
            goto out;
        }
        (void)close(fd);
        if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
            ret = sq_err(s->db, "open");
            goto out;
        }
        (void)sqlite3_busy_timeout(s->db, 10000);
        SIGIL_GUARD_GOTO(exec_plain(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"));
    } else {
        ret = sigil_errorf(SIGIL_ERR_CONFIG, "store URL must be sqlite:PATH or postgresql://...");
        goto out;
    }
    SIGIL_GUARD_GOTO(migrate(s));
    *out = s;
    s = NULL;
    ret = sigil_ok();
out:
    sigil_store_close(s);
    return ret;
}

void sigil_store_close(struct sigil_store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->db != NULL) {
        (void)sqlite3_close(s->db);
    }
    if (s->pq != NULL) {
        PQfinish(s->pq);
    }
    free(s);
}

SIGIL_RESULT sigil_store_begin(struct sigil_store *s)
{
    if (s->in_tx) {
        return sigil_errorf(SIGIL_ERR_ARG, "store transaction already open");
    }
    SIGIL_GUARD(exec_plain(s, s->pg ? "BEGIN" : "BEGIN IMMEDIATE"));
    s->in_tx = true;
    return sigil_ok();
}

SIGIL_RESULT sigil_store_commit(struct sigil_store *s)
{
    if (!s->in_tx) {
        return sigil_errorf(SIGIL_ERR_ARG, "no store transaction open");
    }
    sigil_result r = exec_plain(s, "COMMIT");
    if (!sigil_is_ok(r)) {
        sigil_result rb = exec_plain(s, "ROLLBACK");
        (void)rb;
    }
    s->in_tx = false;
    return r;
}

void sigil_store_rollback(struct sigil_store *s)
{
    if (s->in_tx) {
        sigil_result rb = exec_plain(s, "ROLLBACK");
        (void)rb;
        s->in_tx = false;
    }
}

/* ---------------- tables ---------------- */

static bool id_ok(const char *id, size_t max)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n >= max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c <= 0x20 || c >= 0x7f) {
            return false;
        }
    }
    return true;
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

SIGIL_RESULT sigil_store_add_data_key(struct sigil_store *s, const char *id, const char *kms_key_id,
                                      const uint8_t *blob, size_t blob_len)
{
    if (!id_ok(id, SIGIL_STORE_ID_MAX) || !id_ok(kms_key_id, 2048) || blob == NULL || blob_len == 0 ||
        blob_len > SIGIL_STORE_BLOB_MAX) {
        return sigil_errorf(SIGIL_ERR_ARG, "data key: bad id, KMS key id or blob size");
    }
    struct param p[] = {PT(id), PT(kms_key_id), PB(blob, blob_len), PI(now_s())};
    return run(s, "INSERT INTO data_keys(id, kms_key_id, ciphertext_blob, created) VALUES(?1, ?2, ?3, ?4)", p, 4, NULL,
               NULL);
}

static bool copy_id(char *dst, size_t cap, const struct col *c)
{
    if (c->null || c->len >= cap) {
        return false;
    }
    memcpy(dst, c->p, c->len);
    dst[c->len] = '\0';
    return true;
}

struct dk_ctx {
    sigil_store_dkey_fn fn;
    void *ctx;
};

static sigil_result dk_row(void *ud, const struct col *c, int nc)
{
    struct dk_ctx *d = ud;
    struct sigil_store_data_key k = {0};
    char *kms = NULL;
    if (nc != 4 || !copy_id(k.id, sizeof k.id, &c[0]) || c[1].null || c[2].null || c[2].len > SIGIL_STORE_BLOB_MAX) {
        return sigil_errorf(SIGIL_ERR_DB, "malformed data_keys row");
    }
    kms = strndup((const char *)c[1].p, c[1].len);
    if (kms == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    k.kms_key_id = kms;
    k.blob = c[2].p;
    k.blob_len = c[2].len;
    k.created = c[3].i;
    sigil_result r = d->fn(d->ctx, &k);
    free(kms);
    return r;
}

SIGIL_RESULT sigil_store_list_data_keys(struct sigil_store *s, sigil_store_dkey_fn fn, void *ctx)
{
    struct dk_ctx d = {fn, ctx};
    return run(s, "SELECT id, kms_key_id, ciphertext_blob, created FROM data_keys ORDER BY id", NULL, 0, dk_row, &d);
}

/* The id length a chain's keys have (0: unknown chain). */
static size_t chain_id_len(const char *chain)
{
    if (strcmp(chain, "eth2") == 0) {
        return SIGIL_STORE_PUBKEY_LEN;
    }
    return strcmp(chain, "eth1") == 0 ? SIGIL_STORE_ADDRESS_LEN : 0;
}

SIGIL_RESULT sigil_store_add_vkey(struct sigil_store *s, const struct sigil_store_vkey *k)
{
    size_t idl = k->pubkey_len != 0 ? k->pubkey_len : SIGIL_STORE_PUBKEY_LEN;
    if (!id_ok(k->chain, SIGIL_STORE_CHAIN_MAX) || !id_ok(k->data_key_id, SIGIL_STORE_ID_MAX) ||
        k->ciphertext == NULL || k->ciphertext_len == 0 || k->ciphertext_len > SIGIL_STORE_BLOB_MAX) {
        return sigil_errorf(SIGIL_ERR_ARG, "signing key: bad chain, data key id or ciphertext size");
    }
    if (chain_id_len(k->chain) != idl) {
        return sigil_errorf(SIGIL_ERR_ARG,
                            "signing key: chain \"%s\" needs %zu-byte ids (eth2: 48-byte public key,"
                            " eth1: 20-byte address), not %zu",
                            k->chain, chain_id_len(k->chain), idl);
    }
    struct param p[] = {PB(k->pubkey, idl), PT(k->chain),       PI(k->active ? 1 : 0),
                        PI(now_s()),        PT(k->data_key_id), PB(k->ciphertext, k->ciphertext_len)};
    return run(s,
               "INSERT INTO validator_keys(pubkey, chain, active, created, data_key_id, ciphertext)"
               " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
               p, 6, NULL, NULL);
}

struct vk_ctx {
    sigil_store_vkey_fn fn;
    void *ctx;
    size_t n;
};

static sigil_result vk_row(void *ud, const struct col *c, int nc)
{
    struct vk_ctx *v = ud;
    struct sigil_store_vkey k = {0};
    if (nc != 6 || c[0].null || !copy_id(k.chain, sizeof k.chain, &c[1]) || c[0].len != chain_id_len(k.chain) ||
        !copy_id(k.data_key_id, sizeof k.data_key_id, &c[4]) || c[5].null || c[5].len > SIGIL_STORE_BLOB_MAX) {
        return sigil_errorf(SIGIL_ERR_DB, "malformed validator_keys row");
    }
    memcpy(k.pubkey, c[0].p, c[0].len);
    k.pubkey_len = c[0].len;
    k.active = c[2].i != 0;
    k.created = c[3].i;
    k.ciphertext = c[5].p;
    k.ciphertext_len = c[5].len;
    v->n++;
    return v->fn(v->ctx, &k);
}

SIGIL_RESULT sigil_store_page_vkeys(struct sigil_store *s, const uint8_t *after, size_t after_len, size_t limit,
                                    bool active_only, sigil_store_vkey_fn fn, void *ctx, size_t *n)
{
    *n = 0;
    if (limit == 0 || limit > SIGIL_STORE_PAGE_MAX) {
        return sigil_errorf(SIGIL_ERR_ARG, "page size must be 1..%d", SIGIL_STORE_PAGE_MAX);
    }
    if (after != NULL && (after_len == 0 || after_len > SIGIL_STORE_PUBKEY_LEN)) {
        return sigil_errorf(SIGIL_ERR_ARG, "page cursor must be 1..%d bytes", SIGIL_STORE_PUBKEY_LEN);
    }
    static const uint8_t zero[1] = {0};
    struct vk_ctx v = {fn, ctx, 0};
    /* An empty blob sorts before every id in both databases; both compare blobs bytewise, a
     * prefix first (memcmp order in SQLite, bytea order in PostgreSQL). */
    struct param p[] = {after != NULL ? PB(after, after_len) : PB(zero, 0), PI(active_only ? 1 : 0), PI(limit)};
    sigil_result r = run(s,
                         "SELECT pubkey, chain, active, created, data_key_id, ciphertext FROM validator_keys"
                         " WHERE pubkey > ?1 AND (?2 = 0 OR active <> 0) ORDER BY pubkey LIMIT ?3",
                         p, 3, vk_row, &v);
    *n = v.n;
    return r;
}

SIGIL_RESULT sigil_store_count_vkeys(struct sigil_store *s, bool active_only, uint64_t *n)
{
    int64_t v = 0;
    struct param p = PI(active_only ? 1 : 0);
    SIGIL_GUARD(run(s, "SELECT COUNT(*) FROM validator_keys WHERE (?1 = 0 OR active <> 0)", &p, 1, get_i64, &v));
    *n = (uint64_t)v;
    return sigil_ok();
}

static sigil_result count_row(void *ud, const struct col *c, int nc)
{
    (void)c;
    (void)nc;
    (*(int64_t *)ud)++;
    return sigil_ok();
}

SIGIL_RESULT sigil_store_set_vkey_active(struct sigil_store *s, const uint8_t *id, size_t id_len, bool active)
{
    if (id == NULL || id_len == 0 || id_len > SIGIL_STORE_PUBKEY_LEN) {
        return sigil_errorf(SIGIL_ERR_ARG, "key id must be 1..%d bytes", SIGIL_STORE_PUBKEY_LEN);
    }
    struct param p[] = {PI(active ? 1 : 0), PB(id, id_len)};
    int64_t found = 0;
    SIGIL_GUARD(
        run(s, "UPDATE validator_keys SET active = ?1 WHERE pubkey = ?2 RETURNING pubkey", p, 2, count_row, &found));
    return found > 0 ? sigil_ok() : sigil_errorf(SIGIL_ERR_NOT_FOUND, "no such validator key");
}

SIGIL_RESULT sigil_store_add_tls_key(struct sigil_store *s, const struct sigil_store_tls_key *k)
{
    if (!id_ok(k->id, SIGIL_STORE_ID_MAX) || !id_ok(k->data_key_id, SIGIL_STORE_ID_MAX) || k->cert_pem == NULL ||
        strlen(k->cert_pem) == 0 || strlen(k->cert_pem) > SIGIL_STORE_CERT_MAX || k->key_ciphertext == NULL ||
        k->key_ciphertext_len == 0 || k->key_ciphertext_len > SIGIL_STORE_BLOB_MAX) {
        return sigil_errorf(SIGIL_ERR_ARG, "TLS key: bad id, certificate or ciphertext size");
    }
    bool own_tx = !s->in_tx;
    if (own_tx) {
        SIGIL_GUARD(sigil_store_begin(s));
    }
    sigil_result r = run(s, "UPDATE tls_keys SET active = 0", NULL, 0, NULL, NULL);
    if (sigil_is_ok(r)) {
        struct param p[] = {PT(k->id), PT(k->cert_pem), PI(now_s()), PT(k->data_key_id),
                            PB(k->key_ciphertext, k->key_ciphertext_len)};
        r = run(s,
                "INSERT INTO tls_keys(id, cert_pem, active, created, data_key_id, key_ciphertext)"
                " VALUES(?1, ?2, 1, ?3, ?4, ?5)",
                p, 5, NULL, NULL);
    }
    if (own_tx) {
        if (sigil_is_ok(r)) {
            return sigil_store_commit(s);
        }
        sigil_store_rollback(s);
    }
    return r;
}

struct tls_ctx {
    sigil_result (*fn)(void *ctx, const struct sigil_store_tls_key *k);
    void *ctx;
    bool found;
};

static sigil_result tls_row(void *ud, const struct col *c, int nc)
{
    struct tls_ctx *t = ud;
    struct sigil_store_tls_key k = {0};
    if (nc != 6 || !copy_id(k.id, sizeof k.id, &c[0]) || c[1].null || c[1].len > SIGIL_STORE_CERT_MAX ||
        !copy_id(k.data_key_id, sizeof k.data_key_id, &c[4]) || c[5].null || c[5].len > SIGIL_STORE_BLOB_MAX) {
        return sigil_errorf(SIGIL_ERR_DB, "malformed tls_keys row");
    }
    char *pem = strndup((const char *)c[1].p, c[1].len);
    if (pem == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    k.cert_pem = pem;
    k.active = c[2].i != 0;
    k.created = c[3].i;
    k.key_ciphertext = c[5].p;
    k.key_ciphertext_len = c[5].len;
    t->found = true;
    sigil_result r = t->fn(t->ctx, &k);
    free(pem);
    return r;
}

SIGIL_RESULT sigil_store_active_tls_key(struct sigil_store *s,
                                        sigil_result (*fn)(void *ctx, const struct sigil_store_tls_key *k), void *ctx)
{
    struct tls_ctx t = {fn, ctx, false};
    SIGIL_GUARD(run(s,
                    "SELECT id, cert_pem, active, created, data_key_id, key_ciphertext FROM tls_keys"
                    " WHERE active <> 0 ORDER BY created DESC, id DESC LIMIT 1",
                    NULL, 0, tls_row, &t));
    return t.found ? sigil_ok() : sigil_errorf(SIGIL_ERR_NOT_FOUND, "no active TLS key in the store");
}

/* ---------------- policies ---------------- */

SIGIL_RESULT sigil_store_set_policy(struct sigil_store *s, const char *rules, size_t len, uint8_t hash[32])
{
    if (rules == NULL || len == 0 || memchr(rules, '\0', len) != NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "policy: the rules file is empty or holds a NUL byte");
    }
    if (len > SIGIL_STORE_POLICY_MAX) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "policy: the rules file is %zu bytes, over the %u-byte limit", len,
                            SIGIL_STORE_POLICY_MAX);
    }
    uint8_t h[32];
    SHA256((const uint8_t *)rules, len, h);
    bool own_tx = !s->in_tx;
    if (own_tx) {
        SIGIL_GUARD(sigil_store_begin(s));
    }
    sigil_result r = run(s, "UPDATE policies SET active = 0", NULL, 0, NULL, NULL);
    if (sigil_is_ok(r)) {
        struct param p[] = {PB(h, sizeof h), PB(rules, len), PI(now_s())};
        r = run(s,
                "INSERT INTO policies(hash, rules, active, created) VALUES(?1, ?2, 1, ?3)"
                " ON CONFLICT(hash) DO UPDATE SET active = 1, created = ?3",
                p, 3, NULL, NULL);
    }
    if (own_tx) {
        if (sigil_is_ok(r)) {
            r = sigil_store_commit(s);
        } else {
            sigil_store_rollback(s);
        }
    }
    if (sigil_is_ok(r) && hash != NULL) {
        memcpy(hash, h, sizeof h);
    }
    return r;
}

SIGIL_RESULT sigil_store_clear_policy(struct sigil_store *s)
{
    return run(s, "UPDATE policies SET active = 0", NULL, 0, NULL, NULL);
}

struct pol_ctx {
    sigil_result (*fn)(void *ctx, const struct sigil_store_policy *p);
    void *ctx;
    bool found;
};

static sigil_result pol_row(void *ud, const struct col *c, int nc)
{
    struct pol_ctx *t = ud;
    struct sigil_store_policy p = {0};
    if (nc != 3 || c[0].null || c[0].len != sizeof p.hash || c[1].null || c[1].len == 0 ||
        c[1].len > SIGIL_STORE_POLICY_MAX) {
        return sigil_errorf(SIGIL_ERR_DB, "malformed policies row");
    }
    uint8_t h[32];
    SHA256(c[1].p, c[1].len, h);
    if (CRYPTO_memcmp(h, c[0].p, sizeof h) != 0) {
        return sigil_errorf(SIGIL_ERR_DB, "the stored policy's rules do not match its hash");
    }
    char *rules = malloc(c[1].len + 1);
    if (rules == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    memcpy(rules, c[1].p, c[1].len);
    rules[c[1].len] = '\0';
    memcpy(p.hash, h, sizeof h);
    p.rules = rules;
    p.rules_len = c[1].len;
    p.created = c[2].i;
    t->found = true;
    sigil_result r = t->fn(t->ctx, &p);
    free(rules);
    return r;
}

SIGIL_RESULT sigil_store_active_policy(struct sigil_store *s,
                                       sigil_result (*fn)(void *ctx, const struct sigil_store_policy *p), void *ctx)
{
    struct pol_ctx t = {fn, ctx, false};
    SIGIL_GUARD(run(s,
                    "SELECT hash, rules, created FROM policies WHERE active <> 0 ORDER BY created DESC, hash LIMIT 1",
                    NULL, 0, pol_row, &t));
    return t.found ? sigil_ok() : sigil_errorf(SIGIL_ERR_NOT_FOUND, "no active policy in the store");
}
