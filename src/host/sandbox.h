/* The local sandbox for sigild (and for test probes run exactly the same way), OpenSSH style: one
 * small interface, one implementation file per OS (sandbox_linux.c).
 *
 * The child gets new user, network, mount, PID and IPC namespaces; only `lo` is up; the mount tree
 * is a fresh read-only tmpfs root holding read-only binds of the executable and the system
 * library directories, /dev/{null,zero,urandom}, a private /tmp, and read-write binds of the run
 * directory (sockets) and the data directory (SQLite), each at its host path. Then RLIMIT_CORE 0,
 * PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0, every fd closed but 0 (/dev/null), 1, 2 and the control
 * fd (as fd 3), and a seccomp-BPF allow-list (x86_64 only; the arch is checked first; anything
 * else kills the process; socket() is limited to AF_UNIX/AF_INET/AF_INET6/AF_VSOCK). */
#ifndef SIGIL_HOST_SANDBOX_H
#define SIGIL_HOST_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/result.h"

struct sigil_sandbox_config {
    const char *exe;             /* absolute path of the program (bound read-only at the same path) */
    char *const *argv;           /* argv[0] included, NULL-terminated */
    const char *run_dir;         /* bound read-write at the same path (required) */
    const char *data_dir;        /* bound read-write at the same path, or NULL */
    const char *const *ro_extra; /* more read-only binds (NULL-terminated list, or NULL) */
    int control_fd;              /* becomes fd 3 in the child; -1: none */
    int log_fd;                  /* becomes fds 1 and 2; -1: inherit */
    bool seccomp_log;            /* SECCOMP_RET_LOG instead of kill (debugging the allow-list only) */
};

/* Starts cfg->exe in the sandbox. Returns once the child has execve'd (or failed to: then the
 * error says which step, and the child is reaped). Out: *pid (in the caller's PID namespace). */
SIGIL_RESULT sigil_sandbox_spawn(pid_t *pid, const struct sigil_sandbox_config *cfg);

/* True when this kernel/arch supports the sandbox (x86_64, user namespaces). */
bool sigil_sandbox_supported(void);

#endif
