/* Key policy documents: a strict parser into a small evaluation form, and the evaluator.
 *
 * The parser refuses what it does not understand (unknown condition operators or keys, wrong
 * types, unknown statement members) instead of ignoring it: a policy that reads as "only this
 * enclave may decrypt" must never evaluate as "anyone may". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/hex.h"
#include "common/json.h"
#include "kmsd/kmsd.h"

#define MAX_LIST   32 /* entries of one Action / Resource / Principal / condition value list */
#define MAX_CONDS  32 /* condition key entries in one statement */
#define MAX_STRING 2048

enum cond_key { CK_IMAGE_SHA384 = -1 }; /* 0..15: PCRn */

struct cond {
    int key; /* CK_IMAGE_SHA384 or a PCR index */
    bool ignore_case;
    bool if_exists;
    char op[40];
    char name[48];
    char *values[MAX_LIST];
    size_t nvalues;
};

struct statement {
    bool allow;
    char *actions[MAX_LIST];
    size_t nactions;
    char *resources[MAX_LIST]; /* none: any */
    size_t nresources;
    char *principals[MAX_LIST];
    size_t nprincipals;
    struct cond conds[MAX_CONDS];
    size_t nconds;
};

struct sigil_kmsd_policy {
    struct statement st[SIGIL_KMSD_MAX_STATEMENTS];
    size_t n;
};

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i]);
    }
}

void sigil_kmsd_policy_free(struct sigil_kmsd_policy *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        struct statement *s = &p->st[i];
        free_list(s->actions, s->nactions);
        free_list(s->resources, s->nresources);
        free_list(s->principals, s->nprincipals);
        for (size_t c = 0; c < s->nconds; c++) {
            free_list(s->conds[c].values, s->conds[c].nvalues);
        }
    }
    free(p);
}

/* A string or a non-empty array of strings into list. */
static sigil_result get_list(char **list, size_t *n, const json_t *v, const char *what)
{
    *n = 0;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0 || json_string_length(v) > MAX_STRING) {
            return sigil_errorf(SIGIL_ERR_PARSE, "policy: %s is empty or too long", what);
        }
        list[0] = strdup(json_string_value(v));
        SIGIL_ENSURE(list[0] != NULL, SIGIL_ERR_NOMEM);
        *n = 1;
        return sigil_ok();
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > MAX_LIST) {
        return sigil_errorf(SIGIL_ERR_PARSE, "policy: %s must be a string or a list of 1..%d strings", what, MAX_LIST);
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > MAX_STRING) {
            return sigil_errorf(SIGIL_ERR_PARSE, "policy: %s must hold non-empty strings", what);
        }
        list[*n] = strdup(json_string_value(e));
        SIGIL_ENSURE(list[*n] != NULL, SIGIL_ERR_NOMEM);
        (*n)++;
    }
    return sigil_ok();
}

/* Maps a condition key name to CK_IMAGE_SHA384 or a PCR index; -2 when unsupported. */
static int cond_key_of(const char *name)
{
    static const char prefix[] = "kms:RecipientAttestation:";
    size_t pl = sizeof prefix - 1;
    if (strncasecmp(name, prefix, pl) != 0) {
        return -2;
    }
    const char *k = name + pl;
    if (strcasecmp(k, "ImageSha384") == 0) {
        return CK_IMAGE_SHA384;
    }
    if (strncasecmp(k, "PCR", 3) != 0 || k[3] == '\0' || strlen(k) > 5) {
        return -2;
    }
    int idx = 0;
    for (const char *c = k + 3; *c; c++) {
        if (!isdigit((unsigned char)*c) || (c == k + 3 && *c == '0' && c[1] != '\0')) {
            return -2;
        }
        idx = idx * 10 + (*c - '0');
    }
    return idx < SIGIL_ATTEST_NPCRS ? idx : -2;
}

