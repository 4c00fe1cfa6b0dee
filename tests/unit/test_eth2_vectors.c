/* Known-answer tests for src/eth2: every request in eth2_signing/mainnet_fixed_key.json is
 * parsed; the domain is recomputed here from the request fields (independently of the parser's
 * own domain code path), the signing root is compared, and the root is BLS-signed with the
 * file's secret key and compared with the expected signature. Also covers the SSZ primitives,
 * the built-in networks and the custom network YAML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"
#include "common/json.h"
#include "common/secmem.h"
#include "crypto/bls.h"
#include "eth2/network.h"
#include "eth2/request.h"
#include "eth2/ssz.h"
#include "helpers/vectors.h"

static void hex_to(uint8_t *out, size_t n, const char *hex)
{
    assert_true(sigil_is_ok(sigil_hex_decode_exact(out, n, hex, strlen(hex))));
}

static const char *jstr(const json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *v = o;
    for (char *save = NULL, *t = strtok_r(buf, ".", &save); t != NULL; t = strtok_r(NULL, ".", &save)) {
        v = json_object_get(v, t);
        assert_non_null(v);
    }
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static uint64_t ju64(const json_t *o, const char *path)
{
    uint64_t x = 0;
    const char *s = jstr(o, path);
    assert_true(sigil_is_ok(sigil_parse_u64(&x, s, strlen(s))));
    return x;
}

/* The expected domain, derived from the request with the textbook rules. */
static void expected_domain(uint8_t out[32], const char *type, const json_t *req, const struct sigil_network *net)
{
    static const struct {
        const char *type;
        uint8_t dt;
        const char *epoch_path;
        int slot_based;
    } rules[] = {
        {"BLOCK_V2", 0x00, NULL, 1},
        {"ATTESTATION", 0x01, "attestation.target.epoch", 0},
        {"RANDAO_REVEAL", 0x02, "randao_reveal.epoch", 0},
        {"VOLUNTARY_EXIT", 0x04, "voluntary_exit.epoch", 0},
        {"AGGREGATION_SLOT", 0x05, "aggregation_slot.slot", 1},
        {"AGGREGATE_AND_PROOF", 0x06, NULL, 1},
        {"AGGREGATE_AND_PROOF_V2", 0x06, NULL, 1},
        {"SYNC_COMMITTEE_MESSAGE", 0x07, "sync_committee_message.slot", 1},
        {"SYNC_COMMITTEE_SELECTION_PROOF", 0x08, "sync_aggregator_selection_data.slot", 1},
        {"SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF", 0x09, "contribution_and_proof.contribution.slot", 1},
    };
    uint8_t zero[32] = {0};
    if (strcmp(type, "DEPOSIT") == 0) {
        uint8_t v[4];
        hex_to(v, 4, jstr(req, "deposit.genesis_fork_version"));
        sigil_compute_domain(out, (const uint8_t[4]){3, 0, 0, 0}, v, zero);
        return;
    }
    if (strcmp(type, "VALIDATOR_REGISTRATION") == 0) {
        sigil_compute_domain(out, (const uint8_t[4]){0, 0, 0, 1}, net->genesis_fork_version, zero);
        return;
    }
    uint8_t prev[4], cur[4], gvr[32];
    hex_to(prev, 4, jstr(req, "fork_info.fork.previous_version"));
    hex_to(cur, 4, jstr(req, "fork_info.fork.current_version"));
    hex_to(gvr, 32, jstr(req, "fork_info.genesis_validators_root"));
    uint64_t fork_epoch = ju64(req, "fork_info.fork.epoch");
    if (strcmp(type, "BLS_TO_EXECUTION_CHANGE") == 0) {
        sigil_compute_domain(out, (const uint8_t[4]){0x0a, 0, 0, 0}, net->genesis_fork_version, gvr);
        return;
    }
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (strcmp(type, rules[i].type) != 0) {
            continue;
        }
        uint64_t e;
        if (strcmp(type, "BLOCK_V2") == 0) {
            const json_t *bb = json_object_get(req, "beacon_block");
            e = json_object_get(bb, "block") ? ju64(bb, "block.slot") : ju64(bb, "block_header.slot");
        } else if (strncmp(type, "AGGREGATE_AND_PROOF", 19) == 0) {
            const json_t *ap = json_object_get(req, "aggregate_and_proof");
            e = json_object_get(ap, "data") ? ju64(ap, "data.aggregate.data.slot") : ju64(ap, "aggregate.data.slot");
        } else {
            e = ju64(req, rules[i].epoch_path);
        }
        if (rules[i].slot_based) {
            e /= 32;
        }
        const uint8_t *version = e < fork_epoch ? prev : cur;
        /* EIP-7044: from Deneb, exits always use the Capella version. */
        if (strcmp(type, "VOLUNTARY_EXIT") == 0 && (memcmp(cur, net->fork_version[SIGIL_FORK_DENEB], 4) == 0 ||
                                                    memcmp(cur, net->fork_version[SIGIL_FORK_ELECTRA], 4) == 0 ||
                                                    memcmp(cur, net->fork_version[SIGIL_FORK_FULU], 4) == 0)) {
            version = net->fork_version[SIGIL_FORK_CAPELLA];
        }
        sigil_compute_domain(out, (const uint8_t[4]){rules[i].dt, 0, 0, 0}, version, gvr);
        return;
    }
    fail_msg("no domain rule for %s", type);
}

