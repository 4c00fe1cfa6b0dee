#!/usr/bin/env bash
# `make run`: the whole enclave deployment on this machine (docs/enclave.md).
#   1. sigil-kms, the local KMS, in a fresh data dir (its TLS cert, credentials, dev attestation root)
#   2. a KMS key whose policy lets only sigild's measurement (PCR0 = SHA-384 of build/bin/sigild) decrypt
#   3. three validator keys (`sigil keys new`), imported as ciphertext into the artifact store
#      (`sigil keys import`: keystore KDF paid once, one GenerateDataKey for the batch)
#   4. a TLS server key + certificate sealed the same way, and a demo client CA + client cert
#   5. the simulated-NSM identity for sigild (sigil-kms issue-enclave-cert)
#   6. sigil-host: sigild in the namespace sandbox, INIT over the control channel, keys paged in,
#      signer on https://127.0.0.1:PORT through the inbound proxy
# Runs until Ctrl-C, then stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(cd "${SIGIL_BIN:-build/bin}" && pwd)
SIGIL=${SIGIL_CLI:-$BIN/sigil}
PORT=${SIGIL_PORT:-9000}
STATUS_PORT=${SIGIL_STATUS_PORT:-9100}
KMS_PORT=${SIGIL_KMS_PORT:-8443}
OUT=${SIGIL_RUN_DIR:-$(mktemp -d /tmp/sigil-run.XXXXXX)}
mkdir -p "$OUT"
chmod 700 "$OUT"
OUT=$(cd "$OUT" && pwd)
umask 077
PIDS=()
cleanup() {
    trap - EXIT INT TERM
    echo
    echo "== stopping"
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[i]}" 2>/dev/null || true
        wait "${PIDS[i]}" 2>/dev/null || true
    done
    echo "stopped; logs and artifacts (ciphertext only) are in $OUT"
}
trap cleanup EXIT INT TERM

