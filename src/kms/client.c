/* KMS JSON 1.1 client: request building in secure memory, SigV4, libcurl transport, response
 * parsing and AWS error mapping. */
#include "kms/client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/hex.h"
#include "common/json.h"
#include "common/secmem.h"
#include "kms/cms.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_TIMEOUT_MS         20000
#define MAX_ERROR_TYPE             64
#define MAX_ERROR_MESSAGE          160
#define MAX_DOC                    (16u * 1024u)

struct sigil_kms_client {
    char *url;  /* endpoint URL with path */
    char *host; /* Host header: host[:port] as in the URL */
    char *path;
    char *region;
    char *ca_file;
    char *resolve;
    char *ca_pem; /* public */
    size_t ca_pem_len;
    char *connect_to;
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_response;
    int allow_plain_http;
    sigil_kms_transport_fn transport;
    void *transport_ctx;
    int64_t (*clock)(void *);
    void *clock_ctx;
    char *access_key_id;
    char *secret; /* secure memory */
    size_t secret_len;
    char *session_token;
    CURL *curl;
    long last_status;
    char last_error[MAX_ERROR_TYPE + 1];
};

/* ---- secure growable buffer (request and response bodies) ---- */

struct sbuf {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t max;
    int err; /* 0, SIGIL_ERR_NOMEM or SIGIL_ERR_TOO_LARGE */
};

static void sb_reserve(struct sbuf *b, size_t extra)
{
    if (b->err) {
        return;
    }
    if (extra > b->max || b->len > b->max - extra) {
        b->err = SIGIL_ERR_TOO_LARGE;
        return;
    }
    if (b->cap - b->len > extra) {
        return;
    }
    size_t ncap = b->cap ? b->cap : 1024;
    while (ncap - b->len <= extra) {
        ncap *= 2;
    }
    if (ncap > b->max + 1) {
        ncap = b->max + 1;
    }
    uint8_t *np = sigil_secure_alloc(ncap);
    if (np == NULL) {
        b->err = SIGIL_ERR_NOMEM;
        return;
    }
    if (b->p != NULL) {
        memcpy(np, b->p, b->len);
        sigil_secure_free(b->p);
    }
    b->p = np;
    b->cap = ncap;
}

static void sb_put(struct sbuf *b, const void *d, size_t n)
{
    sb_reserve(b, n);
    if (!b->err) {
        memcpy(b->p + b->len, d, n);
        b->len += n;
        b->p[b->len] = 0; /* always NUL-terminated; cap > len */
    }
}

static void sb_str(struct sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_free(struct sbuf *b)
{
    sigil_secure_free(b->p);
    memset(b, 0, sizeof *b);
}

/* JSON string with escaping (input is public or secret alike; nothing is copied elsewhere). */
static void js_str(struct sbuf *b, const char *s)
{
    static const char hexd[] = "0123456789abcdef";
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
            sb_put(b, e, 6);
        } else {
            sb_put(b, &c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static void js_b64(struct sbuf *b, const uint8_t *d, size_t n)
{
    size_t need = 4 * ((n + 2) / 3);
    sb_put(b, "\"", 1);
    sb_reserve(b, need + 1);
    if (!b->err) {
        b->len += sigil_base64_encode((char *)b->p + b->len, d, n);
    }
    sb_put(b, "\"", 1);
}

static void js_key(struct sbuf *b, int *first, const char *k)
{
    if (!*first) {
        sb_put(b, ",", 1);
    }
    *first = 0;
    js_str(b, k);
    sb_put(b, ":", 1);
}

/* The member "k": "v" (a string) of the object in b. */
static void js_field(struct sbuf *b, int *first, const char *k, const char *v)
{
    js_key(b, first, k);
    js_str(b, v);
}

static void js_context(struct sbuf *b, int *first, const struct sigil_kms_kv *kv, size_t n)
{
    if (n == 0) {
        return;
    }
    js_key(b, first, "EncryptionContext");
    sb_put(b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            sb_put(b, ",", 1);
        }
        js_str(b, kv[i].key ? kv[i].key : "");
        sb_put(b, ":", 1);
        js_str(b, kv[i].value ? kv[i].value : "");
    }
    sb_put(b, "}", 1);
}

static void js_recipient(struct sbuf *b, int *first, const struct sigil_kms_recipient_req *r)
{
    js_key(b, first, "Recipient");
    sb_str(b, "{\"KeyEncryptionAlgorithm\":\"RSAES_OAEP_SHA_256\",\"AttestationDocument\":");
    js_b64(b, r->attestation_doc, r->attestation_doc_len);
    sb_put(b, "}", 1);
}

/* ---- response buffer ---- */

sigil_result sigil_kms_http_response_append(struct sigil_kms_http_response *r, const void *data, size_t n)
{
    struct sbuf b = {r->body, r->len, r->cap, r->max, 0};
    sb_put(&b, data, n);
    r->body = b.p;
    r->len = b.len;
    r->cap = b.cap;
    if (b.err == SIGIL_ERR_TOO_LARGE) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "kms: response over %zu bytes", r->max);
    }
    return b.err ? sigil_error(SIGIL_ERR_NOMEM) : sigil_ok();
}

