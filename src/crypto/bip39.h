/* BIP-39 mnemonics: generation, validation, entropy <-> words, and the PBKDF2 seed.
 *
 * Wordlists come from Debian's python3-mnemonic package and are compiled in at build time
 * (cmake/GenWordlists.cmake). Matching is done on NFKD forms, so a mnemonic typed with composed
 * accents (NFC) or with ideographic spaces between Japanese words is accepted.
 * Every buffer that holds a mnemonic, a passphrase or a seed is secure memory. */
#ifndef SIGIL_CRYPTO_BIP39_H
#define SIGIL_CRYPTO_BIP39_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

#define SIGIL_BIP39_SEED_LEN     64
#define SIGIL_BIP39_MAX_ENTROPY  32 /* 256 bits, 24 words */
#define SIGIL_BIP39_MAX_WORDS    24
#define SIGIL_BIP39_MAX_MNEMONIC 4096 /* bytes of mnemonic input we accept at all */

enum sigil_bip39_lang {
    SIGIL_BIP39_ENGLISH = 0,
    SIGIL_BIP39_SPANISH,
    SIGIL_BIP39_FRENCH,
    SIGIL_BIP39_ITALIAN,
    SIGIL_BIP39_JAPANESE,
    SIGIL_BIP39_KOREAN,
    SIGIL_BIP39_CHINESE_SIMPLIFIED,
    SIGIL_BIP39_CHINESE_TRADITIONAL,
    SIGIL_BIP39_LANG_COUNT,
    SIGIL_BIP39_AUTO = -1 /* validation only: detect the language from the words */
};

/* Returns the language's file name ("english", "chinese_simplified", ...) or NULL. */
const char *sigil_bip39_lang_name(enum sigil_bip39_lang lang);

/* Looks a language up by its name as above (also accepts "auto"). SIGIL_ERR_ARG when unknown. */
SIGIL_RESULT sigil_bip39_lang_from_name(enum sigil_bip39_lang *out, const char *name);

/* Returns word idx (0..2047) of lang as shipped in the wordlist file, or NULL when out of range. */
const char *sigil_bip39_word(enum sigil_bip39_lang lang, unsigned idx);

/* Returns the SHA-256 (hex) of the wordlist file the table was generated from, or NULL. */
const char *sigil_bip39_wordlist_sha256(enum sigil_bip39_lang lang);

/* Encodes entropy (16, 20, 24, 28 or 32 bytes) as a mnemonic in lang: words joined by a space,
 * or by U+3000 for Japanese, exactly as the reference implementation prints them.
 * Out: *out is a NUL-terminated string in secure memory (free with sigil_secure_free), *out_len
 * its length. Errors: SIGIL_ERR_BIP39_LENGTH for another entropy size, SIGIL_ERR_ARG, NOMEM. */
SIGIL_RESULT sigil_bip39_entropy_to_mnemonic(char **out, size_t *out_len, const uint8_t *entropy, size_t entropy_len,
                                             enum sigil_bip39_lang lang);

/* Generates a fresh mnemonic from strength_bits (128, 160, 192, 224 or 256) of OS randomness.
 * Output as for sigil_bip39_entropy_to_mnemonic. SIGIL_ERR_RNG when the OS source fails. */
SIGIL_RESULT sigil_bip39_generate(char **out, size_t *out_len, unsigned strength_bits, enum sigil_bip39_lang lang);

/* Decodes and validates a mnemonic (UTF-8, any Unicode normalisation form, words separated by
 * any run of spaces, tabs, newlines or U+3000). With lang == SIGIL_BIP39_AUTO the first language
 * (in enum order) that contains every word and whose checksum verifies is used.
 * Out: entropy (up to 32 bytes, *entropy_len set) and, when detected != NULL, the language.
 * entropy may be NULL to only validate. Errors: SIGIL_ERR_BIP39_LENGTH (not 12/15/18/21/24
 * words), SIGIL_ERR_BIP39_WORD (detail names the 1-based position, never the word),
 * SIGIL_ERR_BIP39_CHECKSUM, SIGIL_ERR_UNICODE, SIGIL_ERR_TOO_LARGE. */
SIGIL_RESULT sigil_bip39_mnemonic_to_entropy(uint8_t *entropy, size_t *entropy_len, enum sigil_bip39_lang *detected,
                                             const char *mnemonic, size_t mnemonic_len, enum sigil_bip39_lang lang);

/* Validation only: as sigil_bip39_mnemonic_to_entropy without the entropy. */
SIGIL_RESULT sigil_bip39_validate(enum sigil_bip39_lang *detected, const char *mnemonic, size_t mnemonic_len,
                                  enum sigil_bip39_lang lang);

/* BIP-39 seed: PBKDF2-HMAC-SHA512(NFKD(mnemonic), "mnemonic" || NFKD(passphrase), 2048, 64).
 * Like the reference implementation this does not validate the mnemonic (call
 * sigil_bip39_validate first when the words must be a real BIP-39 mnemonic). passphrase may be
 * NULL when passphrase_len is 0. Errors: SIGIL_ERR_UNICODE, SIGIL_ERR_TOO_LARGE, CRYPTO, NOMEM. */
SIGIL_RESULT sigil_bip39_to_seed(uint8_t seed[SIGIL_BIP39_SEED_LEN], const char *mnemonic, size_t mnemonic_len,
                                 const char *passphrase, size_t passphrase_len);

/* NFKD of len bytes of UTF-8 into secure memory (NUL-terminated; free with sigil_secure_free).
 * Shared with the keystore password rules. SIGIL_ERR_UNICODE on invalid UTF-8. */
SIGIL_RESULT sigil_bip39_nfkd(char **out, size_t *out_len, const char *in, size_t len);

#endif
