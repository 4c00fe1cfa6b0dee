/* Fp6 = Fp2[v]/(v^3 - xi) and Fp12 = Fp6[w]/(w^2 - v), xi = u + 1.
 *
 * Every function without a _var suffix is constant-time. The cyclotomic-subgroup helpers
 * (fp12_cyclotomic_sqr, fp12_cyclotomic_exp_by_x) are only correct for elements of order
 * dividing p^4 - p^2 + 1, i.e. after the easy part of the final exponentiation. */
#ifndef SIGIL_BLS12_381_FP12_IMPL_H
#define SIGIL_BLS12_381_FP12_IMPL_H

#include "crypto/bls12_381/internal.h"
#include "crypto/bls12_381/fp_impl.h"
#include "crypto/bls12_381/fp2_impl.h"

/* Frobenius constants. Writing an Fp12 element as sum_j a_j w^j (j = 0..5, with c0 holding
 * j = 0, 2, 4 and c1 holding j = 1, 3, 5), frob^k(a) = sum_j conj^k(a_j) * gamma_k[j] * w^j with
 * gamma_k[j] = xi^(j (p^k - 1) / 6), since w^6 = xi. Computed with python3 by plain Fp2
 * exponentiation and written in Montgomery form; FP12_FROB[k-1][j-1] holds gamma_k[j]. */
static const fp2 FP12_FROB[3][5] = {
    /* p^1 */
    {
        {{{0x07089552b319d465, 0xc6695f92b50a8313, 0x97e83cccd117228f, 0xa35baecab2dc29ee, 0x1ce393ea5daace4d,
           0x08f2220fb0fb66eb}},
         {{0xb2f66aad4ce5d646, 0x5842a06bfc497cec, 0xcf4895d42599d394, 0xc11b9cba40a8e8d0, 0x2e3813cbe5a0de89,
           0x110eefda88847faf}}}, /* xi^(1(p^1-1)/6) */
        {{{0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
           0x0000000000000000}},
         {{0xcd03c9e48671f071, 0x5dab22461fcda5d2, 0x587042afd3851b95, 0x8eb60ebe01bacb9e, 0x03f97d6e83d050d2,
           0x18f0206554638741}}}, /* xi^(2(p^1-1)/6) */
        {{{0x7bcfa7a25aa30fda, 0xdc17dec12a927e7c, 0x2f088dd86b4ebef1, 0xd1ca2087da74d4a7, 0x2da2596696cebc1d,
           0x0e2b7eedbbfd87d2}},
         {{0x7bcfa7a25aa30fda, 0xdc17dec12a927e7c, 0x2f088dd86b4ebef1, 0xd1ca2087da74d4a7, 0x2da2596696cebc1d,
           0x0e2b7eedbbfd87d2}}}, /* xi^(3(p^1-1)/6) */
        {{{0x890dc9e4867545c3, 0x2af322533285a5d5, 0x50880866309b7e2c, 0xa20d1b8c7e881024, 0x14e4f04fe2db9068,
           0x14e56d3f1564853a}},
         {{0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
           0x0000000000000000}}}, /* xi^(4(p^1-1)/6) */
        {{{0x82d83cf50dbce43f, 0xa2813e53df9d018f, 0xc6f0caa53c65e181, 0x7525cf528d50fe95, 0x4a85ed50f4798a6b,
           0x171da0fd6cf8eebd}},
         {{0x3726c30af242c66c, 0x7c2ac1aad1b6fe70, 0xa04007fbba4b14a2, 0xef517c3266341429, 0x0095ba654ed2226b,
           0x02e370eccc86f7dd}}}, /* xi^(5(p^1-1)/6) */
    },
    /* p^2 */
    {
        {{{0xecfb361b798dba3a, 0xc100ddb891865a2c, 0x0ec08ff1232bda8e, 0xd5c13cc6f1ca4721, 0x47222a47bf7b5c04,
           0x0110f184e51c5f59}},
         {{0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
           0x0000000000000000}}}, /* xi^(1(p^2-1)/6) */
        {{{0x30f1361b798a64e8, 0xf3b8ddab7ece5a2a, 0x16a8ca3ac61577f7, 0xc26a2ff874fd029b, 0x3636b76660701c6e,
           0x051ba4ab241b6160}},
         {{0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
           0x0000000000000000}}}, /* xi^(2(p^2-1)/6) */
        {{{0x43f5fffffffcaaae, 0x32b7fff2ed47fffd, 0x07e83a49a2e99d69, 0xeca8f3318332bb7a, 0xef148d1ea0f4c069,
           0x040ab3263eff0206}},
         {{0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
           0x0000000000000000}}}, /* xi^(3(p^2-1)/6) */
        {{{0xcd03c9e48671f071, 0x5dab22461fcda5d2, 0x587042afd3851b95, 0x8eb60ebe01bacb9e, 0x03f97d6e83d050d2,
           0x18f0206554638741}},
         {{0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
           0x0000000000000000}}}, /* xi^(4(p^2-1)/6) */
        {{{0x890dc9e4867545c3, 0x2af322533285a5d5, 0x50880866309b7e2c, 0xa20d1b8c7e881024, 0x14e4f04fe2db9068,
           0x14e56d3f1564853a}},
         {{0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
           0x0000000000000000}}}, /* xi^(5(p^2-1)/6) */
    },
    /* p^3 */
    {
        {{{0x3e2f585da55c9ad1, 0x4294213d86c18183, 0x382844c88b623732, 0x92ad2afd19103e18, 0x1d794e4fac7cf0b9,
           0x0bd592fc7d825ec8}},
         {{0x7bcfa7a25aa30fda, 0xdc17dec12a927e7c, 0x2f088dd86b4ebef1, 0xd1ca2087da74d4a7, 0x2da2596696cebc1d,
           0x0e2b7eedbbfd87d2}}}, /* xi^(1(p^3-1)/6) */
        {{{0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
           0x0000000000000000}},
         {{0x760900000002fffd, 0xebf4000bc40c0002, 0x5f48985753c758ba, 0x77ce585370525745, 0x5c071a97a256ec6d,
           0x15f65ec3fa80e493}}}, /* xi^(2(p^3-1)/6) */
        {{{0x3e2f585da55c9ad1, 0x4294213d86c18183, 0x382844c88b623732, 0x92ad2afd19103e18, 0x1d794e4fac7cf0b9,
           0x0bd592fc7d825ec8}},
         {{0x3e2f585da55c9ad1, 0x4294213d86c18183, 0x382844c88b623732, 0x92ad2afd19103e18, 0x1d794e4fac7cf0b9,
           0x0bd592fc7d825ec8}}}, /* xi^(3(p^3-1)/6) */
        {{{0x43f5fffffffcaaae, 0x32b7fff2ed47fffd, 0x07e83a49a2e99d69, 0xeca8f3318332bb7a, 0xef148d1ea0f4c069,
           0x040ab3263eff0206}},
         {{0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000,
           0x0000000000000000}}}, /* xi^(4(p^3-1)/6) */
        {{{0x7bcfa7a25aa30fda, 0xdc17dec12a927e7c, 0x2f088dd86b4ebef1, 0xd1ca2087da74d4a7, 0x2da2596696cebc1d,
           0x0e2b7eedbbfd87d2}},
         {{0x3e2f585da55c9ad1, 0x4294213d86c18183, 0x382844c88b623732, 0x92ad2afd19103e18, 0x1d794e4fac7cf0b9,
           0x0bd592fc7d825ec8}}}, /* xi^(5(p^3-1)/6) */
    },
};

