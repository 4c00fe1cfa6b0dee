/* The audit log verifier. The log is untrusted input: lines are bounded (SIGIL_AUDIT_MAX_LINE),
 * the file is bounded (SIGIL_AUDIT_MAX_FILE) and streamed, every line must be one strict JSON
 * object with exactly the members of its type. Checks, per docs/audit.md: seq continuity, prev
 * hashes, checkpoint signatures against the signer of the latest start record (and the trusted
 * signers when given), start records' key binding and attestation (and the pinned enclave image
 * PCRs), the stop/checkpoint ending, and the unsigned tail. Every problem is counted; the first is
 * kept with its line number. The file and the fuzz harness's buffers go through one line splitter. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "attest/attest.h"
#include "audit/audit_internal.h"
#include "common/hex.h"
#include "common/json.h"
#include "common/sha256.h"
#include "crypto/keccak.h"
#include "eth1/secp256k1.h"

#define READ_CHUNK (64u * 1024u) /* bytes per read(); lines may span reads */

struct verifier {
    const struct sigil_audit_verify_opts *opts;
    const struct audit_verify_cb *cb;
    struct sigil_audit_report *rep;
    struct sigil_attest_doc *doc; /* scratch for attestation checks, allocated on first use */
    uint8_t *docbuf;
    uint64_t lineno;
    bool prev_known, seq_known;
    uint8_t prev_hash[32];
    uint64_t last_seq;
    /* the session opened by the latest start record */
    bool session;
    uint64_t start_line, cp_every, since_cp;
    bool overdue_reported;
    uint8_t signer[20];
    uint64_t stop_line; /* a stop record still waiting for its final checkpoint */
    uint64_t closed_at; /* stop + final checkpoint seen (line of the stop): only a start may follow */
    uint64_t tail;      /* lines after the last valid checkpoint */
};

/* Copies src into dst keeping printable ASCII only (log content reaches the terminal). */
static void printable(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] != '\0' && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[i] = '\0';
}

