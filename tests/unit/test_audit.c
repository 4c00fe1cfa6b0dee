/* The audit trail: concurrent group commit through the real file sink, restarts continuing the
 * chain, every tampering the verifier must catch (with the line it names), sink failure closing
 * the log, the checkpoint timer, attested start records (simulated NSM, dev root), hostile input
 * and the file sink's handling of existing files.
 * With SIGIL_AUDIT_WRITE_CORPUS=<dir> the test also writes fuzz seeds (clean and tampered logs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "attest/attest.h"
#include "audit/audit.h"
#include "audit/audit_internal.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/secmem.h"
#include "eth1/secp256k1.h"

static char dir[64];
static char base_path[128];      /* two sessions, 25 decisions, checkpoint every 8 */
static uint8_t base_addr[2][20]; /* audit keys of the two sessions */
static unsigned path_counter;

/* ---- helpers ---- */

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s-%u.log", dir, name, path_counter++);
}

struct lines {
    char **v;
    size_t n;
};

static struct lines read_lines(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct stat st;
    assert_int_equal(fstat(fileno(f), &st), 0);
    len = (size_t)st.st_size;
    buf = malloc(len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    buf[len] = '\0';
    struct lines l = {0};
    l.v = calloc(len + 1, sizeof *l.v);
    char *p = buf;
    while (*p != '\0') {
        char *nl = strchr(p, '\n');
        assert_non_null(nl); /* complete lines only */
        l.v[l.n++] = strndup(p, (size_t)(nl - p));
        p = nl + 1;
    }
    free(buf);
    return l;
}

static void write_lines(const char *path, const struct lines *l)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < l->n; i++) {
        (void)fputs(l->v[i], f);
        (void)fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
}

static void lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static struct lines lines_dup(const struct lines *src)
{
    struct lines l = {calloc(src->n + 8, sizeof(char *)), src->n};
    for (size_t i = 0; i < src->n; i++) {
        l.v[i] = strdup(src->v[i]);
    }
    return l;
}

static void lines_delete(struct lines *l, size_t idx)
{
    free(l->v[idx]);
    memmove(l->v + idx, l->v + idx + 1, (l->n - idx - 1) * sizeof(char *));
    l->n--;
}

static void lines_insert(struct lines *l, size_t idx, char *s)
{
    memmove(l->v + idx + 1, l->v + idx, (l->n - idx) * sizeof(char *));
    l->v[idx] = s;
    l->n++;
}

static void lines_set(struct lines *l, size_t idx, char *s)
{
    free(l->v[idx]);
    l->v[idx] = s;
}

static const char *line_type(const char *line)
{
    const char *t = strstr(line, "\"type\":\"");
    assert_non_null(t);
    t += 8;
    if (strncmp(t, "start", 5) == 0) {
        return "start";
    }
    if (strncmp(t, "decision", 8) == 0) {
        return "decision";
    }
    if (strncmp(t, "checkpoint", 10) == 0) {
        return "checkpoint";
    }
    return "stop";
}

/* Index of the nth (0-based) line of a type at or after from. */
static size_t find_type(const struct lines *l, const char *type, size_t from, size_t nth)
{
    for (size_t i = from; i < l->n; i++) {
        if (strcmp(line_type(l->v[i]), type) == 0 && nth-- == 0) {
            return i;
        }
    }
    fail_msg("no %s line", type);
    return 0;
}

/* The line with member key set to val (compact JSON, member order kept). */
static char *line_with(const char *line, const char *key, json_t *val)
{
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    assert_non_null(o);
    assert_int_equal(json_object_set_new(o, key, val), 0);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    assert_non_null(s);
    return s;
}

static json_t *hex_json(const uint8_t *b, size_t n, int prefix)
{
    char h[200];
    return json_string(sigil_hex_encode(h, b, n, prefix));
}

/* What an attacker who rewrites the file can do: recompute every prev from line `from` on, and
 * re-sign each checkpoint with their own key (declaring `declared` as signer, or their address). */
static void rechain(struct lines *l, size_t from, const sigil_secp256k1_sk *sk, const uint8_t *declared)
{
    uint8_t own[20] = {0};
    if (sk != NULL) {
        assert_int_equal(sigil_secp256k1_address(own, sk).code, SIGIL_OK);
    }
    for (size_t i = from; i < l->n; i++) {
        uint8_t h[32];
        if (i == 0) {
            memset(h, 0, sizeof h);
        } else {
            audit_line_hash(h, l->v[i - 1], strlen(l->v[i - 1]));
        }
        lines_set(l, i, line_with(l->v[i], "prev", hex_json(h, 32, 0)));
        if (strcmp(line_type(l->v[i]), "checkpoint") == 0) {
            assert_non_null(sk);
            json_t *o = json_loads(l->v[i], 0, NULL);
            uint64_t seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
            json_decref(o);
            uint8_t digest[32], raw[65];
            struct sigil_secp256k1_sig sig;
            audit_checkpoint_digest(digest, h, seq);
            assert_int_equal(sigil_secp256k1_sign(&sig, sk, digest).code, SIGIL_OK);
            memcpy(raw, sig.r, 32);
            memcpy(raw + 32, sig.s, 32);
            raw[64] = (uint8_t)(27 + sig.y_parity);
            lines_set(l, i, line_with(l->v[i], "head", hex_json(h, 32, 0)));
            lines_set(l, i, line_with(l->v[i], "sig", hex_json(raw, 65, 1)));
            lines_set(l, i, line_with(l->v[i], "signer", hex_json(declared ? declared : own, 20, 1)));
        }
    }
}

static sigil_result verify_lines(const struct lines *l, const struct sigil_audit_verify_opts *o,
                                 struct sigil_audit_report *rep, const char *corpus_name)
{
    char p[128];
    tmp_path(p, sizeof p, "tampered");
    write_lines(p, l);
    const char *cdir = getenv("SIGIL_AUDIT_WRITE_CORPUS");
    if (cdir != NULL && corpus_name != NULL) {
        char c[512];
        snprintf(c, sizeof c, "%s/%s.log", cdir, corpus_name);
        write_lines(c, l);
    }
    sigil_result r = sigil_audit_verify_file(p, o, rep);
    unlink(p);
    return r;
}

static void expect_problem(const struct lines *l, const struct sigil_audit_verify_opts *o, unsigned long long line,
                           const char *needle, const char *corpus_name)
{
    struct sigil_audit_report rep;
    sigil_result r = verify_lines(l, o, &rep, corpus_name);
    assert_int_equal(r.code, SIGIL_ERR_CRYPTO);
    assert_true(rep.problems > 0);
    unsigned long long n = 0;
    assert_int_equal(sscanf(rep.first_problem, "line %llu:", &n), 1);
    if (n != line || (needle != NULL && strstr(rep.first_problem, needle) == NULL)) {
        fail_msg("wanted line %llu (%s), got: %s", line, needle ? needle : "", rep.first_problem);
    }
}

static void expect_clean(const char *path, const struct sigil_audit_verify_opts *o, struct sigil_audit_report *rep)
{
    sigil_result r = sigil_audit_verify_file(path, o, rep);
    if (!sigil_is_ok(r)) {
        fail_msg("%s: %s (%llu problems)", sigil_strerror(r.code), rep->first_problem,
                 (unsigned long long)rep->problems);
    }
    assert_int_equal(rep->problems, 0);
}

static struct sigil_audit_event make_event(unsigned i, uint8_t account[20], uint8_t digest[32], uint8_t value[32])
{
    memset(account, 0xa0 + (i % 4), 20);
    memset(digest, 0, 32);
    for (int k = 0; k < 4; k++) {
        digest[k] = (uint8_t)(i >> (8 * k));
    }
    memset(value, 0, 32);
    value[31] = (uint8_t)i;
    value[30] = 0x0d;
    struct sigil_audit_event ev = {
        .kind = i % 3 == 0 ? "tx" : "personal_sign",
        .signed_ = i % 2 == 0,
        .policy = "treasury",
        .rule = i % 2 == 0 ? NULL : "max_value",
        .reason = i % 2 == 0 ? NULL : "value 3.1 ETH is over the 1 ETH limit",
        .client = "validator-a",
        .client_fingerprint = digest,
        .account = account,
        .digest = digest,
        .has_chain_id = true,
        .chain_id = 1,
        .to = account,
        .value_be = value,
        .approvals = i % 3,
    };
    return ev;
}

