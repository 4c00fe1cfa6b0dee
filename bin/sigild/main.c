/* sigild, standalone: the Web3Signer-style way to run Sigil's signer on a server, with EIP-2335
 * keystores from disk. The enclave boot path builds the same sigil_service from keys that arrive
 * through the control channel instead. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "channel/channel.h"
#include "common/hex.h"
#include "common/io.h"
#include "common/log.h"
#include "common/secmem.h"
#include "crypto/keccak.h"
#include "eth1/keyring.h"
#include "eth2/network.h"
#include "keys/keystore.h"
#include "policy/policy.h"
#include "sigild/enclave.h"
#include "sigild/pruner.h"
#include "sigild/service.h"
#include "slashing/slashing.h"

static struct sigil_service *g_service;

static void on_signal(int sig)
{
    (void)sig;
    if (g_service != NULL) {
        sigil_service_stop(g_service);
    }
}

static void usage(FILE *f)
{
    (void)fputs("usage: sigild --control fd:N|unix:PATH|vsock:ANY:PORT [--log-level L]\n"
                "       sigild [--keystores-path DIR --keystores-passwords-path DIR --network NAME|CONFIG.yaml]\n"
                "              [--eth1-keystores-path DIR --eth1-keystores-passwords-path DIR --audit-log F\n"
                "               [--policy-file F]] --slashing-db URL [--slashing-db-password-file F]\n"
                "              --http-listen HOST:PORT\n"
                "              [--tls-cert F --tls-key F] [--tls-known-clients F] [--tls-ca F]\n"
                "              [--metrics-listen HOST:PORT] [--key-cache F --key-cache-password-file F]\n"
                "              [--keymanager-token-file F] [--client-keys F] [--workers N]\n"
                "              [--message-cache-entries N]\n"
                "              [--slashing-prune-keep-epochs N [--slashing-prune-interval-s S]]\n"
                "              [--log-level debug|info|warn|error]\n"
                "\n"
                "  --control: enclave mode (docs/enclave.md): sigil-host sends everything else over this channel;\n"
                "  none of the standalone options apply.\n"
                "  NAME.json in the keystores path pairs with NAME.txt in the passwords path.\n"
                "  Eth2 (EIP-2335) keystores, eth1 (Web3 v3, scrypt or pbkdf2) keystores, or both; --network\n"
                "  is required with eth2 keys.\n"
                "  --eth1-keystores-path: wallet keys for the eth1 API and JSON-RPC on POST / (docs/wallet.md);\n"
                "  they need --audit-log F (hash-chained audit trail of every decision, appended; check it with\n"
                "  `sigil audit verify F`). --policy-file F: wallet rules (docs/wallet.md); without it typed\n"
                "  requests are allowed and raw signing is refused. Spend windows live in --slashing-db.\n"
                "  --slashing-db: sqlite:PATH or postgresql://user@host:port/db?sslmode=verify-full; its password\n"
                "  goes in --slashing-db-password-file F (or libpq's PGPASSFILE), not on the command line.\n"
                "  --network: mainnet, hoodi, sepolia, holesky, gnosis, or a consensus-specs config file.\n"
                "  Without --tls-cert the API is plain HTTP, allowed only on a loopback address.\n"
                "  --key-cache: encrypted fast-load cache of the decrypted keys (restarts skip the keystore KDF).\n"
                "  --keymanager-token-file: enables /eth/v1/keystores; the bearer token is created there (0600)\n"
                "  on first start.\n"
                "  --slashing-prune-keep-epochs N: keep N epochs of slashing history below each key's newest record\n"
                "  and prune older records, at start and every S seconds (--slashing-prune-interval-s, default\n"
                "  3600); 0 (the default) keeps everything.\n"
                "  --message-cache-entries N: signing roots kept hashed to the curve for the next key that signs\n"
                "  them (a slot's attesters share one); default 1024, 0 turns the cache off (docs/api.md).\n",
                f);
}

/* sigild --slashing-prune-interval-s: at most a year (also the pruner's own bound). */
#define PRUNE_MAX_INTERVAL_S (366u * 24u * 3600u)

/* Strict decimal: digits only (no sign or space), no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

struct opt {
    const char *name;
    const char **value;
};

struct loader_args {
    struct sigil_keystore *ks;
    struct sigil_load_opts opts;
    struct sigil_service *svc;
    int failed;
};

static void progress(size_t done, size_t total, void *ctx)
{
    (void)ctx;
    /* every 10% and at the end */
    if (total == 0 || done == total || (done * 10 / total) != ((done - 1) * 10 / total)) {
        SIGIL_LOG_INFO("loading keystores", SIGIL_LOG_UINT("done", done), SIGIL_LOG_UINT("total", total));
    }
}