/* ---- libcurl transport ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

struct curl_sink {
    struct sigil_kms_http_response *resp;
    sigil_result r;
};

static size_t curl_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct curl_sink *s = ud;
    size_t n = size * nmemb;
    s->r = sigil_kms_http_response_append(s->resp, ptr, n);
    return sigil_is_ok(s->r) ? n : 0;
}

static sigil_result curl_transport(void *ctx, const struct sigil_kms_http_request *req,
                                   struct sigil_kms_http_response *resp)
{
    struct sigil_kms_client *c = ctx;
    if (c->curl == NULL) {
        c->curl = curl_easy_init();
        if (c->curl == NULL) {
            return sigil_errorf(SIGIL_ERR_NOMEM, "kms: curl_easy_init failed");
        }
    }
    CURL *h = c->curl;
    curl_easy_reset(h);
    sigil_result ret = sigil_ok();
    struct curl_slist *hl = NULL, *res = NULL, *cto = NULL;
    char line[SIGIL_SIGV4_MAX_FIELD + 128];
    for (size_t i = 0; i < req->nheaders; i++) {
        snprintf(line, sizeof line, "%s: %s", req->headers[i].name, req->headers[i].value);
        struct curl_slist *n = curl_slist_append(hl, line);
        if (n == NULL) {
            ret = sigil_error(SIGIL_ERR_NOMEM);
            goto out;
        }
        hl = n;
    }
    /* No "Expect: 100-continue" round trip, no unsigned Accept header. */
    struct curl_slist *n1 = curl_slist_append(hl, "Expect:");
    if (n1 == NULL) {
        ret = sigil_error(SIGIL_ERR_NOMEM);
        goto out;
    }
    hl = n1;
    struct curl_slist *n2 = curl_slist_append(hl, "Accept:");
    if (n2 == NULL) {
        ret = sigil_error(SIGIL_ERR_NOMEM);
        goto out;
    }
    hl = n2;
    if (c->connect_to != NULL) {
        cto = curl_slist_append(NULL, c->connect_to);
        if (cto == NULL) {
            ret = sigil_error(SIGIL_ERR_NOMEM);
            goto out;
        }
    }
    if (c->resolve != NULL) {
        res = curl_slist_append(NULL, c->resolve);
        if (res == NULL) {
            ret = sigil_error(SIGIL_ERR_NOMEM);
            goto out;
        }
    }
    char errbuf[CURL_ERROR_SIZE] = {0};
    struct curl_blob ca_blob = {.data = c->ca_pem, .len = c->ca_pem_len, .flags = CURL_BLOB_NOCOPY};
    struct curl_sink sink = {resp, sigil_ok()};
    int ok =
        curl_easy_setopt(h, CURLOPT_URL, req->url) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->allow_plain_http ? "http,https" : "https") == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)req->body) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_write) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)resp->max) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
        (c->ca_pem != NULL ? curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca_blob) == CURLE_OK
                           : (c->ca_file == NULL || curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file) == CURLE_OK)) &&
        (cto == NULL || curl_easy_setopt(h, CURLOPT_CONNECT_TO, cto) == CURLE_OK) &&
        (res == NULL || curl_easy_setopt(h, CURLOPT_RESOLVE, res) == CURLE_OK);
    if (!ok) {
        ret = sigil_errorf(SIGIL_ERR_CONFIG, "kms: libcurl refused an option");
        goto out;
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        if (!sigil_is_ok(sink.r)) {
            ret = sink.r;
        } else if (rc == CURLE_FILESIZE_EXCEEDED) {
            ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "kms: response over %zu bytes", resp->max);
        } else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
                   rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CIPHER ||
                   rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
            ret = sigil_errorf(SIGIL_ERR_TLS, "kms: TLS with %s failed: %s", c->host,
                               errbuf[0] ? errbuf : curl_easy_strerror(rc));
        } else {
            ret = sigil_errorf(SIGIL_ERR_IO, "kms: request to %s failed: %s", c->host,
                               errbuf[0] ? errbuf : curl_easy_strerror(rc));
        }
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
out:
    curl_slist_free_all(hl);
    curl_slist_free_all(res);
    curl_slist_free_all(cto);
    sigil_wipe(line, sizeof line);
    return ret;
}

/* ---- client ---- */

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static int token_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

