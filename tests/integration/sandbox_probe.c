/* Runs inside the local sandbox (sigil-host sandbox-exec) and checks its walls from the inside.
 * Modes:
 *   net PORT...     only `lo` exists; connecting to host TCP ports (e.g. sigil-kms) fails;
 *                   AF_NETLINK / AF_PACKET sockets are refused
 *   files PATH...   none of these host paths can be opened; the root is read-only
 *   write DIR       DIR (the run dir) is writable: the positive control
 *   syscall NAME    makes a forbidden call (ptrace, mount, unshare): the seccomp filter kills us
 * Exit 0: every wall held (or, for `syscall`, we are never supposed to reach the exit). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <unistd.h>

static int bad;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "DENIED-OK" : "ESCAPE", what);
    if (!ok) {
        bad = 1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        return 2;
    }
    if (strcmp(argv[1], "net") == 0) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct ifreq ifr[16];
        struct ifconf ifc = {.ifc_len = sizeof ifr, .ifc_req = ifr};
        if (s >= 0 && ioctl(s, SIOCGIFCONF, &ifc) == 0) {
            int n = ifc.ifc_len / (int)sizeof ifr[0];
            for (int i = 0; i < n; i++) {
                check(strcmp(ifr[i].ifr_name, "lo") == 0, ifr[i].ifr_name);
            }
        }
        for (int i = 2; i < argc; i++) {
            int c = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET,
                                    .sin_port = htons((uint16_t)atoi(argv[i])),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            char what[64];
            snprintf(what, sizeof what, "connect 127.0.0.1:%s", argv[i]);
            check(connect(c, (struct sockaddr *)&a, sizeof a) != 0, what);
            close(c);
            c = socket(AF_INET, SOCK_STREAM, 0);
            a.sin_addr.s_addr = htonl(0x01010101); /* 1.1.1.1: no route at all */
            check(connect(c, (struct sockaddr *)&a, sizeof a) != 0 && errno == ENETUNREACH, "connect 1.1.1.1");
            close(c);
        }
        check(socket(AF_NETLINK, SOCK_RAW, 0) < 0 && errno == EAFNOSUPPORT, "socket(AF_NETLINK)");
        check(socket(AF_PACKET, SOCK_RAW, 0) < 0, "socket(AF_PACKET)");
    } else if (strcmp(argv[1], "files") == 0) {
        for (int i = 2; i < argc; i++) {
            int fd = open(argv[i], O_RDONLY);
            check(fd < 0, argv[i]);
            if (fd >= 0) {
                close(fd);
            }
        }
        check(open("/probe-write", O_CREAT | O_WRONLY, 0600) < 0, "write to /");
        check(open("/usr/probe-write", O_CREAT | O_WRONLY, 0600) < 0, "write to /usr");
        check(access("/proc/2", F_OK) != 0, "/proc shows only the sandbox");
        check(access("/sys", F_OK) != 0, "/sys");
        check(access("/home", F_OK) != 0, "/home");
    } else if (strcmp(argv[1], "write") == 0 && argc == 3) {
        char p[4096];
        snprintf(p, sizeof p, "%s/probe-ok", argv[2]);
        int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
        int ok = fd >= 0 && write(fd, "ok\n", 3) == 3;
        printf("%s write %s\n", ok ? "ALLOWED-OK" : "BROKEN", p);
        return ok ? 0 : 1;
    } else if (strcmp(argv[1], "syscall") == 0 && argc == 3) {
        fflush(stdout);
        if (strcmp(argv[2], "ptrace") == 0) {
            (void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        } else if (strcmp(argv[2], "mount") == 0) {
            (void)mount("none", "/tmp", "tmpfs", 0, NULL);
        } else if (strcmp(argv[2], "unshare") == 0) {
            (void)unshare(CLONE_NEWUSER);
        }
        printf("ESCAPE syscall %s returned\n", argv[2]);
        return 1;
    } else {
        return 2;
    }
    return bad;
}
