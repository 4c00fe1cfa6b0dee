/* Hostile-input tests for the eth2 signing request parser: malformed JSON, wrong types, every
 * required field deleted in turn, out-of-range numbers, bad hex and bitfields, deep nesting,
 * oversized bodies, unknown types and versions, client root mismatches. Every case must give
 * the documented error code (and a detail naming the field), never a crash. Also checks that
 * the largest legal full block fits SIGIL_ETH2_MAX_BODY, and the EIP-7044 rule. */
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
#include "eth2/network.h"
#include "eth2/request.h"
#include "helpers/vectors.h"

static struct sigil_network mainnet;

static int setup(void **state)
{
    (void)state;
    return sigil_is_ok(sigil_network_builtin(&mainnet, "mainnet")) ? 0 : -1;
}

static sigil_result parse_text(const char *s, struct sigil_eth2_request *r)
{
    return sigil_eth2_parse_request(r, s, strlen(s), &mainnet);
}

static sigil_result parse_obj(const json_t *req, struct sigil_eth2_request *r)
{
    char *body = json_dumps(req, JSON_COMPACT);
    assert_non_null(body);
    sigil_result res = sigil_eth2_parse_request(r, body, strlen(body), &mainnet);
    free(body);
    return res;
}

static void expect_code(sigil_result res, enum sigil_err code, const char *detail_has, const char *what)
{
    if (res.code != code) {
        fail_msg("%s: got %s (%s), want %s", what, sigil_strerror(res.code), sigil_error_detail(),
                 sigil_strerror(code));
    }
    if (detail_has != NULL && strcasestr(sigil_error_detail(), detail_has) == NULL) {
        fail_msg("%s: detail '%s' does not mention '%s'", what, sigil_error_detail(), detail_has);
    }
}

static const char FORK_INFO[] =
    "\"fork_info\":{\"fork\":{\"previous_version\":\"0x03000000\",\"current_version\":\"0x04000000\","
    "\"epoch\":\"269568\"},\"genesis_validators_root\":"
    "\"0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95\"}";

static json_t *attestation_request(void)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"type\":\"ATTESTATION\",%s,\"attestation\":{\"slot\":\"8626176\",\"index\":\"3\","
             "\"beacon_block_root\":\"0x%064d\",\"source\":{\"epoch\":\"269566\",\"root\":\"0x%064d\"},"
             "\"target\":{\"epoch\":\"269567\",\"root\":\"0x%064d\"}}}",
             FORK_INFO, 1, 2, 3);
    json_error_t e;
    json_t *j = json_loads(buf, 0, &e);
    assert_non_null(j);
    return j;
}

/* Sets attestation.<field> to the JSON text value and expects code. */
static void attestation_with(const char *field, const char *value_json, enum sigil_err code, const char *detail_has)
{
    json_t *req = attestation_request();
    json_t *att = json_object_get(req, "attestation");
    json_error_t e;
    json_t *v = json_loads(value_json, JSON_DECODE_ANY, &e);
    assert_non_null(v);
    json_object_set_new(att, field, v);
    struct sigil_eth2_request r;
    char what[256];
    snprintf(what, sizeof what, "attestation.%s = %s", field, value_json);
    expect_code(parse_obj(req, &r), code, detail_has, what);
    json_decref(req);
}

static void test_malformed_json(void **state)
{
    (void)state;
    static const char *const bad[] = {"",
                                      "{",
                                      "}",
                                      "[]",
                                      "null",
                                      "\"ATTESTATION\"",
                                      "42",
                                      "{\"type\":}",
                                      "{\"type\":\"ATTESTATION\",}",
                                      "{'type':'ATTESTATION'}",
                                      "{\"type\":\"ATTESTATION\"} trailing",
                                      "{\"type\":\"ATTESTATION\",\"type\":\"BLOCK\"}",
                                      "{\"type\":\"A\\u0000B\"}",
                                      "\xff\xfe{}",
                                      "{\"type\":\"\xc3\x28\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sigil_eth2_request r;
        expect_code(parse_text(bad[i], &r), SIGIL_ERR_PARSE, NULL, bad[i]);
    }
    struct sigil_eth2_request r;
    expect_code(sigil_eth2_parse_request(&r, "{\"type\":\"BLOCK\"}", 5, &mainnet), SIGIL_ERR_PARSE, NULL, "truncated");
    expect_code(sigil_eth2_parse_request(&r, NULL, 0, &mainnet), SIGIL_ERR_PARSE, NULL, "NULL empty body");
    expect_code(sigil_eth2_parse_request(NULL, "{}", 2, &mainnet), SIGIL_ERR_ARG, NULL, "NULL out");
}

