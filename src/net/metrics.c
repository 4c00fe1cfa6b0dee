/* Metrics registry: families (one per name) each holding a list of series (one per label set).
 * Registration and rendering take the registry mutex; updates are lock-free atomics. Doubles are
 * stored as their bit patterns in 64-bit atomics. */
#include "net/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/* Common head of every series; the concrete structs below start with it. */
struct series {
    struct series *next;
    char *labels; /* "" for none */
};

struct sigil_counter {
    struct series hdr;
    _Atomic uint64_t value;
};

struct sigil_gauge {
    struct series hdr;
    _Atomic uint64_t bits;
};

struct sigil_histogram {
    struct series hdr;
    size_t nbounds;
    double *bounds;
    _Atomic uint64_t *buckets; /* nbounds + 1, not cumulative */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_bits;
};

struct family {
    struct family *next;
    char *name;
    char *help;
    enum metric_type type;
    struct series *head, *tail;
};

struct sigil_metrics {
    pthread_mutex_t mu;
    struct family *head, *tail;
};

static uint64_t dbl_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_dbl(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

int sigil_metrics_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0') {
        return 0;
    }
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && p != name)) {
            return 0;
        }
    }
    return 1;
}

int sigil_metrics_labels_valid(const char *labels)
{
    if (labels == NULL) {
        return 1;
    }
    const char *p = labels;
    if (*p == '\0') {
        return 1;
    }
    for (;;) {
        /* label name */
        const char *start = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
               (p != start && *p >= '0' && *p <= '9')) {
            p++;
        }
        if (p == start || *p != '=' || p[1] != '"') {
            return 0;
        }
        p += 2;
        /* quoted value */
        for (;;) {
            if (*p == '\0' || *p == '\n') {
                return 0;
            }
            if (*p == '"') {
                break;
            }
            if (*p == '\\') {
                if (p[1] != '\\' && p[1] != '"' && p[1] != 'n') {
                    return 0;
                }
                p++;
            }
            p++;
        }
        p++;
        if (*p == '\0') {
            return 1;
        }
        if (*p != ',') {
            return 0;
        }
        p++;
    }
}

struct sigil_metrics *sigil_metrics_new(void)
{
    struct sigil_metrics *m = calloc(1, sizeof *m);
    if (m != NULL) {
        pthread_mutex_init(&m->mu, NULL);
    }
    return m;
}

static void series_free(enum metric_type type, struct series *s)
{
    if (type == METRIC_HISTOGRAM) {
        struct sigil_histogram *h = (struct sigil_histogram *)s;
        free(h->bounds);
        free((void *)h->buckets);
    }
    free(s->labels);
    free(s);
}

