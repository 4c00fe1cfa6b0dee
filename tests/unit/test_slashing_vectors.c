/* The official EIP-3076 interchange test suite (eth-clients/slashing-protection-interchange-tests),
 * every file of $SIGIL_VECTORS/eip3076/tests, against the SQLite store and the PostgreSQL store.
 * We implement the complete strategy, so signings are checked against should_succeed_complete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "slashing/slashing.h"
#include "test_slashing_util.h"

static char tests_dir[4096];

struct counts {
    size_t files, blocks, atts, blocks_run, atts_run, imports;
};

static bool flag(const json_t *o, const char *k, const char *fallback)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL && fallback != NULL) {
        v = json_object_get(o, fallback);
    }
    assert_non_null(v);
    return json_is_true(v);
}

static uint64_t num(const json_t *o, const char *k)
{
    uint64_t v;
    assert_true(sigil_is_ok(sigil_json_get_u64(&v, o, k)));
    return v;
}

static void run_file(const char *path, const char *url, bool pg, struct counts *c)
{
    json_error_t err;
    json_t *t = json_load_file(path, 0, &err);
    assert_non_null(t);
    const char *name = json_string_value(json_object_get(t, "name"));
    uint8_t gvr[32];
    tsu_hex(gvr, 32, json_string_value(json_object_get(t, "genesis_validators_root")));
    if (pg) {
        assert_true(tsu_pg_reset(url));
    }
    struct sigil_slashing_db *db;
    sigil_result r = sigil_slashing_open(&db, url);
    if (!sigil_is_ok(r)) {
        fail_msg("%s: open: %s", name, sigil_error_detail());
    }
    assert_true(sigil_is_ok(sigil_slashing_check_gvr(db, gvr)));
    c->files++;
    json_t *steps = json_object_get(t, "steps");
    bool skip_rest = false;
    for (size_t si = 0; si < json_array_size(steps); si++) {
        json_t *step = json_array_get(steps, si);
        json_t *blocks = json_object_get(step, "blocks"), *atts = json_object_get(step, "attestations");
        c->blocks += json_array_size(blocks);
        c->atts += json_array_size(atts);
        if (skip_rest) {
            continue;
        }
        char *doc = json_dumps(json_object_get(step, "interchange"), JSON_COMPACT);
        assert_non_null(doc);
        struct sigil_slashing_import_report rep;
        r = sigil_slashing_import(db, doc, strlen(doc), NULL, 0, &rep);
        free(doc);
        c->imports++;
        bool should = flag(step, "should_succeed", NULL), slashable = flag(step, "contains_slashable_data", NULL);
        if (!should) {
            if (sigil_is_ok(r)) {
                fail_msg("%s step %zu: import should have failed", name, si);
            }
            continue;
        }
        if (!sigil_is_ok(r) || rep.skipped > 0) {
            if (slashable) {
                /* Allowed: rejecting (or partially importing) slashable data ends the test case. */
                skip_rest = true;
                continue;
            }
            fail_msg("%s step %zu: import failed: %s", name, si, sigil_error_detail());
        }
        for (size_t i = 0; i < json_array_size(blocks); i++) {
            json_t *b = json_array_get(blocks, i);
            uint8_t pk[48], root[32];
            tsu_hex(pk, 48, json_string_value(json_object_get(b, "pubkey")));
            tsu_hex(root, 32, json_string_value(json_object_get(b, "signing_root")));
            bool want = flag(b, "should_succeed_complete", "should_succeed");
            /* Keys in the checks are registered by the signer at key load. */
            assert_true(sigil_is_ok(sigil_slashing_register(db, (const uint8_t(*)[48])pk, 1)));
            r = sigil_slashing_sign_block(db, pk, num(b, "slot"), root, gvr);
            if (sigil_is_ok(r) != want) {
                fail_msg("%s step %zu block %zu (slot %llu): expected %s, got %s (%s)", name, si, i,
                         (unsigned long long)num(b, "slot"), want ? "success" : "refusal", sigil_strerror(r.code),
                         sigil_error_detail());
            }
            if (!want) {
                assert_int_equal(r.code, SIGIL_ERR_SLASHING);
            }
            c->blocks_run++;
        }
        for (size_t i = 0; i < json_array_size(atts); i++) {
            json_t *a = json_array_get(atts, i);
            uint8_t pk[48], root[32];
            tsu_hex(pk, 48, json_string_value(json_object_get(a, "pubkey")));
            tsu_hex(root, 32, json_string_value(json_object_get(a, "signing_root")));
            bool want = flag(a, "should_succeed_complete", "should_succeed");
            assert_true(sigil_is_ok(sigil_slashing_register(db, (const uint8_t(*)[48])pk, 1)));
            r = sigil_slashing_sign_attestation(db, pk, num(a, "source_epoch"), num(a, "target_epoch"), root, gvr);
            if (sigil_is_ok(r) != want) {
                fail_msg("%s step %zu attestation %zu (%llu->%llu): expected %s, got %s (%s)", name, si, i,
                         (unsigned long long)num(a, "source_epoch"), (unsigned long long)num(a, "target_epoch"),
                         want ? "success" : "refusal", sigil_strerror(r.code), sigil_error_detail());
            }
            if (!want) {
                assert_int_equal(r.code, SIGIL_ERR_SLASHING);
            }
            c->atts_run++;
        }
    }
    sigil_slashing_close(db);
    json_decref(t);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void run_suite(const char *url_or_null, bool pg)
{
    DIR *d = opendir(tests_dir);
    assert_non_null(d);
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) {
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    struct counts c = {0};
    char *tmp = pg ? NULL : tsu_tmpdir();
    for (size_t i = 0; i < n; i++) {
        char path[8192], url[8192];
        snprintf(path, sizeof path, "%s/%s", tests_dir, names[i]);
        if (pg) {
            snprintf(url, sizeof url, "%s", url_or_null);
        } else {
            snprintf(url, sizeof url, "sqlite:%s/case%zu.db", tmp, i);
        }
        run_file(path, url, pg, &c);
        free(names[i]);
    }
    if (tmp != NULL) {
        tsu_rmdir(tmp);
        free(tmp);
    }
    print_message("%s: %zu files, %zu/%zu block checks and %zu/%zu attestation checks run, %zu imports\n",
                  pg ? "postgresql" : "sqlite", c.files, c.blocks_run, c.blocks, c.atts_run, c.atts, c.imports);
    assert_int_equal(c.files, 38);
    assert_int_equal(c.blocks, 71);
    assert_int_equal(c.atts, 79);
    /* We import every step (working around slashable data), so every check runs. */
    assert_int_equal(c.blocks_run, 71);
    assert_int_equal(c.atts_run, 79);
}

