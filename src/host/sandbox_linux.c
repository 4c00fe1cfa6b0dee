/* Linux sandbox (see sandbox.h). Everything the child needs (paths, mount flags, the BPF program)
 * is computed before clone(), so the child only makes system calls: it is a copy of a
 * multithreaded process and must not touch malloc or locks. Each failing step writes a short
 * message to an error pipe that execve closes (O_CLOEXEC); the parent reads EOF on success. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/sandbox.h"

#define MAX_BINDS 32
#define MAX_DIRS  256
#define PATH_CAP  512

struct bind {
    char src[PATH_CAP], dst[PATH_CAP];
    bool ro, is_file, symlink, is_dev;
    char link[PATH_CAP];
    unsigned long locked; /* MS_NOSUID/MS_NODEV/MS_NOEXEC/... the source mount has (must be kept) */
};

struct plan {
    char root[PATH_CAP], old[PATH_CAP], tmp[PATH_CAP], proc[PATH_CAP];
    struct bind b[MAX_BINDS];
    int nb;
    char dirs[MAX_DIRS][PATH_CAP]; /* inside root, parents before children */
    int nd;
    struct sock_fprog prog;
};

/* ---------------- seccomp allow-list ---------------- */

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
/* Derived from `strace -f -c` of sigild (boot over the control channel, KMS over the forwarder,
 * TLS serving, signing, SQLite slashing DB) plus what glibc, OpenSSL, libevent and libcurl use on
 * their error paths. Nothing here mounts, traces, loads modules, changes ids or namespaces. */
static const int allowed[] = {
    SYS_read,
    SYS_write,
    SYS_readv,
    SYS_writev,
    SYS_pread64,
    SYS_pwrite64,
    SYS_open,
    SYS_openat,
    SYS_close,
    SYS_fstat,
    SYS_stat,
    SYS_lstat,
    SYS_newfstatat,
    SYS_statx,
    SYS_lseek,
    SYS_mmap,
    SYS_mprotect,
    SYS_munmap,
    SYS_mremap,
    SYS_madvise,
    SYS_brk,
    SYS_rt_sigaction,
    SYS_rt_sigprocmask,
    SYS_rt_sigreturn,
    SYS_ioctl,
    SYS_access,
    SYS_faccessat,
    SYS_faccessat2,
    SYS_pipe,
    SYS_pipe2,
    SYS_select,
    SYS_pselect6,
    SYS_poll,
    SYS_ppoll,
    SYS_epoll_create,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_epoll_wait,
    SYS_epoll_pwait,
    SYS_dup,
    SYS_dup2,
    SYS_dup3,
    SYS_nanosleep,
    SYS_clock_nanosleep,
    SYS_getpid,
    SYS_gettid,
    SYS_getppid,
    SYS_connect,
    SYS_accept,
    SYS_accept4,
    SYS_sendto,
    SYS_recvfrom,
    SYS_sendmsg,
    SYS_recvmsg,
    SYS_sendmmsg,
    SYS_recvmmsg,
    SYS_shutdown,
    SYS_bind,
    SYS_listen,
    SYS_getsockname,
    SYS_getpeername,
    SYS_socketpair,
    SYS_setsockopt,
    SYS_getsockopt,
    SYS_clone,
    SYS_clone3,
    SYS_exit,
    SYS_exit_group,
    SYS_wait4,
    SYS_tgkill,
    SYS_fcntl,
    SYS_flock,
    SYS_fsync,
    SYS_fdatasync,
    SYS_ftruncate,
    SYS_fallocate,
    SYS_getdents64,
    SYS_getcwd,
    SYS_chdir,
    SYS_rename,
    SYS_renameat,
    SYS_renameat2,
    SYS_mkdir,
    SYS_mkdirat,
    SYS_rmdir,
    SYS_unlink,
    SYS_unlinkat,
    SYS_readlink,
    SYS_readlinkat,
    SYS_fchmod,
    SYS_chmod,
    SYS_fchmodat,
    SYS_umask,
    SYS_gettimeofday,
    SYS_getrlimit,
    SYS_setrlimit,
    SYS_prlimit64,
    SYS_getuid,
    SYS_geteuid,
    SYS_getgid,
    SYS_getegid,
    SYS_getresuid,
    SYS_getresgid,
    SYS_sysinfo,
    SYS_prctl,
    SYS_arch_prctl,
    SYS_set_tid_address,
    SYS_set_robust_list,
    SYS_get_robust_list,
    SYS_futex,
    SYS_sched_yield,
    SYS_sched_getaffinity,
    SYS_getrandom,
    SYS_mlock,
    SYS_munlock,
    SYS_mlock2,
    SYS_eventfd,
    SYS_eventfd2,
    SYS_timerfd_create,
    SYS_timerfd_settime,
    SYS_timerfd_gettime,
    SYS_rseq,
    SYS_execve,
    SYS_uname,
    SYS_restart_syscall,
    SYS_clock_gettime,
    SYS_clock_getres,
    SYS_time,
    SYS_sigaltstack,
    SYS_fadvise64,
    SYS_membarrier,
    SYS_getpriority,
    SYS_sched_getparam,
    SYS_sched_getscheduler,
    SYS_getitimer,
    SYS_setitimer,
    SYS_alarm,
    SYS_fchown,
    SYS_utimensat,
    SYS_futimesat,
    SYS_pkey_mprotect,
    SYS_getgroups,
    SYS_mincore,
    SYS_statfs,
    SYS_fstatfs,
    SYS_close_range,
};

