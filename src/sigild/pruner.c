/* Periodic slashing-history pruning for sigild (see pruner.h). */
#include "sigild/pruner.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"

struct sigil_pruner {
    struct sigil_slashing_db *db;
    struct sigil_pruner_config cfg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled by stop; waits use CLOCK_MONOTONIC so clock steps do not matter */
    bool stopping;
};

static double elapsed_s(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void prune_once(struct sigil_pruner *p, uint64_t run)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sigil_result r = sigil_slashing_prune(p->db, p->cfg.keep_epochs, p->cfg.slots_per_epoch);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (sigil_is_ok(r)) {
        SIGIL_LOG_INFO(
            "slashing history pruned", SIGIL_LOG_UINT("run", run), SIGIL_LOG_UINT("keep_epochs", p->cfg.keep_epochs),
            SIGIL_LOG_UINT("keep_slots", p->cfg.keep_epochs * p->cfg.slots_per_epoch),
            SIGIL_LOG_DBL("seconds", elapsed_s(&t0, &t1)), SIGIL_LOG_UINT("next_in_seconds", p->cfg.interval_s));
    } else {
        SIGIL_LOG_WARN("slashing history pruning failed; retrying at the next interval", SIGIL_LOG_UINT("run", run),
                       SIGIL_LOG_STR("error", sigil_strerror(r.code)), SIGIL_LOG_STR("detail", sigil_error_detail()),
                       SIGIL_LOG_UINT("next_in_seconds", p->cfg.interval_s));
    }
}

static void *pruner_main(void *arg)
{
    struct sigil_pruner *p = arg;
    uint64_t run = 0;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        pthread_mutex_unlock(&p->lock);
        prune_once(p, ++run);
        pthread_mutex_lock(&p->lock);

        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        /* interval_s is bounded by sigil_pruner_start, so this cannot overflow time_t */
        deadline.tv_sec += (time_t)p->cfg.interval_s;
        while (!p->stopping) {
            int rc = pthread_cond_timedwait(&p->wake, &p->lock, &deadline);
            if (rc == ETIMEDOUT) {
                break;
            }
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* A year: longer intervals are surely a typo, and the bound keeps the deadline arithmetic safe. */
#define PRUNER_MAX_INTERVAL_S (366u * 24u * 3600u)

sigil_result sigil_pruner_start(struct sigil_pruner **out, struct sigil_slashing_db *db,
                                const struct sigil_pruner_config *cfg)
{
    *out = NULL;
    if (db == NULL || cfg->keep_epochs == 0 || cfg->slots_per_epoch == 0 || cfg->interval_s == 0 ||
        cfg->interval_s > PRUNER_MAX_INTERVAL_S || cfg->keep_epochs > UINT64_MAX / cfg->slots_per_epoch) {
        return sigil_errorf(SIGIL_ERR_ARG, "pruning needs a database, keep_epochs >= 1, slots_per_epoch >= 1 and "
                                           "an interval of 1 s to a year");
    }
    struct sigil_pruner *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    p->db = db;
    p->cfg = *cfg;
    pthread_condattr_t ca;
    bool cond_ok = false, lock_ok = false;
    if (pthread_condattr_init(&ca) == 0) {
        cond_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&p->wake, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    lock_ok = pthread_mutex_init(&p->lock, NULL) == 0;
    if (!cond_ok || !lock_ok || pthread_create(&p->thread, NULL, pruner_main, p) != 0) {
        if (cond_ok) {
            pthread_cond_destroy(&p->wake);
        }
        if (lock_ok) {
            pthread_mutex_destroy(&p->lock);
        }
        free(p);
        return sigil_errorf(SIGIL_ERR_INTERNAL, "cannot start the slashing-history pruning thread");
    }
    SIGIL_LOG_INFO("slashing history pruning enabled", SIGIL_LOG_UINT("keep_epochs", cfg->keep_epochs),
                   SIGIL_LOG_UINT("slots_per_epoch", cfg->slots_per_epoch),
                   SIGIL_LOG_UINT("interval_seconds", cfg->interval_s));
    *out = p;
    return sigil_ok();
}

void sigil_pruner_stop(struct sigil_pruner *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
