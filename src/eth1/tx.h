/* Ethereum transactions, types 0-4: a typed struct, unsigned (signing payload) and signed
 * serialisation, the signing hash, signing, strict decoding of signed raw transactions with
 * sender recovery, and parsing of an eth_signTransaction JSON object.
 *
 *   0 legacy (pre-EIP-155 when has_chain_id is false, EIP-155 otherwise)
 *   1 EIP-2930 access list      2 EIP-1559 dynamic fee
 *   3 EIP-4844 blob (no sidecar) 4 EIP-7702 set-code (authorization list)
 *
 * Every list has a hard limit (SIGIL_TX_MAX_*), and JSON errors name the offending field. */
#ifndef SIGIL_ETH1_TX_H
#define SIGIL_ETH1_TX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "eth1/secp256k1.h"

#define SIGIL_TX_MAX_DATA         (128u * 1024) /* calldata bytes (geth's 128 KiB tx cap) */
#define SIGIL_TX_MAX_RAW          (256u * 1024) /* signed raw transaction bytes accepted by decode */
#define SIGIL_TX_MAX_ACCESS_LIST  1024          /* addresses */
#define SIGIL_TX_MAX_STORAGE_KEYS 16384         /* storage keys over the whole access list */
#define SIGIL_TX_MAX_BLOBS        16
#define SIGIL_TX_MAX_AUTHS        256

/* A 256-bit unsigned quantity, big-endian. */
typedef struct {
    uint8_t b[32];
} sigil_u256;

struct sigil_eth1_access_entry {
    uint8_t address[20];
    size_t nkeys;
    uint8_t (*keys)[32];
};

/* An EIP-7702 authorization tuple [chain_id, address, nonce, y_parity, r, s]. */
struct sigil_eth1_auth {
    sigil_u256 chain_id;
    uint8_t address[20];
    uint64_t nonce;
    struct sigil_secp256k1_sig sig;
};

struct sigil_eth1_tx {
    uint8_t type;
    bool has_chain_id; /* type 0 only: false = pre-EIP-155 */
    uint64_t chain_id;
    uint64_t nonce;
    uint64_t gas_limit;
    sigil_u256 gas_price;            /* types 0, 1 */
    sigil_u256 max_priority_fee;     /* types 2-4 */
    sigil_u256 max_fee;              /* types 2-4 */
    sigil_u256 max_fee_per_blob_gas; /* type 3 */
    bool has_to;
    uint8_t to[20];
    sigil_u256 value;
    uint8_t *data; /* malloc'ed, data_len bytes */
    size_t data_len;
    struct sigil_eth1_access_entry *access_list;
    size_t access_list_len;
    uint8_t (*blob_hashes)[32];
    size_t blob_hashes_len;
    struct sigil_eth1_auth *auths;
    size_t auths_len;
    bool is_signed;
    struct sigil_secp256k1_sig sig;
    bool has_from; /* JSON "from" (checked against the signing key by the caller) */
    uint8_t from[20];
};

/* Zeroes a transaction struct (call before filling one by hand). */
void sigil_eth1_tx_init(struct sigil_eth1_tx *tx);
/* Frees the lists and data (the struct itself is the caller's). */
void sigil_eth1_tx_free(struct sigil_eth1_tx *tx);

/* Parses an eth_signTransaction object: hex quantities (0x, no leading zeros), hex data, EIP-55
 * or single-case addresses. Fields: from, to, nonce, gas (or gasLimit), gasPrice |
 * maxFeePerGas + maxPriorityFeePerGas, value, data | input, chainId, type, accessList,
 * maxFeePerBlobGas, blobVersionedHashes, authorizationList. Missing type is inferred
 * (authorizationList: 4, blob fields: 3, maxFeePerGas: 2, accessList: 1, else 0). Unknown
 * members and members that do not belong to the type are refused; a legacy chainId of 0x0 is
 * refused (omit chainId to sign without EIP-155). Missing value/data mean zero/empty; nonce,
 * gas, chainId (typed) and the fee fields are required.
 * Errors: SIGIL_ERR_PARSE / SIGIL_ERR_TOO_LARGE with a detail naming the field. */
