#include "eth2/request.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/hex.h"
#include "common/json.h"
#include "eth2/containers.h"
#include "eth2/ssz.h"

static const char *const type_names[SIGIL_ETH2_TYPE_COUNT] = {
    "BLOCK",
    "BLOCK_V2",
    "ATTESTATION",
    "AGGREGATION_SLOT",
    "AGGREGATE_AND_PROOF",
    "AGGREGATE_AND_PROOF_V2",
    "DEPOSIT",
    "RANDAO_REVEAL",
    "VOLUNTARY_EXIT",
    "SYNC_COMMITTEE_MESSAGE",
    "SYNC_COMMITTEE_SELECTION_PROOF",
    "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF",
    "VALIDATOR_REGISTRATION",
    "BLS_TO_EXECUTION_CHANGE",
};

const char *sigil_eth2_type_name(enum sigil_eth2_type t)
{
    return (unsigned)t < SIGIL_ETH2_TYPE_COUNT ? type_names[t] : "UNKNOWN";
}

/* Domain types (consensus-specs phase0/altair/capella beacon-chain.md, builder-specs). */
static const uint8_t DOMAIN_BEACON_PROPOSER[4] = {0x00, 0, 0, 0};
static const uint8_t DOMAIN_BEACON_ATTESTER[4] = {0x01, 0, 0, 0};
static const uint8_t DOMAIN_RANDAO[4] = {0x02, 0, 0, 0};
static const uint8_t DOMAIN_DEPOSIT[4] = {0x03, 0, 0, 0};
static const uint8_t DOMAIN_VOLUNTARY_EXIT[4] = {0x04, 0, 0, 0};
static const uint8_t DOMAIN_SELECTION_PROOF[4] = {0x05, 0, 0, 0};
static const uint8_t DOMAIN_AGGREGATE_AND_PROOF[4] = {0x06, 0, 0, 0};
static const uint8_t DOMAIN_SYNC_COMMITTEE[4] = {0x07, 0, 0, 0};
static const uint8_t DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF[4] = {0x08, 0, 0, 0};
static const uint8_t DOMAIN_CONTRIBUTION_AND_PROOF[4] = {0x09, 0, 0, 0};
static const uint8_t DOMAIN_BLS_TO_EXECUTION_CHANGE[4] = {0x0a, 0, 0, 0};
static const uint8_t DOMAIN_APPLICATION_BUILDER[4] = {0x00, 0, 0, 0x01};

static const uint8_t ZERO_ROOT[32] = {0};

struct fork_info {
    uint8_t previous_version[4];
    uint8_t current_version[4];
    uint64_t epoch;
    uint8_t gvr[32];
};

static sigil_result parse_fork_info(struct fork_info *fi, const json_t *req)
{
    struct sigil_eth2_path p;
    sigil_eth2_path_init(&p, "fork_info");
    const json_t *o = sigil_eth2_member(req, "fork_info");
    if (!json_is_object(o)) {
        return sigil_errorf(SIGIL_ERR_PARSE, o == NULL ? "fork_info is missing" : "fork_info must be an object");
    }
    const json_t *fork = sigil_eth2_member(o, "fork");
    size_t old = sigil_eth2_path_push(&p, "fork");
    if (!json_is_object(fork)) {
        return sigil_errorf(SIGIL_ERR_PARSE, fork == NULL ? "%s is missing" : "%s must be an object", p.s);
    }
    size_t o2 = sigil_eth2_path_push(&p, "previous_version");
    SIGIL_GUARD(sigil_eth2_get_bytes(fi->previous_version, 4, sigil_eth2_member(fork, "previous_version"), &p));
    sigil_eth2_path_pop(&p, o2);
    o2 = sigil_eth2_path_push(&p, "current_version");
    SIGIL_GUARD(sigil_eth2_get_bytes(fi->current_version, 4, sigil_eth2_member(fork, "current_version"), &p));
    sigil_eth2_path_pop(&p, o2);
    o2 = sigil_eth2_path_push(&p, "epoch");
    SIGIL_GUARD(sigil_eth2_get_u64(&fi->epoch, sigil_eth2_member(fork, "epoch"), &p));
    sigil_eth2_path_pop(&p, old);
    sigil_eth2_path_push(&p, "genesis_validators_root");
    SIGIL_GUARD(sigil_eth2_get_bytes(fi->gvr, 32, sigil_eth2_member(o, "genesis_validators_root"), &p));
    return sigil_ok();
}

