#!/usr/bin/env bash
# Installs what Sigil needs on a fresh Debian 12 machine: build tools and libraries from
# Debian's packages, and the npm test oracles (pinned in tests/interop/package.json).
# Idempotent: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config clang llvm libclang-rt-14-dev clang-format clang-tidy valgrind
      libssl-dev libsecp256k1-dev libsqlite3-dev libpq-dev libcbor-dev libjansson-dev libevent-dev
      libcurl4-openssl-dev libunistring-dev libcmocka-dev python3-mnemonic
      sqlite3 postgresql nodejs npm openssl ca-certificates)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node may come from outside Debian's packages (a newer node already on PATH is fine).
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]}")
fi
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ -f tests/interop/package.json ]]; then
  if [[ ! -d tests/interop/node_modules/@chainsafe/blst ]] || [[ tests/interop/package.json -nt tests/interop/node_modules ]]; then
    echo "install-deps: installing npm test oracles"
    (cd tests/interop && npm install --no-audit --no-fund --loglevel=error)
    touch tests/interop/node_modules
  fi
fi
