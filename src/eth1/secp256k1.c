#include "eth1/secp256k1.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/json.h"
#include "common/secmem.h"
#include "crypto/keccak.h"

struct sigil_secp256k1_sk {
    uint8_t k[SIGIL_SECP256K1_SK_LEN];
};

static secp256k1_context *g_ctx;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void ctx_init(void)
{
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t seed[32];
    /* Blinding only: without it (no entropy, or a refused seed) the context is still correct. */
    int blinded = ctx != NULL && sigil_random_bytes(seed, sizeof seed) && secp256k1_context_randomize(ctx, seed);
    (void)blinded;
    sigil_wipe(seed, sizeof seed);
    g_ctx = ctx;
}

static const secp256k1_context *ctx_get(void)
{
    (void)pthread_once(&g_once, ctx_init);
    return g_ctx;
}

/* n/2, for the low-s rule on recovery. */
static const uint8_t HALF_N[32] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
                                   0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

sigil_result sigil_secp256k1_sk_from_bytes(sigil_secp256k1_sk **out, const uint8_t in[SIGIL_SECP256K1_SK_LEN])
{
    const secp256k1_context *ctx = ctx_get();
    if (ctx == NULL) {
        return sigil_errorf(SIGIL_ERR_NOMEM, "secp256k1 context");
    }
    sigil_secp256k1_sk *sk = sigil_secure_alloc(sizeof *sk);
    if (sk == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    memcpy(sk->k, in, SIGIL_SECP256K1_SK_LEN);
    int valid = secp256k1_ec_seckey_verify(ctx, sk->k);
    /* The verdict is published to the caller anyway. */
    sigil_declassify(&valid, sizeof valid);
    if (!valid) {
        sigil_secure_free(sk);
        return sigil_errorf(SIGIL_ERR_ARG, "secret key is zero or not below the group order");
    }
    *out = sk;
    return sigil_ok();
}

sigil_result sigil_secp256k1_sk_generate(sigil_secp256k1_sk **out)
{
    uint8_t *buf = sigil_secure_alloc(SIGIL_SECP256K1_SK_LEN);
    if (buf == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    sigil_result ret = sigil_error(SIGIL_ERR_RNG);
    for (int i = 0; i < 16; i++) {
        if (!sigil_random_bytes(buf, SIGIL_SECP256K1_SK_LEN)) {
            ret = sigil_error(SIGIL_ERR_RNG);
            break;
        }
        ret = sigil_secp256k1_sk_from_bytes(out, buf);
        if (ret.code != SIGIL_ERR_ARG) {
            break;
        }
    }
    sigil_secure_free(buf);
    return ret;
}

void sigil_secp256k1_sk_free(sigil_secp256k1_sk *sk) { sigil_secure_free(sk); }

void sigil_secp256k1_sk_export(uint8_t out[SIGIL_SECP256K1_SK_LEN], const sigil_secp256k1_sk *sk)
{
    memcpy(out, sk->k, SIGIL_SECP256K1_SK_LEN);
}

sigil_result sigil_secp256k1_pubkey(uint8_t out[SIGIL_SECP256K1_PUB_LEN], const sigil_secp256k1_sk *sk)
{
    const secp256k1_context *ctx = ctx_get();
    secp256k1_pubkey pk;
    size_t n = SIGIL_SECP256K1_PUB_LEN;
    int ok = ctx != NULL && secp256k1_ec_pubkey_create(ctx, &pk, sk->k);
    /* Declassify (as libsecp256k1's own ctime test does): the public key, and whether the key
     * was valid, are public; serialising may branch on them. */
    sigil_declassify(&ok, sizeof ok);
    if (ok) {
        sigil_declassify(&pk, sizeof pk);
    }
    if (!ok || !secp256k1_ec_pubkey_serialize(ctx, out, &n, &pk, SECP256K1_EC_UNCOMPRESSED)) {
        return sigil_errorf(SIGIL_ERR_CRYPTO, "secp256k1 public key derivation failed");
    }
    return sigil_ok();
}

void sigil_eth1_pubkey_to_address(uint8_t out[SIGIL_ETH1_ADDR_LEN], const uint8_t pub[SIGIL_SECP256K1_PUB_LEN])
{
    uint8_t h[32];
    sigil_keccak256(h, pub + 1, SIGIL_SECP256K1_PUB_LEN - 1);
    memcpy(out, h + 12, SIGIL_ETH1_ADDR_LEN);
}

sigil_result sigil_secp256k1_address(uint8_t out[SIGIL_ETH1_ADDR_LEN], const sigil_secp256k1_sk *sk)
{
    uint8_t pub[SIGIL_SECP256K1_PUB_LEN];
    SIGIL_GUARD(sigil_secp256k1_pubkey(pub, sk));
    sigil_eth1_pubkey_to_address(out, pub);
    return sigil_ok();
}

sigil_result sigil_secp256k1_sign(struct sigil_secp256k1_sig *out, const sigil_secp256k1_sk *sk,
                                  const uint8_t digest[32])
{
    const secp256k1_context *ctx = ctx_get();
    secp256k1_ecdsa_recoverable_signature sig;
    uint8_t compact[64];
    int recid = 0;
    /* NULL nonce function = RFC 6979 with HMAC-SHA256; the library always emits low-s. */
    int ok = ctx != NULL && secp256k1_ecdsa_sign_recoverable(ctx, &sig, digest, sk->k, NULL, NULL);
    /* Declassify: the signature and the success bit are public (libsecp256k1's ctime test does
     * the same); serialising branches on them. */
    sigil_declassify(&ok, sizeof ok);
    if (ok) {
        sigil_declassify(&sig, sizeof sig);
    }
    if (!ok || !secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, compact, &recid, &sig)) {
        return sigil_errorf(SIGIL_ERR_CRYPTO, "secp256k1 signing failed");
    }
    /* A signature is public output. */
    sigil_declassify(compact, sizeof compact);
    sigil_declassify(&recid, sizeof recid);
    memcpy(out->r, compact, 32);
    memcpy(out->s, compact + 32, 32);
    out->y_parity = (uint8_t)recid;
    return sigil_ok();
}

sigil_result sigil_secp256k1_recover(uint8_t pub[SIGIL_SECP256K1_PUB_LEN], const struct sigil_secp256k1_sig *sig,
                                     const uint8_t digest[32])
{
    const secp256k1_context *ctx = ctx_get();
    if (ctx == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    if (sig->y_parity > 1) {
        return sigil_errorf(SIGIL_ERR_PARSE, "signature: y parity must be 0 or 1");
    }
    if (memcmp(sig->s, HALF_N, 32) > 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "signature: s is above n/2 (high-s)");
    }
    static const uint8_t zero[32];
    if (memcmp(sig->r, zero, 32) == 0 || memcmp(sig->s, zero, 32) == 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "signature: r or s is zero");
    }
    uint8_t compact[64];
    memcpy(compact, sig->r, 32);
    memcpy(compact + 32, sig->s, 32);
    secp256k1_ecdsa_recoverable_signature rs;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rs, compact, sig->y_parity)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "signature: r or s is not below the group order");
    }
    secp256k1_pubkey pk;
    size_t n = SIGIL_SECP256K1_PUB_LEN;
    if (!secp256k1_ecdsa_recover(ctx, &pk, &rs, digest) ||
        !secp256k1_ec_pubkey_serialize(ctx, pub, &n, &pk, SECP256K1_EC_UNCOMPRESSED)) {
        return sigil_errorf(SIGIL_ERR_CRYPTO, "signature: no public key recovers from it");
    }
    return sigil_ok();
}

