/* `sigil policy check|hash|approve`: validate a rules file, print its hash, and sign an approval
 * with an approver's v3 keystore. House exit codes: 0 ok, 1 I/O failure, 2 bad input (one
 * sentence on stderr). The approver's password is read from a file into secure memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/io.h"
#include "common/secmem.h"
#include "crypto/keccak.h"
#include "eth1/secp256k1.h"
#include "policy/internal.h"
#include "policy/policy.h"

#define PASSWORD_MAX 4096u

static int fail(int code, const char *what, sigil_result r)
{
    const char *d = sigil_error_detail();
    fprintf(stderr, "sigil policy: %s: %s%s%s.\n", what, sigil_strerror(r.code), *d ? ": " : "", d);
    return code;
}

static int usage(const char *msg)
{
    fprintf(stderr,
            "sigil policy: %s (usage: sigil policy check FILE | hash FILE | approve --digest 0x.. --account 0x.. "
            "--key-file KEYSTORE --password-file F).\n",
            msg);
    return 2;
}

static int io_code(sigil_result r) { return r.code == SIGIL_ERR_IO || r.code == SIGIL_ERR_NOMEM ? 1 : 2; }

static int load(struct sigil_policy **p, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    sigil_result r = sigil_read_file(&buf, &len, path, SIGIL_POLICY_MAX_FILE);
    if (!sigil_is_ok(r)) {
        return fail(io_code(r), path, r);
    }
    r = sigil_policy_parse(p, buf, len);
    free(buf);
    if (!sigil_is_ok(r)) {
        return fail(r.code == SIGIL_ERR_NOMEM ? 1 : 2, path, r);
    }
    return 0;
}

static int cmd_check(const char *path, bool hash_only)
{
    struct sigil_policy *p = NULL;
    int rc = load(&p, path);
    if (rc != 0) {
        return rc;
    }
    uint8_t h[32];
    char hex[67];
    sigil_policy_hash(p, h);
    sigil_hex_encode(hex, h, 32, 1);
    if (hash_only) {
        printf("%s\n", hex);
    } else {
        size_t ngroups = 0, n = sigil_policy_summary_count(p, &ngroups);
        printf("ok: %s\nhash: %s\npolicies: %zu, groups: %zu\n", path, hex, n, ngroups);
        for (size_t i = 0; i < n; i++) {
            char line[1024];
            sigil_policy_summary_line(p, i, line, sizeof line);
            printf("  %s\n", line);
        }
    }
    sigil_policy_free(p);
    return 0;
}

static int cmd_approve(int argc, char **argv)
{
    const char *digest_hex = NULL, *account_s = NULL, *key_file = NULL, *pw_file = NULL;
    for (int i = 0; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--digest") == 0) {
            slot = &digest_hex;
        } else if (strcmp(argv[i], "--account") == 0) {
            slot = &account_s;
        } else if (strcmp(argv[i], "--key-file") == 0) {
            slot = &key_file;
        } else if (strcmp(argv[i], "--password-file") == 0) {
            slot = &pw_file;
        } else {
            return usage("unknown option for approve");
        }
        if (i + 1 >= argc) {
            return usage("an option is missing its value");
        }
        *slot = argv[++i];
    }
    if (digest_hex == NULL || account_s == NULL || key_file == NULL || pw_file == NULL) {
        return usage("approve needs --digest, --account, --key-file and --password-file");
    }
    uint8_t digest[32], account[20];
    if (!sigil_is_ok(sigil_hex_decode_exact(digest, 32, digest_hex, strlen(digest_hex)))) {
        fprintf(stderr, "sigil policy: --digest must be 32 bytes of hex.\n");
        return 2;
    }
    if (strlen(account_s) != 42 || !sigil_is_ok(sigil_eip55_parse(account, account_s))) {
        fprintf(stderr, "sigil policy: --account must be an address (0x and 40 hex digits, EIP-55 checksum when "
                        "mixed case).\n");
        return 2;
    }
    char *ks = NULL, *pw = NULL;
    size_t ks_len = 0, pw_len = 0;
    sigil_secp256k1_sk *sk = NULL;
    int rc;
    sigil_result r = sigil_read_file(&ks, &ks_len, key_file, SIGIL_ETH1_KEYSTORE_MAX);
    if (!sigil_is_ok(r)) {
        rc = fail(io_code(r), key_file, r);
        goto out;
    }
    r = sigil_read_file_secure(&pw, &pw_len, pw_file, PASSWORD_MAX);
    if (!sigil_is_ok(r)) {
        rc = fail(io_code(r), pw_file, r);
        goto out;
    }
    sigil_strip_newline(pw, &pw_len);
    r = sigil_eth1_keystore_decrypt(&sk, ks, ks_len, pw, pw_len);
    if (!sigil_is_ok(r)) {
        rc = fail(r.code == SIGIL_ERR_NOMEM ? 1 : 2, key_file, r);
        goto out;
    }
    uint8_t ad[32];
    struct sigil_secp256k1_sig sig;
    sigil_policy_approval_digest(ad, account, digest);
    r = sigil_secp256k1_sign(&sig, sk, ad);
    if (!sigil_is_ok(r)) {
        rc = fail(1, "signing the approval", r);
        goto out;
    }
    uint8_t rsv[65];
    char hex[2 * 65 + 3];
    memcpy(rsv, sig.r, 32);
    memcpy(rsv + 32, sig.s, 32);
    rsv[64] = (uint8_t)(27 + sig.y_parity);
    printf("%s\n", sigil_hex_encode(hex, rsv, 65, 1));
    rc = 0;
out:
    sigil_secp256k1_sk_free(sk);
    sigil_secure_free(pw);
    free(ks);
    return rc;
}

int sigil_policy_cli(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "policy") == 0) {
        argc--;
        argv++;
    }
    if (argc < 1) {
        return usage("expected a subcommand");
    }
    if (strcmp(argv[0], "check") == 0 || strcmp(argv[0], "hash") == 0) {
        if (argc != 2) {
            return usage("expected exactly one rules file");
        }
        return cmd_check(argv[1], strcmp(argv[0], "hash") == 0);
    }
    if (strcmp(argv[0], "approve") == 0) {
        return cmd_approve(argc - 1, argv + 1);
    }
    return usage("unknown subcommand");
}
