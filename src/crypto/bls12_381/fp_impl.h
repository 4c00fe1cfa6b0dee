/* Fp: the base field of BLS12-381, 6 x 64-bit limbs in Montgomery form (R = 2^384).
 *
 * Every function here is constant-time in its field-element arguments. Exponents passed to
 * fp_pow_pub are public constants (p-2, (p+1)/4, ...), so the exponentiation may branch on them.
 *
 * Constants were derived with python3 from
 *   p = 0x1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab
 * as: R = 2^384 mod p, R2 = 2^768 mod p, FP_PINV = -p^-1 mod 2^64, and the exponents
 * p-2, (p+1)/4, (p-3)/4, (p-1)/2, each written as little-endian 64-bit limbs. */
#ifndef SIGIL_BLS12_381_FP_IMPL_H
#define SIGIL_BLS12_381_FP_IMPL_H

#include <string.h>

#include "crypto/bls12_381/internal.h"

__extension__ typedef unsigned __int128 u128;

/* For helpers that some builds of the translation unit do not call (tests include the field
 * headers without the curve layers): keeps -Wunused-function quiet without inlining them. */
#define FIELD_MAYBE_UNUSED __attribute__((unused))

/* Fixed-length limb loops are fully unrolled: -O2 alone leaves them as loops with the carry
 * kept in a register, which costs about half the speed of the field arithmetic. */
#define FP_UNROLL _Pragma("GCC unroll 8")

#define FP_PINV 0x89f3fffcfffcfffdULL

/* The modulus as a plain integer (not Montgomery form). Its top limb is below 2^61, which is
 * what lets the multiplication below drop the extra carry word of textbook CIOS. */
static const limb_t FP_P[NLIMBS] = {0xb9feffffffffaaab, 0x1eabfffeb153ffff, 0x6730d2a0f6b0f624,
                                    0x64774b84f38512bf, 0x4b1ba7b6434bacd7, 0x1a0111ea397fe69a};
static const fp FP_ONE = {{0x760900000002fffd, 0xebf4000bc40c0002, 0x5f48985753c758ba, 0x77ce585370525745,
                           0x5c071a97a256ec6d, 0x15f65ec3fa80e493}};
static const fp FP_ZERO = {{0}};
static const fp FP_R2 = {{0xf4df1f341c341746, 0x0a76e6a609d104f1, 0x8de5476c4c95b6d5, 0x67eb88a9939d83c0,
                          0x9a793e85b519952d, 0x11988fe592cae3aa}};

static const limb_t FP_EXP_P_MINUS_2[NLIMBS] = {0xb9feffffffffaaa9, 0x1eabfffeb153ffff, 0x6730d2a0f6b0f624,
                                                0x64774b84f38512bf, 0x4b1ba7b6434bacd7, 0x1a0111ea397fe69a};
static const limb_t FP_EXP_P_PLUS_1_DIV_4[NLIMBS] = {0xee7fbfffffffeaab, 0x07aaffffac54ffff, 0xd9cc34a83dac3d89,
                                                     0xd91dd2e13ce144af, 0x92c6e9ed90d2eb35, 0x0680447a8e5ff9a6};
static const limb_t FP_EXP_P_MINUS_3_DIV_4[NLIMBS] = {0xee7fbfffffffeaaa, 0x07aaffffac54ffff, 0xd9cc34a83dac3d89,
                                                      0xd91dd2e13ce144af, 0x92c6e9ed90d2eb35, 0x0680447a8e5ff9a6};
static const limb_t FP_EXP_P_MINUS_1_DIV_2[NLIMBS] = {0xdcff7fffffffd555, 0x0f55ffff58a9ffff, 0xb39869507b587b12,
                                                      0xb23ba5c279c2895f, 0x258dd3db21a5d66b, 0x0d0088f51cbff34d};

/* All-ones when flag is non-zero, else zero, without a branch. The empty asm statement is a
 * value barrier (as in BoringSSL's value_barrier_w): it hides from the optimizer that the mask
 * is 0 or all-ones. Without it clang 14 turned g2_cmov (through fp_cmov) into a pointer select,
 * "cmove; mov (%rsi)", i.e. a load from a secret-dependent address in the Booth table scan of
 * g2_mul_ct, which valgrind's constant-time check reports. */
