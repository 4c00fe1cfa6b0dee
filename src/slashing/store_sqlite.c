/* SQLite store: one writer thread owns the connection (WAL, synchronous=FULL). Requests from any
 * thread are queued; the writer runs every queued batchable request inside one BEGIN IMMEDIATE ..
 * COMMIT (group commit: one fsync for the whole batch), each request seeing the writes of the earlier
 * ones, and wakes the callers only after the COMMIT returned. Other processes opening the same file
 * are serialised by BEGIN IMMEDIATE and the busy timeout.
 *
 * Asynchronous requests (sq_submit) get the same treatment, but instead of a caller blocked on a
 * semaphore the writer calls their completion after the COMMIT returned. The signer uses them so
 * that a signing thread never sleeps through an fsync: it hands the record over and signs the
 * next request, and the reply is released from here once the record is durable. */
#include <fcntl.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "slashing/internal.h"

#define MAX_BATCH 1024

/* Bounded group-commit delay. Under a steady stream (the previous commit ended less than
 * COMMIT_DELAY_NS ago) the writer lets a batch gather for up to COMMIT_DELAY_NS after its oldest
 * request arrived, or until COMMIT_TARGET requests wait: each commit has a fixed cost (file locks,
 * the fsync's device flush, waking the writer and the reply path) that a bigger batch shares. A
 * request that arrives after a quiet period is committed at once, so an idle signer adds no
 * latency; the callers that wait are not burning CPU (signing continues meanwhile). */
#define COMMIT_DELAY_NS 1000000u
#define COMMIT_TARGET   32u
/* With the signer's hint (sigil_slashing_incoming_add/done) the writer knows whether more records are
 * coming, so it can let a batch gather longer under load without delaying a lone request. */
#define COMMIT_HINT_DELAY_NS 3000000u

struct sq_req {
    slash_txn_fn fn;
    void *arg;
    /* Synchronous requests: posted once by the writer after the request's commit (or failure).
     * Asynchronous ones (complete != NULL, heap-allocated): complete runs instead, then the writer
     * frees the request. */
    sem_t done;
    slash_done_fn complete;
    bool batch;
    sigil_result res;
    char detail[256];
    struct sq_req *next;
};

struct slash_store {
    sqlite3 *db;
    sqlite3_stmt *stmts[S__COUNT];
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t work; /* CLOCK_MONOTONIC */
    struct sq_req *head, *tail;
    size_t queued;
    bool urgent;             /* a standalone request is queued: commit without gathering */
    uint64_t head_ns;        /* when the oldest queued request arrived */
    uint64_t last_commit_ns; /* when the previous group finished (writer only) */
    uint64_t delay_ns;       /* gathering bound without a hint */
    uint64_t hint_delay_ns;  /* gathering bound while the hint says records are coming */
    unsigned target;
    atomic_bool hinted;   /* the signer gives the hint (sigil_slashing_incoming_add was called) */
    atomic_uint incoming; /* records announced and not yet handed over */
    bool stop;
    struct slash_stats_acc *stats;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static sigil_result db_err(sqlite3 *db, const char *what)
{
    return sigil_errorf(SIGIL_ERR_DB, "sqlite %s failed: %s", what, sqlite3_errmsg(db));
}

static sigil_result sq_exec(void *conn, const char *sql)
{
    struct slash_store *s = conn;
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        return db_err(s->db, "statement");
    }
    return sigil_ok();
}