static void test_vectors(void **state)
{
    (void)state;
    json_t *doc = vectors_load_json("eth2_signing/mainnet_fixed_key.json");
    struct sigil_network net;
    assert_true(sigil_is_ok(sigil_network_builtin(&net, "mainnet")));
    uint8_t gvr[32];
    hex_to(gvr, 32, json_string_value(json_object_get(doc, "genesis_validators_root")));
    assert_memory_equal(gvr, net.genesis_validators_root, 32);

    uint8_t skb[32];
    hex_to(skb, 32, json_string_value(json_object_get(doc, "secret_key")));
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    assert_non_null(sk);
    assert_true(sigil_is_ok(sigil_bls_sk_from_bytes(sk, skb)));
    sigil_wipe(skb, sizeof skb);

    const json_t *vectors = json_object_get(doc, "vectors");
    size_t i, n = 0;
    const json_t *v;
    json_array_foreach(vectors, i, v)
    {
        const json_t *req = json_object_get(v, "request");
        const char *type = json_string_value(json_object_get(v, "type"));
        char *body = json_dumps(req, JSON_COMPACT);
        struct sigil_eth2_request r;
        sigil_result res = sigil_eth2_parse_request(&r, body, strlen(body), &net);
        if (!sigil_is_ok(res)) {
            fail_msg("vector %zu (%s %s): %s: %s", i, json_string_value(json_object_get(v, "fork")), type,
                     sigil_strerror(res.code), sigil_error_detail());
        }
        free(body);
        assert_string_equal(sigil_eth2_type_name(r.type), type);

        uint8_t want_domain[32], domain[32], want_root[32], want_sig[96], sig[96];
        hex_to(want_domain, 32, json_string_value(json_object_get(v, "domain")));
        expected_domain(domain, type, req, &net);
        assert_memory_equal(domain, want_domain, 32);
        hex_to(want_root, 32, json_string_value(json_object_get(v, "signing_root")));
        assert_memory_equal(r.signing_root, want_root, 32);

        hex_to(want_sig, 96, json_string_value(json_object_get(v, "signature")));
        sigil_bls_sig s;
        sigil_bls_sign(&s, sk, r.signing_root, 32);
        sigil_bls_sig_compress(sig, &s);
        assert_memory_equal(sig, want_sig, 96);

        bool fi = strcmp(type, "DEPOSIT") != 0 && strcmp(type, "VALIDATOR_REGISTRATION") != 0;
        assert_int_equal(r.has_fork_info, fi);
        if (strcmp(type, "ATTESTATION") == 0) {
            assert_int_equal(r.slashing, SIGIL_SLASHING_ATTESTATION);
            assert_int_equal(r.source_epoch, ju64(req, "attestation.source.epoch"));
            assert_int_equal(r.target_epoch, ju64(req, "attestation.target.epoch"));
        } else if (strcmp(type, "BLOCK_V2") == 0) {
            assert_int_equal(r.slashing, SIGIL_SLASHING_BLOCK);
        } else {
            assert_int_equal(r.slashing, SIGIL_SLASHING_NONE);
        }
        n++;
    }
    assert_true(n >= 70);
    printf("checked %zu eth2 signing vectors\n", n);
    sigil_secure_free(sk);
    json_decref(doc);
}

