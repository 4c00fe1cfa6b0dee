/* Unit tests for src/keys store.c: add/remove/has/sign/list, duplicates, pubkey checks,
 * enable/disable, wiping, and signing on several threads while another adds and removes keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/secmem.h"
#include "crypto/bls.h"
#include "keys/keystore.h"

/* Key i of the tests: KeyGen over a 32-byte IKM derived from i. */
static void test_sk(sigil_bls_sk *sk, unsigned i)
{
    uint8_t ikm[32];
    for (int k = 0; k < 32; k++) {
        ikm[k] = (uint8_t)(i * 31 + (unsigned)k * 7 + 1);
    }
    assert_true(sigil_is_ok(sigil_bls_keygen(sk, ikm, sizeof(ikm), NULL, 0)));
}

static void test_pk(uint8_t out[48], const sigil_bls_sk *sk)
{
    sigil_bls_pk pk;
    sigil_bls_sk_to_pk(&pk, sk);
    sigil_bls_pk_compress(out, &pk);
}

static bool sig_verifies(const uint8_t pkb[48], const uint8_t *msg, size_t len, const uint8_t sigb[96])
{
    sigil_bls_pk pk;
    sigil_bls_sig sig;
    if (!sigil_is_ok(sigil_bls_pk_decompress(&pk, pkb)) || !sigil_is_ok(sigil_bls_sig_decompress(&sig, sigb))) {
        return false;
    }
    return sigil_bls_verify_var(&pk, msg, len, &sig);
}

static void test_add_sign_remove(void **state)
{
    (void)state;
    size_t base = sigil_secure_in_use();
    struct sigil_keystore *ks;
    assert_true(sigil_is_ok(sigil_keystore_new(&ks)));
    assert_int_equal(sigil_keystore_count(ks), 0);

    sigil_bls_sk sk;
    uint8_t pk[48], sig[96], other[48];
    test_sk(&sk, 1);
    test_pk(pk, &sk);
    assert_false(sigil_keystore_has(ks, pk));
    assert_true(sigil_is_ok(sigil_keystore_add(ks, &sk, NULL, "keystore-1.json")));
    assert_true(sigil_keystore_has(ks, pk));
    assert_int_equal(sigil_keystore_count(ks), 1);
    assert_true(sigil_secure_in_use() > base); /* the secret is in secure memory */

    static const uint8_t msg[32] = {0xab, 0xcd};
    assert_true(sigil_is_ok(sigil_keystore_sign(ks, pk, msg, sizeof(msg), sig)));
    assert_true(sig_verifies(pk, msg, sizeof(msg), sig));
    assert_false(sig_verifies(pk, msg, sizeof(msg) - 1, sig));

    /* BLS signatures are deterministic: the store signs exactly like the bare key. */
    sigil_bls_sig direct;
    uint8_t direct_b[96];
    sigil_bls_sign(&direct, &sk, msg, sizeof(msg));
    sigil_bls_sig_compress(direct_b, &direct);
    assert_memory_equal(sig, direct_b, 96);

    /* empty message */
    assert_true(sigil_is_ok(sigil_keystore_sign(ks, pk, NULL, 0, sig)));
    assert_true(sig_verifies(pk, (const uint8_t *)"", 0, sig));

    memcpy(other, pk, 48);
    other[47] ^= 1;
    assert_int_equal(sigil_keystore_sign(ks, other, msg, sizeof(msg), sig).code, SIGIL_ERR_NOT_FOUND);
    assert_int_equal(sigil_keystore_remove(ks, other).code, SIGIL_ERR_NOT_FOUND);

    assert_true(sigil_is_ok(sigil_keystore_remove(ks, pk)));
    assert_false(sigil_keystore_has(ks, pk));
    assert_int_equal(sigil_keystore_count(ks), 0);
    assert_int_equal(sigil_keystore_sign(ks, pk, msg, sizeof(msg), sig).code, SIGIL_ERR_NOT_FOUND);
    assert_int_equal(sigil_secure_in_use(), base); /* wiped and returned */
    sigil_keystore_free(ks);
    sigil_wipe(&sk, sizeof(sk));
}

