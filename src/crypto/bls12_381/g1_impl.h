/* G1 = E(Fp): y^2 = x^3 + 4, plus the scalar and point machinery shared with g2_impl.h.
 *
 * Points are homogeneous projective (X:Y:Z), x = X/Z, y = Y/Z, identity (0:1:0). Addition and
 * doubling are the complete formulas of Renes-Costello-Batina 2015 (eprint 2015/1060,
 * algorithms 7 and 9 for a = 0): they have no exceptional inputs, so the constant-time ladders
 * never branch on the identity or on P == Q, and the variable-time code needs no special cases
 * either.
 *
 * Constant-time scalar multiplication uses the curve endomorphisms: on G1,
 * sigma(x, y) = (beta*x, y) acts as [-x^2] (GLV, 2 sub-scalars of 128 bits); on G2, psi acts as
 * [x] (GLS, 4 sub-scalars of 64 bits). The sub-scalars come from a constant-time long division
 * by the public curve parameter and are Booth-recoded into signed 4-bit digits in [-7, 8], so
 * every window does the same doublings, one full table scan per sub-scalar and one conditional
 * negation, whatever the key. */
#include <string.h>

#include "common/secmem.h"

/* |x| for the BLS parameter x = -0xd201000000010000 (x is negative). */
#define BLS_Z 0xd201000000010000ULL

/* The group order r, little-endian limbs. */
static const limb_t BLS_R[4] = {0xffffffff00000001ULL, 0x53bda402fffe5bfeULL, 0x3339d80809a1d805ULL,
                                0x73eda753299d7d48ULL};
/* x^2 = z^2 (128 bits): the GLV divisor on G1. */
static const limb_t BLS_Z2[2] = {0x0000000100000000ULL, 0xac45a4010001a402ULL};
/* z as a 128-bit divisor: the GLS base on G2. */
static const limb_t BLS_Z1[2] = {BLS_Z, 0};

/* The standard generator (IETF BLS draft / ZCash), Montgomery form. beta is the cube root of
 * unity 2^((p-1)/3) or its square, whichever makes sigma(P) = [-x^2]P on G1; derived with
 * python3 from p and checked against the generator (and by the endomorphism tests). */
static const g1a G1_GENERATOR = {{{0x5cb38790fd530c16, 0x7817fc679976fff5, 0x154f95c7143ba1c1, 0xf0ae6acdf3d0e747,
                                   0xedce6ecc21dbf440, 0x120177419e0bfb75}},
                                 {{0xbaac93d50ce72271, 0x8c22631a7918fd8e, 0xdd595f13570725ce, 0x51ac582950405194,
                                   0x0e1c8c3fad0059c0, 0x0bbc3efc5008a26a}},
                                 0};
static const fp G1_BETA = {{0x30f1361b798a64e8, 0xf3b8ddab7ece5a2a, 0x16a8ca3ac61577f7, 0xc26a2ff874fd029b,
                            0x3636b76660701c6e, 0x051ba4ab241b6160}};

/* ---- scalars (constant-time in the scalar) ---- */

/* 1 when a == b, for values below 2^63 (digit magnitudes), without a branch. */
static inline limb_t ct_small_eq(limb_t a, limb_t b) { return ((a ^ b) - 1) >> 63; }

/* out = k mod r for any 256-bit k: 2^256 < 3r, so two masked conditional subtractions. */
static void scalar_reduce_r(limb_t out[4], const limb_t k[4])
{
    limb_t t[4];
    memcpy(out, k, sizeof(t));
    for (int round = 0; round < 2; round++) {
        limb_t borrow = 0;
        for (int i = 0; i < 4; i++) {
            unsigned __int128 d = (unsigned __int128)out[i] - BLS_R[i] - borrow;
            t[i] = (limb_t)d;
            borrow = (limb_t)(d >> 64) & 1;
        }
        limb_t keep = (limb_t)0 - borrow; /* all-ones when out < r: keep out */
        for (int i = 0; i < 4; i++) {
            out[i] = (out[i] & keep) | (t[i] & ~keep);
        }
    }
    sigil_wipe(t, sizeof(t));
}

/* q = n / d and rem = n mod d for 256-bit n and 0 < d < 2^128, by restoring binary long
 * division with a fixed 256 iterations and masked subtraction: the divisor is public, the
 * dividend may be a secret key, and a hardware divide would leak through its latency. */
