/* EIP-2333 BLS12-381 key derivation (tree KDF) and EIP-2334 paths.
 *
 * Keys derived here are sigil_bls_sk values; callers keep them in sigil_secure_alloc memory.
 * The HKDF-SHA256 primitives are exported because BLS KeyGen (bls_keygen.c) shares them. */
#ifndef SIGIL_CRYPTO_EIP2333_H
#define SIGIL_CRYPTO_EIP2333_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "crypto/bls.h"

#define SIGIL_EIP2333_LAMPORT_CHUNKS 255
#define SIGIL_EIP2333_MAX_DEPTH      32 /* path components after "m" */
#define SIGIL_EIP2334_PURPOSE        12381u
#define SIGIL_EIP2334_COIN_TYPE      3600u

/* HKDF-Extract(salt, ikm) with SHA-256 (RFC 5869). salt may be NULL when salt_len is 0. */
SIGIL_RESULT sigil_eip2333_hkdf_extract(uint8_t prk[32], const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                                        size_t ikm_len);

/* HKDF-Expand(prk, info, out_len) with SHA-256; out_len <= 255 * 32. info may be NULL when
 * info_len is 0. */
SIGIL_RESULT sigil_eip2333_hkdf_expand(uint8_t *out, size_t out_len, const uint8_t prk[32], const uint8_t *info,
                                       size_t info_len);

/* derive_master_SK: KeyGen(seed) with empty key_info. seed_len must be >= 32 (SIGIL_ERR_ARG). */
SIGIL_RESULT sigil_eip2333_derive_master(sigil_bls_sk *out, const uint8_t *seed, size_t seed_len);

/* derive_child_SK(parent, index) = KeyGen(parent_SK_to_lamport_PK(parent, index)). */
SIGIL_RESULT sigil_eip2333_derive_child(sigil_bls_sk *out, const sigil_bls_sk *parent, uint32_t index);

/* The Lamport steps of derive_child_SK, exposed for the EIP's intermediate-value tests.
 * Out: lamport0/lamport1 (may be NULL) receive the 255 32-byte chunks of IKM_to_lamport_SK for
 * the parent key and its bit-flip, compressed receives SHA-256 of the Lamport public key.
 * lamport0/lamport1 are secret: pass secure memory. */
SIGIL_RESULT sigil_eip2333_lamport(uint8_t (*lamport0)[32], uint8_t (*lamport1)[32], uint8_t compressed[32],
                                   const sigil_bls_sk *parent, uint32_t index);

/* Parses a key path "m/12381/3600/0/0/0" into *depth indices (depth 0 for "m").
 * Components are decimal without sign or leading zeros, each < 2^32, at most
 * SIGIL_EIP2333_MAX_DEPTH of them. With eip2334 true the path must also have at least one
 * component and start with purpose 12381 (EIP-2334); false accepts any EIP-2333 path such as the
 * vectors' "m/0". Errors: SIGIL_ERR_KEY_PATH with a detail naming the offending component. */
SIGIL_RESULT sigil_eip2333_path_parse(uint32_t indices[SIGIL_EIP2333_MAX_DEPTH], size_t *depth, const char *path,
                                      bool eip2334);

/* derive_master(seed) then derive_child along path (parsed with eip2334 == true). */
SIGIL_RESULT sigil_eip2333_derive_path(sigil_bls_sk *out, const uint8_t *seed, size_t seed_len, const char *path);

/* The same along already-parsed indices. */
SIGIL_RESULT sigil_eip2333_derive_indices(sigil_bls_sk *out, const uint8_t *seed, size_t seed_len,
                                          const uint32_t *indices, size_t depth);

/* Writes the EIP-2334 validator signing path m/12381/3600/<index>/0/0 into buf (>= 48 bytes). */
void sigil_eip2333_signing_path(char buf[48], uint32_t index);

/* Writes the EIP-2334 withdrawal path m/12381/3600/<index>/0 into buf (>= 48 bytes). */
void sigil_eip2333_withdrawal_path(char buf[48], uint32_t index);

#endif
