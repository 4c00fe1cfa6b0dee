#include "eth2/containers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/json.h"
#include "eth2/ssz.h"

/* ---- mainnet preset (consensus-specs presets/mainnet/{phase0,altair,electra}.yaml) ---- */
#define MAX_VALIDATORS_PER_COMMITTEE 2048
#define MAX_COMMITTEES_PER_SLOT      64
#define MAX_PROPOSER_SLASHINGS       16
#define MAX_ATTESTER_SLASHINGS       2
#define MAX_ATTESTATIONS             128
#define MAX_DEPOSITS                 16
#define MAX_VOLUNTARY_EXITS          16
#define DEPOSIT_PROOF_LENGTH         33 /* DEPOSIT_CONTRACT_TREE_DEPTH + 1 */
#define SYNC_COMMITTEE_SIZE          512
#define SYNC_COMMITTEE_SUBNET_COUNT  4

#define CONTAINER(fields)                                                                                              \
    {                                                                                                                  \
        SIGIL_SSZ_CONTAINER, 0, NULL, fields, sizeof fields / sizeof fields[0]                                         \
    }

const struct sigil_ssz_type sigil_ssz_uint64 = {SIGIL_SSZ_UINT64, 0, NULL, NULL, 0};
const struct sigil_ssz_type sigil_ssz_bytes4 = {SIGIL_SSZ_BYTES, 4, NULL, NULL, 0};
const struct sigil_ssz_type sigil_ssz_bytes20 = {SIGIL_SSZ_BYTES, 20, NULL, NULL, 0};
const struct sigil_ssz_type sigil_ssz_bytes32 = {SIGIL_SSZ_BYTES, 32, NULL, NULL, 0};
const struct sigil_ssz_type sigil_ssz_bytes48 = {SIGIL_SSZ_BYTES, 48, NULL, NULL, 0};
const struct sigil_ssz_type sigil_ssz_bytes96 = {SIGIL_SSZ_BYTES, 96, NULL, NULL, 0};

#define U64 (&sigil_ssz_uint64)
#define B4  (&sigil_ssz_bytes4)
#define B20 (&sigil_ssz_bytes20)
#define B32 (&sigil_ssz_bytes32)
#define B48 (&sigil_ssz_bytes48)
#define B96 (&sigil_ssz_bytes96)

/* phase0 */
static const struct sigil_ssz_field checkpoint_f[] = {{"epoch", U64}, {"root", B32}};
static const struct sigil_ssz_type checkpoint = CONTAINER(checkpoint_f);

static const struct sigil_ssz_field attestation_data_f[] = {
    {"slot", U64}, {"index", U64}, {"beacon_block_root", B32}, {"source", &checkpoint}, {"target", &checkpoint}};
const struct sigil_ssz_type sigil_ssz_attestation_data = CONTAINER(attestation_data_f);

static const struct sigil_ssz_type attesting_indices = {SIGIL_SSZ_LIST, MAX_VALIDATORS_PER_COMMITTEE, U64, NULL, 0};
static const struct sigil_ssz_field indexed_attestation_f[] = {
    {"attesting_indices", &attesting_indices}, {"data", &sigil_ssz_attestation_data}, {"signature", B96}};
static const struct sigil_ssz_type indexed_attestation = CONTAINER(indexed_attestation_f);

static const struct sigil_ssz_field attester_slashing_f[] = {{"attestation_1", &indexed_attestation},
                                                             {"attestation_2", &indexed_attestation}};
static const struct sigil_ssz_type attester_slashing = CONTAINER(attester_slashing_f);

static const struct sigil_ssz_field beacon_block_header_f[] = {
    {"slot", U64}, {"proposer_index", U64}, {"parent_root", B32}, {"state_root", B32}, {"body_root", B32}};
const struct sigil_ssz_type sigil_ssz_beacon_block_header = CONTAINER(beacon_block_header_f);

