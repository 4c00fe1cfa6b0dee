/* The sign-time rules of the complete strategy with low watermarks (EIP-3076 conditions 2, 4, 5 plus
 * the consensus slashing conditions), as pure functions of the state read inside the transaction. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "slashing/internal.h"

enum slash_verdict slash_rule_block(const struct slash_block_state *st, uint64_t slot, const uint8_t root[32],
                                    char *why, size_t whylen)
{
    if (st->has_row) {
        if (st->row_has_root && memcmp(st->row_root, root, 32) == 0) {
            return SLASH_REPEAT;
        }
        snprintf(why, whylen,
                 st->row_has_root ? "double proposal at slot %" PRIu64 ": a different block was already signed"
                                  : "double proposal at slot %" PRIu64 ": a block with unknown signing root was "
                                    "already signed",
                 slot);
        return SLASH_REFUSE;
    }
    /* EIP-3076 condition 2: at or below the low watermark only an identical repeat is allowed. */
    if (st->has_lw && slot <= st->lw_slot) {
        snprintf(why, whylen, "block slot %" PRIu64 " is at or below the low watermark slot %" PRIu64, slot,
                 st->lw_slot);
        return SLASH_REFUSE;
    }
    return SLASH_INSERT;
}

enum slash_verdict slash_rule_attestation(const struct slash_att_state *st, uint64_t source, uint64_t target, char *why,
                                          size_t whylen)
{
    if (source > target) {
        snprintf(why, whylen, "attestation source epoch %" PRIu64 " is greater than target epoch %" PRIu64, source,
                 target);
        return SLASH_REFUSE;
    }
    if (st->n_at_target > 0) {
        /* An identical repeat re-releases a signature that already exists: no new evidence. */
        if (st->n_at_target == 1 && st->identical) {
            return SLASH_REPEAT;
        }
        snprintf(why, whylen, "double vote at target epoch %" PRIu64 ": a different attestation was already signed",
                 target);
        return SLASH_REFUSE;
    }
    if (st->has_lw && source < st->lw_source) {
        snprintf(why, whylen, "attestation source epoch %" PRIu64 " is below the low watermark source epoch %" PRIu64,
                 source, st->lw_source);
        return SLASH_REFUSE;
    }
    if (st->has_lw && target <= st->lw_target) {
        snprintf(why, whylen,
                 "attestation target epoch %" PRIu64 " is at or below the low watermark target epoch %" PRIu64, target,
                 st->lw_target);
        return SLASH_REFUSE;
    }
    if (st->surrounding) {
        snprintf(why, whylen,
                 "surround vote: attestation %" PRIu64 "->%" PRIu64 " is surrounded by an existing attestation", source,
                 target);
        return SLASH_REFUSE;
    }
    if (st->surrounded) {
        snprintf(why, whylen, "surround vote: attestation %" PRIu64 "->%" PRIu64 " surrounds an existing attestation",
                 source, target);
        return SLASH_REFUSE;
    }
    return SLASH_INSERT;
}
