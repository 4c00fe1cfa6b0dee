/* Fuzz harness for the EIP-712 encoder and the transaction JSON parser. The first byte selects
 * the target, the rest is JSON text:
 *   even: EIP-712 document (sigil_eip712_hash_json)
 *   odd:  eth_signTransaction object (sigil_eth1_tx_from_json, then unsigned and signing hash)
 * Both must fail cleanly on anything malformed, within their limits. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "eth1/eip712.h"
#include "eth1/tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const char *json = (const char *)data + 1;
    size_t len = size - 1;
    if ((data[0] & 1) == 0) {
        uint8_t digest[32];
        sigil_result ignored_ = sigil_eip712_hash_json(digest, json, len);
        (void)ignored_;
        return 0;
    }
    json_t *obj = NULL;
    if (!sigil_is_ok(sigil_json_parse(&obj, json, len, 1u << 20))) {
        return 0;
    }
    struct sigil_eth1_tx tx;
    if (sigil_is_ok(sigil_eth1_tx_from_json(&tx, obj))) {
        uint8_t *out = NULL;
        size_t n = 0;
        if (sigil_is_ok(sigil_eth1_tx_encode_unsigned(&out, &n, &tx))) {
            free(out);
        }
        uint8_t h[32];
        sigil_result ignored_ = sigil_eth1_tx_signing_hash(h, &tx);
        (void)ignored_;
        sigil_eth1_tx_free(&tx);
    }
    json_decref(obj);
    return 0;
}
