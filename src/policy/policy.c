/* The wallet policy engine: the rules-file parser (strict, bounded, errors naming the JSON path),
 * key binding, the stateless checks and the approval digest. The format and the meaning of every
 * rule are in docs/wallet.md ("Policy rules"); policy.h has the contract.
 *
 * A parsed file is immutable: address lists are sorted arrays searched with bsearch, so a check
 * costs a few comparisons per rule and no allocation, and any number of threads may share it. */
#include "policy/policy.h"

#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/json.h"
#include "crypto/keccak.h"
#include "policy/internal.h"
#include "policy/wei.h"

#define GAS_PER_BLOB          131072u /* EIP-4844 */
#define MAX_APPROVALS_CHECKED 256u    /* approvals examined per request (each costs a recovery) */
#define MAX_DOMAIN_STRING     256u
#define WINDOW_MIN_S          60u
#define WINDOW_MAX_S          (366u * 86400u)
#define WINDOW_NAME_MAX       32u
#define GROUP_NAME_MAX        64u
#define PATH_LEN              160

/* Formats a JSON path for error messages; a path longer than the buffer is cut (it only names the
 * place of an error). A function rather than snprintf so that gcc's truncation analysis does not
 * treat the deliberate cut as an error. */
__attribute__((format(printf, 3, 4))) static void path_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

struct addr_set {
    uint8_t (*v)[20]; /* sorted, unique */
    size_t n;
};

struct sel_rule {
    bool any_dest; /* the "*" entry */
    uint8_t dest[20];
    uint32_t *sels; /* sorted, unique; big-endian value of the 4 bytes */
    size_t n;
};

struct dom_rule {
    char *name, *version; /* NULL when not given */
    pw_t chain;
    uint8_t vc[20];
    uint8_t salt[32];
    bool has_chain, has_vc, has_salt;
};

struct group {
    char name[GROUP_NAME_MAX + 1];
    struct addr_set members;
};

struct pol {
    /* binding */
    struct addr_set keys;
    size_t *groups; /* indexes into sigil_policy.groups */
    size_t ngroups;
    /* rules */
    uint64_t *chains; /* sorted, unique */
    size_t nchains;
    struct addr_set allow, deny;
    pw_t max_value;
    struct sigil_spend_window windows[SIGIL_POLICY_MAX_WINDOWS];
    size_t nwindows;
    struct sel_rule *sel;
    size_t nsel;
    pw_t max_fee_per_gas, max_prio, max_fee;
    uint64_t max_gas;
    struct dom_rule *domains;
    size_t ndomains;
    pw_t above;
    uint8_t (*approvers)[20];
    size_t napprovers;
    unsigned required;
    char name[SIGIL_POLICY_NAME_LEN];
    bool star;
    bool has_chains, has_allow, contract_creation, has_max_value, count_fees, has_selectors;
    bool has_max_fee_per_gas, has_max_prio, has_max_gas, has_max_fee;
    bool personal_sign, typed_data, authorizations, raw_sign;
    bool has_domains, has_approvals, has_above;
};

struct sigil_policy {
    uint8_t hash[32];
    struct group *groups;
    size_t ngroups;
    struct pol *pols;
    size_t npols;
};

/* ---- the default policy: everything typed, no raw signing ---- */

static struct pol default_pol = {
    .name = "default",
    .star = true,
    .contract_creation = true,
    .personal_sign = true,
    .typed_data = true,
    .authorizations = true,
    .raw_sign = false,
};
static const struct sigil_policy default_policy = {.pols = &default_pol, .npols = 1};

const struct sigil_policy *sigil_policy_default(void) { return &default_policy; }

/* ---- small helpers ---- */

static int cmp_addr(const void *a, const void *b) { return memcmp(a, b, 20); }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static bool set_has(const struct addr_set *s, const uint8_t a[20])
{
    return s->n > 0 && bsearch(a, s->v, s->n, 20, cmp_addr) != NULL;
}

static bool chain_allowed(const struct pol *p, uint64_t id)
{
    return p->nchains > 0 && bsearch(&id, p->chains, p->nchains, sizeof *p->chains, cmp_u64) != NULL;
}

static bool chain_allowed_wide(const struct pol *p, pw_t id)
{
    if (id.l[1] != 0 || id.l[2] != 0 || id.l[3] != 0) {
        return false;
    }
    return chain_allowed(p, id.l[0]);
}

static char *addr_str(char out[43], const uint8_t a[20])
{
    sigil_eip55_encode(out, a);
    return out;
}

/* ---- parsing ---- */

/* perr(path, fmt, ...): SIGIL_ERR_PARSE with a detail naming the JSON path. A macro around a void
 * variadic function, so the analyzer sees the result is never OK (it does not inline variadics). */
static void perr_detail(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr_detail(const char *path, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sigil_error_set_detail("rules file: %s: %s", path, msg);
}
#define perr(path, ...)                                                                                                \
    __extension__({                                                                                                    \
        perr_detail((path), __VA_ARGS__);                                                                              \
        sigil_error(SIGIL_ERR_PARSE);                                                                                  \
    })

static sigil_result only_members(const json_t *obj, const char *path, const char *const *allowed, size_t n)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < n && !ok; i++) {
            ok = strcmp(key, allowed[i]) == 0;
        }
        if (!ok) {
            return perr(path, "unknown member \"%.40s\"", key);
        }
    }
    return sigil_ok();
}

static sigil_result want_object(const json_t *v, const char *path)
{
    return json_is_object(v) ? sigil_ok() : perr(path, "must be an object");
}

static sigil_result want_array(const json_t *v, const char *path, size_t min, size_t max)
{
    if (!json_is_array(v)) {
        return perr(path, "must be an array");
    }
    size_t n = json_array_size(v);
    if (n < min) {
        return perr(path, "must have at least %zu entr%s", min, min == 1 ? "y" : "ies");
    }
    if (n > max) {
        return perr(path, "has %zu entries, at most %zu allowed", n, max);
    }
    return sigil_ok();
}

static sigil_result get_bool(bool *out, const json_t *v, const char *path)
{
    if (!json_is_boolean(v)) {
        return perr(path, "must be true or false");
    }
    *out = json_is_true(v);
    return sigil_ok();
}

static sigil_result get_int(uint64_t *out, const json_t *v, const char *path, uint64_t min, uint64_t max)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min ||
        (uint64_t)json_integer_value(v) > max) {
        return perr(path, "must be an integer from %llu to %llu", (unsigned long long)min, (unsigned long long)max);
    }
    *out = (uint64_t)json_integer_value(v);
    return sigil_ok();
}

