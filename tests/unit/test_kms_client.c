/* KMS client against a tiny HTTPS server on 127.0.0.1 (tests/kms/kms_fixture_server.py):
 * each operation's request (X-Amz-Target, content type, JSON fields, a SigV4 signature that our
 * own verifier accepts), its response handling (Recipient envelopes unwrapped into secure
 * memory), the AWS error mapping, certificate verification, the response size cap and the
 * custom transport hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/hex.h"
#include "common/secmem.h"
#include "kms/kms.h"

#define AKID   "AKIDSIGILTEST"
#define SECRET "sigil/test/secret/key/0123456789abcdef"
#define TOKEN  "session-token-for-tests"

static char g_dir[256];
static char g_endpoint[128];
static char g_ca[300];
static pid_t g_server = -1;
static struct sigil_kms_recipient *g_rcpt;

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("SIGIL_SOURCE_DIR");
    char script[512];
    snprintf(script, sizeof script, "%s/tests/kms/kms_fixture_server.py", src ? src : ".");
    if (access(script, R_OK) != 0 || system("python3 -c 'import ssl' >/dev/null 2>&1") != 0 ||
        system("openssl version >/dev/null 2>&1") != 0) {
        printf("skipped: python3 with ssl, openssl or %s not available\n", script);
        exit(77);
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/sigil-kms-test-XXXXXX");
    if (mkdtemp(g_dir) == NULL) {
        return 1;
    }
    g_server = fork();
    if (g_server == 0) {
        execlp("python3", "python3", script, g_dir, (char *)NULL);
        _exit(127);
    }
    char portf[300];
    path_in(portf, sizeof portf, "port");
    for (int i = 0; i < 300; i++) {
        FILE *f = fopen(portf, "r");
        if (f != NULL) {
            int port = 0;
            int ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok && port > 0) {
                snprintf(g_endpoint, sizeof g_endpoint, "https://127.0.0.1:%d", port);
                path_in(g_ca, sizeof g_ca, "cert.pem");
                return !sigil_is_ok(sigil_kms_recipient_new(&g_rcpt));
            }
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "fixture server did not start\n");
    return 1;
}

static int teardown(void **state)
{
    (void)state;
    if (g_server > 0) {
        kill(g_server, SIGTERM);
        waitpid(g_server, NULL, 0);
    }
    const char *files[] = {"port", "cert.pem", "key.pem", "request.json", "response"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[300];
        path_in(p, sizeof p, files[i]);
        unlink(p);
    }
    rmdir(g_dir);
    sigil_kms_recipient_free(g_rcpt);
    return 0;
}

static void set_response(int status, const char *body)
{
    char p[300];
    path_in(p, sizeof p, "response");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "%d\n%s", status, body);
    fclose(f);
    path_in(p, sizeof p, "request.json");
    unlink(p);
}

static struct sigil_kms_client *new_client(const char *ca, size_t max_response)
{
    struct sigil_kms_config cfg = {.region = "us-east-1",
                                   .endpoint = g_endpoint,
                                   .ca_file = ca,
                                   .max_response = max_response,
                                   .connect_timeout_ms = 5000,
                                   .timeout_ms = 10000};
    char *secret = sigil_secure_alloc(strlen(SECRET));
    memcpy(secret, SECRET, strlen(SECRET));
    struct sigil_kms_credentials cr = {AKID, secret, strlen(SECRET), TOKEN};
    struct sigil_kms_client *c = NULL;
    sigil_result r = sigil_kms_client_new(&c, &cfg, &cr);
    sigil_secure_free(secret);
    assert_int_equal(r.code, SIGIL_OK);
    return c;
}

static sigil_result lookup(void *ctx, const char *akid, const char *token, char *out, size_t cap, size_t *len)
{
    (void)ctx;
    if (strcmp(akid, AKID) != 0) {
        return sigil_error(SIGIL_ERR_NOT_FOUND);
    }
    if (token == NULL || strcmp(token, TOKEN) != 0) {
        return sigil_error(SIGIL_ERR_UNAUTHORIZED);
    }
    assert_true(strlen(SECRET) <= cap);
    memcpy(out, SECRET, strlen(SECRET));
    *len = strlen(SECRET);
    return sigil_ok();
}

/* Loads the recorded request, checks target, content type and the SigV4 signature with our
 * verifier, and returns the parsed JSON body. */
