/* Public API of the slashing-protection module: the sign-time check-and-record, registration, GVR
 * pinning, interchange import/export and pruning, written once over the statement layer of
 * internal.h and run through the selected store (SQLite group commit or PostgreSQL pool). */
#include "slashing/slashing.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hex.h"
#include "slashing/internal.h"

struct vent {
    uint8_t pk[48];
    int64_t id;
    bool used;
};

struct sigil_slashing_db {
    struct slash_store *store;
    const struct slash_store_ops *ops;
    pthread_rwlock_t map_lock;
    struct vent *map;
    size_t map_cap, map_n;
    pthread_mutex_t gvr_mu;
    bool gvr_known;
    uint8_t gvr[32];
    struct slash_stats_acc stats;
};

/* ---- statement helpers ---- */

struct row {
    bool found;
    int n;
    struct slash_val v[SLASH_MAX_COLS];
    uint8_t buf[SLASH_MAX_COLS][48];
};

static sigil_result row_cb(void *ud, const struct slash_val *c, int n)
{
    struct row *r = ud;
    if (r->found) {
        return sigil_ok();
    }
    r->found = true;
    r->n = n;
    for (int i = 0; i < n; i++) {
        r->v[i] = c[i];
        if (c[i].t == SV_BLOB) {
            if (c[i].n > sizeof r->buf[i]) {
                return sigil_errorf(SIGIL_ERR_DB, "unexpected %zu-byte value in the slashing database", c[i].n);
            }
            memcpy(r->buf[i], c[i].b, c[i].n);
            r->v[i].b = r->buf[i];
        }
    }
    return sigil_ok();
}

static sigil_result q1(struct slash_tx *tx, enum slash_stmt id, const struct slash_val *p, int np, struct row *r)
{
    r->found = false;
    r->n = 0;
    return tx->vt->query(tx->conn, id, p, np, row_cb, r);
}

static sigil_result qx(struct slash_tx *tx, enum slash_stmt id, const struct slash_val *p, int np)
{
    return tx->vt->query(tx->conn, id, p, np, NULL, NULL);
}

static bool col_int(const struct row *r, int i) { return r->found && i < r->n && r->v[i].t == SV_INT; }
static bool col_root(const struct row *r, int i)
{
    return r->found && i < r->n && r->v[i].t == SV_BLOB && r->v[i].n == 32;
}

sigil_result slash_lock(struct slash_tx *tx, int kind, int64_t key)
{
    if (!tx->vt->advisory_locks) {
        return sigil_ok();
    }
    struct slash_val p[2] = {SLASH_INT(kind), SLASH_INT(key)};
    return qx(tx, S_LOCK, p, 2);
}

/* ---- pubkey -> validator id map (open addressing) ---- */

static size_t slot_of(const uint8_t pk[48], size_t cap)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 48; i++) {
        h = (h ^ pk[i]) * 1099511628211ull;
    }
    return (size_t)h & (cap - 1);
}

static bool map_get(struct sigil_slashing_db *db, const uint8_t pk[48], int64_t *id)
{
    bool found = false;
    pthread_rwlock_rdlock(&db->map_lock);
    if (db->map_cap > 0) {
        for (size_t i = slot_of(pk, db->map_cap);; i = (i + 1) & (db->map_cap - 1)) {
            if (!db->map[i].used) {
                break;
            }
            if (memcmp(db->map[i].pk, pk, 48) == 0) {
                *id = db->map[i].id;
                found = true;
                break;
            }
        }
    }
    pthread_rwlock_unlock(&db->map_lock);
    return found;
}

static void map_put_locked(struct vent *map, size_t cap, const uint8_t pk[48], int64_t id, size_t *n)
{
    for (size_t i = slot_of(pk, cap);; i = (i + 1) & (cap - 1)) {
        if (!map[i].used) {
            memcpy(map[i].pk, pk, 48);
            map[i].id = id;
            map[i].used = true;
            (*n)++;
            return;
        }
        if (memcmp(map[i].pk, pk, 48) == 0) {
            map[i].id = id;
            return;
        }
    }
}

static sigil_result map_put(struct sigil_slashing_db *db, const uint8_t pk[48], int64_t id)
{
    sigil_result ret = sigil_ok();
    pthread_rwlock_wrlock(&db->map_lock);
    if ((db->map_n + 1) * 2 > db->map_cap) {
        size_t cap = db->map_cap ? db->map_cap * 2 : 1024, n = 0;
        struct vent *m = calloc(cap, sizeof *m);
        if (m == NULL) {
            ret = sigil_error(SIGIL_ERR_NOMEM);
            goto out;
        }
        for (size_t i = 0; i < db->map_cap; i++) {
            if (db->map[i].used) {
                map_put_locked(m, cap, db->map[i].pk, db->map[i].id, &n);
            }
        }
        free(db->map);
        db->map = m;
        db->map_cap = cap;
        db->map_n = n;
    }
    map_put_locked(db->map, db->map_cap, pk, id, &db->map_n);
out:
    pthread_rwlock_unlock(&db->map_lock);
    return ret;
}

/* ---- open / close ---- */

struct vlist {
    size_t n, cap;
    int64_t *ids;
    uint8_t (*pks)[48];
};