static sigil_result get_addr(uint8_t out[20], const json_t *v, const char *path)
{
    if (!json_is_string(v) || json_string_length(v) != 42 ||
        !sigil_is_ok(sigil_eip55_parse(out, json_string_value(v)))) {
        return perr(path, "must be an address (0x and 40 hex digits, EIP-55 checksum when mixed case)");
    }
    return sigil_ok();
}

/* A decimal string, or a 0x hex quantity as the JSON-RPC ones (sigil_eth1_parse_quantity: 1..64
 * digits, no leading zeros). */
static bool parse_amount(pw_t *out, const char *s)
{
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
        return pw_parse_dec(out, s);
    }
    sigil_u256 q;
    if (!sigil_is_ok(sigil_eth1_parse_quantity(&q, s, "amount"))) {
        sigil_error_clear(); /* the callers report their own error, or none */
        return false;
    }
    *out = pw_from_be(q.b);
    return true;
}

static sigil_result get_amount(pw_t *out, const json_t *v, const char *path)
{
    if (!json_is_string(v) || json_string_length(v) > 80 || !parse_amount(out, json_string_value(v))) {
        return perr(path, "must be an amount in wei: a decimal string or a 0x hex string without leading zeros, "
                          "at most 2^256-1");
    }
    return sigil_ok();
}

/* "90m", "24h", "7d", "3600s", "3600" or a JSON integer of seconds; within [60 s, 366 d]. */
static sigil_result get_window(uint64_t *out, const json_t *v, const char *path)
{
    uint64_t secs = 0;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0) {
            return perr(path, "must not be negative");
        }
        secs = (uint64_t)json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s), digits = n;
        uint64_t mult = 1;
        if (n > 0) {
            switch (s[n - 1]) {
            case 's':
                digits = n - 1;
                break;
            case 'm':
                digits = n - 1;
                mult = 60;
                break;
            case 'h':
                digits = n - 1;
                mult = 3600;
                break;
            case 'd':
                digits = n - 1;
                mult = 86400;
                break;
            default:
                break;
            }
        }
        uint64_t q;
        if (digits == 0 || digits > 12 || !sigil_is_ok(sigil_parse_u64(&q, s, digits))) {
            sigil_error_clear();
            return perr(path, "must be a duration such as \"90m\", \"24h\", \"7d\" or a number of seconds");
        }
        secs = q * mult;
    } else {
        return perr(path, "must be a duration such as \"24h\" or a number of seconds");
    }
    if (secs < WINDOW_MIN_S || secs > WINDOW_MAX_S) {
        return perr(path, "window of %llu s is outside [60 s, 366 d]", (unsigned long long)secs);
    }
    *out = secs;
    return sigil_ok();
}

static bool name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.')) {
            return false;
        }
    }
    return true;
}

static sigil_result addr_list(struct addr_set *out, const json_t *arr, const char *path, size_t min, size_t max)
{
    char p[PATH_LEN];
    SIGIL_GUARD(want_array(arr, path, min, max));
    size_t n = json_array_size(arr);
    out->n = 0;
    out->v = calloc(n ? n : 1, 20);
    SIGIL_ENSURE(out->v != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        path_fmt(p, sizeof p, "%s[%zu]", path, i);
        SIGIL_GUARD(get_addr(out->v[i], json_array_get(arr, i), p));
    }
    out->n = n;
    qsort(out->v, n, 20, cmp_addr);
    for (size_t i = 1; i < n; i++) {
        if (memcmp(out->v[i - 1], out->v[i], 20) == 0) {
            char a[43];
            return perr(path, "lists %s more than once", addr_str(a, out->v[i]));
        }
    }
    return sigil_ok();
}

static sigil_result parse_groups(struct sigil_policy *p, const json_t *g)
{
    SIGIL_GUARD(want_object(g, "groups"));
    size_t n = json_object_size(g);
    if (n > SIGIL_POLICY_MAX_LIST) {
        return perr("groups", "has %zu groups, at most %u allowed", n, SIGIL_POLICY_MAX_LIST);
    }
    p->groups = calloc(n ? n : 1, sizeof *p->groups);
    SIGIL_ENSURE(p->groups != NULL, SIGIL_ERR_NOMEM);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)g, key, v)
    {
        char path[PATH_LEN];
        path_fmt(path, sizeof path, "groups.%.64s", key);
        if (!name_ok(key, GROUP_NAME_MAX)) {
            return perr(path, "group names are 1 to 64 characters of A-Z a-z 0-9 _ - .");
        }
        struct group *gr = &p->groups[p->ngroups++];
        (void)snprintf(gr->name, sizeof gr->name, "%s", key);
        SIGIL_GUARD(addr_list(&gr->members, v, path, 1, SIGIL_POLICY_MAX_LIST));
    }
    return sigil_ok();
}

static sigil_result parse_keys(struct sigil_policy *p, struct pol *pol, const json_t *keys, const char *path,
                               const struct pol **star_owner)
{
    char ep[PATH_LEN];
    if (json_is_string(keys) && strcmp(json_string_value(keys), "*") == 0) {
        pol->star = true;
    } else {
        SIGIL_GUARD(want_array(keys, path, 1, SIGIL_POLICY_MAX_LIST));
        size_t n = json_array_size(keys);
        pol->keys.v = calloc(n, 20);
        pol->groups = calloc(n, sizeof *pol->groups);
        SIGIL_ENSURE(pol->keys.v != NULL && pol->groups != NULL, SIGIL_ERR_NOMEM);
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(keys, i);
            path_fmt(ep, sizeof ep, "%s[%zu]", path, i);
            const char *s = json_string_value(e);
            if (s != NULL && strcmp(s, "*") == 0) {
                if (pol->star) {
                    return perr(ep, "\"*\" is listed more than once");
                }
                pol->star = true;
            } else if (s != NULL && strncmp(s, "group:", 6) == 0) {
                size_t gi = 0;
                while (gi < p->ngroups && strcmp(p->groups[gi].name, s + 6) != 0) {
                    gi++;
                }
                if (gi == p->ngroups) {
                    return perr(ep, "names the undefined group \"%.64s\"", s + 6);
                }
                for (size_t j = 0; j < pol->ngroups; j++) {
                    if (pol->groups[j] == gi) {
                        return perr(ep, "group \"%s\" is listed more than once", p->groups[gi].name);
                    }
                }
                pol->groups[pol->ngroups++] = gi;
            } else {
                if (s == NULL || json_string_length(e) != 42 ||
                    !sigil_is_ok(sigil_eip55_parse(pol->keys.v[pol->keys.n], s))) {
                    return perr(ep, "must be an address, \"group:NAME\" or \"*\"");
                }
                pol->keys.n++;
            }
        }
        qsort(pol->keys.v, pol->keys.n, 20, cmp_addr);
        for (size_t i = 1; i < pol->keys.n; i++) {
            if (memcmp(pol->keys.v[i - 1], pol->keys.v[i], 20) == 0) {
                char a[43];
                return perr(path, "lists %s more than once", addr_str(a, pol->keys.v[i]));
            }
        }
    }
    if (pol->star) {
        if (*star_owner != NULL) {
            return perr(path, "binds \"*\", which policy \"%s\" already binds", (*star_owner)->name);
        }
        *star_owner = pol;
    }
    return sigil_ok();
}

