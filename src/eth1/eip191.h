/* EIP-191 version 0x45 (personal_sign): keccak256("\x19Ethereum Signed Message:\n" || decimal
 * length || message). */
#ifndef SIGIL_ETH1_EIP191_H
#define SIGIL_ETH1_EIP191_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "eth1/secp256k1.h"

#define SIGIL_EIP191_MAX_MESSAGE (1u << 20)

/* The personal_sign digest of msg[0..len). Errors: SIGIL_ERR_TOO_LARGE over the limit. */
SIGIL_RESULT sigil_eip191_hash(uint8_t out[32], const uint8_t *msg, size_t len);

/* Signs the personal_sign digest; the 65-byte wire form is r || s || (27 + y_parity). */
SIGIL_RESULT sigil_eip191_sign(struct sigil_secp256k1_sig *out, const sigil_secp256k1_sk *sk, const uint8_t *msg,
                               size_t len);

/* Writes r || s || v (v = 27 + y_parity), the form wallets return. */
void sigil_eth1_sig_to_rsv(uint8_t out[65], const struct sigil_secp256k1_sig *sig);

#endif
