/* The wallet spend ledger: the shared state behind the policy engine's rolling spend windows,
 * kept in the slashing-protection database so that every sigild instance sharing it sees one
 * ledger.
 *
 * A reservation is one transaction through the store's ordinary path (the SQLite writer thread
 * and its group commit; a PostgreSQL pool connection): on PostgreSQL it first takes the
 * transaction-scoped advisory lock (SLASH_LOCK_SPEND, a hash of the account), so
 * reservations for one account are serialised across processes, and under READ COMMITTED every
 * statement after the lock sees the rows the previous holder committed. SQLite serialises
 * everything through its single writer (and BEGIN IMMEDIATE across processes).
 *
 * A window's sum is exact without reading every row of it: spend_totals holds, per account, the
 * sum of each hour (bucket = floor(time / 3600)), updated in the same transaction as each ledger
 * row. A window starting at lo sums the totals of the buckets starting at or after lo (every row
 * in them is >= lo, including rows stamped after now) plus the ledger rows in [lo, end of lo's
 * hour] read through the (account, time, amount) index. So a reservation reads at most one row per
 * hour of its widest window plus the rows of one partial hour per window, whatever the account's
 * volume. The sums are done here in saturating 256-bit arithmetic (a saturated sum is over any
 * limit, and saturating sums of sums equal the saturating sum of the rows); a refusal writes
 * nothing, so it may share a group commit with other requests. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "policy/wei.h"
#include "slashing/internal.h"
#include "slashing/slashing.h"

#define LEDGER_MAX_WINDOW_S (366u * 86400u)
#define LEDGER_BUCKET_S     3600u

struct spend_arg {
    const uint8_t *account, *digest, *amount;
    uint64_t now;
    const struct sigil_spend_window *w;
    size_t n;
    uint64_t lo[SIGIL_POLICY_MAX_WINDOWS];    /* first second inside each window */
    uint64_t first[SIGIL_POLICY_MAX_WINDOWS]; /* first bucket wholly inside each window */
    pw_t sum[SIGIL_POLICY_MAX_WINDOWS];
    pw_t cur;      /* the total of now's bucket, when have_cur */
    bool have_cur; /* cur is known: read, or known to be absent (zero) */
    size_t refused;
    bool repeat;
};

static uint64_t window_start(uint64_t now, uint64_t window_s) { return now >= window_s ? now - window_s + 1 : 0; }

static uint64_t first_full_bucket(uint64_t lo) { return lo / LEDGER_BUCKET_S + (lo % LEDGER_BUCKET_S != 0 ? 1 : 0); }

/* Row of S_SPEND_BUCKETS / S_SPEND_TOTAL_GET: (bucket, total). */
static sigil_result bucket_cb(void *ud, const struct slash_val *c, int n)
{
    struct spend_arg *a = ud;
    if (n < 2 || c[0].t != SV_INT || c[1].t != SV_BLOB || c[1].n != 32) {
        return sigil_errorf(SIGIL_ERR_DB, "malformed spend_totals row");
    }
    uint64_t b = slash_dec(c[0].i);
    pw_t v = pw_from_be(c[1].b);
    for (size_t i = 0; i < a->n; i++) {
        if (b >= a->first[i]) {
            a->sum[i] = pw_add_sat(a->sum[i], v);
        }
    }
    if (b == a->now / LEDGER_BUCKET_S) {
        a->cur = v;
    }
    return sigil_ok();
}

/* Row of S_SPEND_RANGE: (time, amount), added to the one sum ud points to. */
static sigil_result range_cb(void *ud, const struct slash_val *c, int n)
{
    if (n < 2 || c[0].t != SV_INT || c[1].t != SV_BLOB || c[1].n != 32) {
        return sigil_errorf(SIGIL_ERR_DB, "malformed spend_ledger row");
    }
    pw_t *sum = ud;
    *sum = pw_add_sat(*sum, pw_from_be(c[1].b));
    return sigil_ok();
}

