/* sigil-kms request handling: SigV4 authentication, the TrentService operations, key policy
 * enforcement and AWS-shaped errors ({"__type": name, "message": sentence}, HTTP 400 for client
 * errors, 500 for KMSInternalException).
 *
 * Every handler runs on the HTTP loop thread and answers at once: each operation is a few
 * milliseconds of local work (AES-GCM, one RSA-OAEP wrap, one attestation verification, one
 * SQLite statement), and a development stand-in does not need a worker pool.
 *
 * Secrets: key material and plaintexts live in secure memory. Two copies cannot be wiped:
 * the base64 Plaintext of an Encrypt request sits in the HTTP layer's body buffer and in
 * jansson's string, and a Plaintext response is copied into libevent's output buffer. The
 * Recipient forms never put a plaintext on the wire, which is why sigild always uses them. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/hex.h"
#include "common/io.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secmem.h"
#include "kms/cms.h"
#include "kms/sigv4.h"
#include "kmsd/kmsd.h"
#include "net/http.h"

#define MAX_PLAINTEXT  4096u
#define MAX_CIPHERTEXT 6144u
#define MAX_RANDOM     1024u
#define MAX_DESC       8192u

struct kmsd {
    struct sigil_kmsd_store *store;
    char *akid;
    char *secret; /* secure memory */
    size_t secret_len;
    char region[64];
    char *dev_root_pem;
    size_t dev_root_len;
    int64_t max_skew;
    struct sigil_http_server *http;
};

/* One call in progress: the failure (AWS name + message) or the response. */
struct call {
    struct kmsd *k;
    const json_t *body;
    const char *type;
    int status;
    char msg[700];
    json_t *resp;         /* public members of the response */
    const char *pt_field; /* "Plaintext" when pt is to be spliced into resp */
    uint8_t *pt;          /* secure memory */
    size_t pt_len;
};

static bool fail(struct call *c, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool fail(struct call *c, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    c->type = type;
    c->status = strcmp(type, "KMSInternalException") == 0 ? 500 : 400;
    return false;
}

static bool internal(struct call *c, sigil_result r)
{
    return fail(c, "KMSInternalException", "internal error: %s", sigil_strerror(r.code));
}

/* ---- request fields ---- */

static bool opt_string(struct call *c, const char *field, const char **out, size_t max)
{
    *out = NULL;
    const json_t *v = json_object_get(c->body, field);
    if (v == NULL || json_is_null(v)) {
        return true;
    }
    if (!json_is_string(v) || json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v)) {
        return fail(c, "ValidationException", "%s must be a string of at most %zu characters", field, max);
    }
    *out = json_string_value(v);
    return true;
}

static bool req_string(struct call *c, const char *field, const char **out, size_t max)
{
    if (!opt_string(c, field, out, max)) {
        return false;
    }
    if (*out == NULL || (*out)[0] == '\0') {
        return fail(c, "ValidationException", "%s is required", field);
    }
    return true;
}

/* A base64 member decoding to min..max bytes; into secure memory when secure. *out NULL when
 * absent and !required. */
static bool get_b64(struct call *c, const json_t *obj, const char *field, bool required, size_t max, bool secure,
                    uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    const json_t *v = json_object_get(obj, field);
    if (v == NULL || json_is_null(v)) {
        return required ? fail(c, "ValidationException", "%s is required", field) : true;
    }
    if (!json_is_string(v)) {
        return fail(c, "ValidationException", "%s must be a base64 string", field);
    }
    size_t n = json_string_length(v);
    size_t cap = n / 4 * 3 + 3;
    if (n == 0 || n > 4 * ((max + 2) / 3)) {
        return fail(c, "ValidationException", "%s must decode to 1..%zu bytes", field, max);
    }
    uint8_t *buf = secure ? sigil_secure_alloc(cap) : malloc(cap);
    if (buf == NULL) {
        return internal(c, sigil_error(SIGIL_ERR_NOMEM));
    }
    size_t len = 0;
    sigil_result r = sigil_base64_decode(buf, cap, &len, json_string_value(v), n);
    if (!sigil_is_ok(r) || len == 0 || len > max) {
        secure ? sigil_secure_free(buf) : free(buf);
        return fail(c, "ValidationException", "%s is not valid base64 of 1..%zu bytes", field, max);
    }
    *out = buf;
    *out_len = len;
    return true;
}

static bool get_context(struct call *c, char **canon, size_t *len)
{
    *canon = NULL;
    *len = 0;
    const json_t *v = json_object_get(c->body, "EncryptionContext");
    if (v == NULL || json_is_null(v)) {
        return true;
    }
    sigil_result r = sigil_kmsd_context_canon(canon, len, v);
    if (!sigil_is_ok(r)) {
        return r.code == SIGIL_ERR_NOMEM
                   ? internal(c, r)
                   : fail(c, "ValidationException", "EncryptionContext must be an object of at most %d string pairs",
                          SIGIL_KMSD_MAX_CONTEXT);
    }
    return true;
}