/* A sink wrapper: counts writes, can slow them (like a disk) and can fail on demand. */
struct wrap_sink {
    struct sigil_audit_sink inner;
    atomic_uint writes;
    atomic_uint bytes;
    unsigned delay_us;
    atomic_bool fail;
    atomic_bool closed;
};

static sigil_result wrap_write(void *ctx, const char *lines, size_t len)
{
    struct wrap_sink *w = ctx;
    if (atomic_load(&w->fail)) {
        return sigil_errorf(SIGIL_ERR_IO, "injected sink failure");
    }
    atomic_fetch_add(&w->writes, 1);
    atomic_fetch_add(&w->bytes, (unsigned)len);
    if (w->delay_us != 0) {
        usleep(w->delay_us);
    }
    return w->inner.write(w->inner.ctx, lines, len);
}

static void wrap_close(void *ctx)
{
    struct wrap_sink *w = ctx;
    w->inner.close(w->inner.ctx);
    atomic_store(&w->closed, true);
}

static struct sigil_audit *open_log(const char *path, struct wrap_sink *w, unsigned every, unsigned interval,
                                    sigil_result (*attest)(void *, const uint8_t *, uint8_t **, size_t *), void *actx)
{
    struct sigil_audit_config cfg = {.checkpoint_every = every, .interval_s = interval, .instance = "unit \"test\""};
    sigil_result r = sigil_audit_file_sink(&cfg.sink, path, &cfg.next_seq, cfg.prev_hash);
    assert_int_equal(r.code, SIGIL_OK);
    if (w != NULL) {
        w->inner = cfg.sink;
        cfg.sink = (struct sigil_audit_sink){.write = wrap_write, .close = wrap_close, .ctx = w};
    }
    memset(cfg.policy_hash, 0x11, 32);
    cfg.attest = attest;
    cfg.attest_ctx = actx;
    struct sigil_audit *a = NULL;
    r = sigil_audit_open(&a, &cfg);
    if (!sigil_is_ok(r)) {
        fail_msg("open: %s: %s", sigil_strerror(r.code), sigil_error_detail());
    }
    return a;
}

static void record_n(struct sigil_audit *a, unsigned from, unsigned n)
{
    for (unsigned i = from; i < from + n; i++) {
        uint8_t acc[20], dig[32], val[32];
        struct sigil_audit_event ev = make_event(i, acc, dig, val);
        assert_int_equal(sigil_audit_record(a, &ev).code, SIGIL_OK);
    }
}

