/* The enclave boot path end to end: the real sigild binary with --control fd:3 on a socketpair,
 * driven by this test playing sigil-host, against a fake KMS inside the test (SigV4 verified,
 * attestation document verified against a dev root, PCR0 policy, CMS built for the document's
 * recipient key). INIT (with a wallet policy) -> KEYS_PAGE (eth2 and eth1 keys, one of each
 * wrong) -> READY -> HTTPS over the unix listener -> KEYGEN eth2 and eth1 -> STATUS -> SHUTDOWN;
 * KMS refusal -> ERROR and state NEW (a retry works); a wrong-state message closes the channel.
 * The audit log: this "host" stores AUDIT frames in a file and answers AUDIT_OK; the chain
 * continues across a restart and verifies (attestation-bound audit key); hostile AUDIT_OK / AUDIT
 * frames close the channel; an unanswered or refused AUDIT disables the wallet, not eth2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "test_net_common.h"

#include "attest/attest.h"
#include "channel/channel.h"
#include "common/hex.h"
#include "common/secmem.h"
#include "crypto/bls.h"
#include "crypto/envelope.h"
#include "audit/audit.h"
#include "eth1/secp256k1.h"
#include "kms/cms.h"
#include "kms/sigv4.h"

#define AKID   "AKIDTESTENCLAVE"
#define SECRET "enclave-test-secret-access-key-0123456789"

static struct test_pki g_pki;
static struct test_server g_kms;
static char *g_root_pem, *g_root_key, *g_leaf_pem, *g_leaf_key;
static char g_policy_pcr0[97]; /* the fake KMS's key policy */
static uint8_t g_data_key[32];
static char g_sigild[512], g_dir[64];
static int g_decrypts;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char tmp[65536];
    size_t n = fread(tmp, 1, sizeof tmp - 1, f);
    fclose(f);
    tmp[n] = '\0';
    return strdup(tmp);
}

/* ---- fake KMS ---- */

static sigil_result lookup(void *ctx, const char *akid, const char *token, char *out, size_t cap, size_t *len)
{
    (void)ctx;
    (void)token;
    if (strcmp(akid, AKID) != 0) {
        return sigil_error(SIGIL_ERR_NOT_FOUND);
    }
    memcpy(out, SECRET, strlen(SECRET) < cap ? strlen(SECRET) : cap);
    *len = strlen(SECRET);
    return sigil_ok();
}

static void kms_error(struct sigil_http_req *req, const char *type, const char *msg)
{
    json_t *o = json_pack("{s:s, s:s}", "__type", type, "message", msg);
    sigil_http_respond_json(req, 400, o);
    json_decref(o);
}

static void kms_handler(struct sigil_http_req *req, void *ctx)
{
    (void)ctx;
    size_t blen = 0;
    const uint8_t *body = sigil_http_req_body(req, &blen);
    static const char *const names[] = {"host", "content-type", "x-amz-target", "x-amz-date", "authorization"};
    struct sigil_sigv4_header h[5];
    size_t nh = 0;
    for (size_t i = 0; i < 5; i++) {
        const char *v = sigil_http_req_header(req, names[i]);
        if (v != NULL) {
            h[nh++] = (struct sigil_sigv4_header){names[i], v};
        }
    }
    struct sigil_sigv4_request sr = {
        .method = "POST", .path = "/", .headers = h, .nheaders = nh, .body = body, .body_len = blen};
    struct sigil_sigv4_verify_params vp = {.service = "kms", .now = time(NULL), .max_skew = 300, .lookup = lookup};
    struct sigil_sigv4_identity id;
    if (!sigil_is_ok(sigil_sigv4_verify(&id, &sr, &vp))) {
        kms_error(req, sigil_sigv4_verdict_aws_error(id.verdict), "signature");
        return;
    }
    const char *target = sigil_http_req_header(req, "x-amz-target");
    json_t *j = json_loadb((const char *)body, blen, 0, NULL);
    const char *blob = json_string_value(json_object_get(j, "CiphertextBlob"));
    const char *docb = json_string_value(json_object_get(json_object_get(j, "Recipient"), "AttestationDocument"));
    if (target == NULL || strcmp(target, "TrentService.Decrypt") != 0 || blob == NULL || docb == NULL) {
        kms_error(req, "ValidationException", "Decrypt with Recipient expected");
        json_decref(j);
        return;
    }
    static uint8_t doc[SIGIL_ATTEST_MAX_DOC];
    size_t dn = 0;
    static struct sigil_attest_doc d;
    struct sigil_attest_verify_opts vo = {.root_pem = g_root_pem, .root_pem_len = strlen(g_root_pem)};
    if (!sigil_is_ok(sigil_base64_decode(doc, sizeof doc, &dn, docb, strlen(docb))) ||
        !sigil_is_ok(sigil_attest_verify(&d, doc, dn, &vo))) {
        kms_error(req, "AccessDeniedException", "attestation document does not verify");
        json_decref(j);
        return;
    }
    char pcr0[97];
    sigil_hex_encode(pcr0, d.pcrs[0], 48, 0);
    if (strcmp(pcr0, g_policy_pcr0) != 0) {
        kms_error(req, "AccessDeniedException", "key policy requires another kms:RecipientAttestation:PCR0");
        json_decref(j);
        return;
    }
    /* the fake CiphertextBlob is "FAKE" || data key */
    uint8_t raw[64];
    size_t rn = 0;
    if (!sigil_is_ok(sigil_base64_decode(raw, sizeof raw, &rn, blob, strlen(blob))) || rn != 36 ||
        memcmp(raw, "FAKE", 4) != 0) {
        kms_error(req, "InvalidCiphertextException", "bad blob");
        json_decref(j);
        return;
    }
    uint8_t *cms = NULL;
    size_t cn = 0;
    assert_true(sigil_is_ok(sigil_kms_cms_build_for_spki(&cms, &cn, raw + 4, 32, d.public_key, d.public_key_len)));
    char *b64 = malloc(cn * 2 + 4);
    sigil_base64_encode(b64, cms, cn);
    json_t *o = json_pack("{s:s, s:s}", "KeyId", "fake-key", "CiphertextForRecipient", b64);
    sigil_http_respond_json(req, 200, o);
    g_decrypts++;
    json_decref(o);
    free(b64);
    free(cms);
    json_decref(j);
}

