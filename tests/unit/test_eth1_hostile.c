/* Hostile input for src/eth1: malformed and non-canonical RLP, oversized and deeply nested
 * input, bad transaction JSON (each error names its field), wrong chain ids, hostile EIP-712
 * documents and keystores. Every case must fail cleanly with the expected error class. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "eth1/eip191.h"
#include "eth1/eip712.h"
#include "eth1/rlp.h"
#include "eth1/secp256k1.h"
#include "eth1/tx.h"

static sigil_result rlp_hex(const char *hex)
{
    uint8_t buf[256];
    size_t n = 0;
    assert_true(sigil_is_ok(sigil_hex_decode(buf, sizeof buf, &n, hex, strlen(hex))));
    sigil_rlp_item it;
    return sigil_rlp_decode(&it, buf, n);
}

static void test_rlp_hostile(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",                       /* empty */
        "8100",                   /* single byte < 0x80 wrapped */
        "817f",                   /* same */
        "b800",                   /* long form for a short string */
        "b90000",                 /* leading zero in length */
        "83646f",                 /* truncated string */
        "c3010203ff",             /* trailing byte */
        "c2c3",                   /* child overruns parent */
        "bf0f000000000000021111", /* absurd length */
        "f800",                   /* long list form below 56 */
        "0102",                   /* two items at top level */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sigil_result r = rlp_hex(bad[i]);
        if (sigil_is_ok(r)) {
            fail_msg("accepted %s", bad[i]);
        }
    }
    /* Depth: 40 nested empty lists. */
    uint8_t deep[40];
    for (int i = 0; i < 40; i++) {
        deep[i] = (uint8_t)(0xc0 + (39 - i));
    }
    sigil_rlp_item it;
    assert_int_equal(sigil_rlp_decode(&it, deep, sizeof deep).code, SIGIL_ERR_TOO_LARGE);
    /* Encoder limits: size cap and unbalanced lists. */
    sigil_rlp_builder b;
    sigil_rlp_builder_init(&b, 10);
    uint8_t big[32] = {0};
    sigil_rlp_put_bytes(&b, big, sizeof big);
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(sigil_rlp_builder_finish(&b, &out, &n).code, SIGIL_ERR_TOO_LARGE);
    sigil_rlp_builder_init(&b, 0);
    sigil_rlp_list_begin(&b);
    assert_int_equal(sigil_rlp_builder_finish(&b, &out, &n).code, SIGIL_ERR_ARG);
    for (int i = 0; i <= SIGIL_RLP_MAX_DEPTH; i++) {
        sigil_rlp_list_begin(&b);
    }
    assert_false(sigil_is_ok(sigil_rlp_builder_finish(&b, &out, &n)));
    /* Canonical integers. */
    uint8_t z[2] = {0x82, 0x00};
    sigil_rlp_item zi = {.is_list = false, .payload = z + 1, .len = 1};
    uint64_t v;
    assert_false(sigil_is_ok(sigil_rlp_item_u64(&v, &zi, "nonce")));
    assert_non_null(strstr(sigil_error_detail(), "nonce"));
}

static const char *BASE_TX = "{\"type\":\"0x2\",\"chainId\":\"0x1\",\"nonce\":\"0x1\",\"gas\":\"0x5208\","
                             "\"maxFeePerGas\":\"0x10\",\"maxPriorityFeePerGas\":\"0x1\","
                             "\"to\":\"0x3535353535353535353535353535353535353535\",\"value\":\"0x0\","
                             "\"data\":\"0x\"}";

/* Applies one member override to BASE_TX and expects a parse failure naming `field`. */
static void expect_tx_error(const char *key, json_t *value, const char *field)
{
    json_error_t e;
    json_t *o = json_loads(BASE_TX, 0, &e);
    assert_non_null(o);
    if (value == NULL) {
        json_object_del(o, key);
    } else {
        json_object_set_new(o, key, value);
    }
    struct sigil_eth1_tx tx;
    sigil_result r = sigil_eth1_tx_from_json(&tx, o);
    if (sigil_is_ok(r)) {
        fail_msg("accepted hostile %s", key);
    }
    if (field != NULL && strstr(sigil_error_detail(), field) == NULL) {
        fail_msg("error for %s does not name %s: %s", key, field, sigil_error_detail());
    }
    json_decref(o);
}

