/* Fuzz harness for the sigil-kms key policy parser and evaluator. Input: one byte selecting the
 * action and the attestation PCR0 pattern, then the policy text. Any policy that parses is
 * evaluated for the action with and without an attestation document; the verdict must be
 * OK or FORBIDDEN, with a NUL-terminated reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kmsd/kmsd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ACTIONS[] = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:PutKeyPolicy"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    struct sigil_kmsd_policy *p = NULL;
    if (!sigil_is_ok(sigil_kmsd_policy_parse(&p, (const char *)data + 1, size - 1))) {
        return 0;
    }
    static struct sigil_attest_doc doc;
    memset(&doc, 0, sizeof doc);
    for (int i = 0; i < SIGIL_ATTEST_NPCRS; i++) {
        doc.pcr_present[i] = (data[0] >> 4) & 1;
        doc.pcr_len[i] = 48;
        memset(doc.pcrs[i], data[0] & 0x0f ? 0x11 * (data[0] & 0x0f) : 0, 48);
    }
    for (int with = 0; with < 2; with++) {
        struct sigil_kmsd_request_ctx rq = {.action = ACTIONS[data[0] & 3],
                                            .principal = SIGIL_KMSD_PRINCIPAL,
                                            .resource = "arn:aws:kms:us-east-1:000000000000:key/x",
                                            .att = with ? &doc : NULL};
        char why[256];
        sigil_result r = sigil_kmsd_policy_eval(p, &rq, why, sizeof why);
        if ((r.code != SIGIL_OK && r.code != SIGIL_ERR_FORBIDDEN) || strlen(why) >= sizeof why) {
            abort();
        }
    }
    sigil_kmsd_policy_free(p);
    return 0;
}
