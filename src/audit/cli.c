/* `sigil audit verify FILE [--signer 0xADDR]... [--attestation-root PEM] [--require-attestation]
 * [--pcr0 HEX] [--json]`: prints a summary (lines, decisions signed/refused, checkpoints, start
 * records and their signers, unsigned tail) and every problem with its line. --pcr0 pins the enclave
 * image (and implies --require-attestation); --require-attestation without it warns on stderr that
 * any image under the root is accepted. Exit 0 clean, 1 the file cannot be read, 2 bad usage, 3
 * problems found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit_internal.h"
#include "common/hex.h"
#include "common/io.h"
#include "crypto/keccak.h"

#define CLI_MAX_SIGNERS 64
#define CLI_ROOT_MAX    (64 * 1024)
#define CLI_MAX_KEPT    10000 /* problems and starts listed; all are counted */

static int usage(const char *msg)
{
    fprintf(stderr,
            "sigil audit: %s (usage: sigil audit verify FILE [--signer 0xADDR]... [--attestation-root PEM] "
            "[--require-attestation] [--pcr0 HEX] [--json]).\n",
            msg);
    return 2;
}

struct cli_args {
    const char *file, *root_path;
    bool json, require, have_pcr0;
    uint8_t signers[CLI_MAX_SIGNERS][20];
    size_t nsigners;
    uint8_t pcr0[1][48]; /* --pcr0: the enclave image every start record must be attested from */
};

struct collected {
    json_t *starts, *problems;
    uint64_t starts_dropped, problems_dropped;
};

static const char *att_name(enum audit_attestation a)
{
    switch (a) {
    case AUDIT_ATT_NONE:
        return "none";
    case AUDIT_ATT_UNCHECKED:
        return "present, not checked";
    case AUDIT_ATT_VALID:
        return "verified";
    case AUDIT_ATT_INVALID:
        return "INVALID";
    }
    return "?";
}

static void on_start(void *ctx, const struct audit_start_info *s)
{
    struct collected *c = ctx;
    if (json_array_size(c->starts) >= CLI_MAX_KEPT) {
        c->starts_dropped++;
        return;
    }
    char addr[43], pcr0[99];
    sigil_eip55_encode(addr, s->address);
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:b, s:s}", "line", (json_int_t)s->line, "seq",
                          (json_int_t)s->seq, "time", s->time, "signer", addr, "version", s->version, "instance",
                          s->instance, "address_matches_key", s->address_ok, "attestation", att_name(s->attestation));
    if (o != NULL && s->attestation == AUDIT_ATT_VALID) {
        json_object_set_new(o, "pcr0", json_string(sigil_hex_encode(pcr0, s->pcr0, 48, 0)));
    }
    if (o != NULL) {
        json_array_append_new(c->starts, o);
    }
}

static void on_problem(void *ctx, uint64_t line, const char *msg)
{
    struct collected *c = ctx;
    if (json_array_size(c->problems) >= CLI_MAX_KEPT) {
        c->problems_dropped++;
        return;
    }
    json_t *o = json_pack("{s:I, s:s}", "line", (json_int_t)line, "message", msg);
    if (o != NULL) {
        json_array_append_new(c->problems, o);
    }
}

static json_int_t ji(uint64_t v) { return (json_int_t)v; }

static void print_json(const char *file, const struct sigil_audit_report *rep, const struct collected *c)
{
    json_t *o = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:I, s:I, s:O}", "file", file, "clean",
                          rep->problems == 0, "lines", ji(rep->lines), "decisions", ji(rep->decisions), "signed",
                          ji(rep->signed_count), "refused", ji(rep->refused_count), "checkpoints", ji(rep->checkpoints),
                          "start_count", ji(rep->starts), "starts", c->starts, "unsigned_tail", ji(rep->unsigned_tail),
                          "problem_count", ji(rep->problems), "problems", c->problems);
    char *s = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (s != NULL) {
        printf("%s\n", s);
    }
    free(s);
    json_decref(o);
}

