/* Operator commands around the artifact store and sigil-host (wired into bin/sigil):
 *   sigil keys import --kms URL --key-id ID --store URL [--ca F] [--credentials F] [--region R]
 *                     [--password-file F] FILES...
 *   sigil keys generate --in-enclave --count N --network NAME --withdrawal-address 0x.. --host URL [--out F]
 *   sigil tls new --kms URL --key-id ID --store URL --cn NAME [--ip A.B.C.D] [--days N]
 *                 [--client-ca-out DIR] [--ca F] [--credentials F] [--region R]
 *   sigil keys import --chain eth1 ... FILES...      Web3 v3 keystores, sealed under their addresses
 *   sigil keys generate --chain eth1 --count N [--host URL]   wallet keys made inside sigild
 *   sigil policy set FILE|--none --store URL      the rules file sent to sigild in INIT
 *   sigil status [--host URL] [--json]
 * argv[0] is the command word ("keys", "tls", "policy" or "status"). Exit codes: 0 success, 1 a valid "no"
 * (status: not READY; KMS refused), 2 bad input or an unreachable service, one sentence on stderr. */
#ifndef SIGIL_STORE_CLI_H
#define SIGIL_STORE_CLI_H

#define SIGIL_HOST_DEFAULT_STATUS_URL "http://127.0.0.1:9100"

int sigil_store_cli(int argc, char **argv);

#endif