static inline limb_t fp_mask(limb_t flag)
{
    limb_t m = (limb_t)0 - ((flag | ((limb_t)0 - flag)) >> 63);
#if defined(__GNUC__)
    __asm__("" : "+r"(m));
#endif
    return m;
}

/* ---- carry primitives ----
 * On x86-64 the carry intrinsics give straight adc/sbb chains with both gcc and clang; the
 * __int128 form elsewhere. c is the incoming carry/borrow (0 or 1) and receives the outgoing one. */
#if defined(__x86_64__)
#include <immintrin.h>

static inline limb_t fp_adc(limb_t a, limb_t b, unsigned char *c)
{
    unsigned long long r;
    *c = _addcarry_u64(*c, a, b, &r);
    return r;
}

static inline limb_t fp_sbb(limb_t a, limb_t b, unsigned char *c)
{
    unsigned long long r;
    *c = _subborrow_u64(*c, a, b, &r);
    return r;
}
#else
static inline limb_t fp_adc(limb_t a, limb_t b, unsigned char *c)
{
    u128 s = (u128)a + b + *c;
    *c = (unsigned char)(s >> 64);
    return (limb_t)s;
}

static inline limb_t fp_sbb(limb_t a, limb_t b, unsigned char *c)
{
    u128 s = (u128)a - b - *c;
    *c = (unsigned char)(s >> 64) & 1;
    return (limb_t)s;
}
#endif

/* r = t - p if t >= p else t, for t < 2p; the subtraction is always done and the result chosen
 * by the borrow mask. */
static inline void fp_reduce_once(fp *r, const limb_t t[NLIMBS])
{
    limb_t s[NLIMBS];
    unsigned char c = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        s[i] = fp_sbb(t[i], FP_P[i], &c);
    }
    limb_t borrow = (limb_t)0 - c; /* all-ones when t < p */
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        r->l[i] = (t[i] & borrow) | (s[i] & ~borrow);
    }
}

static inline void fp_add(fp *r, const fp *a, const fp *b)
{
    /* a + b < 2p < 2^382: no carry out of the top limb. */
    limb_t t[NLIMBS];
    unsigned char c = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        t[i] = fp_adc(a->l[i], b->l[i], &c);
    }
    fp_reduce_once(r, t);
}

static inline void fp_sub(fp *r, const fp *a, const fp *b)
{
    limb_t t[NLIMBS];
    unsigned char c = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        t[i] = fp_sbb(a->l[i], b->l[i], &c);
    }
    limb_t mask = (limb_t)0 - c;
    c = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        r->l[i] = fp_adc(t[i], FP_P[i] & mask, &c);
    }
}

static inline void fp_dbl(fp *r, const fp *a) { fp_add(r, a, a); }

static inline limb_t fp_is_zero(const fp *a)
{
    limb_t z = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        z |= a->l[i];
    }
    return ((z | ((limb_t)0 - z)) >> 63) ^ 1;
}

static inline void fp_neg(fp *r, const fp *a)
{
    limb_t nz = fp_mask(fp_is_zero(a) ^ 1);
    u128 acc = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        acc = (u128)FP_P[i] - a->l[i] - (limb_t)(acc >> 64 & 1);
        r->l[i] = (limb_t)acc & nz;
    }
}

static inline limb_t fp_eq(const fp *a, const fp *b)
{
    limb_t d = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        d |= a->l[i] ^ b->l[i];
    }
    return ((d | ((limb_t)0 - d)) >> 63) ^ 1;
}

static inline void fp_cmov(fp *r, const fp *a, limb_t flag)
{
    limb_t m = fp_mask(flag);
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        r->l[i] = (r->l[i] & ~m) | (a->l[i] & m);
    }
}

