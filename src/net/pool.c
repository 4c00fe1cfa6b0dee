/* Worker pool: one mutex-protected FIFO and a condition variable. The queue is unbounded by
 * design: the HTTP layer bounds the work in flight with its connection cap (one outstanding
 * request per connection), so the pool needs no second limit. */
#include "net/pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"

struct pool_job {
    void (*fn)(void *arg);
    void *arg;
    struct pool_job *next;
};

struct sigil_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pool_job *head, *tail;
    size_t pending;
    bool stopping;
    unsigned nthreads;
    pthread_t *threads;
};

static void *pool_worker(void *arg)
{
    struct sigil_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->head == NULL && !p->stopping) {
            pthread_cond_wait(&p->cv, &p->mu);
        }
        struct pool_job *job = p->head;
        if (job == NULL) {
            /* stopping and drained */
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        p->head = job->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->pending--;
        pthread_mutex_unlock(&p->mu);
        job->fn(job->arg);
        free(job);
    }
}

sigil_result sigil_pool_new(struct sigil_pool **out, unsigned nthreads)
{
    SIGIL_ENSURE(out != NULL, SIGIL_ERR_ARG);
    *out = NULL;
    if (nthreads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = n > 0 ? (unsigned)n : 1;
    }
    SIGIL_ENSURE(nthreads <= 4096, SIGIL_ERR_ARG);
    struct sigil_pool *p = calloc(1, sizeof *p);
    SIGIL_ENSURE(p != NULL, SIGIL_ERR_NOMEM);
    p->threads = calloc(nthreads, sizeof *p->threads);
    if (p->threads == NULL) {
        free(p);
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (unsigned i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_worker, p) != 0) {
            p->nthreads = i;
            sigil_pool_free(p);
            return sigil_errorf(SIGIL_ERR_INTERNAL, "cannot start worker thread %u", i);
        }
    }
    p->nthreads = nthreads;
    *out = p;
    return sigil_ok();
}

void sigil_pool_submit(struct sigil_pool *p, void (*fn)(void *arg), void *arg)
{
    struct pool_job *job = malloc(sizeof *job);
    if (job == NULL) {
        SIGIL_LOG_WARN("pool queue allocation failed; running job inline", SIGIL_LOG_NONE);
        fn(arg);
        return;
    }
    job->fn = fn;
    job->arg = arg;
    job->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail != NULL) {
        p->tail->next = job;
    } else {
        p->head = job;
    }
    p->tail = job;
    p->pending++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

unsigned sigil_pool_threads(const struct sigil_pool *p) { return p->nthreads; }

size_t sigil_pool_pending(struct sigil_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->pending;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void sigil_pool_free(struct sigil_pool *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    /* Only reachable when thread creation failed part-way: no worker is left to run these. */
    for (struct pool_job *j = p->head; j != NULL;) {
        struct pool_job *next = j->next;
        j->fn(j->arg);
        free(j);
        j = next;
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}
