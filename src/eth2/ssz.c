#include "eth2/ssz.h"

#include <pthread.h>
#include <string.h>

#include "common/sha256.h"

void sigil_ssz_hash2(uint8_t out[32], const uint8_t a[32], const uint8_t b[32])
{
    uint8_t buf[64];
    memcpy(buf, a, 32);
    memcpy(buf + 32, b, 32);
    sigil_sha256(out, buf, sizeof buf);
}

static uint8_t zero_hashes[SIGIL_SSZ_MAX_DEPTH + 1][32];
static pthread_once_t zero_once = PTHREAD_ONCE_INIT;

static void zero_init(void)
{
    memset(zero_hashes[0], 0, 32);
    for (unsigned d = 1; d <= SIGIL_SSZ_MAX_DEPTH; d++) {
        sigil_ssz_hash2(zero_hashes[d], zero_hashes[d - 1], zero_hashes[d - 1]);
    }
}

const uint8_t *sigil_ssz_zero_hash(unsigned depth)
{
    pthread_once(&zero_once, zero_init);
    if (depth > SIGIL_SSZ_MAX_DEPTH) {
        depth = SIGIL_SSZ_MAX_DEPTH;
    }
    return zero_hashes[depth];
}

void sigil_ssz_mz_init(struct sigil_ssz_mz *mz, uint64_t limit)
{
    mz->count = 0;
    mz->limit = limit == 0 ? 1 : limit;
    unsigned d = 0;
    while (d < SIGIL_SSZ_MAX_DEPTH && ((uint64_t)1 << d) < mz->limit) {
        d++;
    }
    mz->depth = d;
}

sigil_result sigil_ssz_mz_push(struct sigil_ssz_mz *mz, const uint8_t chunk[32])
{
    if (mz->count >= mz->limit) {
        return sigil_error(SIGIL_ERR_TOO_LARGE);
    }
    uint8_t cur[32];
    memcpy(cur, chunk, 32);
    /* Each set low bit of count is a complete left sibling waiting at that level: combine
     * upwards exactly like incrementing a binary counter. */
    unsigned level = 0;
    uint64_t i = mz->count;
    while (i & 1) {
        sigil_ssz_hash2(cur, mz->stack[level], cur);
        level++;
        i >>= 1;
    }
    memcpy(mz->stack[level], cur, 32);
    mz->count++;
    return sigil_ok();
}

void sigil_ssz_mz_finish(struct sigil_ssz_mz *mz, uint8_t out[32])
{
    if (mz->count == 0) {
        memcpy(out, sigil_ssz_zero_hash(mz->depth), 32);
        return;
    }
    if (mz->depth < 64 && mz->count == ((uint64_t)1 << mz->depth)) {
        memcpy(out, mz->stack[mz->depth], 32);
        return;
    }
    /* Fold the pending left siblings with the growing right edge; missing right siblings are
     * all-zero subtrees, whose roots are precomputed. */
    uint8_t cur[32];
    bool have = false;
    for (unsigned d = 0; d < mz->depth; d++) {
        if ((mz->count >> d) & 1) {
            sigil_ssz_hash2(cur, mz->stack[d], have ? cur : sigil_ssz_zero_hash(d));
            have = true;
        } else if (have) {
            sigil_ssz_hash2(cur, cur, sigil_ssz_zero_hash(d));
        }
    }
    memcpy(out, cur, 32);
}

sigil_result sigil_ssz_merkleize(uint8_t out[32], const uint8_t *chunks, size_t count, uint64_t limit)
{
    struct sigil_ssz_mz mz;
    sigil_ssz_mz_init(&mz, limit);
    for (size_t i = 0; i < count; i++) {
        SIGIL_GUARD(sigil_ssz_mz_push(&mz, chunks + 32 * i));
    }
    sigil_ssz_mz_finish(&mz, out);
    return sigil_ok();
}

void sigil_ssz_mix_in_length(uint8_t out[32], const uint8_t root[32], uint64_t length)
{
    uint8_t len_chunk[32];
    sigil_ssz_uint64_root(len_chunk, length);
    sigil_ssz_hash2(out, root, len_chunk);
}

