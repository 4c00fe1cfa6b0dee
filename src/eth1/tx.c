#include "eth1/tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "crypto/keccak.h"
#include "eth1/rlp.h"

void sigil_eth1_tx_init(struct sigil_eth1_tx *tx) { memset(tx, 0, sizeof *tx); }

void sigil_eth1_tx_free(struct sigil_eth1_tx *tx)
{
    free(tx->data);
    for (size_t i = 0; i < tx->access_list_len; i++) {
        free(tx->access_list[i].keys);
    }
    free(tx->access_list);
    free(tx->blob_hashes);
    free(tx->auths);
    memset(tx, 0, sizeof *tx);
}

/* ---- encoding ---- */

static void put_u256(sigil_rlp_builder *b, const sigil_u256 *v) { sigil_rlp_put_uint_be(b, v->b, 32); }

static void put_access_list(sigil_rlp_builder *b, const struct sigil_eth1_tx *tx)
{
    sigil_rlp_list_begin(b);
    for (size_t i = 0; i < tx->access_list_len; i++) {
        const struct sigil_eth1_access_entry *e = &tx->access_list[i];
        sigil_rlp_list_begin(b);
        sigil_rlp_put_bytes(b, e->address, 20);
        sigil_rlp_list_begin(b);
        for (size_t k = 0; k < e->nkeys; k++) {
            sigil_rlp_put_bytes(b, e->keys[k], 32);
        }
        sigil_rlp_list_end(b);
        sigil_rlp_list_end(b);
    }
    sigil_rlp_list_end(b);
}

static void put_sig(sigil_rlp_builder *b, const struct sigil_secp256k1_sig *sig)
{
    sigil_rlp_put_u64(b, sig->y_parity);
    sigil_rlp_put_uint_be(b, sig->r, 32);
    sigil_rlp_put_uint_be(b, sig->s, 32);
}

/* Legacy v: 27 + y, or chain_id * 2 + 35 + y (EIP-155), as big-endian bytes. */
static void put_legacy_v(sigil_rlp_builder *b, const struct sigil_eth1_tx *tx)
{
    if (!tx->has_chain_id) {
        sigil_rlp_put_u64(b, 27u + tx->sig.y_parity);
        return;
    }
    unsigned __int128 v = (unsigned __int128)tx->chain_id * 2 + 35 + tx->sig.y_parity;
    uint8_t be[16];
    for (int i = 15; i >= 0; i--) {
        be[i] = (uint8_t)v;
        v >>= 8;
    }
    sigil_rlp_put_uint_be(b, be, sizeof be);
}

static sigil_result encode(uint8_t **out, size_t *out_len, const struct sigil_eth1_tx *tx, bool with_sig)
{
    if (tx->type > 4) {
        return sigil_errorf(SIGIL_ERR_ARG, "type: unsupported transaction type %u", tx->type);
    }
    if ((tx->type == 3 || tx->type == 4) && !tx->has_to) {
        return sigil_errorf(SIGIL_ERR_ARG, "to: required for transaction type %u", tx->type);
    }
    if (with_sig && !tx->is_signed) {
        return sigil_errorf(SIGIL_ERR_ARG, "transaction is not signed");
    }
    sigil_rlp_builder b;
    sigil_rlp_builder_init(&b, SIGIL_TX_MAX_RAW + SIGIL_TX_MAX_STORAGE_KEYS * 33u);
    if (tx->type != 0) {
        sigil_rlp_put_raw(&b, &tx->type, 1);
    }
    sigil_rlp_list_begin(&b);
    if (tx->type != 0) {
        sigil_rlp_put_u64(&b, tx->chain_id);
    }
    sigil_rlp_put_u64(&b, tx->nonce);
    if (tx->type <= 1) {
        put_u256(&b, &tx->gas_price);
    } else {
        put_u256(&b, &tx->max_priority_fee);
        put_u256(&b, &tx->max_fee);
    }
    sigil_rlp_put_u64(&b, tx->gas_limit);
    sigil_rlp_put_bytes(&b, tx->to, tx->has_to ? 20 : 0);
    put_u256(&b, &tx->value);
    sigil_rlp_put_bytes(&b, tx->data, tx->data_len);
    if (tx->type >= 1) {
        put_access_list(&b, tx);
    }
    if (tx->type == 3) {
        put_u256(&b, &tx->max_fee_per_blob_gas);
        sigil_rlp_list_begin(&b);
        for (size_t i = 0; i < tx->blob_hashes_len; i++) {
            sigil_rlp_put_bytes(&b, tx->blob_hashes[i], 32);
        }
        sigil_rlp_list_end(&b);
    }
    if (tx->type == 4) {
        sigil_rlp_list_begin(&b);
        for (size_t i = 0; i < tx->auths_len; i++) {
            const struct sigil_eth1_auth *a = &tx->auths[i];
            sigil_rlp_list_begin(&b);
            put_u256(&b, &a->chain_id);
            sigil_rlp_put_bytes(&b, a->address, 20);
            sigil_rlp_put_u64(&b, a->nonce);
            put_sig(&b, &a->sig);
            sigil_rlp_list_end(&b);
        }
        sigil_rlp_list_end(&b);
    }
    if (with_sig) {
        if (tx->type == 0) {
            put_legacy_v(&b, tx);
            sigil_rlp_put_uint_be(&b, tx->sig.r, 32);
            sigil_rlp_put_uint_be(&b, tx->sig.s, 32);
        } else {
            put_sig(&b, &tx->sig);
        }
    } else if (tx->type == 0 && tx->has_chain_id) {
        sigil_rlp_put_u64(&b, tx->chain_id);
        sigil_rlp_put_u64(&b, 0);
        sigil_rlp_put_u64(&b, 0);
    }
    sigil_rlp_list_end(&b);
    return sigil_rlp_builder_finish(&b, out, out_len);
}

