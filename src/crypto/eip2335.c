#include "crypto/eip2335.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <unistr.h>

#include "common/hex.h"
#include "common/json.h"
#include "common/secmem.h"
#include "crypto/bip39.h"
#include "crypto/eip2333.h"

#define DKLEN            32
#define SK_LEN           SIGIL_BLS_SK_LEN
#define IV_LEN           16
#define SALT_MAX         256
#define SCRYPT_R_DEFAULT 8
#define SCRYPT_P_DEFAULT 1
#define SCRYPT_MAX_MEM   (1ull << 30) /* 128 * n * r: the EIP default needs 256 MiB */
#define SCRYPT_MAX_WORK  (1ull << 24) /* n * r * p: 8x the EIP default */

/* Everything decrypt learns from the document before touching the password. */
struct ks_fields {
    enum sigil_eip2335_kdf kdf;
    uint64_t n, r, p, c;
    uint8_t salt[SALT_MAX];
    size_t salt_len;
    uint8_t checksum[32];
    uint8_t iv[IV_LEN];
    uint8_t cipher[SK_LEN];
};

/* Secrets of one create/decrypt, wiped together. */
struct ks_scratch {
    uint8_t dk[DKLEN];
    uint8_t sk_bytes[SK_LEN];
    uint8_t mac_input[DKLEN / 2 + SK_LEN];
    uint8_t mac[32];
};

sigil_result sigil_eip2335_normalize_password(char **out, size_t *out_len, const char *password, size_t password_len)
{
    char *s = NULL;
    size_t n = 0;
    *out = NULL;
    *out_len = 0;
    if (password == NULL && password_len != 0) {
        return sigil_error(SIGIL_ERR_ARG);
    }
    SIGIL_GUARD(sigil_bip39_nfkd(&s, &n, password_len ? password : "", password_len));
    /* Filter in place: output never gets ahead of input. */
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        ucs4_t cp;
        int k = u8_mbtouc(&cp, (const uint8_t *)s + i, n - i);
        if (k <= 0) {
            sigil_secure_free(s);
            return sigil_errorf(SIGIL_ERR_UNICODE, "password is not valid UTF-8");
        }
        bool control = cp <= 0x1f || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
        if (!control) {
            memmove(s + w, s + i, (size_t)k);
            w += (size_t)k;
        }
        i += (size_t)k;
    }
    sigil_wipe(s + w, n - w);
    s[w] = 0;
    *out = s;
    *out_len = w;
    return sigil_ok();
}

static sigil_result derive_key(uint8_t dk[DKLEN], const struct ks_fields *f, const char *pw, size_t pw_len)
{
    if (f->kdf == SIGIL_EIP2335_SCRYPT) {
        /* OpenSSL needs maxmem >= 128*r*(n+2) + 128*r*p; ask for exactly what the (already
         * bounded) parameters need so its default 32 MiB cap does not refuse the EIP's n. */
        uint64_t maxmem = 128 * f->r * (f->n + 2) + 128 * f->r * f->p + 4096;
        if (EVP_PBE_scrypt(pw, pw_len, f->salt, f->salt_len, f->n, f->r, f->p, maxmem, dk, DKLEN) != 1) {
            return sigil_errorf(SIGIL_ERR_CRYPTO, "scrypt failed (out of memory?)");
        }
        return sigil_ok();
    }
    if (PKCS5_PBKDF2_HMAC(pw_len ? pw : "", (int)pw_len, f->salt, (int)f->salt_len, (int)f->c, EVP_sha256(), DKLEN,
                          dk) != 1) {
        return sigil_error(SIGIL_ERR_CRYPTO);
    }
    return sigil_ok();
}

/* checksum = SHA256(dk[16:32] || cipher_message) */
static void checksum(struct ks_scratch *s, const uint8_t cipher[SK_LEN])
{
    memcpy(s->mac_input, s->dk + DKLEN / 2, DKLEN / 2);
    memcpy(s->mac_input + DKLEN / 2, cipher, SK_LEN);
    SHA256(s->mac_input, sizeof(s->mac_input), s->mac);
}

/* AES-128-CTR is its own inverse. */
static sigil_result aes128ctr(uint8_t *out, const uint8_t *in, size_t len, const uint8_t key[16],
                              const uint8_t iv[IV_LEN])
{
    sigil_result ret = sigil_error(SIGIL_ERR_CRYPTO);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, fin = 0;
    SIGIL_ENSURE_GOTO(ctx != NULL, SIGIL_ERR_NOMEM);
    SIGIL_ENSURE_GOTO(EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, key, iv) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_EncryptUpdate(ctx, out, &outl, in, (int)len) == 1, SIGIL_ERR_CRYPTO);
    SIGIL_ENSURE_GOTO(EVP_EncryptFinal_ex(ctx, out + outl, &fin) == 1 && (size_t)outl + (size_t)fin == len,
                      SIGIL_ERR_CRYPTO);
    ret = sigil_ok();
