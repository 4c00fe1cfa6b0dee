/* sigild's per-client key allow-list (--client-keys) parser, through sigil_client_keys_check:
 * well-formed lists, then hostile ones (size, NUL bytes, long names, extra tokens, bad keys,
 * too many clients, binary junk), each refused with a clear error naming the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/result.h"
#include "sigild/service.h"

#define PK   "0xa99a76ed7796f7be22d5b7e85deeb7c5677e88e511e0b337618f8c4eb61349b4bf2d153f649f7b53359fe8b94a38e44c"
#define PK2  "0xb89bebc699769726a318c8e9971bd3171297c61aea4a6578a7a4f94b547dcba5bac16a89108b6b6a1fe3695d1a874a0b"
#define ADDR "0x00000000219ab540356cbb839cbe05303d7705fa"

static void expect_ok(const char *text, size_t want_clients)
{
    size_t n = 999;
    sigil_result r = sigil_client_keys_check(text, strlen(text), &n);
    if (!sigil_is_ok(r)) {
        fail_msg("'%s': %s", text, sigil_error_detail());
    }
    assert_int_equal(n, want_clients);
}

static void expect_err(const char *text, size_t len, enum sigil_err code, const char *detail_has)
{
    size_t n = 999;
    sigil_result r = sigil_client_keys_check(text, len, &n);
    assert_int_equal(r.code, code);
    assert_int_equal(n, 0);
    if (detail_has != NULL && strstr(sigil_error_detail(), detail_has) == NULL) {
        fail_msg("detail '%s' lacks '%s'", sigil_error_detail(), detail_has);
    }
}

static void test_well_formed(void **state)
{
    (void)state;
    expect_ok("", 0);
    expect_ok("# nothing but comments\n\n   \t\r\n", 0);
    expect_ok("a *", 1);
    expect_ok("wallet *\nvc " PK "\nvc " PK2 " # second key\r\nvc " ADDR "\n\tother\t" ADDR "  \n", 3);
    expect_ok("vc " PK "\nvc " PK "\n", 1); /* repeats are harmless */
    expect_ok("VC *\nvc *\n", 2);           /* names are case-sensitive */
    char name[128];
    memset(name, 'n', 127);
    name[127] = '\0';
    char line[200];
    snprintf(line, sizeof line, "%s *\n", name);
    expect_ok(line, 1); /* 127 characters is the longest name */
}

static void test_hostile(void **state)
{
    (void)state;
    expect_err("alice\n", 6, SIGIL_ERR_CONFIG, "line 1");
    expect_err("# c\nalice * extra\n", 17, SIGIL_ERR_CONFIG, "line 2");
    expect_err("alice 0x1234\n", 13, SIGIL_ERR_CONFIG, "not a BLS public key");
    expect_err("alice " PK "00\n", strlen("alice " PK "00\n"), SIGIL_ERR_CONFIG, "not a BLS public key");
    expect_err("alice 0xzz000000219ab540356cbb839cbe05303d7705fa\n", 49, SIGIL_ERR_CONFIG, "not an eth1 address");
    expect_err("alice **\n", 9, SIGIL_ERR_CONFIG, "line 1");
    /* a NUL byte would silently end the list in a C-string parser */
    expect_err("alice *\n\0bob *\n", 15, SIGIL_ERR_CONFIG, "NUL");
    /* a 128-character name used to be split into a truncated name and a "key" */
    char line[300];
    memset(line, 'n', 128);
    memcpy(line + 128, "* *\n", 5);
    expect_err(line, strlen(line), SIGIL_ERR_CONFIG, "client name over 127");
    memset(line, 'n', 127);
    memcpy(line + 127, "* " ADDR "\n", strlen("* " ADDR "\n") + 1);
    expect_err(line, strlen(line), SIGIL_ERR_CONFIG, "client name");

    /* binary junk */
    uint8_t junk[512];
    uint64_t s = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < sizeof junk; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        junk[i] = (uint8_t)(s | 1); /* no NUL: the line parser sees it */
    }
    size_t n = 0;
    assert_int_equal(sigil_client_keys_check((const char *)junk, sizeof junk, &n).code, SIGIL_ERR_CONFIG);
}

static void test_limits(void **state)
{
    (void)state;
    char *big = malloc(SIGIL_CLIENT_KEYS_MAX + 1);
    assert_non_null(big);
    memset(big, '#', SIGIL_CLIENT_KEYS_MAX + 1);
    expect_err(big, SIGIL_CLIENT_KEYS_MAX + 1, SIGIL_ERR_TOO_LARGE, NULL);
    /* exactly the limit is accepted (a comment) */
    size_t n = 1;
    assert_true(sigil_is_ok(sigil_client_keys_check(big, SIGIL_CLIENT_KEYS_MAX, &n)));
    assert_int_equal(n, 0);

    /* too many distinct clients: refused, and quickly */
    size_t pos = 0;
    for (unsigned i = 0; i <= SIGIL_CLIENT_KEYS_MAX_CLIENTS; i++) {
        pos += (size_t)snprintf(big + pos, 32, "c%u *\n", i);
    }
    expect_err(big, pos, SIGIL_ERR_CONFIG, "more than");
    /* the maximum itself is fine */
    pos = 0;
    for (unsigned i = 0; i < SIGIL_CLIENT_KEYS_MAX_CLIENTS; i++) {
        pos += (size_t)snprintf(big + pos, 32, "c%u *\n", i);
    }
    big[pos] = '\0';
    expect_ok(big, SIGIL_CLIENT_KEYS_MAX_CLIENTS);

    /* many keys for one client: linear, accepted */
    pos = 0;
    for (unsigned i = 0; i < 20000; i++) {
        pos += (size_t)snprintf(big + pos, 128, "vc %s\n", (i & 1) ? PK : ADDR);
    }
    big[pos] = '\0';
    expect_ok(big, 1);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_formed),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
