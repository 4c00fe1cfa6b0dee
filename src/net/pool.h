/* A fixed-size worker pool: the HTTP loop hands slow work (signing, database writes) to it so
 * that the event loop never blocks. Jobs run in submission order across the workers; there is
 * no cancellation. */
#ifndef SIGIL_NET_POOL_H
#define SIGIL_NET_POOL_H

#include <stddef.h>

#include "common/result.h"

struct sigil_pool;

/* Starts nthreads workers (0 = number of online CPUs). Errors: SIGIL_ERR_NOMEM, SIGIL_ERR_INTERNAL
 * when a thread cannot be created. */
SIGIL_RESULT sigil_pool_new(struct sigil_pool **out, unsigned nthreads);

/* Queues fn(arg). Thread-safe. When the queue entry cannot be allocated, fn(arg) runs in the
 * caller before this returns (work is never dropped). Must not be called after sigil_pool_free
 * has started. */
void sigil_pool_submit(struct sigil_pool *p, void (*fn)(void *arg), void *arg);

/* Number of worker threads. */
unsigned sigil_pool_threads(const struct sigil_pool *p);

/* Jobs queued and not yet started (a snapshot, for metrics). */
size_t sigil_pool_pending(struct sigil_pool *p);

/* Runs every queued job, then joins the workers and frees p (NULL is a no-op). Jobs may still
 * submit more jobs while the pool drains; those run too. */
void sigil_pool_free(struct sigil_pool *p);

#endif
