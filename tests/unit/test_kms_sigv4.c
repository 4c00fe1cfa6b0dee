/* SigV4: every header-signing case of the AWS suites (aws-c-auth v4 layout and the 2015
 * aws-sig-v4-test-suite layout) for canonical request, string to sign and signature, then
 * verification of what sign produces and rejection of every kind of tampering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/secmem.h"
#include "helpers/vectors.h"
#include "kms/sigv4.h"

#define AKID   "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T2015  1440938160 /* 2015-08-30T12:36:00Z */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    return b;
}

struct parsed {
    char method[16];
    char *path;
    char *query;
    struct sigil_sigv4_header h[32];
    size_t nh;
    char *body;
};

static void parsed_free(struct parsed *p)
{
    free(p->path);
    free(p->query);
    for (size_t i = 0; i < p->nh; i++) {
        free((char *)p->h[i].name);
        free((char *)p->h[i].value);
    }
    free(p->body);
    memset(p, 0, sizeof *p);
}

/* Parses the raw HTTP request files of the suites. The request target may contain spaces
 * ("/example space/"), so it is everything between the first and the last space. Continuation
 * lines are kept with their newline; canonicalisation collapses them into one space. */
static void parse_request(struct parsed *p, const char *text)
{
    memset(p, 0, sizeof *p);
    const char *eol = strchr(text, '\n');
    size_t l0 = eol ? (size_t)(eol - text) : strlen(text);
    char *line = strndup(text, l0);
    char *sp1 = strchr(line, ' ');
    char *sp2 = strrchr(line, ' ');
    assert_true(sp1 != NULL && sp2 != NULL && sp2 > sp1);
    *sp1 = '\0';
    *sp2 = '\0';
    snprintf(p->method, sizeof p->method, "%s", line);
    char *target = sp1 + 1;
    char *q = strchr(target, '?');
    if (q != NULL) {
        *q = '\0';
        p->query = strdup(q + 1);
    }
    p->path = strdup(target);
    free(line);
    const char *s = eol ? eol + 1 : text + l0;
    while (*s) {
        eol = strchr(s, '\n');
        size_t n = eol ? (size_t)(eol - s) : strlen(s);
        if (n == 0) {
            p->body = strdup(eol ? eol + 1 : "");
            return;
        }
        if ((s[0] == ' ' || s[0] == '\t') && p->nh > 0) {
            char *old = (char *)p->h[p->nh - 1].value;
            size_t ol = strlen(old);
            char *nv = malloc(ol + 1 + n + 1);
            memcpy(nv, old, ol);
            nv[ol] = '\n';
            memcpy(nv + ol + 1, s, n);
            nv[ol + 1 + n] = '\0';
            free(old);
            p->h[p->nh - 1].value = nv;
        } else {
            const char *colon = memchr(s, ':', n);
            assert_non_null(colon);
            assert_true(p->nh < 32);
            p->h[p->nh].name = strndup(s, (size_t)(colon - s));
            p->h[p->nh].value = strndup(colon + 1, n - (size_t)(colon - s) - 1);
            p->nh++;
        }
        s = eol ? eol + 1 : s + n;
    }
    p->body = strdup("");
}

static void remove_header(struct parsed *p, const char *name)
{
    for (size_t i = 0; i < p->nh; i++) {
        if (strcasecmp(p->h[i].name, name) == 0) {
            free((char *)p->h[i].name);
            free((char *)p->h[i].value);
            memmove(&p->h[i], &p->h[i + 1], (p->nh - i - 1) * sizeof p->h[0]);
            p->nh--;
            i--;
        }
    }
}

static struct sigil_sigv4_request as_request(const struct parsed *p)
{
    return (struct sigil_sigv4_request){.method = p->method,
                                        .path = p->path,
                                        .query = p->query,
                                        .headers = p->h,
                                        .nheaders = p->nh,
                                        .body = (const uint8_t *)p->body,
                                        .body_len = strlen(p->body)};
}

/* ---- secret lookup for verification ---- */

struct lookup_ctx {
    const char *akid;
    const char *secret;
    const char *token; /* required token, NULL: any/none */
};