static void clear_credentials(struct sigil_kms_client *c)
{
    free(c->access_key_id);
    sigil_secure_free(c->secret);
    sigil_secure_free(c->session_token);
    c->access_key_id = NULL;
    c->secret = NULL;
    c->session_token = NULL;
    c->secret_len = 0;
}

sigil_result sigil_kms_client_set_credentials(struct sigil_kms_client *c, const struct sigil_kms_credentials *cr)
{
    if (c == NULL || cr == NULL || !token_ok(cr->access_key_id, SIGIL_SIGV4_MAX_ACCESS_KEY_ID) ||
        strchr(cr->access_key_id, '/') != NULL || cr->secret_access_key == NULL || cr->secret_len == 0 ||
        cr->secret_len > SIGIL_SIGV4_MAX_SECRET ||
        (cr->session_token != NULL && !token_ok(cr->session_token, SIGIL_SIGV4_MAX_FIELD))) {
        return sigil_errorf(SIGIL_ERR_ARG, "kms: invalid credentials");
    }
    char *akid = strdup(cr->access_key_id);
    char *secret = sigil_secure_alloc(cr->secret_len);
    char *token = sigil_secure_strdup(cr->session_token);
    if (akid == NULL || secret == NULL || (cr->session_token != NULL && token == NULL)) {
        free(akid);
        sigil_secure_free(secret);
        sigil_secure_free(token);
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    memcpy(secret, cr->secret_access_key, cr->secret_len);
    clear_credentials(c);
    c->access_key_id = akid;
    c->secret = secret;
    c->secret_len = cr->secret_len;
    c->session_token = token;
    return sigil_ok();
}

void sigil_kms_client_free(struct sigil_kms_client *c)
{
    if (c == NULL) {
        return;
    }
    clear_credentials(c);
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
    }
    free(c->url);
    free(c->host);
    free(c->path);
    free(c->region);
    free(c->ca_file);
    free(c->resolve);
    free(c->ca_pem);
    free(c->connect_to);
    free(c);
}

/* Splits "scheme://authority[/path]" into host header and path. */
static sigil_result parse_endpoint(struct sigil_kms_client *c, const char *ep)
{
    const char *rest;
    if (strncmp(ep, "https://", 8) == 0) {
        rest = ep + 8;
    } else if (strncmp(ep, "http://", 7) == 0 && c->allow_plain_http) {
        rest = ep + 7;
    } else {
        return sigil_errorf(SIGIL_ERR_CONFIG, "kms: endpoint must be an https:// URL");
    }
    size_t alen = strcspn(rest, "/?#");
    if (alen == 0 || alen > 255 || rest[alen] == '?' || rest[alen] == '#' || memchr(rest, '@', alen) != NULL) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "kms: endpoint has no valid host");
    }
    for (size_t i = 0; i < alen; i++) {
        if ((unsigned char)rest[i] <= ' ' || (unsigned char)rest[i] >= 0x7f) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "kms: endpoint has no valid host");
        }
    }
    c->host = strndup(rest, alen);
    c->path = strdup(rest[alen] ? rest + alen : "/");
    c->url = strdup(ep);
    if (c->host == NULL || c->path == NULL || c->url == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    if (strchr(c->path, '?') != NULL || strchr(c->path, '#') != NULL || !token_ok(c->path, 1024)) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "kms: endpoint path may not carry a query");
    }
    return sigil_ok();
}

sigil_result sigil_kms_client_new(struct sigil_kms_client **out, const struct sigil_kms_config *cfg,
                                  const struct sigil_kms_credentials *creds)
{
    *out = NULL;
    if (cfg == NULL || cfg->region == NULL || cfg->region[0] == '\0' || strlen(cfg->region) > 64 ||
        strspn(cfg->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(cfg->region)) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "kms: invalid region");
    }
    struct sigil_kms_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    sigil_result ret;
    c->allow_plain_http = cfg->allow_plain_http;
    c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->max_response = cfg->max_response > 0 ? cfg->max_response : SIGIL_KMS_DEFAULT_MAX_RESPONSE;
    c->clock = cfg->clock;
    c->clock_ctx = cfg->clock_ctx;
    c->region = strdup(cfg->region);
    c->ca_file = xstrdup(cfg->ca_file);
    c->resolve = xstrdup(cfg->resolve);
    c->connect_to = xstrdup(cfg->connect_to);
    if (cfg->ca_pem != NULL && cfg->ca_pem_len > 0) {
        c->ca_pem = malloc(cfg->ca_pem_len);
        SIGIL_ENSURE_GOTO(c->ca_pem != NULL, SIGIL_ERR_NOMEM);
        memcpy(c->ca_pem, cfg->ca_pem, cfg->ca_pem_len);
        c->ca_pem_len = cfg->ca_pem_len;
    }
    SIGIL_ENSURE_GOTO(c->region != NULL && (cfg->ca_file == NULL || c->ca_file != NULL) &&
                          (cfg->resolve == NULL || c->resolve != NULL) &&
                          (cfg->connect_to == NULL || c->connect_to != NULL),
                      SIGIL_ERR_NOMEM);
    if (cfg->endpoint != NULL) {
        SIGIL_GUARD_GOTO(parse_endpoint(c, cfg->endpoint));
    } else {
        char ep[128];
        snprintf(ep, sizeof ep, "https://kms.%s.amazonaws.com%s", cfg->region,
                 strncmp(cfg->region, "cn-", 3) == 0 ? ".cn" : "");
        SIGIL_GUARD_GOTO(parse_endpoint(c, ep));
    }
    if (cfg->transport != NULL) {
        c->transport = cfg->transport;
        c->transport_ctx = cfg->transport_ctx;
    } else {
        pthread_once(&curl_once, curl_init);
        if (curl_init_rc != CURLE_OK) {
            ret = sigil_errorf(SIGIL_ERR_INTERNAL, "kms: curl_global_init failed");
            goto out;
        }
        c->transport = curl_transport;
        c->transport_ctx = c;
    }
    SIGIL_GUARD_GOTO(sigil_kms_client_set_credentials(c, creds));
    *out = c;
    c = NULL;
    ret = sigil_ok();