static json_t *check_request(const char *op)
{
    char p[300];
    path_in(p, sizeof p, "request.json");
    json_error_t err;
    json_t *rec = json_load_file(p, 0, &err);
    assert_non_null(rec);
    json_t *hs = json_object_get(rec, "headers");
    struct sigil_sigv4_header h[32];
    size_t nh = 0;
    const char *target = NULL, *ctype = NULL;
    for (size_t i = 0; i < json_array_size(hs) && nh < 32; i++) {
        json_t *kv = json_array_get(hs, i);
        h[nh].name = json_string_value(json_array_get(kv, 0));
        h[nh].value = json_string_value(json_array_get(kv, 1));
        if (strcasecmp(h[nh].name, "X-Amz-Target") == 0) {
            target = h[nh].value;
        }
        if (strcasecmp(h[nh].name, "Content-Type") == 0) {
            ctype = h[nh].value;
        }
        nh++;
    }
    char want[64];
    snprintf(want, sizeof want, "TrentService.%s", op);
    assert_non_null(target);
    assert_string_equal(target, want);
    assert_non_null(ctype);
    assert_string_equal(ctype, "application/x-amz-json-1.1");
    assert_string_equal(json_string_value(json_object_get(rec, "path")), "/");
    const char *body = json_string_value(json_object_get(rec, "body"));
    struct sigil_sigv4_request req = {.method = "POST",
                                      .path = "/",
                                      .headers = h,
                                      .nheaders = nh,
                                      .body = (const uint8_t *)body,
                                      .body_len = strlen(body)};
    static const char *const required[] = {"content-type", "x-amz-target", "x-amz-security-token", NULL};
    struct sigil_sigv4_verify_params vp = {.service = "kms",
                                           .region = "us-east-1",
                                           .now = (int64_t)time(NULL),
                                           .max_skew = 300,
                                           .flags = SIGIL_SIGV4_NORMALIZE_PATH,
                                           .required_signed = required,
                                           .lookup = lookup};
    struct sigil_sigv4_identity id;
    sigil_result r = sigil_sigv4_verify(&id, &req, &vp);
    if (!sigil_is_ok(r)) {
        fprintf(stderr, "verify: %s\n", sigil_error_detail());
    }
    assert_int_equal(r.code, SIGIL_OK);
    json_t *j = json_loads(body, 0, &err);
    assert_non_null(j);
    json_decref(rec);
    return j;
}

static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static char *b64(const uint8_t *d, size_t n)
{
    char *o = malloc(4 * ((n + 2) / 3) + 1);
    sigil_base64_encode(o, d, n);
    return o;
}

static void test_encrypt(void **state)
{
    (void)state;
    struct sigil_kms_client *c = new_client(g_ca, 0);
    set_response(200, "{\"CiphertextBlob\":\"AQIDBA==\",\"KeyId\":\"arn:aws:kms:us-east-1:1:key/k\"}");
    struct sigil_kms_kv ctx[] = {{"purpose", "keystore"}, {"quote\"d", "v\\"}};
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    sigil_result r = sigil_kms_encrypt(c, "alias/sigil", (const uint8_t *)"hello", 5, ctx, 2, &blob, &blob_len);
    assert_int_equal(r.code, SIGIL_OK);
    assert_int_equal(blob_len, 4);
    assert_memory_equal(blob, "\x01\x02\x03\x04", 4);
    free(blob);
    json_t *j = check_request("Encrypt");
    assert_string_equal(jstr(j, "KeyId"), "alias/sigil");
    assert_string_equal(jstr(j, "Plaintext"), "aGVsbG8=");
    assert_string_equal(jstr(json_object_get(j, "EncryptionContext"), "purpose"), "keystore");
    assert_string_equal(jstr(json_object_get(j, "EncryptionContext"), "quote\"d"), "v\\");
    json_decref(j);
    sigil_kms_client_free(c);
}