static sigil_result sq_query(void *conn, enum slash_stmt id, const struct slash_val *p, int np, slash_row_fn fn,
                             void *ud)
{
    struct slash_store *s = conn;
    if (id == S_LOCK) {
        return sigil_ok(); /* the single writer (and BEGIN IMMEDIATE across processes) serialises everything */
    }
    sqlite3_stmt *st = s->stmts[id];
    if (st == NULL) {
        if (sqlite3_prepare_v3(s->db, slash_sql(id, false), -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
            return db_err(s->db, "prepare");
        }
        s->stmts[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (int i = 0; i < np; i++) {
        int rc = SQLITE_OK;
        if (p[i].t == SV_INT) {
            rc = sqlite3_bind_int64(st, i + 1, p[i].i);
        } else if (p[i].t == SV_BLOB) {
            rc = sqlite3_bind_blob(st, i + 1, p[i].b, (int)p[i].n, SQLITE_STATIC);
        } else {
            rc = sqlite3_bind_null(st, i + 1);
        }
        if (rc != SQLITE_OK) {
            return db_err(s->db, "bind");
        }
    }
    sigil_result ret = sigil_ok();
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            ret = db_err(s->db, "step");
            break;
        }
        struct slash_val cols[SLASH_MAX_COLS];
        int nc = sqlite3_column_count(st);
        if (nc > SLASH_MAX_COLS) {
            nc = SLASH_MAX_COLS;
        }
        for (int c = 0; c < nc; c++) {
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_INTEGER:
                cols[c] = SLASH_INT(sqlite3_column_int64(st, c));
                break;
            case SQLITE_BLOB:
                cols[c] = SLASH_BLOB(sqlite3_column_blob(st, c), (size_t)sqlite3_column_bytes(st, c));
                break;
            default:
                cols[c] = SLASH_NULLV;
                break;
            }
        }
        if (fn != NULL) {
            ret = fn(ud, cols, nc);
            if (!sigil_is_ok(ret)) {
                break;
            }
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

static const struct slash_conn_vt sq_vt = {sq_query, sq_exec, false};

static void finish(struct sq_req *r, sigil_result res)
{
    r->res = res;
    if (!sigil_is_ok(res)) {
        strncpy(r->detail, sigil_error_detail(), sizeof r->detail - 1);
        r->detail[sizeof r->detail - 1] = '\0';
    }
}

static void commit_stats(struct slash_store *s, uint64_t t0, size_t n)
{
    atomic_fetch_add(&s->stats->commits, 1);
    atomic_fetch_add(&s->stats->requests, n);
    atomic_store(&s->stats->last_commit_ns, now_ns() - t0);
}

/* Runs reqs[0..n) in one transaction. */
static void run_group(struct slash_store *s, struct sq_req **reqs, size_t n)
{
    struct slash_tx tx = {&sq_vt, s};
    sigil_error_clear();
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        sigil_result e = db_err(s->db, "BEGIN IMMEDIATE");
        for (size_t i = 0; i < n; i++) {
            finish(reqs[i], e);
        }
        return;
    }
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        sigil_error_clear();
        sigil_result r = reqs[i]->fn(&tx, reqs[i]->arg);
        finish(reqs[i], r);
        /* A standalone request rolls back on any error; in a group only a DB error does (the rules
         * write nothing before deciding). */
        if (r.code == SIGIL_ERR_DB || (!reqs[i]->batch && !sigil_is_ok(r))) {
            failed = true;
            break;
        }
    }
    if (failed) {
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        for (size_t i = 0; i < n; i++) {
            if (reqs[i]->batch && sigil_is_ok(reqs[i]->res)) {
                reqs[i]->res = sigil_error(SIGIL_ERR_DB);
                strcpy(reqs[i]->detail, "an earlier database error aborted the group commit");
            } /* refusals stay refusals */
        }
        return;
    }
    uint64_t t0 = now_ns();
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sigil_result e = db_err(s->db, "COMMIT");
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        for (size_t i = 0; i < n; i++) {
            finish(reqs[i], e);
        }
        return;
    }
    commit_stats(s, t0, n);
}

/* True when the hint says no record is on its way (s->mu held or not: it is an atomic). */
static bool none_coming(const struct slash_store *s)
{
    return atomic_load_explicit(&s->hinted, memory_order_acquire) &&
           atomic_load_explicit(&s->incoming, memory_order_acquire) == 0;
}