wait_for() { # wait_for SECONDS CMD...
    local t=$1
    shift
    for ((i = 0; i < t * 10; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    return 1
}

echo "== Sigil in $OUT"
echo "== 1. sigil-kms on 127.0.0.1:$KMS_PORT"
"$BIN/sigil-kms" --data-dir "$OUT/kms" --listen "127.0.0.1:$KMS_PORT" >"$OUT/kms.log" 2>&1 &
PIDS+=($!)
wait_for 20 test -s "$OUT/kms/credentials" || { cat "$OUT/kms.log"; exit 1; }
wait_for 20 curl -s --cacert "$OUT/kms/tls-cert.pem" -o /dev/null "https://127.0.0.1:$KMS_PORT/" ||
    { cat "$OUT/kms.log"; exit 1; }
KMS="https://127.0.0.1:$KMS_PORT"
KMSARGS=(--ca "$OUT/kms/tls-cert.pem" --credentials "$OUT/kms/credentials")

PCR0=$(sha384sum "$BIN/sigild" | cut -d' ' -f1)
echo "== 2. KMS key bound to sigild's measurement PCR0=$PCR0"
KEY_ID=$("$SIGIL" kms create-key --endpoint "$KMS" --ca "$OUT/kms/tls-cert.pem" \
    --credentials "$OUT/kms/credentials" --bind-pcr0 "$PCR0" --description "sigil demo")
echo "key id: $KEY_ID"

echo "== 3. three validator keys (hoodi), imported into the store as ciphertext"
head -c 18 /dev/urandom | base64 >"$OUT/password.txt"
"$BIN/sigil" keys new --count 3 --network hoodi \
    --withdrawal-address 0x000000000000000000000000000000000000dEaD \
    --password-file "$OUT/password.txt" --kdf pbkdf2 \
    --mnemonic-file "$OUT/mnemonic.txt" --out "$OUT/validator_keys" >/dev/null
STORE="sqlite:$OUT/store.db"
"$SIGIL" keys import --kms "$KMS" --key-id "$KEY_ID" --store "$STORE" "${KMSARGS[@]}" \
    --password-file "$OUT/password.txt" "$OUT"/validator_keys/keystore-*.json

echo "== 4. TLS server key (sealed) and a demo client CA"
"$SIGIL" tls new --kms "$KMS" --key-id "$KEY_ID" --store "$STORE" "${KMSARGS[@]}" \
    --cn signer.local --ip 127.0.0.1 --days 30 --client-ca-out "$OUT/tls"

echo "== 5. wallet rules (docs/wallet.md), stored for sigil-host to send to sigild in INIT"
cat >"$OUT/wallet-policy.json" <<'JSON'
{"version": 1,
 "policies": [
  {"name": "demo", "keys": "*",
   "chain_ids": [17000],
   "max_value_wei": "1000000000000000000",
   "spend_windows": [{"name": "daily", "window": "24h", "max_wei": "5000000000000000000"}],
   "personal_sign": true, "typed_data": true}]}
JSON
"$SIGIL" policy set "$OUT/wallet-policy.json" --store "$STORE"

echo "== 5b. simulated-NSM identity for sigild"
"$BIN/sigil-kms" issue-enclave-cert --data-dir "$OUT/kms" --out-dir "$OUT/attestation" >/dev/null

echo "== 6. sigil-host (local launcher: sigild in user/net/mount/PID/IPC namespaces + seccomp)"
"$BIN/sigil-host" --store "$STORE" --launcher local --sigild "$BIN/sigild" \
    --kms "$KMS" --kms-ca "$OUT/kms/tls-cert.pem" --kms-credentials "$OUT/kms/credentials" \
    --sim-attestation-dir "$OUT/attestation" --client-ca "$OUT/tls/client-ca.pem" \
    --listen "127.0.0.1:$PORT" --status-listen "127.0.0.1:$STATUS_PORT" \
    --run-dir "$OUT/run" --data-dir "$OUT/data" --network hoodi >"$OUT/host.log" 2>&1 &
PIDS+=($!)
HOST="http://127.0.0.1:$STATUS_PORT"
for ((i = 0; i < 300; i++)); do
    if "$SIGIL" status --host "$HOST" >/dev/null 2>&1; then break; fi
    sleep 0.2
done
"$SIGIL" status --host "$HOST" || { echo "sigild did not become READY; see $OUT/host.log"; exit 1; }

PK=$(curl -s --cacert "$OUT/tls/server-cert.pem" --cert "$OUT/tls/client-cert.pem" --key "$OUT/tls/client-key.pem" \
    "https://127.0.0.1:$PORT/api/v1/eth2/publicKeys" | tr -d '[]" ' | cut -d, -f1)
CURL=(curl -s --cacert "$OUT/tls/server-cert.pem" --cert "$OUT/tls/client-cert.pem" --key "$OUT/tls/client-key.pem")
BODY='{"type":"RANDAO_REVEAL","fork_info":{"fork":{"previous_version":"0x10000910","current_version":"0x40000910","epoch":"0"},"genesis_validators_root":"0x212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f"},"randao_reveal":{"epoch":"5"}}'
echo "== 7. one wallet key generated inside sigild (only its envelope reaches the store)"
ADDR=$("$SIGIL" keys generate --chain eth1 --count 1 --host "$HOST" 2>/dev/null | head -1)
TX='{"jsonrpc":"2.0","id":1,"method":"eth_signTransaction","params":[{"from":"'$ADDR'","to":"0x000000000000000000000000000000000000dEaD","nonce":"0x0","gas":"0x5208","maxFeePerGas":"0x3b9aca00","maxPriorityFeePerGas":"0x3b9aca00","value":"0x2386f26fc10000","chainId":"0x4268"}]}'
echo
echo "== Sigil is running"
echo "signer URL:   https://127.0.0.1:$PORT   (TLS ends inside sigild; sigil-host only relays bytes)"
echo "status:       $SIGIL status --host $HOST"
echo "validator client (e.g. Lighthouse):"
echo "  --web3-signer-url https://127.0.0.1:$PORT with the CA $OUT/tls/server-cert.pem and the client"
echo "  identity $OUT/tls/client-cert.pem + $OUT/tls/client-key.pem"
echo "sample signing request:"
echo "  ${CURL[*]} -H 'Content-Type: application/json' \\"
echo "    https://127.0.0.1:$PORT/api/v1/eth2/sign/$PK -d '$BODY'"
echo -n "  -> "
"${CURL[@]}" -H 'Content-Type: application/json' "https://127.0.0.1:$PORT/api/v1/eth2/sign/$PK" -d "$BODY"
echo
echo "sample wallet request (JSON-RPC; policy: chain 17000, at most 1 ETH per transaction, 5 ETH a day):"
echo "  ${CURL[*]} -H 'Content-Type: application/json' \\"
echo "    https://127.0.0.1:$PORT/ -d '$TX'"
echo -n "  -> "
"${CURL[@]}" -H 'Content-Type: application/json' "https://127.0.0.1:$PORT/" -d "$TX"
echo
echo "audit log (hash-chained, checkpoints signed by sigild's attested audit key):"
echo "  $SIGIL audit verify $OUT/data/audit.jsonl --attestation-root $OUT/kms/attestation-root.pem --pcr0 $PCR0"
echo
echo "Ctrl-C stops sigil-host (and sigild) and sigil-kms."
wait "${PIDS[1]}"
