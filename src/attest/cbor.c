/* Strict CBOR reading and writing for attestation documents and NSM messages.
 *
 * Reading uses libcbor's streaming decoder one item header at a time, never its tree builder:
 * the tree builder allocates from lengths declared by the input (a 9-byte header can ask for
 * 2^64 array slots) and recurses without a depth bound. Here every declared length is checked
 * against the bytes actually present before anything is done with it, nothing is allocated and
 * nesting is bounded by the callers' fixed schemas (no generic recursion). */
#include <stdint.h>
#include <string.h>

#include <cbor.h>

#include "attest/attest_internal.h"

struct tok_ctx {
    struct attest_cbor_tok *t;
    bool set;
};

static void set_tok(void *c, enum attest_cbor_kind kind, uint64_t v)
{
    struct tok_ctx *ctx = c;
    ctx->t->kind = kind;
    ctx->t->v = v;
    ctx->set = true;
}

static void cb_u8(void *c, uint8_t v) { set_tok(c, ATTEST_CBOR_UINT, v); }
static void cb_u16(void *c, uint16_t v) { set_tok(c, ATTEST_CBOR_UINT, v); }
static void cb_u32(void *c, uint32_t v) { set_tok(c, ATTEST_CBOR_UINT, v); }
static void cb_u64(void *c, uint64_t v) { set_tok(c, ATTEST_CBOR_UINT, v); }
static void cb_n8(void *c, uint8_t v) { set_tok(c, ATTEST_CBOR_NEGINT, v); }
static void cb_n16(void *c, uint16_t v) { set_tok(c, ATTEST_CBOR_NEGINT, v); }
static void cb_n32(void *c, uint32_t v) { set_tok(c, ATTEST_CBOR_NEGINT, v); }
static void cb_n64(void *c, uint64_t v) { set_tok(c, ATTEST_CBOR_NEGINT, v); }
static void cb_other(void *c) { set_tok(c, ATTEST_CBOR_OTHER, 0); }
static void cb_null(void *c) { set_tok(c, ATTEST_CBOR_NULL, 0); }
static void cb_bool(void *c, bool b) { set_tok(c, ATTEST_CBOR_BOOL, b ? 1 : 0); }
static void cb_f2(void *c, float f)
{
    (void)f;
    set_tok(c, ATTEST_CBOR_OTHER, 0);
}
static void cb_f8(void *c, double f)
{
    (void)f;
    set_tok(c, ATTEST_CBOR_OTHER, 0);
}
static void cb_array(void *c, size_t n) { set_tok(c, ATTEST_CBOR_ARRAY, n); }
static void cb_map(void *c, size_t n) { set_tok(c, ATTEST_CBOR_MAP, n); }
static void cb_tag(void *c, uint64_t v) { set_tok(c, ATTEST_CBOR_TAG, v); }

static void cb_bstr(void *c, cbor_data p, size_t n)
{
    struct tok_ctx *ctx = c;
    set_tok(c, ATTEST_CBOR_BSTR, 0);
    ctx->t->p = p;
    ctx->t->len = n;
}

static void cb_tstr(void *c, cbor_data p, size_t n)
{
    struct tok_ctx *ctx = c;
    set_tok(c, ATTEST_CBOR_TSTR, 0);
    ctx->t->p = p;
    ctx->t->len = n;
}

static const struct cbor_callbacks tok_callbacks = {
    .uint8 = cb_u8,
    .uint16 = cb_u16,
    .uint32 = cb_u32,
    .uint64 = cb_u64,
    .negint8 = cb_n8,
    .negint16 = cb_n16,
    .negint32 = cb_n32,
    .negint64 = cb_n64,
    .byte_string_start = cb_other,
    .byte_string = cb_bstr,
    .string = cb_tstr,
    .string_start = cb_other,
    .indef_array_start = cb_other,
    .array_start = cb_array,
    .indef_map_start = cb_other,
    .map_start = cb_map,
    .tag = cb_tag,
    .float2 = cb_f2,
    .float4 = cb_f2,
    .float8 = cb_f8,
    .undefined = cb_other,
    .null = cb_null,
    .boolean = cb_bool,
    .indef_break = cb_other,
};

SIGIL_RESULT attest_cbor_next(struct attest_cbor_rd *r, struct attest_cbor_tok *t)
{
    memset(t, 0, sizeof *t);
    if (r->pos >= r->len) {
        return sigil_errorf(SIGIL_ERR_PARSE, "CBOR truncated at offset %zu", r->pos);
    }
    /* libcbor 0.8's stream decoder refuses tags 6..20 (among them 18, COSE_Sign1) as
     * "unassigned", so tag headers are decoded here. */
    uint8_t ib = r->p[r->pos];
    if (ib >> 5 == 6) {
        size_t extra = (ib & 0x1f) < 24 ? 0 : (ib & 0x1f) <= 27 ? (size_t)1 << ((ib & 0x1f) - 24) : SIZE_MAX;
        if (extra == SIZE_MAX || extra >= r->len - r->pos) {
            return sigil_errorf(SIGIL_ERR_PARSE, "CBOR tag malformed or truncated at offset %zu", r->pos);
        }
        uint64_t v = extra == 0 ? (uint64_t)(ib & 0x1f) : 0;
        for (size_t i = 0; i < extra; i++) {
            v = v << 8 | r->p[r->pos + 1 + i];
        }
        t->kind = ATTEST_CBOR_TAG;
        t->v = v;
        r->pos += 1 + extra;
        return sigil_ok();
    }
    struct tok_ctx ctx = {.t = t, .set = false};
    struct cbor_decoder_result res = cbor_stream_decode(r->p + r->pos, r->len - r->pos, &tok_callbacks, &ctx);
    if (res.status != CBOR_DECODER_FINISHED || !ctx.set || res.read == 0 || res.read > r->len - r->pos) {
        return sigil_errorf(SIGIL_ERR_PARSE, "CBOR malformed or truncated at offset %zu", r->pos);
    }
    r->pos += res.read;
    /* Any array or map entry takes at least one byte, so a count above the bytes left is a lie;
     * checking here keeps loops over hostile counts short. */
    if ((t->kind == ATTEST_CBOR_ARRAY && t->v > r->len - r->pos) ||
        (t->kind == ATTEST_CBOR_MAP && t->v > (r->len - r->pos) / 2)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "CBOR collection at offset %zu is longer than the input", r->pos);
    }
    return sigil_ok();
}

