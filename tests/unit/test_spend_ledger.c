/* The wallet spend ledger in the slashing database (sigil_slashing_spend_reserve / _spent): limits,
 * several windows, expiry with explicit clocks, the same digest never charged twice, durability
 * across close/reopen, 256-bit sums, argument checks, pruning (account by account), the v2 -> v3
 * migration, the hourly totals (windows whose start falls inside an hour, rows exactly at a
 * window's start, checked against a brute-force sum of the rows; spend_totals always equal to the
 * sum of ledger rows of each hour, also after races and pruning), and races:
 * threads on SQLite (one handle and two handles on one file) and forked processes on PostgreSQL
 * (each with its own connection pool), which together must never exceed a window and must get
 * exactly floor(limit / amount) reservations through. Runs on SQLite, and on PostgreSQL when the
 * test cluster is available (registered as slashing_pg.test_spend_ledger). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy.h"
#include "policy/wei.h"
#include "slashing/slashing.h"
#include "test_slashing_util.h"

#define ETH "000000000000000000"

static char g_cur[600];

static struct sigil_slashing_db *open_url(const char *url)
{
    struct sigil_slashing_db *db = NULL;
    if (!sigil_is_ok(sigil_slashing_open(&db, url))) {
        fail_msg("open %s: %s", url, sigil_error_detail());
    }
    return db;
}

/* A fresh database: a new SQLite file, or the emptied PostgreSQL test database. */
static struct sigil_slashing_db *fresh(void)
{
    assert_true(tsu_fresh_url(g_cur, sizeof g_cur, "l"));
    return open_url(g_cur);
}

static void amt(uint8_t out[32], const char *dec)
{
    pw_t v;
    if (!pw_parse_dec(&v, dec)) {
        fail_msg("bad amount %s", dec);
    }
    pw_to_be(out, v);
}

static void account(uint8_t out[20], unsigned n)
{
    memset(out, 0, 20);
    out[0] = (uint8_t)(n >> 8);
    out[1] = (uint8_t)n;
    out[19] = 0xac;
}

static void digest_of(uint8_t out[32], unsigned a, unsigned b)
{
    memset(out, 0x5d, 32);
    memcpy(out, &a, sizeof a);
    memcpy(out + 8, &b, sizeof b);
}

static struct sigil_spend_window win(const char *rule, uint64_t secs, const char *max)
{
    struct sigil_spend_window w = {.window_s = secs};
    snprintf(w.rule, sizeof w.rule, "%s", rule);
    amt(w.max_wei.b, max);
    return w;
}

static sigil_result reserve(struct sigil_slashing_db *db, const uint8_t acct[20], unsigned d, const char *amount,
                            uint64_t now, const struct sigil_spend_window *w, size_t n, const char **rule)
{
    uint8_t dg[32], a[32];
    digest_of(dg, d, 0);
    amt(a, amount);
    return sigil_slashing_spend_reserve(db, acct, dg, a, now, w, n, rule);
}

static void assert_spent(struct sigil_slashing_db *db, const uint8_t acct[20], uint64_t window, uint64_t now,
                         const char *want)
{
    uint8_t got[32], w[32];
    if (!sigil_is_ok(sigil_slashing_spent(db, acct, window, now, got))) {
        fail_msg("spent: %s", sigil_error_detail());
    }
    amt(w, want);
    if (memcmp(got, w, 32) != 0) {
        char s[PW_DEC_MAX];
        fail_msg("spent %s wei, expected %s", pw_format(s, pw_from_be(got), 0), want);
    }
}

static void check_totals(void);

