/* Unit tests for src/common: results, secure memory, hex/base64, JSON helpers, logging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/json.h"
#include "common/log.h"
#include "common/result.h"
#include "common/secmem.h"

static void test_secure_strdup(void **state)
{
    (void)state;
    assert_null(sigil_secure_strdup(NULL));
    char *p = sigil_secure_strdup("postgresql://u:pw@127.0.0.1/db");
    assert_non_null(p);
    assert_true(sigil_secure_owns(p));
    assert_string_equal(p, "postgresql://u:pw@127.0.0.1/db");
    sigil_secure_free(p);
}

static void test_secure_alloc(void **state)
{
    (void)state;
    size_t base = sigil_secure_in_use();
    uint8_t *small = sigil_secure_alloc(32);
    uint8_t *big = sigil_secure_alloc(100000);
    assert_non_null(small);
    assert_non_null(big);
    for (size_t i = 0; i < 32; i++) {
        assert_int_equal(small[i], 0);
    }
    memset(small, 0xaa, 32);
    memset(big, 0x55, 100000);
    assert_true(sigil_secure_owns(small));
    assert_true(sigil_secure_owns(big + 99999));
    uint8_t stack[4];
    assert_false(sigil_secure_owns(stack));
    assert_true(sigil_secure_in_use() > base);
    sigil_secure_free(small);
    sigil_secure_free(big);
    assert_int_equal(sigil_secure_in_use(), base);
    assert_null(sigil_secure_alloc(0));
    /* Many small allocations share arenas. */
    void *ptrs[2000];
    for (int i = 0; i < 2000; i++) {
        ptrs[i] = sigil_secure_alloc(48);
        assert_non_null(ptrs[i]);
    }
    for (int i = 0; i < 2000; i++) {
        sigil_secure_free(ptrs[i]);
    }
    assert_int_equal(sigil_secure_in_use(), base);
}

static void test_wipe_and_ct_eq(void **state)
{
    (void)state;
    uint8_t a[40], b[40];
    memset(a, 7, sizeof a);
    memcpy(b, a, sizeof b);
    assert_int_equal(sigil_ct_memeq(a, b, sizeof a), 1);
    b[39] ^= 1;
    assert_int_equal(sigil_ct_memeq(a, b, sizeof a), 0);
    b[39] ^= 1;
    b[0] ^= 0x80;
    assert_int_equal(sigil_ct_memeq(a, b, sizeof a), 0);
    assert_int_equal(sigil_ct_memeq(a, b, 0), 1);
    sigil_wipe(a, sizeof a);
    for (size_t i = 0; i < sizeof a; i++) {
        assert_int_equal(a[i], 0);
    }
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 0;
    assert_true(sigil_is_ok(sigil_hex_decode(out, sizeof out, &n, "0xDEADbeef", 10)));
    assert_int_equal(n, 4);
    assert_int_equal(out[0], 0xde);
    assert_int_equal(out[3], 0xef);
    assert_true(sigil_is_ok(sigil_hex_decode(out, sizeof out, &n, "  00ff\n", 7)));
    assert_int_equal(n, 2);
    assert_int_equal(sigil_hex_decode(out, sizeof out, &n, "0x0", 3).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_hex_decode(out, sizeof out, &n, "zz", 2).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_hex_decode(out, sizeof out, &n, "0g", 2).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_hex_decode(out, sizeof out, &n, "/0", 2).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_hex_decode(out, sizeof out, &n, ":0", 2).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_hex_decode(out, sizeof out, &n, "@0", 2).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_hex_decode(out, sizeof out, &n, "G0", 2).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_hex_decode(out, 1, &n, "0000", 4).code, SIGIL_ERR_TOO_LARGE);
    assert_true(sigil_is_ok(sigil_hex_decode(out, sizeof out, &n, "", 0)));
    assert_int_equal(n, 0);
    assert_int_equal(sigil_hex_decode_exact(out, 2, "0x001122", 8).code, SIGIL_ERR_PARSE);
    assert_true(sigil_is_ok(sigil_hex_decode_exact(out, 3, "0x001122", 8)));
    /* every byte value round-trips */
    for (unsigned v = 0; v < 256; v++) {
        uint8_t in = (uint8_t)v, back;
        char h[5];
        sigil_hex_encode(h, &in, 1, 0);
        assert_true(sigil_is_ok(sigil_hex_decode_exact(&back, 1, h, 2)));
        assert_int_equal(back, in);
    }
    char h[16];
    const uint8_t d[3] = {0x0a, 0xbc, 0xf0};
    assert_string_equal(sigil_hex_encode(h, d, 3, 1), "0x0abcf0");
}