static sigil_result vlist_cb(void *ud, const struct slash_val *c, int n)
{
    struct vlist *l = ud;
    if (n < 2 || c[0].t != SV_INT || c[1].t != SV_BLOB || c[1].n != 48) {
        return sigil_errorf(SIGIL_ERR_DB, "malformed validators row");
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int64_t *ids = realloc(l->ids, cap * sizeof *ids);
        if (ids == NULL) {
            return sigil_error(SIGIL_ERR_NOMEM);
        }
        l->ids = ids;
        uint8_t(*pks)[48] = realloc(l->pks, cap * sizeof *pks);
        if (pks == NULL) {
            return sigil_error(SIGIL_ERR_NOMEM);
        }
        l->pks = pks;
        l->cap = cap;
    }
    l->ids[l->n] = c[0].i;
    memcpy(l->pks[l->n], c[1].b, 48);
    l->n++;
    return sigil_ok();
}

static void vlist_free(struct vlist *l)
{
    free(l->ids);
    free(l->pks);
    memset(l, 0, sizeof *l);
}

static sigil_result tx_list(struct slash_tx *tx, void *arg)
{
    struct vlist *l = arg;
    l->n = 0;
    return tx->vt->query(tx->conn, S_VAL_LIST, NULL, 0, vlist_cb, l);
}

sigil_result sigil_slashing_open(struct sigil_slashing_db **out, const char *url)
{
    sigil_result ret;
    struct vlist l = {0};
    *out = NULL;
    if (url == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "no slashing database URL");
    }
    struct sigil_slashing_db *db = calloc(1, sizeof *db);
    if (db == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    pthread_rwlock_init(&db->map_lock, NULL);
    pthread_mutex_init(&db->gvr_mu, NULL);
    if (strncmp(url, "sqlite:", 7) == 0) {
        SIGIL_GUARD_GOTO(slash_sqlite_open(&db->store, &db->ops, url + 7, &db->stats));
    } else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        SIGIL_GUARD_GOTO(slash_pg_open(&db->store, &db->ops, url, &db->stats));
    } else {
        ret = sigil_errorf(SIGIL_ERR_CONFIG, "slashing database URL must start with sqlite: or postgresql://");
        goto out;
    }
    SIGIL_GUARD_GOTO(db->ops->run(db->store, tx_list, &l, false));
    for (size_t i = 0; i < l.n; i++) {
        SIGIL_GUARD_GOTO(map_put(db, l.pks[i], l.ids[i]));
    }
    *out = db;
    db = NULL;
    ret = sigil_ok();
out:
    vlist_free(&l);
    sigil_slashing_close(db);
    return ret;
}

void sigil_slashing_close(struct sigil_slashing_db *db)
{
    if (db == NULL) {
        return;
    }
    if (db->store != NULL) {
        db->ops->close(db->store);
    }
    free(db->map);
    pthread_rwlock_destroy(&db->map_lock);
    pthread_mutex_destroy(&db->gvr_mu);
    free(db);
}

sigil_result slash_db_run(struct sigil_slashing_db *db, slash_txn_fn fn, void *arg, bool batch)
{
    return db->ops->run(db->store, fn, arg, batch);
}

/* ---- GVR ---- */

struct gvr_arg {
    const uint8_t *gvr;
    uint8_t stored[32];
};

static sigil_result tx_gvr(struct slash_tx *tx, void *arg)
{
    struct gvr_arg *a = arg;
    struct slash_val p[1] = {SLASH_BLOB(a->gvr, 32)};
    struct row r;
    SIGIL_GUARD(qx(tx, S_GVR_INSERT, p, 1));
    SIGIL_GUARD(q1(tx, S_GVR_GET, NULL, 0, &r));
    if (!col_root(&r, 0)) {
        return sigil_errorf(SIGIL_ERR_DB, "metadata holds no valid genesis validators root");
    }
    memcpy(a->stored, r.v[0].b, 32);
    return sigil_ok();
}

sigil_result sigil_slashing_check_gvr(struct sigil_slashing_db *db, const uint8_t gvr[32])
{
    uint8_t pinned[32];
    pthread_mutex_lock(&db->gvr_mu);
    bool known = db->gvr_known;
    memcpy(pinned, db->gvr, 32);
    pthread_mutex_unlock(&db->gvr_mu);
    if (!known) {
        struct gvr_arg a = {.gvr = gvr};
        SIGIL_GUARD(db->ops->run(db->store, tx_gvr, &a, false));
        memcpy(pinned, a.stored, 32);
        pthread_mutex_lock(&db->gvr_mu);
        memcpy(db->gvr, pinned, 32);
        db->gvr_known = true;
        pthread_mutex_unlock(&db->gvr_mu);
    }
    if (memcmp(pinned, gvr, 32) != 0) {
        char want[67];
        sigil_hex_encode(want, pinned, 32, 1);
        return sigil_errorf(SIGIL_ERR_GVR_MISMATCH, "genesis validators root does not match the pinned %s", want);
    }
    return sigil_ok();
}

/* ---- registration ---- */

struct reg_arg {
    const uint8_t (*pks)[48];
    size_t n;
    int64_t *ids;
};

static sigil_result get_validator(struct slash_tx *tx, const uint8_t pk[48], bool *found, int64_t *id, bool *enabled)
{
    struct slash_val p[1] = {SLASH_BLOB(pk, 48)};
    struct row r;
    SIGIL_GUARD(q1(tx, S_VAL_GET, p, 1, &r));
    *found = col_int(&r, 0);
    if (*found) {
        *id = r.v[0].i;
        if (enabled != NULL) {
            *enabled = col_int(&r, 1) && r.v[1].i != 0;
        }
    }
    return sigil_ok();
}

static sigil_result upsert_validator(struct slash_tx *tx, const uint8_t pk[48], int64_t *id)
{
    struct slash_val p[1] = {SLASH_BLOB(pk, 48)};
    bool found;
    SIGIL_GUARD(qx(tx, S_VAL_INSERT, p, 1));
    SIGIL_GUARD(get_validator(tx, pk, &found, id, NULL));
    if (!found) {
        return sigil_errorf(SIGIL_ERR_DB, "validator row vanished after insert");
    }
    return sigil_ok();
}

