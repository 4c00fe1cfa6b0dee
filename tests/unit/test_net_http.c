/* Plain-HTTP tests for src/net/http.c on 127.0.0.1 and a unix socket: routing, deferred replies
 * from worker threads, limits (413, slow clients, connection cap), keep-alive at scale, replies
 * after the client or the connection is gone, and the listen-address rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <linux/vm_sockets.h>

#include "test_net_common.h"

#include "net/metrics.h"
#include "net/pool.h"

static struct sigil_pool *g_pool;

static void h_hello(struct sigil_http_req *r, void *ctx)
{
    (void)ctx;
    sigil_http_respond(r, 200, NULL, "hello", 5);
}

static void h_echo(struct sigil_http_req *r, void *ctx)
{
    (void)ctx;
    size_t len = 0;
    const uint8_t *b = sigil_http_req_body(r, &len);
    assert_int_equal(b[len], 0);
    char out[4096];
    const char *x = sigil_http_req_header(r, "x-test");
    const char *q = sigil_http_req_query(r);
    int n = snprintf(out, sizeof out, "%s|%s|%s|%s|%s|%s", sigil_http_req_method(r), sigil_http_req_path(r),
                     q != NULL ? q : "-", x != NULL ? x : "-", sigil_http_req_client_id(r), (const char *)b);
    assert_null(sigil_http_req_client_fingerprint(r));
    sigil_http_respond(r, 200, "text/plain; charset=utf-8", out, (size_t)n);
}

static void defer_job(void *arg)
{
    struct sigil_http_req *r = arg;
    usleep(2000);
    json_t *o = json_pack("{s:s,s:s}", "path", sigil_http_req_path(r), "x", sigil_http_req_header(r, "Host"));
    sigil_http_respond_json(r, 200, o);
    json_decref(o);
}

static void h_defer(struct sigil_http_req *r, void *ctx)
{
    (void)ctx;
    sigil_pool_submit(g_pool, defer_job, r);
}

/* Holds the request until the test releases it. */
static pthread_mutex_t g_hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_hold_cv = PTHREAD_COND_INITIALIZER;
static struct sigil_http_req *g_held;

static void h_hold(struct sigil_http_req *r, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&g_hold_mu);
    g_held = r;
    pthread_cond_broadcast(&g_hold_cv);
    pthread_mutex_unlock(&g_hold_mu);
}

static struct sigil_http_req *wait_held(void)
{
    pthread_mutex_lock(&g_hold_mu);
    while (g_held == NULL) {
        pthread_cond_wait(&g_hold_cv, &g_hold_mu);
    }
    struct sigil_http_req *r = g_held;
    g_held = NULL;
    pthread_mutex_unlock(&g_hold_mu);
    return r;
}

static void server_new(struct test_server *t, const char *listen, size_t max_body, unsigned timeout_s,
                       unsigned max_conns, struct sigil_metrics *m)
{
    struct sigil_http_config cfg = {
        .listen = listen, .max_body = max_body, .timeout_s = timeout_s, .max_connections = max_conns, .metrics = m};
    assert_true(sigil_is_ok(sigil_http_server_new(&t->srv, &cfg)));
    assert_true(sigil_is_ok(sigil_http_route(t->srv, "GET", "/hello", false, h_hello, NULL)));
    assert_true(sigil_is_ok(sigil_http_route(t->srv, NULL, "/echo/", true, h_echo, NULL)));
    assert_true(sigil_is_ok(sigil_http_route(t->srv, "GET", "/defer", false, h_defer, NULL)));
    assert_true(sigil_is_ok(sigil_http_route(t->srv, "POST", "/hold", false, h_hold, NULL)));
    test_server_start(t);
}

static struct tconn plain_connect(uint16_t port) { return (struct tconn){.fd = tcp_connect(port), .ssl = NULL}; }

