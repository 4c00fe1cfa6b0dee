#include "crypto/eip2333.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "common/secmem.h"

#define LAMPORT_BYTES (SIGIL_EIP2333_LAMPORT_CHUNKS * 32)

static sigil_result hkdf(int mode, uint8_t *out, size_t out_len, const uint8_t *key, size_t key_len,
                         const uint8_t *salt, size_t salt_len, const uint8_t *info, size_t info_len)
{
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[6], *p = params;
    SIGIL_ENSURE_GOTO(ctx != NULL, SIGIL_ERR_CRYPTO);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
    if (salt_len > 0) {
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    }
    if (info_len > 0) {
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    }
    *p = OSSL_PARAM_construct_end();
    SIGIL_ENSURE_GOTO(EVP_KDF_derive(ctx, out, out_len, params) == 1, SIGIL_ERR_CRYPTO);
    ret = sigil_ok();
out:
    EVP_KDF_CTX_free(ctx); /* clears its copies of key, salt and info */
    EVP_KDF_free(kdf);
    return ret;
}

sigil_result sigil_eip2333_hkdf_extract(uint8_t prk[32], const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                                        size_t ikm_len)
{
    if (ikm == NULL || ikm_len == 0 || (salt == NULL && salt_len != 0)) {
        return sigil_error(SIGIL_ERR_ARG);
    }
    return hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, prk, 32, ikm, ikm_len, salt, salt_len, NULL, 0);
}

sigil_result sigil_eip2333_hkdf_expand(uint8_t *out, size_t out_len, const uint8_t prk[32], const uint8_t *info,
                                       size_t info_len)
{
    if (out == NULL || out_len == 0 || out_len > 255 * 32 || prk == NULL || (info == NULL && info_len != 0)) {
        return sigil_error(SIGIL_ERR_ARG);
    }
    return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, out, out_len, prk, 32, NULL, 0, info, info_len);
}

/* I2OSP(sk, 32) without depending on the curve library's encoder. */
static void sk_to_be32(uint8_t out[32], const sigil_bls_sk *sk)
{
    for (int i = 0; i < 32; i++) {
        out[31 - i] = (uint8_t)(sk->l[i / 8] >> (8 * (i % 8)));
    }
}

sigil_result sigil_eip2333_derive_master(sigil_bls_sk *out, const uint8_t *seed, size_t seed_len)
{
    if (seed == NULL || seed_len < 32) {
        return sigil_errorf(SIGIL_ERR_ARG, "EIP-2333 seed is %zu bytes, at least 32 required", seed_len);
    }
    return sigil_bls_keygen(out, seed, seed_len, NULL, 0);
}

/* Secrets of one parent_SK_to_lamport_PK, wiped together. */
struct lamport_scratch {
    uint8_t ikm[32];
    uint8_t not_ikm[32];
    uint8_t prk[32];
    uint8_t l0[LAMPORT_BYTES];
    uint8_t l1[LAMPORT_BYTES];
    uint8_t chunk_hash[32];
};

static sigil_result ikm_to_lamport_sk(uint8_t *lamport, uint8_t *prk, const uint8_t ikm[32], const uint8_t salt[4])
{
    SIGIL_GUARD(sigil_eip2333_hkdf_extract(prk, salt, 4, ikm, 32));
    return sigil_eip2333_hkdf_expand(lamport, LAMPORT_BYTES, prk, NULL, 0);
}

sigil_result sigil_eip2333_lamport(uint8_t (*lamport0)[32], uint8_t (*lamport1)[32], uint8_t compressed[32],
                                   const sigil_bls_sk *parent, uint32_t index)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    EVP_MD_CTX *md = NULL;
    struct lamport_scratch *s = sigil_secure_alloc(sizeof(*s));
    SIGIL_ENSURE_GOTO(s != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(parent != NULL && compressed != NULL, SIGIL_ERR_ARG);
    const uint8_t salt[4] = {(uint8_t)(index >> 24), (uint8_t)(index >> 16), (uint8_t)(index >> 8), (uint8_t)index};

    sk_to_be32(s->ikm, parent);
    for (int i = 0; i < 32; i++) {
        s->not_ikm[i] = (uint8_t)~s->ikm[i];
    }
    SIGIL_GUARD_GOTO(ikm_to_lamport_sk(s->l0, s->prk, s->ikm, salt));
    SIGIL_GUARD_GOTO(ikm_to_lamport_sk(s->l1, s->prk, s->not_ikm, salt));

    /* compressed = SHA256(SHA256(l0[0]) || ... || SHA256(l0[254]) || SHA256(l1[0]) || ...),
     * streamed instead of materialising the 16 KiB Lamport public key. */
    md = EVP_MD_CTX_new();
    SIGIL_ENSURE_GOTO(md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1, SIGIL_ERR_CRYPTO);
    for (int half = 0; half < 2; half++) {
        const uint8_t *l = half == 0 ? s->l0 : s->l1;
        for (int i = 0; i < SIGIL_EIP2333_LAMPORT_CHUNKS; i++) {
            SHA256(l + 32 * i, 32, s->chunk_hash);
            SIGIL_ENSURE_GOTO(EVP_DigestUpdate(md, s->chunk_hash, 32) == 1, SIGIL_ERR_CRYPTO);
        }
    }
    SIGIL_ENSURE_GOTO(EVP_DigestFinal_ex(md, compressed, NULL) == 1, SIGIL_ERR_CRYPTO);
    if (lamport0 != NULL) {
        memcpy(lamport0, s->l0, LAMPORT_BYTES);
    }
    if (lamport1 != NULL) {
        memcpy(lamport1, s->l1, LAMPORT_BYTES);
    }
    ret = sigil_ok();
out:
    EVP_MD_CTX_free(md);
    sigil_secure_free(s);
    return ret;
}

