/* local and nitro launchers (see launcher.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/hex.h"
#include "host/conn.h"
#include "host/launcher.h"
#include "host/sandbox.h"

extern char **environ;

SIGIL_RESULT sigil_file_sha384_hex(char out[97], const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return sigil_errorf(SIGIL_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    }
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    bool ok = m != NULL && EVP_DigestInit_ex(m, EVP_sha384(), NULL) == 1;
    uint8_t buf[65536], d[48];
    ssize_t n;
    while (ok && (n = read(fd, buf, sizeof buf)) > 0) {
        ok = EVP_DigestUpdate(m, buf, (size_t)n) == 1;
    }
    unsigned dl = 0;
    ok = ok && EVP_DigestFinal_ex(m, d, &dl) == 1 && dl == 48;
    EVP_MD_CTX_free(m);
    (void)close(fd);
    if (!ok) {
        return sigil_errorf(SIGIL_ERR_CRYPTO, "cannot hash %s", path);
    }
    char hx[2 * 48 + 3];
    (void)snprintf(out, 97, "%s", sigil_hex_encode(hx, d, 48, 0));
    return sigil_ok();
}

/* ---------------- local ---------------- */

static SIGIL_RESULT local_start(const struct sigil_launch_config *cfg, struct sigil_enclave *e)
{
    memset(e, 0, sizeof *e);
    e->control_fd = -1;
    e->pid = -1;
    SIGIL_GUARD(sigil_file_sha384_hex(e->pcr0, cfg->sigild_path));
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return sigil_errorf(SIGIL_ERR_IO, "socketpair: %s", strerror(errno));
    }
    char *const argv[] = {(char *)"sigild", (char *)"--control", (char *)"fd:3", NULL};
    struct sigil_sandbox_config sc = {.exe = cfg->sigild_path,
                                      .argv = argv,
                                      .run_dir = cfg->run_dir,
                                      .data_dir = cfg->data_dir,
                                      .control_fd = sv[1],
                                      .log_fd = cfg->log_fd,
                                      .seccomp_log = cfg->seccomp_log};
    sigil_result r = sigil_sandbox_spawn(&e->pid, &sc);
    (void)close(sv[1]);
    if (!sigil_is_ok(r)) {
        (void)close(sv[0]);
        return r;
    }
    e->control_fd = sv[0];
    (void)snprintf(e->http_target, sizeof e->http_target, "unix:%s/sigild.sock", cfg->run_dir);
    return sigil_ok();
}

static bool local_alive(const struct sigil_launch_config *cfg, struct sigil_enclave *e, char *why, size_t cap)
{
    (void)cfg;
    if (e->pid <= 0) {
        (void)snprintf(why, cap, "not running");
        return false;
    }
    int st = 0;
    pid_t r = waitpid(e->pid, &st, WNOHANG);
    if (r == 0) {
        return true;
    }
    if (r == e->pid) {
        if (WIFSIGNALED(st)) {
            (void)snprintf(why, cap, "sigild was killed by signal %d%s", WTERMSIG(st),
                           WTERMSIG(st) == SIGSYS ? " (a system call outside the seccomp allow-list)" : "");
        } else {
            (void)snprintf(why, cap, "sigild exited with status %d", WEXITSTATUS(st));
        }
        e->pid = -1;
    } else {
        (void)snprintf(why, cap, "sigild is gone");
    }
    return false;
}

static void local_stop(const struct sigil_launch_config *cfg, struct sigil_enclave *e)
{
    (void)cfg;
    if (e->control_fd >= 0) {
        (void)close(e->control_fd);
        e->control_fd = -1;
    }
    if (e->pid > 0) {
        /* PID 1 of its namespace: only SIGKILL is certain to end it from outside. */
        struct timespec ts = {0, 50000000};
        for (int i = 0; i < 40; i++) {
            if (waitpid(e->pid, NULL, WNOHANG) == e->pid) {
                e->pid = -1;
                return;
            }
            (void)nanosleep(&ts, NULL);
        }
        (void)kill(e->pid, SIGKILL);
        (void)waitpid(e->pid, NULL, 0);
        e->pid = -1;
    }
}

/* ---------------- nitro ---------------- */

int sigil_nitro_run_argv(const struct sigil_launch_config *cfg, const char *argv[16], char buf[128])
{
    if (cfg->eif == NULL || cfg->cid < 4 || cfg->cpu_count == 0 || cfg->memory_mib == 0) {
        return -1;
    }
    int n = 0;
    char *cpu = buf, *mem = buf + 32, *cid = buf + 64;
    (void)snprintf(cpu, 32, "%u", cfg->cpu_count);
    (void)snprintf(mem, 32, "%u", cfg->memory_mib);
    (void)snprintf(cid, 32, "%u", cfg->cid);
    argv[n++] = cfg->nitro_cli != NULL ? cfg->nitro_cli : "nitro-cli";
    argv[n++] = "run-enclave";
    argv[n++] = "--eif-path";
    argv[n++] = cfg->eif;
    argv[n++] = "--cpu-count";
    argv[n++] = cpu;
    argv[n++] = "--memory";
    argv[n++] = mem;
    argv[n++] = "--enclave-cid";
    argv[n++] = cid;
    if (cfg->debug_mode) {
        argv[n++] = "--debug-mode";
    }
    argv[n] = NULL;
    return n;
}

