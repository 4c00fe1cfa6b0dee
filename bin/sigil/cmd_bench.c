/* sigil bench bls: median time per BLS operation on fixed, published inputs, so an external
 * reference (bench/blst_bench.mjs with @chainsafe/blst) can time exactly the same work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/hex.h"
#include "common/secmem.h"
#include "crypto/bls.h"

#define FAV_KEYS 128

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct bench_ctx {
    sigil_bls_sk sk;
    sigil_bls_pk pk;
    sigil_bls_sig sig;
    sigil_bls_pk fav_pks[FAV_KEYS];
    sigil_bls_sig fav_sig;
    uint8_t msg[32];
    uint8_t pk_bytes[SIGIL_BLS_PK_LEN];
    uint8_t sig_bytes[SIGIL_BLS_SIG_LEN];
    volatile int sink;
};

typedef void (*bench_fn)(struct bench_ctx *c);

static void op_sign(struct bench_ctx *c)
{
    sigil_bls_sig s;
    sigil_bls_sign(&s, &c->sk, c->msg, sizeof c->msg);
    c->sink += (int)s.x[0][0];
}
static void op_verify(struct bench_ctx *c) { c->sink += sigil_bls_verify_var(&c->pk, c->msg, sizeof c->msg, &c->sig); }
static void op_h2g2(struct bench_ctx *c)
{
    sigil_bls_g2 p;
    sigil_bls_hash_to_g2(&p, c->msg, sizeof c->msg, (const uint8_t *)SIGIL_BLS_DST_SIG, strlen(SIGIL_BLS_DST_SIG));
    c->sink += (int)p.x[0][0];
}
static void op_sk_to_pk(struct bench_ctx *c)
{
    sigil_bls_pk p;
    sigil_bls_sk_to_pk(&p, &c->sk);
    c->sink += (int)p.x[0];
}
static void op_pk_decompress(struct bench_ctx *c)
{
    sigil_bls_pk p;
    c->sink += sigil_bls_pk_decompress(&p, c->pk_bytes).code;
}
static void op_sig_decompress(struct bench_ctx *c)
{
    sigil_bls_sig s;
    c->sink += sigil_bls_sig_decompress(&s, c->sig_bytes).code;
}
static void op_fav(struct bench_ctx *c)
{
    c->sink += sigil_bls_fast_aggregate_verify_var(c->fav_pks, FAV_KEYS, c->msg, sizeof c->msg, &c->fav_sig);
}

/* Median of per-call times, sampling for about `seconds` (at least 10 calls). */
static double median_us(bench_fn fn, struct bench_ctx *c, double seconds)
{
    size_t cap = 1 << 16, n = 0;
    double *t = malloc(cap * sizeof *t);
    if (t == NULL) {
        return -1;
    }
    fn(c); /* warm up */
    double start = now_us();
    while (n < cap && (n < 10 || now_us() - start < seconds * 1e6)) {
        double t0 = now_us();
        fn(c);
        t[n++] = now_us() - t0;
    }
    qsort(t, n, sizeof *t, cmp_double);
    double m = t[n / 2];
    free(t);
    return m;
}

