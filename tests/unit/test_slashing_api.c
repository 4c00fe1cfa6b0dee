/* Slashing protection API and interchange: sign-time rules (double proposal, double vote, both
 * surround directions, source > target, repeats), registration, disable, GVR pinning, import/export
 * round trips (complete and minimal), import filter, hostile interchange documents, pruning that
 * keeps refusals, uint64 extremes and schema-version refusal. Runs on SQLite, and on PostgreSQL when
 * the test cluster is available. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "slashing/slashing.h"
#include "test_slashing_util.h"

#define GVR_HEX "0x04700007fabc8282644aed6d1c7c9e21d38a03a0c4ba193f3afe428824b3a673"
#define PK1_HEX "0xa99a76ed7796f7be22d5b7e85deeb7c5677e88e511e0b337618f8c4eb61349b4bf2d153f649f7b53359fe8b94a38e44c"
#define PK2_HEX "0xb845089a1457f811bfc000588fbb4e713669be8ce060ea6be3c6ece09afc3794106c91ca73acda5e5457122d58723bed"
#define R1      "0x1111111111111111111111111111111111111111111111111111111111111111"
#define R2      "0x2222222222222222222222222222222222222222222222222222222222222222"

static uint8_t gvr[32], pk1[48], pk2[48], r1[32], r2[32];

static struct sigil_slashing_db *fresh(void)
{
    static char url[512];
    assert_true(tsu_fresh_url(url, sizeof url, "c"));
    struct sigil_slashing_db *db;
    if (!sigil_is_ok(sigil_slashing_open(&db, url))) {
        fail_msg("open %s: %s", url, sigil_error_detail());
    }
    return db;
}

static sigil_result imp(struct sigil_slashing_db *db, const char *doc, struct sigil_slashing_import_report *rep)
{
    return sigil_slashing_import(db, doc, strlen(doc), NULL, 0, rep);
}

static sigil_result blk(struct sigil_slashing_db *db, const uint8_t *pk, uint64_t slot, const uint8_t *root)
{
    return sigil_slashing_sign_block(db, pk, slot, root, gvr);
}

static sigil_result att(struct sigil_slashing_db *db, const uint8_t *pk, uint64_t s, uint64_t t, const uint8_t *root)
{
    return sigil_slashing_sign_attestation(db, pk, s, t, root, gvr);
}

static void root_of(uint8_t out[32], uint64_t a, uint64_t b)
{
    memset(out, 0, 32);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
    out[31] = 0x5a;
}

#define OK(x)         assert_int_equal((x).code, SIGIL_OK)
#define REFUSED(x)    assert_int_equal((x).code, SIGIL_ERR_SLASHING)
#define ERR(x, code_) assert_int_equal((x).code, (code_))

static void t_rules(void)
{
    struct sigil_slashing_db *db = fresh();
    uint8_t other[32] = {0x77};
    ERR(blk(db, pk1, 1, r1), SIGIL_ERR_NOT_FOUND);
    OK(sigil_slashing_register(db, (const uint8_t(*)[48])pk1, 1));
    OK(sigil_slashing_register(db, (const uint8_t(*)[48])pk1, 1)); /* idempotent */
    OK(blk(db, pk1, 10, r1));
    OK(blk(db, pk1, 10, r1)); /* identical repeat */
    REFUSED(blk(db, pk1, 10, r2));
    assert_non_null(strstr(sigil_error_detail(), "double proposal at slot 10"));
    REFUSED(blk(db, pk1, 9, r2)); /* below the low watermark set by the first signing */
    OK(blk(db, pk1, 12, r2));
    OK(blk(db, pk1, 11, r1)); /* complete strategy: a gap above the watermark is fine */

    OK(att(db, pk1, 5, 10, r1));
    OK(att(db, pk1, 5, 10, r1));
    REFUSED(att(db, pk1, 5, 10, r2)); /* double vote */
    REFUSED(att(db, pk1, 6, 10, r1));
    REFUSED(att(db, pk1, 9, 8, other));  /* source > target */
    REFUSED(att(db, pk1, 4, 12, other)); /* below the source watermark */
    OK(att(db, pk1, 8, 9 + 3, other));   /* 8->12 */
    root_of(other, 6, 13);
    REFUSED(att(db, pk1, 6, 13, other)); /* surrounds 8->12 */
    assert_non_null(strstr(sigil_error_detail(), "surround"));
    root_of(other, 9, 11);
    REFUSED(att(db, pk1, 9, 11, other)); /* surrounded by 8->12 */
    root_of(other, 12, 20);
    OK(att(db, pk1, 12, 20, other));
    root_of(other, 12, 12);
    REFUSED(att(db, pk1, 12, 12, other)); /* target 12: a double vote with 8->12 */

    /* disable / enable */
    bool reg, en;
    OK(sigil_slashing_is_registered(db, pk1, &reg, &en));
    assert_true(reg && en);
    OK(sigil_slashing_set_enabled(db, pk1, false));
    OK(sigil_slashing_is_registered(db, pk1, &reg, &en));
    assert_true(reg && !en);
    root_of(other, 30, 31);
    ERR(att(db, pk1, 30, 31, other), SIGIL_ERR_KEY_DISABLED);
    ERR(blk(db, pk1, 100, other), SIGIL_ERR_KEY_DISABLED);
    OK(sigil_slashing_set_enabled(db, pk1, true));
    OK(att(db, pk1, 30, 31, other));
    ERR(sigil_slashing_set_enabled(db, pk2, false), SIGIL_ERR_NOT_FOUND);
    OK(sigil_slashing_is_registered(db, pk2, &reg, &en));
    assert_false(reg);

    /* GVR pinned on first use */
    uint8_t g2[32] = {1};
    ERR(sigil_slashing_sign_block(db, pk1, 200, r1, g2), SIGIL_ERR_GVR_MISMATCH);
    ERR(sigil_slashing_check_gvr(db, g2), SIGIL_ERR_GVR_MISMATCH);
    OK(sigil_slashing_check_gvr(db, gvr));

    /* uint64 extremes */
    OK(blk(db, pk1, UINT64_MAX, r1));
    OK(blk(db, pk1, UINT64_MAX, r1));
    REFUSED(blk(db, pk1, UINT64_MAX, r2));
    OK(att(db, pk1, UINT64_MAX - 1, UINT64_MAX, r1));
    json_t *doc;
    OK(sigil_slashing_export(db, &doc, true, NULL, 0));
    char *s = json_dumps(doc, JSON_COMPACT);
    assert_non_null(strstr(s, "\"18446744073709551615\""));
    free(s);
    json_decref(doc);

    struct sigil_slashing_stats st;
    sigil_slashing_stats(db, &st);
    assert_true(st.commits > 0 && st.records >= 8 && st.refusals >= 8);
    sigil_slashing_close(db);
}