sigil_result sigil_secp256k1_recover_address(uint8_t addr[SIGIL_ETH1_ADDR_LEN], const struct sigil_secp256k1_sig *sig,
                                             const uint8_t digest[32])
{
    uint8_t pub[SIGIL_SECP256K1_PUB_LEN];
    SIGIL_GUARD(sigil_secp256k1_recover(pub, sig, digest));
    sigil_eth1_pubkey_to_address(addr, pub);
    return sigil_ok();
}

/* ---- Web3 Secret Storage v3 ---- */

struct ks_scratch {
    uint8_t dk[32];
    uint8_t plain[32];
    uint8_t mac_in[16 + 32];
};

struct ks_params {
    enum sigil_eth1_kdf kdf;
    uint64_t n, r, p, c;
    uint8_t salt[128];
    size_t salt_len;
    uint8_t iv[16];
    uint8_t cipher[32];
    uint8_t mac[32];
};

static sigil_result kfmt(const char *field, const char *what)
{
    return sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT, "keystore: %s %s", field, what);
}

static sigil_result ks_hex(uint8_t *out, size_t cap, size_t *got, const json_t *obj, const char *key, bool exact)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) {
        return kfmt(key, "is missing or not a string");
    }
    size_t len = 0;
    if (!sigil_is_ok(sigil_hex_decode(out, cap, &len, json_string_value(v), json_string_length(v))) ||
        (exact && len != cap) || len == 0) {
        return kfmt(key, "is not valid hex of the expected length");
    }
    if (got != NULL) {
        *got = len;
    }
    return sigil_ok();
}