static void test_types_and_versions(void **state)
{
    (void)state;
    struct sigil_eth2_request r;
    expect_code(parse_text("{\"type\":\"BLOCK_V3\"}", &r), SIGIL_ERR_PARSE, "type", "unknown type");
    expect_code(parse_text("{\"type\":42}", &r), SIGIL_ERR_PARSE, "type", "numeric type");
    expect_code(parse_text("{\"type\":null}", &r), SIGIL_ERR_PARSE, "type", "null type");
    expect_code(parse_text("{\"fork_info\":{}}", &r), SIGIL_ERR_PARSE, "type", "no type");
    expect_code(parse_text("{\"type\":\"ATTESTATION\",\"fork_info\":\"x\"}", &r), SIGIL_ERR_PARSE, "fork_info",
                "fork_info string");
    expect_code(parse_text("{\"type\":\"ATTESTATION\"}", &r), SIGIL_ERR_PARSE, "fork_info", "no fork_info");

    /* lower-case type names and version names work */
    json_t *req = attestation_request();
    json_object_set_new(req, "type", json_string("attestation"));
    assert_true(sigil_is_ok(parse_obj(req, &r)));
    assert_int_equal(r.type, SIGIL_ETH2_ATTESTATION);
    assert_int_equal(r.slashing, SIGIL_SLASHING_ATTESTATION);
    assert_int_equal(r.source_epoch, 269566);
    assert_int_equal(r.target_epoch, 269567);
    assert_string_equal(sigil_eth2_type_name(r.type), "ATTESTATION");
    assert_string_equal(sigil_eth2_type_name(SIGIL_ETH2_TYPE_COUNT), "UNKNOWN");
    json_decref(req);

    char buf[2048];
#define HDR                                                                                                            \
    "\"slot\":\"8626176\",\"proposer_index\":\"5\",\"parent_root\":\"0x%064d\",\"state_root\":\"0x%064d\","            \
    "\"body_root\":\"0x%064d\""
    char h[512];
    snprintf(h, sizeof h, HDR, 0, 0, 0);
    snprintf(buf, sizeof buf,
             "{\"type\":\"block_v2\",%s,\"beacon_block\":{\"version\":\"deneb\",\"block_header\":{%s}}}", FORK_INFO, h);
    assert_true(sigil_is_ok(parse_text(buf, &r)));
    assert_int_equal(r.slashing, SIGIL_SLASHING_BLOCK);
    assert_int_equal(r.slot, 8626176);
    snprintf(buf, sizeof buf,
             "{\"type\":\"BLOCK_V2\",%s,\"beacon_block\":{\"version\":\"GLOAS\",\"block_header\":{%s}}}", FORK_INFO, h);
    expect_code(parse_text(buf, &r), SIGIL_ERR_PARSE, "beacon_block.version", "unknown version");
    /* Bellatrix and later need the header */
    snprintf(buf, sizeof buf, "{\"type\":\"BLOCK_V2\",%s,\"beacon_block\":{\"version\":\"CAPELLA\",\"block\":{%s}}}",
             FORK_INFO, h);
    expect_code(parse_text(buf, &r), SIGIL_ERR_PARSE, "beacon_block.block_header", "capella full block");
}

