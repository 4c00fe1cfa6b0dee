#include "crypto/bip39.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>
#include <uninorm.h>

#include "common/secmem.h"

/* Tables generated from the python3-mnemonic files (build/gen/bip39_wordlists.c). */
#define SIGIL_BIP39_GEN(lang)                                                                                          \
    extern const char *const sigil_bip39_words_##lang[2048];                                                           \
    extern const char sigil_bip39_sha256_##lang[];
SIGIL_BIP39_GEN(english)
SIGIL_BIP39_GEN(spanish)
SIGIL_BIP39_GEN(french)
SIGIL_BIP39_GEN(italian)
SIGIL_BIP39_GEN(japanese)
SIGIL_BIP39_GEN(korean)
SIGIL_BIP39_GEN(chinese_simplified)
SIGIL_BIP39_GEN(chinese_traditional)
#undef SIGIL_BIP39_GEN

#define WORDS      2048
#define SLOT       64 /* bytes per padded word; the longest NFKD word (Korean) is 33 bytes */
#define SLOT_WORDS (SLOT / 8)
#define NFKD_MAX   65536 /* no legitimate mnemonic, passphrase or password is this long */

static const struct {
    const char *name;
    const char *const *words;
    const char *sha256;
} langs[SIGIL_BIP39_LANG_COUNT] = {
    [SIGIL_BIP39_ENGLISH] = {"english", sigil_bip39_words_english, sigil_bip39_sha256_english},
    [SIGIL_BIP39_SPANISH] = {"spanish", sigil_bip39_words_spanish, sigil_bip39_sha256_spanish},
    [SIGIL_BIP39_FRENCH] = {"french", sigil_bip39_words_french, sigil_bip39_sha256_french},
    [SIGIL_BIP39_ITALIAN] = {"italian", sigil_bip39_words_italian, sigil_bip39_sha256_italian},
    [SIGIL_BIP39_JAPANESE] = {"japanese", sigil_bip39_words_japanese, sigil_bip39_sha256_japanese},
    [SIGIL_BIP39_KOREAN] = {"korean", sigil_bip39_words_korean, sigil_bip39_sha256_korean},
    [SIGIL_BIP39_CHINESE_SIMPLIFIED] = {"chinese_simplified", sigil_bip39_words_chinese_simplified,
                                        sigil_bip39_sha256_chinese_simplified},
    [SIGIL_BIP39_CHINESE_TRADITIONAL] = {"chinese_traditional", sigil_bip39_words_chinese_traditional,
                                         sigil_bip39_sha256_chinese_traditional},
};

/* Fixed-width copies of every list: `norm` holds the NFKD form (what input words are compared
 * with), `raw` the file form (what generation prints). Fixed width lets both the lookup and the
 * index -> word selection touch every slot, so neither leaks a word index through the cache. */
struct padded_list {
    uint64_t norm[WORDS][SLOT_WORDS];
    uint64_t raw[WORDS][SLOT_WORDS];
    uint8_t raw_len[WORDS];
};

static struct padded_list *tables[SIGIL_BIP39_LANG_COUNT];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static enum sigil_err tables_err = SIGIL_OK;

static bool lang_ok(enum sigil_bip39_lang lang) { return (int)lang >= 0 && lang < SIGIL_BIP39_LANG_COUNT; }

static void tables_init(void)
{
    for (int l = 0; l < SIGIL_BIP39_LANG_COUNT; l++) {
        struct padded_list *t = calloc(1, sizeof(*t));
        if (t == NULL) {
            tables_err = SIGIL_ERR_NOMEM;
            return;
        }
        for (unsigned i = 0; i < WORDS; i++) {
            const char *w = langs[l].words[i];
            size_t wl = strlen(w);
            uint8_t buf[4 * SLOT];
            size_t nl = sizeof(buf);
            uint8_t *n = u8_normalize(UNINORM_NFKD, (const uint8_t *)w, wl, buf, &nl);
            if (n == NULL || wl >= SLOT || nl >= SLOT) {
                /* The generator checked the file hashes, so this means a broken libunistring. */
                if (n != NULL && n != buf) {
                    free(n);
                }
                free(t);
                tables_err = SIGIL_ERR_INTERNAL;
                return;
            }
            memcpy(t->norm[i], n, nl);
            if (n != buf) {
                free(n);
            }
            memcpy(t->raw[i], w, wl + 1); /* wl < SLOT, checked above; the NUL lands in the zero padding */
            t->raw_len[i] = (uint8_t)wl;
        }
        tables[l] = t;
    }
}

