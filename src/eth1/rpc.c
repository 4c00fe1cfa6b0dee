/* JSON-RPC 2.0 parsing for the wallet API (rpc.h): envelope checks, method dispatch, parameter
 * parsing through the eth1 core (transactions, EIP-191, EIP-712, EIP-7702), and the digest of
 * each signing call. Pure: the output is data for sigild to act on. */
#include "eth1/rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/json.h"
#include "crypto/keccak.h"
#include "eth1/eip191.h"
#include "eth1/eip712.h"

static const char *const method_labels[SIGIL_RPC__COUNT] = {
    [SIGIL_RPC_NONE] = "invalid",
    [SIGIL_RPC_ACCOUNTS] = "eth_accounts",
    [SIGIL_RPC_ETH_SIGN] = "eth_sign",
    [SIGIL_RPC_PERSONAL_SIGN] = "personal_sign",
    [SIGIL_RPC_SIGN_TX] = "eth_signTransaction",
    [SIGIL_RPC_SIGN_TYPED] = "eth_signTypedData",
    [SIGIL_RPC_SIGN_AUTH] = "sigil_signAuthorization",
    [SIGIL_RPC_RAW] = "eth1_sign",
};

const char *sigil_rpc_method_label(enum sigil_rpc_method m)
{
    return (unsigned)m < SIGIL_RPC__COUNT ? method_labels[m] : "invalid";
}

static const struct {
    const char *name;
    enum sigil_rpc_method m;
} methods[] = {
    {"eth_accounts", SIGIL_RPC_ACCOUNTS},
    {"eth_sign", SIGIL_RPC_ETH_SIGN},
    {"personal_sign", SIGIL_RPC_PERSONAL_SIGN},
    {"eth_signTransaction", SIGIL_RPC_SIGN_TX},
    {"eth_signTypedData_v4", SIGIL_RPC_SIGN_TYPED},
    {"eth_signTypedData", SIGIL_RPC_SIGN_TYPED},
    {"sigil_signAuthorization", SIGIL_RPC_SIGN_AUTH},
};

/* Methods a wallet client commonly sends that only a chain node can answer. */
static const char *const node_methods[] = {
    "eth_sendTransaction",
    "eth_sendRawTransaction",
    "eth_getBalance",
    "eth_chainId",
    "eth_call",
    "eth_estimateGas",
    "eth_getTransactionCount",
    "eth_blockNumber",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_feeHistory",
    "eth_blobBaseFee",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getTransactionByHash",
    "eth_getTransactionReceipt",
    "eth_getLogs",
    "eth_syncing",
    "eth_createAccessList",
    "eth_subscribe",
    "eth_newFilter",
    "eth_getProof",
    "net_version",
    "net_listening",
    "net_peerCount",
    "web3_clientVersion",
};

static void call_error(struct sigil_rpc_call *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void call_error(struct sigil_rpc_call *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    c->error_code = code;
}

/* An invalid-params error from a failed eth1-core result: its detail names the field. */
static void params_error(struct sigil_rpc_call *c, const char *where, sigil_result r)
{
    const char *d = sigil_error_detail();
    call_error(c, SIGIL_RPC_INVALID_PARAMS, "%s: %s", where, d[0] != '\0' ? d : sigil_strerror(r.code));
}

static bool parse_address(uint8_t out[20], const json_t *v)
{
    const char *s = json_string_value(v);
    return s != NULL && strlen(s) == json_string_length(v) && sigil_is_ok(sigil_eip55_parse(out, s));
}

/* Message data: 0x hex (must be valid), or the UTF-8 text itself. */
static bool parse_message(struct sigil_rpc_call *c, const json_t *v, const char *where)
{
    const char *s = json_string_value(v);
    if (s == NULL) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "%s: expected a string (0x hex or text)", where);
        return false;
    }
    size_t len = json_string_length(v);
    if (len > 2 * (size_t)SIGIL_EIP191_MAX_MESSAGE + 2) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "%s: message over %u bytes", where, SIGIL_EIP191_MAX_MESSAGE);
        return false;
    }
    bool hex = len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    size_t cap = hex ? (len - 2) / 2 : len;
    c->msg = malloc(cap > 0 ? cap : 1);
    if (c->msg == NULL) {
        call_error(c, SIGIL_RPC_INTERNAL, "out of memory");
        return false;
    }
    if (hex) {
        if ((len - 2) % 2 != 0 || !sigil_is_ok(sigil_hex_decode(c->msg, cap, &c->msg_len, s, len))) {
            call_error(c, SIGIL_RPC_INVALID_PARAMS, "%s: invalid hex (0x and an even number of hex digits)", where);
            return false;
        }
    } else {
        memcpy(c->msg, s, len);
        c->msg_len = len;
    }
    if (c->msg_len > SIGIL_EIP191_MAX_MESSAGE) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "%s: message over %u bytes", where, SIGIL_EIP191_MAX_MESSAGE);
        return false;
    }
    return true;
}

