#!/bin/sh
# Stops the cluster started by pg_start.sh DIR and removes DIR.
set -u
dir=${1:?usage: pg_stop.sh DIR}
bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] && bindir=$d
    done
fi
if [ -n "$bindir" ] && [ -d "$dir/data" ]; then
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    else
        "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
fi
rm -rf "$dir"
exit 0