/* Writer, with s->mu held and a request queued: waits (bounded) for the batch to grow. */
static void gather(struct slash_store *s)
{
    bool hinted = atomic_load_explicit(&s->hinted, memory_order_acquire);
    uint64_t delay = hinted ? s->hint_delay_ns : s->delay_ns;
    if (delay == 0 || !s->head->batch || none_coming(s)) {
        return;
    }
    /* Without a hint, only a steady stream gathers: a request after a quiet period is committed
     * at once. With one, the hint says whether more are coming. */
    if (!hinted && now_ns() - s->last_commit_ns >= delay) {
        return;
    }
    uint64_t deadline = s->head_ns + delay;
    struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    while (!s->stop && !s->urgent && s->queued < s->target && !none_coming(s)) {
        if (pthread_cond_timedwait(&s->work, &s->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
}

static void *writer_main(void *arg)
{
    struct slash_store *s = arg;
    struct sq_req *group[MAX_BATCH];
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->head == NULL && !s->stop) {
            pthread_cond_wait(&s->work, &s->mu);
        }
        if (s->head == NULL) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        gather(s);
        struct sq_req *list = s->head;
        s->head = s->tail = NULL;
        s->queued = 0;
        s->urgent = false;
        pthread_mutex_unlock(&s->mu);

        while (list != NULL) {
            size_t n = 0;
            if (!list->batch) {
                group[n++] = list;
                list = list->next;
            } else {
                while (list != NULL && list->batch && n < MAX_BATCH) {
                    group[n++] = list;
                    list = list->next;
                }
            }
            run_group(s, group, n);
            /* Wake exactly the callers of this group, each on its own semaphore: a shared
             * broadcast would wake every waiter of later groups too (a thundering herd that cost
             * ~15% of the signer's CPU in context switches). A request lives on its caller's
             * stack, so it must not be touched after its post. */
            for (size_t i = 0; i < n; i++) {
                struct sq_req *r = group[i];
                if (r->complete != NULL) {
                    r->complete(r->arg, r->res, r->detail);
                    free(r);
                } else {
                    sem_post(&r->done);
                }
            }
        }
        s->last_commit_ns = now_ns();
    }
    return NULL;
}

/* Appends r to the writer's queue; false when the store is closing. */
static bool enqueue(struct slash_store *s, struct sq_req *r)
{
    pthread_mutex_lock(&s->mu);
    if (s->stop) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    bool was_empty = s->head == NULL;
    if (was_empty) {
        s->head = r;
        s->head_ns = now_ns();
    } else {
        s->tail->next = r;
    }
    s->tail = r;
    s->queued++;
    s->urgent = s->urgent || !r->batch;
    /* The writer needs a wake-up only to start a batch, or to end a gathering one early (full,
     * a standalone request, or the last record that was coming): a signal per request would wake
     * it for nothing while it gathers. */
    if (was_empty || s->queued == s->target || !r->batch || none_coming(s)) {
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->mu);
    return true;
}

static void sq_submit(struct slash_store *s, slash_txn_fn fn, void *arg, slash_done_fn complete)
{
    struct sq_req *r = calloc(1, sizeof *r);
    if (r == NULL) {
        complete(arg, sigil_error(SIGIL_ERR_NOMEM), "out of memory queueing a slashing record");
        return;
    }
    r->fn = fn;
    r->arg = arg;
    r->batch = true;
    r->complete = complete;
    if (!enqueue(s, r)) {
        free(r);
        complete(arg, sigil_error(SIGIL_ERR_DB), "slashing database is closing");
    }
}

static sigil_result sq_run(struct slash_store *s, slash_txn_fn fn, void *arg, bool batch)
{
    struct sq_req r = {.fn = fn, .arg = arg, .batch = batch};
    if (sem_init(&r.done, 0, 0) != 0) {
        return sigil_errorf(SIGIL_ERR_DB, "cannot create a semaphore");
    }
    if (!enqueue(s, &r)) {
        sem_destroy(&r.done);
        return sigil_errorf(SIGIL_ERR_DB, "slashing database is closing");
    }
    while (sem_wait(&r.done) != 0 && errno == EINTR) {
    }
    sem_destroy(&r.done);
    if (!sigil_is_ok(r.res)) {
        return sigil_errorf(r.res.code, "%s", r.detail);
    }
    return sigil_ok();
}

static void sq_close(struct slash_store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    for (int i = 0; i < S__COUNT; i++) {
        sqlite3_finalize(s->stmts[i]);
    }
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work);
    free(s);
}

