/* Artifact store: migrations (v1 -> v2 keeps the keys), data keys, validator keys paged 1000 at a
 * time, active flags, TLS keys, conflicts and all-or-nothing batches, eth1 keys (20-byte address
 * ids) paged together with eth2 keys, policies (active one, re-activation, hash check, limits), on
 * SQLite and (with the pg fixture) PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "store/store.h"
#include "test_slashing_util.h"

static char g_url[600];

static void fresh_url(void)
{
    const char *pg = tsu_pg_url();
    if (tsu_pg_required() || pg != NULL) {
        assert_non_null(pg);
        assert_int_equal(tsu_pg_reset(pg), 1);
        int n = snprintf(g_url, sizeof g_url, "%s", pg);
        assert_true(n > 0 && (size_t)n < sizeof g_url);
        return;
    }
    char dir[] = "/tmp/sigil-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    (void)snprintf(g_url, sizeof g_url, "sqlite:%s/store.db", dir);
}

static void pk_of(uint8_t pk[48], unsigned i)
{
    memset(pk, 0xa0, 48);
    pk[0] = (uint8_t)(i >> 16);
    pk[1] = (uint8_t)(i >> 8);
    pk[2] = (uint8_t)i;
}

static void test_migrate_and_reopen(void **st)
{
    (void)st;
    fresh_url();
    struct sigil_store *s = NULL;
    assert_true(sigil_is_ok(sigil_store_open(&s, g_url)));
    int64_t v = 0;
    assert_true(sigil_is_ok(sigil_store_schema_version(s, &v)));
    assert_int_equal(v, SIGIL_STORE_SCHEMA_VERSION);
    sigil_store_close(s);
    assert_true(sigil_is_ok(sigil_store_open(&s, g_url)));
    assert_true(sigil_is_ok(sigil_store_schema_version(s, &v)));
    assert_int_equal(v, SIGIL_STORE_SCHEMA_VERSION);
    sigil_store_close(s);
    assert_int_equal(sigil_store_open(&s, "mysql://x").code, SIGIL_ERR_CONFIG);
    assert_int_equal(sigil_store_open(&s, "sqlite:").code, SIGIL_ERR_CONFIG);
    assert_null(s);
}

static void test_newer_schema_refused(void **st)
{
    (void)st;
    if (tsu_pg_url() != NULL) {
        skip();
    }
    fresh_url();
    struct sigil_store *s = NULL;
    assert_true(sigil_is_ok(sigil_store_open(&s, g_url)));
    sigil_store_close(s);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(g_url + 7, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES(99)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(sigil_store_open(&s, g_url).code, SIGIL_ERR_DB);
    assert_non_null(strstr(sigil_error_detail(), "newer"));
}

struct collect {
    unsigned n;
    uint8_t last[48];
    bool ordered;
    bool blob_ok;
};

static sigil_result on_vkey(void *ctx, const struct sigil_store_vkey *k)
{
    struct collect *c = ctx;
    if (c->n > 0 && memcmp(c->last, k->pubkey, 48) >= 0) {
        c->ordered = false;
    }
    memcpy(c->last, k->pubkey, 48);
    c->blob_ok = c->blob_ok && k->ciphertext_len == 60 && k->ciphertext[0] == k->pubkey[2] &&
                 strcmp(k->chain, "eth2") == 0 && strcmp(k->data_key_id, "dk-1") == 0;
    c->n++;
    return sigil_ok();
}

static sigil_result on_dkey(void *ctx, const struct sigil_store_data_key *k)
{
    unsigned *n = ctx;
    assert_true(strcmp(k->id, "dk-1") == 0 || strcmp(k->id, "dk-2") == 0);
    assert_string_equal(k->kms_key_id, "arn:aws:kms:us-east-1:1:key/abc");
    assert_int_equal(k->blob_len, 5);
    (*n)++;
    return sigil_ok();
}

static void test_keys(void **st)
{
    (void)st;
    fresh_url();
    struct sigil_store *s = NULL;
    assert_true(sigil_is_ok(sigil_store_open(&s, g_url)));
    const uint8_t blob[5] = {1, 2, 3, 4, 5};
    assert_true(sigil_is_ok(sigil_store_add_data_key(s, "dk-1", "arn:aws:kms:us-east-1:1:key/abc", blob, 5)));
    assert_int_equal(sigil_store_add_data_key(s, "dk-1", "arn:aws:kms:us-east-1:1:key/abc", blob, 5).code,
                     SIGIL_ERR_CONFLICT);
    assert_int_equal(sigil_store_add_data_key(s, "bad id", "k", blob, 5).code, SIGIL_ERR_ARG);
    assert_true(sigil_is_ok(sigil_store_add_data_key(s, "dk-2", "arn:aws:kms:us-east-1:1:key/abc", blob, 5)));
    unsigned nd = 0;
    assert_true(sigil_is_ok(sigil_store_list_data_keys(s, on_dkey, &nd)));
    assert_int_equal(nd, 2);

    const unsigned total = 2500;
    uint8_t ct[60];
    assert_true(sigil_is_ok(sigil_store_begin(s)));
    for (unsigned i = 0; i < total; i++) {
        struct sigil_store_vkey k = {.chain = "eth2", .active = true, .data_key_id = "dk-1"};
        pk_of(k.pubkey, (i * 7919u) % total); /* inserted out of order */
        memset(ct, 0x5c, sizeof ct);
        ct[0] = k.pubkey[2];
        k.ciphertext = ct;
        k.ciphertext_len = sizeof ct;
        assert_true(sigil_is_ok(sigil_store_add_vkey(s, &k)));
    }
    assert_true(sigil_is_ok(sigil_store_commit(s)));

    struct sigil_store_vkey dup = {
        .chain = "eth2", .active = true, .data_key_id = "dk-1", .ciphertext = ct, .ciphertext_len = sizeof ct};
    pk_of(dup.pubkey, 5);
    assert_int_equal(sigil_store_add_vkey(s, &dup).code, SIGIL_ERR_CONFLICT);
    pk_of(dup.pubkey, 999999);
    (void)snprintf(dup.data_key_id, sizeof dup.data_key_id, "dk-missing");
    assert_int_equal(sigil_store_add_vkey(s, &dup).code, SIGIL_ERR_NOT_FOUND);

    /* all-or-nothing batch */
    assert_true(sigil_is_ok(sigil_store_begin(s)));
    (void)snprintf(dup.data_key_id, sizeof dup.data_key_id, "dk-2");
    assert_true(sigil_is_ok(sigil_store_add_vkey(s, &dup)));
    sigil_store_rollback(s);

    uint64_t cnt = 0;
    assert_true(sigil_is_ok(sigil_store_count_vkeys(s, false, &cnt)));
    assert_int_equal(cnt, total);

    /* page through */
    struct collect c = {.ordered = true, .blob_ok = true};
    uint8_t after[48];
    size_t got = 0, pages = 0;
    const uint8_t *ap = NULL;
    do {
        assert_true(sigil_is_ok(sigil_store_page_vkeys(s, ap, 48, SIGIL_STORE_PAGE_MAX, true, on_vkey, &c, &got)));
        memcpy(after, c.last, 48);
        ap = after;
        pages++;
    } while (got == SIGIL_STORE_PAGE_MAX);
    assert_int_equal(c.n, total);
    assert_int_equal(pages, 3);
    assert_true(c.ordered);
    assert_true(c.blob_ok);
    assert_int_equal(sigil_store_page_vkeys(s, NULL, 0, 1001, true, on_vkey, &c, &got).code, SIGIL_ERR_ARG);

    /* active flag */
    uint8_t pk[48];
    pk_of(pk, 10);
    assert_true(sigil_is_ok(sigil_store_set_vkey_active(s, pk, 48, false)));
    assert_true(sigil_is_ok(sigil_store_count_vkeys(s, true, &cnt)));
    assert_int_equal(cnt, total - 1);
    struct collect c2 = {.ordered = true, .blob_ok = true};
    assert_true(sigil_is_ok(sigil_store_page_vkeys(s, NULL, 0, 1000, true, on_vkey, &c2, &got)));
    assert_true(sigil_is_ok(sigil_store_page_vkeys(s, c2.last, 48, 1000, true, on_vkey, &c2, &got)));
    assert_true(sigil_is_ok(sigil_store_page_vkeys(s, c2.last, 48, 1000, true, on_vkey, &c2, &got)));
    assert_int_equal(c2.n, total - 1);
    pk_of(pk, 999998);
    assert_int_equal(sigil_store_set_vkey_active(s, pk, 48, false).code, SIGIL_ERR_NOT_FOUND);
    sigil_store_close(s);
}