#define OK(x)                                                                                                          \
    do {                                                                                                               \
        sigil_result r_ = (x);                                                                                         \
        if (!sigil_is_ok(r_)) {                                                                                        \
            fail_msg("%s failed: %s", #x, sigil_error_detail());                                                       \
        }                                                                                                              \
    } while (0)
#define ERR(x, c) assert_int_equal((x).code, (c))

static void t_limit(void)
{
    struct sigil_slashing_db *db = fresh();
    uint8_t acct[20], other[20];
    account(acct, 1);
    account(other, 2);
    struct sigil_spend_window w[1] = {win("spend.daily", 86400, "5" ETH)};
    const char *rule = "x";
    uint64_t t = 1700000000;
    OK(reserve(db, acct, 1, "2" ETH, t, w, 1, &rule));
    assert_null(rule);
    OK(reserve(db, acct, 2, "2" ETH, t + 1, w, 1, &rule));
    ERR(reserve(db, acct, 3, "2" ETH, t + 2, w, 1, &rule), SIGIL_ERR_POLICY);
    assert_non_null(rule);
    assert_string_equal(rule, "spend.daily");
    assert_non_null(strstr(sigil_error_detail(), "1 ETH left"));
    assert_non_null(strstr(sigil_error_detail(), "2 ETH needed"));
    OK(reserve(db, acct, 4, "1" ETH, t + 3, w, 1, &rule)); /* exactly up to the limit */
    ERR(reserve(db, acct, 5, "1", t + 4, w, 1, &rule), SIGIL_ERR_POLICY);
    assert_spent(db, acct, 86400, t + 4, "5" ETH);
    /* another account has its own ledger */
    OK(reserve(db, other, 1, "5" ETH, t + 5, w, 1, &rule));
    assert_spent(db, other, 86400, t + 5, "5" ETH);
    OK(reserve(db, acct, 7, "0", t + 5, w, 1, NULL)); /* zero fits a full window */
    /* no windows: the record only (and the window is over its limit from then on) */
    OK(reserve(db, acct, 6, "100" ETH, t + 6, NULL, 0, &rule));
    assert_spent(db, acct, 86400, t + 6, "105" ETH);
    ERR(reserve(db, acct, 8, "0", t + 7, w, 1, &rule), SIGIL_ERR_POLICY);
    assert_non_null(strstr(sigil_error_detail(), "105 ETH of 5 ETH allowed per 86400 s already spent, 0 ETH left"));
    sigil_slashing_close(db);
}

static void t_windows(void)
{
    struct sigil_slashing_db *db = fresh();
    uint8_t acct[20];
    account(acct, 3);
    struct sigil_spend_window w[2] = {win("spend.hourly", 3600, "1" ETH), win("spend.daily", 86400, "3" ETH)};
    const char *rule = NULL;
    uint64_t t0 = 1000000;
    OK(reserve(db, acct, 1, "1" ETH, t0, w, 2, &rule));
    ERR(reserve(db, acct, 2, "500000000000000000", t0 + 10, w, 2, &rule), SIGIL_ERR_POLICY);
    assert_string_equal(rule, "spend.hourly");
    /* the hour (t0, t0+3600] no longer holds the first row */
    OK(reserve(db, acct, 3, "1" ETH, t0 + 3600, w, 2, &rule));
    OK(reserve(db, acct, 4, "1" ETH, t0 + 7200, w, 2, &rule));
    ERR(reserve(db, acct, 5, "100000000000000000", t0 + 10800, w, 2, &rule), SIGIL_ERR_POLICY);
    assert_string_equal(rule, "spend.daily");
    assert_spent(db, acct, 86400, t0 + 10800, "3" ETH);
    assert_spent(db, acct, 3600, t0 + 10800, "0");
    assert_spent(db, acct, 3600, t0 + 7200, "1" ETH);
    /* a day after the first row: the day holds 2 ETH, so 1 ETH fits exactly */
    ERR(reserve(db, acct, 6, "1" ETH, t0 + 86399, w, 2, &rule), SIGIL_ERR_POLICY);
    assert_string_equal(rule, "spend.daily");
    OK(reserve(db, acct, 7, "1" ETH, t0 + 86400, w, 2, &rule));
    assert_spent(db, acct, 86400, t0 + 86400, "3" ETH);
    /* rows stamped later than now (a clock running ahead) still count */
    assert_spent(db, acct, 3600, t0 + 100, "4" ETH);
    ERR(reserve(db, acct, 8, "1", t0 + 100, w, 2, &rule), SIGIL_ERR_POLICY);
    /* a window that starts before time 0 */
    uint8_t early[20];
    account(early, 4);
    OK(reserve(db, early, 1, "3" ETH, 5, w + 1, 1, &rule));
    ERR(reserve(db, early, 2, "1", 10, w + 1, 1, &rule), SIGIL_ERR_POLICY);
    assert_spent(db, early, 86400, 10, "3" ETH);
    sigil_slashing_close(db);
}

static void t_repeat(void)
{
    struct sigil_slashing_db *db = fresh();
    uint8_t acct[20];
    account(acct, 5);
    struct sigil_spend_window w[1] = {win("spend.daily", 86400, "5" ETH)};
    const char *rule = NULL;
    uint64_t t = 2000000;
    OK(reserve(db, acct, 42, "2" ETH, t, w, 1, &rule));
    OK(reserve(db, acct, 42, "2" ETH, t + 1, w, 1, &rule));
    OK(reserve(db, acct, 42, "9" ETH, t + 2, w, 1, &rule)); /* the first reservation stands */
    assert_spent(db, acct, 86400, t + 2, "2" ETH);
    OK(reserve(db, acct, 43, "3" ETH, t + 3, w, 1, &rule));
    ERR(reserve(db, acct, 44, "1", t + 4, w, 1, &rule), SIGIL_ERR_POLICY);
    OK(reserve(db, acct, 42, "2" ETH, t + 5, w, 1, &rule)); /* re-signing stays free when full */
    OK(reserve(db, acct, 43, "3" ETH, t + 6, w, 1, &rule));
    assert_spent(db, acct, 86400, t + 6, "5" ETH);
    /* the same digest for another account is that account's own charge */
    uint8_t other[20];
    account(other, 6);
    ERR(reserve(db, other, 42, "6" ETH, t + 7, w, 1, &rule), SIGIL_ERR_POLICY);
    OK(reserve(db, other, 42, "1" ETH, t + 8, w, 1, &rule));
    assert_spent(db, other, 86400, t + 8, "1" ETH);
    sigil_slashing_close(db);
}

static void t_big(void)
{
    struct sigil_slashing_db *db = fresh();
    uint8_t acct[20];
    account(acct, 7);
    /* 2^255 limit, 2^254 amounts */
    struct sigil_spend_window w[1] = {win(
        "spend.huge", 366 * 86400, "57896044618658097711785492504343953926634992332820282019728792003956564819968")};
    const char *q = "28948022309329048855892746252171976963317496166410141009864396001978282409984";
    const char *rule = NULL;
    OK(reserve(db, acct, 1, q, 100, w, 1, &rule));
    OK(reserve(db, acct, 2, q, 101, w, 1, &rule));
    ERR(reserve(db, acct, 3, "1", 102, w, 1, &rule), SIGIL_ERR_POLICY);
    assert_spent(db, acct, 366 * 86400, 102,
                 "57896044618658097711785492504343953926634992332820282019728792003956564819968");
    /* sums far beyond 2^64 stay exact */
    uint8_t b[20];
    account(b, 8);
    OK(reserve(db, b, 1, "18446744073709551615", 100, NULL, 0, &rule));
    OK(reserve(db, b, 2, "18446744073709551615", 100, NULL, 0, &rule));
    OK(reserve(db, b, 3, "2", 100, NULL, 0, &rule));
    assert_spent(db, b, 60, 100, "36893488147419103232");
    /* a sum that saturates 2^256-1 is over any limit */
    uint8_t c[20];
    account(c, 9);
    const char *max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    struct sigil_spend_window wm[1] = {win("spend.max", 3600, max)};
    OK(reserve(db, c, 1, "115792089237316195423570985008687907853269984665640564039457584007913129639934", 100, wm, 1,
               &rule));
    ERR(reserve(db, c, 2, "1", 101, wm, 1, &rule), SIGIL_ERR_POLICY);
    OK(reserve(db, c, 3, "1", 100 + 3600, wm, 1, &rule));
    sigil_slashing_close(db);
}

static void t_args(void)
{
    struct sigil_slashing_db *db = fresh();
    uint8_t acct[20], dg[32] = {1}, a[32] = {0};
    account(acct, 10);
    struct sigil_spend_window w[SIGIL_POLICY_MAX_WINDOWS + 1];
    for (size_t i = 0; i <= SIGIL_POLICY_MAX_WINDOWS; i++) {
        w[i] = win("spend.w", 3600, "1");
    }
    const char *rule;
    ERR(sigil_slashing_spend_reserve(db, acct, dg, a, 1, w, SIGIL_POLICY_MAX_WINDOWS + 1, &rule), SIGIL_ERR_ARG);
    OK(sigil_slashing_spend_reserve(db, acct, dg, a, 1, w, SIGIL_POLICY_MAX_WINDOWS, &rule));
    w[0].window_s = 0;
    ERR(sigil_slashing_spend_reserve(db, acct, dg, a, 1, w, 1, &rule), SIGIL_ERR_ARG);
    w[0].window_s = 366 * 86400 + 1;
    ERR(sigil_slashing_spend_reserve(db, acct, dg, a, 1, w, 1, &rule), SIGIL_ERR_ARG);
    ERR(sigil_slashing_spend_reserve(db, acct, dg, a, 1, NULL, 1, &rule), SIGIL_ERR_ARG);
    ERR(sigil_slashing_spend_reserve(db, NULL, dg, a, 1, NULL, 0, &rule), SIGIL_ERR_ARG);
    ERR(sigil_slashing_spend_reserve(db, acct, NULL, a, 1, NULL, 0, &rule), SIGIL_ERR_ARG);
    ERR(sigil_slashing_spend_reserve(db, acct, dg, NULL, 1, NULL, 0, &rule), SIGIL_ERR_ARG);
    uint8_t total[32];
    ERR(sigil_slashing_spent(db, acct, 0, 1, total), SIGIL_ERR_ARG);
    ERR(sigil_slashing_spent(db, acct, 366 * 86400 + 1, 1, total), SIGIL_ERR_ARG);
    OK(sigil_slashing_spent(db, acct, 366 * 86400, UINT64_MAX, total));
    /* extreme clocks */
    uint8_t dg2[32] = {2};
    w[0].window_s = 60;
    OK(sigil_slashing_spend_reserve(db, acct, dg2, a, UINT64_MAX, w, 1, &rule));
    sigil_slashing_close(db);
}

static void t_durable_and_prune(void)
{
    struct sigil_slashing_db *db = fresh();
    uint8_t acct[20];
    account(acct, 11);
    struct sigil_spend_window w[1] = {win("spend.daily", 86400, "5" ETH)};
    const char *rule = NULL;
    uint64_t now = (uint64_t)time(NULL);
    uint64_t old = now - 400 * 86400ull;
    OK(reserve(db, acct, 1, "4" ETH, old, w, 1, &rule));
    OK(reserve(db, acct, 2, "4" ETH, now - 10, w, 1, &rule));
    sigil_slashing_close(db);
    /* reopen: the records are there and still count */
    db = open_url(g_cur);
    assert_spent(db, acct, 86400, now, "4" ETH);
    assert_spent(db, acct, 86400, old, "8" ETH); /* the newer row counts as "later" */
    ERR(reserve(db, acct, 3, "2" ETH, now, w, 1, &rule), SIGIL_ERR_POLICY);
    OK(reserve(db, acct, 2, "4" ETH, now, w, 1, &rule)); /* repeat of a durable record */
    /* prune drops the 400-day-old row only */
    OK(sigil_slashing_prune(db, 1, 32));
    assert_spent(db, acct, 86400, old, "4" ETH);
    assert_spent(db, acct, 86400, now, "4" ETH);
    /* its digest is forgotten, so the same request would be charged again (it is far outside any window) */
    OK(reserve(db, acct, 1, "1" ETH, now, w, 1, &rule));
    assert_spent(db, acct, 86400, now, "5" ETH);
    check_totals();
    sigil_slashing_close(db);
}

/* A version-2 database (made by dropping the ledger and rewinding schema_version) is migrated. */
static void t_migrate(void)
{
    struct sigil_slashing_db *db = fresh();
    sigil_slashing_close(db);
    const char *sql = "DROP TABLE spend_ledger; DROP TABLE spend_totals; UPDATE schema_version SET version = 2";
    if (strncmp(g_cur, "sqlite:", 7) == 0) {
        sqlite3 *s;
        assert_int_equal(sqlite3_open(g_cur + 7, &s), SQLITE_OK);
        assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(s);
    } else {
        PGconn *c = PQconnectdb(g_cur);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, sql);
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
        PQfinish(c);
    }
    db = open_url(g_cur);
    uint8_t acct[20];
    account(acct, 12);
    struct sigil_spend_window w[1] = {win("spend.daily", 86400, "1" ETH)};
    const char *rule = NULL;
    OK(reserve(db, acct, 1, "1" ETH, 5000, w, 1, &rule));
    ERR(reserve(db, acct, 2, "1", 5001, w, 1, &rule), SIGIL_ERR_POLICY);
    sigil_slashing_close(db);
}

