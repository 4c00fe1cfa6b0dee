/* Fuzz harness: the custom consensus network config YAML subset (sigil_network_from_yaml).
 * Invariants: never crashes; an error leaves *out untouched; an accepted config has a
 * NUL-terminated name, SLOTS_PER_EPOCH in 1..1024, phase0 at epoch 0 with the genesis fork
 * version, scheduled fork epochs that never decrease and only after a scheduled predecessor, and
 * a fork_at() that agrees with the schedule. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/result.h"
#include "eth2/network.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sigil_network n;
    memset(&n, 0xa5, sizeof n);
    struct sigil_network before = n;
    sigil_result r = sigil_network_from_yaml(&n, (const char *)data, size);
    if (!sigil_is_ok(r)) {
        /* both were memset whole, so the padding compares too */
        if (memcmp(&n, &before, sizeof n) != 0) { // NOLINT(bugprone-suspicious-memory-comparison)
            abort();
        }
        if (size > SIGIL_NETWORK_MAX_YAML && r.code != SIGIL_ERR_TOO_LARGE) {
            abort();
        }
        return 0;
    }
    if (size > SIGIL_NETWORK_MAX_YAML || memchr(n.name, '\0', sizeof n.name) == NULL || n.name[0] == '\0') {
        abort();
    }
    if (n.slots_per_epoch == 0 || n.slots_per_epoch > 1024 || n.fork_epoch[SIGIL_FORK_PHASE0] != 0 ||
        memcmp(n.fork_version[SIGIL_FORK_PHASE0], n.genesis_fork_version, 4) != 0) {
        abort();
    }
    uint64_t prev = 0;
    for (int f = 1; f < SIGIL_FORK_COUNT; f++) {
        if (n.fork_epoch[f] == UINT64_MAX) {
            continue;
        }
        if (n.fork_epoch[f] < prev || n.fork_epoch[f - 1] == UINT64_MAX) {
            abort();
        }
        prev = n.fork_epoch[f];
        if (sigil_network_fork_at(&n, n.fork_epoch[f]) < (enum sigil_fork)f) {
            abort();
        }
    }
    if (sigil_network_fork_at(&n, 0) > SIGIL_FORK_FULU ||
        sigil_fork_name(sigil_network_fork_at(&n, UINT64_MAX - 1)) == NULL) {
        abort();
    }
    return 0;
}