static void scalar_divrem(limb_t q[4], limb_t rem[2], const limb_t n[4], const limb_t d[2])
{
    limb_t r0 = 0, r1 = 0;
    memset(q, 0, 4 * sizeof(limb_t));
    for (int i = 255; i >= 0; i--) {
        limb_t top = r1 >> 63;
        r1 = (r1 << 1) | (r0 >> 63);
        r0 = (r0 << 1) | ((n[i / 64] >> (i % 64)) & 1);
        unsigned __int128 t0 = (unsigned __int128)r0 - d[0];
        limb_t b0 = (limb_t)(t0 >> 64) & 1;
        unsigned __int128 t1 = (unsigned __int128)r1 - d[1] - b0;
        limb_t b1 = (limb_t)(t1 >> 64) & 1;
        /* Subtract when the 129-bit remainder is >= d: either it overflowed 128 bits or the
         * subtraction did not borrow. */
        limb_t take = top | (b1 ^ 1);
        limb_t m = (limb_t)0 - take;
        r0 = (r0 & ~m) | ((limb_t)t0 & m);
        r1 = (r1 & ~m) | ((limb_t)t1 & m);
        q[i / 64] |= take << (i % 64);
    }
    rem[0] = r0;
    rem[1] = r1;
}

/* Booth recoding of the nlimbs-limb value k into ndigits signed 4-bit digits in [-7, 8], with
 * k = sum d_i 16^i; ndigits must be 16 * nlimbs + 1 (the last digit is the final carry).
 * Each digit is stored as magnitude (bits 0-3) | negative (bit 7), computed with masks. */
static void scalar_recode4(uint8_t *digits, const limb_t *k, size_t nlimbs, size_t ndigits)
{
    limb_t carry = 0;
    for (size_t i = 0; i < ndigits; i++) {
        limb_t nib = 0;
        if (i < 16 * nlimbs) { /* public loop bound, not a secret */
            nib = (k[i / 16] >> (4 * (i % 16))) & 15;
        }
        limb_t d = nib + carry;             /* 0..16 */
        limb_t neg = ((limb_t)8 - d) >> 63; /* d > 8: use d - 16 and carry one */
        limb_t mag = d ^ ((d ^ (16 - d)) & ((limb_t)0 - neg));
        digits[i] = (uint8_t)(mag | (neg << 7));
        carry = neg;
    }
}

/* ---- shared point code: one body for both curves, instantiated with the field prefix ----
 * P is the point prefix (g1/g2), F the field prefix (fp/fp2), B3 multiplies by 3b. */
