/* sigil keys derive | new, sigil keystore create | decrypt */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/hex.h"
#include "common/io.h"
#include "common/json.h"
#include "common/secmem.h"
#include "crypto/bip39.h"
#include "crypto/bls.h"
#include "crypto/deposit.h"
#include "crypto/eip2333.h"
#include "crypto/eip2335.h"
#include "crypto/keccak.h"

#define MAX_KEYSTORE_FILE (64 * 1024)
#define MAX_SEED_HEX      1024
#define MAX_KEYS_NEW      100000

static bool parse_kdf(struct sigil_eip2335_params *p, const char *kdf)
{
    memset(p, 0, sizeof *p);
    if (kdf == NULL || strcmp(kdf, "scrypt") == 0) {
        p->kdf = SIGIL_EIP2335_SCRYPT;
        return true;
    }
    if (strcmp(kdf, "pbkdf2") == 0) {
        p->kdf = SIGIL_EIP2335_PBKDF2;
        return true;
    }
    cli_fail("--kdf must be scrypt or pbkdf2");
    return false;
}

static bool parse_uint(uint64_t *out, const char *s, uint64_t max, const char *opt)
{
    if (s == NULL || !sigil_is_ok(sigil_parse_u64(out, s, strlen(s))) || *out > max) {
        cli_fail("--%s must be a whole number from 0 to %llu", opt, (unsigned long long)max);
        return false;
    }
    return true;
}

/* ---- keys derive ---- */

static int keys_derive(int argc, char **argv)
{
    const char *path, *from, *pass_file;
    struct cli_opt opts[] = {{"path", true, &path}, {"from", true, &from}, {"passphrase-file", true, &pass_file}};
    if (!cli_parse(argc, argv, opts, 3, NULL, 0, NULL, "keys derive")) {
        return CLI_BAD;
    }
    if (path == NULL) {
        return cli_fail("keys derive: --path PATH is required (e.g. m/12381/3600/0/0/0)");
    }
    bool mnemonic = false;
    if (from != NULL) {
        if (strcmp(from, "mnemonic") == 0) {
            mnemonic = true;
        } else if (strcmp(from, "seed") != 0) {
            return cli_fail("keys derive: --from must be seed or mnemonic");
        }
    }
    if (pass_file != NULL && !mnemonic) {
        return cli_fail("keys derive: --passphrase-file only applies with --from mnemonic");
    }
    uint32_t idx[SIGIL_EIP2333_MAX_DEPTH];
    size_t depth;
    sigil_result r = sigil_eip2333_path_parse(idx, &depth, path, false);
    if (!sigil_is_ok(r)) {
        return cli_fail_result("--path", r);
    }

    int rc = CLI_BAD;
    char *in = NULL, *pass = NULL;
    size_t in_len = 0, pass_len = 0;
    uint8_t *seed = sigil_secure_alloc(MAX_SEED_HEX / 2);
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    size_t seed_len = 0;
    if (seed == NULL || sk == NULL) {
        rc = cli_fail("out of memory");
        goto out;
    }
    r = sigil_read_fd_secure(&in, &in_len, STDIN_FILENO, SIGIL_BIP39_MAX_MNEMONIC);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("standard input", r);
        goto out;
    }
    if (mnemonic) {
        sigil_strip_newline(in, &in_len);
        if (pass_file != NULL) {
            r = cli_read_password_file(&pass, &pass_len, pass_file);
            if (!sigil_is_ok(r)) {
                rc = cli_fail_result("--passphrase-file", r);
                goto out;
            }
        }
        enum sigil_bip39_lang lang;
        r = sigil_bip39_validate(&lang, in, in_len, SIGIL_BIP39_AUTO);
        if (!sigil_is_ok(r)) {
            rc = cli_fail_result("mnemonic", r);
            goto out;
        }
        r = sigil_bip39_to_seed(seed, in, in_len, pass ? pass : "", pass_len);
        seed_len = SIGIL_BIP39_SEED_LEN;
    } else {
        r = sigil_hex_decode(seed, MAX_SEED_HEX / 2, &seed_len, in, in_len);
    }
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result(mnemonic ? "mnemonic" : "seed on standard input", r);
        goto out;
    }
    r = sigil_eip2333_derive_indices(sk, seed, seed_len, idx, depth);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("derive", r);
        goto out;
    }
    uint8_t skb[SIGIL_BLS_SK_LEN];
    sigil_bls_sk_to_bytes(skb, sk);
    cli_print_hex(skb, sizeof skb);
    sigil_wipe(skb, sizeof skb);
    rc = CLI_OK;