static const int allowed_families[] = {AF_UNIX, AF_INET, AF_INET6, AF_VSOCK};

#define NALLOWED  (sizeof allowed / sizeof allowed[0])
#define NFAMILIES (sizeof allowed_families / sizeof allowed_families[0])
#define PROG_LEN  (4 + 2 + 2 * NALLOWED + 3 + NFAMILIES + 2 + 1)

static struct sock_filter g_filter[PROG_LEN];

/* Builds: arch check; x32 refusal; socket(domain) allow-list; syscall allow-list; default action. */
static void build_filter(struct plan *pl, bool log_only)
{
    const unsigned deny = log_only ? SECCOMP_RET_LOG : SECCOMP_RET_KILL_PROCESS;
    size_t n = 0;
    struct sock_filter *f = g_filter;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    /* x32 system calls (bit 30) are a second syscall table: refuse it outright. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    for (size_t i = 0; i < NALLOWED; i++) {
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)allowed[i], 0, 1);
        f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    }
    /* socket(domain, ...): only the families the signer uses; others fail with EAFNOSUPPORT so
     * libraries probing (e.g. netlink) see an ordinary error. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, (unsigned)(NFAMILIES + 3));
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
    for (size_t i = 0; i < NFAMILIES; i++) {
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)allowed_families[i],
                                              (unsigned)(NFAMILIES - i), 0);
    }
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EAFNOSUPPORT & SECCOMP_RET_DATA));
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, deny);
    pl->prog.len = (unsigned short)n;
    pl->prog.filter = g_filter;
}

bool sigil_sandbox_supported(void) { return access("/proc/self/ns/user", F_OK) == 0; }
#else
static void build_filter(struct plan *pl, bool log_only)
{
    (void)log_only;
    pl->prog.len = 0;
}
bool sigil_sandbox_supported(void) { return false; }
#endif

/* ---------------- plan (parent, before clone) ---------------- */

static unsigned long locked_flags(const char *path)
{
    struct statvfs sv;
    unsigned long f = 0;
    if (statvfs(path, &sv) == 0) {
        f |= (sv.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
        f |= (sv.f_flag & ST_NODEV) ? MS_NODEV : 0;
        f |= (sv.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
        f |= (sv.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
        f |= (sv.f_flag & ST_NODIRATIME) ? MS_NODIRATIME : 0;
        f |= (sv.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
    }
    return f;
}

static SIGIL_RESULT add_dirs(struct plan *pl, const char *inside)
{
    /* every prefix of inside ("/a", "/a/b", ...) */
    char buf[PATH_CAP];
    size_t n = strlen(inside);
    if (n >= sizeof buf) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "sandbox: path too long");
    }
    for (size_t i = 1; i <= n; i++) {
        if (inside[i] != '/' && inside[i] != '\0') {
            continue;
        }
        memcpy(buf, inside, i);
        buf[i] = '\0';
        bool seen = false;
        for (int k = 0; k < pl->nd && !seen; k++) {
            seen = strcmp(pl->dirs[k] + strlen(pl->root), buf) == 0;
        }
        if (!seen) {
            if (pl->nd >= MAX_DIRS) {
                return sigil_errorf(SIGIL_ERR_CONFIG, "sandbox: too many directories");
            }
            size_t rl = strlen(pl->root), bl = strlen(buf); /* not snprintf: root and dirs share a struct */
            if (rl + bl >= PATH_CAP) {
                return sigil_errorf(SIGIL_ERR_CONFIG, "sandbox: path too long");
            }
            memcpy(pl->dirs[pl->nd], pl->root, rl);
            memcpy(pl->dirs[pl->nd] + rl, buf, bl + 1);
            pl->nd++;
        }
    }
    return sigil_ok();
}

static SIGIL_RESULT add_bind(struct plan *pl, const char *src, bool ro)
{
    if (pl->nb >= MAX_BINDS) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "sandbox: too many binds");
    }
    struct stat st;
    if (lstat(src, &st) != 0) {
        return sigil_ok(); /* optional system paths (e.g. /lib64) */
    }
    if (src[0] != '/' || strlen(src) + strlen(pl->root) + 2 >= PATH_CAP) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "sandbox: %s must be an absolute path", src);
    }
    struct bind *b = &pl->b[pl->nb++];
    memset(b, 0, sizeof *b);
    /* lengths were checked above; memmove because src may itself live in the plan */
    size_t sl = strlen(src), rl = strlen(pl->root);
    memmove(b->src, src, sl + 1);
    memmove(b->dst, pl->root, rl);
    memmove(b->dst + rl, b->src, sl + 1);
    b->ro = ro;
    if (S_ISLNK(st.st_mode)) {
        ssize_t l = readlink(src, b->link, sizeof b->link - 1);
        if (l <= 0) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "sandbox: cannot read the link %s", src);
        }
        b->link[l] = '\0';
        b->symlink = true;
    } else {
        b->is_file = !S_ISDIR(st.st_mode);
        b->is_dev = S_ISCHR(st.st_mode);
        b->locked = locked_flags(src);
    }
    /* parents of the mount point */
    char parent[PATH_CAP];
    (void)snprintf(parent, sizeof parent, "%s", src);
    char *slash = strrchr(parent, '/');
    if (slash != NULL && slash != parent) {
        *slash = '\0';
        SIGIL_GUARD(add_dirs(pl, parent));
    }
    if (!b->is_file && !b->symlink) {
        SIGIL_GUARD(add_dirs(pl, src));
    }
    return sigil_ok();
}

