/* A small SSZ hash_tree_root engine (consensus-specs ssz/simple-serialize.md).
 *
 * Sigil never serialises SSZ; it only computes roots of values that arrive as JSON, so the
 * engine is a handful of merkleization primitives rather than a type table. Merkleization is
 * incremental (a stack of at most 64 pending subtree roots), so a list of any length is rooted
 * without materialising its chunks, and the virtual zero padding up to a list's limit costs one
 * precomputed zero hash per level. SHA-256 comes from OpenSSL. */
#ifndef SIGIL_ETH2_SSZ_H
#define SIGIL_ETH2_SSZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

#define SIGIL_SSZ_MAX_DEPTH 64

/* out = SHA-256(a || b). out may alias a or b. */
void sigil_ssz_hash2(uint8_t out[32], const uint8_t a[32], const uint8_t b[32]);

/* Returns the root of a subtree of 2^depth zero chunks (depth <= SIGIL_SSZ_MAX_DEPTH). */
const uint8_t *sigil_ssz_zero_hash(unsigned depth);

/* Incremental merkleizer over at most `limit` chunks (the padded tree has
 * next_pow2(limit) leaves). Feed chunks in order with sigil_ssz_mz_push, then finish. */
struct sigil_ssz_mz {
    uint8_t stack[SIGIL_SSZ_MAX_DEPTH + 1][32]; /* stack[d]: pending root of a full 2^d subtree */
    uint64_t count;                             /* chunks pushed */
    uint64_t limit;
    unsigned depth; /* ceil(log2(limit)) */
};

/* Starts a merkleizer for at most limit chunks (limit 0 is treated as 1, as the spec pads an
 * empty tree to one zero chunk). */
void sigil_ssz_mz_init(struct sigil_ssz_mz *mz, uint64_t limit);

/* Adds one chunk. Fails with SIGIL_ERR_TOO_LARGE past the limit. */
SIGIL_RESULT sigil_ssz_mz_push(struct sigil_ssz_mz *mz, const uint8_t chunk[32]);

/* Writes the root of the chunks pushed so far, zero-padded to the limit. */
void sigil_ssz_mz_finish(struct sigil_ssz_mz *mz, uint8_t out[32]);

/* One-shot merkleize(chunks[0..count), limit). Fails with SIGIL_ERR_TOO_LARGE if count > limit. */
SIGIL_RESULT sigil_ssz_merkleize(uint8_t out[32], const uint8_t *chunks, size_t count, uint64_t limit);

/* out = hash(root || uint256_le(length)). out may alias root. */
void sigil_ssz_mix_in_length(uint8_t out[32], const uint8_t root[32], uint64_t length);

/* hash_tree_root(uint64): the little-endian value in a zero chunk. */
void sigil_ssz_uint64_root(uint8_t out[32], uint64_t v);

/* hash_tree_root of a ByteVector[n] (Bytes4, Bytes20, Bytes32, BLSPubkey, BLSSignature...):
 * the bytes packed into ceil(n/32) chunks and merkleized. */
void sigil_ssz_bytes_root(uint8_t out[32], const uint8_t *bytes, size_t n);

/* Checks an SSZ Bitlist[limit_bits] encoding: non-empty, last byte non-zero (it carries the
 * delimiter bit), and bit length <= limit_bits. *bit_len receives the length without the
 * delimiter. Errors: SIGIL_ERR_PARSE (no delimiter), SIGIL_ERR_TOO_LARGE (over the limit). */
SIGIL_RESULT sigil_ssz_bitlist_check(size_t *bit_len, const uint8_t *bytes, size_t n, uint64_t limit_bits);

/* hash_tree_root of a Bitlist[limit_bits] given in its SSZ encoding (validated as above):
 * the bits without the delimiter, packed, merkleized to ceil(limit_bits/256) chunks, with the
 * bit length mixed in. */
SIGIL_RESULT sigil_ssz_bitlist_root(uint8_t out[32], const uint8_t *bytes, size_t n, uint64_t limit_bits);

/* Checks a Bitvector[nbits] encoding: exactly ceil(nbits/8) bytes and every bit at index
 * >= nbits zero (SIGIL_ERR_PARSE otherwise). */
SIGIL_RESULT sigil_ssz_bitvector_check(const uint8_t *bytes, size_t n, uint64_t nbits);

/* hash_tree_root of a Bitvector[nbits] (validated as above). */
SIGIL_RESULT sigil_ssz_bitvector_root(uint8_t out[32], const uint8_t *bytes, size_t n, uint64_t nbits);

#endif
