#include "eth1/eip712.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/json.h"
#include "crypto/keccak.h"

struct type_hash {
    const char *name;
    uint8_t hash[32];
};

struct ctx {
    const json_t *types;
    size_t values;
    struct type_hash cache[SIGIL_EIP712_MAX_TYPES + 1];
    size_t ncache;
};

static const json_t *ctx_types(const struct ctx *c) { return c->types; }

static bool is_ident(const char *s, bool allow_digit_first)
{
    if (*s == 0) {
        return false;
    }
    for (const char *p = s; *p != 0; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '$' ||
                  (ch >= '0' && ch <= '9' && (p != s || allow_digit_first));
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Parses a decimal number without sign or leading '+'; returns 0 on failure. */
static size_t parse_small_num(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > 6 || s[0] == '0') {
        return 0;
    }
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (size_t)(s[i] - '0');
    }
    return v <= max ? v : 0;
}

/* Atomic type widths: returns 1 when name is an atomic/dynamic type (kind set), else 0. */
enum kind { K_ADDRESS, K_BOOL, K_STRING, K_BYTES, K_BYTESN, K_UINT, K_INT, K_STRUCT };

static bool atomic_kind(const char *name, size_t len, enum kind *kind, unsigned *width)
{
    if (len == 7 && memcmp(name, "address", 7) == 0) {
        *kind = K_ADDRESS;
        return true;
    }
    if (len == 4 && memcmp(name, "bool", 4) == 0) {
        *kind = K_BOOL;
        return true;
    }
    if (len == 6 && memcmp(name, "string", 6) == 0) {
        *kind = K_STRING;
        return true;
    }
    if (len == 5 && memcmp(name, "bytes", 5) == 0) {
        *kind = K_BYTES;
        return true;
    }
    if (len > 5 && memcmp(name, "bytes", 5) == 0) {
        size_t n = parse_small_num(name + 5, len - 5, 32);
        if (n == 0) {
            return false;
        }
        *kind = K_BYTESN;
        *width = (unsigned)n;
        return true;
    }
    size_t off = 0;
    enum kind k;
    if (len > 4 && memcmp(name, "uint", 4) == 0) {
        off = 4;
        k = K_UINT;
    } else if (len > 3 && memcmp(name, "int", 3) == 0) {
        off = 3;
        k = K_INT;
    } else {
        return false;
    }
    size_t bits = parse_small_num(name + off, len - off, 256);
    if (bits == 0 || bits % 8 != 0) {
        return false;
    }
    *kind = k;
    *width = (unsigned)bits;
    return true;
}

/* The struct definition (array of {name, type}) for name[0..len), or NULL. */
static const json_t *struct_def(const struct ctx *c, const char *name, size_t len)
{
    char buf[256];
    if (len >= sizeof buf) {
        return NULL;
    }
    memcpy(buf, name, len);
    buf[len] = 0;
    return json_object_get(ctx_types(c), buf);
}

/* Splits "T[..]..[..]" into the base length; returns false for malformed brackets. */
static bool base_len(const char *type, size_t *blen)
{
    const char *br = strchr(type, '[');
    *blen = br == NULL ? strlen(type) : (size_t)(br - type);
    if (br == NULL) {
        return true;
    }
    const char *p = br;
    unsigned dims = 0;
    while (*p == '[') {
        const char *q = strchr(p, ']');
        if (q == NULL) {
            return false;
        }
        if (q > p + 1 && parse_small_num(p + 1, (size_t)(q - p - 1), SIGIL_EIP712_MAX_ARRAY) == 0) {
            return false;
        }
        p = q + 1;
        if (++dims > 8) {
            return false;
        }
    }
    return *p == 0;
}

