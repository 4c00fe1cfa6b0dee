/* The host <-> sigild control channel (docs/enclave.md): frames, message types, the per-state
 * dispatch table, and the transports both sides use (unix, fd, vsock, loopback TCP).
 *
 * A frame is a 4-byte big-endian length N (1 <= N <= SIGIL_FRAME_MAX), a 1-byte message type and
 * N-1 bytes of JSON object. The dispatch table is the policy, as in OpenSSH's monitor: a message
 * whose type is unknown, not allowed in the current state, already used up (once), or whose
 * payload is not a JSON object with an integer "id", closes the channel. Nothing in this module
 * logs payloads. */
#ifndef SIGIL_CHANNEL_CHANNEL_H
#define SIGIL_CHANNEL_CHANNEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/result.h"

#define SIGIL_FRAME_MAX      (4u * 1024u * 1024u)
#define SIGIL_CHANNEL_NTYPES 15 /* types 1..14 */

/* Requests are odd, answers even. */
enum sigil_msg_type {
    SIGIL_MSG_INIT = 1,
    SIGIL_MSG_INIT_OK = 2,
    SIGIL_MSG_KEYS_PAGE = 3,
    SIGIL_MSG_KEYS_ACK = 4,
    SIGIL_MSG_STATUS = 5,
    SIGIL_MSG_STATUS_OK = 6,
    SIGIL_MSG_SHUTDOWN = 7,
    SIGIL_MSG_SHUTDOWN_OK = 8,
    SIGIL_MSG_KEYGEN = 9,
    SIGIL_MSG_KEYGEN_OK = 10,
    SIGIL_MSG_LOG = 11,
    SIGIL_MSG_ERROR = 12,
    SIGIL_MSG_AUDIT = 13,    /* sigild -> host: audit lines to append durably */
    SIGIL_MSG_AUDIT_OK = 14, /* host -> sigild: appended and fdatasync'ed */
};

enum sigil_channel_state {
    SIGIL_CH_NEW = 0,
    SIGIL_CH_INITIALIZING = 1,
    SIGIL_CH_READY = 2,
    SIGIL_CH_CLOSED = 3,
};

#define SIGIL_CH_MASK(s) (1u << (unsigned)(s))
#define SIGIL_CH_ANY_OPEN                                                                                              \
    (SIGIL_CH_MASK(SIGIL_CH_NEW) | SIGIL_CH_MASK(SIGIL_CH_INITIALIZING) | SIGIL_CH_MASK(SIGIL_CH_READY))

/* "INIT", "KEYS_ACK", ... or "UNKNOWN". */
const char *sigil_msg_type_name(uint8_t type);
/* "NEW", "INITIALIZING", "READY", "CLOSED". */
const char *sigil_channel_state_name(enum sigil_channel_state s);

/* ---- frames over a blocking fd ----
 * timeout_ms applies to the whole frame (< 0: wait forever). A timeout is SIGIL_ERR_IO with a
 * detail saying so. */

/* Writes one frame (type, payload[0..len)); len + 1 must be <= SIGIL_FRAME_MAX (SIGIL_ERR_TOO_LARGE).
 * Errors: SIGIL_ERR_IO (peer gone, timeout). SIGPIPE is never raised (MSG_NOSIGNAL on sockets). */
SIGIL_RESULT sigil_frame_write(int fd, uint8_t type, const void *payload, size_t len, int timeout_ms);

/* Reads one frame. The payload (without the type byte, NUL-terminated, not counted in *len) is
 * malloc'ed (free()) or, when secret_type(type) says so, placed in secure memory
 * (sigil_secure_free): the type byte is read before the payload is allocated. secret_type may be
 * NULL. A clean EOF before the first byte is SIGIL_ERR_NOT_FOUND ("peer closed").
 * Errors: SIGIL_ERR_PARSE (N == 0), SIGIL_ERR_TOO_LARGE (N > SIGIL_FRAME_MAX; nothing more is
 * read), SIGIL_ERR_IO (truncated frame, read error, timeout), SIGIL_ERR_NOMEM.
 * Out: *type, *payload, *len, *secure (true when the payload is in secure memory). */
SIGIL_RESULT sigil_frame_read(int fd, uint8_t *type, uint8_t **payload, size_t *len, bool *secure,
                              bool (*secret_type)(uint8_t type, void *ctx), void *ctx, int timeout_ms);

