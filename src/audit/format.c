/* Pieces of the audit line format shared by the writer, the verifier and the log's holders: line
 * hashes, the checkpoint digest, JSON string escaping and the "is this an audit record" line test
 * (docs/audit.md). */
#include <string.h>

#include <jansson.h>

#include "audit/audit_internal.h"
#include "common/secmem.h"
#include "common/sha256.h"
#include "crypto/keccak.h"

void audit_line_hash(uint8_t out[32], const char *line, size_t len) { sigil_sha256(out, line, len); }

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

const char *audit_line_problem(const char *line, size_t len, uint64_t *seq)
{
    static const char *const types[] = {"start", "decision", "checkpoint", "stop"};
    if (len == 0) {
        return "an empty line";
    }
    if (len >= SIGIL_AUDIT_MAX_LINE) {
        return "a line over the audit line limit (32768 bytes with its newline)";
    }
    if (memchr(line, '\0', len) != NULL) {
        return "a line holding a NUL byte";
    }
    if (len < AUDIT_LINE_PREFIX_LEN || memcmp(line, AUDIT_LINE_PREFIX, AUDIT_LINE_PREFIX_LEN) != 0) {
        return "a line that does not begin with {\"seq\": like every audit record";
    }
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *js = json_object_get(o, "seq"), *jp = json_object_get(o, "prev"), *jt = json_object_get(o, "type");
    const char *why = NULL;
    if (!json_is_object(o)) {
        why = "a line that is not one JSON object without duplicate members";
    } else if (!json_is_integer(js) || json_integer_value(js) < 0) {
        why = "a record whose seq is not a non-negative integer";
    } else if (!json_is_string(jp) || json_string_length(jp) != 64 || !lower_hex(json_string_value(jp), 64)) {
        why = "a record whose prev is not 64 lowercase hex digits";
    } else {
        why = "a record whose type is not start, decision, checkpoint or stop";
        for (size_t i = 0; json_is_string(jt) && i < sizeof types / sizeof types[0]; i++) {
            if (strcmp(json_string_value(jt), types[i]) == 0) {
                why = NULL;
            }
        }
    }
    if (why == NULL && seq != NULL) {
        *seq = (uint64_t)json_integer_value(js);
    }
    json_decref(o);
    return why;
}

const char *sigil_audit_lines_problem(const char *lines, size_t len, uint64_t *nlines)
{
    uint64_t n = 0;
    if (nlines != NULL) {
        *nlines = 0;
    }
    if (lines == NULL || len == 0 || lines[len - 1] != '\n') {
        return "audit lines must be non-empty and end with a newline";
    }
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(lines + off, '\n', len - off); /* != NULL: the text ends with one */
        size_t l = (size_t)(nl - (lines + off));
        const char *why = audit_line_problem(lines + off, l, NULL);
        if (why != NULL) {
            return why;
        }
        n++;
        off += l + 1;
    }
    if (nlines != NULL) {
        *nlines = n;
    }
    return NULL;
}

void audit_checkpoint_digest(uint8_t out[32], const uint8_t head[32], uint64_t seq)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t)(seq >> (56 - 8 * i));
    }
    sigil_keccak256_ctx k;
    sigil_keccak256_init(&k);
    sigil_keccak256_update(&k, (const uint8_t *)AUDIT_CHECKPOINT_PREFIX, AUDIT_CHECKPOINT_PREFIX_LEN);
    sigil_keccak256_update(&k, head, 32);
    sigil_keccak256_update(&k, be, sizeof be);
    sigil_keccak256_final(&k, out);
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0 when the bytes there are not one. p is NUL-terminated. */
static size_t utf8_seq_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        return 1;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

/* Copies n bytes (escape sequences and UTF-8 sequences, never NUL-terminated strings). */
static void put(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = src[i];
    }
}

void audit_json_string(char *out, size_t cap, size_t *len, const char *s, size_t budget)
{
    static const char hexd[] = "0123456789abcdef";
    size_t w = *len;
    if (s == NULL) {
        if (cap - w >= 4) {
            put(out + w, "null", 4);
            *len = w + 4;
        }
        return;
    }
    /* Same rule as the logger: text that lives in secret memory never reaches a record. */
    if (sigil_secure_owns(s)) {
        s = "[redacted]";
    }
    if (cap - w < budget + 2 || budget < 3) {
        return;
    }
    out[w++] = '"';
    size_t used = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        char tmp[8];
        size_t tl = 0, adv = 1;
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            tmp[tl++] = '\\';
            tmp[tl++] = (char)c;
        } else if (c == '\n') {
            put(tmp, "\\n", 2);
            tl = 2;
        } else if (c == '\t') {
            put(tmp, "\\t", 2);
            tl = 2;
        } else if (c == '\r') {
            put(tmp, "\\r", 2);
            tl = 2;
        } else if (c < 0x20 || c == 0x7f) {
            put(tmp, "\\u00", 4);
            tmp[4] = hexd[c >> 4];
            tmp[5] = hexd[c & 15];
            tl = 6;
        } else if (c < 0x80) {
            tmp[tl++] = (char)c;
        } else {
            adv = utf8_seq_len(p);
            if (adv == 0) {
                put(tmp, "\\ufffd", 6);
                tl = 6;
                adv = 1;
            } else {
                put(tmp, (const char *)p, adv);
                tl = adv;
            }
        }
        if (used + tl > budget - 3) {
            /* Cut here; the rest of the string is not written (three bytes were kept for "..."). */
            bool more = used + tl > budget || p[adv] != '\0';
            if (!more) {
                put(out + w, tmp, tl);
                w += tl;
                used += tl;
            } else {
                put(out + w, "...", 3);
                w += 3;
            }
            break;
        }
        put(out + w, tmp, tl);
        w += tl;
        used += tl;
        p += adv;
    }
    out[w++] = '"';
    *len = w;
}