static sigil_result tables_get(void)
{
    if (pthread_once(&tables_once, tables_init) != 0) {
        return sigil_error(SIGIL_ERR_INTERNAL);
    }
    return sigil_error(tables_err);
}

const char *sigil_bip39_lang_name(enum sigil_bip39_lang lang) { return lang_ok(lang) ? langs[lang].name : NULL; }

sigil_result sigil_bip39_lang_from_name(enum sigil_bip39_lang *out, const char *name)
{
    if (name == NULL) {
        return sigil_error(SIGIL_ERR_ARG);
    }
    if (strcmp(name, "auto") == 0) {
        *out = SIGIL_BIP39_AUTO;
        return sigil_ok();
    }
    for (int l = 0; l < SIGIL_BIP39_LANG_COUNT; l++) {
        if (strcmp(name, langs[l].name) == 0) {
            *out = (enum sigil_bip39_lang)l;
            return sigil_ok();
        }
    }
    return sigil_errorf(SIGIL_ERR_ARG, "unknown BIP-39 language '%.40s'", name);
}

const char *sigil_bip39_word(enum sigil_bip39_lang lang, unsigned idx)
{
    return lang_ok(lang) && idx < WORDS ? langs[lang].words[idx] : NULL;
}

const char *sigil_bip39_wordlist_sha256(enum sigil_bip39_lang lang)
{
    return lang_ok(lang) ? langs[lang].sha256 : NULL;
}

sigil_result sigil_bip39_nfkd(char **out, size_t *out_len, const char *in, size_t len)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    uint8_t *buf = NULL;
    *out = NULL;
    *out_len = 0;
    if (len > NFKD_MAX) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "text is %zu bytes, at most %d allowed", len, NFKD_MAX);
    }
    if (len > 0 && u8_check((const uint8_t *)in, len) != NULL) {
        return sigil_errorf(SIGIL_ERR_UNICODE, "text is not valid UTF-8");
    }
    /* NFKD rarely grows text by more than 3x; when it does, libunistring returns a malloc'ed
     * result, which is copied into secure memory and wiped. */
    size_t cap = 4 * len + 16;
    buf = sigil_secure_alloc(cap + 1);
    SIGIL_ENSURE_GOTO(buf != NULL, SIGIL_ERR_NOMEM);
    size_t rl = cap;
    uint8_t *r = len == 0 ? buf : u8_normalize(UNINORM_NFKD, (const uint8_t *)in, len, buf, &rl);
    if (len == 0) {
        rl = 0;
    }
    if (r == NULL) {
        ret = sigil_errorf(errno == ENOMEM ? SIGIL_ERR_NOMEM : SIGIL_ERR_UNICODE, "Unicode normalisation failed");
        goto out;
    }
    if (r != buf) {
        sigil_secure_free(buf);
        buf = sigil_secure_alloc(rl + 1);
        if (buf != NULL) {
            memcpy(buf, r, rl);
        }
        sigil_wipe(r, rl);
        free(r);
        SIGIL_ENSURE_GOTO(buf != NULL, SIGIL_ERR_NOMEM);
    }
    buf[rl] = 0;
    *out = (char *)buf;
    *out_len = rl;
    buf = NULL;
    ret = sigil_ok();
out:
    sigil_secure_free(buf);
    return ret;
}

/* 1 when the two padded slots are equal, 0 otherwise, without branching on their contents. */
static uint64_t slot_eq(const uint64_t a[SLOT_WORDS], const uint64_t b[SLOT_WORDS])
{
    uint64_t d = 0;
    for (int i = 0; i < SLOT_WORDS; i++) {
        d |= a[i] ^ b[i];
    }
    return 1 ^ ((d | (0 - d)) >> 63);
}

