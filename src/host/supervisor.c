/* Supervisor (see supervisor.h). One thread owns the control channel; the status API and keygen
 * requests meet it under one mutex. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "channel/channel.h"
#include "common/hex.h"
#include "common/io.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secmem.h"
#include "host/supervisor.h"
#include "slashing/slashing.h"

/* sigild's in-sandbox forwarder port for PostgreSQL (docs/enclave.md) */
#define SIGIL_ENCLAVE_PG_PORT 5432u
#include "store/creds.h"
#include "store/store.h"

#define PEM_MAX     (256u * 1024u)
#define PAGE        SIGIL_STORE_PAGE_MAX
#define BACKOFF_MAX 60

struct sigil_supervisor {
    struct sigil_host_config cfg;
    const struct sigil_launcher_ops *ops;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* status (under mu) */
    uint64_t keys_loaded, keys_expected, restarts;
    struct timespec t0;
    double ready_since;
    char state[32];
    char pcr0[97];
    char last_error[1024];
    char http_target[160];
    /* what sigild reports about its wallet (under mu) */
    uint64_t eth1_keys;
    uint64_t audit_next_seq;
    uint64_t audit_lines; /* lines stored by this host since it started */
    char policy_hash[67];
    char policy_state[16];
    char wallet[16];
    char audit_signer[43];
    /* keygen hand-off (under mu) */
    const json_t *kg_req;
    json_t *kg_resp;
    sigil_result kg_res;
    char kg_err[256];
    /* control channel (supervisor thread only) */
    struct sigil_enclave enc;
    int64_t next_id;
    int wake_fd; /* eventfd: a keygen request or stop while the supervisor polls the channel */
    /* the audit log file (supervisor thread only, except audit_path) */
    struct sigil_audit_sink audit;
    uint64_t audit_seq0; /* the file's next seq when this life of sigild started */
    uint8_t audit_prev[32];
    char audit_path[4096];
    /* sigild's last ERROR text in full (the thread's error detail holds only 256 bytes, which cut
     * off the part of a KMS refusal that names the failed condition) */
    char peer_error[768];
    bool started;
    bool stop;                /* under mu */
    bool kg_pending, kg_done; /* under mu */
    bool audit_open;
};

static double mono_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_state(struct sigil_supervisor *s, const char *state, const char *err)
{
    pthread_mutex_lock(&s->mu);
    (void)snprintf(s->state, sizeof s->state, "%s", state);
    if (err != NULL) {
        (void)snprintf(s->last_error, sizeof s->last_error, "%s", err);
    }
    pthread_mutex_unlock(&s->mu);
    if (err != NULL) {
        SIGIL_LOG_WARN("sigild", SIGIL_LOG_STR("state", state), SIGIL_LOG_STR("error", err));
    } else {
        SIGIL_LOG_INFO("sigild", SIGIL_LOG_STR("state", state));
    }
}

SIGIL_RESULT sigil_supervisor_new(struct sigil_supervisor **out, const struct sigil_host_config *cfg)
{
    *out = NULL;
    const struct sigil_launcher_ops *ops = sigil_launcher_find(cfg->launcher);
    if (ops == NULL) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "--launcher must be local or nitro");
    }
    if (cfg->store_url == NULL || cfg->kms_url == NULL || cfg->network == NULL || cfg->launch.run_dir == NULL) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "--store, --kms, --network and --run-dir are required");
    }
    struct sigil_supervisor *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    s->cfg = *cfg;
    s->ops = ops;
    s->enc.control_fd = -1;
    s->enc.pid = -1;
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wake_fd < 0) {
        free(s);
        return sigil_errorf(SIGIL_ERR_IO, "eventfd: %s", strerror(errno));
    }
    int pn = cfg->audit_log != NULL
                 ? snprintf(s->audit_path, sizeof s->audit_path, "%s", cfg->audit_log)
                 : snprintf(s->audit_path, sizeof s->audit_path, "%s/audit.jsonl",
                            cfg->launch.data_dir != NULL ? cfg->launch.data_dir : cfg->launch.run_dir);
    if (pn <= 0 || (size_t)pn >= sizeof s->audit_path) {
        (void)close(s->wake_fd);
        free(s);
        return sigil_errorf(SIGIL_ERR_CONFIG, "the audit log path is too long");
    }
    (void)pthread_mutex_init(&s->mu, NULL);
    (void)pthread_cond_init(&s->cv, NULL);
    (void)snprintf(s->state, sizeof s->state, "STARTING");
    (void)clock_gettime(CLOCK_MONOTONIC, &s->t0);
    if (strcmp(ops->name, "local") == 0) {
        (void)snprintf(s->http_target, sizeof s->http_target, "unix:%s/sigild.sock", cfg->launch.run_dir);
        if (cfg->launch.sigild_path != NULL) {
            sigil_result hr = sigil_file_sha384_hex(s->pcr0, cfg->launch.sigild_path); /* "" when unreadable */
            (void)hr;
        }
    } else {
        (void)snprintf(s->http_target, sizeof s->http_target, "vsock:%u:%u", cfg->launch.cid, SIGIL_NITRO_HTTP_PORT);
    }
    *out = s;
    return sigil_ok();
}

const char *sigil_supervisor_http_target(struct sigil_supervisor *s) { return s->http_target; }

json_t *sigil_supervisor_status(struct sigil_supervisor *s)
{
    pthread_mutex_lock(&s->mu);
    double up = s->ready_since > 0 ? mono_s() - s->ready_since : 0.0;
    json_t *j =
        json_pack("{s:s,s:s?,s:I,s:I,s:I,s:f,s:s?,s:s,s:s}", "state", s->state, "pcr0", s->pcr0[0] ? s->pcr0 : NULL,
                  "keys_loaded", (json_int_t)s->keys_loaded, "keys_expected", (json_int_t)s->keys_expected, "restarts",
                  (json_int_t)s->restarts, "uptime_s", up, "last_error", s->last_error[0] ? s->last_error : NULL,
                  "launcher", s->ops->name, "http_target", s->http_target);
    if (j != NULL) {
        json_object_set_new(j, "policy_hash", s->policy_hash[0] ? json_string(s->policy_hash) : json_null());
        json_object_set_new(j, "policy", s->policy_state[0] ? json_string(s->policy_state) : json_null());
        json_object_set_new(j, "eth1_keys", json_integer((json_int_t)s->eth1_keys));
        json_object_set_new(j, "wallet", s->wallet[0] ? json_string(s->wallet) : json_null());
        json_object_set_new(j, "audit",
                            json_pack("{s:s, s:I, s:s?, s:I}", "log", s->audit_path, "lines_stored",
                                      (json_int_t)s->audit_lines, "signer", s->audit_signer[0] ? s->audit_signer : NULL,
                                      "next_seq", (json_int_t)s->audit_next_seq));
    }
    pthread_mutex_unlock(&s->mu);
    return j;
}

