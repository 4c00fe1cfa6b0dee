/* Unit tests for src/eth1/keyring.c: add, duplicate, lookups and signing; resolving a Web3Signer
 * identifier in every form (address, 64/65-byte and compressed public keys, with and without 0x,
 * either case) and refusing malformed ones; loading a directory of v3 keystores in parallel
 * (scrypt and pbkdf2) with a missing password file, a wrong password, a corrupt file, a duplicate
 * key and a non-keystore; more keystores than the ring takes, refused before decrypting;
 * concurrent readers while a writer adds keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <secp256k1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/log.h"
#include "common/secmem.h"
#include "eth1/keyring.h"
#include "eth1/secp256k1.h"

static void key_bytes(uint8_t out[32], unsigned i)
{
    for (int k = 0; k < 32; k++) {
        out[k] = (uint8_t)(i * 31 + (unsigned)k * 7 + 1);
    }
    out[0] = (uint8_t)(i >> 8); /* distinct keys for every i < 65536 */
    out[1] = (uint8_t)i;
}

static sigil_secp256k1_sk *make_key(unsigned i)
{
    uint8_t raw[32];
    key_bytes(raw, i);
    sigil_secp256k1_sk *sk = NULL;
    assert_true(sigil_is_ok(sigil_secp256k1_sk_from_bytes(&sk, raw)));
    sigil_wipe(raw, sizeof raw);
    return sk;
}

static void key_addr(uint8_t addr[20], uint8_t pub[65], unsigned i)
{
    sigil_secp256k1_sk *sk = make_key(i);
    assert_true(sigil_is_ok(sigil_secp256k1_pubkey(pub, sk)));
    sigil_eth1_pubkey_to_address(addr, pub);
    sigil_secp256k1_sk_free(sk);
}

static void test_add_sign_list(void **state)
{
    (void)state;
    struct sigil_eth1_keyring *kr = NULL;
    assert_true(sigil_is_ok(sigil_eth1_keyring_new(&kr)));
    uint8_t addrs[200][20];
    for (unsigned i = 0; i < 200; i++) { /* crosses several table resizes */
        assert_true(sigil_is_ok(sigil_eth1_keyring_add(kr, make_key(i), addrs[i])));
    }
    assert_int_equal(sigil_eth1_keyring_count(kr), 200);
    uint8_t a[20], pub[65];
    key_addr(a, pub, 7);
    assert_memory_equal(a, addrs[7], 20);
    assert_true(sigil_eth1_keyring_has(kr, a));
    uint8_t other[20] = {1, 2, 3};
    assert_false(sigil_eth1_keyring_has(kr, other));

    /* duplicate: refused, the key freed (ASan/LSan would see a leak otherwise) */
    sigil_result r = sigil_eth1_keyring_add(kr, make_key(7), NULL);
    assert_int_equal(r.code, SIGIL_ERR_CONFLICT);
    assert_int_equal(sigil_eth1_keyring_count(kr), 200);

    /* sign, and the signature recovers to the address */
    uint8_t digest[32];
    memset(digest, 0x5a, sizeof digest);
    struct sigil_secp256k1_sig sig;
    assert_true(sigil_is_ok(sigil_eth1_keyring_sign(kr, a, digest, &sig)));
    uint8_t rec[20];
    assert_true(sigil_is_ok(sigil_secp256k1_recover_address(rec, &sig, digest)));
    assert_memory_equal(rec, a, 20);
    /* identical to signing with the key directly (RFC 6979) */
    sigil_secp256k1_sk *sk = make_key(7);
    struct sigil_secp256k1_sig sig2;
    assert_true(sigil_is_ok(sigil_secp256k1_sign(&sig2, sk, digest)));
    sigil_secp256k1_sk_free(sk);
    assert_memory_equal(&sig, &sig2, sizeof sig);
    r = sigil_eth1_keyring_sign(kr, other, digest, &sig);
    assert_int_equal(r.code, SIGIL_ERR_NOT_FOUND);

    struct sigil_eth1_key_info *list = NULL;
    size_t n = 0;
    assert_true(sigil_is_ok(sigil_eth1_keyring_list(kr, &list, &n)));
    assert_int_equal(n, 200);
    for (size_t i = 1; i < n; i++) {
        assert_true(memcmp(list[i - 1].address, list[i].address, 20) < 0);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t derived[20];
        sigil_eth1_pubkey_to_address(derived, list[i].pubkey);
        assert_memory_equal(derived, list[i].address, 20);
    }
    free(list);
    sigil_eth1_keyring_free(kr);

    /* an empty ring */
    assert_true(sigil_is_ok(sigil_eth1_keyring_new(&kr)));
    assert_int_equal(sigil_eth1_keyring_count(kr), 0);
    assert_false(sigil_eth1_keyring_has(kr, a));
    assert_true(sigil_is_ok(sigil_eth1_keyring_list(kr, &list, &n)));
    assert_int_equal(n, 0);
    free(list);
    r = sigil_eth1_keyring_resolve(kr, "0x0000000000000000000000000000000000000001", rec);
    assert_int_equal(r.code, SIGIL_ERR_NOT_FOUND);
    sigil_eth1_keyring_free(kr);
}