static bool in_path(const char *prog)
{
    if (strchr(prog, '/') != NULL) {
        return access(prog, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    char buf[4096];
    for (const char *p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0';) {
        const char *c = strchr(p, ':');
        size_t l = c != NULL ? (size_t)(c - p) : strlen(p);
        (void)snprintf(buf, sizeof buf, "%.*s/%s", (int)l, p, prog);
        if (access(buf, X_OK) == 0) {
            return true;
        }
        p += l + (c != NULL ? 1 : 0);
    }
    return false;
}

/* Runs argv, capturing stdout (at most cap-1 bytes). Returns the exit status or -1. */
static int run_capture(const char *const *argv, char *out, size_t cap)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        return -1;
    }
    posix_spawn_file_actions_t fa;
    (void)posix_spawn_file_actions_init(&fa);
    (void)posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    (void)posix_spawn_file_actions_destroy(&fa);
    (void)close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (rc == 0 && (r = read(p[0], out + n, cap - 1 - n)) > 0) {
        n += (size_t)r;
        if (n == cap - 1) {
            break;
        }
    }
    out[n] = '\0';
    (void)close(p[0]);
    int st = 0;
    if (rc != 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
        return -1;
    }
    return WEXITSTATUS(st);
}

static void json_field(const char *text, const char *key, char *out, size_t cap)
{
    const char *k = strstr(text, key);
    out[0] = '\0';
    if (k == NULL) {
        return;
    }
    const char *q = strchr(k + strlen(key), '"');
    if (q == NULL) {
        return;
    }
    const char *e = strchr(q + 1, '"');
    if (e != NULL && (size_t)(e - q - 1) < cap) {
        (void)snprintf(out, cap, "%.*s", (int)(e - q - 1), q + 1);
    }
}

static SIGIL_RESULT nitro_start(const struct sigil_launch_config *cfg, struct sigil_enclave *e)
{
    memset(e, 0, sizeof *e);
    e->control_fd = -1;
    const char *argv[16];
    char buf[128];
    if (sigil_nitro_run_argv(cfg, argv, buf) < 0) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "the nitro launcher needs --eif F, --cid N (>= 4), --cpu-count and "
                                              "--memory");
    }
    if (!in_path(argv[0])) {
        return sigil_errorf(SIGIL_ERR_UNSUPPORTED,
                            "%s not found: the nitro launcher needs the AWS Nitro Enclaves CLI on a Nitro-enabled "
                            "EC2 instance (use --launcher local on other machines)",
                            argv[0]);
    }
    char out[8192];
    int st = run_capture(argv, out, sizeof out);
    if (st != 0) {
        return sigil_errorf(SIGIL_ERR_IO, "nitro-cli run-enclave failed (exit %d)", st);
    }
    json_field(out, "\"EnclaveID\"", e->enclave_id, sizeof e->enclave_id);
    json_field(out, "\"PCR0\"", e->pcr0, sizeof e->pcr0);
    char addr[64];
    (void)snprintf(addr, sizeof addr, "vsock:%u:%u", cfg->cid, SIGIL_NITRO_CONTROL_PORT);
    struct sigil_endpoint ep;
    SIGIL_GUARD(sigil_endpoint_parse(&ep, addr));
    sigil_result r = sigil_error(SIGIL_ERR_IO);
    for (int i = 0; i < 60 && !sigil_is_ok(r); i++) {
        r = sigil_endpoint_connect_wait(&e->control_fd, &ep, 1000);
        if (!sigil_is_ok(r)) {
            (void)sleep(1);
        }
    }
    SIGIL_GUARD(r);
    (void)snprintf(e->http_target, sizeof e->http_target, "vsock:%u:%u", cfg->cid, SIGIL_NITRO_HTTP_PORT);
    return sigil_ok();
}

static bool nitro_alive(const struct sigil_launch_config *cfg, struct sigil_enclave *e, char *why, size_t cap)
{
    const char *argv[] = {cfg->nitro_cli != NULL ? cfg->nitro_cli : "nitro-cli", "describe-enclaves", NULL};
    char out[8192];
    if (run_capture(argv, out, sizeof out) != 0 || strstr(out, "\"RUNNING\"") == NULL ||
        (e->enclave_id[0] != '\0' && strstr(out, e->enclave_id) == NULL)) {
        (void)snprintf(why, cap, "the enclave is not running (nitro-cli describe-enclaves)");
        return false;
    }
    return true;
}

static void nitro_stop(const struct sigil_launch_config *cfg, struct sigil_enclave *e)
{
    if (e->control_fd >= 0) {
        (void)close(e->control_fd);
        e->control_fd = -1;
    }
    const char *argv[] = {cfg->nitro_cli != NULL ? cfg->nitro_cli : "nitro-cli", "terminate-enclave",
                          e->enclave_id[0] ? "--enclave-id" : "--all", e->enclave_id[0] ? e->enclave_id : NULL, NULL};
    char out[4096];
    (void)run_capture(argv, out, sizeof out);
}

static const struct sigil_launcher_ops local_ops = {"local", local_start, local_alive, local_stop};
static const struct sigil_launcher_ops nitro_ops = {"nitro", nitro_start, nitro_alive, nitro_stop};

const struct sigil_launcher_ops *sigil_launcher_find(const char *name)
{
    if (name != NULL && strcmp(name, "local") == 0) {
        return &local_ops;
    }
    if (name != NULL && strcmp(name, "nitro") == 0) {
        return &nitro_ops;
    }
    return NULL;
}