/* ---- Montgomery multiplication ----
 * CIOS without the extra carry word: since p < 2^381 the running value t stays below 2p and
 * fits 6 limbs, so each of the six rounds is one multiply-accumulate row and one reduction row
 * (the "no-carry" variant of Montgomery CIOS). Two implementations follow, chosen once for the
 * whole section. */
#if defined(__ADX__) && defined(__BMI2__)

/* mulx leaves the flags alone, so each row is two independent carry chains (low halves and
 * high halves of the products) that map onto adcx and adox. Written straight-line with scalar
 * temporaries: with arrays and loops gcc 12 spills most of the state and runs ~40% slower. */
#define FP_MULX_ROW(x)                                                                                                 \
    l0 = _mulx_u64(a0, (x), &h0);                                                                                      \
    l1 = _mulx_u64(a1, (x), &h1);                                                                                      \
    l2 = _mulx_u64(a2, (x), &h2);                                                                                      \
    l3 = _mulx_u64(a3, (x), &h3);                                                                                      \
    l4 = _mulx_u64(a4, (x), &h4);                                                                                      \
    l5 = _mulx_u64(a5, (x), &h5);
/* t = (t + m p) / 2^64 with m = t0 * (-1/p): the division is the shift by one limb. */
#define FP_MULX_REDUCE()                                                                                               \
    m = t0 * FP_PINV;                                                                                                  \
    l0 = _mulx_u64(m, FP_P[0], &h0);                                                                                   \
    l1 = _mulx_u64(m, FP_P[1], &h1);                                                                                   \
    l2 = _mulx_u64(m, FP_P[2], &h2);                                                                                   \
    l3 = _mulx_u64(m, FP_P[3], &h3);                                                                                   \
    l4 = _mulx_u64(m, FP_P[4], &h4);                                                                                   \
    l5 = _mulx_u64(m, FP_P[5], &h5);                                                                                   \
    c = _addcarryx_u64(0, t0, l0, &t0);                                                                                \
    c = _addcarryx_u64(c, t1, l1, &t1);                                                                                \
    c = _addcarryx_u64(c, t2, l2, &t2);                                                                                \
    c = _addcarryx_u64(c, t3, l3, &t3);                                                                                \
    c = _addcarryx_u64(c, t4, l4, &t4);                                                                                \
    c = _addcarryx_u64(c, t5, l5, &t5);                                                                                \
    t6 += c;                                                                                                           \
    k = _addcarryx_u64(0, t1, h0, &t0);                                                                                \
    k = _addcarryx_u64(k, t2, h1, &t1);                                                                                \
    k = _addcarryx_u64(k, t3, h2, &t2);                                                                                \
    k = _addcarryx_u64(k, t4, h3, &t3);                                                                                \
    k = _addcarryx_u64(k, t5, h4, &t4);                                                                                \
    _addcarryx_u64(k, t6, h5, &t5);
/* t += a * x, after FP_MULX_ROW(x); t < 2p fits six limbs, t6 takes the new top. */
#define FP_MULX_ACC()                                                                                                  \
    c = _addcarryx_u64(0, t0, l0, &t0);                                                                                \
    c = _addcarryx_u64(c, t1, l1, &t1);                                                                                \
    c = _addcarryx_u64(c, t2, l2, &t2);                                                                                \
    c = _addcarryx_u64(c, t3, l3, &t3);                                                                                \
    c = _addcarryx_u64(c, t4, l4, &t4);                                                                                \
    c = _addcarryx_u64(c, t5, l5, &t5);                                                                                \
    t6 = c;                                                                                                            \
    k = _addcarryx_u64(0, t1, h0, &t1);                                                                                \
    k = _addcarryx_u64(k, t2, h1, &t2);                                                                                \
    k = _addcarryx_u64(k, t3, h2, &t3);                                                                                \
    k = _addcarryx_u64(k, t4, h3, &t4);                                                                                \
    k = _addcarryx_u64(k, t5, h4, &t5);                                                                                \
    _addcarryx_u64(k, t6, h5, &t6);