/* Index of the padded word w in list t, scanning all 2048 slots; *found is 0 or 1. */
static uint32_t lookup_ct(const struct padded_list *t, const uint64_t w[SLOT_WORDS], uint32_t *found)
{
    uint64_t idx = 0, any = 0;
    for (uint64_t i = 0; i < WORDS; i++) {
        uint64_t eq = slot_eq(t->norm[i], w);
        idx |= i & (0 - eq);
        any |= eq;
    }
    *found = (uint32_t)any;
    return (uint32_t)idx;
}

static bool is_sep(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Secrets of one decode, wiped together. */
struct decode_scratch {
    uint64_t word[SIGIL_BIP39_MAX_WORDS][SLOT_WORDS];
    uint8_t bits[33]; /* 24 * 11 = 264 bits */
    uint8_t hash[SHA256_DIGEST_LENGTH];
};

sigil_result sigil_bip39_mnemonic_to_entropy(uint8_t *entropy, size_t *entropy_len, enum sigil_bip39_lang *detected,
                                             const char *mnemonic, size_t mnemonic_len, enum sigil_bip39_lang lang)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    char *norm = NULL;
    size_t norm_len = 0;
    struct decode_scratch *s = NULL;
    if (entropy_len != NULL) {
        *entropy_len = 0;
    }
    SIGIL_ENSURE_GOTO(mnemonic != NULL && (lang == SIGIL_BIP39_AUTO || lang_ok(lang)), SIGIL_ERR_ARG);
    if (mnemonic_len > SIGIL_BIP39_MAX_MNEMONIC) {
        ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "mnemonic is %zu bytes, at most %d allowed", mnemonic_len,
                           SIGIL_BIP39_MAX_MNEMONIC);
        goto out;
    }
    SIGIL_GUARD_GOTO(tables_get());
    s = sigil_secure_alloc(sizeof(*s));
    SIGIL_ENSURE_GOTO(s != NULL, SIGIL_ERR_NOMEM);
    /* NFKD maps U+3000 (the Japanese separator) to U+0020, so one ASCII split covers all. */
    SIGIL_GUARD_GOTO(sigil_bip39_nfkd(&norm, &norm_len, mnemonic, mnemonic_len));

    size_t n = 0;
    bool too_long_word = false;
    size_t too_long_pos = 0;
    for (size_t i = 0; i < norm_len;) {
        if (is_sep((uint8_t)norm[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < norm_len && !is_sep((uint8_t)norm[j])) {
            j++;
        }
        if (n < SIGIL_BIP39_MAX_WORDS) {
            if (j - i >= SLOT) {
                /* Cannot be in any list; remembered so the length error still takes priority. */
                if (!too_long_word) {
                    too_long_pos = n + 1;
                }
                too_long_word = true;
            } else {
                memcpy(s->word[n], norm + i, j - i);
            }
        }
        n++;
        i = j;
    }
    if (n < 12 || n > 24 || n % 3 != 0) {
        ret = sigil_errorf(SIGIL_ERR_BIP39_LENGTH, "mnemonic has %zu words; BIP-39 allows 12, 15, 18, 21 or 24", n);
        goto out;
    }
    if (too_long_word) {
        ret = sigil_errorf(SIGIL_ERR_BIP39_WORD, "word %zu is not in the BIP-39 wordlist", too_long_pos);
        goto out;
    }

    const size_t ent_bits = n * 11 * 32 / 33, cs_bits = n * 11 - ent_bits, ent_bytes = ent_bits / 8;
    int first = lang == SIGIL_BIP39_AUTO ? 0 : (int)lang;
    int last = lang == SIGIL_BIP39_AUTO ? SIGIL_BIP39_LANG_COUNT - 1 : (int)lang;
    size_t best_found = 0, best_missing = 1;
    int best_lang = first;
    bool checksum_failed = false;
    for (int l = first; l <= last; l++) {
        memset(s->bits, 0, sizeof(s->bits));
        size_t found_count = 0, first_missing = 0;
        for (size_t w = 0; w < n; w++) {
            uint32_t found;
            uint32_t idx = lookup_ct(tables[l], s->word[w], &found);
            /* Whether a word is in a list is public: the error path reports it. */
            if (!found) {
                if (first_missing == 0) {
                    first_missing = w + 1;
                }
                continue;
            }
            found_count++;
            for (int b = 0; b < 11; b++) {
                size_t pos = w * 11 + (size_t)b;
                s->bits[pos / 8] |= (uint8_t)(((idx >> (10 - b)) & 1) << (7 - pos % 8));
            }
        }
        if (found_count > best_found) {
            best_found = found_count;
            best_missing = first_missing;
            best_lang = l;
        }
        if (found_count != n) {
            continue;
        }
        SHA256(s->bits, ent_bytes, s->hash);
        /* cs_bits <= 8; the checksum sits right after the entropy bytes. */
        uint8_t want = (uint8_t)(s->hash[0] >> (8 - cs_bits));
        uint8_t got = (uint8_t)(s->bits[ent_bytes] >> (8 - cs_bits));
        if (want != got) {
            checksum_failed = true;
            continue;
        }
        if (entropy != NULL) {
            memcpy(entropy, s->bits, ent_bytes);
        }
        if (entropy_len != NULL) {
            *entropy_len = ent_bytes;
        }
        if (detected != NULL) {
            *detected = (enum sigil_bip39_lang)l;
        }
        ret = sigil_ok();
        goto out;
    }
    if (checksum_failed) {
        ret = sigil_errorf(SIGIL_ERR_BIP39_CHECKSUM, "mnemonic checksum does not match");
    } else {
        ret = sigil_errorf(SIGIL_ERR_BIP39_WORD, "word %zu is not in the %s wordlist", best_missing,
                           lang == SIGIL_BIP39_AUTO && best_found == 0 ? "BIP-39" : langs[best_lang].name);
    }
out:
    sigil_secure_free(norm);
    sigil_secure_free(s);
    return ret;
}

sigil_result sigil_bip39_validate(enum sigil_bip39_lang *detected, const char *mnemonic, size_t mnemonic_len,
                                  enum sigil_bip39_lang lang)
{
    return sigil_bip39_mnemonic_to_entropy(NULL, NULL, detected, mnemonic, mnemonic_len, lang);
}

/* Secrets of one encode, wiped together. */
struct encode_scratch {
    uint8_t bits[33];
    uint8_t hash[SHA256_DIGEST_LENGTH];
    uint64_t slot[SLOT_WORDS];
};

sigil_result sigil_bip39_entropy_to_mnemonic(char **out, size_t *out_len, const uint8_t *entropy, size_t entropy_len,
                                             enum sigil_bip39_lang lang)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    struct encode_scratch *s = NULL;
    char *buf = NULL;
    *out = NULL;
    *out_len = 0;
    SIGIL_ENSURE_GOTO(entropy != NULL && lang_ok(lang), SIGIL_ERR_ARG);
    if (entropy_len < 16 || entropy_len > 32 || entropy_len % 4 != 0) {
        ret = sigil_errorf(SIGIL_ERR_BIP39_LENGTH, "entropy is %zu bytes; BIP-39 needs 16, 20, 24, 28 or 32",
                           entropy_len);
        goto out;
    }
    SIGIL_GUARD_GOTO(tables_get());
    s = sigil_secure_alloc(sizeof(*s));
    SIGIL_ENSURE_GOTO(s != NULL, SIGIL_ERR_NOMEM);
    const size_t n = entropy_len * 8 * 33 / 32 / 11;
    const char *sep = lang == SIGIL_BIP39_JAPANESE ? "\xe3\x80\x80" : " "; /* U+3000 */
    const size_t sep_len = strlen(sep);
    buf = sigil_secure_alloc(n * (SLOT + sep_len) + 1);
    SIGIL_ENSURE_GOTO(buf != NULL, SIGIL_ERR_NOMEM);

    memcpy(s->bits, entropy, entropy_len);
    SHA256(entropy, entropy_len, s->hash);
    s->bits[entropy_len] = s->hash[0];
    const struct padded_list *t = tables[lang];
    size_t pos = 0;
    for (size_t w = 0; w < n; w++) {
        uint32_t idx = 0;
        for (int b = 0; b < 11; b++) {
            size_t bit = w * 11 + (size_t)b;
            idx = (idx << 1) | ((s->bits[bit / 8] >> (7 - bit % 8)) & 1u);
        }
        /* Select the word by touching every slot: no secret-indexed load. */
        memset(s->slot, 0, sizeof(s->slot));
        uint64_t len = 0;
        for (uint64_t i = 0; i < WORDS; i++) {
            uint64_t d = i ^ idx;
            uint64_t m = ((d | (0 - d)) >> 63) - 1; /* all ones when i == idx */
            for (int k = 0; k < SLOT_WORDS; k++) {
                s->slot[k] |= t->raw[i][k] & m;
            }
            len |= t->raw_len[i] & m;
        }
        if (w > 0) {
            memcpy(buf + pos, sep, sep_len);
            pos += sep_len;
        }
        memcpy(buf + pos, s->slot, len);
        pos += len;
    }
    buf[pos] = 0;
    *out = buf;
    *out_len = pos;
    buf = NULL;
    ret = sigil_ok();
out:
    sigil_secure_free(buf);
    sigil_secure_free(s);
    return ret;
}