SIGIL_RESULT sigil_eth1_tx_from_json(struct sigil_eth1_tx *tx, const json_t *obj);

/* Refuses a transaction whose chain id differs from chain_id (a legacy transaction without
 * EIP-155 replay protection is refused too). Errors: SIGIL_ERR_ARG naming chainId. */
SIGIL_RESULT sigil_eth1_tx_check_chain(const struct sigil_eth1_tx *tx, uint64_t chain_id);

/* Signing payload: type byte || rlp(fields) for typed transactions, rlp(fields [, chainId, 0, 0])
 * for legacy. *out malloc'ed. */
SIGIL_RESULT sigil_eth1_tx_encode_unsigned(uint8_t **out, size_t *out_len, const struct sigil_eth1_tx *tx);
SIGIL_RESULT sigil_eth1_tx_signing_hash(uint8_t out[32], const struct sigil_eth1_tx *tx);

/* Signs tx (sets sig, is_signed); also checks tx->from against the key when has_from.
 * Errors: SIGIL_ERR_FORBIDDEN (from differs from the key's address), encoding errors. */
SIGIL_RESULT sigil_eth1_tx_sign(struct sigil_eth1_tx *tx, const sigil_secp256k1_sk *sk);

/* The signed raw transaction (what eth_sendRawTransaction takes). *out malloc'ed. */
SIGIL_RESULT sigil_eth1_tx_encode_signed(uint8_t **out, size_t *out_len, const struct sigil_eth1_tx *tx);

/* Strictly decodes a signed raw transaction (canonical RLP, canonical integers, exact field
 * counts, 20-byte or empty `to`, low-s, sizes limited). tx must be freed by the caller even on
 * failure. Errors: SIGIL_ERR_PARSE, SIGIL_ERR_TOO_LARGE. */
SIGIL_RESULT sigil_eth1_tx_decode(struct sigil_eth1_tx *tx, const uint8_t *raw, size_t len);

/* Recovers the sender of a signed transaction. */
SIGIL_RESULT sigil_eth1_tx_sender(uint8_t addr[20], const struct sigil_eth1_tx *tx);

/* EIP-7702 authorization: keccak256(0x05 || rlp([chain_id, address, nonce])), and signing it. */
void sigil_eth1_auth_signing_hash(uint8_t out[32], const struct sigil_eth1_auth *auth);
SIGIL_RESULT sigil_eth1_auth_sign(struct sigil_eth1_auth *auth, const sigil_secp256k1_sk *sk);
/* Recovers the authority (signer) of an authorization tuple. */
SIGIL_RESULT sigil_eth1_auth_authority(uint8_t addr[20], const struct sigil_eth1_auth *auth);

/* Parses the chainId, address and nonce members of an EIP-7702 authorization object, the same way
 * for transactions and sigil_signAuthorization: JSON strings without NUL characters, hex
 * quantities as sigil_eth1_parse_quantity (chainId up to 256 bits, 0x0 = any chain; nonce up to
 * 64 bits), an EIP-55 or single-case address. Other members (and whether there are any) are the
 * caller's to check; auth->sig is not touched. where prefixes the member in error details
 * ("authorizationList" -> "authorizationList.nonce: ..."). Errors: SIGIL_ERR_PARSE. */
SIGIL_RESULT sigil_eth1_auth_from_json(struct sigil_eth1_auth *auth, const json_t *obj, const char *where);

/* *out = q when q fits in 64 bits (returns true); otherwise returns false and leaves *out. */
bool sigil_eth1_u256_to_u64(uint64_t *out, const sigil_u256 *q);

/* Parses a hex quantity ("0x0" or 0x without leading zeros) into 32 bytes; detail names field. */
SIGIL_RESULT sigil_eth1_parse_quantity(sigil_u256 *out, const char *s, const char *field);

/* The inverse: 32 big-endian bytes as a JSON-RPC quantity ("0x0", "0xde0b6b3a7640000"). */
void sigil_eth1_format_quantity(char out[67], const uint8_t be[32]);

#endif