sigil_result sigil_eth1_tx_encode_unsigned(uint8_t **out, size_t *out_len, const struct sigil_eth1_tx *tx)
{
    return encode(out, out_len, tx, false);
}

sigil_result sigil_eth1_tx_encode_signed(uint8_t **out, size_t *out_len, const struct sigil_eth1_tx *tx)
{
    return encode(out, out_len, tx, true);
}

sigil_result sigil_eth1_tx_signing_hash(uint8_t out[32], const struct sigil_eth1_tx *tx)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    SIGIL_GUARD(encode(&enc, &len, tx, false));
    sigil_keccak256(out, enc, len);
    free(enc);
    return sigil_ok();
}

sigil_result sigil_eth1_tx_sign(struct sigil_eth1_tx *tx, const sigil_secp256k1_sk *sk)
{
    if (tx->has_from) {
        uint8_t addr[20];
        SIGIL_GUARD(sigil_secp256k1_address(addr, sk));
        if (memcmp(addr, tx->from, 20) != 0) {
            return sigil_errorf(SIGIL_ERR_FORBIDDEN, "from: does not match the signing key's address");
        }
    }
    uint8_t h[32];
    SIGIL_GUARD(sigil_eth1_tx_signing_hash(h, tx));
    SIGIL_GUARD(sigil_secp256k1_sign(&tx->sig, sk, h));
    tx->is_signed = true;
    return sigil_ok();
}

sigil_result sigil_eth1_tx_check_chain(const struct sigil_eth1_tx *tx, uint64_t chain_id)
{
    if (tx->type == 0 && !tx->has_chain_id) {
        return sigil_errorf(SIGIL_ERR_ARG, "chainId: legacy transaction without EIP-155 replay protection");
    }
    if (tx->chain_id != chain_id) {
        return sigil_errorf(SIGIL_ERR_ARG, "chainId: %llu is not the expected chain %llu",
                            (unsigned long long)tx->chain_id, (unsigned long long)chain_id);
    }
    for (size_t i = 0; i < tx->auths_len; i++) {
        sigil_u256 want = {{0}};
        for (int k = 0; k < 8; k++) {
            want.b[31 - k] = (uint8_t)(chain_id >> (8 * k));
        }
        static const sigil_u256 zero;
        if (memcmp(&tx->auths[i].chain_id, &zero, 32) != 0 && memcmp(&tx->auths[i].chain_id, &want, 32) != 0) {
            return sigil_errorf(SIGIL_ERR_ARG, "authorizationList[%zu].chainId: not 0 or the expected chain", i);
        }
    }
    return sigil_ok();
}

/* ---- EIP-7702 authorizations ---- */

void sigil_eth1_auth_signing_hash(uint8_t out[32], const struct sigil_eth1_auth *auth)
{
    /* Fixed-size fields, so the encoding is built in place rather than with a (fallible) builder. */
    uint8_t buf[96];
    size_t n = 0;
    uint8_t body[80];
    size_t bl = 0;
    const uint8_t *c = auth->chain_id.b;
    size_t cl = 32;
    while (cl > 0 && c[0] == 0) {
        c++;
        cl--;
    }
    if (cl == 1 && c[0] < 0x80) {
        body[bl++] = c[0];
    } else {
        body[bl++] = (uint8_t)(0x80 + cl);
        memcpy(body + bl, c, cl);
        bl += cl;
    }
    body[bl++] = 0x80 + 20;
    memcpy(body + bl, auth->address, 20);
    bl += 20;
    uint8_t nb[8];
    size_t nl = 0;
    for (int i = 7; i >= 0; i--) {
        uint8_t byte = (uint8_t)(auth->nonce >> (8 * i));
        if (nl == 0 && byte == 0) {
            continue;
        }
        nb[nl++] = byte;
    }
    if (nl == 1 && nb[0] < 0x80) {
        body[bl++] = nb[0];
    } else {
        body[bl++] = (uint8_t)(0x80 + nl);
        memcpy(body + bl, nb, nl);
        bl += nl;
    }
    buf[n++] = 0x05;
    /* body is at most 33 + 21 + 9 = 63 bytes, so the list header is short or 0xf8 <len>. */
    if (bl < 56) {
        buf[n++] = (uint8_t)(0xc0 + bl);
    } else {
        buf[n++] = 0xf8;
        buf[n++] = (uint8_t)bl;
    }
    memcpy(buf + n, body, bl);
    n += bl;
    sigil_keccak256(out, buf, n);
}

