/* EIP-3076 interchange parsing: the whole document is validated into memory before anything is
 * written, so a malformed file imports nothing. */
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/json.h"
#include "slashing/internal.h"
#include "slashing/slashing.h"

static bool only_keys(const json_t *obj, const char *const *allowed, size_t n, const char **bad)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        (void)v;
        size_t i;
        for (i = 0; i < n; i++) {
            if (strcmp(key, allowed[i]) == 0) {
                break;
            }
        }
        if (i == n) {
            *bad = key;
            return false;
        }
    }
    return true;
}

/* "0x" followed by exactly 2n hex digits. */
static sigil_result hex_field(uint8_t *out, size_t n, const json_t *obj, const char *field, const char *where,
                              size_t idx)
{
    const char *s;
    json_t *v = json_object_get(obj, field);
    if (v == NULL || !json_is_string(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s[%zu].%s must be a string", where, idx, field);
    }
    s = json_string_value(v);
    if (json_string_length(v) != 2 + 2 * n || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') ||
        !sigil_hex_decode_digits_ct(out, s + 2, n)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s[%zu].%s must be 0x followed by %zu hex digits", where, idx, field,
                            2 * n);
    }
    return sigil_ok();
}

static sigil_result u64_field(uint64_t *out, const json_t *obj, const char *field, const char *where, size_t idx)
{
    json_t *v = json_object_get(obj, field);
    if (v == NULL || !json_is_string(v) ||
        !sigil_is_ok(sigil_parse_u64(out, json_string_value(v), json_string_length(v)))) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s[%zu].%s must be a decimal string of an unsigned 64-bit integer", where,
                            idx, field);
    }
    return sigil_ok();
}

static sigil_result parse_validator(struct slash_ic_validator *out, const json_t *e, size_t idx)
{
    static const char *const vkeys[] = {"pubkey", "signed_blocks", "signed_attestations"};
    static const char *const bkeys[] = {"slot", "signing_root"};
    static const char *const akeys[] = {"source_epoch", "target_epoch", "signing_root"};
    const char *bad;
    if (!json_is_object(e)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "data[%zu] must be an object", idx);
    }
    if (!only_keys(e, vkeys, 3, &bad)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "data[%zu] has an unknown member", idx);
    }
    SIGIL_GUARD(hex_field(out->pubkey, 48, e, "pubkey", "data", idx));
    json_t *blocks = json_object_get(e, "signed_blocks");
    json_t *atts = json_object_get(e, "signed_attestations");
    if (!json_is_array(blocks) || !json_is_array(atts)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "data[%zu] needs arrays signed_blocks and signed_attestations", idx);
    }
    out->nblocks = json_array_size(blocks);
    out->natts = json_array_size(atts);
    out->blocks = calloc(out->nblocks ? out->nblocks : 1, sizeof *out->blocks);
    out->atts = calloc(out->natts ? out->natts : 1, sizeof *out->atts);
    if (out->blocks == NULL || out->atts == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    for (size_t i = 0; i < out->nblocks; i++) {
        json_t *b = json_array_get(blocks, i);
        if (!json_is_object(b) || !only_keys(b, bkeys, 2, &bad)) {
            return sigil_errorf(SIGIL_ERR_PARSE,
                                "data[%zu].signed_blocks[%zu] must be an object with slot and "
                                "optional signing_root",
                                idx, i);
        }
        SIGIL_GUARD(u64_field(&out->blocks[i].slot, b, "slot", "signed_blocks", i));
        if (json_object_get(b, "signing_root") != NULL) {
            SIGIL_GUARD(hex_field(out->blocks[i].root, 32, b, "signing_root", "signed_blocks", i));
            out->blocks[i].has_root = true;
        }
    }
    for (size_t i = 0; i < out->natts; i++) {
        json_t *a = json_array_get(atts, i);
        if (!json_is_object(a) || !only_keys(a, akeys, 3, &bad)) {
            return sigil_errorf(SIGIL_ERR_PARSE,
                                "data[%zu].signed_attestations[%zu] must be an object with "
                                "source_epoch, target_epoch and optional signing_root",
                                idx, i);
        }
        SIGIL_GUARD(u64_field(&out->atts[i].source, a, "source_epoch", "signed_attestations", i));
        SIGIL_GUARD(u64_field(&out->atts[i].target, a, "target_epoch", "signed_attestations", i));
        if (json_object_get(a, "signing_root") != NULL) {
            SIGIL_GUARD(hex_field(out->atts[i].root, 32, a, "signing_root", "signed_attestations", i));
            out->atts[i].has_root = true;
        }
    }
    return sigil_ok();
}

sigil_result slash_ic_parse(struct slash_ic_doc *out, const char *json, size_t len)
{
    static const char *const top[] = {"metadata", "data"};
    static const char *const meta_keys[] = {"interchange_format_version", "genesis_validators_root"};
    sigil_result ret;
    json_t *root = NULL;
    const char *bad;
    memset(out, 0, sizeof *out);
    SIGIL_GUARD(sigil_json_parse(&root, json, len, SIGIL_SLASHING_IMPORT_MAX));
    if (!json_is_object(root) || !only_keys(root, top, 2, &bad)) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "interchange must be an object with only metadata and data");
        goto out;
    }
    json_t *meta, *data;
    const char *version;
    SIGIL_GUARD_GOTO(sigil_json_get_object(&meta, root, "metadata"));
    if (!only_keys(meta, meta_keys, 2, &bad)) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "metadata has an unknown member");
        goto out;
    }
    SIGIL_GUARD_GOTO(sigil_json_get_string(&version, meta, "interchange_format_version"));
    if (strcmp(version, "5") != 0) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "interchange_format_version must be \"5\"");
        goto out;
    }
    SIGIL_GUARD_GOTO(hex_field(out->gvr, 32, meta, "genesis_validators_root", "metadata", 0));
    SIGIL_GUARD_GOTO(sigil_json_get_array(&data, root, "data"));
    out->nv = json_array_size(data);
    out->v = calloc(out->nv ? out->nv : 1, sizeof *out->v);
    SIGIL_ENSURE_GOTO(out->v != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < out->nv; i++) {
        SIGIL_GUARD_GOTO(parse_validator(&out->v[i], json_array_get(data, i), i));
    }
    ret = sigil_ok();
out:
    json_decref(root);
    if (!sigil_is_ok(ret)) {
        slash_ic_free(out);
    }
    return ret;
}

void slash_ic_free(struct slash_ic_doc *d)
{
    for (size_t i = 0; d->v != NULL && i < d->nv; i++) {
        free(d->v[i].blocks);
        free(d->v[i].atts);
    }
    free(d->v);
    memset(d, 0, sizeof *d);
}
