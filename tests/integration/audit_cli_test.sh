#!/usr/bin/env bash
# `sigil audit verify` end to end: logs written by the real library (tests/integration/audit_writer.c,
# two sigild-like sessions on one file), then the CLI on the clean log, with pinned signers, with an
# attested start, and on tampered copies. Exit codes: 0 clean, 1 unreadable, 2 bad usage, 3 problems.
set -uo pipefail
SIGIL=${SIGIL_BIN:?}/sigil
WRITER=${AUDIT_WRITER:?}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ONE_LINE_CODES="1 2" # the audit CLI also explains an unreadable file in one line
. "$(dirname "$0")/lib.sh"

LOG=$TMP/audit.log
ADDR1=$("$WRITER" "$LOG" 20) || bad "writer session 1"
ADDR2=$("$WRITER" "$LOG" 5) || bad "writer session 2"
[[ $ADDR1 =~ ^0x[0-9a-f]{40}$ && $ADDR2 =~ ^0x[0-9a-f]{40}$ && $ADDR1 != "$ADDR2" ]] && ok || bad "writer addresses: $ADDR1 $ADDR2"
[[ $(stat -c %a "$LOG") == 600 ]] && ok || bad "log mode is $(stat -c %a "$LOG")"
[[ $(wc -l <"$LOG") -eq 39 ]] && ok || bad "log has $(wc -l <"$LOG") lines, wanted 39"

# --- clean ---
expect 0 "clean log" -- "$SIGIL" audit verify "$LOG"
has "clean log" "decisions      25 (signed 13, refused 12)"
has "clean log" "starts         2 (signers are self-declared"
has "clean log" "unsigned tail  0"
has "clean log" "result         clean"
grep -qi -- "${ADDR1:2}" <<<"$LAST_OUT" && ok || bad "summary does not name the first signer $ADDR1"
expect 0 "pinned signers" -- "$SIGIL" audit verify "$LOG" --signer "$ADDR1" --signer "${ADDR2#0x}"
expect 3 "only the first signer pinned" -- "$SIGIL" audit verify "$LOG" --signer "$ADDR1"
has "only the first signer pinned" "line 30: start record's audit key"
expect 0 "json" -- "$SIGIL" audit verify --json "$LOG"
python3 - "$LAST_OUT" <<'PY' && ok || bad "json summary: $LAST_OUT"
import json, sys
j = json.loads(sys.argv[1])
assert j["clean"] is True and j["lines"] == 39 and j["decisions"] == 25 and j["signed"] == 13
assert j["refused"] == 12 and j["start_count"] == 2 and len(j["starts"]) == 2 and j["unsigned_tail"] == 0
assert j["problem_count"] == 0 and j["problems"] == [] and j["starts"][1]["line"] == 30
assert j["starts"][0]["attestation"] == "none"
PY

# --- the format checked by an independent implementation (ethers), when the npm oracles are installed:
# every prev is SHA-256 of the previous line's bytes, every checkpoint signature recovers the
# address of the start record before it (docs/audit.md) ---
ETHERS=$(cd "$(dirname "$0")/../interop" && pwd)/node_modules/ethers
if command -v node >/dev/null 2>&1 && [[ -d $ETHERS ]]; then
  ETHERS=$ETHERS node - "$LOG" <<'JS' && ok || bad "ethers does not confirm the chain and checkpoints"
const fs = require("fs");
const { ethers } = require(process.env.ETHERS);
const lines = fs.readFileSync(process.argv[2], "utf8").split("\n");
if (lines.pop() !== "") throw new Error("no final newline");
let signer = null, checked = 0;
lines.forEach((l, i) => {
  const r = JSON.parse(l);
  const prev = i === 0 ? "00".repeat(32) : ethers.sha256(ethers.toUtf8Bytes(lines[i - 1])).slice(2);
  if (r.seq !== i || r.prev !== prev) throw new Error(`line ${i + 1}: seq or prev`);
  if (r.type === "start") {
    if (ethers.computeAddress(r.pubkey).toLowerCase() !== r.address) throw new Error("start address");
    signer = r.address;
  }
  if (r.type === "checkpoint") {
    const d = ethers.keccak256(ethers.concat([ethers.toUtf8Bytes("\x19Sigil audit checkpoint:\n"), "0x" + r.head,
                                              ethers.toBeHex(r.seq, 8)]));
    if (r.head !== prev || ethers.recoverAddress(d, r.sig).toLowerCase() !== signer || r.signer !== signer) {
      throw new Error(`line ${i + 1}: checkpoint`);
    }
    checked++;
  }
});
if (checked !== 10) throw new Error(`${checked} checkpoints`);
JS
else
  echo "ethers not installed: the independent format check is skipped"
fi

# --- tampered copies ---
sed '5s/"chain_id":"17000"/"chain_id":"17001"/' "$LOG" >"$TMP/changed.log"
expect 3 "changed decision" -- "$SIGIL" audit verify "$TMP/changed.log"
has "changed decision" "line 6: prev does not match the hash of line 5"
has "changed decision" "result         1 problem(s)"
sed '9d' "$LOG" >"$TMP/deleted.log"
expect 3 "deleted line" -- "$SIGIL" audit verify "$TMP/deleted.log"
has "deleted line" "line 9: seq"
sed '$d' "$LOG" >"$TMP/nofinal.log"
expect 3 "deleted final checkpoint" -- "$SIGIL" audit verify "$TMP/nofinal.log"
has "deleted final checkpoint" "line 38: the stop record is not followed by its final checkpoint"
head -c -10 "$LOG" >"$TMP/torn.log"
expect 3 "torn tail" -- "$SIGIL" audit verify "$TMP/torn.log"
has "torn tail" "line 39: incomplete last line"
expect 3 "tampered json" -- "$SIGIL" audit verify --json "$TMP/changed.log"
python3 - "$LAST_OUT" <<'PY' && ok || bad "json problems: $LAST_OUT"
import json, sys
j = json.loads(sys.argv[1])
assert j["clean"] is False and j["problem_count"] >= 1 and j["problems"][0]["line"] == 6
PY
printf 'hello\n' >"$TMP/notalog.log"
expect 3 "not an audit log" -- "$SIGIL" audit verify "$TMP/notalog.log"
has "not an audit log" "line 1: not a JSON object"

