#!/usr/bin/env bash
# sigild benchmarks, measured in one run on this machine:
#   1. attestation signing over HTTPS keep-alive with slashing protection on SQLite:
#      signatures/s and p50/p99 latency, and the ratio to the raw BLS sign rate on the same cores
#      (`sigil bench bls` on every core at once, before and after the load runs), for two kinds of load:
#        - unique: no two requests share a signing root (the signer's worst case);
#        - slot: what a validator client sends: all keys attesting in one slot sign the same
#          attestation data, so sigild hashes each root to the curve once (its message-point
#          cache) and only the per-key multiplication is repeated;
#   2. startup with N keys (default 10,000): time until /healthcheck is 200 and peak RSS, on the
#      first load (keystores) and on a restart from the fast-load cache.
# usage: bench/sigild_bench.sh [BUILD_DIR] ; env: SIGIL_BENCH_KEYS (10000), SIGIL_BENCH_SECONDS (10),
#        SIGIL_BENCH_CONNECTIONS (64), SIGIL_BENCH_RUNS (3), SIGIL_BENCH_PLAIN (1)
#
# The load test runs SIGIL_BENCH_RUNS times, each against a freshly started sigild (from the
# fast-load cache) with an empty slashing DB; the table gives the run with the median rate (every
# run is listed below it). With SIGIL_BENCH_PLAIN=1 the same runs are repeated over plain HTTP on
# loopback (sigild without TLS), which separates TLS from the rest.
#
# 64 connections: a validator client with thousands of keys sends all of a slot's attestation
# requests at once (one per key, at 1/3 of the slot), so it has far more than 64 requests in flight
# at that moment; 64 keep-alive connections is a modest pool for such a client (Web3Signer clients
# commonly use 64-256). The signer needs enough requests in flight to keep every core signing while
# records are being fsync'd; fewer connections measure the client's round trips, not the signer.
#
# The machine may be shared: besides the wall-clock ratio, the report gives the CPU time per
# signature (sigild + load generator) against the BLS time per signature, which does not depend
# on how much of the cores other processes took, and the load average during the run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-build}"
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
BIN="$build/bin"
NKEYS=${SIGIL_BENCH_KEYS:-10000}
SECS=${SIGIL_BENCH_SECONDS:-10}
CONNS=${SIGIL_BENCH_CONNECTIONS:-64}
RUNS=${SIGIL_BENCH_RUNS:-3}
PLAIN=${SIGIL_BENCH_PLAIN:-1}
NCPU=$(nproc)
work=$(mktemp -d /tmp/sigild-bench.XXXXXX)
pid=""
cleanup() { [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# --- TLS material (throwaway) ---
bench_tls "$work"

# --- keys: NKEYS keystores (pbkdf2 at a low cost so generating them is fast; the load time is
# dominated by the KDF, so the first-load figure is reported per KDF cost below) ---
echo "generating $NKEYS keystores..." >&2
"$build/bench/gen_keystores" "$work/gen" "$NKEYS" --kdf pbkdf2 --cost 1024 >/dev/null
printf 'bench cache password\n' > "$work/cache-pw"

# start_sigild [plain]: with "plain", no TLS (loopback plain HTTP) and the health check over http
start_sigild() {
  local t0 t1 tls=(--tls-cert "$work/server.pem" --tls-key "$work/server.key" --tls-known-clients "$work/known")
  local scheme=https
  if [[ ${1:-} == plain ]]; then tls=(); scheme=http; fi
  : > "$work/sigild.log"
  t0=$(date +%s.%N)
  "$BIN/sigild" --keystores-path "$work/gen/keystores" --keystores-passwords-path "$work/gen/passwords" \
    --slashing-db "sqlite:$work/slashing.db" --network mainnet --http-listen 127.0.0.1:0 \
    "${tls[@]}" \
    --key-cache "$work/keys.cache" --key-cache-password-file "$work/cache-pw" --log-level info \
    > /dev/null 2> "$work/sigild.log" &
  pid=$!
  local port
  port=$(bench_wait_port "$work/sigild.log" 600)
  for _ in $(seq 1 12000); do
    if curl -sk --cert "$work/client.pem" --key "$work/client.key" "$scheme://127.0.0.1:$port/healthcheck" \
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
# raw_sign_us: the BLS sign time with every core signing at once (NCPU concurrent `sigil bench bls`,
# whose first operation is sign), the mean of their medians: sigild's workers also share the
# cores' caches and clock. Measured before and after the load runs; the reference is the mean.
raw_sign_us() {
  local i
  for ((i = 0; i < NCPU; i++)); do
    "$BIN/sigil" bench bls --json --seconds 2 > "$work/bls.$i" &
  done
  wait
  cat "$work"/bls.* | sed -E 's/.*"sign_us":([0-9.]+).*/\1/' | awk '{s += $1} END {printf "%.2f\n", s / NR}'
}
SIGN_US_BEFORE=$(raw_sign_us)
HZ=$(getconf CLK_TCK)
# load_runs SCHEME DATA: RUNS load tests (DATA: unique or slot, see sigil-loadgen --data), each
# against a freshly started sigild with an empty slashing DB (the generator's epochs start from the
# wall clock, and back-to-back runs on one DB could reach into each other's epochs); one line per
# run: "rate p50 p99 sigild_cpu_s loadgen_cpu_s loadgen_seconds signatures loadavg1 cache_hit_%"
load_runs() {
  local scheme=$1 data=$2 args=() i out c0 c1 m hits misses
  [[ $scheme == https ]] && args=(--cert "$work/client.pem" --key "$work/client.key" --ca "$work/ca.pem")
  for ((i = 0; i < RUNS; i++)); do
    rm -f "$work/slashing.db" "$work/slashing.db-wal" "$work/slashing.db-shm"
    if [[ $scheme == http ]]; then start_sigild plain; else start_sigild; fi
    c0=$(cpu_ticks "$pid")
    out=$("$build/bench/sigil-loadgen" --url "$scheme://127.0.0.1:$PORT" --connections "$CONNS" --seconds "$SECS" \
      "${args[@]}" --keys 1000 --data "$data")
    c1=$(cpu_ticks "$pid")
    grep VmHWM /proc/$pid/status | awk '{print $2}' > "$work/rss"
    m=$(curl -sk --cert "$work/client.pem" --key "$work/client.key" "$scheme://127.0.0.1:$PORT/metrics")
    hits=$(echo "$m" | awk '/^sigil_bls_message_cache_hits_total/ {print $2}')
    misses=$(echo "$m" | awk '/^sigil_bls_message_cache_misses_total/ {print $2}')
    stop_sigild
    echo "$(field "$out" signatures_per_second) $(field "$out" p50_ms) $(field "$out" p99_ms)" \
      "$(echo "($c1 - $c0) / $HZ" | bc -l) $(field "$out" cpu_seconds) $(field "$out" seconds)" \
      "$(field "$out" signatures) $(cut -d' ' -f1 /proc/loadavg)" \
      "$(echo "100 * ${hits:-0} / (${hits:-0} + ${misses:-0} + 1)" | bc -l)"
  done
}
median_run() { sort -n -k1,1 | awk '{l[NR] = $0} END {print l[int((NR + 1) / 2)]}'; }
stop_sigild
load_runs https unique > "$work/runs-https"
LOAD_RUNS=$(cat "$work/runs-https")
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
RSS_AFTER=$(cat "$work/rss")
load_runs https slot > "$work/runs-slot"
SLOT_RUNS=$(cat "$work/runs-slot")
if [[ $PLAIN == 1 ]]; then
  load_runs http unique > "$work/runs-http"
  PLAIN_RUNS=$(cat "$work/runs-http")
fi
# a lone client (one connection, one request at a time): the latency a validator client sees when
# it is the only one, worst-case roots
rm -f "$work/slashing.db" "$work/slashing.db-wal" "$work/slashing.db-shm"
start_sigild
ONE=$("$build/bench/sigil-loadgen" --url "https://127.0.0.1:$PORT" --connections 1 --seconds 5 \
  --cert "$work/client.pem" --key "$work/client.key" --ca "$work/ca.pem" --keys 1000 --data unique)
stop_sigild
SIGN_US_AFTER=$(raw_sign_us)
SIGN_US=$(echo "($SIGN_US_BEFORE + $SIGN_US_AFTER) / 2" | bc -l)
RAW_RATE=$(echo "$NCPU * 1000000 / $SIGN_US" | bc -l)
read -r RATE P50 P99 SIGILD_CPU LG_CPU LG_SECS NSIG _ <<< "$(echo "$LOAD_RUNS" | median_run)"
RATIO=$(echo "$RATE / $RAW_RATE" | bc -l)
SIGILD_US=$(echo "$SIGILD_CPU * 1000000 / $NSIG" | bc -l)
LG_US=$(echo "$LG_CPU * 1000000 / $NSIG" | bc -l)
CPU_RATIO=$(echo "$SIGN_US / ($SIGILD_US + $LG_US)" | bc -l)
read -r S_RATE S_P50 S_P99 S_SIGILD_CPU S_LG_CPU _ S_NSIG _ S_HIT <<< "$(echo "$SLOT_RUNS" | median_run)"
S_RATIO=$(echo "$S_RATE / $RAW_RATE" | bc -l)
S_CPU_RATIO=$(echo "$SIGN_US * $S_NSIG / 1000000 / ($S_SIGILD_CPU + $S_LG_CPU)" | bc -l)
if [[ $PLAIN == 1 ]]; then
  read -r P_RATE P_P50 P_P99 P_SIGILD_CPU P_LG_CPU _ P_NSIG _ <<< "$(echo "$PLAIN_RUNS" | median_run)"
  P_RATIO=$(echo "$P_RATE / $RAW_RATE" | bc -l)
  P_CPU_RATIO=$(echo "$SIGN_US * $P_NSIG / 1000000 / ($P_SIGILD_CPU + $P_LG_CPU)" | bc -l)
fi

printf '\nsigild benchmarks (%s, %s CPUs)\n\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$NCPU"
printf '| measurement | value | goal |\n|---|---:|---|\n'
printf '| raw BLS sign rate on the same %s cores, all signing at once (sigil bench bls: %.1f µs/sign; %.1f before, %.1f after the load runs) | %.0f sig/s | |\n' \
  "$NCPU" "$SIGN_US" "$SIGN_US_BEFORE" "$SIGN_US_AFTER" "$RAW_RATE"
printf '| attestation signing, HTTPS keep-alive, %s connections, slashing protection on SQLite, a validator client'"'"'s load (a slot'"'"'s attesters share attestation data; message cache hits %.1f%%): rate, p50 / p99 | %.0f sig/s, %.2f / %.2f ms | |\n' "$CONNS" "$S_HIT" "$S_RATE" "$S_P50" "$S_P99"
printf '| ratio to raw BLS signing, validator-client load (wall / CPU time) | %.2f / %.2f | ≥ 0.85 |\n' "$S_RATIO" "$S_CPU_RATIO"
printf '| the same with no two requests sharing a signing root (worst case): rate | %.0f sig/s | |\n' "$RATE"
printf '| ratio to raw BLS signing, worst case (wall / CPU time) | %.2f / %.2f | ≥ 0.85 |\n' "$RATIO" "$CPU_RATIO"
if [[ $PLAIN == 1 ]]; then
  printf '| the same over plain HTTP on loopback: rate, ratio (wall / CPU time), p50 / p99 | %.0f sig/s, %.2f / %.2f, %.2f / %.2f ms | |\n' \
    "$P_RATE" "$P_RATIO" "$P_CPU_RATIO" "$P_P50" "$P_P99"
fi
printf '| worst case: latency p50 / p99 | %.2f / %.2f ms | |\n' "$P50" "$P99"
printf '| one connection, worst case: rate, latency p50 / p99 | %.0f sig/s, %.2f / %.2f ms | |\n' \
  "$(field "$ONE" signatures_per_second)" "$(field "$ONE" p50_ms)" "$(field "$ONE" p99_ms)"
printf '| worst case: CPU per signature, sigild / load generator (BLS sign alone: %.1f µs) | %.0f / %.0f µs | |\n' \
  "$SIGN_US" "$SIGILD_US" "$LG_US"
printf '| CPU share of the %s cores during the run: sigild / load generator (load average %s) | %.0f%% / %.0f%% | |\n' \
  "$NCPU" "$LOADAVG" "$(echo "100 * $SIGILD_CPU / $LG_SECS / $NCPU" | bc -l)" "$(echo "100 * $LG_CPU / $LG_SECS / $NCPU" | bc -l)"
printf '| ready with %s keys, first load (pbkdf2 keystores, low cost) | %.2f s | |\n' "$NKEYS" "$FIRST_S"
printf '| ready with %s keys, restart from the fast-load cache | %.2f s | ≤ 3 s |\n' "$NKEYS" "$CACHED_S"
printf '| peak RSS, cached start / after the load test | %.1f / %.1f MiB | ≤ 64 MiB |\n' "$(echo "$CACHED_RSS/1024" | bc -l)" "$(echo "$RSS_AFTER/1024" | bc -l)"
printf '| peak RSS, first load | %.1f MiB | |\n' "$(echo "$FIRST_RSS/1024" | bc -l)"
echo
echo "HTTPS runs (rate p50_ms p99_ms sigild_cpu_s loadgen_cpu_s seconds signatures load1 cache_hit_%):"
echo " validator-client load (--data slot):"
echo "$SLOT_RUNS" | sed 's/^/  /'
echo " worst case (--data unique):"
echo "$LOAD_RUNS" | sed 's/^/  /'
if [[ $PLAIN == 1 ]]; then
  echo "plain HTTP runs:"
  echo "$PLAIN_RUNS" | sed 's/^/  /'
fi
