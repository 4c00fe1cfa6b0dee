/* The wallet audit trail: every eth1 signing decision (signed or refused, which rule, which
 * client certificate, digest, time) becomes an audit record. Records are JSON lines, hash-chained
 * (each names the SHA-256 of the previous line's exact bytes) and periodically closed by a
 * checkpoint signed with sigild's audit key (secp256k1, generated in locked memory at start and
 * never exported). The log is stored by whoever holds the sink: a local file for the standalone
 * sigild, sigil-host (AUDIT frames on the control channel, appended and fsync'd by the host) in
 * enclave mode. `sigil audit verify FILE` checks the chain and signatures and reports any gap,
 * change, reordering or unsigned tail. The format is docs/audit.md.
 *
 * Line kinds ("type"): "start" (a sigild start: audit public key and address, code version,
 * policy hash, and in enclave mode an attestation document binding the audit key), "decision",
 * "checkpoint" (signature over the chain head), "stop". */
#ifndef SIGIL_AUDIT_AUDIT_H
#define SIGIL_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

/* Bytes of one record line with its newline (verify refuses longer). A start record carries a base64
 * attestation document of up to SIGIL_ATTEST_MAX_DOC (16 KiB) bytes, hence 32 KiB. */
#define SIGIL_AUDIT_MAX_LINE   32768u
#define SIGIL_AUDIT_MAX_FILE   (4ull << 30) /* verify refuses larger files */
#define SIGIL_AUDIT_CHECKPOINT 256u         /* default: a checkpoint every N decisions ... */
#define SIGIL_AUDIT_INTERVAL_S 10u          /* ... or every N seconds with unsigned records */

/* Where lines go. write() appends len bytes (whole lines, each ending in '\n') and returns SIGIL_OK
 * only when they are durable (fsync'd file, or acknowledged by the host after its fsync). It is
 * called from one thread at a time. */
struct sigil_audit_sink {
    sigil_result (*write)(void *ctx, const char *lines, size_t len);
    void (*close)(void *ctx); /* optional */
    void *ctx;
};

/* A file sink: opens (creating 0600) PATH for append. When the file already holds records, the
 * chain continues from its last line (its hash and seq), after checking the last line parses;
 * a torn last line (crash mid-write) is truncated away with a warning. Errors: SIGIL_ERR_IO,
 * SIGIL_ERR_PARSE (the file is not an audit log). */
SIGIL_RESULT sigil_audit_file_sink(struct sigil_audit_sink *out, const char *path, uint64_t *next_seq,
                                   uint8_t prev_hash[32]);

struct sigil_audit_config {
    struct sigil_audit_sink sink; /* taken over; closed by sigil_audit_free */
    uint64_t next_seq;            /* from the sink (0 for a new log) */
    uint8_t prev_hash[32];        /* hash of the last existing line (zeros for a new log) */
    unsigned checkpoint_every;    /* 0 = SIGIL_AUDIT_CHECKPOINT */
    unsigned interval_s;          /* 0 = SIGIL_AUDIT_INTERVAL_S */
    const char *instance;         /* free-text instance name for the start record (may be NULL) */
    uint8_t policy_hash[32];      /* for the start record */
    /* Enclave mode: an attestation document whose user_data is SHA-256 of the audit public key
     * (65 bytes, uncompressed). NULL standalone. sigil_audit_open asks for it through this callback
     * after generating the key, so the document binds the key. *doc is malloc'ed by the callback
     * (at most SIGIL_ATTEST_MAX_DOC bytes) and freed by sigil_audit_open. */
    sigil_result (*attest)(void *ctx, const uint8_t user_data[32], uint8_t **doc, size_t *doc_len);
    void *attest_ctx;
};

struct sigil_audit;

/* Generates the audit key, writes the start record and its first checkpoint (durably) and starts
 * the checkpoint timer thread. The sink is taken over even when this fails (it is then closed).
 * Errors: sink/attestation errors, SIGIL_ERR_RNG, SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_audit_open(struct sigil_audit **out, const struct sigil_audit_config *cfg);

struct sigil_audit_event {
    const char *kind;   /* "tx", "personal_sign", "eth_sign", "typed_data", "raw", "authorization", "keygen" */
    bool signed_;       /* true: signed and released; false: refused */
    const char *policy; /* policy name ("" or NULL when unbound) */
    const char *rule;   /* refusing rule, NULL when signed */
    const char *reason; /* refusal sentence or error, NULL when signed */
    const char *client; /* client id (known-clients name / certificate CN / "") */
    const uint8_t *client_fingerprint; /* 32 bytes or NULL */
    const uint8_t *account;            /* 20 bytes: the key's address */
    const uint8_t *digest;             /* 32 bytes or NULL (unparseable requests have none) */
    bool has_chain_id;
    uint64_t chain_id;
    const uint8_t *to;       /* 20 bytes or NULL */
    const uint8_t *value_be; /* 32 bytes or NULL */
    unsigned approvals;      /* valid approvals counted */
};

