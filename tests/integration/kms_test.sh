#!/usr/bin/env bash
# sigil-kms as a process: first-start bootstrap (files, modes, credentials printed once), TLS
# by default, plain HTTP refused off loopback, issue-enclave-cert, SigV4 with curl's own signer
# (an independent implementation), AWS-shaped errors, hostile bodies, restart keeping keys.
# The client-library paths (Recipient, policies) are in tests/unit/test_kmsd.c.
set -uo pipefail
KMS=${SIGIL_BIN:?}/sigil-kms
TMP=$(mktemp -d)
PID=
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

if ! curl --help all 2>/dev/null | grep -q -- --aws-sigv4; then
  echo "skipped: curl without --aws-sigv4"
  exit 77
fi

D=$TMP/data
start() {
  rm -f "$TMP/port"
  "$KMS" --data-dir "$D" --listen 127.0.0.1:0 --port-file "$TMP/port" >>"$TMP/out" 2>>"$TMP/err" &
  PID=$!
  for _ in $(seq 100); do [[ -s $TMP/port ]] && break; sleep 0.05; done
  PORT=$(cat "$TMP/port" 2>/dev/null)
}
stop() { kill "$PID" && wait "$PID"; PID=; }

start
check "server started" '[[ -n $PORT ]]'
check "credentials printed once" '[[ $(grep -c aws_secret_access_key "$TMP/out") -eq 1 ]]'
check "TLS cert path printed" 'grep -q "tls-cert.pem" "$TMP/out"'
for f in credentials master.key attestation-root.key tls-key.pem kms.db; do
  check "$f is 0600" '[[ $(stat -c %a "$D/$f") == 600 ]]'
done
check "data dir is 0700" '[[ $(stat -c %a "$D") == 700 ]]'
check "dev attestation root" 'grep -q "BEGIN CERTIFICATE" "$D/attestation-root.pem"'
check "secret not logged" '! grep -q "$(awk -F" = " "/secret/{print \$2}" "$D/credentials")" "$TMP/err"'

AK=$(awk -F' = ' '/aws_access_key_id/{print $2}' "$D/credentials")
SK=$(awk -F' = ' '/aws_secret_access_key/{print $2}' "$D/credentials")
check "secret access key never printed" '! grep -qF -- "$SK" "$TMP/out"'
URL=https://127.0.0.1:$PORT/
# kms OP BODY [SECRET] -> prints "STATUS BODY"
kms() {
  local op=$1 body=$2 secret=${3:-$SK}
  curl -s -o "$TMP/resp" -w '%{http_code}' --cacert "$D/tls-cert.pem" --aws-sigv4 "aws:amz:us-east-1:kms" \
    -u "$AK:$secret" -H 'Content-Type: application/x-amz-json-1.1' -H "X-Amz-Target: TrentService.$op" \
    --data-binary "$body" "$URL"
  printf ' '
  cat "$TMP/resp"
}

R=$(kms CreateKey '{"Description":"it"}')
check "CreateKey 200" '[[ $R == 200* ]]'
KEY=$(printf '%s' "${R#200 }" | python3 -c 'import json,sys; print(json.load(sys.stdin)["KeyMetadata"]["KeyId"])')
check "key id is a uuid" '[[ $KEY =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]'
R=$(kms Encrypt "{\"KeyId\":\"$KEY\",\"Plaintext\":\"aGVsbG8=\",\"EncryptionContext\":{\"k\":\"v\"}}")
check "Encrypt 200" '[[ $R == 200* ]]'
BLOB=$(printf '%s' "${R#200 }" | python3 -c 'import json,sys; print(json.load(sys.stdin)["CiphertextBlob"])')
R=$(kms Decrypt "{\"CiphertextBlob\":\"$BLOB\",\"EncryptionContext\":{\"k\":\"v\"}}")
check "Decrypt round trip" '[[ $R == *"\"Plaintext\":\"aGVsbG8=\""* ]]'
R=$(kms Decrypt "{\"CiphertextBlob\":\"$BLOB\"}")
check "Decrypt without the context" '[[ $R == "400 "*InvalidCiphertextException* ]]'
R=$(kms GenerateRandom '{"NumberOfBytes":16}' "${SK}x")
check "wrong secret" '[[ $R == "400 "*InvalidSignatureException* ]]'
R=$(curl -s -w ' %{http_code}' --cacert "$D/tls-cert.pem" -H 'X-Amz-Target: TrentService.GenerateRandom' -d '{}' "$URL")
check "unsigned request" '[[ $R == *MissingAuthenticationToken*" 400" ]]'
for body in '' 'nope' '[1]' '{"NumberOfBytes":"x"}' '{"NumberOfBytes":99999}' \
  '{"NumberOfBytes":4,"Recipient":{"AttestationDocument":"@@@@"}}' '{"NumberOfBytes":4,"Recipient":[]}'; do
  R=$(kms GenerateRandom "$body")
  check "hostile GenerateRandom body [$body]" '[[ $R == "400 "*ValidationException* ]]'
done
R=$(kms Encrypt "{\"KeyId\":\"$KEY\",\"Plaintext\":\"$(head -c 5000 /dev/zero | base64 -w0)\"}")
check "plaintext over 4096 bytes" '[[ $R == "400 "*ValidationException* ]]'
R=$(kms DescribeKey '{"KeyId":"alias/nope"}')
check "unknown key" '[[ $R == "400 "*NotFoundException* ]]'
head -c 300000 /dev/zero | tr '\0' '[' >"$TMP/huge"
R=$(kms GenerateRandom "@$TMP/huge")
check "oversized body refused" '[[ $R == 413* || $R == 400* || $R == "000"* ]]'
R=$(kms GenerateRandom '{"NumberOfBytes":16}')
check "still serving after hostile input" '[[ $R == 200* ]]'

# plain HTTP: refused off loopback, refused by the TLS listener
"$KMS" --data-dir "$TMP/d2" --listen 0.0.0.0:0 --plain-http >/dev/null 2>"$TMP/err2"
check "plain HTTP off loopback refused" '[[ $? -eq 2 ]]'
R=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/" -d '{}')
check "no plain HTTP on the TLS port" '[[ $R != 200 ]]'

# simulated-NSM identity for the local launcher
"$KMS" issue-enclave-cert --data-dir "$D" --out-dir "$TMP/enc" >/dev/null
check "issue-enclave-cert" '[[ -s $TMP/enc/enclave-leaf.pem && $(stat -c %a "$TMP/enc/enclave-leaf.key") == 600 ]]'
check "leaf chains to the dev root" 'openssl verify -CAfile "$TMP/enc/enclave-chain.pem" "$TMP/enc/enclave-leaf.pem" >/dev/null 2>&1'

# restart: same credentials (not printed again), same keys
stop
start
URL=https://127.0.0.1:$PORT/
check "credentials printed only at creation" '[[ $(grep -c aws_secret_access_key "$TMP/out") -eq 1 ]]'
R=$(kms Decrypt "{\"CiphertextBlob\":\"$BLOB\",\"EncryptionContext\":{\"k\":\"v\"}}")
check "key survives a restart" '[[ $R == *"\"Plaintext\":\"aGVsbG8=\""* ]]'

finish kms_test
