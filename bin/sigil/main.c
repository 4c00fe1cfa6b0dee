/* sigil: the operator CLI. Keys, keystores, deposit data, benchmarks; later import, TLS
 * material, slashing interchange, attestation verification and status. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/secmem.h"
#include "attest/attest.h"
#include "audit/audit.h"
#include "kmsd/kmsd.h"
#include "policy/policy.h"
#include "slashing/slashing.h"
#include "store/cli.h"

static void usage(FILE *f)
{
    (void)fputs("usage: sigil <command> [options]\n"
                "\n"
                "  bls pubkey                         secret key hex on stdin -> compressed public key\n"
                "  bls sign --message HEX             secret key hex on stdin -> compressed signature\n"
                "  bls verify --public-key HEX --message HEX --signature HEX\n"
                "                                     exit 0 valid, 1 invalid\n"
                "  keys derive --path PATH [--from seed|mnemonic] [--passphrase-file F]\n"
                "                                     seed hex or mnemonic on stdin -> secret key hex\n"
                "  keys new --count N [--start-index I] --network NAME --withdrawal-address 0x..\n"
                "           --password-file F --out DIR [--mnemonic-file F] [--kdf scrypt|pbkdf2]\n"
                "                                     new mnemonic, keystores and deposit data\n"
                "  keys import [--chain eth2|eth1] --kms URL --key-id ID --store URL [--ca F] [--credentials F]\n"
                "              FILES...\n"
                "                                     KMS-envelope-encrypt keystores (eth1: Web3 v3, NAME.json +\n"
                "                                     NAME.txt) into the artifact store\n"
                "  keys generate --in-enclave --count N --network NAME --withdrawal-address 0x.. --host URL\n"
                "  keys generate --chain eth1 --count N [--host URL]\n"
                "                                     generate keys inside sigild; only ciphertext leaves\n"
                "  tls new --kms URL --key-id ID --store URL --cn NAME [--ip IP] [--client-ca-out DIR]\n"
                "  kms create-key --endpoint URL --ca F --credentials F [--bind-pcr0 HEX]\n"
                "  status [--host URL]                enclave state, PCR0, keys loaded, restarts\n"
                "  keystore create --password-file F [--kdf scrypt|pbkdf2] [--path PATH]\n"
                "                                     secret key hex on stdin -> EIP-2335 JSON\n"
                "  keystore decrypt --keystore F --password-file F\n"
                "                                     -> secret key hex\n"
                "  slashing import FILE --db URL      import an EIP-3076 interchange file\n"
                "  slashing export [--minimal] --db URL [--out FILE]\n"
                "                                     export slashing-protection history (EIP-3076)\n"
                "  slashing prune --db URL --keep-epochs N\n"
                "                                     drop old history, keeping the low watermarks\n"
                "  policy set FILE|--none --store URL store the rules sigil-host sends to sigild in INIT\n"
                "  policy check FILE                  validate a wallet rules file, print its hash and a summary\n"
                "  policy hash FILE                   print a rules file's hash (SHA-256)\n"
                "  policy approve --digest 0x.. --account 0x.. --key-file KEYSTORE --password-file F\n"
                "                                     sign an M-of-N approval with an approver's v3 keystore\n"
                "  audit verify FILE [--signer 0xADDR]... [--attestation-root PEM [--pcr0 HEX]]\n"
                "               [--require-attestation] [--json]\n"
                "                                     check an audit log's chain and checkpoints: exit 0 clean,\n"
                "                                     1 unreadable, 3 problems (each printed with its line)\n"
                "  attest verify DOC [--root PEM] [--at RFC3339] [--pcr N=HEX ...] [--nonce HEX] [--json]\n"
                "                                     verify a Nitro attestation document: exit 0 valid, 1 invalid\n"
                "  bench bls [--json]                 median microseconds per BLS operation\n"
                "\n"
                "Secrets are read from stdin or files, never from arguments. Exit codes: 0 success,\n"
                "1 a valid \"no\" (e.g. an invalid signature), 2 bad input.\n",
                f);
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        return cli_fail("expected a command (run 'sigil --help' for the list)");
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "bls") == 0) {
        return cmd_bls(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "keys") == 0) {
        /* import / generate work with the artifact store and the enclave; derive / new are local */
        if (argc >= 3 && (strcmp(argv[2], "import") == 0 || strcmp(argv[2], "generate") == 0)) {
            return sigil_store_cli(argc - 1, argv + 1);
        }
        return cmd_keys(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "tls") == 0 || strcmp(cmd, "status") == 0) {
        return sigil_store_cli(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "kms") == 0) {
        return sigil_kms_cli(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "keystore") == 0) {
        return cmd_keystore(argc - 2, argv + 2);
    }
    if (strcmp(cmd, "slashing") == 0) {
        return sigil_slashing_cli(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "audit") == 0) {
        return sigil_audit_cli(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "policy") == 0 && argc >= 3 && strcmp(argv[2], "set") == 0) {
        return sigil_store_cli(argc - 1, argv + 1); /* stores the rules in the artifact store */
    }
    if (strcmp(cmd, "policy") == 0) {
        return sigil_policy_cli(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "attest") == 0) {
        return sigil_attest_cli(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "bench") == 0) {
        return cmd_bench(argc - 2, argv + 2);
    }
    return cli_fail("unknown command '%s' (run 'sigil --help' for the list)", cmd);
}

int main(int argc, char **argv)
{
    /* The CLI handles keys on an operator's machine: keep them out of core dumps and ptrace. */
    (void)sigil_harden_process();
    int rc = run(argc, argv);
    /* Commands do not check each write to stdout; a full disk or closed pipe must still not
     * pass for success with a truncated keystore, key or mnemonic. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        return cli_fail("writing to standard output failed");
    }
    return rc;
}