static const char DOC_FULL[] =
    "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX "\"},"
    "\"data\":[{\"pubkey\":\"" PK1_HEX "\",\"signed_blocks\":[{\"slot\":\"100\",\"signing_root\":\"" R1
    "\"},{\"slot\":\"102\"}],"
    "\"signed_attestations\":[{\"source_epoch\":\"10\",\"target_epoch\":\"11\",\"signing_root\":\"" R1 "\"},"
    "{\"source_epoch\":\"11\",\"target_epoch\":\"12\"}]},"
    "{\"pubkey\":\"" PK2_HEX "\",\"signed_blocks\":[{\"slot\":\"7\",\"signing_root\":\"" R2 "\"}],"
    "\"signed_attestations\":[]}]}";

static char *canon(json_t *doc)
{
    json_t *data = json_object_get(doc, "data");
    return json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
}

static void t_roundtrip(void)
{
    struct sigil_slashing_db *db = fresh();
    struct sigil_slashing_import_report rep;
    OK(imp(db, DOC_FULL, &rep));
    assert_int_equal(rep.validators, 2);
    assert_int_equal(rep.blocks, 3);
    assert_int_equal(rep.attestations, 2);
    assert_int_equal(rep.skipped, 0);
    /* import again: idempotent */
    OK(imp(db, DOC_FULL, &rep));
    assert_int_equal(rep.blocks + rep.attestations, 0);
    /* imported keys are registered; imported rules apply */
    OK(blk(db, pk1, 100, r1));
    REFUSED(blk(db, pk1, 100, r2));
    REFUSED(blk(db, pk1, 102, r1)); /* NULL root blocks everything at that slot */
    REFUSED(blk(db, pk1, 99, r1));  /* low watermark */
    OK(blk(db, pk1, 101, r2));      /* gap inside the complete history */
    REFUSED(att(db, pk1, 11, 12, r1));
    OK(att(db, pk1, 10, 11, r1));

    json_t *a, *b;
    OK(sigil_slashing_export(db, &a, false, NULL, 0));
    char *ca = canon(a);
    assert_non_null(strstr(ca, "\"slot\":\"101\""));
    struct sigil_slashing_db *db2 = fresh();
    char *s = json_dumps(a, 0);
    OK(imp(db2, s, &rep));
    free(s);
    OK(sigil_slashing_export(db2, &b, false, NULL, 0));
    char *cb = canon(b);
    assert_string_equal(ca, cb);
    free(ca);
    free(cb);
    json_decref(a);
    json_decref(b);

    /* minimal export: one block and one attestation per key, at the maxima */
    OK(sigil_slashing_export(db, &a, true, NULL, 0));
    json_t *e1 = json_array_get(json_object_get(a, "data"), 0);
    assert_int_equal(json_array_size(json_object_get(e1, "signed_blocks")), 1);
    assert_int_equal(json_array_size(json_object_get(e1, "signed_attestations")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(e1, "signed_blocks"), 0), "slot")), "102");
    struct sigil_slashing_db *db3 = fresh();
    s = json_dumps(a, 0);
    OK(imp(db3, s, &rep));
    free(s);
    json_decref(a);
    REFUSED(blk(db3, pk1, 101, r2));
    REFUSED(blk(db3, pk1, 102, r2));
    OK(blk(db3, pk1, 103, r2));
    REFUSED(att(db3, pk1, 10, 11, r1));
    OK(att(db3, pk1, 11, 13, r2));

    /* export filter */
    OK(sigil_slashing_export(db, &a, false, (const uint8_t(*)[48])pk2, 1));
    assert_int_equal(json_array_size(json_object_get(a, "data")), 1);
    json_decref(a);
    sigil_slashing_close(db);
    sigil_slashing_close(db2);
    sigil_slashing_close(db3);

    /* import filter: only pk2 */
    db = fresh();
    OK(sigil_slashing_import(db, DOC_FULL, strlen(DOC_FULL), (const uint8_t(*)[48])pk2, 1, &rep));
    assert_int_equal(rep.validators, 1);
    bool reg, en;
    OK(sigil_slashing_is_registered(db, pk1, &reg, &en));
    assert_false(reg);
    OK(sigil_slashing_is_registered(db, pk2, &reg, &en));
    assert_true(reg);
    sigil_slashing_close(db);

    /* export of an empty database: no GVR yet */
    db = fresh();
    ERR(sigil_slashing_export(db, &a, false, NULL, 0), SIGIL_ERR_NOT_FOUND);
    sigil_slashing_close(db);
}