out:
    sigil_kms_client_free(c);
    return ret;
}

long sigil_kms_client_last_status(const struct sigil_kms_client *c) { return c->last_status; }
const char *sigil_kms_client_last_error(const struct sigil_kms_client *c) { return c->last_error; }

/* ---- errors ---- */

enum sigil_err sigil_kms_error_from_aws(const char *type, long status)
{
    static const struct {
        const char *name;
        enum sigil_err err;
    } map[] = {
        {"AccessDeniedException", SIGIL_ERR_FORBIDDEN},
        {"UnrecognizedClientException", SIGIL_ERR_UNAUTHORIZED},
        {"InvalidSignatureException", SIGIL_ERR_UNAUTHORIZED},
        {"IncompleteSignature", SIGIL_ERR_UNAUTHORIZED},
        {"IncompleteSignatureException", SIGIL_ERR_UNAUTHORIZED},
        {"MissingAuthenticationToken", SIGIL_ERR_UNAUTHORIZED},
        {"MissingAuthenticationTokenException", SIGIL_ERR_UNAUTHORIZED},
        {"ExpiredTokenException", SIGIL_ERR_UNAUTHORIZED},
        {"InvalidClientTokenId", SIGIL_ERR_UNAUTHORIZED},
        {"NotFoundException", SIGIL_ERR_NOT_FOUND},
        {"DisabledException", SIGIL_ERR_KEY_DISABLED},
        {"KMSInvalidStateException", SIGIL_ERR_KEY_DISABLED},
        {"InvalidCiphertextException", SIGIL_ERR_CRYPTO},
        {"IncorrectKeyException", SIGIL_ERR_CRYPTO},
        {"ValidationException", SIGIL_ERR_ARG},
        {"SerializationException", SIGIL_ERR_ARG},
        {"InvalidKeyUsageException", SIGIL_ERR_ARG},
        {"InvalidGrantTokenException", SIGIL_ERR_ARG},
        {"InvalidArnException", SIGIL_ERR_ARG},
        {"MalformedPolicyDocumentException", SIGIL_ERR_ARG},
        {"UnsupportedOperationException", SIGIL_ERR_UNSUPPORTED},
        {"DryRunOperationException", SIGIL_ERR_UNSUPPORTED},
        {"AlreadyExistsException", SIGIL_ERR_CONFLICT},
        {"ThrottlingException", SIGIL_ERR_NOT_READY},
        {"LimitExceededException", SIGIL_ERR_NOT_READY},
        {"KeyUnavailableException", SIGIL_ERR_NOT_READY},
        {"DependencyTimeoutException", SIGIL_ERR_NOT_READY},
        {"KMSInternalException", SIGIL_ERR_NOT_READY},
    };
    if (type != NULL) {
        const char *hash = strrchr(type, '#');
        const char *t = hash ? hash + 1 : type;
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
            if (strcmp(t, map[i].name) == 0) {
                return map[i].err;
            }
        }
    }
    return status >= 500 ? SIGIL_ERR_NOT_READY : SIGIL_ERR_IO;
}

/* Copies printable ASCII only: AWS messages are public, but a hostile endpoint could send
 * control characters into our logs. */
