/* Unit tests for the wallet's JSON-RPC request layer (src/eth1/rpc.c): the envelope (version,
 * id types, unknown members, notifications), batches and their bounds, whole-body errors (parse
 * error, not JSON-RPC, too large) with their HTTP status, every method's parameters (order,
 * address checks, hex versus text messages, options and approvals), digests equal to the eth1
 * core's, methods that need a chain node, and the REST eth1/sign body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keccak.h"
#include "eth1/eip191.h"
#include "eth1/eip712.h"
#include "eth1/rpc.h"
#include "eth1/tx.h"

#define A  "0x1111111111111111111111111111111111111111"
#define MB (1u << 20)

static struct sigil_rpc_request parse(const char *body)
{
    struct sigil_rpc_request r;
    assert_true(sigil_is_ok(sigil_rpc_parse(&r, body, strlen(body), MB)));
    return r;
}

/* Parses a single request and returns its one call (the request is freed by the caller). */
static struct sigil_rpc_call *one(struct sigil_rpc_request *r, const char *body)
{
    *r = parse(body);
    assert_int_equal(r->http_status, 200);
    assert_false(r->batch);
    assert_int_equal(r->n, 1);
    return &r->calls[0];
}

static void expect_error(const char *body, int code, const char *needle)
{
    struct sigil_rpc_request r;
    struct sigil_rpc_call *c = one(&r, body);
    if (c->error_code != code || (needle != NULL && strstr(c->error, needle) == NULL)) {
        fail_msg("%s -> %d '%s' (wanted %d '%s')", body, c->error_code, c->error, code, needle ? needle : "");
    }
    sigil_rpc_request_free(&r);
}

static void test_envelope(void **state)
{
    (void)state;
    struct sigil_rpc_request r;
    struct sigil_rpc_call *c = one(&r, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"eth_accounts\"}");
    assert_int_equal(c->error_code, 0);
    assert_int_equal(c->method, SIGIL_RPC_ACCOUNTS);
    assert_false(c->notification);
    assert_int_equal(json_integer_value(c->id), 7);
    sigil_rpc_request_free(&r);

    c = one(&r, "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"eth_accounts\",\"params\":[]}");
    assert_string_equal(json_string_value(c->id), "abc");
    sigil_rpc_request_free(&r);

    c = one(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"eth_accounts\"}");
    assert_true(c->notification);
    sigil_rpc_request_free(&r);

    expect_error("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"eth_accounts\"}", SIGIL_RPC_INVALID_REQUEST, "2.0");
    expect_error("{\"id\":1,\"method\":\"eth_accounts\"}", SIGIL_RPC_INVALID_REQUEST, "2.0");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"eth_accounts\"}", SIGIL_RPC_INVALID_REQUEST, "id");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"eth_accounts\"}", SIGIL_RPC_INVALID_REQUEST, "id");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", SIGIL_RPC_INVALID_REQUEST, "method");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_accounts\",\"x\":1}", SIGIL_RPC_INVALID_REQUEST,
                 "unknown member");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_accounts\",\"params\":{}}", SIGIL_RPC_INVALID_PARAMS,
                 "array");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_accounts\",\"params\":[1]}", SIGIL_RPC_INVALID_PARAMS,
                 NULL);
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}", SIGIL_RPC_METHOD_NOT_FOUND, "does not exist");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sendTransaction\",\"params\":[{}]}",
                 SIGIL_RPC_METHOD_NOT_FOUND, "needs a chain node; sigild has none");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\"}", SIGIL_RPC_METHOD_NOT_FOUND, "chain node");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getBalance\",\"params\":[\"" A "\",\"latest\"]}",
                 SIGIL_RPC_METHOD_NOT_FOUND, "chain node");
}

