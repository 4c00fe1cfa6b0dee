/* The optimal ate pairing on BLS12-381.
 *
 * Everything here takes public inputs (public keys, signatures, message hashes) and is
 * variable-time, except final_exp, which is constant-time anyway because it only uses
 * constant-time field arithmetic and public exponents.
 *
 * Conventions. The G2 twist E': y^2 = x^3 + 4(u + 1) is an M-type sextic twist, untwisted by
 * (x, y) -> (x / w^2, y / w^3). A line through points of E' evaluated at P = (xP, yP) in G1 and
 * multiplied by a suitable element of Fp2[w^3] (a proper subfield, which the final
 * exponentiation kills) has the shape l0 + (l1 xP) w^2 + (l4 yP) w^3, hence fp12_mul_by_014.
 * The Miller loop runs over |x|; since x < 0 its result is conjugated at the end, so that
 * final_exp(miller_loop) is the usual pairing value e(P, Q) of other libraries (up to the
 * cube noted at final_exp). */
#ifndef SIGIL_BLS12_381_PAIRING_IMPL_H
#define SIGIL_BLS12_381_PAIRING_IMPL_H

#include "crypto/bls12_381/internal.h"
#include "crypto/bls12_381/fp_impl.h"
#include "crypto/bls12_381/fp2_impl.h"
#include "crypto/bls12_381/fp12_impl.h"

/* b' = 4 (u + 1), the twist's constant, times 3: the doubling step only needs 3b'. */
static const fp2 PAIRING_TWIST_B3 = {{{0x447600000027552e, 0xdcb8009a43480020, 0x6f7ee9ce4a6e8b59, 0xb10330b7c0a95bc6,
                                       0x6140b1fcfb1e54b7, 0x0381be097f0bb4e1}},
                                     {{0x447600000027552e, 0xdcb8009a43480020, 0x6f7ee9ce4a6e8b59, 0xb10330b7c0a95bc6,
                                       0x6140b1fcfb1e54b7, 0x0381be097f0bb4e1}}};

/* Tangent at T (homogeneous projective on E'), then T = 2T; formulas of Costello, Lange and
 * Naehrig, "Faster pairing computations on curves with high-degree twists" (PKC 2010), for
 * a = 0. The line, scaled by -2YZ, is (3b'Z^2 - Y^2) + 3X^2 xP w^2 - 2YZ yP w^3. */
static void pairing_dbl_step(g2p *T, fp2 *l0, fp2 *l1, fp2 *l4, const fp *xP, const fp *yP)
{
    fp2 a, b, c, e, f, g, h, j, t;
    fp2_mul(&a, &T->x, &T->y);
    fp2_half(&a, &a); /* XY/2 */
    fp2_sqr(&b, &T->y);
    fp2_sqr(&c, &T->z);
    fp2_mul(&e, &c, &PAIRING_TWIST_B3); /* 3b'Z^2 */
    fp2_add(&f, &e, &e);
    fp2_add(&f, &f, &e); /* 9b'Z^2 */
    fp2_add(&g, &b, &f);
    fp2_half(&g, &g);
    fp2_add(&h, &T->y, &T->z);
    fp2_sqr(&h, &h);
    fp2_add(&t, &b, &c);
    fp2_sub(&h, &h, &t); /* 2YZ */
    fp2_sqr(&j, &T->x);

    fp2_sub(l0, &e, &b);
    fp2_add(&t, &j, &j);
    fp2_add(&t, &t, &j);
    fp2_mul_fp(l1, &t, xP);
    fp2_neg(&t, &h);
    fp2_mul_fp(l4, &t, yP);

    fp2_sub(&t, &b, &f);
    fp2_mul(&T->x, &a, &t);
    fp2_sqr(&g, &g);
    fp2_sqr(&t, &e);
    fp2_add(&a, &t, &t);
    fp2_add(&t, &a, &t); /* 3 e^2 = 27 b'^2 Z^4 */
    fp2_sub(&T->y, &g, &t);
    fp2_mul(&T->z, &b, &h);
}

/* Chord through T and the affine Q, then T = T + Q. With theta = Y - yQ Z and
 * lambda = X - xQ Z, the line scaled by lambda is
 * (theta xQ - lambda yQ) - theta xP w^2 + lambda yP w^3. */
static void pairing_add_step(g2p *T, fp2 *l0, fp2 *l1, fp2 *l4, const g2a *Q, const fp *xP, const fp *yP)
{
    fp2 theta, lambda, c, d, e, f, g, h, t;
    fp2_mul(&t, &Q->y, &T->z);
    fp2_sub(&theta, &T->y, &t);
    fp2_mul(&t, &Q->x, &T->z);
    fp2_sub(&lambda, &T->x, &t);
    fp2_sqr(&c, &theta);
    fp2_sqr(&d, &lambda);
    fp2_mul(&e, &lambda, &d);
    fp2_mul(&f, &T->z, &c);
    fp2_mul(&g, &T->x, &d);
    fp2_add(&h, &e, &f);
    fp2_sub(&h, &h, &g);
    fp2_sub(&h, &h, &g);

    fp2_mul(&T->x, &lambda, &h);
    fp2_sub(&t, &g, &h);
    fp2_mul(&t, &theta, &t);
    fp2_mul(&T->y, &e, &T->y);
    fp2_sub(&T->y, &t, &T->y);
    fp2_mul(&T->z, &T->z, &e);

    fp2_mul(l0, &theta, &Q->x);
    fp2_mul(&t, &lambda, &Q->y);
    fp2_sub(l0, l0, &t);
    fp2_neg(&t, &theta);
    fp2_mul_fp(l1, &t, xP);
    fp2_mul_fp(l4, &lambda, yP);
}