/* ---------------- control channel ---------------- */

static SIGIL_RESULT send_msg(struct sigil_supervisor *s, uint8_t type, json_t *obj, int64_t *id)
{
    *id = ++s->next_id;
    if (json_object_set_new(obj, "id", json_integer(*id)) != 0) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    return sigil_frame_write_json(s->enc.control_fd, type, obj, 10000);
}

/* ---------------- sigild's own messages: LOG and AUDIT ---------------- */

/* Reads one frame from sigild as a JSON object. */
static SIGIL_RESULT read_json_frame(struct sigil_supervisor *s, uint8_t *type, json_t **out, int timeout_ms)
{
    *out = NULL;
    uint8_t *payload = NULL;
    size_t len = 0;
    bool secure = false;
    SIGIL_GUARD(sigil_frame_read(s->enc.control_fd, type, &payload, &len, &secure, NULL, NULL, timeout_ms));
    json_t *j = NULL;
    sigil_result r = sigil_json_parse(&j, (const char *)payload, len, SIGIL_FRAME_MAX);
    if (secure) {
        sigil_secure_free(payload);
    } else {
        free(payload);
    }
    if (!sigil_is_ok(r) || !json_is_object(j)) {
        json_decref(j);
        return sigil_errorf(SIGIL_ERR_PARSE, "sigild sent a %s frame that is not a JSON object",
                            sigil_msg_type_name(*type));
    }
    *out = j;
    return sigil_ok();
}

static SIGIL_RESULT answer_error(struct sigil_supervisor *s, json_int_t id, const char *code, const char *msg)
{
    json_t *o = json_pack("{s:I, s:s, s:s}", "id", id, "code", code, "message", msg);
    sigil_result r =
        o != NULL ? sigil_frame_write_json(s->enc.control_fd, SIGIL_MSG_ERROR, o, 10000) : sigil_error(SIGIL_ERR_NOMEM);
    json_decref(o);
    return r;
}

/* AUDIT {"id","lines"}: append, fdatasync (the sink), answer AUDIT_OK; ERROR when the lines are
 * malformed or cannot be stored (the file stays closed until sigild's next start). A malformed
 * frame (no id) is a broken enclave. */
static SIGIL_RESULT on_audit(struct sigil_supervisor *s, const json_t *j)
{
    const json_t *jid = json_object_get(j, "id"), *jl = json_object_get(j, "lines");
    if (!json_is_integer(jid) || json_integer_value(jid) < 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "sigild sent an AUDIT without an integer id");
    }
    json_int_t id = json_integer_value(jid);
    if (!json_is_string(jl)) {
        return answer_error(s, id, "bad_request", "AUDIT needs \"lines\": a string");
    }
    uint64_t nlines = 0;
    /* The host cannot judge the chain, but it must not let garbage into the file it reads back at
     * the next start. */
    const char *why = sigil_audit_lines_problem(json_string_value(jl), json_string_length(jl), &nlines);
    if (why != NULL) {
        SIGIL_LOG_WARN("audit records refused", SIGIL_LOG_STR("reason", why));
        return answer_error(s, id, "bad_request", why);
    }
    if (!s->audit_open) {
        return answer_error(s, id, "audit_io", "the host's audit log is not open");
    }
    sigil_result r = s->audit.write(s->audit.ctx, json_string_value(jl), json_string_length(jl));
    if (!sigil_is_ok(r)) {
        char msg[512];
        (void)snprintf(msg, sizeof msg, "storing audit records in %.200s failed: %.200s", s->audit_path,
                       *sigil_error_detail() ? sigil_error_detail() : sigil_strerror(r.code));
        if (s->audit.close != NULL) {
            s->audit.close(s->audit.ctx);
        }
        s->audit_open = false;
        set_state(s, "READY", msg); /* keeps the state, records the error */
        return answer_error(s, id, "audit_io", msg);
    }
    pthread_mutex_lock(&s->mu);
    s->audit_lines += nlines;
    pthread_mutex_unlock(&s->mu);
    json_t *ok = json_pack("{s:I}", "id", id);
    r = ok != NULL ? sigil_frame_write_json(s->enc.control_fd, SIGIL_MSG_AUDIT_OK, ok, 10000)
                   : sigil_error(SIGIL_ERR_NOMEM);
    json_decref(ok);
    return r;
}

/* LOG and AUDIT, whenever they come. *handled is false for any other type (left to the caller). */
static SIGIL_RESULT serve_unprompted(struct sigil_supervisor *s, uint8_t type, const json_t *j, bool *handled)
{
    *handled = true;
    if (type == SIGIL_MSG_LOG) {
        char *line = json_dumps(j, JSON_COMPACT);
        if (line != NULL) {
            (void)fprintf(stderr, "%s\n", line);
            free(line);
        }
        return sigil_ok();
    }
    if (type == SIGIL_MSG_AUDIT) {
        return on_audit(s, j);
    }
    *handled = false;
    return sigil_ok();
}

/* (Re)opens the audit log for a new life of sigild: its tail (next seq, hash of the last line) is
 * where sigild's chain continues; a torn last line is cut off by the audit module. */
static SIGIL_RESULT audit_reopen(struct sigil_supervisor *s)
{
    if (s->audit_open && s->audit.close != NULL) {
        s->audit.close(s->audit.ctx);
    }
    s->audit_open = false;
    memset(&s->audit, 0, sizeof s->audit);
    SIGIL_GUARD(sigil_audit_file_sink(&s->audit, s->audit_path, &s->audit_seq0, s->audit_prev));
    s->audit_open = true;
    return sigil_ok();
}