/* ---- the hourly totals ---- */

struct kv {
    uint8_t acct[20];
    uint64_t k; /* ledger: time; totals: bucket */
    uint8_t v[32];
};

#define KV_MAX 4096

static uint64_t be64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) {
        x = (x << 8) | p[i];
    }
    return x;
}

/* Reads (account, slash_dec(column 2), 32-byte column 3) rows of sql from the current database. */
static size_t read_kv(const char *sql, struct kv *out)
{
    size_t n = 0;
    if (strncmp(g_cur, "sqlite:", 7) == 0) {
        sqlite3 *s;
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_open(g_cur + 7, &s), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            assert_true(n < KV_MAX);
            assert_int_equal(sqlite3_column_bytes(st, 0), 20);
            assert_int_equal(sqlite3_column_bytes(st, 2), 32);
            memcpy(out[n].acct, sqlite3_column_blob(st, 0), 20);
            out[n].k = (uint64_t)sqlite3_column_int64(st, 1) ^ (UINT64_C(1) << 63);
            memcpy(out[n].v, sqlite3_column_blob(st, 2), 32);
            n++;
        }
        sqlite3_finalize(st);
        sqlite3_close(s);
        return n;
    }
    PGconn *c = PQconnectdb(g_cur);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    for (int i = 0; i < PQntuples(r); i++) {
        assert_true(n < KV_MAX);
        assert_int_equal(PQgetlength(r, i, 0), 20);
        assert_int_equal(PQgetlength(r, i, 1), 8);
        assert_int_equal(PQgetlength(r, i, 2), 32);
        memcpy(out[n].acct, PQgetvalue(r, i, 0), 20);
        out[n].k = be64((const uint8_t *)PQgetvalue(r, i, 1)) ^ (UINT64_C(1) << 63);
        memcpy(out[n].v, PQgetvalue(r, i, 2), 32);
        n++;
    }
    PQclear(r);
    PQfinish(c);
    return n;
}