static void test_whole_body(void **state)
{
    (void)state;
    struct sigil_rpc_request r = parse("{\"jsonrpc\":");
    assert_int_equal(r.http_status, 400);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.calls[0].error_code, SIGIL_RPC_PARSE_ERROR);
    assert_true(json_is_null(r.calls[0].id));
    sigil_rpc_request_free(&r);

    r = parse("42");
    assert_int_equal(r.http_status, 400);
    assert_int_equal(r.calls[0].error_code, SIGIL_RPC_INVALID_REQUEST);
    sigil_rpc_request_free(&r);

    r = parse("[]");
    assert_int_equal(r.http_status, 400);
    assert_int_equal(r.calls[0].error_code, SIGIL_RPC_INVALID_REQUEST);
    sigil_rpc_request_free(&r);

    const char *big = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_accounts\"}";
    assert_true(sigil_is_ok(sigil_rpc_parse(&r, big, strlen(big), 10)));
    assert_int_equal(r.http_status, 413);
    sigil_rpc_request_free(&r);

    /* deep nesting: jansson's own depth limit, a parse error, no crash */
    size_t depth = 5000;
    char *deep = malloc(2 * depth + 1);
    assert_non_null(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    r = parse(deep);
    assert_int_equal(r.http_status, 400);
    assert_int_equal(r.calls[0].error_code, SIGIL_RPC_PARSE_ERROR);
    sigil_rpc_request_free(&r);
    free(deep);
}

static void test_batch(void **state)
{
    (void)state;
    struct sigil_rpc_request r =
        parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_accounts\"}, 5, {\"jsonrpc\":\"2.0\",\"method\":"
              "\"eth_accounts\"}, {\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_call\"}]");
    assert_int_equal(r.http_status, 200);
    assert_true(r.batch);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.calls[0].error_code, 0);
    assert_int_equal(r.calls[1].error_code, SIGIL_RPC_INVALID_REQUEST);
    assert_true(json_is_null(r.calls[1].id));
    assert_true(r.calls[2].notification);
    assert_int_equal(r.calls[3].error_code, SIGIL_RPC_METHOD_NOT_FOUND);
    sigil_rpc_request_free(&r);

    /* over the bound: refused whole with 413 */
    size_t n = SIGIL_RPC_MAX_BATCH + 1;
    const char *item = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_accounts\"},";
    char *body = malloc(n * strlen(item) + 3);
    assert_non_null(body);
    char *p = body;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        memcpy(p, item, strlen(item));
        p += strlen(item);
    }
    p[-1] = ']';
    *p = '\0';
    r = parse(body);
    assert_int_equal(r.http_status, 413);
    assert_int_equal(r.n, 1);
    sigil_rpc_request_free(&r);
    free(body);
}

static void test_messages(void **state)
{
    (void)state;
    struct sigil_rpc_request r;
    uint8_t want[32];
    struct sigil_rpc_call *c =
        one(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sign\",\"params\":[\"" A "\",\"0xdeadbeef\"]}");
    assert_int_equal(c->error_code, 0);
    assert_int_equal(c->method, SIGIL_RPC_ETH_SIGN);
    static const uint8_t msg[] = {0xde, 0xad, 0xbe, 0xef};
    assert_int_equal(c->msg_len, 4);
    assert_memory_equal(c->msg, msg, 4);
    assert_true(sigil_is_ok(sigil_eip191_hash(want, msg, 4)));
    assert_memory_equal(c->digest, want, 32);
    uint8_t addr[20];
    memset(addr, 0x11, 20);
    assert_memory_equal(c->account, addr, 20);
    sigil_rpc_request_free(&r);

    /* personal_sign: [data, address]; text without 0x is signed as its UTF-8 bytes */
    c = one(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"personal_sign\",\"params\":[\"hello \\u00e9\",\"" A "\"]}");
    assert_int_equal(c->error_code, 0);
    assert_int_equal(c->msg_len, 8);
    assert_memory_equal(c->msg, "hello \xc3\xa9", 8);
    assert_true(sigil_is_ok(sigil_eip191_hash(want, (const uint8_t *)"hello \xc3\xa9", 8)));
    assert_memory_equal(c->digest, want, 32);
    sigil_rpc_request_free(&r);

    /* empty message */
    c = one(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"personal_sign\",\"params\":[\"0x\",\"" A "\"]}");
    assert_int_equal(c->error_code, 0);
    assert_int_equal(c->msg_len, 0);
    sigil_rpc_request_free(&r);

    /* wrong order / bad address / bad hex / wrong types */
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"personal_sign\",\"params\":[\"" A "\",\"0xdead\"]}",
                 SIGIL_RPC_INVALID_PARAMS, "params[1]");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sign\",\"params\":[\"0x1234\",\"0xdead\"]}",
                 SIGIL_RPC_INVALID_PARAMS, "params[0]");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sign\",\"params\":["
                 "\"0xaBcdef0000000000000000000000000000000000\","
                 "\"0xdead\"]}",
                 SIGIL_RPC_INVALID_PARAMS, "EIP-55");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sign\",\"params\":[\"" A "\",\"0xzz\"]}",
                 SIGIL_RPC_INVALID_PARAMS, "invalid hex");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sign\",\"params\":[\"" A "\",\"0xabc\"]}",
                 SIGIL_RPC_INVALID_PARAMS, "invalid hex");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sign\",\"params\":[\"" A "\",5]}",
                 SIGIL_RPC_INVALID_PARAMS, "params[1]");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sign\",\"params\":[\"" A "\"]}",
                 SIGIL_RPC_INVALID_PARAMS, "[address, data]");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"personal_sign\",\"params\":[\"0x00\",\"" A
                 "\",\"password\"]}",
                 SIGIL_RPC_INVALID_PARAMS, "options");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"personal_sign\",\"params\":[\"0x00\",\"" A
                 "\",{\"approvals\":[]},4]}",
                 SIGIL_RPC_INVALID_PARAMS, "at most");
}

