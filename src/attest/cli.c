/* `sigil attest verify DOC [--root PEM] [--at TIME] [--pcr N=HEX ...] [--nonce HEX] [--json]`.
 * Exit 0 valid, 1 invalid (chain, signature, PCR, nonce), 2 bad usage or unreadable/malformed input,
 * with one sentence on stderr. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "attest/attest_internal.h"
#include "common/hex.h"
#include "common/io.h"

#define CLI_FILE_MAX (64 * 1024)

static int usage(const char *msg)
{
    fprintf(stderr,
            "sigil attest: %s (usage: sigil attest verify DOC [--root PEM] [--at TIME] [--pcr N=HEX ...] "
            "[--nonce HEX] [--json]).\n",
            msg);
    return 2;
}

static int fail_input(const char *what, sigil_result r)
{
    const char *d = sigil_error_detail();
    fprintf(stderr, "sigil attest: %s: %s%s%s.\n", what, sigil_strerror(r.code), *d ? ": " : "", d);
    return 2;
}

static bool digits(const char *s, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

SIGIL_RESULT attest_parse_rfc3339(uint64_t *out, const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    size_t n = strlen(s);
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
        !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
        !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "time is not RFC 3339 (e.g. 2022-11-09T22:52:00Z)");
    }
    size_t i = 19;
    if (s[i] == '.') {
        i++;
        size_t start = i;
        while (i < n && isdigit((unsigned char)s[i])) {
            i++;
        }
        if (i == start) {
            return sigil_errorf(SIGIL_ERR_PARSE, "time has an empty fraction of a second");
        }
    }
    int sign = 0;
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        sign = 0;
    } else if ((s[i] == '+' || s[i] == '-') && i + 6 == n && s[i + 3] == ':' && digits(s + i + 1, 2, &oh) &&
               digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
        sign = s[i] == '+' ? 1 : -1;
    } else {
        return sigil_errorf(SIGIL_ERR_PARSE, "time needs a Z or +hh:mm offset");
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 ||
        sec > 60) {
        return sigil_errorf(SIGIL_ERR_PARSE, "time has a field out of range");
    }
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec);
    t -= sign * (oh * 3600 + om * 60);
    if (t <= 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "time is before 1970");
    }
    *out = (uint64_t)t;
    return sigil_ok();
}

/* The document as raw CBOR (starts with a COSE array or tag 18) or base64 with whitespace. */
static SIGIL_RESULT decode_doc(uint8_t *out, size_t *out_len, const char *buf, size_t len)
{
    if (len > 0 && ((uint8_t)buf[0] == 0x84 || (uint8_t)buf[0] == 0xd2)) {
        if (len > SIGIL_ATTEST_MAX_DOC) {
            return sigil_errorf(SIGIL_ERR_PARSE, "document is over %d bytes", SIGIL_ATTEST_MAX_DOC);
        }
        memcpy(out, buf, len);
        *out_len = len;
        return sigil_ok();
    }
    char *b64 = malloc(len + 1);
    if (b64 == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isspace((unsigned char)buf[i])) {
            b64[n++] = buf[i];
        }
    }
    sigil_result r = sigil_base64_decode(out, SIGIL_ATTEST_MAX_DOC, out_len, b64, n);
    free(b64);
    if (!sigil_is_ok(r)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "document is neither CBOR nor base64 of at most %d bytes",
                            SIGIL_ATTEST_MAX_DOC);
    }
    return sigil_ok();
}

static json_t *hex_or_null(const uint8_t *p, size_t n)
{
    if (n == 0) {
        return json_null();
    }
    char *h = malloc(2 * n + 3);
    if (h == NULL) {
        return json_null();
    }
    json_t *j = json_string(sigil_hex_encode(h, p, n, 0));
    free(h);
    return j;
}

static void format_time(char *buf, size_t cap, uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(buf, cap, "?");
        return;
    }
    size_t l = strlen(buf);
    snprintf(buf + l, cap - l, ".%03uZ", (unsigned)(ms % 1000));
}

