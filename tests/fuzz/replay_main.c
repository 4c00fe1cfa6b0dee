/* Replay driver for the fuzz harnesses when libFuzzer is not in the build: runs
 * LLVMFuzzerTestOneInput over every file in the given corpus directories, then over a fixed
 * set of deterministic hostile inputs (empty, all-zero, all-0xff, and pseudo-random buffers of
 * many lengths), so ctest exercises each parser with hostile data on every run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }
    uint8_t *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (buf != NULL) {
        LLVMFuzzerTestOneInput(buf, n);
        free(buf);
    }
    return 1;
}

static size_t run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return run_file(dir);
    }
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        count += run_file(path);
    }
    closedir(d);
    return count;
}

int main(int argc, char **argv)
{
    size_t files = 0;
    for (int i = 1; i < argc; i++) {
        files += run_dir(argv[i]);
    }
    /* xorshift: deterministic so failures reproduce */
    uint64_t s = 0x9e3779b97f4a7c15ull;
    static uint8_t buf[70000];
    size_t generated = 0;
    static const size_t lens[] = {0,  1,  2,   31,  32,  33,  47,  48,   49,   95,
                                  96, 97, 191, 192, 193, 255, 256, 1024, 4096, 65536};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        memset(buf, 0, n);
        LLVMFuzzerTestOneInput(buf, n);
        memset(buf, 0xff, n);
        LLVMFuzzerTestOneInput(buf, n);
        for (int rep = 0; rep < 64; rep++) {
            for (size_t k = 0; k < n; k++) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                buf[k] = (uint8_t)s;
            }
            LLVMFuzzerTestOneInput(buf, n);
        }
        generated += 66;
    }
    printf("replayed %zu corpus files and %zu generated inputs\n", files, generated);
    return 0;
}
