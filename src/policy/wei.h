/* 256-bit unsigned amounts for the policy engine and the spend ledger: saturating add and
 * multiply, compare, decimal parsing and exact decimal formatting ("2.5 ETH").
 *
 * Header-only (static inline) so that the slashing module's spend ledger can use it without a
 * link dependency on sigil_policy. Values are four 64-bit limbs, least significant first;
 * sigil_u256 (big-endian bytes) converts with pw_from_be / pw_to_be. None of this touches
 * secrets, so nothing here needs to be constant-time. */
#ifndef SIGIL_POLICY_WEI_H
#define SIGIL_POLICY_WEI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    uint64_t l[4]; /* l[0] least significant */
} pw_t;

#define PW_DEC_MAX 80 /* 78 digits of 2^256-1, a point and a NUL */

static inline pw_t pw_from_be(const uint8_t b[32])
{
    pw_t r;
    for (int i = 0; i < 4; i++) {
        uint64_t x = 0;
        for (int j = 0; j < 8; j++) {
            x = (x << 8) | b[(3 - i) * 8 + j];
        }
        r.l[i] = x;
    }
    return r;
}

static inline void pw_to_be(uint8_t b[32], pw_t a)
{
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 8; j++) {
            b[(3 - i) * 8 + j] = (uint8_t)(a.l[i] >> (56 - 8 * j));
        }
    }
}

static inline pw_t pw_u64(uint64_t v) { return (pw_t){{v, 0, 0, 0}}; }

static inline pw_t pw_max(void) { return (pw_t){{UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX}}; }

static inline bool pw_is_zero(pw_t a) { return (a.l[0] | a.l[1] | a.l[2] | a.l[3]) == 0; }

static inline int pw_cmp(pw_t a, pw_t b)
{
    for (int i = 3; i >= 0; i--) {
        if (a.l[i] != b.l[i]) {
            return a.l[i] < b.l[i] ? -1 : 1;
        }
    }
    return 0;
}

/* a + b, saturating at 2^256-1. */
static inline pw_t pw_add_sat(pw_t a, pw_t b)
{
    pw_t r;
    unsigned __int128 c = 0;
    for (int i = 0; i < 4; i++) {
        c += (unsigned __int128)a.l[i] + b.l[i];
        r.l[i] = (uint64_t)c;
        c >>= 64;
    }
    return c != 0 ? pw_max() : r;
}

/* a - b for a >= b (else 0). */
static inline pw_t pw_sub_floor(pw_t a, pw_t b)
{
    if (pw_cmp(a, b) <= 0) {
        return pw_u64(0);
    }
    pw_t r;
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t x = a.l[i] - b.l[i];
        uint64_t nb = (a.l[i] < b.l[i]) || (x < borrow);
        r.l[i] = x - borrow;
        borrow = nb;
    }
    return r;
}

/* a * m, saturating at 2^256-1. */
static inline pw_t pw_mul_u64_sat(pw_t a, uint64_t m)
{
    pw_t r;
    unsigned __int128 c = 0;
    for (int i = 0; i < 4; i++) {
        c += (unsigned __int128)a.l[i] * m;
        r.l[i] = (uint64_t)c;
        c >>= 64;
    }
    return c != 0 ? pw_max() : r;
}

/* Divides a by d in place and returns the remainder. */
static inline uint64_t pw_divmod_u64(pw_t *a, uint64_t d)
{
    unsigned __int128 rem = 0;
    for (int i = 3; i >= 0; i--) {
        unsigned __int128 cur = (rem << 64) | a->l[i];
        a->l[i] = (uint64_t)(cur / d);
        rem = cur % d;
    }
    return (uint64_t)rem;
}

/* Parses a decimal amount without leading zeros ("0" alone is fine). False on anything else,
 * including values over 2^256-1. (0x hex quantities are sigil_eth1_parse_quantity's; the policy
 * engine accepts both forms in a rules file.) */
static inline bool pw_parse_dec(pw_t *out, const char *s)
{
    pw_t r = pw_u64(0);
    size_t n = strlen(s);
    if (n == 0 || n > 78 || (n > 1 && s[0] == '0')) {
        return false;
    }
    pw_t lim = pw_max(); /* r * 10 + d overflows iff r > lim or (r == lim and d > lim_d) */
    uint64_t lim_d = pw_divmod_u64(&lim, 10);
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(s[i] - '0');
        int c = pw_cmp(r, lim);
        if (c > 0 || (c == 0 && d > lim_d)) {
            return false;
        }
        r = pw_add_sat(pw_mul_u64_sat(r, 10), pw_u64(d));
    }
    *out = r;
    return true;
}

/* Exact decimal of a / 10^decimals, trailing fractional zeros dropped ("2.5", "0.000000001",
 * "1000"). out must hold PW_DEC_MAX bytes. Returns out. */
static inline char *pw_format(char out[PW_DEC_MAX], pw_t a, unsigned decimals)
{
    char digits[PW_DEC_MAX];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + pw_divmod_u64(&a, 10));
    } while (!pw_is_zero(a));
    while (n <= decimals) {
        digits[n++] = '0'; /* at least one integer digit */
    }
    size_t o = 0;
    for (size_t i = n; i-- > decimals;) {
        out[o++] = digits[i];
    }
    size_t frac_end = 0; /* index in digits of the lowest non-zero fractional digit + 1 */
    while (frac_end < decimals && digits[frac_end] == '0') {
        frac_end++;
    }
    if (frac_end < decimals) {
        out[o++] = '.';
        for (size_t i = decimals; i-- > frac_end;) {
            out[o++] = digits[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* "2.5 ETH" for a wei amount. */
static inline char *pw_eth(char out[PW_DEC_MAX + 4], pw_t wei)
{
    size_t n = strlen(pw_format(out, wei, 18));
    memcpy(out + n, " ETH", 5);
    return out;
}

/* "1.5 gwei" for a per-gas price in wei. */
static inline char *pw_gwei(char out[PW_DEC_MAX + 5], pw_t wei)
{
    size_t n = strlen(pw_format(out, wei, 9));
    memcpy(out + n, " gwei", 6);
    return out;
}

#endif