static sigil_result tx_register(struct slash_tx *tx, void *arg)
{
    struct reg_arg *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        SIGIL_GUARD(upsert_validator(tx, a->pks[i], &a->ids[i]));
    }
    return sigil_ok();
}

static int cmp_pk(const void *a, const void *b) { return memcmp(a, b, 48); }

sigil_result sigil_slashing_register(struct sigil_slashing_db *db, const uint8_t (*pubkeys)[48], size_t n)
{
    sigil_result ret;
    if (n == 0) {
        return sigil_ok();
    }
    /* Sorted, so concurrent registrations from several processes take row locks in one order. */
    uint8_t(*pks)[48] = malloc(n * sizeof *pks);
    int64_t *ids = calloc(n, sizeof *ids);
    SIGIL_ENSURE_GOTO(pks != NULL && ids != NULL, SIGIL_ERR_NOMEM);
    memcpy(pks, pubkeys, n * sizeof *pks);
    qsort(pks, n, sizeof *pks, cmp_pk);
    struct reg_arg a = {(const uint8_t(*)[48])pks, n, ids};
    SIGIL_GUARD_GOTO(db->ops->run(db->store, tx_register, &a, false));
    for (size_t i = 0; i < n; i++) {
        SIGIL_GUARD_GOTO(map_put(db, pks[i], ids[i]));
    }
    ret = sigil_ok();
out:
    free(pks);
    free(ids);
    return ret;
}

struct lookup_arg {
    const uint8_t *pk;
    bool found, enabled;
    int64_t id;
    bool set;
    bool enable;
};

static sigil_result tx_lookup(struct slash_tx *tx, void *arg)
{
    struct lookup_arg *a = arg;
    SIGIL_GUARD(get_validator(tx, a->pk, &a->found, &a->id, &a->enabled));
    if (a->set) {
        if (!a->found) {
            return sigil_errorf(SIGIL_ERR_NOT_FOUND, "validator is not registered");
        }
        struct slash_val p[2] = {SLASH_INT(a->id), SLASH_INT(a->enable ? 1 : 0)};
        SIGIL_GUARD(qx(tx, S_VAL_ENABLE, p, 2));
    }
    return sigil_ok();
}

/* The validator id, from memory or (registered by another instance) from the database. */
static sigil_result resolve(struct sigil_slashing_db *db, const uint8_t pk[48], int64_t *id)
{
    if (map_get(db, pk, id)) {
        return sigil_ok();
    }
    struct lookup_arg a = {.pk = pk};
    SIGIL_GUARD(db->ops->run(db->store, tx_lookup, &a, false));
    if (!a.found) {
        return sigil_errorf(SIGIL_ERR_NOT_FOUND, "validator is not registered for slashing protection");
    }
    *id = a.id;
    return map_put(db, pk, a.id);
}

sigil_result sigil_slashing_set_enabled(struct sigil_slashing_db *db, const uint8_t pubkey[48], bool enabled)
{
    struct lookup_arg a = {.pk = pubkey, .set = true, .enable = enabled};
    return db->ops->run(db->store, tx_lookup, &a, false);
}

sigil_result sigil_slashing_is_registered(struct sigil_slashing_db *db, const uint8_t pubkey[48], bool *registered,
                                          bool *enabled)
{
    struct lookup_arg a = {.pk = pubkey};
    SIGIL_GUARD(db->ops->run(db->store, tx_lookup, &a, false));
    *registered = a.found;
    *enabled = a.found && a.enabled;
    return sigil_ok();
}

/* ---- signing ---- */

struct sign_arg {
    int64_t vid;
    uint64_t a, b; /* slot, or source and target */
    const uint8_t *root;
    bool inserted;
};

/* The state row R of a validator about to sign: an error unless it is registered and enabled
 * (column 0). */
static sigil_result check_enabled(const struct row *r)
{
    if (!r->found) {
        return sigil_errorf(SIGIL_ERR_NOT_FOUND, "validator is not registered for slashing protection");
    }
    if (!col_int(r, 0) || r->v[0].i == 0) {
        return sigil_errorf(SIGIL_ERR_KEY_DISABLED, "validator key is disabled");
    }
    return sigil_ok();
}

/* A rule's verdict V as a result: SLASH_REFUSE is the refusal WHY; *insert tells whether the new
 * record is to be written (SLASH_INSERT) or the request is a repeat of a signed one. */
static sigil_result apply_verdict(enum slash_verdict v, const char *why, bool *insert)
{
    *insert = v == SLASH_INSERT;
    if (v == SLASH_REFUSE) {
        return sigil_errorf(SIGIL_ERR_SLASHING, "%s", why);
    }
    return sigil_ok();
}

static sigil_result tx_sign_block(struct slash_tx *tx, void *arg)
{
    struct sign_arg *s = arg;
    struct slash_block_state st = {0};
    struct row r;
    char why[200];
    s->inserted = false;
    SIGIL_GUARD(slash_lock(tx, SLASH_LOCK_BLOCK, s->vid));
    struct slash_val p[3] = {SLASH_INT(s->vid), SLASH_U64(s->a), SLASH_BLOB(s->root, 32)};
    SIGIL_GUARD(q1(tx, S_BLOCK_STATE, p, 2, &r));
    SIGIL_GUARD(check_enabled(&r));
    st.enabled = true;
    st.has_lw = col_int(&r, 1);
    st.lw_slot = st.has_lw ? slash_dec(r.v[1].i) : 0;
    st.has_row = col_int(&r, 2);
    st.row_has_root = col_root(&r, 3);
    if (st.row_has_root) {
        memcpy(st.row_root, r.v[3].b, 32);
    }
    bool insert = false;
    SIGIL_GUARD(apply_verdict(slash_rule_block(&st, s->a, s->root, why, sizeof why), why, &insert));
    if (!insert) {
        return sigil_ok();
    }
    SIGIL_GUARD(qx(tx, S_BLOCK_INSERT, p, 3));
    if (!st.has_lw) {
        SIGIL_GUARD(qx(tx, S_LW_INIT_SLOT, p, 2));
    }
    s->inserted = true;
    return sigil_ok();
}