sigil_result sigil_eip2333_derive_child(sigil_bls_sk *out, const sigil_bls_sk *parent, uint32_t index)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    /* The compressed Lamport PK is the child's IKM, so it is secret too. */
    uint8_t *compressed = sigil_secure_alloc(32);
    SIGIL_ENSURE_GOTO(compressed != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(sigil_eip2333_lamport(NULL, NULL, compressed, parent, index));
    SIGIL_GUARD_GOTO(sigil_bls_keygen(out, compressed, 32, NULL, 0));
out:
    sigil_secure_free(compressed);
    return ret;
}

sigil_result sigil_eip2333_path_parse(uint32_t indices[SIGIL_EIP2333_MAX_DEPTH], size_t *depth, const char *path,
                                      bool eip2334)
{
    *depth = 0;
    if (path == NULL || path[0] != 'm') {
        return sigil_errorf(SIGIL_ERR_KEY_PATH, "key path must start with 'm'");
    }
    const char *p = path + 1;
    size_t n = 0;
    while (*p != '\0') {
        if (*p != '/') {
            return sigil_errorf(SIGIL_ERR_KEY_PATH, "key path: expected '/' after component %zu", n);
        }
        p++;
        if (n == SIGIL_EIP2333_MAX_DEPTH) {
            return sigil_errorf(SIGIL_ERR_KEY_PATH, "key path has more than %d components", SIGIL_EIP2333_MAX_DEPTH);
        }
        const char *start = p;
        uint64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (uint64_t)(*p - '0');
            if (v > UINT32_MAX) {
                return sigil_errorf(SIGIL_ERR_KEY_PATH, "key path component %zu is not below 2^32", n + 1);
            }
            p++;
        }
        if (p == start || (*p != '/' && *p != '\0')) {
            return sigil_errorf(SIGIL_ERR_KEY_PATH, "key path component %zu is not a decimal number", n + 1);
        }
        if (*start == '0' && p - start > 1) {
            return sigil_errorf(SIGIL_ERR_KEY_PATH, "key path component %zu has a leading zero", n + 1);
        }
        indices[n++] = (uint32_t)v;
    }
    if (eip2334) {
        if (n == 0) {
            return sigil_errorf(SIGIL_ERR_KEY_PATH, "EIP-2334 key path needs a purpose component (m/12381/...)");
        }
        if (indices[0] != SIGIL_EIP2334_PURPOSE) {
            return sigil_errorf(SIGIL_ERR_KEY_PATH, "EIP-2334 key path purpose is %u, must be 12381", indices[0]);
        }
    }
    *depth = n;
    return sigil_ok();
}

sigil_result sigil_eip2333_derive_indices(sigil_bls_sk *out, const uint8_t *seed, size_t seed_len,
                                          const uint32_t *indices, size_t depth)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    sigil_bls_sk *cur = sigil_secure_alloc(sizeof(*cur));
    SIGIL_ENSURE_GOTO(cur != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(depth <= SIGIL_EIP2333_MAX_DEPTH && (indices != NULL || depth == 0), SIGIL_ERR_ARG);
    SIGIL_GUARD_GOTO(sigil_eip2333_derive_master(cur, seed, seed_len));
    for (size_t i = 0; i < depth; i++) {
        SIGIL_GUARD_GOTO(sigil_eip2333_derive_child(out, cur, indices[i]));
        *cur = *out;
    }
    *out = *cur;
    ret = sigil_ok();
out:
    if (!sigil_is_ok(ret)) {
        sigil_wipe(out, sizeof(*out));
    }
    sigil_secure_free(cur);
    return ret;
}

sigil_result sigil_eip2333_derive_path(sigil_bls_sk *out, const uint8_t *seed, size_t seed_len, const char *path)
{
    uint32_t indices[SIGIL_EIP2333_MAX_DEPTH];
    size_t depth;
    SIGIL_GUARD(sigil_eip2333_path_parse(indices, &depth, path, true));
    return sigil_eip2333_derive_indices(out, seed, seed_len, indices, depth);
}

void sigil_eip2333_signing_path(char buf[48], uint32_t index) { snprintf(buf, 48, "m/12381/3600/%u/0/0", index); }

void sigil_eip2333_withdrawal_path(char buf[48], uint32_t index) { snprintf(buf, 48, "m/12381/3600/%u/0", index); }
