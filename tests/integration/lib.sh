# shellcheck shell=bash
# Helpers shared by the tests/integration/*_test.sh scripts (sourced after they set TMP, a scratch
# directory they remove themselves): pass/fail counting and command expectations.

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# check DESCRIPTION EXPR: EXPR (evaluated) must succeed
check() { if eval "$2"; then ok; else bad "$1"; fi; }

# Exit codes that must come with exactly one line on stderr (the CLI's "one sentence" rule);
# a script may widen it (the audit CLI also explains exit 1).
ONE_LINE_CODES=${ONE_LINE_CODES:-2}

# expect CODE DESCRIPTION -- command...: runs the command with $IN (may be unset) on stdin; its
# stdout lands in LAST_OUT and its stderr in LAST_ERR.
expect() {
  local want=$1 desc=$2 rc
  shift 3
  LAST_OUT=$(printf '%s' "${IN:-}" | "$@" 2>"$TMP/err")
  rc=$?
  LAST_ERR=$(cat "$TMP/err")
  if [[ $rc -ne $want ]]; then
    bad "$desc: exit $rc, wanted $want (stdout: $LAST_OUT) (stderr: $LAST_ERR)"
    return
  fi
  if [[ " $ONE_LINE_CODES " == *" $want "* ]] &&
    [[ -z "$LAST_ERR" || $(printf '%s\n' "$LAST_ERR" | wc -l) -ne 1 ]]; then
    bad "$desc: exit $want must come with exactly one line on stderr, got: $LAST_ERR"
    return
  fi
  ok
}

# has DESCRIPTION TEXT: the last expect's stdout contains TEXT
has() {
  if grep -qF -- "$2" <<<"$LAST_OUT"; then ok; else bad "$1: output lacks '$2': $LAST_OUT"; fi
}

# finish NAME: prints the tally; the script's exit status is 0 only when nothing failed
finish() {
  echo "$1: $pass passed, $fail failed"
  [[ $fail -eq 0 ]]
}
