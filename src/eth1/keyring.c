/* The eth1 key ring: an open-addressing hash table from address to key (addresses are keccak
 * output, so their first bytes are already a uniform hash), behind a rwlock. Public data (address,
 * public key) sits in the ordinary heap; each secret key stays in its own secure allocation. */
#include "eth1/keyring.h"

#include <pthread.h>
#include <secp256k1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/io.h"
#include "common/keydir.h"
#include "common/log.h"
#include "common/secmem.h"

struct entry {
    uint8_t address[20];
    uint8_t pubkey[SIGIL_SECP256K1_PUB_LEN];
    sigil_secp256k1_sk *sk;
};

struct sigil_eth1_keyring {
    pthread_rwlock_t lock;
    struct entry **slots; /* cap slots, NULL = empty; cap a power of two, count <= cap / 2 */
    size_t cap;
    size_t count;
    size_t max_keys; /* SIGIL_ETH1_MAX_KEYS unless lowered */
};

static size_t slot_hash(const uint8_t addr[20])
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++) {
        h = (h << 8) | addr[i];
    }
    return (size_t)h;
}

/* Index of addr's slot, or of the empty slot where it would go. Caller holds the lock. */
static size_t find_slot(struct entry *const *slots, size_t cap, const uint8_t addr[20])
{
    size_t i = slot_hash(addr) & (cap - 1);
    while (slots[i] != NULL && memcmp(slots[i]->address, addr, 20) != 0) {
        i = (i + 1) & (cap - 1);
    }
    return i;
}

static struct entry *lookup(const struct sigil_eth1_keyring *kr, const uint8_t addr[20])
{
    if (kr->cap == 0) {
        return NULL;
    }
    return kr->slots[find_slot(kr->slots, kr->cap, addr)];
}