static void test_numbers(void **state)
{
    (void)state;
    attestation_with("slot", "\"18446744073709551615\"", SIGIL_OK, NULL);
    attestation_with("slot", "\"18446744073709551616\"", SIGIL_ERR_PARSE, "attestation.slot must be a decimal string");
    attestation_with("slot", "\"99999999999999999999999\"", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "\"-1\"", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "\"+1\"", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "\"01\"", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "\"1.0\"", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "\" 1\"", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "\"\"", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "\"0x10\"", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "1", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "-1", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "1e3", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "true", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "{}", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "[\"1\"]", SIGIL_ERR_PARSE, "attestation.slot");
    attestation_with("slot", "null", SIGIL_ERR_PARSE, "attestation.slot is missing");
    attestation_with("source", "{\"epoch\":\"1\",\"root\":\"0x00\"}", SIGIL_ERR_PARSE, "attestation.source.root");
    attestation_with("source", "[]", SIGIL_ERR_PARSE, "attestation.source must be an object");
}

static void test_hex(void **state)
{
    (void)state;
    char buf[80];
    attestation_with("beacon_block_root", "\"0x00\"", SIGIL_ERR_PARSE, "attestation.beacon_block_root must be 0x");
    snprintf(buf, sizeof buf, "\"0x%062d\"", 0); /* 31 bytes */
    attestation_with("beacon_block_root", buf, SIGIL_ERR_PARSE, "beacon_block_root");
    snprintf(buf, sizeof buf, "\"0x%066d\"", 0); /* 33 bytes */
    attestation_with("beacon_block_root", buf, SIGIL_ERR_PARSE, "beacon_block_root");
    snprintf(buf, sizeof buf, "\"0x%063d\"", 0); /* odd */
    attestation_with("beacon_block_root", buf, SIGIL_ERR_PARSE, "beacon_block_root");
    snprintf(buf, sizeof buf, "\"%064d\"", 0); /* no prefix */
    attestation_with("beacon_block_root", buf, SIGIL_ERR_PARSE, "beacon_block_root");
    snprintf(buf, sizeof buf, "\"0x%063dg\"", 0); /* non-hex */
    attestation_with("beacon_block_root", buf, SIGIL_ERR_PARSE, "beacon_block_root");
    snprintf(buf, sizeof buf, "\" 0x%062d\"", 0); /* whitespace */
    attestation_with("beacon_block_root", buf, SIGIL_ERR_PARSE, "beacon_block_root");
    snprintf(buf, sizeof buf, "\"0X%064d\"", 0); /* upper-case prefix is fine */
    attestation_with("beacon_block_root", buf, SIGIL_OK, NULL);
    snprintf(buf, sizeof buf, "\"0xABCDEF%058d\"", 0); /* upper-case digits are fine */
    attestation_with("beacon_block_root", buf, SIGIL_OK, NULL);

    json_t *req = attestation_request();
    json_object_set_new(json_object_get(json_object_get(req, "fork_info"), "fork"), "current_version",
                        json_string("0x040000"));
    struct sigil_eth2_request r;
    expect_code(parse_obj(req, &r), SIGIL_ERR_PARSE, "fork_info.fork.current_version", "short version");
    json_decref(req);
}

/* An AGGREGATE_AND_PROOF_V2 request with the given version and aggregation/committee bits. */
static sigil_result aggregate_with(const char *version, const char *agg_bits, const char *committee_bits)
{
    size_t cap = strlen(agg_bits) + 4096;
    char *buf = malloc(cap);
    assert_non_null(buf);
    char cb[128] = "";
    if (committee_bits != NULL) {
        snprintf(cb, sizeof cb, ",\"committee_bits\":\"%s\"", committee_bits);
    }
    snprintf(buf, cap,
             "{\"type\":\"AGGREGATE_AND_PROOF_V2\",%s,\"aggregate_and_proof\":{\"version\":\"%s\",\"data\":{"
             "\"aggregator_index\":\"7\",\"aggregate\":{\"aggregation_bits\":\"%s\",\"data\":{\"slot\":\"1\","
             "\"index\":\"0\",\"beacon_block_root\":\"0x%064d\",\"source\":{\"epoch\":\"0\",\"root\":\"0x%064d\"},"
             "\"target\":{\"epoch\":\"0\",\"root\":\"0x%064d\"}},\"signature\":\"0x%0192d\"%s},"
             "\"selection_proof\":\"0x%0192d\"}}}",
             FORK_INFO, version, agg_bits, 0, 0, 0, 0, cb, 0);
    struct sigil_eth2_request r;
    sigil_result res = parse_text(buf, &r);
    free(buf);
    return res;
}

