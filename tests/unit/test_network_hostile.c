/* Hostile custom network configs (sigil_network_from_yaml / sigil_network_load): size limits,
 * numbers that overflow or are not plain decimals, duplicate keys, NUL bytes and binary junk,
 * unterminated quotes, very long lines. Every refusal is SIGIL_ERR_CONFIG (or TOO_LARGE) with a
 * detail naming the line or the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/result.h"
#include "eth2/network.h"

#define GFV "GENESIS_FORK_VERSION: 0x00000000\n"

static void expect_err(const char *text, size_t len, enum sigil_err code, const char *detail_has)
{
    struct sigil_network n;
    memset(&n, 0x5a, sizeof n);
    struct sigil_network before = n;
    sigil_result r = sigil_network_from_yaml(&n, text, len);
    if (r.code != code) {
        fail_msg("'%.60s': got %d (%s), want %d", text, r.code, sigil_error_detail(), code);
    }
    assert_memory_equal(&n, &before, sizeof n); /* *out untouched on error */
    if (detail_has != NULL && strstr(sigil_error_detail(), detail_has) == NULL) {
        fail_msg("'%.60s': detail '%s' lacks '%s'", text, sigil_error_detail(), detail_has);
    }
}

static void expect_cfg(const char *text, const char *detail_has)
{
    expect_err(text, strlen(text), SIGIL_ERR_CONFIG, detail_has);
}

static void test_numbers(void **state)
{
    (void)state;
    struct sigil_network n;
    /* the largest u64 means "not scheduled"; one more overflows */
    const char *max = GFV "ALTAIR_FORK_VERSION: 0x01000000\nALTAIR_FORK_EPOCH: 18446744073709551615\n";
    assert_true(sigil_is_ok(sigil_network_from_yaml(&n, max, strlen(max))));
    assert_int_equal(n.fork_epoch[SIGIL_FORK_ALTAIR], UINT64_MAX);
    expect_cfg(GFV "ALTAIR_FORK_EPOCH: 18446744073709551616\n", "line 2");
    expect_cfg(GFV "ALTAIR_FORK_EPOCH: 99999999999999999999999999999\n", "line 2");
    static const char *const bad_numbers[] = {"-1", "+5", "0x10", "5e3",  "1.0",  "5 5",
                                              "",   "''", "\"\"", "five", "1_000"};
    for (size_t i = 0; i < sizeof bad_numbers / sizeof bad_numbers[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, GFV "SLOTS_PER_EPOCH: %s\n", bad_numbers[i]);
        expect_cfg(text, "line 2");
    }
    expect_cfg(GFV "SLOTS_PER_EPOCH: 1025\n", "SLOTS_PER_EPOCH");
    expect_cfg(GFV "SLOTS_PER_EPOCH: 18446744073709551615\n", "SLOTS_PER_EPOCH");
    /* versions: exactly 0x + 8 hex digits */
    static const char *const bad_versions[] = {"0x0000000", "0x000000000", "00000000", "0x0000000g", "0x", "'0x0000"};
    for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "GENESIS_FORK_VERSION: %s\n", bad_versions[i]);
        expect_cfg(text, "line 1");
    }
}

static void test_duplicates(void **state)
{
    (void)state;
    expect_cfg(GFV "GENESIS_FORK_VERSION: 0x01000000\n", "GENESIS_FORK_VERSION is given twice");
    expect_cfg("CONFIG_NAME: a\n" GFV "CONFIG_NAME: b\n", "line 3: CONFIG_NAME");
    expect_cfg(GFV "SLOTS_PER_EPOCH: 32\nSLOTS_PER_EPOCH: 32\n", "line 3");
    expect_cfg(GFV "ALTAIR_FORK_VERSION: 0x01000000\nALTAIR_FORK_EPOCH: 5\nALTAIR_FORK_EPOCH: 1\n",
               "ALTAIR_FORK_EPOCH is given twice");
    expect_cfg(GFV "FULU_FORK_VERSION: 0x01000000\nFULU_FORK_VERSION: 0x01000000\n", "line 3");
    expect_cfg(GFV "GENESIS_VALIDATORS_ROOT: 0x1111111111111111111111111111111111111111111111111111111111111111\n"
                   "GENESIS_VALIDATORS_ROOT: 0x2222222222222222222222222222222222222222222222222222222222222222\n",
               "line 3");
    /* unknown keys and nested (indented) ones may repeat */
    struct sigil_network n;
    const char *ok = GFV "FOO: 1\nFOO: 2\nBLOB_SCHEDULE:\n  - EPOCH: 1\n  - EPOCH: 2\n";
    assert_true(sigil_is_ok(sigil_network_from_yaml(&n, ok, strlen(ok))));
}

