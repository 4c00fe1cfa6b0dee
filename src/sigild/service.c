/* The signer service: HTTP API (Web3Signer eth2 + keymanager + batch), slashing protection and
 * signing. Request handling: the HTTP loop thread only routes; parsing, the slashing check and the
 * BLS signature run on the worker pool, and the reply is handed back to the loop (for single
 * signatures from the slashing database's commit thread, once the record is durable). The order inside
 * a worker keeps the invariant of ARCHITECTURE.md: compute the signing root from the typed request,
 * sign, check and durably record it (slashable types), and only then release the signature. */
#include "sigild/service.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/hex.h"
#include "common/io.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/eip2335.h"
#include "eth1/keyring.h"
#include "eth2/request.h"
#include "net/http.h"
#include "net/metrics.h"
#include "net/pool.h"
#include "policy/policy.h"
#include "sigild/eth1_api.h"
#include "slashing/slashing.h"

#define DEFAULT_MAX_BODY    (2u << 20)
#define DEFAULT_MAX_BATCH   1000
#define KEYMANAGER_MAX_BODY (64u << 20)
#define SIGN_PREFIX         "/api/v1/eth2/sign/"

/* Status codes the API can produce, for pre-registered metrics label sets. */
static const int statuses[] = {200, 400, 403, 404, 412, 413, 500, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0])

#define ACL_NAME_LEN 128

struct client_acl {
    char name[ACL_NAME_LEN];
    bool all_keys;
    uint8_t (*keys)[48];
    size_t nkeys;
    uint8_t (*addrs)[20]; /* eth1 accounts */
    size_t naddrs;
};

struct sigil_service {
    struct sigil_service_config cfg;
    struct sigil_keystore *ks;
    struct sigil_slashing_db *db;
    struct sigil_http_server *http;
    struct sigil_http_server *metrics_http;
    pthread_t metrics_thread;
    bool metrics_thread_started;
    struct sigil_pool *pool;
    struct sigil_pool *sign_pool; /* single signatures, when the slashing DB records asynchronously */
    struct sigil_metrics *metrics;
    struct sigil_counter *requests[SIGIL_ETH2_TYPE_COUNT + 1][NSTATUS]; /* last row: unparsable type */
    struct sigil_histogram *latency[SIGIL_ETH2_TYPE_COUNT + 1];
    struct sigil_counter *slashing_refusals;
    struct sigil_gauge *keys_loaded;
    struct sigil_gauge *db_commit_us;
    struct sigil_gauge *db_avg_batch;
    struct sigil_gauge *ready_gauge;
    struct sigil_counter *msg_cache_hits, *msg_cache_misses;
    atomic_bool ready;
    char token[65];
    bool keymanager;
    bool acls_enabled; /* --client-keys given: only its entries are allowed (also when it has none) */
    struct client_acl *acls;
    size_t nacls;
    pthread_mutex_t keymanager_lock; /* serialises keymanager imports/deletes */
    struct sigil_eth1_api *eth1api;  /* eth1 wallet endpoints (eth1_api.c) */
};

/* ---------------------------------------------------------------- helpers */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int status_index(int status)
{
    for (size_t i = 0; i < NSTATUS; i++) {
        if (statuses[i] == status) {
            return (int)i;
        }
    }
    return (int)NSTATUS - 3; /* 500 */
}

static void count_request(struct sigil_service *svc, int type, int status, double seconds)
{
    if (type < 0 || type > SIGIL_ETH2_TYPE_COUNT) {
        type = SIGIL_ETH2_TYPE_COUNT;
    }
    sigil_counter_add(svc->requests[type][status_index(status)], 1);
    if (status == 200) {
        sigil_histogram_observe(svc->latency[type], seconds);
    }
}

/* Parses "0x" + 96 hex digits (case-insensitive) from a path segment. */
static bool parse_pubkey(uint8_t out[48], const char *s, size_t len)
{
    return sigil_is_ok(sigil_hex_decode_exact(out, 48, s, len));
}

static void pubkey_hex(char out[99], const uint8_t pk[48]) { sigil_hex_encode(out, pk, 48, 1); }

/* Maps a failed result to an HTTP status for the signing endpoints. */
static int http_status_for(sigil_result r)
{
    switch (r.code) {
    case SIGIL_ERR_PARSE:
    case SIGIL_ERR_SIGNING_ROOT_MISMATCH:
    case SIGIL_ERR_UNSUPPORTED:
    case SIGIL_ERR_BLS_ENCODING:
        return 400;
    case SIGIL_ERR_TOO_LARGE:
        return 413;
    case SIGIL_ERR_NOT_FOUND:
        return 404;
    case SIGIL_ERR_SLASHING:
    case SIGIL_ERR_GVR_MISMATCH:
    case SIGIL_ERR_KEY_DISABLED:
        return 412;
    case SIGIL_ERR_FORBIDDEN:
        return 403;
    case SIGIL_ERR_DB:
    case SIGIL_ERR_NOT_READY:
        return 503;
    default:
        return 500;
    }
}

/* One sentence for the client: the code's sentence plus the detail (details only ever describe
 * public input: field names, roots, slots). */
static void error_text(char *buf, size_t len, sigil_result r)
{
    const char *d = sigil_error_detail();
    if (d[0] != '\0') {
        snprintf(buf, len, "%s: %s", sigil_strerror(r.code), d);
    } else {
        snprintf(buf, len, "%s", sigil_strerror(r.code));
    }
}

/* The allow-list entry of a named client, or NULL (a client not in the file may use nothing). */
static const struct client_acl *find_acl(const struct sigil_service *svc, const char *client)
{
    for (size_t i = 0; i < svc->nacls; i++) {
        if (strcmp(svc->acls[i].name, client) == 0) {
            return &svc->acls[i];
        }
    }
    return NULL;
}

static bool client_may_use(const struct sigil_service *svc, const char *client, const uint8_t pk[48])
{
    if (!svc->acls_enabled) {
        return true;
    }
    const struct client_acl *a = find_acl(svc, client);
    if (a == NULL || a->all_keys) {
        return a != NULL;
    }
    for (size_t k = 0; k < a->nkeys; k++) {
        if (memcmp(a->keys[k], pk, 48) == 0) {
            return true;
        }
    }
    return false;
}

