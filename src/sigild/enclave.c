/* The enclave boot path of sigild (see enclave.h and docs/enclave.md).
 *
 * One thread runs the control channel; after the last KEYS_PAGE a second thread runs the HTTP
 * service. Secrets: INIT's credentials are parsed into secure memory (a `secret` rule), data keys
 * live in secure memory from the CMS unwrap until exit, each validator key goes from its envelope
 * into a secure scratch block and from there into the key store. No handler logs or echoes a
 * payload: errors name fields, ids and counts. */
#include "sigild/enclave.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "attest/attest.h"
#include "channel/channel.h"
#include "common/hex.h"
#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/deposit.h"
#include "crypto/envelope.h"
#include "eth2/network.h"
#include "keys/keystore.h"
#include "kms/client.h"
#include "kms/recipient.h"
#include "net/http.h"
#include "net/tls.h"
#include "sigild/forwarder.h"
#include "sigild/logrelay.h"
#include "sigild/service.h"
#include "slashing/slashing.h"

#define MAX_DATA_KEYS   64
#define MAX_PAGE_KEYS   1000
#define MAX_KEYGEN      100
#define MAX_B64_CT      8192
#define MAX_TLS_KEY_PEM (16u * 1024u)
#define ERRMSG_LEN      768

struct data_key {
    char id[128];
    uint8_t *key; /* 32 bytes, secure memory */
};

