#include "eth2/network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/io.h"
#include "common/json.h"
#include "eth2/ssz.h"

static const char *const fork_names[SIGIL_FORK_COUNT] = {"PHASE0", "ALTAIR",  "BELLATRIX", "CAPELLA",
                                                         "DENEB",  "ELECTRA", "FULU"};

const char *sigil_fork_name(enum sigil_fork f) { return (unsigned)f < SIGIL_FORK_COUNT ? fork_names[f] : NULL; }

#define NS UINT64_MAX /* not scheduled */

struct builtin {
    const char *name;
    uint32_t genesis_version; /* big-endian byte order as written in the configs */
    uint32_t version[SIGIL_FORK_COUNT];
    uint64_t epoch[SIGIL_FORK_COUNT];
    const char *gvr;
    uint64_t slots_per_epoch;
};

/* Sources (checked 2026 against @lodestar/config@1.46.0 in tests/interop/node_modules, files
 * lib/chainConfig/configs/mainnet.js, lib/chainConfig/networks/{hoodi,sepolia,gnosis}.js and
 * lib/networks.js for the genesis validators roots, which agree with the eth-clients
 * metadata repositories). Holesky is no longer shipped by lodestar 1.46: its values are from
 * lodestar's earlier chainConfig/networks/holesky.js and eth-clients/holesky (GVR as in
 * staking-deposit-cli). Gnosis uses the gnosis preset (SLOTS_PER_EPOCH 16, lodestar
 * params/lib/presets/gnosis.js); its signing containers have the mainnet shapes. */
static const struct builtin builtins[] = {
    {"mainnet",
     0x00000000,
     {0x00000000, 0x01000000, 0x02000000, 0x03000000, 0x04000000, 0x05000000, 0x06000000},
     {0, 74240, 144896, 194048, 269568, 364032, 411392},
     "4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95",
     32},
    {"hoodi",
     0x10000910,
     {0x10000910, 0x20000910, 0x30000910, 0x40000910, 0x50000910, 0x60000910, 0x70000910},
     {0, 0, 0, 0, 0, 2048, 50688},
     "212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f",
     32},
    {"sepolia",
     0x90000069,
     {0x90000069, 0x90000070, 0x90000071, 0x90000072, 0x90000073, 0x90000074, 0x90000075},
     {0, 50, 100, 56832, 132608, 222464, 272640},
     "d8ea171f3c94aea21ebc42a1ed61052acf3f9209c00e4efbaaddac09ed9b8078",
     32},
    {"holesky",
     0x01017000,
     {0x01017000, 0x02017000, 0x03017000, 0x04017000, 0x05017000, 0x06017000, 0x07017000},
     {0, 0, 0, 256, 29696, 115968, 165120},
     "9143aa7c615a7f7115e2b6aac319c03529df8242ae705fba9df39b79c59fa8b1",
     32},
    {"gnosis",
     0x00000064,
     {0x00000064, 0x01000064, 0x02000064, 0x03000064, 0x04000064, 0x05000064, 0x06000064},
     {0, 512, 385536, 648704, 889856, 1337856, 1714688},
     "f5dcb5564e829aab27264b9becd5dfaa017085611224cb3036f573368dbb9d47",
     16},
};

static void put_be32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

sigil_result sigil_network_builtin(struct sigil_network *out, const char *name)
{
    if (out == NULL || name == NULL) {
        return sigil_error(SIGIL_ERR_ARG);
    }
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        const struct builtin *b = &builtins[i];
        if (strcmp(name, b->name) != 0) {
            continue;
        }
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", b->name);
        put_be32(out->genesis_fork_version, b->genesis_version);
        for (int f = 0; f < SIGIL_FORK_COUNT; f++) {
            put_be32(out->fork_version[f], b->version[f]);
            out->fork_epoch[f] = b->epoch[f];
        }
        out->has_genesis_validators_root = true;
        SIGIL_GUARD(sigil_hex_decode_exact(out->genesis_validators_root, 32, b->gvr, strlen(b->gvr)));
        out->slots_per_epoch = b->slots_per_epoch;
        return sigil_ok();
    }
    return sigil_errorf(SIGIL_ERR_NOT_FOUND, "no built-in network named '%.40s'", name);
}

enum sigil_fork sigil_network_fork_at(const struct sigil_network *net, uint64_t epoch)
{
    enum sigil_fork f = SIGIL_FORK_PHASE0;
    for (int i = 1; i < SIGIL_FORK_COUNT; i++) {
        if (net->fork_epoch[i] != UINT64_MAX && epoch >= net->fork_epoch[i]) {
            f = (enum sigil_fork)i;
        }
    }
    return f;
}