sigil_result sigil_eth1_auth_sign(struct sigil_eth1_auth *auth, const sigil_secp256k1_sk *sk)
{
    uint8_t h[32];
    sigil_eth1_auth_signing_hash(h, auth);
    return sigil_secp256k1_sign(&auth->sig, sk, h);
}

sigil_result sigil_eth1_auth_authority(uint8_t addr[20], const struct sigil_eth1_auth *auth)
{
    uint8_t h[32];
    sigil_eth1_auth_signing_hash(h, auth);
    return sigil_secp256k1_recover_address(addr, &auth->sig, h);
}

/* ---- decoding ---- */

static sigil_result item_bytes_exact(uint8_t *out, size_t n, const sigil_rlp_item *it, const char *field)
{
    if (it->is_list || it->len != n) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected %zu bytes", field, n);
    }
    memcpy(out, it->payload, n);
    return sigil_ok();
}

static sigil_result item_u256(sigil_u256 *out, const sigil_rlp_item *it, const char *field)
{
    return sigil_rlp_item_uint_be(out->b, 32, it, field);
}

static sigil_result decode_access_list(struct sigil_eth1_tx *tx, const sigil_rlp_item *list)
{
    if (!list->is_list) {
        return sigil_errorf(SIGIL_ERR_PARSE, "accessList: expected a list");
    }
    sigil_rlp_item *entries = calloc(SIGIL_TX_MAX_ACCESS_LIST, sizeof *entries);
    if (entries == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    size_t n = 0;
    size_t total = 0;
    sigil_rlp_item *keys = NULL;
    sigil_result ret = sigil_rlp_list_items(entries, SIGIL_TX_MAX_ACCESS_LIST, &n, list);
    SIGIL_GUARD_GOTO(ret);
    tx->access_list = calloc(n > 0 ? n : 1, sizeof *tx->access_list);
    keys = calloc(SIGIL_TX_MAX_STORAGE_KEYS, sizeof *keys);
    SIGIL_ENSURE_GOTO(tx->access_list != NULL && keys != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < n; i++) {
        sigil_rlp_item pair[2];
        size_t pn = 0;
        SIGIL_GUARD_GOTO(sigil_rlp_list_items(pair, 2, &pn, &entries[i]));
        if (pn != 2) {
            ret = sigil_errorf(SIGIL_ERR_PARSE, "accessList[%zu]: expected [address, storageKeys]", i);
            goto out;
        }
        struct sigil_eth1_access_entry *e = &tx->access_list[i];
        tx->access_list_len = i + 1;
        SIGIL_GUARD_GOTO(item_bytes_exact(e->address, 20, &pair[0], "accessList.address"));
        size_t kn = 0;
        SIGIL_GUARD_GOTO(sigil_rlp_list_items(keys, SIGIL_TX_MAX_STORAGE_KEYS - total, &kn, &pair[1]));
        total += kn;
        e->keys = calloc(kn > 0 ? kn : 1, 32);
        SIGIL_ENSURE_GOTO(e->keys != NULL, SIGIL_ERR_NOMEM);
        e->nkeys = kn;
        for (size_t k = 0; k < kn; k++) {
            SIGIL_GUARD_GOTO(item_bytes_exact(e->keys[k], 32, &keys[k], "accessList.storageKeys"));
        }
    }
    ret = sigil_ok();
out:
    free(keys);
    free(entries);
    return ret;
}

static sigil_result decode_sig(struct sigil_secp256k1_sig *sig, const sigil_rlp_item *it)
{
    uint64_t y;
    SIGIL_GUARD(sigil_rlp_item_u64(&y, &it[0], "yParity"));
    if (y > 1) {
        return sigil_errorf(SIGIL_ERR_PARSE, "yParity: must be 0 or 1");
    }
    sig->y_parity = (uint8_t)y;
    SIGIL_GUARD(sigil_rlp_item_uint_be(sig->r, 32, &it[1], "r"));
    return sigil_rlp_item_uint_be(sig->s, 32, &it[2], "s");
}

static sigil_result decode_auths(struct sigil_eth1_tx *tx, const sigil_rlp_item *list)
{
    sigil_rlp_item items[SIGIL_TX_MAX_AUTHS];
    size_t n = 0;
    SIGIL_GUARD(sigil_rlp_list_items(items, SIGIL_TX_MAX_AUTHS, &n, list));
    tx->auths = calloc(n > 0 ? n : 1, sizeof *tx->auths);
    if (tx->auths == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    tx->auths_len = n;
    for (size_t i = 0; i < n; i++) {
        sigil_rlp_item f[6];
        size_t fn = 0;
        SIGIL_GUARD(sigil_rlp_list_items(f, 6, &fn, &items[i]));
        if (fn != 6) {
            return sigil_errorf(SIGIL_ERR_PARSE, "authorizationList[%zu]: expected 6 fields", i);
        }
        struct sigil_eth1_auth *a = &tx->auths[i];
        SIGIL_GUARD(item_u256(&a->chain_id, &f[0], "authorizationList.chainId"));
        SIGIL_GUARD(item_bytes_exact(a->address, 20, &f[1], "authorizationList.address"));
        SIGIL_GUARD(sigil_rlp_item_u64(&a->nonce, &f[2], "authorizationList.nonce"));
        SIGIL_GUARD(decode_sig(&a->sig, &f[3]));
    }
    return sigil_ok();
}

sigil_result sigil_eth1_tx_decode(struct sigil_eth1_tx *tx, const uint8_t *raw, size_t len)
{
    sigil_eth1_tx_init(tx);
    if (len > SIGIL_TX_MAX_RAW) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "transaction over %u bytes", SIGIL_TX_MAX_RAW);
    }
    if (len == 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "transaction: empty input");
    }
    uint8_t type = 0;
    if (raw[0] < 0x80) {
        type = raw[0];
        if (type < 1 || type > 4) {
            return sigil_errorf(SIGIL_ERR_PARSE, "type: unsupported transaction type 0x%02x", type);
        }
        raw++;
        len--;
    } else if (raw[0] < 0xc0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "transaction: not an RLP list");
    }
    tx->type = type;
    sigil_rlp_item top;
    SIGIL_GUARD(sigil_rlp_decode(&top, raw, len));
    static const size_t counts[5] = {9, 11, 12, 14, 13};
    sigil_rlp_item f[14];
    size_t n = 0;
    SIGIL_GUARD(sigil_rlp_list_items(f, 14, &n, &top));
    if (n != counts[type]) {
        return sigil_errorf(SIGIL_ERR_PARSE, "transaction: type %u needs %zu fields, got %zu", type, counts[type], n);
    }
    size_t i = 0;
    if (type != 0) {
        SIGIL_GUARD(sigil_rlp_item_u64(&tx->chain_id, &f[i++], "chainId"));
    }
    SIGIL_GUARD(sigil_rlp_item_u64(&tx->nonce, &f[i++], "nonce"));
    if (type <= 1) {
        SIGIL_GUARD(item_u256(&tx->gas_price, &f[i++], "gasPrice"));
    } else {
        SIGIL_GUARD(item_u256(&tx->max_priority_fee, &f[i++], "maxPriorityFeePerGas"));
        SIGIL_GUARD(item_u256(&tx->max_fee, &f[i++], "maxFeePerGas"));
    }
    SIGIL_GUARD(sigil_rlp_item_u64(&tx->gas_limit, &f[i++], "gas"));
    if (f[i].is_list || (f[i].len != 0 && f[i].len != 20)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "to: must be empty or 20 bytes");
    }
    tx->has_to = f[i].len == 20;
    if (tx->has_to) {
        memcpy(tx->to, f[i].payload, 20);
    }
    i++;
    if ((type == 3 || type == 4) && !tx->has_to) {
        return sigil_errorf(SIGIL_ERR_PARSE, "to: required for type %u", type);
    }
    SIGIL_GUARD(item_u256(&tx->value, &f[i++], "value"));
    if (f[i].is_list) {
        return sigil_errorf(SIGIL_ERR_PARSE, "data: expected bytes");
    }
    if (f[i].len > SIGIL_TX_MAX_DATA) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "data: over %u bytes", SIGIL_TX_MAX_DATA);
    }
    tx->data = malloc(f[i].len > 0 ? f[i].len : 1);
    if (tx->data == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    if (f[i].len > 0) {
        memcpy(tx->data, f[i].payload, f[i].len);
    }
    tx->data_len = f[i].len;
    i++;
    if (type >= 1) {
        SIGIL_GUARD(decode_access_list(tx, &f[i++]));
    }
    if (type == 3) {
        SIGIL_GUARD(item_u256(&tx->max_fee_per_blob_gas, &f[i++], "maxFeePerBlobGas"));
        sigil_rlp_item hs[SIGIL_TX_MAX_BLOBS];
        size_t hn = 0;
        SIGIL_GUARD(sigil_rlp_list_items(hs, SIGIL_TX_MAX_BLOBS, &hn, &f[i++]));
        tx->blob_hashes = calloc(hn > 0 ? hn : 1, 32);
        if (tx->blob_hashes == NULL) {
            return sigil_error(SIGIL_ERR_NOMEM);
        }
        tx->blob_hashes_len = hn;
        for (size_t k = 0; k < hn; k++) {
            SIGIL_GUARD(item_bytes_exact(tx->blob_hashes[k], 32, &hs[k], "blobVersionedHashes"));
        }
    }
    if (type == 4) {
        SIGIL_GUARD(decode_auths(tx, &f[i++]));
    }
    if (type == 0) {
        uint64_t v;
        SIGIL_GUARD(sigil_rlp_item_u64(&v, &f[i++], "v"));
        if (v == 27 || v == 28) {
            tx->has_chain_id = false;
            tx->sig.y_parity = (uint8_t)(v - 27);
        } else if (v >= 35) {
            tx->has_chain_id = true;
            tx->chain_id = (v - 35) / 2;
            tx->sig.y_parity = (uint8_t)((v - 35) % 2);
        } else {
            return sigil_errorf(SIGIL_ERR_PARSE, "v: must be 27, 28 or chainId * 2 + 35/36");
        }
        SIGIL_GUARD(sigil_rlp_item_uint_be(tx->sig.r, 32, &f[i], "r"));
        SIGIL_GUARD(sigil_rlp_item_uint_be(tx->sig.s, 32, &f[i + 1], "s"));
    } else {
        SIGIL_GUARD(decode_sig(&tx->sig, &f[i]));
    }
    tx->is_signed = true;
    return sigil_ok();
}