out:
    sigil_secure_free(in);
    sigil_secure_free(pass);
    sigil_secure_free(seed);
    sigil_secure_free(sk);
    return rc;
}

/* ---- keystore create / decrypt ---- */

static int keystore_create(int argc, char **argv)
{
    const char *pw_file, *kdf, *path, *cost;
    struct cli_opt opts[] = {
        {"password-file", true, &pw_file}, {"kdf", true, &kdf}, {"path", true, &path}, {"cost", true, &cost}};
    if (!cli_parse(argc, argv, opts, 4, NULL, 0, NULL, "keystore create")) {
        return CLI_BAD;
    }
    if (pw_file == NULL) {
        return cli_fail("keystore create: --password-file F is required");
    }
    struct sigil_eip2335_params params;
    if (!parse_kdf(&params, kdf)) {
        return CLI_BAD;
    }
    if (cost != NULL) {
        /* For tests and low-value keys only; the default is the EIP's 262144. */
        uint64_t c;
        if (!parse_uint(&c, cost, 10000000, "cost")) {
            return CLI_BAD;
        }
        params.cost = (uint32_t)c;
    }
    if (path != NULL) {
        uint32_t idx[SIGIL_EIP2333_MAX_DEPTH];
        size_t depth;
        sigil_result pr = sigil_eip2333_path_parse(idx, &depth, path, false);
        if (!sigil_is_ok(pr)) {
            return cli_fail_result("--path", pr);
        }
    }
    int rc = CLI_BAD;
    char *pw = NULL, *json = NULL;
    size_t pw_len = 0, json_len = 0;
    uint8_t *skb = sigil_secure_alloc(SIGIL_BLS_SK_LEN);
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    if (skb == NULL || sk == NULL) {
        rc = cli_fail("out of memory");
        goto out;
    }
    sigil_result r = cli_read_password_file(&pw, &pw_len, pw_file);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("--password-file", r);
        goto out;
    }
    r = cli_read_secret_hex_stdin(skb, SIGIL_BLS_SK_LEN);
    if (sigil_is_ok(r)) {
        r = sigil_bls_sk_from_bytes(sk, skb);
    }
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("secret key", r);
        goto out;
    }
    r = sigil_eip2335_create(&json, &json_len, sk, pw, pw_len, path ? path : "", &params);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("keystore create", r);
        goto out;
    }
    (void)fwrite(json, 1, json_len, stdout); /* stdout errors are caught once, in main */
    (void)fputs("\n", stdout);
    rc = CLI_OK;
out:
    free(json);
    sigil_secure_free(pw);
    sigil_secure_free(skb);
    sigil_secure_free(sk);
    return rc;
}

static int keystore_decrypt(int argc, char **argv)
{
    const char *ks_file, *pw_file;
    struct cli_opt opts[] = {{"keystore", true, &ks_file}, {"password-file", true, &pw_file}};
    if (!cli_parse(argc, argv, opts, 2, NULL, 0, NULL, "keystore decrypt")) {
        return CLI_BAD;
    }
    if (ks_file == NULL || pw_file == NULL) {
        return cli_fail("keystore decrypt: --keystore F and --password-file F are required");
    }
    int rc = CLI_BAD;
    char *json = NULL, *pw = NULL;
    size_t json_len = 0, pw_len = 0;
    sigil_bls_sk *sk = NULL;
    sigil_result r = sigil_read_file(&json, &json_len, ks_file, MAX_KEYSTORE_FILE);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("--keystore", r);
        goto out;
    }
    r = cli_read_password_file(&pw, &pw_len, pw_file);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("--password-file", r);
        goto out;
    }
    r = sigil_eip2335_decrypt(&sk, NULL, json, json_len, pw, pw_len);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result(ks_file, r);
        goto out;
    }
    uint8_t skb[SIGIL_BLS_SK_LEN];
    sigil_bls_sk_to_bytes(skb, sk);
    cli_print_hex(skb, sizeof skb);
    sigil_wipe(skb, sizeof skb);
    rc = CLI_OK;