/* Serialises obj compactly and writes it as one frame. */
SIGIL_RESULT sigil_frame_write_json(int fd, uint8_t type, const json_t *obj, int timeout_ms);

/* ---- the channel and its dispatch table ---- */
struct sigil_channel;

/* What a handler did with a well-formed request. */
enum sigil_channel_verdict {
    SIGIL_CH_DONE,    /* answered; a `once` rule is now used up */
    SIGIL_CH_REFUSED, /* answered with ERROR; the request may be sent again (state unchanged) */
    SIGIL_CH_CLOSE,   /* protocol violation inside the payload: close the channel */
};

/* msg is the parsed JSON object (borrowed), id its "id". The handler answers through
 * sigil_channel_send / sigil_channel_send_error and moves the state with sigil_channel_set_state. */
typedef enum sigil_channel_verdict (*sigil_channel_handler)(struct sigil_channel *ch, const json_t *msg, int64_t id,
                                                            void *ctx);

/* Field order follows the table as it is read (type, states, once); the padding is irrelevant for a
 * handful of static rules.
 *
 * A rule for an odd type admits the peer's requests of that type (handler required). A rule for an
 * even type admits answers of that type to this side's own requests (sigil_channel_call), in the
 * listed states; it has no handler and is never once or secret. An answer whose id no call of ours
 * is waiting for, or of the wrong type for that id, is a violation; a late answer to a call that
 * timed out is dropped. */
struct sigil_channel_rule { /* NOLINT(clang-analyzer-optin.performance.Padding) */
    uint8_t type;           /* a request (odd) or an answer (even) type */
    unsigned states_mask;   /* SIGIL_CH_MASK(state) | ... */
    bool once;              /* at most one SIGIL_CH_DONE for this type over the channel's life */
    bool secret;            /* payload carries credentials: read into secure memory, parsed with a wiping allocator */
    sigil_channel_handler handler;
};

/* Installs jansson allocation functions that let `secret` rules parse into secure memory
 * (blocks allocated while a secret frame is parsed come from secure memory and are wiped on
 * free; all others stay plain malloc, so free() of json_dumps output keeps working). Call once, at
 * process start, before other threads use jansson; without it secret payloads are still read into
 * secure memory but parsed into ordinary heap. */
void sigil_channel_use_secure_json(void);

/* While on, every jansson allocation of the calling thread comes from secure memory and is wiped
 * when jansson frees it (from any thread): for building a message that carries credentials, such
 * as INIT. Only after sigil_channel_use_secure_json (else a no-op). Do not call json_dumps in this
 * mode (its result must be free()d); sigil_frame_write_json is fine. Turn it off again at once. */
void sigil_channel_secret_json(bool on);

/* Wraps a connected fd (the channel owns it and closes it on free). rules (borrowed, must outlive
 * the channel) is the whole policy: a type absent from it is refused. Errors: SIGIL_ERR_NOMEM,
 * SIGIL_ERR_ARG (an out-of-range type, a type listed twice, a request rule without a handler or
 * an answer rule with one, or an answer rule marked once or secret). */
SIGIL_RESULT sigil_channel_new(struct sigil_channel **out, int fd, const struct sigil_channel_rule *rules,
                               size_t nrules, void *handler_ctx);

/* Stops the reader thread (if started), closes the fd and frees. NULL is a no-op. */
void sigil_channel_free(struct sigil_channel *ch);

/* Per-frame read timeout for dispatch (default: -1, wait forever for the next frame; once the
 * first byte of a frame is in, the rest must arrive within this time when set). Write timeout
 * for answers (default 10000 ms). */
void sigil_channel_set_timeouts(struct sigil_channel *ch, int read_timeout_ms, int write_timeout_ms);

enum sigil_channel_state sigil_channel_state(const struct sigil_channel *ch);
void sigil_channel_set_state(struct sigil_channel *ch, enum sigil_channel_state s);
int sigil_channel_fd(const struct sigil_channel *ch);

/* Reads one frame and dispatches it. Returns SIGIL_OK after a handler ran (whatever it answered)
 * or an answer was handed to its caller. Any violation (bad length, unknown or unpermitted type, a
 * second `once`, a payload that is not a JSON object with an integer "id" >= 0, a handler
 * returning SIGIL_CH_CLOSE, an answer nobody waits for) closes the channel: the fd is shut down,
 * the state becomes CLOSED and the error is returned with a detail naming the violation (never
 * payload content). Peer EOF: SIGIL_ERR_NOT_FOUND, channel CLOSED. On a CLOSED channel:
 * SIGIL_ERR_NOT_READY.
 * With the reader thread running, the frame comes from its queue (requests only; it delivers
 * answers itself) and reader-side violations are returned here. */