/* Appends one decision record; returns when it is durable in the sink (records from concurrent
 * callers are batched into one sink write). For a signing, call before releasing the signature
 * and do not release it if this fails. Thread-safe. Strings are JSON-escaped and truncated to fit
 * SIGIL_AUDIT_MAX_LINE. Errors: sink errors (SIGIL_ERR_IO), SIGIL_ERR_NOT_READY after a sink
 * failure (the log is then closed: every later record fails, so nothing is signed unaudited). */
SIGIL_RESULT sigil_audit_record(struct sigil_audit *a, const struct sigil_audit_event *ev);

/* The audit key's address and the chain's current head (for status). */
void sigil_audit_info(struct sigil_audit *a, uint8_t address[20], uint64_t *next_seq, uint8_t head[32]);

/* Writes a final checkpoint and a stop record, stops the timer, closes the sink, wipes the key. */
void sigil_audit_free(struct sigil_audit *a);

/* ---- verification ---- */
struct sigil_audit_verify_opts {
    const uint8_t (*trusted_signers)[20]; /* accept only checkpoints by these addresses; NULL = any
                                             (then start records' self-declared keys are reported) */
    size_t ntrusted;
    const char *attestation_root_pem; /* PEM text (NUL-terminated): verify start records'
                                         attestation documents against this root (NULL: not
                                         checked; with require_attestation every start fails) */
    bool require_attestation;
    /* The enclave image(s) allowed to write the log: n_expect_pcr PCR values (48 bytes each) at
     * indices expect_pcr_index[i] (0..15), e.g. PCR0 of the sigild enclave image. Every start
     * record's attestation document must carry them; a mismatch is a problem at that start line.
     * Pinning implies require_attestation (a start without a verified document cannot be from the
     * pinned image), so it needs attestation_root_pem. Indices outside 0..15 or NULL arrays with
     * n_expect_pcr > 0 are SIGIL_ERR_ARG before anything is read. */
    const uint8_t (*expect_pcr)[48];
    const int *expect_pcr_index;
    size_t n_expect_pcr;
};

struct sigil_audit_report {
    uint64_t lines, decisions, signed_count, refused_count, checkpoints, starts;
    uint64_t unsigned_tail;  /* records after the last valid checkpoint */
    uint64_t problems;       /* gaps, hash mismatches, bad signatures, reordering, parse errors */
    char first_problem[256]; /* "line 17: prev does not match the hash of line 16 (record changed or removed)" */
};

/* Checks a whole log. Returns SIGIL_OK when it verified clean (problems == 0); SIGIL_ERR_CRYPTO when
 * a problem was found (rep says what and where); SIGIL_ERR_IO / SIGIL_ERR_TOO_LARGE for the file;
 * SIGIL_ERR_ARG for inconsistent opts (see expect_pcr). */
SIGIL_RESULT sigil_audit_verify_file(const char *path, const struct sigil_audit_verify_opts *opts,
                                     struct sigil_audit_report *rep);

/* The check a log's holder (sigil-host, for AUDIT frames) runs before appending lines it did not
 * write: len bytes of whole lines, each ending in '\n', each at most SIGIL_AUDIT_MAX_LINE bytes with
 * its newline, no NUL byte, and each an audit record as the file sink reads it back when it reopens
 * the log (the same per-line test): one strict JSON object beginning with {"seq":, a non-negative
 * integer seq, prev of 64 lowercase hex digits, a known type. It does not judge the chain (only the
 * verifier can). Returns NULL when the lines may be appended (*nlines = their number; nlines may
 * be NULL), else a sentence saying what is wrong (a static string). */
const char *sigil_audit_lines_problem(const char *lines, size_t len, uint64_t *nlines);

/* `sigil audit verify FILE [--signer 0xADDR]... [--attestation-root PEM] [--require-attestation]
 * [--pcr0 HEX] [--json]`. Exit 0 clean, 1 I/O error, 2 bad usage, 3 problems found (each printed with
 * its line). */
int sigil_audit_cli(int argc, char **argv);

#endif
