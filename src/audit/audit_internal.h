/* Internals of the audit trail shared by the writer, the verifier, the CLI, the unit tests and the
 * fuzz harness. The line format is docs/audit.md. */
#ifndef SIGIL_AUDIT_AUDIT_INTERNAL_H
#define SIGIL_AUDIT_AUDIT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"

/* Domain prefix of the checkpoint signature (docs/audit.md): the signed digest is
 * keccak256(prefix || head (32 bytes) || be64(seq of the checkpoint line)). */
#define AUDIT_CHECKPOINT_PREFIX     "\x19Sigil audit checkpoint:\n"
#define AUDIT_CHECKPOINT_PREFIX_LEN 25u

/* Budgets (bytes of escaped JSON between the quotes) for the free-text members of a decision, so
 * that a decision line always fits SIGIL_AUDIT_MAX_LINE; longer text is cut and ends in "...". */
#define AUDIT_MAX_KIND     64u
#define AUDIT_MAX_POLICY   512u
#define AUDIT_MAX_RULE     512u
#define AUDIT_MAX_REASON   4096u
#define AUDIT_MAX_CLIENT   1024u
#define AUDIT_MAX_INSTANCE 256u

/* The digest a checkpoint signs. */
void audit_checkpoint_digest(uint8_t out[32], const uint8_t head[32], uint64_t seq);

/* SHA-256 of a line's exact bytes (without its newline). */
void audit_line_hash(uint8_t out[32], const char *line, size_t len);

/* Every record line begins with these bytes (the writer puts seq first). The file sink relies on it
 * to tell a torn record from foreign bytes at the end of a log. */
#define AUDIT_LINE_PREFIX     "{\"seq\":"
#define AUDIT_LINE_PREFIX_LEN 7u

/* The one test of "this line is an audit record the file sink can continue from" (docs/audit.md),
 * shared by the sink's reopen and by sigil_audit_lines_problem: line (len bytes, no newline) is
 * under SIGIL_AUDIT_MAX_LINE with its newline, holds no NUL, begins with AUDIT_LINE_PREFIX and is one
 * strict JSON object (no duplicate members) with a non-negative integer seq, prev of 64 lowercase
 * hex digits and type start/decision/checkpoint/stop. Returns NULL and sets *seq (may be NULL)
 * when it is, else a static sentence. */
const char *audit_line_problem(const char *line, size_t len, uint64_t *seq);

/* Appends s as a JSON string (quotes included) to out[*len..cap): control characters, quote and
 * backslash escaped, invalid UTF-8 replaced by U+FFFD, cut to at most budget bytes between the
 * quotes (ending in "..." when cut). NULL is written as null. out must have room for budget + 2
 * bytes (or 4 for null) after *len; the function never writes past cap. */
void audit_json_string(char *out, size_t cap, size_t *len, const char *s, size_t budget);

/* What the verifier learned about one start record (for the CLI summary). */
enum audit_attestation { AUDIT_ATT_NONE, AUDIT_ATT_UNCHECKED, AUDIT_ATT_VALID, AUDIT_ATT_INVALID };

struct audit_start_info {
    uint64_t line, seq;
    char time[32];
    char version[64];   /* printable ASCII only (anything else replaced by '?') */
    char instance[128]; /* same */
    uint8_t address[20];
    bool address_ok; /* the declared address is the public key's */
    enum audit_attestation attestation;
    uint8_t pcr0[48]; /* when attestation == AUDIT_ATT_VALID */
};

/* Optional callbacks: every start record, and every problem (msg without the "line N: " prefix;
 * it holds only printable ASCII). */
struct audit_verify_cb {
    void (*start)(void *ctx, const struct audit_start_info *s);
    void (*problem)(void *ctx, uint64_t line, const char *msg);
    void *ctx;
};

/* The verifier over a file (streamed, bounded) or a memory buffer (the fuzz harness). Same
 * results as sigil_audit_verify_file; cb may be NULL. Both feed one line splitter (the stream
 * below), so the harness exercises the code the CLI runs. */
SIGIL_RESULT audit_verify_file_cb(const char *path, const struct sigil_audit_verify_opts *opts,
                                  const struct audit_verify_cb *cb, struct sigil_audit_report *rep);
SIGIL_RESULT audit_verify_buffer(const char *buf, size_t len, const struct sigil_audit_verify_opts *opts,
                                 const struct audit_verify_cb *cb, struct sigil_audit_report *rep);

/* The streaming verifier both entry points use: push the log in chunks of any size (a line may span
 * chunks), then finish. Lines are split on '\n'; a line of SIGIL_AUDIT_MAX_LINE bytes or more is
 * reported once and skipped without being buffered (at most SIGIL_AUDIT_MAX_LINE bytes are held);
 * the pushed total is bounded by SIGIL_AUDIT_MAX_FILE. The report is the same however the bytes are
 * cut into chunks. new: SIGIL_ERR_ARG (opts), SIGIL_ERR_NOMEM. push: SIGIL_ERR_TOO_LARGE (the stream
 * is then unusable: free it). finish: the verdict as audit_verify_buffer, and frees the stream.
 * free: drops a stream without a verdict (NULL is fine). */
struct audit_verify_stream;
SIGIL_RESULT audit_verify_stream_new(struct audit_verify_stream **out, const struct sigil_audit_verify_opts *opts,
                                     const struct audit_verify_cb *cb, struct sigil_audit_report *rep);
SIGIL_RESULT audit_verify_stream_push(struct audit_verify_stream *s, const char *data, size_t len);
SIGIL_RESULT audit_verify_stream_finish(struct audit_verify_stream *s);
void audit_verify_stream_free(struct audit_verify_stream *s);

#endif
