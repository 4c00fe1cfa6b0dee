/* Consensus networks (fork schedule, fork versions, genesis validators root) and the two
 * domain functions every signing root needs (consensus-specs phase0 compute_domain /
 * compute_signing_root). */
#ifndef SIGIL_ETH2_NETWORK_H
#define SIGIL_ETH2_NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

enum sigil_fork {
    SIGIL_FORK_PHASE0,
    SIGIL_FORK_ALTAIR,
    SIGIL_FORK_BELLATRIX,
    SIGIL_FORK_CAPELLA,
    SIGIL_FORK_DENEB,
    SIGIL_FORK_ELECTRA,
    SIGIL_FORK_FULU,
    SIGIL_FORK_COUNT
};

struct sigil_network {
    char name[32];
    uint8_t genesis_fork_version[4];
    uint8_t fork_version[SIGIL_FORK_COUNT][4]; /* [SIGIL_FORK_PHASE0] == genesis_fork_version */
    uint64_t fork_epoch[SIGIL_FORK_COUNT];     /* UINT64_MAX = not scheduled; [PHASE0] == 0 */
    bool has_genesis_validators_root;
    uint8_t genesis_validators_root[32];
    uint64_t slots_per_epoch; /* 32; gnosis 16 */
};

/* Largest custom network YAML accepted (consensus-specs configs are ~10 KiB). */
#define SIGIL_NETWORK_MAX_YAML (256u * 1024u)

/* Upper-case fork name as used in request `version` fields ("PHASE0" ... "FULU"), or NULL. */
const char *sigil_fork_name(enum sigil_fork f);

/* Fills *out with a built-in network: "mainnet", "hoodi", "sepolia", "holesky", "gnosis"
 * (exact, lower-case). Errors: SIGIL_ERR_NOT_FOUND for any other name. */
SIGIL_RESULT sigil_network_builtin(struct sigil_network *out, const char *name);

/* Parses the consensus-specs config YAML subset: CONFIG_NAME, GENESIS_FORK_VERSION,
 * <FORK>_FORK_VERSION / <FORK>_FORK_EPOCH for ALTAIR..FULU, SLOTS_PER_EPOCH (default 32) and
 * the Sigil extension GENESIS_VALIDATORS_ROOT. Only top-level `KEY: value` lines are read;
 * unknown keys, comments and indented lines are ignored. GENESIS_FORK_VERSION is required; a
 * fork without an epoch is unscheduled; scheduled epochs must not decrease. Errors:
 * SIGIL_ERR_TOO_LARGE over SIGIL_NETWORK_MAX_YAML, SIGIL_ERR_CONFIG with a detail naming the line. */
SIGIL_RESULT sigil_network_from_yaml(struct sigil_network *out, const char *yaml, size_t len);

/* Loads a built-in network by name, else reads name_or_path as a YAML file.
 * Errors: those of sigil_network_from_yaml, SIGIL_ERR_IO if the file cannot be read. */
SIGIL_RESULT sigil_network_load(struct sigil_network *out, const char *name_or_path);

/* The fork active at epoch on net (the last scheduled fork whose epoch <= epoch). */
enum sigil_fork sigil_network_fork_at(const struct sigil_network *net, uint64_t epoch);

/* compute_domain: domain_type ++ hash_tree_root(ForkData(fork_version, gvr))[:28]. */
void sigil_compute_domain(uint8_t out[32], const uint8_t domain_type[4], const uint8_t fork_version[4],
                          const uint8_t gvr[32]);

/* compute_signing_root: hash_tree_root(SigningData(object_root, domain)). */
void sigil_compute_signing_root(uint8_t out[32], const uint8_t object_root[32], const uint8_t domain[32]);

#endif
