/* Control-channel frames, dispatch and transports (see channel.h, docs/enclave.md). */
#include "channel/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/secmem.h"

#define DEFAULT_WRITE_TIMEOUT_MS 10000

/* ---------------------------------------------------------------- names */

static const char *const type_names[SIGIL_CHANNEL_NTYPES] = {
    "UNKNOWN",     "INIT",   "INIT_OK",   "KEYS_PAGE", "KEYS_ACK", "STATUS", "STATUS_OK", "SHUTDOWN",
    "SHUTDOWN_OK", "KEYGEN", "KEYGEN_OK", "LOG",       "ERROR",    "AUDIT",  "AUDIT_OK",
};

const char *sigil_msg_type_name(uint8_t type) { return type < SIGIL_CHANNEL_NTYPES ? type_names[type] : "UNKNOWN"; }

const char *sigil_channel_state_name(enum sigil_channel_state s)
{
    switch (s) {
    case SIGIL_CH_NEW:
        return "NEW";
    case SIGIL_CH_INITIALIZING:
        return "INITIALIZING";
    case SIGIL_CH_READY:
        return "READY";
    case SIGIL_CH_CLOSED:
        return "CLOSED";
    }
    return "UNKNOWN";
}

/* ---------------------------------------------------------------- bounded blocking I/O */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to become ready for events before deadline (< 0: none). */
static sigil_result wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int t = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                return sigil_errorf(SIGIL_ERR_IO, "channel: timed out");
            }
            t = left > 0x7fffffff ? 0x7fffffff : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, t);
        if (rc > 0) {
            return sigil_ok();
        }
        if (rc == 0) {
            return sigil_errorf(SIGIL_ERR_IO, "channel: timed out");
        }
        if (errno != EINTR) {
            return sigil_errorf(SIGIL_ERR_IO, "channel: poll: %s", strerror(errno));
        }
    }
}

/* Reads exactly n bytes. *eof (when given) is set when the peer closed before the first byte. */
static sigil_result read_full(int fd, uint8_t *buf, size_t n, int64_t deadline, bool *eof)
{
    size_t off = 0;
    while (off < n) {
        SIGIL_GUARD(wait_fd(fd, POLLIN, deadline));
        ssize_t r = read(fd, buf + off, n - off);
        if (r > 0) {
            off += (size_t)r;
            continue;
        }
        if (r == 0 && off == 0 && eof != NULL) {
            *eof = true;
            return sigil_errorf(SIGIL_ERR_NOT_FOUND, "channel: peer closed");
        }
        if (r == 0) {
            return sigil_errorf(SIGIL_ERR_IO, "channel: peer closed in the middle of a frame");
        }
        if (errno != EINTR && errno != EAGAIN) {
            return sigil_errorf(SIGIL_ERR_IO, "channel: read: %s", strerror(errno));
        }
    }
    return sigil_ok();
}

static sigil_result write_full(int fd, const uint8_t *buf, size_t n, int64_t deadline)
{
    size_t off = 0;
    bool sock = true;
    while (off < n) {
        SIGIL_GUARD(wait_fd(fd, POLLOUT, deadline));
        ssize_t w = sock ? send(fd, buf + off, n - off, MSG_NOSIGNAL) : write(fd, buf + off, n - off);
        if (w < 0 && sock && errno == ENOTSOCK) {
            sock = false;
            continue;
        }
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        return sigil_errorf(SIGIL_ERR_IO, "channel: write: %s", w < 0 ? strerror(errno) : "no progress");
    }
    return sigil_ok();
}

static int64_t deadline_of(int timeout_ms) { return timeout_ms < 0 ? -1 : now_ms() + timeout_ms; }

/* ---------------------------------------------------------------- frames */

sigil_result sigil_frame_write(int fd, uint8_t type, const void *payload, size_t len, int timeout_ms)
{
    if (len >= SIGIL_FRAME_MAX) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "channel: frame of %zu bytes over the %u-byte limit", len + 1,
                            SIGIL_FRAME_MAX);
    }
    SIGIL_ENSURE(payload != NULL || len == 0, SIGIL_ERR_ARG);
    uint32_t n = (uint32_t)len + 1;
    uint8_t hdr[5] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type};
    int64_t deadline = deadline_of(timeout_ms);
    SIGIL_GUARD(write_full(fd, hdr, sizeof hdr, deadline));
    return len > 0 ? write_full(fd, payload, len, deadline) : sigil_ok();
}