static void test_approvals(void **state)
{
    (void)state;
    char body[2048];
    char sig[140];
    memset(sig, 0, sizeof sig);
    strcpy(sig, "0x");
    memset(sig + 2, '3', 128);
    strcpy(sig + 130, "1c");
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"personal_sign\",\"params\":[\"0x00\",\"" A
             "\",{\"approvals\":[\"%s\",\"%.130s00\"]}]}",
             sig, sig);
    struct sigil_rpc_request r;
    struct sigil_rpc_call *c = one(&r, body);
    assert_int_equal(c->error_code, 0);
    assert_int_equal(c->napprovals, 2);
    assert_int_equal(c->approvals[0].sig.y_parity, 1);
    assert_int_equal(c->approvals[1].sig.y_parity, 0);
    assert_int_equal(c->approvals[0].sig.r[0], 0x33);
    sigil_rpc_request_free(&r);

    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"personal_sign\",\"params\":[\"0x00\",\"" A
             "\",{\"approvals\":[\"%.130s05\"]}]}",
             sig);
    expect_error(body, SIGIL_RPC_INVALID_PARAMS, "approvals[0]");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"personal_sign\",\"params\":[\"0x00\",\"" A
                 "\",{\"approvals\":\"x\"}]}",
                 SIGIL_RPC_INVALID_PARAMS, "approvals");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"personal_sign\",\"params\":[\"0x00\",\"" A
                 "\",{\"other\":1}]}",
                 SIGIL_RPC_INVALID_PARAMS, "unknown option");
    /* too many approvals */
    char *big = malloc(70 * 140 + 512);
    assert_non_null(big);
    char *p = big + sprintf(big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"personal_sign\",\"params\":[\"0x00\",\"" A
                                 "\",{\"approvals\":[");
    for (int i = 0; i < SIGIL_RPC_MAX_APPROVALS + 1; i++) {
        p += sprintf(p, "%s\"%s\"", i ? "," : "", sig);
    }
    strcpy(p, "]}]}");
    expect_error(big, SIGIL_RPC_INVALID_PARAMS, "more than");
    free(big);
}

static void test_transaction(void **state)
{
    (void)state;
    const char *txj = "{\"from\":\"" A "\",\"to\":\"" A "\",\"nonce\":\"0x1\",\"gas\":\"0x5208\","
                      "\"maxFeePerGas\":\"0x3b9aca00\",\"maxPriorityFeePerGas\":\"0x1\",\"value\":\"0x10\","
                      "\"chainId\":\"0x1\"}";
    char body[1024];
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_signTransaction\",\"params\":[%s]}",
             txj);
    struct sigil_rpc_request r;
    struct sigil_rpc_call *c = one(&r, body);
    assert_int_equal(c->error_code, 0);
    assert_int_equal(c->method, SIGIL_RPC_SIGN_TX);
    assert_true(c->has_tx);
    assert_int_equal(c->tx.type, 2);
    json_t *obj = json_loads(txj, 0, NULL);
    struct sigil_eth1_tx tx;
    sigil_eth1_tx_init(&tx);
    assert_true(sigil_is_ok(sigil_eth1_tx_from_json(&tx, obj)));
    uint8_t want[32];
    assert_true(sigil_is_ok(sigil_eth1_tx_signing_hash(want, &tx)));
    assert_memory_equal(c->digest, want, 32);
    sigil_eth1_tx_free(&tx);
    json_decref(obj);
    sigil_rpc_request_free(&r);

    /* from is required; the core's errors name the field */
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_signTransaction\",\"params\":[{\"to\":\"" A
                 "\",\"nonce\":\"0x1\",\"gas\":\"0x5208\",\"gasPrice\":\"0x1\",\"chainId\":\"0x1\"}]}",
                 SIGIL_RPC_INVALID_PARAMS, "from: required");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_signTransaction\",\"params\":[{\"from\":\"" A
                 "\",\"nonce\":\"0x01\",\"gas\":\"0x5208\",\"gasPrice\":\"0x1\",\"chainId\":\"0x1\"}]}",
                 SIGIL_RPC_INVALID_PARAMS, "nonce");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_signTransaction\",\"params\":[{\"from\":\"" A
                 "\",\"nonce\":\"0x1\",\"gas\":\"0x5208\",\"gasPrice\":\"0x1\",\"chainId\":\"0x1\",\"evil\":1}]}",
                 SIGIL_RPC_INVALID_PARAMS, "params[0]");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_signTransaction\",\"params\":[\"0x00\"]}",
                 SIGIL_RPC_INVALID_PARAMS, "transaction object");
}