static void printable_copy(char *dst, size_t cap, const char *src)
{
    size_t k = 0;
    for (; src != NULL && *src && k + 1 < cap; src++) {
        unsigned char ch = (unsigned char)*src;
        dst[k++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[k] = '\0';
}

static sigil_result map_error(struct sigil_kms_client *c, const char *op, const struct sigil_kms_http_response *r)
{
    char type[MAX_ERROR_TYPE + 1] = "";
    char msg[MAX_ERROR_MESSAGE + 1] = "";
    json_t *j = NULL;
    if (r->len > 0 && sigil_is_ok(sigil_json_parse(&j, (const char *)r->body, r->len, r->max)) && json_is_object(j)) {
        const char *t = json_string_value(json_object_get(j, "__type"));
        const char *m = json_string_value(json_object_get(j, "message"));
        if (m == NULL) {
            m = json_string_value(json_object_get(j, "Message"));
        }
        if (t != NULL) {
            const char *hash = strrchr(t, '#');
            printable_copy(type, sizeof type, hash ? hash + 1 : t);
        }
        printable_copy(msg, sizeof msg, m);
    }
    json_decref(j);
    sigil_error_clear();
    memcpy(c->last_error, type, sizeof type);
    enum sigil_err e = sigil_kms_error_from_aws(type[0] ? type : NULL, r->status);
    return sigil_errorf(e, "KMS %s failed: HTTP %ld %s%s%s", op, r->status, type[0] ? type : "(no error type)",
                        msg[0] ? ": " : "", msg);
}

/* ---- one call ---- */

static int64_t now_s(const struct sigil_kms_client *c)
{
    return c->clock ? c->clock(c->clock_ctx) : (int64_t)time(NULL);
}

/* Signs and sends body to TrentService.<op>; on HTTP 200 parses the JSON object into *out. */
static sigil_result kms_call(struct sigil_kms_client *c, const char *op, struct sbuf *body, json_t **out)
{
    *out = NULL;
    c->last_status = 0;
    c->last_error[0] = '\0';
    if (body->err) {
        return body->err == SIGIL_ERR_TOO_LARGE ? sigil_errorf(SIGIL_ERR_TOO_LARGE, "kms: %s request too large", op)
                                                : sigil_error(SIGIL_ERR_NOMEM);
    }
    char target[64];
    snprintf(target, sizeof target, "TrentService.%s", op);
    struct sigil_sigv4_header hdrs[6] = {
        {"Host", c->host},
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", target},
    };
    struct sigil_sigv4_request sreq = {
        .method = "POST", .path = c->path, .headers = hdrs, .nheaders = 3, .body = body->p, .body_len = body->len};
    struct sigil_sigv4_key key = {c->access_key_id, c->secret, c->secret_len, c->session_token};
    struct sigil_sigv4_signed sig;
    struct sigil_kms_http_response resp = {.max = c->max_response};
    sigil_result ret = sigil_sigv4_sign(&sig, &sreq, &key, c->region, "kms", now_s(c), SIGIL_SIGV4_NORMALIZE_PATH);
    if (!sigil_is_ok(ret)) {
        goto out;
    }
    size_t nh = 3;
    hdrs[nh++] = (struct sigil_sigv4_header){"X-Amz-Date", sig.amz_date};
    if (c->session_token != NULL) {
        hdrs[nh++] = (struct sigil_sigv4_header){"X-Amz-Security-Token", c->session_token};
    }
    hdrs[nh++] = (struct sigil_sigv4_header){"Authorization", sig.authorization};
    struct sigil_kms_http_request hreq = {.url = c->url,
                                          .headers = hdrs,
                                          .nheaders = nh,
                                          .body = body->p,
                                          .body_len = body->len,
                                          .connect_timeout_ms = c->connect_timeout_ms,
                                          .timeout_ms = c->timeout_ms};
    ret = c->transport(c->transport_ctx, &hreq, &resp);
    if (!sigil_is_ok(ret)) {
        goto out;
    }
    c->last_status = resp.status;
    if (resp.status != 200) {
        ret = map_error(c, op, &resp);
        goto out;
    }
    json_t *j = NULL;
    ret = sigil_json_parse(&j, resp.body ? (const char *)resp.body : "", resp.len, resp.max);
    if (!sigil_is_ok(ret)) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "KMS %s: response is not JSON", op);
        goto out;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        ret = sigil_errorf(SIGIL_ERR_PARSE, "KMS %s: response is not a JSON object", op);
        goto out;
    }
    *out = j;
out:
    sigil_sigv4_signed_free(&sig);
    sigil_secure_free(resp.body);
    return ret;
}

/* Decodes a base64 member into malloc'ed (secure == 0) or secure memory; wipes the JSON copy
 * when secure. Missing or null member: SIGIL_ERR_NOT_FOUND (no detail). */
