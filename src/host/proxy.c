/* epoll byte pump (see proxy.h). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "host/proxy.h"

#define BUF_SIZE (64u * 1024u)

struct pipe_dir {
    uint8_t buf[BUF_SIZE];
    size_t off, len;
    bool eof; /* source said EOF: after the buffer drains, shut down the sink's write side */
    bool shut;
};

struct pair;

struct side {
    struct pair *p;
    int fd;
    int idx; /* 0 client, 1 target */
    uint32_t events;
};

struct pair {
    struct side s[2];
    struct pipe_dir d[2]; /* d[0]: client -> target, d[1]: target -> client */
    bool connecting;
    int64_t last_ms, start_ms;
    struct pair *prev, *next;
};

struct sigil_proxy {
    struct sigil_proxy_config cfg;
    char name[64];
    struct sigil_endpoint listen_ep, target_ep;
    int lfd, ep, stopfd;
    pthread_t th;
    bool started;
    struct pair *head;
    pthread_mutex_t mu;
    struct sigil_proxy_stats st;
    uint16_t port;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

SIGIL_RESULT sigil_proxy_new(struct sigil_proxy **out, const struct sigil_proxy_config *cfg)
{
    *out = NULL;
    struct sigil_proxy *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    p->lfd = p->ep = p->stopfd = -1;
    p->cfg = *cfg;
    (void)snprintf(p->name, sizeof p->name, "%s", cfg->name != NULL ? cfg->name : "proxy");
    p->cfg.name = p->name;
    if (p->cfg.max_conns == 0) {
        p->cfg.max_conns = 1024;
    }
    if (p->cfg.idle_s == 0) {
        p->cfg.idle_s = 120;
    }
    if (p->cfg.connect_ms == 0) {
        p->cfg.connect_ms = 3000;
    }
    (void)pthread_mutex_init(&p->mu, NULL);
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    SIGIL_GUARD_GOTO(sigil_endpoint_parse(&p->listen_ep, cfg->listen));
    SIGIL_GUARD_GOTO(sigil_endpoint_parse(&p->target_ep, cfg->target));
    SIGIL_GUARD_GOTO(p->listen_ep.type->listen(&p->lfd, &p->listen_ep, 512));
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    p->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->ep < 0 || p->stopfd < 0) {
        ret = sigil_errorf(SIGIL_ERR_IO, "epoll/eventfd: %s", strerror(errno));
        goto out;
    }
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = &p->lfd};
    struct epoll_event se = {.events = EPOLLIN, .data.ptr = p};
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->lfd, &le) != 0 || epoll_ctl(p->ep, EPOLL_CTL_ADD, p->stopfd, &se) != 0) {
        ret = sigil_errorf(SIGIL_ERR_IO, "epoll_ctl: %s", strerror(errno));
        goto out;
    }
    if (p->listen_ep.ss.ss_family == AF_INET) {
        struct sockaddr_in a = {0};
        socklen_t al = sizeof a;
        if (getsockname(p->lfd, (struct sockaddr *)&a, &al) == 0) {
            p->port = ntohs(a.sin_port);
        }
    }
    *out = p;
    return sigil_ok();
out:
    sigil_proxy_free(p);
    return ret;
}

uint16_t sigil_proxy_port(const struct sigil_proxy *p) { return p->port; }

void sigil_proxy_stats(struct sigil_proxy *p, struct sigil_proxy_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    pthread_mutex_unlock(&p->mu);
}

static void set_events(struct sigil_proxy *p, struct side *s, uint32_t ev)
{
    if (s->fd < 0 || s->events == ev) {
        return;
    }
    struct epoll_event e = {.events = ev, .data.ptr = s};
    (void)epoll_ctl(p->ep, EPOLL_CTL_MOD, s->fd, &e);
    s->events = ev;
}