static sigil_result parse_chains(struct pol *pol, const json_t *arr, const char *path)
{
    char ep[PATH_LEN];
    SIGIL_GUARD(want_array(arr, path, 0, SIGIL_POLICY_MAX_LIST));
    size_t n = json_array_size(arr);
    pol->has_chains = true;
    pol->chains = calloc(n ? n : 1, sizeof *pol->chains);
    SIGIL_ENSURE(pol->chains != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        path_fmt(ep, sizeof ep, "%s[%zu]", path, i);
        SIGIL_GUARD(get_int(&pol->chains[i], json_array_get(arr, i), ep, 1, (uint64_t)INT64_MAX));
    }
    pol->nchains = n;
    qsort(pol->chains, n, sizeof *pol->chains, cmp_u64);
    for (size_t i = 1; i < n; i++) {
        if (pol->chains[i - 1] == pol->chains[i]) {
            return perr(path, "lists chain id %llu more than once", (unsigned long long)pol->chains[i]);
        }
    }
    return sigil_ok();
}

static sigil_result parse_to(struct pol *pol, const json_t *to, const char *path)
{
    static const char *const members[] = {"allow", "deny"};
    char ep[PATH_LEN];
    SIGIL_GUARD(want_object(to, path));
    SIGIL_GUARD(only_members(to, path, members, 2));
    const json_t *allow = json_object_get(to, "allow"), *deny = json_object_get(to, "deny");
    if (allow != NULL) {
        path_fmt(ep, sizeof ep, "%s.allow", path);
        SIGIL_GUARD(addr_list(&pol->allow, allow, ep, 0, SIGIL_POLICY_MAX_LIST));
        pol->has_allow = true;
    }
    if (deny != NULL) {
        path_fmt(ep, sizeof ep, "%s.deny", path);
        SIGIL_GUARD(addr_list(&pol->deny, deny, ep, 0, SIGIL_POLICY_MAX_LIST));
    }
    return sigil_ok();
}

static sigil_result parse_windows(struct pol *pol, const json_t *arr, const char *path)
{
    static const char *const members[] = {"name", "window", "max_wei"};
    char ep[PATH_LEN], mp[PATH_LEN];
    SIGIL_GUARD(want_array(arr, path, 0, SIGIL_POLICY_MAX_WINDOWS));
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *w = json_array_get(arr, i);
        path_fmt(ep, sizeof ep, "%s[%zu]", path, i);
        SIGIL_GUARD(want_object(w, ep));
        SIGIL_GUARD(only_members(w, ep, members, 3));
        const json_t *name = json_object_get(w, "name"), *win = json_object_get(w, "window"),
                     *max = json_object_get(w, "max_wei");
        path_fmt(mp, sizeof mp, "%s.name", ep);
        if (!json_is_string(name) || !name_ok(json_string_value(name), WINDOW_NAME_MAX)) {
            return perr(mp, "must be 1 to 32 characters of A-Z a-z 0-9 _ - .");
        }
        for (size_t j = 0; j < pol->nwindows; j++) {
            if (strcmp(pol->windows[j].rule + 6, json_string_value(name)) == 0) {
                return perr(mp, "spend window \"%s\" is defined more than once", json_string_value(name));
            }
        }
        if (win == NULL || max == NULL) {
            return perr(ep, "needs \"name\", \"window\" and \"max_wei\"");
        }
        struct sigil_spend_window *sw = &pol->windows[pol->nwindows];
        (void)snprintf(sw->rule, sizeof sw->rule, "spend.%s", json_string_value(name));
        path_fmt(mp, sizeof mp, "%s.window", ep);
        SIGIL_GUARD(get_window(&sw->window_s, win, mp));
        path_fmt(mp, sizeof mp, "%s.max_wei", ep);
        pw_t m;
        SIGIL_GUARD(get_amount(&m, max, mp));
        pw_to_be(sw->max_wei.b, m);
        pol->nwindows++;
    }
    return sigil_ok();
}

static sigil_result parse_selector(uint32_t *out, const json_t *v, const char *path)
{
    uint8_t b[4];
    const char *s = json_string_value(v);
    if (s == NULL || strlen(s) != 10 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') ||
        !sigil_is_ok(sigil_hex_decode_exact(b, 4, s, 10))) {
        sigil_error_clear();
        return perr(path, "must be a 4-byte function selector (0x and 8 hex digits)");
    }
    *out = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    return sigil_ok();
}

static sigil_result parse_selectors(struct pol *pol, const json_t *obj, const char *path)
{
    char ep[PATH_LEN], sp[PATH_LEN];
    SIGIL_GUARD(want_object(obj, path));
    size_t n = json_object_size(obj);
    if (n > SIGIL_POLICY_MAX_LIST) {
        return perr(path, "has %zu destinations, at most %u allowed", n, SIGIL_POLICY_MAX_LIST);
    }
    pol->has_selectors = true;
    pol->sel = calloc(n ? n : 1, sizeof *pol->sel);
    SIGIL_ENSURE(pol->sel != NULL, SIGIL_ERR_NOMEM);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        struct sel_rule *r = &pol->sel[pol->nsel];
        path_fmt(ep, sizeof ep, "%s[\"%.42s\"]", path, key);
        if (strcmp(key, "*") == 0) {
            r->any_dest = true;
        } else if (strlen(key) != 42 || !sigil_is_ok(sigil_eip55_parse(r->dest, key))) {
            return perr(ep, "keys must be addresses or \"*\"");
        }
        for (size_t j = 0; j < pol->nsel; j++) {
            if (pol->sel[j].any_dest == r->any_dest && (r->any_dest || memcmp(pol->sel[j].dest, r->dest, 20) == 0)) {
                return perr(ep, "destination is listed more than once");
            }
        }
        SIGIL_GUARD(want_array(v, ep, 0, SIGIL_POLICY_MAX_LIST));
        size_t m = json_array_size(v);
        r->sels = calloc(m ? m : 1, sizeof *r->sels);
        SIGIL_ENSURE(r->sels != NULL, SIGIL_ERR_NOMEM);
        pol->nsel++;
        for (size_t i = 0; i < m; i++) {
            path_fmt(sp, sizeof sp, "%s[%zu]", ep, i);
            SIGIL_GUARD(parse_selector(&r->sels[i], json_array_get(v, i), sp));
        }
        r->n = m;
        qsort(r->sels, m, sizeof *r->sels, cmp_u32);
        for (size_t i = 1; i < m; i++) {
            if (r->sels[i - 1] == r->sels[i]) {
                return perr(ep, "lists selector 0x%08x more than once", r->sels[i]);
            }
        }
    }
    return sigil_ok();
}