sigil_result sigil_eth1_tx_sender(uint8_t addr[20], const struct sigil_eth1_tx *tx)
{
    uint8_t h[32];
    SIGIL_GUARD(sigil_eth1_tx_signing_hash(h, tx));
    return sigil_secp256k1_recover_address(addr, &tx->sig, h);
}

/* ---- JSON ---- */

void sigil_eth1_format_quantity(char out[67], const uint8_t be[32])
{
    char h[65];
    sigil_hex_encode(h, be, 32, 0);
    size_t skip = 0;
    while (skip < 63 && h[skip] == '0') {
        skip++;
    }
    out[0] = '0';
    out[1] = 'x';
    memcpy(out + 2, h + skip, 65 - skip); /* with the NUL */
}

sigil_result sigil_eth1_parse_quantity(sigil_u256 *out, const char *s, const char *field)
{
    size_t len = strlen(s);
    if (len < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected a 0x-prefixed hex quantity", field);
    }
    s += 2;
    len -= 2;
    if (len > 1 && s[0] == '0') {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: hex quantity has leading zeros", field);
    }
    if (len > 64) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: quantity exceeds 256 bits", field);
    }
    char buf[65];
    memset(buf, '0', 64);
    memcpy(buf + 64 - len, s, len);
    buf[64] = 0;
    if (sigil_hex_decode_digits_ct(out->b, buf, 32) != 1) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: invalid hex digit", field);
    }
    return sigil_ok();
}