static bool check_enum(struct call *c, const char *field, const char *only)
{
    const char *v = NULL;
    if (!opt_string(c, field, &v, 64)) {
        return false;
    }
    if (v != NULL && strcmp(v, only) != 0) {
        return fail(c, "ValidationException", "%s must be %s", field, only);
    }
    return true;
}

/* The Recipient of the request, verified: NULL in *att when the request has none. */
static bool get_recipient(struct call *c, struct sigil_attest_doc **att)
{
    *att = NULL;
    const json_t *r = json_object_get(c->body, "Recipient");
    if (r == NULL || json_is_null(r)) {
        return true;
    }
    if (!json_is_object(r)) {
        return fail(c, "ValidationException", "Recipient must be an object");
    }
    const json_t *alg = json_object_get(r, "KeyEncryptionAlgorithm");
    if (alg != NULL && (!json_is_string(alg) || strcmp(json_string_value(alg), "RSAES_OAEP_SHA_256") != 0)) {
        return fail(c, "ValidationException", "Recipient.KeyEncryptionAlgorithm must be RSAES_OAEP_SHA_256");
    }
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    if (!get_b64(c, r, "AttestationDocument", true, SIGIL_ATTEST_MAX_DOC, false, &doc, &doc_len)) {
        return false;
    }
    struct sigil_attest_doc *d = malloc(sizeof *d);
    if (d == NULL) {
        free(doc);
        return internal(c, sigil_error(SIGIL_ERR_NOMEM));
    }
    int64_t now = (int64_t)time(NULL);
    /* the dev root this sigil-kms created, then the AWS Nitro root built into the verifier */
    struct sigil_attest_verify_opts o = {
        .root_pem = c->k->dev_root_pem, .root_pem_len = c->k->dev_root_len, .at_time_s = (uint64_t)now};
    sigil_result v = sigil_attest_verify(d, doc, doc_len, &o);
    char detail[300];
    snprintf(detail, sizeof detail, "%s", sigil_error_detail());
    if (!sigil_is_ok(v) && v.code != SIGIL_ERR_PARSE) {
        struct sigil_attest_verify_opts aws = {.at_time_s = (uint64_t)now};
        if (sigil_is_ok(sigil_attest_verify(d, doc, doc_len, &aws))) {
            v = sigil_ok();
        }
    }
    free(doc);
    bool ok = false;
    if (v.code == SIGIL_ERR_PARSE) {
        fail(c, "ValidationException", "Recipient.AttestationDocument is malformed: %s", detail);
    } else if (!sigil_is_ok(v)) {
        fail(c, "AccessDeniedException", "Recipient.AttestationDocument could not be verified: %s", detail);
    } else if ((int64_t)(d->timestamp_ms / 1000) < now - SIGIL_KMSD_ATTEST_MAX_AGE ||
               (int64_t)(d->timestamp_ms / 1000) > now + 60) {
        fail(c, "AccessDeniedException", "Recipient.AttestationDocument is older than %d seconds",
             SIGIL_KMSD_ATTEST_MAX_AGE);
    } else if (d->public_key_len == 0) {
        fail(c, "ValidationException", "Recipient.AttestationDocument has no public_key");
    } else {
        ok = true;
    }
    if (!ok) {
        free(d);
        return false;
    }
    *att = d;
    return true;
}

/* Loads the key and evaluates its policy for action. */
static bool authorize(struct call *c, const char *key_id, const char *action, const struct sigil_attest_doc *att,
                      struct sigil_kmsd_key *key)
{
    sigil_result r = sigil_kmsd_store_get(c->k->store, key_id, key);
    if (r.code == SIGIL_ERR_NOT_FOUND) {
        return fail(c, "NotFoundException", "Key '%.200s' does not exist", key_id);
    }
    if (!sigil_is_ok(r)) {
        return internal(c, r);
    }
    if (strcmp(key->state, "Enabled") != 0) {
        return fail(c, "DisabledException", "%s is %s", key->arn, key->state);
    }
    struct sigil_kmsd_policy *p = NULL;
    r = sigil_kmsd_policy_parse(&p, key->policy, strlen(key->policy));
    if (!sigil_is_ok(r)) {
        return internal(c, r); /* stored policies were parsed when they were put */
    }
    struct sigil_kmsd_request_ctx rq = {
        .action = action, .principal = SIGIL_KMSD_PRINCIPAL, .resource = key->arn, .att = att};
    char why[400];
    r = sigil_kmsd_policy_eval(p, &rq, why, sizeof why);
    sigil_kmsd_policy_free(p);
    if (!sigil_is_ok(r)) {
        return fail(c, "AccessDeniedException", "%s (key %s)", why, key->id);
    }
    return true;
}

