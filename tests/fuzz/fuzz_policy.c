/* Fuzz harness for the wallet rules-file parser and the checks run with what it accepts. The input
 * is the rules file itself (so the seed corpus is plain JSON); when it parses, a set of requests
 * derived from a hash of the input (transactions of every type with varying chain ids, values,
 * calldata, fees, authorizations; personal, typed (with a domain object, none, or a domain that is
 * not an object), raw and authorization requests, with and without approvals) is checked against
 * it for a few accounts, along with the binding, the spend windows and the spend amount. Nothing
 * may crash, leak or read out of bounds. */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "crypto/keccak.h"
#include "eth1/tx.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_checks(const struct sigil_policy *p, const uint8_t h[32])
{
    static const uint8_t accounts[3][20] = {{0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                             0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11},
                                            {0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
                                             0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22},
                                            {0}};
    static const uint64_t chains[4] = {1, 5, 17000, 0};
    uint8_t calldata[8] = {0xa9, 0x05, 0x9c, 0xbb, h[0], h[1], h[2], h[3]};
    uint8_t blobs[2][32] = {{1}, {2}};
    struct sigil_eth1_auth auths[2];
    memset(auths, 0, sizeof auths);
    auths[0].chain_id.b[31] = h[4] & 3;
    auths[1].chain_id.b[31] = 1;
    struct sigil_policy_approval approvals[2];
    memset(approvals, 0, sizeof approvals);
    memcpy(approvals[0].sig.r, h, 32);
    memcpy(approvals[0].sig.s, h, 16);
    json_t *dom =
        json_pack("{s:s,s:s,s:I,s:s}", "name", (h[5] & 1) ? "Permit2" : "Other", "version", "1", "chainId",
                  (json_int_t)chains[h[6] & 3], "verifyingContract", "0x000000000022d473030f116ddee9f6b43ac78ba3");
    json_t *notobj = json_pack("[s]", "chainId"); /* a domain that is not an object */
    for (int a = 0; a < 3; a++) {
        (void)sigil_policy_name_for(p, accounts[a]);
        struct sigil_spend_window w[SIGIL_POLICY_MAX_WINDOWS];
        (void)sigil_policy_spend_limits(p, accounts[a], w);
        for (int type = 0; type <= 4; type++) {
            struct sigil_eth1_tx tx;
            sigil_eth1_tx_init(&tx);
            tx.type = (uint8_t)type;
            tx.has_chain_id = type != 0 || (h[7] & 1);
            tx.chain_id = chains[(h[8] + type) & 3];
            tx.gas_limit = (uint64_t)h[9] << (h[10] & 31);
            memcpy(tx.gas_price.b + 16, h + 11, 16);
            memcpy(tx.max_fee.b + 20, h + 12, 12);
            memcpy(tx.max_priority_fee.b + 24, h + 13, 8);
            memcpy(tx.max_fee_per_blob_gas.b + 28, h + 14, 4);
            tx.has_to = type == 3 || type == 4 || (h[15] & 3) != 0;
            memset(tx.to, h[16] & 1 ? 0x44 : 0x55, 20);
            memcpy(tx.value.b + (h[17] & 31), h, 32 - (h[17] & 31));
            tx.data = calldata;
            tx.data_len = h[18] % 9;
            if (type == 3) {
                tx.blob_hashes = blobs;
                tx.blob_hashes_len = 1 + (h[19] & 1);
            }
            if (type == 4) {
                tx.auths = auths;
                tx.auths_len = 1 + (h[20] & 1);
            }
            struct sigil_policy_request rq = {
                .kind = SIGIL_POLICY_TX, .tx = &tx, .approvals = approvals, .napprovals = h[21] % 3};
            memcpy(rq.account, accounts[a], 20);
            memcpy(rq.digest, h, 32);
            struct sigil_policy_decision d;
            sigil_result checked = sigil_policy_check(p, &rq, &d);
            (void)checked;
            sigil_u256 amount;
            sigil_policy_spend_amount(p, accounts[a], &tx, &amount);
        }
        for (int kind = SIGIL_POLICY_PERSONAL; kind <= SIGIL_POLICY_AUTH; kind++) {
            struct sigil_policy_request rq = {.kind = (enum sigil_policy_kind)kind,
                                              .typed_domain = (h[22] & 1)   ? dom
                                                              : (h[22] & 2) ? notobj
                                                                            : NULL,
                                              .auth = auths,
                                              .approvals = approvals,
                                              .napprovals = h[23] % 3};
            memcpy(rq.account, accounts[a], 20);
            struct sigil_policy_decision d;
            sigil_result checked = sigil_policy_check(p, &rq, &d);
            (void)checked;
        }
    }
    json_decref(dom);
    json_decref(notobj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sigil_policy *p = NULL;
    if (!sigil_is_ok(sigil_policy_parse(&p, (const char *)data, size))) {
        return 0;
    }
    uint8_t h[32], hash[32];
    sigil_keccak256(h, data, size);
    sigil_policy_hash(p, hash);
    run_checks(p, h);
    sigil_policy_free(p);
    return 0;
}
