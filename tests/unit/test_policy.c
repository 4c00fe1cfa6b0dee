/* The wallet policy engine (src/policy): the rules-file parser on a full file and on every hostile
 * case (bad JSON, unknown members, bad addresses, amounts, windows, selectors, duplicates, M > N,
 * list and file limits), every rule allowed and refused, the binding order, M-of-N approvals
 * (quorum, duplicates, strangers, bad signatures, approvals for another account), the approval
 * digest against ethers' TypedDataEncoder and against sigil_eip712_hash, the default policy, the
 * hash, the spend amount and the CLI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hex.h"
#include "crypto/keccak.h"
#include "eth1/eip712.h"
#include "eth1/secp256k1.h"
#include "eth1/tx.h"
#include "policy/policy.h"
#include "policy/wei.h"

#define A1      "0x1111111111111111111111111111111111111111"
#define A2      "0x2222222222222222222222222222222222222222"
#define A3      "0x3333333333333333333333333333333333333333"
#define A4      "0x4444444444444444444444444444444444444444"
#define A5      "0x5555555555555555555555555555555555555555"
#define A9      "0x9999999999999999999999999999999999999999"
#define PERMIT2 "0x000000000022D473030F116dDEE9F6B43aC78BA3"
#define ETH     "000000000000000000"

static const char rules_full[] =
    "{\"version\": 1,\n"
    " \"groups\": {\"treasury\": [\"" A1 "\", \"" A2 "\"]},\n"
    " \"policies\": [\n"
    "  {\"name\": \"treasury\", \"description\": \"the main rules\", \"keys\": [\"group:treasury\", \"" A3 "\"],\n"
    "   \"chain_ids\": [1, 17000],\n"
    "   \"to\": {\"allow\": [\"" A4 "\", \"" A5 "\"], \"deny\": [\"" A5 "\"]},\n"
    "   \"contract_creation\": false,\n"
    "   \"max_value_wei\": \"1" ETH "\",\n"
    "   \"spend_windows\": [{\"name\": \"daily\", \"window\": \"24h\", \"max_wei\": \"5" ETH "\"},\n"
    "                     {\"name\": \"hourly\", \"window\": 3600, \"max_wei\": \"0xde0b6b3a7640000\"}],\n"
    "   \"count_fees\": false,\n"
    "   \"selectors\": {\"" A4 "\": [\"0xa9059cbb\"], \"*\": [\"0x095ea7b3\"]},\n"
    "   \"fees\": {\"max_fee_per_gas_wei\": \"100000000000\", \"max_priority_fee_per_gas_wei\": \"2000000000\",\n"
    "            \"max_gas\": 500000, \"max_fee_wei\": \"50000000000000000\"},\n"
    "   \"personal_sign\": true, \"typed_data\": true,\n"
    "   \"eip712_domains\": [{\"chainId\": 1, \"verifyingContract\": \"" PERMIT2 "\", \"name\": \"Permit2\"},\n"
    "                      {\"name\": \"Other\", \"version\": \"2\", \"chainId\": \"0x4268\",\n"
    "                       \"salt\": \"0x"
    "00000000000000000000000000000000000000000000000000000000000000aa\"}],\n"
    "   \"authorizations\": false,\n"
    "   \"raw_sign\": false\n"
    "  },\n"
    "  {\"name\": \"rest\", \"keys\": \"*\", \"personal_sign\": true}]}\n";

static uint8_t a1[20], a2[20], a3[20], a4[20], a5[20], a9[20];

static void addr(uint8_t out[20], const char *s) { assert_true(sigil_is_ok(sigil_eip55_parse(out, s))); }

static struct sigil_policy *parse_ok(const char *json)
{
    struct sigil_policy *p = NULL;
    sigil_result r = sigil_policy_parse(&p, json, strlen(json));
    if (!sigil_is_ok(r)) {
        fail_msg("parse failed: %s\n%s", sigil_error_detail(), json);
    }
    return p;
}

static void parse_err(const char *json, size_t len, enum sigil_err code, const char *needle)
{
    struct sigil_policy *p = NULL;
    sigil_result r = sigil_policy_parse(&p, json, len);
    if (r.code != code || p != NULL) {
        fail_msg("expected error %d, got %d (%s) for: %.300s", code, r.code, sigil_error_detail(), json);
    }
    if (needle != NULL && strstr(sigil_error_detail(), needle) == NULL) {
        fail_msg("detail \"%s\" lacks \"%s\" for: %.300s", sigil_error_detail(), needle, json);
    }
}

static void u256(sigil_u256 *out, const char *dec)
{
    pw_t v;
    assert_true(pw_parse_dec(&v, dec));
    pw_to_be(out->b, v);
}

/* A type-2 transaction on chain 1 to A4, 0.1 ETH, 21000 gas at 10 gwei / 1 gwei. */
static void tx_base(struct sigil_eth1_tx *tx)
{
    sigil_eth1_tx_init(tx);
    tx->type = 2;
    tx->chain_id = 1;
    tx->gas_limit = 21000;
    u256(&tx->max_fee, "10000000000");
    u256(&tx->max_priority_fee, "1000000000");
    tx->has_to = true;
    memcpy(tx->to, a4, 20);
    u256(&tx->value, "100000000000000000");
}

static struct sigil_policy_decision check_req(const struct sigil_policy *p, const struct sigil_policy_request *rq)
{
    struct sigil_policy_decision d;
    sigil_result r = sigil_policy_check(p, rq, &d);
    if (!sigil_is_ok(r)) {
        fail_msg("check failed: %s", sigil_error_detail());
    }
    return d;
}

static struct sigil_policy_decision check_tx(const struct sigil_policy *p, const uint8_t acct[20],
                                             const struct sigil_eth1_tx *tx)
{
    struct sigil_policy_request rq = {.kind = SIGIL_POLICY_TX, .tx = tx};
    memcpy(rq.account, acct, 20);
    return check_req(p, &rq);
}

static struct sigil_policy_decision check_kind(const struct sigil_policy *p, const uint8_t acct[20],
                                               enum sigil_policy_kind kind, const json_t *dom,
                                               const struct sigil_eth1_auth *auth)
{
    struct sigil_policy_request rq = {.kind = kind, .typed_domain = dom, .auth = auth};
    memcpy(rq.account, acct, 20);
    return check_req(p, &rq);
}

#define ALLOWED(d)                                                                                                     \
    do {                                                                                                               \
        struct sigil_policy_decision d_ = (d);                                                                         \
        if (!d_.allow) {                                                                                               \
            fail_msg("refused by %s: %s", d_.rule, d_.reason);                                                         \
        }                                                                                                              \
    } while (0)

#define REFUSED(d, rule_)                                                                                              \
    do {                                                                                                               \
        struct sigil_policy_decision d_ = (d);                                                                         \
        if (d_.allow || strcmp(d_.rule, (rule_)) != 0) {                                                               \
            fail_msg("expected refusal by %s, got allow=%d rule=%s reason=%s", (rule_), d_.allow, d_.rule, d_.reason); \
        }                                                                                                              \
        assert_true(strlen(d_.reason) > 10);                                                                           \
    } while (0)

/* ---- parsing ---- */

