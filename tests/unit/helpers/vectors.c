#include "helpers/vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

const char *vectors_path(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("SIGIL_VECTORS");
    if (root == NULL || access(root, R_OK) != 0) {
        printf("skipped: SIGIL_VECTORS is not set or not readable (expected ../shared/vectors)\n");
        exit(77);
    }
    snprintf(buf, sizeof buf, "%s/%s", root, rel);
    if (access(buf, R_OK) != 0) {
        printf("skipped: %s not found\n", buf);
        exit(77);
    }
    return buf;
}

json_t *vectors_load_json(const char *rel)
{
    const char *p = vectors_path(rel);
    json_error_t err;
    json_t *j = json_load_file(p, 0, &err);
    if (j == NULL) {
        fprintf(stderr, "cannot parse %s: %s (line %d)\n", p, err.text, err.line);
        abort();
    }
    return j;
}