static void test_roundtrip(void **state)
{
    (void)state;
    struct test_server t = {0};
    server_new(&t, "127.0.0.1:0", 0, 0, 0, NULL);
    assert_true(t.port != 0);
    struct tconn c = plain_connect(t.port);
    struct tresp r;
    assert_true(tconn_request(&c, "GET", "/hello", NULL, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    assert_non_null(strcasestr(r.headers, "Content-Type: text/plain; charset=utf-8"));
    assert_non_null(strcasestr(r.headers, "Cache-Control: no-store"));
    assert_false(r.closed);
    /* same keep-alive connection: prefix route, percent-decoding, query, headers, body */
    const char *req = "PUT /echo/a%20b?x=1&y=2 HTTP/1.1\r\nHost: h\r\nX-Test: yes\r\nContent-Length: 4\r\n\r\nbody";
    assert_int_equal(tconn_write(&c, req, strlen(req)), (ssize_t)strlen(req));
    assert_true(tconn_read_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "PUT|/echo/a b|x=1&y=2|yes||body");
    assert_true(tconn_request(&c, "GET", "/nope", NULL, &r));
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"code\":404,\"message\":\"not found\"}");
    assert_non_null(strcasestr(r.headers, "application/json"));
    assert_true(tconn_request(&c, "POST", "/hello", "x", &r));
    assert_int_equal(r.status, 405);
    assert_true(tconn_request(&c, "GET", "/echo/%00x", NULL, &r));
    assert_int_equal(r.status, 400);
    tconn_close(&c);
    /* malformed request line: libevent answers 400 and closes */
    c = plain_connect(t.port);
    const char *junk = "GARBAGE\r\n\r\n";
    tconn_write(&c, junk, strlen(junk));
    assert_true(tconn_read_response(&c, &r));
    assert_int_equal(r.status, 400);
    assert_true(wait_closed(c.fd, 2));
    tconn_close(&c);
    test_server_stop(&t);
}

static void test_deferred_from_pool(void **state)
{
    (void)state;
    assert_true(sigil_is_ok(sigil_pool_new(&g_pool, 2)));
    struct test_server t = {0};
    server_new(&t, "127.0.0.1:0", 0, 0, 0, NULL);
    struct tconn c[8];
    for (int i = 0; i < 8; i++) {
        c[i] = plain_connect(t.port);
    }
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 8; i++) {
            const char *req = "GET /defer HTTP/1.1\r\nHost: h1\r\n\r\n";
            assert_int_equal(tconn_write(&c[i], req, strlen(req)), (ssize_t)strlen(req));
        }
        for (int i = 0; i < 8; i++) {
            struct tresp r;
            assert_true(tconn_read_response(&c[i], &r));
            assert_int_equal(r.status, 200);
            assert_string_equal(r.body, "{\"path\":\"/defer\",\"x\":\"h1\"}");
        }
    }
    for (int i = 0; i < 8; i++) {
        tconn_close(&c[i]);
    }
    test_server_stop(&t);
    sigil_pool_free(g_pool);
    g_pool = NULL;
}