static void test_tx_json_hostile(void **state)
{
    (void)state;
    expect_tx_error("nonce", json_string("0x01"), "nonce");
    expect_tx_error("nonce", json_string("1"), "nonce");
    expect_tx_error("nonce", json_integer(1), "nonce");
    expect_tx_error("nonce", json_string("0x10000000000000000"), "nonce");
    expect_tx_error("nonce", NULL, "nonce");
    expect_tx_error("gas", json_string("0xg"), "gas");
    expect_tx_error("value",
                    json_string("0x1"
                                "0000000000000000000000000000000000000000000000000000000000000000"),
                    "value");
    expect_tx_error("to", json_string("0x3535"), "to");
    expect_tx_error("to", json_string("0xAbcdefabcdefabcdefabcdefabcdefabcdefabcd"), "to");
    expect_tx_error("data", json_string("0x123"), "data");
    expect_tx_error("data", json_string("1234"), "data");
    expect_tx_error("input", json_string("0x1234"), "input");
    expect_tx_error("chainId", NULL, "chainId");
    expect_tx_error("type", json_string("0x7"), "type");
    expect_tx_error("gasPrice", json_string("0x1"), "gasPrice");
    expect_tx_error("maxFeePerGas", NULL, "maxFeePerGas");
    expect_tx_error("maxPriorityFeePerGas", json_string("0x11"), "maxPriorityFeePerGas");
    expect_tx_error("blobVersionedHashes", json_array(), "blobVersionedHashes");
    expect_tx_error("authorizationList", json_array(), "authorizationList");
    expect_tx_error("accessList", json_string("nope"), "accessList");
    expect_tx_error("bogus", json_string("0x1"), NULL);
    json_t *huge = json_array();
    for (int i = 0; i < SIGIL_TX_MAX_ACCESS_LIST + 1; i++) {
        json_array_append_new(
            huge, json_pack("{s:s,s:[]}", "address", "0x3535353535353535353535353535353535353535", "storageKeys"));
    }
    expect_tx_error("accessList", huge, "accessList");
    size_t big = SIGIL_TX_MAX_DATA + 1;
    char *hex = malloc(2 * big + 3);
    assert_non_null(hex);
    memcpy(hex, "0x", 2);
    memset(hex + 2, '0', 2 * big);
    hex[2 * big + 2] = 0;
    expect_tx_error("data", json_string(hex), "data");
    free(hex);
    expect_tx_error("from", json_string("0x1111"), "from");
}

static void test_wrong_chain_and_from(void **state)
{
    (void)state;
    json_error_t e;
    json_t *o = json_loads(BASE_TX, 0, &e);
    json_object_set_new(o, "from", json_string("0x1111111111111111111111111111111111111111"));
    struct sigil_eth1_tx tx;
    assert_true(sigil_is_ok(sigil_eth1_tx_from_json(&tx, o)));
    assert_true(sigil_is_ok(sigil_eth1_tx_check_chain(&tx, 1)));
    assert_int_equal(sigil_eth1_tx_check_chain(&tx, 11155111).code, SIGIL_ERR_ARG);
    assert_non_null(strstr(sigil_error_detail(), "chainId"));
    uint8_t k[32];
    memset(k, 0x46, 32);
    sigil_secp256k1_sk *sk = NULL;
    assert_true(sigil_is_ok(sigil_secp256k1_sk_from_bytes(&sk, k)));
    assert_int_equal(sigil_eth1_tx_sign(&tx, sk).code, SIGIL_ERR_FORBIDDEN);
    sigil_eth1_tx_free(&tx);
    /* Legacy without EIP-155 is refused by the chain check. */
    json_t *l = json_pack("{s:s,s:s,s:s,s:s}", "nonce", "0x0", "gas", "0x5208", "gasPrice", "0x1", "to",
                          "0x3535353535353535353535353535353535353535");
    assert_true(sigil_is_ok(sigil_eth1_tx_from_json(&tx, l)));
    assert_int_equal(tx.type, 0);
    assert_false(sigil_is_ok(sigil_eth1_tx_check_chain(&tx, 1)));
    sigil_eth1_tx_free(&tx);
    /* A legacy chainId of 0 is ambiguous (ethers: no EIP-155) and refused. */
    json_object_set_new(l, "chainId", json_string("0x0"));
    assert_false(sigil_is_ok(sigil_eth1_tx_from_json(&tx, l)));
    assert_non_null(strstr(sigil_error_detail(), "chainId"));
    /* Invalid keys. */
    sigil_secp256k1_sk *bad = NULL;
    memset(k, 0, 32);
    assert_int_equal(sigil_secp256k1_sk_from_bytes(&bad, k).code, SIGIL_ERR_ARG);
    memset(k, 0xff, 32);
    assert_int_equal(sigil_secp256k1_sk_from_bytes(&bad, k).code, SIGIL_ERR_ARG);
    sigil_secp256k1_sk_free(sk);
    json_decref(l);
    json_decref(o);
}

