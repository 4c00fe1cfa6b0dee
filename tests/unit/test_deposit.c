/* Unit tests for src/crypto/deposit: SSZ roots, domain and signing root against known answers,
 * signing and verification, credential/amount rules, and the JSON entry format.
 *
 * Known answers: produced by tests/interop/gen_deposit_kat.mjs with @lodestar/types 1.46.0
 * (ssz.phase0.DepositMessage / DepositData.hashTreeRoot), @lodestar/state-transition 1.46.0
 * (computeDomain(DOMAIN_DEPOSIT, GENESIS_FORK_VERSION, 0^32), computeSigningRoot),
 * @lodestar/config networksChainConfig for the fork versions (Holesky's 0x01017000 given
 * explicitly: Lodestar 1.46 no longer ships it) and @chainsafe/blst 2.2.0 for pubkey and
 * signature. Secret key: the EIP-2335 test secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"
#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/deposit.h"

static const char SECRET_HEX[] = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
static const char PUBKEY_HEX[] =
    "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07";
static const char WITHDRAWAL_PUBKEY_HEX[] =
    "a17ec83dc60fe5d43cf3767e06a75a3394847f204052d52fd9f3d53e044a5abb250749ea35399dfed58fe1f4765a8c52";
static const char ADDRESS_HEX[] = "00112233445566778899aabbccddeeff00112233";

struct kat {
    const char *network, *fork_version, *wc;
    uint64_t amount;
    const char *domain, *signing_root, *signature, *message_root, *data_root;
};

static const struct kat KATS[] = {
    {"mainnet", "00000000", "01000000000000000000000000112233445566778899aabbccddeeff00112233", 32000000000ull,
     "03000000f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a9",
     "b253aa0fae9cc39241d8db4c079c6547308bc17651d112ab2b54797fc75b9440",
     "b29c23a3b901e618fb919ce003bdd78268ea445ed3e044c4e0b71d79a8742a493609ff876c74dcb41cc6c0521992a3ab10e6a9510c6aabba"
     "256226cca8fb21ffcf606f8e487c672cb3f1ac449e32cbf7b640b08b51f03b3522f797addb398bd2",
     "21edea3337d9359300439c983222711ea48a93a253ccc90b7f5024c949eca06e",
     "2a5ba17812b3b0811a555d3075c9342cfac26a5f41c4cacfc26879738e86330d"},
    {"hoodi", "10000910", "02000000000000000000000000112233445566778899aabbccddeeff00112233", 2048000000000ull,
     "03000000719103511efa4f1362ff2a50996cccf329cc84cb410c5e5c7d351d03",
     "6f7a44729baacaead3a8383a68a98d3d24180fac3815ab708700442e6c037df9",
     "8df3533ca349a754b2541de845a44ca6f2263c116ae84e206f0b062656c712fd42424bc912693fd974c1a896a4a762d20f5e24d6bbd1798c"
     "8405f6fed8992f8c5a9e0010d37351611ad6e7cb82a92de2a8fbfb8a195041252a54dc857cb06bcf",
     "4b142d37a8c9142471071cdb1292684d4069cc0fe90ee4ae7ccfe8b1814dfc2f",
     "cc1b0a64ea4989ed5cfb1d5bc9db29ebff38ee9c06376bc00850a09d89d4ed63"},
    {"holesky", "01017000", "00dc62a639ea1896434dbd38793d526f2ffbd38736d413f2d241648e2bc3fc45", 32000000000ull,
     "030000005b83a23759c560b2d0c64576e1dcfc34ea94c4988f3e0d9f77f05387",
     "d07a969825854fe567504a05b74ddf82eeba31c7b8b0c2a329cd04e4318823cf",
     "b6fb29cd42ea86eeddef827f4a04af4bc5ecca100a281fbe2a9801fd8c57cfdc5c90a93efd0edbad54b8ca1d512360101559c70d72e52d95"
     "5eabaaa6f8482240d5baeb3b73bdd716a7399399280dad4e4a47b78fce301cacc91665714867e7a1",
     "19b29e52f80242e46fa1d86e098fd46e2e6edee596041e7749b02e837d352d7b",
     "50f7eec44c9137264344a5ed16842daa8b884c1d99e45592e2ee26c6a1c9e7c9"},
    {"sepolia", "90000069", "01000000000000000000000000112233445566778899aabbccddeeff00112233", 1000000000ull,
     "03000000d3010778cd08ee514b08fe67b6c503b510987a4ce43f42306d97c67c",
     "31d55a2bbec419de8d282e83abab5a34af65789b077c5ee0335e41c23b0e6db1",
     "b85f4e2d00d3ef1bb2d652e9caab6772816be5a36fd4101e9645730efdfdba4f30c6542d152b77c9b958562fcc981858116a7533902e2abb"
     "0155150703fb301c5e9ad7022c5a50669146ef402bfd243af3914fa0a9c19701a7b0e8194900b299",
     "838766893000aef9bc4626a895d2023db2a08c4718a962d5e0d2f7bca019a184",
     "93e6feef118441d4b363370e2cf30a154099631f918ffb8db7202ae732f7b706"},
};
#define NKATS (sizeof KATS / sizeof KATS[0])

static void unhex(uint8_t *out, size_t n, const char *hex)
{
    assert_true(sigil_is_ok(sigil_hex_decode_exact(out, n, hex, strlen(hex))));
}

static void assert_hex(const uint8_t *got, size_t n, const char *want_hex)
{
    char buf[2 * 96 + 3];
    sigil_hex_encode(buf, got, n, 0);
    assert_string_equal(buf, want_hex);
}

static sigil_bls_sk *test_sk(void)
{
    uint8_t b[32];
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    assert_non_null(sk);
    unhex(b, 32, SECRET_HEX);
    assert_true(sigil_is_ok(sigil_bls_sk_from_bytes(sk, b)));
    sigil_wipe(b, sizeof b);
    return sk;
}

static void test_networks(void **state)
{
    (void)state;
    for (size_t i = 0; i < NKATS; i++) {
        const struct sigil_deposit_network *net;
        assert_true(sigil_is_ok(sigil_deposit_network_lookup(&net, KATS[i].network)));
        assert_hex(net->fork_version, 4, KATS[i].fork_version);
    }
    const struct sigil_deposit_network *net;
    assert_int_equal(sigil_deposit_network_lookup(&net, "goerli").code, SIGIL_ERR_NOT_FOUND);
    assert_int_equal(sigil_deposit_network_lookup(&net, NULL).code, SIGIL_ERR_NOT_FOUND);
    assert_int_equal(sigil_deposit_network_lookup(&net, "Mainnet").code, SIGIL_ERR_NOT_FOUND);
}

static void test_known_roots(void **state)
{
    (void)state;
    uint8_t pk[48], wc[32], sig[96], fv[4], root[32], domain[32];
    unhex(pk, 48, PUBKEY_HEX);
    for (size_t i = 0; i < NKATS; i++) {
        const struct kat *k = &KATS[i];
        unhex(wc, 32, k->wc);
        unhex(sig, 96, k->signature);
        unhex(fv, 4, k->fork_version);
        sigil_deposit_message_root(root, pk, wc, k->amount);
        assert_hex(root, 32, k->message_root);
        sigil_deposit_compute_domain(domain, fv);
        assert_hex(domain, 32, k->domain);
        uint8_t signing[32];
        sigil_deposit_signing_root(signing, root, domain);
        assert_hex(signing, 32, k->signing_root);
        sigil_deposit_data_root(root, pk, wc, k->amount, sig);
        assert_hex(root, 32, k->data_root);
    }
}

static void test_withdrawal_credentials(void **state)
{
    (void)state;
    uint8_t addr[20], wc[32], wpk[48];
    unhex(addr, 20, ADDRESS_HEX);
    assert_true(sigil_is_ok(sigil_deposit_withdrawal_credentials(wc, SIGIL_DEPOSIT_WC_ETH1, addr)));
    assert_hex(wc, 32, KATS[0].wc);
    assert_true(sigil_is_ok(sigil_deposit_withdrawal_credentials(wc, SIGIL_DEPOSIT_WC_COMPOUNDING, addr)));
    assert_hex(wc, 32, KATS[1].wc);
    assert_int_equal(sigil_deposit_withdrawal_credentials(wc, 0x00, addr).code, SIGIL_ERR_ARG);
    assert_int_equal(sigil_deposit_withdrawal_credentials(wc, 0x03, addr).code, SIGIL_ERR_ARG);
    unhex(wpk, 48, WITHDRAWAL_PUBKEY_HEX);
    sigil_deposit_bls_withdrawal_credentials(wc, wpk);
    assert_hex(wc, 32, KATS[2].wc);
}

static void test_amount_rules(void **state)
{
    (void)state;
    uint8_t wc[32] = {0};
    const uint64_t eth = SIGIL_DEPOSIT_GWEI_PER_ETH;
    for (int t = 0; t <= 2; t++) {
        wc[0] = (uint8_t)t;
        uint64_t max = t == 2 ? 2048 * eth : 32 * eth;
        assert_true(sigil_is_ok(sigil_deposit_check(wc, eth)));
        assert_true(sigil_is_ok(sigil_deposit_check(wc, 32 * eth)));
        assert_true(sigil_is_ok(sigil_deposit_check(wc, max)));
        assert_int_equal(sigil_deposit_check(wc, max + 1).code, SIGIL_ERR_ARG);
        assert_int_equal(sigil_deposit_check(wc, eth - 1).code, SIGIL_ERR_ARG);
        assert_int_equal(sigil_deposit_check(wc, 0).code, SIGIL_ERR_ARG);
        assert_int_equal(sigil_deposit_check(wc, UINT64_MAX).code, SIGIL_ERR_ARG);
    }
    wc[0] = 0x01;
    wc[5] = 1; /* padding must be zero */
    assert_int_equal(sigil_deposit_check(wc, 32 * eth).code, SIGIL_ERR_ARG);
    wc[5] = 0;
    wc[0] = 0x03;
    assert_int_equal(sigil_deposit_check(wc, 32 * eth).code, SIGIL_ERR_ARG);
    wc[0] = 0xff;
    assert_int_equal(sigil_deposit_check(wc, 32 * eth).code, SIGIL_ERR_ARG);
}

