/* SHA-256 through one EVP_MD fetched once. OpenSSL 3's SHA256() and EVP_DigestInit_ex(EVP_sha256())
 * look the algorithm up in the provider store on every call (about 0.3 us, three times the
 * hash of 64 bytes); the signing path hashes a few dozen short inputs per request (SSZ
 * merkleization, expand_message_xmd), so it uses the fetched method. */
#ifndef SIGIL_COMMON_SHA256_H
#define SIGIL_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* The fetched SHA-256 (default library context), for EVP_DigestInit_ex2. Never NULL: without
 * SHA-256 nothing in Sigil can work, so a failed fetch aborts. */
const EVP_MD *sigil_sha256_md(void);

/* out = SHA-256(data). Aborts only if libcrypto cannot hash (allocation failure inside it): a
 * wrong digest would be worse than stopping. */
void sigil_sha256(uint8_t out[32], const void *data, size_t len);

#endif