static void root_hex(char out[65], const uint8_t r[32]) { sigil_hex_encode(out, r, 32, 0); }

static void test_ssz_primitives(void **state)
{
    (void)state;
    char h[67];
    /* zero hash at depth 1 = sha256(64 zero bytes) */
    root_hex(h, sigil_ssz_zero_hash(1));
    assert_string_equal(h, "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b");
    /* merkleize of nothing with limit 4 = zero hash depth 2; incremental == one-shot */
    uint8_t chunks[5][32], a[32], b[32];
    for (int i = 0; i < 5; i++) {
        memset(chunks[i], i + 1, 32);
    }
    assert_true(sigil_is_ok(sigil_ssz_merkleize(a, NULL, 0, 4)));
    assert_memory_equal(a, sigil_ssz_zero_hash(2), 32);
    /* 3 chunks, limit 4: H(H(c0,c1), H(c2,0)) */
    uint8_t l[32], r[32];
    sigil_ssz_hash2(l, chunks[0], chunks[1]);
    sigil_ssz_hash2(r, chunks[2], sigil_ssz_zero_hash(0));
    sigil_ssz_hash2(b, l, r);
    assert_true(sigil_is_ok(sigil_ssz_merkleize(a, chunks[0], 3, 4)));
    assert_memory_equal(a, b, 32);
    /* the same 3 chunks with limit 16 add zero subtrees on the right */
    uint8_t c[32];
    sigil_ssz_hash2(c, b, sigil_ssz_zero_hash(2));
    sigil_ssz_hash2(c, c, sigil_ssz_zero_hash(3));
    assert_true(sigil_is_ok(sigil_ssz_merkleize(a, chunks[0], 3, 16)));
    assert_memory_equal(a, c, 32);
    /* over the limit */
    assert_int_equal(sigil_ssz_merkleize(a, chunks[0], 5, 4).code, SIGIL_ERR_TOO_LARGE);
    /* exactly full */
    assert_true(sigil_is_ok(sigil_ssz_merkleize(a, chunks[0], 4, 4)));
    sigil_ssz_hash2(r, chunks[2], chunks[3]);
    sigil_ssz_hash2(b, l, r);
    assert_memory_equal(a, b, 32);
    /* single chunk, limit 1 */
    assert_true(sigil_is_ok(sigil_ssz_merkleize(a, chunks[4], 1, 1)));
    assert_memory_equal(a, chunks[4], 32);

    /* bitlists: 0x01 is the empty list; 0x00 has no delimiter; too long fails */
    size_t bl;
    assert_true(sigil_is_ok(sigil_ssz_bitlist_check(&bl, (const uint8_t[]){0x01}, 1, 8)));
    assert_int_equal(bl, 0);
    assert_true(sigil_is_ok(sigil_ssz_bitlist_check(&bl, (const uint8_t[]){0xff, 0x01}, 2, 8)));
    assert_int_equal(bl, 8);
    assert_int_equal(sigil_ssz_bitlist_check(&bl, (const uint8_t[]){0xff, 0x02}, 2, 8).code, SIGIL_ERR_TOO_LARGE);
    assert_int_equal(sigil_ssz_bitlist_check(&bl, (const uint8_t[]){0x01, 0x00}, 2, 64).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_ssz_bitlist_check(&bl, NULL, 0, 64).code, SIGIL_ERR_PARSE);
    /* bitlist root: 0x0b = bits 1,1,0 + delimiter at bit 3 -> data 0x03, length 3 */
    uint8_t chunk[32] = {0x03};
    uint8_t want[32];
    sigil_ssz_mix_in_length(want, chunk, 3);
    assert_true(sigil_is_ok(sigil_ssz_bitlist_root(a, (const uint8_t[]){0x0b}, 1, 256)));
    assert_memory_equal(a, want, 32);
    /* bitvector: padding bits must be zero */
    assert_true(sigil_is_ok(sigil_ssz_bitvector_check((const uint8_t[]){0x0f}, 1, 4)));
    assert_int_equal(sigil_ssz_bitvector_check((const uint8_t[]){0x1f}, 1, 4).code, SIGIL_ERR_PARSE);
    assert_int_equal(sigil_ssz_bitvector_check((const uint8_t[]){0x0f, 0}, 2, 4).code, SIGIL_ERR_PARSE);
}