static sigil_result ks_uint(uint64_t *out, const json_t *obj, const char *key, uint64_t min, uint64_t max)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min ||
        (uint64_t)json_integer_value(v) > max) {
        return kfmt(key, "is missing, not an integer, or out of range");
    }
    *out = (uint64_t)json_integer_value(v);
    return sigil_ok();
}

static sigil_result ks_parse(struct ks_params *p, const json_t *root)
{
    if (!json_is_object(root)) {
        return kfmt("document", "is not an object");
    }
    const json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 3) {
        return kfmt("version", "must be 3");
    }
    const json_t *crypto = json_object_get(root, "crypto");
    if (crypto == NULL) {
        crypto = json_object_get(root, "Crypto");
    }
    if (!json_is_object(crypto)) {
        return kfmt("crypto", "is missing or not an object");
    }
    const json_t *cipher = json_object_get(crypto, "cipher");
    if (!json_is_string(cipher) || strcmp(json_string_value(cipher), "aes-128-ctr") != 0) {
        return kfmt("crypto.cipher", "must be aes-128-ctr");
    }
    const json_t *cp = json_object_get(crypto, "cipherparams");
    if (!json_is_object(cp)) {
        return kfmt("crypto.cipherparams", "is missing");
    }
    SIGIL_GUARD(ks_hex(p->iv, 16, NULL, cp, "iv", true));
    SIGIL_GUARD(ks_hex(p->cipher, 32, NULL, crypto, "ciphertext", true));
    SIGIL_GUARD(ks_hex(p->mac, 32, NULL, crypto, "mac", true));
    const json_t *kdf = json_object_get(crypto, "kdf");
    const json_t *kp = json_object_get(crypto, "kdfparams");
    if (!json_is_string(kdf) || !json_is_object(kp)) {
        return kfmt("crypto.kdf", "or crypto.kdfparams is missing");
    }
    uint64_t dklen;
    SIGIL_GUARD(ks_uint(&dklen, kp, "dklen", 32, 32));
    SIGIL_GUARD(ks_hex(p->salt, sizeof p->salt, &p->salt_len, kp, "salt", false));
    if (strcmp(json_string_value(kdf), "scrypt") == 0) {
        p->kdf = SIGIL_ETH1_KDF_SCRYPT;
        SIGIL_GUARD(ks_uint(&p->n, kp, "n", 2, SIGIL_ETH1_MAX_SCRYPT_N));
        SIGIL_GUARD(ks_uint(&p->r, kp, "r", 1, SIGIL_ETH1_MAX_SCRYPT_RP));
        SIGIL_GUARD(ks_uint(&p->p, kp, "p", 1, SIGIL_ETH1_MAX_SCRYPT_RP));
        if ((p->n & (p->n - 1)) != 0) {
            return kfmt("n", "must be a power of two");
        }
        if (128 * p->r * p->n > (1ull << 30)) {
            return kfmt("n", "and r need more than 1 GiB of memory");
        }
    } else if (strcmp(json_string_value(kdf), "pbkdf2") == 0) {
        p->kdf = SIGIL_ETH1_KDF_PBKDF2;
        SIGIL_GUARD(ks_uint(&p->c, kp, "c", 1, SIGIL_ETH1_MAX_PBKDF2_C));
        const json_t *prf = json_object_get(kp, "prf");
        if (!json_is_string(prf) || strcmp(json_string_value(prf), "hmac-sha256") != 0) {
            return kfmt("prf", "must be hmac-sha256");
        }
    } else {
        return kfmt("crypto.kdf", "must be scrypt or pbkdf2");
    }
    return sigil_ok();
}

