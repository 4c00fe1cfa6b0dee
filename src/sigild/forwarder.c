/* In-sandbox forwarder (see forwarder.h). One accept thread per listener, one detached relay
 * thread per connection; a relay is a poll loop copying both directions with half-close. */
#include "sigild/forwarder.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel/channel.h"
#include "common/log.h"

#define RELAY_BUF       16384
#define CONNECT_TIMEOUT 5000
#define MAX_RELAYS      64

struct listener {
    struct sigil_forwarder *fw;
    int fd;
    uint16_t port;
    char name[32];
    char via[256];
    pthread_t thread;
    bool started;
};

struct sigil_forwarder {
    struct listener l[SIGIL_FORWARDER_MAX];
    size_t n;
    atomic_bool stopping;
    atomic_int relays;
};

struct relay {
    int a, b;
    struct sigil_forwarder *fw;
};

/* Copies what is readable from `from` to `to`; false at EOF or error (then `to` is half-closed). */
static bool pump(int from, int to)
{
    uint8_t buf[RELAY_BUF];
    ssize_t r = recv(from, buf, sizeof buf, 0);
    if (r <= 0) {
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
            return true;
        }
        (void)shutdown(to, SHUT_WR);
        return false;
    }
    size_t off = 0;
    while (off < (size_t)r) {
        ssize_t w = send(to, buf + off, (size_t)r - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        off += (size_t)w;
    }
    return true;
}

static void *relay_main(void *arg)
{
    struct relay *rl = arg;
    bool a_open = true, b_open = true;
    while (a_open || b_open) {
        struct pollfd p[2] = {{.fd = a_open ? rl->a : -1, .events = POLLIN},
                              {.fd = b_open ? rl->b : -1, .events = POLLIN}};
        int rc = poll(p, 2, 300000); /* an idle relay of 5 minutes is dropped */
        if (rc == 0 || (rc < 0 && errno != EINTR)) {
            break;
        }
        if (rc < 0) {
            continue;
        }
        if (a_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            a_open = pump(rl->a, rl->b);
            if (!a_open && (p[0].revents & POLLERR) != 0) {
                break;
            }
        }
        if (b_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            b_open = pump(rl->b, rl->a);
            if (!b_open && (p[1].revents & POLLERR) != 0) {
                break;
            }
        }
    }
    (void)close(rl->a);
    (void)close(rl->b);
    atomic_fetch_sub(&rl->fw->relays, 1);
    free(rl);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct listener *l = arg;
    while (!atomic_load(&l->fw->stopping)) {
        int c = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) {
                continue;
            }
            break; /* the listener was shut down */
        }
        if (atomic_load(&l->fw->relays) >= MAX_RELAYS) {
            (void)close(c);
            continue;
        }
        int up = -1;
        sigil_result r = sigil_transport_connect(&up, l->via, CONNECT_TIMEOUT);
        if (!sigil_is_ok(r)) {
            SIGIL_LOG_WARN("forwarder cannot reach the host's outbound endpoint", SIGIL_LOG_STR("destination", l->name),
                           SIGIL_LOG_STR("via", l->via), SIGIL_LOG_STR("detail", sigil_error_detail()));
            (void)close(c);
            continue;
        }
        struct relay *rl = malloc(sizeof *rl);
        pthread_t t;
        pthread_attr_t at;
        bool ok = rl != NULL && pthread_attr_init(&at) == 0;
        if (ok) {
            (void)pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
            *rl = (struct relay){.a = c, .b = up, .fw = l->fw};
            atomic_fetch_add(&l->fw->relays, 1);
            ok = pthread_create(&t, &at, relay_main, rl) == 0;
            if (!ok) {
                atomic_fetch_sub(&l->fw->relays, 1);
            }
            (void)pthread_attr_destroy(&at);
        }
        if (!ok) {
            free(rl);
            (void)close(c);
            (void)close(up);
        }
    }
    return NULL;
}