static int group_setup(void **state)
{
    (void)state;
    sigil_log_init(SIGIL_LOG_ERROR, 2);
    snprintf(dir, sizeof dir, "/tmp/sigil-audit-test-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    /* The base log for the tamper tests: session 1 (20 decisions), session 2 (5 decisions). */
    snprintf(base_path, sizeof base_path, "%s/base.log", dir);
    for (int s = 0; s < 2; s++) {
        struct sigil_audit_config cfg = {.checkpoint_every = 8, .interval_s = 3600, .instance = "base"};
        if (!sigil_is_ok(sigil_audit_file_sink(&cfg.sink, base_path, &cfg.next_seq, cfg.prev_hash))) {
            return -1;
        }
        struct sigil_audit *a = NULL;
        if (!sigil_is_ok(sigil_audit_open(&a, &cfg))) {
            return -1;
        }
        for (unsigned i = 0; i < (s == 0 ? 20u : 5u); i++) {
            uint8_t acc[20], dig[32], val[32];
            struct sigil_audit_event ev = make_event(i, acc, dig, val);
            if (!sigil_is_ok(sigil_audit_record(a, &ev))) {
                return -1;
            }
        }
        sigil_audit_info(a, base_addr[s], NULL, NULL);
        sigil_audit_free(a);
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- writer ---- */

struct thread_arg {
    struct sigil_audit *a;
    unsigned id, n;
    int failures;
};

static void *writer_thread(void *p)
{
    struct thread_arg *t = p;
    for (unsigned i = 0; i < t->n; i++) {
        uint8_t acc[20], dig[32], val[32];
        struct sigil_audit_event ev = make_event(t->id * 100000 + i, acc, dig, val);
        if (!sigil_is_ok(sigil_audit_record(t->a, &ev))) {
            t->failures++;
        }
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_concurrent(unsigned delay_us, const char *label)
{
    enum { THREADS = 8, PER = 500 };
    char p[128];
    tmp_path(p, sizeof p, "concurrent");
    struct wrap_sink *w = calloc(1, sizeof *w);
    w->delay_us = delay_us;
    struct sigil_audit *a = open_log(p, w, 64, 3600, NULL, NULL);
    pthread_t th[THREADS];
    struct thread_arg args[THREADS];
    unsigned writes0 = atomic_load(&w->writes);
    double t0 = now_s();
    for (unsigned i = 0; i < THREADS; i++) {
        args[i] = (struct thread_arg){.a = a, .id = i, .n = PER};
        assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &args[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].failures, 0);
    }
    double dt = now_s() - t0;
    unsigned writes = atomic_load(&w->writes) - writes0;
    uint64_t next_seq;
    sigil_audit_info(a, NULL, &next_seq, NULL);
    sigil_audit_free(a);
    assert_true(atomic_load(&w->closed));
    print_message("audit %s: %d records by %d threads in %.3f s (%.0f records/s), %u sink writes (%.1f records per "
                  "write and fdatasync)\n",
                  label, THREADS * PER, THREADS, dt, THREADS * PER / dt, writes, (double)(THREADS * PER) / writes);
    /* Group commit: fewer sink writes than records (with a 300 us write every wait overlaps). */
    if (delay_us != 0) {
        assert_true(writes < THREADS * PER / 2);
    }
    free(w);

    struct sigil_audit_report rep;
    expect_clean(p, NULL, &rep);
    assert_int_equal(rep.decisions, THREADS * PER);
    assert_int_equal(rep.signed_count, THREADS * PER / 2);
    assert_int_equal(rep.refused_count, THREADS * PER / 2);
    assert_int_equal(rep.starts, 1);
    assert_int_equal(rep.unsigned_tail, 0);
    /* a checkpoint after every 64 decisions, one after the start, and the final one */
    assert_true(rep.checkpoints >= THREADS * PER / 64 + 2);
    /* start + stop + decisions + checkpoints */
    assert_int_equal(rep.lines, 2 + rep.decisions + rep.checkpoints);
    assert_int_equal(next_seq + 2, rep.lines); /* before free: everything but the stop and final checkpoint */
    unlink(p);
}

static void test_concurrent_file_sink(void **state)
{
    (void)state;
    run_concurrent(0, "file sink");
    run_concurrent(300, "file sink + 300 us per write");
}

static void test_restart_continues_chain(void **state)
{
    (void)state;
    char p[128];
    tmp_path(p, sizeof p, "restart");
    struct sigil_audit *a = open_log(p, NULL, 4, 3600, NULL, NULL);
    record_n(a, 0, 10);
    uint64_t seq1;
    uint8_t head1[32], addr1[20];
    sigil_audit_free(a);
    struct lines l1 = read_lines(p);
    /* the file sink reports where the chain continues */
    struct sigil_audit_sink sink;
    assert_int_equal(sigil_audit_file_sink(&sink, p, &seq1, head1).code, SIGIL_OK);
    assert_int_equal(seq1, l1.n);
    uint8_t want[32];
    audit_line_hash(want, l1.v[l1.n - 1], strlen(l1.v[l1.n - 1]));
    assert_memory_equal(head1, want, 32);
    /* a second open of the same file while the first holds it is refused */
    struct sigil_audit_sink sink2;
    uint64_t s2;
    uint8_t h2[32];
    assert_int_equal(sigil_audit_file_sink(&sink2, p, &s2, h2).code, SIGIL_ERR_IO);
    sink.close(sink.ctx);

    a = open_log(p, NULL, 4, 3600, NULL, NULL);
    sigil_audit_info(a, addr1, NULL, NULL);
    record_n(a, 10, 10);
    sigil_audit_free(a);
    struct lines l2 = read_lines(p);
    /* earlier lines are untouched; the new start continues seq and prev */
    for (size_t i = 0; i < l1.n; i++) {
        assert_string_equal(l1.v[i], l2.v[i]);
    }
    json_t *start = json_loads(l2.v[l1.n], 0, NULL);
    assert_string_equal(json_string_value(json_object_get(start, "type")), "start");
    assert_int_equal(json_integer_value(json_object_get(start, "seq")), (json_int_t)l1.n);
    char hx[65];
    assert_string_equal(json_string_value(json_object_get(start, "prev")), sigil_hex_encode(hx, want, 32, 0));
    json_decref(start);

    struct sigil_audit_report rep;
    expect_clean(p, NULL, &rep);
    assert_int_equal(rep.starts, 2);
    assert_int_equal(rep.decisions, 20);
    assert_int_equal(rep.unsigned_tail, 0);
    /* pinning both sessions' keys */
    uint8_t trusted[2][20];
    json_t *s0 = json_loads(l1.v[0], 0, NULL);
    assert_int_equal(sigil_hex_decode_exact(trusted[0], 20, json_string_value(json_object_get(s0, "address")), 42).code,
                     SIGIL_OK);
    json_decref(s0);
    memcpy(trusted[1], addr1, 20);
    struct sigil_audit_verify_opts o = {.trusted_signers = (const uint8_t(*)[20])trusted, .ntrusted = 2};
    expect_clean(p, &o, &rep);
    o.ntrusted = 1; /* only the first session's key: the second start is flagged */
    assert_int_equal(sigil_audit_verify_file(p, &o, &rep).code, SIGIL_ERR_CRYPTO);
    char want_msg[64];
    snprintf(want_msg, sizeof want_msg, "line %zu:", l1.n + 1);
    assert_non_null(strstr(rep.first_problem, want_msg));
    lines_free(&l1);
    lines_free(&l2);
    unlink(p);
}

/* ---- tampering ---- */

static void test_base_log_clean(void **state)
{
    (void)state;
    struct lines l = read_lines(base_path);
    struct sigil_audit_report rep;
    assert_int_equal(verify_lines(&l, NULL, &rep, "clean").code, SIGIL_OK);
    assert_int_equal(rep.lines, l.n);
    assert_int_equal(rep.decisions, 25);
    assert_int_equal(rep.signed_count, 13);
    assert_int_equal(rep.refused_count, 12);
    assert_int_equal(rep.starts, 2);
    assert_int_equal(rep.unsigned_tail, 0);
    /* s1: start cp (8d cp)x2 4d stop cp; s2: start cp 5d stop cp */
    assert_int_equal(l.n, 35);
    assert_int_equal(rep.checkpoints, 6);
    for (size_t i = 0; i < l.n; i++) {
        assert_true(strlen(l.v[i]) < SIGIL_AUDIT_MAX_LINE);
    }
    lines_free(&l);
}

static void test_tamper_change_byte(void **state)
{
    (void)state;
    struct lines base = read_lines(base_path);
    struct lines l = lines_dup(&base);
    size_t k = find_type(&l, "decision", 0, 3); /* the 4th decision */
    char *p = strstr(l.v[k], "\"approvals\":");
    assert_non_null(p);
    p[12] = p[12] == '0' ? '1' : '0';
    char want[64];
    snprintf(want, sizeof want, "hash of line %zu", k + 1);
    expect_problem(&l, NULL, k + 2, want, "changed_byte");
    lines_free(&l);

    /* a changed byte in the decision just before a checkpoint */
    l = lines_dup(&base);
    size_t cp = find_type(&l, "checkpoint", 2, 0);
    bool was_refused = strstr(l.v[cp - 1], "\"refused\"") != NULL;
    lines_set(&l, cp - 1, line_with(l.v[cp - 1], "result", json_string(was_refused ? "signed" : "refused")));
    expect_problem(&l, NULL, cp + 1, "prev does not match", NULL);
    lines_free(&l);
    lines_free(&base);
}

static void test_tamper_delete_line(void **state)
{
    (void)state;
    struct lines l = read_lines(base_path);
    size_t k = find_type(&l, "decision", 0, 5);
    lines_delete(&l, k);
    expect_problem(&l, NULL, k + 1, "1 record(s) missing", "deleted_line");
    lines_free(&l);
}

static void test_tamper_delete_last_checkpoint(void **state)
{
    (void)state;
    /* the final checkpoint after the stop record */
    struct lines l = read_lines(base_path);
    assert_string_equal(line_type(l.v[l.n - 1]), "checkpoint");
    lines_delete(&l, l.n - 1);
    expect_problem(&l, NULL, l.n, "not followed by its final checkpoint", "deleted_final_checkpoint");
    lines_free(&l);

    /* the last checkpoint of a log that ended in a crash (no stop): a gap */
    l = read_lines(base_path);
    size_t cp = find_type(&l, "checkpoint", 0, 2);
    while (l.n > cp + 4) {
        lines_delete(&l, l.n - 1);
    }
    struct sigil_audit_report rep;
    assert_int_equal(verify_lines(&l, NULL, &rep, NULL).code, SIGIL_OK);
    assert_int_equal(rep.unsigned_tail, 3); /* the crash tail is reported, not a problem */
    lines_delete(&l, cp);
    expect_problem(&l, NULL, cp + 1, "missing", NULL);
    /* ... even with the later lines renumbered and rechained (they hold no checkpoint to re-sign):
     * then more decisions follow a checkpoint than the start record promised */
    for (size_t i = cp; i < l.n; i++) {
        json_t *o = json_loads(l.v[i], 0, NULL);
        json_int_t seq = json_integer_value(json_object_get(o, "seq"));
        json_decref(o);
        lines_set(&l, i, line_with(l.v[i], "seq", json_integer(seq - 1)));
    }
    rechain(&l, cp, NULL, NULL);
    expect_problem(&l, NULL, cp + 1, "more than 8 decisions since the last checkpoint",
                   "deleted_checkpoint_renumbered");
    lines_free(&l);
}

static void test_tamper_swap_lines(void **state)
{
    (void)state;
    struct lines l = read_lines(base_path);
    size_t k = find_type(&l, "decision", 0, 9);
    char *t = l.v[k];
    l.v[k] = l.v[k + 1];
    l.v[k + 1] = t;
    expect_problem(&l, NULL, k + 1, "missing", "swapped");
    lines_free(&l);
}

static void test_tamper_insert_forged(void **state)
{
    (void)state;
    struct lines base = read_lines(base_path);
    /* a plain copy of a decision inserted after it */
    struct lines l = lines_dup(&base);
    size_t k = find_type(&l, "decision", 0, 2);
    lines_insert(&l, k + 1, strdup(l.v[k]));
    expect_problem(&l, NULL, k + 2, "does not follow", "inserted_copy");
    lines_free(&l);

    /* a well-chained forgery (right seq and prev): caught at the line after it */
    l = lines_dup(&base);
    json_t *o = json_loads(l.v[k], 0, NULL);
    json_int_t seq = json_integer_value(json_object_get(o, "seq"));
    json_decref(o);
    uint8_t h[32];
    audit_line_hash(h, l.v[k], strlen(l.v[k]));
    char *forged = line_with(l.v[k], "seq", json_integer(seq + 1));
    char *f2 = line_with(forged, "prev", hex_json(h, 32, 0));
    free(forged);
    forged = line_with(f2, "result", json_string("signed"));
    free(f2);
    lines_insert(&l, k + 1, forged);
    expect_problem(&l, NULL, k + 3, "does not follow", "inserted_forged");
    lines_free(&l);
    lines_free(&base);
}

static void test_tamper_resign_other_key(void **state)
{
    (void)state;
    struct lines base = read_lines(base_path);
    sigil_secp256k1_sk *sk = NULL;
    assert_int_equal(sigil_secp256k1_sk_generate(&sk).code, SIGIL_OK);

    /* A refused decision turned into "signed", the rest rechained and re-signed by another key
     * declared as such: the first checkpoint after it names the wrong signer. */
    struct lines l = lines_dup(&base);
    size_t k = find_type(&l, "decision", 0, 1);
    assert_non_null(strstr(l.v[k], "\"refused\""));
    lines_set(&l, k, line_with(l.v[k], "result", json_string("signed")));
    rechain(&l, k + 1, sk, NULL);
    size_t cp = find_type(&l, "checkpoint", k, 0);
    expect_problem(&l, NULL, cp + 1, "declares signer", "resigned_own");
    lines_free(&l);

    /* The same, still declaring the real audit address: the signature does not recover to it. */
    l = lines_dup(&base);
    lines_set(&l, k, line_with(l.v[k], "result", json_string("signed")));
    rechain(&l, k + 1, sk, base_addr[0]);
    expect_problem(&l, NULL, cp + 1, "not by its declared signer", "resigned_declared");
    lines_free(&l);
    sigil_secp256k1_sk_free(sk);
    lines_free(&base);
}

static void test_tamper_replace_start(void **state)
{
    (void)state;
    struct lines base = read_lines(base_path);
    sigil_secp256k1_sk *sk = NULL;
    assert_int_equal(sigil_secp256k1_sk_generate(&sk).code, SIGIL_OK);
    uint8_t pub[65], addr[20];
    assert_int_equal(sigil_secp256k1_pubkey(pub, sk).code, SIGIL_OK);
    assert_int_equal(sigil_secp256k1_address(addr, sk).code, SIGIL_OK);

    /* The start record swapped for one with the attacker's key: a break at line 2. */
    struct lines l = lines_dup(&base);
    lines_set(&l, 0, line_with(l.v[0], "pubkey", hex_json(pub, 65, 1)));
    lines_set(&l, 0, line_with(l.v[0], "address", hex_json(addr, 20, 1)));
    expect_problem(&l, NULL, 2, "prev does not match the hash of line 1", "replaced_start");

    /* Rewritten and re-signed from the start on: internally consistent, so only pinning the real
     * signers (or attestation) exposes it, at line 1. */
    rechain(&l, 1, sk, NULL);
    size_t s2 = find_type(&l, "start", 1, 0);
    /* the second session's start names its own (real) key: its checkpoints fail once re-signed */
    struct sigil_audit_report rep;
    assert_int_equal(verify_lines(&l, NULL, &rep, NULL).code, SIGIL_ERR_CRYPTO);
    assert_non_null(strstr(rep.first_problem, "declares signer"));
    unsigned long long n = 0;
    assert_int_equal(sscanf(rep.first_problem, "line %llu:", &n), 1);
    assert_int_equal(n, s2 + 2);
    /* drop the second session: now it verifies clean without pinning ... */
    while (l.n > s2) {
        lines_delete(&l, l.n - 1);
    }
    assert_int_equal(verify_lines(&l, NULL, &rep, NULL).code, SIGIL_OK);
    /* ... and is caught with the real signer pinned */
    struct sigil_audit_verify_opts o = {.trusted_signers = (const uint8_t(*)[20])base_addr, .ntrusted = 2};
    expect_problem(&l, &o, 1, "not a trusted signer", "rewritten_whole");
    sigil_secp256k1_sk_free(sk);
    lines_free(&l);
    lines_free(&base);
}

static void test_tamper_torn_tail(void **state)
{
    (void)state;
    char p[128];
    tmp_path(p, sizeof p, "torn");
    struct lines l = read_lines(base_path);
    write_lines(p, &l);
    /* a crash mid-write: part of one more line */
    FILE *f = fopen(p, "ab");
    (void)fputs("{\"seq\":35,\"prev\":\"00", f);
    assert_int_equal(fclose(f), 0);
    struct sigil_audit_report rep;
    assert_int_equal(sigil_audit_verify_file(p, NULL, &rep).code, SIGIL_ERR_CRYPTO);
    char want[32];
    snprintf(want, sizeof want, "line %zu:", l.n + 1);
    assert_non_null(strstr(rep.first_problem, want));
    assert_non_null(strstr(rep.first_problem, "incomplete last line"));
    /* the file sink cuts the torn line and continues the chain */
    struct sigil_audit *a = open_log(p, NULL, 8, 3600, NULL, NULL);
    record_n(a, 0, 3);
    sigil_audit_free(a);
    expect_clean(p, NULL, &rep);
    assert_int_equal(rep.starts, 3);
    unlink(p);

    /* a file cut in the middle of its last line */
    struct stat st;
    write_lines(p, &l);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size - 20), 0);
    assert_int_equal(sigil_audit_verify_file(p, NULL, &rep).code, SIGIL_ERR_CRYPTO);
    snprintf(want, sizeof want, "line %zu:", l.n);
    assert_non_null(strstr(rep.first_problem, want));
    unlink(p);
    lines_free(&l);
}

static void test_trusted_signer_pinning(void **state)
{
    (void)state;
    struct lines l = read_lines(base_path);
    struct sigil_audit_report rep;
    struct sigil_audit_verify_opts o = {.trusted_signers = (const uint8_t(*)[20])base_addr, .ntrusted = 2};
    assert_int_equal(verify_lines(&l, &o, &rep, NULL).code, SIGIL_OK);
    uint8_t other[1][20];
    memset(other, 0x77, sizeof other);
    o = (struct sigil_audit_verify_opts){.trusted_signers = (const uint8_t(*)[20])other, .ntrusted = 1};
    expect_problem(&l, &o, 1, "not a trusted signer", NULL);
    assert_int_equal(verify_lines(&l, &o, &rep, NULL).code, SIGIL_ERR_CRYPTO);
    assert_true(rep.problems >= 2 + rep.checkpoints); /* both starts and every checkpoint */
    /* only the first session's key: the second session is flagged at its start */
    o = (struct sigil_audit_verify_opts){.trusted_signers = (const uint8_t(*)[20])base_addr, .ntrusted = 1};
    size_t s2 = find_type(&l, "start", 1, 0);
    expect_problem(&l, &o, s2 + 1, "not a trusted signer", NULL);
    lines_free(&l);
}

/* ---- sink failure, timer ---- */

static void test_sink_failure_closes_log(void **state)
{
    (void)state;
    char p[128];
    tmp_path(p, sizeof p, "fail");
    struct wrap_sink w = {0};
    struct sigil_audit *a = open_log(p, &w, 8, 3600, NULL, NULL);
    record_n(a, 0, 2);
    atomic_store(&w.fail, true);
    uint8_t acc[20], dig[32], val[32];
    struct sigil_audit_event ev = make_event(2, acc, dig, val);
    assert_int_equal(sigil_audit_record(a, &ev).code, SIGIL_ERR_IO);
    atomic_store(&w.fail, false); /* even a healed sink stays closed */
    assert_int_equal(sigil_audit_record(a, &ev).code, SIGIL_ERR_NOT_READY);
    assert_int_equal(sigil_audit_record(a, &ev).code, SIGIL_ERR_NOT_READY);
    unsigned writes = atomic_load(&w.writes);
    sigil_audit_free(a);
    assert_int_equal(atomic_load(&w.writes), writes); /* no stop record after a failure */
    assert_true(atomic_load(&w.closed));
    struct sigil_audit_report rep;
    expect_clean(p, NULL, &rep);
    assert_int_equal(rep.decisions, 2);
    assert_int_equal(rep.unsigned_tail, 2);

    /* a sink that fails at once: open fails and closes the sink */
    struct wrap_sink w2 = {0};
    atomic_store(&w2.fail, true);
    char p2[128];
    tmp_path(p2, sizeof p2, "fail-open");
    struct sigil_audit_config cfg = {0};
    assert_int_equal(sigil_audit_file_sink(&cfg.sink, p2, &cfg.next_seq, cfg.prev_hash).code, SIGIL_OK);
    w2.inner = cfg.sink;
    cfg.sink = (struct sigil_audit_sink){.write = wrap_write, .close = wrap_close, .ctx = &w2};
    struct sigil_audit *a2 = NULL;
    assert_int_equal(sigil_audit_open(&a2, &cfg).code, SIGIL_ERR_IO);
    assert_null(a2);
    assert_true(atomic_load(&w2.closed));
    unlink(p);
    unlink(p2);
}

static void test_timer_checkpoint(void **state)
{
    (void)state;
    char p[128];
    tmp_path(p, sizeof p, "timer");
    struct sigil_audit *a = open_log(p, NULL, 1000, 1, NULL, NULL);
    record_n(a, 0, 3);
    struct lines l;
    struct sigil_audit_report rep;
    expect_clean(p, NULL, &rep);
    assert_true(rep.unsigned_tail >= 1); /* unless the timer already fired */
    /* no new decision: the timer signs the tail within interval_s */
    for (int i = 0; i < 40; i++) {
        usleep(100000);
        l = read_lines(p);
        bool done = strcmp(line_type(l.v[l.n - 1]), "checkpoint") == 0;
        lines_free(&l);
        if (done) {
            break;
        }
    }
    l = read_lines(p);
    assert_string_equal(line_type(l.v[l.n - 1]), "checkpoint");
    size_t n = l.n;
    lines_free(&l);
    expect_clean(p, NULL, &rep);
    assert_int_equal(rep.unsigned_tail, 0);
    assert_int_equal(rep.checkpoints, 2); /* the start's and the timer's (checkpoint_every is 1000) */
    /* and writes nothing while nothing is unsigned */
    usleep(1300000);
    l = read_lines(p);
    assert_int_equal(l.n, n);
    lines_free(&l);
    sigil_audit_free(a);
    unlink(p);
}

/* ---- attestation ---- */

struct att_ctx {
    struct sigil_nsm *nsm;
    bool wrong_key;
};

static sigil_result attest_cb(void *ctx, const uint8_t *user_data, uint8_t **doc, size_t *len)
{
    struct att_ctx *c = ctx;
    uint8_t other[32];
    memset(other, 0x42, sizeof other);
    *doc = malloc(SIGIL_ATTEST_MAX_DOC);
    if (*doc == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    return sigil_nsm_attest(c->nsm, *doc, SIGIL_ATTEST_MAX_DOC, len, c->wrong_key ? other : user_data, 32, NULL, 0,
                            NULL, 0);
}

struct starts_seen {
    struct audit_start_info s[4];
    size_t n;
};

static void on_start_cb(void *ctx, const struct audit_start_info *s)
{
    struct starts_seen *seen = ctx;
    if (seen->n < 4) {
        seen->s[seen->n++] = *s;
    }
}

static void test_attested_start(void **state)
{
    (void)state;
    char *root_cert = NULL, *root_key = NULL, *leaf_cert = NULL, *leaf_key = NULL;
    char *root2_cert = NULL, *root2_key = NULL;
    struct att_ctx ac = {0};
    assert_int_equal(sigil_attest_dev_root_new(&root_cert, &root_key).code, SIGIL_OK);
    assert_int_equal(sigil_attest_dev_root_new(&root2_cert, &root2_key).code, SIGIL_OK);
    assert_int_equal(sigil_attest_dev_issue(&leaf_cert, &leaf_key, root_cert, root_key, 3600).code, SIGIL_OK);
    assert_int_equal(sigil_nsm_open_simulated(&ac.nsm, leaf_cert, strlen(leaf_cert), leaf_key, strlen(leaf_key),
                                              root_cert, strlen(root_cert), "/proc/self/exe")
                         .code,
                     SIGIL_OK);
    char p[128];
    tmp_path(p, sizeof p, "attested");
    struct sigil_audit *a = open_log(p, NULL, 8, 3600, attest_cb, &ac);
    record_n(a, 0, 5);
    sigil_audit_free(a);
    const char *cdir = getenv("SIGIL_AUDIT_WRITE_CORPUS");
    if (cdir != NULL) {
        struct lines l = read_lines(p);
        char c[512];
        snprintf(c, sizeof c, "%s/attested.log", cdir);
        write_lines(c, &l);
        lines_free(&l);
    }

    struct sigil_audit_report rep;
    struct starts_seen seen = {0};
    struct audit_verify_cb cb = {.start = on_start_cb, .ctx = &seen};
    /* no root: present, not checked; clean */
    assert_int_equal(audit_verify_file_cb(p, NULL, &cb, &rep).code, SIGIL_OK);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.s[0].attestation, AUDIT_ATT_UNCHECKED);
    /* against the dev root, required: verified, PCR0 = this binary */
    struct sigil_audit_verify_opts o = {.attestation_root_pem = root_cert, .require_attestation = true};
    seen.n = 0;
    sigil_result r = audit_verify_file_cb(p, &o, &cb, &rep);
    if (!sigil_is_ok(r)) {
        fail_msg("%s", rep.first_problem);
    }
    assert_int_equal(seen.s[0].attestation, AUDIT_ATT_VALID);
    uint8_t img[48];
    assert_int_equal(sigil_attest_image_sha384(img, "/proc/self/exe").code, SIGIL_OK);
    assert_memory_equal(seen.s[0].pcr0, img, 48);
    /* the enclave image pinned: the right PCR0 is clean, another is a problem at the start line */
    uint8_t pcr[1][48];
    static const int pcr_idx0[1] = {0};
    memcpy(pcr[0], img, 48);
    o = (struct sigil_audit_verify_opts){
        .attestation_root_pem = root_cert, .expect_pcr = pcr, .expect_pcr_index = pcr_idx0, .n_expect_pcr = 1};
    expect_clean(p, &o, &rep);
    pcr[0][47] ^= 1;
    assert_int_equal(sigil_audit_verify_file(p, &o, &rep).code, SIGIL_ERR_CRYPTO);
    assert_non_null(strstr(rep.first_problem, "line 1: start record was written by an enclave image that is not the "
                                              "pinned one"));
    assert_non_null(strstr(rep.first_problem, "PCR0"));
    assert_int_equal(rep.problems, 1);
    /* pinning implies requiring: an unattested log, or no root to check against, is a problem */
    pcr[0][47] ^= 1;
    assert_int_equal(sigil_audit_verify_file(base_path, &o, &rep).code, SIGIL_ERR_CRYPTO);
    assert_non_null(strstr(rep.first_problem, "line 1: start record has no attestation document"));
    o.attestation_root_pem = NULL;
    assert_int_equal(sigil_audit_verify_file(p, &o, &rep).code, SIGIL_ERR_CRYPTO);
    assert_non_null(strstr(rep.first_problem, "line 1: start record's attestation document cannot be checked"));
    /* inconsistent pins are refused before reading */
    static const int pcr_idx16[1] = {16};
    o = (struct sigil_audit_verify_opts){
        .attestation_root_pem = root_cert, .expect_pcr = pcr, .expect_pcr_index = pcr_idx16, .n_expect_pcr = 1};
    assert_int_equal(sigil_audit_verify_file(p, &o, &rep).code, SIGIL_ERR_ARG);
    assert_int_equal(rep.lines, 0);
    o = (struct sigil_audit_verify_opts){.attestation_root_pem = root_cert, .n_expect_pcr = 1};
    assert_int_equal(sigil_audit_verify_file(p, &o, &rep).code, SIGIL_ERR_ARG);
    assert_int_equal(audit_verify_buffer("", 0, &o, NULL, &rep).code, SIGIL_ERR_ARG);
    o = (struct sigil_audit_verify_opts){.attestation_root_pem = root_cert, .require_attestation = true};
    /* another root: refused at line 1 */
    o.attestation_root_pem = root2_cert;
    assert_int_equal(sigil_audit_verify_file(p, &o, &rep).code, SIGIL_ERR_CRYPTO);
    assert_non_null(strstr(rep.first_problem, "line 1: start record's attestation document does not verify"));
    /* required, but no root to check it with */
    o = (struct sigil_audit_verify_opts){.require_attestation = true};
    assert_int_equal(sigil_audit_verify_file(p, &o, &rep).code, SIGIL_ERR_CRYPTO);
    assert_non_null(strstr(rep.first_problem, "line 1:"));
    /* an unattested log when attestation is required */
    o = (struct sigil_audit_verify_opts){.attestation_root_pem = root_cert, .require_attestation = true};
    assert_int_equal(sigil_audit_verify_file(base_path, &o, &rep).code, SIGIL_ERR_CRYPTO);
    assert_non_null(strstr(rep.first_problem, "line 1: start record has no attestation document"));
    unlink(p);

    /* a document for a different key */
    ac.wrong_key = true;
    tmp_path(p, sizeof p, "attested-wrong");
    a = open_log(p, NULL, 8, 3600, attest_cb, &ac);
    record_n(a, 0, 1);
    sigil_audit_free(a);
    o = (struct sigil_audit_verify_opts){.attestation_root_pem = root_cert};
    assert_int_equal(sigil_audit_verify_file(p, &o, &rep).code, SIGIL_ERR_CRYPTO);
    assert_non_null(strstr(rep.first_problem, "line 1: start record's attestation document binds a different key"));
    unlink(p);

    sigil_nsm_close(ac.nsm);
    free(root_cert);
    free(root2_cert);
    free(leaf_cert);
    sigil_secure_free(root_key);
    sigil_secure_free(root2_key);
    sigil_secure_free(leaf_key);
}

static sigil_result attest_fail_cb(void *ctx, const uint8_t *user_data, uint8_t **doc, size_t *len)
{
    (void)ctx;
    (void)user_data;
    *doc = NULL;
    *len = 0;
    return sigil_errorf(SIGIL_ERR_UNSUPPORTED, "no NSM");
}

static void test_attest_callback_failure(void **state)
{
    (void)state;
    char p[128];
    tmp_path(p, sizeof p, "attest-fail");
    struct sigil_audit_config cfg = {0};
    assert_int_equal(sigil_audit_file_sink(&cfg.sink, p, &cfg.next_seq, cfg.prev_hash).code, SIGIL_OK);
    cfg.attest = attest_fail_cb;
    struct sigil_audit *a = NULL;
    assert_int_equal(sigil_audit_open(&a, &cfg).code, SIGIL_ERR_UNSUPPORTED);
    assert_null(a);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 0); /* nothing written */
    unlink(p);
}

/* ---- hostile input ---- */

static void expect_buffer_problem(const char *buf, size_t len, unsigned long long line, const char *needle)
{
    struct sigil_audit_report rep;
    assert_int_equal(audit_verify_buffer(buf, len, NULL, NULL, &rep).code, SIGIL_ERR_CRYPTO);
    unsigned long long n = 0;
    assert_int_equal(sscanf(rep.first_problem, "line %llu:", &n), 1);
    if (n != line || strstr(rep.first_problem, needle) == NULL) {
        fail_msg("wanted line %llu (%s), got: %s", line, needle, rep.first_problem);
    }
}

static void test_hostile_input(void **state)
{
    (void)state;
    expect_buffer_problem("", 0, 1, "empty");
    expect_buffer_problem("\n", 1, 1, "not a JSON object");
    expect_buffer_problem("[1]\n", 4, 1, "not a JSON object");
    expect_buffer_problem("{\"seq\":0}\n", 10, 1, "'prev' is missing");
    expect_buffer_problem("hello\x01\x02world\n", 13, 1, "not a JSON object");
    /* a real first line with a duplicated member, an unknown member, a bad type */
    struct lines l = read_lines(base_path);
    char buf[SIGIL_AUDIT_MAX_LINE * 2];
    snprintf(buf, sizeof buf, "%.*s,\"seq\":0}\n", (int)strlen(l.v[0]) - 1, l.v[0]);
    expect_buffer_problem(buf, strlen(buf), 1, "not a JSON object");
    snprintf(buf, sizeof buf, "%.*s,\"extra\":1}\n", (int)strlen(l.v[0]) - 1, l.v[0]);
    expect_buffer_problem(buf, strlen(buf), 1, "unknown member 'extra'");
    char *s = line_with(l.v[0], "type", json_string("start2"));
    snprintf(buf, sizeof buf, "%s\n", s);
    free(s);
    expect_buffer_problem(buf, strlen(buf), 1, "member 'type'");
    s = line_with(l.v[0], "seq", json_integer(-1));
    snprintf(buf, sizeof buf, "%s\n", s);
    free(s);
    expect_buffer_problem(buf, strlen(buf), 1, "member 'seq'");
    s = line_with(l.v[0], "time", json_string("2026-13-01T00:00:00.000Z"));
    snprintf(buf, sizeof buf, "%s\n", s);
    free(s);
    expect_buffer_problem(buf, strlen(buf), 1, "member 'time'");
    /* a log not starting at seq 0 (head removed) */
    size_t len = 0;
    for (size_t i = 2; i < l.n; i++) {
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s\n", l.v[i]);
    }
    expect_buffer_problem(buf, len, 1, "begins at seq 2");
    /* an overlong line, then the rest: reported once, and the following line cannot be chained */
    char *big = malloc(3 * SIGIL_AUDIT_MAX_LINE);
    memset(big, 'a', SIGIL_AUDIT_MAX_LINE + 10);
    big[SIGIL_AUDIT_MAX_LINE + 10] = '\n';
    expect_buffer_problem(big, SIGIL_AUDIT_MAX_LINE + 11, 1, "longer than");
    char p[128];
    tmp_path(p, sizeof p, "overlong");
    FILE *f = fopen(p, "wb");
    (void)fputs(l.v[0], f);
    (void)fputc('\n', f);
    (void)fwrite(big, 1, SIGIL_AUDIT_MAX_LINE + 11, f);
    (void)fputs(l.v[1], f);
    (void)fputc('\n', f);
    assert_int_equal(fclose(f), 0);
    struct sigil_audit_report rep;
    assert_int_equal(sigil_audit_verify_file(p, NULL, &rep).code, SIGIL_ERR_CRYPTO);
    assert_non_null(strstr(rep.first_problem, "line 2: line is longer than"));
    assert_int_equal(rep.lines, 3);
    unlink(p);
    free(big);
    /* not a file */
    assert_int_equal(sigil_audit_verify_file(dir, NULL, &rep).code, SIGIL_ERR_IO);
    assert_int_equal(sigil_audit_verify_file("/nonexistent/audit.log", NULL, &rep).code, SIGIL_ERR_IO);
    lines_free(&l);
}

/* ---- the host's check of AUDIT lines: the file sink's own test, so what is stored can be reopened ---- */

static void expect_lines_problem(const char *text, size_t len, const char *needle)
{
    uint64_t n = 99;
    const char *why = sigil_audit_lines_problem(text, len, &n);
    if (why == NULL || strstr(why, needle) == NULL) {
        fail_msg("wanted a problem with '%s', got: %s", needle, why != NULL ? why : "(none)");
    }
    assert_int_equal(n, 0);
}

static void expect_lines_problem_str(const char *text, const char *needle)
{
    expect_lines_problem(text, strlen(text), needle);
}

/* A line that the per-line test accepts must let the file sink continue the log; one it refuses
 * must make the sink refuse the log. */
static void expect_sink_agrees(const char *line, bool accepted)
{
    char p[128];
    tmp_path(p, sizeof p, "agree");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_true(fputs(line, f) >= 0);
    assert_int_equal(fputc('\n', f), '\n');
    assert_int_equal(fclose(f), 0);
    struct sigil_audit_sink s;
    uint64_t seq = 0, want_seq = 0;
    uint8_t h[32], want_h[32];
    sigil_result r = sigil_audit_file_sink(&s, p, &seq, h);
    char *with_nl = malloc(strlen(line) + 2);
    assert_non_null(with_nl);
    snprintf(with_nl, strlen(line) + 2, "%s\n", line);
    assert_int_equal(sigil_audit_lines_problem(with_nl, strlen(with_nl), NULL) == NULL, accepted);
    free(with_nl);
    if (accepted) {
        assert_null(audit_line_problem(line, strlen(line), &want_seq));
        assert_int_equal(r.code, SIGIL_OK);
        assert_int_equal(seq, want_seq + 1);
        audit_line_hash(want_h, line, strlen(line));
        assert_memory_equal(h, want_h, 32);
        s.close(s.ctx);
    } else {
        assert_non_null(audit_line_problem(line, strlen(line), NULL));
        assert_int_equal(r.code, SIGIL_ERR_PARSE);
    }
    unlink(p);
}

static void test_lines_problem(void **state)
{
    (void)state;
    /* every line of a real log, in one batch and one by one */
    struct lines l = read_lines(base_path);
    size_t cap = 0;
    for (size_t i = 0; i < l.n; i++) {
        cap += strlen(l.v[i]) + 1;
    }
    char *all = malloc(cap + 1), *buf = malloc(2 * SIGIL_AUDIT_MAX_LINE);
    assert_non_null(all);
    assert_non_null(buf);
    size_t len = 0;
    for (size_t i = 0; i < l.n; i++) {
        len += (size_t)snprintf(all + len, cap + 1 - len, "%s\n", l.v[i]);
    }
    uint64_t n = 0;
    assert_null(sigil_audit_lines_problem(all, len, &n));
    assert_int_equal(n, l.n);
    assert_null(sigil_audit_lines_problem(all, len, NULL));

    /* what the channel's framing check lets through, and the sink cannot continue from */
    static const char zero_prev[] = "0000000000000000000000000000000000000000000000000000000000000000";
    expect_lines_problem_str("{\"seq\":0}\n", "prev");
    snprintf(buf, 4096, "{\"seq\":0,\"time\":\"2026-01-01T00:00:00.000Z\",\"type\":\"stop\"}\n");
    expect_lines_problem_str(buf, "prev"); /* missing prev */
    snprintf(buf, 4096, "{\"seq\":0,\"prev\":\"%.63s\",\"type\":\"stop\"}\n", zero_prev);
    expect_lines_problem_str(buf, "prev"); /* short prev */
    snprintf(buf, 4096, "{\"seq\":0,\"prev\":\"%.62sAB\",\"type\":\"stop\"}\n", zero_prev);
    expect_lines_problem_str(buf, "prev"); /* uppercase */
    snprintf(buf, 4096, "{\"seq\":0,\"prev\":\"%s\",\"type\":\"stopp\"}\n", zero_prev);
    expect_lines_problem_str(buf, "type"); /* unknown type */
    snprintf(buf, 4096, "{\"seq\":0,\"prev\":\"%s\",\"type\":1}\n", zero_prev);
    expect_lines_problem_str(buf, "type");
    snprintf(buf, 4096, "{\"seq\":0,\"prev\":\"%s\"}\n", zero_prev);
    expect_lines_problem_str(buf, "type"); /* no type */
    snprintf(buf, 4096, "{\"seq\":-1,\"prev\":\"%s\",\"type\":\"stop\"}\n", zero_prev);
    expect_lines_problem_str(buf, "seq");
    snprintf(buf, 4096, "{\"seq\":\"0\",\"prev\":\"%s\",\"type\":\"stop\"}\n", zero_prev);
    expect_lines_problem_str(buf, "seq");
    snprintf(buf, 4096, "{\"seq\":0,\"prev\":\"%s\",\"type\":\"stop\",\"type\":\"stop\"}\n", zero_prev);
    expect_lines_problem_str(buf, "JSON object"); /* duplicate member */
    snprintf(buf, 4096, "{\"seq\":0,\"prev\":\"%s\",\"type\":\"stop\"} x\n", zero_prev);
    expect_lines_problem_str(buf, "JSON object"); /* trailing bytes */
    expect_lines_problem_str("{\"seq\":[1]}\n", "seq");
    expect_lines_problem_str("{\"seq\":0,\n", "JSON object");
    /* not objects, or not beginning like a record */
    expect_lines_problem_str("[1]\n", "{\"seq\":");
    expect_lines_problem_str("\"seq\"\n", "{\"seq\":");
    expect_lines_problem_str("hello\n", "{\"seq\":");
    snprintf(buf, 4096, "{\"prev\":\"%s\",\"seq\":0,\"type\":\"stop\"}\n", zero_prev);
    expect_lines_problem_str(buf, "{\"seq\":"); /* valid JSON, but a torn copy would not look like a record */
    /* framing */
    expect_lines_problem("", 0, "newline");
    expect_lines_problem(NULL, 0, "newline");
    expect_lines_problem_str("\n", "empty");
    expect_lines_problem(all, len - 1, "newline"); /* the last line cut */
    memcpy(buf, all, len);
    memcpy(buf + len, "\n", 2);
    expect_lines_problem(buf, len + 1, "empty"); /* a blank line after good ones */
    memcpy(buf, all, len);
    buf[5] = '\0';
    expect_lines_problem(buf, len, "NUL");
    /* one bad line among good ones refuses the whole batch */
    snprintf(buf, 2 * SIGIL_AUDIT_MAX_LINE, "%s\n{\"seq\":1}\n%s\n", l.v[0], l.v[1]);
    expect_lines_problem_str(buf, "prev");
    /* the line limit, newline included: a record padded to exactly the limit passes, one byte more does not */
    size_t head = (size_t)snprintf(buf, 4096, "{\"seq\":7,\"prev\":\"%s\",\"type\":\"stop\"", zero_prev);
    memset(buf + head, ' ', SIGIL_AUDIT_MAX_LINE - head - 2);
    buf[SIGIL_AUDIT_MAX_LINE - 2] = '}';
    buf[SIGIL_AUDIT_MAX_LINE - 1] = '\n';
    assert_null(sigil_audit_lines_problem(buf, SIGIL_AUDIT_MAX_LINE, &n));
    assert_int_equal(n, 1);
    memset(buf + head, ' ', SIGIL_AUDIT_MAX_LINE - head - 1);
    buf[SIGIL_AUDIT_MAX_LINE - 1] = '}';
    buf[SIGIL_AUDIT_MAX_LINE] = '\n';
    expect_lines_problem(buf, SIGIL_AUDIT_MAX_LINE + 1, "line limit");
    memset(buf, 'a', 2 * SIGIL_AUDIT_MAX_LINE - 1);
    buf[2 * SIGIL_AUDIT_MAX_LINE - 1] = '\n';
    expect_lines_problem(buf, 2 * SIGIL_AUDIT_MAX_LINE, "line limit");

    /* the same test is what the sink reads back */
    expect_sink_agrees(l.v[0], true);
    expect_sink_agrees(l.v[l.n - 1], true);
    snprintf(buf, 4096, "{\"seq\":41,\"prev\":\"%s\",\"type\":\"decision\",\"x\":1}", zero_prev);
    expect_sink_agrees(buf, true); /* not a valid decision, but the chain can continue from it */
    expect_sink_agrees("{\"seq\":0}", false);
    snprintf(buf, 4096, "{\"seq\":0,\"prev\":\"%s\",\"type\":\"other\"}", zero_prev);
    expect_sink_agrees(buf, false);
    snprintf(buf, 4096, "{\"prev\":\"%s\",\"seq\":0,\"type\":\"stop\"}", zero_prev);
    expect_sink_agrees(buf, false);
    free(all);
    free(buf);
    lines_free(&l);
}

/* ---- one line splitter: the report does not depend on how the bytes arrive ---- */

static void expect_same_any_chunking(const char *buf, size_t len, const struct sigil_audit_verify_opts *o)
{
    static const size_t chunks[] = {
        1, 2, 3, 7, 64, 4095, SIGIL_AUDIT_MAX_LINE - 1, SIGIL_AUDIT_MAX_LINE, SIGIL_AUDIT_MAX_LINE + 1, 65536};
    struct sigil_audit_report whole, part;
    sigil_result rw = audit_verify_buffer(buf, len, o, NULL, &whole);
    /* and through the file entry point */
    char p[128];
    tmp_path(p, sizeof p, "split");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    sigil_result rf = sigil_audit_verify_file(p, o, &part);
    unlink(p);
    assert_int_equal(rf.code, rw.code);
    assert_memory_equal(&part, &whole, sizeof whole);
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        struct audit_verify_stream *s = NULL;
        assert_int_equal(audit_verify_stream_new(&s, o, NULL, &part).code, SIGIL_OK);
        for (size_t off = 0; off < len; off += chunks[c]) {
            size_t n = len - off < chunks[c] ? len - off : chunks[c];
            assert_int_equal(audit_verify_stream_push(s, buf + off, n).code, SIGIL_OK);
        }
        sigil_result rp = audit_verify_stream_finish(s);
        if (rp.code != rw.code || memcmp(&part, &whole, sizeof whole) != 0) {
            fail_msg("chunks of %zu: %s / %s", chunks[c], part.first_problem, whole.first_problem);
        }
    }
}

