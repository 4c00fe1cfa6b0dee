#!/usr/bin/env bash
# The local sandbox from the inside: a probe run by `sigil-host sandbox-exec` (the launcher's exact
# sandbox) finds only lo, cannot reach host TCP ports, cannot open host files, can write only its
# run dir, and is killed (SIGSYS) by the seccomp filter on ptrace/mount/unshare.
set -euo pipefail
HOST=${SIGIL_BIN:?}/sigil-host
PROBE=${SANDBOX_PROBE:?}
D=$(mktemp -d /tmp/sigil-sbx.XXXXXX)
trap 'rm -rf "$D"' EXIT
mkdir -p "$D/run"
"$HOST" sandbox-exec --run-dir "$D/run" -- "$PROBE" net 22 80 443 5432
"$HOST" sandbox-exec --run-dir "$D/run" -- "$PROBE" files /etc/passwd /etc/shadow "$PROBE.c" /root "$D/other"
"$HOST" sandbox-exec --run-dir "$D/run" -- "$PROBE" write "$D/run"
for s in ptrace mount unshare; do
    rc=0
    "$HOST" sandbox-exec --run-dir "$D/run" -- "$PROBE" syscall "$s" || rc=$?
    [ "$rc" = 159 ] || { echo "FAIL: $s: exit $rc, expected 159 (SIGSYS)"; exit 1; }
    echo "DENIED-OK $s killed by SIGSYS"
done
echo "sandbox: all walls held"
