/* HTTP server on libevent 2.1 evhttp (see http.h for the contract).
 *
 * Connection tracking. evhttp 2.1 has no per-connection hook at accept time, only the
 * bufferevent factory (bevcb). So bevcb creates a `struct conn` with one event and activates it
 * at once; that event runs in the same loop pass, after evhttp has wrapped the bufferevent in
 * its connection object, and "attaches": it finds the evhttp_connection (the bufferevent's
 * callback argument, set by evhttp), installs a close callback (which owns the conn's
 * lifetime), enforces the connection cap, and re-uses the event as the request deadline. The
 * conn is found again from a request through an fd-indexed table.
 *
 * Request deadline (slowloris): armed at attach and after each reply, disarmed while a request
 * is with a handler. evhttp's own timeout only bounds the gap between two reads, which a
 * trickling client resets forever.
 *
 * Reply lifetime. While a handler holds a request evhttp reads nothing on that connection, so
 * libevent frees the evhttp_request only (a) through sigil_http_server_free, or (b) by detaching
 * it on a read error (then a reply frees it). The close callback runs before (a) frees the
 * requests, so it marks the pending sigil request dead and its reply is dropped. A reply to a
 * client that hung up fails on write and evhttp frees the connection cleanly. */
#include "net/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define CT_JSON  "application/json; charset=utf-8"
#define CT_PLAIN "text/plain; charset=utf-8"

struct status_counter {
    struct status_counter *next;
    const char *method; /* static string from method_name */
    int status;
    struct sigil_counter *c;
};

struct route {
    struct route *next;
    char *method; /* NULL = any */
    char *path;
    size_t path_len;
    bool prefix;
    sigil_http_handler h;
    void *ctx;
    struct sigil_histogram *latency;
    struct status_counter *counters; /* loop thread only */
};

struct conn {
    struct sigil_http_server *s;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL until attached */
    struct event *ev;                /* attach, then the request deadline */
    int fd;
    struct sigil_http_req *pending; /* the request a handler holds, if any */
    bool identity_done, has_fp;
    char client_id[SIGIL_TLS_CLIENT_NAME_MAX];
    uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN];
};

struct req_header {
    const char *name, *value;
};

struct sigil_http_req {
    struct sigil_http_server *s;
    struct evhttp_request *evreq; /* NULL once libevent has freed it */
    struct conn *conn;            /* loop thread only; NULL once the connection closed */
    bool tracked;                 /* dispatched on a tracked connection */
    struct route *route;          /* metrics group; NULL = "other" */
    const char *method;
    char *path, *query;
    struct req_header *headers; /* one allocation holding the strings too */
    size_t nheaders;
    uint8_t *body;
    size_t body_len;
    bool has_fp;
    char client_id[SIGIL_TLS_CLIENT_NAME_MAX];
    uint8_t fp[SIGIL_TLS_FINGERPRINT_LEN];
    char peer[64];
    struct timespec start;
    /* reply, filled by sigil_http_respond on any thread */
    int status;
    bool close;
    char ctype[96];
    char *resp;
    size_t resp_len;
    struct sigil_http_req *next; /* reply queue */
};

struct sigil_http_server {
    struct event_base *base;
    struct evhttp *http;
    SSL_CTX *ssl;
    struct route *routes, *routes_tail;
    struct route other; /* metrics bucket for 404/405/400 */
    size_t max_body;
    unsigned max_conns;
    struct timeval timeout_tv;
    unsigned nconns;
    struct conn **fdtab;
    size_t fdcap;
    int wake[2];
    struct event *wake_ev;
    pthread_mutex_t mu; /* guards the reply queue */
    struct sigil_http_req *done_head, *done_tail;
    atomic_int stop;
    atomic_bool running;
    pthread_t loop_thread;
    uint16_t port;
    bool tcp;
    char *unix_path;
    struct sigil_metrics *metrics;
    struct sigil_gauge *g_conns;
    struct sigil_counter *c_rejected, *c_timeouts, *c_dropped;
};

static const double k_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

/* ---- listen address ---- */

static sigil_result parse_port(uint16_t *out, const char *s)
{
    if (*s == '\0' || strlen(s) > 5) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "listen port must be 0..65535");
    }
    unsigned v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return sigil_errorf(SIGIL_ERR_CONFIG, "listen port must be 0..65535");
        }
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > 65535) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "listen port must be 0..65535");
    }
    *out = (uint16_t)v;
    return sigil_ok();
}