/* Every spend_totals row is the saturating sum of its hour's ledger rows, and every ledger row has
 * its hour's total. */
static void check_totals(void)
{
    static struct kv led[KV_MAX], tot[KV_MAX];
    size_t nl = read_kv("SELECT account, time, amount FROM spend_ledger", led);
    size_t nt = read_kv("SELECT account, bucket, total FROM spend_totals", tot);
    for (size_t i = 0; i < nl; i++) {
        bool found = false;
        for (size_t j = 0; j < nt && !found; j++) {
            found = memcmp(led[i].acct, tot[j].acct, 20) == 0 && led[i].k / 3600 == tot[j].k;
        }
        if (!found) {
            fail_msg("no spend_totals row for the ledger row at %llu", (unsigned long long)led[i].k);
        }
    }
    for (size_t j = 0; j < nt; j++) {
        pw_t sum = pw_u64(0);
        for (size_t i = 0; i < nl; i++) {
            if (memcmp(led[i].acct, tot[j].acct, 20) == 0 && led[i].k / 3600 == tot[j].k) {
                sum = pw_add_sat(sum, pw_from_be(led[i].v));
            }
        }
        if (pw_cmp(sum, pw_from_be(tot[j].v)) != 0) {
            fail_msg("spend_totals of bucket %llu differs from its ledger rows", (unsigned long long)tot[j].k);
        }
    }
}