static char *bitlist_hex(size_t bits)
{
    size_t bytes = bits / 8 + 1;
    char *s = malloc(2 * bytes + 3);
    assert_non_null(s);
    strcpy(s, "0x");
    for (size_t i = 0; i < bytes; i++) {
        unsigned b = i + 1 == bytes ? (1u << (bits % 8)) : 0xff;
        snprintf(s + 2 + 2 * i, 3, "%02x", b);
    }
    return s;
}

static void test_bitfields(void **state)
{
    (void)state;
    const char *cb = "0x0100000000000000";
    expect_code(aggregate_with("PHASE0", "0x01", NULL), SIGIL_OK, NULL, "empty bitlist");
    expect_code(aggregate_with("PHASE0", "0x00", NULL), SIGIL_ERR_PARSE,
                "aggregate_and_proof.data.aggregate.aggregation_bits", "no delimiter");
    expect_code(aggregate_with("PHASE0", "0x0100", NULL), SIGIL_ERR_PARSE, "aggregation_bits", "trailing zero byte");
    expect_code(aggregate_with("PHASE0", "0x", NULL), SIGIL_ERR_PARSE, "aggregation_bits", "empty encoding");
    expect_code(aggregate_with("PHASE0", "0x1", NULL), SIGIL_ERR_PARSE, "aggregation_bits", "odd hex");
    char *max = bitlist_hex(2048), *over = bitlist_hex(2049);
    expect_code(aggregate_with("DENEB", max, NULL), SIGIL_OK, NULL, "2048 bits");
    expect_code(aggregate_with("DENEB", over, NULL), SIGIL_ERR_PARSE, "at most 2048 bits", "2049 bits");
    free(max);
    free(over);
    max = bitlist_hex(131072);
    over = bitlist_hex(131073);
    expect_code(aggregate_with("ELECTRA", max, cb), SIGIL_OK, NULL, "electra 131072 bits");
    expect_code(aggregate_with("FULU", over, cb), SIGIL_ERR_PARSE, "aggregation_bits", "electra 131073 bits");
    free(max);
    free(over);
    expect_code(aggregate_with("ELECTRA", "0x01", NULL), SIGIL_ERR_PARSE, "aggregate.committee_bits is missing",
                "no committee bits");
    expect_code(aggregate_with("ELECTRA", "0x01", "0x01000000000000"), SIGIL_ERR_PARSE, "committee_bits", "7 bytes");
    expect_code(aggregate_with("ELECTRA", "0x01", "0x010000000000000000"), SIGIL_ERR_PARSE, "committee_bits",
                "9 bytes");
    /* phase0-shaped aggregates ignore an extra committee_bits member (unknown field) */
    expect_code(aggregate_with("CAPELLA", "0x01", cb), SIGIL_OK, NULL, "capella + committee bits");

    /* sync contribution: Bitvector[128] is exactly 16 bytes */
    char buf[2048];
    for (int len = 14; len <= 18; len += 2) {
        char bits[64];
        snprintf(bits, sizeof bits, "0x%0*d", len * 2, 0);
        snprintf(buf, sizeof buf,
                 "{\"type\":\"SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF\",%s,\"contribution_and_proof\":{"
                 "\"aggregator_index\":\"1\",\"selection_proof\":\"0x%0192d\",\"contribution\":{\"slot\":\"1\","
                 "\"beacon_block_root\":\"0x%064d\",\"subcommittee_index\":\"1\",\"aggregation_bits\":\"%s\","
                 "\"signature\":\"0x%0192d\"}}}",
                 FORK_INFO, 0, 0, bits, 0);
        struct sigil_eth2_request r;
        expect_code(parse_text(buf, &r), len == 16 ? SIGIL_OK : SIGIL_ERR_PARSE,
                    len == 16 ? NULL : "contribution_and_proof.contribution.aggregation_bits", bits);
    }
}