static sigil_result check_types(const json_t *types)
{
    if (!json_is_object(types)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "types: expected an object");
    }
    if (json_object_size(types) > SIGIL_EIP712_MAX_TYPES) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "types: more than %d types", SIGIL_EIP712_MAX_TYPES);
    }
    const char *tname;
    const json_t *def;
    json_object_foreach((json_t *)types, tname, def)
    {
        if (!is_ident(tname, false) || strlen(tname) > 128) {
            return sigil_errorf(SIGIL_ERR_PARSE, "types: invalid type name");
        }
        if (!json_is_array(def)) {
            return sigil_errorf(SIGIL_ERR_PARSE, "types.%s: expected an array of {name, type}", tname);
        }
        size_t n = json_array_size(def);
        if (n > SIGIL_EIP712_MAX_FIELDS) {
            return sigil_errorf(SIGIL_ERR_TOO_LARGE, "types.%s: more than %d fields", tname, SIGIL_EIP712_MAX_FIELDS);
        }
        for (size_t i = 0; i < n; i++) {
            const json_t *f = json_array_get(def, i);
            const json_t *fn = json_object_get(f, "name");
            const json_t *ft = json_object_get(f, "type");
            if (!json_is_object(f) || json_object_size(f) != 2 || !json_is_string(fn) || !json_is_string(ft) ||
                !is_ident(json_string_value(fn), true) || strlen(json_string_value(fn)) > 128) {
                return sigil_errorf(SIGIL_ERR_PARSE, "types.%s[%zu]: expected {name, type} with an identifier name",
                                    tname, i);
            }
            for (size_t j = 0; j < i; j++) {
                if (strcmp(json_string_value(json_object_get(json_array_get(def, j), "name")), json_string_value(fn)) ==
                    0) {
                    return sigil_errorf(SIGIL_ERR_PARSE, "types.%s: duplicate field name", tname);
                }
            }
            const char *t = json_string_value(ft);
            size_t bl;
            enum kind k;
            unsigned w;
            if (strlen(t) > 200 || !base_len(t, &bl) || bl == 0) {
                return sigil_errorf(SIGIL_ERR_PARSE, "types.%s.%s: malformed type", tname, json_string_value(fn));
            }
            if (!atomic_kind(t, bl, &k, &w)) {
                char base[256];
                memcpy(base, t, bl);
                base[bl] = 0;
                if (!json_is_array(json_object_get(types, base))) {
                    return sigil_errorf(SIGIL_ERR_PARSE, "types.%s.%s: unknown type", tname, json_string_value(fn));
                }
            }
        }
    }
    return sigil_ok();
}

/* ---- encodeType ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void collect_deps(const json_t *types, const char *name, const char **deps, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(deps[i], name) == 0) {
            return;
        }
    }
    const char *key = NULL;
    const json_t *def = NULL;
    /* Use the key stored in the object so the pointer outlives the caller's buffers. */
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)types, k, v)
    {
        if (strcmp(k, name) == 0) {
            key = k;
            def = v;
            break;
        }
    }
    if (key == NULL || *n >= SIGIL_EIP712_MAX_TYPES) {
        return;
    }
    deps[(*n)++] = key;
    for (size_t i = 0; i < json_array_size(def); i++) {
        const char *t = json_string_value(json_object_get(json_array_get(def, i), "type"));
        size_t bl;
        enum kind kd;
        unsigned w;
        if (t == NULL || !base_len(t, &bl) || atomic_kind(t, bl, &kd, &w) || bl >= 256) {
            continue;
        }
        char base[256];
        memcpy(base, t, bl);
        base[bl] = 0;
        collect_deps(types, base, deps, n);
    }
}