static sigil_result get_b64(json_t *j, const char *field, int secure, size_t max, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    json_t *v = json_object_get(j, field);
    if (v == NULL || json_is_null(v)) {
        return sigil_error(SIGIL_ERR_NOT_FOUND);
    }
    if (!json_is_string(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "KMS response: %s is not a string", field);
    }
    char *s = (char *)json_string_value(v);
    size_t n = json_string_length(v);
    sigil_result ret = sigil_ok();
    size_t cap = n / 4 * 3 + 3;
    uint8_t *buf = NULL;
    /* bound the base64 text, not the decoded estimate: exactly `max` bytes encode to
     * 4*ceil(max/3) characters */
    if (n == 0 || n > 4 * ((max + 2) / 3)) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "KMS response: %s length out of range", field);
        goto out;
    }
    buf = secure ? sigil_secure_alloc(cap) : malloc(cap);
    if (buf == NULL) {
        ret = sigil_error(SIGIL_ERR_NOMEM);
        goto out;
    }
    ret = sigil_base64_decode(buf, cap, out_len, s, n);
    if (!sigil_is_ok(ret) || *out_len == 0 || *out_len > max) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "KMS response: %s is not valid base64", field);
        goto out;
    }
    *out = buf;
    buf = NULL;
out:
    if (secure) {
        sigil_wipe(s, n);
        sigil_secure_free(buf);
    } else {
        free(buf);
    }
    if (!sigil_is_ok(ret)) {
        *out_len = 0;
    }
    return ret;
}

/* Plaintext result: from CiphertextForRecipient when a recipient was given (and then a
 * non-empty Plaintext is refused), else from Plaintext. */
static sigil_result get_plaintext(json_t *j, const struct sigil_kms_recipient_req *rcpt, size_t max, uint8_t **out,
                                  size_t *out_len)
{
    if (rcpt == NULL) {
        sigil_result r = get_b64(j, "Plaintext", 1, max, out, out_len);
        return r.code == SIGIL_ERR_NOT_FOUND ? sigil_errorf(SIGIL_ERR_PARSE, "KMS response lacks Plaintext") : r;
    }
    uint8_t *stray = NULL;
    size_t stray_len = 0;
    sigil_result r = get_b64(j, "Plaintext", 1, max, &stray, &stray_len);
    sigil_secure_free(stray);
    if (r.code != SIGIL_ERR_NOT_FOUND) {
        return sigil_errorf(SIGIL_ERR_PARSE, "KMS response carries Plaintext although a Recipient was given");
    }
    uint8_t *env = NULL;
    size_t env_len = 0;
    r = get_b64(j, "CiphertextForRecipient", 0, SIGIL_KMS_CMS_MAX_SIZE, &env, &env_len);
    if (r.code == SIGIL_ERR_NOT_FOUND) {
        return sigil_errorf(SIGIL_ERR_PARSE, "KMS response lacks CiphertextForRecipient");
    }
    SIGIL_GUARD(r);
    r = sigil_kms_recipient_decrypt(rcpt->key, out, out_len, env, env_len);
    free(env);
    if (sigil_is_ok(r) && *out_len > max) {
        sigil_secure_free(*out);
        *out = NULL;
        *out_len = 0;
        return sigil_errorf(SIGIL_ERR_PARSE, "KMS response: plaintext too long");
    }
    return r;
}

static int id_ok(const char *s) { return s != NULL && s[0] != '\0' && strlen(s) <= 2048; }

static sigil_result check_recipient(const struct sigil_kms_recipient_req *r)
{
    if (r != NULL && (r->key == NULL || r->attestation_doc == NULL || r->attestation_doc_len == 0 ||
                      r->attestation_doc_len > MAX_DOC)) {
        return sigil_errorf(SIGIL_ERR_ARG, "kms: Recipient needs a key and an attestation document");
    }
    return sigil_ok();
}

/* ---- operations ---- */

/* Ends the request object in B (adding the Recipient when given), sends it as OP and frees B. */
static sigil_result kms_send(struct sigil_kms_client *c, const char *op, struct sbuf *b, int *first,
                             const struct sigil_kms_recipient_req *recipient, json_t **out)
{
    if (recipient != NULL) {
        js_recipient(b, first, recipient);
    }
    sb_put(b, "}", 1);
    sigil_result ret = kms_call(c, op, b, out);
    sb_free(b);
    return ret;
}

/* The CiphertextBlob of OP's answer J; its absence is a parse error naming OP. */
static sigil_result get_blob(json_t *j, const char *op, uint8_t **blob, size_t *blob_len)
{
    sigil_result ret = get_b64(j, "CiphertextBlob", 0, SIGIL_KMS_MAX_CIPHERTEXT, blob, blob_len);
    if (ret.code == SIGIL_ERR_NOT_FOUND) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "KMS %s response lacks CiphertextBlob", op);
    }
    return ret;
}