sigil_result sigil_frame_read(int fd, uint8_t *type, uint8_t **payload, size_t *len, bool *secure,
                              bool (*secret_type)(uint8_t type, void *ctx), void *ctx, int timeout_ms)
{
    SIGIL_ENSURE(type != NULL && payload != NULL && len != NULL && secure != NULL, SIGIL_ERR_ARG);
    *payload = NULL;
    *len = 0;
    *secure = false;
    uint8_t hdr[5];
    bool eof = false;
    int64_t deadline = deadline_of(timeout_ms);
    sigil_result r = read_full(fd, hdr, 1, deadline, &eof);
    SIGIL_GUARD(r);
    SIGIL_GUARD(read_full(fd, hdr + 1, 3, deadline, NULL));
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (n == 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "channel: zero-length frame");
    }
    if (n > SIGIL_FRAME_MAX) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "channel: frame length %u over the %u-byte limit", n, SIGIL_FRAME_MAX);
    }
    SIGIL_GUARD(read_full(fd, hdr + 4, 1, deadline, NULL));
    bool sec = secret_type != NULL && secret_type(hdr[4], ctx);
    size_t plen = n - 1;
    uint8_t *p = sec ? sigil_secure_alloc(plen + 1) : malloc(plen + 1);
    if (p == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    r = plen > 0 ? read_full(fd, p, plen, deadline, NULL) : sigil_ok();
    if (!sigil_is_ok(r)) {
        if (sec) {
            sigil_secure_free(p);
        } else {
            free(p);
        }
        return r;
    }
    p[plen] = '\0';
    *type = hdr[4];
    *payload = p;
    *len = plen;
    *secure = sec;
    return sigil_ok();
}

sigil_result sigil_frame_write_json(int fd, uint8_t type, const json_t *obj, int timeout_ms)
{
    /* Serialised straight into secure memory: json_dumpb writes into the caller's buffer, where
     * json_dumps grows a heap buffer by copying and would leave unwiped copies of INIT's
     * credentials behind. Answers such as KEYGEN_OK carry only ciphertext, but one rule for all. */
    size_t n = json_dumpb(obj, NULL, 0, JSON_COMPACT);
    if (n == 0) {
        return sigil_errorf(SIGIL_ERR_NOMEM, "channel: cannot serialise the message");
    }
    if (n >= SIGIL_FRAME_MAX) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "channel: frame of %zu bytes over the %u-byte limit", n + 1,
                            SIGIL_FRAME_MAX);
    }
    char *s = sigil_secure_alloc(n);
    if (s == NULL) {
        return sigil_errorf(SIGIL_ERR_NOMEM, "channel: cannot serialise the message");
    }
    sigil_result r = json_dumpb(obj, s, n, JSON_COMPACT) == n
                         ? sigil_frame_write(fd, type, s, n, timeout_ms)
                         : sigil_errorf(SIGIL_ERR_INTERNAL, "channel: the message changed while it was serialised");
    sigil_secure_free(s);
    return r;
}

/* ---------------------------------------------------------------- secret-aware JSON allocation
 * jansson allocates through one global pair of functions. While this thread parses a secret frame,
 * these allocate from secure memory and remember the block; everything else is plain malloc, so
 * callers that free() what json_dumps returned keep working. The free path costs one atomic load
 * while no secret JSON is alive. */

static _Thread_local bool ja_secret;
static bool ja_installed;
static pthread_mutex_t ja_lock = PTHREAD_MUTEX_INITIALIZER;
static void **ja_blocks;
static size_t ja_cap;
static atomic_size_t ja_count;

static void *ja_malloc(size_t n)
{
    if (!ja_secret) {
        return malloc(n);
    }
    void *p = sigil_secure_alloc(n != 0 ? n : 1);
    if (p == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&ja_lock);
    size_t c = atomic_load(&ja_count);
    if (c == ja_cap) {
        size_t nc = ja_cap != 0 ? ja_cap * 2 : 256;
        void **nb = realloc(ja_blocks, nc * sizeof *nb);
        if (nb == NULL) {
            pthread_mutex_unlock(&ja_lock);
            sigil_secure_free(p);
            return NULL;
        }
        ja_blocks = nb;
        ja_cap = nc;
    }
    ja_blocks[c] = p;
    atomic_store(&ja_count, c + 1);
    pthread_mutex_unlock(&ja_lock);
    return p;
}