static sigil_result encode_type(char **out, const json_t *types, const char *primary)
{
    if (!json_is_array(json_object_get(types, primary))) {
        return sigil_errorf(SIGIL_ERR_PARSE, "primaryType: not defined in types");
    }
    const char *deps[SIGIL_EIP712_MAX_TYPES];
    size_t n = 0;
    collect_deps(types, primary, deps, &n);
    if (n > 1) {
        qsort(deps + 1, n - 1, sizeof deps[0], cmp_str);
    }
    size_t cap = 64;
    for (size_t i = 0; i < n; i++) {
        const json_t *def = json_object_get(types, deps[i]);
        cap += strlen(deps[i]) + 2;
        for (size_t j = 0; j < json_array_size(def); j++) {
            const json_t *f = json_array_get(def, j);
            cap += strlen(json_string_value(json_object_get(f, "type"))) +
                   strlen(json_string_value(json_object_get(f, "name"))) + 2;
        }
    }
    char *s = malloc(cap);
    if (s == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    size_t len = 0;
#define APPEND(str)                                                                                                    \
    do {                                                                                                               \
        size_t l_ = strlen(str);                                                                                       \
        memcpy(s + len, (str), l_);                                                                                    \
        len += l_;                                                                                                     \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        const json_t *def = json_object_get(types, deps[i]);
        APPEND(deps[i]);
        APPEND("(");
        for (size_t j = 0; j < json_array_size(def); j++) {
            const json_t *f = json_array_get(def, j);
            if (j > 0) {
                APPEND(",");
            }
            APPEND(json_string_value(json_object_get(f, "type")));
            APPEND(" ");
            APPEND(json_string_value(json_object_get(f, "name")));
        }
        APPEND(")");
    }
#undef APPEND
    s[len] = 0;
    *out = s;
    return sigil_ok();
}

sigil_result sigil_eip712_encode_type(char **out, const json_t *types, const char *primary)
{
    SIGIL_GUARD(check_types(types));
    return encode_type(out, types, primary);
}

static sigil_result type_hash(struct ctx *c, const char *name, uint8_t out[32])
{
    for (size_t i = 0; i < c->ncache; i++) {
        if (strcmp(c->cache[i].name, name) == 0) {
            memcpy(out, c->cache[i].hash, 32);
            return sigil_ok();
        }
    }
    char *s = NULL;
    SIGIL_GUARD(encode_type(&s, c->types, name));
    sigil_keccak256(out, (const uint8_t *)s, strlen(s));
    free(s);
    if (c->ncache < SIGIL_EIP712_MAX_TYPES) {
        /* The key pointer is owned by the types object, which outlives the context. */
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)c->types, k, v)
        {
            if (strcmp(k, name) == 0) {
                c->cache[c->ncache].name = k;
                memcpy(c->cache[c->ncache].hash, out, 32);
                c->ncache++;
                break;
            }
        }
    }
    return sigil_ok();
}

/* ---- values ---- */

static sigil_result hex_bytes(uint8_t **out, size_t *out_len, const json_t *v, const char *path)
{
    if (!json_is_string(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected a 0x hex string", path);
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || len % 2 != 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected 0x and an even number of hex digits", path);
    }
    size_t n = (len - 2) / 2;
    uint8_t *b = malloc(n > 0 ? n : 1);
    if (b == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    if (sigil_hex_decode_digits_ct(b, s + 2, n) != 1) {
        free(b);
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: invalid hex digit", path);
    }
    *out = b;
    *out_len = n;
    return sigil_ok();
}

/* mag = mag * mul + add over 256 bits; false on overflow. */
static bool mag_muladd(uint8_t mag[32], unsigned mul, unsigned add)
{
    unsigned carry = add;
    for (int i = 31; i >= 0; i--) {
        unsigned v = mag[i] * mul + carry;
        mag[i] = (uint8_t)v;
        carry = v >> 8;
    }
    return carry == 0;
}

static unsigned bitlen(const uint8_t m[32])
{
    for (int i = 0; i < 32; i++) {
        if (m[i] != 0) {
            unsigned b = 8;
            while ((m[i] & (1u << (b - 1))) == 0) {
                b--;
            }
            return (unsigned)(31 - i) * 8 + b;
        }
    }
    return 0;
}

static bool is_pow2(const uint8_t m[32])
{
    unsigned ones = 0;
    for (int i = 0; i < 32; i++) {
        ones += (unsigned)__builtin_popcount(m[i]);
    }
    return ones == 1;
}

static sigil_result encode_int(uint8_t out[32], const json_t *v, bool is_signed, unsigned bits, const char *path)
{
    uint8_t mag[32] = {0};
    bool neg = false;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        neg = x < 0;
        uint64_t u = neg ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
        for (int i = 0; i < 8; i++) {
            mag[31 - i] = (uint8_t)(u >> (8 * i));
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len > 0 && s[0] == '-') {
            neg = true;
            s++;
            len--;
        }
        bool hex = len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
        if (hex) {
            s += 2;
            len -= 2;
        }
        if (len == 0 || len > 100) {
            return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected an integer", path);
        }
        for (size_t i = 0; i < len; i++) {
            char ch = s[i];
            int d;
            if (ch >= '0' && ch <= '9') {
                d = ch - '0';
            } else if (hex && ch >= 'a' && ch <= 'f') {
                d = ch - 'a' + 10;
            } else if (hex && ch >= 'A' && ch <= 'F') {
                d = ch - 'A' + 10;
            } else {
                return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected an integer", path);
            }
            if (!mag_muladd(mag, hex ? 16 : 10, (unsigned)d)) {
                return sigil_errorf(SIGIL_ERR_PARSE, "%s: integer out of range", path);
            }
        }
    } else {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected an integer or a numeric string", path);
    }
    unsigned bl = bitlen(mag);
    if (bl == 0) {
        neg = false;
    }
    bool ok;
    if (!is_signed) {
        ok = !neg && bl <= bits;
    } else if (!neg) {
        ok = bl <= bits - 1;
    } else {
        ok = bl <= bits - 1 || (bl == bits && is_pow2(mag));
    }
    if (!ok) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: integer out of range for %sint%u", path, is_signed ? "" : "u", bits);
    }
    if (neg) {
        unsigned carry = 1;
        for (int i = 31; i >= 0; i--) {
            unsigned x = (uint8_t)~mag[i] + carry;
            mag[i] = (uint8_t)x;
            carry = x >> 8;
        }
    }
    memcpy(out, mag, 32);
    return sigil_ok();
}