/* Hands the plaintext back: as CiphertextForRecipient when att is set, else as Plaintext. */
static bool put_plaintext(struct call *c, const struct sigil_attest_doc *att, uint8_t *pt, size_t pt_len)
{
    if (att == NULL) {
        c->pt = pt;
        c->pt_len = pt_len;
        c->pt_field = "Plaintext";
        return true;
    }
    uint8_t *env = NULL;
    size_t env_len = 0;
    sigil_result r = sigil_kms_cms_build_for_spki(&env, &env_len, pt, pt_len, att->public_key, att->public_key_len);
    sigil_secure_free(pt);
    if (!sigil_is_ok(r)) {
        return r.code == SIGIL_ERR_ARG || r.code == SIGIL_ERR_PARSE
                   ? fail(c, "ValidationException",
                          "the attestation document's public_key must be an RSA key of at least 2048 bits")
                   : internal(c, r);
    }
    char *b64 = malloc(4 * ((env_len + 2) / 3) + 1);
    if (b64 == NULL) {
        free(env);
        return internal(c, sigil_error(SIGIL_ERR_NOMEM));
    }
    sigil_base64_encode(b64, env, env_len);
    free(env);
    int rc = json_object_set_new(c->resp, "CiphertextForRecipient", json_string(b64));
    free(b64);
    return rc == 0 ? true : internal(c, sigil_error(SIGIL_ERR_NOMEM));
}

static bool set_b64(struct call *c, const char *field, const uint8_t *b, size_t n)
{
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    if (s == NULL) {
        return internal(c, sigil_error(SIGIL_ERR_NOMEM));
    }
    sigil_base64_encode(s, b, n);
    int rc = json_object_set_new(c->resp, field, json_string(s));
    free(s);
    return rc == 0 ? true : internal(c, sigil_error(SIGIL_ERR_NOMEM));
}

/* ---- operations ---- */

static json_t *key_metadata(const struct sigil_kmsd_key *k)
{
    return json_pack("{s:s, s:s, s:s, s:f, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:b}", "AWSAccountId",
                     SIGIL_KMSD_ACCOUNT, "KeyId", k->id, "Arn", k->arn, "CreationDate", (double)k->created, "Enabled",
                     strcmp(k->state, "Enabled") == 0, "Description", k->description ? k->description : "", "KeyUsage",
                     "ENCRYPT_DECRYPT", "KeyState", k->state, "Origin", "AWS_KMS", "KeyManager", "CUSTOMER",
                     "CustomerMasterKeySpec", "SYMMETRIC_DEFAULT", "KeySpec", "SYMMETRIC_DEFAULT",
                     "EncryptionAlgorithms", "SYMMETRIC_DEFAULT", "MultiRegion", 0);
}

/* Checks a policy text and that it still lets the principal change the policy (AWS's lockout
 * safety check), so an operator cannot brick a key by accident. */
static bool check_new_policy(struct call *c, const char *text)
{
    if (text == NULL) {
        return fail(c, "ValidationException", "Policy is required");
    }
    struct sigil_kmsd_policy *p = NULL;
    sigil_result r = sigil_kmsd_policy_parse(&p, text, strlen(text));
    if (!sigil_is_ok(r)) {
        return fail(c, "MalformedPolicyDocumentException", "%s", sigil_error_detail());
    }
    struct sigil_kmsd_request_ctx rq = {
        .action = "kms:PutKeyPolicy", .principal = SIGIL_KMSD_PRINCIPAL, .resource = "*", .att = NULL};
    char why[400];
    r = sigil_kmsd_policy_eval(p, &rq, why, sizeof why);
    sigil_kmsd_policy_free(p);
    if (!sigil_is_ok(r)) {
        return fail(c, "MalformedPolicyDocumentException",
                    "The new key policy will not allow you to update the key policy in the future");
    }
    return true;
}

/* Answers with the KeyMetadata of k, which it clears. */
static bool reply_metadata(struct call *c, struct sigil_kmsd_key *k)
{
    json_t *md = key_metadata(k);
    sigil_kmsd_key_clear(k);
    if (md == NULL || json_object_set_new(c->resp, "KeyMetadata", md) != 0) {
        return internal(c, sigil_error(SIGIL_ERR_NOMEM));
    }
    return true;
}