/* The same allow-list for eth1 accounts ("*" covers both kinds of key). */
static bool client_may_use_eth1(const void *ctx, const char *client, const uint8_t addr[20])
{
    const struct sigil_service *svc = ctx;
    if (!svc->acls_enabled) {
        return true;
    }
    const struct client_acl *a = find_acl(svc, client);
    if (a == NULL || a->all_keys) {
        return a != NULL;
    }
    for (size_t k = 0; k < a->naddrs; k++) {
        if (memcmp(a->addrs[k], addr, 20) == 0) {
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------- signing */

struct sign_result {
    int status;
    int type; /* enum sigil_eth2_type or -1 */
    uint8_t sig[SIGIL_BLS_SIG_LEN];
    char message[320];
};

/* The per-key signing path up to the slashing record, shared by the single and the batch
 * endpoints. Exactly one of body/obj is used. Returns true when out->sig holds a signature whose
 * slashing record (described by *req) must be durable before it is released; otherwise out is
 * final (status 200 with a releasable signature, or an error). */
static bool sign_prepare(struct sigil_service *svc, const char *client, const uint8_t pk[48], const char *body,
                         size_t body_len, const json_t *obj, struct sign_result *out, struct sigil_eth2_request *req)
{
    sigil_error_clear();
    out->type = -1;
    if (!atomic_load(&svc->ready)) {
        out->status = 503;
        snprintf(out->message, sizeof out->message, "keys are still loading");
        return false;
    }
    if (!sigil_keystore_has(svc->ks, pk)) {
        out->status = 404;
        snprintf(out->message, sizeof out->message, "public key not found");
        return false;
    }
    if (!client_may_use(svc, client, pk)) {
        out->status = 403;
        snprintf(out->message, sizeof out->message, "this client is not allowed to use this key");
        return false;
    }
    sigil_result r = obj != NULL ? sigil_eth2_parse_request_json(req, obj, &svc->cfg.network)
                                 : sigil_eth2_parse_request(req, body, body_len, &svc->cfg.network);
    if (!sigil_is_ok(r)) {
        out->status = http_status_for(r);
        error_text(out->message, sizeof out->message, r);
        return false;
    }
    out->type = (int)req->type;
    /* A built-in network pins the chain: a request for another chain is refused outright, for
     * every type, before any state changes. */
    if (req->has_fork_info && svc->cfg.network.has_genesis_validators_root &&
        memcmp(req->genesis_validators_root, svc->cfg.network.genesis_validators_root, 32) != 0) {
        out->status = 412;
        snprintf(out->message, sizeof out->message, "%s",
                 "genesis_validators_root does not match the network this signer serves");
        return false;
    }
    /* Sign first, then check and durably record, then release. The signature is computed while
     * earlier requests' records are being committed (the CPU would otherwise idle through each
     * fsync), and it stays inside sigild until its record is durable: on a refusal or a database
     * error it is wiped and never sent. */
    r = sigil_keystore_sign(svc->ks, pk, req->signing_root, 32, out->sig);
    if (!sigil_is_ok(r)) {
        out->status = r.code == SIGIL_ERR_NOT_FOUND ? 404 : r.code == SIGIL_ERR_KEY_DISABLED ? 412 : 500;
        error_text(out->message, sizeof out->message, r);
        return false;
    }
    out->status = 200;
    return req->slashing != SIGIL_SLASHING_NONE;
}

/* Applies the outcome of the slashing record to a prepared signature (on the thread whose
 * sigil_error_detail describes r). */
static void sign_recorded(struct sigil_service *svc, sigil_result r, struct sign_result *out)
{
    if (sigil_is_ok(r)) {
        out->status = 200;
        return;
    }
    sigil_wipe(out->sig, sizeof out->sig);
    out->status = http_status_for(r);
    if (r.code == SIGIL_ERR_NOT_FOUND) {
        out->status = 503; /* key not registered in the DB yet */
    }
    if (out->status == 412) {
        sigil_counter_add(svc->slashing_refusals, 1);
    }
    error_text(out->message, sizeof out->message, r);
}

/* The whole per-key signing path, waiting for the slashing record (batch endpoint). The item was
 * announced to the database (the group-commit hint) and is done with here, once prepared. */
static void sign_one(struct sigil_service *svc, const char *client, const uint8_t pk[48], const char *body,
                     size_t body_len, const json_t *obj, struct sign_result *out)
{
    struct sigil_eth2_request req;
    bool record = sign_prepare(svc, client, pk, body, body_len, obj, out, &req);
    sigil_slashing_incoming_done(svc->db, 1);
    if (!record) {
        return;
    }
    sigil_result r;
    if (req.slashing == SIGIL_SLASHING_BLOCK) {
        r = sigil_slashing_sign_block(svc->db, pk, req.slot, req.signing_root, req.genesis_validators_root);
    } else {
        r = sigil_slashing_sign_attestation(svc->db, pk, req.source_epoch, req.target_epoch, req.signing_root,
                                            req.genesis_validators_root);
    }
    sign_recorded(svc, r, out);
}

static bool wants_json(const char *accept)
{
    /* Web3Signer: JSON when any Accept entry is application/json or * / *, or no Accept at all. */
    if (accept == NULL || accept[0] == '\0') {
        return true;
    }
    return strstr(accept, "application/json") != NULL || strstr(accept, "*/*") != NULL;
}

struct sign_job {
    struct sigil_service *svc;
    struct sigil_http_req *req;
    uint8_t pk[48];
    double t0;
    struct sign_result res;
};

/* Sends the job's result and frees the job. */
static void sign_reply(struct sign_job *job)
{
    struct sigil_service *svc = job->svc;
    struct sign_result *res = &job->res;
    count_request(svc, res->type, res->status, now_s() - job->t0);
    if (res->status == 200) {
        char hex[2 * SIGIL_BLS_SIG_LEN + 3];
        sigil_hex_encode(hex, res->sig, sizeof res->sig, 1);
        if (wants_json(sigil_http_req_header(job->req, "Accept"))) {
            char buf[sizeof hex + 32];
            int n = snprintf(buf, sizeof buf, "{\"signature\":\"%s\"}", hex);
            sigil_http_respond(job->req, 200, "application/json; charset=utf-8", buf, (size_t)n);
        } else {
            sigil_http_respond(job->req, 200, "text/plain; charset=utf-8", hex, strlen(hex));
        }
    } else {
        sigil_http_respond_error(job->req, res->status, res->message);
    }
    free(job);
}

/* Slashing-record completion: runs once the record is durable (or refused / failed), usually on
 * the database's commit thread; only then may the signature leave. */
static void sign_job_recorded(void *ctx, sigil_result r)
{
    struct sign_job *job = ctx;
    sign_recorded(job->svc, r, &job->res);
    sign_reply(job);
}

/* Single-signature requests do not wait for their slashing record: the worker hands it to the
 * database and goes on signing, and the reply leaves from sign_job_recorded. So a few workers keep
 * every core busy with BLS while records are being fsync'd, without a thread per request in
 * flight (and the context switches of putting each one to sleep and waking it again). */
static void sign_worker(void *arg)
{
    struct sign_job *job = arg;
    struct sigil_service *svc = job->svc;
    size_t len = 0;
    const uint8_t *body = sigil_http_req_body(job->req, &len);
    struct sigil_eth2_request req;
    bool record =
        sign_prepare(svc, sigil_http_req_client_id(job->req), job->pk, (const char *)body, len, NULL, &job->res, &req);
    sigil_slashing_incoming_done(svc->db, 1);
    if (!record) {
        sign_reply(job);
        return;
    }
    if (req.slashing == SIGIL_SLASHING_BLOCK) {
        sigil_slashing_sign_block_async(svc->db, job->pk, req.slot, req.signing_root, req.genesis_validators_root,
                                        sign_job_recorded, job);
    } else {
        sigil_slashing_sign_attestation_async(svc->db, job->pk, req.source_epoch, req.target_epoch, req.signing_root,
                                              req.genesis_validators_root, sign_job_recorded, job);
    }
}

static void handle_sign(struct sigil_http_req *req, void *ctx)
{
    struct sigil_service *svc = ctx;
    const char *path = sigil_http_req_path(req);
    const char *id = path + strlen(SIGN_PREFIX);
    struct sign_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        sigil_http_respond_error(req, 500, "out of memory");
        return;
    }
    if (!parse_pubkey(job->pk, id, strlen(id))) {
        free(job);
        count_request(svc, -1, 400, 0);
        sigil_http_respond_error(req, 400, "the identifier must be a 48-byte BLS public key in hex");
        return;
    }
    job->svc = svc;
    job->req = req;
    job->t0 = now_s();
    sigil_slashing_incoming_add(svc->db, 1);
    sigil_pool_submit(svc->sign_pool != NULL ? svc->sign_pool : svc->pool, sign_worker, job);
}

/* ---------------------------------------------------------------- batch signing
 * POST /api/v1/eth2/sign-batch  {"requests":[{"identifier":"0x…","request":{…}}, …]}
 * → 200 {"results":[{"identifier":"0x…","status":200,"signature":"0x…"} | {…,"status":412,"error":"…"}]}
 * Every item goes through sign_one, exactly as if it were its own request. */

struct batch_job;
struct batch_item {
    struct batch_job *batch;
    size_t index;
};

struct batch_job {
    struct sigil_service *svc;
    struct sigil_http_req *req;
    json_t *doc;
    json_t *items;
    struct sign_result *results;
    struct batch_item *slots;
    uint8_t (*pks)[48];
    bool *pk_ok;
    atomic_size_t remaining;
    char client[128];
    double t0;
};

static void batch_finish(struct batch_job *b)
{
    size_t n = json_array_size(b->items);
    json_t *results = json_array();
    for (size_t i = 0; i < n; i++) {
        struct sign_result *r = &b->results[i];
        json_t *o = json_object();
        json_t *idv = json_object_get(json_array_get(b->items, i), "identifier");
        if (json_is_string(idv)) {
            json_object_set(o, "identifier", idv);
        }
        json_object_set_new(o, "status", json_integer(r->status));
        if (r->status == 200) {
            char hex[2 * SIGIL_BLS_SIG_LEN + 3];
            json_object_set_new(o, "signature", json_string(sigil_hex_encode(hex, r->sig, sizeof r->sig, 1)));
        } else {
            json_object_set_new(o, "error", json_string(r->message));
        }
        json_array_append_new(results, o);
    }
    json_t *resp = json_pack("{s:o}", "results", results);
    sigil_http_respond_json(b->req, 200, resp);
    json_decref(resp);
    json_decref(b->doc);
    free(b->results);
    free(b->slots);
    free(b->pks);
    free(b->pk_ok);
    free(b);
}

static void batch_item_worker(void *arg)
{
    struct batch_item *it = arg;
    struct batch_job *b = it->batch;
    struct sign_result *res = &b->results[it->index];
    if (!b->pk_ok[it->index]) {
        sigil_slashing_incoming_done(b->svc->db, 1);
        res->status = 400;
        res->type = -1;
        snprintf(res->message, sizeof res->message, "%s",
                 "each item needs an identifier (48-byte BLS public key in hex) and a request object");
    } else {
        json_t *item = json_array_get(b->items, it->index);
        sign_one(b->svc, b->client, b->pks[it->index], NULL, 0, json_object_get(item, "request"), res);
    }
    count_request(b->svc, res->type, res->status, now_s() - b->t0);
    if (atomic_fetch_sub(&b->remaining, 1) == 1) {
        batch_finish(b);
    }
}

static void batch_start(void *arg)
{
    struct batch_job *b = arg;
    struct sigil_service *svc = b->svc;
    size_t len = 0;
    const uint8_t *body = sigil_http_req_body(b->req, &len);
    sigil_result r = sigil_json_parse(&b->doc, (const char *)body, len, svc->cfg.max_body);
    if (sigil_is_ok(r)) {
        r = sigil_json_get_array(&b->items, b->doc, "requests");
    }
    if (!sigil_is_ok(r)) {
        char msg[320];
        error_text(msg, sizeof msg, r);
        sigil_http_respond_error(b->req, http_status_for(r), msg);
        json_decref(b->doc);
        free(b);
        return;
    }
    size_t n = json_array_size(b->items);
    if (n == 0 || n > svc->cfg.max_batch) {
        char msg[128];
        snprintf(msg, sizeof msg, "'requests' must hold 1 to %zu items", svc->cfg.max_batch);
        sigil_http_respond_error(b->req, n == 0 ? 400 : 413, msg);
        json_decref(b->doc);
        free(b);
        return;
    }
    b->results = calloc(n, sizeof *b->results);
    b->slots = calloc(n, sizeof *b->slots);
    b->pks = calloc(n, sizeof *b->pks);
    b->pk_ok = calloc(n, sizeof *b->pk_ok);
    if (b->results == NULL || b->slots == NULL || b->pks == NULL || b->pk_ok == NULL) {
        sigil_http_respond_error(b->req, 500, "out of memory");
        json_decref(b->doc);
        free(b->results);
        free(b->slots);
        free(b->pks);
        free(b->pk_ok);
        free(b);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(b->items, i);
        const char *id = json_string_value(json_object_get(item, "identifier"));
        b->pk_ok[i] =
            id != NULL && json_is_object(json_object_get(item, "request")) && parse_pubkey(b->pks[i], id, strlen(id));
        b->slots[i].batch = b;
        b->slots[i].index = i;
    }
    atomic_store(&b->remaining, n);
    /* every item is coming to the database: the writer gathers their records into few commits */
    sigil_slashing_incoming_add(svc->db, (unsigned)n);
    for (size_t i = 0; i < n; i++) {
        sigil_pool_submit(svc->pool, batch_item_worker, &b->slots[i]);
    }
}

static void handle_batch(struct sigil_http_req *req, void *ctx)
{
    struct sigil_service *svc = ctx;
    struct batch_job *b = calloc(1, sizeof *b);
    if (b == NULL) {
        sigil_http_respond_error(req, 500, "out of memory");
        return;
    }
    b->svc = svc;
    b->req = req;
    b->t0 = now_s();
    snprintf(b->client, sizeof b->client, "%s", sigil_http_req_client_id(req));
    sigil_pool_submit(svc->pool, batch_start, b);
}

/* ---------------------------------------------------------------- read-only endpoints */

static void handle_public_keys(struct sigil_http_req *req, void *ctx)
{
    struct sigil_service *svc = ctx;
    struct sigil_key_info *keys = NULL;
    size_t n = 0;
    if (!sigil_is_ok(sigil_keystore_list(svc->ks, &keys, &n))) {
        sigil_http_respond_error(req, 500, "cannot list keys");
        return;
    }
    const char *client = sigil_http_req_client_id(req);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (keys[i].enabled && client_may_use(svc, client, keys[i].pubkey)) {
            char hex[99];
            pubkey_hex(hex, keys[i].pubkey);
            json_array_append_new(arr, json_string(hex));
        }
    }
    free(keys);
    sigil_http_respond_json(req, 200, arr);
    json_decref(arr);
}

static void handle_upcheck(struct sigil_http_req *req, void *ctx)
{
    (void)ctx;
    sigil_http_respond(req, 200, "text/plain; charset=utf-8", "OK", 2);
}

static void handle_healthcheck(struct sigil_http_req *req, void *ctx)
{
    struct sigil_service *svc = ctx;
    bool keys_up = atomic_load(&svc->ready);
    bool db_up = svc->db != NULL;
    const char *outcome = keys_up && db_up ? "UP" : "DOWN";
    json_t *o = json_pack("{s:s, s:[{s:s, s:s, s:I}, {s:s, s:s}], s:s}", "status", outcome, "checks", "id", "keys",
                          "status", keys_up ? "UP" : "DOWN", "keys_loaded", (json_int_t)sigil_keystore_count(svc->ks),
                          "id", "slashing-db", "status", db_up ? "UP" : "DOWN", "outcome", outcome);
    sigil_http_respond_json(req, keys_up && db_up ? 200 : 503, o);
    json_decref(o);
}

static void handle_metrics(struct sigil_http_req *req, void *ctx)
{
    struct sigil_service *svc = ctx;
    struct sigil_slashing_stats st;
    sigil_slashing_stats(svc->db, &st);
    sigil_gauge_set(svc->db_commit_us, st.last_commit_us);
    sigil_gauge_set(svc->db_avg_batch, st.avg_batch);
    sigil_gauge_set(svc->keys_loaded, (double)sigil_keystore_count(svc->ks));
    sigil_gauge_set(svc->ready_gauge, atomic_load(&svc->ready) ? 1 : 0);
    /* The counters follow the store's totals; the API and the metrics listener may both be
     * scraped at once, so the catch-up is serialised. */
    static pthread_mutex_t catch_up = PTHREAD_MUTEX_INITIALIZER;
    uint64_t hits, misses;
    (void)pthread_mutex_lock(&catch_up);
    sigil_keystore_msg_cache_stats(svc->ks, &hits, &misses);
    uint64_t h0 = sigil_counter_value(svc->msg_cache_hits), m0 = sigil_counter_value(svc->msg_cache_misses);
    /* a replaced cache starts counting from 0 again; a counter never goes back */
    sigil_counter_add(svc->msg_cache_hits, hits > h0 ? hits - h0 : 0);
    sigil_counter_add(svc->msg_cache_misses, misses > m0 ? misses - m0 : 0);
    (void)pthread_mutex_unlock(&catch_up);
    size_t len = 0;
    char *text = sigil_metrics_render(svc->metrics, &len);
    if (text == NULL) {
        sigil_http_respond_error(req, 500, "out of memory");
        return;
    }
    sigil_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

/* ---------------------------------------------------------------- keymanager API */

static bool keymanager_auth(struct sigil_service *svc, struct sigil_http_req *req)
{
    const char *h = sigil_http_req_header(req, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        sigil_http_respond_error(req, 401, "missing bearer token");
        return false;
    }
    const char *tok = h + 7;
    size_t want = strlen(svc->token);
    if (strlen(tok) != want || !sigil_ct_memeq(tok, svc->token, want)) {
        sigil_http_respond_error(req, 403, "invalid bearer token");
        return false;
    }
    return true;
}

static void km_list(struct sigil_service *svc, struct sigil_http_req *req)
{
    struct sigil_key_info *keys = NULL;
    size_t n = 0;
    if (!sigil_is_ok(sigil_keystore_list(svc->ks, &keys, &n))) {
        sigil_http_respond_error(req, 500, "cannot list keys");
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++) {
        char hex[99];
        pubkey_hex(hex, keys[i].pubkey);
        json_array_append_new(
            data, json_pack("{s:s, s:s, s:b}", "validating_pubkey", hex, "derivation_path", "", "readonly", 0));
    }
    free(keys);
    json_t *o = json_pack("{s:o}", "data", data);
    sigil_http_respond_json(req, 200, o);
    json_decref(o);
}

static json_t *km_status(const char *status, const char *message)
{
    return message ? json_pack("{s:s, s:s}", "status", status, "message", message)
                   : json_pack("{s:s}", "status", status);
}

/* Persists an imported keystore and its password next to the others, so a restart keeps it. */
static sigil_result persist_keystore(struct sigil_service *svc, const uint8_t pk[48], const char *json, const char *pw,
                                     size_t pw_len, char *name_out, size_t name_cap)
{
    char hex[99];
    pubkey_hex(hex, pk);
    snprintf(name_out, name_cap, "keystore-%s", hex + 2);
    if (svc->cfg.keystores_dir == NULL || svc->cfg.passwords_dir == NULL) {
        return sigil_ok();
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.txt", svc->cfg.passwords_dir, name_out);
    SIGIL_GUARD(sigil_write_file(path, pw, pw_len, 0600, 0));
    snprintf(path, sizeof path, "%s/%s.json", svc->cfg.keystores_dir, name_out);
    return sigil_write_file(path, json, strlen(json), 0600, 0);
}

static void unpersist_keystore(struct sigil_service *svc, const char *name)
{
    if (svc->cfg.keystores_dir == NULL || svc->cfg.passwords_dir == NULL || name[0] == '\0' ||
        strchr(name, '/') != NULL) {
        return;
    }
    char path[4096];
    size_t nl = strlen(name);
    bool has_ext = nl > 5 && strcmp(name + nl - 5, ".json") == 0;
    int base = has_ext ? (int)(nl - 5) : (int)nl;
    snprintf(path, sizeof path, "%s/%.*s.json", svc->cfg.keystores_dir, base, name);
    (void)unlink(path);
    snprintf(path, sizeof path, "%s/%.*s.txt", svc->cfg.passwords_dir, base, name);
    (void)unlink(path);
}

static void km_import(struct sigil_service *svc, struct sigil_http_req *req)
{
    size_t len = 0;
    const uint8_t *body = sigil_http_req_body(req, &len);
    json_t *doc = NULL, *keystores = NULL, *passwords = NULL;
    sigil_result r = sigil_json_parse(&doc, (const char *)body, len, KEYMANAGER_MAX_BODY);
    if (sigil_is_ok(r)) {
        r = sigil_json_get_array(&keystores, doc, "keystores");
    }
    if (sigil_is_ok(r)) {
        r = sigil_json_get_array(&passwords, doc, "passwords");
    }
    if (sigil_is_ok(r) && json_array_size(keystores) != json_array_size(passwords)) {
        r = sigil_errorf(SIGIL_ERR_PARSE, "'keystores' and 'passwords' must have the same length");
    }
    if (!sigil_is_ok(r)) {
        char msg[320];
        error_text(msg, sizeof msg, r);
        sigil_http_respond_error(req, http_status_for(r), msg);
        json_decref(doc);
        return;
    }
    size_t n = json_array_size(keystores);
    uint8_t(*pks)[48] = calloc(n ? n : 1, 48);
    bool *have_pk = calloc(n ? n : 1, sizeof *have_pk);
    json_t *data = json_array();
    pthread_mutex_lock(&svc->keymanager_lock);

    /* Slashing protection first, for exactly the keys being imported (keymanager spec). */
    for (size_t i = 0; i < n; i++) {
        const char *ks_text = json_string_value(json_array_get(keystores, i));
        json_t *ks = ks_text ? json_loads(ks_text, 0, NULL) : NULL;
        const char *pkhex = json_string_value(json_object_get(ks, "pubkey"));
        have_pk[i] = pkhex != NULL && sigil_is_ok(sigil_hex_decode_exact(pks[i], 48, pkhex, strlen(pkhex)));
        json_decref(ks);
    }
    const char *sp = json_string_value(json_object_get(doc, "slashing_protection"));
    bool sp_failed = false;
    if (sp != NULL) {
        size_t nf = 0;
        uint8_t(*filter)[48] = calloc(n ? n : 1, 48);
        for (size_t i = 0; i < n; i++) {
            if (have_pk[i]) {
                memcpy(filter[nf++], pks[i], 48);
            }
        }
        struct sigil_slashing_import_report rep;
        r = nf > 0 ? sigil_slashing_import(svc->db, sp, strlen(sp), (const uint8_t(*)[48])filter, nf, &rep)
                   : sigil_ok();
        free(filter);
        if (!sigil_is_ok(r)) {
            /* Importing keys without their history could allow a slashable signature. */
            char msg[320];
            error_text(msg, sizeof msg, r);
            pthread_mutex_unlock(&svc->keymanager_lock);
            sigil_http_respond_error(req, 400, msg);
            json_decref(data);
            json_decref(doc);
            free(pks);
            free(have_pk);
            return;
        }
    }
    (void)sp_failed;

    for (size_t i = 0; i < n; i++) {
        const char *ks_text = json_string_value(json_array_get(keystores, i));
        const char *pw = json_string_value(json_array_get(passwords, i));
        if (ks_text == NULL || pw == NULL) {
            json_array_append_new(data, km_status("error", "keystore and password must be strings"));
            continue;
        }
        sigil_bls_sk *sk = NULL;
        struct sigil_eip2335_info info;
        sigil_error_clear();
        r = sigil_eip2335_decrypt(&sk, &info, ks_text, strlen(ks_text), pw, strlen(pw));
        if (!sigil_is_ok(r)) {
            char msg[320];
            error_text(msg, sizeof msg, r);
            json_array_append_new(data, km_status("error", msg));
            continue;
        }
        sigil_bls_pk pk;
        uint8_t pkb[48];
        sigil_bls_sk_to_pk(&pk, sk);
        sigil_bls_pk_compress(pkb, &pk);
        if (sigil_keystore_has(svc->ks, pkb)) {
            sigil_secure_free(sk);
            json_array_append_new(data, km_status("duplicate", NULL));
            continue;
        }
        char name[128];
        r = sigil_slashing_register(svc->db, (const uint8_t(*)[48])pkb, 1);
        if (sigil_is_ok(r)) {
            r = sigil_slashing_set_enabled(svc->db, pkb, true);
        }
        if (sigil_is_ok(r)) {
            r = persist_keystore(svc, pkb, ks_text, pw, strlen(pw), name, sizeof name);
        }
        if (sigil_is_ok(r)) {
            r = sigil_keystore_add(svc->ks, sk, pkb, name);
        }
        sigil_secure_free(sk);
        if (!sigil_is_ok(r)) {
            char msg[320];
            error_text(msg, sizeof msg, r);
            json_array_append_new(data, km_status("error", msg));
            continue;
        }
        char hex[99];
        pubkey_hex(hex, pkb);
        SIGIL_LOG_INFO("key imported", SIGIL_LOG_STR("pubkey", hex), SIGIL_LOG_STR("via", "keymanager"));
        json_array_append_new(data, km_status("imported", NULL));
    }
    pthread_mutex_unlock(&svc->keymanager_lock);
    json_t *o = json_pack("{s:o}", "data", data);
    sigil_http_respond_json(req, 200, o);
    json_decref(o);
    json_decref(doc);
    free(pks);
    free(have_pk);
}

static void km_delete(struct sigil_service *svc, struct sigil_http_req *req)
{
    size_t len = 0;
    const uint8_t *body = sigil_http_req_body(req, &len);
    json_t *doc = NULL, *pubkeys = NULL;
    sigil_result r = sigil_json_parse(&doc, (const char *)body, len, KEYMANAGER_MAX_BODY);
    if (sigil_is_ok(r)) {
        r = sigil_json_get_array(&pubkeys, doc, "pubkeys");
    }
    if (!sigil_is_ok(r)) {
        char msg[320];
        error_text(msg, sizeof msg, r);
        sigil_http_respond_error(req, http_status_for(r), msg);
        json_decref(doc);
        return;
    }
    size_t n = json_array_size(pubkeys);
    uint8_t(*export_keys)[48] = calloc(n ? n : 1, 48);
    size_t nexport = 0;
    json_t *data = json_array();
    struct sigil_key_info *keys = NULL;
    size_t nkeys = 0;
    pthread_mutex_lock(&svc->keymanager_lock);
    if (!sigil_is_ok(sigil_keystore_list(svc->ks, &keys, &nkeys))) {
        keys = NULL;
        nkeys = 0;
    }
    for (size_t i = 0; i < n; i++) {
        const char *hex = json_string_value(json_array_get(pubkeys, i));
        uint8_t pk[48];
        if (hex == NULL || !parse_pubkey(pk, hex, strlen(hex))) {
            json_array_append_new(data, km_status("error", "not a 48-byte BLS public key in hex"));
            continue;
        }
        if (sigil_keystore_has(svc->ks, pk)) {
            /* Disable first (every instance sharing the DB stops signing slashable messages with
             * it), then drop the key from memory and disk. */
            r = sigil_slashing_set_enabled(svc->db, pk, false);
            if (!sigil_is_ok(r)) {
                char msg[320];
                error_text(msg, sizeof msg, r);
                json_array_append_new(data, km_status("error", msg));
                continue;
            }
            for (size_t k = 0; k < nkeys; k++) {
                if (memcmp(keys[k].pubkey, pk, 48) == 0) {
                    unpersist_keystore(svc, keys[k].name);
                }
            }
            /* gcc's warn_unused_result ignores a (void) cast; the key was just found, so a
             * failure here only means a concurrent delete won the race */
            if (!sigil_is_ok(sigil_keystore_remove(svc->ks, pk))) {
                SIGIL_LOG_WARN("key already removed", SIGIL_LOG_STR("pubkey", hex));
            }
            memcpy(export_keys[nexport++], pk, 48);
            SIGIL_LOG_INFO("key deleted", SIGIL_LOG_STR("pubkey", hex), SIGIL_LOG_STR("via", "keymanager"));
            json_array_append_new(data, km_status("deleted", NULL));
            continue;
        }
        bool registered = false, enabled = false;
        r = sigil_slashing_is_registered(svc->db, pk, &registered, &enabled);
        if (sigil_is_ok(r) && registered) {
            if (!sigil_is_ok(sigil_slashing_set_enabled(svc->db, pk, false))) {
                SIGIL_LOG_WARN("cannot disable the key in the slashing database", SIGIL_LOG_STR("pubkey", hex));
            }
            memcpy(export_keys[nexport++], pk, 48);
            json_array_append_new(data, km_status("not_active", NULL));
        } else {
            json_array_append_new(data, km_status("not_found", NULL));
        }
    }
    pthread_mutex_unlock(&svc->keymanager_lock);
    free(keys);
    json_t *interchange = NULL;
    char *sp_text = NULL;
    if (nexport > 0 &&
        sigil_is_ok(sigil_slashing_export(svc->db, &interchange, false, (const uint8_t(*)[48])export_keys, nexport))) {
        sp_text = json_dumps(interchange, JSON_COMPACT);
    }
    json_decref(interchange);
    json_t *o =
        json_pack("{s:o, s:s}", "data", data, "slashing_protection",
                  sp_text ? sp_text
                          : "{\"metadata\":{\"interchange_format_version\":\"5\","
                            "\"genesis_validators_root\":\"0x0000000000000000000000000000000000000000000000000000"
                            "000000000000\"},\"data\":[]}");
    sigil_http_respond_json(req, 200, o);
    json_decref(o);
    free(sp_text);
    free(export_keys);
    json_decref(doc);
}

struct km_job {
    struct sigil_service *svc;
    struct sigil_http_req *req;
};

static void km_worker(void *arg)
{
    struct km_job *job = arg;
    const char *m = sigil_http_req_method(job->req);
    if (strcmp(m, "GET") == 0) {
        km_list(job->svc, job->req);
    } else if (strcmp(m, "POST") == 0) {
        km_import(job->svc, job->req);
    } else if (strcmp(m, "DELETE") == 0) {
        km_delete(job->svc, job->req);
    } else {
        sigil_http_respond_error(job->req, 405, "method not allowed");
    }
    free(job);
}

static void handle_keymanager(struct sigil_http_req *req, void *ctx)
{
    struct sigil_service *svc = ctx;
    if (!keymanager_auth(svc, req)) {
        return;
    }
    struct km_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        sigil_http_respond_error(req, 500, "out of memory");
        return;
    }
    job->svc = svc;
    job->req = req;
    /* keystore decryption (scrypt) is slow: never on the HTTP loop */
    sigil_pool_submit(svc->pool, km_worker, job);
}

/* ---------------------------------------------------------------- setup */

static sigil_result load_token(struct sigil_service *svc)
{
    const char *path = svc->cfg.keymanager_token_file;
    char *text = NULL;
    size_t len = 0;
    if (access(path, F_OK) != 0) {
        uint8_t raw[32];
        if (!sigil_random_bytes(raw, sizeof raw)) {
            return sigil_error(SIGIL_ERR_RNG);
        }
        sigil_hex_encode(svc->token, raw, sizeof raw, 0);
        sigil_wipe(raw, sizeof raw);
        SIGIL_GUARD(sigil_write_file(path, svc->token, 64, 0600, 1));
        SIGIL_LOG_INFO("keymanager API token created", SIGIL_LOG_STR("file", path));
        return sigil_ok();
    }
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "keymanager token file %s must not be readable by group or others", path);
    }
    SIGIL_GUARD(sigil_read_file_secure(&text, &len, path, 256));
    sigil_strip_newline(text, &len);
    if (len < 16 || len > 64) {
        sigil_secure_free(text);
        return sigil_errorf(SIGIL_ERR_CONFIG, "keymanager token in %s must be 16 to 64 characters", path);
    }
    memcpy(svc->token, text, len);
    svc->token[len] = '\0';
    sigil_secure_free(text);
    return sigil_ok();
}

