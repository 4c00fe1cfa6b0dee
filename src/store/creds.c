/* AWS shared-credentials parsing: only the [default] profile (or a file without sections). */
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "common/secmem.h"
#include "store/creds.h"

static char *trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t')) {
        s++;
    }
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
        end--;
    }
    *end = '\0';
    return s;
}

static SIGIL_RESULT set_secret(struct sigil_aws_creds *c, const char *v)
{
    size_t n = strlen(v);
    if (n == 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "credentials: empty aws_secret_access_key");
    }
    sigil_secure_free(c->secret);
    c->secret = sigil_secure_alloc(n + 1);
    if (c->secret == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    memcpy(c->secret, v, n);
    c->secret_len = n;
    return sigil_ok();
}

SIGIL_RESULT sigil_aws_creds_load(struct sigil_aws_creds *out, const char *path)
{
    memset(out, 0, sizeof *out);
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    char *text = NULL;
    size_t len = 0;
    if (path == NULL) {
        const char *id = getenv("AWS_ACCESS_KEY_ID"), *sec = getenv("AWS_SECRET_ACCESS_KEY");
        const char *tok = getenv("AWS_SESSION_TOKEN");
        if (id == NULL || sec == NULL) {
            return sigil_errorf(SIGIL_ERR_PARSE, "no credentials: give --credentials FILE or set AWS_ACCESS_KEY_ID "
                                                 "and AWS_SECRET_ACCESS_KEY");
        }
        out->access_key_id = strdup(id);
        out->session_token = tok != NULL && *tok ? sigil_secure_strdup(tok) : NULL;
        SIGIL_ENSURE_GOTO(out->access_key_id != NULL && (tok == NULL || !*tok || out->session_token != NULL),
                          SIGIL_ERR_NOMEM);
        SIGIL_GUARD_GOTO(set_secret(out, sec));
        return sigil_ok();
    }
    SIGIL_GUARD_GOTO(sigil_read_file_secure(&text, &len, path, SIGIL_CREDS_FILE_MAX));
    bool in_default = true;
    for (char *line = text; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        char *end = nl != NULL ? nl : line + strlen(line);
        char *next = nl != NULL ? nl + 1 : NULL;
        char *l = trim(line, end);
        if (*l == '[') {
            in_default = strcmp(l, "[default]") == 0;
        } else if (in_default && *l != '#' && *l != ';' && *l != '\0') {
            char *eq = strchr(l, '=');
            if (eq != NULL) {
                char *k = trim(l, eq);
                char *v = trim(eq + 1, eq + 1 + strlen(eq + 1));
                if (strcmp(k, "aws_access_key_id") == 0) {
                    free(out->access_key_id);
                    out->access_key_id = strdup(v);
                    SIGIL_ENSURE_GOTO(out->access_key_id != NULL, SIGIL_ERR_NOMEM);
                } else if (strcmp(k, "aws_secret_access_key") == 0) {
                    SIGIL_GUARD_GOTO(set_secret(out, v));
                } else if (strcmp(k, "aws_session_token") == 0 && *v != '\0') {
                    sigil_secure_free(out->session_token);
                    out->session_token = sigil_secure_strdup(v);
                    SIGIL_ENSURE_GOTO(out->session_token != NULL, SIGIL_ERR_NOMEM);
                }
            }
        }
        line = next;
    }
    if (out->access_key_id == NULL || *out->access_key_id == '\0' || out->secret == NULL) {
        ret = sigil_errorf(SIGIL_ERR_PARSE, "credentials file %s: needs aws_access_key_id and aws_secret_access_key",
                           path);
        goto out;
    }
    ret = sigil_ok();
out:
    sigil_secure_free(text);
    if (!sigil_is_ok(ret)) {
        sigil_aws_creds_free(out);
    }
    return ret;
}

void sigil_aws_creds_free(struct sigil_aws_creds *c)
{
    free(c->access_key_id);
    sigil_secure_free(c->secret);
    sigil_secure_free(c->session_token);
    memset(c, 0, sizeof *c);
}
