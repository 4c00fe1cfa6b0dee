/* The statement table and the schema migrations for both backends.
 *
 * Schema (version 2):
 *   validators(id, public_key UNIQUE, enabled)
 *   signed_blocks(validator_id, slot, signing_root NULL)            UNIQUE(validator_id, slot)
 *   signed_attestations(validator_id, source_epoch, target_epoch, signing_root NULL)
 *       UNIQUE(validator_id, target_epoch, source_epoch) "sa_target", INDEX(validator_id, source_epoch) "sa_source"
 *   low_watermarks(validator_id UNIQUE, slot NULL, source_epoch NULL, target_epoch NULL)  both epochs or neither
 *   metadata(id = 1, genesis_validators_root)
 *   spend_ledger(account, digest, amount, time)  UNIQUE(account, digest), INDEX(account, time, amount) "spend_time"
 *       (schema v3: the wallet policy's rolling spend windows; amount is 32 bytes big-endian, time is
 *       slash_enc(unix seconds); sums are done in C because amounts are 256-bit; the index covers the
 *       window scan, which then never touches the table: 10x faster at 10,000 rows in a window; the
 *       prune deletes one account's old rows at a time through it, and its totals through the key below)
 *   spend_totals(account, bucket, total)  PRIMARY KEY(account, bucket)
 *       (schema v3: per account, the sum of the ledger's amounts in each hour, bucket = floor(time / 3600)
 *       as slash_enc, total 32 bytes big-endian saturating at 2^256-1; written in the same transaction
 *       as each ledger row, so a window costs its whole hours here plus one index range of the ledger
 *       for the part of its first hour that it covers, whatever the account's volume)
 *   schema_version(version)
 * slot and epochs are BIGINT holding slash_enc(v) (see internal.h). A NULL signing_root is an imported
 * record without a root: it blocks every new signing at that slot / target epoch. Several rows may
 * share a target epoch (imported slashable data); each is kept so the surround checks see it. */
#include "slashing/internal.h"

