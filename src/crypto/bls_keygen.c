/* BLS KeyGen (the HKDF-mod-r construction of draft-irtf-cfrg-bls-signature-04/05 that EIP-2333
 * fixes) and the constant-time 384-bit -> mod r reduction it ends with. Lives outside the curve
 * translation unit because it needs only hashing and scalar arithmetic. */
#include <openssl/sha.h>
#include <string.h>

#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/eip2333.h"

/* r, the order of G1/G2, little-endian limbs. */
static const uint64_t R[4] = {0xffffffff00000001ull, 0x53bda402fffe5bfeull, 0x3339d80809a1d805ull,
                              0x73eda753299d7d48ull};

void sigil_bls_sk_from_okm48(sigil_bls_sk *out, const uint8_t okm[48])
{
    /* Binary long division, MSB first: acc = 2*acc + bit, then subtract r if acc >= r. acc < r
     * < 2^255 before each step, so 2*acc + 1 < 2^256 fits four limbs. Every iteration runs the
     * same instructions; the subtraction is kept or dropped with a mask. 384 iterations are
     * cheap next to the HKDF that produced okm. */
    uint64_t acc[4] = {0, 0, 0, 0};
    for (int i = 0; i < 384; i++) {
        uint64_t bit = (uint64_t)(okm[i / 8] >> (7 - i % 8)) & 1;
        acc[3] = (acc[3] << 1) | (acc[2] >> 63);
        acc[2] = (acc[2] << 1) | (acc[1] >> 63);
        acc[1] = (acc[1] << 1) | (acc[0] >> 63);
        acc[0] = (acc[0] << 1) | bit;

        uint64_t t[4], borrow = 0;
        for (int k = 0; k < 4; k++) {
            unsigned __int128 d = (unsigned __int128)acc[k] - R[k] - borrow;
            t[k] = (uint64_t)d;
            borrow = (uint64_t)(d >> 64) & 1;
        }
        uint64_t keep_t = borrow - 1; /* all ones when acc >= r (no borrow) */
        for (int k = 0; k < 4; k++) {
            acc[k] = (t[k] & keep_t) | (acc[k] & ~keep_t);
        }
        sigil_wipe(t, sizeof(t));
    }
    for (int k = 0; k < 4; k++) {
        out->l[k] = acc[k];
    }
    sigil_wipe(acc, sizeof(acc));
}

/* All KeyGen secrets in one place, wiped with one call. */
struct keygen_scratch {
    uint8_t salt[32];
    uint8_t prk[32];
    uint8_t okm[48];
    uint8_t prev[32];
};

sigil_result sigil_bls_keygen(sigil_bls_sk *out, const uint8_t *ikm, size_t ikm_len, const uint8_t *key_info,
                              size_t key_info_len)
{
    static const char salt0[] = "BLS-SIG-KEYGEN-SALT-";
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    struct keygen_scratch *s = NULL;
    uint8_t *ikm0 = NULL, *info = NULL;
    memset(out, 0, sizeof(*out));
    if (ikm == NULL || ikm_len < 32 || (key_info == NULL && key_info_len != 0) || key_info_len > 4096) {
        return sigil_errorf(SIGIL_ERR_ARG, "KeyGen needs at least 32 bytes of IKM and at most 4096 of key_info");
    }
    s = sigil_secure_alloc(sizeof(*s));
    ikm0 = sigil_secure_alloc(ikm_len + 1);      /* IKM || I2OSP(0, 1) */
    info = sigil_secure_alloc(key_info_len + 2); /* key_info || I2OSP(L, 2) */
    SIGIL_ENSURE_GOTO(s != NULL && ikm0 != NULL && info != NULL, SIGIL_ERR_NOMEM);
    memcpy(ikm0, ikm, ikm_len);
    ikm0[ikm_len] = 0;
    if (key_info_len > 0) {
        memcpy(info, key_info, key_info_len);
    }
    info[key_info_len] = 0;
    info[key_info_len + 1] = 48;

    /* salt = H(salt) happens before the first round too, so round one uses H("BLS-SIG-..."). */
    SIGIL_ENSURE_GOTO(SHA256((const uint8_t *)salt0, sizeof(salt0) - 1, s->salt) != NULL, SIGIL_ERR_CRYPTO);
    /* The loop repeats only when OKM mod r == 0 (probability 2^-255); the bound turns a
     * broken hash into an error instead of a hang. */
    for (int round = 0; round < 256; round++) {
        if (round > 0) {
            memcpy(s->prev, s->salt, sizeof(s->salt));
            SIGIL_ENSURE_GOTO(SHA256(s->prev, sizeof(s->prev), s->salt) != NULL, SIGIL_ERR_CRYPTO);
        }
        SIGIL_GUARD_GOTO(sigil_eip2333_hkdf_extract(s->prk, s->salt, sizeof(s->salt), ikm0, ikm_len + 1));
        SIGIL_GUARD_GOTO(sigil_eip2333_hkdf_expand(s->okm, sizeof(s->okm), s->prk, info, key_info_len + 2));
        sigil_bls_sk_from_okm48(out, s->okm);
        /* Only the one-bit "is zero" verdict is made public (it is the spec's loop condition and
         * is all but always false); the key itself stays secret. */
        uint64_t nz = out->l[0] | out->l[1] | out->l[2] | out->l[3];
        uint64_t nonzero = (nz | (0 - nz)) >> 63;
        sigil_declassify(&nonzero, sizeof(nonzero));
        if (nonzero) {
            ret = sigil_ok();
            goto out;
        }
    }
    ret = sigil_error(SIGIL_ERR_INTERNAL);
out:
    if (!sigil_is_ok(ret)) {
        sigil_wipe(out, sizeof(*out));
    }
    sigil_secure_free(s);
    sigil_secure_free(ikm0);
    sigil_secure_free(info);
    return ret;
}