static sigil_result parse_condition(struct statement *s, const json_t *cond)
{
    if (!json_is_object(cond)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "policy: Condition must be an object");
    }
    const char *op;
    json_t *block;
    json_object_foreach((json_t *)cond, op, block)
    {
        bool ic, ie = false;
        char base[40];
        size_t ol = strlen(op);
        if (ol >= sizeof base) {
            return sigil_errorf(SIGIL_ERR_PARSE, "policy: unsupported condition operator");
        }
        memcpy(base, op, ol + 1);
        if (ol > 8 && strcmp(base + ol - 8, "IfExists") == 0) {
            ie = true;
            base[ol - 8] = '\0';
        }
        if (strcmp(base, "StringEquals") == 0) {
            ic = false;
        } else if (strcmp(base, "StringEqualsIgnoreCase") == 0) {
            ic = true;
        } else {
            return sigil_errorf(SIGIL_ERR_PARSE, "policy: unsupported condition operator %.40s", op);
        }
        if (!json_is_object(block) || json_object_size(block) == 0) {
            return sigil_errorf(SIGIL_ERR_PARSE, "policy: condition %.40s must be a non-empty object", op);
        }
        const char *key;
        json_t *vals;
        json_object_foreach(block, key, vals)
        {
            if (s->nconds >= MAX_CONDS) {
                return sigil_errorf(SIGIL_ERR_PARSE, "policy: too many condition keys in one statement");
            }
            int k = cond_key_of(key);
            if (k == -2) {
                return sigil_errorf(SIGIL_ERR_PARSE, "policy: unsupported condition key %.64s", key);
            }
            struct cond *c = &s->conds[s->nconds++];
            c->key = k;
            c->ignore_case = ic;
            c->if_exists = ie;
            snprintf(c->op, sizeof c->op, "%s", op);
            if (k == CK_IMAGE_SHA384) {
                snprintf(c->name, sizeof c->name, "kms:RecipientAttestation:ImageSha384");
            } else {
                snprintf(c->name, sizeof c->name, "kms:RecipientAttestation:PCR%d", k);
            }
            SIGIL_GUARD(get_list(c->values, &c->nvalues, vals, "a condition value"));
        }
    }
    return sigil_ok();
}

static sigil_result parse_principal(struct statement *s, const json_t *p)
{
    if (json_is_string(p)) {
        if (strcmp(json_string_value(p), "*") != 0) {
            return sigil_errorf(SIGIL_ERR_PARSE, "policy: Principal must be \"*\" or {\"AWS\": ...}");
        }
        return get_list(s->principals, &s->nprincipals, p, "Principal");
    }
    if (!json_is_object(p) || json_object_size(p) != 1 || json_object_get(p, "AWS") == NULL) {
        return sigil_errorf(SIGIL_ERR_PARSE, "policy: Principal must be \"*\" or {\"AWS\": ...}");
    }
    return get_list(s->principals, &s->nprincipals, json_object_get(p, "AWS"), "Principal.AWS");
}

static sigil_result parse_statement(struct statement *s, const json_t *o)
{
    if (!json_is_object(o)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "policy: a statement must be an object");
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (strcmp(k, "Sid") != 0 && strcmp(k, "Effect") != 0 && strcmp(k, "Principal") != 0 &&
            strcmp(k, "Action") != 0 && strcmp(k, "Resource") != 0 && strcmp(k, "Condition") != 0) {
            /* NotAction/NotPrincipal/NotResource invert matching; refusing them is fail-closed */
            return sigil_errorf(SIGIL_ERR_PARSE, "policy: unsupported statement element %.32s", k);
        }
    }
    json_t *sid = json_object_get(o, "Sid");
    if (sid != NULL && !json_is_string(sid)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "policy: Sid must be a string");
    }
    const char *eff = json_string_value(json_object_get(o, "Effect"));
    if (eff == NULL || (strcmp(eff, "Allow") != 0 && strcmp(eff, "Deny") != 0)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "policy: Effect must be Allow or Deny");
    }
    s->allow = strcmp(eff, "Allow") == 0;
    json_t *pr = json_object_get(o, "Principal");
    if (pr == NULL) {
        return sigil_errorf(SIGIL_ERR_PARSE, "policy: a statement needs a Principal");
    }
    SIGIL_GUARD(parse_principal(s, pr));
    json_t *ac = json_object_get(o, "Action");
    if (ac == NULL) {
        return sigil_errorf(SIGIL_ERR_PARSE, "policy: a statement needs an Action");
    }
    SIGIL_GUARD(get_list(s->actions, &s->nactions, ac, "Action"));
    json_t *rs = json_object_get(o, "Resource");
    if (rs != NULL) {
        SIGIL_GUARD(get_list(s->resources, &s->nresources, rs, "Resource"));
    }
    json_t *cd = json_object_get(o, "Condition");
    if (cd != NULL) {
        SIGIL_GUARD(parse_condition(s, cd));
    }
    return sigil_ok();
}