static const char *const sql_common[S__COUNT] = {
    [S_GVR_INSERT] = "INSERT INTO metadata(id, genesis_validators_root) VALUES (1, ?1) ON CONFLICT(id) DO NOTHING",
    [S_GVR_GET] = "SELECT genesis_validators_root FROM metadata WHERE id = 1",
    [S_VAL_INSERT] = "INSERT INTO validators(public_key, enabled) VALUES (?1, 1) ON CONFLICT(public_key) DO NOTHING",
    [S_VAL_GET] = "SELECT id, enabled FROM validators WHERE public_key = ?1",
    [S_VAL_LIST] = "SELECT id, public_key, enabled FROM validators ORDER BY id",
    [S_VAL_ENABLE] = "UPDATE validators SET enabled = ?2 WHERE id = ?1",
    [S_LOCK] = "SELECT pg_advisory_xact_lock(?1::int, ?2::int)",
    [S_BLOCK_STATE] = "SELECT v.enabled, lw.slot, b.slot, b.signing_root FROM validators v"
                      " LEFT JOIN low_watermarks lw ON lw.validator_id = v.id"
                      " LEFT JOIN signed_blocks b ON b.validator_id = v.id AND b.slot = ?2 WHERE v.id = ?1",
    [S_BLOCK_INSERT] = "INSERT INTO signed_blocks(validator_id, slot, signing_root) VALUES (?1, ?2, ?3)",
    [S_BLOCK_GET] = "SELECT 1, signing_root FROM signed_blocks WHERE validator_id = ?1 AND slot = ?2",
    [S_BLOCK_NULLIFY] = "UPDATE signed_blocks SET signing_root = NULL WHERE validator_id = ?1 AND slot = ?2",
    [S_ATT_INSERT] = "INSERT INTO signed_attestations(validator_id, source_epoch, target_epoch, signing_root)"
                     " VALUES (?1, ?2, ?3, ?4)",
    [S_ATT_GET] = "SELECT 1, signing_root FROM signed_attestations"
                  " WHERE validator_id = ?1 AND target_epoch = ?3 AND source_epoch = ?2",
    [S_ATT_NULLIFY] = "UPDATE signed_attestations SET signing_root = NULL"
                      " WHERE validator_id = ?1 AND target_epoch = ?3 AND source_epoch = ?2",
    [S_LW_GET] = "SELECT slot, source_epoch, target_epoch FROM low_watermarks WHERE validator_id = ?1",
    [S_LW_INIT_SLOT] = "INSERT INTO low_watermarks(validator_id, slot) VALUES (?1, ?2) ON CONFLICT(validator_id)"
                       " DO UPDATE SET slot = COALESCE(low_watermarks.slot, excluded.slot)",
    [S_LW_INIT_EPOCHS] = "INSERT INTO low_watermarks(validator_id, source_epoch, target_epoch) VALUES (?1, ?2, ?3)"
                         " ON CONFLICT(validator_id) DO UPDATE SET"
                         " source_epoch = COALESCE(low_watermarks.source_epoch, excluded.source_epoch),"
                         " target_epoch = COALESCE(low_watermarks.target_epoch, excluded.target_epoch)",
    [S_LW_SET_SLOT] = "INSERT INTO low_watermarks(validator_id, slot) VALUES (?1, ?2) ON CONFLICT(validator_id)"
                      " DO UPDATE SET slot = excluded.slot",
    [S_LW_SET_EPOCHS] = "INSERT INTO low_watermarks(validator_id, source_epoch, target_epoch) VALUES (?1, ?2, ?3)"
                        " ON CONFLICT(validator_id) DO UPDATE SET source_epoch = excluded.source_epoch,"
                        " target_epoch = excluded.target_epoch",
    [S_BLOCK_MAX] = "SELECT max(slot) FROM signed_blocks WHERE validator_id = ?1",
    [S_BLOCK_MIN_GE] = "SELECT min(slot) FROM signed_blocks WHERE validator_id = ?1 AND slot >= ?2",
    [S_BLOCK_DEL_BELOW] = "DELETE FROM signed_blocks WHERE validator_id = ?1 AND slot < ?2",
    [S_ATT_MAX_TGT] = "SELECT max(target_epoch) FROM signed_attestations WHERE validator_id = ?1",
    [S_ATT_MIN_TGT_GE] = "SELECT min(target_epoch) FROM signed_attestations WHERE validator_id = ?1"
                         " AND target_epoch >= ?2",
    [S_ATT_MAX_SRC_LE] = "SELECT max(source_epoch) FROM signed_attestations WHERE validator_id = ?1"
                         " AND target_epoch <= ?2",
    [S_ATT_DEL_BELOW] = "DELETE FROM signed_attestations WHERE validator_id = ?1 AND target_epoch < ?2",
    [S_BLOCKS_ALL] = "SELECT slot, signing_root FROM signed_blocks WHERE validator_id = ?1 ORDER BY slot",
    [S_ATTS_ALL] = "SELECT source_epoch, target_epoch, signing_root FROM signed_attestations"
                   " WHERE validator_id = ?1 ORDER BY target_epoch, source_epoch",
    [S_BLOCK_LATEST] = "SELECT slot, signing_root FROM signed_blocks WHERE validator_id = ?1"
                       " ORDER BY slot DESC LIMIT 1",
    [S_ATT_MAXES] = "SELECT max(source_epoch), max(target_epoch) FROM signed_attestations WHERE validator_id = ?1",
    [S_SPEND_HAS] = "SELECT 1 FROM spend_ledger WHERE account = ?1 AND digest = ?2",
    [S_SPEND_RANGE] = "SELECT time, amount FROM spend_ledger WHERE account = ?1 AND time >= ?2 AND time <= ?3",
    [S_SPEND_BUCKETS] = "SELECT bucket, total FROM spend_totals WHERE account = ?1 AND bucket >= ?2",
    [S_SPEND_TOTAL_GET] = "SELECT bucket, total FROM spend_totals WHERE account = ?1 AND bucket = ?2",
    [S_SPEND_TOTAL_PUT] = "INSERT INTO spend_totals(account, bucket, total) VALUES (?1, ?2, ?3)"
                          " ON CONFLICT(account, bucket) DO UPDATE SET total = excluded.total",
    [S_SPEND_INSERT] = "INSERT INTO spend_ledger(account, digest, amount, time) VALUES (?1, ?2, ?3, ?4)"
                       " ON CONFLICT(account, digest) DO NOTHING",
    /* The accounts with ledger rows before ?1 (a total exists only for an hour with rows), by a loose
     * index scan: two index seeks per account (the next account, its oldest row), whatever the
     * number of rows; a DISTINCT would read them all. */
    [S_SPEND_ACCOUNTS] = "WITH RECURSIVE a(account) AS ("
                         "SELECT (SELECT account FROM spend_ledger ORDER BY account LIMIT 1) UNION ALL"
                         " SELECT (SELECT account FROM spend_ledger WHERE account > a.account ORDER BY account LIMIT 1)"
                         " FROM a WHERE a.account IS NOT NULL)"
                         " SELECT account FROM a WHERE account IS NOT NULL"
                         " AND EXISTS(SELECT 1 FROM spend_ledger l WHERE l.account = a.account AND l.time < ?1)",
    [S_SPEND_PRUNE] = "DELETE FROM spend_ledger WHERE account = ?1 AND time < ?2",
    [S_SPEND_PRUNE_TOTALS] = "DELETE FROM spend_totals WHERE account = ?1 AND bucket < ?2",
};

