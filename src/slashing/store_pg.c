/* PostgreSQL store: a small pool of connections; each request is one READ COMMITTED transaction in
 * which the sign path takes pg_advisory_xact_lock(kind, validator_id) before reading the state, so
 * signings for one (validator, kind) are serialised across every process sharing the database.
 * synchronous_commit is forced on per session, so COMMIT returns only after the WAL flush
 * (PostgreSQL's own group commit shares that flush between concurrent backends). Statements are
 * prepared once per connection; integer parameters are sent as text, byte strings as binary, and
 * results are read in binary. */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slashing/internal.h"

#define OID_BOOL  16
#define OID_BYTEA 17
#define OID_INT8  20
#define OID_INT2  21
#define OID_INT4  23

struct pg_conn {
    PGconn *c;
    bool prepared[S__COUNT];
    bool busy;
};

struct slash_store {
    struct pg_conn *conns;
    int n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *url;
    struct slash_stats_acc *stats;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Keeps the first line of libpq's message only (no query text, no parameters). */
static sigil_result pg_err(PGconn *c, const PGresult *r, const char *what)
{
    const char *msg = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c);
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int len = (int)strcspn(msg, "\n");
    return sigil_errorf(SIGIL_ERR_DB, "postgresql %s failed (%s): %.*s", what, state ? state : "-", len, msg);
}

static bool retryable(const PGresult *r)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return state != NULL && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0);
}

static _Thread_local bool last_retryable;

static sigil_result pg_exec(void *conn, const char *sql)
{
    struct pg_conn *pc = conn;
    PGresult *r = PQexec(pc->c, sql);
    sigil_result ret = sigil_ok();
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        last_retryable = retryable(r);
        ret = pg_err(pc->c, r, "statement");
    }
    PQclear(r);
    return ret;
}

static sigil_result convert(PGresult *r, int row, int ncols, struct slash_val *cols)
{
    for (int c = 0; c < ncols; c++) {
        if (PQgetisnull(r, row, c)) {
            cols[c] = SLASH_NULLV;
            continue;
        }
        const uint8_t *v = (const uint8_t *)PQgetvalue(r, row, c);
        int len = PQgetlength(r, row, c);
        switch (PQftype(r, c)) {
        case OID_INT8:
            if (len != 8) {
                return sigil_errorf(SIGIL_ERR_DB, "postgresql returned a malformed int8");
            }
            {
                uint64_t x = 0;
                for (int i = 0; i < 8; i++) {
                    x = (x << 8) | v[i];
                }
                cols[c] = SLASH_INT((int64_t)x);
            }
            break;
        case OID_INT4:
            if (len != 4) {
                return sigil_errorf(SIGIL_ERR_DB, "postgresql returned a malformed int4");
            }
            cols[c] = SLASH_INT(
                (int32_t)(((uint32_t)v[0] << 24) | ((uint32_t)v[1] << 16) | ((uint32_t)v[2] << 8) | (uint32_t)v[3]));
            break;
        case OID_INT2:
            if (len != 2) {
                return sigil_errorf(SIGIL_ERR_DB, "postgresql returned a malformed int2");
            }
            cols[c] = SLASH_INT((int16_t)(((uint16_t)v[0] << 8) | v[1]));
            break;
        case OID_BOOL:
            cols[c] = SLASH_INT(len == 1 && v[0] != 0);
            break;
        case OID_BYTEA:
            cols[c] = SLASH_BLOB(v, (size_t)len);
            break;
        default:
            cols[c] = SLASH_NULLV;
            break;
        }
    }
    return sigil_ok();
}

