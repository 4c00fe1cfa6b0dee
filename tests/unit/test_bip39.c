/* Unit tests for src/crypto/bip39: the trezor/python-mnemonic and staking-deposit-cli vectors
 * for every language we have a wordlist for, plus hostile and edge-case mnemonics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/hex.h"
#include "common/secmem.h"
#include "crypto/bip39.h"

static char vectors_dir[4096];

static json_t *load_json(const char *rel)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", vectors_dir, rel);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (j == NULL) {
        fail_msg("cannot load %s: %s", path, err.text);
    }
    return j;
}

static void hex_to(uint8_t *out, size_t n, const char *hex)
{
    assert_true(sigil_is_ok(sigil_hex_decode_exact(out, n, hex, strlen(hex))));
}

/* Runs every case of a {language: [[entropy, mnemonic, seed, xprv], ...]} file; returns the
 * number of cases checked and counts languages without a wordlist in *skipped. */
static size_t run_vector_file(const char *rel, size_t *skipped)
{
    json_t *root = load_json(rel);
    const char *lang_name;
    json_t *cases;
    size_t checked = 0;
    *skipped = 0;
    json_object_foreach(root, lang_name, cases)
    {
        enum sigil_bip39_lang lang;
        if (!sigil_is_ok(sigil_bip39_lang_from_name(&lang, lang_name))) {
            printf("note: %s: skipping %zu '%s' cases: Debian's python3-mnemonic ships no %s wordlist\n", rel,
                   json_array_size(cases), lang_name, lang_name);
            (*skipped)++;
            continue;
        }
        size_t i;
        json_t *c;
        json_array_foreach(cases, i, c)
        {
            const char *ent_hex = json_string_value(json_array_get(c, 0));
            const char *mnemonic = json_string_value(json_array_get(c, 1));
            const char *seed_hex = json_string_value(json_array_get(c, 2));
            assert_non_null(ent_hex);
            assert_non_null(mnemonic);
            assert_non_null(seed_hex);
            uint8_t ent[32], got_ent[32], seed[64], want_seed[64];
            size_t ent_len = strlen(ent_hex) / 2, got_len = 0;
            hex_to(ent, ent_len, ent_hex);
            hex_to(want_seed, 64, seed_hex);

            char *m = NULL;
            size_t m_len = 0;
            assert_true(sigil_is_ok(sigil_bip39_entropy_to_mnemonic(&m, &m_len, ent, ent_len, lang)));
            assert_true(sigil_secure_owns(m));
            assert_string_equal(m, mnemonic);
            assert_int_equal(m_len, strlen(mnemonic));
            sigil_secure_free(m);

            enum sigil_bip39_lang det = SIGIL_BIP39_AUTO;
            assert_true(sigil_is_ok(
                sigil_bip39_mnemonic_to_entropy(got_ent, &got_len, &det, mnemonic, strlen(mnemonic), lang)));
            assert_int_equal(det, lang);
            assert_int_equal(got_len, ent_len);
            assert_memory_equal(got_ent, ent, ent_len);

            /* Auto-detection must accept it too; the two Chinese lists share words, so the
             * detected language may differ, but the entropy must round-trip through it. */
            assert_true(sigil_is_ok(sigil_bip39_mnemonic_to_entropy(got_ent, &got_len, &det, mnemonic, strlen(mnemonic),
                                                                    SIGIL_BIP39_AUTO)));
            if (det == lang) {
                assert_memory_equal(got_ent, ent, ent_len);
            } else {
                assert_true(lang == SIGIL_BIP39_CHINESE_SIMPLIFIED || lang == SIGIL_BIP39_CHINESE_TRADITIONAL);
            }

            assert_true(sigil_is_ok(sigil_bip39_to_seed(seed, mnemonic, strlen(mnemonic), "TREZOR", 6)));
            assert_memory_equal(seed, want_seed, 64);
            checked++;
        }
    }
    json_decref(root);
    return checked;
}