#define SIGIL_CURVE_IMPL(P, F, B3)                                                                                     \
    static void P##_set_inf(P##p *r)                                                                                   \
    {                                                                                                                  \
        r->x = F##_ZERO_;                                                                                              \
        r->y = F##_ONE_;                                                                                               \
        r->z = F##_ZERO_;                                                                                              \
    }                                                                                                                  \
    static limb_t P##_is_inf(const P##p *a) { return F##_is_zero(&a->z); }                                             \
    static void P##_neg(P##p *r, const P##p *a)                                                                        \
    {                                                                                                                  \
        r->x = a->x;                                                                                                   \
        F##_neg(&r->y, &a->y);                                                                                         \
        r->z = a->z;                                                                                                   \
    }                                                                                                                  \
    static void P##_cmov(P##p *r, const P##p *a, limb_t flag)                                                          \
    {                                                                                                                  \
        F##_cmov(&r->x, &a->x, flag);                                                                                  \
        F##_cmov(&r->y, &a->y, flag);                                                                                  \
        F##_cmov(&r->z, &a->z, flag);                                                                                  \
    }                                                                                                                  \
    /* RCB algorithm 7 (a = 0): 12M + 2 mul-by-3b. */                                                                  \
    static void P##_add(P##p *r, const P##p *a, const P##p *b)                                                         \
    {                                                                                                                  \
        F t0, t1, t2, t3, t4, x3, y3, z3;                                                                              \
        F##_mul(&t0, &a->x, &b->x);                                                                                    \
        F##_mul(&t1, &a->y, &b->y);                                                                                    \
        F##_mul(&t2, &a->z, &b->z);                                                                                    \
        F##_add(&t3, &a->x, &a->y);                                                                                    \
        F##_add(&t4, &b->x, &b->y);                                                                                    \
        F##_mul(&t3, &t3, &t4);                                                                                        \
        F##_add(&t4, &t0, &t1);                                                                                        \
        F##_sub(&t3, &t3, &t4);                                                                                        \
        F##_add(&t4, &a->y, &a->z);                                                                                    \
        F##_add(&x3, &b->y, &b->z);                                                                                    \
        F##_mul(&t4, &t4, &x3);                                                                                        \
        F##_add(&x3, &t1, &t2);                                                                                        \
        F##_sub(&t4, &t4, &x3);                                                                                        \
        F##_add(&x3, &a->x, &a->z);                                                                                    \
        F##_add(&y3, &b->x, &b->z);                                                                                    \
        F##_mul(&x3, &x3, &y3);                                                                                        \
        F##_add(&y3, &t0, &t2);                                                                                        \
        F##_sub(&y3, &x3, &y3);                                                                                        \
        F##_add(&x3, &t0, &t0);                                                                                        \
        F##_add(&t0, &x3, &t0);                                                                                        \
        B3(&t2, &t2);                                                                                                  \
        F##_add(&z3, &t1, &t2);                                                                                        \
        F##_sub(&t1, &t1, &t2);                                                                                        \
        B3(&y3, &y3);                                                                                                  \
        F##_mul(&x3, &t4, &y3);                                                                                        \
        F##_mul(&t2, &t3, &t1);                                                                                        \
        F##_sub(&x3, &t2, &x3);                                                                                        \
        F##_mul(&y3, &y3, &t0);                                                                                        \
        F##_mul(&t1, &t1, &z3);                                                                                        \
        F##_add(&y3, &t1, &y3);                                                                                        \
        F##_mul(&t0, &t0, &t3);                                                                                        \
        F##_mul(&z3, &z3, &t4);                                                                                        \
        F##_add(&z3, &z3, &t0);                                                                                        \
        r->x = x3;                                                                                                     \
        r->y = y3;                                                                                                     \
        r->z = z3;                                                                                                     \
    }                                                                                                                  \
    /* RCB algorithm 9 (a = 0): 6M + 2S + 1 mul-by-3b. */                                                              \
    static void P##_dbl(P##p *r, const P##p *a)                                                                        \
    {                                                                                                                  \
        F t0, t1, t2, x3, y3, z3;                                                                                      \
        F##_sqr(&t0, &a->y);                                                                                           \
        F##_add(&z3, &t0, &t0);                                                                                        \
        F##_add(&z3, &z3, &z3);                                                                                        \
        F##_add(&z3, &z3, &z3);                                                                                        \
        F##_mul(&t1, &a->y, &a->z);                                                                                    \
        F##_sqr(&t2, &a->z);                                                                                           \
        B3(&t2, &t2);                                                                                                  \
        F##_mul(&x3, &t2, &z3);                                                                                        \
        F##_add(&y3, &t0, &t2);                                                                                        \
        F##_mul(&z3, &t1, &z3);                                                                                        \
        F##_add(&t1, &t2, &t2);                                                                                        \
        F##_add(&t2, &t1, &t2);                                                                                        \
        F##_sub(&t0, &t0, &t2);                                                                                        \
        F##_mul(&y3, &t0, &y3);                                                                                        \
        F##_add(&y3, &x3, &y3);                                                                                        \
        F##_mul(&t1, &a->x, &a->y);                                                                                    \
        F##_mul(&x3, &t0, &t1);                                                                                        \
        F##_add(&x3, &x3, &x3);                                                                                        \
        r->x = x3;                                                                                                     \
        r->y = y3;                                                                                                     \
        r->z = z3;                                                                                                     \
    }                                                                                                                  \
    /* Projective equality (public points): X1 Z2 == X2 Z1 and Y1 Z2 == Y2 Z1. */                                      \
    static bool P##_eq_var(const P##p *a, const P##p *b)                                                               \
    {                                                                                                                  \
        limb_t ia = P##_is_inf(a), ib = P##_is_inf(b);                                                                 \
        if (ia || ib) {                                                                                                \
            return ia && ib;                                                                                           \
        }                                                                                                              \
        F l, rr;                                                                                                       \
        F##_mul(&l, &a->x, &b->z);                                                                                     \
        F##_mul(&rr, &b->x, &a->z);                                                                                    \
        if (!F##_eq(&l, &rr)) {                                                                                        \
            return false;                                                                                              \
        }                                                                                                              \
        F##_mul(&l, &a->y, &b->z);                                                                                     \
        F##_mul(&rr, &b->y, &a->z);                                                                                    \
        return F##_eq(&l, &rr) != 0;                                                                                   \
    }                                                                                                                  \
    /* table[j] = (j + 1) * a for j = 0..7: the Booth table for digits in [-7, 8]. */                                  \
    static void P##_booth_table(P##p table[8], const P##p *a)                                                          \
    {                                                                                                                  \
        table[0] = *a;                                                                                                 \
        P##_dbl(&table[1], a);                                                                                         \
        for (int j = 2; j < 8; j++) {                                                                                  \
            P##_add(&table[j], &table[j - 1], a);                                                                      \
        }                                                                                                              \
    }                                                                                                                  \
    /* r = digit * table[0] from a Booth table: scans all eight entries (no secret index) and                          \
     * negates with a masked move. */                                                                                  \
    static void P##_booth_lookup(P##p *r, const P##p table[8], uint8_t digit)                                          \
    {                                                                                                                  \
        limb_t mag = digit & 15, neg = digit >> 7;                                                                     \
        P##_set_inf(r);                                                                                                \
        for (limb_t j = 0; j < 8; j++) {                                                                               \
            P##_cmov(r, &table[j], ct_small_eq(mag, j + 1));                                                           \
        }                                                                                                              \
        F ny;                                                                                                          \
        F##_neg(&ny, &r->y);                                                                                           \
        F##_cmov(&r->y, &ny, neg);                                                                                     \
    }                                                                                                                  \
    /* r = k * a, variable time (public k): width-5 wNAF over the odd multiples a, 3a, .., 15a. */                     \
    static void P##_mul_var(P##p *r, const P##p *a, const limb_t *k, size_t nbits)                                     \
    {                                                                                                                  \
        int8_t naf[385];                                                                                               \
        P##p table[8], twice;                                                                                          \
        if (nbits > 384) {                                                                                             \
            nbits = 384;                                                                                               \
        }                                                                                                              \
        memset(naf, 0, sizeof(naf));                                                                                   \
        size_t i = 0;                                                                                                  \
        unsigned carry = 0;                                                                                            \
        while (i < nbits + 1) {                                                                                        \
            unsigned bit = i < nbits ? (unsigned)((k[i / 64] >> (i % 64)) & 1) : 0;                                    \
            if (bit == carry) {                                                                                        \
                i++;                                                                                                   \
                continue;                                                                                              \
            }                                                                                                          \
            unsigned w = 0;                                                                                            \
            for (unsigned b = 0; b < 5; b++) {                                                                         \
                size_t j = i + b;                                                                                      \
                if (j < nbits) {                                                                                       \
                    w |= (unsigned)((k[j / 64] >> (j % 64)) & 1) << b;                                                 \
                }                                                                                                      \
            }                                                                                                          \
            w += carry;                                                                                                \
            int d = (int)w;                                                                                            \
            carry = 0;                                                                                                 \
            if (w & 16) {                                                                                              \
                d -= 32;                                                                                               \
                carry = 1;                                                                                             \
            }                                                                                                          \
            naf[i] = (int8_t)d;                                                                                        \
            i += 5;                                                                                                    \
        }                                                                                                              \
        table[0] = *a;                                                                                                 \
        P##_dbl(&twice, a);                                                                                            \
        for (int j = 1; j < 8; j++) {                                                                                  \
            P##_add(&table[j], &table[j - 1], &twice);                                                                 \
        }                                                                                                              \
        P##p acc, t;                                                                                                   \
        P##_set_inf(&acc);                                                                                             \
        bool started = false;                                                                                          \
        for (size_t n = nbits + 1; n-- > 0;) {                                                                         \
            if (started) {                                                                                             \
                P##_dbl(&acc, &acc);                                                                                   \
            }                                                                                                          \
            int d = naf[n];                                                                                            \
            if (d > 0) {                                                                                               \
                P##_add(&acc, &acc, &table[(d - 1) / 2]);                                                              \
                started = true;                                                                                        \
            } else if (d < 0) {                                                                                        \
                P##_neg(&t, &table[(-d - 1) / 2]);                                                                     \
                P##_add(&acc, &acc, &t);                                                                               \
                started = true;                                                                                        \
            }                                                                                                          \
        }                                                                                                              \
        *r = acc;                                                                                                      \
    }                                                                                                                  \
    /* Jacobian doubling (x = X/Z^2, y = Y/Z^3), dbl-2009-l for a = 0: 2M + 5S against 6M + 2S                         \
     * for the projective formula; the identity (Z = 0) maps to itself. */                                             \
    static void P##_jdbl(P##p *r, const P##p *a)                                                                       \
    {                                                                                                                  \
        F A, B, C, D, E, Fs, t;                                                                                        \
        F##_sqr(&A, &a->x);                                                                                            \
        F##_sqr(&B, &a->y);                                                                                            \
        F##_sqr(&C, &B);                                                                                               \
        F##_add(&t, &a->x, &B);                                                                                        \
        F##_sqr(&t, &t);                                                                                               \
        F##_sub(&t, &t, &A);                                                                                           \
        F##_sub(&t, &t, &C);                                                                                           \
        F##_add(&D, &t, &t);                                                                                           \
        F##_add(&E, &A, &A);                                                                                           \
        F##_add(&E, &E, &A);                                                                                           \
        F##_sqr(&Fs, &E);                                                                                              \
        F##_mul(&r->z, &a->y, &a->z);                                                                                  \
        F##_add(&r->z, &r->z, &r->z);                                                                                  \
        F##_sub(&r->x, &Fs, &D);                                                                                       \
        F##_sub(&r->x, &r->x, &D);                                                                                     \
        F##_sub(&t, &D, &r->x);                                                                                        \
        F##_mul(&t, &E, &t);                                                                                           \
        F##_add(&C, &C, &C);                                                                                           \
        F##_add(&C, &C, &C);                                                                                           \
        F##_add(&C, &C, &C);                                                                                           \
        F##_sub(&r->y, &t, &C);                                                                                        \
    }                                                                                                                  \
    /* r = 16 a for the constant-time ladders: four Jacobian doublings (complete for doubling,                         \
     * no branch) between two coordinate changes, cheaper than four projective doublings. The                          \
     * identity comes back as (0:0:0) and is restored to (0:1:0) with a masked move. */                                \
    static void P##_dbl4_ct(P##p *r, const P##p *a)                                                                    \
    {                                                                                                                  \
        P##p j, inf;                                                                                                   \
        F z2;                                                                                                          \
        F##_sqr(&z2, &a->z);                                                                                           \
        F##_mul(&j.x, &a->x, &a->z);                                                                                   \
        F##_mul(&j.y, &a->y, &z2);                                                                                     \
        j.z = a->z;                                                                                                    \
        for (int i = 0; i < 4; i++) {                                                                                  \
            P##_jdbl(&j, &j);                                                                                          \
        }                                                                                                              \
        F##_mul(&r->x, &j.x, &j.z);                                                                                    \
        F##_sqr(&z2, &j.z);                                                                                            \
        F##_mul(&r->z, &z2, &j.z);                                                                                     \
        r->y = j.y;                                                                                                    \
        P##_set_inf(&inf);                                                                                             \
        P##_cmov(r, &inf, P##_is_inf(r));                                                                              \
    }                                                                                                                  \
    /* Jacobian addition, add-2007-bl, variable time: equal or opposite inputs and the identity                        \
     * are handled by branches (public data only). */                                                                  \
    static void P##_jadd_var(P##p *r, const P##p *a, const P##p *b)                                                    \
    {                                                                                                                  \
        if (F##_is_zero(&a->z)) {                                                                                      \
            *r = *b;                                                                                                   \
            return;                                                                                                    \
        }                                                                                                              \
        if (F##_is_zero(&b->z)) {                                                                                      \
            *r = *a;                                                                                                   \
            return;                                                                                                    \
        }                                                                                                              \
        F z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, t;                                                               \
        F##_sqr(&z1z1, &a->z);                                                                                         \
        F##_sqr(&z2z2, &b->z);                                                                                         \
        F##_mul(&u1, &a->x, &z2z2);                                                                                    \
        F##_mul(&u2, &b->x, &z1z1);                                                                                    \
        F##_mul(&s1, &a->y, &b->z);                                                                                    \
        F##_mul(&s1, &s1, &z2z2);                                                                                      \
        F##_mul(&s2, &b->y, &a->z);                                                                                    \
        F##_mul(&s2, &s2, &z1z1);                                                                                      \
        F##_sub(&h, &u2, &u1);                                                                                         \
        F##_sub(&rr, &s2, &s1);                                                                                        \
        if (F##_is_zero(&h)) {                                                                                         \
            if (F##_is_zero(&rr)) {                                                                                    \
                P##_jdbl(r, a);                                                                                        \
            } else {                                                                                                   \
                P##_set_inf(r);                                                                                        \
            }                                                                                                          \
            return;                                                                                                    \
        }                                                                                                              \
        F##_add(&rr, &rr, &rr);                                                                                        \
        F##_add(&i, &h, &h);                                                                                           \
        F##_sqr(&i, &i);                                                                                               \
        F##_mul(&j, &h, &i);                                                                                           \
        F##_mul(&v, &u1, &i);                                                                                          \
        F##_add(&t, &a->z, &b->z);                                                                                     \
        F##_sqr(&t, &t);                                                                                               \
        F##_sub(&t, &t, &z1z1);                                                                                        \
        F##_sub(&t, &t, &z2z2);                                                                                        \
        F##_mul(&r->z, &t, &h);                                                                                        \
        F##_sqr(&r->x, &rr);                                                                                           \
        F##_sub(&r->x, &r->x, &j);                                                                                     \
        F##_sub(&r->x, &r->x, &v);                                                                                     \
        F##_sub(&r->x, &r->x, &v);                                                                                     \
        F##_sub(&t, &v, &r->x);                                                                                        \
        F##_mul(&t, &rr, &t);                                                                                          \
        F##_mul(&s1, &s1, &j);                                                                                         \
        F##_add(&s1, &s1, &s1);                                                                                        \
        F##_sub(&r->y, &t, &s1);                                                                                       \
    }                                                                                                                  \
    /* r = |x| * a by double-and-add on the public bits of 0xd201000000010000 (weight 6), in                           \
     * Jacobian coordinates (cheaper doublings); a and r are projective. */                                            \
    static void P##_mul_z_var(P##p *r, const P##p *a)                                                                  \
    {                                                                                                                  \
        if (P##_is_inf(a)) {                                                                                           \
            P##_set_inf(r);                                                                                            \
            return;                                                                                                    \
        }                                                                                                              \
        P##p base, acc;                                                                                                \
        F z2;                                                                                                          \
        /* projective (X:Y:Z) -> Jacobian (XZ : YZ^2 : Z) */                                                           \
        F##_sqr(&z2, &a->z);                                                                                           \
        F##_mul(&base.x, &a->x, &a->z);                                                                                \
        F##_mul(&base.y, &a->y, &z2);                                                                                  \
        base.z = a->z;                                                                                                 \
        acc = base;                                                                                                    \
        for (int i = 62; i >= 0; i--) {                                                                                \
            P##_jdbl(&acc, &acc);                                                                                      \
            if ((BLS_Z >> i) & 1) {                                                                                    \
                P##_jadd_var(&acc, &acc, &base);                                                                       \
            }                                                                                                          \
        }                                                                                                              \
        /* Jacobian -> projective (X Z : Y : Z^3); the identity keeps Z = 0. */                                        \
        F##_mul(&r->x, &acc.x, &acc.z);                                                                                \
        F##_sqr(&z2, &acc.z);                                                                                          \
        F##_mul(&r->z, &z2, &acc.z);                                                                                   \
        r->y = acc.y;                                                                                                  \
        if (P##_is_inf(r)) {                                                                                           \
            P##_set_inf(r);                                                                                            \
        }                                                                                                              \
    }