static sigil_result tx_sign_att(struct slash_tx *tx, void *arg)
{
    struct sign_arg *s = arg;
    struct slash_att_state st = {0};
    struct row r;
    char why[200];
    s->inserted = false;
    SIGIL_GUARD(slash_lock(tx, SLASH_LOCK_ATT, s->vid));
    struct slash_val p[4] = {SLASH_INT(s->vid), SLASH_U64(s->a), SLASH_U64(s->b), SLASH_BLOB(s->root, 32)};
    SIGIL_GUARD(q1(tx, S_ATT_STATE, p, 4, &r));
    SIGIL_GUARD(check_enabled(&r));
    st.enabled = true;
    st.has_lw = col_int(&r, 1) && col_int(&r, 2);
    st.lw_source = st.has_lw ? slash_dec(r.v[1].i) : 0;
    st.lw_target = st.has_lw ? slash_dec(r.v[2].i) : 0;
    st.n_at_target = col_int(&r, 3) ? r.v[3].i : 0;
    st.identical = col_int(&r, 4) && r.v[4].i != 0;
    st.surrounding = col_int(&r, 5) && r.v[5].i != 0;
    st.surrounded = col_int(&r, 6) && r.v[6].i != 0;
    bool insert = false;
    SIGIL_GUARD(apply_verdict(slash_rule_attestation(&st, s->a, s->b, why, sizeof why), why, &insert));
    if (!insert) {
        return sigil_ok();
    }
    SIGIL_GUARD(qx(tx, S_ATT_INSERT, p, 4));
    if (!st.has_lw) {
        SIGIL_GUARD(qx(tx, S_LW_INIT_EPOCHS, p, 3));
    }
    s->inserted = true;
    return sigil_ok();
}

static void count_outcome(struct sigil_slashing_db *db, sigil_result r, bool inserted)
{
    if (sigil_is_ok(r) && inserted) {
        atomic_fetch_add(&db->stats.records, 1);
    } else if (r.code == SIGIL_ERR_SLASHING) {
        atomic_fetch_add(&db->stats.refusals, 1);
    }
}

static sigil_result sign_common(struct sigil_slashing_db *db, const uint8_t pubkey[48], slash_txn_fn fn,
                                struct sign_arg *a, const uint8_t gvr[32])
{
    if (pubkey == NULL || a->root == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "pubkey and signing root are required");
    }
    if (gvr != NULL) {
        SIGIL_GUARD(sigil_slashing_check_gvr(db, gvr));
    }
    SIGIL_GUARD(resolve(db, pubkey, &a->vid));
    sigil_result r = db->ops->run(db->store, fn, a, true);
    count_outcome(db, r, a->inserted);
    return r;
}

/* One asynchronous check-and-record: owns copies of everything the transaction reads. `a` comes
 * first because the store hands the completion the transaction's argument (&a). */
struct async_sign {
    struct sign_arg a;
    struct sigil_slashing_db *db;
    uint8_t root[32];
    sigil_slashing_done_fn done;
    void *ctx;
};

static void async_sign_done(void *arg, sigil_result r, const char *detail)
{
    struct async_sign *as = (struct async_sign *)arg;
    count_outcome(as->db, r, as->a.inserted);
    /* the detail belongs to the caller's thread-local slot, as with the synchronous call */
    sigil_error_clear();
    if (!sigil_is_ok(r)) {
        r = sigil_errorf(r.code, "%s", detail);
    }
    sigil_slashing_done_fn done = as->done;
    void *ctx = as->ctx;
    free(as);
    done(ctx, r);
}

static void sign_common_async(struct sigil_slashing_db *db, const uint8_t pubkey[48], slash_txn_fn fn, uint64_t a,
                              uint64_t b, const uint8_t root[32], const uint8_t gvr[32], sigil_slashing_done_fn done,
                              void *ctx)
{
    sigil_result ret = sigil_ok();
    struct async_sign *as = NULL;
    if (pubkey == NULL || root == NULL) {
        ret = sigil_errorf(SIGIL_ERR_ARG, "pubkey and signing root are required");
        goto out;
    }
    as = calloc(1, sizeof *as);
    SIGIL_ENSURE_GOTO(as != NULL, SIGIL_ERR_NOMEM);
    as->db = db;
    as->a.a = a;
    as->a.b = b;
    memcpy(as->root, root, 32);
    as->a.root = as->root;
    as->done = done;
    as->ctx = ctx;
    /* The in-memory fast paths of these two make the common case non-blocking; a miss waits for
     * one database round trip, like the synchronous call. */
    if (gvr != NULL) {
        SIGIL_GUARD_GOTO(sigil_slashing_check_gvr(db, gvr));
    }
    SIGIL_GUARD_GOTO(resolve(db, pubkey, &as->a.vid));
    if (db->ops->submit != NULL) {
        db->ops->submit(db->store, fn, &as->a, async_sign_done);
        return;
    }
    ret = db->ops->run(db->store, fn, &as->a, true);
    count_outcome(db, ret, as->a.inserted);
out:
    free(as);
    done(ctx, ret);
}

