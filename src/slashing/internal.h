/* Internals shared by the slashing-protection store backends, the rules and the interchange code.
 *
 * The logic (rules, sign, import, export, prune) is written once against a tiny statement layer:
 * a fixed table of SQL statements (enum slash_stmt) that each backend prepares once per connection
 * and runs with typed parameters. uint64 values are stored in signed 64-bit columns as
 * (int64_t)(v ^ 2^63): the mapping is a bijection that preserves order, so comparisons, min() and
 * max() in SQL work on the stored values directly (no arithmetic is done in SQL). */
#ifndef SIGIL_SLASHING_INTERNAL_H
#define SIGIL_SLASHING_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

static inline int64_t slash_enc(uint64_t v) { return (int64_t)(v ^ (UINT64_C(1) << 63)); }
static inline uint64_t slash_dec(int64_t v) { return (uint64_t)v ^ (UINT64_C(1) << 63); }

#define SLASH_SCHEMA_VERSION 3
#define SLASH_LOCK_BLOCK     0
#define SLASH_LOCK_ATT       1
#define SLASH_LOCK_SPEND     2 /* second key: a 32-bit hash of the account address */

enum slash_stmt {
    S_GVR_INSERT,
    S_GVR_GET,
    S_VAL_INSERT,
    S_VAL_GET,
    S_VAL_LIST,
    S_VAL_ENABLE,
    S_LOCK, /* PostgreSQL only */
    S_BLOCK_STATE,
    S_ATT_STATE,
    S_BLOCK_INSERT,
    S_BLOCK_GET,
    S_BLOCK_NULLIFY,
    S_ATT_INSERT,
    S_ATT_GET,
    S_ATT_NULLIFY,
    S_LW_GET,
    S_LW_INIT_SLOT,
    S_LW_INIT_EPOCHS,
    S_LW_SET_SLOT,
    S_LW_SET_EPOCHS,
    S_BLOCK_MAX,
    S_BLOCK_MIN_GE,
    S_BLOCK_DEL_BELOW,
    S_ATT_MAX_TGT,
    S_ATT_MIN_TGT_GE,
    S_ATT_MAX_SRC_LE,
    S_ATT_DEL_BELOW,
    S_BLOCKS_ALL,
    S_ATTS_ALL,
    S_BLOCK_LATEST,
    S_ATT_MAXES,
    S_SPEND_HAS, /* spend ledger (schema v3) */
    S_SPEND_RANGE,
    S_SPEND_BUCKETS,
    S_SPEND_TOTAL_GET,
    S_SPEND_TOTAL_PUT,
    S_SPEND_INSERT,
    S_SPEND_ACCOUNTS,
    S_SPEND_PRUNE,
    S_SPEND_PRUNE_TOTALS,
    S__COUNT
};

/* SQL text of a statement: ?N placeholders; the PostgreSQL backend rewrites them to $N. */
const char *slash_sql(enum slash_stmt id, bool pg);
/* Migrations: slash_migrations(pg)[i] brings the schema from version i to i+1 (i < SLASH_SCHEMA_VERSION). */
const char *const *slash_migrations(bool pg);

enum slash_vt { SV_NULL, SV_INT, SV_BLOB };
struct slash_val {
    enum slash_vt t;
    int64_t i;
    const uint8_t *b;
    size_t n;
};
#define SLASH_INT(x)     ((struct slash_val){SV_INT, (int64_t)(x), NULL, 0})
#define SLASH_U64(x)     ((struct slash_val){SV_INT, slash_enc(x), NULL, 0})
#define SLASH_BLOB(p, l) ((struct slash_val){SV_BLOB, 0, (p), (l)})
#define SLASH_NULLV      ((struct slash_val){SV_NULL, 0, NULL, 0})
#define SLASH_MAX_COLS   8

/* Called once per result row; a non-OK result stops the query and is returned. */
typedef sigil_result (*slash_row_fn)(void *ud, const struct slash_val *cols, int ncols);

struct slash_conn_vt {
    sigil_result (*query)(void *conn, enum slash_stmt id, const struct slash_val *p, int np, slash_row_fn fn, void *ud);
    sigil_result (*exec)(void *conn, const char *sql); /* savepoints */
    bool advisory_locks;
};

/* A connection inside an open transaction. */
struct slash_tx {
    const struct slash_conn_vt *vt;
    void *conn;
};

