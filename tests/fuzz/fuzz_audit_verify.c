/* Fuzz harness: the audit log verifier (`sigil audit verify` reads logs an attacker may have
 * written). The bytes are one log file, checked from memory through the same line splitter and line
 * verifier the file path streams into: once in one piece without options, once cut into chunks (the
 * way read() delivers a file; the chunk size comes from the input, so lines and overlong lines span
 * chunk boundaries), and once with a pinned signer, an attestation root, attestation required and a
 * pinned PCR0. Invariants: no crash or unbounded allocation, counters consistent, a clean verdict
 * exactly when no problem was counted, problem messages printable ASCII, and the same report however
 * the bytes are chunked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "audit/audit_internal.h"
#include "common/secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *root_pem;

static void setup_once(void)
{
    if (root_pem != NULL) {
        return;
    }
    char *root_key = NULL;
    if (!sigil_is_ok(sigil_attest_dev_root_new(&root_pem, &root_key))) {
        abort();
    }
    sigil_secure_free(root_key);
}

static void check_problem(void *ctx, uint64_t line, const char *msg)
{
    const struct sigil_audit_report *rep = ctx;
    if (line == 0 || line > rep->lines + 1 || *msg == '\0') {
        abort();
    }
    for (const char *p = msg; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            abort();
        }
    }
}

static void check_start(void *ctx, const struct audit_start_info *s)
{
    (void)ctx;
    if (s->line == 0 || strlen(s->version) >= sizeof s->version || strlen(s->instance) >= sizeof s->instance) {
        abort();
    }
}

static void check_report(sigil_result r, const struct sigil_audit_report *rep, size_t size)
{
    if (rep->decisions != rep->signed_count + rep->refused_count || rep->unsigned_tail > rep->lines ||
        rep->lines > size + 1 || rep->checkpoints + rep->decisions + rep->starts > rep->lines) {
        abort();
    }
    if ((rep->problems == 0) != (r.code == SIGIL_OK) || (r.code != SIGIL_OK && r.code != SIGIL_ERR_CRYPTO)) {
        abort();
    }
    if ((rep->problems == 0) != (rep->first_problem[0] == '\0') ||
        memchr(rep->first_problem, '\0', sizeof rep->first_problem) == NULL) {
        abort();
    }
}

/* The file path's way in: the same stream, fed in chunks. */
static void check_chunked(const uint8_t *data, size_t size, sigil_result whole_r,
                          const struct sigil_audit_report *whole)
{
    size_t chunk = 1;
    if (size != 0) {
        chunk += ((size_t)data[0] << 8 | data[size / 2]) % (SIGIL_AUDIT_MAX_LINE + 2);
    }
    struct sigil_audit_report rep;
    struct audit_verify_stream *s = NULL;
    if (!sigil_is_ok(audit_verify_stream_new(&s, NULL, NULL, &rep))) {
        abort();
    }
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (!sigil_is_ok(audit_verify_stream_push(s, (const char *)data + off, n))) {
            abort();
        }
    }
    sigil_result r = audit_verify_stream_finish(s);
    if (r.code != whole_r.code || memcmp(&rep, whole, sizeof rep) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    struct sigil_audit_report rep;
    sigil_result r = audit_verify_buffer((const char *)data, size, NULL, NULL, &rep);
    check_report(r, &rep, size);
    check_chunked(data, size, r, &rep);

    static const uint8_t signers[1][20] = {{0x03, 0x9b, 0xfa, 0x16}};
    static const uint8_t pcr0[1][48] = {{0x5a}};
    static const int pcr0_index[1] = {0};
    struct sigil_audit_verify_opts o = {.trusted_signers = signers,
                                        .ntrusted = 1,
                                        .attestation_root_pem = root_pem,
                                        .require_attestation = true,
                                        .expect_pcr = pcr0,
                                        .expect_pcr_index = pcr0_index,
                                        .n_expect_pcr = 1};
    struct audit_verify_cb cb = {.start = check_start, .problem = check_problem, .ctx = &rep};
    r = audit_verify_buffer((const char *)data, size, &o, &cb, &rep);
    check_report(r, &rep, size);
    return 0;
}
