/* The eth1 key ring: secp256k1 wallet keys held by sigild, by address. Keys live only in secure
 * memory (sigil_secp256k1_sk); the ring is safe for concurrent readers and writers (a rwlock:
 * lookups and signing take it shared, adds take it exclusive). */
#ifndef SIGIL_ETH1_KEYRING_H
#define SIGIL_ETH1_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "eth1/secp256k1.h"

#define SIGIL_ETH1_MAX_KEYS 100000u

struct sigil_eth1_keyring;

SIGIL_RESULT sigil_eth1_keyring_new(struct sigil_eth1_keyring **out);
void sigil_eth1_keyring_free(struct sigil_eth1_keyring *kr); /* wipes every key */

/* Lowers the number of keys the ring takes (SIGIL_ETH1_MAX_KEYS at most, and by default). Keys
 * already held stay; later adds and loads are refused past it. */
void sigil_eth1_keyring_set_max_keys(struct sigil_eth1_keyring *kr, size_t max_keys);

/* Takes ownership of sk (also on failure: it is freed). Errors: SIGIL_ERR_CONFLICT (address
 * already present; sk freed), SIGIL_ERR_TOO_LARGE (the ring's limit, SIGIL_ETH1_MAX_KEYS unless
 * lowered), SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_eth1_keyring_add(struct sigil_eth1_keyring *kr, sigil_secp256k1_sk *sk, uint8_t addr_out[20]);

size_t sigil_eth1_keyring_count(const struct sigil_eth1_keyring *kr);
bool sigil_eth1_keyring_has(const struct sigil_eth1_keyring *kr, const uint8_t addr[20]);

/* Finds a key by a Web3Signer identifier: a 0x address (20 bytes) or a public key, uncompressed
 * (64 or 65 bytes) or compressed (33). Errors: SIGIL_ERR_PARSE (not an identifier),
 * SIGIL_ERR_NOT_FOUND. */
SIGIL_RESULT sigil_eth1_keyring_resolve(const struct sigil_eth1_keyring *kr, const char *identifier,
                                        uint8_t addr_out[20]);

/* Signs a 32-byte digest with the key for addr. Errors: SIGIL_ERR_NOT_FOUND, SIGIL_ERR_CRYPTO. */
SIGIL_RESULT sigil_eth1_keyring_sign(struct sigil_eth1_keyring *kr, const uint8_t addr[20], const uint8_t digest[32],
                                     struct sigil_secp256k1_sig *sig);

/* Runs fn with the key for addr held (shared lock): for signing a transaction or an EIP-7702
 * authorization with the existing eth1/tx.h functions. */
SIGIL_RESULT sigil_eth1_keyring_with_key(struct sigil_eth1_keyring *kr, const uint8_t addr[20],
                                         sigil_result (*fn)(void *ctx, const sigil_secp256k1_sk *sk), void *ctx);

struct sigil_eth1_key_info {
    uint8_t address[20];
    uint8_t pubkey[SIGIL_SECP256K1_PUB_LEN];
};
/* Snapshot of every key, sorted by address; *out malloc'ed (free()). */
SIGIL_RESULT sigil_eth1_keyring_list(const struct sigil_eth1_keyring *kr, struct sigil_eth1_key_info **out, size_t *n);

struct sigil_eth1_load_report {
    size_t loaded, failed;
    char first_error[256]; /* "NAME.json: wrong password" (never a password or key) */
};
/* Loads every NAME.json in keystores_dir whose NAME.txt exists in passwords_dir (trailing newline
 * stripped), decrypting in parallel on `threads` threads (0 = online CPUs), logging progress.
 * A keystore without a password file, or one that fails, is counted in failed and logged; the
 * call fails only when the directory cannot be read, when it holds more NAME.json files than the
 * ring has room for (SIGIL_ERR_TOO_LARGE, refused before anything is decrypted), or when nothing
 * at all could be loaded from a non-empty directory (SIGIL_ERR_KEYSTORE_*). */
SIGIL_RESULT sigil_eth1_keyring_load_dir(struct sigil_eth1_keyring *kr, const char *keystores_dir,
                                         const char *passwords_dir, unsigned threads,
                                         struct sigil_eth1_load_report *rep);

#endif
