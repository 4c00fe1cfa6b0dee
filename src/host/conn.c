/* TCP, unix and vsock endpoints behind struct sigil_conn_type. Parsing reuses the control
 * channel's transport syntax so one address means the same thing everywhere. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "channel/channel.h"
#include "host/conn.h"

static SIGIL_RESULT sock_listen(int *out, const struct sigil_endpoint *ep, int backlog)
{
    int fd = socket(ep->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return sigil_errorf(SIGIL_ERR_IO, "%s: socket: %s", ep->text, strerror(errno));
    }
    int one = 1;
    if (ep->ss.ss_family == AF_INET) {
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (ep->ss.ss_family == AF_UNIX) {
        (void)unlink(((const struct sockaddr_un *)&ep->ss)->sun_path);
    }
    if (bind(fd, (const struct sockaddr *)&ep->ss, ep->sslen) != 0 || listen(fd, backlog) != 0) {
        int e = errno;
        (void)close(fd);
        return sigil_errorf(SIGIL_ERR_IO, "%s: bind/listen: %s", ep->text, strerror(e));
    }
    *out = fd;
    return sigil_ok();
}

static SIGIL_RESULT sock_connect(int *out, const struct sigil_endpoint *ep, bool *pending)
{
    int fd = socket(ep->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return sigil_errorf(SIGIL_ERR_IO, "%s: socket: %s", ep->text, strerror(errno));
    }
    *pending = false;
    if (connect(fd, (const struct sockaddr *)&ep->ss, ep->sslen) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            int e = errno;
            (void)close(fd);
            return sigil_errorf(SIGIL_ERR_IO, "%s: connect: %s", ep->text, strerror(e));
        }
        *pending = true;
    }
    if (ep->ss.ss_family == AF_INET) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    *out = fd;
    return sigil_ok();
}

static const struct sigil_conn_type tcp_type = {"tcp", sock_listen, sock_connect};
static const struct sigil_conn_type unix_type = {"unix", sock_listen, sock_connect};
static const struct sigil_conn_type vsock_type = {"vsock", sock_listen, sock_connect};

SIGIL_RESULT sigil_endpoint_parse(struct sigil_endpoint *out, const char *s)
{
    memset(out, 0, sizeof *out);
    if (s == NULL || strlen(s) >= sizeof out->text - 4) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "endpoint: missing or too long");
    }
    char buf[sizeof out->text];
    if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "vsock:", 6) == 0 || strncmp(s, "tcp:", 4) == 0) {
        (void)snprintf(buf, sizeof buf, "%s", s);
    } else if (strncmp(s, "localhost:", 10) == 0) {
        (void)snprintf(buf, sizeof buf, "tcp:127.0.0.1:%s", s + 10);
    } else {
        (void)snprintf(buf, sizeof buf, "tcp:%s", s);
    }
    struct sigil_transport_addr a;
    SIGIL_GUARD(sigil_transport_parse(&a, buf));
    switch (a.kind) {
    case SIGIL_TRANSPORT_TCP:
        out->type = &tcp_type;
        break;
    case SIGIL_TRANSPORT_UNIX:
        out->type = &unix_type;
        break;
    case SIGIL_TRANSPORT_VSOCK:
        out->type = &vsock_type;
        break;
    default:
        return sigil_errorf(SIGIL_ERR_CONFIG, "endpoint %s: fd:N is not a proxy endpoint", s);
    }
    out->ss = a.ss;
    out->sslen = a.sslen;
    (void)snprintf(out->text, sizeof out->text, "%s", buf);
    return sigil_ok();
}

SIGIL_RESULT sigil_endpoint_connect_wait(int *out, const struct sigil_endpoint *ep, int timeout_ms)
{
    bool pending = false;
    int fd = -1;
    SIGIL_GUARD(ep->type->connect(&fd, ep, &pending));
    if (pending) {
        struct pollfd p = {fd, POLLOUT, 0};
        int err = 0;
        socklen_t el = sizeof err;
        if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            (void)close(fd);
            return sigil_errorf(SIGIL_ERR_IO, "%s: connect: %s", ep->text, err ? strerror(err) : "timed out");
        }
    }
    int fl = fcntl(fd, F_GETFL);
    (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *out = fd;
    return sigil_ok();
}