void sigil_ssz_uint64_root(uint8_t out[32], uint64_t v)
{
    memset(out, 0, 32);
    for (unsigned i = 0; i < 8; i++) {
        out[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Packs bytes into zero-padded chunks and merkleizes them against limit_chunks. */
static void pack_root(uint8_t out[32], const uint8_t *bytes, size_t n, uint64_t limit_chunks)
{
    struct sigil_ssz_mz mz;
    sigil_ssz_mz_init(&mz, limit_chunks);
    for (size_t off = 0; off < n; off += 32) {
        uint8_t chunk[32] = {0};
        size_t take = n - off < 32 ? n - off : 32;
        memcpy(chunk, bytes + off, take);
        /* cannot fail: callers size limit_chunks >= ceil(n/32) */
        (void)sigil_is_ok(sigil_ssz_mz_push(&mz, chunk));
    }
    sigil_ssz_mz_finish(&mz, out);
}

void sigil_ssz_bytes_root(uint8_t out[32], const uint8_t *bytes, size_t n) { pack_root(out, bytes, n, (n + 31) / 32); }

sigil_result sigil_ssz_bitlist_check(size_t *bit_len, const uint8_t *bytes, size_t n, uint64_t limit_bits)
{
    if (n == 0 || bytes[n - 1] == 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "bitlist has no length-delimiter bit");
    }
    unsigned top = 7;
    while (!((bytes[n - 1] >> top) & 1)) {
        top--;
    }
    uint64_t len = (uint64_t)(n - 1) * 8 + top;
    if (len > limit_bits) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "bitlist has %llu bits, at most %llu allowed", (unsigned long long)len,
                            (unsigned long long)limit_bits);
    }
    *bit_len = (size_t)len;
    return sigil_ok();
}

sigil_result sigil_ssz_bitlist_root(uint8_t out[32], const uint8_t *bytes, size_t n, uint64_t limit_bits)
{
    size_t len;
    SIGIL_GUARD(sigil_ssz_bitlist_check(&len, bytes, n, limit_bits));
    /* Root the bits without the delimiter: only the last byte changes, so hash full chunks
     * from the input and rebuild the final partial chunk. */
    struct sigil_ssz_mz mz;
    sigil_ssz_mz_init(&mz, (limit_bits + 255) / 256);
    size_t nbytes = (len + 7) / 8;
    for (size_t off = 0; off < nbytes; off += 32) {
        uint8_t chunk[32] = {0};
        size_t take = nbytes - off < 32 ? nbytes - off : 32;
        memcpy(chunk, bytes + off, take);
        if (off + take == nbytes && (len % 8) != 0) {
            chunk[take - 1] &= (uint8_t)((1u << (len % 8)) - 1);
        }
        SIGIL_GUARD(sigil_ssz_mz_push(&mz, chunk));
    }
    uint8_t root[32];
    sigil_ssz_mz_finish(&mz, root);
    sigil_ssz_mix_in_length(out, root, len);
    return sigil_ok();
}

sigil_result sigil_ssz_bitvector_check(const uint8_t *bytes, size_t n, uint64_t nbits)
{
    if (nbits == 0 || n != (nbits + 7) / 8) {
        return sigil_errorf(SIGIL_ERR_PARSE, "bitvector must be %llu bytes", (unsigned long long)((nbits + 7) / 8));
    }
    if (nbits % 8 != 0 && (bytes[n - 1] >> (nbits % 8)) != 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "bitvector has bits set past bit %llu", (unsigned long long)nbits);
    }
    return sigil_ok();
}

sigil_result sigil_ssz_bitvector_root(uint8_t out[32], const uint8_t *bytes, size_t n, uint64_t nbits)
{
    SIGIL_GUARD(sigil_ssz_bitvector_check(bytes, n, nbits));
    pack_root(out, bytes, n, (nbits + 255) / 256);
    return sigil_ok();
}
