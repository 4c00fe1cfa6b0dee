/* Fuzz harness: the fast-load key cache file, which lives on the (untrusted) disk. Everything the
 * loader reads before the AES-GCM tag is checked (header, KDF parameters, lengths, the record
 * count that sizes allocations) is attacker-controlled; after that the tag refuses forgeries.
 * Invariant: any cache file leads to a clean fallback, never a crash, an unbounded allocation or a
 * key in the store that no keystore provided (the keystore directory here is empty). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "keys/keystore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], cache[96], ks_dir[96], pw_dir[96];

static void cleanup(void)
{
    (void)unlink(cache);
    (void)rmdir(ks_dir);
    (void)rmdir(pw_dir);
    (void)rmdir(dir);
}

static void setup_once(void)
{
    if (dir[0] != '\0') {
        return;
    }
    snprintf(dir, sizeof dir, "/tmp/sigil-fuzz-cache-%ld", (long)getpid());
    snprintf(ks_dir, sizeof ks_dir, "%s/ks", dir);
    snprintf(pw_dir, sizeof pw_dir, "%s/pw", dir);
    snprintf(cache, sizeof cache, "%s/keys.cache", dir);
    if (mkdir(dir, 0700) != 0 || mkdir(ks_dir, 0700) != 0 || mkdir(pw_dir, 0700) != 0) {
        abort();
    }
    (void)atexit(cleanup);
    sigil_log_init((enum sigil_log_level)(SIGIL_LOG_ERROR + 1), 2); /* the fallback warnings are expected here */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    FILE *f = fopen(cache, "wb");
    if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        abort();
    }
    static const uint8_t kek[32] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct sigil_load_opts o = {
        .keystores_dir = ks_dir, .passwords_dir = pw_dir, .threads = 1, .cache_path = cache, .cache_kek = kek};
    struct sigil_keystore *ks = NULL;
    if (!sigil_is_ok(sigil_keystore_new(&ks))) {
        abort();
    }
    struct sigil_load_report rep;
    sigil_result loaded = sigil_keystore_load_dir(ks, &o, &rep);
    (void)loaded; /* any outcome is fine; what is checked is below */
    if (sigil_keystore_count(ks) != 0) {
        abort(); /* a key appeared that no keystore provided */
    }
    sigil_keystore_free(ks);
    (void)unlink(cache);
    return 0;
}
