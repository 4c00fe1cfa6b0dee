/* Keccak-256 (the original Keccak padding used by Ethereum, not NIST SHA3-256) and EIP-55
 * mixed-case address checksums. OpenSSL 3.0 (Debian 12) offers SHA3 and KMAC but not plain
 * Keccak-256, so the permutation lives here. */
#ifndef SIGIL_CRYPTO_KECCAK_H
#define SIGIL_CRYPTO_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

typedef struct {
    uint64_t s[25];
    size_t pos; /* bytes absorbed into the current block */
} sigil_keccak256_ctx;

void sigil_keccak256_init(sigil_keccak256_ctx *ctx);
void sigil_keccak256_update(sigil_keccak256_ctx *ctx, const uint8_t *data, size_t len);
/* Writes the digest and wipes the context. */
void sigil_keccak256_final(sigil_keccak256_ctx *ctx, uint8_t out[32]);
void sigil_keccak256(uint8_t out[32], const uint8_t *data, size_t len);

/* Writes the EIP-55 checksummed form of a 20-byte address: "0x" + 40 chars + NUL (43 bytes). */
void sigil_eip55_encode(char out[43], const uint8_t addr[20]);

/* Parses "0x" + 40 hex digits. All-lowercase or all-uppercase input is accepted as is; mixed
 * case must match the EIP-55 checksum (else SIGIL_ERR_PARSE with a detail saying so). */
SIGIL_RESULT sigil_eip55_parse(uint8_t addr[20], const char *s);

#endif
