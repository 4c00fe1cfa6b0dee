/* Benchmark fixture: writes N EIP-2335 keystores and their password files, fast.
 *
 *   gen_keystores DIR N [--kdf pbkdf2|scrypt] [--cost C] [--threads T] [--start I]
 *
 * creates DIR/keystores/keystore-I.json and DIR/passwords/keystore-I.txt for I in
 * [start, start + N). Secret key I is KeyGen(SHA-256("sigil bench key" || I as 8 LE bytes)), so
 * runs are reproducible and keys of different runs do not collide unless their indices do.
 *
 * The default KDF is pbkdf2 with c = 1: generating (and first-loading) 10,000 keystores with
 * the EIP's scrypt N = 2^18 costs about 0.7 s each per core, over an hour here. That low cost is
 * for this benchmark fixture ONLY, so the loader's own overhead can be measured; real keystores
 * keep the default cost, and keyload_bench measures a sample at that cost to extrapolate the real
 * first-load time (docs/key-cache.md). Files are written without fsync: they are scratch data. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/eip2335.h"

struct gen_job {
    const char *dir;
    size_t start, n;
    struct sigil_eip2335_params params;
    _Atomic size_t next;
    _Atomic int failed;
};

/* The password of bench keystore i (public: it protects throw-away keys). */
static int bench_password(char *out, size_t cap, size_t i) { return snprintf(out, cap, "bench-password-%zu", i); }

static int write_plain(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    return close(fd);
}

static int gen_one(const struct gen_job *job, size_t i, sigil_bls_sk *sk)
{
    uint8_t ikm[32], seed[24] = "sigil bench key";
    for (int k = 0; k < 8; k++) {
        seed[15 + k] = (uint8_t)((uint64_t)i >> (8 * k));
    }
    SHA256(seed, 23, ikm);
    sigil_result r = sigil_bls_keygen(sk, ikm, sizeof(ikm), NULL, 0);
    sigil_wipe(ikm, sizeof(ikm));
    if (!sigil_is_ok(r)) {
        return -1;
    }
    char pw[64], path[4096];
    int pwl = bench_password(pw, sizeof(pw), i);
    char *json = NULL;
    size_t len = 0;
    r = sigil_eip2335_create(&json, &len, sk, pw, (size_t)pwl, NULL, &job->params);
    sigil_wipe(sk, sizeof(*sk));
    if (!sigil_is_ok(r)) {
        return -1;
    }
    int rc = -1;
    snprintf(path, sizeof(path), "%s/keystores/keystore-%06zu.json", job->dir, i);
    if (write_plain(path, json, len) == 0) {
        snprintf(path, sizeof(path), "%s/passwords/keystore-%06zu.txt", job->dir, i);
        rc = write_plain(path, pw, (size_t)pwl);
    }
    free(json);
    return rc;
}

static void *gen_worker(void *arg)
{
    struct gen_job *job = arg;
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof(*sk));
    if (sk == NULL) {
        atomic_store(&job->failed, 1);
        return NULL;
    }
    for (;;) {
        size_t k = atomic_fetch_add(&job->next, 1);
        if (k >= job->n || atomic_load(&job->failed)) {
            break;
        }
        if (gen_one(job, job->start + k, sk) != 0) {
            atomic_store(&job->failed, 1);
        }
    }
    sigil_secure_free(sk);
    return NULL;
}

static int mkdir_p(const char *path) { return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1; }

/* Writes n keystores (indices start..start+n-1) under dir. kdf/cost as for
 * sigil_eip2335_create. Returns 0 on success, -1 on any failure (message on stderr). */
int gen_keystores(const char *dir, size_t start, size_t n, enum sigil_eip2335_kdf kdf, uint32_t cost, unsigned threads)
{
    char sub[4096];
    if (mkdir_p(dir) != 0) {
        fprintf(stderr, "gen_keystores: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    const char *subs[] = {"keystores", "passwords"};
    for (int i = 0; i < 2; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]);
        if (mkdir_p(sub) != 0) {
            fprintf(stderr, "gen_keystores: cannot create %s: %s\n", sub, strerror(errno));
            return -1;
        }
    }
    struct gen_job job = {.dir = dir, .start = start, .n = n, .params = {kdf, cost, "sigil benchmark fixture"}};
    if (threads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (unsigned)c : 1;
    }
    if (threads > 64) {
        threads = 64;
    }
    pthread_t tid[64];
    unsigned started = 0;
    for (unsigned i = 1; i < threads; i++) {
        if (pthread_create(&tid[started], NULL, gen_worker, &job) == 0) {
            started++;
        }
    }
    (void)gen_worker(&job);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
    }
    if (atomic_load(&job.failed)) {
        fprintf(stderr, "gen_keystores: writing keystores under %s failed\n", dir);
        return -1;
    }
    return 0;
}

#ifndef SIGIL_GEN_KEYSTORES_NO_MAIN
int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gen_keystores DIR N [--kdf pbkdf2|scrypt] [--cost C] [--threads T] [--start I]\n");
        return 2;
    }
    enum sigil_eip2335_kdf kdf = SIGIL_EIP2335_PBKDF2;
    unsigned long cost = 1, threads = 0, start = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--kdf") == 0) {
            kdf = strcmp(argv[i + 1], "scrypt") == 0 ? SIGIL_EIP2335_SCRYPT : SIGIL_EIP2335_PBKDF2;
        } else if (strcmp(argv[i], "--cost") == 0) {
            cost = strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--threads") == 0) {
            threads = strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--start") == 0) {
            start = strtoul(argv[i + 1], NULL, 10);
        } else {
            fprintf(stderr, "gen_keystores: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (kdf == SIGIL_EIP2335_SCRYPT && cost == 1) {
        cost = 0; /* the EIP's default */
    }
    return gen_keystores(argv[1], start, strtoul(argv[2], NULL, 10), kdf, (uint32_t)cost, (unsigned)threads) == 0 ? 0
                                                                                                                  : 1;
}
#endif
