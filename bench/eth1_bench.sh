#!/usr/bin/env bash
# sigild eth1 wallet benchmark, measured in one run on this machine:
#   eth1 transaction signing (JSON-RPC eth_signTransaction, EIP-1559) over HTTPS keep-alive with
#   client certificates, through the whole decision path: a rules file with an allowed chain id, a
#   destination allow-list, a value cap and a 24 h spend window (so every transaction also writes
#   a spend-ledger row to the SQLite slashing database), and a durable audit record per decision.
#   Reported as signatures/s and p50/p99 latency, and as a ratio to raw libsecp256k1 signing
#   (keccak256 of a transaction-sized payload + secp256k1_ecdsa_sign_recoverable) on the same cores
#   in the same run (bench/eth1_raw_bench.c).
# usage: bench/eth1_bench.sh [BUILD_DIR] ; env: SIGIL_BENCH_SECONDS (10), SIGIL_BENCH_CONNECTIONS (64),
#        SIGIL_BENCH_ETH1_KEYS (16), SIGIL_BENCH_NO_WINDOW=1 (drop the spend window: no ledger write)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build="${1:-build}"
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
BIN="$build/bin"
SECS=${SIGIL_BENCH_SECONDS:-10}
CONNS=${SIGIL_BENCH_CONNECTIONS:-64}
NKEYS=${SIGIL_BENCH_ETH1_KEYS:-16}
NCPU=$(nproc)
work=$(mktemp -d /tmp/sigild-eth1-bench.XXXXXX)
pid=""
cleanup() { [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# --- TLS material (throwaway) ---
bench_tls "$work"

# --- keys and rules ---
"$build/bench/eth1_raw_bench" keystores "$work/keys" "$NKEYS" > "$work/addresses"
DEST=0x00000000000000000000000000000000000000be
window='"spend_windows": [{"name": "daily", "window": "24h", "max_wei": "1000000000000000000000000"}],'
[[ -n "${SIGIL_BENCH_NO_WINDOW:-}" ]] && window=''
cat > "$work/policy.json" <<EOF
{"version": 1, "policies": [{"name": "bench", "keys": ["*"], "chain_ids": [1],
  "to": {"allow": ["$DEST"]}, "max_value_wei": "1000000000000000000", $window
  "fees": {"max_fee_per_gas_wei": "100000000000"}}]}
EOF

"$BIN/sigild" --eth1-keystores-path "$work/keys/keystores" --eth1-keystores-passwords-path "$work/keys/passwords" \
  --policy-file "$work/policy.json" --audit-log "$work/audit.log" --slashing-db "sqlite:$work/slashing.db" \
  --http-listen 127.0.0.1:0 --tls-cert "$work/server.pem" --tls-key "$work/server.key" \
  --tls-known-clients "$work/known" --log-level info 2> "$work/sigild.log" &
pid=$!
port=$(bench_wait_port "$work/sigild.log" 1000)

# --- raw baseline first, then the signer, on the same cores in the same run ---
RAW=$("$build/bench/eth1_raw_bench" sign --seconds 3 --threads "$NCPU")
RAW_RATE=$(field "$RAW" signatures_per_second)
SIGN_US=$(field "$RAW" sign_us)
CPU0=$(cpu_ticks "$pid")
LOAD=$("$build/bench/sigil-loadgen" --url "https://127.0.0.1:$port" --type eth1tx --to "$DEST" \
  --connections "$CONNS" --seconds "$SECS" --cert "$work/client.pem" --key "$work/client.key" --ca "$work/ca.pem")
CPU1=$(cpu_ticks "$pid")
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
RSS=$(grep VmHWM /proc/$pid/status | awk '{print $2}')
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
RATE=$(field "$LOAD" signatures_per_second)
P50=$(field "$LOAD" p50_ms)
P99=$(field "$LOAD" p99_ms)
NSIG=$(field "$LOAD" signatures)
REFUSED=$(field "$LOAD" refused)
LG_CPU=$(field "$LOAD" cpu_seconds)
HZ=$(getconf CLK_TCK)
SIGILD_US=$(echo "($CPU1 - $CPU0) / $HZ * 1000000 / $NSIG" | bc -l)
LG_US=$(echo "$LG_CPU * 1000000 / $NSIG" | bc -l)
VERIFY=$("$BIN/sigil" audit verify "$work/audit.log" --json | tr -d ' \n')
AUDITED=$(field "$VERIFY" signed)
CLEAN=$(echo "$VERIFY" | sed -E 's/.*"clean":(true|false).*/\1/')
LEDGER=$(sqlite3 "$work/slashing.db" 'select count(*) from spend_ledger' 2>/dev/null || echo "?")

printf '\nsigild eth1 benchmark (%s, %s CPUs)\n\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$NCPU"
printf '| measurement | value |\n|---|---:|\n'
printf '| eth_signTransaction over HTTPS keep-alive, %s connections, %s keys: policy (chain id, allow-list, value cap, fee cap%s), audit record per decision | %.0f sig/s |\n' \
  "$CONNS" "$NKEYS" "$([[ -n "$window" ]] && echo ', 24 h spend window on SQLite')" "$RATE"
printf '| raw libsecp256k1 on the same %s cores (keccak256 + sign_recoverable: %.1f µs/sign per core) | %.0f sig/s |\n' "$NCPU" "$SIGN_US" "$RAW_RATE"
printf '| ratio to raw libsecp256k1 signing | %.3f |\n' "$(echo "$RATE / $RAW_RATE" | bc -l)"
printf '| latency p50 / p99 | %.2f / %.2f ms |\n' "$P50" "$P99"
printf '| CPU per signature: sigild / load generator (raw sign: %.1f µs) | %.0f / %.0f µs |\n' "$SIGN_US" "$SIGILD_US" "$LG_US"
printf '| CPU-time ratio to raw signing: raw µs / (sigild + load generator µs), independent of other load on the machine | %.3f |\n' \
  "$(echo "$SIGN_US / ($SIGILD_US + $LG_US)" | bc -l)"
printf '| refused or failed during the run | %s |\n' "$REFUSED"
printf '| audit log after the run: signed decisions / clean | %s / %s |\n' "$AUDITED" "$CLEAN"
printf '| spend-ledger rows | %s |\n' "$LEDGER"
printf '| peak RSS | %.1f MiB |\n' "$(echo "$RSS/1024" | bc -l)"
printf '| load average at the end | %s |\n' "$LOADAVG"
echo
echo "loadgen: $LOAD"
echo "raw: $RAW"