sigil_result sigil_net_parse_listen(struct sigil_listen_addr *out, const char *s)
{
    SIGIL_ENSURE(out != NULL, SIGIL_ERR_ARG);
    memset(out, 0, sizeof *out);
    if (s == NULL || s[0] == '\0') {
        return sigil_errorf(SIGIL_ERR_CONFIG, "listen address is empty");
    }
    if (strncmp(s, "vsock:", 6) == 0) {
        /* "vsock:PORT" (any CID: the enclave side) or "vsock:CID:PORT" */
        const char *a = s + 6, *colon = strchr(a, ':');
        char *end = NULL;
        unsigned long cid = VMADDR_CID_ANY, port;
        if (colon != NULL) {
            errno = 0;
            cid = strtoul(a, &end, 10);
            if (errno != 0 || end != colon || cid > UINT32_MAX) {
                return sigil_errorf(SIGIL_ERR_CONFIG, "listen address: vsock CID must be a number");
            }
            a = colon + 1;
        }
        errno = 0;
        port = strtoul(a, &end, 10);
        if (errno != 0 || end == a || *end != '\0' || port > UINT32_MAX) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "listen address must be vsock:PORT or vsock:CID:PORT");
        }
        struct sockaddr_vm vm;
        memset(&vm, 0, sizeof vm);
        vm.svm_family = AF_VSOCK;
        vm.svm_cid = (unsigned)cid;
        vm.svm_port = (unsigned)port;
        memcpy(&out->ss, &vm, sizeof vm);
        out->sslen = sizeof vm;
        out->family = AF_VSOCK;
        out->port = (uint16_t)(port & 0xffff);
        /* vsock crosses the VM boundary to an untrusted parent: never plain HTTP */
        out->loopback = false;
        return sigil_ok();
    }
    if (strncmp(s, "unix:", 5) == 0) {
        const char *path = s + 5;
        struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
        if (path[0] != '/' || strlen(path) >= sizeof un->sun_path) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "unix socket path must be absolute and under %zu bytes",
                                sizeof un->sun_path);
        }
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, strlen(path) + 1);
        out->sslen = (socklen_t)sizeof *un;
        out->family = AF_UNIX;
        out->loopback = true;
        return sigil_ok();
    }
    char host[64];
    const char *port;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "listen address must be [IPv6]:PORT");
        }
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        port = end + 2;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "listen address: invalid IPv6 address");
        }
        SIGIL_GUARD(parse_port(&out->port, port));
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(out->port);
        out->sslen = (socklen_t)sizeof *in6;
        out->family = AF_INET6;
        const uint8_t *a = in6->sin6_addr.s6_addr;
        out->loopback =
            IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) || (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && a[12] == 127);
        return sigil_ok();
    }
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof host || colon == s) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "listen address must be HOST:PORT, [IPv6]:PORT or unix:/path");
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port = colon + 1;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&out->ss;
    if (strcmp(host, "localhost") == 0) {
        in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &in4->sin_addr) != 1) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "listen host must be a numeric IPv4 address, [IPv6] or localhost");
    }
    SIGIL_GUARD(parse_port(&out->port, port));
    in4->sin_family = AF_INET;
    in4->sin_port = htons(out->port);
    out->sslen = (socklen_t)sizeof *in4;
    out->family = AF_INET;
    out->loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    return sigil_ok();
}

/* ---- small helpers ---- */

static double elapsed_s(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static bool on_loop_thread(const struct sigil_http_server *s)
{
    return atomic_load(&s->running) && pthread_equal(pthread_self(), s->loop_thread);
}

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "OTHER";
    }
}

static void set_conn_gauge(struct sigil_http_server *s) { sigil_gauge_set(s->g_conns, (double)s->nconns); }

static bool fdtab_set(struct sigil_http_server *s, int fd, struct conn *c)
{
    if (fd < 0) {
        return false;
    }
    if ((size_t)fd >= s->fdcap) {
        size_t ncap = s->fdcap ? s->fdcap : 256;
        while (ncap <= (size_t)fd) {
            ncap *= 2;
        }
        struct conn **t = realloc(s->fdtab, ncap * sizeof *t); // NOLINT(bugprone-sizeof-expression): array of pointers
        if (t == NULL) {
            return false;
        }
        memset(t + s->fdcap, 0, (ncap - s->fdcap) * sizeof *t); // NOLINT(bugprone-sizeof-expression): array of pointers
        s->fdtab = t;
        s->fdcap = ncap;
    }
    s->fdtab[fd] = c;
    return true;
}

