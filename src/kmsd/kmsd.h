/* src/kmsd: sigil-kms, the embedded stand-in for AWS KMS (JSON 1.1 "TrentService" over HTTPS,
 * SigV4-authenticated) used by the local sandbox launcher and by tests.
 *
 *   policy.c  key policy documents: parse (strict, bounded) and evaluate
 *   store.c   SQLite key store; key material wrapped under DATA_DIR/master.key; blob format
 *   setup.c   DATA_DIR bootstrap: credentials, master key, dev attestation root, TLS cert
 *   server.c  the HTTP handlers (SigV4 check, operations, AWS-shaped errors)
 *   cli.c     `sigil kms ...` operator commands (a KMS client, not the server)
 *
 * One principal: whoever holds DATA_DIR/credentials. On AWS the administrator and the instance
 * role are different principals; here PutKeyPolicy is open to the one principal, so the
 * credentials file must be kept as carefully as the policy it can change. */
#ifndef SIGIL_KMSD_KMSD_H
#define SIGIL_KMSD_KMSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "attest/attest.h"
#include "common/result.h"

#define SIGIL_KMSD_ACCOUNT         "000000000000"
#define SIGIL_KMSD_PRINCIPAL       "arn:aws:iam::000000000000:root"
#define SIGIL_KMSD_MAX_POLICY      (32u * 1024u) /* AWS: 32 KiB */
#define SIGIL_KMSD_MAX_STATEMENTS  64
#define SIGIL_KMSD_MAX_BODY        (64u * 1024u)
#define SIGIL_KMSD_KEY_ID_LEN      36  /* canonical UUID text */
#define SIGIL_KMSD_ATTEST_MAX_AGE  300 /* seconds a Recipient attestation document stays usable */
#define SIGIL_KMSD_MAX_CONTEXT     64  /* EncryptionContext pairs */
#define SIGIL_KMSD_MAX_CONTEXT_LEN 8192

/* ---- key policies ---- */
struct sigil_kmsd_policy;

/* What a request brings to policy evaluation. att is the verified attestation document of the
 * request's Recipient, NULL when the request has none. */
struct sigil_kmsd_request_ctx {
    const char *action;    /* "kms:Decrypt" */
    const char *principal; /* SIGIL_KMSD_PRINCIPAL */
    const char *resource;  /* key ARN */
    const struct sigil_attest_doc *att;
};

/* Parses a key policy (AWS shape: Version, optional Id, Statement object or array of
 * {Sid?, Effect Allow|Deny, Principal "*"|{"AWS": str|[str]}, Action str|[str], Resource?
 * str|[str], Condition?}). Supported condition operators: StringEquals, StringEqualsIgnoreCase
 * (and their ...IfExists forms); supported keys: kms:RecipientAttestation:ImageSha384 and
 * kms:RecipientAttestation:PCR0..PCR15. Anything else is refused (fail closed rather than
 * ignore a condition the operator believes is enforced).
 * Errors: SIGIL_ERR_TOO_LARGE (over SIGIL_KMSD_MAX_POLICY), SIGIL_ERR_PARSE with a detail
 * naming the offending element. Out: *out, free with sigil_kmsd_policy_free. */
SIGIL_RESULT sigil_kmsd_policy_parse(struct sigil_kmsd_policy **out, const char *json, size_t len);

void sigil_kmsd_policy_free(struct sigil_kmsd_policy *p);

/* Evaluates the policy: an explicit Deny that matches wins; otherwise an Allow whose
 * principal, action, resource and every condition match grants; otherwise denied.
 * Returns SIGIL_OK when allowed, SIGIL_ERR_FORBIDDEN otherwise with why (NUL-terminated,
 * public) naming the failed condition or the lack of a matching statement. */
SIGIL_RESULT sigil_kmsd_policy_eval(const struct sigil_kmsd_policy *p, const struct sigil_kmsd_request_ctx *req,
                                    char *why, size_t why_cap);

/* The policy a key gets when CreateKey has none: everything to the one principal (the AWS
 * default key policy). */
const char *sigil_kmsd_default_policy(void);

/* Writes into *out (malloc'ed) a policy that allows the principal administration, Encrypt and
 * GenerateDataKey/GenerateRandom, and allows Decrypt (and Recipient forms of GenerateDataKey /
 * GenerateRandom) only to an enclave whose attestation matches: pcr0_hex and/or
 * image_sha384_hex (96 hex digits each; either may be NULL, not both). SIGIL_ERR_ARG on bad hex. */
SIGIL_RESULT sigil_kmsd_bound_policy(char **out, const char *pcr0_hex, const char *image_sha384_hex);

/* ---- key store ---- */
struct sigil_kmsd_store;

struct sigil_kmsd_key {
    char id[SIGIL_KMSD_KEY_ID_LEN + 1];
    char arn[192]; /* "arn:aws:kms:" region(<64) ":" account ":key/" id */
    int64_t created;
    char state[16]; /* "Enabled" */
    char *policy;   /* malloc'ed JSON */
    char *description;
};

