#include "common/hex.h"

#include "common/secmem.h"

#include <openssl/evp.h>
#include <string.h>

/* Maps one ASCII character to its nibble value, or to a value with bit 8 set when it is not a
 * hex digit, using only arithmetic (no table indexed by a secret character). */
static unsigned hex_nibble_ct(unsigned c)
{
    unsigned digit = c - '0';
    unsigned lower = (c | 0x20u) - 'a';
    /* masks are all-ones when the range test holds */
    /* in range iff x - bound wraps (top bit set) while x itself did not wrap */
    unsigned is_digit = 0u - (((digit - 10u) & ~digit) >> 31 & 1u);
    unsigned is_alpha = 0u - (((lower - 6u) & ~lower) >> 31 & 1u);
    unsigned v = (digit & is_digit) | ((lower + 10u) & is_alpha);
    unsigned bad = ~(is_digit | is_alpha) & 0x100u;
    return (v & 0xfu) | bad;
}

int sigil_hex_decode_digits_ct(uint8_t *out, const char *digits, size_t n)
{
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned hi = hex_nibble_ct((unsigned char)digits[2 * i]);
        unsigned lo = hex_nibble_ct((unsigned char)digits[2 * i + 1]);
        bad |= (hi | lo) & 0x100u;
        out[i] = (uint8_t)((hi << 4) | (lo & 0xfu));
    }
    return (int)(1u ^ (bad >> 8));
}

/* The format around the digits (0x prefix, surrounding whitespace) is public: it is the same for
 * every key. Only sigil_hex_decode_digits_ct touches the digits' values. */
static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

sigil_result sigil_hex_decode(uint8_t *out, size_t cap, size_t *out_len, const char *hex, size_t hex_len)
{
    while (hex_len > 0 && is_space(hex[0])) {
        hex++;
        hex_len--;
    }
    while (hex_len > 0 && is_space(hex[hex_len - 1])) {
        hex_len--;
    }
    if (hex_len >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
        hex += 2;
        hex_len -= 2;
    }
    if (hex_len % 2 != 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "hex string has an odd number of digits");
    }
    if (hex_len / 2 > cap) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "hex string decodes to %zu bytes, at most %zu allowed", hex_len / 2,
                            cap);
    }
    int good = sigil_hex_decode_digits_ct(out, hex, hex_len / 2);
    /* Declassify: whether the input was hex is published by the error we return. */
    sigil_declassify(&good, sizeof good);
    if (!good) {
        return sigil_errorf(SIGIL_ERR_PARSE, "hex string contains a character that is not a hex digit");
    }
    if (out_len != NULL) {
        *out_len = hex_len / 2;
    }
    return sigil_ok();
}

sigil_result sigil_hex_decode_exact(uint8_t *out, size_t n, const char *hex, size_t hex_len)
{
    size_t got = 0;
    /* Decode into out with a cap of n, but first make sure the length is exactly right so a
     * longer input is reported as a length error rather than "too large". */
    size_t digits = hex_len;
    const char *h = hex;
    while (digits > 0 && is_space(h[0])) {
        h++;
        digits--;
    }
    while (digits > 0 && is_space(h[digits - 1])) {
        digits--;
    }
    if (digits >= 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X')) {
        digits -= 2;
    }
    if (digits != 2 * n) {
        return sigil_errorf(SIGIL_ERR_PARSE, "expected %zu bytes (%zu hex digits), got %zu hex digits", n, 2 * n,
                            digits);
    }
    SIGIL_GUARD(sigil_hex_decode(out, n, &got, hex, hex_len));
    return sigil_ok();
}

char *sigil_hex_encode(char *out, const uint8_t *in, size_t n, int prefix)
{
    char *p = out;
    if (prefix) {
        *p++ = '0';
        *p++ = 'x';
    }
    for (size_t i = 0; i < n; i++) {
        unsigned hi = in[i] >> 4;
        unsigned lo = in[i] & 0xfu;
        /* '0'+v for v<10, 'a'+v-10 otherwise, computed without a branch or table */
        p[2 * i] = (char)(hi + '0' + ((9u - hi) >> 8 & ('a' - '0' - 10)));
        p[2 * i + 1] = (char)(lo + '0' + ((9u - lo) >> 8 & ('a' - '0' - 10)));
    }
    p[2 * n] = '\0';
    return out;
}

size_t sigil_base64_encode(char *out, const uint8_t *in, size_t n)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

sigil_result sigil_base64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in, size_t in_len)
{
    if (in_len % 4 != 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "base64 length is not a multiple of 4");
    }
    size_t max = in_len / 4 * 3;
    if (max > cap + 2) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "base64 input is too large");
    }
    uint8_t tmp[3];
    size_t w = 0;
    for (size_t i = 0; i < in_len; i += 4) {
        int r = EVP_DecodeBlock(tmp, (const unsigned char *)in + i, 4);
        if (r != 3) {
            return sigil_errorf(SIGIL_ERR_PARSE, "invalid base64");
        }
        size_t take = 3;
        if (i + 4 == in_len) {
            take -= (in[i + 3] == '=') + (in[i + 2] == '=');
        } else if (memchr(in + i, '=', 4) != NULL) {
            return sigil_errorf(SIGIL_ERR_PARSE, "invalid base64 padding");
        }
        if (w + take > cap) {
            return sigil_errorf(SIGIL_ERR_TOO_LARGE, "base64 input is too large");
        }
        memcpy(out + w, tmp, take);
        w += take;
    }
    if (out_len != NULL) {
        *out_len = w;
    }
    return sigil_ok();
}