static sigil_result lookup(void *vctx, const char *akid, const char *token, char *out, size_t cap, size_t *len)
{
    struct lookup_ctx *c = vctx;
    if (strcmp(akid, c->akid) != 0) {
        return sigil_error(SIGIL_ERR_NOT_FOUND);
    }
    if (c->token != NULL && (token == NULL || strcmp(token, c->token) != 0)) {
        return sigil_error(SIGIL_ERR_UNAUTHORIZED);
    }
    size_t n = strlen(c->secret);
    assert_true(n <= cap);
    memcpy(out, c->secret, n);
    *len = n;
    return sigil_ok();
}

/* Verifies the request plus the headers that signing added. */
static sigil_result verify_signed(struct sigil_sigv4_identity *id, const struct sigil_sigv4_request *req,
                                  const struct sigil_sigv4_signed *sig, const char *token, int token_signed,
                                  int sign_body, int64_t now, unsigned flags)
{
    struct sigil_sigv4_header h[40];
    size_t n = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        h[n++] = req->headers[i];
    }
    h[n++] = (struct sigil_sigv4_header){"X-Amz-Date", sig->amz_date};
    if (token != NULL) {
        h[n++] = (struct sigil_sigv4_header){"X-Amz-Security-Token", token};
    }
    if (sign_body) {
        h[n++] = (struct sigil_sigv4_header){"X-Amz-Content-Sha256", sig->content_sha256};
    }
    h[n++] = (struct sigil_sigv4_header){"Authorization", sig->authorization};
    (void)token_signed;
    struct sigil_sigv4_request r = *req;
    r.headers = h;
    r.nheaders = n;
    struct lookup_ctx lc = {AKID, SECRET, NULL};
    struct sigil_sigv4_verify_params vp = {.service = "service",
                                           .region = "us-east-1",
                                           .now = now,
                                           .max_skew = 300,
                                           .flags = flags,
                                           .lookup = lookup,
                                           .lookup_ctx = &lc};
    return sigil_sigv4_verify(id, &r, &vp);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static size_t list_dir(const char *dir, char **names, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.' && n < cap) {
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    return n;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static char *read_in(const char *dir, const char *file)
{
    char *p = path_join(dir, file);
    char *t = slurp(p);
    free(p);
    return t;
}

/* ---- aws-c-auth v4 layout ---- */

static void test_aws_c_auth_suite(void **state)
{
    (void)state;
    char *root = strdup(vectors_path("aws_sigv4/aws-c-auth-v4"));
    char *names[128];
    size_t n = list_dir(root, names, 128);
    size_t passed = 0, verified = 0;
    for (size_t i = 0; i < n; i++) {
        char *dir = path_join(root, names[i]);
        json_error_t jerr;
        char *ctxp = path_join(dir, "context.json");
        json_t *ctx = json_load_file(ctxp, 0, &jerr);
        free(ctxp);
        assert_non_null(ctx);
        int normalize = json_is_true(json_object_get(ctx, "normalize"));
        int sign_body = json_is_true(json_object_get(ctx, "sign_body"));
        int omit_token = json_is_true(json_object_get(ctx, "omit_session_token"));
        const char *token = json_string_value(json_object_get(json_object_get(ctx, "credentials"), "token"));
        assert_string_equal(json_string_value(json_object_get(ctx, "timestamp")), "2015-08-30T12:36:00Z");

        char *reqtxt = read_in(dir, "request.txt");
        char *creq = read_in(dir, "header-canonical-request.txt");
        char *sts = read_in(dir, "header-string-to-sign.txt");
        char *sigx = read_in(dir, "header-signature.txt");
        char *sreq = read_in(dir, "header-signed-request.txt");
        assert_true(reqtxt && creq && sts && sigx && sreq);
        struct parsed p;
        parse_request(&p, reqtxt);
        struct sigil_sigv4_request req = as_request(&p);
        struct sigil_sigv4_key key = {AKID, SECRET, strlen(SECRET), token};
        unsigned flags = (normalize ? SIGIL_SIGV4_NORMALIZE_PATH : 0) | (sign_body ? SIGIL_SIGV4_SIGN_BODY : 0) |
                         (omit_token ? SIGIL_SIGV4_TOKEN_UNSIGNED : 0);
        struct sigil_sigv4_signed sig;
        sigil_result r = sigil_sigv4_sign(&sig, &req, &key, "us-east-1", "service", T2015, flags);
        if (!sigil_is_ok(r) || strcmp(sig.canonical_request, creq) != 0 || strcmp(sig.string_to_sign, sts) != 0 ||
            strcmp(sig.signature, sigx) != 0 || strstr(sreq, sig.authorization) == NULL) {
            fprintf(stderr, "case %s failed\n--- got creq\n%s\n--- want\n%s\n", names[i],
                    sig.canonical_request ? sig.canonical_request : "(none)", creq);
            fail();
        }
        passed++;
        struct sigil_sigv4_identity id;
        r = verify_signed(&id, &req, &sig, token, !omit_token, sign_body, T2015 + 10, flags);
        if (omit_token) {
            /* sigil-kms insists that a session token be signed */
            assert_int_equal(r.code, SIGIL_ERR_UNAUTHORIZED);
            assert_int_equal(id.verdict, SIGIL_SIGV4_UNSIGNED_HEADER);
        } else {
            assert_int_equal(r.code, SIGIL_OK);
            assert_string_equal(id.access_key_id, AKID);
            verified++;
        }
        sigil_sigv4_signed_free(&sig);
        parsed_free(&p);
        free(reqtxt);
        free(creq);
        free(sts);
        free(sigx);
        free(sreq);
        json_decref(ctx);
        free(dir);
        free(names[i]);
    }
    free(root);
    printf("aws-c-auth-v4: %zu/38 header-signing cases passed, %zu also verified; the 38 query-* (presigned URL) "
           "variants are skipped (presigning is not implemented: KMS uses header signing)\n",
           passed, verified);
    assert_int_equal(passed, 38);
    assert_int_equal(verified, 37);
}

/* ---- 2015 aws-sig-v4-test-suite layout ---- */

static size_t g_2015_passed, g_2015_skipped, g_2015_creq_only;

static void run_2015_case(const char *dir, const char *name)
{
    if (strcmp(name, "get-header-value-multiline") == 0) {
        /* The 2015 suite folds obs-fold continuation lines with ',' ("value1,value2,value3");
         * RFC 7230 §3.2.4 says SP, and aws-c-auth's regenerated vector ("value1 value2 value3")
         * follows the RFC. We follow aws-c-auth; this one case is skipped. */
        printf("skipped 2015 %s (superseded by aws-c-auth-v4/get-header-value-multiline)\n", name);
        g_2015_skipped++;
        return;
    }
    char f[512];
    snprintf(f, sizeof f, "%s.req", name);
    char *reqtxt = read_in(dir, f);
    snprintf(f, sizeof f, "%s.creq", name);
    char *creq = read_in(dir, f);
    snprintf(f, sizeof f, "%s.sts", name);
    char *sts = read_in(dir, f);
    snprintf(f, sizeof f, "%s.authz", name);
    char *authz = read_in(dir, f);
    assert_true(reqtxt && creq && sts && authz);
    struct parsed p;
    parse_request(&p, reqtxt);
    remove_header(&p, "X-Amz-Date"); /* the signer adds it from `now` */
    char *token = NULL;              /* and the session token from the key */
    for (size_t i = 0; i < p.nh; i++) {
        if (strcasecmp(p.h[i].name, "X-Amz-Security-Token") == 0) {
            token = strdup(p.h[i].value);
        }
    }
    remove_header(&p, "X-Amz-Security-Token");
    struct sigil_sigv4_request req = as_request(&p);
    struct sigil_sigv4_key key = {AKID, SECRET, strlen(SECRET), token};
    struct sigil_sigv4_signed sig;
    sigil_result r = sigil_sigv4_sign(&sig, &req, &key, "us-east-1", "service", T2015, SIGIL_SIGV4_NORMALIZE_PATH);
    /* Two 2015 cases (post-x-www-form-urlencoded, post-x-www-form-urlencoded-parameters) are
     * inconsistent in themselves: their .sts hashes a canonical request other than their own .creq
     * (e.g. without content-length). Detect that, and then compare only the .creq and the first
     * three lines of the .sts; aws-c-auth's regenerated versions of both check everything. */
    uint8_t md[32];
    char hexmd[65];
    unsigned mdlen = 0;
    assert_int_equal(EVP_Digest(creq, strlen(creq), md, &mdlen, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 32; i++) {
        snprintf(hexmd + 2 * i, 3, "%02x", md[i]);
    }
    int consistent = strlen(sts) >= 64 && strcmp(sts + strlen(sts) - 64, hexmd) == 0;
    if (!consistent) {
        g_2015_creq_only++;
    }
    size_t sts_prefix = strlen(sts) - 64;
    if (!sigil_is_ok(r) || strcmp(sig.canonical_request, creq) != 0 ||
        strncmp(sig.string_to_sign, sts, sts_prefix) != 0 ||
        (consistent && (strcmp(sig.string_to_sign, sts) != 0 || strcmp(sig.authorization, authz) != 0))) {
        fprintf(stderr, "2015 case %s failed\n--- got\n%s\n--- want\n%s\n", name,
                sig.canonical_request ? sig.canonical_request : "(none)", creq);
        fail();
    }
    g_2015_passed++;
    free(token);
    sigil_sigv4_signed_free(&sig);
    parsed_free(&p);
    free(reqtxt);
    free(creq);
    free(sts);
    free(authz);
}

static void walk_2015(const char *dir)
{
    char *names[128];
    size_t n = list_dir(dir, names, 128);
    for (size_t i = 0; i < n; i++) {
        char *sub = path_join(dir, names[i]);
        if (is_dir(sub)) {
            char reqname[512];
            snprintf(reqname, sizeof reqname, "%s/%s.req", sub, names[i]);
            if (access(reqname, R_OK) == 0) {
                run_2015_case(sub, names[i]);
            } else {
                walk_2015(sub); /* normalize-path/, post-sts-token/ */
            }
        }
        free(sub);
        free(names[i]);
    }
}

static void test_2015_suite(void **state)
{
    (void)state;
    walk_2015(vectors_path("aws_sigv4/aws-sig-v4-test-suite"));
    printf("aws-sig-v4-test-suite: %zu cases passed (%zu of them canonical request only: the vector's .sts does not "
           "hash its own .creq), %zu skipped\n",
           g_2015_passed, g_2015_creq_only, g_2015_skipped);
    assert_int_equal(g_2015_creq_only, 2);
    assert_int_equal(g_2015_passed, 30);
    assert_int_equal(g_2015_skipped, 1);
}

/* ---- tampering ---- */

struct kms_req {
    struct sigil_sigv4_header h[8];
    size_t nh;
    struct sigil_sigv4_request r;
    struct sigil_sigv4_signed sig;
    char body[128];
};

#define TOKEN "FQoGZXIvYXdzEXAMPLETOKEN=="

static void make_kms_req(struct kms_req *k, int64_t now)
{
    memset(k, 0, sizeof *k);
    snprintf(k->body, sizeof k->body, "{\"KeyId\":\"alias/sigil\",\"Plaintext\":\"aGVsbG8=\"}");
    k->h[0] = (struct sigil_sigv4_header){"Host", "kms.us-east-1.amazonaws.com"};
    k->h[1] = (struct sigil_sigv4_header){"Content-Type", "application/x-amz-json-1.1"};
    k->h[2] = (struct sigil_sigv4_header){"X-Amz-Target", "TrentService.Encrypt"};
    k->r = (struct sigil_sigv4_request){.method = "POST",
                                        .path = "/",
                                        .headers = k->h,
                                        .nheaders = 3,
                                        .body = (const uint8_t *)k->body,
                                        .body_len = strlen(k->body)};
    char *secret = sigil_secure_alloc(strlen(SECRET));
    memcpy(secret, SECRET, strlen(SECRET));
    struct sigil_sigv4_key key = {AKID, secret, strlen(SECRET), TOKEN};
    sigil_result r = sigil_sigv4_sign(&k->sig, &k->r, &key, "us-east-1", "kms", now, SIGIL_SIGV4_NORMALIZE_PATH);
    sigil_secure_free(secret);
    assert_int_equal(r.code, SIGIL_OK);
    k->h[3] = (struct sigil_sigv4_header){"X-Amz-Date", k->sig.amz_date};
    k->h[4] = (struct sigil_sigv4_header){"X-Amz-Security-Token", TOKEN};
    k->h[5] = (struct sigil_sigv4_header){"Authorization", k->sig.authorization};
    k->r.nheaders = 6;
}

static enum sigil_sigv4_verdict check(const struct sigil_sigv4_request *r, int64_t now, const char *region)
{
    static const char *const required[] = {"content-type", "x-amz-target", NULL};
    struct lookup_ctx lc = {AKID, SECRET, TOKEN};
    struct sigil_sigv4_verify_params vp = {.service = "kms",
                                           .region = region,
                                           .now = now,
                                           .max_skew = 300,
                                           .flags = SIGIL_SIGV4_NORMALIZE_PATH,
                                           .required_signed = required,
                                           .lookup = lookup,
                                           .lookup_ctx = &lc};
    struct sigil_sigv4_identity id;
    sigil_result res = sigil_sigv4_verify(&id, r, &vp);
    assert_true(res.code == SIGIL_OK ? id.verdict == SIGIL_SIGV4_VALID : res.code == SIGIL_ERR_UNAUTHORIZED);
    return id.verdict;
}

static void test_verify_accepts_and_rejects(void **state)
{
    (void)state;
    const int64_t now = 1767268800; /* 2026-01-01T12:00:00Z */
    struct kms_req k;
    make_kms_req(&k, now);
    assert_int_equal(check(&k.r, now, "us-east-1"), SIGIL_SIGV4_VALID);
    assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_VALID);
    assert_int_equal(check(&k.r, now + 300, "us-east-1"), SIGIL_SIGV4_VALID);
    assert_int_equal(check(&k.r, now - 300, "us-east-1"), SIGIL_SIGV4_VALID);

    /* clock skew */
    assert_int_equal(check(&k.r, now + 301, "us-east-1"), SIGIL_SIGV4_EXPIRED);
    assert_int_equal(check(&k.r, now - 301, "us-east-1"), SIGIL_SIGV4_EXPIRED);
    /* scope */
    assert_int_equal(check(&k.r, now, "eu-west-1"), SIGIL_SIGV4_WRONG_SCOPE);

    struct sigil_sigv4_request t = k.r;
    t.method = "PUT";
    assert_int_equal(check(&t, now, NULL), SIGIL_SIGV4_BAD_SIGNATURE);
    t = k.r;
    t.path = "/x";
    assert_int_equal(check(&t, now, NULL), SIGIL_SIGV4_BAD_SIGNATURE);
    t = k.r;
    t.query = "a=b";
    assert_int_equal(check(&t, now, NULL), SIGIL_SIGV4_BAD_SIGNATURE);
    t = k.r;
    t.body_len--;
    assert_int_equal(check(&t, now, NULL), SIGIL_SIGV4_BAD_SIGNATURE);
    k.body[10] ^= 1;
    assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_BAD_SIGNATURE);
    k.body[10] ^= 1;
    assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_VALID);

    /* each signed header value */
    for (size_t i = 0; i < 5; i++) {
        struct sigil_sigv4_header saved = k.h[i];
        char alt[256];
        snprintf(alt, sizeof alt, "%sx", saved.value);
        k.h[i].value = alt;
        enum sigil_sigv4_verdict v = check(&k.r, now, NULL);
        if (i == 3) {
            assert_int_equal(v, SIGIL_SIGV4_MALFORMED); /* a date with a trailing x does not parse */
        } else if (i == 4) {
            assert_int_equal(v, SIGIL_SIGV4_BAD_TOKEN); /* the lookup refuses the token first */
        } else {
            assert_int_equal(v, SIGIL_SIGV4_BAD_SIGNATURE);
        }
        k.h[i] = saved;
    }
    /* a different but well-formed date in the same day */
    char d2[17];
    memcpy(d2, k.sig.amz_date, 17);
    d2[14] = d2[14] == '0' ? '1' : '0';
    k.h[3].value = d2;
    assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_BAD_SIGNATURE);
    k.h[3].value = k.sig.amz_date;

    /* the signature itself: every hex digit */
    char *az = strdup(k.sig.authorization);
    char *sigp = strstr(az, "Signature=") + 10;
    for (int i = 0; i < 64; i++) {
        char o = sigp[i];
        sigp[i] = o == '0' ? '1' : '0';
        k.h[5].value = az;
        assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_BAD_SIGNATURE);
        sigp[i] = o;
    }
    free(az);
    k.h[5].value = k.sig.authorization;

    /* header name case and an extra unsigned header do not matter */
    k.h[1].name = "content-type";
    k.h[6] = (struct sigil_sigv4_header){"User-Agent", "curl"};
    k.r.nheaders = 7;
    assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_VALID);
    /* a second value for a signed header does */
    k.h[6] = (struct sigil_sigv4_header){"X-Amz-Target", "TrentService.Decrypt"};
    assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_BAD_SIGNATURE);
    k.r.nheaders = 6;

    /* unknown key, missing header, missing authorization */
    char *bad = strdup(k.sig.authorization);
    memcpy(strstr(bad, "AKIDEXAMPLE"), "AKIDEXAMPLF", 11);
    k.h[5].value = bad;
    assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_UNKNOWN_KEY);
    free(bad);
    k.h[5].value = k.sig.authorization;
    k.r.nheaders = 5;
    assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_MISSING);
    k.r.nheaders = 6;
    struct sigil_sigv4_header saved = k.h[2];
    k.h[2] = (struct sigil_sigv4_header){"X-Other", "v"};
    assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_MALFORMED);
    k.h[2] = saved;
    assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_VALID);
    sigil_sigv4_signed_free(&k.sig);
}

