/* AWS KMS JSON 1.1 client (TrentService) over HTTPS, signed with SigV4 (service "kms").
 * The same code talks to https://kms.<region>.amazonaws.com and to the local sigil-kms.
 *
 * Transport: libcurl by default (server certificate always verified: a CA bundle file or the
 * system store; timeouts; response size cap). A custom transport hook can replace it, e.g. to
 * route through the enclave's vsock forwarder; with libcurl the `resolve` option maps the KMS
 * host name to a loopback forwarder while keeping the real name for SNI and verification.
 *
 * Secrets: the secret access key lives in secure memory; request bodies (which carry the
 * plaintext for Encrypt) are built in secure memory; response bodies are received into secure
 * memory; plaintext results (Decrypt/GenerateDataKey/GenerateRandom) are returned in secure
 * memory. With a Recipient the plaintext never crosses the wire at all. Without one, it also
 * transits libcurl/OpenSSL record buffers and the JSON parser, which Sigil cannot wipe, so
 * sigild always uses the Recipient form. Nothing here logs request or response bodies. */
#ifndef SIGIL_KMS_CLIENT_H
#define SIGIL_KMS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "kms/recipient.h"
#include "kms/sigv4.h"

#define SIGIL_KMS_DEFAULT_MAX_RESPONSE (256u * 1024u)
#define SIGIL_KMS_MAX_PLAINTEXT        4096u
#define SIGIL_KMS_MAX_CIPHERTEXT       6144u
#define SIGIL_KMS_MAX_RANDOM           1024u

struct sigil_kms_credentials {
    const char *access_key_id;
    const char *secret_access_key; /* copied into secure memory by the client */
    size_t secret_len;
    const char *session_token; /* NULL for long-term keys */
};

/* One HTTP exchange as the client hands it to a transport. headers holds every request
 * header (Host, Content-Type, X-Amz-Target, X-Amz-Date, [X-Amz-Security-Token],
 * Authorization); the transport must send them unchanged and must not add signed ones. */
struct sigil_kms_http_request {
    const char *url;
    const struct sigil_sigv4_header *headers;
    size_t nheaders;
    const uint8_t *body;
    size_t body_len;
    long connect_timeout_ms;
    long timeout_ms;
};

/* The response body buffer lives in secure memory; a transport fills it only through
 * sigil_kms_http_response_append, which enforces the size cap. */
struct sigil_kms_http_response {
    long status;
    uint8_t *body;
    size_t len;
    size_t cap;
    size_t max;
};

/* Appends n bytes to the response body. SIGIL_ERR_TOO_LARGE past the cap, SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_kms_http_response_append(struct sigil_kms_http_response *r, const void *data, size_t n);

/* Performs req and fills resp (status and body). Transport failures: SIGIL_ERR_IO (connect,
 * timeout), SIGIL_ERR_TLS (handshake / certificate), SIGIL_ERR_TOO_LARGE. */
typedef sigil_result (*sigil_kms_transport_fn)(void *ctx, const struct sigil_kms_http_request *req,
                                               struct sigil_kms_http_response *resp);

struct sigil_kms_config {
    const char *region;   /* required, e.g. "us-east-1" */
    const char *endpoint; /* "https://host[:port]"; NULL: https://kms.<region>.amazonaws.com */
    const char *ca_file;  /* PEM CA bundle; NULL: the system trust store */
    const char *resolve;  /* optional curl resolve entry "host:port:address" */
    const char *ca_pem;   /* PEM CA bundle in memory (takes precedence over ca_file) */
    size_t ca_pem_len;
    const char *connect_to;           /* optional curl CONNECT_TO entry, e.g. "::127.0.0.1:8443": the
                                         connection goes there while the URL's host still drives SNI
                                         and certificate verification (the enclave's forwarder) */
    long connect_timeout_ms;          /* 0: 5000 */
    long timeout_ms;                  /* 0: 20000 */
    size_t max_response;              /* 0: SIGIL_KMS_DEFAULT_MAX_RESPONSE */
    int allow_plain_http;             /* accept an http:// endpoint (tests only) */
    sigil_kms_transport_fn transport; /* NULL: libcurl */
    void *transport_ctx;
    int64_t (*clock)(void *ctx); /* NULL: time(NULL); for tests */
    void *clock_ctx;
};

struct sigil_kms_client;

/* Creates a client; copies the configuration and the credentials (secret into secure memory).
 * Errors: SIGIL_ERR_CONFIG (bad endpoint/region), SIGIL_ERR_ARG (credentials), SIGIL_ERR_NOMEM.
 * Out: *out, free with sigil_kms_client_free. */
SIGIL_RESULT sigil_kms_client_new(struct sigil_kms_client **out, const struct sigil_kms_config *cfg,
                                  const struct sigil_kms_credentials *creds);

/* Replaces the credentials (role credentials rotate). */
SIGIL_RESULT sigil_kms_client_set_credentials(struct sigil_kms_client *c, const struct sigil_kms_credentials *creds);

