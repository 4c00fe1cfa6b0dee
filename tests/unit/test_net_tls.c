/* HTTPS tests for src/net: TLS round trips with keep-alive, client authentication by
 * known-clients fingerprint and by CA (and both), rejection of unknown clients and of TLS 1.1,
 * hostile bytes on the TLS port, in-memory key loading, and the known-clients parser.
 * Certificates are generated per run with the OpenSSL API (test_net_common.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_net_common.h"

#include "common/io.h"
#include "common/secmem.h"
#include "net/tls.h"

static struct test_pki g_pki;

static void h_whoami(struct sigil_http_req *r, void *ctx)
{
    (void)ctx;
    char out[256];
    const uint8_t *fp = sigil_http_req_client_fingerprint(r);
    int n = snprintf(out, sizeof out, "%s|", sigil_http_req_client_id(r));
    for (int i = 0; fp != NULL && i < 32; i++) {
        n += snprintf(out + n, sizeof out - (size_t)n, "%02x", fp[i]);
    }
    sigil_http_respond(r, 200, NULL, out, (size_t)n);
}

static void start_tls_server(struct test_server *t, const char *known, const char *ca, unsigned timeout_s)
{
    struct sigil_tls_config tls = {.cert_file = g_pki.server_cert,
                                   .key_file = g_pki.server_key,
                                   .known_clients_file = known,
                                   .ca_file = ca,
                                   .require_client_cert = known != NULL || ca != NULL};
    struct sigil_http_config cfg = {.listen = "127.0.0.1:0", .tls = &tls, .timeout_s = timeout_s};
    sigil_result r = sigil_http_server_new(&t->srv, &cfg);
    if (!sigil_is_ok(r)) {
        fprintf(stderr, "server: %s %s\n", sigil_strerror(r.code), sigil_error_detail());
    }
    assert_true(sigil_is_ok(r));
    assert_true(sigil_is_ok(sigil_http_route(t->srv, "GET", "/whoami", false, h_whoami, NULL)));
    test_server_start(t);
}

/* Connects and asks /whoami; returns false when the TLS layer or the server refused. */
static bool whoami(uint16_t port, const char *cert, const char *key, int version, struct tresp *r)
{
    struct tconn c = {.fd = -1};
    bool ok = tls_connect(&c, port, g_pki.ca_cert, cert, key, version) &&
              tconn_request(&c, "GET", "/whoami", NULL, r) && r->status == 200;
    tconn_close(&c);
    return ok;
}

static void fp_hex(char out[65], const uint8_t fp[32])
{
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", fp[i]);
    }
}

static void test_https_roundtrip(void **state)
{
    (void)state;
    struct test_server t = {0};
    start_tls_server(&t, NULL, NULL, 0);
    struct tconn c = {.fd = -1};
    assert_true(tls_connect(&c, t.port, g_pki.ca_cert, NULL, NULL, 0));
    for (int i = 0; i < 50; i++) {
        struct tresp r;
        assert_true(tconn_request(&c, "GET", "/whoami", NULL, &r));
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "|"); /* no client certificate: id "" and no fingerprint */
    }
    tconn_close(&c);
    /* TLS 1.2 works too */
    struct tresp r;
    assert_true(whoami(t.port, NULL, NULL, TLS1_2_VERSION, &r));
    test_server_stop(&t);
}

static void test_tls11_refused(void **state)
{
    (void)state;
    struct test_server t = {0};
    start_tls_server(&t, NULL, NULL, 0);
    struct tresp r;
    assert_false(whoami(t.port, NULL, NULL, TLS1_1_VERSION, &r));
    assert_false(whoami(t.port, NULL, NULL, TLS1_VERSION, &r));
    assert_true(whoami(t.port, NULL, NULL, TLS1_3_VERSION, &r));
    test_server_stop(&t);
}

