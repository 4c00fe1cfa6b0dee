/* AWS SigV4: canonical request, string to sign, key derivation, sign and verify. */
#include "kms/sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/hex.h"
#include "common/secmem.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* ---- growable string ---- */

struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    int oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->cap - b->len < n + 1) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap - b->len < n + 1) {
            if (ncap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            ncap *= 2;
        }
        char *np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_chr(struct sbuf *b, char c) { sb_put(b, &c, 1); }

static char *sb_take(struct sbuf *b)
{
    if (b->oom) {
        free(b->p);
        b->p = NULL;
        return NULL;
    }
    if (b->p == NULL) {
        return strdup("");
    }
    char *p = b->p;
    b->p = NULL;
    return p;
}

/* ---- encoding helpers ---- */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

static void uri_encode(struct sbuf *b, const char *s, size_t n, int keep_slash)
{
    static const char hexd[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            sb_chr(b, (char)c);
        } else {
            char e[3] = {'%', hexd[c >> 4], hexd[c & 15]};
            sb_put(b, e, 3);
        }
    }
}

static int hexval(char c)
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

/* Percent-decodes s[0..n) into a new buffer (invalid escapes are kept literally, so they are
 * re-encoded as %25: the same on both sides). */
static char *pct_decode(const char *s, size_t n, size_t *out_len)
{
    if (n >= SIZE_MAX / 2) {
        return NULL;
    }
    char *o = malloc(n + 1);
    if (o == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            o[k++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    *out_len = k;
    return o;
}

/* ---- canonical URI ---- */

static sigil_result canonical_path(struct sbuf *b, const char *path, unsigned flags)
{
    if (path == NULL || path[0] == '\0') {
        sb_chr(b, '/');
        return sigil_ok();
    }
    size_t n = strlen(path);
    if (n > SIGIL_SIGV4_MAX_FIELD) {
        return sigil_errorf(SIGIL_ERR_ARG, "sigv4: path too long");
    }
    if (!(flags & SIGIL_SIGV4_NORMALIZE_PATH)) {
        uri_encode(b, path, n, 1);
        return sigil_ok();
    }
    /* Segment stack as (offset, length) pairs into path. */
    size_t(*seg)[2] = calloc(n + 1, sizeof *seg);
    if (seg == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    size_t nseg = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && path[i] == '/') {
            i++;
        }
        size_t start = i;
        while (i < n && path[i] != '/') {
            i++;
        }
        size_t len = i - start;
        if (len == 0 || (len == 1 && path[start] == '.')) {
            continue;
        }
        if (len == 2 && path[start] == '.' && path[start + 1] == '.') {
            if (nseg > 0) {
                nseg--;
            }
            continue;
        }
        seg[nseg][0] = start;
        seg[nseg][1] = len;
        nseg++;
    }
    sb_chr(b, '/');
    for (size_t s = 0; s < nseg; s++) {
        if (s > 0) {
            sb_chr(b, '/');
        }
        uri_encode(b, path + seg[s][0], seg[s][1], 0);
    }
    if (nseg > 0 && path[n - 1] == '/') {
        sb_chr(b, '/');
    }
    free(seg);
    return sigil_ok();
}

/* ---- canonical query ---- */

struct qparam {
    char *k;
    char *v;
};

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c != 0 ? c : strcmp(x->v, y->v);
}

