/* Keystore directories loaded in parallel: see keydir.h. */
#include "common/keydir.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"

#define PROGRESS_STEPS 10

static bool has_suffix(const char *s, size_t len, const char *suf)
{
    size_t l = strlen(suf);
    return len > l && memcmp(s + len - l, suf, l) == 0;
}

char *sigil_keydir_join(const char *dir, const char *name, size_t name_len, const char *suffix)
{
    size_t dl = strlen(dir);
    size_t sl = suffix != NULL ? strlen(suffix) : 0;
    char *p = malloc(dl + 1 + name_len + sl + 1);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, name_len);
    memcpy(p + dl + 1 + name_len, suffix != NULL ? suffix : "", sl);
    p[dl + 1 + name_len + sl] = '\0';
    return p;
}

char *sigil_keydir_password_path(const char *passwords_dir, const char *json_name)
{
    size_t base = strlen(json_name) - strlen(SIGIL_KEYDIR_JSON_SUFFIX);
    return sigil_keydir_join(passwords_dir, json_name, base, SIGIL_KEYDIR_PASSWORD_SUFFIX);
}

bool sigil_keydir_is_regular(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

sigil_result sigil_keydir_read_password_file(char **pw, size_t *pw_len, const char *path)
{
    *pw = NULL;
    *pw_len = 0;
    SIGIL_GUARD(sigil_read_file_secure(pw, pw_len, path, SIGIL_KEYDIR_MAX_PASSWORD));
    sigil_strip_newline(*pw, pw_len);
    return sigil_ok();
}

sigil_result sigil_keydir_read_password(char **pw, size_t *pw_len, const char *passwords_dir, const char *json_name)
{
    *pw = NULL;
    *pw_len = 0;
    char *path = sigil_keydir_password_path(passwords_dir, json_name);
    if (path == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    sigil_result r = sigil_keydir_is_regular(path) ? sigil_keydir_read_password_file(pw, pw_len, path)
                                                   : sigil_errorf(SIGIL_ERR_NOT_FOUND, "no password file %s", path);
    free(path);
    return r;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void sigil_keydir_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

sigil_result sigil_keydir_scan(char ***out, size_t *out_n, const char *dir, const char *what)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    char **names = NULL;
    size_t n = 0;
    size_t cap = 0;
    *out = NULL;
    *out_n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        return sigil_errorf(SIGIL_ERR_IO, "cannot read %s directory %s: %s", what, dir, strerror(errno));
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0) {
                ret = sigil_errorf(SIGIL_ERR_IO, "cannot read %s directory %s: %s", what, dir, strerror(errno));
                goto out;
            }
            break;
        }
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || !has_suffix(de->d_name, len, SIGIL_KEYDIR_JSON_SUFFIX)) {
            continue;
        }
        if (de->d_type != DT_REG) {
            char *p = sigil_keydir_join(dir, de->d_name, len, NULL);
            SIGIL_ENSURE_GOTO(p != NULL, SIGIL_ERR_NOMEM);
            bool reg = sigil_keydir_is_regular(p); /* DT_UNKNOWN file systems, and symlinks to files */
            free(p);
            if (!reg) {
                continue;
            }
        }
        if (n == SIGIL_KEYDIR_MAX_FILES) {
            ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "more than %u keystores in %s", SIGIL_KEYDIR_MAX_FILES, dir);
            goto out;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            char **nn = realloc(names, ncap * sizeof *nn);
            SIGIL_ENSURE_GOTO(nn != NULL, SIGIL_ERR_NOMEM);
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(de->d_name);
        SIGIL_ENSURE_GOTO(names[n] != NULL, SIGIL_ERR_NOMEM);
        n++;
    }
    if (n > 1) {
        qsort(names, n, sizeof *names, cmp_name);
    }
    *out = names;
    *out_n = n;
    names = NULL;
    n = 0;
    ret = sigil_ok();
out:
    sigil_keydir_names_free(names, n);
    closedir(d);
    return ret;
}

struct fan_out {
    size_t n;
    void (*each)(void *ctx, size_t i);
    void (*done)(void *ctx, size_t done, size_t total);
    void *ctx;
    const char *progress_msg;
    _Atomic size_t next, finished;
    _Atomic unsigned logged_step;
};

static void *fan_out_worker(void *arg)
{
    struct fan_out *f = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&f->next, 1);
        if (i >= f->n) {
            break;
        }
        f->each(f->ctx, i);
        size_t done = atomic_fetch_add(&f->finished, 1) + 1;
        if (f->done != NULL) {
            f->done(f->ctx, done, f->n);
        }
        unsigned step = (unsigned)(done * PROGRESS_STEPS / f->n);
        unsigned seen = atomic_load(&f->logged_step);
        while (step > seen) {
            if (atomic_compare_exchange_weak(&f->logged_step, &seen, step)) {
                SIGIL_LOG_INFO(f->progress_msg, SIGIL_LOG_UINT("done", done), SIGIL_LOG_UINT("total", f->n));
                break;
            }
        }
    }
    return NULL;
}

void sigil_keydir_fan_out(size_t n, unsigned threads, void (*each)(void *ctx, size_t i),
                          void (*done)(void *ctx, size_t done, size_t total), void *ctx, const char *progress_msg)
{
    struct fan_out f = {.n = n, .each = each, .done = done, .ctx = ctx, .progress_msg = progress_msg};
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? (unsigned)cpus : 1;
    }
    if (threads > SIGIL_KEYDIR_MAX_THREADS) {
        threads = SIGIL_KEYDIR_MAX_THREADS;
    }
    if (threads > n) {
        threads = n > 0 ? (unsigned)n : 1;
    }
    pthread_t tid[SIGIL_KEYDIR_MAX_THREADS];
    unsigned started = 0;
    for (unsigned i = 1; i < threads; i++) {
        if (pthread_create(&tid[started], NULL, fan_out_worker, &f) != 0) {
            break; /* fewer threads is slower, not wrong: the caller's thread does the rest */
        }
        started++;
    }
    (void)fan_out_worker(&f);
    for (unsigned i = 0; i < started; i++) {
        (void)pthread_join(tid[i], NULL);
    }
}