/* "0x" + r || s || v (65 bytes; v 0/1 or 27/28). */
static bool parse_approval(struct sigil_policy_approval *a, const json_t *v)
{
    const char *s = json_string_value(v);
    uint8_t raw[65];
    if (s == NULL || strlen(s) != 132 || s[0] != '0' || s[1] != 'x' ||
        !sigil_is_ok(sigil_hex_decode_exact(raw, 65, s, 132))) {
        return false;
    }
    uint8_t y = raw[64] >= 27 ? (uint8_t)(raw[64] - 27) : raw[64];
    if (y > 1) {
        return false;
    }
    memcpy(a->sig.r, raw, 32);
    memcpy(a->sig.s, raw + 32, 32);
    a->sig.y_parity = y;
    return true;
}

static bool parse_approvals(struct sigil_rpc_call *c, const json_t *arr, const char *where)
{
    if (!json_is_array(arr)) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "%s.approvals: expected an array of 0x-prefixed 65-byte signatures",
                   where);
        return false;
    }
    size_t n = json_array_size(arr);
    if (n > SIGIL_RPC_MAX_APPROVALS) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "%s.approvals: more than %d", where, SIGIL_RPC_MAX_APPROVALS);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!parse_approval(&c->approvals[i], json_array_get(arr, i))) {
            call_error(c, SIGIL_RPC_INVALID_PARAMS,
                       "%s.approvals[%zu]: expected 0x and 130 hex digits (r || s || v, v 0/1/27/28)", where, i);
            return false;
        }
    }
    c->napprovals = n;
    return true;
}

/* The optional options object at params[idx]: {"approvals": [...]} and nothing else. */
static bool parse_options(struct sigil_rpc_call *c, const json_t *params, size_t idx)
{
    size_t n = json_array_size(params);
    if (n <= idx) {
        return true;
    }
    if (n > idx + 1) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "params: at most %zu parameters", idx + 1);
        return false;
    }
    const json_t *o = json_array_get(params, idx);
    char where[32];
    snprintf(where, sizeof where, "params[%zu]", idx);
    if (json_is_null(o)) {
        return true;
    }
    if (!json_is_object(o)) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "%s: expected an options object {\"approvals\": [...]}", where);
        return false;
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)o, key, val)
    {
        if (strcmp(key, "approvals") != 0) {
            call_error(c, SIGIL_RPC_INVALID_PARAMS, "%s: unknown option (only \"approvals\")", where);
            return false;
        }
        if (!parse_approvals(c, val, where)) {
            return false;
        }
    }
    return true;
}

static bool need_account(struct sigil_rpc_call *c, const json_t *params, size_t idx)
{
    if (!parse_address(c->account, json_array_get(params, idx))) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS,
                   "params[%zu]: expected the account as a 0x address of 20 bytes (EIP-55 checksum when mixed case)",
                   idx);
        return false;
    }
    return true;
}

static void parse_sign_message(struct sigil_rpc_call *c, const json_t *params, size_t addr_idx, size_t data_idx)
{
    if (json_array_size(params) < 2) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "params: expected %s",
                   addr_idx == 0 ? "[address, data]" : "[data, address]");
        return;
    }
    char where[16];
    snprintf(where, sizeof where, "params[%zu]", data_idx);
    if (!need_account(c, params, addr_idx) || !parse_message(c, json_array_get(params, data_idx), where) ||
        !parse_options(c, params, 2)) {
        return;
    }
    sigil_result r = sigil_eip191_hash(c->digest, c->msg, c->msg_len);
    if (!sigil_is_ok(r)) {
        params_error(c, where, r);
    }
}

