/* The wallet policy engine: rules that decide, inside sigild and before anything is signed,
 * whether an Ethereum key may sign a transaction, a personal message, typed data or a raw hash.
 *
 * A rules file (JSON, at most SIGIL_POLICY_MAX_FILE bytes; format in docs/wallet.md) holds named
 * policies, each bound to keys (addresses) or key groups. Exactly one policy applies to a key: the
 * first, in file order, whose `keys` names the key's address or one of its groups, else the one
 * bound to "*". A loaded file that binds no policy to a key refuses everything for that key
 * (rule "policy.unbound"). With no rules file at all, sigil_policy_default() applies: typed
 * requests (transactions, personal messages, typed data) are allowed, raw signing is refused.
 *
 * The engine is split in two:
 *   - sigil_policy_check(): every stateless rule (chain IDs, destinations, value, selectors, fees,
 *     EIP-712 domains, raw-sign permission, M-of-N approvals). Pure, thread-safe.
 *   - the rolling spend windows, which need shared state: sigil_policy_spend_limits() lists the
 *     windows that apply, and sigil_slashing_spend_reserve() (slashing.h: the same database as
 *     slashing protection, safe across instances) checks and records the spend atomically.
 *
 * Every refusal names the rule (a stable dotted identifier listed in docs/wallet.md, such as
 * "chain_id", "to.deny", "value.max", "spend.daily", "selector", "fee.max_fee_per_gas",
 * "eip712.domain", "raw_sign", "approvals") and gives a one-sentence reason. */
#ifndef SIGIL_POLICY_POLICY_H
#define SIGIL_POLICY_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "eth1/secp256k1.h"
#include "eth1/tx.h"

#define SIGIL_POLICY_MAX_FILE      (1u << 20) /* bytes of rules JSON */
#define SIGIL_POLICY_MAX_POLICIES  256
#define SIGIL_POLICY_MAX_LIST      4096 /* entries in any one list (keys, addresses, selectors, domains) */
#define SIGIL_POLICY_MAX_WINDOWS   8    /* spend windows per policy */
#define SIGIL_POLICY_MAX_APPROVERS 64
#define SIGIL_POLICY_RULE_LEN      48
#define SIGIL_POLICY_REASON_LEN    192
#define SIGIL_POLICY_NAME_LEN      64

struct sigil_policy; /* a parsed rules file; immutable after parse, safe to share between threads */

/* Parses and validates a rules file (strict: unknown members, wrong types, bad addresses,
 * selectors or amounts, duplicate names, windows out of [60 s, 366 d], M > N, are errors naming
 * the JSON path). Errors: SIGIL_ERR_TOO_LARGE, SIGIL_ERR_PARSE (detail names the path). */
SIGIL_RESULT sigil_policy_parse(struct sigil_policy **out, const char *json, size_t len);
void sigil_policy_free(struct sigil_policy *p);

/* The built-in policy used when no rules file is loaded (see above). Never freed. */
const struct sigil_policy *sigil_policy_default(void);

/* SHA-256 of the rules file bytes as loaded (all zeros for the default policy); reported in
 * status and audit records as "policy_hash". */
void sigil_policy_hash(const struct sigil_policy *p, uint8_t out[32]);

/* Name of the policy bound to addr, or NULL when none is (then every check refuses with
 * "policy.unbound"). The default policy's name is "default". */
const char *sigil_policy_name_for(const struct sigil_policy *p, const uint8_t addr[20]);

enum sigil_policy_kind {
    SIGIL_POLICY_TX = 0,   /* eth_signTransaction */
    SIGIL_POLICY_PERSONAL, /* eth_sign / personal_sign (EIP-191) */
    SIGIL_POLICY_TYPED,    /* eth_signTypedData(_v4) (EIP-712) */
    SIGIL_POLICY_RAW,      /* POST /api/v1/eth1/sign: keccak256 of caller-supplied bytes */
    SIGIL_POLICY_AUTH,     /* an EIP-7702 authorization tuple signed on its own */
};