static void ja_free(void *p)
{
    if (p == NULL) {
        return;
    }
    if (atomic_load(&ja_count) != 0) {
        pthread_mutex_lock(&ja_lock);
        size_t c = atomic_load(&ja_count);
        for (size_t i = c; i-- > 0;) {
            if (ja_blocks[i] == p) {
                ja_blocks[i] = ja_blocks[c - 1];
                atomic_store(&ja_count, c - 1);
                pthread_mutex_unlock(&ja_lock);
                sigil_secure_free(p);
                return;
            }
        }
        pthread_mutex_unlock(&ja_lock);
    }
    free(p);
}

static pthread_once_t ja_once = PTHREAD_ONCE_INIT;
static void ja_install(void)
{
    json_set_alloc_funcs(ja_malloc, ja_free);
    ja_installed = true;
}

/* ---------------------------------------------------------------- channel */

#define QUEUE_CAP   8  /* requests read ahead of the dispatch thread; the peer sends one at a time */
#define EXPIRED_CAP 32 /* ids of our requests that timed out: a late answer to one is dropped */

struct frame {
    uint8_t type;
    uint8_t *payload;
    size_t len;
    bool secure;
};

/* One request of ours waiting for its answer (on the caller's stack). */
struct call {
    int64_t id;
    uint8_t want;
    bool done;
    uint8_t got;
    json_t *answer;
    struct call *next;
};

struct sigil_channel {
    int fd;
    _Atomic int state;
    const struct sigil_channel_rule *rules[SIGIL_CHANNEL_NTYPES];
    bool used[SIGIL_CHANNEL_NTYPES];
    void *ctx;
    int read_timeout_ms, write_timeout_ms;
    pthread_mutex_t wlock;
    /* under mu: our requests, the reader thread and its queue */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct call *calls;
    int64_t next_call_id;
    int64_t expired[EXPIRED_CAP];
    size_t nexpired;
    bool reader_started, reader_done;
    pthread_t reader;
    struct frame q[QUEUE_CAP];
    size_t qhead, qcount;
    enum sigil_err reader_err;
    char reader_detail[256];
    bool close_reported; /* dispatch_one returned the error that closed the channel */
};

void sigil_channel_use_secure_json(void) { pthread_once(&ja_once, ja_install); }

void sigil_channel_secret_json(bool on) { ja_secret = on && ja_installed; }

sigil_result sigil_channel_new(struct sigil_channel **out, int fd, const struct sigil_channel_rule *rules,
                               size_t nrules, void *handler_ctx)
{
    SIGIL_ENSURE(out != NULL && fd >= 0 && (rules != NULL || nrules == 0), SIGIL_ERR_ARG);
    struct sigil_channel *ch = calloc(1, sizeof *ch);
    SIGIL_ENSURE(ch != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < nrules; i++) {
        uint8_t t = rules[i].type;
        bool request = (t & 1u) != 0;
        /* requests need a handler; answers (to our own requests) must not have one */
        if (t == 0 || t >= SIGIL_CHANNEL_NTYPES || ch->rules[t] != NULL || request != (rules[i].handler != NULL) ||
            (!request && (rules[i].once || rules[i].secret))) {
            free(ch);
            return sigil_errorf(SIGIL_ERR_ARG, "channel: dispatch rule %zu is invalid", i);
        }
        ch->rules[t] = &rules[i];
    }
    ch->fd = fd;
    atomic_init(&ch->state, SIGIL_CH_NEW);
    ch->ctx = handler_ctx;
    ch->read_timeout_ms = -1;
    ch->write_timeout_ms = DEFAULT_WRITE_TIMEOUT_MS;
    pthread_mutex_init(&ch->wlock, NULL);
    pthread_mutex_init(&ch->mu, NULL);
    pthread_cond_init(&ch->cv, NULL);
    *out = ch;
    return sigil_ok();
}

static void free_payload(uint8_t *p, size_t len, bool secure)
{
    if (secure) {
        sigil_secure_free(p);
    } else {
        (void)len;
        free(p);
    }
}

void sigil_channel_free(struct sigil_channel *ch)
{
    if (ch == NULL) {
        return;
    }
    if (ch->reader_started) {
        sigil_channel_close(ch); /* the reader sees EOF */
        pthread_join(ch->reader, NULL);
    }
    if (ch->fd >= 0) {
        (void)close(ch->fd);
    }
    while (ch->qcount > 0) {
        struct frame *f = &ch->q[ch->qhead];
        free_payload(f->payload, f->len, f->secure);
        ch->qhead = (ch->qhead + 1) % QUEUE_CAP;
        ch->qcount--;
    }
    pthread_mutex_destroy(&ch->wlock);
    pthread_mutex_destroy(&ch->mu);
    pthread_cond_destroy(&ch->cv);
    free(ch);
}

