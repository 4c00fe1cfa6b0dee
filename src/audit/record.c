/* The audit writer: the audit key, record lines, group commit into the sink, checkpoints (every
 * checkpoint_every decisions and on a timer), and the closing stop record.
 *
 * Group commit: a caller formats its line under the mutex (which fixes its seq and prev), appends
 * it to the queue and waits until the batch holding it is durable. When no write is in flight the
 * waiter becomes the leader: it takes the whole queue and writes it with one sink call (one fsync),
 * while later callers fill the next batch. A failed sink write closes the log for good. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/attest.h"
#include "audit/audit_internal.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/secmem.h"
#include "common/sha256.h"
#include "eth1/secp256k1.h"
#include "eth1/tx.h"

#ifndef SIGIL_AUDIT_VERSION
#define SIGIL_AUDIT_VERSION "unknown"
#endif

struct qbuf {
    char *p;
    size_t len, cap;
};

struct sigil_audit {
    pthread_mutex_t mu;
    pthread_cond_t done; /* a batch finished (written or failed) */
    pthread_cond_t tick; /* wakes the timer thread (CLOCK_MONOTONIC) */
    pthread_t timer;
    bool timer_started;
    struct sigil_audit_sink sink;
    sigil_secp256k1_sk *key;
    uint8_t pub[SIGIL_SECP256K1_PUB_LEN];
    uint8_t addr[SIGIL_ETH1_ADDR_LEN];
    unsigned checkpoint_every, interval_s;
    /* The chain's tail including queued lines: the next line's seq and prev. */
    uint64_t next_seq;
    uint8_t head[32];
    /* The same for what the sink has acknowledged. */
    uint64_t durable_seq;
    uint8_t durable_head[32];
    struct qbuf queue; /* lines of batch queue_gen, filling */
    struct qbuf out;   /* the batch being written by the leader */
    uint64_t queue_gen, done_gen;
    bool writing, failed, stopping;
    enum sigil_err fail_code;
    uint64_t fail_gen;
    uint64_t unsigned_records; /* lines after the last checkpoint */
    unsigned unsigned_decisions;
    char line[SIGIL_AUDIT_MAX_LINE]; /* scratch for one line, used under mu */
};

/* ---- line building ---- */

struct lw {
    char *p;
    size_t len, cap;
    bool overflow;
};