/* Fills a->sum[0..n) for the windows a->w (a->lo, a->first set from now), and a->cur when the
 * bucket scan covered now's bucket. Rows stamped after now (an instance whose clock runs ahead)
 * count too: clock skew between instances must not widen a window. */
static sigil_result window_sums(struct slash_tx *tx, struct spend_arg *a)
{
    a->cur = pw_u64(0);
    a->have_cur = false;
    if (a->n == 0) {
        return sigil_ok();
    }
    uint64_t first_min = UINT64_MAX;
    for (size_t i = 0; i < a->n; i++) {
        a->sum[i] = pw_u64(0);
        a->lo[i] = window_start(a->now, a->w[i].window_s);
        a->first[i] = first_full_bucket(a->lo[i]);
        first_min = a->first[i] < first_min ? a->first[i] : first_min;
    }
    struct slash_val q[3] = {SLASH_BLOB(a->account, 20), SLASH_U64(first_min), SLASH_NULLV};
    SIGIL_GUARD(tx->vt->query(tx->conn, S_SPEND_BUCKETS, q, 2, bucket_cb, a));
    a->have_cur = first_min <= a->now / LEDGER_BUCKET_S;
    for (size_t i = 0; i < a->n; i++) {
        if (a->lo[i] % LEDGER_BUCKET_S == 0) {
            continue; /* the window is whole buckets */
        }
        /* the rest of lo's bucket: [lo, bucket end] (the last bucket of the uint64 range is short) */
        uint64_t start = a->lo[i] - a->lo[i] % LEDGER_BUCKET_S;
        uint64_t end = start > UINT64_MAX - (LEDGER_BUCKET_S - 1) ? UINT64_MAX : start + (LEDGER_BUCKET_S - 1);
        q[1] = SLASH_U64(a->lo[i]);
        q[2] = SLASH_U64(end);
        SIGIL_GUARD(tx->vt->query(tx->conn, S_SPEND_RANGE, q, 3, range_cb, &a->sum[i]));
    }
    return sigil_ok();
}

/* The account's PostgreSQL advisory lock. The key folds all 20 bytes (FNV-1a): vanity addresses
 * share their leading bytes, and a key made of those would serialise them all across instances. */
static sigil_result lock_account(struct slash_tx *tx, const uint8_t account[20])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 20; i++) {
        h = (h ^ account[i]) * 16777619u;
    }
    return slash_lock(tx, SLASH_LOCK_SPEND, (int64_t)h - 2147483648); /* into the int4 range of the SQL */
}

static sigil_result found_cb(void *ud, const struct slash_val *c, int n)
{
    (void)c;
    (void)n;
    *(bool *)ud = true;
    return sigil_ok();
}

/* Adds the new row's amount to its bucket's total (read here unless the window scan saw it). */
static sigil_result add_to_bucket(struct slash_tx *tx, struct spend_arg *a, pw_t amount)
{
    uint64_t bucket = a->now / LEDGER_BUCKET_S;
    struct slash_val q[3] = {SLASH_BLOB(a->account, 20), SLASH_U64(bucket), SLASH_NULLV};
    if (!a->have_cur) {
        struct spend_arg one = {.now = a->now, .n = 0, .cur = pw_u64(0)};
        SIGIL_GUARD(tx->vt->query(tx->conn, S_SPEND_TOTAL_GET, q, 2, bucket_cb, &one));
        a->cur = one.cur;
    }
    uint8_t total[32];
    pw_to_be(total, pw_add_sat(a->cur, amount));
    q[2] = SLASH_BLOB(total, 32);
    return tx->vt->query(tx->conn, S_SPEND_TOTAL_PUT, q, 3, NULL, NULL);
}