static void *loader_main(void *arg)
{
    struct loader_args *la = arg;
    struct sigil_load_report rep;
    memset(&rep, 0, sizeof rep);
    sigil_result r = sigil_keystore_load_dir(la->ks, &la->opts, &rep);
    if (!sigil_is_ok(r)) {
        SIGIL_LOG_ERROR("loading keystores failed", SIGIL_LOG_STR("error", sigil_strerror(r.code)),
                        SIGIL_LOG_STR("detail", sigil_error_detail()));
        la->failed = 1;
        sigil_service_stop(la->svc);
        return NULL;
    }
    SIGIL_LOG_INFO("keystores loaded", SIGIL_LOG_UINT("found", rep.found), SIGIL_LOG_UINT("loaded", rep.loaded),
                   SIGIL_LOG_UINT("from_cache", rep.from_cache), SIGIL_LOG_UINT("failed", rep.failed),
                   SIGIL_LOG_DBL("seconds", rep.seconds));
    r = sigil_service_keys_loaded(la->svc);
    if (!sigil_is_ok(r)) {
        SIGIL_LOG_ERROR("registering keys with slashing protection failed",
                        SIGIL_LOG_STR("error", sigil_strerror(r.code)), SIGIL_LOG_STR("detail", sigil_error_detail()));
        la->failed = 1;
        sigil_service_stop(la->svc);
    }
    return NULL;
}

static bool parse_log_level(const char *s, enum sigil_log_level *lvl)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int l = 0; s != NULL && l < 4; l++) {
        if (strcmp(s, names[l]) == 0) {
            *lvl = (enum sigil_log_level)l;
            return true;
        }
    }
    return s == NULL;
}

/* The eth1 wallet: rules file, keys (decrypted in parallel) and the audit log, into cfg (which
 * passes them to the service). Returns 0, or the exit code after printing one sentence. */
static int wallet_setup(struct sigil_service_config *cfg, const char *ks_dir, const char *pw_dir,
                        const char *policy_file, const char *audit_log)
{
    uint8_t policy_hash[32] = {0};
    char hash_hex[67];
    if (policy_file != NULL) {
        char *text = NULL;
        size_t len = 0;
        sigil_result r = sigil_read_file(&text, &len, policy_file, SIGIL_POLICY_MAX_FILE);
        if (sigil_is_ok(r)) {
            r = sigil_policy_parse(&cfg->policy, text, len);
        }
        free(text);
        if (!sigil_is_ok(r)) {
            (void)fprintf(stderr, "sigild: --policy-file %s: %s%s%s\n", policy_file, sigil_strerror(r.code),
                          sigil_error_detail()[0] ? ": " : "", sigil_error_detail());
            return 2;
        }
        sigil_policy_hash(cfg->policy, policy_hash);
        SIGIL_LOG_INFO("wallet policy loaded", SIGIL_LOG_STR("file", policy_file),
                       SIGIL_LOG_STR("policy_hash", sigil_hex_encode(hash_hex, policy_hash, 32, 1)));
    }
    if (ks_dir != NULL) {
        struct sigil_eth1_load_report rep;
        sigil_result r = sigil_eth1_keyring_new(&cfg->eth1);
        if (sigil_is_ok(r)) {
            r = sigil_eth1_keyring_load_dir(cfg->eth1, ks_dir, pw_dir, 0, &rep);
        }
        if (!sigil_is_ok(r)) {
            (void)fprintf(stderr, "sigild: --eth1-keystores-path %s: %s%s%s\n", ks_dir, sigil_strerror(r.code),
                          sigil_error_detail()[0] ? ": " : "", sigil_error_detail());
            sigil_eth1_keyring_free(cfg->eth1);
            sigil_policy_free(cfg->policy);
            return 1;
        }
        SIGIL_LOG_INFO("eth1 keystores loaded", SIGIL_LOG_UINT("loaded", rep.loaded),
                       SIGIL_LOG_UINT("failed", rep.failed));
    }
    if (audit_log != NULL) {
        struct sigil_audit_config ac;
        memset(&ac, 0, sizeof ac);
        sigil_result r = sigil_audit_file_sink(&ac.sink, audit_log, &ac.next_seq, ac.prev_hash);
        if (sigil_is_ok(r)) {
            ac.instance = "sigild";
            memcpy(ac.policy_hash, policy_hash, 32);
            r = sigil_audit_open(&cfg->audit, &ac);
        }
        if (!sigil_is_ok(r)) {
            (void)fprintf(stderr, "sigild: --audit-log %s: %s%s%s\n", audit_log, sigil_strerror(r.code),
                          sigil_error_detail()[0] ? ": " : "", sigil_error_detail());
            sigil_eth1_keyring_free(cfg->eth1);
            sigil_policy_free(cfg->policy);
            return 1;
        }
        uint8_t addr[20];
        uint8_t head[32];
        uint64_t seq = 0;
        char addr_s[43];
        sigil_audit_info(cfg->audit, addr, &seq, head);
        sigil_eip55_encode(addr_s, addr);
        SIGIL_LOG_INFO("audit log open", SIGIL_LOG_STR("file", audit_log), SIGIL_LOG_STR("audit_signer", addr_s),
                       SIGIL_LOG_UINT("next_seq", seq),
                       SIGIL_LOG_STR("policy_hash", sigil_hex_encode(hash_hex, policy_hash, 32, 1)));
    }
    return 0;
}