static void test_client_fingerprint(void **state)
{
    (void)state;
    struct test_server t = {0};
    start_tls_server(&t, g_pki.known_clients, NULL, 0);
    struct tresp r;
    char want[200], hex[65];
    fp_hex(hex, g_pki.self_fp);
    snprintf(want, sizeof want, "lighthouse-1|%s", hex);
    for (int v = 0; v < 2; v++) {
        int version = v == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
        assert_true(whoami(t.port, g_pki.self_cert, g_pki.self_key, version, &r));
        assert_string_equal(r.body, want);
        /* unknown certificate, CA-issued certificate (no CA configured), no certificate */
        assert_false(whoami(t.port, g_pki.other_cert, g_pki.other_key, version, &r));
        assert_false(whoami(t.port, g_pki.client_cert, g_pki.client_key, version, &r));
        assert_false(whoami(t.port, NULL, NULL, version, &r));
    }
    test_server_stop(&t);
}

static void test_client_ca(void **state)
{
    (void)state;
    struct test_server t = {0};
    start_tls_server(&t, NULL, g_pki.ca_cert, 0);
    struct tresp r;
    assert_true(whoami(t.port, g_pki.client_cert, g_pki.client_key, 0, &r));
    assert_true(strncmp(r.body, "ca-client|", 10) == 0);
    assert_int_equal(strlen(r.body), 10 + 64);
    assert_false(whoami(t.port, g_pki.self_cert, g_pki.self_key, 0, &r));
    assert_false(whoami(t.port, NULL, NULL, 0, &r));
    test_server_stop(&t);
    /* both: either check admits */
    start_tls_server(&t, g_pki.known_clients, g_pki.ca_cert, 0);
    assert_true(whoami(t.port, g_pki.client_cert, g_pki.client_key, 0, &r));
    assert_true(strncmp(r.body, "ca-client|", 10) == 0);
    assert_true(whoami(t.port, g_pki.self_cert, g_pki.self_key, 0, &r));
    assert_true(strncmp(r.body, "lighthouse-1|", 13) == 0);
    assert_false(whoami(t.port, g_pki.other_cert, g_pki.other_key, 0, &r));
    test_server_stop(&t);
}

static void test_ca_cn_collision(void **state)
{
    (void)state;
    /* a CA-issued certificate whose CN is a pinned client's name must not take its identity */
    FILE *f = fopen(g_pki.ca_cert, "r");
    X509 *ca = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    char cakey_path[160];
    (void)cakey_path;
    /* re-create a CA to sign with: the test CA key is not kept, so build a fresh CA + bundle */
    EVP_PKEY *cak = pki_key(), *k = pki_key();
    X509 *ca2 = pki_cert(cak, "Collision CA", NULL, NULL, true, 10);
    X509 *evil = pki_cert(k, "lighthouse-1", ca2, cak, false, 11);
    char ca2_path[160], evil_path[160], evil_key[160];
    snprintf(ca2_path, sizeof ca2_path, "%s/ca2.pem", g_pki.dir);
    snprintf(evil_path, sizeof evil_path, "%s/evil.pem", g_pki.dir);
    snprintf(evil_key, sizeof evil_key, "%s/evil.key", g_pki.dir);
    pki_write(ca2_path, ca2, NULL);
    pki_write(evil_path, evil, NULL);
    pki_write(evil_key, NULL, k);
    struct test_server t = {0};
    start_tls_server(&t, g_pki.known_clients, ca2_path, 0);
    struct tresp r;
    assert_false(whoami(t.port, evil_path, evil_key, 0, &r));
    assert_true(whoami(t.port, g_pki.self_cert, g_pki.self_key, 0, &r));
    test_server_stop(&t);
    unlink(ca2_path);
    unlink(evil_path);
    unlink(evil_key);
    X509_free(ca);
    X509_free(ca2);
    X509_free(evil);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
}