sigil_result sigil_bip39_generate(char **out, size_t *out_len, unsigned strength_bits, enum sigil_bip39_lang lang)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    uint8_t entropy[SIGIL_BIP39_MAX_ENTROPY];
    *out = NULL;
    *out_len = 0;
    if (strength_bits < 128 || strength_bits > 256 || strength_bits % 32 != 0) {
        ret = sigil_errorf(SIGIL_ERR_BIP39_LENGTH, "strength is %u bits; BIP-39 allows 128, 160, 192, 224 or 256",
                           strength_bits);
        goto out;
    }
    SIGIL_ENSURE_GOTO(sigil_random_bytes(entropy, strength_bits / 8), SIGIL_ERR_RNG);
    ret = sigil_bip39_entropy_to_mnemonic(out, out_len, entropy, strength_bits / 8, lang);
out:
    sigil_wipe(entropy, sizeof(entropy));
    return ret;
}

sigil_result sigil_bip39_to_seed(uint8_t seed[SIGIL_BIP39_SEED_LEN], const char *mnemonic, size_t mnemonic_len,
                                 const char *passphrase, size_t passphrase_len)
{
    static const char prefix[] = "mnemonic";
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    char *m = NULL, *p = NULL;
    uint8_t *salt = NULL;
    size_t m_len = 0, p_len = 0;
    SIGIL_ENSURE_GOTO(mnemonic != NULL && (passphrase != NULL || passphrase_len == 0), SIGIL_ERR_ARG);
    if (mnemonic_len > SIGIL_BIP39_MAX_MNEMONIC) {
        ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "mnemonic is %zu bytes, at most %d allowed", mnemonic_len,
                           SIGIL_BIP39_MAX_MNEMONIC);
        goto out;
    }
    SIGIL_GUARD_GOTO(sigil_bip39_nfkd(&m, &m_len, mnemonic, mnemonic_len));
    SIGIL_GUARD_GOTO(sigil_bip39_nfkd(&p, &p_len, passphrase_len ? passphrase : "", passphrase_len));
    salt = sigil_secure_alloc(sizeof(prefix) - 1 + p_len + 1);
    SIGIL_ENSURE_GOTO(salt != NULL, SIGIL_ERR_NOMEM);
    memcpy(salt, prefix, sizeof(prefix) - 1);
    memcpy(salt + sizeof(prefix) - 1, p, p_len);
    SIGIL_ENSURE_GOTO(m_len <= INT32_MAX && p_len <= INT32_MAX - 8, SIGIL_ERR_TOO_LARGE);
    if (PKCS5_PBKDF2_HMAC(m, (int)m_len, salt, (int)(sizeof(prefix) - 1 + p_len), 2048, EVP_sha512(),
                          SIGIL_BIP39_SEED_LEN, seed) != 1) {
        ret = sigil_error(SIGIL_ERR_CRYPTO);
        goto out;
    }
    ret = sigil_ok();
out:
    if (!sigil_is_ok(ret)) {
        sigil_wipe(seed, SIGIL_BIP39_SEED_LEN);
    }
    sigil_secure_free(m);
    sigil_secure_free(p);
    sigil_secure_free(salt);
    return ret;
}
