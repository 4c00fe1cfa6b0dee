#include "common/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/secmem.h"

static enum sigil_log_level min_level = SIGIL_LOG_INFO;
static int log_fd = 2;
static const char *component = "sigil";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*log_sink)(const char *line, size_t len, void *ctx);
static void *log_sink_ctx;

void sigil_log_set_sink(void (*sink)(const char *line, size_t len, void *ctx), void *ctx)
{
    pthread_mutex_lock(&log_lock);
    log_sink = sink;
    log_sink_ctx = ctx;
    pthread_mutex_unlock(&log_lock);
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sigil_log_init(enum sigil_log_level level, int fd)
{
    min_level = level;
    log_fd = fd;
}

void sigil_log_set_component(const char *c) { component = c; }

/* Public strings only: anything in secure memory is replaced. */
static const char *safe_str(const char *s)
{
    if (s == NULL) {
        return "";
    }
    if (sigil_secure_owns(s)) {
        return "[redacted]";
    }
    return s;
}

void sigil_log_fields(enum sigil_log_level level, const char *msg, const struct sigil_log_field *fields,
                      unsigned nfields)
{
    if (level < min_level) {
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[40];
    size_t n = strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(tbuf + n, sizeof tbuf - n, ".%03ldZ", ts.tv_nsec / 1000000);

    json_t *o = json_object();
    if (o == NULL) {
        return;
    }
    json_object_set_new(o, "ts", json_string(tbuf));
    json_object_set_new(o, "level", json_string(level_names[level]));
    json_object_set_new(o, "component", json_string(component));
    json_object_set_new(o, "msg", json_string(safe_str(msg)));
    for (unsigned i = 0; i < nfields; i++) {
        const struct sigil_log_field *f = &fields[i];
        if (f->type == SIGIL_LF_END || f->key == NULL) {
            continue;
        }
        json_t *v = NULL;
        switch (f->type) {
        case SIGIL_LF_STR:
            v = json_string(safe_str(f->v.s));
            if (v == NULL) { /* invalid UTF-8: say so rather than print raw bytes */
                v = json_string("[invalid utf-8]");
            }
            break;
        case SIGIL_LF_INT:
            v = json_integer(f->v.i);
            break;
        case SIGIL_LF_UINT:
            v = f->v.u <= INT64_MAX ? json_integer((json_int_t)f->v.u) : json_real((double)f->v.u);
            break;
        case SIGIL_LF_DBL:
            v = json_real(f->v.d);
            break;
        case SIGIL_LF_BOOL:
            v = json_boolean(f->v.i);
            break;
        default:
            break;
        }
        if (v != NULL) {
            json_object_set_new(o, f->key, v);
        }
    }
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL) {
        return;
    }
    size_t len = strlen(line);
    pthread_mutex_lock(&log_lock);
    if (log_sink != NULL) {
        log_sink(line, len, log_sink_ctx);
    } else {
        ssize_t w1 = write(log_fd, line, len);
        ssize_t w2 = write(log_fd, "\n", 1);
        (void)w1;
        (void)w2;
    }
    pthread_mutex_unlock(&log_lock);
    /* jansson's own free: a line built while the thread is in secret-JSON mode
     * (sigil_channel_secret_json) lives in secure memory, not on the malloc heap */
    json_free_t jfree = free;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(line);
}