static void pair_free(struct sigil_proxy *p, struct pair *c)
{
    for (int i = 0; i < 2; i++) {
        if (c->s[i].fd >= 0) {
            (void)epoll_ctl(p->ep, EPOLL_CTL_DEL, c->s[i].fd, NULL);
            (void)close(c->s[i].fd);
        }
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        p->head = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    pthread_mutex_lock(&p->mu);
    p->st.active--;
    pthread_mutex_unlock(&p->mu);
    free(c);
}

/* Recomputes which events each side wants from the buffer states. */
static void update(struct sigil_proxy *p, struct pair *c)
{
    for (int i = 0; i < 2; i++) {
        struct side *s = &c->s[i];
        uint32_t ev = 0;
        if (c->connecting) {
            ev = i == 1 ? EPOLLOUT : 0;
        } else {
            struct pipe_dir *in = &c->d[i], *outd = &c->d[1 - i];
            if (!in->eof && in->len == 0) {
                ev |= EPOLLIN;
            }
            if (outd->len > 0) {
                ev |= EPOLLOUT;
            }
        }
        set_events(p, s, ev);
    }
}

/* Returns false when the pair is finished and must be freed. */
static bool pump(struct sigil_proxy *p, struct pair *c, int from)
{
    struct pipe_dir *d = &c->d[from];
    int to = 1 - from;
    if (d->len == 0 && !d->eof) {
        ssize_t n = recv(c->s[from].fd, d->buf, sizeof d->buf, 0);
        if (n > 0) {
            d->off = 0;
            d->len = (size_t)n;
            c->last_ms = now_ms();
            pthread_mutex_lock(&p->mu);
            if (from == 0) {
                p->st.bytes_in += (uint64_t)n;
            } else {
                p->st.bytes_out += (uint64_t)n;
            }
            pthread_mutex_unlock(&p->mu);
        } else if (n == 0) {
            d->eof = true;
        } else if (errno != EAGAIN && errno != EINTR) {
            return false;
        }
    }
    while (d->len > 0) {
        ssize_t n = send(c->s[to].fd, d->buf + d->off, d->len, MSG_NOSIGNAL);
        if (n > 0) {
            d->off += (size_t)n;
            d->len -= (size_t)n;
            c->last_ms = now_ms();
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            break;
        } else {
            return false;
        }
    }
    if (d->eof && d->len == 0 && !d->shut) {
        (void)shutdown(c->s[to].fd, SHUT_WR);
        d->shut = true;
    }
    return !(c->d[0].shut && c->d[1].shut);
}

static void accept_one(struct sigil_proxy *p)
{
    int cfd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
        return;
    }
    /* a relay must not hold back small writes: with Nagle on the client side, every TLS record
     * after the first of a response waited for the client's delayed ACK (~40 ms) */
    if (p->listen_ep.ss.ss_family == AF_INET) {
        int one = 1;
        (void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    pthread_mutex_lock(&p->mu);
    bool full = p->st.active >= p->cfg.max_conns;
    if (full) {
        p->st.refused_limit++;
    }
    pthread_mutex_unlock(&p->mu);
    if (full) {
        (void)close(cfd);
        return;
    }
    int tfd = -1;
    bool pending = false;
    sigil_result r = p->target_ep.type->connect(&tfd, &p->target_ep, &pending);
    if (!sigil_is_ok(r)) {
        pthread_mutex_lock(&p->mu);
        p->st.target_failed++;
        pthread_mutex_unlock(&p->mu);
        (void)close(cfd);
        return;
    }
    struct pair *c = calloc(1, sizeof *c);
    if (c == NULL) {
        (void)close(cfd);
        (void)close(tfd);
        return;
    }
    c->s[0] = (struct side){c, cfd, 0, 0};
    c->s[1] = (struct side){c, tfd, 1, 0};
    c->connecting = pending;
    c->last_ms = c->start_ms = now_ms();
    struct epoll_event e0 = {.events = 0, .data.ptr = &c->s[0]}, e1 = {.events = 0, .data.ptr = &c->s[1]};
    (void)epoll_ctl(p->ep, EPOLL_CTL_ADD, cfd, &e0);
    (void)epoll_ctl(p->ep, EPOLL_CTL_ADD, tfd, &e1);
    c->next = p->head;
    if (p->head != NULL) {
        p->head->prev = c;
    }
    p->head = c;
    pthread_mutex_lock(&p->mu);
    p->st.accepted++;
    p->st.active++;
    pthread_mutex_unlock(&p->mu);
    update(p, c);
}

static void sweep(struct sigil_proxy *p)
{
    int64_t now = now_ms();
    for (struct pair *c = p->head, *n = NULL; c != NULL; c = n) {
        n = c->next;
        bool dead = c->connecting ? now - c->start_ms > (int64_t)p->cfg.connect_ms
                                  : now - c->last_ms > (int64_t)p->cfg.idle_s * 1000;
        if (dead) {
            pthread_mutex_lock(&p->mu);
            if (c->connecting) {
                p->st.target_failed++;
            } else {
                p->st.idle_closed++;
            }
            pthread_mutex_unlock(&p->mu);
            pair_free(p, c);
        }
    }
}

static void *proxy_main(void *arg)
{
    struct sigil_proxy *p = arg;
    struct epoll_event evs[64];
    int64_t last_sweep = now_ms();
    for (;;) {
        int n = epoll_wait(p->ep, evs, 64, 500);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == p) {
                return NULL; /* stop */
            }
            if (evs[i].data.ptr == NULL) {
                continue; /* a side of a pair freed earlier in this batch */
            }
            if (evs[i].data.ptr == &p->lfd) {
                for (int k = 0; k < 64; k++) {
                    accept_one(p);
                }
                continue;
            }
            struct side *s = evs[i].data.ptr;
            struct pair *c = s->p;
            if (c->connecting) {
                int err = 0;
                socklen_t el = sizeof err;
                if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
                    pthread_mutex_lock(&p->mu);
                    p->st.target_failed++;
                    pthread_mutex_unlock(&p->mu);
                    pair_free(p, c);
                    /* the pair's other side may also be in this batch: skip stale pointers */
                    for (int k = i + 1; k < n; k++) {
                        struct side *o = evs[k].data.ptr;
                        if (o == &c->s[0] || o == &c->s[1]) {
                            evs[k].data.ptr = NULL;
                        }
                    }
                    continue;
                }
                c->connecting = false;
            }
            bool alive = pump(p, c, 0) && pump(p, c, 1);
            if (alive && (evs[i].events & (EPOLLERR | EPOLLHUP)) != 0 && c->d[0].len == 0 && c->d[1].len == 0 &&
                (evs[i].events & EPOLLIN) == 0) {
                alive = false;
            }
            if (!alive) {
                for (int k = i + 1; k < n; k++) {
                    struct side *o = evs[k].data.ptr;
                    if (o == &c->s[0] || o == &c->s[1]) {
                        evs[k].data.ptr = NULL;
                    }
                }
                pair_free(p, c);
            } else {
                update(p, c);
            }
        }
        if (now_ms() - last_sweep >= 500) {
            sweep(p);
            last_sweep = now_ms();
        }
    }
}

SIGIL_RESULT sigil_proxy_start(struct sigil_proxy *p)
{
    if (pthread_create(&p->th, NULL, proxy_main, p) != 0) {
        return sigil_errorf(SIGIL_ERR_INTERNAL, "cannot start the %s proxy thread", p->name);
    }
    p->started = true;
    SIGIL_LOG_INFO("proxy listening", SIGIL_LOG_STR("proxy", p->name), SIGIL_LOG_STR("listen", p->listen_ep.text),
                   SIGIL_LOG_STR("target", p->target_ep.text));
    return sigil_ok();
}

void sigil_proxy_free(struct sigil_proxy *p)
{
    if (p == NULL) {
        return;
    }
    if (p->started) {
        uint64_t one = 1;
        (void)!write(p->stopfd, &one, sizeof one);
        (void)pthread_join(p->th, NULL);
    }
    while (p->head != NULL) {
        pair_free(p, p->head);
    }
    if (p->lfd >= 0) {
        (void)close(p->lfd);
    }
    if (p->ep >= 0) {
        (void)close(p->ep);
    }
    if (p->stopfd >= 0) {
        (void)close(p->stopfd);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}