/* Client allow-list file: one line per client and key, "<client-name> <pubkey>|<0x eth1 address>|*",
 * '#' comments. The name is the known-clients name (or certificate CN) the TLS layer reports for
 * the connection; "*" allows every key of both kinds. A file without entries allows no client
 * anything (only the absence of the file allows everything). */
static void free_acls(struct client_acl *acls, size_t nacls)
{
    for (size_t i = 0; i < nacls; i++) {
        free(acls[i].keys);
        free(acls[i].addrs);
    }
    free(acls);
}

/* Cuts the next blank-separated token out of *p (advancing it); NULL when none is left. */
static char *acl_token(char **p, size_t *len)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == '\r') {
        s++;
    }
    if (*s == '\0') {
        *p = s;
        return NULL;
    }
    char *e = s;
    while (*e != '\0' && *e != ' ' && *e != '\t' && *e != '\r') {
        e++;
    }
    *len = (size_t)(e - s);
    *p = *e != '\0' ? e + 1 : e;
    *e = '\0';
    return s;
}

/* Parses text[0..len) (modified in place; text[len] must be writable) into *acls / *nacls,
 * which the caller frees with free_acls also on error. */
static sigil_result parse_acls(struct client_acl **acls, size_t *nacls, char *text, size_t len, const char *src)
{
    *acls = NULL;
    *nacls = 0;
    if (len > SIGIL_CLIENT_KEYS_MAX) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "%s is over %u bytes", src, SIGIL_CLIENT_KEYS_MAX);
    }
    if (memchr(text, '\0', len) != NULL) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "%s contains a NUL byte", src);
    }
    text[len] = '\0';
    unsigned lineno = 0;
    char *next = text;
    while (*next != '\0') {
        char *line = next;
        char *nl = strchr(line, '\n');
        next = nl != NULL ? nl + 1 : line + strlen(line);
        if (nl != NULL) {
            *nl = '\0';
        }
        lineno++;
        char *hash = strchr(line, '#');
        if (hash != NULL) {
            *hash = '\0';
        }
        size_t name_len = 0;
        size_t key_len = 0;
        char *p = line;
        char *name = acl_token(&p, &name_len);
        if (name == NULL) {
            continue;
        }
        char *key = acl_token(&p, &key_len);
        size_t extra_len = 0;
        if (key == NULL || acl_token(&p, &extra_len) != NULL) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "%s line %u: expected '<client> <pubkey>|<address>|*'", src, lineno);
        }
        if (name_len >= ACL_NAME_LEN) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "%s line %u: client name over %d characters", src, lineno,
                                ACL_NAME_LEN - 1);
        }
        struct client_acl *a = NULL;
        for (size_t i = 0; i < *nacls && a == NULL; i++) {
            if (strcmp((*acls)[i].name, name) == 0) {
                a = &(*acls)[i];
            }
        }
        if (a == NULL) {
            if (*nacls >= SIGIL_CLIENT_KEYS_MAX_CLIENTS) {
                return sigil_errorf(SIGIL_ERR_CONFIG, "%s line %u: more than %u clients", src, lineno,
                                    SIGIL_CLIENT_KEYS_MAX_CLIENTS);
            }
            struct client_acl *na = realloc(*acls, (*nacls + 1) * sizeof *na);
            if (na == NULL) {
                return sigil_error(SIGIL_ERR_NOMEM);
            }
            *acls = na;
            a = &na[(*nacls)++];
            memset(a, 0, sizeof *a);
            memcpy(a->name, name, name_len + 1);
        }
        if (strcmp(key, "*") == 0) {
            a->all_keys = true;
            continue;
        }
        if (key_len == 42) { /* 0x + 20 bytes: an eth1 account */
            uint8_t(*na)[20] = realloc(a->addrs, (a->naddrs + 1) * 20);
            if (na == NULL) {
                return sigil_error(SIGIL_ERR_NOMEM);
            }
            a->addrs = na;
            if (!sigil_is_ok(sigil_hex_decode_exact(a->addrs[a->naddrs], 20, key, key_len))) {
                return sigil_errorf(SIGIL_ERR_CONFIG, "%s line %u: not an eth1 address", src, lineno);
            }
            a->naddrs++;
            continue;
        }
        uint8_t(*nk)[48] = realloc(a->keys, (a->nkeys + 1) * 48);
        if (nk == NULL) {
            return sigil_error(SIGIL_ERR_NOMEM);
        }
        a->keys = nk;
        if (!parse_pubkey(a->keys[a->nkeys], key, key_len)) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "%s line %u: not a BLS public key", src, lineno);
        }
        a->nkeys++;
    }
    return sigil_ok();
}