static void test_nesting_and_size(void **state)
{
    (void)state;
    struct sigil_eth2_request r;
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    assert_non_null(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    expect_code(parse_text(deep, &r), SIGIL_ERR_PARSE, "nests", "deep arrays");
    free(deep);
    /* deep nesting in an ignored member is refused as well */
    char buf[4096];
    int off = snprintf(buf, sizeof buf, "{\"type\":\"RANDAO_REVEAL\",\"x\":");
    for (int i = 0; i < 40; i++) {
        buf[off++] = '{';
        off += snprintf(buf + off, sizeof buf - (size_t)off, "\"a\":");
    }
    off += snprintf(buf + off, sizeof buf - (size_t)off, "1");
    for (int i = 0; i < 41; i++) {
        buf[off++] = '}';
    }
    buf[off] = '\0';
    expect_code(parse_text(buf, &r), SIGIL_ERR_PARSE, "nests", "deep objects");
    /* brackets inside strings do not count */
    snprintf(buf, sizeof buf,
             "{\"type\":\"RANDAO_REVEAL\",\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\",%s,"
             "\"randao_reveal\":{\"epoch\":\"3\"}}",
             FORK_INFO);
    expect_code(parse_text(buf, &r), SIGIL_OK, NULL, "brackets in strings");

    size_t big = 10u * 1024 * 1024;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    memcpy(huge, "{\"type\":\"", 9);
    expect_code(sigil_eth2_parse_request(&r, huge, big, &mainnet), SIGIL_ERR_TOO_LARGE, NULL, "10 MB body");
    expect_code(sigil_eth2_parse_request(&r, huge, SIGIL_ETH2_MAX_BODY + 1, &mainnet), SIGIL_ERR_TOO_LARGE, NULL,
                "limit + 1");
    free(huge);
}

static void test_signing_root_mismatch(void **state)
{
    (void)state;
    json_t *req = attestation_request();
    struct sigil_eth2_request r;
    assert_true(sigil_is_ok(parse_obj(req, &r)));
    char good[67], bad[67];
    sigil_hex_encode(good, r.signing_root, 32, 1);
    uint8_t other[32];
    memcpy(other, r.signing_root, 32);
    other[31] ^= 1;
    sigil_hex_encode(bad, other, 32, 1);

    json_object_set_new(req, "signingRoot", json_string(good));
    assert_true(sigil_is_ok(parse_obj(req, &r)));
    json_object_set_new(req, "signing_root", json_string(bad));
    expect_code(parse_obj(req, &r), SIGIL_ERR_SIGNING_ROOT_MISMATCH, bad, "signing_root mismatch");
    assert_non_null(strstr(sigil_error_detail(), good));
    json_object_del(req, "signing_root");
    json_object_set_new(req, "signingRoot", json_string(bad));
    expect_code(parse_obj(req, &r), SIGIL_ERR_SIGNING_ROOT_MISMATCH, good, "signingRoot mismatch");
    json_object_set_new(req, "signingRoot", json_string("0x1234"));
    expect_code(parse_obj(req, &r), SIGIL_ERR_PARSE, "signingRoot", "short signingRoot");
    json_object_set_new(req, "signingRoot", json_null());
    expect_code(parse_obj(req, &r), SIGIL_OK, NULL, "null signingRoot = absent");
    json_decref(req);
}

/* Deletes, one at a time, every object member under v (recursively) from a copy of root and
 * expects SIGIL_ERR_PARSE naming the member. Returns the number of deletions tried. */
static size_t delete_each(json_t *root, json_t *v, const char *what)
{
    size_t tried = 0;
    if (json_is_object(v)) {
        /* Snapshot the keys: re-inserting a deleted member moves it to the end of jansson's
         * iteration order, so iterating the live object would never finish. */
        json_t *keys = json_array();
        const char *k;
        json_t *child;
        json_object_foreach(v, k, child) { json_array_append_new(keys, json_string(k)); }
        size_t ki;
        json_t *kv;
        json_array_foreach(keys, ki, kv)
        {
            const char *key = json_string_value(kv);
            if (strcmp(key, "signingRoot") == 0 || strcmp(key, "signing_root") == 0) {
                continue;
            }
            child = json_incref(json_object_get(v, key));
            json_object_del(v, key);
            struct sigil_eth2_request r;
            char label[160];
            snprintf(label, sizeof label, "%s without '%s'", what, key);
            expect_code(parse_obj(root, &r), SIGIL_ERR_PARSE, key, label);
            json_object_set_new(v, key, child);
            tried++;
            tried += delete_each(root, child, what);
        }
        json_decref(keys);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) { tried += delete_each(root, child, what); }
    }
    return tried;
}

