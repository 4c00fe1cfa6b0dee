/* The message-point cache: hash_to_G2(signing root, DST_SIG) for recently signed messages.
 *
 * Half of a BLS signature's time is hashing the message to G2 (RFC 9380: expand_message, two
 * square roots in Fp2, the isogeny and cofactor clearing); the other half is the scalar
 * multiplication by the key. A signer holding many validator keys signs the same message with
 * many of them: all validators attesting in one slot sign the same AttestationData (committee
 * index 0 from Electra on), the same slot for aggregator selection and the same block root for
 * sync-committee messages. The cache hashes such a message once and lets every key reuse the
 * point.
 *
 * Only public data is kept (a signing root and its curve point; both follow from the request,
 * and the signature is published anyway), so the cache is ordinary memory. Whether a lookup hits
 * reveals only that some key signed the same root recently; the secret key is used by the same
 * constant-time multiplication either way. A wrong point cannot be served: an entry is matched
 * on the whole 32-byte root. Thread-safe: a lock per entry, held only to copy a point in or out;
 * hashing runs outside it, so two threads may hash the same new root at once (both results are
 * equal).
 *
 * Memory: about 330 bytes an entry (1024 entries: 330 KiB). */
#ifndef SIGIL_KEYS_MSG_CACHE_H
#define SIGIL_KEYS_MSG_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/result.h"
#include "crypto/bls.h"

struct sigil_msg_cache;

/* entries: rounded up to a power of two of 4-entry sets (at least 4), at most 65536; the set is
 * chosen by the root's first bytes and its least recently used entry is replaced.
 * Errors: SIGIL_ERR_ARG (0 or too many), SIGIL_ERR_NOMEM. */
SIGIL_RESULT sigil_msg_cache_new(struct sigil_msg_cache **out, size_t entries);
void sigil_msg_cache_free(struct sigil_msg_cache *c);

/* out = hash_to_G2(root, DST_SIG), from the cache or computed (and then cached). */
void sigil_msg_cache_hash(struct sigil_msg_cache *c, sigil_bls_msg_point *out, const uint8_t root[32]);

/* Lookups answered from the cache and lookups that had to hash, since creation. */
void sigil_msg_cache_stats(const struct sigil_msg_cache *c, uint64_t *hits, uint64_t *misses);

#endif