struct enclave {
    const struct sigil_enclave_opts *opts;
    struct sigil_channel *ch;
    double started;
    /* INIT results */
    struct sigil_nsm *nsm;
    struct sigil_kms_recipient *rcpt;
    struct sigil_forwarder *fwd;
    struct data_key dks[MAX_DATA_KEYS];
    size_t ndks;
    char pcr0[97];
    SSL_CTX *tls;
    struct sigil_network network;
    char *http_listen, *slashing_db_url;
    uint64_t expected_keys;
    /* keys and service */
    struct sigil_keystore *ks;
    struct sigil_service *svc;
    pthread_t svc_thread;
    bool svc_running;
    bool shutdown;
    char last_error[ERRMSG_LEN];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sends ERROR and remembers it for STATUS. message carries public facts only. */
static enum sigil_channel_verdict refuse(struct enclave *e, int64_t id, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum sigil_channel_verdict refuse(struct enclave *e, int64_t id, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(e->last_error, sizeof e->last_error, fmt, ap);
    va_end(ap);
    SIGIL_LOG_WARN("control request refused", SIGIL_LOG_STR("code", code), SIGIL_LOG_STR("message", e->last_error));
    if (!sigil_is_ok(sigil_channel_send_error(e->ch, id, code, e->last_error))) {
        return SIGIL_CH_CLOSE;
    }
    return SIGIL_CH_REFUSED;
}

static const char *detail(void) { return sigil_error_detail()[0] ? sigil_error_detail() : "no detail"; }

/* ---------------------------------------------------------------- INIT */

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static struct data_key *find_dk(struct enclave *e, const char *id)
{
    for (size_t i = 0; id != NULL && i < e->ndks; i++) {
        if (strcmp(e->dks[i].id, id) == 0) {
            return &e->dks[i];
        }
    }
    return NULL;
}

/* Undoes a partial INIT so that the host can retry from NEW. */
static void init_reset(struct enclave *e)
{
    sigil_forwarder_stop(e->fwd);
    e->fwd = NULL;
    sigil_kms_recipient_free(e->rcpt);
    e->rcpt = NULL;
    sigil_nsm_close(e->nsm);
    e->nsm = NULL;
    for (size_t i = 0; i < e->ndks; i++) {
        sigil_secure_free(e->dks[i].key);
    }
    memset(e->dks, 0, sizeof e->dks);
    e->ndks = 0;
    SSL_CTX_free(e->tls);
    e->tls = NULL;
    free(e->http_listen);
    free(e->slashing_db_url);
    e->http_listen = e->slashing_db_url = NULL;
    sigil_keystore_free(e->ks);
    e->ks = NULL;
}

/* Reads a "forward" object {"port":N,"via":"..."}; absent or null: no forwarder. */
static bool parse_forward(const json_t *f, const char *name, struct sigil_forward_spec *out)
{
    if (f == NULL || json_is_null(f)) {
        return false;
    }
    json_int_t port = json_integer_value(json_object_get(f, "port"));
    out->name = name;
    out->port = (uint16_t)(port > 0 && port < 65536 ? port : 0);
    out->via = jstr(f, "via");
    return true;
}

static bool leaf_sha256(uint8_t out[32], const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL;
    int n = x != NULL ? i2d_X509(x, &der) : -1;
    if (n > 0) {
        SHA256(der, (size_t)n, out);
    }
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(b);
    return n > 0;
}

static enum sigil_channel_verdict init_tls(struct enclave *e, int64_t id, const json_t *tls)
{
    const char *cert = jstr(tls, "cert_pem"), *dkid = jstr(tls, "data_key"), *kct = jstr(tls, "key_ciphertext");
    if (cert == NULL || dkid == NULL || kct == NULL) {
        return refuse(e, id, "bad_request", "INIT: tls needs cert_pem, data_key and key_ciphertext");
    }
    struct data_key *dk = find_dk(e, dkid);
    if (dk == NULL) {
        return refuse(e, id, "bad_request", "INIT: tls.data_key \"%.64s\" is not among data_keys", dkid);
    }
    uint8_t hash[32];
    if (!leaf_sha256(hash, cert, strlen(cert))) {
        return refuse(e, id, "bad_request", "INIT: tls.cert_pem holds no PEM certificate");
    }
    static uint8_t ct[MAX_TLS_KEY_PEM + SIGIL_ENVELOPE_OVERHEAD];
    size_t ctn = 0;
    if (!sigil_is_ok(sigil_base64_decode(ct, sizeof ct, &ctn, kct, strlen(kct)))) {
        return refuse(e, id, "bad_request", "INIT: tls.key_ciphertext is not base64 of at most %u bytes",
                      (unsigned)sizeof ct);
    }
    char *key = sigil_secure_alloc(MAX_TLS_KEY_PEM + 1);
    size_t kn = 0;
    if (key == NULL) {
        return refuse(e, id, "internal", "out of secure memory");
    }
    sigil_result r = sigil_envelope_open((uint8_t *)key, MAX_TLS_KEY_PEM, &kn, dk->key, SIGIL_ENVELOPE_LABEL_TLS, "",
                                         hash, sizeof hash, ct, ctn);
    if (!sigil_is_ok(r)) {
        sigil_secure_free(key);
        return refuse(e, id, "tls_key", "INIT: the TLS key does not open with data key \"%.64s\" for this certificate",
                      dkid);
    }
    r = sigil_tls_ctx_new_mem(&e->tls, cert, strlen(cert), key, kn, NULL);
    sigil_secure_free(key);
    if (!sigil_is_ok(r)) {
        return refuse(e, id, "tls_key", "INIT: TLS certificate/key unusable: %s", detail());
    }
    const char *kc = jstr(tls, "known_clients"), *ca = jstr(tls, "client_ca_pem");
    if (kc != NULL && !sigil_is_ok(sigil_tls_ctx_set_known_clients(e->tls, kc, strlen(kc)))) {
        return refuse(e, id, "bad_request", "INIT: tls.known_clients: %s", detail());
    }
    if (ca != NULL && !sigil_is_ok(sigil_tls_ctx_add_client_ca_mem(e->tls, ca, strlen(ca)))) {
        return refuse(e, id, "bad_request", "INIT: tls.client_ca_pem: %s", detail());
    }
    return SIGIL_CH_DONE;
}

static enum sigil_channel_verdict init_kms(struct enclave *e, int64_t id, const json_t *kms, const json_t *dks,
                                           const uint8_t *doc, size_t doc_len, uint16_t fwd_port)
{
    const char *ca = jstr(kms, "ca_pem"), *secret = jstr(kms, "secret_access_key");
    /* Through the in-sandbox forwarder when one is set: the connection goes to its loopback port
     * while the endpoint's host name still drives SNI and certificate verification. */
    char connect_to[64];
    snprintf(connect_to, sizeof connect_to, "::127.0.0.1:%u", (unsigned)fwd_port);
    struct sigil_kms_config kc = {.region = jstr(kms, "region"),
                                  .endpoint = jstr(kms, "endpoint"),
                                  .ca_pem = ca,
                                  .ca_pem_len = ca != NULL ? strlen(ca) : 0,
                                  .connect_to = fwd_port != 0 ? connect_to : NULL};
    struct sigil_kms_credentials cr = {.access_key_id = jstr(kms, "access_key_id"),
                                       .secret_access_key = secret,
                                       .secret_len = secret != NULL ? strlen(secret) : 0,
                                       .session_token = jstr(kms, "session_token")};
    struct sigil_kms_client *c = NULL;
    enum sigil_channel_verdict v = SIGIL_CH_DONE;
    if (!sigil_is_ok(sigil_kms_client_new(&c, &kc, &cr))) {
        v = refuse(e, id, "bad_request", "INIT: kms settings unusable: %s", detail());
        goto out;
    }
    struct sigil_kms_recipient_req rr = {.key = e->rcpt, .attestation_doc = doc, .attestation_doc_len = doc_len};
    size_t i = 0;
    json_t *d = NULL;
    json_array_foreach(dks, i, d)
    {
        const char *dkid = jstr(d, "id"), *blob_b64 = jstr(d, "ciphertext_blob");
        if (dkid == NULL || blob_b64 == NULL || strlen(dkid) >= sizeof e->dks[0].id || find_dk(e, dkid) != NULL) {
            v = refuse(e, id, "bad_request", "INIT: data_keys[%zu] needs a unique id and a ciphertext_blob", i);
            goto out;
        }
        uint8_t blob[SIGIL_KMS_MAX_CIPHERTEXT];
        size_t bn = 0;
        if (!sigil_is_ok(sigil_base64_decode(blob, sizeof blob, &bn, blob_b64, strlen(blob_b64))) || bn == 0) {
            v = refuse(e, id, "bad_request", "INIT: data key \"%s\": ciphertext_blob is not base64", dkid);
            goto out;
        }
        struct sigil_kms_decrypt_args da = {
            .ciphertext = blob, .ciphertext_len = bn, .key_id = jstr(kms, "key_id"), .recipient = &rr};
        uint8_t *plain = NULL;
        size_t pn = 0;
        sigil_result r = sigil_kms_decrypt(c, &da, &plain, &pn);
        if (!sigil_is_ok(r)) {
            const char *aws = sigil_kms_client_last_error(c);
            v = refuse(e, id, r.code == SIGIL_ERR_FORBIDDEN ? "kms_refused" : "kms_failed",
                       "KMS refused Decrypt of data key \"%s\" (%s%s%s): %s (this enclave's PCR0 is %s)", dkid,
                       sigil_strerror(r.code), aws[0] ? ", " : "", aws, detail(), e->pcr0);
            goto out;
        }
        if (pn != 32) {
            sigil_secure_free(plain);
            v = refuse(e, id, "bad_request", "INIT: data key \"%s\" is %zu bytes, not 32", dkid, pn);
            goto out;
        }
        snprintf(e->dks[e->ndks].id, sizeof e->dks[0].id, "%s", dkid);
        e->dks[e->ndks++].key = plain;
    }
out:
    sigil_kms_client_free(c);
    return v;
}

static enum sigil_channel_verdict on_init(struct sigil_channel *ch, const json_t *msg, int64_t id, void *ctx)
{
    struct enclave *e = ctx;
    const json_t *kms = json_object_get(msg, "kms"), *att = json_object_get(msg, "attestation"),
                 *dks = json_object_get(msg, "data_keys"), *tls = json_object_get(msg, "tls"),
                 *svc = json_object_get(msg, "service");
    if (!json_is_object(kms) || !json_is_object(att) || !json_is_array(dks) || !json_is_object(tls) ||
        !json_is_object(svc)) {
        return refuse(e, id, "bad_request", "INIT needs kms, attestation, data_keys, tls and service objects");
    }
    if (json_array_size(dks) == 0 || json_array_size(dks) > MAX_DATA_KEYS) {
        return refuse(e, id, "bad_request", "INIT: data_keys must hold 1..%d entries", MAX_DATA_KEYS);
    }
    enum sigil_channel_verdict v = SIGIL_CH_REFUSED;
    uint8_t *doc = NULL;
    /* service settings first: cheap to check, and a typo should not cost a KMS round trip */
    const char *net = jstr(svc, "network"), *db = jstr(svc, "slashing_db_url"), *listen = jstr(svc, "http_listen");
    struct sigil_listen_addr la;
    if (net == NULL || db == NULL || listen == NULL) {
        v = refuse(e, id, "bad_request", "INIT: service needs network, slashing_db_url and http_listen");
        goto out;
    }
    if (!sigil_is_ok(sigil_network_builtin(&e->network, net)) &&
        !sigil_is_ok(sigil_network_from_yaml(&e->network, net, strlen(net)))) {
        v = refuse(e, id, "bad_request", "INIT: service.network is neither a known network nor a config: %s", detail());
        goto out;
    }
    if (!sigil_is_ok(sigil_net_parse_listen(&la, listen))) {
        v = refuse(e, id, "bad_request", "INIT: service.http_listen: %s", detail());
        goto out;
    }
    e->http_listen = strdup(listen);
    e->slashing_db_url = strdup(db);
    json_int_t exp = json_integer_value(json_object_get(msg, "expected_keys"));
    e->expected_keys = exp > 0 ? (uint64_t)exp : 0;

    /* attestation: the real NSM when asked for and present, else the simulated one */
    const char *mode = jstr(att, "mode");
    const char *image = e->opts->image_path != NULL ? e->opts->image_path : "/proc/self/exe";
    uint8_t pcr0[48];
    sigil_result r;
    if (mode != NULL && strcmp(mode, "nsm") == 0 && access("/dev/nsm", F_OK) == 0) {
        r = sigil_nsm_open_device(&e->nsm);
    } else if (mode != NULL && (strcmp(mode, "simulated") == 0 || strcmp(mode, "nsm") == 0)) {
        const char *lc = jstr(att, "sim_leaf_cert_pem"), *lk = jstr(att, "sim_leaf_key_pem"),
                   *chain = jstr(att, "sim_chain_pem");
        if (lc == NULL || lk == NULL || chain == NULL) {
            v = refuse(e, id, "attestation",
                       "INIT: no /dev/nsm here, and the simulated NSM needs sim_leaf_cert_pem, sim_leaf_key_pem "
                       "and sim_chain_pem");
            goto out;
        }
        r = sigil_nsm_open_simulated(&e->nsm, lc, strlen(lc), lk, strlen(lk), chain, strlen(chain), image);
    } else {
        v = refuse(e, id, "bad_request", "INIT: attestation.mode must be \"nsm\" or \"simulated\"");
        goto out;
    }
    if (!sigil_is_ok(r)) {
        v = refuse(e, id, "attestation", "cannot open the NSM: %s", detail());
        goto out;
    }
    if (!sigil_is_ok(sigil_kms_recipient_new(&e->rcpt))) {
        v = refuse(e, id, "internal", "cannot generate the recipient key: %s", detail());
        goto out;
    }
    uint8_t nonce[32];
    size_t spki_len = 0, doc_len = 0;
    const uint8_t *spki = sigil_kms_recipient_spki(e->rcpt, &spki_len);
    doc = malloc(SIGIL_ATTEST_MAX_DOC);
    if (doc == NULL || !sigil_random_bytes(nonce, sizeof nonce) ||
        !sigil_is_ok(sigil_nsm_attest(e->nsm, doc, SIGIL_ATTEST_MAX_DOC, &doc_len, NULL, 0, nonce, sizeof nonce, spki,
                                      spki_len))) {
        v = refuse(e, id, "attestation", "cannot get an attestation document: %s", detail());
        goto out;
    }
    if (e->nsm != NULL && mode != NULL && strcmp(mode, "nsm") == 0 && access("/dev/nsm", F_OK) == 0) {
        struct sigil_attest_doc *d = calloc(1, sizeof *d);
        bool ok = d != NULL && sigil_is_ok(sigil_attest_verify(d, doc, doc_len, NULL));
        if (ok) {
            memcpy(pcr0, d->pcrs[0], 48);
        }
        free(d);
        if (!ok) {
            v = refuse(e, id, "attestation", "the NSM's document does not verify: %s", detail());
            goto out;
        }
    } else if (!sigil_is_ok(sigil_attest_image_sha384(pcr0, image))) {
        v = refuse(e, id, "attestation", "cannot measure %s: %s", image, detail());
        goto out;
    }
    sigil_hex_encode(e->pcr0, pcr0, 48, 0);

    /* forwarders (before KMS: its traffic may go through one) */
    struct sigil_forward_spec fs[2];
    size_t nfs = 0;
    uint16_t kms_fwd = 0;
    if (parse_forward(json_object_get(kms, "forward"), "kms", &fs[nfs])) {
        kms_fwd = fs[nfs].port;
        if (kms_fwd == 0 || fs[nfs].via == NULL) {
            v = refuse(e, id, "bad_request", "INIT: kms.forward needs port (1..65535) and via");
            goto out;
        }
        nfs++;
    }
    if (parse_forward(json_object_get(svc, "pg_forward"), "pg", &fs[nfs])) {
        if (fs[nfs].port == 0 || fs[nfs].via == NULL) {
            v = refuse(e, id, "bad_request", "INIT: service.pg_forward needs port (1..65535) and via");
            goto out;
        }
        nfs++;
    }
    if (nfs > 0 && !sigil_is_ok(sigil_forwarder_start(&e->fwd, fs, nfs))) {
        v = refuse(e, id, "forwarder", "cannot start the forwarder: %s", detail());
        goto out;
    }
    v = init_kms(e, id, kms, dks, doc, doc_len, kms_fwd);
    if (v != SIGIL_CH_DONE) {
        goto out;
    }
    v = init_tls(e, id, tls);
    if (v != SIGIL_CH_DONE) {
        goto out;
    }
    if (!sigil_is_ok(sigil_keystore_new(&e->ks))) {
        v = refuse(e, id, "internal", "out of memory");
        goto out;
    }
    json_t *ok = json_pack("{s:s, s:s}", "pcr0", e->pcr0, "state", "INITIALIZING");
    sigil_channel_set_state(ch, SIGIL_CH_INITIALIZING);
    sigil_result sr = ok != NULL ? sigil_channel_send(ch, SIGIL_MSG_INIT_OK, id, ok) : sigil_error(SIGIL_ERR_NOMEM);
    json_decref(ok);
    e->last_error[0] = '\0';
    SIGIL_LOG_INFO("initialized", SIGIL_LOG_STR("pcr0", e->pcr0), SIGIL_LOG_UINT("data_keys", e->ndks));
    v = sigil_is_ok(sr) ? SIGIL_CH_DONE : SIGIL_CH_CLOSE;
out:
    free(doc);
    if (v != SIGIL_CH_DONE) {
        init_reset(e);
    }
    return v;
}

/* ---------------------------------------------------------------- keys */

struct key_scratch {
    uint8_t sk_bytes[64];
    sigil_bls_sk sk;
    uint8_t ikm[32];
};

static void *service_thread(void *arg)
{
    struct enclave *e = arg;
    sigil_result r = sigil_service_run(e->svc);
    if (!sigil_is_ok(r)) {
        SIGIL_LOG_ERROR("service stopped", SIGIL_LOG_STR("error", sigil_strerror(r.code)),
                        SIGIL_LOG_STR("detail", sigil_error_detail()));
    }
    return NULL;
}

static sigil_result start_service(struct enclave *e)
{
    struct sigil_service_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.http_listen = e->http_listen;
    cfg.slashing_db_url = e->slashing_db_url;
    cfg.network = e->network;
    cfg.tls_ctx = e->tls;
    SIGIL_GUARD(sigil_service_new(&e->svc, &cfg, e->ks));
    if (pthread_create(&e->svc_thread, NULL, service_thread, e) != 0) {
        sigil_service_free(e->svc); /* takes the key store with it */
        e->svc = NULL;
        e->ks = NULL;
        return sigil_errorf(SIGIL_ERR_INTERNAL, "cannot start the service thread");
    }
    e->svc_running = true;
    return sigil_service_keys_loaded(e->svc);
}

/* Registers newly added keys with slashing protection of the running service. */
static sigil_result register_keys(struct enclave *e, const uint8_t (*pks)[48], size_t n)
{
    if (e->svc == NULL || n == 0) {
        return sigil_ok();
    }
    return sigil_slashing_register(sigil_service_db(e->svc), pks, n);
}

static json_t *failure(const char *pubkey, const char *reason)
{
    return json_pack("{s:s, s:s}", "pubkey", pubkey != NULL ? pubkey : "", "reason", reason);
}

static enum sigil_channel_verdict on_keys_page(struct sigil_channel *ch, const json_t *msg, int64_t id, void *ctx)
{
    struct enclave *e = ctx;
    const json_t *keys = json_object_get(msg, "keys");
    if (!json_is_array(keys) || json_array_size(keys) > MAX_PAGE_KEYS) {
        return refuse(e, id, "bad_request", "KEYS_PAGE needs \"keys\": an array of at most %d keys", MAX_PAGE_KEYS);
    }
    bool last = json_is_true(json_object_get(msg, "last"));
    json_t *failed = json_array();
    struct key_scratch *s = sigil_secure_alloc(sizeof *s);
    uint8_t(*added)[48] = calloc(json_array_size(keys) + 1, 48);
    if (failed == NULL || s == NULL || added == NULL) {
        json_decref(failed);
        sigil_secure_free(s);
        free(added);
        return refuse(e, id, "internal", "out of memory");
    }
    size_t loaded = 0, i = 0;
    json_t *k = NULL;
    json_array_foreach(keys, i, k)
    {
        const char *pkh = jstr(k, "pubkey"), *chain = jstr(k, "chain"), *dkid = jstr(k, "data_key"),
                   *ctb = jstr(k, "ciphertext");
        uint8_t pk[48], ct[128];
        size_t ctn = 0, skn = 0;
        struct data_key *dk = find_dk(e, dkid);
        const char *reason = NULL;
        if (pkh == NULL || !sigil_is_ok(sigil_hex_decode_exact(pk, 48, pkh, strlen(pkh)))) {
            reason = "pubkey is not 48 bytes of hex";
        } else if (chain == NULL || strcmp(chain, "eth2") != 0) {
            reason = "unsupported chain (this signer holds eth2 BLS keys)";
        } else if (dk == NULL) {
            reason = "unknown data_key";
        } else if (ctb == NULL || !sigil_is_ok(sigil_base64_decode(ct, sizeof ct, &ctn, ctb, strlen(ctb)))) {
            reason = "ciphertext is not base64 of a key envelope";
        } else if (!sigil_is_ok(sigil_envelope_open(s->sk_bytes, sizeof s->sk_bytes, &skn, dk->key,
                                                    SIGIL_ENVELOPE_LABEL_KEY, chain, pk, 48, ct, ctn)) ||
                   skn != 32) {
            reason = "envelope does not open (wrong data key, pubkey or chain, or tampered)";
        } else if (!sigil_is_ok(sigil_bls_sk_from_bytes(&s->sk, s->sk_bytes))) {
            reason = "not a valid BLS secret key";
        } else {
            sigil_result r = sigil_keystore_add(e->ks, &s->sk, pk, NULL);
            if (r.code == SIGIL_ERR_KEYSTORE_PUBKEY) {
                reason = "secret key does not match pubkey";
            } else if (r.code == SIGIL_ERR_CONFLICT) {
                reason = "duplicate: key already loaded";
            } else if (!sigil_is_ok(r)) {
                reason = sigil_strerror(r.code);
            }
        }
        sigil_wipe(s, sizeof *s);
        if (reason != NULL) {
            json_array_append_new(failed, failure(pkh, reason));
        } else {
            memcpy(added[loaded++], pk, 48);
        }
    }
    sigil_secure_free(s);
    sigil_result rr = register_keys(e, (const uint8_t(*)[48])added, loaded);
    free(added);
    if (!sigil_is_ok(rr)) {
        json_decref(failed);
        return refuse(e, id, "slashing_db", "registering keys with slashing protection failed: %s", detail());
    }
    if (last && e->svc == NULL) {
        sigil_result r = start_service(e);
        if (!sigil_is_ok(r)) {
            json_decref(failed);
            return refuse(e, id, "service", "cannot start the signing service: %s: %s", sigil_strerror(r.code),
                          detail());
        }
        sigil_channel_set_state(ch, SIGIL_CH_READY);
        SIGIL_LOG_INFO("ready", SIGIL_LOG_UINT("keys", sigil_keystore_count(e->ks)),
                       SIGIL_LOG_STR("listen", e->http_listen));
    }
    json_t *ack =
        json_pack("{s:I, s:o, s:I, s:s}", "loaded", (json_int_t)loaded, "failed", failed, "total",
                  (json_int_t)sigil_keystore_count(e->ks), "state", sigil_channel_state_name(sigil_channel_state(ch)));
    sigil_result sr = ack != NULL ? sigil_channel_send(ch, SIGIL_MSG_KEYS_ACK, id, ack) : sigil_error(SIGIL_ERR_NOMEM);
    json_decref(ack);
    return sigil_is_ok(sr) ? SIGIL_CH_DONE : SIGIL_CH_CLOSE;
}

static enum sigil_channel_verdict on_status(struct sigil_channel *ch, const json_t *msg, int64_t id, void *ctx)
{
    (void)msg;
    struct enclave *e = ctx;
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:f, s:I, s:I}", "state", sigil_channel_state_name(sigil_channel_state(ch)), "pcr0",
                  e->pcr0, "keys_loaded", (json_int_t)(e->ks ? sigil_keystore_count(e->ks) : 0), "uptime_s",
                  now_s() - e->started, "requests", (json_int_t)0, "expected_keys", (json_int_t)e->expected_keys);
    if (o == NULL) {
        return SIGIL_CH_CLOSE;
    }
    json_object_set_new(o, "last_error", e->last_error[0] ? json_string(e->last_error) : json_null());
    sigil_result r = sigil_channel_send(ch, SIGIL_MSG_STATUS_OK, id, o);
    json_decref(o);
    return sigil_is_ok(r) ? SIGIL_CH_DONE : SIGIL_CH_CLOSE;
}