static sigil_result on_tls(void *ctx, const struct sigil_store_tls_key *k)
{
    char *id = ctx;
    (void)snprintf(id, SIGIL_STORE_ID_MAX, "%s", k->id);
    assert_true(k->active);
    assert_non_null(strstr(k->cert_pem, "BEGIN"));
    assert_int_equal(k->key_ciphertext_len, 3);
    return sigil_ok();
}

static void test_tls(void **st)
{
    (void)st;
    fresh_url();
    struct sigil_store *s = NULL;
    assert_true(sigil_is_ok(sigil_store_open(&s, g_url)));
    char id[SIGIL_STORE_ID_MAX] = "";
    assert_int_equal(sigil_store_active_tls_key(s, on_tls, id).code, SIGIL_ERR_NOT_FOUND);
    const uint8_t blob[3] = {9, 9, 9};
    assert_true(sigil_is_ok(sigil_store_add_data_key(s, "dk-1", "key", blob, 3)));
    struct sigil_store_tls_key k = {.id = "tls-1",
                                    .cert_pem = "-----BEGIN CERTIFICATE-----\n",
                                    .data_key_id = "dk-1",
                                    .key_ciphertext = blob,
                                    .key_ciphertext_len = 3};
    assert_true(sigil_is_ok(sigil_store_add_tls_key(s, &k)));
    assert_true(sigil_is_ok(sigil_store_active_tls_key(s, on_tls, id)));
    assert_string_equal(id, "tls-1");
    (void)snprintf(k.id, sizeof k.id, "tls-2");
    assert_true(sigil_is_ok(sigil_store_add_tls_key(s, &k)));
    assert_true(sigil_is_ok(sigil_store_active_tls_key(s, on_tls, id)));
    assert_string_equal(id, "tls-2");
    assert_int_equal(sigil_store_add_tls_key(s, &k).code, SIGIL_ERR_CONFLICT);
    /* the failed add rolled back: tls-2 is still the active one */
    assert_true(sigil_is_ok(sigil_store_active_tls_key(s, on_tls, id)));
    assert_string_equal(id, "tls-2");
    sigil_store_close(s);
}

