/* Fuzz harness for SigV4 verification (what sigil-kms runs on every unauthenticated request).
 * Input: "METHOD\nPATH\nQUERY\nName:value\n...\n\nBODY". The raw request is verified (any
 * verdict, no crash); then, when it has a Host header and signing accepts it, the signed
 * version must verify and a one-byte change of the body must not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kms/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AKID   "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define NOW    1440938160

static sigil_result lookup(void *ctx, const char *akid, const char *token, char *out, size_t cap, size_t *len)
{
    (void)ctx;
    (void)token;
    if (strcmp(akid, AKID) != 0) {
        return sigil_error(SIGIL_ERR_NOT_FOUND);
    }
    memcpy(out, SECRET, strlen(SECRET) < cap ? strlen(SECRET) : cap);
    *len = strlen(SECRET);
    return sigil_ok();
}

static sigil_result verify(const struct sigil_sigv4_request *r)
{
    struct sigil_sigv4_verify_params vp = {
        .service = "service", .now = NOW, .max_skew = 300, .flags = SIGIL_SIGV4_NORMALIZE_PATH, .lookup = lookup};
    struct sigil_sigv4_identity id;
    return sigil_sigv4_verify(&id, r, &vp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) {
        return 0;
    }
    char *buf = malloc(size + 1);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *lines[3] = {"", "", ""};
    struct sigil_sigv4_header h[SIGIL_SIGV4_MAX_HEADERS + 4];
    size_t nh = 0;
    int has_host = 0;
    char *p = buf, *body = buf + size;
    for (int i = 0; i < 3 && p < buf + size; i++) {
        char *nl = strchr(p, '\n');
        lines[i] = p;
        if (nl == NULL) {
            p = buf + size;
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
    while (p < buf + size) {
        char *nl = strchr(p, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        if (*p == '\0') {
            body = nl ? nl + 1 : buf + size;
            break;
        }
        char *colon = strchr(p, ':');
        if (colon != NULL && nh < SIGIL_SIGV4_MAX_HEADERS) {
            *colon = '\0';
            h[nh].name = p;
            h[nh].value = colon + 1;
            has_host |= strcasecmp(p, "host") == 0;
            nh++;
        }
        if (nl == NULL) {
            body = buf + size;
            break;
        }
        p = nl + 1;
    }
    size_t body_len = (size_t)(buf + size - body);
    struct sigil_sigv4_request req = {.method = lines[0],
                                      .path = lines[1],
                                      .query = lines[2],
                                      .headers = h,
                                      .nheaders = nh,
                                      .body = (const uint8_t *)body,
                                      .body_len = body_len};
    (void)verify(&req);

    struct sigil_sigv4_key key = {AKID, SECRET, strlen(SECRET), NULL};
    struct sigil_sigv4_signed sig;
    memset(&sig, 0, sizeof sig);
    if (has_host &&
        sigil_is_ok(sigil_sigv4_sign(&sig, &req, &key, "us-east-1", "service", NOW, SIGIL_SIGV4_NORMALIZE_PATH))) {
        h[nh] = (struct sigil_sigv4_header){"X-Amz-Date", sig.amz_date};
        h[nh + 1] = (struct sigil_sigv4_header){"Authorization", sig.authorization};
        req.nheaders = nh + 2;
        if (!sigil_is_ok(verify(&req))) {
            abort();
        }
        uint8_t *b2 = malloc(body_len + 1);
        if (b2 != NULL) {
            memcpy(b2, body, body_len);
            b2[body_len] = 'x';
            req.body = b2;
            req.body_len = body_len + 1;
            if (sigil_is_ok(verify(&req))) {
                abort();
            }
            free(b2);
        }
    }
    sigil_sigv4_signed_free(&sig);
    free(buf);
    return 0;
}