/* scrypt (RFC 7914) for the parameter sets OpenSSL refuses: it enforces N < 2^(16 r), which
 * geth does not, and real keystores use n = 2^18 with r = 1. Salsa20/8 core and ROMix as in the
 * RFC; the big V array is ordinary heap (too large to lock) and is wiped before it is freed. */
#define ROTL32(a, b) (((a) << (b)) | ((a) >> (32 - (b))))

static void salsa20_8(uint32_t b[16])
{
    uint32_t x[16];
    memcpy(x, b, sizeof x);
    for (int i = 0; i < 8; i += 2) {
        x[4] ^= ROTL32(x[0] + x[12], 7);
        x[8] ^= ROTL32(x[4] + x[0], 9);
        x[12] ^= ROTL32(x[8] + x[4], 13);
        x[0] ^= ROTL32(x[12] + x[8], 18);
        x[9] ^= ROTL32(x[5] + x[1], 7);
        x[13] ^= ROTL32(x[9] + x[5], 9);
        x[1] ^= ROTL32(x[13] + x[9], 13);
        x[5] ^= ROTL32(x[1] + x[13], 18);
        x[14] ^= ROTL32(x[10] + x[6], 7);
        x[2] ^= ROTL32(x[14] + x[10], 9);
        x[6] ^= ROTL32(x[2] + x[14], 13);
        x[10] ^= ROTL32(x[6] + x[2], 18);
        x[3] ^= ROTL32(x[15] + x[11], 7);
        x[7] ^= ROTL32(x[3] + x[15], 9);
        x[11] ^= ROTL32(x[7] + x[3], 13);
        x[15] ^= ROTL32(x[11] + x[7], 18);
        x[1] ^= ROTL32(x[0] + x[3], 7);
        x[2] ^= ROTL32(x[1] + x[0], 9);
        x[3] ^= ROTL32(x[2] + x[1], 13);
        x[0] ^= ROTL32(x[3] + x[2], 18);
        x[6] ^= ROTL32(x[5] + x[4], 7);
        x[7] ^= ROTL32(x[6] + x[5], 9);
        x[4] ^= ROTL32(x[7] + x[6], 13);
        x[5] ^= ROTL32(x[4] + x[7], 18);
        x[11] ^= ROTL32(x[10] + x[9], 7);
        x[8] ^= ROTL32(x[11] + x[10], 9);
        x[9] ^= ROTL32(x[8] + x[11], 13);
        x[10] ^= ROTL32(x[9] + x[8], 18);
        x[12] ^= ROTL32(x[15] + x[14], 7);
        x[13] ^= ROTL32(x[12] + x[15], 9);
        x[14] ^= ROTL32(x[13] + x[12], 13);
        x[15] ^= ROTL32(x[14] + x[13], 18);
    }
    for (int i = 0; i < 16; i++) {
        b[i] += x[i];
    }
    sigil_wipe(x, sizeof x);
}