static const fp12 FP12_ONE = {{{{{0x760900000002fffd, 0xebf4000bc40c0002, 0x5f48985753c758ba, 0x77ce585370525745,
                                  0x5c071a97a256ec6d, 0x15f65ec3fa80e493}},
                                {{0}}},
                               {{{0}}, {{0}}},
                               {{{0}}, {{0}}}},
                              {{{{0}}, {{0}}}, {{{0}}, {{0}}}, {{{0}}, {{0}}}}};

/* ---- Fp6 ---- */

static inline void fp6_add(fp6 *r, const fp6 *a, const fp6 *b)
{
    fp2_add(&r->c0, &a->c0, &b->c0);
    fp2_add(&r->c1, &a->c1, &b->c1);
    fp2_add(&r->c2, &a->c2, &b->c2);
}

static inline void fp6_sub(fp6 *r, const fp6 *a, const fp6 *b)
{
    fp2_sub(&r->c0, &a->c0, &b->c0);
    fp2_sub(&r->c1, &a->c1, &b->c1);
    fp2_sub(&r->c2, &a->c2, &b->c2);
}

static inline void fp6_neg(fp6 *r, const fp6 *a)
{
    fp2_neg(&r->c0, &a->c0);
    fp2_neg(&r->c1, &a->c1);
    fp2_neg(&r->c2, &a->c2);
}

/* r = a * v: the coefficients rotate and the one that wraps past v^3 picks up xi. */
static inline void fp6_mul_by_v(fp6 *r, const fp6 *a)
{
    fp2 t;
    fp2_mul_by_xi(&t, &a->c2);
    r->c2 = a->c1;
    r->c1 = a->c0;
    r->c0 = t;
}