/* Reads frames until the answer to id: LOG and AUDIT frames are served, an ERROR becomes
 * SIGIL_ERR_NOT_READY with sigild's message as detail, anything else closes the channel. */
static SIGIL_RESULT expect(struct sigil_supervisor *s, uint8_t want, int64_t id, json_t **out, int timeout_ms)
{
    *out = NULL;
    s->peer_error[0] = '\0';
    /* One deadline for the answer: LOG and AUDIT frames served meanwhile do not extend it, or a
     * sigild whose control dispatcher hangs while its workers still audit would never time out. */
    double deadline = mono_s() + timeout_ms / 1000.0;
    for (;;) {
        uint8_t type = 0;
        json_t *j = NULL;
        double left_ms = (deadline - mono_s()) * 1000.0;
        if (left_ms < 1) {
            return sigil_errorf(SIGIL_ERR_IO, "channel: timed out: sigild did not answer %s within %d ms",
                                sigil_msg_type_name(want), timeout_ms);
        }
        SIGIL_GUARD(read_json_frame(s, &type, &j, (int)left_ms));
        bool handled = false;
        sigil_result ur = serve_unprompted(s, type, j, &handled);
        if (handled) {
            json_decref(j);
            SIGIL_GUARD(ur);
            continue;
        }
        json_t *jid = json_object_get(j, "id");
        if (!json_is_integer(jid) || json_integer_value(jid) != id || (type != want && type != SIGIL_MSG_ERROR)) {
            json_decref(j);
            return sigil_errorf(SIGIL_ERR_PARSE, "sigild answered %s (id mismatch or unexpected type) where %s was due",
                                sigil_msg_type_name(type), sigil_msg_type_name(want));
        }
        if (type == SIGIL_MSG_ERROR) {
            const char *m = json_string_value(json_object_get(j, "message"));
            const char *c = json_string_value(json_object_get(j, "code"));
            (void)snprintf(s->peer_error, sizeof s->peer_error, "%s%s%s", c != NULL ? c : "error",
                           m != NULL ? ": " : "", m != NULL ? m : "");
            sigil_result r = sigil_errorf(SIGIL_ERR_NOT_READY, "%s", s->peer_error);
            json_decref(j);
            return r;
        }
        *out = j;
        return sigil_ok();
    }
}

static SIGIL_RESULT request(struct sigil_supervisor *s, uint8_t type, json_t *obj, json_t **ans, int timeout_ms)
{
    int64_t id = 0;
    sigil_result r = send_msg(s, type, obj, &id);
    json_decref(obj);
    SIGIL_GUARD(r);
    return expect(s, (uint8_t)(type + 1), id, ans, timeout_ms);
}

/* ---------------- INIT ---------------- */

/* secret: a private key, read into secure memory (the JSON copy is secure too: build_init runs in
 * secret-JSON mode). */
static SIGIL_RESULT read_text(json_t *obj, const char *key, const char *path, bool secret)
{
    if (path == NULL) {
        return json_object_set_new(obj, key, json_null()) == 0 ? sigil_ok() : sigil_error(SIGIL_ERR_NOMEM);
    }
    char *t = NULL;
    size_t n = 0;
    SIGIL_GUARD(secret ? sigil_read_file_secure(&t, &n, path, PEM_MAX) : sigil_read_file(&t, &n, path, PEM_MAX));
    int rc = json_object_set_new(obj, key, json_stringn(t, n));
    if (secret) {
        sigil_secure_free(t);
    } else {
        free(t);
    }
    return rc == 0 ? sigil_ok() : sigil_errorf(SIGIL_ERR_PARSE, "%s is not UTF-8 text", path);
}

static json_t *b64(const uint8_t *p, size_t n)
{
    char *o = malloc(4 * ((n + 2) / 3) + 1);
    if (o == NULL) {
        return NULL;
    }
    size_t l = sigil_base64_encode(o, p, n);
    json_t *j = json_stringn(o, l);
    free(o);
    return j;
}

static sigil_result on_dk(void *ctx, const struct sigil_store_data_key *k)
{
    json_t **st = ctx;
    json_t *a = st[0];
    if (json_array_append_new(a, json_pack("{s:s,s:o}", "id", k->id, "ciphertext_blob", b64(k->blob, k->blob_len))) !=
        0) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    if (st[1] == NULL) {
        st[1] = json_string(k->kms_key_id);
    }
    return sigil_ok();
}

static sigil_result on_tls(void *ctx, const struct sigil_store_tls_key *k)
{
    json_t *tls = ctx;
    if (json_object_set_new(tls, "cert_pem", json_string(k->cert_pem)) != 0 ||
        json_object_set_new(tls, "data_key", json_string(k->data_key_id)) != 0 ||
        json_object_set_new(tls, "key_ciphertext", b64(k->key_ciphertext, k->key_ciphertext_len)) != 0) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    return sigil_ok();
}

static unsigned url_port(const char *url)
{
    const char *h = strstr(url, "://");
    h = h != NULL ? h + 3 : url;
    const char *slash = strchr(h, '/');
    const char *colon = strrchr(h, ':');
    if (colon != NULL && (slash == NULL || colon < slash)) {
        return (unsigned)strtoul(colon + 1, NULL, 10);
    }
    return strncmp(url, "http://", 7) == 0 ? 80 : 443;
}

static sigil_result on_policy(void *ctx, const struct sigil_store_policy *p)
{
    json_t *svc = ctx;
    json_t *t = json_stringn(p->rules, p->rules_len);
    if (t == NULL) {
        return sigil_errorf(SIGIL_ERR_PARSE, "the stored policy is not UTF-8 text");
    }
    return json_object_set_new(svc, "policy", t) == 0 ? sigil_ok() : sigil_error(SIGIL_ERR_NOMEM);
}

/* service.policy: the active rules file from the store, or null (sigild's built-in default). */
static SIGIL_RESULT add_policy(struct sigil_supervisor *s, struct sigil_store *st, json_t *svc)
{
    (void)s;
    sigil_result r = sigil_store_active_policy(st, on_policy, svc);
    if (r.code == SIGIL_ERR_NOT_FOUND) {
        return json_object_set_new(svc, "policy", json_null()) == 0 ? sigil_ok() : sigil_error(SIGIL_ERR_NOMEM);
    }
    return r;
}