#define fp_ZERO_  FP_ZERO
#define fp_ONE_   FP_ONE
#define fp2_ZERO_ FP2_ZERO
#define fp2_ONE_  FP2_ONE

/* 3b = 12: four additions are cheaper than a Montgomery multiplication. */
static inline void g1_mul_b3(fp *r, const fp *a)
{
    fp t;
    fp_add(&t, a, a);   /* 2a */
    fp_add(&t, &t, a);  /* 3a */
    fp_add(&t, &t, &t); /* 6a */
    fp_add(r, &t, &t);  /* 12a */
}

SIGIL_CURVE_IMPL(g1, fp, g1_mul_b3)

static void g1_from_affine(g1p *r, const g1a *a)
{
    r->x = a->x;
    r->y = a->y;
    r->z = FP_ONE;
    g1p inf;
    g1_set_inf(&inf);
    g1_cmov(r, &inf, a->inf);
}

/* Constant-time: fp_inv is constant-time and the identity falls out of inv(0) = 0. */
static void g1_to_affine(g1a *r, const g1p *p)
{
    fp zi;
    limb_t inf = g1_is_inf(p);
    fp_inv(&zi, &p->z);
    fp_mul(&r->x, &p->x, &zi);
    fp_mul(&r->y, &p->y, &zi);
    r->inf = inf;
}

