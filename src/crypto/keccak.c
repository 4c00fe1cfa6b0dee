#include "crypto/keccak.h"

#include <string.h>

#include "common/hex.h"
#include "common/secmem.h"

#define RATE 136 /* 1600 - 2*256 bits */

static const uint64_t round_constants[24] = {
    0x0000000000000001ull, 0x0000000000008082ull, 0x800000000000808aull, 0x8000000080008000ull, 0x000000000000808bull,
    0x0000000080000001ull, 0x8000000080008081ull, 0x8000000000008009ull, 0x000000000000008aull, 0x0000000000000088ull,
    0x0000000080008009ull, 0x000000008000000aull, 0x000000008000808bull, 0x800000000000008bull, 0x8000000000008089ull,
    0x8000000000008003ull, 0x8000000000008002ull, 0x8000000000000080ull, 0x000000000000800aull, 0x800000008000000aull,
    0x8000000080008081ull, 0x8000000000008080ull, 0x0000000080000001ull, 0x8000000080008008ull,
};

/* rho offsets and pi lane order, walking the (x, y) -> (y, 2x + 3y) cycle from lane 1 */
static const unsigned rho[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                 27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
static const unsigned pi[24] = {10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1};

static inline uint64_t rotl(uint64_t x, unsigned n) { return (x << n) | (x >> ((64 - n) & 63)); }

static void keccak_f1600(uint64_t s[25])
{
    for (int round = 0; round < 24; round++) {
        uint64_t c[5];
        for (int x = 0; x < 5; x++) {
            c[x] = s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20];
        }
        for (int x = 0; x < 5; x++) {
            uint64_t d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
            for (int y = 0; y < 25; y += 5) {
                s[y + x] ^= d;
            }
        }
        uint64_t t = s[1];
        for (int i = 0; i < 24; i++) {
            uint64_t next = s[pi[i]];
            s[pi[i]] = rotl(t, rho[i]);
            t = next;
        }
        for (int y = 0; y < 25; y += 5) {
            uint64_t row[5];
            memcpy(row, &s[y], sizeof row);
            for (int x = 0; x < 5; x++) {
                s[y + x] = row[x] ^ (~row[(x + 1) % 5] & row[(x + 2) % 5]);
            }
        }
        s[0] ^= round_constants[round];
    }
}

void sigil_keccak256_init(sigil_keccak256_ctx *ctx) { memset(ctx, 0, sizeof *ctx); }

static inline void xor_byte(uint64_t s[25], size_t i, uint8_t b) { s[i / 8] ^= (uint64_t)b << (8 * (i % 8)); }

void sigil_keccak256_update(sigil_keccak256_ctx *ctx, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        xor_byte(ctx->s, ctx->pos++, data[i]);
        if (ctx->pos == RATE) {
            keccak_f1600(ctx->s);
            ctx->pos = 0;
        }
    }
}

void sigil_keccak256_final(sigil_keccak256_ctx *ctx, uint8_t out[32])
{
    /* original Keccak multi-rate padding: 0x01 ... 0x80 */
    xor_byte(ctx->s, ctx->pos, 0x01);
    xor_byte(ctx->s, RATE - 1, 0x80);
    keccak_f1600(ctx->s);
    for (size_t i = 0; i < 32; i++) {
        out[i] = (uint8_t)(ctx->s[i / 8] >> (8 * (i % 8)));
    }
    sigil_wipe(ctx, sizeof *ctx);
}

void sigil_keccak256(uint8_t out[32], const uint8_t *data, size_t len)
{
    sigil_keccak256_ctx ctx;
    sigil_keccak256_init(&ctx);
    sigil_keccak256_update(&ctx, data, len);
    sigil_keccak256_final(&ctx, out);
}

void sigil_eip55_encode(char out[43], const uint8_t addr[20])
{
    char lower[43];
    sigil_hex_encode(lower, addr, 20, 0);
    uint8_t h[32];
    sigil_keccak256(h, (const uint8_t *)lower, 40);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 40; i++) {
        char c = lower[i];
        unsigned nib = (h[i / 2] >> (i % 2 ? 0 : 4)) & 0xf;
        if (c >= 'a' && c <= 'f' && nib >= 8) {
            c = (char)(c - 'a' + 'A');
        }
        out[2 + i] = c;
    }
    out[42] = '\0';
}

sigil_result sigil_eip55_parse(uint8_t addr[20], const char *s)
{
    if (s == NULL || strlen(s) != 42 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
        return sigil_errorf(SIGIL_ERR_PARSE, "an Ethereum address is 0x followed by 40 hex digits");
    }
    if (!sigil_is_ok(sigil_hex_decode_exact(addr, 20, s + 2, 40))) {
        return sigil_errorf(SIGIL_ERR_PARSE, "an Ethereum address is 0x followed by 40 hex digits");
    }
    int has_lower = 0, has_upper = 0;
    for (int i = 2; i < 42; i++) {
        has_lower |= (s[i] >= 'a' && s[i] <= 'f');
        has_upper |= (s[i] >= 'A' && s[i] <= 'F');
    }
    if (has_lower && has_upper) {
        char want[43];
        sigil_eip55_encode(want, addr);
        if (strcmp(want + 2, s + 2) != 0) {
            return sigil_errorf(SIGIL_ERR_PARSE, "address has mixed case but its EIP-55 checksum is wrong (a typo?)");
        }
    }
    return sigil_ok();
}