static void test_typed_and_auth(void **state)
{
    (void)state;
    const char *doc = "{\"types\":{\"Mail\":[{\"name\":\"contents\",\"type\":\"string\"}]},\"primaryType\":\"Mail\","
                      "\"domain\":{\"name\":\"x\",\"chainId\":1},\"message\":{\"contents\":\"hi\"}}";
    uint8_t want[32];
    assert_true(sigil_is_ok(sigil_eip712_hash_json(want, doc, strlen(doc))));
    char body[2048];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_signTypedData_v4\",\"params\":[\"" A "\",%s]}", doc);
    struct sigil_rpc_request r;
    struct sigil_rpc_call *c = one(&r, body);
    assert_int_equal(c->error_code, 0);
    assert_int_equal(c->method, SIGIL_RPC_SIGN_TYPED);
    assert_memory_equal(c->digest, want, 32);
    assert_non_null(json_object_get(c->typed, "domain"));
    sigil_rpc_request_free(&r);

    /* as a JSON string, through eth_signTypedData */
    json_t *s = json_string(doc);
    char *quoted = json_dumps(s, JSON_ENCODE_ANY);
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_signTypedData\",\"params\":[\"" A "\",%s]}", quoted);
    free(quoted);
    json_decref(s);
    c = one(&r, body);
    assert_int_equal(c->error_code, 0);
    assert_memory_equal(c->digest, want, 32);
    sigil_rpc_request_free(&r);

    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_signTypedData_v4\",\"params\":[\"" A "\",\"{x\"]}",
                 SIGIL_RPC_INVALID_PARAMS, "params[1]");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_signTypedData_v4\",\"params\":[\"" A "\",5]}",
                 SIGIL_RPC_INVALID_PARAMS, "params[1]");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_signTypedData_v4\",\"params\":[\"" A
                 "\",{\"types\":{},\"primaryType\":\"Nope\",\"domain\":{},\"message\":{}}]}",
                 SIGIL_RPC_INVALID_PARAMS, "params[1]");

    c = one(&r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sigil_signAuthorization\",\"params\":[\"" A
                "\",{\"chainId\":\"0x1\",\"address\":\"" A "\",\"nonce\":\"0x7\"}]}");
    assert_int_equal(c->error_code, 0);
    assert_int_equal(c->method, SIGIL_RPC_SIGN_AUTH);
    assert_int_equal(c->auth.nonce, 7);
    assert_int_equal(c->auth.chain_id.b[31], 1);
    sigil_eth1_auth_signing_hash(want, &c->auth);
    assert_memory_equal(c->digest, want, 32);
    sigil_rpc_request_free(&r);
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sigil_signAuthorization\",\"params\":[\"" A
                 "\",{\"chainId\":\"0x1\",\"address\":\"" A "\",\"nonce\":\"0x10000000000000000\"}]}",
                 SIGIL_RPC_INVALID_PARAMS, "nonce");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sigil_signAuthorization\",\"params\":[\"" A
                 "\",{\"chainId\":\"0x1\",\"address\":\"" A "\"}]}",
                 SIGIL_RPC_INVALID_PARAMS, "{chainId, address, nonce}");
    /* the tuple is parsed by the eth1 core (sigil_eth1_auth_from_json): errors name the member */
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sigil_signAuthorization\",\"params\":[\"" A
                 "\",{\"chainId\":\"0x01\",\"address\":\"" A "\",\"nonce\":\"0x7\"}]}",
                 SIGIL_RPC_INVALID_PARAMS, "params[1].chainId: hex quantity has leading zeros");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sigil_signAuthorization\",\"params\":[\"" A
                 "\",{\"chainId\":1,\"address\":\"" A "\",\"nonce\":\"0x7\"}]}",
                 SIGIL_RPC_INVALID_PARAMS, "params[1].chainId: expected a string");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sigil_signAuthorization\",\"params\":[\"" A
                 "\",{\"chainId\":\"0x1\",\"address\":\"0x1111\",\"nonce\":\"0x7\"}]}",
                 SIGIL_RPC_INVALID_PARAMS, "params[1].address");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sigil_signAuthorization\",\"params\":[\"" A
                 "\",{\"chainId\":\"0x1\",\"address\":\"" A "\",\"nonce\":\"0x7\",\"x\":1}]}",
                 SIGIL_RPC_INVALID_PARAMS, "{chainId, address, nonce}");
    /* an escaped NUL never reaches the parameters: "0x1\u0000junk" is not chain 1 but a parse
     * error of the whole body (the core refuses it too: test_eth1_hostile) */
    static const char *const nul_bodies[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sigil_signAuthorization\",\"params\":[\"" A
        "\",{\"chainId\":\"0x1\\u0000junk\",\"address\":\"" A "\",\"nonce\":\"0x7\"}]}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sigil_signAuthorization\",\"params\":[\"" A
        "\",{\"chainId\":\"0x1\",\"address\":\"" A "\",\"nonce\":\"0x7\\u0000\"}]}",
    };
    for (size_t i = 0; i < sizeof nul_bodies / sizeof nul_bodies[0]; i++) {
        r = parse(nul_bodies[i]);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.http_status, 400);
        assert_int_equal(r.calls[0].error_code, SIGIL_RPC_PARSE_ERROR);
        sigil_rpc_request_free(&r);
    }
}