static void test_parse_full(void **state)
{
    (void)state;
    struct sigil_policy *p = parse_ok(rules_full);
    assert_string_equal(sigil_policy_name_for(p, a1), "treasury");
    assert_string_equal(sigil_policy_name_for(p, a2), "treasury");
    assert_string_equal(sigil_policy_name_for(p, a3), "treasury");
    assert_string_equal(sigil_policy_name_for(p, a9), "rest");
    uint8_t h[32], want[32];
    sigil_policy_hash(p, h);
    SHA256((const unsigned char *)rules_full, strlen(rules_full), want);
    assert_memory_equal(h, want, 32);

    struct sigil_spend_window w[SIGIL_POLICY_MAX_WINDOWS];
    assert_int_equal(sigil_policy_spend_limits(p, a1, w), 2);
    assert_string_equal(w[0].rule, "spend.daily");
    assert_int_equal(w[0].window_s, 86400);
    sigil_u256 five;
    u256(&five, "5" ETH);
    assert_memory_equal(w[0].max_wei.b, five.b, 32);
    assert_string_equal(w[1].rule, "spend.hourly");
    assert_int_equal(w[1].window_s, 3600);
    sigil_u256 one;
    u256(&one, "1" ETH);
    assert_memory_equal(w[1].max_wei.b, one.b, 32);
    assert_int_equal(sigil_policy_spend_limits(p, a9, w), 0);
    sigil_policy_free(p);

    /* windows in every unit, amounts at the edges */
    p = parse_ok("{\"version\":1,\"policies\":[{\"name\":\"w\",\"keys\":\"*\",\"spend_windows\":["
                 "{\"name\":\"a\",\"window\":\"60\",\"max_wei\":\"0\"},"
                 "{\"name\":\"b\",\"window\":\"90m\",\"max_wei\":\"0x0\"},"
                 "{\"name\":\"c\",\"window\":\"366d\",\"max_wei\":"
                 "\"115792089237316195423570985008687907853269984665640564039457584007913129639935\"},"
                 "{\"name\":\"d\",\"window\":\"60s\",\"max_wei\":\"0x"
                 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"},"
                 "{\"name\":\"e\",\"window\":\"8784h\",\"max_wei\":\"1\"}]}]}");
    assert_int_equal(sigil_policy_spend_limits(p, a1, w), 5);
    assert_int_equal(w[0].window_s, 60);
    assert_int_equal(w[1].window_s, 5400);
    assert_int_equal(w[2].window_s, 366 * 86400);
    assert_int_equal(w[4].window_s, 366 * 86400);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(w[2].max_wei.b[i], 0xff);
        assert_int_equal(w[3].max_wei.b[i], 0xff);
    }
    sigil_policy_free(p);

    /* hex amounts take an upper-case prefix and digits, as JSON-RPC quantities do */
    p = parse_ok("{\"version\":1,\"policies\":[{\"name\":\"w\",\"keys\":\"*\",\"spend_windows\":["
                 "{\"name\":\"a\",\"window\":60,\"max_wei\":\"0XDE0B6B3A7640000\"}]}]}");
    assert_int_equal(sigil_policy_spend_limits(p, a1, w), 1);
    assert_memory_equal(w[0].max_wei.b, one.b, 32);
    sigil_policy_free(p);

    /* an empty policy list is valid: every key is unbound */
    p = parse_ok("{\"version\":1,\"policies\":[]}");
    assert_null(sigil_policy_name_for(p, a1));
    sigil_policy_free(p);
}

#define POL(body) "{\"version\":1,\"policies\":[{\"name\":\"p\",\"keys\":\"*\"," body "}]}"

static void test_parse_hostile(void **state)
{
    (void)state;
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"", "invalid JSON"},
        {"{", "invalid JSON"},
        {"{\"version\":1,\"policies\":[]} x", "invalid JSON"},
        {"{\"version\":1,\"version\":1,\"policies\":[]}", "invalid JSON"}, /* duplicate member */
        {"[]", "(top level): must be an object"},
        {"{\"version\":2,\"policies\":[]}", "version: must be 1"},
        {"{\"version\":\"1\",\"policies\":[]}", "version: must be 1"},
        {"{\"policies\":[]}", "version: must be 1"},
        {"{\"version\":1}", "needs \"policies\""},
        {"{\"version\":1,\"policies\":{}}", "policies: must be an array"},
        {"{\"version\":1,\"policies\":[],\"extra\":1}", "unknown member \"extra\""},
        {"{\"version\":1,\"policies\":[1]}", "policies[0]: must be an object"},
        {POL("\"bogus\":true"), "policies[0]: unknown member \"bogus\""},
        {"{\"version\":1,\"policies\":[{\"keys\":\"*\"}]}", "policies[0].name"},
        {"{\"version\":1,\"policies\":[{\"name\":\"\",\"keys\":\"*\"}]}", "policies[0].name"},
        {"{\"version\":1,\"policies\":[{\"name\":\"a b\",\"keys\":\"*\"}]}", "policies[0].name"},
        {"{\"version\":1,\"policies\":[{\"name\":"
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"keys\":\"*\"}]}",
         "policies[0].name"},
        {"{\"version\":1,\"policies\":[{\"name\":\"a\",\"keys\":[\"" A1 "\"]},{\"name\":\"a\",\"keys\":[\"" A2 "\"]}]}",
         "policies[1].name: policy \"a\" is defined more than once"},
        {"{\"version\":1,\"policies\":[{\"name\":\"a\"}]}", "needs \"keys\""},
        {"{\"version\":1,\"policies\":[{\"name\":\"a\",\"keys\":[]}]}", "policies[0].keys: must have at least 1"},
        {"{\"version\":1,\"policies\":[{\"name\":\"a\",\"keys\":\"all\"}]}", "policies[0].keys: must be an array"},
        {"{\"version\":1,\"policies\":[{\"name\":\"a\",\"keys\":[\"0x12\"]}]}",
         "policies[0].keys[0]: must be an address"},
        {"{\"version\":1,\"policies\":[{\"name\":\"a\",\"keys\":[\"0x52908400098527886E0F7030069857D2E4169Ee7\"]}]}",
         "policies[0].keys[0]: must be an address"}, /* wrong EIP-55 checksum */
        {"{\"version\":1,\"policies\":[{\"name\":\"a\",\"keys\":[\"0x111111111111111111111111111111111111111g\"]}]}",
         "keys[0]"},
        {"{\"version\":1,\"policies\":[{\"name\":\"a\",\"keys\":[\"" A1 "\",\"" A1 "\"]}]}", "more than once"},
        {"{\"version\":1,\"policies\":[{\"name\":\"a\",\"keys\":[\"group:nope\"]}]}", "undefined group \"nope\""},
        {"{\"version\":1,\"groups\":{\"g\":[\"" A1
         "\"]},\"policies\":[{\"name\":\"a\",\"keys\":[\"group:g\",\"group:g\"]}]}",
         "listed more than once"},
        {"{\"version\":1,\"groups\":{\"g\":[]},\"policies\":[]}", "groups.g: must have at least 1"},
        {"{\"version\":1,\"groups\":{\"g h\":[\"" A1 "\"]},\"policies\":[]}", "group names"},
        {"{\"version\":1,\"groups\":[],\"policies\":[]}", "groups: must be an object"},
        {"{\"version\":1,\"policies\":[{\"name\":\"a\",\"keys\":\"*\"},{\"name\":\"b\",\"keys\":[\"*\"]}]}",
         "policies[1].keys: binds \"*\", which policy \"a\" already binds"},
        {"{\"version\":1,\"policies\":[{\"name\":\"a\",\"keys\":[\"*\",\"*\"]}]}", "listed more than once"},
        {POL("\"chain_ids\":[0]"), "chain_ids[0]: must be an integer from 1"},
        {POL("\"chain_ids\":[-1]"), "chain_ids[0]"},
        {POL("\"chain_ids\":[\"1\"]"), "chain_ids[0]"},
        {POL("\"chain_ids\":[1.5]"), "chain_ids[0]"},
        {POL("\"chain_ids\":[1,1]"), "lists chain id 1 more than once"},
        {POL("\"chain_ids\":1"), "chain_ids: must be an array"},
        {POL("\"to\":[]"), "to: must be an object"},
        {POL("\"to\":{\"allow\":[],\"block\":[]}"), "to: unknown member \"block\""},
        {POL("\"to\":{\"deny\":[\"0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
             "\"0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"]}"),
         "more than once"},
        {POL("\"to\":{\"allow\":[\"" A1 "\",17]}"), "to.allow[1]: must be an address"},
        {POL("\"contract_creation\":\"yes\""), "contract_creation: must be true or false"},
        {POL("\"raw_sign\":1"), "raw_sign: must be true or false"},
        {POL("\"max_value_wei\":1000"), "max_value_wei: must be an amount"},
        {POL("\"max_value_wei\":\"1.5\""), "max_value_wei"},
        {POL("\"max_value_wei\":\"-1\""), "max_value_wei"},
        {POL("\"max_value_wei\":\"01\""), "max_value_wei"},
        {POL("\"max_value_wei\":\"\""), "max_value_wei"},
        {POL("\"max_value_wei\":\"0x\""), "max_value_wei"},
        {POL("\"max_value_wei\":\"0x01\""), "max_value_wei"},
        {POL("\"max_value_wei\":\"0X00\""), "max_value_wei"},
        {POL("\"max_value_wei\":\"0xg\""), "max_value_wei"},
        {POL("\"max_value_wei\":\"0x1 \""), "max_value_wei"},
        {POL("\"max_value_wei\":\"x1\""), "max_value_wei"},
        {POL("\"max_value_wei\":\"1e18\""), "max_value_wei"},
        {POL("\"max_value_wei\":\" 1\""), "max_value_wei"},
        {POL("\"max_value_wei\":"
             "\"115792089237316195423570985008687907853269984665640564039457584007913129639936\""),
         "max_value_wei"}, /* 2^256 */
        {POL("\"max_value_wei\":"
             "\"0x1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\""),
         "max_value_wei"}, /* 65 hex digits */
        {POL("\"spend_windows\":{}"), "spend_windows: must be an array"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":\"59s\",\"max_wei\":\"1\"}]"), "outside [60 s, 366 d]"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":\"367d\",\"max_wei\":\"1\"}]"), "outside [60 s, 366 d]"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":31622401,\"max_wei\":\"1\"}]"), "outside [60 s, 366 d]"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":0,\"max_wei\":\"1\"}]"), "outside [60 s, 366 d]"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":-60,\"max_wei\":\"1\"}]"), "must not be negative"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":\"24x\",\"max_wei\":\"1\"}]"), "must be a duration"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":\"h\",\"max_wei\":\"1\"}]"), "must be a duration"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":\"024h\",\"max_wei\":\"1\"}]"), "must be a duration"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":\"99999999999999999999d\",\"max_wei\":\"1\"}]"),
         "must be a duration"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":1.5,\"max_wei\":\"1\"}]"), "must be a duration"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":\"1h\"}]"), "needs \"name\", \"window\" and \"max_wei\""},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":\"1h\",\"max_wei\":\"1\",\"x\":1}]"), "unknown member"},
        {POL("\"spend_windows\":[{\"name\":\"d\",\"window\":\"1h\",\"max_wei\":\"1\"},"
             "{\"name\":\"d\",\"window\":\"2h\",\"max_wei\":\"1\"}]"),
         "spend_windows[1].name: spend window \"d\" is defined more than once"},
        {POL("\"spend_windows\":[{\"name\":\"a/b\",\"window\":\"1h\",\"max_wei\":\"1\"}]"), "spend_windows[0].name"},
        {POL("\"spend_windows\":[{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"window\":\"1h\",\"max_wei\":\"1\"}"
             "]"),
         "spend_windows[0].name"},
        {POL("\"selectors\":[]"), "selectors: must be an object"},
        {POL("\"selectors\":{\"*\":[\"0xa9059c\"]}"), "must be a 4-byte function selector"},
        {POL("\"selectors\":{\"*\":[\"a9059cbb00\"]}"), "must be a 4-byte function selector"},
        {POL("\"selectors\":{\"*\":[\"0xa9059cbg\"]}"), "must be a 4-byte function selector"},
        {POL("\"selectors\":{\"*\":[\"0xa9059cbb\",\"0xA9059CBB\"]}"), "more than once"},
        {POL("\"selectors\":{\"token\":[\"0xa9059cbb\"]}"), "keys must be addresses or \"*\""},
        {POL("\"selectors\":{\"0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":[],"
             "\"0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\":[]}"),
         "more than once"},
        {POL("\"fees\":{\"max_gas\":0}"), "fees.max_gas"},
        {POL("\"fees\":{\"max_gas\":\"1\"}"), "fees.max_gas"},
        {POL("\"fees\":{\"max_fee_per_gas\":\"1\"}"), "fees: unknown member"},
        {POL("\"fees\":{\"max_fee_wei\":1}"), "fees.max_fee_wei"},
        {POL("\"eip712_domains\":[{}]"), "an empty entry would match every domain"},
        {POL("\"eip712_domains\":[{\"chain\":1}]"), "unknown member \"chain\""},
        {POL("\"eip712_domains\":[{\"verifyingContract\":\"0x12\"}]"), "eip712_domains[0].verifyingContract"},
        {POL("\"eip712_domains\":[{\"salt\":\"0x12\"}]"), "eip712_domains[0].salt"},
        {POL("\"eip712_domains\":[{\"name\":7}]"), "eip712_domains[0].name"},
        {POL("\"eip712_domains\":[{\"chainId\":-1}]"), "eip712_domains[0].chainId"},
        {POL("\"eip712_domains\":[{\"chainId\":\"x\"}]"), "eip712_domains[0].chainId"},
        {POL("\"approvals\":{\"required\":2,\"approvers\":[\"" A1 "\"]}"), "requires 2 approvals but lists only 1"},
        {POL("\"approvals\":{\"required\":0,\"approvers\":[\"" A1 "\"]}"), "approvals.required"},
        {POL("\"approvals\":{\"required\":1,\"approvers\":[]}"), "approvals.approvers: must have at least 1"},
        {POL("\"approvals\":{\"required\":1}"), "needs \"required\" and \"approvers\""},
        {POL("\"approvals\":{\"required\":1,\"approvers\":[\"" A1 "\",\"" A1 "\"]}"), "more than once"},
        {POL("\"approvals\":{\"required\":1,\"approvers\":[\"" A1 "\"],\"above_wei\":\"x\"}"), "approvals.above_wei"},
        {POL("\"approvals\":{\"required\":1,\"approvers\":[\"" A1 "\"],\"quorum\":1}"), "unknown member \"quorum\""},
        {POL("\"description\":7"), "description"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parse_err(cases[i].json, strlen(cases[i].json), SIGIL_ERR_PARSE, cases[i].needle);
    }
}