static sigil_result parse_fees(struct pol *pol, const json_t *obj, const char *path)
{
    static const char *const members[] = {"max_fee_per_gas_wei", "max_priority_fee_per_gas_wei", "max_gas",
                                          "max_fee_wei"};
    char ep[PATH_LEN];
    SIGIL_GUARD(want_object(obj, path));
    SIGIL_GUARD(only_members(obj, path, members, 4));
    const json_t *v;
    if ((v = json_object_get(obj, "max_fee_per_gas_wei")) != NULL) {
        path_fmt(ep, sizeof ep, "%s.max_fee_per_gas_wei", path);
        SIGIL_GUARD(get_amount(&pol->max_fee_per_gas, v, ep));
        pol->has_max_fee_per_gas = true;
    }
    if ((v = json_object_get(obj, "max_priority_fee_per_gas_wei")) != NULL) {
        path_fmt(ep, sizeof ep, "%s.max_priority_fee_per_gas_wei", path);
        SIGIL_GUARD(get_amount(&pol->max_prio, v, ep));
        pol->has_max_prio = true;
    }
    if ((v = json_object_get(obj, "max_gas")) != NULL) {
        path_fmt(ep, sizeof ep, "%s.max_gas", path);
        SIGIL_GUARD(get_int(&pol->max_gas, v, ep, 1, (uint64_t)INT64_MAX));
        pol->has_max_gas = true;
    }
    if ((v = json_object_get(obj, "max_fee_wei")) != NULL) {
        path_fmt(ep, sizeof ep, "%s.max_fee_wei", path);
        SIGIL_GUARD(get_amount(&pol->max_fee, v, ep));
        pol->has_max_fee = true;
    }
    return sigil_ok();
}

static sigil_result get_domain_string(char **out, const json_t *v, const char *path)
{
    if (!json_is_string(v) || json_string_length(v) > MAX_DOMAIN_STRING ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return perr(path, "must be a string of at most %u bytes", MAX_DOMAIN_STRING);
    }
    *out = strdup(json_string_value(v));
    SIGIL_ENSURE(*out != NULL, SIGIL_ERR_NOMEM);
    return sigil_ok();
}

static sigil_result parse_domains(struct pol *pol, const json_t *arr, const char *path)
{
    static const char *const members[] = {"name", "version", "chainId", "verifyingContract", "salt"};
    char ep[PATH_LEN], mp[PATH_LEN];
    SIGIL_GUARD(want_array(arr, path, 0, SIGIL_POLICY_MAX_LIST));
    size_t n = json_array_size(arr);
    pol->has_domains = true;
    pol->domains = calloc(n ? n : 1, sizeof *pol->domains);
    SIGIL_ENSURE(pol->domains != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i), *v;
        struct dom_rule *d = &pol->domains[i];
        pol->ndomains = i + 1;
        path_fmt(ep, sizeof ep, "%s[%zu]", path, i);
        SIGIL_GUARD(want_object(e, ep));
        SIGIL_GUARD(only_members(e, ep, members, 5));
        if (json_object_size(e) == 0) {
            return perr(ep, "an empty entry would match every domain (omit eip712_domains instead)");
        }
        if ((v = json_object_get(e, "name")) != NULL) {
            path_fmt(mp, sizeof mp, "%s.name", ep);
            SIGIL_GUARD(get_domain_string(&d->name, v, mp));
        }
        if ((v = json_object_get(e, "version")) != NULL) {
            path_fmt(mp, sizeof mp, "%s.version", ep);
            SIGIL_GUARD(get_domain_string(&d->version, v, mp));
        }
        if ((v = json_object_get(e, "chainId")) != NULL) {
            path_fmt(mp, sizeof mp, "%s.chainId", ep);
            if (json_is_integer(v)) {
                uint64_t c;
                SIGIL_GUARD(get_int(&c, v, mp, 0, (uint64_t)INT64_MAX));
                d->chain = pw_u64(c);
            } else {
                SIGIL_GUARD(get_amount(&d->chain, v, mp));
            }
            d->has_chain = true;
        }
        if ((v = json_object_get(e, "verifyingContract")) != NULL) {
            path_fmt(mp, sizeof mp, "%s.verifyingContract", ep);
            SIGIL_GUARD(get_addr(d->vc, v, mp));
            d->has_vc = true;
        }
        if ((v = json_object_get(e, "salt")) != NULL) {
            path_fmt(mp, sizeof mp, "%s.salt", ep);
            const char *s = json_string_value(v);
            if (s == NULL || strlen(s) != 66 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') ||
                !sigil_is_ok(sigil_hex_decode_exact(d->salt, 32, s, 66))) {
                sigil_error_clear();
                return perr(mp, "must be 0x and 64 hex digits");
            }
            d->has_salt = true;
        }
    }
    return sigil_ok();
}

static sigil_result parse_approvals(struct pol *pol, const json_t *obj, const char *path)
{
    static const char *const members[] = {"above_wei", "required", "approvers"};
    char ep[PATH_LEN];
    SIGIL_GUARD(want_object(obj, path));
    SIGIL_GUARD(only_members(obj, path, members, 3));
    const json_t *above = json_object_get(obj, "above_wei"), *req = json_object_get(obj, "required"),
                 *appr = json_object_get(obj, "approvers");
    if (req == NULL || appr == NULL) {
        return perr(path, "needs \"required\" and \"approvers\"");
    }
    if (above != NULL) {
        path_fmt(ep, sizeof ep, "%s.above_wei", path);
        SIGIL_GUARD(get_amount(&pol->above, above, ep));
        pol->has_above = true;
    }
    struct addr_set s = {0};
    path_fmt(ep, sizeof ep, "%s.approvers", path);
    sigil_result r = addr_list(&s, appr, ep, 1, SIGIL_POLICY_MAX_APPROVERS);
    pol->approvers = s.v;
    pol->napprovers = s.n;
    SIGIL_GUARD(r);
    uint64_t m;
    path_fmt(ep, sizeof ep, "%s.required", path);
    SIGIL_GUARD(get_int(&m, req, ep, 1, SIGIL_POLICY_MAX_APPROVERS));
    if (m > pol->napprovers) {
        return perr(ep, "requires %llu approvals but lists only %zu approvers", (unsigned long long)m, pol->napprovers);
    }
    pol->required = (unsigned)m;
    pol->has_approvals = true;
    return sigil_ok();
}