struct row {
    uint64_t t, amount;
};

static uint64_t brute(const struct row *rows, size_t n, uint64_t now, uint64_t window)
{
    uint64_t lo = now >= window ? now - window + 1 : 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += rows[i].t >= lo ? rows[i].amount : 0;
    }
    return sum;
}

static void assert_spent_u64(struct sigil_slashing_db *db, const uint8_t acct[20], uint64_t window, uint64_t now,
                             uint64_t want)
{
    uint8_t got[32], w[32];
    if (!sigil_is_ok(sigil_slashing_spent(db, acct, window, now, got))) {
        fail_msg("spent: %s", sigil_error_detail());
    }
    pw_to_be(w, pw_u64(want));
    if (memcmp(got, w, 32) != 0) {
        char s[PW_DEC_MAX];
        fail_msg("window %llu s at %llu: spent %s wei, expected %llu", (unsigned long long)window,
                 (unsigned long long)now, pw_format(s, pw_from_be(got), 0), (unsigned long long)want);
    }
}

static const uint64_t k_windows[] = {60, 90 * 60, 3599, 3600, 3601, 7200, 86400, 366 * 86400};
#define N_WINDOWS (sizeof k_windows / sizeof k_windows[0])

static void check_all(struct sigil_slashing_db *db, const uint8_t acct[20], const struct row *rows, size_t n,
                      uint64_t now)
{
    for (size_t w = 0; w < N_WINDOWS; w++) {
        assert_spent_u64(db, acct, k_windows[w], now, brute(rows, n, now, k_windows[w]));
    }
}

/* Windows whose start falls inside an hour holding rows on both sides of it, rows exactly at a
 * window's start, rows stamped later than now, and reservations at the exact limit, against a
 * brute-force sum of the rows. Amounts are distinct powers of two, so a sum names its rows. */