static void test_body_limit(void **state)
{
    (void)state;
    struct test_server t = {0};
    server_new(&t, "127.0.0.1:0", 1024, 0, 0, NULL);
    struct tconn c = plain_connect(t.port);
    char body[2048];
    memset(body, 'a', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    struct tresp r;
    body[1024] = '\0'; /* exactly the limit */
    assert_true(tconn_request(&c, "POST", "/echo/", body, &r));
    assert_int_equal(r.status, 200);
    body[1024] = 'a';
    assert_true(tconn_request(&c, "POST", "/echo/", body, &r));
    assert_int_equal(r.status, 413);
    tconn_close(&c);
    /* a huge declared length is refused before any body byte is read */
    c = plain_connect(t.port);
    const char *huge = "POST /echo/ HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000000\r\n\r\n";
    tconn_write(&c, huge, strlen(huge));
    assert_true(tconn_read_response(&c, &r));
    assert_int_equal(r.status, 413);
    tconn_close(&c);
    /* chunked bodies are counted as they arrive */
    c = plain_connect(t.port);
    const char *chunked = "POST /echo/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n";
    tconn_write(&c, chunked, strlen(chunked));
    tconn_write(&c, body, 2047);
    tconn_write(&c, "\r\n0\r\n\r\n", 7);
    assert_true(tconn_read_response(&c, &r));
    assert_int_equal(r.status, 413);
    tconn_close(&c);
    /* oversized headers */
    c = plain_connect(t.port);
    static char bighdr[40000];
    int n = snprintf(bighdr, sizeof bighdr, "GET /hello HTTP/1.1\r\nHost: h\r\nX-Big: ");
    memset(bighdr + n, 'b', 30000);
    memcpy(bighdr + n + 30000, "\r\n\r\n", 5);
    tconn_write(&c, bighdr, strlen(bighdr));
    bool got = tconn_read_response(&c, &r);
    assert_true(!got || r.status == 400 || r.status == 413 || r.status == 431);
    assert_true(wait_closed(c.fd, 2));
    tconn_close(&c);
    test_server_stop(&t);
}

static void test_slow_client_cut(void **state)
{
    (void)state;
    struct sigil_metrics *m = sigil_metrics_new();
    struct test_server t = {0};
    server_new(&t, "127.0.0.1:0", 0, 1, 0, m);
    /* trickle one byte every 200 ms: evhttp's per-read timeout would never fire */
    struct tconn c = plain_connect(t.port);
    const char *req = "GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    double start = now_s();
    bool cut = false;
    for (size_t i = 0; i < strlen(req); i++) {
        if (send(c.fd, req + i, 1, MSG_NOSIGNAL) != 1) {
            cut = true;
            break;
        }
        if (wait_closed(c.fd, 0.2)) {
            cut = true;
            break;
        }
    }
    double took = now_s() - start;
    assert_true(cut);
    assert_true(took >= 0.8 && took < 3.0);
    tconn_close(&c);
    /* an idle keep-alive connection is closed after the same deadline */
    c = plain_connect(t.port);
    struct tresp r;
    assert_true(tconn_request(&c, "GET", "/hello", NULL, &r));
    start = now_s();
    assert_true(wait_closed(c.fd, 3));
    assert_true(now_s() - start >= 0.8);
    tconn_close(&c);
    /* a connection that sends nothing at all */
    c = plain_connect(t.port);
    assert_true(wait_closed(c.fd, 3));
    tconn_close(&c);
    test_server_stop(&t);
    char *text = sigil_metrics_render(m, NULL);
    /* the trickling client is cut by the request deadline (the idle ones may be closed by
     * evhttp's own read timeout of the same length first) */
    const char *v = strstr(text, "\nhttp_connections_timed_out_total ");
    assert_non_null(v);
    assert_true(strtoul(v + strlen("\nhttp_connections_timed_out_total "), NULL, 10) >= 1);
    free(text);
    sigil_metrics_free(m);
}

static void test_many_keepalive(void **state)
{
    (void)state;
    enum { NCONN = 300, ROUNDS = 5 };
    struct test_server t = {0};
    server_new(&t, "127.0.0.1:0", 0, 0, 0, NULL);
    static struct tconn c[NCONN];
    for (int i = 0; i < NCONN; i++) {
        c[i] = plain_connect(t.port);
    }
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < NCONN; i++) {
            const char *req = "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n";
            assert_int_equal(tconn_write(&c[i], req, strlen(req)), (ssize_t)strlen(req));
        }
        for (int i = 0; i < NCONN; i++) {
            struct tresp r;
            assert_true(tconn_read_response(&c[i], &r));
            assert_int_equal(r.status, 200);
        }
    }
    /* pipelined requests on one connection are answered in order */
    const char *two = "GET /hello HTTP/1.1\r\nHost: h\r\n\r\nGET /echo/p HTTP/1.1\r\nHost: h\r\n\r\n";
    tconn_write(&c[0], two, strlen(two));
    struct tresp r;
    assert_true(tconn_read_response(&c[0], &r));
    assert_string_equal(r.body, "hello");
    assert_true(tconn_read_response(&c[0], &r));
    assert_string_equal(r.body, "GET|/echo/p|-|-||");
    assert_int_equal(sigil_http_server_connections(t.srv), NCONN);
    for (int i = 0; i < NCONN; i++) {
        tconn_close(&c[i]);
    }
    test_server_stop(&t);
}

static void test_connection_cap(void **state)
{
    (void)state;
    struct test_server t = {0};
    server_new(&t, "127.0.0.1:0", 0, 0, 4, NULL);
    struct tconn c[4];
    struct tresp r;
    for (int i = 0; i < 4; i++) {
        c[i] = plain_connect(t.port);
        assert_true(tconn_request(&c[i], "GET", "/hello", NULL, &r));
    }
    struct tconn extra = plain_connect(t.port);
    assert_true(wait_closed(extra.fd, 2));
    tconn_close(&extra);
    for (int i = 0; i < 4; i++) {
        assert_true(tconn_request(&c[i], "GET", "/hello", NULL, &r));
    }
    tconn_close(&c[0]);
    /* the slot frees once the server has seen the close */
    bool ok = false;
    for (int tries = 0; tries < 50 && !ok; tries++) {
        usleep(20000);
        extra = plain_connect(t.port);
        ok = tconn_request(&extra, "GET", "/hello", NULL, &r) && r.status == 200;
        tconn_close(&extra);
    }
    assert_true(ok);
    for (int i = 1; i < 4; i++) {
        tconn_close(&c[i]);
    }
    test_server_stop(&t);
}

