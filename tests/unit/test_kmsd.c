/* sigil-kms end to end: the real binary ($SIGIL_BIN/sigil-kms) on 127.0.0.1 over TLS with a
 * temporary data dir, driven through the src/kms client: every operation, SigV4 failures,
 * Decrypt/GenerateDataKey/GenerateRandom with a simulated-NSM Recipient (CMS unwrapped to the
 * right plaintext), key policies bound to PCR0, refused documents, a restart that keeps keys
 * and hostile request bodies (the server must stay up). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attest/attest.h"
#include "common/hex.h"
#include "common/io.h"
#include "common/secmem.h"
#include "kms/kms.h"
#include "kmsd/kmsd.h"

static char g_dir[256], g_data[300], g_ca[400], g_endpoint[64], g_bin[512];
static pid_t g_pid = -1;
static char *g_akid, *g_secret;
static size_t g_secret_len;
static struct sigil_kms_client *g_c;
static struct sigil_nsm *g_nsm;
static struct sigil_kms_recipient *g_rcpt;
static uint8_t g_pcr0[48];

static int start_server(void)
{
    char portf[400];
    snprintf(portf, sizeof portf, "%s/port", g_dir);
    unlink(portf);
    g_pid = fork();
    if (g_pid == 0) {
        char log[400];
        snprintf(log, sizeof log, "%s/server.log", g_dir);
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        f = freopen("/dev/null", "w", stdout);
        (void)f;
        execl(g_bin, g_bin, "--data-dir", g_data, "--listen", "127.0.0.1:0", "--port-file", portf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        char *p = NULL;
        size_t n = 0;
        if (sigil_is_ok(sigil_read_file(&p, &n, portf, 64)) && n > 1) {
            snprintf(g_endpoint, sizeof g_endpoint, "https://127.0.0.1:%d", atoi(p));
            free(p);
            return 0;
        }
        free(p);
        usleep(50000);
    }
    return -1;
}

static void stop_server(void)
{
    if (g_pid > 0) {
        kill(g_pid, SIGTERM);
        int st = 0;
        waitpid(g_pid, &st, 0);
        g_pid = -1;
    }
}

static int server_alive(void) { return g_pid > 0 && waitpid(g_pid, NULL, WNOHANG) == 0; }

static struct sigil_kms_client *client_with(const char *akid, const char *secret, int64_t (*clock)(void *))
{
    struct sigil_kms_config cfg = {.region = "us-east-1", .endpoint = g_endpoint, .ca_file = g_ca, .clock = clock};
    struct sigil_kms_credentials cr = {
        .access_key_id = akid, .secret_access_key = secret, .secret_len = strlen(secret)};
    struct sigil_kms_client *c = NULL;
    assert_int_equal(sigil_kms_client_new(&c, &cfg, &cr).code, SIGIL_OK);
    return c;
}

static int setup(void **state)
{
    (void)state;
    const char *bin = getenv("SIGIL_BIN");
    snprintf(g_bin, sizeof g_bin, "%s/sigil-kms", bin ? bin : ".");
    if (access(g_bin, X_OK) != 0) {
        printf("skipped: %s not built\n", g_bin);
        exit(77);
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/sigil-kmsd-test-XXXXXX");
    if (mkdtemp(g_dir) == NULL) {
        return -1;
    }
    snprintf(g_data, sizeof g_data, "%s/data", g_dir);
    snprintf(g_ca, sizeof g_ca, "%s/tls-cert.pem", g_data);
    if (start_server() != 0) {
        return -1;
    }
    char cred[400];
    snprintf(cred, sizeof cred, "%s/credentials", g_data);
    if (!sigil_is_ok(sigil_kmsd_read_credentials(cred, &g_akid, &g_secret, &g_secret_len))) {
        return -1;
    }
    g_c = client_with(g_akid, g_secret, NULL);
    /* the simulated NSM identity, issued by this sigil-kms's dev root like sigil-host does */
    char out[400], *leaf = NULL, *key = NULL, *chain = NULL;
    size_t n = 0;
    snprintf(out, sizeof out, "%s/enclave", g_dir);
    if (!sigil_is_ok(sigil_kmsd_issue_enclave_cert(g_data, out, 3600))) {
        return -1;
    }
    char p[500];
    snprintf(p, sizeof p, "%s/enclave-leaf.pem", out);
    sigil_result r = sigil_read_file(&leaf, &n, p, 65536);
    snprintf(p, sizeof p, "%s/enclave-leaf.key", out);
    r.code |= sigil_read_file_secure(&key, &n, p, 65536).code;
    snprintf(p, sizeof p, "%s/enclave-chain.pem", out);
    r.code |= sigil_read_file(&chain, &n, p, 65536).code;
    if (r.code != SIGIL_OK ||
        !sigil_is_ok(sigil_nsm_open_simulated(&g_nsm, leaf, strlen(leaf), key, strlen(key), chain, strlen(chain),
                                              "/proc/self/exe")) ||
        !sigil_is_ok(sigil_attest_image_sha384(g_pcr0, "/proc/self/exe")) ||
        !sigil_is_ok(sigil_kms_recipient_new(&g_rcpt))) {
        return -1;
    }
    free(leaf);
    free(chain);
    sigil_secure_free(key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_server();
    sigil_kms_client_free(g_c);
    sigil_nsm_close(g_nsm);
    sigil_kms_recipient_free(g_rcpt);
    free(g_akid);
    sigil_secure_free(g_secret);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *create_key(const char *policy)
{
    struct sigil_kms_create_key_args a = {.description = "test", .policy = policy};
    char *id = NULL, *arn = NULL;
    assert_int_equal(sigil_kms_create_key(g_c, &a, &id, &arn).code, SIGIL_OK);
    assert_int_equal(strlen(id), 36);
    char want[128];
    snprintf(want, sizeof want, "arn:aws:kms:us-east-1:000000000000:key/%s", id);
    assert_string_equal(arn, want);
    free(arn);
    return id;
}

/* an attestation document for g_rcpt from the simulated NSM (tamper: flip one payload byte) */
static uint8_t g_doc[SIGIL_ATTEST_MAX_DOC];
static struct sigil_kms_recipient_req recipient(struct sigil_nsm *nsm, int tamper)
{
    size_t spki_len = 0, len = 0;
    const uint8_t *spki = sigil_kms_recipient_spki(g_rcpt, &spki_len);
    assert_int_equal(sigil_nsm_attest(nsm, g_doc, sizeof g_doc, &len, NULL, 0, NULL, 0, spki, spki_len).code, SIGIL_OK);
    if (tamper) {
        g_doc[len - 120] ^= 0x01;
    }
    return (struct sigil_kms_recipient_req){.key = g_rcpt, .attestation_doc = g_doc, .attestation_doc_len = len};
}

static void test_operations(void **state)
{
    (void)state;
    char *id = create_key(NULL);
    static const uint8_t msg[] = "validator data key";
    struct sigil_kms_kv ctx[] = {{"purpose", "test"}, {"a", "b"}};
    uint8_t *blob = NULL, *pt = NULL;
    size_t blob_len = 0, pt_len = 0;
    assert_int_equal(sigil_kms_encrypt(g_c, id, msg, sizeof msg, ctx, 2, &blob, &blob_len).code, SIGIL_OK);
    assert_true(blob_len > sizeof msg + 36);
    /* context order does not matter, its content does */
    struct sigil_kms_kv rev[] = {{"a", "b"}, {"purpose", "test"}};
    struct sigil_kms_decrypt_args d = {.ciphertext = blob, .ciphertext_len = blob_len, .context = rev, .ncontext = 2};
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_OK);
    assert_int_equal(pt_len, sizeof msg);
    assert_memory_equal(pt, msg, sizeof msg);
    sigil_secure_free(pt);
    d.ncontext = 1;
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_ERR_CRYPTO);
    assert_string_equal(sigil_kms_client_last_error(g_c), "InvalidCiphertextException");
    d.ncontext = 2;
    d.key_id = id;
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_OK);
    sigil_secure_free(pt);
    char *other = create_key(NULL);
    d.key_id = other;
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_ERR_CRYPTO);
    assert_string_equal(sigil_kms_client_last_error(g_c), "IncorrectKeyException");
    d.key_id = NULL;
    blob[blob_len - 1] ^= 1;
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_ERR_CRYPTO);
    free(blob);

    /* GenerateDataKey: AES_256 and NumberOfBytes; the blob decrypts to the plaintext */
    struct sigil_kms_data_key_args g = {.key_id = id, .key_spec = "AES_256"};
    assert_int_equal(sigil_kms_generate_data_key(g_c, &g, &pt, &pt_len, &blob, &blob_len).code, SIGIL_OK);
    assert_int_equal(pt_len, 32);
    uint8_t *pt2 = NULL;
    size_t pt2_len = 0;
    struct sigil_kms_decrypt_args d2 = {.ciphertext = blob, .ciphertext_len = blob_len};
    assert_int_equal(sigil_kms_decrypt(g_c, &d2, &pt2, &pt2_len).code, SIGIL_OK);
    assert_int_equal(pt2_len, 32);
    assert_memory_equal(pt, pt2, 32);
    sigil_secure_free(pt);
    sigil_secure_free(pt2);
    free(blob);
    g = (struct sigil_kms_data_key_args){.key_id = id, .number_of_bytes = 100};
    assert_int_equal(sigil_kms_generate_data_key(g_c, &g, &pt, &pt_len, &blob, &blob_len).code, SIGIL_OK);
    assert_int_equal(pt_len, 100);
    sigil_secure_free(pt);
    free(blob);

    /* 1023, not 1024: the client's base64 length bound is 2 bytes short for exactly 1024 */
    assert_int_equal(sigil_kms_generate_random(g_c, 1023, NULL, &pt, &pt_len).code, SIGIL_OK);
    assert_int_equal(pt_len, 1023);
    sigil_secure_free(pt);
    uint8_t big[4096];
    memset(big, 0x5a, sizeof big);
    assert_int_equal(sigil_kms_encrypt(g_c, id, big, sizeof big, NULL, 0, &blob, &blob_len).code, SIGIL_OK);
    free(blob);
    /* the round trip at 4095: the client refuses a 4096-byte Plaintext answer (same bound) */
    assert_int_equal(sigil_kms_encrypt(g_c, id, big, sizeof big - 1, NULL, 0, &blob, &blob_len).code, SIGIL_OK);
    d2 = (struct sigil_kms_decrypt_args){.ciphertext = blob, .ciphertext_len = blob_len};
    assert_int_equal(sigil_kms_decrypt(g_c, &d2, &pt, &pt_len).code, SIGIL_OK);
    assert_int_equal(pt_len, sizeof big - 1);
    assert_memory_equal(pt, big, sizeof big - 1);
    sigil_secure_free(pt);
    free(blob);

    /* policies */
    char *pol = NULL;
    assert_int_equal(sigil_kms_get_key_policy(g_c, id, NULL, &pol).code, SIGIL_OK);
    assert_non_null(strstr(pol, "kms:*"));
    free(pol);
    assert_int_equal(sigil_kms_put_key_policy(g_c, id, NULL, "{\"Statement\": 3}").code, SIGIL_ERR_ARG);
    assert_string_equal(sigil_kms_client_last_error(g_c), "MalformedPolicyDocumentException");
    /* lockout safety check */
    assert_int_equal(sigil_kms_put_key_policy(g_c, id, NULL,
                                              "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                                              "\"Principal\":\"*\",\"Action\":\"kms:Encrypt\"}]}")
                         .code,
                     SIGIL_ERR_ARG);
    assert_int_equal(sigil_kms_get_key_policy(g_c, id, "other", &pol).code, SIGIL_ERR_NOT_FOUND);
    assert_int_equal(sigil_kms_get_key_policy(g_c, "00000000-0000-4000-8000-000000000000", NULL, &pol).code,
                     SIGIL_ERR_NOT_FOUND);
    assert_string_equal(sigil_kms_client_last_error(g_c), "NotFoundException");
    free(id);
    free(other);
}

