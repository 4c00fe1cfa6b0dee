/* LOG frames: inside the enclave sigild has no stderr the operator can read (the sandbox closes
 * it; a Nitro Enclave has only a debug console), so its log lines travel to sigil-host as LOG
 * frames on the control channel. Lines are queued by the logger (never blocking, oldest dropped
 * when the queue is full) and sent by one relay thread, so a thread that logs while holding the
 * channel's writer lock cannot deadlock. Log lines are already secret-free (common/log.h). */
#ifndef SIGIL_SIGILD_LOGRELAY_H
#define SIGIL_SIGILD_LOGRELAY_H

#include "channel/channel.h"
#include "common/result.h"

/* Starts relaying every log line to ch as LOG frames. */
SIGIL_RESULT sigil_logrelay_start(struct sigil_channel *ch);

/* Sends what is queued, stops the relay thread and restores logging to stderr. */
void sigil_logrelay_stop(void);

#endif