static SIGIL_RESULT build_init(struct sigil_supervisor *s, struct sigil_store *st, json_t **out)
{
    const struct sigil_host_config *c = &s->cfg;
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    struct sigil_aws_creds cr = {0};
    json_t *init = json_object(), *kms = json_object(), *att = json_object(), *tls = json_object(),
           *svc = json_object(), *dks = json_array();
    json_t *dk_state[2] = {dks, NULL};
    /* the slashing DB URL may carry a PostgreSQL password: built in secure memory */
    enum { DBU_CAP = 8192 };
    char *dbu = sigil_secure_alloc(DBU_CAP);
    SIGIL_ENSURE_GOTO(init && kms && att && tls && svc && dks && dbu, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(sigil_store_list_data_keys(st, on_dk, dk_state));
    if (json_array_size(dks) == 0) {
        ret =
            sigil_errorf(SIGIL_ERR_NOT_FOUND, "the store has no data keys: run `sigil keys import` / `sigil tls new`");
        goto out;
    }
    SIGIL_GUARD_GOTO(sigil_store_active_tls_key(st, on_tls, tls));
    SIGIL_GUARD_GOTO(sigil_aws_creds_load(&cr, c->kms_credentials));
    unsigned fwd = c->kms_forward_port != 0 ? c->kms_forward_port : url_port(c->kms_url);
    const char *key_id = c->kms_key_id != NULL ? c->kms_key_id : json_string_value(dk_state[1]);
    json_object_set_new(kms, "endpoint", json_string(c->kms_url));
    json_object_set_new(kms, "region", json_string(c->kms_region != NULL ? c->kms_region : "us-east-1"));
    json_object_set_new(kms, "key_id", json_string(key_id != NULL ? key_id : ""));
    SIGIL_GUARD_GOTO(read_text(kms, "ca_pem", c->kms_ca, false));
    json_object_set_new(kms, "access_key_id", json_string(cr.access_key_id));
    json_object_set_new(kms, "secret_access_key", json_stringn(cr.secret, cr.secret_len));
    json_object_set_new(kms, "session_token", cr.session_token != NULL ? json_string(cr.session_token) : json_null());
    char via[300];
    if (strcmp(s->ops->name, "local") == 0) {
        (void)snprintf(via, sizeof via, "unix:%s/outbound-kms.sock", c->launch.run_dir);
    } else {
        (void)snprintf(via, sizeof via, "vsock:3:%u", SIGIL_NITRO_OUT_PORT);
    }
    json_object_set_new(kms, "forward", json_pack("{s:I,s:s}", "port", (json_int_t)fwd, "via", via));
    if (c->sim_attestation_dir != NULL) {
        char p[3][4096];
        (void)snprintf(p[0], sizeof p[0], "%s/enclave-leaf.pem", c->sim_attestation_dir);
        (void)snprintf(p[1], sizeof p[1], "%s/enclave-leaf.key", c->sim_attestation_dir);
        (void)snprintf(p[2], sizeof p[2], "%s/enclave-chain.pem", c->sim_attestation_dir);
        json_object_set_new(att, "mode", json_string("simulated"));
        SIGIL_GUARD_GOTO(read_text(att, "sim_leaf_cert_pem", p[0], false));
        SIGIL_GUARD_GOTO(read_text(att, "sim_leaf_key_pem", p[1], true));
        SIGIL_GUARD_GOTO(read_text(att, "sim_chain_pem", p[2], false));
    } else {
        json_object_set_new(att, "mode", json_string("nsm"));
    }
    SIGIL_GUARD_GOTO(read_text(tls, "client_ca_pem", c->client_ca, false));
    SIGIL_GUARD_GOTO(read_text(tls, "known_clients", c->known_clients, false));
    if (c->slashing_db_url != NULL && c->slashing_db_password_file != NULL) {
        char *u = NULL;
        SIGIL_GUARD_GOTO(sigil_slashing_url_with_password_file(&u, c->slashing_db_url, c->slashing_db_password_file));
        bool fits = strlen(u) < DBU_CAP;
        if (fits) {
            memcpy(dbu, u, strlen(u) + 1);
        }
        sigil_secure_free(u);
        SIGIL_ENSURE_GOTO(fits, SIGIL_ERR_TOO_LARGE);
    } else if (c->slashing_db_url != NULL) {
        (void)snprintf(dbu, DBU_CAP, "%s", c->slashing_db_url);
    } else {
        (void)snprintf(dbu, DBU_CAP, "sqlite:%s/slashing.db",
                       c->launch.data_dir != NULL ? c->launch.data_dir : c->launch.run_dir);
    }
    char listen[200];
    if (c->http_listen != NULL) {
        (void)snprintf(listen, sizeof listen, "%s", c->http_listen);
    } else if (strcmp(s->ops->name, "local") == 0) {
        (void)snprintf(listen, sizeof listen, "unix:%s/sigild.sock", c->launch.run_dir);
    } else {
        (void)snprintf(listen, sizeof listen, "vsock:%u", SIGIL_NITRO_HTTP_PORT);
    }
    json_object_set_new(svc, "network", json_string(c->network));
    json_object_set_new(svc, "http_listen", json_string(listen));
    if (c->message_cache_set) {
        json_object_set_new(svc, "message_cache_entries", json_integer((json_int_t)c->message_cache_entries));
    }
    if (strncmp(dbu, "postgres", 8) == 0) {
        /* sigild reaches PostgreSQL through its in-sandbox forwarder on 127.0.0.1:5432, relayed by
         * the host's allow-listed outbound proxy. The URL keeps the server's host name (TLS with
         * sslmode=verify-full is checked inside sigild against it); only the address libpq dials is
         * overridden, by query parameters, which take precedence over the URI's host and port. */
        char pvia[300];
        if (strcmp(s->ops->name, "local") == 0) {
            (void)snprintf(pvia, sizeof pvia, "unix:%s/outbound-pg.sock", c->launch.run_dir);
        } else {
            (void)snprintf(pvia, sizeof pvia, "vsock:3:%u", SIGIL_NITRO_OUT_PORT + 1);
        }
        size_t ul = strlen(dbu);
        int n = snprintf(dbu + ul, DBU_CAP - ul, "%shostaddr=127.0.0.1&port=%u", strchr(dbu, '?') ? "&" : "?",
                         SIGIL_ENCLAVE_PG_PORT);
        SIGIL_ENSURE_GOTO(n > 0 && (size_t)n < DBU_CAP - ul, SIGIL_ERR_CONFIG);
        json_object_set_new(svc, "pg_forward",
                            json_pack("{s:I,s:s}", "port", (json_int_t)SIGIL_ENCLAVE_PG_PORT, "via", pvia));
    } else {
        json_object_set_new(svc, "pg_forward", json_null());
    }
    json_object_set_new(svc, "slashing_db_url", json_string(dbu));
    json_object_set_new(svc, "keymanager", json_false());
    SIGIL_GUARD_GOTO(add_policy(s, st, svc));
    char prev[2 * 32 + 3];
    json_t *aud = json_pack("{s:I, s:s}", "next_seq", (json_int_t)s->audit_seq0, "prev_hash",
                            sigil_hex_encode(prev, s->audit_prev, sizeof s->audit_prev, 1));
    SIGIL_ENSURE_GOTO(aud != NULL, SIGIL_ERR_NOMEM);
    if (c->audit_ack_timeout_ms != 0) {
        json_object_set_new(aud, "ack_timeout_ms", json_integer((json_int_t)c->audit_ack_timeout_ms));
    }
    json_object_set_new(init, "audit", aud);
    uint64_t expected = 0;
    SIGIL_GUARD_GOTO(sigil_store_count_vkeys(st, true, &expected));
    pthread_mutex_lock(&s->mu);
    s->keys_expected = expected;
    pthread_mutex_unlock(&s->mu);
    json_object_set(init, "kms", kms);
    json_object_set(init, "attestation", att);
    json_object_set(init, "data_keys", dks);
    json_object_set(init, "tls", tls);
    json_object_set(init, "service", svc);
    json_object_set_new(init, "expected_keys", json_integer((json_int_t)expected));
    *out = init;
    init = NULL;
    ret = sigil_ok();
out:
    sigil_secure_free(dbu);
    sigil_aws_creds_free(&cr);
    json_decref(init);
    json_decref(kms);
    json_decref(att);
    json_decref(tls);
    json_decref(svc);
    json_decref(dks);
    json_decref(dk_state[1]);
    return ret;
}

/* ---------------- KEYS_PAGE ---------------- */

struct page_ctx {
    json_t *keys;
    uint8_t last[SIGIL_STORE_PUBKEY_LEN];
    size_t last_len;
};

/* eth2 keys are named by their public key, eth1 keys by their address (docs/enclave.md). */
static sigil_result on_vkey(void *ctx, const struct sigil_store_vkey *k)
{
    struct page_ctx *p = ctx;
    char hx[2 * SIGIL_STORE_PUBKEY_LEN + 3];
    memcpy(p->last, k->pubkey, k->pubkey_len);
    p->last_len = k->pubkey_len;
    bool eth1 = strcmp(k->chain, "eth1") == 0;
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:o}", eth1 ? "address" : "pubkey", sigil_hex_encode(hx, k->pubkey, k->pubkey_len, 1),
                  "chain", k->chain, "data_key", k->data_key_id, "ciphertext", b64(k->ciphertext, k->ciphertext_len));
    return json_array_append_new(p->keys, o) == 0 ? sigil_ok() : sigil_error(SIGIL_ERR_NOMEM);
}

