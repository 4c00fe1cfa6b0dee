/* sigil-host: the untrusted parent of sigild (docs/enclave.md). It never holds a key: it reads
 * ciphertext from the artifact store, launches sigild (local namespace sandbox or nitro-cli),
 * initialises it over the control channel, relays bytes (inbound TCP -> sigild's TLS listener,
 * sigild's forwarders -> allow-listed KMS / PostgreSQL), restarts it when it dies, and reports
 * on a loopback status API.
 *
 * `sigil-host sandbox-exec --run-dir D [--data-dir D] -- PROG ARGS...` runs any program under the
 * exact sandbox the local launcher gives sigild (for the integration test's probe), and exits
 * with the program's status (128+N for signal N). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel/channel.h"
#include "common/log.h"
#include "common/secmem.h"
#include "host/launcher.h"
#include "host/proxy.h"
#include "host/sandbox.h"
#include "host/status.h"
#include "host/supervisor.h"
#include "keys/keystore.h" /* SIGIL_KEYSTORE_MSG_CACHE_MAX */
#include "slashing/slashing.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int usage(const char *msg)
{
    if (msg != NULL) {
        (void)fprintf(stderr, "sigil-host: %s\n", msg);
    }
    (void)fputs(
        "usage: sigil-host --store URL --launcher local|nitro --kms URL --network NAME --run-dir DIR\n"
        "                  [--sigild PATH] [--kms-ca F] [--kms-credentials F] [--kms-region R] [--kms-key-id ID]\n"
        "                  [--sim-attestation-dir DIR] [--client-ca F] [--known-clients F]\n"
        "                  [--listen HOST:PORT] [--status-listen HOST:PORT|unix:PATH] [--data-dir DIR]\n"
        "                  [--slashing-db URL [--slashing-db-password-file F]] [--audit-log F]\n"
        "                  [--audit-ack-timeout-ms MS]\n"
        "                  [--message-cache-entries N (sigild's, 0 = off)]\n"
        "                  [--eif F --cid N --cpu-count N --memory MIB]\n"
        "                  [--max-conns N] [--idle-timeout-s S] [--status-interval-s S] [--log-level L]\n"
        "       sigil-host sandbox-exec --run-dir DIR [--data-dir DIR] -- PROG [ARGS...]\n",
        stderr);
    return 2;
}

static bool parse_uint(const char *s, unsigned *out, unsigned max)
{
    if (s == NULL) {
        return true;
    }
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > max) {
        return false;
    }
    *out = (unsigned)v;
    return true;
}