static void sq_incoming(struct slash_store *s, int delta)
{
    if (delta > 0) {
        atomic_fetch_add_explicit(&s->incoming, (unsigned)delta, memory_order_relaxed);
        atomic_store_explicit(&s->hinted, true, memory_order_release);
        return;
    }
    unsigned before = atomic_fetch_sub_explicit(&s->incoming, (unsigned)-delta, memory_order_acq_rel);
    if (before == (unsigned)-delta) {
        /* The last announced record is in, or will never come: a writer gathering for it stops
         * waiting (under the lock, so the signal cannot slip between its check and its wait). */
        pthread_mutex_lock(&s->mu);
        if (s->head != NULL) {
            pthread_cond_signal(&s->work);
        }
        pthread_mutex_unlock(&s->mu);
    }
}

static const struct slash_store_ops sq_ops = {sq_run, sq_close, sq_submit, sq_incoming};

static int version_cb(void *ud, int n, char **vals, char **names)
{
    (void)names;
    if (n >= 1 && vals[0] != NULL) {
        *(int64_t *)ud = strtoll(vals[0], NULL, 10);
    }
    return 0;
}

static sigil_result migrate(struct slash_store *s)
{
    if (sqlite3_exec(s->db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK) {
        return db_err(s->db, "BEGIN EXCLUSIVE");
    }
    sigil_result ret;
    int64_t version = 0;
    if (sqlite3_exec(s->db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(s->db, "SELECT max(version) FROM schema_version", version_cb, &version, NULL) != SQLITE_OK) {
        ret = db_err(s->db, "schema_version");
        goto out;
    }
    if (version > SLASH_SCHEMA_VERSION) {
        ret = sigil_errorf(SIGIL_ERR_UNSUPPORTED,
                           "slashing database schema version %lld is newer than this build supports (%d)",
                           (long long)version, SLASH_SCHEMA_VERSION);
        goto out;
    }
    const char *const *m = slash_migrations(false);
    for (int64_t v = version; v < SLASH_SCHEMA_VERSION; v++) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%lld)",
                 (long long)(v + 1));
        if (sqlite3_exec(s->db, m[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            ret = db_err(s->db, "migration");
            goto out;
        }
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        ret = db_err(s->db, "COMMIT");
        goto out;
    }
    return sigil_ok();
out:
    (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

sigil_result slash_sqlite_open(struct slash_store **out, const struct slash_store_ops **ops, const char *path,
                               struct slash_stats_acc *stats)
{
    sigil_result ret;
    *out = NULL;
    bool memory = strcmp(path, ":memory:") == 0;
    if (*path == '\0') {
        return sigil_errorf(SIGIL_ERR_CONFIG, "sqlite: URL needs a file path");
    }
    if (!memory) {
        /* Create the file ourselves so it is 0600 (SQLite gives the -wal/-shm files the same mode). */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            return sigil_errorf(SIGIL_ERR_IO, "cannot open slashing database file %s", path);
        }
        close(fd);
    }
    struct slash_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->work, &ca);
    pthread_condattr_destroy(&ca);
    s->stats = stats;
    s->delay_ns = COMMIT_DELAY_NS;
    s->hint_delay_ns = COMMIT_HINT_DELAY_NS;
    atomic_init(&s->hinted, false);
    atomic_init(&s->incoming, 0);
    s->target = COMMIT_TARGET;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        ret = sigil_errorf(SIGIL_ERR_DB, "cannot open sqlite database %s", path);
        goto out;
    }
    sqlite3_busy_timeout(s->db, 30000);
    sqlite3_extended_result_codes(s->db, 1);
    if ((!memory && sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) ||
        sqlite3_exec(s->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK) {
        ret = db_err(s->db, "PRAGMA");
        goto out;
    }
    SIGIL_GUARD_GOTO(migrate(s));
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        ret = sigil_errorf(SIGIL_ERR_INTERNAL, "cannot start the slashing writer thread");
        goto out;
    }
    s->thread_started = true;
    *out = s;
    *ops = &sq_ops;
    return sigil_ok();
out:
    sq_close(s);
    return ret;
}
