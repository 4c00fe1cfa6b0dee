/* Structured JSON logging: one JSON object per line on stderr (or a chosen fd).
 *
 * The API takes typed fields, never a free-form format string, so a request body or a key
 * cannot be interpolated by accident. Any string field whose pointer lies in secure memory
 * (sigil_secure_owns) is printed as "[redacted]": a secret cannot reach the log even through a
 * programming mistake. */
#ifndef SIGIL_COMMON_LOG_H
#define SIGIL_COMMON_LOG_H

#include <stddef.h>
#include <stdint.h>

enum sigil_log_level { SIGIL_LOG_DEBUG, SIGIL_LOG_INFO, SIGIL_LOG_WARN, SIGIL_LOG_ERROR };

enum sigil_log_ftype { SIGIL_LF_END = 0, SIGIL_LF_STR, SIGIL_LF_INT, SIGIL_LF_UINT, SIGIL_LF_DBL, SIGIL_LF_BOOL };

struct sigil_log_field {
    enum sigil_log_ftype type;
    const char *key;
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double d;
    } v;
};

#define SIGIL_LOG_STR(k, x)  ((struct sigil_log_field){SIGIL_LF_STR, (k), {.s = (x)}})
#define SIGIL_LOG_INT(k, x)  ((struct sigil_log_field){SIGIL_LF_INT, (k), {.i = (int64_t)(x)}})
#define SIGIL_LOG_UINT(k, x) ((struct sigil_log_field){SIGIL_LF_UINT, (k), {.u = (uint64_t)(x)}})
#define SIGIL_LOG_DBL(k, x)  ((struct sigil_log_field){SIGIL_LF_DBL, (k), {.d = (double)(x)}})
#define SIGIL_LOG_BOOL(k, x) ((struct sigil_log_field){SIGIL_LF_BOOL, (k), {.i = (x) ? 1 : 0}})

/* Sets the minimum level and the output fd (default: INFO, stderr). */
void sigil_log_init(enum sigil_log_level min_level, int fd);

/* Writes {"ts":...,"level":...,"component":...,"msg":msg, fields...}. nfields fields follow. */
void sigil_log_fields(enum sigil_log_level level, const char *msg, const struct sigil_log_field *fields,
                      unsigned nfields);

/* Routes every log line (one JSON object, no newline) to sink instead of the fd; NULL restores the
 * fd. The sink runs under the logger's lock and must not block or log: sigild in the enclave uses
 * it to queue lines for LOG frames on the control channel. */
void sigil_log_set_sink(void (*sink)(const char *line, size_t len, void *ctx), void *ctx);

/* Sets the "component" value (binary name) written on every line. */
void sigil_log_set_component(const char *component);

#define SIGIL_LOG_(lvl, msg, ...)                                                                                      \
    do {                                                                                                               \
        const struct sigil_log_field sigil_lf_[] = {__VA_ARGS__};                                                      \
        sigil_log_fields((lvl), (msg), sigil_lf_, (unsigned)(sizeof sigil_lf_ / sizeof sigil_lf_[0]));                 \
    } while (0)

/* Usage: SIGIL_LOG_INFO("keys loaded", SIGIL_LOG_UINT("count", n)); at least one field, or
 * SIGIL_LOG_NONE for none. */
#define SIGIL_LOG_NONE            ((struct sigil_log_field){SIGIL_LF_END, NULL, {.i = 0}})
#define SIGIL_LOG_DEBUG(msg, ...) SIGIL_LOG_(SIGIL_LOG_DEBUG, msg, __VA_ARGS__)
#define SIGIL_LOG_INFO(msg, ...)  SIGIL_LOG_(SIGIL_LOG_INFO, msg, __VA_ARGS__)
#define SIGIL_LOG_WARN(msg, ...)  SIGIL_LOG_(SIGIL_LOG_WARN, msg, __VA_ARGS__)
#define SIGIL_LOG_ERROR(msg, ...) SIGIL_LOG_(SIGIL_LOG_ERROR, msg, __VA_ARGS__)

#endif
