/* Fuzz harness: the check sigil-host runs on the "lines" of an AUDIT frame before it appends them to
 * the audit log (sigil_audit_lines_problem; the enclave that sends them is not trusted to be well
 * behaved). The bytes are one frame's lines. Invariants: no crash; when the lines are accepted they
 * are whole lines under the limit, without NUL, each beginning like a record, and the file sink can
 * reopen a log ending in them and continues from the last line's seq and hash (the point of the
 * check); when refused, the reason is a non-empty sentence and no line count is reported. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_internal.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char memfd_path[64];

static void setup_once(void)
{
    if (memfd >= 0) {
        return;
    }
    sigil_log_init(SIGIL_LOG_ERROR, 2);
    memfd = memfd_create("fuzz_audit_lines", MFD_CLOEXEC);
    if (memfd < 0 || fchmod(memfd, 0600) != 0) {
        abort();
    }
    (void)snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
}

/* A log holding exactly these bytes reopens, continuing from its last line. */
static void check_sink_reopens(const char *text, size_t len)
{
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, text, len, 0) != (ssize_t)len) {
        abort();
    }
    const char *last = len >= 2 ? memrchr(text, '\n', len - 1) : NULL;
    last = last != NULL ? last + 1 : text;
    uint64_t want_seq = 0;
    if (audit_line_problem(last, (size_t)(text + len - 1 - last), &want_seq) != NULL) {
        abort();
    }
    uint8_t want_h[32], h[32];
    audit_line_hash(want_h, last, (size_t)(text + len - 1 - last));
    struct sigil_audit_sink s;
    uint64_t seq = 0;
    if (!sigil_is_ok(sigil_audit_file_sink(&s, memfd_path, &seq, h))) {
        abort();
    }
    s.close(s.ctx);
    if (seq != want_seq + 1 || memcmp(h, want_h, 32) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    const char *text = (const char *)data;
    uint64_t n = 99;
    const char *why = sigil_audit_lines_problem(text, size, &n);
    if (why != NULL) {
        if (*why == '\0' || n != 0) {
            abort();
        }
        return 0;
    }
    if (size == 0 || text[size - 1] != '\n' || memchr(text, '\0', size) != NULL) {
        abort();
    }
    uint64_t count = 0;
    for (size_t off = 0; off < size;) {
        const char *nl = memchr(text + off, '\n', size - off);
        size_t l = (size_t)(nl - (text + off));
        if (l == 0 || l + 1 > SIGIL_AUDIT_MAX_LINE ||
            memcmp(text + off, AUDIT_LINE_PREFIX, AUDIT_LINE_PREFIX_LEN) != 0) {
            abort();
        }
        count++;
        off += l + 1;
    }
    if (count != n) {
        abort();
    }
    check_sink_reopens(text, size);
    return 0;
}
