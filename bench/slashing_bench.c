/* Slashing-protection throughput: attestation check-and-record per second with 1, 2 and 8
 * concurrent threads (each thread signs for its own validators, like a signer serving many keys).
 * Usage: slashing_bench [URL] [seconds per run]   (default: a temporary SQLite file, 3 s) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "slashing/slashing.h"

#define KEYS_PER_THREAD 16

static struct sigil_slashing_db *db;
static atomic_bool stop;
static const uint8_t GVR[32] = {1};

struct worker {
    int id;
    uint64_t base, done, failed;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    uint8_t pks[KEYS_PER_THREAD][48];
    for (int k = 0; k < KEYS_PER_THREAD; k++) {
        memset(pks[k], 0, 48);
        pks[k][0] = (uint8_t)w->id;
        pks[k][1] = (uint8_t)k;
        pks[k][2] = 0xbe;
    }
    for (uint64_t e = w->base; !atomic_load(&stop); e++) {
        for (int k = 0; k < KEYS_PER_THREAD && !atomic_load(&stop); k++) {
            uint8_t root[32] = {0};
            memcpy(root, &e, 8);
            root[8] = (uint8_t)k;
            if (sigil_is_ok(sigil_slashing_sign_attestation(db, pks[k], e, e + 1, root, GVR))) {
                w->done++;
            } else {
                w->failed++;
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    char url[512], dir[] = "/tmp/sigil-slashing-bench-XXXXXX";
    bool tmp = argc < 2;
    if (tmp) {
        if (mkdtemp(dir) == NULL) {
            return 1;
        }
        snprintf(url, sizeof url, "sqlite:%s/bench.db", dir);
    } else {
        snprintf(url, sizeof url, "%s", argv[1]);
    }
    double secs = argc > 2 ? atof(argv[2]) : 3.0;
    if (!sigil_is_ok(sigil_slashing_open(&db, url))) {
        fprintf(stderr, "open: %s\n", sigil_error_detail());
        return 1;
    }
    uint8_t pks[8 * KEYS_PER_THREAD][48];
    for (int t = 0; t < 8; t++) {
        for (int k = 0; k < KEYS_PER_THREAD; k++) {
            uint8_t *p = pks[t * KEYS_PER_THREAD + k];
            memset(p, 0, 48);
            p[0] = (uint8_t)t;
            p[1] = (uint8_t)k;
            p[2] = 0xbe;
        }
    }
    if (!sigil_is_ok(sigil_slashing_register(db, (const uint8_t(*)[48])pks, 8 * KEYS_PER_THREAD))) {
        fprintf(stderr, "register: %s\n", sigil_error_detail());
        return 1;
    }
    static const int counts[] = {1, 2, 8};
    uint64_t base = 1;
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        int n = counts[c];
        pthread_t th[8];
        struct worker w[8];
        struct sigil_slashing_stats s0, s1;
        sigil_slashing_stats(db, &s0);
        atomic_store(&stop, false);
        double t0 = now();
        for (int i = 0; i < n; i++) {
            w[i] = (struct worker){i, base, 0, 0};
            pthread_create(&th[i], NULL, run, &w[i]);
        }
        usleep((useconds_t)(secs * 1e6));
        atomic_store(&stop, true);
        uint64_t done = 0, failed = 0;
        for (int i = 0; i < n; i++) {
            pthread_join(th[i], NULL);
            done += w[i].done;
            failed += w[i].failed;
        }
        double dt = now() - t0;
        sigil_slashing_stats(db, &s1);
        uint64_t commits = s1.commits - s0.commits;
        printf("%d thread(s): %8.0f attestations/s  (%llu ok, %llu failed, %llu commits, %.1f requests/commit, "
               "last commit %.0f us)\n",
               n, (double)done / dt, (unsigned long long)done, (unsigned long long)failed, (unsigned long long)commits,
               commits ? (double)done / (double)commits : 0.0, s1.last_commit_us);
        base += 10000000;
    }
    sigil_slashing_close(db);
    if (tmp) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) {
            return 1;
        }
    }
    return 0;
}