static void t_hostile(void)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "{\"metadata\":{\"interchange_format_version\":\"4\",\"genesis_validators_root\":\"" GVR_HEX "\"},\"data\":[]}",
        "{\"metadata\":{\"interchange_format_version\":5,\"genesis_validators_root\":\"" GVR_HEX "\"},\"data\":[]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"0x1234\"},\"data\":[]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\"},\"data\":[]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX "\"}}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX "\"},\"data\":{}}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[],\"extra\":1}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[{\"signed_blocks\":[],\"signed_attestations\":[]}]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[{\"pubkey\":\"" PK1_HEX "\",\"signed_attestations\":[]}]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[{\"pubkey\":\"0xZZ9a76ed7796f7be22d5b7e85deeb7c5677e88e511e0b337618f8c4eb61349b4bf2d153f649f7b"
        "53359fe8b94a38e44c\",\"signed_blocks\":[],\"signed_attestations\":[]}]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[{\"pubkey\":\"" PK1_HEX "\",\"signed_blocks\":[{\"slot\":\"18446744073709551616\"}],"
        "\"signed_attestations\":[]}]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[{\"pubkey\":\"" PK1_HEX "\",\"signed_blocks\":[{\"slot\":\"-1\"}],\"signed_attestations\":[]}]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[{\"pubkey\":\"" PK1_HEX "\",\"signed_blocks\":[{\"slot\":5}],\"signed_attestations\":[]}]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[{\"pubkey\":\"" PK1_HEX "\",\"signed_blocks\":[{\"slot\":\"01\"}],\"signed_attestations\":[]}]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[{\"pubkey\":\"" PK1_HEX "\",\"signed_blocks\":[],\"signed_attestations\":[{\"source_epoch\":"
        "\"1\"}]}]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[{\"pubkey\":\"" PK1_HEX "\",\"signed_blocks\":[{\"slot\":\"1\",\"signing_root\":\"0x12\"}],"
        "\"signed_attestations\":[]}]}",
        /* a valid first validator and a malformed second: nothing at all may be imported */
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[{\"pubkey\":\"" PK1_HEX "\",\"signed_blocks\":[{\"slot\":\"1\"}],\"signed_attestations\":[]},"
        "{\"pubkey\":\"" PK2_HEX "\",\"signed_blocks\":[{\"slot\":\"x\"}],\"signed_attestations\":[]}]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\"},\"data\":[{\"pubkey\":\"" PK1_HEX "\",\"signed_blocks\":[],\"signed_attestations\":[],\"x\":[]}]}",
        "{\"metadata\":{\"interchange_format_version\":\"5\",\"genesis_validators_root\":\"" GVR_HEX
        "\",\"metadata\":{}},\"data\":[]}",
    };
    struct sigil_slashing_db *db = fresh();
    struct sigil_slashing_import_report rep;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sigil_result r = imp(db, bad[i], &rep);
        if (r.code != SIGIL_ERR_PARSE) {
            fail_msg("hostile document %zu: expected PARSE, got %s", i, sigil_strerror(r.code));
        }
    }
    bool reg, en;
    OK(sigil_slashing_is_registered(db, pk1, &reg, &en));
    assert_false(reg);

    /* wrong GVR: pinned first, then the import fails as a whole */
    OK(sigil_slashing_check_gvr(db, gvr));
    char wrong[sizeof DOC_FULL];
    strcpy(wrong, DOC_FULL);
    char *g = strstr(wrong, GVR_HEX);
    g[2] = g[2] == 'f' ? 'e' : 'f';
    ERR(imp(db, wrong, &rep), SIGIL_ERR_GVR_MISMATCH);
    OK(sigil_slashing_is_registered(db, pk1, &reg, &en));
    assert_false(reg);

    /* 100 MB: refused before parsing */
    size_t big = 100u * 1024 * 1024;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    ERR(sigil_slashing_import(db, huge, big, NULL, 0, &rep), SIGIL_ERR_TOO_LARGE);
    free(huge);
    sigil_slashing_close(db);
}