static int setup(void **state)
{
    (void)state;
    const char *bin = getenv("SIGIL_BIN");
    snprintf(g_sigild, sizeof g_sigild, "%s/sigild", bin != NULL ? bin : "bin");
    if (access(g_sigild, X_OK) != 0) {
        print_message("sigild binary not found at %s\n", g_sigild);
        return -1;
    }
    pki_create(&g_pki);
    assert_true(sigil_is_ok(sigil_attest_dev_root_new(&g_root_pem, &g_root_key)));
    assert_true(sigil_is_ok(sigil_attest_dev_issue(&g_leaf_pem, &g_leaf_key, g_root_pem, g_root_key, 3600)));
    uint8_t pcr0[48];
    assert_true(sigil_is_ok(sigil_attest_image_sha384(pcr0, g_sigild)));
    sigil_hex_encode(g_policy_pcr0, pcr0, 48, 0);
    assert_true(sigil_random_bytes(g_data_key, 32));
    struct sigil_tls_config tc = {.cert_file = g_pki.server_cert, .key_file = g_pki.server_key};
    struct sigil_http_config hc = {.listen = "127.0.0.1:0", .tls = &tc};
    assert_true(sigil_is_ok(sigil_http_server_new(&g_kms.srv, &hc)));
    assert_true(sigil_is_ok(sigil_http_route(g_kms.srv, "POST", "/", false, kms_handler, NULL)));
    test_server_start(&g_kms);
    snprintf(g_dir, sizeof g_dir, "/tmp/sigil-encl-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_server_stop(&g_kms);
    pki_destroy(&g_pki);
    return 0;
}

/* ---- playing sigil-host ---- */

struct child {
    pid_t pid;
    int fd;
};

static void spawn(struct child *c)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(sv[1], 3); /* dup2 clears CLOEXEC on the copy */
        execl(g_sigild, g_sigild, "--control", "fd:3", "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    c->fd = sv[0];
}

static int reap(struct child *c)
{
    close(c->fd);
    int st = 0;
    for (int i = 0; i < 500; i++) {
        if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(20000);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
    return -1;
}

static unsigned g_log_frames; /* LOG frames seen: sigild's log reaches the host */

/* How this "host" treats AUDIT frames. */
enum audit_mode { AUDIT_STORE, AUDIT_IGNORE, AUDIT_REFUSE };
static enum audit_mode g_audit_mode = AUDIT_STORE;
static char g_audit_path[128];  /* where AUDIT_STORE appends */
static unsigned g_audit_frames; /* AUDIT frames seen */
static json_int_t g_audit_last_id;
static unsigned g_audit_refuse_after; /* AUDIT_STORE: refuse every frame after this many (0: never) */

/* Like sigil-host: appends the lines, then answers AUDIT_OK (or not, or ERROR). */
static void serve_audit(struct child *c, const uint8_t *p, size_t n)
{
    json_t *m = json_loadb((const char *)p, n, 0, NULL);
    assert_true(json_is_object(m));
    json_int_t id = json_integer_value(json_object_get(m, "id"));
    const json_t *lines = json_object_get(m, "lines");
    assert_true(json_is_string(lines));
    const char *t = json_string_value(lines);
    size_t tl = json_string_length(lines);
    assert_true(tl > 0 && t[tl - 1] == '\n');
    g_audit_frames++;
    g_audit_last_id = id;
    enum audit_mode mode = g_audit_mode;
    if (mode == AUDIT_STORE && g_audit_refuse_after != 0 && g_audit_frames > g_audit_refuse_after) {
        mode = AUDIT_REFUSE;
    }
    if (mode == AUDIT_STORE) {
        FILE *f = fopen(g_audit_path, "a");
        assert_non_null(f);
        assert_int_equal(fwrite(t, 1, tl, f), tl);
        assert_int_equal(fclose(f), 0);
        json_t *ok = json_pack("{s:I}", "id", id);
        assert_true(sigil_is_ok(sigil_frame_write_json(c->fd, SIGIL_MSG_AUDIT_OK, ok, 5000)));
        json_decref(ok);
    } else if (mode == AUDIT_REFUSE) {
        json_t *e = json_pack("{s:I, s:s, s:s}", "id", id, "code", "audit_io", "message", "disk full");
        assert_true(sigil_is_ok(sigil_frame_write_json(c->fd, SIGIL_MSG_ERROR, e, 5000)));
        json_decref(e);
    }
    json_decref(m);
}

static uint8_t call(struct child *c, uint8_t type, json_t *msg, json_t **ans)
{
    assert_true(sigil_is_ok(sigil_frame_write_json(c->fd, type, msg, 5000)));
    json_decref(msg);
    uint8_t t = 0, *p = NULL;
    size_t n = 0;
    bool sec = false;
    /* Like sigil-host: LOG frames (sigild's relayed log lines) and AUDIT requests may come before
     * the answer. */
    for (;;) {
        sigil_result r = sigil_frame_read(c->fd, &t, &p, &n, &sec, NULL, NULL, 30000);
        if (!sigil_is_ok(r)) {
            *ans = NULL;
            return 0;
        }
        if (t == SIGIL_MSG_LOG) {
            json_t *line = json_loadb((const char *)p, n, 0, NULL);
            assert_true(json_is_object(line)); /* every relayed line is a JSON log object */
            g_log_frames++;
            json_decref(line);
            free(p);
            continue;
        }
        if (t == SIGIL_MSG_AUDIT) {
            serve_audit(c, p, n);
            free(p);
            continue;
        }
        break;
    }
    *ans = json_loadb((const char *)p, n, 0, NULL);
    free(p);
    return t;
}

static char *b64(const uint8_t *p, size_t n)
{
    char *s = malloc(n * 2 + 4);
    sigil_base64_encode(s, p, n);
    return s;
}

static json_t *init_msg(const char *db_name)
{
    char *cert = slurp(g_pki.server_cert), *key = slurp(g_pki.server_key), *ca = slurp(g_pki.ca_cert);
    uint8_t blob[36];
    memcpy(blob, "FAKE", 4);
    memcpy(blob + 4, g_data_key, 32);
    /* TLS key envelope: AAD = "sigil-tls-v1" || SHA-256(leaf DER) */
    BIO *bio = BIO_new_mem_buf(cert, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    unsigned char *der = NULL;
    int dl = i2d_X509(x, &der);
    uint8_t h[32];
    SHA256(der, (size_t)dl, h);
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    static uint8_t ct[8192];
    size_t ctn = 0;
    assert_true(sigil_is_ok(sigil_envelope_seal(ct, sizeof ct, &ctn, g_data_key, SIGIL_ENVELOPE_LABEL_TLS, "", h, 32,
                                                (const uint8_t *)key, strlen(key))));
    char endpoint[64], db[256], listen[256];
    snprintf(endpoint, sizeof endpoint, "https://127.0.0.1:%u", g_kms.port);
    snprintf(db, sizeof db, "sqlite:%s/%s", g_dir, db_name);
    snprintf(listen, sizeof listen, "unix:%s/sigild.sock", g_dir);
    char *blob64 = b64(blob, sizeof blob), *ct64 = b64(ct, ctn);
    json_t *m = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:[{s:s, s:s}],"
                          " s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:i}",
                          "kms", "endpoint", endpoint, "region", "us-east-1", "key_id", "fake-key", "ca_pem", ca,
                          "access_key_id", AKID, "secret_access_key", SECRET, "attestation", "mode", "simulated",
                          "sim_leaf_cert_pem", g_leaf_pem, "sim_leaf_key_pem", g_leaf_key, "sim_chain_pem", g_root_pem,
                          "data_keys", "id", "dk-1", "ciphertext_blob", blob64, "tls", "cert_pem", cert, "data_key",
                          "dk-1", "key_ciphertext", ct64, "service", "network", "mainnet", "slashing_db_url", db,
                          "http_listen", listen, "expected_keys", 3);
    assert_non_null(m);
    json_object_set_new(m, "id", json_integer(1));
    free(cert);
    free(key);
    free(ca);
    free(blob64);
    free(ct64);
    return m;
}

/* A validator key envelope for a fresh random key; with wrong_pk the page claims another pubkey. */
static json_t *key_entry(bool wrong_pk, char pkhex[99])
{
    uint8_t ikm[32], skb[32], pk[48];
    sigil_bls_sk sk;
    sigil_bls_pk p;
    assert_true(sigil_random_bytes(ikm, 32));
    assert_true(sigil_is_ok(sigil_bls_keygen(&sk, ikm, 32, NULL, 0)));
    sigil_bls_sk_to_bytes(skb, &sk);
    sigil_bls_sk_to_pk(&p, &sk);
    sigil_bls_pk_compress(pk, &p);
    if (wrong_pk) {
        sigil_bls_sk other;
        ikm[0] ^= 1;
        assert_true(sigil_is_ok(sigil_bls_keygen(&other, ikm, 32, NULL, 0)));
        sigil_bls_sk_to_pk(&p, &other);
        sigil_bls_pk_compress(pk, &p);
    }
    uint8_t ct[128];
    size_t n = 0;
    assert_true(sigil_is_ok(
        sigil_envelope_seal(ct, sizeof ct, &n, g_data_key, SIGIL_ENVELOPE_LABEL_KEY, "eth2", pk, 48, skb, 32)));
    sigil_hex_encode(pkhex, pk, 48, 1);
    char *c64 = b64(ct, n);
    json_t *e =
        json_pack("{s:s, s:s, s:s, s:s}", "pubkey", pkhex, "chain", "eth2", "data_key", "dk-1", "ciphertext", c64);
    free(c64);
    return e;
}

/* An eth1 key envelope for a fresh key: 0 good, 1 claims another address (opens, key mismatch),
 * 2 tampered ciphertext. */
static json_t *eth1_entry(int flavour, char addrhex[43])
{
    sigil_secp256k1_sk *sk = NULL;
    uint8_t addr[20], *skb = sigil_secure_alloc(32);
    assert_non_null(skb);
    assert_true(sigil_is_ok(sigil_secp256k1_sk_generate(&sk)));
    assert_true(sigil_is_ok(sigil_secp256k1_address(addr, sk)));
    sigil_secp256k1_sk_export(skb, sk);
    sigil_secp256k1_sk_free(sk);
    if (flavour == 1) {
        addr[0] ^= 1;
    }
    uint8_t ct[128];
    size_t n = 0;
    assert_true(sigil_is_ok(
        sigil_envelope_seal(ct, sizeof ct, &n, g_data_key, SIGIL_ENVELOPE_LABEL_KEY, "eth1", addr, 20, skb, 32)));
    sigil_secure_free(skb);
    if (flavour == 2) {
        ct[20] ^= 1;
    }
    sigil_hex_encode(addrhex, addr, 20, 1);
    char *c64 = b64(ct, n);
    json_t *e =
        json_pack("{s:s, s:s, s:s, s:s}", "address", addrhex, "chain", "eth1", "data_key", "dk-1", "ciphertext", c64);
    free(c64);
    return e;
}

static const char g_policy[] = "{\"version\":1,\"policies\":[{\"name\":\"wallet\",\"keys\":[\"*\"],"
                               "\"chain_ids\":[1,11155111],\"max_value_wei\":\"1000000000000000000\"}]}";

static void fresh_audit(const char *name)
{
    snprintf(g_audit_path, sizeof g_audit_path, "%s/%s", g_dir, name);
    (void)unlink(g_audit_path);
    int fd = open(g_audit_path, O_WRONLY | O_CREAT | O_EXCL, 0600); /* as the host's file sink creates it */
    assert_true(fd >= 0);
    close(fd);
    g_audit_mode = AUDIT_STORE;
    g_audit_frames = 0;
}

/* Verifies the log this "host" kept: clean, every start record attested under the dev root. */
static void verify_audit(struct sigil_audit_report *rep)
{
    struct sigil_audit_verify_opts vo = {.attestation_root_pem = g_root_pem, .require_attestation = true};
    memset(rep, 0, sizeof *rep);
    sigil_result r = sigil_audit_verify_file(g_audit_path, &vo, rep);
    if (!sigil_is_ok(r)) {
        print_message("audit verify: %s (%s)\n", rep->first_problem, sigil_error_detail());
    }
    assert_true(sigil_is_ok(r));
    assert_int_equal(rep->problems, 0);
}

static int unix_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof un.sun_path);
    memcpy(un.sun_path, path, strlen(path) + 1);
    assert_int_equal(connect(fd, (struct sockaddr *)&un, sizeof un), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void https_unix(const char *method, const char *path, const char *body, struct tresp *out)
{
    char sock[256];
    snprintf(sock, sizeof sock, "%s/sigild.sock", g_dir);
    struct tconn c = {.fd = unix_connect(sock)};
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, g_pki.ca_cert, NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    c.ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    SSL_set_fd(c.ssl, c.fd);
    SSL_set_tlsext_host_name(c.ssl, "localhost");
    assert_int_equal(SSL_connect(c.ssl), 1); /* the certificate verifies: the key came out of the envelope */
    assert_true(tconn_request(&c, method, path, body, out));
    tconn_close(&c);
}

static void test_boot_sign_keygen_shutdown(void **state)
{
    (void)state;
    fresh_audit("audit-boot.jsonl");
    struct child c;
    spawn(&c);
    json_t *a = NULL;
    json_t *init = init_msg("ok.db");
    json_object_set_new(json_object_get(init, "service"), "policy", json_string(g_policy));
    assert_int_equal(call(&c, SIGIL_MSG_INIT, init, &a), SIGIL_MSG_INIT_OK);
    assert_string_equal(json_string_value(json_object_get(a, "pcr0")), g_policy_pcr0);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "INITIALIZING");
    uint8_t ph[32];
    char phx[67];
    SHA256((const uint8_t *)g_policy, strlen(g_policy), ph);
    sigil_hex_encode(phx, ph, 32, 1);
    assert_string_equal(json_string_value(json_object_get(a, "policy_hash")), phx);
    json_decref(a);
    char pk1[99], pk2[99], bad[99], e1[43], e1bad[43], e1tamp[43];
    json_t *page = json_pack("{s:i, s:[o,o,o,o,o], s:b}", "id", 2, "keys", key_entry(false, pk1), key_entry(true, bad),
                             eth1_entry(0, e1), eth1_entry(1, e1bad), eth1_entry(2, e1tamp), "last", 0);
    assert_int_equal(call(&c, SIGIL_MSG_KEYS_PAGE, page, &a), SIGIL_MSG_KEYS_ACK);
    assert_int_equal(json_integer_value(json_object_get(a, "id")), 2);
    assert_int_equal(json_integer_value(json_object_get(a, "loaded")), 2);
    assert_int_equal(json_integer_value(json_object_get(a, "eth1_keys")), 1);
    json_t *f = json_object_get(a, "failed");
    assert_int_equal(json_array_size(f), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 0), "pubkey")), bad);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(f, 0), "reason")), "pubkey"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 1), "address")), e1bad);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(f, 1), "reason")), "does not match"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 2), "address")), e1tamp);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(f, 2), "reason")), "does not open"));
    json_decref(a);
    page = json_pack("{s:i, s:[o], s:b}", "id", 3, "keys", key_entry(false, pk2), "last", 1);
    assert_int_equal(call(&c, SIGIL_MSG_KEYS_PAGE, page, &a), SIGIL_MSG_KEYS_ACK);
    assert_int_equal(json_integer_value(json_object_get(a, "total")), 3);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "READY");
    json_decref(a);
    assert_true(g_audit_frames >= 1); /* the start record went to the "host" before READY */

    /* the wallet key is live in the service: eth1 publicKeys */
    static struct tresp r1;
    https_unix("GET", "/api/v1/eth1/publicKeys", NULL, &r1);
    assert_int_equal(r1.status, 200);
    print_message("eth1 publicKeys: %.200s\n", r1.body);

    /* HTTPS over the unix listener, with the TLS key that came through the envelope */
    static struct tresp r;
    https_unix("GET", "/api/v1/eth2/publicKeys", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, pk1));
    assert_non_null(strstr(r.body, pk2));
    char path[160], body[1024];
    snprintf(path, sizeof path, "/api/v1/eth2/sign/%s", pk1);
    snprintf(body, sizeof body,
             "{\"type\":\"RANDAO_REVEAL\",\"fork_info\":{\"fork\":{\"previous_version\":\"0x04000000\","
             "\"current_version\":\"0x05000000\",\"epoch\":\"364032\"},\"genesis_validators_root\":"
             "\"0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95\"},\"randao_reveal\":{\"epoch\":"
             "\"364100\"}}");
    https_unix("POST", path, body, &r);
    if (r.status != 200) {
        print_message("sign answered %d: %s\n", r.status, r.body);
    }
    assert_int_equal(r.status, 200);

    /* KEYGEN: the ciphertext opens to a key whose public key is the one reported */
    json_t *kg = json_pack("{s:i, s:i, s:s, s:s, s:s, s:s}", "id", 4, "count", 2, "chain", "eth2", "network", "hoodi",
                           "withdrawal_address", "0x00000000219ab540356cbb839cbe05303d7705fa", "data_key", "dk-1");
    assert_int_equal(call(&c, SIGIL_MSG_KEYGEN, kg, &a), SIGIL_MSG_KEYGEN_OK);
    json_t *keys = json_object_get(a, "keys");
    assert_int_equal(json_array_size(keys), 2);
    json_t *k0 = json_array_get(keys, 0);
    uint8_t pk[48], ct[128], *sk = sigil_secure_alloc(32);
    size_t ctn = 0, skn = 0;
    const char *pkh = json_string_value(json_object_get(k0, "pubkey")),
               *c64 = json_string_value(json_object_get(k0, "ciphertext"));
    assert_true(sigil_is_ok(sigil_hex_decode_exact(pk, 48, pkh, strlen(pkh))));
    assert_true(sigil_is_ok(sigil_base64_decode(ct, sizeof ct, &ctn, c64, strlen(c64))));
    assert_true(
        sigil_is_ok(sigil_envelope_open(sk, 32, &skn, g_data_key, SIGIL_ENVELOPE_LABEL_KEY, "eth2", pk, 48, ct, ctn)));
    sigil_bls_sk s;
    sigil_bls_pk p;
    uint8_t derived[48];
    assert_true(sigil_is_ok(sigil_bls_sk_from_bytes(&s, sk)));
    sigil_bls_sk_to_pk(&p, &s);
    sigil_bls_pk_compress(derived, &p);
    assert_memory_equal(derived, pk, 48);
    sigil_secure_free(sk);
    assert_non_null(json_object_get(json_object_get(k0, "deposit_data"), "deposit_data_root"));
    json_decref(a);

    /* KEYGEN eth1: each envelope opens (AAD bound to the address) to a key with that address */
    unsigned before = g_audit_frames;
    kg = json_pack("{s:i, s:i, s:s, s:s}", "id", 7, "count", 2, "chain", "eth1", "data_key", "dk-1");
    assert_int_equal(call(&c, SIGIL_MSG_KEYGEN, kg, &a), SIGIL_MSG_KEYGEN_OK);
    keys = json_object_get(a, "keys");
    assert_int_equal(json_array_size(keys), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *k = json_array_get(keys, i);
        const char *ah = json_string_value(json_object_get(k, "address"));
        c64 = json_string_value(json_object_get(k, "ciphertext"));
        assert_string_equal(json_string_value(json_object_get(k, "chain")), "eth1");
        assert_null(json_object_get(k, "secret"));
        uint8_t addr[20], got[20];
        uint8_t *esk = sigil_secure_alloc(32);
        sigil_secp256k1_sk *sk1 = NULL;
        assert_true(sigil_is_ok(sigil_hex_decode_exact(addr, 20, ah, strlen(ah))));
        assert_true(sigil_is_ok(sigil_base64_decode(ct, sizeof ct, &ctn, c64, strlen(c64))));
        assert_true(sigil_is_ok(
            sigil_envelope_open(esk, 32, &skn, g_data_key, SIGIL_ENVELOPE_LABEL_KEY, "eth1", addr, 20, ct, ctn)));
        assert_true(sigil_is_ok(sigil_secp256k1_sk_from_bytes(&sk1, esk)));
        assert_true(sigil_is_ok(sigil_secp256k1_address(got, sk1)));
        assert_memory_equal(got, addr, 20);
        sigil_secp256k1_sk_free(sk1);
        sigil_secure_free(esk);
    }
    json_decref(a);
    assert_true(g_audit_frames >= before + 1); /* each generated key is audited before it is released */
    /* KEYGEN hostile values: a refusal, the channel stays open */
    kg = json_pack("{s:i, s:i, s:s, s:s}", "id", 8, "count", 101, "chain", "eth1", "data_key", "dk-1");
    assert_int_equal(call(&c, SIGIL_MSG_KEYGEN, kg, &a), SIGIL_MSG_ERROR);
    json_decref(a);
    kg = json_pack("{s:i, s:i, s:s, s:s}", "id", 9, "count", 1, "chain", "eth1", "data_key", "dk-unknown");
    assert_int_equal(call(&c, SIGIL_MSG_KEYGEN, kg, &a), SIGIL_MSG_ERROR);
    json_decref(a);

    assert_int_equal(call(&c, SIGIL_MSG_STATUS, json_pack("{s:i}", "id", 5), &a), SIGIL_MSG_STATUS_OK);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "READY");
    assert_int_equal(json_integer_value(json_object_get(a, "keys_loaded")), 4);
    assert_int_equal(json_integer_value(json_object_get(a, "eth1_keys")), 3);
    assert_string_equal(json_string_value(json_object_get(a, "policy_hash")), phx);
    assert_string_equal(json_string_value(json_object_get(a, "policy")), "loaded");
    assert_string_equal(json_string_value(json_object_get(a, "wallet")), "enabled");
    assert_non_null(json_string_value(json_object_get(json_object_get(a, "audit"), "address")));
    assert_non_null(strstr(json_string_value(json_object_get(a, "last_error")), "data_key")); /* the last refusal */
    json_decref(a);
    assert_int_equal(call(&c, SIGIL_MSG_SHUTDOWN, json_pack("{s:i}", "id", 6), &a), SIGIL_MSG_SHUTDOWN_OK);
    json_decref(a);
    assert_int_equal(reap(&c), 0);
    struct sigil_audit_report rep;
    verify_audit(&rep);
    assert_int_equal(rep.starts, 1);
    assert_true(rep.decisions >= 2);        /* the two keygen records */
    assert_int_equal(rep.unsigned_tail, 0); /* SHUTDOWN closed the log with a checkpoint */
}