sigil_result sigil_kms_encrypt(struct sigil_kms_client *c, const char *key_id, const uint8_t *plain, size_t plain_len,
                               const struct sigil_kms_kv *context, size_t ncontext, uint8_t **blob, size_t *blob_len)
{
    *blob = NULL;
    *blob_len = 0;
    if (!id_ok(key_id) || plain == NULL || plain_len == 0 || plain_len > SIGIL_KMS_MAX_PLAINTEXT) {
        return sigil_errorf(SIGIL_ERR_ARG, "kms: Encrypt needs a KeyId and 1..4096 bytes");
    }
    struct sbuf b = {.max = c->max_response};
    int first = 1;
    sb_put(&b, "{", 1);
    js_field(&b, &first, "KeyId", key_id);
    js_key(&b, &first, "Plaintext");
    js_b64(&b, plain, plain_len);
    js_context(&b, &first, context, ncontext);
    json_t *j = NULL;
    sigil_result ret = kms_send(c, "Encrypt", &b, &first, NULL, &j);
    SIGIL_GUARD(ret);
    ret = get_blob(j, "Encrypt", blob, blob_len);
    json_decref(j);
    return ret;
}

sigil_result sigil_kms_decrypt(struct sigil_kms_client *c, const struct sigil_kms_decrypt_args *a, uint8_t **plain,
                               size_t *plain_len)
{
    *plain = NULL;
    *plain_len = 0;
    if (a == NULL || a->ciphertext == NULL || a->ciphertext_len == 0 || a->ciphertext_len > SIGIL_KMS_MAX_CIPHERTEXT ||
        (a->key_id != NULL && !id_ok(a->key_id))) {
        return sigil_errorf(SIGIL_ERR_ARG, "kms: Decrypt needs a 1..6144 byte CiphertextBlob");
    }
    SIGIL_GUARD(check_recipient(a->recipient));
    struct sbuf b = {.max = c->max_response};
    int first = 1;
    sb_put(&b, "{", 1);
    js_key(&b, &first, "CiphertextBlob");
    js_b64(&b, a->ciphertext, a->ciphertext_len);
    if (a->key_id != NULL) {
        js_field(&b, &first, "KeyId", a->key_id);
    }
    js_context(&b, &first, a->context, a->ncontext);
    json_t *j = NULL;
    sigil_result ret = kms_send(c, "Decrypt", &b, &first, a->recipient, &j);
    SIGIL_GUARD(ret);
    ret = get_plaintext(j, a->recipient, SIGIL_KMS_MAX_PLAINTEXT, plain, plain_len);
    json_decref(j);
    return ret;
}

sigil_result sigil_kms_generate_data_key(struct sigil_kms_client *c, const struct sigil_kms_data_key_args *a,
                                         uint8_t **plain, size_t *plain_len, uint8_t **blob, size_t *blob_len)
{
    *plain = NULL;
    *plain_len = 0;
    *blob = NULL;
    *blob_len = 0;
    if (a == NULL || !id_ok(a->key_id) ||
        (a->key_spec == NULL && (a->number_of_bytes == 0 || a->number_of_bytes > SIGIL_KMS_MAX_RANDOM)) ||
        (a->key_spec != NULL && strcmp(a->key_spec, "AES_256") != 0 && strcmp(a->key_spec, "AES_128") != 0)) {
        return sigil_errorf(SIGIL_ERR_ARG, "kms: GenerateDataKey needs a KeyId and AES_256/AES_128 or 1..1024 bytes");
    }
    SIGIL_GUARD(check_recipient(a->recipient));
    struct sbuf b = {.max = c->max_response};
    int first = 1;
    sb_put(&b, "{", 1);
    js_field(&b, &first, "KeyId", a->key_id);
    if (a->key_spec != NULL) {
        js_field(&b, &first, "KeySpec", a->key_spec);
    } else {
        char num[24];
        snprintf(num, sizeof num, "%zu", a->number_of_bytes);
        js_key(&b, &first, "NumberOfBytes");
        sb_str(&b, num);
    }
    js_context(&b, &first, a->context, a->ncontext);
    json_t *j = NULL;
    sigil_result ret = kms_send(c, "GenerateDataKey", &b, &first, a->recipient, &j);
    SIGIL_GUARD(ret);
    ret = get_blob(j, "GenerateDataKey", blob, blob_len);
    if (sigil_is_ok(ret)) {
        ret = get_plaintext(j, a->recipient, SIGIL_KMS_MAX_RANDOM, plain, plain_len);
    }
    if (!sigil_is_ok(ret)) {
        free(*blob);
        *blob = NULL;
        *blob_len = 0;
    }
    json_decref(j);
    return ret;
}