static sigil_result js_str(const char **out, const json_t *v, const char *field)
{
    if (!json_is_string(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected a string", field);
    }
    *out = json_string_value(v);
    if (strlen(*out) != json_string_length(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: contains a NUL character", field);
    }
    return sigil_ok();
}

static sigil_result js_u256(sigil_u256 *out, const json_t *v, const char *field)
{
    const char *s;
    SIGIL_GUARD(js_str(&s, v, field));
    return sigil_eth1_parse_quantity(out, s, field);
}

bool sigil_eth1_u256_to_u64(uint64_t *out, const sigil_u256 *q)
{
    for (int i = 0; i < 24; i++) {
        if (q->b[i] != 0) {
            return false;
        }
    }
    uint64_t r = 0;
    for (int i = 24; i < 32; i++) {
        r = (r << 8) | q->b[i];
    }
    *out = r;
    return true;
}

static sigil_result js_u64(uint64_t *out, const json_t *v, const char *field)
{
    sigil_u256 q;
    SIGIL_GUARD(js_u256(&q, v, field));
    if (!sigil_eth1_u256_to_u64(out, &q)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: quantity exceeds 64 bits", field);
    }
    return sigil_ok();
}

static sigil_result js_addr(uint8_t out[20], const json_t *v, const char *field)
{
    const char *s;
    SIGIL_GUARD(js_str(&s, v, field));
    if (!sigil_is_ok(sigil_eip55_parse(out, s))) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected a 0x address of 20 bytes with a valid EIP-55 checksum",
                            field);
    }
    return sigil_ok();
}

