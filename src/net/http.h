/* HTTP/1.1 server for the signer API: libevent 2.1 evhttp, over TLS (bufferevent_openssl) or
 * plain TCP (loopback and unix sockets only).
 *
 * Threading: one event-loop thread runs sigil_http_server_run and every handler. Handlers must
 * not block: they either respond at once or hand the request to a worker (see pool.h) which
 * calls sigil_http_respond* later from its own thread; the reply is marshalled to the loop.
 * While a request waits for its reply the connection reads nothing more (HTTP/1.1 has one
 * request in flight per connection), so the work in flight is bounded by max_connections.
 *
 * Limits: max_body (413 before the body is read; libevent writes that 413 itself with a small
 * HTML body, as 2.1 has no error-page hook), 16 KiB of request line + headers (larger: 413 or
 * 400 from libevent), timeout_s for a whole request to arrive (TLS handshake and keep-alive idle
 * time included: a client that trickles bytes is cut), timeout_s per read/write while sending,
 * and max_connections (beyond: accepted and closed at once).
 *
 * Process-wide effects of sigil_http_server_new: SIGPIPE is ignored (a write to a closed peer
 * must fail with EPIPE, not kill the signer), libevent's pthread locking is enabled, and the
 * RLIMIT_NOFILE soft limit is raised towards max_connections + 128 when the hard limit allows. */
#ifndef SIGIL_NET_HTTP_H
#define SIGIL_NET_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/result.h"
#include "net/metrics.h"
#include "net/tls.h"

#define SIGIL_HTTP_DEFAULT_MAX_BODY        (1u << 20)
#define SIGIL_HTTP_DEFAULT_TIMEOUT_S       30u
#define SIGIL_HTTP_DEFAULT_MAX_CONNECTIONS 1024u
#define SIGIL_HTTP_MAX_HEADERS_SIZE        16384u

struct sigil_http_server;
struct sigil_http_req; /* opaque; valid until responded */

struct sigil_http_config {
    const char *listen; /* "HOST:PORT" (IPv4, [IPv6], "localhost") or "unix:/path"; port 0 = ephemeral */
    const struct sigil_tls_config *tls; /* NULL = plain HTTP (only on loopback or a unix socket) */
    size_t max_body;                    /* 0 = SIGIL_HTTP_DEFAULT_MAX_BODY */
    unsigned timeout_s;                 /* 0 = SIGIL_HTTP_DEFAULT_TIMEOUT_S */
    unsigned max_connections;           /* 0 = SIGIL_HTTP_DEFAULT_MAX_CONNECTIONS */
    struct sigil_metrics *metrics;      /* optional; must outlive the server */
};

typedef void (*sigil_http_handler)(struct sigil_http_req *req, void *ctx);

/* Creates the server and binds the listening socket (so the port is known before run).
 * Errors: SIGIL_ERR_CONFIG (bad listen address, plain HTTP on a non-loopback address),
 * SIGIL_ERR_IO (bind/listen failed), TLS errors from sigil_tls_ctx_new, SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_http_server_new(struct sigil_http_server **out, const struct sigil_http_config *cfg);

/* Same with a ready TLS context (e.g. from sigil_tls_ctx_new_mem); the server takes a reference
 * (SSL_CTX_up_ref), the caller keeps its own. ssl_ctx NULL = plain HTTP; cfg->tls is ignored. */
SIGIL_RESULT sigil_http_server_new_ctx(struct sigil_http_server **out, const struct sigil_http_config *cfg,
                                       SSL_CTX *ssl_ctx);

/* Adds a route; call before sigil_http_server_run. path is matched against the decoded path
 * (no query): exactly, or as a prefix when prefix is true. method "GET"/"POST"/... or NULL for
 * any. Routes are tried in registration order; a path that matches only with another method
 * gets 405, no match at all 404. With metrics, path is the path_group label. */
SIGIL_RESULT sigil_http_route(struct sigil_http_server *s, const char *method, const char *path, bool prefix,
                              sigil_http_handler h, void *ctx);

/* The bound TCP port (0 for a unix socket). */
uint16_t sigil_http_server_port(const struct sigil_http_server *s);

/* Runs the event loop on the calling thread until sigil_http_server_stop. Returns at once when
 * stop was already requested. */
SIGIL_RESULT sigil_http_server_run(struct sigil_http_server *s);

/* Asks the loop to stop. Async-signal-safe and callable from any thread (sets a flag and
 * writes one byte to the server's self-pipe). */
void sigil_http_server_stop(struct sigil_http_server *s);

/* Frees the server: closes the listener and every connection. Call after run has returned and
 * after every request handed to workers has been responded to (free the pool first), since a
 * response for a freed server is a use-after-free. NULL is a no-op. */
void sigil_http_server_free(struct sigil_http_server *s);

/* Open connections right now (loop-thread snapshot; for tests and metrics). */
unsigned sigil_http_server_connections(const struct sigil_http_server *s);

/* ---- request accessors: safe from any thread until the request is responded ---- */
const char *sigil_http_req_method(const struct sigil_http_req *r);
const char *sigil_http_req_path(const struct sigil_http_req *r);  /* percent-decoded, no query */
const char *sigil_http_req_query(const struct sigil_http_req *r); /* raw query string or NULL */
const char *sigil_http_req_header(const struct sigil_http_req *r,
                                  const char *name);                             /* case-insensitive; NULL if absent */
const uint8_t *sigil_http_req_body(const struct sigil_http_req *r, size_t *len); /* NUL-terminated copy */
/* The known-clients name, else the certificate subject CN, else "" (no client certificate). */
const char *sigil_http_req_client_id(const struct sigil_http_req *r);
const uint8_t *sigil_http_req_client_fingerprint(const struct sigil_http_req *r); /* 32 bytes, or NULL */
/* The remote address as text ("127.0.0.1", "::1", "unix"). */
const char *sigil_http_req_peer(const struct sigil_http_req *r);

/* ---- responses: exactly once per request, from any thread ---- */
/* Copies body; content_type NULL = "text/plain; charset=utf-8". r is freed by this call (on the
 * loop thread at once, or after the loop has sent the reply). If the client is gone the reply is
 * dropped. */
void sigil_http_respond(struct sigil_http_req *r, int status, const char *content_type, const char *body, size_t len);
/* Serialises body compactly with "application/json; charset=utf-8"; 500 if serialisation fails. */
void sigil_http_respond_json(struct sigil_http_req *r, int status, const json_t *body);
/* {"code":status,"message":message} */
void sigil_http_respond_error(struct sigil_http_req *r, int status, const char *message);

/* ---- listen-address parsing (exposed for tests and the fuzz harness) ---- */
struct sigil_listen_addr {
    struct sockaddr_storage ss;
    socklen_t sslen;
    int family; /* AF_INET, AF_INET6, AF_UNIX or AF_VSOCK */
    uint16_t port;
    bool loopback; /* 127.0.0.0/8, ::1, ::ffff:127.x, or a unix socket */
};

/* Parses "A.B.C.D:PORT", "[IPv6]:PORT", "localhost:PORT" (= 127.0.0.1), "unix:/abs/path", or
 * "vsock:PORT" / "vsock:CID:PORT" (AF_VSOCK, the Nitro enclave listener; TLS required).
 * Host names other than localhost are refused (the signer must not depend on DNS).
 * Errors: SIGIL_ERR_CONFIG with a detail. */
SIGIL_RESULT sigil_net_parse_listen(struct sigil_listen_addr *out, const char *s);

#endif
