/* The signer service: everything sigild does once its keys are in memory. The standalone
 * binary (bin/sigild, keystores from disk) and the enclave boot path (keys arriving through the
 * control channel) both build a sigil_service and call sigil_service_run, so the HTTP API,
 * slashing protection and signing are one code path whatever the key source. */
#ifndef SIGIL_SIGILD_SERVICE_H
#define SIGIL_SIGILD_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "eth2/network.h"
#include "keys/keystore.h"
#include "net/tls.h"

struct sigil_service_config {
    const char *http_listen;     /* HOST:PORT */
    const char *metrics_listen;  /* optional separate plain-HTTP listener (loopback) for /metrics */
    struct sigil_tls_config tls; /* cert_file NULL = plain HTTP (loopback only) */
    const char *slashing_db_url; /* sqlite:PATH | postgresql://... */
    struct sigil_network network;
    const char *keystores_dir; /* where keymanager imports are persisted (NULL: in memory only) */
    const char *passwords_dir;
    const char *keymanager_token_file; /* NULL disables the keymanager API */
    const char *client_keys_file;      /* per-client key allow-lists (NULL: every authenticated client, every key) */
    unsigned worker_threads;           /* 0 = online CPUs */
    size_t max_body;                   /* 0 = default */
    size_t max_batch;                  /* items per batch request; 0 = default */
    /* Enclave boot path: a ready server TLS context (certificate and key from memory), used instead
     * of `tls` when set. The service takes its own reference; the caller keeps and frees its own. */
    SSL_CTX *tls_ctx;
    /* Eth1 wallet (docs/wallet.md). All three pass to the service (freed by sigil_service_free,
     * also when sigil_service_new fails). eth1 NULL: no wallet keys; the eth1 endpoints and
     * JSON-RPC answer that no eth1 key is loaded. */
    struct sigil_eth1_keyring *eth1;
    struct sigil_policy *policy; /* NULL = sigil_policy_default() */
    struct sigil_audit *audit;   /* required when eth1 is set (every decision is audited) */
};

struct sigil_service;
struct sigil_slashing_db;
struct sigil_eth1_keyring;
struct sigil_policy;
struct sigil_audit;

/* The --client-keys allow-list: at most SIGIL_CLIENT_KEYS_MAX bytes and
 * SIGIL_CLIENT_KEYS_MAX_CLIENTS distinct client names (each at most 127 characters). */
#define SIGIL_CLIENT_KEYS_MAX         (16u << 20)
#define SIGIL_CLIENT_KEYS_MAX_CLIENTS 4096u

/* Parses an allow-list held in text[0..len) exactly as sigil_service_new parses the
 * --client-keys file, then discards it (for tests and fuzzing). Out: *nclients (may be NULL),
 * the number of distinct clients. Errors: SIGIL_ERR_TOO_LARGE, SIGIL_ERR_CONFIG naming the line,
 * SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_client_keys_check(const char *text, size_t len, size_t *nclients);

/* Creates the service around a key store that may still be filling (ownership of ks passes to the
 * service), opens the slashing DB and binds the listeners. */
SIGIL_RESULT sigil_service_new(struct sigil_service **out, const struct sigil_service_config *cfg,
                               struct sigil_keystore *ks);

/* Marks the key store complete: registers every loaded key with slashing protection and turns
 * /healthcheck and signing from 503 to ready. Call after the keys are loaded (the listener is
 * already up while they load, answering 503). */
SIGIL_RESULT sigil_service_keys_loaded(struct sigil_service *svc);

/* Starts listening; returns when sigil_service_stop is called (from a signal handler or another thread). */
SIGIL_RESULT sigil_service_run(struct sigil_service *svc);
void sigil_service_stop(struct sigil_service *svc);
uint16_t sigil_service_port(const struct sigil_service *svc);

/* The service's slashing-protection database, open from sigil_service_new until sigil_service_free
 * (for background maintenance such as pruning; stop such users before freeing the service). */
struct sigil_slashing_db *sigil_service_db(struct sigil_service *svc);

void sigil_service_free(struct sigil_service *svc);

#endif