static sigil_result canonical_query(struct sbuf *b, const char *query)
{
    if (query == NULL || query[0] == '\0') {
        return sigil_ok();
    }
    size_t n = strlen(query);
    if (n > SIGIL_SIGV4_MAX_FIELD) {
        return sigil_errorf(SIGIL_ERR_ARG, "sigv4: query too long");
    }
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) {
        cap += query[i] == '&';
    }
    struct qparam *ps = calloc(cap, sizeof *ps);
    if (ps == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    sigil_result ret = sigil_ok();
    size_t np = 0;
    size_t i = 0;
    while (i <= n) {
        size_t start = i;
        while (i < n && query[i] != '&') {
            i++;
        }
        size_t len = i - start;
        i++;
        if (len == 0) {
            continue;
        }
        const char *p = query + start;
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        size_t vlen = eq ? len - klen - 1 : 0;
        size_t dk, dv;
        char *kd = pct_decode(p, klen, &dk);
        char *vd = pct_decode(eq ? eq + 1 : "", vlen, &dv);
        struct sbuf ke = {0}, ve = {0};
        if (kd != NULL && vd != NULL) {
            uri_encode(&ke, kd, dk, 0);
            uri_encode(&ve, vd, dv, 0);
        }
        free(kd);
        free(vd);
        ps[np].k = (kd && vd) ? sb_take(&ke) : NULL;
        ps[np].v = (kd && vd) ? sb_take(&ve) : NULL;
        if (ps[np].k == NULL || ps[np].v == NULL) {
            free(ps[np].k);
            free(ps[np].v);
            free(ke.p);
            free(ve.p);
            ret = sigil_error(SIGIL_ERR_NOMEM);
            goto out;
        }
        np++;
    }
    qsort(ps, np, sizeof *ps, qparam_cmp);
    for (size_t j = 0; j < np; j++) {
        if (j > 0) {
            sb_chr(b, '&');
        }
        sb_str(b, ps[j].k);
        sb_chr(b, '=');
        sb_str(b, ps[j].v);
    }
out:
    for (size_t j = 0; j < np; j++) {
        free(ps[j].k);
        free(ps[j].v);
    }
    free(ps);
    return ret;
}

/* ---- headers ---- */

struct hdr {
    char *lname; /* owned */
    const char *value;
    size_t order;
};

static int hdr_cmp(const void *a, const void *b)
{
    const struct hdr *x = a, *y = b;
    int c = strcmp(x->lname, y->lname);
    if (c != 0) {
        return c;
    }
    return x->order < y->order ? -1 : x->order > y->order;
}

static int valid_header_name(const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c >= 0x7f || c == ':' || c == ';' || c == ',') {
            return 0;
        }
    }
    return 1;
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; p && *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    return d;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Trim and collapse runs of whitespace to one space. */
static void put_header_value(struct sbuf *b, const char *v)
{
    while (*v && is_ws(*v)) {
        v++;
    }
    int pending_space = 0;
    for (; *v; v++) {
        if (is_ws(*v)) {
            pending_space = 1;
            continue;
        }
        if (pending_space) {
            sb_chr(b, ' ');
            pending_space = 0;
        }
        sb_chr(b, *v);
    }
}

static void hdrs_free(struct hdr *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].lname);
    }
    free(h);
}

/* Appends CanonicalHeaders and writes SignedHeaders; hdrs sorted by name, request order kept. */
static void canonical_headers(struct sbuf *creq, struct sbuf *signed_names, const struct hdr *h, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        sb_str(creq, h[i].lname);
        sb_chr(creq, ':');
        for (; j < n && strcmp(h[j].lname, h[i].lname) == 0; j++) {
            if (j > i) {
                sb_chr(creq, ',');
            }
            put_header_value(creq, h[j].value);
        }
        sb_chr(creq, '\n');
        if (signed_names->len > 0) {
            sb_chr(signed_names, ';');
        }
        sb_str(signed_names, h[i].lname);
        i = j;
    }
}

/* ---- crypto ---- */

static sigil_result sha256_hex(char out[65], const void *data, size_t n)
{
    uint8_t md[32];
    unsigned mdlen = 0;
    if (EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        return sigil_errorf(SIGIL_ERR_CRYPTO, "sigv4: SHA-256 failed");
    }
    sigil_hex_encode(out, md, 32, 0);
    return sigil_ok();
}

struct sig_scratch {
    uint8_t ksecret[4 + SIGIL_SIGV4_MAX_SECRET];
    uint8_t k[4][32];
    uint8_t sig[32];
};

static int hmac(uint8_t out[32], const uint8_t *key, size_t klen, const void *data, size_t n)
{
    unsigned len = 0;
    return HMAC(EVP_sha256(), key, (int)klen, data, n, out, &len) != NULL && len == 32;
}

