/* Key-loading benchmark: first load (keystores) and cached load of N keys, wall time and peak
 * RSS, printed as one JSON object on stdout.
 *
 *   keyload_bench [--keys N] [--dir D] [--threads T] [--scrypt-keys M] [--keep] [--verbose]
 *
 * 1. writes N keystores with the fixture's cheap KDF (pbkdf2, c = 1; see gen_keystores.c) and a
 *    random cache password, unless D already holds them;
 * 2. "first": a fresh process loads them with the cache enabled and no cache file (decrypts every
 *    keystore, writes the cache);
 * 3. "cached": another fresh process loads them again (every key from the cache);
 * 4. with M > 0, "scrypt_sample": M keystores at the EIP's real cost (scrypt N = 2^18) are loaded
 *    without a cache, and the per-key time extrapolates the real first load of N keys.
 * Each load runs in its own exec'ed process so its peak RSS (VmHWM) is its own. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/secmem.h"
#include "crypto/eip2335.h"
#include "keys/keystore.h"

int gen_keystores(const char *dir, size_t start, size_t n, enum sigil_eip2335_kdf kdf, uint32_t cost, unsigned threads);

struct child_result {
    double seconds;
    size_t found, loaded, from_cache, failed;
    long vmhwm_kib, maxrss_kib;
    double sign_check_ms;
    double process_seconds; /* fork to exit, measured by the parent */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long vmhwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            v = strtol(line + 6, NULL, 10);
        }
    }
    (void)fclose(f);
    return v;
}

