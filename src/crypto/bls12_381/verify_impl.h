/* Verification (IETF BLS draft, POP ciphersuite), variable-time on public data.
 *
 * Every check is one product of pairings equal to 1: e(pk, H(m)) * e(-G1, sig) == 1, with all
 * Miller loops sharing one final exponentiation. Inputs come from the decoders, so they are
 * on the curve and in their subgroups; the identity rules are checked here: an identity public
 * key is invalid (KeyValidate) and an identity signature never verifies. */
#include <stdlib.h>

static void g2a_hash_var(g2a *r, const uint8_t *msg, size_t msg_len, const char *dst)
{
    g2p h;
    hash_to_g2(&h, msg, msg_len, (const uint8_t *)dst, strlen(dst));
    g2_to_affine(r, &h);
}

static g1a g1a_neg_generator(void)
{
    g1a g = G1_GENERATOR;
    fp_neg(&g.y, &g.y);
    return g;
}

/* CoreVerify for one (pk, message, signature) with the given DST. */
static bool core_verify_var(const g1a *pk, const uint8_t *msg, size_t msg_len, const g2a *sig, const char *dst)
{
    if (pk->inf || sig->inf) {
        return false;
    }
    g1a P[2] = {*pk, g1a_neg_generator()};
    g2a Q[2];
    g2a_hash_var(&Q[0], msg, msg_len, dst);
    Q[1] = *sig;
    return pairing_product_is_one_var(P, Q, 2);
}

bool sigil_bls_verify_var(const sigil_bls_pk *pk, const uint8_t *msg, size_t msg_len, const sigil_bls_sig *sig)
{
    g1a p;
    g2a s;
    g1a_from_pub(&p, pk);
    g2a_from_pub(&s, sig);
    return core_verify_var(&p, msg, msg_len, &s, SIGIL_BLS_DST_SIG);
}

bool sigil_bls_pop_verify_var(const sigil_bls_pk *pk, const sigil_bls_sig *proof)
{
    uint8_t enc[SIGIL_BLS_PK_LEN];
    g1a p;
    g2a s;
    g1a_from_pub(&p, pk);
    g2a_from_pub(&s, proof);
    if (p.inf) {
        return false;
    }
    g1a_compress(enc, &p);
    return core_verify_var(&p, enc, sizeof(enc), &s, SIGIL_BLS_DST_POP);
}

bool sigil_bls_fast_aggregate_verify_var(const sigil_bls_pk *pks, size_t n, const uint8_t *msg, size_t msg_len,
                                         const sigil_bls_sig *sig)
{
    if (n == 0) {
        return false;
    }
    g1p acc, t;
    g1a a;
    g1_set_inf(&acc);
    for (size_t i = 0; i < n; i++) {
        g1a_from_pub(&a, &pks[i]);
        if (a.inf) {
            return false;
        }
        g1_from_affine(&t, &a);
        g1_add(&acc, &acc, &t);
    }
    g1_to_affine(&a, &acc);
    g2a s;
    g2a_from_pub(&s, sig);
    /* An aggregate key that cancels to the identity fails KeyValidate in CoreVerify. */
    return core_verify_var(&a, msg, msg_len, &s, SIGIL_BLS_DST_SIG);
}

bool sigil_bls_aggregate_verify_var(const sigil_bls_pk *pks, const uint8_t *const *msgs, const size_t *msg_lens,
                                    size_t n, const sigil_bls_sig *sig)
{
    if (n == 0 || n > SIZE_MAX / sizeof(g2a) - 1) {
        return false;
    }
    g2a s;
    g2a_from_pub(&s, sig);
    if (s.inf) {
        return false;
    }
    bool ok = false;
    g1a *P = malloc((n + 1) * sizeof(*P));
    g2a *Q = malloc((n + 1) * sizeof(*Q));
    if (P == NULL || Q == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        g1a_from_pub(&P[i], &pks[i]);
        if (P[i].inf) {
            goto out;
        }
        g2a_hash_var(&Q[i], msgs[i], msg_lens[i], SIGIL_BLS_DST_SIG);
    }
    P[n] = g1a_neg_generator();
    Q[n] = s;
    ok = pairing_product_is_one_var(P, Q, n + 1);
out:
    free(P);
    free(Q);
    return ok;
}

/* Random linear combination: with 64-bit r_i from the OS RNG,
 * prod e(r_i pk_i, H(m_i)) * e(-G1, sum r_i sig_i) == 1 passes for an invalid set with
 * probability about 2^-63. The r_i are forced odd (so non-zero). */
bool sigil_bls_batch_verify_var(const sigil_bls_pk *pks, const uint8_t *const *msgs, const size_t *msg_lens,
                                const sigil_bls_sig *sigs, size_t n)
{
    if (n == 0 || n > SIZE_MAX / sizeof(g2a) - 1) {
        return false;
    }
    bool ok = false;
    g1a *P = malloc((n + 1) * sizeof(*P));
    g2a *Q = malloc((n + 1) * sizeof(*Q));
    uint64_t *rnd = malloc(n * sizeof(*rnd));
    if (P == NULL || Q == NULL || rnd == NULL || !sigil_random_bytes(rnd, n * sizeof(*rnd))) {
        goto out;
    }
    g2p sum, t2;
    g2_set_inf(&sum);
    for (size_t i = 0; i < n; i++) {
        g1a pk;
        g2a s;
        g1a_from_pub(&pk, &pks[i]);
        g2a_from_pub(&s, &sigs[i]);
        if (pk.inf || s.inf) {
            goto out;
        }
        limb_t r = rnd[i] | 1;
        g1p t1;
        g1_from_affine(&t1, &pk);
        g1_mul_var(&t1, &t1, &r, 64);
        g1_to_affine(&P[i], &t1);
        g2_from_affine(&t2, &s);
        g2_mul_var(&t2, &t2, &r, 64);
        g2_add(&sum, &sum, &t2);
        g2a_hash_var(&Q[i], msgs[i], msg_lens[i], SIGIL_BLS_DST_SIG);
    }
    P[n] = g1a_neg_generator();
    g2_to_affine(&Q[n], &sum);
    ok = pairing_product_is_one_var(P, Q, n + 1);
out:
    free(P);
    free(Q);
    free(rnd);
    return ok;
}
