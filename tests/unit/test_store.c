/* Artifact store: migrations, data keys, validator keys paged 1000 at a time, active flags, TLS
 * keys, conflicts and all-or-nothing batches, on SQLite and (with the pg fixture) PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
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
        assert_true(sigil_is_ok(sigil_store_page_vkeys(s, ap, SIGIL_STORE_PAGE_MAX, true, on_vkey, &c, &got)));
        memcpy(after, c.last, 48);
        ap = after;
        pages++;
    } while (got == SIGIL_STORE_PAGE_MAX);
    assert_int_equal(c.n, total);
    assert_int_equal(pages, 3);
    assert_true(c.ordered);
    assert_true(c.blob_ok);
    assert_int_equal(sigil_store_page_vkeys(s, NULL, 1001, true, on_vkey, &c, &got).code, SIGIL_ERR_ARG);

    /* active flag */
    uint8_t pk[48];
    pk_of(pk, 10);
    assert_true(sigil_is_ok(sigil_store_set_vkey_active(s, pk, false)));
    assert_true(sigil_is_ok(sigil_store_count_vkeys(s, true, &cnt)));
    assert_int_equal(cnt, total - 1);
    struct collect c2 = {.ordered = true, .blob_ok = true};
    assert_true(sigil_is_ok(sigil_store_page_vkeys(s, NULL, 1000, true, on_vkey, &c2, &got)));
    assert_true(sigil_is_ok(sigil_store_page_vkeys(s, c2.last, 1000, true, on_vkey, &c2, &got)));
    assert_true(sigil_is_ok(sigil_store_page_vkeys(s, c2.last, 1000, true, on_vkey, &c2, &got)));
    assert_int_equal(c2.n, total - 1);
    pk_of(pk, 999998);
    assert_int_equal(sigil_store_set_vkey_active(s, pk, false).code, SIGIL_ERR_NOT_FOUND);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