/* sigma(P) = (beta x, y) = [-x^2]P on G1. */
static void g1_sigma(g1p *r, const g1p *a)
{
    fp_mul(&r->x, &a->x, &G1_BETA);
    r->y = a->y;
    r->z = a->z;
}

/* r = k * a, constant-time in k. a must lie in G1 (the GLV split k = k0 + k1 x^2 relies on
 * sigma acting as [-x^2]); k is any 256-bit value and is reduced mod r first. */
static void g1_mul_ct(g1p *r, const g1p *a, const limb_t k[4])
{
    struct {
        limb_t k[4], q[4], rem[2];
        uint8_t d0[33], d1[33];
        g1p t0[8], t1[8], acc, tmp;
    } s;
    scalar_reduce_r(s.k, k);
    /* k = q z^2 + rem with q < 2^128 because k < r < z^4; then k a = rem a + q (-sigma(a)). */
    scalar_divrem(s.q, s.rem, s.k, BLS_Z2);
    scalar_recode4(s.d0, s.rem, 2, 33);
    scalar_recode4(s.d1, s.q, 2, 33);
    g1_booth_table(s.t0, a);
    for (int j = 0; j < 8; j++) {
        g1_sigma(&s.t1[j], &s.t0[j]);
        fp_neg(&s.t1[j].y, &s.t1[j].y);
    }
    g1_booth_lookup(&s.acc, s.t0, s.d0[32]);
    g1_booth_lookup(&s.tmp, s.t1, s.d1[32]);
    g1_add(&s.acc, &s.acc, &s.tmp);
    for (int i = 31; i >= 0; i--) {
        g1_dbl4_ct(&s.acc, &s.acc);
        g1_booth_lookup(&s.tmp, s.t0, s.d0[i]);
        g1_add(&s.acc, &s.acc, &s.tmp);
        g1_booth_lookup(&s.tmp, s.t1, s.d1[i]);
        g1_add(&s.acc, &s.acc, &s.tmp);
    }
    *r = s.acc;
    sigil_wipe(&s, sizeof(s));
}