static sigil_result hash_struct(struct ctx *c, uint8_t out[32], const char *type, const json_t *value, unsigned depth,
                                const char *path);

static sigil_result encode_value(struct ctx *c, uint8_t out[32], const char *type, size_t tlen, const json_t *v,
                                 unsigned depth, const char *path)
{
    if (++c->values > SIGIL_EIP712_MAX_VALUES) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "message: more than %d values", SIGIL_EIP712_MAX_VALUES);
    }
    if (depth > SIGIL_EIP712_MAX_DEPTH) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "%s: nested deeper than %d", path, SIGIL_EIP712_MAX_DEPTH);
    }
    if (tlen > 0 && type[tlen - 1] == ']') {
        size_t open = tlen - 1;
        while (open > 0 && type[open] != '[') {
            open--;
        }
        size_t fixed = 0;
        if (open + 2 < tlen) {
            fixed = parse_small_num(type + open + 1, tlen - open - 2, SIGIL_EIP712_MAX_ARRAY);
        }
        if (!json_is_array(v)) {
            return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected an array", path);
        }
        size_t n = json_array_size(v);
        if (n > SIGIL_EIP712_MAX_ARRAY) {
            return sigil_errorf(SIGIL_ERR_TOO_LARGE, "%s: array longer than %d", path, SIGIL_EIP712_MAX_ARRAY);
        }
        if (fixed != 0 && n != fixed) {
            return sigil_errorf(SIGIL_ERR_PARSE, "%s: fixed-size array needs %zu elements, got %zu", path, fixed, n);
        }
        sigil_keccak256_ctx kc;
        sigil_keccak256_init(&kc);
        for (size_t i = 0; i < n; i++) {
            uint8_t e[32];
            SIGIL_GUARD(encode_value(c, e, type, open, json_array_get(v, i), depth + 1, path));
            sigil_keccak256_update(&kc, e, 32);
        }
        sigil_keccak256_final(&kc, out);
        return sigil_ok();
    }
    enum kind k;
    unsigned w = 0;
    if (!atomic_kind(type, tlen, &k, &w)) {
        char name[256];
        if (tlen >= sizeof name) {
            return sigil_errorf(SIGIL_ERR_PARSE, "%s: type name too long", path);
        }
        memcpy(name, type, tlen);
        name[tlen] = 0;
        return hash_struct(c, out, name, v, depth + 1, path);
    }
    memset(out, 0, 32);
    switch (k) {
    case K_BOOL:
        if (!json_is_boolean(v)) {
            return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected true or false", path);
        }
        out[31] = json_is_true(v) ? 1 : 0;
        return sigil_ok();
    case K_ADDRESS: {
        if (!json_is_string(v) || !sigil_is_ok(sigil_eip55_parse(out + 12, json_string_value(v))) ||
            json_string_length(v) != 42) {
            return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected a 0x address with a valid EIP-55 checksum", path);
        }
        return sigil_ok();
    }
    case K_STRING:
        if (!json_is_string(v)) {
            return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected a string", path);
        }
        sigil_keccak256(out, (const uint8_t *)json_string_value(v), json_string_length(v));
        return sigil_ok();
    case K_BYTES:
    case K_BYTESN: {
        uint8_t *b = NULL;
        size_t n = 0;
        SIGIL_GUARD(hex_bytes(&b, &n, v, path));
        if (k == K_BYTES) {
            sigil_keccak256(out, b, n);
        } else if (n != w) {
            free(b);
            return sigil_errorf(SIGIL_ERR_PARSE, "%s: bytes%u needs exactly %u bytes, got %zu", path, w, w, n);
        } else {
            memcpy(out, b, n);
        }
        free(b);
        return sigil_ok();
    }
    case K_UINT:
    case K_INT:
        return encode_int(out, v, k == K_INT, w, path);
    case K_STRUCT:
        break;
    }
    return sigil_error(SIGIL_ERR_INTERNAL);
}