static void test_create_and_verify(void **state)
{
    (void)state;
    sigil_bls_sk *sk = test_sk();
    for (size_t i = 0; i < NKATS; i++) {
        const struct kat *k = &KATS[i];
        uint8_t wc[32];
        unhex(wc, 32, k->wc);
        struct sigil_deposit_data d;
        assert_true(sigil_is_ok(sigil_deposit_create(&d, sk, wc, k->amount, k->network, NULL)));
        assert_hex(d.pubkey, 48, PUBKEY_HEX);
        assert_hex(d.withdrawal_credentials, 32, k->wc);
        assert_int_equal(d.amount, k->amount);
        /* BLS signatures are deterministic, so blst's signature is the known answer. */
        assert_hex(d.signature, 96, k->signature);
        assert_hex(d.deposit_message_root, 32, k->message_root);
        assert_hex(d.deposit_data_root, 32, k->data_root);
        assert_hex(d.fork_version, 4, k->fork_version);
        assert_string_equal(d.network_name, k->network);
        assert_string_equal(d.deposit_cli_version, SIGIL_DEPOSIT_DEFAULT_CLI_VERSION);
        assert_true(sigil_is_ok(sigil_deposit_verify(&d)));

        /* Tampering with any signed or derived field breaks verification. */
        struct sigil_deposit_data t = d;
        t.amount -= 1;
        assert_int_equal(sigil_deposit_verify(&t).code, SIGIL_ERR_ARG);
        t = d;
        t.withdrawal_credentials[31] ^= 1;
        assert_int_equal(sigil_deposit_verify(&t).code, SIGIL_ERR_ARG);
        t = d;
        t.deposit_data_root[0] ^= 1;
        assert_int_equal(sigil_deposit_verify(&t).code, SIGIL_ERR_ARG);
        assert_non_null(strstr(sigil_error_detail(), "deposit_data_root"));
        t = d;
        t.fork_version[3] ^= 1;
        assert_int_equal(sigil_deposit_verify(&t).code, SIGIL_ERR_ARG);
        /* Same fork version under an unknown name: roots fine, but the signature was made
         * for the real fork version, so it must still fail. */
        t = d;
        snprintf(t.network_name, sizeof t.network_name, "devnet");
        t.fork_version[0] ^= 0x40;
        assert_false(sigil_is_ok(sigil_deposit_verify(&t)));
        /* A signature over different roots, with the data root recomputed to match. */
        t = d;
        unhex(t.signature, 96, KATS[(i + 1) % NKATS].signature);
        sigil_deposit_data_root(t.deposit_data_root, t.pubkey, t.withdrawal_credentials, t.amount, t.signature);
        assert_int_equal(sigil_deposit_verify(&t).code, SIGIL_ERR_ARG);
        assert_non_null(strstr(sigil_error_detail(), "signature"));
        /* A pubkey that is not a curve point. */
        t = d;
        t.pubkey[47] ^= 1;
        sigil_deposit_message_root(t.deposit_message_root, t.pubkey, t.withdrawal_credentials, t.amount);
        sigil_deposit_data_root(t.deposit_data_root, t.pubkey, t.withdrawal_credentials, t.amount, t.signature);
        assert_false(sigil_is_ok(sigil_deposit_verify(&t)));
    }
    /* Creation refuses bad inputs. */
    struct sigil_deposit_data d;
    uint8_t wc[32];
    unhex(wc, 32, KATS[0].wc);
    assert_int_equal(sigil_deposit_create(&d, sk, wc, 32000000000ull, "goerli", NULL).code, SIGIL_ERR_NOT_FOUND);
    assert_int_equal(sigil_deposit_create(&d, sk, wc, 33000000000ull, "mainnet", NULL).code, SIGIL_ERR_ARG);
    assert_int_equal(
        sigil_deposit_create(&d, sk, wc, 32000000000ull, "mainnet", "0123456789012345678901234567890123456789").code,
        SIGIL_ERR_ARG);
    sigil_secure_free(sk);
}