static const struct sigil_ssz_field signed_header_f[] = {{"message", &sigil_ssz_beacon_block_header},
                                                         {"signature", B96}};
static const struct sigil_ssz_type signed_header = CONTAINER(signed_header_f);

static const struct sigil_ssz_field proposer_slashing_f[] = {{"signed_header_1", &signed_header},
                                                             {"signed_header_2", &signed_header}};
static const struct sigil_ssz_type proposer_slashing = CONTAINER(proposer_slashing_f);

static const struct sigil_ssz_type aggregation_bits_phase0 = {SIGIL_SSZ_BITLIST, MAX_VALIDATORS_PER_COMMITTEE, NULL,
                                                              NULL, 0};
static const struct sigil_ssz_field attestation_phase0_f[] = {
    {"aggregation_bits", &aggregation_bits_phase0}, {"data", &sigil_ssz_attestation_data}, {"signature", B96}};
static const struct sigil_ssz_type attestation_phase0 = CONTAINER(attestation_phase0_f);

static const struct sigil_ssz_field eth1_data_f[] = {
    {"deposit_root", B32}, {"deposit_count", U64}, {"block_hash", B32}};
static const struct sigil_ssz_type eth1_data = CONTAINER(eth1_data_f);

static const struct sigil_ssz_field deposit_data_f[] = {
    {"pubkey", B48}, {"withdrawal_credentials", B32}, {"amount", U64}, {"signature", B96}};
static const struct sigil_ssz_type deposit_data = CONTAINER(deposit_data_f);
static const struct sigil_ssz_type deposit_proof = {SIGIL_SSZ_VECTOR, DEPOSIT_PROOF_LENGTH, B32, NULL, 0};
static const struct sigil_ssz_field deposit_f[] = {{"proof", &deposit_proof}, {"data", &deposit_data}};
static const struct sigil_ssz_type deposit = CONTAINER(deposit_f);

static const struct sigil_ssz_field voluntary_exit_f[] = {{"epoch", U64}, {"validator_index", U64}};
const struct sigil_ssz_type sigil_ssz_voluntary_exit = CONTAINER(voluntary_exit_f);
static const struct sigil_ssz_field signed_voluntary_exit_f[] = {{"message", &sigil_ssz_voluntary_exit},
                                                                 {"signature", B96}};
static const struct sigil_ssz_type signed_voluntary_exit = CONTAINER(signed_voluntary_exit_f);

static const struct sigil_ssz_type proposer_slashings = {SIGIL_SSZ_LIST, MAX_PROPOSER_SLASHINGS, &proposer_slashing,
                                                         NULL, 0};
static const struct sigil_ssz_type attester_slashings = {SIGIL_SSZ_LIST, MAX_ATTESTER_SLASHINGS, &attester_slashing,
                                                         NULL, 0};
static const struct sigil_ssz_type attestations = {SIGIL_SSZ_LIST, MAX_ATTESTATIONS, &attestation_phase0, NULL, 0};
static const struct sigil_ssz_type deposits = {SIGIL_SSZ_LIST, MAX_DEPOSITS, &deposit, NULL, 0};
static const struct sigil_ssz_type voluntary_exits = {SIGIL_SSZ_LIST, MAX_VOLUNTARY_EXITS, &signed_voluntary_exit, NULL,
                                                      0};

static const struct sigil_ssz_field body_phase0_f[] = {
    {"randao_reveal", B96},
    {"eth1_data", &eth1_data},
    {"graffiti", B32},
    {"proposer_slashings", &proposer_slashings},
    {"attester_slashings", &attester_slashings},
    {"attestations", &attestations},
    {"deposits", &deposits},
    {"voluntary_exits", &voluntary_exits},
};
static const struct sigil_ssz_type body_phase0 = CONTAINER(body_phase0_f);

static const struct sigil_ssz_field block_phase0_f[] = {
    {"slot", U64}, {"proposer_index", U64}, {"parent_root", B32}, {"state_root", B32}, {"body", &body_phase0}};