static bool op_create_key(struct call *c)
{
    const char *policy = NULL, *desc = NULL;
    if (!opt_string(c, "Policy", &policy, SIGIL_KMSD_MAX_POLICY) || !opt_string(c, "Description", &desc, MAX_DESC) ||
        !check_enum(c, "KeySpec", "SYMMETRIC_DEFAULT") ||
        !check_enum(c, "CustomerMasterKeySpec", "SYMMETRIC_DEFAULT") || !check_enum(c, "KeyUsage", "ENCRYPT_DECRYPT") ||
        !check_enum(c, "Origin", "AWS_KMS")) {
        return false;
    }
    if (policy != NULL && !check_new_policy(c, policy)) {
        return false;
    }
    struct sigil_kmsd_key k;
    sigil_result r = sigil_kmsd_store_create(c->k->store, desc, policy, &k);
    if (!sigil_is_ok(r)) {
        return internal(c, r);
    }
    SIGIL_LOG_INFO("key created", SIGIL_LOG_STR("key_id", k.id));
    return reply_metadata(c, &k);
}

static bool op_describe_key(struct call *c)
{
    const char *id = NULL;
    struct sigil_kmsd_key k;
    if (!req_string(c, "KeyId", &id, 2048) || !authorize(c, id, "kms:DescribeKey", NULL, &k)) {
        return false;
    }
    return reply_metadata(c, &k);
}

static bool op_encrypt(struct call *c)
{
    const char *id = NULL;
    uint8_t *pt = NULL, *blob = NULL;
    size_t pt_len = 0, blob_len = 0, ctx_len = 0;
    char *ctx = NULL;
    struct sigil_kmsd_key k = {0};
    bool ok = req_string(c, "KeyId", &id, 2048) && check_enum(c, "EncryptionAlgorithm", "SYMMETRIC_DEFAULT") &&
              get_b64(c, c->body, "Plaintext", true, MAX_PLAINTEXT, true, &pt, &pt_len) &&
              get_context(c, &ctx, &ctx_len) && authorize(c, id, "kms:Encrypt", NULL, &k);
    if (ok) {
        sigil_result r = sigil_kmsd_store_encrypt(c->k->store, k.id, pt, pt_len, ctx, ctx_len, &blob, &blob_len);
        ok = sigil_is_ok(r) ? set_b64(c, "CiphertextBlob", blob, blob_len) : internal(c, r);
    }
    ok = ok && json_object_set_new(c->resp, "KeyId", json_string(k.arn)) == 0 &&
         json_object_set_new(c->resp, "EncryptionAlgorithm", json_string("SYMMETRIC_DEFAULT")) == 0;
    sigil_secure_free(pt);
    free(blob);
    free(ctx);
    sigil_kmsd_key_clear(&k);
    return ok;
}

static bool op_decrypt(struct call *c)
{
    const char *want = NULL;
    uint8_t *blob = NULL, *pt = NULL;
    size_t blob_len = 0, ctx_len = 0, pt_len = 0;
    char *ctx = NULL;
    char id[SIGIL_KMSD_KEY_ID_LEN + 1];
    struct sigil_attest_doc *att = NULL;
    struct sigil_kmsd_key k = {0};
    bool ok = opt_string(c, "KeyId", &want, 2048) && check_enum(c, "EncryptionAlgorithm", "SYMMETRIC_DEFAULT") &&
              get_b64(c, c->body, "CiphertextBlob", true, MAX_CIPHERTEXT, false, &blob, &blob_len) &&
              get_context(c, &ctx, &ctx_len);
    if (ok && !sigil_is_ok(sigil_kmsd_blob_key_id(id, blob, blob_len))) {
        ok = fail(c, "InvalidCiphertextException", "the ciphertext is not a sigil-kms CiphertextBlob");
    }
    if (ok && want != NULL) {
        struct sigil_kmsd_key w;
        sigil_result r = sigil_kmsd_store_get(c->k->store, want, &w);
        if (r.code == SIGIL_ERR_NOT_FOUND) {
            ok = fail(c, "NotFoundException", "Key '%.200s' does not exist", want);
        } else if (!sigil_is_ok(r)) {
            ok = internal(c, r);
        } else if (strcmp(w.id, id) != 0) {
            ok = fail(c, "IncorrectKeyException", "the ciphertext was not encrypted under the KeyId given");
        }
        sigil_kmsd_key_clear(&w);
    }
    ok = ok && get_recipient(c, &att) && authorize(c, id, "kms:Decrypt", att, &k);
    if (ok) {
        sigil_result r = sigil_kmsd_store_decrypt(c->k->store, blob, blob_len, ctx, ctx_len, &pt, &pt_len);
        if (r.code == SIGIL_ERR_CRYPTO) {
            ok = fail(c, "InvalidCiphertextException",
                      "the ciphertext or its EncryptionContext does not match (authentication failed)");
        } else if (!sigil_is_ok(r)) {
            ok = internal(c, r);
        }
    }
    ok = ok && json_object_set_new(c->resp, "KeyId", json_string(k.arn)) == 0 &&
         json_object_set_new(c->resp, "EncryptionAlgorithm", json_string("SYMMETRIC_DEFAULT")) == 0;
    if (ok) {
        ok = put_plaintext(c, att, pt, pt_len);
        pt = NULL;
    }
    if (ok && att != NULL) {
        SIGIL_LOG_INFO("decrypt for an attested recipient", SIGIL_LOG_STR("key_id", k.id));
    }
    sigil_secure_free(pt);
    free(blob);
    free(ctx);
    free(att);
    sigil_kmsd_key_clear(&k);
    return ok;
}