static void test_base64(void **state)
{
    (void)state;
    char enc[16];
    uint8_t dec[16];
    size_t n;
    assert_int_equal(sigil_base64_encode(enc, (const uint8_t *)"hello", 5), 8);
    assert_string_equal(enc, "aGVsbG8=");
    assert_true(sigil_is_ok(sigil_base64_decode(dec, sizeof dec, &n, enc, 8)));
    assert_int_equal(n, 5);
    assert_memory_equal(dec, "hello", 5);
    assert_int_equal(sigil_base64_decode(dec, sizeof dec, &n, "aGVsbG8", 7).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_base64_decode(dec, sizeof dec, &n, "aG=sbG8=", 8).code, SIGIL_ERR_PARSE);
}

static void test_json(void **state)
{
    (void)state;
    json_t *j = NULL;
    const char *doc = "{\"a\":\"18446744073709551615\",\"b\":5,\"c\":\"0x0102\",\"d\":\"01\",\"e\":-1,"
                      "\"f\":\"18446744073709551616\"}";
    assert_true(sigil_is_ok(sigil_json_parse(&j, doc, strlen(doc), 4096)));
    uint64_t v;
    assert_true(sigil_is_ok(sigil_json_get_u64(&v, j, "a")));
    assert_true(v == UINT64_MAX);
    assert_true(sigil_is_ok(sigil_json_get_u64(&v, j, "b")));
    assert_int_equal(v, 5);
    assert_int_equal(sigil_json_get_u64(&v, j, "d").code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_json_get_u64(&v, j, "e").code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_json_get_u64(&v, j, "f").code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_json_get_u64(&v, j, "missing").code, SIGIL_ERR_PARSE);
    assert_non_null(strstr(sigil_error_detail(), "missing"));
    uint8_t h[2];
    assert_true(sigil_is_ok(sigil_json_get_hex(h, 2, j, "c")));
    assert_int_equal(sigil_json_get_hex(h, 3, j, "c").code, SIGIL_ERR_PARSE);
    json_decref(j);
    assert_int_equal(sigil_json_parse(&j, "{", 1, 10).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_json_parse(&j, "{}", 2, 1).code, SIGIL_ERR_TOO_LARGE);
    assert_int_equal(sigil_json_parse(&j, "{\"a\":1,\"a\":2}", 13, 100).code, SIGIL_ERR_PARSE);
}

static void test_log_redacts_secure_memory(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    sigil_log_init(SIGIL_LOG_DEBUG, fds[1]);
    char *secret = sigil_secure_alloc(16);
    strcpy(secret, "hunter2hunter2");
    SIGIL_LOG_INFO("password loaded", SIGIL_LOG_STR("value", secret), SIGIL_LOG_UINT("n", 3));
    SIGIL_LOG_DEBUG("plain", SIGIL_LOG_STR("value", "public"));
    sigil_log_init(SIGIL_LOG_INFO, 2);
    close(fds[1]);
    char buf[1024] = {0};
    ssize_t r = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(r > 0);
    assert_null(strstr(buf, "hunter2"));
    assert_non_null(strstr(buf, "[redacted]"));
    assert_non_null(strstr(buf, "\"n\":3"));
    assert_non_null(strstr(buf, "\"value\":\"public\""));
    sigil_secure_free(secret);
}

static void test_errors(void **state)
{
    (void)state;
    for (int i = 0; i < SIGIL_ERR__COUNT; i++) {
        assert_non_null(sigil_strerror((enum sigil_err)i));
        assert_string_not_equal(sigil_strerror((enum sigil_err)i), "unknown error");
    }
    sigil_result r = sigil_errorf(SIGIL_ERR_PARSE, "field '%s' bad", "x");
    assert_int_equal(r.code, SIGIL_ERR_PARSE);
    assert_string_equal(sigil_error_detail(), "field 'x' bad");
    sigil_error_clear();
    assert_string_equal(sigil_error_detail(), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secure_alloc),
        cmocka_unit_test(test_secure_strdup),
        cmocka_unit_test(test_wipe_and_ct_eq),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_log_redacts_secure_memory),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
