/* Fp2 = Fp[u]/(u^2 + 1). Every function is constant-time in its field-element arguments. */
#ifndef SIGIL_BLS12_381_FP2_IMPL_H
#define SIGIL_BLS12_381_FP2_IMPL_H

#include "crypto/bls12_381/internal.h"
#include "crypto/bls12_381/fp_impl.h"

static const fp2 FP2_ONE = {{{0x760900000002fffd, 0xebf4000bc40c0002, 0x5f48985753c758ba, 0x77ce585370525745,
                              0x5c071a97a256ec6d, 0x15f65ec3fa80e493}},
                            {{0}}};
static const fp2 FP2_ZERO = {{{0}}, {{0}}};

static inline void fp2_add(fp2 *r, const fp2 *a, const fp2 *b)
{
    fp_add(&r->c0, &a->c0, &b->c0);
    fp_add(&r->c1, &a->c1, &b->c1);
}

static inline void fp2_sub(fp2 *r, const fp2 *a, const fp2 *b)
{
    fp_sub(&r->c0, &a->c0, &b->c0);
    fp_sub(&r->c1, &a->c1, &b->c1);
}

static inline void fp2_dbl(fp2 *r, const fp2 *a)
{
    fp_dbl(&r->c0, &a->c0);
    fp_dbl(&r->c1, &a->c1);
}

static inline void fp2_neg(fp2 *r, const fp2 *a)
{
    fp_neg(&r->c0, &a->c0);
    fp_neg(&r->c1, &a->c1);
}

static inline void fp2_conj(fp2 *r, const fp2 *a)
{
    r->c0 = a->c0;
    fp_neg(&r->c1, &a->c1);
}

/* Karatsuba with lazy reduction: three double-width products and two Montgomery reductions
 * instead of three full Montgomery multiplications (Aranha et al., Eurocrypt 2011, section 3:
 * "Faster explicit formulas for computing pairings over ordinary curves", algorithm 2).
 *   c1 = (a0 + a1)(b0 + b1) - a0 b0 - a1 b1 = a0 b1 + a1 b0, in [0, 2p^2) and 2p^2 < p R;
 *   c0 = a0 b0 - a1 b1, in (-p^2, p^2); a borrow is fixed by adding p R (p in the top half),
 * which leaves the value below p R as fp_redc_wide requires. The sums a0 + a1, b0 + b1 are left
 * unreduced (< 2p < 2^382 fits six limbs). The borrow mask is data-independent arithmetic. */
static inline void fp2_mul(fp2 *r, const fp2 *a, const fp2 *b)
{
    limb_t t0[2 * NLIMBS], t1[2 * NLIMBS], t2[2 * NLIMBS], sa[NLIMBS], sb[NLIMBS];
    unsigned char c = 0, d = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        sa[i] = fp_adc(a->c0.l[i], a->c1.l[i], &c);
        sb[i] = fp_adc(b->c0.l[i], b->c1.l[i], &d);
    }
    fp_mul_wide(t0, a->c0.l, b->c0.l);
    fp_mul_wide(t1, a->c1.l, b->c1.l);
    fp_mul_wide(t2, sa, sb);
    c = 0;
    d = 0;
    FP_UNROLL
    for (int i = 0; i < 2 * NLIMBS; i++) {
        t2[i] = fp_sbb(t2[i], t0[i], &c);
        t2[i] = fp_sbb(t2[i], t1[i], &d);
    }
    c = 0;
    FP_UNROLL
    for (int i = 0; i < 2 * NLIMBS; i++) {
        t0[i] = fp_sbb(t0[i], t1[i], &c);
    }
    limb_t m = (limb_t)0 - c;
    c = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        t0[NLIMBS + i] = fp_adc(t0[NLIMBS + i], FP_P[i] & m, &c);
    }
    fp_redc_wide(&r->c0, t0);
    fp_redc_wide(&r->c1, t2);
}

/* (a0 + a1 u)^2 = (a0 + a1)(a0 - a1) + 2 a0 a1 u: two products. */
static inline void fp2_sqr(fp2 *r, const fp2 *a)
{
    fp s, d, m;
    fp_add(&s, &a->c0, &a->c1);
    fp_sub(&d, &a->c0, &a->c1);
    fp_mul(&m, &a->c0, &a->c1);
    fp_mul(&r->c0, &s, &d);
    fp_dbl(&r->c1, &m);
}

static inline void fp2_mul_fp(fp2 *r, const fp2 *a, const fp *b)
{
    fp_mul(&r->c0, &a->c0, b);
    fp_mul(&r->c1, &a->c1, b);
}