# --- attested start ---
ALOG=$TMP/attested.log
"$WRITER" "$ALOG" 3 --attest "$TMP/root.pem" >/dev/null || bad "attested writer"
expect 0 "attested log" -- "$SIGIL" audit verify "$ALOG" --attestation-root "$TMP/root.pem" --require-attestation
has "attested log" "attestation verified (PCR0 "
expect 0 "attested log, no root" -- "$SIGIL" audit verify "$ALOG"
has "attested log, no root" "attestation present, not checked"
expect 3 "unattested log, attestation required" -- "$SIGIL" audit verify "$LOG" --attestation-root "$TMP/root.pem" --require-attestation
has "unattested log, attestation required" "line 1: start record has no attestation document"
# the enclave image: the simulated NSM measures the writer binary, so PCR0 = SHA-384 of audit_writer
PCR0=$(sha384sum "$WRITER" | cut -d' ' -f1)
[[ $PCR0 =~ ^[0-9a-f]{96}$ ]] && ok || bad "PCR0 of the writer: $PCR0"
expect 0 "attested log, required, image not pinned" -- "$SIGIL" audit verify "$ALOG" --attestation-root "$TMP/root.pem" --require-attestation
grep -q "warning: the enclave image is not pinned" <<<"$LAST_ERR" && ok || bad "no unpinned-image warning: $LAST_ERR"
expect 0 "attested log, PCR0 pinned" -- "$SIGIL" audit verify "$ALOG" --attestation-root "$TMP/root.pem" --require-attestation --pcr0 "$PCR0"
has "attested log, PCR0 pinned" "attestation verified (PCR0 $PCR0)"
[[ -z $LAST_ERR ]] && ok || bad "pinned PCR0 still warns: $LAST_ERR"
expect 0 "attested log, PCR0 pinned (implies required), json" -- "$SIGIL" audit verify --json "$ALOG" --attestation-root "$TMP/root.pem" --pcr0 "0x$PCR0"
python3 - "$LAST_OUT" "$PCR0" <<'PY' && ok || bad "json pinned: $LAST_OUT"
import json, sys
j = json.loads(sys.argv[1])
assert j["clean"] is True and j["starts"][0]["attestation"] == "verified" and j["starts"][0]["pcr0"] == sys.argv[2]
PY
WRONG=$(printf '%s' "$PCR0" | tr '0-9a-f' '1-9a-f0')
expect 3 "attested log, other PCR0" -- "$SIGIL" audit verify "$ALOG" --attestation-root "$TMP/root.pem" --require-attestation --pcr0 "$WRONG"
has "attested log, other PCR0" "line 1: start record was written by an enclave image that is not the pinned one"
has "attested log, other PCR0" "result         1 problem(s)"
cat "$LOG" "$ALOG" >"$TMP/mixed.log"
expect 3 "unattested start, PCR0 pinned" -- "$SIGIL" audit verify "$TMP/mixed.log" --attestation-root "$TMP/root.pem" --pcr0 "$PCR0"
has "unattested start, PCR0 pinned" "line 1: start record has no attestation document"
expect 2 "short --pcr0" -- "$SIGIL" audit verify "$ALOG" --attestation-root "$TMP/root.pem" --pcr0 "${PCR0:0:94}"
grep -q -- "--pcr0 needs the enclave image's PCR0: 96 hex digits" <<<"$LAST_ERR" && ok || bad "short --pcr0: $LAST_ERR"
expect 2 "non-hex --pcr0" -- "$SIGIL" audit verify "$ALOG" --attestation-root "$TMP/root.pem" --pcr0 "${PCR0:0:95}g"
expect 2 "long --pcr0" -- "$SIGIL" audit verify "$ALOG" --attestation-root "$TMP/root.pem" --pcr0 "${PCR0}00"
expect 2 "huge --pcr0" -- "$SIGIL" audit verify "$ALOG" --attestation-root "$TMP/root.pem" --pcr0 "$(head -c 100000 /dev/zero | tr '\0' 'a')"
expect 2 "--pcr0 twice" -- "$SIGIL" audit verify "$ALOG" --attestation-root "$TMP/root.pem" --pcr0 "$PCR0" --pcr0 "$PCR0"
expect 2 "--pcr0 without a root" -- "$SIGIL" audit verify "$ALOG" --pcr0 "$PCR0"
expect 2 "--pcr0 without a value" -- "$SIGIL" audit verify "$ALOG" --attestation-root "$TMP/root.pem" --pcr0

# --- errors ---
expect 1 "missing file" -- "$SIGIL" audit verify "$TMP/nope.log"
expect 1 "directory" -- "$SIGIL" audit verify "$TMP"
expect 2 "missing FILE" -- "$SIGIL" audit verify
expect 2 "unknown subcommand" -- "$SIGIL" audit check "$LOG"
expect 2 "bad signer" -- "$SIGIL" audit verify "$LOG" --signer 0x1234
expect 2 "require without root" -- "$SIGIL" audit verify "$LOG" --require-attestation
expect 2 "unreadable root" -- "$SIGIL" audit verify "$LOG" --attestation-root "$TMP/nope.pem"
expect 2 "unknown option" -- "$SIGIL" audit verify "$LOG" --frobnicate

finish "audit CLI"
