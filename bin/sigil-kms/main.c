/* sigil-kms: the local stand-in for AWS KMS.
 *   sigil-kms --data-dir DIR --listen HOST:PORT [--tls-cert F --tls-key F] [--region R]
 *             [--plain-http] [--port-file F]
 *   sigil-kms issue-enclave-cert --data-dir DIR --out-dir OUT [--valid-seconds N]
 * The first start creates DATA_DIR (master key, credentials printed once, dev attestation root,
 * self-signed TLS certificate when none is given). On AWS none of this exists: KMS is the real
 * service and attestation documents chain to the AWS Nitro root. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/secmem.h"
#include "kmsd/kmsd.h"
#include "net/http.h"

static int usage(const char *msg)
{
    fprintf(stderr, "sigil-kms: %s\n", msg);
    return 2;
}

static int issue(int argc, char **argv)
{
    static const struct option lo[] = {{"data-dir", required_argument, NULL, 'd'},
                                       {"out-dir", required_argument, NULL, 'o'},
                                       {"valid-seconds", required_argument, NULL, 'v'},
                                       {NULL, 0, NULL, 0}};
    const char *dir = NULL, *out = NULL;
    uint64_t valid = 24 * 3600;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (ch == 'd') {
            dir = optarg;
        } else if (ch == 'o') {
            out = optarg;
        } else if (ch == 'v') {
            if (!sigil_is_ok(sigil_parse_u64(&valid, optarg, strlen(optarg))) || valid == 0 || valid > 366 * 86400) {
                return usage("--valid-seconds must be 1..31622400");
            }
        } else {
            return usage("unknown option or missing value");
        }
    }
    if (dir == NULL || out == NULL || optind != argc) {
        return usage("usage: sigil-kms issue-enclave-cert --data-dir DIR --out-dir OUT [--valid-seconds N]");
    }
    sigil_result r = sigil_kmsd_issue_enclave_cert(dir, out, (unsigned)valid);
    if (!sigil_is_ok(r)) {
        fprintf(stderr, "sigil-kms: %s: %s\n", sigil_strerror(r.code), sigil_error_detail());
        return 1;
    }
    printf("%s/enclave-leaf.pem\n%s/enclave-leaf.key\n%s/enclave-chain.pem\n", out, out, out);
    return 0;
}

int main(int argc, char **argv)
{
    sigil_log_set_component("sigil-kms");
    (void)sigil_harden_process();
    umask(077); /* kms.db holds wrapped key material and the policies */
    if (argc > 1 && strcmp(argv[1], "issue-enclave-cert") == 0) {
        return issue(argc - 1, argv + 1);
    }
    static const struct option lo[] = {{"data-dir", required_argument, NULL, 'd'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"tls-cert", required_argument, NULL, 'c'},
                                       {"tls-key", required_argument, NULL, 'k'},
                                       {"region", required_argument, NULL, 'r'},
                                       {"plain-http", no_argument, NULL, 'P'},
                                       {"port-file", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    struct sigil_kmsd_server_config cfg = {.region = "us-east-1"};
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'd':
            cfg.data_dir = optarg;
            break;
        case 'l':
            cfg.listen = optarg;
            break;
        case 'c':
            cfg.tls_cert = optarg;
            break;
        case 'k':
            cfg.tls_key = optarg;
            break;
        case 'r':
            cfg.region = optarg;
            break;
        case 'P':
            cfg.plain_http = true;
            break;
        case 'f':
            cfg.port_file = optarg;
            break;
        case 'h':
            printf("usage: sigil-kms --data-dir DIR --listen HOST:PORT [--tls-cert F --tls-key F] [--region R]\n"
                   "       sigil-kms issue-enclave-cert --data-dir DIR --out-dir OUT [--valid-seconds N]\n");
            return 0;
        default:
            return usage("unknown option or missing value");
        }
    }
    if (cfg.data_dir == NULL || cfg.listen == NULL || optind != argc) {
        return usage("usage: sigil-kms --data-dir DIR --listen HOST:PORT [--tls-cert F --tls-key F] [--region R]");
    }
    if ((cfg.tls_cert == NULL) != (cfg.tls_key == NULL)) {
        return usage("--tls-cert and --tls-key go together");
    }
    struct sigil_listen_addr la;
    if (!sigil_is_ok(sigil_net_parse_listen(&la, cfg.listen)) || la.family == AF_UNIX) {
        return usage("--listen must be HOST:PORT");
    }
    if (cfg.plain_http && !la.loopback) {
        return usage("--plain-http is only allowed on a loopback address");
    }
    char host[256];
    snprintf(host, sizeof host, "%s", cfg.listen);
    char *colon = strrchr(host, ':');
    if (colon != NULL) {
        *colon = '\0';
    }
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strcspn(h, "]")] = '\0';
    }
    sigil_result r = sigil_kmsd_init_data_dir(cfg.data_dir, cfg.tls_cert == NULL && !cfg.plain_http, h, STDOUT_FILENO);
    (void)fflush(stdout);
    if (sigil_is_ok(r)) {
        r = sigil_kmsd_serve(&cfg);
    }
    if (!sigil_is_ok(r)) {
        fprintf(stderr, "sigil-kms: %s: %s\n", sigil_strerror(r.code), sigil_error_detail());
        return 1;
    }
    return 0;
}