static SIGIL_RESULT send_keys(struct sigil_supervisor *s, struct sigil_store *st)
{
    uint8_t after[SIGIL_STORE_PUBKEY_LEN];
    size_t after_len = 0;
    bool have_after = false;
    uint64_t loaded = 0, failed = 0;
    for (;;) {
        struct page_ctx pc = {json_array(), {0}, 0};
        size_t n = 0;
        sigil_result r = pc.keys != NULL ? sigil_store_page_vkeys(st, have_after ? after : NULL, after_len, PAGE, true,
                                                                  on_vkey, &pc, &n)
                                         : sigil_error(SIGIL_ERR_NOMEM);
        if (!sigil_is_ok(r)) {
            json_decref(pc.keys);
            return r;
        }
        bool last = n < PAGE;
        json_t *msg = json_pack("{s:o,s:b}", "keys", pc.keys, "last", last);
        json_t *ans = NULL;
        SIGIL_GUARD(request(s, SIGIL_MSG_KEYS_PAGE, msg, &ans, 120000));
        json_t *fl = json_object_get(ans, "failed");
        loaded += (uint64_t)json_integer_value(json_object_get(ans, "loaded"));
        failed += json_is_array(fl) ? json_array_size(fl) : 0;
        for (size_t i = 0; json_is_array(fl) && i < json_array_size(fl) && i < 5; i++) {
            json_t *f = json_array_get(fl, i);
            const char *kid = json_string_value(json_object_get(f, "pubkey"));
            SIGIL_LOG_WARN("key refused by sigild",
                           SIGIL_LOG_STR("key", kid != NULL ? kid : json_string_value(json_object_get(f, "address"))),
                           SIGIL_LOG_STR("reason", json_string_value(json_object_get(f, "reason"))));
        }
        json_t *e1 = json_object_get(ans, "eth1_keys");
        pthread_mutex_lock(&s->mu);
        s->keys_loaded = loaded;
        if (json_is_integer(e1)) {
            s->eth1_keys = (uint64_t)json_integer_value(e1);
        }
        pthread_mutex_unlock(&s->mu);
        json_decref(ans);
        if (last) {
            break;
        }
        memcpy(after, pc.last, pc.last_len);
        after_len = pc.last_len;
        have_after = true;
    }
    SIGIL_LOG_INFO("keys loaded", SIGIL_LOG_UINT("loaded", loaded), SIGIL_LOG_UINT("failed", failed));
    return sigil_ok();
}

/* ---------------- KEYGEN ---------------- */