void sigil_slashing_sign_block_async(struct sigil_slashing_db *db, const uint8_t pubkey[48], uint64_t slot,
                                     const uint8_t signing_root[32], const uint8_t gvr[32], sigil_slashing_done_fn done,
                                     void *ctx)
{
    sign_common_async(db, pubkey, tx_sign_block, slot, 0, signing_root, gvr, done, ctx);
}

void sigil_slashing_sign_attestation_async(struct sigil_slashing_db *db, const uint8_t pubkey[48],
                                           uint64_t source_epoch, uint64_t target_epoch, const uint8_t signing_root[32],
                                           const uint8_t gvr[32], sigil_slashing_done_fn done, void *ctx)
{
    sign_common_async(db, pubkey, tx_sign_att, source_epoch, target_epoch, signing_root, gvr, done, ctx);
}

bool sigil_slashing_async_native(const struct sigil_slashing_db *db) { return db->ops->submit != NULL; }

void sigil_slashing_incoming_add(struct sigil_slashing_db *db, unsigned n)
{
    if (db->ops->incoming != NULL && n > 0 && n <= INT_MAX) {
        db->ops->incoming(db->store, (int)n);
    }
}

void sigil_slashing_incoming_done(struct sigil_slashing_db *db, unsigned n)
{
    if (db->ops->incoming != NULL && n > 0 && n <= INT_MAX) {
        db->ops->incoming(db->store, -(int)n);
    }
}

sigil_result sigil_slashing_sign_block(struct sigil_slashing_db *db, const uint8_t pubkey[48], uint64_t slot,
                                       const uint8_t signing_root[32], const uint8_t gvr[32])
{
    struct sign_arg a = {.a = slot, .root = signing_root};
    return sign_common(db, pubkey, tx_sign_block, &a, gvr);
}

sigil_result sigil_slashing_sign_attestation(struct sigil_slashing_db *db, const uint8_t pubkey[48],
                                             uint64_t source_epoch, uint64_t target_epoch,
                                             const uint8_t signing_root[32], const uint8_t gvr[32])
{
    struct sign_arg a = {.a = source_epoch, .b = target_epoch, .root = signing_root};
    return sign_common(db, pubkey, tx_sign_att, &a, gvr);
}

/* ---- import ---- */

struct import_arg {
    const struct slash_ic_doc *doc;
    const uint8_t (*filter)[48];
    size_t nfilter;
    int64_t *ids;
    bool *ok;
    struct sigil_slashing_import_report rep;
    char first_failure[160];
};

static bool in_filter(const uint8_t (*filter)[48], size_t n, const uint8_t pk[48])
{
    if (filter == NULL || n == 0) {
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (memcmp(filter[i], pk, 48) == 0) {
            return true;
        }
    }
    return false;
}

/* Merges one record: a new row is inserted; an existing identical row (or existing NULL root) is
 * left alone; anything else at the same slot / vote becomes a NULL root, which blocks every new
 * signing there (the imported history is slashable at that point already). */
static sigil_result merge_record(struct slash_tx *tx, enum slash_stmt get, enum slash_stmt ins, enum slash_stmt nul,
                                 const struct slash_val *key, int nkey, bool has_root, const uint8_t *root,
                                 size_t *count)
{
    struct row r;
    struct slash_val p[4];
    memcpy(p, key, (size_t)nkey * sizeof *p);
    SIGIL_GUARD(q1(tx, get, p, nkey, &r));
    if (!r.found) {
        p[nkey] = has_root ? SLASH_BLOB(root, 32) : SLASH_NULLV;
        SIGIL_GUARD(qx(tx, ins, p, nkey + 1));
        (*count)++;
        return sigil_ok();
    }
    if (!col_root(&r, 1) || (has_root && memcmp(r.v[1].b, root, 32) == 0)) {
        return sigil_ok();
    }
    SIGIL_GUARD(qx(tx, nul, p, nkey));
    (*count)++;
    return sigil_ok();
}

static sigil_result import_one(struct slash_tx *tx, const struct slash_ic_validator *v, int64_t *id,
                               struct sigil_slashing_import_report *rep)
{
    SIGIL_GUARD(upsert_validator(tx, v->pubkey, id));
    SIGIL_GUARD(slash_lock(tx, SLASH_LOCK_BLOCK, *id));
    SIGIL_GUARD(slash_lock(tx, SLASH_LOCK_ATT, *id));
    uint64_t min_slot = UINT64_MAX, min_src = UINT64_MAX, min_tgt = UINT64_MAX;
    for (size_t i = 0; i < v->nblocks; i++) {
        const struct slash_ic_block *b = &v->blocks[i];
        struct slash_val key[2] = {SLASH_INT(*id), SLASH_U64(b->slot)};
        SIGIL_GUARD(
            merge_record(tx, S_BLOCK_GET, S_BLOCK_INSERT, S_BLOCK_NULLIFY, key, 2, b->has_root, b->root, &rep->blocks));
        min_slot = b->slot < min_slot ? b->slot : min_slot;
    }
    for (size_t i = 0; i < v->natts; i++) {
        const struct slash_ic_att *a = &v->atts[i];
        struct slash_val key[3] = {SLASH_INT(*id), SLASH_U64(a->source), SLASH_U64(a->target)};
        SIGIL_GUARD(
            merge_record(tx, S_ATT_GET, S_ATT_INSERT, S_ATT_NULLIFY, key, 3, a->has_root, a->root, &rep->attestations));
        min_src = a->source < min_src ? a->source : min_src;
        min_tgt = a->target < min_tgt ? a->target : min_tgt;
    }
    /* Low watermarks (EIP-3076 conditions 2, 4, 5) from the imported minimums when the key has none
     * yet. An existing watermark is never lowered, and not raised either: the complete strategy keeps
     * every record, so the span between an earlier history and a later import is fully known
     * (the suite's single_message_gap case requires signing there to succeed). */
    struct row lw;
    struct slash_val p[3] = {SLASH_INT(*id)};
    SIGIL_GUARD(q1(tx, S_LW_GET, p, 1, &lw));
    if (v->nblocks > 0 && !col_int(&lw, 0)) {
        p[1] = SLASH_U64(min_slot);
        SIGIL_GUARD(qx(tx, S_LW_SET_SLOT, p, 2));
    }
    if (v->natts > 0 && !(col_int(&lw, 1) && col_int(&lw, 2))) {
        p[1] = SLASH_U64(min_src);
        p[2] = SLASH_U64(min_tgt);
        SIGIL_GUARD(qx(tx, S_LW_SET_EPOCHS, p, 3));
    }
    return sigil_ok();
}

