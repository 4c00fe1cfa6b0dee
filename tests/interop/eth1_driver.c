/* Driver for eth1_diff.mjs: reads JSON lines from stdin and answers one JSON line each.
 *   {"op":"tx","key":K,"tx":{eth_signTransaction object}} -> {"raw":hex,"hash":hex,"sender":hex}
 *   {"op":"auth","key":K,"chainId":Q,"address":A,"nonce":Q}  -> {"r":hex,"s":hex,"yParity":n}
 *   {"op":"typed","key":K,"doc":{types,primaryType,domain,message}} -> {"digest":hex,"sig":hex}
 *   {"op":"personal","key":K,"msg":hex}                      -> {"sig":hex}
 *   {"op":"decode","raw":hex}                                -> {"sender":hex} (strict decode)
 * Failures answer {"error":code,"detail":sentence}. Keys are test keys from the script. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/result.h"
#include "crypto/keccak.h"
#include "eth1/eip191.h"
#include "eth1/eip712.h"
#include "eth1/secp256k1.h"
#include "eth1/tx.h"

static json_t *hexj(const uint8_t *b, size_t n)
{
    char *s = malloc(2 * n + 3);
    if (s == NULL) {
        return NULL;
    }
    sigil_hex_encode(s, b, n, 1);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *err(sigil_result r)
{
    return json_pack("{s:s,s:s}", "error", sigil_strerror(r.code), "detail", sigil_error_detail());
}

static sigil_result load_key(sigil_secp256k1_sk **sk, const json_t *req)
{
    uint8_t k[32];
    const char *s = json_string_value(json_object_get(req, "key"));
    if (s == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "key missing");
    }
    SIGIL_GUARD(sigil_hex_decode_exact(k, 32, s, strlen(s)));
    return sigil_secp256k1_sk_from_bytes(sk, k);
}

static json_t *do_tx(const json_t *req, const sigil_secp256k1_sk *sk)
{
    struct sigil_eth1_tx tx;
    sigil_result r = sigil_eth1_tx_from_json(&tx, json_object_get(req, "tx"));
    if (!sigil_is_ok(r)) {
        return err(r);
    }
    json_t *out = NULL;
    uint8_t *raw = NULL;
    size_t n = 0;
    r = sigil_eth1_tx_sign(&tx, sk);
    if (sigil_is_ok(r)) {
        r = sigil_eth1_tx_encode_signed(&raw, &n, &tx);
    }
    if (sigil_is_ok(r)) {
        uint8_t h[32];
        sigil_keccak256(h, raw, n);
        out = json_pack("{s:o,s:o}", "raw", hexj(raw, n), "hash", hexj(h, 32));
        free(raw);
    } else {
        out = err(r);
    }
    sigil_eth1_tx_free(&tx);
    return out;
}

static json_t *do_auth(const json_t *req, const sigil_secp256k1_sk *sk)
{
    struct sigil_eth1_auth a;
    memset(&a, 0, sizeof a);
    uint64_t nonce = 0;
    sigil_u256 nq;
    const char *cid = json_string_value(json_object_get(req, "chainId"));
    const char *addr = json_string_value(json_object_get(req, "address"));
    const char *nn = json_string_value(json_object_get(req, "nonce"));
    if (cid == NULL || addr == NULL || nn == NULL) {
        return err(sigil_errorf(SIGIL_ERR_ARG, "auth fields missing"));
    }
    sigil_result r = sigil_eth1_parse_quantity(&a.chain_id, cid, "chainId");
    if (sigil_is_ok(r)) {
        r = sigil_eip55_parse(a.address, addr);
    }
    if (sigil_is_ok(r)) {
        r = sigil_eth1_parse_quantity(&nq, nn, "nonce");
    }
    if (!sigil_is_ok(r)) {
        return err(r);
    }
    for (int i = 24; i < 32; i++) {
        nonce = (nonce << 8) | nq.b[i];
    }
    a.nonce = nonce;
    r = sigil_eth1_auth_sign(&a, sk);
    if (!sigil_is_ok(r)) {
        return err(r);
    }
    return json_pack("{s:o,s:o,s:i}", "r", hexj(a.sig.r, 32), "s", hexj(a.sig.s, 32), "yParity", a.sig.y_parity);
}

static json_t *do_typed(const json_t *req, const sigil_secp256k1_sk *sk)
{
    uint8_t digest[32];
    sigil_result r = sigil_eip712_hash(digest, NULL, NULL, json_object_get(req, "doc"));
    if (!sigil_is_ok(r)) {
        return err(r);
    }
    struct sigil_secp256k1_sig sig;
    r = sigil_secp256k1_sign(&sig, sk, digest);
    if (!sigil_is_ok(r)) {
        return err(r);
    }
    uint8_t rsv[65];
    sigil_eth1_sig_to_rsv(rsv, &sig);
    return json_pack("{s:o,s:o}", "digest", hexj(digest, 32), "sig", hexj(rsv, 65));
}

static json_t *do_personal(const json_t *req, const sigil_secp256k1_sk *sk)
{
    const char *m = json_string_value(json_object_get(req, "msg"));
    if (m == NULL) {
        return err(sigil_errorf(SIGIL_ERR_ARG, "msg missing"));
    }
    size_t cap = strlen(m) / 2 + 1;
    uint8_t *b = malloc(cap);
    size_t n = 0;
    if (b == NULL) {
        return err(sigil_error(SIGIL_ERR_NOMEM));
    }
    sigil_result r = sigil_hex_decode(b, cap, &n, m, strlen(m));
    struct sigil_secp256k1_sig sig;
    if (sigil_is_ok(r)) {
        r = sigil_eip191_sign(&sig, sk, b, n);
    }
    free(b);
    if (!sigil_is_ok(r)) {
        return err(r);
    }
    uint8_t rsv[65];
    sigil_eth1_sig_to_rsv(rsv, &sig);
    return json_pack("{s:o}", "sig", hexj(rsv, 65));
}

static json_t *do_decode(const json_t *req)
{
    const char *m = json_string_value(json_object_get(req, "raw"));
    if (m == NULL) {
        return err(sigil_errorf(SIGIL_ERR_ARG, "raw missing"));
    }
    size_t cap = strlen(m) / 2 + 1;
    uint8_t *b = malloc(cap);
    size_t n = 0;
    if (b == NULL) {
        return err(sigil_error(SIGIL_ERR_NOMEM));
    }
    sigil_result r = sigil_hex_decode(b, cap, &n, m, strlen(m));
    struct sigil_eth1_tx tx;
    sigil_eth1_tx_init(&tx);
    uint8_t addr[20];
    if (sigil_is_ok(r)) {
        r = sigil_eth1_tx_decode(&tx, b, n);
    }
    if (sigil_is_ok(r)) {
        r = sigil_eth1_tx_sender(addr, &tx);
    }
    sigil_eth1_tx_free(&tx);
    free(b);
    if (!sigil_is_ok(r)) {
        return err(r);
    }
    return json_pack("{s:o}", "sender", hexj(addr, 20));
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        json_error_t je;
        json_t *req = json_loadb(line, (size_t)len, 0, &je);
        json_t *out = NULL;
        sigil_secp256k1_sk *sk = NULL;
        const char *op = json_string_value(json_object_get(req, "op"));
        if (req == NULL || op == NULL) {
            out = json_pack("{s:s}", "error", "bad request line");
        } else if (strcmp(op, "decode") == 0) {
            out = do_decode(req);
        } else {
            sigil_result r = load_key(&sk, req);
            if (!sigil_is_ok(r)) {
                out = err(r);
            } else if (strcmp(op, "tx") == 0) {
                out = do_tx(req, sk);
            } else if (strcmp(op, "auth") == 0) {
                out = do_auth(req, sk);
            } else if (strcmp(op, "typed") == 0) {
                out = do_typed(req, sk);
            } else if (strcmp(op, "personal") == 0) {
                out = do_personal(req, sk);
            } else {
                out = json_pack("{s:s}", "error", "unknown op");
            }
        }
        char *s = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
        printf("%s\n", s != NULL ? s : "{\"error\":\"nomem\"}");
        free(s);
        json_decref(out);
        json_decref(req);
        sigil_secp256k1_sk_free(sk);
    }
    free(line);
    return 0;
}
