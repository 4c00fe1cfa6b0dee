/* Ephemeral KMS recipient keys: an RSA-2048 key pair generated in memory at boot, whose public
 * half goes into the attestation document (public_key) so that KMS can answer Decrypt /
 * GenerateDataKey / GenerateRandom with a CMS envelope only this process can open.
 *
 * The private key never leaves the process: there is no export function, and freeing the
 * recipient frees the key with OpenSSL's clearing free (BN_clear_free on every private
 * component). sigild should call CRYPTO_secure_malloc_init at start so that OpenSSL also
 * places the private components in its locked secure heap. */
#ifndef SIGIL_KMS_RECIPIENT_H
#define SIGIL_KMS_RECIPIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "common/result.h"

#define SIGIL_KMS_RECIPIENT_BITS 2048

struct sigil_kms_recipient;

/* Generates a fresh RSA-2048 (e = 65537) key pair. Errors: SIGIL_ERR_CRYPTO, SIGIL_ERR_NOMEM.
 * Out: *out, free with sigil_kms_recipient_free. */
SIGIL_RESULT sigil_kms_recipient_new(struct sigil_kms_recipient **out);

/* Frees (and wipes) the key pair. NULL is a no-op. */
void sigil_kms_recipient_free(struct sigil_kms_recipient *r);

/* The DER SubjectPublicKeyInfo of the public key (borrowed; valid until free). */
const uint8_t *sigil_kms_recipient_spki(const struct sigil_kms_recipient *r, size_t *len);

/* Decrypts a CiphertextForRecipient addressed to this key (see sigil_kms_cms_decrypt).
 * Out: *plain in secure memory (sigil_secure_free), *plain_len. */
SIGIL_RESULT sigil_kms_recipient_decrypt(const struct sigil_kms_recipient *r, uint8_t **plain, size_t *plain_len,
                                         const uint8_t *cms, size_t cms_len);

#endif