/* A fresh sigild boots to READY with no validator keys, with the given INIT "audit" object. */
static void boot_empty(struct child *c, const char *db, json_t *audit)
{
    json_t *a = NULL;
    spawn(c);
    json_t *init = init_msg(db);
    if (audit != NULL) {
        json_object_set_new(init, "audit", audit);
    }
    assert_int_equal(call(c, SIGIL_MSG_INIT, init, &a), SIGIL_MSG_INIT_OK);
    json_decref(a);
    json_t *page = json_pack("{s:i, s:[], s:b}", "id", 2, "keys", "last", 1);
    assert_int_equal(call(c, SIGIL_MSG_KEYS_PAGE, page, &a), SIGIL_MSG_KEYS_ACK);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "READY");
    json_decref(a);
}

/* The tail of the "host's" log, as sigil-host reads it for INIT. */
static json_t *audit_tail(void)
{
    struct sigil_audit_sink sk;
    uint64_t next = 0;
    uint8_t prev[32];
    char hx[67];
    assert_true(sigil_is_ok(sigil_audit_file_sink(&sk, g_audit_path, &next, prev)));
    if (sk.close != NULL) {
        sk.close(sk.ctx);
    }
    return json_pack("{s:I, s:s}", "next_seq", (json_int_t)next, "prev_hash", sigil_hex_encode(hx, prev, 32, 1));
}