static bool op_generate_data_key(struct call *c)
{
    const char *id = NULL, *spec = NULL;
    size_t n = 0, ctx_len = 0, blob_len = 0;
    char *ctx = NULL;
    uint8_t *pt = NULL, *blob = NULL;
    struct sigil_attest_doc *att = NULL;
    struct sigil_kmsd_key k = {0};
    const json_t *nb = json_object_get(c->body, "NumberOfBytes");
    bool ok = req_string(c, "KeyId", &id, 2048) && opt_string(c, "KeySpec", &spec, 16);
    if (ok && (spec == NULL) == (nb == NULL || json_is_null(nb))) {
        ok = fail(c, "ValidationException", "exactly one of KeySpec and NumberOfBytes is required");
    } else if (ok && spec != NULL) {
        if (strcmp(spec, "AES_256") == 0) {
            n = 32;
        } else if (strcmp(spec, "AES_128") == 0) {
            n = 16;
        } else {
            ok = fail(c, "ValidationException", "KeySpec must be AES_256 or AES_128");
        }
    } else if (ok) {
        if (!json_is_integer(nb) || json_integer_value(nb) < 1 || json_integer_value(nb) > (json_int_t)MAX_RANDOM) {
            ok = fail(c, "ValidationException", "NumberOfBytes must be an integer in 1..%u", MAX_RANDOM);
        } else {
            n = (size_t)json_integer_value(nb);
        }
    }
    ok = ok && get_context(c, &ctx, &ctx_len) && get_recipient(c, &att) &&
         authorize(c, id, "kms:GenerateDataKey", att, &k);
    if (ok) {
        pt = sigil_secure_alloc(n);
        if (pt == NULL || !sigil_random_bytes(pt, n)) {
            ok = internal(c, sigil_error(SIGIL_ERR_RNG));
        }
    }
    if (ok) {
        sigil_result r = sigil_kmsd_store_encrypt(c->k->store, k.id, pt, n, ctx, ctx_len, &blob, &blob_len);
        ok = sigil_is_ok(r) ? set_b64(c, "CiphertextBlob", blob, blob_len) : internal(c, r);
    }
    ok = ok && json_object_set_new(c->resp, "KeyId", json_string(k.arn)) == 0;
    if (ok) {
        ok = put_plaintext(c, att, pt, n);
        pt = NULL;
    }
    sigil_secure_free(pt);
    free(blob);
    free(ctx);
    free(att);
    sigil_kmsd_key_clear(&k);
    return ok;
}

static bool op_generate_random(struct call *c)
{
    const json_t *nb = json_object_get(c->body, "NumberOfBytes");
    if (!json_is_integer(nb) || json_integer_value(nb) < 1 || json_integer_value(nb) > (json_int_t)MAX_RANDOM) {
        return fail(c, "ValidationException", "NumberOfBytes must be an integer in 1..%u", MAX_RANDOM);
    }
    const char *store_id = NULL;
    if (!opt_string(c, "CustomKeyStoreId", &store_id, 64)) {
        return false;
    }
    if (store_id != NULL) {
        return fail(c, "CustomKeyStoreNotFoundException", "sigil-kms has no custom key stores");
    }
    size_t n = (size_t)json_integer_value(nb);
    struct sigil_attest_doc *att = NULL;
    if (!get_recipient(c, &att)) {
        return false;
    }
    uint8_t *pt = sigil_secure_alloc(n);
    bool ok = pt != NULL && sigil_random_bytes(pt, n);
    if (!ok) {
        sigil_secure_free(pt);
        free(att);
        return internal(c, sigil_error(SIGIL_ERR_RNG));
    }
    ok = put_plaintext(c, att, pt, n);
    free(att);
    return ok;
}

static bool policy_name_ok(struct call *c)
{
    const char *name = NULL;
    if (!opt_string(c, "PolicyName", &name, 128)) {
        return false;
    }
    if (name != NULL && strcmp(name, "default") != 0) {
        return fail(c, "NotFoundException", "the only policy name is \"default\"");
    }
    return true;
}

static bool op_get_key_policy(struct call *c)
{
    const char *id = NULL;
    struct sigil_kmsd_key k = {0};
    bool ok = req_string(c, "KeyId", &id, 2048) && policy_name_ok(c) && authorize(c, id, "kms:GetKeyPolicy", NULL, &k);
    ok = ok && json_object_set_new(c->resp, "Policy", json_string(k.policy)) == 0 &&
         json_object_set_new(c->resp, "PolicyName", json_string("default")) == 0;
    sigil_kmsd_key_clear(&k);
    return ok;
}