out:
    free(json);
    sigil_secure_free(pw);
    sigil_secure_free(sk);
    return rc;
}

/* ---- keys new ---- */

struct new_job {
    const uint8_t *seed; /* secure memory, 64 bytes */
    const char *pw;
    size_t pw_len;
    struct sigil_eip2335_params params;
    uint8_t wc[32];
    uint64_t amount;
    const char *network;
    const char *out_dir;
    const char *stamp;
    uint32_t start, count;
    atomic_uint next;
    atomic_uint done;
    atomic_int failed;
    struct sigil_deposit_data *deposits;
    pthread_mutex_t err_lock;
    char err[256];
};

static void job_fail(struct new_job *job, const char *what, sigil_result r)
{
    pthread_mutex_lock(&job->err_lock);
    if (!atomic_exchange(&job->failed, 1)) {
        const char *d = sigil_error_detail();
        snprintf(job->err, sizeof job->err, "%s: %s%s%s%s", what, sigil_strerror(r.code), d[0] ? " (" : "", d,
                 d[0] ? ")" : "");
    }
    pthread_mutex_unlock(&job->err_lock);
}

static void *new_worker(void *arg)
{
    struct new_job *job = arg;
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    if (sk == NULL) {
        job_fail(job, "worker", sigil_error(SIGIL_ERR_NOMEM));
        return NULL;
    }
    for (;;) {
        unsigned k = atomic_fetch_add(&job->next, 1);
        if (k >= job->count || atomic_load(&job->failed)) {
            break;
        }
        uint32_t index = job->start + k;
        char path[48], fname[4096];
        sigil_eip2333_signing_path(path, index);
        sigil_result r = sigil_eip2333_derive_path(sk, job->seed, SIGIL_BIP39_SEED_LEN, path);
        if (!sigil_is_ok(r)) {
            job_fail(job, "derive", r);
            break;
        }
        r = sigil_deposit_create(&job->deposits[k], sk, job->wc, job->amount, job->network, NULL);
        if (!sigil_is_ok(r)) {
            job_fail(job, "deposit data", r);
            break;
        }
        char *json = NULL;
        size_t json_len = 0;
        r = sigil_eip2335_create(&json, &json_len, sk, job->pw, job->pw_len, path, &job->params);
        if (!sigil_is_ok(r)) {
            job_fail(job, "keystore", r);
            break;
        }
        /* staking-deposit-cli naming: keystore-m_12381_3600_<i>_0_0-<unix time>.json */
        snprintf(fname, sizeof fname, "%s/keystore-m_12381_3600_%u_0_0-%s.json", job->out_dir, index, job->stamp);
        r = sigil_write_file(fname, json, json_len, 0600, 1);
        free(json);
        if (!sigil_is_ok(r)) {
            job_fail(job, "write keystore", r);
            break;
        }
        atomic_fetch_add(&job->done, 1);
    }
    sigil_secure_free(sk);
    return NULL;
}

static void progress(unsigned done, unsigned total, bool tty)
{
    if (tty) {
        int width = 40;
        int filled = total ? (int)((uint64_t)done * width / total) : width;
        fprintf(stderr, "\r[%.*s%*s] %u/%u keystores", filled, "########################################",
                width - filled, "", done, total);
        if (done == total) {
            (void)fputs("\n", stderr);
        }
    } else {
        fprintf(stderr, "sigil: %u/%u keystores\n", done, total);
    }
    (void)fflush(stderr); /* progress is best effort */
}