const struct sigil_ssz_type sigil_ssz_beacon_block_phase0 = CONTAINER(block_phase0_f);

static const struct sigil_ssz_field aggregate_and_proof_phase0_f[] = {
    {"aggregator_index", U64}, {"aggregate", &attestation_phase0}, {"selection_proof", B96}};
const struct sigil_ssz_type sigil_ssz_aggregate_and_proof_phase0 = CONTAINER(aggregate_and_proof_phase0_f);

static const struct sigil_ssz_field deposit_message_f[] = {
    {"pubkey", B48}, {"withdrawal_credentials", B32}, {"amount", U64}};
const struct sigil_ssz_type sigil_ssz_deposit_message = CONTAINER(deposit_message_f);

/* altair */
static const struct sigil_ssz_type sync_committee_bits = {SIGIL_SSZ_BITVECTOR, SYNC_COMMITTEE_SIZE, NULL, NULL, 0};
static const struct sigil_ssz_field sync_aggregate_f[] = {{"sync_committee_bits", &sync_committee_bits},
                                                          {"sync_committee_signature", B96}};
static const struct sigil_ssz_type sync_aggregate = CONTAINER(sync_aggregate_f);

static const struct sigil_ssz_field body_altair_f[] = {
    {"randao_reveal", B96},
    {"eth1_data", &eth1_data},
    {"graffiti", B32},
    {"proposer_slashings", &proposer_slashings},
    {"attester_slashings", &attester_slashings},
    {"attestations", &attestations},
    {"deposits", &deposits},
    {"voluntary_exits", &voluntary_exits},
    {"sync_aggregate", &sync_aggregate},
};
static const struct sigil_ssz_type body_altair = CONTAINER(body_altair_f);

static const struct sigil_ssz_field block_altair_f[] = {
    {"slot", U64}, {"proposer_index", U64}, {"parent_root", B32}, {"state_root", B32}, {"body", &body_altair}};
const struct sigil_ssz_type sigil_ssz_beacon_block_altair = CONTAINER(block_altair_f);

static const struct sigil_ssz_field sync_aggregator_selection_data_f[] = {{"slot", U64}, {"subcommittee_index", U64}};
const struct sigil_ssz_type sigil_ssz_sync_aggregator_selection_data = CONTAINER(sync_aggregator_selection_data_f);

static const struct sigil_ssz_type contribution_bits = {
    SIGIL_SSZ_BITVECTOR, SYNC_COMMITTEE_SIZE / SYNC_COMMITTEE_SUBNET_COUNT, NULL, NULL, 0};
static const struct sigil_ssz_field contribution_f[] = {{"slot", U64},
                                                        {"beacon_block_root", B32},
                                                        {"subcommittee_index", U64},
                                                        {"aggregation_bits", &contribution_bits},
                                                        {"signature", B96}};
static const struct sigil_ssz_type contribution = CONTAINER(contribution_f);
static const struct sigil_ssz_field contribution_and_proof_f[] = {
    {"aggregator_index", U64}, {"contribution", &contribution}, {"selection_proof", B96}};
const struct sigil_ssz_type sigil_ssz_contribution_and_proof = CONTAINER(contribution_and_proof_f);

/* builder-specs */
static const struct sigil_ssz_field validator_registration_f[] = {
    {"fee_recipient", B20}, {"gas_limit", U64}, {"timestamp", U64}, {"pubkey", B48}};
const struct sigil_ssz_type sigil_ssz_validator_registration = CONTAINER(validator_registration_f);

/* capella */
static const struct sigil_ssz_field bls_to_execution_change_f[] = {
    {"validator_index", U64}, {"from_bls_pubkey", B48}, {"to_execution_address", B20}};
const struct sigil_ssz_type sigil_ssz_bls_to_execution_change = CONTAINER(bls_to_execution_change_f);

