/* Filling the store from a keystores directory: scan, open the cache, then hash (and, on a cache
 * miss, decrypt) every keystore on a pool of threads, insert everything under one write lock,
 * and rewrite the cache when its content is stale. */
#include <errno.h>
#include <openssl/sha.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/io.h"
#include "common/keydir.h"
#include "common/log.h"
#include "common/secmem.h"
#include "crypto/eip2335.h"
#include "keys/internal.h"

#define KEK_LEN 32

enum item_state { ITEM_TODO, ITEM_NO_PASSWORD, ITEM_OK, ITEM_FAILED };

struct item {
    char *name; /* "NAME.json", malloc'ed */
    enum item_state state;
    bool from_cache;
    uint8_t sha[KEYS_SHA_LEN];
    uint64_t size;
    uint8_t pk[KEYS_PK_LEN];
    sigil_bls_sk *sk; /* secure memory */
};

struct job {
    const struct sigil_load_opts *opts;
    const struct keys_cache *cache;
    struct item *items;
    _Atomic int nomem;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void items_free(struct item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].name);
        sigil_secure_free(items[i].sk);
    }
    free(items);
}

/* The NAME.json files of dir, sorted by name (sigil_keydir_scan). */
static sigil_result scan(struct item **out, size_t *out_n, const char *dir)
{
    char **names = NULL;
    size_t n = 0;
    *out = NULL;
    *out_n = 0;
    SIGIL_GUARD(sigil_keydir_scan(&names, &n, dir, "keystores"));
    struct item *items = calloc(n ? n : 1, sizeof(*items));
    if (items == NULL) {
        sigil_keydir_names_free(names, n);
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    for (size_t i = 0; i < n; i++) {
        items[i].name = names[i];
    }
    free(names);
    *out = items;
    *out_n = n;
    return sigil_ok();
}

static void log_failure(const char *name, sigil_result r)
{
    /* The detail names a field, a size or a path (public by the result.h contract). */
    SIGIL_LOG_WARN("keystore not loaded", SIGIL_LOG_STR("file", name), SIGIL_LOG_STR("error", sigil_strerror(r.code)),
                   SIGIL_LOG_STR("detail", sigil_error_detail()));
}

/* Decrypts one keystore (already read) with its password file. */
static sigil_result decrypt_one(struct item *it, const struct sigil_load_opts *o, const char *json, size_t len)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    char *pw = NULL;
    size_t pw_len = 0;
    struct sigil_eip2335_info info;
    SIGIL_GUARD_GOTO(sigil_keydir_read_password(&pw, &pw_len, o->passwords_dir, it->name));
    SIGIL_GUARD_GOTO(sigil_eip2335_decrypt(&it->sk, &info, json, len, pw, pw_len));
    if (info.has_pubkey) {
        memcpy(it->pk, info.pubkey, KEYS_PK_LEN); /* decrypt checked it against the key */
    } else {
        sigil_bls_pk pk;
        sigil_bls_sk_to_pk(&pk, it->sk);
        sigil_declassify(&pk, sizeof(pk));
        sigil_bls_pk_compress(it->pk, &pk);
    }
    ret = sigil_ok();
out:
    sigil_secure_free(pw);
    return ret;
}

static void process(struct job *job, struct item *it)
{
    const struct sigil_load_opts *o = job->opts;
    sigil_error_clear(); /* a detail left by an earlier item must not be logged for this one */
    char *json = NULL;
    size_t len = 0;
    char *path = sigil_keydir_join(o->keystores_dir, it->name, strlen(it->name), NULL);
    sigil_result r =
        path != NULL ? sigil_read_file(&json, &len, path, SIGIL_EIP2335_MAX_JSON) : sigil_error(SIGIL_ERR_NOMEM);
    if (sigil_is_ok(r)) {
        SHA256((const uint8_t *)json, len, it->sha);
        it->size = len;
        if (job->cache != NULL) {
            it->sk = sigil_secure_alloc(sizeof(*it->sk));
            if (it->sk == NULL) {
                r = sigil_error(SIGIL_ERR_NOMEM);
            } else if (keys_cache_lookup(job->cache, it->sha, it->size, it->pk, it->sk)) {
                it->from_cache = true;
            } else {
                sigil_secure_free(it->sk);
                it->sk = NULL;
            }
        }
        if (sigil_is_ok(r) && !it->from_cache) {
            r = decrypt_one(it, o, json, len);
        }
    }
    if (sigil_is_ok(r)) {
        it->state = ITEM_OK;
    } else {
        it->state = ITEM_FAILED;
        if (r.code == SIGIL_ERR_NOMEM) {
            atomic_store(&job->nomem, 1);
        }
        log_failure(it->name, r);
        sigil_secure_free(it->sk);
        it->sk = NULL;
    }
    free(json);
    free(path);
}

