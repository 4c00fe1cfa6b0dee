/* Internal contract of the BLS12-381 translation unit.
 *
 * The whole curve library compiles as ONE translation unit (bls12_381.c includes every
 * *_impl.h), like blst's server.c and libsecp256k1's secp256k1.c: everything is static, the
 * compiler inlines field arithmetic across layers, and only the functions of crypto/bls.h are
 * exported. This header declares the functions that one layer offers another, so the layers
 * can be written and read independently.
 *
 * Representation: Fp elements are 6 little-endian 64-bit limbs in Montgomery form
 * (R = 2^384 mod p), always fully reduced to [0, p). Fp2 = Fp[u]/(u^2 + 1),
 * Fp6 = Fp2[v]/(v^3 - (u + 1)), Fp12 = Fp6[w]/(w^2 - v).
 *
 * Constant time: every function without a _var suffix runs in time independent of its
 * inputs' values (no secret-dependent branch or memory index). Flags are limb_t masks or 0/1
 * values combined with arithmetic, never branched on inside constant-time code. */
#ifndef SIGIL_BLS12_381_INTERNAL_H
#define SIGIL_BLS12_381_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t limb_t;
#define NLIMBS 6

typedef struct {
    limb_t l[NLIMBS];
} fp;
typedef struct {
    fp c0, c1;
} fp2;
typedef struct {
    fp2 c0, c1, c2;
} fp6;
typedef struct {
    fp6 c0, c1;
} fp12;

/* Affine points; layout-compatible with sigil_bls_g1 / sigil_bls_g2 in crypto/bls.h.
 * inf is 1 for the identity (then x, y are zero). */
typedef struct {
    fp x, y;
    limb_t inf;
} g1a;
typedef struct {
    fp2 x, y;
    limb_t inf;
} g2a;

/* Projective points (layer g1/g2 decides the exact system; see g1_impl.h). */
typedef struct {
    fp x, y, z;
} g1p;
typedef struct {
    fp2 x, y, z;
} g2p;

/* ---- fp_impl.h ---- */
static const fp FP_ONE; /* R mod p */
static const fp FP_ZERO;
static void fp_add(fp *r, const fp *a, const fp *b);
static void fp_sub(fp *r, const fp *a, const fp *b);
static void fp_dbl(fp *r, const fp *a);
static void fp_neg(fp *r, const fp *a); /* -0 == 0 */
static void fp_mul(fp *r, const fp *a, const fp *b);
static void fp_sqr(fp *r, const fp *a);
static void fp_inv(fp *r, const fp *a);  /* constant-time; 0 -> 0 */
static bool fp_sqrt(fp *r, const fp *a); /* constant-time; false (r unspecified) if a is a non-residue */
static limb_t fp_is_zero(const fp *a);   /* 1 or 0 */
static limb_t fp_eq(const fp *a, const fp *b);
static void fp_cmov(fp *r, const fp *a, limb_t flag);      /* r = flag ? a : r */
static limb_t fp_sgn0(const fp *a);                        /* RFC 9380 sgn0 (parity of the integer) */
static bool fp_from_bytes_be(fp *r, const uint8_t in[48]); /* false if >= p */
static void fp_to_bytes_be(uint8_t out[48], const fp *a);
static limb_t fp_lexically_largest(const fp *a); /* 1 if a > (p-1)/2, ZCash sign rule */

/* ---- fp2_impl.h ---- */
static const fp2 FP2_ONE;
static const fp2 FP2_ZERO;
static void fp2_add(fp2 *r, const fp2 *a, const fp2 *b);
static void fp2_sub(fp2 *r, const fp2 *a, const fp2 *b);
static void fp2_dbl(fp2 *r, const fp2 *a);
static void fp2_neg(fp2 *r, const fp2 *a);
static void fp2_conj(fp2 *r, const fp2 *a); /* also the Frobenius map on Fp2 */
static void fp2_mul(fp2 *r, const fp2 *a, const fp2 *b);
static void fp2_sqr(fp2 *r, const fp2 *a);
static void fp2_mul_fp(fp2 *r, const fp2 *a, const fp *b);
static void fp2_mul_by_xi(fp2 *r, const fp2 *a); /* r = a * (u + 1) */
static void fp2_inv(fp2 *r, const fp2 *a);
static bool fp2_sqrt(fp2 *r, const fp2 *a);
static limb_t fp2_is_zero(const fp2 *a);
static limb_t fp2_eq(const fp2 *a, const fp2 *b);
static void fp2_cmov(fp2 *r, const fp2 *a, limb_t flag);
static limb_t fp2_sgn0(const fp2 *a);