/* Builds {"version":1,"policies":[{"name":"p","keys":"*",<member>:[<n distinct addresses>]}]}. */
static char *big_list(const char *prefix, size_t n, const char *suffix)
{
    size_t cap = strlen(prefix) + strlen(suffix) + n * 45 + 64;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t o = (size_t)snprintf(s, cap, "%s", prefix);
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(s + o, cap - o, "%s\"0x%040zx\"", i ? "," : "", i + 1);
    }
    (void)snprintf(s + o, cap - o, "%s", suffix);
    return s;
}

static void test_parse_limits(void **state)
{
    (void)state;
    /* lists: 4096 entries fine, 4097 refused */
    struct sigil_policy *p = NULL;
    char *ok = big_list("{\"version\":1,\"policies\":[{\"name\":\"p\",\"keys\":\"*\",\"to\":{\"allow\":[",
                        SIGIL_POLICY_MAX_LIST, "]}}]}");
    p = parse_ok(ok);
    sigil_policy_free(p);
    free(ok);
    char *bad = big_list("{\"version\":1,\"policies\":[{\"name\":\"p\",\"keys\":\"*\",\"to\":{\"allow\":[",
                         SIGIL_POLICY_MAX_LIST + 1, "]}}]}");
    parse_err(bad, strlen(bad), SIGIL_ERR_PARSE, "to.allow: has 4097 entries, at most 4096 allowed");
    free(bad);
    bad = big_list("{\"version\":1,\"policies\":[{\"name\":\"p\",\"keys\":[", SIGIL_POLICY_MAX_LIST + 1, "]}]}");
    parse_err(bad, strlen(bad), SIGIL_ERR_PARSE, "policies[0].keys: has 4097 entries");
    free(bad);
    bad = big_list("{\"version\":1,\"policies\":[{\"name\":\"p\",\"keys\":\"*\",\"approvals\":{\"required\":1,"
                   "\"approvers\":[",
                   SIGIL_POLICY_MAX_APPROVERS + 1, "]}}]}");
    parse_err(bad, strlen(bad), SIGIL_ERR_PARSE, "approvers: has 65 entries, at most 64 allowed");
    free(bad);

    /* 257 policies */
    size_t cap = 300 * 80;
    char *many = malloc(cap);
    assert_non_null(many);
    size_t o = (size_t)snprintf(many, cap, "{\"version\":1,\"policies\":[");
    for (int i = 0; i <= SIGIL_POLICY_MAX_POLICIES; i++) {
        o += (size_t)snprintf(many + o, cap - o, "%s{\"name\":\"p%d\",\"keys\":[\"0x%040x\"]}", i ? "," : "", i, i + 1);
    }
    (void)snprintf(many + o, cap - o, "]}");
    parse_err(many, strlen(many), SIGIL_ERR_PARSE, "policies: has 257 entries, at most 256 allowed");
    free(many);

    /* 9 spend windows */
    char win[2048];
    o = (size_t)snprintf(win, sizeof win,
                         "{\"version\":1,\"policies\":[{\"name\":\"p\",\"keys\":\"*\",\"spend_windows\":[");
    for (int i = 0; i <= SIGIL_POLICY_MAX_WINDOWS; i++) {
        o += (size_t)snprintf(win + o, sizeof win - o, "%s{\"name\":\"w%d\",\"window\":\"1h\",\"max_wei\":\"1\"}",
                              i ? "," : "", i);
    }
    (void)snprintf(win + o, sizeof win - o, "]}]}");
    parse_err(win, strlen(win), SIGIL_ERR_PARSE, "spend_windows: has 9 entries, at most 8 allowed");

    /* the 1 MiB limit: a valid document padded with whitespace to just over it */
    size_t big = SIGIL_POLICY_MAX_FILE + 1;
    char *pad = malloc(big);
    assert_non_null(pad);
    memset(pad, ' ', big);
    int hl = snprintf(pad, big, "{\"version\":1,\"policies\":[]}");
    pad[hl] = ' ';
    parse_err(pad, big, SIGIL_ERR_TOO_LARGE, "at most");
    p = NULL;
    assert_true(sigil_is_ok(sigil_policy_parse(&p, pad, big - 1))); /* exactly 1 MiB is fine */
    sigil_policy_free(p);
    free(pad);

    /* deep nesting and binary junk fail cleanly */
    char deep[4096];
    memset(deep, '[', sizeof deep);
    parse_err(deep, sizeof deep, SIGIL_ERR_PARSE, NULL);
    static const char junk[] = {'{', 0, '\xff', '}'};
    parse_err(junk, sizeof junk, SIGIL_ERR_PARSE, NULL);
    assert_int_equal(sigil_policy_parse(NULL, "{}", 2).code, SIGIL_ERR_ARG);
}

