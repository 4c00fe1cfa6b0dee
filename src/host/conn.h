/* One connection interface over TCP, unix and vsock stream sockets (Redis ConnectionType style):
 * the proxies and the supervisor name an endpoint as text and never branch on its family.
 *
 *   HOST:PORT / tcp:A.B.C.D:PORT   IPv4 TCP ("localhost" = 127.0.0.1)
 *   unix:/abs/path                 AF_UNIX stream
 *   vsock:CID:PORT                 AF_VSOCK stream (CID ANY for listening) */
#ifndef SIGIL_HOST_CONN_H
#define SIGIL_HOST_CONN_H

#include <stdbool.h>
#include <sys/socket.h>

#include "common/result.h"

struct sigil_endpoint;

struct sigil_conn_type {
    const char *name; /* "tcp", "unix", "vsock" */
    /* Binds and listens (non-blocking, close-on-exec). unix: an existing socket file is replaced
     * and the socket is made 0600-reachable through its directory only. Returns the fd. */
    SIGIL_RESULT (*listen)(int *fd, const struct sigil_endpoint *ep, int backlog);
    /* Starts a non-blocking connect; *pending is true when it completes later (EPOLLOUT). */
    SIGIL_RESULT (*connect)(int *fd, const struct sigil_endpoint *ep, bool *pending);
};

struct sigil_endpoint {
    const struct sigil_conn_type *type;
    struct sockaddr_storage ss;
    socklen_t sslen;
    char text[160];
};

/* Parses an endpoint. Errors: SIGIL_ERR_CONFIG with a detail. */
SIGIL_RESULT sigil_endpoint_parse(struct sigil_endpoint *out, const char *s);

/* Blocking connect with a timeout (ms). */
SIGIL_RESULT sigil_endpoint_connect_wait(int *fd, const struct sigil_endpoint *ep, int timeout_ms);

#endif