void sigil_channel_set_timeouts(struct sigil_channel *ch, int read_timeout_ms, int write_timeout_ms)
{
    ch->read_timeout_ms = read_timeout_ms;
    ch->write_timeout_ms = write_timeout_ms;
}

enum sigil_channel_state sigil_channel_state(const struct sigil_channel *ch)
{
    return (enum sigil_channel_state)atomic_load(&ch->state);
}
void sigil_channel_set_state(struct sigil_channel *ch, enum sigil_channel_state s) { atomic_store(&ch->state, s); }
int sigil_channel_fd(const struct sigil_channel *ch) { return ch->fd; }

void sigil_channel_close(struct sigil_channel *ch)
{
    atomic_store(&ch->state, SIGIL_CH_CLOSED);
    if (ch->fd >= 0) {
        /* shutdown, not close: a LOG writer on another thread may still hold the number */
        (void)shutdown(ch->fd, SHUT_RDWR);
    }
    /* wake callers waiting for answers and a dispatcher waiting for the reader */
    pthread_mutex_lock(&ch->mu);
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->mu);
}

static bool rule_secret(uint8_t type, void *ctx)
{
    const struct sigil_channel *ch = ctx;
    return type < SIGIL_CHANNEL_NTYPES && ch->rules[type] != NULL && ch->rules[type]->secret;
}

/* Closes and returns err with a detail naming the violation. */
#define VIOLATION(err, ...)                                                                                            \
    do {                                                                                                               \
        ret = sigil_errorf((err), __VA_ARGS__);                                                                        \
        sigil_channel_close(ch);                                                                                       \
        goto out;                                                                                                      \
    } while (0)

/* The rule for type, checked against the current state: NULL after a violation (ret set). */
static const struct sigil_channel_rule *permitted(struct sigil_channel *ch, uint8_t type, sigil_result *res)
{
    sigil_result ret = sigil_ok();
    const struct sigil_channel_rule *rule = type < SIGIL_CHANNEL_NTYPES ? ch->rules[type] : NULL;
    enum sigil_channel_state st = sigil_channel_state(ch);
    if (rule == NULL) {
        VIOLATION(SIGIL_ERR_FORBIDDEN, "channel: message type %u is not accepted here", type);
    }
    if ((rule->states_mask & SIGIL_CH_MASK(st)) == 0) {
        VIOLATION(SIGIL_ERR_FORBIDDEN, "channel: %s is not allowed in state %s", sigil_msg_type_name(type),
                  sigil_channel_state_name(st));
    }
    if (rule->once && ch->used[type]) {
        VIOLATION(SIGIL_ERR_FORBIDDEN, "channel: %s may be sent only once", sigil_msg_type_name(type));
    }
    return rule;
out:
    *res = ret;
    return NULL;
}

/* Parses a payload into a JSON object with an integer "id" >= 0 (else a violation). */
static sigil_result parse_msg(struct sigil_channel *ch, const struct frame *f, json_t **msg, int64_t *id)
{
    sigil_result ret = sigil_ok();
    json_error_t jerr;
    ja_secret = f->secure && ja_installed;
    *msg = json_loadb((const char *)f->payload, f->len, JSON_REJECT_DUPLICATES, &jerr);
    ja_secret = false;
    if (*msg == NULL || !json_is_object(*msg)) {
        VIOLATION(SIGIL_ERR_PARSE, "channel: %s payload is not a JSON object", sigil_msg_type_name(f->type));
    }
    json_t *idv = json_object_get(*msg, "id");
    if (!json_is_integer(idv) || json_integer_value(idv) < 0) {
        VIOLATION(SIGIL_ERR_PARSE, "channel: %s has no integer \"id\"", sigil_msg_type_name(f->type));
    }
    *id = (int64_t)json_integer_value(idv);
out:
    return ret;
}

/* An answer to one of our requests: hand it to the waiting caller. An answer nobody asked for
 * (an unknown id, or the wrong type for the id) is a violation; a late answer to a request that
 * timed out is dropped. Takes ownership of f's payload. */