/* Karatsuba over the cubic extension: 6 Fp2 products. */
static void fp6_mul(fp6 *r, const fp6 *a, const fp6 *b)
{
    fp2 t0, t1, t2, s, u, c0, c1, c2;
    fp2_mul(&t0, &a->c0, &b->c0);
    fp2_mul(&t1, &a->c1, &b->c1);
    fp2_mul(&t2, &a->c2, &b->c2);

    fp2_add(&s, &a->c1, &a->c2);
    fp2_add(&u, &b->c1, &b->c2);
    fp2_mul(&c0, &s, &u);
    fp2_sub(&c0, &c0, &t1);
    fp2_sub(&c0, &c0, &t2);
    fp2_mul_by_xi(&c0, &c0);
    fp2_add(&c0, &c0, &t0);

    fp2_add(&s, &a->c0, &a->c1);
    fp2_add(&u, &b->c0, &b->c1);
    fp2_mul(&c1, &s, &u);
    fp2_sub(&c1, &c1, &t0);
    fp2_sub(&c1, &c1, &t1);
    fp2_mul_by_xi(&s, &t2);
    fp2_add(&c1, &c1, &s);

    fp2_add(&s, &a->c0, &a->c2);
    fp2_add(&u, &b->c0, &b->c2);
    fp2_mul(&c2, &s, &u);
    fp2_sub(&c2, &c2, &t0);
    fp2_sub(&c2, &c2, &t2);
    fp2_add(&c2, &c2, &t1);

    r->c0 = c0;
    r->c1 = c1;
    r->c2 = c2;
}

/* Chung-Hasan SQR2: 2 Fp2 multiplications and 3 squarings. */
static void fp6_sqr(fp6 *r, const fp6 *a)
{
    fp2 s0, s1, s2, s3, s4, t;
    fp2_sqr(&s0, &a->c0);
    fp2_mul(&s1, &a->c0, &a->c1);
    fp2_dbl(&s1, &s1);
    fp2_sub(&t, &a->c0, &a->c1);
    fp2_add(&t, &t, &a->c2);
    fp2_sqr(&s2, &t);
    fp2_mul(&s3, &a->c1, &a->c2);
    fp2_dbl(&s3, &s3);
    fp2_sqr(&s4, &a->c2);

    fp2_mul_by_xi(&t, &s3);
    fp2_add(&r->c0, &t, &s0);
    fp2_mul_by_xi(&t, &s4);
    fp2_add(&t, &t, &s1);
    fp2_add(&r->c2, &s1, &s2);
    fp2_add(&r->c2, &r->c2, &s3);
    fp2_sub(&r->c2, &r->c2, &s0);
    fp2_sub(&r->c2, &r->c2, &s4);
    r->c1 = t;
}

/* r = a * (b0 + b1 v): 5 Fp2 products. */
static void fp6_mul_by_01(fp6 *r, const fp6 *a, const fp2 *b0, const fp2 *b1)
{
    fp2 t0, t1, s, u, c0, c1, c2;
    fp2_mul(&t0, &a->c0, b0);
    fp2_mul(&t1, &a->c1, b1);

    fp2_mul(&c0, &a->c2, b1);
    fp2_mul_by_xi(&c0, &c0);
    fp2_add(&c0, &c0, &t0);

    fp2_add(&s, &a->c0, &a->c1);
    fp2_add(&u, b0, b1);
    fp2_mul(&c1, &s, &u);
    fp2_sub(&c1, &c1, &t0);
    fp2_sub(&c1, &c1, &t1);

    fp2_mul(&c2, &a->c2, b0);
    fp2_add(&c2, &c2, &t1);

    r->c0 = c0;
    r->c1 = c1;
    r->c2 = c2;
}

/* r = a * (b1 v): 3 Fp2 products. */
static void fp6_mul_by_1(fp6 *r, const fp6 *a, const fp2 *b1)
{
    fp2 c0, c1, c2;
    fp2_mul(&c0, &a->c2, b1);
    fp2_mul_by_xi(&c0, &c0);
    fp2_mul(&c1, &a->c0, b1);
    fp2_mul(&c2, &a->c1, b1);
    r->c0 = c0;
    r->c1 = c1;
    r->c2 = c2;
}