static void parse_sign_tx(struct sigil_rpc_call *c, const json_t *params)
{
    if (json_array_size(params) < 1 || !json_is_object(json_array_get(params, 0))) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "params[0]: expected a transaction object");
        return;
    }
    sigil_eth1_tx_init(&c->tx);
    c->has_tx = true;
    sigil_error_clear();
    sigil_result r = sigil_eth1_tx_from_json(&c->tx, json_array_get(params, 0));
    if (!sigil_is_ok(r)) {
        params_error(c, "params[0]", r);
        return;
    }
    if (!c->tx.has_from) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "params[0].from: required (the account that signs)");
        return;
    }
    memcpy(c->account, c->tx.from, 20);
    if (!parse_options(c, params, 1)) {
        return;
    }
    r = sigil_eth1_tx_signing_hash(c->digest, &c->tx);
    if (!sigil_is_ok(r)) {
        params_error(c, "params[0]", r);
    }
}

static void parse_sign_typed(struct sigil_rpc_call *c, const json_t *params)
{
    if (json_array_size(params) < 2) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "params: expected [address, typedData]");
        return;
    }
    if (!need_account(c, params, 0)) {
        return;
    }
    const json_t *doc = json_array_get(params, 1);
    if (json_is_string(doc)) {
        json_t *parsed = NULL;
        sigil_result r =
            sigil_json_parse(&parsed, json_string_value(doc), json_string_length(doc), SIGIL_EIP712_MAX_JSON);
        if (!sigil_is_ok(r)) {
            params_error(c, "params[1]", r);
            return;
        }
        c->typed = parsed;
    } else if (json_is_object(doc)) {
        c->typed = json_incref((json_t *)doc);
    } else {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "params[1]: expected the typed data as an object or a JSON string");
        return;
    }
    if (!json_is_object(c->typed)) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "params[1]: the typed data must be a JSON object");
        return;
    }
    if (!parse_options(c, params, 2)) {
        return;
    }
    sigil_error_clear();
    sigil_result r = sigil_eip712_hash(c->digest, NULL, NULL, c->typed);
    if (!sigil_is_ok(r)) {
        params_error(c, "params[1]", r);
    }
}

static void parse_sign_auth(struct sigil_rpc_call *c, const json_t *params)
{
    if (json_array_size(params) < 2) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "params: expected [address, {chainId, address, nonce}]");
        return;
    }
    if (!need_account(c, params, 0)) {
        return;
    }
    const json_t *o = json_array_get(params, 1);
    if (!json_is_object(o) || json_object_size(o) != 3) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "params[1]: expected {chainId, address, nonce}");
        return;
    }
    sigil_error_clear();
    sigil_result r = sigil_eth1_auth_from_json(&c->auth, o, "params[1]");
    if (!sigil_is_ok(r)) {
        /* the detail already names the member: "params[1].nonce: quantity exceeds 64 bits" */
        const char *d = sigil_error_detail();
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "%s", d[0] != '\0' ? d : "params[1]: invalid authorization");
        return;
    }
    if (!parse_options(c, params, 2)) {
        return;
    }
    sigil_eth1_auth_signing_hash(c->digest, &c->auth);
}

static bool is_node_method(const char *m)
{
    for (size_t i = 0; i < sizeof node_methods / sizeof node_methods[0]; i++) {
        if (strcmp(node_methods[i], m) == 0) {
            return true;
        }
    }
    return false;
}