out:
    EVP_CIPHER_CTX_free(ctx); /* clears the key schedule */
    return ret;
}

static void sk_to_be32(uint8_t out[32], const sigil_bls_sk *sk)
{
    for (int i = 0; i < 32; i++) {
        out[31 - i] = (uint8_t)(sk->l[i / 8] >> (8 * (i % 8)));
    }
}

/* ---- decrypt: schema ---- */

static sigil_result fmt(const char *what, const char *field)
{
    return sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT, "keystore field '%s' %s", field, what);
}

static sigil_result ks_member(json_t **out, const json_t *obj, const char *key, const char *field)
{
    *out = json_object_get(obj, key);
    if (*out == NULL) {
        return fmt("is missing", field);
    }
    return sigil_ok();
}

static sigil_result ks_object(json_t **out, const json_t *obj, const char *key, const char *field)
{
    SIGIL_GUARD(ks_member(out, obj, key, field));
    return json_is_object(*out) ? sigil_ok() : fmt("must be an object", field);
}

static sigil_result ks_string(const char **out, const json_t *obj, const char *key, const char *field)
{
    json_t *v;
    SIGIL_GUARD(ks_member(&v, obj, key, field));
    if (!json_is_string(v)) {
        return fmt("must be a string", field);
    }
    *out = json_string_value(v);
    return sigil_ok();
}

static sigil_result ks_uint(uint64_t *out, const json_t *obj, const char *key, const char *field, uint64_t min,
                            uint64_t max)
{
    json_t *v;
    SIGIL_GUARD(ks_member(&v, obj, key, field));
    if (!json_is_integer(v)) {
        return fmt("must be an integer", field);
    }
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t)x < min || (uint64_t)x > max) {
        return sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT, "keystore field '%s' is out of range [%llu, %llu]", field,
                            (unsigned long long)min, (unsigned long long)max);
    }
    *out = (uint64_t)x;
    return sigil_ok();
}

/* A hex string member of exactly n bytes, or (n == 0) of 1..cap bytes. */
static sigil_result ks_hex(uint8_t *out, size_t n, size_t cap, size_t *got, const json_t *obj, const char *key,
                           const char *field)
{
    const char *s;
    SIGIL_GUARD(ks_string(&s, obj, key, field));
    size_t len = 0;
    sigil_result r = n ? sigil_hex_decode_exact(out, n, s, strlen(s)) : sigil_hex_decode(out, cap, &len, s, strlen(s));
    if (!sigil_is_ok(r)) {
        if (n) {
            return sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT, "keystore field '%s' must be %zu bytes of hex", field, n);
        }
        return sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT, "keystore field '%s' must be at most %zu bytes of hex", field,
                            cap);
    }
    if (!n && len == 0) {
        return fmt("must not be empty", field);
    }
    if (got != NULL) {
        *got = n ? n : len;
    }
    return sigil_ok();
}

static sigil_result parse_kdf(struct ks_fields *f, const json_t *crypto)
{
    json_t *kdf, *params;
    const char *fn, *msg;
    uint64_t dklen;
    SIGIL_GUARD(ks_object(&kdf, crypto, "kdf", "crypto.kdf"));
    SIGIL_GUARD(ks_string(&fn, kdf, "function", "crypto.kdf.function"));
    SIGIL_GUARD(ks_object(&params, kdf, "params", "crypto.kdf.params"));
    SIGIL_GUARD(ks_string(&msg, kdf, "message", "crypto.kdf.message"));
    SIGIL_GUARD(ks_uint(&dklen, params, "dklen", "crypto.kdf.params.dklen", DKLEN, DKLEN));
    SIGIL_GUARD(ks_hex(f->salt, 0, SALT_MAX, &f->salt_len, params, "salt", "crypto.kdf.params.salt"));
    if (strcmp(fn, "scrypt") == 0) {
        f->kdf = SIGIL_EIP2335_SCRYPT;
        SIGIL_GUARD(ks_uint(&f->n, params, "n", "crypto.kdf.params.n", 2, SIGIL_EIP2335_MAX_SCRYPT_N));
        SIGIL_GUARD(ks_uint(&f->r, params, "r", "crypto.kdf.params.r", 1, 32));
        SIGIL_GUARD(ks_uint(&f->p, params, "p", "crypto.kdf.params.p", 1, 16));
        if ((f->n & (f->n - 1)) != 0) {
            return fmt("must be a power of two", "crypto.kdf.params.n");
        }
        if (128 * f->n * f->r > SCRYPT_MAX_MEM || f->n * f->r * f->p > SCRYPT_MAX_WORK) {
            return sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT,
                                "keystore scrypt parameters n, r, p need more than the 1 GiB / 2^24 work we allow");
        }
    } else if (strcmp(fn, "pbkdf2") == 0) {
        const char *prf;
        f->kdf = SIGIL_EIP2335_PBKDF2;
        SIGIL_GUARD(ks_uint(&f->c, params, "c", "crypto.kdf.params.c", 1, SIGIL_EIP2335_MAX_PBKDF2_C));
        SIGIL_GUARD(ks_string(&prf, params, "prf", "crypto.kdf.params.prf"));
        if (strcmp(prf, "hmac-sha256") != 0) {
            return fmt("must be \"hmac-sha256\"", "crypto.kdf.params.prf");
        }
    } else {
        return fmt("names an unsupported KDF (scrypt or pbkdf2 expected)", "crypto.kdf.function");
    }
    return sigil_ok();
}

