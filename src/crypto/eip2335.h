/* EIP-2335 BLS keystores (version 4): create and decrypt.
 *
 * Decryption treats the keystore as hostile input: a hard size limit, a strict schema whose
 * errors name the offending field (SIGIL_ERR_KEYSTORE_FORMAT + sigil_error_detail()), and KDF
 * parameters bounded so a crafted file cannot make us allocate gigabytes or spin for hours.
 * Passwords are normalised as the EIP requires: NFKD, then C0, C1 and DEL control code points
 * removed. Every secret (password, derived key, decrypted key) lives in secure memory. */
#ifndef SIGIL_CRYPTO_EIP2335_H
#define SIGIL_CRYPTO_EIP2335_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "crypto/bls.h"

#define SIGIL_EIP2335_MAX_JSON     65536   /* bytes; real keystores are about 1 KiB */
#define SIGIL_EIP2335_DEFAULT_COST 262144u /* scrypt n and pbkdf2 c */
#define SIGIL_EIP2335_MAX_SCRYPT_N (1u << 20)
#define SIGIL_EIP2335_MAX_PBKDF2_C 10000000u

enum sigil_eip2335_kdf {
    SIGIL_EIP2335_SCRYPT = 0, /* n = cost, r = 8, p = 1, dklen = 32 */
    SIGIL_EIP2335_PBKDF2,     /* hmac-sha256, c = cost, dklen = 32 */
};

/* Options for sigil_eip2335_create. A zeroed struct (or NULL) means scrypt with the EIP's
 * n = 262144 and an empty description. `cost` exists so tests can use cheap keystores; anything
 * written for real use should keep the default. */
struct sigil_eip2335_params {
    enum sigil_eip2335_kdf kdf;
    uint32_t cost;           /* scrypt n (power of two, 2..2^20) or pbkdf2 c (1..10^7); 0 = default */
    const char *description; /* NULL = "" */
};

/* Public fields of a decrypted keystore. */
struct sigil_eip2335_info {
    bool has_pubkey;
    uint8_t pubkey[SIGIL_BLS_PK_LEN];
    char path[128];
    char uuid[65];
};

/* Applies the EIP-2335 password rules (NFKD, then drop U+0000..U+001F, U+007F, U+0080..U+009F).
 * Out: *out in secure memory, NUL-terminated (free with sigil_secure_free), *out_len its length.
 * Errors: SIGIL_ERR_UNICODE (invalid UTF-8), SIGIL_ERR_TOO_LARGE, SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_eip2335_normalize_password(char **out, size_t *out_len, const char *password, size_t password_len);

/* Encrypts sk into a new keystore JSON document (4-space indented, EIP field names) with a
 * fresh random salt, IV and UUIDv4. path is the EIP-2334 derivation path or "" (NULL = "");
 * a non-empty path must parse as an EIP-2333 path. The pubkey field is sk's public key.
 * Out: *out_json is malloc'ed (no secrets in it; free with free()), *out_len its length.
 * Errors: SIGIL_ERR_ARG (bad params or path), SIGIL_ERR_RNG, SIGIL_ERR_CRYPTO, SIGIL_ERR_UNICODE. */
SIGIL_RESULT sigil_eip2335_create(char **out_json, size_t *out_len, const sigil_bls_sk *sk, const char *password,
                                  size_t password_len, const char *path, const struct sigil_eip2335_params *params);

/* Decrypts a keystore. Out: *out is a new sigil_bls_sk in secure memory (free with
 * sigil_secure_free); info (may be NULL) receives the public fields.
 * Errors: SIGIL_ERR_TOO_LARGE (over SIGIL_EIP2335_MAX_JSON), SIGIL_ERR_KEYSTORE_FORMAT (bad JSON,
 * schema, unsupported function, out-of-range KDF parameters, or a decrypted value that is not a
 * valid secret key; the detail names the field), SIGIL_ERR_KEYSTORE_PASSWORD (checksum mismatch),
 * SIGIL_ERR_KEYSTORE_PUBKEY (the key does not match the stored pubkey), SIGIL_ERR_UNICODE
 * (password is not UTF-8), SIGIL_ERR_CRYPTO, SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_eip2335_decrypt(sigil_bls_sk **out, struct sigil_eip2335_info *info, const char *json,
                                   size_t json_len, const char *password, size_t password_len);

#endif
