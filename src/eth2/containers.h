/* Internal to src/eth2: consensus containers described as SSZ schemas, and the walker that
 * computes hash_tree_root straight from the Web3Signer JSON shape of a value (snake_case keys,
 * uint64 as decimal strings, bytes/bitfields as 0x-hex). Errors carry the JSON path of the
 * offending field. Exposed in a header only for the request parser, the tests and the fuzzers. */
#ifndef SIGIL_ETH2_CONTAINERS_H
#define SIGIL_ETH2_CONTAINERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

enum sigil_ssz_kind {
    SIGIL_SSZ_UINT64,
    SIGIL_SSZ_BYTES,     /* ByteVector[n] */
    SIGIL_SSZ_BITLIST,   /* Bitlist[n] */
    SIGIL_SSZ_BITVECTOR, /* Bitvector[n] */
    SIGIL_SSZ_CONTAINER,
    SIGIL_SSZ_LIST,   /* List[elem, n] */
    SIGIL_SSZ_VECTOR, /* Vector[elem, n] */
};

struct sigil_ssz_field;

struct sigil_ssz_type {
    enum sigil_ssz_kind kind;
    uint64_t n;
    const struct sigil_ssz_type *elem;
    const struct sigil_ssz_field *fields;
    size_t nfields;
};

struct sigil_ssz_field {
    const char *name;
    const struct sigil_ssz_type *type;
};

/* The JSON path of the value being decoded, for error details ("beacon_block.block.slot"). */
struct sigil_eth2_path {
    char s[200];
    size_t len;
};

/* Schemas (mainnet preset sizes; gnosis shares them for every signed container). */
extern const struct sigil_ssz_type sigil_ssz_uint64, sigil_ssz_bytes4, sigil_ssz_bytes20, sigil_ssz_bytes32,
    sigil_ssz_bytes48, sigil_ssz_bytes96;
extern const struct sigil_ssz_type sigil_ssz_attestation_data, sigil_ssz_beacon_block_header,
    sigil_ssz_beacon_block_phase0, sigil_ssz_beacon_block_altair, sigil_ssz_aggregate_and_proof_phase0,
    sigil_ssz_aggregate_and_proof_electra, sigil_ssz_voluntary_exit, sigil_ssz_deposit_message,
    sigil_ssz_sync_aggregator_selection_data, sigil_ssz_contribution_and_proof, sigil_ssz_validator_registration,
    sigil_ssz_bls_to_execution_change;

/* Starts a path at name (may be ""). */
void sigil_eth2_path_init(struct sigil_eth2_path *p, const char *name);
/* Appends ".name" (or "name" at the root); returns the previous length for path_pop. */
size_t sigil_eth2_path_push(struct sigil_eth2_path *p, const char *name);
void sigil_eth2_path_pop(struct sigil_eth2_path *p, size_t len);

/* hash_tree_root of the JSON value v as type t. SIGIL_ERR_PARSE with the field path on any
 * missing, mistyped or malformed field; unknown object members are ignored. */
SIGIL_RESULT sigil_eth2_htr_json(uint8_t out[32], const json_t *v, const struct sigil_ssz_type *t,
                                 struct sigil_eth2_path *p);

/* Field decoders (all SIGIL_ERR_PARSE with the path on failure). */
/* A uint64 written as a decimal string (no sign, no leading zeros, <= 2^64-1). */
SIGIL_RESULT sigil_eth2_get_u64(uint64_t *out, const json_t *v, struct sigil_eth2_path *p);
/* "0x" followed by exactly 2n hex digits. */
SIGIL_RESULT sigil_eth2_get_bytes(uint8_t *out, size_t n, const json_t *v, struct sigil_eth2_path *p);
/* Decoders over a raw string (for the fuzzers). */
SIGIL_RESULT sigil_eth2_decode_hex_fixed(uint8_t *out, size_t n, const char *s, size_t len);
/* Roots a 0x-hex Bitlist[limit_bits] / Bitvector[nbits] string, validating the encoding. */
SIGIL_RESULT sigil_eth2_bitlist_hex_root(uint8_t out[32], const char *s, size_t len, uint64_t limit_bits);
SIGIL_RESULT sigil_eth2_bitvector_hex_root(uint8_t out[32], const char *s, size_t len, uint64_t nbits);

/* A member of obj by name (borrowed), or NULL when obj is not an object, the member is absent
 * or it is JSON null. */
const json_t *sigil_eth2_member(const json_t *obj, const char *name);

#endif