static sigil_result parse_policy(struct sigil_policy *p, size_t idx, const json_t *o, const struct pol **star_owner)
{
    static const char *const members[] = {
        "name",          "description",    "keys",           "chain_ids", "to",       "contract_creation",
        "max_value_wei", "spend_windows",  "count_fees",     "selectors", "fees",     "personal_sign",
        "typed_data",    "eip712_domains", "authorizations", "raw_sign",  "approvals"};
    char path[PATH_LEN], mp[PATH_LEN];
    struct pol *pol = &p->pols[idx];
    path_fmt(path, sizeof path, "policies[%zu]", idx);
    SIGIL_GUARD(want_object(o, path));
    SIGIL_GUARD(only_members(o, path, members, sizeof members / sizeof *members));
    const json_t *v = json_object_get(o, "name");
    path_fmt(mp, sizeof mp, "%s.name", path);
    if (!json_is_string(v) || !name_ok(json_string_value(v), SIGIL_POLICY_NAME_LEN - 1)) {
        return perr(mp, "must be 1 to 63 characters of A-Z a-z 0-9 _ - .");
    }
    for (size_t j = 0; j < idx; j++) {
        if (strcmp(p->pols[j].name, json_string_value(v)) == 0) {
            return perr(mp, "policy \"%s\" is defined more than once", json_string_value(v));
        }
    }
    (void)snprintf(pol->name, sizeof pol->name, "%s", json_string_value(v));
    if ((v = json_object_get(o, "description")) != NULL && (!json_is_string(v) || json_string_length(v) > 1024)) {
        path_fmt(mp, sizeof mp, "%s.description", path);
        return perr(mp, "must be a string of at most 1024 bytes");
    }
    if ((v = json_object_get(o, "keys")) == NULL) {
        return perr(path, "needs \"keys\" (addresses, \"group:NAME\" or \"*\")");
    }
    path_fmt(mp, sizeof mp, "%s.keys", path);
    SIGIL_GUARD(parse_keys(p, pol, v, mp, star_owner));

#define MEMBER(key, call)                                                                                              \
    if ((v = json_object_get(o, key)) != NULL) {                                                                       \
        path_fmt(mp, sizeof mp, "%s." key, path);                                                                      \
        SIGIL_GUARD(call);                                                                                             \
    }
    MEMBER("chain_ids", parse_chains(pol, v, mp))
    MEMBER("to", parse_to(pol, v, mp))
    MEMBER("contract_creation", get_bool(&pol->contract_creation, v, mp))
    if ((v = json_object_get(o, "max_value_wei")) != NULL) {
        path_fmt(mp, sizeof mp, "%s.max_value_wei", path);
        SIGIL_GUARD(get_amount(&pol->max_value, v, mp));
        pol->has_max_value = true;
    }
    MEMBER("spend_windows", parse_windows(pol, v, mp))
    MEMBER("count_fees", get_bool(&pol->count_fees, v, mp))
    MEMBER("selectors", parse_selectors(pol, v, mp))
    MEMBER("fees", parse_fees(pol, v, mp))
    MEMBER("personal_sign", get_bool(&pol->personal_sign, v, mp))
    MEMBER("typed_data", get_bool(&pol->typed_data, v, mp))
    MEMBER("eip712_domains", parse_domains(pol, v, mp))
    MEMBER("authorizations", get_bool(&pol->authorizations, v, mp))
    MEMBER("raw_sign", get_bool(&pol->raw_sign, v, mp))
    MEMBER("approvals", parse_approvals(pol, v, mp))
#undef MEMBER
    return sigil_ok();
}

static sigil_result parse_doc(struct sigil_policy *p, const json_t *root)
{
    static const char *const members[] = {"version", "groups", "policies"};
    if (!json_is_object(root)) {
        return perr("(top level)", "must be an object");
    }
    SIGIL_GUARD(only_members(root, "(top level)", members, 3));
    const json_t *v = json_object_get(root, "version");
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        return perr("version", "must be 1");
    }
    if ((v = json_object_get(root, "groups")) != NULL) {
        SIGIL_GUARD(parse_groups(p, v));
    }
    v = json_object_get(root, "policies");
    if (v == NULL) {
        return perr("(top level)", "needs \"policies\"");
    }
    SIGIL_GUARD(want_array(v, "policies", 0, SIGIL_POLICY_MAX_POLICIES));
    size_t n = json_array_size(v);
    p->pols = calloc(n ? n : 1, sizeof *p->pols);
    SIGIL_ENSURE(p->pols != NULL, SIGIL_ERR_NOMEM);
    const struct pol *star_owner = NULL;
    for (size_t i = 0; i < n; i++) {
        p->npols = i + 1;
        SIGIL_GUARD(parse_policy(p, i, json_array_get(v, i), &star_owner));
    }
    return sigil_ok();
}

sigil_result sigil_policy_parse(struct sigil_policy **out, const char *json, size_t len)
{
    sigil_result ret;
    json_t *root = NULL;
    struct sigil_policy *p = NULL;
    if (out == NULL || (json == NULL && len > 0)) {
        return sigil_errorf(SIGIL_ERR_ARG, "no rules file given");
    }
    *out = NULL;
    if (len > SIGIL_POLICY_MAX_FILE) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "rules file is %zu bytes, at most %u allowed", len,
                            SIGIL_POLICY_MAX_FILE);
    }
    ret = sigil_json_parse(&root, json, len, SIGIL_POLICY_MAX_FILE);
    if (!sigil_is_ok(ret)) {
        if (ret.code == SIGIL_ERR_PARSE) {
            char d[200];
            (void)snprintf(d, sizeof d, "%s", sigil_error_detail());
            return sigil_errorf(SIGIL_ERR_PARSE, "rules file: %s", d);
        }
        return ret;
    }
    p = calloc(1, sizeof *p);
    SIGIL_ENSURE_GOTO(p != NULL, SIGIL_ERR_NOMEM);
    SIGIL_GUARD_GOTO(parse_doc(p, root));
    SHA256((const unsigned char *)json, len, p->hash);
    *out = p;
    p = NULL;
    ret = sigil_ok();
out:
    json_decref(root);
    sigil_policy_free(p);
    return ret;
}

void sigil_policy_free(struct sigil_policy *p)
{
    if (p == NULL || p == &default_policy) {
        return;
    }
    for (size_t i = 0; i < p->ngroups; i++) {
        free(p->groups[i].members.v);
    }
    free(p->groups);
    for (size_t i = 0; i < p->npols; i++) {
        struct pol *pol = &p->pols[i];
        free(pol->keys.v);
        free(pol->groups);
        free(pol->chains);
        free(pol->allow.v);
        free(pol->deny.v);
        for (size_t j = 0; j < pol->nsel; j++) {
            free(pol->sel[j].sels);
        }
        free(pol->sel);
        for (size_t j = 0; j < pol->ndomains; j++) {
            free(pol->domains[j].name);
            free(pol->domains[j].version);
        }
        free(pol->domains);
        free(pol->approvers);
    }
    free(p->pols);
    free(p);
}