static void problem(struct verifier *v, uint64_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(struct verifier *v, uint64_t line, const char *fmt, ...)
{
    char raw[512], msg[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    printable(msg, sizeof msg, raw);
    if (v->rep->problems++ == 0) {
        /* cut to the report's buffer: the callback below gets the whole message */
        (void)snprintf(v->rep->first_problem, sizeof v->rep->first_problem, "line %llu: %.200s",
                       (unsigned long long)line, msg);
    }
    if (v->cb != NULL && v->cb->problem != NULL) {
        v->cb->problem(v->cb->ctx, line, msg);
    }
}

static void addr_hex(char out[43], const uint8_t a[20]) { sigil_eip55_encode(out, a); }

static bool trusted(const struct verifier *v, const uint8_t addr[20])
{
    if (v->opts->trusted_signers == NULL) {
        return true;
    }
    for (size_t i = 0; i < v->opts->ntrusted; i++) {
        if (memcmp(v->opts->trusted_signers[i], addr, 20) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- strict member access; each helper reports its own problem ---- */

static bool get_member(struct verifier *v, const json_t *o, const char *name, const json_t **out)
{
    *out = json_object_get(o, name);
    if (*out == NULL) {
        problem(v, v->lineno, "member '%s' is missing", name);
        return false;
    }
    return true;
}

static bool get_str(struct verifier *v, const json_t *o, const char *name, bool nullable, const char **out)
{
    const json_t *j;
    *out = NULL;
    if (!get_member(v, o, name, &j)) {
        return false;
    }
    if (nullable && json_is_null(j)) {
        return true;
    }
    if (!json_is_string(j)) {
        problem(v, v->lineno, "member '%s' must be a string%s", name, nullable ? " or null" : "");
        return false;
    }
    *out = json_string_value(j);
    return true;
}

/* Exactly n bytes of lowercase hex, with "0x" when prefixed. *present = false for null. */
static bool get_hex(struct verifier *v, const json_t *o, const char *name, uint8_t *out, size_t n, bool prefixed,
                    bool nullable, bool *present)
{
    const char *s;
    if (present != NULL) {
        *present = false;
    }
    if (!get_str(v, o, name, nullable, &s)) {
        return false;
    }
    if (s == NULL) {
        return true;
    }
    size_t off = prefixed ? 2 : 0;
    bool ok = strlen(s) == off + 2 * n && (!prefixed || (s[0] == '0' && s[1] == 'x'));
    for (size_t i = off; ok && s[i] != '\0'; i++) {
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    }
    if (!ok || !sigil_is_ok(sigil_hex_decode_exact(out, n, s + off, 2 * n))) {
        problem(v, v->lineno, "member '%s' must be %s%zu lowercase hex digits", name, prefixed ? "0x and " : "", 2 * n);
        return false;
    }
    if (present != NULL) {
        *present = true;
    }
    return true;
}

static bool get_uint(struct verifier *v, const json_t *o, const char *name, uint64_t *out)
{
    const json_t *j;
    if (!get_member(v, o, name, &j)) {
        return false;
    }
    if (!json_is_integer(j) || json_integer_value(j) < 0) {
        problem(v, v->lineno, "member '%s' must be a non-negative integer", name);
        return false;
    }
    *out = (uint64_t)json_integer_value(j);
    return true;
}

static bool digits_at(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
static bool valid_time(const char *t)
{
    if (strlen(t) != 24 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' || t[19] != '.' ||
        t[23] != 'Z' || !digits_at(t, 4) || !digits_at(t + 5, 2) || !digits_at(t + 8, 2) || !digits_at(t + 11, 2) ||
        !digits_at(t + 14, 2) || !digits_at(t + 17, 2) || !digits_at(t + 20, 3)) {
        return false;
    }
    int mo = (t[5] - '0') * 10 + (t[6] - '0'), d = (t[8] - '0') * 10 + (t[9] - '0');
    int h = (t[11] - '0') * 10 + (t[12] - '0'), mi = (t[14] - '0') * 10 + (t[15] - '0');
    int s = (t[17] - '0') * 10 + (t[18] - '0');
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 60;
}

static const char *const common_members[] = {"seq", "prev", "time", "type"};
static const char *const start_members[] = {"version",     "instance",         "pubkey",     "address",
                                            "policy_hash", "checkpoint_every", "interval_s", "attestation"};
static const char *const decision_members[] = {"kind",   "result",    "policy",   "rule",   "reason",
                                               "client", "client_fp", "account",  "digest", "chain_id",
                                               "to",     "value",     "approvals"};
static const char *const checkpoint_members[] = {"head", "signer", "sig"};

static bool in_list(const char *k, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(k, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool only_members(struct verifier *v, const json_t *o, const char *const *names, size_t n)
{
    const char *k;
    const json_t *val;
    json_object_foreach((json_t *)o, k, val)
    {
        if (!in_list(k, common_members, 4) && !in_list(k, names, n)) {
            char shown[40];
            printable(shown, sizeof shown, k);
            problem(v, v->lineno, "unknown member '%s'", shown);
            return false;
        }
    }
    return true;
}

/* ---- record types ---- */

static void check_attestation(struct verifier *v, const char *b64, const uint8_t pub[65], struct audit_start_info *si)
{
    const char *root = v->opts->attestation_root_pem;
    /* a start without a verified document cannot be shown to come from a pinned image */
    bool required = v->opts->require_attestation || v->opts->n_expect_pcr != 0;
    if (b64 == NULL) {
        si->attestation = AUDIT_ATT_NONE;
        if (required) {
            problem(v, v->lineno, "start record has no attestation document, and one is required");
        }
        return;
    }
    if (root == NULL) {
        si->attestation = AUDIT_ATT_UNCHECKED;
        if (required) {
            problem(v, v->lineno, "start record's attestation document cannot be checked: no attestation root given");
        }
        return;
    }
    si->attestation = AUDIT_ATT_INVALID;
    if (v->doc == NULL) {
        v->doc = malloc(sizeof *v->doc);
        v->docbuf = malloc(SIGIL_ATTEST_MAX_DOC);
        if (v->doc == NULL || v->docbuf == NULL) {
            problem(v, v->lineno, "out of memory checking the attestation document");
            return;
        }
    }
    size_t len = 0;
    if (!sigil_is_ok(sigil_base64_decode(v->docbuf, SIGIL_ATTEST_MAX_DOC, &len, b64, strlen(b64)))) {
        problem(v, v->lineno, "member 'attestation' is not base64 of at most %d bytes", SIGIL_ATTEST_MAX_DOC);
        return;
    }
    struct sigil_attest_verify_opts ao = {.root_pem = root,
                                          .root_pem_len = strlen(root),
                                          .expect_pcr = v->opts->expect_pcr,
                                          .expect_pcr_index = v->opts->expect_pcr_index,
                                          .n_expect_pcr = v->opts->n_expect_pcr};
    sigil_error_clear();
    sigil_result r = sigil_attest_verify(v->doc, v->docbuf, len, &ao);
    if (!sigil_is_ok(r)) {
        const char *d = sigil_error_detail();
        if (r.code == SIGIL_ERR_FORBIDDEN) {
            /* chain and signature held: only the pinned measurements differ */
            problem(v, v->lineno,
                    "start record was written by an enclave image that is not the pinned one (its attestation "
                    "document verifies, but %s)",
                    *d != '\0' ? d : "a PCR differs");
        } else {
            problem(v, v->lineno, "start record's attestation document does not verify against the root: %s",
                    *d != '\0' ? d : sigil_strerror(r.code));
        }
        return;
    }
    uint8_t want[32];
    sigil_sha256(want, pub, 65);
    if (v->doc->user_data_len != 32 || memcmp(v->doc->user_data, want, 32) != 0) {
        problem(v, v->lineno,
                "start record's attestation document binds a different key (user_data is not SHA-256 of the public "
                "key)");
        return;
    }
    si->attestation = AUDIT_ATT_VALID;
    memcpy(si->pcr0, v->doc->pcrs[0], 48);
}

static void on_start(struct verifier *v, const json_t *o, uint64_t seq, const char *time)
{
    struct audit_start_info si;
    memset(&si, 0, sizeof si);
    const char *version, *instance, *att = NULL;
    uint8_t pub[65], addr[20], ph[32], derived[20];
    uint64_t every, interval;
    if (!only_members(v, o, start_members, sizeof start_members / sizeof start_members[0]) ||
        !get_str(v, o, "version", false, &version) || !get_str(v, o, "instance", false, &instance) ||
        !get_hex(v, o, "pubkey", pub, 65, true, false, NULL) ||
        !get_hex(v, o, "address", addr, 20, true, false, NULL) ||
        !get_hex(v, o, "policy_hash", ph, 32, true, false, NULL) || !get_uint(v, o, "checkpoint_every", &every) ||
        !get_uint(v, o, "interval_s", &interval) ||
        (json_object_get(o, "attestation") != NULL && !get_str(v, o, "attestation", false, &att))) {
        return;
    }
    v->rep->starts++;
    if (pub[0] != 0x04) {
        problem(v, v->lineno, "member 'pubkey' must be an uncompressed public key (0x04 || X || Y)");
    }
    if (every == 0 || interval == 0) {
        problem(v, v->lineno, "members 'checkpoint_every' and 'interval_s' must be at least 1");
    }
    sigil_eth1_pubkey_to_address(derived, pub);
    si.address_ok = memcmp(derived, addr, 20) == 0;
    if (!si.address_ok) {
        problem(v, v->lineno, "start record's address is not the address of its public key");
    }
    if (!trusted(v, derived)) {
        char a[43];
        addr_hex(a, derived);
        problem(v, v->lineno, "start record's audit key %s is not a trusted signer", a);
    }
    si.line = v->lineno;
    si.seq = seq;
    printable(si.time, sizeof si.time, time);
    printable(si.version, sizeof si.version, version);
    printable(si.instance, sizeof si.instance, instance);
    memcpy(si.address, derived, 20);
    check_attestation(v, att, pub, &si);

    v->session = true;
    v->start_line = v->lineno;
    memcpy(v->signer, derived, 20);
    v->cp_every = every;
    v->since_cp = 0;
    v->overdue_reported = false;
    v->closed_at = 0;
    if (v->cb != NULL && v->cb->start != NULL) {
        v->cb->start(v->cb->ctx, &si);
    }
}

static bool valid_quantity(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 66 || s[0] != '0' || s[1] != 'x' || (s[2] == '0' && n != 3)) {
        return false;
    }
    for (size_t i = 2; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

static void on_decision(struct verifier *v, const json_t *o)
{
    const char *kind, *result, *policy, *rule, *reason, *client, *chain, *value;
    uint8_t b32[32], b20[20];
    uint64_t approvals, chain_id;
    if (!only_members(v, o, decision_members, sizeof decision_members / sizeof decision_members[0]) ||
        !get_str(v, o, "kind", false, &kind) || !get_str(v, o, "result", false, &result) ||
        !get_str(v, o, "policy", false, &policy) || !get_str(v, o, "rule", true, &rule) ||
        !get_str(v, o, "reason", true, &reason) || !get_str(v, o, "client", false, &client) ||
        !get_hex(v, o, "client_fp", b32, 32, true, true, NULL) ||
        !get_hex(v, o, "account", b20, 20, true, true, NULL) || !get_hex(v, o, "digest", b32, 32, true, true, NULL) ||
        !get_str(v, o, "chain_id", true, &chain) || !get_hex(v, o, "to", b20, 20, true, true, NULL) ||
        !get_str(v, o, "value", true, &value) || !get_uint(v, o, "approvals", &approvals)) {
        return;
    }
    bool is_signed = strcmp(result, "signed") == 0;
    if (!is_signed && strcmp(result, "refused") != 0) {
        problem(v, v->lineno, "member 'result' must be \"signed\" or \"refused\"");
        return;
    }
    if (chain != NULL && !sigil_is_ok(sigil_parse_u64(&chain_id, chain, strlen(chain)))) {
        problem(v, v->lineno, "member 'chain_id' must be a decimal string or null");
        return;
    }
    if (value != NULL && !valid_quantity(value)) {
        problem(v, v->lineno, "member 'value' must be a 0x hex quantity (at most 64 digits, no leading zeros) or null");
        return;
    }
    v->rep->decisions++;
    if (is_signed) {
        v->rep->signed_count++;
    } else {
        v->rep->refused_count++;
    }
    if (!v->session) {
        problem(v, v->lineno, "decision before any start record");
        return;
    }
    if (++v->since_cp > v->cp_every && !v->overdue_reported) {
        v->overdue_reported = true;
        problem(v, v->lineno,
                "more than %llu decisions since the last checkpoint (the start record at line %llu promises one every "
                "%llu; a checkpoint was removed)",
                (unsigned long long)v->cp_every, (unsigned long long)v->start_line, (unsigned long long)v->cp_every);
    }
}

/* Returns true when the checkpoint is valid (it then signs everything before it). */
static bool on_checkpoint(struct verifier *v, const json_t *o, uint64_t seq, const uint8_t prev[32])
{
    uint8_t head[32], signer[20], raw[65], digest[32], rec[20];
    if (!only_members(v, o, checkpoint_members, sizeof checkpoint_members / sizeof checkpoint_members[0]) ||
        !get_hex(v, o, "head", head, 32, false, false, NULL) ||
        !get_hex(v, o, "signer", signer, 20, true, false, NULL) || !get_hex(v, o, "sig", raw, 65, true, false, NULL)) {
        return false;
    }
    v->rep->checkpoints++;
    v->since_cp = 0;
    v->overdue_reported = false;
    bool ok = true;
    char a1[43], a2[43];
    if (memcmp(head, prev, 32) != 0) {
        problem(v, v->lineno, "checkpoint head is not the record's prev");
        ok = false;
    }
    if (!v->session) {
        problem(v, v->lineno, "checkpoint before any start record");
        return false;
    }
    if (memcmp(signer, v->signer, 20) != 0) {
        addr_hex(a1, signer);
        addr_hex(a2, v->signer);
        problem(v, v->lineno, "checkpoint declares signer %s, but the start record at line %llu declared %s", a1,
                (unsigned long long)v->start_line, a2);
        ok = false;
    }
    struct sigil_secp256k1_sig sig;
    memcpy(sig.r, raw, 32);
    memcpy(sig.s, raw + 32, 32);
    sig.y_parity = (uint8_t)(raw[64] - 27);
    audit_checkpoint_digest(digest, head, seq);
    if ((raw[64] != 27 && raw[64] != 28) || !sigil_is_ok(sigil_secp256k1_recover_address(rec, &sig, digest))) {
        problem(v, v->lineno, "checkpoint signature is malformed or recovers no key");
        return false;
    }
    if (memcmp(rec, signer, 20) != 0) {
        addr_hex(a1, rec);
        problem(v, v->lineno, "checkpoint signature is not by its declared signer (it recovers %s)", a1);
        ok = false;
    }
    if (!trusted(v, rec)) {
        addr_hex(a1, rec);
        problem(v, v->lineno, "checkpoint is signed by %s, which is not a trusted signer", a1);
        ok = false;
    }
    return ok;
}

/* ---- lines ---- */

static bool parse_common(struct verifier *v, const json_t *o, uint64_t *seq, uint8_t prev[32], const char **type,
                         const char **time)
{
    if (!get_uint(v, o, "seq", seq) || !get_hex(v, o, "prev", prev, 32, false, false, NULL) ||
        !get_str(v, o, "time", false, time) || !get_str(v, o, "type", false, type)) {
        return false;
    }
    if (!valid_time(*time)) {
        problem(v, v->lineno, "member 'time' must be UTC with milliseconds (2026-01-31T12:00:00.000Z)");
        return false;
    }
    if (strcmp(*type, "start") != 0 && strcmp(*type, "decision") != 0 && strcmp(*type, "checkpoint") != 0 &&
        strcmp(*type, "stop") != 0) {
        problem(v, v->lineno, "member 'type' must be start, decision, checkpoint or stop");
        return false;
    }
    return true;
}

static void check_chain(struct verifier *v, uint64_t seq, const uint8_t prev[32])
{
    static const uint8_t zero[32] = {0};
    if (v->lineno == 1) {
        if (seq != 0) {
            problem(v, 1, "the log begins at seq %llu, not 0 (earlier records were removed)", (unsigned long long)seq);
        } else if (memcmp(prev, zero, 32) != 0) {
            problem(v, 1, "the first record's prev is not zero (earlier records were removed)");
        }
        return;
    }
    if (v->seq_known && seq != v->last_seq + 1) {
        if (seq > v->last_seq + 1) {
            problem(v, v->lineno, "seq %llu follows seq %llu: %llu record(s) missing (deleted, or moved)",
                    (unsigned long long)seq, (unsigned long long)v->last_seq,
                    (unsigned long long)(seq - v->last_seq - 1));
        } else {
            problem(v, v->lineno, "seq %llu does not follow seq %llu (records reordered, duplicated or inserted)",
                    (unsigned long long)seq, (unsigned long long)v->last_seq);
        }
    }
    if (v->prev_known && memcmp(prev, v->prev_hash, 32) != 0) {
        problem(v, v->lineno,
                "prev does not match the hash of line %llu (that line was changed, or records were removed, "
                "inserted or reordered here)",
                (unsigned long long)(v->lineno - 1));
    }
}

/* The ending of a session: stop, then its final checkpoint, then only a new start. */
static void check_order(struct verifier *v, const char *type)
{
    bool is_cp = strcmp(type, "checkpoint") == 0, is_start = strcmp(type, "start") == 0;
    if (v->stop_line != 0 && !is_cp) {
        problem(v, v->stop_line, "the stop record is not followed by its final checkpoint (it was removed)");
        v->closed_at = v->stop_line;
        v->stop_line = 0;
    }
    if (v->closed_at != 0 && !is_start && !(is_cp && v->stop_line != 0)) {
        problem(v, v->lineno, "a %s record follows the stop record at line %llu without a new start record", type,
                (unsigned long long)v->closed_at);
    }
}

static void verify_line(struct verifier *v, const char *line, size_t len)
{
    v->lineno++;
    v->rep->lines++;
    uint8_t h[32];
    audit_line_hash(h, line, len);
    json_error_t err;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
    uint64_t seq = 0;
    uint8_t prev[32];
    const char *type = NULL, *time = NULL;
    bool common = false, valid_cp = false;
    if (!json_is_object(o)) {
        if (o == NULL) {
            problem(v, v->lineno, "not a JSON object: %s (column %d)", err.text, err.column);
        } else {
            problem(v, v->lineno, "not a JSON object");
        }
    } else {
        common = parse_common(v, o, &seq, prev, &type, &time);
    }
    if (common) {
        check_chain(v, seq, prev);
        check_order(v, type);
        if (strcmp(type, "start") == 0) {
            on_start(v, o, seq, time);
        } else if (strcmp(type, "decision") == 0) {
            on_decision(v, o);
        } else if (strcmp(type, "checkpoint") == 0) {
            valid_cp = on_checkpoint(v, o, seq, prev);
            if (v->stop_line != 0) {
                v->closed_at = v->stop_line;
                v->stop_line = 0;
            }
        } else if (only_members(v, o, NULL, 0)) {
            if (!v->session) {
                problem(v, v->lineno, "stop record before any start record");
            }
            v->stop_line = v->lineno;
        }
    }
    v->tail = valid_cp ? 0 : v->tail + 1;
    memcpy(v->prev_hash, h, 32);
    v->prev_known = true;
    v->seq_known = common;
    v->last_seq = seq;
    json_decref(o);
}

static void verify_overlong(struct verifier *v)
{
    v->lineno++;
    v->rep->lines++;
    problem(v, v->lineno, "line is longer than %u bytes", SIGIL_AUDIT_MAX_LINE);
    v->tail++;
    v->prev_known = false;
    v->seq_known = false;
}

static void verify_torn(struct verifier *v, size_t len)
{
    v->lineno++;
    v->rep->lines++;
    problem(v, v->lineno,
            "incomplete last line (%zu bytes without a newline: the file was truncated, or a write was torn by a "
            "crash)",
            len);
    v->tail++;
}

static void verifier_init(struct verifier *v, const struct sigil_audit_verify_opts *opts,
                          const struct audit_verify_cb *cb, struct sigil_audit_report *rep)
{
    static const struct sigil_audit_verify_opts none;
    memset(v, 0, sizeof *v);
    v->opts = opts != NULL ? opts : &none;
    v->cb = cb;
    v->rep = rep;
}

static SIGIL_RESULT verifier_finish(struct verifier *v)
{
    if (v->stop_line != 0) {
        problem(v, v->stop_line, "the stop record is not followed by its final checkpoint (it was removed)");
    }
    if (v->lineno == 0) {
        problem(v, 1, "the log is empty (no start record)");
    }
    v->rep->unsigned_tail = v->tail;
    if (v->rep->problems != 0) {
        return sigil_errorf(SIGIL_ERR_CRYPTO, "%s", v->rep->first_problem);
    }
    return sigil_ok();
}

static SIGIL_RESULT check_opts(const struct sigil_audit_verify_opts *o)
{
    if (o == NULL || o->n_expect_pcr == 0) {
        return sigil_ok();
    }
    if (o->expect_pcr == NULL || o->expect_pcr_index == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "PCR expectations without values");
    }
    for (size_t i = 0; i < o->n_expect_pcr; i++) {
        if (o->expect_pcr_index[i] < 0 || o->expect_pcr_index[i] >= SIGIL_ATTEST_NPCRS) {
            return sigil_errorf(SIGIL_ERR_ARG, "expected PCR index %d is outside 0..15", o->expect_pcr_index[i]);
        }
    }
    return sigil_ok();
}

/* ---- the line splitter: the one path from bytes to lines, for the file and for memory ---- */

struct audit_verify_stream {
    struct verifier v;
    uint64_t total;                   /* bytes pushed, bounded by SIGIL_AUDIT_MAX_FILE */
    bool skipping;                    /* inside an overlong line, already reported: drop bytes up to its newline */
    size_t carry_len;                 /* < SIGIL_AUDIT_MAX_LINE */
    char carry[SIGIL_AUDIT_MAX_LINE]; /* the start of a line cut by a chunk boundary */
};

sigil_result audit_verify_stream_new(struct audit_verify_stream **out, const struct sigil_audit_verify_opts *opts,
                                     const struct audit_verify_cb *cb, struct sigil_audit_report *rep)
{
    *out = NULL;
    memset(rep, 0, sizeof *rep);
    SIGIL_GUARD(check_opts(opts));
    struct audit_verify_stream *s = malloc(sizeof *s);
    if (s == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    verifier_init(&s->v, opts, cb, rep);
    s->total = 0;
    s->skipping = false;
    s->carry_len = 0;
    *out = s;
    return sigil_ok();
}

sigil_result audit_verify_stream_push(struct audit_verify_stream *s, const char *data, size_t len)
{
    if (len > SIGIL_AUDIT_MAX_FILE - s->total) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "audit log is over %llu bytes",
                            (unsigned long long)SIGIL_AUDIT_MAX_FILE);
    }
    s->total += len;
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t piece = nl != NULL ? (size_t)(nl - data) : len; /* bytes of the current line in this chunk */
        size_t used = nl != NULL ? piece + 1 : len;
        if (s->skipping) {
            s->skipping = nl == NULL;
        } else if (piece >= SIGIL_AUDIT_MAX_LINE - s->carry_len) {
            /* too long whether or not it ends here: reported once, never buffered */
            verify_overlong(&s->v);
            s->carry_len = 0;
            s->skipping = nl == NULL;
        } else if (nl == NULL) {
            memcpy(s->carry + s->carry_len, data, piece);
            s->carry_len += piece;
        } else if (s->carry_len == 0) {
            verify_line(&s->v, data, piece); /* the common case: the whole line is in this chunk */
        } else {
            memcpy(s->carry + s->carry_len, data, piece);
            verify_line(&s->v, s->carry, s->carry_len + piece);
            s->carry_len = 0;
        }
        data += used;
        len -= used;
    }
    return sigil_ok();
}

void audit_verify_stream_free(struct audit_verify_stream *s)
{
    if (s != NULL) {
        free(s->v.doc);
        free(s->v.docbuf);
        free(s);
    }
}

sigil_result audit_verify_stream_finish(struct audit_verify_stream *s)
{
    if (s->carry_len > 0) {
        verify_torn(&s->v, s->carry_len);
    }
    sigil_result r = verifier_finish(&s->v);
    audit_verify_stream_free(s);
    return r;
}

sigil_result audit_verify_buffer(const char *buf, size_t len, const struct sigil_audit_verify_opts *opts,
                                 const struct audit_verify_cb *cb, struct sigil_audit_report *rep)
{
    struct audit_verify_stream *s = NULL;
    SIGIL_GUARD(audit_verify_stream_new(&s, opts, cb, rep));
    sigil_result r = audit_verify_stream_push(s, buf, len);
    if (!sigil_is_ok(r)) {
        audit_verify_stream_free(s);
        return r;
    }
    return audit_verify_stream_finish(s);
}

sigil_result audit_verify_file_cb(const char *path, const struct sigil_audit_verify_opts *opts,
                                  const struct audit_verify_cb *cb, struct sigil_audit_report *rep)
{
    struct audit_verify_stream *s = NULL;
    char *buf = NULL;
    int fd = -1;
    sigil_result ret = audit_verify_stream_new(&s, opts, cb, rep);
    if (!sigil_is_ok(ret)) {
        return ret;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ret = sigil_errorf(SIGIL_ERR_IO, "cannot open audit log %s: %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret = sigil_errorf(SIGIL_ERR_IO, "audit log %s is not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > SIGIL_AUDIT_MAX_FILE) {
        ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "audit log %s is over %llu bytes", path,
                           (unsigned long long)SIGIL_AUDIT_MAX_FILE);
        goto out;
    }
    buf = malloc(READ_CHUNK);
    SIGIL_ENSURE_GOTO(buf != NULL, SIGIL_ERR_NOMEM);
    for (;;) {
        ssize_t n = read(fd, buf, READ_CHUNK);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            ret = sigil_errorf(SIGIL_ERR_IO, "cannot read audit log %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        if (!sigil_is_ok(audit_verify_stream_push(s, buf, (size_t)n))) {
            ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "audit log %s grew over %llu bytes while it was read", path,
                               (unsigned long long)SIGIL_AUDIT_MAX_FILE);
            goto out;
        }
    }
    ret = audit_verify_stream_finish(s);
    s = NULL;
out:
    audit_verify_stream_free(s);
    free(buf);
    if (fd >= 0) {
        (void)close(fd);
    }
    return ret;
}

sigil_result sigil_audit_verify_file(const char *path, const struct sigil_audit_verify_opts *opts,
                                     struct sigil_audit_report *rep)
{
    return audit_verify_file_cb(path, opts, NULL, rep);
}