sigil_result sigil_eth1_keyring_new(struct sigil_eth1_keyring **out)
{
    struct sigil_eth1_keyring *kr = calloc(1, sizeof *kr);
    SIGIL_ENSURE(kr != NULL, SIGIL_ERR_NOMEM);
    if (pthread_rwlock_init(&kr->lock, NULL) != 0) {
        free(kr);
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    kr->max_keys = SIGIL_ETH1_MAX_KEYS;
    *out = kr;
    return sigil_ok();
}

void sigil_eth1_keyring_free(struct sigil_eth1_keyring *kr)
{
    if (kr == NULL) {
        return;
    }
    for (size_t i = 0; i < kr->cap; i++) {
        if (kr->slots[i] != NULL) {
            sigil_secp256k1_sk_free(kr->slots[i]->sk);
            free(kr->slots[i]);
        }
    }
    free(kr->slots);
    pthread_rwlock_destroy(&kr->lock);
    free(kr);
}

/* Doubles the table (or creates it). Caller holds the write lock. */
static sigil_result grow(struct sigil_eth1_keyring *kr)
{
    size_t ncap = kr->cap ? kr->cap * 2 : 64;
    struct entry **ns = calloc(ncap, sizeof(struct entry *));
    SIGIL_ENSURE(ns != NULL, SIGIL_ERR_NOMEM);
    for (size_t i = 0; i < kr->cap; i++) {
        if (kr->slots[i] != NULL) {
            ns[find_slot(ns, ncap, kr->slots[i]->address)] = kr->slots[i];
        }
    }
    free(kr->slots);
    kr->slots = ns;
    kr->cap = ncap;
    return sigil_ok();
}

sigil_result sigil_eth1_keyring_add(struct sigil_eth1_keyring *kr, sigil_secp256k1_sk *sk, uint8_t addr_out[20])
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    struct entry *e = calloc(1, sizeof *e);
    if (e == NULL) {
        sigil_secp256k1_sk_free(sk);
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    e->sk = sk;
    /* Derived outside the lock: the public key costs a scalar multiplication. */
    SIGIL_GUARD_GOTO(sigil_secp256k1_pubkey(e->pubkey, sk));
    sigil_eth1_pubkey_to_address(e->address, e->pubkey);
    if (addr_out != NULL) {
        memcpy(addr_out, e->address, 20);
    }
    pthread_rwlock_wrlock(&kr->lock);
    if (lookup(kr, e->address) != NULL) {
        ret = sigil_errorf(SIGIL_ERR_CONFLICT, "the key ring already holds this address");
    } else if (kr->count >= kr->max_keys) {
        ret = sigil_errorf(SIGIL_ERR_TOO_LARGE, "the key ring holds at most %zu keys", kr->max_keys);
    } else if ((kr->count + 1) * 2 > kr->cap && !sigil_is_ok(ret = grow(kr))) {
        /* ret carries the error */
    } else {
        kr->slots[find_slot(kr->slots, kr->cap, e->address)] = e;
        kr->count++;
        e = NULL;
        ret = sigil_ok();
    }
    pthread_rwlock_unlock(&kr->lock);
out:
    if (e != NULL) {
        sigil_secp256k1_sk_free(e->sk);
        free(e);
    }
    return ret;
}

void sigil_eth1_keyring_set_max_keys(struct sigil_eth1_keyring *kr, size_t max_keys)
{
    pthread_rwlock_wrlock(&kr->lock);
    kr->max_keys = max_keys < SIGIL_ETH1_MAX_KEYS ? max_keys : SIGIL_ETH1_MAX_KEYS;
    pthread_rwlock_unlock(&kr->lock);
}

size_t sigil_eth1_keyring_count(const struct sigil_eth1_keyring *kr)
{
    struct sigil_eth1_keyring *k = (struct sigil_eth1_keyring *)kr; /* the lock is not part of the value */
    pthread_rwlock_rdlock(&k->lock);
    size_t n = k->count;
    pthread_rwlock_unlock(&k->lock);
    return n;
}

bool sigil_eth1_keyring_has(const struct sigil_eth1_keyring *kr, const uint8_t addr[20])
{
    struct sigil_eth1_keyring *k = (struct sigil_eth1_keyring *)kr;
    pthread_rwlock_rdlock(&k->lock);
    bool found = lookup(k, addr) != NULL;
    pthread_rwlock_unlock(&k->lock);
    return found;
}

sigil_result sigil_eth1_keyring_resolve(const struct sigil_eth1_keyring *kr, const char *identifier,
                                        uint8_t addr_out[20])
{
    size_t len = identifier != NULL ? strnlen(identifier, 200) : 0;
    if (len >= 2 && identifier[0] == '0' && (identifier[1] == 'x' || identifier[1] == 'X')) {
        identifier += 2;
        len -= 2;
    }
    uint8_t raw[SIGIL_SECP256K1_PUB_LEN];
    uint8_t pub[SIGIL_SECP256K1_PUB_LEN];
    size_t n = len / 2;
    bool want_pub = true;
    if (len % 2 != 0 || (n != 20 && n != 33 && n != 64 && n != 65) ||
        !sigil_is_ok(sigil_hex_decode_exact(raw, n, identifier, len))) {
        return sigil_errorf(SIGIL_ERR_PARSE,
                            "identifier: expected a 0x address (20 bytes) or a secp256k1 public key (33, 64 or 65 "
                            "bytes) in hex");
    }
    if (n == 20) {
        memcpy(addr_out, raw, 20);
        want_pub = false;
    } else if (n == 64 || n == 65) {
        if (n == 65 && raw[0] != 0x04) {
            return sigil_errorf(SIGIL_ERR_PARSE, "identifier: a 65-byte public key must start with 0x04");
        }
        pub[0] = 0x04;
        memcpy(pub + 1, n == 65 ? raw + 1 : raw, 64);
    } else {
        secp256k1_pubkey pk;
        size_t outlen = sizeof pub;
        if (secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, raw, 33) != 1 ||
            secp256k1_ec_pubkey_serialize(secp256k1_context_static, pub, &outlen, &pk, SECP256K1_EC_UNCOMPRESSED) !=
                1) {
            return sigil_errorf(SIGIL_ERR_PARSE, "identifier: not a point on secp256k1");
        }
    }
    if (want_pub) {
        sigil_eth1_pubkey_to_address(addr_out, pub);
    }
    struct sigil_eth1_keyring *k = (struct sigil_eth1_keyring *)kr;
    pthread_rwlock_rdlock(&k->lock);
    const struct entry *e = lookup(k, addr_out);
    /* An address match from a public key must be that very key (not just one hashing alike). */
    bool found = e != NULL && (!want_pub || memcmp(e->pubkey, pub, sizeof pub) == 0);
    pthread_rwlock_unlock(&k->lock);
    if (!found) {
        return sigil_errorf(SIGIL_ERR_NOT_FOUND, "no eth1 key for this identifier");
    }
    return sigil_ok();
}