/* One request object of a single or batch request. */
static void parse_call(struct sigil_rpc_call *c, const json_t *req)
{
    c->id = json_null();
    if (!json_is_object(req)) {
        call_error(c, SIGIL_RPC_INVALID_REQUEST, "invalid request: expected a JSON-RPC 2.0 request object");
        return;
    }
    const json_t *id = json_object_get(req, "id");
    if (id == NULL) {
        c->notification = true;
    } else if (json_is_string(id) || json_is_integer(id) || json_is_null(id)) {
        json_decref(c->id);
        c->id = json_incref((json_t *)id);
    } else {
        call_error(c, SIGIL_RPC_INVALID_REQUEST, "invalid request: id must be a string, an integer or null");
        c->notification = false;
        return;
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)req, key, val)
    {
        if (strcmp(key, "jsonrpc") != 0 && strcmp(key, "method") != 0 && strcmp(key, "params") != 0 &&
            strcmp(key, "id") != 0) {
            call_error(c, SIGIL_RPC_INVALID_REQUEST,
                       "invalid request: unknown member (allowed: jsonrpc, method, params, id)");
            return;
        }
    }
    const char *ver = json_string_value(json_object_get(req, "jsonrpc"));
    if (ver == NULL || strcmp(ver, "2.0") != 0) {
        call_error(c, SIGIL_RPC_INVALID_REQUEST, "invalid request: jsonrpc must be \"2.0\"");
        return;
    }
    const json_t *mv = json_object_get(req, "method");
    const char *m = json_string_value(mv);
    if (m == NULL || strlen(m) != json_string_length(mv) || strlen(m) > 128) {
        call_error(c, SIGIL_RPC_INVALID_REQUEST, "invalid request: method must be a string of at most 128 bytes");
        return;
    }
    const json_t *params = json_object_get(req, "params");
    json_t *empty = NULL;
    if (params == NULL) {
        params = empty = json_array();
        if (empty == NULL) {
            call_error(c, SIGIL_RPC_INTERNAL, "out of memory");
            return;
        }
    }
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(methods[i].name, m) == 0) {
            c->method = methods[i].m;
        }
    }
    if (c->method == SIGIL_RPC_NONE) {
        if (is_node_method(m)) {
            call_error(c, SIGIL_RPC_METHOD_NOT_FOUND,
                       "%.128s needs a chain node; sigild has none (it only signs: send the signed transaction "
                       "through your node)",
                       m);
        } else {
            call_error(c, SIGIL_RPC_METHOD_NOT_FOUND, "the method %.128s does not exist / is not available", m);
        }
    } else if (!json_is_array(params)) {
        call_error(c, SIGIL_RPC_INVALID_PARAMS, "params: expected an array (parameters by position)");
    } else {
        switch (c->method) {
        case SIGIL_RPC_ACCOUNTS:
            if (json_array_size(params) != 0) {
                call_error(c, SIGIL_RPC_INVALID_PARAMS, "params: eth_accounts takes none");
            }
            break;
        case SIGIL_RPC_ETH_SIGN:
            parse_sign_message(c, params, 0, 1);
            break;
        case SIGIL_RPC_PERSONAL_SIGN:
            parse_sign_message(c, params, 1, 0);
            break;
        case SIGIL_RPC_SIGN_TX:
            parse_sign_tx(c, params);
            break;
        case SIGIL_RPC_SIGN_TYPED:
            parse_sign_typed(c, params);
            break;
        case SIGIL_RPC_SIGN_AUTH:
            parse_sign_auth(c, params);
            break;
        default:
            call_error(c, SIGIL_RPC_INTERNAL, "internal error");
            break;
        }
    }
    json_decref(empty);
}

static sigil_result whole_error(struct sigil_rpc_request *out, int http_status, int code, const char *msg)
{
    out->calls = calloc(1, sizeof *out->calls);
    SIGIL_ENSURE(out->calls != NULL, SIGIL_ERR_NOMEM);
    out->n = 1;
    out->batch = false;
    out->http_status = http_status;
    out->calls[0].id = json_null();
    call_error(&out->calls[0], code, "%s", msg);
    return sigil_ok();
}