static sigil_result handle_answer(struct sigil_channel *ch, struct frame *f)
{
    sigil_result ret = sigil_ok();
    json_t *msg = NULL;
    int64_t id = 0;
    if (permitted(ch, f->type, &ret) == NULL) {
        goto out;
    }
    SIGIL_GUARD_GOTO(parse_msg(ch, f, &msg, &id));
    pthread_mutex_lock(&ch->mu);
    struct call *c = ch->calls;
    while (c != NULL && c->id != id) {
        c = c->next;
    }
    if (c != NULL && (c->done || (f->type != c->want && f->type != SIGIL_MSG_ERROR))) {
        uint8_t want = c->want;
        pthread_mutex_unlock(&ch->mu);
        VIOLATION(SIGIL_ERR_FORBIDDEN, "channel: %s for request %lld where %s was due", sigil_msg_type_name(f->type),
                  (long long)id, sigil_msg_type_name(want));
    }
    if (c == NULL) {
        bool late = false;
        for (size_t i = 0; i < ch->nexpired && i < EXPIRED_CAP; i++) {
            late = late || ch->expired[i] == id;
        }
        pthread_mutex_unlock(&ch->mu);
        if (late) {
            goto out; /* dropped */
        }
        VIOLATION(SIGIL_ERR_FORBIDDEN, "channel: %s answers id %lld, which no request is waiting for",
                  sigil_msg_type_name(f->type), (long long)id);
    }
    c->answer = msg;
    c->got = f->type;
    c->done = true;
    msg = NULL;
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->mu);
out:
    json_decref(msg);
    free_payload(f->payload, f->len, f->secure);
    f->payload = NULL;
    return ret;
}

/* A request from the peer: rule, state and once checks, then the handler. Takes ownership of
 * f's payload. */
static sigil_result handle_request(struct sigil_channel *ch, struct frame *f)
{
    sigil_result ret = sigil_ok();
    json_t *msg = NULL;
    int64_t id = 0;
    const struct sigil_channel_rule *rule = permitted(ch, f->type, &ret);
    if (rule == NULL) {
        goto out;
    }
    SIGIL_GUARD_GOTO(parse_msg(ch, f, &msg, &id));
    /* The raw text is no longer needed: wipe it before the handler runs (it may take seconds). */
    free_payload(f->payload, f->len, f->secure);
    f->payload = NULL;
    enum sigil_channel_verdict v = rule->handler(ch, msg, id, ch->ctx);
    if (v == SIGIL_CH_CLOSE) {
        VIOLATION(SIGIL_ERR_FORBIDDEN, "channel: %s rejected as a protocol violation", sigil_msg_type_name(f->type));
    }
    if (v == SIGIL_CH_DONE && rule->once) {
        ch->used[f->type] = true;
    }
out:
    json_decref(msg);
    if (f->payload != NULL) {
        free_payload(f->payload, f->len, f->secure);
        f->payload = NULL;
    }
    return ret;
}

static sigil_result read_one(struct sigil_channel *ch, struct frame *f)
{
    memset(f, 0, sizeof *f);
    sigil_result r =
        sigil_frame_read(ch->fd, &f->type, &f->payload, &f->len, &f->secure, rule_secret, ch, ch->read_timeout_ms);
    if (!sigil_is_ok(r)) {
        sigil_channel_close(ch);
    }
    return r;
}

static void *reader_main(void *arg)
{
    struct sigil_channel *ch = arg;
    sigil_result r = sigil_ok();
    for (;;) {
        struct frame f;
        r = read_one(ch, &f);
        if (!sigil_is_ok(r)) {
            break;
        }
        if ((f.type & 1u) == 0) {
            r = handle_answer(ch, &f);
            if (!sigil_is_ok(r)) {
                break;
            }
            continue;
        }
        pthread_mutex_lock(&ch->mu);
        if (ch->qcount == QUEUE_CAP) {
            pthread_mutex_unlock(&ch->mu);
            free_payload(f.payload, f.len, f.secure);
            r = sigil_errorf(SIGIL_ERR_FORBIDDEN, "channel: more than %d requests sent without waiting for answers",
                             QUEUE_CAP);
            sigil_channel_close(ch);
            break;
        }
        ch->q[(ch->qhead + ch->qcount) % QUEUE_CAP] = f;
        ch->qcount++;
        pthread_cond_broadcast(&ch->cv);
        pthread_mutex_unlock(&ch->mu);
    }
    pthread_mutex_lock(&ch->mu);
    ch->reader_done = true;
    ch->reader_err = r.code;
    (void)snprintf(ch->reader_detail, sizeof ch->reader_detail, "%s", sigil_error_detail());
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->mu);
    return NULL;
}

