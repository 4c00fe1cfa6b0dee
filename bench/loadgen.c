/* sigil-loadgen: HTTPS (or HTTP) keep-alive load generator for the signing API.
 *
 * Each connection sends ATTESTATION requests for its own subset of the signer's keys, with target
 * epochs that only move forward, so every request is signable and the slashing-protection database
 * records each one (the realistic validator-client load). It reports
 * signatures per second and latency percentiles as one JSON object.
 *
 * Connections are driven by --threads event loops (default 1): the generator shares the cores with
 * the signer, so it must cost as little CPU per request as a real client library would.
 *
 * usage: sigil-loadgen --url https://127.0.0.1:PORT [--connections N] [--seconds S]
 *        [--cert F --key F] [--ca F] [--keys N] [--type attestation|randao|eth1tx] [--threads T]
 *        [--unix PATH] [--to 0xADDRESS] [--data unique|slot]
 *
 * --type eth1tx: JSON-RPC eth_signTransaction (EIP-1559, chain id 1, 1 wei to --to) from the
 * signer's eth1 accounts (eth_accounts), a fresh nonce per request so every one is a new
 * transaction (and, with a spend window in the policy, a new ledger row). A JSON-RPC error
 * counts as a refusal.
 *
 * --data slot (attestations): the attestation data a validator client really sends. Each epoch, every
 * key is assigned one of the epoch's 32 slots (a fixed shuffle of key and epoch), and all keys of
 * a slot sign the same AttestationData (the slot's head block; committee index 0, as from Electra
 * on), so the signer sees each signing root once per attester of that slot. The default, --data
 * unique, gives every request its own block root: no two requests share a signing root, the
 * signer's worst case.
 *
 * --unix PATH connects every connection to that unix stream socket instead of HOST:PORT (the URL
 * still gives the scheme and the Host / SNI name): sigild's own listener behind sigil-host, to
 * measure what the host's proxy adds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_KEYS 100000
#define GVR      "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"

struct conn {
    int fd;
    SSL *ssl;
    char buf[65536];
    size_t have;
};

struct cfg {
    char host[256];
    char port[16];
    bool tls;
    const char *cert, *key, *ca;
    int connections;
    double seconds;
    bool randao;
    bool eth1;
    bool slot_data;
    char to[43];
    int threads;
    const char *unix_path;
} g;

static SSL_CTX *ctx;
static char (*pubkeys)[99]; /* eth1: "0x" + 40 hex digits (addresses) */
static size_t npubkeys;
static atomic_bool stop;

struct worker {
    pthread_t th;
    int id;
    uint64_t ok, errors, refused;
    uint64_t status[6];
    double *lat;
    size_t nlat, caplat;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int conn_open(struct conn *c)
{
    if (g.unix_path != NULL) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (strlen(g.unix_path) >= sizeof sun.sun_path) {
            return -1;
        }
        memcpy(sun.sun_path, g.unix_path, strlen(g.unix_path) + 1);
        c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
            return -1;
        }
    } else {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        if (getaddrinfo(g.host, g.port, &hints, &ai) != 0) {
            return -1;
        }
        c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
        if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            freeaddrinfo(ai);
            return -1;
        }
        freeaddrinfo(ai);
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->have = 0;
    c->ssl = NULL;
    if (g.tls) {
        c->ssl = SSL_new(ctx);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_tlsext_host_name(c->ssl, g.host);
        if (SSL_connect(c->ssl) != 1) {
            ERR_print_errors_fp(stderr);
            return -1;
        }
    }
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    c->ssl = NULL;
}