static sigil_result on_newest_dk(void *ctx, const struct sigil_store_data_key *k)
{
    char *id = ctx;
    (void)snprintf(id, SIGIL_STORE_ID_MAX, "%s", k->id);
    return sigil_ok();
}

static SIGIL_RESULT do_keygen(struct sigil_supervisor *s, const json_t *req, json_t **resp)
{
    struct sigil_store *st = NULL;
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    json_t *ans = NULL, *made = NULL;
    char dk[SIGIL_STORE_ID_MAX] = "";
    const char *chain = json_string_value(json_object_get(req, "chain"));
    bool eth1 = chain != NULL && strcmp(chain, "eth1") == 0;
    SIGIL_GUARD_GOTO(sigil_store_open(&st, s->cfg.store_url));
    SIGIL_GUARD_GOTO(sigil_store_list_data_keys(st, on_newest_dk, dk));
    json_t *msg =
        eth1 ? json_pack("{s:O,s:s,s:s}", "count", json_object_get(req, "count"), "chain", "eth1", "data_key", dk)
             : json_pack("{s:O,s:s,s:O,s:O,s:s}", "count", json_object_get(req, "count"), "chain", "eth2", "network",
                         json_object_get(req, "network"), "withdrawal_address",
                         json_object_get(req, "withdrawal_address"), "data_key", dk);
    SIGIL_ENSURE_GOTO(msg != NULL, SIGIL_ERR_ARG);
    SIGIL_GUARD_GOTO(request(s, SIGIL_MSG_KEYGEN, msg, &ans, 300000));
    json_t *keys = json_object_get(ans, "keys");
    made = json_array();
    SIGIL_ENSURE_GOTO(json_is_array(keys) && made != NULL, SIGIL_ERR_PARSE);
    SIGIL_GUARD_GOTO(sigil_store_begin(st));
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i);
        struct sigil_store_vkey v = {.active = true,
                                     .pubkey_len = eth1 ? SIGIL_STORE_ADDRESS_LEN : SIGIL_STORE_PUBKEY_LEN};
        uint8_t ct[SIGIL_STORE_BLOB_MAX];
        const char *ctb = json_string_value(json_object_get(k, "ciphertext"));
        const char *dki = json_string_value(json_object_get(k, "data_key"));
        const char *kch = json_string_value(json_object_get(k, "chain"));
        ret = sigil_json_get_hex(v.pubkey, v.pubkey_len, k, eth1 ? "address" : "pubkey");
        if (sigil_is_ok(ret) &&
            (ctb == NULL || dki == NULL || kch == NULL || strcmp(kch, eth1 ? "eth1" : "eth2") != 0)) {
            ret = sigil_errorf(SIGIL_ERR_PARSE, "KEYGEN_OK: a key lacks ciphertext, data_key or the right chain");
        }
        if (sigil_is_ok(ret)) {
            ret = sigil_base64_decode(ct, sizeof ct, &v.ciphertext_len, ctb, strlen(ctb));
        }
        if (sigil_is_ok(ret)) {
            v.ciphertext = ct;
            (void)snprintf(v.chain, sizeof v.chain, "%s", kch);
            (void)snprintf(v.data_key_id, sizeof v.data_key_id, "%s", dki);
            ret = sigil_store_add_vkey(st, &v);
        }
        if (!sigil_is_ok(ret)) {
            sigil_store_rollback(st);
            goto out;
        }
        json_array_append(made, eth1 ? json_object_get(k, "address") : json_object_get(k, "deposit_data"));
    }
    SIGIL_GUARD_GOTO(sigil_store_commit(st));
    *resp = json_pack("{s:O}", eth1 ? "addresses" : "deposit_data", made);
    if (eth1) {
        pthread_mutex_lock(&s->mu);
        s->eth1_keys += json_array_size(made);
        pthread_mutex_unlock(&s->mu);
    }
    ret = sigil_ok();
out:
    json_decref(made);
    json_decref(ans);
    sigil_store_close(st);
    return ret;
}

/* Interrupts serve_for (the supervisor polling the control channel). */
static void wake(struct sigil_supervisor *s)
{
    uint64_t one = 1;
    ssize_t w = write(s->wake_fd, &one, sizeof one);
    (void)w; /* a full counter already wakes it */
}

SIGIL_RESULT sigil_supervisor_keygen(struct sigil_supervisor *s, const json_t *req, json_t **resp, int timeout_s)
{
    *resp = NULL;
    struct timespec dl;
    (void)clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_s;
    pthread_mutex_lock(&s->mu);
    while (s->kg_pending || s->kg_done) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&s->mu);
            return sigil_errorf(SIGIL_ERR_NOT_READY, "another key generation is running");
        }
    }
    if (strcmp(s->state, "READY") != 0) {
        pthread_mutex_unlock(&s->mu);
        return sigil_errorf(SIGIL_ERR_NOT_READY, "sigild is not READY");
    }
    s->kg_req = req;
    s->kg_pending = true;
    pthread_cond_broadcast(&s->cv);
    wake(s);
    while (!s->kg_done) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT && !s->kg_done) {
            /* the supervisor still owns kg_req until it answers: wait for it (it has its own timeout) */
            dl.tv_sec += 5;
        }
    }
    sigil_result r = s->kg_res;
    if (!sigil_is_ok(r)) {
        r = sigil_errorf(r.code, "%s", s->kg_err);
    }
    *resp = s->kg_resp;
    s->kg_resp = NULL;
    s->kg_done = false;
    s->kg_req = NULL;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* ---------------- the loop ---------------- */

/* Sleeps up to sec seconds or until stop / a keygen request. Returns true when stopping. */
static bool wait_for(struct sigil_supervisor *s, double sec)
{
    struct timespec dl;
    (void)clock_gettime(CLOCK_REALTIME, &dl);
    long ns = dl.tv_nsec + (long)((sec - (double)(long)sec) * 1e9);
    dl.tv_sec += (time_t)sec + ns / 1000000000L;
    dl.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&s->mu);
    while (!s->stop && !s->kg_pending) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
            break;
        }
    }
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* READY: waits up to sec seconds for stop or a keygen request while serving sigild's LOG and AUDIT
 * frames as they arrive (an AUDIT must not wait for the next STATUS: a signing waits on it).
 * Returns 1 when stopping, 0 otherwise; -1 (with *err) when the channel broke or sigild sent
 * something it must not. */