static inline void fp_mul(fp *r, const fp *a, const fp *b)
{
    unsigned long long t0, t1, t2, t3, t4, t5, t6, l0, l1, l2, l3, l4, l5, h0, h1, h2, h3, h4, h5, m;
    unsigned char c, k;
    const unsigned long long a0 = a->l[0], a1 = a->l[1], a2 = a->l[2], a3 = a->l[3], a4 = a->l[4], a5 = a->l[5];
    const unsigned long long b1 = b->l[1], b2 = b->l[2], b3 = b->l[3], b4 = b->l[4], b5 = b->l[5];

    FP_MULX_ROW(b->l[0])
    t0 = l0;
    c = _addcarryx_u64(0, l1, h0, &t1);
    c = _addcarryx_u64(c, l2, h1, &t2);
    c = _addcarryx_u64(c, l3, h2, &t3);
    c = _addcarryx_u64(c, l4, h3, &t4);
    c = _addcarryx_u64(c, l5, h4, &t5);
    t6 = h5 + c;
    FP_MULX_REDUCE()
    FP_MULX_ROW(b1)
    FP_MULX_ACC()
    FP_MULX_REDUCE()
    FP_MULX_ROW(b2)
    FP_MULX_ACC()
    FP_MULX_REDUCE()
    FP_MULX_ROW(b3)
    FP_MULX_ACC()
    FP_MULX_REDUCE()
    FP_MULX_ROW(b4)
    FP_MULX_ACC()
    FP_MULX_REDUCE()
    FP_MULX_ROW(b5)
    FP_MULX_ACC()
    FP_MULX_REDUCE()

    const limb_t t[NLIMBS] = {t0, t1, t2, t3, t4, t5};
    fp_reduce_once(r, t);
}

/* ---- double-width products and a separate reduction, for lazy reduction ----
 * fp_mul_wide returns the full 768-bit integer product; fp_redc_wide divides a
 * 768-bit T < p R by R modulo p. Callers (fp2_mul) combine several products before a
 * single reduction: since p < 2^381 leaves three spare bits in the top limb, sums such as
 * a0 b1 + a1 b0 < 2 p^2 stay below p R (Aranha, Karabina, Longa, Gebotys, Lopez, "Faster
 * explicit formulas for computing pairings over ordinary curves", Eurocrypt 2011, section 3). */

/* T(n) += l0..l5 at positions n..n+5 (carry into the new top T6), then h0..h5 one limb up. */
#define FP_WIDE_ACC(T0, T1, T2, T3, T4, T5, T6)                                                                        \
    c = _addcarryx_u64(0, T0, l0, &T0);                                                                                \
    c = _addcarryx_u64(c, T1, l1, &T1);                                                                                \
    c = _addcarryx_u64(c, T2, l2, &T2);                                                                                \
    c = _addcarryx_u64(c, T3, l3, &T3);                                                                                \
    c = _addcarryx_u64(c, T4, l4, &T4);                                                                                \
    c = _addcarryx_u64(c, T5, l5, &T5);                                                                                \
    T6 = c;                                                                                                            \
    k = _addcarryx_u64(0, T1, h0, &T1);                                                                                \
    k = _addcarryx_u64(k, T2, h1, &T2);                                                                                \
    k = _addcarryx_u64(k, T3, h2, &T3);                                                                                \
    k = _addcarryx_u64(k, T4, h3, &T4);                                                                                \
    k = _addcarryx_u64(k, T5, h4, &T5);                                                                                \
    _addcarryx_u64(k, T6, h5, &T6);