static sigil_result parse_fields(struct ks_fields *f, struct sigil_eip2335_info *info, const json_t *root)
{
    json_t *crypto, *obj, *params, *v;
    const char *s;
    uint64_t version;
    if (!json_is_object(root)) {
        return sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT, "keystore must be a JSON object");
    }
    SIGIL_GUARD(ks_uint(&version, root, "version", "version", 4, 4));
    SIGIL_GUARD(ks_object(&crypto, root, "crypto", "crypto"));
    SIGIL_GUARD(parse_kdf(f, crypto));

    SIGIL_GUARD(ks_object(&obj, crypto, "checksum", "crypto.checksum"));
    SIGIL_GUARD(ks_string(&s, obj, "function", "crypto.checksum.function"));
    if (strcmp(s, "sha256") != 0) {
        return fmt("names an unsupported checksum (sha256 expected)", "crypto.checksum.function");
    }
    SIGIL_GUARD(ks_object(&params, obj, "params", "crypto.checksum.params"));
    SIGIL_GUARD(ks_hex(f->checksum, 32, 0, NULL, obj, "message", "crypto.checksum.message"));

    SIGIL_GUARD(ks_object(&obj, crypto, "cipher", "crypto.cipher"));
    SIGIL_GUARD(ks_string(&s, obj, "function", "crypto.cipher.function"));
    if (strcmp(s, "aes-128-ctr") != 0) {
        return fmt("names an unsupported cipher (aes-128-ctr expected)", "crypto.cipher.function");
    }
    SIGIL_GUARD(ks_object(&params, obj, "params", "crypto.cipher.params"));
    SIGIL_GUARD(ks_hex(f->iv, IV_LEN, 0, NULL, params, "iv", "crypto.cipher.params.iv"));
    SIGIL_GUARD(ks_hex(f->cipher, SK_LEN, 0, NULL, obj, "message", "crypto.cipher.message"));

    SIGIL_GUARD(ks_string(&s, root, "uuid", "uuid"));
    if (strlen(s) >= sizeof(info->uuid)) {
        return fmt("is too long", "uuid");
    }
    snprintf(info->uuid, sizeof(info->uuid), "%s", s);
    SIGIL_GUARD(ks_string(&s, root, "path", "path"));
    if (strlen(s) >= sizeof(info->path)) {
        return fmt("is too long", "path");
    }
    snprintf(info->path, sizeof(info->path), "%s", s);
    /* pubkey is optional in the EIP; when present it must be a real 48-byte key. */
    info->has_pubkey = false;
    v = json_object_get(root, "pubkey");
    if (v != NULL && !(json_is_string(v) && json_string_length(v) == 0)) {
        SIGIL_GUARD(ks_hex(info->pubkey, SIGIL_BLS_PK_LEN, 0, NULL, root, "pubkey", "pubkey"));
        info->has_pubkey = true;
    }
    v = json_object_get(root, "description");
    if (v != NULL && !json_is_string(v)) {
        return fmt("must be a string", "description");
    }
    return sigil_ok();
}