static void fp6_inv(fp6 *r, const fp6 *a)
{
    fp2 t0, t1, t2, s, d;
    fp2_sqr(&t0, &a->c0);
    fp2_mul(&s, &a->c1, &a->c2);
    fp2_mul_by_xi(&s, &s);
    fp2_sub(&t0, &t0, &s); /* a0^2 - xi a1 a2 */

    fp2_sqr(&t1, &a->c2);
    fp2_mul_by_xi(&t1, &t1);
    fp2_mul(&s, &a->c0, &a->c1);
    fp2_sub(&t1, &t1, &s); /* xi a2^2 - a0 a1 */

    fp2_sqr(&t2, &a->c1);
    fp2_mul(&s, &a->c0, &a->c2);
    fp2_sub(&t2, &t2, &s); /* a1^2 - a0 a2 */

    fp2_mul(&d, &a->c2, &t1);
    fp2_mul(&s, &a->c1, &t2);
    fp2_add(&d, &d, &s);
    fp2_mul_by_xi(&d, &d);
    fp2_mul(&s, &a->c0, &t0);
    fp2_add(&d, &d, &s);
    fp2_inv(&d, &d);

    fp2_mul(&r->c0, &t0, &d);
    fp2_mul(&r->c1, &t1, &d);
    fp2_mul(&r->c2, &t2, &d);
}

static inline limb_t fp6_eq(const fp6 *a, const fp6 *b)
{
    return fp2_eq(&a->c0, &b->c0) & fp2_eq(&a->c1, &b->c1) & fp2_eq(&a->c2, &b->c2);
}

/* ---- Fp12 ---- */

/* Karatsuba over the quadratic extension: 3 Fp6 products. */
static void fp12_mul(fp12 *r, const fp12 *a, const fp12 *b)
{
    fp6 t0, t1, s, u;
    fp6_mul(&t0, &a->c0, &b->c0);
    fp6_mul(&t1, &a->c1, &b->c1);
    fp6_add(&s, &a->c0, &a->c1);
    fp6_add(&u, &b->c0, &b->c1);
    fp6_mul(&r->c1, &s, &u);
    fp6_sub(&r->c1, &r->c1, &t0);
    fp6_sub(&r->c1, &r->c1, &t1);
    fp6_mul_by_v(&t1, &t1);
    fp6_add(&r->c0, &t0, &t1);
}

/* (a0 + a1 w)^2 = (a0 + a1)(a0 + v a1) - a0 a1 - v a0 a1 + 2 a0 a1 w: 2 Fp6 products. */
static void fp12_sqr(fp12 *r, const fp12 *a)
{
    fp6 ab, s, t;
    fp6_mul(&ab, &a->c0, &a->c1);
    fp6_add(&s, &a->c0, &a->c1);
    fp6_mul_by_v(&t, &a->c1);
    fp6_add(&t, &t, &a->c0);
    fp6_mul(&s, &s, &t);
    fp6_sub(&s, &s, &ab);
    fp6_mul_by_v(&t, &ab);
    fp6_sub(&r->c0, &s, &t);
    fp6_add(&r->c1, &ab, &ab);
}

/* 1/(a0 + a1 w) = (a0 - a1 w) / (a0^2 - v a1^2). */
static void fp12_inv(fp12 *r, const fp12 *a)
{
    fp6 t0, t1;
    fp6_sqr(&t0, &a->c0);
    fp6_sqr(&t1, &a->c1);
    fp6_mul_by_v(&t1, &t1);
    fp6_sub(&t0, &t0, &t1);
    fp6_inv(&t0, &t0);
    fp6_mul(&r->c0, &a->c0, &t0);
    fp6_mul(&r->c1, &a->c1, &t0);
    fp6_neg(&r->c1, &r->c1);
}

/* a^(p^6); the inverse on the cyclotomic subgroup. */
static inline void fp12_conj(fp12 *r, const fp12 *a)
{
    r->c0 = a->c0;
    fp6_neg(&r->c1, &a->c1);
}

static void fp12_frobenius(fp12 *r, const fp12 *a, int power)
{
    const fp2 *g = FP12_FROB[power - 1];
    fp12 t = *a;
    if (power & 1) {
        fp2_conj(&t.c0.c0, &t.c0.c0);
        fp2_conj(&t.c0.c1, &t.c0.c1);
        fp2_conj(&t.c0.c2, &t.c0.c2);
        fp2_conj(&t.c1.c0, &t.c1.c0);
        fp2_conj(&t.c1.c1, &t.c1.c1);
        fp2_conj(&t.c1.c2, &t.c1.c2);
    }
    /* c0 = (w^0, w^2, w^4), c1 = (w^1, w^3, w^5). */
    fp2_mul(&t.c0.c1, &t.c0.c1, &g[1]);
    fp2_mul(&t.c0.c2, &t.c0.c2, &g[3]);
    fp2_mul(&t.c1.c0, &t.c1.c0, &g[0]);
    fp2_mul(&t.c1.c1, &t.c1.c1, &g[2]);
    fp2_mul(&t.c1.c2, &t.c1.c2, &g[4]);
    *r = t;
}

