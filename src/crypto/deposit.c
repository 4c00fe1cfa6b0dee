#include "crypto/deposit.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"
#include "common/json.h"

static const struct sigil_deposit_network networks[] = {
    {"mainnet", {0x00, 0x00, 0x00, 0x00}},
    {"sepolia", {0x90, 0x00, 0x00, 0x69}},
    {"holesky", {0x01, 0x01, 0x70, 0x00}},
    {"hoodi", {0x10, 0x00, 0x09, 0x10}},
};

static const uint8_t DOMAIN_DEPOSIT[4] = {0x03, 0x00, 0x00, 0x00};

sigil_result sigil_deposit_network_lookup(const struct sigil_deposit_network **out, const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(networks) / sizeof(networks[0]); i++) {
        if (strcmp(name, networks[i].name) == 0) {
            *out = &networks[i];
            return sigil_ok();
        }
    }
    *out = NULL;
    return sigil_errorf(SIGIL_ERR_NOT_FOUND, "unknown network '%.32s' (known: mainnet, sepolia, holesky, hoodi)",
                        name != NULL ? name : "");
}

sigil_result sigil_deposit_withdrawal_credentials(uint8_t out[32], uint8_t type, const uint8_t address[20])
{
    if (type != SIGIL_DEPOSIT_WC_ETH1 && type != SIGIL_DEPOSIT_WC_COMPOUNDING) {
        return sigil_errorf(SIGIL_ERR_ARG, "withdrawal credential type 0x%02x takes no address (0x01 or 0x02)", type);
    }
    memset(out, 0, 32);
    out[0] = type;
    memcpy(out + 12, address, 20);
    return sigil_ok();
}

void sigil_deposit_bls_withdrawal_credentials(uint8_t out[32], const uint8_t withdrawal_pubkey[SIGIL_BLS_PK_LEN])
{
    SHA256(withdrawal_pubkey, SIGIL_BLS_PK_LEN, out);
    out[0] = SIGIL_DEPOSIT_WC_BLS;
}

sigil_result sigil_deposit_check(const uint8_t wc[32], uint64_t amount)
{
    uint64_t max;
    switch (wc[0]) {
    case SIGIL_DEPOSIT_WC_BLS:
        max = SIGIL_DEPOSIT_DEFAULT_AMOUNT;
        break;
    case SIGIL_DEPOSIT_WC_ETH1:
    case SIGIL_DEPOSIT_WC_COMPOUNDING:
        for (int i = 1; i < 12; i++) {
            if (wc[i] != 0) {
                return sigil_errorf(SIGIL_ERR_ARG,
                                    "withdrawal credentials 0x%02x must have 11 zero bytes before the "
                                    "address",
                                    wc[0]);
            }
        }
        max = wc[0] == SIGIL_DEPOSIT_WC_ETH1 ? SIGIL_DEPOSIT_DEFAULT_AMOUNT : SIGIL_DEPOSIT_MAX_COMPOUNDING;
        break;
    default:
        return sigil_errorf(SIGIL_ERR_ARG, "unknown withdrawal credential prefix 0x%02x", wc[0]);
    }
    if (amount < SIGIL_DEPOSIT_MIN_AMOUNT || amount > max) {
        return sigil_errorf(SIGIL_ERR_ARG, "deposit amount %llu gwei is outside [%llu, %llu] for 0x%02x credentials",
                            (unsigned long long)amount, (unsigned long long)SIGIL_DEPOSIT_MIN_AMOUNT,
                            (unsigned long long)max, wc[0]);
    }
    return sigil_ok();
}

/* ---- SSZ: just the merkleization these fixed-size containers need ---- */

static void hash_pair(uint8_t out[32], const uint8_t a[32], const uint8_t b[32])
{
    uint8_t buf[64];
    memcpy(buf, a, 32);
    memcpy(buf + 32, b, 32);
    SHA256(buf, 64, out);
}

/* Bytes48: two chunks (the second zero-padded), one hash. */
static void pubkey_root(uint8_t out[32], const uint8_t pk[SIGIL_BLS_PK_LEN])
{
    uint8_t chunks[64] = {0};
    memcpy(chunks, pk, SIGIL_BLS_PK_LEN);
    SHA256(chunks, 64, out);
}

/* Bytes96: three chunks padded to four. */
static void signature_root(uint8_t out[32], const uint8_t sig[SIGIL_BLS_SIG_LEN])
{
    static const uint8_t zero[32];
    uint8_t left[32], right[32];
    hash_pair(left, sig, sig + 32);
    hash_pair(right, sig + 64, zero);
    hash_pair(out, left, right);
}