static enum sigil_channel_verdict on_shutdown(struct sigil_channel *ch, const json_t *msg, int64_t id, void *ctx)
{
    (void)msg;
    struct enclave *e = ctx;
    json_t *o = json_object();
    if (o != NULL) {
        sigil_result r = sigil_channel_send(ch, SIGIL_MSG_SHUTDOWN_OK, id, o);
        (void)r; /* shutting down either way */
        json_decref(o);
    }
    e->shutdown = true;
    sigil_channel_set_state(ch, SIGIL_CH_CLOSED);
    SIGIL_LOG_INFO("shutdown requested", SIGIL_LOG_NONE);
    return SIGIL_CH_DONE;
}

static enum sigil_channel_verdict on_keygen(struct sigil_channel *ch, const json_t *msg, int64_t id, void *ctx)
{
    struct enclave *e = ctx;
    json_int_t count = json_integer_value(json_object_get(msg, "count"));
    const char *chain = jstr(msg, "chain"), *network = jstr(msg, "network"), *wa = jstr(msg, "withdrawal_address"),
               *dkid = jstr(msg, "data_key");
    struct data_key *dk = find_dk(e, dkid);
    uint8_t addr[20], wc[32];
    const struct sigil_deposit_network *dn = NULL;
    if (count < 1 || count > MAX_KEYGEN) {
        return refuse(e, id, "bad_request", "KEYGEN: count must be 1..%d", MAX_KEYGEN);
    }
    if (chain == NULL || strcmp(chain, "eth2") != 0) {
        return refuse(e, id, "bad_request", "KEYGEN: only chain \"eth2\" is supported");
    }
    if (dk == NULL) {
        return refuse(e, id, "bad_request", "KEYGEN: data_key is not one of INIT's data keys");
    }
    if (network == NULL || !sigil_is_ok(sigil_deposit_network_lookup(&dn, network))) {
        return refuse(e, id, "bad_request", "KEYGEN: unknown deposit network: %s", detail());
    }
    if (wa == NULL || !sigil_is_ok(sigil_hex_decode_exact(addr, 20, wa, strlen(wa))) ||
        !sigil_is_ok(sigil_deposit_withdrawal_credentials(wc, SIGIL_DEPOSIT_WC_ETH1, addr))) {
        return refuse(e, id, "bad_request", "KEYGEN: withdrawal_address must be a 20-byte hex address");
    }
    struct key_scratch *s = sigil_secure_alloc(sizeof *s);
    json_t *out = json_array();
    uint8_t(*pks)[48] = calloc((size_t)count, 48);
    size_t made = 0;
    enum sigil_channel_verdict v = SIGIL_CH_DONE;
    if (s == NULL || out == NULL || pks == NULL) {
        v = refuse(e, id, "internal", "out of memory");
        goto out;
    }
    for (json_int_t n = 0; n < count; n++) {
        sigil_bls_pk pk;
        uint8_t ct[32 + SIGIL_ENVELOPE_OVERHEAD];
        size_t ctn = 0;
        struct sigil_deposit_data dd;
        json_t *dj = NULL;
        if (!sigil_random_bytes(s->ikm, sizeof s->ikm) ||
            !sigil_is_ok(sigil_bls_keygen(&s->sk, s->ikm, sizeof s->ikm, NULL, 0))) {
            v = refuse(e, id, "internal", "key generation failed");
            goto out;
        }
        sigil_bls_sk_to_bytes(s->sk_bytes, &s->sk);
        sigil_bls_sk_to_pk(&pk, &s->sk);
        sigil_bls_pk_compress(pks[made], &pk);
        if (!sigil_is_ok(sigil_envelope_seal(ct, sizeof ct, &ctn, dk->key, SIGIL_ENVELOPE_LABEL_KEY, "eth2", pks[made],
                                             48, s->sk_bytes, 32)) ||
            !sigil_is_ok(sigil_deposit_create(&dd, &s->sk, wc, SIGIL_DEPOSIT_DEFAULT_AMOUNT, network, NULL)) ||
            !sigil_is_ok(sigil_deposit_to_json(&dj, &dd)) ||
            !sigil_is_ok(sigil_keystore_add(e->ks, &s->sk, pks[made], "keygen"))) {
            json_decref(dj);
            v = refuse(e, id, "internal", "sealing or registering a generated key failed: %s", detail());
            goto out;
        }
        sigil_wipe(s, sizeof *s);
        char hex[2 * 48 + 3], b64[2 * sizeof ct];
        sigil_hex_encode(hex, pks[made], 48, 1);
        sigil_base64_encode(b64, ct, ctn);
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:o}", "pubkey", hex, "chain", "eth2", "data_key",
                                             dk->id, "ciphertext", b64, "deposit_data", dj));
        made++;
    }
    if (!sigil_is_ok(register_keys(e, (const uint8_t(*)[48])pks, made))) {
        v = refuse(e, id, "slashing_db", "registering generated keys failed: %s", detail());
        goto out;
    }
    SIGIL_LOG_INFO("keys generated", SIGIL_LOG_UINT("count", made));
    json_t *o = json_pack("{s:O}", "keys", out);
    sigil_result r = o != NULL ? sigil_channel_send(ch, SIGIL_MSG_KEYGEN_OK, id, o) : sigil_error(SIGIL_ERR_NOMEM);
    json_decref(o);
    v = sigil_is_ok(r) ? SIGIL_CH_DONE : SIGIL_CH_CLOSE;