static void test_networks(void **state)
{
    (void)state;
    static const char *const names[] = {"mainnet", "hoodi", "sepolia", "holesky", "gnosis"};
    for (size_t i = 0; i < 5; i++) {
        struct sigil_network n;
        assert_true(sigil_is_ok(sigil_network_builtin(&n, names[i])));
        assert_string_equal(n.name, names[i]);
        assert_memory_equal(n.fork_version[SIGIL_FORK_PHASE0], n.genesis_fork_version, 4);
        assert_true(n.has_genesis_validators_root);
        for (int f = 1; f < SIGIL_FORK_COUNT; f++) {
            assert_true(n.fork_epoch[f] >= n.fork_epoch[f - 1]);
        }
        assert_int_equal(n.slots_per_epoch, strcmp(names[i], "gnosis") == 0 ? 16 : 32);
    }
    struct sigil_network n;
    assert_int_equal(sigil_network_builtin(&n, "Mainnet").code, SIGIL_ERR_NOT_FOUND);
    assert_true(sigil_is_ok(sigil_network_builtin(&n, "mainnet")));
    assert_int_equal(sigil_network_fork_at(&n, 0), SIGIL_FORK_PHASE0);
    assert_int_equal(sigil_network_fork_at(&n, 269568), SIGIL_FORK_DENEB);
    assert_int_equal(sigil_network_fork_at(&n, 411391), SIGIL_FORK_ELECTRA);
    assert_int_equal(sigil_network_fork_at(&n, UINT64_MAX - 1), SIGIL_FORK_FULU);
    /* The mainnet Deneb domain seen in the vectors (DOMAIN_BEACON_ATTESTER) */
    uint8_t d[32];
    char h[67];
    sigil_compute_domain(d, (const uint8_t[4]){1, 0, 0, 0}, n.fork_version[SIGIL_FORK_ALTAIR],
                         n.genesis_validators_root);
    sigil_hex_encode(h, d, 32, 0);
    assert_string_equal(h, "01000000afcaaba0efab1ca832a15152469bb09bb84641c405171dfa2d3fb45f");
}