static const char *kind_name(enum attest_cbor_kind k)
{
    switch (k) {
    case ATTEST_CBOR_UINT:
        return "unsigned integer";
    case ATTEST_CBOR_NEGINT:
        return "negative integer";
    case ATTEST_CBOR_BSTR:
        return "byte string";
    case ATTEST_CBOR_TSTR:
        return "text string";
    case ATTEST_CBOR_ARRAY:
        return "array";
    case ATTEST_CBOR_MAP:
        return "map";
    case ATTEST_CBOR_TAG:
        return "tag";
    case ATTEST_CBOR_NULL:
        return "null";
    case ATTEST_CBOR_BOOL:
        return "boolean";
    default:
        return "unsupported item";
    }
}

SIGIL_RESULT attest_cbor_expect(struct attest_cbor_rd *r, struct attest_cbor_tok *t, enum attest_cbor_kind kind,
                                const char *what)
{
    SIGIL_GUARD(attest_cbor_next(r, t));
    if (t->kind != kind) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected a %s, found a %s", what, kind_name(kind),
                            kind_name(t->kind));
    }
    return sigil_ok();
}

/* ---- writer ---- */

static void wr_done(struct attest_cbor_wr *w, size_t n)
{
    if (n == 0) {
        w->overflow = true;
    } else {
        w->len += n;
    }
}

static unsigned char *wr_at(struct attest_cbor_wr *w) { return w->overflow ? NULL : w->p + w->len; }
static size_t wr_left(struct attest_cbor_wr *w) { return w->overflow ? 0 : w->cap - w->len; }

void attest_cbor_put_uint(struct attest_cbor_wr *w, uint64_t v)
{
    wr_done(w, w->overflow ? 0 : cbor_encode_uint(v, wr_at(w), wr_left(w)));
}

void attest_cbor_put_uint64_fixed(struct attest_cbor_wr *w, uint64_t v)
{
    wr_done(w, w->overflow ? 0 : cbor_encode_uint64(v, wr_at(w), wr_left(w)));
}

void attest_cbor_put_negint(struct attest_cbor_wr *w, uint64_t v)
{
    wr_done(w, w->overflow ? 0 : cbor_encode_negint(v, wr_at(w), wr_left(w)));
}

void attest_cbor_put_raw(struct attest_cbor_wr *w, const uint8_t *p, size_t n)
{
    if (w->overflow || n > wr_left(w)) {
        w->overflow = true;
        return;
    }
    if (n > 0) {
        memcpy(w->p + w->len, p, n);
    }
    w->len += n;
}

void attest_cbor_put_bstr(struct attest_cbor_wr *w, const uint8_t *p, size_t n)
{
    wr_done(w, w->overflow ? 0 : cbor_encode_bytestring_start(n, wr_at(w), wr_left(w)));
    attest_cbor_put_raw(w, p, n);
}

void attest_cbor_put_bstr_or_null(struct attest_cbor_wr *w, const uint8_t *p, size_t n)
{
    if (p == NULL || n == 0) {
        attest_cbor_put_null(w);
    } else {
        attest_cbor_put_bstr(w, p, n);
    }
}

void attest_cbor_put_tstr(struct attest_cbor_wr *w, const char *s)
{
    size_t n = strlen(s);
    wr_done(w, w->overflow ? 0 : cbor_encode_string_start(n, wr_at(w), wr_left(w)));
    attest_cbor_put_raw(w, (const uint8_t *)s, n);
}

void attest_cbor_put_array(struct attest_cbor_wr *w, size_t n)
{
    wr_done(w, w->overflow ? 0 : cbor_encode_array_start(n, wr_at(w), wr_left(w)));
}

void attest_cbor_put_map(struct attest_cbor_wr *w, size_t n)
{
    wr_done(w, w->overflow ? 0 : cbor_encode_map_start(n, wr_at(w), wr_left(w)));
}

void attest_cbor_put_null(struct attest_cbor_wr *w)
{
    wr_done(w, w->overflow ? 0 : cbor_encode_null(wr_at(w), wr_left(w)));
}

const uint8_t attest_protected_es384[4] = {0xa1, 0x01, 0x38, 0x22};

void attest_sig_structure_prefix(struct attest_cbor_wr *w, const uint8_t *prot, size_t prot_len, size_t payload_len)
{
    attest_cbor_put_array(w, 4);
    attest_cbor_put_tstr(w, "Signature1");
    attest_cbor_put_bstr(w, prot, prot_len);
    attest_cbor_put_bstr(w, NULL, 0);
    wr_done(w, w->overflow ? 0 : cbor_encode_bytestring_start(payload_len, wr_at(w), wr_left(w)));
}