out:
    sigil_secure_free(s);
    json_decref(out);
    free(pks);
    return v;
}

/* ---------------------------------------------------------------- the dispatch table: the policy */

#define M(s) SIGIL_CH_MASK(SIGIL_CH_##s)
static const struct sigil_channel_rule enclave_rules[] = {
    /* type                 allowed in                       once   secret handler */
    {SIGIL_MSG_INIT, M(NEW), true, true, on_init},
    {SIGIL_MSG_KEYS_PAGE, M(INITIALIZING) | M(READY), false, false, on_keys_page},
    {SIGIL_MSG_STATUS, M(INITIALIZING) | M(READY), false, false, on_status},
    {SIGIL_MSG_SHUTDOWN, M(NEW) | M(INITIALIZING) | M(READY), true, false, on_shutdown},
    {SIGIL_MSG_KEYGEN, M(READY), false, false, on_keygen},
};
#undef M

int sigil_enclave_main(const struct sigil_enclave_opts *opts)
{
    struct enclave e;
    memset(&e, 0, sizeof e);
    e.opts = opts;
    e.started = now_s();
    snprintf(e.pcr0, sizeof e.pcr0, "%s", "");
    (void)signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        SIGIL_LOG_ERROR("libcurl initialisation failed", SIGIL_LOG_NONE);
        return 1;
    }
    int fd = -1;
    sigil_result r = sigil_transport_serve_one(&fd, opts->control, opts->accept_timeout_ms);
    if (!sigil_is_ok(r)) {
        SIGIL_LOG_ERROR("no control channel", SIGIL_LOG_STR("address", opts->control),
                        SIGIL_LOG_STR("detail", sigil_error_detail()));
        return 1;
    }
    r = sigil_channel_new(&e.ch, fd, enclave_rules, sizeof enclave_rules / sizeof enclave_rules[0], &e);
    if (!sigil_is_ok(r)) {
        (void)close(fd);
        return 1;
    }
    /* From here on, log lines travel to sigil-host as LOG frames (no readable stderr in here). */
    if (!sigil_is_ok(sigil_logrelay_start(e.ch))) {
        SIGIL_LOG_WARN("log relay unavailable; logging to stderr", SIGIL_LOG_NONE);
    }
    SIGIL_LOG_INFO("control channel open", SIGIL_LOG_STR("address", opts->control));
    int code = 3;
    while (sigil_channel_state(e.ch) != SIGIL_CH_CLOSED) {
        r = sigil_channel_dispatch_one(e.ch);
        if (!sigil_is_ok(r)) {
            SIGIL_LOG_ERROR("control channel closed", SIGIL_LOG_STR("error", sigil_strerror(r.code)),
                            SIGIL_LOG_STR("detail", sigil_error_detail()));
            break;
        }
    }
    if (e.shutdown) {
        code = 0;
    }
    if (e.svc != NULL) {
        sigil_service_stop(e.svc);
        if (e.svc_running) {
            pthread_join(e.svc_thread, NULL);
        }
        sigil_service_free(e.svc); /* wipes the key store it owns */
        e.ks = NULL;
    }
    init_reset(&e);
    sigil_logrelay_stop();
    sigil_channel_free(e.ch);
    curl_global_cleanup();
    SIGIL_LOG_INFO("stopped", SIGIL_LOG_INT("exit", code));
    return code;
}
