/* The key store: a pubkey-sorted array of small entries on the plain heap (public data) whose
 * secrets are separate 32-byte objects in the secure allocator's arenas. For 10,000 keys that is
 * about 0.7 MB of entries and names plus 0.6 MB of locked arena space. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/secmem.h"
#include "keys/internal.h"
#include "keys/keystore.h"
#include "keys/msg_cache.h"

/* Message points kept for signing one root with many keys (keys/msg_cache.h). A slot's
 * attestations, selection proofs and sync-committee messages are a handful of roots at a time;
 * the default 1024 entries (about 330 KiB) leave room for many slots and forks in flight. */
_Static_assert(SIGIL_KEYSTORE_MSG_CACHE_MAX <= 65536, "keys/msg_cache.h takes at most 65536 entries");

struct entry {
    uint8_t pk[KEYS_PK_LEN];
    bool enabled;
    sigil_bls_sk *sk; /* secure memory */
    char *name;       /* plain heap */
};

struct sigil_keystore {
    pthread_rwlock_t lock;
    struct entry *e; /* sorted by pk, no duplicates */
    size_t n, cap;
    struct sigil_msg_cache *mc;
};

/* The lock is state, not contents: readers that take a const store still lock it. */
static pthread_rwlock_t *lock_of(const struct sigil_keystore *ks) { return (pthread_rwlock_t *)&ks->lock; }

static void rdlock(const struct sigil_keystore *ks) { (void)pthread_rwlock_rdlock(lock_of(ks)); }
static void wrlock(struct sigil_keystore *ks) { (void)pthread_rwlock_wrlock(&ks->lock); }
static void unlock(const struct sigil_keystore *ks) { (void)pthread_rwlock_unlock(lock_of(ks)); }

sigil_result sigil_keystore_new(struct sigil_keystore **out)
{
    *out = NULL;
    struct sigil_keystore *ks = calloc(1, sizeof(*ks));
    if (ks == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr) != 0) {
        free(ks);
        return sigil_error(SIGIL_ERR_INTERNAL);
    }
    /* glibc prefers readers by default; with validators signing all the time a keymanager
     * import could then wait forever. */
    (void)pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&ks->lock, &attr);
    (void)pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        free(ks);
        return sigil_error(SIGIL_ERR_INTERNAL);
    }
    sigil_result r = sigil_msg_cache_new(&ks->mc, SIGIL_KEYSTORE_MSG_CACHE_DEFAULT);
    if (!sigil_is_ok(r)) {
        (void)pthread_rwlock_destroy(&ks->lock);
        free(ks);
        return r;
    }
    *out = ks;
    return sigil_ok();
}

static void entry_free(struct entry *e)
{
    sigil_secure_free(e->sk);
    free(e->name);
    e->sk = NULL;
    e->name = NULL;
}

void sigil_keystore_free(struct sigil_keystore *ks)
{
    if (ks == NULL) {
        return;
    }
    for (size_t i = 0; i < ks->n; i++) {
        entry_free(&ks->e[i]);
    }
    free(ks->e);
    sigil_msg_cache_free(ks->mc);
    (void)pthread_rwlock_destroy(&ks->lock);
    free(ks);
}

size_t sigil_keystore_count(const struct sigil_keystore *ks)
{
    rdlock(ks);
    size_t n = ks->n;
    unlock(ks);
    return n;
}