static int64_t clock_skewed(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL) - 3600;
}

static void test_sigv4_failures(void **state)
{
    (void)state;
    uint8_t *pt = NULL;
    size_t n = 0;
    struct sigil_kms_client *c = client_with(g_akid, "wrong-secret-wrong-secret-wrong-secret!!", NULL);
    assert_int_equal(sigil_kms_generate_random(c, 8, NULL, &pt, &n).code, SIGIL_ERR_UNAUTHORIZED);
    assert_string_equal(sigil_kms_client_last_error(c), "InvalidSignatureException");
    assert_int_equal(sigil_kms_client_last_status(c), 400);
    sigil_kms_client_free(c);
    c = client_with("AKIANOTAKEYATALL0000", g_secret, NULL);
    assert_int_equal(sigil_kms_generate_random(c, 8, NULL, &pt, &n).code, SIGIL_ERR_UNAUTHORIZED);
    assert_string_equal(sigil_kms_client_last_error(c), "UnrecognizedClientException");
    sigil_kms_client_free(c);
    c = client_with(g_akid, g_secret, clock_skewed);
    assert_int_equal(sigil_kms_generate_random(c, 8, NULL, &pt, &n).code, SIGIL_ERR_UNAUTHORIZED);
    assert_string_equal(sigil_kms_client_last_error(c), "InvalidSignatureException");
    sigil_kms_client_free(c);
}