/* ---- YAML subset ---- */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Trims v[0..*n) in place: surrounding blanks, a trailing comment, then one pair of quotes. */
static const char *clean_value(const char *v, size_t *n)
{
    size_t len = *n;
    while (len > 0 && is_space(v[0])) {
        v++;
        len--;
    }
    if (len > 0 && (v[0] == '"' || v[0] == '\'')) {
        const char *end = memchr(v + 1, v[0], len - 1);
        if (end != NULL) {
            *n = (size_t)(end - v - 1);
            return v + 1;
        }
    }
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '#' && (i == 0 || is_space(v[i - 1]))) {
            len = i;
            break;
        }
    }
    while (len > 0 && is_space(v[len - 1])) {
        len--;
    }
    *n = len;
    return v;
}

static bool key_is(const char *k, size_t kn, const char *want)
{
    return strlen(want) == kn && memcmp(k, want, kn) == 0;
}

static sigil_result parse_version(uint8_t out[4], const char *v, size_t n, unsigned line)
{
    if (n != 10 || v[0] != '0' || (v[1] != 'x' && v[1] != 'X') || !sigil_is_ok(sigil_hex_decode_exact(out, 4, v, n))) {
        return sigil_errorf(SIGIL_ERR_CONFIG,
                            "network config line %u: fork version must be 0x followed by 8 hex digits", line);
    }
    return sigil_ok();
}

static sigil_result parse_u64_value(uint64_t *out, const char *v, size_t n, unsigned line)
{
    if (!sigil_is_ok(sigil_parse_u64(out, v, n))) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "network config line %u: value must be an unsigned 64-bit integer", line);
    }
    return sigil_ok();
}

/* Marks key number bit as seen on this line; a key given twice is an error (which value was
 * meant is not knowable). */
static sigil_result seen_once(uint32_t *seen, unsigned bit, const char *key, size_t kn, unsigned line)
{
    if ((*seen >> bit) & 1u) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "network config line %u: %.*s is given twice", line, (int)kn, key);
    }
    *seen |= 1u << bit;
    return sigil_ok();
}