static void shutdown_child(struct child *c)
{
    json_t *a = NULL;
    assert_int_equal(call(c, SIGIL_MSG_SHUTDOWN, json_pack("{s:i}", "id", 99), &a), SIGIL_MSG_SHUTDOWN_OK);
    json_decref(a);
    assert_int_equal(reap(c), 0);
}

static void test_audit_chain_across_restart(void **state)
{
    (void)state;
    fresh_audit("audit-restart.jsonl");
    struct child c;
    boot_empty(&c, "restart.db", NULL);
    shutdown_child(&c);
    /* the second life continues the chain from the file's tail, and signs a keygen record */
    boot_empty(&c, "restart.db", audit_tail());
    json_t *a = NULL;
    json_t *kg = json_pack("{s:i, s:i, s:s, s:s}", "id", 3, "count", 1, "chain", "eth1", "data_key", "dk-1");
    assert_int_equal(call(&c, SIGIL_MSG_KEYGEN, kg, &a), SIGIL_MSG_KEYGEN_OK);
    json_decref(a);
    shutdown_child(&c);
    struct sigil_audit_report rep;
    verify_audit(&rep);
    assert_int_equal(rep.starts, 2);
    assert_int_equal(rep.decisions, 1);
    /* a host that loses the tail (a new chain in the same file) is caught by the verifier */
    boot_empty(&c, "restart.db", NULL);
    shutdown_child(&c);
    struct sigil_audit_verify_opts vo = {.attestation_root_pem = g_root_pem};
    memset(&rep, 0, sizeof rep);
    assert_int_equal(sigil_audit_verify_file(g_audit_path, &vo, &rep).code, SIGIL_ERR_CRYPTO);
    assert_true(rep.problems > 0);
    print_message("broken chain reported: %s\n", rep.first_problem);
}