static int serve_for(struct sigil_supervisor *s, double sec, sigil_result *err)
{
    double end = mono_s() + sec;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop, kg = s->kg_pending;
        pthread_mutex_unlock(&s->mu);
        if (stop) {
            return 1;
        }
        double left = end - mono_s();
        if (kg || left <= 0) {
            return 0;
        }
        struct pollfd p[2] = {{.fd = s->enc.control_fd, .events = POLLIN}, {.fd = s->wake_fd, .events = POLLIN}};
        int rc = poll(p, 2, (int)(left * 1000.0) + 1);
        if (rc < 0 && errno != EINTR) {
            *err = sigil_errorf(SIGIL_ERR_IO, "poll: %s", strerror(errno));
            return -1;
        }
        if (rc > 0 && (p[1].revents & POLLIN) != 0) {
            uint64_t v = 0;
            ssize_t n = read(s->wake_fd, &v, sizeof v);
            (void)n;
        }
        if (rc > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            uint8_t type = 0;
            json_t *j = NULL;
            sigil_result r = read_json_frame(s, &type, &j, 10000);
            bool handled = false;
            if (sigil_is_ok(r)) {
                r = serve_unprompted(s, type, j, &handled);
                if (sigil_is_ok(r) && !handled) {
                    r = sigil_errorf(SIGIL_ERR_PARSE, "sigild sent %s unprompted", sigil_msg_type_name(type));
                }
            }
            json_decref(j);
            if (!sigil_is_ok(r)) {
                *err = r;
                return -1;
            }
        }
    }
}

static void record_error(struct sigil_supervisor *s, const char *state, const char *what, sigil_result r)
{
    char msg[1024], why[256] = "";
    const char *d = r.code == SIGIL_ERR_NOT_READY && s->peer_error[0] != '\0' ? s->peer_error : sigil_error_detail();
    /* A broken channel usually means sigild died: say how (e.g. the seccomp filter's SIGSYS). */
    if ((r.code == SIGIL_ERR_NOT_FOUND || r.code == SIGIL_ERR_IO) && s->enc.pid > 0) {
        struct timespec ts = {0, 100000000};
        (void)nanosleep(&ts, NULL);
        if (s->ops->alive(&s->cfg.launch, &s->enc, why, sizeof why)) {
            why[0] = '\0';
        }
    }
    (void)snprintf(msg, sizeof msg, "%s: %s%s%s", what, *d ? d : sigil_strerror(r.code), why[0] ? "; " : "", why);
    set_state(s, state, msg);
}

static void stop_enclave(struct sigil_supervisor *s, bool graceful)
{
    if (graceful && s->enc.control_fd >= 0) {
        json_t *ans = NULL;
        json_t *m = json_object();
        /* sigild closes its audit log (final checkpoint, stop record) before it answers */
        if (m != NULL && sigil_is_ok(request(s, SIGIL_MSG_SHUTDOWN, m, &ans, 10000))) {
            json_decref(ans);
        }
    }
    s->ops->stop(&s->cfg.launch, &s->enc);
}

static void copy_str(char *dst, size_t cap, const json_t *v)
{
    const char *t = json_string_value(v);
    (void)snprintf(dst, cap, "%s", t != NULL ? t : "");
}

/* Keeps what STATUS_OK says about keys, policy and the audit log for the status API. */
static void update_status(struct sigil_supervisor *s, const json_t *ans)
{
    const json_t *kl = json_object_get(ans, "keys_loaded"), *e1 = json_object_get(ans, "eth1_keys"),
                 *au = json_object_get(ans, "audit");
    pthread_mutex_lock(&s->mu);
    if (json_is_integer(e1)) {
        s->eth1_keys = (uint64_t)json_integer_value(e1);
    }
    /* sigild's keys_loaded counts validator keys; the host's, like KEYS_ACK's count and
     * keys_expected (every active key in the store), counts both chains */
    if (json_is_integer(kl)) {
        s->keys_loaded = (uint64_t)json_integer_value(kl) + (json_is_integer(e1) ? s->eth1_keys : 0);
    }
    copy_str(s->policy_hash, sizeof s->policy_hash, json_object_get(ans, "policy_hash"));
    copy_str(s->policy_state, sizeof s->policy_state, json_object_get(ans, "policy"));
    copy_str(s->wallet, sizeof s->wallet, json_object_get(ans, "wallet"));
    copy_str(s->audit_signer, sizeof s->audit_signer, json_object_get(au, "address"));
    const json_t *ns = json_object_get(au, "next_seq");
    s->audit_next_seq = json_is_integer(ns) ? (uint64_t)json_integer_value(ns) : 0;
    const char *le = json_string_value(json_object_get(ans, "last_error"));
    if (le != NULL && s->last_error[0] == '\0') {
        (void)snprintf(s->last_error, sizeof s->last_error, "sigild: %s", le);
    }
    pthread_mutex_unlock(&s->mu);
}

