/* CMS EnvelopedData as KMS returns it in CiphertextForRecipient (RFC 5652 §6):
 * one KeyTransRecipientInfo with RSAES-OAEP (SHA-256, MGF1-SHA-256, empty label) and
 * AES-256-CBC content encryption, BER (indefinite lengths allowed).
 *
 * sigil_kms_cms_decrypt is what sigild runs on bytes relayed by the untrusted host: a strict
 * structural check of exactly that profile (own bounded BER walker) first, then OpenSSL's CMS
 * API for the decryption, writing the plaintext straight into secure memory.
 * sigil_kms_cms_build is the reverse, for sigil-kms.
 *
 * Note the envelope is not authenticated: anyone holding the recipient public key can build one.
 * Its integrity comes from the TLS channel to KMS, not from CMS. */
#ifndef SIGIL_KMS_CMS_H
#define SIGIL_KMS_CMS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "common/result.h"

#define SIGIL_KMS_CMS_MAX_SIZE     (64u * 1024u) /* KMS plaintexts are at most 4096 bytes */
#define SIGIL_KMS_CMS_MAX_SKI      64
#define SIGIL_KMS_CMS_MAX_PLAIN    (32u * 1024u)
#define SIGIL_KMS_CMS_MIN_RSA_BITS 2048

/* What the structural check extracted (all public: ciphertext, wrapped key, IV). */
struct sigil_kms_cms_info {
    int version;                        /* EnvelopedData version */
    int ktri_version;                   /* 2: rid is a subjectKeyIdentifier, 0: issuerAndSerialNumber */
    uint8_t ski[SIGIL_KMS_CMS_MAX_SKI]; /* when ktri_version == 2 */
    size_t ski_len;
    const uint8_t *encrypted_key; /* points into the input */
    size_t encrypted_key_len;
    uint8_t iv[16];
    uint8_t *content; /* malloc'ed concatenation of the encryptedContent octets */
    size_t content_len;
};

/* Checks that ber[0..len) is a ContentInfo(EnvelopedData) of exactly the KMS profile and
 * extracts its fields. Trailing zero bytes after the outer element are tolerated (KMS samples
 * carry them); anything else after it is refused.
 * Errors: SIGIL_ERR_TOO_LARGE (over SIGIL_KMS_CMS_MAX_SIZE), SIGIL_ERR_PARSE (malformed BER),
 * SIGIL_ERR_UNSUPPORTED (valid CMS but another content type, recipient kind or algorithm).
 * Out: *out, release with sigil_kms_cms_info_clear (also after failure). */
SIGIL_RESULT sigil_kms_cms_inspect(struct sigil_kms_cms_info *out, const uint8_t *ber, size_t len);

/* Frees out->content and zeroes *out. NULL is a no-op. */
void sigil_kms_cms_info_clear(struct sigil_kms_cms_info *out);

/* Decrypts a KMS CiphertextForRecipient with the RSA private key `key`.
 * Returns SIGIL_OK with *plain in secure memory (free with sigil_secure_free) and *plain_len > 0;
 * the errors of sigil_kms_cms_inspect; SIGIL_ERR_CRYPTO when the key does not fit or the
 * ciphertext or padding is corrupt (one error for all, no oracle); SIGIL_ERR_NOMEM.
 * OpenSSL's temporaries are freed with cleansing and the stack below this call is scrubbed. */
SIGIL_RESULT sigil_kms_cms_decrypt(uint8_t **plain, size_t *plain_len, const uint8_t *ber, size_t len, EVP_PKEY *key);

/* Builds a DER ContentInfo(EnvelopedData) of the KMS profile: KTRI version 2 with
 * SKI = SHA-256(recipient SPKI DER), RSAES-OAEP-SHA256, fresh random AES-256 key and IV.
 * recipient must be an RSA public key of at least SIGIL_KMS_CMS_MIN_RSA_BITS.
 * plain may live in secure memory; it is read in place, never copied to the heap.
 * Out: *out malloc'ed (free()), *out_len. Errors: SIGIL_ERR_ARG (key type/size, empty or
 * oversized plaintext), SIGIL_ERR_CRYPTO, SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_kms_cms_build(uint8_t **out, size_t *out_len, const uint8_t *plain, size_t plain_len,
                                 EVP_PKEY *recipient);

/* Same, with the recipient given as a DER SubjectPublicKeyInfo (the attestation document's
 * public_key). SIGIL_ERR_PARSE when it does not decode. */
SIGIL_RESULT sigil_kms_cms_build_for_spki(uint8_t **out, size_t *out_len, const uint8_t *plain, size_t plain_len,
                                          const uint8_t *spki, size_t spki_len);

#endif