static void t_buckets(void)
{
    struct sigil_slashing_db *db = fresh();
    uint8_t acct[20];
    account(acct, 13);
    const uint64_t base = 3600ull * 500000; /* an hour boundary */
    static const int64_t offs[] = {100,  1000, 1800, 2500,  3599,  3600,  3601, 5000,     7199,
                                   7200, 9000, 50,   86399, 86400, 90000, 1799, 3600 * 30};
    struct row rows[64];
    size_t n = 0;
    const char *rule = NULL;
    char lim[32];
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        uint64_t t = base + (uint64_t)offs[i];
        uint64_t amount = UINT64_C(1) << i;
        /* a window over every row so far: exactly full is allowed, one wei more is refused (and writes nothing) */
        uint64_t w = k_windows[i % N_WINDOWS];
        uint64_t spent = brute(rows, n, t, w);
        struct sigil_spend_window win1[1];
        snprintf(lim, sizeof lim, "%llu", (unsigned long long)(spent + amount - 1));
        win1[0] = win("spend.w", w, lim);
        char a[32];
        snprintf(a, sizeof a, "%llu", (unsigned long long)amount);
        ERR(reserve(db, acct, (unsigned)(100 + i), a, t, win1, 1, &rule), SIGIL_ERR_POLICY);
        snprintf(lim, sizeof lim, "%llu", (unsigned long long)(spent + amount));
        win1[0] = win("spend.w", w, lim);
        OK(reserve(db, acct, (unsigned)(100 + i), a, t, win1, 1, &rule));
        rows[n++] = (struct row){t, amount};
        check_all(db, acct, rows, n, t);
    }
    /* every window position around every row: its start at, just before and just after the row */
    for (size_t i = 0; i < n; i++) {
        for (size_t w = 0; w < N_WINDOWS; w++) {
            for (int d = -1; d <= 1; d++) {
                uint64_t now = rows[i].t + k_windows[w] - 1 + (uint64_t)(int64_t)d; /* lo = row + d */
                assert_spent_u64(db, acct, k_windows[w], now, brute(rows, n, now, k_windows[w]));
            }
        }
    }
    /* every start inside the first hours, second by second for the shortest windows */
    for (uint64_t now = base; now < base + 3 * 3600; now += 7) {
        check_all(db, acct, rows, n, now);
    }
    /* recorded, then checked an hour and more later */
    uint8_t late[20];
    account(late, 14);
    OK(reserve(db, late, 1, "5", base + 1234, NULL, 0, &rule));
    assert_spent(db, late, 3600, base + 1234 + 3599, "5");
    assert_spent(db, late, 3600, base + 1234 + 3600, "0");
    assert_spent(db, late, 90 * 60, base + 1234 + 5399, "5");
    assert_spent(db, late, 90 * 60, base + 1234 + 5400, "0");
    assert_spent(db, late, 86400, base + 1234 + 3 * 3600 + 17, "5");
    assert_spent(db, late, 86400, base + 1234 + 86399, "5");
    assert_spent(db, late, 86400, base + 1234 + 86400, "0");
    assert_spent(db, late, 366 * 86400, base + 1234 + 200 * 86400, "5");
    struct sigil_spend_window day[1] = {win("spend.daily", 86400, "9")};
    ERR(reserve(db, late, 2, "5", base + 1234 + 7200, day, 1, &rule), SIGIL_ERR_POLICY);
    OK(reserve(db, late, 3, "4", base + 1234 + 7200, day, 1, &rule));
    OK(reserve(db, late, 4, "5", base + 1234 + 86400, day, 1, &rule));
    check_totals();
    /* the last, short bucket of the uint64 range and a window starting at time 0 */
    uint8_t edge[20];
    account(edge, 15);
    OK(reserve(db, edge, 1, "3", UINT64_MAX, NULL, 0, &rule));
    OK(reserve(db, edge, 2, "4", UINT64_MAX - 20, NULL, 0, &rule));
    OK(reserve(db, edge, 3, "8", 0, NULL, 0, &rule));
    assert_spent(db, edge, 60, UINT64_MAX, "7");
    assert_spent(db, edge, 10, UINT64_MAX, "3");
    assert_spent(db, edge, 60, 30, "15");
    assert_spent(db, edge, 3600, 0, "15");
    check_totals();
    sigil_slashing_close(db);
}

/* ---- races ---- */

struct racer {
    struct sigil_slashing_db *db;
    const uint8_t *acct;
    const struct sigil_spend_window *w;
    const char *amount;
    unsigned id, attempts, ok, refused, errors;
    pthread_barrier_t *start;
};

static void *race_thread(void *arg)
{
    struct racer *r = arg;
    uint8_t a[32];
    amt(a, r->amount);
    pthread_barrier_wait(r->start);
    for (unsigned i = 0; i < r->attempts; i++) {
        uint8_t dg[32];
        digest_of(dg, r->id, i);
        const char *rule = NULL;
        sigil_result res = sigil_slashing_spend_reserve(r->db, r->acct, dg, a, 3000000 + i, r->w, 1, &rule);
        if (sigil_is_ok(res)) {
            r->ok++;
        } else if (res.code == SIGIL_ERR_POLICY && rule != NULL) {
            r->refused++;
        } else {
            r->errors++;
        }
    }
    return NULL;
}

