/* Unit tests for src/keys/msg_cache.c (the message-point cache) and its use by the key store:
 * cached points equal freshly hashed ones, entries are matched on the whole root (a full set
 * evicts its least recently used root; roots never answer for each other), hit and miss counts, and many
 * threads signing a few shared roots and many unique ones with many keys, every signature checked
 * against an uncached signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "common/secmem.h"
#include "crypto/bls.h"
#include "keys/keystore.h"
#include "keys/msg_cache.h"

static void root_of(uint8_t r[32], uint64_t index_bits, uint8_t tail)
{
    memset(r, 0, 32);
    memcpy(r, &index_bits, sizeof index_bits); /* the cache indexes on the first 8 bytes */
    r[31] = tail;
}

static void assert_point_is_hash(const sigil_bls_msg_point *p, const uint8_t root[32])
{
    sigil_bls_msg_point want;
    sigil_bls_hash_msg(&want, root, 32);
    assert_memory_equal(p, &want, sizeof want);
}

static void expect_stats(const struct sigil_msg_cache *c, uint64_t hits, uint64_t misses)
{
    uint64_t h, m;
    sigil_msg_cache_stats(c, &h, &m);
    assert_int_equal(h, hits);
    assert_int_equal(m, misses);
}

static void get_checked(struct sigil_msg_cache *c, const uint8_t root[32])
{
    sigil_bls_msg_point p;
    sigil_msg_cache_hash(c, &p, root);
    assert_point_is_hash(&p, root);
}

static void test_hits_misses_and_eviction(void **state)
{
    (void)state;
    struct sigil_msg_cache *c;
    assert_int_equal(sigil_msg_cache_new(&c, 0).code, SIGIL_ERR_ARG);
    assert_int_equal(sigil_msg_cache_new(&c, 65537).code, SIGIL_ERR_ARG);
    assert_true(sigil_is_ok(sigil_msg_cache_new(&c, 3))); /* one set of 4 */
    uint8_t r[6][32];
    for (int i = 0; i < 6; i++) {
        root_of(r[i], (uint64_t)i, 0x10);
    }
    get_checked(c, r[0]);
    get_checked(c, r[0]);
    expect_stats(c, 1, 1);

    /* a root that differs from a cached one in its last byte only is not served its point */
    uint8_t r0b[32];
    memcpy(r0b, r[0], 32);
    r0b[31] ^= 1;
    get_checked(c, r0b);
    expect_stats(c, 1, 2);

    /* fill the set: r0, r0b, r1, r2; touch r0 so r0b is the least recently used */
    get_checked(c, r[1]);
    get_checked(c, r[2]);
    get_checked(c, r[0]);
    expect_stats(c, 2, 4);
    get_checked(c, r[3]); /* evicts r0b */
    get_checked(c, r[0]);
    get_checked(c, r[1]);
    get_checked(c, r[2]);
    get_checked(c, r[3]);
    expect_stats(c, 6, 5);
    get_checked(c, r0b); /* gone: hashed again, evicting r0 (now the least recent) */
    get_checked(c, r[1]);
    get_checked(c, r[0]);
    expect_stats(c, 7, 7);
    sigil_msg_cache_free(c);

    /* two sets: roots of even and odd index do not evict each other */
    assert_true(sigil_is_ok(sigil_msg_cache_new(&c, 8)));
    uint8_t e[8][32];
    for (int i = 0; i < 8; i++) {
        root_of(e[i], (uint64_t)i, 0x20);
        get_checked(c, e[i]);
    }
    for (int i = 0; i < 8; i++) {
        get_checked(c, e[i]);
    }
    expect_stats(c, 8, 8);
    sigil_msg_cache_free(c);
    sigil_msg_cache_free(NULL);
}

/* ---- the key store signing through the cache from many threads ---- */

#define NKEYS    8
#define NTHREADS 4
#define ROUNDS   24

static struct {
    struct sigil_keystore *ks;
    sigil_bls_sk sk[NKEYS];
    uint8_t pk[NKEYS][48];
    atomic_int bad;
} conc;

/* Root j of the test: j < 3 are shared by every thread (a slot's attestation data); the others
 * are unique to one thread and round. The first bytes of shared and unique roots collide on
 * purpose, so evictions race with hits. */
static void conc_root(uint8_t r[32], int thread, int round)
{
    if (round % 2 == 0) {
        root_of(r, (uint64_t)(round % 6) / 2, 0x01); /* three shared roots */
    } else {
        root_of(r, (uint64_t)round % 3, (uint8_t)(0x80 + thread)); /* unique, same entries */
        r[30] = (uint8_t)round;
    }
}

/* Key k signs root through the store; a failure or a signature that differs from an uncached
 * sigil_bls_sign is counted in conc.bad. */
static void sign_and_compare(int k, const uint8_t root[32])
{
    uint8_t got[96], want[96];
    sigil_bls_sig sig;
    if (!sigil_is_ok(sigil_keystore_sign(conc.ks, conc.pk[k], root, 32, got))) {
        atomic_fetch_add(&conc.bad, 1);
        return;
    }
    sigil_bls_sign(&sig, &conc.sk[k], root, 32);
    sigil_bls_sig_compress(want, &sig);
    if (memcmp(got, want, 96) != 0) {
        atomic_fetch_add(&conc.bad, 1);
    }
}

