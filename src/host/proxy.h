/* Byte proxies: listen on one endpoint, relay every accepted connection to one fixed target.
 * Inbound: client TCP -> sigild's listener (unix socket / vsock:CID:5001); TLS ends inside
 * sigild, the proxy sees ciphertext only. Outbound: sigild's forwarder (unix / vsock) -> one
 * allow-listed TCP destination; a proxy has exactly one target, so nothing is parsed to route.
 *
 * One epoll thread per proxy, level-triggered, a 64 KiB buffer per direction with back-pressure
 * (a side is not read while its buffer waits), half-close passed through, a connection limit
 * (beyond it new connections are closed at once), an idle timeout (no byte either way) and a
 * connect timeout to the target. A target that is down (sigild restarting) means the client's
 * connection is closed at once: clients see a short gap, never a hang. */
#ifndef SIGIL_HOST_PROXY_H
#define SIGIL_HOST_PROXY_H

#include <stdint.h>

#include "common/result.h"
#include "host/conn.h"

struct sigil_proxy_config {
    const char *name;    /* for logs: "inbound", "outbound-kms" */
    const char *listen;  /* endpoint text */
    const char *target;  /* endpoint text */
    unsigned max_conns;  /* 0: 1024 */
    unsigned idle_s;     /* 0: 120 */
    unsigned connect_ms; /* 0: 3000 */
};

struct sigil_proxy_stats {
    uint64_t accepted, refused_limit, target_failed, idle_closed, bytes_in, bytes_out;
    unsigned active;
};

struct sigil_proxy;

/* Binds the listener. Errors: SIGIL_ERR_CONFIG, SIGIL_ERR_IO, SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_proxy_new(struct sigil_proxy **out, const struct sigil_proxy_config *cfg);

/* Starts the proxy's thread. */
SIGIL_RESULT sigil_proxy_start(struct sigil_proxy *p);

/* The bound TCP port (0 for unix/vsock). */
uint16_t sigil_proxy_port(const struct sigil_proxy *p);

void sigil_proxy_stats(struct sigil_proxy *p, struct sigil_proxy_stats *out);

/* Stops the thread, closes every connection and the listener, frees. NULL is a no-op. */
void sigil_proxy_free(struct sigil_proxy *p);

#endif
