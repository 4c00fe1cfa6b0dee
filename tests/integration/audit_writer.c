/* Test helper for tests/integration/audit_cli_test.sh: appends one sigild-like session to an audit
 * log through the real library and file sink. `audit_writer LOG N [--attest ROOT_PEM_OUT]` writes a
 * start record, N decisions (even ones signed, odd ones refused), the stop record and the final
 * checkpoint, and prints the session's audit address. With --attest the start record carries a
 * simulated-NSM attestation document under a fresh dev root, written to ROOT_PEM_OUT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "audit/audit.h"
#include "common/hex.h"
#include "common/io.h"
#include "common/secmem.h"

static struct sigil_nsm *nsm;

static sigil_result attest_cb(void *ctx, const uint8_t user_data[32], uint8_t **doc, size_t *len)
{
    (void)ctx;
    *doc = malloc(SIGIL_ATTEST_MAX_DOC);
    if (*doc == NULL) {
        return sigil_error(SIGIL_ERR_NOMEM);
    }
    return sigil_nsm_attest(nsm, *doc, SIGIL_ATTEST_MAX_DOC, len, user_data, 32, NULL, 0, NULL, 0);
}

static int fail(const char *what, sigil_result r)
{
    fprintf(stderr, "audit_writer: %s: %s: %s\n", what, sigil_strerror(r.code), sigil_error_detail());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--attest") == 0)) {
        fprintf(stderr, "usage: audit_writer LOG N [--attest ROOT_PEM_OUT]\n");
        return 2;
    }
    unsigned n = (unsigned)strtoul(argv[2], NULL, 10);
    struct sigil_audit_config cfg = {.checkpoint_every = 4, .instance = "integration"};
    char *root_cert = NULL, *root_key = NULL, *leaf_cert = NULL, *leaf_key = NULL;
    sigil_result r;
    if (argc == 5) {
        r = sigil_attest_dev_root_new(&root_cert, &root_key);
        if (sigil_is_ok(r)) {
            r = sigil_attest_dev_issue(&leaf_cert, &leaf_key, root_cert, root_key, 3600);
        }
        if (sigil_is_ok(r)) {
            r = sigil_nsm_open_simulated(&nsm, leaf_cert, strlen(leaf_cert), leaf_key, strlen(leaf_key), root_cert,
                                         strlen(root_cert), "/proc/self/exe");
        }
        if (sigil_is_ok(r)) {
            r = sigil_write_file(argv[4], root_cert, strlen(root_cert), 0644, 0);
        }
        if (!sigil_is_ok(r)) {
            return fail("dev attestation", r);
        }
        cfg.attest = attest_cb;
    }
    r = sigil_audit_file_sink(&cfg.sink, argv[1], &cfg.next_seq, cfg.prev_hash);
    if (!sigil_is_ok(r)) {
        return fail("file sink", r);
    }
    memset(cfg.policy_hash, 0x5a, 32);
    struct sigil_audit *a = NULL;
    r = sigil_audit_open(&a, &cfg);
    if (!sigil_is_ok(r)) {
        return fail("open", r);
    }
    for (unsigned i = 0; i < n; i++) {
        uint8_t account[20], digest[32];
        memset(account, 0xa0, sizeof account);
        memset(digest, (int)i, sizeof digest);
        struct sigil_audit_event ev = {.kind = "tx",
                                       .signed_ = i % 2 == 0,
                                       .policy = "default",
                                       .rule = i % 2 == 0 ? NULL : "allow_list",
                                       .reason = i % 2 == 0 ? NULL : "recipient is not on the allow list",
                                       .client = "integration",
                                       .account = account,
                                       .digest = digest,
                                       .has_chain_id = true,
                                       .chain_id = 17000};
        r = sigil_audit_record(a, &ev);
        if (!sigil_is_ok(r)) {
            sigil_audit_free(a);
            return fail("record", r);
        }
    }
    uint8_t addr[20];
    char hex[43];
    sigil_audit_info(a, addr, NULL, NULL);
    sigil_audit_free(a);
    printf("%s\n", sigil_hex_encode(hex, addr, 20, 1));
    sigil_nsm_close(nsm);
    free(root_cert);
    free(leaf_cert);
    sigil_secure_free(root_key);
    sigil_secure_free(leaf_key);
    return 0;
}
