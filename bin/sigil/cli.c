#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/io.h"
#include "common/secmem.h"

#define MAX_SECRET_INPUT  4096
#define MAX_PASSWORD_FILE 4096

bool cli_parse(int argc, char **argv, struct cli_opt *opts, size_t nopts, const char **pos, size_t max_pos,
               size_t *npos, const char *cmd)
{
    size_t np = 0;
    for (size_t i = 0; i < nopts; i++) {
        *opts[i].value = NULL;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (np >= max_pos) {
                cli_fail("%s: unexpected argument '%s'", cmd, a);
                return false;
            }
            pos[np++] = a;
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        struct cli_opt *o = NULL;
        for (size_t k = 0; k < nopts; k++) {
            if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0) {
                o = &opts[k];
                break;
            }
        }
        if (o == NULL) {
            cli_fail("%s: unknown option --%.*s", cmd, (int)nlen, name);
            return false;
        }
        if (o->has_arg) {
            if (eq != NULL) {
                *o->value = eq + 1;
            } else if (i + 1 < argc) {
                *o->value = argv[++i];
            } else {
                cli_fail("%s: option --%s needs a value", cmd, o->name);
                return false;
            }
        } else {
            if (eq != NULL) {
                cli_fail("%s: option --%s takes no value", cmd, o->name);
                return false;
            }
            *o->value = "1";
        }
    }
    if (npos != NULL) {
        *npos = np;
    }
    return true;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* Nothing useful is left to do if stderr itself fails. */
    (void)fputs("sigil: ", stderr);
    (void)vfprintf(stderr, fmt, ap);
    (void)fputs("\n", stderr);
    va_end(ap);
    return CLI_BAD;
}

int cli_fail_result(const char *context, sigil_result r)
{
    const char *detail = sigil_error_detail();
    if (detail[0] != '\0') {
        return cli_fail("%s: %s (%s)", context, sigil_strerror(r.code), detail);
    }
    return cli_fail("%s: %s", context, sigil_strerror(r.code));
}

sigil_result cli_read_secret_hex_stdin(uint8_t *out, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    SIGIL_GUARD(sigil_read_fd_secure(&buf, &len, STDIN_FILENO, MAX_SECRET_INPUT));
    sigil_result r = sigil_hex_decode_exact(out, n, buf, len);
    sigil_secure_free(buf);
    if (!sigil_is_ok(r)) {
        /* The generic hex detail could hint at the secret's shape only by length; keep it. */
        return sigil_errorf(SIGIL_ERR_PARSE, "standard input must hold a %zu-byte secret as hex", n);
    }
    return sigil_ok();
}

sigil_result cli_read_password_file(char **out, size_t *len, const char *path)
{
    SIGIL_GUARD(sigil_read_file_secure(out, len, path, MAX_PASSWORD_FILE));
    sigil_strip_newline(*out, len);
    return sigil_ok();
}

bool cli_hex_arg(uint8_t *out, size_t n, const char *value, const char *opt)
{
    if (!sigil_is_ok(sigil_hex_decode_exact(out, n, value, strlen(value)))) {
        cli_fail("--%s must be %zu bytes of hex", opt, n);
        return false;
    }
    return true;
}

bool cli_hex_arg_var(uint8_t *out, size_t cap, size_t *len, const char *value, const char *opt)
{
    sigil_result r = sigil_hex_decode(out, cap, len, value, strlen(value));
    if (!sigil_is_ok(r)) {
        cli_fail("--%s must be hex (at most %zu bytes): %s", opt, cap, sigil_error_detail());
        return false;
    }
    return true;
}

void cli_print_hex(const uint8_t *data, size_t n)
{
    char buf[2 * 256 + 3];
    if (n > 256) {
        for (size_t i = 0; i < n; i += 256) {
            size_t k = n - i < 256 ? n - i : 256;
            sigil_hex_encode(buf, data + i, k, i == 0);
            (void)fputs(buf, stdout); /* stdout errors are caught once, in main */
        }
        (void)fputs("\n", stdout);
        return;
    }
    sigil_hex_encode(buf, data, n, 1);
    puts(buf);
}
