/* sigild's eth1 wallet API (eth1_api.h). The loop thread only routes: parsing, the policy check,
 * the spend ledger, signing and the audit record run on the service's worker pool, and the reply
 * goes back through the HTTP layer once the audit record of the decision is durable. */
#include "sigild/eth1_api.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/secmem.h"
#include "crypto/keccak.h"
#include "eth1/eip191.h"
#include "eth1/keyring.h"
#include "eth1/rpc.h"
#include "eth1/tx.h"
#include "net/http.h"
#include "net/metrics.h"
#include "net/pool.h"
#include "policy/policy.h"
#include "slashing/slashing.h"

#define ETH1_SIGN_PREFIX "/api/v1/eth1/sign/"
#define IDENTIFIER_MAX   160 /* bytes of an identifier in the path (a 65-byte key is 132) */

enum outcome { OUT_OK, OUT_SIGNED, OUT_REFUSED, OUT_INVALID, OUT_ERROR, OUT__COUNT };
static const char *const outcome_labels[OUT__COUNT] = {"ok", "signed", "refused", "invalid", "error"};

struct sigil_eth1_api {
    struct sigil_eth1_api_config cfg;
    const struct sigil_policy *policy;
    struct sigil_counter *requests[SIGIL_RPC__COUNT][OUT__COUNT];
    struct sigil_histogram *latency[SIGIL_RPC__COUNT];
    struct sigil_gauge *keys_gauge;
};

/* Who is asking: copied out of the request, which is gone once answered. */
struct client_info {
    char id[128];
    uint8_t fp[32];
    bool has_fp;
};