static void test_missing_fields_vectors(void **state)
{
    (void)state;
    json_t *doc = vectors_load_json("eth2_signing/mainnet_fixed_key.json");
    size_t i, total = 0;
    json_t *v;
    json_array_foreach(json_object_get(doc, "vectors"), i, v)
    {
        json_t *req = json_deep_copy(json_object_get(v, "request"));
        char what[96];
        snprintf(what, sizeof what, "vector %zu %s", i, json_string_value(json_object_get(v, "type")));
        struct sigil_eth2_request r;
        expect_code(parse_obj(req, &r), SIGIL_OK, NULL, what);
        total += delete_each(req, req, what);
        json_decref(req);
    }
    printf("deleted %zu fields one at a time\n", total);
    assert_true(total > 1000);
    json_decref(doc);
}

/* A phase0/altair full block with every list at its mainnet limit and 20-digit integers. */
static json_t *max_block(bool altair)
{
    const char *u64max = "18446744073709551615";
    char sig[197], r32[67], pk[99];
    snprintf(sig, sizeof sig, "0x%0192d", 0);
    snprintf(r32, sizeof r32, "0x%064d", 0);
    snprintf(pk, sizeof pk, "0x%096d", 0);
    json_t *data =
        json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:{s:s,s:s}}", "slot", u64max, "index", u64max, "beacon_block_root", r32,
                  "source", "epoch", u64max, "root", r32, "target", "epoch", u64max, "root", r32);
    json_t *indices = json_array();
    for (int i = 0; i < 2048; i++) {
        json_array_append_new(indices, json_string(u64max));
    }
    json_t *ia = json_pack("{s:O,s:O,s:s}", "attesting_indices", indices, "data", data, "signature", sig);
    json_t *header = json_pack("{s:s,s:s,s:s,s:s,s:s}", "slot", u64max, "proposer_index", u64max, "parent_root", r32,
                               "state_root", r32, "body_root", r32);
    json_t *sh = json_pack("{s:O,s:s}", "message", header, "signature", sig);
    json_t *ps = json_array(), *as = json_array(), *atts = json_array(), *deps = json_array(), *exits = json_array();
    for (int i = 0; i < 16; i++) {
        json_array_append_new(ps, json_pack("{s:O,s:O}", "signed_header_1", sh, "signed_header_2", sh));
    }
    for (int i = 0; i < 2; i++) {
        json_array_append_new(as, json_pack("{s:O,s:O}", "attestation_1", ia, "attestation_2", ia));
    }
    char *bits = bitlist_hex(2048);
    for (int i = 0; i < 128; i++) {
        json_array_append_new(atts,
                              json_pack("{s:s,s:O,s:s}", "aggregation_bits", bits, "data", data, "signature", sig));
    }
    free(bits);
    json_t *proof = json_array();
    for (int i = 0; i < 33; i++) {
        json_array_append_new(proof, json_string(r32));
    }
    for (int i = 0; i < 16; i++) {
        json_array_append_new(deps, json_pack("{s:O,s:{s:s,s:s,s:s,s:s}}", "proof", proof, "data", "pubkey", pk,
                                              "withdrawal_credentials", r32, "amount", u64max, "signature", sig));
        json_array_append_new(exits, json_pack("{s:{s:s,s:s},s:s}", "message", "epoch", u64max, "validator_index",
                                               u64max, "signature", sig));
    }
    json_t *body =
        json_pack("{s:s,s:{s:s,s:s,s:s},s:s,s:o,s:o,s:o,s:o,s:o}", "randao_reveal", sig, "eth1_data", "deposit_root",
                  r32, "deposit_count", u64max, "block_hash", r32, "graffiti", r32, "proposer_slashings", ps,
                  "attester_slashings", as, "attestations", atts, "deposits", deps, "voluntary_exits", exits);
    if (altair) {
        char sync_bits[131];
        snprintf(sync_bits, sizeof sync_bits, "0x%0128d", 0);
        json_object_set_new(body, "sync_aggregate",
                            json_pack("{s:s,s:s}", "sync_committee_bits", sync_bits, "sync_committee_signature", sig));
    }
    json_t *block = json_pack("{s:s,s:s,s:s,s:s,s:o}", "slot", "8626176", "proposer_index", u64max, "parent_root", r32,
                              "state_root", r32, "body", body);
    json_error_t e;
    char fi[512];
    snprintf(fi, sizeof fi, "{%s}", FORK_INFO);
    json_t *req = json_loads(fi, 0, &e);
    json_object_set_new(req, "type", json_string("BLOCK_V2"));
    json_object_set_new(req, "beacon_block",
                        json_pack("{s:s,s:o}", "version", altair ? "ALTAIR" : "PHASE0", "block", block));
    json_decref(data);
    json_decref(indices);
    json_decref(ia);
    json_decref(header);
    json_decref(sh);
    json_decref(proof);
    return req;
}