/* uint64: little-endian, zero-padded to one chunk. */
static void u64_chunk(uint8_t out[32], uint64_t v)
{
    memset(out, 0, 32);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Root of a container with four (or three + zero-padding) field roots. */
static void root4(uint8_t out[32], const uint8_t a[32], const uint8_t b[32], const uint8_t c[32], const uint8_t d[32])
{
    uint8_t left[32], right[32];
    hash_pair(left, a, b);
    hash_pair(right, c, d);
    hash_pair(out, left, right);
}

void sigil_deposit_message_root(uint8_t out[32], const uint8_t pubkey[SIGIL_BLS_PK_LEN],
                                const uint8_t withdrawal_credentials[32], uint64_t amount)
{
    static const uint8_t zero[32];
    uint8_t pk[32], amt[32];
    pubkey_root(pk, pubkey);
    u64_chunk(amt, amount);
    root4(out, pk, withdrawal_credentials, amt, zero);
}

void sigil_deposit_data_root(uint8_t out[32], const uint8_t pubkey[SIGIL_BLS_PK_LEN],
                             const uint8_t withdrawal_credentials[32], uint64_t amount,
                             const uint8_t signature[SIGIL_BLS_SIG_LEN])
{
    uint8_t pk[32], amt[32], sig[32];
    pubkey_root(pk, pubkey);
    u64_chunk(amt, amount);
    signature_root(sig, signature);
    root4(out, pk, withdrawal_credentials, amt, sig);
}

void sigil_deposit_compute_domain(uint8_t out[32], const uint8_t fork_version[4])
{
    /* ForkData{current_version: Bytes4, genesis_validators_root: Bytes32}: two chunks. */
    static const uint8_t zero_root[32];
    uint8_t version_chunk[32] = {0}, fork_data_root[32];
    memcpy(version_chunk, fork_version, 4);
    hash_pair(fork_data_root, version_chunk, zero_root);
    memcpy(out, DOMAIN_DEPOSIT, 4);
    memcpy(out + 4, fork_data_root, 28);
}

void sigil_deposit_signing_root(uint8_t out[32], const uint8_t object_root[32], const uint8_t domain[32])
{
    hash_pair(out, object_root, domain);
}

static void deposit_signing_root(uint8_t out[32], const struct sigil_deposit_data *d)
{
    uint8_t domain[32];
    sigil_deposit_compute_domain(domain, d->fork_version);
    sigil_deposit_signing_root(out, d->deposit_message_root, domain);
}

sigil_result sigil_deposit_create(struct sigil_deposit_data *out, const sigil_bls_sk *sk,
                                  const uint8_t withdrawal_credentials[32], uint64_t amount, const char *network,
                                  const char *cli_version)
{
    const struct sigil_deposit_network *net;
    memset(out, 0, sizeof(*out));
    SIGIL_ENSURE(sk != NULL && withdrawal_credentials != NULL, SIGIL_ERR_ARG);
    SIGIL_GUARD(sigil_deposit_network_lookup(&net, network));
    SIGIL_GUARD(sigil_deposit_check(withdrawal_credentials, amount));
    cli_version = cli_version != NULL ? cli_version : SIGIL_DEPOSIT_DEFAULT_CLI_VERSION;
    if (strlen(cli_version) >= sizeof(out->deposit_cli_version)) {
        return sigil_errorf(SIGIL_ERR_ARG, "deposit_cli_version is longer than %zu bytes",
                            sizeof(out->deposit_cli_version) - 1);
    }

    sigil_bls_pk pk;
    sigil_bls_sig sig;
    uint8_t signing_root[32];
    sigil_bls_sk_to_pk(&pk, sk);
    sigil_bls_pk_compress(out->pubkey, &pk);
    memcpy(out->withdrawal_credentials, withdrawal_credentials, 32);
    out->amount = amount;
    memcpy(out->fork_version, net->fork_version, 4);
    snprintf(out->network_name, sizeof(out->network_name), "%s", net->name);
    snprintf(out->deposit_cli_version, sizeof(out->deposit_cli_version), "%s", cli_version);
    sigil_deposit_message_root(out->deposit_message_root, out->pubkey, out->withdrawal_credentials, amount);
    deposit_signing_root(signing_root, out);
    sigil_bls_sign(&sig, sk, signing_root, sizeof(signing_root));
    sigil_bls_sig_compress(out->signature, &sig);
    sigil_deposit_data_root(out->deposit_data_root, out->pubkey, out->withdrawal_credentials, amount, out->signature);
    return sigil_ok();
}

sigil_result sigil_deposit_verify(const struct sigil_deposit_data *d)
{
    const struct sigil_deposit_network *net;
    uint8_t root[32], signing_root[32];
    sigil_bls_pk pk;
    sigil_bls_sig sig;
    SIGIL_GUARD(sigil_deposit_check(d->withdrawal_credentials, d->amount));
    /* An unknown network name is allowed (devnets); a known one must carry its fork version. */
    if (sigil_is_ok(sigil_deposit_network_lookup(&net, d->network_name)) &&
        memcmp(net->fork_version, d->fork_version, 4) != 0) {
        return sigil_errorf(SIGIL_ERR_ARG, "fork_version does not match network '%s'", net->name);
    }
    sigil_error_clear();
    sigil_deposit_message_root(root, d->pubkey, d->withdrawal_credentials, d->amount);
    if (memcmp(root, d->deposit_message_root, 32) != 0) {
        return sigil_errorf(SIGIL_ERR_ARG, "deposit_message_root does not match the deposit message");
    }
    sigil_deposit_data_root(root, d->pubkey, d->withdrawal_credentials, d->amount, d->signature);
    if (memcmp(root, d->deposit_data_root, 32) != 0) {
        return sigil_errorf(SIGIL_ERR_ARG, "deposit_data_root does not match the deposit data");
    }
    SIGIL_GUARD(sigil_bls_pk_decompress(&pk, d->pubkey));
    SIGIL_GUARD(sigil_bls_sig_decompress(&sig, d->signature));
    deposit_signing_root(signing_root, d);
    if (!sigil_bls_verify_var(&pk, signing_root, sizeof(signing_root), &sig)) {
        return sigil_errorf(SIGIL_ERR_ARG, "deposit signature does not verify");
    }
    return sigil_ok();
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char buf[2 * SIGIL_BLS_SIG_LEN + 3];
    return json_string(sigil_hex_encode(buf, b, n, 0));
}

sigil_result sigil_deposit_to_json(json_t **out, const struct sigil_deposit_data *d)
{
    *out = json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:s, s:s}", "pubkey", hex_json(d->pubkey, 48),
                     "withdrawal_credentials", hex_json(d->withdrawal_credentials, 32), "amount", (json_int_t)d->amount,
                     "signature", hex_json(d->signature, 96), "deposit_message_root",
                     hex_json(d->deposit_message_root, 32), "deposit_data_root", hex_json(d->deposit_data_root, 32),
                     "fork_version", hex_json(d->fork_version, 4), "network_name", d->network_name,
                     "deposit_cli_version", d->deposit_cli_version);
    return *out != NULL ? sigil_ok() : sigil_error(SIGIL_ERR_NOMEM);
}