static struct conn *fdtab_get(struct sigil_http_server *s, int fd)
{
    return fd >= 0 && (size_t)fd < s->fdcap ? s->fdtab[fd] : NULL;
}

/* ---- connections ---- */

static void conn_destroy(struct conn *c)
{
    struct sigil_http_server *s = c->s;
    if (fdtab_get(s, c->fd) == c) {
        s->fdtab[c->fd] = NULL;
    }
    event_free(c->ev);
    s->nconns--;
    set_conn_gauge(s);
    free(c);
}

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
    struct conn *c = arg;
    struct sigil_http_req *r = c->pending;
    if (r != NULL) {
        /* evhttp_connection_free is about to free the request unless evhttp detached it. */
        if (r->evreq != NULL && evhttp_request_get_connection(r->evreq) == evcon) {
            r->evreq = NULL;
        }
        r->conn = NULL;
    }
    conn_destroy(c);
}

static void conn_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct conn *c = arg;
    struct sigil_http_server *s = c->s;
    if (c->evcon == NULL) {
        void *cbarg = NULL;
        bufferevent_getcb(c->bev, NULL, NULL, NULL, &cbarg);
        if (cbarg == NULL) {
            /* evhttp failed to set the connection up (out of memory). Without an fd nobody owns
             * the bufferevent; with one, evhttp already freed it. */
            if (bufferevent_getfd(c->bev) < 0) {
                bufferevent_free(c->bev);
            }
            conn_destroy(c);
            return;
        }
        c->evcon = cbarg;
        c->fd = (int)bufferevent_getfd(c->bev);
        (void)fdtab_set(s, c->fd, c);
        if (s->tcp) {
            /* TLS writes headers and body as separate records: without this, Nagle holds the
             * second one until the client's delayed ACK (40 ms per keep-alive request). */
            int one = 1;
            (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        evhttp_connection_set_closecb(c->evcon, conn_closed, c);
        if (s->nconns > s->max_conns) {
            sigil_counter_add(s->c_rejected, 1);
            evhttp_connection_free(c->evcon); /* conn_closed frees c */
            return;
        }
        event_add(c->ev, &s->timeout_tv);
        return;
    }
    /* The deadline passed with no complete request. */
    sigil_counter_add(s->c_timeouts, 1);
    evhttp_connection_free(c->evcon);
}

static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
    struct sigil_http_server *s = arg;
    struct bufferevent *bev = NULL;
    if (s->ssl != NULL) {
        SSL *ssl = SSL_new(s->ssl);
        if (ssl != NULL) {
            bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
            if (bev == NULL) {
                SSL_free(ssl);
            } else {
                /* clients that close without close_notify are ordinary EOF, not errors */
                bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
            }
        }
    } else {
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (bev == NULL) {
        /* evhttp falls back to a plain bufferevent; on_request refuses plain connections on a
         * TLS server, so this cannot bypass TLS. */
        SIGIL_LOG_ERROR("cannot allocate connection buffer", SIGIL_LOG_NONE);
        return NULL;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (c != NULL) {
        c->ev = event_new(base, -1, 0, conn_event, c);
    }
    if (c == NULL || c->ev == NULL) {
        free(c);
        SIGIL_LOG_ERROR("cannot allocate connection state", SIGIL_LOG_NONE);
        return bev;
    }
    c->s = s;
    c->bev = bev;
    c->fd = -1;
    s->nconns++;
    set_conn_gauge(s);
    event_active(c->ev, EV_TIMEOUT, 1);
    return bev;
}

static void on_reply_complete(struct evhttp_request *evreq, void *arg)
{
    (void)evreq;
    struct conn *c = arg;
    /* next request (or keep-alive idle time) must arrive within the deadline */
    event_add(c->ev, &c->s->timeout_tv);
}

/* ---- requests ---- */

static void req_free(struct sigil_http_req *r)
{
    free(r->path);
    free(r->query);
    free(r->headers);
    free(r->body);
    free(r->resp);
    free(r);
}

static bool copy_headers(struct sigil_http_req *r, struct evkeyvalq *h)
{
    size_t n = 0, bytes = 0;
    struct evkeyval *kv;
    for (kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        n++;
        bytes += strlen(kv->key) + strlen(kv->value) + 2;
    }
    struct req_header *v = malloc(n * sizeof *v + bytes + 1);
    if (v == NULL) {
        return false;
    }
    char *p = (char *)(v + n);
    size_t i = 0;
    for (kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        size_t kl = strlen(kv->key) + 1, vl = strlen(kv->value) + 1;
        memcpy(p, kv->key, kl);
        v[i].name = p;
        p += kl;
        memcpy(p, kv->value, vl);
        v[i].value = p;
        p += vl;
        i++;
    }
    r->headers = v;
    r->nheaders = n;
    return true;
}

/* Fills r from evreq; returns the HTTP status to answer with at once, or 0 to dispatch. */
static int req_fill(struct sigil_http_req *r, struct evhttp_request *evreq)
{
    r->method = method_name(evhttp_request_get_command(evreq));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(evreq);
    const char *raw = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    if (raw == NULL || raw[0] != '/') {
        return 400;
    }
    size_t plen = 0;
    r->path = evhttp_uridecode(raw, 0, &plen);
    if (r->path == NULL) {
        return 500;
    }
    if (strlen(r->path) != plen) {
        return 400; /* %00 in the path */
    }
    const char *q = evhttp_uri_get_query(uri);
    if (q != NULL && (r->query = strdup(q)) == NULL) {
        return 500;
    }
    if (!copy_headers(r, evhttp_request_get_input_headers(evreq))) {
        return 500;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(evreq);
    size_t blen = evbuffer_get_length(in);
    if (blen > r->s->max_body) {
        return 413;
    }
    r->body = malloc(blen + 1);
    if (r->body == NULL) {
        return 500;
    }
    if (blen > 0 && evbuffer_copyout(in, r->body, blen) != (ev_ssize_t)blen) {
        return 500;
    }
    r->body[blen] = '\0';
    r->body_len = blen;
    return 0;
}

static void req_identity(struct sigil_http_req *r, struct conn *c, SSL *ssl)
{
    if (c != NULL && c->identity_done) {
        memcpy(r->client_id, c->client_id, sizeof r->client_id);
        memcpy(r->fp, c->fp, sizeof r->fp);
        r->has_fp = c->has_fp;
        return;
    }
    r->has_fp = sigil_tls_peer_identity(ssl, r->client_id, r->fp);
    if (c != NULL) {
        memcpy(c->client_id, r->client_id, sizeof c->client_id);
        memcpy(c->fp, r->fp, sizeof c->fp);
        c->has_fp = r->has_fp;
        c->identity_done = true;
    }
}

static struct route *route_find(struct sigil_http_server *s, const char *method, const char *path,
                                bool *method_mismatch)
{
    *method_mismatch = false;
    for (struct route *rt = s->routes; rt != NULL; rt = rt->next) {
        bool match = rt->prefix ? strncmp(path, rt->path, rt->path_len) == 0 : strcmp(path, rt->path) == 0;
        if (!match) {
            continue;
        }
        if (rt->method == NULL || strcmp(rt->method, method) == 0) {
            return rt;
        }
        *method_mismatch = true;
    }
    return NULL;
}

static void on_request(struct evhttp_request *evreq, void *arg)
{
    struct sigil_http_server *s = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(evreq);
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    struct conn *c = fdtab_get(s, (int)bufferevent_getfd(bev));
    if (c != NULL && c->bev != bev) {
        c = NULL;
    }
    if (c != NULL) {
        event_del(c->ev); /* no deadline while a handler holds the request */
    }
    struct sigil_http_req *r = calloc(1, sizeof *r);
    if (r == NULL) {
        evhttp_send_error(evreq, 503, NULL);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->s = s;
    r->evreq = evreq;
    r->conn = c;
    r->tracked = c != NULL;
    r->status = 0;
    char *addr = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evcon, &addr, &port);
    snprintf(r->peer, sizeof r->peer, "%s", addr != NULL && addr[0] != '\0' ? addr : "unix");
    if (c != NULL) {
        c->pending = r;
        evhttp_request_set_on_complete_cb(evreq, on_reply_complete, c);
    }
    if (s->ssl != NULL) {
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        if (ssl == NULL) {
            r->close = true;
            sigil_http_respond_error(r, 503, "service unavailable");
            return;
        }
        req_identity(r, c, ssl);
        if ((SSL_CTX_get_verify_mode(s->ssl) & SSL_VERIFY_PEER) != 0 &&
            (!r->has_fp || SSL_get_verify_result(ssl) != X509_V_OK)) {
            r->close = true;
            sigil_http_respond_error(r, 403, "client certificate required");
            return;
        }
    }
    int early = req_fill(r, evreq);
    if (early != 0) {
        r->close = true;
        sigil_http_respond_error(r, early, early == 413 ? "request body too large" : "bad request");
        return;
    }
    bool mismatch = false;
    struct route *rt = route_find(s, r->method, r->path, &mismatch);
    if (rt == NULL) {
        sigil_http_respond_error(r, mismatch ? 405 : 404, mismatch ? "method not allowed" : "not found");
        return;
    }
    r->route = rt;
    rt->h(r, rt->ctx);
}

/* ---- replies ---- */

static void count_reply(struct sigil_http_server *s, struct sigil_http_req *r)
{
    if (s->metrics == NULL) {
        return;
    }
    struct route *rt = r->route != NULL ? r->route : &s->other;
    struct status_counter *sc = rt->counters;
    while (sc != NULL && !(sc->status == r->status && sc->method == r->method)) {
        sc = sc->next;
    }
    if (sc == NULL && (sc = calloc(1, sizeof *sc)) != NULL) {
        char labels[512];
        char group[256];
        size_t k = 0;
        for (const char *p = rt->path; *p != '\0' && k + 3 < sizeof group; p++) {
            if (*p == '"' || *p == '\\') {
                group[k++] = '\\';
            }
            group[k++] = *p == '\n' ? ' ' : *p;
        }
        group[k] = '\0';
        snprintf(labels, sizeof labels, "method=\"%s\",path_group=\"%s\",status=\"%d\"", r->method, group, r->status);
        sc->method = r->method;
        sc->status = r->status;
        sc->c = sigil_metrics_counter(s->metrics, "http_requests_total", "HTTP requests answered.", labels);
        sc->next = rt->counters;
        rt->counters = sc;
    }
    if (sc != NULL) {
        sigil_counter_add(sc->c, 1);
    }
    sigil_histogram_observe(rt->latency, elapsed_s(&r->start));
}

/* Loop thread: hands the reply to evhttp and frees r. */
static void send_now(struct sigil_http_req *r)
{
    struct sigil_http_server *s = r->s;
    if (r->conn != NULL) {
        r->conn->pending = NULL;
    }
    if (r->method == NULL) {
        r->method = "OTHER";
    }
    struct evhttp_request *evreq = r->evreq;
    if (evreq == NULL) {
        sigil_counter_add(s->c_dropped, 1);
        req_free(r);
        return;
    }
    struct evkeyvalq *oh = evhttp_request_get_output_headers(evreq);
    evhttp_add_header(oh, "Content-Type", r->ctype);
    evhttp_add_header(oh, "Cache-Control", "no-store");
    evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
    if (r->close) {
        evhttp_add_header(oh, "Connection", "close");
    }
    if (r->resp_len > 0) {
        evbuffer_add(evhttp_request_get_output_buffer(evreq), r->resp, r->resp_len);
    }
    count_reply(s, r);
    evhttp_send_reply(evreq, r->status, NULL, NULL);
    req_free(r);
}

static void drain_replies(struct sigil_http_server *s)
{
    pthread_mutex_lock(&s->mu);
    struct sigil_http_req *r = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    while (r != NULL) {
        struct sigil_http_req *next = r->next;
        send_now(r);
        r = next;
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct sigil_http_server *s = arg;
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    if (atomic_load(&s->stop)) {
        event_base_loopbreak(s->base);
    }
    drain_replies(s);
}

static void wake_loop(struct sigil_http_server *s)
{
    int saved = errno;
    /* EAGAIN means a wake-up byte is already pending, which is enough. */
    ssize_t n = write(s->wake[1], "w", 1);
    (void)n;
    errno = saved;
}

void sigil_http_respond(struct sigil_http_req *r, int status, const char *content_type, const char *body, size_t len)
{
    if (r == NULL) {
        return;
    }
    if (status < 100 || status > 599) {
        status = 500;
    }
    r->status = status;
    snprintf(r->ctype, sizeof r->ctype, "%s", content_type != NULL ? content_type : CT_PLAIN);
    if (strpbrk(r->ctype, "\r\n") != NULL) {
        snprintf(r->ctype, sizeof r->ctype, "%s", CT_PLAIN);
    }
    if (len > 0 && body != NULL) {
        r->resp = malloc(len);
        if (r->resp != NULL) {
            memcpy(r->resp, body, len);
            r->resp_len = len;
        } else {
            r->status = 503;
            r->close = true;
        }
    }
    struct sigil_http_server *s = r->s;
    if (on_loop_thread(s)) {
        send_now(r);
        return;
    }
    pthread_mutex_lock(&s->mu);
    bool was_empty = s->done_head == NULL;
    r->next = NULL;
    if (s->done_tail != NULL) {
        s->done_tail->next = r;
    } else {
        s->done_head = r;
    }
    s->done_tail = r;
    pthread_mutex_unlock(&s->mu);
    if (was_empty) {
        wake_loop(s);
    }
}

void sigil_http_respond_json(struct sigil_http_req *r, int status, const json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (text == NULL) {
        static const char fail[] = "{\"code\":500,\"message\":\"cannot serialise response\"}";
        sigil_http_respond(r, 500, CT_JSON, fail, sizeof fail - 1);
        return;
    }
    sigil_http_respond(r, status, CT_JSON, text, strlen(text));
    free(text);
}

void sigil_http_respond_error(struct sigil_http_req *r, int status, const char *message)
{
    json_t *o = json_pack("{s:i,s:s}", "code", status, "message", message != NULL ? message : "");
    sigil_http_respond_json(r, status, o);
    json_decref(o);
}

/* ---- accessors ---- */

const char *sigil_http_req_method(const struct sigil_http_req *r) { return r->method != NULL ? r->method : ""; }
const char *sigil_http_req_path(const struct sigil_http_req *r) { return r->path != NULL ? r->path : ""; }
const char *sigil_http_req_query(const struct sigil_http_req *r) { return r->query; }
const char *sigil_http_req_client_id(const struct sigil_http_req *r) { return r->client_id; }
const char *sigil_http_req_peer(const struct sigil_http_req *r) { return r->peer; }

const char *sigil_http_req_header(const struct sigil_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0) {
            return r->headers[i].value;
        }
    }
    return NULL;
}

const uint8_t *sigil_http_req_body(const struct sigil_http_req *r, size_t *len)
{
    static const uint8_t empty[1] = {0};
    if (len != NULL) {
        *len = r->body_len;
    }
    return r->body != NULL ? r->body : empty;
}

const uint8_t *sigil_http_req_client_fingerprint(const struct sigil_http_req *r) { return r->has_fp ? r->fp : NULL; }

/* ---- server ---- */

static pthread_once_t g_global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    if (evthread_use_pthreads() != 0) {
        SIGIL_LOG_WARN("libevent thread support unavailable", SIGIL_LOG_NONE);
    }
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
        (void)signal(SIGPIPE, SIG_IGN);
    }
}