void sigil_policy_hash(const struct sigil_policy *p, uint8_t out[32])
{
    memcpy(out, p != NULL ? p->hash : default_policy.hash, 32);
}

/* ---- binding ---- */

static const struct pol *bound(const struct sigil_policy *p, const uint8_t addr[20])
{
    const struct pol *star = NULL;
    for (size_t i = 0; i < p->npols; i++) {
        const struct pol *pol = &p->pols[i];
        if (set_has(&pol->keys, addr)) {
            return pol;
        }
        for (size_t g = 0; g < pol->ngroups; g++) {
            if (set_has(&p->groups[pol->groups[g]].members, addr)) {
                return pol;
            }
        }
        if (pol->star && star == NULL) {
            star = pol;
        }
    }
    return star;
}

const char *sigil_policy_name_for(const struct sigil_policy *p, const uint8_t addr[20])
{
    const struct pol *pol = bound(p, addr);
    return pol != NULL ? pol->name : NULL;
}

/* ---- the approval digest ---- */

void sigil_policy_approval_digest(uint8_t out[32], const uint8_t account[20], const uint8_t digest[32])
{
    static const char domain_type[] = "EIP712Domain(string name,string version)";
    static const char approval_type[] = "Approval(address account,bytes32 digest)";
    static const char name[] = "Sigil approval";
    uint8_t buf[96], msg[66];
    /* domain separator: keccak(typeHash || keccak(name) || keccak(version)) */
    sigil_keccak256(buf, (const uint8_t *)domain_type, sizeof domain_type - 1);
    sigil_keccak256(buf + 32, (const uint8_t *)name, sizeof name - 1);
    sigil_keccak256(buf + 64, (const uint8_t *)"1", 1);
    msg[0] = 0x19;
    msg[1] = 0x01;
    sigil_keccak256(msg + 2, buf, 96);
    /* hashStruct(Approval): keccak(typeHash || uint256(account) || digest) */
    sigil_keccak256(buf, (const uint8_t *)approval_type, sizeof approval_type - 1);
    memset(buf + 32, 0, 12);
    memcpy(buf + 44, account, 20);
    memcpy(buf + 64, digest, 32);
    sigil_keccak256(msg + 34, buf, 96);
    sigil_keccak256(out, msg, sizeof msg);
}

/* ---- checks ---- */

static bool refuse(struct sigil_policy_decision *d, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool refuse(struct sigil_policy_decision *d, const char *rule, const char *fmt, ...)
{
    d->allow = false;
    (void)snprintf(d->rule, sizeof d->rule, "%s", rule);
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
    return true;
}

static pw_t tx_max_fee_per_gas(const struct sigil_eth1_tx *tx)
{
    return pw_from_be(tx->type <= 1 ? tx->gas_price.b : tx->max_fee.b);
}

static pw_t tx_max_fee_total(const struct sigil_eth1_tx *tx)
{
    pw_t total = pw_mul_u64_sat(tx_max_fee_per_gas(tx), tx->gas_limit);
    if (tx->type == 3 && tx->blob_hashes_len > 0) {
        pw_t blob = pw_mul_u64_sat(pw_from_be(tx->max_fee_per_blob_gas.b), GAS_PER_BLOB);
        total = pw_add_sat(total, pw_mul_u64_sat(blob, (uint64_t)tx->blob_hashes_len));
    }
    return total;
}

static bool selector_allowed(const struct pol *pol, const uint8_t to[20], uint32_t sel)
{
    for (size_t i = 0; i < pol->nsel; i++) {
        const struct sel_rule *r = &pol->sel[i];
        if ((r->any_dest || memcmp(r->dest, to, 20) == 0) && r->n > 0 &&
            bsearch(&sel, r->sels, r->n, sizeof *r->sels, cmp_u32) != NULL) {
            return true;
        }
    }
    return false;
}

static bool check_auth_chain(const struct pol *pol, const struct sigil_eth1_auth *a, size_t idx,
                             struct sigil_policy_decision *d)
{
    pw_t c = pw_from_be(a->chain_id.b);
    if (!pol->has_chains || chain_allowed_wide(pol, c)) {
        return false;
    }
    if (pw_is_zero(c)) {
        return refuse(d, "chain_id",
                      "authorization %zu has chain id 0 (valid on every chain), which a policy restricting chain IDs "
                      "does not allow",
                      idx);
    }
    char s[PW_DEC_MAX];
    return refuse(d, "chain_id", "authorization %zu is for chain id %s, which the policy does not allow", idx,
                  pw_format(s, c, 0));
}

/* True when refused (d filled in). */
static bool check_tx(const struct pol *pol, const struct sigil_eth1_tx *tx, struct sigil_policy_decision *d)
{
    char a[43], x[PW_DEC_MAX + 8], y[PW_DEC_MAX + 8];
    if (pol->has_chains) {
        if (tx->type == 0 && !tx->has_chain_id) {
            return refuse(d, "chain_id",
                          "a legacy transaction without an EIP-155 chain id is not allowed when the policy restricts "
                          "chain IDs");
        }
        if (!chain_allowed(pol, tx->chain_id)) {
            return refuse(d, "chain_id", "chain id %llu is not allowed by the policy",
                          (unsigned long long)tx->chain_id);
        }
    }
    if (!tx->has_to) {
        if (!pol->contract_creation) {
            return refuse(d, "contract_creation", "contract creation is not allowed by the policy");
        }
    } else {
        if (set_has(&pol->deny, tx->to)) {
            return refuse(d, "to.deny", "destination %s is on the policy's deny list", addr_str(a, tx->to));
        }
        if (pol->has_allow && !set_has(&pol->allow, tx->to)) {
            return refuse(d, "to.allow", "destination %s is not on the policy's allow list", addr_str(a, tx->to));
        }
    }
    pw_t value = pw_from_be(tx->value.b);
    if (pol->has_max_value && pw_cmp(value, pol->max_value) > 0) {
        return refuse(d, "value.max", "value %s exceeds the policy maximum of %s", pw_eth(x, value),
                      pw_eth(y, pol->max_value));
    }
    if (pol->has_selectors && tx->has_to && tx->data_len > 0) {
        if (tx->data_len < 4) {
            return refuse(d, "selector", "calldata of %zu bytes has no 4-byte function selector", tx->data_len);
        }
        uint32_t sel =
            ((uint32_t)tx->data[0] << 24) | ((uint32_t)tx->data[1] << 16) | ((uint32_t)tx->data[2] << 8) | tx->data[3];
        if (!selector_allowed(pol, tx->to, sel)) {
            return refuse(d, "selector", "function selector 0x%08x is not allowed for destination %s", sel,
                          addr_str(a, tx->to));
        }
    }
    pw_t fpg = tx_max_fee_per_gas(tx);
    if (pol->has_max_fee_per_gas && pw_cmp(fpg, pol->max_fee_per_gas) > 0) {
        return refuse(d, "fee.max_fee_per_gas", "max fee per gas %s exceeds the policy cap of %s", pw_gwei(x, fpg),
                      pw_gwei(y, pol->max_fee_per_gas));
    }
    /* a legacy / EIP-2930 gas price can all go to the block producer, so it counts as the tip cap too */
    pw_t prio = tx->type <= 1 ? fpg : pw_from_be(tx->max_priority_fee.b);
    if (pol->has_max_prio && pw_cmp(prio, pol->max_prio) > 0) {
        return refuse(d, "fee.max_priority_fee_per_gas", "max priority fee per gas %s exceeds the policy cap of %s",
                      pw_gwei(x, prio), pw_gwei(y, pol->max_prio));
    }
    if (pol->has_max_gas && tx->gas_limit > pol->max_gas) {
        return refuse(d, "fee.max_gas", "gas limit %llu exceeds the policy cap of %llu",
                      (unsigned long long)tx->gas_limit, (unsigned long long)pol->max_gas);
    }
    if (pol->has_max_fee) {
        pw_t total = tx_max_fee_total(tx);
        if (pw_cmp(total, pol->max_fee) > 0) {
            return refuse(d, "fee.max_fee", "maximum fee %s exceeds the policy cap of %s", pw_eth(x, total),
                          pw_eth(y, pol->max_fee));
        }
    }
    if (tx->auths_len > 0) {
        if (!pol->authorizations) {
            return refuse(d, "authorizations",
                          "the transaction carries %zu EIP-7702 authorization%s, which the policy does not allow",
                          tx->auths_len, tx->auths_len == 1 ? "" : "s");
        }
        for (size_t i = 0; i < tx->auths_len; i++) {
            if (check_auth_chain(pol, &tx->auths[i], i, d)) {
                return true;
            }
        }
    }
    return false;
}

/* A non-negative integer from a typed-data domain: JSON integer, decimal or 0x hex string. */
static bool domain_uint(pw_t *out, const json_t *v)
{
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0) {
            return false;
        }
        *out = pw_u64((uint64_t)json_integer_value(v));
        return true;
    }
    const char *s = json_string_value(v);
    if (s == NULL) {
        return false;
    }
    bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    const char *digits = hex ? s + 2 : s;
    while (digits[0] == '0' && digits[1] != '\0') {
        digits++; /* documents may pad ("0x01"); only the value matters here */
    }
    char buf[84];
    if (strlen(digits) > 78) {
        return false;
    }
    (void)snprintf(buf, sizeof buf, "%s%s", hex ? "0x" : "", digits);
    return parse_amount(out, buf);
}

