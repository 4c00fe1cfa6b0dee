/* secp256k1 keys for Ethereum accounts: ECDSA signing with libsecp256k1 (RFC 6979 nonces,
 * low-s, recoverable), public keys, addresses, recovery, and Web3 Secret Storage v3 keystores.
 *
 * A secret key lives only in secure memory (sigil_secure_alloc) inside an opaque object; signing
 * and public-key derivation are constant-time because libsecp256k1's are. The context is created
 * once per process and randomised (blinding against side channels). */
#ifndef SIGIL_ETH1_SECP256K1_H
#define SIGIL_ETH1_SECP256K1_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

#define SIGIL_SECP256K1_SK_LEN   32
#define SIGIL_SECP256K1_PUB_LEN  65 /* 0x04 || X || Y */
#define SIGIL_ETH1_ADDR_LEN      20
#define SIGIL_ETH1_KEYSTORE_MAX  65536 /* bytes of keystore JSON */
#define SIGIL_ETH1_MAX_SCRYPT_N  (1u << 20)
#define SIGIL_ETH1_MAX_SCRYPT_RP 64u
#define SIGIL_ETH1_MAX_PBKDF2_C  10000000u

typedef struct sigil_secp256k1_sk sigil_secp256k1_sk;

/* A recoverable ECDSA signature: r, s big-endian, s <= n/2, y_parity in {0, 1}. */
struct sigil_secp256k1_sig {
    uint8_t r[32];
    uint8_t s[32];
    uint8_t y_parity;
};

/* Imports a 32-byte big-endian key (must be in [1, n-1], else SIGIL_ERR_ARG). *out is in secure
 * memory; free with sigil_secp256k1_sk_free. Errors: SIGIL_ERR_ARG, SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_secp256k1_sk_from_bytes(sigil_secp256k1_sk **out, const uint8_t in[SIGIL_SECP256K1_SK_LEN]);

/* Generates a fresh key from the OS CSPRNG. Errors: SIGIL_ERR_RNG, SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_secp256k1_sk_generate(sigil_secp256k1_sk **out);

/* Wipes and frees (NULL is a no-op). */
void sigil_secp256k1_sk_free(sigil_secp256k1_sk *sk);

/* Copies the raw key into out (the caller must keep it in secure memory and wipe it). */
void sigil_secp256k1_sk_export(uint8_t out[SIGIL_SECP256K1_SK_LEN], const sigil_secp256k1_sk *sk);

/* Uncompressed public key (0x04 || X || Y). */
SIGIL_RESULT sigil_secp256k1_pubkey(uint8_t out[SIGIL_SECP256K1_PUB_LEN], const sigil_secp256k1_sk *sk);

/* Ethereum address: the last 20 bytes of keccak256(X || Y). */
SIGIL_RESULT sigil_secp256k1_address(uint8_t out[SIGIL_ETH1_ADDR_LEN], const sigil_secp256k1_sk *sk);
void sigil_eth1_pubkey_to_address(uint8_t out[SIGIL_ETH1_ADDR_LEN], const uint8_t pub[SIGIL_SECP256K1_PUB_LEN]);

/* Signs a 32-byte digest (deterministic RFC 6979 nonce, low-s normalised by libsecp256k1).
 * Errors: SIGIL_ERR_CRYPTO (never expected for a valid key). */
SIGIL_RESULT sigil_secp256k1_sign(struct sigil_secp256k1_sig *out, const sigil_secp256k1_sk *sk,
                                  const uint8_t digest[32]);

/* Recovers the signer's public key / address. A high-s signature (s > n/2), r or s zero or
 * >= n, or y_parity > 1 is refused (Ethereum accepts only low-s since Homestead).
 * Errors: SIGIL_ERR_PARSE (malformed signature), SIGIL_ERR_CRYPTO (no key recovers). */
SIGIL_RESULT sigil_secp256k1_recover(uint8_t pub[SIGIL_SECP256K1_PUB_LEN], const struct sigil_secp256k1_sig *sig,
                                     const uint8_t digest[32]);
SIGIL_RESULT sigil_secp256k1_recover_address(uint8_t addr[SIGIL_ETH1_ADDR_LEN], const struct sigil_secp256k1_sig *sig,
                                             const uint8_t digest[32]);

/* Web3 Secret Storage v3 keystores. */
enum sigil_eth1_kdf { SIGIL_ETH1_KDF_SCRYPT = 0, SIGIL_ETH1_KDF_PBKDF2 };

struct sigil_eth1_keystore_params {
    enum sigil_eth1_kdf kdf;
    uint32_t cost; /* scrypt n (power of two) or pbkdf2 c; 0 = 262144 */
};

/* Decrypts a v3 keystore (aes-128-ctr; scrypt or pbkdf2/hmac-sha256; MAC keccak256(dk[16:32] ||
 * ciphertext), compared in constant time). KDF parameters are bounded (SIGIL_ETH1_MAX_*).
 * Out: *out (free with sigil_secp256k1_sk_free). Errors: SIGIL_ERR_TOO_LARGE,
 * SIGIL_ERR_KEYSTORE_FORMAT (detail names the field), SIGIL_ERR_KEYSTORE_PASSWORD (MAC mismatch),
 * SIGIL_ERR_KEYSTORE_PUBKEY (an "address" member that is not the decrypted key's),
 * SIGIL_ERR_CRYPTO, SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_eth1_keystore_decrypt(sigil_secp256k1_sk **out, const char *json, size_t json_len,
                                         const char *password, size_t password_len);

/* Encrypts sk into a new v3 keystore (random salt, IV, UUIDv4; includes "address").
 * Out: *out_json malloc'ed (public data only). params NULL = scrypt n=262144, r=8, p=1. */
SIGIL_RESULT sigil_eth1_keystore_create(char **out_json, size_t *out_len, const sigil_secp256k1_sk *sk,
                                        const char *password, size_t password_len,
                                        const struct sigil_eth1_keystore_params *params);

#endif
