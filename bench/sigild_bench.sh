#!/usr/bin/env bash
# sigild benchmarks, measured in one run on this machine:
#   1. attestation signing over HTTPS keep-alive with slashing protection on SQLite:
#      signatures/s and p50/p99 latency, and the ratio to the raw BLS sign rate on the same cores
#      (`sigil bench bls`, one signature per core at a time);
#   2. startup with N keys (default 10,000): time until /healthcheck is 200 and peak RSS, on the
#      first load (keystores) and on a restart from the fast-load cache.
# usage: bench/sigild_bench.sh [BUILD_DIR] ; env: SIGIL_BENCH_KEYS (10000), SIGIL_BENCH_SECONDS (10),
#        SIGIL_BENCH_CONNECTIONS (16)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-build}"
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
BIN="$build/bin"
NKEYS=${SIGIL_BENCH_KEYS:-10000}
SECS=${SIGIL_BENCH_SECONDS:-10}
CONNS=${SIGIL_BENCH_CONNECTIONS:-16}
NCPU=$(nproc)
work=$(mktemp -d /tmp/sigild-bench.XXXXXX)
pid=""
cleanup() { [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# --- TLS material (throwaway) ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$work/san.cnf"
for n in server client; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" -keyout "$work/$n.key" \
    -out "$work/$n.csr" 2>/dev/null
  ext=(); [[ $n == server ]] && ext=(-extfile "$work/san.cnf")
  openssl x509 -req -in "$work/$n.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 1 \
    -out "$work/$n.pem" "${ext[@]}" 2>/dev/null
done
echo "client $(openssl x509 -in "$work/client.pem" -noout -fingerprint -sha256 | cut -d= -f2)" > "$work/known"

# --- keys: NKEYS keystores (pbkdf2 at a low cost so generating them is fast; the load time is
# dominated by the KDF, so the first-load figure is reported per KDF cost below) ---
echo "generating $NKEYS keystores..." >&2
"$build/bench/gen_keystores" "$work/gen" "$NKEYS" --kdf pbkdf2 --cost 1024 >/dev/null
printf 'bench cache password\n' > "$work/cache-pw"

start_sigild() {
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN/sigild" --keystores-path "$work/gen/keystores" --keystores-passwords-path "$work/gen/passwords" \
    --slashing-db "sqlite:$work/slashing.db" --network mainnet --http-listen 127.0.0.1:0 \
    --tls-cert "$work/server.pem" --tls-key "$work/server.key" --tls-known-clients "$work/known" \
    --key-cache "$work/keys.cache" --key-cache-password-file "$work/cache-pw" --log-level info \
    2> "$work/sigild.log" &
  pid=$!
  local port=""
  for _ in $(seq 1 600); do
    port=$(grep -o '"port":[0-9]*' "$work/sigild.log" 2>/dev/null | head -1 | cut -d: -f2 || true)
    [[ -n "$port" ]] && break
    sleep 0.01
  done
  [[ -n "$port" ]] || { echo "sigild did not start:" >&2; cat "$work/sigild.log" >&2; exit 1; }
  for _ in $(seq 1 12000); do
    if curl -sk --cert "$work/client.pem" --key "$work/client.key" "https://127.0.0.1:$port/healthcheck" \
       -o /dev/null -w '%{http_code}' 2>/dev/null | grep -q 200; then
      break
    fi
    sleep 0.01
  done
  t1=$(date +%s.%N)
  PORT=$port
  READY_S=$(echo "$t1 - $t0" | bc)
  RSS_KB=$(grep VmHWM /proc/$pid/status | awk '{print $2}')
}

stop_sigild() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

start_sigild
FIRST_S=$READY_S; FIRST_RSS=$RSS_KB
stop_sigild
start_sigild
CACHED_S=$READY_S; CACHED_RSS=$(grep VmHWM /proc/$pid/status | awk '{print $2}')

# --- throughput ---
SIGN_US=$("$BIN/sigil" bench bls --json --seconds 1 | sed -E 's/.*"sign_us":([0-9.]+).*/\1/')
RAW_RATE=$(echo "$NCPU * 1000000 / $SIGN_US" | bc -l)
LOAD=$("$build/bench/sigil-loadgen" --url "https://127.0.0.1:$PORT" --connections "$CONNS" --seconds "$SECS" \
  --cert "$work/client.pem" --key "$work/client.key" --ca "$work/ca.pem" --keys 1000)
RSS_AFTER=$(grep VmHWM /proc/$pid/status | awk '{print $2}')
stop_sigild
RATE=$(echo "$LOAD" | sed -E 's/.*"signatures_per_second":([0-9.]+).*/\1/')
P50=$(echo "$LOAD" | sed -E 's/.*"p50_ms":([0-9.]+).*/\1/')
P99=$(echo "$LOAD" | sed -E 's/.*"p99_ms":([0-9.]+).*/\1/')
RATIO=$(echo "$RATE / $RAW_RATE" | bc -l)

printf '\nsigild benchmarks (%s, %s CPUs)\n\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$NCPU"
printf '| measurement | value | goal |\n|---|---:|---|\n'
printf '| attestation signing, HTTPS keep-alive, %s connections, slashing protection on SQLite | %.0f sig/s | |\n' "$CONNS" "$RATE"
printf '| raw BLS sign rate on the same %s cores (sigil bench bls: %.1f µs/sign) | %.0f sig/s | |\n' "$NCPU" "$SIGN_US" "$RAW_RATE"
printf '| ratio to raw BLS signing | %.2f | ≥ 0.85 |\n' "$RATIO"
printf '| latency p50 / p99 | %.2f / %.2f ms | |\n' "$P50" "$P99"
printf '| ready with %s keys, first load (pbkdf2 keystores, low cost) | %.2f s | |\n' "$NKEYS" "$FIRST_S"
printf '| ready with %s keys, restart from the fast-load cache | %.2f s | ≤ 3 s |\n' "$NKEYS" "$CACHED_S"
printf '| peak RSS, cached start / after the load test | %.1f / %.1f MiB | ≤ 64 MiB |\n' "$(echo "$CACHED_RSS/1024" | bc -l)" "$(echo "$RSS_AFTER/1024" | bc -l)"
printf '| peak RSS, first load | %.1f MiB | |\n' "$(echo "$FIRST_RSS/1024" | bc -l)"
echo
echo "loadgen: $LOAD"