static void test_trezor_vectors(void **state)
{
    (void)state;
    size_t skipped;
    size_t n = run_vector_file("bip39/vectors.json", &skipped);
    /* 8 languages with wordlists x 24 cases; czech, portuguese, russian, turkish skipped. */
    assert_int_equal(n, 8 * 24);
    assert_int_equal(skipped, 4);
    printf("bip39/vectors.json: %zu cases checked, %zu languages skipped\n", n, skipped);
}

static void test_staking_deposit_cli_vectors(void **state)
{
    (void)state;
    size_t skipped;
    size_t n = run_vector_file("bip39/staking-deposit-cli/mnemonic.json", &skipped);
    /* 7 languages in the file; portuguese has no Debian wordlist. */
    assert_int_equal(n, 6 * 24);
    assert_int_equal(skipped, 1);
    printf("bip39/staking-deposit-cli/mnemonic.json: %zu cases checked, %zu languages skipped\n", n, skipped);
}

static void test_english_table_matches_reference_file(void **state)
{
    (void)state;
    /* The generated table, joined back into a file, must hash like the canonical english.txt. */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    for (unsigned i = 0; i < 2048; i++) {
        const char *w = sigil_bip39_word(SIGIL_BIP39_ENGLISH, i);
        assert_non_null(w);
        EVP_DigestUpdate(ctx, w, strlen(w));
        EVP_DigestUpdate(ctx, "\n", 1);
    }
    uint8_t md[32];
    assert_int_equal(EVP_DigestFinal_ex(ctx, md, NULL), 1);
    EVP_MD_CTX_free(ctx);
    char hex[67];
    sigil_hex_encode(hex, md, 32, 0);
    assert_string_equal(hex, "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda");
    assert_string_equal(sigil_bip39_wordlist_sha256(SIGIL_BIP39_ENGLISH), hex);
    assert_null(sigil_bip39_word(SIGIL_BIP39_ENGLISH, 2048));
    assert_null(sigil_bip39_word(SIGIL_BIP39_LANG_COUNT, 0));
    for (int l = 0; l < SIGIL_BIP39_LANG_COUNT; l++) {
        assert_int_equal(strlen(sigil_bip39_wordlist_sha256((enum sigil_bip39_lang)l)), 64);
    }
}

static const char ABOUT[] =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

static void test_bad_checksum(void **state)
{
    (void)state;
    const char *m = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon";
    sigil_result r = sigil_bip39_validate(NULL, m, strlen(m), SIGIL_BIP39_ENGLISH);
    assert_int_equal(r.code, SIGIL_ERR_BIP39_CHECKSUM);
    r = sigil_bip39_validate(NULL, m, strlen(m), SIGIL_BIP39_AUTO);
    assert_int_equal(r.code, SIGIL_ERR_BIP39_CHECKSUM);
    /* 24 words, last word altered. */
    const char *m24 = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo";
    r = sigil_bip39_validate(NULL, m24, strlen(m24), SIGIL_BIP39_ENGLISH);
    assert_int_equal(r.code, SIGIL_ERR_BIP39_CHECKSUM);
}

static void test_unknown_word(void **state)
{
    (void)state;
    const char *m = "abandon abandon abandon abandon abandon abandonx abandon abandon abandon abandon abandon about";
    sigil_result r = sigil_bip39_validate(NULL, m, strlen(m), SIGIL_BIP39_ENGLISH);
    assert_int_equal(r.code, SIGIL_ERR_BIP39_WORD);
    assert_non_null(strstr(sigil_error_detail(), "word 6"));
    assert_null(strstr(sigil_error_detail(), "abandonx")); /* never echo mnemonic words */
    r = sigil_bip39_validate(NULL, m, strlen(m), SIGIL_BIP39_AUTO);
    assert_int_equal(r.code, SIGIL_ERR_BIP39_WORD);
    /* A valid English mnemonic is not Spanish. */
    r = sigil_bip39_validate(NULL, ABOUT, strlen(ABOUT), SIGIL_BIP39_SPANISH);
    assert_int_equal(r.code, SIGIL_ERR_BIP39_WORD);
    /* A very long token is just an unknown word. */
    char longm[600];
    snprintf(longm, sizeof longm, "%s %0200d",
             "abandon abandon abandon abandon abandon abandon abandon abandon abandon "
             "abandon abandon",
             7);
    r = sigil_bip39_validate(NULL, longm, strlen(longm), SIGIL_BIP39_ENGLISH);
    assert_int_equal(r.code, SIGIL_ERR_BIP39_WORD);
    /* Invalid UTF-8. */
    const char bad[] = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \xff";
    r = sigil_bip39_validate(NULL, bad, strlen(bad), SIGIL_BIP39_ENGLISH);
    assert_int_equal(r.code, SIGIL_ERR_UNICODE);
}

