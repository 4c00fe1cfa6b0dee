/* AES-256-GCM key envelopes (see envelope.h and docs/enclave.md). */
#include "crypto/envelope.h"

#include <string.h>

#include <openssl/evp.h>

#include "common/secmem.h"

/* AAD = label || chain || id, in a stack buffer (all public). */
static sigil_result build_aad(uint8_t aad[SIGIL_ENVELOPE_MAX_AAD], size_t *aad_len, const char *label,
                              const char *chain, const uint8_t *id, size_t id_len)
{
    if (label == NULL || label[0] == '\0' || (id == NULL && id_len != 0)) {
        return sigil_errorf(SIGIL_ERR_ARG, "envelope: label and id are required");
    }
    size_t ll = strlen(label), cl = chain != NULL ? strlen(chain) : 0;
    if (ll > SIGIL_ENVELOPE_MAX_AAD || cl > SIGIL_ENVELOPE_MAX_AAD - ll || id_len > SIGIL_ENVELOPE_MAX_AAD - ll - cl) {
        return sigil_errorf(SIGIL_ERR_ARG, "envelope: associated data over %u bytes", SIGIL_ENVELOPE_MAX_AAD);
    }
    /* byte copies: the AAD is not a C string, and the NUL terminators are not part of it */
    for (size_t i = 0; i < ll; i++) {
        aad[i] = (uint8_t)label[i];
    }
    for (size_t i = 0; i < cl; i++) {
        aad[ll + i] = (uint8_t)chain[i];
    }
    if (id_len > 0) {
        memcpy(aad + ll + cl, id, id_len);
    }
    *aad_len = ll + cl + id_len;
    return sigil_ok();
}

sigil_result sigil_envelope_seal(uint8_t *out, size_t cap, size_t *out_len, const uint8_t data_key[32],
                                 const char *label, const char *chain, const uint8_t *id, size_t id_len,
                                 const uint8_t *plain, size_t plain_len)
{
    SIGIL_ENSURE(out != NULL && out_len != NULL && data_key != NULL && plain != NULL, SIGIL_ERR_ARG);
    if (plain_len == 0 || plain_len > SIGIL_ENVELOPE_MAX_PLAIN) {
        return sigil_errorf(SIGIL_ERR_ARG, "envelope: plaintext must be 1..%u bytes", SIGIL_ENVELOPE_MAX_PLAIN);
    }
    if (cap < plain_len + SIGIL_ENVELOPE_OVERHEAD) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "envelope: output buffer too small");
    }
    uint8_t aad[SIGIL_ENVELOPE_MAX_AAD];
    size_t aad_len = 0;
    SIGIL_GUARD(build_aad(aad, &aad_len, label, chain, id, id_len));
    if (!sigil_random_bytes(out, SIGIL_ENVELOPE_NONCE_LEN)) {
        return sigil_error(SIGIL_ERR_RNG);
    }
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    SIGIL_ENSURE_GOTO(ctx != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
                          EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SIGIL_ENVELOPE_NONCE_LEN, NULL) == 1 &&
                          EVP_EncryptInit_ex(ctx, NULL, NULL, data_key, out) == 1 &&
                          EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1 &&
                          EVP_EncryptUpdate(ctx, out + SIGIL_ENVELOPE_NONCE_LEN, &n, plain, (int)plain_len) == 1 &&
                          EVP_EncryptFinal_ex(ctx, out + SIGIL_ENVELOPE_NONCE_LEN + n, &fin) == 1 &&
                          (size_t)n + (size_t)fin == plain_len &&
                          EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SIGIL_ENVELOPE_TAG_LEN,
                                              out + SIGIL_ENVELOPE_NONCE_LEN + plain_len) == 1,
                      SIGIL_ERR_CRYPTO);
    *out_len = plain_len + SIGIL_ENVELOPE_OVERHEAD;
    ret = sigil_ok();
out:
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return ret;
}

sigil_result sigil_envelope_open(uint8_t *plain_out, size_t cap, size_t *plain_len, const uint8_t data_key[32],
                                 const char *label, const char *chain, const uint8_t *id, size_t id_len,
                                 const uint8_t *ct, size_t ct_len)
{
    SIGIL_ENSURE(plain_out != NULL && plain_len != NULL && data_key != NULL && ct != NULL, SIGIL_ERR_ARG);
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t aad[SIGIL_ENVELOPE_MAX_AAD];
    size_t aad_len = 0;
    if (ct_len <= SIGIL_ENVELOPE_OVERHEAD || ct_len > SIGIL_ENVELOPE_MAX_PLAIN + SIGIL_ENVELOPE_OVERHEAD) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "envelope: ciphertext length %zu out of range", ct_len);
        goto out;
    }
    size_t pl = ct_len - SIGIL_ENVELOPE_OVERHEAD;
    if (cap < pl) {
        ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "envelope: plaintext buffer too small");
        goto out;
    }
    SIGIL_GUARD_GOTO(build_aad(aad, &aad_len, label, chain, id, id_len));
    ctx = EVP_CIPHER_CTX_new();
    SIGIL_ENSURE_GOTO(ctx != NULL, SIGIL_ERR_NOMEM);
    int n = 0, fin = 0;
    /* The tag is const input; OpenSSL's ctrl takes a non-const pointer but only reads it. */
    uint8_t tag[SIGIL_ENVELOPE_TAG_LEN];
    memcpy(tag, ct + ct_len - SIGIL_ENVELOPE_TAG_LEN, sizeof tag);
    SIGIL_ENSURE_GOTO(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
                          EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SIGIL_ENVELOPE_NONCE_LEN, NULL) == 1 &&
                          EVP_DecryptInit_ex(ctx, NULL, NULL, data_key, ct) == 1 &&
                          EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1 &&
                          EVP_DecryptUpdate(ctx, plain_out, &n, ct + SIGIL_ENVELOPE_NONCE_LEN, (int)pl) == 1 &&
                          EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SIGIL_ENVELOPE_TAG_LEN, tag) == 1,
                      SIGIL_ERR_CRYPTO);
    if (EVP_DecryptFinal_ex(ctx, plain_out + n, &fin) != 1 || (size_t)n + (size_t)fin != pl) {
        ret = sigil_errorf(SIGIL_ERR_CRYPTO, "envelope: authentication failed (wrong data key, wrong key identity, "
                                             "or tampered ciphertext)");
        goto out;
    }
    *plain_len = pl;
    ret = sigil_ok();
out:
    EVP_CIPHER_CTX_free(ctx);
    if (!sigil_is_ok(ret)) {
        sigil_wipe(plain_out, cap);
    }
    return ret;
}