/* nthreads threads over ndbs handles on one database race for one account's window. */
static void race_threads(unsigned acct_n, const char *amount, const char *limit, unsigned expect, unsigned nthreads,
                         unsigned attempts, unsigned ndbs)
{
    struct sigil_slashing_db *dbs[2];
    dbs[0] = fresh();
    dbs[1] = ndbs > 1 ? open_url(g_cur) : dbs[0];
    uint8_t acct[20];
    account(acct, acct_n);
    struct sigil_spend_window w[1] = {win("spend.daily", 86400, limit)};
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, nthreads);
    struct racer r[16];
    pthread_t th[16];
    assert_true(nthreads <= 16);
    for (unsigned i = 0; i < nthreads; i++) {
        r[i] = (struct racer){dbs[i % ndbs], acct, w, amount, i, attempts, 0, 0, 0, &start};
        assert_int_equal(pthread_create(&th[i], NULL, race_thread, &r[i]), 0);
    }
    unsigned ok = 0, refused = 0, errors = 0;
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        ok += r[i].ok;
        refused += r[i].refused;
        errors += r[i].errors;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(errors, 0);
    assert_int_equal(ok, expect);
    assert_int_equal(ok + refused, nthreads * attempts);
    uint8_t a[32], want[32];
    amt(a, amount);
    pw_t total = pw_mul_u64_sat(pw_from_be(a), expect);
    pw_to_be(want, total);
    uint8_t got[32];
    OK(sigil_slashing_spent(dbs[0], acct, 86400, 3000000 + attempts, got));
    assert_memory_equal(got, want, 32);
    check_totals();
    if (ndbs > 1) {
        sigil_slashing_close(dbs[1]);
    }
    sigil_slashing_close(dbs[0]);
}

/* nproc processes, each with its own sigil_slashing_db on the same PostgreSQL URL. */
static void race_processes(unsigned acct_n, const char *amount, const char *limit, unsigned expect, unsigned nproc,
                           unsigned attempts)
{
    struct sigil_slashing_db *db = fresh(); /* resets the database and runs the migrations */
    sigil_slashing_close(db);
    uint8_t acct[20];
    account(acct, acct_n);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[8];
    assert_true(nproc <= 8);
    for (unsigned p = 0; p < nproc; p++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(go[1]);
            setenv("SIGIL_SLASHING_PG_POOL", "2", 1);
            struct sigil_slashing_db *cdb = NULL;
            if (!sigil_is_ok(sigil_slashing_open(&cdb, g_cur))) {
                fprintf(stderr, "child open: %s\n", sigil_error_detail());
                _exit(255);
            }
            char c;
            if (read(go[0], &c, 1) != 1) {
                _exit(254);
            }
            struct sigil_spend_window w[1] = {win("spend.daily", 86400, limit)};
            uint8_t a[32];
            amt(a, amount);
            unsigned ok = 0;
            for (unsigned i = 0; i < attempts; i++) {
                uint8_t dg[32];
                digest_of(dg, 1000 + p, i);
                const char *rule = NULL;
                sigil_result r = sigil_slashing_spend_reserve(cdb, acct, dg, a, 4000000 + i, w, 1, &rule);
                if (sigil_is_ok(r)) {
                    ok++;
                } else if (r.code != SIGIL_ERR_POLICY || rule == NULL) {
                    fprintf(stderr, "child reserve: %s\n", sigil_error_detail());
                    _exit(253);
                }
            }
            sigil_slashing_close(cdb);
            _exit((int)ok);
        }
        pids[p] = pid;
    }
    close(go[0]);
    sleep(1); /* let every child connect, so they start together */
    char gobuf[8] = {0};
    assert_int_equal(write(go[1], gobuf, nproc), (ssize_t)nproc);
    close(go[1]);
    unsigned ok = 0;
    for (unsigned p = 0; p < nproc; p++) {
        int st = 0;
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        assert_true(WIFEXITED(st));
        assert_true(WEXITSTATUS(st) < 250);
        ok += (unsigned)WEXITSTATUS(st);
    }
    assert_int_equal(ok, expect);
    db = open_url(g_cur);
    uint8_t a[32], want[32], got[32];
    amt(a, amount);
    pw_to_be(want, pw_mul_u64_sat(pw_from_be(a), expect));
    OK(sigil_slashing_spent(db, acct, 86400, 4000000 + attempts, got));
    assert_memory_equal(got, want, 32);
    check_totals();
    sigil_slashing_close(db);
}

static uint64_t prune_cutoff(uint64_t now)
{
    uint64_t c = now - 366 * 86400ull;
    return c - c % 3600;
}

/* Pruning goes account by account: with several accounts (old rows only, old and recent rows,
 * recent rows only, several rows in one old hour) it removes exactly the rows before the cutoff
 * (366 days before now, rounded down to the hour) with their hours' totals, keeps the rest, and
 * leaves every total the sum of its hour's rows; running it again changes nothing. */