static void job_each(void *ctx, size_t i)
{
    struct job *job = ctx;
    process(job, &job->items[i]);
}

static void job_progress(void *ctx, size_t done, size_t total)
{
    const struct job *job = ctx;
    if (job->opts->progress != NULL) {
        job->opts->progress(done, total, job->opts->progress_ctx);
    }
}

/* Moves password-less items to the back and logs them; returns how many have a password. */
static size_t partition_by_password(struct item *items, size_t n, const char *passwords_dir)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = sigil_keydir_password_path(passwords_dir, items[i].name);
        bool has = p != NULL && sigil_keydir_is_regular(p);
        free(p);
        if (!has) {
            items[i].state = ITEM_NO_PASSWORD;
            SIGIL_LOG_WARN("keystore has no password file, skipped", SIGIL_LOG_STR("file", items[i].name));
            continue;
        }
        struct item t = items[w];
        items[w] = items[i];
        items[i] = t;
        w++;
    }
    return w;
}

/* Sets up key for the cache: the password (secure) or the KEK. False when the cache cannot be
 * used this time (already logged). */
static bool cache_key_init(struct keys_cache_key *key, char **pw, const struct sigil_load_opts *o)
{
    if (o->cache_kek != NULL) {
        key->kek_mode = true;
        memcpy(key->root, o->cache_kek, KEK_LEN);
        return true;
    }
    size_t len = 0;
    sigil_result r = sigil_keydir_read_password_file(pw, &len, o->cache_password_file);
    if (!sigil_is_ok(r)) {
        SIGIL_LOG_WARN("key cache password file cannot be read; loading without the cache",
                       SIGIL_LOG_STR("error", sigil_strerror(r.code)), SIGIL_LOG_STR("detail", sigil_error_detail()));
        return false;
    }
    if (len == 0) {
        SIGIL_LOG_WARN("key cache password is empty; loading without the cache", SIGIL_LOG_NONE);
        return false;
    }
    key->password = *pw;
    key->password_len = len;
    return true;
}

/* Rewrites the cache when the loaded set differs from what it held. */
static void cache_update(struct keys_cache_key *key, const struct sigil_load_opts *o, const struct item *items,
                         size_t n, size_t from_cache, size_t cache_count, bool cache_ok)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        ok += items[i].state == ITEM_OK;
    }
    if (cache_ok && from_cache == ok && cache_count == ok) {
        return;
    }
    struct keys_cache_entry *e = calloc(ok ? ok : 1, sizeof(*e));
    if (e == NULL) {
        SIGIL_LOG_WARN("key cache not written", SIGIL_LOG_STR("error", sigil_strerror(SIGIL_ERR_NOMEM)));
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].state == ITEM_OK) {
            memcpy(e[m].sha, items[i].sha, KEYS_SHA_LEN);
            e[m].size = items[i].size;
            memcpy(e[m].pk, items[i].pk, KEYS_PK_LEN);
            e[m].sk = items[i].sk;
            m++;
        }
    }
    sigil_result r = keys_cache_write(o->cache_path, key, e, m);
    free(e);
    if (sigil_is_ok(r)) {
        SIGIL_LOG_INFO("key cache written", SIGIL_LOG_STR("path", o->cache_path), SIGIL_LOG_UINT("keys", m));
    } else {
        SIGIL_LOG_WARN("key cache not written", SIGIL_LOG_STR("error", sigil_strerror(r.code)),
                       SIGIL_LOG_STR("detail", sigil_error_detail()));
    }
}

