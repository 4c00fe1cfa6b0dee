/* Status API on the shared HTTP server (net/http.h). /keygen blocks on the supervisor, so it runs
 * on a short-lived thread and answers from there (sigil_http_respond is thread-safe). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "host/status.h"
#include "net/http.h"

#define KEYGEN_MAX_BODY 4096

struct sigil_status_api {
    struct sigil_http_server *srv;
    struct sigil_supervisor *sup;
    struct sigil_proxy *inbound;
    pthread_t th;
    bool started;
    pthread_mutex_t mu;
    unsigned keygen_running;
};

static void on_status(struct sigil_http_req *req, void *ctx)
{
    struct sigil_status_api *a = ctx;
    json_t *j = sigil_supervisor_status(a->sup);
    if (j != NULL && a->inbound != NULL) {
        struct sigil_proxy_stats st;
        sigil_proxy_stats(a->inbound, &st);
        json_object_set_new(j, "proxy",
                            json_pack("{s:I,s:I,s:I,s:I,s:I}", "active", (json_int_t)st.active, "accepted",
                                      (json_int_t)st.accepted, "refused_limit", (json_int_t)st.refused_limit,
                                      "target_failed", (json_int_t)st.target_failed, "idle_closed",
                                      (json_int_t)st.idle_closed));
    }
    if (j == NULL) {
        sigil_http_respond_error(req, 500, "out of memory");
        return;
    }
    sigil_http_respond_json(req, 200, j);
    json_decref(j);
}

struct kg_job {
    struct sigil_status_api *a;
    struct sigil_http_req *req;
    json_t *body;
};

static void *kg_thread(void *arg)
{
    struct kg_job *job = arg;
    json_t *resp = NULL;
    sigil_result r = sigil_supervisor_keygen(job->a->sup, job->body, &resp, 300);
    if (sigil_is_ok(r) && resp != NULL) {
        sigil_http_respond_json(job->req, 200, resp);
    } else {
        const char *d = sigil_error_detail();
        sigil_http_respond_error(job->req, r.code == SIGIL_ERR_NOT_READY ? 503 : 400, *d ? d : sigil_strerror(r.code));
    }
    json_decref(resp);
    json_decref(job->body);
    pthread_mutex_lock(&job->a->mu);
    job->a->keygen_running--;
    pthread_mutex_unlock(&job->a->mu);
    free(job);
    return NULL;
}

static void on_keygen(struct sigil_http_req *req, void *ctx)
{
    struct sigil_status_api *a = ctx;
    size_t len = 0;
    const uint8_t *body = sigil_http_req_body(req, &len);
    json_t *j = NULL;
    uint64_t count = 0;
    const char *net = NULL, *wa = NULL;
    uint8_t addr[20];
    bool parsed = sigil_is_ok(sigil_json_parse(&j, (const char *)body, len, KEYGEN_MAX_BODY)) && json_is_object(j);
    const json_t *chain = parsed ? json_object_get(j, "chain") : NULL;
    bool eth1 = json_is_string(chain) && strcmp(json_string_value(chain), "eth1") == 0;
    if (!parsed ||
        (chain != NULL && !eth1 && !(json_is_string(chain) && strcmp(json_string_value(chain), "eth2") == 0))) {
        json_decref(j);
        sigil_http_respond_error(req, 400, "expected a JSON object with \"chain\": \"eth2\" (default) or \"eth1\"");
        return;
    }
    if (eth1 && (!sigil_is_ok(sigil_json_get_u64(&count, j, "count")) || count == 0 || count > 100)) {
        json_decref(j);
        sigil_http_respond_error(req, 400, "expected {\"chain\":\"eth1\",\"count\":1..100}");
        return;
    }
    if (!eth1 && (!sigil_is_ok(sigil_json_get_u64(&count, j, "count")) || count == 0 || count > 1000 ||
                  !sigil_is_ok(sigil_json_get_string(&net, j, "network")) || strlen(net) > 64 ||
                  !sigil_is_ok(sigil_json_get_string(&wa, j, "withdrawal_address")) ||
                  !sigil_is_ok(sigil_json_get_hex(addr, sizeof addr, j, "withdrawal_address")))) {
        json_decref(j);
        sigil_http_respond_error(req, 400, "expected {\"count\":1..1000,\"network\":NAME,\"withdrawal_address\":0x..}");
        return;
    }
    pthread_mutex_lock(&a->mu);
    bool busy = a->keygen_running > 0;
    if (!busy) {
        a->keygen_running++;
    }
    pthread_mutex_unlock(&a->mu);
    if (busy) {
        json_decref(j);
        sigil_http_respond_error(req, 429, "a key generation is already running");
        return;
    }
    struct kg_job *job = malloc(sizeof *job);
    pthread_t th;
    if (job != NULL) {
        *job = (struct kg_job){a, req, j};
    }
    if (job == NULL || pthread_create(&th, NULL, kg_thread, job) != 0) {
        free(job);
        json_decref(j);
        pthread_mutex_lock(&a->mu);
        a->keygen_running--;
        pthread_mutex_unlock(&a->mu);
        sigil_http_respond_error(req, 500, "cannot start the key generation");
        return;
    }
    (void)pthread_detach(th);
}

SIGIL_RESULT sigil_status_api_new(struct sigil_status_api **out, const char *listen, struct sigil_supervisor *sup,
                                  struct sigil_proxy *inbound)
{
    *out = NULL;
    struct sigil_status_api *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    a->sup = sup;
    a->inbound = inbound;
    (void)pthread_mutex_init(&a->mu, NULL);
    struct sigil_http_config hc = {
        .listen = listen, .max_body = KEYGEN_MAX_BODY, .timeout_s = 10, .max_connections = 64};
    sigil_result r = sigil_http_server_new(&a->srv, &hc);
    if (sigil_is_ok(r)) {
        r = sigil_http_route(a->srv, "GET", "/status", false, on_status, a);
    }
    if (sigil_is_ok(r)) {
        r = sigil_http_route(a->srv, "POST", "/keygen", false, on_keygen, a);
    }
    if (!sigil_is_ok(r)) {
        sigil_status_api_free(a);
        return r;
    }
    *out = a;
    return sigil_ok();
}

static void *run_thread(void *arg)
{
    struct sigil_status_api *a = arg;
    sigil_result r = sigil_http_server_run(a->srv);
    (void)r;
    return NULL;
}

SIGIL_RESULT sigil_status_api_start(struct sigil_status_api *a)
{
    if (pthread_create(&a->th, NULL, run_thread, a) != 0) {
        return sigil_errorf(SIGIL_ERR_INTERNAL, "cannot start the status API thread");
    }
    a->started = true;
    return sigil_ok();
}

void sigil_status_api_free(struct sigil_status_api *a)
{
    if (a == NULL) {
        return;
    }
    if (a->srv != NULL) {
        sigil_http_server_stop(a->srv);
    }
    if (a->started) {
        (void)pthread_join(a->th, NULL);
    }
    sigil_http_server_free(a->srv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