static void test_split_any_chunking(void **state)
{
    (void)state;
    struct lines l = read_lines(base_path);
    size_t cap = 6 * SIGIL_AUDIT_MAX_LINE + 65536;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = 0;
    for (size_t i = 0; i < l.n; i++) {
        len += (size_t)snprintf(buf + len, cap - len, "%s\n", l.v[i]);
    }
    size_t clean_len = len;
    expect_same_any_chunking(buf, len, NULL);
    const struct sigil_audit_verify_opts pinned = {.trusted_signers = (const uint8_t(*)[20])base_addr, .ntrusted = 1};
    expect_same_any_chunking(buf, len, &pinned);
    /* a torn tail */
    memcpy(buf + len, l.v[3], 40);
    expect_same_any_chunking(buf, len + 40, NULL);
    /* overlong lines: exactly at the limit, far over it, ending the file with and without a newline */
    for (size_t over = 0; over < 3; over++) {
        len = clean_len;
        memcpy(buf + len, l.v[0], strlen(l.v[0]));
        len += strlen(l.v[0]);
        size_t big = over == 0 ? SIGIL_AUDIT_MAX_LINE - strlen(l.v[0]) : 2 * SIGIL_AUDIT_MAX_LINE + 17;
        memset(buf + len, ' ', big);
        len += big;
        buf[len++] = '\n';
        len += (size_t)snprintf(buf + len, cap - len, "%s\n%s\n", l.v[1], l.v[2]);
        memset(buf + len, 'x', 3 * SIGIL_AUDIT_MAX_LINE);
        len += 3 * SIGIL_AUDIT_MAX_LINE;
        if (over == 2) {
            buf[len++] = '\n';
        }
        expect_same_any_chunking(buf, len, NULL);
        struct sigil_audit_report rep;
        assert_int_equal(audit_verify_buffer(buf, len, NULL, NULL, &rep).code, SIGIL_ERR_CRYPTO);
        assert_int_equal(rep.lines, l.n + 4);
    }
    /* a line one byte under the limit is a line */
    len = 0;
    len += (size_t)snprintf(buf, cap, "%s\n", l.v[0]);
    memset(buf + len, 'y', SIGIL_AUDIT_MAX_LINE - 1);
    len += SIGIL_AUDIT_MAX_LINE - 1;
    buf[len++] = '\n';
    expect_same_any_chunking(buf, len, NULL);
    struct sigil_audit_report rep;
    assert_int_equal(audit_verify_buffer(buf, len, NULL, NULL, &rep).code, SIGIL_ERR_CRYPTO);
    assert_non_null(strstr(rep.first_problem, "line 2: not a JSON object"));
    free(buf);
    lines_free(&l);
}

