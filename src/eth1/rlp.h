/* Recursive Length Prefix (RLP) encoding as used by Ethereum execution-layer objects.
 *
 * Encoding uses a growable builder that records its first error, so a caller can emit a whole
 * structure and check once at the end. Decoding is strict (canonical form only): a single byte
 * below 0x80 must not be wrapped in a string header, long-form lengths must not start with a zero
 * byte and must be at least 56, and every item must fit its parent exactly. Inputs are bounded in
 * size and in nesting depth, so hostile bytes cannot exhaust memory or the stack. */
#ifndef SIGIL_ETH1_RLP_H
#define SIGIL_ETH1_RLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

#define SIGIL_RLP_MAX_DEPTH 32                  /* nested lists, encoder and decoder */
#define SIGIL_RLP_MAX_INPUT (16u * 1024 * 1024) /* bytes accepted by the decoder */

typedef struct {
    uint8_t *buf;
    size_t len, cap, max;
    size_t open[SIGIL_RLP_MAX_DEPTH]; /* payload start of each open list */
    unsigned depth;
    enum sigil_err err; /* first error, SIGIL_OK while none */
} sigil_rlp_builder;

/* Starts an empty builder whose output may grow to at most max bytes (0 = SIGIL_RLP_MAX_INPUT). */
void sigil_rlp_builder_init(sigil_rlp_builder *b, size_t max);
/* Frees the buffer (not needed after a successful sigil_rlp_builder_finish). */
void sigil_rlp_builder_free(sigil_rlp_builder *b);

/* Appends a byte string item. */
void sigil_rlp_put_bytes(sigil_rlp_builder *b, const uint8_t *data, size_t len);
/* Appends an unsigned integer (big-endian, no leading zeros; 0 is the empty string). */
void sigil_rlp_put_u64(sigil_rlp_builder *b, uint64_t v);
/* Appends a big-endian unsigned integer of any width, with its leading zero bytes stripped. */
void sigil_rlp_put_uint_be(sigil_rlp_builder *b, const uint8_t *be, size_t len);
/* Appends bytes that are already a complete RLP encoding. */
void sigil_rlp_put_raw(sigil_rlp_builder *b, const uint8_t *enc, size_t len);
/* Opens and closes a list; items appended in between are its elements. */
void sigil_rlp_list_begin(sigil_rlp_builder *b);
void sigil_rlp_list_end(sigil_rlp_builder *b);

/* Hands the encoding to the caller (*out malloc'ed; free with free()). Fails with the first
 * error recorded (SIGIL_ERR_TOO_LARGE, SIGIL_ERR_NOMEM, SIGIL_ERR_ARG for unbalanced lists).
 * The builder is freed either way. */
SIGIL_RESULT sigil_rlp_builder_finish(sigil_rlp_builder *b, uint8_t **out, size_t *out_len);

/* A decoded item: a view into the input, never a copy. For a list, payload/len is the
 * concatenation of the encoded elements. */
typedef struct {
    bool is_list;
    const uint8_t *payload;
    size_t len;
} sigil_rlp_item;

/* Decodes the header of one item at in[0..len) and checks it is canonical and fits; *consumed
 * receives header + payload size. Does not look inside lists. Errors: SIGIL_ERR_PARSE. */
SIGIL_RESULT sigil_rlp_decode_one(sigil_rlp_item *out, size_t *consumed, const uint8_t *in, size_t len);

/* Decodes in[0..len) as exactly one item and validates the whole tree (canonical headers,
 * exact fit, depth <= SIGIL_RLP_MAX_DEPTH). Errors: SIGIL_ERR_PARSE, SIGIL_ERR_TOO_LARGE. */
SIGIL_RESULT sigil_rlp_decode(sigil_rlp_item *out, const uint8_t *in, size_t len);

/* Splits a list item into its elements: items[0..*n), at most max (more is SIGIL_ERR_TOO_LARGE).
 * Errors: SIGIL_ERR_PARSE when item is not a list or an element is malformed. */
SIGIL_RESULT sigil_rlp_list_items(sigil_rlp_item *items, size_t max, size_t *n, const sigil_rlp_item *list);

/* Reads a canonical unsigned integer from a string item: no leading zero byte, at most 8 bytes
 * (u64) or width bytes (uint_be, written right-aligned into out[0..width)). The detail names
 * `field`. Errors: SIGIL_ERR_PARSE. */
SIGIL_RESULT sigil_rlp_item_u64(uint64_t *out, const sigil_rlp_item *item, const char *field);
SIGIL_RESULT sigil_rlp_item_uint_be(uint8_t *out, size_t width, const sigil_rlp_item *item, const char *field);

#endif
