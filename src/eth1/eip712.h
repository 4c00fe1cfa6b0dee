/* EIP-712 typed structured data (eth_signTypedData_v4): {types, primaryType, domain, message}.
 *
 * Supports nested structs, arrays (dynamic and fixed-size, of any type including structs and
 * arrays), string, bytes, bytes1..bytes32, uint8..uint256 / int8..int256 in steps of 8 with range
 * checks, address (EIP-55 checked when mixed case) and bool. encodeType lists the primary type,
 * then every referenced type sorted by name. When `types` has no EIP712Domain entry, the domain
 * type is inferred from the domain members present, in the EIP's order (name, version, chainId,
 * verifyingContract, salt), as ethers does.
 *
 * The document is hostile input: nesting depth, array lengths, type and field counts and the
 * total number of encoded values are bounded; a missing or unexpected member is an error
 * naming its path. Integers may be JSON integers or strings (decimal or 0x hex, optional '-'). */
#ifndef SIGIL_ETH1_EIP712_H
#define SIGIL_ETH1_EIP712_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "eth1/secp256k1.h"

#define SIGIL_EIP712_MAX_JSON   (1u << 20) /* bytes of document */
#define SIGIL_EIP712_MAX_DEPTH  16         /* nested structs and arrays */
#define SIGIL_EIP712_MAX_TYPES  128
#define SIGIL_EIP712_MAX_FIELDS 128   /* per struct type */
#define SIGIL_EIP712_MAX_ARRAY  1024  /* elements per array */
#define SIGIL_EIP712_MAX_VALUES 65536 /* encoded values in one document */

/* Hashes a parsed document. Out: digest = keccak256(0x19 0x01 || domain_separator ||
 * hashStruct(message)); domain_sep and msg_hash (either may be NULL) receive the parts (msg_hash
 * is zeros when primaryType is EIP712Domain). Errors: SIGIL_ERR_PARSE / SIGIL_ERR_TOO_LARGE with a
 * detail naming the type, field or path. */
SIGIL_RESULT sigil_eip712_hash(uint8_t digest[32], uint8_t domain_sep[32], uint8_t msg_hash[32], const json_t *doc);

/* Same from JSON text (at most SIGIL_EIP712_MAX_JSON bytes). */
SIGIL_RESULT sigil_eip712_hash_json(uint8_t digest[32], const char *json, size_t len);

/* Signs the digest. */
SIGIL_RESULT sigil_eip712_sign(struct sigil_secp256k1_sig *out, const sigil_secp256k1_sk *sk, const json_t *doc);

/* encodeType(primary) over a types object. *out malloc'ed, NUL-terminated. */
SIGIL_RESULT sigil_eip712_encode_type(char **out, const json_t *types, const char *primary);

/* hashStruct(type, value) over a types object. */
SIGIL_RESULT sigil_eip712_hash_struct(uint8_t out[32], const json_t *types, const char *type, const json_t *value);

#endif