sigil_result sigil_kms_generate_random(struct sigil_kms_client *c, size_t n,
                                       const struct sigil_kms_recipient_req *recipient, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (n == 0 || n > SIGIL_KMS_MAX_RANDOM) {
        return sigil_errorf(SIGIL_ERR_ARG, "kms: GenerateRandom takes 1..1024 bytes");
    }
    SIGIL_GUARD(check_recipient(recipient));
    struct sbuf b = {.max = c->max_response};
    int first = 1;
    char num[24];
    snprintf(num, sizeof num, "%zu", n);
    sb_put(&b, "{", 1);
    js_key(&b, &first, "NumberOfBytes");
    sb_str(&b, num);
    json_t *j = NULL;
    sigil_result ret = kms_send(c, "GenerateRandom", &b, &first, recipient, &j);
    SIGIL_GUARD(ret);
    ret = get_plaintext(j, recipient, SIGIL_KMS_MAX_RANDOM, out, out_len);
    if (sigil_is_ok(ret) && *out_len != n) {
        size_t got = *out_len;
        sigil_secure_free(*out);
        *out = NULL;
        *out_len = 0;
        ret = sigil_errorf(SIGIL_ERR_PARSE, "KMS GenerateRandom returned %zu bytes, asked %zu", got, n);
    }
    json_decref(j);
    return ret;
}

static sigil_result dup_string(json_t *obj, const char *field, char **out)
{
    const char *s = NULL;
    SIGIL_GUARD(sigil_json_get_string(&s, obj, field));
    *out = strdup(s);
    return *out ? sigil_ok() : sigil_error(SIGIL_ERR_NOMEM);
}

sigil_result sigil_kms_create_key(struct sigil_kms_client *c, const struct sigil_kms_create_key_args *a, char **key_id,
                                  char **arn)
{
    *key_id = NULL;
    *arn = NULL;
    struct sbuf b = {.max = c->max_response};
    int first = 1;
    sb_put(&b, "{", 1);
    if (a != NULL && a->description != NULL) {
        js_field(&b, &first, "Description", a->description);
    }
    if (a != NULL && a->policy != NULL) {
        js_field(&b, &first, "Policy", a->policy);
    }
    js_field(&b, &first, "KeySpec", a != NULL && a->key_spec != NULL ? a->key_spec : "SYMMETRIC_DEFAULT");
    js_field(&b, &first, "KeyUsage", a != NULL && a->key_usage != NULL ? a->key_usage : "ENCRYPT_DECRYPT");
    json_t *j = NULL;
    sigil_result ret = kms_send(c, "CreateKey", &b, &first, NULL, &j);
    SIGIL_GUARD(ret);
    json_t *md = NULL;
    ret = sigil_json_get_object(&md, j, "KeyMetadata");
    if (sigil_is_ok(ret)) {
        ret = dup_string(md, "KeyId", key_id);
    }
    if (sigil_is_ok(ret)) {
        ret = dup_string(md, "Arn", arn);
    }
    if (!sigil_is_ok(ret)) {
        free(*key_id);
        free(*arn);
        *key_id = *arn = NULL;
    }
    json_decref(j);
    return ret;
}

sigil_result sigil_kms_put_key_policy(struct sigil_kms_client *c, const char *key_id, const char *policy_name,
                                      const char *policy)
{
    if (!id_ok(key_id) || policy == NULL || policy[0] == '\0') {
        return sigil_errorf(SIGIL_ERR_ARG, "kms: PutKeyPolicy needs a KeyId and a policy");
    }
    struct sbuf b = {.max = c->max_response};
    int first = 1;
    sb_put(&b, "{", 1);
    js_field(&b, &first, "KeyId", key_id);
    js_field(&b, &first, "PolicyName", policy_name ? policy_name : "default");
    js_field(&b, &first, "Policy", policy);
    json_t *j = NULL;
    sigil_result ret = kms_send(c, "PutKeyPolicy", &b, &first, NULL, &j);
    json_decref(j);
    return ret;
}

sigil_result sigil_kms_get_key_policy(struct sigil_kms_client *c, const char *key_id, const char *policy_name,
                                      char **policy)
{
    *policy = NULL;
    if (!id_ok(key_id)) {
        return sigil_errorf(SIGIL_ERR_ARG, "kms: GetKeyPolicy needs a KeyId");
    }
    struct sbuf b = {.max = c->max_response};
    int first = 1;
    sb_put(&b, "{", 1);
    js_field(&b, &first, "KeyId", key_id);
    js_field(&b, &first, "PolicyName", policy_name ? policy_name : "default");
    json_t *j = NULL;
    sigil_result ret = kms_send(c, "GetKeyPolicy", &b, &first, NULL, &j);
    SIGIL_GUARD(ret);
    ret = dup_string(j, "Policy", policy);
    json_decref(j);
    return ret;
}