static void print_doc(const struct sigil_attest_doc *d, bool as_json)
{
    char when[48];
    format_time(when, sizeof when, d->timestamp_ms);
    json_t *o = json_object();
    json_object_set_new(o, "valid", json_true());
    json_object_set_new(o, "module_id", json_string(d->module_id));
    json_object_set_new(o, "digest", json_string(d->digest));
    json_object_set_new(o, "timestamp_ms", json_integer((json_int_t)d->timestamp_ms));
    json_object_set_new(o, "timestamp", json_string(when));
    json_t *pcrs = json_object();
    for (int i = 0; i < SIGIL_ATTEST_NPCRS; i++) {
        if (d->pcr_present[i]) {
            char k[8];
            snprintf(k, sizeof k, "%d", i);
            json_object_set_new(pcrs, k, hex_or_null(d->pcrs[i], d->pcr_len[i]));
        }
    }
    json_object_set_new(o, "pcrs", pcrs);
    json_object_set_new(o, "public_key", hex_or_null(d->public_key, d->public_key_len));
    json_object_set_new(o, "user_data", hex_or_null(d->user_data, d->user_data_len));
    json_object_set_new(o, "nonce", hex_or_null(d->nonce, d->nonce_len));
    if (as_json) {
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s != NULL) {
            printf("%s\n", s);
            free(s);
        }
    } else {
        printf("valid attestation document\nmodule_id  %s\ntimestamp  %s (%llu ms)\ndigest     %s\n", d->module_id,
               when, (unsigned long long)d->timestamp_ms, d->digest);
        const char *key;
        json_t *v;
        json_object_foreach(pcrs, key, v) { printf("PCR%-7s %s\n", key, json_string_value(v)); }
        static const char *const names[] = {"public_key", "user_data", "nonce"};
        for (size_t i = 0; i < 3; i++) {
            json_t *f = json_object_get(o, names[i]);
            printf("%-10s %s\n", names[i], json_is_string(f) ? json_string_value(f) : "(none)");
        }
    }
    json_decref(o);
}

struct cli_args {
    const char *doc, *root;
    bool json, have_at;
    uint64_t at;
    uint8_t nonce[512];
    size_t nonce_len;
    bool have_nonce;
    uint8_t pcr[SIGIL_ATTEST_NPCRS][48];
    int pcr_idx[SIGIL_ATTEST_NPCRS];
    size_t n_pcr;
};

static int parse_pcr(struct cli_args *a, const char *s)
{
    const char *eq = strchr(s, '=');
    int idx;
    if (eq == NULL || eq == s || eq - s > 2 || !digits(s, (size_t)(eq - s), &idx) || idx >= SIGIL_ATTEST_NPCRS) {
        return usage("--pcr needs N=HEX with N in 0..15");
    }
    if (a->n_pcr == SIGIL_ATTEST_NPCRS) {
        return usage("at most 16 --pcr options");
    }
    if (!sigil_is_ok(sigil_hex_decode_exact(a->pcr[a->n_pcr], 48, eq + 1, strlen(eq + 1)))) {
        return usage("--pcr value must be 96 hex digits (48 bytes)");
    }
    a->pcr_idx[a->n_pcr++] = idx;
    return 0;
}

static int parse_args(struct cli_args *a, int argc, char **argv, int i)
{
    for (; i < argc; i++) {
        const char *s = argv[i];
        bool has_next = i + 1 < argc;
        if (strcmp(s, "--json") == 0) {
            a->json = true;
        } else if (strcmp(s, "--root") == 0 && has_next) {
            a->root = argv[++i];
        } else if (strcmp(s, "--at") == 0 && has_next) {
            if (!sigil_is_ok(attest_parse_rfc3339(&a->at, argv[++i]))) {
                return usage("--at needs an RFC 3339 time such as 2022-11-09T22:52:00Z");
            }
            a->have_at = true;
        } else if (strcmp(s, "--pcr") == 0 && has_next) {
            int rc = parse_pcr(a, argv[++i]);
            if (rc != 0) {
                return rc;
            }
        } else if (strcmp(s, "--nonce") == 0 && has_next) {
            const char *h = argv[++i];
            if (!sigil_is_ok(sigil_hex_decode(a->nonce, sizeof a->nonce, &a->nonce_len, h, strlen(h))) ||
                a->nonce_len == 0) {
                return usage("--nonce needs 1..512 bytes of hex");
            }
            a->have_nonce = true;
        } else if ((s[0] != '-' || strcmp(s, "-") == 0) && a->doc == NULL) {
            a->doc = s;
        } else {
            return usage("unknown or incomplete option");
        }
    }
    if (a->doc == NULL) {
        return usage("missing DOC");
    }
    return 0;
}

