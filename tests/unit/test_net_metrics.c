/* Tests for src/net/metrics.c: the rendered text is checked by a small Prometheus text-format
 * (0.0.4) parser: HELP/TYPE once per family and before its samples, valid names and labels,
 * numeric values, cumulative histogram buckets ending in +Inf == _count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/metrics.h"

struct parsed {
    int families;
    int samples;
};

/* Validates text; returns false (and prints the line) on the first violation. */
static bool validate_exposition(const char *text, struct parsed *out)
{
    char typed[64][128];
    char types[64][16];
    int ntyped = 0;
    char cur[128] = "";
    double last_bucket = -1, inf_bucket = -1;
    memset(out, 0, sizeof *out);
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        if (nl == NULL) {
            fprintf(stderr, "no final newline\n");
            return false;
        }
        char line[1024];
        size_t len = (size_t)(nl - p);
        if (len >= sizeof line) {
            return false;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl + 1;
        if (strncmp(line, "# HELP ", 7) == 0) {
            char name[128];
            if (sscanf(line + 7, "%127s", name) != 1 || !sigil_metrics_name_valid(name)) {
                goto bad;
            }
            snprintf(cur, sizeof cur, "%s", name);
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[128], type[16];
            if (sscanf(line + 7, "%127s %15s", name, type) != 2 || strcmp(name, cur) != 0) {
                goto bad;
            }
            for (int i = 0; i < ntyped; i++) {
                if (strcmp(typed[i], name) == 0) {
                    goto bad; /* TYPE twice */
                }
            }
            if (strcmp(type, "counter") != 0 && strcmp(type, "gauge") != 0 && strcmp(type, "histogram") != 0) {
                goto bad;
            }
            snprintf(typed[ntyped], sizeof typed[0], "%s", name);
            snprintf(types[ntyped], sizeof types[0], "%s", type);
            ntyped++;
            out->families++;
            last_bucket = -1;
            continue;
        }
        if (line[0] == '#') {
            goto bad;
        }
        /* sample: name[{labels}] value */
        char name[128];
        size_t n = strcspn(line, "{ ");
        if (n == 0 || n >= sizeof name) {
            goto bad;
        }
        memcpy(name, line, n);
        name[n] = '\0';
        if (!sigil_metrics_name_valid(name)) {
            goto bad;
        }
        const char *rest = line + n;
        char labels[512] = "";
        if (*rest == '{') {
            const char *end = strstr(rest, "} ");
            if (end == NULL || (size_t)(end - rest - 1) >= sizeof labels) {
                goto bad;
            }
            memcpy(labels, rest + 1, (size_t)(end - rest - 1));
            labels[end - rest - 1] = '\0';
            if (!sigil_metrics_labels_valid(labels)) {
                goto bad;
            }
            rest = end + 1;
        }
        if (*rest != ' ') {
            goto bad;
        }
        char *endp;
        double v = strtod(rest + 1, &endp);
        if (*endp != '\0' || endp == rest + 1) {
            goto bad;
        }
        /* the sample belongs to the current family */
        int fam = ntyped - 1;
        if (fam < 0) {
            goto bad;
        }
        const char *fname = typed[fam];
        size_t fl = strlen(fname);
        if (strncmp(name, fname, fl) != 0) {
            goto bad;
        }
        const char *suffix = name + fl;
        if (strcmp(types[fam], "histogram") == 0) {
            if (strcmp(suffix, "_bucket") == 0) {
                if (strstr(labels, "le=\"") == NULL || v < last_bucket) {
                    goto bad;
                }
                last_bucket = v;
                if (strstr(labels, "le=\"+Inf\"") != NULL) {
                    inf_bucket = v;
                }
            } else if (strcmp(suffix, "_count") == 0) {
                if (v != inf_bucket) {
                    goto bad;
                }
                last_bucket = -1;
            } else if (strcmp(suffix, "_sum") != 0) {
                goto bad;
            }
        } else if (*suffix != '\0') {
            goto bad;
        }
        out->samples++;
        continue;
    bad:
        fprintf(stderr, "invalid exposition line: %s\n", line);
        return false;
    }
    return true;
}

