/* Shared helpers for the src/net tests: a server running on its own thread, blocking HTTP/1.1
 * clients over TCP, unix sockets and TLS, and test certificates generated with the OpenSSL API
 * at run time (no key material is committed). Everything binds to 127.0.0.1 only. */
#ifndef SIGIL_TEST_NET_COMMON_H
#define SIGIL_TEST_NET_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "net/http.h"

/* ---- server thread ---- */

struct test_server {
    struct sigil_http_server *srv;
    pthread_t thread;
    uint16_t port;
};

static __attribute__((unused)) void *test_server_main(void *arg)
{
    struct test_server *t = arg;
    sigil_result r = sigil_http_server_run(t->srv);
    (void)r;
    return NULL;
}

static __attribute__((unused)) void test_server_start(struct test_server *t)
{
    t->port = sigil_http_server_port(t->srv);
    assert_int_equal(pthread_create(&t->thread, NULL, test_server_main, t), 0);
}

static __attribute__((unused)) void test_server_stop(struct test_server *t)
{
    sigil_http_server_stop(t->srv);
    pthread_join(t->thread, NULL);
    sigil_http_server_free(t->srv);
    t->srv = NULL;
}

static __attribute__((unused)) double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- blocking clients ---- */

static __attribute__((unused)) int tcp_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* A connection: plain fd or TLS on top of it. */
struct tconn {
    int fd;
    SSL *ssl;
    char pend[8192]; /* bytes read past the last response (pipelining) */
    size_t npend;
};

static __attribute__((unused)) ssize_t tconn_write(struct tconn *c, const void *p, size_t n)
{
    if (c->ssl != NULL) {
        int w = SSL_write(c->ssl, p, (int)n);
        return w > 0 ? w : -1;
    }
    return send(c->fd, p, n, MSG_NOSIGNAL);
}

static __attribute__((unused)) ssize_t tconn_read(struct tconn *c, void *p, size_t n)
{
    if (c->ssl != NULL) {
        int r = SSL_read(c->ssl, p, (int)n);
        return r > 0 ? r : (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
    }
    return recv(c->fd, p, n, 0);
}

static __attribute__((unused)) void tconn_close(struct tconn *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

struct tresp {
    int status;
    char headers[4096];
    char body[65536];
    size_t body_len;
    bool closed; /* server sent Connection: close */
};

/* Reads one response. Returns false on EOF/error before a complete response. */
static __attribute__((unused)) bool tconn_read_response(struct tconn *c, struct tresp *out)
{
    static char buf[1 << 17];
    size_t have = c->npend;
    memcpy(buf, c->pend, c->npend);
    buf[have] = '\0';
    c->npend = 0;
    memset(out, 0, sizeof *out);
    char *hdr_end = NULL;
    hdr_end = strstr(buf, "\r\n\r\n");
    while (hdr_end == NULL) {
        if (have >= sizeof buf - 1) {
            return false;
        }
        ssize_t n = tconn_read(c, buf + have, sizeof buf - 1 - have);
        if (n <= 0) {
            return false;
        }
        have += (size_t)n;
        buf[have] = '\0';
        hdr_end = strstr(buf, "\r\n\r\n");
    }
    size_t hlen = (size_t)(hdr_end - buf) + 4;
    if (sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        return false;
    }
    snprintf(out->headers, sizeof out->headers, "%.*s", (int)hlen, buf);
    size_t clen = 0;
    const char *cl = strcasestr(out->headers, "\r\nContent-Length:");
    if (cl != NULL) {
        clen = strtoul(cl + 17, NULL, 10);
    }
    out->closed = strcasestr(out->headers, "\r\nConnection: close") != NULL;
    while (have - hlen < clen) {
        if (have >= sizeof buf - 1) {
            return false;
        }
        ssize_t n = tconn_read(c, buf + have, sizeof buf - 1 - have);
        if (n <= 0) {
            return false;
        }
        have += (size_t)n;
    }
    out->body_len = clen < sizeof out->body - 1 ? clen : sizeof out->body - 1;
    memcpy(out->body, buf + hlen, out->body_len);
    out->body[out->body_len] = '\0';
    size_t extra = have - hlen - clen;
    if (extra > 0 && extra <= sizeof c->pend) {
        memcpy(c->pend, buf + hlen + clen, extra);
        c->npend = extra;
    }
    return true;
}

static __attribute__((unused)) bool tconn_request(struct tconn *c, const char *method, const char *path,
                                                  const char *body, struct tresp *out)
{
    char req[8192];
    size_t blen = body != NULL ? strlen(body) : 0;
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n%s", method,
                     path, blen, body != NULL ? body : "");
    if (n <= 0 || (size_t)n >= sizeof req || tconn_write(c, req, (size_t)n) != n) {
        return false;
    }
    return tconn_read_response(c, out);
}

/* True when the peer closed (read returns 0 or an error) within timeout_s. */
static __attribute__((unused)) bool wait_closed(int fd, double timeout_s)
{
    double end = now_s() + timeout_s;
    char b[512];
    while (now_s() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) > 0) {
            ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                return true;
            }
        }
    }
    return false;
}