/* Index of pk, or (when absent) ~insertion point. Public data: memcmp is fine. */
static size_t find(const struct sigil_keystore *ks, const uint8_t pk[KEYS_PK_LEN], bool *found)
{
    size_t lo = 0, hi = ks->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(ks->e[mid].pk, pk, KEYS_PK_LEN);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

static bool reserve(struct sigil_keystore *ks, size_t need)
{
    if (need <= ks->cap) {
        return true;
    }
    size_t cap = ks->cap ? ks->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    struct entry *ne = realloc(ks->e, cap * sizeof(*ne));
    if (ne == NULL) {
        return false;
    }
    ks->e = ne;
    ks->cap = cap;
    return true;
}

sigil_result sigil_keystore_add(struct sigil_keystore *ks, const sigil_bls_sk *sk, const uint8_t *pubkey_or_null,
                                const char *name)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    sigil_bls_sk *copy = NULL;
    char *label = NULL;
    uint8_t pk[KEYS_PK_LEN];
    SIGIL_ENSURE_GOTO(ks != NULL && sk != NULL, SIGIL_ERR_ARG);
    int zero = sigil_bls_sk_is_zero(sk);
    sigil_declassify(&zero, sizeof(zero)); /* refusing a zero key reveals only that */
    if (zero) {
        ret = sigil_errorf(SIGIL_ERR_BLS_SCALAR, "secret key is zero");
        goto out;
    }
    copy = sigil_secure_alloc(sizeof(*copy));
    label = strdup(name != NULL ? name : "");
    SIGIL_ENSURE_GOTO(copy != NULL && label != NULL, SIGIL_ERR_NOMEM);
    *copy = *sk;

    sigil_bls_pk point;
    sigil_bls_sk_to_pk(&point, copy);
    sigil_declassify(&point, sizeof(point)); /* a public key is public */
    sigil_bls_pk_compress(pk, &point);
    if (pubkey_or_null != NULL && memcmp(pk, pubkey_or_null, KEYS_PK_LEN) != 0) {
        ret = sigil_errorf(SIGIL_ERR_KEYSTORE_PUBKEY, "the given public key is not the secret key's");
        goto out;
    }

    wrlock(ks);
    bool found;
    size_t at = find(ks, pk, &found);
    if (found) {
        unlock(ks);
        ret = sigil_errorf(SIGIL_ERR_CONFLICT, "key is already loaded");
        goto out;
    }
    if (!reserve(ks, ks->n + 1)) {
        unlock(ks);
        ret = sigil_error(SIGIL_ERR_NOMEM);
        goto out;
    }
    memmove(&ks->e[at + 1], &ks->e[at], (ks->n - at) * sizeof(ks->e[0]));
    ks->e[at] = (struct entry){.enabled = true, .sk = copy, .name = label};
    memcpy(ks->e[at].pk, pk, KEYS_PK_LEN);
    ks->n++;
    unlock(ks);
    copy = NULL;
    label = NULL;
    ret = sigil_ok();
out:
    sigil_secure_free(copy);
    free(label);
    return ret;
}

sigil_result sigil_keystore_remove(struct sigil_keystore *ks, const uint8_t pubkey[48])
{
    SIGIL_ENSURE(ks != NULL && pubkey != NULL, SIGIL_ERR_ARG);
    wrlock(ks);
    bool found;
    size_t at = find(ks, pubkey, &found);
    if (!found) {
        unlock(ks);
        return sigil_error(SIGIL_ERR_NOT_FOUND);
    }
    entry_free(&ks->e[at]);
    memmove(&ks->e[at], &ks->e[at + 1], (ks->n - at - 1) * sizeof(ks->e[0]));
    ks->n--;
    unlock(ks);
    return sigil_ok();
}

bool sigil_keystore_has(const struct sigil_keystore *ks, const uint8_t pubkey[48])
{
    if (ks == NULL || pubkey == NULL) {
        return false;
    }
    rdlock(ks);
    bool found;
    (void)find(ks, pubkey, &found);
    unlock(ks);
    return found;
}

sigil_result sigil_keystore_set_enabled(struct sigil_keystore *ks, const uint8_t pubkey[48], bool enabled)
{
    SIGIL_ENSURE(ks != NULL && pubkey != NULL, SIGIL_ERR_ARG);
    wrlock(ks);
    bool found;
    size_t at = find(ks, pubkey, &found);
    if (found) {
        ks->e[at].enabled = enabled;
    }
    unlock(ks);
    return found ? sigil_ok() : sigil_error(SIGIL_ERR_NOT_FOUND);
}

sigil_result sigil_keystore_sign(struct sigil_keystore *ks, const uint8_t pubkey[48], const uint8_t *msg, size_t len,
                                 uint8_t sig_out[96])
{
    SIGIL_ENSURE(ks != NULL && pubkey != NULL && sig_out != NULL && (msg != NULL || len == 0), SIGIL_ERR_ARG);
    sigil_bls_sig sig;
    sigil_bls_msg_point h;
    /* Signing under the shared lock keeps the secret in place (no copy to wipe) and lets any
     * number of signers run at once; remove waits for them before wiping. */
    rdlock(ks);
    bool found;
    size_t at = find(ks, pubkey, &found);
    if (!found) {
        unlock(ks);
        return sigil_error(SIGIL_ERR_NOT_FOUND);
    }
    if (!ks->e[at].enabled) {
        unlock(ks);
        return sigil_error(SIGIL_ERR_KEY_DISABLED);
    }
    /* Signing roots (32 bytes) go through the message-point cache shared by all keys. */
    if (len == 32 && ks->mc != NULL) {
        sigil_msg_cache_hash(ks->mc, &h, msg);
    } else {
        sigil_bls_hash_msg(&h, msg != NULL ? msg : (const uint8_t *)"", len);
    }
    sigil_bls_sign_hashed(&sig, ks->e[at].sk, &h);
    unlock(ks);
    sigil_declassify(&sig, sizeof(sig)); /* the signature is the published output */
    sigil_bls_sig_compress(sig_out, &sig);
    return sigil_ok();
}