static void test_resolve_forms(void **state)
{
    (void)state;
    struct sigil_eth1_keyring *kr = NULL;
    assert_true(sigil_is_ok(sigil_eth1_keyring_new(&kr)));
    for (unsigned i = 0; i < 5; i++) {
        assert_true(sigil_is_ok(sigil_eth1_keyring_add(kr, make_key(i), NULL)));
    }
    uint8_t a[20], pub[65], got[20];
    key_addr(a, pub, 3);
    char buf[140];
    /* address, lower and upper case, with and without 0x */
    sigil_hex_encode(buf, a, 20, 1);
    assert_true(sigil_is_ok(sigil_eth1_keyring_resolve(kr, buf, got)));
    assert_memory_equal(got, a, 20);
    for (char *c = buf + 2; *c; c++) {
        if (*c >= 'a' && *c <= 'f') {
            *c = (char)(*c - 'a' + 'A');
        }
    }
    assert_true(sigil_is_ok(sigil_eth1_keyring_resolve(kr, buf, got)));
    assert_true(sigil_is_ok(sigil_eth1_keyring_resolve(kr, buf + 2, got)));
    /* 65-byte uncompressed */
    sigil_hex_encode(buf, pub, 65, 1);
    memset(got, 0, sizeof got);
    assert_true(sigil_is_ok(sigil_eth1_keyring_resolve(kr, buf, got)));
    assert_memory_equal(got, a, 20);
    /* 64-byte (Web3Signer's publicKeys form) */
    sigil_hex_encode(buf, pub + 1, 64, 1);
    memset(got, 0, sizeof got);
    assert_true(sigil_is_ok(sigil_eth1_keyring_resolve(kr, buf, got)));
    assert_memory_equal(got, a, 20);
    /* 33-byte compressed */
    uint8_t comp[33];
    comp[0] = (uint8_t)(0x02 | (pub[64] & 1));
    memcpy(comp + 1, pub + 1, 32);
    sigil_hex_encode(buf, comp, 33, 1);
    memset(got, 0, sizeof got);
    assert_true(sigil_is_ok(sigil_eth1_keyring_resolve(kr, buf, got)));
    assert_memory_equal(got, a, 20);
    /* the other parity is another point: not this key */
    comp[0] ^= 1;
    sigil_hex_encode(buf, comp, 33, 1);
    assert_int_equal(sigil_eth1_keyring_resolve(kr, buf, got).code, SIGIL_ERR_NOT_FOUND);

    /* a key that is not loaded */
    uint8_t a9[20], pub9[65];
    key_addr(a9, pub9, 9);
    sigil_hex_encode(buf, a9, 20, 1);
    assert_int_equal(sigil_eth1_keyring_resolve(kr, buf, got).code, SIGIL_ERR_NOT_FOUND);
    sigil_hex_encode(buf, pub9 + 1, 64, 1);
    assert_int_equal(sigil_eth1_keyring_resolve(kr, buf, got).code, SIGIL_ERR_NOT_FOUND);

    /* malformed identifiers */
    static const char *const bad[] = {
        "",
        "0x",
        "0x1234",
        "0xzz00000000000000000000000000000000000000",
        "0x000000000000000000000000000000000000000", /* odd */
        "0x05"
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",             /* 65 bytes, bad prefix */
        "0x02ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",         /* x >= p: not a point */
        "0x00000000000000000000000000000000000000000000000000000000000000000000000000", /* 37 bytes */
        " 0x0000000000000000000000000000000000000001",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sigil_result r = sigil_eth1_keyring_resolve(kr, bad[i], got);
        assert_int_equal(r.code, SIGIL_ERR_PARSE);
    }
    assert_int_equal(sigil_eth1_keyring_resolve(kr, NULL, got).code, SIGIL_ERR_PARSE);
    /* a 64-byte value that is not on the curve hashes to some address: not found, no crash */
    char junk[131] = "0x";
    memset(junk + 2, 'a', 128);
    junk[130] = '\0';
    assert_int_equal(sigil_eth1_keyring_resolve(kr, junk, got).code, SIGIL_ERR_NOT_FOUND);
    sigil_eth1_keyring_free(kr);
}