/* ---- certificates ---- */

struct test_pki {
    char dir[64];
    char ca_cert[128], server_cert[128], server_key[128];
    char client_cert[128], client_key[128]; /* issued by the CA, CN=ca-client */
    char self_cert[128], self_key[128];     /* self-signed, CN=pinned-client */
    char other_cert[128], other_key[128];   /* self-signed, unknown, CN=stranger */
    char known_clients[128];                /* lists self_cert as "lighthouse-1" */
    uint8_t self_fp[32];
};

static __attribute__((unused)) EVP_PKEY *pki_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    return k;
}

static __attribute__((unused)) X509 *pki_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                                              bool ca, long serial)
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (!ca) {
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static __attribute__((unused)) void pki_write(const char *path, X509 *x, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (x != NULL) {
        PEM_write_X509(f, x);
    }
    if (k != NULL) {
        PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    }
    fclose(f);
}

static __attribute__((unused)) void pki_create(struct test_pki *p)
{
    snprintf(p->dir, sizeof p->dir, "/tmp/sigil-net-test-XXXXXX");
    assert_non_null(mkdtemp(p->dir));
#define PKI_PATH(field, name) snprintf(p->field, sizeof p->field, "%s/%s", p->dir, name)
    PKI_PATH(ca_cert, "ca.pem");
    PKI_PATH(server_cert, "server.pem");
    PKI_PATH(server_key, "server.key");
    PKI_PATH(client_cert, "client.pem");
    PKI_PATH(client_key, "client.key");
    PKI_PATH(self_cert, "self.pem");
    PKI_PATH(self_key, "self.key");
    PKI_PATH(other_cert, "other.pem");
    PKI_PATH(other_key, "other.key");
    PKI_PATH(known_clients, "known_clients.txt");
#undef PKI_PATH
    EVP_PKEY *cak = pki_key(), *sk = pki_key(), *ck = pki_key(), *selfk = pki_key(), *ok = pki_key();
    X509 *ca = pki_cert(cak, "Sigil Test CA", NULL, NULL, true, 1);
    X509 *srv = pki_cert(sk, "localhost", ca, cak, false, 2);
    X509 *cli = pki_cert(ck, "ca-client", ca, cak, false, 3);
    X509 *self = pki_cert(selfk, "pinned-client", NULL, NULL, false, 4);
    X509 *other = pki_cert(ok, "stranger", NULL, NULL, false, 5);
    pki_write(p->ca_cert, ca, NULL);
    pki_write(p->server_cert, srv, NULL);
    pki_write(p->server_key, NULL, sk);
    pki_write(p->client_cert, cli, NULL);
    pki_write(p->client_key, NULL, ck);
    pki_write(p->self_cert, self, NULL);
    pki_write(p->self_key, NULL, selfk);
    pki_write(p->other_cert, other, NULL);
    pki_write(p->other_key, NULL, ok);
    unsigned int n = 0;
    assert_int_equal(X509_digest(self, EVP_sha256(), p->self_fp, &n), 1);
    FILE *f = fopen(p->known_clients, "w");
    assert_non_null(f);
    fprintf(f, "# known clients\nlighthouse-1 ");
    for (int i = 0; i < 32; i++) {
        fprintf(f, "%02X%s", p->self_fp[i], i < 31 ? ":" : "\n");
    }
    fclose(f);
    X509_free(ca);
    X509_free(srv);
    X509_free(cli);
    X509_free(self);
    X509_free(other);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(sk);
    EVP_PKEY_free(ck);
    EVP_PKEY_free(selfk);
    EVP_PKEY_free(ok);
}

static __attribute__((unused)) void pki_destroy(struct test_pki *p)
{
    const char *files[] = {p->ca_cert,   p->server_cert, p->server_key, p->client_cert, p->client_key,
                           p->self_cert, p->self_key,    p->other_cert, p->other_key,   p->known_clients};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        unlink(files[i]);
    }
    rmdir(p->dir);
}

/* TLS client; cert/key may be NULL. Returns false when the handshake (or, for TLS 1.3 where the
 * server checks the client certificate after the client's Finished, the first read) fails. */
static __attribute__((unused)) bool tls_connect(struct tconn *c, uint16_t port, const char *ca, const char *cert,
                                                const char *key, int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    if (max_version != 0) {
        SSL_CTX_set_security_level(ctx, 0);
        SSL_CTX_set_cipher_list(ctx, "DEFAULT@SECLEVEL=0");
        SSL_CTX_set_min_proto_version(ctx, max_version);
        SSL_CTX_set_max_proto_version(ctx, max_version);
    }
    if (ca != NULL) {
        assert_int_equal(SSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (cert != NULL) {
        assert_int_equal(SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
    }
    c->fd = tcp_connect(port);
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    bool ok = SSL_connect(c->ssl) == 1;
    ERR_clear_error();
    return ok;
}

#endif