sigil_result sigil_kmsd_policy_parse(struct sigil_kmsd_policy **out, const char *text, size_t len)
{
    *out = NULL;
    json_t *j = NULL;
    SIGIL_GUARD(sigil_json_parse(&j, text, len, SIGIL_KMSD_MAX_POLICY));
    sigil_result ret = sigil_ok();
    struct sigil_kmsd_policy *p = calloc(1, sizeof *p);
    SIGIL_ENSURE_GOTO(p != NULL, SIGIL_ERR_NOMEM);
    if (!json_is_object(j)) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "policy: the document must be a JSON object");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "Version") != 0 && strcmp(k, "Id") != 0 && strcmp(k, "Statement") != 0) {
            ret = sigil_errorf(SIGIL_ERR_PARSE, "policy: unsupported top-level element %.32s", k);
            goto out;
        }
    }
    json_t *ver = json_object_get(j, "Version");
    if (ver != NULL && (!json_is_string(ver) || (strcmp(json_string_value(ver), "2012-10-17") != 0 &&
                                                 strcmp(json_string_value(ver), "2008-10-17") != 0))) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "policy: Version must be 2012-10-17");
        goto out;
    }
    json_t *id = json_object_get(j, "Id");
    if (id != NULL && !json_is_string(id)) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "policy: Id must be a string");
        goto out;
    }
    json_t *st = json_object_get(j, "Statement");
    if (json_is_object(st)) {
        p->n = 1;
        SIGIL_GUARD_GOTO(parse_statement(&p->st[0], st));
    } else if (json_is_array(st) && json_array_size(st) > 0 && json_array_size(st) <= SIGIL_KMSD_MAX_STATEMENTS) {
        size_t i;
        json_array_foreach(st, i, v)
        {
            p->n = i + 1;
            SIGIL_GUARD_GOTO(parse_statement(&p->st[i], v));
        }
    } else {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "policy: Statement must be an object or a list of 1..%d objects",
                           SIGIL_KMSD_MAX_STATEMENTS);
        goto out;
    }
    *out = p;
    p = NULL;
out:
    sigil_kmsd_policy_free(p);
    json_decref(j);
    return ret;
}

/* IAM wildcard match, case-insensitive when ic: '*' any run, '?' one character. Iterative with
 * one backtrack point, so linear-ish and without recursion on hostile patterns. */
static bool glob_match(const char *pat, const char *s, bool ic)
{
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            ss = s;
        } else if (*pat == '?' ||
                   (*pat != '\0' && (ic ? tolower((unsigned char)*pat) == tolower((unsigned char)*s) : *pat == *s))) {
            pat++;
            s++;
        } else if (star != NULL) {
            pat = star + 1;
            s = ++ss;
        } else {
            return false;
        }
    }
    while (*pat == '*') {
        pat++;
    }
    return *pat == '\0';
}

static bool any_match(char *const *list, size_t n, const char *s, bool ic)
{
    for (size_t i = 0; i < n; i++) {
        if (glob_match(list[i], s, ic)) {
            return true;
        }
    }
    return false;
}

static bool principal_match(const struct statement *st, const char *principal)
{
    for (size_t i = 0; i < st->nprincipals; i++) {
        const char *p = st->principals[i];
        if (strcmp(p, "*") == 0 || strcmp(p, principal) == 0 || strcmp(p, SIGIL_KMSD_ACCOUNT) == 0) {
            return true;
        }
    }
    return false;
}

/* true when the condition holds; *absent set when the request has no value for its key. */
static bool cond_holds(const struct cond *c, const struct sigil_attest_doc *att, bool *absent)
{
    int idx = c->key == CK_IMAGE_SHA384 ? 0 : c->key;
    *absent = att == NULL || !att->pcr_present[idx] || att->pcr_len[idx] == 0;
    if (*absent) {
        return c->if_exists;
    }
    char hex[2 * 64 + 3];
    sigil_hex_encode(hex, att->pcrs[idx], att->pcr_len[idx], 0);
    for (size_t i = 0; i < c->nvalues; i++) {
        if (c->ignore_case ? strcasecmp(c->values[i], hex) == 0 : strcmp(c->values[i], hex) == 0) {
            return true;
        }
    }
    return false;
}