sigil_result sigil_channel_start_reader(struct sigil_channel *ch)
{
    SIGIL_ENSURE(!ch->reader_started, SIGIL_ERR_ARG);
    if (pthread_create(&ch->reader, NULL, reader_main, ch) != 0) {
        return sigil_errorf(SIGIL_ERR_INTERNAL, "channel: cannot start the reader thread");
    }
    ch->reader_started = true;
    return sigil_ok();
}

static sigil_result dispatch_one(struct sigil_channel *ch)
{
    struct frame f;
    if (ch->reader_started) {
        pthread_mutex_lock(&ch->mu);
        while (ch->qcount == 0 && !ch->reader_done) {
            pthread_cond_wait(&ch->cv, &ch->mu);
        }
        /* Once the reader stopped (peer gone or a violation), queued requests are dropped. */
        if (ch->qcount == 0 || ch->reader_done) {
            enum sigil_err code = ch->reader_err != SIGIL_OK ? ch->reader_err : SIGIL_ERR_NOT_READY;
            char detail[sizeof ch->reader_detail];
            memcpy(detail, ch->reader_detail, sizeof detail);
            pthread_mutex_unlock(&ch->mu);
            sigil_channel_close(ch);
            return sigil_errorf(code, "%s", detail[0] ? detail : "channel: closed");
        }
        f = ch->q[ch->qhead];
        ch->qhead = (ch->qhead + 1) % QUEUE_CAP;
        ch->qcount--;
        pthread_mutex_unlock(&ch->mu);
        if (sigil_channel_state(ch) == SIGIL_CH_CLOSED) {
            free_payload(f.payload, f.len, f.secure);
            return sigil_errorf(SIGIL_ERR_NOT_READY, "channel: closed");
        }
        return handle_request(ch, &f);
    }
    if (sigil_channel_state(ch) == SIGIL_CH_CLOSED) {
        return sigil_errorf(SIGIL_ERR_NOT_READY, "channel: closed");
    }
    SIGIL_GUARD(read_one(ch, &f));
    return (f.type & 1u) == 0 ? handle_answer(ch, &f) : handle_request(ch, &f);
}

sigil_result sigil_channel_dispatch_one(struct sigil_channel *ch)
{
    if (ch->close_reported) {
        return sigil_errorf(SIGIL_ERR_NOT_READY, "channel: closed");
    }
    sigil_result r = dispatch_one(ch);
    if (!sigil_is_ok(r) && sigil_channel_state(ch) == SIGIL_CH_CLOSED) {
        ch->close_reported = true;
    }
    return r;
}

sigil_result sigil_channel_send(struct sigil_channel *ch, uint8_t type, int64_t id, json_t *obj)
{
    SIGIL_ENSURE(obj != NULL, SIGIL_ERR_ARG);
    if (id >= 0 && json_object_set_new(obj, "id", json_integer(id)) != 0) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    pthread_mutex_lock(&ch->wlock);
    sigil_result r = sigil_channel_state(ch) == SIGIL_CH_CLOSED && type != SIGIL_MSG_SHUTDOWN_OK
                         ? sigil_errorf(SIGIL_ERR_NOT_READY, "channel: closed")
                         : sigil_frame_write_json(ch->fd, type, obj, ch->write_timeout_ms);
    pthread_mutex_unlock(&ch->wlock);
    return r;
}

sigil_result sigil_channel_send_error(struct sigil_channel *ch, int64_t id, const char *code, const char *message)
{
    json_t *o = json_pack("{s:s, s:s}", "code", code, "message", message != NULL ? message : "");
    if (o == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    sigil_result r = sigil_channel_send(ch, SIGIL_MSG_ERROR, id, o);
    json_decref(o);
    return r;
}

static void unlink_call(struct sigil_channel *ch, struct call *c)
{
    for (struct call **p = &ch->calls; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            return;
        }
    }
}