static bool domain_bytes(uint8_t *out, size_t n, const json_t *v)
{
    const char *s = json_string_value(v);
    if (s == NULL || strlen(s) != 2 + 2 * n || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
        return false;
    }
    bool ok = sigil_hex_decode_digits_ct(out, s + 2, n) == 1;
    return ok;
}

static bool domain_string_eq(const json_t *v, const char *want)
{
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
           strcmp(json_string_value(v), want) == 0;
}

static bool domain_matches(const struct dom_rule *r, const json_t *dom)
{
    if (r->name != NULL && !domain_string_eq(json_object_get(dom, "name"), r->name)) {
        return false;
    }
    if (r->version != NULL && !domain_string_eq(json_object_get(dom, "version"), r->version)) {
        return false;
    }
    if (r->has_chain) {
        pw_t c;
        if (!domain_uint(&c, json_object_get(dom, "chainId")) || pw_cmp(c, r->chain) != 0) {
            return false;
        }
    }
    if (r->has_vc) {
        uint8_t vc[20];
        if (!domain_bytes(vc, 20, json_object_get(dom, "verifyingContract")) || memcmp(vc, r->vc, 20) != 0) {
            return false;
        }
    }
    if (r->has_salt) {
        uint8_t salt[32];
        if (!domain_bytes(salt, 32, json_object_get(dom, "salt")) || memcmp(salt, r->salt, 32) != 0) {
            return false;
        }
    }
    return true;
}

static bool check_typed(const struct pol *pol, const json_t *dom, struct sigil_policy_decision *d)
{
    if (!pol->typed_data) {
        return refuse(d, "typed_data", "the policy does not allow signing EIP-712 typed data");
    }
    /* No domain (or not an object): json_object_get finds nothing, as if every member were absent. */
    bool refused = false;
    if (pol->has_chains) {
        pw_t c;
        const json_t *cv = json_object_get(dom, "chainId");
        if (cv == NULL) {
            refused = refuse(d, "chain_id", "the typed data domain has no chainId, and the policy restricts chain IDs");
        } else if (!domain_uint(&c, cv) || !chain_allowed_wide(pol, c)) {
            char s[PW_DEC_MAX];
            refused = domain_uint(&c, cv)
                          ? refuse(d, "chain_id", "typed data for chain id %s is not allowed by the policy",
                                   pw_format(s, c, 0))
                          : refuse(d, "chain_id", "the typed data domain's chainId is not a number");
        }
    }
    if (!refused && pol->has_domains) {
        bool any = false;
        for (size_t i = 0; i < pol->ndomains && !any; i++) {
            any = domain_matches(&pol->domains[i], dom);
        }
        if (!any) {
            refused =
                refuse(d, "eip712.domain", "the typed data domain matches no entry of the policy's eip712_domains");
        }
    }
    return refused;
}

static unsigned count_approvals(const struct pol *pol, const struct sigil_policy_request *req)
{
    uint8_t digest[32];
    uint64_t seen = 0;
    unsigned valid = 0;
    sigil_policy_approval_digest(digest, req->account, req->digest);
    size_t n = req->napprovals < MAX_APPROVALS_CHECKED ? req->napprovals : MAX_APPROVALS_CHECKED;
    for (size_t i = 0; i < n; i++) {
        uint8_t who[20];
        if (!sigil_is_ok(sigil_secp256k1_recover_address(who, &req->approvals[i].sig, digest))) {
            sigil_error_clear();
            continue;
        }
        for (size_t j = 0; j < pol->napprovers; j++) {
            if (memcmp(pol->approvers[j], who, 20) == 0) {
                if ((seen & (UINT64_C(1) << j)) == 0) {
                    seen |= UINT64_C(1) << j;
                    valid++;
                }
                break;
            }
        }
    }
    return valid;
}