static sigil_result js_b32(uint8_t out[32], const json_t *v, const char *field)
{
    const char *s;
    SIGIL_GUARD(js_str(&s, v, field));
    if (strlen(s) != 66 || s[0] != '0' || s[1] != 'x' || sigil_hex_decode_digits_ct(out, s + 2, 32) != 1) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected 0x and 64 hex digits", field);
    }
    return sigil_ok();
}

static sigil_result js_data(struct sigil_eth1_tx *tx, const json_t *v, const char *field)
{
    const char *s;
    SIGIL_GUARD(js_str(&s, v, field));
    size_t len = strlen(s);
    if (len < 2 || s[0] != '0' || s[1] != 'x' || (len % 2) != 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: expected 0x and an even number of hex digits", field);
    }
    size_t n = (len - 2) / 2;
    if (n > SIGIL_TX_MAX_DATA) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "%s: over %u bytes", field, SIGIL_TX_MAX_DATA);
    }
    tx->data = malloc(n > 0 ? n : 1);
    if (tx->data == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    if (sigil_hex_decode_digits_ct(tx->data, s + 2, n) != 1) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s: invalid hex digit", field);
    }
    tx->data_len = n;
    return sigil_ok();
}

static sigil_result js_access_list(struct sigil_eth1_tx *tx, const json_t *v)
{
    if (!json_is_array(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "accessList: expected an array");
    }
    size_t n = json_array_size(v);
    if (n > SIGIL_TX_MAX_ACCESS_LIST) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "accessList: more than %d entries", SIGIL_TX_MAX_ACCESS_LIST);
    }
    tx->access_list = calloc(n > 0 ? n : 1, sizeof *tx->access_list);
    if (tx->access_list == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        const json_t *keys = json_object_get(e, "storageKeys");
        if (!json_is_object(e) || json_object_size(e) != 2 || !json_is_array(keys)) {
            return sigil_errorf(SIGIL_ERR_PARSE, "accessList[%zu]: expected {address, storageKeys}", i);
        }
        struct sigil_eth1_access_entry *ae = &tx->access_list[i];
        tx->access_list_len = i + 1;
        SIGIL_GUARD(js_addr(ae->address, json_object_get(e, "address"), "accessList.address"));
        size_t kn = json_array_size(keys);
        total += kn;
        if (total > SIGIL_TX_MAX_STORAGE_KEYS) {
            return sigil_errorf(SIGIL_ERR_TOO_LARGE, "accessList: more than %d storage keys",
                                SIGIL_TX_MAX_STORAGE_KEYS);
        }
        ae->keys = calloc(kn > 0 ? kn : 1, 32);
        if (ae->keys == NULL) {
            return sigil_error(SIGIL_ERR_NOMEM);
        }
        ae->nkeys = kn;
        for (size_t k = 0; k < kn; k++) {
            SIGIL_GUARD(js_b32(ae->keys[k], json_array_get(keys, k), "accessList.storageKeys"));
        }
    }
    return sigil_ok();
}

static sigil_result js_blobs(struct sigil_eth1_tx *tx, const json_t *v)
{
    if (!json_is_array(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "blobVersionedHashes: expected an array");
    }
    size_t n = json_array_size(v);
    if (n == 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "blobVersionedHashes: must not be empty");
    }
    if (n > SIGIL_TX_MAX_BLOBS) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "blobVersionedHashes: more than %d", SIGIL_TX_MAX_BLOBS);
    }
    tx->blob_hashes = calloc(n, 32);
    if (tx->blob_hashes == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    tx->blob_hashes_len = n;
    for (size_t i = 0; i < n; i++) {
        SIGIL_GUARD(js_b32(tx->blob_hashes[i], json_array_get(v, i), "blobVersionedHashes"));
        if (tx->blob_hashes[i][0] != 0x01) {
            return sigil_errorf(SIGIL_ERR_PARSE, "blobVersionedHashes[%zu]: version byte must be 0x01", i);
        }
    }
    return sigil_ok();
}

sigil_result sigil_eth1_auth_from_json(struct sigil_eth1_auth *auth, const json_t *obj, const char *where)
{
    char f[96];
    (void)snprintf(f, sizeof f, "%s.chainId", where);
    SIGIL_GUARD(js_u256(&auth->chain_id, json_object_get(obj, "chainId"), f));
    (void)snprintf(f, sizeof f, "%s.address", where);
    SIGIL_GUARD(js_addr(auth->address, json_object_get(obj, "address"), f));
    (void)snprintf(f, sizeof f, "%s.nonce", where);
    return js_u64(&auth->nonce, json_object_get(obj, "nonce"), f);
}

