#!/bin/sh
# Starts a throwaway PostgreSQL cluster for the slashing-protection tests and prints its URL.
# Usage: pg_start.sh DIR   (DIR is created, owned by postgres; DIR/url receives the URL)
# Exits 77 (ctest "skipped") when the PostgreSQL server binaries are not installed.
set -eu
dir=${1:?usage: pg_start.sh DIR}
bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && bindir=$d
    done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
    echo "skipped: PostgreSQL server binaries (initdb, pg_ctl) not found"
    exit 77
fi
# The server refuses to run as root: run it as postgres (or as the current user when not root).
if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        echo "skipped: running as root but there is no postgres user"
        exit 77
    fi
    as() { runuser -u postgres -- "$@"; }
else
    as() { "$@"; }
fi
if [ -f "$dir/data/postmaster.pid" ]; then
    "$(dirname "$0")/pg_stop.sh" "$dir" || true
fi
rm -rf "$dir"
mkdir -p "$dir/sock"
[ "$(id -u)" = 0 ] && chown -R postgres "$dir"
chmod 700 "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
    2>/dev/null || echo $((20000 + $$ % 30000)))
as "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
}
as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir/sock -p $port -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" start >/dev/null || {
    cat "$dir/server.log" >&2
    exit 1
}
echo "$port" >"$dir/port"
as "$bindir/createdb" -h "$dir/sock" -p "$port" -U postgres sigil
url="postgresql://postgres@127.0.0.1:$port/sigil"
echo "$url" >"$dir/url"
echo "$url"