static void t_prune(void)
{
    struct sigil_slashing_db *db = fresh();
    OK(sigil_slashing_register(db, (const uint8_t(*)[48])pk1, 1));
    uint8_t root[32];
    for (uint64_t e = 1; e <= 100; e++) {
        root_of(root, e - 1, e);
        OK(att(db, pk1, e - 1, e, root));
    }
    for (uint64_t s = 32; s <= 3200; s += 32) {
        root_of(root, s, 0);
        OK(blk(db, pk1, s, root));
    }
    OK(sigil_slashing_prune(db, 10, 32));
    json_t *doc;
    OK(sigil_slashing_export(db, &doc, false, NULL, 0));
    json_t *e = json_array_get(json_object_get(doc, "data"), 0);
    size_t nb = json_array_size(json_object_get(e, "signed_blocks"));
    size_t na = json_array_size(json_object_get(e, "signed_attestations"));
    print_message("after pruning: %zu blocks, %zu attestations kept\n", nb, na);
    assert_true(nb == 10 && na == 10);
    json_decref(doc);
    /* pruned history stays refused; kept history behaves as before; new signings work */
    root_of(root, 7, 0);
    REFUSED(blk(db, pk1, 7, root));
    root_of(root, 32, 0);
    REFUSED(blk(db, pk1, 32, root));
    root_of(root, 3200, 0);
    OK(blk(db, pk1, 3200, root));
    REFUSED(blk(db, pk1, 3200, r1));
    root_of(root, 3100, 1);
    OK(blk(db, pk1, 3100, root)); /* a gap above the watermark (2912) of the complete history */
    root_of(root, 2900, 1);
    REFUSED(blk(db, pk1, 2900, root)); /* below the watermark */
    sigil_slashing_close(db);
}

static void t_prune_atts(void)
{
    struct sigil_slashing_db *db = fresh();
    OK(sigil_slashing_register(db, (const uint8_t(*)[48])pk1, 1));
    uint8_t root[32];
    for (uint64_t e = 1; e <= 100; e++) {
        root_of(root, e - 1, e);
        OK(att(db, pk1, e - 1, e, root));
    }
    OK(sigil_slashing_prune(db, 10, 32));
    root_of(root, 50, 51);
    REFUSED(att(db, pk1, 50, 51, root)); /* pruned double-vote candidate */
    root_of(root, 89, 95);
    REFUSED(att(db, pk1, 89, 95, root)); /* below source watermark 90 */
    root_of(root, 90, 91);
    OK(att(db, pk1, 90, 91, root)); /* identical repeat of a kept one */
    root_of(root, 90, 92);
    REFUSED(att(db, pk1, 90, 92, root)); /* double vote with kept 91->92 */
    root_of(root, 100, 101);
    OK(att(db, pk1, 100, 101, root));
    ERR(sigil_slashing_prune(db, 0, 32), SIGIL_ERR_ARG);
    sigil_slashing_close(db);
}

