/* PostgreSQL URLs with the password from a file (slashing.h): which URLs carry a password, the
 * password appended percent-encoded and read back by libpq's own parser exactly, and hostile
 * files and URLs refused with details that never contain the password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/secmem.h"
#include "slashing/slashing.h"

static char g_dir[] = "/tmp/sigil-url-XXXXXX";

static const char *write_pw(const char *name, const void *data, size_t len)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* libpq's reading of URL: its password keyword, or NULL */
static char *libpq_password(const char *url)
{
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(url, &err);
    assert_non_null(o);
    char *pw = NULL;
    for (PQconninfoOption *p = o; p->keyword != NULL; p++) {
        if (strcmp(p->keyword, "password") == 0 && p->val != NULL) {
            pw = strdup(p->val);
        }
    }
    PQconninfoFree(o);
    return pw;
}

static void test_has_password(void **state)
{
    (void)state;
    assert_true(sigil_slashing_url_has_password("postgresql://u:p@h/db"));
    assert_true(sigil_slashing_url_has_password("postgres://u:@h:5432/db"));
    assert_true(sigil_slashing_url_has_password("postgresql://h/db?password=x"));
    assert_true(sigil_slashing_url_has_password("postgresql://u@h/db?sslmode=require&password=x"));
    assert_false(sigil_slashing_url_has_password("postgresql://u@h:5432/db?sslmode=verify-full"));
    assert_false(sigil_slashing_url_has_password("postgresql://h:5432/db"));
    assert_false(sigil_slashing_url_has_password("postgresql://h/db?xpassword=1"));
    assert_false(sigil_slashing_url_has_password("postgresql://h/db#u:p@"));
    assert_false(sigil_slashing_url_has_password("sqlite:/tmp/u:p@x.db"));
    assert_false(sigil_slashing_url_has_password(NULL));
}

static void test_password_from_file(void **state)
{
    (void)state;
    static const char pw[] = "s3cr et/&?%#@:=+\xc3\xa9~._-";
    char text[64];
    snprintf(text, sizeof text, "%s\n", pw);
    const char *f = write_pw("pw", text, strlen(text));
    const char *urls[] = {"postgresql://sigil@db.example/slashing",
                          "postgres://sigil@db.example:5432/slashing?sslmode=verify-full"};
    for (size_t i = 0; i < 2; i++) {
        char *u = NULL;
        assert_true(sigil_is_ok(sigil_slashing_url_with_password_file(&u, urls[i], f)));
        assert_true(strncmp(u, urls[i], strlen(urls[i])) == 0);
        assert_string_equal(u + strlen(urls[i]), i == 0 ? "?password=s3cr%20et%2F%26%3F%25%23%40%3A%3D%2B%C3%A9~._-"
                                                        : "&password=s3cr%20et%2F%26%3F%25%23%40%3A%3D%2B%C3%A9~._-");
        assert_true(sigil_slashing_url_has_password(u));
        char *back = libpq_password(u);
        assert_non_null(back);
        assert_string_equal(back, pw);
        free(back);
        sigil_secure_free(u);
    }
}

static void expect_refused(const char *url, const char *file, int code, const char *secret)
{
    char *u = (char *)1;
    sigil_result r = sigil_slashing_url_with_password_file(&u, url, file);
    assert_int_equal(r.code, code);
    assert_null(u);
    assert_true(sigil_error_detail()[0] != '\0');
    if (secret != NULL) {
        assert_null(strstr(sigil_error_detail(), secret));
    }
}

static void test_hostile(void **state)
{
    (void)state;
    const char *ok = write_pw("ok", "hunter2hunter2", 14);
    expect_refused("sqlite:/tmp/x.db", ok, SIGIL_ERR_ARG, "hunter2");
    expect_refused("postgresql://u:old@h/db", ok, SIGIL_ERR_ARG, "hunter2");
    expect_refused("postgresql://h/db?password=old", ok, SIGIL_ERR_ARG, "hunter2");
    expect_refused("postgresql://h/db", "/nonexistent/sigil-pw", SIGIL_ERR_IO, NULL);
    expect_refused("postgresql://h/db", write_pw("empty", "", 0), SIGIL_ERR_PARSE, NULL);
    expect_refused("postgresql://h/db", write_pw("nl", "\n", 1), SIGIL_ERR_PARSE, NULL);
    expect_refused("postgresql://h/db", write_pw("nul", "hunter2\0tail", 12), SIGIL_ERR_PARSE, "hunter2");
    static char big[1100];
    memset(big, 'a', sizeof big);
    big[0] = 'Q';
    expect_refused("postgresql://h/db", write_pw("big", big, 1025), SIGIL_ERR_PARSE, "Qaaa");
    expect_refused("postgresql://h/db", write_pw("huge", big, sizeof big), SIGIL_ERR_TOO_LARGE, "Qaaa");
    char *u = NULL;
    assert_true(
        sigil_is_ok(sigil_slashing_url_with_password_file(&u, "postgresql://h/db", write_pw("max", big, 1024))));
    sigil_secure_free(u);
    static char longurl[4200];
    memset(longurl, 'h', sizeof longurl - 1);
    memcpy(longurl, "postgresql://", 13);
    expect_refused(longurl, ok, SIGIL_ERR_TOO_LARGE, "hunter2");
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(g_dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_has_password),
        cmocka_unit_test(test_password_from_file),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