static void print_text(const char *file, const struct sigil_audit_report *rep, const struct collected *c, bool pinned)
{
    printf("audit log      %s\n", file);
    printf("lines          %llu\n", (unsigned long long)rep->lines);
    printf("decisions      %llu (signed %llu, refused %llu)\n", (unsigned long long)rep->decisions,
           (unsigned long long)rep->signed_count, (unsigned long long)rep->refused_count);
    printf("checkpoints    %llu\n", (unsigned long long)rep->checkpoints);
    printf("starts         %llu%s\n", (unsigned long long)rep->starts,
           pinned || rep->starts == 0 ? ""
                                      : " (signers are self-declared: compare them with your audit keys, or "
                                        "pin them with --signer)");
    size_t i;
    json_t *s;
    json_array_foreach(c->starts, i, s)
    {
        printf("  line %lld  %s  signer %s  version %s  instance \"%s\"  attestation %s",
               (long long)json_integer_value(json_object_get(s, "line")), json_string_value(json_object_get(s, "time")),
               json_string_value(json_object_get(s, "signer")), json_string_value(json_object_get(s, "version")),
               json_string_value(json_object_get(s, "instance")), json_string_value(json_object_get(s, "attestation")));
        const json_t *pcr0 = json_object_get(s, "pcr0");
        if (json_is_string(pcr0)) {
            printf(" (PCR0 %s)", json_string_value(pcr0));
        }
        printf("\n");
    }
    if (c->starts_dropped != 0) {
        printf("  ... and %llu more\n", (unsigned long long)c->starts_dropped);
    }
    if (rep->unsigned_tail == 0) {
        printf("unsigned tail  0 (every record is covered by a valid checkpoint)\n");
    } else {
        printf("unsigned tail  %llu record(s) after the last valid checkpoint are not signed (sigild is still "
               "running, stopped without its final checkpoint, or the checkpoint was removed)\n",
               (unsigned long long)rep->unsigned_tail);
    }
    if (rep->problems == 0) {
        printf("result         clean\n");
        return;
    }
    printf("result         %llu problem(s)\n", (unsigned long long)rep->problems);
    json_array_foreach(c->problems, i, s)
    {
        printf("line %lld: %s\n", (long long)json_integer_value(json_object_get(s, "line")),
               json_string_value(json_object_get(s, "message")));
    }
    if (c->problems_dropped != 0) {
        printf("... and %llu more problem(s)\n", (unsigned long long)c->problems_dropped);
    }
}

static int parse_args(struct cli_args *a, int argc, char **argv, int i)
{
    for (; i < argc; i++) {
        const char *s = argv[i];
        bool has_next = i + 1 < argc;
        if (strcmp(s, "--json") == 0) {
            a->json = true;
        } else if (strcmp(s, "--require-attestation") == 0) {
            a->require = true;
        } else if (strcmp(s, "--attestation-root") == 0 && has_next) {
            a->root_path = argv[++i];
        } else if (strcmp(s, "--pcr0") == 0 && has_next) {
            const char *h = argv[++i];
            if (a->have_pcr0) {
                return usage("--pcr0 given twice");
            }
            /* the length bound first: the decoder would otherwise scan any argument */
            if (strlen(h) > 100 || !sigil_is_ok(sigil_hex_decode_exact(a->pcr0[0], 48, h, strlen(h)))) {
                return usage("--pcr0 needs the enclave image's PCR0: 96 hex digits (48 bytes, SHA-384)");
            }
            a->have_pcr0 = true;
        } else if (strcmp(s, "--signer") == 0 && has_next) {
            const char *h = argv[++i];
            char buf[43];
            if (a->nsigners == CLI_MAX_SIGNERS) {
                return usage("at most 64 --signer options");
            }
            if (strlen(h) == 40) {
                snprintf(buf, sizeof buf, "0x%s", h);
                h = buf;
            }
            if (!sigil_is_ok(sigil_eip55_parse(a->signers[a->nsigners], h))) {
                return usage("--signer needs an address: 0x and 40 hex digits (EIP-55 checksum if mixed case)");
            }
            a->nsigners++;
        } else if (s[0] != '-' && a->file == NULL) {
            a->file = s;
        } else {
            return usage("unknown or incomplete option");
        }
    }
    if (a->file == NULL) {
        return usage("missing FILE");
    }
    if (a->require && a->root_path == NULL) {
        return usage("--require-attestation needs --attestation-root");
    }
    if (a->have_pcr0 && a->root_path == NULL) {
        return usage("--pcr0 needs --attestation-root");
    }
    return 0;
}

