/* Driver for eth2_roots.mjs: reads JSON lines {type, fork, request, signing_root} produced from
 * Lodestar, parses each request with Sigil (mainnet network) and compares the signing root.
 * Alternates between the text entry point and the parsed-object entry point. Prints a summary
 * per (type, fork); exits 1 on any mismatch or parse failure, 2 on usage/IO errors. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "eth2/network.h"
#include "eth2/request.h"

#define MAX_GROUPS 128

struct group {
    char name[96];
    unsigned ok, bad;
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: eth2_driver REQUESTS.jsonl\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    struct sigil_network net;
    if (!sigil_is_ok(sigil_network_builtin(&net, "mainnet"))) {
        return 2;
    }
    static struct group groups[MAX_GROUPS];
    size_t ngroups = 0;
    unsigned total = 0, failures = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t err;
        json_t *rec = json_loadb(line, (size_t)n, 0, &err);
        if (rec == NULL) {
            fprintf(stderr, "line %u: bad JSON: %s\n", total + 1, err.text);
            return 2;
        }
        char gname[96];
        snprintf(gname, sizeof gname, "%s/%s", json_string_value(json_object_get(rec, "type")),
                 json_string_value(json_object_get(rec, "fork")));
        struct group *g = NULL;
        for (size_t i = 0; i < ngroups; i++) {
            if (strcmp(groups[i].name, gname) == 0) {
                g = &groups[i];
            }
        }
        if (g == NULL && ngroups < MAX_GROUPS) {
            g = &groups[ngroups++];
            snprintf(g->name, sizeof g->name, "%s", gname);
        }
        const json_t *req = json_object_get(rec, "request");
        const char *want_hex = json_string_value(json_object_get(rec, "signing_root"));
        uint8_t want[32];
        struct sigil_eth2_request r;
        sigil_result res;
        if (total % 2 == 0) {
            char *body = json_dumps(req, JSON_COMPACT);
            res = sigil_eth2_parse_request(&r, body, strlen(body), &net);
            free(body);
        } else {
            res = sigil_eth2_parse_request_json(&r, req, &net);
        }
        bool ok = sigil_is_ok(res) && want_hex != NULL &&
                  sigil_is_ok(sigil_hex_decode_exact(want, 32, want_hex, strlen(want_hex))) &&
                  memcmp(want, r.signing_root, 32) == 0;
        if (!ok) {
            failures++;
            if (failures <= 10) {
                char got[67] = "-";
                if (sigil_is_ok(res)) {
                    sigil_hex_encode(got, r.signing_root, 32, 1);
                }
                fprintf(stderr, "MISMATCH line %u %s: %s %s; want %s got %s\n", total + 1, gname,
                        sigil_strerror(res.code), sigil_error_detail(), want_hex ? want_hex : "?", got);
            }
        }
        if (g != NULL) {
            ok ? g->ok++ : g->bad++;
        }
        total++;
        json_decref(rec);
    }
    free(line);
    fclose(f);
    for (size_t i = 0; i < ngroups; i++) {
        printf("%-50s %4u ok %4u bad\n", groups[i].name, groups[i].ok, groups[i].bad);
    }
    printf("eth2 roots: %u requests, %zu (type, fork) pairs, %u failures\n", total, ngroups, failures);
    return failures == 0 && total > 0 ? 0 : 1;
}