static sigil_result js_auths(struct sigil_eth1_tx *tx, const json_t *v)
{
    if (!json_is_array(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "authorizationList: expected an array");
    }
    size_t n = json_array_size(v);
    if (n == 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "authorizationList: must not be empty");
    }
    if (n > SIGIL_TX_MAX_AUTHS) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "authorizationList: more than %d entries", SIGIL_TX_MAX_AUTHS);
    }
    tx->auths = calloc(n, sizeof *tx->auths);
    if (tx->auths == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    tx->auths_len = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_object(e) || json_object_size(e) != 6) {
            return sigil_errorf(SIGIL_ERR_PARSE,
                                "authorizationList[%zu]: expected {chainId, address, nonce, yParity, r, s}", i);
        }
        struct sigil_eth1_auth *a = &tx->auths[i];
        uint64_t y;
        sigil_u256 r;
        sigil_u256 s;
        SIGIL_GUARD(sigil_eth1_auth_from_json(a, e, "authorizationList"));
        SIGIL_GUARD(js_u64(&y, json_object_get(e, "yParity"), "authorizationList.yParity"));
        SIGIL_GUARD(js_u256(&r, json_object_get(e, "r"), "authorizationList.r"));
        SIGIL_GUARD(js_u256(&s, json_object_get(e, "s"), "authorizationList.s"));
        if (y > 1) {
            return sigil_errorf(SIGIL_ERR_PARSE, "authorizationList.yParity: must be 0x0 or 0x1");
        }
        a->sig.y_parity = (uint8_t)y;
        memcpy(a->sig.r, r.b, 32);
        memcpy(a->sig.s, s.b, 32);
    }
    return sigil_ok();
}

