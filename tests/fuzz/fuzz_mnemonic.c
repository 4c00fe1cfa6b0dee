/* Fuzz harness: BIP-39 mnemonic validation (UTF-8, NFKD, word lookup in every language,
 * checksum). Invariants: never crashes; a mnemonic that validates converts to entropy and back
 * to a mnemonic that validates to the same entropy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/secmem.h"
#include "crypto/bip39.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum sigil_bip39_lang lang;
    uint8_t ent[SIGIL_BIP39_MAX_ENTROPY], ent2[SIGIL_BIP39_MAX_ENTROPY];
    size_t ent_len = 0, ent2_len = 0;
    sigil_result r = sigil_bip39_mnemonic_to_entropy(ent, &ent_len, &lang, (const char *)data, size, SIGIL_BIP39_AUTO);
    if (!sigil_is_ok(r)) {
        return 0;
    }
    char *m = NULL;
    size_t m_len = 0;
    if (!sigil_is_ok(sigil_bip39_entropy_to_mnemonic(&m, &m_len, ent, ent_len, lang))) {
        abort();
    }
    if (!sigil_is_ok(sigil_bip39_mnemonic_to_entropy(ent2, &ent2_len, NULL, m, m_len, lang)) || ent2_len != ent_len ||
        memcmp(ent, ent2, ent_len) != 0) {
        abort();
    }
    sigil_secure_free(m);
    return 0;
}
