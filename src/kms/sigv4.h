/* AWS Signature Version 4 (header form): signing for the KMS client and verification for
 * sigil-kms, sharing one canonicalisation so both sides agree byte for byte.
 *
 * The request is described as it travels on the wire: `path` is the request-target path before
 * any percent-decoding, `query` the raw query string without '?'. Non-S3 rules apply: the path
 * is URI-encoded once more when canonicalised ('%' becomes %25), and with
 * SIGIL_SIGV4_NORMALIZE_PATH dot segments and repeated slashes are removed first.
 *
 * Secrets: the secret access key is only read, never copied outside secure memory; signing keys
 * and HMAC intermediates live in one secure scratch block that is wiped before return. The
 * canonical request and string to sign may contain the session token: never log them. */
#ifndef SIGIL_KMS_SIGV4_H
#define SIGIL_KMS_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

#define SIGIL_SIGV4_MAX_ACCESS_KEY_ID 128
#define SIGIL_SIGV4_MAX_SECRET        256
#define SIGIL_SIGV4_MAX_SCOPE_PART    64 /* region, service */
#define SIGIL_SIGV4_MAX_HEADERS       64
#define SIGIL_SIGV4_MAX_FIELD         16384 /* any one path, query, header value or token */

struct sigil_sigv4_header {
    const char *name;  /* any case; compared case-insensitively */
    const char *value; /* raw value; leading/trailing/inner whitespace is canonicalised */
};

struct sigil_sigv4_request {
    const char *method; /* "POST" */
    const char *path;   /* "/" ; NULL or "" means "/" */
    const char *query;  /* raw query without '?', NULL or "" for none */
    const struct sigil_sigv4_header *headers;
    size_t nheaders;
    const uint8_t *body;
    size_t body_len;
};

/* Flags for sign and verify. */
enum {
    SIGIL_SIGV4_NORMALIZE_PATH = 1u << 0, /* remove "." / ".." segments and empty segments (not S3) */
    SIGIL_SIGV4_SIGN_BODY = 1u << 1,      /* sign: add and sign x-amz-content-sha256 */
    SIGIL_SIGV4_TOKEN_UNSIGNED = 1u << 2, /* sign: send x-amz-security-token but leave it unsigned */
};

struct sigil_sigv4_key {
    const char *access_key_id; /* public */
    const char *secret;        /* secret access key, in secure memory; not NUL-terminated */
    size_t secret_len;
    const char *session_token; /* NULL for long-term credentials */
};

/* Result of signing. The caller adds these headers to the request it sends:
 *   X-Amz-Date: amz_date
 *   X-Amz-Security-Token: <session token>   (when the key has one)
 *   X-Amz-Content-Sha256: content_sha256    (with SIGIL_SIGV4_SIGN_BODY)
 *   Authorization: authorization */
struct sigil_sigv4_signed {
    char amz_date[17];       /* YYYYMMDDTHHMMSSZ */
    char content_sha256[65]; /* hex SHA-256 of the body */
    char signature[65];      /* hex */
    char *authorization;     /* malloc'ed "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
    char *canonical_request; /* malloc'ed, for tests and diagnostics only (may hold the token) */
    char *string_to_sign;    /* malloc'ed */
};

/* Signs req at time `now` (Unix seconds, UTC) for region/service.
 * Every header in req is signed (names lower-cased, duplicates comma-joined in order), plus
 * x-amz-date, x-amz-security-token (unless SIGIL_SIGV4_TOKEN_UNSIGNED) and, with
 * SIGIL_SIGV4_SIGN_BODY, x-amz-content-sha256. req must not already carry Authorization,
 * X-Amz-Date, X-Amz-Security-Token or X-Amz-Content-Sha256 (SIGIL_ERR_ARG).
 * Returns SIGIL_ERR_ARG on a missing/oversized field, SIGIL_ERR_NOMEM, SIGIL_ERR_CRYPTO.
 * Out: *out (free with sigil_sigv4_signed_free, also after failure). */
SIGIL_RESULT sigil_sigv4_sign(struct sigil_sigv4_signed *out, const struct sigil_sigv4_request *req,
                              const struct sigil_sigv4_key *key, const char *region, const char *service, int64_t now,
                              unsigned flags);

