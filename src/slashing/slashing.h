/* EIP-3076 slashing protection: check-and-record of block and attestation signings, following the
 * "complete strategy + low watermarks" of Web3Signer, over SQLite (one writer thread, group commit)
 * or PostgreSQL (connection pool, per-validator advisory locks, safe across processes).
 *
 * Every function is thread-safe. A signing function returns SIGIL_OK only after the record is
 * durable (fsync'd SQLite WAL commit / PostgreSQL commit with synchronous_commit=on); on any other
 * result the caller must not release the signature. */
#ifndef SIGIL_SLASHING_SLASHING_H
#define SIGIL_SLASHING_SLASHING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

/* Interchange documents larger than this are refused with SIGIL_ERR_TOO_LARGE. */
#define SIGIL_SLASHING_IMPORT_MAX (64u * 1024u * 1024u)

struct sigil_slashing_db; /* opaque, thread-safe: any thread may call any function concurrently */

/* url: "sqlite:PATH" (file created 0600 if missing; "sqlite::memory:" for a private in-memory DB) or
 * "postgresql://..." / "postgres://..." (libpq conninfo URL; sslmode etc. pass through; the pool size
 * is taken from the environment variable SIGIL_SLASHING_PG_POOL, default 8). Runs migrations (a
 * schema_version table); refuses a DB newer than the code with SIGIL_ERR_UNSUPPORTED. */
SIGIL_RESULT sigil_slashing_open(struct sigil_slashing_db **out, const char *url);

/* True when a postgresql:// URL carries a password (user:password@ or a password= parameter):
 * on a command line it is visible to every local user (ps, /proc/PID/cmdline). */
bool sigil_slashing_url_has_password(const char *url);

/* The password of a PostgreSQL URL from a file instead of the command line: *out = url with
 * "password=" and the file's password (percent-encoded) appended as a query parameter, in secure
 * memory (free with sigil_secure_free). The file holds the password alone (one trailing newline is
 * dropped), 1..1024 bytes without NUL. Errors: SIGIL_ERR_ARG (not a postgresql:// URL, or one that
 * already carries a password), SIGIL_ERR_IO / SIGIL_ERR_TOO_LARGE (the file), SIGIL_ERR_PARSE (empty
 * or NUL); details name the file, never what it holds. (libpq's own password file, PGPASSFILE or
 * ~/.pgpass, is the other way, where the process can read it.) */
SIGIL_RESULT sigil_slashing_url_with_password_file(char **out, const char *url, const char *password_file);
void sigil_slashing_close(struct sigil_slashing_db *db);

/* Registers validators (bulk, idempotent). Signing for an unregistered key fails with SIGIL_ERR_NOT_FOUND. */
SIGIL_RESULT sigil_slashing_register(struct sigil_slashing_db *db, const uint8_t (*pubkeys)[48], size_t n);

/* Genesis validators root pinning: the first GVR seen is stored; a different one gives SIGIL_ERR_GVR_MISMATCH. */
SIGIL_RESULT sigil_slashing_check_gvr(struct sigil_slashing_db *db, const uint8_t gvr[32]);

/* Check-and-record. On success the record is durable before return. Refusal: SIGIL_ERR_SLASHING with a
 * detail naming the rule. Disabled key: SIGIL_ERR_KEY_DISABLED. Unregistered key: SIGIL_ERR_NOT_FOUND.
 * DB failure: SIGIL_ERR_DB (caller must NOT sign). An identical re-signing (same slot/target and same
 * signing_root) is allowed. Both functions first do the GVR check (skipped when gvr is NULL). */
SIGIL_RESULT sigil_slashing_sign_block(struct sigil_slashing_db *db, const uint8_t pubkey[48], uint64_t slot,
                                       const uint8_t signing_root[32], const uint8_t gvr[32]);
SIGIL_RESULT sigil_slashing_sign_attestation(struct sigil_slashing_db *db, const uint8_t pubkey[48],
                                             uint64_t source_epoch, uint64_t target_epoch,
                                             const uint8_t signing_root[32], const uint8_t gvr[32]);

/* Asynchronous check-and-record: the same checks, transaction and durability as the functions
 * above, but the caller does not wait for the commit. done(ctx, r) is called exactly once with
 * what the synchronous call would have returned (on failure sigil_error_detail() holds the detail
 * in done's thread): from the database's writer thread after the fsync'd commit, or from the
 * caller's thread before this returns (early errors, or a backend without native async support,
 * which then blocks like the synchronous call). done must be quick and must not call back into db
 * synchronously (it may run on the thread that commits every record). The caller must still
 * release a signature only when r is OK. */
typedef void (*sigil_slashing_done_fn)(void *ctx, sigil_result r);
void sigil_slashing_sign_block_async(struct sigil_slashing_db *db, const uint8_t pubkey[48], uint64_t slot,
                                     const uint8_t signing_root[32], const uint8_t gvr[32], sigil_slashing_done_fn done,
                                     void *ctx);
void sigil_slashing_sign_attestation_async(struct sigil_slashing_db *db, const uint8_t pubkey[48],
                                           uint64_t source_epoch, uint64_t target_epoch, const uint8_t signing_root[32],
                                           const uint8_t gvr[32], sigil_slashing_done_fn done, void *ctx);
/* True when the _async functions return without waiting for the commit (SQLite); false when they
 * block like the synchronous ones (PostgreSQL: use enough threads to wait in parallel). */
bool sigil_slashing_async_native(const struct sigil_slashing_db *db);