/* ---- rules ---- */

static void test_rules_tx(void **state)
{
    (void)state;
    struct sigil_policy *p = parse_ok(rules_full);
    struct sigil_eth1_tx tx;
    uint8_t data[68] = {0xa9, 0x05, 0x9c, 0xbb};

    tx_base(&tx);
    struct sigil_policy_decision d = check_tx(p, a1, &tx);
    ALLOWED(d);
    assert_string_equal(d.policy, "treasury");
    assert_string_equal(d.rule, "");
    assert_int_equal(d.approvals_required, 0);

    /* chain_id */
    tx.chain_id = 17000;
    ALLOWED(check_tx(p, a1, &tx));
    tx.chain_id = 5;
    d = check_tx(p, a1, &tx);
    REFUSED(d, "chain_id");
    assert_string_equal(d.reason, "chain id 5 is not allowed by the policy");
    assert_string_equal(d.policy, "treasury");
    tx_base(&tx);
    tx.type = 0;
    u256(&tx.gas_price, "1000000000");
    tx.has_chain_id = true;
    ALLOWED(check_tx(p, a1, &tx));
    tx.has_chain_id = false;
    REFUSED(check_tx(p, a1, &tx), "chain_id");

    /* destinations: deny wins over allow; not on the allow list; contract creation */
    tx_base(&tx);
    memcpy(tx.to, a5, 20);
    d = check_tx(p, a1, &tx);
    REFUSED(d, "to.deny");
    assert_string_equal(d.reason, "destination " A5 " is on the policy's deny list");
    memcpy(tx.to, a9, 20);
    REFUSED(check_tx(p, a1, &tx), "to.allow");
    tx.has_to = false;
    REFUSED(check_tx(p, a1, &tx), "contract_creation");

    /* value */
    tx_base(&tx);
    u256(&tx.value, "1" ETH);
    ALLOWED(check_tx(p, a1, &tx));
    u256(&tx.value, "1000000000000000001");
    d = check_tx(p, a1, &tx);
    REFUSED(d, "value.max");
    assert_string_equal(d.reason, "value 1.000000000000000001 ETH exceeds the policy maximum of 1 ETH");
    u256(&tx.value, "2500000000000000000");
    d = check_tx(p, a1, &tx);
    assert_string_equal(d.reason, "value 2.5 ETH exceeds the policy maximum of 1 ETH");

    /* selectors: per destination, "*", short calldata, plain transfers */
    tx_base(&tx);
    tx.data = data;
    tx.data_len = sizeof data;
    ALLOWED(check_tx(p, a1, &tx));
    data[0] = 0x09;
    data[1] = 0x5e;
    data[2] = 0xa7;
    data[3] = 0xb3; /* approve: allowed for every destination */
    ALLOWED(check_tx(p, a1, &tx));
    data[0] = 0x12;
    d = check_tx(p, a1, &tx);
    REFUSED(d, "selector");
    assert_string_equal(d.reason, "function selector 0x125ea7b3 is not allowed for destination " A4);
    tx.data_len = 3;
    d = check_tx(p, a1, &tx);
    REFUSED(d, "selector");
    assert_string_equal(d.reason, "calldata of 3 bytes has no 4-byte function selector");
    tx.data_len = 0;
    ALLOWED(check_tx(p, a1, &tx));

    /* fees */
    tx_base(&tx);
    u256(&tx.max_fee, "100000000000");
    ALLOWED(check_tx(p, a1, &tx));
    u256(&tx.max_fee, "100000000001");
    d = check_tx(p, a1, &tx);
    REFUSED(d, "fee.max_fee_per_gas");
    assert_string_equal(d.reason, "max fee per gas 100.000000001 gwei exceeds the policy cap of 100 gwei");
    tx_base(&tx);
    u256(&tx.max_priority_fee, "2000000001");
    REFUSED(check_tx(p, a1, &tx), "fee.max_priority_fee_per_gas");
    /* legacy gasPrice counts as both caps */
    tx_base(&tx);
    tx.type = 1;
    u256(&tx.gas_price, "3000000000");
    REFUSED(check_tx(p, a1, &tx), "fee.max_priority_fee_per_gas");
    u256(&tx.gas_price, "100000000001");
    REFUSED(check_tx(p, a1, &tx), "fee.max_fee_per_gas");
    u256(&tx.gas_price, "2000000000");
    ALLOWED(check_tx(p, a1, &tx));
    tx_base(&tx);
    tx.gas_limit = 500000;
    ALLOWED(check_tx(p, a1, &tx));
    tx.gas_limit = 500001;
    REFUSED(check_tx(p, a1, &tx), "fee.max_gas");
    /* max fee: 500000 gas * 100 gwei = 0.05 ETH exactly; blob gas pushes it over */
    tx_base(&tx);
    tx.gas_limit = 500000;
    u256(&tx.max_fee, "100000000000");
    ALLOWED(check_tx(p, a1, &tx));
    tx.type = 3;
    uint8_t blobs[1][32] = {{0x01}};
    tx.blob_hashes = blobs;
    tx.blob_hashes_len = 1;
    u256(&tx.max_fee_per_blob_gas, "1");
    d = check_tx(p, a1, &tx);
    REFUSED(d, "fee.max_fee");
    assert_string_equal(d.reason, "maximum fee 0.050000000000131072 ETH exceeds the policy cap of 0.05 ETH");
    tx.blob_hashes_len = 0;
    tx.type = 2;

    /* EIP-7702 authorizations inside a type-4 transaction */
    tx_base(&tx);
    tx.type = 4;
    struct sigil_eth1_auth auths[2] = {0};
    u256(&auths[0].chain_id, "1");
    tx.auths = auths;
    tx.auths_len = 1;
    REFUSED(check_tx(p, a1, &tx), "authorizations");

    /* unbound key: a file without "*" */
    struct sigil_policy *q = parse_ok("{\"version\":1,\"policies\":[{\"name\":\"only\",\"keys\":[\"" A1 "\"]}]}");
    tx_base(&tx);
    d = check_tx(q, a2, &tx);
    REFUSED(d, "policy.unbound");
    assert_string_equal(d.policy, "");
    assert_string_equal(d.reason, "no policy in the rules file applies to account " A2);
    /* a policy with no rules allows any transaction but no contract creation */
    ALLOWED(check_tx(q, a1, &tx));
    tx.has_to = false;
    REFUSED(check_tx(q, a1, &tx), "contract_creation");
    sigil_policy_free(q);

    /* allow-all policy with authorizations and chain ids */
    q = parse_ok(POL("\"chain_ids\":[1],\"authorizations\":true,\"contract_creation\":true,"
                     "\"to\":{\"deny\":[\"" A5 "\"]}"));
    tx_base(&tx);
    tx.type = 4;
    tx.auths = auths;
    tx.auths_len = 2;
    u256(&auths[1].chain_id, "1");
    ALLOWED(check_tx(q, a1, &tx));
    u256(&auths[1].chain_id, "0");
    d = check_tx(q, a1, &tx);
    REFUSED(d, "chain_id");
    assert_non_null(strstr(d.reason, "authorization 1 has chain id 0"));
    u256(&auths[1].chain_id, "115792089237316195423570985008687907853269984665640564039457584007913129639935");
    REFUSED(check_tx(q, a1, &tx), "chain_id");
    tx_base(&tx);
    tx.has_to = false;
    ALLOWED(check_tx(q, a1, &tx)); /* contract creation allowed here */
    tx.has_to = true;
    memcpy(tx.to, a9, 20);
    ALLOWED(check_tx(q, a1, &tx)); /* no allow list: anything but the deny list */
    memcpy(tx.to, a5, 20);
    REFUSED(check_tx(q, a1, &tx), "to.deny");
    sigil_policy_free(q);
    sigil_policy_free(p);
}

