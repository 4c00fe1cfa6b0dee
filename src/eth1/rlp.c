#include "eth1/rlp.h"

#include <stdlib.h>
#include <string.h>

void sigil_rlp_builder_init(sigil_rlp_builder *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max == 0 ? SIGIL_RLP_MAX_INPUT : max;
    b->err = SIGIL_OK;
}

void sigil_rlp_builder_free(sigil_rlp_builder *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}

static bool reserve(sigil_rlp_builder *b, size_t extra)
{
    if (b->err != SIGIL_OK) {
        return false;
    }
    if (extra > b->max || b->len > b->max - extra) {
        b->err = SIGIL_ERR_TOO_LARGE;
        return false;
    }
    if (b->len + extra <= b->cap) {
        return true;
    }
    size_t cap = b->cap == 0 ? 256 : b->cap;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->buf, cap);
    if (p == NULL) {
        b->err = SIGIL_ERR_NOMEM;
        return false;
    }
    b->buf = p;
    b->cap = cap;
    return true;
}

/* Big-endian bytes of n without leading zeros; returns the count (0 for n == 0). */
static size_t be_len(uint8_t out[8], uint64_t n)
{
    size_t k = 0;
    for (int i = 7; i >= 0; i--) {
        uint8_t byte = (uint8_t)(n >> (8 * i));
        if (k == 0 && byte == 0) {
            continue;
        }
        out[k++] = byte;
    }
    return k;
}

static size_t header(uint8_t out[9], uint8_t base, size_t len)
{
    if (len < 56) {
        out[0] = (uint8_t)(base + len);
        return 1;
    }
    uint8_t l[8];
    size_t k = be_len(l, (uint64_t)len);
    out[0] = (uint8_t)(base + 55 + k);
    memcpy(out + 1, l, k);
    return 1 + k;
}

void sigil_rlp_put_bytes(sigil_rlp_builder *b, const uint8_t *data, size_t len)
{
    if (len == 1 && data[0] < 0x80) {
        if (reserve(b, 1)) {
            b->buf[b->len++] = data[0];
        }
        return;
    }
    uint8_t h[9];
    size_t hl = header(h, 0x80, len);
    if (len > b->max) {
        if (b->err == SIGIL_OK) {
            b->err = SIGIL_ERR_TOO_LARGE;
        }
        return;
    }
    if (!reserve(b, hl + len)) {
        return;
    }
    memcpy(b->buf + b->len, h, hl);
    if (len > 0) {
        memcpy(b->buf + b->len + hl, data, len);
    }
    b->len += hl + len;
}

void sigil_rlp_put_uint_be(sigil_rlp_builder *b, const uint8_t *be, size_t len)
{
    while (len > 0 && be[0] == 0) {
        be++;
        len--;
    }
    sigil_rlp_put_bytes(b, be, len);
}

void sigil_rlp_put_u64(sigil_rlp_builder *b, uint64_t v)
{
    uint8_t l[8];
    size_t k = be_len(l, v);
    sigil_rlp_put_bytes(b, l, k);
}

void sigil_rlp_put_raw(sigil_rlp_builder *b, const uint8_t *enc, size_t len)
{
    if (len > 0 && reserve(b, len)) {
        memcpy(b->buf + b->len, enc, len);
        b->len += len;
    }
}

void sigil_rlp_list_begin(sigil_rlp_builder *b)
{
    if (b->err != SIGIL_OK) {
        return;
    }
    if (b->depth >= SIGIL_RLP_MAX_DEPTH) {
        b->err = SIGIL_ERR_TOO_LARGE;
        return;
    }
    b->open[b->depth++] = b->len;
}

void sigil_rlp_list_end(sigil_rlp_builder *b)
{
    if (b->err != SIGIL_OK) {
        return;
    }
    if (b->depth == 0) {
        b->err = SIGIL_ERR_ARG;
        return;
    }
    size_t start = b->open[--b->depth];
    size_t plen = b->len - start;
    uint8_t h[9];
    size_t hl = header(h, 0xc0, plen);
    if (!reserve(b, hl)) {
        return;
    }
    memmove(b->buf + start + hl, b->buf + start, plen);
    memcpy(b->buf + start, h, hl);
    b->len += hl;
}

sigil_result sigil_rlp_builder_finish(sigil_rlp_builder *b, uint8_t **out, size_t *out_len)
{
    if (b->err == SIGIL_OK && b->depth != 0) {
        b->err = SIGIL_ERR_ARG;
    }
    if (b->err == SIGIL_OK && b->buf == NULL) {
        b->buf = malloc(1);
        if (b->buf == NULL) {
            b->err = SIGIL_ERR_NOMEM;
        }
    }
    if (b->err != SIGIL_OK) {
        enum sigil_err e = b->err;
        sigil_rlp_builder_free(b);
        return sigil_errorf(e, "RLP encoding failed");
    }
    *out = b->buf;
    *out_len = b->len;
    b->buf = NULL;
    b->len = b->cap = 0;
    return sigil_ok();
}