static void test_decrypt_plain_and_recipient(void **state)
{
    (void)state;
    struct sigil_kms_client *c = new_client(g_ca, 0);
    /* without Recipient */
    set_response(200, "{\"Plaintext\":\"c2VjcmV0\",\"KeyId\":\"k\"}");
    struct sigil_kms_decrypt_args a = {.ciphertext = (const uint8_t *)"\x01\x02\x03", .ciphertext_len = 3};
    uint8_t *plain = NULL;
    size_t n = 0;
    assert_int_equal(sigil_kms_decrypt(c, &a, &plain, &n).code, SIGIL_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(plain, "secret", 6);
    assert_true(sigil_secure_owns(plain));
    sigil_secure_free(plain);
    json_t *j = check_request("Decrypt");
    assert_string_equal(jstr(j, "CiphertextBlob"), "AQID");
    assert_null(json_object_get(j, "Recipient"));
    json_decref(j);

    /* with Recipient: the server answers with an envelope for our key */
    size_t spki_len;
    const uint8_t *spki = sigil_kms_recipient_spki(g_rcpt, &spki_len);
    uint8_t *env = NULL;
    size_t env_len = 0;
    assert_int_equal(
        sigil_kms_cms_build_for_spki(&env, &env_len, (const uint8_t *)"validator-key-material", 22, spki, spki_len)
            .code,
        SIGIL_OK);
    char *env64 = b64(env, env_len);
    char resp[8192];
    snprintf(resp, sizeof resp, "{\"CiphertextForRecipient\":\"%s\",\"KeyId\":\"k\",\"Plaintext\":null}", env64);
    set_response(200, resp);
    static const uint8_t doc[] = {0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0}; /* stands in for a COSE_Sign1 */
    struct sigil_kms_recipient_req rr = {g_rcpt, doc, sizeof doc};
    a.recipient = &rr;
    a.key_id = "alias/sigil";
    assert_int_equal(sigil_kms_decrypt(c, &a, &plain, &n).code, SIGIL_OK);
    assert_int_equal(n, 22);
    assert_memory_equal(plain, "validator-key-material", 22);
    assert_true(sigil_secure_owns(plain));
    sigil_secure_free(plain);
    j = check_request("Decrypt");
    json_t *rj = json_object_get(j, "Recipient");
    assert_string_equal(jstr(rj, "KeyEncryptionAlgorithm"), "RSAES_OAEP_SHA_256");
    char *doc64 = b64(doc, sizeof doc);
    assert_string_equal(jstr(rj, "AttestationDocument"), doc64);
    assert_string_equal(jstr(j, "KeyId"), "alias/sigil");
    free(doc64);
    json_decref(j);

    /* a Plaintext alongside a requested Recipient is refused */
    snprintf(resp, sizeof resp, "{\"CiphertextForRecipient\":\"%s\",\"Plaintext\":\"c2VjcmV0\"}", env64);
    set_response(200, resp);
    assert_int_equal(sigil_kms_decrypt(c, &a, &plain, &n).code, SIGIL_ERR_PARSE);
    assert_null(plain);
    /* an envelope for another key fails to unwrap */
    struct sigil_kms_recipient *other = NULL;
    assert_int_equal(sigil_kms_recipient_new(&other).code, SIGIL_OK);
    rr.key = other;
    snprintf(resp, sizeof resp, "{\"CiphertextForRecipient\":\"%s\"}", env64);
    set_response(200, resp);
    assert_int_equal(sigil_kms_decrypt(c, &a, &plain, &n).code, SIGIL_ERR_CRYPTO);
    sigil_kms_recipient_free(other);
    free(env64);
    free(env);
    sigil_kms_client_free(c);
}

static void test_generate_data_key_and_random(void **state)
{
    (void)state;
    struct sigil_kms_client *c = new_client(g_ca, 0);
    uint8_t key[32];
    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)i;
    }
    size_t spki_len;
    const uint8_t *spki = sigil_kms_recipient_spki(g_rcpt, &spki_len);
    uint8_t *env = NULL;
    size_t env_len = 0;
    assert_int_equal(sigil_kms_cms_build_for_spki(&env, &env_len, key, 32, spki, spki_len).code, SIGIL_OK);
    char *env64 = b64(env, env_len);
    char resp[8192];
    snprintf(resp, sizeof resp, "{\"CiphertextBlob\":\"AAEC\",\"CiphertextForRecipient\":\"%s\",\"KeyId\":\"k\"}",
             env64);
    set_response(200, resp);
    static const uint8_t doc[] = {1, 2, 3};
    struct sigil_kms_recipient_req rr = {g_rcpt, doc, sizeof doc};
    struct sigil_kms_kv ctx[] = {{"a", "b"}};
    struct sigil_kms_data_key_args a = {
        .key_id = "k", .key_spec = "AES_256", .context = ctx, .ncontext = 1, .recipient = &rr};
    uint8_t *plain = NULL, *blob = NULL;
    size_t pn = 0, bn = 0;
    assert_int_equal(sigil_kms_generate_data_key(c, &a, &plain, &pn, &blob, &bn).code, SIGIL_OK);
    assert_int_equal(pn, 32);
    assert_memory_equal(plain, key, 32);
    assert_int_equal(bn, 3);
    sigil_secure_free(plain);
    free(blob);
    json_t *j = check_request("GenerateDataKey");
    assert_string_equal(jstr(j, "KeySpec"), "AES_256");
    assert_string_equal(jstr(json_object_get(j, "EncryptionContext"), "a"), "b");
    assert_non_null(json_object_get(j, "Recipient"));
    json_decref(j);
    free(env64);
    free(env);

    char *r64 = b64(key, 32);
    snprintf(resp, sizeof resp, "{\"Plaintext\":\"%s\"}", r64);
    free(r64);
    set_response(200, resp);
    assert_int_equal(sigil_kms_generate_random(c, 32, NULL, &plain, &pn).code, SIGIL_OK);
    assert_int_equal(pn, 32);
    sigil_secure_free(plain);
    j = check_request("GenerateRandom");
    assert_int_equal(json_integer_value(json_object_get(j, "NumberOfBytes")), 32);
    json_decref(j);
    /* a short answer is refused */
    set_response(200, "{\"Plaintext\":\"AAEC\"}");
    assert_int_equal(sigil_kms_generate_random(c, 32, NULL, &plain, &pn).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_kms_generate_random(c, 0, NULL, &plain, &pn).code, SIGIL_ERR_ARG);
    sigil_kms_client_free(c);
}