/* signature = HMAC(kSigning, sts) with kSigning from the secret and the scope. */
static sigil_result compute_signature(uint8_t sig[32], const char *secret, size_t secret_len, const char *date8,
                                      const char *region, const char *service, const char *sts)
{
    if (secret_len == 0 || secret_len > SIGIL_SIGV4_MAX_SECRET) {
        return sigil_errorf(SIGIL_ERR_ARG, "sigv4: secret access key length out of range");
    }
    struct sig_scratch *s = sigil_secure_alloc(sizeof *s);
    if (s == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    sigil_result ret = sigil_errorf(SIGIL_ERR_CRYPTO, "sigv4: HMAC failed");
    memcpy(s->ksecret, "AWS4", 4);
    memcpy(s->ksecret + 4, secret, secret_len);
    if (!hmac(s->k[0], s->ksecret, 4 + secret_len, date8, 8) || !hmac(s->k[1], s->k[0], 32, region, strlen(region)) ||
        !hmac(s->k[2], s->k[1], 32, service, strlen(service)) || !hmac(s->k[3], s->k[2], 32, "aws4_request", 12) ||
        !hmac(s->sig, s->k[3], 32, sts, strlen(sts))) {
        goto out;
    }
    memcpy(sig, s->sig, 32);
    ret = sigil_ok();
out:
    sigil_secure_free(s);
    return ret;
}

/* ---- dates ---- */

int sigil_sigv4_format_date(char out[17], int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t < 0 || gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999) {
        return 0;
    }
    return strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) == 16;
}

int sigil_sigv4_parse_date(int64_t *out, const char *s)
{
    if (s == NULL || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') {
        return 0;
    }
    for (int i = 0; i < 15; i++) {
        if (i != 8 && (s[i] < '0' || s[i] > '9')) {
            return 0;
        }
    }
    int v[6];
    static const int pos[6][2] = {{0, 4}, {4, 2}, {6, 2}, {9, 2}, {11, 2}, {13, 2}};
    for (int i = 0; i < 6; i++) {
        int x = 0;
        for (int k = 0; k < pos[i][1]; k++) {
            x = x * 10 + (s[pos[i][0] + k] - '0');
        }
        v[i] = x;
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 59) {
        return 0;
    }
    struct tm tm = {
        .tm_year = v[0] - 1900, .tm_mon = v[1] - 1, .tm_mday = v[2], .tm_hour = v[3], .tm_min = v[4], .tm_sec = v[5]};
    time_t t = timegm(&tm);
    if (t == (time_t)-1) {
        return 0;
    }
    char back[17];
    /* Rejects dates like Feb 30 that timegm silently normalises. */
    if (!sigil_sigv4_format_date(back, (int64_t)t) || memcmp(back, s, 16) != 0) {
        return 0;
    }
    *out = (int64_t)t;
    return 1;
}

/* ---- shared core ---- */

static int scope_part_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > SIGIL_SIGV4_MAX_SCOPE_PART) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.')) {
            return 0;
        }
    }
    return 1;
}