static void test_rules_kinds(void **state)
{
    (void)state;
    struct sigil_policy *p = parse_ok(rules_full);
    /* treasury: personal and typed yes, raw and authorizations no; rest: personal only */
    ALLOWED(check_kind(p, a1, SIGIL_POLICY_PERSONAL, NULL, NULL));
    ALLOWED(check_kind(p, a9, SIGIL_POLICY_PERSONAL, NULL, NULL));
    REFUSED(check_kind(p, a1, SIGIL_POLICY_RAW, NULL, NULL), "raw_sign");
    REFUSED(check_kind(p, a9, SIGIL_POLICY_TYPED, NULL, NULL), "typed_data");
    struct sigil_eth1_auth auth = {0};
    u256(&auth.chain_id, "1");
    REFUSED(check_kind(p, a1, SIGIL_POLICY_AUTH, NULL, &auth), "authorizations");

    /* EIP-712 domains: chain id, then the allow-list; addresses compare case-insensitively,
     * chainId may be a number, a decimal or a hex string */
    static const struct {
        const char *domain, *rule; /* rule NULL: allowed */
    } typed[] = {
        {"{\"name\":\"Permit2\",\"chainId\":1,\"verifyingContract\":\"0x000000000022d473030f116ddee9f6b43ac78ba3\"}",
         NULL},
        {"{\"name\":\"Permit2\",\"chainId\":\"1\",\"verifyingContract\":\"" PERMIT2 "\"}", NULL},
        {"{\"name\":\"Permit2\",\"chainId\":\"0x1\",\"verifyingContract\":"
         "\"0x000000000022D473030F116DDEE9F6B43AC78BA3\"}",
         NULL},
        {"{\"name\":\"Permit2\",\"version\":\"9\",\"chainId\":\"0x01\",\"verifyingContract\":\"" PERMIT2 "\"}", NULL},
        {"{\"name\":\"Permit2\",\"chainId\":1,\"verifyingContract\":\"" A4 "\"}", "eip712.domain"},
        {"{\"name\":\"permit2\",\"chainId\":1,\"verifyingContract\":\"" PERMIT2 "\"}", "eip712.domain"},
        {"{\"chainId\":1,\"verifyingContract\":\"" PERMIT2 "\"}", "eip712.domain"},
        {"{\"name\":\"Permit2\",\"chainId\":1,\"verifyingContract\":\"0x1234\"}", "eip712.domain"},
        {"{\"name\":\"Permit2\",\"chainId\":1,\"verifyingContract\":17}", "eip712.domain"},
        {"{\"name\":\"Permit2\",\"chainId\":5,\"verifyingContract\":\"" PERMIT2 "\"}", "chain_id"},
        {"{\"name\":\"Permit2\",\"verifyingContract\":\"" PERMIT2 "\"}", "chain_id"},
        {"{\"name\":\"Permit2\",\"chainId\":\"one\",\"verifyingContract\":\"" PERMIT2 "\"}", "chain_id"},
        {"{\"name\":\"Permit2\",\"chainId\":-1,\"verifyingContract\":\"" PERMIT2 "\"}", "chain_id"},
        {"{\"name\":\"Other\",\"version\":\"2\",\"chainId\":17000,\"salt\":\"0x"
         "00000000000000000000000000000000000000000000000000000000000000AA\"}",
         NULL},
        {"{\"name\":\"Other\",\"version\":\"2\",\"chainId\":17000,\"salt\":\"0x"
         "00000000000000000000000000000000000000000000000000000000000000ab\"}",
         "eip712.domain"},
        {"{\"name\":\"Other\",\"version\":\"3\",\"chainId\":17000,\"salt\":\"0x"
         "00000000000000000000000000000000000000000000000000000000000000aa\"}",
         "eip712.domain"},
        {"{\"name\":\"Other\",\"version\":\"2\",\"chainId\":1,\"salt\":\"0x"
         "00000000000000000000000000000000000000000000000000000000000000aa\"}",
         "eip712.domain"},
    };
    for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++) {
        json_error_t e;
        json_t *dom = json_loads(typed[i].domain, 0, &e);
        assert_non_null(dom);
        struct sigil_policy_decision d = check_kind(p, a1, SIGIL_POLICY_TYPED, dom, NULL);
        if (typed[i].rule == NULL && !d.allow) {
            fail_msg("domain %zu refused by %s: %s", i, d.rule, d.reason);
        }
        if (typed[i].rule != NULL && (d.allow || strcmp(d.rule, typed[i].rule) != 0)) {
            fail_msg("domain %zu: expected %s, got allow=%d %s", i, typed[i].rule, d.allow, d.rule);
        }
        json_decref(dom);
    }
    /* no domain object at all: no chainId */
    REFUSED(check_kind(p, a1, SIGIL_POLICY_TYPED, NULL, NULL), "chain_id");
    /* a domain that is not an object has no members either */
    json_t *notobj = json_pack("[s]", "chainId");
    REFUSED(check_kind(p, a1, SIGIL_POLICY_TYPED, notobj, NULL), "chain_id");
    sigil_policy_free(p);

    /* domains without a chain restriction: a missing or non-object domain matches no entry */
    p = parse_ok(POL("\"typed_data\":true,\"eip712_domains\":[{\"name\":\"Permit2\"}]"));
    REFUSED(check_kind(p, a1, SIGIL_POLICY_TYPED, NULL, NULL), "eip712.domain");
    REFUSED(check_kind(p, a1, SIGIL_POLICY_TYPED, notobj, NULL), "eip712.domain");
    json_t *permit = json_pack("{s:s}", "name", "Permit2");
    ALLOWED(check_kind(p, a1, SIGIL_POLICY_TYPED, permit, NULL));
    json_decref(permit);
    sigil_policy_free(p);

    /* without chain_ids and eip712_domains any domain passes; raw and authorizations when allowed */
    p = parse_ok(POL("\"typed_data\":true,\"raw_sign\":true,\"authorizations\":true,\"personal_sign\":false"));
    json_t *dom = json_pack("{s:s}", "name", "anything");
    ALLOWED(check_kind(p, a1, SIGIL_POLICY_TYPED, dom, NULL));
    ALLOWED(check_kind(p, a1, SIGIL_POLICY_TYPED, NULL, NULL));
    ALLOWED(check_kind(p, a1, SIGIL_POLICY_TYPED, notobj, NULL));
    json_decref(notobj);
    json_decref(dom);
    ALLOWED(check_kind(p, a1, SIGIL_POLICY_RAW, NULL, NULL));
    REFUSED(check_kind(p, a1, SIGIL_POLICY_PERSONAL, NULL, NULL), "personal_sign");
    u256(&auth.chain_id, "0");
    ALLOWED(check_kind(p, a1, SIGIL_POLICY_AUTH, NULL, &auth)); /* no chain restriction */
    sigil_policy_free(p);

    /* standalone authorizations against a chain list */
    p = parse_ok(POL("\"authorizations\":true,\"chain_ids\":[17000]"));
    u256(&auth.chain_id, "17000");
    ALLOWED(check_kind(p, a1, SIGIL_POLICY_AUTH, NULL, &auth));
    u256(&auth.chain_id, "1");
    REFUSED(check_kind(p, a1, SIGIL_POLICY_AUTH, NULL, &auth), "chain_id");
    u256(&auth.chain_id, "0");
    REFUSED(check_kind(p, a1, SIGIL_POLICY_AUTH, NULL, &auth), "chain_id");
    /* a permission left out is refused */
    REFUSED(check_kind(p, a1, SIGIL_POLICY_PERSONAL, NULL, NULL), "personal_sign");
    REFUSED(check_kind(p, a1, SIGIL_POLICY_TYPED, NULL, NULL), "typed_data");
    REFUSED(check_kind(p, a1, SIGIL_POLICY_RAW, NULL, NULL), "raw_sign");
    sigil_policy_free(p);
}