sigil_result sigil_kmsd_policy_eval(const struct sigil_kmsd_policy *p, const struct sigil_kmsd_request_ctx *req,
                                    char *why, size_t why_cap)
{
    if (why_cap > 0) {
        why[0] = '\0';
    }
    bool allowed = false;
    const struct cond *failed = NULL;
    bool failed_absent = false;
    for (size_t i = 0; i < p->n; i++) {
        const struct statement *st = &p->st[i];
        if (!principal_match(st, req->principal) || !any_match(st->actions, st->nactions, req->action, true) ||
            (st->nresources > 0 && !any_match(st->resources, st->nresources, req->resource, false))) {
            continue;
        }
        bool ok = true;
        for (size_t c = 0; c < st->nconds && ok; c++) {
            bool absent = false;
            if (!cond_holds(&st->conds[c], req->att, &absent)) {
                ok = false;
                if (st->allow && failed == NULL) {
                    failed = &st->conds[c];
                    failed_absent = absent;
                }
            }
        }
        if (!ok) {
            continue;
        }
        if (!st->allow) {
            snprintf(why, why_cap, "%s is denied by an explicit Deny statement of the key policy", req->action);
            return sigil_error(SIGIL_ERR_FORBIDDEN);
        }
        allowed = true;
    }
    if (allowed) {
        return sigil_ok();
    }
    if (failed != NULL) {
        snprintf(why, why_cap, "%s: key policy condition %s %s is not satisfied%s", req->action, failed->op,
                 failed->name,
                 failed_absent ? (req->att == NULL ? " (the request has no Recipient attestation document)"
                                                   : " (the attestation document lacks that value)")
                               : " by the Recipient attestation document");
    } else {
        snprintf(why, why_cap, "%s: no statement of the key policy allows this action", req->action);
    }
    return sigil_error(SIGIL_ERR_FORBIDDEN);
}

const char *sigil_kmsd_default_policy(void)
{
    return "{\"Version\":\"2012-10-17\",\"Id\":\"key-default-1\",\"Statement\":[{\"Sid\":\"Enable IAM User "
           "Permissions\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" SIGIL_KMSD_PRINCIPAL
           "\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}";
}

static bool hex96_ok(const char *h)
{
    uint8_t b[48];
    return h != NULL && sigil_is_ok(sigil_hex_decode_exact(b, sizeof b, h, strlen(h)));
}

sigil_result sigil_kmsd_bound_policy(char **out, const char *pcr0_hex, const char *image_hex)
{
    *out = NULL;
    if ((pcr0_hex == NULL && image_hex == NULL) || (pcr0_hex != NULL && !hex96_ok(pcr0_hex)) ||
        (image_hex != NULL && !hex96_ok(image_hex))) {
        return sigil_errorf(SIGIL_ERR_ARG, "policy: PCR0 / ImageSha384 must be 48 bytes of hex");
    }
    json_t *cond = json_object();
    json_t *doc = NULL;
    sigil_result ret = sigil_ok();
    SIGIL_ENSURE_GOTO(cond != NULL, SIGIL_ERR_NOMEM);
    /* strip an optional 0x so the value compares with the lower-case hex PCR */
    if (image_hex != NULL) {
        const char *h = strncasecmp(image_hex, "0x", 2) == 0 ? image_hex + 2 : image_hex;
        SIGIL_ENSURE_GOTO(json_object_set_new(cond, "kms:RecipientAttestation:ImageSha384", json_string(h)) == 0,
                          SIGIL_ERR_NOMEM);
    }
    if (pcr0_hex != NULL) {
        const char *h = strncasecmp(pcr0_hex, "0x", 2) == 0 ? pcr0_hex + 2 : pcr0_hex;
        SIGIL_ENSURE_GOTO(json_object_set_new(cond, "kms:RecipientAttestation:PCR0", json_string(h)) == 0,
                          SIGIL_ERR_NOMEM);
    }
    doc = json_pack("{s:s, s:s, s:[{s:s, s:s, s:{s:s}, s:[s,s,s,s,s,s,s,s,s,s,s,s], s:s},"
                    " {s:s, s:s, s:{s:s}, s:[s,s,s], s:s, s:{s:O}}]}",
                    "Version", "2012-10-17", "Id", "sigil-enclave-bound", "Statement",
                    /* administration and encryption: no attestation needed */
                    "Sid", "SigilOperator", "Effect", "Allow", "Principal", "AWS", SIGIL_KMSD_PRINCIPAL, "Action",
                    "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateRandom", "kms:DescribeKey", "kms:GetKeyPolicy",
                    "kms:PutKeyPolicy", "kms:CreateKey", "kms:EnableKey", "kms:DisableKey", "kms:ListKeys",
                    "kms:TagResource", "kms:ScheduleKeyDeletion", "Resource", "*",
                    /* decryption only for the attested enclave */
                    "Sid", "SigilEnclaveOnly", "Effect", "Allow", "Principal", "AWS", SIGIL_KMSD_PRINCIPAL, "Action",
                    "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateRandom", "Resource", "*", "Condition",
                    "StringEqualsIgnoreCase", cond);
    SIGIL_ENSURE_GOTO(doc != NULL, SIGIL_ERR_NOMEM);
    *out = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    SIGIL_ENSURE_GOTO(*out != NULL, SIGIL_ERR_NOMEM);
out:
    json_decref(cond);
    json_decref(doc);
    return ret;
}