static void test_wrong_length(void **state)
{
    (void)state;
    const char *cases[] = {
        "",
        "   ",
        "abandon",
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sigil_result r = sigil_bip39_validate(NULL, cases[i], strlen(cases[i]), SIGIL_BIP39_AUTO);
        assert_int_equal(r.code, SIGIL_ERR_BIP39_LENGTH);
    }
    uint8_t ent[33] = {0};
    char *m = NULL;
    size_t ml;
    assert_int_equal(sigil_bip39_entropy_to_mnemonic(&m, &ml, ent, 15, SIGIL_BIP39_ENGLISH).code,
                     SIGIL_ERR_BIP39_LENGTH);
    assert_int_equal(sigil_bip39_entropy_to_mnemonic(&m, &ml, ent, 33, SIGIL_BIP39_ENGLISH).code,
                     SIGIL_ERR_BIP39_LENGTH);
    assert_int_equal(sigil_bip39_entropy_to_mnemonic(&m, &ml, ent, 18, SIGIL_BIP39_ENGLISH).code,
                     SIGIL_ERR_BIP39_LENGTH);
    assert_int_equal(sigil_bip39_generate(&m, &ml, 100, SIGIL_BIP39_ENGLISH).code, SIGIL_ERR_BIP39_LENGTH);
    assert_int_equal(sigil_bip39_generate(&m, &ml, 512, SIGIL_BIP39_ENGLISH).code, SIGIL_ERR_BIP39_LENGTH);
    assert_null(m);
    /* Oversized input is refused before any work. */
    char *huge = malloc(SIGIL_BIP39_MAX_MNEMONIC + 2);
    assert_non_null(huge);
    memset(huge, 'a', SIGIL_BIP39_MAX_MNEMONIC + 1);
    huge[SIGIL_BIP39_MAX_MNEMONIC + 1] = 0;
    assert_int_equal(sigil_bip39_validate(NULL, huge, SIGIL_BIP39_MAX_MNEMONIC + 1, SIGIL_BIP39_AUTO).code,
                     SIGIL_ERR_TOO_LARGE);
    free(huge);
}

static void test_normalisation_and_separators(void **state)
{
    (void)state;
    /* Composed (NFC) "ábaco" must match the decomposed wordlist entry. */
    const char *nfc = "\xc3\xa1"
                      "baco \xc3\xa1"
                      "baco \xc3\xa1"
                      "baco \xc3\xa1"
                      "baco \xc3\xa1"
                      "baco \xc3\xa1"
                      "baco \xc3\xa1"
                      "baco \xc3\xa1"
                      "baco \xc3\xa1"
                      "baco \xc3\xa1"
                      "baco \xc3\xa1"
                      "baco abierto";
    enum sigil_bip39_lang det;
    assert_true(sigil_is_ok(sigil_bip39_validate(&det, nfc, strlen(nfc), SIGIL_BIP39_AUTO)));
    assert_int_equal(det, SIGIL_BIP39_SPANISH);
    /* Extra whitespace, tabs and newlines between words. */
    const char *messy = "  abandon\tabandon abandon  abandon abandon abandon\nabandon abandon abandon abandon abandon "
                        "about\n";
    assert_true(sigil_is_ok(sigil_bip39_validate(&det, messy, strlen(messy), SIGIL_BIP39_AUTO)));
    assert_int_equal(det, SIGIL_BIP39_ENGLISH);
    /* The seed is over NFKD, so NFC and NFKD spellings give the same seed. */
    uint8_t s1[64], s2[64];
    char *m = NULL;
    size_t ml;
    uint8_t zero[16] = {0};
    assert_true(sigil_is_ok(sigil_bip39_entropy_to_mnemonic(&m, &ml, zero, 16, SIGIL_BIP39_SPANISH)));
    assert_true(sigil_is_ok(sigil_bip39_to_seed(s1, nfc, strlen(nfc), "", 0)));
    assert_true(sigil_is_ok(sigil_bip39_to_seed(s2, m, ml, NULL, 0)));
    assert_memory_equal(s1, s2, 64);
    sigil_secure_free(m);
    /* Japanese generation joins with U+3000; ASCII spaces validate too. */
    assert_true(sigil_is_ok(sigil_bip39_entropy_to_mnemonic(&m, &ml, zero, 16, SIGIL_BIP39_JAPANESE)));
    assert_non_null(strstr(m, "\xe3\x80\x80"));
    char ascii[1024];
    size_t o = 0;
    for (size_t i = 0; i < ml;) {
        if (i + 3 <= ml && memcmp(m + i, "\xe3\x80\x80", 3) == 0) {
            ascii[o++] = ' ';
            i += 3;
        } else {
            ascii[o++] = m[i++];
        }
    }
    ascii[o] = 0;
    assert_true(sigil_is_ok(sigil_bip39_validate(&det, ascii, o, SIGIL_BIP39_JAPANESE)));
    sigil_secure_free(m);
}