/* A unit of work run inside one transaction. It must be safe to run again from the start (the
 * PostgreSQL backend retries on deadlock/serialization failures). Any non-OK result rolls back the
 * transaction, except inside an SQLite group commit, where only SIGIL_ERR_DB does (refusals write nothing). */
typedef sigil_result (*slash_txn_fn)(struct slash_tx *tx, void *arg);

struct slash_stats_acc {
    _Atomic uint64_t commits, requests, records, refusals, last_commit_ns;
};

/* Completion of an asynchronous request: res is what run would have returned, detail its
 * sigil_error_detail ("" when OK). Called exactly once, on the store's writer thread (or inline in
 * submit when the request cannot be queued), after the transaction committed or failed. */
typedef void (*slash_done_fn)(void *arg, sigil_result res, const char *detail);

struct slash_store;
struct slash_store_ops {
    /* batch: may share a transaction (and its fsync) with other batchable requests. */
    sigil_result (*run)(struct slash_store *s, slash_txn_fn fn, void *arg, bool batch);
    void (*close)(struct slash_store *s);
    /* Optional (NULL: callers use run): like run(.., batch=true) without waiting; arg must stay
     * valid until complete has run. close completes every queued request first. */
    void (*submit)(struct slash_store *s, slash_txn_fn fn, void *arg, slash_done_fn complete);
    /* Optional: the group-commit hint of sigil_slashing_incoming_add/done (delta > 0: records
     * announced, < 0: announced records handed over or never coming). */
    void (*incoming)(struct slash_store *s, int delta);
};

sigil_result slash_sqlite_open(struct slash_store **out, const struct slash_store_ops **ops, const char *path,
                               struct slash_stats_acc *stats);
sigil_result slash_pg_open(struct slash_store **out, const struct slash_store_ops **ops, const char *url,
                           struct slash_stats_acc *stats);

/* Runs fn in one transaction on db's store (what every public function does; for ledger.c). */
struct sigil_slashing_db;
sigil_result slash_db_run(struct sigil_slashing_db *db, slash_txn_fn fn, void *arg, bool batch);

/* Takes the transaction-scoped PostgreSQL advisory lock (kind, key), key in the int4 range; a no-op
 * on SQLite, whose single writer serialises every transaction. */
sigil_result slash_lock(struct slash_tx *tx, int kind, int64_t key);

/* Deletes spend-ledger rows and hourly totals older than the longest window (366 days) before
 * now_s, rounded down to the hour so that every total stays the sum of its bucket's rows (ledger.c). */
sigil_result slash_spend_prune(struct sigil_slashing_db *db, uint64_t now_s);

/* ---- rules (pure) ---- */
struct slash_block_state {
    bool enabled, has_lw, has_row, row_has_root;
    uint64_t lw_slot;
    uint8_t row_root[32];
};
struct slash_att_state {
    bool enabled, has_lw, identical, surrounding, surrounded;
    uint64_t lw_source, lw_target;
    int64_t n_at_target;
};
enum slash_verdict { SLASH_INSERT, SLASH_REPEAT, SLASH_REFUSE };
/* On SLASH_REFUSE, why receives one sentence naming the rule. */
enum slash_verdict slash_rule_block(const struct slash_block_state *st, uint64_t slot, const uint8_t root[32],
                                    char *why, size_t whylen);
enum slash_verdict slash_rule_attestation(const struct slash_att_state *st, uint64_t source, uint64_t target, char *why,
                                          size_t whylen);

/* ---- interchange documents ---- */
struct slash_ic_block {
    uint64_t slot;
    bool has_root;
    uint8_t root[32];
};
struct slash_ic_att {
    uint64_t source, target;
    bool has_root;
    uint8_t root[32];
};
struct slash_ic_validator {
    uint8_t pubkey[48];
    struct slash_ic_block *blocks;
    size_t nblocks;
    struct slash_ic_att *atts;
    size_t natts;
};
struct slash_ic_doc {
    uint8_t gvr[32];
    struct slash_ic_validator *v;
    size_t nv;
};
/* Parses and validates a whole EIP-3076 v5 document (strict: required fields, types, decimal strings,
 * 0x-hex of exact lengths, no unknown members). */
sigil_result slash_ic_parse(struct slash_ic_doc *out, const char *json, size_t len);
void slash_ic_free(struct slash_ic_doc *d);

#endif