/* sigild --control ADDR: the enclave boot path; only --log-level may accompany it. */
static int enclave_mode(const char *control, const char *log_level, int argc)
{
    enum sigil_log_level lvl = SIGIL_LOG_INFO;
    if (argc > (log_level != NULL ? 5 : 3) || !parse_log_level(log_level, &lvl)) {
        (void)fputs("sigild: --control takes only --log-level (debug|info|warn|error) besides it\n", stderr);
        return 2;
    }
    /* before any JSON object exists: INIT's credentials are parsed into secure memory */
    sigil_channel_use_secure_json();
    sigil_log_init(lvl, 2);
    struct sigil_enclave_opts eo = {.control = control, .image_path = NULL, .accept_timeout_ms = -1};
    return sigil_enclave_main(&eo);
}

int main(int argc, char **argv)
{
    if (!sigil_harden_process()) {
        (void)fputs("sigild: warning: could not disable core dumps / ptrace\n", stderr);
    }
    sigil_log_set_component("sigild");
    const char *ks_dir = NULL, *pw_dir = NULL, *db = NULL, *network = NULL, *listen = NULL, *cert = NULL, *key = NULL,
               *known = NULL, *ca = NULL, *metrics = NULL, *cache = NULL, *cache_pw = NULL, *token = NULL,
               *client_keys = NULL, *workers = NULL, *log_level = NULL, *prune_keep = NULL, *prune_interval = NULL,
               *control = NULL, *eth1_ks_dir = NULL, *eth1_pw_dir = NULL, *policy_file = NULL, *audit_log = NULL,
               *msg_cache = NULL, *db_pw_file = NULL;
    struct opt opts[] = {
        {"keystores-path", &ks_dir},
        {"keystores-passwords-path", &pw_dir},
        {"slashing-db", &db},
        {"network", &network},
        {"http-listen", &listen},
        {"tls-cert", &cert},
        {"tls-key", &key},
        {"tls-known-clients", &known},
        {"tls-ca", &ca},
        {"metrics-listen", &metrics},
        {"key-cache", &cache},
        {"key-cache-password-file", &cache_pw},
        {"keymanager-token-file", &token},
        {"client-keys", &client_keys},
        {"workers", &workers},
        {"log-level", &log_level},
        {"slashing-prune-keep-epochs", &prune_keep},
        {"slashing-prune-interval-s", &prune_interval},
        {"control", &control},
        {"eth1-keystores-path", &eth1_ks_dir},
        {"eth1-keystores-passwords-path", &eth1_pw_dir},
        {"policy-file", &policy_file},
        {"audit-log", &audit_log},
        {"message-cache-entries", &msg_cache},
        {"slashing-db-password-file", &db_pw_file},
    };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        bool matched = false;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
            size_t nl = strlen(opts[k].name);
            if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, opts[k].name, nl) == 0) {
                const char *rest = argv[i] + 2 + nl;
                if (*rest == '=') {
                    *opts[k].value = rest + 1;
                } else if (*rest == '\0' && i + 1 < argc) {
                    *opts[k].value = argv[++i];
                } else {
                    continue;
                }
                matched = true;
                break;
            }
        }
        if (!matched) {
            (void)fprintf(stderr, "sigild: unknown or incomplete option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (control != NULL) {
        return enclave_mode(control, log_level, argc);
    }
    if (db == NULL || listen == NULL || (ks_dir == NULL && eth1_ks_dir == NULL)) {
        (void)fputs("sigild: --slashing-db, --http-listen and keys (--keystores-path and/or --eth1-keystores-path) are "
                    "required (see --help)\n",
                    stderr);
        return 2;
    }
    if ((ks_dir == NULL) != (pw_dir == NULL) || (ks_dir != NULL && network == NULL)) {
        (void)fputs("sigild: --keystores-path, --keystores-passwords-path and --network go together\n", stderr);
        return 2;
    }
    if ((eth1_ks_dir == NULL) != (eth1_pw_dir == NULL)) {
        (void)fputs("sigild: --eth1-keystores-path and --eth1-keystores-passwords-path go together\n", stderr);
        return 2;
    }
    if (eth1_ks_dir != NULL && audit_log == NULL) {
        (void)fputs("sigild: eth1 keys need --audit-log FILE: every signing decision is recorded there\n", stderr);
        return 2;
    }
    if ((cert == NULL) != (key == NULL)) {
        (void)fputs("sigild: --tls-cert and --tls-key go together\n", stderr);
        return 2;
    }
    if ((known != NULL || ca != NULL) && cert == NULL) {
        (void)fputs("sigild: client authentication (--tls-known-clients / --tls-ca) needs --tls-cert and --tls-key\n",
                    stderr);
        return 2;
    }
    if (cache != NULL && cache_pw == NULL) {
        (void)fputs("sigild: --key-cache needs --key-cache-password-file\n", stderr);
        return 2;
    }
    uint64_t msg_cache_entries = SIGIL_KEYSTORE_MSG_CACHE_DEFAULT;
    if (msg_cache != NULL &&
        (!parse_u64(msg_cache, &msg_cache_entries) || msg_cache_entries > SIGIL_KEYSTORE_MSG_CACHE_MAX)) {
        (void)fprintf(stderr, "sigild: --message-cache-entries must be 0 (off) to %d\n", SIGIL_KEYSTORE_MSG_CACHE_MAX);
        return 2;
    }
    struct sigil_pruner_config prune_cfg = {.keep_epochs = 0, .interval_s = 3600};
    if (prune_keep != NULL && !parse_u64(prune_keep, &prune_cfg.keep_epochs)) {
        (void)fputs("sigild: --slashing-prune-keep-epochs must be a decimal number of epochs (0 = keep everything)\n",
                    stderr);
        return 2;
    }
    if (prune_interval != NULL && (!parse_u64(prune_interval, &prune_cfg.interval_s) || prune_cfg.interval_s == 0 ||
                                   prune_cfg.interval_s > PRUNE_MAX_INTERVAL_S)) {
        (void)fputs("sigild: --slashing-prune-interval-s must be 1 to 31622400 seconds\n", stderr);
        return 2;
    }
    enum sigil_log_level lvl = SIGIL_LOG_INFO;
    if (log_level != NULL) {
        static const char *const names[] = {"debug", "info", "warn", "error"};
        bool ok = false;
        for (int l = 0; l < 4; l++) {
            if (strcmp(log_level, names[l]) == 0) {
                lvl = (enum sigil_log_level)l;
                ok = true;
            }
        }
        if (!ok) {
            (void)fputs("sigild: --log-level must be debug, info, warn or error\n", stderr);
            return 2;
        }
    }
    sigil_log_init(lvl, 2);

    struct sigil_service_config cfg;
    memset(&cfg, 0, sizeof cfg);
    sigil_result r = sigil_ok();
    if (network != NULL) { /* eth1 alone needs no network: nothing is pinned then */
        r = sigil_network_load(&cfg.network, network);
    }
    if (!sigil_is_ok(r)) {
        (void)fprintf(stderr, "sigild: --network %s: %s %s\n", network, sigil_strerror(r.code), sigil_error_detail());
        return 2;
    }
    cfg.http_listen = listen;
    cfg.metrics_listen = metrics;
    cfg.tls.cert_file = cert;
    cfg.tls.key_file = key;
    cfg.tls.known_clients_file = known;
    cfg.tls.ca_file = ca;
    cfg.tls.require_client_cert = known != NULL || ca != NULL;
    /* A password in the URL would be readable by every local user (ps); it comes from a file. The
     * URL with it lives in secure memory for the whole run (the service keeps the pointer). */
    char *db_url = NULL;
    if (db_pw_file != NULL) {
        r = sigil_slashing_url_with_password_file(&db_url, db, db_pw_file);
        if (!sigil_is_ok(r)) {
            (void)fprintf(stderr, "sigild: --slashing-db-password-file: %s\n", sigil_error_detail());
            return 2;
        }
    } else if (sigil_slashing_url_has_password(db)) {
        SIGIL_LOG_WARN("the --slashing-db URL carries a password, visible to local users in the process list; "
                       "use --slashing-db-password-file",
                       SIGIL_LOG_NONE);
    }
    cfg.slashing_db_url = db_url != NULL ? db_url : db;
    cfg.keystores_dir = ks_dir;
    cfg.passwords_dir = pw_dir;
    cfg.keymanager_token_file = token;
    cfg.client_keys_file = client_keys;
    if (workers != NULL) {
        cfg.worker_threads = (unsigned)strtoul(workers, NULL, 10);
        if (cfg.worker_threads == 0 || cfg.worker_threads > 1024) {
            (void)fputs("sigild: --workers must be 1..1024\n", stderr);
            return 2;
        }
    }

    int rc = wallet_setup(&cfg, eth1_ks_dir, eth1_pw_dir, policy_file, audit_log);
    if (rc != 0) {
        return rc;
    }
    struct sigil_keystore *ks = NULL;
    r = sigil_keystore_new(&ks);
    if (sigil_is_ok(r) && msg_cache_entries != SIGIL_KEYSTORE_MSG_CACHE_DEFAULT) {
        r = sigil_keystore_set_msg_cache(ks, (size_t)msg_cache_entries);
    }
    if (!sigil_is_ok(r)) {
        (void)fputs("sigild: out of memory\n", stderr);
        sigil_eth1_keyring_free(cfg.eth1);
        sigil_policy_free(cfg.policy);
        sigil_audit_free(cfg.audit);
        return 1;
    }
    struct sigil_service *svc = NULL;
    r = sigil_service_new(&svc, &cfg, ks);
    if (!sigil_is_ok(r)) {
        (void)fprintf(stderr, "sigild: cannot start: %s%s%s\n", sigil_strerror(r.code),
                      sigil_error_detail()[0] ? ": " : "", sigil_error_detail());
        sigil_keystore_free(ks);
        return 1;
    }
    g_service = svc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)signal(SIGPIPE, SIG_IGN);

    struct sigil_pruner *pruner = NULL;
    if (prune_cfg.keep_epochs > 0) {
        prune_cfg.slots_per_epoch = cfg.network.slots_per_epoch;
        r = sigil_pruner_start(&pruner, sigil_service_db(svc), &prune_cfg);
        if (!sigil_is_ok(r)) {
            (void)fprintf(stderr, "sigild: slashing-history pruning: %s %s\n", sigil_strerror(r.code),
                          sigil_error_detail());
            g_service = NULL;
            sigil_service_free(svc);
            return 1;
        }
    }

    SIGIL_LOG_INFO("listening", SIGIL_LOG_STR("address", listen), SIGIL_LOG_UINT("port", sigil_service_port(svc)),
                   SIGIL_LOG_BOOL("tls", cert != NULL), SIGIL_LOG_STR("network", cfg.network.name));
    struct loader_args la = {.ks = ks, .svc = svc};
    la.opts.keystores_dir = ks_dir;
    la.opts.passwords_dir = pw_dir;
    la.opts.cache_path = cache;
    la.opts.cache_password_file = cache_pw;
    la.opts.progress = progress;
    pthread_t loader;
    if (ks_dir == NULL) { /* eth1 only: nothing to load, ready now */
        r = sigil_service_keys_loaded(svc);
        if (sigil_is_ok(r)) {
            r = sigil_service_run(svc);
        }
        sigil_pruner_stop(pruner);
        g_service = NULL;
        sigil_service_free(svc);
        if (!sigil_is_ok(r)) {
            (void)fprintf(stderr, "sigild: %s %s\n", sigil_strerror(r.code), sigil_error_detail());
            return 1;
        }
        SIGIL_LOG_INFO("stopped", SIGIL_LOG_NONE);
        return 0;
    }
    if (pthread_create(&loader, NULL, loader_main, &la) != 0) {
        (void)fputs("sigild: cannot start the key loader\n", stderr);
        sigil_pruner_stop(pruner);
        g_service = NULL;
        sigil_service_free(svc);
        return 1;
    }
    r = sigil_service_run(svc);
    pthread_join(loader, NULL);
    sigil_pruner_stop(pruner); /* before the service closes the database it prunes */
    g_service = NULL;
    sigil_service_free(svc);
    sigil_secure_free(db_url);
    if (!sigil_is_ok(r)) {
        (void)fprintf(stderr, "sigild: %s %s\n", sigil_strerror(r.code), sigil_error_detail());
        return 1;
    }
    SIGIL_LOG_INFO("stopped", SIGIL_LOG_NONE);
    return la.failed ? 1 : 0;
}