/* ---- eth1 keys and policies (schema 2) ---- */

struct mixed {
    unsigned n, eth1, eth2;
    uint8_t last[48];
    size_t last_len;
    bool ordered;
};

static sigil_result on_mixed(void *ctx, const struct sigil_store_vkey *k)
{
    struct mixed *m = ctx;
    size_t n = m->last_len < k->pubkey_len ? m->last_len : k->pubkey_len;
    int c = memcmp(m->last, k->pubkey, n);
    if (m->n > 0 && (c > 0 || (c == 0 && m->last_len >= k->pubkey_len))) {
        m->ordered = false;
    }
    memcpy(m->last, k->pubkey, k->pubkey_len);
    m->last_len = k->pubkey_len;
    if (strcmp(k->chain, "eth1") == 0) {
        assert_int_equal(k->pubkey_len, 20);
        m->eth1++;
    } else {
        assert_string_equal(k->chain, "eth2");
        assert_int_equal(k->pubkey_len, 48);
        m->eth2++;
    }
    m->n++;
    return sigil_ok();
}

static void test_eth1_keys(void **st)
{
    (void)st;
    fresh_url();
    struct sigil_store *s = NULL;
    assert_true(sigil_is_ok(sigil_store_open(&s, g_url)));
    const uint8_t blob[5] = {1, 2, 3, 4, 5};
    assert_true(sigil_is_ok(sigil_store_add_data_key(s, "dk-1", "arn:aws:kms:us-east-1:1:key/abc", blob, 5)));
    uint8_t ct[60];
    memset(ct, 0x5c, sizeof ct);
    /* 1200 eth1 keys and 300 eth2 keys, interleaved in id order (shared first bytes) */
    assert_true(sigil_is_ok(sigil_store_begin(s)));
    for (unsigned i = 0; i < 1500; i++) {
        struct sigil_store_vkey k = {.active = true, .data_key_id = "dk-1", .ciphertext = ct, .ciphertext_len = 60};
        pk_of(k.pubkey, (i * 7919u) % 1500);
        bool eth1 = i % 5 != 0;
        k.pubkey_len = eth1 ? SIGIL_STORE_ADDRESS_LEN : SIGIL_STORE_PUBKEY_LEN;
        (void)snprintf(k.chain, sizeof k.chain, "%s", eth1 ? "eth1" : "eth2");
        assert_true(sigil_is_ok(sigil_store_add_vkey(s, &k)));
    }
    assert_true(sigil_is_ok(sigil_store_commit(s)));
    /* a 20-byte id and a 48-byte id with the same first 20 bytes are different keys */
    struct sigil_store_vkey k = {.active = true, .data_key_id = "dk-1", .ciphertext = ct, .ciphertext_len = 60};
    k.pubkey_len = 20;
    (void)snprintf(k.chain, sizeof k.chain, "eth1");
    pk_of(k.pubkey, 5000);
    assert_true(sigil_is_ok(sigil_store_add_vkey(s, &k)));
    assert_int_equal(sigil_store_add_vkey(s, &k).code, SIGIL_ERR_CONFLICT);
    k.pubkey_len = 48;
    (void)snprintf(k.chain, sizeof k.chain, "eth2");
    assert_true(sigil_is_ok(sigil_store_add_vkey(s, &k)));
    /* the id length must fit the chain; unknown chains are refused */
    k.pubkey_len = 48;
    (void)snprintf(k.chain, sizeof k.chain, "eth1");
    assert_int_equal(sigil_store_add_vkey(s, &k).code, SIGIL_ERR_ARG);
    k.pubkey_len = 20;
    (void)snprintf(k.chain, sizeof k.chain, "eth2");
    assert_int_equal(sigil_store_add_vkey(s, &k).code, SIGIL_ERR_ARG);
    (void)snprintf(k.chain, sizeof k.chain, "btc");
    assert_int_equal(sigil_store_add_vkey(s, &k).code, SIGIL_ERR_ARG);
    /* page through both chains with variable-length cursors */
    struct mixed m = {.ordered = true};
    size_t got = 0, pages = 0;
    do {
        assert_true(
            sigil_is_ok(sigil_store_page_vkeys(s, m.n ? m.last : NULL, m.last_len, 700, true, on_mixed, &m, &got)));
        pages++;
    } while (got == 700);
    assert_int_equal(m.n, 1502);
    assert_int_equal(m.eth1, 1201);
    assert_int_equal(m.eth2, 301);
    assert_int_equal(pages, 3);
    assert_true(m.ordered);
    assert_int_equal(sigil_store_page_vkeys(s, m.last, 0, 10, true, on_mixed, &m, &got).code, SIGIL_ERR_ARG);
    assert_int_equal(sigil_store_page_vkeys(s, m.last, 49, 10, true, on_mixed, &m, &got).code, SIGIL_ERR_ARG);
    /* deactivate an eth1 key by its address */
    assert_true(sigil_is_ok(sigil_store_set_vkey_active(s, k.pubkey, 20, false)));
    uint64_t cnt = 0;
    assert_true(sigil_is_ok(sigil_store_count_vkeys(s, true, &cnt)));
    assert_int_equal(cnt, 1501);
    assert_int_equal(sigil_store_set_vkey_active(s, k.pubkey, 0, false).code, SIGIL_ERR_ARG);
    sigil_store_close(s);
}