/* The outcome of one call, before it becomes a JSON-RPC or REST answer. */
struct result {
    enum outcome kind;
    int rpc_code; /* 0 = success */
    int http;
    char message[512];
    json_t *value; /* success: the result */
    json_t *data;  /* error data (refusals) */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void res_error(struct result *r, enum outcome kind, int rpc_code, int http, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void res_error(struct result *r, enum outcome kind, int rpc_code, int http, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    r->kind = kind;
    r->rpc_code = rpc_code;
    r->http = http;
}

static void client_info_from(struct client_info *ci, const struct sigil_http_req *req)
{
    snprintf(ci->id, sizeof ci->id, "%s", sigil_http_req_client_id(req));
    const uint8_t *fp = sigil_http_req_client_fingerprint(req);
    ci->has_fp = fp != NULL;
    if (fp != NULL) {
        memcpy(ci->fp, fp, 32);
    }
}

static void count(struct sigil_eth1_api *api, enum sigil_rpc_method m, enum outcome o, double seconds)
{
    if ((unsigned)m >= SIGIL_RPC__COUNT) {
        m = SIGIL_RPC_NONE;
    }
    sigil_counter_add(api->requests[m][o], 1);
    if (o == OUT_SIGNED) {
        sigil_histogram_observe(api->latency[m], seconds);
    }
}

static void count_refusal(struct sigil_eth1_api *api, const char *rule)
{
    /* Rules are dotted identifiers, but window names come from the operator's rules file: keep
     * the label value to a safe alphabet. */
    char clean[SIGIL_POLICY_RULE_LEN];
    size_t k = 0;
    for (const char *p = rule; *p != '\0' && k + 1 < sizeof clean; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '_' || ch == '-';
        clean[k++] = ok ? ch : '_';
    }
    clean[k] = '\0';
    char labels[96];
    snprintf(labels, sizeof labels, "rule=\"%s\"", clean);
    sigil_counter_add(sigil_metrics_counter(api->cfg.metrics, "sigil_eth1_policy_refusals_total",
                                            "Eth1 signing requests refused, by the rule that refused", labels),
                      1);
}

/* ---------------------------------------------------------------- audit */

static const char *audit_kind(enum sigil_rpc_method m)
{
    switch (m) {
    case SIGIL_RPC_SIGN_TX:
        return "tx";
    case SIGIL_RPC_ETH_SIGN:
        return "eth_sign";
    case SIGIL_RPC_PERSONAL_SIGN:
        return "personal_sign";
    case SIGIL_RPC_SIGN_TYPED:
        return "typed_data";
    case SIGIL_RPC_SIGN_AUTH:
        return "authorization";
    default:
        return "raw";
    }
}

static sigil_result audit(struct sigil_eth1_api *api, const struct client_info *ci, const struct sigil_rpc_call *c,
                          bool signed_, const char *policy, const char *rule, const char *reason, unsigned approvals)
{
    if (api->cfg.audit == NULL) {
        return sigil_errorf(SIGIL_ERR_NOT_READY, "no audit log is configured");
    }
    struct sigil_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = audit_kind(c->method);
    ev.signed_ = signed_;
    ev.policy = policy;
    ev.rule = rule;
    ev.reason = reason;
    ev.client = ci->id;
    ev.client_fingerprint = ci->has_fp ? ci->fp : NULL;
    ev.account = c->account;
    ev.digest = c->digest;
    ev.approvals = approvals;
    if (c->method == SIGIL_RPC_SIGN_TX) {
        ev.has_chain_id = c->tx.type != 0 || c->tx.has_chain_id;
        ev.chain_id = c->tx.chain_id;
        ev.to = c->tx.has_to ? c->tx.to : NULL;
        ev.value_be = c->tx.value.b;
    } else if (c->method == SIGIL_RPC_SIGN_AUTH) {
        /* a chain id over 64 bits is recorded as absent rather than truncated */
        ev.has_chain_id = sigil_eth1_u256_to_u64(&ev.chain_id, &c->auth.chain_id);
        ev.to = c->auth.address;
    }
    return sigil_audit_record(api->cfg.audit, &ev);
}

/* A refusal: audited (not signed), counted, and answered with the rule and the digest to approve. */
static void refuse(struct sigil_eth1_api *api, const struct client_info *ci, const struct sigil_rpc_call *c,
                   struct result *res, int rpc_code, const char *policy, const char *rule, const char *reason,
                   unsigned required, unsigned valid)
{
    sigil_result r = audit(api, ci, c, false, policy, rule, reason, valid);
    if (!sigil_is_ok(r)) {
        SIGIL_LOG_WARN("audit record of a refusal failed", SIGIL_LOG_STR("rule", rule),
                       SIGIL_LOG_STR("error", sigil_strerror(r.code)));
    }
    count_refusal(api, rule);
    char digest[67];
    char account[43];
    sigil_hex_encode(digest, c->digest, 32, 1);
    sigil_eip55_encode(account, c->account);
    res_error(res, OUT_REFUSED, rpc_code, 403, "refused by policy rule %s: %s", rule, reason);
    res->data = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "rule", rule, "policy", policy, "reason", reason,
                          "approvals_required", (json_int_t)required, "approvals_valid", (json_int_t)valid, "digest",
                          digest, "account", account);
}

/* ---------------------------------------------------------------- signing */

static sigil_result tx_sign_cb(void *ctx, const sigil_secp256k1_sk *sk) { return sigil_eth1_tx_sign(ctx, sk); }

static sigil_result auth_sign_cb(void *ctx, const sigil_secp256k1_sk *sk) { return sigil_eth1_auth_sign(ctx, sk); }

static json_t *rsv_string(const struct sigil_secp256k1_sig *sig)
{
    uint8_t rsv[65];
    char hex[2 * 65 + 3];
    sigil_eth1_sig_to_rsv(rsv, sig);
    return json_string(sigil_hex_encode(hex, rsv, sizeof rsv, 1));
}

/* Signs the parsed call with its key; *value is the JSON-RPC result. */
static sigil_result sign_call(struct sigil_eth1_api *api, struct sigil_rpc_call *c, json_t **value)
{
    *value = NULL;
    if (c->method == SIGIL_RPC_SIGN_TX) {
        SIGIL_GUARD(sigil_eth1_keyring_with_key(api->cfg.keys, c->account, tx_sign_cb, &c->tx));
        uint8_t *raw = NULL;
        size_t len = 0;
        SIGIL_GUARD(sigil_eth1_tx_encode_signed(&raw, &len, &c->tx));
        char *hex = malloc(2 * len + 3);
        if (hex != NULL) {
            *value = json_string(sigil_hex_encode(hex, raw, len, 1));
        }
        free(hex);
        free(raw);
    } else if (c->method == SIGIL_RPC_SIGN_AUTH) {
        SIGIL_GUARD(sigil_eth1_keyring_with_key(api->cfg.keys, c->account, auth_sign_cb, &c->auth));
        char chain[67];
        char nonce[19];
        char y[12];
        char r[67];
        char s[67];
        char addr[43];
        sigil_eth1_format_quantity(chain, c->auth.chain_id.b);
        (void)snprintf(nonce, sizeof nonce, "0x%" PRIx64, c->auth.nonce);
        (void)snprintf(y, sizeof y, "0x%x", (unsigned)c->auth.sig.y_parity);
        sigil_eth1_format_quantity(r, c->auth.sig.r);
        sigil_eth1_format_quantity(s, c->auth.sig.s);
        sigil_eip55_encode(addr, c->auth.address);
        *value = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "chainId", chain, "address", addr, "nonce", nonce,
                           "yParity", y, "r", r, "s", s);
    } else {
        struct sigil_secp256k1_sig sig;
        SIGIL_GUARD(sigil_eth1_keyring_sign(api->cfg.keys, c->account, c->digest, &sig));
        *value = rsv_string(&sig);
    }
    SIGIL_ENSURE(*value != NULL, SIGIL_ERR_NOMEM);
    return sigil_ok();
}

