/* Typed, must-use results shared by every Sigil module.
 *
 * A function that can fail returns SIGIL_RESULT; the compiler refuses to let a caller drop it.
 * Error codes are one enum so the CLI and the HTTP layer can map them to exit codes / statuses.
 * An optional detail sentence (thread-local) names the field or value that was wrong; it must
 * never contain secret material, and callers only ever put public input there. */
#ifndef SIGIL_COMMON_RESULT_H
#define SIGIL_COMMON_RESULT_H

#include <stdbool.h>

enum sigil_err {
    SIGIL_OK = 0,
    SIGIL_ERR_INTERNAL,
    SIGIL_ERR_NOMEM,
    SIGIL_ERR_ARG,       /* API misuse or an invalid argument */
    SIGIL_ERR_IO,        /* reading/writing a file or stream failed */
    SIGIL_ERR_PARSE,     /* malformed input (JSON, hex, number, path) */
    SIGIL_ERR_TOO_LARGE, /* input over its size limit */
    SIGIL_ERR_CRYPTO,    /* a libcrypto call failed */
    SIGIL_ERR_RNG,       /* the OS random source failed */
    SIGIL_ERR_UNICODE,   /* invalid UTF-8 or normalisation failure */
    /* BLS12-381 */
    SIGIL_ERR_BLS_ENCODING, /* wrong length or flag bits */
    SIGIL_ERR_BLS_NOT_ON_CURVE,
    SIGIL_ERR_BLS_NOT_IN_SUBGROUP,
    SIGIL_ERR_BLS_INFINITY, /* identity point where a real key is required */
    SIGIL_ERR_BLS_SCALAR,   /* secret key zero or >= r */
    SIGIL_ERR_BLS_EMPTY,    /* aggregate of nothing */
    /* key formats */
    SIGIL_ERR_BIP39_WORD,
    SIGIL_ERR_BIP39_CHECKSUM,
    SIGIL_ERR_BIP39_LENGTH,
    SIGIL_ERR_KEY_PATH,
    SIGIL_ERR_KEYSTORE_FORMAT,
    SIGIL_ERR_KEYSTORE_PASSWORD, /* checksum mismatch: wrong password or corrupted file */
    SIGIL_ERR_KEYSTORE_PUBKEY,   /* decrypted key does not match the stored public key */
    SIGIL_ERR_NOT_FOUND,
    SIGIL_ERR_UNSUPPORTED,
    /* signing service */
    SIGIL_ERR_SIGNING_ROOT_MISMATCH, /* client signingRoot differs from the computed root */
    SIGIL_ERR_SLASHING,              /* refused by slashing protection */
    SIGIL_ERR_GVR_MISMATCH,          /* genesis validators root differs from the pinned one */
    SIGIL_ERR_KEY_DISABLED,          /* key deleted/disabled (keymanager) */
    SIGIL_ERR_DB,                    /* database failure (the request was not signed) */
    SIGIL_ERR_FORBIDDEN,             /* client not allowed to use this key / endpoint */
    SIGIL_ERR_UNAUTHORIZED,          /* missing or wrong credentials */
    SIGIL_ERR_NOT_READY,             /* service not ready (keys loading, DB unavailable) */
    SIGIL_ERR_TLS,                   /* TLS setup or handshake failure */
    SIGIL_ERR_CONFIG,                /* invalid configuration */
    SIGIL_ERR_CONFLICT,              /* already exists / conflicting state */
    SIGIL_ERR_POLICY,                /* refused by the wallet policy engine (detail names the rule) */
    SIGIL_ERR__COUNT
};

typedef struct {
    enum sigil_err code;
} sigil_result;

#define SIGIL_MUST_USE __attribute__((warn_unused_result))
#define SIGIL_RESULT   SIGIL_MUST_USE sigil_result

static inline sigil_result sigil_ok(void) { return (sigil_result){SIGIL_OK}; }
static inline sigil_result sigil_error(enum sigil_err code) { return (sigil_result){code}; }
static inline bool sigil_is_ok(sigil_result r) { return r.code == SIGIL_OK; }

/* Records a detail sentence (printf format) for sigil_error_detail. Callers use sigil_errorf. */
void sigil_error_set_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sigil_errorf(code, fmt, ...): returns sigil_error(code) and records a detail sentence (printf
 * format). The detail must describe public input only (a field name, a length, a path), never a
 * secret. A macro rather than a function so that callers, and the static analyzer, see that the
 * result is exactly `code`: an opaque out-of-line call made clang-analyzer assume it could be
 * SIGIL_OK and follow impossible paths past every SIGIL_GUARD. `code` is evaluated first, before
 * formatting can touch errno (a GNU statement expression; Sigil builds with gnu17). */
#define sigil_errorf(code, ...)                                                                                        \
    __extension__({                                                                                                    \
        enum sigil_err sigil_errorf_code_ = (code);                                                                    \
        sigil_error_set_detail(__VA_ARGS__);                                                                           \
        sigil_error(sigil_errorf_code_);                                                                               \
    })

/* Returns a static one-sentence description of code. */
const char *sigil_strerror(enum sigil_err code);

/* Returns the detail recorded by the last sigil_errorf on this thread, or "" if none. */
const char *sigil_error_detail(void);

/* Clears the detail for this thread. */
void sigil_error_clear(void);

/* Propagate a failed result. */
#define SIGIL_GUARD(expr)                                                                                              \
    do {                                                                                                               \
        sigil_result sigil_guard_r_ = (expr);                                                                          \
        if (sigil_guard_r_.code != SIGIL_OK) {                                                                         \
            return sigil_guard_r_;                                                                                     \
        }                                                                                                              \
    } while (0)

#define SIGIL_ENSURE(cond, err)                                                                                        \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            return sigil_error(err);                                                                                   \
        }                                                                                                              \
    } while (0)

/* Variants for functions with one `out:` exit that wipes: they need `sigil_result ret;` in scope. */
#define SIGIL_GUARD_GOTO(expr)                                                                                         \
    do {                                                                                                               \
        ret = (expr);                                                                                                  \
        if (ret.code != SIGIL_OK) {                                                                                    \
            goto out;                                                                                                  \
        }                                                                                                              \
    } while (0)

#define SIGIL_ENSURE_GOTO(cond, err)                                                                                   \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            ret = sigil_error(err);                                                                                    \
            goto out;                                                                                                  \
        }                                                                                                              \
    } while (0)

#endif
