/* Durability: a child process signs blocks in a loop on SQLite (several threads, so group commits
 * happen) and writes each slot to a pipe only after the signing call returned. The parent kills it
 * with SIGKILL at a random moment; every slot the child reported must be in the database afterwards,
 * and a conflicting block at that slot must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "slashing/slashing.h"
#include "test_slashing_util.h"

#define THREADS 3
#define ROUNDS  4

static uint8_t PK[48];
static const uint8_t GVR[32] = {7};

struct child_arg {
    struct sigil_slashing_db *db;
    int fd, t;
    uint64_t base;
};

static void *child_thread(void *p)
{
    struct child_arg *a = p;
    for (uint64_t i = 0;; i++) {
        uint64_t slot = a->base + i * THREADS + (uint64_t)a->t;
        uint8_t root[32] = {1};
        memcpy(root + 8, &slot, 8);
        sigil_result r = sigil_slashing_sign_block(a->db, PK, slot, root, GVR);
        if (!sigil_is_ok(r)) {
            fprintf(stderr, "child: slot %llu: %s: %s\n", (unsigned long long)slot, sigil_strerror(r.code),
                    sigil_error_detail());
            _exit(3);
        }
        /* 8-byte writes to a pipe are atomic. */
        if (write(a->fd, &slot, sizeof slot) != sizeof slot) {
            _exit(4);
        }
    }
    return NULL;
}

static void child(const char *url, int fd, uint64_t base)
{
    struct sigil_slashing_db *db;
    if (!sigil_is_ok(sigil_slashing_open(&db, url))) {
        _exit(2);
    }
    struct child_arg a[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (struct child_arg){db, fd, i, base};
        pthread_create(&t[i], NULL, child_thread, &a[i]);
    }
    pthread_join(t[0], NULL);
    _exit(0);
}

static void test_kill9(void **state)
{
    (void)state;
    char *d = tsu_tmpdir(), url[256];
    snprintf(url, sizeof url, "sqlite:%s/d.db", d);
    memset(PK, 0xb5, sizeof PK);
    struct sigil_slashing_db *db;
    assert_true(sigil_is_ok(sigil_slashing_open(&db, url)));
    assert_true(sigil_is_ok(sigil_slashing_register(db, (const uint8_t(*)[48])PK, 1)));
    assert_true(sigil_is_ok(sigil_slashing_check_gvr(db, GVR)));
    /* The first signing sets the low watermark; the racing threads must all stay above it. */
    uint8_t first[32] = {2};
    assert_true(sigil_is_ok(sigil_slashing_sign_block(db, PK, 1, first, GVR)));
    sigil_slashing_close(db);

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    uint64_t base = 1000;
    size_t total = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(url, fds[1], base);
        }
        close(fds[1]);
        usleep(100000 + (useconds_t)(rand() % 400000));
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
            fail_msg("round %d: the child ended by itself (status %d)", round, status);
        }
        size_t cap = 1 << 20, n = 0;
        uint64_t *slots = malloc(cap * sizeof *slots);
        for (;;) {
            ssize_t r = read(fds[0], slots + n, (cap - n) * sizeof *slots);
            if (r <= 0) {
                break;
            }
            n += (size_t)r / sizeof *slots;
        }
        close(fds[0]);

        /* Every reported slot is present; a different block at it is refused. */
        assert_true(sigil_is_ok(sigil_slashing_open(&db, url)));
        json_t *doc;
        assert_true(sigil_is_ok(sigil_slashing_export(db, &doc, false, NULL, 0)));
        json_t *blocks = json_object_get(json_array_get(json_object_get(doc, "data"), 0), "signed_blocks");
        size_t nb = json_array_size(blocks);
        uint8_t *present = calloc(1 << 22, 1);
        uint64_t max = 0;
        for (size_t i = 0; i < nb; i++) {
            uint64_t s;
            assert_true(sigil_is_ok(sigil_json_get_u64(&s, json_array_get(blocks, i), "slot")));
            if (s < (1u << 22)) {
                present[s] = 1;
            }
            max = s > max ? s : max;
        }
        for (size_t i = 0; i < n; i++) {
            if (slots[i] >= (1u << 22) || !present[slots[i]]) {
                fail_msg("round %d: slot %llu was reported signed but is missing after kill -9", round,
                         (unsigned long long)slots[i]);
            }
        }
        if (n > 0) {
            uint8_t other[32] = {9};
            sigil_result r = sigil_slashing_sign_block(db, PK, slots[n - 1], other, GVR);
            assert_int_equal(r.code, SIGIL_ERR_SLASHING);
        }
        print_message("round %d: child reported %zu signings before SIGKILL, database holds %zu\n", round, n, nb);
        total += n;
        base = max + 1000;
        free(present);
        free(slots);
        json_decref(doc);
        sigil_slashing_close(db);
    }
    assert_true(total > 0);
    tsu_rmdir(d);
    free(d);
}

int main(void)
{
    if (tsu_pg_required()) {
        printf("skipped: SQLite-only test\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
