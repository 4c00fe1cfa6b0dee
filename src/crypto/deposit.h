/* Validator deposit data, as in staking-deposit-cli's deposit_data-*.json entries.
 *
 * Roots are SSZ hash_tree_root values of the phase0 containers DepositMessage{pubkey,
 * withdrawal_credentials, amount} and DepositData{..., signature}; the signature is BLS over
 * compute_signing_root(DepositMessage, compute_domain(DOMAIN_DEPOSIT, GENESIS_FORK_VERSION,
 * zero genesis_validators_root)) — deposits are valid across forks, so the genesis fork version
 * and a zero root are used, as the consensus spec's process_deposit requires. */
#ifndef SIGIL_CRYPTO_DEPOSIT_H
#define SIGIL_CRYPTO_DEPOSIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "crypto/bls.h"

#define SIGIL_DEPOSIT_GWEI_PER_ETH        1000000000ull
#define SIGIL_DEPOSIT_MIN_AMOUNT          (1 * SIGIL_DEPOSIT_GWEI_PER_ETH)    /* MIN_DEPOSIT_AMOUNT */
#define SIGIL_DEPOSIT_DEFAULT_AMOUNT      (32 * SIGIL_DEPOSIT_GWEI_PER_ETH)   /* 0x00 / 0x01 maximum */
#define SIGIL_DEPOSIT_MAX_COMPOUNDING     (2048 * SIGIL_DEPOSIT_GWEI_PER_ETH) /* 0x02 maximum (EIP-7251) */
#define SIGIL_DEPOSIT_DEFAULT_CLI_VERSION "2.7.0"

/* Withdrawal credential prefixes. */
#define SIGIL_DEPOSIT_WC_BLS         0x00
#define SIGIL_DEPOSIT_WC_ETH1        0x01
#define SIGIL_DEPOSIT_WC_COMPOUNDING 0x02

struct sigil_deposit_network {
    const char *name;        /* "mainnet", "sepolia", "holesky", "hoodi" */
    uint8_t fork_version[4]; /* GENESIS_FORK_VERSION */
};

/* One deposit_data-*.json entry. */
struct sigil_deposit_data {
    uint8_t pubkey[SIGIL_BLS_PK_LEN];
    uint8_t withdrawal_credentials[32];
    uint64_t amount; /* gwei */
    uint8_t signature[SIGIL_BLS_SIG_LEN];
    uint8_t deposit_message_root[32];
    uint8_t deposit_data_root[32];
    uint8_t fork_version[4];
    char network_name[32];
    char deposit_cli_version[32];
};

/* Finds a network by name. Errors: SIGIL_ERR_NOT_FOUND with the known names in the detail. */
SIGIL_RESULT sigil_deposit_network_lookup(const struct sigil_deposit_network **out, const char *name);

/* 0x01 (type SIGIL_DEPOSIT_WC_ETH1) or 0x02 (SIGIL_DEPOSIT_WC_COMPOUNDING) credentials:
 * type || 11 zero bytes || address. Other types give SIGIL_ERR_ARG. */
SIGIL_RESULT sigil_deposit_withdrawal_credentials(uint8_t out[32], uint8_t type, const uint8_t address[20]);

/* 0x00 credentials for a BLS withdrawal key: 0x00 || SHA256(withdrawal_pubkey)[1:32]. */
void sigil_deposit_bls_withdrawal_credentials(uint8_t out[32], const uint8_t withdrawal_pubkey[SIGIL_BLS_PK_LEN]);

/* Checks amount (gwei) against the credentials: 1..32 ETH for 0x00/0x01, 1..2048 ETH for 0x02.
 * Also refuses an unknown prefix or non-zero padding in 0x01/0x02 credentials. SIGIL_ERR_ARG. */
SIGIL_RESULT sigil_deposit_check(const uint8_t withdrawal_credentials[32], uint64_t amount);

/* hash_tree_root(DepositMessage). */
void sigil_deposit_message_root(uint8_t out[32], const uint8_t pubkey[SIGIL_BLS_PK_LEN],
                                const uint8_t withdrawal_credentials[32], uint64_t amount);

/* hash_tree_root(DepositData). */
void sigil_deposit_data_root(uint8_t out[32], const uint8_t pubkey[SIGIL_BLS_PK_LEN],
                             const uint8_t withdrawal_credentials[32], uint64_t amount,
                             const uint8_t signature[SIGIL_BLS_SIG_LEN]);

/* compute_domain(DOMAIN_DEPOSIT, fork_version, genesis_validators_root = 0^32). */
void sigil_deposit_compute_domain(uint8_t out[32], const uint8_t fork_version[4]);

/* hash_tree_root(SigningData{object_root, domain}). */
void sigil_deposit_signing_root(uint8_t out[32], const uint8_t object_root[32], const uint8_t domain[32]);

/* Builds and signs a deposit for sk's public key on the named network. cli_version NULL means
 * SIGIL_DEPOSIT_DEFAULT_CLI_VERSION (tools that read these files check the field).
 * Errors: SIGIL_ERR_NOT_FOUND (network), SIGIL_ERR_ARG (credentials/amount, see
 * sigil_deposit_check, or a cli_version over 31 bytes). */
SIGIL_RESULT sigil_deposit_create(struct sigil_deposit_data *out, const sigil_bls_sk *sk,
                                  const uint8_t withdrawal_credentials[32], uint64_t amount, const char *network,
                                  const char *cli_version);

/* Checks a deposit end to end: amount/credentials rules, fork_version against the named network
 * when the name is known, both roots recomputed, pubkey and signature decoded (subgroup checks)
 * and the signature verified. Errors: SIGIL_ERR_ARG (rules, a root or the fork version does not
 * match, or the signature does not verify; the detail says which), SIGIL_ERR_BLS_* (encoding). */
SIGIL_RESULT sigil_deposit_verify(const struct sigil_deposit_data *d);

/* One deposit_data JSON object with staking-deposit-cli's field names and order (hex without 0x,
 * amount as a JSON integer). *out is a new reference. */
SIGIL_RESULT sigil_deposit_to_json(json_t **out, const struct sigil_deposit_data *d);

/* Reads such an object back (field presence, types and hex lengths; call sigil_deposit_verify
 * for the meaning). Errors: SIGIL_ERR_PARSE naming the field. */
SIGIL_RESULT sigil_deposit_from_json(struct sigil_deposit_data *out, const json_t *obj);

#endif