/* ---------------- child (after clone: system calls only) ---------------- */

static void die(int errfd, const char *step)
{
    char msg[160];
    int e = errno;
    size_t sl = strlen(step);
    if (sl > 100) {
        sl = 100;
    }
    memcpy(msg, step, sl); /* NOLINT(bugprone-not-null-terminated-result): a length-delimited write */
    msg[sl] = ':';
    msg[sl + 1] = ' ';
    const char *es = strerrordesc_np(e);
    size_t el = es != NULL ? strlen(es) : 0;
    if (el > 50) {
        el = 50;
    }
    memcpy(msg + sl + 2, es != NULL ? es : "", el);
    (void)!write(errfd, msg, sl + 2 + el);
    _exit(127);
}

static void child(const struct plan *pl, const struct sigil_sandbox_config *cfg, int sync_fd, int errfd)
{
    /* Move the error pipe out of the way of fds 0..3, which are about to be rewired. */
    int hi = fcntl(errfd, F_DUPFD_CLOEXEC, 200);
    if (hi >= 0) {
        (void)close(errfd);
        errfd = hi;
    }
    char c;
    if (read(sync_fd, &c, 1) != 1) {
        die(errfd, "wait for the id maps");
    }
    (void)close(sync_fd);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        die(errfd, "make / private");
    }
    if (mount("tmpfs", pl->root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=8m") != 0) {
        die(errfd, "mount the tmpfs root");
    }
    if (mkdir(pl->tmp, 01777) != 0 ||
        mount("tmpfs", pl->tmp, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=64m") != 0) {
        die(errfd, "mount /tmp");
    }
    for (int i = 0; i < pl->nd; i++) {
        if (mkdir(pl->dirs[i], 0755) != 0 && errno != EEXIST) {
            die(errfd, "create a mount point");
        }
    }
    for (int i = 0; i < pl->nb; i++) {
        const struct bind *b = &pl->b[i];
        if (b->symlink) {
            if (symlink(b->link, b->dst) != 0 && errno != EEXIST) {
                die(errfd, "create a symlink");
            }
            continue;
        }
        if (b->is_file) {
            int fd = open(b->dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
            if (fd < 0) {
                die(errfd, "create a file mount point");
            }
            (void)close(fd);
        }
        /* System trees recursively; the read-write directories alone (the tmpfs root lives
         * inside the run directory and must not be copied into itself). */
        if (mount(b->src, b->dst, NULL, MS_BIND | (b->ro ? MS_REC : 0), NULL) != 0) {
            die(errfd, b->src);
        }
        unsigned long fl =
            MS_BIND | MS_REMOUNT | MS_NOSUID | (b->is_dev ? 0 : MS_NODEV) | b->locked | (b->ro ? MS_RDONLY : 0);
        if (mount(NULL, b->dst, NULL, fl, NULL) != 0) {
            die(errfd, "remount a bind");
        }
    }
    /* A proc of the new PID namespace only (the simulated NSM measures /proc/self/exe): it shows
     * the sandbox's own processes and nothing of the host. */
    if (mkdir(pl->proc, 0555) != 0 || mount("proc", pl->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        die(errfd, "mount /proc");
    }
    if (mkdir(pl->old, 0700) != 0 || syscall(SYS_pivot_root, pl->root, pl->old) != 0 || chdir("/") != 0) {
        die(errfd, "pivot_root");
    }
    if (umount2("/.old", MNT_DETACH) != 0 || rmdir("/.old") != 0) {
        die(errfd, "detach the old root");
    }
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0) {
        die(errfd, "make the root read-only");
    }
    /* only loopback comes up; the namespace has no other device */
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
        die(errfd, "read lo flags");
    }
    ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
        die(errfd, "bring lo up");
    }
    (void)close(s);
    struct rlimit zero = {0, 0};
    if (setrlimit(RLIMIT_CORE, &zero) != 0) {
        die(errfd, "RLIMIT_CORE");
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        die(errfd, "prctl");
    }
    /* fds: 0 /dev/null, 1/2 the log, 3 control, nothing else (errfd is close-on-exec) */
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul < 0 || dup2(nul, 0) != 0) {
        die(errfd, "/dev/null");
    }
    if (cfg->log_fd >= 0 && (dup2(cfg->log_fd, 1) != 1 || dup2(cfg->log_fd, 2) != 2)) {
        die(errfd, "log fd");
    }
    if (cfg->control_fd >= 0) {
        if (cfg->control_fd != 3 && dup2(cfg->control_fd, 3) != 3) {
            die(errfd, "control fd");
        }
        (void)fcntl(3, F_SETFD, 0);
    }
    /* keep errfd open until execve (it is O_CLOEXEC) */
    unsigned first = cfg->control_fd >= 0 ? 4u : 3u;
    if ((unsigned)errfd > first) {
        (void)syscall(SYS_close_range, first, (unsigned)errfd - 1, 0);
    }
    (void)syscall(SYS_close_range, (unsigned)errfd + 1 > first ? (unsigned)errfd + 1 : first, ~0u, 0);
    if (pl->prog.len > 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &pl->prog, 0, 0) != 0) {
        die(errfd, "seccomp");
    }
    static char *const envp[] = {"PATH=/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp", NULL};
    execve(cfg->exe, cfg->argv, envp);
    die(errfd, "execve");
}

