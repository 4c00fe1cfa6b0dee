/* The message-point cache (keys/msg_cache.h): 4-way set-associative, least recently used entry
 * of a set replaced. Validator clients send a slot's requests in a burst, but a busy signer has
 * several slots' roots in flight at once, which a direct-mapped table would let evict each other. */
#include "keys/msg_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WAYS        4u
#define MAX_ENTRIES 65536u

struct way {
    uint64_t used; /* cache clock at the last hit or fill; 0: empty */
    uint8_t root[32];
    sigil_bls_msg_point h;
};

struct set {
    pthread_mutex_t mu;
    struct way w[WAYS];
};

struct sigil_msg_cache {
    struct set *s;
    size_t mask; /* sets - 1 */
    atomic_uint_fast64_t clock, hits, misses;
};

sigil_result sigil_msg_cache_new(struct sigil_msg_cache **out, size_t entries)
{
    SIGIL_ENSURE(out != NULL, SIGIL_ERR_ARG);
    *out = NULL;
    SIGIL_ENSURE(entries > 0 && entries <= MAX_ENTRIES, SIGIL_ERR_ARG);
    size_t sets = 1;
    while (sets * WAYS < entries) {
        sets <<= 1;
    }
    struct sigil_msg_cache *c = calloc(1, sizeof *c);
    SIGIL_ENSURE(c != NULL, SIGIL_ERR_NOMEM);
    c->s = calloc(sets, sizeof *c->s);
    if (c->s == NULL) {
        free(c);
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    for (size_t i = 0; i < sets; i++) {
        (void)pthread_mutex_init(&c->s[i].mu, NULL);
    }
    c->mask = sets - 1;
    atomic_init(&c->clock, 0);
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    *out = c;
    return sigil_ok();
}

void sigil_msg_cache_free(struct sigil_msg_cache *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i <= c->mask; i++) {
        (void)pthread_mutex_destroy(&c->s[i].mu);
    }
    free(c->s);
    free(c);
}

static uint64_t tick(struct sigil_msg_cache *c)
{
    return atomic_fetch_add_explicit(&c->clock, 1, memory_order_relaxed) + 1;
}

void sigil_msg_cache_hash(struct sigil_msg_cache *c, sigil_bls_msg_point *out, const uint8_t root[32])
{
    /* The root is a SHA-256 output computed by the signer, so its first bytes index uniformly; a
     * client that grinds requests into one set only evicts entries of that set. */
    uint64_t idx;
    memcpy(&idx, root, sizeof idx);
    struct set *s = &c->s[idx & c->mask];
    (void)pthread_mutex_lock(&s->mu);
    for (unsigned i = 0; i < WAYS; i++) {
        if (s->w[i].used != 0 && memcmp(s->w[i].root, root, 32) == 0) {
            memcpy(out, &s->w[i].h, sizeof *out);
            s->w[i].used = tick(c);
            (void)pthread_mutex_unlock(&s->mu);
            atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed);
            return;
        }
    }
    (void)pthread_mutex_unlock(&s->mu);
    atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
    sigil_bls_hash_msg(out, root, 32);
    (void)pthread_mutex_lock(&s->mu);
    unsigned victim = 0;
    for (unsigned i = 0; i < WAYS; i++) {
        if (s->w[i].used != 0 && memcmp(s->w[i].root, root, 32) == 0) {
            victim = i; /* another thread hashed the same root meanwhile */
            break;
        }
        if (s->w[i].used < s->w[victim].used) {
            victim = i;
        }
    }
    memcpy(s->w[victim].root, root, 32);
    memcpy(&s->w[victim].h, out, sizeof s->w[victim].h);
    s->w[victim].used = tick(c);
    (void)pthread_mutex_unlock(&s->mu);
}

void sigil_msg_cache_stats(const struct sigil_msg_cache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = atomic_load_explicit(&c->hits, memory_order_relaxed);
    *misses = atomic_load_explicit(&c->misses, memory_order_relaxed);
}