static void lw_raw(struct lw *w, const char *s, size_t n)
{
    if (w->overflow || w->cap - w->len <= n) {
        w->overflow = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void lw_str(struct lw *w, const char *s) { lw_raw(w, s, strlen(s)); }

static void lw_fmt(struct lw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lw_fmt(struct lw *w, const char *fmt, ...)
{
    if (w->overflow) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= w->cap - w->len) {
        w->overflow = true;
        return;
    }
    w->len += (size_t)n;
}

/* "0x..." (prefix) or bare lowercase hex in quotes, or null when b is NULL. */
static void lw_hex(struct lw *w, const uint8_t *b, size_t n, int prefix)
{
    if (b == NULL) {
        lw_str(w, "null");
        return;
    }
    if (w->overflow || w->cap - w->len <= 2 * n + 5) {
        w->overflow = true;
        return;
    }
    w->p[w->len++] = '"';
    sigil_hex_encode(w->p + w->len, b, n, prefix);
    w->len += 2 * n + (prefix ? 2 : 0);
    w->p[w->len++] = '"';
}

static void lw_jstr(struct lw *w, const char *s, size_t budget)
{
    if (w->overflow || w->cap - w->len <= budget + 4) {
        w->overflow = true;
        return;
    }
    audit_json_string(w->p, w->cap, &w->len, s, budget);
}

/* A 256-bit big-endian value as a JSON-RPC quantity: "0x0", "0xde0b6b3a7640000". */
static void lw_quantity(struct lw *w, const uint8_t *be)
{
    if (be == NULL) {
        lw_str(w, "null");
        return;
    }
    char q[67];
    sigil_eth1_format_quantity(q, be);
    lw_fmt(w, "\"%s\"", q);
}

static void utc_now(char out[32])
{
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL) {
        memset(&tm, 0, sizeof tm);
        tm.tm_year = 70;
        tm.tm_mday = 1;
        ts.tv_nsec = 0;
    }
    char date[24];
    if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        date[0] = '\0';
    }
    (void)snprintf(out, 32, "%.19s.%03uZ", date, (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

/* {"seq":N,"prev":"<hex>","time":"...","type":"<type>" */
static struct lw line_begin(struct sigil_audit *a, const char *type)
{
    struct lw w = {.p = a->line, .cap = sizeof a->line};
    char ts[32];
    utc_now(ts);
    lw_fmt(&w, "{\"seq\":%llu,\"prev\":", (unsigned long long)a->next_seq);
    lw_hex(&w, a->head, 32, 0);
    lw_fmt(&w, ",\"time\":\"%s\",\"type\":\"%s\"", ts, type);
    return w;
}

static SIGIL_RESULT qbuf_reserve(struct qbuf *q, size_t extra)
{
    if (q->cap - q->len >= extra) {
        return sigil_ok();
    }
    size_t cap = q->cap ? q->cap : 16384;
    while (cap - q->len < extra) {
        cap *= 2;
    }
    char *p = realloc(q->p, cap);
    if (p == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    q->p = p;
    q->cap = cap;
    return sigil_ok();
}

/* Closes the line in w, queues it and advances the chain. Nothing changes on failure. */
static SIGIL_RESULT line_queue(struct sigil_audit *a, struct lw *w)
{
    lw_str(w, "}");
    if (w->overflow || w->len + 1 > SIGIL_AUDIT_MAX_LINE) {
        return sigil_errorf(SIGIL_ERR_INTERNAL, "audit record does not fit %u bytes", SIGIL_AUDIT_MAX_LINE);
    }
    SIGIL_GUARD(qbuf_reserve(&a->queue, w->len + 1));
    memcpy(a->queue.p + a->queue.len, w->p, w->len);
    a->queue.p[a->queue.len + w->len] = '\n';
    a->queue.len += w->len + 1;
    audit_line_hash(a->head, w->p, w->len);
    a->next_seq++;
    a->unsigned_records++;
    return sigil_ok();
}

static SIGIL_RESULT queue_checkpoint(struct sigil_audit *a)
{
    uint8_t digest[32], raw[65];
    struct sigil_secp256k1_sig sig;
    audit_checkpoint_digest(digest, a->head, a->next_seq);
    SIGIL_GUARD(sigil_secp256k1_sign(&sig, a->key, digest));
    memcpy(raw, sig.r, 32);
    memcpy(raw + 32, sig.s, 32);
    raw[64] = (uint8_t)(27 + sig.y_parity);
    struct lw w = line_begin(a, "checkpoint");
    lw_str(&w, ",\"head\":");
    lw_hex(&w, a->head, 32, 0);
    lw_str(&w, ",\"signer\":");
    lw_hex(&w, a->addr, 20, 1);
    lw_str(&w, ",\"sig\":");
    lw_hex(&w, raw, sizeof raw, 1);
    SIGIL_GUARD(line_queue(a, &w));
    a->unsigned_records = 0;
    a->unsigned_decisions = 0;
    return sigil_ok();
}

/* ---- group commit ---- */

/* Waits (mu held) until batch gen is durable, writing batches itself when no one else is. */
static SIGIL_RESULT commit_locked(struct sigil_audit *a, uint64_t gen)
{
    for (;;) {
        if (a->done_gen >= gen) {
            return sigil_ok();
        }
        if (a->failed) {
            if (gen == a->fail_gen) {
                return sigil_errorf(a->fail_code, "the audit sink failed to store the record");
            }
            return sigil_errorf(SIGIL_ERR_NOT_READY, "the audit log is closed after a sink failure");
        }
        if (!a->writing) {
            struct qbuf t = a->out;
            a->out = a->queue;
            a->queue = t;
            a->queue.len = 0;
            uint64_t g = a->queue_gen++;
            uint64_t end_seq = a->next_seq;
            uint8_t end_head[32];
            memcpy(end_head, a->head, 32);
            a->writing = true;
            (void)pthread_mutex_unlock(&a->mu);
            sigil_result r = a->sink.write(a->sink.ctx, a->out.p, a->out.len);
            (void)pthread_mutex_lock(&a->mu);
            a->writing = false;
            a->out.len = 0;
            if (sigil_is_ok(r)) {
                a->done_gen = g;
                a->durable_seq = end_seq;
                memcpy(a->durable_head, end_head, 32);
            } else {
                a->failed = true;
                a->fail_gen = g;
                a->fail_code = r.code;
                SIGIL_LOG_ERROR("audit sink write failed; the audit log is closed and nothing more is signed",
                                SIGIL_LOG_STR("error", sigil_strerror(r.code)));
            }
            (void)pthread_cond_broadcast(&a->done);
            continue;
        }
        (void)pthread_cond_wait(&a->done, &a->mu);
    }
}

static void *timer_main(void *arg)
{
    struct sigil_audit *a = arg;
    (void)pthread_mutex_lock(&a->mu);
    while (!a->stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t)a->interval_s;
        int rc = 0;
        while (!a->stopping && rc != ETIMEDOUT) {
            rc = pthread_cond_timedwait(&a->tick, &a->mu, &deadline);
        }
        if (a->stopping || a->failed || a->unsigned_records == 0) {
            continue;
        }
        sigil_result r = queue_checkpoint(a);
        if (sigil_is_ok(r)) {
            r = commit_locked(a, a->queue_gen);
        }
        if (!sigil_is_ok(r)) {
            SIGIL_LOG_WARN("audit checkpoint failed", SIGIL_LOG_STR("error", sigil_strerror(r.code)));
        }
    }
    (void)pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ---- lifecycle ---- */

static void audit_destroy(struct sigil_audit *a)
{
    if (a->sink.close != NULL) {
        a->sink.close(a->sink.ctx);
    }
    sigil_secp256k1_sk_free(a->key);
    free(a->queue.p);
    free(a->out.p);
    (void)pthread_cond_destroy(&a->tick);
    (void)pthread_cond_destroy(&a->done);
    (void)pthread_mutex_destroy(&a->mu);
    free(a);
}

static SIGIL_RESULT queue_start(struct sigil_audit *a, const struct sigil_audit_config *cfg)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    char *b64 = NULL;
    if (cfg->attest != NULL) {
        uint8_t ud[32];
        sigil_sha256(ud, a->pub, sizeof a->pub);
        SIGIL_GUARD_GOTO(cfg->attest(cfg->attest_ctx, ud, &doc, &doc_len));
        if (doc == NULL || doc_len == 0 || doc_len > SIGIL_ATTEST_MAX_DOC) {
            ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "attestation document for the audit key is empty or over %d bytes",
                               SIGIL_ATTEST_MAX_DOC);
            goto out;
        }
        b64 = malloc(4 * ((doc_len + 2) / 3) + 1);
        SIGIL_ENSURE_GOTO(b64 != NULL, SIGIL_ERR_NOMEM);
        (void)sigil_base64_encode(b64, doc, doc_len);
    }
    struct lw w = line_begin(a, "start");
    lw_fmt(&w, ",\"version\":\"%s\",\"instance\":", SIGIL_AUDIT_VERSION);
    lw_jstr(&w, cfg->instance != NULL ? cfg->instance : "", AUDIT_MAX_INSTANCE);
    lw_str(&w, ",\"pubkey\":");
    lw_hex(&w, a->pub, sizeof a->pub, 1);
    lw_str(&w, ",\"address\":");
    lw_hex(&w, a->addr, sizeof a->addr, 1);
    lw_str(&w, ",\"policy_hash\":");
    lw_hex(&w, cfg->policy_hash, 32, 1);
    lw_fmt(&w, ",\"checkpoint_every\":%u,\"interval_s\":%u", a->checkpoint_every, a->interval_s);
    if (b64 != NULL) {
        lw_str(&w, ",\"attestation\":\"");
        lw_str(&w, b64);
        lw_str(&w, "\"");
    }
    SIGIL_GUARD_GOTO(line_queue(a, &w));
    /* The start is signed at once: its key proves possession, and a log that sees no decision
     * still ends in a checkpoint. */
    ret = queue_checkpoint(a);
out:
    free(doc);
    free(b64);
    return ret;
}

sigil_result sigil_audit_open(struct sigil_audit **out, const struct sigil_audit_config *cfg)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (out == NULL || cfg == NULL || cfg->sink.write == NULL) {
        if (cfg != NULL && cfg->sink.close != NULL) {
            cfg->sink.close(cfg->sink.ctx);
        }
        return sigil_errorf(SIGIL_ERR_ARG, "audit configuration needs a sink");
    }
    struct sigil_audit *a = calloc(1, sizeof *a);
    if (a == NULL) {
        if (cfg->sink.close != NULL) {
            cfg->sink.close(cfg->sink.ctx);
        }
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    a->sink = cfg->sink;
    pthread_condattr_t ca;
    bool sync_ok = pthread_mutex_init(&a->mu, NULL) == 0;
    sync_ok = pthread_cond_init(&a->done, NULL) == 0 && sync_ok;
    sync_ok = pthread_condattr_init(&ca) == 0 && sync_ok;
    sync_ok = sync_ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
    sync_ok = sync_ok && pthread_cond_init(&a->tick, &ca) == 0;
    (void)pthread_condattr_destroy(&ca);
    if (!sync_ok) {
        audit_destroy(a);
        return sigil_errorf(SIGIL_ERR_INTERNAL, "cannot create the audit log's locks");
    }
    a->checkpoint_every = cfg->checkpoint_every ? cfg->checkpoint_every : SIGIL_AUDIT_CHECKPOINT;
    a->interval_s = cfg->interval_s ? cfg->interval_s : SIGIL_AUDIT_INTERVAL_S;
    a->next_seq = a->durable_seq = cfg->next_seq;
    memcpy(a->head, cfg->prev_hash, 32);
    memcpy(a->durable_head, cfg->prev_hash, 32);
    a->queue_gen = 1;

    sigil_result ret = sigil_secp256k1_sk_generate(&a->key);
    if (sigil_is_ok(ret)) {
        ret = sigil_secp256k1_pubkey(a->pub, a->key);
    }
    if (sigil_is_ok(ret)) {
        ret = sigil_secp256k1_address(a->addr, a->key);
    }
    (void)pthread_mutex_lock(&a->mu);
    if (sigil_is_ok(ret)) {
        ret = queue_start(a, cfg);
    }
    if (sigil_is_ok(ret)) {
        ret = commit_locked(a, a->queue_gen);
    }
    (void)pthread_mutex_unlock(&a->mu);
    if (sigil_is_ok(ret)) {
        if (pthread_create(&a->timer, NULL, timer_main, a) != 0) {
            ret = sigil_errorf(SIGIL_ERR_INTERNAL, "cannot start the audit checkpoint thread");
        } else {
            a->timer_started = true;
        }
    }
    if (!sigil_is_ok(ret)) {
        audit_destroy(a);
        return ret;
    }
    *out = a;
    return sigil_ok();
}

static SIGIL_RESULT queue_decision(struct sigil_audit *a, const struct sigil_audit_event *ev)
{
    struct lw w = line_begin(a, "decision");
    lw_str(&w, ",\"kind\":");
    lw_jstr(&w, ev->kind != NULL ? ev->kind : "", AUDIT_MAX_KIND);
    lw_str(&w, ev->signed_ ? ",\"result\":\"signed\",\"policy\":" : ",\"result\":\"refused\",\"policy\":");
    lw_jstr(&w, ev->policy != NULL ? ev->policy : "", AUDIT_MAX_POLICY);
    lw_str(&w, ",\"rule\":");
    lw_jstr(&w, ev->rule, AUDIT_MAX_RULE);
    lw_str(&w, ",\"reason\":");
    lw_jstr(&w, ev->reason, AUDIT_MAX_REASON);
    lw_str(&w, ",\"client\":");
    lw_jstr(&w, ev->client != NULL ? ev->client : "", AUDIT_MAX_CLIENT);
    lw_str(&w, ",\"client_fp\":");
    lw_hex(&w, ev->client_fingerprint, 32, 1);
    lw_str(&w, ",\"account\":");
    lw_hex(&w, ev->account, 20, 1);
    lw_str(&w, ",\"digest\":");
    lw_hex(&w, ev->digest, 32, 1);
    if (ev->has_chain_id) {
        lw_fmt(&w, ",\"chain_id\":\"%llu\"", (unsigned long long)ev->chain_id);
    } else {
        lw_str(&w, ",\"chain_id\":null");
    }
    lw_str(&w, ",\"to\":");
    lw_hex(&w, ev->to, 20, 1);
    lw_str(&w, ",\"value\":");
    lw_quantity(&w, ev->value_be);
    lw_fmt(&w, ",\"approvals\":%u", ev->approvals);
    return line_queue(a, &w);
}

sigil_result sigil_audit_record(struct sigil_audit *a, const struct sigil_audit_event *ev)
{
    if (a == NULL || ev == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "audit record needs a log and an event");
    }
    (void)pthread_mutex_lock(&a->mu);
    sigil_result ret;
    if (a->failed) {
        ret = sigil_errorf(SIGIL_ERR_NOT_READY, "the audit log is closed after a sink failure");
        goto out;
    }
    ret = queue_decision(a, ev);
    if (!sigil_is_ok(ret)) {
        goto out;
    }
    if (++a->unsigned_decisions >= a->checkpoint_every) {
        /* A failed checkpoint leaves the decision queued; the next record or the timer retries. */
        sigil_result c = queue_checkpoint(a);
        if (!sigil_is_ok(c)) {
            SIGIL_LOG_WARN("audit checkpoint failed", SIGIL_LOG_STR("error", sigil_strerror(c.code)));
        }
    }
    ret = commit_locked(a, a->queue_gen);
out:
    (void)pthread_mutex_unlock(&a->mu);
    return ret;
}

void sigil_audit_info(struct sigil_audit *a, uint8_t address[20], uint64_t *next_seq, uint8_t head[32])
{
    (void)pthread_mutex_lock(&a->mu);
    if (address != NULL) {
        memcpy(address, a->addr, 20);
    }
    if (next_seq != NULL) {
        *next_seq = a->durable_seq;
    }
    if (head != NULL) {
        memcpy(head, a->durable_head, 32);
    }
    (void)pthread_mutex_unlock(&a->mu);
}

void sigil_audit_free(struct sigil_audit *a)
{
    if (a == NULL) {
        return;
    }
    (void)pthread_mutex_lock(&a->mu);
    a->stopping = true;
    (void)pthread_cond_broadcast(&a->tick);
    (void)pthread_mutex_unlock(&a->mu);
    if (a->timer_started) {
        (void)pthread_join(a->timer, NULL);
    }
    (void)pthread_mutex_lock(&a->mu);
    if (!a->failed) {
        /* The stop record comes before the final checkpoint, so a cleanly closed log is signed to
         * its last line, and a stop without a checkpoint after it shows that one was removed. */
        struct lw w = line_begin(a, "stop");
        sigil_result r = line_queue(a, &w);
        if (sigil_is_ok(r)) {
            r = queue_checkpoint(a);
        }
        if (sigil_is_ok(r)) {
            r = commit_locked(a, a->queue_gen);
        }
        if (!sigil_is_ok(r)) {
            SIGIL_LOG_WARN("audit stop record failed", SIGIL_LOG_STR("error", sigil_strerror(r.code)));
        }
    }
    (void)pthread_mutex_unlock(&a->mu);
    audit_destroy(a);
}