/* An approver's signature: approvals are EIP-712 signatures over
 *   domain {name: "Sigil approval", version: "1"}
 *   Approval(address account, bytes32 digest)
 * where account is the signing key's address and digest the request's digest (for a transaction
 * its signing hash). Binding the account stops an approval for one key being replayed for
 * another; the typed-data domain stops an approval ever being a valid transaction signature. */
struct sigil_policy_approval {
    struct sigil_secp256k1_sig sig; /* r, s (low-s), y_parity */
};

/* The digest approvers sign (see above). */
void sigil_policy_approval_digest(uint8_t out[32], const uint8_t account[20], const uint8_t digest[32]);

struct sigil_policy_request {
    enum sigil_policy_kind kind;
    uint8_t account[20];                /* the signing key's address */
    uint8_t digest[32];                 /* what would be signed (tx signing hash, EIP-191/712 digest, keccak(raw)) */
    const struct sigil_eth1_tx *tx;     /* SIGIL_POLICY_TX: the parsed transaction; else NULL */
    const json_t *typed_domain;         /* SIGIL_POLICY_TYPED: the document's "domain" object; else NULL */
    const struct sigil_eth1_auth *auth; /* SIGIL_POLICY_AUTH; else NULL */
    const struct sigil_policy_approval *approvals;
    size_t napprovals;
};

struct sigil_policy_decision {
    bool allow;
    char policy[SIGIL_POLICY_NAME_LEN];   /* name of the policy that decided ("" when unbound) */
    char rule[SIGIL_POLICY_RULE_LEN];     /* refusing rule; "" when allowed */
    char reason[SIGIL_POLICY_REASON_LEN]; /* one sentence, secret-free */
    unsigned approvals_valid;             /* distinct listed approvers with a valid signature */
    unsigned approvals_required;          /* 0 when no approval rule applies to this request */
};

/* Evaluates every stateless rule. Returns SIGIL_OK with d->allow set either way (a refusal is not
 * an error); errors only for misuse (SIGIL_ERR_ARG). Approvals that do not verify, duplicates and
 * signers not in the approver list are ignored (counted out), not errors; at most 256 approvals
 * are examined. */
SIGIL_RESULT sigil_policy_check(const struct sigil_policy *p, const struct sigil_policy_request *req,
                                struct sigil_policy_decision *d);

/* A rolling spend window that applies to a transaction. */
struct sigil_spend_window {
    char rule[SIGIL_POLICY_RULE_LEN]; /* "spend.<window name>", e.g. "spend.daily" */
    uint64_t window_s;
    sigil_u256 max_wei;
};

/* The windows bound to addr (0..SIGIL_POLICY_MAX_WINDOWS written to out). The amount charged
 * against them for a transaction is sigil_policy_spend_amount(). */
size_t sigil_policy_spend_limits(const struct sigil_policy *p, const uint8_t addr[20],
                                 struct sigil_spend_window out[SIGIL_POLICY_MAX_WINDOWS]);

/* The amount a transaction spends against its windows: value, plus the maximum fee
 * (gas_limit * max fee per gas, and blob gas for type 3) when the policy sets "count_fees".
 * Saturates at 2^256-1. */
void sigil_policy_spend_amount(const struct sigil_policy *p, const uint8_t addr[20], const struct sigil_eth1_tx *tx,
                               sigil_u256 *out);

/* The `sigil policy ...` command line, argv[0] = "policy":
 *   check FILE             validate a rules file, print its hash and a summary (exit 0/2)
 *   hash FILE              print the hash only
 *   approve --digest 0x.. --account 0x.. --key-file KEYSTORE --password-file F
 *                          sign an approval with an approver's v3 keystore, print the 65-byte hex
 * Returns the exit code: 0 ok, 1 I/O failure, 2 bad input (one sentence on stderr). */
int sigil_policy_cli(int argc, char **argv);

#endif