static sigil_result hash_struct(struct ctx *c, uint8_t out[32], const char *type, const json_t *value, unsigned depth,
                                const char *path)
{
    if (depth > SIGIL_EIP712_MAX_DEPTH) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "%s: nested deeper than %d", path, SIGIL_EIP712_MAX_DEPTH);
    }
    const json_t *def = struct_def(c, type, strlen(type));
    if (!json_is_array(def)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: unknown type %s", path, type);
    }
    if (!json_is_object(value)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected an object of type %s", path, type);
    }
    size_t nf = json_array_size(def);
    if (json_object_size(value) != nf) {
        /* Find the member the type does not declare, to name it. */
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)value, k, v)
        {
            bool found = false;
            for (size_t i = 0; i < nf && !found; i++) {
                found = strcmp(json_string_value(json_object_get(json_array_get(def, i), "name")), k) == 0;
            }
            if (!found) {
                return sigil_errorf(SIGIL_ERR_PARSE, "%s: member not declared by type %s", path, type);
            }
        }
    }
    uint8_t th[32];
    SIGIL_GUARD(type_hash(c, type, th));
    sigil_keccak256_ctx kc;
    sigil_keccak256_init(&kc);
    sigil_keccak256_update(&kc, th, 32);
    for (size_t i = 0; i < nf; i++) {
        const json_t *f = json_array_get(def, i);
        const char *fname = json_string_value(json_object_get(f, "name"));
        const char *ftype = json_string_value(json_object_get(f, "type"));
        const json_t *fv = json_object_get(value, fname);
        char sub[512]; /* the path for error details; truncation is harmless */
        (void)snprintf(sub, sizeof sub, "%s.%s", path, fname);
        if (fv == NULL) {
            return sigil_errorf(SIGIL_ERR_PARSE, "%s: missing", sub);
        }
        uint8_t e[32];
        SIGIL_GUARD(encode_value(c, e, ftype, strlen(ftype), fv, depth, sub));
        sigil_keccak256_update(&kc, e, 32);
    }
    sigil_keccak256_final(&kc, out);
    return sigil_ok();
}

sigil_result sigil_eip712_hash_struct(uint8_t out[32], const json_t *types, const char *type, const json_t *value)
{
    SIGIL_GUARD(check_types(types));
    struct ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    c->types = types;
    sigil_result r = hash_struct(c, out, type, value, 0, type);
    free(c);
    return r;
}

