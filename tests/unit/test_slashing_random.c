/* Randomised safety test: several threads (and, for PostgreSQL, two processes sharing the database)
 * issue random conflicting block and attestation requests for the same few keys. Every request that
 * succeeded is collected, and no two of them (nor any two records in the final export) may form a
 * slashable pair: double proposal, double vote or surround vote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/json.h"
#include "slashing/slashing.h"
#include "test_slashing_util.h"

#define KEYS     3
#define THREADS  4
#define REQUESTS 700 /* per thread and process */

struct rec {
    uint8_t kind, key; /* kind 0 block, 1 attestation */
    uint32_t a, b;     /* slot, or source and target */
    uint8_t variant;   /* which of the conflicting messages at that slot/vote */
};

struct worker {
    struct sigil_slashing_db *db;
    unsigned seed;
    struct rec *ok;
    size_t nok, refused, errors;
};

static uint8_t pks[KEYS][48];
static const uint8_t GVR[32] = {0x42, 1, 2, 3};

static void make_root(uint8_t root[32], const struct rec *r)
{
    memset(root, 0, 32);
    root[0] = r->kind;
    root[1] = r->key;
    memcpy(root + 2, &r->a, 4);
    memcpy(root + 6, &r->b, 4);
    root[10] = r->variant;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < REQUESTS; i++) {
        struct rec r = {0};
        r.kind = (uint8_t)(rand_r(&w->seed) % 2);
        r.key = (uint8_t)(rand_r(&w->seed) % KEYS);
        r.variant = (uint8_t)(rand_r(&w->seed) % 3);
        if (r.kind == 0) {
            r.a = (uint32_t)(rand_r(&w->seed) % 60);
        } else {
            r.a = (uint32_t)(rand_r(&w->seed) % 40);
            r.b = r.a + (uint32_t)(rand_r(&w->seed) % 8);
        }
        uint8_t root[32];
        make_root(root, &r);
        sigil_result res = r.kind == 0 ? sigil_slashing_sign_block(w->db, pks[r.key], r.a, root, GVR)
                                       : sigil_slashing_sign_attestation(w->db, pks[r.key], r.a, r.b, root, GVR);
        if (sigil_is_ok(res)) {
            w->ok[w->nok++] = r;
        } else if (res.code == SIGIL_ERR_SLASHING) {
            w->refused++;
        } else {
            fprintf(stderr, "unexpected error: %s: %s\n", sigil_strerror(res.code), sigil_error_detail());
            w->errors++;
        }
    }
    return NULL;
}

/* Runs THREADS workers on a fresh handle; returns the successful requests. */
static struct rec *run_process(const char *url, unsigned seed, size_t *n, size_t *refused, size_t *errors)
{
    struct sigil_slashing_db *db;
    if (!sigil_is_ok(sigil_slashing_open(&db, url))) {
        fprintf(stderr, "open: %s\n", sigil_error_detail());
        return NULL;
    }
    struct worker w[THREADS];
    pthread_t t[THREADS];
    struct rec *all = calloc(THREADS * REQUESTS, sizeof *all);
    *n = *refused = *errors = 0;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){db, seed * 7919u + (unsigned)i, calloc(REQUESTS, sizeof(struct rec)), 0, 0, 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        memcpy(all + *n, w[i].ok, w[i].nok * sizeof *all);
        *n += w[i].nok;
        *refused += w[i].refused;
        *errors += w[i].errors;
        free(w[i].ok);
    }
    struct sigil_slashing_stats st;
    sigil_slashing_stats(db, &st);
    print_message("pid %d: %zu signed, %zu refused, %llu commits, avg batch %.2f\n", (int)getpid(), *n, *refused,
                  (unsigned long long)st.commits, st.avg_batch);
    sigil_slashing_close(db);
    return all;
}

static bool slashable(const struct rec *x, const struct rec *y)
{
    if (x->kind != y->kind || x->key != y->key) {
        return false;
    }
    bool same = x->a == y->a && x->b == y->b && x->variant == y->variant;
    if (same) {
        return false;
    }
    if (x->kind == 0) {
        return x->a == y->a;
    }
    return x->b == y->b || (x->a < y->a && y->b < x->b) || (y->a < x->a && x->b < y->b);
}

static void check_pairs(const struct rec *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (slashable(&r[i], &r[j])) {
                fail_msg("slashable pair signed: kind %d key %d (%u,%u,v%d) and (%u,%u,v%d)", r[i].kind, r[i].key,
                         r[i].a, r[i].b, r[i].variant, r[j].a, r[j].b, r[j].variant);
            }
        }
    }
}