static void test_render_format(void **state)
{
    (void)state;
    struct sigil_metrics *m = sigil_metrics_new();
    struct sigil_counter *a = sigil_metrics_counter(
        m, "signing_requests_total", "Signing requests.\nBy type \\ status.", "type=\"ATTESTATION\",status=\"200\"");
    struct sigil_counter *b =
        sigil_metrics_counter(m, "signing_requests_total", "ignored", "type=\"BLOCK_V2\",status=\"412\"");
    assert_ptr_equal(a,
                     sigil_metrics_counter(m, "signing_requests_total", NULL, "type=\"ATTESTATION\",status=\"200\""));
    struct sigil_gauge *g = sigil_metrics_gauge(m, "keys_loaded", "Keys loaded.", NULL);
    struct sigil_gauge *gi = sigil_metrics_gauge(m, "weird_values", "Special doubles.", "k=\"inf\"");
    struct sigil_gauge *gn = sigil_metrics_gauge(m, "weird_values", "Special doubles.", "k=\"nan\"");
    const double bounds[] = {0.001, 0.01, 0.1, 1};
    struct sigil_histogram *h =
        sigil_metrics_histogram(m, "sign_seconds", "Signing time.", "type=\"a\\\"b\"", bounds, 4);
    sigil_metrics_counter(m, "empty_family_total", "No samples yet? still has one series.", NULL);
    sigil_counter_add(a, 5);
    sigil_counter_add(b, 1);
    sigil_gauge_set(g, 10000);
    sigil_gauge_add(g, 0.5);
    sigil_gauge_set(gi, INFINITY);
    sigil_gauge_set(gn, NAN);
    sigil_histogram_observe(h, 0.0005);
    sigil_histogram_observe(h, 0.05);
    sigil_histogram_observe(h, 0.05);
    sigil_histogram_observe(h, 5);
    size_t len = 0;
    char *text = sigil_metrics_render(m, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    struct parsed pr;
    assert_true(validate_exposition(text, &pr));
    assert_int_equal(pr.families, 5);
    assert_non_null(strstr(text, "# HELP signing_requests_total Signing requests.\\nBy type \\\\ status.\n"));
    assert_non_null(strstr(text, "signing_requests_total{type=\"ATTESTATION\",status=\"200\"} 5\n"));
    assert_non_null(strstr(text, "signing_requests_total{type=\"BLOCK_V2\",status=\"412\"} 1\n"));
    assert_non_null(strstr(text, "keys_loaded 10000.5\n"));
    assert_non_null(strstr(text, "weird_values{k=\"inf\"} +Inf\n"));
    assert_non_null(strstr(text, "weird_values{k=\"nan\"} NaN\n"));
    assert_non_null(strstr(text, "sign_seconds_bucket{type=\"a\\\"b\",le=\"0.001\"} 1\n"));
    assert_non_null(strstr(text, "sign_seconds_bucket{type=\"a\\\"b\",le=\"0.01\"} 1\n"));
    assert_non_null(strstr(text, "sign_seconds_bucket{type=\"a\\\"b\",le=\"0.1\"} 3\n"));
    assert_non_null(strstr(text, "sign_seconds_bucket{type=\"a\\\"b\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(text, "sign_seconds_sum{type=\"a\\\"b\"} 5.1005\n"));
    assert_non_null(strstr(text, "sign_seconds_count{type=\"a\\\"b\"} 4\n"));
    /* one HELP per family even with several label sets */
    assert_null(strstr(strstr(text, "# HELP signing_requests_total") + 1, "# HELP signing_requests_total"));
    free(text);
    sigil_metrics_free(m);
}

static void test_misuse(void **state)
{
    (void)state;
    struct sigil_metrics *m = sigil_metrics_new();
    assert_null(sigil_metrics_counter(m, "bad name", "x", NULL));
    assert_null(sigil_metrics_counter(m, "9starts_with_digit", "x", NULL));
    assert_null(sigil_metrics_counter(m, "ok_total", "x", "unquoted=value"));
    assert_null(sigil_metrics_counter(m, "ok_total", "x", "a=\"line\nbreak\""));
    assert_null(sigil_metrics_counter(m, "ok_total", "x", "a=\"1\",")); /* trailing comma */
    assert_null(sigil_metrics_counter(m, "ok_total", "x", "a=\"\\x\""));
    assert_non_null(sigil_metrics_counter(m, "ok_total", "x", NULL));
    assert_null(sigil_metrics_gauge(m, "ok_total", "x", NULL)); /* type clash */
    const double unsorted[] = {1, 0.5};
    assert_null(sigil_metrics_histogram(m, "h", "x", NULL, unsorted, 2));
    const double inf[] = {INFINITY};
    assert_null(sigil_metrics_histogram(m, "h", "x", NULL, inf, 1));
    assert_non_null(sigil_metrics_histogram(m, "h", "x", NULL, NULL, 0));
    /* NULL handles are no-ops */
    sigil_counter_add(NULL, 1);
    sigil_gauge_set(NULL, 1);
    sigil_gauge_add(NULL, 1);
    sigil_histogram_observe(NULL, 1);
    char *text = sigil_metrics_render(m, NULL);
    struct parsed pr;
    assert_true(validate_exposition(text, &pr));
    free(text);
    sigil_metrics_free(m);
    sigil_metrics_free(NULL);
}

struct hammer {
    struct sigil_counter *c;
    struct sigil_histogram *h;
    struct sigil_gauge *g;
};

static void *hammer_main(void *arg)
{
    struct hammer *hm = arg;
    for (int i = 0; i < 100000; i++) {
        sigil_counter_add(hm->c, 1);
        sigil_histogram_observe(hm->h, 0.25);
        sigil_gauge_add(hm->g, 1);
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    struct sigil_metrics *m = sigil_metrics_new();
    const double bounds[] = {0.1, 1};
    struct hammer hm = {sigil_metrics_counter(m, "c_total", "c", NULL),
                        sigil_metrics_histogram(m, "h_seconds", "h", NULL, bounds, 2),
                        sigil_metrics_gauge(m, "g", "g", NULL)};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        pthread_create(&th[i], NULL, hammer_main, &hm);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    assert_int_equal(sigil_counter_value(hm.c), 400000);
    assert_true(sigil_gauge_value(hm.g) == 400000.0);
    char *text = sigil_metrics_render(m, NULL);
    assert_non_null(strstr(text, "h_seconds_count 400000\n"));
    assert_non_null(strstr(text, "h_seconds_sum 100000\n"));
    struct parsed pr;
    assert_true(validate_exposition(text, &pr));
    free(text);
    sigil_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_format),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_concurrent_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