static int cmd_verify(const struct cli_args *a)
{
    int rc = 2;
    char *file = NULL, *root = NULL;
    size_t file_len = 0, root_len = 0, doc_len = 0;
    uint8_t *doc = malloc(SIGIL_ATTEST_MAX_DOC);
    struct sigil_attest_doc *out = malloc(sizeof *out);
    if (doc == NULL || out == NULL) {
        fprintf(stderr, "sigil attest: out of memory.\n");
        goto out;
    }
    sigil_result r = sigil_read_file(&file, &file_len, a->doc, CLI_FILE_MAX);
    if (!sigil_is_ok(r)) {
        rc = fail_input("cannot read the document", r);
        goto out;
    }
    r = decode_doc(doc, &doc_len, file, file_len);
    if (!sigil_is_ok(r)) {
        rc = fail_input("malformed document", r);
        goto out;
    }
    if (a->root != NULL) {
        r = sigil_read_file(&root, &root_len, a->root, CLI_FILE_MAX);
        if (!sigil_is_ok(r)) {
            rc = fail_input("cannot read the root certificate", r);
            goto out;
        }
    }
    struct sigil_attest_verify_opts opts = {
        .root_pem = root,
        .root_pem_len = root_len,
        .at_time_s = a->have_at ? a->at : 0,
        .expect_nonce = a->have_nonce ? a->nonce : NULL,
        .expect_nonce_len = a->nonce_len,
        .expect_pcr = a->pcr,
        .expect_pcr_index = a->pcr_idx,
        .n_expect_pcr = a->n_pcr,
    };
    r = sigil_attest_verify(out, doc, doc_len, &opts);
    if (sigil_is_ok(r)) {
        print_doc(out, a->json);
        rc = 0;
        goto out;
    }
    const char *d = sigil_error_detail();
    if (r.code == SIGIL_ERR_CRYPTO || r.code == SIGIL_ERR_FORBIDDEN) {
        fprintf(stderr, "sigil attest: invalid attestation document: %s.\n", *d ? d : sigil_strerror(r.code));
        if (a->json) {
            json_t *o = json_pack("{s:b, s:s}", "valid", 0, "error", *d ? d : sigil_strerror(r.code));
            char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
            if (s != NULL) {
                printf("%s\n", s);
            }
            free(s);
            json_decref(o);
        }
        rc = 1;
    } else {
        rc = fail_input(r.code == SIGIL_ERR_ARG ? "bad argument" : "malformed document", r);
    }
out:
    free(file);
    free(root);
    free(doc);
    free(out);
    return rc;
}

int sigil_attest_cli(int argc, char **argv)
{
    int i = 0;
    if (i < argc && strcmp(argv[i], "attest") == 0) {
        i++;
    }
    if (i >= argc) {
        return usage("missing subcommand");
    }
    if (strcmp(argv[i], "verify") != 0) {
        return usage("unknown subcommand");
    }
    struct cli_args *a = calloc(1, sizeof *a);
    if (a == NULL) {
        fprintf(stderr, "sigil attest: out of memory.\n");
        return 2;
    }
    int rc = parse_args(a, argc, argv, i + 1);
    if (rc == 0) {
        rc = cmd_verify(a);
    }
    free(a);
    return rc;
}
