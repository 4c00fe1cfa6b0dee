/* Keccak-256 against ethers' 257 known answers, and EIP-55 checksums against its 259 accounts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "crypto/keccak.h"
#include "helpers/vectors.h"

static json_t *hashes, *accounts;

static void test_keccak_vectors(void **state)
{
    (void)state;
    size_t i, n = 0;
    json_t *c;
    json_array_foreach(hashes, i, c)
    {
        const char *data = json_string_value(json_object_get(c, "data"));
        const char *want = json_string_value(json_object_get(c, "keccak256"));
        size_t len = strlen(data);
        uint8_t *buf = malloc(len / 2 + 1);
        size_t blen = 0;
        assert_true(sigil_is_ok(sigil_hex_decode(buf, len / 2 + 1, &blen, data, len)));
        uint8_t h[32];
        sigil_keccak256(h, buf, blen);
        char hex[67];
        assert_string_equal(sigil_hex_encode(hex, h, 32, 1), want);
        /* incremental, byte by byte, must agree */
        sigil_keccak256_ctx ctx;
        sigil_keccak256_init(&ctx);
        for (size_t k = 0; k < blen; k++) {
            sigil_keccak256_update(&ctx, buf + k, 1);
        }
        uint8_t h2[32];
        sigil_keccak256_final(&ctx, h2);
        assert_memory_equal(h, h2, 32);
        free(buf);
        n++;
    }
    assert_int_equal(n, 257);
}

static void test_eip55_vectors(void **state)
{
    (void)state;
    size_t i, n = 0;
    json_t *c;
    json_array_foreach(accounts, i, c)
    {
        const char *addr = json_string_value(json_object_get(c, "address"));
        uint8_t raw[20];
        assert_true(sigil_is_ok(sigil_eip55_parse(raw, addr)));
        char enc[43];
        sigil_eip55_encode(enc, raw);
        assert_string_equal(enc, addr);
        n++;
    }
    assert_int_equal(n, 259);
}

static void test_eip55_hostile(void **state)
{
    (void)state;
    uint8_t raw[20];
    /* checksum typo: flip the case of one letter */
    char bad[] = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
    bad[2] = 'e';
    assert_int_equal(sigil_eip55_parse(raw, bad).code, SIGIL_ERR_PARSE);
    assert_true(sigil_is_ok(sigil_eip55_parse(raw, "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf")));
    assert_true(sigil_is_ok(sigil_eip55_parse(raw, "0x7E5F4552091A69125D5DFCB7B8C2659029395BDF")));
    assert_int_equal(sigil_eip55_parse(raw, "0x7e5f4552091a69125d5dfcb7b8c2659029395bd").code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_eip55_parse(raw, "7e5f4552091a69125d5dfcb7b8c2659029395bdf00").code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_eip55_parse(raw, "0x7g5f4552091a69125d5dfcb7b8c2659029395bdf").code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_eip55_parse(raw, NULL).code, SIGIL_ERR_PARSE);
}

int main(void)
{
    hashes = vectors_load_json("ethereum/ethers_testcases/hashes.json");
    accounts = vectors_load_json("ethereum/ethers_testcases/accounts.json");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keccak_vectors),
        cmocka_unit_test(test_eip55_vectors),
        cmocka_unit_test(test_eip55_hostile),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(hashes);
    json_decref(accounts);
    return rc;
}