/* ---- fp12_impl.h ---- */
static const fp12 FP12_ONE;
static void fp12_mul(fp12 *r, const fp12 *a, const fp12 *b);
static void fp12_sqr(fp12 *r, const fp12 *a);
static void fp12_inv(fp12 *r, const fp12 *a);
static void fp12_conj(fp12 *r, const fp12 *a);
static void fp12_frobenius(fp12 *r, const fp12 *a, int power); /* power 1..3 */
static bool fp12_is_one(const fp12 *a);
static bool fp12_eq(const fp12 *a, const fp12 *b);

/* ---- pairing_impl.h ---- */
/* Product of the Miller loops f_{|x|,Q_i}(P_i) for n pairs; pairs where either point is the
 * identity contribute 1. The points must be affine. */
static void miller_loop_n_var(fp12 *r, const g2a *Q, const g1a *P, size_t n);
static void final_exp(fp12 *r, const fp12 *f);
/* true iff prod e(P_i, Q_i) == 1. */
static bool pairing_product_is_one_var(const g1a *P, const g2a *Q, size_t n);

/* ---- field-layer extras (added by the fields/pairing layer; defined in fp_impl.h,
 * fp2_impl.h, fp12_impl.h) ---- */
static void fp_pow_pub(fp *r, const fp *a, const limb_t *e, size_t n); /* e public, n limbs, LE */
static limb_t fp_is_square(const fp *a);                               /* 1 for squares and 0 */
static void fp_mul_small(fp *r, const fp *a, unsigned k);              /* k public */
static void fp_half(fp *r, const fp *a);
static void fp2_pow_pub(fp2 *r, const fp2 *a, const limb_t *e, size_t n);
static void fp2_mul_small(fp2 *r, const fp2 *a, unsigned k);
static void fp2_half(fp2 *r, const fp2 *a);
static void fp2_mul_by_u(fp2 *r, const fp2 *a);
/* Cyclotomic-subgroup helpers (valid only after the easy part of final_exp). */
static void fp12_cyclotomic_sqr(fp12 *r, const fp12 *a);
static void fp12_cyclotomic_exp_by_x(fp12 *r, const fp12 *a); /* a^x, x = -0xd201000000010000 */

/* ---- g1_impl.h / g2_impl.h ---- */
static const g1a G1_GENERATOR;
static const g2a G2_GENERATOR;
static void g1_from_affine(g1p *r, const g1a *a);
static void g1_to_affine(g1a *r, const g1p *p);
static void g1_add(g1p *r, const g1p *a, const g1p *b); /* complete, constant-time */
static void g1_dbl(g1p *r, const g1p *a);
static void g1_neg(g1p *r, const g1p *a);
static limb_t g1_is_inf(const g1p *a);
static void g1_mul_ct(g1p *r, const g1p *a, const limb_t k[4]); /* constant-time in k (256-bit) */
static void g1_mul_var(g1p *r, const g1p *a, const limb_t *k, size_t nbits);
static bool g1a_on_curve_var(const g1a *a);
static bool g1a_in_subgroup_var(const g1a *a);

static void g2_from_affine(g2p *r, const g2a *a);
static void g2_to_affine(g2a *r, const g2p *p);
static void g2_add(g2p *r, const g2p *a, const g2p *b);
static void g2_dbl(g2p *r, const g2p *a);
static void g2_neg(g2p *r, const g2p *a);
static limb_t g2_is_inf(const g2p *a);
static void g2_mul_ct(g2p *r, const g2p *a, const limb_t k[4]);
static void g2_mul_var(g2p *r, const g2p *a, const limb_t *k, size_t nbits);
static bool g2a_on_curve_var(const g2a *a);
static bool g2a_in_subgroup_var(const g2a *a);

/* ---- hash_to_curve_impl.h ---- */
static void hash_to_g2(g2p *r, const uint8_t *msg, size_t msg_len, const uint8_t *dst, size_t dst_len);

#endif
