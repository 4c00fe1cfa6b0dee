/* The file sink of the standalone sigild: append-only (O_APPEND), one fdatasync per batch, mode
 * 0600, an exclusive flock so two signers never interleave lines in one file. Opening an existing
 * log continues its chain from the last line; a torn last line (a crash mid-write, never
 * acknowledged, so nothing was signed on its strength) is cut off with a warning. Earlier lines are
 * never rewritten. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_internal.h"
#include "common/log.h"

struct file_sink {
    int fd;
};

static sigil_result file_write(void *ctx, const char *lines, size_t len)
{
    struct file_sink *s = ctx;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(s->fd, lines + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return sigil_errorf(SIGIL_ERR_IO, "audit log write failed: %s", n < 0 ? strerror(errno) : "no progress");
        }
        off += (size_t)n;
    }
    if (fdatasync(s->fd) != 0) {
        return sigil_errorf(SIGIL_ERR_IO, "audit log fdatasync failed: %s", strerror(errno));
    }
    return sigil_ok();
}

static void file_close(void *ctx)
{
    struct file_sink *s = ctx;
    if (s != NULL) {
        (void)close(s->fd);
        free(s);
    }
}

static SIGIL_RESULT pread_full(int fd, char *buf, size_t len, off_t at)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = pread(fd, buf + off, len - off, at + (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return sigil_errorf(SIGIL_ERR_IO, "cannot read the audit log's last lines: %s",
                                n < 0 ? strerror(errno) : "file shrank");
        }
        off += (size_t)n;
    }
    return sigil_ok();
}

/* The last complete line must be an audit record: its seq and hash continue the chain. The test is
 * the one sigil-host applies to AUDIT frames (sigil_audit_lines_problem), so anything a host stored
 * can be continued from. */
static SIGIL_RESULT parse_last_line(const char *line, size_t len, uint64_t *next_seq, uint8_t prev_hash[32])
{
    uint64_t seq = 0;
    const char *why = audit_line_problem(line, len, &seq);
    if (why != NULL) {
        return sigil_errorf(SIGIL_ERR_PARSE, "the last line of the audit log is not an audit record: %s", why);
    }
    *next_seq = seq + 1; /* seq <= INT64_MAX */
    audit_line_hash(prev_hash, line, len);
    return sigil_ok();
}

/* Reads the tail of a non-empty log; on a torn last line sets *cut_to to the length to keep. */
static SIGIL_RESULT read_tail(int fd, off_t size, uint64_t *next_seq, uint8_t prev_hash[32], off_t *cut_to)
{
    size_t win = (uint64_t)size < 2ull * SIGIL_AUDIT_MAX_LINE + 1 ? (size_t)size : 2 * SIGIL_AUDIT_MAX_LINE + 1;
    bool whole = (off_t)win == size; /* the window starts at the beginning of the file */
    char *buf = malloc(win);
    if (buf == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    sigil_result ret = pread_full(fd, buf, win, size - (off_t)win);
    if (!sigil_is_ok(ret)) {
        goto out;
    }
    size_t end = win; /* end of the complete lines in buf */
    *cut_to = -1;
    if (buf[win - 1] != '\n') {
        const char *nl = memrchr(buf, '\n', win);
        size_t frag = nl != NULL ? (size_t)(nl - buf) + 1 : 0;
        size_t flen = win - frag;
        size_t cmp = flen < AUDIT_LINE_PREFIX_LEN ? flen : AUDIT_LINE_PREFIX_LEN;
        if ((nl == NULL && !whole) || flen >= SIGIL_AUDIT_MAX_LINE || memcmp(buf + frag, AUDIT_LINE_PREFIX, cmp) != 0) {
            ret = sigil_errorf(SIGIL_ERR_PARSE, "the audit log does not end with a newline and its last line is not "
                                                "the start of an audit record");
            goto out;
        }
        end = frag;
        *cut_to = size - (off_t)flen;
    }
    if (end == 0) {
        /* The only line was torn: the log starts over at seq 0. */
        *next_seq = 0;
        memset(prev_hash, 0, 32);
        ret = sigil_ok();
        goto out;
    }
    const char *nl2 = end >= 2 ? memrchr(buf, '\n', end - 1) : NULL;
    if (nl2 == NULL && !whole) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "the last line of the audit log is over %u bytes", SIGIL_AUDIT_MAX_LINE);
        goto out;
    }
    size_t ls = nl2 != NULL ? (size_t)(nl2 - buf) + 1 : 0;
    ret = parse_last_line(buf + ls, end - 1 - ls, next_seq, prev_hash);
out:
    free(buf);
    return ret;
}

/* Makes a newly created file's directory entry durable. */
static void sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL) {
        return;
    }
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        (void)close(dfd);
    }
    free(copy);
}

sigil_result sigil_audit_file_sink(struct sigil_audit_sink *out, const char *path, uint64_t *next_seq,
                                   uint8_t prev_hash[32])
{
    memset(out, 0, sizeof *out);
    *next_seq = 0;
    memset(prev_hash, 0, 32);
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    struct file_sink *s = NULL;
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return sigil_errorf(SIGIL_ERR_IO, "cannot open audit log %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret = sigil_errorf(SIGIL_ERR_IO, "audit log %s is not a regular file", path);
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ret = sigil_errorf(SIGIL_ERR_IO, "audit log %s is in use by another process", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        SIGIL_LOG_WARN("audit log is readable or writable by other users", SIGIL_LOG_STR("path", path));
    }
    if (st.st_size == 0) {
        sync_dir(path);
    } else {
        off_t cut_to = -1;
        SIGIL_GUARD_GOTO(read_tail(fd, st.st_size, next_seq, prev_hash, &cut_to));
        if (cut_to >= 0) {
            SIGIL_LOG_WARN("audit log ended in a torn line (a crash mid-write); cutting it off",
                           SIGIL_LOG_STR("path", path), SIGIL_LOG_UINT("bytes", (uint64_t)(st.st_size - cut_to)));
            if (ftruncate(fd, cut_to) != 0 || fdatasync(fd) != 0) {
                ret = sigil_errorf(SIGIL_ERR_IO, "cannot cut the torn last line of audit log %s: %s", path,
                                   strerror(errno));
                goto out;
            }
        }
    }
    s = malloc(sizeof *s);
    SIGIL_ENSURE_GOTO(s != NULL, SIGIL_ERR_NOMEM);
    s->fd = fd;
    out->write = file_write;
    out->close = file_close;
    out->ctx = s;
    return sigil_ok();
out:
    (void)close(fd);
    *next_seq = 0;
    memset(prev_hash, 0, 32);
    return ret;
}