/* Expects sigild to close the channel (no answer) and exit 3. */
static void expect_violation(struct child *c, uint8_t type, json_t *msg)
{
    json_t *a = NULL;
    assert_int_equal(call(c, type, msg, &a), 0);
    assert_null(a);
    assert_int_equal(reap(c), 3);
}

/* INIT for a fresh audit log (a new chain at seq 0), sigild waiting ack_ms for each AUDIT_OK. */
static json_t *init_fresh_audit(const char *db_name, int ack_ms)
{
    json_t *init = init_msg(db_name);
    json_object_set_new(init, "audit",
                        json_pack("{s:i, s:s, s:i}", "next_seq", 0, "prev_hash",
                                  "0000000000000000000000000000000000000000000000000000000000000000", "ack_timeout_ms",
                                  ack_ms));
    return init;
}

static void test_audit_hostile(void **state)
{
    (void)state;
    fresh_audit("audit-hostile.jsonl");
    struct child c;
    json_t *a = NULL;
    /* AUDIT_OK before INIT (state NEW) */
    spawn(&c);
    expect_violation(&c, SIGIL_MSG_AUDIT_OK, json_pack("{s:i}", "id", 1));
    /* AUDIT_OK answering nothing sigild asked */
    spawn(&c);
    assert_int_equal(call(&c, SIGIL_MSG_INIT, init_msg("hostile.db"), &a), SIGIL_MSG_INIT_OK);
    json_decref(a);
    expect_violation(&c, SIGIL_MSG_AUDIT_OK, json_pack("{s:i}", "id", 4242));
    /* an AUDIT from the host: requests of that type only go the other way */
    spawn(&c);
    assert_int_equal(call(&c, SIGIL_MSG_INIT, init_msg("hostile.db"), &a), SIGIL_MSG_INIT_OK);
    json_decref(a);
    expect_violation(&c, SIGIL_MSG_AUDIT, json_pack("{s:i, s:s}", "id", 5, "lines", "{}\n"));
    /* an ERROR frame nobody asked for */
    boot_empty(&c, "hostile.db", audit_tail());
    expect_violation(&c, SIGIL_MSG_ERROR, json_pack("{s:i, s:s, s:s}", "id", 777, "code", "x", "message", "y"));
    /* a bad audit object in INIT is refused (sigild stays NEW) */
    spawn(&c);
    json_t *init = init_msg("hostile.db");
    json_object_set_new(init, "audit", json_pack("{s:i, s:s}", "next_seq", -1, "prev_hash", "00"));
    assert_int_equal(call(&c, SIGIL_MSG_INIT, init, &a), SIGIL_MSG_ERROR);
    assert_non_null(strstr(json_string_value(json_object_get(a, "message")), "audit"));
    json_decref(a);
    init = init_msg("hostile.db");
    json_object_set_new(json_object_get(init, "service"), "policy", json_string("{\"version\":2}"));
    assert_int_equal(call(&c, SIGIL_MSG_INIT, init, &a), SIGIL_MSG_ERROR);
    assert_non_null(strstr(json_string_value(json_object_get(a, "message")), "service.policy"));
    json_decref(a);
    shutdown_child(&c);
}