/* Frees the strings in s and zeroes it. NULL is a no-op. */
void sigil_sigv4_signed_free(struct sigil_sigv4_signed *s);

/* Why a verification failed; maps one to one onto the AWS error names that sigil-kms returns
 * (sigil_sigv4_verdict_aws_error). */
enum sigil_sigv4_verdict {
    SIGIL_SIGV4_VALID = 0,
    SIGIL_SIGV4_MISSING,         /* no Authorization header: MissingAuthenticationToken */
    SIGIL_SIGV4_MALFORMED,       /* unparsable Authorization / date / scope: IncompleteSignature */
    SIGIL_SIGV4_UNKNOWN_KEY,     /* lookup refused the access key: UnrecognizedClientException */
    SIGIL_SIGV4_BAD_TOKEN,       /* lookup refused the session token: UnrecognizedClientException */
    SIGIL_SIGV4_EXPIRED,         /* x-amz-date outside now ± max_skew: InvalidSignatureException */
    SIGIL_SIGV4_WRONG_SCOPE,     /* region/service differ from the expected: InvalidSignatureException */
    SIGIL_SIGV4_UNSIGNED_HEADER, /* a required header is not signed: InvalidSignatureException */
    SIGIL_SIGV4_BAD_SIGNATURE,   /* signature mismatch: InvalidSignatureException */
};

/* Looks up the secret for access_key_id (and, when the request carries one, checks
 * session_token; NULL when absent). Writes the secret into secret_out (secure memory of cap
 * bytes, provided and wiped by the verifier) and its length into *secret_len.
 * Return SIGIL_ERR_NOT_FOUND for an unknown key, SIGIL_ERR_UNAUTHORIZED for a bad token;
 * any other error aborts verification with that error. */
typedef sigil_result (*sigil_sigv4_lookup_fn)(void *ctx, const char *access_key_id, const char *session_token,
                                              char *secret_out, size_t cap, size_t *secret_len);

struct sigil_sigv4_verify_params {
    const char *service; /* expected service ("kms"); required */
    const char *region;  /* expected region, NULL to accept any (reported in the identity) */
    int64_t now;         /* Unix seconds */
    int64_t max_skew;    /* seconds; AWS uses 300 */
    unsigned flags;      /* SIGIL_SIGV4_NORMALIZE_PATH */
    /* NULL-terminated lower-case header names that must be among the signed headers in addition
     * to host and x-amz-date (e.g. "content-type", "x-amz-target"); may be NULL. */
    const char *const *required_signed;
    sigil_sigv4_lookup_fn lookup;
    void *lookup_ctx;
};

struct sigil_sigv4_identity {
    enum sigil_sigv4_verdict verdict;
    char access_key_id[SIGIL_SIGV4_MAX_ACCESS_KEY_ID + 1];
    char region[SIGIL_SIGV4_MAX_SCOPE_PART + 1];
    char service[SIGIL_SIGV4_MAX_SCOPE_PART + 1];
    int has_session_token;
};

/* Verifies the Authorization header of req. A present x-amz-security-token must be signed; a
 * present x-amz-content-sha256 must equal the body's hash. The signature is compared in
 * constant time.
 * Returns SIGIL_OK when valid; SIGIL_ERR_UNAUTHORIZED with out->verdict set (and a detail
 * sentence naming the failed check) when not; SIGIL_ERR_ARG / NOMEM / CRYPTO or the lookup's
 * own error otherwise. */
SIGIL_RESULT sigil_sigv4_verify(struct sigil_sigv4_identity *out, const struct sigil_sigv4_request *req,
                                const struct sigil_sigv4_verify_params *params);

/* The AWS error name for a verdict ("InvalidSignatureException", ...); "" for VALID. */
const char *sigil_sigv4_verdict_aws_error(enum sigil_sigv4_verdict v);

/* Formats Unix time t as YYYYMMDDTHHMMSSZ into out[17]. Returns false if t is out of range. */
int sigil_sigv4_format_date(char out[17], int64_t t);

/* Parses YYYYMMDDTHHMMSSZ (strict) into Unix seconds. Returns false when malformed. */
int sigil_sigv4_parse_date(int64_t *out, const char *s);

#endif
