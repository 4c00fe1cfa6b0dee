/* Helpers shared by the slashing-protection tests: temporary SQLite paths, the throwaway PostgreSQL
 * cluster of tests/pg (URL from SIGIL_PG_URL or the file named by SIGIL_PG_URL_FILE), hex. */
#ifndef SIGIL_TEST_SLASHING_UTIL_H
#define SIGIL_TEST_SLASHING_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hex.h"

static char tsu_url_buf[1024];

/* The PostgreSQL URL of the test cluster, or NULL when none is available. */
static inline const char *tsu_pg_url(void)
{
    const char *u = getenv("SIGIL_PG_URL");
    if (u != NULL && *u) {
        return u;
    }
    const char *f = getenv("SIGIL_PG_URL_FILE");
    if (f == NULL) {
        return NULL;
    }
    FILE *fp = fopen(f, "r");
    if (fp == NULL) {
        return NULL;
    }
    char *line = fgets(tsu_url_buf, sizeof tsu_url_buf, fp);
    fclose(fp);
    if (line == NULL) {
        return NULL;
    }
    tsu_url_buf[strcspn(tsu_url_buf, "\r\n")] = '\0';
    return tsu_url_buf[0] ? tsu_url_buf : NULL;
}

/* True when the PostgreSQL variant of a test must run (registered with the pg fixture). */
static inline bool tsu_pg_required(void) { return getenv("SIGIL_PG_REQUIRED") != NULL; }

/* Empties the test database (drops every table of the public schema). */
static inline int tsu_pg_reset(const char *url)
{
    PGconn *c = PQconnectdb(url);
    int ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            fprintf(stderr, "pg reset: %s", PQresultErrorMessage(r));
        }
        PQclear(r);
    } else {
        fprintf(stderr, "pg connect: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return ok;
}

/* A fresh temporary directory for SQLite files (the caller removes it with tsu_rmdir). */
static inline char *tsu_tmpdir(void)
{
    char *d = strdup("/tmp/sigil-slashing-XXXXXX");
    if (d == NULL || mkdtemp(d) == NULL) {
        abort();
    }
    return d;
}

static inline void tsu_rmdir(const char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", d);
    }
}

/* Where the running test case puts its databases: "sqlite:" (a new file in tsu_tmp each time) or
 * the PostgreSQL test cluster's URL. Set by tsu_test_sqlite and tsu_test_pg. */
static const char *tsu_url;
static char *tsu_tmp;
static int tsu_case;

/* Writes to URL (N bytes) a fresh database for tsu_url: a new SQLite file tsu_tmp/PREFIX<k>.db,
 * or the PostgreSQL test database emptied. False when emptying it failed. */
static inline bool tsu_fresh_url(char *url, size_t n, const char *prefix)
{
    if (strncmp(tsu_url, "sqlite:", 7) == 0) {
        snprintf(url, n, "sqlite:%s/%s%d.db", tsu_tmp, prefix, tsu_case++);
        return true;
    }
    snprintf(url, n, "%s", tsu_url);
    return tsu_pg_reset(tsu_url);
}

/* A cmocka test case: BODY against SQLite files in a fresh temporary directory, removed
 * afterwards; skipped when only the PostgreSQL variant is to run. */
static inline void tsu_test_sqlite(void (*body)(void))
{
    if (tsu_pg_required()) {
        skip();
    }
    tsu_tmp = tsu_tmpdir();
    tsu_url = "sqlite:";
    body();
    tsu_rmdir(tsu_tmp);
    free(tsu_tmp);
    tsu_tmp = NULL;
}

/* A cmocka test case: BODY against the PostgreSQL test cluster; skipped when there is none. */
static inline void tsu_test_pg(void (*body)(void))
{
    tsu_url = tsu_pg_url();
    if (tsu_url == NULL) {
        print_message("skipped: no PostgreSQL test cluster\n");
        skip();
    }
    body();
}

static inline void tsu_hex(uint8_t *out, size_t n, const char *s)
{
    if (!sigil_is_ok(sigil_hex_decode_exact(out, n, s, strlen(s)))) {
        fprintf(stderr, "bad hex in test data: %s\n", s);
        abort();
    }
}

#endif