static bool fp12_eq(const fp12 *a, const fp12 *b) { return (fp6_eq(&a->c0, &b->c0) & fp6_eq(&a->c1, &b->c1)) != 0; }

static bool fp12_is_one(const fp12 *a) { return fp12_eq(a, &FP12_ONE); }

/* f * (l0 + l1 w^2 + l4 w^3): the shape of a line function on the M-type twist, where w^2 = v
 * sits in c0.c1 and w^3 = v w in c1.c1. 13 Fp2 products instead of the 18 of fp12_mul. */
static void fp12_mul_by_014(fp12 *f, const fp2 *l0, const fp2 *l1, const fp2 *l4)
{
    fp6 aa, bb, s;
    fp2 t;
    fp6_mul_by_01(&aa, &f->c0, l0, l1);
    fp6_mul_by_1(&bb, &f->c1, l4);
    fp2_add(&t, l1, l4);
    fp6_add(&s, &f->c0, &f->c1);
    fp6_mul_by_01(&s, &s, l0, &t);
    fp6_sub(&s, &s, &aa);
    fp6_sub(&f->c1, &s, &bb);
    fp6_mul_by_v(&bb, &bb);
    fp6_add(&f->c0, &aa, &bb);
}

/* (a + b y)^2 in Fp4 = Fp2[y]/(y^2 - xi), from three squarings. */
static inline void fp4_sqr(fp2 *r0, fp2 *r1, const fp2 *a, const fp2 *b)
{
    fp2 a2, b2, s;
    fp2_sqr(&a2, a);
    fp2_sqr(&b2, b);
    fp2_add(&s, a, b);
    fp2_sqr(&s, &s);
    fp2_sub(&s, &s, &a2);
    fp2_sub(r1, &s, &b2);
    fp2_mul_by_xi(&b2, &b2);
    fp2_add(r0, &a2, &b2);
}

/* Granger-Scott squaring for elements of the cyclotomic subgroup: Fp12 viewed as a cubic
 * extension of Fp4 = Fp2[w^3], with the three Fp4 coefficients (c0.c0, c1.c1),
 * (c1.c0, c0.c2), (c0.c1, c1.c2). 9 Fp2 squarings instead of the 12 products of fp12_sqr. */
static void fp12_cyclotomic_sqr(fp12 *r, const fp12 *a)
{
    fp2 t0, t1, t2, t3, t4, t5, s;
    fp4_sqr(&t0, &t1, &a->c0.c0, &a->c1.c1);
    fp4_sqr(&t2, &t3, &a->c1.c0, &a->c0.c2);
    fp4_sqr(&t4, &t5, &a->c0.c1, &a->c1.c2);

    /* 3 t - 2 z for the real parts, 3 t + 2 z for the imaginary ones. */
    fp2_sub(&s, &t0, &a->c0.c0);
    fp2_dbl(&s, &s);
    fp2_add(&r->c0.c0, &s, &t0);
    fp2_add(&s, &t1, &a->c1.c1);
    fp2_dbl(&s, &s);
    fp2_add(&r->c1.c1, &s, &t1);

    fp2_mul_by_xi(&t5, &t5);
    fp2_add(&s, &t5, &a->c1.c0);
    fp2_dbl(&s, &s);
    fp2_add(&r->c1.c0, &s, &t5);
    fp2_sub(&s, &t4, &a->c0.c2);
    fp2_dbl(&s, &s);
    fp2_add(&r->c0.c2, &s, &t4);

    fp2_sub(&s, &t2, &a->c0.c1);
    fp2_dbl(&s, &s);
    fp2_add(&r->c0.c1, &s, &t2);
    fp2_add(&s, &t3, &a->c1.c2);
    fp2_dbl(&s, &s);
    fp2_add(&r->c1.c2, &s, &t3);
}

/* |x| = 0xd201000000010000, the BLS12-381 parameter without its sign. */
#define BLS_X_ABS 0xd201000000010000ULL

/* r = a^x for a in the cyclotomic subgroup; x is negative, so the result is conjugated. The
 * exponent is a public constant, so branching on its bits is fine. */
static void fp12_cyclotomic_exp_by_x(fp12 *r, const fp12 *a)
{
    fp12 acc = *a;
    for (int i = 62; i >= 0; i--) {
        fp12_cyclotomic_sqr(&acc, &acc);
        if ((BLS_X_ABS >> i) & 1) {
            fp12_mul(&acc, &acc, a);
        }
    }
    fp12_conj(r, &acc);
}

#endif