static sigil_result tx_import(struct slash_tx *tx, void *arg)
{
    struct import_arg *a = arg;
    memset(&a->rep, 0, sizeof a->rep);
    a->first_failure[0] = '\0';
    for (size_t i = 0; i < a->doc->nv; i++) {
        const struct slash_ic_validator *v = &a->doc->v[i];
        a->ok[i] = false;
        if (!in_filter(a->filter, a->nfilter, v->pubkey)) {
            continue;
        }
        struct sigil_slashing_import_report part = {0};
        SIGIL_GUARD(tx->vt->exec(tx->conn, "SAVEPOINT sigil_import"));
        sigil_result r = import_one(tx, v, &a->ids[i], &part);
        if (sigil_is_ok(r)) {
            SIGIL_GUARD(tx->vt->exec(tx->conn, "RELEASE SAVEPOINT sigil_import"));
            a->ok[i] = true;
            a->rep.validators++;
            a->rep.blocks += part.blocks;
            a->rep.attestations += part.attestations;
            continue;
        }
        if (a->first_failure[0] == '\0') {
            snprintf(a->first_failure, sizeof a->first_failure, "data[%zu]: %s", i, sigil_error_detail());
        }
        SIGIL_GUARD(tx->vt->exec(tx->conn, "ROLLBACK TO SAVEPOINT sigil_import"));
        SIGIL_GUARD(tx->vt->exec(tx->conn, "RELEASE SAVEPOINT sigil_import"));
        a->rep.skipped++;
    }
    return sigil_ok();
}

sigil_result sigil_slashing_import(struct sigil_slashing_db *db, const char *json, size_t len,
                                   const uint8_t (*filter)[48], size_t nfilter,
                                   struct sigil_slashing_import_report *rep)
{
    sigil_result ret;
    struct slash_ic_doc doc;
    struct import_arg a = {.filter = filter, .nfilter = nfilter};
    if (rep != NULL) {
        memset(rep, 0, sizeof *rep);
    }
    if (len > SIGIL_SLASHING_IMPORT_MAX) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "interchange file is %zu bytes, at most %u allowed", len,
                            SIGIL_SLASHING_IMPORT_MAX);
    }
    SIGIL_GUARD(slash_ic_parse(&doc, json, len));
    SIGIL_GUARD_GOTO(sigil_slashing_check_gvr(db, doc.gvr));
    a.doc = &doc;
    a.ids = calloc(doc.nv ? doc.nv : 1, sizeof *a.ids);
    a.ok = calloc(doc.nv ? doc.nv : 1, sizeof *a.ok);
    SIGIL_ENSURE_GOTO(a.ids != NULL && a.ok != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(db->ops->run(db->store, tx_import, &a, false));
    for (size_t i = 0; i < doc.nv; i++) {
        if (a.ok[i]) {
            SIGIL_GUARD_GOTO(map_put(db, doc.v[i].pubkey, a.ids[i]));
        }
    }
    if (rep != NULL) {
        *rep = a.rep;
    }
    ret = sigil_ok();
    if (a.rep.skipped > 0) {
        /* The detail reports the partial import; the result stays OK (the rest was imported). */
        (void)sigil_errorf(SIGIL_ERR_DB, "%zu validator(s) skipped; first: %s", a.rep.skipped, a.first_failure);
    }
out:
    free(a.ids);
    free(a.ok);
    slash_ic_free(&doc);
    return ret;
}

/* ---- export ---- */

struct export_arg {
    bool minimal;
    const uint8_t (*filter)[48];
    size_t nfilter;
    json_t *doc;
};

static json_t *u64_json(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return json_string(buf);
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char buf[2 * 48 + 3];
    return json_string(sigil_hex_encode(buf, b, n, 1));
}

static sigil_result append_block(json_t *arr, uint64_t slot, const struct slash_val *root)
{
    json_t *o = json_object();
    if (o == NULL || json_object_set_new(o, "slot", u64_json(slot)) != 0 ||
        (root != NULL && root->t == SV_BLOB && root->n == 32 &&
         json_object_set_new(o, "signing_root", hex_json(root->b, 32)) != 0) ||
        json_array_append_new(arr, o) != 0) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    return sigil_ok();
}

static sigil_result append_att(json_t *arr, uint64_t src, uint64_t tgt, const struct slash_val *root)
{
    json_t *o = json_object();
    if (o == NULL || json_object_set_new(o, "source_epoch", u64_json(src)) != 0 ||
        json_object_set_new(o, "target_epoch", u64_json(tgt)) != 0 ||
        (root != NULL && root->t == SV_BLOB && root->n == 32 &&
         json_object_set_new(o, "signing_root", hex_json(root->b, 32)) != 0) ||
        json_array_append_new(arr, o) != 0) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    return sigil_ok();
}