/* A host that never answers (or refuses) AUDIT: the audit log cannot open, so the wallet is off
 * (no eth1 key signs unaudited) while eth2 keeps working; a late AUDIT_OK is dropped. */
static void test_audit_unanswered_disables_wallet(void **state)
{
    (void)state;
    for (int mode = AUDIT_IGNORE; mode <= AUDIT_REFUSE; mode++) {
        fresh_audit("audit-unanswered.jsonl");
        g_audit_mode = (enum audit_mode)mode;
        struct child c;
        json_t *a = NULL;
        spawn(&c);
        assert_int_equal(call(&c, SIGIL_MSG_INIT, init_fresh_audit("unanswered.db", 300), &a), SIGIL_MSG_INIT_OK);
        json_decref(a);
        char pk[99], e1[43];
        json_t *page = json_pack("{s:i, s:[o], s:b}", "id", 2, "keys", key_entry(false, pk), "last", 0);
        assert_int_equal(call(&c, SIGIL_MSG_KEYS_PAGE, page, &a), SIGIL_MSG_KEYS_ACK);
        json_decref(a);
        page = json_pack("{s:i, s:[o], s:b}", "id", 3, "keys", eth1_entry(0, e1), "last", 1);
        assert_int_equal(call(&c, SIGIL_MSG_KEYS_PAGE, page, &a), SIGIL_MSG_KEYS_ACK);
        assert_string_equal(json_string_value(json_object_get(a, "state")), "READY");
        json_decref(a);
        assert_true(g_audit_frames >= 1);
        if (mode == AUDIT_IGNORE) { /* the answer comes far too late: dropped, not a violation */
            json_t *late = json_pack("{s:I}", "id", g_audit_last_id);
            assert_true(sigil_is_ok(sigil_frame_write_json(c.fd, SIGIL_MSG_AUDIT_OK, late, 5000)));
            json_decref(late);
        }
        assert_int_equal(call(&c, SIGIL_MSG_STATUS, json_pack("{s:i}", "id", 4), &a), SIGIL_MSG_STATUS_OK);
        assert_string_equal(json_string_value(json_object_get(a, "wallet")), "disabled");
        assert_int_equal(json_integer_value(json_object_get(a, "eth1_keys")), 0);
        assert_non_null(strstr(json_string_value(json_object_get(a, "last_error")), "audit"));
        json_decref(a);
        json_t *kg = json_pack("{s:i, s:i, s:s, s:s}", "id", 5, "count", 1, "chain", "eth1", "data_key", "dk-1");
        assert_int_equal(call(&c, SIGIL_MSG_KEYGEN, kg, &a), SIGIL_MSG_ERROR);
        assert_non_null(strstr(json_string_value(json_object_get(a, "message")), "wallet is disabled"));
        json_decref(a);
        /* eth2 still signs */
        static struct tresp r;
        https_unix("GET", "/api/v1/eth2/publicKeys", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, pk));
        g_audit_mode = AUDIT_STORE;
        shutdown_child(&c);
    }
}