static void test_largest_block_fits(void **state)
{
    (void)state;
    for (int altair = 0; altair <= 1; altair++) {
        json_t *req = max_block(altair);
        char *compact = json_dumps(req, JSON_COMPACT);
        char *pretty = json_dumps(req, JSON_INDENT(2));
        printf("largest %s block request: %zu bytes compact, %zu bytes indented\n", altair ? "altair" : "phase0",
               strlen(compact), strlen(pretty));
        assert_true(strlen(pretty) < SIGIL_ETH2_MAX_BODY);
        struct sigil_eth2_request r;
        sigil_result res = sigil_eth2_parse_request(&r, pretty, strlen(pretty), &mainnet);
        if (!sigil_is_ok(res)) {
            fail_msg("%s", sigil_error_detail());
        }
        assert_int_equal(r.slot, 8626176);
        /* one element over a list limit is refused with the path */
        json_t *body = json_object_get(json_object_get(json_object_get(req, "beacon_block"), "block"), "body");
        json_t *exits = json_object_get(body, "voluntary_exits");
        json_array_append(exits, json_array_get(exits, 0));
        expect_code(parse_obj(req, &r), SIGIL_ERR_PARSE, "beacon_block.block.body.voluntary_exits has 17", "17 exits");
        json_array_remove(exits, 16);
        json_t *proof = json_object_get(json_array_get(json_object_get(body, "deposits"), 3), "proof");
        json_array_remove(proof, 0);
        expect_code(parse_obj(req, &r), SIGIL_ERR_PARSE, "proof must have exactly 33 elements", "short proof");
        free(compact);
        free(pretty);
        json_decref(req);
    }
}