sigil_result sigil_eip2335_decrypt(sigil_bls_sk **out, struct sigil_eip2335_info *info_out, const char *json,
                                   size_t json_len, const char *password, size_t password_len)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    json_t *root = NULL;
    struct ks_fields f;
    struct sigil_eip2335_info info;
    struct ks_scratch *s = NULL;
    sigil_bls_sk *sk = NULL;
    char *pw = NULL;
    size_t pw_len = 0;
    memset(&f, 0, sizeof(f));
    memset(&info, 0, sizeof(info));
    *out = NULL;
    SIGIL_ENSURE_GOTO(json != NULL && (password != NULL || password_len == 0), SIGIL_ERR_ARG);
    if (json_len > SIGIL_EIP2335_MAX_JSON) {
        ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "keystore is %zu bytes, at most %d allowed", json_len,
                           SIGIL_EIP2335_MAX_JSON);
        goto out;
    }
    ret = sigil_json_parse(&root, json, json_len, SIGIL_EIP2335_MAX_JSON);
    if (!sigil_is_ok(ret)) {
        ret = sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT, "keystore is not valid JSON: %s", sigil_error_detail());
        goto out;
    }
    SIGIL_GUARD_GOTO(parse_fields(&f, &info, root));

    s = sigil_secure_alloc(sizeof(*s));
    sk = sigil_secure_alloc(sizeof(*sk));
    SIGIL_ENSURE_GOTO(s != NULL && sk != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(sigil_eip2335_normalize_password(&pw, &pw_len, password, password_len));
    SIGIL_GUARD_GOTO(derive_key(s->dk, &f, pw, pw_len));
    checksum(s, f.cipher);
    if (!sigil_ct_memeq(s->mac, f.checksum, sizeof(s->mac))) {
        ret = sigil_errorf(SIGIL_ERR_KEYSTORE_PASSWORD, "keystore checksum mismatch: wrong password or corrupted file");
        goto out;
    }
    SIGIL_GUARD_GOTO(aes128ctr(s->sk_bytes, f.cipher, SK_LEN, s->dk, f.iv));
    if (!sigil_is_ok(sigil_bls_sk_from_bytes(sk, s->sk_bytes))) {
        ret = sigil_errorf(SIGIL_ERR_KEYSTORE_FORMAT, "keystore secret is not a valid BLS12-381 secret key");
        goto out;
    }
    if (info.has_pubkey) {
        sigil_bls_pk pk;
        uint8_t pk_bytes[SIGIL_BLS_PK_LEN];
        sigil_bls_sk_to_pk(&pk, sk);
        sigil_bls_pk_compress(pk_bytes, &pk);
        if (memcmp(pk_bytes, info.pubkey, sizeof(pk_bytes)) != 0) {
            ret = sigil_errorf(SIGIL_ERR_KEYSTORE_PUBKEY, "decrypted key does not match the keystore's pubkey");
            goto out;
        }
    }
    if (info_out != NULL) {
        *info_out = info;
    }
    *out = sk;
    sk = NULL;
    ret = sigil_ok();
out:
    json_decref(root);
    sigil_secure_free(pw);
    sigil_secure_free(s);
    sigil_secure_free(sk);
    return ret;
}

/* ---- create ---- */

static void uuid4(char out[37], const uint8_t rnd[16])
{
    uint8_t b[16];
    memcpy(b, rnd, 16);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char hex[35];
    sigil_hex_encode(hex, b, 16, 0);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char buf[2 * SALT_MAX + 3];
    return json_string(sigil_hex_encode(buf, b, n, 0));
}

