/* The signer's in-memory key store, and how it is filled: EIP-2335 keystores decrypted in
 * parallel, plus an encrypted fast-load cache so that a restart with thousands of keys does not
 * pay the keystores' scrypt again (format: docs/key-cache.md).
 *
 * Secret keys live only in secure memory (sigil_secure_alloc: locked, not dumped, wiped on
 * free) and never leave the store: callers sign through it. Public keys are kept in a sorted
 * array, so lookups are O(log n) and listings come out in a stable order. Nothing in this module
 * writes a plaintext key anywhere, and logs and error details name files and counts only. */
#ifndef SIGIL_KEYS_KEYSTORE_H
#define SIGIL_KEYS_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "crypto/bls.h"

/* Thread-safe: lookups, listings and signing run concurrently under a shared lock; add, remove
 * and set_enabled take it exclusively (writers are preferred, so a steady signing load cannot
 * starve an import). */
struct sigil_keystore;

struct sigil_key_info {
    uint8_t pubkey[48];
    char name[128]; /* operator label, truncated to 127 bytes */
    bool enabled;
};

/* Out: *out, an empty store. Errors: SIGIL_ERR_NOMEM, SIGIL_ERR_INTERNAL. */
SIGIL_RESULT sigil_keystore_new(struct sigil_keystore **out);

/* Wipes every key and frees the store (NULL is a no-op). No other thread may still use it. */
void sigil_keystore_free(struct sigil_keystore *ks);

/* Number of keys held (enabled or not). */
size_t sigil_keystore_count(const struct sigil_keystore *ks);

/* Adds a key: copies sk into secure memory (the caller keeps and wipes its own copy) and
 * derives its public key. When pubkey_or_null is given it must equal the derived key
 * (SIGIL_ERR_KEYSTORE_PUBKEY otherwise): a mislabelled key would sign under another validator's
 * slashing record, and the 0.1 ms check is cheap next to any import. Only the loader's
 * internal path skips the derivation, for pubkeys authenticated by the key cache.
 * name is an operator label (e.g. the keystore file name); NULL means "".
 * Errors: SIGIL_ERR_CONFLICT (pubkey already present), SIGIL_ERR_BLS_SCALAR (sk is zero),
 * SIGIL_ERR_KEYSTORE_PUBKEY, SIGIL_ERR_ARG, SIGIL_ERR_NOMEM. The new key is enabled. */
SIGIL_RESULT sigil_keystore_add(struct sigil_keystore *ks, const sigil_bls_sk *sk, const uint8_t *pubkey_or_null,
                                const char *name);

/* Removes and wipes the key for pubkey. Errors: SIGIL_ERR_NOT_FOUND. */
SIGIL_RESULT sigil_keystore_remove(struct sigil_keystore *ks, const uint8_t pubkey[48]);

/* True when a key for pubkey is held (enabled or not). */
bool sigil_keystore_has(const struct sigil_keystore *ks, const uint8_t pubkey[48]);

/* Enables or disables a key without removing it; a disabled key refuses to sign
 * (keymanager DELETE disables first, exports slashing data, then removes).
 * Errors: SIGIL_ERR_NOT_FOUND. */
SIGIL_RESULT sigil_keystore_set_enabled(struct sigil_keystore *ks, const uint8_t pubkey[48], bool enabled);

/* Signs msg (the signing root; any length) with the key for pubkey and writes the compressed
 * signature. The secret never leaves the store. This is the raw BLS operation: slashing
 * protection and signing-root computation are the caller's job.
 * Errors: SIGIL_ERR_NOT_FOUND (absent), SIGIL_ERR_KEY_DISABLED, SIGIL_ERR_ARG. */
SIGIL_RESULT sigil_keystore_sign(struct sigil_keystore *ks, const uint8_t pubkey[48], const uint8_t *msg, size_t len,
                                 uint8_t sig_out[96]);