static bool op_put_key_policy(struct call *c)
{
    const char *id = NULL, *policy = NULL;
    struct sigil_kmsd_key k = {0};
    bool ok = req_string(c, "KeyId", &id, 2048) && policy_name_ok(c) &&
              req_string(c, "Policy", &policy, SIGIL_KMSD_MAX_POLICY) &&
              authorize(c, id, "kms:PutKeyPolicy", NULL, &k) && check_new_policy(c, policy);
    if (ok) {
        sigil_result r = sigil_kmsd_store_set_policy(c->k->store, k.id, policy);
        ok = sigil_is_ok(r) ? true : internal(c, r);
    }
    if (ok) {
        SIGIL_LOG_INFO("key policy replaced", SIGIL_LOG_STR("key_id", k.id));
    }
    sigil_kmsd_key_clear(&k);
    return ok;
}

static const struct {
    const char *name;
    bool (*fn)(struct call *c);
} OPS[] = {
    {"CreateKey", op_create_key},
    {"DescribeKey", op_describe_key},
    {"Encrypt", op_encrypt},
    {"Decrypt", op_decrypt},
    {"GenerateDataKey", op_generate_data_key},
    {"GenerateRandom", op_generate_random},
    {"GetKeyPolicy", op_get_key_policy},
    {"PutKeyPolicy", op_put_key_policy},
};

/* ---- HTTP ---- */

static sigil_result lookup_secret(void *ctx, const char *akid, const char *token, char *out, size_t cap, size_t *len)
{
    const struct kmsd *k = ctx;
    if (strcmp(akid, k->akid) != 0) {
        return sigil_error(SIGIL_ERR_NOT_FOUND);
    }
    if (token != NULL) {
        return sigil_error(SIGIL_ERR_UNAUTHORIZED); /* long-term keys only: no session tokens issued */
    }
    if (k->secret_len > cap) {
        return sigil_error(SIGIL_ERR_INTERNAL);
    }
    memcpy(out, k->secret, k->secret_len);
    *len = k->secret_len;
    return sigil_ok();
}

static void respond_error(struct sigil_http_req *req, int status, const char *type, const char *msg)
{
    json_t *o = json_pack("{s:s, s:s}", "__type", type, "message", msg);
    if (o == NULL) {
        sigil_http_respond(req, 500, "application/x-amz-json-1.1", "{}", 2);
        return;
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL) {
        sigil_http_respond(req, 500, "application/x-amz-json-1.1", "{}", 2);
        return;
    }
    sigil_http_respond(req, status, "application/x-amz-json-1.1", s, strlen(s));
    free(s);
}

/* Verifies SigV4 over the headers the request says it signed. Returns false after answering. */
static bool authenticate(struct kmsd *k, struct sigil_http_req *req, const uint8_t *body, size_t body_len)
{
    struct sigil_sigv4_header h[SIGIL_SIGV4_MAX_HEADERS];
    size_t n = 0;
    static const char *const fixed[] = {"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        const char *v = sigil_http_req_header(req, fixed[i]);
        if (v != NULL) {
            h[n++] = (struct sigil_sigv4_header){fixed[i], v};
        }
    }
    char names[1024] = "";
    const char *authz = sigil_http_req_header(req, "Authorization");
    const char *sh = authz != NULL ? strstr(authz, "SignedHeaders=") : NULL;
    if (sh != NULL) {
        sh += 14;
        size_t l = strcspn(sh, ", ");
        if (l < sizeof names) {
            memcpy(names, sh, l);
            names[l] = '\0';
        }
    }
    char *save = NULL;
    for (char *t = strtok_r(names, ";", &save); t != NULL && n < SIGIL_SIGV4_MAX_HEADERS;
         t = strtok_r(NULL, ";", &save)) {
        bool dup = false;
        for (size_t i = 0; i < n; i++) {
            dup = dup || strcasecmp(h[i].name, t) == 0;
        }
        const char *v = sigil_http_req_header(req, t);
        if (!dup && v != NULL) {
            h[n++] = (struct sigil_sigv4_header){t, v};
        }
    }
    static const char *const required[] = {"x-amz-target", NULL};
    struct sigil_sigv4_verify_params vp = {.service = "kms",
                                           .region = k->region,
                                           .now = (int64_t)time(NULL),
                                           .max_skew = k->max_skew,
                                           .flags = SIGIL_SIGV4_NORMALIZE_PATH,
                                           .required_signed = required,
                                           .lookup = lookup_secret,
                                           .lookup_ctx = k};
    struct sigil_sigv4_request r = {.method = sigil_http_req_method(req),
                                    .path = "/",
                                    .query = sigil_http_req_query(req),
                                    .headers = h,
                                    .nheaders = n,
                                    .body = body,
                                    .body_len = body_len};
    struct sigil_sigv4_identity id;
    sigil_error_clear();
    sigil_result v = sigil_sigv4_verify(&id, &r, &vp);
    if (sigil_is_ok(v)) {
        return true;
    }
    const char *type = v.code == SIGIL_ERR_UNAUTHORIZED ? sigil_sigv4_verdict_aws_error(id.verdict) : "";
    if (type[0] == '\0') {
        type = "IncompleteSignatureException";
    }
    char msg[300];
    snprintf(msg, sizeof msg, "%s", sigil_error_detail()[0] ? sigil_error_detail() : "request signature refused");
    SIGIL_LOG_WARN("request refused", SIGIL_LOG_STR("error", type), SIGIL_LOG_STR("peer", sigil_http_req_peer(req)));
    respond_error(req, 400, type, msg);
    return false;
}

