/* BLS signatures over BLS12-381, Ethereum's ciphersuite
 * BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_ (public keys in G1, signatures in G2).
 *
 * Value types are fixed-size and caller-allocated. A sigil_bls_pk / sigil_bls_sig that came out
 * of a decompress function has been fully validated (on curve, in the subgroup), so verification
 * never repeats those checks. Functions that touch a secret key are constant-time; functions
 * with a _var suffix are variable-time and take only public data.
 * Argument order: outputs first, then secret inputs, then public inputs. */
#ifndef SIGIL_CRYPTO_BLS_H
#define SIGIL_CRYPTO_BLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

#define SIGIL_BLS_SK_LEN      32
#define SIGIL_BLS_PK_LEN      48  /* compressed G1 */
#define SIGIL_BLS_PK_RAW_LEN  96  /* uncompressed G1 */
#define SIGIL_BLS_SIG_LEN     96  /* compressed G2 */
#define SIGIL_BLS_SIG_RAW_LEN 192 /* uncompressed G2 */

/* The POP ciphersuite's signing DST and its proof-of-possession DST. */
#define SIGIL_BLS_DST_SIG "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
#define SIGIL_BLS_DST_POP "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"

/* A secret scalar in [1, r-1], little-endian 64-bit limbs (not Montgomery form).
 * Keep it in memory from sigil_secure_alloc and wipe it with sigil_wipe. */
typedef struct {
    uint64_t l[4];
} sigil_bls_sk;

/* A point of G1 in affine coordinates (internal Montgomery representation). */
typedef struct {
    uint64_t x[6], y[6];
    uint64_t infinity; /* 1 for the identity */
} sigil_bls_g1;

/* A point of G2 in affine coordinates: x = x0 + x1*u, y = y0 + y1*u (Montgomery form). */
typedef struct {
    uint64_t x[2][6], y[2][6];
    uint64_t infinity;
} sigil_bls_g2;

typedef sigil_bls_g1 sigil_bls_pk;
typedef sigil_bls_g2 sigil_bls_sig;

/* ---- secret keys (constant-time) ---- */

/* Reads a 32-byte big-endian secret key. Fails with SIGIL_ERR_BLS_SCALAR if it is 0 or >= r.
 * The range check is constant-time. */
SIGIL_RESULT sigil_bls_sk_from_bytes(sigil_bls_sk *out, const uint8_t in[SIGIL_BLS_SK_LEN]);

/* Writes sk as 32 big-endian bytes. */
void sigil_bls_sk_to_bytes(uint8_t out[SIGIL_BLS_SK_LEN], const sigil_bls_sk *sk);

/* IETF BLS KeyGen (draft-irtf-cfrg-bls-signature-05 §2.3, the version EIP-2333 uses):
 * HKDF-SHA256 with salt "BLS-SIG-KEYGEN-SALT-" iterated until the result mod r is non-zero.
 * ikm_len must be >= 32. key_info may be NULL when key_info_len is 0. */
SIGIL_RESULT sigil_bls_keygen(sigil_bls_sk *out, const uint8_t *ikm, size_t ikm_len, const uint8_t *key_info,
                              size_t key_info_len);

/* Reduces a 48-byte big-endian integer modulo r in constant time (the HKDF-mod-r step).
 * out may be zero; callers decide what to do with that. */
void sigil_bls_sk_from_okm48(sigil_bls_sk *out, const uint8_t okm[48]);

/* 1 when sk is zero (constant-time). */
int sigil_bls_sk_is_zero(const sigil_bls_sk *sk);

/* SkToPk: pk = sk * G1 generator. Constant-time in sk. */
void sigil_bls_sk_to_pk(sigil_bls_pk *out, const sigil_bls_sk *sk);

/* Sign: sig = sk * hash_to_G2(msg, DST_SIG). Constant-time in sk. */
void sigil_bls_sign(sigil_bls_sig *out, const sigil_bls_sk *sk, const uint8_t *msg, size_t msg_len);

/* A message already hashed to G2 with DST_SIG (projective coordinates, public data), so that one
 * message signed by many keys is hashed once: sigil_bls_sign_hashed(sk, sigil_bls_hash_msg(m))
 * equals sigil_bls_sign(sk, m). Validators of one slot all sign the same attestation data, so a
 * signer holding many keys signs each such message many times (see keys/msg_cache.h). */
typedef struct {
    uint64_t v[36];
} sigil_bls_msg_point;

/* hash_to_G2(msg, DST_SIG), without the conversion to affine coordinates. */
void sigil_bls_hash_msg(sigil_bls_msg_point *out, const uint8_t *msg, size_t msg_len);

/* sig = sk * h for h from sigil_bls_hash_msg. Constant-time in sk. */
void sigil_bls_sign_hashed(sigil_bls_sig *out, const sigil_bls_sk *sk, const sigil_bls_msg_point *h);

/* PopProve: sk * hash_to_G2(compress(pk), DST_POP). */
void sigil_bls_pop_prove(sigil_bls_sig *out, const sigil_bls_sk *sk);

/* ---- serialization (ZCash format; decompression validates fully) ---- */

void sigil_bls_pk_compress(uint8_t out[SIGIL_BLS_PK_LEN], const sigil_bls_pk *pk);
void sigil_bls_pk_serialize(uint8_t out[SIGIL_BLS_PK_RAW_LEN], const sigil_bls_pk *pk);
void sigil_bls_sig_compress(uint8_t out[SIGIL_BLS_SIG_LEN], const sigil_bls_sig *sig);
void sigil_bls_sig_serialize(uint8_t out[SIGIL_BLS_SIG_RAW_LEN], const sigil_bls_sig *sig);

