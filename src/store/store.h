/* The artifact store: what sigil-host needs to boot sigild, as ciphertext only.
 *
 *   data_keys(id, kms_key_id, ciphertext_blob, created)        KMS CiphertextBlobs of data keys
 *   validator_keys(pubkey, chain, active, created, data_key_id, ciphertext)
 *        sealed signing keys: eth2 BLS keys (pubkey = 48-byte compressed public key) and eth1
 *        secp256k1 keys (pubkey = the 20-byte address)
 *   tls_keys(id, cert_pem, active, created, data_key_id, key_ciphertext)     sealed TLS keys
 *   policies(hash, rules, active, created)   wallet policy rules files (public; hash = SHA-256)
 *   schema_version(version)
 *
 * (docs/enclave.md, "Artifact store"). Nothing here can decrypt anything: the data keys are
 * wrapped by KMS under a policy bound to sigild's measurement. The store is SQLite by default
 * ("sqlite:PATH", the file is created 0600) or PostgreSQL ("postgresql://…", e.g. with
 * sslmode=verify-full). Opening a store applies the versioned migrations in one transaction and
 * refuses a schema newer than this binary knows.
 *
 * A store handle is used by one thread at a time. */
#ifndef SIGIL_STORE_STORE_H
#define SIGIL_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

#define SIGIL_STORE_SCHEMA_VERSION 2
#define SIGIL_STORE_PUBKEY_LEN     48         /* eth2: compressed BLS public key */
#define SIGIL_STORE_ADDRESS_LEN    20         /* eth1: the key's address is its id */
#define SIGIL_STORE_ID_MAX         64         /* data-key and TLS-key ids, bytes with the NUL */
#define SIGIL_STORE_CHAIN_MAX      8          /* "eth2" / "eth1", bytes with the NUL */
#define SIGIL_STORE_PAGE_MAX       1000       /* validator keys per page (a KEYS_PAGE holds at most 1000) */
#define SIGIL_STORE_BLOB_MAX       8192       /* any stored ciphertext, bytes */
#define SIGIL_STORE_CERT_MAX       65536      /* a PEM certificate chain, bytes */
#define SIGIL_STORE_POLICY_MAX     (1u << 20) /* a policy rules file, bytes (= SIGIL_POLICY_MAX_FILE) */

struct sigil_store;

/* A signing key row. Pointers are borrowed (valid during the callback / the call). The id is
 * pubkey[0..pubkey_len): 48 bytes for chain "eth2", the 20-byte address for chain "eth1".
 * pubkey_len 0 means 48 when adding. */
struct sigil_store_vkey {
    uint8_t pubkey[SIGIL_STORE_PUBKEY_LEN];
    size_t pubkey_len;
    char chain[SIGIL_STORE_CHAIN_MAX];
    bool active;
    int64_t created; /* unix seconds */
    char data_key_id[SIGIL_STORE_ID_MAX];
    const uint8_t *ciphertext;
    size_t ciphertext_len;
};

struct sigil_store_data_key {
    char id[SIGIL_STORE_ID_MAX];
    const char *kms_key_id;
    int64_t created;
    const uint8_t *blob; /* KMS CiphertextBlob */
    size_t blob_len;
};

struct sigil_store_tls_key {
    char id[SIGIL_STORE_ID_MAX];
    const char *cert_pem;
    bool active;
    int64_t created;
    char data_key_id[SIGIL_STORE_ID_MAX];
    const uint8_t *key_ciphertext;
    size_t key_ciphertext_len;
};

typedef sigil_result (*sigil_store_vkey_fn)(void *ctx, const struct sigil_store_vkey *k);
typedef sigil_result (*sigil_store_dkey_fn)(void *ctx, const struct sigil_store_data_key *k);

/* Opens (creating if needed) the store at url and migrates it to SIGIL_STORE_SCHEMA_VERSION.
 * Errors: SIGIL_ERR_CONFIG (url is neither sqlite: nor postgresql://), SIGIL_ERR_DB (open,
 * migration, or a schema newer than this binary), SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_store_open(struct sigil_store **out, const char *url);

/* Closes the store. NULL is a no-op. */
void sigil_store_close(struct sigil_store *s);