static void test_verify_malformed_authorization(void **state)
{
    (void)state;
    const int64_t now = 1767268800;
    struct kms_req k;
    make_kms_req(&k, now);
    const char *bad[] = {
        "",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA1 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, "
        "Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms, SignedHeaders=host;x-amz-date, "
        "Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=x-amz-date;host, "
        "Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/kms/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
        "Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=Host;x-amz-date, "
        "Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;;x-amz-date, "
        "Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, "
        "Signature=zz00000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, "
        "Signature=0000000000000000000000000000000000000000000000000000000000000000, Signature=00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        k.h[5].value = bad[i];
        enum sigil_sigv4_verdict v = check(&k.r, now, NULL);
        assert_true(v == SIGIL_SIGV4_MALFORMED || v == SIGIL_SIGV4_UNSIGNED_HEADER);
    }
    /* host and x-amz-date only: the required content-type / x-amz-target are then unsigned */
    k.h[5].value = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, "
                   "SignedHeaders=host;x-amz-date;x-amz-security-token, "
                   "Signature=0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(check(&k.r, now, NULL), SIGIL_SIGV4_UNSIGNED_HEADER);
    sigil_sigv4_signed_free(&k.sig);

    int64_t t;
    assert_true(sigil_sigv4_parse_date(&t, "20150830T123600Z"));
    assert_int_equal(t, T2015);
    assert_false(sigil_sigv4_parse_date(&t, "20150230T123600Z"));
    assert_false(sigil_sigv4_parse_date(&t, "20150830T123600"));
    assert_false(sigil_sigv4_parse_date(&t, "2015083OT123600Z"));
    assert_string_equal(sigil_sigv4_verdict_aws_error(SIGIL_SIGV4_BAD_SIGNATURE), "InvalidSignatureException");
}