sigil_result sigil_policy_check(const struct sigil_policy *p, const struct sigil_policy_request *req,
                                struct sigil_policy_decision *d)
{
    if (p == NULL || req == NULL || d == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "policy check needs a policy, a request and a decision");
    }
    memset(d, 0, sizeof *d);
    if ((req->kind == SIGIL_POLICY_TX && req->tx == NULL) || (req->kind == SIGIL_POLICY_AUTH && req->auth == NULL) ||
        (req->napprovals > 0 && req->approvals == NULL) || (unsigned)req->kind > SIGIL_POLICY_AUTH) {
        return sigil_errorf(SIGIL_ERR_ARG, "policy request is incomplete for its kind");
    }
    const struct pol *pol = bound(p, req->account);
    if (pol == NULL) {
        char a[43];
        (void)refuse(d, "policy.unbound", "no policy in the rules file applies to account %s",
                     addr_str(a, req->account));
        return sigil_ok();
    }
    (void)snprintf(d->policy, sizeof d->policy, "%s", pol->name);
    bool refused = false;
    bool value_known = false;
    pw_t value = pw_u64(0);
    switch (req->kind) {
    case SIGIL_POLICY_TX:
        refused = check_tx(pol, req->tx, d);
        value = pw_from_be(req->tx->value.b);
        value_known = true;
        break;
    case SIGIL_POLICY_PERSONAL:
        if (!pol->personal_sign) {
            refused = refuse(d, "personal_sign", "the policy does not allow signing personal messages");
        }
        break;
    case SIGIL_POLICY_TYPED:
        refused = check_typed(pol, req->typed_domain, d);
        break;
    case SIGIL_POLICY_RAW:
        if (!pol->raw_sign) {
            refused = refuse(d, "raw_sign", "the policy does not allow signing raw data");
        }
        break;
    case SIGIL_POLICY_AUTH:
        if (!pol->authorizations) {
            refused = refuse(d, "authorizations", "the policy does not allow signing EIP-7702 authorizations");
        } else {
            refused = check_auth_chain(pol, req->auth, 0, d);
        }
        break;
    }
    if (refused) {
        return sigil_ok();
    }
    /* Approvals last: every other rule must pass before a quorum is worth asking for. With
     * above_wei they apply to transactions moving more than that value; without it, to every
     * request of the policy. */
    bool need = pol->has_approvals && (!pol->has_above || (value_known && pw_cmp(value, pol->above) > 0));
    if (need) {
        d->approvals_required = pol->required;
        d->approvals_valid = count_approvals(pol, req);
        if (d->approvals_valid < pol->required) {
            char x[PW_DEC_MAX + 8];
            if (pol->has_above) {
                (void)refuse(d, "approvals",
                             "a value above %s needs %u approvals from the policy's approvers, %u valid given",
                             pw_eth(x, pol->above), pol->required, d->approvals_valid);
            } else {
                (void)refuse(d, "approvals",
                             "the request needs %u approvals from the policy's approvers, %u valid given",
                             pol->required, d->approvals_valid);
            }
            return sigil_ok();
        }
    }
    d->allow = true;
    return sigil_ok();
}

size_t sigil_policy_spend_limits(const struct sigil_policy *p, const uint8_t addr[20],
                                 struct sigil_spend_window out[SIGIL_POLICY_MAX_WINDOWS])
{
    const struct pol *pol = p != NULL ? bound(p, addr) : NULL;
    if (pol == NULL) {
        return 0;
    }
    memcpy(out, pol->windows, pol->nwindows * sizeof *out);
    return pol->nwindows;
}

void sigil_policy_spend_amount(const struct sigil_policy *p, const uint8_t addr[20], const struct sigil_eth1_tx *tx,
                               sigil_u256 *out)
{
    const struct pol *pol = p != NULL ? bound(p, addr) : NULL;
    pw_t v = pw_from_be(tx->value.b);
    if (pol != NULL && pol->count_fees) {
        v = pw_add_sat(v, tx_max_fee_total(tx));
    }
    pw_to_be(out->b, v);
}

/* ---- summary for the CLI ---- */

size_t sigil_policy_summary_count(const struct sigil_policy *p, size_t *ngroups)
{
    *ngroups = p->ngroups;
    return p->npols;
}

void sigil_policy_summary_line(const struct sigil_policy *p, size_t i, char *out, size_t cap)
{
    const struct pol *pol = &p->pols[i];
    char x[PW_DEC_MAX + 8];
    size_t o = 0;
#define PUT(...)                                                                                                       \
    do {                                                                                                               \
        int n_ = snprintf(out + o, cap - o, __VA_ARGS__);                                                              \
        if (n_ > 0) {                                                                                                  \
            o = (size_t)n_ >= cap - o ? cap - 1 : o + (size_t)n_;                                                      \
        }                                                                                                              \
    } while (0)
    PUT("%s: keys %zu address%s, %zu group%s%s", pol->name, pol->keys.n, pol->keys.n == 1 ? "" : "es", pol->ngroups,
        pol->ngroups == 1 ? "" : "s", pol->star ? ", \"*\"" : "");
    if (pol->has_chains) {
        PUT("; chain_ids %zu", pol->nchains);
    }
    if (pol->has_allow || pol->deny.n > 0) {
        PUT("; to %s%zu allowed, %zu denied", pol->has_allow ? "" : "any but ", pol->allow.n, pol->deny.n);
    }
    if (pol->has_max_value) {
        PUT("; value max %s", pw_eth(x, pol->max_value));
    }
    for (size_t w = 0; w < pol->nwindows; w++) {
        PUT("; %s %llu s max %s", pol->windows[w].rule, (unsigned long long)pol->windows[w].window_s,
            pw_eth(x, pw_from_be(pol->windows[w].max_wei.b)));
    }
    if (pol->has_selectors) {
        PUT("; selectors for %zu destination%s", pol->nsel, pol->nsel == 1 ? "" : "s");
    }
    if (pol->has_approvals) {
        PUT("; approvals %u of %zu%s%s", pol->required, pol->napprovers, pol->has_above ? " above " : "",
            pol->has_above ? pw_eth(x, pol->above) : "");
    }
    PUT("; allows:%s%s%s%s%s", pol->contract_creation ? " contract_creation" : "",
        pol->personal_sign ? " personal_sign" : "", pol->typed_data ? " typed_data" : "",
        pol->authorizations ? " authorizations" : "", pol->raw_sign ? " raw_sign" : "");
#undef PUT
}
