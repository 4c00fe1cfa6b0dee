/* Hex and base64 codecs. Hex decoding is constant-time in the digit values (secret keys and
 * seeds arrive as hex on stdin), and accepts an optional 0x/0X prefix. */
#ifndef SIGIL_COMMON_HEX_H
#define SIGIL_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"

/* Decodes hex (optional 0x prefix, surrounding ASCII whitespace ignored) into out.
 * Fails with SIGIL_ERR_PARSE on an odd length or a non-hex digit and SIGIL_ERR_TOO_LARGE when
 * the decoded size exceeds cap. *out_len receives the decoded length. */
SIGIL_RESULT sigil_hex_decode(uint8_t *out, size_t cap, size_t *out_len, const char *hex, size_t hex_len);

/* Like sigil_hex_decode but the decoded length must be exactly n (else SIGIL_ERR_PARSE). */
SIGIL_RESULT sigil_hex_decode_exact(uint8_t *out, size_t n, const char *hex, size_t hex_len);

/* The constant-time core: decodes exactly 2n hex digits (no prefix, no whitespace) into out.
 * Returns 1 when every character was a hex digit, 0 otherwise; time and memory access do not
 * depend on the characters. */
int sigil_hex_decode_digits_ct(uint8_t *out, const char *digits, size_t n);

/* Writes lowercase hex of in[0..n) plus a NUL into out, which must hold 2n+3 bytes;
 * with prefix != 0 the output starts with "0x". Returns out. Constant-time in the data. */
char *sigil_hex_encode(char *out, const uint8_t *in, size_t n, int prefix);

/* Standard base64 (RFC 4648, with padding). out needs 4*ceil(n/3)+1 bytes. Returns length. */
size_t sigil_base64_encode(char *out, const uint8_t *in, size_t n);

/* Decodes standard base64 (padding required, no whitespace). */
SIGIL_RESULT sigil_base64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in, size_t in_len);

#endif
