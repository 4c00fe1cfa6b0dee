#include "common/result.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char detail_buf[256];

static const char *const messages[SIGIL_ERR__COUNT] = {
    [SIGIL_OK] = "success",
    [SIGIL_ERR_INTERNAL] = "internal error",
    [SIGIL_ERR_NOMEM] = "out of memory",
    [SIGIL_ERR_ARG] = "invalid argument",
    [SIGIL_ERR_IO] = "input/output error",
    [SIGIL_ERR_PARSE] = "malformed input",
    [SIGIL_ERR_TOO_LARGE] = "input is larger than allowed",
    [SIGIL_ERR_CRYPTO] = "cryptographic library failure",
    [SIGIL_ERR_RNG] = "the system random number generator failed",
    [SIGIL_ERR_UNICODE] = "invalid or unnormalisable UTF-8 text",
    [SIGIL_ERR_BLS_ENCODING] = "invalid BLS12-381 point encoding",
    [SIGIL_ERR_BLS_NOT_ON_CURVE] = "point is not on the BLS12-381 curve",
    [SIGIL_ERR_BLS_NOT_IN_SUBGROUP] = "point is not in the prime-order subgroup",
    [SIGIL_ERR_BLS_INFINITY] = "point at infinity is not allowed here",
    [SIGIL_ERR_BLS_SCALAR] = "secret key must be in the range 1..r-1",
    [SIGIL_ERR_BLS_EMPTY] = "nothing to aggregate",
    [SIGIL_ERR_BIP39_WORD] = "mnemonic contains a word that is not in the wordlist",
    [SIGIL_ERR_BIP39_CHECKSUM] = "mnemonic checksum is wrong",
    [SIGIL_ERR_BIP39_LENGTH] = "mnemonic must have 12, 15, 18, 21 or 24 words",
    [SIGIL_ERR_KEY_PATH] = "invalid key derivation path",
    [SIGIL_ERR_KEYSTORE_FORMAT] = "keystore is not a valid EIP-2335 document",
    [SIGIL_ERR_KEYSTORE_PASSWORD] = "keystore checksum mismatch (wrong password or corrupted keystore)",
    [SIGIL_ERR_KEYSTORE_PUBKEY] = "decrypted key does not match the keystore's public key",
    [SIGIL_ERR_NOT_FOUND] = "not found",
    [SIGIL_ERR_UNSUPPORTED] = "not supported",
    [SIGIL_ERR_SIGNING_ROOT_MISMATCH] = "the supplied signing root does not match the root computed from the request",
    [SIGIL_ERR_SLASHING] = "signing refused by slashing protection",
    [SIGIL_ERR_GVR_MISMATCH] = "genesis validators root does not match the one this signer is pinned to",
    [SIGIL_ERR_KEY_DISABLED] = "key is disabled",
    [SIGIL_ERR_DB] = "database error",
    [SIGIL_ERR_FORBIDDEN] = "client is not allowed to do this",
    [SIGIL_ERR_UNAUTHORIZED] = "missing or invalid credentials",
    [SIGIL_ERR_NOT_READY] = "service is not ready",
    [SIGIL_ERR_TLS] = "TLS failure",
    [SIGIL_ERR_CONFIG] = "invalid configuration",
    [SIGIL_ERR_CONFLICT] = "conflicts with existing state",
    [SIGIL_ERR_POLICY] = "refused by the wallet policy",
};

const char *sigil_strerror(enum sigil_err code)
{
    if ((unsigned)code >= SIGIL_ERR__COUNT || messages[code] == NULL) {
        return "unknown error";
    }
    return messages[code];
}

void sigil_error_set_detail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* clang-tidy 14 reports this only when it checks several files in one process (its va_list
     * model carries state from the previous file); `make lint` runs one file per process. */
    /* Format into a local buffer first: callers may pass sigil_error_detail() itself as an
     * argument (to wrap an inner error), and vsnprintf must not read what it is writing. */
    char tmp[sizeof detail_buf];
    (void)vsnprintf(tmp, sizeof tmp, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
    va_end(ap);
    memcpy(detail_buf, tmp, sizeof detail_buf);
}

const char *sigil_error_detail(void) { return detail_buf; }

void sigil_error_clear(void) { detail_buf[0] = '\0'; }
