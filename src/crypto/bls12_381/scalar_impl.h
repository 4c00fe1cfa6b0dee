/* Secret keys: 32-byte big-endian scalars in [1, r-1], held as 4 little-endian limbs. */

/* 1 when k < r, by the borrow of k - r (no branch). */
static limb_t scalar_lt_r(const limb_t k[4])
{
    limb_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        unsigned __int128 d = (unsigned __int128)k[i] - BLS_R[i] - borrow;
        borrow = (limb_t)(d >> 64) & 1;
    }
    return borrow;
}

static limb_t scalar_is_zero(const limb_t k[4])
{
    limb_t acc = k[0] | k[1] | k[2] | k[3];
    return ((acc | ((limb_t)0 - acc)) >> 63) ^ 1;
}

SIGIL_RESULT sigil_bls_sk_from_bytes(sigil_bls_sk *out, const uint8_t in[SIGIL_BLS_SK_LEN])
{
    for (int i = 0; i < 4; i++) {
        limb_t w = 0;
        for (int j = 0; j < 8; j++) {
            w = (w << 8) | in[(3 - i) * 8 + j];
        }
        out->l[i] = w;
    }
    /* Both tests run in full; only their combined verdict (public: the key is rejected) is
     * branched on. */
    limb_t valid = scalar_lt_r(out->l) & (scalar_is_zero(out->l) ^ 1);
    /* Declassify: a key outside [1, r-1] is refused with an error, which publishes this bit. */
    sigil_declassify(&valid, sizeof(valid));
    if (!valid) {
        sigil_wipe(out, sizeof(*out));
        return sigil_error(SIGIL_ERR_BLS_SCALAR);
    }
    return sigil_ok();
}

void sigil_bls_sk_to_bytes(uint8_t out[SIGIL_BLS_SK_LEN], const sigil_bls_sk *sk)
{
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 8; j++) {
            out[(3 - i) * 8 + j] = (uint8_t)(sk->l[i] >> (56 - 8 * j));
        }
    }
}

int sigil_bls_sk_is_zero(const sigil_bls_sk *sk) { return (int)scalar_is_zero(sk->l); }
