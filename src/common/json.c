#include "common/json.h"

#include <string.h>

#include "common/hex.h"

sigil_result sigil_json_parse(json_t **out, const char *buf, size_t len, size_t max_len)
{
    *out = NULL;
    if (len > max_len) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "JSON document is %zu bytes, at most %zu allowed", len, max_len);
    }
    json_error_t err;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL) {
        return sigil_errorf(SIGIL_ERR_PARSE, "invalid JSON at line %d column %d: %s", err.line, err.column, err.text);
    }
    *out = j;
    return sigil_ok();
}

static sigil_result member(json_t **out, const json_t *obj, const char *field)
{
    if (!json_is_object(obj)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "expected an object holding field '%s'", field);
    }
    json_t *v = json_object_get(obj, field);
    if (v == NULL || json_is_null(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "missing field '%s'", field);
    }
    *out = v;
    return sigil_ok();
}

sigil_result sigil_json_get_object(json_t **out, const json_t *obj, const char *field)
{
    SIGIL_GUARD(member(out, obj, field));
    if (!json_is_object(*out)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "field '%s' must be an object", field);
    }
    return sigil_ok();
}

sigil_result sigil_json_get_array(json_t **out, const json_t *obj, const char *field)
{
    SIGIL_GUARD(member(out, obj, field));
    if (!json_is_array(*out)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "field '%s' must be an array", field);
    }
    return sigil_ok();
}

sigil_result sigil_json_get_string(const char **out, const json_t *obj, const char *field)
{
    json_t *v;
    SIGIL_GUARD(member(&v, obj, field));
    if (!json_is_string(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "field '%s' must be a string", field);
    }
    *out = json_string_value(v);
    return sigil_ok();
}

sigil_result sigil_parse_u64(uint64_t *out, const char *s, size_t len)
{
    if (len == 0 || len > 20) {
        return sigil_error(SIGIL_ERR_PARSE);
    }
    if (len > 1 && s[0] == '0') {
        return sigil_error(SIGIL_ERR_PARSE);
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return sigil_error(SIGIL_ERR_PARSE);
        }
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return sigil_error(SIGIL_ERR_PARSE);
        }
        v = v * 10 + d;
    }
    *out = v;
    return sigil_ok();
}

sigil_result sigil_json_get_u64(uint64_t *out, const json_t *obj, const char *field)
{
    json_t *v;
    SIGIL_GUARD(member(&v, obj, field));
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0) {
            return sigil_errorf(SIGIL_ERR_PARSE, "field '%s' must not be negative", field);
        }
        *out = (uint64_t)i;
        return sigil_ok();
    }
    if (json_is_string(v)) {
        if (!sigil_is_ok(sigil_parse_u64(out, json_string_value(v), json_string_length(v)))) {
            return sigil_errorf(SIGIL_ERR_PARSE, "field '%s' must be an unsigned 64-bit decimal integer", field);
        }
        return sigil_ok();
    }
    return sigil_errorf(SIGIL_ERR_PARSE, "field '%s' must be an unsigned integer or a decimal string", field);
}

sigil_result sigil_json_get_hex(uint8_t *out, size_t n, const json_t *obj, const char *field)
{
    const char *s;
    SIGIL_GUARD(sigil_json_get_string(&s, obj, field));
    if (!sigil_is_ok(sigil_hex_decode_exact(out, n, s, strlen(s)))) {
        return sigil_errorf(SIGIL_ERR_PARSE, "field '%s' must be %zu bytes of hex", field, n);
    }
    return sigil_ok();
}
