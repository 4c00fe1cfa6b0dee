#!/usr/bin/env bash
# The enclave deployment's costs, measured on the real stack (sigil-kms, sigil-host, sigild in the
# local sandbox), in one run:
#   1. what sigil-host's inbound proxy adds: sigil-loadgen against the host's TCP port vs against
#      sigild's own unix listener (RUN_DIR/sigild.sock, the proxy's target), same keys, same load;
#   2. boot with N keys (default 10,000): `sigil keys import` of N keystores (the KDF is paid here,
#      once), then the time from starting sigil-host to READY in `sigil status` (KMS Decrypt of the
#      data key with an attestation document, AES-GCM of every key, slashing registration).
# Prints a Markdown table. usage: bench/proxy_bench.sh [BUILD_DIR]
# env: SIGIL_BENCH_KEYS (10000), SIGIL_BENCH_SECONDS (10), SIGIL_BENCH_CONNECTIONS (1 and 64 are run)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-build}"
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
BIN="$build/bin"
NKEYS=${SIGIL_BENCH_KEYS:-10000}
SECS=${SIGIL_BENCH_SECONDS:-10}
LOADGEN="$build/bench/sigil-loadgen"
work=$(mktemp -d /tmp/sigil-proxy-bench.XXXXXX)
chmod 700 "$work"
umask 077
pids=()
cleanup() {
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

KMS_PORT=$(free_port)
"$BIN/sigil-kms" --data-dir "$work/kms" --listen "127.0.0.1:$KMS_PORT" >"$work/kms.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
    [[ -s "$work/kms/credentials" ]] && curl -s --cacert "$work/kms/tls-cert.pem" -o /dev/null "https://127.0.0.1:$KMS_PORT/" && break
    sleep 0.1
done
KMS="https://127.0.0.1:$KMS_PORT"
KA=(--ca "$work/kms/tls-cert.pem" --credentials "$work/kms/credentials")
PCR0=$(sha384sum "$BIN/sigild" | cut -d' ' -f1)
KEY_ID=$("$BIN/sigil" kms create-key --endpoint "$KMS" "${KA[@]}" --bind-pcr0 "$PCR0" --description bench)

echo "generating $NKEYS keystores..." >&2
"$build/bench/gen_keystores" "$work/gen" "$NKEYS" --kdf pbkdf2 --cost 1024 >/dev/null
STORE="sqlite:$work/store.db"
t0=$(now)
"$BIN/sigil" keys import --kms "$KMS" --key-id "$KEY_ID" --store "$STORE" "${KA[@]}" \
    --passwords-dir "$work/gen/passwords" "$work"/gen/keystores/keystore-*.json >/dev/null 2>"$work/import.log"
IMPORT_S=$(echo "$(now) - $t0" | bc)
"$BIN/sigil" tls new --kms "$KMS" --key-id "$KEY_ID" --store "$STORE" "${KA[@]}" --cn signer.local --ip 127.0.0.1 \
    --days 2 --client-ca-out "$work/tls" >/dev/null
"$BIN/sigil-kms" issue-enclave-cert --data-dir "$work/kms" --out-dir "$work/att" >/dev/null

PORT=$(free_port)
SPORT=$(free_port)
t0=$(now)
"$BIN/sigil-host" --store "$STORE" --launcher local --sigild "$BIN/sigild" --kms "$KMS" \
    --kms-ca "$work/kms/tls-cert.pem" --kms-credentials "$work/kms/credentials" --sim-attestation-dir "$work/att" \
    --client-ca "$work/tls/client-ca.pem" --listen "127.0.0.1:$PORT" --status-listen "127.0.0.1:$SPORT" \
    --run-dir "$work/run" --data-dir "$work/data" --network mainnet >"$work/host.log" 2>&1 &
HOST_PID=$!
pids+=($HOST_PID)
ready=""
for _ in $(seq 1 3000); do
    if "$BIN/sigil" status --host "http://127.0.0.1:$SPORT" >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.05
done
BOOT_S=$(echo "$(now) - $t0" | bc)
[[ -n "$ready" ]] || { echo "sigild did not become READY:" >&2; tail -20 "$work/host.log" >&2; exit 1; }
LOADED=$("$BIN/sigil" status --host "http://127.0.0.1:$SPORT" --json | sed -E 's/.*"keys_loaded":([0-9]+).*/\1/')
SIGILD_PID=$(ps -o pid= --ppid "$HOST_PID" | head -1 | tr -d ' ')
SIGILD_RSS=$(awk '/VmHWM/ {print $2}' "/proc/$SIGILD_PID/status" 2>/dev/null || echo 0)

TLS=(--cert "$work/tls/client-cert.pem" --key "$work/tls/client-key.pem" --ca "$work/tls/server-cert.pem" --keys "$NKEYS")
declare -A RES
for c in 1 64; do
    sleep 2
    RES[direct$c]=$("$LOADGEN" --url "https://127.0.0.1:$PORT" --unix "$work/run/sigild.sock" --connections "$c" \
        --seconds "$SECS" "${TLS[@]}")
    sleep 2 # epochs start from the wall clock (x4): keep runs from re-signing the same epochs
    RES[proxy$c]=$("$LOADGEN" --url "https://127.0.0.1:$PORT" --connections "$c" --seconds "$SECS" "${TLS[@]}")
done
field() { echo "$1" | sed -E "s/.*\"$2\":([0-9.]+).*/\1/"; }

printf '\nsigil-host benchmarks (%s, %s CPUs, load average %s)\n\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| measurement | direct (sigild unix socket) | through sigil-host (TCP proxy) | proxy adds |\n|---|---:|---:|---:|\n'
for c in 1 64; do
    d=${RES[direct$c]} p=${RES[proxy$c]}
    printf '| attestations, %s connection(s): sig/s | %.0f | %.0f | %+.1f%% |\n' "$c" "$(field "$d" signatures_per_second)" \
        "$(field "$p" signatures_per_second)" \
        "$(echo "100 * ($(field "$p" signatures_per_second) / $(field "$d" signatures_per_second) - 1)" | bc -l)"
    for q in p50_ms p99_ms; do
        printf '| attestations, %s connection(s): %s | %.3f | %.3f | %+.3f ms |\n' "$c" "$q" "$(field "$d" $q)" \
            "$(field "$p" $q)" "$(echo "$(field "$p" $q) - $(field "$d" $q)" | bc -l)"
    done
done
printf '\n| boot with %s keys | value |\n|---|---:|\n' "$NKEYS"
printf '| `sigil keys import` of %s keystores (pbkdf2 c=1024; KDF paid here, once) | %.2f s |\n' "$NKEYS" "$IMPORT_S"
printf '| sigil-host start → READY in `sigil status` (%s keys loaded) | %.2f s |\n' "$LOADED" "$BOOT_S"
printf '| sigild peak RSS after boot | %.1f MiB |\n' "$(echo "$SIGILD_RSS / 1024" | bc -l)"
echo
for k in direct1 proxy1 direct64 proxy64; do echo "loadgen $k: ${RES[$k]}"; done