/* electra: Attestation gains committee_bits and a per-slot aggregation bitlist */
static const struct sigil_ssz_type aggregation_bits_electra = {
    SIGIL_SSZ_BITLIST, (uint64_t)MAX_VALIDATORS_PER_COMMITTEE *MAX_COMMITTEES_PER_SLOT, NULL, NULL, 0};
static const struct sigil_ssz_type committee_bits = {SIGIL_SSZ_BITVECTOR, MAX_COMMITTEES_PER_SLOT, NULL, NULL, 0};
static const struct sigil_ssz_field attestation_electra_f[] = {{"aggregation_bits", &aggregation_bits_electra},
                                                               {"data", &sigil_ssz_attestation_data},
                                                               {"signature", B96},
                                                               {"committee_bits", &committee_bits}};
static const struct sigil_ssz_type attestation_electra = CONTAINER(attestation_electra_f);
static const struct sigil_ssz_field aggregate_and_proof_electra_f[] = {
    {"aggregator_index", U64}, {"aggregate", &attestation_electra}, {"selection_proof", B96}};
const struct sigil_ssz_type sigil_ssz_aggregate_and_proof_electra = CONTAINER(aggregate_and_proof_electra_f);

/* ---- paths ---- */

void sigil_eth2_path_init(struct sigil_eth2_path *p, const char *name)
{
    p->len = 0;
    p->s[0] = '\0';
    (void)sigil_eth2_path_push(p, name);
}

static void path_append(struct sigil_eth2_path *p, const char *text)
{
    int w = snprintf(p->s + p->len, sizeof p->s - p->len, "%s", text);
    if (w > 0) {
        p->len += (size_t)w < sizeof p->s - p->len ? (size_t)w : sizeof p->s - p->len - 1;
    }
}

size_t sigil_eth2_path_push(struct sigil_eth2_path *p, const char *name)
{
    size_t old = p->len;
    if (p->len > 0 && name[0] != '\0') {
        path_append(p, ".");
    }
    path_append(p, name);
    return old;
}

static size_t path_push_index(struct sigil_eth2_path *p, size_t i)
{
    size_t old = p->len;
    char buf[32];
    snprintf(buf, sizeof buf, "[%zu]", i);
    path_append(p, buf);
    return old;
}

void sigil_eth2_path_pop(struct sigil_eth2_path *p, size_t len)
{
    p->len = len;
    p->s[len] = '\0';
}

const json_t *sigil_eth2_member(const json_t *obj, const char *name)
{
    if (!json_is_object(obj)) {
        return NULL;
    }
    const json_t *v = json_object_get(obj, name);
    return json_is_null(v) ? NULL : v;
}

/* ---- field decoders ---- */