/* In the child: one load, then one signature as a sanity check; prints one line of numbers. */
static int child_main(const char *dir, const char *cache, unsigned threads, int verbose, int kek_mode)
{
    /* A fixed KEK stands in for the one KMS would unwrap in production. */
    static const uint8_t kek[32] = {0x5a, 0x11, 0x6e, 0x42};
    char ks_dir[4096], pw_dir[4096], cache_pw[4096];
    snprintf(ks_dir, sizeof(ks_dir), "%s/keystores", dir);
    snprintf(pw_dir, sizeof(pw_dir), "%s/passwords", dir);
    snprintf(cache_pw, sizeof(cache_pw), "%s/cache.pw", dir);
    sigil_log_init(verbose ? SIGIL_LOG_INFO : SIGIL_LOG_WARN, 2);
    sigil_log_set_component("keyload_bench");
    struct sigil_keystore *ks = NULL;
    if (!sigil_is_ok(sigil_keystore_new(&ks))) {
        return 1;
    }
    struct sigil_load_opts o = {.keystores_dir = ks_dir, .passwords_dir = pw_dir, .threads = threads};
    if (strcmp(cache, "-") != 0) {
        o.cache_path = cache;
        if (kek_mode) {
            o.cache_kek = kek;
        } else {
            o.cache_password_file = cache_pw;
        }
    }
    struct sigil_load_report rep;
    sigil_result r = sigil_keystore_load_dir(ks, &o, &rep);
    if (!sigil_is_ok(r)) {
        fprintf(stderr, "keyload_bench: load failed: %s %s\n", sigil_strerror(r.code), sigil_error_detail());
        return 1;
    }
    /* Ready means able to sign: time one signature with the first key. */
    struct timespec a, b;
    double sign_ms = -1;
    struct sigil_key_info *info = NULL;
    size_t n = 0;
    if (sigil_is_ok(sigil_keystore_list(ks, &info, &n)) && n > 0) {
        uint8_t msg[32] = {0}, sig[96];
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (!sigil_is_ok(sigil_keystore_sign(ks, info[0].pubkey, msg, sizeof(msg), sig))) {
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        sign_ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    }
    free(info);
    printf("%.6f %zu %zu %zu %zu %ld %.3f\n", rep.seconds, rep.found, rep.loaded, rep.from_cache, rep.failed,
           vmhwm_kib(), sign_ms);
    (void)fflush(stdout);
    sigil_keystore_free(ks);
    return 0;
}

static int run_child(struct child_result *cr, const char *self, const char *dir, const char *cache, unsigned threads,
                     int verbose, int kek_mode)
{
    int fds[2];
    if (pipe(fds) != 0) {
        return -1;
    }
    char th[32];
    snprintf(th, sizeof(th), "%u", threads);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char *argv[] = {(char *)self, "--child",           (char *)dir,          (char *)cache,
                        th,           verbose ? "1" : "0", kek_mode ? "k" : "p", NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fds[1]);
    char buf[512];
    size_t got = 0;
    for (;;) {
        ssize_t k = read(fds[0], buf + got, sizeof(buf) - 1 - got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        got += (size_t)k;
    }
    buf[got] = '\0';
    close(fds[0]);
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return -1;
    }
    memset(cr, 0, sizeof(*cr));
    cr->process_seconds = now_s() - t0;
    cr->maxrss_kib = ru.ru_maxrss;
    if (sscanf(buf, "%lf %zu %zu %zu %zu %ld %lf", &cr->seconds, &cr->found, &cr->loaded, &cr->from_cache, &cr->failed,
               &cr->vmhwm_kib, &cr->sign_check_ms) != 7) {
        return -1;
    }
    return 0;
}

static void print_result(const char *name, const struct child_result *c, int comma)
{
    printf("  \"%s\": {\"seconds\": %.3f, \"found\": %zu, \"loaded\": %zu, \"from_cache\": %zu, \"failed\": %zu, "
           "\"process_seconds\": %.3f, \"vmhwm_kib\": %ld, \"maxrss_kib\": %ld, \"first_sign_ms\": %.3f}%s\n",
           name, c->seconds, c->found, c->loaded, c->from_cache, c->failed, c->process_seconds, c->vmhwm_kib,
           c->maxrss_kib, c->sign_check_ms, comma ? "," : "");
}

static int write_cache_password(const char *dir)
{
    char path[4096], hex[65];
    uint8_t rnd[32];
    snprintf(path, sizeof(path), "%s/cache.pw", dir);
    if (access(path, F_OK) == 0) {
        return 0;
    }
    if (!sigil_random_bytes(rnd, sizeof(rnd))) {
        return -1;
    }
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "%s\n", hex);
    return fclose(f);
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* True when keystore start + n - 1 exists (a previous --keep run generated the set). */
static int count_ok(const char *dir, size_t start, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/keystores/keystore-%06zu.json", dir, start + n - 1);
    return access(path, F_OK) == 0;
}

int main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "--child") == 0) {
        return child_main(argv[2], argv[3], (unsigned)strtoul(argv[4], NULL, 10), argv[5][0] == '1', argv[6][0] == 'k');
    }
    size_t keys = 10000, scrypt_keys = 0;
    unsigned threads = 0;
    const char *dir = "/tmp/sigil-keyload-bench";
    int keep = 0, verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--keep") == 0) {
            keep = 1;
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
        } else if (i + 1 < argc && strcmp(a, "--keys") == 0) {
            keys = strtoul(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(a, "--scrypt-keys") == 0) {
            scrypt_keys = strtoul(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(a, "--threads") == 0) {
            threads = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(a, "--dir") == 0) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "usage: keyload_bench [--keys N] [--dir D] [--threads T] [--scrypt-keys M] [--keep] "
                            "[--verbose]\n");
            return 2;
        }
    }
    if (keys == 0 || strlen(dir) > 1024) {
        fprintf(stderr, "keyload_bench: --keys must be > 0 and --dir at most 1024 bytes\n");
        return 2;
    }
    char fast_dir[2048], cache[2048], kek_cache[2048], scrypt_dir[2048];
    snprintf(fast_dir, sizeof(fast_dir), "%s/fast", dir);
    snprintf(cache, sizeof(cache), "%s/fast/keys.cache", dir);
    snprintf(kek_cache, sizeof(kek_cache), "%s/fast/keys-kek.cache", dir);
    snprintf(scrypt_dir, sizeof(scrypt_dir), "%s/scrypt", dir);
    (void)mkdir(dir, 0700);

    double g0 = now_s();
    if (!count_ok(fast_dir, 0, keys) && gen_keystores(fast_dir, 0, keys, SIGIL_EIP2335_PBKDF2, 1, threads) != 0) {
        return 1;
    }
    if (write_cache_password(fast_dir) != 0) {
        return 1;
    }
    double gen_s = now_s() - g0;

    struct child_result first, cached, kek_first, kek_cached, sample;
    (void)unlink(cache);
    (void)unlink(kek_cache);
    if (run_child(&first, argv[0], fast_dir, cache, threads, verbose, 0) != 0 ||
        run_child(&cached, argv[0], fast_dir, cache, threads, verbose, 0) != 0 ||
        run_child(&kek_first, argv[0], fast_dir, kek_cache, threads, verbose, 1) != 0 ||
        run_child(&kek_cached, argv[0], fast_dir, kek_cache, threads, verbose, 1) != 0) {
        fprintf(stderr, "keyload_bench: a load failed\n");
        return 1;
    }
    struct stat sb;
    long cache_bytes = stat(cache, &sb) == 0 ? (long)sb.st_size : -1;
    int have_sample = 0;
    if (scrypt_keys > 0) {
        if (!count_ok(scrypt_dir, keys, scrypt_keys) &&
            gen_keystores(scrypt_dir, keys, scrypt_keys, SIGIL_EIP2335_SCRYPT, 0, threads) != 0) {
            return 1;
        }
        if (run_child(&sample, argv[0], scrypt_dir, "-", threads, verbose, 0) != 0) {
            fprintf(stderr, "keyload_bench: the scrypt sample load failed\n");
            return 1;
        }
        have_sample = 1;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("{\n  \"keys\": %zu, \"threads\": %u, \"cpus\": %ld, \"fixture_kdf\": \"pbkdf2 c=1\", "
           "\"generate_seconds\": %.3f, \"cache_bytes\": %ld,\n",
           keys, threads, cpus, gen_s, cache_bytes);
    print_result("first_load_fixture", &first, 1);
    print_result("cached_load", &cached, 1);
    print_result("cached_load_kek", &kek_cached, 1);
    if (have_sample) {
        print_result("scrypt_sample", &sample, 1);
        double per_key = sample.seconds / (double)sample.loaded;
        printf("  \"scrypt_first_load_extrapolated_seconds\": %.1f,\n", per_key * (double)keys);
    }
    printf("  \"goal\": {\"cached_seconds\": 3.0, \"cached_rss_mib\": 64, \"cached_seconds_ratio\": %.3f, "
           "\"cached_rss_ratio\": %.3f, \"all_from_cache\": %s}\n}\n",
           cached.seconds / 3.0, (double)cached.vmhwm_kib / (64.0 * 1024.0),
           cached.from_cache == keys ? "true" : "false");
    if (!keep && nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "keyload_bench: could not remove %s\n", dir);
    }
    return cached.from_cache == keys && kek_cached.from_cache == keys && first.loaded == keys &&
                   kek_first.loaded == keys
               ? 0
               : 1;
}