sigil_result sigil_keystore_set_msg_cache(struct sigil_keystore *ks, size_t entries)
{
    SIGIL_ENSURE(ks != NULL && entries <= SIGIL_KEYSTORE_MSG_CACHE_MAX, SIGIL_ERR_ARG);
    struct sigil_msg_cache *mc = NULL;
    if (entries > 0) {
        SIGIL_GUARD(sigil_msg_cache_new(&mc, entries));
    }
    wrlock(ks); /* signers use the cache under the shared lock */
    struct sigil_msg_cache *old = ks->mc;
    ks->mc = mc;
    unlock(ks);
    sigil_msg_cache_free(old);
    return sigil_ok();
}

void sigil_keystore_msg_cache_stats(const struct sigil_keystore *ks, uint64_t *hits, uint64_t *misses)
{
    *hits = *misses = 0;
    rdlock(ks);
    if (ks->mc != NULL) {
        sigil_msg_cache_stats(ks->mc, hits, misses);
    }
    unlock(ks);
}

sigil_result sigil_keystore_list(const struct sigil_keystore *ks, struct sigil_key_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    SIGIL_ENSURE(ks != NULL, SIGIL_ERR_ARG);
    rdlock(ks);
    size_t cnt = ks->n;
    struct sigil_key_info *info = NULL;
    if (cnt > 0) {
        info = calloc(cnt, sizeof(*info));
        if (info == NULL) {
            unlock(ks);
            return sigil_error(SIGIL_ERR_NOMEM);
        }
    }
    for (size_t i = 0; i < cnt; i++) {
        memcpy(info[i].pubkey, ks->e[i].pk, KEYS_PK_LEN);
        info[i].enabled = ks->e[i].enabled;
        size_t l = strlen(ks->e[i].name);
        if (l >= sizeof(info[i].name)) {
            l = sizeof(info[i].name) - 1;
        }
        memcpy(info[i].name, ks->e[i].name, l);
        info[i].name[l] = '\0';
    }
    unlock(ks);
    *out = info;
    *n = cnt;
    return sigil_ok();
}

/* By pubkey, then by name, so which of two files holding the same key wins does not depend on
 * qsort's (unstable) order. */
static int cmp_pending(const void *a, const void *b)
{
    const struct keys_pending *x = a, *y = b;
    int c = memcmp(x->pk, y->pk, KEYS_PK_LEN);
    if (c != 0) {
        return c;
    }
    return strcmp(x->name != NULL ? x->name : "", y->name != NULL ? y->name : "");
}

sigil_result keys_store_insert_batch(struct sigil_keystore *ks, struct keys_pending *p, size_t n)
{
    if (n == 0) {
        return sigil_ok();
    }
    qsort(p, n, sizeof(*p), cmp_pending);
    wrlock(ks);
    size_t add = 0;
    for (size_t i = 0; i < n; i++) {
        bool found;
        (void)find(ks, p[i].pk, &found);
        if (found) {
            p[i].status = KEYS_PENDING_PRESENT;
        } else if (i > 0 && memcmp(p[i].pk, p[i - 1].pk, KEYS_PK_LEN) == 0) {
            p[i].status = KEYS_PENDING_DUP_BATCH;
        } else {
            p[i].status = KEYS_PENDING_ADDED;
            add++;
        }
    }
    if (!reserve(ks, ks->n + add)) {
        unlock(ks);
        for (size_t i = 0; i < n; i++) {
            p[i].status = KEYS_PENDING_PRESENT;
        }
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    /* Merge from the back so existing entries move at most once. */
    size_t i = ks->n, j = n, w = ks->n + add;
    while (j > 0) {
        struct keys_pending *q = &p[j - 1];
        if (q->status != KEYS_PENDING_ADDED) {
            j--;
            continue;
        }
        if (i > 0 && memcmp(ks->e[i - 1].pk, q->pk, KEYS_PK_LEN) > 0) {
            ks->e[--w] = ks->e[--i];
            continue;
        }
        struct entry *e = &ks->e[--w];
        memcpy(e->pk, q->pk, KEYS_PK_LEN);
        e->enabled = true;
        e->sk = q->sk;
        e->name = q->name;
        q->sk = NULL;
        q->name = NULL;
        j--;
    }
    ks->n += add;
    unlock(ks);
    return sigil_ok();
}
