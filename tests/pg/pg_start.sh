#!/bin/sh
# Starts a throwaway PostgreSQL cluster for the slashing-protection tests and prints its URL.
# Usage: pg_start.sh DIR   (DIR receives url, port and the path of the cluster, which lives in
# its own /tmp/sigil-pg.* directory owned by postgres; pg_stop.sh DIR removes both)
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
"$(dirname "$0")/pg_stop.sh" "$dir" >/dev/null 2>&1 || true
mkdir -p "$dir"
# The cluster lives in its own directory under /tmp, not in DIR: DIR may sit in a tree the
# postgres user cannot traverse (a checkout in a 0700 directory, as mktemp -d makes). DIR keeps
# url, port and the cluster's path for pg_stop.sh. Run from / so runuser does not inherit an
# unreadable working directory.
cd /
cluster=$(mktemp -d /tmp/sigil-pg.XXXXXX)
echo "$cluster" >"$dir/cluster"
mkdir -p "$cluster/sock"
[ "$(id -u)" = 0 ] && chown -R postgres "$cluster"
chmod 700 "$cluster"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
    2>/dev/null || echo $((20000 + $$ % 30000)))
as "$bindir/initdb" -D "$cluster/data" -A trust -U postgres --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
}
as "$bindir/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 \
    -o "-k $cluster/sock -p $port -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" start >/dev/null || {
    cat "$cluster/server.log" >&2
    exit 1
}
echo "$port" >"$dir/port"
as "$bindir/createdb" -h "$cluster/sock" -p "$port" -U postgres sigil
url="postgresql://postgres@127.0.0.1:$port/sigil"
echo "$url" >"$dir/url"
echo "$url"
