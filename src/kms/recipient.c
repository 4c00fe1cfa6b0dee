/* Ephemeral RSA-2048 recipient key pairs. */
#include "kms/recipient.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "kms/cms.h"

struct sigil_kms_recipient {
    EVP_PKEY *key;
    uint8_t *spki;
    size_t spki_len;
};

sigil_result sigil_kms_recipient_new(struct sigil_kms_recipient **out)
{
    *out = NULL;
    struct sigil_kms_recipient *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    sigil_result ret = sigil_errorf(SIGIL_ERR_CRYPTO, "kms: RSA key generation failed");
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    unsigned char *der = NULL;
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, SIGIL_KMS_RECIPIENT_BITS) <= 0 || EVP_PKEY_keygen(ctx, &r->key) <= 0) {
        goto out;
    }
    int n = i2d_PUBKEY(r->key, &der);
    if (n <= 0) {
        goto out;
    }
    r->spki = malloc((size_t)n);
    if (r->spki == NULL) {
        ret = sigil_error(SIGIL_ERR_NOMEM);
        goto out;
    }
    memcpy(r->spki, der, (size_t)n);
    r->spki_len = (size_t)n;
    *out = r;
    r = NULL;
    ret = sigil_ok();
out:
    OPENSSL_free(der);
    EVP_PKEY_CTX_free(ctx);
    sigil_kms_recipient_free(r);
    ERR_clear_error();
    return ret;
}

void sigil_kms_recipient_free(struct sigil_kms_recipient *r)
{
    if (r == NULL) {
        return;
    }
    EVP_PKEY_free(r->key);
    free(r->spki);
    free(r);
}

const uint8_t *sigil_kms_recipient_spki(const struct sigil_kms_recipient *r, size_t *len)
{
    *len = r->spki_len;
    return r->spki;
}

sigil_result sigil_kms_recipient_decrypt(const struct sigil_kms_recipient *r, uint8_t **plain, size_t *plain_len,
                                         const uint8_t *cms, size_t cms_len)
{
    *plain = NULL;
    *plain_len = 0;
    if (r == NULL || r->key == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "kms: no recipient key");
    }
    return sigil_kms_cms_decrypt(plain, plain_len, cms, cms_len, r->key);
}