static int cmd_verify(const struct cli_args *a)
{
    char *root = NULL;
    size_t root_len = 0;
    if (a->root_path != NULL) {
        sigil_result r = sigil_read_file(&root, &root_len, a->root_path, CLI_ROOT_MAX);
        if (!sigil_is_ok(r)) {
            const char *d = sigil_error_detail();
            fprintf(stderr, "sigil audit: cannot read the attestation root: %s%s%s.\n", sigil_strerror(r.code),
                    *d ? ": " : "", d);
            return 2;
        }
    }
    static const int pcr0_index[1] = {0};
    struct sigil_audit_verify_opts opts = {
        .trusted_signers = a->nsigners != 0 ? (const uint8_t(*)[20])a->signers : NULL,
        .ntrusted = a->nsigners,
        .attestation_root_pem = root,
        .require_attestation = a->require || a->have_pcr0,
        .expect_pcr = a->have_pcr0 ? (const uint8_t(*)[48])a->pcr0 : NULL,
        .expect_pcr_index = a->have_pcr0 ? pcr0_index : NULL,
        .n_expect_pcr = a->have_pcr0 ? 1 : 0,
    };
    struct collected c = {.starts = json_array(), .problems = json_array()};
    struct audit_verify_cb cb = {.start = on_start, .problem = on_problem, .ctx = &c};
    struct sigil_audit_report rep;
    int rc;
    if (c.starts == NULL || c.problems == NULL) {
        fprintf(stderr, "sigil audit: out of memory.\n");
        rc = 1;
        goto out;
    }
    sigil_error_clear();
    sigil_result r = audit_verify_file_cb(a->file, &opts, &cb, &rep);
    if (!sigil_is_ok(r) && r.code != SIGIL_ERR_CRYPTO) {
        const char *d = sigil_error_detail();
        fprintf(stderr, "sigil audit: %s.\n", *d ? d : sigil_strerror(r.code));
        rc = 1;
        goto out;
    }
    if (a->require && !a->have_pcr0) {
        /* after the verdict, so that exit 1 and 2 keep their one line on stderr */
        fprintf(stderr, "sigil audit: warning: the enclave image is not pinned: a start record attested by any "
                        "image under the attestation root passes (pin the image with --pcr0 HEX).\n");
    }
    if (a->json) {
        print_json(a->file, &rep, &c);
    } else {
        print_text(a->file, &rep, &c, a->nsigners != 0);
    }
    rc = rep.problems == 0 ? 0 : 3;
out:
    json_decref(c.starts);
    json_decref(c.problems);
    free(root);
    return rc;
}

int sigil_audit_cli(int argc, char **argv)
{
    int i = 0;
    if (i < argc && strcmp(argv[i], "audit") == 0) {
        i++;
    }
    if (i >= argc) {
        return usage("missing subcommand");
    }
    if (strcmp(argv[i], "verify") != 0) {
        return usage("unknown subcommand");
    }
    struct cli_args *a = calloc(1, sizeof *a);
    if (a == NULL) {
        fprintf(stderr, "sigil audit: out of memory.\n");
        return 1;
    }
    int rc = parse_args(a, argc, argv, i + 1);
    if (rc == 0) {
        rc = cmd_verify(a);
    }
    free(a);
    return rc;
}