/* Safe to run again from the start (PostgreSQL retries on deadlock / serialization failures). */
static sigil_result tx_spend(struct slash_tx *tx, void *arg)
{
    struct spend_arg *a = arg;
    a->repeat = false;
    a->refused = SIZE_MAX;
    SIGIL_GUARD(lock_account(tx, a->account));
    struct slash_val p[4] = {SLASH_BLOB(a->account, 20), SLASH_BLOB(a->digest, 32), SLASH_BLOB(a->amount, 32),
                             SLASH_U64(a->now)};
    bool seen = false;
    SIGIL_GUARD(tx->vt->query(tx->conn, S_SPEND_HAS, p, 2, found_cb, &seen));
    if (seen) {
        a->repeat = true; /* the identical request was charged already; its reservation stands */
        return sigil_ok();
    }
    SIGIL_GUARD(window_sums(tx, a));
    pw_t amount = pw_from_be(a->amount);
    for (size_t i = 0; i < a->n; i++) {
        pw_t max = pw_from_be(a->w[i].max_wei.b);
        pw_t total = pw_add_sat(a->sum[i], amount);
        if (pw_cmp(total, max) > 0 || pw_cmp(total, pw_max()) == 0) {
            char spent[PW_DEC_MAX + 8], lim[PW_DEC_MAX + 8], left[PW_DEC_MAX + 8], need[PW_DEC_MAX + 8];
            a->refused = i;
            return sigil_errorf(SIGIL_ERR_POLICY,
                                "%s: %s of %s allowed per %" PRIu64 " s already spent, %s left, %s needed",
                                a->w[i].rule, pw_eth(spent, a->sum[i]), pw_eth(lim, max), a->w[i].window_s,
                                pw_eth(left, pw_sub_floor(max, a->sum[i])), pw_eth(need, amount));
        }
    }
    /* Under the account lock (PostgreSQL) or the single writer (SQLite) the digest check above
     * holds, so this insert adds a row and its amount belongs in the bucket total. */
    SIGIL_GUARD(tx->vt->query(tx->conn, S_SPEND_INSERT, p, 4, NULL, NULL));
    return add_to_bucket(tx, a, amount);
}

static sigil_result check_windows(const struct sigil_spend_window *windows, size_t n)
{
    if (n > SIGIL_POLICY_MAX_WINDOWS || (n > 0 && windows == NULL)) {
        return sigil_errorf(SIGIL_ERR_ARG, "at most %d spend windows per reservation", SIGIL_POLICY_MAX_WINDOWS);
    }
    for (size_t i = 0; i < n; i++) {
        if (windows[i].window_s == 0 || windows[i].window_s > LEDGER_MAX_WINDOW_S) {
            return sigil_errorf(SIGIL_ERR_ARG, "spend window %s must be 1 s to 366 days", windows[i].rule);
        }
    }
    return sigil_ok();
}

sigil_result sigil_slashing_spend_reserve(struct sigil_slashing_db *db, const uint8_t account[20],
                                          const uint8_t digest[32], const uint8_t amount_be[32], uint64_t now_s,
                                          const struct sigil_spend_window *windows, size_t n, const char **refused_rule)
{
    if (refused_rule != NULL) {
        *refused_rule = NULL;
    }
    if (db == NULL || account == NULL || digest == NULL || amount_be == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "spend reservation needs an account, a digest and an amount");
    }
    SIGIL_GUARD(check_windows(windows, n));
    struct spend_arg a = {
        .account = account, .digest = digest, .amount = amount_be, .now = now_s, .w = windows, .n = n};
    sigil_result r = slash_db_run(db, tx_spend, &a, true);
    if (r.code == SIGIL_ERR_POLICY && refused_rule != NULL && a.refused < n) {
        *refused_rule = windows[a.refused].rule;
    }
    return r;
}

static sigil_result tx_spent(struct slash_tx *tx, void *arg) { return window_sums(tx, arg); }