/* get_domain against fork_info: the previous version before the fork epoch. */
static void fork_domain(uint8_t out[32], const uint8_t type[4], const struct fork_info *fi, uint64_t epoch)
{
    sigil_compute_domain(out, type, epoch < fi->epoch ? fi->previous_version : fi->current_version, fi->gvr);
}

/* The body object under key, with the path set to key. */
static sigil_result body_object(const json_t **out, const json_t *req, const char *key, struct sigil_eth2_path *p)
{
    sigil_eth2_path_init(p, key);
    const json_t *o = sigil_eth2_member(req, key);
    if (!json_is_object(o)) {
        return sigil_errorf(SIGIL_ERR_PARSE, o == NULL ? "%s is missing" : "%s must be an object", p->s);
    }
    *out = o;
    return sigil_ok();
}

/* Reads a uint64 at a dotted path below obj (already validated by the root computation,
 * but re-checked so this never trusts an earlier step). */
static sigil_result u64_at(uint64_t *out, const json_t *obj, struct sigil_eth2_path *p, const char *dotted)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", dotted);
    size_t old = p->len;
    const json_t *v = obj;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok != NULL; tok = strtok_r(NULL, ".", &save)) {
        (void)sigil_eth2_path_push(p, tok);
        v = sigil_eth2_member(v, tok);
    }
    SIGIL_GUARD(sigil_eth2_get_u64(out, v, p));
    sigil_eth2_path_pop(p, old);
    return sigil_ok();
}

/* The fork named by a `version` member, case-insensitively. */
static sigil_result parse_version_name(enum sigil_fork *out, const json_t *holder, struct sigil_eth2_path *p)
{
    size_t old = sigil_eth2_path_push(p, "version");
    const json_t *v = sigil_eth2_member(holder, "version");
    if (!json_is_string(v)) {
        return sigil_errorf(SIGIL_ERR_PARSE, v == NULL ? "%s is missing" : "%s must be a string", p->s);
    }
    for (int f = 0; f < SIGIL_FORK_COUNT; f++) {
        if (strcasecmp(json_string_value(v), sigil_fork_name((enum sigil_fork)f)) == 0 &&
            strlen(json_string_value(v)) == json_string_length(v)) {
            *out = (enum sigil_fork)f;
            sigil_eth2_path_pop(p, old);
            return sigil_ok();
        }
    }
    return sigil_errorf(SIGIL_ERR_PARSE, "%s must be one of PHASE0, ALTAIR, BELLATRIX, CAPELLA, DENEB, ELECTRA, FULU",
                        p->s);
}

static uint64_t slots_per_epoch(const struct sigil_network *net)
{
    return net != NULL && net->slots_per_epoch != 0 ? net->slots_per_epoch : 32;
}

static sigil_result need_net(const struct sigil_network *net, enum sigil_eth2_type t)
{
    if (net == NULL) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "%s signing needs a configured network (genesis fork version)",
                            type_names[t]);
    }
    return sigil_ok();
}

/* EIP-7044 (deneb process_voluntary_exit): exits are verified against CAPELLA_FORK_VERSION on
 * a Deneb+ chain. The signer cannot see the chain, so it applies the rule when the exit can only
 * be processed after Deneb (its epoch is at or after the network's Deneb epoch) or when the
 * client says the chain is already at Deneb or later (fork_info's current version is one of
 * the network's Deneb+ versions). Otherwise get_domain applies as for any other type. */