/* BlockMix over 2r 64-byte blocks in b (as words), using y as scratch of the same size. */
static void block_mix(uint32_t *b, uint32_t *y, size_t r)
{
    uint32_t x[16];
    memcpy(x, b + (2 * r - 1) * 16, 64);
    for (size_t i = 0; i < 2 * r; i++) {
        for (int k = 0; k < 16; k++) {
            x[k] ^= b[i * 16 + (size_t)k];
        }
        salsa20_8(x);
        /* even blocks go to the first half, odd to the second */
        memcpy(y + ((i / 2) + (i % 2) * r) * 16, x, 64);
    }
    memcpy(b, y, 128 * r);
    sigil_wipe(x, sizeof x);
}

static int scrypt_own(const char *pw, size_t pw_len, const uint8_t *salt, size_t salt_len, uint64_t n, uint64_t r,
                      uint64_t p, uint8_t *dk, size_t dk_len)
{
    size_t blen = (size_t)(128 * r * p);
    size_t words = (size_t)(32 * r);
    uint8_t *b = calloc(1, blen);
    uint32_t *x = calloc(1, 128 * r);
    uint32_t *y = calloc(1, 128 * r);
    uint32_t *v = calloc(1, (size_t)(128 * r * n));
    int ok = 0;
    if (b == NULL || x == NULL || y == NULL || v == NULL ||
        PKCS5_PBKDF2_HMAC(pw, (int)pw_len, salt, (int)salt_len, 1, EVP_sha256(), (int)blen, b) != 1) {
        goto out;
    }
    for (uint64_t i = 0; i < p; i++) {
        uint8_t *bi = b + 128 * r * i;
        for (size_t k = 0; k < words; k++) {
            x[k] = (uint32_t)bi[4 * k] | (uint32_t)bi[4 * k + 1] << 8 | (uint32_t)bi[4 * k + 2] << 16 |
                   (uint32_t)bi[4 * k + 3] << 24;
        }
        for (uint64_t j = 0; j < n; j++) {
            memcpy(v + j * words, x, 128 * r);
            block_mix(x, y, (size_t)r);
        }
        for (uint64_t j = 0; j < n; j++) {
            uint64_t idx = x[(2 * r - 1) * 16] & (n - 1);
            for (size_t k = 0; k < words; k++) {
                x[k] ^= v[idx * words + k];
            }
            block_mix(x, y, (size_t)r);
        }
        for (size_t k = 0; k < words; k++) {
            bi[4 * k] = (uint8_t)x[k];
            bi[4 * k + 1] = (uint8_t)(x[k] >> 8);
            bi[4 * k + 2] = (uint8_t)(x[k] >> 16);
            bi[4 * k + 3] = (uint8_t)(x[k] >> 24);
        }
    }
    ok = PKCS5_PBKDF2_HMAC(pw, (int)pw_len, b, (int)blen, 1, EVP_sha256(), (int)dk_len, dk) == 1;
out:
    if (v != NULL) {
        sigil_wipe(v, (size_t)(128 * r * n));
    }
    if (b != NULL) {
        sigil_wipe(b, blen);
    }
    if (x != NULL) {
        sigil_wipe(x, 128 * r);
    }
    if (y != NULL) {
        sigil_wipe(y, 128 * r);
    }
    free(v);
    free(b);
    free(x);
    free(y);
    return ok;
}

static sigil_result ks_derive(uint8_t dk[32], const struct ks_params *p, const char *pw, size_t pw_len)
{
    int ok;
    if (p->kdf == SIGIL_ETH1_KDF_SCRYPT && 16 * p->r < 64 && p->n >= (1ull << (16 * p->r))) {
        ok = scrypt_own(pw, pw_len, p->salt, p->salt_len, p->n, p->r, p->p, dk, 32);
    } else if (p->kdf == SIGIL_ETH1_KDF_SCRYPT) {
        uint64_t maxmem = 128 * p->r * p->n + 128 * p->r * p->p + (64u << 20);
        ok = EVP_PBE_scrypt(pw, pw_len, p->salt, p->salt_len, p->n, p->r, p->p, maxmem, dk, 32);
    } else {
        ok = PKCS5_PBKDF2_HMAC(pw, (int)pw_len, p->salt, (int)p->salt_len, (int)p->c, EVP_sha256(), 32, dk);
    }
    return ok == 1 ? sigil_ok() : sigil_errorf(SIGIL_ERR_CRYPTO, "keystore key derivation failed");
}