sigil_result sigil_network_from_yaml(struct sigil_network *out, const char *yaml, size_t len)
{
    if (out == NULL || (yaml == NULL && len != 0)) {
        return sigil_error(SIGIL_ERR_ARG);
    }
    if (len > SIGIL_NETWORK_MAX_YAML) {
        return sigil_errorf(SIGIL_ERR_TOO_LARGE, "network config is %zu bytes, at most %u allowed", len,
                            SIGIL_NETWORK_MAX_YAML);
    }
    struct sigil_network n;
    memset(&n, 0, sizeof n);
    snprintf(n.name, sizeof n.name, "custom");
    n.slots_per_epoch = 32;
    bool have_version[SIGIL_FORK_COUNT] = {false};
    bool have_epoch[SIGIL_FORK_COUNT] = {false};
    for (int f = 0; f < SIGIL_FORK_COUNT; f++) {
        n.fork_epoch[f] = UINT64_MAX;
    }
    n.fork_epoch[SIGIL_FORK_PHASE0] = 0;

    unsigned line = 0;
    size_t pos = 0;
    uint32_t seen = 0;
    while (pos < len) {
        line++;
        const char *l = yaml + pos;
        const char *nl = memchr(l, '\n', len - pos);
        size_t ln = nl ? (size_t)(nl - l) : len - pos;
        pos += ln + (nl ? 1 : 0);
        if (memchr(l, '\0', ln) != NULL) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "network config line %u: NUL byte", line);
        }
        /* Nested YAML (BLOB_SCHEDULE entries, ...) is indented: not ours. */
        if (ln == 0 || is_space(l[0]) || l[0] == '#' || l[0] == '-') {
            continue;
        }
        const char *colon = memchr(l, ':', ln);
        if (colon == NULL) {
            if (ln >= 3 && memcmp(l, "---", 3) == 0) {
                continue;
            }
            return sigil_errorf(SIGIL_ERR_CONFIG, "network config line %u: expected 'KEY: value'", line);
        }
        size_t kn = (size_t)(colon - l);
        size_t vn = ln - kn - 1;
        const char *v = clean_value(colon + 1, &vn);

        if (key_is(l, kn, "CONFIG_NAME")) {
            SIGIL_GUARD(seen_once(&seen, 0, l, kn, line));
            if (vn == 0 || vn >= sizeof n.name) {
                return sigil_errorf(SIGIL_ERR_CONFIG, "network config line %u: CONFIG_NAME must be 1..%zu characters",
                                    line, sizeof n.name - 1);
            }
            memcpy(n.name, v, vn);
            n.name[vn] = '\0';
        } else if (key_is(l, kn, "GENESIS_FORK_VERSION")) {
            SIGIL_GUARD(seen_once(&seen, 1, l, kn, line));
            SIGIL_GUARD(parse_version(n.genesis_fork_version, v, vn, line));
            have_version[SIGIL_FORK_PHASE0] = true;
        } else if (key_is(l, kn, "SLOTS_PER_EPOCH")) {
            SIGIL_GUARD(seen_once(&seen, 2, l, kn, line));
            SIGIL_GUARD(parse_u64_value(&n.slots_per_epoch, v, vn, line));
            if (n.slots_per_epoch == 0 || n.slots_per_epoch > 1024) {
                return sigil_errorf(SIGIL_ERR_CONFIG, "network config line %u: SLOTS_PER_EPOCH must be 1..1024", line);
            }
        } else if (key_is(l, kn, "GENESIS_VALIDATORS_ROOT")) {
            SIGIL_GUARD(seen_once(&seen, 3, l, kn, line));
            if (vn != 66 || v[0] != '0' || (v[1] != 'x' && v[1] != 'X') ||
                !sigil_is_ok(sigil_hex_decode_exact(n.genesis_validators_root, 32, v, vn))) {
                return sigil_errorf(
                    SIGIL_ERR_CONFIG,
                    "network config line %u: GENESIS_VALIDATORS_ROOT must be 0x followed by 64 hex digits", line);
            }
            n.has_genesis_validators_root = true;
        } else {
            for (int f = 1; f < SIGIL_FORK_COUNT; f++) {
                char want[40];
                snprintf(want, sizeof want, "%s_FORK_VERSION", fork_names[f]);
                if (key_is(l, kn, want)) {
                    SIGIL_GUARD(seen_once(&seen, 4u + 2u * (unsigned)f, l, kn, line));
                    SIGIL_GUARD(parse_version(n.fork_version[f], v, vn, line));
                    have_version[f] = true;
                    break;
                }
                snprintf(want, sizeof want, "%s_FORK_EPOCH", fork_names[f]);
                if (key_is(l, kn, want)) {
                    SIGIL_GUARD(seen_once(&seen, 5u + 2u * (unsigned)f, l, kn, line));
                    SIGIL_GUARD(parse_u64_value(&n.fork_epoch[f], v, vn, line));
                    have_epoch[f] = true;
                    break;
                }
            }
        }
    }
    if (!have_version[SIGIL_FORK_PHASE0]) {
        return sigil_errorf(SIGIL_ERR_CONFIG, "network config has no GENESIS_FORK_VERSION");
    }
    memcpy(n.fork_version[SIGIL_FORK_PHASE0], n.genesis_fork_version, 4);
    uint64_t prev = 0;
    for (int f = 1; f < SIGIL_FORK_COUNT; f++) {
        if (have_epoch[f] && n.fork_epoch[f] != UINT64_MAX && !have_version[f]) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "network config schedules %s_FORK_EPOCH without %s_FORK_VERSION",
                                fork_names[f], fork_names[f]);
        }
        if (n.fork_epoch[f] == UINT64_MAX) {
            continue;
        }
        if (n.fork_epoch[f] < prev || n.fork_epoch[f - 1] == UINT64_MAX) {
            return sigil_errorf(SIGIL_ERR_CONFIG, "network config: %s_FORK_EPOCH is scheduled before an earlier fork",
                                fork_names[f]);
        }
        prev = n.fork_epoch[f];
    }
    *out = n;
    return sigil_ok();
}

sigil_result sigil_network_load(struct sigil_network *out, const char *name_or_path)
{
    if (out == NULL || name_or_path == NULL) {
        return sigil_error(SIGIL_ERR_ARG);
    }
    if (sigil_is_ok(sigil_network_builtin(out, name_or_path))) {
        return sigil_ok();
    }
    sigil_error_clear();
    char *buf = NULL;
    size_t len = 0;
    sigil_result r = sigil_read_file(&buf, &len, name_or_path, SIGIL_NETWORK_MAX_YAML);
    if (!sigil_is_ok(r)) {
        if (r.code == SIGIL_ERR_TOO_LARGE) {
            return r;
        }
        return sigil_errorf(SIGIL_ERR_IO, "'%.200s' is neither a built-in network nor a readable config file",
                            name_or_path);
    }
    r = sigil_network_from_yaml(out, buf, len);
    free(buf);
    return r;
}

void sigil_compute_domain(uint8_t out[32], const uint8_t domain_type[4], const uint8_t fork_version[4],
                          const uint8_t gvr[32])
{
    uint8_t version_chunk[32] = {0};
    memcpy(version_chunk, fork_version, 4);
    uint8_t fork_data_root[32];
    sigil_ssz_hash2(fork_data_root, version_chunk, gvr);
    memcpy(out, domain_type, 4);
    memcpy(out + 4, fork_data_root, 28);
}

void sigil_compute_signing_root(uint8_t out[32], const uint8_t object_root[32], const uint8_t domain[32])
{
    sigil_ssz_hash2(out, object_root, domain);
}