sigil_result sigil_slashing_spent(struct sigil_slashing_db *db, const uint8_t account[20], uint64_t window_s,
                                  uint64_t now_s, uint8_t total_be[32])
{
    if (db == NULL || account == NULL || total_be == NULL) {
        return sigil_errorf(SIGIL_ERR_ARG, "spent needs an account");
    }
    if (window_s == 0 || window_s > LEDGER_MAX_WINDOW_S) {
        return sigil_errorf(SIGIL_ERR_ARG, "spend window must be 1 s to 366 days");
    }
    struct sigil_spend_window w = {.window_s = window_s};
    struct spend_arg a = {.account = account, .now = now_s, .w = &w, .n = 1};
    SIGIL_GUARD(slash_db_run(db, tx_spent, &a, false));
    pw_to_be(total_be, a.sum[0]);
    return sigil_ok();
}

/* ---- pruning ---- */

struct acct_list {
    size_t n, cap;
    uint8_t (*a)[20];
};

static sigil_result acct_cb(void *ud, const struct slash_val *c, int n)
{
    struct acct_list *l = ud;
    if (n < 1 || c[0].t != SV_BLOB || c[0].n != 20) {
        return sigil_errorf(SIGIL_ERR_DB, "malformed spend_ledger account");
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uint8_t(*a)[20] = realloc(l->a, cap * sizeof *a);
        if (a == NULL) {
            return sigil_error(SIGIL_ERR_NOMEM);
        }
        l->a = a;
        l->cap = cap;
    }
    memcpy(l->a[l->n++], c[0].b, 20);
    return sigil_ok();
}

struct prune_arg {
    struct acct_list *list;
    const uint8_t *account; /* the one account to prune */
    uint64_t cutoff;        /* a bucket start: rows before it go, with their buckets' totals */
};

static sigil_result tx_spend_accounts(struct slash_tx *tx, void *arg)
{
    struct prune_arg *a = arg;
    a->list->n = 0;
    struct slash_val p[1] = {SLASH_U64(a->cutoff)};
    return tx->vt->query(tx->conn, S_SPEND_ACCOUNTS, p, 1, acct_cb, a->list);
}

static sigil_result tx_spend_prune(struct slash_tx *tx, void *arg)
{
    struct prune_arg *a = arg;
    struct slash_val p[2] = {SLASH_BLOB(a->account, 20), SLASH_U64(a->cutoff)};
    SIGIL_GUARD(tx->vt->query(tx->conn, S_SPEND_PRUNE, p, 2, NULL, NULL));
    p[1] = SLASH_U64(a->cutoff / LEDGER_BUCKET_S);
    return tx->vt->query(tx->conn, S_SPEND_PRUNE_TOTALS, p, 2, NULL, NULL);
}

sigil_result slash_spend_prune(struct sigil_slashing_db *db, uint64_t now_s)
{
    if (now_s <= LEDGER_MAX_WINDOW_S) {
        return sigil_ok();
    }
    /* A row at now - 366 d is outside every window (a window starts at now - window_s + 1). The
     * cutoff is rounded down to a bucket start, so whole buckets go with all of their rows and every
     * remaining total stays the sum of its bucket's rows. */
    uint64_t cutoff = now_s - LEDGER_MAX_WINDOW_S;
    sigil_result ret = sigil_error(SIGIL_ERR_INTERNAL);
    struct acct_list l = {0};
    struct prune_arg a = {.list = &l, .cutoff = cutoff - cutoff % LEDGER_BUCKET_S};
    SIGIL_GUARD_GOTO(slash_db_run(db, tx_spend_accounts, &a, false));
    for (size_t i = 0; i < l.n; i++) {
        /* One transaction per account, each an index range of (account, time) and of (account,
         * bucket): the SQLite writer is never held for the whole ledger, so signing and
         * reservations wait for one account's old rows at most (as sigil_slashing_prune does per
         * validator). Each commit leaves every total equal to the sum of its bucket's rows. */
        a.account = l.a[i];
        SIGIL_GUARD_GOTO(slash_db_run(db, tx_spend_prune, &a, false));
    }
    ret = sigil_ok();
out:
    free(l.a);
    return ret;
}