/* The schema version recorded in the store. */
SIGIL_RESULT sigil_store_schema_version(struct sigil_store *s, int64_t *version);

/* One transaction around several adds (an import batch is all-or-nothing). Not nestable. */
SIGIL_RESULT sigil_store_begin(struct sigil_store *s);
SIGIL_RESULT sigil_store_commit(struct sigil_store *s);
void sigil_store_rollback(struct sigil_store *s);

/* Adds a data key. SIGIL_ERR_CONFLICT when the id exists, SIGIL_ERR_ARG on bad sizes. */
SIGIL_RESULT sigil_store_add_data_key(struct sigil_store *s, const char *id, const char *kms_key_id,
                                      const uint8_t *blob, size_t blob_len);

/* Calls fn for every data key, ordered by id. */
SIGIL_RESULT sigil_store_list_data_keys(struct sigil_store *s, sigil_store_dkey_fn fn, void *ctx);

/* Adds a signing key (created = now; k->created is ignored). The id length must fit the chain
 * (48 for "eth2", 20 for "eth1"; SIGIL_ERR_ARG). SIGIL_ERR_CONFLICT when the id is already
 * stored, SIGIL_ERR_NOT_FOUND when the data key is unknown. */
SIGIL_RESULT sigil_store_add_vkey(struct sigil_store *s, const struct sigil_store_vkey *k);

/* Pages through signing keys (both chains) in id byte order: keys strictly after
 * after[0..after_len) (NULL: from the start), at most limit (1..SIGIL_STORE_PAGE_MAX), only
 * active ones when active_only. *n receives the number of rows passed to fn; fewer than limit
 * means the end was reached. */
SIGIL_RESULT sigil_store_page_vkeys(struct sigil_store *s, const uint8_t *after, size_t after_len, size_t limit,
                                    bool active_only, sigil_store_vkey_fn fn, void *ctx, size_t *n);

/* Counts validator keys (active ones only when active_only). */
SIGIL_RESULT sigil_store_count_vkeys(struct sigil_store *s, bool active_only, uint64_t *n);

/* Sets the active flag of one key (id = public key or address). SIGIL_ERR_NOT_FOUND when the key
 * is not stored. */
SIGIL_RESULT sigil_store_set_vkey_active(struct sigil_store *s, const uint8_t *id, size_t id_len, bool active);

/* Adds a TLS key and makes it the only active one. SIGIL_ERR_CONFLICT when the id exists. */
SIGIL_RESULT sigil_store_add_tls_key(struct sigil_store *s, const struct sigil_store_tls_key *k);

/* The active TLS key (the newest when several): fn is called once, or SIGIL_ERR_NOT_FOUND. */
SIGIL_RESULT sigil_store_active_tls_key(struct sigil_store *s,
                                        sigil_result (*fn)(void *ctx, const struct sigil_store_tls_key *k), void *ctx);

/* A policy rules file (public, not sealed: its integrity is reported, not enforced, see
 * docs/enclave.md). rules is borrowed and NUL-terminated (not counted in rules_len). */
struct sigil_store_policy {
    uint8_t hash[32]; /* SHA-256 of the rules bytes, the policy engine's "policy_hash" */
    const char *rules;
    size_t rules_len;
    int64_t created;
};

/* Stores a rules file (1..SIGIL_STORE_POLICY_MAX bytes, no NUL byte; SIGIL_ERR_ARG /
 * SIGIL_ERR_TOO_LARGE) and makes it the only active one; setting a file stored before
 * reactivates it. The caller validates the rules. Out: hash (may be NULL). */
SIGIL_RESULT sigil_store_set_policy(struct sigil_store *s, const char *rules, size_t len, uint8_t hash[32]);

/* Deactivates every policy: sigild then runs the built-in default policy. */
SIGIL_RESULT sigil_store_clear_policy(struct sigil_store *s);

/* The active policy (the newest when several): fn is called once, or SIGIL_ERR_NOT_FOUND. A row
 * whose bytes no longer hash to its key is SIGIL_ERR_DB. */
SIGIL_RESULT sigil_store_active_policy(struct sigil_store *s,
                                       sigil_result (*fn)(void *ctx, const struct sigil_store_policy *p), void *ctx);

#endif
