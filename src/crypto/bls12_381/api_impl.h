/* The exported functions of crypto/bls.h (except verification, in verify_impl.h, and KeyGen,
 * in crypto/bls_keygen.c). Public value types and the internal affine types share one layout,
 * so conversion is a memcpy. */
#include <stddef.h>

_Static_assert(sizeof(g1a) == sizeof(sigil_bls_g1), "g1a and sigil_bls_g1 must share a layout");
_Static_assert(offsetof(g1a, y) == offsetof(sigil_bls_g1, y), "g1a.y layout");
_Static_assert(offsetof(g1a, inf) == offsetof(sigil_bls_g1, infinity), "g1a.inf layout");
_Static_assert(sizeof(g2a) == sizeof(sigil_bls_g2), "g2a and sigil_bls_g2 must share a layout");
_Static_assert(offsetof(g2a, x.c1) == offsetof(sigil_bls_g2, x[1]), "g2a.x.c1 layout");
_Static_assert(offsetof(g2a, y) == offsetof(sigil_bls_g2, y), "g2a.y layout");
_Static_assert(offsetof(g2a, inf) == offsetof(sigil_bls_g2, infinity), "g2a.inf layout");

static inline void g1a_from_pub(g1a *r, const sigil_bls_g1 *p) { memcpy(r, p, sizeof(*r)); }
static inline void g1a_to_pub(sigil_bls_g1 *r, const g1a *p) { memcpy(r, p, sizeof(*r)); }
static inline void g2a_from_pub(g2a *r, const sigil_bls_g2 *p) { memcpy(r, p, sizeof(*r)); }
static inline void g2a_to_pub(sigil_bls_g2 *r, const g2a *p) { memcpy(r, p, sizeof(*r)); }

void sigil_bls_sk_to_pk(sigil_bls_pk *out, const sigil_bls_sk *sk)
{
    g1p g, p;
    g1a a;
    g1_from_affine(&g, &G1_GENERATOR);
    g1_mul_ct(&p, &g, sk->l);
    g1_to_affine(&a, &p);
    g1a_to_pub(out, &a);
}

static void sign_with_dst(sigil_bls_sig *out, const sigil_bls_sk *sk, const uint8_t *msg, size_t msg_len,
                          const char *dst)
{
    g2p h, s;
    g2a a;
    hash_to_g2(&h, msg, msg_len, (const uint8_t *)dst, strlen(dst));
    g2_mul_ct(&s, &h, sk->l);
    g2_to_affine(&a, &s);
    g2a_to_pub(out, &a);
}

void sigil_bls_sign(sigil_bls_sig *out, const sigil_bls_sk *sk, const uint8_t *msg, size_t msg_len)
{
    sign_with_dst(out, sk, msg, msg_len, SIGIL_BLS_DST_SIG);
}

_Static_assert(sizeof(g2p) == sizeof(sigil_bls_msg_point), "g2p and sigil_bls_msg_point must share a layout");

void sigil_bls_hash_msg(sigil_bls_msg_point *out, const uint8_t *msg, size_t msg_len)
{
    g2p h;
    hash_to_g2(&h, msg, msg_len, (const uint8_t *)SIGIL_BLS_DST_SIG, strlen(SIGIL_BLS_DST_SIG));
    memcpy(out, &h, sizeof(h));
}

void sigil_bls_sign_hashed(sigil_bls_sig *out, const sigil_bls_sk *sk, const sigil_bls_msg_point *h)
{
    g2p p, s;
    g2a a;
    memcpy(&p, h, sizeof(p));
    g2_mul_ct(&s, &p, sk->l);
    g2_to_affine(&a, &s);
    g2a_to_pub(out, &a);
}

void sigil_bls_pop_prove(sigil_bls_sig *out, const sigil_bls_sk *sk)
{
    sigil_bls_pk pk;
    uint8_t enc[SIGIL_BLS_PK_LEN];
    sigil_bls_sk_to_pk(&pk, sk);
    /* Declassify: the public key is public; compressing and hashing it may branch on it. */
    sigil_declassify(&pk, sizeof(pk));
    sigil_bls_pk_compress(enc, &pk);
    sign_with_dst(out, sk, enc, sizeof(enc), SIGIL_BLS_DST_POP);
}

