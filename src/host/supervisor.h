/* The supervisor (the AWS samples' watchdog, in C): reads the artifacts from the store, launches
 * sigild, sends INIT and the keys in KEYS_PAGEs of 1000, polls STATUS, and restarts with
 * exponential backoff (1 s .. 60 s) when sigild dies or stops answering, re-initialising each
 * time. It keeps the last error for the status API. Answers from sigild are checked against the
 * request (type and id); anything else is treated as a broken enclave and leads to a restart.
 *
 * sigild's own messages are served whenever they arrive (while waiting for an answer and between
 * requests): LOG lines go to our log, AUDIT records are appended to the audit log file and
 * fdatasync'ed before AUDIT_OK is sent (ERROR when they cannot be stored, which closes sigild's
 * audit log and stops its wallet signing). Each life of sigild starts from the tail of that file
 * (INIT's "audit": next_seq, prev_hash), so the hash chain continues across restarts. */
#ifndef SIGIL_HOST_SUPERVISOR_H
#define SIGIL_HOST_SUPERVISOR_H

#include <jansson.h>
#include <stdbool.h>

#include "common/result.h"
#include "host/launcher.h"

struct sigil_host_config {
    const char *store_url;
    const char *launcher; /* "local" | "nitro" */
    struct sigil_launch_config launch;
    const char *kms_url, *kms_region, *kms_key_id, *kms_ca, *kms_credentials;
    unsigned kms_forward_port; /* sigild's in-sandbox forwarder port for KMS (0: the KMS URL's port) */
    const char *sim_attestation_dir;
    const char *client_ca, *known_clients;
    const char *network;
    const char *slashing_db_url;           /* NULL: sqlite:DATA_DIR/slashing.db */
    const char *slashing_db_password_file; /* the URL's PostgreSQL password (kept off argv), or NULL */
    const char *http_listen;               /* what sigild listens on (NULL: unix:RUN_DIR/sigild.sock / vsock:5001) */
    unsigned status_interval_s;            /* 0: 3 */
    unsigned status_timeout_s;             /* 0: 5 */
    const char *audit_log;                 /* NULL: DATA_DIR/audit.jsonl (RUN_DIR/audit.jsonl without a data dir) */
    unsigned audit_ack_timeout_ms;         /* sent in INIT: how long sigild waits for AUDIT_OK (0: its default) */
    bool message_cache_set;                /* send message_cache_entries in INIT (false: sigild's default) */
    unsigned message_cache_entries;        /* sigild's message-point cache size; 0 turns it off */
};

struct sigil_supervisor;

SIGIL_RESULT sigil_supervisor_new(struct sigil_supervisor **out, const struct sigil_host_config *cfg);
SIGIL_RESULT sigil_supervisor_start(struct sigil_supervisor *s);

/* {state, pcr0, keys_loaded, keys_expected, restarts, uptime_s, last_error, launcher, http_target,
 *  policy_hash, policy, eth1_keys, wallet, audit: {log, lines_stored, signer, next_seq}} (new
 * reference). policy_hash and the audit signer are sigild's own report (STATUS_OK). */
json_t *sigil_supervisor_status(struct sigil_supervisor *s);

/* The endpoint text of sigild's HTTPS listener (for the inbound proxy). */
const char *sigil_supervisor_http_target(struct sigil_supervisor *s);

/* Runs KEYGEN in sigild (READY only), stores the new ciphertexts, returns {"deposit_data":[...]}
 * (chain eth2) or {"addresses":[...]} (chain eth1), or an error with a sentence. Blocks up to
 * timeout_s. */
SIGIL_RESULT sigil_supervisor_keygen(struct sigil_supervisor *s, const json_t *req, json_t **resp, int timeout_s);

/* Sends SHUTDOWN, stops sigild and the thread, frees. NULL is a no-op. */
void sigil_supervisor_free(struct sigil_supervisor *s);

#endif