static void test_binding(void **state)
{
    (void)state;
    /* file order decides between an address and a group; "*" only when nothing names the key */
    struct sigil_policy *p = parse_ok("{\"version\":1,\"groups\":{\"g\":[\"" A1 "\",\"" A2 "\"],\"h\":[\"" A3 "\"]},"
                                      "\"policies\":["
                                      "{\"name\":\"by-address\",\"keys\":[\"" A1 "\"]},"
                                      "{\"name\":\"by-group\",\"keys\":[\"group:g\",\"" A3 "\"]},"
                                      "{\"name\":\"star\",\"keys\":\"*\"},"
                                      "{\"name\":\"late\",\"keys\":[\"" A4 "\",\"group:h\"]}]}");
    assert_string_equal(sigil_policy_name_for(p, a1), "by-address");
    assert_string_equal(sigil_policy_name_for(p, a2), "by-group");
    assert_string_equal(sigil_policy_name_for(p, a3), "by-group");
    assert_string_equal(sigil_policy_name_for(p, a4), "late"); /* an address beats an earlier "*" */
    assert_string_equal(sigil_policy_name_for(p, a9), "star");
    sigil_policy_free(p);

    p = parse_ok("{\"version\":1,\"groups\":{\"g\":[\"" A1 "\"]},\"policies\":["
                 "{\"name\":\"group-first\",\"keys\":[\"group:g\"]},"
                 "{\"name\":\"address-second\",\"keys\":[\"" A1 "\",\"" A2 "\"]}]}");
    assert_string_equal(sigil_policy_name_for(p, a1), "group-first");
    assert_string_equal(sigil_policy_name_for(p, a2), "address-second");
    assert_null(sigil_policy_name_for(p, a9));
    struct sigil_policy_decision d = check_kind(p, a9, SIGIL_POLICY_PERSONAL, NULL, NULL);
    REFUSED(d, "policy.unbound");
    assert_int_equal(sigil_policy_spend_limits(p, a9, (struct sigil_spend_window[SIGIL_POLICY_MAX_WINDOWS]){0}), 0);
    sigil_policy_free(p);

    /* "*" inside an array binds too */
    p = parse_ok("{\"version\":1,\"policies\":[{\"name\":\"x\",\"keys\":[\"" A1 "\",\"*\"]}]}");
    assert_string_equal(sigil_policy_name_for(p, a9), "x");
    sigil_policy_free(p);
}

/* ---- approvals ---- */

static sigil_secp256k1_sk *key(uint8_t seed, uint8_t out_addr[20])
{
    uint8_t b[32] = {0};
    b[31] = seed;
    b[0] = 0x42;
    sigil_secp256k1_sk *sk = NULL;
    assert_true(sigil_is_ok(sigil_secp256k1_sk_from_bytes(&sk, b)));
    assert_true(sigil_is_ok(sigil_secp256k1_address(out_addr, sk)));
    return sk;
}

static struct sigil_policy_approval approve(const sigil_secp256k1_sk *sk, const uint8_t account[20],
                                            const uint8_t digest[32])
{
    uint8_t ad[32];
    struct sigil_policy_approval a;
    sigil_policy_approval_digest(ad, account, digest);
    assert_true(sigil_is_ok(sigil_secp256k1_sign(&a.sig, sk, ad)));
    return a;
}

static void test_approvals(void **state)
{
    (void)state;
    uint8_t ax[20], ay[20], az[20], aw[20], acct[20], other[20];
    sigil_secp256k1_sk *x = key(1, ax), *y = key(2, ay), *z = key(3, az), *w = key(4, aw);
    sigil_secp256k1_sk *k = key(5, acct), *k2 = key(6, other);
    char ex[43], ey[43], ez[43], ea[43], eo[43];
    sigil_eip55_encode(ex, ax);
    sigil_eip55_encode(ey, ay);
    sigil_eip55_encode(ez, az);
    sigil_eip55_encode(ea, acct);
    sigil_eip55_encode(eo, other);
    char rules[1024];
    (void)snprintf(rules, sizeof rules,
                   "{\"version\":1,\"policies\":[{\"name\":\"vault\",\"keys\":[\"%s\",\"%s\"],\"personal_sign\":true,"
                   "\"approvals\":{\"above_wei\":\"10" ETH "\",\"required\":2,\"approvers\":[\"%s\",\"%s\",\"%s\"]}},"
                   "{\"name\":\"always\",\"keys\":\"*\",\"personal_sign\":true,"
                   "\"approvals\":{\"required\":1,\"approvers\":[\"%s\"]}}]}",
                   ea, eo, ex, ey, ez, ex);
    struct sigil_policy *p = parse_ok(rules);

    struct sigil_eth1_tx tx;
    tx_base(&tx);
    u256(&tx.value, "11" ETH);
    uint8_t digest[32];
    assert_true(sigil_is_ok(sigil_eth1_tx_signing_hash(digest, &tx)));
    struct sigil_policy_request rq = {.kind = SIGIL_POLICY_TX, .tx = &tx};
    memcpy(rq.account, acct, 20);
    memcpy(rq.digest, digest, 32);

    /* none */
    struct sigil_policy_decision d = check_req(p, &rq);
    REFUSED(d, "approvals");
    assert_int_equal(d.approvals_required, 2);
    assert_int_equal(d.approvals_valid, 0);
    assert_string_equal(d.reason, "a value above 10 ETH needs 2 approvals from the policy's approvers, 0 valid given");

    struct sigil_policy_approval ap[4];
    /* one valid */
    ap[0] = approve(x, acct, digest);
    rq.approvals = ap;
    rq.napprovals = 1;
    d = check_req(p, &rq);
    REFUSED(d, "approvals");
    assert_int_equal(d.approvals_valid, 1);
    /* the same approver twice counts once */
    ap[1] = ap[0];
    rq.napprovals = 2;
    d = check_req(p, &rq);
    REFUSED(d, "approvals");
    assert_int_equal(d.approvals_valid, 1);
    /* a signer not in the list */
    ap[1] = approve(w, acct, digest);
    d = check_req(p, &rq);
    REFUSED(d, "approvals");
    assert_int_equal(d.approvals_valid, 1);
    /* a bad signature (corrupted s; and an all-zero one) */
    ap[1] = approve(y, acct, digest);
    ap[1].sig.s[31] ^= 1;
    ap[2] = (struct sigil_policy_approval){0};
    rq.napprovals = 3;
    d = check_req(p, &rq);
    REFUSED(d, "approvals");
    assert_int_equal(d.approvals_valid, 1);
    /* an approval for another account (same digest) and one for another digest */
    ap[1] = approve(y, other, digest);
    uint8_t digest2[32];
    memcpy(digest2, digest, 32);
    digest2[0] ^= 0x80;
    ap[2] = approve(z, acct, digest2);
    d = check_req(p, &rq);
    REFUSED(d, "approvals");
    assert_int_equal(d.approvals_valid, 1);
    /* a quorum: x and y (with the junk around it) */
    ap[3] = approve(y, acct, digest);
    rq.napprovals = 4;
    d = check_req(p, &rq);
    ALLOWED(d);
    assert_int_equal(d.approvals_valid, 2);
    assert_int_equal(d.approvals_required, 2);
    /* all three */
    ap[0] = approve(x, acct, digest);
    ap[1] = approve(y, acct, digest);
    ap[2] = approve(z, acct, digest);
    rq.napprovals = 3;
    d = check_req(p, &rq);
    ALLOWED(d);
    assert_int_equal(d.approvals_valid, 3);

    /* at or below the threshold: no approvals needed */
    u256(&tx.value, "10" ETH);
    rq.napprovals = 0;
    d = check_req(p, &rq);
    ALLOWED(d);
    assert_int_equal(d.approvals_required, 0);
    /* with above_wei the rule applies to transactions only */
    rq.kind = SIGIL_POLICY_PERSONAL;
    ALLOWED(check_req(p, &rq));

    /* without above_wei: every request of the policy */
    uint8_t stranger[20] = {0x77};
    memcpy(rq.account, stranger, 20);
    d = check_req(p, &rq);
    REFUSED(d, "approvals");
    assert_string_equal(d.policy, "always");
    assert_string_equal(d.reason, "the request needs 1 approvals from the policy's approvers, 0 valid given");
    ap[0] = approve(x, stranger, rq.digest);
    rq.approvals = ap;
    rq.napprovals = 1;
    ALLOWED(check_req(p, &rq));

    /* misuse */
    rq.approvals = NULL;
    assert_int_equal(sigil_policy_check(p, &rq, &d).code, SIGIL_ERR_ARG);
    rq.napprovals = 0;
    rq.kind = SIGIL_POLICY_TX;
    rq.tx = NULL;
    assert_int_equal(sigil_policy_check(p, &rq, &d).code, SIGIL_ERR_ARG);
    rq.kind = SIGIL_POLICY_AUTH;
    assert_int_equal(sigil_policy_check(p, &rq, &d).code, SIGIL_ERR_ARG);
    rq.kind = (enum sigil_policy_kind)99;
    assert_int_equal(sigil_policy_check(p, &rq, &d).code, SIGIL_ERR_ARG);
    assert_int_equal(sigil_policy_check(NULL, &rq, &d).code, SIGIL_ERR_ARG);

    sigil_policy_free(p);
    sigil_secp256k1_sk_free(x);
    sigil_secp256k1_sk_free(y);
    sigil_secp256k1_sk_free(z);
    sigil_secp256k1_sk_free(w);
    sigil_secp256k1_sk_free(k);
    sigil_secp256k1_sk_free(k2);
}

