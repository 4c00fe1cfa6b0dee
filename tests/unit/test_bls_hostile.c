/* Hostile and property tests for BLS12-381: every malformed encoding we could think of, each
 * with its exact error code; out-of-range secret keys; random round trips; and internal
 * identities (endomorphisms against plain scalar multiplication, [r]P = O, subgroup checks).
 *
 * The test compiles the curve translation unit itself so it can reach the static internals;
 * the exported functions then resolve to this copy, which is the same source. */
#include "crypto/bls12_381/bls12_381.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/secmem.h"

static void t_hex(uint8_t *out, size_t len, const char *s)
{
    assert_int_equal(strlen(s), 2 * len);
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* p and r, big-endian. */
#define P_HEX "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab"
#define R_HEX "73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001"
#define G1_COMPRESSED_HEX                                                                                              \
    "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"

static void t_random(void *buf, size_t n) { assert_true(sigil_random_bytes(buf, n)); }

/* A random valid secret key (top bits cleared so it is below r; zero is astronomically rare). */
static void t_random_sk(sigil_bls_sk *sk)
{
    uint8_t b[32];
    t_random(b, sizeof(b));
    b[0] &= 0x3f;
    b[31] |= 1;
    assert_int_equal(sigil_bls_sk_from_bytes(sk, b).code, SIGIL_OK);
}

static void t_add_be(uint8_t *x, size_t len, unsigned v)
{
    for (size_t i = len; i-- > 0 && v;) {
        v += x[i];
        x[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* ---- secret keys ---- */

static void test_secret_key_range(void **state)
{
    (void)state;
    uint8_t b[32];
    sigil_bls_sk sk;
    memset(b, 0, 32);
    assert_int_equal(sigil_bls_sk_from_bytes(&sk, b).code, SIGIL_ERR_BLS_SCALAR);
    t_hex(b, 32, R_HEX);
    assert_int_equal(sigil_bls_sk_from_bytes(&sk, b).code, SIGIL_ERR_BLS_SCALAR);
    t_add_be(b, 32, 1); /* r + 1 */
    assert_int_equal(sigil_bls_sk_from_bytes(&sk, b).code, SIGIL_ERR_BLS_SCALAR);
    memset(b, 0xff, 32);
    assert_int_equal(sigil_bls_sk_from_bytes(&sk, b).code, SIGIL_ERR_BLS_SCALAR);

    /* r - 1 works and gives -G1; 1 gives G1. */
    t_hex(b, 32, R_HEX);
    b[31] -= 1;
    assert_int_equal(sigil_bls_sk_from_bytes(&sk, b).code, SIGIL_OK);
    uint8_t back[32];
    sigil_bls_sk_to_bytes(back, &sk);
    assert_memory_equal(back, b, 32);
    assert_int_equal(sigil_bls_sk_is_zero(&sk), 0);
    sigil_bls_pk pk_neg, pk_one;
    sigil_bls_sk_to_pk(&pk_neg, &sk);
    memset(b, 0, 32);
    b[31] = 1;
    assert_int_equal(sigil_bls_sk_from_bytes(&sk, b).code, SIGIL_OK);
    sigil_bls_sk_to_pk(&pk_one, &sk);
    uint8_t enc[48], want[48];
    sigil_bls_pk_compress(enc, &pk_one);
    t_hex(want, 48, G1_COMPRESSED_HEX);
    assert_memory_equal(enc, want, 48);
    sigil_bls_pk_compress(enc, &pk_neg);
    want[0] ^= 0x20; /* same x, the other y */
    assert_memory_equal(enc, want, 48);

    sigil_bls_sk z = {{0, 0, 0, 0}};
    assert_int_equal(sigil_bls_sk_is_zero(&z), 1);
}

/* ---- G1 encodings ---- */

static void test_g1_flag_combinations(void **state)
{
    (void)state;
    uint8_t valid[48], b[48];
    sigil_bls_pk pk;
    t_hex(valid, 48, G1_COMPRESSED_HEX);
    for (unsigned flags = 0; flags < 8; flags++) {
        memcpy(b, valid, 48);
        b[0] = (uint8_t)((b[0] & 0x1f) | (flags << 5));
        sigil_result r = sigil_bls_pk_decompress(&pk, b);
        if (flags == 4 || flags == 5) { /* compressed, not infinity, either sign */
            assert_int_equal(r.code, SIGIL_OK);
        } else {
            assert_int_equal(r.code, SIGIL_ERR_BLS_ENCODING);
        }
    }
    /* Infinity: exactly 0xc0 || 0...; as a key it is refused, as a point it decodes. */
    memset(b, 0, 48);
    b[0] = 0xc0;
    assert_int_equal(sigil_bls_pk_decompress(&pk, b).code, SIGIL_ERR_BLS_INFINITY);
    sigil_bls_g1 g;
    assert_int_equal(sigil_bls_g1_decompress_unchecked(&g, b).code, SIGIL_OK);
    assert_true(g.infinity);
    uint8_t again[48];
    sigil_bls_pk_compress(again, &g);
    assert_memory_equal(again, b, 48);
    b[0] = 0xe0; /* infinity with the sign bit */
    assert_int_equal(sigil_bls_g1_decompress_unchecked(&g, b).code, SIGIL_ERR_BLS_ENCODING);
    b[0] = 0x40; /* infinity without compression */
    assert_int_equal(sigil_bls_g1_decompress_unchecked(&g, b).code, SIGIL_ERR_BLS_ENCODING);
    for (size_t pos = 0; pos < 48; pos++) { /* a stray bit anywhere */
        memset(b, 0, 48);
        b[0] = 0xc0;
        b[pos] |= pos == 0 ? 0x01 : 0x80;
        assert_int_equal(sigil_bls_g1_decompress_unchecked(&g, b).code, SIGIL_ERR_BLS_ENCODING);
    }
    b[0] = 0xc0;
    memset(b + 1, 0, 47);
    b[47] = 1;
    assert_int_equal(sigil_bls_pk_decompress(&pk, b).code, SIGIL_ERR_BLS_ENCODING);
    /* All-zero (no flags) and all-ones. */
    memset(b, 0, 48);
    assert_int_equal(sigil_bls_pk_decompress(&pk, b).code, SIGIL_ERR_BLS_ENCODING);
    memset(b, 0xff, 48);
    assert_int_equal(sigil_bls_pk_decompress(&pk, b).code, SIGIL_ERR_BLS_ENCODING);
}

static void test_g1_field_range(void **state)
{
    (void)state;
    uint8_t b[48];
    sigil_bls_g1 g;
    t_hex(b, 48, P_HEX); /* x = p */
    b[0] |= 0x80;
    assert_int_equal(sigil_bls_g1_decompress_unchecked(&g, b).code, SIGIL_ERR_BLS_ENCODING);
    t_add_be(b, 48, 1); /* x = p + 1 */
    assert_int_equal(sigil_bls_g1_decompress_unchecked(&g, b).code, SIGIL_ERR_BLS_ENCODING);
    memset(b, 0xff, 48); /* x = 2^381 - 1 */
    b[0] = 0x9f;
    assert_int_equal(sigil_bls_g1_decompress_unchecked(&g, b).code, SIGIL_ERR_BLS_ENCODING);
    b[0] = 0xbf;
    assert_int_equal(sigil_bls_g1_decompress_unchecked(&g, b).code, SIGIL_ERR_BLS_ENCODING);
}

/* Small x values: each is either off the curve (no square root) or on E(Fp) but, with
 * overwhelming probability, outside G1 (the cofactor is about 2^126). x = 0 gives (0, +-2),
 * a point of order 3. */
static void test_g1_curve_and_subgroup(void **state)
{
    (void)state;
    uint8_t b[48], raw[96];
    sigil_bls_pk pk;
    sigil_bls_g1 g;
    int off = 0, outside = 0;
    for (unsigned x = 0; x < 40; x++) {
        memset(b, 0, 48);
        b[0] = 0x80;
        b[47] = (uint8_t)x;
        sigil_result r = sigil_bls_g1_decompress_unchecked(&g, b);
        if (r.code == SIGIL_ERR_BLS_NOT_ON_CURVE) {
            assert_int_equal(sigil_bls_pk_decompress(&pk, b).code, SIGIL_ERR_BLS_NOT_ON_CURVE);
            off++;
            continue;
        }
        assert_int_equal(r.code, SIGIL_OK);
        assert_false(sigil_bls_g1_in_subgroup_var(&g));
        assert_int_equal(sigil_bls_pk_decompress(&pk, b).code, SIGIL_ERR_BLS_NOT_IN_SUBGROUP);
        /* The same point uncompressed fails the same way; with y + 1 it is off the curve. */
        sigil_bls_pk_serialize(raw, &g);
        assert_int_equal(sigil_bls_pk_deserialize(&pk, raw).code, SIGIL_ERR_BLS_NOT_IN_SUBGROUP);
        t_add_be(raw + 48, 48, 1);
        assert_int_equal(sigil_bls_pk_deserialize(&pk, raw).code, SIGIL_ERR_BLS_NOT_ON_CURVE);
        outside++;
    }
    assert_true(off > 5);
    assert_true(outside > 5);
}

static void test_g1_uncompressed(void **state)
{
    (void)state;
    sigil_bls_sk sk;
    sigil_bls_pk pk, back;
    uint8_t raw[96], b[96];
    t_random_sk(&sk);
    sigil_bls_sk_to_pk(&pk, &sk);
    sigil_bls_pk_serialize(raw, &pk);
    assert_int_equal(sigil_bls_pk_deserialize(&back, raw).code, SIGIL_OK);
    assert_true(sigil_bls_g1_eq(&pk, &back));
    for (unsigned flags = 1; flags < 8; flags++) {
        memcpy(b, raw, 96);
        b[0] = (uint8_t)((b[0] & 0x1f) | (flags << 5));
        assert_int_equal(sigil_bls_pk_deserialize(&back, b).code, SIGIL_ERR_BLS_ENCODING);
    }
    memcpy(b, raw, 96); /* y = p */
    t_hex(b + 48, 48, P_HEX);
    assert_int_equal(sigil_bls_pk_deserialize(&back, b).code, SIGIL_ERR_BLS_ENCODING);
    memcpy(b, raw, 96); /* x = p */
    t_hex(b, 48, P_HEX);
    assert_int_equal(sigil_bls_pk_deserialize(&back, b).code, SIGIL_ERR_BLS_ENCODING);
    memset(b, 0, 96);
    b[0] = 0x40;
    assert_int_equal(sigil_bls_pk_deserialize(&back, b).code, SIGIL_ERR_BLS_INFINITY);
    b[95] = 1;
    assert_int_equal(sigil_bls_pk_deserialize(&back, b).code, SIGIL_ERR_BLS_ENCODING);
    b[95] = 0;
    b[0] = 0x60;
    assert_int_equal(sigil_bls_pk_deserialize(&back, b).code, SIGIL_ERR_BLS_ENCODING);
    /* The identity serializes as 0x40 || 0. */
    sigil_bls_g1 inf = {.infinity = 1};
    sigil_bls_pk_serialize(raw, &inf);
    b[0] = 0x40;
    assert_memory_equal(raw, b, 96);
}

/* ---- G2 encodings ---- */

static void g2_valid_sig(uint8_t out[96], sigil_bls_sig *sig)
{
    sigil_bls_sk sk;
    t_random_sk(&sk);
    sigil_bls_sign(sig, &sk, (const uint8_t *)"hostile", 7);
    sigil_bls_sig_compress(out, sig);
}

static void test_g2_flags_and_range(void **state)
{
    (void)state;
    uint8_t valid[96], b[96];
    sigil_bls_sig sig, back;
    g2_valid_sig(valid, &sig);
    for (unsigned flags = 0; flags < 8; flags++) {
        memcpy(b, valid, 96);
        b[0] = (uint8_t)((b[0] & 0x1f) | (flags << 5));
        sigil_result r = sigil_bls_sig_decompress(&back, b);
        assert_int_equal(r.code, (flags == 4 || flags == 5) ? SIGIL_OK : SIGIL_ERR_BLS_ENCODING);
    }
    /* Identity: decodes (it is in G2), compresses back, never verifies. */
    memset(b, 0, 96);
    b[0] = 0xc0;
    assert_int_equal(sigil_bls_sig_decompress(&back, b).code, SIGIL_OK);
    assert_true(back.infinity);
    uint8_t again[96];
    sigil_bls_sig_compress(again, &back);
    assert_memory_equal(again, b, 96);
    sigil_bls_pk pk;
    sigil_bls_sk sk;
    t_random_sk(&sk);
    sigil_bls_sk_to_pk(&pk, &sk);
    assert_false(sigil_bls_verify_var(&pk, (const uint8_t *)"m", 1, &back));
    for (size_t pos = 0; pos < 96; pos++) {
        memset(b, 0, 96);
        b[0] = 0xc0;
        b[pos] |= pos == 0 ? 0x10 : 0x01;
        assert_int_equal(sigil_bls_sig_decompress(&back, b).code, SIGIL_ERR_BLS_ENCODING);
    }
    b[0] = 0xe0;
    memset(b + 1, 0, 95);
    assert_int_equal(sigil_bls_sig_decompress(&back, b).code, SIGIL_ERR_BLS_ENCODING);
    /* x1 (first) = p, x0 (second) = p, and x1 above p. */
    memcpy(b, valid, 96);
    t_hex(b, 48, P_HEX);
    b[0] |= 0x80;
    assert_int_equal(sigil_bls_sig_decompress(&back, b).code, SIGIL_ERR_BLS_ENCODING);
    memcpy(b, valid, 96);
    t_hex(b + 48, 48, P_HEX);
    assert_int_equal(sigil_bls_sig_decompress(&back, b).code, SIGIL_ERR_BLS_ENCODING);
    memcpy(b, valid, 96);
    memset(b, 0xff, 48);
    b[0] = 0x9f;
    assert_int_equal(sigil_bls_sig_decompress(&back, b).code, SIGIL_ERR_BLS_ENCODING);
}

static void test_g2_curve_and_subgroup(void **state)
{
    (void)state;
    uint8_t b[96], raw[192];
    sigil_bls_sig sig;
    sigil_bls_g2 g;
    int off = 0, outside = 0;
    for (unsigned x = 0; x < 40; x++) {
        memset(b, 0, 96);
        b[0] = 0x80;
        b[95] = (uint8_t)x;       /* x0 */
        b[47] = (uint8_t)(x / 3); /* x1 */
        sigil_result r = sigil_bls_g2_decompress_unchecked(&g, b);
        if (r.code == SIGIL_ERR_BLS_NOT_ON_CURVE) {
            assert_int_equal(sigil_bls_sig_decompress(&sig, b).code, SIGIL_ERR_BLS_NOT_ON_CURVE);
            off++;
            continue;
        }
        assert_int_equal(r.code, SIGIL_OK);
        assert_false(sigil_bls_g2_in_subgroup_var(&g));
        assert_int_equal(sigil_bls_sig_decompress(&sig, b).code, SIGIL_ERR_BLS_NOT_IN_SUBGROUP);
        sigil_bls_sig_serialize(raw, &g);
        assert_int_equal(sigil_bls_sig_deserialize(&sig, raw).code, SIGIL_ERR_BLS_NOT_IN_SUBGROUP);
        t_add_be(raw + 144, 48, 1);
        assert_int_equal(sigil_bls_sig_deserialize(&sig, raw).code, SIGIL_ERR_BLS_NOT_ON_CURVE);
        outside++;
    }
    assert_true(off > 5);
    assert_true(outside > 5);
}

static void test_g2_uncompressed(void **state)
{
    (void)state;
    uint8_t c[96], raw[192], b[192];
    sigil_bls_sig sig, back;
    g2_valid_sig(c, &sig);
    sigil_bls_sig_serialize(raw, &sig);
    assert_int_equal(sigil_bls_sig_deserialize(&back, raw).code, SIGIL_OK);
    assert_true(sigil_bls_g2_eq(&sig, &back));
    for (unsigned flags = 1; flags < 8; flags++) {
        memcpy(b, raw, 192);
        b[0] = (uint8_t)((b[0] & 0x1f) | (flags << 5));
        assert_int_equal(sigil_bls_sig_deserialize(&back, b).code, SIGIL_ERR_BLS_ENCODING);
    }
    for (size_t coord = 0; coord < 4; coord++) {
        memcpy(b, raw, 192);
        t_hex(b + 48 * coord, 48, P_HEX);
        assert_int_equal(sigil_bls_sig_deserialize(&back, b).code, SIGIL_ERR_BLS_ENCODING);
    }
    memset(b, 0, 192);
    b[0] = 0x40;
    assert_int_equal(sigil_bls_sig_deserialize(&back, b).code, SIGIL_OK);
    assert_true(back.infinity);
    b[100] = 4;
    assert_int_equal(sigil_bls_sig_deserialize(&back, b).code, SIGIL_ERR_BLS_ENCODING);
}

/* ---- random round trips ---- */

static void test_round_trips(void **state)
{
    (void)state;
    for (int iter = 0; iter < 8; iter++) {
        sigil_bls_sk sk;
        sigil_bls_pk pk, pk2;
        sigil_bls_sig sig, sig2;
        uint8_t msg[40], pkc[48], sigc[96];
        t_random_sk(&sk);
        t_random(msg, sizeof(msg));
        sigil_bls_sk_to_pk(&pk, &sk);
        sigil_bls_sign(&sig, &sk, msg, sizeof(msg));
        sigil_bls_pk_compress(pkc, &pk);
        sigil_bls_sig_compress(sigc, &sig);
        assert_int_equal(sigil_bls_pk_decompress(&pk2, pkc).code, SIGIL_OK);
        assert_int_equal(sigil_bls_sig_decompress(&sig2, sigc).code, SIGIL_OK);
        assert_true(sigil_bls_g1_eq(&pk, &pk2));
        assert_true(sigil_bls_g2_eq(&sig, &sig2));
        assert_true(sigil_bls_verify_var(&pk2, msg, sizeof(msg), &sig2));
        msg[iter] ^= 1;
        assert_false(sigil_bls_verify_var(&pk2, msg, sizeof(msg), &sig2));
        sigil_bls_sig proof;
        sigil_bls_pop_prove(&proof, &sk);
        assert_true(sigil_bls_pop_verify_var(&pk, &proof));
        assert_false(sigil_bls_pop_verify_var(&pk, &sig));
    }
}

/* sk_a G + sk_b G == (sk_a + sk_b) G and the same for signatures: the GLV/GLS ladders are
 * homomorphic, which a wrong decomposition or table would break. */
static void test_aggregate_identities(void **state)
{
    (void)state;
    uint8_t a[32], bb[32], s[32];
    t_random(a, 32);
    t_random(bb, 32);
    a[0] &= 0x1f;
    bb[0] &= 0x1f;
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
        carry += (unsigned)a[i] + bb[i];
        s[i] = (uint8_t)carry;
        carry >>= 8;
    }
    sigil_bls_sk ka, kb, ks;
    assert_int_equal(sigil_bls_sk_from_bytes(&ka, a).code, SIGIL_OK);
    assert_int_equal(sigil_bls_sk_from_bytes(&kb, bb).code, SIGIL_OK);
    assert_int_equal(sigil_bls_sk_from_bytes(&ks, s).code, SIGIL_OK);
    sigil_bls_pk pks[2], psum, pagg;
    sigil_bls_sig sigs[2], ssum, sagg;
    const uint8_t *m = (const uint8_t *)"same message";
    sigil_bls_sk_to_pk(&pks[0], &ka);
    sigil_bls_sk_to_pk(&pks[1], &kb);
    sigil_bls_sk_to_pk(&psum, &ks);
    sigil_bls_sign(&sigs[0], &ka, m, 12);
    sigil_bls_sign(&sigs[1], &kb, m, 12);
    sigil_bls_sign(&ssum, &ks, m, 12);
    assert_int_equal(sigil_bls_aggregate_pks(&pagg, pks, 2).code, SIGIL_OK);
    assert_int_equal(sigil_bls_aggregate_sigs(&sagg, sigs, 2).code, SIGIL_OK);
    assert_true(sigil_bls_g1_eq(&pagg, &psum));
    assert_true(sigil_bls_g2_eq(&sagg, &ssum));
    assert_true(sigil_bls_fast_aggregate_verify_var(pks, 2, m, 12, &sagg));
    assert_false(sigil_bls_fast_aggregate_verify_var(pks, 1, m, 12, &sagg));
    assert_false(sigil_bls_fast_aggregate_verify_var(pks, 0, m, 12, &sagg));
    assert_int_equal(sigil_bls_aggregate_pks(&pagg, pks, 0).code, SIGIL_ERR_BLS_EMPTY);
    assert_int_equal(sigil_bls_aggregate_sigs(&sagg, sigs, 0).code, SIGIL_ERR_BLS_EMPTY);

    /* Distinct messages: aggregate_verify and batch_verify. */
    const uint8_t *msgs[2] = {(const uint8_t *)"first", (const uint8_t *)"second"};
    const size_t lens[2] = {5, 6};
    sigil_bls_sign(&sigs[0], &ka, msgs[0], lens[0]);
    sigil_bls_sign(&sigs[1], &kb, msgs[1], lens[1]);
    assert_int_equal(sigil_bls_aggregate_sigs(&sagg, sigs, 2).code, SIGIL_OK);
    assert_true(sigil_bls_aggregate_verify_var(pks, msgs, lens, 2, &sagg));
    assert_false(sigil_bls_aggregate_verify_var(pks, msgs, lens, 0, &sagg));
    assert_true(sigil_bls_batch_verify_var(pks, msgs, lens, sigs, 2));
    assert_false(sigil_bls_batch_verify_var(pks, msgs, lens, sigs, 0));
    sigil_bls_sig swapped[2] = {sigs[1], sigs[0]};
    assert_false(sigil_bls_batch_verify_var(pks, msgs, lens, swapped, 2));
    /* Swapped signatures still aggregate to the same value: that is why batch verification
     * needs the random scalars. */
    assert_int_equal(sigil_bls_aggregate_sigs(&ssum, swapped, 2).code, SIGIL_OK);
    assert_true(sigil_bls_g2_eq(&ssum, &sagg));
}

/* ---- internal identities ---- */

static void t_random_scalar(limb_t k[4]) { t_random(k, 4 * sizeof(limb_t)); }

static void test_scalar_mul_internal(void **state)
{
    (void)state;
    g1p g1, a1, b1;
    g2p g2, a2, b2;
    g1_from_affine(&g1, &G1_GENERATOR);
    hash_to_g2(&g2, (const uint8_t *)"base", 4, (const uint8_t *)"T", 1);
    for (int iter = 0; iter < 6; iter++) {
        limb_t k[4], kr[4];
        t_random_scalar(k);
        if (iter == 0) {
            memset(k, 0xff, sizeof(k)); /* 2^256 - 1: the reduction mod r path */
        }
        if (iter == 1) {
            memset(k, 0, sizeof(k));
        }
        scalar_reduce_r(kr, k);
        g1_mul_ct(&a1, &g1, k);
        g1_mul_var(&b1, &g1, kr, 256);
        assert_true(g1_eq_var(&a1, &b1));
        g2_mul_ct(&a2, &g2, k);
        g2_mul_var(&b2, &g2, kr, 256);
        assert_true(g2_eq_var(&a2, &b2));
    }
    /* [r]P = O on both groups, [r-1]P = -P. */
    limb_t r[4], rm1[4];
    memcpy(r, BLS_R, sizeof(r));
    memcpy(rm1, BLS_R, sizeof(rm1));
    rm1[0] -= 1;
    g1_mul_var(&a1, &g1, r, 256);
    assert_true(g1_is_inf(&a1));
    g2_mul_var(&a2, &g2, r, 256);
    assert_true(g2_is_inf(&a2));
    g2_mul_ct(&a2, &g2, rm1);
    g2_neg(&b2, &g2);
    assert_true(g2_eq_var(&a2, &b2));
    g1_mul_ct(&a1, &g1, rm1);
    g1_neg(&b1, &g1);
    assert_true(g1_eq_var(&a1, &b1));
}

static void test_endomorphisms(void **state)
{
    (void)state;
    g1p g1, s, m;
    g2p g2, p, q;
    limb_t z[1] = {BLS_Z};
    g1_from_affine(&g1, &G1_GENERATOR);
    /* sigma(P) = [-x^2]P = -[z]([z]P) on G1. */
    g1_sigma(&s, &g1);
    g1_mul_var(&m, &g1, z, 64);
    g1_mul_var(&m, &m, z, 64);
    g1_neg(&m, &m);
    assert_true(g1_eq_var(&s, &m));
    g1_mul_z_var(&s, &g1);
    g1_mul_var(&m, &g1, z, 64);
    assert_true(g1_eq_var(&s, &m));
    /* psi(P) = [x]P = -[z]P on G2; psi^2 = psi o psi. */
    hash_to_g2(&g2, (const uint8_t *)"psi", 3, (const uint8_t *)"T", 1);
    g2_psi(&p, &g2);
    g2_mul_var(&q, &g2, z, 64);
    g2_neg(&q, &q);
    assert_true(g2_eq_var(&p, &q));
    g2_psi(&p, &p);
    g2_psi2(&q, &g2);
    assert_true(g2_eq_var(&p, &q));
    g2_mul_z_var(&p, &g2);
    g2_mul_var(&q, &g2, z, 64);
    assert_true(g2_eq_var(&p, &q));
    /* Cofactor clearing lands in G2 and agrees with the subgroup test; a raw SWU point does not. */
    g2a a;
    g2_to_affine(&a, &g2);
    assert_true(g2a_on_curve_var(&a) && g2a_in_subgroup_var(&a));
    fp2 u = FP2_ONE;
    map_to_g2_prime(&p, &u);
    g2_to_affine(&a, &p);
    assert_true(g2a_on_curve_var(&a));
    assert_false(g2a_in_subgroup_var(&a));
    limb_t r[4];
    memcpy(r, BLS_R, sizeof(r));
    g2_mul_var(&q, &p, r, 256);
    assert_false(g2_is_inf(&q));
    g2_clear_cofactor_var(&p, &p);
    g2_mul_var(&q, &p, r, 256);
    assert_true(g2_is_inf(&q));
}

/* The inversion-free SWU map (inverse square root of a product, reused exponentiation for x2)
 * agrees with the plain affine route, on inputs that take both the g(x1)-square and the x2
 * branch, and on u = 0 (tv1 = 0, the exceptional x1 = B / (Z A)). */
static void test_sswu_g2_fast_matches_slow(void **state)
{
    (void)state;
    fp2 u = FP2_ZERO;
    fp2 step = {FP_ONE, FP_ONE};
    fp_add(&step.c1, &step.c1, &FP_ONE);
    for (int i = 0; i < 40; i++) {
        g2p fast, slow;
        map_to_g2_prime(&fast, &u);
        map_to_g2_prime_slow(&slow, &u);
        assert_true(g2_eq_var(&fast, &slow));
        fp2_mul(&u, &u, &step);
        fp2_add(&u, &u, &step);
    }
}

static void test_small_order_points(void **state)
{
    (void)state;
    /* (0, 2) has order 3 on E(Fp): on the curve, outside G1, [3]P = O. */
    g1a a = {.inf = 0};
    fp_add(&a.y, &FP_ONE, &FP_ONE);
    assert_true(g1a_on_curve_var(&a));
    assert_false(g1a_in_subgroup_var(&a));
    g1p p, q;
    g1_from_affine(&p, &a);
    limb_t three = 3;
    g1_mul_var(&q, &p, &three, 2);
    assert_true(g1_is_inf(&q));
    g1_mul_z_var(&q, &p); /* the Jacobian ladder meets P == acc along the way */
    limb_t z = BLS_Z;
    g1p w;
    g1_mul_var(&w, &p, &z, 64);
    assert_true(g1_eq_var(&q, &w));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_key_range),      cmocka_unit_test(test_g1_flag_combinations),
        cmocka_unit_test(test_g1_field_range),        cmocka_unit_test(test_g1_curve_and_subgroup),
        cmocka_unit_test(test_g1_uncompressed),       cmocka_unit_test(test_g2_flags_and_range),
        cmocka_unit_test(test_g2_curve_and_subgroup), cmocka_unit_test(test_g2_uncompressed),
        cmocka_unit_test(test_round_trips),           cmocka_unit_test(test_aggregate_identities),
        cmocka_unit_test(test_scalar_mul_internal),   cmocka_unit_test(test_endomorphisms),
        cmocka_unit_test(test_small_order_points),    cmocka_unit_test(test_sswu_g2_fast_matches_slow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
