/* Fuzz harness: AWS KMS JSON 1.1 responses as the KMS client parses them (src/kms/client.c).
 * A KMS answer reaches sigild through the untrusted host (vsock forwarder, network), so every
 * byte is hostile. The client's transport hook hands it the fuzz input instead of an HTTPS
 * exchange.
 * Input: byte 0 picks the operation, byte 1 the HTTP status, the rest is the response body.
 * Invariants: never crashes or leaks; a failed call leaves its outputs NULL/0; a successful one
 * returns lengths within the documented bounds (GenerateRandom exactly the asked length);
 * last_error stays printable ASCII. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/result.h"
#include "common/secmem.h"
#include "kms/client.h"
#include "kms/recipient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_resp {
    long status;
    const uint8_t *body;
    size_t len;
};

static sigil_result transport(void *ctx, const struct sigil_kms_http_request *req, struct sigil_kms_http_response *resp)
{
    (void)req;
    const struct fuzz_resp *f = ctx;
    resp->status = f->status;
    return f->len > 0 ? sigil_kms_http_response_append(resp, f->body, f->len) : sigil_ok();
}

static int64_t fixed_clock(void *ctx)
{
    (void)ctx;
    return 1700000000;
}

static struct fuzz_resp g_resp;
static struct sigil_kms_client *g_client;
static struct sigil_kms_recipient *g_rcpt;

static int setup(void)
{
    static const char secret[] = "fuzz/secret/key/0123456789abcdef";
    struct sigil_kms_config cfg = {.region = "us-east-1",
                                   .endpoint = "https://kms.us-east-1.amazonaws.com",
                                   .max_response = 64u * 1024u,
                                   .transport = transport,
                                   .transport_ctx = &g_resp,
                                   .clock = fixed_clock};
    struct sigil_kms_credentials cr = {"AKIDFUZZ", secret, sizeof secret - 1, "fuzz-session-token"};
    return sigil_is_ok(sigil_kms_client_new(&g_client, &cfg, &cr)) && sigil_is_ok(sigil_kms_recipient_new(&g_rcpt));
}

static void check_printable(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) {
            abort();
        }
    }
}

static void check_buf(sigil_result r, const uint8_t *p, size_t n, size_t max)
{
    if (sigil_is_ok(r) ? (p == NULL || n == 0 || n > max) : (p != NULL || n != 0)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = -1;
    if (ready < 0) {
        ready = setup();
    }
    if (!ready) {
        abort();
    }
    if (size < 2) {
        return 0;
    }
    static const long statuses[] = {200, 200, 200, 200, 400, 403, 500, 503, 0, 302};
    g_resp.status = statuses[data[1] % (sizeof statuses / sizeof statuses[0])];
    g_resp.body = data + 2;
    g_resp.len = size - 2;

    static const uint8_t doc[] = {0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40}; /* any non-empty bytes */
    struct sigil_kms_recipient_req rr = {g_rcpt, doc, sizeof doc};
    const struct sigil_kms_recipient_req *rcpt = (data[0] & 0x80) ? &rr : NULL;
    static const uint8_t ct[] = "ciphertext blob";
    static const struct sigil_kms_kv ctx[] = {{"purpose", "fuzz"}};
    uint8_t *a = NULL;
    uint8_t *b = NULL;
    size_t an = 0;
    size_t bn = 0;
    sigil_result r;
    switch (data[0] & 0x07) {
    case 0: {
        struct sigil_kms_decrypt_args da = {ct, sizeof ct, "alias/fuzz", ctx, 1, rcpt};
        r = sigil_kms_decrypt(g_client, &da, &a, &an);
        check_buf(r, a, an, SIGIL_KMS_MAX_PLAINTEXT);
        sigil_secure_free(a);
        break;
    }
    case 1: {
        struct sigil_kms_data_key_args ga = {"alias/fuzz", (data[0] & 0x40) ? NULL : "AES_256", 48, ctx, 1, rcpt};
        r = sigil_kms_generate_data_key(g_client, &ga, &a, &an, &b, &bn);
        check_buf(r, a, an, SIGIL_KMS_MAX_RANDOM);
        check_buf(r, b, bn, SIGIL_KMS_MAX_CIPHERTEXT);
        sigil_secure_free(a);
        free(b);
        break;
    }
    case 2: {
        size_t want = (size_t)(data[0] & 0x38) + 1;
        r = sigil_kms_generate_random(g_client, want, rcpt, &a, &an);
        check_buf(r, a, an, SIGIL_KMS_MAX_RANDOM);
        if (sigil_is_ok(r) && an != want) {
            abort();
        }
        sigil_secure_free(a);
        break;
    }
    case 3: {
        static const uint8_t plain[] = "secret data";
        r = sigil_kms_encrypt(g_client, "alias/fuzz", plain, sizeof plain, ctx, 1, &b, &bn);
        check_buf(r, b, bn, SIGIL_KMS_MAX_CIPHERTEXT);
        free(b);
        break;
    }
    case 4: {
        char *id = NULL;
        char *arn = NULL;
        r = sigil_kms_create_key(g_client, NULL, &id, &arn);
        if (sigil_is_ok(r) != (id != NULL && arn != NULL) || (!sigil_is_ok(r) && (id != NULL || arn != NULL))) {
            abort();
        }
        free(id);
        free(arn);
        break;
    }
    case 5: {
        char *pol = NULL;
        r = sigil_kms_get_key_policy(g_client, "alias/fuzz", NULL, &pol);
        if (sigil_is_ok(r) != (pol != NULL)) {
            abort();
        }
        free(pol);
        break;
    }
    default:
        r = sigil_kms_put_key_policy(g_client, "alias/fuzz", NULL, "{}");
        break;
    }
    if (!sigil_is_ok(r) && r.code == SIGIL_OK) {
        abort();
    }
    check_printable(sigil_kms_client_last_error(g_client));
    sigil_error_clear();
    return 0;
}
