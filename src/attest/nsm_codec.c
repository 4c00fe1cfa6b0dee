/* NSM request/response messages as the aws-nitro-enclaves-nsm-api driver encodes them with
 * serde_cbor: unit variants are text strings, struct variants one-entry maps
 * {"Variant": {field: value, ...}}, Option::None is null. */
#include <string.h>

#include "attest/attest_internal.h"

SIGIL_RESULT attest_nsm_encode_attestation(uint8_t *buf, size_t cap, size_t *len, const uint8_t *user_data,
                                           size_t ud_len, const uint8_t *nonce, size_t nonce_len,
                                           const uint8_t *public_key, size_t pk_len)
{
    struct attest_cbor_wr w = {buf, cap, 0, false};
    attest_cbor_put_map(&w, 1);
    attest_cbor_put_tstr(&w, "Attestation");
    attest_cbor_put_map(&w, 3);
    attest_cbor_put_tstr(&w, "user_data");
    attest_cbor_put_bstr_or_null(&w, user_data, ud_len);
    attest_cbor_put_tstr(&w, "nonce");
    attest_cbor_put_bstr_or_null(&w, nonce, nonce_len);
    attest_cbor_put_tstr(&w, "public_key");
    attest_cbor_put_bstr_or_null(&w, public_key, pk_len);
    if (w.overflow) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "NSM attestation request does not fit %zu bytes", cap);
    }
    *len = w.len;
    return sigil_ok();
}

SIGIL_RESULT attest_nsm_encode_get_random(uint8_t *buf, size_t cap, size_t *len)
{
    struct attest_cbor_wr w = {buf, cap, 0, false};
    attest_cbor_put_tstr(&w, "GetRandom");
    if (w.overflow) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "NSM GetRandom request does not fit %zu bytes", cap);
    }
    *len = w.len;
    return sigil_ok();
}

static bool tok_is(const struct attest_cbor_tok *t, const char *s)
{
    size_t n = strlen(s);
    return t->kind == ATTEST_CBOR_TSTR && t->len == n && memcmp(t->p, s, n) == 0;
}

static SIGIL_RESULT nsm_error(const struct attest_cbor_tok *code)
{
    static const char *const arg_codes[] = {"InvalidArgument", "InvalidIndex", "InputTooLarge", "ReadOnlyIndex"};
    static const char *const known[] = {"InvalidResponse", "InvalidOperation", "BufferTooSmall", "InternalError",
                                        "Success"};
    for (size_t i = 0; i < sizeof arg_codes / sizeof arg_codes[0]; i++) {
        if (tok_is(code, arg_codes[i])) {
            return sigil_errorf(SIGIL_ERR_ARG, "NSM refused the request: %s", arg_codes[i]);
        }
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (tok_is(code, known[i])) {
            return sigil_errorf(SIGIL_ERR_INTERNAL, "NSM failed: %s", known[i]);
        }
    }
    return sigil_errorf(SIGIL_ERR_INTERNAL, "NSM failed with an unknown error code");
}

/* {"<variant>": {"<field>": bstr}} or {"Error": "<code>"}, nothing after it. */
static SIGIL_RESULT decode_one(const uint8_t *resp, size_t len, const char *variant, const char *field,
                               const uint8_t **out, size_t *out_len)
{
    struct attest_cbor_rd r = {resp, len, 0};
    struct attest_cbor_tok t;
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_MAP, "NSM response"));
    if (t.v != 1) {
        return sigil_errorf(SIGIL_ERR_PARSE, "NSM response is not a one-entry map");
    }
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_TSTR, "NSM response variant"));
    if (tok_is(&t, "Error")) {
        SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_TSTR, "NSM error code"));
        if (r.pos != r.len) {
            return sigil_errorf(SIGIL_ERR_PARSE, "trailing bytes after the NSM response");
        }
        return nsm_error(&t);
    }
    if (!tok_is(&t, variant)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "NSM response is not %s", variant);
    }
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_MAP, "NSM response body"));
    if (t.v != 1) {
        return sigil_errorf(SIGIL_ERR_PARSE, "NSM %s response does not hold exactly %s", variant, field);
    }
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_TSTR, "NSM response field"));
    if (!tok_is(&t, field)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "NSM %s response does not hold %s", variant, field);
    }
    SIGIL_GUARD(attest_cbor_expect(&r, &t, ATTEST_CBOR_BSTR, field));
    if (r.pos != r.len) {
        return sigil_errorf(SIGIL_ERR_PARSE, "trailing bytes after the NSM response");
    }
    *out = t.p;
    *out_len = t.len;
    return sigil_ok();
}

SIGIL_RESULT attest_nsm_decode_attestation(const uint8_t *resp, size_t len, const uint8_t **doc, size_t *doc_len)
{
    return decode_one(resp, len, "Attestation", "document", doc, doc_len);
}

SIGIL_RESULT attest_nsm_decode_get_random(const uint8_t *resp, size_t len, const uint8_t **rnd, size_t *rnd_len)
{
    return decode_one(resp, len, "GetRandom", "random", rnd, rnd_len);
}