static void test_key_management(void **state)
{
    (void)state;
    struct sigil_kms_client *c = new_client(g_ca, 0);
    set_response(200, "{\"KeyMetadata\":{\"KeyId\":\"1234abcd\",\"Arn\":\"arn:aws:kms:us-east-1:1:key/1234abcd\"}}");
    const char *policy = "{\"Version\":\"2012-10-17\",\"Statement\":[]}";
    struct sigil_kms_create_key_args ca = {.description = "sigil validators", .policy = policy};
    char *id = NULL, *arn = NULL;
    assert_int_equal(sigil_kms_create_key(c, &ca, &id, &arn).code, SIGIL_OK);
    assert_string_equal(id, "1234abcd");
    assert_string_equal(arn, "arn:aws:kms:us-east-1:1:key/1234abcd");
    free(id);
    free(arn);
    json_t *j = check_request("CreateKey");
    assert_string_equal(jstr(j, "Description"), "sigil validators");
    assert_string_equal(jstr(j, "Policy"), policy);
    assert_string_equal(jstr(j, "KeySpec"), "SYMMETRIC_DEFAULT");
    assert_string_equal(jstr(j, "KeyUsage"), "ENCRYPT_DECRYPT");
    json_decref(j);

    set_response(200, "");
    assert_int_equal(sigil_kms_put_key_policy(c, "1234abcd", NULL, policy).code, SIGIL_ERR_PARSE); /* not JSON */
    set_response(200, "{}");
    assert_int_equal(sigil_kms_put_key_policy(c, "1234abcd", NULL, policy).code, SIGIL_OK);
    j = check_request("PutKeyPolicy");
    assert_string_equal(jstr(j, "KeyId"), "1234abcd");
    assert_string_equal(jstr(j, "PolicyName"), "default");
    assert_string_equal(jstr(j, "Policy"), policy);
    json_decref(j);

    set_response(200, "{\"Policy\":\"{\\\"Version\\\":\\\"2012-10-17\\\"}\",\"PolicyName\":\"default\"}");
    char *got = NULL;
    assert_int_equal(sigil_kms_get_key_policy(c, "1234abcd", NULL, &got).code, SIGIL_OK);
    assert_string_equal(got, "{\"Version\":\"2012-10-17\"}");
    free(got);
    j = check_request("GetKeyPolicy");
    assert_string_equal(jstr(j, "PolicyName"), "default");
    json_decref(j);
    sigil_kms_client_free(c);
}

