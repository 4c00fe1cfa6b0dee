/* Fuzz harness for the SSZ engine and the eth2 field decoders. The first byte selects the
 * target; the rest is its input:
 *   0: raw Bitlist[2048] root          1: hex Bitlist[2048] / Bitlist[131072] root
 *   2: hex Bitvector[64/128/512] root  3: hex Bytes32 decode
 *   4: merkleize the input as chunks with a limit taken from the next byte, checked against
 *      a naive full-tree merkleization. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eth2/containers.h"
#include "eth2/ssz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reference merkleization: pad to a power of two and hash level by level. */
static void naive_merkleize(uint8_t out[32], const uint8_t *chunks, size_t count, size_t limit)
{
    size_t width = 1;
    while (width < limit) {
        width <<= 1;
    }
    uint8_t *buf = calloc(width, 32);
    if (buf == NULL) {
        abort();
    }
    memcpy(buf, chunks, count * 32);
    for (; width > 1; width >>= 1) {
        for (size_t i = 0; i < width / 2; i++) {
            sigil_ssz_hash2(buf + 32 * i, buf + 64 * i, buf + 64 * i + 32);
        }
    }
    memcpy(out, buf, 32);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint8_t sel = data[0] % 5;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    uint8_t out[32];
    switch (sel) {
    case 0:
        (void)sigil_is_ok(sigil_ssz_bitlist_root(out, in, n, 2048));
        break;
    case 1:
        (void)sigil_is_ok(sigil_eth2_bitlist_hex_root(out, (const char *)in, n, 2048));
        (void)sigil_is_ok(sigil_eth2_bitlist_hex_root(out, (const char *)in, n, 131072));
        break;
    case 2:
        (void)sigil_is_ok(sigil_eth2_bitvector_hex_root(out, (const char *)in, n, 64));
        (void)sigil_is_ok(sigil_eth2_bitvector_hex_root(out, (const char *)in, n, 128));
        (void)sigil_is_ok(sigil_eth2_bitvector_hex_root(out, (const char *)in, n, 512));
        break;
    case 3:
        (void)sigil_is_ok(sigil_eth2_decode_hex_fixed(out, 32, (const char *)in, n));
        break;
    default: {
        if (n == 0) {
            return 0;
        }
        size_t count = (n - 1) / 32;
        if (count > 64) {
            count = 64;
        }
        size_t limit = count + in[0] % 64;
        uint8_t want[32];
        sigil_result r = sigil_ssz_merkleize(out, in + 1, count, limit);
        if (!sigil_is_ok(r)) {
            abort(); /* count <= limit always */
        }
        naive_merkleize(want, in + 1, count, limit == 0 ? 1 : limit);
        if (memcmp(out, want, 32) != 0) {
            abort();
        }
        break;
    }
    }
    return 0;
}