static enum sigil_policy_kind policy_kind(enum sigil_rpc_method m)
{
    switch (m) {
    case SIGIL_RPC_SIGN_TX:
        return SIGIL_POLICY_TX;
    case SIGIL_RPC_ETH_SIGN:
    case SIGIL_RPC_PERSONAL_SIGN:
        return SIGIL_POLICY_PERSONAL;
    case SIGIL_RPC_SIGN_TYPED:
        return SIGIL_POLICY_TYPED;
    case SIGIL_RPC_SIGN_AUTH:
        return SIGIL_POLICY_AUTH;
    default:
        return SIGIL_POLICY_RAW;
    }
}

/* The whole decision for one parsed signing call (see eth1_api.h for the order). */
static void exec_sign(struct sigil_eth1_api *api, const struct client_info *ci, struct sigil_rpc_call *c,
                      struct result *res)
{
    char addr_s[43];
    sigil_eip55_encode(addr_s, c->account);
    if (api->cfg.keys == NULL || !sigil_eth1_keyring_has(api->cfg.keys, c->account)) {
        res_error(res, OUT_INVALID, SIGIL_RPC_UNKNOWN_ACCOUNT, 404,
                  "unknown account %s: no eth1 key with this address is loaded", addr_s);
        return;
    }
    if (api->cfg.may_use != NULL && !api->cfg.may_use(api->cfg.may_use_ctx, ci->id, c->account)) {
        refuse(api, ci, c, res, SIGIL_RPC_FORBIDDEN, "", "client", "this client is not allowed to use this key", 0, 0);
        return;
    }
    struct sigil_policy_request pr;
    memset(&pr, 0, sizeof pr);
    pr.kind = policy_kind(c->method);
    memcpy(pr.account, c->account, 20);
    memcpy(pr.digest, c->digest, 32);
    pr.tx = c->method == SIGIL_RPC_SIGN_TX ? &c->tx : NULL;
    pr.typed_domain = c->method == SIGIL_RPC_SIGN_TYPED ? json_object_get(c->typed, "domain") : NULL;
    pr.auth = c->method == SIGIL_RPC_SIGN_AUTH ? &c->auth : NULL;
    pr.approvals = c->approvals;
    pr.napprovals = c->napprovals;
    struct sigil_policy_decision d;
    memset(&d, 0, sizeof d);
    sigil_error_clear();
    sigil_result r = sigil_policy_check(api->policy, &pr, &d);
    if (!sigil_is_ok(r)) {
        res_error(res, OUT_ERROR, SIGIL_RPC_INTERNAL, 500, "policy check failed: %s", sigil_strerror(r.code));
        return;
    }
    if (!d.allow) {
        refuse(api, ci, c, res, SIGIL_RPC_REFUSED, d.policy, d.rule, d.reason, d.approvals_required, d.approvals_valid);
        return;
    }
    if (c->method == SIGIL_RPC_SIGN_TX) {
        struct sigil_spend_window w[SIGIL_POLICY_MAX_WINDOWS];
        size_t nw = sigil_policy_spend_limits(api->policy, c->account, w);
        if (nw > 0) {
            sigil_u256 amount;
            sigil_policy_spend_amount(api->policy, c->account, &c->tx, &amount);
            const char *rule = NULL;
            sigil_error_clear();
            r = sigil_slashing_spend_reserve(api->cfg.db, c->account, c->digest, amount.b, (uint64_t)time(NULL), w, nw,
                                             &rule);
            if (r.code == SIGIL_ERR_POLICY) {
                char reason[SIGIL_POLICY_REASON_LEN];
                snprintf(reason, sizeof reason, "%s",
                         sigil_error_detail()[0] ? sigil_error_detail() : "the spend window's limit would be exceeded");
                refuse(api, ci, c, res, SIGIL_RPC_REFUSED, d.policy, rule != NULL ? rule : "spend", reason,
                       d.approvals_required, d.approvals_valid);
                return;
            }
            if (!sigil_is_ok(r)) {
                SIGIL_LOG_ERROR("spend ledger unavailable: not signed", SIGIL_LOG_STR("error", sigil_strerror(r.code)),
                                SIGIL_LOG_STR("detail", sigil_error_detail()));
                sigil_result ar = audit(api, ci, c, false, d.policy, "spend.ledger", "the spend ledger is unavailable",
                                        d.approvals_valid);
                (void)ar;
                res_error(res, OUT_ERROR, SIGIL_RPC_UNAVAILABLE, 503,
                          "not signed: the spend ledger (slashing database) is unavailable");
                return;
            }
        }
    }
    json_t *value = NULL;
    sigil_error_clear();
    r = sign_call(api, c, &value);
    if (!sigil_is_ok(r)) {
        res_error(res, OUT_ERROR, SIGIL_RPC_INTERNAL, 500, "signing failed: %s", sigil_strerror(r.code));
        return;
    }
    /* Durable before release: a signature whose record cannot be written never leaves. */
    r = audit(api, ci, c, true, d.policy, NULL, NULL, d.approvals_valid);
    if (!sigil_is_ok(r)) {
        json_decref(value);
        SIGIL_LOG_ERROR("audit record failed: signature withheld", SIGIL_LOG_STR("error", sigil_strerror(r.code)));
        res_error(res, OUT_ERROR, SIGIL_RPC_UNAVAILABLE, 503, "not signed: the audit log is unavailable");
        return;
    }
    res->kind = OUT_SIGNED;
    res->value = value;
}