sigil_result sigil_client_keys_check(const char *text, size_t len, size_t *nclients)
{
    if (nclients != NULL) {
        *nclients = 0;
    }
    if (text == NULL && len != 0) {
        return sigil_error(SIGIL_ERR_ARG);
    }
    if (len > SIGIL_CLIENT_KEYS_MAX) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "client keys are over %u bytes", SIGIL_CLIENT_KEYS_MAX);
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    if (len > 0) {
        memcpy(copy, text, len);
    }
    struct client_acl *acls = NULL;
    size_t n = 0;
    sigil_result r = parse_acls(&acls, &n, copy, len, "client keys");
    free_acls(acls, n);
    free(copy);
    if (nclients != NULL) {
        *nclients = sigil_is_ok(r) ? n : 0;
    }
    return r;
}

static sigil_result load_acls(struct sigil_service *svc)
{
    char *text = NULL;
    size_t len = 0;
    SIGIL_GUARD(sigil_read_file(&text, &len, svc->cfg.client_keys_file, SIGIL_CLIENT_KEYS_MAX));
    /* sigil_read_file NUL-terminates the text, as parse_acls needs */
    sigil_result ret = parse_acls(&svc->acls, &svc->nacls, text, len, svc->cfg.client_keys_file);
    free(text);
    svc->acls_enabled = true;
    return ret;
}