/* Group-commit hint. The signer announces each request that may bring a record (incoming_add,
 * when the request arrives) and says when it no longer can (incoming_done: just before it hands
 * the record over, or when the request ends without one). While records are coming, the SQLite
 * writer lets a batch gather (bounded in time and size) so that one fsync serves many; when none
 * is coming it commits at once, so a lone client never waits for a batch that will not fill, and
 * the done that brings the count to zero wakes a writer that is gathering. Until the first
 * incoming_add the writer gathers only briefly, under a steady stream. Thread-safe; no effect on
 * PostgreSQL. */
void sigil_slashing_incoming_add(struct sigil_slashing_db *db, unsigned n);
void sigil_slashing_incoming_done(struct sigil_slashing_db *db, unsigned n);

/* Enable/disable a key on every instance sharing the DB (keymanager DELETE disables).
 * SIGIL_ERR_NOT_FOUND if the key is not registered. */
SIGIL_RESULT sigil_slashing_set_enabled(struct sigil_slashing_db *db, const uint8_t pubkey[48], bool enabled);
SIGIL_RESULT sigil_slashing_is_registered(struct sigil_slashing_db *db, const uint8_t pubkey[48], bool *registered,
                                          bool *enabled);

struct sigil_slashing_import_report {
    size_t validators, blocks, attestations, skipped;
};
/* EIP-3076 v5 interchange import (at most SIGIL_SLASHING_IMPORT_MAX bytes; strict schema; the GVR must
 * match the pinned one, or is pinned). filter/nfilter: import only these pubkeys; NULL/0 = all.
 * Per-validator failures are counted in skipped and reported in the detail; a malformed document fails
 * as a whole with SIGIL_ERR_PARSE and imports nothing. rep may be NULL. */
SIGIL_RESULT sigil_slashing_import(struct sigil_slashing_db *db, const char *json, size_t len,
                                   const uint8_t (*filter)[48], size_t nfilter,
                                   struct sigil_slashing_import_report *rep);

/* Export (format 5). minimal: only the latest block and attestation per key (watermarks). filter as
 * above. The caller owns *out. SIGIL_ERR_NOT_FOUND when no GVR has been pinned yet. */
SIGIL_RESULT sigil_slashing_export(struct sigil_slashing_db *db, json_t **out, bool minimal,
                                   const uint8_t (*filter)[48], size_t nfilter);

/* Prune history older than keep_epochs (>= 1) below each key's newest record, raising low watermarks
 * so nothing pruned can be re-signed. Also deletes wallet spend-ledger rows older than 366 days
 * (the longest spend window), by the system clock. */
SIGIL_RESULT sigil_slashing_prune(struct sigil_slashing_db *db, uint64_t keep_epochs, uint64_t slots_per_epoch);

/* Stats for /metrics and health: commits, recorded signings, refusals, last commit latency (µs) and
 * the average number of requests per commit (group commit). */
struct sigil_slashing_stats {
    uint64_t commits, records, refusals;
    double last_commit_us, avg_batch;
};
void sigil_slashing_stats(struct sigil_slashing_db *db, struct sigil_slashing_stats *out);

/* The `sigil slashing ...` command line: argv[0] is "slashing" (or directly the subcommand):
 *   import FILE --db URL | export [--minimal] --db URL [--out FILE] | prune --db URL --keep-epochs N
 *   [--slots-per-epoch N]. Returns the process exit code: 0 ok, 1 database/IO failure, 2 bad input
 * (one sentence on stderr). */
int sigil_slashing_cli(int argc, char **argv);

/* ---- Wallet spend ledger (policy engine's rolling windows), in the same database ----
 *
 * sigil_slashing_spend_reserve() checks that, for every window, the sum of amounts this account
 * spent in (now_s - window_s, now_s] plus amount stays <= the window's max, and if so records
 * (account, digest, amount, now_s) — all in one transaction, durable (fsync'd SQLite commit /
 * PostgreSQL commit) before it returns SIGIL_OK. Concurrent reservations for one account, from
 * any number of threads or processes sharing a PostgreSQL database, are serialised by a
 * per-account advisory lock, so together they can never exceed a window. A digest already
 * recorded for this account is not charged again (re-signing the identical transaction is free;
 * its first reservation stands).
 * Refusal: SIGIL_ERR_POLICY with *refused_rule set to the window's rule (a pointer into
 * windows[], NULL otherwise; refused_rule may be NULL) and the detail saying how much is left.
 * DB failure: SIGIL_ERR_DB (the caller must not sign). windows may be empty (n = 0: only the
 * record is written). Amounts are 256-bit big-endian (sigil_u256); sums saturate,
 * and a saturated sum is over any limit. Rows stamped later than now_s (an instance whose clock
 * runs ahead) count as inside the window too, so clock skew between instances cannot widen a
 * window. window_s must be 1 s .. 366 days (else SIGIL_ERR_ARG); at most SIGIL_POLICY_MAX_WINDOWS
 * windows. sigil_slashing_prune() deletes rows older than 366 days (rounded down to the hour). */
struct sigil_spend_window;
SIGIL_RESULT sigil_slashing_spend_reserve(struct sigil_slashing_db *db, const uint8_t account[20],
                                          const uint8_t digest[32], const uint8_t amount_be[32], uint64_t now_s,
                                          const struct sigil_spend_window *windows, size_t n,
                                          const char **refused_rule);

/* Total recorded for account in (now_s - window_s, now_s], plus any rows stamped after now_s, as
 * the reservation counts them (for status and tests). */
SIGIL_RESULT sigil_slashing_spent(struct sigil_slashing_db *db, const uint8_t account[20], uint64_t window_s,
                                  uint64_t now_s, uint8_t total_be[32]);

#endif