static bool g1a_on_curve_var(const g1a *a)
{
    if (a->inf) {
        return true;
    }
    fp l, rr;
    fp_sqr(&l, &a->y);
    fp_sqr(&rr, &a->x);
    fp_mul(&rr, &rr, &a->x);
    fp four;
    fp_add(&four, &FP_ONE, &FP_ONE);
    fp_add(&four, &four, &four);
    fp_add(&rr, &rr, &four);
    return fp_eq(&l, &rr) != 0;
}

/* Scott, eprint 2021/1130 section 6: a point of E(Fp) lies in G1 iff sigma(P) == [-x^2]P.
 * Two multiplications by the 64-bit |x| instead of one by the 255-bit r. a must be on the curve. */
static bool g1a_in_subgroup_var(const g1a *a)
{
    if (a->inf) {
        return true;
    }
    g1p p, q, s;
    g1_from_affine(&p, a);
    g1_mul_z_var(&q, &p);
    g1_mul_z_var(&q, &q);
    g1_neg(&q, &q);
    g1_sigma(&s, &p);
    return g1_eq_var(&s, &q);
}

/* clear_cofactor for G1 (RFC 9380 section 8.8.1): h_eff = 1 - x = |x| + 1. */
static void g1_clear_cofactor_var(g1p *r, const g1p *a)
{
    g1p t;
    g1_mul_z_var(&t, a);
    g1_add(r, &t, a);
}