/* Pairs handled per pass of the shared loop; longer inputs run several passes. */
#define PAIRING_BATCH 16

static void miller_loop_batch_var(fp12 *r, const g2a *Q, const g1a *P, size_t n)
{
    g2p T[PAIRING_BATCH];
    size_t idx[PAIRING_BATCH], m = 0;
    fp2 l0, l1, l4;

    for (size_t i = 0; i < n; i++) {
        if (Q[i].inf || P[i].inf) {
            continue;
        }
        T[m].x = Q[i].x;
        T[m].y = Q[i].y;
        T[m].z = FP2_ONE;
        idx[m++] = i;
    }
    *r = FP12_ONE;
    if (m == 0) {
        return;
    }
    for (int bit = 62; bit >= 0; bit--) {
        if (bit != 62) {
            fp12_sqr(r, r);
        }
        for (size_t k = 0; k < m; k++) {
            const g1a *p = &P[idx[k]];
            pairing_dbl_step(&T[k], &l0, &l1, &l4, &p->x, &p->y);
            fp12_mul_by_014(r, &l0, &l1, &l4);
        }
        if ((BLS_X_ABS >> bit) & 1) {
            for (size_t k = 0; k < m; k++) {
                const g1a *p = &P[idx[k]];
                pairing_add_step(&T[k], &l0, &l1, &l4, &Q[idx[k]], &p->x, &p->y);
                fp12_mul_by_014(r, &l0, &l1, &l4);
            }
        }
    }
    fp12_conj(r, r);
}

static void miller_loop_n_var(fp12 *r, const g2a *Q, const g1a *P, size_t n)
{
    fp12 part;
    *r = FP12_ONE;
    for (size_t off = 0; off < n; off += PAIRING_BATCH) {
        size_t len = n - off < PAIRING_BATCH ? n - off : PAIRING_BATCH;
        miller_loop_batch_var(&part, Q + off, P + off, len);
        fp12_mul(r, r, &part);
    }
}

/* f^((p^12 - 1) / r) up to a cube: the easy part f^((p^6 - 1)(p^2 + 1)), then the hard part
 * through the decomposition of Hayashida, Hayasaka and Teruya (eprint 2020/875),
 *   3 (p^4 - p^2 + 1) / r = (x - 1)^2 (x + p) (x^2 + p^2 - 1) + 3,
 * which costs five exponentiations by x. The result is therefore e(P, Q)^3; cubing is a
 * bijection on the order-r subgroup, so it is still a non-degenerate bilinear pairing and
 * "product == 1" checks are unaffected. */
static void final_exp(fp12 *r, const fp12 *f)
{
    fp12 a, b, t;

    /* Easy part: after it, a lies in the cyclotomic subgroup, where the inverse is the
     * conjugate and fp12_cyclotomic_sqr applies. */
    fp12_inv(&t, f);
    fp12_conj(&a, f);
    fp12_mul(&a, &a, &t);
    fp12_frobenius(&t, &a, 2);
    fp12_mul(&a, &a, &t);

    /* b = a^((x - 1)^2) */
    fp12_cyclotomic_exp_by_x(&b, &a);
    fp12_conj(&t, &a);
    fp12_mul(&b, &b, &t);
    fp12_cyclotomic_exp_by_x(&t, &b);
    fp12_conj(&b, &b);
    fp12_mul(&b, &b, &t);

    /* b = b^(x + p) */
    fp12_cyclotomic_exp_by_x(&t, &b);
    fp12_frobenius(&b, &b, 1);
    fp12_mul(&b, &b, &t);

    /* b = b^(x^2 + p^2 - 1) */
    fp12_cyclotomic_exp_by_x(&t, &b);
    fp12_cyclotomic_exp_by_x(&t, &t);
    fp12_frobenius(r, &b, 2);
    fp12_mul(&t, &t, r);
    fp12_conj(&b, &b);
    fp12_mul(&b, &b, &t);

    /* times a^3 */
    fp12_cyclotomic_sqr(&t, &a);
    fp12_mul(&t, &t, &a);
    fp12_mul(r, &b, &t);
}

static bool pairing_product_is_one_var(const g1a *P, const g2a *Q, size_t n)
{
    fp12 f, e;
    miller_loop_n_var(&f, Q, P, n);
    final_exp(&e, &f);
    return fp12_is_one(&e);
}

#endif