void sigil_metrics_free(struct sigil_metrics *m)
{
    if (m == NULL) {
        return;
    }
    for (struct family *f = m->head; f != NULL;) {
        struct family *fnext = f->next;
        for (struct series *s = f->head; s != NULL;) {
            struct series *snext = s->next;
            series_free(f->type, s);
            s = snext;
        }
        free(f->name);
        free(f->help);
        free(f);
        f = fnext;
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Finds or creates the family; NULL on OOM or a type clash. Called with the lock held. */
static struct family *family_get(struct sigil_metrics *m, const char *name, const char *help, enum metric_type type)
{
    for (struct family *f = m->head; f != NULL; f = f->next) {
        if (strcmp(f->name, name) == 0) {
            if (f->type != type) {
                SIGIL_LOG_ERROR("metric registered twice with different types", SIGIL_LOG_STR("name", name));
                return NULL;
            }
            return f;
        }
    }
    struct family *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return NULL;
    }
    f->name = strdup(name);
    f->help = strdup(help != NULL ? help : "");
    if (f->name == NULL || f->help == NULL) {
        free(f->name);
        free(f->help);
        free(f);
        return NULL;
    }
    f->type = type;
    if (m->tail != NULL) {
        m->tail->next = f;
    } else {
        m->head = f;
    }
    m->tail = f;
    return f;
}

static struct series *series_find(struct family *f, const char *labels)
{
    for (struct series *s = f->head; s != NULL; s = s->next) {
        if (strcmp(s->labels, labels) == 0) {
            return s;
        }
    }
    return NULL;
}

static void series_append(struct family *f, struct series *s)
{
    if (f->tail != NULL) {
        f->tail->next = s;
    } else {
        f->head = s;
    }
    f->tail = s;
}

/* Registers a series of `size` bytes; init (may be NULL) completes type-specific fields and
 * returns false on OOM. */
static struct series *register_series(struct sigil_metrics *m, const char *name, const char *help, const char *labels,
                                      enum metric_type type, size_t size,
                                      bool (*init)(struct series *, const double *, size_t), const double *bounds,
                                      size_t nbounds)
{
    if (m == NULL) {
        return NULL;
    }
    if (labels == NULL) {
        labels = "";
    }
    if (!sigil_metrics_name_valid(name) || !sigil_metrics_labels_valid(labels)) {
        SIGIL_LOG_ERROR("invalid metric name or labels", SIGIL_LOG_STR("name", name != NULL ? name : "(null)"));
        return NULL;
    }
    struct series *s = NULL;
    pthread_mutex_lock(&m->mu);
    struct family *f = family_get(m, name, help, type);
    if (f == NULL) {
        goto out;
    }
    s = series_find(f, labels);
    if (s != NULL) {
        goto out;
    }
    s = calloc(1, size);
    if (s == NULL) {
        goto out;
    }
    s->labels = strdup(labels);
    if (s->labels == NULL || (init != NULL && !init(s, bounds, nbounds))) {
        series_free(type, s);
        s = NULL;
        goto out;
    }
    series_append(f, s);
out:
    pthread_mutex_unlock(&m->mu);
    return s;
}

struct sigil_counter *sigil_metrics_counter(struct sigil_metrics *m, const char *name, const char *help,
                                            const char *labels)
{
    return (struct sigil_counter *)register_series(m, name, help, labels, METRIC_COUNTER, sizeof(struct sigil_counter),
                                                   NULL, NULL, 0);
}

struct sigil_gauge *sigil_metrics_gauge(struct sigil_metrics *m, const char *name, const char *help, const char *labels)
{
    return (struct sigil_gauge *)register_series(m, name, help, labels, METRIC_GAUGE, sizeof(struct sigil_gauge), NULL,
                                                 NULL, 0);
}

static bool histogram_init(struct series *s, const double *bounds, size_t nbounds)
{
    struct sigil_histogram *h = (struct sigil_histogram *)s;
    h->nbounds = nbounds;
    h->bounds = malloc((nbounds > 0 ? nbounds : 1) * sizeof *h->bounds);
    h->buckets = calloc(nbounds + 1, sizeof *h->buckets);
    if (h->bounds == NULL || h->buckets == NULL) {
        return false;
    }
    if (nbounds > 0) {
        memcpy(h->bounds, bounds, nbounds * sizeof *bounds);
    }
    return true;
}

struct sigil_histogram *sigil_metrics_histogram(struct sigil_metrics *m, const char *name, const char *help,
                                                const char *labels, const double *bounds, size_t nbounds)
{
    if (nbounds > 0 && bounds == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < nbounds; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
            SIGIL_LOG_ERROR("histogram bounds must be finite and increasing", SIGIL_LOG_STR("name", name));
            return NULL;
        }
    }
    return (struct sigil_histogram *)register_series(m, name, help, labels, METRIC_HISTOGRAM,
                                                     sizeof(struct sigil_histogram), histogram_init, bounds, nbounds);
}

void sigil_counter_add(struct sigil_counter *c, uint64_t v)
{
    if (c != NULL) {
        atomic_fetch_add_explicit(&c->value, v, memory_order_relaxed);
    }
}

void sigil_gauge_set(struct sigil_gauge *g, double v)
{
    if (g != NULL) {
        atomic_store_explicit(&g->bits, dbl_bits(v), memory_order_relaxed);
    }
}

static void atomic_add_double(_Atomic uint64_t *bits, double delta)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, dbl_bits(bits_dbl(old) + delta), memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

void sigil_gauge_add(struct sigil_gauge *g, double delta)
{
    if (g != NULL) {
        atomic_add_double(&g->bits, delta);
    }
}

void sigil_histogram_observe(struct sigil_histogram *h, double v)
{
    if (h == NULL || isnan(v)) {
        return;
    }
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&h->sum_bits, v);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