SIGIL_RESULT sigil_channel_dispatch_one(struct sigil_channel *ch);

/* Starts a thread that reads every frame: answers go straight to the sigil_channel_call waiting
 * for them, requests are queued (at most 8; more without waiting for answers is a violation) for
 * sigil_channel_dispatch_one, which runs the rule checks and handlers on its own thread. Needed
 * when a handler, or a thread that must not wait behind a slow handler, calls
 * sigil_channel_call. Errors: SIGIL_ERR_ARG (already started), SIGIL_ERR_INTERNAL. */
SIGIL_RESULT sigil_channel_start_reader(struct sigil_channel *ch);

/* Sends a request of this side (odd type; its answer type + 1 must have an answer rule) with a
 * fresh id and waits up to timeout_ms (< 0: forever) for the answer, which is read by the reader
 * thread or by whichever thread is in sigil_channel_dispatch_one. Thread-safe: several calls may
 * wait at once. Out: *answer (new reference). Errors: SIGIL_ERR_IO (send failed, or no answer in
 * time: a later answer to it is dropped), SIGIL_ERR_NOT_READY (the peer answered ERROR: the detail
 * holds its code and message; or the channel closed), SIGIL_ERR_ARG. obj's "id" is overwritten. */
SIGIL_RESULT sigil_channel_call(struct sigil_channel *ch, uint8_t type, json_t *obj, int timeout_ms, json_t **answer);

/* Sends an answer of the given type; obj's "id" is set to id. Thread-safe (one writer lock, so
 * LOG frames from other threads never interleave with answers). */
SIGIL_RESULT sigil_channel_send(struct sigil_channel *ch, uint8_t type, int64_t id, json_t *obj);

/* Sends ERROR {"id","code","message"}; code is a short machine name (e.g. "kms_refused"). */
SIGIL_RESULT sigil_channel_send_error(struct sigil_channel *ch, int64_t id, const char *code, const char *message);

/* Closes the channel now (state CLOSED, fd shut down). Idempotent. */
void sigil_channel_close(struct sigil_channel *ch);

/* ---- transports ----
 *   unix:/abs/path      AF_UNIX stream socket
 *   fd:N                an already connected descriptor (e.g. a socketpair end passed as fd 3)
 *   vsock:CID:PORT      AF_VSOCK; CID is a number (3 = the parent instance seen from a Nitro enclave) or ANY
 *                       (VMADDR_CID_ANY, for listening)
 *   tcp:A.B.C.D:PORT    IPv4 TCP (loopback forwarders and proxies) */
enum sigil_transport_kind { SIGIL_TRANSPORT_UNIX, SIGIL_TRANSPORT_FD, SIGIL_TRANSPORT_VSOCK, SIGIL_TRANSPORT_TCP };

struct sigil_transport_addr {
    enum sigil_transport_kind kind;
    int fd;                     /* FD */
    uint32_t cid, port;         /* VSOCK (cid), VSOCK and TCP (port) */
    struct sockaddr_storage ss; /* UNIX, VSOCK, TCP */
    socklen_t sslen;
};

/* Parses an address (above). Errors: SIGIL_ERR_CONFIG with a detail. */
SIGIL_RESULT sigil_transport_parse(struct sigil_transport_addr *out, const char *s);

/* Creates a listening socket (unix: an existing socket file is replaced). Not for fd:N
 * (SIGIL_ERR_ARG). Errors: SIGIL_ERR_IO with errno text. */
SIGIL_RESULT sigil_transport_listen(int *out_fd, const char *addr);

/* Accepts one connection (timeout_ms < 0: wait forever). SIGIL_ERR_IO on timeout or error. */
SIGIL_RESULT sigil_transport_accept(int *out_fd, int listen_fd, int timeout_ms);

/* Connects (timeout_ms < 0: the OS default). fd:N returns a dup of N. */
SIGIL_RESULT sigil_transport_connect(int *out_fd, const char *addr, int timeout_ms);

/* The server side of a control channel: fd:N returns N itself; unix/vsock/tcp listen, accept one
 * connection (waiting up to timeout_ms), and close the listener. */
SIGIL_RESULT sigil_transport_serve_one(int *out_fd, const char *addr, int timeout_ms);

#endif