/* The attestation state: everything the rules need in one round trip. The surround subqueries each
 * scan only the index range above the new vote (targets above it / sources above it), which holds
 * few rows in normal operation; SQLite is told which index to use for each. */
#define ATT_STATE(IDX_T, IDX_S)                                                                                        \
    "SELECT v.enabled, lw.source_epoch, lw.target_epoch,"                                                              \
    " (SELECT count(*) FROM signed_attestations a " IDX_T " WHERE a.validator_id = ?1 AND a.target_epoch = ?3),"       \
    " EXISTS(SELECT 1 FROM signed_attestations a " IDX_T " WHERE a.validator_id = ?1 AND a.target_epoch = ?3"          \
    " AND a.source_epoch = ?2 AND a.signing_root = ?4),"                                                               \
    " EXISTS(SELECT 1 FROM signed_attestations a " IDX_T " WHERE a.validator_id = ?1 AND a.target_epoch > ?3"          \
    " AND a.source_epoch < ?2),"                                                                                       \
    " EXISTS(SELECT 1 FROM signed_attestations a " IDX_S " WHERE a.validator_id = ?1 AND a.source_epoch > ?2"          \
    " AND a.target_epoch < ?3)"                                                                                        \
    " FROM validators v LEFT JOIN low_watermarks lw ON lw.validator_id = v.id WHERE v.id = ?1"

static const char att_state_sqlite[] = ATT_STATE("INDEXED BY sa_target", "INDEXED BY sa_source");
static const char att_state_pg[] = ATT_STATE("", "");

const char *slash_sql(enum slash_stmt id, bool pg)
{
    if (id == S_ATT_STATE) {
        return pg ? att_state_pg : att_state_sqlite;
    }
    return sql_common[id];
}