/* Builds canonical request and string to sign. h: sorted header list to sign. */
static sigil_result build_sts(char **creq_out, char **sts_out, char **signed_out, const struct sigil_sigv4_request *req,
                              const struct hdr *h, size_t nh, const char *payload_hash, const char *amz_date,
                              const char *region, const char *service, unsigned flags)
{
    struct sbuf creq = {0}, names = {0}, sts = {0};
    sigil_result ret;
    *creq_out = *sts_out = *signed_out = NULL;
    sb_str(&creq, req->method);
    sb_chr(&creq, '\n');
    SIGIL_GUARD_GOTO(canonical_path(&creq, req->path, flags));
    sb_chr(&creq, '\n');
    SIGIL_GUARD_GOTO(canonical_query(&creq, req->query));
    sb_chr(&creq, '\n');
    canonical_headers(&creq, &names, h, nh);
    sb_chr(&creq, '\n');
    sb_put(&creq, names.p ? names.p : "", names.len);
    sb_chr(&creq, '\n');
    sb_str(&creq, payload_hash);
    SIGIL_ENSURE_GOTO(!creq.oom && !names.oom, SIGIL_ERR_NOMEM);

    char creq_hash[65];
    SIGIL_GUARD_GOTO(sha256_hex(creq_hash, creq.p, creq.len));
    sb_str(&sts, ALGORITHM "\n");
    sb_str(&sts, amz_date);
    sb_chr(&sts, '\n');
    sb_put(&sts, amz_date, 8);
    sb_chr(&sts, '/');
    sb_str(&sts, region);
    sb_chr(&sts, '/');
    sb_str(&sts, service);
    sb_str(&sts, "/aws4_request\n");
    sb_str(&sts, creq_hash);
    SIGIL_ENSURE_GOTO(!sts.oom, SIGIL_ERR_NOMEM);
    *creq_out = sb_take(&creq);
    *sts_out = sb_take(&sts);
    *signed_out = sb_take(&names);
    SIGIL_ENSURE_GOTO(*creq_out && *sts_out && *signed_out, SIGIL_ERR_NOMEM);
    ret = sigil_ok();
out:
    if (!sigil_is_ok(ret)) {
        free(*creq_out);
        free(*sts_out);
        free(*signed_out);
        *creq_out = *sts_out = *signed_out = NULL;
    }
    free(creq.p);
    free(names.p);
    free(sts.p);
    return ret;
}

static int method_ok(const char *m)
{
    if (m == NULL || m[0] == '\0' || strlen(m) > 32) {
        return 0;
    }
    for (; *m; m++) {
        if (!isupper((unsigned char)*m)) {
            return 0;
        }
    }
    return 1;
}

/* ---- sign ---- */

void sigil_sigv4_signed_free(struct sigil_sigv4_signed *s)
{
    if (s == NULL) {
        return;
    }
    free(s->authorization);
    free(s->canonical_request);
    free(s->string_to_sign);
    memset(s, 0, sizeof *s);
}