static void test_tx_decode_hostile(void **state)
{
    (void)state;
    struct sigil_eth1_tx tx;
    static const char *const bad[] = {
        "",
        "05c0",                 /* unknown type */
        "02c0",                 /* too few fields */
        "80",                   /* not a list */
        "f84a8080808080808080", /* truncated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t buf[64];
        size_t n = 0;
        assert_true(sigil_is_ok(sigil_hex_decode(buf, sizeof buf, &n, bad[i], strlen(bad[i]))));
        sigil_result r = sigil_eth1_tx_decode(&tx, buf, n);
        sigil_eth1_tx_free(&tx);
        if (sigil_is_ok(r)) {
            fail_msg("accepted %s", bad[i]);
        }
    }
    uint8_t *huge = calloc(1, SIGIL_TX_MAX_RAW + 1);
    assert_non_null(huge);
    huge[0] = 0x02;
    assert_int_equal(sigil_eth1_tx_decode(&tx, huge, SIGIL_TX_MAX_RAW + 1).code, SIGIL_ERR_TOO_LARGE);
    sigil_eth1_tx_free(&tx);
    free(huge);
    /* A high-s signature is refused on recovery. */
    struct sigil_secp256k1_sig sig;
    memset(&sig, 0xff, sizeof sig);
    sig.y_parity = 0;
    uint8_t h[32] = {1};
    uint8_t addr[20];
    assert_int_equal(sigil_secp256k1_recover_address(addr, &sig, h).code, SIGIL_ERR_PARSE);
}

static void expect_typed_error(const char *doc, enum sigil_err code)
{
    uint8_t d[32];
    sigil_result r = sigil_eip712_hash_json(d, doc, strlen(doc));
    if (r.code != code) {
        fail_msg("%s: got %d (%s), want %d", doc, r.code, sigil_error_detail(), code);
    }
}

static void test_eip712_hostile(void **state)
{
    (void)state;
    expect_typed_error("[]", SIGIL_ERR_PARSE);
    expect_typed_error("{\"types\":{},\"primaryType\":\"T\",\"domain\":{},\"message\":{}}", SIGIL_ERR_PARSE);
    expect_typed_error("{\"types\":{\"T\":[{\"name\":\"v\",\"type\":\"uint7\"}]},\"primaryType\":\"T\","
                       "\"domain\":{},\"message\":{\"v\":1}}",
                       SIGIL_ERR_PARSE);
    expect_typed_error("{\"types\":{\"T\":[{\"name\":\"v\",\"type\":\"uint8\"}]},\"primaryType\":\"T\","
                       "\"domain\":{},\"message\":{\"v\":256}}",
                       SIGIL_ERR_PARSE);
    expect_typed_error("{\"types\":{\"T\":[{\"name\":\"v\",\"type\":\"int8\"}]},\"primaryType\":\"T\","
                       "\"domain\":{},\"message\":{\"v\":\"-129\"}}",
                       SIGIL_ERR_PARSE);
    expect_typed_error("{\"types\":{\"T\":[{\"name\":\"v\",\"type\":\"int8\"}]},\"primaryType\":\"T\","
                       "\"domain\":{},\"message\":{\"v\":1.5}}",
                       SIGIL_ERR_PARSE);
    expect_typed_error("{\"types\":{\"T\":[{\"name\":\"v\",\"type\":\"bool[2]\"}]},\"primaryType\":\"T\","
                       "\"domain\":{},\"message\":{\"v\":[true]}}",
                       SIGIL_ERR_PARSE);
    expect_typed_error("{\"types\":{\"T\":[{\"name\":\"v\",\"type\":\"bool[0]\"}]},\"primaryType\":\"T\","
                       "\"domain\":{},\"message\":{\"v\":[]}}",
                       SIGIL_ERR_PARSE);
    expect_typed_error("{\"types\":{\"T\":[{\"name\":\"v\",\"type\":\"bool[\"}]},\"primaryType\":\"T\","
                       "\"domain\":{},\"message\":{\"v\":[]}}",
                       SIGIL_ERR_PARSE);
    expect_typed_error("{\"types\":{\"T\":[{\"name\":\"v\",\"type\":\"bool\"}]},\"primaryType\":\"T\","
                       "\"domain\":{\"chainId\":\"x\"},\"message\":{\"v\":true}}",
                       SIGIL_ERR_PARSE);
    expect_typed_error("{\"types\":{\"T\":[{\"name\":\"v\",\"type\":\"bool\"}]},\"primaryType\":\"T\","
                       "\"domain\":{},\"message\":{\"v\":true,\"w\":1}}",
                       SIGIL_ERR_PARSE);
    /* Self-recursive type nested past the depth limit. */
    char *doc = malloc(8192);
    assert_non_null(doc);
    size_t n = (size_t)sprintf(doc, "{\"types\":{\"N\":[{\"name\":\"n\",\"type\":\"N[]\"}]},\"primaryType\":\"N\","
                                    "\"domain\":{},\"message\":");
    for (int i = 0; i < 40; i++) {
        n += (size_t)sprintf(doc + n, "{\"n\":[");
    }
    for (int i = 0; i < 40; i++) {
        n += (size_t)sprintf(doc + n, "]}");
    }
    sprintf(doc + n, "}");
    expect_typed_error(doc, SIGIL_ERR_TOO_LARGE);
    free(doc);
    /* Array over the length limit. */
    json_t *arr = json_array();
    for (int i = 0; i <= SIGIL_EIP712_MAX_ARRAY; i++) {
        json_array_append_new(arr, json_true());
    }
    json_t *d = json_pack("{s:{s:[{s:s,s:s}]},s:s,s:{},s:{s:o}}", "types", "T", "name", "v", "type", "bool[]",
                          "primaryType", "T", "domain", "message", "v", arr);
    uint8_t h[32];
    assert_int_equal(sigil_eip712_hash(h, NULL, NULL, d).code, SIGIL_ERR_TOO_LARGE);
    json_decref(d);
    /* Document over the size limit. */
    size_t big = SIGIL_EIP712_MAX_JSON + 10;
    char *s = malloc(big);
    assert_non_null(s);
    memset(s, ' ', big);
    assert_int_equal(sigil_eip712_hash_json(h, s, big).code, SIGIL_ERR_TOO_LARGE);
    free(s);
}

static void test_keystore_hostile(void **state)
{
    (void)state;
    sigil_secp256k1_sk *sk = NULL;
    static const char *const docs[] = {
        "{}",
        "not json",
        "{\"version\":3,\"crypto\":{\"cipher\":\"aes-256-cbc\"}}",
        "{\"version\":3,\"crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":\"00\"},"
        "\"ciphertext\":\"00\",\"mac\":\"00\",\"kdf\":\"scrypt\",\"kdfparams\":{}}}",
        "{\"version\":3,\"crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":"
        "\"00000000000000000000000000000000\"},\"ciphertext\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"mac\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"kdf\":\"scrypt\","
        "\"kdfparams\":{\"dklen\":32,\"n\":1073741824,\"r\":8,\"p\":1,\"salt\":\"00\"}}}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        sigil_result r = sigil_eth1_keystore_decrypt(&sk, docs[i], strlen(docs[i]), "pw", 2);
        assert_int_equal(r.code, SIGIL_ERR_KEYSTORE_FORMAT);
    }
}

/* The {chainId, address, nonce} of an EIP-7702 authorization, as transactions and
 * sigil_signAuthorization parse it: strings with an embedded NUL are refused, not cut short. */
static sigil_result auth_with(struct sigil_eth1_auth *a, const char *key, json_t *value)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "chainId", "0x1", "address", "0x3535353535353535353535353535353535353535",
                          "nonce", "0x7");
    assert_non_null(o);
    if (value == NULL) {
        json_object_del(o, key);
    } else {
        json_object_set_new(o, key, value);
    }
    memset(a, 0, sizeof *a);
    sigil_error_clear();
    sigil_result r = sigil_eth1_auth_from_json(a, o, "auth");
    json_decref(o);
    return r;
}

