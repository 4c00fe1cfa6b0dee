/* The wallet's JSON-RPC 2.0 request layer, pure: a request body in, parsed calls out (method,
 * account, the digest sigild would sign, the typed request, approvals), or for each call the
 * JSON-RPC error to answer. No key, policy, database or network is touched here, so the whole
 * layer is fuzzed on its own (tests/fuzz/fuzz_jsonrpc.c); sigild's eth1 API (src/sigild/eth1_api.c)
 * runs the parsed calls through the policy engine, the spend ledger, signing and the audit log.
 *
 * Methods (params by position; an optional trailing options object {"approvals": ["0x<65 bytes>",
 * ...]} on every signing method carries M-of-N approvals, see docs/wallet.md):
 *   eth_accounts                          []
 *   eth_sign                              [address, data]           EIP-191 over the data bytes
 *   personal_sign                         [data, address]           (note the order)
 *   eth_signTransaction                   [txObject]                `from` required
 *   eth_signTypedData_v4, eth_signTypedData [address, typedData]    object or JSON string
 *   sigil_signAuthorization               [address, {chainId, address, nonce}]   EIP-7702 tuple
 * Message data is 0x hex (which must then be valid hex) or, without 0x, the UTF-8 text itself.
 *
 * Limits: the body (caller's max_body), SIGIL_RPC_MAX_BATCH calls per batch, the eth1 core's own
 * limits (transaction lists, EIP-712 depth and sizes, SIGIL_EIP191_MAX_MESSAGE). Notifications
 * (no "id") are never executed: a signer does not sign what nobody will receive. */
#ifndef SIGIL_ETH1_RPC_H
#define SIGIL_ETH1_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "eth1/tx.h"
#include "policy/policy.h"

#define SIGIL_RPC_MAX_BATCH     256
#define SIGIL_RPC_MAX_APPROVALS SIGIL_POLICY_MAX_APPROVERS

/* JSON-RPC error codes (docs/wallet.md). */
#define SIGIL_RPC_PARSE_ERROR      (-32700)
#define SIGIL_RPC_INVALID_REQUEST  (-32600)
#define SIGIL_RPC_METHOD_NOT_FOUND (-32601)
#define SIGIL_RPC_INVALID_PARAMS   (-32602)
#define SIGIL_RPC_INTERNAL         (-32603)
#define SIGIL_RPC_REFUSED          (-32000) /* refused by the policy engine; data names the rule */
#define SIGIL_RPC_UNKNOWN_ACCOUNT  (-32001) /* no key for that address in this sigild */
#define SIGIL_RPC_UNAVAILABLE      (-32002) /* not signed: audit log or spend ledger unavailable */
#define SIGIL_RPC_FORBIDDEN        (-32003) /* this client may not use that key */

enum sigil_rpc_method {
    SIGIL_RPC_NONE = 0, /* the call is an error (error_code set) */
    SIGIL_RPC_ACCOUNTS,
    SIGIL_RPC_ETH_SIGN,
    SIGIL_RPC_PERSONAL_SIGN,
    SIGIL_RPC_SIGN_TX,
    SIGIL_RPC_SIGN_TYPED,
    SIGIL_RPC_SIGN_AUTH,
    SIGIL_RPC_RAW, /* POST /api/v1/eth1/sign/{identifier}: never from JSON-RPC */
    SIGIL_RPC__COUNT
};

/* Stable lower-case name for metrics and audit ("accounts", "eth_sign", ..., "raw", "invalid"). */
const char *sigil_rpc_method_label(enum sigil_rpc_method m);

struct sigil_rpc_call {
    json_t *id;        /* own reference; JSON null when absent or invalid */
    bool notification; /* no "id": not executed, not answered */
    enum sigil_rpc_method method;
    int error_code;  /* != 0: answer this error (method may still be set, for metrics) */
    char error[320]; /* its message: names the parameter, never echoes a secret */

    /* Parsed, for signing methods (method != NONE, error_code == 0): */
    uint8_t account[20]; /* the key asked for */
    uint8_t digest[32];  /* what would be signed */
    uint8_t *msg;        /* eth_sign / personal_sign / raw: the message bytes (malloc'ed) */
    size_t msg_len;
    bool has_tx;
    struct sigil_eth1_tx tx;     /* SIGN_TX */
    json_t *typed;               /* SIGN_TYPED: the document (own reference) */
    struct sigil_eth1_auth auth; /* SIGN_AUTH: chain_id, address, nonce (sig unset) */
    struct sigil_policy_approval approvals[SIGIL_RPC_MAX_APPROVALS];
    size_t napprovals;
};

struct sigil_rpc_request {
    int http_status; /* 200; 400 (not JSON-RPC at all) or 413 (too large): calls[0] is the error */
    bool batch;      /* a JSON array: answer with an array */
    size_t n;
    struct sigil_rpc_call *calls;
};

/* Parses a JSON-RPC body (single request or batch) into out. Never fails on bad input: every
 * problem becomes a call with an error (a body that is not JSON-RPC at all, one call with
 * http_status 400/413). Errors only for SIGIL_ERR_NOMEM. Free with sigil_rpc_request_free (also
 * after an error). */
SIGIL_RESULT sigil_rpc_parse(struct sigil_rpc_request *out, const char *body, size_t len, size_t max_body);
void sigil_rpc_request_free(struct sigil_rpc_request *r);

/* Parses the body of POST /api/v1/eth1/sign/{identifier}: {"data": "0x...", "approvals"?: [...]}
 * into a RAW call (digest = keccak256(data)); account is left for the caller (the identifier).
 * Errors: SIGIL_ERR_PARSE / SIGIL_ERR_TOO_LARGE with a detail naming the field. */
SIGIL_RESULT sigil_rpc_parse_raw_sign(struct sigil_rpc_call *c, const char *body, size_t len);
void sigil_rpc_call_free(struct sigil_rpc_call *c);

/* Response objects: {"jsonrpc":"2.0","id":id,"error":{code,message[,data]}} and
 * {"jsonrpc":"2.0","id":id,"result":result}; data and result are stolen. NULL on OOM. */
json_t *sigil_rpc_error_response(const json_t *id, int code, const char *message, json_t *data);
json_t *sigil_rpc_result_response(const json_t *id, json_t *result);

#endif