struct pol_seen {
    char text[256];
    uint8_t hash[32];
};

static sigil_result on_pol(void *ctx, const struct sigil_store_policy *p)
{
    struct pol_seen *ps = ctx;
    assert_true(p->rules_len < sizeof ps->text);
    memcpy(ps->text, p->rules, p->rules_len + 1);
    memcpy(ps->hash, p->hash, 32);
    return sigil_ok();
}

static void test_policies(void **st)
{
    (void)st;
    fresh_url();
    struct sigil_store *s = NULL;
    assert_true(sigil_is_ok(sigil_store_open(&s, g_url)));
    struct pol_seen ps;
    assert_int_equal(sigil_store_active_policy(s, on_pol, &ps).code, SIGIL_ERR_NOT_FOUND);
    const char *a = "{\"version\":1,\"policies\":[]}", *b = "{\"version\":1,\"policies\":[] }";
    uint8_t ha[32], hb[32], want[32];
    assert_true(sigil_is_ok(sigil_store_set_policy(s, a, strlen(a), ha)));
    SHA256((const uint8_t *)a, strlen(a), want);
    assert_memory_equal(ha, want, 32);
    assert_true(sigil_is_ok(sigil_store_active_policy(s, on_pol, &ps)));
    assert_string_equal(ps.text, a);
    assert_memory_equal(ps.hash, ha, 32);
    assert_true(sigil_is_ok(sigil_store_set_policy(s, b, strlen(b), hb)));
    assert_true(sigil_is_ok(sigil_store_active_policy(s, on_pol, &ps)));
    assert_string_equal(ps.text, b);
    /* setting a stored file again reactivates it */
    assert_true(sigil_is_ok(sigil_store_set_policy(s, a, strlen(a), NULL)));
    assert_true(sigil_is_ok(sigil_store_active_policy(s, on_pol, &ps)));
    assert_string_equal(ps.text, a);
    /* none active: the default policy */
    assert_true(sigil_is_ok(sigil_store_clear_policy(s)));
    assert_int_equal(sigil_store_active_policy(s, on_pol, &ps).code, SIGIL_ERR_NOT_FOUND);
    /* limits */
    assert_int_equal(sigil_store_set_policy(s, "", 0, NULL).code, SIGIL_ERR_ARG);
    assert_int_equal(sigil_store_set_policy(s, "{\0}", 3, NULL).code, SIGIL_ERR_ARG);
    char *big = malloc(SIGIL_STORE_POLICY_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', SIGIL_STORE_POLICY_MAX + 1);
    big[SIGIL_STORE_POLICY_MAX + 1] = '\0';
    assert_int_equal(sigil_store_set_policy(s, big, SIGIL_STORE_POLICY_MAX + 1, NULL).code, SIGIL_ERR_TOO_LARGE);
    free(big);
    sigil_store_close(s);
    if (tsu_pg_url() != NULL) {
        return;
    }
    /* a row changed behind the store's back no longer matches its hash: refused */
    assert_true(sigil_is_ok(sigil_store_open(&s, g_url)));
    assert_true(sigil_is_ok(sigil_store_set_policy(s, a, strlen(a), NULL)));
    sigil_store_close(s);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(g_url + 7, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE policies SET rules = CAST('{\"version\":1,\"policies\":[1]}' AS BLOB)"
                                  " WHERE active = 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_true(sigil_is_ok(sigil_store_open(&s, g_url)));
    assert_int_equal(sigil_store_active_policy(s, on_pol, &ps).code, SIGIL_ERR_DB);
    assert_non_null(strstr(sigil_error_detail(), "hash"));
    sigil_store_close(s);
}

/* A store written by the schema-1 binary opens, migrates to 2 and keeps its keys. */
static void test_migrate_v1(void **st)
{
    (void)st;
    if (tsu_pg_url() != NULL) {
        skip();
    }
    fresh_url();
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(g_url + 7, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE schema_version(version INTEGER NOT NULL); INSERT INTO schema_version VALUES(1);"
                     "CREATE TABLE data_keys(id TEXT PRIMARY KEY, kms_key_id TEXT NOT NULL, ciphertext_blob BLOB NOT "
                     "NULL, created INTEGER NOT NULL);"
                     "CREATE TABLE validator_keys(pubkey BLOB PRIMARY KEY, chain TEXT NOT NULL, active INTEGER NOT "
                     "NULL, created INTEGER NOT NULL, data_key_id TEXT NOT NULL REFERENCES data_keys(id), ciphertext "
                     "BLOB NOT NULL);"
                     "CREATE TABLE tls_keys(id TEXT PRIMARY KEY, cert_pem TEXT NOT NULL, active INTEGER NOT NULL,"
                     " created INTEGER NOT NULL, data_key_id TEXT NOT NULL REFERENCES data_keys(id),"
                     " key_ciphertext BLOB NOT NULL);"
                     "INSERT INTO data_keys VALUES('dk-1','k',X'01',1);"
                     "INSERT INTO validator_keys VALUES(zeroblob(48),'eth2',1,1,'dk-1',X'0102');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    struct sigil_store *s = NULL;
    assert_true(sigil_is_ok(sigil_store_open(&s, g_url)));
    int64_t v = 0;
    assert_true(sigil_is_ok(sigil_store_schema_version(s, &v)));
    assert_int_equal(v, 2);
    uint64_t cnt = 0;
    assert_true(sigil_is_ok(sigil_store_count_vkeys(s, false, &cnt)));
    assert_int_equal(cnt, 1);
    assert_true(sigil_is_ok(sigil_store_set_policy(s, "{}", 2, NULL)));
    sigil_store_close(s);
}

int main(void)
{
    if (tsu_pg_required() && tsu_pg_url() == NULL) {
        (void)puts("skipped: no PostgreSQL fixture URL");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_and_reopen),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_eth1_keys),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_migrate_v1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
