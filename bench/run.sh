#!/usr/bin/env bash
# Speed comparison of Sigil's BLS12-381 with blst. Usage: bench/run.sh [BUILD_DIR]  (default: build)
# Runs `BUILD_DIR/bin/sigil bench bls --json` and the same operations in blst (@chainsafe/blst),
# both pinned to one CPU, prints a Markdown table and writes BUILD_DIR/bench/bls.json.
# SIGIL_BENCH_CPU=N pins to CPU N (default 0; "none" disables pinning).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-build}"
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac

command -v node >/dev/null 2>&1 || { echo "bench/run.sh: node is required (Node.js >= 18)" >&2; exit 2; }
if [ ! -d "$root/tests/interop/node_modules/@chainsafe/blst" ]; then
    echo "bench/run.sh: blst is not installed; run: (cd $root/tests/interop && npm ci)" >&2
    exit 2
fi
if [ ! -x "$build/bin/sigil" ]; then
    echo "bench/run.sh: $build/bin/sigil not found; build first (make, or cmake --build $build --target sigil)" >&2
    exit 2
fi

pin=()
cpu="${SIGIL_BENCH_CPU:-0}"
if [ "$cpu" != "none" ] && command -v taskset >/dev/null 2>&1; then
    pin=(taskset -c "$cpu")
fi
exec "${pin[@]}" node "$root/bench/blst_bench.mjs" "$build"