static void test_escaping_and_truncation(void **state)
{
    (void)state;
    char p[128];
    tmp_path(p, sizeof p, "escape");
    struct sigil_audit *a = open_log(p, NULL, 8, 3600, NULL, NULL);
    size_t big_len = 100000;
    char *big = malloc(big_len + 1);
    for (size_t i = 0; i < big_len; i++) {
        big[i] = (char)(i % 7 == 0 ? '"' : i % 11 == 0 ? '\x01' : 'x');
    }
    big[big_len] = '\0';
    char *secret = sigil_secure_alloc(32);
    memcpy(secret, "do-not-log-me", sizeof "do-not-log-me");
    struct sigil_audit_event ev = {
        .kind = "tx\n\"quoted\"\\",
        .signed_ = false,
        .policy = "p\xff\xfe invalid utf8 \xe2\x82 cut \xed\xa0\x80 surrogate \xc3\xa9 ok",
        .rule = big,
        .reason = big,
        .client = big,
        .account = NULL,
        .digest = NULL,
    };
    assert_int_equal(sigil_audit_record(a, &ev).code, SIGIL_OK);
    ev.client = secret;
    ev.reason = "\xf0\x9f\x94\x91 key emoji";
    assert_int_equal(sigil_audit_record(a, &ev).code, SIGIL_OK);
    sigil_audit_free(a);
    sigil_secure_free(secret);
    free(big);
    struct lines l = read_lines(p);
    size_t d1 = find_type(&l, "decision", 0, 0), d2 = find_type(&l, "decision", 0, 1);
    assert_true(strlen(l.v[d1]) < SIGIL_AUDIT_MAX_LINE);
    json_t *o = json_loads(l.v[d1], JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "tx\n\"quoted\"\\");
    assert_string_equal(json_string_value(json_object_get(o, "policy")),
                        "p\xef\xbf\xbd\xef\xbf\xbd invalid utf8 \xef\xbf\xbd\xef\xbf\xbd cut "
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate \xc3\xa9 ok");
    const char *reason = json_string_value(json_object_get(o, "reason"));
    assert_true(strlen(reason) > 1000 && strlen(reason) <= AUDIT_MAX_REASON);
    assert_string_equal(reason + strlen(reason) - 3, "...");
    assert_true(json_is_null(json_object_get(o, "account")));
    json_decref(o);
    o = json_loads(l.v[d2], 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "client")), "[redacted]");
    assert_string_equal(json_string_value(json_object_get(o, "reason")), "\xf0\x9f\x94\x91 key emoji");
    json_decref(o);
    struct sigil_audit_report rep;
    expect_clean(p, NULL, &rep);
    assert_int_equal(rep.refused_count, 2);
    lines_free(&l);
    unlink(p);

    /* the escaper on its own: a cut never splits an escape or a UTF-8 sequence */
    char out[64];
    for (size_t budget = 3; budget < 20; budget++) {
        size_t len = 0;
        audit_json_string(out, sizeof out, &len, "ab\"\xc3\xa9\x01xyz\xf0\x9f\x94\x91", budget);
        out[len] = '\0';
        assert_true(len <= budget + 2);
        json_t *j = json_loadb(out, len, JSON_DECODE_ANY, NULL);
        if (j == NULL) {
            fail_msg("budget %zu: invalid JSON string %s", budget, out);
        }
        json_decref(j);
    }
}