static inline void fp_mul_wide(limb_t r[2 * NLIMBS], const limb_t a[NLIMBS], const limb_t b[NLIMBS])
{
    unsigned long long w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, l0, l1, l2, l3, l4, l5, h0, h1, h2, h3, h4, h5;
    unsigned char c, k;
    const unsigned long long a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5];
    FP_MULX_ROW(b[0])
    w0 = l0;
    c = _addcarryx_u64(0, l1, h0, &w1);
    c = _addcarryx_u64(c, l2, h1, &w2);
    c = _addcarryx_u64(c, l3, h2, &w3);
    c = _addcarryx_u64(c, l4, h3, &w4);
    c = _addcarryx_u64(c, l5, h4, &w5);
    w6 = h5 + c;
    FP_MULX_ROW(b[1])
    FP_WIDE_ACC(w1, w2, w3, w4, w5, w6, w7)
    FP_MULX_ROW(b[2])
    FP_WIDE_ACC(w2, w3, w4, w5, w6, w7, w8)
    FP_MULX_ROW(b[3])
    FP_WIDE_ACC(w3, w4, w5, w6, w7, w8, w9)
    FP_MULX_ROW(b[4])
    FP_WIDE_ACC(w4, w5, w6, w7, w8, w9, w10)
    FP_MULX_ROW(b[5])
    FP_WIDE_ACC(w5, w6, w7, w8, w9, w10, w11)
    r[0] = w0, r[1] = w1, r[2] = w2, r[3] = w3, r[4] = w4, r[5] = w5;
    r[6] = w6, r[7] = w7, r[8] = w8, r[9] = w9, r[10] = w10, r[11] = w11;
}

/* REDC(T) = (T + M p) / R for T = T_hi R + T_lo < p R: the six reduction rounds of fp_mul run on
 * T_lo alone, giving u = (T_lo + M p) / R <= p, and the result is T_hi + u < 2p, reduced once. */
static inline void fp_redc_wide(fp *r, const limb_t w[2 * NLIMBS])
{
    unsigned long long t0 = w[0], t1 = w[1], t2 = w[2], t3 = w[3], t4 = w[4], t5 = w[5], t6, l0, l1, l2, l3, l4, l5, h0,
                       h1, h2, h3, h4, h5, m;
    unsigned char c, k;
    t6 = 0;
    FP_MULX_REDUCE()
    t6 = 0;
    FP_MULX_REDUCE()
    t6 = 0;
    FP_MULX_REDUCE()
    t6 = 0;
    FP_MULX_REDUCE()
    t6 = 0;
    FP_MULX_REDUCE()
    t6 = 0;
    FP_MULX_REDUCE()
    c = _addcarryx_u64(0, t0, w[6], &t0);
    c = _addcarryx_u64(c, t1, w[7], &t1);
    c = _addcarryx_u64(c, t2, w[8], &t2);
    c = _addcarryx_u64(c, t3, w[9], &t3);
    c = _addcarryx_u64(c, t4, w[10], &t4);
    _addcarryx_u64(c, t5, w[11], &t5);
    const limb_t t[NLIMBS] = {t0, t1, t2, t3, t4, t5};
    fp_reduce_once(r, t);
}
#undef FP_WIDE_ACC
#undef FP_MULX_ROW
#undef FP_MULX_REDUCE
#undef FP_MULX_ACC
#else
static inline void fp_mul(fp *r, const fp *a, const fp *b)
{
    limb_t t[NLIMBS] = {0};
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        limb_t bi = b->l[i];
        u128 A = (u128)a->l[0] * bi + t[0];
        limb_t m = (limb_t)A * FP_PINV;
        u128 C = (u128)m * FP_P[0] + (limb_t)A;
        FP_UNROLL
        for (int j = 1; j < NLIMBS; j++) {
            A = (u128)a->l[j] * bi + t[j] + (limb_t)(A >> 64);
            C = (u128)m * FP_P[j] + (limb_t)A + (limb_t)(C >> 64);
            t[j - 1] = (limb_t)C;
        }
        t[NLIMBS - 1] = (limb_t)(C >> 64) + (limb_t)(A >> 64);
    }
    fp_reduce_once(r, t);
}

/* Portable double-width product and reduction (see the ADX branch for the contract). */
static inline void fp_mul_wide(limb_t r[2 * NLIMBS], const limb_t a[NLIMBS], const limb_t b[NLIMBS])
{
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        r[i] = 0;
    }
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        limb_t carry = 0;
        FP_UNROLL
        for (int j = 0; j < NLIMBS; j++) {
            u128 t = (u128)a[j] * b[i] + r[i + j] + carry;
            r[i + j] = (limb_t)t;
            carry = (limb_t)(t >> 64);
        }
        r[i + NLIMBS] = carry;
    }
}