static void t_prune_accounts(void)
{
    struct sigil_slashing_db *db = fresh();
    enum { NACCT = 4, NROWS = 6 };
    uint8_t acct[NACCT][20];
    uint64_t now = (uint64_t)time(NULL);
    uint64_t c0 = prune_cutoff(now);
    /* per account: row times (0: none); the ones before c0 go */
    const uint64_t t[NACCT][NROWS] = {
        {c0 - 40 * 86400ull, c0 - 3601, c0 - 1, c0, c0 + 1, now - 10}, /* both sides of the cutoff */
        {c0 - 400 * 86400ull, c0 - 7200, c0 - 7199, c0 - 3600, 0, 0},  /* old rows only, two in one hour */
        {c0 + 3600, now - 86400, now, 0, 0, 0},                        /* recent rows only */
        {1, c0 - 1, c0 - 2, now + 3600, 0, 0},                         /* second 1, one old hour, the future */
    };
    const char *rule = NULL;
    unsigned bit = 0;
    for (unsigned a = 0; a < NACCT; a++) {
        account(acct[a], 20 + a);
        for (unsigned r = 0; r < NROWS && t[a][r] != 0; r++) {
            char amount[24];
            (void)snprintf(amount, sizeof amount, "%llu", 1ull << bit++);
            OK(reserve(db, acct[a], r, amount, t[a][r], NULL, 0, &rule));
        }
    }
    check_totals();
    for (int round = 0; round < 2; round++) {
        OK(sigil_slashing_prune(db, 1, 32));
        /* the clock may have entered the next hour meanwhile: rows in [c0, c1) may go or stay */
        uint64_t c1 = prune_cutoff((uint64_t)time(NULL));
        static struct kv left[KV_MAX];
        size_t nleft = read_kv("SELECT account, time, amount FROM spend_ledger", left);
        size_t want_min = 0, want_max = 0;
        for (unsigned a = 0; a < NACCT; a++) {
            for (unsigned r = 0; r < NROWS && t[a][r] != 0; r++) {
                bool found = false;
                for (size_t i = 0; i < nleft && !found; i++) {
                    found = memcmp(left[i].acct, acct[a], 20) == 0 && left[i].k == t[a][r];
                }
                if (t[a][r] < c0 && found) {
                    fail_msg("round %d: account %u kept the row at %llu, before the cutoff %llu", round, a,
                             (unsigned long long)t[a][r], (unsigned long long)c0);
                }
                if (t[a][r] >= c1 && !found) {
                    fail_msg("round %d: account %u lost the row at %llu, after the cutoff %llu", round, a,
                             (unsigned long long)t[a][r], (unsigned long long)c1);
                }
                want_min += t[a][r] >= c1;
                want_max += t[a][r] >= c0;
            }
        }
        assert_in_range(nleft, want_min, want_max);
        check_totals();
    }
    /* what is left still counts: account 2 kept its three rows (amounts 2^10, 2^11, 2^12 wei) */
    assert_spent_u64(db, acct[2], 366 * 86400, now, (1ull << 10) + (1ull << 11) + (1ull << 12));
    sigil_slashing_close(db);
}

static void run_all(void)
{
    t_limit();
    t_windows();
    t_repeat();
    t_big();
    t_args();
    t_durable_and_prune();
    t_prune_accounts();
    t_migrate();
    t_buckets();
}

static void race_sqlite(void)
{
    for (int round = 0; round < 3; round++) {
        race_threads(20 + round, "1" ETH, "37" ETH, 37, 8, 12, 1); /* one handle */
        race_threads(30 + round, "3" ETH, "37" ETH, 12, 8, 6, 2);  /* two handles on one file */
        race_threads(40 + round, "7", "100", 14, 6, 10, 2);        /* 100 / 7 = 14 */
    }
}

static void run_all_pg(void)
{
    run_all();
    race_threads(50, "1" ETH, "37" ETH, 37, 8, 12, 2);
}

static void race_pg_processes(void)
{
    for (int round = 0; round < 3; round++) {
        race_processes(60 + round, "1" ETH, "37" ETH, 37, 4, 15);
        race_processes(70 + round, "3" ETH, "37" ETH, 12, 4, 8);
        race_processes(80 + round, "1606938044258990275541962092341162602522202993782792835301376", /* 2^200 */
                       "8034690221294951377709810461705813012611014968913964176506881", 5, 3, 4);   /* 5*2^200+1 */
    }
}

static void test_sqlite(void **state)
{
    (void)state;
    tsu_test_sqlite(run_all);
}

static void test_sqlite_threads(void **state)
{
    (void)state;
    tsu_test_sqlite(race_sqlite);
}

static void test_postgresql(void **state)
{
    (void)state;
    tsu_test_pg(run_all_pg);
}

static void test_postgresql_processes(void **state)
{
    (void)state;
    tsu_test_pg(race_pg_processes);
}

int main(void)
{
    if (tsu_pg_required() && tsu_pg_url() == NULL) {
        printf("skipped: the PostgreSQL test cluster is not available\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite),
        cmocka_unit_test(test_sqlite_threads),
        cmocka_unit_test(test_postgresql),
        cmocka_unit_test(test_postgresql_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