static void test_error_mapping(void **state)
{
    (void)state;
    struct sigil_kms_client *c = new_client(g_ca, 0);
    static const struct {
        int status;
        const char *body;
        enum sigil_err want;
        const char *type;
    } cases[] = {
        {400, "{\"__type\":\"AccessDeniedException\",\"message\":\"attestation does not match\"}", SIGIL_ERR_FORBIDDEN,
         "AccessDeniedException"},
        {400, "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\",\"Message\":\"bad key\"}",
         SIGIL_ERR_UNAUTHORIZED, "UnrecognizedClientException"},
        {400, "{\"__type\":\"InvalidSignatureException\"}", SIGIL_ERR_UNAUTHORIZED, "InvalidSignatureException"},
        {400, "{\"__type\":\"NotFoundException\",\"message\":\"no key\"}", SIGIL_ERR_NOT_FOUND, "NotFoundException"},
        {400, "{\"__type\":\"DisabledException\"}", SIGIL_ERR_KEY_DISABLED, "DisabledException"},
        {400, "{\"__type\":\"InvalidCiphertextException\"}", SIGIL_ERR_CRYPTO, "InvalidCiphertextException"},
        {400, "{\"__type\":\"ValidationException\"}", SIGIL_ERR_ARG, "ValidationException"},
        {400, "{\"__type\":\"ThrottlingException\"}", SIGIL_ERR_NOT_READY, "ThrottlingException"},
        {500, "{\"__type\":\"KMSInternalException\"}", SIGIL_ERR_NOT_READY, "KMSInternalException"},
        {503, "<html>busy</html>", SIGIL_ERR_NOT_READY, ""},
        {418, "not json", SIGIL_ERR_IO, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_response(cases[i].status, cases[i].body);
        uint8_t *blob = NULL;
        size_t n = 0;
        sigil_result r = sigil_kms_encrypt(c, "k", (const uint8_t *)"x", 1, NULL, 0, &blob, &n);
        assert_int_equal(r.code, cases[i].want);
        assert_null(blob);
        assert_int_equal(sigil_kms_client_last_status(c), cases[i].status);
        assert_string_equal(sigil_kms_client_last_error(c), cases[i].type);
        if (i == 0) {
            assert_non_null(strstr(sigil_error_detail(), "AccessDeniedException: attestation does not match"));
        }
    }
    sigil_kms_client_free(c);
}

static void test_tls_and_limits(void **state)
{
    (void)state;
    /* the fixture's self-signed certificate is not in the system store */
    struct sigil_kms_client *c = new_client(NULL, 0);
    set_response(200, "{\"CiphertextBlob\":\"AQIDBA==\"}");
    uint8_t *blob = NULL;
    size_t n = 0;
    assert_int_equal(sigil_kms_encrypt(c, "k", (const uint8_t *)"x", 1, NULL, 0, &blob, &n).code, SIGIL_ERR_TLS);
    sigil_kms_client_free(c);

    /* response size cap */
    c = new_client(g_ca, 64);
    char big[512];
    memset(big, 'A', sizeof big);
    memcpy(big, "{\"CiphertextBlob\":\"", 19);
    memcpy(big + sizeof big - 3, "\"}", 3);
    set_response(200, big);
    assert_int_equal(sigil_kms_encrypt(c, "k", (const uint8_t *)"x", 1, NULL, 0, &blob, &n).code, SIGIL_ERR_TOO_LARGE);
    sigil_kms_client_free(c);

    /* plain http is refused unless asked for; bad regions refused */
    struct sigil_kms_config cfg = {.region = "us-east-1", .endpoint = "http://127.0.0.1:1"};
    struct sigil_kms_credentials cr = {AKID, SECRET, strlen(SECRET), NULL};
    assert_int_equal(sigil_kms_client_new(&c, &cfg, &cr).code, SIGIL_ERR_CONFIG);
    cfg.endpoint = NULL;
    cfg.region = "us east";
    assert_int_equal(sigil_kms_client_new(&c, &cfg, &cr).code, SIGIL_ERR_CONFIG);
}

/* ---- custom transport hook ---- */

struct fake {
    int calls;
    char url[128];
    int saw_authorization;
};

static sigil_result fake_transport(void *ctx, const struct sigil_kms_http_request *req,
                                   struct sigil_kms_http_response *resp)
{
    struct fake *f = ctx;
    f->calls++;
    snprintf(f->url, sizeof f->url, "%s", req->url);
    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcmp(req->headers[i].name, "Authorization") == 0 &&
            strncmp(req->headers[i].value, "AWS4-HMAC-SHA256 Credential=" AKID "/", 29 + strlen(AKID)) == 0) {
            f->saw_authorization = 1;
        }
    }
    resp->status = 200;
    static const char body[] = "{\"CiphertextBlob\":\"AQIDBA==\"}";
    return sigil_kms_http_response_append(resp, body, sizeof body - 1);
}

static void test_custom_transport(void **state)
{
    (void)state;
    struct fake f = {0};
    struct sigil_kms_config cfg = {.region = "eu-west-1", .transport = fake_transport, .transport_ctx = &f};
    struct sigil_kms_credentials cr = {AKID, SECRET, strlen(SECRET), NULL};
    struct sigil_kms_client *c = NULL;
    assert_int_equal(sigil_kms_client_new(&c, &cfg, &cr).code, SIGIL_OK);
    uint8_t *blob = NULL;
    size_t n = 0;
    assert_int_equal(sigil_kms_encrypt(c, "k", (const uint8_t *)"x", 1, NULL, 0, &blob, &n).code, SIGIL_OK);
    free(blob);
    assert_int_equal(f.calls, 1);
    assert_string_equal(f.url, "https://kms.eu-west-1.amazonaws.com");
    assert_true(f.saw_authorization);
    sigil_kms_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encrypt),
        cmocka_unit_test(test_decrypt_plain_and_recipient),
        cmocka_unit_test(test_generate_data_key_and_random),
        cmocka_unit_test(test_key_management),
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_tls_and_limits),
        cmocka_unit_test(test_custom_transport),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