static SIGIL_RESULT write_map(pid_t pid, const char *file, const char *text)
{
    char path[64];
    (void)snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return sigil_errorf(SIGIL_ERR_IO, "sandbox: open %s: %s", path, strerror(errno));
    }
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    (void)close(fd);
    if (n != (ssize_t)strlen(text)) {
        return sigil_errorf(SIGIL_ERR_IO, "sandbox: write %s: %s", path, strerror(e));
    }
    return sigil_ok();
}

static struct plan g_plan; /* large: not on the stack; one spawn at a time */
static pthread_mutex_t g_plan_mu = PTHREAD_MUTEX_INITIALIZER;

static SIGIL_RESULT make_plan(struct plan *pl, const struct sigil_sandbox_config *cfg)
{
    memset(pl, 0, sizeof *pl);
    int n = snprintf(pl->root, sizeof pl->root, "%s/.sandbox-root", cfg->run_dir);
    if (n <= 0 || (size_t)n >= 200) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "sandbox: run directory path too long");
    }
    if (mkdir(pl->root, 0700) != 0 && errno != EEXIST) {
        return sigil_errorf(SIGIL_ERR_IO, "sandbox: cannot create %s: %s", pl->root, strerror(errno));
    }
    if (snprintf(pl->old, sizeof pl->old, "%s/.old", pl->root) >= (int)sizeof pl->old ||
        snprintf(pl->tmp, sizeof pl->tmp, "%s/tmp", pl->root) >= (int)sizeof pl->tmp ||
        snprintf(pl->proc, sizeof pl->proc, "%s/proc", pl->root) >= (int)sizeof pl->proc) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "sandbox: path too long");
    }
    static const char *const sys_ro[] = {"/usr",  "/lib",     "/lib64",    "/lib32",    "/libx32",      "/bin",
                                         "/sbin", "/etc/ssl", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"};
    for (size_t i = 0; i < sizeof sys_ro / sizeof sys_ro[0]; i++) {
        SIGIL_GUARD(add_bind(pl, sys_ro[i], true));
    }
    SIGIL_GUARD(add_bind(pl, cfg->exe, true));
    for (size_t i = 0; cfg->ro_extra != NULL && cfg->ro_extra[i] != NULL; i++) {
        SIGIL_GUARD(add_bind(pl, cfg->ro_extra[i], true));
    }
    SIGIL_GUARD(add_bind(pl, cfg->run_dir, false));
    if (cfg->data_dir != NULL) {
        SIGIL_GUARD(add_bind(pl, cfg->data_dir, false));
    }
    /* The directories are created on the tmpfs root in order: sort so parents come first. */
    for (int i = 1; i < pl->nd; i++) {
        for (int k = i; k > 0 && strlen(pl->dirs[k]) < strlen(pl->dirs[k - 1]); k--) {
            char t[PATH_CAP];
            memcpy(t, pl->dirs[k], PATH_CAP);
            memcpy(pl->dirs[k], pl->dirs[k - 1], PATH_CAP);
            memcpy(pl->dirs[k - 1], t, PATH_CAP);
        }
    }
    build_filter(pl, cfg->seccomp_log);
    return sigil_ok();
}