sigil_result sigil_eip2335_create(char **out_json, size_t *out_len, const sigil_bls_sk *sk, const char *password,
                                  size_t password_len, const char *path, const struct sigil_eip2335_params *params)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    struct ks_scratch *s = NULL;
    struct ks_fields f;
    char *pw = NULL;
    size_t pw_len = 0;
    json_t *root = NULL;
    uint8_t cipher[SK_LEN], rnd[16];
    char uuid[37];
    memset(&f, 0, sizeof(f));
    *out_json = NULL;
    *out_len = 0;
    SIGIL_ENSURE_GOTO(sk != NULL && (password != NULL || password_len == 0), SIGIL_ERR_ARG);
    const struct sigil_eip2335_params defaults = {SIGIL_EIP2335_SCRYPT, 0, NULL};
    const struct sigil_eip2335_params *prm = params != NULL ? params : &defaults;
    uint32_t cost = prm->cost ? prm->cost : SIGIL_EIP2335_DEFAULT_COST;
    path = path != NULL ? path : "";
    if (path[0] != '\0') {
        uint32_t idx[SIGIL_EIP2333_MAX_DEPTH];
        size_t depth;
        ret = sigil_eip2333_path_parse(idx, &depth, path, false);
        if (!sigil_is_ok(ret) || strlen(path) >= sizeof(((struct sigil_eip2335_info *)0)->path)) {
            ret = sigil_errorf(SIGIL_ERR_ARG, "keystore path is not a valid EIP-2333 path");
            goto out;
        }
    }
    f.kdf = prm->kdf;
    if (prm->kdf == SIGIL_EIP2335_SCRYPT) {
        if (cost < 2 || cost > SIGIL_EIP2335_MAX_SCRYPT_N || (cost & (cost - 1)) != 0) {
            ret = sigil_errorf(SIGIL_ERR_ARG, "scrypt n must be a power of two in [2, 2^20]");
            goto out;
        }
        f.n = cost;
        f.r = SCRYPT_R_DEFAULT;
        f.p = SCRYPT_P_DEFAULT;
    } else if (prm->kdf == SIGIL_EIP2335_PBKDF2) {
        if (cost > SIGIL_EIP2335_MAX_PBKDF2_C) {
            ret = sigil_errorf(SIGIL_ERR_ARG, "pbkdf2 c must be in [1, 10^7]");
            goto out;
        }
        f.c = cost;
    } else {
        ret = sigil_errorf(SIGIL_ERR_ARG, "unknown keystore KDF");
        goto out;
    }
    f.salt_len = 32;
    SIGIL_ENSURE_GOTO(sigil_random_bytes(f.salt, f.salt_len), SIGIL_ERR_RNG);
    SIGIL_ENSURE_GOTO(sigil_random_bytes(f.iv, IV_LEN), SIGIL_ERR_RNG);
    SIGIL_ENSURE_GOTO(sigil_random_bytes(rnd, sizeof(rnd)), SIGIL_ERR_RNG);
    uuid4(uuid, rnd);

    s = sigil_secure_alloc(sizeof(*s));
    SIGIL_ENSURE_GOTO(s != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(sigil_eip2335_normalize_password(&pw, &pw_len, password, password_len));
    SIGIL_GUARD_GOTO(derive_key(s->dk, &f, pw, pw_len));
    sk_to_be32(s->sk_bytes, sk);
    SIGIL_GUARD_GOTO(aes128ctr(cipher, s->sk_bytes, SK_LEN, s->dk, f.iv));
    checksum(s, cipher);
    /* Declassify: the ciphertext and checksum are what the keystore publishes. */
    sigil_declassify(cipher, SK_LEN);
    sigil_declassify(s->mac, 32);

    sigil_bls_pk pk;
    uint8_t pk_bytes[SIGIL_BLS_PK_LEN];
    sigil_bls_sk_to_pk(&pk, sk);
    sigil_declassify(&pk, sizeof(pk)); /* a public key is public */
    sigil_bls_pk_compress(pk_bytes, &pk);

    json_t *kdf_params = f.kdf == SIGIL_EIP2335_SCRYPT
                             ? json_pack("{s:i, s:I, s:i, s:i, s:o}", "dklen", DKLEN, "n", (json_int_t)f.n, "r",
                                         (int)f.r, "p", (int)f.p, "salt", hex_json(f.salt, f.salt_len))
                             : json_pack("{s:i, s:I, s:s, s:o}", "dklen", DKLEN, "c", (json_int_t)f.c, "prf",
                                         "hmac-sha256", "salt", hex_json(f.salt, f.salt_len));
    root = json_pack("{s:{s:{s:s, s:o, s:s}, s:{s:s, s:{}, s:o}, s:{s:s, s:{s:o}, s:o}}, s:s, s:o, s:s, s:s, s:i}",
                     "crypto",                                                                    /* */
                     "kdf", "function", f.kdf == SIGIL_EIP2335_SCRYPT ? "scrypt" : "pbkdf2",      /* */
                     "params", kdf_params, "message", "",                                         /* */
                     "checksum", "function", "sha256", "params", "message", hex_json(s->mac, 32), /* */
                     "cipher", "function", "aes-128-ctr", "params", "iv", hex_json(f.iv, IV_LEN), /* */
                     "message", hex_json(cipher, SK_LEN),                                         /* */
                     "description", prm->description ? prm->description : "",                     /* */
                     "pubkey", hex_json(pk_bytes, sizeof(pk_bytes)),                              /* */
                     "path", path, "uuid", uuid, "version", 4);
    SIGIL_ENSURE_GOTO(root != NULL, SIGIL_ERR_NOMEM);
    char *text = json_dumps(root, JSON_INDENT(4));
    SIGIL_ENSURE_GOTO(text != NULL, SIGIL_ERR_NOMEM);
    *out_json = text;
    *out_len = strlen(text);
    ret = sigil_ok();
out:
    json_decref(root);
    sigil_secure_free(pw);
    sigil_secure_free(s);
    sigil_wipe(rnd, sizeof(rnd));
    return ret;
}