sigil_result sigil_sigv4_sign(struct sigil_sigv4_signed *out, const struct sigil_sigv4_request *req,
                              const struct sigil_sigv4_key *key, const char *region, const char *service, int64_t now,
                              unsigned flags)
{
    memset(out, 0, sizeof *out);
    if (req == NULL || key == NULL || !method_ok(req->method) || key->access_key_id == NULL ||
        key->access_key_id[0] == '\0' || strlen(key->access_key_id) > SIGIL_SIGV4_MAX_ACCESS_KEY_ID ||
        strchr(key->access_key_id, '/') != NULL || key->secret == NULL || !scope_part_ok(region) ||
        !scope_part_ok(service) || req->nheaders > SIGIL_SIGV4_MAX_HEADERS ||
        (req->body == NULL && req->body_len != 0)) {
        return sigil_errorf(SIGIL_ERR_ARG, "sigv4: invalid signing arguments");
    }
    if (key->session_token != NULL && strlen(key->session_token) > SIGIL_SIGV4_MAX_FIELD) {
        return sigil_errorf(SIGIL_ERR_ARG, "sigv4: session token too long");
    }
    if (!sigil_sigv4_format_date(out->amz_date, now)) {
        return sigil_errorf(SIGIL_ERR_ARG, "sigv4: time out of range");
    }
    SIGIL_GUARD(sha256_hex(out->content_sha256, req->body ? (const void *)req->body : "", req->body_len));

    sigil_result ret;
    char *creq = NULL, *signed_names = NULL;
    struct sbuf az = {0};
    struct hdr *h = calloc(req->nheaders + 3, sizeof *h);
    size_t nh = 0;
    SIGIL_ENSURE_GOTO(h != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct sigil_sigv4_header *x = &req->headers[i];
        if (!valid_header_name(x->name) || x->value == NULL || strlen(x->value) > SIGIL_SIGV4_MAX_FIELD) {
            ret = sigil_errorf(SIGIL_ERR_ARG, "sigv4: invalid header %zu", i);
            goto out;
        }
        h[nh].lname = lower_dup(x->name);
        SIGIL_ENSURE_GOTO(h[nh].lname != NULL, SIGIL_ERR_NOMEM);
        h[nh].value = x->value;
        h[nh].order = nh;
        nh++;
        const char *ln = h[nh - 1].lname;
        if (strcmp(ln, "authorization") == 0 || strcmp(ln, "x-amz-date") == 0 ||
            strcmp(ln, "x-amz-security-token") == 0 || strcmp(ln, "x-amz-content-sha256") == 0) {
            ret = sigil_errorf(SIGIL_ERR_ARG, "sigv4: header %s is added by the signer", ln);
            goto out;
        }
    }
    struct {
        const char *name;
        const char *value;
        int on;
    } extra[3] = {
        {"x-amz-date", out->amz_date, 1},
        {"x-amz-security-token", key->session_token,
         key->session_token != NULL && !(flags & SIGIL_SIGV4_TOKEN_UNSIGNED)},
        {"x-amz-content-sha256", out->content_sha256, (flags & SIGIL_SIGV4_SIGN_BODY) != 0},
    };
    for (int i = 0; i < 3; i++) {
        if (!extra[i].on) {
            continue;
        }
        h[nh].lname = strdup(extra[i].name);
        SIGIL_ENSURE_GOTO(h[nh].lname != NULL, SIGIL_ERR_NOMEM);
        h[nh].value = extra[i].value;
        h[nh].order = nh;
        nh++;
    }
    qsort(h, nh, sizeof *h, hdr_cmp);

    SIGIL_GUARD_GOTO(build_sts(&out->canonical_request, &out->string_to_sign, &signed_names, req, h, nh,
                               out->content_sha256, out->amz_date, region, service, flags));
    uint8_t sig[32];
    SIGIL_GUARD_GOTO(
        compute_signature(sig, key->secret, key->secret_len, out->amz_date, region, service, out->string_to_sign));
    sigil_hex_encode(out->signature, sig, 32, 0);

    sb_str(&az, ALGORITHM " Credential=");
    sb_str(&az, key->access_key_id);
    sb_chr(&az, '/');
    sb_put(&az, out->amz_date, 8);
    sb_chr(&az, '/');
    sb_str(&az, region);
    sb_chr(&az, '/');
    sb_str(&az, service);
    sb_str(&az, "/aws4_request, SignedHeaders=");
    sb_str(&az, signed_names);
    sb_str(&az, ", Signature=");
    sb_str(&az, out->signature);
    out->authorization = sb_take(&az);
    SIGIL_ENSURE_GOTO(out->authorization != NULL, SIGIL_ERR_NOMEM);
    ret = sigil_ok();
out:
    free(az.p);
    free(creq);
    free(signed_names);
    if (h != NULL) {
        hdrs_free(h, nh);
    }
    return ret;
}

/* ---- verify ---- */

const char *sigil_sigv4_verdict_aws_error(enum sigil_sigv4_verdict v)
{
    switch (v) {
    case SIGIL_SIGV4_VALID:
        return "";
    case SIGIL_SIGV4_MISSING:
        return "MissingAuthenticationTokenException";
    case SIGIL_SIGV4_MALFORMED:
        return "IncompleteSignatureException";
    case SIGIL_SIGV4_UNKNOWN_KEY:
    case SIGIL_SIGV4_BAD_TOKEN:
        return "UnrecognizedClientException";
    case SIGIL_SIGV4_EXPIRED:
    case SIGIL_SIGV4_WRONG_SCOPE:
    case SIGIL_SIGV4_UNSIGNED_HEADER:
    case SIGIL_SIGV4_BAD_SIGNATURE:
        return "InvalidSignatureException";
    }
    return "InvalidSignatureException";
}

static sigil_result deny(struct sigil_sigv4_identity *id, enum sigil_sigv4_verdict v, const char *why)
{
    id->verdict = v;
    return sigil_errorf(SIGIL_ERR_UNAUTHORIZED, "sigv4: %s", why);
}