static void *conc_signer(void *arg)
{
    int id = *(const int *)arg;
    for (int round = 0; round < ROUNDS; round++) {
        uint8_t root[32];
        conc_root(root, id, round);
        sign_and_compare((id + round) % NKEYS, root);
    }
    return NULL;
}

/* A new store in conc with NKEYS keys derived from seed. */
static void conc_store(uint8_t seed)
{
    assert_true(sigil_is_ok(sigil_keystore_new(&conc.ks)));
    for (int i = 0; i < NKEYS; i++) {
        uint8_t ikm[32];
        memset(ikm, seed + i, sizeof ikm);
        assert_true(sigil_is_ok(sigil_bls_keygen(&conc.sk[i], ikm, sizeof ikm, NULL, 0)));
        sigil_bls_pk pk;
        sigil_bls_sk_to_pk(&pk, &conc.sk[i]);
        sigil_bls_pk_compress(conc.pk[i], &pk);
        assert_true(sigil_is_ok(sigil_keystore_add(conc.ks, &conc.sk[i], conc.pk[i], "k")));
    }
    atomic_store(&conc.bad, 0);
}

static void test_keystore_signs_through_cache(void **state)
{
    (void)state;
    conc_store(0x30);
    pthread_t t[NTHREADS];
    static int ids[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        ids[i] = i;
        assert_int_equal(pthread_create(&t[i], NULL, conc_signer, &ids[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
    }
    assert_int_equal(atomic_load(&conc.bad), 0);
    uint64_t hits, misses;
    sigil_keystore_msg_cache_stats(conc.ks, &hits, &misses);
    assert_int_equal(hits + misses, NTHREADS * ROUNDS);
    assert_true(hits > 0);
    /* every unique root misses at least once; each shared root can miss once per thread at most */
    assert_true(misses >= NTHREADS * ROUNDS / 2);

    /* other message lengths bypass the cache and still sign correctly */
    const uint8_t msg[5] = {1, 2, 3, 4, 5};
    uint8_t got[96], want[96];
    sigil_bls_sig sig;
    assert_true(sigil_is_ok(sigil_keystore_sign(conc.ks, conc.pk[0], msg, sizeof msg, got)));
    sigil_bls_sign(&sig, &conc.sk[0], msg, sizeof msg);
    sigil_bls_sig_compress(want, &sig);
    assert_memory_equal(got, want, 96);
    uint64_t hits2, misses2;
    sigil_keystore_msg_cache_stats(conc.ks, &hits2, &misses2);
    assert_int_equal(hits2 + misses2, hits + misses);
    sigil_keystore_free(conc.ks);
    sigil_wipe(conc.sk, sizeof conc.sk);
}

/* Turning the cache off, resizing it and turning it on again while another thread signs: every
 * signature stays right, and the counts follow the cache in place. */
static atomic_int resize_stop;

static void *resize_signer(void *arg)
{
    (void)arg;
    for (int round = 0; !atomic_load(&resize_stop) || round < 8; round++) {
        uint8_t root[32];
        root_of(root, (uint64_t)round % 2, 0x42); /* two roots, signed over and over */
        sign_and_compare(round % NKEYS, root);
    }
    return NULL;
}

static void test_keystore_cache_off_and_resize(void **state)
{
    (void)state;
    conc_store(0x50);
    assert_int_equal(sigil_keystore_set_msg_cache(conc.ks, SIGIL_KEYSTORE_MSG_CACHE_MAX + 1).code, SIGIL_ERR_ARG);

    /* off: nothing is counted, signatures are right */
    assert_true(sigil_is_ok(sigil_keystore_set_msg_cache(conc.ks, 0)));
    uint8_t root[32], sig1[96], sig2[96];
    root_of(root, 7, 7);
    assert_true(sigil_is_ok(sigil_keystore_sign(conc.ks, conc.pk[0], root, 32, sig1)));
    assert_true(sigil_is_ok(sigil_keystore_sign(conc.ks, conc.pk[0], root, 32, sig2)));
    assert_memory_equal(sig1, sig2, 96);
    uint64_t hits, misses;
    sigil_keystore_msg_cache_stats(conc.ks, &hits, &misses);
    assert_int_equal(hits, 0);
    assert_int_equal(misses, 0);

    /* on again (a new, empty cache): a miss, then a hit */
    assert_true(sigil_is_ok(sigil_keystore_set_msg_cache(conc.ks, 8)));
    assert_true(sigil_is_ok(sigil_keystore_sign(conc.ks, conc.pk[1], root, 32, sig1)));
    assert_true(sigil_is_ok(sigil_keystore_sign(conc.ks, conc.pk[1], root, 32, sig2)));
    assert_memory_equal(sig1, sig2, 96);
    sigil_keystore_msg_cache_stats(conc.ks, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 1);

    /* switched while another thread signs */
    atomic_store(&resize_stop, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, resize_signer, NULL), 0);
    for (int i = 0; i < 12; i++) {
        assert_true(sigil_is_ok(sigil_keystore_set_msg_cache(conc.ks, (size_t)(i % 3 == 0 ? 0 : 4 << i))));
    }
    atomic_store(&resize_stop, 1);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&conc.bad), 0);
    sigil_keystore_free(conc.ks);
    sigil_wipe(conc.sk, sizeof conc.sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hits_misses_and_eviction),
        cmocka_unit_test(test_keystore_signs_through_cache),
        cmocka_unit_test(test_keystore_cache_off_and_resize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
