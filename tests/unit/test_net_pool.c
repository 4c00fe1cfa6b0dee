/* Tests for src/net/pool.c: every job runs, free drains the queue, jobs may submit jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <unistd.h>

#include "net/pool.h"

static atomic_int g_done;
static struct sigil_pool *g_pool;

static void job(void *arg)
{
    (void)arg;
    usleep(100);
    atomic_fetch_add(&g_done, 1);
}

static void job_spawning(void *arg)
{
    (void)arg;
    atomic_fetch_add(&g_done, 1);
    sigil_pool_submit(g_pool, job, NULL);
}

static void test_pool_drains(void **state)
{
    (void)state;
    atomic_store(&g_done, 0);
    struct sigil_pool *p = NULL;
    assert_true(sigil_is_ok(sigil_pool_new(&p, 3)));
    assert_int_equal(sigil_pool_threads(p), 3);
    for (int i = 0; i < 2000; i++) {
        sigil_pool_submit(p, job, NULL);
    }
    sigil_pool_free(p); /* must run all queued work before returning */
    assert_int_equal(atomic_load(&g_done), 2000);
}

static void test_pool_nested_and_default(void **state)
{
    (void)state;
    atomic_store(&g_done, 0);
    assert_true(sigil_is_ok(sigil_pool_new(&g_pool, 0)));
    assert_true(sigil_pool_threads(g_pool) >= 1);
    for (int i = 0; i < 100; i++) {
        sigil_pool_submit(g_pool, job_spawning, NULL);
    }
    sigil_pool_free(g_pool);
    g_pool = NULL;
    assert_int_equal(atomic_load(&g_done), 200);
    sigil_pool_free(NULL);
}

static void test_pool_pending(void **state)
{
    (void)state;
    struct sigil_pool *p = NULL;
    assert_true(sigil_is_ok(sigil_pool_new(&p, 1)));
    atomic_store(&g_done, 0);
    for (int i = 0; i < 50; i++) {
        sigil_pool_submit(p, job, NULL);
    }
    assert_true(sigil_pool_pending(p) <= 50);
    sigil_pool_free(p);
    assert_int_equal(atomic_load(&g_done), 50);
    assert_int_equal(sigil_pool_new(NULL, 1).code, SIGIL_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_drains),
        cmocka_unit_test(test_pool_nested_and_default),
        cmocka_unit_test(test_pool_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