/* ---- serialization ---- */

void sigil_bls_pk_compress(uint8_t out[SIGIL_BLS_PK_LEN], const sigil_bls_pk *pk)
{
    g1a a;
    g1a_from_pub(&a, pk);
    g1a_compress(out, &a);
}

void sigil_bls_pk_serialize(uint8_t out[SIGIL_BLS_PK_RAW_LEN], const sigil_bls_pk *pk)
{
    g1a a;
    g1a_from_pub(&a, pk);
    g1a_serialize(out, &a);
}

void sigil_bls_sig_compress(uint8_t out[SIGIL_BLS_SIG_LEN], const sigil_bls_sig *sig)
{
    g2a a;
    g2a_from_pub(&a, sig);
    g2a_compress(out, &a);
}

void sigil_bls_sig_serialize(uint8_t out[SIGIL_BLS_SIG_RAW_LEN], const sigil_bls_sig *sig)
{
    g2a a;
    g2a_from_pub(&a, sig);
    g2a_serialize(out, &a);
}

/* KeyValidate (IETF BLS draft 2.5): a public key is a non-identity point of G1. */
static SIGIL_RESULT pk_validate(sigil_bls_pk *out, const g1a *a)
{
    SIGIL_ENSURE(!a->inf, SIGIL_ERR_BLS_INFINITY);
    SIGIL_ENSURE(g1a_in_subgroup_var(a), SIGIL_ERR_BLS_NOT_IN_SUBGROUP);
    g1a_to_pub(out, a);
    return sigil_ok();
}

static SIGIL_RESULT sig_validate(sigil_bls_sig *out, const g2a *a)
{
    SIGIL_ENSURE(g2a_in_subgroup_var(a), SIGIL_ERR_BLS_NOT_IN_SUBGROUP);
    g2a_to_pub(out, a);
    return sigil_ok();
}

SIGIL_RESULT sigil_bls_pk_decompress(sigil_bls_pk *out, const uint8_t in[SIGIL_BLS_PK_LEN])
{
    g1a a;
    SIGIL_GUARD(g1a_decompress(&a, in));
    return pk_validate(out, &a);
}

SIGIL_RESULT sigil_bls_pk_deserialize(sigil_bls_pk *out, const uint8_t in[SIGIL_BLS_PK_RAW_LEN])
{
    g1a a;
    SIGIL_GUARD(g1a_deserialize(&a, in));
    return pk_validate(out, &a);
}

SIGIL_RESULT sigil_bls_sig_decompress(sigil_bls_sig *out, const uint8_t in[SIGIL_BLS_SIG_LEN])
{
    g2a a;
    SIGIL_GUARD(g2a_decompress(&a, in));
    return sig_validate(out, &a);
}

SIGIL_RESULT sigil_bls_sig_deserialize(sigil_bls_sig *out, const uint8_t in[SIGIL_BLS_SIG_RAW_LEN])
{
    g2a a;
    SIGIL_GUARD(g2a_deserialize(&a, in));
    return sig_validate(out, &a);
}

SIGIL_RESULT sigil_bls_g1_decompress_unchecked(sigil_bls_g1 *out, const uint8_t in[SIGIL_BLS_PK_LEN])
{
    g1a a;
    SIGIL_GUARD(g1a_decompress(&a, in));
    g1a_to_pub(out, &a);
    return sigil_ok();
}

SIGIL_RESULT sigil_bls_g2_decompress_unchecked(sigil_bls_g2 *out, const uint8_t in[SIGIL_BLS_SIG_LEN])
{
    g2a a;
    SIGIL_GUARD(g2a_decompress(&a, in));
    g2a_to_pub(out, &a);
    return sigil_ok();
}

bool sigil_bls_g1_in_subgroup_var(const sigil_bls_g1 *p)
{
    g1a a;
    g1a_from_pub(&a, p);
    return g1a_on_curve_var(&a) && g1a_in_subgroup_var(&a);
}

bool sigil_bls_g2_in_subgroup_var(const sigil_bls_g2 *p)
{
    g2a a;
    g2a_from_pub(&a, p);
    return g2a_on_curve_var(&a) && g2a_in_subgroup_var(&a);
}

