/* Internal interfaces between the store (store.c), the loader (load.c) and the fast-load cache
 * (cache.c). Not installed; nothing outside src/keys includes this. */
#ifndef SIGIL_KEYS_INTERNAL_H
#define SIGIL_KEYS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "crypto/bls.h"
#include "keys/keystore.h"

#define KEYS_PK_LEN  SIGIL_BLS_PK_LEN
#define KEYS_SHA_LEN 32

/* ---- store: bulk insertion for the loader ---- */

enum keys_pending_status { KEYS_PENDING_ADDED, KEYS_PENDING_DUP_BATCH, KEYS_PENDING_PRESENT };

/* One key for keys_store_insert_batch. The public key is trusted: it was checked by keystore
 * decryption or authenticated by the cache. On KEYS_PENDING_ADDED the store takes sk and name
 * (both set to NULL); otherwise they stay with the caller. */
struct keys_pending {
    uint8_t pk[KEYS_PK_LEN];
    sigil_bls_sk *sk; /* secure memory */
    char *name;       /* malloc'ed */
    enum keys_pending_status status;
};

/* Inserts n keys under one write lock in O((size + n) log n). p is reordered (sorted by
 * pubkey); status tells, per element, what happened. Errors: SIGIL_ERR_NOMEM (nothing added). */
SIGIL_MUST_USE sigil_result keys_store_insert_batch(struct sigil_keystore *ks, struct keys_pending *p, size_t n);

/* ---- cache (docs/key-cache.md) ---- */

/* The cache's root key and how it was derived; lives in secure memory. */
struct keys_cache_key {
    const char *password; /* secure memory, owned by the loader; NULL in KEK mode */
    size_t password_len;
    bool kek_mode;
    bool have_root; /* root is valid for the password/KEK and kdf_salt below */
    uint8_t log2_n, r, p;
    uint8_t kdf_salt[32];
    uint8_t root[32];
};

/* An opened, authenticated cache: its records, sorted for lookup. */
struct keys_cache;

/* Why keys_cache_open refused a file (for the warning; KEYS_CACHE_ABSENT is not logged). */
enum keys_cache_status {
    KEYS_CACHE_OK,
    KEYS_CACHE_ABSENT,
    KEYS_CACHE_UNREADABLE,
    KEYS_CACHE_FORMAT,    /* not a cache, another version, or out-of-range parameters */
    KEYS_CACHE_WRONG_KEY, /* the password or KEK does not open it */
    KEYS_CACHE_TAMPERED,  /* the key is right but the authentication tag fails */
    KEYS_CACHE_INCONSISTENT,
    KEYS_CACHE_NOMEM,
};

/* A short phrase for a status, for logs. */
const char *keys_cache_status_str(enum keys_cache_status st);

/* Reads, authenticates and decrypts the cache at path (secrets into secure memory). key must
 * hold the password or KEK; on success (and on KEYS_CACHE_TAMPERED, where the root is known to be
 * right) key->root/kdf_salt/params are filled and have_root is set, so a rewrite needs no second
 * scrypt. On any failure *out is NULL. */
enum keys_cache_status keys_cache_open(struct keys_cache **out, const char *path, struct keys_cache_key *key);

/* Number of records. */
size_t keys_cache_count(const struct keys_cache *c);

/* Looks up the record for a keystore file of this size and SHA-256. On a hit, writes the
 * trusted public key and the secret (sk_out must be secure memory) and returns true. */
bool keys_cache_lookup(const struct keys_cache *c, const uint8_t sha[KEYS_SHA_LEN], uint64_t size,
                       uint8_t pk[KEYS_PK_LEN], sigil_bls_sk *sk_out);

/* Wipes and frees (NULL is a no-op). */
void keys_cache_close(struct keys_cache *c);

/* One record to write. */
struct keys_cache_entry {
    uint8_t sha[KEYS_SHA_LEN];
    uint64_t size;
    uint8_t pk[KEYS_PK_LEN];
    const sigil_bls_sk *sk;
};

/* Writes a new cache with these records atomically, mode 0600. Derives the root key first when
 * key->have_root is false (fresh salt; one scrypt in password mode).
 * Errors: SIGIL_ERR_IO, SIGIL_ERR_CRYPTO, SIGIL_ERR_RNG, SIGIL_ERR_NOMEM, SIGIL_ERR_TOO_LARGE. */
SIGIL_MUST_USE sigil_result keys_cache_write(const char *path, struct keys_cache_key *key,
                                             const struct keys_cache_entry *e, size_t n);

#endif