/* One life of sigild: start, init, load keys, watch. Returns when it died or we stop. */
static void one_life(struct sigil_supervisor *s, int *backoff)
{
    set_state(s, "STARTING", NULL);
    sigil_result r = s->ops->start(&s->cfg.launch, &s->enc);
    if (!sigil_is_ok(r)) {
        record_error(s, "LAUNCH_FAILED", "launch", r);
        return;
    }
    s->next_id = 0;
    pthread_mutex_lock(&s->mu);
    if (s->enc.pcr0[0] != '\0') {
        (void)snprintf(s->pcr0, sizeof s->pcr0, "%s", s->enc.pcr0);
    }
    s->keys_loaded = 0;
    pthread_mutex_unlock(&s->mu);
    SIGIL_LOG_INFO("sigild launched", SIGIL_LOG_STR("launcher", s->ops->name), SIGIL_LOG_INT("pid", s->enc.pid),
                   SIGIL_LOG_STR("pcr0", s->enc.pcr0));
    /* INIT, retried on the same sigild (it stays NEW after a refused INIT) */
    for (;;) {
        set_state(s, "INITIALIZING", NULL);
        struct sigil_store *st = NULL;
        json_t *init = NULL, *ans = NULL;
        /* the audit log's tail first: a log the host cannot read back must not start a new chain */
        r = audit_reopen(s);
        if (!sigil_is_ok(r)) {
            char what[4200];
            (void)snprintf(what, sizeof what, "audit log %s", s->audit_path);
            record_error(s, "INIT_FAILED", what, r);
            goto retry_init;
        }
        r = sigil_store_open(&st, s->cfg.store_url);
        if (sigil_is_ok(r)) {
            /* INIT carries the KMS secret: every JSON block of it in secure memory, wiped when
             * request() drops it (sigil-host's main installs the allocator) */
            sigil_channel_secret_json(true);
            r = build_init(s, st, &init);
            sigil_channel_secret_json(false);
        }
        if (!sigil_is_ok(r)) {
            record_error(s, "INIT_FAILED", "artifacts", r);
            sigil_store_close(st);
            goto retry_init;
        }
        r = request(s, SIGIL_MSG_INIT, init, &ans, 120000);
        if (!sigil_is_ok(r)) {
            sigil_store_close(st);
            record_error(s, "INIT_FAILED", "sigild refused INIT", r);
            if (r.code != SIGIL_ERR_NOT_READY) {
                return; /* the channel broke: restart sigild */
            }
            goto retry_init;
        }
        const char *pcr0 = json_string_value(json_object_get(ans, "pcr0"));
        const char *ph = json_string_value(json_object_get(ans, "policy_hash"));
        pthread_mutex_lock(&s->mu);
        if (pcr0 != NULL) {
            (void)snprintf(s->pcr0, sizeof s->pcr0, "%s", pcr0);
        }
        (void)snprintf(s->policy_hash, sizeof s->policy_hash, "%s", ph != NULL ? ph : "");
        s->eth1_keys = 0;
        pthread_mutex_unlock(&s->mu);
        json_decref(ans);
        set_state(s, "LOADING_KEYS", NULL);
        r = send_keys(s, st);
        sigil_store_close(st);
        if (!sigil_is_ok(r)) {
            record_error(s, "INIT_FAILED", "loading keys", r);
            return;
        }
        break;
    retry_init:
        if (wait_for(s, *backoff)) {
            return;
        }
        *backoff = *backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : *backoff * 2;
        char why[256];
        if (!s->ops->alive(&s->cfg.launch, &s->enc, why, sizeof why)) {
            set_state(s, "DEAD", why);
            return;
        }
    }
    pthread_mutex_lock(&s->mu);
    s->ready_since = mono_s();
    pthread_mutex_unlock(&s->mu);
    set_state(s, "READY", NULL);
    *backoff = 1;
    unsigned interval = s->cfg.status_interval_s != 0 ? s->cfg.status_interval_s : 3;
    int tmo = (int)(s->cfg.status_timeout_s != 0 ? s->cfg.status_timeout_s : 5) * 1000;
    /* the first STATUS right away: the status API then shows sigild's policy and audit key */
    for (bool first = true;; first = false) {
        int w = first ? 0 : serve_for(s, interval, &r);
        if (w > 0) {
            return;
        }
        if (w < 0) {
            record_error(s, "DEAD", "control channel", r);
            return;
        }
        pthread_mutex_lock(&s->mu);
        const json_t *kg = s->kg_pending ? s->kg_req : NULL;
        pthread_mutex_unlock(&s->mu);
        if (kg != NULL) {
            json_t *resp = NULL;
            r = do_keygen(s, kg, &resp);
            pthread_mutex_lock(&s->mu);
            s->kg_res = r;
            (void)snprintf(s->kg_err, sizeof s->kg_err, "%s",
                           sigil_is_ok(r)          ? ""
                           : *sigil_error_detail() ? sigil_error_detail()
                                                   : sigil_strerror(r.code));
            s->kg_resp = resp;
            s->kg_pending = false;
            s->kg_done = true;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            if (r.code == SIGIL_ERR_IO || r.code == SIGIL_ERR_PARSE) {
                record_error(s, "DEAD", "control channel during KEYGEN", r);
                return;
            }
        }
        char why[256];
        if (!s->ops->alive(&s->cfg.launch, &s->enc, why, sizeof why)) {
            set_state(s, "DEAD", why);
            return;
        }
        json_t *ans = NULL;
        json_t *m = json_object();
        r = m != NULL ? request(s, SIGIL_MSG_STATUS, m, &ans, tmo) : sigil_error(SIGIL_ERR_NOMEM);
        if (!sigil_is_ok(r)) {
            record_error(s, "DEAD", "sigild stopped answering STATUS", r);
            return;
        }
        update_status(s, ans);
        json_decref(ans);
    }
}

static void *sup_main(void *arg)
{
    struct sigil_supervisor *s = arg;
    int backoff = 1;
    for (;;) {
        one_life(s, &backoff);
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop;
        s->ready_since = 0;
        pthread_mutex_unlock(&s->mu);
        stop_enclave(s, stop);
        if (stop) {
            break;
        }
        pthread_mutex_lock(&s->mu);
        s->restarts++;
        char st[32];
        (void)snprintf(st, sizeof st, "%s", s->state);
        pthread_mutex_unlock(&s->mu);
        SIGIL_LOG_WARN("restarting sigild", SIGIL_LOG_INT("backoff_s", backoff), SIGIL_LOG_STR("after", st));
        if (wait_for(s, backoff)) {
            break;
        }
        backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
    }
    set_state(s, "STOPPED", NULL);
    return NULL;
}

SIGIL_RESULT sigil_supervisor_start(struct sigil_supervisor *s)
{
    if (pthread_create(&s->th, NULL, sup_main, s) != 0) {
        return sigil_errorf(SIGIL_ERR_INTERNAL, "cannot start the supervisor thread");
    }
    s->started = true;
    return sigil_ok();
}

void sigil_supervisor_free(struct sigil_supervisor *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    wake(s);
    if (s->started) {
        (void)pthread_join(s->th, NULL);
    }
    if (s->audit_open && s->audit.close != NULL) {
        s->audit.close(s->audit.ctx);
    }
    (void)close(s->wake_fd);
    json_decref(s->kg_resp);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