sigil_result sigil_channel_call(struct sigil_channel *ch, uint8_t type, json_t *obj, int timeout_ms, json_t **answer)
{
    SIGIL_ENSURE(ch != NULL && obj != NULL && answer != NULL, SIGIL_ERR_ARG);
    *answer = NULL;
    uint8_t want = (uint8_t)(type + 1);
    if ((type & 1u) == 0 || want >= SIGIL_CHANNEL_NTYPES || ch->rules[want] == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "channel: %s has no permitted answer", sigil_msg_type_name(type));
    }
    struct call c = {.want = want};
    pthread_mutex_lock(&ch->mu);
    if (sigil_channel_state(ch) == SIGIL_CH_CLOSED) {
        pthread_mutex_unlock(&ch->mu);
        return sigil_errorf(SIGIL_ERR_NOT_READY, "channel: closed");
    }
    c.id = ++ch->next_call_id;
    c.next = ch->calls;
    ch->calls = &c;
    pthread_mutex_unlock(&ch->mu);

    sigil_result r = sigil_channel_send(ch, type, c.id, obj);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    int64_t ns = dl.tv_nsec + (int64_t)(timeout_ms > 0 ? timeout_ms % 1000 : 0) * 1000000;
    dl.tv_sec += (timeout_ms > 0 ? timeout_ms / 1000 : 0) + ns / 1000000000;
    dl.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&ch->mu);
    while (sigil_is_ok(r) && !c.done && sigil_channel_state(ch) != SIGIL_CH_CLOSED) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&ch->cv, &ch->mu) : pthread_cond_timedwait(&ch->cv, &ch->mu, &dl);
        if (rc == ETIMEDOUT && !c.done) {
            ch->expired[ch->nexpired++ % EXPIRED_CAP] = c.id;
            r = sigil_errorf(SIGIL_ERR_IO, "channel: no answer to %s within %d ms", sigil_msg_type_name(type),
                             timeout_ms);
        }
    }
    if (sigil_is_ok(r) && !c.done) {
        r = sigil_errorf(SIGIL_ERR_NOT_READY, "channel: closed while waiting for the answer to %s",
                         sigil_msg_type_name(type));
    }
    unlink_call(ch, &c);
    pthread_mutex_unlock(&ch->mu);
    if (!sigil_is_ok(r)) {
        json_decref(c.answer);
        return r;
    }
    if (c.got == SIGIL_MSG_ERROR) {
        const char *code = json_string_value(json_object_get(c.answer, "code"));
        const char *msg = json_string_value(json_object_get(c.answer, "message"));
        r = sigil_errorf(SIGIL_ERR_NOT_READY, "%s refused: %s%s%.200s", sigil_msg_type_name(type),
                         code != NULL ? code : "error", msg != NULL ? ": " : "", msg != NULL ? msg : "");
        json_decref(c.answer);
        return r;
    }
    *answer = c.answer;
    return sigil_ok();
}

/* ---------------------------------------------------------------- transports */

static sigil_result parse_u32(uint32_t *out, const char *s, size_t n, uint32_t max)
{
    if (n == 0 || n > 10) {
        return sigil_error(SIGIL_ERR_CONFIG);
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return sigil_error(SIGIL_ERR_CONFIG);
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max) {
        return sigil_error(SIGIL_ERR_CONFIG);
    }
    *out = (uint32_t)v;
    return sigil_ok();
}

sigil_result sigil_transport_parse(struct sigil_transport_addr *out, const char *s)
{
    SIGIL_ENSURE(out != NULL, SIGIL_ERR_ARG);
    memset(out, 0, sizeof *out);
    out->fd = -1;
    if (s == NULL) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "transport: no address");
    }
    if (strncmp(s, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
        size_t n = strlen(s + 5);
        if (n == 0 || s[5] != '/' || n >= sizeof un->sun_path) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "transport: unix:PATH needs an absolute path under %zu bytes",
                                sizeof un->sun_path);
        }
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, s + 5, n + 1);
        out->sslen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        out->kind = SIGIL_TRANSPORT_UNIX;
        return sigil_ok();
    }
    if (strncmp(s, "fd:", 3) == 0) {
        uint32_t fd = 0;
        if (!sigil_is_ok(parse_u32(&fd, s + 3, strlen(s + 3), 65535))) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "transport: fd:N needs a descriptor number");
        }
        out->fd = (int)fd;
        out->kind = SIGIL_TRANSPORT_FD;
        return sigil_ok();
    }
    if (strncmp(s, "vsock:", 6) == 0) {
        const char *c = s + 6, *colon = strchr(c, ':');
        struct sockaddr_vm *vm = (struct sockaddr_vm *)&out->ss;
        if (colon == NULL) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "transport: vsock:CID:PORT expected");
        }
        if ((size_t)(colon - c) == 3 && strncmp(c, "ANY", 3) == 0) {
            out->cid = VMADDR_CID_ANY;
        } else if (!sigil_is_ok(parse_u32(&out->cid, c, (size_t)(colon - c), UINT32_MAX))) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "transport: bad vsock CID");
        }
        if (!sigil_is_ok(parse_u32(&out->port, colon + 1, strlen(colon + 1), UINT32_MAX - 1))) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "transport: bad vsock port");
        }
        vm->svm_family = AF_VSOCK;
        vm->svm_cid = out->cid;
        vm->svm_port = out->port;
        out->sslen = sizeof *vm;
        out->kind = SIGIL_TRANSPORT_VSOCK;
        return sigil_ok();
    }
    if (strncmp(s, "tcp:", 4) == 0) {
        const char *h = s + 4, *colon = strrchr(h, ':');
        struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;
        char host[16];
        if (colon == NULL || (size_t)(colon - h) >= sizeof host) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "transport: tcp:A.B.C.D:PORT expected");
        }
        memcpy(host, h, (size_t)(colon - h));
        host[colon - h] = '\0';
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1 ||
            !sigil_is_ok(parse_u32(&out->port, colon + 1, strlen(colon + 1), 65535))) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "transport: tcp:A.B.C.D:PORT expected");
        }
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)out->port);
        out->sslen = sizeof *in;
        out->kind = SIGIL_TRANSPORT_TCP;
        return sigil_ok();
    }
    return sigil_errorf(SIGIL_ERR_CONFIG, "transport: address must be unix:PATH, fd:N, vsock:CID:PORT or tcp:IP:PORT");
}