/* Finds the single header named lname (lower case); *dup set when it occurs more than once. */
static const char *find_header(const struct sigil_sigv4_request *req, const char *lname, int *dup)
{
    const char *found = NULL;
    *dup = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        if (req->headers[i].name != NULL && strcasecmp(req->headers[i].name, lname) == 0) {
            if (found != NULL) {
                *dup = 1;
            }
            found = req->headers[i].value;
        }
    }
    return found;
}

struct authz {
    char akid[SIGIL_SIGV4_MAX_ACCESS_KEY_ID + 1];
    char date8[9];
    char region[SIGIL_SIGV4_MAX_SCOPE_PART + 1];
    char service[SIGIL_SIGV4_MAX_SCOPE_PART + 1];
    char *signed_headers; /* malloc'ed */
    uint8_t sig[32];
};

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap) {
        return 0;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 1;
}

/* Parses "AWS4-HMAC-SHA256 Credential=A/D/R/S/aws4_request, SignedHeaders=a;b, Signature=hex". */
static int parse_authz(struct authz *a, const char *v)
{
    size_t alen = strlen(ALGORITHM);
    if (strncmp(v, ALGORITHM, alen) != 0 || v[alen] != ' ') {
        return 0;
    }
    const char *p = v + alen;
    int have_c = 0, have_h = 0, have_s = 0;
    while (*p) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ') {
            len--;
        }
        if (len > 11 && strncmp(p, "Credential=", 11) == 0 && !have_c) {
            const char *c = p + 11, *ce = p + len;
            const char *parts[5];
            size_t plen[5];
            int k = 0;
            const char *s = c;
            for (const char *q = c; q <= ce && k < 5; q++) {
                if (q == ce || *q == '/') {
                    parts[k] = s;
                    plen[k] = (size_t)(q - s);
                    k++;
                    s = q + 1;
                }
            }
            if (k != 5 || s != ce + 1 || plen[4] != 12 || memcmp(parts[4], "aws4_request", 12) != 0 ||
                !copy_part(a->akid, sizeof a->akid, parts[0], plen[0]) ||
                !copy_part(a->date8, sizeof a->date8, parts[1], plen[1]) || plen[1] != 8 ||
                !copy_part(a->region, sizeof a->region, parts[2], plen[2]) ||
                !copy_part(a->service, sizeof a->service, parts[3], plen[3])) {
                return 0;
            }
            have_c = 1;
        } else if (len > 14 && strncmp(p, "SignedHeaders=", 14) == 0 && !have_h) {
            if (len - 14 > SIGIL_SIGV4_MAX_FIELD) {
                return 0;
            }
            a->signed_headers = strndup(p + 14, len - 14);
            if (a->signed_headers == NULL) {
                return 0;
            }
            have_h = 1;
        } else if (len == 10 + 64 && strncmp(p, "Signature=", 10) == 0 && !have_s) {
            if (sigil_hex_decode_digits_ct(a->sig, p + 10, 32) != 1) {
                return 0;
            }
            have_s = 1;
        } else {
            return 0;
        }
        p += len;
        while (*p == ' ') {
            p++;
        }
        if (*p != ',' && *p != '\0') {
            return 0;
        }
    }
    return have_c && have_h && have_s;
}

/* Splits the signed header list; checks lower case, strictly ascending, valid names. */
static int split_signed(char *list, char **names, size_t cap, size_t *n)
{
    *n = 0;
    char *save = NULL;
    if (list[0] == '\0' || list[strlen(list) - 1] == ';' || strstr(list, ";;") != NULL) {
        return 0;
    }
    for (char *t = strtok_r(list, ";", &save); t != NULL; t = strtok_r(NULL, ";", &save)) {
        if (*n >= cap || !valid_header_name(t)) {
            return 0;
        }
        for (char *c = t; *c; c++) {
            if (isupper((unsigned char)*c)) {
                return 0;
            }
        }
        if (*n > 0 && strcmp(names[*n - 1], t) >= 0) {
            return 0;
        }
        names[(*n)++] = t;
    }
    return *n > 0;
}