/* Known answers from ethers 6.17.0: TypedDataEncoder.hash({name: "Sigil approval", version: "1"},
 * {Approval: [{name: "account", type: "address"}, {name: "digest", type: "bytes32"}]}, {account, digest}). */
static void test_approval_digest(void **state)
{
    (void)state;
    static const struct {
        const char *account, *digest, *want;
    } kat[] = {
        {A1, "0x2222222222222222222222222222222222222222222222222222222222222222",
         "0x23fa711c93564ae3a362f5ed1be45d22c4b150f20bfbe164a16df5f577b3e3c2"},
        {"0x52908400098527886E0F7030069857D2E4169EE7",
         "0xababababababababababababababababababababababababababababababab01",
         "0x550b51fa47724cdfa99b10c1fa9a19a3d1230f189a53295a7da5ff4e7eb2653a"},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint8_t acct[20], dig[32], want[32], got[32], via712[32];
        addr(acct, kat[i].account);
        assert_true(sigil_is_ok(sigil_hex_decode_exact(dig, 32, kat[i].digest, strlen(kat[i].digest))));
        assert_true(sigil_is_ok(sigil_hex_decode_exact(want, 32, kat[i].want, strlen(kat[i].want))));
        sigil_policy_approval_digest(got, acct, dig);
        assert_memory_equal(got, want, 32);
        /* and through the EIP-712 encoder */
        json_t *doc = json_pack("{s:{s:[{s:s,s:s},{s:s,s:s}],s:[{s:s,s:s},{s:s,s:s}]},s:s,s:{s:s,s:s},s:{s:s,s:s}}",
                                "types", "EIP712Domain", "name", "name", "type", "string", "name", "version", "type",
                                "string", "Approval", "name", "account", "type", "address", "name", "digest", "type",
                                "bytes32", "primaryType", "Approval", "domain", "name", "Sigil approval", "version",
                                "1", "message", "account", kat[i].account, "digest", kat[i].digest);
        assert_non_null(doc);
        assert_true(sigil_is_ok(sigil_eip712_hash(via712, NULL, NULL, doc)));
        assert_memory_equal(via712, want, 32);
        json_decref(doc);
    }
}

/* ---- default policy, hash, spend amount ---- */

static void test_default(void **state)
{
    (void)state;
    const struct sigil_policy *p = sigil_policy_default();
    assert_string_equal(sigil_policy_name_for(p, a1), "default");
    struct sigil_eth1_tx tx;
    tx_base(&tx);
    tx.chain_id = 123456;
    u256(&tx.value, "1000000" ETH);
    struct sigil_policy_decision d = check_tx(p, a1, &tx);
    ALLOWED(d);
    assert_string_equal(d.policy, "default");
    tx.has_to = false;
    ALLOWED(check_tx(p, a1, &tx));
    ALLOWED(check_kind(p, a1, SIGIL_POLICY_PERSONAL, NULL, NULL));
    ALLOWED(check_kind(p, a1, SIGIL_POLICY_TYPED, NULL, NULL));
    struct sigil_eth1_auth auth = {0};
    ALLOWED(check_kind(p, a1, SIGIL_POLICY_AUTH, NULL, &auth));
    d = check_kind(p, a1, SIGIL_POLICY_RAW, NULL, NULL);
    REFUSED(d, "raw_sign");
    uint8_t h[32], zero[32] = {0};
    sigil_policy_hash(p, h);
    assert_memory_equal(h, zero, 32);
    struct sigil_spend_window w[SIGIL_POLICY_MAX_WINDOWS];
    assert_int_equal(sigil_policy_spend_limits(p, a1, w), 0);
    sigil_policy_free((struct sigil_policy *)p); /* a no-op */
    assert_string_equal(sigil_policy_name_for(sigil_policy_default(), a2), "default");
}

static void test_hash(void **state)
{
    (void)state;
    static const char x[] = "{\"version\":1,\"policies\":[]}";
    static const char y[] = "{\"version\": 1, \"policies\": []}";
    struct sigil_policy *p = parse_ok(x), *q = parse_ok(y);
    uint8_t hp[32], hq[32], want[32];
    sigil_policy_hash(p, hp);
    sigil_policy_hash(q, hq);
    SHA256((const unsigned char *)x, strlen(x), want);
    assert_memory_equal(hp, want, 32);
    assert_memory_not_equal(hp, hq, 32); /* the bytes as loaded, not a canonical form */
    sigil_policy_free(p);
    sigil_policy_free(q);
}

static void test_spend_amount(void **state)
{
    (void)state;
    struct sigil_policy *p =
        parse_ok("{\"version\":1,\"policies\":[{\"name\":\"fees\",\"keys\":[\"" A1 "\"],\"count_fees\":true},"
                 "{\"name\":\"value\",\"keys\":\"*\"}]}");
    struct sigil_eth1_tx tx;
    tx_base(&tx); /* 0.1 ETH, 21000 gas at 10 gwei */
    sigil_u256 got, want;
    sigil_policy_spend_amount(p, a2, &tx, &got);
    u256(&want, "100000000000000000");
    assert_memory_equal(got.b, want.b, 32);
    sigil_policy_spend_amount(p, a1, &tx, &got);
    u256(&want, "100210000000000000");
    assert_memory_equal(got.b, want.b, 32);
    /* type 3: plus 2 blobs * 131072 blob gas * 3 wei */
    tx.type = 3;
    uint8_t blobs[2][32] = {{1}, {2}};
    tx.blob_hashes = blobs;
    tx.blob_hashes_len = 2;
    u256(&tx.max_fee_per_blob_gas, "3");
    sigil_policy_spend_amount(p, a1, &tx, &got);
    u256(&want, "100210000000786432");
    assert_memory_equal(got.b, want.b, 32);
    /* legacy: gasPrice */
    tx_base(&tx);
    tx.type = 0;
    u256(&tx.gas_price, "1");
    sigil_policy_spend_amount(p, a1, &tx, &got);
    u256(&want, "100000000000021000");
    assert_memory_equal(got.b, want.b, 32);
    /* saturation */
    memset(tx.value.b, 0xff, 32);
    sigil_policy_spend_amount(p, a1, &tx, &got);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(got.b[i], 0xff);
    }
    tx_base(&tx);
    tx.gas_limit = UINT64_MAX;
    memset(tx.max_fee.b, 0xff, 32);
    sigil_policy_spend_amount(p, a1, &tx, &got);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(got.b[i], 0xff);
    }
    sigil_policy_free(p);
}