static void raise_nofile(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) {
        return;
    }
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        SIGIL_LOG_WARN("cannot raise the open-file limit", SIGIL_LOG_UINT("wanted", want));
    }
}

static sigil_result bind_listener(struct sigil_http_server *s, const struct sigil_listen_addr *la)
{
    int fd = socket(la->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return sigil_errorf(SIGIL_ERR_IO, "socket: %s", strerror(errno));
    }
    int one = 1;
    if (la->family == AF_INET || la->family == AF_INET6) {
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (la->family == AF_INET6) {
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (la->family == AF_UNIX) {
        const char *path = ((const struct sockaddr_un *)&la->ss)->sun_path;
        struct stat st;
        /* a stale socket from a previous run; never remove anything else */
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            (void)unlink(path);
        }
        s->unix_path = strdup(path);
        if (s->unix_path == NULL) {
            close(fd);
            return sigil_error(SIGIL_ERR_NOMEM);
        }
    }
    if (bind(fd, (const struct sockaddr *)&la->ss, la->sslen) != 0) {
        int e = errno;
        close(fd);
        free(s->unix_path);
        s->unix_path = NULL;
        return sigil_errorf(SIGIL_ERR_IO, "bind: %s", strerror(e));
    }
    if (la->family == AF_UNIX) {
        (void)chmod(s->unix_path, 0600);
    }
    if (listen(fd, 511) != 0) {
        int e = errno;
        close(fd);
        return sigil_errorf(SIGIL_ERR_IO, "listen: %s", strerror(e));
    }
    if (la->family == AF_VSOCK) {
        s->port = la->port;
    } else if (la->family != AF_UNIX) {
        s->tcp = true;
        struct sockaddr_storage ss = {0};
        socklen_t sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
            /* copy out instead of casting, so no type-punned read of the storage */
            uint16_t nport = 0;
            if (ss.ss_family == AF_INET6) {
                struct sockaddr_in6 a6;
                memcpy(&a6, &ss, sizeof a6);
                nport = a6.sin6_port;
            } else {
                struct sockaddr_in a4;
                memcpy(&a4, &ss, sizeof a4);
                nport = a4.sin_port;
            }
            s->port = ntohs(nport);
        }
    }
    if (evhttp_accept_socket_with_handle(s->http, fd) == NULL) {
        close(fd);
        return sigil_errorf(SIGIL_ERR_IO, "cannot listen with libevent");
    }
    return sigil_ok();
}