sigil_result sigil_forwarder_start(struct sigil_forwarder **out, const struct sigil_forward_spec *specs, size_t n)
{
    SIGIL_ENSURE(out != NULL && (specs != NULL || n == 0), SIGIL_ERR_ARG);
    if (n > SIGIL_FORWARDER_MAX) {
        return sigil_errorf(SIGIL_ERR_ARG, "forwarder: at most %d destinations", SIGIL_FORWARDER_MAX);
    }
    struct sigil_forwarder *fw = calloc(1, sizeof *fw);
    SIGIL_ENSURE(fw != NULL, SIGIL_ERR_NOMEM);
    sigil_result ret = sigil_ok();
    for (size_t i = 0; i < n; i++) {
        struct listener *l = &fw->l[i];
        l->fw = fw;
        l->fd = -1;
        fw->n = i + 1;
        struct sigil_transport_addr a;
        if (specs[i].via == NULL || strlen(specs[i].via) >= sizeof l->via ||
            !sigil_is_ok(sigil_transport_parse(&a, specs[i].via)) || a.kind == SIGIL_TRANSPORT_FD) {
            ret = sigil_errorf(SIGIL_ERR_ARG, "forwarder %s: \"via\" must be unix:PATH, vsock:CID:PORT or tcp:IP:PORT",
                               specs[i].name ? specs[i].name : "?");
            goto out;
        }
        snprintf(l->name, sizeof l->name, "%s", specs[i].name ? specs[i].name : "");
        snprintf(l->via, sizeof l->via, "%s", specs[i].via);
        char addr[32];
        snprintf(addr, sizeof addr, "tcp:127.0.0.1:%u", (unsigned)specs[i].port);
        SIGIL_GUARD_GOTO(sigil_transport_listen(&l->fd, addr));
        struct sockaddr_in sin = {0};
        socklen_t sl = sizeof sin;
        if (getsockname(l->fd, (struct sockaddr *)&sin, &sl) != 0) {
            ret = sigil_errorf(SIGIL_ERR_IO, "forwarder %s: getsockname: %s", l->name, strerror(errno));
            goto out;
        }
        l->port = ntohs(sin.sin_port);
        if (pthread_create(&l->thread, NULL, accept_main, l) != 0) {
            ret = sigil_errorf(SIGIL_ERR_INTERNAL, "forwarder %s: cannot start a thread", l->name);
            goto out;
        }
        l->started = true;
        SIGIL_LOG_INFO("forwarder listening", SIGIL_LOG_STR("destination", l->name), SIGIL_LOG_UINT("port", l->port),
                       SIGIL_LOG_STR("via", l->via));
    }
    *out = fw;
    fw = NULL;
out:
    sigil_forwarder_stop(fw);
    return ret;
}

uint16_t sigil_forwarder_port(const struct sigil_forwarder *f, size_t i) { return i < f->n ? f->l[i].port : 0; }

void sigil_forwarder_stop(struct sigil_forwarder *f)
{
    if (f == NULL) {
        return;
    }
    atomic_store(&f->stopping, true);
    for (size_t i = 0; i < f->n; i++) {
        if (f->l[i].fd >= 0) {
            (void)shutdown(f->l[i].fd, SHUT_RDWR); /* wakes accept() */
        }
        if (f->l[i].started) {
            pthread_join(f->l[i].thread, NULL);
        }
        if (f->l[i].fd >= 0) {
            (void)close(f->l[i].fd);
        }
    }
    /* Relays are detached and hold no pointer into listeners, only the counter: wait for them
     * briefly so the counter outlives them. */
    for (int i = 0; i < 100 && atomic_load(&f->relays) > 0; i++) {
        usleep(10000);
    }
    if (atomic_load(&f->relays) == 0) {
        free(f);
    } /* else leak the small struct rather than let a relay touch freed memory */
}