/* The final database content must be free of slashable pairs as well. */
static void check_export(const char *url)
{
    struct sigil_slashing_db *db;
    json_t *doc;
    assert_true(sigil_is_ok(sigil_slashing_open(&db, url)));
    assert_true(sigil_is_ok(sigil_slashing_export(db, &doc, false, NULL, 0)));
    sigil_slashing_close(db);
    json_t *data = json_object_get(doc, "data");
    size_t cap = 100000, n = 0;
    struct rec *r = calloc(cap, sizeof *r);
    for (size_t v = 0; v < json_array_size(data); v++) {
        json_t *e = json_array_get(data, v), *x;
        size_t i;
        uint8_t pk[48];
        tsu_hex(pk, 48, json_string_value(json_object_get(e, "pubkey")));
        int key = -1;
        for (int k = 0; k < KEYS; k++) {
            key = memcmp(pks[k], pk, 48) == 0 ? k : key;
        }
        assert_true(key >= 0);
        json_array_foreach(json_object_get(e, "signed_blocks"), i, x)
        {
            uint8_t root[32];
            uint64_t slot;
            assert_true(sigil_is_ok(sigil_json_get_u64(&slot, x, "slot")));
            tsu_hex(root, 32, json_string_value(json_object_get(x, "signing_root")));
            r[n++] = (struct rec){0, (uint8_t)key, (uint32_t)slot, 0, root[10]};
        }
        json_array_foreach(json_object_get(e, "signed_attestations"), i, x)
        {
            uint8_t root[32];
            uint64_t s, t;
            assert_true(sigil_is_ok(sigil_json_get_u64(&s, x, "source_epoch")));
            assert_true(sigil_is_ok(sigil_json_get_u64(&t, x, "target_epoch")));
            tsu_hex(root, 32, json_string_value(json_object_get(x, "signing_root")));
            r[n++] = (struct rec){1, (uint8_t)key, (uint32_t)s, (uint32_t)t, root[10]};
        }
    }
    check_pairs(r, n);
    print_message("export: %zu records, no slashable pair\n", n);
    free(r);
    json_decref(doc);
}

static void setup_db(const char *url)
{
    struct sigil_slashing_db *db;
    assert_true(sigil_is_ok(sigil_slashing_open(&db, url)));
    for (int k = 0; k < KEYS; k++) {
        memset(pks[k], 0xa0 + k, 48);
    }
    assert_true(sigil_is_ok(sigil_slashing_register(db, (const uint8_t(*)[48])pks, KEYS)));
    assert_true(sigil_is_ok(sigil_slashing_check_gvr(db, GVR)));
    sigil_slashing_close(db);
}

static void run(const char *url, int processes)
{
    setup_db(url);
    int fds[2][2];
    pid_t pids[2] = {0, 0};
    for (int p = 1; p < processes; p++) {
        assert_int_equal(pipe(fds[p]), 0);
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(fds[p][0]);
            size_t n, refused, errors;
            struct rec *r = run_process(url, 1000u + (unsigned)p, &n, &refused, &errors);
            if (r == NULL || errors > 0) {
                _exit(1);
            }
            uint64_t hdr = n;
            if (write(fds[p][1], &hdr, sizeof hdr) != sizeof hdr) {
                _exit(1);
            }
            size_t off = 0, len = n * sizeof *r;
            while (off < len) {
                ssize_t w = write(fds[p][1], (const char *)r + off, len - off);
                if (w <= 0) {
                    _exit(1);
                }
                off += (size_t)w;
            }
            _exit(0);
        }
        close(fds[p][1]);
    }
    size_t n, refused, errors;
    struct rec *mine = run_process(url, 1, &n, &refused, &errors);
    assert_non_null(mine);
    assert_int_equal(errors, 0);
    struct rec *all = calloc((size_t)processes * THREADS * REQUESTS, sizeof *all);
    memcpy(all, mine, n * sizeof *all);
    size_t total = n;
    free(mine);
    for (int p = 1; p < processes; p++) {
        uint64_t hdr = 0;
        assert_int_equal(read(fds[p][0], &hdr, sizeof hdr), sizeof hdr);
        size_t off = 0, len = (size_t)hdr * sizeof *all;
        while (off < len) {
            ssize_t r = read(fds[p][0], (char *)(all + total) + off, len - off);
            assert_true(r > 0);
            off += (size_t)r;
        }
        total += (size_t)hdr;
        close(fds[p][0]);
        int status;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    print_message("%d process(es): %zu successful signings in total\n", processes, total);
    assert_true(total > 50);
    check_pairs(all, total);
    free(all);
    check_export(url);
}

static void test_sqlite_threads(void **state)
{
    (void)state;
    if (tsu_pg_required()) {
        skip();
    }
    char *d = tsu_tmpdir(), url[256];
    snprintf(url, sizeof url, "sqlite:%s/r.db", d);
    run(url, 1);
    tsu_rmdir(d);
    free(d);
}

static void test_sqlite_two_processes(void **state)
{
    (void)state;
    if (tsu_pg_required()) {
        skip();
    }
    char *d = tsu_tmpdir(), url[256];
    snprintf(url, sizeof url, "sqlite:%s/r.db", d);
    run(url, 2);
    tsu_rmdir(d);
    free(d);
}

static void test_pg_two_processes(void **state)
{
    (void)state;
    const char *url = tsu_pg_url();
    if (url == NULL) {
        print_message("skipped: no PostgreSQL test cluster\n");
        skip();
    }
    assert_true(tsu_pg_reset(url));
    run(url, 2);
}

int main(void)
{
    if (tsu_pg_required() && tsu_pg_url() == NULL) {
        printf("skipped: the PostgreSQL test cluster is not available\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_threads),
        cmocka_unit_test(test_sqlite_two_processes),
        cmocka_unit_test(test_pg_two_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
