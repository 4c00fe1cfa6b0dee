#!/bin/sh
# Stops the cluster started by pg_start.sh DIR and removes it and DIR.
set -u
dir=${1:?usage: pg_stop.sh DIR}
bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] && bindir=$d
    done
fi
cluster=$(cat "$dir/cluster" 2>/dev/null || true)
case "$cluster" in
/tmp/sigil-pg.*) ;;   # only ever remove what pg_start.sh created
*) cluster= ;;
esac
if [ -n "$bindir" ] && [ -n "$cluster" ] && [ -d "$cluster/data" ]; then
    cd /
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$bindir/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1 || true
    else
        "$bindir/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
fi
[ -n "$cluster" ] && rm -rf "$cluster"
rm -rf "$dir"
exit 0