static void register_metrics(struct sigil_service *svc)
{
    static const double buckets[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
    for (int t = 0; t <= SIGIL_ETH2_TYPE_COUNT; t++) {
        const char *tn = t < SIGIL_ETH2_TYPE_COUNT ? sigil_eth2_type_name((enum sigil_eth2_type)t) : "UNKNOWN";
        for (size_t s = 0; s < NSTATUS; s++) {
            char labels[128];
            snprintf(labels, sizeof labels, "type=\"%s\",status=\"%d\"", tn, statuses[s]);
            svc->requests[t][s] = sigil_metrics_counter(svc->metrics, "sigil_eth2_sign_requests_total",
                                                        "Eth2 signing requests by type and HTTP status", labels);
        }
        char labels[64];
        snprintf(labels, sizeof labels, "type=\"%s\"", tn);
        svc->latency[t] = sigil_metrics_histogram(svc->metrics, "sigil_eth2_sign_duration_seconds",
                                                  "Time from request to signature, successful requests", labels,
                                                  buckets, sizeof buckets / sizeof buckets[0]);
    }
    svc->slashing_refusals = sigil_metrics_counter(svc->metrics, "sigil_slashing_refusals_total",
                                                   "Signings refused by slashing protection or GVR pinning", NULL);
    svc->keys_loaded = sigil_metrics_gauge(svc->metrics, "sigil_keys_loaded", "Validator keys in memory", NULL);
    svc->db_commit_us = sigil_metrics_gauge(svc->metrics, "sigil_slashing_db_last_commit_microseconds",
                                            "Latency of the last slashing-protection commit", NULL);
    svc->db_avg_batch = sigil_metrics_gauge(svc->metrics, "sigil_slashing_db_group_commit_size",
                                            "Average records per slashing-protection commit", NULL);
    svc->ready_gauge = sigil_metrics_gauge(svc->metrics, "sigil_ready", "1 when keys are loaded and registered", NULL);
    svc->msg_cache_hits =
        sigil_metrics_counter(svc->metrics, "sigil_bls_message_cache_hits_total",
                              "Signatures whose message was already hashed to the curve for another key", NULL);
    svc->msg_cache_misses = sigil_metrics_counter(svc->metrics, "sigil_bls_message_cache_misses_total",
                                                  "Signatures that hashed their message to the curve", NULL);
}

static void *metrics_thread_main(void *arg)
{
    struct sigil_service *svc = arg;
    sigil_result r = sigil_http_server_run(svc->metrics_http);
    if (!sigil_is_ok(r)) {
        SIGIL_LOG_ERROR("metrics listener stopped", SIGIL_LOG_STR("error", sigil_strerror(r.code)));
    }
    return NULL;
}

sigil_result sigil_service_new(struct sigil_service **out, const struct sigil_service_config *cfg,
                               struct sigil_keystore *ks)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    struct sigil_service *svc = calloc(1, sizeof *svc);
    if (svc == NULL) { /* the wallet parts are ours to free even now */
        sigil_eth1_keyring_free(cfg->eth1);
        sigil_policy_free(cfg->policy);
        sigil_audit_free(cfg->audit);
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    svc->cfg = *cfg;
    svc->ks = ks;
    pthread_mutex_init(&svc->keymanager_lock, NULL);
    if (svc->cfg.max_body == 0) {
        svc->cfg.max_body = DEFAULT_MAX_BODY;
    }
    if (svc->cfg.max_batch == 0) {
        svc->cfg.max_batch = DEFAULT_MAX_BATCH;
    }
    svc->metrics = sigil_metrics_new();
    SIGIL_ENSURE_GOTO(svc->metrics != NULL, SIGIL_ERR_NOMEM);
    register_metrics(svc);
    if (cfg->client_keys_file != NULL) {
        SIGIL_GUARD_GOTO(load_acls(svc));
    }
    if (cfg->keymanager_token_file != NULL) {
        SIGIL_GUARD_GOTO(load_token(svc));
        svc->keymanager = true;
    }
    SIGIL_GUARD_GOTO(sigil_slashing_open(&svc->db, cfg->slashing_db_url));
    if (cfg->network.has_genesis_validators_root) {
        /* Pin the chain in the DB now: a DB that was used for another chain refuses to start. */
        SIGIL_GUARD_GOTO(sigil_slashing_check_gvr(svc->db, cfg->network.genesis_validators_root));
    }
    /* Workers block on the group commit of slashing records, so run more of them than cores:
     * while some wait for fsync, the others compute signatures. */
    unsigned workers = cfg->worker_threads;
    if (workers == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        workers = (unsigned)(ncpu > 0 ? ncpu : 1) * 16;
    }
    SIGIL_GUARD_GOTO(sigil_pool_new(&svc->pool, workers));
    if (cfg->worker_threads == 0 && sigil_slashing_async_native(svc->db)) {
        /* Single-signature workers never wait for a commit, so one per core is enough: more
         * would only time-slice BLS work against each other. */
        SIGIL_GUARD_GOTO(sigil_pool_new(&svc->sign_pool, 0));
    }

    struct sigil_http_config hc = {
        .listen = cfg->http_listen,
        .tls = cfg->tls.cert_file != NULL ? &svc->cfg.tls : NULL,
        .max_body = cfg->keymanager_token_file ? KEYMANAGER_MAX_BODY : svc->cfg.max_body,
        .timeout_s = 30,
        .max_connections = 4096,
        .metrics = svc->metrics,
    };
    if (cfg->tls_ctx != NULL) { /* enclave boot path: TLS key from memory */
        SIGIL_GUARD_GOTO(sigil_http_server_new_ctx(&svc->http, &hc, cfg->tls_ctx));
    } else {
        SIGIL_GUARD_GOTO(sigil_http_server_new(&svc->http, &hc));
    }
    SIGIL_GUARD_GOTO(sigil_http_route(svc->http, "POST", SIGN_PREFIX, true, handle_sign, svc));
    SIGIL_GUARD_GOTO(sigil_http_route(svc->http, "POST", "/api/v1/eth2/sign-batch", false, handle_batch, svc));
    SIGIL_GUARD_GOTO(sigil_http_route(svc->http, "GET", "/api/v1/eth2/publicKeys", false, handle_public_keys, svc));
    SIGIL_GUARD_GOTO(sigil_http_route(svc->http, "GET", "/upcheck", false, handle_upcheck, svc));
    SIGIL_GUARD_GOTO(sigil_http_route(svc->http, "GET", "/healthcheck", false, handle_healthcheck, svc));
    SIGIL_GUARD_GOTO(sigil_http_route(svc->http, "GET", "/metrics", false, handle_metrics, svc));
    if (svc->keymanager) {
        SIGIL_GUARD_GOTO(sigil_http_route(svc->http, NULL, "/eth/v1/keystores", false, handle_keymanager, svc));
    }
    struct sigil_eth1_api_config ec = {
        .keys = cfg->eth1,
        .policy = cfg->policy,
        .policy_from_file = cfg->policy != NULL,
        .audit = cfg->audit,
        .db = svc->db,
        .pool = svc->pool,
        .metrics = svc->metrics,
        .may_use = client_may_use_eth1,
        .may_use_ctx = svc,
        .max_body = svc->cfg.max_body,
    };
    SIGIL_GUARD_GOTO(sigil_eth1_api_new(&svc->eth1api, &ec));
    SIGIL_GUARD_GOTO(sigil_eth1_api_register(svc->eth1api, svc->http));
    if (cfg->metrics_listen != NULL) {
        struct sigil_http_config mc = {
            .listen = cfg->metrics_listen, .max_body = 4096, .timeout_s = 10, .max_connections = 64};
        SIGIL_GUARD_GOTO(sigil_http_server_new(&svc->metrics_http, &mc));
        SIGIL_GUARD_GOTO(sigil_http_route(svc->metrics_http, "GET", "/metrics", false, handle_metrics, svc));
    }
    *out = svc;
    svc = NULL;
    ret = sigil_ok();
out:
    if (svc != NULL) {
        sigil_result keep = ret;
        svc->ks = NULL; /* the caller keeps ownership on failure */
        sigil_service_free(svc);
        ret = keep;
    }
    return ret;
}

sigil_result sigil_service_keys_loaded(struct sigil_service *svc)
{
    struct sigil_key_info *keys = NULL;
    size_t n = 0;
    SIGIL_GUARD(sigil_keystore_list(svc->ks, &keys, &n));
    uint8_t(*pks)[48] = calloc(n ? n : 1, 48);
    if (pks == NULL) {
        free(keys);
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(pks[i], keys[i].pubkey, 48);
    }
    free(keys);
    sigil_result r = n > 0 ? sigil_slashing_register(svc->db, (const uint8_t(*)[48])pks, n) : sigil_ok();
    free(pks);
    SIGIL_GUARD(r);
    sigil_gauge_set(svc->keys_loaded, (double)n);
    atomic_store(&svc->ready, true);
    SIGIL_LOG_INFO("ready", SIGIL_LOG_UINT("keys", n));
    return sigil_ok();
}

sigil_result sigil_service_run(struct sigil_service *svc)
{
    if (svc->metrics_http != NULL) {
        if (pthread_create(&svc->metrics_thread, NULL, metrics_thread_main, svc) != 0) {
            return sigil_errorf(SIGIL_ERR_INTERNAL, "cannot start the metrics listener thread");
        }
        svc->metrics_thread_started = true;
    }
    return sigil_http_server_run(svc->http);
}

void sigil_service_stop(struct sigil_service *svc)
{
    if (svc->http != NULL) {
        sigil_http_server_stop(svc->http);
    }
    if (svc->metrics_http != NULL) {
        sigil_http_server_stop(svc->metrics_http);
    }
}

uint16_t sigil_service_port(const struct sigil_service *svc) { return sigil_http_server_port(svc->http); }

void sigil_service_free(struct sigil_service *svc)
{
    if (svc == NULL) {
        return;
    }
    if (svc->metrics_thread_started) {
        sigil_http_server_stop(svc->metrics_http);
        pthread_join(svc->metrics_thread, NULL);
    }
    /* Drain workers before the things they use go away. */
    if (svc->sign_pool != NULL) {
        sigil_pool_free(svc->sign_pool);
    }
    if (svc->pool != NULL) {
        sigil_pool_free(svc->pool);
    }
    /* Closing the database completes the records still queued, and with them their replies: they
     * must reach the HTTP server before it is freed. */
    if (svc->db != NULL) {
        sigil_slashing_close(svc->db);
    }
    /* The wallet parts, once no worker can reach them: the audit log ends with a checkpoint. */
    sigil_eth1_api_free(svc->eth1api);
    sigil_audit_free(svc->cfg.audit);
    sigil_eth1_keyring_free(svc->cfg.eth1);
    sigil_policy_free(svc->cfg.policy);
    sigil_http_server_free(svc->http);
    sigil_http_server_free(svc->metrics_http);
    if (svc->ks != NULL) {
        sigil_keystore_free(svc->ks);
    }
    sigil_metrics_free(svc->metrics);
    free_acls(svc->acls, svc->nacls);
    sigil_wipe(svc->token, sizeof svc->token);
    pthread_mutex_destroy(&svc->keymanager_lock);
    free(svc);
}

struct sigil_slashing_db *sigil_service_db(struct sigil_service *svc) { return svc->db; }