struct late_reply {
    struct sigil_http_req *r;
};

static void *late_reply_main(void *arg)
{
    struct sigil_http_req *r = arg;
    sigil_http_respond(r, 200, NULL, "late", 4);
    return NULL;
}

static void test_reply_after_disconnect(void **state)
{
    (void)state;
    struct sigil_metrics *m = sigil_metrics_new();
    struct test_server t = {0};
    server_new(&t, "127.0.0.1:0", 0, 0, 0, m);
    /* the client hangs up while a worker holds its request */
    for (int i = 0; i < 20; i++) {
        struct tconn c = plain_connect(t.port);
        const char *req = "POST /hold HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi";
        tconn_write(&c, req, strlen(req));
        struct sigil_http_req *held = wait_held();
        if (i % 2 == 0) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* RST */
            setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        tconn_close(&c);
        usleep(5000);
        pthread_t th;
        pthread_create(&th, NULL, late_reply_main, held);
        pthread_join(th, NULL);
    }
    /* the server still serves */
    struct tconn c = plain_connect(t.port);
    struct tresp r;
    assert_true(tconn_request(&c, "GET", "/hello", NULL, &r));
    assert_int_equal(r.status, 200);
    tconn_close(&c);
    /* a request still held when the server shuts down: its reply arrives after the loop stopped
     * and the connection is gone, and must be dropped */
    c = plain_connect(t.port);
    const char *req = "POST /hold HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
    tconn_write(&c, req, strlen(req));
    struct sigil_http_req *held = wait_held();
    sigil_http_server_stop(t.srv);
    pthread_join(t.thread, NULL);
    sigil_http_respond(held, 200, NULL, "x", 1); /* queued: the loop is not running */
    sigil_http_server_free(t.srv);
    tconn_close(&c);
    sigil_metrics_free(m);
}

static void test_listen_rules(void **state)
{
    (void)state;
    struct sigil_http_server *s = NULL;
    const char *refused[] = {"0.0.0.0:0", "[::]:0", "10.1.2.3:0", "192.168.1.1:9000"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        struct sigil_http_config cfg = {.listen = refused[i]};
        sigil_result r = sigil_http_server_new(&s, &cfg);
        assert_int_equal(r.code, SIGIL_ERR_CONFIG);
        assert_null(s);
    }
    const char *bad[] = {
        "",        "127.0.0.1",     "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "host.example:80", "[::1:80",
        "[::1]80", "unix:relative", ":80",        "127.0.0.1:8a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sigil_listen_addr la;
        assert_int_equal(sigil_net_parse_listen(&la, bad[i]).code, SIGIL_ERR_CONFIG);
    }
    struct sigil_listen_addr la;
    assert_true(sigil_is_ok(sigil_net_parse_listen(&la, "127.0.0.2:9000")));
    assert_true(la.loopback);
    assert_int_equal(la.port, 9000);
    assert_true(sigil_is_ok(sigil_net_parse_listen(&la, "[::1]:1")));
    assert_true(la.loopback);
    assert_int_equal(la.family, AF_INET6);
    assert_true(sigil_is_ok(sigil_net_parse_listen(&la, "[::ffff:127.0.0.1]:1")));
    assert_true(la.loopback);
    assert_true(sigil_is_ok(sigil_net_parse_listen(&la, "localhost:80")));
    assert_true(la.loopback);
    assert_true(sigil_is_ok(sigil_net_parse_listen(&la, "0.0.0.0:443")));
    assert_false(la.loopback);
    assert_true(sigil_is_ok(sigil_net_parse_listen(&la, "unix:/run/sigil.sock")));
    assert_true(la.loopback);
    assert_int_equal(la.family, AF_UNIX);
    /* binding a busy port is an I/O error */
    struct test_server t = {0};
    server_new(&t, "127.0.0.1:0", 0, 0, 0, NULL);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", t.port);
    struct sigil_http_config cfg = {.listen = addr};
    assert_int_equal(sigil_http_server_new(&s, &cfg).code, SIGIL_ERR_IO);
    test_server_stop(&t);
}

static void test_unix_socket(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/sigil-net-%d.sock", (int)getpid());
    char listen[80];
    snprintf(listen, sizeof listen, "unix:%s", path);
    struct test_server t = {0};
    server_new(&t, listen, 0, 0, 0, NULL);
    assert_int_equal(t.port, 0);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&un, sizeof un), 0);
    struct tconn c = {.fd = fd};
    struct tresp r;
    assert_true(tconn_request(&c, "GET", "/hello", NULL, &r));
    assert_int_equal(r.status, 200);
    tconn_close(&c);
    test_server_stop(&t);
    assert_int_not_equal(access(path, F_OK), 0);
}