static int sandbox_exec(int argc, char **argv)
{
    const char *run_dir = NULL, *data_dir = NULL;
    int i = 0;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--run-dir") == 0 && i + 1 < argc) {
            run_dir = argv[++i];
        } else if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
            data_dir = argv[++i];
        } else {
            return usage("sandbox-exec: unknown option");
        }
    }
    if (run_dir == NULL || i >= argc) {
        return usage("sandbox-exec needs --run-dir and a program");
    }
    pid_t pid = -1;
    struct sigil_sandbox_config sc = {
        .exe = argv[i], .argv = argv + i, .run_dir = run_dir, .data_dir = data_dir, .control_fd = -1, .log_fd = -1};
    sigil_result r = sigil_sandbox_spawn(&pid, &sc);
    if (!sigil_is_ok(r)) {
        (void)fprintf(stderr, "sigil-host: %s\n", sigil_error_detail());
        return 125;
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) {
        return 125;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct outbound {
    struct sigil_proxy *p;
};

/* host:port of an https:// or postgresql:// URL as a TCP endpoint text ("127.0.0.1:8443"). */
static bool url_hostport(const char *url, char *out, size_t cap, const char *def_port)
{
    const char *h = strstr(url, "://");
    if (h == NULL) {
        return false;
    }
    h += 3;
    const char *at = strchr(h, '@');
    const char *end = h + strcspn(h, "/?");
    if (at != NULL && at < end) {
        h = at + 1;
    }
    const char *colon = memchr(h, ':', (size_t)(end - h));
    int n = colon != NULL ? snprintf(out, cap, "%.*s", (int)(end - h), h)
                          : snprintf(out, cap, "%.*s:%s", (int)(end - h), h, def_port);
    return n > 0 && (size_t)n < cap;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sandbox-exec") == 0) {
        return sandbox_exec(argc - 2, argv + 2);
    }
    (void)sigil_harden_process();
    /* before any other jansson use: INIT (KMS credentials) is built in secure memory */
    sigil_channel_use_secure_json();
    sigil_log_set_component("sigil-host");
    struct sigil_host_config cfg = {0};
    cfg.launch.log_fd = -1;
    cfg.launch.cpu_count = 2;
    cfg.launch.memory_mib = 4096;
    const char *listen = "127.0.0.1:9000", *status_listen = "127.0.0.1:9100", *cid = NULL, *cpus = NULL, *mem = NULL,
               *max_conns = NULL, *idle = NULL, *interval = NULL, *log_level = NULL, *seccomp_log = NULL,
               *audit_ack = NULL, *msg_cache = NULL;
    struct {
        const char *name;
        const char **val;
        bool flag;
    } opts[] = {
        {"store", &cfg.store_url, false},
        {"launcher", &cfg.launcher, false},
        {"sigild", &cfg.launch.sigild_path, false},
        {"kms", &cfg.kms_url, false},
        {"kms-ca", &cfg.kms_ca, false},
        {"kms-credentials", &cfg.kms_credentials, false},
        {"kms-region", &cfg.kms_region, false},
        {"kms-key-id", &cfg.kms_key_id, false},
        {"sim-attestation-dir", &cfg.sim_attestation_dir, false},
        {"client-ca", &cfg.client_ca, false},
        {"known-clients", &cfg.known_clients, false},
        {"listen", &listen, false},
        {"status-listen", &status_listen, false},
        {"run-dir", &cfg.launch.run_dir, false},
        {"data-dir", &cfg.launch.data_dir, false},
        {"network", &cfg.network, false},
        {"slashing-db", &cfg.slashing_db_url, false},
        {"slashing-db-password-file", &cfg.slashing_db_password_file, false},
        {"audit-log", &cfg.audit_log, false},
        {"audit-ack-timeout-ms", &audit_ack, false},
        {"message-cache-entries", &msg_cache, false},
        {"eif", &cfg.launch.eif, false},
        {"cid", &cid, false},
        {"cpu-count", &cpus, false},
        {"memory", &mem, false},
        {"max-conns", &max_conns, false},
        {"idle-timeout-s", &idle, false},
        {"status-interval-s", &interval, false},
        {"log-level", &log_level, false},
        {"seccomp-log", &seccomp_log, true},
    };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            (void)usage(NULL);
            return 0;
        }
        size_t k = 0;
        for (; k < sizeof opts / sizeof opts[0]; k++) {
            if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, opts[k].name) == 0) {
                break;
            }
        }
        if (k == sizeof opts / sizeof opts[0] || (!opts[k].flag && i + 1 >= argc)) {
            (void)fprintf(stderr, "sigil-host: unknown or incomplete option '%s'\n", argv[i]);
            return usage(NULL);
        }
        *opts[k].val = opts[k].flag ? "1" : argv[++i];
    }
    unsigned mc = 1024, idle_s = 120;
    if (!parse_uint(cid, &cfg.launch.cid, 0xfffffffeu) || !parse_uint(cpus, &cfg.launch.cpu_count, 1024) ||
        !parse_uint(mem, &cfg.launch.memory_mib, 1u << 24) || !parse_uint(max_conns, &mc, 100000) ||
        !parse_uint(idle, &idle_s, 86400) || !parse_uint(interval, &cfg.status_interval_s, 3600) ||
        !parse_uint(audit_ack, &cfg.audit_ack_timeout_ms, 600000) ||
        !parse_uint(msg_cache, &cfg.message_cache_entries, SIGIL_KEYSTORE_MSG_CACHE_MAX) ||
        (audit_ack != NULL && cfg.audit_ack_timeout_ms < 100)) {
        return usage("a numeric option is out of range");
    }
    cfg.launch.seccomp_log = seccomp_log != NULL;
    cfg.message_cache_set = msg_cache != NULL;
    if (cfg.slashing_db_password_file != NULL && cfg.slashing_db_url == NULL) {
        return usage("--slashing-db-password-file goes with --slashing-db postgresql://...");
    }
    if (log_level != NULL) {
        enum sigil_log_level lv = strcmp(log_level, "debug") == 0   ? SIGIL_LOG_DEBUG
                                  : strcmp(log_level, "warn") == 0  ? SIGIL_LOG_WARN
                                  : strcmp(log_level, "error") == 0 ? SIGIL_LOG_ERROR
                                                                    : SIGIL_LOG_INFO;
        sigil_log_init(lv, STDERR_FILENO);
    }
    if (sigil_slashing_url_has_password(cfg.slashing_db_url)) {
        SIGIL_LOG_WARN("the --slashing-db URL carries a password, visible to local users in the process list; "
                       "use --slashing-db-password-file",
                       SIGIL_LOG_NONE);
    }
    if (cfg.launcher == NULL) {
        cfg.launcher = "local";
    }
    if (cfg.store_url == NULL || cfg.kms_url == NULL || cfg.network == NULL || cfg.launch.run_dir == NULL) {
        return usage("--store, --kms, --network and --run-dir are required");
    }
    bool local = strcmp(cfg.launcher, "local") == 0;
    if (local && cfg.launch.sigild_path == NULL) {
        return usage("--launcher local needs --sigild PATH");
    }
    if (local && (cfg.launch.sigild_path[0] != '/' || cfg.launch.run_dir[0] != '/' ||
                  (cfg.launch.data_dir != NULL && cfg.launch.data_dir[0] != '/'))) {
        return usage("--sigild, --run-dir and --data-dir must be absolute paths");
    }
    if (mkdir(cfg.launch.run_dir, 0700) != 0 && errno != EEXIST) {
        (void)fprintf(stderr, "sigil-host: cannot create %s: %s\n", cfg.launch.run_dir, strerror(errno));
        return 1;
    }
    if (cfg.launch.data_dir != NULL && mkdir(cfg.launch.data_dir, 0700) != 0 && errno != EEXIST) {
        (void)fprintf(stderr, "sigil-host: cannot create %s: %s\n", cfg.launch.data_dir, strerror(errno));
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    struct sigil_supervisor *sup = NULL;
    struct sigil_proxy *in = NULL, *out_kms = NULL, *out_pg = NULL;
    struct sigil_status_api *api = NULL;
    sigil_result r = sigil_supervisor_new(&sup, &cfg);
    if (!sigil_is_ok(r)) {
        (void)fprintf(stderr, "sigil-host: %s\n", sigil_error_detail());
        return 2;
    }
    /* outbound: one listener per allow-listed destination */
    char dest[256], lsn[300];
    if (!url_hostport(cfg.kms_url, dest, sizeof dest, "443")) {
        (void)fprintf(stderr, "sigil-host: --kms must be an https:// URL\n");
        goto out;
    }
    if (local) {
        (void)snprintf(lsn, sizeof lsn, "unix:%s/outbound-kms.sock", cfg.launch.run_dir);
    } else {
        (void)snprintf(lsn, sizeof lsn, "vsock:ANY:%u", SIGIL_NITRO_OUT_PORT);
    }
    struct sigil_proxy_config kc = {
        .name = "outbound-kms", .listen = lsn, .target = dest, .max_conns = 64, .idle_s = 300};
    r = sigil_proxy_new(&out_kms, &kc);
    if (sigil_is_ok(r) && cfg.slashing_db_url != NULL && strncmp(cfg.slashing_db_url, "postgres", 8) == 0) {
        char pdest[256], plsn[300];
        if (url_hostport(cfg.slashing_db_url, pdest, sizeof pdest, "5432")) {
            if (local) {
                (void)snprintf(plsn, sizeof plsn, "unix:%s/outbound-pg.sock", cfg.launch.run_dir);
            } else {
                (void)snprintf(plsn, sizeof plsn, "vsock:ANY:%u", SIGIL_NITRO_OUT_PORT + 1);
            }
            struct sigil_proxy_config pc = {
                .name = "outbound-pg", .listen = plsn, .target = pdest, .max_conns = 256, .idle_s = 3600};
            r = sigil_proxy_new(&out_pg, &pc);
        }
    }
    struct sigil_proxy_config ic = {.name = "inbound",
                                    .listen = listen,
                                    .target = sigil_supervisor_http_target(sup),
                                    .max_conns = mc,
                                    .idle_s = idle_s};
    if (sigil_is_ok(r)) {
        r = sigil_proxy_new(&in, &ic);
    }
    if (sigil_is_ok(r)) {
        r = sigil_status_api_new(&api, status_listen, sup, in);
    }
    if (sigil_is_ok(r)) {
        r = sigil_proxy_start(out_kms);
    }
    if (sigil_is_ok(r) && out_pg != NULL) {
        r = sigil_proxy_start(out_pg);
    }
    if (sigil_is_ok(r)) {
        r = sigil_proxy_start(in);
    }
    if (sigil_is_ok(r)) {
        r = sigil_status_api_start(api);
    }
    if (sigil_is_ok(r)) {
        r = sigil_supervisor_start(sup);
    }
    if (!sigil_is_ok(r)) {
        (void)fprintf(stderr, "sigil-host: %s%s%s\n", sigil_strerror(r.code), *sigil_error_detail() ? ": " : "",
                      sigil_error_detail());
        goto out;
    }
    SIGIL_LOG_INFO("sigil-host running", SIGIL_LOG_STR("launcher", cfg.launcher), SIGIL_LOG_STR("listen", listen),
                   SIGIL_LOG_STR("status", status_listen), SIGIL_LOG_STR("sigild", sigil_supervisor_http_target(sup)));
    while (!g_stop) {
        (void)pause();
    }
    SIGIL_LOG_INFO("sigil-host stopping", SIGIL_LOG_NONE);
    rc = 0;
out:
    sigil_proxy_free(in);
    sigil_status_api_free(api);
    sigil_supervisor_free(sup);
    sigil_proxy_free(out_kms);
    sigil_proxy_free(out_pg);
    return rc;
}