static void test_sqlite(void **state)
{
    (void)state;
    if (tsu_pg_required()) {
        skip(); /* the PostgreSQL-only run of the fixture */
    }
    run_suite(NULL, false);
}

static void test_postgresql(void **state)
{
    (void)state;
    const char *url = tsu_pg_url();
    if (url == NULL) {
        if (tsu_pg_required()) {
            fail_msg("SIGIL_PG_REQUIRED is set but no PostgreSQL URL is available");
        }
        print_message("skipped: no PostgreSQL test cluster (SIGIL_PG_URL / SIGIL_PG_URL_FILE)\n");
        skip();
    }
    run_suite(url, true);
}

int main(void)
{
    const char *v = getenv("SIGIL_VECTORS");
    if (v == NULL) {
        printf("skipped: SIGIL_VECTORS is not set\n");
        return 77;
    }
    snprintf(tests_dir, sizeof tests_dir, "%s/eip3076/tests", v);
    DIR *d = opendir(tests_dir);
    if (d == NULL) {
        printf("skipped: %s is absent\n", tests_dir);
        return 77;
    }
    closedir(d);
    if (tsu_pg_required() && tsu_pg_url() == NULL) {
        printf("skipped: the PostgreSQL test cluster is not available\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite),
        cmocka_unit_test(test_postgresql),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