sigil_result sigil_transport_listen(int *out_fd, const char *addr)
{
    struct sigil_transport_addr a;
    SIGIL_GUARD(sigil_transport_parse(&a, addr));
    if (a.kind == SIGIL_TRANSPORT_FD) {
        return sigil_errorf(SIGIL_ERR_ARG, "transport: cannot listen on fd:N");
    }
    int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return sigil_errorf(SIGIL_ERR_IO, "transport: socket(%s): %s", addr, strerror(errno));
    }
    if (a.kind == SIGIL_TRANSPORT_UNIX) {
        (void)unlink(((struct sockaddr_un *)&a.ss)->sun_path);
    } else if (a.kind == SIGIL_TRANSPORT_TCP) {
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (bind(fd, (struct sockaddr *)&a.ss, a.sslen) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        (void)close(fd);
        return sigil_errorf(SIGIL_ERR_IO, "transport: listen on %s: %s", addr, strerror(e));
    }
    *out_fd = fd;
    return sigil_ok();
}

sigil_result sigil_transport_accept(int *out_fd, int listen_fd, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        SIGIL_GUARD(wait_fd(listen_fd, POLLIN, deadline));
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            *out_fd = fd;
            return sigil_ok();
        }
        if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
            return sigil_errorf(SIGIL_ERR_IO, "transport: accept: %s", strerror(errno));
        }
    }
}

sigil_result sigil_transport_connect(int *out_fd, const char *addr, int timeout_ms)
{
    struct sigil_transport_addr a;
    SIGIL_GUARD(sigil_transport_parse(&a, addr));
    if (a.kind == SIGIL_TRANSPORT_FD) {
        int fd = fcntl(a.fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
            return sigil_errorf(SIGIL_ERR_IO, "transport: %s: %s", addr, strerror(errno));
        }
        *out_fd = fd;
        return sigil_ok();
    }
    int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return sigil_errorf(SIGIL_ERR_IO, "transport: socket(%s): %s", addr, strerror(errno));
    }
    if (timeout_ms >= 0) {
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    int rc;
    do {
        rc = connect(fd, (struct sockaddr *)&a.ss, a.sslen);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        int e = errno;
        (void)close(fd);
        return sigil_errorf(SIGIL_ERR_IO, "transport: connect to %s: %s", addr, strerror(e));
    }
    if (timeout_ms >= 0) {
        struct timeval tv = {0, 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    *out_fd = fd;
    return sigil_ok();
}

sigil_result sigil_transport_serve_one(int *out_fd, const char *addr, int timeout_ms)
{
    struct sigil_transport_addr a;
    SIGIL_GUARD(sigil_transport_parse(&a, addr));
    if (a.kind == SIGIL_TRANSPORT_FD) {
        if (fcntl(a.fd, F_GETFD) < 0) {
            return sigil_errorf(SIGIL_ERR_IO, "transport: %s is not an open descriptor", addr);
        }
        *out_fd = a.fd;
        return sigil_ok();
    }
    int lfd = -1;
    SIGIL_GUARD(sigil_transport_listen(&lfd, addr));
    sigil_result r = sigil_transport_accept(out_fd, lfd, timeout_ms);
    (void)close(lfd);
    return r;
}
