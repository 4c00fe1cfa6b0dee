#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/secmem.h"

static sigil_result read_all(char **out, size_t *len, int fd, size_t max, int secure, const char *what)
{
    size_t cap = 4096;
    size_t n = 0;
    char *buf = secure ? sigil_secure_alloc(cap + 1) : malloc(cap + 1);
    if (buf == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                break;
            }
            size_t ncap = cap * 2;
            char *nb = secure ? sigil_secure_alloc(ncap + 1) : malloc(ncap + 1);
            if (nb == NULL) {
                secure ? sigil_secure_free(buf) : free(buf);
                return sigil_error(SIGIL_ERR_NOMEM);
            }
            memcpy(nb, buf, n);
            if (secure) {
                sigil_secure_free(buf);
            } else {
                free(buf);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            secure ? sigil_secure_free(buf) : free(buf);
            return sigil_errorf(SIGIL_ERR_IO, "cannot read %s: %s", what, strerror(errno));
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
        if (n > max) {
            break;
        }
    }
    if (n > max) {
        secure ? sigil_secure_free(buf) : free(buf);
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "%s is larger than %zu bytes", what, max);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return sigil_ok();
}

static sigil_result read_path(char **out, size_t *len, const char *path, size_t max, int secure)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return sigil_errorf(SIGIL_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    sigil_result r = read_all(out, len, fd, max, secure, path);
    close(fd);
    return r;
}

sigil_result sigil_read_file(char **out, size_t *len, const char *path, size_t max)
{
    return read_path(out, len, path, max, 0);
}

sigil_result sigil_read_file_secure(char **out, size_t *len, const char *path, size_t max)
{
    return read_path(out, len, path, max, 1);
}

sigil_result sigil_read_fd_secure(char **out, size_t *len, int fd, size_t max)
{
    return read_all(out, len, fd, max, 1, "standard input");
}

sigil_result sigil_write_file(const char *path, const void *data, size_t len, unsigned mode, int exclusive)
{
    if (exclusive && access(path, F_OK) == 0) {
        return sigil_errorf(SIGIL_ERR_IO, "%s already exists", path);
    }
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        return sigil_errorf(SIGIL_ERR_ARG, "path is too long");
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        return sigil_errorf(SIGIL_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            int e = errno;
            close(fd);
            unlink(tmp);
            return sigil_errorf(SIGIL_ERR_IO, "cannot write %s: %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return sigil_errorf(SIGIL_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return sigil_errorf(SIGIL_ERR_IO, "cannot rename into %s: %s", path, strerror(e));
    }
    return sigil_ok();
}

void sigil_strip_newline(char *s, size_t *len)
{
    if (*len > 0 && s[*len - 1] == '\n') {
        s[--*len] = '\0';
        if (*len > 0 && s[*len - 1] == '\r') {
            s[--*len] = '\0';
        }
    }
}
