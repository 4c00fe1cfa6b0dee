/* eth1_raw_bench: the baseline for bench/eth1_bench.sh, and its keystores.
 *
 *   eth1_raw_bench sign [--seconds S] [--threads T]
 *       raw libsecp256k1 signing as a wallet does it: keccak256 of a transaction-sized payload
 *       (an EIP-1559 signing payload of 110 bytes) and secp256k1_ecdsa_sign_recoverable of the
 *       digest, on T threads (default: online CPUs), each with its own randomised context. Prints
 *       {"threads":T,"seconds":S,"signatures":N,"signatures_per_second":R,"sign_us":per-core µs}.
 *   eth1_raw_bench keystores DIR N
 *       writes N Web3 v3 keystores (pbkdf2, low cost, so generating them is quick) to DIR/keystores
 *       with their passwords in DIR/passwords, and prints the addresses.
 */
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/secmem.h"
#include "crypto/keccak.h"
#include "eth1/secp256k1.h"

static atomic_bool stop;

struct worker {
    pthread_t th;
    unsigned id;
    unsigned long long n;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *sign_main(void *arg)
{
    struct worker *w = arg;
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t seed[32];
    uint8_t sk[32];
    if (!sigil_random_bytes(seed, sizeof seed) || !sigil_random_bytes(sk, sizeof sk) ||
        secp256k1_context_randomize(ctx, seed) != 1) {
        fprintf(stderr, "eth1_raw_bench: no randomness\n");
        exit(1);
    }
    sk[0] &= 0x7f; /* below the group order */
    uint8_t payload[110];
    memset(payload, 0xa5, sizeof payload);
    payload[0] = 0x02;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        /* a new payload each time (the nonce field), as every transaction differs */
        memcpy(payload + 8, &w->n, sizeof w->n);
        uint8_t digest[32];
        sigil_keccak256(digest, payload, sizeof payload);
        secp256k1_ecdsa_recoverable_signature sig;
        if (secp256k1_ecdsa_sign_recoverable(ctx, &sig, digest, sk, NULL, NULL) != 1) {
            fprintf(stderr, "eth1_raw_bench: signing failed\n");
            exit(1);
        }
        uint8_t out[64];
        int recid = 0;
        secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, out, &recid, &sig);
        w->n++;
    }
    sigil_wipe(sk, sizeof sk);
    secp256k1_context_destroy(ctx);
    return NULL;
}

static int cmd_sign(int argc, char **argv)
{
    double seconds = 3;
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0) {
            seconds = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--threads") == 0) {
            threads = atol(argv[i + 1]);
        } else {
            fprintf(stderr, "usage: eth1_raw_bench sign [--seconds S] [--threads T]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 256 || !(seconds > 0)) {
        fprintf(stderr, "eth1_raw_bench: --threads 1..256, --seconds > 0\n");
        return 2;
    }
    struct worker *ws = calloc((size_t)threads, sizeof *ws);
    double t0 = now_s();
    for (long i = 0; i < threads; i++) {
        ws[i].id = (unsigned)i;
        pthread_create(&ws[i].th, NULL, sign_main, &ws[i]);
    }
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop, true);
    unsigned long long n = 0;
    for (long i = 0; i < threads; i++) {
        pthread_join(ws[i].th, NULL);
        n += ws[i].n;
    }
    double el = now_s() - t0;
    double rate = (double)n / el;
    printf("{\"threads\":%ld,\"seconds\":%.2f,\"signatures\":%llu,\"signatures_per_second\":%.1f,\"sign_us\":%.2f}\n",
           threads, el, n, rate, 1e6 * (double)threads / rate);
    free(ws);
    return 0;
}

static int cmd_keystores(const char *dir, long n)
{
    char ks[4096];
    char pw[4096];
    snprintf(ks, sizeof ks, "%s/keystores", dir);
    snprintf(pw, sizeof pw, "%s/passwords", dir);
    if ((mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0) || mkdir(ks, 0700) != 0 || mkdir(pw, 0700) != 0) {
        fprintf(stderr, "eth1_raw_bench: cannot create %s/{keystores,passwords}\n", dir);
        return 1;
    }
    struct sigil_eth1_keystore_params prm = {SIGIL_ETH1_KDF_PBKDF2, 1024};
    for (long i = 0; i < n; i++) {
        sigil_secp256k1_sk *sk = NULL;
        char *json = NULL;
        size_t len = 0;
        char password[32];
        snprintf(password, sizeof password, "bench %ld", i);
        uint8_t addr[20];
        if (!sigil_is_ok(sigil_secp256k1_sk_generate(&sk)) ||
            !sigil_is_ok(sigil_eth1_keystore_create(&json, &len, sk, password, strlen(password), &prm)) ||
            !sigil_is_ok(sigil_secp256k1_address(addr, sk))) {
            fprintf(stderr, "eth1_raw_bench: keystore %ld failed\n", i);
            return 1;
        }
        sigil_secp256k1_sk_free(sk);
        char path[4200];
        snprintf(path, sizeof path, "%s/key-%ld.json", ks, i);
        FILE *f = fopen(path, "w");
        if (f == NULL || fwrite(json, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "eth1_raw_bench: cannot write %s\n", path);
            return 1;
        }
        free(json);
        snprintf(path, sizeof path, "%s/key-%ld.txt", pw, i);
        f = fopen(path, "w");
        if (f == NULL || fprintf(f, "%s\n", password) < 0 || fclose(f) != 0) {
            fprintf(stderr, "eth1_raw_bench: cannot write %s\n", path);
            return 1;
        }
        char a[43];
        sigil_eip55_encode(a, addr);
        printf("%s\n", a);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sign") == 0) {
        return cmd_sign(argc, argv);
    }
    if (argc == 4 && strcmp(argv[1], "keystores") == 0) {
        long n = atol(argv[3]);
        if (n < 1 || n > 100000) {
            fprintf(stderr, "eth1_raw_bench: N must be 1..100000\n");
            return 2;
        }
        return cmd_keystores(argv[2], n);
    }
    fprintf(stderr, "usage: eth1_raw_bench sign [--seconds S] [--threads T] | keystores DIR N\n");
    return 2;
}