/* The store hashes 32-byte messages (signing roots) to G2 through a small cache shared by all
 * keys, so a root that many validators sign (a slot's attestation data) is hashed once
 * (keys/msg_cache.h). A new store has SIGIL_KEYSTORE_MSG_CACHE_DEFAULT entries. */
#define SIGIL_KEYSTORE_MSG_CACHE_DEFAULT 1024
#define SIGIL_KEYSTORE_MSG_CACHE_MAX     65536

/* Replaces the cache with an empty one of `entries` entries; 0 turns it off (every signature
 * hashes its message, and a signing client can no longer tell by timing whether another key
 * signed the same root). Safe while other threads sign. Errors: SIGIL_ERR_ARG (over
 * SIGIL_KEYSTORE_MSG_CACHE_MAX), SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_keystore_set_msg_cache(struct sigil_keystore *ks, size_t entries);

/* Lookups answered from the cache and lookups that hashed, since the cache was made (0 and 0
 * when it is off). */
void sigil_keystore_msg_cache_stats(const struct sigil_keystore *ks, uint64_t *hits, uint64_t *misses);

/* Snapshot of all public keys, sorted by pubkey (bytewise). *out is malloc'ed (caller frees;
 * NULL when *n is 0). Errors: SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_keystore_list(const struct sigil_keystore *ks, struct sigil_key_info **out, size_t *n);

struct sigil_load_opts {
    const char *keystores_dir, *passwords_dir;
    unsigned threads;                /* 0 = online CPUs */
    const char *cache_path;          /* NULL = no cache */
    const char *cache_password_file; /* protects the cache (required if cache_path set, unless a KEK is given) */
    const uint8_t *cache_kek;        /* alternative: 32-byte key-encryption key (later: unwrapped by KMS) */
    void (*progress)(size_t done, size_t total, void *ctx);
    void *progress_ctx; /* optional; called from any thread */
};

/* found: NAME.json files seen; loaded: keys added to (or already in) the store by this call;
 * from_cache: how many of those came from the cache; failed: keystores that could not be
 * loaded (bad password, corrupt, duplicate key). found - loaded - failed were skipped for lack
 * of a NAME.txt password file. seconds: wall time of the whole call. */
struct sigil_load_report {
    size_t found, loaded, from_cache, failed;
    double seconds;
};

/* Loads every NAME.json in keystores_dir that has a NAME.txt in passwords_dir (one trailing
 * newline stripped). Files not ending in .json, dot files and subdirectories are ignored; a .json
 * without password is logged and skipped; a bad password, a corrupt keystore or a key already
 * loaded from another file is logged (file name only) and counted in failed, and loading
 * continues. Keystores are decrypted on opts->threads threads, with progress in the log and
 * through opts->progress.
 * With a cache: keys whose keystore file is unchanged (same size and SHA-256 of content) come
 * from the cache without running the keystore KDF; changed or new ones are decrypted; whenever
 * the set differs from what the cache held, the cache is rewritten atomically (temp file + fsync
 * + rename, mode 0600) with exactly the keys loaded now. A cache that is missing, unreadable,
 * tampered with or under another password is logged as a warning and ignored (then rewritten);
 * the keystores stay the source of truth and the load never fails because of the cache.
 * rep may be NULL.
 * Each decrypting thread needs the keystore's scrypt memory (256 MiB at the EIP's cost), so
 * threads also bounds the first load's memory; a cached load needs about 40 MiB in all.
 * Errors (nothing was added): SIGIL_ERR_ARG (missing dirs; cache_path without password file or
 * KEK), SIGIL_ERR_IO (a directory cannot be read), SIGIL_ERR_TOO_LARGE (over 2^20 keystores),
 * SIGIL_ERR_NOMEM, SIGIL_ERR_INTERNAL. */
SIGIL_RESULT sigil_keystore_load_dir(struct sigil_keystore *ks, const struct sigil_load_opts *opts,
                                     struct sigil_load_report *rep);

#endif