static bool eip7044_applies(const struct sigil_network *net, const struct fork_info *fi, uint64_t exit_epoch)
{
    if (net == NULL) {
        return false;
    }
    if (net->fork_epoch[SIGIL_FORK_DENEB] != UINT64_MAX && exit_epoch >= net->fork_epoch[SIGIL_FORK_DENEB]) {
        return true;
    }
    for (int f = SIGIL_FORK_DENEB; f < SIGIL_FORK_COUNT; f++) {
        if (memcmp(fi->current_version, net->fork_version[f], 4) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether an aggregate_and_proof body is the {version, data} wrapper rather than the bare
 * legacy AggregateAndProof (Web3Signer's AggregateAndProofV2Deserializer accepts both). */
static bool is_versioned(const json_t *o)
{
    return sigil_eth2_member(o, "version") != NULL || sigil_eth2_member(o, "data") != NULL;
}

static sigil_result parse_type(enum sigil_eth2_type *out, const json_t *req)
{
    const json_t *t = sigil_eth2_member(req, "type");
    if (!json_is_string(t)) {
        return sigil_errorf(SIGIL_ERR_PARSE, t == NULL ? "type is missing" : "type must be a string");
    }
    const char *s = json_string_value(t);
    if (strlen(s) == json_string_length(t)) {
        for (int i = 0; i < SIGIL_ETH2_TYPE_COUNT; i++) {
            if (strcasecmp(s, type_names[i]) == 0) {
                *out = (enum sigil_eth2_type)i;
                return sigil_ok();
            }
        }
    }
    return sigil_errorf(SIGIL_ERR_PARSE, "type '%.48s' is not a supported signing type", s);
}

/* Compares one client-supplied root member, when present. */
static sigil_result check_client_root(const json_t *req, const char *key, const uint8_t computed[32])
{
    const json_t *v = sigil_eth2_member(req, key);
    if (v == NULL) {
        return sigil_ok();
    }
    uint8_t client[32];
    struct sigil_eth2_path p;
    sigil_eth2_path_init(&p, key);
    SIGIL_GUARD(sigil_eth2_get_bytes(client, 32, v, &p));
    if (memcmp(client, computed, 32) != 0) {
        char a[67], b[67];
        sigil_hex_encode(a, client, 32, 1);
        sigil_hex_encode(b, computed, 32, 1);
        return sigil_errorf(SIGIL_ERR_SIGNING_ROOT_MISMATCH, "%s %s does not match the computed signing root %s", key,
                            a, b);
    }
    return sigil_ok();
}

sigil_result sigil_eth2_parse_request_json(struct sigil_eth2_request *out, const json_t *req,
                                           const struct sigil_network *net)
{
    if (out == NULL || req == NULL) {
        return sigil_error(SIGIL_ERR_ARG);
    }
    if (!json_is_object(req)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "signing request must be a JSON object");
    }
    struct sigil_eth2_request r;
    memset(&r, 0, sizeof r);
    SIGIL_GUARD(parse_type(&r.type, req));

    struct fork_info fi;
    memset(&fi, 0, sizeof fi);
    r.has_fork_info = r.type != SIGIL_ETH2_DEPOSIT && r.type != SIGIL_ETH2_VALIDATOR_REGISTRATION;
    if (r.has_fork_info) {
        SIGIL_GUARD(parse_fork_info(&fi, req));
        memcpy(r.genesis_validators_root, fi.gvr, 32);
    }

    const uint64_t spe = slots_per_epoch(net);
    struct sigil_eth2_path p;
    const json_t *o = NULL;
    uint8_t object_root[32];
    uint8_t domain[32];
    uint64_t epoch = 0;

    switch (r.type) {
    case SIGIL_ETH2_BLOCK:
    case SIGIL_ETH2_BLOCK_V2: {
        const struct sigil_ssz_type *t = &sigil_ssz_beacon_block_phase0;
        if (r.type == SIGIL_ETH2_BLOCK) {
            SIGIL_GUARD(body_object(&o, req, "block", &p));
        } else {
            const json_t *bb;
            SIGIL_GUARD(body_object(&bb, req, "beacon_block", &p));
            enum sigil_fork fork;
            SIGIL_GUARD(parse_version_name(&fork, bb, &p));
            /* Phase0/Altair carry the full block (Web3Signer BlockRequestDeserializer); their
             * header is accepted too since its root is the block's root by construction. Later
             * forks send only the header. */
            const char *key = "block_header";
            t = &sigil_ssz_beacon_block_header;
            if (fork <= SIGIL_FORK_ALTAIR && sigil_eth2_member(bb, "block") != NULL) {
                key = "block";
                t = fork == SIGIL_FORK_PHASE0 ? &sigil_ssz_beacon_block_phase0 : &sigil_ssz_beacon_block_altair;
            }
            (void)sigil_eth2_path_push(&p, key);
            o = sigil_eth2_member(bb, key);
            if (!json_is_object(o)) {
                return sigil_errorf(SIGIL_ERR_PARSE, o == NULL ? "%s is missing" : "%s must be an object", p.s);
            }
        }
        SIGIL_GUARD(sigil_eth2_htr_json(object_root, o, t, &p));
        SIGIL_GUARD(u64_at(&r.slot, o, &p, "slot"));
        r.slashing = SIGIL_SLASHING_BLOCK;
        fork_domain(domain, DOMAIN_BEACON_PROPOSER, &fi, r.slot / spe);
        break;
    }
    case SIGIL_ETH2_ATTESTATION:
        SIGIL_GUARD(body_object(&o, req, "attestation", &p));
        SIGIL_GUARD(sigil_eth2_htr_json(object_root, o, &sigil_ssz_attestation_data, &p));
        SIGIL_GUARD(u64_at(&r.source_epoch, o, &p, "source.epoch"));
        SIGIL_GUARD(u64_at(&r.target_epoch, o, &p, "target.epoch"));
        r.slashing = SIGIL_SLASHING_ATTESTATION;
        fork_domain(domain, DOMAIN_BEACON_ATTESTER, &fi, r.target_epoch);
        break;
    case SIGIL_ETH2_AGGREGATION_SLOT: {
        uint64_t slot;
        SIGIL_GUARD(body_object(&o, req, "aggregation_slot", &p));
        SIGIL_GUARD(u64_at(&slot, o, &p, "slot"));
        sigil_ssz_uint64_root(object_root, slot);
        fork_domain(domain, DOMAIN_SELECTION_PROOF, &fi, slot / spe);
        break;
    }
    case SIGIL_ETH2_AGGREGATE_AND_PROOF:
    case SIGIL_ETH2_AGGREGATE_AND_PROOF_V2: {
        const struct sigil_ssz_type *t = &sigil_ssz_aggregate_and_proof_phase0;
        SIGIL_GUARD(body_object(&o, req, "aggregate_and_proof", &p));
        if (is_versioned(o)) {
            enum sigil_fork fork;
            SIGIL_GUARD(parse_version_name(&fork, o, &p));
            if (fork >= SIGIL_FORK_ELECTRA) {
                t = &sigil_ssz_aggregate_and_proof_electra;
            }
            (void)sigil_eth2_path_push(&p, "data");
            o = sigil_eth2_member(o, "data");
        }
        SIGIL_GUARD(sigil_eth2_htr_json(object_root, o, t, &p));
        uint64_t slot;
        SIGIL_GUARD(u64_at(&slot, o, &p, "aggregate.data.slot"));
        fork_domain(domain, DOMAIN_AGGREGATE_AND_PROOF, &fi, slot / spe);
        break;
    }
    case SIGIL_ETH2_DEPOSIT: {
        uint8_t genesis_fork_version[4];
        SIGIL_GUARD(body_object(&o, req, "deposit", &p));
        SIGIL_GUARD(sigil_eth2_htr_json(object_root, o, &sigil_ssz_deposit_message, &p));
        size_t old = sigil_eth2_path_push(&p, "genesis_fork_version");
        SIGIL_GUARD(sigil_eth2_get_bytes(genesis_fork_version, 4, sigil_eth2_member(o, "genesis_fork_version"), &p));
        sigil_eth2_path_pop(&p, old);
        sigil_compute_domain(domain, DOMAIN_DEPOSIT, genesis_fork_version, ZERO_ROOT);
        break;
    }
    case SIGIL_ETH2_RANDAO_REVEAL:
        SIGIL_GUARD(body_object(&o, req, "randao_reveal", &p));
        SIGIL_GUARD(u64_at(&epoch, o, &p, "epoch"));
        sigil_ssz_uint64_root(object_root, epoch);
        fork_domain(domain, DOMAIN_RANDAO, &fi, epoch);
        break;
    case SIGIL_ETH2_VOLUNTARY_EXIT:
        SIGIL_GUARD(body_object(&o, req, "voluntary_exit", &p));
        SIGIL_GUARD(sigil_eth2_htr_json(object_root, o, &sigil_ssz_voluntary_exit, &p));
        SIGIL_GUARD(u64_at(&epoch, o, &p, "epoch"));
        if (eip7044_applies(net, &fi, epoch)) {
            sigil_compute_domain(domain, DOMAIN_VOLUNTARY_EXIT, net->fork_version[SIGIL_FORK_CAPELLA], fi.gvr);
        } else {
            fork_domain(domain, DOMAIN_VOLUNTARY_EXIT, &fi, epoch);
        }
        break;
    case SIGIL_ETH2_SYNC_COMMITTEE_MESSAGE: {
        uint64_t slot;
        SIGIL_GUARD(body_object(&o, req, "sync_committee_message", &p));
        /* The signed object is the block root itself (altair validator.md). */
        size_t old = sigil_eth2_path_push(&p, "beacon_block_root");
        SIGIL_GUARD(sigil_eth2_get_bytes(object_root, 32, sigil_eth2_member(o, "beacon_block_root"), &p));
        sigil_eth2_path_pop(&p, old);
        SIGIL_GUARD(u64_at(&slot, o, &p, "slot"));
        fork_domain(domain, DOMAIN_SYNC_COMMITTEE, &fi, slot / spe);
        break;
    }
    case SIGIL_ETH2_SYNC_COMMITTEE_SELECTION_PROOF: {
        uint64_t slot;
        SIGIL_GUARD(body_object(&o, req, "sync_aggregator_selection_data", &p));
        SIGIL_GUARD(sigil_eth2_htr_json(object_root, o, &sigil_ssz_sync_aggregator_selection_data, &p));
        SIGIL_GUARD(u64_at(&slot, o, &p, "slot"));
        fork_domain(domain, DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF, &fi, slot / spe);
        break;
    }
    case SIGIL_ETH2_SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF: {
        uint64_t slot;
        SIGIL_GUARD(body_object(&o, req, "contribution_and_proof", &p));
        SIGIL_GUARD(sigil_eth2_htr_json(object_root, o, &sigil_ssz_contribution_and_proof, &p));
        SIGIL_GUARD(u64_at(&slot, o, &p, "contribution.slot"));
        fork_domain(domain, DOMAIN_CONTRIBUTION_AND_PROOF, &fi, slot / spe);
        break;
    }
    case SIGIL_ETH2_VALIDATOR_REGISTRATION:
        SIGIL_GUARD(body_object(&o, req, "validator_registration", &p));
        SIGIL_GUARD(sigil_eth2_htr_json(object_root, o, &sigil_ssz_validator_registration, &p));
        SIGIL_GUARD(need_net(net, r.type));
        sigil_compute_domain(domain, DOMAIN_APPLICATION_BUILDER, net->genesis_fork_version, ZERO_ROOT);
        break;
    case SIGIL_ETH2_BLS_TO_EXECUTION_CHANGE:
        /* Web3Signer's spec names the key in snake case; Lodestar sends the upper-case type name. */
        if (sigil_eth2_member(req, "bls_to_execution_change") == NULL &&
            sigil_eth2_member(req, "BLS_TO_EXECUTION_CHANGE") != NULL) {
            SIGIL_GUARD(body_object(&o, req, "BLS_TO_EXECUTION_CHANGE", &p));
        } else {
            SIGIL_GUARD(body_object(&o, req, "bls_to_execution_change", &p));
        }
        SIGIL_GUARD(sigil_eth2_htr_json(object_root, o, &sigil_ssz_bls_to_execution_change, &p));
        SIGIL_GUARD(need_net(net, r.type));
        /* capella beacon-chain.md process_bls_to_execution_change: genesis version, chain GVR. */
        sigil_compute_domain(domain, DOMAIN_BLS_TO_EXECUTION_CHANGE, net->genesis_fork_version, fi.gvr);
        break;
    default:
        return sigil_error(SIGIL_ERR_INTERNAL);
    }

    sigil_compute_signing_root(r.signing_root, object_root, domain);
    SIGIL_GUARD(check_client_root(req, "signing_root", r.signing_root));
    SIGIL_GUARD(check_client_root(req, "signingRoot", r.signing_root));
    *out = r;
    return sigil_ok();
}

/* Nesting depth of a JSON text, counting brackets outside strings. jansson recurses per level,
 * so hostile nesting is refused before it reaches the parser. */
static bool depth_ok(const char *s, size_t len, unsigned max)
{
    unsigned depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                return false;
            }
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return true;
}

sigil_result sigil_eth2_parse_request(struct sigil_eth2_request *out, const char *body, size_t len,
                                      const struct sigil_network *net)
{
    if (out == NULL || (body == NULL && len != 0)) {
        return sigil_error(SIGIL_ERR_ARG);
    }
    if (len > SIGIL_ETH2_MAX_BODY) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "signing request is %zu bytes, at most %u allowed", len,
                            SIGIL_ETH2_MAX_BODY);
    }
    if (!depth_ok(body, len, SIGIL_ETH2_MAX_DEPTH)) {
        return sigil_errorf(SIGIL_ERR_PARSE, "signing request nests deeper than %d levels", SIGIL_ETH2_MAX_DEPTH);
    }
    json_t *j;
    SIGIL_GUARD(sigil_json_parse(&j, body != NULL ? body : "", len, SIGIL_ETH2_MAX_BODY));
    sigil_result r = sigil_eth2_parse_request_json(out, j, net);
    json_decref(j);
    return r;
}
