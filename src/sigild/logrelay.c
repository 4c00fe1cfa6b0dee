#include "sigild/logrelay.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define QUEUE_LINES 1024

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *q[QUEUE_LINES];
    size_t head, count;
    size_t dropped;
    bool stop, running;
    pthread_t thread;
    struct sigil_channel *ch;
} relay = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Runs under the logger's lock: copy and queue only. */
static void sink(const char *line, size_t len, void *ctx)
{
    (void)ctx;
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, line, len);
    copy[len] = '\0';
    pthread_mutex_lock(&relay.mu);
    if (relay.count == QUEUE_LINES) {
        free(relay.q[relay.head]);
        relay.head = (relay.head + 1) % QUEUE_LINES;
        relay.count--;
        relay.dropped++;
    }
    relay.q[(relay.head + relay.count) % QUEUE_LINES] = copy;
    relay.count++;
    pthread_cond_signal(&relay.cv);
    pthread_mutex_unlock(&relay.mu);
}

static void *relay_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&relay.mu);
    for (;;) {
        while (relay.count == 0 && !relay.stop) {
            pthread_cond_wait(&relay.cv, &relay.mu);
        }
        if (relay.count == 0 && relay.stop) {
            break;
        }
        char *line = relay.q[relay.head];
        relay.head = (relay.head + 1) % QUEUE_LINES;
        relay.count--;
        size_t dropped = relay.dropped;
        relay.dropped = 0;
        pthread_mutex_unlock(&relay.mu);
        /* A line that is not a JSON object (never expected) is wrapped rather than lost. */
        json_t *obj = json_loads(line, 0, NULL);
        if (!json_is_object(obj)) {
            json_decref(obj);
            obj = json_pack("{s:s}", "msg", line);
        }
        if (obj != NULL && dropped > 0) {
            json_object_set_new(obj, "log_lines_dropped_before", json_integer((json_int_t)dropped));
        }
        if (obj != NULL) {
            /* A send failure means the channel is gone; the main loop notices and exits. */
            sigil_result sent = sigil_channel_send(relay.ch, SIGIL_MSG_LOG, 0, obj);
            (void)sent;
            json_decref(obj);
        }
        free(line);
        pthread_mutex_lock(&relay.mu);
    }
    pthread_mutex_unlock(&relay.mu);
    return NULL;
}

sigil_result sigil_logrelay_start(struct sigil_channel *ch)
{
    pthread_mutex_lock(&relay.mu);
    relay.ch = ch;
    relay.stop = false;
    int rc = pthread_create(&relay.thread, NULL, relay_main, NULL);
    relay.running = rc == 0;
    pthread_mutex_unlock(&relay.mu);
    if (rc != 0) {
        return sigil_errorf(SIGIL_ERR_INTERNAL, "cannot start the log relay thread");
    }
    sigil_log_set_sink(sink, NULL);
    return sigil_ok();
}

void sigil_logrelay_stop(void)
{
    sigil_log_set_sink(NULL, NULL);
    pthread_mutex_lock(&relay.mu);
    if (!relay.running) {
        pthread_mutex_unlock(&relay.mu);
        return;
    }
    relay.stop = true;
    pthread_cond_signal(&relay.cv);
    pthread_mutex_unlock(&relay.mu);
    pthread_join(relay.thread, NULL);
    relay.running = false;
}
