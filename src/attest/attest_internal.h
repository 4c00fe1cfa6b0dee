/* Internals of src/attest shared between its files and its unit tests: the strict CBOR reader,
 * the CBOR writer, the NSM request/response codec and the NSM transport hook. Not for other
 * modules. */
#ifndef SIGIL_ATTEST_INTERNAL_H
#define SIGIL_ATTEST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/attest.h"
#include "common/result.h"

/* ---- strict CBOR reader (one data item header at a time, no allocation) ---- */

enum attest_cbor_kind {
    ATTEST_CBOR_UINT,
    ATTEST_CBOR_NEGINT, /* value v means -1 - v */
    ATTEST_CBOR_BSTR,
    ATTEST_CBOR_TSTR,
    ATTEST_CBOR_ARRAY,
    ATTEST_CBOR_MAP,
    ATTEST_CBOR_TAG,
    ATTEST_CBOR_NULL,
    ATTEST_CBOR_BOOL,
    ATTEST_CBOR_OTHER /* floats, undefined, indefinite lengths, break: never valid here */
};

struct attest_cbor_tok {
    enum attest_cbor_kind kind;
    uint64_t v;       /* integer value, tag number, array/map count, bool */
    const uint8_t *p; /* string contents */
    size_t len;       /* string length */
};

struct attest_cbor_rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

/* Reads the next item header (strings whole). SIGIL_ERR_PARSE on truncation, a reserved byte, or
 * an array/map count larger than the bytes left. */
SIGIL_RESULT attest_cbor_next(struct attest_cbor_rd *r, struct attest_cbor_tok *t);
/* Reads the next header and requires its kind (what names the field in the error detail). */
SIGIL_RESULT attest_cbor_expect(struct attest_cbor_rd *r, struct attest_cbor_tok *t, enum attest_cbor_kind kind,
                                const char *what);

/* ---- CBOR writer on libcbor's encoders ---- */

struct attest_cbor_wr {
    uint8_t *p;
    size_t cap;
    size_t len;
    bool overflow; /* sticky: set when something did not fit */
};

void attest_cbor_put_uint(struct attest_cbor_wr *w, uint64_t v);
void attest_cbor_put_uint64_fixed(struct attest_cbor_wr *w, uint64_t v); /* 0x1b + 8 bytes, as the NSM */
void attest_cbor_put_negint(struct attest_cbor_wr *w, uint64_t v);       /* -1 - v */
void attest_cbor_put_bstr(struct attest_cbor_wr *w, const uint8_t *p, size_t n);
void attest_cbor_put_bstr_or_null(struct attest_cbor_wr *w, const uint8_t *p, size_t n); /* NULL or 0 -> null */
void attest_cbor_put_tstr(struct attest_cbor_wr *w, const char *s);
void attest_cbor_put_array(struct attest_cbor_wr *w, size_t n);
void attest_cbor_put_map(struct attest_cbor_wr *w, size_t n);
void attest_cbor_put_null(struct attest_cbor_wr *w);
void attest_cbor_put_raw(struct attest_cbor_wr *w, const uint8_t *p, size_t n);

/* Writes the Sig_structure prefix ["Signature1", protected, h'', payload-header] up to (not
 * including) the payload bytes, so a signer/verifier can stream the payload after it. */
void attest_sig_structure_prefix(struct attest_cbor_wr *w, const uint8_t *prot, size_t prot_len, size_t payload_len);

/* The protected header every NSM document carries: {1: -35} (alg ES384). */
extern const uint8_t attest_protected_es384[4];

/* ---- NSM request/response codec (aws-nitro-enclaves-nsm-api serde_cbor encoding) ---- */

#define ATTEST_NSM_REQUEST_MAX  0x1000
#define ATTEST_NSM_RESPONSE_MAX 0x3000

/* {"Attestation": {"user_data": b|null, "nonce": b|null, "public_key": b|null}} in libnsm's order. */
SIGIL_RESULT attest_nsm_encode_attestation(uint8_t *buf, size_t cap, size_t *len, const uint8_t *user_data,
                                           size_t ud_len, const uint8_t *nonce, size_t nonce_len,
                                           const uint8_t *public_key, size_t pk_len);
/* "GetRandom" */
SIGIL_RESULT attest_nsm_encode_get_random(uint8_t *buf, size_t cap, size_t *len);
/* {"Attestation": {"document": bstr}} -> *doc points into resp. {"Error": code} -> SIGIL_ERR_ARG for
 * InvalidArgument/InputTooLarge/InvalidIndex, SIGIL_ERR_INTERNAL otherwise (detail names the code);
 * anything else SIGIL_ERR_PARSE. */
SIGIL_RESULT attest_nsm_decode_attestation(const uint8_t *resp, size_t len, const uint8_t **doc, size_t *doc_len);
/* {"GetRandom": {"random": bstr}} -> *rnd points into resp. Errors as above. */
SIGIL_RESULT attest_nsm_decode_get_random(const uint8_t *resp, size_t len, const uint8_t **rnd, size_t *rnd_len);

/* One request/response exchange with an NSM (the ioctl on /dev/nsm, or a test double). */
typedef sigil_result (*attest_nsm_transport_fn)(void *ctx, const uint8_t *req, size_t req_len, uint8_t *resp,
                                                size_t resp_cap, size_t *resp_len);
/* Opens an NSM handle that runs the device protocol over transport (used by the device code and
 * by tests without a device). */
SIGIL_RESULT attest_nsm_open_transport(struct sigil_nsm **out, attest_nsm_transport_fn fn, void *ctx);

/* The built-in AWS Nitro Enclaves Root-G1 certificate (PEM, NUL-terminated). */
extern const char attest_aws_root_g1_pem[];

/* RFC 3339 date-time ("2022-11-09T22:52:00Z", optional fraction, Z or +hh:mm) -> Unix seconds. */
SIGIL_RESULT attest_parse_rfc3339(uint64_t *out, const char *s);

#endif