static sigil_result missing_or(const json_t *v, struct sigil_eth2_path *p, const char *what)
{
    if (v == NULL || json_is_null(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s is missing", p->s);
    }
    return sigil_errorf(SIGIL_ERR_PARSE, "%s must be %s", p->s, what);
}

sigil_result sigil_eth2_get_u64(uint64_t *out, const json_t *v, struct sigil_eth2_path *p)
{
    if (!json_is_string(v) || !sigil_is_ok(sigil_parse_u64(out, json_string_value(v), json_string_length(v)))) {
        return missing_or(v, p, "a decimal string (unsigned 64-bit, no sign or leading zeros)");
    }
    return sigil_ok();
}

static bool has_hex_prefix(const char *s, size_t len)
{
    return len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

sigil_result sigil_eth2_decode_hex_fixed(uint8_t *out, size_t n, const char *s, size_t len)
{
    if (!has_hex_prefix(s, len) || len != 2 + 2 * n || !sigil_hex_decode_digits_ct(out, s + 2, n)) {
        return sigil_error(SIGIL_ERR_PARSE);
    }
    return sigil_ok();
}

sigil_result sigil_eth2_get_bytes(uint8_t *out, size_t n, const json_t *v, struct sigil_eth2_path *p)
{
    if (!json_is_string(v) ||
        !sigil_is_ok(sigil_eth2_decode_hex_fixed(out, n, json_string_value(v), json_string_length(v)))) {
        char what[64];
        snprintf(what, sizeof what, "0x-prefixed hex of %zu bytes", n);
        return missing_or(v, p, what);
    }
    return sigil_ok();
}

/* Decodes "0x" + an even number of hex digits of at most max_bytes bytes into a malloc'ed
 * buffer (the caller frees it). */
static sigil_result decode_hex_var(uint8_t **out, size_t *n, const char *s, size_t len, size_t max_bytes)
{
    *out = NULL;
    if (!has_hex_prefix(s, len) || (len - 2) % 2 != 0 || (len - 2) / 2 > max_bytes) {
        return sigil_error(SIGIL_ERR_PARSE);
    }
    size_t bytes = (len - 2) / 2;
    uint8_t *buf = malloc(bytes > 0 ? bytes : 1);
    if (buf == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    if (!sigil_hex_decode_digits_ct(buf, s + 2, bytes)) {
        free(buf);
        return sigil_error(SIGIL_ERR_PARSE);
    }
    *out = buf;
    *n = bytes;
    return sigil_ok();
}

sigil_result sigil_eth2_bitlist_hex_root(uint8_t out[32], const char *s, size_t len, uint64_t limit_bits)
{
    uint8_t *buf;
    size_t n;
    SIGIL_GUARD(decode_hex_var(&buf, &n, s, len, (size_t)(limit_bits / 8 + 1)));
    sigil_result r = sigil_ssz_bitlist_root(out, buf, n, limit_bits);
    free(buf);
    return r;
}

sigil_result sigil_eth2_bitvector_hex_root(uint8_t out[32], const char *s, size_t len, uint64_t nbits)
{
    uint8_t *buf;
    size_t n;
    SIGIL_GUARD(decode_hex_var(&buf, &n, s, len, (size_t)((nbits + 7) / 8)));
    sigil_result r = sigil_ssz_bitvector_root(out, buf, n, nbits);
    free(buf);
    return r;
}

/* ---- the walker ---- */

static sigil_result htr_bitfield(uint8_t out[32], const json_t *v, const struct sigil_ssz_type *t,
                                 struct sigil_eth2_path *p)
{
    bool list = t->kind == SIGIL_SSZ_BITLIST;
    char what[128];
    if (list) {
        snprintf(what, sizeof what, "a 0x-hex SSZ bitlist with a length-delimiter bit and at most %llu bits",
                 (unsigned long long)t->n);
    } else {
        snprintf(what, sizeof what, "a 0x-hex SSZ bitvector of exactly %llu bits (%llu bytes)",
                 (unsigned long long)t->n, (unsigned long long)((t->n + 7) / 8));
    }
    if (!json_is_string(v)) {
        return missing_or(v, p, what);
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    sigil_result r =
        list ? sigil_eth2_bitlist_hex_root(out, s, len, t->n) : sigil_eth2_bitvector_hex_root(out, s, len, t->n);
    if (r.code == SIGIL_ERR_NOMEM) {
        return r;
    }
    if (!sigil_is_ok(r)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "%s must be %s", p->s, what);
    }
    return sigil_ok();
}

static sigil_result htr_u64_list(uint8_t out[32], const json_t *arr, const struct sigil_ssz_type *t,
                                 struct sigil_eth2_path *p)
{
    struct sigil_ssz_mz mz;
    sigil_ssz_mz_init(&mz, (t->n * 8 + 31) / 32);
    size_t count = json_array_size(arr);
    uint8_t chunk[32] = {0};
    for (size_t i = 0; i < count; i++) {
        uint64_t x = 0;
        size_t old = path_push_index(p, i);
        SIGIL_GUARD(sigil_eth2_get_u64(&x, json_array_get(arr, i), p));
        sigil_eth2_path_pop(p, old);
        for (unsigned b = 0; b < 8; b++) {
            chunk[(i % 4) * 8 + b] = (uint8_t)(x >> (8 * b));
        }
        if (i % 4 == 3 || i + 1 == count) {
            SIGIL_GUARD(sigil_ssz_mz_push(&mz, chunk));
            memset(chunk, 0, sizeof chunk);
        }
    }
    uint8_t root[32];
    sigil_ssz_mz_finish(&mz, root);
    sigil_ssz_mix_in_length(out, root, count);
    return sigil_ok();
}

sigil_result sigil_eth2_htr_json(uint8_t out[32], const json_t *v, const struct sigil_ssz_type *t,
                                 struct sigil_eth2_path *p)
{
    switch (t->kind) {
    case SIGIL_SSZ_UINT64: {
        uint64_t x = 0;
        SIGIL_GUARD(sigil_eth2_get_u64(&x, v, p));
        sigil_ssz_uint64_root(out, x);
        return sigil_ok();
    }
    case SIGIL_SSZ_BYTES: {
        uint8_t buf[96];
        if (t->n > sizeof buf) {
            return sigil_error(SIGIL_ERR_INTERNAL);
        }
        SIGIL_GUARD(sigil_eth2_get_bytes(buf, (size_t)t->n, v, p));
        sigil_ssz_bytes_root(out, buf, (size_t)t->n);
        return sigil_ok();
    }
    case SIGIL_SSZ_BITLIST:
    case SIGIL_SSZ_BITVECTOR:
        return htr_bitfield(out, v, t, p);
    case SIGIL_SSZ_CONTAINER: {
        if (!json_is_object(v)) {
            return missing_or(v, p, "an object");
        }
        struct sigil_ssz_mz mz;
        sigil_ssz_mz_init(&mz, t->nfields);
        for (size_t i = 0; i < t->nfields; i++) {
            uint8_t root[32];
            size_t old = sigil_eth2_path_push(p, t->fields[i].name);
            SIGIL_GUARD(sigil_eth2_htr_json(root, sigil_eth2_member(v, t->fields[i].name), t->fields[i].type, p));
            sigil_eth2_path_pop(p, old);
            SIGIL_GUARD(sigil_ssz_mz_push(&mz, root));
        }
        sigil_ssz_mz_finish(&mz, out);
        return sigil_ok();
    }
    case SIGIL_SSZ_LIST:
    case SIGIL_SSZ_VECTOR: {
        if (!json_is_array(v)) {
            return missing_or(v, p, "an array");
        }
        size_t count = json_array_size(v);
        if (t->kind == SIGIL_SSZ_VECTOR && count != t->n) {
            return sigil_errorf(SIGIL_ERR_PARSE, "%s must have exactly %llu elements", p->s, (unsigned long long)t->n);
        }
        if (count > t->n) {
            return sigil_errorf(SIGIL_ERR_PARSE, "%s has %zu elements, at most %llu allowed", p->s, count,
                                (unsigned long long)t->n);
        }
        if (t->elem->kind == SIGIL_SSZ_UINT64) {
            return htr_u64_list(out, v, t, p);
        }
        struct sigil_ssz_mz mz;
        sigil_ssz_mz_init(&mz, t->n);
        for (size_t i = 0; i < count; i++) {
            uint8_t root[32];
            size_t old = path_push_index(p, i);
            SIGIL_GUARD(sigil_eth2_htr_json(root, json_array_get(v, i), t->elem, p));
            sigil_eth2_path_pop(p, old);
            SIGIL_GUARD(sigil_ssz_mz_push(&mz, root));
        }
        sigil_ssz_mz_finish(&mz, out);
        if (t->kind == SIGIL_SSZ_LIST) {
            sigil_ssz_mix_in_length(out, out, count);
        }
        return sigil_ok();
    }
    }
    return sigil_error(SIGIL_ERR_INTERNAL);
}
