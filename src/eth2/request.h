/* The Web3Signer / EIP-3030 eth2 signing request: JSON body -> signing root plus the fields
 * slashing protection needs. The signing root is always computed here from the typed object
 * and fork_info; a client-supplied root is only compared, never trusted.
 *
 * Domain rules (consensus-specs, see docs in request.c):
 *  - fork_info types: fork_version = previous_version if epoch < fork.epoch else current_version,
 *    where epoch is the type's epoch (slot / SLOTS_PER_EPOCH for slot-based types).
 *  - DEPOSIT: request's genesis_fork_version, zero GVR. VALIDATOR_REGISTRATION: the network's
 *    GENESIS_FORK_VERSION, zero GVR. BLS_TO_EXECUTION_CHANGE: the network's GENESIS_FORK_VERSION
 *    and fork_info's GVR (capella spec).
 *  - VOLUNTARY_EXIT, EIP-7044: the network's CAPELLA_FORK_VERSION is used when the exit epoch is
 *    >= the network's Deneb epoch, or when fork_info.fork.current_version equals the network's
 *    Deneb-or-later fork version (a Deneb+ chain verifies every exit against Capella). */
#ifndef SIGIL_ETH2_REQUEST_H
#define SIGIL_ETH2_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "eth2/network.h"

enum sigil_eth2_type {
    SIGIL_ETH2_BLOCK,
    SIGIL_ETH2_BLOCK_V2,
    SIGIL_ETH2_ATTESTATION,
    SIGIL_ETH2_AGGREGATION_SLOT,
    SIGIL_ETH2_AGGREGATE_AND_PROOF,
    SIGIL_ETH2_AGGREGATE_AND_PROOF_V2,
    SIGIL_ETH2_DEPOSIT,
    SIGIL_ETH2_RANDAO_REVEAL,
    SIGIL_ETH2_VOLUNTARY_EXIT,
    SIGIL_ETH2_SYNC_COMMITTEE_MESSAGE,
    SIGIL_ETH2_SYNC_COMMITTEE_SELECTION_PROOF,
    SIGIL_ETH2_SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF,
    SIGIL_ETH2_VALIDATOR_REGISTRATION,
    SIGIL_ETH2_BLS_TO_EXECUTION_CHANGE,
    SIGIL_ETH2_TYPE_COUNT
};

enum sigil_eth2_slashing_kind { SIGIL_SLASHING_NONE, SIGIL_SLASHING_BLOCK, SIGIL_SLASHING_ATTESTATION };

struct sigil_eth2_request {
    enum sigil_eth2_type type;
    uint8_t signing_root[32];            /* computed by Sigil, always */
    bool has_fork_info;                  /* false for DEPOSIT / VALIDATOR_REGISTRATION */
    uint8_t genesis_validators_root[32]; /* from fork_info when present */
    enum sigil_eth2_slashing_kind slashing;
    uint64_t slot;                       /* SIGIL_SLASHING_BLOCK */
    uint64_t source_epoch, target_epoch; /* SIGIL_SLASHING_ATTESTATION */
};

/* Largest accepted body. The largest legal request is a BLOCK_V2 ALTAIR full block with every
 * list at its mainnet limit and every integer at 20 digits (2 attester slashings x 2 x 2048
 * indices, 128 attestations with 2048-bit bitlists, 16 deposits with 33-hash proofs, 16
 * proposer slashings, 16 exits): 405 KB as compact JSON and 597 KB pretty-printed with 2-space
 * indentation (measured by tests/unit/test_eth2_hostile.c). 1 MiB admits both with margin. */
#define SIGIL_ETH2_MAX_BODY (1u << 20)

/* Deepest JSON nesting accepted in a raw body; the deepest legal request nests 9 levels. */
#define SIGIL_ETH2_MAX_DEPTH 32

/* Canonical upper-case name of t ("BLOCK_V2", ...), for metrics labels; "UNKNOWN" if out of range. */
const char *sigil_eth2_type_name(enum sigil_eth2_type t);

/* Parses a signing request body (JSON text, len bytes, no NUL needed) into *out.
 * `type` is case-insensitive; `signing_root` and `signingRoot` are both accepted (both are
 * checked when both are present); unknown fields are ignored. net supplies SLOTS_PER_EPOCH,
 * GENESIS_FORK_VERSION (VALIDATOR_REGISTRATION, BLS_TO_EXECUTION_CHANGE) and the fork versions
 * for EIP-7044; net may be NULL, in which case SLOTS_PER_EPOCH is 32, EIP-7044 is not applied
 * and the two genesis-version types fail with SIGIL_ERR_CONFIG.
 * Errors: SIGIL_ERR_TOO_LARGE (len > SIGIL_ETH2_MAX_BODY), SIGIL_ERR_PARSE (invalid JSON,
 * nesting over SIGIL_ETH2_MAX_DEPTH, unknown type, missing/malformed field: the detail names the
 * field path), SIGIL_ERR_SIGNING_ROOT_MISMATCH (detail shows both roots), SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_eth2_parse_request(struct sigil_eth2_request *out, const char *body, size_t len,
                                      const struct sigil_network *net);

/* Same from an already-parsed JSON object (the batch endpoint); obj is only read. */
SIGIL_RESULT sigil_eth2_parse_request_json(struct sigil_eth2_request *out, const json_t *obj,
                                           const struct sigil_network *net);

#endif