static sigil_result blocks_cb(void *ud, const struct slash_val *c, int n)
{
    if (n < 2 || c[0].t != SV_INT) {
        return sigil_errorf(SIGIL_ERR_DB, "malformed signed_blocks row");
    }
    return append_block(ud, slash_dec(c[0].i), &c[1]);
}

static sigil_result atts_cb(void *ud, const struct slash_val *c, int n)
{
    if (n < 3 || c[0].t != SV_INT || c[1].t != SV_INT) {
        return sigil_errorf(SIGIL_ERR_DB, "malformed signed_attestations row");
    }
    return append_att(ud, slash_dec(c[0].i), slash_dec(c[1].i), &c[2]);
}

static sigil_result export_minimal(struct slash_tx *tx, int64_t id, json_t *blocks, json_t *atts)
{
    struct row b, m, lw, r;
    struct slash_val p[3] = {SLASH_INT(id)};
    SIGIL_GUARD(q1(tx, S_BLOCK_LATEST, p, 1, &b));
    SIGIL_GUARD(q1(tx, S_ATT_MAXES, p, 1, &m));
    SIGIL_GUARD(q1(tx, S_LW_GET, p, 1, &lw));
    bool has_b = col_int(&b, 0), has_lwb = col_int(&lw, 0);
    if (has_b || has_lwb) {
        uint64_t slot = has_b ? slash_dec(b.v[0].i) : 0;
        const struct slash_val *root = has_b ? &b.v[1] : NULL;
        if (has_lwb && slash_dec(lw.v[0].i) > slot) {
            slot = slash_dec(lw.v[0].i);
            root = NULL;
        }
        SIGIL_GUARD(append_block(blocks, slot, root));
    }
    bool has_a = col_int(&m, 0) && col_int(&m, 1), has_lwa = col_int(&lw, 1) && col_int(&lw, 2);
    if (has_a || has_lwa) {
        uint64_t src = has_a ? slash_dec(m.v[0].i) : 0, tgt = has_a ? slash_dec(m.v[1].i) : 0;
        if (has_lwa) {
            src = slash_dec(lw.v[1].i) > src ? slash_dec(lw.v[1].i) : src;
            tgt = slash_dec(lw.v[2].i) > tgt ? slash_dec(lw.v[2].i) : tgt;
        }
        /* The watermark pair (max source, max target) keeps its root only if exactly that vote exists. */
        p[1] = SLASH_U64(src);
        p[2] = SLASH_U64(tgt);
        SIGIL_GUARD(q1(tx, S_ATT_GET, p, 3, &r));
        SIGIL_GUARD(append_att(atts, src, tgt, r.found ? &r.v[1] : NULL));
    }
    return sigil_ok();
}

static sigil_result tx_export(struct slash_tx *tx, void *arg)
{
    struct export_arg *a = arg;
    struct vlist l = {0};
    struct row g;
    sigil_result ret;
    json_decref(a->doc);
    a->doc = NULL;
    SIGIL_GUARD(q1(tx, S_GVR_GET, NULL, 0, &g));
    if (!col_root(&g, 0)) {
        return sigil_errorf(SIGIL_ERR_NOT_FOUND, "no genesis validators root is pinned yet: nothing to export");
    }
    json_t *doc = json_pack("{s:{s:s,s:o},s:[]}", "metadata", "interchange_format_version", "5",
                            "genesis_validators_root", hex_json(g.v[0].b, 32), "data");
    SIGIL_ENSURE(doc != NULL, SIGIL_ERR_NOMEM);
    json_t *data = json_object_get(doc, "data");
    SIGIL_GUARD_GOTO(tx->vt->query(tx->conn, S_VAL_LIST, NULL, 0, vlist_cb, &l));
    for (size_t i = 0; i < l.n; i++) {
        if (!in_filter(a->filter, a->nfilter, l.pks[i])) {
            continue;
        }
        json_t *blocks = json_array(), *atts = json_array();
        json_t *e = json_pack("{s:o,s:o,s:o}", "pubkey", hex_json(l.pks[i], 48), "signed_blocks", blocks,
                              "signed_attestations", atts);
        SIGIL_ENSURE_GOTO(e != NULL && json_array_append_new(data, e) == 0, SIGIL_ERR_NOMEM);
        if (a->minimal) {
            SIGIL_GUARD_GOTO(export_minimal(tx, l.ids[i], blocks, atts));
        } else {
            struct slash_val p[1] = {SLASH_INT(l.ids[i])};
            SIGIL_GUARD_GOTO(tx->vt->query(tx->conn, S_BLOCKS_ALL, p, 1, blocks_cb, blocks));
            SIGIL_GUARD_GOTO(tx->vt->query(tx->conn, S_ATTS_ALL, p, 1, atts_cb, atts));
        }
    }
    a->doc = doc;
    doc = NULL;
    ret = sigil_ok();
out:
    json_decref(doc);
    vlist_free(&l);
    return ret;
}

sigil_result sigil_slashing_export(struct sigil_slashing_db *db, json_t **out, bool minimal,
                                   const uint8_t (*filter)[48], size_t nfilter)
{
    struct export_arg a = {minimal, filter, nfilter, NULL};
    *out = NULL;
    sigil_result r = db->ops->run(db->store, tx_export, &a, false);
    if (!sigil_is_ok(r)) {
        json_decref(a.doc);
        return r;
    }
    *out = a.doc;
    return sigil_ok();
}

/* ---- pruning ---- */

