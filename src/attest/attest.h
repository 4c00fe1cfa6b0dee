/* Nitro attestation documents: one strict verifier for real and simulated documents, the NSM
 * interface (the /dev/nsm device and a simulated NSM for plain machines), and the dev attestation
 * PKI that signs simulated documents.
 *
 * A document is a COSE_Sign1 (optionally CBOR tag 18) whose payload is the AttestationDocument map
 * of aws-nitro-enclaves-nsm-api; see docs in /work/shared/reference/attestation.md. The verifier is
 * the only code that decides whether a document is trusted, whoever produced it. */
#ifndef SIGIL_ATTEST_ATTEST_H
#define SIGIL_ATTEST_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

#define SIGIL_ATTEST_MAX_DOC (16 * 1024)
#define SIGIL_ATTEST_NPCRS   16

struct sigil_attest_doc {
    char module_id[128];
    uint64_t timestamp_ms; /* from the document */
    char digest[16];       /* "SHA384" */
    uint8_t pcrs[SIGIL_ATTEST_NPCRS][48];
    bool pcr_present[SIGIL_ATTEST_NPCRS];
    size_t pcr_len[SIGIL_ATTEST_NPCRS];
    uint8_t public_key[1024]; /* DER SubjectPublicKeyInfo from the doc, if any */
    size_t public_key_len;
    uint8_t user_data[512];
    size_t user_data_len;
    uint8_t nonce[512];
    size_t nonce_len;
    uint8_t cert_der[4096]; /* leaf */
    size_t cert_der_len;
};

struct sigil_attest_verify_opts {
    /* Pinned root certificate (one PEM certificate). NULL = the AWS Nitro Enclaves Root-G1
     * built in (SHA-256 fingerprint 641A0321...79BB5B). */
    const char *root_pem;
    size_t root_pem_len;
    /* Time (Unix seconds) at which every certificate of the chain must be valid; 0 = the
     * document's own timestamp. */
    uint64_t at_time_s;
    /* Expected nonce; NULL = not checked. A document without a nonce never matches. */
    const uint8_t *expect_nonce;
    size_t expect_nonce_len;
    /* n_expect_pcr expected PCR values (48 bytes each) at indices expect_pcr_index[i] (< 16). */
    const uint8_t (*expect_pcr)[48];
    const int *expect_pcr_index;
    size_t n_expect_pcr;
};

/* Parses and verifies a COSE_Sign1 attestation document: CBOR structure and field types (strict,
 * size-limited: definite lengths only, no unknown or duplicate keys, nesting depth bounded, no
 * trailing bytes), cert chain (cabundle + certificate) to the pinned root valid at the chosen time
 * (and the leaf valid at the document's timestamp), ES384 signature over the Sig_structure, PCR
 * lengths (48, digest SHA384), optional nonce/PCR expectations. opts may be NULL (built-in root,
 * document time, no expectations). On success fills out; on failure out is zeroed.
 * Errors: SIGIL_ERR_PARSE (malformed, over SIGIL_ATTEST_MAX_DOC), SIGIL_ERR_CRYPTO (signature or
 * chain invalid; the detail says which), SIGIL_ERR_FORBIDDEN (PCR/nonce mismatch), SIGIL_ERR_ARG
 * (bad opts, unreadable root PEM). */
SIGIL_RESULT sigil_attest_verify(struct sigil_attest_doc *out, const uint8_t *doc, size_t len,
                                 const struct sigil_attest_verify_opts *opts);

/* The NSM interface: one implementation talks to /dev/nsm (the NSM ioctl with its CBOR
 * request/response), the other simulates it. Both produce the same COSE_Sign1 ES384 document.
 * A handle is not thread-safe; use one per thread or lock around it. */
struct sigil_nsm;

/* Opens /dev/nsm. SIGIL_ERR_UNSUPPORTED when the device is absent, SIGIL_ERR_IO otherwise. */
SIGIL_RESULT sigil_nsm_open_device(struct sigil_nsm **out);

/* Simulated NSM: signs with a dev attestation key (leaf_key_pem, read into OpenSSL and never
 * copied elsewhere) whose certificate is leaf_cert_pem; chain_pem holds the chain above the leaf
 * in the order root first, then intermediates (it becomes the cabundle). PCR0 = SHA-384 of the
 * file image_path (e.g. /proc/self/exe); PCR1..15 are zero. */
SIGIL_RESULT sigil_nsm_open_simulated(struct sigil_nsm **out, const char *leaf_cert_pem, size_t leaf_cert_pem_len,
                                      const char *leaf_key_pem, size_t leaf_key_pem_len, const char *chain_pem,
                                      size_t chain_pem_len, const char *image_path);

/* Requests an attestation document. Optional inputs: a NULL pointer or zero length means absent
 * (null in the document). Limits: user_data and nonce 512 bytes, public_key 1024 bytes
 * (SIGIL_ERR_ARG). SIGIL_ERR_TOO_LARGE when the document does not fit cap. */
SIGIL_RESULT sigil_nsm_attest(struct sigil_nsm *n, uint8_t *doc_out, size_t cap, size_t *doc_len,
                              const uint8_t *user_data, size_t ud_len, const uint8_t *nonce, size_t nonce_len,
                              const uint8_t *public_key_der, size_t pk_len);

/* Fills out with len random bytes from the NSM (looping over NSM replies); the simulated NSM
 * uses the OS CSPRNG. */
SIGIL_RESULT sigil_nsm_get_random(struct sigil_nsm *n, uint8_t *out, size_t len);

/* Closes the device / frees the simulated key. NULL is a no-op. */
void sigil_nsm_close(struct sigil_nsm *n);

/* Dev attestation PKI used by sigil-kms and the simulated NSM. A root is ECDSA P-384, self-signed,
 * valid for 10 years; a leaf is P-384, CA:FALSE, digitalSignature, valid from 60 s ago for
 * valid_s seconds. Certificate PEMs are malloc'ed (free()); private key PEMs are NUL-terminated
 * and in secure memory (sigil_secure_free()). */
SIGIL_RESULT sigil_attest_dev_root_new(char **root_cert_pem, char **root_key_pem);
SIGIL_RESULT sigil_attest_dev_issue(char **leaf_cert_pem, char **leaf_key_pem, const char *root_cert_pem,
                                    const char *root_key_pem, unsigned valid_s);

/* SHA-384 of a file (PCR0 of the simulated enclave = hash of the sigild binary). */
SIGIL_RESULT sigil_attest_image_sha384(uint8_t out[48], const char *path);

/* `sigil attest verify DOC [--root PEM] [--at TIME] [--pcr N=HEX ...] [--nonce HEX] [--json]`.
 * argv[0] may be "attest". Exit 0 valid, 1 invalid (chain, signature, PCR, nonce), 2 bad usage
 * or an unreadable or malformed file (one sentence on stderr). */
int sigil_attest_cli(int argc, char **argv);

#endif