static void expect_auth_error(const char *key, json_t *value, const char *needle)
{
    struct sigil_eth1_auth a;
    sigil_result r = auth_with(&a, key, value);
    if (r.code != SIGIL_ERR_PARSE || strstr(sigil_error_detail(), needle) == NULL) {
        fail_msg("auth.%s: got %d '%s' (wanted a parse error naming '%s')", key, r.code, sigil_error_detail(), needle);
    }
}

static void test_auth_json_hostile(void **state)
{
    (void)state;
    struct sigil_eth1_auth a;
    assert_true(sigil_is_ok(auth_with(&a, "chainId", json_string("0x1"))));
    assert_int_equal(a.chain_id.b[31], 1);
    assert_int_equal(a.nonce, 7);
    assert_int_equal(a.address[0], 0x35);
    /* chainId is 256 bits (0x0 = any chain), the nonce 64 */
    assert_true(sigil_is_ok(auth_with(&a, "chainId", json_string("0x0"))));
    assert_true(sigil_is_ok(
        auth_with(&a, "chainId", json_string("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"))));
    assert_true(sigil_is_ok(auth_with(&a, "nonce", json_string("0xffffffffffffffff"))));
    assert_true(a.nonce == UINT64_MAX);

    /* an embedded NUL must not make "0x1\0junk" chain 1 (nor nonce 7, nor a valid address) */
    expect_auth_error("chainId", json_stringn("0x1\0junk", 8), "auth.chainId: contains a NUL");
    expect_auth_error("chainId", json_stringn("0x1\0", 4), "auth.chainId: contains a NUL");
    expect_auth_error("nonce", json_stringn("0x7\0\0", 5), "auth.nonce: contains a NUL");
    expect_auth_error("address", json_stringn("0x3535353535353535353535353535353535353535\0x", 44),
                      "auth.address: contains a NUL");

    expect_auth_error("chainId", NULL, "auth.chainId");
    expect_auth_error("chainId", json_integer(1), "auth.chainId");
    expect_auth_error("chainId", json_string("0x01"), "auth.chainId");
    expect_auth_error("chainId", json_string("1"), "auth.chainId");
    expect_auth_error("chainId",
                      json_string("0x1"
                                  "0000000000000000000000000000000000000000000000000000000000000000"),
                      "auth.chainId");
    expect_auth_error("address", NULL, "auth.address");
    expect_auth_error("address", json_string("0x3535"), "auth.address");
    expect_auth_error("address", json_string("0xAbcdefabcdefabcdefabcdefabcdefabcdefabcd"), "auth.address");
    expect_auth_error("nonce", NULL, "auth.nonce");
    expect_auth_error("nonce", json_string("0x10000000000000000"), "auth.nonce: quantity exceeds 64 bits");
    expect_auth_error("nonce", json_string("0xg"), "auth.nonce");

    /* the same through a type-4 transaction's authorizationList */
    json_error_t e;
    json_t *tx_obj = json_loads(BASE_TX, 0, &e);
    assert_non_null(tx_obj);
    json_object_set_new(tx_obj, "type", json_string("0x4"));
    json_t *auth = json_pack("{s:s, s:s, s:s, s:s, s:s}", "address", "0x3535353535353535353535353535353535353535",
                             "nonce", "0x0", "yParity", "0x0", "r", "0x1", "s", "0x1");
    json_object_set_new(auth, "chainId", json_stringn("0x1\0junk", 8));
    json_object_set_new(tx_obj, "authorizationList", json_pack("[o]", auth));
    struct sigil_eth1_tx tx;
    sigil_error_clear();
    sigil_result r = sigil_eth1_tx_from_json(&tx, tx_obj);
    assert_int_equal(r.code, SIGIL_ERR_PARSE);
    assert_non_null(strstr(sigil_error_detail(), "authorizationList.chainId: contains a NUL"));
    sigil_eth1_tx_free(&tx);
    json_decref(tx_obj);
}