static void test_generate_round_trip(void **state)
{
    (void)state;
    for (int l = 0; l < SIGIL_BIP39_LANG_COUNT; l++) {
        for (unsigned bits = 128; bits <= 256; bits += 32) {
            char *m = NULL;
            size_t ml = 0;
            assert_true(sigil_is_ok(sigil_bip39_generate(&m, &ml, bits, (enum sigil_bip39_lang)l)));
            uint8_t ent[32];
            size_t el;
            enum sigil_bip39_lang det;
            assert_true(sigil_is_ok(sigil_bip39_mnemonic_to_entropy(ent, &el, &det, m, ml, (enum sigil_bip39_lang)l)));
            assert_int_equal(el, bits / 8);
            char *m2 = NULL;
            size_t ml2;
            assert_true(sigil_is_ok(sigil_bip39_entropy_to_mnemonic(&m2, &ml2, ent, el, (enum sigil_bip39_lang)l)));
            assert_string_equal(m, m2);
            sigil_secure_free(m);
            sigil_secure_free(m2);
        }
    }
    /* Validation and seeding return all their secure memory. */
    size_t base = sigil_secure_in_use();
    uint8_t seed[64];
    assert_true(sigil_is_ok(sigil_bip39_validate(NULL, ABOUT, strlen(ABOUT), SIGIL_BIP39_AUTO)));
    assert_int_equal(sigil_bip39_validate(NULL, ABOUT, strlen(ABOUT) - 1, SIGIL_BIP39_AUTO).code, SIGIL_ERR_BIP39_WORD);
    assert_true(sigil_is_ok(sigil_bip39_to_seed(seed, ABOUT, strlen(ABOUT), "TREZOR", 6)));
    assert_int_equal(sigil_secure_in_use(), base);
    enum sigil_bip39_lang lang;
    assert_true(sigil_is_ok(sigil_bip39_lang_from_name(&lang, "korean")));
    assert_int_equal(lang, SIGIL_BIP39_KOREAN);
    assert_false(sigil_is_ok(sigil_bip39_lang_from_name(&lang, "czech")));
}

int main(void)
{
    const char *v = getenv("SIGIL_VECTORS");
    struct stat st;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/bip39", v ? v : "");
    if (v == NULL || stat(probe, &st) != 0) {
        printf("skipped: SIGIL_VECTORS/bip39 not found\n");
        return 77;
    }
    snprintf(vectors_dir, sizeof vectors_dir, "%s", v);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trezor_vectors),
        cmocka_unit_test(test_staking_deposit_cli_vectors),
        cmocka_unit_test(test_english_table_matches_reference_file),
        cmocka_unit_test(test_bad_checksum),
        cmocka_unit_test(test_unknown_word),
        cmocka_unit_test(test_wrong_length),
        cmocka_unit_test(test_normalisation_and_separators),
        cmocka_unit_test(test_generate_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