static void exec_accounts(struct sigil_eth1_api *api, const struct client_info *ci, struct result *res)
{
    json_t *arr = json_array();
    struct sigil_eth1_key_info *keys = NULL;
    size_t n = 0;
    if (arr == NULL || (api->cfg.keys != NULL && !sigil_is_ok(sigil_eth1_keyring_list(api->cfg.keys, &keys, &n)))) {
        json_decref(arr);
        res_error(res, OUT_ERROR, SIGIL_RPC_INTERNAL, 500, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (api->cfg.may_use == NULL || api->cfg.may_use(api->cfg.may_use_ctx, ci->id, keys[i].address)) {
            char a[43];
            sigil_eip55_encode(a, keys[i].address);
            json_array_append_new(arr, json_string(a));
        }
    }
    free(keys);
    res->kind = OUT_OK;
    res->value = arr;
}

/* Runs one parsed JSON-RPC call and builds its response object (NULL for a notification). */
static json_t *run_call(struct sigil_eth1_api *api, const struct client_info *ci, struct sigil_rpc_call *c)
{
    if (c->notification) {
        return NULL;
    }
    double t0 = mono_s();
    struct result res;
    memset(&res, 0, sizeof res);
    if (c->error_code != 0) {
        res_error(&res, c->error_code == SIGIL_RPC_INTERNAL ? OUT_ERROR : OUT_INVALID, c->error_code, 400, "%s",
                  c->error);
    } else if (c->method == SIGIL_RPC_ACCOUNTS) {
        exec_accounts(api, ci, &res);
    } else {
        exec_sign(api, ci, c, &res);
    }
    count(api, c->method, res.kind, mono_s() - t0);
    json_t *resp = res.rpc_code == 0 ? sigil_rpc_result_response(c->id, res.value)
                                     : sigil_rpc_error_response(c->id, res.rpc_code, res.message, res.data);
    if (resp == NULL) {
        resp = sigil_rpc_error_response(c->id, SIGIL_RPC_INTERNAL, "out of memory", NULL);
    }
    return resp;
}

/* ---------------------------------------------------------------- JSON-RPC jobs */

struct rpc_job;
struct rpc_item {
    struct rpc_job *job;
    size_t index;
};

struct rpc_job {
    struct sigil_eth1_api *api;
    struct sigil_http_req *req;
    struct client_info ci;
    struct sigil_rpc_request parsed;
    json_t **responses;
    struct rpc_item *items;
    atomic_size_t remaining;
};

static void rpc_job_free(struct rpc_job *job)
{
    if (job->responses != NULL) {
        for (size_t i = 0; i < job->parsed.n; i++) {
            json_decref(job->responses[i]);
        }
    }
    free(job->responses);
    free(job->items);
    sigil_rpc_request_free(&job->parsed);
    free(job);
}

static void respond_json_status(struct sigil_http_req *req, int status, const json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (text == NULL) {
        sigil_http_respond_error(req, 500, "out of memory");
        return;
    }
    sigil_http_respond(req, status, "application/json; charset=utf-8", text, strlen(text));
    free(text);
}

static void rpc_finish(struct rpc_job *job)
{
    json_t *out = NULL;
    if (job->parsed.batch) {
        out = json_array();
        for (size_t i = 0; out != NULL && i < job->parsed.n; i++) {
            if (job->responses[i] != NULL) {
                json_array_append(out, job->responses[i]);
            }
        }
        if (out != NULL && json_array_size(out) == 0) {
            json_decref(out);
            out = NULL;
            sigil_http_respond(job->req, 204, NULL, "", 0);
            rpc_job_free(job);
            return;
        }
    } else if (job->responses[0] != NULL) {
        out = json_incref(job->responses[0]);
    } else {
        sigil_http_respond(job->req, 204, NULL, "", 0); /* a notification */
        rpc_job_free(job);
        return;
    }
    if (out == NULL) {
        sigil_http_respond_error(job->req, 500, "out of memory");
    } else {
        respond_json_status(job->req, job->parsed.http_status, out);
    }
    json_decref(out);
    rpc_job_free(job);
}

static void rpc_item_done(struct rpc_job *job)
{
    if (atomic_fetch_sub(&job->remaining, 1) == 1) {
        rpc_finish(job);
    }
}

static void rpc_item_worker(void *arg)
{
    struct rpc_item *it = arg;
    struct rpc_job *job = it->job;
    job->responses[it->index] = run_call(job->api, &job->ci, &job->parsed.calls[it->index]);
    rpc_item_done(job);
}

static void rpc_start(void *arg)
{
    struct rpc_job *job = arg;
    struct sigil_eth1_api *api = job->api;
    size_t len = 0;
    const uint8_t *body = sigil_http_req_body(job->req, &len);
    sigil_result r = sigil_rpc_parse(&job->parsed, (const char *)body, len, api->cfg.max_body);
    size_t n = job->parsed.n;
    if (sigil_is_ok(r)) {
        job->responses = calloc(n, sizeof(json_t *));
        job->items = calloc(n, sizeof *job->items);
    }
    if (!sigil_is_ok(r) || job->responses == NULL || job->items == NULL) {
        sigil_http_respond_error(job->req, 500, "out of memory");
        rpc_job_free(job);
        return;
    }
    /* Batch items run on workers of their own (each may wait for the ledger and the audit
     * fsync); this worker keeps the first one. remaining counts this worker's share too, so the
     * job outlives the loop. */
    atomic_store(&job->remaining, n);
    for (size_t i = 0; i < n; i++) {
        job->items[i].job = job;
        job->items[i].index = i;
    }
    for (size_t i = 1; i < n; i++) {
        sigil_pool_submit(api->cfg.pool, rpc_item_worker, &job->items[i]);
    }
    rpc_item_worker(&job->items[0]);
}

static void handle_rpc(struct sigil_http_req *req, void *ctx)
{
    struct sigil_eth1_api *api = ctx;
    struct rpc_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        sigil_http_respond_error(req, 500, "out of memory");
        return;
    }
    job->api = api;
    job->req = req;
    client_info_from(&job->ci, req);
    sigil_pool_submit(api->cfg.pool, rpc_start, job);
}