SIGIL_RESULT sigil_sandbox_spawn(pid_t *pid, const struct sigil_sandbox_config *cfg)
{
    *pid = -1;
    if (!sigil_sandbox_supported()) {
        return sigil_errorf(SIGIL_ERR_UNSUPPORTED, "the local sandbox needs x86_64 Linux with user namespaces");
    }
    if (cfg->exe == NULL || cfg->exe[0] != '/' || cfg->run_dir == NULL || cfg->run_dir[0] != '/') {
        return sigil_errorf(SIGIL_ERR_CONFIG, "sandbox: the program and run directory need absolute paths");
    }
    pthread_mutex_lock(&g_plan_mu);
    sigil_result ret = make_plan(&g_plan, cfg);
    int sync_p[2] = {-1, -1}, err_p[2] = {-1, -1};
    if (!sigil_is_ok(ret)) {
        goto out;
    }
    if (pipe2(sync_p, O_CLOEXEC) != 0 || pipe2(err_p, O_CLOEXEC) != 0) {
        ret = sigil_errorf(SIGIL_ERR_IO, "sandbox: pipe: %s", strerror(errno));
        goto out;
    }
    long c = syscall(SYS_clone,
                     CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD,
                     NULL, NULL, NULL, NULL);
    if (c < 0) {
        ret = sigil_errorf(SIGIL_ERR_IO, "sandbox: clone: %s", strerror(errno));
        goto out;
    }
    if (c == 0) {
        (void)close(sync_p[1]);
        (void)close(err_p[0]);
        child(&g_plan, cfg, sync_p[0], err_p[1]);
        _exit(127);
    }
    pid_t child_pid = (pid_t)c;
    (void)close(sync_p[0]);
    sync_p[0] = -1;
    (void)close(err_p[1]);
    err_p[1] = -1;
    char map[64];
    (void)snprintf(map, sizeof map, "0 %u 1\n", (unsigned)getuid());
    ret = write_map(child_pid, "setgroups", "deny");
    if (sigil_is_ok(ret)) {
        ret = write_map(child_pid, "uid_map", map);
    }
    (void)snprintf(map, sizeof map, "0 %u 1\n", (unsigned)getgid());
    if (sigil_is_ok(ret)) {
        ret = write_map(child_pid, "gid_map", map);
    }
    if (sigil_is_ok(ret) && write(sync_p[1], "g", 1) != 1) {
        ret = sigil_errorf(SIGIL_ERR_IO, "sandbox: cannot release the child");
    }
    char msg[200];
    ssize_t n = 0;
    if (sigil_is_ok(ret)) {
        do {
            n = read(err_p[0], msg, sizeof msg - 1);
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            msg[n] = '\0';
            ret = sigil_errorf(SIGIL_ERR_IO, "sandbox setup failed at %s", msg);
        }
    }
    if (!sigil_is_ok(ret)) {
        (void)kill(child_pid, SIGKILL);
        (void)waitpid(child_pid, NULL, 0);
        goto out;
    }
    *pid = child_pid;
out:
    pthread_mutex_unlock(&g_plan_mu);
    for (int i = 0; i < 2; i++) {
        if (sync_p[i] >= 0) {
            (void)close(sync_p[i]);
        }
        if (err_p[i] >= 0) {
            (void)close(err_p[i]);
        }
    }
    return ret;
}
