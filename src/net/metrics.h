/* Prometheus metrics registry (text exposition format 0.0.4).
 *
 * Metric handles are created once (at startup or lazily) and updated from any thread with
 * atomics; no lock is taken on the update path. A metric name may be registered with several
 * label sets: the output groups them under one HELP/TYPE header. Label sets are fixed strings
 * chosen at registration time, e.g. "type=\"ATTESTATION\",status=\"200\"".
 *
 * Misuse (an invalid metric name or label string, or re-registering a name with another type)
 * is logged and returns NULL like an allocation failure; every update function accepts NULL
 * and does nothing, so a metrics problem never takes the signer down. */
#ifndef SIGIL_NET_METRICS_H
#define SIGIL_NET_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct sigil_metrics;
struct sigil_counter;
struct sigil_gauge;
struct sigil_histogram;

/* Returns an empty registry, or NULL when out of memory. */
struct sigil_metrics *sigil_metrics_new(void);

/* Frees the registry and every handle it returned (NULL is a no-op). */
void sigil_metrics_free(struct sigil_metrics *m);

/* Registers (or returns the existing) series name{labels}. labels may be NULL or "" for none.
 * help is used by the first registration of name. Returns NULL on OOM or misuse (see above). */
struct sigil_counter *sigil_metrics_counter(struct sigil_metrics *m, const char *name, const char *help,
                                            const char *labels);
struct sigil_gauge *sigil_metrics_gauge(struct sigil_metrics *m, const char *name, const char *help,
                                        const char *labels);

/* bounds: nbounds strictly increasing finite upper bounds (the +Inf bucket is implicit). A second
 * registration of the same series returns the first one and ignores the bounds given. */
struct sigil_histogram *sigil_metrics_histogram(struct sigil_metrics *m, const char *name, const char *help,
                                                const char *labels, const double *bounds, size_t nbounds);

void sigil_counter_add(struct sigil_counter *c, uint64_t v);
void sigil_gauge_set(struct sigil_gauge *g, double v);
void sigil_gauge_add(struct sigil_gauge *g, double delta);
void sigil_histogram_observe(struct sigil_histogram *h, double v);

/* Current values (for tests and health checks). */
uint64_t sigil_counter_value(const struct sigil_counter *c);
double sigil_gauge_value(const struct sigil_gauge *g);

/* Renders the whole registry as exposition text; malloc'ed and NUL-terminated, *len (if not
 * NULL) receives the length. NULL on OOM. Content type: "text/plain; version=0.0.4". */
char *sigil_metrics_render(struct sigil_metrics *m, size_t *len);

/* Validates a label string ('name="value"' pairs separated by commas, values with \\, \" and \n
 * escapes). Returns 1 when valid, 0 otherwise. Exposed for the fuzz harness. */
int sigil_metrics_labels_valid(const char *labels);

/* Validates a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*). */
int sigil_metrics_name_valid(const char *name);

#endif
