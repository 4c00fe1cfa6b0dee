/* sigild's in-sandbox forwarder: loopback TCP ports inside sigild's network namespace that relay
 * each accepted connection, byte for byte, to the host's outbound endpoint for one destination
 * (local: unix:RUNDIR/outbound-<name>.sock; Nitro: vsock:3:<8000+i>). TLS runs end to end through
 * it (sigild <-> KMS, sigild <-> PostgreSQL): the forwarder never sees plaintext. */
#ifndef SIGIL_SIGILD_FORWARDER_H
#define SIGIL_SIGILD_FORWARDER_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

#define SIGIL_FORWARDER_MAX 8

struct sigil_forward_spec {
    const char *name; /* "kms", "pg": for logs */
    uint16_t port;    /* 127.0.0.1:port inside the namespace; 0 = ephemeral (tests) */
    const char *via;  /* the host's outbound endpoint: unix:PATH | vsock:CID:PORT | tcp:IP:PORT */
};

struct sigil_forwarder;

/* Binds every listener (so a busy port fails here, with its name) and starts one accept thread
 * per listener. Errors: SIGIL_ERR_ARG (n over SIGIL_FORWARDER_MAX, a bad `via`), SIGIL_ERR_IO. */
SIGIL_RESULT sigil_forwarder_start(struct sigil_forwarder **out, const struct sigil_forward_spec *specs, size_t n);

/* The bound port of listener i. */
uint16_t sigil_forwarder_port(const struct sigil_forwarder *f, size_t i);

/* Stops accepting and frees. Relays in flight end when either side closes. NULL is a no-op. */
void sigil_forwarder_stop(struct sigil_forwarder *f);

#endif