static void test_hostile_tls_port(void **state)
{
    (void)state;
    struct test_server t = {0};
    start_tls_server(&t, g_pki.known_clients, NULL, 1);
    /* plain HTTP on the TLS port */
    int fd = tcp_connect(t.port);
    const char *plain = "GET /whoami HTTP/1.1\r\nHost: h\r\n\r\n";
    send(fd, plain, strlen(plain), MSG_NOSIGNAL);
    assert_true(wait_closed(fd, 2));
    close(fd);
    /* random garbage */
    fd = tcp_connect(t.port);
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (uint8_t)(i * 131 + 7);
    }
    send(fd, junk, sizeof junk, MSG_NOSIGNAL);
    assert_true(wait_closed(fd, 2));
    close(fd);
    /* a truncated ClientHello: the record header promises more than is sent */
    fd = tcp_connect(t.port);
    const uint8_t hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
    send(fd, hello, sizeof hello, MSG_NOSIGNAL);
    double start = now_s();
    assert_true(wait_closed(fd, 3));
    assert_true(now_s() - start >= 0.5);
    close(fd);
    /* connect and say nothing */
    fd = tcp_connect(t.port);
    assert_true(wait_closed(fd, 3));
    close(fd);
    /* a client that completes the handshake, then vanishes mid-request */
    struct tconn c = {.fd = -1};
    assert_true(tls_connect(&c, t.port, g_pki.ca_cert, g_pki.self_cert, g_pki.self_key, 0));
    SSL_write(c.ssl, "GET /who", 8);
    tconn_close(&c);
    /* still serving, and every connection was released */
    struct tresp r;
    assert_true(whoami(t.port, g_pki.self_cert, g_pki.self_key, 0, &r));
    for (int i = 0; i < 100 && sigil_http_server_connections(t.srv) != 0; i++) {
        usleep(20000);
    }
    assert_int_equal(sigil_http_server_connections(t.srv), 0);
    test_server_stop(&t);
}

static void test_mem_ctx(void **state)
{
    (void)state;
    char *cert = NULL, *key = NULL, *kc = NULL;
    size_t cert_len = 0, key_len = 0, kc_len = 0;
    assert_true(sigil_is_ok(sigil_read_file(&cert, &cert_len, g_pki.server_cert, 1 << 20)));
    assert_true(sigil_is_ok(sigil_read_file_secure(&key, &key_len, g_pki.server_key, 1 << 20)));
    assert_true(sigil_is_ok(sigil_read_file(&kc, &kc_len, g_pki.known_clients, 1 << 20)));
    SSL_CTX *ctx = NULL;
    assert_true(sigil_is_ok(sigil_tls_ctx_new_mem(&ctx, cert, cert_len, key, key_len, NULL)));
    assert_true(sigil_is_ok(sigil_tls_ctx_set_known_clients(ctx, kc, kc_len)));
    struct test_server t = {0};
    struct sigil_http_config cfg = {.listen = "127.0.0.1:0"};
    assert_true(sigil_is_ok(sigil_http_server_new_ctx(&t.srv, &cfg, ctx)));
    SSL_CTX_free(ctx); /* the server holds its own reference */
    assert_true(sigil_is_ok(sigil_http_route(t.srv, "GET", "/whoami", false, h_whoami, NULL)));
    test_server_start(&t);
    struct tresp r;
    assert_true(whoami(t.port, g_pki.self_cert, g_pki.self_key, 0, &r));
    assert_true(strncmp(r.body, "lighthouse-1|", 13) == 0);
    assert_false(whoami(t.port, g_pki.other_cert, g_pki.other_key, 0, &r));
    test_server_stop(&t);
    /* a key that does not match the certificate */
    char *other_key = NULL;
    size_t other_len = 0;
    assert_true(sigil_is_ok(sigil_read_file_secure(&other_key, &other_len, g_pki.other_key, 1 << 20)));
    assert_int_equal(sigil_tls_ctx_new_mem(&ctx, cert, cert_len, other_key, other_len, NULL).code, SIGIL_ERR_TLS);
    assert_int_equal(sigil_tls_ctx_new_mem(&ctx, cert, cert_len, "junk", 4, NULL).code, SIGIL_ERR_TLS);
    assert_int_equal(sigil_tls_ctx_new_mem(&ctx, "junk", 4, key, key_len, NULL).code, SIGIL_ERR_TLS);
    sigil_secure_free(other_key);
    /* the CA from memory */
    char *ca = NULL;
    size_t ca_len = 0;
    assert_true(sigil_is_ok(sigil_read_file(&ca, &ca_len, g_pki.ca_cert, 1 << 20)));
    assert_true(sigil_is_ok(sigil_tls_ctx_new_mem(&ctx, cert, cert_len, key, key_len, NULL)));
    assert_true(sigil_is_ok(sigil_tls_ctx_add_client_ca_mem(ctx, ca, ca_len)));
    assert_int_equal(sigil_tls_ctx_add_client_ca_mem(ctx, "nothing", 7).code, SIGIL_ERR_TLS);
    SSL_CTX_free(ctx);
    free(ca);
    free(cert);
    free(kc);
    sigil_secure_free(key);
}

