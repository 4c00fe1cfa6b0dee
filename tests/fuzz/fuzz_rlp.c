/* Fuzz harness for the strict RLP decoder and the signed-transaction decoder. Every input the
 * RLP decoder accepts must re-encode to exactly the same bytes (canonical form is unique); every
 * transaction the decoder accepts must re-serialise to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eth1/rlp.h"
#include "eth1/tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reencode(sigil_rlp_builder *b, const sigil_rlp_item *it)
{
    if (!it->is_list) {
        sigil_rlp_put_bytes(b, it->payload, it->len);
        return;
    }
    sigil_rlp_list_begin(b);
    size_t off = 0;
    while (off < it->len) {
        sigil_rlp_item c;
        size_t used;
        if (!sigil_is_ok(sigil_rlp_decode_one(&c, &used, it->payload + off, it->len - off))) {
            abort(); /* the tree was validated: a child cannot fail here */
        }
        reencode(b, &c);
        off += used;
    }
    sigil_rlp_list_end(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sigil_rlp_item it;
    if (sigil_is_ok(sigil_rlp_decode(&it, data, size))) {
        sigil_rlp_builder b;
        sigil_rlp_builder_init(&b, 0);
        reencode(&b, &it);
        uint8_t *out = NULL;
        size_t n = 0;
        if (!sigil_is_ok(sigil_rlp_builder_finish(&b, &out, &n)) || n != size || memcmp(out, data, size) != 0) {
            abort();
        }
        free(out);
    }
    struct sigil_eth1_tx tx;
    if (sigil_is_ok(sigil_eth1_tx_decode(&tx, data, size))) {
        uint8_t *out = NULL;
        size_t n = 0;
        if (!sigil_is_ok(sigil_eth1_tx_encode_signed(&out, &n, &tx)) || n != size || memcmp(out, data, size) != 0) {
            abort();
        }
        free(out);
        uint8_t addr[20];
        sigil_result ignored_ = sigil_eth1_tx_sender(addr, &tx);
        (void)ignored_;
    }
    sigil_eth1_tx_free(&tx);
    return 0;
}