static void test_u256_to_u64(void **state)
{
    (void)state;
    sigil_u256 q;
    memset(&q, 0, sizeof q);
    uint64_t v = 42;
    assert_true(sigil_eth1_u256_to_u64(&v, &q));
    assert_true(v == 0);
    memset(q.b + 24, 0xff, 8);
    assert_true(sigil_eth1_u256_to_u64(&v, &q));
    assert_true(v == UINT64_MAX);
    q.b[23] = 1; /* 2^64 + ...: does not fit, *out untouched */
    v = 42;
    assert_false(sigil_eth1_u256_to_u64(&v, &q));
    assert_true(v == 42);
    memset(&q, 0, sizeof q);
    q.b[0] = 0x80;
    assert_false(sigil_eth1_u256_to_u64(&v, &q));
    assert_true(v == 42);
}

/* Quantities round-trip: format gives the canonical form parse_quantity accepts. */
static void test_quantity_format(void **state)
{
    (void)state;
    static const char *const cases[] = {"0x0", "0x1", "0xde0b6b3a7640000",
                                        "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sigil_u256 v;
        char out[67];
        assert_true(sigil_is_ok(sigil_eth1_parse_quantity(&v, cases[i], "q")));
        sigil_eth1_format_quantity(out, v.b);
        assert_string_equal(out, cases[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rlp_hostile),          cmocka_unit_test(test_tx_json_hostile),
        cmocka_unit_test(test_wrong_chain_and_from), cmocka_unit_test(test_tx_decode_hostile),
        cmocka_unit_test(test_eip712_hostile),       cmocka_unit_test(test_keystore_hostile),
        cmocka_unit_test(test_quantity_format),      cmocka_unit_test(test_auth_json_hostile),
        cmocka_unit_test(test_u256_to_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