static void test_network_rules(void **state)
{
    (void)state;
    /* EIP-7044: a capella-era exit for an epoch at/after Deneb uses the Capella version, and so
     * does any exit when fork_info says the chain is at Deneb or later. */
    struct sigil_eth2_request a, b;
    char buf[1024];
#define EXIT_FMT                                                                                                       \
    "{\"type\":\"VOLUNTARY_EXIT\",\"fork_info\":{\"fork\":{\"previous_version\":\"%s\","                               \
    "\"current_version\":\"%s\",\"epoch\":\"%s\"},\"genesis_validators_root\":\"0x%064d\"},"                           \
    "\"voluntary_exit\":{\"epoch\":\"%s\",\"validator_index\":\"1\"}}"
    snprintf(buf, sizeof buf, EXIT_FMT, "0x03000000", "0x04000000", "269568", 0, "100");
    assert_true(sigil_is_ok(parse_text(buf, &a)));
    snprintf(buf, sizeof buf, EXIT_FMT, "0x03000000", "0x03000000", "194048", 0, "100");
    assert_true(sigil_is_ok(parse_text(buf, &b)));
    assert_memory_equal(a.signing_root, b.signing_root, 32); /* both signed with capella */
    snprintf(buf, sizeof buf, EXIT_FMT, "0x01000000", "0x02000000", "144896", 0, "100");
    assert_true(sigil_is_ok(parse_text(buf, &b)));
    assert_memory_not_equal(a.signing_root, b.signing_root, 32); /* bellatrix chain, old exit */
    /* without a network the rule cannot be applied: fork_info decides */
    snprintf(buf, sizeof buf, EXIT_FMT, "0x03000000", "0x04000000", "269568", 0, "300000");
    assert_true(sigil_is_ok(parse_text(buf, &a)));
    assert_true(sigil_is_ok(sigil_eth2_parse_request(&b, buf, strlen(buf), NULL)));
    assert_memory_not_equal(a.signing_root, b.signing_root, 32);
    /* a capella chain signing an exit for a post-Deneb epoch: capella version either way */
    snprintf(buf, sizeof buf, EXIT_FMT, "0x02000000", "0x03000000", "194048", 0, "300000");
    assert_true(sigil_is_ok(parse_text(buf, &b)));
    assert_memory_equal(a.signing_root, b.signing_root, 32);
    /* a bellatrix chain signing for a post-Deneb epoch: EIP-7044 (fork_info would say bellatrix) */
    snprintf(buf, sizeof buf, EXIT_FMT, "0x01000000", "0x02000000", "144896", 0, "300000");
    assert_true(sigil_is_ok(parse_text(buf, &b)));
    assert_memory_equal(a.signing_root, b.signing_root, 32);

    /* gnosis: 16 slots per epoch decide which fork_info version a block uses */
    struct sigil_network gnosis;
    assert_true(sigil_is_ok(sigil_network_builtin(&gnosis, "gnosis")));
#define BLK_FMT                                                                                                        \
    "{\"type\":\"BLOCK_V2\",\"fork_info\":{\"fork\":{\"previous_version\":\"0x00000064\","                             \
    "\"current_version\":\"0x01000064\",\"epoch\":\"2\"},\"genesis_validators_root\":\"0x%064d\"},"                    \
    "\"beacon_block\":{\"version\":\"BELLATRIX\",\"block_header\":{\"slot\":\"%s\","                                   \
    "\"proposer_index\":\"1\",\"parent_root\":\"0x%064d\",\"state_root\":\"0x%064d\","                                 \
    "\"body_root\":\"0x%064d\"}}}"
    struct sigil_eth2_request g32, g16;
    snprintf(buf, sizeof buf, BLK_FMT, 0, "40", 0, 0, 0); /* epoch 2 on gnosis, epoch 1 on mainnet */
    assert_true(sigil_is_ok(sigil_eth2_parse_request(&g16, buf, strlen(buf), &gnosis)));
    assert_true(sigil_is_ok(sigil_eth2_parse_request(&g32, buf, strlen(buf), &mainnet)));
    assert_memory_not_equal(g16.signing_root, g32.signing_root, 32);

    /* registration needs the network's genesis fork version */
    snprintf(buf, sizeof buf,
             "{\"type\":\"VALIDATOR_REGISTRATION\",\"validator_registration\":{\"fee_recipient\":\"0x%040d\","
             "\"gas_limit\":\"30000000\",\"timestamp\":\"1\",\"pubkey\":\"0x%096d\"}}",
             0, 0);
    assert_true(sigil_is_ok(parse_text(buf, &a)));
    assert_false(a.has_fork_info);
    expect_code(sigil_eth2_parse_request(&b, buf, strlen(buf), NULL), SIGIL_ERR_CONFIG, "VALIDATOR_REGISTRATION",
                "registration without network");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_types_and_versions),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_bitfields),
        cmocka_unit_test(test_nesting_and_size),
        cmocka_unit_test(test_signing_root_mismatch),
        cmocka_unit_test(test_largest_block_fits),
        cmocka_unit_test(test_network_rules),
        cmocka_unit_test(test_missing_fields_vectors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