uint64_t sigil_counter_value(const struct sigil_counter *c)
{
    return c != NULL ? atomic_load_explicit(&c->value, memory_order_relaxed) : 0;
}

double sigil_gauge_value(const struct sigil_gauge *g)
{
    return g != NULL ? bits_dbl(atomic_load_explicit(&g->bits, memory_order_relaxed)) : 0.0;
}

/* ---- rendering ---- */

struct strbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_reserve(struct strbuf *b, size_t extra)
{
    if (b->oom || b->len + extra + 1 <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) {
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    if (!b->oom) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
    }
}

static void sb_str(struct strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) {
        sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
    }
}

/* Shortest text that reads back as the same double, in the Go/Prometheus spelling of the
 * special values. */
static void fmt_double(char *out, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v) {
            return;
        }
    }
}

static void sb_help(struct strbuf *b, const char *help)
{
    for (const char *p = help; *p != '\0'; p++) {
        if (*p == '\\') {
            sb_str(b, "\\\\");
        } else if (*p == '\n') {
            sb_str(b, "\\n");
        } else {
            sb_add(b, p, 1);
        }
    }
}

/* name{labels[,extra]} */
static void sb_series_name(struct strbuf *b, const char *name, const char *suffix, const char *labels,
                           const char *extra)
{
    sb_str(b, name);
    sb_str(b, suffix);
    bool has_labels = labels[0] != '\0';
    if (has_labels || extra != NULL) {
        sb_str(b, "{");
        sb_str(b, labels);
        if (extra != NULL) {
            if (has_labels) {
                sb_str(b, ",");
            }
            sb_str(b, extra);
        }
        sb_str(b, "}");
    }
}

static void render_histogram(struct strbuf *b, const char *name, struct sigil_histogram *h)
{
    char num[64], le[96];
    uint64_t cum = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < h->nbounds) {
            fmt_double(num, sizeof num, h->bounds[i]);
        } else {
            snprintf(num, sizeof num, "+Inf");
        }
        snprintf(le, sizeof le, "le=\"%s\"", num);
        sb_series_name(b, name, "_bucket", h->hdr.labels, le);
        sb_printf(b, " %llu\n", (unsigned long long)cum);
    }
    fmt_double(num, sizeof num, bits_dbl(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)));
    sb_series_name(b, name, "_sum", h->hdr.labels, NULL);
    sb_printf(b, " %s\n", num);
    /* _count equals the +Inf bucket; a concurrent observe may land between the loads, so reuse
     * the bucket total for a self-consistent scrape. */
    sb_series_name(b, name, "_count", h->hdr.labels, NULL);
    sb_printf(b, " %llu\n", (unsigned long long)cum);
}

char *sigil_metrics_render(struct sigil_metrics *m, size_t *len)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    struct strbuf b = {0};
    sb_reserve(&b, 0);
    pthread_mutex_lock(&m->mu);
    for (struct family *f = m->head; f != NULL; f = f->next) {
        if (f->head == NULL) {
            continue;
        }
        sb_str(&b, "# HELP ");
        sb_str(&b, f->name);
        sb_str(&b, " ");
        sb_help(&b, f->help);
        sb_str(&b, "\n# TYPE ");
        sb_str(&b, f->name);
        sb_str(&b, " ");
        sb_str(&b, type_names[f->type]);
        sb_str(&b, "\n");
        for (struct series *s = f->head; s != NULL; s = s->next) {
            char num[64];
            switch (f->type) {
            case METRIC_COUNTER:
                sb_series_name(&b, f->name, "", s->labels, NULL);
                sb_printf(&b, " %llu\n", (unsigned long long)sigil_counter_value((struct sigil_counter *)s));
                break;
            case METRIC_GAUGE:
                fmt_double(num, sizeof num, sigil_gauge_value((struct sigil_gauge *)s));
                sb_series_name(&b, f->name, "", s->labels, NULL);
                sb_printf(&b, " %s\n", num);
                break;
            case METRIC_HISTOGRAM:
                render_histogram(&b, f->name, (struct sigil_histogram *)s);
                break;
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len != NULL) {
        *len = b.len;
    }
    return b.p;
}