static void test_raw_sign(void **state)
{
    (void)state;
    struct sigil_rpc_call c;
    const char *b = "{\"data\":\"0xdeadbeef\"}";
    assert_true(sigil_is_ok(sigil_rpc_parse_raw_sign(&c, b, strlen(b))));
    static const uint8_t msg[] = {0xde, 0xad, 0xbe, 0xef};
    uint8_t want[32];
    sigil_keccak256(want, msg, 4);
    assert_memory_equal(c.digest, want, 32);
    assert_int_equal(c.method, SIGIL_RPC_RAW);
    sigil_rpc_call_free(&c);
    static const char *const bad[] = {"",
                                      "{}",
                                      "{\"data\":\"deadbeef\"}",
                                      "{\"data\":\"0xzz\"}",
                                      "{\"data\":5}",
                                      "{\"data\":\"0x00\",\"x\":1}",
                                      "{\"data\":\"0x00\",\"approvals\":[\"0x12\"]}",
                                      "[1]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sigil_result r = sigil_rpc_parse_raw_sign(&c, bad[i], strlen(bad[i]));
        assert_int_not_equal(r.code, SIGIL_OK);
        sigil_rpc_call_free(&c);
    }
}

static void test_responses(void **state)
{
    (void)state;
    json_t *id = json_integer(3);
    json_t *e = sigil_rpc_error_response(id, SIGIL_RPC_REFUSED, "refused", json_pack("{s:s}", "rule", "value.max"));
    char *t = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(t, "{\"error\":{\"code\":-32000,\"data\":{\"rule\":\"value.max\"},\"message\":\"refused\"},"
                           "\"id\":3,\"jsonrpc\":\"2.0\"}");
    free(t);
    json_decref(e);
    e = sigil_rpc_result_response(id, json_string("0x00"));
    t = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(t, "{\"id\":3,\"jsonrpc\":\"2.0\",\"result\":\"0x00\"}");
    free(t);
    json_decref(e);
    json_decref(id);
    assert_string_equal(sigil_rpc_method_label(SIGIL_RPC_SIGN_TX), "eth_signTransaction");
    assert_string_equal(sigil_rpc_method_label((enum sigil_rpc_method)99), "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope),       cmocka_unit_test(test_whole_body), cmocka_unit_test(test_batch),
        cmocka_unit_test(test_messages),       cmocka_unit_test(test_approvals),  cmocka_unit_test(test_transaction),
        cmocka_unit_test(test_typed_and_auth), cmocka_unit_test(test_raw_sign),   cmocka_unit_test(test_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