static void test_junk(void **state)
{
    (void)state;
    expect_err(GFV "CONFIG_NAME: x\0y\n", sizeof GFV + 15, SIGIL_ERR_CONFIG, "NUL byte");
    expect_err("\0", 1, SIGIL_ERR_CONFIG, "line 1");
    expect_cfg("", "no GENESIS_FORK_VERSION");
    expect_cfg("# only a comment\n---\n", "no GENESIS_FORK_VERSION");
    expect_cfg(GFV "\x01\x02\x03\xff\xfe\n", "line 2: expected 'KEY: value'");
    expect_cfg("GENESIS_FORK_VERSION: \"0x00000000\n", "line 1"); /* unterminated quote */
    expect_cfg(GFV "CONFIG_NAME: \"\"\n", "CONFIG_NAME");
    expect_cfg(GFV "GENESIS_VALIDATORS_ROOT: 0x11\n", "GENESIS_VALIDATORS_ROOT");
    expect_err(NULL, 5, SIGIL_ERR_ARG, NULL);

    /* pseudo-random bytes: refused, never crash */
    static char junk[8192];
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int rep = 0; rep < 64; rep++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            junk[i] = (char)s;
        }
        struct sigil_network n;
        assert_false(sigil_is_ok(sigil_network_from_yaml(&n, junk, sizeof junk)));
    }

    /* one very long line (no newline) at the size limit: a clear error, not a crash */
    char *big = malloc(SIGIL_NETWORK_MAX_YAML + 1);
    assert_non_null(big);
    memset(big, 'A', SIGIL_NETWORK_MAX_YAML + 1);
    expect_err(big, SIGIL_NETWORK_MAX_YAML, SIGIL_ERR_CONFIG, "line 1");
    expect_err(big, SIGIL_NETWORK_MAX_YAML + 1, SIGIL_ERR_TOO_LARGE, NULL);
    /* a long value for a known key */
    memcpy(big, "CONFIG_NAME: ", 13); // NOLINT(bugprone-not-null-terminated-result): a length-delimited buffer
    expect_err(big, SIGIL_NETWORK_MAX_YAML, SIGIL_ERR_CONFIG, "CONFIG_NAME");
    /* many short lines up to the limit: fine */
    size_t pos = (size_t)snprintf(big, 64, GFV);
    while (pos + 8 <= SIGIL_NETWORK_MAX_YAML) {
        memcpy(big + pos, "X: 1\n", 5); // NOLINT(bugprone-not-null-terminated-result): length-delimited
        pos += 5;
    }
    struct sigil_network n;
    assert_true(sigil_is_ok(sigil_network_from_yaml(&n, big, pos)));
    free(big);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/sigil_net_hostile_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    /* a file over the limit is refused by size, before it is parsed */
    char *big = malloc(SIGIL_NETWORK_MAX_YAML + 1);
    assert_non_null(big);
    memset(big, '#', SIGIL_NETWORK_MAX_YAML + 1);
    assert_int_equal(write(fd, big, SIGIL_NETWORK_MAX_YAML + 1), (ssize_t)SIGIL_NETWORK_MAX_YAML + 1);
    close(fd);
    free(big);
    struct sigil_network n;
    assert_int_equal(sigil_network_load(&n, path).code, SIGIL_ERR_TOO_LARGE);
    /* a directory, a device-like path, an empty name */
    assert_int_equal(sigil_network_load(&n, "/tmp").code, SIGIL_ERR_IO);
    assert_int_equal(sigil_network_load(&n, "").code, SIGIL_ERR_IO);
    assert_int_equal(sigil_network_load(&n, "Mainnet").code, SIGIL_ERR_IO); /* names are exact */
    (void)remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_junk),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