/* An eth1 KEYGEN that fails part-way (the host refuses the second key's audit record) answers
 * ERROR and leaves no generated key in the ring: the host never got their envelopes, so such a key
 * would sign until the next start and then be gone. */
static void test_keygen_failure_keeps_no_key(void **state)
{
    (void)state;
    fresh_audit("audit-keygen-fail.jsonl");
    struct child c;
    json_t *a = NULL;
    spawn(&c);
    assert_int_equal(call(&c, SIGIL_MSG_INIT, init_fresh_audit("keygen-fail.db", 2000), &a), SIGIL_MSG_INIT_OK);
    json_decref(a);
    char e1[43];
    json_t *page = json_pack("{s:i, s:[o], s:b}", "id", 2, "keys", eth1_entry(0, e1), "last", 1);
    assert_int_equal(call(&c, SIGIL_MSG_KEYS_PAGE, page, &a), SIGIL_MSG_KEYS_ACK);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "READY");
    json_decref(a);
    g_audit_refuse_after = g_audit_frames + 1; /* the first generated key's record is stored */
    json_t *kg = json_pack("{s:i, s:i, s:s, s:s}", "id", 3, "count", 2, "chain", "eth1", "data_key", "dk-1");
    assert_int_equal(call(&c, SIGIL_MSG_KEYGEN, kg, &a), SIGIL_MSG_ERROR);
    assert_string_equal(json_string_value(json_object_get(a, "code")), "audit");
    json_decref(a);
    assert_int_equal(call(&c, SIGIL_MSG_STATUS, json_pack("{s:i}", "id", 4), &a), SIGIL_MSG_STATUS_OK);
    assert_int_equal(json_integer_value(json_object_get(a, "eth1_keys")), 1); /* the imported key only */
    json_decref(a);
    g_audit_refuse_after = 0;
    shutdown_child(&c);
}

