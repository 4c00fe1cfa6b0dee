/* PostgreSQL URLs whose password comes from a file (slashing.h). */
#include <stdbool.h>
#include <string.h>

#include "common/io.h"
#include "common/secmem.h"
#include "slashing/slashing.h"

#define MAX_DB_PASSWORD 1024u
#define MAX_DB_URL      4096u

static bool is_pg_url(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

bool sigil_slashing_url_has_password(const char *url)
{
    if (url == NULL || !is_pg_url(url)) {
        return false;
    }
    const char *rest = strstr(url, "://") + 3;
    size_t auth = strcspn(rest, "/?#"); /* userinfo@host:port */
    const char *at = memchr(rest, '@', auth);
    if (at != NULL && memchr(rest, ':', (size_t)(at - rest)) != NULL) {
        return true; /* user:password@ */
    }
    const char *q = strchr(rest, '?');
    if (q == NULL) {
        return false;
    }
    for (const char *p = q + 1; *p != '\0'; p += strcspn(p, "&"), p += *p == '&') {
        if (strncmp(p, "password=", 9) == 0) {
            return true;
        }
    }
    return false;
}

sigil_result sigil_slashing_url_with_password_file(char **out, const char *url, const char *password_file)
{
    SIGIL_ENSURE(out != NULL && url != NULL && password_file != NULL, SIGIL_ERR_ARG);
    *out = NULL;
    if (!is_pg_url(url)) {
        return sigil_errorf(SIGIL_ERR_ARG, "a database password file goes with a postgresql:// URL");
    }
    if (sigil_slashing_url_has_password(url)) {
        return sigil_errorf(SIGIL_ERR_ARG, "the database URL already carries a password; give it in one place");
    }
    size_t ul = strlen(url);
    if (ul > MAX_DB_URL) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "the database URL is over %u bytes", MAX_DB_URL);
    }
    char *pw = NULL;
    size_t pl = 0;
    sigil_result r = sigil_read_file_secure(&pw, &pl, password_file, MAX_DB_PASSWORD + 2);
    if (!sigil_is_ok(r)) {
        return sigil_errorf(r.code, "cannot read the database password file %s (at most %u bytes)", password_file,
                            MAX_DB_PASSWORD);
    }
    sigil_strip_newline(pw, &pl);
    if (pl == 0 || pl > MAX_DB_PASSWORD || memchr(pw, '\0', pl) != NULL) {
        sigil_secure_free(pw);
        return sigil_errorf(SIGIL_ERR_PARSE,
                            "the database password file %s must hold one password of 1 to %u bytes, without NUL",
                            password_file, MAX_DB_PASSWORD);
    }
    /* url + "?password=" + every byte percent-encoded at worst + NUL */
    size_t cap = ul + 10 + 3 * pl + 1;
    char *u = sigil_secure_alloc(cap);
    if (u == NULL) {
        sigil_secure_free(pw);
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    memcpy(u, url, ul);
    size_t o = ul;
    const char *sep = strchr(url, '?') != NULL ? "&password=" : "?password=";
    memcpy(u + o, sep, 10);
    o += 10;
    static const char hexd[] = "0123456789ABCDEF";
    for (size_t i = 0; i < pl; i++) {
        unsigned char ch = (unsigned char)pw[i];
        /* RFC 3986 unreserved characters stay; everything else is %XX (libpq decodes it) */
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            u[o++] = (char)ch;
        } else {
            u[o++] = '%';
            u[o++] = hexd[ch >> 4];
            u[o++] = hexd[ch & 15];
        }
    }
    u[o] = '\0';
    sigil_secure_free(pw);
    *out = u;
    return sigil_ok();
}