/* Serialises the response; with a plaintext, splices "Plaintext":"<b64>" in front of the public
 * members inside one secure buffer. */
static void respond_ok(struct sigil_http_req *req, struct call *c)
{
    char *pub = json_dumps(c->resp, JSON_COMPACT);
    if (pub == NULL) {
        respond_error(req, 500, "KMSInternalException", "out of memory");
        return;
    }
    if (c->pt == NULL) {
        sigil_http_respond(req, 200, "application/x-amz-json-1.1", pub, strlen(pub));
        free(pub);
        return;
    }
    size_t pl = strlen(pub);
    size_t cap = pl + 4 * ((c->pt_len + 2) / 3) + 64;
    char *s = sigil_secure_alloc(cap);
    if (s == NULL) {
        free(pub);
        respond_error(req, 500, "KMSInternalException", "out of memory");
        return;
    }
    size_t o = (size_t)snprintf(s, cap, "{\"%s\":\"", c->pt_field);
    o += sigil_base64_encode(s + o, c->pt, c->pt_len);
    o += (size_t)snprintf(s + o, cap - o, "\"%s%s", pl > 2 ? "," : "", pub + 1);
    sigil_http_respond(req, 200, "application/x-amz-json-1.1", s, o);
    sigil_secure_free(s);
    free(pub);
}

static void handle(struct sigil_http_req *req, void *ctx)
{
    struct kmsd *k = ctx;
    size_t len = 0;
    const uint8_t *body = sigil_http_req_body(req, &len);
    if (!authenticate(k, req, body, len)) {
        return;
    }
    const char *target = sigil_http_req_header(req, "X-Amz-Target");
    const char *op = target != NULL && strncmp(target, "TrentService.", 13) == 0 ? target + 13 : NULL;
    bool (*fn)(struct call *) = NULL;
    for (size_t i = 0; op != NULL && i < sizeof OPS / sizeof OPS[0]; i++) {
        if (strcmp(OPS[i].name, op) == 0) {
            fn = OPS[i].fn;
        }
    }
    if (fn == NULL) {
        respond_error(req, 400, "UnknownOperationException", "unknown or missing X-Amz-Target");
        return;
    }
    json_t *j = NULL;
    sigil_error_clear();
    sigil_result pr = sigil_json_parse(&j, (const char *)body, len, SIGIL_KMSD_MAX_BODY);
    if (!sigil_is_ok(pr) || !json_is_object(j)) {
        json_decref(j);
        respond_error(req, 400, "ValidationException", "the request body must be a JSON object");
        return;
    }
    /* op points into the request's headers, which responding frees: keep a copy for the log */
    char op_name[64];
    snprintf(op_name, sizeof op_name, "%s", op);
    struct call c = {.k = k, .body = j, .resp = json_object()};
    bool ok = c.resp != NULL ? fn(&c) : internal(&c, sigil_error(SIGIL_ERR_NOMEM));
    if (ok) {
        respond_ok(req, &c);
    } else {
        respond_error(req, c.status, c.type, c.msg);
    }
    SIGIL_LOG_INFO("request", SIGIL_LOG_STR("op", op_name), SIGIL_LOG_INT("status", ok ? 200 : c.status),
                   SIGIL_LOG_STR("error", ok ? "" : c.type));
    sigil_secure_free(c.pt);
    json_decref(c.resp);
    json_decref(j);
}