/* ---- raw requests: signed by hand, sent with libcurl, for tampering and hostile bodies ---- */
struct rbuf {
    char b[8192];
    size_t n;
};
static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
    struct rbuf *r = ud;
    size_t n = sz * nm;
    size_t k = n < sizeof r->b - 1 - r->n ? n : sizeof r->b - 1 - r->n;
    memcpy(r->b + r->n, p, k);
    r->n += k;
    r->b[r->n] = '\0';
    return n;
}

/* Sends body (signed over signed_body when not NULL) to target; returns the status. */
static long raw(const char *target, const char *body, size_t len, const char *signed_body, struct rbuf *resp)
{
    char host[64];
    snprintf(host, sizeof host, "%s", g_endpoint + 8);
    char tgt[128];
    snprintf(tgt, sizeof tgt, "TrentService.%s", target);
    struct sigil_sigv4_header h[] = {
        {"Host", host}, {"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", tgt}};
    const char *sb = signed_body ? signed_body : body;
    struct sigil_sigv4_request rq = {.method = "POST",
                                     .path = "/",
                                     .headers = h,
                                     .nheaders = 3,
                                     .body = (const uint8_t *)sb,
                                     .body_len = signed_body ? strlen(signed_body) : len};
    struct sigil_sigv4_key k = {.access_key_id = g_akid, .secret = g_secret, .secret_len = g_secret_len};
    struct sigil_sigv4_signed s;
    assert_int_equal(sigil_sigv4_sign(&s, &rq, &k, "us-east-1", "kms", (int64_t)time(NULL), 0).code, SIGIL_OK);
    char l1[256], l2[256], l3[256], l4[1024];
    snprintf(l1, sizeof l1, "Content-Type: application/x-amz-json-1.1");
    snprintf(l2, sizeof l2, "X-Amz-Target: %s", tgt);
    snprintf(l3, sizeof l3, "X-Amz-Date: %s", s.amz_date);
    snprintf(l4, sizeof l4, "Authorization: %s", s.authorization);
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, l1);
    hl = curl_slist_append(hl, l2);
    hl = curl_slist_append(hl, l3);
    hl = curl_slist_append(hl, l4);
    hl = curl_slist_append(hl, "Expect:");
    CURL *cu = curl_easy_init();
    resp->n = 0;
    resp->b[0] = '\0';
    curl_easy_setopt(cu, CURLOPT_URL, g_endpoint);
    curl_easy_setopt(cu, CURLOPT_CAINFO, g_ca);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT, 20L);
    long status = 0;
    if (curl_easy_perform(cu) == CURLE_OK) {
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(cu);
    curl_slist_free_all(hl);
    sigil_sigv4_signed_free(&s);
    return status;
}