static sigil_result aes128ctr(uint8_t *out, const uint8_t *in, size_t len, const uint8_t key[16], const uint8_t iv[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l1 = 0;
    int l2 = 0;
    int ok = c != NULL && EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv) == 1 &&
             EVP_EncryptUpdate(c, out, &l1, in, (int)len) == 1 && EVP_EncryptFinal_ex(c, out + l1, &l2) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? sigil_ok() : sigil_errorf(SIGIL_ERR_CRYPTO, "aes-128-ctr failed");
}

sigil_result sigil_eth1_keystore_decrypt(sigil_secp256k1_sk **out, const char *json, size_t json_len,
                                         const char *password, size_t password_len)
{
    if (json_len > SIGIL_ETH1_KEYSTORE_MAX) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "keystore over %d bytes", SIGIL_ETH1_KEYSTORE_MAX);
    }
    json_t *root = NULL;
    sigil_result ret = sigil_json_parse(&root, json, json_len, SIGIL_ETH1_KEYSTORE_MAX);
    if (!sigil_is_ok(ret)) {
        return sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT, "keystore: not valid JSON");
    }
    struct ks_params p;
    memset(&p, 0, sizeof p);
    struct ks_scratch *s = sigil_secure_alloc(sizeof *s);
    SIGIL_ENSURE_GOTO(s != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(ks_parse(&p, root));
    SIGIL_GUARD_GOTO(ks_derive(s->dk, &p, password, password_len));
    memcpy(s->mac_in, s->dk + 16, 16);
    memcpy(s->mac_in + 16, p.cipher, 32);
    uint8_t mac[32];
    sigil_keccak256(mac, s->mac_in, sizeof s->mac_in);
    int eq = sigil_ct_memeq(mac, p.mac, 32);
    sigil_declassify(&eq, sizeof eq); /* the verdict is the public result */
    if (!eq) {
        ret = sigil_errorf(SIGIL_ERR_KEYSTORE_PASSWORD, "keystore: MAC mismatch (wrong password or corrupted file)");
        goto out;
    }
    SIGIL_GUARD_GOTO(aes128ctr(s->plain, p.cipher, 32, s->dk, p.iv));
    ret = sigil_secp256k1_sk_from_bytes(out, s->plain);
    if (!sigil_is_ok(ret)) {
        ret = sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT, "keystore: decrypted value is not a valid secp256k1 key");
        goto out;
    }
    /* An optional "address" member must name the decrypted key's account. */
    const json_t *addr_j = json_object_get(root, "address");
    if (addr_j != NULL) {
        uint8_t want[20];
        uint8_t got[20];
        const char *as = json_string_value(addr_j);
        if (as == NULL || !sigil_is_ok(sigil_hex_decode_exact(want, 20, as, strlen(as)))) {
            ret = sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT, "keystore: address is not 20 bytes of hex");
        } else if (!sigil_is_ok(ret = sigil_secp256k1_address(got, *out))) {
            /* ret carries the error */
        } else if (memcmp(want, got, 20) != 0) {
            ret = sigil_errorf(SIGIL_ERR_KEYSTORE_PUBKEY, "keystore: address does not match the decrypted key");
        }
        if (!sigil_is_ok(ret)) {
            sigil_secp256k1_sk_free(*out);
            *out = NULL;
        }
    }
out:
    sigil_secure_free(s);
    json_decref(root);
    return ret;
}