sigil_result sigil_rpc_parse(struct sigil_rpc_request *out, const char *body, size_t len, size_t max_body)
{
    memset(out, 0, sizeof *out);
    out->http_status = 200;
    if (len > max_body) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body over %zu bytes", max_body);
        return whole_error(out, 413, SIGIL_RPC_INVALID_REQUEST, msg);
    }
    /* Any JSON value parses, so that a scalar body is "invalid request" rather than a parse error. */
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (doc == NULL) {
        char msg[256];
        snprintf(msg, sizeof msg, "parse error: invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return whole_error(out, 400, SIGIL_RPC_PARSE_ERROR, msg);
    }
    sigil_result ret = sigil_ok();
    if (json_is_array(doc)) {
        size_t n = json_array_size(doc);
        if (n == 0) {
            ret = whole_error(out, 400, SIGIL_RPC_INVALID_REQUEST, "invalid request: empty batch");
        } else if (n > SIGIL_RPC_MAX_BATCH) {
            char msg[96];
            snprintf(msg, sizeof msg, "invalid request: a batch holds at most %d requests", SIGIL_RPC_MAX_BATCH);
            ret = whole_error(out, 413, SIGIL_RPC_INVALID_REQUEST, msg);
        } else {
            out->calls = calloc(n, sizeof *out->calls);
            if (out->calls == NULL) {
                ret = sigil_error(SIGIL_ERR_NOMEM);
            } else {
                out->n = n;
                out->batch = true;
                for (size_t i = 0; i < n; i++) {
                    parse_call(&out->calls[i], json_array_get(doc, i));
                }
            }
        }
    } else if (json_is_object(doc)) {
        out->calls = calloc(1, sizeof *out->calls);
        if (out->calls == NULL) {
            ret = sigil_error(SIGIL_ERR_NOMEM);
        } else {
            out->n = 1;
            parse_call(&out->calls[0], doc);
        }
    } else {
        ret = whole_error(out, 400, SIGIL_RPC_INVALID_REQUEST,
                          "invalid request: expected a JSON-RPC 2.0 request object or a batch array");
    }
    json_decref(doc);
    return ret;
}

sigil_result sigil_rpc_parse_raw_sign(struct sigil_rpc_call *c, const char *body, size_t len)
{
    memset(c, 0, sizeof *c);
    c->id = json_null();
    c->method = SIGIL_RPC_RAW;
    json_t *doc = NULL;
    SIGIL_GUARD(sigil_json_parse(&doc, body, len, (size_t)SIGIL_EIP191_MAX_MESSAGE * 2 + 65536));
    sigil_result ret = sigil_ok();
    const char *key;
    const json_t *val;
    if (!json_is_object(doc)) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "body: expected {\"data\": \"0x...\"}");
        goto out;
    }
    json_object_foreach(doc, key, val)
    {
        if (strcmp(key, "data") != 0 && strcmp(key, "approvals") != 0) {
            ret = sigil_errorf(SIGIL_ERR_PARSE, "body: unknown member (allowed: data, approvals)");
            goto out;
        }
    }
    const json_t *data = json_object_get(doc, "data");
    const char *s = json_string_value(data);
    if (s == NULL || json_string_length(data) < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "data: expected 0x-prefixed hex");
        goto out;
    }
    if (!parse_message(c, data, "data")) {
        ret = c->error_code == SIGIL_RPC_INTERNAL ? sigil_error(SIGIL_ERR_NOMEM)
                                                  : sigil_errorf(SIGIL_ERR_PARSE, "%s", c->error);
        goto out;
    }
    const json_t *ap = json_object_get(doc, "approvals");
    if (ap != NULL && !parse_approvals(c, ap, "body")) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "%s", c->error);
        goto out;
    }
    sigil_keccak256(c->digest, c->msg, c->msg_len);
out:
    json_decref(doc);
    return ret;
}

void sigil_rpc_call_free(struct sigil_rpc_call *c)
{
    json_decref(c->id);
    c->id = NULL;
    free(c->msg);
    c->msg = NULL;
    if (c->has_tx) {
        sigil_eth1_tx_free(&c->tx);
        c->has_tx = false;
    }
    json_decref(c->typed);
    c->typed = NULL;
}

void sigil_rpc_request_free(struct sigil_rpc_request *r)
{
    for (size_t i = 0; i < r->n; i++) {
        sigil_rpc_call_free(&r->calls[i]);
    }
    free(r->calls);
    r->calls = NULL;
    r->n = 0;
}

json_t *sigil_rpc_error_response(const json_t *id, int code, const char *message, json_t *data)
{
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", message);
    if (err == NULL) {
        json_decref(data);
        return NULL;
    }
    if (data != NULL) {
        json_object_set_new(err, "data", data);
    }
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id != NULL ? id : json_null(), "error", err);
}

json_t *sigil_rpc_result_response(const json_t *id, json_t *result)
{
    if (result == NULL) {
        return NULL;
    }
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id != NULL ? id : json_null(), "result", result);
}
