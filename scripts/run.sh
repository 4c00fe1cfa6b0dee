#!/usr/bin/env bash
# `make run` at this stage of Sigil: the key-custody core, end to end on this machine.
# It creates a demo validator set (mnemonic, EIP-2335 keystores, deposit data) in a fresh
# directory, decrypts one keystore, signs and verifies with it, and benchmarks BLS signing.
# The remote signer (sigild), the enclave boot path and the wallet arrive with later issues;
# this script says so rather than pretend.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SIGIL_BIN:-build/bin}
OUT=${SIGIL_RUN_DIR:-$(mktemp -d /tmp/sigil-run.XXXXXX)}
mkdir -p "$OUT"
chmod 700 "$OUT"

echo "== Sigil demo in $OUT"
# A random demo password, kept in a 0600 file (never on argv).
umask 077
head -c 18 /dev/urandom | base64 > "$OUT/password.txt"

echo "== 1. new validator keys: mnemonic, keystores and deposit data (hoodi testnet)"
"$BIN/sigil" keys new --count 3 --network hoodi \
  --withdrawal-address 0x000000000000000000000000000000000000dEaD \
  --password-file "$OUT/password.txt" --kdf pbkdf2 \
  --mnemonic-file "$OUT/mnemonic.txt" --out "$OUT/validator_keys"
ls -l "$OUT/validator_keys"

KS=$(ls "$OUT"/validator_keys/keystore-*.json | head -1)
echo "== 2. decrypt $(basename "$KS") and sign a 32-byte signing root with it"
MSG=0x$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SK_FILE="$OUT/.sk"
"$BIN/sigil" keystore decrypt --keystore "$KS" --password-file "$OUT/password.txt" > "$SK_FILE"
PK=$("$BIN/sigil" bls pubkey < "$SK_FILE")
SIG=$("$BIN/sigil" bls sign --message "$MSG" < "$SK_FILE")
shred -u "$SK_FILE" 2>/dev/null || rm -f "$SK_FILE"
echo "public key: $PK"
echo "message:    $MSG"
echo "signature:  $SIG"
echo -n "verify:     "
"$BIN/sigil" bls verify --public-key "$PK" --message "$MSG" --signature "$SIG"

echo "== 3. BLS speed on this machine (median microseconds per operation)"
"$BIN/sigil" bench bls --seconds 0.5

echo
echo "Done. The mnemonic is in $OUT/mnemonic.txt (0600); delete $OUT when finished."
echo "Next stages (see the issues): the sigild remote signer with slashing protection, the"
echo "attested enclave boot with sigil-kms, and the transaction wallet."