sigil_result sigil_kmsd_context_canon(char **out, size_t *len, const json_t *ctx)
{
    *out = NULL;
    *len = 0;
    if (ctx == NULL || json_is_null(ctx)) {
        return sigil_ok();
    }
    if (!json_is_object(ctx) || json_object_size(ctx) > SIGIL_KMSD_MAX_CONTEXT) {
        return sigil_error(SIGIL_ERR_PARSE);
    }
    size_t n = json_object_size(ctx);
    const char *keys[SIGIL_KMSD_MAX_CONTEXT];
    size_t i = 0, total = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)ctx, key, v)
    {
        if (!json_is_string(v)) {
            return sigil_error(SIGIL_ERR_PARSE);
        }
        keys[i++] = key;
        total += 8 + strlen(key) + json_string_length(v);
    }
    if (total > SIGIL_KMSD_MAX_CONTEXT_LEN) {
        return sigil_error(SIGIL_ERR_TOO_LARGE);
    }
    n = i;
    /* insertion sort: at most 64 keys; the canonical order makes the AAD independent of the
     * order the client serialised the object in */
    for (size_t a = 1; a < n; a++) {
        const char *t = keys[a];
        size_t b = a;
        while (b > 0 && strcmp(keys[b - 1], t) > 0) {
            keys[b] = keys[b - 1];
            b--;
        }
        keys[b] = t;
    }
    char *buf = malloc(total > 0 ? total : 1);
    SIGIL_ENSURE(buf != NULL, SIGIL_ERR_NOMEM);
    size_t o = 0;
    for (size_t a = 0; a < n; a++) {
        const json_t *val = json_object_get(ctx, keys[a]);
        const char *parts[2] = {keys[a], json_string_value(val)};
        size_t lens[2] = {strlen(keys[a]), json_string_length(val)};
        for (int p = 0; p < 2; p++) {
            buf[o++] = (char)(lens[p] >> 24);
            buf[o++] = (char)(lens[p] >> 16);
            buf[o++] = (char)(lens[p] >> 8);
            buf[o++] = (char)lens[p];
            memcpy(buf + o, parts[p], lens[p]);
            o += lens[p];
        }
    }
    *out = buf;
    *len = o;
    return sigil_ok();
}

static struct sigil_http_server *g_server;

static void on_signal(int sig)
{
    (void)sig;
    if (g_server != NULL) {
        sigil_http_server_stop(g_server);
    }
}

sigil_result sigil_kmsd_serve(const struct sigil_kmsd_server_config *cfg)
{
    struct kmsd k = {.max_skew = cfg->max_skew > 0 ? cfg->max_skew : 300};
    snprintf(k.region, sizeof k.region, "%s", cfg->region != NULL ? cfg->region : "us-east-1");
    struct sigil_kmsd_paths p;
    sigil_kmsd_paths(&p, cfg->data_dir);
    sigil_result ret = sigil_kmsd_read_credentials(p.credentials, &k.akid, &k.secret, &k.secret_len);
    SIGIL_GUARD_GOTO(ret);
    SIGIL_GUARD_GOTO(sigil_read_file(&k.dev_root_pem, &k.dev_root_len, p.root_cert, 64 * 1024));
    SIGIL_GUARD_GOTO(sigil_kmsd_store_open(&k.store, cfg->data_dir, k.region));
    struct sigil_tls_config tls = {.cert_file = cfg->tls_cert != NULL ? cfg->tls_cert : p.tls_cert,
                                   .key_file = cfg->tls_key != NULL ? cfg->tls_key : p.tls_key};
    struct sigil_http_config hc = {.listen = cfg->listen,
                                   .tls = cfg->plain_http ? NULL : &tls,
                                   .max_body = SIGIL_KMSD_MAX_BODY,
                                   .max_connections = 256};
    SIGIL_GUARD_GOTO(sigil_http_server_new(&k.http, &hc));
    SIGIL_GUARD_GOTO(sigil_http_route(k.http, "POST", "/", false, handle, &k));
    uint16_t port = sigil_http_server_port(k.http);
    if (cfg->port_file != NULL) {
        char buf[16];
        int n = snprintf(buf, sizeof buf, "%u\n", (unsigned)port);
        SIGIL_GUARD_GOTO(sigil_write_file(cfg->port_file, buf, (size_t)n, 0644, 0));
    }
    SIGIL_LOG_INFO("sigil-kms listening", SIGIL_LOG_STR("listen", cfg->listen), SIGIL_LOG_UINT("port", port),
                   SIGIL_LOG_STR("region", k.region), SIGIL_LOG_BOOL("tls", !cfg->plain_http));
    g_server = k.http;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
        ret = sigil_errorf(SIGIL_ERR_INTERNAL, "cannot install signal handlers");
        goto out;
    }
    ret = sigil_http_server_run(k.http);
    SIGIL_LOG_INFO("sigil-kms stopped", SIGIL_LOG_NONE);
out:
    g_server = NULL;
    sigil_http_server_free(k.http);
    sigil_kmsd_store_close(k.store);
    free(k.akid);
    sigil_secure_free(k.secret);
    free(k.dev_root_pem);
    return ret;
}