static void test_http_metrics(void **state)
{
    (void)state;
    struct sigil_metrics *m = sigil_metrics_new();
    struct test_server t = {0};
    server_new(&t, "127.0.0.1:0", 0, 0, 0, m);
    struct tconn c = plain_connect(t.port);
    struct tresp r;
    for (int i = 0; i < 3; i++) {
        assert_true(tconn_request(&c, "GET", "/hello", NULL, &r));
    }
    assert_true(tconn_request(&c, "GET", "/missing", NULL, &r));
    tconn_close(&c);
    test_server_stop(&t);
    char *text = sigil_metrics_render(m, NULL);
    assert_non_null(strstr(text, "http_requests_total{method=\"GET\",path_group=\"/hello\",status=\"200\"} 3\n"));
    assert_non_null(strstr(text, "http_requests_total{method=\"GET\",path_group=\"other\",status=\"404\"} 1\n"));
    assert_non_null(strstr(text, "http_request_duration_seconds_count{path_group=\"/hello\"} 3\n"));
    assert_non_null(strstr(text, "http_connections_open 0\n"));
    free(text);
    sigil_metrics_free(m);
}

static void test_stop_before_run(void **state)
{
    (void)state;
    struct sigil_http_server *s = NULL;
    struct sigil_http_config cfg = {.listen = "127.0.0.1:0"};
    assert_true(sigil_is_ok(sigil_http_server_new(&s, &cfg)));
    sigil_http_server_stop(s);
    assert_true(sigil_is_ok(sigil_http_server_run(s)));
    sigil_http_server_free(s);
    sigil_http_server_free(NULL);
}

/* AF_VSOCK listeners (the Nitro enclave side): parsing, never plain HTTP, and a bind attempt
 * (this machine has no vsock transport for guests, so a refused bind is accepted). */
static void test_vsock_listen(void **state)
{
    (void)state;
    struct sigil_listen_addr la;
    assert_int_equal(sigil_net_parse_listen(&la, "vsock:5001").code, SIGIL_OK);
    assert_int_equal(la.family, AF_VSOCK);
    assert_int_equal(la.port, 5001);
    assert_false(la.loopback);
    assert_int_equal(sigil_net_parse_listen(&la, "vsock:16:5000").code, SIGIL_OK);
    assert_int_equal(la.port, 5000);
    assert_int_equal(sigil_net_parse_listen(&la, "vsock:").code, SIGIL_ERR_CONFIG);
    assert_int_equal(sigil_net_parse_listen(&la, "vsock:x:1").code, SIGIL_ERR_CONFIG);
    assert_int_equal(sigil_net_parse_listen(&la, "vsock:1:2:3").code, SIGIL_ERR_CONFIG);
    assert_int_equal(sigil_net_parse_listen(&la, "vsock:99999999999").code, SIGIL_ERR_CONFIG);
    /* plain HTTP across the VM boundary is refused */
    struct sigil_http_config cfg = {.listen = "vsock:5001"};
    struct sigil_http_server *srv = NULL;
    assert_int_equal(sigil_http_server_new(&srv, &cfg).code, SIGIL_ERR_CONFIG);
    assert_null(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_deferred_from_pool),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_slow_client_cut),
        cmocka_unit_test(test_many_keepalive),
        cmocka_unit_test(test_connection_cap),
        cmocka_unit_test(test_reply_after_disconnect),
        cmocka_unit_test(test_listen_rules),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_vsock_listen),
        cmocka_unit_test(test_http_metrics),
        cmocka_unit_test(test_stop_before_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