/* Decodes a public key: flag bits, field range, on-curve and subgroup checks. The identity is
 * refused (KeyValidate) with SIGIL_ERR_BLS_INFINITY. */
SIGIL_RESULT sigil_bls_pk_decompress(sigil_bls_pk *out, const uint8_t in[SIGIL_BLS_PK_LEN]);
SIGIL_RESULT sigil_bls_pk_deserialize(sigil_bls_pk *out, const uint8_t in[SIGIL_BLS_PK_RAW_LEN]);

/* Decodes a signature: flag bits, field range, on-curve and subgroup checks. A correctly
 * encoded identity decodes (it is a valid group element) and simply never verifies. */
SIGIL_RESULT sigil_bls_sig_decompress(sigil_bls_sig *out, const uint8_t in[SIGIL_BLS_SIG_LEN]);
SIGIL_RESULT sigil_bls_sig_deserialize(sigil_bls_sig *out, const uint8_t in[SIGIL_BLS_SIG_RAW_LEN]);

/* Decoding without the subgroup check, for tests and for callers that check later. */
SIGIL_RESULT sigil_bls_g1_decompress_unchecked(sigil_bls_g1 *out, const uint8_t in[SIGIL_BLS_PK_LEN]);
SIGIL_RESULT sigil_bls_g2_decompress_unchecked(sigil_bls_g2 *out, const uint8_t in[SIGIL_BLS_SIG_LEN]);
bool sigil_bls_g1_in_subgroup_var(const sigil_bls_g1 *p);
bool sigil_bls_g2_in_subgroup_var(const sigil_bls_g2 *p);
bool sigil_bls_g1_eq(const sigil_bls_g1 *a, const sigil_bls_g1 *b);
bool sigil_bls_g2_eq(const sigil_bls_g2 *a, const sigil_bls_g2 *b);

/* ---- verification (variable-time; public inputs only) ---- */

/* Verify(pk, msg, sig) with DST_SIG. pk and sig must come from the decoders above. */
bool sigil_bls_verify_var(const sigil_bls_pk *pk, const uint8_t *msg, size_t msg_len, const sigil_bls_sig *sig);

/* Aggregate: sum of n >= 1 signatures / public keys. n == 0 gives SIGIL_ERR_BLS_EMPTY. */
SIGIL_RESULT sigil_bls_aggregate_sigs(sigil_bls_sig *out, const sigil_bls_sig *sigs, size_t n);
SIGIL_RESULT sigil_bls_aggregate_pks(sigil_bls_pk *out, const sigil_bls_pk *pks, size_t n);

/* FastAggregateVerify: n >= 1 keys that all signed the same message. */
bool sigil_bls_fast_aggregate_verify_var(const sigil_bls_pk *pks, size_t n, const uint8_t *msg, size_t msg_len,
                                         const sigil_bls_sig *sig);

/* AggregateVerify: n >= 1 (pk_i, msg_i) pairs and one aggregate signature. Per the POP
 * ciphersuite, messages need not be distinct. */
bool sigil_bls_aggregate_verify_var(const sigil_bls_pk *pks, const uint8_t *const *msgs, const size_t *msg_lens,
                                    size_t n, const sigil_bls_sig *sig);

/* PopVerify with DST_POP. */
bool sigil_bls_pop_verify_var(const sigil_bls_pk *pk, const sigil_bls_sig *proof);

/* Batch verification of n independent (pk, msg, sig) triples with random 64-bit scalars from
 * the OS RNG: one multi-pairing instead of n. False if any triple is invalid, n == 0, or the RNG
 * fails. */
bool sigil_bls_batch_verify_var(const sigil_bls_pk *pks, const uint8_t *const *msgs, const size_t *msg_lens,
                                const sigil_bls_sig *sigs, size_t n);

/* ---- hashing to the curve (RFC 9380), exposed for tests and other ciphersuites ---- */

/* expand_message_xmd with SHA-256. len <= 8160, dst_len <= 255 (longer DSTs are hashed per the
 * RFC's oversize rule). Returns false on bad lengths. */
bool sigil_bls_expand_message_xmd(uint8_t *out, size_t len, const uint8_t *msg, size_t msg_len, const uint8_t *dst,
                                  size_t dst_len);

/* hash_to_curve (RO) and encode_to_curve (NU) for G2 and G1. */
void sigil_bls_hash_to_g2(sigil_bls_g2 *out, const uint8_t *msg, size_t msg_len, const uint8_t *dst, size_t dst_len);
void sigil_bls_encode_to_g2(sigil_bls_g2 *out, const uint8_t *msg, size_t msg_len, const uint8_t *dst, size_t dst_len);
void sigil_bls_hash_to_g1(sigil_bls_g1 *out, const uint8_t *msg, size_t msg_len, const uint8_t *dst, size_t dst_len);

/* Field elements out of a point, big-endian 48 bytes each, for comparing with RFC vectors. */
void sigil_bls_g1_coords(uint8_t x[48], uint8_t y[48], const sigil_bls_g1 *p);
void sigil_bls_g2_coords(uint8_t x0[48], uint8_t x1[48], uint8_t y0[48], uint8_t y1[48], const sigil_bls_g2 *p);

#endif
