/* Bounded slashing history: a background thread that runs sigil_slashing_prune on the service's
 * database once at start and then every interval, so a long-running signer's history (and its
 * export) does not grow without end. Pruning raises the low watermarks, so nothing pruned can be
 * signed again. */
#ifndef SIGIL_SIGILD_PRUNER_H
#define SIGIL_SIGILD_PRUNER_H

#include <stdint.h>

#include "common/result.h"
#include "slashing/slashing.h"

struct sigil_pruner_config {
    uint64_t keep_epochs;     /* >= 1: history kept below each key's newest record */
    uint64_t slots_per_epoch; /* from the network: block history is kept for keep_epochs * this slots */
    uint64_t interval_s;      /* >= 1: seconds between runs */
};

struct sigil_pruner;

/* Starts the pruning thread on db (not owned; it must outlive the pruner). The first run starts
 * at once. Failed runs are logged and retried at the next interval; they never stop the signer.
 * SIGIL_ERR_ARG for a zero field; SIGIL_ERR_INTERNAL if the thread cannot be created. */
SIGIL_RESULT sigil_pruner_start(struct sigil_pruner **out, struct sigil_slashing_db *db,
                                const struct sigil_pruner_config *cfg);

/* Wakes the thread, waits for a run in progress to finish, joins it and frees p. NULL is a no-op. */
void sigil_pruner_stop(struct sigil_pruner *p);

#endif