static const char *const migrations_sqlite[SLASH_SCHEMA_VERSION] = {
    "CREATE TABLE validators(id INTEGER PRIMARY KEY, public_key BLOB NOT NULL UNIQUE,"
    " enabled INTEGER NOT NULL DEFAULT 1);"
    "CREATE TABLE signed_blocks(validator_id INTEGER NOT NULL REFERENCES validators(id), slot INTEGER NOT NULL,"
    " signing_root BLOB, UNIQUE(validator_id, slot));"
    "CREATE TABLE signed_attestations(validator_id INTEGER NOT NULL REFERENCES validators(id),"
    " source_epoch INTEGER NOT NULL, target_epoch INTEGER NOT NULL, signing_root BLOB);"
    "CREATE UNIQUE INDEX sa_target ON signed_attestations(validator_id, target_epoch, source_epoch);"
    "CREATE TABLE low_watermarks(validator_id INTEGER PRIMARY KEY REFERENCES validators(id), slot INTEGER,"
    " source_epoch INTEGER, target_epoch INTEGER, CHECK ((source_epoch IS NULL) = (target_epoch IS NULL)));"
    "CREATE TABLE metadata(id INTEGER PRIMARY KEY CHECK (id = 1), genesis_validators_root BLOB NOT NULL);",
    /* v2: the source index used by the "new vote surrounds an existing one" check */
    "CREATE INDEX sa_source ON signed_attestations(validator_id, source_epoch);",
    /* v3: the wallet spend ledger */
    "CREATE TABLE spend_ledger(account BLOB NOT NULL CHECK (length(account) = 20),"
    " digest BLOB NOT NULL CHECK (length(digest) = 32), amount BLOB NOT NULL CHECK (length(amount) = 32),"
    " time INTEGER NOT NULL, UNIQUE(account, digest));"
    "CREATE INDEX spend_time ON spend_ledger(account, time, amount);"
    "CREATE TABLE spend_totals(account BLOB NOT NULL CHECK (length(account) = 20), bucket INTEGER NOT NULL,"
    " total BLOB NOT NULL CHECK (length(total) = 32), PRIMARY KEY(account, bucket)) WITHOUT ROWID;",
};

static const char *const migrations_pg[SLASH_SCHEMA_VERSION] = {
    "CREATE TABLE validators(id BIGSERIAL PRIMARY KEY, public_key BYTEA NOT NULL UNIQUE,"
    " enabled INTEGER NOT NULL DEFAULT 1);"
    "CREATE TABLE signed_blocks(validator_id BIGINT NOT NULL REFERENCES validators(id), slot BIGINT NOT NULL,"
    " signing_root BYTEA, UNIQUE(validator_id, slot));"
    "CREATE TABLE signed_attestations(validator_id BIGINT NOT NULL REFERENCES validators(id),"
    " source_epoch BIGINT NOT NULL, target_epoch BIGINT NOT NULL, signing_root BYTEA);"
    "CREATE UNIQUE INDEX sa_target ON signed_attestations(validator_id, target_epoch, source_epoch);"
    "CREATE TABLE low_watermarks(validator_id BIGINT PRIMARY KEY REFERENCES validators(id), slot BIGINT,"
    " source_epoch BIGINT, target_epoch BIGINT, CHECK ((source_epoch IS NULL) = (target_epoch IS NULL)));"
    "CREATE TABLE metadata(id INTEGER PRIMARY KEY CHECK (id = 1), genesis_validators_root BYTEA NOT NULL);",
    "CREATE INDEX sa_source ON signed_attestations(validator_id, source_epoch);",
    "CREATE TABLE spend_ledger(account BYTEA NOT NULL CHECK (length(account) = 20),"
    " digest BYTEA NOT NULL CHECK (length(digest) = 32), amount BYTEA NOT NULL CHECK (length(amount) = 32),"
    " time BIGINT NOT NULL, UNIQUE(account, digest));"
    "CREATE INDEX spend_time ON spend_ledger(account, time, amount);"
    "CREATE TABLE spend_totals(account BYTEA NOT NULL CHECK (length(account) = 20), bucket BIGINT NOT NULL,"
    " total BYTEA NOT NULL CHECK (length(total) = 32), PRIMARY KEY(account, bucket));",
};

const char *const *slash_migrations(bool pg) { return pg ? migrations_pg : migrations_sqlite; }
