/* Launchers: how sigild is started and reached, behind one interface.
 *   local  sigild in the namespace sandbox (sandbox.h); control = a socketpair end as fd 3;
 *          HTTPS listener = unix:RUNDIR/sigild.sock; PCR0 = SHA-384 of the sigild binary.
 *   nitro  `nitro-cli run-enclave --eif-path F --cpu-count N --memory M --enclave-cid CID`;
 *          control = vsock CID:5000, HTTPS listener = vsock CID:5001; PCR0 from nitro-cli's
 *          output. */
#ifndef SIGIL_HOST_LAUNCHER_H
#define SIGIL_HOST_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/result.h"

#define SIGIL_NITRO_CONTROL_PORT 5000u
#define SIGIL_NITRO_HTTP_PORT    5001u
#define SIGIL_NITRO_OUT_PORT     8000u /* outbound destination i: vsock 3:(8000+i) */

struct sigil_launch_config {
    const char *sigild_path; /* local */
    const char *run_dir;
    const char *data_dir; /* local, SQLite slashing DB; NULL when PostgreSQL */
    int log_fd;           /* local: sigild's stdout/stderr (-1 inherit) */
    bool seccomp_log;
    const char *eif; /* nitro */
    unsigned cid, cpu_count, memory_mib;
    const char *nitro_cli; /* NULL: "nitro-cli" from PATH */
    bool debug_mode;
};

struct sigil_enclave {
    pid_t pid; /* local: the sandboxed sigild; nitro: 0 */
    int control_fd;
    char http_target[160]; /* endpoint text for the inbound proxy */
    char pcr0[97];         /* hex, "" when unknown */
    char enclave_id[128];  /* nitro */
};

struct sigil_launcher_ops {
    const char *name;
    SIGIL_RESULT (*start)(const struct sigil_launch_config *cfg, struct sigil_enclave *e);
    /* false once the enclave is gone (reaps a local child) */
    bool (*alive)(const struct sigil_launch_config *cfg, struct sigil_enclave *e, char *why, size_t why_cap);
    void (*stop)(const struct sigil_launch_config *cfg, struct sigil_enclave *e);
};

/* "local" or "nitro"; NULL for anything else. */
const struct sigil_launcher_ops *sigil_launcher_find(const char *name);

/* The nitro-cli run-enclave argv (NULL-terminated, pointers into buf/cfg); exposed for tests.
 * Returns the argument count, or -1 when cfg lacks the EIF, CID (>= 4), CPU count or memory. */
int sigil_nitro_run_argv(const struct sigil_launch_config *cfg, const char *argv[16], char buf[128]);

/* SHA-384 of a file as 96 hex digits. */
SIGIL_RESULT sigil_file_sha384_hex(char out[97], const char *path);

#endif