/* ---------------------------------------------------------------- directory loading */

static char g_root[256];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static void make_keystore(const char *name, unsigned key, const char *password, const char *pw_file_text, bool scrypt)
{
    sigil_secp256k1_sk *sk = make_key(key);
    struct sigil_eth1_keystore_params prm = {scrypt ? SIGIL_ETH1_KDF_SCRYPT : SIGIL_ETH1_KDF_PBKDF2, scrypt ? 16 : 2};
    char *json = NULL;
    size_t len = 0;
    assert_true(sigil_is_ok(sigil_eth1_keystore_create(&json, &len, sk, password, strlen(password), &prm)));
    sigil_secp256k1_sk_free(sk);
    char path[512];
    snprintf(path, sizeof path, "%s/ks/%s.json", g_root, name);
    write_text(path, json);
    free(json);
    if (pw_file_text != NULL) {
        snprintf(path, sizeof path, "%s/pw/%s.txt", g_root, name);
        write_text(path, pw_file_text);
    }
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void make_dirs(void)
{
    snprintf(g_root, sizeof g_root, "/tmp/sigil-eth1-keyring-XXXXXX");
    assert_non_null(mkdtemp(g_root));
    char p[512];
    snprintf(p, sizeof p, "%s/ks", g_root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/pw", g_root);
    assert_int_equal(mkdir(p, 0700), 0);
}

static void test_load_dir(void **state)
{
    (void)state;
    make_dirs();
    /* 12 good keystores: scrypt and pbkdf2, passwords with and without a trailing newline */
    for (unsigned i = 0; i < 12; i++) {
        char name[32], pw[64], pwfile[80];
        snprintf(name, sizeof name, "good-%02u", i);
        snprintf(pw, sizeof pw, "password %u \xc3\xa9", i);
        snprintf(pwfile, sizeof pwfile, i % 3 == 0 ? "%s" : i % 3 == 1 ? "%s\n" : "%s\r\n", pw);
        make_keystore(name, i, pw, pwfile, i % 2 == 0);
    }
    make_keystore("no-password", 20, "x", NULL, false);
    make_keystore("wrong-password", 21, "right", "wrong\n", false);
    make_keystore("duplicate", 3, "d", "d", false); /* the key of good-03 */
    char p[512];
    snprintf(p, sizeof p, "%s/ks/corrupt.json", g_root);
    write_text(p, "{\"version\":3,\"crypto\":");
    snprintf(p, sizeof p, "%s/pw/corrupt.txt", g_root);
    write_text(p, "x");
    snprintf(p, sizeof p, "%s/ks/readme.md", g_root); /* not .json: ignored */
    write_text(p, "hello");
    snprintf(p, sizeof p, "%s/ks/.hidden.json", g_root); /* dot file: ignored */
    write_text(p, "{}");

    char ks[512], pw[512];
    snprintf(ks, sizeof ks, "%s/ks", g_root);
    snprintf(pw, sizeof pw, "%s/pw", g_root);
    for (unsigned threads = 1; threads <= 4; threads += 3) {
        struct sigil_eth1_keyring *kr = NULL;
        assert_true(sigil_is_ok(sigil_eth1_keyring_new(&kr)));
        struct sigil_eth1_load_report rep;
        assert_true(sigil_is_ok(sigil_eth1_keyring_load_dir(kr, ks, pw, threads, &rep)));
        assert_int_equal(rep.loaded, 12);
        assert_int_equal(rep.failed, 4);
        /* files are reported in name order: corrupt.json comes first */
        assert_non_null(strstr(rep.first_error, "corrupt.json"));
        assert_int_equal(sigil_eth1_keyring_count(kr), 12);
        for (unsigned i = 0; i < 12; i++) {
            uint8_t a[20], pub[65];
            key_addr(a, pub, i);
            assert_true(sigil_eth1_keyring_has(kr, a));
        }
        uint8_t a[20], pub[65];
        key_addr(a, pub, 20);
        assert_false(sigil_eth1_keyring_has(kr, a));
        key_addr(a, pub, 21);
        assert_false(sigil_eth1_keyring_has(kr, a));
        sigil_eth1_keyring_free(kr);
    }

    /* only failures: the call fails and names the first one; wrong password keeps its code */
    char root2[512];
    snprintf(root2, sizeof root2, "%s/only-bad", g_root);
    assert_int_equal(mkdir(root2, 0700), 0);
    snprintf(p, sizeof p, "%s/ks/wrong-password.json", g_root);
    char dst[600];
    snprintf(dst, sizeof dst, "%s/w.json", root2);
    assert_int_equal(link(p, dst), 0);
    snprintf(dst, sizeof dst, "%s/w.txt", root2);
    write_text(dst, "wrong");
    struct sigil_eth1_keyring *kr = NULL;
    assert_true(sigil_is_ok(sigil_eth1_keyring_new(&kr)));
    struct sigil_eth1_load_report rep;
    sigil_result r = sigil_eth1_keyring_load_dir(kr, root2, root2, 0, &rep);
    assert_int_equal(r.code, SIGIL_ERR_KEYSTORE_PASSWORD);
    assert_int_equal(rep.loaded, 0);
    assert_int_equal(rep.failed, 1);
    assert_non_null(strstr(rep.first_error, "w.json"));
    assert_null(strstr(rep.first_error, "wrong\n"));

    /* missing .txt only */
    assert_int_equal(unlink(dst), 0);
    r = sigil_eth1_keyring_load_dir(kr, root2, root2, 0, &rep);
    assert_int_equal(r.code, SIGIL_ERR_KEYSTORE_FORMAT);
    assert_non_null(strstr(rep.first_error, "no password file w.txt"));
    sigil_eth1_keyring_free(kr);

    /* an empty directory is fine (zero keys), a missing one is an I/O error */
    char empty[512];
    snprintf(empty, sizeof empty, "%s/empty", g_root);
    assert_int_equal(mkdir(empty, 0700), 0);
    assert_true(sigil_is_ok(sigil_eth1_keyring_new(&kr)));
    assert_true(sigil_is_ok(sigil_eth1_keyring_load_dir(kr, empty, empty, 2, &rep)));
    assert_int_equal(rep.loaded, 0);
    assert_int_equal(rep.failed, 0);
    snprintf(empty, sizeof empty, "%s/does-not-exist", g_root);
    assert_int_equal(sigil_eth1_keyring_load_dir(kr, empty, empty, 2, &rep).code, SIGIL_ERR_IO);
    sigil_eth1_keyring_free(kr);

    assert_int_equal(nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* More keystores than the ring has room for: refused after the directory scan, before any
 * decryption (each may cost a scrypt of up to 1 GiB), not by the add after all of them. The
 * ring's limit is lowered here: SIGIL_ETH1_MAX_KEYS files would be 100k keystores. */
static void test_load_dir_limit(void **state)
{
    (void)state;
    make_dirs();
    for (unsigned i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "k%u", i);
        make_keystore(name, 100 + i, "pw", "pw\n", false);
    }
    make_keystore("no-password", 110, "pw", NULL, false); /* counted: it is a keystore file */
    char ks[512], pw[512];
    snprintf(ks, sizeof ks, "%s/ks", g_root);
    snprintf(pw, sizeof pw, "%s/pw", g_root);

    struct sigil_eth1_keyring *kr = NULL;
    assert_true(sigil_is_ok(sigil_eth1_keyring_new(&kr)));
    sigil_eth1_keyring_set_max_keys(kr, 4);
    struct sigil_eth1_load_report rep;
    sigil_error_clear();
    sigil_result r = sigil_eth1_keyring_load_dir(kr, ks, pw, 2, &rep);
    assert_int_equal(r.code, SIGIL_ERR_TOO_LARGE);
    assert_non_null(strstr(sigil_error_detail(), "5 eth1 keystores"));
    assert_non_null(strstr(sigil_error_detail(), "at most 4 keys"));
    assert_non_null(strstr(sigil_error_detail(), ks));
    assert_int_equal(rep.loaded, 0); /* not "4 loaded, 1 refused by the add" */
    assert_int_equal(rep.failed, 0);
    assert_int_equal(sigil_eth1_keyring_count(kr), 0);

    /* exactly at the limit: loads (the password-less file is reported, not loaded) */
    sigil_eth1_keyring_set_max_keys(kr, 5);
    assert_true(sigil_is_ok(sigil_eth1_keyring_load_dir(kr, ks, pw, 2, &rep)));
    assert_int_equal(rep.loaded, 4);
    assert_int_equal(rep.failed, 1);
    assert_int_equal(sigil_eth1_keyring_count(kr), 4);
    sigil_eth1_keyring_free(kr);

    /* keys already in the ring count against the room left */
    assert_true(sigil_is_ok(sigil_eth1_keyring_new(&kr)));
    assert_true(sigil_is_ok(sigil_eth1_keyring_add(kr, make_key(1), NULL)));
    sigil_eth1_keyring_set_max_keys(kr, 5);
    sigil_error_clear();
    r = sigil_eth1_keyring_load_dir(kr, ks, pw, 1, &rep);
    assert_int_equal(r.code, SIGIL_ERR_TOO_LARGE);
    assert_non_null(strstr(sigil_error_detail(), "1 already loaded"));
    assert_int_equal(sigil_eth1_keyring_count(kr), 1);
    /* a limit below the keys held: nothing more is added, by add or by load */
    sigil_eth1_keyring_set_max_keys(kr, 0);
    assert_int_equal(sigil_eth1_keyring_add(kr, make_key(2), NULL).code, SIGIL_ERR_TOO_LARGE);
    assert_int_equal(sigil_eth1_keyring_load_dir(kr, ks, pw, 1, &rep).code, SIGIL_ERR_TOO_LARGE);
    assert_int_equal(sigil_eth1_keyring_count(kr), 1);
    /* the limit cannot be raised past SIGIL_ETH1_MAX_KEYS; at the default, the directory loads */
    sigil_eth1_keyring_set_max_keys(kr, (size_t)SIGIL_ETH1_MAX_KEYS * 2);
    assert_true(sigil_is_ok(sigil_eth1_keyring_load_dir(kr, ks, pw, 1, &rep)));
    assert_int_equal(sigil_eth1_keyring_count(kr), 5);
    sigil_eth1_keyring_free(kr);

    assert_int_equal(nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---------------------------------------------------------------- concurrency */

struct reader_arg {
    struct sigil_eth1_keyring *kr;
    uint8_t addr[20];
    int failures;
};

static void *reader(void *p)
{
    struct reader_arg *ra = p;
    uint8_t digest[32] = {9};
    for (int i = 0; i < 2000; i++) {
        struct sigil_secp256k1_sig sig;
        digest[1] = (uint8_t)i;
        if (!sigil_is_ok(sigil_eth1_keyring_sign(ra->kr, ra->addr, digest, &sig))) {
            ra->failures++;
        }
        if (!sigil_eth1_keyring_has(ra->kr, ra->addr)) {
            ra->failures++;
        }
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    struct sigil_eth1_keyring *kr = NULL;
    assert_true(sigil_is_ok(sigil_eth1_keyring_new(&kr)));
    struct reader_arg ra[4];
    pthread_t t[4];
    for (unsigned i = 0; i < 4; i++) {
        ra[i].kr = kr;
        ra[i].failures = 0;
        assert_true(sigil_is_ok(sigil_eth1_keyring_add(kr, make_key(1000 + i), ra[i].addr)));
    }
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, reader, &ra[i]), 0);
    }
    for (unsigned i = 0; i < 300; i++) { /* resizes under the readers' feet */
        assert_true(sigil_is_ok(sigil_eth1_keyring_add(kr, make_key(i), NULL)));
    }
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(ra[i].failures, 0);
    }
    assert_int_equal(sigil_eth1_keyring_count(kr), 304);
    size_t before = sigil_secure_in_use();
    sigil_eth1_keyring_free(kr);
    assert_true(sigil_secure_in_use() < before);
}

int main(void)
{
    sigil_log_init(SIGIL_LOG_ERROR, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_sign_list),  cmocka_unit_test(test_resolve_forms), cmocka_unit_test(test_load_dir),
        cmocka_unit_test(test_load_dir_limit), cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