sigil_result sigil_keystore_load_dir(struct sigil_keystore *ks, const struct sigil_load_opts *opts,
                                     struct sigil_load_report *rep)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    double t0 = now_s();
    struct item *items = NULL;
    size_t n = 0;
    struct keys_cache_key *key = NULL;
    char *cache_pw = NULL;
    struct keys_cache *cache = NULL;
    struct keys_pending *pend = NULL;
    bool use_cache = false, cache_ok = false;
    struct sigil_load_report r = {0};
    if (rep != NULL) {
        memset(rep, 0, sizeof(*rep));
    }
    SIGIL_ENSURE_GOTO(ks != NULL && opts != NULL && opts->keystores_dir != NULL && opts->passwords_dir != NULL,
                      SIGIL_ERR_ARG);
    if (opts->cache_path != NULL && opts->cache_password_file == NULL && opts->cache_kek == NULL) {
        ret = sigil_errorf(SIGIL_ERR_ARG, "a key cache needs a password file or a key-encryption key");
        goto out;
    }
    SIGIL_GUARD_GOTO(scan(&items, &n, opts->keystores_dir));
    r.found = n;
    size_t todo = partition_by_password(items, n, opts->passwords_dir);

    if (opts->cache_path != NULL) {
        key = sigil_secure_alloc(sizeof(*key));
        SIGIL_ENSURE_GOTO(key != NULL, SIGIL_ERR_NOMEM);
        use_cache = cache_key_init(key, &cache_pw, opts);
    }
    if (use_cache) {
        enum keys_cache_status st = keys_cache_open(&cache, opts->cache_path, key);
        cache_ok = st == KEYS_CACHE_OK;
        if (st == KEYS_CACHE_NOMEM) {
            ret = sigil_error(SIGIL_ERR_NOMEM);
            goto out;
        }
        if (!cache_ok && st != KEYS_CACHE_ABSENT) {
            SIGIL_LOG_WARN("key cache ignored; decrypting keystores", SIGIL_LOG_STR("path", opts->cache_path),
                           SIGIL_LOG_STR("reason", keys_cache_status_str(st)));
        }
    }

    SIGIL_LOG_INFO("loading keys", SIGIL_LOG_UINT("keystores", n), SIGIL_LOG_UINT("with_password", todo),
                   SIGIL_LOG_UINT("cached", keys_cache_count(cache)));
    struct job job = {.opts = opts, .cache = cache, .items = items};
    if (todo > 0) {
        sigil_keydir_fan_out(todo, opts->threads, job_each, job_progress, &job, "loading keys");
    }
    if (atomic_load(&job.nomem)) {
        ret = sigil_error(SIGIL_ERR_NOMEM);
        goto out;
    }
    size_t cache_count = keys_cache_count(cache);
    keys_cache_close(cache); /* the secrets it held are in the items now */
    cache = NULL;

    size_t ok = 0;
    for (size_t i = 0; i < todo; i++) {
        ok += items[i].state == ITEM_OK;
        r.from_cache += items[i].from_cache;
    }
    if (use_cache) {
        cache_update(key, opts, items, todo, r.from_cache, cache_count, cache_ok);
    }

    pend = calloc(ok ? ok : 1, sizeof(*pend));
    SIGIL_ENSURE_GOTO(pend != NULL, SIGIL_ERR_NOMEM);
    size_t m = 0;
    for (size_t i = 0; i < todo; i++) {
        if (items[i].state == ITEM_OK) {
            memcpy(pend[m].pk, items[i].pk, KEYS_PK_LEN);
            pend[m].sk = items[i].sk;
            pend[m].name = items[i].name;
            items[i].sk = NULL;
            items[i].name = NULL;
            m++;
        }
    }
    ret = keys_store_insert_batch(ks, pend, m);
    for (size_t i = 0; i < m; i++) {
        if (pend[i].status == KEYS_PENDING_DUP_BATCH) {
            SIGIL_LOG_WARN("keystore not loaded", SIGIL_LOG_STR("file", pend[i].name),
                           SIGIL_LOG_STR("error", sigil_strerror(SIGIL_ERR_CONFLICT)),
                           SIGIL_LOG_STR("detail", "the same key is in another keystore file"));
            r.failed++;
        } else {
            r.loaded++;
        }
        sigil_secure_free(pend[i].sk);
        free(pend[i].name);
    }
    if (!sigil_is_ok(ret)) {
        goto out;
    }
    for (size_t i = 0; i < todo; i++) {
        r.failed += items[i].state == ITEM_FAILED;
    }
    r.seconds = now_s() - t0;
    SIGIL_LOG_INFO("keys loaded", SIGIL_LOG_UINT("found", r.found), SIGIL_LOG_UINT("loaded", r.loaded),
                   SIGIL_LOG_UINT("from_cache", r.from_cache), SIGIL_LOG_UINT("failed", r.failed),
                   SIGIL_LOG_UINT("skipped", r.found - r.loaded - r.failed), SIGIL_LOG_DBL("seconds", r.seconds));
    if (rep != NULL) {
        *rep = r;
    }
out:
    free(pend);
    keys_cache_close(cache);
    sigil_secure_free(key);
    sigil_secure_free(cache_pw);
    items_free(items, n);
    return ret;
}
