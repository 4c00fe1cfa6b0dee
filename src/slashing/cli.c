/* `sigil slashing import|export|prune`: thin wrappers over the public API with the house exit codes
 * (0 ok, 1 database or I/O failure, 2 bad input, one sentence on stderr). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "slashing/slashing.h"

static int fail(int code, const char *what, sigil_result r)
{
    const char *d = sigil_error_detail();
    fprintf(stderr, "sigil slashing: %s: %s%s%s.\n", what, sigil_strerror(r.code), *d ? ": " : "", d);
    return code;
}

static int usage(const char *msg)
{
    fprintf(stderr,
            "sigil slashing: %s (usage: sigil slashing import FILE --db URL | export [--minimal] --db URL "
            "[--out FILE] | prune --db URL --keep-epochs N [--slots-per-epoch N]).\n",
            msg);
    return 2;
}

static int exit_code_for(sigil_result r)
{
    switch (r.code) {
    case SIGIL_ERR_DB:
    case SIGIL_ERR_IO:
    case SIGIL_ERR_NOMEM:
    case SIGIL_ERR_INTERNAL:
        return 1;
    default:
        return 2;
    }
}

static int read_file(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "sigil slashing: cannot open %s: %s.\n", path, strerror(errno));
        return 2;
    }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b != NULL) {
        if (n == cap) {
            if (cap > SIGIL_SLASHING_IMPORT_MAX) {
                break;
            }
            char *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    bool err = ferror(f);
    (void)fclose(f);
    if (b == NULL || err) {
        free(b);
        fprintf(stderr, "sigil slashing: cannot read %s.\n", path);
        return 1;
    }
    if (n > SIGIL_SLASHING_IMPORT_MAX) {
        free(b);
        fprintf(stderr, "sigil slashing: %s is larger than the %u-byte interchange limit.\n", path,
                SIGIL_SLASHING_IMPORT_MAX);
        return 2;
    }
    *buf = b;
    *len = n;
    return 0;
}

static int cmd_import(const char *file, const char *url)
{
    char *buf;
    size_t len;
    int rc = read_file(file, &buf, &len);
    if (rc != 0) {
        return rc;
    }
    struct sigil_slashing_db *db;
    sigil_result r = sigil_slashing_open(&db, url);
    if (!sigil_is_ok(r)) {
        free(buf);
        return fail(exit_code_for(r), "cannot open the database", r);
    }
    struct sigil_slashing_import_report rep;
    r = sigil_slashing_import(db, buf, len, NULL, 0, &rep);
    free(buf);
    sigil_slashing_close(db);
    if (!sigil_is_ok(r)) {
        return fail(exit_code_for(r), "import failed", r);
    }
    printf("imported %zu validators, %zu blocks, %zu attestations; %zu validators skipped\n", rep.validators,
           rep.blocks, rep.attestations, rep.skipped);
    if (rep.skipped > 0) {
        fprintf(stderr, "sigil slashing: %s.\n", sigil_error_detail());
        return 1;
    }
    return 0;
}

static int cmd_export(const char *url, bool minimal, const char *out)
{
    struct sigil_slashing_db *db;
    sigil_result r = sigil_slashing_open(&db, url);
    if (!sigil_is_ok(r)) {
        return fail(exit_code_for(r), "cannot open the database", r);
    }
    json_t *doc;
    r = sigil_slashing_export(db, &doc, minimal, NULL, 0);
    sigil_slashing_close(db);
    if (!sigil_is_ok(r)) {
        return fail(exit_code_for(r), "export failed", r);
    }
    int rc = 0;
    if (out == NULL) {
        if (json_dumpf(doc, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
            fprintf(stderr, "sigil slashing: cannot write to standard output.\n");
            rc = 1;
        }
    } else {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f == NULL) {
            if (fd >= 0) {
                close(fd);
            }
            fprintf(stderr, "sigil slashing: cannot create %s: %s.\n", out, strerror(errno));
            rc = 2;
        } else {
            bool ok = json_dumpf(doc, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF && fflush(f) == 0 &&
                      fsync(fileno(f)) == 0;
            if (fclose(f) != 0 || !ok) {
                fprintf(stderr, "sigil slashing: cannot write %s.\n", out);
                rc = 1;
            }
        }
    }
    json_decref(doc);
    return rc;
}

static int cmd_prune(const char *url, uint64_t keep, uint64_t spe)
{
    struct sigil_slashing_db *db;
    sigil_result r = sigil_slashing_open(&db, url);
    if (!sigil_is_ok(r)) {
        return fail(exit_code_for(r), "cannot open the database", r);
    }
    r = sigil_slashing_prune(db, keep, spe);
    sigil_slashing_close(db);
    if (!sigil_is_ok(r)) {
        return fail(exit_code_for(r), "prune failed", r);
    }
    return 0;
}

static bool parse_num(const char *s, uint64_t *v) { return sigil_is_ok(sigil_parse_u64(v, s, strlen(s))); }

int sigil_slashing_cli(int argc, char **argv)
{
    int i = 0;
    if (i < argc && strcmp(argv[i], "slashing") == 0) {
        i++;
    }
    if (i >= argc) {
        return usage("missing subcommand");
    }
    const char *cmd = argv[i++];
    const char *db = NULL, *out = NULL, *file = NULL;
    bool minimal = false, have_keep = false;
    uint64_t keep = 0, spe = 32;
    for (; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if (strcmp(a, "--db") == 0 && has_next) {
            db = argv[++i];
        } else if (strcmp(a, "--out") == 0 && has_next) {
            out = argv[++i];
        } else if (strcmp(a, "--minimal") == 0) {
            minimal = true;
        } else if (strcmp(a, "--keep-epochs") == 0 && has_next) {
            if (!parse_num(argv[++i], &keep) || keep == 0) {
                return usage("--keep-epochs needs a positive integer");
            }
            have_keep = true;
        } else if (strcmp(a, "--slots-per-epoch") == 0 && has_next) {
            if (!parse_num(argv[++i], &spe) || spe == 0) {
                return usage("--slots-per-epoch needs a positive integer");
            }
        } else if (a[0] != '-' && file == NULL) {
            file = a;
        } else {
            return usage("unknown or incomplete option");
        }
    }
    if (db == NULL) {
        return usage("--db URL is required");
    }
    if (strcmp(cmd, "import") == 0) {
        if (file == NULL || out != NULL || minimal || have_keep) {
            return usage("import takes FILE and --db URL");
        }
        return cmd_import(file, db);
    }
    if (strcmp(cmd, "export") == 0) {
        if (file != NULL || have_keep) {
            return usage("export takes [--minimal] --db URL [--out FILE]");
        }
        return cmd_export(db, minimal, out);
    }
    if (strcmp(cmd, "prune") == 0) {
        if (file != NULL || out != NULL || minimal || !have_keep) {
            return usage("prune takes --db URL --keep-epochs N");
        }
        return cmd_prune(db, keep, spe);
    }
    return usage("unknown subcommand");
}
