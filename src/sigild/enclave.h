/* sigild's enclave boot path (docs/enclave.md): the control channel from sigil-host, attestation,
 * KMS Decrypt with Recipient for the data keys, key envelopes into the key store, then the same
 * sigil_service as the standalone daemon. Nothing arrives on the command line but the channel
 * address: everything else comes in INIT. */
#ifndef SIGIL_SIGILD_ENCLAVE_H
#define SIGIL_SIGILD_ENCLAVE_H

#include "common/log.h"

struct sigil_enclave_opts {
    const char *control;    /* fd:N | unix:PATH | vsock:ANY:PORT */
    const char *image_path; /* measured image for the simulated NSM; NULL = /proc/self/exe */
    int accept_timeout_ms;  /* wait for the host to connect (unix/vsock); < 0 = forever */
};

/* Runs the boot path and then the service until SHUTDOWN. Returns the process exit code: 0 after
 * SHUTDOWN, 1 on a setup failure, 3 when the channel was closed (violation or host gone). Call
 * sigil_channel_use_secure_json() before any other jansson use (main does). */
int sigil_enclave_main(const struct sigil_enclave_opts *opts);

#endif