static int keys_new(int argc, char **argv)
{
    const char *count_s, *start_s, *network, *waddr, *pw_file, *out_dir, *mn_file, *kdf, *compounding, *amount_s,
        *lang_s, *cost_s;
    struct cli_opt opts[] = {
        {"count", true, &count_s},
        {"start-index", true, &start_s},
        {"network", true, &network},
        {"withdrawal-address", true, &waddr},
        {"password-file", true, &pw_file},
        {"out", true, &out_dir},
        {"mnemonic-file", true, &mn_file},
        {"kdf", true, &kdf},
        {"compounding", false, &compounding},
        {"amount-gwei", true, &amount_s},
        {"language", true, &lang_s},
        {"cost", true, &cost_s},
    };
    if (!cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], NULL, 0, NULL, "keys new")) {
        return CLI_BAD;
    }
    if (count_s == NULL || network == NULL || waddr == NULL || pw_file == NULL || out_dir == NULL) {
        return cli_fail("keys new: --count, --network, --withdrawal-address, --password-file and --out are required");
    }
    uint64_t count, start = 0, amount;
    if (!parse_uint(&count, count_s, MAX_KEYS_NEW, "count") ||
        (start_s != NULL && !parse_uint(&start, start_s, UINT32_MAX - MAX_KEYS_NEW, "start-index"))) {
        return CLI_BAD;
    }
    if (count == 0) {
        return cli_fail("keys new: --count must be at least 1");
    }
    const struct sigil_deposit_network *net;
    if (!sigil_is_ok(sigil_deposit_network_lookup(&net, network))) {
        return cli_fail("keys new: unknown --network '%s' (mainnet, hoodi, sepolia or holesky)", network);
    }
    uint8_t addr[20];
    sigil_result r = sigil_eip55_parse(addr, waddr);
    if (!sigil_is_ok(r)) {
        return cli_fail_result("--withdrawal-address", r);
    }
    struct new_job job;
    memset(&job, 0, sizeof job);
    if (!parse_kdf(&job.params, kdf)) {
        return CLI_BAD;
    }
    if (cost_s != NULL) {
        uint64_t c;
        if (!parse_uint(&c, cost_s, 10000000, "cost")) {
            return CLI_BAD;
        }
        job.params.cost = (uint32_t)c;
    }
    uint8_t type = compounding ? SIGIL_DEPOSIT_WC_COMPOUNDING : SIGIL_DEPOSIT_WC_ETH1;
    amount = SIGIL_DEPOSIT_DEFAULT_AMOUNT;
    if (amount_s != NULL && !parse_uint(&amount, amount_s, SIGIL_DEPOSIT_MAX_COMPOUNDING, "amount-gwei")) {
        return CLI_BAD;
    }
    r = sigil_deposit_withdrawal_credentials(job.wc, type, addr);
    if (sigil_is_ok(r)) {
        r = sigil_deposit_check(job.wc, amount);
    }
    if (!sigil_is_ok(r)) {
        return cli_fail_result("deposit amount / withdrawal credentials", r);
    }
    enum sigil_bip39_lang lang = SIGIL_BIP39_ENGLISH;
    if (lang_s != NULL && (!sigil_is_ok(sigil_bip39_lang_from_name(&lang, lang_s)) || lang == SIGIL_BIP39_AUTO)) {
        return cli_fail("keys new: unknown --language '%s'", lang_s);
    }
    if (mkdir(out_dir, 0700) != 0 && errno != EEXIST) {
        return cli_fail("keys new: cannot create %s: %s", out_dir, strerror(errno));
    }

    int rc = CLI_BAD;
    char *pw = NULL, *mnemonic = NULL;
    size_t pw_len = 0, mn_len = 0;
    uint8_t *seed = sigil_secure_alloc(SIGIL_BIP39_SEED_LEN);
    pthread_t *threads = NULL;
    unsigned nthreads = 0;
    json_t *arr = NULL;
    char *dump = NULL;
    job.deposits = calloc(count, sizeof *job.deposits);
    pthread_mutex_init(&job.err_lock, NULL);
    if (seed == NULL || job.deposits == NULL) {
        rc = cli_fail("out of memory");
        goto out;
    }
    r = cli_read_password_file(&pw, &pw_len, pw_file);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("--password-file", r);
        goto out;
    }
    if (pw_len < 8) {
        rc = cli_fail("keys new: the keystore password must be at least 8 characters");
        goto out;
    }
    r = sigil_bip39_generate(&mnemonic, &mn_len, 256, lang);
    if (sigil_is_ok(r)) {
        r = sigil_bip39_to_seed(seed, mnemonic, mn_len, "", 0);
    }
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("mnemonic", r);
        goto out;
    }
    if (mn_file != NULL) {
        r = sigil_write_file(mn_file, mnemonic, mn_len, 0600, 1);
        if (!sigil_is_ok(r)) {
            rc = cli_fail_result("--mnemonic-file", r);
            goto out;
        }
        fprintf(stderr, "sigil: mnemonic written to %s (mode 0600). Back it up offline, then delete the file.\n",
                mn_file);
    } else {
        /* Shown once: this is the only copy besides the keystores. */
        fprintf(stdout,
                "This is your mnemonic (seed phrase). Write it down and store it safely; it is shown "
                "only once.\n\n%s\n\n",
                mnemonic);
        (void)fflush(stdout); /* stdout errors are caught once, in main */
    }

    char stamp[32];
    snprintf(stamp, sizeof stamp, "%lld", (long long)time(NULL));
    job.seed = seed;
    job.pw = pw;
    job.pw_len = pw_len;
    job.amount = amount;
    job.network = net->name;
    job.out_dir = out_dir;
    job.stamp = stamp;
    job.start = (uint32_t)start;
    job.count = (uint32_t)count;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    nthreads = (unsigned)(ncpu > 0 ? ncpu : 1);
    if (nthreads > count) {
        nthreads = (unsigned)count;
    }
    threads = calloc(nthreads, sizeof *threads);
    if (threads == NULL) {
        rc = cli_fail("out of memory");
        goto out;
    }
    unsigned started = 0;
    for (; started < nthreads; started++) {
        if (pthread_create(&threads[started], NULL, new_worker, &job) != 0) {
            break;
        }
    }
    if (started == 0) {
        rc = cli_fail("keys new: cannot start worker threads");
        goto out;
    }
    bool tty = isatty(STDERR_FILENO);
    unsigned last = UINT32_MAX;
    for (;;) {
        unsigned d = atomic_load(&job.done);
        if (d != last && (tty || d == job.count || d % 100 == 0)) {
            progress(d, job.count, tty);
            last = d;
        }
        if (d == job.count || atomic_load(&job.failed)) {
            break;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (unsigned t = 0; t < started; t++) {
        pthread_join(threads[t], NULL);
    }
    if (atomic_load(&job.failed)) {
        rc = cli_fail("keys new: %s", job.err);
        goto out;
    }
    arr = json_array();
    for (uint64_t k = 0; k < count; k++) {
        json_t *o = NULL;
        r = sigil_deposit_to_json(&o, &job.deposits[k]);
        if (!sigil_is_ok(r)) {
            rc = cli_fail_result("deposit data", r);
            goto out;
        }
        json_array_append_new(arr, o);
    }
    dump = json_dumps(arr, JSON_INDENT(0) | JSON_COMPACT | JSON_PRESERVE_ORDER);
    char dpath[4096];
    snprintf(dpath, sizeof dpath, "%s/deposit_data-%s.json", out_dir, stamp);
    r = dump ? sigil_write_file(dpath, dump, strlen(dump), 0644, 1) : sigil_error(SIGIL_ERR_NOMEM);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("deposit data", r);
        goto out;
    }
    fprintf(stderr, "sigil: %llu keystores and %s written\n", (unsigned long long)count, dpath);
    rc = CLI_OK;
out:
    free(dump);
    json_decref(arr);
    free(threads);
    free(job.deposits);
    pthread_mutex_destroy(&job.err_lock);
    sigil_secure_free(pw);
    sigil_secure_free(mnemonic);
    sigil_secure_free(seed);
    return rc;
}

int cmd_keys(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "derive") == 0) {
        return keys_derive(argc - 1, argv + 1);
    }
    if (argc >= 1 && strcmp(argv[0], "new") == 0) {
        return keys_new(argc - 1, argv + 1);
    }
    return cli_fail("keys: expected a subcommand: derive or new");
}

int cmd_keystore(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "create") == 0) {
        return keystore_create(argc - 1, argv + 1);
    }
    if (argc >= 1 && strcmp(argv[0], "decrypt") == 0) {
        return keystore_decrypt(argc - 1, argv + 1);
    }
    return cli_fail("keystore: expected a subcommand: create or decrypt");
}