/* Opens (creating) DATA_DIR/kms.db and loads DATA_DIR/master.key (32 bytes, secure memory). */
SIGIL_RESULT sigil_kmsd_store_open(struct sigil_kmsd_store **out, const char *data_dir, const char *region);
void sigil_kmsd_store_close(struct sigil_kmsd_store *s);

/* Creates a key with fresh material. policy NULL: the default policy. */
SIGIL_RESULT sigil_kmsd_store_create(struct sigil_kmsd_store *s, const char *description, const char *policy,
                                     struct sigil_kmsd_key *out);

/* Looks a key up by id or ARN (SIGIL_ERR_NOT_FOUND). Free with sigil_kmsd_key_clear. */
SIGIL_RESULT sigil_kmsd_store_get(struct sigil_kmsd_store *s, const char *key_id, struct sigil_kmsd_key *out);
void sigil_kmsd_key_clear(struct sigil_kmsd_key *k);

SIGIL_RESULT sigil_kmsd_store_set_policy(struct sigil_kmsd_store *s, const char *id, const char *policy);

/* Encrypts plain under key id: blob = 0x01 | id(36) | nonce(12) | GCM ct | tag(16), AAD = the
 * first 37 bytes || the canonical encryption context. Out: *blob malloc'ed. */
SIGIL_RESULT sigil_kmsd_store_encrypt(struct sigil_kmsd_store *s, const char *id, const uint8_t *plain,
                                      size_t plain_len, const char *context_canon, size_t context_len, uint8_t **blob,
                                      size_t *blob_len);

/* The key id a blob names (public), or SIGIL_ERR_CRYPTO when the blob is not ours. */
SIGIL_RESULT sigil_kmsd_blob_key_id(char id[SIGIL_KMSD_KEY_ID_LEN + 1], const uint8_t *blob, size_t len);

/* Decrypts a blob. SIGIL_ERR_CRYPTO for any failure of the ciphertext (no oracle).
 * Out: *plain in secure memory. */
SIGIL_RESULT sigil_kmsd_store_decrypt(struct sigil_kmsd_store *s, const uint8_t *blob, size_t blob_len,
                                      const char *context_canon, size_t context_len, uint8_t **plain,
                                      size_t *plain_len);

/* ---- data directory ---- */
struct sigil_kmsd_paths {
    char credentials[4096];
    char master_key[4096];
    char root_cert[4096];
    char root_key[4096];
    char tls_cert[4096];
    char tls_key[4096];
    char db[4096];
};

void sigil_kmsd_paths(struct sigil_kmsd_paths *p, const char *data_dir);

/* Creates what is missing in data_dir (0700): master key, credentials (printed once to out when
 * created), dev attestation root, and the self-signed TLS certificate when want_tls_cert.
 * listen_host goes into the certificate's subjectAltName. */
SIGIL_RESULT sigil_kmsd_init_data_dir(const char *data_dir, bool want_tls_cert, const char *listen_host, int print_fd);

/* AWS shared-credentials text ("[default]\naws_access_key_id = ...\naws_secret_access_key = ...").
 * Out: *akid malloc'ed, *secret in secure memory (NUL-terminated). */
SIGIL_RESULT sigil_kmsd_read_credentials(const char *path, char **akid, char **secret, size_t *secret_len);

/* Issues a simulated-NSM leaf from the dev root into out_dir: enclave-leaf.pem,
 * enclave-leaf.key (0600), enclave-chain.pem (the root). */
SIGIL_RESULT sigil_kmsd_issue_enclave_cert(const char *data_dir, const char *out_dir, unsigned valid_s);

/* ---- server ---- */
struct sigil_kmsd_server_config {
    const char *data_dir;
    const char *listen;   /* HOST:PORT */
    const char *tls_cert; /* NULL: DATA_DIR/tls-cert.pem */
    const char *tls_key;
    const char *region;    /* default us-east-1 */
    bool plain_http;       /* loopback only, tests */
    int64_t max_skew;      /* 0: 300 */
    const char *port_file; /* optional: the bound port is written there once listening */
};

/* Runs sigil-kms until SIGINT/SIGTERM. */
SIGIL_RESULT sigil_kmsd_serve(const struct sigil_kmsd_server_config *cfg);

/* The canonical encryption context (for AAD) of a JSON object of string values: the pairs
 * sorted by key, each as u32be len|key|u32be len|value. Empty object/NULL: empty. Errors:
 * SIGIL_ERR_PARSE (a non-string value), SIGIL_ERR_TOO_LARGE. Out: *out malloc'ed. */
SIGIL_RESULT sigil_kmsd_context_canon(char **out, size_t *len, const json_t *ctx);

/* `sigil kms create-key|put-policy|get-policy ...`; argv[0] may be "kms". Exit 0 ok, 1 refused
 * by KMS, 2 bad usage / unreadable input. */
int sigil_kms_cli(int argc, char **argv);

#endif