static void test_wei_format(void **state)
{
    (void)state;
    char s[PW_DEC_MAX + 8];
    pw_t v;
    assert_string_equal(pw_eth(s, pw_u64(0)), "0 ETH");
    assert_string_equal(pw_eth(s, pw_u64(1)), "0.000000000000000001 ETH");
    assert_string_equal(pw_eth(s, pw_u64(1000000000000000000ull)), "1 ETH");
    assert_string_equal(pw_eth(s, pw_u64(1230000000000000000ull)), "1.23 ETH");
    assert_string_equal(pw_gwei(s, pw_u64(1500000000ull)), "1.5 gwei");
    assert_true(pw_parse_dec(&v, "115792089237316195423570985008687907853269984665640564039457584007913129639935"));
    assert_int_equal(pw_cmp(v, pw_max()), 0);
    assert_string_equal(pw_eth(s, v),
                        "115792089237316195423570985008687907853269984665640564039457.584007913129639935 ETH");
    assert_string_equal(pw_format(s, v, 0),
                        "115792089237316195423570985008687907853269984665640564039457584007913129639935");
    sigil_u256 q;
    assert_true(sigil_is_ok(sigil_eth1_parse_quantity(&q, "0xDE0B6B3A7640000", "q"))); /* rules-file hex amounts */
    v = pw_from_be(q.b);
    assert_string_equal(pw_eth(s, v), "1 ETH");
    assert_false(pw_parse_dec(&v, "0xDE0B6B3A7640000")); /* the decimal parser takes decimals only */
    assert_false(pw_parse_dec(&v, "01"));
    assert_true(pw_parse_dec(&v, "0"));
    assert_true(pw_is_zero(v));
    assert_false(pw_parse_dec(&v, "115792089237316195423570985008687907853269984665640564039457584007913129639936"));
    assert_false(pw_parse_dec(&v, "1157920892373161954235709850086879078532699846656405640394575840079131296399350"));
    assert_int_equal(pw_cmp(pw_sub_floor(pw_u64(5), pw_u64(7)), pw_u64(0)), 0);
    pw_t big = pw_add_sat(pw_u64(UINT64_MAX), pw_u64(1));
    assert_int_equal(big.l[1], 1);
    assert_int_equal(pw_cmp(pw_sub_floor(big, pw_u64(1)), pw_u64(UINT64_MAX)), 0);
}

/* ---- the command line ---- */

static char g_dir[64];

static void write_file(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Runs the CLI with stdout captured into out (NUL-terminated). */
static int run_cli(char *out, size_t cap, int argc, const char *const *argv)
{
    char path[128];
    (void)snprintf(path, sizeof path, "%s/stdout", g_dir);
    (void)fflush(stdout);
    int saved = dup(1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_true(dup2(fd, 1) == 1);
    (void)close(fd);
    int rc = sigil_policy_cli(argc, (char **)argv);
    (void)fflush(stdout);
    assert_true(dup2(saved, 1) == 1);
    (void)close(saved);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    (void)fclose(f);
    return rc;
}

static void test_cli(void **state)
{
    (void)state;
    (void)snprintf(g_dir, sizeof g_dir, "/tmp/sigil-policy-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    char good[128], bad[128], ks[128], pw[128], out[4096];
    (void)snprintf(good, sizeof good, "%s/rules.json", g_dir);
    (void)snprintf(bad, sizeof bad, "%s/bad.json", g_dir);
    (void)snprintf(ks, sizeof ks, "%s/approver.json", g_dir);
    (void)snprintf(pw, sizeof pw, "%s/password.txt", g_dir);
    write_file(good, rules_full, strlen(rules_full));
    write_file(bad, "{\"version\":1,\"policies\":[{\"name\":\"x\",\"keys\":\"*\",\"max_value_wei\":\"1.5\"}]}", 72);

    const char *check[] = {"policy", "check", good};
    assert_int_equal(run_cli(out, sizeof out, 3, check), 0);
    assert_non_null(strstr(out, "policies: 2, groups: 1"));
    assert_non_null(strstr(out, "treasury: "));
    assert_non_null(strstr(out, "spend.daily 86400 s max 5 ETH"));
    const char *hash[] = {"policy", "hash", good};
    assert_int_equal(run_cli(out, sizeof out, 3, hash), 0);
    uint8_t want[32];
    char hex[67];
    SHA256((const unsigned char *)rules_full, strlen(rules_full), want);
    sigil_hex_encode(hex, want, 32, 1);
    assert_int_equal(strncmp(out, hex, 66), 0);
    const char *check_bad[] = {"policy", "check", bad};
    assert_int_equal(run_cli(out, sizeof out, 3, check_bad), 2);
    const char *missing[] = {"policy", "check", "/nonexistent/rules.json"};
    assert_int_equal(run_cli(out, sizeof out, 3, missing), 1);
    const char *noarg[] = {"policy", "check"};
    assert_int_equal(run_cli(out, sizeof out, 2, noarg), 2);
    const char *unknown[] = {"policy", "frobnicate"};
    assert_int_equal(run_cli(out, sizeof out, 2, unknown), 2);
    const char *nothing[] = {"policy"};
    assert_int_equal(run_cli(out, sizeof out, 1, nothing), 2);

    /* approve with a v3 keystore; the printed r||s||v recovers to the approver */
    uint8_t approver[20];
    sigil_secp256k1_sk *sk = key(9, approver);
    char *js = NULL;
    size_t jl = 0;
    struct sigil_eth1_keystore_params kp = {.kdf = SIGIL_ETH1_KDF_PBKDF2, .cost = 1000};
    assert_true(sigil_is_ok(sigil_eth1_keystore_create(&js, &jl, sk, "approver pw", 11, &kp)));
    write_file(ks, js, jl);
    free(js);
    write_file(pw, "approver pw\n", 12);
    const char *digest = "0x2222222222222222222222222222222222222222222222222222222222222222";
    const char *approve_argv[] = {"policy",     "approve", "--digest",        digest, "--account", A1,
                                  "--key-file", ks,        "--password-file", pw};
    assert_int_equal(run_cli(out, sizeof out, 10, approve_argv), 0);
    uint8_t rsv[65];
    out[strcspn(out, "\n")] = '\0';
    assert_int_equal(strlen(out), 132);
    assert_true(sigil_is_ok(sigil_hex_decode_exact(rsv, 65, out, strlen(out))));
    assert_true(rsv[64] == 27 || rsv[64] == 28);
    struct sigil_secp256k1_sig sig;
    memcpy(sig.r, rsv, 32);
    memcpy(sig.s, rsv + 32, 32);
    sig.y_parity = (uint8_t)(rsv[64] - 27);
    uint8_t acct[20], dig[32], ad[32], who[20];
    addr(acct, A1);
    assert_true(sigil_is_ok(sigil_hex_decode_exact(dig, 32, digest, strlen(digest))));
    sigil_policy_approval_digest(ad, acct, dig);
    assert_true(sigil_is_ok(sigil_secp256k1_recover_address(who, &sig, ad)));
    assert_memory_equal(who, approver, 20);
    /* the printed approval satisfies a policy that lists this approver */
    char ea[43], rules[512];
    sigil_eip55_encode(ea, approver);
    (void)snprintf(rules, sizeof rules,
                   "{\"version\":1,\"policies\":[{\"name\":\"p\",\"keys\":\"*\",\"personal_sign\":true,"
                   "\"approvals\":{\"required\":1,\"approvers\":[\"%s\"]}}]}",
                   ea);
    struct sigil_policy *p = parse_ok(rules);
    struct sigil_policy_approval ap = {sig};
    struct sigil_policy_request rq = {.kind = SIGIL_POLICY_PERSONAL, .approvals = &ap, .napprovals = 1};
    memcpy(rq.account, acct, 20);
    memcpy(rq.digest, dig, 32);
    ALLOWED(check_req(p, &rq));
    sigil_policy_free(p);

    write_file(pw, "wrong\n", 6);
    assert_int_equal(run_cli(out, sizeof out, 10, approve_argv), 2);
    const char *bad_digest[] = {"policy",     "approve", "--digest",        "0x12", "--account", A1,
                                "--key-file", ks,        "--password-file", pw};
    assert_int_equal(run_cli(out, sizeof out, 10, bad_digest), 2);
    const char *bad_account[] = {"policy",     "approve", "--digest",        digest, "--account", "0x1234",
                                 "--key-file", ks,        "--password-file", pw};
    assert_int_equal(run_cli(out, sizeof out, 10, bad_account), 2);
    const char *short_argv[] = {"policy", "approve", "--digest", digest};
    assert_int_equal(run_cli(out, sizeof out, 4, short_argv), 2);
    const char *dangling[] = {"policy", "approve", "--digest"};
    assert_int_equal(run_cli(out, sizeof out, 3, dangling), 2);
    sigil_secp256k1_sk_free(sk);

    char cmd[128];
    (void)snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    addr(a1, A1);
    addr(a2, A2);
    addr(a3, A3);
    addr(a4, A4);
    addr(a5, A5);
    addr(a9, A9);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_full), cmocka_unit_test(test_parse_hostile),   cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_rules_tx),   cmocka_unit_test(test_rules_kinds),     cmocka_unit_test(test_binding),
        cmocka_unit_test(test_approvals),  cmocka_unit_test(test_approval_digest), cmocka_unit_test(test_default),
        cmocka_unit_test(test_hash),       cmocka_unit_test(test_spend_amount),    cmocka_unit_test(test_wei_format),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