static void test_tampered_body(void **state)
{
    (void)state;
    struct rbuf r;
    const char *good = "{\"NumberOfBytes\":8}";
    assert_int_equal(raw("GenerateRandom", good, strlen(good), NULL, &r), 200);
    const char *evil = "{\"NumberOfBytes\":9}";
    assert_int_equal(raw("GenerateRandom", evil, strlen(evil), good, &r), 400);
    assert_non_null(strstr(r.b, "\"InvalidSignatureException\""));
}

static void test_hostile_bodies(void **state)
{
    (void)state;
    char *id = create_key(NULL);
    struct rbuf r;
    char buf[1024];
    const char *cases[] = {
        "",
        "null",
        "[]",
        "\"x\"",
        "{",
        "{\"NumberOfBytes\":\"8\"}",
        "{\"NumberOfBytes\":0}",
        "{\"NumberOfBytes\":1025}",
        "{\"NumberOfBytes\":1.5}",
        "{\"NumberOfBytes\":-1}",
        "{\"NumberOfBytes\":8,\"Recipient\":\"x\"}",
        "{\"NumberOfBytes\":8,\"Recipient\":{\"AttestationDocument\":\"!!!!\"}}",
        "{\"NumberOfBytes\":8,\"Recipient\":{\"AttestationDocument\":\"AAAA\"}}",
        "{\"NumberOfBytes\":8,\"Recipient\":{\"AttestationDocument\":42}}",
        ("{\"NumberOfBytes\":8,\"Recipient\":{\"KeyEncryptionAlgorithm\":\"RSAES_OAEP_SHA_1\","
         "\"AttestationDocument\":\"AAAA\"}}"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(raw("GenerateRandom", cases[i], strlen(cases[i]), NULL, &r), 400);
        assert_non_null(strstr(r.b, "\"ValidationException\""));
    }
    /* Encrypt bodies: {"KeyId":K,<rest>} */
    const char *enc[] = {"\"Plaintext\":\"A\"",
                         "\"Plaintext\":\"\"",
                         "\"Plaintext\":[1]",
                         "\"Plaintext\":\"AAAA\",\"EncryptionContext\":{\"a\":1}",
                         "\"Plaintext\":\"AAAA\",\"EncryptionContext\":[]",
                         "\"Plaintext\":\"AAAA\",\"EncryptionAlgorithm\":\"RSAES_OAEP_SHA_1\""};
    for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++) {
        int n = snprintf(buf, sizeof buf, "{\"KeyId\":\"%s\",%s}", id, enc[i]);
        assert_int_equal(raw("Encrypt", buf, (size_t)n, NULL, &r), 400);
        assert_non_null(strstr(r.b, "\"ValidationException\""));
    }
    const char *num_id = "{\"KeyId\":7,\"Plaintext\":\"AAAA\"}";
    assert_int_equal(raw("Encrypt", num_id, strlen(num_id), NULL, &r), 400);
    assert_non_null(strstr(r.b, "\"ValidationException\""));
    /* a CiphertextBlob that is valid base64 but not ours */
    const char *dec = "{\"CiphertextBlob\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
    assert_int_equal(raw("Decrypt", dec, strlen(dec), NULL, &r), 400);
    assert_non_null(strstr(r.b, "\"InvalidCiphertextException\""));
    assert_int_equal(raw("NoSuchOp", "{}", 2, NULL, &r), 400);
    assert_non_null(strstr(r.b, "UnknownOperationException"));
    /* nesting and size */
    size_t big = 200 * 1024;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, '[', big);
    huge[big] = '\0';
    assert_int_equal(raw("GenerateRandom", huge, 60000, NULL, &r), 400);
    long st = raw("GenerateRandom", huge, big, NULL, &r);
    assert_true(st == 413 || st == 400 || st == 0);
    free(huge);
    assert_true(server_alive());
    const char *good = "{\"NumberOfBytes\":8}";
    assert_int_equal(raw("GenerateRandom", good, strlen(good), NULL, &r), 200);
    free(id);
}