static void test_file_sink_refuses_other_files(void **state)
{
    (void)state;
    struct sigil_audit_sink s;
    uint64_t seq;
    uint8_t h[32];
    char p[128];
    tmp_path(p, sizeof p, "other");
    FILE *f = fopen(p, "wb");
    (void)fputs("hello world\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(sigil_audit_file_sink(&s, p, &seq, h).code, SIGIL_ERR_PARSE);
    f = fopen(p, "wb");
    (void)fputs("no newline at the end", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(sigil_audit_file_sink(&s, p, &seq, h).code, SIGIL_ERR_PARSE);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 21); /* untouched */
    /* a last line that is JSON but not an audit record */
    f = fopen(p, "wb");
    (void)fputs("{\"seq\":1,\"type\":\"other\"}\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(sigil_audit_file_sink(&s, p, &seq, h).code, SIGIL_ERR_PARSE);
    unlink(p);
    assert_int_equal(sigil_audit_file_sink(&s, dir, &seq, h).code, SIGIL_ERR_IO);
    assert_null(s.write);
    /* a new log is created 0600 */
    tmp_path(p, sizeof p, "mode");
    assert_int_equal(sigil_audit_file_sink(&s, p, &seq, h).code, SIGIL_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    s.close(s.ctx);
    unlink(p);
    /* a torn only line that begins like a record: the log starts over */
    f = fopen(p, "wb");
    (void)fputs("{\"seq\":0,\"pr", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(sigil_audit_file_sink(&s, p, &seq, h).code, SIGIL_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 0);
    s.close(s.ctx);
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_log_clean),
        cmocka_unit_test(test_concurrent_file_sink),
        cmocka_unit_test(test_restart_continues_chain),
        cmocka_unit_test(test_tamper_change_byte),
        cmocka_unit_test(test_tamper_delete_line),
        cmocka_unit_test(test_tamper_delete_last_checkpoint),
        cmocka_unit_test(test_tamper_swap_lines),
        cmocka_unit_test(test_tamper_insert_forged),
        cmocka_unit_test(test_tamper_resign_other_key),
        cmocka_unit_test(test_tamper_replace_start),
        cmocka_unit_test(test_tamper_torn_tail),
        cmocka_unit_test(test_trusted_signer_pinning),
        cmocka_unit_test(test_sink_failure_closes_log),
        cmocka_unit_test(test_timer_checkpoint),
        cmocka_unit_test(test_attested_start),
        cmocka_unit_test(test_attest_callback_failure),
        cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_lines_problem),
        cmocka_unit_test(test_split_any_chunking),
        cmocka_unit_test(test_escaping_and_truncation),
        cmocka_unit_test(test_file_sink_refuses_other_files),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