static void t_schema_newer(void)
{
    if (strncmp(tsu_url, "sqlite:", 7) != 0) {
        return;
    }
    char path[512], url[520];
    snprintf(path, sizeof path, "%s/schema.db", tsu_tmp);
    snprintf(url, sizeof url, "sqlite:%s", path);
    struct sigil_slashing_db *db;
    OK(sigil_slashing_open(&db, url));
    sigil_slashing_close(db);
    sqlite3 *s;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    assert_int_equal(sqlite3_exec(s, "UPDATE schema_version SET version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
    ERR(sigil_slashing_open(&db, url), SIGIL_ERR_UNSUPPORTED);
    ERR(sigil_slashing_open(&db, "mysql://x"), SIGIL_ERR_CONFIG);
}

static int cli(int argc, const char *const *argv) { return sigil_slashing_cli(argc, (char **)argv); }

static void t_cli(void)
{
    if (strncmp(tsu_url, "sqlite:", 7) != 0) {
        return;
    }
    char file[512], out[512], url[520], bad[512];
    snprintf(file, sizeof file, "%s/in.json", tsu_tmp);
    snprintf(out, sizeof out, "%s/out.json", tsu_tmp);
    snprintf(bad, sizeof bad, "%s/bad.json", tsu_tmp);
    snprintf(url, sizeof url, "sqlite:%s/cli.db", tsu_tmp);
    FILE *f = fopen(file, "w");
    fputs(DOC_FULL, f);
    fclose(f);
    f = fopen(bad, "w");
    fputs("{\"metadata\":{}}", f);
    fclose(f);
    const char *imp_ok[] = {"slashing", "import", file, "--db", url};
    assert_int_equal(cli(5, imp_ok), 0);
    const char *exp_ok[] = {"slashing", "export", "--db", url, "--out", out};
    assert_int_equal(cli(6, exp_ok), 0);
    json_error_t err;
    json_t *doc = json_load_file(out, 0, &err);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "data")), 2);
    json_decref(doc);
    const char *exp_min[] = {"export", "--minimal", "--db", url, "--out", out};
    assert_int_equal(cli(6, exp_min), 0);
    const char *prune[] = {"slashing", "prune", "--db", url, "--keep-epochs", "4"};
    assert_int_equal(cli(6, prune), 0);
    const char *imp_bad[] = {"slashing", "import", bad, "--db", url};
    assert_int_equal(cli(5, imp_bad), 2);
    const char *missing[] = {"slashing", "import", "/nonexistent/x.json", "--db", url};
    assert_int_equal(cli(5, missing), 2);
    const char *nodb[] = {"slashing", "export"};
    assert_int_equal(cli(2, nodb), 2);
    const char *badkeep[] = {"slashing", "prune", "--db", url, "--keep-epochs", "x"};
    assert_int_equal(cli(6, badkeep), 2);
    const char *unknown[] = {"slashing", "frobnicate", "--db", url};
    assert_int_equal(cli(4, unknown), 2);
}

static void run_all(void)
{
    t_cli();
    t_rules();
    t_roundtrip();
    t_hostile();
    t_prune();
    t_prune_atts();
    t_schema_newer();
}

static void test_sqlite(void **state)
{
    (void)state;
    tsu_test_sqlite(run_all);
}

static void test_postgresql(void **state)
{
    (void)state;
    tsu_test_pg(run_all);
}

int main(void)
{
    if (tsu_pg_required() && tsu_pg_url() == NULL) {
        printf("skipped: the PostgreSQL test cluster is not available\n");
        return 77;
    }
    tsu_hex(gvr, 32, GVR_HEX);
    tsu_hex(pk1, 48, PK1_HEX);
    tsu_hex(pk2, 48, PK2_HEX);
    tsu_hex(r1, 32, R1);
    tsu_hex(r2, 32, R2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite),
        cmocka_unit_test(test_postgresql),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