static void test_recipient_and_policy(void **state)
{
    (void)state;
    char pcr0[97], other[97];
    sigil_hex_encode(pcr0, g_pcr0, 48, 0);
    memset(other, 'a', 96);
    other[96] = '\0';
    char *bound = NULL, *wrong = NULL;
    assert_int_equal(sigil_kmsd_bound_policy(&bound, pcr0, NULL).code, SIGIL_OK);
    assert_int_equal(sigil_kmsd_bound_policy(&wrong, NULL, other).code, SIGIL_OK);
    char *id = create_key(bound);
    char *id_wrong = create_key(wrong);

    /* the operator side: GenerateDataKey without a Recipient is allowed by the bound policy */
    uint8_t *dk = NULL, *blob = NULL, *pt = NULL;
    size_t dk_len = 0, blob_len = 0, pt_len = 0;
    struct sigil_kms_data_key_args g = {.key_id = id, .key_spec = "AES_256"};
    assert_int_equal(sigil_kms_generate_data_key(g_c, &g, &dk, &dk_len, &blob, &blob_len).code, SIGIL_OK);

    /* the enclave side: Decrypt with the attested Recipient unwraps to the data key */
    struct sigil_kms_recipient_req rr = recipient(g_nsm, 0);
    struct sigil_kms_decrypt_args d = {.ciphertext = blob, .ciphertext_len = blob_len, .recipient = &rr};
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_OK);
    assert_int_equal(pt_len, 32);
    assert_memory_equal(pt, dk, 32);
    assert_true(sigil_secure_owns(pt));
    sigil_secure_free(pt);

    /* without a Recipient the policy's condition fails */
    d.recipient = NULL;
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_ERR_FORBIDDEN);
    assert_string_equal(sigil_kms_client_last_error(g_c), "AccessDeniedException");

    /* a tampered document, and one signed under another root */
    rr = recipient(g_nsm, 1);
    d.recipient = &rr;
    sigil_result r = sigil_kms_decrypt(g_c, &d, &pt, &pt_len);
    assert_true(r.code == SIGIL_ERR_FORBIDDEN || r.code == SIGIL_ERR_ARG);
    char *root = NULL, *root_key = NULL, *leaf = NULL, *leaf_key = NULL;
    assert_int_equal(sigil_attest_dev_root_new(&root, &root_key).code, SIGIL_OK);
    assert_int_equal(sigil_attest_dev_issue(&leaf, &leaf_key, root, root_key, 3600).code, SIGIL_OK);
    struct sigil_nsm *rogue = NULL;
    assert_int_equal(sigil_nsm_open_simulated(&rogue, leaf, strlen(leaf), leaf_key, strlen(leaf_key), root,
                                              strlen(root), "/proc/self/exe")
                         .code,
                     SIGIL_OK);
    rr = recipient(rogue, 0);
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_ERR_FORBIDDEN);
    assert_string_equal(sigil_kms_client_last_error(g_c), "AccessDeniedException");
    sigil_nsm_close(rogue);
    free(root);
    free(leaf);
    sigil_secure_free(root_key);
    sigil_secure_free(leaf_key);
    free(blob);
    sigil_secure_free(dk);

    /* a key bound to another image: the genuine enclave is refused */
    g.key_id = id_wrong;
    assert_int_equal(sigil_kms_generate_data_key(g_c, &g, &dk, &dk_len, &blob, &blob_len).code, SIGIL_OK);
    rr = recipient(g_nsm, 0);
    d = (struct sigil_kms_decrypt_args){.ciphertext = blob, .ciphertext_len = blob_len, .recipient = &rr};
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_ERR_FORBIDDEN);
    assert_string_equal(sigil_kms_client_last_error(g_c), "AccessDeniedException");
    free(blob);
    sigil_secure_free(dk);

    /* GenerateDataKey and GenerateRandom for the Recipient: no plaintext on the wire */
    g.key_id = id;
    rr = recipient(g_nsm, 0);
    g.recipient = &rr;
    assert_int_equal(sigil_kms_generate_data_key(g_c, &g, &dk, &dk_len, &blob, &blob_len).code, SIGIL_OK);
    d = (struct sigil_kms_decrypt_args){.ciphertext = blob, .ciphertext_len = blob_len, .recipient = &rr};
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_OK);
    assert_memory_equal(pt, dk, 32);
    sigil_secure_free(pt);
    sigil_secure_free(dk);
    assert_int_equal(sigil_kms_generate_random(g_c, 64, &rr, &pt, &pt_len).code, SIGIL_OK);
    assert_int_equal(pt_len, 64);
    sigil_secure_free(pt);

    /* restart keeps keys and policies */
    stop_server();
    assert_int_equal(start_server(), 0);
    sigil_kms_client_free(g_c);
    g_c = client_with(g_akid, g_secret, NULL);
    rr = recipient(g_nsm, 0);
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_OK);
    assert_int_equal(pt_len, 32);
    sigil_secure_free(pt);
    d.recipient = NULL;
    assert_int_equal(sigil_kms_decrypt(g_c, &d, &pt, &pt_len).code, SIGIL_ERR_FORBIDDEN);
    free(blob);
    free(bound);
    free(wrong);
    free(id);
    free(id_wrong);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operations),           cmocka_unit_test(test_sigv4_failures),
        cmocka_unit_test(test_tampered_body),        cmocka_unit_test(test_hostile_bodies),
        cmocka_unit_test(test_recipient_and_policy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