static void test_json(void **state)
{
    (void)state;
    sigil_bls_sk *sk = test_sk();
    uint8_t wc[32];
    unhex(wc, 32, KATS[0].wc);
    struct sigil_deposit_data d, back;
    assert_true(sigil_is_ok(sigil_deposit_create(&d, sk, wc, 32000000000ull, "mainnet", "2.7.0")));
    json_t *j;
    assert_true(sigil_is_ok(sigil_deposit_to_json(&j, &d)));
    char *text = json_dumps(j, JSON_COMPACT);
    char want[2048];
    snprintf(want, sizeof want,
             "{\"pubkey\":\"%s\",\"withdrawal_credentials\":\"%s\",\"amount\":32000000000,\"signature\":\"%s\","
             "\"deposit_message_root\":\"%s\",\"deposit_data_root\":\"%s\",\"fork_version\":\"00000000\","
             "\"network_name\":\"mainnet\",\"deposit_cli_version\":\"2.7.0\"}",
             PUBKEY_HEX, KATS[0].wc, KATS[0].signature, KATS[0].message_root, KATS[0].data_root);
    assert_string_equal(text, want);
    free(text);
    assert_true(sigil_is_ok(sigil_deposit_from_json(&back, j)));
    assert_memory_equal(&back, &d, sizeof d);
    assert_true(sigil_is_ok(sigil_deposit_verify(&back)));

    /* Missing and malformed fields name the field. */
    json_t *c = json_deep_copy(j);
    json_object_del(c, "signature");
    assert_int_equal(sigil_deposit_from_json(&back, c).code, SIGIL_ERR_PARSE);
    assert_non_null(strstr(sigil_error_detail(), "signature"));
    json_decref(c);
    c = json_deep_copy(j);
    json_object_set_new(c, "pubkey", json_string("abcd"));
    assert_int_equal(sigil_deposit_from_json(&back, c).code, SIGIL_ERR_PARSE);
    assert_non_null(strstr(sigil_error_detail(), "pubkey"));
    json_decref(c);
    c = json_deep_copy(j);
    json_object_set_new(c, "amount", json_integer(-1));
    assert_int_equal(sigil_deposit_from_json(&back, c).code, SIGIL_ERR_PARSE);
    json_decref(c);
    c = json_deep_copy(j);
    json_object_set_new(c, "network_name", json_string("a-network-name-that-is-much-too-long-to-fit"));
    assert_int_equal(sigil_deposit_from_json(&back, c).code, SIGIL_ERR_PARSE);
    json_decref(c);
    json_decref(j);
    sigil_secure_free(sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_known_roots),
        cmocka_unit_test(test_withdrawal_credentials),
        cmocka_unit_test(test_amount_rules),
        cmocka_unit_test(test_create_and_verify),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