static sigil_result pg_query(void *conn, enum slash_stmt id, const struct slash_val *p, int np, slash_row_fn fn,
                             void *ud)
{
    struct pg_conn *pc = conn;
    char name[16];
    snprintf(name, sizeof name, "s%d", (int)id);
    if (!pc->prepared[id]) {
        /* ?N -> $N */
        const char *src = slash_sql(id, true);
        char *sql = strdup(src);
        if (sql == NULL) {
            return sigil_error(SIGIL_ERR_NOMEM);
        }
        for (char *q = sql; *q; q++) {
            if (*q == '?' && q[1] >= '1' && q[1] <= '9') {
                *q = '$';
            }
        }
        PGresult *r = PQprepare(pc->c, name, sql, 0, NULL);
        free(sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            sigil_result e = pg_err(pc->c, r, "prepare");
            PQclear(r);
            return e;
        }
        PQclear(r);
        pc->prepared[id] = true;
    }
    const char *values[8];
    int lengths[8], formats[8];
    char ints[8][24];
    if (np > 8) {
        return sigil_errorf(SIGIL_ERR_INTERNAL, "too many statement parameters");
    }
    for (int i = 0; i < np; i++) {
        if (p[i].t == SV_INT) {
            snprintf(ints[i], sizeof ints[i], "%lld", (long long)p[i].i);
            values[i] = ints[i];
            lengths[i] = 0;
            formats[i] = 0;
        } else if (p[i].t == SV_BLOB) {
            values[i] = (const char *)p[i].b;
            lengths[i] = (int)p[i].n;
            formats[i] = 1;
        } else {
            values[i] = NULL;
            lengths[i] = 0;
            formats[i] = 0;
        }
    }
    PGresult *r = PQexecPrepared(pc->c, name, np, values, lengths, formats, 1);
    ExecStatusType st = PQresultStatus(r);
    sigil_result ret = sigil_ok();
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        last_retryable = retryable(r);
        ret = pg_err(pc->c, r, "query");
    } else if (st == PGRES_TUPLES_OK && fn != NULL) {
        int nrows = PQntuples(r), ncols = PQnfields(r);
        if (ncols > SLASH_MAX_COLS) {
            ncols = SLASH_MAX_COLS;
        }
        for (int row = 0; row < nrows && sigil_is_ok(ret); row++) {
            struct slash_val cols[SLASH_MAX_COLS];
            ret = convert(r, row, ncols, cols);
            if (sigil_is_ok(ret)) {
                ret = fn(ud, cols, ncols);
            }
        }
    }
    PQclear(r);
    return ret;
}

static const struct slash_conn_vt pg_vt = {pg_query, pg_exec, true};

static sigil_result connect_one(struct pg_conn *pc, const char *url)
{
    memset(pc->prepared, 0, sizeof pc->prepared);
    if (pc->c != NULL) {
        PQfinish(pc->c);
    }
    pc->c = PQconnectdb(url);
    if (PQstatus(pc->c) != CONNECTION_OK) {
        return pg_err(pc->c, NULL, "connect");
    }
    return pg_exec(pc, "SET synchronous_commit = on; SET client_min_messages = warning");
}

static struct pg_conn *acquire(struct slash_store *s)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (int i = 0; i < s->n; i++) {
            if (!s->conns[i].busy) {
                s->conns[i].busy = true;
                pthread_mutex_unlock(&s->mu);
                return &s->conns[i];
            }
        }
        pthread_cond_wait(&s->cv, &s->mu);
    }
}

static void release(struct slash_store *s, struct pg_conn *pc)
{
    pthread_mutex_lock(&s->mu);
    pc->busy = false;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static sigil_result run_once(struct slash_store *s, struct pg_conn *pc, slash_txn_fn fn, void *arg)
{
    struct slash_tx tx = {&pg_vt, pc};
    last_retryable = false;
    SIGIL_GUARD(pg_exec(pc, "BEGIN"));
    sigil_result r = fn(&tx, arg);
    if (!sigil_is_ok(r)) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", sigil_error_detail());
        bool retry = last_retryable;
        (void)pg_exec(pc, "ROLLBACK");
        last_retryable = retry;
        return sigil_errorf(r.code, "%s", detail);
    }
    uint64_t t0 = now_ns();
    sigil_result c = pg_exec(pc, "COMMIT");
    if (!sigil_is_ok(c)) {
        return c;
    }
    atomic_fetch_add(&s->stats->commits, 1);
    atomic_fetch_add(&s->stats->requests, 1);
    atomic_store(&s->stats->last_commit_ns, now_ns() - t0);
    return sigil_ok();
}