sigil_result sigil_eth1_keyring_with_key(struct sigil_eth1_keyring *kr, const uint8_t addr[20],
                                         sigil_result (*fn)(void *ctx, const sigil_secp256k1_sk *sk), void *ctx)
{
    pthread_rwlock_rdlock(&kr->lock);
    const struct entry *e = lookup(kr, addr);
    sigil_result r = e != NULL ? fn(ctx, e->sk) : sigil_errorf(SIGIL_ERR_NOT_FOUND, "no eth1 key for this address");
    pthread_rwlock_unlock(&kr->lock);
    return r;
}

struct sign_ctx {
    const uint8_t *digest;
    struct sigil_secp256k1_sig *sig;
};

static sigil_result sign_cb(void *ctx, const sigil_secp256k1_sk *sk)
{
    struct sign_ctx *c = ctx;
    return sigil_secp256k1_sign(c->sig, sk, c->digest);
}

sigil_result sigil_eth1_keyring_sign(struct sigil_eth1_keyring *kr, const uint8_t addr[20], const uint8_t digest[32],
                                     struct sigil_secp256k1_sig *sig)
{
    struct sign_ctx c = {.digest = digest, .sig = sig};
    return sigil_eth1_keyring_with_key(kr, addr, sign_cb, &c);
}

static int cmp_info(const void *a, const void *b)
{
    return memcmp(((const struct sigil_eth1_key_info *)a)->address, ((const struct sigil_eth1_key_info *)b)->address,
                  20);
}

sigil_result sigil_eth1_keyring_list(const struct sigil_eth1_keyring *kr, struct sigil_eth1_key_info **out, size_t *n)
{
    struct sigil_eth1_keyring *k = (struct sigil_eth1_keyring *)kr;
    pthread_rwlock_rdlock(&k->lock);
    struct sigil_eth1_key_info *v = calloc(k->count ? k->count : 1, sizeof *v);
    size_t got = 0;
    for (size_t i = 0; v != NULL && i < k->cap; i++) {
        if (k->slots[i] != NULL) {
            memcpy(v[got].address, k->slots[i]->address, 20);
            memcpy(v[got].pubkey, k->slots[i]->pubkey, SIGIL_SECP256K1_PUB_LEN);
            got++;
        }
    }
    pthread_rwlock_unlock(&k->lock);
    SIGIL_ENSURE(v != NULL, SIGIL_ERR_NOMEM);
    if (got > 1) {
        qsort(v, got, sizeof *v, cmp_info);
    }
    *out = v;
    *n = got;
    return sigil_ok();
}

/* ---------------------------------------------------------------- loading a directory */

enum item_state { ITEM_TODO, ITEM_NO_PASSWORD, ITEM_OK, ITEM_FAILED };

/* The state of names[i] (the sigil_keydir_scan array, which stays in name order beside it). */
struct item {
    enum item_state state;
    enum sigil_err err;
    char detail[160];
    sigil_secp256k1_sk *sk;
};

struct load_job {
    const char *ks_dir;
    const char *pw_dir;
    char **names;
    struct item *items;
};

static void item_fail(struct item *it, sigil_result r)
{
    it->state = ITEM_FAILED;
    it->err = r.code;
    /* The detail names a field or a path (public by the result.h contract), never a password. */
    snprintf(it->detail, sizeof it->detail, "%s",
             sigil_error_detail()[0] ? sigil_error_detail() : sigil_strerror(r.code));
}

static void load_one(struct load_job *job, const char *name, struct item *it)
{
    char *ks_path = sigil_keydir_join(job->ks_dir, name, strlen(name), NULL);
    char *json = NULL;
    char *pw = NULL;
    size_t json_len = 0;
    size_t pw_len = 0;
    sigil_error_clear();
    sigil_result r = sigil_keydir_read_password(&pw, &pw_len, job->pw_dir, name);
    if (r.code == SIGIL_ERR_NOT_FOUND) {
        size_t base = strlen(name) - strlen(SIGIL_KEYDIR_JSON_SUFFIX);
        it->state = ITEM_NO_PASSWORD;
        it->err = SIGIL_ERR_KEYSTORE_FORMAT;
        snprintf(it->detail, sizeof it->detail, "no password file %.*s%s", (int)base, name,
                 SIGIL_KEYDIR_PASSWORD_SUFFIX);
        goto out;
    }
    if (sigil_is_ok(r)) {
        r = ks_path != NULL ? sigil_read_file(&json, &json_len, ks_path, SIGIL_ETH1_KEYSTORE_MAX)
                            : sigil_error(SIGIL_ERR_NOMEM);
    }
    if (sigil_is_ok(r)) {
        r = sigil_eth1_keystore_decrypt(&it->sk, json, json_len, pw, pw_len);
    }
    if (!sigil_is_ok(r)) {
        item_fail(it, r);
        goto out;
    }
    it->state = ITEM_OK;
out:
    sigil_secure_free(pw);
    free(json);
    free(ks_path);
}