static void test_network_yaml(void **state)
{
    (void)state;
    static const char yaml[] = "# custom devnet\n"
                               "PRESET_BASE: 'mainnet'\n"
                               "CONFIG_NAME: \"devnet-7\"   # name\n"
                               "GENESIS_FORK_VERSION: 0x10000038\r\n"
                               "ALTAIR_FORK_VERSION: 0x20000038\n"
                               "ALTAIR_FORK_EPOCH: 0\n"
                               "BELLATRIX_FORK_VERSION: 0x30000038\n"
                               "BELLATRIX_FORK_EPOCH: 0\n"
                               "CAPELLA_FORK_VERSION: 0x40000038\n"
                               "CAPELLA_FORK_EPOCH: 10\n"
                               "DENEB_FORK_VERSION: 0x50000038\n"
                               "DENEB_FORK_EPOCH: 20\n"
                               "ELECTRA_FORK_VERSION: 0x60000038\n"
                               "ELECTRA_FORK_EPOCH: 18446744073709551615\n"
                               "BLOB_SCHEDULE:\n"
                               "  - EPOCH: 20\n"
                               "    MAX_BLOBS_PER_BLOCK: 9\n"
                               "SLOTS_PER_EPOCH: 8\n"
                               "GENESIS_VALIDATORS_ROOT: "
                               "0x1111111111111111111111111111111111111111111111111111111111111111\n"
                               "UNKNOWN_KEY: whatever\n";
    struct sigil_network n;
    sigil_result r = sigil_network_from_yaml(&n, yaml, strlen(yaml));
    if (!sigil_is_ok(r)) {
        fail_msg("%s", sigil_error_detail());
    }
    assert_string_equal(n.name, "devnet-7");
    assert_memory_equal(n.genesis_fork_version, "\x10\x00\x00\x38", 4);
    assert_memory_equal(n.fork_version[SIGIL_FORK_DENEB], "\x50\x00\x00\x38", 4);
    assert_int_equal(n.fork_epoch[SIGIL_FORK_CAPELLA], 10);
    assert_int_equal(n.fork_epoch[SIGIL_FORK_ELECTRA], UINT64_MAX);
    assert_int_equal(n.fork_epoch[SIGIL_FORK_FULU], UINT64_MAX);
    assert_int_equal(n.slots_per_epoch, 8);
    assert_true(n.has_genesis_validators_root);

    static const struct {
        const char *text;
        const char *detail_has;
    } bad[] = {
        {"ALTAIR_FORK_VERSION: 0x01000000\n", "GENESIS_FORK_VERSION"},
        {"GENESIS_FORK_VERSION: 0x000000\n", "line 1"},
        {"GENESIS_FORK_VERSION: 0x00000000\nALTAIR_FORK_EPOCH: -1\n", "line 2"},
        {"GENESIS_FORK_VERSION: 0x00000000\nALTAIR_FORK_EPOCH: 5\n", "ALTAIR_FORK_VERSION"},
        {"GENESIS_FORK_VERSION: 0x00000000\nALTAIR_FORK_VERSION: 0x01000000\nALTAIR_FORK_EPOCH: 5\n"
         "BELLATRIX_FORK_VERSION: 0x02000000\nBELLATRIX_FORK_EPOCH: 4\n",
         "BELLATRIX"},
        {"GENESIS_FORK_VERSION: 0x00000000\nthis is not yaml\n", "line 2"},
        {"GENESIS_FORK_VERSION: 0x00000000\nSLOTS_PER_EPOCH: 0\n", "line 2"},
        {"GENESIS_FORK_VERSION: 0x00000000\nGENESIS_VALIDATORS_ROOT: 0x12\n", "line 2"},
        {"GENESIS_FORK_VERSION: 0x00000000\nCONFIG_NAME: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
         "line 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = sigil_network_from_yaml(&n, bad[i].text, strlen(bad[i].text));
        assert_int_equal(r.code, SIGIL_ERR_CONFIG);
        if (strstr(sigil_error_detail(), bad[i].detail_has) == NULL) {
            fail_msg("case %zu: detail '%s' lacks '%s'", i, sigil_error_detail(), bad[i].detail_has);
        }
    }
    static char big[SIGIL_NETWORK_MAX_YAML + 1];
    memset(big, '#', sizeof big);
    assert_int_equal(sigil_network_from_yaml(&n, big, sizeof big).code, SIGIL_ERR_TOO_LARGE);

    /* load: built-in name, then a file path, then neither */
    assert_true(sigil_is_ok(sigil_network_load(&n, "gnosis")));
    char path[] = "/tmp/sigil_eth2_net_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(yaml, f);
    fclose(f);
    assert_true(sigil_is_ok(sigil_network_load(&n, path)));
    assert_string_equal(n.name, "devnet-7");
    remove(path);
    assert_int_equal(sigil_network_load(&n, "/nonexistent/sigil.yaml").code, SIGIL_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ssz_primitives),
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_network_yaml),
        cmocka_unit_test(test_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
