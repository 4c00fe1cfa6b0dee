/* bls_driver: Sigil's BLS API behind a JSON-lines pipe, for differential tests against
 * independent implementations (tests/interop/bls_diff.mjs). A test tool, not a product binary.
 *
 * One request per input line, one response line per request, in order:
 *   {"op":"sign","sk":"0x..","msg":"0x..","id":7}  ->  {"id":7,"sig":"0x.."}
 * Failures answer {"error":"SIGIL_ERR_..."} (plus "detail" when the library recorded one), so a
 * decoding verdict is simply "error or not". All byte strings are hex with a 0x prefix.
 *
 * Ops: sk_to_pk {sk}, sign {sk,msg}, pop_prove {sk}, verify {pk,msg,sig},
 *      pop_verify {pk,sig}, aggregate {sigs}, aggregate_pks {pks},
 *      fast_aggregate_verify {pks,msg,sig}, aggregate_verify {pks,msgs,sig},
 *      batch_verify {pks,msgs,sigs}, hash_to_g2 {msg,dst}, keygen {ikm,info?},
 *      decompress_pk {pk}, decompress_sig {sig}, derive {seed,path} (EIP-2333 along an EIP-2334 path). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/result.h"
#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/eip2333.h"

#define MAX_LINE  (8u << 20) /* one request line */
#define MAX_MSG   (1u << 16) /* message or DST bytes */
#define MAX_ITEMS 4096u      /* keys / signatures / messages in one request */

static const char *const err_names[SIGIL_ERR__COUNT] = {
    [SIGIL_OK] = "SIGIL_OK",
    [SIGIL_ERR_INTERNAL] = "SIGIL_ERR_INTERNAL",
    [SIGIL_ERR_NOMEM] = "SIGIL_ERR_NOMEM",
    [SIGIL_ERR_ARG] = "SIGIL_ERR_ARG",
    [SIGIL_ERR_IO] = "SIGIL_ERR_IO",
    [SIGIL_ERR_PARSE] = "SIGIL_ERR_PARSE",
    [SIGIL_ERR_TOO_LARGE] = "SIGIL_ERR_TOO_LARGE",
    [SIGIL_ERR_CRYPTO] = "SIGIL_ERR_CRYPTO",
    [SIGIL_ERR_RNG] = "SIGIL_ERR_RNG",
    [SIGIL_ERR_UNICODE] = "SIGIL_ERR_UNICODE",
    [SIGIL_ERR_BLS_ENCODING] = "SIGIL_ERR_BLS_ENCODING",
    [SIGIL_ERR_BLS_NOT_ON_CURVE] = "SIGIL_ERR_BLS_NOT_ON_CURVE",
    [SIGIL_ERR_BLS_NOT_IN_SUBGROUP] = "SIGIL_ERR_BLS_NOT_IN_SUBGROUP",
    [SIGIL_ERR_BLS_INFINITY] = "SIGIL_ERR_BLS_INFINITY",
    [SIGIL_ERR_BLS_SCALAR] = "SIGIL_ERR_BLS_SCALAR",
    [SIGIL_ERR_BLS_EMPTY] = "SIGIL_ERR_BLS_EMPTY",
    [SIGIL_ERR_BIP39_WORD] = "SIGIL_ERR_BIP39_WORD",
    [SIGIL_ERR_BIP39_CHECKSUM] = "SIGIL_ERR_BIP39_CHECKSUM",
    [SIGIL_ERR_BIP39_LENGTH] = "SIGIL_ERR_BIP39_LENGTH",
    [SIGIL_ERR_KEY_PATH] = "SIGIL_ERR_KEY_PATH",
    [SIGIL_ERR_KEYSTORE_FORMAT] = "SIGIL_ERR_KEYSTORE_FORMAT",
    [SIGIL_ERR_KEYSTORE_PASSWORD] = "SIGIL_ERR_KEYSTORE_PASSWORD",
    [SIGIL_ERR_KEYSTORE_PUBKEY] = "SIGIL_ERR_KEYSTORE_PUBKEY",
    [SIGIL_ERR_NOT_FOUND] = "SIGIL_ERR_NOT_FOUND",
    [SIGIL_ERR_UNSUPPORTED] = "SIGIL_ERR_UNSUPPORTED",
};