static inline void fp2_mul_by_xi(fp2 *r, const fp2 *a)
{
    fp t;
    fp_sub(&t, &a->c0, &a->c1);
    fp_add(&r->c1, &a->c0, &a->c1);
    r->c0 = t;
}

/* r = a * u = -a1 + a0 u. */
static inline void fp2_mul_by_u(fp2 *r, const fp2 *a)
{
    fp t;
    fp_neg(&t, &a->c1);
    r->c1 = a->c0;
    r->c0 = t;
}

static inline void fp2_mul_small(fp2 *r, const fp2 *a, unsigned k)
{
    fp_mul_small(&r->c0, &a->c0, k);
    fp_mul_small(&r->c1, &a->c1, k);
}

static inline void fp2_half(fp2 *r, const fp2 *a)
{
    fp_half(&r->c0, &a->c0);
    fp_half(&r->c1, &a->c1);
}

/* 1/a = conj(a) / N(a) with N(a) = a0^2 + a1^2 in Fp; 0 maps to 0. */
static void fp2_inv(fp2 *r, const fp2 *a)
{
    fp n, t;
    fp_sqr(&n, &a->c0);
    fp_sqr(&t, &a->c1);
    fp_add(&n, &n, &t);
    fp_inv(&n, &n);
    fp_mul(&r->c0, &a->c0, &n);
    fp_mul(&t, &a->c1, &n);
    fp_neg(&r->c1, &t);
}

static inline limb_t fp2_is_zero(const fp2 *a) { return fp_is_zero(&a->c0) & fp_is_zero(&a->c1); }

static inline limb_t fp2_eq(const fp2 *a, const fp2 *b) { return fp_eq(&a->c0, &b->c0) & fp_eq(&a->c1, &b->c1); }

static inline void fp2_cmov(fp2 *r, const fp2 *a, limb_t flag)
{
    fp_cmov(&r->c0, &a->c0, flag);
    fp_cmov(&r->c1, &a->c1, flag);
}

/* RFC 9380 section 4.1, m = 2: the parity of c0, or of c1 when c0 is zero. */
FIELD_MAYBE_UNUSED static limb_t fp2_sgn0(const fp2 *a)
{
    limb_t s0 = fp_sgn0(&a->c0), z0 = fp_is_zero(&a->c0), s1 = fp_sgn0(&a->c1);
    return s0 | (z0 & s1);
}

/* r = a^e for a public exponent e of n limbs (little-endian), by left-to-right sliding windows
 * of up to 5 bits over the odd powers a, a^3, .., a^31 (Menezes, van Oorschot, Vanstone,
 * Handbook of Applied Cryptography, algorithm 14.85): about 64 multiplications for a 381-bit
 * exponent where 4-bit fixed windows take about 110. Branches and table indices depend only
 * on e, never on a, so this is constant-time in a. */
DEFINE_POW_PUB(fp2_pow_pub, fp2, FP2_ONE, fp2_sqr, fp2_mul)

/* Square root for p = 3 mod 4: Algorithm 9 of Adj and Rodriguez-Henriquez, "Square root
 * computation over even extension fields" (eprint 2012/685). Both branches of the algorithm
 * are computed and one is selected with a mask; the final squaring check replaces the
 * algorithm's early exit for non-residues. */
FIELD_MAYBE_UNUSED static bool fp2_sqrt(fp2 *r, const fp2 *a)
{
    fp2 a1, alpha, x0, xi, b, mone, chk;
    fp2_pow_pub(&a1, a, FP_EXP_P_MINUS_3_DIV_4, NLIMBS);
    fp2_sqr(&alpha, &a1);
    fp2_mul(&alpha, &alpha, a); /* a^((p-1)/2) */
    fp2_mul(&x0, &a1, a);       /* a^((p+1)/4) */

    /* alpha == -1: the root is u * x0. */
    fp2_mul_by_u(&xi, &x0);

    /* Otherwise: (1 + alpha)^((p-1)/2) * x0. */
    fp2_add(&b, &FP2_ONE, &alpha);
    fp2_pow_pub(&b, &b, FP_EXP_P_MINUS_1_DIV_2, NLIMBS);
    fp2_mul(&b, &b, &x0);

    fp2_neg(&mone, &FP2_ONE);
    fp2_cmov(&b, &xi, fp2_eq(&alpha, &mone));

    fp2_sqr(&chk, &b);
    limb_t ok = fp2_eq(&chk, a); /* before the store: r may alias a */
    *r = b;
    return ok != 0;
}

#endif