/* ---------------------------------------------------------------- Web3Signer REST */

static bool accepts_json(const char *accept)
{
    /* Web3Signer answers eth1/sign in text/plain; JSON only when the client asks for it. */
    return accept != NULL && strstr(accept, "application/json") != NULL;
}

static void rest_error(struct sigil_http_req *req, const struct result *res)
{
    json_t *o = json_pack("{s:i, s:s}", "code", res->http, "message", res->message);
    if (o != NULL && res->data != NULL) {
        json_object_update(o, res->data);
    }
    if (o == NULL) {
        sigil_http_respond_error(req, 500, "out of memory");
        return;
    }
    respond_json_status(req, res->http, o);
    json_decref(o);
}

struct raw_job {
    struct sigil_eth1_api *api;
    struct sigil_http_req *req;
    struct client_info ci;
    char identifier[IDENTIFIER_MAX];
};

static void raw_worker(void *arg)
{
    struct raw_job *job = arg;
    struct sigil_eth1_api *api = job->api;
    double t0 = mono_s();
    struct sigil_rpc_call c;
    struct result res;
    memset(&res, 0, sizeof res);
    size_t len = 0;
    const uint8_t *body = sigil_http_req_body(job->req, &len);
    sigil_error_clear();
    sigil_result r = sigil_rpc_parse_raw_sign(&c, (const char *)body, len);
    if (!sigil_is_ok(r)) {
        res_error(&res, OUT_INVALID, SIGIL_RPC_INVALID_PARAMS, r.code == SIGIL_ERR_TOO_LARGE ? 413 : 400, "%s",
                  sigil_error_detail()[0] ? sigil_error_detail() : sigil_strerror(r.code));
    } else {
        sigil_error_clear();
        r = api->cfg.keys != NULL ? sigil_eth1_keyring_resolve(api->cfg.keys, job->identifier, c.account)
                                  : sigil_errorf(SIGIL_ERR_NOT_FOUND, "no eth1 key is loaded");
        if (r.code == SIGIL_ERR_NOT_FOUND) {
            res_error(&res, OUT_INVALID, SIGIL_RPC_UNKNOWN_ACCOUNT, 404, "no eth1 key for this identifier");
        } else if (!sigil_is_ok(r)) {
            res_error(&res, OUT_INVALID, SIGIL_RPC_INVALID_PARAMS, 400, "%s", sigil_error_detail());
        } else {
            exec_sign(api, &job->ci, &c, &res);
        }
    }
    count(api, SIGIL_RPC_RAW, res.kind, mono_s() - t0);
    if (res.kind == OUT_SIGNED) {
        const char *sig = json_string_value(res.value);
        if (accepts_json(sigil_http_req_header(job->req, "Accept"))) {
            json_t *o = json_pack("{s:s}", "signature", sig);
            respond_json_status(job->req, 200, o);
            json_decref(o);
        } else {
            sigil_http_respond(job->req, 200, "text/plain; charset=utf-8", sig, strlen(sig));
        }
    } else {
        rest_error(job->req, &res);
    }
    json_decref(res.value);
    json_decref(res.data);
    sigil_rpc_call_free(&c);
    free(job);
}

