/* TLS server contexts (OpenSSL 3) and client authentication.
 *
 * Only TLS 1.2 (ECDHE + AEAD suites) and TLS 1.3 are offered. Client authentication has two
 * sources, usable together:
 *   - a known-clients file: the client's leaf certificate is accepted when its SHA-256
 *     fingerprint (over the DER encoding) is listed, whatever issued it and whatever its
 *     validity dates (the Web3Signer "known clients" model: the fingerprint is the credential);
 *   - a CA bundle: the client's chain must verify to one of these CAs (dates, purpose included).
 * With both configured a client is accepted when EITHER check passes. With either configured a
 * client certificate is required; without both no certificate is requested.
 *
 * The client identity is the known-clients name when the fingerprint is listed, otherwise the
 * subject CN of the verified certificate. */
#ifndef SIGIL_NET_TLS_H
#define SIGIL_NET_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

#define SIGIL_TLS_FINGERPRINT_LEN 32
#define SIGIL_TLS_CLIENT_NAME_MAX 128
#define SIGIL_KNOWN_CLIENTS_MAX   (1u << 20) /* file size limit */

struct sigil_tls_config {
    const char *cert_file, *key_file; /* PEM; the key must be unencrypted and is read into secure memory */
    const char *known_clients_file; /* lines "<name> <SHA-256 fingerprint hex, with or without colons>", '#' comments */
    const char *ca_file;            /* PEM CA bundle for client certificates */
    bool require_client_cert; /* implied by known_clients_file or ca_file; true without either is a config error */
};

/* Builds a server context from cfg's files. Errors: SIGIL_ERR_IO (unreadable file),
 * SIGIL_ERR_TLS (bad certificate/key, key does not match), SIGIL_ERR_PARSE (known-clients
 * syntax, detail names the line), SIGIL_ERR_CONFIG. */
SIGIL_RESULT sigil_tls_ctx_new(SSL_CTX **out, const struct sigil_tls_config *cfg);

/* Same with the certificate chain (leaf first) and the private key given as PEM in memory (the
 * enclave receives them decrypted); key_pem should live in secure memory and is not copied
 * into ordinary heap by this module. Only the client-authentication fields of auth are used
 * (known_clients_file, ca_file, require_client_cert); auth may be NULL for no client auth. */
SIGIL_RESULT sigil_tls_ctx_new_mem(SSL_CTX **out, const char *cert_pem, size_t cert_len, const char *key_pem,
                                   size_t key_len, const struct sigil_tls_config *auth);

/* Replaces the known-clients list of ctx with the parsed text (the file format above). Turns on
 * client-certificate requests. Use before the context serves connections. */
SIGIL_RESULT sigil_tls_ctx_set_known_clients(SSL_CTX *ctx, const char *text, size_t len);

/* Adds the PEM CA certificates in pem to the client-verification store. Turns on
 * client-certificate requests. Use before the context serves connections. */
SIGIL_RESULT sigil_tls_ctx_add_client_ca_mem(SSL_CTX *ctx, const char *pem, size_t len);

/* After a completed handshake: writes the client identity (NUL-terminated, at most
 * SIGIL_TLS_CLIENT_NAME_MAX bytes with the NUL, "" when no certificate) into name and the leaf
 * fingerprint into fp. Returns true when the client presented a certificate. */
bool sigil_tls_peer_identity(SSL *ssl, char name[SIGIL_TLS_CLIENT_NAME_MAX], uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN]);

/* ---- known-clients list (exposed for tests and the fuzz harness) ---- */
struct sigil_known_clients;

/* Parses the known-clients text. Names are 1..127 printable ASCII bytes without spaces; a
 * fingerprint is 64 hex digits, optionally as 32 colon-separated pairs. Duplicate fingerprints
 * are refused. Errors: SIGIL_ERR_PARSE (detail names the line), SIGIL_ERR_TOO_LARGE,
 * SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_known_clients_parse(struct sigil_known_clients **out, const char *text, size_t len);

/* Returns the name listed for fp, or NULL. */
const char *sigil_known_clients_lookup(const struct sigil_known_clients *kc,
                                       const uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN]);

size_t sigil_known_clients_count(const struct sigil_known_clients *kc);

void sigil_known_clients_free(struct sigil_known_clients *kc);

/* SHA-256 over the DER encoding of cert. */
SIGIL_RESULT sigil_tls_cert_fingerprint(uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN], X509 *cert);

#endif
