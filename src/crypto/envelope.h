/* Key envelopes: AES-256-GCM under a KMS data key, the format of docs/enclave.md.
 *
 *   ciphertext = nonce(12) || GCM(plain) || tag(16)
 *   AAD        = label || chain || id          (plain concatenation, no separators)
 *
 * Labels in use: SIGIL_ENVELOPE_LABEL_KEY ("sigil-key-v1", chain "eth2"/"eth1", id = pubkey
 * bytes) for validator keys, and SIGIL_ENVELOPE_LABEL_TLS ("sigil-tls-v1", chain "", id =
 * SHA-256 of the leaf certificate's DER) for the TLS private key. The AAD binds a ciphertext to
 * the key it claims to be: the host cannot swap two validators' ciphertexts or pass a validator
 * key off as the TLS key.
 *
 * Secrets: the data key and the plaintext are only read or written in place; the caller gives a
 * plaintext buffer in secure memory for open. No copy of either is made. */
#ifndef SIGIL_CRYPTO_ENVELOPE_H
#define SIGIL_CRYPTO_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

#define SIGIL_ENVELOPE_NONCE_LEN 12
#define SIGIL_ENVELOPE_TAG_LEN   16
#define SIGIL_ENVELOPE_OVERHEAD  (SIGIL_ENVELOPE_NONCE_LEN + SIGIL_ENVELOPE_TAG_LEN)
#define SIGIL_ENVELOPE_MAX_PLAIN (64u * 1024u) /* a PEM private key fits; keys are 32 bytes */
#define SIGIL_ENVELOPE_MAX_AAD   1024u         /* label + chain + id */
#define SIGIL_ENVELOPE_LABEL_KEY "sigil-key-v1"
#define SIGIL_ENVELOPE_LABEL_TLS "sigil-tls-v1"

/* Seals plain (1..SIGIL_ENVELOPE_MAX_PLAIN bytes) with a fresh random nonce.
 * label must be non-empty; chain may be NULL or ""; id may be NULL when id_len is 0.
 * Out: out[0..*out_len) = nonce || ct || tag, *out_len = plain_len + SIGIL_ENVELOPE_OVERHEAD.
 * Errors: SIGIL_ERR_ARG (empty/oversized input or AAD), SIGIL_ERR_TOO_LARGE (cap too small),
 * SIGIL_ERR_RNG, SIGIL_ERR_CRYPTO. */
SIGIL_RESULT sigil_envelope_seal(uint8_t *out, size_t cap, size_t *out_len, const uint8_t data_key[32],
                                 const char *label, const char *chain, const uint8_t *id, size_t id_len,
                                 const uint8_t *plain, size_t plain_len);

/* Opens ct (nonce || ct || tag) into plain_out (the caller's secure memory, cap bytes).
 * *plain_len = ct_len - SIGIL_ENVELOPE_OVERHEAD. On any failure plain_out[0..cap) is wiped.
 * Errors: SIGIL_ERR_PARSE (ct shorter than the overhead + 1 or longer than the maximum),
 * SIGIL_ERR_TOO_LARGE (cap too small), SIGIL_ERR_ARG, SIGIL_ERR_CRYPTO (authentication failed:
 * wrong data key, wrong label/chain/id, or tampered ciphertext; one error for all). */
SIGIL_RESULT sigil_envelope_open(uint8_t *plain_out, size_t cap, size_t *plain_len, const uint8_t data_key[32],
                                 const char *label, const char *chain, const uint8_t *id, size_t id_len,
                                 const uint8_t *ct, size_t ct_len);

#endif