static inline void fp_redc_wide(fp *r, const limb_t in[2 * NLIMBS])
{
    limb_t t[2 * NLIMBS], hi = 0;
    memcpy(t, in, sizeof(t));
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        limb_t m = t[i] * FP_PINV, carry = 0;
        FP_UNROLL
        for (int j = 0; j < NLIMBS; j++) {
            u128 s = (u128)m * FP_P[j] + t[i + j] + carry;
            t[i + j] = (limb_t)s;
            carry = (limb_t)(s >> 64);
        }
        u128 s = (u128)t[i + NLIMBS] + carry + hi;
        t[i + NLIMBS] = (limb_t)s;
        hi = (limb_t)(s >> 64);
    }
    fp_reduce_once(r, t + NLIMBS);
}
#endif

/* Squaring is fp_mul(a, a): a separate squaring with the 15 cross products computed once (21
 * limb products instead of 36) was measured slower here (32 vs 27.5 ns with clang 14 on the
 * build machine): its doubling and diagonal passes are serial carry chains, and the
 * exponentiations that square the most are latency-bound. */
static inline void fp_sqr(fp *r, const fp *a) { fp_mul(r, a, a); }
/* r = a^e for a public exponent e of n limbs (little-endian), by left-to-right sliding windows
 * of up to 5 bits over the odd powers a, a^3, .., a^31 (Menezes, van Oorschot, Vanstone,
 * Handbook of Applied Cryptography, algorithm 14.85): about 64 multiplications for a 381-bit
 * exponent where 4-bit fixed windows take about 110. Branches and table indices depend only
 * on e, never on a, so this is constant-time in a. */
/* One definition for Fp and Fp2 (fp2_impl.h instantiates it for fp2): the window schedule
 * depends only on e, the field operations are the parameters. */
#define DEFINE_POW_PUB(NAME, T, ONE, SQR, MUL)                                                                         \
    static void NAME(T *r, const T *a, const limb_t *e, size_t n)                                                      \
    {                                                                                                                  \
        T tab[16], a2, acc = ONE;                                                                                      \
        tab[0] = *a;                                                                                                   \
        SQR(&a2, a);                                                                                                   \
        for (int i = 1; i < 16; i++) {                                                                                 \
            MUL(&tab[i], &tab[i - 1], &a2);                                                                            \
        }                                                                                                              \
        int started = 0;                                                                                               \
        for (long k = (long)(64 * n) - 1; k >= 0;) {                                                                   \
            if (!POW_PUB_BIT(e, k)) {                                                                                  \
                if (started) {                                                                                         \
                    SQR(&acc, &acc);                                                                                   \
                }                                                                                                      \
                k--;                                                                                                   \
                continue;                                                                                              \
            }                                                                                                          \
            /* The longest window e[k..j] of at most 5 bits that ends in a 1 bit. */                                   \
            long j = k - 4 < 0 ? 0 : k - 4;                                                                            \
            while (!POW_PUB_BIT(e, j)) {                                                                               \
                j++;                                                                                                   \
            }                                                                                                          \
            unsigned w = 0;                                                                                            \
            for (long i = k; i >= j; i--) {                                                                            \
                w = (w << 1) | POW_PUB_BIT(e, i);                                                                      \
                if (started) {                                                                                         \
                    SQR(&acc, &acc);                                                                                   \
                }                                                                                                      \
            }                                                                                                          \
            if (started) {                                                                                             \
                MUL(&acc, &acc, &tab[w >> 1]);                                                                         \
            } else {                                                                                                   \
                acc = tab[w >> 1];                                                                                     \
                started = 1;                                                                                           \
            }                                                                                                          \
            k = j - 1;                                                                                                 \
        }                                                                                                              \
        *r = acc;                                                                                                      \
    }
#define POW_PUB_BIT(e, k) ((unsigned)((e)[(k) / 64] >> ((k) % 64)) & 1)
DEFINE_POW_PUB(fp_pow_pub, fp, FP_ONE, fp_sqr, fp_mul)