static void register_metrics(struct sigil_http_server *s)
{
    struct sigil_metrics *m = s->metrics;
    if (m == NULL) {
        return;
    }
    s->g_conns = sigil_metrics_gauge(m, "http_connections_open", "Open HTTP connections.", NULL);
    s->c_rejected = sigil_metrics_counter(m, "http_connections_rejected_total",
                                          "Connections closed at accept because of the connection cap.", NULL);
    s->c_timeouts = sigil_metrics_counter(m, "http_connections_timed_out_total",
                                          "Connections closed because a request did not arrive in time.", NULL);
    s->c_dropped = sigil_metrics_counter(m, "http_responses_dropped_total",
                                         "Replies dropped because the connection had closed.", NULL);
    s->other.latency = sigil_metrics_histogram(m, "http_request_duration_seconds",
                                               "Time from request dispatch to reply.", "path_group=\"other\"",
                                               k_latency_bounds, sizeof k_latency_bounds / sizeof k_latency_bounds[0]);
}

sigil_result sigil_http_server_new_ctx(struct sigil_http_server **out, const struct sigil_http_config *cfg,
                                       SSL_CTX *ssl_ctx)
{
    SIGIL_ENSURE(out != NULL && cfg != NULL, SIGIL_ERR_ARG);
    *out = NULL;
    struct sigil_listen_addr la;
    SIGIL_GUARD(sigil_net_parse_listen(&la, cfg->listen));
    if (ssl_ctx == NULL && !la.loopback) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "plain HTTP is only allowed on a loopback address or unix socket");
    }
    pthread_once(&g_global_once, global_init);
    sigil_result ret = sigil_ok();
    struct sigil_http_server *s = calloc(1, sizeof *s);
    SIGIL_ENSURE(s != NULL, SIGIL_ERR_NOMEM);
    s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->mu, NULL);
    s->max_body = cfg->max_body ? cfg->max_body : SIGIL_HTTP_DEFAULT_MAX_BODY;
    unsigned timeout_s = cfg->timeout_s ? cfg->timeout_s : SIGIL_HTTP_DEFAULT_TIMEOUT_S;
    s->timeout_tv.tv_sec = timeout_s;
    s->max_conns = cfg->max_connections ? cfg->max_connections : SIGIL_HTTP_DEFAULT_MAX_CONNECTIONS;
    s->metrics = cfg->metrics;
    s->other.path = "other";
    raise_nofile(s->max_conns + 128);
    if (ssl_ctx != NULL) {
        SIGIL_ENSURE_GOTO(SSL_CTX_up_ref(ssl_ctx) == 1, SIGIL_ERR_TLS);
        s->ssl = ssl_ctx;
    }
    s->base = event_base_new();
    SIGIL_ENSURE_GOTO(s->base != NULL, SIGIL_ERR_NOMEM);
    s->http = evhttp_new(s->base);
    SIGIL_ENSURE_GOTO(s->http != NULL, SIGIL_ERR_NOMEM);
    evhttp_set_max_body_size(s->http, (ev_ssize_t)s->max_body);
    evhttp_set_max_headers_size(s->http, SIGIL_HTTP_MAX_HEADERS_SIZE);
    evhttp_set_timeout(s->http, (int)timeout_s);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(s->http, on_request, s);
    evhttp_set_bevcb(s->http, on_new_bev, s);
    if (pipe2(s->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        ret = sigil_errorf(SIGIL_ERR_IO, "pipe: %s", strerror(errno));
        goto out;
    }
    s->wake_ev = event_new(s->base, s->wake[0], EV_READ | EV_PERSIST, on_wake, s);
    SIGIL_ENSURE_GOTO(s->wake_ev != NULL && event_add(s->wake_ev, NULL) == 0, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(bind_listener(s, &la));
    register_metrics(s);
    *out = s;
    s = NULL;
out:
    sigil_http_server_free(s);
    return ret;
}

sigil_result sigil_http_server_new(struct sigil_http_server **out, const struct sigil_http_config *cfg)
{
    SIGIL_ENSURE(out != NULL && cfg != NULL, SIGIL_ERR_ARG);
    *out = NULL;
    if (cfg->tls == NULL) {
        return sigil_http_server_new_ctx(out, cfg, NULL);
    }
    /* Check the address first: a config error should not wait for key loading. */
    struct sigil_listen_addr la;
    SIGIL_GUARD(sigil_net_parse_listen(&la, cfg->listen));
    SSL_CTX *ctx = NULL;
    SIGIL_GUARD(sigil_tls_ctx_new(&ctx, cfg->tls));
    sigil_result r = sigil_http_server_new_ctx(out, cfg, ctx);
    SSL_CTX_free(ctx);
    return r;
}

sigil_result sigil_http_route(struct sigil_http_server *s, const char *method, const char *path, bool prefix,
                              sigil_http_handler h, void *ctx)
{
    SIGIL_ENSURE(s != NULL && path != NULL && path[0] == '/' && h != NULL, SIGIL_ERR_ARG);
    struct route *rt = calloc(1, sizeof *rt);
    SIGIL_ENSURE(rt != NULL, SIGIL_ERR_NOMEM);
    rt->path = strdup(path);
    rt->method = method != NULL ? strdup(method) : NULL;
    if (rt->path == NULL || (method != NULL && rt->method == NULL)) {
        free(rt->path);
        free(rt->method);
        free(rt);
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    rt->path_len = strlen(path);
    rt->prefix = prefix;
    rt->h = h;
    rt->ctx = ctx;
    if (s->metrics != NULL) {
        char labels[300];
        char group[256];
        size_t k = 0;
        for (const char *p = path; *p != '\0' && k + 3 < sizeof group; p++) {
            if (*p == '"' || *p == '\\') {
                group[k++] = '\\';
            }
            group[k++] = *p == '\n' ? ' ' : *p;
        }
        group[k] = '\0';
        snprintf(labels, sizeof labels, "path_group=\"%s\"", group);
        rt->latency =
            sigil_metrics_histogram(s->metrics, "http_request_duration_seconds", "Time from request dispatch to reply.",
                                    labels, k_latency_bounds, sizeof k_latency_bounds / sizeof k_latency_bounds[0]);
    }
    if (s->routes_tail != NULL) {
        s->routes_tail->next = rt;
    } else {
        s->routes = rt;
    }
    s->routes_tail = rt;
    return sigil_ok();
}

uint16_t sigil_http_server_port(const struct sigil_http_server *s) { return s->port; }

unsigned sigil_http_server_connections(const struct sigil_http_server *s) { return s->nconns; }

sigil_result sigil_http_server_run(struct sigil_http_server *s)
{
    SIGIL_ENSURE(s != NULL, SIGIL_ERR_ARG);
    s->loop_thread = pthread_self();
    atomic_store(&s->running, true);
    int rc = 0;
    if (!atomic_load(&s->stop)) {
        drain_replies(s); /* replies queued while the loop was not running */
        rc = event_base_dispatch(s->base);
    }
    atomic_store(&s->running, false);
    atomic_store(&s->stop, 0);
    return rc < 0 ? sigil_errorf(SIGIL_ERR_INTERNAL, "event loop failed") : sigil_ok();
}

void sigil_http_server_stop(struct sigil_http_server *s)
{
    if (s == NULL) {
        return;
    }
    atomic_store(&s->stop, 1);
    wake_loop(s);
}

static void free_routes(struct route *rt)
{
    for (struct status_counter *sc = rt->counters; sc != NULL;) {
        struct status_counter *next = sc->next;
        free(sc);
        sc = next;
    }
}

void sigil_http_server_free(struct sigil_http_server *s)
{
    if (s == NULL) {
        return;
    }
    if (s->http != NULL) {
        evhttp_free(s->http); /* closes every connection: conn_closed marks pending requests dead */
    }
    pthread_mutex_lock(&s->mu);
    struct sigil_http_req *r = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    while (r != NULL) {
        struct sigil_http_req *next = r->next;
        /* a request evhttp detached from its connection is ours to free; an untracked one may
         * already be gone, so leak it rather than risk a double free */
        if (r->evreq != NULL && r->tracked) {
            evhttp_request_free(r->evreq);
        }
        req_free(r);
        r = next;
    }
    if (s->wake_ev != NULL) {
        event_free(s->wake_ev);
    }
    if (s->base != NULL) {
        event_base_free(s->base);
    }
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    SSL_CTX_free(s->ssl);
    for (struct route *rt = s->routes; rt != NULL;) {
        struct route *next = rt->next;
        free_routes(rt);
        free(rt->path);
        free(rt->method);
        free(rt);
        rt = next;
    }
    free_routes(&s->other);
    if (s->unix_path != NULL) {
        (void)unlink(s->unix_path);
        free(s->unix_path);
    }
    free(s->fdtab);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