static sigil_result copy_string(char *dst, size_t cap, const json_t *obj, const char *field)
{
    const char *s;
    SIGIL_GUARD(sigil_json_get_string(&s, obj, field));
    if (strlen(s) >= cap) {
        return sigil_errorf(SIGIL_ERR_PARSE, "field '%s' is longer than %zu bytes", field, cap - 1);
    }
    snprintf(dst, cap, "%s", s);
    return sigil_ok();
}

sigil_result sigil_deposit_from_json(struct sigil_deposit_data *out, const json_t *obj)
{
    memset(out, 0, sizeof(*out));
    SIGIL_GUARD(sigil_json_get_hex(out->pubkey, 48, obj, "pubkey"));
    SIGIL_GUARD(sigil_json_get_hex(out->withdrawal_credentials, 32, obj, "withdrawal_credentials"));
    SIGIL_GUARD(sigil_json_get_u64(&out->amount, obj, "amount"));
    SIGIL_GUARD(sigil_json_get_hex(out->signature, 96, obj, "signature"));
    SIGIL_GUARD(sigil_json_get_hex(out->deposit_message_root, 32, obj, "deposit_message_root"));
    SIGIL_GUARD(sigil_json_get_hex(out->deposit_data_root, 32, obj, "deposit_data_root"));
    SIGIL_GUARD(sigil_json_get_hex(out->fork_version, 4, obj, "fork_version"));
    SIGIL_GUARD(copy_string(out->network_name, sizeof(out->network_name), obj, "network_name"));
    SIGIL_GUARD(copy_string(out->deposit_cli_version, sizeof(out->deposit_cli_version), obj, "deposit_cli_version"));
    return sigil_ok();
}