static void load_each(void *ctx, size_t i)
{
    struct load_job *job = ctx;
    load_one(job, job->names[i], &job->items[i]);
}

/* Moves the decrypted keys into the ring and fills rep; returns the first failure's code. */
static enum sigil_err add_loaded(struct sigil_eth1_keyring *kr, char **names, struct item *items, size_t n,
                                 struct sigil_eth1_load_report *rep)
{
    enum sigil_err first_err = SIGIL_OK;
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        if (it->state == ITEM_OK) {
            sigil_secp256k1_sk *sk = it->sk;
            it->sk = NULL;
            sigil_error_clear();
            sigil_result r = sigil_eth1_keyring_add(kr, sk, NULL);
            if (sigil_is_ok(r)) {
                rep->loaded++;
                continue;
            }
            item_fail(it, r);
            if (r.code == SIGIL_ERR_CONFLICT) {
                snprintf(it->detail, sizeof it->detail, "%s", "the same key is already loaded from another file");
            }
        }
        rep->failed++;
        SIGIL_LOG_WARN("eth1 keystore not loaded", SIGIL_LOG_STR("file", names[i]),
                       SIGIL_LOG_STR("error", sigil_strerror(it->err)), SIGIL_LOG_STR("detail", it->detail));
        if (first_err == SIGIL_OK) {
            first_err = it->err;
            snprintf(rep->first_error, sizeof rep->first_error, "%s: %s", names[i], it->detail);
        }
    }
    return first_err;
}

sigil_result sigil_eth1_keyring_load_dir(struct sigil_eth1_keyring *kr, const char *keystores_dir,
                                         const char *passwords_dir, unsigned threads,
                                         struct sigil_eth1_load_report *rep)
{
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    memset(rep, 0, sizeof *rep);
    char **names = NULL;
    struct item *items = NULL;
    size_t n = 0;
    SIGIL_GUARD(sigil_keydir_scan(&names, &n, keystores_dir, "eth1 keystores"));
    /* Refused before any decryption: each one may cost a scrypt of up to 1 GiB. */
    pthread_rwlock_rdlock(&kr->lock);
    size_t have = kr->count;
    size_t max = kr->max_keys;
    pthread_rwlock_unlock(&kr->lock);
    if (have > max || n > max - have) {
        ret = sigil_errorf(SIGIL_ERR_TOO_LARGE,
                           "%s holds %zu eth1 keystores, more than the key ring can take (at most %zu keys, %zu "
                           "already loaded); nothing was decrypted",
                           keystores_dir, n, max, have);
        goto out;
    }
    items = calloc(n ? n : 1, sizeof *items);
    SIGIL_ENSURE_GOTO(items != NULL, SIGIL_ERR_NOMEM);
    struct load_job job = {.ks_dir = keystores_dir, .pw_dir = passwords_dir, .names = names, .items = items};
    sigil_keydir_fan_out(n, threads, load_each, NULL, &job, "loading eth1 keystores");
    enum sigil_err code = add_loaded(kr, names, items, n, rep);
    if (n > 0 && rep->loaded == 0) {
        if (code != SIGIL_ERR_KEYSTORE_FORMAT && code != SIGIL_ERR_KEYSTORE_PASSWORD &&
            code != SIGIL_ERR_KEYSTORE_PUBKEY) {
            code = SIGIL_ERR_KEYSTORE_FORMAT;
        }
        ret = sigil_errorf(code, "no eth1 keystore in %s could be loaded (%s)", keystores_dir, rep->first_error);
        goto out;
    }
    ret = sigil_ok();
out:
    for (size_t i = 0; items != NULL && i < n; i++) {
        sigil_secp256k1_sk_free(items[i].sk);
    }
    free(items);
    sigil_keydir_names_free(names, n);
    return ret;
}
