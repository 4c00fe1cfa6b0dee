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

/* Karatsuba: three base-field products instead of four. */
static inline void fp2_mul(fp2 *r, const fp2 *a, const fp2 *b)
{
    fp t0, t1, sa, sb;
    fp_mul(&t0, &a->c0, &b->c0);
    fp_mul(&t1, &a->c1, &b->c1);
    fp_add(&sa, &a->c0, &a->c1);
    fp_add(&sb, &b->c0, &b->c1);
    fp_mul(&r->c1, &sa, &sb);
    fp_sub(&r->c1, &r->c1, &t0);
    fp_sub(&r->c1, &r->c1, &t1);
    fp_sub(&r->c0, &t0, &t1);
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

/* r = a^e for a public exponent (see fp_pow_pub). */
static void fp2_pow_pub(fp2 *r, const fp2 *a, const limb_t *e, size_t n)
{
    fp2 tab[16], acc;
    tab[0] = FP2_ONE;
    tab[1] = *a;
    for (int i = 2; i < 16; i++) {
        fp2_mul(&tab[i], &tab[i - 1], a);
    }
    acc = FP2_ONE;
    int started = 0;
    for (size_t k = 16 * n; k-- > 0;) {
        unsigned w = (unsigned)(e[k / 16] >> (4 * (k % 16))) & 15;
        if (started) {
            fp2_sqr(&acc, &acc);
            fp2_sqr(&acc, &acc);
            fp2_sqr(&acc, &acc);
            fp2_sqr(&acc, &acc);
        }
        if (w != 0) {
            if (started) {
                fp2_mul(&acc, &acc, &tab[w]);
            } else {
                acc = tab[w];
                started = 1;
            }
        }
    }
    *r = acc;
}

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