static sigil_result pgs_run(struct slash_store *s, slash_txn_fn fn, void *arg, bool batch)
{
    (void)batch;
    struct pg_conn *pc = acquire(s);
    sigil_result ret = sigil_ok();
    for (int attempt = 0; attempt < 5; attempt++) {
        if (PQstatus(pc->c) != CONNECTION_OK) {
            ret = connect_one(pc, s->url);
            if (!sigil_is_ok(ret)) {
                break;
            }
        }
        ret = run_once(s, pc, fn, arg);
        if (sigil_is_ok(ret) || !last_retryable) {
            break;
        }
    }
    release(s, pc);
    return ret;
}

static void pgs_close(struct slash_store *s)
{
    if (s == NULL) {
        return;
    }
    for (int i = 0; s->conns != NULL && i < s->n; i++) {
        if (s->conns[i].c != NULL) {
            PQfinish(s->conns[i].c);
        }
    }
    free(s->conns);
    if (s->url != NULL) {
        memset(s->url, 0, strlen(s->url)); /* may hold a password */
        free(s->url);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* No submit: a pool connection per request already lets callers block in parallel. */
static const struct slash_store_ops pg_ops = {pgs_run, pgs_close, NULL, NULL};

static sigil_result migrate(struct pg_conn *pc)
{
    sigil_result ret;
    /* One migrator at a time across processes; CREATE TABLE IF NOT EXISTS is not race-free alone. */
    SIGIL_GUARD(pg_exec(pc, "BEGIN"));
    SIGIL_GUARD_GOTO(pg_exec(pc, "SELECT pg_advisory_xact_lock(1397311308)"));
    SIGIL_GUARD_GOTO(pg_exec(pc, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)"));
    PGresult *r = PQexec(pc->c, "SELECT max(version) FROM schema_version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ret = pg_err(pc->c, r, "schema_version");
        PQclear(r);
        goto out;
    }
    long long version = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (version > SLASH_SCHEMA_VERSION) {
        ret = sigil_errorf(SIGIL_ERR_UNSUPPORTED,
                           "slashing database schema version %lld is newer than this build supports (%d)", version,
                           SLASH_SCHEMA_VERSION);
        goto out;
    }
    const char *const *m = slash_migrations(true);
    for (long long v = version; v < SLASH_SCHEMA_VERSION; v++) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%lld)", v + 1);
        SIGIL_GUARD_GOTO(pg_exec(pc, m[v]));
        SIGIL_GUARD_GOTO(pg_exec(pc, sql));
    }
    return pg_exec(pc, "COMMIT");
out:
    (void)pg_exec(pc, "ROLLBACK");
    return ret;
}

sigil_result slash_pg_open(struct slash_store **out, const struct slash_store_ops **ops, const char *url,
                           struct slash_stats_acc *stats)
{
    sigil_result ret;
    *out = NULL;
    struct slash_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->stats = stats;
    s->n = 8;
    const char *env = getenv("SIGIL_SLASHING_PG_POOL");
    if (env != NULL && atoi(env) >= 1 && atoi(env) <= 64) {
        s->n = atoi(env);
    }
    s->url = strdup(url);
    s->conns = calloc((size_t)s->n, sizeof *s->conns);
    SIGIL_ENSURE_GOTO(s->url != NULL && s->conns != NULL, SIGIL_ERR_NOMEM);
    for (int i = 0; i < s->n; i++) {
        SIGIL_GUARD_GOTO(connect_one(&s->conns[i], url));
        if (i == 0) {
            SIGIL_GUARD_GOTO(migrate(&s->conns[0]));
        }
    }
    *out = s;
    *ops = &pg_ops;
    return sigil_ok();
out:
    pgs_close(s);
    return ret;
}