static void test_sign_rejects_bad_arguments(void **state)
{
    (void)state;
    struct sigil_sigv4_header h[2] = {{"Host", "h"}, {"Authorization", "x"}};
    struct sigil_sigv4_request r = {.method = "POST", .path = "/", .headers = h, .nheaders = 2};
    struct sigil_sigv4_key key = {AKID, SECRET, strlen(SECRET), NULL};
    struct sigil_sigv4_signed s;
    assert_int_equal(sigil_sigv4_sign(&s, &r, &key, "us-east-1", "kms", T2015, 0).code, SIGIL_ERR_ARG);
    sigil_sigv4_signed_free(&s);
    r.nheaders = 1;
    assert_int_equal(sigil_sigv4_sign(&s, &r, &key, "us east", "kms", T2015, 0).code, SIGIL_ERR_ARG);
    sigil_sigv4_signed_free(&s);
    r.method = "post";
    assert_int_equal(sigil_sigv4_sign(&s, &r, &key, "us-east-1", "kms", T2015, 0).code, SIGIL_ERR_ARG);
    sigil_sigv4_signed_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_c_auth_suite),           cmocka_unit_test(test_2015_suite),
        cmocka_unit_test(test_verify_accepts_and_rejects), cmocka_unit_test(test_verify_malformed_authorization),
        cmocka_unit_test(test_sign_rejects_bad_arguments),
    };
    vectors_path("aws_sigv4");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