/* The domain type inferred from the members present (ethers' rule). */
static sigil_result domain_types(json_t **out, const json_t *domain)
{
    static const char *const names[5] = {"name", "version", "chainId", "verifyingContract", "salt"};
    static const char *const types[5] = {"string", "string", "uint256", "address", "bytes32"};
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)domain, k, v)
    {
        bool known = false;
        for (int i = 0; i < 5; i++) {
            known = known || strcmp(k, names[i]) == 0;
        }
        if (!known) {
            return sigil_errorf(SIGIL_ERR_PARSE, "domain: unknown member (types has no EIP712Domain)");
        }
    }
    json_t *arr = json_array();
    if (arr == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    for (int i = 0; i < 5; i++) {
        if (json_object_get(domain, names[i]) != NULL &&
            json_array_append_new(arr, json_pack("{s:s,s:s}", "name", names[i], "type", types[i])) != 0) {
            json_decref(arr);
            return sigil_error(SIGIL_ERR_NOMEM);
        }
    }
    *out = arr;
    return sigil_ok();
}

sigil_result sigil_eip712_hash(uint8_t digest[32], uint8_t domain_sep[32], uint8_t msg_hash[32], const json_t *doc)
{
    if (!json_is_object(doc)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "typed data: expected an object");
    }
    const json_t *types = json_object_get(doc, "types");
    const json_t *primary = json_object_get(doc, "primaryType");
    const json_t *domain = json_object_get(doc, "domain");
    const json_t *message = json_object_get(doc, "message");
    if (!json_is_object(types)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "types: missing or not an object");
    }
    if (!json_is_string(primary)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "primaryType: missing or not a string");
    }
    if (!json_is_object(domain)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "domain: missing or not an object");
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)doc, key, val)
    {
        if (strcmp(key, "types") != 0 && strcmp(key, "primaryType") != 0 && strcmp(key, "domain") != 0 &&
            strcmp(key, "message") != 0) {
            return sigil_errorf(SIGIL_ERR_PARSE, "typed data: unknown top-level member");
        }
    }
    SIGIL_GUARD(check_types(types));
    bool is_domain = strcmp(json_string_value(primary), "EIP712Domain") == 0;
    if (!is_domain && message == NULL) {
        return sigil_errorf(SIGIL_ERR_PARSE, "message: missing");
    }
    json_t *tcopy = NULL;
    struct ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    sigil_result ret;
    if (json_object_get(types, "EIP712Domain") == NULL) {
        json_t *dt = NULL;
        SIGIL_GUARD_GOTO(domain_types(&dt, domain));
        tcopy = json_copy((json_t *)types);
        SIGIL_ENSURE_GOTO(tcopy != NULL, SIGIL_ERR_NOMEM);
        if (json_object_set_new(tcopy, "EIP712Domain", dt) != 0) {
            ret = sigil_error(SIGIL_ERR_NOMEM);
            goto out;
        }
        c->types = tcopy;
    } else {
        c->types = types;
    }
    uint8_t buf[2 + 64];
    buf[0] = 0x19;
    buf[1] = 0x01;
    SIGIL_GUARD_GOTO(hash_struct(c, buf + 2, "EIP712Domain", domain, 0, "domain"));
    memset(buf + 34, 0, 32);
    if (!is_domain) {
        SIGIL_GUARD_GOTO(hash_struct(c, buf + 34, json_string_value(primary), message, 0, "message"));
    }
    sigil_keccak256(digest, buf, is_domain ? 34 : 66);
    if (domain_sep != NULL) {
        memcpy(domain_sep, buf + 2, 32);
    }
    if (msg_hash != NULL) {
        memcpy(msg_hash, buf + 34, 32);
    }
    ret = sigil_ok();
out:
    json_decref(tcopy);
    free(c);
    return ret;
}

sigil_result sigil_eip712_hash_json(uint8_t digest[32], const char *json, size_t len)
{
    json_t *doc = NULL;
    SIGIL_GUARD(sigil_json_parse(&doc, json, len, SIGIL_EIP712_MAX_JSON));
    sigil_result r = sigil_eip712_hash(digest, NULL, NULL, doc);
    json_decref(doc);
    return r;
}

sigil_result sigil_eip712_sign(struct sigil_secp256k1_sig *out, const sigil_secp256k1_sk *sk, const json_t *doc)
{
    uint8_t h[32];
    SIGIL_GUARD(sigil_eip712_hash(h, NULL, NULL, doc));
    return sigil_secp256k1_sign(out, sk, h);
}