static void handle_raw_sign(struct sigil_http_req *req, void *ctx)
{
    struct sigil_eth1_api *api = ctx;
    const char *id = sigil_http_req_path(req) + strlen(ETH1_SIGN_PREFIX);
    if (strlen(id) >= IDENTIFIER_MAX) {
        count(api, SIGIL_RPC_RAW, OUT_INVALID, 0);
        sigil_http_respond_error(req, 400, "identifier: expected a 0x address or a secp256k1 public key in hex");
        return;
    }
    struct raw_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        sigil_http_respond_error(req, 500, "out of memory");
        return;
    }
    job->api = api;
    job->req = req;
    client_info_from(&job->ci, req);
    snprintf(job->identifier, sizeof job->identifier, "%s", id);
    sigil_pool_submit(api->cfg.pool, raw_worker, job);
}

static void handle_public_keys(struct sigil_http_req *req, void *ctx)
{
    struct sigil_eth1_api *api = ctx;
    struct sigil_eth1_key_info *keys = NULL;
    size_t n = 0;
    if (api->cfg.keys != NULL && !sigil_is_ok(sigil_eth1_keyring_list(api->cfg.keys, &keys, &n))) {
        sigil_http_respond_error(req, 500, "cannot list keys");
        return;
    }
    const char *client = sigil_http_req_client_id(req);
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (api->cfg.may_use == NULL || api->cfg.may_use(api->cfg.may_use_ctx, client, keys[i].address)) {
            char hex[2 * 64 + 3]; /* Web3Signer: the 64-byte uncompressed key, without the 0x04 prefix */
            json_array_append_new(arr, json_string(sigil_hex_encode(hex, keys[i].pubkey + 1, 64, 1)));
        }
    }
    free(keys);
    if (arr == NULL) {
        sigil_http_respond_error(req, 500, "out of memory");
        return;
    }
    sigil_http_respond_json(req, 200, arr);
    json_decref(arr);
}