static const char *err_name(enum sigil_err code)
{
    if ((unsigned)code >= SIGIL_ERR__COUNT || err_names[code] == NULL) {
        return "SIGIL_ERR_UNKNOWN";
    }
    return err_names[code];
}

/* The driver has its own plain hex codec so that a fault in common/hex.c shows up in that
 * module's tests, not as a BLS mismatch here. Requests must use the 0x prefix. */
static int nibble(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes "0x..." (slen characters) into out (cap bytes); *out_len receives the length. */
static sigil_result hex_decode(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t slen)
{
    if (slen < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || slen % 2 != 0) {
        return sigil_error(SIGIL_ERR_PARSE);
    }
    size_t n = (slen - 2) / 2;
    if (n > cap) {
        return sigil_error(SIGIL_ERR_TOO_LARGE);
    }
    for (size_t i = 0; i < n; i++) {
        int hi = nibble(s[2 + 2 * i]);
        int lo = nibble(s[3 + 2 * i]);
        if (hi < 0 || lo < 0) {
            return sigil_error(SIGIL_ERR_PARSE);
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = n;
    return sigil_ok();
}

static void hex_encode(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    *out++ = '0';
    *out++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *out++ = digits[in[i] >> 4];
        *out++ = digits[in[i] & 15];
    }
    *out = '\0';
}

/* Decoded request buffers live here so every op shares one cleanup path. */
typedef struct {
    uint8_t *msg;
    size_t msg_len;
    sigil_bls_pk *pks;
    size_t n_pks;
    sigil_bls_sig *sigs;
    size_t n_sigs;
    uint8_t **msgs;
    size_t *msg_lens;
    size_t n_msgs;
} scratch;

static void scratch_free(scratch *s)
{
    free(s->msg);
    free(s->pks);
    free(s->sigs);
    if (s->msgs != NULL) {
        for (size_t i = 0; i < s->n_msgs; i++) {
            free(s->msgs[i]);
        }
    }
    free(s->msgs);
    free(s->msg_lens);
    memset(s, 0, sizeof *s);
}

static int set_hex(json_t *resp, const char *key, const uint8_t *in, size_t n)
{
    char *buf = malloc(2 * n + 3);
    if (buf == NULL) {
        return -1;
    }
    hex_encode(buf, in, n);
    int rc = json_object_set_new(resp, key, json_string(buf));
    free(buf);
    return rc;
}

/* Variable-length hex field (messages, DSTs, seeds) into a fresh malloc'ed buffer. */
static sigil_result get_var_hex(uint8_t **out, size_t *out_len, const json_t *v, const char *field)
{
    *out = NULL;
    *out_len = 0;
    if (!json_is_string(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "field '%s' must be a hex string", field);
    }
    size_t slen = json_string_length(v);
    uint8_t *buf = malloc(slen / 2 + 1);
    if (buf == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    sigil_result r = hex_decode(buf, MAX_MSG, out_len, json_string_value(v), slen);
    if (!sigil_is_ok(r)) {
        free(buf);
        return sigil_errorf(r.code, "field '%s' is not valid hex of at most %u bytes", field, MAX_MSG);
    }
    *out = buf;
    return sigil_ok();
}

static sigil_result get_msg_field(scratch *s, const json_t *req, const char *field)
{
    json_t *v = json_object_get(req, field);
    if (v == NULL) {
        return sigil_errorf(SIGIL_ERR_PARSE, "missing field '%s'", field);
    }
    return get_var_hex(&s->msg, &s->msg_len, v, field);
}

/* A JSON string holding exactly n bytes of hex. */
static sigil_result hex_exact(uint8_t *out, size_t n, const json_t *v, const char *field)
{
    size_t got = 0;
    if (!json_is_string(v) || !sigil_is_ok(hex_decode(out, n, &got, json_string_value(v), json_string_length(v))) ||
        got != n) {
        return sigil_errorf(SIGIL_ERR_PARSE, "field '%s' must be %zu bytes of hex", field, n);
    }
    return sigil_ok();
}

static sigil_result get_sk(sigil_bls_sk *sk, const json_t *req)
{
    uint8_t b[SIGIL_BLS_SK_LEN];
    sigil_result r = hex_exact(b, sizeof b, json_object_get(req, "sk"), "sk");
    if (sigil_is_ok(r)) {
        r = sigil_bls_sk_from_bytes(sk, b);
    }
    sigil_wipe(b, sizeof b);
    return r;
}

static sigil_result pk_from_json(sigil_bls_pk *pk, const json_t *v, const char *field)
{
    uint8_t b[SIGIL_BLS_PK_LEN];
    SIGIL_GUARD(hex_exact(b, sizeof b, v, field));
    return sigil_bls_pk_decompress(pk, b);
}

static sigil_result sig_from_json(sigil_bls_sig *sig, const json_t *v, const char *field)
{
    uint8_t b[SIGIL_BLS_SIG_LEN];
    SIGIL_GUARD(hex_exact(b, sizeof b, v, field));
    return sigil_bls_sig_decompress(sig, b);
}

static sigil_result get_pk(sigil_bls_pk *pk, const json_t *req, const char *field)
{
    return pk_from_json(pk, json_object_get(req, field), field);
}

static sigil_result get_sig(sigil_bls_sig *sig, const json_t *req, const char *field)
{
    return sig_from_json(sig, json_object_get(req, field), field);
}

static sigil_result get_array(json_t **arr, size_t *n, const json_t *req, const char *field)
{
    SIGIL_GUARD(sigil_json_get_array(arr, req, field));
    *n = json_array_size(*arr);
    if (*n > MAX_ITEMS) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "field '%s' has more than %u items", field, MAX_ITEMS);
    }
    return sigil_ok();
}

static sigil_result get_pks(scratch *s, const json_t *req)
{
    json_t *arr;
    SIGIL_GUARD(get_array(&arr, &s->n_pks, req, "pks"));
    s->pks = calloc(s->n_pks + 1, sizeof *s->pks);
    SIGIL_ENSURE(s->pks != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < s->n_pks; i++) {
        SIGIL_GUARD(pk_from_json(&s->pks[i], json_array_get(arr, i), "pks"));
    }
    return sigil_ok();
}

static sigil_result get_sigs(scratch *s, const json_t *req)
{
    json_t *arr;
    SIGIL_GUARD(get_array(&arr, &s->n_sigs, req, "sigs"));
    s->sigs = calloc(s->n_sigs + 1, sizeof *s->sigs);
    SIGIL_ENSURE(s->sigs != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < s->n_sigs; i++) {
        SIGIL_GUARD(sig_from_json(&s->sigs[i], json_array_get(arr, i), "sigs"));
    }
    return sigil_ok();
}

static sigil_result get_msgs(scratch *s, const json_t *req)
{
    json_t *arr;
    size_t n;
    SIGIL_GUARD(get_array(&arr, &n, req, "msgs"));
    s->msgs = calloc(n + 1, sizeof *s->msgs);
    s->msg_lens = calloc(n + 1, sizeof *s->msg_lens);
    SIGIL_ENSURE(s->msgs != NULL && s->msg_lens != NULL, SIGIL_ERR_NOMEM);
    s->n_msgs = n;
    for (size_t i = 0; i < n; i++) {
        SIGIL_GUARD(get_var_hex(&s->msgs[i], &s->msg_lens[i], json_array_get(arr, i), "msgs"));
    }
    return sigil_ok();
}

static sigil_result op_sk_to_pk(json_t *resp, const json_t *req, int pop)
{
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    SIGIL_ENSURE(sk != NULL, SIGIL_ERR_NOMEM);
    sigil_result ret = get_sk(sk, req);
    if (sigil_is_ok(ret)) {
        if (pop) {
            sigil_bls_sig proof;
            uint8_t out[SIGIL_BLS_SIG_LEN];
            sigil_bls_pop_prove(&proof, sk);
            sigil_bls_sig_compress(out, &proof);
            set_hex(resp, "sig", out, sizeof out);
        } else {
            sigil_bls_pk pk;
            uint8_t out[SIGIL_BLS_PK_LEN];
            sigil_bls_sk_to_pk(&pk, sk);
            sigil_bls_pk_compress(out, &pk);
            set_hex(resp, "pk", out, sizeof out);
        }
    }
    sigil_secure_free(sk);
    return ret;
}

static sigil_result op_sign(json_t *resp, const json_t *req, scratch *s)
{
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    SIGIL_ENSURE(sk != NULL, SIGIL_ERR_NOMEM);
    sigil_result ret;
    SIGIL_GUARD_GOTO(get_sk(sk, req));
    SIGIL_GUARD_GOTO(get_msg_field(s, req, "msg"));
    sigil_bls_sig sig;
    uint8_t out[SIGIL_BLS_SIG_LEN];
    sigil_bls_sign(&sig, sk, s->msg, s->msg_len);
    sigil_bls_sig_compress(out, &sig);
    set_hex(resp, "sig", out, sizeof out);
out:
    sigil_secure_free(sk);
    return ret;
}

static sigil_result op_verify(json_t *resp, const json_t *req, scratch *s, int pop)
{
    sigil_bls_pk pk;
    sigil_bls_sig sig;
    SIGIL_GUARD(get_pk(&pk, req, "pk"));
    SIGIL_GUARD(get_sig(&sig, req, "sig"));
    bool ok;
    if (pop) {
        ok = sigil_bls_pop_verify_var(&pk, &sig);
    } else {
        SIGIL_GUARD(get_msg_field(s, req, "msg"));
        ok = sigil_bls_verify_var(&pk, s->msg, s->msg_len, &sig);
    }
    json_object_set_new(resp, "valid", json_boolean(ok));
    return sigil_ok();
}

static sigil_result op_aggregate(json_t *resp, const json_t *req, scratch *s, int pks)
{
    if (pks) {
        sigil_bls_pk agg;
        uint8_t out[SIGIL_BLS_PK_LEN];
        SIGIL_GUARD(get_pks(s, req));
        SIGIL_GUARD(sigil_bls_aggregate_pks(&agg, s->pks, s->n_pks));
        sigil_bls_pk_compress(out, &agg);
        set_hex(resp, "pk", out, sizeof out);
    } else {
        sigil_bls_sig agg;
        uint8_t out[SIGIL_BLS_SIG_LEN];
        SIGIL_GUARD(get_sigs(s, req));
        SIGIL_GUARD(sigil_bls_aggregate_sigs(&agg, s->sigs, s->n_sigs));
        sigil_bls_sig_compress(out, &agg);
        set_hex(resp, "sig", out, sizeof out);
    }
    return sigil_ok();
}

static sigil_result op_fast_aggregate_verify(json_t *resp, const json_t *req, scratch *s)
{
    sigil_bls_sig sig;
    SIGIL_GUARD(get_pks(s, req));
    SIGIL_GUARD(get_msg_field(s, req, "msg"));
    SIGIL_GUARD(get_sig(&sig, req, "sig"));
    bool ok = sigil_bls_fast_aggregate_verify_var(s->pks, s->n_pks, s->msg, s->msg_len, &sig);
    json_object_set_new(resp, "valid", json_boolean(ok));
    return sigil_ok();
}

static sigil_result op_aggregate_verify(json_t *resp, const json_t *req, scratch *s)
{
    sigil_bls_sig sig;
    SIGIL_GUARD(get_pks(s, req));
    SIGIL_GUARD(get_msgs(s, req));
    SIGIL_GUARD(get_sig(&sig, req, "sig"));
    SIGIL_ENSURE(s->n_pks == s->n_msgs, SIGIL_ERR_ARG);
    bool ok = sigil_bls_aggregate_verify_var(s->pks, (const uint8_t *const *)s->msgs, s->msg_lens, s->n_pks, &sig);
    json_object_set_new(resp, "valid", json_boolean(ok));
    return sigil_ok();
}

static sigil_result op_batch_verify(json_t *resp, const json_t *req, scratch *s)
{
    SIGIL_GUARD(get_pks(s, req));
    SIGIL_GUARD(get_msgs(s, req));
    SIGIL_GUARD(get_sigs(s, req));
    SIGIL_ENSURE(s->n_pks == s->n_msgs && s->n_pks == s->n_sigs, SIGIL_ERR_ARG);
    bool ok = sigil_bls_batch_verify_var(s->pks, (const uint8_t *const *)s->msgs, s->msg_lens, s->sigs, s->n_pks);
    json_object_set_new(resp, "valid", json_boolean(ok));
    return sigil_ok();
}

static sigil_result op_hash_to_g2(json_t *resp, const json_t *req, scratch *s)
{
    uint8_t *dst = NULL;
    size_t dst_len = 0;
    SIGIL_GUARD(get_msg_field(s, req, "msg"));
    json_t *v = json_object_get(req, "dst");
    SIGIL_ENSURE(v != NULL, SIGIL_ERR_PARSE);
    SIGIL_GUARD(get_var_hex(&dst, &dst_len, v, "dst"));
    sigil_bls_g2 p;
    uint8_t out[SIGIL_BLS_SIG_LEN];
    sigil_bls_hash_to_g2(&p, s->msg, s->msg_len, dst, dst_len);
    free(dst);
    sigil_bls_sig_compress(out, &p);
    set_hex(resp, "point", out, sizeof out);
    return sigil_ok();
}

static sigil_result op_keygen(json_t *resp, const json_t *req)
{
    uint8_t *ikm = NULL, *info = NULL;
    size_t ikm_len = 0, info_len = 0;
    sigil_result ret;
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    SIGIL_ENSURE(sk != NULL, SIGIL_ERR_NOMEM);
    json_t *v = json_object_get(req, "ikm");
    SIGIL_ENSURE_GOTO(v != NULL, SIGIL_ERR_PARSE);
    SIGIL_GUARD_GOTO(get_var_hex(&ikm, &ikm_len, v, "ikm"));
    v = json_object_get(req, "info");
    if (v != NULL) {
        SIGIL_GUARD_GOTO(get_var_hex(&info, &info_len, v, "info"));
    }
    SIGIL_GUARD_GOTO(sigil_bls_keygen(sk, ikm, ikm_len, info, info_len));
    uint8_t out[SIGIL_BLS_SK_LEN];
    sigil_bls_sk_to_bytes(out, sk);
    set_hex(resp, "sk", out, sizeof out);
    sigil_wipe(out, sizeof out);
out:
    if (ikm != NULL) {
        sigil_wipe(ikm, ikm_len);
    }
    free(ikm);
    free(info);
    sigil_secure_free(sk);
    return ret;
}

static sigil_result op_decompress(json_t *resp, const json_t *req, int is_sig)
{
    if (is_sig) {
        sigil_bls_sig sig;
        uint8_t out[SIGIL_BLS_SIG_LEN];
        SIGIL_GUARD(get_sig(&sig, req, "sig"));
        sigil_bls_sig_compress(out, &sig);
        set_hex(resp, "sig", out, sizeof out);
    } else {
        sigil_bls_pk pk;
        uint8_t out[SIGIL_BLS_PK_LEN];
        SIGIL_GUARD(get_pk(&pk, req, "pk"));
        sigil_bls_pk_compress(out, &pk);
        set_hex(resp, "pk", out, sizeof out);
    }
    return sigil_ok();
}

static sigil_result op_derive(json_t *resp, const json_t *req)
{
    uint8_t *seed = NULL;
    size_t seed_len = 0;
    const char *path;
    sigil_result ret;
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    SIGIL_ENSURE(sk != NULL, SIGIL_ERR_NOMEM);
    json_t *v = json_object_get(req, "seed");
    SIGIL_ENSURE_GOTO(v != NULL, SIGIL_ERR_PARSE);
    SIGIL_GUARD_GOTO(get_var_hex(&seed, &seed_len, v, "seed"));
    SIGIL_GUARD_GOTO(sigil_json_get_string(&path, req, "path"));
    SIGIL_GUARD_GOTO(sigil_eip2333_derive_path(sk, seed, seed_len, path));
    uint8_t out[SIGIL_BLS_SK_LEN];
    sigil_bls_sk_to_bytes(out, sk);
    set_hex(resp, "sk", out, sizeof out);
    sigil_wipe(out, sizeof out);
out:
    if (seed != NULL) {
        sigil_wipe(seed, seed_len);
    }
    free(seed);
    sigil_secure_free(sk);
    return ret;
}

static sigil_result dispatch(json_t *resp, const json_t *req)
{
    const char *op;
    scratch s = {0};
    SIGIL_GUARD(sigil_json_get_string(&op, req, "op"));
    sigil_result r;
    if (strcmp(op, "sk_to_pk") == 0) {
        r = op_sk_to_pk(resp, req, 0);
    } else if (strcmp(op, "pop_prove") == 0) {
        r = op_sk_to_pk(resp, req, 1);
    } else if (strcmp(op, "sign") == 0) {
        r = op_sign(resp, req, &s);
    } else if (strcmp(op, "verify") == 0) {
        r = op_verify(resp, req, &s, 0);
    } else if (strcmp(op, "pop_verify") == 0) {
        r = op_verify(resp, req, &s, 1);
    } else if (strcmp(op, "aggregate") == 0) {
        r = op_aggregate(resp, req, &s, 0);
    } else if (strcmp(op, "aggregate_pks") == 0) {
        r = op_aggregate(resp, req, &s, 1);
    } else if (strcmp(op, "fast_aggregate_verify") == 0) {
        r = op_fast_aggregate_verify(resp, req, &s);
    } else if (strcmp(op, "aggregate_verify") == 0) {
        r = op_aggregate_verify(resp, req, &s);
    } else if (strcmp(op, "batch_verify") == 0) {
        r = op_batch_verify(resp, req, &s);
    } else if (strcmp(op, "hash_to_g2") == 0) {
        r = op_hash_to_g2(resp, req, &s);
    } else if (strcmp(op, "keygen") == 0) {
        r = op_keygen(resp, req);
    } else if (strcmp(op, "decompress_pk") == 0) {
        r = op_decompress(resp, req, 0);
    } else if (strcmp(op, "decompress_sig") == 0) {
        r = op_decompress(resp, req, 1);
    } else if (strcmp(op, "derive") == 0) {
        r = op_derive(resp, req);
    } else {
        r = sigil_errorf(SIGIL_ERR_UNSUPPORTED, "unknown op");
    }
    scratch_free(&s);
    return r;
}

static int handle_line(const char *line, size_t len)
{
    json_t *req = NULL;
    json_t *resp = json_object();
    if (resp == NULL) {
        return -1;
    }
    sigil_error_clear();
    sigil_result r = sigil_json_parse(&req, line, len, MAX_LINE);
    if (sigil_is_ok(r)) {
        json_t *id = json_object_get(req, "id");
        if (id != NULL) {
            json_object_set(resp, "id", id);
        }
        r = dispatch(resp, req);
    }
    if (!sigil_is_ok(r)) {
        /* Drop partial results: an error response carries only the id and the code. */
        json_object_del(resp, "pk");
        json_object_del(resp, "sig");
        json_object_del(resp, "sk");
        json_object_del(resp, "valid");
        json_object_del(resp, "point");
        json_object_set_new(resp, "error", json_string(err_name(r.code)));
        const char *detail = sigil_error_detail();
        if (detail[0] != '\0') {
            json_object_set_new(resp, "detail", json_string(detail));
        }
    }
    int rc = json_dumpf(resp, stdout, JSON_COMPACT);
    if (rc == 0 && (fputc('\n', stdout) == EOF || fflush(stdout) != 0)) {
        rc = -1;
    }
    json_decref(req);
    json_decref(resp);
    return rc;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            len--;
        }
        if (len == 0) {
            continue;
        }
        if (handle_line(line, len) != 0) {
            fprintf(stderr, "bls_driver: cannot write a response\n");
            status = 1;
            break;
        }
    }
    free(line);
    return status;
}