static void test_duplicate_and_pubkey_check(void **state)
{
    (void)state;
    struct sigil_keystore *ks;
    assert_true(sigil_is_ok(sigil_keystore_new(&ks)));
    sigil_bls_sk a, b, zero;
    uint8_t pa[48], pb[48];
    test_sk(&a, 2);
    test_sk(&b, 3);
    test_pk(pa, &a);
    test_pk(pb, &b);
    assert_true(sigil_is_ok(sigil_keystore_add(ks, &a, pa, "a")));
    assert_int_equal(sigil_keystore_add(ks, &a, NULL, "a-again").code, SIGIL_ERR_CONFLICT);
    assert_int_equal(sigil_keystore_add(ks, &a, pa, "a-again").code, SIGIL_ERR_CONFLICT);
    /* b labelled with a's public key: refused, nothing added */
    assert_int_equal(sigil_keystore_add(ks, &b, pa, "liar").code, SIGIL_ERR_KEYSTORE_PUBKEY);
    assert_false(sigil_keystore_has(ks, pb));
    assert_int_equal(sigil_keystore_count(ks), 1);
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(sigil_keystore_add(ks, &zero, NULL, "zero").code, SIGIL_ERR_BLS_SCALAR);
    assert_int_equal(sigil_keystore_add(ks, NULL, NULL, "null").code, SIGIL_ERR_ARG);
    assert_true(sigil_is_ok(sigil_keystore_add(ks, &b, NULL, NULL)));
    assert_int_equal(sigil_keystore_count(ks), 2);
    sigil_keystore_free(ks);
}

static int cmp48(const void *x, const void *y) { return memcmp(x, y, 48); }

static void test_list_order_and_enable(void **state)
{
    (void)state;
    enum { N = 40 };
    struct sigil_keystore *ks;
    assert_true(sigil_is_ok(sigil_keystore_new(&ks)));
    uint8_t pks[N][48];
    char name[200];
    for (unsigned i = 0; i < N; i++) {
        sigil_bls_sk sk;
        test_sk(&sk, 100 + i);
        test_pk(pks[i], &sk);
        /* a long name is truncated in the listing, never overflowed */
        if (i == 7) {
            memset(name, 'x', 150);
            name[150] = '\0';
        } else {
            snprintf(name, sizeof(name), "key-%u.json", i);
        }
        assert_true(sigil_is_ok(sigil_keystore_add(ks, &sk, NULL, name)));
    }
    struct sigil_key_info *info;
    size_t n;
    assert_true(sigil_is_ok(sigil_keystore_list(ks, &info, &n)));
    assert_int_equal(n, N);
    for (size_t i = 1; i < n; i++) {
        assert_true(memcmp(info[i - 1].pubkey, info[i].pubkey, 48) < 0);
    }
    qsort(pks, N, 48, cmp48);
    for (size_t i = 0; i < n; i++) {
        assert_memory_equal(info[i].pubkey, pks[i], 48);
        assert_true(info[i].enabled);
        assert_true(strlen(info[i].name) < sizeof(info[i].name));
    }
    free(info);

    /* disable: listed as disabled, refuses to sign, still present */
    uint8_t sig[96];
    assert_true(sigil_is_ok(sigil_keystore_set_enabled(ks, pks[5], false)));
    assert_int_equal(sigil_keystore_sign(ks, pks[5], (const uint8_t *)"m", 1, sig).code, SIGIL_ERR_KEY_DISABLED);
    assert_true(sigil_keystore_has(ks, pks[5]));
    assert_true(sigil_is_ok(sigil_keystore_list(ks, &info, &n)));
    assert_false(info[5].enabled);
    assert_true(info[4].enabled);
    free(info);
    assert_true(sigil_is_ok(sigil_keystore_set_enabled(ks, pks[5], true)));
    assert_true(sigil_is_ok(sigil_keystore_sign(ks, pks[5], (const uint8_t *)"m", 1, sig)));
    uint8_t absent[48] = {0};
    assert_int_equal(sigil_keystore_set_enabled(ks, absent, false).code, SIGIL_ERR_NOT_FOUND);

    /* remove from the middle, the ends, keep order */
    assert_true(sigil_is_ok(sigil_keystore_remove(ks, pks[0])));
    assert_true(sigil_is_ok(sigil_keystore_remove(ks, pks[N - 1])));
    assert_true(sigil_is_ok(sigil_keystore_remove(ks, pks[N / 2])));
    assert_true(sigil_is_ok(sigil_keystore_list(ks, &info, &n)));
    assert_int_equal(n, N - 3);
    for (size_t i = 1; i < n; i++) {
        assert_true(memcmp(info[i - 1].pubkey, info[i].pubkey, 48) < 0);
    }
    free(info);
    sigil_keystore_free(ks);

    /* empty store lists nothing */
    assert_true(sigil_is_ok(sigil_keystore_new(&ks)));
    assert_true(sigil_is_ok(sigil_keystore_list(ks, &info, &n)));
    assert_int_equal(n, 0);
    assert_null(info);
    sigil_keystore_free(ks);
    sigil_keystore_free(NULL);
}