/* Frees the client and wipes the secret. NULL is a no-op. */
void sigil_kms_client_free(struct sigil_kms_client *c);

/* After a failed call: the HTTP status (0 when none) and the AWS error name ("" when none). */
long sigil_kms_client_last_status(const struct sigil_kms_client *c);
const char *sigil_kms_client_last_error(const struct sigil_kms_client *c);

/* Maps an AWS error name (namespace prefix "...#" allowed) and HTTP status to a Sigil error:
 * AccessDeniedException -> FORBIDDEN; UnrecognizedClient/InvalidSignature/IncompleteSignature/
 * MissingAuthenticationToken/ExpiredToken -> UNAUTHORIZED; NotFoundException -> NOT_FOUND;
 * Disabled/KMSInvalidState -> KEY_DISABLED; InvalidCiphertext/IncorrectKey -> CRYPTO;
 * Validation/InvalidKeyUsage/... -> ARG; AlreadyExists -> CONFLICT; Throttling, LimitExceeded,
 * KeyUnavailable, DependencyTimeout, KMSInternal and 5xx -> NOT_READY; else IO. */
enum sigil_err sigil_kms_error_from_aws(const char *type, long status);

/* key-value pairs of an EncryptionContext */
struct sigil_kms_kv {
    const char *key;
    const char *value;
};

/* A Recipient: the attestation document (raw COSE_Sign1 bytes) whose public_key is key's SPKI.
 * KeyEncryptionAlgorithm is always RSAES_OAEP_SHA_256. */
struct sigil_kms_recipient_req {
    const struct sigil_kms_recipient *key;
    const uint8_t *attestation_doc;
    size_t attestation_doc_len;
};

/* Encrypt: plaintext 1..4096 bytes under key_id. Out: *blob (malloc'ed CiphertextBlob). */
SIGIL_RESULT sigil_kms_encrypt(struct sigil_kms_client *c, const char *key_id, const uint8_t *plain, size_t plain_len,
                               const struct sigil_kms_kv *context, size_t ncontext, uint8_t **blob, size_t *blob_len);

struct sigil_kms_decrypt_args {
    const uint8_t *ciphertext; /* CiphertextBlob, 1..6144 bytes */
    size_t ciphertext_len;
    const char *key_id; /* optional */
    const struct sigil_kms_kv *context;
    size_t ncontext;
    const struct sigil_kms_recipient_req *recipient; /* optional; sigild always sets it */
};

/* Decrypt. With a recipient, KMS answers with CiphertextForRecipient, unwrapped here with the
 * recipient key. Out: *plain in secure memory (sigil_secure_free). */
SIGIL_RESULT sigil_kms_decrypt(struct sigil_kms_client *c, const struct sigil_kms_decrypt_args *a, uint8_t **plain,
                               size_t *plain_len);

struct sigil_kms_data_key_args {
    const char *key_id;
    const char *key_spec;   /* "AES_256" / "AES_128", or NULL to use number_of_bytes */
    size_t number_of_bytes; /* 1..1024 when key_spec is NULL */
    const struct sigil_kms_kv *context;
    size_t ncontext;
    const struct sigil_kms_recipient_req *recipient; /* optional */
};

/* GenerateDataKey. Out: *plain (secure memory) and *blob (malloc'ed CiphertextBlob). */
SIGIL_RESULT sigil_kms_generate_data_key(struct sigil_kms_client *c, const struct sigil_kms_data_key_args *a,
                                         uint8_t **plain, size_t *plain_len, uint8_t **blob, size_t *blob_len);

/* GenerateRandom of n (1..1024) bytes, optionally for a recipient. Out: secure memory. */
SIGIL_RESULT sigil_kms_generate_random(struct sigil_kms_client *c, size_t n,
                                       const struct sigil_kms_recipient_req *recipient, uint8_t **out, size_t *out_len);

struct sigil_kms_create_key_args {
    const char *description; /* optional */
    const char *policy;      /* optional key policy JSON document */
    const char *key_spec;    /* NULL: SYMMETRIC_DEFAULT */
    const char *key_usage;   /* NULL: ENCRYPT_DECRYPT */
};

/* CreateKey. Out: *key_id and *arn (malloc'ed strings). */
SIGIL_RESULT sigil_kms_create_key(struct sigil_kms_client *c, const struct sigil_kms_create_key_args *a, char **key_id,
                                  char **arn);

/* PutKeyPolicy (policy_name NULL: "default"). */
SIGIL_RESULT sigil_kms_put_key_policy(struct sigil_kms_client *c, const char *key_id, const char *policy_name,
                                      const char *policy);

/* GetKeyPolicy (policy_name NULL: "default"). Out: *policy (malloc'ed JSON text). */
SIGIL_RESULT sigil_kms_get_key_policy(struct sigil_kms_client *c, const char *key_id, const char *policy_name,
                                      char **policy);

#endif