static int in_list(char *const *names, size_t n, const char *x)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], x) == 0) {
            return 1;
        }
    }
    return 0;
}

sigil_result sigil_sigv4_verify(struct sigil_sigv4_identity *out, const struct sigil_sigv4_request *req,
                                const struct sigil_sigv4_verify_params *pp)
{
    memset(out, 0, sizeof *out);
    out->verdict = SIGIL_SIGV4_MALFORMED;
    if (req == NULL || pp == NULL || pp->lookup == NULL || !scope_part_ok(pp->service) ||
        (pp->region != NULL && !scope_part_ok(pp->region)) || pp->max_skew < 0 ||
        (req->body == NULL && req->body_len != 0) || (req->nheaders > 0 && req->headers == NULL)) {
        return sigil_errorf(SIGIL_ERR_ARG, "sigv4: invalid verification arguments");
    }
    if (!method_ok(req->method)) {
        return deny(out, SIGIL_SIGV4_MALFORMED, "invalid method");
    }
    if (req->nheaders > SIGIL_SIGV4_MAX_HEADERS) {
        return deny(out, SIGIL_SIGV4_MALFORMED, "too many headers");
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        if (req->headers[i].name == NULL || req->headers[i].value == NULL ||
            strlen(req->headers[i].value) > SIGIL_SIGV4_MAX_FIELD) {
            return deny(out, SIGIL_SIGV4_MALFORMED, "invalid header");
        }
    }
    int dup = 0;
    const char *authz_v = find_header(req, "authorization", &dup);
    if (authz_v == NULL) {
        return deny(out, SIGIL_SIGV4_MISSING, "missing Authorization header");
    }
    if (dup) {
        return deny(out, SIGIL_SIGV4_MALFORMED, "repeated Authorization header");
    }

    sigil_result ret;
    struct authz a;
    memset(&a, 0, sizeof a);
    struct hdr *h = NULL;
    size_t nh = 0;
    char *secret = NULL;
    char *creq = NULL, *sts = NULL, *names_out = NULL;
    char *names[SIGIL_SIGV4_MAX_HEADERS];
    size_t nnames = 0;

    if (!parse_authz(&a, authz_v)) {
        ret = deny(out, SIGIL_SIGV4_MALFORMED, "malformed Authorization header");
        goto out;
    }
    memcpy(out->access_key_id, a.akid, sizeof a.akid);
    memcpy(out->region, a.region, sizeof a.region);
    memcpy(out->service, a.service, sizeof a.service);

    const char *date_v = find_header(req, "x-amz-date", &dup);
    int64_t t = 0;
    if (date_v == NULL || dup || !sigil_sigv4_parse_date(&t, date_v)) {
        ret = deny(out, SIGIL_SIGV4_MALFORMED, "missing or malformed X-Amz-Date");
        goto out;
    }
    if (memcmp(date_v, a.date8, 8) != 0) {
        ret = deny(out, SIGIL_SIGV4_MALFORMED, "credential scope date differs from X-Amz-Date");
        goto out;
    }
    if ((t > pp->now && t - pp->now > pp->max_skew) || (t <= pp->now && pp->now - t > pp->max_skew)) {
        ret = deny(out, SIGIL_SIGV4_EXPIRED, "request time outside the allowed clock skew");
        goto out;
    }
    if (strcmp(a.service, pp->service) != 0 || (pp->region != NULL && strcmp(a.region, pp->region) != 0) ||
        !scope_part_ok(a.region)) {
        ret = deny(out, SIGIL_SIGV4_WRONG_SCOPE, "credential scope names another region or service");
        goto out;
    }
    if (!split_signed(a.signed_headers, names, SIGIL_SIGV4_MAX_HEADERS, &nnames)) {
        ret = deny(out, SIGIL_SIGV4_MALFORMED, "malformed SignedHeaders");
        goto out;
    }
    if (!in_list(names, nnames, "host") || !in_list(names, nnames, "x-amz-date") ||
        in_list(names, nnames, "authorization")) {
        ret = deny(out, SIGIL_SIGV4_UNSIGNED_HEADER, "host and x-amz-date must be signed");
        goto out;
    }
    for (const char *const *r = pp->required_signed; r != NULL && *r != NULL; r++) {
        if (!in_list(names, nnames, *r)) {
            ret = deny(out, SIGIL_SIGV4_UNSIGNED_HEADER, "a required header is not signed");
            goto out;
        }
    }
    const char *token = find_header(req, "x-amz-security-token", &dup);
    if (token != NULL && (dup || !in_list(names, nnames, "x-amz-security-token"))) {
        ret = deny(out, SIGIL_SIGV4_UNSIGNED_HEADER, "x-amz-security-token must be signed once");
        goto out;
    }
    out->has_session_token = token != NULL;

    char body_hash[65];
    SIGIL_GUARD_GOTO(sha256_hex(body_hash, req->body ? (const void *)req->body : "", req->body_len));
    const char *csha = find_header(req, "x-amz-content-sha256", &dup);
    if (csha != NULL && (dup || strcasecmp(csha, body_hash) != 0)) {
        ret = deny(out, SIGIL_SIGV4_BAD_SIGNATURE, "x-amz-content-sha256 does not match the body");
        goto out;
    }

    h = calloc(req->nheaders + 1, sizeof *h);
    SIGIL_ENSURE_GOTO(h != NULL, SIGIL_ERR_NOMEM);
    for (size_t k = 0; k < nnames; k++) {
        size_t before = nh;
        for (size_t i = 0; i < req->nheaders; i++) {
            if (strcasecmp(req->headers[i].name, names[k]) == 0) {
                h[nh].lname = strdup(names[k]);
                SIGIL_ENSURE_GOTO(h[nh].lname != NULL, SIGIL_ERR_NOMEM);
                h[nh].value = req->headers[i].value;
                h[nh].order = nh;
                nh++;
            }
        }
        if (nh == before) {
            ret = deny(out, SIGIL_SIGV4_MALFORMED, "a signed header is missing from the request");
            goto out;
        }
    }

    secret = sigil_secure_alloc(SIGIL_SIGV4_MAX_SECRET);
    SIGIL_ENSURE_GOTO(secret != NULL, SIGIL_ERR_NOMEM);
    size_t secret_len = 0;
    sigil_result lr = pp->lookup(pp->lookup_ctx, a.akid, token, secret, SIGIL_SIGV4_MAX_SECRET, &secret_len);
    if (lr.code == SIGIL_ERR_NOT_FOUND) {
        ret = deny(out, SIGIL_SIGV4_UNKNOWN_KEY, "unknown access key id");
        goto out;
    }
    if (lr.code == SIGIL_ERR_UNAUTHORIZED) {
        ret = deny(out, SIGIL_SIGV4_BAD_TOKEN, "session token refused");
        goto out;
    }
    SIGIL_GUARD_GOTO(lr);
    SIGIL_ENSURE_GOTO(secret_len > 0 && secret_len <= SIGIL_SIGV4_MAX_SECRET, SIGIL_ERR_INTERNAL);

    /* Rebuild with the original header names' values; names are the signed list. */
    struct sigil_sigv4_request r2 = *req;
    SIGIL_GUARD_GOTO(build_sts(&creq, &sts, &names_out, &r2, h, nh, body_hash, date_v, a.region, a.service, pp->flags));
    uint8_t sig[32];
    SIGIL_GUARD_GOTO(compute_signature(sig, secret, secret_len, date_v, a.region, a.service, sts));
    if (sigil_ct_memeq(sig, a.sig, 32) != 1) {
        ret = deny(out, SIGIL_SIGV4_BAD_SIGNATURE, "signature mismatch");
        goto out;
    }
    out->verdict = SIGIL_SIGV4_VALID;
    ret = sigil_ok();
out:
    sigil_secure_free(secret);
    free(a.signed_headers);
    free(creq);
    free(sts);
    free(names_out);
    if (h != NULL) {
        hdrs_free(h, nh);
    }
    return ret;
}
