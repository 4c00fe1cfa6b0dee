/* sigild's eth1 wallet API (internal to src/sigild): Web3Signer's eth1 endpoints, JSON-RPC on
 * POST /, and GET /api/v1/eth1/status, over the service's listener, worker pool, metrics and
 * slashing database (the spend ledger). Every signing request runs, on a worker:
 *   parse (src/eth1/rpc.c) -> resolve the key -> digest -> client allow-list -> policy check ->
 *   spend reservation (transactions with spend windows) -> sign -> durable audit record -> reply.
 * A refusal is audited too; a signature whose audit record fails is never released. */
#ifndef SIGIL_SIGILD_ETH1_API_H
#define SIGIL_SIGILD_ETH1_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

struct sigil_eth1_keyring;
struct sigil_policy;
struct sigil_audit;
struct sigil_slashing_db;
struct sigil_pool;
struct sigil_metrics;
struct sigil_http_server;
struct sigil_eth1_api;

struct sigil_eth1_api_config {
    struct sigil_eth1_keyring *keys;   /* NULL: no eth1 key (every signing request: unknown account) */
    const struct sigil_policy *policy; /* NULL = sigil_policy_default() */
    bool policy_from_file;             /* for status: a rules file was loaded */
    struct sigil_audit *audit;         /* required when keys is set */
    struct sigil_slashing_db *db;      /* the spend ledger */
    struct sigil_pool *pool;           /* workers (they block on the ledger and the audit fsync) */
    struct sigil_metrics *metrics;
    /* Per-client key allow-list; NULL = every authenticated client may use every key. */
    bool (*may_use)(const void *ctx, const char *client, const uint8_t addr[20]);
    const void *may_use_ctx;
    size_t max_body; /* JSON-RPC body limit (413 above) */
};

/* Nothing in cfg is owned by the API; everything must outlive it. Errors: SIGIL_ERR_NOMEM,
 * SIGIL_ERR_CONFIG (keys without audit). */
SIGIL_RESULT sigil_eth1_api_new(struct sigil_eth1_api **out, const struct sigil_eth1_api_config *cfg);

/* Adds the routes: POST /api/v1/eth1/sign/{identifier}, GET /api/v1/eth1/publicKeys,
 * GET /api/v1/eth1/status, POST / (JSON-RPC). */
SIGIL_RESULT sigil_eth1_api_register(struct sigil_eth1_api *api, struct sigil_http_server *http);

/* Call after the worker pool has been drained (no request in flight). NULL is a no-op. */
void sigil_eth1_api_free(struct sigil_eth1_api *api);

#endif