sigil_result sigil_rlp_decode_one(sigil_rlp_item *out, size_t *consumed, const uint8_t *in, size_t len)
{
    if (len == 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "RLP: unexpected end of input");
    }
    uint8_t p = in[0];
    size_t hl;
    size_t plen;
    bool list = p >= 0xc0;
    if (p < 0x80) {
        out->is_list = false;
        out->payload = in;
        out->len = 1;
        *consumed = 1;
        return sigil_ok();
    }
    uint8_t base = list ? 0xc0 : 0x80;
    if (p - base < 56) {
        hl = 1;
        plen = (size_t)(p - base);
        if (!list && plen == 1 && (len < 2 || in[1] < 0x80)) {
            if (len < 2) {
                return sigil_errorf(SIGIL_ERR_PARSE, "RLP: string runs past the end of input");
            }
            return sigil_errorf(SIGIL_ERR_PARSE, "RLP: single byte below 0x80 must not have a header");
        }
    } else {
        size_t k = (size_t)(p - base - 55);
        if (len < 1 + k) {
            return sigil_errorf(SIGIL_ERR_PARSE, "RLP: length runs past the end of input");
        }
        if (in[1] == 0) {
            return sigil_errorf(SIGIL_ERR_PARSE, "RLP: leading zero in a length");
        }
        if (k > sizeof(size_t)) {
            return sigil_errorf(SIGIL_ERR_PARSE, "RLP: length too large");
        }
        uint64_t v = 0;
        for (size_t i = 0; i < k; i++) {
            v = (v << 8) | in[1 + i];
        }
        if (v < 56) {
            return sigil_errorf(SIGIL_ERR_PARSE, "RLP: long form used for a length below 56");
        }
        hl = 1 + k;
        plen = (size_t)v;
    }
    if (plen > len - hl) {
        return sigil_errorf(SIGIL_ERR_PARSE, "RLP: item runs past the end of input");
    }
    out->is_list = list;
    out->payload = in + hl;
    out->len = plen;
    *consumed = hl + plen;
    return sigil_ok();
}

static sigil_result validate(const sigil_rlp_item *it, unsigned depth)
{
    if (!it->is_list) {
        return sigil_ok();
    }
    if (depth >= SIGIL_RLP_MAX_DEPTH) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "RLP: nesting deeper than %d", SIGIL_RLP_MAX_DEPTH);
    }
    size_t off = 0;
    while (off < it->len) {
        sigil_rlp_item child;
        size_t used;
        SIGIL_GUARD(sigil_rlp_decode_one(&child, &used, it->payload + off, it->len - off));
        SIGIL_GUARD(validate(&child, depth + 1));
        off += used;
    }
    return sigil_ok();
}

sigil_result sigil_rlp_decode(sigil_rlp_item *out, const uint8_t *in, size_t len)
{
    if (len > SIGIL_RLP_MAX_INPUT) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "RLP: input over %u bytes", SIGIL_RLP_MAX_INPUT);
    }
    size_t used;
    SIGIL_GUARD(sigil_rlp_decode_one(out, &used, in, len));
    if (used != len) {
        return sigil_errorf(SIGIL_ERR_PARSE, "RLP: %zu trailing bytes after the item", len - used);
    }
    return validate(out, 0);
}

sigil_result sigil_rlp_list_items(sigil_rlp_item *items, size_t max, size_t *n, const sigil_rlp_item *list)
{
    if (!list->is_list) {
        return sigil_errorf(SIGIL_ERR_PARSE, "RLP: expected a list");
    }
    size_t off = 0;
    size_t k = 0;
    while (off < list->len) {
        if (k == max) {
            return sigil_errorf(SIGIL_ERR_TOO_LARGE, "RLP: list has more than %zu elements", max);
        }
        size_t used;
        SIGIL_GUARD(sigil_rlp_decode_one(&items[k], &used, list->payload + off, list->len - off));
        off += used;
        k++;
    }
    *n = k;
    return sigil_ok();
}

sigil_result sigil_rlp_item_uint_be(uint8_t *out, size_t width, const sigil_rlp_item *item, const char *field)
{
    if (item->is_list) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected an integer, got a list", field);
    }
    if (item->len > width) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: integer wider than %zu bytes", field, width);
    }
    if (item->len > 0 && item->payload[0] == 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: integer has leading zero bytes", field);
    }
    memset(out, 0, width);
    if (item->len > 0) {
        memcpy(out + width - item->len, item->payload, item->len);
    }
    return sigil_ok();
}

sigil_result sigil_rlp_item_u64(uint64_t *out, const sigil_rlp_item *item, const char *field)
{
    uint8_t be[8];
    SIGIL_GUARD(sigil_rlp_item_uint_be(be, 8, item, field));
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | be[i];
    }
    *out = v;
    return sigil_ok();
}
