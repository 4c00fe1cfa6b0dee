/* JSON helpers on jansson: bounded parsing and typed field access whose errors name the field
 * (the detail sentence from sigil_error_detail), never the value. */
#ifndef SIGIL_COMMON_JSON_H
#define SIGIL_COMMON_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

/* Parses len bytes of JSON (refusing more than max_len bytes) into *out. The caller owns *out
 * (json_decref). Errors: SIGIL_ERR_TOO_LARGE, SIGIL_ERR_PARSE with line and column. */
SIGIL_RESULT sigil_json_parse(json_t **out, const char *buf, size_t len, size_t max_len);

/* Borrowed references to members of obj; missing or wrongly typed members fail with
 * SIGIL_ERR_PARSE and a detail naming `field`. */
SIGIL_RESULT sigil_json_get_object(json_t **out, const json_t *obj, const char *field);
SIGIL_RESULT sigil_json_get_array(json_t **out, const json_t *obj, const char *field);
SIGIL_RESULT sigil_json_get_string(const char **out, const json_t *obj, const char *field);

/* An unsigned integer given as a JSON integer or as a decimal string (Eth2 APIs encode
 * uint64 as strings). Leading zeros, signs, and values over 2^64-1 are refused. */
SIGIL_RESULT sigil_json_get_u64(uint64_t *out, const json_t *obj, const char *field);

/* Parses a decimal string into a uint64 with the same rules. */
SIGIL_RESULT sigil_parse_u64(uint64_t *out, const char *s, size_t len);

/* A hex string member decoding to exactly n bytes (0x prefix optional). */
SIGIL_RESULT sigil_json_get_hex(uint8_t *out, size_t n, const json_t *obj, const char *field);

#endif