static void bench_key(uint8_t out[32], unsigned i)
{
    memset(out, 0, 32);
    out[28] = (uint8_t)(i >> 24);
    out[29] = (uint8_t)(i >> 16);
    out[30] = (uint8_t)(i >> 8);
    out[31] = (uint8_t)i;
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "bls") != 0) {
        return cli_fail("bench: expected 'bls'");
    }
    const char *json, *secs;
    struct cli_opt opts[] = {{"json", false, &json}, {"seconds", true, &secs}};
    if (!cli_parse(argc - 1, argv + 1, opts, 2, NULL, 0, NULL, "bench bls")) {
        return CLI_BAD;
    }
    double seconds = secs ? atof(secs) : 1.0;
    if (!(seconds > 0 && seconds <= 60)) {
        return cli_fail("bench bls: --seconds must be between 0 and 60");
    }
    struct bench_ctx *c = sigil_secure_alloc(sizeof *c);
    if (c == NULL) {
        return cli_fail("out of memory");
    }
    /* Published inputs: sk = 0x0101..01 (32 bytes of 0x01), msg = 32 bytes of 0xab, and the 128
     * fast-aggregate keys are the integers 1..128. These are benchmark constants, not secrets. */
    uint8_t skb[32];
    memset(skb, 0x01, sizeof skb);
    memset(c->msg, 0xab, sizeof c->msg);
    if (!sigil_is_ok(sigil_bls_sk_from_bytes(&c->sk, skb))) {
        sigil_secure_free(c);
        return cli_fail("bench: bad benchmark key");
    }
    sigil_bls_sk_to_pk(&c->pk, &c->sk);
    sigil_bls_sign(&c->sig, &c->sk, c->msg, sizeof c->msg);
    sigil_bls_pk_compress(c->pk_bytes, &c->pk);
    sigil_bls_sig_compress(c->sig_bytes, &c->sig);
    sigil_bls_sig *sigs = malloc(FAV_KEYS * sizeof *sigs);
    if (sigs == NULL) {
        sigil_secure_free(c);
        return cli_fail("out of memory");
    }
    for (unsigned i = 0; i < FAV_KEYS; i++) {
        uint8_t kb[32];
        sigil_bls_sk k;
        bench_key(kb, i + 1);
        if (!sigil_is_ok(sigil_bls_sk_from_bytes(&k, kb))) {
            free(sigs);
            sigil_secure_free(c);
            return cli_fail("bench: bad benchmark key");
        }
        sigil_bls_sk_to_pk(&c->fav_pks[i], &k);
        sigil_bls_sign(&sigs[i], &k, c->msg, sizeof c->msg);
        sigil_wipe(&k, sizeof k);
    }
    sigil_result r = sigil_bls_aggregate_sigs(&c->fav_sig, sigs, FAV_KEYS);
    free(sigs);
    if (!sigil_is_ok(r) || !sigil_bls_verify_var(&c->pk, c->msg, sizeof c->msg, &c->sig) ||
        !sigil_bls_fast_aggregate_verify_var(c->fav_pks, FAV_KEYS, c->msg, sizeof c->msg, &c->fav_sig)) {
        sigil_secure_free(c);
        return cli_fail("bench: self-check failed (signature does not verify)");
    }

    static const struct {
        const char *key;
        const char *label;
        bench_fn fn;
    } ops[] = {
        {"sign_us", "sign", op_sign},
        {"verify_us", "verify", op_verify},
        {"hash_to_g2_us", "hash_to_G2", op_h2g2},
        {"sk_to_pk_us", "sk_to_pk", op_sk_to_pk},
        {"pk_decompress_us", "pk decompress + subgroup check", op_pk_decompress},
        {"sig_decompress_us", "sig decompress + subgroup check", op_sig_decompress},
        {"fast_aggregate_verify_128_us", "fast_aggregate_verify (128 keys)", op_fav},
    };
    size_t nops = sizeof ops / sizeof ops[0];
    double res[sizeof ops / sizeof ops[0]];
    for (size_t i = 0; i < nops; i++) {
        res[i] = median_us(ops[i].fn, c, seconds);
    }
    if (json) {
        char skhex[67], msghex[67];
        sigil_hex_encode(skhex, skb, 32, 1);
        sigil_hex_encode(msghex, c->msg, 32, 1);
        printf("{");
        for (size_t i = 0; i < nops; i++) {
            printf("\"%s\":%.2f,", ops[i].key, res[i]);
        }
        printf("\"inputs\":{\"sk\":\"%s\",\"msg\":\"%s\",\"fast_aggregate_keys\":\"integers 1..%d\"}}\n", skhex, msghex,
               FAV_KEYS);
    } else {
        printf("%-36s %12s\n", "operation", "median (us)");
        for (size_t i = 0; i < nops; i++) {
            printf("%-36s %12.2f\n", ops[i].label, res[i]);
        }
    }
    sigil_secure_free(c);
    return CLI_OK;
}
