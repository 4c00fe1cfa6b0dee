/* sigil bls pubkey | sign | verify */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/secmem.h"
#include "crypto/bls.h"

#define MAX_MESSAGE (64 * 1024)

/* Reads the secret key from stdin into locked memory. */
static int read_sk(sigil_bls_sk *sk)
{
    uint8_t *raw = sigil_secure_alloc(SIGIL_BLS_SK_LEN);
    if (raw == NULL) {
        return cli_fail("out of memory");
    }
    int rc = CLI_OK;
    sigil_result r = cli_read_secret_hex_stdin(raw, SIGIL_BLS_SK_LEN);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("secret key", r);
        goto out;
    }
    r = sigil_bls_sk_from_bytes(sk, raw);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("secret key", r);
    }
out:
    sigil_secure_free(raw);
    return rc;
}

static int bls_pubkey(int argc, char **argv)
{
    if (!cli_parse(argc, argv, NULL, 0, NULL, 0, NULL, "bls pubkey")) {
        return CLI_BAD;
    }
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    if (sk == NULL) {
        return cli_fail("out of memory");
    }
    int rc = read_sk(sk);
    if (rc == CLI_OK) {
        sigil_bls_pk pk;
        uint8_t out[SIGIL_BLS_PK_LEN];
        sigil_bls_sk_to_pk(&pk, sk);
        sigil_bls_pk_compress(out, &pk);
        cli_print_hex(out, sizeof out);
    }
    sigil_secure_free(sk);
    return rc;
}

static int bls_sign(int argc, char **argv)
{
    const char *msg_hex;
    struct cli_opt opts[] = {{"message", true, &msg_hex}};
    if (!cli_parse(argc, argv, opts, 1, NULL, 0, NULL, "bls sign")) {
        return CLI_BAD;
    }
    if (msg_hex == NULL) {
        return cli_fail("bls sign: --message HEX is required");
    }
    uint8_t *msg = malloc(MAX_MESSAGE);
    if (msg == NULL) {
        return cli_fail("out of memory");
    }
    size_t msg_len = 0;
    if (!cli_hex_arg_var(msg, MAX_MESSAGE, &msg_len, msg_hex, "message")) {
        free(msg);
        return CLI_BAD;
    }
    sigil_bls_sk *sk = sigil_secure_alloc(sizeof *sk);
    if (sk == NULL) {
        free(msg);
        return cli_fail("out of memory");
    }
    int rc = read_sk(sk);
    if (rc == CLI_OK) {
        sigil_bls_sig sig;
        uint8_t out[SIGIL_BLS_SIG_LEN];
        sigil_bls_sign(&sig, sk, msg, msg_len);
        sigil_bls_sig_compress(out, &sig);
        cli_print_hex(out, sizeof out);
    }
    sigil_secure_free(sk);
    free(msg);
    return rc;
}

static int bls_verify(int argc, char **argv)
{
    const char *pk_hex, *msg_hex, *sig_hex;
    struct cli_opt opts[] = {{"public-key", true, &pk_hex}, {"message", true, &msg_hex}, {"signature", true, &sig_hex}};
    if (!cli_parse(argc, argv, opts, 3, NULL, 0, NULL, "bls verify")) {
        return CLI_BAD;
    }
    if (pk_hex == NULL || msg_hex == NULL || sig_hex == NULL) {
        return cli_fail("bls verify: --public-key, --message and --signature are required");
    }
    uint8_t pk_raw[SIGIL_BLS_PK_LEN], sig_raw[SIGIL_BLS_SIG_LEN];
    if (!cli_hex_arg(pk_raw, sizeof pk_raw, pk_hex, "public-key") ||
        !cli_hex_arg(sig_raw, sizeof sig_raw, sig_hex, "signature")) {
        return CLI_BAD;
    }
    uint8_t *msg = malloc(MAX_MESSAGE);
    if (msg == NULL) {
        return cli_fail("out of memory");
    }
    size_t msg_len = 0;
    int rc;
    sigil_bls_pk pk;
    sigil_bls_sig sig;
    sigil_result r;
    if (!cli_hex_arg_var(msg, MAX_MESSAGE, &msg_len, msg_hex, "message")) {
        rc = CLI_BAD;
        goto out;
    }
    r = sigil_bls_pk_decompress(&pk, pk_raw);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("--public-key", r);
        goto out;
    }
    r = sigil_bls_sig_decompress(&sig, sig_raw);
    if (!sigil_is_ok(r)) {
        rc = cli_fail_result("--signature", r);
        goto out;
    }
    if (sigil_bls_verify_var(&pk, msg, msg_len, &sig)) {
        puts("valid");
        rc = CLI_OK;
    } else {
        puts("invalid");
        rc = CLI_NO;
    }
out:
    free(msg);
    return rc;
}

int cmd_bls(int argc, char **argv)
{
    if (argc < 1) {
        return cli_fail("bls: expected a subcommand: pubkey, sign or verify");
    }
    if (strcmp(argv[0], "pubkey") == 0) {
        return bls_pubkey(argc - 1, argv + 1);
    }
    if (strcmp(argv[0], "sign") == 0) {
        return bls_sign(argc - 1, argv + 1);
    }
    if (strcmp(argv[0], "verify") == 0) {
        return bls_verify(argc - 1, argv + 1);
    }
    return cli_fail("bls: unknown subcommand '%s' (expected pubkey, sign or verify)", argv[0]);
}