struct prune_arg {
    int64_t id;
    uint64_t keep_slots, keep_epochs;
};

static sigil_result opt_u64(struct slash_tx *tx, enum slash_stmt id, const struct slash_val *p, int np, bool *has,
                            uint64_t *v)
{
    struct row r;
    SIGIL_GUARD(q1(tx, id, p, np, &r));
    *has = col_int(&r, 0);
    *v = *has ? slash_dec(r.v[0].i) : 0;
    return sigil_ok();
}

static sigil_result tx_prune_one(struct slash_tx *tx, void *arg)
{
    struct prune_arg *a = arg;
    struct row lw;
    struct slash_val p[3] = {SLASH_INT(a->id)};
    bool has;
    uint64_t max;
    SIGIL_GUARD(slash_lock(tx, SLASH_LOCK_BLOCK, a->id));
    SIGIL_GUARD(slash_lock(tx, SLASH_LOCK_ATT, a->id));
    SIGIL_GUARD(q1(tx, S_LW_GET, p, 1, &lw));

    SIGIL_GUARD(opt_u64(tx, S_BLOCK_MAX, p, 1, &has, &max));
    if (has) {
        uint64_t point = max >= a->keep_slots ? max - a->keep_slots + 1 : 0, newslot;
        bool has_lw = col_int(&lw, 0);
        uint64_t lw_slot = has_lw ? slash_dec(lw.v[0].i) : 0;
        uint64_t wm = has_lw && lw_slot > point ? lw_slot : point;
        bool found;
        p[1] = SLASH_U64(wm);
        SIGIL_GUARD(opt_u64(tx, S_BLOCK_MIN_GE, p, 2, &found, &newslot));
        if (!found) {
            newslot = wm;
        }
        if (!has_lw || newslot > lw_slot) {
            p[1] = SLASH_U64(newslot);
            SIGIL_GUARD(qx(tx, S_LW_SET_SLOT, p, 2));
        }
        p[1] = SLASH_U64(newslot);
        SIGIL_GUARD(qx(tx, S_BLOCK_DEL_BELOW, p, 2));
    }

    SIGIL_GUARD(opt_u64(tx, S_ATT_MAX_TGT, p, 1, &has, &max));
    if (has) {
        uint64_t point = max >= a->keep_epochs ? max - a->keep_epochs + 1 : 0, newtgt, newsrc;
        bool has_lw = col_int(&lw, 1) && col_int(&lw, 2), found;
        uint64_t lw_src = has_lw ? slash_dec(lw.v[1].i) : 0, lw_tgt = has_lw ? slash_dec(lw.v[2].i) : 0;
        uint64_t wm = has_lw && lw_tgt > point ? lw_tgt : point;
        p[1] = SLASH_U64(wm);
        SIGIL_GUARD(opt_u64(tx, S_ATT_MIN_TGT_GE, p, 2, &found, &newtgt));
        if (!found) {
            newtgt = wm;
        }
        /* The source watermark covers every vote that is deleted, so no new vote can surround one of
         * them even if the history held surrounding pairs. */
        p[1] = SLASH_U64(newtgt);
        SIGIL_GUARD(opt_u64(tx, S_ATT_MAX_SRC_LE, p, 2, &found, &newsrc));
        if (!found || (has_lw && lw_src > newsrc)) {
            newsrc = has_lw ? lw_src : 0;
        }
        if (!has_lw || newtgt > lw_tgt || newsrc > lw_src) {
            if (has_lw && lw_tgt > newtgt) {
                newtgt = lw_tgt;
            }
            p[1] = SLASH_U64(newsrc);
            p[2] = SLASH_U64(newtgt);
            SIGIL_GUARD(qx(tx, S_LW_SET_EPOCHS, p, 3));
        }
        p[1] = SLASH_U64(newtgt);
        SIGIL_GUARD(qx(tx, S_ATT_DEL_BELOW, p, 2));
    }
    return sigil_ok();
}

sigil_result sigil_slashing_prune(struct sigil_slashing_db *db, uint64_t keep_epochs, uint64_t slots_per_epoch)
{
    sigil_result ret;
    struct vlist l = {0};
    if (keep_epochs == 0 || slots_per_epoch == 0 || keep_epochs > UINT64_MAX / slots_per_epoch) {
        return sigil_errorf(SIGIL_ERR_ARG, "keep_epochs and slots_per_epoch must be positive and their product "
                                           "must fit in 64 bits");
    }
    SIGIL_GUARD_GOTO(db->ops->run(db->store, tx_list, &l, false));
    for (size_t i = 0; i < l.n; i++) {
        /* One transaction per validator: signing for the others is never blocked for long. */
        struct prune_arg a = {l.ids[i], keep_epochs * slots_per_epoch, keep_epochs};
        SIGIL_GUARD_GOTO(db->ops->run(db->store, tx_prune_one, &a, false));
    }
    /* The wallet spend ledger: rows older than the longest window no policy can ask for. */
    SIGIL_GUARD_GOTO(slash_spend_prune(db, (uint64_t)time(NULL)));
    ret = sigil_ok();
out:
    vlist_free(&l);
    return ret;
}

void sigil_slashing_stats(struct sigil_slashing_db *db, struct sigil_slashing_stats *out)
{
    out->commits = atomic_load(&db->stats.commits);
    out->records = atomic_load(&db->stats.records);
    out->refusals = atomic_load(&db->stats.refusals);
    out->last_commit_us = (double)atomic_load(&db->stats.last_commit_ns) / 1000.0;
    uint64_t reqs = atomic_load(&db->stats.requests);
    out->avg_batch = out->commits ? (double)reqs / (double)out->commits : 0.0;
}