static void fp_inv(fp *r, const fp *a) { fp_pow_pub(r, a, FP_EXP_P_MINUS_2, NLIMBS); }

FIELD_MAYBE_UNUSED static bool fp_sqrt(fp *r, const fp *a)
{
    fp s, c;
    fp_pow_pub(&s, a, FP_EXP_P_PLUS_1_DIV_4, NLIMBS);
    fp_sqr(&c, &s);
    limb_t ok = fp_eq(&c, a); /* before the store: r may alias a */
    *r = s;
    return ok != 0;
}

/* 1 if a is a square (including 0), else 0. */
FIELD_MAYBE_UNUSED static limb_t fp_is_square(const fp *a)
{
    fp s, mone;
    fp_pow_pub(&s, a, FP_EXP_P_MINUS_1_DIV_2, NLIMBS);
    fp_neg(&mone, &FP_ONE);
    return fp_eq(&s, &mone) ^ 1;
}

/* a out of Montgomery form: a * 1 / R. */
static inline void fp_from_mont(limb_t out[NLIMBS], const fp *a)
{
    static const fp one_raw = {{1}};
    fp t;
    fp_mul(&t, a, &one_raw);
    memcpy(out, t.l, sizeof t.l);
}

FIELD_MAYBE_UNUSED static bool fp_from_bytes_be(fp *r, const uint8_t in[48])
{
    fp t;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        limb_t w = 0;
        for (int j = 0; j < 8; j++) {
            w = (w << 8) | in[48 - 8 * (i + 1) + j];
        }
        t.l[i] = w;
    }
    u128 acc = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        acc = (u128)t.l[i] - FP_P[i] - (limb_t)(acc >> 64 & 1);
    }
    limb_t lt = (limb_t)(acc >> 64 & 1); /* t < p */
    fp_mul(r, &t, &FP_R2);
    return lt != 0;
}

FIELD_MAYBE_UNUSED static void fp_to_bytes_be(uint8_t out[48], const fp *a)
{
    limb_t t[NLIMBS];
    fp_from_mont(t, a);
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        for (int j = 0; j < 8; j++) {
            out[48 - 8 * i - 1 - j] = (uint8_t)(t[i] >> (8 * j));
        }
    }
}

FIELD_MAYBE_UNUSED static limb_t fp_sgn0(const fp *a)
{
    limb_t t[NLIMBS];
    fp_from_mont(t, a);
    return t[0] & 1;
}

FIELD_MAYBE_UNUSED static limb_t fp_lexically_largest(const fp *a)
{
    limb_t t[NLIMBS];
    fp_from_mont(t, a);
    /* a > (p-1)/2 exactly when (p-1)/2 - a borrows. */
    u128 acc = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        acc = (u128)FP_EXP_P_MINUS_1_DIV_2[i] - t[i] - (limb_t)(acc >> 64 & 1);
    }
    return (limb_t)(acc >> 64 & 1);
}

/* r = a * k for a small public k, by double-and-add on the bits of k. */
static inline void fp_mul_small(fp *r, const fp *a, unsigned k)
{
    fp acc = FP_ZERO, d = *a;
    for (; k != 0; k >>= 1) {
        if (k & 1) {
            fp_add(&acc, &acc, &d);
        }
        if (k > 1) {
            fp_dbl(&d, &d);
        }
    }
    *r = acc;
}

/* r = a / 2: add p when a is odd (an all-ones mask, not a branch), then shift right. */
static inline void fp_half(fp *r, const fp *a)
{
    limb_t m = (limb_t)0 - (a->l[0] & 1), t[NLIMBS];
    u128 acc = 0;
    FP_UNROLL
    for (int i = 0; i < NLIMBS; i++) {
        acc = (u128)a->l[i] + (FP_P[i] & m) + (limb_t)(acc >> 64);
        t[i] = (limb_t)acc;
    }
    for (int i = 0; i < NLIMBS - 1; i++) {
        r->l[i] = (t[i] >> 1) | (t[i + 1] << 63);
    }
    r->l[NLIMBS - 1] = t[NLIMBS - 1] >> 1;
}

#endif