/* ---- concurrency ---- */

struct conc {
    struct sigil_keystore *ks;
    uint8_t stable_pk[4][48];
    uint8_t churn_pk[16][48];
    sigil_bls_sk churn_sk[16];
    _Atomic int stop;
    _Atomic int bad;
    _Atomic unsigned long signs;
};

static void *signer(void *arg)
{
    struct conc *c = arg;
    unsigned i = 0;
    uint8_t msg[32], sig[96];
    while (!atomic_load(&c->stop)) {
        const uint8_t *pk = c->stable_pk[i % 4];
        memset(msg, (int)i, sizeof(msg));
        bool ok = sigil_is_ok(sigil_keystore_sign(c->ks, pk, msg, sizeof(msg), sig)) &&
                  (i % 8 != 0 || sig_verifies(pk, msg, sizeof(msg), sig));
        if (!ok) {
            atomic_store(&c->bad, 1);
        }
        /* keys being added and removed: either signs correctly or is absent */
        const uint8_t *cpk = c->churn_pk[i % 16];
        sigil_result r = sigil_keystore_sign(c->ks, cpk, msg, sizeof(msg), sig);
        if (sigil_is_ok(r)) {
            if (i % 8 == 4 && !sig_verifies(cpk, msg, sizeof(msg), sig)) {
                atomic_store(&c->bad, 1);
            }
        } else if (r.code != SIGIL_ERR_NOT_FOUND) {
            atomic_store(&c->bad, 1);
        }
        (void)sigil_keystore_has(c->ks, cpk);
        atomic_fetch_add(&c->signs, 1);
        i++;
    }
    return NULL;
}

static void test_concurrent_sign_add_remove(void **state)
{
    (void)state;
    static struct conc c;
    memset(&c, 0, sizeof(c));
    assert_true(sigil_is_ok(sigil_keystore_new(&c.ks)));
    for (unsigned i = 0; i < 4; i++) {
        sigil_bls_sk sk;
        test_sk(&sk, 500 + i);
        test_pk(c.stable_pk[i], &sk);
        assert_true(sigil_is_ok(sigil_keystore_add(c.ks, &sk, NULL, "stable")));
    }
    for (unsigned i = 0; i < 16; i++) {
        test_sk(&c.churn_sk[i], 600 + i);
        test_pk(c.churn_pk[i], &c.churn_sk[i]);
    }
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, signer, &c), 0);
    }
    /* writer: 30 rounds of add all / list / remove all */
    for (int round = 0; round < 30; round++) {
        for (unsigned i = 0; i < 16; i++) {
            assert_true(sigil_is_ok(sigil_keystore_add(c.ks, &c.churn_sk[i], c.churn_pk[i], "churn")));
        }
        struct sigil_key_info *info;
        size_t n;
        assert_true(sigil_is_ok(sigil_keystore_list(c.ks, &info, &n)));
        assert_int_equal(n, 20);
        free(info);
        for (unsigned i = 0; i < 16; i++) {
            assert_true(sigil_is_ok(sigil_keystore_remove(c.ks, c.churn_pk[i])));
        }
    }
    atomic_store(&c.stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
    }
    assert_int_equal(atomic_load(&c.bad), 0);
    assert_true(atomic_load(&c.signs) > 0);
    assert_int_equal(sigil_keystore_count(c.ks), 4);
    sigil_keystore_free(c.ks);
    sigil_wipe(c.churn_sk, sizeof(c.churn_sk));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_sign_remove),
        cmocka_unit_test(test_duplicate_and_pubkey_check),
        cmocka_unit_test(test_list_order_and_enable),
        cmocka_unit_test(test_concurrent_sign_add_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