static sigil_result tx_from_json(struct sigil_eth1_tx *tx, const json_t *obj)
{
    if (!json_is_object(obj)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "transaction: expected a JSON object");
    }
    const json_t *f_type = json_object_get(obj, "type");
    const json_t *f_auth = json_object_get(obj, "authorizationList");
    const json_t *f_blobfee = json_object_get(obj, "maxFeePerBlobGas");
    const json_t *f_blobs = json_object_get(obj, "blobVersionedHashes");
    const json_t *f_maxfee = json_object_get(obj, "maxFeePerGas");
    const json_t *f_prio = json_object_get(obj, "maxPriorityFeePerGas");
    const json_t *f_gp = json_object_get(obj, "gasPrice");
    const json_t *f_al = json_object_get(obj, "accessList");
    uint64_t type;
    if (f_type != NULL && !json_is_null(f_type)) {
        SIGIL_GUARD(js_u64(&type, f_type, "type"));
        if (type > 4) {
            return sigil_errorf(SIGIL_ERR_PARSE, "type: unsupported transaction type %llu", (unsigned long long)type);
        }
    } else if (f_auth != NULL) {
        type = 4;
    } else if (f_blobs != NULL || f_blobfee != NULL) {
        type = 3;
    } else if (f_maxfee != NULL || f_prio != NULL) {
        type = 2;
    } else if (f_al != NULL) {
        type = 1;
    } else {
        type = 0;
    }
    tx->type = (uint8_t)type;

    /* Which members each type allows: a member of another type is a mistake worth refusing. */
    static const struct {
        const char *name;
        uint8_t types; /* bit t set = allowed for type t */
    } allowed[] = {
        {"type", 0x1f},
        {"from", 0x1f},
        {"to", 0x1f},
        {"nonce", 0x1f},
        {"gas", 0x1f},
        {"gasLimit", 0x1f},
        {"value", 0x1f},
        {"data", 0x1f},
        {"input", 0x1f},
        {"chainId", 0x1f},
        {"gasPrice", 0x03},
        {"accessList", 0x1e},
        {"maxFeePerGas", 0x1c},
        {"maxPriorityFeePerGas", 0x1c},
        {"maxFeePerBlobGas", 0x08},
        {"blobVersionedHashes", 0x08},
        {"authorizationList", 0x10},
    };
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        size_t k = 0;
        while (k < sizeof allowed / sizeof allowed[0] && strcmp(allowed[k].name, key) != 0) {
            k++;
        }
        if (k == sizeof allowed / sizeof allowed[0]) {
            return sigil_errorf(SIGIL_ERR_PARSE, "unknown transaction field (not an eth_signTransaction member)");
        }
        if ((allowed[k].types & (1u << type)) == 0) {
            return sigil_errorf(SIGIL_ERR_PARSE, "%s: not allowed in a type %llu transaction", allowed[k].name,
                                (unsigned long long)type);
        }
    }

    const json_t *v;
    if ((v = json_object_get(obj, "from")) != NULL) {
        SIGIL_GUARD(js_addr(tx->from, v, "from"));
        tx->has_from = true;
    }
    if ((v = json_object_get(obj, "to")) != NULL && !json_is_null(v)) {
        SIGIL_GUARD(js_addr(tx->to, v, "to"));
        tx->has_to = true;
    }
    if ((type == 3 || type == 4) && !tx->has_to) {
        return sigil_errorf(SIGIL_ERR_PARSE, "to: required for a type %llu transaction", (unsigned long long)type);
    }
    if ((v = json_object_get(obj, "nonce")) == NULL) {
        return sigil_errorf(SIGIL_ERR_PARSE, "nonce: missing");
    }
    SIGIL_GUARD(js_u64(&tx->nonce, v, "nonce"));
    const json_t *gas = json_object_get(obj, "gas");
    const json_t *gas_limit = json_object_get(obj, "gasLimit");
    if (gas != NULL && gas_limit != NULL) {
        return sigil_errorf(SIGIL_ERR_PARSE, "gas: give gas or gasLimit, not both");
    }
    if (gas == NULL && gas_limit == NULL) {
        return sigil_errorf(SIGIL_ERR_PARSE, "gas: missing");
    }
    SIGIL_GUARD(js_u64(&tx->gas_limit, gas != NULL ? gas : gas_limit, "gas"));
    if ((v = json_object_get(obj, "value")) != NULL) {
        SIGIL_GUARD(js_u256(&tx->value, v, "value"));
    }
    const json_t *data = json_object_get(obj, "data");
    const json_t *input = json_object_get(obj, "input");
    if (data != NULL && input != NULL && !json_equal(data, input)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "input: differs from data");
    }
    if (input != NULL || data != NULL) {
        SIGIL_GUARD(js_data(tx, input != NULL ? input : data, input != NULL ? "input" : "data"));
    }
    if ((v = json_object_get(obj, "chainId")) != NULL) {
        SIGIL_GUARD(js_u64(&tx->chain_id, v, "chainId"));
        tx->has_chain_id = true;
        if (type == 0 && tx->chain_id == 0) {
            /* ethers reads chainId 0 as "no EIP-155"; refuse rather than guess which was meant. */
            return sigil_errorf(SIGIL_ERR_PARSE, "chainId: 0 is not an EIP-155 chain; omit chainId for a "
                                                 "transaction without replay protection");
        }
    } else if (type != 0) {
        return sigil_errorf(SIGIL_ERR_PARSE, "chainId: missing");
    }
    if (type <= 1) {
        if (f_gp == NULL) {
            return sigil_errorf(SIGIL_ERR_PARSE, "gasPrice: missing");
        }
        SIGIL_GUARD(js_u256(&tx->gas_price, f_gp, "gasPrice"));
    } else {
        if (f_maxfee == NULL) {
            return sigil_errorf(SIGIL_ERR_PARSE, "maxFeePerGas: missing");
        }
        if (f_prio == NULL) {
            return sigil_errorf(SIGIL_ERR_PARSE, "maxPriorityFeePerGas: missing");
        }
        SIGIL_GUARD(js_u256(&tx->max_fee, f_maxfee, "maxFeePerGas"));
        SIGIL_GUARD(js_u256(&tx->max_priority_fee, f_prio, "maxPriorityFeePerGas"));
        if (memcmp(tx->max_priority_fee.b, tx->max_fee.b, 32) > 0) {
            return sigil_errorf(SIGIL_ERR_PARSE, "maxPriorityFeePerGas: exceeds maxFeePerGas");
        }
    }
    if (f_al != NULL) {
        SIGIL_GUARD(js_access_list(tx, f_al));
    }
    if (type == 3) {
        if (f_blobfee == NULL) {
            return sigil_errorf(SIGIL_ERR_PARSE, "maxFeePerBlobGas: missing");
        }
        if (f_blobs == NULL) {
            return sigil_errorf(SIGIL_ERR_PARSE, "blobVersionedHashes: missing");
        }
        SIGIL_GUARD(js_u256(&tx->max_fee_per_blob_gas, f_blobfee, "maxFeePerBlobGas"));
        SIGIL_GUARD(js_blobs(tx, f_blobs));
    }
    if (type == 4) {
        SIGIL_GUARD(js_auths(tx, f_auth));
    }
    return sigil_ok();
}

sigil_result sigil_eth1_tx_from_json(struct sigil_eth1_tx *tx, const json_t *obj)
{
    sigil_eth1_tx_init(tx);
    sigil_result r = tx_from_json(tx, obj);
    if (!sigil_is_ok(r)) {
        sigil_eth1_tx_free(tx);
    }
    return r;
}