static void handle_status(struct sigil_http_req *req, void *ctx)
{
    struct sigil_eth1_api *api = ctx;
    uint8_t ph[32];
    char ph_hex[67];
    sigil_policy_hash(api->policy, ph);
    size_t nkeys = api->cfg.keys != NULL ? sigil_eth1_keyring_count(api->cfg.keys) : 0;
    sigil_gauge_set(api->keys_gauge, (double)nkeys);
    json_t *o = json_pack("{s:I, s:{s:s, s:s}}", "keys", (json_int_t)nkeys, "policy", "source",
                          api->cfg.policy_from_file ? "file" : "default", "hash", sigil_hex_encode(ph_hex, ph, 32, 1));
    if (o != NULL && api->cfg.audit != NULL) {
        uint8_t addr[20];
        uint8_t head[32];
        uint64_t seq = 0;
        char a[43];
        char h[67];
        sigil_audit_info(api->cfg.audit, addr, &seq, head);
        sigil_eip55_encode(a, addr);
        json_object_set_new(o, "audit",
                            json_pack("{s:s, s:I, s:s}", "signer", a, "next_seq", (json_int_t)seq, "head",
                                      sigil_hex_encode(h, head, 32, 1)));
    }
    if (o == NULL) {
        sigil_http_respond_error(req, 500, "out of memory");
        return;
    }
    sigil_http_respond_json(req, 200, o);
    json_decref(o);
}

/* ---------------------------------------------------------------- setup */

sigil_result sigil_eth1_api_new(struct sigil_eth1_api **out, const struct sigil_eth1_api_config *cfg)
{
    if (cfg->keys != NULL && cfg->audit == NULL) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "eth1 keys need an audit log (--audit-log)");
    }
    struct sigil_eth1_api *api = calloc(1, sizeof *api);
    SIGIL_ENSURE(api != NULL, SIGIL_ERR_NOMEM);
    api->cfg = *cfg;
    api->policy = cfg->policy != NULL ? cfg->policy : sigil_policy_default();
    static const double buckets[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
    for (int m = 0; m < SIGIL_RPC__COUNT; m++) {
        const char *mn = sigil_rpc_method_label((enum sigil_rpc_method)m);
        for (int o = 0; o < OUT__COUNT; o++) {
            char labels[128];
            snprintf(labels, sizeof labels, "method=\"%s\",outcome=\"%s\"", mn, outcome_labels[o]);
            api->requests[m][o] = sigil_metrics_counter(cfg->metrics, "sigil_eth1_requests_total",
                                                        "Eth1 wallet requests by method and outcome", labels);
        }
        char labels[96];
        snprintf(labels, sizeof labels, "method=\"%s\"", mn);
        api->latency[m] = sigil_metrics_histogram(cfg->metrics, "sigil_eth1_sign_duration_seconds",
                                                  "Time from request to released signature (policy, ledger, audit)",
                                                  labels, buckets, sizeof buckets / sizeof buckets[0]);
    }
    api->keys_gauge = sigil_metrics_gauge(cfg->metrics, "sigil_eth1_keys_loaded", "Eth1 wallet keys in memory", NULL);
    sigil_gauge_set(api->keys_gauge, cfg->keys != NULL ? (double)sigil_eth1_keyring_count(cfg->keys) : 0);
    *out = api;
    return sigil_ok();
}

sigil_result sigil_eth1_api_register(struct sigil_eth1_api *api, struct sigil_http_server *http)
{
    SIGIL_GUARD(sigil_http_route(http, "POST", ETH1_SIGN_PREFIX, true, handle_raw_sign, api));
    SIGIL_GUARD(sigil_http_route(http, "GET", "/api/v1/eth1/publicKeys", false, handle_public_keys, api));
    SIGIL_GUARD(sigil_http_route(http, "GET", "/api/v1/eth1/status", false, handle_status, api));
    SIGIL_GUARD(sigil_http_route(http, "POST", "/", false, handle_rpc, api));
    return sigil_ok();
}

void sigil_eth1_api_free(struct sigil_eth1_api *api) { free(api); }
