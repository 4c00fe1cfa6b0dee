/* The host's status/admin API: plain HTTP on a loopback address or a unix socket (never TLS,
 * never another interface: it can trigger KEYGEN).
 *   GET  /status  -> {state, pcr0, keys_loaded, keys_expected, restarts, uptime_s, last_error,
 *                     launcher, http_target, proxy:{...}}
 *   POST /keygen  {"count":1..1000,"network":"hoodi","withdrawal_address":"0x.."}
 *                 -> {"deposit_data":[...]} (the ciphertexts go to the store) */
#ifndef SIGIL_HOST_STATUS_H
#define SIGIL_HOST_STATUS_H

#include "common/result.h"
#include "host/proxy.h"
#include "host/supervisor.h"

struct sigil_status_api;

SIGIL_RESULT sigil_status_api_new(struct sigil_status_api **out, const char *listen, struct sigil_supervisor *sup,
                                  struct sigil_proxy *inbound);
/* Runs the server on its own thread. */
SIGIL_RESULT sigil_status_api_start(struct sigil_status_api *a);
void sigil_status_api_free(struct sigil_status_api *a);

#endif