static int io_write(struct conn *c, const char *p, size_t n)
{
    while (n > 0) {
        int w = c->ssl ? SSL_write(c->ssl, p, (int)n) : (int)write(c->fd, p, n);
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void record(struct worker *w, double lat)
{
    if (w->nlat == w->caplat) {
        w->caplat = w->caplat ? w->caplat * 2 : 4096;
        w->lat = realloc(w->lat, w->caplat * sizeof *w->lat);
    }
    w->lat[w->nlat++] = lat;
}

/* One connection of an event loop: a request in flight at a time (HTTP/1.1 keep-alive). */
struct lconn {
    struct conn c;
    int id;
    size_t mine, turn;
    uint64_t epoch;
    char req[4096];
    size_t req_len, req_off;
    bool want_out; /* EPOLLOUT registered */
    double t0;
};

/* Builds the next request (head and body in one buffer, so it leaves as one TLS record and one
 * write, as a real client would send it). */
static void next_request(struct lconn *lc)
{
    size_t k = (size_t)lc->id + (lc->turn % lc->mine) * (size_t)g.connections;
    if (lc->turn % lc->mine == 0) {
        lc->epoch++;
    }
    lc->turn++;
    char body[2048];
    int bn;
    if (g.eth1) {
        /* nonces: one counter for every connection, started from the wall clock so repeated runs
         * against one ledger sign new transactions */
        static atomic_ullong next_nonce;
        unsigned long long zero = 0;
        (void)atomic_compare_exchange_strong(&next_nonce, &zero, (unsigned long long)time(NULL) << 20);
        unsigned long long nonce = atomic_fetch_add(&next_nonce, 1);
        bn = snprintf(
            body, sizeof body,
            "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":\"eth_signTransaction\",\"params\":[{\"from\":\"%s\","
            "\"to\":\"%s\",\"nonce\":\"0x%llx\",\"gas\":\"0x5208\",\"maxFeePerGas\":\"0x2540be400\","
            "\"maxPriorityFeePerGas\":\"0x3b9aca00\",\"value\":\"0x1\",\"chainId\":\"0x1\",\"type\":\"0x2\"}]}",
            nonce, pubkeys[k], g.to, nonce);
        int hn = snprintf(lc->req, sizeof lc->req,
                          "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                          "Connection: keep-alive\r\n\r\n%s",
                          g.host, bn, body);
        lc->req_len = (size_t)hn;
        lc->req_off = 0;
        return;
    }
    if (g.randao) {
        bn = snprintf(body, sizeof body,
                      "{\"type\":\"RANDAO_REVEAL\",\"fork_info\":{\"fork\":{\"previous_version\":\"0x05000000\","
                      "\"current_version\":\"0x06000000\",\"epoch\":\"411392\"},\"genesis_validators_root\":\"" GVR
                      "\"},\"randao_reveal\":{\"epoch\":\"%llu\"}}",
                      (unsigned long long)lc->epoch);
    } else if (g.slot_data) {
        /* committee shuffle stand-in: key k attests in slot (k * A + epoch * B) mod 32 of the epoch */
        uint64_t slot = lc->epoch * 32 + (((uint64_t)k * 2654435761u + lc->epoch * 40503u) >> 7) % 32;
        bn =
            snprintf(body, sizeof body,
                     "{\"type\":\"ATTESTATION\",\"fork_info\":{\"fork\":{\"previous_version\":\"0x05000000\","
                     "\"current_version\":\"0x06000000\",\"epoch\":\"411392\"},\"genesis_validators_root\":\"" GVR
                     "\"},\"attestation\":{\"slot\":\"%llu\",\"index\":\"0\",\"beacon_block_root\":\"0x%064llx\","
                     "\"source\":{\"epoch\":\"%llu\",\"root\":\"0x%064llx\"},\"target\":{\"epoch\":\"%llu\",\"root\":"
                     "\"0x%064llx\"}}}",
                     (unsigned long long)slot, (unsigned long long)slot, (unsigned long long)(lc->epoch - 1),
                     (unsigned long long)(lc->epoch - 1), (unsigned long long)lc->epoch, (unsigned long long)lc->epoch);
    } else {
        /* the block root names the key and the connection's turn: no two requests of a run share
         * a signing root */
        bn = snprintf(body, sizeof body,
                      "{\"type\":\"ATTESTATION\",\"fork_info\":{\"fork\":{\"previous_version\":\"0x05000000\","
                      "\"current_version\":\"0x06000000\",\"epoch\":\"411392\"},\"genesis_validators_root\":\"" GVR
                      "\"},\"attestation\":{\"slot\":\"%llu\",\"index\":\"0\",\"beacon_block_root\":\"0x%064llx\","
                      "\"source\":{\"epoch\":\"%llu\",\"root\":\"0x%064x\"},\"target\":{\"epoch\":\"%llu\",\"root\":"
                      "\"0x%064x\"}}}",
                      (unsigned long long)(lc->epoch * 32), ((unsigned long long)k << 32) | (unsigned)lc->turn,
                      (unsigned long long)(lc->epoch - 1), 1u, (unsigned long long)lc->epoch, 2u);
    }
    int hn = snprintf(lc->req, sizeof lc->req,
                      "POST /api/v1/eth2/sign/%s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                      "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n%s",
                      pubkeys[k], g.host, bn, body);
    lc->req_len = (size_t)hn;
    lc->req_off = 0;
}

/* Parses one complete response out of c->buf: returns the status, 0 if incomplete, -1 if bad. */
static int take_response(struct conn *c)
{
    char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
    if (end == NULL) {
        return c->have >= sizeof c->buf ? -1 : 0;
    }
    size_t hlen = (size_t)(end - c->buf) + 4;
    int status = 0;
    if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1) {
        return -1;
    }
    size_t clen = 0;
    char *cl = strcasestr(c->buf, "\r\nContent-Length:");
    if (cl != NULL && cl < end) {
        clen = strtoul(cl + 17, NULL, 10);
    }
    if (hlen + clen > sizeof c->buf) {
        return -1;
    }
    if (c->have < hlen + clen) {
        return 0;
    }
    if (g.eth1 && status == 200 && memmem(c->buf + hlen, clen, "\"result\"", 8) == NULL) {
        static atomic_int shown;
        if (atomic_fetch_add(&shown, 1) < 3) {
            fprintf(stderr, "loadgen: JSON-RPC error: %.*s\n", (int)(clen < 300 ? clen : 300), c->buf + hlen);
        }
        status = 412; /* a refusal or an error answer: not a signature */
    } else if (status != 200 && status != 412) {
        fprintf(stderr, "loadgen: HTTP %d: %.*s\n", status, (int)(clen < 300 ? clen : 300), c->buf + hlen);
    }
    memmove(c->buf, c->buf + hlen + clen, c->have - hlen - clen);
    c->have -= hlen + clen;
    return status;
}

/* Tries to push the rest of the request: 1 sent, 0 would block, -1 failed. */
static int try_send(struct lconn *lc)
{
    while (lc->req_off < lc->req_len) {
        size_t n = lc->req_len - lc->req_off;
        if (lc->c.ssl != NULL) {
            int w = SSL_write(lc->c.ssl, lc->req + lc->req_off, (int)n);
            if (w <= 0) {
                int e = SSL_get_error(lc->c.ssl, w);
                return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -1;
            }
            lc->req_off += (size_t)w;
        } else {
            ssize_t w = write(lc->c.fd, lc->req + lc->req_off, n);
            if (w < 0) {
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
            }
            lc->req_off += (size_t)w;
        }
    }
    return 1;
}

/* Reads what is there: 1 got bytes (or TLS made progress), 0 would block, -1 closed/failed. */
static int try_read(struct lconn *lc)
{
    struct conn *c = &lc->c;
    if (c->have >= sizeof c->buf) {
        return -1;
    }
    if (c->ssl != NULL) {
        int r = SSL_read(c->ssl, c->buf + c->have, (int)(sizeof c->buf - c->have));
        if (r <= 0) {
            int e = SSL_get_error(c->ssl, r);
            return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
        }
        c->have += (size_t)r;
        return 1;
    }
    ssize_t r = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
    if (r < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    if (r == 0) {
        return -1;
    }
    c->have += (size_t)r;
    return 1;
}

static void set_out(int ep, struct lconn *lc, bool want)
{
    if (lc->want_out == want) {
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = lc};
    epoll_ctl(ep, EPOLL_CTL_MOD, lc->c.fd, &ev);
    lc->want_out = want;
}

/* Starts the next request on lc; false when the connection failed. */
static bool start_request(int ep, struct lconn *lc)
{
    next_request(lc);
    lc->t0 = now_s();
    int r = try_send(lc);
    if (r < 0) {
        return false;
    }
    set_out(ep, lc, r == 0);
    return true;
}

/* One event-loop thread drives every connection whose id is congruent to its own id modulo the
 * number of loop threads. An event loop instead of a blocking thread per connection keeps the
 * load generator cheap (it shares the cores with the signer it measures): one epoll_wait serves
 * many replies, and no thread is put to sleep and woken for each request. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    size_t n = 0;
    for (int id = w->id; id < g.connections; id += g.threads) {
        n++;
    }
    struct lconn *lcs = calloc(n ? n : 1, sizeof *lcs);
    size_t live = 0;
    /* start epochs from the wall clock so repeated runs against one DB keep moving forward */
    uint64_t epoch0 = (uint64_t)time(NULL) * 4;
    for (size_t i = 0; i < n; i++) {
        struct lconn *lc = &lcs[i];
        lc->id = w->id + (int)i * g.threads;
        lc->c.fd = -1;
        lc->epoch = epoch0;
        for (size_t k = (size_t)lc->id; k < npubkeys; k += (size_t)g.connections) {
            lc->mine++; /* this connection's keys: id, id + connections, ... */
        }
        if (lc->mine == 0) {
            continue;
        }
        if (conn_open(&lc->c) != 0) {
            fprintf(stderr, "loadgen: connection %d failed\n", lc->id);
            w->errors++;
            continue;
        }
        int fl = fcntl(lc->c.fd, F_GETFL);
        fcntl(lc->c.fd, F_SETFL, fl | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = lc};
        epoll_ctl(ep, EPOLL_CTL_ADD, lc->c.fd, &ev);
        if (!start_request(ep, lc)) {
            w->errors++;
            conn_close(&lc->c);
            continue;
        }
        live++;
    }
    struct epoll_event evs[256];
    while (live > 0 && !atomic_load(&stop)) {
        int k = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < k; i++) {
            struct lconn *lc = evs[i].data.ptr;
            if (lc->c.fd < 0) {
                continue;
            }
            bool dead = false;
            if (lc->req_off < lc->req_len) {
                int r = try_send(lc);
                dead = r < 0;
                if (r > 0) {
                    set_out(ep, lc, false);
                }
            }
            /* drain everything readable, including records OpenSSL already buffered */
            while (!dead) {
                int r = try_read(lc);
                if (r < 0) {
                    dead = true;
                    break;
                }
                int st = take_response(&lc->c);
                if (st < 0) {
                    dead = true;
                    break;
                }
                if (st > 0) {
                    double dt = now_s() - lc->t0;
                    if (st == 200) {
                        w->ok++;
                        record(w, dt);
                    } else if (st == 412) {
                        w->refused++;
                    } else {
                        w->errors++;
                    }
                    if (atomic_load(&stop) || !start_request(ep, lc)) {
                        dead = !atomic_load(&stop);
                        break;
                    }
                    if (lc->c.have == 0 && (lc->c.ssl == NULL || !SSL_has_pending(lc->c.ssl))) {
                        break; /* nothing buffered: epoll (level-triggered) reports the next reply */
                    }
                    continue;
                }
                if (r == 0) {
                    break;
                }
            }
            if (dead) {
                w->errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, lc->c.fd, NULL);
                conn_close(&lc->c);
                live--;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (lcs[i].c.fd >= 0) {
            conn_close(&lcs[i].c);
        }
    }
    free(lcs);
    close(ep);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sends the request HEAD (HN bytes), reads the whole response (at most CAP bytes) and stores
 * up to LIMIT quoted "0x..." strings of exactly HEXLEN characters after the "0x" in pubkeys. */
static int fetch_hex_list(const char *head, int hn, size_t cap, size_t hexlen, size_t limit)
{
    struct conn c = {.fd = -1};
    if (conn_open(&c) != 0) {
        return -1;
    }
    char *body = malloc(cap);
    io_write(&c, head, (size_t)hn);
    size_t have = 0;
    for (;;) {
        int r =
            c.ssl ? SSL_read(c.ssl, body + have, (int)(cap - have - 1)) : (int)read(c.fd, body + have, cap - have - 1);
        if (r <= 0) {
            break;
        }
        have += (size_t)r;
    }
    body[have] = '\0';
    conn_close(&c);
    pubkeys = calloc(MAX_KEYS, sizeof *pubkeys);
    size_t quoted = hexlen + 3; /* '"' + "0x" + hex digits; the closing quote follows */
    char *p = body;
    while ((p = strstr(p, "\"0x")) != NULL && npubkeys < limit && npubkeys < MAX_KEYS) {
        if (strlen(p) > quoted && p[quoted] == '"') {
            memcpy(pubkeys[npubkeys], p + 1, quoted - 1);
            pubkeys[npubkeys][quoted - 1] = '\0';
            npubkeys++;
        }
        p += 3;
    }
    free(body);
    return npubkeys > 0 ? 0 : -1;
}

/* Fetches the eth1 accounts (JSON-RPC eth_accounts) as "0x" + 40 hex digits. */
static int fetch_accounts(size_t limit)
{
    static const char rpc[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_accounts\"}";
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n%s",
                      g.host, sizeof rpc - 1, rpc);
    return fetch_hex_list(head, hn, (size_t)16 * 1024 * 1024, 40, limit);
}

/* Fetches /api/v1/eth2/publicKeys and extracts the hex strings. The response can be large: it
 * is read with a bigger buffer. */
static int fetch_keys(size_t limit)
{
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "GET /api/v1/eth2/publicKeys HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", g.host);
    return fetch_hex_list(head, hn, (size_t)100 * 1024 * 1024, 96, limit);
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    size_t key_limit = MAX_KEYS;
    (void)signal(SIGPIPE, SIG_IGN); /* a peer that closes is an error to count, not a reason to die */
    g.connections = 8;
    g.seconds = 10;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--url") == 0 && v) {
            url = v;
        } else if (strcmp(a, "--connections") == 0 && v) {
            g.connections = atoi(v);
        } else if (strcmp(a, "--seconds") == 0 && v) {
            g.seconds = atof(v);
        } else if (strcmp(a, "--cert") == 0 && v) {
            g.cert = v;
        } else if (strcmp(a, "--key") == 0 && v) {
            g.key = v;
        } else if (strcmp(a, "--ca") == 0 && v) {
            g.ca = v;
        } else if (strcmp(a, "--keys") == 0 && v) {
            key_limit = strtoul(v, NULL, 10);
        } else if (strcmp(a, "--unix") == 0 && v) {
            g.unix_path = v;
        } else if (strcmp(a, "--threads") == 0 && v) {
            g.threads = atoi(v);
        } else if (strcmp(a, "--type") == 0 && v) {
            g.randao = strcmp(v, "randao") == 0;
            g.eth1 = strcmp(v, "eth1tx") == 0;
        } else if (strcmp(a, "--data") == 0 && v && (strcmp(v, "unique") == 0 || strcmp(v, "slot") == 0)) {
            g.slot_data = strcmp(v, "slot") == 0;
        } else if (strcmp(a, "--to") == 0 && v && strlen(v) == 42) {
            snprintf(g.to, sizeof g.to, "%s", v);
        } else {
            fprintf(stderr, "usage: sigil-loadgen --url URL [--connections N] [--seconds S] [--cert F --key F] "
                            "[--ca F] [--keys N] [--type attestation|randao|eth1tx] [--threads T] [--unix PATH] "
                            "[--to 0xADDRESS] [--data unique|slot]\n");
            return 2;
        }
    }
    if (url == NULL || g.connections < 1 || g.connections > 1024 || !(g.seconds > 0)) {
        fprintf(stderr, "sigil-loadgen: --url is required; --connections 1..1024; --seconds > 0\n");
        return 2;
    }
    if (strncmp(url, "https://", 8) == 0) {
        g.tls = true;
        url += 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        url += 7;
    } else {
        fprintf(stderr, "sigil-loadgen: URL must start with http:// or https://\n");
        return 2;
    }
    const char *colon = strrchr(url, ':');
    if (colon == NULL) {
        fprintf(stderr, "sigil-loadgen: URL needs a port\n");
        return 2;
    }
    snprintf(g.host, sizeof g.host, "%.*s", (int)(colon - url), url);
    snprintf(g.port, sizeof g.port, "%.*s", (int)strcspn(colon + 1, "/"), colon + 1);
    if (g.tls) {
        ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        /* a response record in one read instead of two (header, then body), as buffered TLS
         * clients (Go, Netty, Node) read */
        SSL_CTX_set_read_ahead(ctx, 1);
        if (g.ca != NULL) {
            SSL_CTX_load_verify_locations(ctx, g.ca, NULL);
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        }
        if (g.cert != NULL && (SSL_CTX_use_certificate_chain_file(ctx, g.cert) != 1 ||
                               SSL_CTX_use_PrivateKey_file(ctx, g.key, SSL_FILETYPE_PEM) != 1)) {
            fprintf(stderr, "sigil-loadgen: cannot load the client certificate\n");
            return 2;
        }
    }
    if (g.eth1 && g.to[0] == '\0') {
        snprintf(g.to, sizeof g.to, "0x%040d", 0xbe);
    }
    if (g.eth1 ? fetch_accounts(key_limit) != 0 : fetch_keys(key_limit) != 0) {
        fprintf(stderr, "sigil-loadgen: could not fetch public keys from the signer\n");
        return 1;
    }
    if (g.threads < 1 || g.threads > g.connections) {
        g.threads = g.threads < 1 ? 1 : g.connections;
    }
    struct worker *ws = calloc((size_t)g.threads, sizeof *ws);
    struct rusage ru0; /* excludes fetching the key list */
    getrusage(RUSAGE_SELF, &ru0);
    double cpu0 = (double)ru0.ru_utime.tv_sec + (double)ru0.ru_utime.tv_usec / 1e6 + (double)ru0.ru_stime.tv_sec +
                  (double)ru0.ru_stime.tv_usec / 1e6;
    double t0 = now_s();
    for (int i = 0; i < g.threads; i++) {
        ws[i].id = i;
        pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
    }
    struct timespec ts = {(time_t)g.seconds, (long)((g.seconds - (double)(time_t)g.seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop, true);
    uint64_t ok = 0, errors = 0, refused = 0;
    size_t nlat = 0;
    for (int i = 0; i < g.threads; i++) {
        pthread_join(ws[i].th, NULL);
        ok += ws[i].ok;
        errors += ws[i].errors;
        refused += ws[i].refused;
        nlat += ws[i].nlat;
    }
    double elapsed = now_s() - t0;
    double *all = malloc((nlat ? nlat : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < g.threads; i++) {
        memcpy(all + k, ws[i].lat, ws[i].nlat * sizeof *all);
        k += ws[i].nlat;
        free(ws[i].lat);
    }
    qsort(all, nlat, sizeof *all, cmp_d);
    double p50 = nlat ? all[nlat / 2] * 1e3 : 0, p99 = nlat ? all[(size_t)((double)nlat * 0.99)] * 1e3 : 0;
    /* the generator's own CPU time, so a report can show how much of the shared cores it took */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6 - cpu0;
    printf("{\"type\":\"%s\",\"connections\":%d,\"keys\":%zu,\"seconds\":%.2f,\"signatures\":%llu,"
           "\"signatures_per_second\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"refused\":%llu,\"errors\":%llu,"
           "\"cpu_seconds\":%.3f,\"data\":\"%s\"}\n",
           g.eth1     ? "ETH1_TX"
           : g.randao ? "RANDAO_REVEAL"
                      : "ATTESTATION",
           g.connections, npubkeys, elapsed, (unsigned long long)ok, (double)ok / elapsed, p50, p99,
           (unsigned long long)refused, (unsigned long long)errors, cpu, g.slot_data ? "slot" : "unique");
    free(all);
    free(ws);
    return errors > 0 && ok == 0 ? 1 : 0;
}