static void test_config_errors(void **state)
{
    (void)state;
    SSL_CTX *ctx = NULL;
    struct sigil_tls_config tls = {
        .cert_file = g_pki.server_cert, .key_file = g_pki.server_key, .require_client_cert = true};
    assert_int_equal(sigil_tls_ctx_new(&ctx, &tls).code, SIGIL_ERR_CONFIG);
    tls.require_client_cert = false;
    tls.key_file = "/nonexistent/key.pem";
    assert_int_equal(sigil_tls_ctx_new(&ctx, &tls).code, SIGIL_ERR_IO);
    tls.key_file = g_pki.self_key;
    assert_int_equal(sigil_tls_ctx_new(&ctx, &tls).code, SIGIL_ERR_TLS);
    tls.key_file = g_pki.server_key;
    tls.known_clients_file = g_pki.server_cert; /* not a known-clients file */
    assert_int_equal(sigil_tls_ctx_new(&ctx, &tls).code, SIGIL_ERR_PARSE);
    tls.known_clients_file = NULL;
    tls.cert_file = NULL;
    assert_int_equal(sigil_tls_ctx_new(&ctx, &tls).code, SIGIL_ERR_CONFIG);
    assert_null(ctx);
    /* a TLS server may listen anywhere, but the listen string is still checked first */
    struct sigil_tls_config ok = {.cert_file = g_pki.server_cert, .key_file = g_pki.server_key};
    struct sigil_http_config cfg = {.listen = "nowhere", .tls = &ok};
    struct sigil_http_server *s = NULL;
    assert_int_equal(sigil_http_server_new(&s, &cfg).code, SIGIL_ERR_CONFIG);
}

static void test_known_clients_parser(void **state)
{
    (void)state;
    const char *text = "# comment\n\n  \t\r\n"
                       "a 00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\r\n"
                       "  b\t00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:"
                       "ee:fe   \n"
                       "c ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    struct sigil_known_clients *kc = NULL;
    assert_true(sigil_is_ok(sigil_known_clients_parse(&kc, text, strlen(text))));
    assert_int_equal(sigil_known_clients_count(kc), 3);
    uint8_t fp[32];
    for (int i = 0; i < 32; i++) {
        fp[i] = (uint8_t)((i % 16) * 0x11);
    }
    assert_string_equal(sigil_known_clients_lookup(kc, fp), "a");
    fp[31] = 0xfe;
    assert_string_equal(sigil_known_clients_lookup(kc, fp), "b");
    memset(fp, 0xff, 32);
    assert_string_equal(sigil_known_clients_lookup(kc, fp), "c");
    memset(fp, 0x01, 32);
    assert_null(sigil_known_clients_lookup(kc, fp));
    sigil_known_clients_free(kc);
    const char *bad[] = {
        "a\n",                                                                    /* no fingerprint */
        "a 0011\n",                                                               /* short */
        "a 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff x\n", /* trailing token */
        "a 00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",   /* bad digit */
        "a 0:0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aa\n",
        ("a 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
         "b 00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\n"), /* duplicate */
        "n\x01me 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kc = NULL;
        assert_int_equal(sigil_known_clients_parse(&kc, bad[i], strlen(bad[i])).code, SIGIL_ERR_PARSE);
        assert_null(kc);
    }
    assert_true(sigil_is_ok(sigil_known_clients_parse(&kc, "", 0)));
    assert_int_equal(sigil_known_clients_count(kc), 0);
    sigil_known_clients_free(kc);
}

static int group_setup(void **state)
{
    (void)state;
    pki_create(&g_pki);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    pki_destroy(&g_pki);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https_roundtrip),
        cmocka_unit_test(test_tls11_refused),
        cmocka_unit_test(test_client_fingerprint),
        cmocka_unit_test(test_client_ca),
        cmocka_unit_test(test_ca_cn_collision),
        cmocka_unit_test(test_hostile_tls_port),
        cmocka_unit_test(test_mem_ctx),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_known_clients_parser),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