static void test_kms_refusal_then_retry(void **state)
{
    (void)state;
    char saved[97];
    memcpy(saved, g_policy_pcr0, sizeof saved);
    memset(g_policy_pcr0, 'a', 96); /* a policy bound to another image */
    struct child c;
    spawn(&c);
    json_t *a = NULL;
    assert_int_equal(call(&c, SIGIL_MSG_INIT, init_msg("refused.db"), &a), SIGIL_MSG_ERROR);
    assert_string_equal(json_string_value(json_object_get(a, "code")), "kms_refused");
    const char *m = json_string_value(json_object_get(a, "message"));
    assert_non_null(strstr(m, "AccessDeniedException"));
    assert_non_null(strstr(m, "PCR0"));
    assert_null(strstr(m, SECRET));
    json_decref(a);
    /* still NEW: the supervisor fixes the policy and retries, this time through the in-sandbox
     * forwarder (127.0.0.1:fport relayed to the "host's outbound endpoint", here the KMS port) */
    memcpy(g_policy_pcr0, saved, sizeof saved);
    int before = g_decrypts;
    json_t *init = init_msg("refused.db");
    char via[64];
    snprintf(via, sizeof via, "tcp:127.0.0.1:%u", g_kms.port);
    int fport = 20000 + (int)(getpid() % 20000);
    json_object_set_new(json_object_get(init, "kms"), "forward", json_pack("{s:i, s:s}", "port", fport, "via", via));
    assert_int_equal(call(&c, SIGIL_MSG_INIT, init, &a), SIGIL_MSG_INIT_OK);
    assert_int_equal(g_decrypts, before + 1);
    json_decref(a);
    assert_int_equal(call(&c, SIGIL_MSG_SHUTDOWN, json_pack("{s:i}", "id", 9), &a), SIGIL_MSG_SHUTDOWN_OK);
    assert_true(g_log_frames > 0); /* the refusal's warning reached the "host" as a LOG frame */
    json_decref(a);
    assert_int_equal(reap(&c), 0);
}

/* service.message_cache_entries: a bad value is refused by name before any KMS call and INIT can
 * be retried; 0 (the cache off) is accepted. */
static void test_init_message_cache_setting(void **state)
{
    (void)state;
    struct child c;
    spawn(&c);
    int before = g_decrypts;
    json_t *bad[] = {json_integer(-1), json_integer(65537), json_string("1024"), json_real(1.5)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *init = init_msg("mcache.db");
        json_object_set_new(json_object_get(init, "service"), "message_cache_entries", bad[i]);
        json_t *a = NULL;
        assert_int_equal(call(&c, SIGIL_MSG_INIT, init, &a), SIGIL_MSG_ERROR);
        assert_string_equal(json_string_value(json_object_get(a, "code")), "bad_request");
        assert_non_null(strstr(json_string_value(json_object_get(a, "message")), "message_cache_entries"));
        json_decref(a);
    }
    assert_int_equal(g_decrypts, before);
    json_t *init = init_msg("mcache.db");
    json_object_set_new(json_object_get(init, "service"), "message_cache_entries", json_integer(0));
    json_t *a = NULL;
    assert_int_equal(call(&c, SIGIL_MSG_INIT, init, &a), SIGIL_MSG_INIT_OK);
    json_decref(a);
    assert_int_equal(call(&c, SIGIL_MSG_SHUTDOWN, json_pack("{s:i}", "id", 9), &a), SIGIL_MSG_SHUTDOWN_OK);
    json_decref(a);
    assert_int_equal(reap(&c), 0);
}

static void test_wrong_state_closes(void **state)
{
    (void)state;
    struct child c;
    spawn(&c);
    json_t *a = NULL;
    json_t *page = json_pack("{s:i, s:[], s:b}", "id", 1, "keys", "last", 1);
    assert_int_equal(call(&c, SIGIL_MSG_KEYS_PAGE, page, &a), 0); /* no answer: closed */
    assert_null(a);
    assert_int_equal(reap(&c), 3);
    /* garbage after a good INIT also closes */
    spawn(&c);
    assert_int_equal(call(&c, SIGIL_MSG_INIT, init_msg("garbage.db"), &a), SIGIL_MSG_INIT_OK);
    json_decref(a);
    assert_true(sigil_is_ok(sigil_frame_write(c.fd, SIGIL_MSG_STATUS, "{\"id\":", 6, 1000)));
    uint8_t t = 0, *p = NULL;
    size_t n = 0;
    bool sec = false;
    assert_int_not_equal(sigil_frame_read(c.fd, &t, &p, &n, &sec, NULL, NULL, 10000).code, SIGIL_OK); /* EOF */
    assert_int_equal(reap(&c), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_sign_keygen_shutdown),
        cmocka_unit_test(test_kms_refusal_then_retry),
        cmocka_unit_test(test_init_message_cache_setting),
        cmocka_unit_test(test_keygen_failure_keeps_no_key),
        cmocka_unit_test(test_wrong_state_closes),
        cmocka_unit_test(test_audit_chain_across_restart),
        cmocka_unit_test(test_audit_hostile),
        cmocka_unit_test(test_audit_unanswered_disables_wallet),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return rc;
}