sigil_result sigil_eth1_keystore_create(char **out_json, size_t *out_len, const sigil_secp256k1_sk *sk,
                                        const char *password, size_t password_len,
                                        const struct sigil_eth1_keystore_params *params)
{
    struct ks_params p;
    memset(&p, 0, sizeof p);
    p.kdf = params != NULL ? params->kdf : SIGIL_ETH1_KDF_SCRYPT;
    uint32_t cost = params != NULL && params->cost != 0 ? params->cost : 262144u;
    if (p.kdf == SIGIL_ETH1_KDF_SCRYPT) {
        if (cost < 2 || cost > SIGIL_ETH1_MAX_SCRYPT_N || (cost & (cost - 1)) != 0) {
            return sigil_errorf(SIGIL_ERR_ARG, "scrypt n must be a power of two in [2, 2^20]");
        }
        p.n = cost;
        p.r = 8;
        p.p = 1;
    } else {
        if (cost > SIGIL_ETH1_MAX_PBKDF2_C) {
            return sigil_errorf(SIGIL_ERR_ARG, "pbkdf2 c out of range");
        }
        p.c = cost;
    }
    uint8_t uuid[16];
    p.salt_len = 32;
    if (!sigil_random_bytes(p.salt, 32) || !sigil_random_bytes(p.iv, 16) || !sigil_random_bytes(uuid, 16)) {
        return sigil_error(SIGIL_ERR_RNG);
    }
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
    uint8_t addr[20];
    SIGIL_GUARD(sigil_secp256k1_address(addr, sk));
    sigil_result ret;
    json_t *root = NULL;
    struct ks_scratch *s = sigil_secure_alloc(sizeof *s);
    SIGIL_ENSURE_GOTO(s != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(ks_derive(s->dk, &p, password, password_len));
    SIGIL_GUARD_GOTO(aes128ctr(p.cipher, sk->k, 32, s->dk, p.iv));
    memcpy(s->mac_in, s->dk + 16, 16);
    memcpy(s->mac_in + 16, p.cipher, 32);
    sigil_keccak256(p.mac, s->mac_in, sizeof s->mac_in);
    char hex[2 * 32 + 3];
    char uuid_s[37];
    char u[33];
    sigil_hex_encode(u, uuid, 16, 0);
    (void)snprintf(uuid_s, sizeof uuid_s, "%.8s-%.4s-%.4s-%.4s-%.12s", u, u + 8, u + 12, u + 16, u + 20);
    json_t *kp = p.kdf == SIGIL_ETH1_KDF_SCRYPT
                     ? json_pack("{s:i,s:I,s:I,s:I,s:s}", "dklen", 32, "n", (json_int_t)p.n, "r", (json_int_t)p.r, "p",
                                 (json_int_t)p.p, "salt", sigil_hex_encode(hex, p.salt, 32, 0))
                     : json_pack("{s:i,s:I,s:s,s:s}", "dklen", 32, "c", (json_int_t)p.c, "prf", "hmac-sha256", "salt",
                                 sigil_hex_encode(hex, p.salt, 32, 0));
    char iv_s[35];
    char ct_s[67];
    char mac_s[67];
    char addr_s[43];
    root = json_pack("{s:i,s:s,s:s,s:{s:s,s:{s:s},s:s,s:s,s:o,s:s}}", "version", 3, "id", uuid_s, "address",
                     sigil_hex_encode(addr_s, addr, 20, 0), "crypto", "cipher", "aes-128-ctr", "cipherparams", "iv",
                     sigil_hex_encode(iv_s, p.iv, 16, 0), "ciphertext", sigil_hex_encode(ct_s, p.cipher, 32, 0), "kdf",
                     p.kdf == SIGIL_ETH1_KDF_SCRYPT ? "scrypt" : "pbkdf2", "kdfparams", kp, "mac",
                     sigil_hex_encode(mac_s, p.mac, 32, 0));
    SIGIL_ENSURE_GOTO(root != NULL, SIGIL_ERR_NOMEM);
    *out_json = json_dumps(root, JSON_INDENT(2));
    SIGIL_ENSURE_GOTO(*out_json != NULL, SIGIL_ERR_NOMEM);
    *out_len = strlen(*out_json);
    ret = sigil_ok();
out:
    sigil_secure_free(s);
    json_decref(root);
    return ret;
}