bool sigil_bls_g1_eq(const sigil_bls_g1 *a, const sigil_bls_g1 *b)
{
    g1a x, y;
    g1a_from_pub(&x, a);
    g1a_from_pub(&y, b);
    if (x.inf || y.inf) {
        return x.inf && y.inf;
    }
    return (fp_eq(&x.x, &y.x) & fp_eq(&x.y, &y.y)) != 0;
}

bool sigil_bls_g2_eq(const sigil_bls_g2 *a, const sigil_bls_g2 *b)
{
    g2a x, y;
    g2a_from_pub(&x, a);
    g2a_from_pub(&y, b);
    if (x.inf || y.inf) {
        return x.inf && y.inf;
    }
    return (fp2_eq(&x.x, &y.x) & fp2_eq(&x.y, &y.y)) != 0;
}

/* ---- aggregation (public inputs) ---- */

SIGIL_RESULT sigil_bls_aggregate_sigs(sigil_bls_sig *out, const sigil_bls_sig *sigs, size_t n)
{
    SIGIL_ENSURE(n > 0, SIGIL_ERR_BLS_EMPTY);
    g2p acc, t;
    g2a a;
    g2_set_inf(&acc);
    for (size_t i = 0; i < n; i++) {
        g2a_from_pub(&a, &sigs[i]);
        g2_from_affine(&t, &a);
        g2_add(&acc, &acc, &t);
    }
    g2_to_affine(&a, &acc);
    g2a_to_pub(out, &a);
    return sigil_ok();
}

SIGIL_RESULT sigil_bls_aggregate_pks(sigil_bls_pk *out, const sigil_bls_pk *pks, size_t n)
{
    SIGIL_ENSURE(n > 0, SIGIL_ERR_BLS_EMPTY);
    g1p acc, t;
    g1a a;
    g1_set_inf(&acc);
    for (size_t i = 0; i < n; i++) {
        g1a_from_pub(&a, &pks[i]);
        g1_from_affine(&t, &a);
        g1_add(&acc, &acc, &t);
    }
    g1_to_affine(&a, &acc);
    g1a_to_pub(out, &a);
    return sigil_ok();
}

/* ---- hashing ---- */

bool sigil_bls_expand_message_xmd(uint8_t *out, size_t len, const uint8_t *msg, size_t msg_len, const uint8_t *dst,
                                  size_t dst_len)
{
    return expand_message_xmd(out, len, msg, msg_len, dst, dst_len);
}

void sigil_bls_hash_to_g2(sigil_bls_g2 *out, const uint8_t *msg, size_t msg_len, const uint8_t *dst, size_t dst_len)
{
    g2p p;
    g2a a;
    hash_to_g2(&p, msg, msg_len, dst, dst_len);
    g2_to_affine(&a, &p);
    g2a_to_pub(out, &a);
}

void sigil_bls_encode_to_g2(sigil_bls_g2 *out, const uint8_t *msg, size_t msg_len, const uint8_t *dst, size_t dst_len)
{
    g2p p;
    g2a a;
    encode_to_g2(&p, msg, msg_len, dst, dst_len);
    g2_to_affine(&a, &p);
    g2a_to_pub(out, &a);
}

void sigil_bls_hash_to_g1(sigil_bls_g1 *out, const uint8_t *msg, size_t msg_len, const uint8_t *dst, size_t dst_len)
{
    g1p p;
    g1a a;
    hash_to_g1(&p, msg, msg_len, dst, dst_len);
    g1_to_affine(&a, &p);
    g1a_to_pub(out, &a);
}

void sigil_bls_g1_coords(uint8_t x[48], uint8_t y[48], const sigil_bls_g1 *p)
{
    g1a a;
    g1a_from_pub(&a, p);
    fp_to_bytes_be(x, &a.x);
    fp_to_bytes_be(y, &a.y);
}

void sigil_bls_g2_coords(uint8_t x0[48], uint8_t x1[48], uint8_t y0[48], uint8_t y1[48], const sigil_bls_g2 *p)
{
    g2a a;
    g2a_from_pub(&a, p);
    fp_to_bytes_be(x0, &a.x.c0);
    fp_to_bytes_be(x1, &a.x.c1);
    fp_to_bytes_be(y0, &a.y.c0);
    fp_to_bytes_be(y1, &a.y.c1);
}
